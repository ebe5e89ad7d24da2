/* SPDX-License-Identifier: MIT */
/*
 * WebSocket client over libevent bufferevents (plain or bufferevent_openssl)
 * with wslay doing RFC 6455 framing. This file owns one connection's whole
 * life: address resolution (evdns or numeric), a non-blocking TCP connect
 * that tries each address in turn, the TLS bufferevent, the HTTP/1.1 Upgrade
 * request (it carries the credential header, so its only copy is handed to
 * the output buffer by reference and wiped once written) and response
 * parsing with limits, then frame I/O with bounded work per loop turn, read
 * pausing for backpressure and a lingering close. Called by the
 * streaming-exec code; see ws.h for the contract.
 *
 * State machine (ws_set_state asserts each step):
 *   RESOLVING -> CONNECTING -> [TLS ->] HANDSHAKE -> OPEN -> [LINGER ->] CLOSED
 *                                           \-> REJECTED -> CLOSED
 * and any state before LINGER may go straight to CLOSED. Every end goes
 * through ws_close_reason(); memory is released by ws_defer_cb on a later
 * loop turn, never under a callback of ours or wslay's.
 */
#include "config.h"

#include "ws.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <wslay/wslay.h>

#include "http.h"
#include "log.h"
#include "tlsctx.h"
#include "url.h"

#define WS_MAX_BODY	(64 * 1024)	   /* kept of a refusal body, bytes */
#define WS_MAX_MSG	(16 * 1024 * 1024) /* default message cap */
#define WS_HANDSHAKE_MS 10000		   /* default handshake deadline */
#define WS_LINGER_MS	2000		   /* close frame flush deadline */
#define WS_IN_HIWAT	(256 * 1024)	   /* stop reading the socket above */
#define WS_OUT_HIWAT	(256 * 1024)	   /* stop framing output above */
#define WS_OUT_LOWAT	(64 * 1024)	   /* resume framing output below */
#define WS_READ_BUDGET	(64 * 1024)	   /* bytes parsed per loop turn */
#define WS_MSG_BUDGET	64		   /* messages delivered per turn */
#define WS_KA_IDLE_S	30 /* TCP keepalive: idle before probes */
#define WS_KA_INTVL_S	10 /* ... between probes */
#define WS_KA_CNT	3  /* ... unanswered probes before reset */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum ws_state {
	WS_RESOLVING,  /* created; looking up the host (first loop turn) */
	WS_CONNECTING, /* non-blocking TCP connect to ai_next */
	WS_TLS,	       /* TLS handshake */
	WS_HANDSHAKE,  /* upgrade request queued, reading the answer head */
	WS_REJECTED,   /* non-101 answer: reading its body */
	WS_OPEN,       /* frames flow */
	WS_LINGER,     /* ended for the owner; flushing a close frame */
	WS_CLOSED,     /* ended; transport released on the next turn */
	WS__MAX
};

static const char *const ws_state_names[WS__MAX] = {
    "RESOLVING",
    "CONNECTING",
    "TLS",
    "HANDSHAKE",
    "REJECTED",
    "OPEN",
    "LINGER",
    "CLOSED",
};

#define WS_TO(s) (1u << (s))
/* Legal transitions: ws_transitions[from] has bit `to` set. */
static const unsigned ws_transitions[WS__MAX] = {
    [WS_RESOLVING] = WS_TO(WS_CONNECTING) | WS_TO(WS_CLOSED),
    [WS_CONNECTING] = WS_TO(WS_TLS) | WS_TO(WS_HANDSHAKE) | WS_TO(WS_CLOSED),
    [WS_TLS] = WS_TO(WS_HANDSHAKE) | WS_TO(WS_CLOSED),
    [WS_HANDSHAKE] = WS_TO(WS_REJECTED) | WS_TO(WS_OPEN) | WS_TO(WS_CLOSED),
    [WS_REJECTED] = WS_TO(WS_CLOSED),
    [WS_OPEN] = WS_TO(WS_LINGER) | WS_TO(WS_CLOSED),
    [WS_LINGER] = WS_TO(WS_CLOSED),
    [WS_CLOSED] = 0,
};

static const char *const ws_reason_names[WS_REASON__MAX] = {
    [WS_REASON_CLOSED] = "closed",
    [WS_REASON_EOF] = "eof",
    [WS_REASON_TRANSPORT] = "transport",
    [WS_REASON_PROTOCOL] = "protocol",
    [WS_REASON_TOO_LARGE] = "too-large",
    [WS_REASON_HANDSHAKE] = "handshake",
    [WS_REASON_TIMEOUT] = "timeout",
    [WS_REASON_INTERNAL] = "internal",
    [WS_REASON_LOCAL] = "local",
};

struct ws {
	enum ws_state state;
	unsigned flags;
#define WS_F_TLS       (1u << 0)  /* wss:// */
#define WS_F_PAUSED    (1u << 1)  /* owner paused reading */
#define WS_F_EOF       (1u << 2)  /* transport ended (EOF or error) */
#define WS_F_EOF_ERROR (1u << 3)  /* ... with an error (errbuf says) */
#define WS_F_STARVED   (1u << 4)  /* recv callback ran out of input */
#define WS_F_RELEASED  (1u << 5)  /* owner called ws_free() */
#define WS_F_TOO_LARGE (1u << 6)  /* a frame announced too large a message */
#define WS_F_STARTED   (1u << 7)  /* ws_start() ran */
#define WS_F_RESOLVING (1u << 8)  /* evdns_getaddrinfo callback pending */
#define WS_F_BADCTRL   (1u << 9)  /* a fragmented or oversized control frame */
#define WS_F_PINGED    (1u << 10) /* idle: a ping is out, nothing since */

	struct event_base *base;  /* borrowed */
	struct evdns_base *dns;	  /* borrowed, may be NULL */
	const struct tlsctx *tls; /* borrowed, NULL for ws:// */
	char *host;		  /* owned: host name or address, no [] */
	char port[6];		  /* decimal port, for getaddrinfo */
	char accept[29];	  /* expected Sec-WebSocket-Accept */

	/* Owned until queued: the upgrade request. Holds secrets; wiped. */
	char *req;
	size_t reqlen;

	struct evutil_addrinfo *ai;	 /* owned: resolved addresses */
	struct evutil_addrinfo *ai_next; /* borrowed from ai: next to try */
	struct evdns_getaddrinfo_request *dns_req; /* pending lookup */
	int fd;			     /* owned while connecting, else -1 */
	int last_errno;		     /* last connect failure */
	struct event *ev_connect;    /* owned: connect completion */
	struct bufferevent *bev;     /* owned: the connection (owns fd) */
	wslay_event_context_ptr ctx; /* owned: framing, from OPEN on */

	struct event *ev_timeout; /* owned: handshake, idle or linger */
	struct event *ev_process; /* owned: zero-delay work re-arm */
	struct event *ev_defer;	  /* owned: release/free next turn */
	long handshake_timeout_ms;
	long idle_timeout_ms;
	size_t max_msg;

	/* Refused upgrade. */
	struct http *http;  /* owned: the answer's parser, until OPEN */
	int status;	    /* HTTP status of the answer */
	char *content_type; /* owned, may be NULL */
	char *body;	    /* owned: WS_MAX_BODY + 1 bytes */
	size_t body_len;

	/* Frames. */
	uint64_t frame_left;  /* bytes of the current frame not yet
			       * given to wslay */
	uint64_t msg_acc;     /* payload bytes of the current message */
	size_t budget;	      /* bytes wslay may still take this turn */
	unsigned msg_budget;  /* messages left to deliver this turn */
	uint16_t close_code;  /* peer's close code */
	char close_text[124]; /* peer's close reason */

	enum ws_reason reason; /* why it ended */
	char errmsg[256];      /* ... in words */
	char errbuf[200];      /* transport error text at EOF_ERROR */

	ws_open_cb on_open; /* cleared once closed */
	ws_message_cb on_message;
	ws_close_cb on_close;
	void *arg;
};

static void ws_close_reason(struct ws *ws, enum ws_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ws_connect_next(struct ws *ws);
static void ws_frames(struct ws *ws);
static void ws_http_body(struct ws *ws);

const char *
ws_reason_name(enum ws_reason reason)
{
	if ((unsigned)reason >= WS_REASON__MAX)
		return "unknown";
	return ws_reason_names[reason];
}

/* Move to state `to`; illegal moves are bugs. */
static void
ws_set_state(struct ws *ws, enum ws_state to)
{
	assert(ws_transitions[ws->state] & WS_TO(to));
	log_debug("ws %p: %s -> %s", (void *)ws, ws_state_names[ws->state],
	    ws_state_names[to]);
	ws->state = to;
}

/* (Re)arm the one deadline timer; ms <= 0 disarms it. */
static void
ws_timer_set(struct ws *ws, long ms)
{
	struct timeval tv;

	if (ms <= 0) {
		(void)evtimer_del(ws->ev_timeout);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void)evtimer_add(ws->ev_timeout, &tv);
}

/* Run ws_process_cb on a later loop turn, after pending I/O is polled. */
static void
ws_schedule(struct ws *ws)
{
	static const struct timeval zero = {0, 0};

	(void)evtimer_add(ws->ev_process, &zero);
}

/* Wipe and free the upgrade request (it holds the credential header). */
static void
ws_req_wipe(struct ws *ws)
{
	if (ws->req == NULL)
		return;
	OPENSSL_cleanse(ws->req, ws->reqlen);
	free(ws->req);
	ws->req = NULL;
	ws->reqlen = 0;
}

/* evbuffer cleanup for the referenced request: wipe once written. */
static void
ws_req_cleanup_cb(const void *data, size_t len, void *extra)
{
	(void)data;
	OPENSSL_cleanse(extra, len);
	free(extra);
}

/* Close every I/O source; the objects themselves go in ws_release(). */
static void
ws_quiesce(struct ws *ws)
{
	if (ws->bev != NULL) {
		bufferevent_setcb(ws->bev, NULL, NULL, NULL, NULL);
		(void)bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	}
	if (ws->ev_connect != NULL)
		(void)event_del(ws->ev_connect);
	/* The lookup callback still runs (EVUTIL_EAI_CANCEL); it frees. */
	if (ws->dns_req != NULL)
		evdns_getaddrinfo_cancel(ws->dns_req);
	(void)evtimer_del(ws->ev_timeout);
	(void)evtimer_del(ws->ev_process);
}

/* Free the transport. Only from the loop (ws_defer_cb) or a dead ws. */
static void
ws_release(struct ws *ws)
{
	if (ws->ev_connect != NULL) {
		event_free(ws->ev_connect);
		ws->ev_connect = NULL;
	}
	if (ws->fd != -1) {
		(void)close(ws->fd);
		ws->fd = -1;
	}
	if (ws->bev != NULL) {
		/* BEV_OPT_CLOSE_ON_FREE: closes the fd and frees the SSL. */
		bufferevent_free(ws->bev);
		ws->bev = NULL;
	}
	if (ws->ctx != NULL) {
		wslay_event_context_free(ws->ctx);
		ws->ctx = NULL;
	}
	if (ws->ai != NULL) {
		evutil_freeaddrinfo(ws->ai);
		ws->ai = NULL;
		ws->ai_next = NULL;
	}
	ws_req_wipe(ws);
}

/* Free everything; copes with a half-built object. */
static void
ws_free_now(struct ws *ws)
{
	ws_release(ws);
	if (ws->ev_timeout != NULL)
		event_free(ws->ev_timeout);
	if (ws->ev_process != NULL)
		event_free(ws->ev_process);
	if (ws->ev_defer != NULL)
		event_free(ws->ev_defer);
	http_free(ws->http);
	free(ws->host);
	free(ws->content_type);
	free(ws->body);
	free(ws);
}

/* Deferred release of the transport and, once the owner let go, the ws. */
static void
ws_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;

	(void)fd;
	(void)what;
	if (ws->state != WS_CLOSED)
		return;
	ws_release(ws);
	if ((ws->flags & WS_F_RELEASED) && ws->dns_req == NULL &&
	    !(ws->flags & WS_F_RESOLVING))
		ws_free_now(ws);
}

/* Last step of every end: CLOSED, I/O off, release on the next turn. */
static void
ws_closed(struct ws *ws)
{
	ws_set_state(ws, WS_CLOSED);
	ws_quiesce(ws);
	event_active(ws->ev_defer, EV_TIMEOUT, 0);
}

/*
 * The one close function. Records why, tells the owner (unless the owner
 * asked), and either lingers to flush a close frame or closes at once.
 * Idempotent: only the first call after OPEN/earlier states does anything.
 */
static void
ws_close_reason(struct ws *ws, enum ws_reason reason, const char *fmt, ...)
{
	struct ws_close_info info;
	ws_close_cb cb;
	va_list ap;
	int linger;

	if (ws->state == WS_LINGER || ws->state == WS_CLOSED)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(ws->errmsg, sizeof(ws->errmsg), fmt, ap);
	va_end(ap);
	ws->reason = reason;
	log_debug(
	    "ws %p: %s: %s", (void *)ws, ws_reason_name(reason), ws->errmsg);

	/* A close frame is only worth sending over a healthy open link. */
	linger = ws->state == WS_OPEN && !(ws->flags & WS_F_EOF) &&
	    reason != WS_REASON_INTERNAL;
	if (linger) {
		if (reason == WS_REASON_LOCAL)
			(void)wslay_event_queue_close(
			    ws->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
		else if (reason == WS_REASON_TIMEOUT)
			(void)wslay_event_queue_close(
			    ws->ctx, WSLAY_CODE_GOING_AWAY, NULL, 0);
		/* Other reasons: wslay queued the echo / error close. */
		wslay_event_shutdown_read(ws->ctx);
		ws_set_state(ws, WS_LINGER);
		/* Input is discarded from now on; read to notice EOF. */
		if (!(ws->flags & WS_F_EOF))
			(void)bufferevent_enable(ws->bev, EV_READ);
		bufferevent_setwatermark(ws->bev, EV_WRITE, 0, 0);
		ws_timer_set(ws, WS_LINGER_MS);
		/* Flush from the loop: we may be inside wslay_event_recv. */
		ws_schedule(ws);
	} else
		ws_closed(ws);

	cb = ws->on_close;
	ws->on_open = NULL;
	ws->on_message = NULL;
	ws->on_close = NULL;
	if (reason == WS_REASON_LOCAL || cb == NULL)
		return;
	memset(&info, 0, sizeof(info));
	info.reason = reason;
	info.errmsg = ws->errmsg;
	info.close_text = "";
	info.body = "";
	if (reason == WS_REASON_CLOSED) {
		info.code = ws->close_code;
		info.close_text = ws->close_text;
	}
	if (reason == WS_REASON_HANDSHAKE) {
		info.status = ws->status;
		info.content_type = ws->content_type;
		if (ws->body != NULL) {
			ws->body[ws->body_len] = '\0';
			info.body = ws->body;
			info.body_len = ws->body_len;
		}
	}
	cb(ws, &info, ws->arg);
}

/* End the linger: CLOSED. healthy: the close frame was flushed. */
static void
ws_linger_end(struct ws *ws, int healthy)
{
	SSL *ssl;

	if (healthy && (ws->flags & WS_F_TLS)) {
		/* One non-blocking close_notify; the output buffer is empty. */
		ssl = bufferevent_openssl_get_ssl(ws->bev);
		if (ssl != NULL)
			(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	ws_closed(ws);
}

/* Hand queued frames to the output buffer. 0, or -1 after closing. */
static int
ws_flush(struct ws *ws)
{
	int r;

	if (ws->ctx == NULL || !wslay_event_want_write(ws->ctx))
		return 0;
	r = wslay_event_send(ws->ctx);
	if (r == 0)
		return 0;
	if (ws->state == WS_LINGER)
		ws_linger_end(ws, 0);
	else
		ws_close_reason(ws, WS_REASON_INTERNAL,
		    "cannot send a frame (wslay error %d)", r);
	return -1;
}

/* LINGER: flush; done once wslay and the output buffer are empty. */
static void
ws_linger_check(struct ws *ws)
{
	if (ws_flush(ws) < 0)
		return;
	if (!wslay_event_want_write(ws->ctx) &&
	    evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0)
		ws_linger_end(ws, 1);
}

/* wslay: give it input, at most to the end of the current frame. */
static int ws_frame_peek(struct ws *ws, struct evbuffer *in);

static ssize_t
ws_wslay_recv_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	struct evbuffer *in;
	size_t avail, n;
	int r;

	(void)flags;
	if (ws->state != WS_OPEN || (ws->flags & WS_F_PAUSED) ||
	    ws->budget == 0 || ws->msg_budget == 0)
		goto wouldblock;
	in = bufferevent_get_input(ws->bev);
	if (ws->frame_left == 0) {
		r = ws_frame_peek(ws, in);
		if (r == -2) {
			/* RFC 6455 5.5, caught before wslay (which would
			 * fail the receive as a callback error): 1002. */
			ws->flags |= WS_F_BADCTRL;
			wslay_event_shutdown_read(ctx);
			(void)wslay_event_queue_close(
			    ctx, WSLAY_CODE_PROTOCOL_ERROR, NULL, 0);
			goto wouldblock;
		}
		if (r < 0) {
			/* Fail before buffering any of it; 1009 to the peer. */
			ws->flags |= WS_F_TOO_LARGE;
			wslay_event_shutdown_read(ctx);
			(void)wslay_event_queue_close(
			    ctx, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
			goto wouldblock;
		}
		if (r == 0) {
			ws->flags |= WS_F_STARVED;
			goto wouldblock;
		}
	}
	avail = evbuffer_get_length(in);
	if (avail == 0) {
		ws->flags |= WS_F_STARVED;
		goto wouldblock;
	}
	n = len;
	if (n > avail)
		n = avail;
	if (n > ws->frame_left)
		n = (size_t)ws->frame_left;
	if (n > ws->budget)
		n = ws->budget;
	if (evbuffer_remove(in, buf, n) != (int)n) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	ws->frame_left -= n;
	ws->budget -= n;
	return (ssize_t)n;
wouldblock:
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return -1;
}

/*
 * Look at the next frame header in `in` without consuming it, so wslay is
 * never given bytes past the end of a frame: then pausing, the work budget
 * and the size cap take effect exactly at frame boundaries. Returns 1 and
 * sets frame_left, 0 if the header is incomplete, -1 if the message would
 * exceed max_msg, -2 for a fragmented or over 125-byte control frame.
 */
static int
ws_frame_peek(struct ws *ws, struct evbuffer *in)
{
	unsigned char h[14];
	size_t avail, need, i;
	uint64_t plen;
	unsigned opcode;

	avail = evbuffer_get_length(in);
	if (avail < 2)
		return 0;
	if (evbuffer_copyout(in, h, avail < sizeof(h) ? avail : sizeof(h)) < 2)
		return 0;
	need = 2;
	plen = h[1] & 0x7f;
	if (plen == 126)
		need += 2;
	else if (plen == 127)
		need += 8;
	if (h[1] & 0x80)
		need += 4; /* mask key (a protocol error wslay reports) */
	if (avail < need)
		return 0;
	if (plen == 126)
		plen = (uint64_t)h[2] << 8 | h[3];
	else if (plen == 127)
		for (plen = 0, i = 2; i < 10; i++)
			plen = plen << 8 | h[i];
	opcode = h[0] & 0x0f;
	if (wslay_is_ctrl_frame(opcode) && (!(h[0] & 0x80) || plen > 125))
		return -2;
	if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME)
		ws->msg_acc = 0;
	if (!wslay_is_ctrl_frame(opcode)) {
		if (plen > ws->max_msg - ws->msg_acc)
			return -1;
		ws->msg_acc += plen;
	}
	ws->frame_left = need + plen;
	return 1;
}

/* wslay: frame bytes go to the output buffer, up to a high watermark. */
static ssize_t
ws_wslay_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws *ws = arg;
	struct evbuffer *out = bufferevent_get_output(ws->bev);

	(void)flags;
	if (evbuffer_get_length(out) >= WS_OUT_HIWAT) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* wslay: a fresh mask key per frame (RFC 6455 section 5.3). */
static int
ws_wslay_genmask_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* wslay: a complete message. Pings are answered by wslay itself. */
static void
ws_wslay_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	struct ws *ws = arg;
	const unsigned char *data;
	size_t n;

	(void)ctx;
	data = a->msg != NULL ? a->msg : (const unsigned char *)"";
	switch (a->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		if (ws->msg_budget > 0)
			ws->msg_budget--;
		if (ws->state == WS_OPEN && ws->on_message != NULL)
			ws->on_message(ws,
			    a->opcode == WSLAY_TEXT_FRAME ? WS_MSG_TEXT
							  : WS_MSG_BINARY,
			    data, a->msg_length, ws->arg);
		break;
	case WSLAY_CONNECTION_CLOSE:
		ws->close_code = a->status_code != 0
		    ? a->status_code
		    : WSLAY_CODE_NO_STATUS_RCVD;
		n = a->msg_length > 2 ? a->msg_length - 2 : 0;
		if (n > sizeof(ws->close_text) - 1)
			n = sizeof(ws->close_text) - 1;
		memcpy(ws->close_text, data + (n > 0 ? 2 : 0), n);
		ws->close_text[n] = '\0';
		break;
	default:
		break;
	}
}

/* OPEN: parse frames within the budget, then flush output. */
static void
ws_frames(struct ws *ws)
{
	struct evbuffer *in;
	uint16_t code;
	int r;

	if (!(ws->flags & WS_F_PAUSED)) {
		ws->budget = WS_READ_BUDGET;
		ws->msg_budget = WS_MSG_BUDGET;
		ws->flags &= ~WS_F_STARVED;
		r = wslay_event_recv(ws->ctx);
		if (ws->state != WS_OPEN)
			return; /* the owner closed from on_message */
		if (ws->flags & WS_F_TOO_LARGE) {
			ws_close_reason(ws, WS_REASON_TOO_LARGE,
			    "message larger than %zu bytes", ws->max_msg);
			return;
		}
		if (ws->flags & WS_F_BADCTRL) {
			ws_close_reason(ws, WS_REASON_PROTOCOL,
			    "invalid frame from the server (control frame)");
			return;
		}
		if (r != 0) {
			ws_close_reason(ws, WS_REASON_INTERNAL,
			    "cannot receive (wslay error %d)", r);
			return;
		}
		if (wslay_event_get_close_received(ws->ctx)) {
			ws_close_reason(ws, WS_REASON_CLOSED,
			    "close frame received (code %u)",
			    (unsigned)ws->close_code);
			return;
		}
		if (!wslay_event_get_read_enabled(ws->ctx)) {
			/* wslay queued 1002 or 1007; learn which. */
			if (ws_flush(ws) < 0)
				return;
			code = wslay_event_get_status_code_sent(ws->ctx);
			ws_close_reason(ws, WS_REASON_PROTOCOL, "%s",
			    code == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA
				? "invalid UTF-8 from the server"
				: "invalid frame from the server");
			return;
		}
		if (!(ws->flags & WS_F_STARVED)) {
			/* Budget spent (or paused meanwhile): yield. */
			if (!(ws->flags & WS_F_PAUSED))
				ws_schedule(ws);
		} else if (ws->flags & WS_F_EOF) {
			in = bufferevent_get_input(ws->bev);
			if (ws->flags & WS_F_EOF_ERROR)
				ws_close_reason(
				    ws, WS_REASON_TRANSPORT, "%s", ws->errbuf);
			else if (ws->frame_left > 0 ||
			    evbuffer_get_length(in) > 0)
				ws_close_reason(ws, WS_REASON_EOF,
				    "connection closed in the middle of a "
				    "frame");
			else
				ws_close_reason(ws, WS_REASON_EOF,
				    "connection closed without a close frame");
			return;
		}
	}
	(void)ws_flush(ws);
}

/* HANDSHAKE -> OPEN: set up wslay, tell the owner, parse early frames. */
static void
ws_open(struct ws *ws)
{
	struct wslay_event_callbacks cbs = {
	    .recv_callback = ws_wslay_recv_cb,
	    .send_callback = ws_wslay_send_cb,
	    .genmask_callback = ws_wslay_genmask_cb,
	    .on_msg_recv_callback = ws_wslay_msg_cb,
	};

	if (wslay_event_context_client_init(&ws->ctx, &cbs, ws) != 0) {
		ws->ctx = NULL;
		ws_close_reason(ws, WS_REASON_INTERNAL, "out of memory");
		return;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
	ws_set_state(ws, WS_OPEN);
	if (ws->flags & WS_F_PAUSED) {
		(void)bufferevent_disable(ws->bev, EV_READ);
		ws_timer_set(ws, 0);
	} else
		ws_timer_set(ws, ws->idle_timeout_ms);
	if (ws->on_open != NULL) {
		ws->on_open(ws, ws->arg);
		if (ws->state != WS_OPEN)
			return;
	}
	ws_frames(ws);
}

/* Judge a 101 answer; NULL if it completes the upgrade. */
static const char *
ws_check_101(const struct ws *ws, const struct http *h)
{
	const char *accept = http_header(h, "Sec-WebSocket-Accept");

	if (!http_header_has_token(h, "Upgrade", "websocket"))
		return "101 without 'Upgrade: websocket'";
	if (!http_header_has_token(h, "Connection", "upgrade"))
		return "101 without 'Connection: Upgrade'";
	if (accept == NULL)
		return "101 without Sec-WebSocket-Accept";
	if (http_header_repeated(h, "Sec-WebSocket-Accept") ||
	    strcmp(accept, ws->accept) != 0)
		return "wrong Sec-WebSocket-Accept";
	if (http_header(h, "Sec-WebSocket-Extensions") != NULL)
		return "server chose an extension that was not offered";
	if (http_header(h, "Sec-WebSocket-Protocol") != NULL)
		return "server chose a subprotocol that was not offered";
	return NULL;
}

/* The first contiguous input bytes (NULL, 0 when empty). */
static size_t
ws_peek(struct evbuffer *in, const char **data)
{
	struct evbuffer_iovec v;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
		*data = "";
		return 0;
	}
	*data = v.iov_base;
	return v.iov_len;
}

/* HANDSHAKE: feed the answer head to the parser (http.c), then judge it. */
static void
ws_http_head(struct ws *ws)
{
	struct evbuffer *in = bufferevent_get_input(ws->bev);
	const char *data, *ctype, *err;
	ssize_t r;
	size_t n;
	int done = 0;

	while (!done && (n = ws_peek(in, &data)) > 0) {
		if ((r = http_head_feed(ws->http, data, n, &done)) < 0) {
			ws_close_reason(ws, WS_REASON_HANDSHAKE,
			    "bad answer head: %s",
			    http_strerror(http_error(ws->http)));
			return;
		}
		(void)evbuffer_drain(in, (size_t)r);
	}
	if (!done)
		return;
	ws->status = http_status(ws->http);
	ctype = http_header(ws->http, "Content-Type");
	if (ctype != NULL && (ws->content_type = strdup(ctype)) == NULL) {
		ws_close_reason(ws, WS_REASON_INTERNAL, "out of memory");
		return;
	}
	if (ws->status != 101) {
		ws_set_state(ws, WS_REJECTED);
		ws_http_body(ws);
		return;
	}
	if ((err = ws_check_101(ws, ws->http)) != NULL) {
		ws_close_reason(ws, WS_REASON_HANDSHAKE, "%s", err);
		return;
	}
	http_free(ws->http);
	ws->http = NULL;
	ws_open(ws);
}

/* Keep up to WS_MAX_BODY bytes of the refusal body, drop the rest. */
static void
ws_body_cb(const char *data, size_t len, void *arg)
{
	struct ws *ws = arg;
	size_t keep = WS_MAX_BODY - ws->body_len;

	if (ws->body == NULL && (ws->body = malloc(WS_MAX_BODY + 1)) == NULL)
		return;
	if (keep > len)
		keep = len;
	memcpy(ws->body + ws->body_len, data, keep);
	ws->body_len += keep;
}

/* REJECTED: collect the body; report once it is complete. */
static void
ws_http_body(struct ws *ws)
{
	struct evbuffer *in = bufferevent_get_input(ws->bev);
	char note[80] = "";
	const char *data;
	ssize_t r;
	size_t n;
	int done = 0;

	do {
		n = ws_peek(in, &data);
		r = http_body_feed(ws->http, data, n, ws_body_cb, ws, &done);
		if (r < 0) {
			(void)snprintf(note, sizeof(note), " (%s)",
			    http_strerror(http_error(ws->http)));
			done = 1;
			break;
		}
		(void)evbuffer_drain(in, (size_t)r);
	} while (!done && n > 0 && ws->body_len < WS_MAX_BODY);
	if (ws->body_len >= WS_MAX_BODY || (ws->flags & WS_F_EOF))
		done = 1;
	if (done)
		ws_close_reason(ws, WS_REASON_HANDSHAKE,
		    "upgrade refused: HTTP %d%s", ws->status, note);
}

/* Queue the upgrade request; the buffer is wiped once written. */
static void
ws_send_request(struct ws *ws)
{
	struct evbuffer *out = bufferevent_get_output(ws->bev);

	ws_set_state(ws, WS_HANDSHAKE);
	if (evbuffer_add_reference(
		out, ws->req, ws->reqlen, ws_req_cleanup_cb, ws->req) == -1) {
		ws_close_reason(ws, WS_REASON_INTERNAL, "out of memory");
		return;
	}
	/* The output buffer owns it now (ws_req_cleanup_cb). */
	ws->req = NULL;
	ws->reqlen = 0;
}

/*
 * Transport error text: the TLS reason if any, else strerror(err). Returns
 * 1 if the "error" is a TCP EOF without TLS close_notify, which OpenSSL 3
 * reports as an error and libevent 2.1's allow_dirty_shutdown does not
 * recognise: for us that is the same EOF as on a plain socket.
 */
static int
ws_transport_error(struct ws *ws, int err)
{
	unsigned long e, first = 0;
	char ssl_err[160];
	int dirty_eof = 0;
	SSL *ssl;
	long vr;

	if (ws->flags & WS_F_TLS) {
		while ((e = bufferevent_get_openssl_error(ws->bev)) != 0) {
			if (first == 0)
				first = e;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
			if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
			    ERR_GET_REASON(e) ==
				SSL_R_UNEXPECTED_EOF_WHILE_READING)
				dirty_eof = 1;
#endif
		}
		if (dirty_eof) {
			(void)snprintf(ws->errbuf, sizeof(ws->errbuf),
			    "connection closed by the server (no TLS "
			    "close_notify)");
			return 1;
		}
		if (first != 0) {
			ERR_error_string_n(first, ssl_err, sizeof(ssl_err));
			ssl = bufferevent_openssl_get_ssl(ws->bev);
			vr = ssl != NULL ? SSL_get_verify_result(ssl)
					 : X509_V_OK;
			if (vr != X509_V_OK)
				(void)snprintf(ws->errbuf, sizeof(ws->errbuf),
				    "TLS: certificate verify failed: %s",
				    X509_verify_cert_error_string(vr));
			else
				(void)snprintf(ws->errbuf, sizeof(ws->errbuf),
				    "TLS: %s", ssl_err);
			return 0;
		}
	}
	(void)snprintf(ws->errbuf, sizeof(ws->errbuf), "%s",
	    err != 0 ? strerror(err) : "connection error");
	return 0;
}

/* The bufferevent hit EOF or an error: decide per state. */
static void
ws_transport_end(struct ws *ws, short what)
{
	int err = EVUTIL_SOCKET_ERROR(), error = 0;

	if (ws->flags & WS_F_EOF)
		return; /* the first end decides */
	ws->flags |= WS_F_EOF;
	if (what & BEV_EVENT_ERROR)
		error = !ws_transport_error(ws, err);
	else
		(void)snprintf(ws->errbuf, sizeof(ws->errbuf),
		    "connection closed by the server");
	if (error)
		ws->flags |= WS_F_EOF_ERROR;

	switch (ws->state) {
	case WS_TLS:
		ws_close_reason(ws, WS_REASON_TRANSPORT,
		    "TLS handshake with %s failed: %s", ws->host, ws->errbuf);
		break;
	case WS_HANDSHAKE:
		if (error)
			ws_close_reason(
			    ws, WS_REASON_TRANSPORT, "%s", ws->errbuf);
		else
			ws_close_reason(ws, WS_REASON_HANDSHAKE,
			    "connection closed before the upgrade answer");
		break;
	case WS_REJECTED:
		ws_http_body(ws);
		break;
	case WS_OPEN:
		/* Deliver what is buffered first; ws_frames reports. */
		ws_schedule(ws);
		break;
	case WS_LINGER:
		ws_linger_end(ws, 0);
		break;
	default:
		break;
	}
}

static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
	struct ws *ws = arg;

	switch (ws->state) {
	case WS_HANDSHAKE:
		ws_http_head(ws);
		break;
	case WS_REJECTED:
		ws_http_body(ws);
		break;
	case WS_OPEN:
		/* Any byte (data, pong, ping) proves the server is there. */
		ws->flags &= ~WS_F_PINGED;
		if (!(ws->flags & WS_F_PAUSED))
			ws_timer_set(ws, ws->idle_timeout_ms);
		ws_frames(ws);
		break;
	case WS_LINGER:
		/* Nothing more is delivered; keep reading to see EOF. */
		(void)evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	default:
		break;
	}
}

static void
ws_write_cb(struct bufferevent *bev, void *arg)
{
	struct ws *ws = arg;

	(void)bev;
	if (ws->state == WS_OPEN)
		(void)ws_flush(ws);
	else if (ws->state == WS_LINGER)
		ws_linger_check(ws);
}

static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ws *ws = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (ws->state == WS_TLS)
			ws_send_request(ws);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ws_transport_end(ws, what);
}

/*
 * OPEN and reading, nothing received for idle_timeout_ms: the first time
 * send a ping, the second time (still nothing, not even the pong) the
 * server or the path to it is gone (half-open): fail the connection.
 */
static void
ws_idle_expired(struct ws *ws)
{
	struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};

	if (ws->flags & WS_F_PINGED) {
		ws_close_reason(ws, WS_REASON_TIMEOUT,
		    "no answer from the control plane for %ld ms",
		    2 * ws->idle_timeout_ms);
		return;
	}
	if (wslay_event_queue_msg(ws->ctx, &ping) != 0) {
		ws_close_reason(ws, WS_REASON_INTERNAL, "cannot queue a ping");
		return;
	}
	ws->flags |= WS_F_PINGED;
	ws_timer_set(ws, ws->idle_timeout_ms);
	(void)ws_flush(ws);
}

/* The deadline for the current state passed. */
static void
ws_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;

	(void)fd;
	(void)what;
	switch (ws->state) {
	case WS_REJECTED:
		/* The status is known; report it with the body so far. */
		ws->flags |= WS_F_EOF;
		ws_http_body(ws);
		break;
	case WS_OPEN:
		ws_idle_expired(ws);
		break;
	case WS_LINGER:
		ws_linger_end(ws, 0);
		break;
	case WS_CLOSED:
		break;
	default:
		ws_close_reason(ws, WS_REASON_TIMEOUT, "handshake timed out");
		break;
	}
}

/* Zero-delay work: the first start, and re-arms of bounded work. */
static void ws_start(struct ws *ws);

static void
ws_process_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;

	(void)fd;
	(void)what;
	switch (ws->state) {
	case WS_RESOLVING:
		if (!(ws->flags & WS_F_STARTED))
			ws_start(ws);
		break;
	case WS_OPEN:
		ws_frames(ws);
		break;
	case WS_LINGER:
		ws_linger_check(ws);
		break;
	default:
		break;
	}
}

/* TCP is up: wrap the fd in a (TLS) bufferevent. */
static void
ws_tcp_connected(struct ws *ws, int fd)
{
	int one = 1;
	SSL *ssl;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ws->flags & WS_F_TLS) {
		ssl = tlsctx_new_ssl(ws->tls, ws->host);
		if (ssl == NULL) {
			(void)close(fd);
			ERR_clear_error();
			ws_close_reason(ws, WS_REASON_TRANSPORT,
			    "cannot set up TLS for %s", ws->host);
			return;
		}
		/* On failure libevent frees ssl (CLOSE_ON_FREE), not fd. */
		ws->bev = bufferevent_openssl_socket_new(ws->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (ws->bev != NULL)
			/* The Wrenn server may end without close_notify. */
			bufferevent_openssl_set_allow_dirty_shutdown(
			    ws->bev, 1);
	} else
		ws->bev = bufferevent_socket_new(ws->base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (ws->bev == NULL) {
		(void)close(fd);
		ws_close_reason(ws, WS_REASON_INTERNAL, "out of memory");
		return;
	}
	bufferevent_setcb(ws->bev, ws_read_cb, ws_write_cb, ws_event_cb, ws);
	bufferevent_setwatermark(ws->bev, EV_READ, 0, WS_IN_HIWAT);
	bufferevent_setwatermark(ws->bev, EV_WRITE, WS_OUT_LOWAT, 0);
	if (bufferevent_enable(ws->bev, EV_READ | EV_WRITE) == -1) {
		ws_close_reason(ws, WS_REASON_INTERNAL, "bufferevent_enable");
		return;
	}
	if (ws->flags & WS_F_TLS)
		ws_set_state(ws, WS_TLS);
	else
		ws_send_request(ws);
}

/* The non-blocking connect finished, one way or the other. */
static void
ws_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	event_free(ws->ev_connect);
	ws->ev_connect = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		(void)close(ws->fd);
		ws->fd = -1;
		ws->last_errno = err;
		ws_connect_next(ws);
		return;
	}
	ws->fd = -1;
	ws_tcp_connected(ws, fd);
}

/*
 * TCP keepalive, so the kernel notices a dead peer or path even when the
 * WebSocket is idle or paused. Best effort: a failure leaves the idle
 * timeout as the only guard.
 */
static void
ws_keepalive(int fd)
{
	int one = 1, idle = WS_KA_IDLE_S, intvl = WS_KA_INTVL_S,
	    cnt = WS_KA_CNT;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Try the addresses in order until one connect is under way. */
static void
ws_connect_next(struct ws *ws)
{
	struct evutil_addrinfo *ai;
	int fd;

	while ((ai = ws->ai_next) != NULL) {
		ws->ai_next = ai->ai_next;
		fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd == -1) {
			ws->last_errno = errno;
			continue;
		}
		ws_keepalive(fd);
		if (connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == 0) {
			ws_tcp_connected(ws, fd);
			return;
		}
		if (errno == EINPROGRESS) {
			ws->fd = fd;
			ws->ev_connect = event_new(
			    ws->base, fd, EV_WRITE, ws_connect_cb, ws);
			if (ws->ev_connect == NULL ||
			    event_add(ws->ev_connect, NULL) == -1)
				ws_close_reason(ws, WS_REASON_INTERNAL,
				    "cannot watch the connect");
			return;
		}
		ws->last_errno = errno;
		(void)close(fd);
	}
	ws_close_reason(ws, WS_REASON_TRANSPORT,
	    "connect to %s port %s failed: %s", ws->host, ws->port,
	    strerror(ws->last_errno != 0 ? ws->last_errno : EHOSTUNREACH));
}

/* evdns answered (possibly from inside evdns_getaddrinfo). */
static void
ws_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct ws *ws = arg;

	ws->dns_req = NULL;
	ws->flags &= ~WS_F_RESOLVING;
	if (ws->state != WS_RESOLVING) {
		/* Closed meanwhile (EVUTIL_EAI_CANCEL): finish freeing. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		event_active(ws->ev_defer, EV_TIMEOUT, 0);
		return;
	}
	if (result != 0) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		ws_close_reason(ws, WS_REASON_TRANSPORT,
		    "cannot resolve %s: %s", ws->host,
		    evutil_gai_strerror(result));
		return;
	}
	ws->ai = res;
	ws->ai_next = res;
	ws_set_state(ws, WS_CONNECTING);
	ws_connect_next(ws);
}

/* First loop turn: resolve (numeric hosts were resolved already). */
static void
ws_start(struct ws *ws)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	ws->flags |= WS_F_STARTED;
	if (ws->ai != NULL) {
		ws->ai_next = ws->ai;
		ws_set_state(ws, WS_CONNECTING);
		ws_connect_next(ws);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	ws->flags |= WS_F_RESOLVING;
	req = evdns_getaddrinfo(
	    ws->dns, ws->host, ws->port, &hints, ws_dns_cb, ws);
	/* NULL when the callback already ran (hosts file, errors). */
	if (ws->flags & WS_F_RESOLVING)
		ws->dns_req = req;
}

/* A caller header line: "Name: value", no CR, LF or other controls. */
static int
ws_header_ok(const char *h)
{
	const char *colon = strchr(h, ':'), *p;

	if (colon == NULL || colon == h)
		return 0;
	for (p = h; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0;
	for (; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

/* Append n bytes at *pp. */
static void
ws_put(char **pp, const char *s, size_t n)
{
	memcpy(*pp, s, n);
	*pp += n;
}

#define WS_PUTS(pp, s) ws_put((pp), (s), strlen(s))

/*
 * Build the upgrade request and the expected accept value. The caller's
 * header lines are copied straight into ws->req (no other copy is made).
 */
static int
ws_request_build(struct ws *ws, const struct url *u, const char *const *headers)
{
	static const char fixed1[] = " HTTP/1.1\r\nHost: ";
	static const char fixed2[] = "\r\nUpgrade: websocket\r\n"
				     "Connection: Upgrade\r\n"
				     "Sec-WebSocket-Key: ";
	static const char fixed3[] =
	    "\r\nSec-WebSocket-Version: 13\r\n"
	    "User-Agent: wrennd/" PACKAGE_VERSION "\r\n";
	unsigned char raw[16], md[EVP_MAX_MD_SIZE];
	char key[25], keyguid[24 + sizeof(WS_GUID)];
	unsigned int mdlen;
	size_t len, i, qlen;
	char *p;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	(void)EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	memcpy(keyguid, key, 24);
	memcpy(keyguid + 24, WS_GUID, sizeof(WS_GUID));
	if (EVP_Digest(keyguid, 24 + sizeof(WS_GUID) - 1, md, &mdlen,
		EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return -EIO;
	(void)EVP_EncodeBlock((unsigned char *)ws->accept, md, mdlen);

	qlen = u->query != NULL ? 1 + strlen(u->query) : 0;
	len = 4 + strlen(u->path) + qlen + strlen(fixed1) +
	    strlen(u->hostport) + strlen(fixed2) + 24 + strlen(fixed3) + 2;
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		len += strlen(headers[i]) + 2;
	ws->req = malloc(len);
	if (ws->req == NULL)
		return -ENOMEM;
	ws->reqlen = len;
	p = ws->req;
	WS_PUTS(&p, "GET ");
	WS_PUTS(&p, u->path);
	if (u->query != NULL) {
		WS_PUTS(&p, "?");
		WS_PUTS(&p, u->query);
	}
	WS_PUTS(&p, fixed1);
	WS_PUTS(&p, u->hostport);
	WS_PUTS(&p, fixed2);
	ws_put(&p, key, 24);
	WS_PUTS(&p, fixed3);
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		WS_PUTS(&p, headers[i]);
		WS_PUTS(&p, "\r\n");
	}
	WS_PUTS(&p, "\r\n");
	assert((size_t)(p - ws->req) == len);
	return 0;
}

int
ws_connect(struct event_base *base, const struct ws_opts *opts, struct ws **ret)
{
	struct evutil_addrinfo hints;
	struct url *u = NULL;
	struct ws *ws;
	char addr[sizeof(struct in6_addr)];
	const char *why;
	size_t i;
	int r, numeric;

	if (base == NULL || opts == NULL || opts->url == NULL || ret == NULL)
		return -EINVAL;
	for (i = 0; opts->headers != NULL && opts->headers[i] != NULL; i++)
		if (!ws_header_ok(opts->headers[i]))
			return -EINVAL;
	if ((r = url_parse(opts->url, &u, &why)) < 0)
		return r;
	if ((u->scheme != URL_WS && u->scheme != URL_WSS) ||
	    (u->tls && opts->tls == NULL)) {
		url_free(u);
		return -EINVAL;
	}
	ws = calloc(1, sizeof(*ws));
	if (ws == NULL) {
		url_free(u);
		return -ENOMEM;
	}
	ws->fd = -1;
	ws->state = WS_RESOLVING;
	ws->base = base;
	ws->dns = opts->dns;
	ws->tls = opts->tls;
	if (u->tls)
		ws->flags |= WS_F_TLS;
	ws->handshake_timeout_ms = opts->handshake_timeout_ms > 0
	    ? opts->handshake_timeout_ms
	    : WS_HANDSHAKE_MS;
	ws->idle_timeout_ms =
	    opts->idle_timeout_ms > 0 ? opts->idle_timeout_ms : 0;
	ws->max_msg = opts->max_msg > 0 ? opts->max_msg : WS_MAX_MSG;
	ws->on_open = opts->on_open;
	ws->on_message = opts->on_message;
	ws->on_close = opts->on_close;
	ws->arg = opts->arg;
	(void)snprintf(ws->port, sizeof(ws->port), "%u", u->port);
	/* The URL's host is ours: u is freed below without it. */
	ws->host = u->host;
	u->host = NULL;
	numeric = evutil_inet_pton(AF_INET, ws->host, addr) == 1 ||
	    evutil_inet_pton(AF_INET6, ws->host, addr) == 1;
	if (numeric) {
		/* Non-blocking: AI_NUMERICHOST never consults a resolver. */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
		if (evutil_getaddrinfo(ws->host, ws->port, &hints, &ws->ai) !=
		    0) {
			r = -EINVAL;
			goto fail;
		}
	} else if (ws->dns == NULL) {
		r = -EINVAL;
		goto fail;
	}
	if ((r = ws_request_build(ws, u, opts->headers)) < 0)
		goto fail;
	r = -ENOMEM;
	ws->ev_timeout = evtimer_new(base, ws_timeout_cb, ws);
	ws->ev_process = evtimer_new(base, ws_process_cb, ws);
	ws->ev_defer = event_new(base, -1, 0, ws_defer_cb, ws);
	ws->http = http_new(NULL);
	if (ws->ev_timeout == NULL || ws->ev_process == NULL ||
	    ws->ev_defer == NULL || ws->http == NULL)
		goto fail;
	log_debug("ws %p: connecting to %s port %s%s", (void *)ws, ws->host,
	    ws->port, u->tls ? " (TLS)" : "");
	url_free(u);
	ws_timer_set(ws, ws->handshake_timeout_ms);
	ws_schedule(ws);
	*ret = ws;
	return 0;
fail:
	url_free(u);
	ws_free_now(ws);
	return r;
}

int
ws_send_text(struct ws *ws, const char *data, size_t len)
{
	struct wslay_event_msg m;
	int r;

	if (ws == NULL || (data == NULL && len > 0))
		return -EINVAL;
	if (ws->state < WS_OPEN)
		return -ENOTCONN;
	if (ws->state > WS_OPEN)
		return -EPIPE;
	m.opcode = WSLAY_TEXT_FRAME;
	m.msg = (const uint8_t *)data;
	m.msg_length = len;
	r = wslay_event_queue_msg(ws->ctx, &m);
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (r != 0)
		return -EINVAL;
	/* Framed from the loop, never from inside wslay or the caller. */
	ws_schedule(ws);
	return 0;
}

size_t
ws_queued_bytes(const struct ws *ws)
{
	if (ws == NULL || ws->state != WS_OPEN)
		return 0;
	return wslay_event_get_queued_msg_length(ws->ctx) +
	    evbuffer_get_length(bufferevent_get_output(ws->bev));
}

int
ws_fd(const struct ws *ws)
{
	if (ws == NULL || ws->bev == NULL)
		return -1;
	return (int)bufferevent_getfd(ws->bev);
}

void
ws_pause_read(struct ws *ws, int paused)
{
	if (ws == NULL)
		return;
	if (paused)
		ws->flags |= WS_F_PAUSED;
	else
		ws->flags &= ~WS_F_PAUSED;
	if (ws->state != WS_OPEN)
		return; /* ws_open() applies it */
	if (paused) {
		(void)bufferevent_disable(ws->bev, EV_READ);
		ws_timer_set(ws, 0);
	} else {
		if (!(ws->flags & WS_F_EOF))
			(void)bufferevent_enable(ws->bev, EV_READ);
		/* A paused reader is not a dead server: start afresh. */
		ws->flags &= ~WS_F_PINGED;
		ws_timer_set(ws, ws->idle_timeout_ms);
		/* Buffered input (and a pending EOF) is handled next turn. */
		ws_schedule(ws);
	}
}

void
ws_close(struct ws *ws)
{
	if (ws == NULL)
		return;
	ws->on_open = NULL;
	ws->on_message = NULL;
	ws->on_close = NULL;
	ws_close_reason(ws, WS_REASON_LOCAL, "closed by the owner");
}

void
ws_free(struct ws *ws)
{
	if (ws == NULL)
		return;
	assert(!(ws->flags & WS_F_RELEASED));
	ws_close(ws);
	ws->flags |= WS_F_RELEASED;
	event_active(ws->ev_defer, EV_TIMEOUT, 0);
}
