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

#include "call.h"
#include "client.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "role.h"
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
	int tool;	    /* the tool socket: peers get the tool role */
};

struct listener {
	struct wrennd *wd; /* borrowed */
	struct listener_sock socks[LISTENER_MAX_FDS];
	int nsocks;
	int inherited;		/* sockets came from systemd */
	char *path;		/* owned: control path we bound (unlinked) */
	char *tool_path;	/* owned: tool path we bound (unlinked) */
	struct event *ev_pause; /* owned: EMFILE back-off timer */
	enum listener_state state;
};

const char *
listener_path(const struct listener *l)
{
	return l->path != NULL ? l->path : "(socket activation)";
}

const char *
listener_tool_path(const struct listener *l)
{
	int i;

	if (l->tool_path != NULL)
		return l->tool_path;
	for (i = 0; i < l->nsocks; i++)
		if (l->socks[i].tool)
			return "(socket activation)";
	return NULL;
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

/*
 * The role of the peer on fd (role.h), or -1 to refuse it. On the
 * control socket its supplementary groups count: SO_PEERGROUPS gives
 * them as they were when it connected, from the kernel, with no race
 * with the pid being reused and no NSS lookup (which could block the
 * loop); a kernel without it (before 4.13) leaves the primary gid.
 */
static int
listener_role(
    int fd, int tool, const struct ucred *cred, const struct conf *cfg)
{
	gid_t small[64], *groups = NULL;
	struct role_peer peer;
	int r;

	memset(&peer, 0, sizeof(peer));
	peer.uid = cred->uid;
	peer.gid = cred->gid;
	peer.tool_socket = tool;
	if (!tool && (r = role_peer_groups(fd, small, 64, &groups)) >= 0) {
		peer.groups = groups;
		peer.ngroups = (size_t)r;
	}
	r = role_of_peer(&cfg->roles, &peer, geteuid());
	if (groups != small)
		free(groups);
	return r;
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
	int fd, role;

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
		    fd, CALL_SHUTDOWN_CODE, NULL, CALL_SHUTDOWN_MSG);
		return;
	}
	if ((role = listener_role(fd, ls->tool, &cred, wd->cfg)) < 0) {
		log_info("refusing uid %u gid %u pid %d on the control socket: "
			 "not admin and not in allow-users or allow-groups",
		    (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid);
		listener_refuse(fd, "permission_denied", NULL,
		    "this uid may not use wrennd's control socket (not "
		    "admin, not in allow-users or allow-groups)");
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
	(void)client_new(wd, fd, cred.uid, cred.gid, cred.pid, (enum role)role);
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

/*
 * Bind path with mode (and group gid unless (gid_t)-1); the socket goes
 * to the next slot, a tool socket when tool is set. 0 or -1 (logged).
 */
static int
listener_bind(
    struct listener *l, const char *path, int mode, gid_t gid, int tool)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	char *dup;
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
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) == -1) {
		log_warn("chown '%s' to gid %u", path, (unsigned)gid);
		goto fail;
	}
	if (chmod(path, (mode_t)mode) == -1)
		log_warn("chmod '%s', ignoring", path);
	if (listen(fd, LISTENER_BACKLOG) == -1) {
		log_warn("listen '%s'", path);
		goto fail;
	}
	if ((dup = strdup(path)) == NULL)
		goto fail;
	if (tool)
		l->tool_path = dup;
	else
		l->path = dup;
	l->socks[l->nsocks].fd = fd;
	l->socks[l->nsocks].tool = tool;
	l->nsocks++;
	return 0;
fail:
	close(fd);
	(void)unlink(path);
	return -1;
}

/*
 * Sockets from systemd: n descriptors from fd 3, told apart by names
 * (LISTEN_FDNAMES, colon separated, read before systemd_listen_count
 * clears it): "control" and "tool" (FileDescriptorName= in the socket
 * unit). A single descriptor with another name or none is the control
 * socket; with several, one named otherwise is ignored (logged).
 */
static int
listener_adopt(struct listener *l, int n, const char *names)
{
	const char *p = names;
	size_t len;
	int i, fd, tool;

	l->inherited = 1;
	for (i = 0; i < n && l->nsocks < LISTENER_MAX_FDS; i++) {
		fd = 3 + i;
		len = p != NULL ? strcspn(p, ":") : 0;
		tool = len == 4 && strncmp(p, "tool", 4) == 0;
		if (!tool && n > 1 &&
		    !(len == 7 && strncmp(p, "control", 7) == 0)) {
			log_warnx("socket activation: fd %d is named '%.*s', "
				  "not control or tool (FileDescriptorName=); "
				  "ignoring it",
			    fd, (int)(len < 64 ? len : 64), p != NULL ? p : "");
			fd = -1;
		}
		if (p != NULL)
			p = p[len] == ':' ? p + len + 1 : NULL;
		if (fd == -1)
			continue;
		if (!systemd_is_unix_listener(fd)) {
			log_warnx("socket activation: fd %d is not a "
				  "listening Unix stream socket, ignoring",
			    fd);
			continue;
		}
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		l->socks[l->nsocks].tool = tool;
		l->socks[l->nsocks++].fd = fd;
	}
	if (l->nsocks == 0) {
		log_warnx("socket activation passed no usable socket");
		return -1;
	}
	log_info("listening on %d socket(s) from systemd", l->nsocks);
	return 0;
}

struct listener *
listener_new(struct wrennd *wd)
{
	const struct conf *cfg = wd->cfg;
	struct listener *l;
	char *names = NULL;
	const char *v;
	int i, n;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->wd = wd;
	for (i = 0; i < LISTENER_MAX_FDS; i++)
		l->socks[i].fd = -1;
	if ((v = getenv("LISTEN_FDNAMES")) != NULL &&
	    (names = strdup(v)) == NULL)
		goto fail;
	n = systemd_listen_count();
	if (n < 0) {
		log_warnx("socket activation: bad LISTEN_FDS environment");
		goto fail;
	}
	if (n > 0) {
		if (listener_adopt(l, n, names) != 0)
			goto fail;
	} else {
		if (listener_bind(l, cfg->socket_path, cfg->socket_mode,
			(gid_t)-1, 0) != 0)
			goto fail;
		log_info("listening on %s", l->path);
		if (cfg->tool_socket != NULL) {
			if (listener_bind(l, cfg->tool_socket,
				cfg->tool_socket_mode, cfg->tool_socket_gid,
				1) != 0)
				goto fail;
			log_info("tool socket on %s (mode %04o)", l->tool_path,
			    (unsigned)cfg->tool_socket_mode);
		}
	}
	free(names);
	names = NULL;
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
	free(names);
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
	if (l->tool_path != NULL) {
		(void)unlink(l->tool_path);
		free(l->tool_path);
	}
	free(l);
}
