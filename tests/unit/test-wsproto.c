/* SPDX-License-Identifier: MIT */
/*
 * wsproto.c, the pure RFC 6455 pieces: the upgrade request for a fixed
 * nonce (the RFC's own example key and accept value), the judgement of a
 * 101 head, frame header inspection (lengths, mask, control frame rules,
 * the message cap across fragments) and close payloads.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"
#include "testenv.h"
#include "url.h"
#include "wsproto.h"

/* RFC 6455 section 1.3: this nonce, this key, this accept value. */
static const unsigned char nonce[WSPROTO_NONCE_LEN] = "the sample nonce";
#define RFC_KEY	   "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void
test_request(void)
{
	static const char *const fields[] = {"X-API-Key: wrn_k", NULL};
	static const char *const bad[] = {"X-Bad: a\r\nX-Evil: 1", NULL};
	static const char want[] = "GET /v1/x?y=1 HTTP/1.1\r\n"
				   "Host: 127.0.0.1:8080\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Key: " RFC_KEY "\r\n"
				   "Sec-WebSocket-Version: 13\r\n"
				   "User-Agent: wrennd/" PACKAGE_VERSION "\r\n"
				   "X-API-Key: wrn_k\r\n"
				   "\r\n";
	char accept[WSPROTO_ACCEPT_LEN + 1], *req = NULL, *untouched;
	char shown[1024];
	struct url *u = NULL;
	const char *why;
	size_t len = 0;
	int r;

	r = url_parse("ws://127.0.0.1:8080/v1/x?y=1", &u, &why);
	ok(r == 0, "request: url_parse: want 0, got %d", r);
	if (r != 0)
		return;
	r = wsproto_request(u, nonce, fields, accept, &req, &len);
	ok(r == 0, "request: want 0, got %d", r);
	ok(strcmp(accept, RFC_ACCEPT) == 0,
	    "request: accept of the RFC's key: want %s, got %s", RFC_ACCEPT,
	    accept);
	ok(len == sizeof(want) - 1, "request: length: want %zu, got %zu",
	    sizeof(want) - 1, len);
	r = req != NULL && len == sizeof(want) - 1 ? memcmp(req, want, len)
						   : -1;
	ok(r == 0, "request: bytes as expected: got '%s'",
	    testenv_shown(req != NULL ? req : "", req != NULL ? len : 0, shown,
		sizeof(shown)));
	free(req);

	untouched = req = (char *)"untouched";
	r = wsproto_request(u, nonce, bad, accept, &req, &len);
	ok(r == -EINVAL, "request: CR LF in a field: want %d, got %d", -EINVAL,
	    r);
	ok(req == untouched, "request: *ret untouched on failure");
	url_free(u);

	r = url_parse("wss://h.example/", &u, &why);
	ok(r == 0, "request: url_parse wss: want 0, got %d", r);
	if (r != 0)
		return;
	r = wsproto_request(u, nonce, NULL, accept, &req, &len);
	ok(r == 0, "request: no caller fields: want 0, got %d", r);
	if (r == 0) {
		ok(strncmp(req, "GET / HTTP/1.1\r\nHost: h.example\r\n", 33) ==
			0,
		    "request: default port not in Host: got '%s'",
		    testenv_shown(
			req, len < 33 ? len : 33, shown, sizeof(shown)));
		free(req);
	}
	url_free(u);
}

/* A parsed head from text; NULL if it does not parse. */
static struct http *
head(const char *text)
{
	struct http *h = http_new(NULL);
	int done = 0;

	if (h == NULL ||
	    http_head_feed(h, text, strlen(text), &done) !=
		(ssize_t)strlen(text) ||
	    !done) {
		http_free(h);
		return NULL;
	}
	return h;
}

/* wsproto_check_101 on head text: want NULL or a word of the reason. */
static void
check(const char *name, const char *text, const char *want)
{
	struct http *h = head(text);
	const char *got;

	if (h == NULL) {
		ok(0, "101 %s: the head parses", name);
		return;
	}
	got = wsproto_check_101(h, RFC_ACCEPT);
	if (want == NULL)
		ok_str(got == NULL ? "(accepted)" : got, "(accepted)",
		    "101 %s: accepted", name);
	else
		ok_strstr(got, want, "101 %s: refused", name);
	http_free(h);
}

#define H101 "HTTP/1.1 101 Switching Protocols\r\n"
#define UPG  "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define ACC  "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

static void
test_check_101(void)
{
	check("good", H101 UPG CONN ACC "\r\n", NULL);
	check("any case, token lists",
	    H101 "upgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n" ACC
		 "\r\n",
	    NULL);
	check("no Upgrade", H101 CONN ACC "\r\n", "Upgrade: websocket");
	check("Upgrade: h2c", H101 "Upgrade: h2c\r\n" CONN ACC "\r\n",
	    "Upgrade: websocket");
	check("no Connection", H101 UPG ACC "\r\n", "Connection: Upgrade");
	check(
	    "no accept", H101 UPG CONN "\r\n", "without Sec-WebSocket-Accept");
	check("wrong accept",
	    H101 UPG CONN "Sec-WebSocket-Accept: " RFC_KEY "\r\n\r\n",
	    "wrong Sec-WebSocket-Accept");
	check("accept twice", H101 UPG CONN ACC ACC "\r\n",
	    "wrong Sec-WebSocket-Accept");
	check("an extension",
	    H101 UPG CONN ACC "Sec-WebSocket-Extensions: permessage-deflate\r\n"
			      "\r\n",
	    "extension");
	check("a subprotocol",
	    H101 UPG CONN ACC "Sec-WebSocket-Protocol: chat\r\n\r\n",
	    "subprotocol");
}

/* One frame header: the result, and for WSPROTO_FRAME its length. */
static void
peek(const char *name, const void *bytes, size_t avail, size_t max_msg,
    uint64_t *acc, enum wsproto_peek want, uint64_t want_len)
{
	uint64_t len = 0;
	enum wsproto_peek got;

	got = wsproto_frame_peek(bytes, avail, max_msg, acc, &len);
	ok(got == want, "peek %s: want %d, got %d", name, want, got);
	if (want == WSPROTO_FRAME)
		ok(len == want_len,
		    "peek %s: frame length: want %llu, got %llu", name,
		    (unsigned long long)want_len, (unsigned long long)len);
}

static void
test_frame_peek(void)
{
	uint64_t acc = 0;

	peek("nothing", "", 0, 100, &acc, WSPROTO_MORE, 0);
	peek("one byte", "\x81", 1, 100, &acc, WSPROTO_MORE, 0);
	peek("text 5", "\x81\x05hello", 7, 100, &acc, WSPROTO_FRAME, 7);
	ok(acc == 5, "peek text 5: message bytes: want 5, got %llu",
	    (unsigned long long)acc);
	peek("16-bit length, header cut", "\x82\x7e\x01", 3, 1000, &acc,
	    WSPROTO_MORE, 0);
	peek("16-bit length", "\x82\x7e\x01\x00", 4, 1000, &acc, WSPROTO_FRAME,
	    4 + 256);
	peek("64-bit length", "\x82\x7f\0\0\0\0\0\x01\0\0", 10, 1 << 20, &acc,
	    WSPROTO_FRAME, 10 + 65536);
	peek("64-bit length, header cut", "\x82\x7f\0\0\0\0\0\x01\0", 9,
	    1 << 20, &acc, WSPROTO_MORE, 0);
	peek("masked", "\x81\x85\1\2\3\4", 6, 100, &acc, WSPROTO_FRAME,
	    2 + 4 + 5);
	peek(
	    "masked, key cut", "\x81\x85\1\2\3", 5, 100, &acc, WSPROTO_MORE, 0);
	peek("2^63 bytes", "\x82\x7f\x80\0\0\0\0\0\0\0", 10, 1 << 20, &acc,
	    WSPROTO_TOO_LARGE, 0);

	/* Control frames: final, at most 125 bytes; the message untouched. */
	acc = 7;
	peek("ping 125", "\x89\x7d", 2, 100, &acc, WSPROTO_FRAME, 127);
	ok(acc == 7, "peek ping: message bytes kept: want 7, got %llu",
	    (unsigned long long)acc);
	peek("fragmented ping", "\x09\x00", 2, 100, &acc, WSPROTO_BAD_CTRL, 0);
	peek(
	    "ping 126", "\x89\x7e\x00\x7e", 4, 1000, &acc, WSPROTO_BAD_CTRL, 0);
	peek("close 200", "\x88\x7e\x00\xc8", 4, 1000, &acc, WSPROTO_BAD_CTRL,
	    0);

	/* The cap counts the whole message across its fragments. */
	peek("cap: 11 > 10", "\x81\x0b", 2, 10, &acc, WSPROTO_TOO_LARGE, 0);
	peek(
	    "cap: first fragment 6", "\x01\x06", 2, 10, &acc, WSPROTO_FRAME, 8);
	peek("cap: continuation 5 (11)", "\x80\x05", 2, 10, &acc,
	    WSPROTO_TOO_LARGE, 0);
	peek("cap: continuation 4 (10)", "\x80\x04", 2, 10, &acc, WSPROTO_FRAME,
	    6);
	ok(acc == 10, "peek cap: message bytes: want 10, got %llu",
	    (unsigned long long)acc);
	peek("cap: a new message starts at 0", "\x82\x0a", 2, 10, &acc,
	    WSPROTO_FRAME, 12);
	ok(acc == 10, "peek cap: new message bytes: want 10, got %llu",
	    (unsigned long long)acc);
}

static void
test_close_payload(void)
{
	char text[8];
	unsigned code;

	code = wsproto_close_payload((const unsigned char *)"\x03\xe8"
							    "bye",
	    5, text, sizeof(text));
	ok(code == 1000, "close: code: want 1000, got %u", code);
	ok(strcmp(text, "bye") == 0, "close: reason: want 'bye', got '%s'",
	    text);
	code = wsproto_close_payload(
	    (const unsigned char *)"", 0, text, sizeof(text));
	ok(code == 1005, "close empty: code: want 1005, got %u", code);
	ok(strcmp(text, "") == 0, "close empty: reason: want '', got '%s'",
	    text);
	code = wsproto_close_payload((const unsigned char *)"\x0f\xa1"
							    "0123456789",
	    12, text, sizeof(text));
	ok(code == 4001, "close long: code: want 4001, got %u", code);
	ok(strcmp(text, "0123456") == 0,
	    "close long: reason cut to fit: want '0123456', got '%s'", text);
}

int
main(void)
{
	test_request();
	test_check_101();
	test_frame_peek();
	test_close_payload();
	return done_testing();
}
