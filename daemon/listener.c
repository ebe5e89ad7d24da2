/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets (see listener.h). A socket we bind is created with its
 * final mode (umask around bind) and removed on exit; an inherited one
 * (socket activation) is never unlinked or rebound. A stale socket file is
 * replaced only after connect() proves nothing answers on it.
 */
#include "config.h"

#include "listener.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "client.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "systemd.h"
#include "wrennd.h"

#define LISTENER_MAX_FDS    8 /* sockets taken from systemd */
#define LISTENER_BACKLOG    128
#define LISTENER_PAUSE_SEC  1  /* back-off when out of file descriptors */
#define LISTENER_FD_RESERVE 64 /* descriptors for upstream, logs, files */

/* Accepting, or backing off while out of file descriptors. */
enum listener_state {
	LISTENER_NEW,	    /* being set up: no accept event yet */
	LISTENER_ACCEPTING, /* every socket's accept event is added */
	LISTENER_PAUSED,    /* EMFILE/ENFILE: none, until ev_pause fires */
	LISTENER__MAX
};

static const char *const listener_state_names[LISTENER__MAX] = {
    "new", "accepting", "paused"};

#define LISTENER_TO(s) (1u << (s))
/* Legal transitions: listener_transitions[from] has bit `to` set. */
static const unsigned listener_transitions[LISTENER__MAX] = {
    [LISTENER_NEW] = LISTENER_TO(LISTENER_ACCEPTING),
    [LISTENER_ACCEPTING] = LISTENER_TO(LISTENER_PAUSED),
    [LISTENER_PAUSED] = LISTENER_TO(LISTENER_ACCEPTING),
};

struct listener_sock {
	int fd;		    /* owned */
	struct event *ev;   /* owned */
	struct listener *l; /* borrowed owner */
};

struct listener {
	struct wrennd *wd; /* borrowed */
	struct listener_sock socks[LISTENER_MAX_FDS];
	int nsocks;
	int inherited;		/* sockets came from systemd */
	char *path;		/* owned: path we bound (unlinked on free) */
	struct event *ev_pause; /* owned: EMFILE back-off timer */
	enum listener_state state;
};

const char *
listener_path(const struct listener *l)
{
	return l->path != NULL ? l->path : "(socket activation)";
}

/* Move to state `to`, turning accepting on or off on every socket;
 * illegal moves are bugs. */
static void
listener_set_state(struct listener *l, enum listener_state to)
{
	int i;

	assert(listener_transitions[l->state] & LISTENER_TO(to));
	log_debug("listener: %s -> %s", listener_state_names[l->state],
	    listener_state_names[to]);
	l->state = to;
	for (i = 0; i < l->nsocks; i++) {
		if (to == LISTENER_ACCEPTING)
			event_add(l->socks[i].ev, NULL);
		else
			event_del(l->socks[i].ev);
	}
}

static void
listener_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	listener_set_state(arg, LISTENER_ACCEPTING);
}

/*
 * Refuse a connection with one error line; limit, when set, names the
 * option that refused it (data.limit).
 */
static void
listener_refuse(
    int fd, const char *code, const char *limit, const char *message)
{
	json_t *msg;
	size_t len;
	char *buf;

	msg = ipc_make_error_code(NULL, IPC_ERR_APPLICATION, message, code,
	    limit != NULL ? json_pack("{s:s}", "limit", limit) : NULL);
	if (msg != NULL && (buf = ipc_encode(msg, &len)) != NULL) {
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(buf);
	}
	json_decref(msg);
	close(fd);
}

static void
listener_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct listener_sock *ls = arg;
	struct listener *l = ls->l;
	struct wrennd *wd = l->wd;
	struct timeval tv = {LISTENER_PAUSE_SEC, 0};
	struct ucred cred;
	socklen_t len;
	int fd;

	/* Another socket's event of the same loop turn may have paused. */
	if (l->state != LISTENER_ACCEPTING)
		return;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn(
			    "accept: pausing for %d s", LISTENER_PAUSE_SEC);
			listener_set_state(l, LISTENER_PAUSED);
			event_add(l->ev_pause, &tv);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (wd->draining) {
		listener_refuse(
		    fd, "shutting_down", NULL, "wrennd is shutting down");
		return;
	}
	if (wd->nclients >= (unsigned)wd->cfg->max_clients) {
		log_info("refusing uid %u pid %d: %u clients connected "
			 "(max-clients)",
		    (unsigned)cred.uid, (int)cred.pid, wd->nclients);
		listener_refuse(fd, "too_many_clients", "max-clients",
		    "too many clients connected (max-clients)");
		return;
	}
	/* One uid cannot take every slot (the sd-varlink per-uid model). */
	if (client_count_uid(wd, cred.uid) >=
	    (unsigned)wd->cfg->max_clients_per_uid) {
		log_info("refusing uid %u pid %d: it has %ld connections "
			 "(max-clients-per-uid)",
		    (unsigned)cred.uid, (int)cred.pid,
		    wd->cfg->max_clients_per_uid);
		listener_refuse(fd, "too_many_clients", "max-clients-per-uid",
		    "too many connections from this uid "
		    "(max-clients-per-uid)");
		return;
	}
	(void)client_new(wd, fd, cred.uid, cred.gid, cred.pid);
}

void
listener_raise_nofile(const struct conf *cfg)
{
	struct rlimit rl;
	rlim_t old, need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE, ignoring");
		return;
	}
	old = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("setrlimit RLIMIT_NOFILE, ignoring");
			rl.rlim_cur = old;
		} else
			log_info("file descriptor limit raised from %llu to "
				 "%llu",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_cur);
	}
	/* Each client is one descriptor, plus what it may queue. */
	need = (rlim_t)cfg->max_clients + (rlim_t)cfg->max_queued_fds_total +
	    LISTENER_FD_RESERVE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warnx("file descriptor limit %llu is below the %llu that "
			  "max-clients and max-queued-fds-total may take; "
			  "accepting pauses when descriptors run out",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

/* Whether something answers on the Unix socket at path. */
static int
listener_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return r == 0;
}

/* mkdir -p the parent of path; directories we create are 0700/0755. */
static int
listener_mkparent(const char *path)
{
	char dir[PATH_MAX], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Bind the configured path. */
static int
listener_bind(struct listener *l, const char *path, int mode)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, r;

	if (listener_mkparent(path) != 0) {
		log_warn("cannot create the directory of '%s'", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("'%s' exists and is not a socket; not "
				  "replacing it",
			    path);
			return -1;
		}
		if (listener_alive(path)) {
			log_warnx("another wrennd is already listening on "
				  "'%s'",
			    path);
			return -1;
		}
		log_info("removing stale socket '%s'", path);
		(void)unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask(0777 & ~(mode_t)mode);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1) {
		log_warn("bind '%s'", path);
		close(fd);
		return -1;
	}
	if (chmod(path, (mode_t)mode) == -1)
		log_warn("chmod '%s', ignoring", path);
	if (listen(fd, LISTENER_BACKLOG) == -1) {
		log_warn("listen '%s'", path);
		close(fd);
		(void)unlink(path);
		return -1;
	}
	if ((l->path = strdup(path)) == NULL) {
		close(fd);
		(void)unlink(path);
		return -1;
	}
	l->socks[0].fd = fd;
	l->nsocks = 1;
	return 0;
}

struct listener *
listener_new(struct wrennd *wd)
{
	struct listener *l;
	int i, n, fd;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->wd = wd;
	for (i = 0; i < LISTENER_MAX_FDS; i++)
		l->socks[i].fd = -1;
	n = systemd_listen_count();
	if (n < 0) {
		log_warnx("socket activation: bad LISTEN_FDS environment");
		goto fail;
	}
	if (n > 0) {
		l->inherited = 1;
		for (i = 0; i < n && l->nsocks < LISTENER_MAX_FDS; i++) {
			fd = 3 + i;
			if (!systemd_is_unix_listener(fd)) {
				log_warnx("socket activation: fd %d is not a "
					  "listening Unix stream socket, "
					  "ignoring",
				    fd);
				continue;
			}
			(void)fcntl(
			    fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			l->socks[l->nsocks++].fd = fd;
		}
		if (l->nsocks == 0) {
			log_warnx("socket activation passed no usable socket");
			goto fail;
		}
		log_info("listening on %d socket(s) from systemd", l->nsocks);
	} else {
		if (listener_bind(
			l, wd->cfg->socket_path, wd->cfg->socket_mode) != 0)
			goto fail;
		log_info("listening on %s", l->path);
	}
	for (i = 0; i < l->nsocks; i++) {
		l->socks[i].l = l;
		l->socks[i].ev = event_new(wd->base, l->socks[i].fd,
		    EV_READ | EV_PERSIST, listener_accept_cb, &l->socks[i]);
		if (l->socks[i].ev == NULL)
			goto fail;
	}
	if ((l->ev_pause = evtimer_new(wd->base, listener_pause_cb, l)) == NULL)
		goto fail;
	listener_set_state(l, LISTENER_ACCEPTING);
	return l;
fail:
	listener_free(l);
	return NULL;
}

void
listener_free(struct listener *l)
{
	int i;

	if (l == NULL)
		return;
	for (i = 0; i < LISTENER_MAX_FDS; i++) {
		if (l->socks[i].ev != NULL)
			event_free(l->socks[i].ev);
		if (l->socks[i].fd != -1 && !l->inherited)
			close(l->socks[i].fd);
	}
	if (l->ev_pause != NULL)
		event_free(l->ev_pause);
	if (l->path != NULL) {
		(void)unlink(l->path);
		free(l->path);
	}
	free(l);
}
