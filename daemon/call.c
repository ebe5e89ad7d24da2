/* SPDX-License-Identifier: MIT */
/*
 * Calls in flight (see call.h): final replies, stream events, cancellation,
 * and the mapping of upstream answers to wrenn-ipc/1 errors.
 */
#include "config.h"

#include "call.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "owner.h"
#include "upstream.h"
#include "wrennd.h"

/*
 * A call's life:
 *
 *   RUNNING --$/cancel, connection gone--> CANCELLING --> CANCELLED --> DONE
 *   RUNNING --final reply--> DONE
 *
 * CANCELLING is the time its cancel hook runs: a hook that answers the
 * call is a bug, caught here. A DONE call is freed at once.
 */
enum call_state {
	CALL_RUNNING,	 /* the handler (or the pass-through) has it */
	CALL_CANCELLING, /* its cancel hook runs */
	CALL_CANCELLED,	 /* the hook ran: "cancelled" or silence next */
	CALL_DONE,	 /* answered or aborted */
	CALL__MAX
};

static const char *const call_state_names[CALL__MAX] = {
    "running", "cancelling", "cancelled", "done"};

#define CALL_TO(s) (1u << (s))
/* Legal transitions: call_transitions[from] has bit `to` set. */
static const unsigned call_transitions[CALL__MAX] = {
    [CALL_RUNNING] = CALL_TO(CALL_CANCELLING) | CALL_TO(CALL_DONE),
    [CALL_CANCELLING] = CALL_TO(CALL_CANCELLED),
    [CALL_CANCELLED] = CALL_TO(CALL_DONE),
    [CALL_DONE] = 0,
};

struct call {
	TAILQ_ENTRY(call) entry; /* in *list */
	enum call_state state;
	struct call_list *list;		  /* borrowed: the dispatcher's list */
	struct client *client;		  /* borrowed connection */
	struct wrennd *wd;		  /* borrowed */
	const struct methods_row *method; /* borrowed, static */
	const char *name;		  /* borrowed, static: the method's */
	enum role role;			  /* the connection's, at dispatch */
	enum upstream_auth auth;	  /* chosen once, at dispatch */
	json_t *id;			  /* owned reference */
	json_t *params;	       /* owned reference, always an object */
	uint64_t seq;	       /* next $/stream sequence number */
	call_cancel_cb cancel; /* stops handler work; no reply */
	void *cancel_arg;
	call_drain_cb drain; /* client output drained (backpressure) */
	void *drain_arg;
	call_done_cb done; /* the call ended, however */
	void *done_arg;
	int fds[CALL_MAX_FDS]; /* owned: passed with the request line;
				* -1 once taken */
	unsigned nfds;
};

/* Move to state `to`; illegal moves are bugs. */
static void
call_set_state(struct call *call, enum call_state to)
{
	assert(call_transitions[call->state] & CALL_TO(to));
	log_debug("client %llu: %s: %s -> %s",
	    (unsigned long long)client_id(call->client), call->name,
	    call_state_names[call->state], call_state_names[to]);
	call->state = to;
}

struct call *
call_new(struct call_list *list, struct client *c, const struct methods_row *m,
    const char *name, enum role role, enum upstream_auth auth, json_t *id,
    json_t *params, const int *fds, unsigned nfds)
{
	struct call *call;
	unsigned i;

	if (nfds > CALL_MAX_FDS || (call = calloc(1, sizeof(*call))) == NULL)
		return NULL;
	call->params = params != NULL ? json_incref(params) : json_object();
	if (call->params == NULL) {
		free(call);
		return NULL;
	}
	call->list = list;
	call->client = c;
	call->wd = client_wrennd(c);
	call->method = m;
	call->name = name;
	call->role = role;
	call->auth = auth;
	call->id = json_incref(id);
	for (i = 0; i < CALL_MAX_FDS; i++)
		call->fds[i] = i < nfds ? fds[i] : -1;
	call->nfds = nfds;
	TAILQ_INSERT_TAIL(list, call, entry);
	client_call_begin(c);
	return call;
}

struct wrennd *
call_wd(const struct call *call)
{
	return call->wd;
}

struct client *
call_client(const struct call *call)
{
	return call->client;
}

const struct methods_row *
call_method(const struct call *call)
{
	return call->method;
}

json_t *
call_params(const struct call *call)
{
	return call->params;
}

enum role
call_role(const struct call *call)
{
	return call->role;
}

int
call_may_access(const struct call *call, const char *sandbox_id)
{
	return sandbox_id != NULL &&
	    owner_may_access(call->client != NULL
		    ? client_wrennd(call->client)->owners
		    : NULL,
		sandbox_id, call->role,
		call->client != NULL ? client_uid(call->client) : (uid_t)-1);
}

void
call_filter_access(const struct call *call, json_t *array, const char *key)
{
	size_t i;

	if (call->role >= ROLE_USER || !json_is_array(array))
		return;
	for (i = 0; i < json_array_size(array);)
		if (call_may_access(call,
			json_string_value(
			    json_object_get(json_array_get(array, i), key))))
			i++;
		else
			json_array_remove(array, i);
}

enum upstream_auth
call_auth(const struct call *call)
{
	return call->auth;
}

struct call *
call_find(struct call_list *list, const json_t *id)
{
	struct call *call;

	TAILQ_FOREACH(call, list, entry)
		if (ipc_id_equal(call->id, id))
			return call;
	return NULL;
}

void
call_set_cancel(struct call *call, call_cancel_cb cb, void *arg)
{
	call->cancel = cb;
	call->cancel_arg = arg;
}

int
call_take_fd(struct call *call, const char *name)
{
	json_t *v;
	json_int_t i;
	int fd;

	v = json_object_get(json_object_get(call->params, name), "$fd");
	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < 0 || (unsigned)i >= call->nfds)
		return -1;
	fd = call->fds[i];
	call->fds[i] = -1;
	return fd;
}

void
call_set_drain(struct call *call, call_drain_cb cb, void *arg)
{
	call->drain = cb;
	call->drain_arg = arg;
}

void
call_set_done(struct call *call, call_done_cb cb, void *arg)
{
	call->done = cb;
	call->done_arg = arg;
}

/* Unlink from the list, tell the connection, and free. */
static void
call_free(struct call *call)
{
	unsigned i;

	call_set_state(call, CALL_DONE);
	if (call->done != NULL)
		call->done(call, call->done_arg);
	for (i = 0; i < call->nfds; i++)
		if (call->fds[i] != -1)
			close(call->fds[i]);
	TAILQ_REMOVE(call->list, call, entry);
	client_call_end(call->client);
	json_decref(call->id);
	json_decref(call->params);
	free(call);
}

/* Send msg_steal to the client (if still there) and free the call. */
static void
call_finish(struct call *call, json_t *msg_steal)
{
	if (msg_steal == NULL) {
		/* Still answer: a call must never be left without a reply. */
		log_warnx("call '%s': cannot build its reply", call->name);
		msg_steal = ipc_make_error_code(call->id, IPC_ERR_INTERNAL,
		    "internal error building the reply", "internal", NULL);
	}
	if (msg_steal != NULL)
		(void)client_send(call->client, msg_steal);
	json_decref(msg_steal);
	call_free(call);
}

void
call_reply(struct call *call, json_t *result_steal)
{
	call_finish(call, ipc_make_result(call->id, result_steal));
}

/* An error object {code, message, data: {...extra_steal, code}}, its
 * message formatted from fmt; NULL on OOM (extra_steal released). */
static json_t *call_verror_obj(int rpc, const char *dcode, json_t *extra_steal,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static json_t *
call_verror_obj(int rpc, const char *dcode, json_t *extra_steal,
    const char *fmt, va_list ap)
{
	char msg[1024];
	json_t *data;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	data = extra_steal != NULL ? extra_steal : json_object();
	json_object_set_new(data, "code", json_string(dcode));
	return json_pack(
	    "{s:i, s:s, s:o}", "code", rpc, "message", msg, "data", data);
}

/*
 * The one place a call's error goes out: count it, log it, answer with
 * the error object err_steal (NULL: out of memory) and free the call.
 */
static void
call_send_error(struct call *call, json_t *err_steal)
{
	char qm[256], qc[80];
	json_t *msg = NULL;

	call->wd->calls_failed++;
	if (err_steal != NULL) {
		log_debug("client %llu: %s failed: \"%s\" (\"%s\")",
		    (unsigned long long)client_id(call->client), call->name,
		    log_quote_str(qm, sizeof(qm),
			json_string_value(
			    json_object_get(err_steal, "message"))),
		    log_quote_str(qc, sizeof(qc),
			json_string_value(json_object_get(
			    json_object_get(err_steal, "data"), "code"))));
		msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
		    call->id, "error", err_steal);
	}
	call_finish(call, msg);
}

void
call_vfail(struct call *call, int rpc_code, const char *data_code,
    json_t *extra_steal, const char *fmt, va_list ap)
{
	call_send_error(
	    call, call_verror_obj(rpc_code, data_code, extra_steal, fmt, ap));
}

void
call_fail(struct call *call, int rpc_code, const char *data_code,
    json_t *extra_steal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_vfail(call, rpc_code, data_code, extra_steal, fmt, ap);
	va_end(ap);
}

void
call_fail_oom(struct call *call)
{
	call_fail(call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
}

/* data.code for a non-JSON upstream error body, by HTTP status. */
static const char *
call_status_code(long status)
{
	switch (status) {
	case 400:
		return "invalid_request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 409:
		return "conflict";
	case 413:
		return "too_large";
	case 502:
		return "agent_error";
	case 503:
		return "host_unavailable";
	default:
		return status >= 500 ? "internal_error" : "upstream_error";
	}
}

json_t *
call_error_obj(
    int rpc, const char *dcode, json_t *extra_steal, const char *fmt, ...)
{
	va_list ap;
	json_t *err;

	va_start(ap, fmt);
	err = call_verror_obj(rpc, dcode, extra_steal, fmt, ap);
	va_end(ap);
	return err;
}

json_t *
call_http_error(long status, const char *body, size_t body_len)
{
	json_t *doc = NULL, *err, *extra, *v, *obj;
	const char *code, *msg, *key;
	char text[256];
	size_t n;

	if (body_len > 0)
		doc = json_loadb(body, body_len, JSON_ALLOW_NUL, NULL);
	err = json_object_get(doc, "error");
	if (json_is_object(err) &&
	    json_is_string(json_object_get(err, "code"))) {
		code = json_string_value(json_object_get(err, "code"));
		msg = json_string_value(json_object_get(err, "message"));
		extra = json_object();
		json_object_foreach(err, key, v) {
			if (strcmp(key, "code") != 0 &&
			    strcmp(key, "message") != 0 &&
			    strcmp(key, "status") != 0)
				json_object_set(extra, key, v);
		}
		json_object_set_new(extra, "status", json_integer(status));
		/* The v0.1.5 server's "no servers available — try again
		 * later": nothing was done, the same call may succeed. */
		if (strcmp(code, "no_hosts_available") == 0)
			json_object_set_new(extra, "retryable", json_true());
		obj = call_error_obj(IPC_ERR_APPLICATION, code, extra, "%s",
		    msg != NULL ? msg : code);
		json_decref(doc);
		return obj;
	}
	json_decref(doc);

	/* Not the JSON envelope: chi's text 404, an empty 405, a proxy. */
	n = body != NULL ? strcspn(body, "\r\n") : 0;
	if (n > body_len)
		n = body_len;
	log_quote(
	    text, sizeof(text), body != NULL ? body : "", n < 200 ? n : 200);
	extra =
	    json_pack("{s:I, s:s}", "status", (json_int_t)status, "body", text);
	if (status >= 200 && status < 400)
		return call_error_obj(IPC_ERR_APPLICATION, "upstream_protocol",
		    extra, "unexpected control plane answer (HTTP %ld)",
		    status);
	return call_error_obj(IPC_ERR_APPLICATION, call_status_code(status),
	    extra, "control plane answered HTTP %ld%s%s", status,
	    *text ? ": " : "", text);
}

json_t *
call_envelope(const char *body, size_t len, const char **code, const char **msg)
{
	json_t *doc, *err;

	*code = *msg = NULL;
	if (len == 0 || (doc = json_loadb(body, len, 0, NULL)) == NULL)
		return NULL;
	err = json_object_get(doc, "error");
	*code = json_string_value(json_object_get(err, "code"));
	*msg = json_string_value(json_object_get(err, "message"));
	return doc;
}

void
call_fail_obj(struct call *call, const json_t *err)
{
	call_send_error(call, json_deep_copy(err));
}

void
call_fail_upstream(struct call *call, const struct upstream_result *res)
{
	json_t *err;

	switch (res->outcome) {
	case UPSTREAM_OK:
		break;
	case UPSTREAM_CONNECT:
		call_fail(call, IPC_ERR_APPLICATION, "upstream_unreachable",
		    NULL, "control plane unreachable: %s", res->errmsg);
		return;
	case UPSTREAM_TIMEOUT:
		call_fail(call, IPC_ERR_APPLICATION, "timeout", NULL,
		    "control plane did not answer in time: %s", res->errmsg);
		return;
	case UPSTREAM_TOO_LARGE:
		call_fail(call, IPC_ERR_APPLICATION, "too_large", NULL,
		    "control plane %s (max-response, max-reply); move big "
		    "data with the streaming calls (sandbox.stream_download, "
		    "sandbox.exec_stream)",
		    res->errmsg);
		return;
	case UPSTREAM_PROTOCOL:
	case UPSTREAM_ABORTED:
	case UPSTREAM_OUTCOME__MAX:
		call_fail(call, IPC_ERR_APPLICATION, "upstream_unreachable",
		    NULL, "control plane connection failed: %s", res->errmsg);
		return;
	}
	if ((err = call_http_error(res->status, res->body, res->body_len)) ==
	    NULL) {
		call_fail_oom(call);
		return;
	}
	call_fail_obj(call, err);
	json_decref(err);
}

json_t *
call_upstream_json(const struct upstream_result *res, const char **err)
{
	json_t *v;

	if (res->body_len == 0)
		return json_object();
	v = json_loadb(
	    res->body, res->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (v == NULL)
		*err = "control plane answered with invalid JSON";
	return v;
}

int
call_event(struct call *call, const char *event, json_t *fields_steal)
{
	return call_event_seq(call, call->seq++, event, fields_steal);
}

int
call_event_seq(
    struct call *call, uint64_t seq, const char *event, json_t *fields_steal)
{
	json_t *params, *msg;
	int r;

	params = json_pack("{s:O, s:I, s:s}", "id", call->id, "seq",
	    (json_int_t)seq, "event", event);
	if (params == NULL) {
		json_decref(fields_steal);
		return -ENOMEM;
	}
	if (fields_steal != NULL) {
		json_object_update(params, fields_steal);
		json_decref(fields_steal);
	}
	msg = ipc_make_notification("$/stream", params);
	if (msg == NULL)
		return -ENOMEM;
	/* A call_event after events with the caller's numbers goes on from
	 * the last of them (the drain's final "error" of an exec stream). */
	if (seq >= call->seq)
		call->seq = seq + 1;
	r = client_send(call->client, msg);
	json_decref(msg);
	if (r < 0)
		return r;
	return client_congested(call->client);
}

/* Run and clear the handler's cancel hook. */
static void
call_run_cancel(struct call *call)
{
	call_cancel_cb cb = call->cancel;

	call_set_state(call, CALL_CANCELLING);
	call->cancel = NULL;
	if (cb != NULL)
		cb(call, call->cancel_arg);
	call_set_state(call, CALL_CANCELLED);
}

void
call_cancel(struct call *call)
{
	call_run_cancel(call);
	call_fail(call, IPC_ERR_CANCELLED, "cancelled", NULL, "cancelled");
}

void
call_abort_all(struct call_list *list)
{
	struct call *call;

	while ((call = TAILQ_FIRST(list)) != NULL) {
		call_run_cancel(call);
		call_free(call);
	}
}

/* Past the drain deadline: stop the call's work and fail it. */
static void
call_shutdown(struct call *call, long ms)
{
	json_t *fields;

	call_run_cancel(call);
	if ((call->method->flags & METHODS_STREAM) != 0) {
		fields = json_pack("{s:s, s:s}", "code", CALL_SHUTDOWN_CODE,
		    "message", CALL_SHUTDOWN_MSG);
		if (fields != NULL)
			(void)call_event(call, "error", fields);
	}
	call_fail(call, IPC_ERR_APPLICATION, CALL_SHUTDOWN_CODE,
	    json_pack("{s:I}", "drain_timeout_ms", (json_int_t)ms),
	    CALL_SHUTDOWN_MSG ": the call did not finish within "
			      "drain-timeout (%ld ms) and was stopped",
	    ms);
}

void
call_shutdown_all(struct call_list *list, long drain_timeout_ms)
{
	struct call *call;

	/* Each turn answers and frees the first call. */
	while ((call = TAILQ_FIRST(list)) != NULL)
		call_shutdown(call, drain_timeout_ms);
}

void
call_drained_all(struct call_list *list)
{
	struct call *call, *next;
	struct client *c;

	if ((call = TAILQ_FIRST(list)) == NULL)
		return;
	c = call->client;
	for (; call != NULL; call = next) {
		next = TAILQ_NEXT(call, entry);
		if (call->drain != NULL)
			call->drain(call, call->drain_arg);
		if (!client_active(c) || client_congested(c))
			break;
	}
}
