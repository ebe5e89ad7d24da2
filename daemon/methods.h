/* SPDX-License-Identifier: MIT */
/*
 * Method rows and the generic checker. Every wrenn-ipc/1 method is one
 * row of data (struct methods_row: name, parameters with types and where they
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

enum methods_param_type {
	METHODS_T_STRING,  /* JSON string */
	METHODS_T_INT,	   /* JSON integer within [min, max] */
	METHODS_T_BOOL,	   /* true / false */
	METHODS_T_STRINGS, /* array of strings */
	METHODS_T_OBJECT,  /* any object */
	METHODS_T_ARRAY,   /* any array */
	METHODS_T_STRLIST, /* a string or an array of strings */
	METHODS_T_FD,	   /* {"$fd": n}: the n-th fd passed with the request */
	METHODS_T_ANY,	   /* any JSON value */
	METHODS_T__MAX
};

/* Where a parameter goes in the upstream request. */
enum methods_param_in {
	METHODS_IN_BODY,  /* member of the JSON body */
	METHODS_IN_PATH,  /* {name} in the path template, escaped */
	METHODS_IN_QUERY, /* ?name=value, escaped */
	METHODS_IN_LOCAL, /* consumed by the daemon */
	METHODS_IN__MAX
};

#define METHODS_F_REQUIRED 0x1 /* must be present */
#define METHODS_F_NONEMPTY 0x2 /* strings: not "" */

/* One parameter; a list of them ends with METHODS_PARAMS_END. */
struct methods_param {
	const char *name; /* NULL ends the list */
	enum methods_param_type type;
	enum methods_param_in in;
	unsigned flags;	    /* PF_* */
	long long min, max; /* METHODS_T_INT bounds when min < max */
	const char *doc;    /* one line for rpc.describe */
};

#define METHODS_PARAMS_END                                                     \
	{                                                                      \
		.name = NULL                                                   \
	}

/* The bounds of the control plane's 32-bit integers. */
#define METHODS_I32_MIN (-2147483647LL - 1)
#define METHODS_I32_MAX 2147483647LL

/* Parameters that several handler files share. */
#define METHODS_P_SANDBOX_ID                                                   \
	{                                                                      \
		.name = "sandbox_id", .type = METHODS_T_STRING,                \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "sandbox id (cl-...)"                                   \
	}
/* The same for a handler that builds its upstream paths itself. */
#define METHODS_P_SANDBOX_ID_LOCAL                                             \
	{                                                                      \
		.name = "sandbox_id", .type = METHODS_T_STRING,                \
		.in = METHODS_IN_LOCAL,                                        \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "sandbox id (cl-...)"                                   \
	}
#define METHODS_P_TEAM_ID                                                      \
	{                                                                      \
		.name = "team_id", .type = METHODS_T_STRING,                   \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "team id (team-...); must be the JWT's active team"     \
	}
#define METHODS_P_TEMPLATE_NAME                                                \
	{                                                                      \
		.name = "name", .type = METHODS_T_STRING,                      \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "template name"                                         \
	}
/* An integer parameter in the range of a Go int32 (the server's type). */
#define METHODS_P_I32(name_, in_, doc_)                                        \
	{                                                                      \
		.name = (name_), .type = METHODS_T_INT, .in = (in_),           \
		.min = METHODS_I32_MIN, .max = METHODS_I32_MAX, .doc = (doc_)  \
	}
/* What a sandbox is made of: sandboxes.create and admin.create_sandbox. */
#define METHODS_P_SANDBOX_SPEC                                                 \
	{.name = "template",                                                   \
	    .type = METHODS_T_STRING,                                          \
	    .in = METHODS_IN_BODY,                                             \
	    .doc = "template or snapshot name (default minimal)"},             \
	    METHODS_P_I32(                                                     \
		"vcpus", METHODS_IN_BODY, "virtual CPUs (default 1)"),         \
	    METHODS_P_I32(                                                     \
		"memory_mb", METHODS_IN_BODY, "memory in MiB (default 512)"),  \
	    METHODS_P_I32("timeout_sec", METHODS_IN_BODY,                      \
		"inactivity seconds before auto-pause (0: never)")
/* The command of sandbox.exec and admin.exec (no shell). */
#define METHODS_P_EXEC_CMD                                                     \
	{.name = "cmd",                                                        \
	    .type = METHODS_T_STRING,                                          \
	    .in = METHODS_IN_BODY,                                             \
	    .flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,                  \
	    .doc = "executable, looked up in PATH; not run through a shell"},  \
	{                                                                      \
		.name = "args", .type = METHODS_T_STRINGS,                     \
		.in = METHODS_IN_BODY, .doc = "argv[1..]"                      \
	}
/* The range of sandbox.metrics and admin.metrics. */
#define METHODS_P_METRICS_RANGE                                                \
	{                                                                      \
		.name = "range", .type = METHODS_T_STRING,                     \
		.in = METHODS_IN_QUERY,                                        \
		.doc = "5m, 10m, 1h, 2h, 6h, 12h or 24h (default 10m)"         \
	}

/* The parameter list of a method that takes none. */
extern const struct methods_param methods_no_params[];

/* How a successful upstream answer becomes a result. */
enum methods_result {
	METHODS_RES_JSON,  /* the upstream JSON unchanged ({} for an empty body)
			    */
	METHODS_RES_EMPTY, /* 204: {} */
	METHODS_RES_LOCAL, /* built by the handler */
	METHODS_RES__MAX
};

#define METHODS_STREAM	     0x1 /* sends $/stream events */
#define METHODS_EXEC_TIMEOUT 0x2 /* deadline from timeout_sec + margin */
#define METHODS_BODY	     0x4 /* always send a JSON body ({} if empty) */
/* Needs the v0.1.5 control plane (/v1/capsules): against the 172413e one
 * the call fails with "unsupported_by_server", nothing sent (dialect.h). */
#define METHODS_NEEDS_CAPSULES 0x8
/* Answered by wrennd alone: it needs a credential (to say what it would
 * carry) but sends nothing, so it never waits for the dialect probe. */
#define METHODS_NO_UPSTREAM 0x10
/* A slow call (pause, snapshot: the host writes the sandbox's memory out,
 * tens of seconds): its upstream deadline is METHODS_SLOW_MS, or
 * request-timeout when that is longer. */
#define METHODS_SLOW	0x20
#define METHODS_SLOW_MS 600000

/*
 * One method. Written with designated initializers; a field left out is
 * 0: no verb, path or handler, METHODS_RES_JSON, no flags. Name, summary, cred,
 * role and params are always written (tests/unit/test-methods.c checks).
 *
 * A row whose role is ROLE_TOOL and that has a sandbox_id parameter
 * serves a tool only for a sandbox that tool owns (owner.h): rpc.c checks
 * it at admission and answers not_found otherwise, as the control plane
 * does for a sandbox that does not exist. New rows get the rule by
 * declaring .role = ROLE_TOOL and METHODS_P_SANDBOX_ID.
 */
struct methods_row {
	const char *name;    /* namespace.verb */
	const char *summary; /* one line for rpc.describe */
	enum role_cred cred;
	enum role role;	  /* weakest local role allowed */
	const char *verb; /* HTTP method for pass-throughs */
	const char *path; /* path template, e.g. /v1/sandboxes/{sandbox_id} */
	enum methods_result result;
	unsigned flags;			    /* METHODS_* */
	const struct methods_param *params; /* ends with METHODS_PARAMS_END */
	void (*handler)(struct call *call); /* NULL: REST pass-through;
					     * answers the call now or later */
	/*
	 * A pass-through's 2xx result (stolen; {} for METHODS_RES_EMPTY) before
	 * the reply: returns what to reply with, or NULL after failing the
	 * call. NULL: the result is sent as it is.
	 */
	json_t *(*after)(struct call *call, json_t *result);
};

/* Look a method up by name (a binary search); NULL when unknown. */
const struct methods_row *methods_find(const char *name);
/* The i-th method in hello order (0, 1, ...), or NULL past the last. */
const struct methods_row *methods_at(size_t i);

/*
 * Check params against the row: unknown names, types, bounds, required.
 * Returns 0, or -EINVAL with a message naming the parameter in err.
 */
int methods_check_params(const struct methods_row *m, const json_t *params,
    char *err, size_t errlen);

/*
 * Whether s (len bytes) may be one path segment of an upstream URL: not
 * empty, not "." and not "..".
 */
int methods_segment_ok(const char *s, size_t len);

/* A parameter's description by name, or NULL. */
const struct methods_param *methods_param_find(
    const struct methods_row *m, const char *name);

/* Name of a parameter type for rpc.describe. */
const char *methods_param_type_name(enum methods_param_type t);

/* JSON array of every method name (new reference). */
json_t *methods_names(void);
/* rpc.describe output for one method (new reference). */
json_t *methods_describe(const struct methods_row *m);

#endif /* WRENND_METHODS_H */
