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
#include "dialect.h"
#include "ipc.h"
#include "kernel.h"
#include "listener.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define DAEMON_PROBE_MS 5000 /* reachability probe deadline */

/* One credential's metadata. */
static json_t *
daemon_status_cred(const struct creds *cr, enum creds_kind kind)
{
	json_t *o;

	o = json_pack("{s:b}", "configured", creds_have(cr, kind));
	if (o != NULL && creds_have(cr, kind))
		json_object_set_new(
		    o, "source", json_string(creds_source(cr, kind)));
	return o;
}

/*
 * The api dialect in the upstream member: dialect ("unknown" until the
 * probe found one), api_dialect (what is configured) and server_version
 * when /health named one (null otherwise).
 */
static void
daemon_status_dialect(struct wrennd *wd, json_t *up)
{
	const char *ver = dialect_server_version(wd->dialect);

	json_object_set_new(up, "dialect",
	    json_string(dialect_kind_name(dialect_current(wd->dialect))));
	json_object_set_new(
	    up, "api_dialect", json_string(dialect_mode_name(wd->dialect)));
	json_object_set_new(
	    up, "server_version", ver != NULL ? json_string(ver) : json_null());
}

/*
 * Everything but the upstream probe. A peer below the admin role gets a
 * reduced view: no unverified JWT claims and no daemon-wide activity
 * counts (they would tell one local user what the others are doing).
 */
static json_t *
daemon_status_build(struct wrennd *wd, enum role role)
{
	json_t *st, *jwt;
	unsigned inflight = client_calls_all(wd);
	time_t exp, now = time(NULL);
	char ts[32];

	jwt = daemon_status_cred(wd->creds, CREDS_JWT);
	exp = creds_jwt_expiry(wd->creds);
	if (jwt != NULL &&
	    creds_jwt_expiry_text(wd->creds, ts, sizeof(ts)) == 0) {
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
		       " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "server", "wrennd", "version", PACKAGE_VERSION, "protocol",
	    IPC_PROTOCOL_VERSION, "pid", (json_int_t)getpid(), "uptime_sec",
	    (json_int_t)(now - wd->started), "socket",
	    wd->listener != NULL ? listener_path(wd->listener) : "(closed)",
	    "upstream", "base_url", upstream_base_url(wd->up), "auth",
	    "api_key", daemon_status_cred(wd->creds, CREDS_APIKEY), "jwt", jwt,
	    "counts", "clients", (json_int_t)wd->nclients, "calls_inflight",
	    (json_int_t)inflight, "calls_total", (json_int_t)wd->calls_total,
	    "calls_failed", (json_int_t)wd->calls_failed,
	    "upstream_requests_total",
	    (json_int_t)upstream_requests_total(wd->up),
	    "upstream_requests_active",
	    (json_int_t)upstream_requests_active(wd->up),
	    "upstream_connections_opened",
	    (json_int_t)upstream_connections_opened(wd->up),
	    "wait_ready_watches", (json_int_t)api_sandbox_watches(wd),
	    "kernels", (json_int_t)kernel_count(wd->kernels),
	    "kernels_connected", (json_int_t)kernel_connected(wd->kernels));
	if (st != NULL)
		json_object_set_new(st, "draining", json_boolean(wd->draining));
	if (st != NULL)
		json_object_set_new(json_object_get(st, "counts"),
		    "transfers_active", json_integer(api_files_active(wd)));
	if (st != NULL)
		daemon_status_dialect(wd, json_object_get(st, "upstream"));
	if (st != NULL && wd->listener != NULL &&
	    listener_tool_path(wd->listener) != NULL)
		json_object_set_new(st, "tool_socket",
		    json_string(listener_tool_path(wd->listener)));
	if (st != NULL && role < ROLE_ADMIN)
		json_object_del(st, "counts");
	return st;
}

/*
 * The probe is one cheap authenticated read (the base templates): it
 * shows that the control plane is reachable and that it accepts the
 * credential wrennd would use, so a wrong API key is an error state with
 * the reason. Nothing unauthenticated is sent to an authenticated route
 * (a server counts those as failed logins).
 */
#define DAEMON_PROBE_PATH "/v1/snapshots?type=base"
#define DAEMON_REASON_MAX 200 /* bytes of upstream text quoted */

/* A probe in flight. */
struct daemon_status_probe {
	struct call *call;	  /* borrowed, until the reply or cancel */
	struct upstream_req *req; /* owned by upstream; cancelled with us */
	const char *auth;	  /* static: "API key" or "JWT" */
	const char *auth_kind;	  /* static: "api_key" or "jwt" */
};

static void
daemon_status_cancel_cb(struct call *call, void *arg)
{
	struct daemon_status_probe *sp = arg;

	upstream_req_cancel(sp->req);
	free(sp);
}

/*
 * Reply with the status, its upstream member told the probe's outcome:
 * state ("ok", "auth_error", "error", "unreachable", "no_credentials"),
 * the reason when it is not ok, and what was probed.
 */
static void
daemon_status_reply(struct call *call, const char *auth, const char *state,
    const char *reason, json_t *probe_steal)
{
	json_t *st, *up;

	if ((st = daemon_status_build(call_wd(call), call_role(call))) ==
	    NULL) {
		json_decref(probe_steal);
		call_fail_oom(call);
		return;
	}
	/* Who is asking, as the greeting says it. */
	json_object_set_new(st, "peer",
	    json_pack("{s:I, s:s}", "uid",
		(json_int_t)client_uid(call_client(call)), "role",
		role_name(call_role(call))));
	up = json_object_get(st, "upstream");
	json_object_set_new(up, "state", json_string(state));
	if (reason != NULL)
		json_object_set_new(up, "reason", json_string(reason));
	json_object_set_new(up, "probe_auth", json_string(auth));
	if (probe_steal != NULL)
		json_object_update(up, probe_steal);
	json_decref(probe_steal);
	call_reply(call, st);
}

/* The control plane's own error text of a non-2xx answer, or "". */
static void
daemon_status_upstream_message(
    const struct upstream_result *res, char *buf, size_t size)
{
	json_t *body, *err;
	const char *code = NULL, *msg = NULL;

	body = json_loadb(res->body, res->body_len, 0, NULL);
	err = json_object_get(body, "error");
	code = json_string_value(json_object_get(err, "code"));
	msg = json_string_value(json_object_get(err, "message"));
	if (code != NULL && msg != NULL)
		snprintf(buf, size, ": %.*s (%.*s)", DAEMON_REASON_MAX, msg, 64,
		    code);
	else if (msg != NULL)
		snprintf(buf, size, ": %.*s", DAEMON_REASON_MAX, msg);
	else
		buf[0] = '\0';
	json_decref(body);
}

/* The probe answered (or could not be made). */
static void
daemon_status_probe_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct daemon_status_probe *sp = arg;
	struct call *call = sp->call;
	const char *auth = sp->auth, *kind = sp->auth_kind;
	char reason[DAEMON_REASON_MAX + 256], msg[DAEMON_REASON_MAX + 80];
	const char *state = "ok";
	json_t *probe;

	call_set_cancel(call, NULL, NULL);
	free(sp);
	probe = json_pack("{s:s, s:b, s:I}", "probe", "GET " DAEMON_PROBE_PATH,
	    "reachable", res->outcome == UPSTREAM_OK, "latency_ms",
	    (json_int_t)(res->total_sec * 1000));
	if (res->outcome != UPSTREAM_OK) {
		state = "unreachable";
		snprintf(reason, sizeof(reason), "%s", res->errmsg);
		json_object_set_new(probe, "error", json_string(res->errmsg));
	} else {
		json_object_set_new(
		    probe, "probe_status", json_integer(res->status));
		daemon_status_upstream_message(res, msg, sizeof(msg));
		if (res->status == 401 || res->status == 403) {
			state = "auth_error";
			snprintf(reason, sizeof(reason),
			    "the control plane %s the %s (HTTP %ld)%s",
			    res->status == 401 ? "rejected"
					       : "refused access to",
			    auth, res->status, msg);
		} else if (res->status < 200 || res->status >= 300) {
			state = "error";
			snprintf(reason, sizeof(reason),
			    "the control plane answered HTTP %ld%s",
			    res->status, msg);
		}
	}
	daemon_status_reply(
	    call, kind, state, strcmp(state, "ok") != 0 ? reason : NULL, probe);
}

static void
api_daemon_status(struct call *call)
{
	struct creds *cr = call_wd(call)->creds;
	struct daemon_status_probe *sp;
	enum upstream_auth auth;
	time_t exp;

	/* The credential the pass-through routes would pick (API key
	 * first), checked locally before anything is sent. */
	if (creds_have(cr, CREDS_APIKEY))
		auth = UPSTREAM_AUTH_APIKEY;
	else if (creds_have(cr, CREDS_JWT)) {
		auth = UPSTREAM_AUTH_JWT;
		exp = creds_jwt_expiry(cr);
		if (exp > 0 && exp <= time(NULL)) {
			daemon_status_reply(call, "jwt", "auth_error",
			    "the JWT has expired: configure a fresh one "
			    "(WRENN_TOKEN or --token-file) and reload wrennd "
			    "(SIGHUP)",
			    NULL);
			return;
		}
	} else {
		daemon_status_reply(call, "none", "no_credentials",
		    "wrennd has no credential: configure an API key "
		    "(WRENN_API_KEY, --api-key-file or "
		    "$CREDENTIALS_DIRECTORY/wrenn-api-key) or a user JWT "
		    "(WRENN_TOKEN or --token-file)",
		    NULL);
		return;
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		call_fail_oom(call);
		return;
	}
	if ((sp->req = rest_request_auth(
		 call, auth, "GET", DAEMON_PROBE_PATH, NULL)) == NULL) {
		free(sp);
		return;
	}
	sp->call = call;
	sp->auth = auth == UPSTREAM_AUTH_APIKEY ? "API key" : "JWT";
	sp->auth_kind = auth == UPSTREAM_AUTH_APIKEY ? "api_key" : "jwt";
	upstream_req_set_timeout(sp->req, DAEMON_PROBE_MS);
	if (rest_start(call, sp->req, 0, daemon_status_probe_cb, sp) != 0) {
		free(sp);
		return;
	}
	call_set_cancel(call, daemon_status_cancel_cb, sp);
}

static void
api_daemon_describe(struct call *call)
{
	const struct methods_row *m;
	const char *name;
	json_t *list;
	size_t i;

	name = json_string_value(json_object_get(call_params(call), "method"));
	if (name != NULL) {
		if ((m = methods_find(name)) == NULL) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL, "unknown method '%.64s'",
			    name);
			return;
		}
		call_reply(call, methods_describe(m));
		return;
	}
	list = json_array();
	for (i = 0; (m = methods_at(i)) != NULL; i++)
		json_array_append_new(list, methods_describe(m));
	call_reply(call,
	    json_pack("{s:i, s:o}", "protocol", IPC_PROTOCOL_VERSION, "methods",
		list));
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_describe[] = {
    {.name = "method",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "describe only this method"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_daemon_rows[] = {
    {
	.name = "rpc.describe",
	.summary = "describe the methods, their params and needs",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = p_describe,
	.handler = api_daemon_describe,
    },
    {
	.name = "daemon.status",
	.summary = "daemon version, upstream, credentials, counters",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = methods_no_params,
	.handler = api_daemon_status,
    },
};

const struct api_table api_daemon_methods = API_TABLE(api_daemon_rows);
