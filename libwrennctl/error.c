/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl errors: the WRENNCTL_E_* descriptions, the mapping from wire
 * errors (data.code, HTTP status, JSON-RPC code) to the typed codes that
 * mirror the SDK's exception table, and the "last error" kept per handle.
 * Owns the strings and JSON of a struct ctl_error. Called by every file of
 * the library.
 */
#include "config.h"

#include "wrennctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctl-error.h"

/* Descriptions, indexed by -code. Append-only, like the codes. */
static const char *const ctl_error_text[] = {
    "success",
    "out of memory",
    "invalid argument",
    "cannot connect to wrennd",
    "protocol error",
    "timed out",
    "cancelled",
    "invalid request",
    "authentication failed",
    "forbidden",
    "not found",
    "conflict",
    "host has active sandboxes",
    "host unavailable",
    "sandbox agent error",
    "internal error",
    "method not found",
    "too large",
    "control plane unreachable",
    "wrennd is shutting down",
    "error reported by wrennd",
    "wrennd is busy",
    "integrity check failed",
    "I/O error",
    "not supported by wrennd",
    "no control plane host available",
    "not supported by this control plane",
    "account not active",
};

/* data.code names of local failures (wrennctl_err_data_code()). */
static const struct {
	int code;
	const char *name;
} ctl_error_local_names[] = {
    {WRENNCTL_E_NOMEM, "nomem"},
    {WRENNCTL_E_INVAL, "invalid_argument"},
    {WRENNCTL_E_CONNECT, "connect"},
    {WRENNCTL_E_PROTOCOL, "protocol"},
    {WRENNCTL_E_TIMEOUT, "timeout"},
    {WRENNCTL_E_CANCELLED, "cancelled"},
    {WRENNCTL_E_UNSUPPORTED, "unsupported"},
};

/* Wire data.code -> typed code. Codes not listed fall back on status. */
static const struct {
	const char *name;
	int code;
} ctl_error_codes[] = {
    {"invalid_request", WRENNCTL_E_VALIDATION},
    {"invalid_params", WRENNCTL_E_VALIDATION},
    {"parse_error", WRENNCTL_E_PROTOCOL},
    {"unauthorized", WRENNCTL_E_AUTHENTICATION},
    {"forbidden", WRENNCTL_E_FORBIDDEN},
    {"no_team", WRENNCTL_E_FORBIDDEN},
    /* wrennd's own refusals: the peer's local role is too weak. */
    {"permission_denied", WRENNCTL_E_FORBIDDEN},
    {"not_found", WRENNCTL_E_NOT_FOUND},
    {"provider_not_found", WRENNCTL_E_NOT_FOUND},
    {"invalid_state", WRENNCTL_E_CONFLICT},
    {"conflict", WRENNCTL_E_CONFLICT},
    {"already_exists", WRENNCTL_E_CONFLICT},
    {"name_reserved", WRENNCTL_E_CONFLICT},
    {"email_taken", WRENNCTL_E_CONFLICT},
    /* The v0.1.5 server's (CONTRACT.md 11.9). */
    {"template_name_taken", WRENNCTL_E_CONFLICT},
    {"signup_cooldown", WRENNCTL_E_CONFLICT},
    {"owns_team_with_members", WRENNCTL_E_CONFLICT},
    {"invalid_token", WRENNCTL_E_VALIDATION},
    {"already_activated", WRENNCTL_E_VALIDATION},
    {"last_login_method", WRENNCTL_E_VALIDATION},
    {"wrong_password", WRENNCTL_E_AUTHENTICATION},
    {"account_deactivated", WRENNCTL_E_ACCOUNT},
    {"account_disabled", WRENNCTL_E_ACCOUNT},
    {"account_not_activated", WRENNCTL_E_ACCOUNT},
    {"no_hosts_available", WRENNCTL_E_NO_HOSTS},
    {"unsupported_by_server", WRENNCTL_E_UNSUPPORTED_BY_SERVER},
    {"has_active_sandboxes", WRENNCTL_E_HOST_HAS_SANDBOXES},
    /* The spellings of the OpenAPI file and the Python SDK. */
    {"host_has_sandboxes", WRENNCTL_E_HOST_HAS_SANDBOXES},
    {"host_has_capsules", WRENNCTL_E_HOST_HAS_SANDBOXES},
    {"host_unavailable", WRENNCTL_E_HOST_UNAVAILABLE},
    {"agent_error", WRENNCTL_E_AGENT},
    {"internal_error", WRENNCTL_E_INTERNAL},
    {"internal", WRENNCTL_E_INTERNAL},
    {"db_error", WRENNCTL_E_INTERNAL},
    {"read_error", WRENNCTL_E_INTERNAL},
    {"build_error", WRENNCTL_E_INTERNAL},
    {"method_not_found", WRENNCTL_E_METHOD_NOT_FOUND},
    {"too_large", WRENNCTL_E_TOO_LARGE},
    {"upstream_unreachable", WRENNCTL_E_UPSTREAM},
    {"upstream_protocol", WRENNCTL_E_UPSTREAM},
    {"timeout", WRENNCTL_E_TIMEOUT},
    {"cancelled", WRENNCTL_E_CANCELLED},
    {"shutting_down", WRENNCTL_E_SHUTTING_DOWN},
    {"too_many_clients", WRENNCTL_E_BUSY},
    {"too_many_streams", WRENNCTL_E_BUSY},
    {"protocol_mismatch", WRENNCTL_E_PROTOCOL},
    /* File transfer and fd passing. */
    {"integrity", WRENNCTL_E_INTEGRITY},
    {"io_error", WRENNCTL_E_IO},
    {"unexpected_fds", WRENNCTL_E_UNSUPPORTED},
    {"too_many_fds", WRENNCTL_E_VALIDATION},
};

const char *
wrennctl_strerror(int code)
{
	size_t n = sizeof(ctl_error_text) / sizeof(ctl_error_text[0]);

	if (code > 0 || (size_t) - (long)code >= n)
		return "unknown error";
	return ctl_error_text[-code];
}

/* Local data.code name of code, or NULL when code is not a local one. */
static const char *
ctl_error_name(int code)
{
	size_t i;

	for (i = 0; i <
	     sizeof(ctl_error_local_names) / sizeof(ctl_error_local_names[0]);
	     i++)
		if (ctl_error_local_names[i].code == code)
			return ctl_error_local_names[i].name;
	return NULL;
}

/* Map a wire error to a WRENNCTL_E_* code (never 0). */
int
ctl_error_map(const char *data_code, int http_status, int rpc_code)
{
	size_t i;

	if (data_code != NULL) {
		for (i = 0;
		     i < sizeof(ctl_error_codes) / sizeof(ctl_error_codes[0]);
		     i++)
			if (strcmp(ctl_error_codes[i].name, data_code) == 0)
				return ctl_error_codes[i].code;
	}
	switch (rpc_code) {
	case -32700:
		return WRENNCTL_E_PROTOCOL;
	case -32600:
	case -32602:
		return WRENNCTL_E_VALIDATION;
	case -32601:
		return WRENNCTL_E_METHOD_NOT_FOUND;
	case -32603:
		return WRENNCTL_E_INTERNAL;
	case -32001:
		return WRENNCTL_E_FORBIDDEN;
	case -32800:
		return WRENNCTL_E_CANCELLED;
	default:
		break;
	}
	switch (http_status) {
	case 400:
		return WRENNCTL_E_VALIDATION;
	case 401:
		return WRENNCTL_E_AUTHENTICATION;
	case 403:
		return WRENNCTL_E_FORBIDDEN;
	case 404:
		return WRENNCTL_E_NOT_FOUND;
	case 409:
		return WRENNCTL_E_CONFLICT;
	case 413:
		return WRENNCTL_E_TOO_LARGE;
	case 502:
		return WRENNCTL_E_AGENT;
	case 503:
		return WRENNCTL_E_HOST_UNAVAILABLE;
	default:
		break;
	}
	if (http_status >= 500 && http_status <= 599)
		return WRENNCTL_E_INTERNAL;
	return WRENNCTL_E_APPLICATION;
}

void
ctl_error_clear(struct ctl_error *e)
{
	free(e->msg);
	json_decref(e->json);
	free(e->json_text);
	memset(e, 0, sizeof(*e));
}

/* Move src into dst (dst's old content is released, src is left empty). */
void
ctl_error_move(struct ctl_error *dst, struct ctl_error *src)
{
	if (dst == src)
		return;
	ctl_error_clear(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* Deep copy; on allocation failure dst keeps the code and no detail. */
int
ctl_error_copy(struct ctl_error *dst, const struct ctl_error *src)
{
	ctl_error_clear(dst);
	dst->code = src->code;
	if (src->msg != NULL && (dst->msg = strdup(src->msg)) == NULL)
		return WRENNCTL_E_NOMEM;
	if (src->json != NULL)
		dst->json = json_incref(src->json);
	if (src->json_text != NULL &&
	    (dst->json_text = strdup(src->json_text)) == NULL)
		return WRENNCTL_E_NOMEM;
	return 0;
}

static char *ctl_vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
static int ctl_error_vlocal(struct ctl_error *e, int code, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/* printf into a malloc'd string, or NULL. */
static char *
ctl_vformat(const char *fmt, va_list ap)
{
	char *s;

	return vasprintf(&s, fmt, ap) == -1 ? NULL : s;
}

static int
ctl_error_vlocal(struct ctl_error *e, int code, const char *fmt, va_list ap)
{
	const char *name;

	ctl_error_clear(e);
	e->code = code;
	/* Under memory pressure keep just the code: accessors fall back. */
	if (code == WRENNCTL_E_NOMEM)
		return code;
	e->msg = ctl_vformat(fmt, ap);
	name = ctl_error_name(code);
	e->json = json_pack("{s:s?, s:{s:s, s:s}}", "message", e->msg, "data",
	    "code", name != NULL ? name : "error", "source", "libwrennctl");
	if (e->json != NULL)
		e->json_text = json_dumps(e->json, JSON_COMPACT);
	return code;
}

/* Record a local failure in e; returns code. */
int
ctl_error_local(struct ctl_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)ctl_error_vlocal(e, code, fmt, ap);
	va_end(ap);
	return code;
}

/* Record a local failure as h's last error; returns code. */
int
ctl_fail(struct wrennctl *h, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)ctl_error_vlocal(&h->err, code, fmt, ap);
	va_end(ap);
	return code;
}

/*
 * Record a wire "error" object (borrowed; a reference is taken) in e and
 * return its typed code.
 */
int
ctl_error_remote(struct ctl_error *e, json_t *error)
{
	json_t *data, *v;
	const char *data_code = NULL, *msg;
	int status = 0, rpc = 0;

	ctl_error_clear(e);
	data = json_object_get(error, "data");
	v = json_object_get(data, "code");
	if (json_is_string(v))
		data_code = json_string_value(v);
	v = json_object_get(data, "status");
	if (json_is_integer(v))
		status = (int)json_integer_value(v);
	v = json_object_get(error, "code");
	if (json_is_integer(v))
		rpc = (int)json_integer_value(v);
	e->code = ctl_error_map(data_code, status, rpc);
	v = json_object_get(error, "message");
	msg = json_is_string(v) ? json_string_value(v)
				: wrennctl_strerror(e->code);
	e->msg = strdup(msg);
	e->json = json_incref(error);
	e->json_text = json_dumps(error, JSON_COMPACT);
	return e->code;
}

const char *
wrennctl_errmsg(const struct wrennctl *h)
{
	if (h == NULL)
		return wrennctl_strerror(WRENNCTL_E_INVAL);
	if (h->err.code == 0)
		return "";
	if (h->err.msg != NULL)
		return h->err.msg;
	return wrennctl_strerror(h->err.code);
}

const char *
wrennctl_err_data_code(const struct wrennctl *h)
{
	json_t *v;

	if (h == NULL || h->err.code == 0)
		return NULL;
	v = json_object_get(json_object_get(h->err.json, "data"), "code");
	if (json_is_string(v))
		return json_string_value(v);
	if (h->err.json == NULL)
		return ctl_error_name(h->err.code);
	return NULL;
}

int
wrennctl_err_http_status(const struct wrennctl *h)
{
	json_t *v;

	if (h == NULL)
		return 0;
	v = json_object_get(json_object_get(h->err.json, "data"), "status");
	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

int
wrennctl_err_rpc_code(const struct wrennctl *h)
{
	json_t *v;

	if (h == NULL)
		return 0;
	v = json_object_get(h->err.json, "code");
	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

const char *
wrennctl_err_json(const struct wrennctl *h)
{
	if (h == NULL || h->err.code == 0)
		return NULL;
	return h->err.json_text;
}

const char *
wrennctl_err_sandbox_id(const struct wrennctl *h, size_t i)
{
	json_t *ids, *v;

	if (h == NULL)
		return NULL;
	ids = json_object_get(
	    json_object_get(h->err.json, "data"), "sandbox_ids");
	/* The control plane puts them in its error object; accept that too. */
	if (ids == NULL)
		ids = json_object_get(h->err.json, "sandbox_ids");
	v = json_array_get(ids, i);
	return json_is_string(v) ? json_string_value(v) : NULL;
}
