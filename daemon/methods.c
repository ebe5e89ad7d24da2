/* SPDX-License-Identifier: MIT */
/*
 * The method table (see methods.h) and the generic parameter checker.
 * Adding a pass-through method is one row here plus a test.
 */
#include "config.h"

#include "methods.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

#define I32_MIN (-2147483647LL - 1)
#define I32_MAX 2147483647LL

/* Parameter lists. A NULL name ends each list. */
#define P_END { NULL, PT__MAX, PIN__MAX, 0, 0, 0, NULL }
#define P_SANDBOX_ID                                                        \
	{ "sandbox_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0, 0, \
	    "sandbox id (cl-...)" }

static const struct method_param p_none[] = { P_END };

static const struct method_param p_sandbox[] = { P_SANDBOX_ID, P_END };

static const struct method_param p_sandboxes_create[] = {
	{ "template", PT_STRING, PIN_BODY, 0, 0, 0,
	    "template or snapshot name (default minimal)" },
	{ "vcpus", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	    "virtual CPUs (default 1)" },
	{ "memory_mb", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	    "memory in MiB (default 512)" },
	{ "timeout_sec", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	    "inactivity seconds before auto-pause (0: never)" },
	P_END
};

static const struct method_param p_stats[] = {
	{ "range", PT_STRING, PIN_QUERY, 0, 0, 0,
	    "5m, 1h, 6h, 24h or 30d (default 1h)" },
	P_END
};

static const struct method_param p_exec[] = {
	P_SANDBOX_ID,
	{ "cmd", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	    "executable, looked up in PATH; not run through a shell" },
	{ "args", PT_STRINGS, PIN_BODY, 0, 0, 0, "argv[1..]" },
	{ "timeout_sec", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	    "seconds before the command is killed (default 30)" },
	P_END
};

static const struct method_param p_wait_ready[] = {
	P_SANDBOX_ID,
	{ "timeout_sec", PT_INT, PIN_LOCAL, 0, 1, 86400,
	    "seconds to wait (default 30)" },
	P_END
};

static const struct method_param p_metrics[] = {
	P_SANDBOX_ID,
	{ "range", PT_STRING, PIN_QUERY, 0, 0, 0,
	    "5m, 10m, 1h, 2h, 6h, 12h or 24h (default 10m)" },
	P_END
};

static const struct method_param p_describe[] = {
	{ "method", PT_STRING, PIN_LOCAL, 0, 0, 0,
	    "describe only this method" },
	P_END
};

static const struct method_param p_hello[] = {
	{ "client", PT_STRING, PIN_LOCAL, 0, 0, 0, "client name/version" },
	{ "protocol", PT_INT, PIN_LOCAL, 0, 0, 1000,
	    "protocol major version the client speaks" },
	{ "enable", PT_STRINGS, PIN_LOCAL, 0, 0, 0,
	    "capabilities to enable" },
	P_END
};

static const struct method methods[] = {
	/* Protocol and daemon. */
	{ "rpc.hello", "negotiate protocol version and capabilities",
	    MCRED_NONE, ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_hello,
	    client_rpc_hello },
	{ "rpc.describe", "describe the methods, their params and needs",
	    MCRED_NONE, ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_describe,
	    api_rpc_describe },
	{ "daemon.status", "daemon version, upstream, credentials, counters",
	    MCRED_NONE, ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_none,
	    api_daemon_status },

	/* Sandboxes (collection). */
	{ "sandboxes.create", "create a sandbox", MCRED_ANY, ROLE_USER,
	    "POST", "/v1/sandboxes", MRES_JSON, METHOD_BODY,
	    p_sandboxes_create, NULL },
	{ "sandboxes.list", "list the team's live sandboxes", MCRED_ANY,
	    ROLE_USER, "GET", "/v1/sandboxes", MRES_JSON, 0, p_none, NULL },
	{ "sandboxes.get", "get one sandbox", MCRED_ANY, ROLE_USER, "GET",
	    "/v1/sandboxes/{sandbox_id}", MRES_JSON, 0, p_sandbox, NULL },
	{ "sandboxes.destroy", "destroy a sandbox", MCRED_ANY, ROLE_USER,
	    "DELETE", "/v1/sandboxes/{sandbox_id}", MRES_EMPTY, 0, p_sandbox,
	    NULL },
	{ "sandboxes.get_stats", "team usage statistics", MCRED_ANY,
	    ROLE_USER, "GET", "/v1/sandboxes/stats", MRES_JSON, 0, p_stats,
	    NULL },

	/* One sandbox. */
	{ "sandbox.exec", "run a command and wait for its output", MCRED_ANY,
	    ROLE_USER, "POST", "/v1/sandboxes/{sandbox_id}/exec", MRES_JSON,
	    METHOD_BODY | METHOD_EXEC_TIMEOUT, p_exec, NULL },
	{ "sandbox.ping", "reset the inactivity timer", MCRED_ANY, ROLE_USER,
	    "POST", "/v1/sandboxes/{sandbox_id}/ping", MRES_EMPTY, 0,
	    p_sandbox, NULL },
	{ "sandbox.pause", "snapshot and release a running sandbox",
	    MCRED_ANY, ROLE_USER, "POST", "/v1/sandboxes/{sandbox_id}/pause",
	    MRES_JSON, 0, p_sandbox, NULL },
	{ "sandbox.resume", "restore a paused sandbox", MCRED_ANY, ROLE_USER,
	    "POST", "/v1/sandboxes/{sandbox_id}/resume", MRES_JSON, 0,
	    p_sandbox, NULL },
	{ "sandbox.wait_ready", "wait until a sandbox is running", MCRED_ANY,
	    ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}", MRES_LOCAL, 0,
	    p_wait_ready, api_sandbox_wait_ready },
	{ "sandbox.metrics", "CPU, memory and disk time series", MCRED_ANY,
	    ROLE_USER, "GET", "/v1/sandboxes/{sandbox_id}/metrics", MRES_JSON,
	    0, p_metrics, NULL },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

const struct method *
methods_all(size_t *ret_n)
{
	*ret_n = NMETHODS;
	return methods;
}

const struct method *
methods_find(const char *name)
{
	size_t i;

	for (i = 0; i < NMETHODS; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

const struct method_param *
methods_param(const struct method *m, const char *name)
{
	const struct method_param *p;

	for (p = m->params; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

const char *
param_type_name(enum param_type t)
{
	static const char *names[PT__MAX] = { "string", "integer", "boolean",
		"string[]", "object", "array", "any" };

	return t < PT__MAX ? names[t] : "?";
}

const char *
method_cred_name(enum method_cred c)
{
	static const char *names[MCRED__MAX] = { "none", "api_key_or_jwt",
		"jwt", "admin_jwt" };

	return c < MCRED__MAX ? names[c] : "?";
}

/* Whether v has type t (bounds are checked by the caller). */
static int
methods_type_ok(enum param_type t, const json_t *v)
{
	size_t i;
	json_t *e;

	switch (t) {
	case PT_STRING:
		return json_is_string(v);
	case PT_INT:
		return json_is_integer(v);
	case PT_BOOL:
		return json_is_boolean(v);
	case PT_STRINGS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return 0;
		return 1;
	case PT_OBJECT:
		return json_is_object(v);
	case PT_ARRAY:
		return json_is_array(v);
	case PT_ANY:
		return 1;
	case PT__MAX:
		break;
	}
	return 0;
}

int
methods_check_params(const struct method *m, const json_t *params,
    char *err, size_t errlen)
{
	const struct method_param *p;
	const char *key;
	json_t *v;
	json_int_t iv;

	json_object_foreach((json_t *)params, key, v) {
		if ((p = methods_param(m, key)) == NULL) {
			snprintf(err, errlen, "unknown parameter '%.64s' for %s",
			    key, m->name);
			return -EINVAL;
		}
		if (!methods_type_ok(p->type, v)) {
			snprintf(err, errlen, "parameter '%s' must be %s %s",
			    p->name, p->type == PT_INT ? "an" : "a",
			    param_type_name(p->type));
			return -EINVAL;
		}
		if (p->type == PT_INT && p->min < p->max) {
			iv = json_integer_value(v);
			if (iv < p->min || iv > p->max) {
				snprintf(err, errlen,
				    "parameter '%s' must be between %lld and "
				    "%lld",
				    p->name, p->min, p->max);
				return -EINVAL;
			}
		}
		if (p->type == PT_STRING &&
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen,
			    "parameter '%s' must not contain NUL", p->name);
			return -EINVAL;
		}
		if (p->type == PT_STRING && (p->flags & PF_NONEMPTY) &&
		    json_string_length(v) == 0) {
			snprintf(err, errlen, "parameter '%s' must not be empty",
			    p->name);
			return -EINVAL;
		}
	}
	for (p = m->params; p->name != NULL; p++) {
		if ((p->flags & PF_REQUIRED) &&
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
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < NMETHODS; i++)
		json_array_append_new(a, json_string(methods[i].name));
	return a;
}

json_t *
methods_describe(const struct method *m)
{
	const struct method_param *p;
	json_t *o, *params, *po;

	params = json_array();
	for (p = m->params; p->name != NULL; p++) {
		po = json_pack("{s:s, s:s, s:b, s:s}", "name", p->name, "type",
		    param_type_name(p->type), "required",
		    (p->flags & PF_REQUIRED) != 0, "doc", p->doc);
		if (po != NULL && p->type == PT_INT && p->min < p->max) {
			json_object_set_new(po, "min", json_integer(p->min));
			json_object_set_new(po, "max", json_integer(p->max));
		}
		json_array_append_new(params, po);
	}
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:s}", "name", m->name,
	    "summary", m->summary, "params", params, "credential",
	    method_cred_name(m->cred), "role", role_name(m->role), "stream",
	    (m->flags & METHOD_STREAM) != 0, "result",
	    m->result == MRES_EMPTY ? "empty" : "object");
	if (o != NULL && m->verb != NULL && m->path != NULL)
		json_object_set_new(o, "upstream",
		    json_pack("{s:s, s:s}", "method", m->verb, "path", m->path));
	return o;
}
