/* SPDX-License-Identifier: MIT */
/*
 * The control plane's sandbox proxy (protocol/PROTOCOL.md, "The sandbox
 * proxy"): the front routes a request whose Host is
 * "{port}-{sandbox_id}.{domain}" to that port in the sandbox. At 172413e it
 * takes only X-API-Key there; at v0.1.5 it checks no credential, so
 * wrennd sends none (rest_proxy_auth) and the sandboxed app never sees
 * wrennd's key.
 *
 * sandbox.get_url builds the proxy URL locally, as the SDK does.
 * sandbox.http_request makes one request through the proxy (upstream.c
 * names the proxy host and adds the key where one is taken) and answers with
 * the status, header fields and body, whatever the sandboxed app said. The
 * proxy's own refusals become typed errors instead. Those are told apart from
 * an app's answers by their exact shape, and where the sandbox's record can
 * tell (those refusals happen only when the sandbox is not running or
 * not visible to the key), by one read of that record: an answer while
 * the record says "running" is the app's. protocol/PROTOCOL.md states
 * the rule.
 *
 * Owns, per call, the state of that confirming read. Called by the
 * dispatcher through the method table (methods.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "api.h"
#include "b64.h"
#include "call.h"
#include "conf.h"
#include "creds.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define PROXY_PATH_MAX	   8192	 /* bytes of a request target */
#define PROXY_METHOD_MAX   16	 /* bytes of a method name */
#define PROXY_HEADER_BYTES 65536 /* answer header fields kept */
#define PROXY_TEXT_MAX	   512	 /* bytes of the proxy's own line */
/* Reply bytes besides the base64 body: header fields at their worst
 * JSON escaping (\u00XX) and the rest of the object. */
#define PROXY_REPLY_SLACK (6L * PROXY_HEADER_BYTES + 4096)

/*
 * The proxy's own answers, or PROXY_APP. It checks, in this order, the
 * port, the X-API-Key, the sandbox ID, then the sandbox (found for the
 * key's team, running, its host reachable); anything the app in the
 * sandbox answers is passed through unchanged.
 */
enum proxy_own {
	PROXY_APP,	   /* not one: the sandboxed app's answer */
	PROXY_BAD_PORT,	   /* 400 "invalid port" */
	PROXY_BAD_ID,	   /* 400 "invalid sandbox ID" */
	PROXY_NO_KEY,	   /* 401 envelope: key missing or unknown */
	PROXY_NOT_FOUND,   /* 404 "sandbox not found" */
	PROXY_NOT_RUNNING, /* 409 "sandbox is not running (status: X)" */
	PROXY_FAILED,	   /* 502 "proxy error: ..." (CP or agent) */
	PROXY_NO_AGENT,	   /* 503 "host agent has no address" */
	PROXY_UNAVAILABLE, /* 503 "sandbox is not available" (the agent) */
	PROXY_OWN__MAX
};

static const struct proxy_answer {
	long status;
	const char *text; /* the line (text/plain) or message (401) */
	int prefix;	  /* text starts the line */
	int record;	  /* only while not running: the record decides */
	const char *code; /* data.code of the typed error */
} proxy_answers[PROXY_OWN__MAX] = {
    [PROXY_BAD_PORT] = {400, "invalid port", 0, 1, "invalid_request"},
    [PROXY_BAD_ID] = {400, "invalid sandbox ID", 0, 1, "invalid_request"},
    [PROXY_NO_KEY] = {401, NULL, 0, 1, "unauthorized"},
    [PROXY_NOT_FOUND] = {404, "sandbox not found", 0, 1, "not_found"},
    [PROXY_NOT_RUNNING] = {409, "sandbox is not running (status: ", 1, 1,
	"invalid_state"},
    [PROXY_FAILED] = {502, "proxy error: ", 1, 0, "proxy_error"},
    [PROXY_NO_AGENT] = {503, "host agent has no address", 0, 0,
	"host_unavailable"},
    [PROXY_UNAVAILABLE] = {503, "sandbox is not available", 0, 1,
	"invalid_state"},
};

/* Answer fields that describe the connection, not the answer. */
static const char *const proxy_hop_fields[] = {"connection", "keep-alive",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", NULL};

/* A confirming read of the sandbox's record (see the file comment). */
struct proxy_check {
	struct call *call;	  /* borrowed; answered exactly once */
	struct upstream_req *req; /* owned while in flight */
	json_t *result;		  /* owned: the answer as a result */
	enum proxy_own own;	  /* what its shape says */
	long status;
	char text[PROXY_TEXT_MAX]; /* the proxy's words, for the error */
};

/* The call's params. */
static const char *
proxy_sandbox_id(struct call *call)
{
	return json_string_value(
	    json_object_get(call_params(call), "sandbox_id"));
}

static long
proxy_port(struct call *call)
{
	return (long)json_integer_value(
	    json_object_get(call_params(call), "port"));
}

int
api_proxy_label(struct call *call, long port, char *label, size_t len)
{
	const char *id = proxy_sandbox_id(call);
	size_t n = strlen(id);
	int w;

	if (n <= 3 || strncmp(id, "cl-", 3) != 0 ||
	    strspn(id + 3, "abcdefghijklmnopqrstuvwxyz0123456789") != n - 3) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' must be a sandbox id (cl- then "
		    "lower-case letters and digits): the proxy routes no "
		    "other");
		return -1;
	}
	w = snprintf(label, len, "%ld-%s", port, id);
	if (w < 0 || (size_t)w >= len) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is too long for a proxy host "
		    "name (%d bytes with the port at most)",
		    API_PROXY_LABEL_MAX);
		return -1;
	}
	return 0;
}

char *
api_proxy_host(struct call *call, const char *label)
{
	char *host;

	if ((host = upstream_proxy_host(call_wd(call)->up, label)) != NULL)
		return host;
	if (errno == ENOMEM)
		call_fail_oom(call);
	else
		call_fail(call, IPC_ERR_APPLICATION, "unsupported", NULL,
		    "the sandbox proxy is reached by name "
		    "({port}-{sandbox_id}.HOST) and base-url's host is an IPv6 "
		    "address; configure base-url with a host name");
	return NULL;
}

static void
api_proxy_get_url(struct call *call)
{
	char label[API_PROXY_LABEL_MAX + 1], *host;

	if (api_proxy_label(call, proxy_port(call), label, sizeof(label)) !=
		0 ||
	    (host = api_proxy_host(call, label)) == NULL)
		return;
	/* The SDK's get_url: always http, the base URL's path dropped. */
	call_reply(call, json_pack("{s:s+}", "url", "http://", host));
	free(host);
}

/* Whether s is a method name the proxy forwards (CONNECT it does not). */
static int
proxy_method_ok(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");

	return n > 0 && n <= PROXY_METHOD_MAX && s[n] == '\0' &&
	    strcmp(s, "CONNECT") != 0;
}

/* Whether s (len bytes) is an origin-form target: "/", then visible
 * ASCII but '#' (no spaces, controls or raw 8-bit bytes). */
static int
proxy_path_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > PROXY_PATH_MAX || s[0] != '/')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f || s[i] == '#')
			return 0;
	return 1;
}

/*
 * Add one request field; a credential field is dropped (wrennd sends its
 * own key where the proxy takes one), anything upstream.c refuses fails the
 * call. 0, or -1 after failing the call.
 */
static int
proxy_add_field(struct call *call, struct upstream_req *req, const char *name,
    const json_t *v)
{
	int r;

	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "header '%s' must be a string without NUL, or an array of "
		    "them",
		    name);
		return -1;
	}
	r = upstream_req_add_header(req, name, json_string_value(v));
	if (r == 0 || r == -EPERM)
		return 0;
	if (r == -E2BIG)
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'headers': more than 100 fields or 64 KiB");
	else if (r == -EINVAL)
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "header '%s' cannot be sent: not a field name, a control "
		    "byte in its value, or a field of the connection (Host, "
		    "Content-Length, Transfer-Encoding, Expect, Connection, "
		    "Keep-Alive, Proxy-*, TE, Trailer, Upgrade)",
		    name);
	else
		call_fail_oom(call);
	return -1;
}

/* Add the headers param to req. 0, or -1 after failing the call. */
static int
proxy_add_headers(struct call *call, struct upstream_req *req)
{
	json_t *headers = json_object_get(call_params(call), "headers"), *v, *e;
	const char *name;
	size_t i;

	json_object_foreach(headers, name, v) {
		if (!json_is_array(v)) {
			if (proxy_add_field(call, req, name, v) != 0)
				return -1;
			continue;
		}
		json_array_foreach(v, i, e)
			if (proxy_add_field(call, req, name, e) != 0)
				return -1;
	}
	return 0;
}

/* Largest answer body whose result fits proxy-max-body and max-reply. */
static size_t
proxy_answer_max(const struct call *call)
{
	const struct conf *cfg = call_wd(call)->cfg;
	long fit = cfg->max_reply > PROXY_REPLY_SLACK
	    ? (cfg->max_reply - PROXY_REPLY_SLACK) / 4 * 3
	    : 0;

	return (size_t)(fit < cfg->proxy_max_body ? fit : cfg->proxy_max_body);
}

/*
 * The request body from the body param: *ret NULL without one. 0, or -1
 * after failing the call (not base64, over proxy-max-body).
 */
static int
proxy_body(struct call *call, unsigned char **ret, size_t *ret_len)
{
	json_t *v = json_object_get(call_params(call), "body");
	long max = call_wd(call)->cfg->proxy_max_body;

	*ret = NULL;
	*ret_len = 0;
	if (v == NULL)
		return 0;
	/* Refused before decoding what would be too much anyway. */
	if (b64_decoded_max(json_string_length(v)) > (size_t)max + 2) {
		call_fail(call, IPC_ERR_APPLICATION, "too_large",
		    json_pack("{s:I}", "max", (json_int_t)max),
		    "the request body is over proxy-max-body (%ld bytes)", max);
		return -1;
	}
	*ret = b64_decode(json_string_value(v), json_string_length(v), ret_len);
	if (*ret == NULL && errno == ENOMEM) {
		call_fail_oom(call);
		return -1;
	}
	if (*ret == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'body' must be standard base64 with padding");
		return -1;
	}
	if (*ret_len > (size_t)max) {
		free(*ret);
		*ret = NULL;
		call_fail(call, IPC_ERR_APPLICATION, "too_large",
		    json_pack("{s:I, s:I}", "size", (json_int_t)*ret_len, "max",
			(json_int_t)max),
		    "the request body is over proxy-max-body (%ld bytes)", max);
		return -1;
	}
	return 0;
}

/* The first value of answer field name, or NULL. */
static const char *
proxy_field(const struct upstream_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->nheaders; i++)
		if (strcasecmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

/*
 * The body (n bytes) as the one line of a Go http.Error answer (text +
 * "\n", no other line break or NUL) into line; its length, or -1.
 */
static int
proxy_line(const char *body, size_t n, char *line, size_t len)
{
	if (n < 2 || n > len || body[n - 1] != '\n' ||
	    memchr(body, '\0', n) != NULL ||
	    memchr(body, '\n', n - 1) != NULL || memchr(body, '\r', n) != NULL)
		return -1;
	memcpy(line, body, n - 1);
	line[n - 1] = '\0';
	return (int)(n - 1);
}

/* The 401 the proxy sends without a known key (a JSON envelope). */
static int
proxy_is_key_refusal(const struct upstream_result *res, char *text, size_t len)
{
	const char *ct = proxy_field(res, "Content-Type"), *code, *msg;
	json_t *doc;
	int hit;

	if (res->status != 401 || ct == NULL ||
	    strncasecmp(ct, "application/json", 16) != 0 ||
	    (doc = call_envelope(res->body, res->body_len, &code, &msg)) ==
		NULL)
		return 0;
	hit = json_object_size(doc) == 1 && code != NULL &&
	    strcmp(code, "unauthorized") == 0 && msg != NULL &&
	    (strcmp(msg, "X-API-Key header required") == 0 ||
		strcmp(msg, "invalid API key") == 0);
	if (hit)
		snprintf(text, len, "%s", msg);
	json_decref(doc);
	return hit;
}

/* Whether s is "[a-z_]+)" (the end of the 409 line). */
static int
proxy_status_tail(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");

	return n > 0 && strcmp(s + n, ")") == 0;
}

/*
 * What a text/plain answer's shape says: one of the proxy's own answers
 * (status, Content-Type "text/plain; charset=utf-8",
 * X-Content-Type-Options "nosniff" and the exact line, as Go's http.Error
 * writes them), with its words in text, or PROXY_APP.
 */
static enum proxy_own
proxy_shape_text(long status, const char *ct, const char *nosniff,
    const char *body, size_t body_len, char *text, size_t len)
{
	const struct proxy_answer *a;
	char line[PROXY_TEXT_MAX];
	size_t n;
	int i;

	if (ct == NULL || strcasecmp(ct, "text/plain; charset=utf-8") != 0 ||
	    nosniff == NULL || strcasecmp(nosniff, "nosniff") != 0 ||
	    proxy_line(body, body_len, line, sizeof(line)) < 0)
		return PROXY_APP;
	for (i = PROXY_APP + 1; i < PROXY_OWN__MAX; i++) {
		a = &proxy_answers[i];
		if (a->status != status || a->text == NULL)
			continue;
		n = strlen(a->text);
		if (a->prefix
			? strncmp(line, a->text, n) != 0 || line[n] == '\0'
			: strcmp(line, a->text) != 0)
			continue;
		if (i == PROXY_NOT_RUNNING && !proxy_status_tail(line + n))
			continue;
		snprintf(text, len, "%s", line);
		return (enum proxy_own)i;
	}
	return PROXY_APP;
}

/* What the answer's shape says: the 401 envelope, the text/plain
 * answers (proxy_shape_text), or PROXY_APP. */
static enum proxy_own
proxy_shape(const struct upstream_result *res, char *text, size_t len)
{
	if (proxy_is_key_refusal(res, text, len))
		return PROXY_NO_KEY;
	return proxy_shape_text(res->status, proxy_field(res, "Content-Type"),
	    proxy_field(res, "X-Content-Type-Options"), res->body,
	    res->body_len, text, len);
}

int
api_proxy_status_gone(const char *status)
{
	return status != NULL &&
	    (strcmp(status, "stopped") == 0 || strcmp(status, "error") == 0);
}

int
api_proxy_gone_shape(long status, const char *content_type, const char *nosniff,
    const char *body, size_t len)
{
	static const char running[] = "sandbox is not running (status: ";
	char text[PROXY_TEXT_MAX], st[PROXY_TEXT_MAX];
	enum proxy_own own = proxy_shape_text(
	    status, content_type, nosniff, body, len, text, sizeof(text));
	size_t n;

	if (own == PROXY_NOT_FOUND)
		return 1;
	if (own != PROXY_NOT_RUNNING)
		return 0;
	/* "...(status: X)": X without the closing parenthesis. */
	n = strlen(text) - (sizeof(running) - 1) - 1;
	memcpy(st, text + sizeof(running) - 1, n);
	st[n] = '\0';
	return api_proxy_status_gone(st);
}

/*
 * Fail the call with the typed error for the proxy's own answer; the
 * record's status when it was read (or NULL).
 */
static void
proxy_fail_own(struct call *call, enum proxy_own own, long status,
    const char *text, const char *sandbox_status)
{
	/* The 409 line already names the status. */
	int say = sandbox_status != NULL && own != PROXY_NOT_RUNNING;

	call_fail(call, IPC_ERR_APPLICATION, proxy_answers[own].code,
	    json_pack("{s:I, s:s, s:s, s:s*}", "status", (json_int_t)status,
		"source", "proxy", "proxy_message", text, "sandbox_status",
		sandbox_status),
	    "sandbox %s port %ld: the control plane's proxy answered HTTP "
	    "%ld: %s%s%s%s",
	    proxy_sandbox_id(call), proxy_port(call), status, text,
	    say ? " (sandbox status: " : "", say ? sandbox_status : "",
	    say ? ")" : "");
}

/* A JSON string of len bytes at s: UTF-8 when valid, else read as
 * ISO-8859-1 (what HTTP field values historically are). */
static json_t *
proxy_text(const char *s, size_t len)
{
	json_t *v;
	char *u;
	size_t i, n = 0;

	if ((v = json_stringn(s, len)) != NULL)
		return v;
	if ((u = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80) {
			u[n++] = (char)c;
		} else {
			u[n++] = (char)(0xc0 | (c >> 6));
			u[n++] = (char)(0x80 | (c & 0x3f));
		}
	}
	v = json_stringn(u, n);
	free(u);
	return v;
}

/* Add one field to the headers object: names in lower case, a repeated
 * field as an array of its values in order; a field of the connection
 * (Transfer-Encoding, ...) or a name that is not a token is left out.
 * 0 or -ENOMEM. */
static int
proxy_result_field(json_t *h, const char *name, json_t *v_steal)
{
	json_t *prev;
	size_t i;
	char *key;
	int r = 0;

	if (v_steal == NULL || (key = strdup(name)) == NULL) {
		json_decref(v_steal);
		return -ENOMEM;
	}
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	for (i = 0; proxy_hop_fields[i] != NULL; i++)
		if (strcmp(key, proxy_hop_fields[i]) == 0)
			break;
	if (proxy_hop_fields[i] != NULL || *key == '\0' ||
	    strspn(
		key, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") !=
		strlen(key))
		json_decref(v_steal); /* not sent on, or not a field name */
	else if ((prev = json_object_get(h, key)) == NULL)
		r = json_object_set_new(h, key, v_steal);
	else if (json_is_array(prev))
		r = json_array_append_new(prev, v_steal);
	else
		r = json_object_set_new(
		    h, key, json_pack("[O,o]", prev, v_steal));
	free(key);
	return r != 0 ? -ENOMEM : 0;
}

/*
 * The answer as a result: {"status", "headers", "body" (base64)}, with
 * any occurrence of the API key masked (an app that echoes its request
 * would hand it out). NULL on OOM.
 */
static json_t *
proxy_result(struct call *call, const struct upstream_result *res)
{
	const struct creds *cr = call_wd(call)->creds;
	const char *v, *body = res->body;
	char *masked = NULL, *b64;
	json_t *h, *out;
	size_t i, n;
	int hits = 0, r;

	if ((h = json_object()) == NULL)
		return NULL;
	for (i = 0; i < res->nheaders; i++) {
		v = res->headers[i].value;
		if ((r = creds_redact(
			 cr, CREDS_APIKEY, v, strlen(v), &masked)) < 0)
			goto oom;
		hits += r;
		r = proxy_result_field(h, res->headers[i].name,
		    proxy_text(masked != NULL ? masked : v,
			strlen(masked != NULL ? masked : v)));
		free(masked);
		masked = NULL;
		if (r != 0)
			goto oom;
	}
	if ((r = creds_redact(
		 cr, CREDS_APIKEY, res->body, res->body_len, &masked)) < 0)
		goto oom;
	if (r > 0) {
		hits += r;
		body = masked;
	}
	b64 = b64_encode(body, res->body_len, &n);
	free(masked);
	if (b64 == NULL)
		goto oom;
	if (hits > 0)
		log_info("sandbox.http_request: the answer of port %ld carried "
			 "wrennd's API key; it was masked",
		    proxy_port(call));
	out = json_pack("{s:I, s:o, s:s%}", "status", (json_int_t)res->status,
	    "headers", h, "body", b64, n);
	free(b64);
	return out;
oom:
	json_decref(h);
	return NULL;
}

static void
proxy_check_free(struct proxy_check *pc)
{
	upstream_req_cancel(pc->req);
	json_decref(pc->result);
	free(pc);
}

/* The call went away during the confirming read. */
static void
proxy_check_cancel_cb(struct call *call, void *arg)
{
	proxy_check_free(arg);
}

/* The record is read: the app's answer while running, else the proxy's. */
static void
proxy_check_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct proxy_check *pc = arg;
	struct call *call = pc->call;
	const char *st = NULL;
	json_t *doc = NULL;

	pc->req = NULL; /* freed by upstream after this callback */
	call_set_cancel(call, NULL, NULL);
	if (rest_ok(res) &&
	    (doc = json_loadb(res->body, res->body_len, 0, NULL)) != NULL)
		st = json_string_value(json_object_get(doc, "status"));
	if (st != NULL && strcmp(st, "running") == 0) {
		call_reply(call, pc->result);
		pc->result = NULL;
	} else {
		proxy_fail_own(call, pc->own, pc->status, pc->text, st);
	}
	json_decref(doc);
	proxy_check_free(pc);
}

/* Read the sandbox's record to tell whose answer result is. */
static void
proxy_check(struct call *call, enum proxy_own own, long status,
    const char *text, json_t *result_steal)
{
	struct proxy_check *pc;
	char *path;

	if ((pc = calloc(1, sizeof(*pc))) == NULL ||
	    (path = rest_sandbox_path(proxy_sandbox_id(call), "")) == NULL) {
		free(pc);
		json_decref(result_steal);
		call_fail_oom(call);
		return;
	}
	pc->call = call;
	pc->result = result_steal;
	pc->own = own;
	pc->status = status;
	snprintf(pc->text, sizeof(pc->text), "%s", text);
	pc->req = rest_request(call, "GET", path, NULL);
	free(path);
	if (pc->req == NULL ||
	    rest_start(call, pc->req, 0, proxy_check_cb, pc) != 0) {
		pc->req = NULL; /* freed by rest_start, call failed */
		proxy_check_free(pc);
		return;
	}
	call_set_cancel(call, proxy_check_cancel_cb, pc);
}

/* A transfer that got no whole answer. */
static void
proxy_fail_transfer(struct call *call, const struct upstream_result *res)
{
	size_t max = proxy_answer_max(call);

	if (res->outcome != UPSTREAM_TOO_LARGE) {
		call_fail_upstream(call, res);
		return;
	}
	call_fail(call, IPC_ERR_APPLICATION, "too_large",
	    json_pack("{s:I}", "max", (json_int_t)max),
	    "the answer of port %ld is too large for sandbox.http_request "
	    "(%s; the body may have %zu bytes: proxy-max-body, max-reply)",
	    proxy_port(call), res->errmsg, max);
}

static void
proxy_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	enum proxy_own own;
	json_t *result;
	char text[PROXY_TEXT_MAX];

	call_set_cancel(call, NULL, NULL);
	if (res->outcome != UPSTREAM_OK) {
		proxy_fail_transfer(call, res);
		return;
	}
	if ((result = proxy_result(call, res)) == NULL) {
		call_fail_oom(call);
		return;
	}
	own = proxy_shape(res, text, sizeof(text));
	if (own == PROXY_APP) {
		call_reply(call, result);
	} else if (proxy_answers[own].record) {
		proxy_check(call, own, res->status, text, result);
	} else {
		json_decref(result);
		proxy_fail_own(call, own, res->status, text, NULL);
	}
}

static void
api_proxy_http_request(struct call *call)
{
	json_t *params = call_params(call);
	const char *method =
	    json_string_value(json_object_get(params, "method"));
	json_t *path = json_object_get(params, "path");
	char label[API_PROXY_LABEL_MAX + 1], *host;
	struct upstream_req *req;
	unsigned char *body;
	size_t len;

	if (api_proxy_label(call, proxy_port(call), label, sizeof(label)) !=
		0 ||
	    (host = api_proxy_host(call, label)) == NULL)
		return;
	free(host);
	if (!proxy_method_ok(method)) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'method' must be an HTTP method in upper case "
		    "(GET, POST, ...; not CONNECT)");
		return;
	}
	if (!proxy_path_ok(json_string_value(path), json_string_length(path))) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'path' must be a request target: '/', then at "
		    "most %d bytes of visible ASCII without '#' "
		    "(percent-encode the rest)",
		    PROXY_PATH_MAX - 1);
		return;
	}
	if (proxy_body(call, &body, &len) != 0)
		return;
	if (body != NULL && strcmp(method, "HEAD") == 0) {
		free(body);
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "a HEAD request has no body");
		return;
	}
	req = rest_request_proxy(call, label, method, json_string_value(path));
	if (req == NULL) {
		free(body);
		return;
	}
	if (proxy_add_headers(call, req) != 0) {
		free(body);
		upstream_req_cancel(req);
		return;
	}
	if ((body != NULL && upstream_req_set_body(req, body, len) != 0) ||
	    upstream_req_capture_headers(req, PROXY_HEADER_BYTES) != 0) {
		free(body);
		upstream_req_cancel(req);
		call_fail_oom(call);
		return;
	}
	free(body);
	upstream_req_set_max_response(req, proxy_answer_max(call));
	(void)rest_start(call, req, REST_CANCEL, proxy_done_cb, call);
}

/* Local params: the sandbox and port name the proxy host, not a path. */
#define PROXY_P_SANDBOX_ID                                                     \
	{                                                                      \
		.name = "sandbox_id", .type = METHODS_T_STRING,                \
		.in = METHODS_IN_LOCAL,                                        \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "sandbox id (cl-...)"                                   \
	}
#define PROXY_P_PORT                                                           \
	{                                                                      \
		.name = "port", .type = METHODS_T_INT, .in = METHODS_IN_LOCAL, \
		.flags = METHODS_F_REQUIRED, .min = 1, .max = 65535,           \
		.doc = "port in the sandbox"                                   \
	}

static const struct methods_param p_get_url[] = {
    PROXY_P_SANDBOX_ID,
    PROXY_P_PORT,
    METHODS_PARAMS_END,
};

static const struct methods_param p_http_request[] = {
    PROXY_P_SANDBOX_ID,
    PROXY_P_PORT,
    {.name = "method",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "HTTP method (GET, POST, ...)"},
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "request target in the sandbox (/path?query, percent-encoded)"},
    {.name = "headers",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_LOCAL,
	.doc = "request header fields: name to a value or an array of values"},
    {.name = "body",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "request body, standard base64"},
    METHODS_PARAMS_END,
};

/* ROLE_CRED_APIKEY: the 172413e proxy takes the API key only (dialect.c
 * refuses the call without one), the v0.1.5 proxy nothing. */
static const struct methods_row api_proxy_rows[] = {
    {
	.name = "sandbox.get_url",
	.summary = "the proxy URL of a port in a sandbox",
	.cred = ROLE_CRED_APIKEY,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_NO_UPSTREAM,
	.params = p_get_url,
	.handler = api_proxy_get_url,
    },
    {
	.name = "sandbox.http_request",
	.summary = "one HTTP request to a port in a sandbox, through the proxy",
	.cred = ROLE_CRED_APIKEY,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = p_http_request,
	.handler = api_proxy_http_request,
    },
};

const struct api_table api_proxy_methods = API_TABLE(api_proxy_rows);
