/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of an RFC 6455 client, for ws.c: the opening handshake
 * (the upgrade request with its Sec-WebSocket-Key, the Sec-WebSocket-Accept
 * value it implies, and the judgement of the server's 101 answer head) and
 * the frame header inspection that lets ws.c hand wslay input one frame at
 * a time and refuse a message before buffering it. No I/O, no logging, no
 * randomness (the caller supplies the nonce), no libevent.
 */
#ifndef WRENND_WSPROTO_H
#define WRENND_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

struct http;
struct url;

#define WSPROTO_NONCE_LEN  16 /* random bytes of a Sec-WebSocket-Key */
#define WSPROTO_ACCEPT_LEN 28 /* characters of Sec-WebSocket-Accept */
#define WSPROTO_FRAME_HEAD 14 /* longest frame header, bytes */

/*
 * The upgrade request for u (its path, query and Host form): GET with
 * Upgrade, Connection, Sec-WebSocket-Key (nonce in base64),
 * Sec-WebSocket-Version 13 and User-Agent, then the caller's field lines
 * (fields, NULL terminated, may be NULL; may hold secrets). Built by
 * http_request_build(), so *ret is the only copy of those lines: the caller
 * wipes and frees it. accept receives the Sec-WebSocket-Accept value the
 * answer must carry (NUL terminated). 0, -EINVAL for a bad field line or
 * URL part, -EIO if hashing fails, -ENOMEM.
 */
int wsproto_request(const struct url *u,
    const unsigned char nonce[WSPROTO_NONCE_LEN], const char *const *fields,
    char accept[WSPROTO_ACCEPT_LEN + 1], char **ret, size_t *retlen);

/*
 * Judge the complete head of a 101 answer: NULL when it completes the
 * upgrade (Upgrade: websocket, Connection: Upgrade, exactly one matching
 * Sec-WebSocket-Accept, no extension or subprotocol, none having been
 * offered), else a fixed sentence saying what is wrong.
 */
const char *wsproto_check_101(const struct http *h, const char *accept);

/* What wsproto_frame_peek() found. */
enum wsproto_peek {
	WSPROTO_BAD_CTRL = -2,	/* a fragmented or over 125-byte control
				 * frame (RFC 6455 section 5.5) */
	WSPROTO_TOO_LARGE = -1, /* the message would exceed max_msg */
	WSPROTO_MORE = 0,	/* the header is not complete yet */
	WSPROTO_FRAME = 1,	/* *frame_len is set */
};

/*
 * Look at the frame header at the start of p[0..avail) (at most
 * WSPROTO_FRAME_HEAD bytes are read). WSPROTO_FRAME sets *frame_len to the
 * frame's whole size (header, mask key, payload). *msg_acc carries the
 * payload bytes of the current data message from frame to frame: a text
 * or binary frame restarts it, a continuation adds to it, a control frame
 * leaves it; a data frame that would take it past max_msg is
 * WSPROTO_TOO_LARGE.
 */
enum wsproto_peek wsproto_frame_peek(const unsigned char *p, size_t avail,
    size_t max_msg, uint64_t *msg_acc, uint64_t *frame_len);

/*
 * A close frame's payload p[0..len): returns its status code (1005, "no
 * status received", when it has none) and copies its reason to text,
 * truncated to textlen - 1 bytes and NUL terminated (UTF-8 validity is
 * wslay's check).
 */
unsigned wsproto_close_payload(
    const unsigned char *p, size_t len, char *text, size_t textlen);

#endif /* WRENND_WSPROTO_H */
