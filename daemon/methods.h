/* SPDX-License-Identifier: MIT */
/*
 * Method rows and the generic checker. Every wrenn-ipc/1 method is one
 * row of data (struct method: name, parameters with types and where they
 * go upstream, the credential and local role it needs, and either an
 * upstream route or a handler), written with designated initializers in
 * the handler file of its resource, next to its handler and parameter
 * lists; each such file exports its rows as one struct api_table (api.h).
 * methods.c is the list of those tables, in the documented hello order,
 * plus what is derived from them: lookup, parameter validation,
 * rpc.describe output and the hello method list. Most rows are plain
 * REST pass-throughs run by rest.c; rows with a handler are the calls
 * that are more than one request (waits, streams, files).
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

/* One parameter; a list of them ends with METHOD_PARAMS_END. */
struct method_param {
	const char *name; /* NULL ends the list */
	enum param_type type;
	enum param_in in;
	unsigned flags;	    /* PF_* */
	long long min, max; /* PT_INT bounds when min < max */
	const char *doc;    /* one line for rpc.describe */
};

#define METHOD_PARAMS_END                                                      \
	{                                                                      \
		.name = NULL                                                   \
	}

/* The bounds of the control plane's 32-bit integers. */
#define METHOD_I32_MIN (-2147483647LL - 1)
#define METHOD_I32_MAX 2147483647LL

/* Parameters that several handler files share. */
#define METHOD_P_SANDBOX_ID                                                    \
	{                                                                      \
		.name = "sandbox_id", .type = PT_STRING, .in = PIN_PATH,       \
		.flags = PF_REQUIRED | PF_NONEMPTY,                            \
		.doc = "sandbox id (cl-...)"                                   \
	}
/* The same for a handler that builds its upstream paths itself. */
#define METHOD_P_SANDBOX_ID_LOCAL                                              \
	{                                                                      \
		.name = "sandbox_id", .type = PT_STRING, .in = PIN_LOCAL,      \
		.flags = PF_REQUIRED | PF_NONEMPTY,                            \
		.doc = "sandbox id (cl-...)"                                   \
	}
#define METHOD_P_TEAM_ID                                                       \
	{                                                                      \
		.name = "team_id", .type = PT_STRING, .in = PIN_PATH,          \
		.flags = PF_REQUIRED | PF_NONEMPTY,                            \
		.doc = "team id (team-...); must be the JWT's active team"     \
	}
#define METHOD_P_TEMPLATE_NAME                                                 \
	{                                                                      \
		.name = "name", .type = PT_STRING, .in = PIN_PATH,             \
		.flags = PF_REQUIRED | PF_NONEMPTY, .doc = "template name"     \
	}

/* The parameter list of a method that takes none. */
extern const struct method_param methods_no_params[];

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
/* Needs the v0.1.5 control plane (/v1/capsules): against the 172413e one
 * the call fails with "unsupported_by_server", nothing sent (dialect.h). */
#define METHOD_NEEDS_CAPSULES 0x8
/* Answered by wrennd alone: it needs a credential (to say what it would
 * carry) but sends nothing, so it never waits for the dialect probe. */
#define METHOD_NO_UPSTREAM 0x10

/*
 * One method. Written with designated initializers; a field left out is
 * 0: no verb, path or handler, MRES_JSON, no flags. Name, summary, cred,
 * role and params are always written (tests/unit/test-methods.c checks).
 *
 * A row whose role is ROLE_TOOL and that has a sandbox_id parameter
 * serves a tool only for a sandbox that tool owns (owner.h): rpc.c checks
 * it at admission and answers not_found otherwise, as the control plane
 * does for a sandbox that does not exist. New rows get the rule by
 * declaring .role = ROLE_TOOL and METHOD_P_SANDBOX_ID.
 */
struct method {
	const char *name;    /* namespace.verb */
	const char *summary; /* one line for rpc.describe */
	enum role_cred cred;
	enum role role;	  /* weakest local role allowed */
	const char *verb; /* HTTP method for pass-throughs */
	const char *path; /* path template, e.g. /v1/sandboxes/{sandbox_id} */
	enum method_result result;
	unsigned flags;			    /* METHOD_* */
	const struct method_param *params;  /* ends with METHOD_PARAMS_END */
	void (*handler)(struct call *call); /* NULL: REST pass-through;
					     * answers the call now or later */
	/*
	 * A pass-through's 2xx result (stolen; {} for MRES_EMPTY) before
	 * the reply: returns what to reply with, or NULL after failing the
	 * call. NULL: the result is sent as it is.
	 */
	json_t *(*after)(struct call *call, json_t *result);
};

/* Look a method up by name (a binary search); NULL when unknown. */
const struct method *methods_find(const char *name);
/* The i-th method in hello order (0, 1, ...), or NULL past the last. */
const struct method *methods_at(size_t i);

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
const char *methods_param_type_name(enum param_type t);

/* JSON array of every method name (new reference). */
json_t *methods_names(void);
/* rpc.describe output for one method (new reference). */
json_t *methods_describe(const struct method *m);

#endif /* WRENND_METHODS_H */
