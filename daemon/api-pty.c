/* SPDX-License-Identifier: MIT */
/*
 * Interactive terminals in a sandbox (control plane v0.1.5, WS
 * /v1/capsules/{id}/pty): sandbox.pty starts a PTY or connects to a live
 * one by tag (admin.pty the same in a platform sandbox, under
 * /v1/admin/capsules), streams.input and streams.resize write to it. The
 * sessions themselves are streams (stream.c): replayable, attachable after
 * their client left, stopped (detached) with streams.stop.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "b64.h"
#include "call.h"
#include "ipc.h"
#include "methods.h"
#include "stream.h"

/* Terminal size bounds (sandbox.pty, streams.resize). */
#define API_PTY_DIM_MAX 1000
/* The most bytes one streams.input carries (decoded). */
#define API_PTY_INPUT_MAX (64 * 1024)
/* The control plane names every PTY "pty-<8 hex>". */
#define API_PTY_TAG_PREFIX "pty-"

/* The start message's members, as sandbox.pty's params name them. */
static const char *const api_pty_start_keys[] = {
    "cmd", "args", "cols", "rows", "envs", "cwd"};

#define API_PTY_NKEYS                                                          \
	(sizeof(api_pty_start_keys) / sizeof(api_pty_start_keys[0]))

/*
 * The process list answered: connect to the tag only if it is a live PTY.
 * The server answers a connect to a gone tag with nothing at all, so the
 * stream would wait forever; not_found here instead (and stream.c lists
 * the processes again once the connect is sent, for a PTY that exits in
 * between). The list says nothing of a process being a PTY, so a
 * background process tagged "pty-..." by its user passes this check
 * (protocol/PROTOCOL.md, sandbox.pty).
 */
static void
api_pty_found(struct call *call, const json_t *process, void *arg)
{
	const char *tag =
	    json_string_value(json_object_get(call_params(call), "tag"));
	const json_t *pid = json_object_get(process, "pid");
	json_t *first;

	(void)arg;
	if (process == NULL || !json_is_integer(pid) ||
	    strncmp(tag, API_PTY_TAG_PREFIX, strlen(API_PTY_TAG_PREFIX)) != 0) {
		json_t *err = stream_pty_gone_error(tag);

		if (err == NULL)
			call_fail_oom(call);
		else
			call_fail_obj(call, err);
		json_decref(err);
		return;
	}
	first = json_pack("{s:s, s:s}", "type", "connect", "tag", tag);
	if (first == NULL) {
		call_fail_oom(call);
		return;
	}
	stream_start_pty(call, first, tag, json_integer_value(pid));
}

/* sandbox.pty {tag}: join wrennd's session of it, else connect upstream. */
static void
api_pty_connect(struct call *call)
{
	const json_t *params = call_params(call);
	char tag[160];
	struct stream *s;
	size_t i;

	for (i = 0; i < API_PTY_NKEYS; i++)
		if (json_object_get(params, api_pty_start_keys[i]) != NULL) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter '%s' starts a new PTY; it cannot go "
			    "with 'tag' (connect to a live one)",
			    api_pty_start_keys[i]);
			return;
		}
	if (api_process_selector(call, "tag", tag, sizeof(tag)) != 0)
		return;
	s = stream_find_pty(call,
	    json_string_value(json_object_get(params, "sandbox_id")), tag);
	if (s != NULL) {
		stream_join(call, s);
		return;
	}
	(void)api_process_find(call, tag, api_pty_found, NULL);
}

/* sandbox.pty: a new PTY, or with tag a live one. */
static void
api_pty_start(struct call *call)
{
	const json_t *params = call_params(call), *v;
	json_t *first;
	size_t i;

	if (json_object_get(params, "tag") != NULL) {
		api_pty_connect(call);
		return;
	}
	if (api_process_envs_ok(call) != 0)
		return;
	if ((first = json_pack("{s:s}", "type", "start")) == NULL)
		goto oom;
	for (i = 0; i < API_PTY_NKEYS; i++)
		if ((v = json_object_get(params, api_pty_start_keys[i])) !=
			NULL &&
		    json_object_set(
			first, api_pty_start_keys[i], (json_t *)v) != 0) {
			json_decref(first);
			goto oom;
		}
	stream_start_pty(call, first, NULL, -1);
	return;
oom:
	call_fail_oom(call);
}

/* streams.input: bytes to the PTY's terminal. */
static void
api_pty_input(struct call *call)
{
	const json_t *data = json_object_get(call_params(call), "data");
	unsigned char *bytes;
	struct stream *s;
	size_t n;
	json_t *msg;

	if (b64_decoded_max(json_string_length(data)) > API_PTY_INPUT_MAX + 2)
		goto toolarge;
	bytes =
	    b64_decode(json_string_value(data), json_string_length(data), &n);
	if (bytes == NULL && errno == ENOMEM) {
		call_fail_oom(call);
		return;
	}
	free(bytes);
	if (bytes == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'data' must be standard padded base64");
		return;
	}
	if (n > API_PTY_INPUT_MAX)
		goto toolarge;
	if ((s = stream_lookup(call)) == NULL)
		return;
	if ((msg = json_pack("{s:s, s:O}", "type", "input", "data", data)) ==
	    NULL) {
		call_fail_oom(call);
		return;
	}
	stream_pty_send(call, s, msg, n);
	json_decref(msg);
	return;
toolarge:
	call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params",
	    json_pack("{s:i}", "max_bytes", API_PTY_INPUT_MAX),
	    "parameter 'data' carries more than %d bytes; split the input",
	    API_PTY_INPUT_MAX);
}

/* streams.resize: the PTY's terminal size. */
static void
api_pty_resize(struct call *call)
{
	const json_t *params = call_params(call);
	struct stream *s;
	json_t *msg;

	if ((s = stream_lookup(call)) == NULL)
		return;
	msg = json_pack("{s:s, s:O, s:O}", "type", "resize", "cols",
	    json_object_get(params, "cols"), "rows",
	    json_object_get(params, "rows"));
	if (msg == NULL) {
		call_fail_oom(call);
		return;
	}
	stream_pty_send(call, s, msg, 0);
	json_decref(msg);
}

/* This file's method rows (methods.h), listed by methods.c. */

#define API_PTY_P_DIM(n, what)                                                 \
	{                                                                      \
		.name = n, .type = METHODS_T_INT, .in = METHODS_IN_LOCAL,      \
		.min = 1, .max = API_PTY_DIM_MAX, .doc = what                  \
	}

static const struct methods_param p_pty[] = {
    METHODS_P_SANDBOX_ID_LOCAL,
    {.name = "cmd",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "program run on the terminal (default /bin/bash)"},
    {.name = "args",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_LOCAL,
	.doc = "argv[1..]"},
    API_PTY_P_DIM("cols", "terminal width (default 80)"),
    API_PTY_P_DIM("rows", "terminal height (default 24)"),
    {.name = "envs",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_LOCAL,
	.doc = "environment variables (object of strings)"},
    {.name = "cwd",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "working directory (default the home directory)"},
    {.name = "tag",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "connect to this live PTY (its started.tag) instead of "
	       "starting one"},
    STREAM_P_FROM_SEQ,
    {.name = "detach",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "keep the session inside wrennd; answer with a stream_id at "
	       "once"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_input[] = {
    STREAM_P_STREAM_ID,
    {.name = "data",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "bytes typed, standard base64 (at most 64 KiB decoded)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_resize[] = {
    STREAM_P_STREAM_ID,
    {.name = "cols",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.min = 1,
	.max = API_PTY_DIM_MAX,
	.doc = "terminal width"},
    {.name = "rows",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.min = 1,
	.max = API_PTY_DIM_MAX,
	.doc = "terminal height"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_pty_rows[] = {
    {
	.name = "sandbox.pty",
	.summary = "an interactive terminal in a sandbox ($/stream events "
		   "started, output, exit), attachable after its client "
		   "leaves",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM | METHODS_NEEDS_CAPSULES,
	.params = p_pty,
	.handler = api_pty_start,
    },
    {
	.name = "admin.pty",
	.summary = "an interactive terminal in a platform sandbox, as "
		   "sandbox.pty",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM | METHODS_NEEDS_CAPSULES,
	.params = p_pty,
	.handler = api_pty_start,
    },
    {
	.name = "streams.input",
	.summary = "type into a PTY session (base64 bytes)",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_USER,
	.result = METHODS_RES_EMPTY,
	.params = p_input,
	.handler = api_pty_input,
    },
    {
	.name = "streams.resize",
	.summary = "set a PTY session's terminal size",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_USER,
	.result = METHODS_RES_EMPTY,
	.params = p_resize,
	.handler = api_pty_resize,
    },
};

const struct api_table api_pty_methods = API_TABLE(api_pty_rows);
