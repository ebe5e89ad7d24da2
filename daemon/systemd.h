/* SPDX-License-Identifier: MIT */
/*
 * systemd integration behind plain functions: socket activation, the
 * sd_notify(3) protocol (READY, STATUS, RELOADING, STOPPING) and the
 * watchdog. Every function is a no-op (or reports "nothing passed") when
 * built without libsystemd or started without NOTIFY_SOCKET.
 */
#ifndef WRENND_SYSTEMD_H
#define WRENND_SYSTEMD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/*
 * Number of sockets passed by socket activation (starting at fd 3), 0 when
 * none, -errno on a malformed environment. Clears LISTEN_* from the
 * environment.
 */
int systemd_listen_count(void);

/*
 * As systemd_listen_count, and *names gets the sockets' names from
 * LISTEN_FDNAMES (FileDescriptorName=; "unknown" when not named), a
 * NULL-terminated array to free with systemd_names_free, or NULL when the
 * count is not positive.
 */
int systemd_listen_names(char ***names);
void systemd_names_free(char **names);

/* Whether fd is a listening AF_UNIX stream socket. */
int systemd_is_unix_listener(int fd);

/* What the one-line STATUS= says; filled by the program on demand. */
struct systemd_status {
	const char *auth; /* static: "api_key", "jwt", "api_key+jwt", "none" */
	int reachable;	  /* upstream: 1 yes, 0 no, -1 not known yet */
	unsigned clients;
	unsigned sandboxes; /* sandboxes wrennd tracks as created by a peer */
	unsigned streams;
	unsigned leases;
	int draining; /* SIGTERM received: the line starts "draining, " */
};

typedef void (*systemd_status_fn)(void *arg, struct systemd_status *st);

/*
 * The notifier: the watchdog (WATCHDOG=1 at half of WATCHDOG_USEC, from a
 * timer on base, so a stuck loop stops the pings) and, once ready, STATUS=
 * re-sent when the line changes (looked at once a second). fill is called
 * whenever a line is needed. NULL on OOM.
 */
struct systemd *systemd_new(
    struct event_base *base, systemd_status_fn fill, void *arg);
void systemd_free(struct systemd *sd);

/* READY=1 with the current STATUS= (at start and after a reload). */
void systemd_ready(struct systemd *sd);
/* RELOADING=1 with MONOTONIC_USEC= now (before a reload). */
void systemd_reloading(struct systemd *sd);
/* STOPPING=1 (at the start of shutdown), then STATUS= with the line
 * (which says draining once the fill function says so). */
void systemd_stopping(struct systemd *sd);

/* The STATUS= text of st (pure; for the log and the tests). */
void systemd_status_line(
    const struct systemd_status *st, char *buf, size_t len);

#endif /* WRENND_SYSTEMD_H */
