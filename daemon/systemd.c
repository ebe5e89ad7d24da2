/* SPDX-License-Identifier: MIT */
/*
 * systemd glue (see systemd.h). Isolated so the rest of the daemon never
 * includes <systemd/...> and builds without it.
 */
#include "config.h"

#include "systemd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

int
systemd_listen_count(void)
{
#ifdef HAVE_SYSTEMD
	return sd_listen_fds(1);
#else
	return 0;
#endif
}

int
systemd_is_unix_listener(int fd)
{
#ifdef HAVE_SYSTEMD
	return sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0;
#else
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return 0;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		return 0;
	return type == SOCK_STREAM && listening;
#endif
}

void
systemd_ready(const char *status)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#else
	(void)status;
#endif
}

void
systemd_reloading(void)
{
#ifdef HAVE_SYSTEMD
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL);
#endif
}

void
systemd_stopping(void)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notify(0, "STOPPING=1");
#endif
}
