/* SPDX-License-Identifier: MIT */
/*
 * Local roles and credential kinds (see role.h): names and the uid rule.
 */
#include "config.h"

#include "role.h"

#include <unistd.h>

enum role
role_of_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid() ? ROLE_ADMIN : ROLE_USER;
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
