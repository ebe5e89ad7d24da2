/* SPDX-License-Identifier: MIT */
/*
 * Sandbox ownership: which local peer created each sandbox through wrennd
 * (its uid, the connection and the role it had). Tools see and touch only
 * the sandboxes their uid owns; users and admins see everything. The
 * table is in memory (wd->owners); lease.c persists what it needs across
 * a restart and puts entries back with owner_add. Knows nothing of calls
 * or the control plane: a leaf module over role.h.
 */
#ifndef WRENND_OWNER_H
#define WRENND_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "role.h"

#define OWNER_ID_MAX 64 /* bytes of a sandbox id we record */

/* One sandbox created through wrennd. Read-only outside owner.c. */
struct owner {
	char sandbox_id[OWNER_ID_MAX + 1];
	uid_t uid;	/* SO_PEERCRED uid of the creating peer */
	uint64_t conn;	/* client_id() of the creating connection; 0 when
			 * it is gone or came back from a state file */
	enum role role; /* the creating connection's role */
	time_t created; /* wall clock of the create */
};

struct owner_set;

struct owner_set *owner_set_new(void);
void owner_set_free(struct owner_set *os);

/*
 * Record sandbox_id as created by uid on connection conn with role (an
 * existing entry for the id is replaced). created 0 means now. Returns 0,
 * -EINVAL for an id that is empty or longer than OWNER_ID_MAX, -ENOMEM.
 */
int owner_add(struct owner_set *os, const char *sandbox_id, uid_t uid,
    uint64_t conn, enum role role, time_t created);
/* Forget sandbox_id (destroyed, or gone upstream); no-op when unknown. */
void owner_remove(struct owner_set *os, const char *sandbox_id);
/* The entry for sandbox_id, or NULL (borrowed until the next change). */
const struct owner *owner_find(
    const struct owner_set *os, const char *sandbox_id);

/*
 * Whether a peer with role and uid may see and touch sandbox_id: users
 * and admins always; a tool only when its uid created it through wrennd
 * (a sandbox nobody recorded belongs to no tool).
 */
int owner_may_access(const struct owner_set *os, const char *sandbox_id,
    enum role role, uid_t uid);

/* Sandboxes recorded for uid that were created with the tool role. */
unsigned owner_count_tool(const struct owner_set *os, uid_t uid);
/*
 * A tool's sandboxes.create in flight: owner_reserve counts it for uid
 * until owner_release (once per reserve, when the call ends however it
 * ends); owner_live_tool is owner_count_tool plus those, what the
 * policy's max-sandboxes is held against. 0 or -ENOMEM.
 */
int owner_reserve(struct owner_set *os, uid_t uid);
void owner_release(struct owner_set *os, uid_t uid);
unsigned owner_live_tool(const struct owner_set *os, uid_t uid);
/* Every recorded sandbox. */
size_t owner_count(const struct owner_set *os);

/* The i-th entry (0, 1, ...) in creation order, or NULL past the last. */
const struct owner *owner_at(const struct owner_set *os, size_t i);

/* A connection closed: its entries keep their uid but lose conn. Lookups
 * and this accept a NULL table (a test's daemon without one). */
void owner_conn_gone(struct owner_set *os, uint64_t conn);

#endif /* WRENND_OWNER_H */
