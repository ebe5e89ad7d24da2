/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets, control and (optionally) tool: bound by wrennd or
 * passed by systemd socket activation (LISTEN_FDNAMES "control", "tool").
 * Accepts connections, records the peer's credentials (SO_PEERCRED,
 * SO_PEERGROUPS), decides its role or refuses it, enforces the client cap,
 * pauses for a second when out of file descriptors, and hands each connection
 * to client.c.
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
/* Path of the control socket (borrowed), or "(socket activation)". */
const char *listener_path(const struct listener *l);
/* Path of the tool socket, "(socket activation)", or NULL for none. */
const char *listener_tool_path(const struct listener *l);

#endif /* WRENND_LISTENER_H */
