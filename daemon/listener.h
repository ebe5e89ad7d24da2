/* SPDX-License-Identifier: MIT */
/*
 * The listening socket(s): bound by wrennd or passed by systemd socket
 * activation. Accepts connections, records the peer's credentials
 * (SO_PEERCRED), enforces the client cap, pauses for a second when out of
 * file descriptors, and hands each connection to client.c.
 */
#ifndef WRENND_LISTENER_H
#define WRENND_LISTENER_H

struct wrennd;
struct listener;

/* Bind or adopt the sockets. NULL on failure (logged). */
struct listener *listener_new(struct wrennd *wd);
/* Stop accepting, close our sockets, unlink a path we bound. */
void listener_free(struct listener *l);
/* Path of the socket (borrowed), or "(socket activation)". */
const char *listener_path(const struct listener *l);

#endif /* WRENND_LISTENER_H */
