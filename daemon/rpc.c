/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (see rpc.h). Per connection it keeps the role and the
 * calls in flight (struct rpc_conn, the client's data). Nothing reaches
 * the control plane before a request passed every check here.
 */
#include "config.h"

#include "rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "conf.h"
#include "creds.h"
#include "dialect.h"
#include "ipc.h"
#include "lease.h"
#include "log.h"
#include "methods.h"
#include "owner.h"
#include "portfwd.h"
#include "rest.h"
#include "role.h"
#include "upstream.h"
#include "wrennd.h"

/* The dispatcher's state for one connection. */
struct rpc_conn {
	enum role role;
	struct call_list calls; /* owned: calls in flight */
};

/* Send the wrennd.hello greeting and set up the connection's state. */
static int
rpc_open(struct client *c)
{
	const struct conf *cfg = client_conf(c);
	struct rpc_conn *rc;
	json_t *params, *msg;
	int r;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return -ENOMEM;
	rc->role = client_role(c);
	TAILQ_INIT(&rc->calls);
	client_set_data(c, rc);
	params = json_pack("{s:s, s:s, s:i, s:[s,s,s],"
			   " s:{s:I, s:I, s:i, s:I, s:I, s:I, s:I},"
			   " s:{s:I, s:I, s:I, s:s}, s:o}",
	    "server", "wrennd", "version", PACKAGE_VERSION, "protocol",
	    IPC_PROTOCOL_VERSION, "capabilities", "stream", "cancel", "fds",
	    "limits", "max_line", (json_int_t)cfg->max_line, "max_inflight",
	    (json_int_t)cfg->max_inflight, "max_fds", CALL_MAX_FDS,
	    "max_output", (json_int_t)cfg->max_output, "max_reply",
	    (json_int_t)cfg->max_reply, "max_queued_fds",
	    (json_int_t)cfg->max_queued_fds, "idle_timeout_ms",
	    (json_int_t)cfg->idle_timeout_ms, "peer", "uid",
	    (json_int_t)client_uid(c), "gid", (json_int_t)client_gid(c), "pid",
	    (json_int_t)client_pid(c), "role", role_name(rc->role), "methods",
	    methods_names());
	if (params == NULL)
		return -ENOMEM;
	msg = ipc_make_notification("wrennd.hello", params);
	if (msg == NULL)
		return -ENOMEM;
	r = client_send(c, msg);
	json_decref(msg);
	log_debug("client %llu: role %s", (unsigned long long)client_id(c),
	    role_name(rc->role));
	return r;
}

static void
rpc_close(struct client *c)
{
	struct rpc_conn *rc = client_data(c);

	if (rc == NULL)
		return;
	call_abort_all(&rc->calls);
	portfwd_client_gone(client_wrennd(c), client_id(c));
	owner_conn_gone(client_wrennd(c)->owners, client_id(c));
	lease_client_gone(client_wrennd(c), client_id(c));
	client_set_data(c, NULL);
	free(rc);
}

static void
rpc_shutdown(struct client *c)
{
	struct rpc_conn *rc = client_data(c);

	if (rc != NULL)
		call_shutdown_all(
		    &rc->calls, client_wrennd(c)->cfg->drain_timeout_ms);
}

static void
rpc_drained(struct client *c)
{
	struct rpc_conn *rc = client_data(c);

	call_drained_all(&rc->calls);
}

/*
 * Whether params reference exactly the passed fds, each once. Returns 0,
 * or -1 after rejecting the request with invalid_params.
 */
static int
rpc_check_fds(struct client *c, const struct ipc_msg *m,
    const struct methods_row *meth, unsigned nfds)
{
	const struct methods_param *p;
	unsigned used = 0;
	json_int_t i;
	json_t *v;

	for (p = meth->params; p->name != NULL; p++) {
		if (p->type != METHODS_T_FD ||
		    (v = json_object_get(m->params, p->name)) == NULL)
			continue;
		i = json_integer_value(json_object_get(v, "$fd"));
		if (i < 0 || (unsigned)i >= nfds) {
			client_fail(c, m->id, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter '%s' refers to fd %lld but %u "
			    "descriptor(s) came with the request",
			    p->name, (long long)i, nfds);
			return -1;
		}
		if (used & (1u << i)) {
			client_fail(c, m->id, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "fd %lld is referenced twice", (long long)i);
			return -1;
		}
		used |= 1u << i;
	}
	if (used != (1u << nfds) - 1) {
		client_fail(c, m->id, IPC_ERR_INVALID_PARAMS, "invalid_params",
		    NULL,
		    "%u file descriptor(s) came with the request but not all "
		    "are referenced",
		    nfds);
		return -1;
	}
	return 0;
}

/*
 * The credential for a row of kind cred. Returns 0 with *ret set, or -1
 * after rejecting the request with "unauthorized" and a message saying
 * what to configure. A JWT known to have expired is refused here: the
 * control plane would only answer "invalid or expired token". A sandbox
 * proxy row (ROLE_CRED_APIKEY) gets the API key, else the JWT, for its
 * own reads of the sandbox's record; whether the proxy itself needs the
 * key depends on the server and is decided with the api dialect
 * (dialect.c).
 */
static int
rpc_pick_auth(struct client *c, const struct ipc_msg *m,
    const struct methods_row *meth, enum upstream_auth *ret)
{
	struct creds *cr = client_wrennd(c)->creds;
	int want_jwt =
	    meth->cred == ROLE_CRED_JWT || meth->cred == ROLE_CRED_ADMIN;
	char ts[32];
	time_t exp;

	if (meth->cred == ROLE_CRED_NONE) {
		*ret = UPSTREAM_AUTH_NONE;
		return 0;
	}
	if (!want_jwt && creds_have(cr, CREDS_APIKEY)) {
		*ret = UPSTREAM_AUTH_APIKEY;
		return 0;
	}
	if (!creds_have(cr, CREDS_JWT) && want_jwt) {
		client_fail(c, m->id, IPC_ERR_APPLICATION, "unauthorized",
		    json_pack("{s:s}", "needs", role_cred_name(meth->cred)),
		    "%s needs a user JWT%s (the control plane does not "
		    "accept API keys on this route): configure "
		    "WRENN_TOKEN or --token-file and reload wrennd "
		    "(SIGHUP)",
		    meth->name,
		    meth->cred == ROLE_CRED_ADMIN ? " of a platform admin"
						  : "");
		return -1;
	}
	if (!creds_have(cr, CREDS_JWT)) {
		client_fail(c, m->id, IPC_ERR_APPLICATION, "unauthorized",
		    json_pack("{s:s}", "needs", role_cred_name(meth->cred)),
		    "%s needs a credential and wrennd has none: "
		    "configure an API key (WRENN_API_KEY, "
		    "--api-key-file or "
		    "$CREDENTIALS_DIRECTORY/wrenn-api-key) or a user "
		    "JWT (WRENN_TOKEN or --token-file)",
		    meth->name);
		return -1;
	}
	exp = creds_jwt_expiry(cr);
	if (exp == 0 || exp > time(NULL) ||
	    creds_jwt_expiry_text(cr, ts, sizeof(ts)) != 0) {
		*ret = UPSTREAM_AUTH_JWT;
		return 0;
	}
	client_fail(c, m->id, IPC_ERR_APPLICATION, "unauthorized",
	    json_pack("{s:s, s:b, s:s}", "needs", "jwt", "expired", 1,
		"expired_at", ts),
	    "the configured JWT expired at %s: %s", ts,
	    creds_jwt_hint(cr, client_wrennd(c)->cfg));
	return -1;
}

/*
 * A tool reaches only sandboxes it owns: on a row with a sandbox_id
 * parameter (methods.h), another owner's sandbox answers as the control
 * plane answers one that does not exist, so ids cannot be probed.
 * Returns 0, or -1 after rejecting the request.
 */
static int
rpc_check_owner(struct client *c, const struct rpc_conn *rc,
    const struct ipc_msg *m, const struct methods_row *meth)
{
	const char *id;

	if (rc->role >= ROLE_USER ||
	    methods_param_find(meth, "sandbox_id") == NULL ||
	    (id = json_string_value(
		 json_object_get(m->params, "sandbox_id"))) == NULL)
		return 0;
	if (owner_may_access(
		client_wrennd(c)->owners, id, rc->role, client_uid(c)))
		return 0;
	client_fail(c, m->id, IPC_ERR_APPLICATION, "not_found",
	    json_pack("{s:i}", "status", 404), "sandbox not found");
	return -1;
}

/*
 * Check a request: duplicate id, draining (every new call, whatever it
 * names, is refused once SIGTERM came), method known, role, params, fds,
 * ownership, credential. Returns the method with *auth set, or NULL
 * after answering with the error (nothing has happened yet).
 */
static const struct methods_row *
rpc_admit(struct client *c, struct rpc_conn *rc, struct ipc_msg *m,
    unsigned nfds, enum upstream_auth *auth)
{
	const struct methods_row *meth;
	char err[256];

	if (call_find(&rc->calls, m->id) != NULL) {
		client_fail(c, m->id, IPC_ERR_INVALID_REQUEST,
		    "invalid_request", NULL,
		    "duplicate id: a call with this id is still in flight");
		return NULL;
	}
	if (client_wrennd(c)->draining) {
		client_fail(c, m->id, IPC_ERR_APPLICATION, CALL_SHUTDOWN_CODE,
		    NULL, CALL_SHUTDOWN_MSG);
		return NULL;
	}
	if ((meth = methods_find(m->method)) == NULL) {
		client_fail(c, m->id, IPC_ERR_METHOD_NOT_FOUND,
		    "method_not_found", NULL, "unknown method '%.64s'",
		    m->method);
		return NULL;
	}
	if (rc->role < meth->role) {
		client_fail(c, m->id, IPC_ERR_FORBIDDEN, "permission_denied",
		    json_pack("{s:s}", "role", role_name(meth->role)),
		    "%s needs the %s role; this connection has the %s role",
		    meth->name, role_name(meth->role), role_name(rc->role));
		return NULL;
	}
	/* methods.c checks without a connection: its message comes back. */
	if (methods_check_params(meth, m->params, err, sizeof(err)) != 0) {
		client_fail(c, m->id, IPC_ERR_INVALID_PARAMS, "invalid_params",
		    NULL, "%s", err);
		return NULL;
	}
	if (rpc_check_fds(c, m, meth, nfds) != 0)
		return NULL;
	if (rpc_check_owner(c, rc, m, meth) != 0)
		return NULL;
	/* The credential is chosen before anything is sent upstream. */
	if (rpc_pick_auth(c, m, meth, auth) != 0)
		return NULL;
	return meth;
}

/* Run an admitted call: its handler, or the REST pass-through. */
static void
rpc_run(struct call *call)
{
	const struct methods_row *meth = call_method(call);

	if (meth->handler != NULL)
		meth->handler(call);
	else
		rest_passthrough(call);
}

/* Handle one request; the nfds fds go to the call (or are closed). */
static void
rpc_request(struct client *c, struct ipc_msg *m, int *fds, unsigned nfds)
{
	struct rpc_conn *rc = client_data(c);
	const struct methods_row *meth;
	enum upstream_auth auth = UPSTREAM_AUTH_NONE;
	struct call *call = NULL;
	json_t *empty = NULL;
	unsigned i;

	if (m->params == NULL)
		m->params = empty = json_object();
	if ((meth = rpc_admit(c, rc, m, nfds, &auth)) != NULL &&
	    (call = call_new(&rc->calls, c, meth, meth->name, rc->role, auth,
		 m->id, m->params, fds, nfds)) == NULL)
		client_fail(c, m->id, IPC_ERR_INTERNAL, "internal", NULL,
		    "out of memory");
	json_decref(empty);
	if (call == NULL) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return;
	}
	log_debug("client %llu: call %s", (unsigned long long)client_id(c),
	    meth->name);
	/* After the api dialect is known (it may wait for the probe). */
	dialect_admit(call, rpc_run);
}

/* A client notification: $/cancel; others are ignored. */
static void
rpc_notification(struct client *c, struct ipc_msg *m)
{
	struct rpc_conn *rc = client_data(c);
	struct call *call;
	json_t *id;

	if (strcmp(m->method, "$/cancel") != 0) {
		char q[80];

		log_debug("client %llu: ignoring notification \"%s\"",
		    (unsigned long long)client_id(c),
		    log_quote_str(q, sizeof(q), m->method));
		return;
	}
	id = json_object_get(m->params, "id");
	if (id == NULL || !ipc_id_valid(id))
		return;
	if ((call = call_find(&rc->calls, id)) != NULL)
		call_cancel(call);
}

static void
rpc_message(struct client *c, struct ipc_msg *m, int *fds, unsigned nfds)
{
	if (m->kind == IPC_KIND_REQUEST)
		rpc_request(c, m, fds, nfds);
	else
		rpc_notification(c, m);
}

static void
rpc_hello(struct call *call)
{
	struct client *c = call_client(call);
	json_t *v, *enabled, *e;
	size_t i;

	v = json_object_get(call_params(call), "protocol");
	if (v != NULL && json_integer_value(v) != IPC_PROTOCOL_VERSION) {
		call_fail(call, IPC_ERR_INVALID_REQUEST, "protocol_mismatch",
		    json_pack("{s:i, s:i}", "min", IPC_PROTOCOL_VERSION, "max",
			IPC_PROTOCOL_VERSION),
		    "protocol %lld is not supported; this wrennd speaks "
		    "wrenn-ipc/%d",
		    (long long)json_integer_value(v), IPC_PROTOCOL_VERSION);
		client_finish(c);
		return;
	}
	json_array_foreach(json_object_get(call_params(call), "enable"), i, e)
		if (strcmp(json_string_value(e), "fds") == 0)
			client_enable_fds(c);
	enabled = json_pack("[s,s]", "stream", "cancel");
	if (enabled != NULL && client_fds_enabled(c))
		json_array_append_new(enabled, json_string("fds"));
	call_reply(call,
	    json_pack("{s:i, s:s, s:s, s:o?}", "protocol", IPC_PROTOCOL_VERSION,
		"server", "wrennd", "version", PACKAGE_VERSION, "enabled",
		enabled));
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_hello[] = {
    {.name = "client",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "client name/version"},
    {.name = "protocol",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.min = 0,
	.max = 1000,
	.doc = "protocol major version the client speaks"},
    {.name = "enable",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_LOCAL,
	.doc = "capabilities to enable"},
    METHODS_PARAMS_END,
};

static const struct methods_row rpc_rows[] = {
    {
	.name = "rpc.hello",
	.summary = "negotiate protocol version and capabilities",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = p_hello,
	.handler = rpc_hello,
    },
};

const struct api_table rpc_methods = API_TABLE(rpc_rows);

const struct client_ops rpc_client_ops = {
    .open = rpc_open,
    .message = rpc_message,
    .drained = rpc_drained,
    .shutdown = rpc_shutdown,
    .close = rpc_close,
};
