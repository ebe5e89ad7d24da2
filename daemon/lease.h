/* SPDX-License-Identifier: MIT */
/*
 * Leases: a sandbox tied to the local connection that created it
 * (sandboxes.create {lease: "connection"}). When the connection goes, the
 * lease's action (destroy or pause) is sent to the control plane, retried
 * with backoff until it succeeds or the sandbox is gone (404). Keepalives
 * (sandbox.keepalive) ping a sandbox while the calling connection is open.
 *
 * The table is kept in state-dir/leases.json (written to a temporary file,
 * fsync'd and renamed over the old one) so that a restart reconciles it:
 * a lease whose owner process is still alive is watched (pidfd) and acted
 * on when it exits; one whose owner is gone, or whose action was pending,
 * is acted on once. Keepalives are not kept across a restart.
 */
#ifndef WRENND_LEASE_H
#define WRENND_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "upstream.h"

struct wrennd;
struct lease_set;

/* What happens to a leased sandbox when its owner goes. */
enum lease_action {
	LEASE_NONE,    /* a keepalive only: nothing */
	LEASE_DESTROY, /* DELETE /v1/sandboxes/{id} */
	LEASE_PAUSE,   /* POST /v1/sandboxes/{id}/pause */
	LEASE_ACTION__MAX
};

/* "none", "destroy", "pause". */
const char *lease_action_name(enum lease_action a);
/* The action named s ("destroy", "pause"), or -1. */
int lease_action_parse(const char *s);

/* The owner of a lease: the connection, its peer uid and pid. */
struct lease_owner {
	uint64_t client_id; /* 0: the owner is gone (act now) */
	uid_t uid;
	pid_t pid;
};

/* struct wrennd's leases: NULL on OOM. */
struct lease_set *lease_set_new(void);
/*
 * Read state-dir/leases.json (if state-dir is set), creating the
 * directory when missing, and reconcile: watch owners still alive, act on
 * the others. 0, or -errno with a one-line message in err (the directory
 * cannot be created or written).
 */
int lease_set_load(struct wrennd *wd, char *err, size_t errlen);
/* Free the set and everything in it; pending requests are cancelled (the
 * state file keeps them). NULL is a no-op. */
void lease_set_free(struct lease_set *s);

/*
 * A lease with action on sandbox_id for owner, whose requests carry auth;
 * with owner->client_id 0 the action starts at once (never refused for
 * max-leases). Written to the state file before it returns. 0, -ENOSPC at
 * max-leases, -EINVAL for a bad id, -ENOMEM.
 */
int lease_add(struct wrennd *wd, const char *sandbox_id,
    enum lease_action action, const struct lease_owner *owner,
    enum upstream_auth auth);
/*
 * Ping sandbox_id every interval_sec while owner's connection is open (0
 * stops it). The first ping was sent by the caller. 0, -ENOSPC, -ENOMEM.
 */
int lease_keepalive(struct wrennd *wd, const char *sandbox_id,
    const struct lease_owner *owner, long interval_sec,
    enum upstream_auth auth);
/* The connection with this id closed: act on its leases, stop its
 * keepalives. */
void lease_client_gone(struct wrennd *wd, uint64_t client_id);

/* Leases in the table (keepalive-only entries included). */
unsigned lease_count(const struct wrennd *wd);
/* {"leases": [...]} for leases.list (new reference; NULL on OOM). */
json_t *lease_list_json(const struct wrennd *wd);

/*
 * SIGTERM: with destroy (lease-on-shutdown destroy) start every lease's
 * action now; otherwise keep them all for the next start (connections
 * that close from now on no longer act). Keepalives stop.
 */
void lease_shutdown(struct wrennd *wd, int destroy);
/*
 * After the loop ended: run it again until the actions started by
 * lease_shutdown are answered, for at most ms. Those that failed stay in
 * the state file as pending.
 */
void lease_shutdown_wait(struct wrennd *wd, long ms);

#endif /* WRENND_LEASE_H */
