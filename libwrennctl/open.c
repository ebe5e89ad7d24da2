/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl open: the socket path (argument, $WRENND_SOCKET,
 * $XDG_RUNTIME_DIR, /run), connect(2), and making a handle whose messages
 * go to the call layer, then waiting for the greeting (and the fds
 * negotiation) unless the caller asked for a non-blocking open.
 * Owns: nothing past the call (the handle is the caller's).
 * Called by: applications (wrennctl_open, wrennctl_open_fd, wrennctl_new,
 * wrennctl_socket_path). The top layer: it includes call and conn.
 */
#include "config.h"

#include "wrennctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-call.h"
#include "ctl-conn.h"
#include "ctl.h"

/* Environment lookup that ignores the environment in setuid programs. */
static const char *
ctl_getenv(const char *name)
{
#ifdef __GLIBC__
	return secure_getenv(name);
#else
	return getenv(name);
#endif
}

int
wrennctl_socket_path(const char *path, char **ret_path)
{
	const char *env;
	char *p;
	size_t n;

	if (ret_path == NULL)
		return WRENNCTL_E_INVAL;
	if (path != NULL && *path != '\0')
		p = strdup(path);
	else if ((env = ctl_getenv("WRENND_SOCKET")) != NULL && *env != '\0')
		p = strdup(env);
	else if ((env = ctl_getenv("XDG_RUNTIME_DIR")) != NULL &&
	    *env != '\0') {
		n = strlen(env) + sizeof("/wrennd/wrennd.sock");
		if ((p = malloc(n)) != NULL)
			(void)snprintf(p, n, "%s/wrennd/wrennd.sock", env);
	} else
		p = strdup("/run/wrennd/wrennd.sock");
	if (p == NULL)
		return WRENNCTL_E_NOMEM;
	*ret_path = p;
	return 0;
}

static int
ctl_until_greeted(const struct wrennctl *h, const void *arg)
{
	return h->state != CTL_STATE_GREETING;
}

static int
ctl_until_fds_known(const struct wrennctl *h, const void *arg)
{
	return h->fds != CTL_FDS_ASKED;
}

/*
 * The blocking part of an open: the greeting and, with WRENNCTL_OPEN_FDS,
 * the answer to the fds negotiation.
 */
static int
ctl_open_wait(struct wrennctl *h, unsigned int flags)
{
	uint64_t deadline = ctl_deadline(CTL_GREETING_TIMEOUT_MS);
	int r;

	r = ctl_run(h, ctl_until_greeted, NULL, deadline);
	if (r == 0 && h->state == CTL_STATE_CLOSED)
		r = h->close_err.code;
	if (r < 0 || !(flags & WRENNCTL_OPEN_FDS))
		return r;
	if ((r = ctl_fds_request(h)) < 0)
		return r;
	r = ctl_run(h, ctl_until_fds_known, NULL, deadline);
	if (r == 0 && h->state == CTL_STATE_CLOSED)
		r = h->close_err.code;
	if (r == 0 && h->fds != CTL_FDS_ON)
		r = WRENNCTL_E_UNSUPPORTED;
	return r;
}

/* Make a handle around a connected fd (not owned until success). */
static int
ctl_open_new(int fd, unsigned int flags, struct wrennctl **ret)
{
	struct wrennctl *h;
	int r;

	if ((r = ctl_conn_new(fd, &ctl_call_conn_ops, &h)) < 0)
		return r;
	if (flags & WRENNCTL_OPEN_NONBLOCK) {
		if (flags & WRENNCTL_OPEN_FDS)
			r = ctl_fds_request(h);
	} else
		r = ctl_open_wait(h, flags);
	if (r < 0) {
		h->fd = -1; /* the caller keeps fd on failure */
		ctl_conn_destroy(h);
		return r;
	}
	*ret = h;
	return 0;
}

int
wrennctl_open_fd(int fd, unsigned int flags, struct wrennctl **ret)
{
	if (fd < 0 || ret == NULL || (flags & ~CTL_OPEN_FLAGS) != 0)
		return WRENNCTL_E_INVAL;
	return ctl_open_new(fd, flags, ret);
}

int
wrennctl_open(const char *path, unsigned int flags, struct wrennctl **ret)
{
	struct sockaddr_un sa;
	char *p = NULL;
	int fd, r, saved;

	if (ret == NULL || (flags & ~CTL_OPEN_FLAGS) != 0)
		return WRENNCTL_E_INVAL;
	if ((r = wrennctl_socket_path(path, &p)) < 0)
		return r;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(p) >= sizeof(sa.sun_path)) {
		free(p);
		errno = ENAMETOOLONG;
		return WRENNCTL_E_INVAL;
	}
	memcpy(sa.sun_path, p, strlen(p) + 1);
	free(p);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return WRENNCTL_E_CONNECT;
	/* A blocking connect: a Unix socket only waits on a full backlog. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return WRENNCTL_E_CONNECT;
	}
	if ((r = ctl_open_new(fd, flags, ret)) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return r;
}

int
wrennctl_new(const char *path, struct wrennctl **ret)
{
	return wrennctl_open(path, 0, ret);
}
