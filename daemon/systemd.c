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
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"

#define SYSTEMD_STATUS_MAX     256  /* bytes of one STATUS= line */
#define SYSTEMD_STATUS_POLL_MS 1000 /* at most one STATUS= a second */

struct systemd {
	systemd_status_fn fill;	       /* borrowed */
	void *arg;		       /* borrowed */
	struct event *ev_watchdog;     /* owned; NULL without a watchdog */
	struct event *ev_status;       /* owned; NULL without NOTIFY_SOCKET */
	int notify;		       /* NOTIFY_SOCKET was set at start */
	char sent[SYSTEMD_STATUS_MAX]; /* the last STATUS= sent */
};

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
systemd_listen_names(char ***names)
{
#ifdef HAVE_SYSTEMD
	int n;

	*names = NULL;
	n = sd_listen_fds_with_names(1, names);
	if (n <= 0 && *names != NULL) {
		systemd_names_free(*names);
		*names = NULL;
	}
	return n;
#else
	*names = NULL;
	return 0;
#endif
}

void
systemd_names_free(char **names)
{
	char **p;

	if (names == NULL)
		return;
	for (p = names; *p != NULL; p++)
		free(*p);
	free(names);
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
systemd_status_line(const struct systemd_status *st, char *buf, size_t len)
{
	snprintf(buf, len,
	    "%sauth %s, upstream %s, %u client%s, %u sandbox%s, %u stream%s, "
	    "%u lease%s",
	    st->draining ? "draining, " : "", st->auth,
	    st->reachable > 0	     ? "reachable"
		: st->reachable == 0 ? "unreachable"
				     : "not contacted yet",
	    st->clients, st->clients == 1 ? "" : "s", st->sandboxes,
	    st->sandboxes == 1 ? "" : "es", st->streams,
	    st->streams == 1 ? "" : "s", st->leases,
	    st->leases == 1 ? "" : "s");
}

/* The current line, from the program's counts. */
static void
systemd_current(struct systemd *sd, char *buf, size_t len)
{
	struct systemd_status st;

	memset(&st, 0, sizeof(st));
	st.auth = "none";
	st.reachable = -1;
	sd->fill(sd->arg, &st);
	systemd_status_line(&st, buf, len);
}

#ifdef HAVE_SYSTEMD
static void
systemd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

/* Once a second after READY: STATUS= when the line changed. */
static void
systemd_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct systemd *sd = arg;
	char line[SYSTEMD_STATUS_MAX];

	systemd_current(sd, line, sizeof(line));
	if (strcmp(line, sd->sent) == 0)
		return;
	if (sd_notifyf(0, "STATUS=%s", line) > 0)
		memcpy(sd->sent, line, sizeof(sd->sent));
}
#endif

struct systemd *
systemd_new(struct event_base *base, systemd_status_fn fill, void *arg)
{
	struct systemd *sd;
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;
	struct timeval tv;
	int r;
#endif

	if ((sd = calloc(1, sizeof(*sd))) == NULL)
		return NULL;
	sd->fill = fill;
	sd->arg = arg;
#ifdef HAVE_SYSTEMD
	sd->notify = getenv("NOTIFY_SOCKET") != NULL;
	if (!sd->notify)
		return sd;
	r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		log_warnx("watchdog: bad WATCHDOG_USEC or WATCHDOG_PID, "
			  "ignoring them");
	if (r > 0 && usec > 0) {
		usec /= 2;
		if (usec == 0)
			usec = 1;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		sd->ev_watchdog =
		    event_new(base, -1, EV_PERSIST, systemd_watchdog_cb, sd);
		if (sd->ev_watchdog == NULL ||
		    event_add(sd->ev_watchdog, &tv) != 0) {
			systemd_free(sd);
			return NULL;
		}
		log_info("watchdog: WATCHDOG=1 every %llu ms",
		    (unsigned long long)(usec / 1000));
	}
	sd->ev_status = event_new(base, -1, EV_PERSIST, systemd_status_cb, sd);
	if (sd->ev_status == NULL) {
		systemd_free(sd);
		return NULL;
	}
#else
	(void)base;
#endif
	return sd;
}

void
systemd_free(struct systemd *sd)
{
	if (sd == NULL)
		return;
	if (sd->ev_watchdog != NULL)
		event_free(sd->ev_watchdog);
	if (sd->ev_status != NULL)
		event_free(sd->ev_status);
	free(sd);
}

void
systemd_ready(struct systemd *sd)
{
#ifdef HAVE_SYSTEMD
	struct timeval tv = {SYSTEMD_STATUS_POLL_MS / 1000,
	    (SYSTEMD_STATUS_POLL_MS % 1000) * 1000};
	char line[SYSTEMD_STATUS_MAX];

	if (!sd->notify)
		return;
	systemd_current(sd, line, sizeof(line));
	if (sd_notifyf(0, "READY=1\nSTATUS=%s", line) > 0)
		memcpy(sd->sent, line, sizeof(sd->sent));
	if (!event_pending(sd->ev_status, EV_TIMEOUT, NULL))
		(void)event_add(sd->ev_status, &tv);
#else
	(void)sd;
#endif
}

void
systemd_reloading(struct systemd *sd)
{
#ifdef HAVE_SYSTEMD
	struct timespec ts;

	if (!sd->notify)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL);
#else
	(void)sd;
#endif
}

void
systemd_stopping(struct systemd *sd)
{
#ifdef HAVE_SYSTEMD
	char line[SYSTEMD_STATUS_MAX];

	if (!sd->notify)
		return;
	(void)sd_notify(0, "STOPPING=1");
	systemd_current(sd, line, sizeof(line));
	if (sd_notifyf(0, "STATUS=%s", line) > 0)
		memcpy(sd->sent, line, sizeof(sd->sent));
#else
	(void)sd;
#endif
}
