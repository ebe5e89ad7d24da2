/* SPDX-License-Identifier: MIT */
/*
 * The lease methods: sandboxes.create with {lease: "connection"} (the
 * row is api-sandbox.c's, which hands leased creates here), leases.list
 * and sandbox.keepalive, over the lease table of lease.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "ipc.h"
#include "lease.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

/*
 * A leased create in flight. The request outlives its call: a client that
 * goes while the control plane creates the sandbox must not leak it, so
 * the sandbox is acted on as soon as its id is known.
 */
struct api_lease_create {
	struct wrennd *wd;	  /* borrowed */
	struct call *call;	  /* borrowed; NULL once it went away */
	struct upstream_req *req; /* owned until its callback */
	enum lease_action action;
	struct lease_owner owner;
	enum upstream_auth auth;
};

/* The call went ($/cancel, client gone): the sandbox is acted on when the
 * control plane has made it. */
static void
api_lease_create_cancel_cb(struct call *call, void *arg)
{
	struct api_lease_create *lc = arg;

	lc->call = NULL;
	lc->owner.client_id = 0;
}

/* The new sandbox's id from a 2xx answer (borrowed from doc), or NULL. */
static const char *
api_lease_created_id(const struct upstream_result *res, json_t **doc)
{
	*doc = json_loadb(res->body, res->body_len, 0, NULL);
	return json_string_value(json_object_get(*doc, "id"));
}

/* Reply with the sandbox (stolen) after the row's own hook (ownership). */
static void
api_lease_created_reply(struct call *call, json_t *result)
{
	const struct methods_row *m = call_method(call);

	if (m->after != NULL && (result = m->after(call, result)) == NULL)
		return; /* the hook failed the call */
	call_reply(call, result);
}

static void
api_lease_create_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct api_lease_create *lc = arg;
	struct call *call = lc->call;
	json_t *doc = NULL;
	const char *id = NULL;
	int r = 0;

	lc->req = NULL;
	if (call != NULL)
		call_set_cancel(call, NULL, NULL);
	if (rest_ok(res))
		id = api_lease_created_id(res, &doc);
	if (id != NULL) {
		r = lease_add(lc->wd, id, lc->action, &lc->owner, lc->auth);
		if (r != 0 && lc->owner.client_id != 0) {
			/* Not leased, so not kept: undo it now. */
			lc->owner.client_id = 0;
			(void)lease_add(
			    lc->wd, id, lc->action, &lc->owner, lc->auth);
		}
	}
	if (call == NULL)
		;
	else if (!rest_ok(res))
		call_fail_upstream(call, res);
	else if (id == NULL)
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol",
		    json_pack("{s:I}", "status", (json_int_t)res->status),
		    "the control plane's answer names no sandbox id");
	else if (r == -ENOSPC)
		call_fail(call, IPC_ERR_APPLICATION, "too_many_leases",
		    json_pack("{s:I}", "max_leases",
			(json_int_t)lc->wd->cfg->max_leases),
		    "wrennd holds max-leases (%ld) leases; sandbox %s was "
		    "created and is being %s",
		    lc->wd->cfg->max_leases, id,
		    lc->action == LEASE_PAUSE ? "paused" : "destroyed");
	else if (r != 0)
		call_fail_oom(call);
	else
		api_lease_created_reply(call, json_incref(doc));
	json_decref(doc);
	free(lc);
}

int
api_lease_create(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	struct client *c = call_client(call);
	json_t *p = call_params(call), *body;
	const char *lease = json_string_value(json_object_get(p, "lease"));
	const char *action =
	    json_string_value(json_object_get(p, "lease_action"));
	struct api_lease_create *lc;
	int a = LEASE_DESTROY;

	if (lease != NULL && strcmp(lease, "connection") != 0 &&
	    strcmp(lease, "none") != 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "lease must be \"connection\" or \"none\"");
		return 1;
	}
	if (action != NULL && (a = lease_action_parse(action)) < 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "lease_action must be \"destroy\" or \"pause\"");
		return 1;
	}
	if (lease == NULL || strcmp(lease, "none") == 0) {
		if (action == NULL)
			return 0;
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "lease_action needs lease \"connection\"");
		return 1;
	}
	if (lease_count(wd) >= (unsigned)wd->cfg->max_leases) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_leases",
		    json_pack(
			"{s:I}", "max_leases", (json_int_t)wd->cfg->max_leases),
		    "wrennd holds max-leases (%ld) leases already",
		    wd->cfg->max_leases);
		return 1;
	}
	if ((lc = calloc(1, sizeof(*lc))) == NULL ||
	    (body = rest_body(call)) == NULL) {
		free(lc);
		call_fail_oom(call);
		return 1;
	}
	lc->wd = wd;
	lc->call = call;
	lc->action = (enum lease_action)a;
	lc->owner.client_id = client_id(c);
	lc->owner.uid = client_uid(c);
	lc->owner.pid = client_pid(c);
	lc->auth = call_auth(call);
	lc->req = rest_request(call, "POST", "/v1/sandboxes", body);
	json_decref(body);
	if (lc->req == NULL) {
		free(lc);
		return 1;
	}
	upstream_req_set_max_response(lc->req, (size_t)wd->cfg->max_reply);
	if (rest_start(call, lc->req, 0, api_lease_create_done_cb, lc) != 0) {
		free(lc);
		return 1;
	}
	call_set_cancel(call, api_lease_create_cancel_cb, lc);
	return 1;
}

/* leases.list: a tool sees the leases of its own sandboxes only. */
static void
api_lease_list(struct call *call)
{
	json_t *r = lease_list_json(call_wd(call));

	if (r == NULL) {
		call_fail_oom(call);
		return;
	}
	call_filter_access(call, json_object_get(r, "leases"), "sandbox_id");
	call_reply(call, r);
}

/* The keepalive's reply: {sandbox_id, interval_sec}. */
static void
api_lease_keepalive_set(struct call *call)
{
	struct client *c = call_client(call);
	json_t *p = call_params(call);
	const char *id = json_string_value(json_object_get(p, "sandbox_id"));
	json_int_t sec = json_integer_value(json_object_get(p, "interval_sec"));
	struct lease_owner owner = {client_id(c), client_uid(c), client_pid(c)};
	int r;

	r = lease_keepalive(
	    call_wd(call), id, &owner, (long)sec, call_auth(call));
	if (r == -ENOSPC)
		call_fail(call, IPC_ERR_APPLICATION, "too_many_leases",
		    json_pack("{s:I}", "max_leases",
			(json_int_t)call_wd(call)->cfg->max_leases),
		    "wrennd holds max-leases (%ld) leases and keepalives "
		    "already",
		    call_wd(call)->cfg->max_leases);
	else if (r == -EINVAL)
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is not a valid identifier");
	else if (r != 0)
		call_fail_oom(call);
	else
		call_reply(call,
		    json_pack(
			"{s:s, s:I}", "sandbox_id", id, "interval_sec", sec));
}

static void
api_lease_keepalive_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;

	if (rest_done(call, res) != 0)
		return;
	api_lease_keepalive_set(call);
}

/* The first ping now (it answers for a sandbox that is not there), then
 * one every interval_sec while the connection stays. */
static void
api_lease_keepalive(struct call *call)
{
	json_t *p = call_params(call);
	const char *id = json_string_value(json_object_get(p, "sandbox_id"));
	struct upstream_req *req;
	char *path;

	if (json_integer_value(json_object_get(p, "interval_sec")) == 0) {
		api_lease_keepalive_set(call);
		return;
	}
	if ((path = rest_sandbox_path(id, "/ping")) == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is not a valid identifier");
		return;
	}
	req = rest_request(call, "POST", path, NULL);
	free(path);
	if (req != NULL)
		(void)rest_start(
		    call, req, REST_CANCEL, api_lease_keepalive_done_cb, call);
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_keepalive[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "interval_sec",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.min = 0,
	.max = 3600,
	.doc = "seconds between pings while this connection is open (0: "
	       "stop)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_lease_rows[] = {
    {
	.name = "leases.list",
	.summary = "the leases and keepalives wrennd holds",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = methods_no_params,
	.handler = api_lease_list,
    },
    {
	.name = "sandbox.keepalive",
	.summary = "ping a sandbox while this connection is open",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/ping",
	.result = METHODS_RES_LOCAL,
	.params = p_keepalive,
	.handler = api_lease_keepalive,
    },
};

const struct api_table api_lease_methods = API_TABLE(api_lease_rows);
