/* SPDX-License-Identifier: MIT */
/*
 * Local roles and the credential kinds an upstream route accepts: the two
 * properties of a method row that the dispatcher (rpc.c) enforces before a
 * call exists; who a peer is (its role, its groups, users and groups named
 * in the configuration). A leaf header: it includes nothing of the daemon.
 */
#ifndef WRENND_ROLE_H
#define WRENND_ROLE_H

#include <stddef.h>
#include <sys/types.h>

/* Local roles, weakest first. A method row names the weakest it allows. */
enum role {
	ROLE_TOOL,  /* peers on the tool socket: their own sandboxes only */
	ROLE_USER,  /* allowed local users (allow-users, allow-groups) */
	ROLE_ADMIN, /* root, the daemon's own uid, admin-group */
	ROLE__MAX
};

/* Which credential an upstream route accepts (protocol/PROTOCOL.md
 * section 8, the credential column). */
enum role_cred {
	ROLE_CRED_NONE,	  /* local only: nothing is sent upstream */
	ROLE_CRED_ANY,	  /* API key, else JWT */
	ROLE_CRED_JWT,	  /* user JWT only */
	ROLE_CRED_ADMIN,  /* user JWT of a platform admin */
	ROLE_CRED_APIKEY, /* the sandbox proxy: the API key on 172413e,
			   * none on v0.1.5 (its record reads: ANY) */
	ROLE_CRED__MAX
};

/*
 * Who gets which role (from the allow-users, allow-groups and admin-group
 * options, resolved to numbers by conf.c). The arrays are borrowed.
 */
struct role_rules {
	const uid_t *users; /* allow-users: the user role on the control
			     * socket */
	size_t nusers;
	const gid_t *groups; /* allow-groups: the same by group */
	size_t ngroups;
	const gid_t *admin; /* admin-group (0 or 1 entries) */
	size_t nadmin;
};

/* A connecting peer: SO_PEERCRED and its supplementary groups. */
struct role_peer {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* SO_PEERGROUPS; borrowed */
	size_t ngroups;
	int tool_socket; /* it came in on the tool socket */
};

/*
 * The role of a peer: tool on the tool socket, whoever it is; on the
 * control socket admin for root, the daemon's own uid (self) and
 * members of admin-group, user for the uids and groups allowed, and -1
 * (refused at accept) for everyone else. A group counts when it is the
 * peer's primary or one of its supplementary groups.
 */
int role_of_peer(
    const struct role_rules *r, const struct role_peer *p, uid_t self);

/*
 * Resolve one user (group with group set) given by name or number, for
 * option opt (named in the message). 0 with *id set, or -EINVAL with err
 * naming option and value. Uses NSS: call it at start or on a reload,
 * never per connection.
 */
int role_resolve_id(const char *opt, const char *name, int group, unsigned *id,
    char *err, size_t errlen);

#define ROLE_MAX_IDS 256 /* entries of one list of users or groups */

/*
 * A list of users or groups (names or numbers, separated by commas or
 * blanks) as numbers in a new array (*ret, *n; free it); NULL text gives
 * none. 0, or -EINVAL/-ENOMEM with err set.
 */
int role_resolve_list(const char *opt, const char *text, int group,
    unsigned **ret, size_t *n, char *err, size_t errlen);

/*
 * The supplementary groups of the peer on the Unix socket fd as the
 * kernel recorded them at connect (SO_PEERGROUPS): their count, with
 * *groups either small (nsmall entries fit) or a new array to free when
 * it is not small; -1 with *groups NULL when the kernel cannot say.
 */
int role_peer_groups(int fd, gid_t *small, size_t nsmall, gid_t **groups);

/* Names for the wire ("tool", "user", "admin"; "none", "jwt", ...). */
const char *role_name(enum role r);
const char *role_cred_name(enum role_cred c);

#endif /* WRENND_ROLE_H */
