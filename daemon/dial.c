/* SPDX-License-Identifier: MIT */
/*
 * Outbound TCP/TLS connections (see dial.h). One deadline timer covers
 * the whole dial; each step runs from the loop: the first on a zero-delay
 * timer (so no result is reported from inside dial_start()), then the
 * evdns answer, the connect's EV_WRITE, and the TLS bufferevent's
 * CONNECTED, EOF or ERROR event. Every end goes through dial_finish(),
 * which releases what the dial still holds and makes the one callback.
 *
 * State machine (dial_set_state asserts each step):
 *   START -> [RESOLVING ->] CONNECTING -> [TLS ->] DONE
 * and any state may go straight to DONE (failure, deadline, dial_free).
 */
#include "config.h"

#include "dial.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tlsctx.h"

#define DIAL_TIMEOUT_MS 10000 /* default deadline */
#define DIAL_KA_IDLE_S	30    /* TCP keepalive: idle before probes */
#define DIAL_KA_INTVL_S 10    /* ... between probes */
#define DIAL_KA_CNT	3     /* ... unanswered probes before reset */
#define DIAL_BEV_OPTS	(BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)

enum dial_state {
	DIAL_S_START,	   /* created; the first step runs next turn */
	DIAL_S_RESOLVING,  /* evdns lookup under way */
	DIAL_S_CONNECTING, /* non-blocking connect to one address */
	DIAL_S_TLS,	   /* TLS handshake */
	DIAL_S_DONE,	   /* reported, failed or cancelled: holds nothing */
	DIAL_S__MAX
};

static const char *const dial_state_names[DIAL_S__MAX] = {
    "START",
    "RESOLVING",
    "CONNECTING",
    "TLS",
    "DONE",
};

#define DIAL_TO(s) (1u << (s))
/* Legal transitions: dial_transitions[from] has bit `to` set. */
static const unsigned dial_transitions[DIAL_S__MAX] = {
    [DIAL_S_START] = DIAL_TO(DIAL_S_RESOLVING) | DIAL_TO(DIAL_S_CONNECTING) |
	DIAL_TO(DIAL_S_DONE),
    [DIAL_S_RESOLVING] = DIAL_TO(DIAL_S_CONNECTING) | DIAL_TO(DIAL_S_DONE),
    [DIAL_S_CONNECTING] = DIAL_TO(DIAL_S_TLS) | DIAL_TO(DIAL_S_DONE),
    [DIAL_S_TLS] = DIAL_TO(DIAL_S_DONE),
    [DIAL_S_DONE] = 0,
};

static const char *const dial_outcome_names[DIAL_OUTCOME__MAX] = {
    [DIAL_OK] = "ok",
    [DIAL_RESOLVE] = "resolve",
    [DIAL_CONNECT] = "connect",
    [DIAL_TLS] = "tls",
    [DIAL_TIMEOUT] = "timeout",
    [DIAL_INTERNAL] = "internal",
};

struct dial {
	enum dial_state state;
	int resolving;	/* the evdns callback is still due */
	int in_lookup;	/* inside evdns_getaddrinfo() */
	int released;	/* dial_free() ran; the evdns callback frees */
	int dns_result; /* the lookup's EVUTIL_EAI_* code, 0 for success */

	struct event_base *base;  /* borrowed */
	struct evdns_base *dns;	  /* borrowed, may be NULL */
	const struct tlsctx *tls; /* borrowed, NULL for plain TCP */
	char *host;		  /* owned: name or address, no [] */
	char *tls_name;		  /* owned: SNI and certificate name */
	char port[6];		  /* decimal, for getaddrinfo */
	dial_done_cb done;	  /* cleared once DONE */
	void *arg;

	struct evutil_addrinfo *ai;	 /* owned: the addresses */
	struct evutil_addrinfo *ai_next; /* borrowed from ai: next to try */
	struct evdns_getaddrinfo_request *dns_req; /* pending lookup */
	int fd;			  /* owned while connecting, else -1 */
	int last_errno;		  /* last connect failure */
	struct event *ev_connect; /* owned: connect completion */
	struct bufferevent *bev;  /* owned during TLS (owns fd) */
	struct event *ev_start;	  /* owned: the first step */
	struct event *ev_timeout; /* owned: the deadline */
	long timeout_ms;
};

static void dial_connect_next(struct dial *d);

const char *
dial_outcome_name(enum dial_outcome outcome)
{
	if ((unsigned)outcome >= DIAL_OUTCOME__MAX)
		return "unknown";
	return dial_outcome_names[outcome];
}

/* Move to state `to`; illegal moves are bugs. */
static void
dial_set_state(struct dial *d, enum dial_state to)
{
	assert(dial_transitions[d->state] & DIAL_TO(to));
	log_debug("dial %p: %s -> %s", (void *)d, dial_state_names[d->state],
	    dial_state_names[to]);
	d->state = to;
}

/* Let go of every I/O source and resource but the handle itself. */
static void
dial_release(struct dial *d)
{
	/* The lookup callback still runs (EVUTIL_EAI_CANCEL); it frees. */
	if (d->dns_req != NULL) {
		evdns_getaddrinfo_cancel(d->dns_req);
		d->dns_req = NULL;
	}
	if (d->ev_connect != NULL) {
		event_free(d->ev_connect);
		d->ev_connect = NULL;
	}
	if (d->fd != -1) {
		(void)close(d->fd);
		d->fd = -1;
	}
	if (d->bev != NULL) {
		/* BEV_OPT_CLOSE_ON_FREE: closes the fd and frees the SSL. */
		bufferevent_free(d->bev);
		d->bev = NULL;
	}
	if (d->ai != NULL) {
		evutil_freeaddrinfo(d->ai);
		d->ai = NULL;
		d->ai_next = NULL;
	}
	if (d->ev_start != NULL)
		(void)evtimer_del(d->ev_start);
	if (d->ev_timeout != NULL)
		(void)evtimer_del(d->ev_timeout);
}

/* Free the handle; copes with a half-built one. */
static void
dial_free_now(struct dial *d)
{
	dial_release(d);
	if (d->ev_start != NULL)
		event_free(d->ev_start);
	if (d->ev_timeout != NULL)
		event_free(d->ev_timeout);
	free(d->host);
	free(d->tls_name);
	free(d);
}

/*
 * The one end: DONE, everything released, then the callback (the last
 * thing done with d, which the callee may free). bev is handed over on
 * DIAL_OK.
 */
static void dial_finish(struct dial *d, enum dial_outcome outcome, int error,
    struct bufferevent *bev, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
dial_finish(struct dial *d, enum dial_outcome outcome, int error,
    struct bufferevent *bev, const char *fmt, ...)
{
	struct dial_result res;
	char errmsg[256];
	dial_done_cb cb = d->done;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	dial_set_state(d, DIAL_S_DONE);
	dial_release(d);
	d->done = NULL;
	log_debug("dial %p: %s%s%s", (void *)d, dial_outcome_name(outcome),
	    *errmsg != '\0' ? ": " : "", errmsg);
	res.outcome = outcome;
	res.error = error;
	res.errmsg = errmsg;
	res.bev = bev;
	cb(d, &res, d->arg);
}

int
dial_bev_end(struct bufferevent *bev, short what, char *buf, size_t len)
{
	int err = EVUTIL_SOCKET_ERROR(), dirty_eof = 0;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e, first = 0;
	char ssl_err[160];
	long vr;

	while (ssl != NULL && (e = bufferevent_get_openssl_error(bev)) != 0) {
		if (first == 0)
			first = e;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			dirty_eof = 1;
#endif
	}
	if (!(what & BEV_EVENT_ERROR) || dirty_eof) {
		(void)snprintf(buf, len, "connection closed by the server%s",
		    dirty_eof ? " (no TLS close_notify)" : "");
		return 0;
	}
	if (first != 0) {
		ERR_error_string_n(first, ssl_err, sizeof(ssl_err));
		vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK)
			(void)snprintf(buf, len,
			    "TLS: certificate verify failed: %s",
			    X509_verify_cert_error_string(vr));
		else
			(void)snprintf(buf, len, "TLS: %s", ssl_err);
	} else
		(void)snprintf(buf, len, "%s",
		    err != 0 ? strerror(err) : "connection error");
	return 1;
}

void
dial_close_notify(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL)
		return;
	/* One non-blocking close_notify; the output buffer is empty. */
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* Hand a connected bufferevent over: no callbacks of ours, I/O off. */
static void
dial_succeed(struct dial *d, struct bufferevent *bev)
{
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	(void)bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (d->bev == bev)
		d->bev = NULL; /* not ours to free any more */
	dial_finish(d, DIAL_OK, 0, bev, "%s", "");
}

/* TLS: the handshake finished, one way or the other. */
static void
dial_tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dial *d = arg;
	char why[200];

	if (what & BEV_EVENT_CONNECTED) {
		dial_succeed(d, bev);
		return;
	}
	(void)dial_bev_end(bev, what, why, sizeof(why));
	dial_finish(d, DIAL_TLS, 0, NULL, "TLS handshake with %s failed: %s",
	    d->host, why);
}

/* TCP is up: hand it over, or start TLS on it. */
static void
dial_tcp_connected(struct dial *d, int fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (d->tls == NULL) {
		if ((bev = bufferevent_socket_new(
			 d->base, fd, DIAL_BEV_OPTS)) == NULL) {
			(void)close(fd);
			dial_finish(d, DIAL_INTERNAL, 0, NULL, "out of memory");
			return;
		}
		dial_succeed(d, bev);
		return;
	}
	if ((ssl = tlsctx_new_ssl(d->tls, d->tls_name)) == NULL) {
		(void)close(fd);
		ERR_clear_error();
		dial_finish(d, DIAL_INTERNAL, 0, NULL,
		    "cannot set up TLS for %s", d->tls_name);
		return;
	}
	/* On failure libevent frees ssl (CLOSE_ON_FREE), not fd. */
	d->bev = bufferevent_openssl_socket_new(
	    d->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, DIAL_BEV_OPTS);
	if (d->bev == NULL) {
		(void)close(fd);
		dial_finish(d, DIAL_INTERNAL, 0, NULL, "out of memory");
		return;
	}
	/* The Wrenn server may end without close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(d->bev, 1);
	bufferevent_setcb(d->bev, NULL, NULL, dial_tls_event_cb, d);
	dial_set_state(d, DIAL_S_TLS);
	if (bufferevent_enable(d->bev, EV_READ | EV_WRITE) == -1)
		dial_finish(d, DIAL_INTERNAL, 0, NULL, "bufferevent_enable");
}

/* The non-blocking connect finished, one way or the other. */
static void
dial_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	event_free(d->ev_connect);
	d->ev_connect = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		(void)close(d->fd);
		d->fd = -1;
		d->last_errno = err;
		dial_connect_next(d);
		return;
	}
	d->fd = -1;
	dial_tcp_connected(d, fd);
}

/*
 * TCP keepalive, so the kernel notices a dead peer or path even when the
 * connection is idle; TCP_NODELAY, since the daemon writes whole messages.
 * Best effort: a failure leaves the owner's own timeouts as the guard.
 */
static void
dial_sockopts(int fd)
{
	int one = 1, idle = DIAL_KA_IDLE_S, intvl = DIAL_KA_INTVL_S,
	    cnt = DIAL_KA_CNT;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Try the addresses in order until one connect is under way. */
static void
dial_connect_next(struct dial *d)
{
	struct evutil_addrinfo *ai;
	int fd, err;

	while ((ai = d->ai_next) != NULL) {
		d->ai_next = ai->ai_next;
		fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd == -1) {
			d->last_errno = errno;
			continue;
		}
		dial_sockopts(fd);
		if (connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == 0) {
			dial_tcp_connected(d, fd);
			return;
		}
		if (errno == EINPROGRESS) {
			d->fd = fd;
			d->ev_connect = event_new(
			    d->base, fd, EV_WRITE, dial_connect_cb, d);
			if (d->ev_connect == NULL ||
			    event_add(d->ev_connect, NULL) == -1)
				dial_finish(d, DIAL_INTERNAL, 0, NULL,
				    "cannot watch the connect");
			return;
		}
		d->last_errno = errno;
		(void)close(fd);
	}
	err = d->last_errno != 0 ? d->last_errno : EHOSTUNREACH;
	dial_finish(d, DIAL_CONNECT, err, NULL,
	    "connect to %s port %s failed: %s", d->host, d->port,
	    strerror(err));
}

/* The lookup's answer is in: connect, or report the failure. */
static void
dial_resolved(struct dial *d)
{
	if (d->dns_result != 0) {
		dial_finish(d, DIAL_RESOLVE, 0, NULL, "cannot resolve %s: %s",
		    d->host, evutil_gai_strerror(d->dns_result));
		return;
	}
	d->ai_next = d->ai;
	dial_set_state(d, DIAL_S_CONNECTING);
	dial_connect_next(d);
}

/* evdns answered, from the loop or from inside evdns_getaddrinfo. */
static void
dial_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dial *d = arg;

	d->dns_req = NULL;
	d->resolving = 0;
	if (d->state != DIAL_S_RESOLVING) {
		/* Cancelled (EVUTIL_EAI_CANCEL): finish freeing. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		if (d->released)
			dial_free_now(d);
		return;
	}
	d->dns_result = result;
	if (result == 0)
		d->ai = res;
	else if (res != NULL)
		evutil_freeaddrinfo(res);
	/* Inside evdns_getaddrinfo: dial_start_cb goes on once it returns. */
	if (!d->in_lookup)
		dial_resolved(d);
}

/* First loop turn: connect to a numeric host, or look the name up. */
static void
dial_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	(void)fd;
	(void)what;
	if (d->ai != NULL) {
		d->ai_next = d->ai;
		dial_set_state(d, DIAL_S_CONNECTING);
		dial_connect_next(d);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	dial_set_state(d, DIAL_S_RESOLVING);
	d->resolving = 1;
	d->in_lookup = 1;
	req =
	    evdns_getaddrinfo(d->dns, d->host, d->port, &hints, dial_dns_cb, d);
	d->in_lookup = 0;
	if (d->resolving)
		d->dns_req = req;
	else /* answered at once (hosts file, errors); NULL returned */
		dial_resolved(d);
}

/* The deadline passed: say which step it caught. */
static void
dial_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	if (d->state == DIAL_S_TLS)
		dial_finish(d, DIAL_TIMEOUT, 0, NULL,
		    "TLS handshake with %s timed out", d->host);
	else if (d->state == DIAL_S_CONNECTING)
		dial_finish(d, DIAL_TIMEOUT, 0, NULL,
		    "connect to %s port %s timed out", d->host, d->port);
	else
		dial_finish(d, DIAL_TIMEOUT, 0, NULL, "looking up %s timed out",
		    d->host);
}

/* Numeric hosts are resolved here (AI_NUMERICHOST never blocks). */
static int
dial_numeric(struct dial *d)
{
	struct evutil_addrinfo hints;
	char addr[sizeof(struct in6_addr)];

	if (evutil_inet_pton(AF_INET, d->host, addr) != 1 &&
	    evutil_inet_pton(AF_INET6, d->host, addr) != 1)
		return d->dns != NULL ? 0 : -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(d->host, d->port, &hints, &d->ai) != 0)
		return -EINVAL;
	return 0;
}

int
dial_start(
    struct event_base *base, const struct dial_opts *opts, struct dial **ret)
{
	struct timeval tv = {0, 0};
	struct dial *d;
	int r;

	if (base == NULL || opts == NULL || opts->host == NULL ||
	    opts->host[0] == '\0' || opts->port == 0 || opts->port > 65535 ||
	    opts->done == NULL || ret == NULL)
		return -EINVAL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->state = DIAL_S_START;
	d->fd = -1;
	d->base = base;
	d->dns = opts->dns;
	d->tls = opts->tls;
	d->done = opts->done;
	d->arg = opts->arg;
	d->timeout_ms =
	    opts->timeout_ms > 0 ? opts->timeout_ms : DIAL_TIMEOUT_MS;
	(void)snprintf(d->port, sizeof(d->port), "%u", opts->port);
	r = -ENOMEM;
	if ((d->host = strdup(opts->host)) == NULL ||
	    (d->tls_name = strdup(
		 opts->tls_name != NULL ? opts->tls_name : opts->host)) == NULL)
		goto fail;
	if ((r = dial_numeric(d)) < 0)
		goto fail;
	r = -ENOMEM;
	d->ev_start = evtimer_new(base, dial_start_cb, d);
	d->ev_timeout = evtimer_new(base, dial_timeout_cb, d);
	if (d->ev_start == NULL || d->ev_timeout == NULL ||
	    evtimer_add(d->ev_start, &tv) == -1)
		goto fail;
	tv.tv_sec = d->timeout_ms / 1000;
	tv.tv_usec = (d->timeout_ms % 1000) * 1000;
	if (evtimer_add(d->ev_timeout, &tv) == -1)
		goto fail;
	log_debug("dial %p: %s port %s%s", (void *)d, d->host, d->port,
	    d->tls != NULL ? " (TLS)" : "");
	*ret = d;
	return 0;
fail:
	dial_free_now(d);
	return r;
}

void
dial_free(struct dial *d)
{
	if (d == NULL)
		return;
	d->done = NULL;
	if (d->state != DIAL_S_DONE)
		dial_set_state(d, DIAL_S_DONE);
	dial_release(d);
	if (d->resolving)
		d->released = 1; /* dial_dns_cb frees */
	else
		dial_free_now(d);
}
