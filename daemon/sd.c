/* SPDX-License-Identifier: MIT */
/*
 * systemd glue (see sd.h). Isolated so the rest of the daemon never
 * includes <systemd/...> and builds without it.
 */
#include "config.h"

#include "sd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

int
sd_listen_count(void)
{
#ifdef HAVE_SYSTEMD
	return sd_listen_fds(1);
#else
	return 0;
#endif
}

int
sd_is_unix_listener(int fd)
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
sd_ready(const char *status)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#else
	(void)status;
#endif
}

void
sd_status(const char *status)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notifyf(0, "STATUS=%s", status);
#else
	(void)status;
#endif
}

void
sd_reloading(void)
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
sd_stopping(void)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notify(0, "STOPPING=1");
#endif
}

void
sd_watchdog_ping(void)
{
#ifdef HAVE_SYSTEMD
	(void)sd_notify(0, "WATCHDOG=1");
#endif
}

uint64_t
sd_watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}
