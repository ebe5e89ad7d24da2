/* SPDX-License-Identifier: MIT */
/*
 * REST pass-through (see rest.h): one method row + params -> one upstream
 * request -> one reply. Every table row without a handler runs here.
 */
#include "config.h"

#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "call.h"
#include "conf.h"
#include "creds.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "upstream.h"
#include "wrennd.h"

#define REST_EXEC_DEFAULT_SEC 30     /* upstream's default exec timeout */
#define REST_EXEC_MARGIN_MS   30000  /* on top of the command's own timeout */
#define REST_EXEC_MAX_MS      700000 /* the control plane gives up at ~600 s */

/*
 * Use the JWT unless it is known to have expired: then fail locally, since
 * the control plane would only answer "invalid or expired token".
 */
static int
rest_jwt_fresh(struct call *call, enum upstream_auth *ret)
{
	time_t exp = creds_jwt_expiry(call->wd->creds);
	char ts[32];

	if (exp == 0 || exp > time(NULL) ||
	    creds_jwt_expiry_text(call->wd->creds, ts, sizeof(ts)) != 0) {
		*ret = UPSTREAM_AUTH_JWT;
		return 0;
	}
	call_fail(call, IPC_ERR_APPLICATION, "unauthorized",
	    json_pack("{s:s, s:b, s:s}", "needs", "jwt", "expired", 1,
		"expired_at", ts),
	    "the configured JWT expired at %s: %s", ts,
	    creds_jwt_hint(call->wd->creds, call->wd->cfg));
	return -1;
}

int
rest_pick_auth(struct call *call, int cred, enum upstream_auth *ret)
{
	struct creds *cr = call->wd->creds;

	switch ((enum method_cred)cred) {
	case MCRED_NONE:
		*ret = UPSTREAM_AUTH_NONE;
		return 0;
	case MCRED_ANY:
		if (creds_have(cr, CREDS_APIKEY)) {
			*ret = UPSTREAM_AUTH_APIKEY;
			return 0;
		}
		if (creds_have(cr, CREDS_JWT))
			return rest_jwt_fresh(call, ret);
		call_fail(call, IPC_ERR_APPLICATION, "unauthorized",
		    json_pack("{s:s}", "needs", "api_key_or_jwt"),
		    "%s needs a credential and wrennd has none: configure an "
		    "API key (WRENN_API_KEY, --api-key-file or "
		    "$CREDENTIALS_DIRECTORY/wrenn-api-key) or a user JWT "
		    "(WRENN_TOKEN or --token-file)",
		    call->method->name);
		return -1;
	case MCRED_JWT:
	case MCRED_ADMIN:
		if (creds_have(cr, CREDS_JWT))
			return rest_jwt_fresh(call, ret);
		call_fail(call, IPC_ERR_APPLICATION, "unauthorized",
		    json_pack("{s:s}", "needs",
			cred == MCRED_ADMIN ? "admin_jwt" : "jwt"),
		    "%s needs a user JWT%s (the control plane does not accept "
		    "API keys on this route): configure WRENN_TOKEN or "
		    "--token-file and reload wrennd (SIGHUP)",
		    call->method->name,
		    cred == MCRED_ADMIN ? " of a platform admin" : "");
		return -1;
	case MCRED__MAX:
		break;
	}
	call_fail(
	    call, IPC_ERR_INTERNAL, "internal", NULL, "bad credential kind");
	return -1;
}

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
rest_build_path(const struct method *m, const char *tmpl, json_t *params,
    char *err, size_t errlen)
{
	const struct method_param *p;
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
		end = strchr(t, '}');
		n = (size_t)(end - t - 1);
		if (end == NULL || n >= sizeof(name)) {
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
		if (p->in != PIN_QUERY ||
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

char *
rest_sandbox_path(const char *sandbox_id, const char *suffix)
{
	char *esc, *out;

	if (!methods_segment_ok(sandbox_id, strlen(sandbox_id))) {
		errno = EINVAL;
		return NULL;
	}
	if ((esc = upstream_escape(sandbox_id, strlen(sandbox_id))) == NULL)
		return NULL;
	if (asprintf(&out, "/v1/sandboxes/%s%s", esc, suffix) == -1)
		out = NULL;
	free(esc);
	return out;
}

/* The call went away ($/cancel or client gone): abort the transfer. */
static void
rest_cancel_cb(struct call *call, void *arg)
{
	upstream_req_cancel(arg);
}

static void
rest_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	const char *err = NULL;
	json_t *result;

	call_set_cancel(call, NULL, NULL);
	if (res->outcome != UPSTREAM_OK || res->status < 200 ||
	    res->status >= 300) {
		call_fail_upstream(call, res);
		return;
	}
	if (call->method->result == MRES_EMPTY) {
		call_reply(call, json_object());
		return;
	}
	if ((result = call_upstream_json(res, &err)) == NULL) {
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol",
		    json_pack("{s:I}", "status", (json_int_t)res->status), "%s",
		    err);
		return;
	}
	call_reply(call, result);
}

/* Deadline for the upstream request of call. */
static long
rest_timeout(const struct call *call)
{
	json_int_t sec;
	json_t *v;
	long ms;

	if (!(call->method->flags & METHOD_EXEC_TIMEOUT))
		return call->wd->cfg->request_timeout_ms;
	v = json_object_get(call->params, "timeout_sec");
	sec = json_is_integer(v) ? json_integer_value(v) : 0;
	if (sec <= 0)
		sec = REST_EXEC_DEFAULT_SEC;
	if (sec > REST_EXEC_MAX_MS / 1000)
		return REST_EXEC_MAX_MS;
	ms = (long)sec * 1000 + REST_EXEC_MARGIN_MS;
	return ms > REST_EXEC_MAX_MS ? REST_EXEC_MAX_MS : ms;
}

int
rest_passthrough(struct call *call)
{
	const struct method *m = call->method;
	const struct method_param *p;
	struct upstream_req *req;
	enum upstream_auth auth;
	json_t *body, *v;
	char err[256], *path, *text;
	int r;

	if (rest_pick_auth(call, m->cred, &auth) != 0)
		return 0;
	path = rest_build_path(m, m->path, call->params, err, sizeof(err));
	if (path == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "%s", err);
		return 0;
	}
	req = upstream_req_new(call->wd->up, m->verb, path, auth);
	free(path);
	if (req == NULL)
		goto oom;
	if (m->flags & METHOD_BODY) {
		if ((body = json_object()) == NULL)
			goto oom_req;
		for (p = m->params; p->name != NULL; p++)
			if (p->in == PIN_BODY &&
			    (v = json_object_get(call->params, p->name)) !=
				NULL)
				json_object_set(body, p->name, v);
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (text == NULL)
			goto oom_req;
		r = upstream_req_set_json(req, text, strlen(text));
		free(text);
		if (r != 0)
			goto oom_req;
	}
	upstream_req_set_timeout(req, rest_timeout(call));
	/* The result is the answer re-encoded: one over max-reply could not
	 * be sent, so stop its transfer as soon as it passes that size. */
	upstream_req_set_max_response(req, (size_t)call->wd->cfg->max_reply);
	/* The hook is set first: the answer may come before start returns. */
	call_set_cancel(call, rest_cancel_cb, req);
	if ((r = upstream_req_start(req, rest_done_cb, call)) != 0) {
		call_set_cancel(call, NULL, NULL);
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start upstream request: %s", strerror(-r));
	}
	return 0;
oom_req:
	upstream_req_cancel(req);
oom:
	call_fail(call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
	return 0;
}
