/* SPDX-License-Identifier: MIT */
/*
 * httpio.c on a bufferevent pair and plain evbuffers (no sockets): the
 * request reaches the peer once and is not kept, the head parser leaves
 * the bytes after the head in the input, input split across evbuffer
 * chains or arriving a byte at a time, the kept body and its limit, a
 * body that runs to EOF, and malformed heads and bodies.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "httpio.h"
#include "tap.h"
#include "testenv.h"

static const char req_text[] = "GET / HTTP/1.1\r\nHost: h\r\n"
			       "X-API-Key: wrn_secret\r\n\r\n";

/* A new exchange for req_text (a heap copy, as http_request_build gives). */
static struct httpio *
new_x(size_t max_body)
{
	char *req = malloc(sizeof(req_text) - 1);

	if (req == NULL)
		abort();
	memcpy(req, req_text, sizeof(req_text) - 1);
	return httpio_new(req, sizeof(req_text) - 1, NULL, max_body);
}

static void
test_send(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2];
	struct httpio *x = new_x(0);
	struct evbuffer *in;
	char got[256], shown[512];
	size_t n;
	int r;

	r = bufferevent_pair_new(base, 0, pair);
	ok(r == 0, "send: a bufferevent pair: want 0, got %d", r);
	bufferevent_enable(pair[1], EV_READ);
	r = httpio_send(x, pair[0]);
	ok(r == 0, "send: want 0, got %d", r);
	r = httpio_send(x, pair[0]);
	ok(r == -EALREADY, "send again: want %d, got %d", -EALREADY, r);
	event_base_loop(base, EVLOOP_NONBLOCK);
	in = bufferevent_get_input(pair[1]);
	n = evbuffer_get_length(in);
	ok(n == sizeof(req_text) - 1,
	    "send: bytes at the peer: want %zu, "
	    "got %zu",
	    sizeof(req_text) - 1, n);
	n = (size_t)evbuffer_remove(in, got, sizeof(got) - 1);
	got[n] = '\0';
	ok(strcmp(got, req_text) == 0, "send: the request as given: '%s'",
	    testenv_shown(got, n, shown, sizeof(shown)));
	httpio_free(x);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	event_base_free(base);
	/* Never sent: httpio_free wipes and frees it (valgrind, ASan). */
	httpio_free(new_x(0));
	httpio_free(NULL);
	ok(1, "free: an unsent request and NULL");
}

static void
test_head(void)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\n\r\n";
	struct evbuffer *in = evbuffer_new();
	struct httpio *x = new_x(0);
	size_t i, n;
	int r = 0;

	/* A byte at a time, each its own chain. */
	for (i = 0; i < sizeof(head) - 2; i++) {
		evbuffer_add(in, head + i, 1);
		if ((r = httpio_head(x, in)) != 0)
			break;
	}
	ok(r == 0,
	    "head bytewise: not done before the last byte: got %d at "
	    "%zu",
	    r, i);
	evbuffer_add(in, head + sizeof(head) - 2, 1);
	evbuffer_add(in, "\x81\x02hi", 4);
	r = httpio_head(x, in);
	ok(r == 1, "head: complete: want 1, got %d", r);
	r = http_status(httpio_parser(x));
	ok(r == 101, "head: status: want 101, got %d", r);
	n = evbuffer_get_length(in);
	ok(n == 4, "head: the frame after it stays: want 4 bytes, got %zu", n);
	httpio_free(x);

	x = new_x(0);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, "HTTP/1.1 2OO OK\r\n\r\n", 19);
	r = httpio_head(x, in);
	ok(r == -1, "head malformed: want -1, got %d", r);
	ok(strcmp(httpio_error(x), "malformed status line") == 0,
	    "head malformed: error: want 'malformed status line', got '%s'",
	    httpio_error(x));
	httpio_free(x);
	evbuffer_free(in);
}

/* Head then body from text (split in two chains at `split`). */
static int
answer(struct httpio *x, const char *text, size_t split, int eof)
{
	struct evbuffer *in = evbuffer_new();
	int r;

	evbuffer_add(in, text, split);
	evbuffer_add(in, text + split, strlen(text) - split);
	r = httpio_head(x, in);
	if (r == 1)
		r = httpio_body(x, in, eof);
	evbuffer_free(in);
	return r;
}

static void
test_body(void)
{
	static const char len5[] = "HTTP/1.1 404 Not Found\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	static const char chunked[] = "HTTP/1.1 409 Conflict\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n"
				      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	static const char toeof[] = "HTTP/1.1 502 Bad Gateway\r\n\r\ngone";
	static const char badchunk[] = "HTTP/1.1 400 Bad\r\n"
				       "Transfer-Encoding: chunked\r\n\r\n"
				       "2\r\nab\r\nzz\r\n";
	struct httpio *x;
	const char *kept;
	size_t len;
	int r;

	x = new_x(1024);
	r = answer(x, len5, 10, 0);
	ok(r == 1, "body length: done: want 1, got %d", r);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "hello") == 0, "body length: kept 'hello', got '%s'",
	    kept);
	ok(len == 5, "body length: length: want 5, got %zu", len);
	httpio_free(x);

	x = new_x(1024);
	r = answer(x, chunked, sizeof(chunked) - 8, 0);
	ok(r == 1, "body chunked: done: want 1, got %d", r);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "abcde") == 0, "body chunked: kept 'abcde', got '%s'",
	    kept);
	httpio_free(x);

	x = new_x(3);
	r = answer(x, len5, 5, 0);
	ok(r == 1, "body limit: done at the limit: want 1, got %d", r);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "hel") == 0, "body limit: kept 'hel', got '%s'", kept);
	httpio_free(x);

	x = new_x(1024);
	r = answer(x, toeof, 3, 0);
	ok(r == 0, "body to EOF: more before EOF: want 0, got %d", r);
	httpio_free(x);
	x = new_x(1024);
	r = answer(x, toeof, 3, 1);
	ok(r == 1, "body to EOF: done at EOF: want 1, got %d", r);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "gone") == 0, "body to EOF: kept 'gone', got '%s'",
	    kept);
	httpio_free(x);

	x = new_x(1024);
	r = answer(x, badchunk, 20, 0);
	ok(r == -1, "body malformed chunk: want -1, got %d", r);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "ab") == 0,
	    "body malformed chunk: kept so far 'ab', got '%s'", kept);
	ok(strcmp(httpio_error(x), "malformed chunk size") == 0,
	    "body malformed chunk: error: got '%s'", httpio_error(x));
	httpio_free(x);

	x = new_x(1024);
	kept = httpio_kept(x, &len);
	ok(strcmp(kept, "") == 0, "kept before any body: want '', got '%s'",
	    kept);
	ok(len == 0, "kept before any body: length: want 0, got %zu", len);
	httpio_free(x);
}

int
main(void)
{
	test_send();
	test_head();
	test_body();
	return done_testing();
}
