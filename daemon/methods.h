/* SPDX-License-Identifier: MIT */
/*
 * The method table: every wrenn-ipc/1 method as one row of data (name,
 * parameters with types and where they go upstream, the credential and
 * local role it needs, and either an upstream route or a handler). Most
 * rows are plain REST pass-throughs run by rest.c; rows with a handler are
 * the calls that are more than one request (waits, streams, files).
 * rpc.describe, the hello method list, parameter validation and the
 * credential check are all derived from this table.
 */
#ifndef WRENND_METHODS_H
#define WRENND_METHODS_H

#include <stddef.h>

#include <jansson.h>

#include "role.h"

struct call;

enum param_type {
	PT_STRING,  /* JSON string */
	PT_INT,	    /* JSON integer within [min, max] */
	PT_BOOL,    /* true / false */
	PT_STRINGS, /* array of strings */
	PT_OBJECT,  /* any object */
	PT_ARRAY,   /* any array */
	PT_STRLIST, /* a string or an array of strings */
	PT_FD,	    /* {"$fd": n}: the n-th fd passed with the request */
	PT_ANY,	    /* any JSON value */
	PT__MAX
};

/* Where a parameter goes in the upstream request. */
enum param_in {
	PIN_BODY,  /* member of the JSON body */
	PIN_PATH,  /* {name} in the path template, escaped */
	PIN_QUERY, /* ?name=value, escaped */
	PIN_LOCAL, /* consumed by the daemon */
	PIN__MAX
};

#define PF_REQUIRED 0x1 /* must be present */
#define PF_NONEMPTY 0x2 /* strings: not "" */

struct method_param {
	const char *name;
	enum param_type type;
	enum param_in in;
	unsigned flags;	    /* PF_* */
	long long min, max; /* PT_INT bounds when min < max */
	const char *doc;
};

/* How a successful upstream answer becomes a result. */
enum method_result {
	MRES_JSON,  /* the upstream JSON unchanged ({} for an empty body) */
	MRES_EMPTY, /* 204: {} */
	MRES_LOCAL, /* built by the handler */
	MRES__MAX
};

#define METHOD_STREAM	    0x1 /* sends $/stream events */
#define METHOD_EXEC_TIMEOUT 0x2 /* deadline from timeout_sec + margin */
#define METHOD_BODY	    0x4 /* always send a JSON body ({} if empty) */

struct method {
	const char *name;    /* namespace.verb */
	const char *summary; /* one line for rpc.describe */
	enum role_cred cred;
	enum role role;	  /* weakest local role allowed */
	const char *verb; /* HTTP method for pass-throughs */
	const char *path; /* path template, e.g. /v1/sandboxes/{sandbox_id} */
	enum method_result result;
	unsigned flags;			    /* METHOD_* */
	const struct method_param *params;  /* NULL-name terminated */
	void (*handler)(struct call *call); /* NULL: REST pass-through;
					     * answers the call now or later */
};

/* Look a method up by name; NULL when unknown. */
const struct method *methods_find(const char *name);
/* The whole table (n rows in *ret_n). */
const struct method *methods_all(size_t *ret_n);

/*
 * Check params against the row: unknown names, types, bounds, required.
 * Returns 0, or -EINVAL with a message naming the parameter in err.
 */
int methods_check_params(
    const struct method *m, const json_t *params, char *err, size_t errlen);

/*
 * Whether s (len bytes) may be one path segment of an upstream URL: not
 * empty, not "." and not "..".
 */
int methods_segment_ok(const char *s, size_t len);

/* A parameter's description by name, or NULL. */
const struct method_param *methods_param(
    const struct method *m, const char *name);

/* Name of a parameter type for rpc.describe. */
const char *param_type_name(enum param_type t);

/* JSON array of every method name (new reference). */
json_t *methods_names(void);
/* rpc.describe output for one method (new reference). */
json_t *methods_describe(const struct method *m);

#endif /* WRENND_METHODS_H */
