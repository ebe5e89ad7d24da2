/* SPDX-License-Identifier: MIT */
/*
 * Exec streams: sandbox.exec_stream over the control plane's WebSocket,
 * with a bounded buffer of sequenced events that any number of followers
 * (the call that started it, streams.attach calls) read at their own pace.
 * A detached stream lives in wrennd without any client (tmux-like) and
 * keeps a replay buffer; when that buffer has to drop old events, a
 * follower that missed them is told how many events and bytes it lost.
 * A stream belongs to the uid that started it; other uids (unless admin)
 * neither see nor reach it. Quotas: max-streams, max-streams-per-uid and
 * max-stream-memory (the sum of the buffer bounds). A durable stream
 * (v0.1.5 server) follows a background process and re-attaches by pid
 * after a cut, with a "lost" event for the gap.
 * Owns: the streams (its stream_set, wd->streams), their WebSockets and
 * buffers (seqbuf.c).
 */
#ifndef WRENND_STREAM_H
#define WRENND_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct stream_set;

/* Its method rows reach methods.c through api.h (stream_methods). */

/* The module's state (struct wrennd's streams); NULL on OOM. */
struct stream_set *stream_set_new(void);
/*
 * The drain deadline passed: end every live stream with a last "error"
 * event {code: "shutting_down", message} and that final error for its
 * followers, and stop it upstream (the process goes on in the sandbox).
 */
void stream_shutdown_all(struct stream_set *set);
/* Stop every stream upstream, answer its followers and free them all
 * (shutdown). */
void stream_set_free(struct stream_set *set);
/* Exec streams held: running, and ended ones kept for a late attach. */
unsigned stream_count(const struct stream_set *set);

/*
 * PTY sessions (api-pty.c builds the method rows; this module holds the
 * sessions). A PTY stream speaks the control plane's .../pty WebSocket:
 * its events are "started" {stream_id, tag, pid}, "output" {data},
 * "exit" {exit_code} and "error"; the server's pings are answered here.
 * Unlike an exec stream it outlives its client: when the call that
 * started it goes away it stays, detached, for streams.attach.
 */
struct call;
struct stream;

/* The params of the methods that name a stream (methods.h rows). */
#define STREAM_P_STREAM_ID                                                     \
	{                                                                      \
		.name = "stream_id", .type = METHODS_T_STRING,                 \
		.in = METHODS_IN_LOCAL,                                        \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "stream id (st-...)"                                    \
	}
#define STREAM_P_FROM_SEQ                                                      \
	{                                                                      \
		.name = "from_seq", .type = METHODS_T_INT,                     \
		.in = METHODS_IN_LOCAL, .min = 0, .max = 9007199254740991LL,   \
		.doc = "first event wanted (default 0: everything still "      \
		       "buffered)"                                             \
	}

/*
 * Start a PTY stream for call (params sandbox_id, detach): first is the
 * message sent on open ({"type":"start",...} or {"type":"connect",
 * "tag"}); for a connect, tag and pid are the live PTY's (the server
 * does not say "started" then; this stream does). Answers call now or
 * later.
 */
void stream_start_pty(
    struct call *call, json_t *first_steal, const char *tag, int64_t pid);
/* The not_found error of a PTY tag that is not (or no longer) live. */
json_t *stream_pty_gone_error(const char *tag);
/* The stream named by the call's stream_id, or NULL after failing the
 * call (not_found, also for a stream of another uid). */
struct stream *stream_lookup(struct call *call);
/* A live PTY stream of tag in sandbox_id that call may see, or NULL. */
struct stream *stream_find_pty(
    const struct call *call, const char *sandbox_id, const char *tag);
/* Follow s from the call's from_seq (streams.attach), or with the
 * call's detach answer with its stream_id at once. */
void stream_join(struct call *call, struct stream *s);
/*
 * Send msg (not stolen) to s's PTY, charging cost bytes to its input
 * allowance; answers call ({} or not_a_pty, stream_ended, rate_limited).
 */
void stream_pty_send(
    struct call *call, struct stream *s, const json_t *msg, size_t cost);

#endif /* WRENND_STREAM_H */
