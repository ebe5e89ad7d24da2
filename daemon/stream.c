/* SPDX-License-Identifier: MIT */
/*
 * Exec streams (see stream.h). One struct stream per upstream WebSocket:
 *
 *   CONNECTING --open--> RUNNING --exit/error/cut/stop--> ENDED --> freed
 *
 * This is the adapter between an exec WebSocket and a seqbuf (the pure
 * event buffer): upstream messages become sequenced events in the
 * stream's byte-bounded seqbuf. Followers (the exec_stream call,
 * streams.attach calls) each own a seqbuf cursor and are fed while their
 * client has output room; a congested client is resumed from its drain
 * hook. A stream belongs to the uid that started it: only that uid (or an
 * admin) lists, attaches or stops it. When the buffer is full:
 *  - an attached (non-detached) stream whose owner has not read the oldest
 *    event pauses the WebSocket, so TCP backpressure reaches the control
 *    plane and memory stays bounded; if the owner stays stuck for
 *    stall-timeout the stream is cancelled with "slow_consumer";
 *  - otherwise the oldest event is dropped and followers behind it get a
 *    "lost" event with the number of events and bytes they missed.
 */
#include "config.h"

#include "stream.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "api.h"
#include "b64.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "dialect.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "seqbuf.h"
#include "upstream.h"
#include "wrennd.h"
#include "ws.h"

#define STREAM_MAX_MSG	    (1024 * 1024) /* one upstream message */
#define STREAM_HANDSHAKE_MS 30000
/* PTY input (streams.input, streams.resize): each message costs its
 * bytes plus STREAM_INPUT_MSG_COST from an allowance refilled at
 * STREAM_INPUT_RATE bytes a second up to STREAM_INPUT_BURST; and no more
 * than STREAM_INPUT_QUEUED bytes may wait unsent to the control plane. */
#define STREAM_INPUT_RATE     (256 * 1024)
#define STREAM_INPUT_BURST    (1024 * 1024)
#define STREAM_INPUT_MSG_COST 64
#define STREAM_INPUT_QUEUED   (1024 * 1024)
/*
 * Durable exec streams (sandbox.exec_stream durable): the command runs
 * in the background under STREAM_DURABLE_WRAPPER, which writes its exit
 * status to a file of the stream's own; a cut process stream is
 * re-attached after STREAM_DURABLE_BACKOFF_MS, doubling up to
 * STREAM_DURABLE_BACKOFF_MAX_MS, and given up after STREAM_DURABLE_TRIES
 * attempts in a row without progress (output, or a connection that
 * lasted STREAM_DURABLE_STEADY_S).
 */
#define STREAM_DURABLE_TRIES	      5
#define STREAM_DURABLE_BACKOFF_MS     100
#define STREAM_DURABLE_BACKOFF_MAX_MS 5000
#define STREAM_DURABLE_STEADY_S	      60
#define STREAM_DURABLE_STATUS_MAX     64 /* bytes of the status file */
/*
 * sh -c WRAPPER sh FILE CMD ARGS...: runs CMD ARGS (argv, never parsed by
 * the shell), passes a SIGTERM on to it, writes its status ($?: 128+N
 * after signal N) to FILE and exits with it.
 */
#define STREAM_DURABLE_WRAPPER                                                 \
	"f=$1; shift; trap 'kill -TERM \"$c\" 2>/dev/null' TERM; "             \
	"\"$@\" & c=$!; wait \"$c\"; s=$?; "                                   \
	"while [ \"$s\" -gt 128 ] && kill -0 \"$c\" 2>/dev/null; do "          \
	"wait \"$c\"; s=$?; done; echo \"$s\" >\"$f\"; exit \"$s\""

/* What a stream follows: its upstream route and message set. */
enum stream_kind {
	STREAM_EXEC,	/* .../exec/stream: start, stdout, stderr, exit */
	STREAM_PROCESS, /* .../processes/{selector}/stream: the same set */
	STREAM_PTY,	/* .../pty: started, output, exit, ping */
};

enum stream_state {
	STREAM_CONNECTING, /* WebSocket handshake in progress */
	STREAM_RUNNING,	   /* start sent, events flowing */
	STREAM_ENDED,	   /* final result or error known */
	STREAM__MAX
};

static const char *const stream_kind_names[] = {
    [STREAM_EXEC] = "exec", [STREAM_PROCESS] = "process", [STREAM_PTY] = "pty"};

static const char *const stream_state_names[STREAM__MAX] = {
    "connecting", "running", "ended"};

#define STREAM_TO(s) (1u << (s))
/* Legal transitions: stream_transitions[from] has bit `to` set. */
static const unsigned stream_transitions[STREAM__MAX] = {
    [STREAM_CONNECTING] = STREAM_TO(STREAM_RUNNING) | STREAM_TO(STREAM_ENDED),
    [STREAM_RUNNING] = STREAM_TO(STREAM_ENDED),
    [STREAM_ENDED] = 0,
};

struct stream_follower {
	TAILQ_ENTRY(stream_follower) entry;
	struct stream *s;	   /* borrowed owner */
	struct call *call;	   /* borrowed; answered by stream code */
	struct seqbuf_cursor *cur; /* owned (freed through s->buf) */
	int owner; /* the exec_stream call of an attached stream */
};

TAILQ_HEAD(stream_follower_list, stream_follower);

struct stream {
	TAILQ_ENTRY(stream) entry; /* in wd->streams->list */
	struct wrennd *wd;	   /* borrowed */
	char id[24];		   /* "st-" + 16 hex */
	uid_t uid;		   /* of the peer that started it */
	char *sandbox_id;	   /* owned */
	enum stream_kind kind;
	char *selector;		/* owned: the process followed (attach_process),
				 * NULL for an exec stream */
	char *tag;		/* owned: a PTY's tag, NULL before "started" */
	json_t *first;		/* owned: the message sent on open, or NULL */
	double tokens;		/* input bytes the client may still send now */
	struct timespec refill; /* when tokens was last refilled */
	json_t *cmd;		/* owned string */
	json_t *args;		/* owned array or NULL */
	enum stream_state state;
	struct ws *ws;	      /* owned while connected */
	int detached;	      /* lives without followers */
	int paused;	      /* WebSocket reading paused */
	struct call *starter; /* detached exec_stream call awaiting
			       * "start", borrowed */
	struct seqbuf *buf;   /* owned: the events */
	size_t limit;	      /* buf's bound, reserved in max-stream-memory */
	struct stream_follower_list followers; /* owned */
	unsigned nfollowers;
	int64_t pid;	   /* from "start", -1 before */
	json_t *final;	   /* owned result {"exit_code": n} */
	json_t *final_err; /* owned error object */
	time_t started, ended;
	struct event *ev_timer; /* owned: stall or retention deadline */

	/* An admin row's stream: the platform team's route (the auth
	 * message only), seen only by admins. */
	int admin;
	enum upstream_auth auth; /* the credential it was opened with */
	char *check_path; /* owned: a PTY connect's process list, until the
			   * PTY is known to be there */
	struct upstream_req *check; /* owned while in flight: the re-check
				     * of that list after the connect */

	/* A durable exec stream: a background process followed by its
	 * process stream and re-attached by pid after a cut. */
	int durable;
	int attached;	     /* "start" seen on the current connection */
	unsigned reattaches; /* re-attach attempts so far */
	unsigned tries;	     /* of them since the last progress */
	time_t attach_at;    /* when the current connection was opened */
	char *url;	     /* owned: the process stream's WebSocket URL */
	char *status_file;   /* owned: the wrapper's status file */
	char *read_path;     /* owned: .../files/read of the sandbox */
	char *remove_path;   /* owned: .../files/remove */
	char *kill_path;     /* owned: .../processes/{pid}?signal=SIGTERM */
	char why[160];	     /* the last cut */
	struct upstream_req *req; /* owned while in flight: status read */
	struct event *ev_retry;	  /* owned: the next re-attach */
};

TAILQ_HEAD(stream_list, stream);

/* The module's state (wd->streams). */
struct stream_set {
	struct stream_list list; /* owned: live and retained streams */
	unsigned n;
};

static void stream_pump(struct stream *s);
static void stream_end(
    struct stream *s, json_t *final_steal, json_t *err_steal);

/* Move to state `to`; illegal moves are bugs. */
static void
stream_set_state(struct stream *s, enum stream_state to)
{
	assert(stream_transitions[s->state] & STREAM_TO(to));
	log_debug("stream %s: %s -> %s", s->id, stream_state_names[s->state],
	    stream_state_names[to]);
	s->state = to;
}

static struct stream *
stream_find(struct wrennd *wd, const char *id)
{
	struct stream *s;

	TAILQ_FOREACH(s, &wd->streams->list, entry)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
stream_free(struct stream *s)
{
	if (!TAILQ_EMPTY(&s->followers))
		fatalx("stream %s freed with followers", s->id);
	TAILQ_REMOVE(&s->wd->streams->list, s, entry);
	s->wd->streams->n--;
	ws_free(s->ws);
	seqbuf_free(s->buf);
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	json_decref(s->cmd);
	json_decref(s->args);
	json_decref(s->final);
	json_decref(s->final_err);
	free(s->sandbox_id);
	free(s->selector);
	free(s->tag);
	json_decref(s->first);
	upstream_req_cancel(s->check);
	free(s->check_path);
	upstream_req_cancel(s->req);
	if (s->ev_retry != NULL)
		event_free(s->ev_retry);
	free(s->url);
	free(s->status_file);
	free(s->read_path);
	free(s->remove_path);
	free(s->kill_path);
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

/* Unlink f from its stream and its call, and free it. */
static void
stream_follower_remove(struct stream_follower *f)
{
	struct stream *s = f->s;

	TAILQ_REMOVE(&s->followers, f, entry);
	s->nfollowers--;
	call_set_drain(f->call, NULL, NULL);
	seqbuf_cursor_free(s->buf, f->cur);
	free(f);
}

/* Remove f and answer its call with the stream's final outcome. */
static void
stream_follower_finish(struct stream_follower *f, const json_t *err)
{
	struct stream *s = f->s;
	struct call *call = f->call;

	stream_follower_remove(f);
	call_set_cancel(call, NULL, NULL);
	if (err == NULL)
		err = s->final_err;
	if (err != NULL)
		call_fail_obj(call, err);
	else
		call_reply(call, json_incref(s->final));
}

static void stream_follower_drain_cb(struct call *call, void *arg);

/*
 * Feed f while its client has room: each step looks up only f's own
 * position. Returns 1 if f was finished (and freed).
 */
static int
stream_follower_pump(struct stream_follower *f)
{
	struct stream *s = f->s;
	struct seqbuf_item it;
	int r;

	call_set_drain(f->call, NULL, NULL);
	for (;;) {
		if (call_client(f->call) == NULL)
			return 0;
		if (client_congested(call_client(f->call))) {
			call_set_drain(f->call, stream_follower_drain_cb, f);
			return 0;
		}
		if ((r = seqbuf_peek(s->buf, f->cur, &it)) <= 0)
			break;
		if (call_event_seq(f->call, it.seq, it.name, it.fields) < 0)
			return 0;
		seqbuf_advance(s->buf, f->cur);
	}
	if (r == 0 && s->state == STREAM_ENDED) {
		stream_follower_finish(f, NULL);
		return 1;
	}
	return 0;
}

/* Drop events over the limit that the owner has read. */
static void
stream_trim(struct stream *s)
{
	(void)seqbuf_trim(s->buf);
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
	int want = seqbuf_over(s->buf) && s->state != STREAM_ENDED;
	struct seqbuf_stats st;

	if (want == s->paused)
		return;
	s->paused = want;
	if (s->ws != NULL)
		ws_pause_read(s->ws, want);
	seqbuf_stats(s->buf, &st);
	log_debug("stream %s: %s (%zu bytes buffered)", s->id,
	    want ? "paused" : "resumed", st.buffered);
	if (want)
		event_add(s->ev_timer, &tv);
	else
		event_del(s->ev_timer);
}

/* Feed every follower, then trim and fix the flow. */
static void
stream_pump(struct stream *s)
{
	struct stream_follower *f, *next;

	for (f = TAILQ_FIRST(&s->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		(void)stream_follower_pump(f);
	}
	stream_trim(s);
	stream_flow(s);
}

static void
stream_follower_drain_cb(struct call *call, void *arg)
{
	struct stream_follower *f = arg;
	struct stream *s = f->s;

	if (stream_follower_pump(f) == 0 || s->state != STREAM_ENDED) {
		stream_trim(s);
		stream_flow(s);
	}
	stream_maybe_free(s);
}

/*
 * Append one event and feed the followers. Returns 0, or -ENOMEM after
 * ending the stream (which may have freed s).
 */
static int
stream_push(
    struct stream *s, const char *name, json_t *fields_steal, size_t datalen)
{
	int r;

	r = fields_steal != NULL
	    ? seqbuf_push(s->buf, name, fields_steal, datalen)
	    : -ENOMEM;
	json_decref(fields_steal);
	if (r != 0) {
		/* never lose an event silently: the stream ends here */
		stream_end(s, NULL,
		    call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
			"out of memory buffering a stream event"));
		return -ENOMEM;
	}
	stream_pump(s);
	return 0;
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

/* What a detached start answers: the stream to attach to later. */
static json_t *
stream_detached_result(const struct stream *s)
{
	json_t *r =
	    json_pack("{s:s, s:s, s:I, s:b}", "stream_id", s->id, "sandbox_id",
		s->sandbox_id, "pid", (json_int_t)s->pid, "detached", 1);

	if (r != NULL && s->tag != NULL)
		json_object_set_new(r, "tag", json_string(s->tag));
	return r;
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
		call_reply(call, stream_detached_result(s));
}

/* The stream has its final outcome: tell everybody who caught up. */
static void
stream_end(struct stream *s, json_t *final_steal, json_t *err_steal)
{
	long ms = s->wd->cfg->stream_retention_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int detached = s->detached;
	struct seqbuf_stats st;

	if (s->state == STREAM_ENDED) {
		json_decref(final_steal);
		json_decref(err_steal);
		return;
	}
	stream_set_state(s, STREAM_ENDED);
	s->ended = time(NULL);
	upstream_req_cancel(s->check);
	s->check = NULL;
	s->final = final_steal;
	s->final_err = err_steal;
	ws_free(s->ws);
	s->ws = NULL;
	s->paused = 0;
	event_del(s->ev_timer);
	if (s->ev_retry != NULL)
		event_del(s->ev_retry);
	upstream_req_cancel(s->req);
	s->req = NULL;
	if (s->final_err != NULL) {
		char q[256];

		log_debug("stream %s: ended: \"%s\"", s->id,
		    log_quote_str(q, sizeof(q),
			json_string_value(
			    json_object_get(s->final_err, "message"))));
	}
	/* A detached stream that never started has nothing to replay. */
	seqbuf_stats(s->buf, &st);
	if (st.next_seq == 0)
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

/* Send one JSON message upstream. Returns 0 or -1. */
static int
stream_send(struct stream *s, const json_t *msg)
{
	char *text;
	int r;

	if (s->ws == NULL || s->state != STREAM_RUNNING)
		return -1;
	if ((text = json_dumps(msg, JSON_COMPACT)) == NULL)
		return -1;
	r = ws_send_text(s->ws, text, strlen(text));
	free(text);
	return r != 0 ? -1 : 0;
}

/* The "started" event of a PTY: its stream, tag and pid. */
static int
stream_pty_started(struct stream *s)
{
	if (stream_push(s, "started",
		json_pack("{s:s, s:s, s:I}", "stream_id", s->id, "tag",
		    s->tag != NULL ? s->tag : "", "pid", (json_int_t)s->pid),
		0) != 0)
		return -1;
	stream_answer_starter(s, NULL);
	return 0;
}

json_t *
stream_pty_gone_error(const char *tag)
{
	return call_error_obj(IPC_ERR_APPLICATION, "not_found", NULL,
	    "no PTY '%.128s' in the sandbox (it exited, or the tag names "
	    "another process)",
	    tag);
}

/*
 * The PTY of a connect is known to be there: the server spoke on the
 * session, or the re-check found it. The server does not say "started"
 * after a connect; this stream does, with the tag and the listed pid.
 * Returns 0, or -1 after ending the stream (which may have freed s).
 */
static int
stream_pty_confirm(struct stream *s)
{
	upstream_req_cancel(s->check);
	s->check = NULL;
	free(s->check_path);
	s->check_path = NULL;
	return stream_pty_started(s);
}

/* The process list after the connect: the PTY is still there, or gone. */
static void
stream_pty_check_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct stream *s = arg;
	json_t *body;
	int live;

	s->check = NULL;
	if (!rest_ok(res)) {
		/* The session itself reports a gone sandbox; go on. */
		log_debug("stream %s: cannot re-check the PTY (%s, status "
			  "%ld); going on",
		    s->id, res->errmsg, res->status);
		(void)stream_pty_confirm(s);
		return;
	}
	body = json_loadb(res->body, res->body_len, 0, NULL);
	live = api_process_match(body, s->tag) != NULL;
	json_decref(body);
	if (live) {
		(void)stream_pty_confirm(s);
		return;
	}
	/* Gone between the first check and the connect: the server would
	 * say nothing at all, ever. */
	stream_end(s, NULL, stream_pty_gone_error(s->tag));
}

/*
 * A PTY connect was sent: list the processes again, since a PTY that
 * exited after api-pty.c's check gets no answer at all. Returns 0, or -1
 * after ending the stream.
 */
static int
stream_pty_recheck(struct stream *s)
{
	s->check = rest_req_new(s->wd, s->auth, "GET", s->check_path, NULL);
	if (s->check == NULL ||
	    upstream_req_start(s->check, stream_pty_check_done, s) != 0) {
		s->check = NULL; /* freed by upstream_req_start on failure */
		stream_end(s, NULL,
		    call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
			"cannot re-check the PTY's process"));
		return -1;
	}
	return 0;
}

static void
stream_open_cb(struct ws *ws, void *arg)
{
	struct stream *s = arg;
	int r;

	if (s->state == STREAM_CONNECTING) /* not on a durable re-attach */
		stream_set_state(s, STREAM_RUNNING);
	/* The admin routes read the auth message before anything else. */
	if (s->admin && (r = rest_ws_send_auth(s->wd, s->ws)) != 0) {
		stream_end(s, NULL,
		    r == -ENOENT
			? call_error_obj(IPC_ERR_APPLICATION, "unauthorized",
			      NULL, "wrennd has no JWT any more")
			: call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
			      "cannot send the auth message"));
		return;
	}
	if (s->first == NULL)
		return; /* a process stream: the server speaks first */
	if (stream_send(s, s->first) != 0) {
		stream_end(s, NULL,
		    call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
			"cannot send the start message"));
		return;
	}
	if (s->check_path != NULL)
		(void)stream_pty_recheck(s);
}

/*
 * The messages only a PTY has: "started" {tag, pid} (after start only),
 * "output" {data: base64 of raw bytes} and the server's keep-alive
 * "ping", answered with {"type":"pong"} (the server ignores unknown
 * types; the answer keeps middleboxes and the server's reads busy both
 * ways) and never shown to followers. Returns 1 if t was one of them;
 * "exit" and "error" are the exec stream's.
 */
static int
stream_pty_message(struct stream *s, const char *t, const json_t *msg)
{
	const json_t *v;
	size_t n;

	if (strcmp(t, "ping") == 0) {
		json_t *pong = json_pack("{s:s}", "type", "pong");

		if (pong == NULL || stream_send(s, pong) != 0)
			log_debug("stream %s: cannot answer a ping", s->id);
		json_decref(pong);
		return 1;
	}
	if (strcmp(t, "started") == 0) {
		v = json_object_get(msg, "tag");
		if (s->tag != NULL || !json_is_string(v) ||
		    (s->tag = strdup(json_string_value(v))) == NULL) {
			log_debug("stream %s: ignoring a second or bad started",
			    s->id);
			return 1;
		}
		v = json_object_get(msg, "pid");
		s->pid = json_is_integer(v) ? json_integer_value(v) : 0;
		(void)stream_pty_started(s);
		return 1;
	}
	if (strcmp(t, "output") == 0) {
		v = json_object_get(msg, "data");
		if (!json_is_string(v)) {
			log_debug(
			    "stream %s: ignoring output without data", s->id);
			return 1;
		}
		n = b64_decoded_max(json_string_length(v));
		(void)stream_push(
		    s, "output", json_pack("{s:O}", "data", v), n);
		return 1;
	}
	return 0;
}

/* ---- durable streams ------------------------------------------------- */

static int stream_ws_open(struct stream *s, const char *url);

/*
 * The exit code a durable stream reports for the wrapper's status: a
 * status of 128+N (the shell's death by signal N) is -1, as a plain exec
 * stream says for a killed process.
 */
static int64_t
stream_durable_code(int64_t status)
{
	return status > 128 && status <= 128 + 64 ? -1 : status;
}

static void
stream_fire_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	if (!rest_ok(res))
		log_debug("durable stream clean-up: status %ld: %s",
		    res->status, res->errmsg != NULL ? res->errmsg : "");
}

/* Send a request for s whose answer nobody waits for. */
static void
stream_fire(
    struct stream *s, const char *verb, const char *path, const json_t *body)
{
	struct upstream_req *req;

	if (path == NULL ||
	    (req = rest_req_new(s->wd, s->auth, verb, path, body)) == NULL ||
	    upstream_req_start(req, stream_fire_done, NULL) != 0)
		log_warnx("stream %s: cannot send %s %s", s->id, verb,
		    path != NULL ? path : "");
}

/* Remove the wrapper's status file. */
static void
stream_durable_forget(struct stream *s)
{
	json_t *body = json_pack("{s:s}", "path", s->status_file);

	if (body != NULL)
		stream_fire(s, "POST", s->remove_path, body);
	json_decref(body);
}

/* Stop: SIGTERM to the wrapper, which passes it on to the command. */
static void
stream_durable_kill(struct stream *s)
{
	if (s->durable && s->kill_path != NULL)
		stream_fire(s, "DELETE", s->kill_path, NULL);
}

/* The process ended with the wrapper's status: "exit" and the reply. */
static void
stream_durable_exit(struct stream *s, int64_t status)
{
	int64_t code = stream_durable_code(status);

	stream_durable_forget(s);
	if (stream_push(s, "exit",
		json_pack("{s:I}", "exit_code", (json_int_t)code), 0) == 0)
		stream_end(
		    s, json_pack("{s:I}", "exit_code", (json_int_t)code), NULL);
}

/* Give up: an "error" event and the final error "stream_lost". */
static void
stream_durable_fail(struct stream *s)
{
	char msg[512];
	json_t *err;

	snprintf(msg, sizeof(msg),
	    "gave up on process %lld after %u re-attaches without progress "
	    "(last cut: %s); it may still be running (sandbox.attach_process, "
	    "sandbox.kill), or it ended and its exit status could not be "
	    "read from %s",
	    (long long)s->pid, s->reattaches, s->why, s->status_file);
	err = call_error_obj(IPC_ERR_APPLICATION, "stream_lost",
	    json_pack("{s:I, s:I, s:s}", "pid", (json_int_t)s->pid,
		"reattaches", (json_int_t)s->reattaches, "reason", s->why),
	    "%s", msg);
	if (stream_push(s, "error",
		json_pack("{s:s, s:s}", "code", "stream_lost", "message", msg),
		0) == 0)
		stream_end(s, NULL, err);
	else
		json_decref(err);
}

/* Re-attach later, with backoff, or give up after the bound. */
static void
stream_durable_retry(struct stream *s)
{
	long ms = STREAM_DURABLE_BACKOFF_MS;
	struct timeval tv;
	unsigned i;

	if (s->tries >= STREAM_DURABLE_TRIES) {
		stream_durable_fail(s);
		return;
	}
	for (i = 0; i < s->tries && ms < STREAM_DURABLE_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > STREAM_DURABLE_BACKOFF_MAX_MS)
		ms = STREAM_DURABLE_BACKOFF_MAX_MS;
	s->tries++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(s->ev_retry, &tv);
}

static void
stream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	if (s->state == STREAM_ENDED)
		return;
	s->reattaches++;
	s->attach_at = time(NULL);
	log_info("stream %s: re-attaching to process %lld (attempt %u)", s->id,
	    (long long)s->pid, s->tries);
	if (stream_ws_open(s, s->url) != 0) {
		snprintf(s->why, sizeof(s->why), "cannot open a connection");
		stream_durable_retry(s);
		return;
	}
	if (s->paused)
		ws_pause_read(s->ws, 1);
}

/* The status file's answer: the exit, or another try. */
static void
stream_status_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct stream *s = arg;
	char text[STREAM_DURABLE_STATUS_MAX + 1], *end;
	long long v = -1;

	s->req = NULL;
	if (rest_ok(res) && res->body_len > 0 &&
	    res->body_len <= STREAM_DURABLE_STATUS_MAX) {
		memcpy(text, res->body, res->body_len);
		text[res->body_len] = '\0';
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno != 0 || end == text || (*end != '\n' && *end) ||
		    (*end == '\n' && end[1] != '\0') || v < 0 || v > 255)
			v = -1;
	}
	if (v >= 0) {
		log_debug(
		    "stream %s: process %lld ended while cut, status %lld",
		    s->id, (long long)s->pid, v);
		stream_durable_exit(s, v);
		return;
	}
	log_debug(
	    "stream %s: no exit status yet (status %ld)", s->id, res->status);
	stream_durable_retry(s);
}

/*
 * A connection ended before "start": the process may have ended (the
 * server forgets it), so read its status file.
 */
static void
stream_durable_status(struct stream *s)
{
	json_t *body = json_pack("{s:s}", "path", s->status_file);

	if (body != NULL)
		s->req =
		    rest_req_new(s->wd, s->auth, "POST", s->read_path, body);
	json_decref(body);
	if (s->req == NULL) {
		stream_durable_retry(s);
		return;
	}
	upstream_req_set_max_response(s->req, STREAM_DURABLE_STATUS_MAX);
	if (upstream_req_start(s->req, stream_status_done, s) != 0) {
		s->req = NULL;
		stream_durable_retry(s);
	}
}

/*
 * The process stream of a durable stream was cut (why): after a
 * connection that followed the process, tell the followers about the
 * gap with a "lost" event and re-attach; before one, look for the
 * process's end.
 */
static void
stream_durable_cut(struct stream *s, const char *why)
{
	char q[128];

	ws_free(s->ws);
	s->ws = NULL;
	snprintf(
	    s->why, sizeof(s->why), "%s", log_quote_str(q, sizeof(q), why));
	log_info("stream %s: process stream of %lld cut: %s", s->id,
	    (long long)s->pid, s->why);
	if (!s->attached) {
		stream_durable_status(s);
		return;
	}
	s->attached = 0;
	if (time(NULL) - s->attach_at >= STREAM_DURABLE_STEADY_S)
		s->tries = 0;
	if (stream_push(s, "lost",
		json_pack("{s:b, s:s, s:I}", "exact", 0, "reason", s->why,
		    "reattaches", (json_int_t)s->reattaches),
		0) == 0)
		stream_durable_retry(s);
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
	/* Anything but a ping comes from an attached PTY. */
	if (s->check_path != NULL && strcmp(t, "ping") != 0 &&
	    stream_pty_confirm(s) != 0) {
		json_decref(msg);
		return;
	}
	if (s->kind == STREAM_PTY && stream_pty_message(s, t, msg)) {
		json_decref(msg);
		return;
	}
	fields = json_object();
	json_object_foreach(msg, key, v)
		if (strcmp(key, "type") != 0)
			json_object_set(fields, key, v);
	if (s->kind != STREAM_PTY &&
	    (strcmp(t, "stdout") == 0 || strcmp(t, "stderr") == 0)) {
		datalen = json_string_length(json_object_get(msg, "data"));
		s->tries = 0; /* progress */
		(void)stream_push(s, t, fields, datalen);
	} else if (s->durable && strcmp(t, "start") == 0) {
		/* the stream's "start" went out with the 202 */
		s->attached = 1;
		json_decref(fields);
	} else if (s->durable && strcmp(t, "exit") == 0) {
		v = json_object_get(msg, "exit_code");
		json_decref(fields);
		stream_durable_exit(
		    s, json_is_integer(v) ? json_integer_value(v) : -1);
	} else if (s->kind != STREAM_PTY && strcmp(t, "start") == 0) {
		v = json_object_get(msg, "pid");
		s->pid = json_is_integer(v) ? json_integer_value(v) : 0;
		if (stream_push(s, "start", fields, 0) == 0)
			stream_answer_starter(s, NULL);
	} else if (strcmp(t, "exit") == 0) {
		v = json_object_get(msg, "exit_code");
		if (stream_push(s, "exit", fields, 0) == 0)
			stream_end(s,
			    json_pack("{s:I}", "exit_code",
				json_is_integer(v) ? json_integer_value(v)
						   : -1),
			    NULL);
	} else if (strcmp(t, "error") == 0) {
		const char *text =
		    json_string_value(json_object_get(msg, "data"));

		json_t *err = dialect_ws_error(text);

		if (err == NULL && s->durable) {
			json_decref(fields);
			stream_durable_cut(
			    s, text != NULL ? text : "an error message");
			json_decref(msg);
			return;
		}
		if (err == NULL)
			err = call_error_obj(IPC_ERR_APPLICATION,
			    "stream_error", NULL, "%s",
			    text != NULL ? text : "exec stream failed");
		if (stream_push(s, "error", fields, 0) == 0)
			stream_end(s, NULL, err);
		else
			json_decref(err);
	} else {
		char q[48];

		json_decref(fields);
		log_debug("stream %s: ignoring message type \"%s\"", s->id,
		    log_quote_str(q, sizeof(q), t));
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
	/* A durable stream ends on a 4xx answer (no such sandbox, not
	 * running, refused credential); anything else is a cut. */
	if (s->durable &&
	    (info->reason != WS_REASON_HANDSHAKE || info->status < 400 ||
		info->status >= 500 || info->status == 429)) {
		char why[128];

		snprintf(why, sizeof(why), "%s: %s",
		    ws_reason_name(info->reason), info->errmsg);
		stream_durable_cut(s, why);
		return;
	}
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

/* Open s's WebSocket to url with its credential; as rest_ws_connect. */
static int
stream_ws_open(struct stream *s, const char *url)
{
	struct ws_opts o;

	memset(&o, 0, sizeof(o));
	o.url = url;
	o.handshake_timeout_ms = STREAM_HANDSHAKE_MS;
	o.max_msg = STREAM_MAX_MSG;
	o.on_open = stream_open_cb;
	o.on_message = stream_message_cb;
	o.on_close = stream_close_cb;
	o.arg = s;
	return rest_ws_connect(
	    s->wd, s->admin ? UPSTREAM_AUTH_NONE : s->auth, &o, &s->ws);
}

/*
 * Open the upstream WebSocket for s with call's credential. Returns 0, or
 * -errno after failing the call ("internal").
 */
static int
stream_connect(struct stream *s, struct call *call)
{
	struct wrennd *wd = s->wd;
	char *path, *url = NULL;
	const char *why = NULL;
	int r;

	path = s->kind == STREAM_PROCESS
	    ? api_process_path(call, s->sandbox_id, s->selector, "/stream")
	    : rest_call_sandbox_path(call, s->sandbox_id,
		  s->kind == STREAM_PTY ? "/pty" : "/exec/stream");
	if (path == NULL) {
		call_fail_oom(call);
		return -ENOMEM;
	}
	/* The admin routes take no header credential (auth message only);
	 * their REST routes take the same JWT as a header. */
	s->auth = s->admin ? UPSTREAM_AUTH_JWT : call_auth(call);
	if (s->kind == STREAM_PTY && s->tag != NULL &&
	    (s->check_path = rest_call_sandbox_path(
		 call, s->sandbox_id, "/processes")) == NULL) {
		free(path);
		call_fail_oom(call);
		return -ENOMEM;
	}
	r = rest_ws_url(wd, path, &url, &why);
	free(path);
	if (r != 0) {
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot build the stream URL: %s", why);
		return r;
	}
	r = stream_ws_open(s, url);
	if (r == 0 && s->durable && (s->url = url) != NULL)
		url = NULL; /* kept for the re-attaches */
	free(url);
	if (r == -ENOENT)
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "no credential");
	else if (r != 0)
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot open the stream connection");
	return r;
}

/* A new follower of s from seq from; NULL on OOM. */
static struct stream_follower *
stream_follower_add(
    struct stream *s, struct call *call, uint64_t from, int owner)
{
	struct stream_follower *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->cur = seqbuf_cursor_new(s->buf, from, owner)) == NULL) {
		free(f);
		return NULL;
	}
	f->s = s;
	f->call = call;
	f->owner = owner;
	TAILQ_INSERT_TAIL(&s->followers, f, entry);
	s->nfollowers++;
	return f;
}

/*
 * Stop the upstream side. On "stop" the control plane only detaches: the
 * process keeps running in the sandbox and no "exit" follows
 * (protocol/PROTOCOL.md, sandbox.exec_stream).
 */
static void
stream_stop_upstream(struct stream *s, json_t *err_steal)
{
	if (s->ws != NULL && s->state == STREAM_RUNNING)
		(void)ws_send_text(s->ws, "{\"type\":\"stop\"}", 15);
	stream_end(s, NULL, err_steal);
}

/* The owner's call went away ($/cancel or client gone): stop upstream. */
static void
stream_owner_cancel_cb(struct call *call, void *arg)
{
	struct stream_follower *f = arg;
	struct stream *s = f->s;

	stream_follower_remove(f);
	if (s->state != STREAM_ENDED && s->kind == STREAM_PTY) {
		/* A PTY outlives its client: it stays attachable. */
		log_debug("stream %s: its client left; kept detached", s->id);
		s->detached = 1;
		stream_trim(s);
		stream_flow(s);
	} else if (s->state != STREAM_ENDED) {
		stream_durable_kill(s);
		stream_stop_upstream(s,
		    call_error_obj(IPC_ERR_APPLICATION, "stopped", NULL,
			"the stream was stopped by the client that started "
			"it"));
	} else
		stream_maybe_free(s);
}

/* An attacher left: the stream goes on. */
static void
stream_attach_cancel_cb(struct call *call, void *arg)
{
	struct stream_follower *f = arg;
	struct stream *s = f->s;

	stream_follower_remove(f);
	stream_trim(s);
	stream_flow(s);
	stream_maybe_free(s);
}

/* The detached exec_stream call went away before "start". */
static void
stream_starter_cancel_cb(struct call *call, void *arg)
{
	struct stream *s = arg;

	s->starter = NULL;
}

/*
 * Check that a new stream with a buffer of limit bytes fits the quotas:
 * max-streams, max-streams-per-uid (for the caller's uid) and
 * max-stream-memory (the buffer bounds of every live stream). Returns 0,
 * or -1 after failing the call.
 */
static int
stream_admit(struct call *call, uid_t uid, size_t limit)
{
	struct wrennd *wd = call_wd(call);
	const struct stream *s;
	unsigned mine = 0;
	size_t reserved = 0;

	TAILQ_FOREACH(s, &wd->streams->list, entry) {
		reserved += s->limit;
		if (s->uid == uid)
			mine++;
	}
	if (wd->streams->n >= (unsigned)wd->cfg->max_streams) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_streams", NULL,
		    "%u exec streams are alive (max-streams); stop or "
		    "collect some first",
		    wd->streams->n);
		return -1;
	}
	if (mine >= (unsigned long)wd->cfg->max_streams_per_uid) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_streams", NULL,
		    "uid %u has %u exec streams alive (max-streams-per-uid); "
		    "stop or collect some first",
		    (unsigned)uid, mine);
		return -1;
	}
	if (reserved + limit > (size_t)wd->cfg->max_stream_memory) {
		call_fail(call, IPC_ERR_APPLICATION, "stream_memory_full", NULL,
		    "exec stream buffers already reserve %zu of %ld bytes "
		    "(max-stream-memory); stop or collect some streams first",
		    reserved, wd->cfg->max_stream_memory);
		return -1;
	}
	return 0;
}

/*
 * A new stream of kind for call (not yet connected), detached if the
 * call's detach param says so, within the quotas; NULL after failing
 * the call.
 */
static struct stream *
stream_new(struct call *call, enum stream_kind kind)
{
	struct wrennd *wd = call_wd(call);
	struct stream *s;
	unsigned char rnd[8];
	size_t limit;
	int detach, i;

	detach = json_is_true(json_object_get(call_params(call), "detach"));
	limit =
	    (size_t)(detach ? wd->cfg->detach_buffer : wd->cfg->stream_buffer);
	if (stream_admit(call, client_uid(call_client(call)), limit) != 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		call_fail_oom(call);
		return NULL;
	}
	s->wd = wd;
	s->kind = kind;
	s->admin = rest_admin_route(call);
	s->detached = detach;
	TAILQ_INIT(&s->followers);
	TAILQ_INSERT_TAIL(&wd->streams->list, s, entry);
	wd->streams->n++;
	evutil_secure_rng_get_bytes(rnd, sizeof(rnd));
	memcpy(s->id, "st-", 3);
	for (i = 0; i < 8; i++)
		snprintf(s->id + 3 + 2 * i, 3, "%02x", rnd[i]);
	s->uid = client_uid(call_client(call));
	s->sandbox_id = strdup(json_string_value(
	    json_object_get(call_params(call), "sandbox_id")));
	s->limit = limit;
	s->buf = seqbuf_new(limit);
	s->pid = -1;
	s->started = time(NULL);
	s->tokens = STREAM_INPUT_BURST;
	(void)clock_gettime(CLOCK_MONOTONIC, &s->refill);
	s->ev_timer = evtimer_new(wd->base, stream_stall_cb, s);
	if (s->sandbox_id == NULL || s->buf == NULL || s->ev_timer == NULL) {
		stream_free(s);
		call_fail_oom(call);
		return NULL;
	}
	return s;
}

/*
 * Connect s and hand it to call: a detached stream answers call at its
 * start, an attached one makes call its owning follower.
 */
static int
stream_launch(struct stream *s, struct call *call)
{
	struct stream_follower *f;
	char qid[80];

	if (stream_connect(s, call) != 0) {
		stream_free(s);
		return -1;
	}
	log_debug("stream %s: %s on \"%s\" for uid %u%s", s->id,
	    stream_kind_names[s->kind],
	    log_quote_str(qid, sizeof(qid), s->sandbox_id), (unsigned)s->uid,
	    s->detached ? " (detached)" : "");
	if (s->detached) {
		s->starter = call;
		call_set_cancel(call, stream_starter_cancel_cb, s);
		return 0;
	}
	if ((f = stream_follower_add(s, call, 0, 1)) == NULL) {
		stream_stop_upstream(s, NULL);
		call_fail_oom(call);
		return -1;
	}
	call_set_cancel(call, stream_owner_cancel_cb, f);
	return 0;
}

/*
 * Start a stream for call: the exec stream of its cmd/args, or with
 * selector the stream of a process already running in the sandbox
 * (sandbox.attach_process). Both have the same events and followers.
 */
static void
stream_start(struct call *call, const char *selector)
{
	const json_t *params = call_params(call);
	struct stream *s;

	s = stream_new(call, selector != NULL ? STREAM_PROCESS : STREAM_EXEC);
	if (s == NULL)
		return;
	if (selector != NULL) {
		s->selector = strdup(selector);
		s->cmd = json_string("");
	} else {
		s->cmd = json_incref(json_object_get(params, "cmd"));
		s->args = json_incref(json_object_get(params, "args"));
		s->first =
		    json_pack("{s:s, s:O}", "type", "start", "cmd", s->cmd);
		if (s->first != NULL && s->args != NULL)
			json_object_set(s->first, "args", s->args);
	}
	if (s->cmd == NULL || (selector != NULL && s->selector == NULL) ||
	    (selector == NULL && s->first == NULL)) {
		stream_free(s);
		goto oom;
	}
	(void)stream_launch(s, call);
	return;
oom:
	call_fail_oom(call);
}

void
stream_start_pty(
    struct call *call, json_t *first_steal, const char *tag, int64_t pid)
{
	struct stream *s;

	if ((s = stream_new(call, STREAM_PTY)) == NULL) {
		json_decref(first_steal);
		return;
	}
	s->first = first_steal;
	s->cmd = json_incref(json_object_get(first_steal, "cmd"));
	if (s->cmd == NULL)
		s->cmd = json_string("");
	s->args = json_incref(json_object_get(first_steal, "args"));
	if (tag != NULL) {
		s->tag = strdup(tag);
		s->pid = pid;
	}
	if (s->first == NULL || s->cmd == NULL ||
	    (tag != NULL && s->tag == NULL)) {
		stream_free(s);
		goto oom;
	}
	(void)stream_launch(s, call);
	return;
oom:
	call_fail_oom(call);
}

/* The background exec of a durable stream answered (stream_exec_durable). */
static void
stream_durable_started(struct call *call, int64_t pid, void *arg)
{
	struct stream *s = arg;
	char sel[24];

	if (pid < 0) { /* the call was failed, or went away */
		stream_free(s);
		return;
	}
	s->pid = pid;
	snprintf(sel, sizeof(sel), "%lld", (long long)pid);
	s->selector = strdup(sel);
	s->kill_path =
	    api_process_path(call, s->sandbox_id, sel, "?signal=SIGTERM");
	if (s->selector == NULL || s->kill_path == NULL) {
		log_warnx("stream %s: out of memory; process %lld goes on "
			  "unfollowed",
		    s->id, (long long)pid);
		stream_free(s);
		call_fail_oom(call);
		return;
	}
	s->attach_at = time(NULL);
	if (stream_launch(s, call) != 0)
		return;
	if (stream_push(
		s, "start", json_pack("{s:I}", "pid", (json_int_t)pid), 0) == 0)
		stream_answer_starter(s, NULL);
}

/*
 * sandbox.exec_stream with durable (v0.1.5 server): start cmd/args in
 * the background under STREAM_DURABLE_WRAPPER, then follow its process
 * stream, re-attached after every cut.
 */
static void
stream_exec_durable(struct call *call)
{
	const json_t *params = call_params(call);
	json_t *body = NULL, *args;
	struct stream *s;

	if (dialect_current(call_wd(call)->dialect) != DIALECT_CAPSULES) {
		dialect_fail_unsupported(call,
		    "sandbox.exec_stream with durable", DIALECT_NEEDS_CAPSULES);
		return;
	}
	if ((s = stream_new(call, STREAM_PROCESS)) == NULL)
		return;
	s->durable = 1;
	s->cmd = json_incref(json_object_get(params, "cmd"));
	s->args = json_incref(json_object_get(params, "args"));
	/* Relative: the wrapper's working directory (/root) is where
	 * files/read looks for a relative path too. */
	if (asprintf(&s->status_file, ".wrennd-%s.status", s->id) == -1)
		s->status_file = NULL;
	s->read_path =
	    rest_call_sandbox_path(call, s->sandbox_id, "/files/read");
	s->remove_path =
	    rest_call_sandbox_path(call, s->sandbox_id, "/files/remove");
	s->ev_retry = evtimer_new(s->wd->base, stream_retry_cb, s);
	if (s->status_file != NULL && s->cmd != NULL)
		body = json_pack("{s:s, s:[s,s,s,s,O]}", "cmd", "/bin/sh",
		    "args", "-c", STREAM_DURABLE_WRAPPER, "sh", s->status_file,
		    s->cmd);
	args = json_object_get(body, "args");
	if (body == NULL || s->read_path == NULL || s->remove_path == NULL ||
	    s->ev_retry == NULL ||
	    (s->args != NULL && json_array_extend(args, s->args) != 0)) {
		json_decref(body);
		stream_free(s);
		call_fail_oom(call);
		return;
	}
	if (api_process_start(call, body, stream_durable_started, s) != 0)
		stream_free(s);
	json_decref(body);
}

static void
stream_exec(struct call *call)
{
	if (json_is_true(json_object_get(call_params(call), "durable")))
		stream_exec_durable(call);
	else
		stream_start(call, NULL);
}

static void
stream_attach_process(struct call *call)
{
	char sel[160];

	if (api_process_selector(call, "selector", sel, sizeof(sel)) == 0)
		stream_start(call, sel);
}

/* Whether the caller may see s: streams of its own uid (for a tool, on
 * its own sandboxes), all for admin; an admin method's only for admin. */
static int
stream_visible(const struct stream *s, const struct call *call)
{
	if (s->admin)
		return call_role(call) == ROLE_ADMIN;
	return call_role(call) == ROLE_ADMIN ||
	    (client_uid(call_client(call)) == s->uid &&
		call_may_access(call, s->sandbox_id));
}

/*
 * The stream named by the call's stream_id, or NULL after failing it.
 * Another uid's stream answers exactly as one that does not exist.
 */
struct stream *
stream_lookup(struct call *call)
{
	struct stream *s;
	const char *id;

	id = json_string_value(json_object_get(call_params(call), "stream_id"));
	if ((s = stream_find(call_wd(call), id)) == NULL ||
	    !stream_visible(s, call)) {
		call_fail(call, IPC_ERR_APPLICATION, "not_found", NULL,
		    "no stream '%.64s' (it never existed, or ended and was "
		    "discarded)",
		    id);
		return NULL;
	}
	return s;
}

struct stream *
stream_find_pty(
    const struct call *call, const char *sandbox_id, const char *tag)
{
	struct stream *s;

	TAILQ_FOREACH(s, &call_wd(call)->streams->list, entry)
		if (s->kind == STREAM_PTY && s->state != STREAM_ENDED &&
		    s->tag != NULL && strcmp(s->tag, tag) == 0 &&
		    strcmp(s->sandbox_id, sandbox_id) == 0 &&
		    s->admin == rest_admin_route(call) &&
		    stream_visible(s, call))
			return s;
	return NULL;
}

/* A new follower of s for call from its from_seq (streams.attach). */
static void
stream_follow(struct call *call, struct stream *s)
{
	struct stream_follower *f;
	json_t *v;
	uint64_t from = 0;

	if ((v = json_object_get(call_params(call), "from_seq")) != NULL)
		from = (uint64_t)json_integer_value(v);
	if ((f = stream_follower_add(s, call, from, 0)) == NULL) {
		call_fail_oom(call);
		return;
	}
	call_set_cancel(call, stream_attach_cancel_cb, f);
	if (stream_follower_pump(f) == 0) {
		stream_trim(s);
		stream_flow(s);
	} else
		stream_maybe_free(s);
}

static void
stream_attach(struct call *call)
{
	struct stream *s;

	if ((s = stream_lookup(call)) != NULL)
		stream_follow(call, s);
}

void
stream_join(struct call *call, struct stream *s)
{
	if (json_is_true(json_object_get(call_params(call), "detach")))
		call_reply(call, stream_detached_result(s));
	else
		stream_follow(call, s);
}

/*
 * Refill s's input allowance (STREAM_INPUT_RATE bytes a second up to
 * STREAM_INPUT_BURST) and take cost from it. Returns 0, or -1 when the
 * client sends faster than that.
 */
static int
stream_input_take(struct stream *s, size_t cost)
{
	struct timespec now;
	double dt;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - s->refill.tv_sec) +
	    (double)(now.tv_nsec - s->refill.tv_nsec) / 1e9;
	s->refill = now;
	if (dt > 0)
		s->tokens += dt * STREAM_INPUT_RATE;
	if (s->tokens > STREAM_INPUT_BURST)
		s->tokens = STREAM_INPUT_BURST;
	if ((double)cost > s->tokens)
		return -1;
	s->tokens -= (double)cost;
	return 0;
}

void
stream_pty_send(
    struct call *call, struct stream *s, const json_t *msg, size_t cost)
{
	if (s->kind != STREAM_PTY) {
		call_fail(call, IPC_ERR_APPLICATION, "not_a_pty", NULL,
		    "stream '%s' is not a PTY session (sandbox.pty)", s->id);
		return;
	}
	if (s->state != STREAM_RUNNING) {
		call_fail(call, IPC_ERR_APPLICATION, "stream_ended", NULL,
		    "stream '%s' is %s", s->id,
		    s->state == STREAM_ENDED ? "over" : "not connected yet");
		return;
	}
	if (stream_input_take(s, cost + STREAM_INPUT_MSG_COST) != 0 ||
	    ws_queued_bytes(s->ws) > STREAM_INPUT_QUEUED) {
		call_fail(call, IPC_ERR_APPLICATION, "rate_limited",
		    json_pack("{s:i, s:i}", "bytes_per_second",
			STREAM_INPUT_RATE, "burst", STREAM_INPUT_BURST),
		    "input to stream '%s' is over %d bytes a second (burst "
		    "%d); slow down",
		    s->id, STREAM_INPUT_RATE, STREAM_INPUT_BURST);
		return;
	}
	if (stream_send(s, msg) != 0) {
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot send to the control plane");
		return;
	}
	call_reply(call, json_object());
}

/* One stream as streams.list shows it. */
static json_t *
stream_describe(const struct stream *s)
{
	struct seqbuf_stats st;
	json_t *o;

	seqbuf_stats(s->buf, &st);
	o = json_pack("{s:s, s:s, s:O, s:s, s:b, s:I, s:I, s:I, s:I, s:I,"
		      " s:I, s:I, s:i, s:I}",
	    "stream_id", s->id, "sandbox_id", s->sandbox_id, "cmd", s->cmd,
	    "state",
	    s->state != STREAM_ENDED   ? stream_state_names[s->state]
		: s->final_err != NULL ? "failed"
		: json_object_get(s->final, "exit_code") != NULL ? "exited"
								 : "detached",
	    "detached", s->detached, "started_at", (json_int_t)s->started,
	    "next_seq", (json_int_t)st.next_seq, "first_seq",
	    (json_int_t)st.first_seq, "buffered_bytes", (json_int_t)st.buffered,
	    "output_bytes", (json_int_t)st.out_bytes, "lost_bytes",
	    (json_int_t)st.lost_bytes, "lost_events",
	    (json_int_t)st.lost_events, "followers", (int)s->nfollowers, "uid",
	    (json_int_t)s->uid);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "paused", json_boolean(s->paused));
	json_object_set_new(o, "kind", json_string(stream_kind_names[s->kind]));
	if (s->tag != NULL)
		json_object_set_new(o, "tag", json_string(s->tag));
	if (s->args != NULL)
		json_object_set(o, "args", s->args);
	if (s->selector != NULL)
		json_object_set_new(o, "selector", json_string(s->selector));
	if (s->pid >= 0)
		json_object_set_new(o, "pid", json_integer(s->pid));
	if (s->final != NULL)
		json_object_set(
		    o, "exit_code", json_object_get(s->final, "exit_code"));
	if (s->final_err != NULL)
		json_object_set(o, "error", s->final_err);
	if (s->ended != 0)
		json_object_set_new(o, "ended_at", json_integer(s->ended));
	if (s->durable) {
		json_object_set_new(o, "durable", json_true());
		json_object_set_new(
		    o, "reattaches", json_integer(s->reattaches));
	}
	return o;
}

static void
stream_list(struct call *call)
{
	struct stream *s;
	json_t *list;

	if ((list = json_array()) == NULL)
		goto oom;
	TAILQ_FOREACH(s, &call_wd(call)->streams->list, entry)
		if (stream_visible(s, call))
			json_array_append_new(list, stream_describe(s));
	call_reply(call, list);
	return;
oom:
	call_fail_oom(call);
}

static void
stream_stop(struct call *call)
{
	struct stream *s;

	if ((s = stream_lookup(call)) == NULL)
		return;
	if (s->state != STREAM_ENDED && s->kind == STREAM_PTY)
		/* Detach: the PTY keeps running; sandbox.pty {tag} reconnects.
		 */
		stream_end(s,
		    json_pack("{s:b, s:s}", "detached", 1, "tag",
			s->tag != NULL ? s->tag : ""),
		    NULL);
	else if (s->state != STREAM_ENDED) {
		stream_durable_kill(s);
		stream_stop_upstream(s,
		    call_error_obj(IPC_ERR_APPLICATION, "stopped", NULL,
			"the stream was stopped (streams.stop)"));
	} else if (s->detached && TAILQ_EMPTY(&s->followers))
		stream_free(s); /* collected: nothing left to attach to */
	call_reply(call, json_object());
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_exec_stream[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "cmd",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "executable, looked up in PATH; not run through a shell"},
    {.name = "args",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_LOCAL,
	.doc = "argv[1..]"},
    {.name = "detach",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "keep running inside wrennd; answer with a stream_id at once"},
    {.name = "durable",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "run it in the background and re-attach after every cut of "
	       "the stream (newer server)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_attach_process[] = {
    METHODS_P_SANDBOX_ID_LOCAL,
    {.name = "selector",
	.type = METHODS_T_ANY,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.doc = "the process: its pid (a number) or its tag (a string)"},
    {.name = "detach",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "follow it inside wrennd; answer with a stream_id at once"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_attach[] = {
    STREAM_P_STREAM_ID,
    STREAM_P_FROM_SEQ,
    METHODS_PARAMS_END,
};

static const struct methods_param p_stream_id[] = {
    STREAM_P_STREAM_ID,
    METHODS_PARAMS_END,
};

static const struct methods_row stream_rows[] = {
    {
	.name = "sandbox.exec_stream",
	.summary = "run a command and stream its output ($/stream events)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/exec/stream",
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM,
	.params = p_exec_stream,
	.handler = stream_exec,
    },
    {
	.name = "sandbox.attach_process",
	.summary = "follow a running process's output ($/stream events), "
		   "replayable like an exec stream",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM | METHODS_NEEDS_CAPSULES,
	.params = p_attach_process,
	.handler = stream_attach_process,
    },
    {
	.name = "admin.exec_stream",
	.summary = "run a command in a platform sandbox and stream its "
		   "output, as sandbox.exec_stream",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.path = "/v1/admin/capsules/{sandbox_id}/exec/stream",
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM | METHODS_NEEDS_CAPSULES,
	.params = p_exec_stream,
	.handler = stream_exec,
    },
    {
	.name = "admin.attach_process",
	.summary = "follow a process in a platform sandbox, as "
		   "sandbox.attach_process",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM | METHODS_NEEDS_CAPSULES,
	.params = p_attach_process,
	.handler = stream_attach_process,
    },
    {
	.name = "streams.attach",
	.summary = "replay and follow an exec stream",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM,
	.params = p_attach,
	.handler = stream_attach,
    },
    {
	.name = "streams.list",
	.summary = "exec streams held by wrennd",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = methods_no_params,
	.handler = stream_list,
    },
    {
	.name = "streams.stop",
	.summary = "stop an exec stream upstream (or discard an ended one)",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_EMPTY,
	.params = p_stream_id,
	.handler = stream_stop,
    },
};

const struct api_table stream_methods = API_TABLE(stream_rows);

unsigned
stream_count(const struct stream_set *set)
{
	return set != NULL ? set->n : 0;
}

struct stream_set *
stream_set_new(void)
{
	struct stream_set *set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	TAILQ_INIT(&set->list);
	return set;
}

void
stream_shutdown_all(struct stream_set *set)
{
	struct stream *s, *next;
	json_t *fields, *err;

	for (s = TAILQ_FIRST(&set->list); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == STREAM_ENDED)
			continue;
		s->detached = 0; /* nobody can attach any more */
		err = call_error_obj(IPC_ERR_APPLICATION, CALL_SHUTDOWN_CODE,
		    NULL, CALL_SHUTDOWN_MSG);
		fields = json_pack("{s:s, s:s}", "code", CALL_SHUTDOWN_CODE,
		    "message", CALL_SHUTDOWN_MSG);
		/* stream_push ends (and may free) s when it cannot buffer */
		if (stream_push(s, "error", fields, 0) == 0)
			stream_stop_upstream(s, err);
		else
			json_decref(err);
	}
}

void
stream_set_free(struct stream_set *set)
{
	struct stream *s;
	struct stream_follower *f;

	if (set == NULL)
		return;
	while ((s = TAILQ_FIRST(&set->list)) != NULL) {
		s->detached = 1; /* keep it through stream_end */
		s->pid = s->pid < 0 ? 0 : s->pid;
		if (s->state != STREAM_ENDED)
			stream_stop_upstream(s,
			    call_error_obj(IPC_ERR_APPLICATION, "shutting_down",
				NULL, "wrennd is shutting down"));
		/* stream_end answered whoever had caught up; the rest go now */
		while ((f = TAILQ_FIRST(&s->followers)) != NULL)
			stream_follower_finish(f, s->final_err);
		stream_free(s);
	}
	free(set);
}
