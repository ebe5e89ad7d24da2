/* SPDX-License-Identifier: MIT */
/*
 * One local connection: reads LF-framed JSON-RPC lines, dispatches calls
 * through the method table, queues replies and stream events, applies the
 * per-connection limits (line size, calls in flight, queued output) and
 * closes exactly once with a reason. Owns its calls (call.c).
 */
#ifndef WRENND_CLIENT_H
#define WRENND_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct wrennd;
struct client;
struct call;

/* Local roles, weakest first. A method row names the weakest it allows. */
enum role {
	ROLE_TOOL,  /* sandboxed tools: a restricted method set */
	ROLE_USER,  /* ordinary local users */
	ROLE_ADMIN, /* root or the daemon's own uid */
	ROLE__MAX
};

/* Take over fd (accepted, non-blocking) and greet the peer. */
struct client *client_new(
    struct wrennd *wd, int fd, uid_t uid, gid_t gid, pid_t pid);
/* Close with a reason (logged); idempotent; frees on a later loop turn. */
void client_close(struct client *c, const char *reason);
/* Start draining: close as soon as no call is in flight. */
void client_drain(struct client *c);

uint64_t client_id(const struct client *c);
enum role client_role(const struct client *c);
/* The peer's uid (SO_PEERCRED when it connected). */
uid_t client_uid(const struct client *c);
const char *role_name(enum role r);
struct wrennd *client_wrennd(const struct client *c);
/* Number of calls in flight. */
unsigned client_ncalls(const struct client *c);

/*
 * Queue msg (not stolen) for the peer. Returns 0, or -ENOMEM. A message
 * over max-reply is replaced by a too_large error for its id. If more
 * than twice max-output was already queued before msg, the client is
 * closed as stuck (on a later loop turn) and msg is dropped.
 */
int client_send(struct client *c, const json_t *msg);
/* Bytes waiting to be written to the peer. */
size_t client_queued(const struct client *c);
/* Whether queued output is above max-output (producers should pause). */
int client_congested(const struct client *c);

/* rpc.hello handler: protocol check and capability negotiation. */
int client_rpc_hello(struct call *call);

/* Connections of uid (for max-clients-per-uid). */
unsigned client_count_uid(struct wrennd *wd, uid_t uid);
/* Calls in flight over every client of wd. */
unsigned client_calls_all(struct wrennd *wd);
/* Drain (or with now, close) every client of wd. */
void client_drain_all(struct wrennd *wd);
void client_close_all(struct wrennd *wd, const char *reason);

/* Called by call.c when a call leaves the client. */
void client_call_done(struct client *c, struct call *call);

#endif /* WRENND_CLIENT_H */
