/* SPDX-License-Identifier: MIT */
/*
 * Local roles and credential kinds (see role.h): names and the rule that
 * gives a peer its role.
 */
#include "config.h"

#include "role.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

int
role_resolve_id(const char *opt, const char *name, int group, unsigned *id,
    char *err, size_t errlen)
{
	char buf[4096], *end;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && *end == '\0' && errno == 0 &&
	    v < (unsigned long)(uid_t)-1) {
		*id = (unsigned)v;
		return 0;
	}
	if (group ? getgrnam_r(name, &gr, buf, sizeof(buf), &grp) == 0 &&
		    grp != NULL
		  : getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) == 0 &&
		    pwp != NULL) {
		*id = group ? (unsigned)grp->gr_gid : (unsigned)pwp->pw_uid;
		return 0;
	}
	snprintf(err, errlen, "%s: no such %s '%.64s'", opt,
	    group ? "group" : "user", name);
	return -EINVAL;
}

int
role_resolve_list(const char *opt, const char *text, int group, unsigned **ret,
    size_t *n, char *err, size_t errlen)
{
	char name[256];
	const char *p = text;
	size_t len;
	unsigned *v;
	int r;

	*ret = NULL;
	*n = 0;
	if (text == NULL)
		return 0;
	if ((v = calloc(ROLE_MAX_IDS, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (*p != '\0') {
		p += strspn(p, ", \t");
		if ((len = strcspn(p, ", \t")) == 0)
			break;
		if (len >= sizeof(name) || *n == ROLE_MAX_IDS) {
			snprintf(err, errlen, "%s: %s", opt,
			    len >= sizeof(name) ? "a name is too long"
						: "more than 256 entries");
			free(v);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if ((r = role_resolve_id(
			 opt, name, group, &v[*n], err, errlen)) != 0) {
			free(v);
			return r;
		}
		(*n)++;
		p += len;
	}
	*ret = v;
	return 0;
}

int
role_peer_groups(int fd, gid_t *small, size_t nsmall, gid_t **groups)
{
	socklen_t len = (socklen_t)(nsmall * sizeof(gid_t));
	gid_t *v = small;
	int r;

	*groups = NULL;
	r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len);
	if (r == -1 && errno == ERANGE && len <= 65536 * sizeof(gid_t) &&
	    (v = malloc(len)) != NULL)
		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len);
	if (r != 0) {
		if (v != small)
			free(v);
		return -1;
	}
	*groups = v;
	return (int)(len / sizeof(gid_t));
}
