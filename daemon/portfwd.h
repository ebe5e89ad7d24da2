/* SPDX-License-Identifier: MIT */
/*
 * Port forwards (sandbox.port_forward, port_forwards.list/close): a local
 * listener (loopback TCP or a Unix socket) whose every connection is
 * forwarded to one port of one sandbox through the control plane's
 * sandbox proxy, so local programs reach it without holding the API key.
 * Requests are parsed with http.c (heads and framing, both directions),
 * Host is rewritten to the proxy's name, client X-API-Key and
 * Authorization fields are dropped and wrennd's X-API-Key added where the
 * proxy takes one (172413e; v0.1.5 takes none, rest_proxy_auth); after a
 * 101 the connection is copied byte for byte. Owns its forwards, their
 * listeners and connections. Called by methods.c (rows), rpc.c (a client
 * gone ends its "connection" leases), api-sandbox.c (a destroyed sandbox
 * ends its forwards) and wrennd.c (set up, free).
 */
#ifndef WRENND_PORTFWD_H
#define WRENND_PORTFWD_H

#include <stddef.h>
#include <stdint.h>

struct http;
struct portfwd_set;
struct wrennd;

/* struct wrennd's portfwds: NULL on OOM. */
struct portfwd_set *portfwd_set_new(void);
/* Close every forward of wd (listeners, connections); at exit. */
void portfwd_close_all(struct wrennd *wd);
/* Free the (empty) set; NULL is a no-op. */
void portfwd_set_free(struct portfwd_set *s);

/* The client with this id disconnected: end the forwards it leased. */
void portfwd_client_gone(struct wrennd *wd, uint64_t client_id);
/* The sandbox is gone (destroyed through wrennd): end its forwards, their
 * listeners and connections. */
void portfwd_sandbox_gone(struct wrennd *wd, const char *sandbox_id);

/*
 * The request head to send to the proxy for the parsed request head
 * req: its method, origin-form target and version, Host: host, every field but
 * Host, X-API-Key and Authorization in order, then keyline (a field
 * line, NULL for none). Returns 0 with *ret (owned, to be wiped: it holds
 * keyline) and *retlen; -EINVAL when the target is not origin-form
 * ("/..."), -ENOMEM.
 */
int portfwd_rewrite(const struct http *req, const char *host,
    const char *keyline, char **ret, size_t *retlen);

#endif /* WRENND_PORTFWD_H */
