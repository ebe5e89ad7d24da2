/* SPDX-License-Identifier: MIT */
/*
 * Leases and keepalives (see lease.h). One struct lease per (sandbox,
 * owner connection); its life:
 *
 *   HELD (owner connected, or read back at start) ---> ACTING <--> RETRYING
 *    | (owner's process alive after a restart)            ^
 *    v                                                    |
 *   WATCHING (its pidfd or a poll) -----------------------+
 *
 *   any ---> DONE (freed)
 *
 * ACTING has the destroy or pause request in flight; a failure other than
 * 404 (and 409 for a pause: not running, nothing to pause) waits in
 * RETRYING, 1 s doubling to 60 s. Every change of the persisted part is
 * written to state-dir/leases.json before the function returns.
 */
#include "config.h"

#include "lease.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "conf.h"
#include "dialect.h"
#include "log.h"
#include "methods.h"
#include "owner.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define LEASE_FILE	    "leases.json"
#define LEASE_FILE_MAX	    (16L * 1024 * 1024) /* bytes of the state file */
#define LEASE_ID_MAX	    64			/* bytes of a sandbox id */
#define LEASE_BACKOFF_MIN_S 1
#define LEASE_BACKOFF_MAX_S 60
#define LEASE_WATCH_POLL_S  1 /* owner check without a pidfd */

enum lease_state {
	LEASE_HELD,
	LEASE_WATCHING,
	LEASE_ACTING,
	LEASE_RETRYING,
	LEASE_DONE,
	LEASE__MAX
};

static const char *const lease_state_names[LEASE__MAX] = {
    "held", "watching", "acting", "retrying", "done"};

#define LEASE_TO(s) (1u << (s))
/* Legal transitions: lease_transitions[from] has bit `to` set. */
static const unsigned lease_transitions[LEASE__MAX] = {
    [LEASE_HELD] = LEASE_TO(LEASE_WATCHING) | LEASE_TO(LEASE_ACTING) |
	LEASE_TO(LEASE_DONE),
    [LEASE_WATCHING] = LEASE_TO(LEASE_ACTING) | LEASE_TO(LEASE_DONE),
    [LEASE_ACTING] = LEASE_TO(LEASE_RETRYING) | LEASE_TO(LEASE_DONE),
    [LEASE_RETRYING] = LEASE_TO(LEASE_ACTING) | LEASE_TO(LEASE_DONE),
    [LEASE_DONE] = 0,
};

static const char *const lease_action_names[LEASE_ACTION__MAX] = {
    "none", "destroy", "pause"};

/* upstream_result.outcome in last_error and logs. */
static const char *const lease_outcome_names[UPSTREAM_OUTCOME__MAX] = {
    "answered", "control plane unreachable", "timeout", "answer too large",
    "protocol error", "aborted"};

struct lease {
	TAILQ_ENTRY(lease) entry; /* in wd->leases->list */
	struct wrennd *wd;	  /* borrowed */
	char sandbox_id[LEASE_ID_MAX + 1];
	enum lease_action action;
	enum lease_state state;
	enum upstream_auth auth;
	struct lease_owner owner;     /* client_id 0 once it is gone */
	unsigned long long pid_start; /* owner's start time (clock ticks) */
	time_t created_at;
	long keepalive_sec;	   /* 0: none */
	struct event *ev_ping;	   /* owned: keepalive period */
	struct upstream_req *ping; /* owned: a keepalive ping in flight */
	struct event *ev_timer;	   /* owned: retry or owner poll */
	struct event *ev_pidfd;	   /* owned: the owner's exit (WATCHING) */
	int pidfd;		   /* owned; -1 */
	struct upstream_req *req;  /* owned while ACTING */
	unsigned attempts;	   /* action requests sent */
	char last_error[128];	   /* "" before a failure */
};

TAILQ_HEAD(lease_list, lease);

struct lease_set {
	struct lease_list list; /* owned */
	unsigned n;
	int keep;	     /* shutting down: owners' exits no longer act */
	int exiting;	     /* lease_shutdown_wait: end the loop when idle */
	int write_failed;    /* the last state-file write failed (logged) */
	int warned_no_state; /* "no state-dir" said once */
};

static void lease_act(struct lease *l);
static int lease_save(struct wrennd *wd);

const char *
lease_action_name(enum lease_action a)
{
	return a < LEASE_ACTION__MAX ? lease_action_names[a] : "?";
}

int
lease_action_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "destroy") == 0)
		return LEASE_DESTROY;
	if (strcmp(s, "pause") == 0)
		return LEASE_PAUSE;
	return -1;
}

/* Move to state `to`; illegal moves are bugs. */
static void
lease_set_state(struct lease *l, enum lease_state to)
{
	assert(lease_transitions[l->state] & LEASE_TO(to));
	log_debug("lease %s: %s -> %s", l->sandbox_id,
	    lease_state_names[l->state], lease_state_names[to]);
	l->state = to;
}

/* The start time of process pid (field 22 of /proc/pid/stat), or 0. */
static unsigned long long
lease_pid_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': skip to the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return v;
}

/* Whether the lease's owner process still runs (same pid, same start). */
static int
lease_owner_alive(const struct lease *l)
{
	return l->owner.pid > 0 && l->pid_start != 0 &&
	    lease_pid_start(l->owner.pid) == l->pid_start;
}

static void
lease_stop_ping(struct lease *l)
{
	if (l->ev_ping != NULL)
		event_free(l->ev_ping);
	l->ev_ping = NULL;
	upstream_req_cancel(l->ping);
	l->ping = NULL;
	l->keepalive_sec = 0;
}

static void
lease_stop_watch(struct lease *l)
{
	if (l->ev_pidfd != NULL)
		event_free(l->ev_pidfd);
	l->ev_pidfd = NULL;
	if (l->pidfd != -1)
		close(l->pidfd);
	l->pidfd = -1;
	if (l->ev_timer != NULL)
		event_del(l->ev_timer);
}

/* Unlink and free l (DONE). Does not write the state file. */
static void
lease_free(struct lease *l)
{
	struct lease_set *s = l->wd->leases;

	if (l->state != LEASE_DONE)
		lease_set_state(l, LEASE_DONE);
	TAILQ_REMOVE(&s->list, l, entry);
	s->n--;
	lease_stop_ping(l);
	lease_stop_watch(l);
	if (l->ev_timer != NULL)
		event_free(l->ev_timer);
	upstream_req_cancel(l->req);
	free(l);
}

/* During lease_shutdown_wait: end the loop once nothing is in flight. */
static void
lease_check_idle(struct wrennd *wd)
{
	struct lease *l;

	if (!wd->leases->exiting)
		return;
	TAILQ_FOREACH(l, &wd->leases->list, entry)
		if (l->state == LEASE_ACTING)
			return;
	event_base_loopexit(wd->base, NULL);
}

static void
lease_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;

	if (l->state == LEASE_RETRYING) {
		lease_act(l);
		return;
	}
	/* WATCHING without a pidfd: poll the owner. */
	if (lease_owner_alive(l)) {
		struct timeval tv = {LEASE_WATCH_POLL_S, 0};

		event_add(l->ev_timer, &tv);
		return;
	}
	log_info(
	    "lease %s: owner pid %d exited", l->sandbox_id, (int)l->owner.pid);
	lease_act(l);
}

static void
lease_pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;

	log_info(
	    "lease %s: owner pid %d exited", l->sandbox_id, (int)l->owner.pid);
	lease_act(l);
}

/* Whether the answer ends the lease: done, or nothing left to do. */
static int
lease_settled(const struct lease *l, const struct upstream_result *res)
{
	if (res->outcome != UPSTREAM_OK)
		return 0;
	if (res->status >= 200 && res->status < 300)
		return 1;
	if (res->status == 404)
		return 1;
	/* Pausing what is not running (paused, stopped) leaves nothing to
	 * do; the control plane answers 409 invalid_state. */
	return l->action == LEASE_PAUSE && res->status == 409;
}

static void
lease_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct lease *l = arg;
	struct wrennd *wd = l->wd;
	struct timeval tv = {LEASE_BACKOFF_MIN_S, 0};
	unsigned i;

	l->req = NULL;
	if (lease_settled(l, res)) {
		log_info("lease %s: %s done (%s %ld)", l->sandbox_id,
		    lease_action_name(l->action),
		    res->status == 404 ? "already gone," : "status",
		    res->status);
		/* Gone: no longer a tool's (its policy's max-sandboxes). */
		if (l->action == LEASE_DESTROY)
			owner_remove(wd->owners, l->sandbox_id);
		lease_free(l);
		(void)lease_save(wd);
		lease_check_idle(wd);
		return;
	}
	if (res->outcome != UPSTREAM_OK)
		snprintf(l->last_error, sizeof(l->last_error), "%s",
		    lease_outcome_names[res->outcome]);
	else
		snprintf(l->last_error, sizeof(l->last_error), "HTTP %ld",
		    res->status);
	lease_set_state(l, LEASE_RETRYING);
	if (wd->leases->keep || wd->leases->exiting) {
		/* Shutting down: the state file keeps it pending. */
		log_warnx("lease %s: %s failed (%s); left for the next start",
		    l->sandbox_id, lease_action_name(l->action), l->last_error);
		lease_check_idle(wd);
		return;
	}
	for (i = 1; i < l->attempts && tv.tv_sec < LEASE_BACKOFF_MAX_S; i++)
		tv.tv_sec *= 2;
	if (tv.tv_sec > LEASE_BACKOFF_MAX_S)
		tv.tv_sec = LEASE_BACKOFF_MAX_S;
	log_warnx("lease %s: %s failed (%s), retrying in %ld s", l->sandbox_id,
	    lease_action_name(l->action), l->last_error, (long)tv.tv_sec);
	event_add(l->ev_timer, &tv);
}

/* Send the lease's action (from HELD, WATCHING or RETRYING). */
static void
lease_act(struct lease *l)
{
	struct wrennd *wd = l->wd;
	const char *verb = "DELETE", *suffix = "";
	struct timeval tv = {LEASE_BACKOFF_MIN_S, 0};
	char *path;
	int was_pending = l->state == LEASE_RETRYING;

	lease_stop_ping(l);
	lease_stop_watch(l);
	l->owner.client_id = 0;
	if (l->action == LEASE_NONE) {
		lease_free(l);
		return;
	}
	if (l->action == LEASE_PAUSE) {
		verb = "POST";
		suffix = "/pause";
	}
	lease_set_state(l, LEASE_ACTING);
	if (!was_pending)
		(void)lease_save(wd);
	if (wd->dialect != NULL &&
	    dialect_current(wd->dialect) == DIALECT_UNKNOWN) {
		/* Not before the path's spelling is known: a 404 from the
		 * other server's routes would end the lease unacted. */
		snprintf(l->last_error, sizeof(l->last_error),
		    "waiting for the control plane's api dialect");
		lease_set_state(l, LEASE_RETRYING);
		event_add(l->ev_timer, &tv);
		return;
	}
	l->attempts++;
	if ((path = rest_sandbox_path(l->sandbox_id, suffix)) != NULL) {
		l->req = rest_req_new(wd, l->auth, verb, path, NULL);
		free(path);
	}
	if (l->req != NULL && upstream_req_start(l->req, lease_done_cb, l) == 0)
		return;
	l->req = NULL;
	snprintf(l->last_error, sizeof(l->last_error), "out of memory");
	lease_set_state(l, LEASE_RETRYING);
	event_add(l->ev_timer, &tv);
}

/* A new entry (not linked), or NULL on OOM. */
static struct lease *
lease_new(struct wrennd *wd, const char *sandbox_id, enum lease_action action,
    const struct lease_owner *owner, enum upstream_auth auth)
{
	struct lease *l;

	if (strlen(sandbox_id) > LEASE_ID_MAX ||
	    !methods_segment_ok(sandbox_id, strlen(sandbox_id))) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->wd = wd;
	snprintf(l->sandbox_id, sizeof(l->sandbox_id), "%s", sandbox_id);
	l->action = action;
	l->state = LEASE_HELD;
	l->auth = auth;
	l->owner = *owner;
	l->pidfd = -1;
	l->created_at = time(NULL);
	if ((l->ev_timer = evtimer_new(wd->base, lease_timer_cb, l)) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

static void
lease_link(struct wrennd *wd, struct lease *l)
{
	TAILQ_INSERT_TAIL(&wd->leases->list, l, entry);
	wd->leases->n++;
}

int
lease_add(struct wrennd *wd, const char *sandbox_id, enum lease_action action,
    const struct lease_owner *owner, enum upstream_auth auth)
{
	struct lease *l;

	/* An owner already gone is cleanup: never refused. */
	if (owner->client_id != 0 &&
	    wd->leases->n >= (unsigned)wd->cfg->max_leases)
		return -ENOSPC;
	if ((l = lease_new(wd, sandbox_id, action, owner, auth)) == NULL)
		return errno == EINVAL ? -EINVAL : -ENOMEM;
	l->pid_start = lease_pid_start(owner->pid);
	lease_link(wd, l);
	log_info("lease %s: %s when client %llu (uid %u, pid %d) goes",
	    l->sandbox_id, lease_action_name(action),
	    (unsigned long long)owner->client_id, (unsigned)owner->uid,
	    (int)owner->pid);
	if (owner->client_id == 0)
		lease_act(l);
	else
		(void)lease_save(wd);
	return 0;
}

static void
lease_ping_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct lease *l = arg;
	struct timeval tv = {l->keepalive_sec, 0};

	l->ping = NULL;
	if (res->outcome == UPSTREAM_OK && res->status == 404) {
		log_info(
		    "lease %s: sandbox gone, keepalive stops", l->sandbox_id);
		if (l->action == LEASE_NONE) {
			lease_free(l);
			return;
		}
		lease_stop_ping(l);
		return;
	}
	if (!rest_ok(res))
		log_debug("lease %s: keepalive ping failed (%s %ld)",
		    l->sandbox_id, lease_outcome_names[res->outcome],
		    res->status);
	event_add(l->ev_ping, &tv);
}

static void
lease_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;
	struct timeval tv = {l->keepalive_sec, 0};
	char *path;

	if ((path = rest_sandbox_path(l->sandbox_id, "/ping")) != NULL) {
		l->ping = rest_req_new(l->wd, l->auth, "POST", path, NULL);
		free(path);
	}
	if (l->ping != NULL &&
	    upstream_req_start(l->ping, lease_ping_done_cb, l) == 0)
		return;
	l->ping = NULL;
	event_add(l->ev_ping, &tv);
}

int
lease_keepalive(struct wrennd *wd, const char *sandbox_id,
    const struct lease_owner *owner, long interval_sec, enum upstream_auth auth)
{
	struct lease *l;
	struct timeval tv = {interval_sec, 0};

	TAILQ_FOREACH(l, &wd->leases->list, entry)
		if (l->state == LEASE_HELD &&
		    l->owner.client_id == owner->client_id &&
		    strcmp(l->sandbox_id, sandbox_id) == 0)
			break;
	if (l == NULL && interval_sec == 0)
		return 0;
	if (l == NULL) {
		if (wd->leases->n >= (unsigned)wd->cfg->max_leases)
			return -ENOSPC;
		if ((l = lease_new(wd, sandbox_id, LEASE_NONE, owner, auth)) ==
		    NULL)
			return errno == EINVAL ? -EINVAL : -ENOMEM;
		lease_link(wd, l);
	}
	lease_stop_ping(l);
	if (interval_sec == 0) {
		if (l->action == LEASE_NONE)
			lease_free(l);
		return 0;
	}
	if ((l->ev_ping = evtimer_new(wd->base, lease_ping_cb, l)) == NULL) {
		if (l->action == LEASE_NONE)
			lease_free(l);
		return -ENOMEM;
	}
	l->keepalive_sec = interval_sec;
	event_add(l->ev_ping, &tv);
	return 0;
}

void
lease_client_gone(struct wrennd *wd, uint64_t client_id)
{
	struct lease *l, *next;

	if (wd->leases == NULL)
		return;
	for (l = TAILQ_FIRST(&wd->leases->list); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (l->state != LEASE_HELD || l->owner.client_id != client_id)
			continue;
		if (wd->leases->keep && l->action != LEASE_NONE) {
			lease_stop_ping(l);
			continue;
		}
		if (l->action != LEASE_NONE)
			log_info("lease %s: client %llu gone: %s",
			    l->sandbox_id, (unsigned long long)client_id,
			    lease_action_name(l->action));
		lease_act(l);
	}
}

unsigned
lease_count(const struct wrennd *wd)
{
	return wd->leases != NULL ? wd->leases->n : 0;
}

/* "2026-12-02T04:05:06Z" */
static void
lease_time_text(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

json_t *
lease_list_json(const struct wrennd *wd)
{
	const struct lease *l;
	json_t *arr, *o;
	char ts[32];

	if ((arr = json_array()) == NULL)
		return NULL;
	TAILQ_FOREACH(l, &wd->leases->list, entry) {
		lease_time_text(l->created_at, ts, sizeof(ts));
		o = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:o}, s:s, s:I, "
			      "s:I, s:s?}",
		    "sandbox_id", l->sandbox_id, "action",
		    lease_action_name(l->action), "state",
		    lease_state_names[l->state], "owner", "uid",
		    (json_int_t)l->owner.uid, "pid", (json_int_t)l->owner.pid,
		    "connection",
		    l->owner.client_id != 0
			? json_integer((json_int_t)l->owner.client_id)
			: json_null(),
		    "created_at", ts, "keepalive_sec",
		    (json_int_t)l->keepalive_sec, "attempts",
		    (json_int_t)l->attempts, "last_error",
		    l->last_error[0] != '\0' ? l->last_error : NULL);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:o}", "leases", arr);
}

/* The state file's document: the leases with an action. */
static json_t *
lease_doc(const struct wrennd *wd)
{
	const struct lease *l;
	json_t *arr, *o;

	if ((arr = json_array()) == NULL)
		return NULL;
	TAILQ_FOREACH(l, &wd->leases->list, entry) {
		if (l->action == LEASE_NONE)
			continue;
		o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}",
		    "sandbox_id", l->sandbox_id, "action",
		    lease_action_name(l->action), "auth",
		    l->auth == UPSTREAM_AUTH_JWT ? "jwt" : "api_key", "uid",
		    (json_int_t)l->owner.uid, "pid", (json_int_t)l->owner.pid,
		    "pid_start", (json_int_t)l->pid_start, "created_at",
		    (json_int_t)l->created_at, "pending",
		    l->state == LEASE_ACTING || l->state == LEASE_RETRYING);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:i, s:o}", "version", 1, "leases", arr);
}

/* Write text to fd fully; 0 or -errno. */
static int
lease_write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, text, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write the state file: leases.json.tmp, fsync, rename, fsync the
 * directory. 0, or -errno (logged once until a write succeeds again).
 */
static int
lease_save(struct wrennd *wd)
{
	const char *dir = wd->cfg->state_dir;
	struct lease_set *s = wd->leases;
	char path[4096], tmp[4096];
	json_t *doc;
	char *text = NULL;
	int fd = -1, dfd, r = 0;

	if (dir == NULL) {
		if (!s->warned_no_state && s->n > 0)
			log_warnx("no state-dir: leases will not survive a "
				  "restart of wrennd");
		s->warned_no_state = 1;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, LEASE_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, LEASE_FILE);
	if ((doc = lease_doc(wd)) == NULL ||
	    (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		r = -ENOMEM;
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (r = lease_write_all(fd, text, strlen(text))) != 0 ||
	    (r = lease_write_all(fd, "\n", 1)) != 0 || fsync(fd) == -1 ||
	    rename(tmp, path) == -1) {
		if (r == 0)
			r = -errno;
		goto done;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
done:
	if (fd != -1)
		close(fd);
	free(text);
	json_decref(doc);
	if (r != 0 && !s->write_failed)
		log_warnx("state file %s: %s", path, strerror(-r));
	else if (r == 0 && s->write_failed)
		log_info("state file %s written again", path);
	s->write_failed = r != 0;
	return r;
}

/* A lease read back from the state file: watch its owner or act. */
static void
lease_reconcile(struct lease *l, int pending)
{
	struct timeval tv = {LEASE_WATCH_POLL_S, 0};
	int fd = -1;

	if (!pending && l->owner.pid > 0) {
#ifdef SYS_pidfd_open
		fd = (int)syscall(SYS_pidfd_open, l->owner.pid, 0);
#endif
		/* The pidfd pins the pid: check it is still the owner. */
		if (lease_owner_alive(l)) {
			lease_set_state(l, LEASE_WATCHING);
			l->pidfd = fd;
			if (fd != -1 &&
			    (l->ev_pidfd = event_new(l->wd->base, fd, EV_READ,
				 lease_pidfd_cb, l)) != NULL &&
			    event_add(l->ev_pidfd, NULL) == 0)
				return;
			if (l->ev_pidfd != NULL)
				event_free(l->ev_pidfd);
			l->ev_pidfd = NULL;
			event_add(l->ev_timer, &tv);
			return;
		}
		if (fd != -1)
			close(fd);
	}
	log_info("lease %s: %s since the last start: %s", l->sandbox_id,
	    pending ? "action pending" : "owner gone",
	    lease_action_name(l->action));
	lease_act(l);
}

/* One entry of the state file; 0, or -1 when it is malformed. */
static int
lease_load_one(struct wrennd *wd, json_t *e, struct lease **ret, int *pending)
{
	struct lease_owner owner = {0, 0, 0};
	const char *id = NULL, *action = NULL, *auth = NULL;
	json_int_t uid = -1, pid = 0, start = 0, created = 0;
	int pend = 0, a;
	struct lease *l;

	if (json_unpack(e, "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}",
		"sandbox_id", &id, "action", &action, "auth", &auth, "uid",
		&uid, "pid", &pid, "pid_start", &start, "created_at", &created,
		"pending", &pend) != 0)
		return -1;
	if ((a = lease_action_parse(action)) < 0 || uid < 0 || pid < 0 ||
	    pid > INT32_MAX || start < 0 ||
	    (strcmp(auth, "jwt") != 0 && strcmp(auth, "api_key") != 0))
		return -1;
	owner.uid = (uid_t)uid;
	owner.pid = (pid_t)pid;
	l = lease_new(wd, id, (enum lease_action)a, &owner,
	    strcmp(auth, "jwt") == 0 ? UPSTREAM_AUTH_JWT
				     : UPSTREAM_AUTH_APIKEY);
	if (l == NULL)
		return -1;
	l->pid_start = (unsigned long long)start;
	l->created_at = (time_t)created;
	*ret = l;
	*pending = pend;
	return 0;
}

int
lease_set_load(struct wrennd *wd, char *err, size_t errlen)
{
	const char *dir = wd->cfg->state_dir;
	struct lease *l, *next;
	char path[4096];
	json_error_t je;
	json_t *doc, *arr, *e;
	size_t i;
	int pending, bad = 0;
	struct stat st;

	if (dir == NULL)
		return 0;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "state-dir %s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, LEASE_FILE);
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return lease_save(wd) == 0 ? 0 : -EACCES;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_size > LEASE_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %ld bytes", path,
		    LEASE_FILE_MAX);
		return -EFBIG;
	}
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_array(arr = json_object_get(doc, "leases"))) {
		snprintf(err, errlen, "%s: not a wrennd lease file%s%s", path,
		    doc == NULL ? ": " : "", doc == NULL ? je.text : "");
		json_decref(doc);
		return -EINVAL;
	}
	/* Link them all first, so the first write keeps every one. */
	json_array_foreach(arr, i, e) {
		if (lease_load_one(wd, e, &l, &pending) != 0) {
			bad++;
			continue;
		}
		lease_link(wd, l);
		/* pending rides in the state until reconciled below */
		l->attempts = pending ? 1 : 0;
	}
	json_decref(doc);
	if (bad > 0)
		log_warnx("%s: %d malformed lease(s) skipped", path, bad);
	log_info("%s: %u lease(s) from the last start", path, wd->leases->n);
	for (l = TAILQ_FIRST(&wd->leases->list); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		pending = l->attempts != 0;
		l->attempts = 0;
		lease_reconcile(l, pending);
	}
	(void)lease_save(wd);
	return 0;
}

struct lease_set *
lease_set_new(void)
{
	struct lease_set *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	TAILQ_INIT(&s->list);
	return s;
}

void
lease_set_free(struct lease_set *s)
{
	struct lease *l;

	if (s == NULL)
		return;
	while ((l = TAILQ_FIRST(&s->list)) != NULL)
		lease_free(l);
	free(s);
}

void
lease_shutdown(struct wrennd *wd, int destroy)
{
	struct lease *l, *next;

	for (l = TAILQ_FIRST(&wd->leases->list); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		lease_stop_ping(l);
		if (l->action == LEASE_NONE) {
			lease_free(l);
			continue;
		}
		if (destroy &&
		    (l->state == LEASE_HELD || l->state == LEASE_WATCHING))
			lease_act(l);
	}
	wd->leases->keep = !destroy;
	(void)lease_save(wd);
}

void
lease_shutdown_wait(struct wrennd *wd, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct lease *l;
	int busy = 0;

	TAILQ_FOREACH(l, &wd->leases->list, entry) {
		/* No retries from now on: the next start retries. */
		event_del(l->ev_timer);
		busy |= l->state == LEASE_ACTING;
	}
	if (!busy)
		return;
	log_info("waiting up to %ld ms for lease actions", ms);
	wd->leases->exiting = 1;
	event_base_loopexit(wd->base, &tv);
	event_base_dispatch(wd->base);
	(void)lease_save(wd);
}
