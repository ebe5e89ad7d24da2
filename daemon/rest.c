/* SPDX-License-Identifier: MIT */
/*
 * REST pass-through and the shared request helpers (see rest.h): one
 * method row + params -> one upstream request -> one reply. Every row
 * without a handler runs here; handlers build their requests with the
 * same helpers.
 */
#include "config.h"

#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "call.h"
#include "conf.h"
#include "creds.h"
#include "dialect.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "upstream.h"
#include "url.h"
#include "wrennd.h"
#include "ws.h"

#define REST_AUTH_MAX	      9000   /* bytes of one credential header */
#define REST_EXEC_DEFAULT_SEC 30     /* upstream's default exec timeout */
#define REST_EXEC_MARGIN_MS   30000  /* on top of the command's own timeout */
#define REST_EXEC_MAX_MS      700000 /* the control plane gives up at ~600 s */

/* Append one query value to b (key=value&), escaped. */
static int
rest_query_add(struct evbuffer *b, const char *key, const json_t *v)
{
	char num[32], *esc;
	const char *s;
	size_t len;

	if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else if (json_is_integer(v)) {
		snprintf(
		    num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
		len = strlen(num);
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "true" : "false";
		len = strlen(s);
	} else
		return -EINVAL;
	if ((esc = upstream_escape(s, len)) == NULL)
		return -ENOMEM;
	evbuffer_add_printf(
	    b, "%c%s=%s", evbuffer_get_length(b) == 0 ? '?' : '&', key, esc);
	free(esc);
	return 0;
}

char *
rest_build_path(const struct methods_row *m, const char *tmpl, json_t *params,
    char *err, size_t errlen)
{
	const struct methods_param *p;
	struct evbuffer *b, *q;
	const char *t, *end, *s;
	char name[64], *esc, *out = NULL;
	json_t *v, *e;
	size_t n, i, len;

	b = evbuffer_new();
	q = evbuffer_new();
	if (b == NULL || q == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (t = tmpl; *t != '\0'; t = end) {
		if (*t != '{') {
			end = t + strcspn(t, "{");
			evbuffer_add(b, t, (size_t)(end - t));
			continue;
		}
		if ((end = strchr(t, '}')) == NULL ||
		    (n = (size_t)(end - t - 1)) >= sizeof(name)) {
			snprintf(err, errlen, "bad path template");
			goto done;
		}
		memcpy(name, t + 1, n);
		name[n] = '\0';
		end++;
		v = json_object_get(params, name);
		if (!json_is_string(v)) {
			snprintf(err, errlen, "missing required parameter '%s'",
			    name);
			goto done;
		}
		s = json_string_value(v);
		len = json_string_length(v);
		if (!methods_segment_ok(s, len)) {
			snprintf(err, errlen,
			    "parameter '%s' is not a valid "
			    "identifier",
			    name);
			goto done;
		}
		if ((esc = upstream_escape(s, len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		evbuffer_add(b, esc, strlen(esc));
		free(esc);
	}
	for (p = m->params; p->name != NULL; p++) {
		if (p->in != METHODS_IN_QUERY ||
		    (v = json_object_get(params, p->name)) == NULL)
			continue;
		if (json_is_array(v)) {
			json_array_foreach(v, i, e)
				if (rest_query_add(q, p->name, e) != 0)
					goto oom;
		} else if (rest_query_add(q, p->name, v) != 0)
			goto oom;
	}
	evbuffer_add_buffer(b, q);
	len = evbuffer_get_length(b);
	if ((out = malloc(len + 1)) == NULL)
		goto oom;
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	goto done;
oom:
	snprintf(err, errlen, "out of memory");
done:
	if (b != NULL)
		evbuffer_free(b);
	if (q != NULL)
		evbuffer_free(q);
	return out;
}

/* prefix + "/" + the escaped id + suffix, malloc'd; NULL with errno. */
static char *
rest_id_path(const char *prefix, const char *sandbox_id, const char *suffix)
{
	char *esc, *out;

	if (!methods_segment_ok(sandbox_id, strlen(sandbox_id))) {
		errno = EINVAL;
		return NULL;
	}
	if ((esc = upstream_escape(sandbox_id, strlen(sandbox_id))) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s%s", prefix, esc, suffix) == -1) {
		errno = ENOMEM;
		out = NULL;
	}
	free(esc);
	return out;
}

char *
rest_sandbox_path(const char *sandbox_id, const char *suffix)
{
	return rest_id_path("/v1/sandboxes", sandbox_id, suffix);
}

int
rest_admin_route(const struct call *call)
{
	return call_method(call)->cred == ROLE_CRED_ADMIN;
}

char *
rest_call_sandbox_path(
    const struct call *call, const char *sandbox_id, const char *suffix)
{
	return rest_id_path(
	    rest_admin_route(call) ? REST_ADMIN_SANDBOXES : "/v1/sandboxes",
	    sandbox_id, suffix);
}

/* The call went away ($/cancel or client gone): abort the transfer. */
static void
rest_cancel_cb(struct call *call, void *arg)
{
	upstream_req_cancel(arg);
}

/* The JSON body (unless NULL) and the request-timeout deadline of a new
 * request; NULL after cancelling it on OOM. */
static struct upstream_req *
rest_req_setup(struct wrennd *wd, struct upstream_req *req, const json_t *body)
{
	char *text;
	int r = 0;

	if (req == NULL)
		return NULL;
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			r = -ENOMEM;
		else
			r = upstream_req_set_json(req, text, strlen(text));
		free(text);
	}
	if (r != 0) {
		upstream_req_cancel(req);
		return NULL;
	}
	upstream_req_set_timeout(req, wd->cfg->request_timeout_ms);
	return req;
}

struct upstream_req *
rest_req_new(struct wrennd *wd, enum upstream_auth auth, const char *verb,
    const char *path, const json_t *body)
{
	struct upstream_req *req;
	char *mapped;

	/* The one place a control plane path meets the dialect. */
	if ((mapped = dialect_map_path(wd->dialect, path)) == NULL)
		return NULL;
	req = rest_req_setup(
	    wd, upstream_req_new(wd->up, verb, mapped, auth), body);
	free(mapped);
	return req;
}

int
rest_ws_url(struct wrennd *wd, const char *path, char **ret, const char **why)
{
	char *mapped;
	int r;

	if ((mapped = dialect_map_path(wd->dialect, path)) == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	r = url_join_text(
	    upstream_base_url(wd->up), URL_AS_WS, mapped, ret, why);
	free(mapped);
	return r;
}

enum upstream_auth
rest_proxy_auth(const struct wrennd *wd)
{
	return dialect_current(wd->dialect) == DIALECT_CAPSULES
	    ? UPSTREAM_AUTH_NONE
	    : UPSTREAM_AUTH_APIKEY;
}

struct upstream_req *
rest_req_new_proxy(struct wrennd *wd, const char *label, const char *verb,
    const char *path, const json_t *body)
{
	return rest_req_setup(wd,
	    upstream_req_new_proxy(
		wd->up, label, verb, path, rest_proxy_auth(wd)),
	    body);
}

struct upstream_req *
rest_request_auth(struct call *call, enum upstream_auth auth, const char *verb,
    const char *path, const json_t *body)
{
	struct upstream_req *req;

	req = rest_req_new(call_wd(call), auth, verb, path, body);
	if (req == NULL)
		call_fail_oom(call);
	return req;
}

struct upstream_req *
rest_request(
    struct call *call, const char *verb, const char *path, const json_t *body)
{
	return rest_request_auth(call, call_auth(call), verb, path, body);
}

struct upstream_req *
rest_request_proxy(
    struct call *call, const char *label, const char *verb, const char *path)
{
	struct upstream_req *req;

	req = rest_req_new_proxy(call_wd(call), label, verb, path, NULL);
	if (req == NULL)
		call_fail_oom(call);
	return req;
}

int
rest_ws_connect(struct wrennd *wd, enum upstream_auth auth, struct ws_opts *o,
    struct ws **ret)
{
	const char *headers[2] = {NULL, NULL};
	char hdr[REST_AUTH_MAX];
	int r;

	hdr[0] = '\0';
	if (auth != UPSTREAM_AUTH_NONE) {
		r = creds_header(wd->creds,
		    auth == UPSTREAM_AUTH_APIKEY ? CREDS_APIKEY : CREDS_JWT,
		    hdr, sizeof(hdr));
		if (r < 0)
			return -ENOENT;
		headers[0] = hdr;
	}
	o->headers = headers;
	o->tls = wd->tls;
	o->dns = wd->dns;
	if (o->idle_timeout_ms == 0)
		o->idle_timeout_ms = wd->cfg->ws_idle_timeout_ms;
	r = ws_connect(wd->base, o, ret);
	creds_wipe(hdr, sizeof(hdr));
	o->headers = NULL;
	return r;
}

int
rest_ws_send_auth(struct wrennd *wd, struct ws *ws)
{
	char msg[REST_AUTH_MAX];
	int r;

	if ((r = creds_ws_auth(wd->creds, msg, sizeof(msg))) < 0)
		return r;
	/* ws_send_text copies it into the frame; never logged. */
	r = ws_send_text(ws, msg, (size_t)r);
	creds_wipe(msg, sizeof(msg));
	return r;
}

int
rest_start(struct call *call, struct upstream_req *req, unsigned flags,
    upstream_done_cb done, void *arg)
{
	int r;

	/* upstream_req_start never answers from inside, so the hook may be
	 * set after it returned. */
	if ((r = upstream_req_start(req, done, arg)) != 0) {
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start upstream request: %s", strerror(-r));
		return r;
	}
	if (flags & REST_CANCEL)
		call_set_cancel(call, rest_cancel_cb, req);
	return 0;
}

int
rest_ok(const struct upstream_result *res)
{
	return res->outcome == UPSTREAM_OK && res->status >= 200 &&
	    res->status < 300;
}

int
rest_done(struct call *call, const struct upstream_result *res)
{
	call_set_cancel(call, NULL, NULL);
	if (rest_ok(res))
		return 0;
	if (res->outcome == UPSTREAM_CONNECT)
		dialect_unreachable(call_wd(call)->dialect);
	if (!dialect_route_missing(call, res))
		call_fail_upstream(call, res);
	return -1;
}

/*
 * A sync exec that outlived its timeout_sec: the control plane's deadline
 * fires and it answers 502 agent_error "...deadline_exceeded..." with the
 * output discarded (protocol/PROTOCOL.md, sandbox.exec). Say so as
 * "timeout", keeping the upstream code and message in data. Returns 1 when
 * it answered the call.
 */
static int
rest_exec_timed_out(struct call *call, const struct upstream_result *res)
{
	json_t *doc, *v;
	const char *code, *msg;
	json_int_t sec;
	char qm[256];
	int hit;

	if (!(call_method(call)->flags & METHODS_EXEC_TIMEOUT) ||
	    res->outcome != UPSTREAM_OK || res->status != 502 ||
	    res->body_len == 0)
		return 0;
	if ((doc = call_envelope(res->body, res->body_len, &code, &msg)) ==
	    NULL)
		return 0;
	hit = code != NULL && strcmp(code, "agent_error") == 0 && msg != NULL &&
	    strstr(msg, "deadline_exceeded") != NULL;
	if (!hit) {
		json_decref(doc);
		return 0;
	}
	log_quote(qm, sizeof(qm), msg, strlen(msg));
	json_decref(doc);
	v = json_object_get(call_params(call), "timeout_sec");
	sec = json_is_integer(v) && json_integer_value(v) > 0
	    ? json_integer_value(v)
	    : REST_EXEC_DEFAULT_SEC;
	call_set_cancel(call, NULL, NULL);
	call_fail(call, IPC_ERR_APPLICATION, "timeout",
	    json_pack("{s:i, s:I, s:s, s:s}", "status", 502, "timeout_sec", sec,
		"upstream_code", "agent_error", "upstream_message", qm),
	    "the command did not finish within %lld s (timeout_sec); the "
	    "sandbox killed it and its output is lost",
	    (long long)sec);
	return 1;
}

/* A pass-through answered: the result, {} for METHODS_RES_EMPTY, or the error.
 */
static void
rest_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	const char *err = NULL;
	json_t *result;

	if (rest_exec_timed_out(call, res))
		return;
	if (rest_done(call, res) != 0)
		return;
	if (call_method(call)->result == METHODS_RES_EMPTY)
		result = json_object();
	else if ((result = call_upstream_json(res, &err)) == NULL) {
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol",
		    json_pack("{s:I}", "status", (json_int_t)res->status), "%s",
		    err);
		return;
	}
	if (result == NULL) {
		call_fail_oom(call);
		return;
	}
	if (call_method(call)->after != NULL &&
	    (result = call_method(call)->after(call, result)) == NULL)
		return;
	call_reply(call, result);
}

/* Deadline for the upstream request of call. */
static long
rest_timeout(const struct call *call)
{
	json_int_t sec;
	json_t *v;
	long ms;

	ms = call_wd(call)->cfg->request_timeout_ms;
	if (call_method(call)->flags & METHODS_SLOW)
		return ms > METHODS_SLOW_MS ? ms : METHODS_SLOW_MS;
	if (!(call_method(call)->flags & METHODS_EXEC_TIMEOUT))
		return ms;
	v = json_object_get(call_params(call), "timeout_sec");
	sec = json_is_integer(v) ? json_integer_value(v) : 0;
	if (sec <= 0)
		sec = REST_EXEC_DEFAULT_SEC;
	if (sec > REST_EXEC_MAX_MS / 1000)
		return REST_EXEC_MAX_MS;
	ms = (long)sec * 1000 + REST_EXEC_MARGIN_MS;
	return ms > REST_EXEC_MAX_MS ? REST_EXEC_MAX_MS : ms;
}

json_t *
rest_body(struct call *call)
{
	const struct methods_param *p;
	json_t *body, *v;

	if ((body = json_object()) == NULL)
		return NULL;
	for (p = call_method(call)->params; p->name != NULL; p++)
		if (p->in == METHODS_IN_BODY &&
		    (v = json_object_get(call_params(call), p->name)) != NULL &&
		    json_object_set(body, p->name, v) != 0) {
			json_decref(body);
			return NULL;
		}
	return body;
}

void
rest_passthrough(struct call *call)
{
	const struct methods_row *m = call_method(call);
	struct upstream_req *req;
	json_t *body = NULL;
	char err[256], *path;

	path = rest_build_path(m, m->path, call_params(call), err, sizeof(err));
	if (path == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "%s", err);
		return;
	}
	if ((m->flags & METHODS_BODY) && (body = rest_body(call)) == NULL) {
		free(path);
		call_fail_oom(call);
		return;
	}
	req = rest_request(call, m->verb, path, body);
	free(path);
	json_decref(body);
	if (req == NULL)
		return;
	upstream_req_set_timeout(req, rest_timeout(call));
	/* The result is the answer re-encoded: one over max-reply could not
	 * be sent, so stop its transfer as soon as it passes that size. */
	upstream_req_set_max_response(
	    req, (size_t)call_wd(call)->cfg->max_reply);
	(void)rest_start(call, req, REST_CANCEL, rest_done_cb, call);
}
