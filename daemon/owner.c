/* SPDX-License-Identifier: MIT */
/*
 * The ownership table (see owner.h): a growing array in creation order.
 * A tool holds a handful of sandboxes and a daemon a few thousand at
 * most, so lookups are linear scans.
 */
#include "config.h"

#include "owner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Creates of one tool uid in flight. */
struct owner_pending {
	uid_t uid;
	unsigned n;
};

struct owner_set {
	struct owner *v; /* owned */
	size_t n, cap;
	struct owner_pending *pend; /* owned; uids with creates in flight */
	size_t npend;
};

struct owner_set *
owner_set_new(void)
{
	return calloc(1, sizeof(struct owner_set));
}

void
owner_set_free(struct owner_set *os)
{
	if (os == NULL)
		return;
	free(os->v);
	free(os->pend);
	free(os);
}

static ssize_t
owner_index(const struct owner_set *os, const char *sandbox_id)
{
	size_t i;

	for (i = 0; os != NULL && i < os->n; i++)
		if (strcmp(os->v[i].sandbox_id, sandbox_id) == 0)
			return (ssize_t)i;
	return -1;
}

int
owner_add(struct owner_set *os, const char *sandbox_id, uid_t uid,
    uint64_t conn, enum role role, time_t created)
{
	size_t len = strlen(sandbox_id), ncap;
	struct owner *o, *nv;

	if (len == 0 || len > OWNER_ID_MAX)
		return -EINVAL;
	owner_remove(os, sandbox_id);
	if (os->n == os->cap) {
		ncap = os->cap != 0 ? os->cap * 2 : 16;
		if ((nv = realloc(os->v, ncap * sizeof(*nv))) == NULL)
			return -ENOMEM;
		os->v = nv;
		os->cap = ncap;
	}
	o = &os->v[os->n++];
	memset(o, 0, sizeof(*o));
	memcpy(o->sandbox_id, sandbox_id, len + 1);
	o->uid = uid;
	o->conn = conn;
	o->role = role;
	o->created = created != 0 ? created : time(NULL);
	return 0;
}

void
owner_remove(struct owner_set *os, const char *sandbox_id)
{
	ssize_t i = owner_index(os, sandbox_id);

	if (i < 0)
		return;
	memmove(&os->v[i], &os->v[i + 1],
	    (os->n - (size_t)i - 1) * sizeof(os->v[0]));
	os->n--;
}

const struct owner *
owner_find(const struct owner_set *os, const char *sandbox_id)
{
	ssize_t i = owner_index(os, sandbox_id);

	return i < 0 ? NULL : &os->v[i];
}

int
owner_may_access(const struct owner_set *os, const char *sandbox_id,
    enum role role, uid_t uid)
{
	const struct owner *o;

	if (role >= ROLE_USER)
		return 1;
	o = owner_find(os, sandbox_id);
	return o != NULL && o->role == ROLE_TOOL && o->uid == uid;
}

unsigned
owner_count_tool(const struct owner_set *os, uid_t uid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < os->n; i++)
		if (os->v[i].role == ROLE_TOOL && os->v[i].uid == uid)
			n++;
	return n;
}

int
owner_reserve(struct owner_set *os, uid_t uid)
{
	struct owner_pending *nv;
	size_t i;

	for (i = 0; i < os->npend; i++)
		if (os->pend[i].uid == uid) {
			os->pend[i].n++;
			return 0;
		}
	if ((nv = realloc(os->pend, (os->npend + 1) * sizeof(*nv))) == NULL)
		return -ENOMEM;
	os->pend = nv;
	os->pend[os->npend].uid = uid;
	os->pend[os->npend].n = 1;
	os->npend++;
	return 0;
}

void
owner_release(struct owner_set *os, uid_t uid)
{
	size_t i;

	for (i = 0; i < os->npend; i++)
		if (os->pend[i].uid == uid) {
			if (--os->pend[i].n == 0)
				os->pend[i] = os->pend[--os->npend];
			return;
		}
}

unsigned
owner_live_tool(const struct owner_set *os, uid_t uid)
{
	unsigned n = owner_count_tool(os, uid);
	size_t i;

	for (i = 0; i < os->npend; i++)
		if (os->pend[i].uid == uid)
			n += os->pend[i].n;
	return n;
}

size_t
owner_count(const struct owner_set *os)
{
	return os->n;
}

const struct owner *
owner_at(const struct owner_set *os, size_t i)
{
	return i < os->n ? &os->v[i] : NULL;
}

void
owner_conn_gone(struct owner_set *os, uint64_t conn)
{
	size_t i;

	for (i = 0; os != NULL && i < os->n; i++)
		if (os->v[i].conn == conn)
			os->v[i].conn = 0;
}
