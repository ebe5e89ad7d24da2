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
 * max-stream-memory (the sum of the buffer bounds).
 * Owns: the streams (its stream_set, wd->streams), their WebSockets and
 * buffers (seqbuf.c).
 */
#ifndef WRENND_STREAM_H
#define WRENND_STREAM_H

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

#endif /* WRENND_STREAM_H */
