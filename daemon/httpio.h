/* SPDX-License-Identifier: MIT */
/*
 * One HTTP/1.1 exchange on a connected bufferevent (from dial.c): the
 * request head goes out by reference, never copied, and is wiped once
 * written, since it may carry a credential header; the answer head and
 * the first max_body bytes of its body come in through http.c, drained
 * from the input buffer as they are parsed, so bytes after the head (a
 * WebSocket's first frames) stay there for the caller. Never logs, never
 * calls back. Owns: the request until it is queued, the parser, the body
 * kept. Called by ws.c for the upgrade; meant for any raw HTTP/1.1 client
 * of the daemon (such as a forwarder through the control plane's proxy).
 *
 * Use: httpio_new() with the request head, httpio_send() once connected,
 * httpio_head() on every read until it says 1, then read the status and
 * fields from httpio_parser(), and if the body matters httpio_body() on
 * every read (and once more at EOF) until it says 1.
 */
#ifndef WRENND_HTTPIO_H
#define WRENND_HTTPIO_H

#include <stddef.h>

struct bufferevent;
struct evbuffer;
struct http;
struct http_limits;
struct httpio;

/*
 * A new exchange for the request head req[0..reqlen) (from
 * http_request_build()), which it takes over in every case: wiped and
 * freed by httpio_free() if never sent. limits as for http_new() (NULL:
 * defaults); max_body: bytes of the answer body kept. NULL on OOM.
 */
struct httpio *httpio_new(char *req, size_t reqlen,
    const struct http_limits *limits, size_t max_body);

/* Wipe what is still held (an unsent request) and free. NULL is a no-op. */
void httpio_free(struct httpio *x);

/*
 * Queue the request on bev's output by reference; the output buffer wipes
 * and frees it once written (or when bev is freed). 0, -EALREADY if sent
 * before, -ENOMEM (the request stays with x).
 */
int httpio_send(struct httpio *x, struct bufferevent *bev);

/*
 * Feed the answer head from in, draining what the parser consumed (never
 * past the blank line). 1 once the head is complete, 0 for more, -1 for a
 * malformed head (httpio_error() says why).
 */
int httpio_head(struct httpio *x, struct evbuffer *in);

/*
 * After the head: feed the body from in (draining it), keeping its first
 * max_body bytes. eof != 0: the transport has ended, so no more is
 * coming. 1 once the body is complete, max_body bytes are kept or eof is
 * set; 0 for more; -1 for a malformed body (what was kept stays).
 */
int httpio_body(struct httpio *x, struct evbuffer *in, int eof);

/* The parser: after httpio_head() said 1, the status and the fields. */
const struct http *httpio_parser(const struct httpio *x);

/* Why httpio_head() or httpio_body() said -1; "no error" before. */
const char *httpio_error(const struct httpio *x);

/*
 * The body kept so far (chunked coding removed), NUL terminated, borrowed
 * from x; "" when none. *len gets its length.
 */
const char *httpio_kept(const struct httpio *x, size_t *len);

#endif /* WRENND_HTTPIO_H */
