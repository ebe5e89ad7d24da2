/* SPDX-License-Identifier: MIT */
/*
 * The listening socket(s): bound by wrennd or passed by systemd socket
 * activation. Accepts connections, records the peer's credentials
 * (SO_PEERCRED), enforces the client cap, pauses for a second when out of
 * file descriptors, and hands each connection to client.c.
 */
#ifndef WRENND_LISTENER_H
#define WRENND_LISTENER_H

struct conf;
struct wrennd;
struct listener;

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (systemd starts services
 * at 1024) and warn when the result is below what cfg's client and fd
 * caps may take. Call once at start-up, before the sockets are opened.
 */
void listener_raise_nofile(const struct conf *cfg);
/* Bind or adopt the sockets. NULL on failure (logged). */
struct listener *listener_new(struct wrennd *wd);
/* Stop accepting, close our sockets, unlink a path we bound. */
void listener_free(struct listener *l);
/* Path of the socket (borrowed), or "(socket activation)". */
const char *listener_path(const struct listener *l);

#endif /* WRENND_LISTENER_H */
