/* SPDX-License-Identifier: MIT */
/*
 * The sandbox rows. sandbox.wait_ready: the daemon polls GET
 * /v1/sandboxes/{id} until the sandbox is running. All clients waiting
 * on one sandbox share one poll loop (struct sandbox_watch); each waiter
 * keeps its own deadline. sandboxes.create, list and destroy keep the
 * ownership table (owner.h) and hold tools to their policy (policy.h).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "dialect.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "owner.h"
#include "policy.h"
#include "portfwd.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define SANDBOX_WAIT_DEFAULT_SEC 30

struct sandbox_waiter {
	TAILQ_ENTRY(sandbox_waiter) entry;
	struct sandbox_watch *w;   /* borrowed owner */
	struct call *call;	   /* borrowed; answered exactly once */
	struct event *ev_deadline; /* owned */
	int timeout_sec;
};

TAILQ_HEAD(sandbox_waiter_list, sandbox_waiter);
TAILQ_HEAD(sandbox_watch_list, sandbox_watch);

/* The module's state (wd->sandbox). */
struct api_sandbox {
	struct sandbox_watch_list watches; /* owned: one per sandbox id */
};

/*
 * A poll loop's life: WAITING (the poll timer runs) <-> POLLING (a GET is
 * in flight), and DONE when its last waiter was answered or left (it is
 * freed at once).
 */
enum sandbox_watch_state {
	SANDBOX_WATCH_WAITING,
	SANDBOX_WATCH_POLLING,
	SANDBOX_WATCH_DONE,
	SANDBOX_WATCH__MAX
};

static const char *const sandbox_watch_state_names[SANDBOX_WATCH__MAX] = {
    "waiting", "polling", "done"};

#define SANDBOX_WATCH_TO(s) (1u << (s))
/* Legal transitions: sandbox_watch_transitions[from] has bit `to` set. */
static const unsigned sandbox_watch_transitions[SANDBOX_WATCH__MAX] = {
    [SANDBOX_WATCH_WAITING] = SANDBOX_WATCH_TO(SANDBOX_WATCH_POLLING) |
	SANDBOX_WATCH_TO(SANDBOX_WATCH_DONE),
    [SANDBOX_WATCH_POLLING] = SANDBOX_WATCH_TO(SANDBOX_WATCH_WAITING) |
	SANDBOX_WATCH_TO(SANDBOX_WATCH_DONE),
    [SANDBOX_WATCH_DONE] = 0,
};

struct sandbox_watch {
	TAILQ_ENTRY(sandbox_watch) entry; /* in wd->sandbox->watches */
	struct wrennd *wd;		  /* borrowed */
	char *sandbox_id;		  /* owned */
	struct event *ev_poll;		  /* owned: next poll */
	enum sandbox_watch_state state;
	struct upstream_req *req;	    /* owned while POLLING */
	enum upstream_auth auth;	    /* the first waiter's credential */
	struct sandbox_waiter_list waiters; /* owned */
	char last[64];			    /* last status or error seen */
};

static void sandbox_watch_poll(struct sandbox_watch *w);

/* Move to state `to`; illegal moves are bugs. */
static void
sandbox_watch_set_state(struct sandbox_watch *w, enum sandbox_watch_state to)
{
	char q[80];

	assert(sandbox_watch_transitions[w->state] & SANDBOX_WATCH_TO(to));
	log_debug("sandbox wait \"%s\": %s -> %s",
	    log_quote_str(q, sizeof(q), w->sandbox_id),
	    sandbox_watch_state_names[w->state], sandbox_watch_state_names[to]);
	w->state = to;
}

static void
sandbox_watch_free(struct sandbox_watch *w)
{
	sandbox_watch_set_state(w, SANDBOX_WATCH_DONE);
	TAILQ_REMOVE(&w->wd->sandbox->watches, w, entry);
	upstream_req_cancel(w->req);
	if (w->ev_poll != NULL)
		event_free(w->ev_poll);
	free(w->sandbox_id);
	free(w);
}

/*
 * Unlink a waiter whose call was answered or went away; frees the watch
 * when it was the last one.
 */
static void
sandbox_waiter_free(struct sandbox_waiter *wt)
{
	struct sandbox_watch *w = wt->w;

	TAILQ_REMOVE(&w->waiters, wt, entry);
	if (wt->ev_deadline != NULL)
		event_free(wt->ev_deadline);
	free(wt);
	if (TAILQ_EMPTY(&w->waiters))
		sandbox_watch_free(w);
}

static void
sandbox_waiter_cancel_cb(struct call *call, void *arg)
{
	sandbox_waiter_free(arg);
}

static void
sandbox_waiter_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox_waiter *wt = arg;

	call_set_cancel(wt->call, NULL, NULL);
	call_fail(wt->call, IPC_ERR_APPLICATION, "timeout",
	    json_pack("{s:s}", "last_status", wt->w->last),
	    "sandbox %s is not running after %d s (last seen: %s)",
	    wt->w->sandbox_id, wt->timeout_sec, wt->w->last);
	sandbox_waiter_free(wt);
}

static void
sandbox_watch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	sandbox_watch_poll(arg);
}

static void
sandbox_watch_schedule(struct sandbox_watch *w)
{
	long ms = w->wd->cfg->poll_interval_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(w->ev_poll, &tv);
}

/*
 * Answer every waiter: with the sandbox object (sandbox), an invalid_state
 * error (status) or the upstream error (res). The watch is freed with its
 * last waiter, so nothing of w is touched after that.
 */
static void
sandbox_watch_resolve(struct sandbox_watch *w, json_t *sandbox,
    const char *status, const struct upstream_result *res)
{
	struct sandbox_waiter *wt;
	struct call *call;
	int last;

	do {
		wt = TAILQ_FIRST(&w->waiters);
		last = TAILQ_NEXT(wt, entry) == NULL;
		call = wt->call;
		call_set_cancel(call, NULL, NULL);
		if (res != NULL)
			call_fail_upstream(call, res);
		else if (status == NULL)
			call_reply(call, json_incref(sandbox));
		else
			call_fail(call, IPC_ERR_APPLICATION, "invalid_state",
			    json_pack("{s:s}", "sandbox_status", status),
			    "sandbox %s is %s%s", w->sandbox_id, status,
			    strcmp(status, "paused") == 0
				? "; resume it with sandbox.resume"
				: " and will not become ready");
		sandbox_waiter_free(wt);
	} while (!last);
}

static void
sandbox_watch_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct sandbox_watch *w = arg;
	const char *status;
	json_t *sb;

	w->req = NULL;
	sandbox_watch_set_state(w, SANDBOX_WATCH_WAITING);
	if (res->outcome != UPSTREAM_OK || res->status >= 500) {
		/* Transient: keep polling until the waiters' deadlines. */
		snprintf(w->last, sizeof(w->last), "%s",
		    res->outcome != UPSTREAM_OK ? "control plane unreachable"
						: "control plane error");
		sandbox_watch_schedule(w);
		return;
	}
	if (res->status < 200 || res->status >= 300) {
		sandbox_watch_resolve(w, NULL, NULL, res);
		return;
	}
	sb = json_loadb(res->body, res->body_len, 0, NULL);
	status = json_string_value(json_object_get(sb, "status"));
	if (status == NULL) {
		snprintf(w->last, sizeof(w->last), "invalid answer");
		sandbox_watch_schedule(w);
	} else if (strcmp(status, "running") == 0)
		sandbox_watch_resolve(w, sb, NULL, NULL);
	else if (strcmp(status, "stopped") == 0 ||
	    strcmp(status, "error") == 0 || strcmp(status, "paused") == 0)
		sandbox_watch_resolve(w, NULL, status, NULL);
	else {
		snprintf(w->last, sizeof(w->last), "%s", status);
		sandbox_watch_schedule(w);
	}
	json_decref(sb);
}

static void
sandbox_watch_poll(struct sandbox_watch *w)
{
	char *path;

	if (w->state != SANDBOX_WATCH_WAITING)
		return;
	if ((path = rest_sandbox_path(w->sandbox_id, "")) == NULL)
		goto retry;
	w->req = rest_req_new(w->wd, w->auth, "GET", path, NULL);
	free(path);
	if (w->req == NULL)
		goto retry;
	if (upstream_req_start(w->req, sandbox_watch_done_cb, w) != 0) {
		w->req = NULL;
		goto retry;
	}
	sandbox_watch_set_state(w, SANDBOX_WATCH_POLLING);
	return;
retry:
	snprintf(w->last, sizeof(w->last), "out of memory");
	sandbox_watch_schedule(w);
}

static void
api_sandbox_wait_ready(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	struct sandbox_watch *w;
	struct sandbox_waiter *wt;
	const char *id;
	json_t *v;
	struct timeval tv;
	int fresh = 0;

	id =
	    json_string_value(json_object_get(call_params(call), "sandbox_id"));
	if (strlen(id) > 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'sandbox_id' is not a valid identifier");
		return;
	}
	TAILQ_FOREACH(w, &wd->sandbox->watches, entry)
		if (strcmp(w->sandbox_id, id) == 0)
			break;
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			goto oom;
		w->wd = wd;
		w->auth = call_auth(call);
		TAILQ_INIT(&w->waiters);
		TAILQ_INSERT_TAIL(&wd->sandbox->watches, w, entry);
		snprintf(w->last, sizeof(w->last), "not polled yet");
		w->sandbox_id = strdup(id);
		w->ev_poll = evtimer_new(wd->base, sandbox_watch_poll_cb, w);
		if (w->sandbox_id == NULL || w->ev_poll == NULL) {
			sandbox_watch_free(w);
			goto oom;
		}
		fresh = 1;
	}
	if ((wt = calloc(1, sizeof(*wt))) == NULL)
		goto oom_watch;
	wt->w = w;
	wt->call = call;
	v = json_object_get(call_params(call), "timeout_sec");
	wt->timeout_sec =
	    v != NULL ? (int)json_integer_value(v) : SANDBOX_WAIT_DEFAULT_SEC;
	wt->ev_deadline = evtimer_new(wd->base, sandbox_waiter_deadline_cb, wt);
	if (wt->ev_deadline == NULL) {
		free(wt);
		goto oom_watch;
	}
	TAILQ_INSERT_TAIL(&w->waiters, wt, entry);
	tv.tv_sec = wt->timeout_sec;
	tv.tv_usec = 0;
	event_add(wt->ev_deadline, &tv);
	call_set_cancel(call, sandbox_waiter_cancel_cb, wt);
	if (fresh)
		sandbox_watch_poll(w);
	return;
oom_watch:
	if (TAILQ_EMPTY(&w->waiters))
		sandbox_watch_free(w);
oom:
	call_fail_oom(call);
}

/* sandboxes.create answered: record who created the sandbox. */
static json_t *
api_sandbox_created(struct call *call, json_t *result)
{
	struct client *c = call_client(call);
	const char *id = json_string_value(json_object_get(result, "id"));
	int r;

	if (id == NULL) {
		json_decref(result);
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol", NULL,
		    "the control plane's answer to sandboxes.create has no "
		    "sandbox id");
		return NULL;
	}
	r = owner_add(call_wd(call)->owners, id, client_uid(c), client_id(c),
	    call_role(call), 0);
	if (r != 0)
		/* The sandbox exists: a tool could not reach it, others can. */
		log_warnx("sandbox %.64s: ownership not recorded (%s)", id,
		    r == -ENOMEM ? "out of memory" : "id too long");
	return result;
}

/*
 * sandboxes.list answered: the list is every live sandbox of the team,
 * so entries recorded longer ago than any list request can take and
 * missing from it are gone (destroyed elsewhere or expired) and are
 * forgotten. A tool is shown only its own.
 */
static json_t *
api_sandbox_listed(struct call *call, json_t *result)
{
	struct wrennd *wd = call_wd(call);
	time_t old = time(NULL) - wd->cfg->request_timeout_ms / 1000 - 1;
	const struct owner *o;
	const char *id;
	json_t *sb, *seen;
	size_t i;

	if (!json_is_array(result))
		return result;
	if ((seen = json_object()) == NULL) {
		json_decref(result);
		call_fail_oom(call);
		return NULL;
	}
	json_array_foreach(result, i, sb)
		if ((id = json_string_value(json_object_get(sb, "id"))) != NULL)
			json_object_set_new(seen, id, json_true());
	for (i = 0; (o = owner_at(wd->owners, i)) != NULL;)
		if (o->created < old &&
		    json_object_get(seen, o->sandbox_id) == NULL)
			owner_remove(wd->owners, o->sandbox_id);
		else
			i++;
	json_decref(seen);
	call_filter_access(call, result, "id");
	return result;
}

/* sandboxes.destroy answered: the sandbox has no owner any more, and
 * its port forwards end. */
static json_t *
api_sandbox_destroyed(struct call *call, json_t *result)
{
	const char *id =
	    json_string_value(json_object_get(call_params(call), "sandbox_id"));

	owner_remove(call_wd(call)->owners, id);
	portfwd_sandbox_gone(call_wd(call), id);
	return result;
}

/* sandboxes.get answered: a stopped or failed sandbox is gone for good
 * (the control plane's list leaves it out), so it has no owner. */
static json_t *
api_sandbox_got(struct call *call, json_t *result)
{
	const char *st = json_string_value(json_object_get(result, "status"));

	if (st != NULL &&
	    (strcmp(st, "stopped") == 0 || strcmp(st, "error") == 0))
		owner_remove(call_wd(call)->owners,
		    json_string_value(
			json_object_get(call_params(call), "sandbox_id")));
	return result;
}

/* An integer parameter of sandboxes.create as the control plane takes it:
 * absent or <= 0 is its default (vcpus 1, memory_mb 512). */
static long
api_sandbox_int(const json_t *params, const char *name, long dflt)
{
	const json_t *v = json_object_get(params, name);
	long n = v != NULL ? (long)json_integer_value(v) : 0;

	return n > 0 || dflt == 0 ? n : dflt;
}

/* A tool's create has ended: it no longer counts as in flight. */
static void
api_sandbox_create_done(struct call *call, void *arg)
{
	(void)arg;
	owner_release(call_wd(call)->owners, client_uid(call_client(call)));
}

/*
 * The tool policy (policy.h) for a tool's sandboxes.create, before
 * anything is sent: 0 to go on (the create counts towards the tool's
 * max-sandboxes until it ends), -1 after failing the call with
 * "policy_denied". Users and admins have no policy; the running
 * configuration's policy applies, so a reload reaches the next call.
 */
static int
api_sandbox_policy(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	struct client *c = call_client(call);
	const json_t *params = call_params(call);
	const struct policy_rule *rule;
	struct policy_request req;
	gid_t small[64], *groups = NULL;
	json_t *data = NULL;
	char msg[256];
	int n, denied;

	if (call_role(call) != ROLE_TOOL || wd->cfg->policy == NULL)
		return 0;
	n = client_peer_groups(c, small, 64, &groups);
	rule = policy_match(wd->cfg->policy, client_uid(c), client_gid(c),
	    groups, n > 0 ? (size_t)n : 0);
	if (groups != small)
		free(groups);
	memset(&req, 0, sizeof(req));
	req.template_name =
	    json_string_value(json_object_get(params, "template"));
	if (req.template_name == NULL)
		req.template_name = "minimal";
	req.vcpus = api_sandbox_int(params, "vcpus", 1);
	req.memory_mb = api_sandbox_int(params, "memory_mb", 512);
	req.timeout_sec = api_sandbox_int(params, "timeout_sec", 0);
	req.leased = json_is_string(json_object_get(params, "lease")) &&
	    strcmp(json_string_value(json_object_get(params, "lease")),
		"connection") == 0;
	req.live = owner_live_tool(wd->owners, client_uid(c));
	denied = policy_check(rule, &req, &data, msg, sizeof(msg));
	if (denied) {
		call_fail(
		    call, IPC_ERR_FORBIDDEN, "policy_denied", data, "%s", msg);
		return -1;
	}
	if (owner_reserve(wd->owners, client_uid(c)) != 0) {
		call_fail_oom(call);
		return -1;
	}
	call_set_done(call, api_sandbox_create_done, NULL);
	return 0;
}

/* sandboxes.create: the tool policy, then a pass-through unless it asks
 * for a lease. */
static void
api_sandbox_create(struct call *call)
{
	if (api_sandbox_policy(call) == 0 && api_lease_create(call) == 0)
		rest_passthrough(call);
}

/* This file's method rows (methods.h), listed by methods.c. */

/*
 * sandbox.exec: a pass-through once its local checks hold. The server
 * honours envs and cwd only for a background command and drops them
 * silently otherwise, so they are refused here without background;
 * the same for tag, which only names a background process. Every value
 * of envs must be a string.
 */
static void
api_sandbox_exec(struct call *call)
{
	const json_t *params = call_params(call);
	const char *const bg_only[] = {"envs", "cwd", "tag"};
	size_t i;

	if (!json_is_true(json_object_get(params, "background")))
		for (i = 0; i < sizeof(bg_only) / sizeof(bg_only[0]); i++)
			if (json_object_get(params, bg_only[i]) != NULL) {
				call_fail(call, IPC_ERR_INVALID_PARAMS,
				    "invalid_params", NULL,
				    "parameter '%s' needs \"background\": "
				    "true (the server ignores it for a "
				    "foreground command)",
				    bg_only[i]);
				return;
			}
	if (api_process_envs_ok(call) != 0)
		return;
	if (json_is_true(json_object_get(params, "background")) &&
	    dialect_current(call_wd(call)->dialect) != DIALECT_CAPSULES) {
		dialect_fail_unsupported(call, "sandbox.exec with background",
		    DIALECT_NEEDS_CAPSULES);
		return;
	}
	rest_passthrough(call);
}

/* The longest span sandboxes.usage asks for, as the server allows. */
#define API_SANDBOX_USAGE_MAX_DAYS 92
/* The span the server reports when from is not given: to - 29 days. */
#define API_SANDBOX_USAGE_DEFAULT_DAYS 29

/*
 * A YYYY-MM-DD date (Go's time.Parse "2006-01-02": exactly that form, a
 * day that exists) as days since 1970-01-01 into *days. 0 or -EINVAL.
 */
static int
api_sandbox_date(const char *s, long *days)
{
	static const int mdays[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long y, m, d, era, yoe, doy;
	int i, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	y = strtol(s, NULL, 10);
	m = strtol(s + 5, NULL, 10);
	d = strtol(s + 8, NULL, 10);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap ? 1 : 0))
		return -EINVAL;
	/* Days from civil (proleptic Gregorian), March-based years. */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	*days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
	return 0;
}

/*
 * sandboxes.usage: the dates are checked here as the server checks them
 * (the form, from <= to, at most 92 days; to defaults to today in UTC and
 * from to 29 days before to), so a bad range is never sent.
 */
static void
api_sandbox_usage(struct call *call)
{
	const json_t *params = call_params(call);
	const char *names[2] = {"from", "to"}, *s;
	long days[2];
	int i;

	days[1] = (long)(time(NULL) / 86400);
	for (i = 1; i >= 0; i--) {
		s = json_string_value(json_object_get(params, names[i]));
		if (s == NULL) {
			if (i == 0)
				days[0] =
				    days[1] - API_SANDBOX_USAGE_DEFAULT_DAYS;
			continue;
		}
		if (api_sandbox_date(s, &days[i]) != 0) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter '%s' must be a date YYYY-MM-DD",
			    names[i]);
			return;
		}
	}
	if (days[0] > days[1]) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'from' must be before or equal to 'to'");
		return;
	}
	if (days[1] - days[0] > API_SANDBOX_USAGE_MAX_DAYS) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "the range from 'from' to 'to' cannot exceed %d days",
		    API_SANDBOX_USAGE_MAX_DAYS);
		return;
	}
	rest_passthrough(call);
}

static const struct methods_param p_sandboxes_create[] = {
    METHODS_P_SANDBOX_SPEC,
    {.name = "lease",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "\"connection\": destroy (or pause) it when this connection "
	       "closes; \"none\" (default)"},
    {.name = "lease_action",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.doc = "with lease: \"destroy\" (default) or \"pause\""},
    METHODS_PARAMS_END,
};

static const struct methods_param p_sandbox[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_stats[] = {
    {.name = "range",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "5m, 1h, 6h, 24h or 30d (default 1h)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_usage[] = {
    {.name = "from",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "first day, YYYY-MM-DD (default: to - 29 days)"},
    {.name = "to",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "last day, YYYY-MM-DD (default: today, UTC)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_exec[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_P_EXEC_CMD,
    METHODS_P_I32("timeout_sec", METHODS_IN_BODY,
	"seconds before the command is killed (default 30; not for "
	"background)"),
    {.name = "background",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_BODY,
	.doc = "start it and answer at once with {sandbox_id, cmd, pid, tag} "
	       "(newer server)"},
    {.name = "tag",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_NONEMPTY,
	.doc = "background: the process's tag (default proc-<8 hex>)"},
    {.name = "envs",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_BODY,
	.doc = "background: extra environment {NAME: value}"},
    {.name = "cwd",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_NONEMPTY,
	.doc = "background: working directory"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_wait_ready[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "timeout_sec",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.min = 1,
	.max = 86400,
	.doc = "seconds to wait (default 30)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_metrics[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_P_METRICS_RANGE,
    METHODS_PARAMS_END,
};

static const struct methods_row api_sandbox_rows[] = {
    /* Sandboxes (collection). */
    {
	.name = "sandboxes.create",
	.summary = "create a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes",
	.flags = METHODS_BODY,
	.params = p_sandboxes_create,
	.after = api_sandbox_created,
	.handler = api_sandbox_create,
    },
    {
	.name = "sandboxes.list",
	.summary = "list the team's live sandboxes",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "GET",
	.path = "/v1/sandboxes",
	.params = methods_no_params,
	.after = api_sandbox_listed,
    },
    {
	.name = "sandboxes.get",
	.summary = "get one sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "GET",
	.path = "/v1/sandboxes/{sandbox_id}",
	.params = p_sandbox,
	.after = api_sandbox_got,
    },
    {
	.name = "sandboxes.destroy",
	.summary = "destroy a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "DELETE",
	.path = "/v1/sandboxes/{sandbox_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_sandbox,
	.after = api_sandbox_destroyed,
    },
    {
	.name = "sandboxes.get_stats",
	.summary = "team usage statistics",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/sandboxes/stats",
	.params = p_stats,
    },
    {
	.name = "sandboxes.usage",
	.summary = "the team's CPU and memory minutes per day",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/sandboxes/usage",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_usage,
	.handler = api_sandbox_usage,
    },
    /* One sandbox. */
    {
	.name = "sandbox.exec",
	.summary = "run a command and wait for its output",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/exec",
	.flags = METHODS_BODY | METHODS_EXEC_TIMEOUT,
	.params = p_exec,
	.handler = api_sandbox_exec,
    },
    {
	.name = "sandbox.ping",
	.summary = "reset the inactivity timer",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/ping",
	.result = METHODS_RES_EMPTY,
	.params = p_sandbox,
    },
    {
	.name = "sandbox.pause",
	.summary = "snapshot and release a running sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/pause",
	.flags = METHODS_SLOW,
	.params = p_sandbox,
    },
    {
	.name = "sandbox.resume",
	.summary = "restore a paused sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/resume",
	.params = p_sandbox,
    },
    {
	.name = "sandbox.wait_ready",
	.summary = "wait until a sandbox is running",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}",
	.result = METHODS_RES_LOCAL,
	.params = p_wait_ready,
	.handler = api_sandbox_wait_ready,
    },
    {
	.name = "sandbox.metrics",
	.summary = "CPU, memory and disk time series",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "GET",
	.path = "/v1/sandboxes/{sandbox_id}/metrics",
	.params = p_metrics,
    },
};

const struct api_table api_sandbox_methods = API_TABLE(api_sandbox_rows);

struct api_sandbox *
api_sandbox_new(void)
{
	struct api_sandbox *sb;

	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return NULL;
	TAILQ_INIT(&sb->watches);
	return sb;
}

void
api_sandbox_free(struct api_sandbox *sb)
{
	if (sb == NULL)
		return;
	if (!TAILQ_EMPTY(&sb->watches))
		fatalx("api-sandbox: freed with poll loops running");
	free(sb);
}

void
api_sandbox_shutdown(struct wrennd *wd)
{
	struct sandbox_watch *w;
	struct sandbox_waiter *wt;

	while ((w = TAILQ_FIRST(&wd->sandbox->watches)) != NULL) {
		wt = TAILQ_FIRST(&w->waiters);
		call_set_cancel(wt->call, NULL, NULL);
		call_fail(wt->call, IPC_ERR_APPLICATION, CALL_SHUTDOWN_CODE,
		    NULL, CALL_SHUTDOWN_MSG);
		sandbox_waiter_free(wt);
	}
}

unsigned
api_sandbox_watches(const struct wrennd *wd)
{
	const struct sandbox_watch *w;
	unsigned n = 0;

	TAILQ_FOREACH(w, &wd->sandbox->watches, entry)
		n++;
	return n;
}
