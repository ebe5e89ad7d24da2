/* SPDX-License-Identifier: MIT */
/*
 * Outbound connections: a connected, optionally TLS-verified bufferevent
 * to host:port within a deadline, or an error with a clear reason. Looks
 * the host up with evdns (numeric hosts need no resolver), connects
 * without blocking to each address in turn until one answers, turns on
 * TCP keepalive (a probe after 30 s of silence, then every 10 s, reset
 * after 3 unanswered) and TCP_NODELAY, and for TLS runs the handshake with an
 * SSL from tlsctx.c (the daemon's one verification policy, host name checked).
 * Runs on the caller's event_base; never blocks and never logs above debug.
 * Owns, until it hands them over: the addresses, the socket and the
 * bufferevent. Called by ws.c; meant for every raw TCP or TLS client of
 * the daemon (such as a port forwarder to the control plane's proxy).
 *
 * Lifecycle: dial_start() returns a handle owned by the caller; the result
 * arrives exactly once through the done callback, from the event loop,
 * never from inside dial_start(), unless the caller frees the handle
 * first, after which no callback is made. dial_free() is safe inside the
 * callback.
 */
#ifndef WRENND_DIAL_H
#define WRENND_DIAL_H

#include <stddef.h>

struct bufferevent;
struct dial;
struct event_base;
struct evdns_base;
struct tlsctx;

/* How a dial ended. Numbers are stable; add new ones at the end. */
enum dial_outcome {
	DIAL_OK,       /* connected (and TLS verified) */
	DIAL_RESOLVE,  /* the host name did not resolve */
	DIAL_CONNECT,  /* no address accepted the connection */
	DIAL_TLS,      /* the TLS handshake or verification failed */
	DIAL_TIMEOUT,  /* the deadline passed */
	DIAL_INTERNAL, /* out of memory or a library failure */
	DIAL_OUTCOME__MAX
};

/* Passed to the done callback; valid until it returns. */
struct dial_result {
	enum dial_outcome outcome;
	int error;		 /* DIAL_CONNECT: errno of the last address
				  * tried; otherwise 0 */
	const char *errmsg;	 /* "" for DIAL_OK, else a short sentence that
				  * names the host (and port); borrowed */
	struct bufferevent *bev; /* DIAL_OK: the connection, owned by the
				  * callee from now on (freeing it closes
				  * the socket); created with
				  * BEV_OPT_CLOSE_ON_FREE and
				  * BEV_OPT_DEFER_CALLBACKS, no callbacks
				  * set, reading and writing disabled;
				  * otherwise NULL */
};

typedef void (*dial_done_cb)(
    struct dial *d, const struct dial_result *res, void *arg);

struct dial_opts {
	const char *host;	  /* a name, or an IPv4/IPv6 literal without
				   * []; borrowed for the call */
	unsigned port;		  /* 1..65535 */
	const struct tlsctx *tls; /* non-NULL: TLS, verified for host (or
				   * tls_name); borrowed, must outlive the
				   * dial */
	const char *tls_name;	  /* TLS: the name sent (SNI) and checked
				   * in the certificate instead of host,
				   * when the address dialled is not the
				   * name served (a proxy reached through
				   * the base URL's address); NULL: host;
				   * borrowed for the call */
	struct evdns_base *dns;	  /* resolver for host names; NULL allows
				   * numeric hosts only; borrowed, must
				   * outlive the dial */
	long timeout_ms;	  /* lookup + connect + TLS; 0: 10000 */
	dial_done_cb done;	  /* required */
	void *arg;		  /* passed to done */
};

/*
 * Start dialling. On success *ret is a handle owned by the caller (free it
 * with dial_free()) and the result comes through opts->done. Returns
 * -EINVAL for a missing host or callback, port 0 or over 65535, or a host
 * name without opts->dns; -ENOMEM. *ret is untouched on failure.
 */
int dial_start(
    struct event_base *base, const struct dial_opts *opts, struct dial **ret);

/*
 * Cancel if still under way (no callback is made once this returns) and
 * free. Leaves no event and no descriptor behind; a pending lookup is
 * cancelled and its memory released when evdns reports the cancellation
 * from the loop, so keep the base running. Safe inside the callback.
 * NULL is a no-op.
 */
void dial_free(struct dial *d);

/* A stable lower-case name for an outcome ("connect", "tls", ...). */
const char *dial_outcome_name(enum dial_outcome outcome);

/*
 * For a bufferevent from a dial whose event callback got BEV_EVENT_EOF or
 * BEV_EVENT_ERROR in what (call it first there: it reads the socket
 * errno): write what ended the connection to buf, a TLS verification
 * failure or OpenSSL reason (draining the bufferevent's OpenSSL errors),
 * else the errno text, or "connection closed by the server". Returns 1 for
 * an error, 0 for an end of stream, which includes a TCP EOF without TLS
 * close_notify (OpenSSL 3 reports that as an error).
 */
int dial_bev_end(struct bufferevent *bev, short what, char *buf, size_t len);

/*
 * Send one TLS close_notify without waiting (call once the output buffer
 * is empty, before freeing the bufferevent); nothing for plain TCP.
 */
void dial_close_notify(struct bufferevent *bev);

#endif /* WRENND_DIAL_H */
