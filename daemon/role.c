/* SPDX-License-Identifier: MIT */
/*
 * Local roles and credential kinds (see role.h): names and the rule that
 * gives a peer its role.
 */
#include "config.h"

#include "role.h"

/* Whether gid, or one of the peer's groups, is in list. */
static int
role_in_groups(const gid_t *list, size_t n, const struct role_peer *p)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (list[i] == p->gid)
			return 1;
		for (j = 0; j < p->ngroups; j++)
			if (list[i] == p->groups[j])
				return 1;
	}
	return 0;
}

int
role_of_peer(const struct role_rules *r, const struct role_peer *p, uid_t self)
{
	size_t i;

	if (p->tool_socket)
		return ROLE_TOOL;
	if (p->uid == 0 || p->uid == self ||
	    role_in_groups(r->admin, r->nadmin, p))
		return ROLE_ADMIN;
	for (i = 0; i < r->nusers; i++)
		if (r->users[i] == p->uid)
			return ROLE_USER;
	if (role_in_groups(r->groups, r->ngroups, p))
		return ROLE_USER;
	return -1;
}

const char *
role_name(enum role r)
{
	static const char *names[ROLE__MAX] = {"tool", "user", "admin"};

	return r < ROLE__MAX ? names[r] : "?";
}

const char *
role_cred_name(enum role_cred c)
{
	static const char *names[ROLE_CRED__MAX] = {
	    "none", "api_key_or_jwt", "jwt", "admin_jwt", "api_key"};

	return c < ROLE_CRED__MAX ? names[c] : "?";
}
