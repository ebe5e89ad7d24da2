/* SPDX-License-Identifier: MIT */
/*
 * The control plane's dialect (see dialect.h). One probe at a time:
 * GET /health without a credential (the route takes none, so nothing
 * counts as a failed login). {"status":"ok","version":...} is the v0.1.5
 * server; any other HTTP answer below 500 (the 172413e server answers a
 * chi 404) is the older one; no answer or a 5xx leaves the dialect
 * unknown, never guessed, and the next call probes again after a
 * back-off.
 */
#include "config.h"

#include "dialect.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <jansson.h>

#include "call.h"
#include "conf.h"
#include "creds.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "role.h"
#include "upstream.h"
#include "wrennd.h"

#define DIALECT_PROBE_PATH     "/health"
#define DIALECT_PROBE_MS       10000 /* one probe's answer, after connect-timeout */
#define DIALECT_PROBE_MAX      4096 /* bytes of a /health answer */
#define DIALECT_VERSION_MAX    64   /* bytes of the version kept */
#define DIALECT_BACKOFF_MIN_MS 1000 /* after the first failed probe */
#define DIALECT_BACKOFF_MAX_MS 15000
#define DIALECT_REASON_MAX     200

enum dialect_mode {
	DIALECT_AUTO,
	DIALECT_FORCE_SANDBOXES,
	DIALECT_FORCE_CAPSULES,
	DIALECT_MODE__MAX
};

static const char *const dialect_mode_names[DIALECT_MODE__MAX] = {
    "auto", "sandboxes", "capsules"};

static const char *const dialect_kind_names[DIALECT__MAX] = {
    "unknown", "sandboxes", "capsules"};

/* The probe's state machine (docs/ARCHITECTURE.md "State machines"). */
enum dialect_state {
	DIALECT_S_UNKNOWN, /* no dialect: not probed, or nobody answered */
	DIALECT_S_PROBING, /* GET /health in flight; calls wait */
	DIALECT_S_KNOWN,   /* configured or probed */
	DIALECT_S_STALE,   /* known, but the server was unreachable since:
			    * the next call probes again */
	DIALECT_S__MAX
};

static const char *const dialect_state_names[DIALECT_S__MAX] = {
    "unknown", "probing", "known", "stale"};

#define DIALECT_TO(s) (1u << (s))
static const unsigned dialect_transitions[DIALECT_S__MAX] = {
    [DIALECT_S_UNKNOWN] =
	DIALECT_TO(DIALECT_S_PROBING) | DIALECT_TO(DIALECT_S_KNOWN),
    [DIALECT_S_PROBING] =
	DIALECT_TO(DIALECT_S_KNOWN) | DIALECT_TO(DIALECT_S_UNKNOWN),
    [DIALECT_S_KNOWN] = DIALECT_TO(DIALECT_S_STALE),
    [DIALECT_S_STALE] = DIALECT_TO(DIALECT_S_PROBING),
};

/* A call waiting for the probe. */
struct dialect_wait {
	TAILQ_ENTRY(dialect_wait) entry;
	struct dialect *d;	    /* borrowed */
	struct call *call;	    /* borrowed, until run or cancelled */
	void (*run)(struct call *); /* what the dispatcher would have run */
};

TAILQ_HEAD(dialect_wait_list, dialect_wait);

struct dialect {
	struct wrennd *wd; /* borrowed */
	enum dialect_mode mode;
	enum dialect_state state;
	enum dialect_kind kind;
	char version[DIALECT_VERSION_MAX + 1]; /* "" when not known */
	struct upstream_req *probe;	       /* in flight, or NULL */
	struct dialect_wait_list waiting;      /* owned */
	char last_error[DIALECT_REASON_MAX];   /* why the last probe failed */
	long backoff_ms;		       /* 0 after a success */
	struct timespec next_probe;	       /* no probe before this */
};

/* The one writer of d->state: asserts the move, traces it. */
static void
dialect_set_state(struct dialect *d, enum dialect_state to)
{
	assert(dialect_transitions[d->state] & DIALECT_TO(to));
	log_debug("dialect: %s -> %s", dialect_state_names[d->state],
	    dialect_state_names[to]);
	d->state = to;
}

struct dialect *
dialect_new(struct wrennd *wd)
{
	const char *want = wd->cfg->api_dialect;
	struct dialect *d;
	int i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->wd = wd;
	d->mode = DIALECT_AUTO;
	for (i = 0; i < DIALECT_MODE__MAX; i++)
		if (want != NULL && strcmp(want, dialect_mode_names[i]) == 0)
			d->mode = (enum dialect_mode)i;
	TAILQ_INIT(&d->waiting);
	if (d->mode != DIALECT_AUTO) {
		d->kind = d->mode == DIALECT_FORCE_CAPSULES ? DIALECT_CAPSULES
							    : DIALECT_SANDBOXES;
		dialect_set_state(d, DIALECT_S_KNOWN);
	}
	return d;
}

void
dialect_free(struct dialect *d)
{
	struct dialect_wait *w;

	if (d == NULL)
		return;
	if (d->probe != NULL)
		upstream_req_cancel(d->probe);
	while ((w = TAILQ_FIRST(&d->waiting)) != NULL) {
		TAILQ_REMOVE(&d->waiting, w, entry);
		call_set_cancel(w->call, NULL, NULL);
		call_fail(w->call, IPC_ERR_APPLICATION, CALL_SHUTDOWN_CODE,
		    NULL, CALL_SHUTDOWN_MSG);
		free(w);
	}
	free(d);
}

enum dialect_kind
dialect_current(const struct dialect *d)
{
	return d != NULL ? d->kind : DIALECT_SANDBOXES;
}

const char *
dialect_kind_name(enum dialect_kind k)
{
	return k < DIALECT__MAX ? dialect_kind_names[k] : "?";
}

const char *
dialect_mode_name(const struct dialect *d)
{
	return dialect_mode_names[d != NULL ? d->mode : DIALECT_AUTO];
}

const char *
dialect_server_version(const struct dialect *d)
{
	return d != NULL && d->version[0] != '\0' ? d->version : NULL;
}

char *
dialect_map_path(const struct dialect *d, const char *path)
{
	static const char old[] = "/v1/sandboxes";
	const size_t n = sizeof(old) - 1;
	char *out;

	if (d == NULL || d->kind != DIALECT_CAPSULES ||
	    strncmp(path, old, n) != 0 ||
	    (path[n] != '\0' && path[n] != '/' && path[n] != '?'))
		return strdup(path);
	if (asprintf(&out, "/v1/capsules%s", path + n) == -1)
		return NULL;
	return out;
}

void
dialect_unreachable(struct dialect *d)
{
	if (d == NULL || d->mode != DIALECT_AUTO || d->state != DIALECT_S_KNOWN)
		return;
	log_info("api-dialect: the control plane was unreachable; the next "
		 "call probes %s again",
	    DIALECT_PROBE_PATH);
	dialect_set_state(d, DIALECT_S_STALE);
}

void
dialect_fail_unsupported(struct call *call, const char *what, const char *needs)
{
	struct dialect *d = call_wd(call)->dialect;
	const char *ver = dialect_server_version(d);
	enum dialect_kind k = dialect_current(d);

	call_fail(call, IPC_ERR_APPLICATION, "unsupported_by_server",
	    json_pack("{s:s, s:s, s:s*}", "needs", needs, "dialect",
		dialect_kind_name(k), "server_version", ver),
	    "%s needs a control plane %s; this one speaks %s%s%s", what, needs,
	    k == DIALECT_CAPSULES ? DIALECT_NEEDS_CAPSULES
				  : DIALECT_NEEDS_SANDBOXES,
	    ver != NULL ? ", version " : "", ver != NULL ? ver : "");
}

int
dialect_route_missing(struct call *call, const struct upstream_result *res)
{
	static const char prefix[] = "/v1/sandboxes";
	struct dialect *d = call_wd(call)->dialect;
	const struct methods_row *m = call_method(call);
	const char *code, *msg;
	char text[64];
	json_t *doc;
	size_t n;

	if (d == NULL || d->mode == DIALECT_AUTO ||
	    res->outcome != UPSTREAM_OK || res->status != 404 ||
	    m->path == NULL ||
	    strncmp(m->path, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	if ((doc = call_envelope(res->body, res->body_len, &code, &msg)) !=
	    NULL) {
		json_decref(doc);
		if (code != NULL)
			return 0; /* the server's own not_found */
	}
	n = res->body != NULL ? strcspn(res->body, "\r\n") : 0;
	if (n > res->body_len)
		n = res->body_len;
	log_quote(text, sizeof(text), res->body != NULL ? res->body : "",
	    n < 48 ? n : 48);
	call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol",
	    json_pack("{s:s, s:i, s:s}", "api_dialect", dialect_mode_name(d),
		"status", 404, "body", text),
	    "the control plane has no %s routes (HTTP 404: %s): api-dialect "
	    "is %s, which this server does not speak; set api-dialect to auto "
	    "(or to %s)",
	    d->kind == DIALECT_CAPSULES ? "/v1/capsules" : "/v1/sandboxes",
	    text, dialect_mode_name(d),
	    d->kind == DIALECT_CAPSULES ? "sandboxes" : "capsules");
	return 1;
}

/*
 * A sandbox proxy row (ROLE_CRED_APIKEY) without an API key where the
 * proxy wants one: the 172413e proxy takes X-API-Key only (also assumed
 * while the dialect is not known), v0.1.5's takes none. Fails call and
 * returns 1, else 0.
 */
static int
dialect_proxy_refused(struct dialect *d, struct call *call)
{
	const struct methods_row *m = call_method(call);

	if (m->cred != ROLE_CRED_APIKEY || d->kind == DIALECT_CAPSULES ||
	    creds_have(d->wd->creds, CREDS_APIKEY))
		return 0;
	call_fail(call, IPC_ERR_APPLICATION, "unauthorized",
	    json_pack("{s:s, s:s}", "needs", role_cred_name(m->cred), "dialect",
		dialect_kind_name(d->kind)),
	    "%s needs an API key on this control plane: the sandbox proxy "
	    "of %s accepts only X-API-Key, not a JWT (%s takes none); "
	    "configure WRENN_API_KEY, --api-key-file or "
	    "$CREDENTIALS_DIRECTORY/wrenn-api-key and reload wrennd (SIGHUP)",
	    m->name, DIALECT_NEEDS_SANDBOXES, DIALECT_NEEDS_CAPSULES);
	return 1;
}

/* The dialect is known: refuse a newer-only row on the older server, or
 * a proxy row without the key the proxy wants, else run the call. */
static void
dialect_proceed(
    struct dialect *d, struct call *call, void (*run)(struct call *))
{
	const struct methods_row *m = call_method(call);

	if ((m->flags & METHODS_NEEDS_CAPSULES) &&
	    d->kind != DIALECT_CAPSULES) {
		dialect_fail_unsupported(call, m->name, DIALECT_NEEDS_CAPSULES);
		return;
	}
	if (dialect_proxy_refused(d, call))
		return;
	run(call);
}

/* The dialect could not be found: fail call saying why. */
static void
dialect_fail_unknown(struct dialect *d, struct call *call)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (d->next_probe.tv_sec - now.tv_sec) * 1000 +
	    (d->next_probe.tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		ms = 0;
	call_fail(call, IPC_ERR_APPLICATION, "upstream_unreachable",
	    json_pack("{s:s, s:I}", "dialect", "unknown", "retry_after_ms",
		(json_int_t)ms),
	    "control plane unreachable: GET %s (to find its api dialect) "
	    "failed: %s",
	    DIALECT_PROBE_PATH, d->last_error);
}

/* The probe ended with d->state set: run or fail every waiting call. */
static void
dialect_release(struct dialect *d)
{
	struct dialect_wait_list list;
	struct dialect_wait *w;

	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &d->waiting, entry);
	while ((w = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, w, entry);
		call_set_cancel(w->call, NULL, NULL);
		if (d->state == DIALECT_S_KNOWN)
			dialect_proceed(d, w->call, w->run);
		else
			dialect_fail_unknown(d, w->call);
		free(w);
	}
}

/* Keep the version /health named, printable ASCII only. */
static void
dialect_keep_version(struct dialect *d, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0' && i < DIALECT_VERSION_MAX; i++)
		d->version[i] = v[i] > 0x20 && v[i] < 0x7f ? v[i] : '?';
	d->version[i] = '\0';
}

/* Nobody answered (or a 5xx): unknown, back off. */
static void
dialect_probe_failed(struct dialect *d, const char *why)
{
	snprintf(d->last_error, sizeof(d->last_error), "%s", why);
	d->backoff_ms =
	    d->backoff_ms == 0 ? DIALECT_BACKOFF_MIN_MS : d->backoff_ms * 2;
	if (d->backoff_ms > DIALECT_BACKOFF_MAX_MS)
		d->backoff_ms = DIALECT_BACKOFF_MAX_MS;
	clock_gettime(CLOCK_MONOTONIC, &d->next_probe);
	d->next_probe.tv_sec += d->backoff_ms / 1000;
	d->next_probe.tv_nsec += (d->backoff_ms % 1000) * 1000000;
	if (d->next_probe.tv_nsec >= 1000000000) {
		d->next_probe.tv_sec++;
		d->next_probe.tv_nsec -= 1000000000;
	}
	d->kind = DIALECT_UNKNOWN;
	d->version[0] = '\0';
	log_warnx("api-dialect: unknown: GET %s failed: %s; a call probes "
		  "again after %ld ms",
	    DIALECT_PROBE_PATH, why, d->backoff_ms);
	if (d->state != DIALECT_S_UNKNOWN)
		dialect_set_state(d, DIALECT_S_UNKNOWN);
}

static void
dialect_probe_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct dialect *d = arg;
	json_t *doc = NULL;
	const char *st, *ver;
	char why[DIALECT_REASON_MAX];

	d->probe = NULL;
	if (res->outcome != UPSTREAM_OK)
		dialect_probe_failed(d, res->errmsg);
	else if (res->status >= 500) {
		snprintf(why, sizeof(why), "HTTP %ld", res->status);
		dialect_probe_failed(d, why);
	} else {
		if (res->status == 200)
			doc = json_loadb(res->body, res->body_len, 0, NULL);
		st = json_string_value(json_object_get(doc, "status"));
		ver = json_string_value(json_object_get(doc, "version"));
		d->version[0] = '\0';
		if (st != NULL && strcmp(st, "ok") == 0 && ver != NULL) {
			d->kind = DIALECT_CAPSULES;
			dialect_keep_version(d, ver);
			log_info("api-dialect: capsules (GET %s: version %s)",
			    DIALECT_PROBE_PATH, d->version);
		} else {
			d->kind = DIALECT_SANDBOXES;
			log_info("api-dialect: sandboxes (GET %s answered "
				 "HTTP %ld%s)",
			    DIALECT_PROBE_PATH, res->status,
			    res->status == 200 ? " without a version" : "");
		}
		json_decref(doc);
		d->backoff_ms = 0;
		dialect_set_state(d, DIALECT_S_KNOWN);
	}
	dialect_release(d);
}

/* Start a probe. 0, or -1 on OOM or a refused start (d unchanged). */
static int
dialect_probe(struct dialect *d)
{
	struct upstream_req *req;

	req = upstream_req_new(
	    d->wd->up, "GET", DIALECT_PROBE_PATH, UPSTREAM_AUTH_NONE);
	if (req == NULL)
		return -1;
	/* Connecting (TCP and TLS) may take all of connect-timeout; the
	 * answer then gets DIALECT_PROBE_MS more. */
	upstream_req_set_timeout(
	    req, d->wd->cfg->connect_timeout_ms + DIALECT_PROBE_MS);
	upstream_req_set_max_response(req, DIALECT_PROBE_MAX);
	if (upstream_req_start(req, dialect_probe_cb, d) != 0)
		return -1;
	d->probe = req;
	dialect_set_state(d, DIALECT_S_PROBING);
	return 0;
}

void
dialect_start(struct dialect *d)
{
	if (d->mode != DIALECT_AUTO) {
		log_info(
		    "api-dialect: %s (configured)", dialect_kind_name(d->kind));
		return;
	}
	if (dialect_probe(d) != 0)
		dialect_probe_failed(d, "cannot start the request");
}

/* A waiting call went away: forget it. */
static void
dialect_wait_cancel_cb(struct call *call, void *arg)
{
	struct dialect_wait *w = arg;

	TAILQ_REMOVE(&w->d->waiting, w, entry);
	free(w);
}

/* Whether the back-off after a failed probe has passed. */
static int
dialect_may_probe(const struct dialect *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->next_probe.tv_sec ||
	    (now.tv_sec == d->next_probe.tv_sec &&
		now.tv_nsec >= d->next_probe.tv_nsec);
}

void
dialect_admit(struct call *call, void (*run)(struct call *call))
{
	struct dialect *d = call_wd(call)->dialect;
	const struct methods_row *m = call_method(call);
	struct dialect_wait *w;

	/* Local methods (no credential, or nothing sent) do not reach a
	 * sandbox route and do not wait; a proxy row among them
	 * (sandbox.get_url) is judged by the dialect known so far. */
	if (d == NULL ||
	    ((m->cred == ROLE_CRED_NONE || (m->flags & METHODS_NO_UPSTREAM)) &&
		!(m->flags & METHODS_NEEDS_CAPSULES))) {
		if (d == NULL || !dialect_proxy_refused(d, call))
			run(call);
		return;
	}
	if (d->state == DIALECT_S_KNOWN) {
		dialect_proceed(d, call, run);
		return;
	}
	if (d->state == DIALECT_S_UNKNOWN && !dialect_may_probe(d)) {
		dialect_fail_unknown(d, call);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		call_fail_oom(call);
		return;
	}
	if (d->state != DIALECT_S_PROBING && dialect_probe(d) != 0) {
		free(w);
		call_fail_oom(call);
		return;
	}
	w->d = d;
	w->call = call;
	w->run = run;
	TAILQ_INSERT_TAIL(&d->waiting, w, entry);
	call_set_cancel(call, dialect_wait_cancel_cb, w);
}

json_t *
dialect_ws_error(const char *text)
{
	static const char running[] = "sandbox is not running (status: ";
	const size_t n = sizeof(running) - 1;
	char status[32];
	size_t len;

	if (text == NULL)
		return NULL;
	if (strcmp(text, "sandbox not found") == 0)
		return call_error_obj(IPC_ERR_APPLICATION, "not_found",
		    json_pack("{s:i}", "status", 404), "%s", text);
	if (strcmp(text, "authentication failed") == 0)
		return call_error_obj(IPC_ERR_APPLICATION, "unauthorized",
		    json_pack("{s:i}", "status", 401),
		    "the control plane refused wrennd's credential on the "
		    "WebSocket: %s",
		    text);
	len = strlen(text);
	if (strncmp(text, running, n) != 0 || len < n + 2 ||
	    text[len - 1] != ')' || len - n - 1 >= sizeof(status))
		return NULL;
	memcpy(status, text + n, len - n - 1);
	status[len - n - 1] = '\0';
	return call_error_obj(IPC_ERR_APPLICATION, "invalid_state",
	    json_pack("{s:i, s:s}", "status", 409, "sandbox_status", status),
	    "%s", text);
}
