/* SPDX-License-Identifier: MIT */
/*
 * portfwd.c's request rewriting (portfwd_rewrite) and the request side of
 * http.c it relies on: request lines, framing of request bodies (where a
 * body ends, so the next pipelined request starts at the right byte),
 * answers to HEAD. Inputs are fed whole and one byte at a time.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "portfwd.h"
#include "tap.h"

/* Feed a head in steps of step bytes (0: whole); consumed bytes or -1. */
static ssize_t
feed_head(struct http *h, const char *in, size_t len, size_t step)
{
	size_t off = 0, n;
	ssize_t r;
	int done = 0;

	while (!done && off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_head_feed(h, in + off, n, &done)) < 0)
			return -1;
		off += (size_t)r;
	}
	return done ? (ssize_t)off : -1;
}

/* Feed a body in steps; the bytes it spans, or -1 (error, unfinished). */
static ssize_t
feed_body(struct http *h, const char *in, size_t len, size_t step)
{
	size_t off = 0, n;
	ssize_t r;
	int done = 0;

	if (http_body_feed(h, "", 0, NULL, NULL, &done) < 0)
		return -1;
	while (!done && off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_body_feed(h, in + off, n, NULL, NULL, &done)) < 0)
			return -1;
		off += (size_t)r;
	}
	return done ? (ssize_t)off : -1;
}

static void
test_rewrite(size_t step)
{
	const char *in = "GET /a/b?x=1&y=%20 HTTP/1.1\r\n"
			 "Host: 127.0.0.1:40123\r\n"
			 "User-Agent: curl/8\r\n"
			 "x-api-key: wrn_client\r\n"
			 "AUTHORIZATION: Bearer client\r\n"
			 "Accept: */*\r\n"
			 "\r\n";
	const char *want = "GET /a/b?x=1&y=%20 HTTP/1.1\r\n"
			   "Host: 8888-cl-abc.example.org:8443\r\n"
			   "User-Agent: curl/8\r\n"
			   "Accept: */*\r\n"
			   "X-API-Key: wrn_daemon\r\n"
			   "\r\n";
	struct http *h = http_new_request(NULL);
	char *out = NULL;
	size_t outlen = 0;
	ssize_t n;
	int r;

	n = feed_head(h, in, strlen(in), step);
	ok(n == (ssize_t)strlen(in), "step %zu: head parsed: %zd of %zu", step,
	    n, strlen(in));
	ok(strcmp(http_method(h), "GET") == 0, "step %zu: method '%s'", step,
	    http_method(h));
	ok(strcmp(http_target(h), "/a/b?x=1&y=%20") == 0,
	    "step %zu: target '%s'", step, http_target(h));
	ok(http_body_mode(h) == HTTP_BODY_NONE,
	    "step %zu: a request without framing has no body (mode %d)", step,
	    (int)http_body_mode(h));
	r = portfwd_rewrite(h, "8888-cl-abc.example.org:8443",
	    "X-API-Key: wrn_daemon", &out, &outlen);
	ok(r == 0, "step %zu: rewrite: %d, want 0", step, r);
	ok_mem(r == 0 ? out : NULL, outlen, want, strlen(want),
	    "step %zu: Host rewritten, client credentials dropped, key "
	    "added",
	    step);
	free(out);
	http_free(h);
}

static void
test_no_key_and_bad_target(void)
{
	const char *in = "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *abs = "GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http *h = http_new_request(NULL);
	char *out = NULL;
	size_t outlen;
	int r;

	ok(feed_head(h, in, strlen(in), 0) > 0, "OPTIONS * parses");
	r = portfwd_rewrite(h, "h", NULL, &out, &outlen);
	ok(r == -EINVAL, "asterisk-form refused: %d, want %d", r, -EINVAL);
	http_free(h);
	h = http_new_request(NULL);
	ok(feed_head(h, abs, strlen(abs), 0) > 0, "absolute-form parses");
	r = portfwd_rewrite(h, "h", NULL, &out, &outlen);
	ok(r == -EINVAL, "absolute-form refused: %d, want %d", r, -EINVAL);
	http_free(h);
	h = http_new_request(NULL);
	in = "DELETE /x HTTP/1.0\r\n\r\n";
	ok(feed_head(h, in, strlen(in), 0) > 0, "HTTP/1.0 without Host");
	r = portfwd_rewrite(h, "p-cl-a.h", NULL, &out, &outlen);
	ok_int(r, 0, "no key line: rewritten");
	if (r == 0) {
		char *got = strndup(out, outlen);

		ok_str(got, "DELETE /x HTTP/1.0\r\nHost: p-cl-a.h\r\n\r\n",
		    "no key line: only Host added, HTTP/1.0 kept");
		free(got);
	}
	if (r == 0)
		free(out);
	http_free(h);
}

static void
test_bad_request_lines(void)
{
	static const char *const bad[] = {
	    "GET /x HTTP/2.0\r\n\r\n",
	    "GET  /x HTTP/1.1\r\n\r\n",
	    "GET /x\r\n\r\n",
	    "G(T /x HTTP/1.1\r\n\r\n",
	    "GET /x HTTP/1.1 \r\n\r\n",
	    "GET /x y HTTP/1.1\r\n\r\n",
	    " GET /x HTTP/1.1\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http *h = http_new_request(NULL);
		ssize_t n = feed_head(h, bad[i], strlen(bad[i]), 0);

		ok_int(n, -1, "request line %zu refused", i);
		ok_str(http_strerror(http_error(h)),
		    http_strerror(HTTP_E_REQUEST_LINE),
		    "request line %zu: the error", i);
		http_free(h);
	}
}

/* A body's framing: it spans exactly blen bytes of in after the head. */
static void
check_body(const char *name, const char *in, size_t blen, size_t step)
{
	struct http *h = http_new_request(NULL);
	size_t len = strlen(in);
	ssize_t n, b;

	n = feed_head(h, in, len, step);
	ok(n > 0, "%s step %zu: head parsed (%zd)", name, step, n);
	if (n > 0) {
		b = feed_body(h, in + n, len - (size_t)n, step);
		ok(b == (ssize_t)blen,
		    "%s step %zu: body spans %zd bytes, want "
		    "%zu",
		    name, step, b, blen);
		ok(strncmp(in + n + (b > 0 ? b : 0), "GET /next", 9) == 0,
		    "%s step %zu: the pipelined request follows at '%.9s'",
		    name, step, in + n + (b > 0 ? b : 0));
	}
	http_free(h);
}

static void
test_framing(size_t step)
{
	check_body("length",
	    "POST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeGET /next", 5,
	    step);
	check_body("chunked",
	    "PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\nGET /next",
	    strlen("3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"), step);
	check_body("empty length",
	    "POST /u HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /next", 0, step);
	check_body(
	    "none", "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /next", 0, step);
}

static void
test_framing_errors(void)
{
	static const char *const bad[] = {
	    "POST /u HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n",
	    "POST /u HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: "
	    "5\r\n\r\n",
	    "POST /u HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "POST /u HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "GET /u HTTP/1.1\r\nBad Name: x\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http *h = http_new_request(NULL);

		ok(feed_head(h, bad[i], strlen(bad[i]), 0) == -1,
		    "ambiguous framing %zu refused ('%s')", i,
		    http_strerror(http_error(h)));
		http_free(h);
	}
}

static void
test_head_answer(void)
{
	const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
	struct http *h = http_new(NULL);

	http_set_no_body(h);
	ok(feed_head(h, in, strlen(in), 0) == (ssize_t)strlen(in),
	    "an answer to HEAD parses");
	ok(http_body_mode(h) == HTTP_BODY_NONE,
	    "an answer to HEAD has no body whatever it says (mode %d)",
	    (int)http_body_mode(h));
	http_free(h);
}

int
main(void)
{
	test_rewrite(0);
	test_rewrite(1);
	test_no_key_and_bad_target();
	test_bad_request_lines();
	test_framing(0);
	test_framing(1);
	test_framing_errors();
	test_head_answer();
	return done_testing();
}
