/* SPDX-License-Identifier: MIT */
/*
 * Local methods about the daemon itself: daemon.status and rpc.describe.
 * Nothing here ever returns a secret: credentials appear only as
 * "configured", their source and the JWT's expiry.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "ipc.h"
#include "listener.h"
#include "methods.h"
#include "upstream.h"
#include "wrennd.h"

#define STATUS_PROBE_MS 5000 /* reachability probe deadline */

/* One credential's metadata. */
static json_t *
status_cred(const struct creds *cr, enum creds_kind kind)
{
	json_t *o;

	o = json_pack("{s:b}", "configured", creds_have(cr, kind));
	if (o != NULL && creds_have(cr, kind))
		json_object_set_new(
		    o, "source", json_string(creds_source(cr, kind)));
	return o;
}

/*
 * Everything but the upstream probe. A peer below the admin role gets a
 * reduced view: no unverified JWT claims and no daemon-wide activity
 * counts (they would tell one local user what the others are doing).
 */
static json_t *
status_build(struct wrennd *wd, enum role role)
{
	json_t *st, *jwt;
	unsigned inflight = client_calls_all(wd);
	time_t exp, now = time(NULL);
	struct tm tm;
	char ts[32];

	jwt = status_cred(wd->creds, CREDS_JWT);
	exp = creds_jwt_expiry(wd->creds);
	if (jwt != NULL && exp > 0) {
		gmtime_r(&exp, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(jwt, "expires_at", json_string(ts));
		json_object_set_new(jwt, "expires_in_sec",
		    json_integer((json_int_t)(exp - now)));
		json_object_set_new(jwt, "expired", json_boolean(exp <= now));
		if (role >= ROLE_ADMIN)
			json_object_set_new(jwt, "platform_admin",
			    json_boolean(creds_jwt_is_admin(wd->creds)));
	}
	st = json_pack("{s:s, s:s, s:i, s:I, s:I, s:s,"
		       " s:{s:s}, s:{s:o, s:o},"
		       " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "server", "wrennd", "version", PACKAGE_VERSION, "protocol",
	    IPC_PROTOCOL_VERSION, "pid", (json_int_t)getpid(), "uptime_sec",
	    (json_int_t)(now - wd->started), "socket",
	    wd->listener != NULL ? listener_path(wd->listener) : "(closed)",
	    "upstream", "base_url", upstream_base_url(wd->up), "auth",
	    "api_key", status_cred(wd->creds, CREDS_APIKEY), "jwt", jwt,
	    "counts", "clients", (json_int_t)wd->nclients, "calls_inflight",
	    (json_int_t)inflight, "calls_total", (json_int_t)wd->calls_total,
	    "calls_failed", (json_int_t)wd->calls_failed,
	    "upstream_requests_total",
	    (json_int_t)upstream_requests_total(wd->up),
	    "upstream_requests_active",
	    (json_int_t)upstream_requests_active(wd->up), "wait_ready_watches",
	    (json_int_t)api_sandbox_watches(wd));
	if (st != NULL)
		json_object_set_new(st, "draining", json_boolean(wd->draining));
	if (st != NULL && role < ROLE_ADMIN)
		json_object_del(st, "counts");
	return st;
}

static void
status_cancel_cb(struct call *call, void *arg)
{
	upstream_req_cancel(arg);
}

/* The probe answered: any HTTP answer proves the control plane is up. */
static void
status_probe_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	json_t *st, *up;

	call_set_cancel(call, NULL, NULL);
	if ((st = status_build(call->wd, client_role(call->client))) == NULL) {
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return;
	}
	up = json_object_get(st, "upstream");
	json_object_set_new(
	    up, "reachable", json_boolean(res->outcome == UPSTREAM_OK));
	json_object_set_new(up, "latency_ms",
	    json_integer((json_int_t)(res->total_sec * 1000)));
	if (res->outcome == UPSTREAM_OK)
		json_object_set_new(
		    up, "probe_status", json_integer(res->status));
	else
		json_object_set_new(up, "error", json_string(res->errmsg));
	call_reply(call, st);
}

int
api_daemon_status(struct call *call)
{
	struct upstream_req *req;

	/* Unauthenticated probe: a 401 proves reachability and costs the
	 * control plane nothing. */
	req = upstream_req_new(
	    call->wd->up, "GET", "/v1/sandboxes", UPSTREAM_AUTH_NONE);
	if (req == NULL) {
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return 0;
	}
	upstream_req_set_timeout(req, STATUS_PROBE_MS);
	call_set_cancel(call, status_cancel_cb, req);
	if (upstream_req_start(req, status_probe_cb, call) != 0) {
		call_set_cancel(call, NULL, NULL);
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start the reachability probe");
	}
	return 0;
}

int
api_rpc_describe(struct call *call)
{
	const struct method *all, *m;
	const char *name;
	json_t *list;
	size_t i, n;

	name = json_string_value(json_object_get(call->params, "method"));
	if (name != NULL) {
		if ((m = methods_find(name)) == NULL) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL, "unknown method '%.64s'",
			    name);
			return 0;
		}
		call_reply(call, methods_describe(m));
		return 0;
	}
	all = methods_all(&n);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, methods_describe(&all[i]));
	call_reply(call,
	    json_pack("{s:i, s:o}", "protocol", IPC_PROTOCOL_VERSION, "methods",
		list));
	return 0;
}
