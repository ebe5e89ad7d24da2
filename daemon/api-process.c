/* SPDX-License-Identifier: MIT */
/*
 * Background processes in a sandbox (control plane v0.1.5, /v1/capsules):
 * sandbox.processes lists what the sandbox's agent tracks, sandbox.kill
 * signals one process by pid or tag. Background execs start through
 * sandbox.exec (background: true, api-sandbox.c, a pass-through of the
 * server's answer) or api_process_start (a durable exec stream); a
 * process is followed with sandbox.attach_process (stream.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "ipc.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"

/* The longest selector (a tag) sent upstream. */
#define API_PROCESS_SELECTOR_MAX 128

int
api_process_selector(struct call *call, const char *name, char *buf, size_t len)
{
	json_t *v = json_object_get(call_params(call), name);
	const char *s;
	size_t n, i;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 ||
		    json_integer_value(v) > 4294967295LL)
			goto bad;
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return 0;
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > API_PROCESS_SELECTOR_MAX || n >= len ||
	    !methods_segment_ok(s, n))
		goto bad;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == '/' || s[i] == 0x7f)
			goto bad;
	memcpy(buf, s, n + 1);
	return 0;
bad:
	call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
	    "parameter '%s' must be %sa tag (1 to %d printable characters, "
	    "no '/')",
	    name,
	    strcmp(name, "selector") == 0 ? "a pid (0 to 4294967295) or " : "",
	    API_PROCESS_SELECTOR_MAX);
	return -1;
}

char *
api_process_path(const struct call *call, const char *sandbox_id,
    const char *selector, const char *tail)
{
	char *esc, *suffix, *path;

	if ((esc = upstream_escape(selector, strlen(selector))) == NULL)
		return NULL;
	if (asprintf(&suffix, "/processes/%s%s", esc, tail) == -1)
		suffix = NULL;
	free(esc);
	if (suffix == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	path = rest_call_sandbox_path(call, sandbox_id, suffix);
	free(suffix);
	return path;
}

int
api_process_envs_ok(struct call *call)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(call_params(call), "envs"), key, v)
		if (!json_is_string(v)) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter 'envs': the value of '%.64s' must be a "
			    "string",
			    key);
			return -1;
		}
	return 0;
}

/*
 * verb suffix of call's sandbox_id (rest_call_sandbox_path; body as JSON
 * unless NULL) for the state st of one of this file's helpers: done(st)
 * runs when it is answered, cancel(call, st) if the call goes away
 * first; *slot gets the request. Returns 0, or -1 after failing the call
 * (st is the caller's to free).
 */
static int
api_process_request(struct call *call, const char *verb, const char *suffix,
    const json_t *body, upstream_done_cb done, call_cancel_cb cancel, void *st,
    struct upstream_req **slot)
{
	struct upstream_req *req;
	char *path;

	path = rest_call_sandbox_path(call,
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    suffix);
	if (path == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is not a valid identifier");
		return -1;
	}
	req = rest_request(call, verb, path, body);
	free(path);
	if (req == NULL || rest_start(call, req, 0, done, st) != 0)
		return -1;
	*slot = req;
	call_set_cancel(call, cancel, st);
	return 0;
}

/* An api_process_find in flight. */
struct api_process_lookup {
	struct call *call;	  /* borrowed */
	struct upstream_req *req; /* borrowed while in flight */
	char *selector;		  /* owned */
	api_process_found_cb done;
	void *arg;
};

const json_t *
api_process_match(const json_t *list, const char *selector)
{
	const json_t *p;
	size_t i;
	char pid[24];

	json_array_foreach(json_object_get(list, "processes"), i, p) {
		const char *tag = json_string_value(json_object_get(p, "tag"));

		snprintf(pid, sizeof(pid), "%lld",
		    (long long)json_integer_value(json_object_get(p, "pid")));
		if ((tag != NULL && strcmp(tag, selector) == 0) ||
		    (json_is_integer(json_object_get(p, "pid")) &&
			strcmp(pid, selector) == 0))
			return p;
	}
	return NULL;
}

static void
api_process_lookup_free(struct api_process_lookup *l)
{
	free(l->selector);
	free(l);
}

/* The call went away: abort the request (its callback will not run). */
static void
api_process_find_cancel_cb(struct call *call, void *arg)
{
	struct api_process_lookup *l = arg;

	upstream_req_cancel(l->req);
	api_process_lookup_free(l);
}

static void
api_process_find_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct api_process_lookup *l = arg;
	json_t *body;

	if (rest_done(l->call, res) == 0) {
		body = json_loadb(res->body, res->body_len, 0, NULL);
		if (!json_is_array(json_object_get(body, "processes")))
			call_fail(l->call, IPC_ERR_APPLICATION,
			    "upstream_protocol", NULL,
			    "the control plane's process list is not "
			    "{\"processes\": [...]}");
		else
			l->done(l->call, api_process_match(body, l->selector),
			    l->arg);
		json_decref(body);
	}
	api_process_lookup_free(l);
}

int
api_process_find(struct call *call, const char *selector,
    api_process_found_cb done, void *arg)
{
	struct api_process_lookup *l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->selector = strdup(selector)) == NULL) {
		free(l);
		call_fail_oom(call);
		return -1;
	}
	l->call = call;
	l->done = done;
	l->arg = arg;
	if (api_process_request(call, "GET", "/processes", NULL,
		api_process_find_done, api_process_find_cancel_cb, l,
		&l->req) != 0) {
		api_process_lookup_free(l);
		return -1;
	}
	return 0;
}

/* An api_process_start in flight. */
struct api_process_starting {
	struct call *call;	  /* borrowed */
	struct upstream_req *req; /* borrowed while in flight */
	api_process_started_cb done;
	void *arg;
};

/* The call went away: abort the request (its callback will not run). */
static void
api_process_start_cancel_cb(struct call *call, void *arg)
{
	struct api_process_starting *st = arg;

	upstream_req_cancel(st->req);
	st->done(NULL, -1, st->arg);
	free(st);
}

static void
api_process_start_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct api_process_starting *st = arg;
	json_t *body, *v;
	int64_t pid = -1;

	if (rest_done(st->call, res) == 0) {
		body = json_loadb(res->body, res->body_len, 0, NULL);
		v = json_object_get(body, "pid");
		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) <= 4294967295LL)
			pid = json_integer_value(v);
		else
			call_fail(st->call, IPC_ERR_APPLICATION,
			    "upstream_protocol", NULL,
			    "the control plane's answer to a background exec "
			    "has no pid");
		json_decref(body);
	}
	st->done(st->call, pid, st->arg);
	free(st);
}

int
api_process_start(struct call *call, const json_t *body,
    api_process_started_cb done, void *arg)
{
	struct api_process_starting *st = NULL;
	json_t *b;
	int r;

	if ((b = json_deep_copy(body)) == NULL ||
	    json_object_set_new(b, "background", json_true()) != 0 ||
	    (st = calloc(1, sizeof(*st))) == NULL) {
		json_decref(b);
		call_fail_oom(call);
		return -1;
	}
	st->call = call;
	st->done = done;
	st->arg = arg;
	r = api_process_request(call, "POST", "/exec", b,
	    api_process_start_done, api_process_start_cancel_cb, st, &st->req);
	json_decref(b);
	if (r != 0)
		free(st);
	return r;
}

static void
api_process_kill_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;

	if (rest_done(call, res) == 0)
		call_reply(call, json_object());
}

/* sandbox.kill: DELETE .../processes/{selector}[?signal=SIGTERM]. */
static void
api_process_kill(struct call *call)
{
	const char *sig;
	char sel[API_PROCESS_SELECTOR_MAX + 1], *path;
	struct upstream_req *req;

	sig = json_string_value(json_object_get(call_params(call), "signal"));
	if (sig != NULL && strcmp(sig, "SIGTERM") != 0 &&
	    strcmp(sig, "SIGKILL") != 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'signal' must be \"SIGTERM\" or \"SIGKILL\"");
		return;
	}
	if (api_process_selector(call, "selector", sel, sizeof(sel)) != 0)
		return;
	/* The server sends SIGKILL for any value but SIGTERM. */
	path = api_process_path(call,
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    sel,
	    sig != NULL && strcmp(sig, "SIGTERM") == 0 ? "?signal=SIGTERM"
						       : "");
	if (path == NULL && errno == ENOMEM)
		goto oom;
	if (path == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is not a valid identifier");
		return;
	}
	req = rest_request(call, "DELETE", path, NULL);
	free(path);
	if (req != NULL)
		(void)rest_start(
		    call, req, REST_CANCEL, api_process_kill_done, call);
	return;
oom:
	call_fail_oom(call);
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_processes[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_kill[] = {
    METHODS_P_SANDBOX_ID_LOCAL,
    {.name = "selector",
	.type = METHODS_T_ANY,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.doc = "the process: its pid (a number) or its tag (a string)"},
    {.name = "signal",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "\"SIGTERM\" or \"SIGKILL\" (default SIGKILL)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_process_rows[] = {
    {
	.name = "sandbox.processes",
	.summary = "processes running in a sandbox (background execs, PTYs)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/sandboxes/{sandbox_id}/processes",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_processes,
    },
    {
	.name = "sandbox.kill",
	.summary = "signal a process in a sandbox by pid or tag",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_kill,
	.handler = api_process_kill,
    },
    {
	.name = "admin.kill",
	.summary = "signal a process in a platform sandbox, as sandbox.kill",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_kill,
	.handler = api_process_kill,
    },
};

const struct api_table api_process_methods = API_TABLE(api_process_rows);
