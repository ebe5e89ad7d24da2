/* SPDX-License-Identifier: MIT */
/*
 * The list of the handler files' method tables (see methods.h, api.h)
 * and the generic parameter checker. Rows live beside their handlers;
 * adding a method adds no line here unless it is a new file's table.
 */
#include "config.h"

#include "methods.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

const struct methods_param methods_no_params[] = {METHODS_PARAMS_END};

/*
 * Every handler file's rows. This order is the order of the hello method
 * list and of rpc.describe, which clients may show as it is: protocol and
 * daemon, sandboxes, files, exec streams, snapshots, the account (JWT),
 * audit log, platform administration. Add a new file's table where its
 * methods read best and keep the rest as they are.
 */
static const struct api_table *const methods_tables[] = {
    &rpc_methods,
    &api_daemon_methods,
    &api_sandbox_methods,
    &api_files_methods,
    &api_fsops_methods,
    &api_proxy_methods,
    &api_process_methods,
    &api_pty_methods,
    &stream_methods,
    &api_code_methods,
    &api_snapshots_methods,
    &api_account_methods,
    &api_audit_methods,
    &api_admin_methods,
    &portfwd_methods,
    &api_lease_methods,
};

#define METHODS_NTABLES (sizeof(methods_tables) / sizeof(methods_tables[0]))

const struct methods_row *
methods_at(size_t i)
{
	size_t t;

	for (t = 0; t < METHODS_NTABLES; t++) {
		if (i < methods_tables[t]->n)
			return &methods_tables[t]->rows[i];
		i -= methods_tables[t]->n;
	}
	return NULL;
}

/*
 * The rows sorted by name, for bsearch: built at the first lookup, then
 * only read (the daemon is one thread). The rows are constant, so the
 * index never changes; it lives as long as the process.
 */
static struct {
	const struct methods_row **rows;
	size_t n;
	int built; /* 1 once tried; rows NULL: no memory, scan instead */
} methods_index;

static int
methods_name_cmp(const void *a, const void *b)
{
	const struct methods_row *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
methods_key_cmp(const void *key, const void *row)
{
	const struct methods_row *const *r = row;

	return strcmp(key, (*r)->name);
}

static void
methods_index_build(void)
{
	size_t i, n = 0;

	methods_index.built = 1;
	while (methods_at(n) != NULL)
		n++;
	if ((methods_index.rows = calloc(n + 1, sizeof(*methods_index.rows))) ==
	    NULL)
		return;
	for (i = 0; i < n; i++)
		methods_index.rows[i] = methods_at(i);
	qsort(methods_index.rows, n, sizeof(*methods_index.rows),
	    methods_name_cmp);
	methods_index.n = n;
}

const struct methods_row *
methods_find(const char *name)
{
	const struct methods_row **hit, *m;
	size_t i;

	if (!methods_index.built)
		methods_index_build();
	if (methods_index.rows == NULL) {
		for (i = 0; (m = methods_at(i)) != NULL; i++)
			if (strcmp(m->name, name) == 0)
				return m;
		return NULL;
	}
	hit = bsearch(name, methods_index.rows, methods_index.n,
	    sizeof(*methods_index.rows), methods_key_cmp);
	return hit != NULL ? *hit : NULL;
}

const struct methods_param *
methods_param_find(const struct methods_row *m, const char *name)
{
	const struct methods_param *p;

	for (p = m->params; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

const char *
methods_param_type_name(enum methods_param_type t)
{
	static const char *names[METHODS_T__MAX] = {"string", "integer",
	    "boolean", "string[]", "object", "array", "string|string[]", "fd",
	    "any"};

	return t < METHODS_T__MAX ? names[t] : "?";
}

/* Whether v has type t (bounds are checked by the caller). */
static int
methods_type_ok(enum methods_param_type t, const json_t *v)
{
	size_t i;
	json_t *e;

	switch (t) {
	case METHODS_T_STRING:
		return json_is_string(v);
	case METHODS_T_INT:
		return json_is_integer(v);
	case METHODS_T_BOOL:
		return json_is_boolean(v);
	case METHODS_T_STRINGS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return 0;
		return 1;
	case METHODS_T_OBJECT:
		return json_is_object(v);
	case METHODS_T_ARRAY:
		return json_is_array(v);
	case METHODS_T_FD:
		return json_is_object(v) && json_object_size(v) == 1 &&
		    json_is_integer(json_object_get(v, "$fd"));
	case METHODS_T_STRLIST:
		return json_is_string(v) ||
		    methods_type_ok(METHODS_T_STRINGS, v);
	case METHODS_T_ANY:
		return 1;
	case METHODS_T__MAX:
		break;
	}
	return 0;
}

int
methods_segment_ok(const char *s, size_t len)
{
	return len > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int
methods_check_params(
    const struct methods_row *m, const json_t *params, char *err, size_t errlen)
{
	const struct methods_param *p;
	const char *key;
	json_t *v;
	json_int_t iv;

	json_object_foreach((json_t *)params, key, v) {
		if ((p = methods_param_find(m, key)) == NULL) {
			snprintf(err, errlen,
			    "unknown parameter '%.64s' for %s", key, m->name);
			return -EINVAL;
		}
		if (!methods_type_ok(p->type, v)) {
			snprintf(err, errlen, "parameter '%s' must be %s %s",
			    p->name, p->type == METHODS_T_INT ? "an" : "a",
			    methods_param_type_name(p->type));
			return -EINVAL;
		}
		if (p->type == METHODS_T_INT && p->min < p->max) {
			iv = json_integer_value(v);
			if (iv < p->min || iv > p->max) {
				snprintf(err, errlen,
				    "parameter '%s' must be between %lld and "
				    "%lld",
				    p->name, p->min, p->max);
				return -EINVAL;
			}
		}
		if (p->type == METHODS_T_STRING &&
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen,
			    "parameter '%s' must not contain NUL", p->name);
			return -EINVAL;
		}
		if (p->type == METHODS_T_STRING &&
		    (p->flags & METHODS_F_NONEMPTY) &&
		    json_string_length(v) == 0) {
			snprintf(err, errlen,
			    "parameter '%s' must not be empty", p->name);
			return -EINVAL;
		}
		/* A path segment of "." or ".." would name another route
		 * once a proxy normalises the URL. */
		if (p->type == METHODS_T_STRING && p->in == METHODS_IN_PATH &&
		    !methods_segment_ok(
			json_string_value(v), json_string_length(v))) {
			snprintf(err, errlen,
			    "parameter '%s' is not a valid identifier",
			    p->name);
			return -EINVAL;
		}
	}
	for (p = m->params; p->name != NULL; p++) {
		if ((p->flags & METHODS_F_REQUIRED) &&
		    json_object_get(params, p->name) == NULL) {
			snprintf(err, errlen, "missing required parameter '%s'",
			    p->name);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *
methods_names(void)
{
	const struct methods_row *m;
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; (m = methods_at(i)) != NULL; i++)
		json_array_append_new(a, json_string(m->name));
	return a;
}

json_t *
methods_describe(const struct methods_row *m)
{
	const struct methods_param *p;
	json_t *o, *params, *po;

	params = json_array();
	for (p = m->params; p->name != NULL; p++) {
		po = json_pack("{s:s, s:s, s:b, s:s}", "name", p->name, "type",
		    methods_param_type_name(p->type), "required",
		    (p->flags & METHODS_F_REQUIRED) != 0, "doc", p->doc);
		if (po != NULL && p->type == METHODS_T_INT && p->min < p->max) {
			json_object_set_new(po, "min", json_integer(p->min));
			json_object_set_new(po, "max", json_integer(p->max));
		}
		json_array_append_new(params, po);
	}
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:s}", "name", m->name,
	    "summary", m->summary, "params", params, "credential",
	    role_cred_name(m->cred), "role", role_name(m->role), "stream",
	    (m->flags & METHODS_STREAM) != 0, "result",
	    m->result == METHODS_RES_EMPTY ? "empty" : "object");
	/* The proxy wants the API key on 172413e and nothing on v0.1.5,
	 * where any credential serves the method's own record reads. */
	if (o != NULL && m->cred == ROLE_CRED_APIKEY)
		json_object_set_new(o, "credential_by_server",
		    json_pack("{s:s, s:s}", "172413e", role_cred_name(m->cred),
			"v0.1.5", role_cred_name(ROLE_CRED_ANY)));
	if (o != NULL && (m->flags & METHODS_SLOW))
		json_object_set_new(o, "slow", json_true());
	if (o != NULL && (m->flags & METHODS_NEEDS_CAPSULES))
		json_object_set_new(
		    o, "needs_server", json_string("v0.1.5 (/v1/capsules)"));
	if (o != NULL && m->verb != NULL && m->path != NULL)
		json_object_set_new(o, "upstream",
		    json_pack(
			"{s:s, s:s}", "method", m->verb, "path", m->path));
	return o;
}
