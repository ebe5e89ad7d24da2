/* SPDX-License-Identifier: MIT */
/*
 * Exec streams (see stream.h). One struct stream per upstream WebSocket:
 *
 *   CONNECTING --open--> RUNNING --exit/error/cut/stop--> ENDED --> freed
 *
 * Upstream messages become sequenced events in a byte-bounded buffer.
 * Followers (the exec_stream call, streams.attach calls) each keep a
 * cursor and are fed while their client has output room; a congested
 * client is resumed from its drain hook. When the buffer is full:
 *  - an attached (non-detached) stream whose owner has not read the oldest
 *    event pauses the WebSocket, so TCP backpressure reaches the control
 *    plane and memory stays bounded; if the owner stays stuck for
 *    stall-timeout the stream is cancelled with "slow_consumer";
 *  - otherwise the oldest event is dropped and followers behind it get a
 *    "lost" event with the exact number of events and bytes they missed.
 */
#include "config.h"

#include "stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "call.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"
#include "ws.h"

#define STREAM_EVENT_OVERHEAD 64	    /* bytes charged per event */
#define STREAM_DROP_RING      1024	    /* remembered dropped events */
#define STREAM_MAX_MSG	      (1024 * 1024) /* one upstream message */
#define STREAM_HANDSHAKE_MS   30000

enum stream_state {
	STREAM_CONNECTING, /* WebSocket handshake in progress */
	STREAM_RUNNING,	   /* start sent, events flowing */
	STREAM_ENDED,	   /* final result or error known */
	STREAM__MAX
};

static const char *stream_state_names[STREAM__MAX] = {
    "connecting", "running", "ended"};

struct sevent {
	TAILQ_ENTRY(sevent) entry;
	uint64_t seq;
	uint64_t cum;	/* output bytes produced before this event */
	size_t datalen; /* output bytes in this event */
	size_t size;	/* bytes charged to the buffer */
	char name[8];	/* start, stdout, stderr, exit, error */
	json_t *fields; /* owned */
};

struct sfollower {
	TAILQ_ENTRY(sfollower) entry;
	struct stream *s;  /* borrowed owner */
	struct call *call; /* borrowed; answered by stream code */
	uint64_t cursor;   /* next seq to deliver */
	uint64_t cum;	   /* output bytes before cursor (if cum_known) */
	int cum_known;
	int owner; /* the exec_stream call of an attached stream */
};

TAILQ_HEAD(sevent_list, sevent);
TAILQ_HEAD(sfollower_list, sfollower);

struct stream {
	TAILQ_ENTRY(stream) entry; /* in wd->streams */
	struct wrennd *wd;	   /* borrowed */
	char id[24];		   /* "st-" + 16 hex */
	char *sandbox_id;	   /* owned */
	json_t *cmd;		   /* owned string */
	json_t *args;		   /* owned array or NULL */
	enum stream_state state;
	struct ws *ws;		   /* owned while connected */
	int detached;		   /* lives without followers */
	int paused;		   /* WebSocket reading paused */
	struct call *starter;	   /* detached exec_stream call awaiting
				    * "start", borrowed */
	struct sevent_list events; /* owned, seq ascending, contiguous */
	size_t buffered;	   /* bytes charged by events */
	size_t limit;		   /* buffer bound */
	uint64_t next_seq;	   /* seq of the next event */
	uint64_t first_seq;	   /* seq of the oldest buffered event */
	uint64_t out_bytes;	   /* output bytes produced */
	uint64_t lost_bytes;	   /* output bytes dropped from the buffer */
	uint64_t lost_events;
	struct {
		uint64_t seq, cum;
	} drops[STREAM_DROP_RING]; /* recently dropped events */
	unsigned ndrops;
	struct sfollower_list followers; /* owned */
	unsigned nfollowers;
	int64_t pid;	   /* from "start", -1 before */
	json_t *final;	   /* owned result {"exit_code": n} */
	json_t *final_err; /* owned error object */
	time_t started, ended;
	struct event *ev_timer; /* owned: stall or retention deadline */
};

static void stream_pump(struct stream *s);
static void stream_end(
    struct stream *s, json_t *final_steal, json_t *err_steal);

static void
stream_set_state(struct stream *s, enum stream_state to)
{
	if (s->state == to)
		return;
	if (to < s->state)
		fatalx("stream %s: illegal transition %s -> %s", s->id,
		    stream_state_names[s->state], stream_state_names[to]);
	log_debug("stream %s: %s -> %s", s->id, stream_state_names[s->state],
	    stream_state_names[to]);
	s->state = to;
}

static struct stream *
stream_find(struct wrennd *wd, const char *id)
{
	struct stream *s;

	TAILQ_FOREACH(s, &wd->streams, entry)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
stream_free(struct stream *s)
{
	struct sevent *ev;

	if (!TAILQ_EMPTY(&s->followers))
		fatalx("stream %s freed with followers", s->id);
	TAILQ_REMOVE(&s->wd->streams, s, entry);
	s->wd->nstreams--;
	ws_free(s->ws);
	while ((ev = TAILQ_FIRST(&s->events)) != NULL) {
		TAILQ_REMOVE(&s->events, ev, entry);
		json_decref(ev->fields);
		free(ev);
	}
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	json_decref(s->cmd);
	json_decref(s->args);
	json_decref(s->final);
	json_decref(s->final_err);
	free(s->sandbox_id);
	free(s);
}

/* Free an ended stream nobody can still want. */
static void
stream_maybe_free(struct stream *s)
{
	if (s->state == STREAM_ENDED && !s->detached &&
	    TAILQ_EMPTY(&s->followers))
		stream_free(s);
}

/* Remove f and answer its call with the stream's final outcome. */
static void
follower_finish(struct sfollower *f, const json_t *err)
{
	struct stream *s = f->s;
	struct call *call = f->call;

	TAILQ_REMOVE(&s->followers, f, entry);
	s->nfollowers--;
	free(f);
	call_set_cancel(call, NULL, NULL);
	call_set_drain(call, NULL, NULL);
	if (err == NULL)
		err = s->final_err;
	if (err != NULL)
		call_fail_obj(call, err);
	else
		call_reply(call, json_incref(s->final));
}

/* Output bytes before seq, when still known. */
static int
stream_cum_at(const struct stream *s, uint64_t seq, uint64_t *ret)
{
	const struct sevent *ev;
	unsigned i;

	if (seq == 0) {
		*ret = 0;
		return 1;
	}
	if ((ev = TAILQ_FIRST(&s->events)) != NULL && seq >= ev->seq) {
		TAILQ_FOREACH(ev, &s->events, entry)
			if (ev->seq == seq) {
				*ret = ev->cum;
				return 1;
			}
	}
	if (seq >= s->next_seq) {
		*ret = s->out_bytes;
		return 1;
	}
	for (i = 0; i < s->ndrops && i < STREAM_DROP_RING; i++)
		if (s->drops[i].seq == seq) {
			*ret = s->drops[i].cum;
			return 1;
		}
	return 0;
}

/* Tell f what it missed and move it to the oldest buffered event. */
static int
follower_lost(struct sfollower *f)
{
	struct stream *s = f->s;
	uint64_t first_cum, from_cum;
	json_t *fields;
	int exact;

	first_cum = TAILQ_EMPTY(&s->events) ? s->out_bytes
					    : TAILQ_FIRST(&s->events)->cum;
	exact = f->cum_known;
	from_cum = f->cum;
	if (!exact)
		exact = stream_cum_at(s, f->cursor, &from_cum);
	if (!exact)
		from_cum =
		    first_cum > s->lost_bytes ? first_cum - s->lost_bytes : 0;
	fields = json_pack("{s:I, s:I, s:I, s:I, s:b}", "from_seq",
	    (json_int_t)f->cursor, "to_seq", (json_int_t)(s->first_seq - 1),
	    "events", (json_int_t)(s->first_seq - f->cursor), "bytes",
	    (json_int_t)(first_cum - from_cum), "exact", exact);
	f->cursor = s->first_seq;
	f->cum = first_cum;
	f->cum_known = 1;
	return call_event_seq(f->call, s->first_seq, "lost", fields);
}

static void follower_drain_cb(struct call *call, void *arg);

/*
 * Feed f while its client has room. Returns 1 if f was finished (and
 * freed).
 */
static int
follower_pump(struct sfollower *f)
{
	struct stream *s = f->s;
	struct sevent *ev;
	int r;

	call_set_drain(f->call, NULL, NULL);
	ev = NULL;
	while (f->cursor < s->next_seq) {
		if (f->call->client == NULL)
			return 0;
		if (client_congested(f->call->client)) {
			call_set_drain(f->call, follower_drain_cb, f);
			return 0;
		}
		if (f->cursor < s->first_seq) {
			if (follower_lost(f) < 0)
				return 0;
			ev = NULL;
			continue;
		}
		if (ev == NULL || ev->seq != f->cursor) {
			TAILQ_FOREACH(ev, &s->events, entry)
				if (ev->seq == f->cursor)
					break;
			if (ev == NULL)
				return 0; /* cannot happen: contiguous */
		}
		r = call_event_seq(
		    f->call, ev->seq, ev->name, json_incref(ev->fields));
		if (r < 0)
			return 0;
		f->cursor = ev->seq + 1;
		f->cum = ev->cum + ev->datalen;
		f->cum_known = 1;
		ev = TAILQ_NEXT(ev, entry);
	}
	if (s->state == STREAM_ENDED) {
		follower_finish(f, NULL);
		return 1;
	}
	return 0;
}

/* Drop events over the limit, or pause when the owner still needs them. */
static void
stream_trim(struct stream *s)
{
	struct sfollower *owner = NULL, *f;
	struct sevent *ev;
	unsigned slot;

	TAILQ_FOREACH(f, &s->followers, entry)
		if (f->owner)
			owner = f;
	while (
	    s->buffered > s->limit && (ev = TAILQ_FIRST(&s->events)) != NULL) {
		if (owner != NULL && owner->cursor <= ev->seq)
			break;
		TAILQ_REMOVE(&s->events, ev, entry);
		slot = s->ndrops++ % STREAM_DROP_RING;
		s->drops[slot].seq = ev->seq;
		s->drops[slot].cum = ev->cum;
		s->buffered -= ev->size;
		s->lost_bytes += ev->datalen;
		s->lost_events++;
		s->first_seq = ev->seq + 1;
		json_decref(ev->fields);
		free(ev);
	}
}

static void
stream_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	if (!s->paused || s->state == STREAM_ENDED)
		return;
	log_info("stream %s: client did not read for %ld ms, cancelling", s->id,
	    s->wd->cfg->stall_timeout_ms);
	if (s->ws != NULL)
		(void)ws_send_text(s->ws, "{\"type\":\"stop\"}", 15);
	stream_end(s, NULL,
	    call_error_obj(IPC_ERR_APPLICATION, "slow_consumer", NULL,
		"the client did not read its stream for %ld ms; stream "
		"cancelled",
		s->wd->cfg->stall_timeout_ms));
}

/* Pause or resume the WebSocket to match the buffer. */
static void
stream_flow(struct stream *s)
{
	long ms = s->wd->cfg->stall_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int want = s->buffered > s->limit && s->state != STREAM_ENDED;

	if (want == s->paused)
		return;
	s->paused = want;
	if (s->ws != NULL)
		ws_pause_read(s->ws, want);
	log_debug("stream %s: %s (%zu bytes buffered)", s->id,
	    want ? "paused" : "resumed", s->buffered);
	if (want)
		event_add(s->ev_timer, &tv);
	else
		event_del(s->ev_timer);
}

/* Feed every follower, then trim and fix the flow. */
static void
stream_pump(struct stream *s)
{
	struct sfollower *f, *next;

	for (f = TAILQ_FIRST(&s->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		(void)follower_pump(f);
	}
	stream_trim(s);
	stream_flow(s);
}

static void
follower_drain_cb(struct call *call, void *arg)
{
	struct sfollower *f = arg;
	struct stream *s = f->s;

	if (follower_pump(f) == 0 || s->state != STREAM_ENDED) {
		stream_trim(s);
		stream_flow(s);
	}
	stream_maybe_free(s);
}

/* Append one event and feed the followers. */
static void
stream_push(
    struct stream *s, const char *name, json_t *fields_steal, size_t datalen)
{
	struct sevent *ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		json_decref(fields_steal);
		return;
	}
	ev->seq = s->next_seq++;
	ev->cum = s->out_bytes;
	ev->datalen = datalen;
	ev->size = datalen + STREAM_EVENT_OVERHEAD;
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	ev->fields = fields_steal;
	if (TAILQ_EMPTY(&s->events))
		s->first_seq = ev->seq;
	TAILQ_INSERT_TAIL(&s->events, ev, entry);
	s->buffered += ev->size;
	s->out_bytes += datalen;
	stream_pump(s);
}

static void
stream_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	/* Followers still reading keep it; the last one frees it. */
	if (!TAILQ_EMPTY(&s->followers)) {
		s->detached = 0;
		return;
	}
	log_debug("stream %s: retention over, discarding", s->id);
	stream_free(s);
}

/* Answer the detached exec_stream call that waits for "start". */
static void
stream_answer_starter(struct stream *s, const json_t *err)
{
	struct call *call = s->starter;

	if (call == NULL)
		return;
	s->starter = NULL;
	call_set_cancel(call, NULL, NULL);
	if (err != NULL)
		call_fail_obj(call, err);
	else
		call_reply(call,
		    json_pack("{s:s, s:s, s:I, s:b}", "stream_id", s->id,
			"sandbox_id", s->sandbox_id, "pid", (json_int_t)s->pid,
			"detached", 1));
}

/* The stream has its final outcome: tell everybody who caught up. */
static void
stream_end(struct stream *s, json_t *final_steal, json_t *err_steal)
{
	long ms = s->wd->cfg->stream_retention_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int detached = s->detached;

	if (s->state == STREAM_ENDED) {
		json_decref(final_steal);
		json_decref(err_steal);
		return;
	}
	stream_set_state(s, STREAM_ENDED);
	s->ended = time(NULL);
	s->final = final_steal;
	s->final_err = err_steal;
	ws_free(s->ws);
	s->ws = NULL;
	s->paused = 0;
	event_del(s->ev_timer);
	if (s->final_err != NULL)
		log_debug("stream %s: ended: %s", s->id,
		    json_string_value(
			json_object_get(s->final_err, "message")));
	/* A detached stream that never started has nothing to replay. */
	if (s->pid < 0)
		detached = s->detached = 0;
	stream_answer_starter(s, s->final_err);
	stream_pump(s);
	if (detached) {
		event_free(s->ev_timer);
		s->ev_timer = evtimer_new(s->wd->base, stream_expire_cb, s);
		if (s->ev_timer != NULL)
			event_add(s->ev_timer, &tv);
		return;
	}
	stream_maybe_free(s);
}

static void
stream_open_cb(struct ws *ws, void *arg)
{
	struct stream *s = arg;
	json_t *start;
	char *text;

	stream_set_state(s, STREAM_RUNNING);
	start = json_pack("{s:s, s:O}", "type", "start", "cmd", s->cmd);
	if (start != NULL && s->args != NULL)
		json_object_set(start, "args", s->args);
	text = start != NULL ? json_dumps(start, JSON_COMPACT) : NULL;
	json_decref(start);
	if (text == NULL || ws_send_text(ws, text, strlen(text)) != 0) {
		free(text);
		stream_end(s, NULL,
		    call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
			"cannot send the start message"));
		return;
	}
	free(text);
}

static void
stream_message_cb(struct ws *ws, enum ws_msg_type type,
    const unsigned char *data, size_t len, void *arg)
{
	struct stream *s = arg;
	json_t *msg, *fields, *v;
	const char *t, *key;
	size_t datalen = 0;

	msg = json_loadb((const char *)data, len, JSON_ALLOW_NUL, NULL);
	t = json_string_value(json_object_get(msg, "type"));
	if (t == NULL) {
		json_decref(msg);
		log_debug("stream %s: ignoring a message without type", s->id);
		return;
	}
	fields = json_object();
	json_object_foreach(msg, key, v)
		if (strcmp(key, "type") != 0)
			json_object_set(fields, key, v);
	if (strcmp(t, "stdout") == 0 || strcmp(t, "stderr") == 0) {
		datalen = json_string_length(json_object_get(msg, "data"));
		stream_push(s, t, fields, datalen);
	} else if (strcmp(t, "start") == 0) {
		v = json_object_get(msg, "pid");
		s->pid = json_is_integer(v) ? json_integer_value(v) : 0;
		stream_push(s, "start", fields, 0);
		stream_answer_starter(s, NULL);
	} else if (strcmp(t, "exit") == 0) {
		v = json_object_get(msg, "exit_code");
		stream_push(s, "exit", fields, 0);
		stream_end(s,
		    json_pack("{s:I}", "exit_code",
			json_is_integer(v) ? json_integer_value(v) : -1),
		    NULL);
	} else if (strcmp(t, "error") == 0) {
		const char *text =
		    json_string_value(json_object_get(msg, "data"));

		stream_push(s, "error", fields, 0);
		stream_end(s, NULL,
		    call_error_obj(IPC_ERR_APPLICATION, "stream_error", NULL,
			"%s", text != NULL ? text : "exec stream failed"));
	} else {
		json_decref(fields);
		log_debug("stream %s: ignoring message type '%.32s'", s->id, t);
	}
	json_decref(msg);
}

static void
stream_close_cb(struct ws *ws, const struct ws_close_info *info, void *arg)
{
	struct stream *s = arg;
	json_t *err;

	ws_free(s->ws);
	s->ws = NULL;
	if (s->state == STREAM_ENDED)
		return;
	switch (info->reason) {
	case WS_REASON_HANDSHAKE:
		if (info->status >= 400)
			err = call_http_error(
			    info->status, info->body, info->body_len);
		else
			err = call_error_obj(IPC_ERR_APPLICATION,
			    "upstream_protocol", NULL,
			    "WebSocket handshake with the control plane "
			    "failed: %s",
			    info->errmsg);
		break;
	case WS_REASON_TIMEOUT:
		err = call_error_obj(IPC_ERR_APPLICATION, "timeout", NULL,
		    "control plane did not answer the stream request: %s",
		    info->errmsg);
		break;
	case WS_REASON_TRANSPORT:
		err = call_error_obj(IPC_ERR_APPLICATION,
		    "upstream_unreachable",
		    json_pack("{s:s}", "reason", ws_reason_name(info->reason)),
		    "control plane unreachable: %s", info->errmsg);
		break;
	case WS_REASON_EOF:
	case WS_REASON_CLOSED:
		err = call_error_obj(IPC_ERR_APPLICATION,
		    "upstream_unreachable",
		    json_pack("{s:s}", "reason", ws_reason_name(info->reason)),
		    "the control plane closed the exec stream before the "
		    "command exited (%s)",
		    info->errmsg);
		break;
	default:
		err = call_error_obj(IPC_ERR_APPLICATION, "upstream_protocol",
		    json_pack("{s:s}", "reason", ws_reason_name(info->reason)),
		    "exec stream failed: %s", info->errmsg);
		break;
	}
	stream_end(s, NULL, err);
}

/* Open the upstream WebSocket for s. */
static int
stream_connect(
    struct stream *s, enum upstream_auth auth, char *err, size_t errlen)
{
	struct wrennd *wd = s->wd;
	struct ws_opts o;
	const char *headers[2] = {NULL, NULL};
	char *path, hdr[9000], *url = NULL;
	int n, r;

	if ((path = rest_sandbox_path(s->sandbox_id, "/exec/stream")) == NULL)
		return -ENOMEM;
	r = ws_url_from_base(upstream_base_url(wd->up), path, &url);
	free(path);
	if (r != 0) {
		snprintf(err, errlen, "cannot build the stream URL");
		return r;
	}
	n = creds_header(wd->creds,
	    auth == UPSTREAM_AUTH_APIKEY ? CREDS_APIKEY : CREDS_JWT, hdr,
	    sizeof(hdr));
	if (n < 0) {
		free(url);
		snprintf(err, errlen, "no credential");
		return n;
	}
	headers[0] = hdr;
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.headers = headers;
	o.tls = wd->tls;
	o.dns = wd->dns;
	o.handshake_timeout_ms = STREAM_HANDSHAKE_MS;
	o.max_msg = STREAM_MAX_MSG;
	o.on_open = stream_open_cb;
	o.on_message = stream_message_cb;
	o.on_close = stream_close_cb;
	o.arg = s;
	r = ws_connect(wd->base, &o, &s->ws);
	creds_wipe(hdr, sizeof(hdr));
	free(url);
	if (r != 0)
		snprintf(err, errlen, "cannot open the stream connection");
	return r;
}

static struct sfollower *
follower_add(struct stream *s, struct call *call, uint64_t from, int owner)
{
	struct sfollower *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->s = s;
	f->call = call;
	f->cursor = from;
	f->owner = owner;
	f->cum_known = stream_cum_at(s, from, &f->cum);
	TAILQ_INSERT_TAIL(&s->followers, f, entry);
	s->nfollowers++;
	return f;
}

/* Stop the upstream side: "stop" detaches the process (CONTRACT 7.5). */
static void
stream_stop_upstream(struct stream *s, json_t *err_steal)
{
	if (s->ws != NULL && s->state == STREAM_RUNNING)
		(void)ws_send_text(s->ws, "{\"type\":\"stop\"}", 15);
	stream_end(s, NULL, err_steal);
}

/* The owner's call went away ($/cancel or client gone): stop upstream. */
static void
owner_cancel_cb(struct call *call, void *arg)
{
	struct sfollower *f = arg;
	struct stream *s = f->s;

	TAILQ_REMOVE(&s->followers, f, entry);
	s->nfollowers--;
	call_set_drain(call, NULL, NULL);
	free(f);
	if (s->state != STREAM_ENDED)
		stream_stop_upstream(s,
		    call_error_obj(IPC_ERR_APPLICATION, "stopped", NULL,
			"the stream was stopped by the client that started "
			"it"));
	else
		stream_maybe_free(s);
}

/* An attacher left: the stream goes on. */
static void
attach_cancel_cb(struct call *call, void *arg)
{
	struct sfollower *f = arg;
	struct stream *s = f->s;

	TAILQ_REMOVE(&s->followers, f, entry);
	s->nfollowers--;
	call_set_drain(call, NULL, NULL);
	free(f);
	stream_trim(s);
	stream_flow(s);
	stream_maybe_free(s);
}

/* The detached exec_stream call went away before "start". */
static void
starter_cancel_cb(struct call *call, void *arg)
{
	struct stream *s = arg;

	s->starter = NULL;
}

int
stream_exec(struct call *call)
{
	struct wrennd *wd = call->wd;
	struct stream *s;
	struct sfollower *f;
	enum upstream_auth auth;
	unsigned char rnd[8];
	char err[128];
	int detach, i;

	if (rest_pick_auth(call, MCRED_ANY, &auth) != 0)
		return 0;
	if (wd->nstreams >= (unsigned)wd->cfg->max_streams) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_streams", NULL,
		    "%u exec streams are alive (max-streams); stop or "
		    "collect some first",
		    wd->nstreams);
		return 0;
	}
	detach = json_is_true(json_object_get(call->params, "detach"));
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto oom;
	s->wd = wd;
	TAILQ_INIT(&s->events);
	TAILQ_INIT(&s->followers);
	TAILQ_INSERT_TAIL(&wd->streams, s, entry);
	wd->nstreams++;
	evutil_secure_rng_get_bytes(rnd, sizeof(rnd));
	memcpy(s->id, "st-", 3);
	for (i = 0; i < 8; i++)
		snprintf(s->id + 3 + 2 * i, 3, "%02x", rnd[i]);
	s->sandbox_id = strdup(
	    json_string_value(json_object_get(call->params, "sandbox_id")));
	s->cmd = json_incref(json_object_get(call->params, "cmd"));
	s->args = json_incref(json_object_get(call->params, "args"));
	s->detached = detach;
	s->limit =
	    (size_t)(detach ? wd->cfg->detach_buffer : wd->cfg->stream_buffer);
	s->pid = -1;
	s->started = time(NULL);
	s->ev_timer = evtimer_new(wd->base, stream_stall_cb, s);
	if (s->sandbox_id == NULL || s->ev_timer == NULL) {
		stream_free(s);
		goto oom;
	}
	if (stream_connect(s, auth, err, sizeof(err)) != 0) {
		stream_free(s);
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL, "%s", err);
		return 0;
	}
	log_debug("stream %s: exec on %s%s", s->id, s->sandbox_id,
	    detach ? " (detached)" : "");
	if (detach) {
		s->starter = call;
		call_set_cancel(call, starter_cancel_cb, s);
		return 0;
	}
	if ((f = follower_add(s, call, 0, 1)) == NULL) {
		stream_stop_upstream(s, NULL);
		goto oom;
	}
	call_set_cancel(call, owner_cancel_cb, f);
	return 0;
oom:
	call_fail(call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
	return 0;
}

/* The stream named by the call's stream_id, or NULL after failing it. */
static struct stream *
stream_lookup(struct call *call)
{
	struct stream *s;
	const char *id;

	id = json_string_value(json_object_get(call->params, "stream_id"));
	if ((s = stream_find(call->wd, id)) == NULL)
		call_fail(call, IPC_ERR_APPLICATION, "not_found", NULL,
		    "no stream '%.64s' (it never existed, or ended and was "
		    "discarded)",
		    id);
	return s;
}

int
stream_attach(struct call *call)
{
	struct stream *s;
	struct sfollower *f;
	json_t *v;
	uint64_t from = 0;

	if ((s = stream_lookup(call)) == NULL)
		return 0;
	if ((v = json_object_get(call->params, "from_seq")) != NULL)
		from = (uint64_t)json_integer_value(v);
	if (from > s->next_seq)
		from = s->next_seq;
	if ((f = follower_add(s, call, from, 0)) == NULL) {
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return 0;
	}
	call_set_cancel(call, attach_cancel_cb, f);
	if (follower_pump(f) == 0) {
		stream_trim(s);
		stream_flow(s);
	} else
		stream_maybe_free(s);
	return 0;
}

/* One stream as streams.list shows it. */
static json_t *
stream_describe(const struct stream *s)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:O, s:s, s:b, s:I, s:I, s:I, s:I, s:I,"
		      " s:I, s:I, s:i}",
	    "stream_id", s->id, "sandbox_id", s->sandbox_id, "cmd", s->cmd,
	    "state",
	    s->state != STREAM_ENDED ? stream_state_names[s->state]
		: s->final != NULL   ? "exited"
				     : "failed",
	    "detached", s->detached, "started_at", (json_int_t)s->started,
	    "next_seq", (json_int_t)s->next_seq, "first_seq",
	    (json_int_t)s->first_seq, "buffered_bytes", (json_int_t)s->buffered,
	    "output_bytes", (json_int_t)s->out_bytes, "lost_bytes",
	    (json_int_t)s->lost_bytes, "lost_events",
	    (json_int_t)s->lost_events, "followers", (int)s->nfollowers);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "paused", json_boolean(s->paused));
	if (s->args != NULL)
		json_object_set(o, "args", s->args);
	if (s->pid >= 0)
		json_object_set_new(o, "pid", json_integer(s->pid));
	if (s->final != NULL)
		json_object_set(
		    o, "exit_code", json_object_get(s->final, "exit_code"));
	if (s->final_err != NULL)
		json_object_set(o, "error", s->final_err);
	if (s->ended != 0)
		json_object_set_new(o, "ended_at", json_integer(s->ended));
	return o;
}

int
stream_list(struct call *call)
{
	struct stream *s;
	json_t *list;

	if ((list = json_array()) == NULL)
		goto oom;
	TAILQ_FOREACH(s, &call->wd->streams, entry)
		json_array_append_new(list, stream_describe(s));
	call_reply(call, list);
	return 0;
oom:
	call_fail(call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
	return 0;
}

int
stream_stop(struct call *call)
{
	struct stream *s;

	if ((s = stream_lookup(call)) == NULL)
		return 0;
	if (s->state != STREAM_ENDED)
		stream_stop_upstream(s,
		    call_error_obj(IPC_ERR_APPLICATION, "stopped", NULL,
			"the stream was stopped (streams.stop)"));
	else if (s->detached && TAILQ_EMPTY(&s->followers))
		stream_free(s); /* collected: nothing left to attach to */
	call_reply(call, json_object());
	return 0;
}

void
stream_shutdown(struct wrennd *wd)
{
	struct stream *s;
	struct sfollower *f;

	while ((s = TAILQ_FIRST(&wd->streams)) != NULL) {
		s->detached = 1; /* keep it through stream_end */
		s->pid = s->pid < 0 ? 0 : s->pid;
		if (s->state != STREAM_ENDED)
			stream_stop_upstream(s,
			    call_error_obj(IPC_ERR_APPLICATION, "shutting_down",
				NULL, "wrennd is shutting down"));
		/* stream_end answered whoever had caught up; the rest go now */
		while ((f = TAILQ_FIRST(&s->followers)) != NULL)
			follower_finish(f, s->final_err);
		stream_free(s);
	}
}
