/* SPDX-License-Identifier: MIT */
/*
 * http.c: the data suite tests/unit/data/http/<case>/{input,expected}
 * (input is a raw HTTP/1.1 response; expected is the parsed head, the
 * decoded body and how it ended), each input fed whole and again one byte
 * at a time, which must give the same text; plus the API edges, the
 * request-head builder and the field line check.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datasuite.h"
#include "http.h"
#include "testenv.h"

static const char *const mode_names[] = {"none", "length", "chunked", "eof"};

/* Body bytes, escaped, into the case output. */
static void
body_cb(const char *data, size_t len, void *arg)
{
	struct ds_out *o = arg;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\\')
			ds_printf(o, "\\\\");
		else if (c >= ' ' && c < 0x7f)
			ds_printf(o, "%c", c);
		else
			ds_printf(o, "\\x%02x", c);
	}
}

/* Parse input fed in pieces of step bytes (0: all at once). */
static void
run_parse(const char *in, size_t len, size_t step, struct ds_out *o)
{
	struct http *h = http_new(NULL);
	const char *name, *value;
	size_t off = 0, n, i;
	ssize_t r;
	int done = 0;

	if (h == NULL)
		abort();
	while (!done) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_head_feed(h, in + off, n, &done)) < 0) {
			ds_printf(o, "head error: %s\n",
			    http_strerror(http_error(h)));
			http_free(h);
			return;
		}
		off += (size_t)r;
		if (off == len && !done) {
			ds_printf(o, "head incomplete\n");
			http_free(h);
			return;
		}
	}
	ds_printf(o, "status: %d\n", http_status(h));
	for (i = 0; i < http_header_count(h); i++) {
		http_header_at(h, i, &name, &value);
		ds_printf(o, "header: %s: %s\n", name, value);
	}
	ds_printf(o, "body-mode: %s\nbody: ", mode_names[http_body_mode(h)]);
	done = 0;
	do {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_body_feed(h, in + off, n, body_cb, o, &done)) <
		    0) {
			ds_printf(o, "\nend: error: %s\n",
			    http_strerror(http_error(h)));
			http_free(h);
			return;
		}
		off += (size_t)r;
	} while (!done && off < len);
	ds_printf(o, "\nend: %s", done ? "done" : "eof");
	if (off < len)
		ds_printf(o, ", %zu bytes left over", len - off);
	ds_printf(o, "\n");
	http_free(h);
}

/* One case: whole, then byte by byte; both must agree. */
static void
http_case(const char *input, size_t len, struct ds_out *o)
{
	struct ds_out bytewise;

	memset(&bytewise, 0, sizeof(bytewise));
	ds_printf(&bytewise, "%s", "");
	run_parse(input, len, 0, o);
	run_parse(input, len, 1, &bytewise);
	if (bytewise.len != o->len || memcmp(bytewise.buf, o->buf, o->len) != 0)
		ds_printf(
		    o, "fed byte by byte, got instead:\n%s", bytewise.buf);
	free(bytewise.buf);
}

static void
test_api(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nA: 1\r\n";
	struct http_limits lim = {64, 16, 2}, lim2 = {64, 32, 10};
	struct http *h;
	ssize_t r;
	int done = 1;

	h = http_new(&lim);
	r = http_head_feed(h, head, sizeof(head) - 1, &done);
	ok(r == (ssize_t)sizeof(head) - 1,
	    "partial head consumed: want %zu, "
	    "got %zd",
	    sizeof(head) - 1, r);
	ok(done == 0, "partial head: not done");
	ok(http_status(h) == 0, "status before the head ends: want 0, got %d",
	    http_status(h));
	r = http_body_feed(h, "x", 1, NULL, NULL, &done);
	ok(r == -1, "body before the head ends: want -1, got %zd", r);
	http_free(h);

	h = http_new(&lim);
	r = http_head_feed(
	    h, "HTTP/1.1 200 OK\r\nX-Long: 0123456789\r\n", 37, &done);
	ok_int(r, -1, "max_line 16: the feed fails");
	ok_int(http_error(h), HTTP_E_LINE_TOO_LONG, "max_line 16: the error");
	r = http_head_feed(h, "\r\n", 2, &done);
	ok(r == -1, "after an error: want -1, got %zd", r);
	http_free(h);

	h = http_new(&lim);
	r = http_head_feed(
	    h, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n", 35, &done);
	ok_int(r, -1, "max_headers 2: the feed fails");
	ok_int(
	    http_error(h), HTTP_E_TOO_MANY_HEADERS, "max_headers 2: the error");
	http_free(h);

	h = http_new(&lim2);
	r = http_head_feed(h,
	    "HTTP/1.1 200 OK\r\nAaaaa: 1\r\nBbbbb: 2\r\nCcccc: 3\r\n"
	    "Ddddd: 4\r\nEeeee: 5\r\n",
	    67, &done);
	ok_int(r, -1, "max_head 64: the feed fails");
	ok_int(http_error(h), HTTP_E_HEAD_TOO_LARGE, "max_head 64: the error");
	http_free(h);

	ok(strcmp(http_strerror(HTTP_E__MAX), "unknown error") == 0,
	    "strerror out of range");
	http_free(NULL);
	ok(1, "http_free(NULL) is a no-op");
}

/* http_request_build on rq: want -EINVAL, or 0 and exactly want. */
static void
build(const char *name, const struct http_request *rq, const char *want)
{
	char *buf = NULL, wshown[512], gshown[512];
	size_t len = 0;
	int r = http_request_build(rq, &buf, &len);

	if (want == NULL) {
		ok(r == -EINVAL, "build %s: want %d, got %d", name, -EINVAL, r);
		ok(buf == NULL, "build %s: nothing allocated", name);
		return;
	}
	ok(r == 0, "build %s: want 0, got %d", name, r);
	r = buf != NULL && len == strlen(want) ? memcmp(buf, want, len) : -1;
	ok(r == 0, "build %s: want '%s', got '%s'", name,
	    testenv_shown(want, strlen(want), wshown, sizeof(wshown)),
	    testenv_shown(buf != NULL ? buf : "", buf != NULL ? len : 0, gshown,
		sizeof(gshown)));
	free(buf);
}

static void
test_request_build(void)
{
	static const char *const fields[] = {"X-API-Key: wrn_k", "A:", NULL};
	static const char *const crlf[] = {"A: 1\r\nB: 2", NULL};
	struct http_request rq = {
	    "GET", "/v1/x", "a=1&b", "h.example:8080", fields, 0};

	build("with query and fields", &rq,
	    "GET /v1/x?a=1&b HTTP/1.1\r\nHost: h.example:8080\r\n"
	    "X-API-Key: wrn_k\r\nA:\r\n\r\n");
	rq.query = NULL;
	rq.fields = NULL;
	build(
	    "bare", &rq, "GET /v1/x HTTP/1.1\r\nHost: h.example:8080\r\n\r\n");
	rq.query = "";
	build("empty query", &rq,
	    "GET /v1/x? HTTP/1.1\r\nHost: h.example:8080\r\n\r\n");
	rq.query = NULL;
	rq.method = "G T";
	build("space in method", &rq, NULL);
	rq.method = "";
	build("empty method", &rq, NULL);
	rq.method = "POST";
	rq.path = "v1/x";
	build("relative path", &rq, NULL);
	rq.path = "/v1 x";
	build("space in path", &rq, NULL);
	rq.path = "/v1/x";
	rq.query = "a\rb";
	build("CR in query", &rq, NULL);
	rq.query = NULL;
	rq.host = "";
	build("empty host", &rq, NULL);
	rq.host = "h\n";
	build("LF in host", &rq, NULL);
	rq.host = "h";
	rq.fields = crlf;
	build("CR LF in a field", &rq, NULL);
}

static void
test_field_ok(void)
{
	static const struct {
		const char *line;
		int want;
	} cases[] = {
	    {"X-API-Key: wrn_0123", 1},
	    {"Authorization: Bearer a.b.c", 1},
	    {"X-Tab:\tv", 1},
	    {"X-Empty:", 1},
	    {"X-8bit: caf\xc3\xa9", 1},
	    {": v", 0},
	    {"X Key: v", 0},
	    {"X-Key v", 0},
	    {"X(Key): v", 0},
	    {"X-Key: a\rb", 0},
	    {"X-Key: a\nb", 0},
	    {"X-Key: a\x7f", 0},
	    {"X-Key: a\x01", 0},
	};
	size_t i;
	int got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = http_field_ok(cases[i].line);
		ok(got == cases[i].want, "field_ok case %zu: want %d, got %d",
		    i, cases[i].want, got);
	}
}

int
main(void)
{
	datasuite_run("http", http_case);
	test_api();
	test_request_build();
	test_field_ok();
	return done_testing();
}
