/* SPDX-License-Identifier: MIT */
/*
 * systemd integration behind plain functions: socket activation, readiness
 * and status notifications. Every function is a no-op
 * (or reports "nothing passed") when built without libsystemd.
 */
#ifndef WRENND_SYSTEMD_H
#define WRENND_SYSTEMD_H

#include <stdint.h>

/*
 * Number of sockets passed by socket activation (starting at fd 3), 0 when
 * none, -errno on a malformed environment. Clears LISTEN_* from the
 * environment.
 */
int systemd_listen_count(void);

/* Whether fd is a listening AF_UNIX stream socket. */
int systemd_is_unix_listener(int fd);

/* sd_notify(3) wrappers; all are no-ops outside systemd. */
void systemd_ready(const char *status);
void systemd_reloading(void);
void systemd_stopping(void);

#endif /* WRENND_SYSTEMD_H */
