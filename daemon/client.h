/* SPDX-License-Identifier: MIT */
/*
 * One local connection: reads LF-framed JSON-RPC lines, applies the
 * per-connection limits (line size, calls in flight, queued output, file
 * descriptors), queues replies, and hands every complete, valid message to
 * the dispatcher it is given (struct client_ops; rpc.c in the daemon).
 * Closes exactly once with a reason. Knows nothing of methods or calls.
 */
#ifndef WRENND_CLIENT_H
#define WRENND_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "role.h"

struct conf;
struct wrennd;
struct client;
struct ipc_msg;

#define CLIENT_MAX_FDS 4 /* file descriptors one request may carry */

/* What the connection hands to its dispatcher. */
struct client_ops {
	/* A new connection: greet it. Nonzero closes it. */
	int (*open)(struct client *c);
	/*
	 * One valid request or notification (m borrowed). The nfds
	 * descriptors in fds that came with it now belong to the callee.
	 */
	void (*message)(
	    struct client *c, struct ipc_msg *m, int *fds, unsigned nfds);
	/* Queued output drained below the low watermark. */
	void (*drained)(struct client *c);
	/* The drain deadline passed: end every call in flight with a
	 * final reply (shutting_down). */
	void (*shutdown)(struct client *c);
	/* The connection closes: abort its work, send nothing. */
	void (*close)(struct client *c);
};

/*
 * Take over fd (accepted, non-blocking) for the peer uid/gid/pid with its
 * local role (enum role, decided by listener.c at accept) and let
 * wd->client_ops greet it. NULL when it could not be set up (fd closed).
 */
struct client *client_new(
    struct wrennd *wd, int fd, uid_t uid, gid_t gid, pid_t pid, enum role role);
/* Close with a reason (logged); idempotent; frees on a later loop turn. */
void client_close(struct client *c, const char *reason);
/* Stop reading, flush what is queued, then close. */
void client_finish(struct client *c);
/* Start draining: close as soon as no call is in flight. */
void client_drain(struct client *c);

uint64_t client_id(const struct client *c);
uid_t client_uid(const struct client *c);
gid_t client_gid(const struct client *c);
pid_t client_pid(const struct client *c);
/* The peer's supplementary groups as the kernel recorded them at connect
 * (role_peer_groups in role.h: *groups is small or a new array). */
int client_peer_groups(
    const struct client *c, gid_t *small, size_t nsmall, gid_t **groups);
/* The role given at accept. */
enum role client_role(const struct client *c);
struct wrennd *client_wrennd(const struct client *c);
const struct conf *client_conf(const struct client *c);
/* Whether the connection still reads and dispatches. */
int client_active(const struct client *c);

/* The dispatcher's per-connection state (NULL until set). */
void *client_data(const struct client *c);
void client_set_data(struct client *c, void *data);

/* Accept file descriptors with requests from now on (rpc.hello). */
void client_enable_fds(struct client *c);
int client_fds_enabled(const struct client *c);

/*
 * A call started or ended on this connection: the count bounds reading
 * (max-inflight) and decides when a draining connection closes.
 */
void client_call_begin(struct client *c);
void client_call_end(struct client *c);
/* Number of calls in flight. */
unsigned client_ncalls(const struct client *c);

/*
 * Queue msg (not stolen) for the peer. Returns 0, or -ENOMEM. A message
 * over max-reply is replaced by a too_large error for its id. If more
 * than twice max-output was already queued before msg, the client is
 * closed as stuck (on a later loop turn) and msg is dropped.
 */
int client_send(struct client *c, const json_t *msg);
/*
 * Queue an error reply that belongs to no call (id may be NULL: framing,
 * admission), counted as a failed call; extra_steal (may be NULL) is
 * merged into error.data; the message is formatted from fmt. The
 * dispatcher's counterpart of call_fail.
 */
void client_fail(struct client *c, const json_t *id, int code,
    const char *data_code, json_t *extra_steal, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Bytes waiting to be written to the peer. */
size_t client_queued(const struct client *c);
/* Whether queued output is above max-output (producers should pause). */
int client_congested(const struct client *c);

/* Connections of uid (for max-clients-per-uid). */
unsigned client_count_uid(struct wrennd *wd, uid_t uid);
/* Calls in flight over every client of wd. */
unsigned client_calls_all(struct wrennd *wd);
/* Drain every client of wd: each closes once no call is in flight. */
void client_drain_all(struct wrennd *wd);
/*
 * The drain deadline passed: every client's calls in flight get their
 * final error (ops->shutdown), then each connection flushes and closes
 * (within the flush bound). With now, each gets one write of what is
 * queued and is closed at once (a second signal).
 */
void client_shutdown_all(struct wrennd *wd, int now);
void client_close_all(struct wrennd *wd, const char *reason);

#endif /* WRENND_CLIENT_H */
