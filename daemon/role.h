/* SPDX-License-Identifier: MIT */
/*
 * Local roles and the credential kinds an upstream route accepts: the two
 * properties of a method row that the dispatcher (rpc.c) enforces before a
 * call exists. A leaf header: it includes nothing of the daemon.
 */
#ifndef WRENND_ROLE_H
#define WRENND_ROLE_H

#include <sys/types.h>

/* Local roles, weakest first. A method row names the weakest it allows. */
enum role {
	ROLE_TOOL,  /* sandboxed tools: a restricted method set */
	ROLE_USER,  /* ordinary local users */
	ROLE_ADMIN, /* root or the daemon's own uid */
	ROLE__MAX
};

/* Which credential an upstream route accepts (protocol/PROTOCOL.md
 * section 8, the credential column). */
enum role_cred {
	ROLE_CRED_NONE,	  /* local only: nothing is sent upstream */
	ROLE_CRED_ANY,	  /* API key, else JWT */
	ROLE_CRED_JWT,	  /* user JWT only */
	ROLE_CRED_ADMIN,  /* user JWT of a platform admin */
	ROLE_CRED_APIKEY, /* API key only (the sandbox proxy) */
	ROLE_CRED__MAX
};

/* The role of a peer with this uid: admin for root and our own uid. */
enum role role_of_uid(uid_t uid);

/* Names for the wire ("tool", "user", "admin"; "none", "jwt", ...). */
const char *role_name(enum role r);
const char *role_cred_name(enum role_cred c);

#endif /* WRENND_ROLE_H */
