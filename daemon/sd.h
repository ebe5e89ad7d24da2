/* SPDX-License-Identifier: MIT */
/*
 * systemd integration behind plain functions: socket activation, readiness
 * and status notifications, the watchdog period. Every function is a no-op
 * (or reports "nothing passed") when built without libsystemd.
 */
#ifndef WRENND_SD_H
#define WRENND_SD_H

#include <stdint.h>

/*
 * Number of sockets passed by socket activation (starting at fd 3), 0 when
 * none, -errno on a malformed environment. Clears LISTEN_* from the
 * environment.
 */
int sd_listen_count(void);

/* Whether fd is a listening AF_UNIX stream socket. */
int sd_is_unix_listener(int fd);

/* sd_notify wrappers; all are no-ops outside systemd. */
void sd_ready(const char *status);
void sd_status(const char *status);
void sd_reloading(void);
void sd_stopping(void);
void sd_watchdog_ping(void);
/* Watchdog period in microseconds, 0 when disabled. */
uint64_t sd_watchdog_usec(void);

#endif /* WRENND_SD_H */
