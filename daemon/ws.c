/* SPDX-License-Identifier: MIT */
/*
 * WebSocket client over libevent bufferevents with wslay doing RFC 6455
 * framing. One connection's life from ws_connect(): dial.c connects (and
 * verifies TLS), wsproto.c builds the upgrade request and judges the 101,
 * httpio.c sends it (it holds the credential header: never copied, wiped
 * once written) and reads the answer; this file runs the states, feeds
 * wslay frame by frame with bounded work per loop turn, pauses reading for
 * backpressure, pings an idle server and lingers to flush a close frame.
 * Called by the streaming-exec code; see ws.h for the contract.
 *
 * State machine (ws_set_state asserts each step):
 *   DIALING -> HANDSHAKE -> OPEN -> [LINGER ->] CLOSED
 *                      \-> REJECTED -> CLOSED
 * and any state before LINGER may go straight to CLOSED. Every end goes
 * through ws_close_reason(); memory is released by ws_defer_cb on a later
 * loop turn, never under a callback of ours or wslay's.
 */
#include "config.h"

#include "ws.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "dial.h"
#include "http.h"
#include "httpio.h"
#include "log.h"
#include "url.h"
#include "wsproto.h"

#define WS_MAX_BODY	(64 * 1024)	   /* kept of a refusal body, bytes */
#define WS_MAX_MSG	(16 * 1024 * 1024) /* default message cap */
#define WS_HANDSHAKE_MS 10000		   /* default handshake deadline */
#define WS_LINGER_MS	2000		   /* close frame flush deadline */
#define WS_IN_HIWAT	(256 * 1024)	   /* stop reading the socket above */
#define WS_OUT_HIWAT	(256 * 1024)	   /* stop framing output above */
#define WS_OUT_LOWAT	(64 * 1024)	   /* resume framing output below */
#define WS_READ_BUDGET	(64 * 1024)	   /* bytes parsed per loop turn */
#define WS_MSG_BUDGET	64		   /* messages delivered per turn */

enum ws_state {
	WS_DIALING,   /* dial.c: lookup, TCP connect, TLS */
	WS_HANDSHAKE, /* upgrade request queued, reading the answer head */
	WS_REJECTED,  /* non-101 answer: reading its body */
	WS_OPEN,      /* frames flow */
	WS_LINGER,    /* ended for the owner; flushing a close frame */
	WS_CLOSED,    /* ended; transport released on the next turn */
	WS__MAX
};

static const char *const ws_state_names[WS__MAX] = {
    "DIALING",
    "HANDSHAKE",
    "REJECTED",
    "OPEN",
    "LINGER",
    "CLOSED",
};

#define WS_TO(s) (1u << (s))
/* Legal transitions: ws_transitions[from] has bit `to` set. */
static const unsigned ws_transitions[WS__MAX] = {
    [WS_DIALING] = WS_TO(WS_HANDSHAKE) | WS_TO(WS_CLOSED),
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
#define WS_F_PAUSED    (1u << 0) /* owner paused reading */
#define WS_F_EOF       (1u << 1) /* transport ended (EOF or error) */
#define WS_F_EOF_ERROR (1u << 2) /* ... with an error (errbuf says) */
#define WS_F_STARVED   (1u << 3) /* recv callback ran out of input */
#define WS_F_RELEASED  (1u << 4) /* owner called ws_free() */
#define WS_F_TOO_LARGE (1u << 5) /* a frame announced too large a message */
#define WS_F_BADCTRL   (1u << 6) /* a fragmented or oversized control frame */
#define WS_F_PINGED    (1u << 7) /* idle: a ping is out, nothing since */

	char accept[WSPROTO_ACCEPT_LEN + 1]; /* expected Sec-WebSocket-Accept */

	struct dial *dial;	     /* owned: until the connection is up */
	struct bufferevent *bev;     /* owned: the connection (owns fd) */
	wslay_event_context_ptr ctx; /* owned: framing, from OPEN on */

	struct event *ev_timeout; /* owned: handshake, idle or linger */
	struct event *ev_process; /* owned: zero-delay work re-arm */
	struct event *ev_defer;	  /* owned: release/free next turn */
	long handshake_timeout_ms;
	long idle_timeout_ms;
	size_t max_msg;

	/* The upgrade request (holds secrets; wiped), its answer. */
	struct httpio *hio; /* owned: until OPEN */

	/* Frames. */
	uint64_t frame_left;  /* bytes of the current frame not yet
			       * given to wslay */
	uint64_t msg_acc;     /* payload bytes of the current message */
	size_t budget;	      /* bytes wslay may still take this turn */
	unsigned msg_budget;  /* messages left to deliver this turn */
	uint16_t close_code;  /* peer's close code */
	char close_text[124]; /* peer's close reason */

	char errmsg[256]; /* why it ended, in words */
	char errbuf[200]; /* transport error text at EOF_ERROR */

	ws_open_cb on_open; /* cleared once closed */
	ws_message_cb on_message;
	ws_close_cb on_close;
	void *arg;
};

static void ws_close_reason(struct ws *ws, enum ws_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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

/* Close every I/O source; the objects themselves go in ws_release(). */
static void
ws_quiesce(struct ws *ws)
{
	if (ws->bev != NULL) {
		bufferevent_setcb(ws->bev, NULL, NULL, NULL, NULL);
		(void)bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	}
	/* No dial callback after this; a pending lookup ends in dial.c. */
	dial_free(ws->dial);
	ws->dial = NULL;
	(void)evtimer_del(ws->ev_timeout);
	(void)evtimer_del(ws->ev_process);
}

/* Free the transport. Only from the loop (ws_defer_cb) or a dead ws. */
static void
ws_release(struct ws *ws)
{
	if (ws->bev != NULL) {
		/* BEV_OPT_CLOSE_ON_FREE: closes the fd and frees the SSL. */
		bufferevent_free(ws->bev);
		ws->bev = NULL;
	}
	if (ws->ctx != NULL) {
		wslay_event_context_free(ws->ctx);
		ws->ctx = NULL;
	}
	httpio_free(ws->hio);
	ws->hio = NULL;
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
	if (ws->flags & WS_F_RELEASED)
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
	if (reason == WS_REASON_HANDSHAKE && ws->hio != NULL) {
		info.status = http_status(httpio_parser(ws->hio));
		info.content_type =
		    http_header(httpio_parser(ws->hio), "Content-Type");
		info.body = httpio_kept(ws->hio, &info.body_len);
	}
	cb(ws, &info, ws->arg);
}

/* End the linger: CLOSED. healthy: the close frame was flushed. */
static void
ws_linger_end(struct ws *ws, int healthy)
{
	if (healthy)
		dial_close_notify(ws->bev);
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

/*
 * wslay: give it input, at most to the end of the current frame. The next
 * frame header is read (wsproto.c) without consuming it, so wslay is never
 * given bytes past the end of a frame: then pausing, the work budget and
 * the size cap take effect exactly at frame boundaries.
 */
static ssize_t
ws_wslay_recv_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	unsigned char h[WSPROTO_FRAME_HEAD];
	struct evbuffer *in;
	enum wsproto_peek r;
	size_t avail, n;
	ev_ssize_t got;

	(void)flags;
	if (ws->state != WS_OPEN || (ws->flags & WS_F_PAUSED) ||
	    ws->budget == 0 || ws->msg_budget == 0)
		goto wouldblock;
	in = bufferevent_get_input(ws->bev);
	if (ws->frame_left == 0) {
		got = evbuffer_copyout(in, h, sizeof(h));
		r = wsproto_frame_peek(h, got > 0 ? (size_t)got : 0,
		    ws->max_msg, &ws->msg_acc, &ws->frame_left);
		if (r == WSPROTO_BAD_CTRL || r == WSPROTO_TOO_LARGE) {
			/* Refused before wslay sees (or buffers) any of it:
			 * 1002 (RFC 6455 5.5) or 1009 to the peer. */
			ws->flags |= r == WSPROTO_BAD_CTRL ? WS_F_BADCTRL
							   : WS_F_TOO_LARGE;
			wslay_event_shutdown_read(ctx);
			(void)wslay_event_queue_close(ctx,
			    r == WSPROTO_BAD_CTRL ? WSLAY_CODE_PROTOCOL_ERROR
						  : WSLAY_CODE_MESSAGE_TOO_BIG,
			    NULL, 0);
			goto wouldblock;
		}
		if (r == WSPROTO_MORE) {
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
		ws->close_code = (uint16_t)wsproto_close_payload(data,
		    a->msg_length, ws->close_text, sizeof(ws->close_text));
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

/* REJECTED: collect the body (its first WS_MAX_BODY bytes), then report. */
static void
ws_refused(struct ws *ws)
{
	int r, status = http_status(httpio_parser(ws->hio));

	r = httpio_body(ws->hio, bufferevent_get_input(ws->bev),
	    (ws->flags & WS_F_EOF) != 0);
	if (r < 0)
		ws_close_reason(ws, WS_REASON_HANDSHAKE,
		    "upgrade refused: HTTP %d (%s)", status,
		    httpio_error(ws->hio));
	else if (r > 0)
		ws_close_reason(ws, WS_REASON_HANDSHAKE,
		    "upgrade refused: HTTP %d", status);
}

/* HANDSHAKE: read the answer head (httpio.c), then judge it. */
static void
ws_http_head(struct ws *ws)
{
	const char *err;
	int r;

	r = httpio_head(ws->hio, bufferevent_get_input(ws->bev));
	if (r < 0) {
		ws_close_reason(ws, WS_REASON_HANDSHAKE, "bad answer head: %s",
		    httpio_error(ws->hio));
		return;
	}
	if (r == 0)
		return;
	if (http_status(httpio_parser(ws->hio)) != 101) {
		ws_set_state(ws, WS_REJECTED);
		ws_refused(ws);
		return;
	}
	err = wsproto_check_101(httpio_parser(ws->hio), ws->accept);
	if (err != NULL) {
		ws_close_reason(ws, WS_REASON_HANDSHAKE, "%s", err);
		return;
	}
	httpio_free(ws->hio);
	ws->hio = NULL;
	ws_open(ws);
}

/* The bufferevent hit EOF or an error: decide per state. */
static void
ws_transport_end(struct ws *ws, short what)
{
	int error;

	if (ws->flags & WS_F_EOF)
		return; /* the first end decides */
	ws->flags |= WS_F_EOF;
	error = dial_bev_end(ws->bev, what, ws->errbuf, sizeof(ws->errbuf));
	if (error)
		ws->flags |= WS_F_EOF_ERROR;

	switch (ws->state) {
	case WS_HANDSHAKE:
		if (error)
			ws_close_reason(
			    ws, WS_REASON_TRANSPORT, "%s", ws->errbuf);
		else
			ws_close_reason(ws, WS_REASON_HANDSHAKE,
			    "connection closed before the upgrade answer");
		break;
	case WS_REJECTED:
		ws_refused(ws);
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
		ws_refused(ws);
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
		ws_refused(ws);
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

/* Zero-delay work: re-arms of bounded work. */
static void
ws_process_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;

	(void)fd;
	(void)what;
	switch (ws->state) {
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

/* dial.c is done: on success, the upgrade goes out on its bufferevent. */
static void
ws_dial_cb(struct dial *d, const struct dial_result *res, void *arg)
{
	struct ws *ws = arg;

	dial_free(d);
	ws->dial = NULL;
	switch (res->outcome) {
	case DIAL_OK:
		break;
	case DIAL_TIMEOUT:
		ws_close_reason(ws, WS_REASON_TIMEOUT,
		    "handshake timed out (%s)", res->errmsg);
		return;
	case DIAL_INTERNAL:
		ws_close_reason(ws, WS_REASON_INTERNAL, "%s", res->errmsg);
		return;
	default:
		ws_close_reason(ws, WS_REASON_TRANSPORT, "%s", res->errmsg);
		return;
	}
	ws->bev = res->bev;
	bufferevent_setcb(ws->bev, ws_read_cb, ws_write_cb, ws_event_cb, ws);
	bufferevent_setwatermark(ws->bev, EV_READ, 0, WS_IN_HIWAT);
	bufferevent_setwatermark(ws->bev, EV_WRITE, WS_OUT_LOWAT, 0);
	ws_set_state(ws, WS_HANDSHAKE);
	if (bufferevent_enable(ws->bev, EV_READ | EV_WRITE) == -1)
		ws_close_reason(ws, WS_REASON_INTERNAL, "bufferevent_enable");
	else if (httpio_send(ws->hio, ws->bev) < 0)
		ws_close_reason(ws, WS_REASON_INTERNAL, "out of memory");
}

/* The request and the timers made, the dial started: a ws in DIALING. */
static int
ws_setup(struct ws *ws, struct event_base *base, const struct ws_opts *opts,
    const struct url *u)
{
	unsigned char nonce[WSPROTO_NONCE_LEN];
	/* The same deadline as the handshake's: whichever fires, it ends. */
	struct dial_opts d = {
	    .host = opts->connect_host != NULL ? opts->connect_host : u->host,
	    .port = opts->connect_port != 0 ? opts->connect_port : u->port,
	    .tls = u->tls ? opts->tls : NULL,
	    .tls_name = u->host,
	    .dns = opts->dns,
	    .timeout_ms = ws->handshake_timeout_ms,
	    .done = ws_dial_cb,
	    .arg = ws};
	size_t reqlen;
	char *req;
	int r;

	if ((u->scheme != URL_WS && u->scheme != URL_WSS) ||
	    (u->tls && opts->tls == NULL))
		return -EINVAL;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	/* A bad header line is refused here, by http_request_build(). */
	r = wsproto_request(u, nonce, opts->headers, ws->accept, &req, &reqlen);
	if (r < 0)
		return r;
	/* httpio owns the request from here on, even when this fails. */
	ws->hio = httpio_new(req, reqlen, NULL, WS_MAX_BODY);
	ws->ev_timeout = evtimer_new(base, ws_timeout_cb, ws);
	ws->ev_process = evtimer_new(base, ws_process_cb, ws);
	ws->ev_defer = event_new(base, -1, 0, ws_defer_cb, ws);
	if (ws->hio == NULL || ws->ev_timeout == NULL ||
	    ws->ev_process == NULL || ws->ev_defer == NULL)
		return -ENOMEM;
	return dial_start(base, &d, &ws->dial);
}

int
ws_connect(struct event_base *base, const struct ws_opts *opts, struct ws **ret)
{
	struct url *u = NULL;
	struct ws *ws;
	const char *why;
	int r;

	if (base == NULL || opts == NULL || opts->url == NULL || ret == NULL)
		return -EINVAL;
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return -ENOMEM;
	ws->state = WS_DIALING;
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
	if ((r = url_parse(opts->url, &u, &why)) == 0)
		r = ws_setup(ws, base, opts, u);
	url_free(u);
	if (r < 0) {
		ws_free_now(ws);
		return r;
	}
	log_debug("ws %p: dial %p", (void *)ws, (void *)ws->dial);
	ws_timer_set(ws, ws->handshake_timeout_ms);
	*ret = ws;
	return 0;
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
