/* SPDX-License-Identifier: MIT */
/*
 * WebSocket client (RFC 6455) for the control plane's stream endpoints:
 * the connection from dial.c (DNS by evdns, optional; TCP; TLS with an SSL
 * from tlsctx.c), the HTTP/1.1 Upgrade handshake (wsproto.c, httpio.c),
 * and wslay for the framing. Runs on the caller's event_base; never blocks
 * and never logs above debug. Owns: the dial, the bufferevent (and so the
 * socket), the wslay context and the request buffer (which holds the
 * credential header and is wiped). Called by: the exec-stream adapter
 * (stream.c).
 *
 * Lifecycle: ws_connect() returns a handle owned by the caller; every event
 * after that arrives through the callbacks, from the event loop, never from
 * inside a ws_* call. on_open is called at most once, then on_message any
 * number of times, then on_close exactly once, unless the owner calls
 * ws_close() or ws_free() first, after which no callback is made. The owner
 * frees the handle with ws_free(), which is safe inside any callback.
 *
 * Ending of the Wrenn exec stream: the control plane never sends a close
 * frame; after its "exit" or "error" message (or a "stop") it closes TCP.
 * That arrives as WS_REASON_EOF and the caller decides whether it was
 * normal (stream.c: an "exit" or "error" first, else the cut that
 * protocol/PROTOCOL.md reports as upstream_unreachable).
 */
#ifndef WRENND_WS_H
#define WRENND_WS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct tlsctx;
struct ws;

/* Why a connection ended. Numbers are stable; add new ones at the end. */
enum ws_reason {
	WS_REASON_CLOSED,    /* the peer sent a close frame (clean close) */
	WS_REASON_EOF,	     /* TCP (or TLS) EOF without a close frame */
	WS_REASON_TRANSPORT, /* DNS, connect, TLS or socket error */
	WS_REASON_PROTOCOL,  /* invalid frame or invalid UTF-8 from the peer */
	WS_REASON_TOO_LARGE, /* a message exceeded ws_opts.max_msg */
	WS_REASON_HANDSHAKE, /* no valid 101 answer: see status, body */
	WS_REASON_TIMEOUT,   /* handshake or idle deadline passed */
	WS_REASON_INTERNAL,  /* out of memory or library failure */
	WS_REASON_LOCAL,     /* the owner closed; never passed to on_close */
	WS_REASON__MAX
};

/* Passed to on_close; every pointer is borrowed until the callback returns. */
struct ws_close_info {
	enum ws_reason reason;
	const char *errmsg;	  /* short text, never "" nor NULL; holds no
				   * credentials; peer text is not escaped */
	uint16_t code;		  /* CLOSED: the peer's close code, 1005 if
				   * none; otherwise 0 */
	const char *close_text;	  /* CLOSED: the peer's close reason (UTF-8,
				   * may be ""); otherwise "" */
	int status;		  /* HANDSHAKE: HTTP status, 0 if the answer
				   * had no valid status line; otherwise 0 */
	const char *content_type; /* HANDSHAKE: the answer's Content-Type, or
				   * NULL */
	const char *body;	  /* HANDSHAKE: the answer's body, NUL
				   * terminated, first 64 KiB only (chunked
				   * coding removed); otherwise "" */
	size_t body_len;
};

enum ws_msg_type { WS_MSG_TEXT, WS_MSG_BINARY, WS_MSG__MAX };

/* The upgrade succeeded; ws_send_text() may be called from here on. */
typedef void (*ws_open_cb)(struct ws *ws, void *arg);
/*
 * One complete (reassembled) data message. data is borrowed until the
 * callback returns and is not NUL terminated; text is valid UTF-8 (checked).
 */
typedef void (*ws_message_cb)(struct ws *ws, enum ws_msg_type type,
    const unsigned char *data, size_t len, void *arg);
/* The connection ended; see struct ws_close_info. */
typedef void (*ws_close_cb)(
    struct ws *ws, const struct ws_close_info *info, void *arg);

struct ws_opts {
	const char *url;	    /* ws:// or wss:// URL; borrowed for the
				     * call (see url_join()) */
	const char *const *headers; /* extra request header lines without
				     * CRLF ("X-API-Key: ..."), NULL
				     * terminated, may be NULL. May hold
				     * secrets: borrowed for the call, copied
				     * into a buffer that is wiped once
				     * written, never logged */
	const char *connect_host;   /* dial this host (a name or an address
				     * without []) instead of the URL's, as
				     * curl's CONNECT_TO: the URL's host
				     * stays in Host, TLS SNI and the
				     * certificate check (the control
				     * plane's sandbox proxy, reached at the
				     * base URL's address); NULL: the URL's;
				     * borrowed for the call */
	unsigned connect_port;	    /* with connect_host: its port; 0: the
				     * URL's */
	const struct tlsctx *tls;   /* required for wss://; borrowed, must
				     * outlive the ws */
	struct evdns_base *dns;	    /* resolver for host names; NULL allows
				     * numeric hosts only; borrowed, must
				     * outlive the ws */
	long handshake_timeout_ms;  /* DNS + connect + TLS + upgrade answer
				     * (including an error body); 0: 10000.
				     * Also the dial's own deadline */
	long idle_timeout_ms;	    /* nothing arrived for this long while
				     * reading (not while paused): send a
				     * ping; nothing for as long again:
				     * WS_REASON_TIMEOUT; 0: no idle
				     * timeout */
	size_t max_msg;		    /* reassembled message cap in bytes;
				     * 0: 16 MiB */
	ws_open_cb on_open;	    /* may be NULL */
	ws_message_cb on_message;   /* may be NULL (messages dropped) */
	ws_close_cb on_close;	    /* may be NULL */
	void *arg;		    /* passed to the callbacks */
};

/*
 * Start connecting. On success *ret is a handle owned by the caller (free it
 * with ws_free()) and the outcome is reported through the callbacks, never
 * from inside this call. Returns -EINVAL for a bad URL or header line, wss://
 * without opts->tls, or a host name without opts->dns; -ENOMEM on
 * allocation failure. *ret is untouched on failure.
 */
int ws_connect(
    struct event_base *base, const struct ws_opts *opts, struct ws **ret);

/*
 * Queue one text message (copied; must be valid UTF-8, not checked). It is
 * written from the event loop. Returns 0, -ENOTCONN before on_open, -EPIPE
 * once closing, -ENOMEM. Safe inside callbacks.
 */
int ws_send_text(struct ws *ws, const char *data, size_t len);

/*
 * Bytes queued for output and not yet handed to the kernel (TLS: not yet
 * encrypted): whole messages waiting in wslay plus framed bytes in the
 * output buffer. 0 when not open.
 */
size_t ws_queued_bytes(const struct ws *ws);

/*
 * The connection's socket (TCP keepalive is on), for inspection only; -1
 * before the connection is up (TCP and, for wss://, TLS) or once closed.
 * Never read, write or close it.
 */
int ws_fd(const struct ws *ws);

/*
 * Flow control. paused != 0 stops reading from the socket, so TCP
 * backpressure reaches the server; no on_message is called while paused,
 * even for bytes already received. Resuming processes the buffered input
 * first, from the event loop. An EOF or error seen while paused is
 * reported after the data before it has been delivered. Safe inside
 * callbacks; may be called before on_open (takes effect at open).
 */
void ws_pause_read(struct ws *ws, int paused);

/*
 * Close from the owner's side: sends a close frame (1000) when the
 * connection is open and healthy and lets it flush for a short while, then
 * tears down. No callback is made once this returns. Idempotent; safe
 * inside callbacks. The handle stays valid until ws_free().
 */
void ws_close(struct ws *ws);

/*
 * Close (as ws_close()) and give up the handle. The memory is released from
 * a later loop turn, so this is safe inside any ws callback; a lingering
 * close frame flush may keep the socket for up to two seconds, so keep the
 * event base running. NULL is a no-op.
 */
void ws_free(struct ws *ws);

/* A stable lower-case name for a reason ("eof", "handshake", ...). */
const char *ws_reason_name(enum ws_reason reason);

#endif /* WRENND_WS_H */
