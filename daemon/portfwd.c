/* SPDX-License-Identifier: MIT */
/*
 * Port forwards (see portfwd.h). One forward is a listening socket; each
 * connection accepted on it dials the base URL's host and port (dial.c,
 * TLS named and verified as the proxy host) and then, in state HTTP,
 * parses every request head from the local client (http.c), sends the
 * rewritten head and the body bytes as they are (the parser only says
 * where the body ends), and parses every answer head and body the same
 * way to know where each answer ends (keep-alive, pipelining, answers to
 * HEAD). An answer 101 to a request that asked for an Upgrade switches
 * the connection to TUNNEL: bytes copied both ways, a half-close passed
 * on. Backpressure: a side is read only while the other side's output
 * holds less than PORTFWD_HIGH bytes. An answer in the proxy's words for
 * a gone sandbox starts one read of the sandbox's record; a record gone
 * or terminal ends the forward, each connection first writing what it
 * has queued (the forward waits on the draining list).
 */
#include "config.h"

#include "portfwd.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "api.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "dial.h"
#include "http.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "url.h"
#include "wrennd.h"

#define PORTFWD_HIGH	 (256 * 1024) /* bytes queued one way */
#define PORTFWD_PIPELINE 32	      /* requests awaiting their answers */
#define PORTFWD_KEYLINE	 1024	      /* the X-API-Key field line */
#define PORTFWD_GONE_MAX 128	      /* body bytes of a "gone" answer */

#define PORTFWD_P_HEAD	  0x1 /* the request was HEAD */
#define PORTFWD_P_UPGRADE 0x2 /* the request asked for an Upgrade */

enum portfwd_state {
	PORTFWD_C_DIALING, /* connecting to the proxy */
	PORTFWD_C_HTTP,	   /* requests and answers parsed */
	PORTFWD_C_TUNNEL,  /* after a 101: bytes both ways */
	PORTFWD_C_CLOSING, /* flushing what is queued, then freed */
	PORTFWD_C__MAX
};

static const char *const portfwd_state_names[PORTFWD_C__MAX] = {
    [PORTFWD_C_DIALING] = "dialing",
    [PORTFWD_C_HTTP] = "http",
    [PORTFWD_C_TUNNEL] = "tunnel",
    [PORTFWD_C_CLOSING] = "closing",
};

#define PORTFWD_TO(s) (1u << (s))
/* Legal transitions: portfwd_transitions[from] has bit `to` set. */
static const unsigned portfwd_transitions[PORTFWD_C__MAX] = {
    [PORTFWD_C_DIALING] =
	PORTFWD_TO(PORTFWD_C_HTTP) | PORTFWD_TO(PORTFWD_C_CLOSING),
    [PORTFWD_C_HTTP] =
	PORTFWD_TO(PORTFWD_C_TUNNEL) | PORTFWD_TO(PORTFWD_C_CLOSING),
    [PORTFWD_C_TUNNEL] = PORTFWD_TO(PORTFWD_C_CLOSING),
};

struct portfwd;

struct portfwd_conn {
	TAILQ_ENTRY(portfwd_conn) entry;
	struct portfwd *pf; /* borrowed owner */
	enum portfwd_state state;
	struct bufferevent *down; /* owned: the local client */
	struct bufferevent *up;	  /* owned: the proxy */
	struct dial *dial;	  /* owned while dialing */
	struct http *req;	  /* owned: the request being read */
	struct http *resp;	  /* owned: the answer being read */
	unsigned char pend[PORTFWD_PIPELINE]; /* PORTFWD_P_* per request */
	unsigned phead, npend;
	int wait_upgrade; /* an Upgrade request awaits its answer */
	int down_eof, up_eof;
	int down_shut, up_shut; /* write side shut (half-close passed) */
	struct event *idle;	/* owned: the idle timer */
	struct timeval last;	/* last traffic */
	int maybe_gone;		/* the answer may be the proxy's "gone" */
	char gone_body[PORTFWD_GONE_MAX]; /* that answer's body so far */
	size_t gone_len;
};

TAILQ_HEAD(portfwd_conn_list, portfwd_conn);

struct portfwd {
	TAILQ_ENTRY(portfwd) entry;
	struct wrennd *wd; /* borrowed */
	char id[32];	   /* "pf-N" */
	char *sandbox_id;  /* owned */
	unsigned port;
	char *address;	    /* owned: what the result says */
	char *unix_path;    /* owned: a socket we bound, else NULL */
	char *host;	    /* owned: the Host of forwarded requests */
	char *tls_name;	    /* owned: the proxy name without port */
	char *dial_host;    /* owned: the base URL's host */
	unsigned dial_port; /* the base URL's port */
	int tls;	    /* the base URL is https */
	int fd;		    /* owned: the listening socket */
	struct event *ev;   /* owned: accepting */
	uint64_t lease;	    /* the owning client's id, 0: no lease */
	uint64_t creator;   /* the creating client's id (ownership: issue 9) */
	enum upstream_auth auth;   /* the creating call's credential */
	struct upstream_req *gone; /* owned: a read of the sandbox's record */
	int draining;	/* closed, its connections flushing their output */
	time_t created; /* wall clock, for created_at */
	unsigned nconns;
	uint64_t bytes_in, bytes_out;
	struct portfwd_conn_list conns;
};

TAILQ_HEAD(portfwd_list, portfwd);

struct portfwd_set {
	struct portfwd_list list;
	struct portfwd_list draining; /* closed, connections still flushing */
	unsigned n;
	uint64_t next;
};

static void portfwd_conn_free(struct portfwd_conn *c);
static void portfwd_free(struct portfwd *pf);
static void portfwd_gone_check(struct portfwd *pf);
static void portfwd_pump_down(struct portfwd_conn *c);
static void portfwd_pump_up(struct portfwd_conn *c);

struct portfwd_set *
portfwd_set_new(void)
{
	struct portfwd_set *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	TAILQ_INIT(&s->list);
	TAILQ_INIT(&s->draining);
	s->next = 1;
	return s;
}

void
portfwd_set_free(struct portfwd_set *s)
{
	free(s);
}

/* Whether name is one of the credential fields a client may not send. */
static int
portfwd_dropped_field(const char *name)
{
	return strcasecmp(name, "Host") == 0 ||
	    strcasecmp(name, "X-API-Key") == 0 ||
	    strcasecmp(name, "Authorization") == 0;
}

int
portfwd_rewrite(const struct http *req, const char *host, const char *keyline,
    char **ret, size_t *retlen)
{
	struct http_request rq;
	const char *target = http_target(req), *name, *value, *q;
	size_t i, n = http_header_count(req), k = 0;
	char **fields, *path;
	int r = -ENOMEM;

	if (target == NULL || target[0] != '/')
		return -EINVAL;
	if ((fields = calloc(n + 2, sizeof(*fields))) == NULL)
		return -ENOMEM;
	q = strchr(target, '?');
	if ((path = strndup(target,
		 q != NULL ? (size_t)(q - target) : strlen(target))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		http_header_at(req, i, &name, &value);
		if (portfwd_dropped_field(name))
			continue;
		if (asprintf(&fields[k], "%s: %s", name, value) == -1) {
			fields[k] = NULL;
			goto out;
		}
		k++;
	}
	fields[k] = (char *)keyline;
	memset(&rq, 0, sizeof(rq));
	rq.method = http_method(req);
	rq.path = path;
	rq.query = q != NULL ? q + 1 : NULL;
	rq.host = host;
	rq.fields = (const char *const *)fields;
	/* A 1.0 client's request goes as 1.0, so the answer is one it reads:
	 * not chunked, the connection closed after it unless kept alive. */
	rq.http10 = http_minor(req) == 0;
	r = http_request_build(&rq, ret, retlen);
out:
	for (i = 0; i < k; i++)
		free(fields[i]);
	free(fields);
	free(path);
	return r;
}

/* The one writer of c->state: asserts the move, traces it. */
static void
portfwd_set_state(struct portfwd_conn *c, enum portfwd_state to)
{
	assert(portfwd_transitions[c->state] & PORTFWD_TO(to));
	log_debug("portfwd %s conn %p: %s -> %s", c->pf->id, (void *)c,
	    portfwd_state_names[c->state], portfwd_state_names[to]);
	c->state = to;
}

static void
portfwd_conn_touch(struct portfwd_conn *c)
{
	(void)event_base_gettimeofday_cached(c->pf->wd->base, &c->last);
}

/* Queued bytes both ways written: the connection ends. */
static int
portfwd_conn_flushed(const struct portfwd_conn *c)
{
	return (c->down == NULL ||
		   evbuffer_get_length(bufferevent_get_output(c->down)) == 0) &&
	    (c->up == NULL ||
		evbuffer_get_length(bufferevent_get_output(c->up)) == 0);
}

/* Stop reading both sides, write what is queued, then free. */
static void
portfwd_conn_finish(struct portfwd_conn *c)
{
	if (c->state != PORTFWD_C_CLOSING)
		portfwd_set_state(c, PORTFWD_C_CLOSING);
	if (c->down != NULL) {
		bufferevent_disable(c->down, EV_READ);
		bufferevent_setwatermark(c->down, EV_WRITE, 0, 0);
	}
	if (c->up != NULL) {
		bufferevent_disable(c->up, EV_READ);
		bufferevent_setwatermark(c->up, EV_WRITE, 0, 0);
	}
	if (portfwd_conn_flushed(c))
		portfwd_conn_free(c);
}

/* Answer the local client with a short text error, then end. */
static void __attribute__((format(printf, 3, 4))) portfwd_conn_answer(
    struct portfwd_conn *c, const char *status, const char *fmt, ...)
{
	char body[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	evbuffer_add_printf(bufferevent_get_output(c->down),
	    "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%.*s",
	    status, n + 1, n, body);
	evbuffer_add(bufferevent_get_output(c->down), "\n", 1);
	portfwd_conn_finish(c);
}

static void
portfwd_wipe_cleanup(const void *data, size_t len, void *arg)
{
	creds_wipe((void *)data, len);
	free((void *)data);
}

/* Send the rewritten head of the request c->req. 0 or -1 (answered). */
static int
portfwd_send_head(struct portfwd_conn *c)
{
	struct portfwd *pf = c->pf;
	char key[PORTFWD_KEYLINE], *head = NULL;
	size_t len;
	/* The v0.1.5 proxy takes no key: none is sent to the app there. */
	int keyed = rest_proxy_auth(pf->wd) == UPSTREAM_AUTH_APIKEY, r;

	if (keyed &&
	    creds_header(pf->wd->creds, CREDS_APIKEY, key, sizeof(key)) < 0) {
		creds_wipe(key, sizeof(key));
		portfwd_conn_answer(c, "503 Service Unavailable",
		    "wrennd has no API key: the 172413e control plane's "
		    "sandbox proxy needs one");
		return -1;
	}
	r = portfwd_rewrite(c->req, pf->host, keyed ? key : NULL, &head, &len);
	creds_wipe(key, sizeof(key));
	if (r == -EINVAL) {
		portfwd_conn_answer(c, "400 Bad Request",
		    "wrennd forwards origin-form request targets only "
		    "(\"/path\")");
		return -1;
	}
	if (r < 0 ||
	    evbuffer_add_reference(bufferevent_get_output(c->up), head, len,
		portfwd_wipe_cleanup, NULL) != 0) {
		if (head != NULL) {
			creds_wipe(head, len);
			free(head);
		}
		portfwd_conn_answer(
		    c, "500 Internal Server Error", "wrennd: out of memory");
		return -1;
	}
	pf->bytes_out += len;
	return 0;
}

/* A request head is complete: check it, queue its answer slot, send. */
static int
portfwd_request_head(struct portfwd_conn *c)
{
	const char *method = http_method(c->req);
	unsigned char flags = 0;

	if (strcmp(method, "CONNECT") == 0) {
		portfwd_conn_answer(c, "405 Method Not Allowed",
		    "wrennd does not forward CONNECT");
		return -1;
	}
	if (strcmp(method, "HEAD") == 0)
		flags |= PORTFWD_P_HEAD;
	if (http_header(c->req, "Upgrade") != NULL &&
	    http_header_has_token(c->req, "Connection", "upgrade"))
		flags |= PORTFWD_P_UPGRADE;
	if (portfwd_send_head(c) != 0)
		return -1;
	c->pend[(c->phead + c->npend) % PORTFWD_PIPELINE] = flags;
	c->npend++;
	if (flags & PORTFWD_P_UPGRADE)
		c->wait_upgrade = 1;
	return 0;
}

/* After a head: whether its message is complete (no body, or empty). */
static int
portfwd_no_more_body(struct http *h)
{
	int done;

	return http_body_feed(h, "", 0, NULL, NULL, &done) >= 0 && done;
}

/* Whether the output of bev holds PORTFWD_HIGH bytes or more. */
static int
portfwd_full(struct bufferevent *bev)
{
	return evbuffer_get_length(bufferevent_get_output(bev)) >= PORTFWD_HIGH;
}

/* Requests from the local client, as far as the proxy side takes them. */
static void
portfwd_pump_down(struct portfwd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->down);
	struct evbuffer *out = bufferevent_get_output(c->up);
	struct evbuffer_iovec v;
	ssize_t n;
	int done;

	while (c->state == PORTFWD_C_HTTP && evbuffer_get_length(in) > 0) {
		if (portfwd_full(c->up) ||
		    (c->req == NULL &&
			(c->wait_upgrade || c->npend == PORTFWD_PIPELINE))) {
			bufferevent_disable(c->down, EV_READ);
			return;
		}
		if (c->req == NULL &&
		    (c->req = http_new_request(NULL)) == NULL) {
			portfwd_conn_answer(c, "500 Internal Server Error",
			    "wrennd: out of memory");
			return;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (http_method(c->req) == NULL) {
			n = http_head_feed(
			    c->req, v.iov_base, v.iov_len, &done);
			if (n < 0) {
				portfwd_conn_answer(c, "400 Bad Request",
				    "wrennd: malformed request: %s",
				    http_strerror(http_error(c->req)));
				return;
			}
			evbuffer_drain(in, (size_t)n);
			if (!done)
				continue;
			if (portfwd_request_head(c) != 0)
				return;
			done = portfwd_no_more_body(c->req);
		} else {
			n = http_body_feed(
			    c->req, v.iov_base, v.iov_len, NULL, NULL, &done);
			if (n < 0) {
				portfwd_conn_answer(c, "400 Bad Request",
				    "wrennd: malformed request body: %s",
				    http_strerror(http_error(c->req)));
				return;
			}
			evbuffer_remove_buffer(in, out, (size_t)n);
			c->pf->bytes_out += (uint64_t)n;
		}
		if (done) {
			http_free(c->req);
			c->req = NULL;
		}
	}
	if (c->state == PORTFWD_C_HTTP && c->down_eof) {
		/* The client sent all it will: end once answered. */
		if (c->req != NULL || c->npend == 0)
			portfwd_conn_finish(c);
	}
}

/* The answer in c->resp is complete. */
static void
portfwd_answer_done(struct portfwd_conn *c)
{
	if (c->maybe_gone &&
	    api_proxy_gone_shape(http_status(c->resp),
		http_header(c->resp, "Content-Type"),
		http_header(c->resp, "X-Content-Type-Options"), c->gone_body,
		c->gone_len))
		portfwd_gone_check(c->pf);
	c->maybe_gone = 0;
	c->gone_len = 0;
	http_free(c->resp);
	c->resp = NULL;
	c->phead = (c->phead + 1) % PORTFWD_PIPELINE;
	c->npend--;
	c->wait_upgrade = 0;
	if (c->down_eof && c->req == NULL && c->npend == 0) {
		portfwd_conn_finish(c);
		return;
	}
	if (!c->down_eof)
		bufferevent_enable(c->down, EV_READ);
	portfwd_pump_down(c);
}

/* After a 101 to an Upgrade: whatever is queued goes on as bytes. */
static void
portfwd_tunnel(struct portfwd_conn *c)
{
	http_free(c->resp);
	c->resp = NULL;
	http_free(c->req);
	c->req = NULL;
	c->npend = 0;
	portfwd_set_state(c, PORTFWD_C_TUNNEL);
	bufferevent_enable(c->down, EV_READ);
}

/* Copy the bytes read on one side to the other (TUNNEL), bounded; the
 * counter of that direction grows. */
static void
portfwd_copy(struct portfwd_conn *c, struct bufferevent *from)
{
	struct bufferevent *to = from == c->down ? c->up : c->down;
	uint64_t *count =
	    from == c->down ? &c->pf->bytes_out : &c->pf->bytes_in;
	struct evbuffer *in = bufferevent_get_input(from);
	size_t n = evbuffer_get_length(in);

	if (n > 0) {
		evbuffer_remove_buffer(in, bufferevent_get_output(to), n);
		*count += n;
	}
	if (portfwd_full(to))
		bufferevent_disable(from, EV_READ);
}

/* Keep the body of an answer that may be the proxy's "gone" (bounded:
 * a longer one is not). */
static void
portfwd_gone_keep(const char *data, size_t len, void *arg)
{
	struct portfwd_conn *c = arg;

	if (len > sizeof(c->gone_body) - c->gone_len) {
		c->maybe_gone = 0;
		return;
	}
	memcpy(c->gone_body + c->gone_len, data, len);
	c->gone_len += len;
}

/* Answers from the proxy, as far as the local client takes them. */
static void
portfwd_pump_up(struct portfwd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->up);
	struct evbuffer *out = bufferevent_get_output(c->down);
	struct evbuffer_iovec v;
	ssize_t n;
	int done, status;

	while (c->state == PORTFWD_C_HTTP && evbuffer_get_length(in) > 0) {
		if (portfwd_full(c->down)) {
			bufferevent_disable(c->up, EV_READ);
			return;
		}
		if (c->npend == 0) {
			log_debug("portfwd %s: bytes from the proxy with no "
				  "request",
			    c->pf->id);
			portfwd_conn_finish(c);
			return;
		}
		if (c->resp == NULL) {
			if ((c->resp = http_new(NULL)) == NULL) {
				portfwd_conn_finish(c);
				return;
			}
			if (c->pend[c->phead] & PORTFWD_P_HEAD)
				http_set_no_body(c->resp);
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (http_status(c->resp) == 0) {
			n = http_head_feed(
			    c->resp, v.iov_base, v.iov_len, &done);
			if (n < 0) {
				log_debug("portfwd %s: malformed answer: %s",
				    c->pf->id,
				    http_strerror(http_error(c->resp)));
				portfwd_conn_finish(c);
				return;
			}
			evbuffer_remove_buffer(in, out, (size_t)n);
			c->pf->bytes_in += (uint64_t)n;
			if (!done)
				continue;
			status = http_status(c->resp);
			if (status == 101 &&
			    (c->pend[c->phead] & PORTFWD_P_UPGRADE)) {
				portfwd_tunnel(c);
				portfwd_copy(c, c->up);
				portfwd_copy(c, c->down);
				return;
			}
			if (status == 101 || (status >= 100 && status < 200)) {
				/* interim: the real answer follows */
				http_free(c->resp);
				c->resp = NULL;
				if (status == 101) {
					portfwd_conn_finish(c);
					return;
				}
				continue;
			}
			/* The proxy's own 404 and 409 are short text. */
			c->maybe_gone = (status == 404 || status == 409) &&
			    http_body_mode(c->resp) == HTTP_BODY_LENGTH &&
			    http_content_length(c->resp) <= PORTFWD_GONE_MAX;
			if (portfwd_no_more_body(c->resp))
				portfwd_answer_done(c);
		} else {
			n = http_body_feed(c->resp, v.iov_base, v.iov_len,
			    c->maybe_gone ? portfwd_gone_keep : NULL, c, &done);
			if (n < 0) {
				log_debug("portfwd %s: malformed answer body: "
					  "%s",
				    c->pf->id,
				    http_strerror(http_error(c->resp)));
				portfwd_conn_finish(c);
				return;
			}
			evbuffer_remove_buffer(in, out, (size_t)n);
			c->pf->bytes_in += (uint64_t)n;
			if (done)
				portfwd_answer_done(c);
		}
	}
}

/* Bytes from either side: copied (TUNNEL) or parsed that way. */
static void
portfwd_read_cb(struct bufferevent *bev, void *arg)
{
	struct portfwd_conn *c = arg;

	portfwd_conn_touch(c);
	if (c->state == PORTFWD_C_TUNNEL)
		portfwd_copy(c, bev);
	else if (bev == c->down)
		portfwd_pump_down(c);
	else
		portfwd_pump_up(c);
}

/* Shut the write side of bev once its output is empty (half-close). */
static void
portfwd_shut(struct bufferevent *bev, int tls, int *shut)
{
	if (*shut || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	*shut = 1;
	if (tls)
		dial_close_notify(bev);
	else
		(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
}

/* TUNNEL: pass an end of stream on; both ended: finish. */
static void
portfwd_tunnel_ends(struct portfwd_conn *c)
{
	if (c->down_eof)
		portfwd_shut(c->up, c->pf->tls, &c->up_shut);
	if (c->up_eof)
		portfwd_shut(c->down, 0, &c->down_shut);
	if (c->down_eof && c->up_eof)
		portfwd_conn_finish(c);
}

/* Output of one side drained to the low watermark: read the other. */
static void
portfwd_write_cb(struct bufferevent *bev, void *arg)
{
	struct portfwd_conn *c = arg;
	int down = bev == c->down;

	portfwd_conn_touch(c);
	if (c->state == PORTFWD_C_CLOSING) {
		if (portfwd_conn_flushed(c))
			portfwd_conn_free(c);
		return;
	}
	if (c->state == PORTFWD_C_TUNNEL) {
		if (down && !c->up_eof)
			bufferevent_enable(c->up, EV_READ);
		if (!down && !c->down_eof)
			bufferevent_enable(c->down, EV_READ);
		portfwd_copy(c, down ? c->up : c->down);
		portfwd_tunnel_ends(c);
		return;
	}
	if (c->state != PORTFWD_C_HTTP)
		return;
	if (down) {
		if (!c->up_eof)
			bufferevent_enable(c->up, EV_READ);
		portfwd_pump_up(c);
	} else {
		if (!c->down_eof)
			bufferevent_enable(c->down, EV_READ);
		portfwd_pump_down(c);
	}
}

static void
portfwd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct portfwd_conn *c = arg;
	int down = bev == c->down;
	char why[256];

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (down) {
		c->down_eof = 1;
		bufferevent_disable(c->down, EV_READ);
	} else {
		(void)dial_bev_end(bev, what, why, sizeof(why));
		log_debug(
		    "portfwd %s: proxy connection ended: %s", c->pf->id, why);
		c->up_eof = 1;
		bufferevent_disable(c->up, EV_READ);
	}
	if ((what & BEV_EVENT_ERROR) || c->state == PORTFWD_C_CLOSING) {
		/* a reset: nothing more can be delivered that way */
		evbuffer_drain(bufferevent_get_output(bev),
		    evbuffer_get_length(bufferevent_get_output(bev)));
		portfwd_conn_finish(c);
		return;
	}
	if (c->state == PORTFWD_C_TUNNEL) {
		portfwd_copy(c, bev);
		portfwd_tunnel_ends(c);
		return;
	}
	if (down) {
		portfwd_pump_down(c);
		return;
	}
	/* The proxy closed: an answer delimited by the close is complete,
	 * any other one is cut short; either way the client is told by the
	 * connection closing. */
	portfwd_pump_up(c);
	if (c->state == PORTFWD_C_HTTP)
		portfwd_conn_finish(c);
}

static void
portfwd_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct portfwd_conn *c = arg;
	long idle = c->pf->wd->cfg->portfwd_idle_timeout_ms;
	struct timeval now, due, left;

	(void)event_base_gettimeofday_cached(c->pf->wd->base, &now);
	due.tv_sec = c->last.tv_sec + idle / 1000;
	due.tv_usec = c->last.tv_usec + (idle % 1000) * 1000;
	if (due.tv_usec >= 1000000) {
		due.tv_sec++;
		due.tv_usec -= 1000000;
	}
	if (evutil_timercmp(&now, &due, >=)) {
		log_debug("portfwd %s: connection idle for %ld ms, closing",
		    c->pf->id, idle);
		portfwd_conn_free(c);
		return;
	}
	evutil_timersub(&due, &now, &left);
	(void)event_add(c->idle, &left);
}

static void
portfwd_dial_cb(struct dial *d, const struct dial_result *res, void *arg)
{
	struct portfwd_conn *c = arg;

	dial_free(c->dial);
	c->dial = NULL;
	if (res->outcome != DIAL_OK) {
		log_debug("portfwd %s: %s", c->pf->id, res->errmsg);
		portfwd_conn_answer(c, "502 Bad Gateway",
		    "wrennd cannot reach the sandbox proxy: %s", res->errmsg);
		return;
	}
	c->up = res->bev;
	bufferevent_setcb(
	    c->up, portfwd_read_cb, portfwd_write_cb, portfwd_event_cb, c);
	bufferevent_setwatermark(c->up, EV_WRITE, PORTFWD_HIGH / 2, 0);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	bufferevent_enable(c->down, EV_READ | EV_WRITE);
	portfwd_set_state(c, PORTFWD_C_HTTP);
	portfwd_conn_touch(c);
	portfwd_pump_down(c);
}

static void
portfwd_conn_free(struct portfwd_conn *c)
{
	struct portfwd *pf = c->pf;

	TAILQ_REMOVE(&pf->conns, c, entry);
	pf->nconns--;
	dial_free(c->dial);
	if (c->up != NULL)
		bufferevent_free(c->up);
	if (c->down != NULL)
		bufferevent_free(c->down);
	http_free(c->req);
	http_free(c->resp);
	if (c->idle != NULL)
		event_free(c->idle);
	free(c);
	if (pf->draining && TAILQ_EMPTY(&pf->conns)) {
		TAILQ_REMOVE(&pf->wd->portfwds->draining, pf, entry);
		portfwd_free(pf);
	}
}

static void
portfwd_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct portfwd *pf = arg;
	struct wrennd *wd = pf->wd;
	struct portfwd_conn *c;
	struct dial_opts o;
	struct timeval tv;
	int fd, one = 1;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (pf->nconns >= (unsigned)wd->cfg->portfwd_max_connections) {
		log_info("portfwd %s: refusing a connection: %u open "
			 "(portfwd-max-connections)",
		    pf->id, pf->nconns);
		(void)close(fd);
		return;
	}
	/* Answers go out as they come (a head, then its body): without this
	 * Nagle holds the second write until the client's delayed ACK, 40 ms
	 * per keep-alive request. A Unix-socket listener refuses it. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->pf = pf;
	TAILQ_INSERT_TAIL(&pf->conns, c, entry);
	pf->nconns++;
	c->down = bufferevent_socket_new(
	    wd->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->down == NULL) {
		(void)close(fd);
		portfwd_conn_free(c);
		return;
	}
	bufferevent_setcb(
	    c->down, portfwd_read_cb, portfwd_write_cb, portfwd_event_cb, c);
	bufferevent_setwatermark(c->down, EV_WRITE, PORTFWD_HIGH / 2, 0);
	bufferevent_disable(c->down, EV_READ);
	portfwd_conn_touch(c);
	tv.tv_sec = wd->cfg->portfwd_idle_timeout_ms / 1000;
	tv.tv_usec = (wd->cfg->portfwd_idle_timeout_ms % 1000) * 1000;
	if ((c->idle = evtimer_new(wd->base, portfwd_idle_cb, c)) == NULL ||
	    event_add(c->idle, &tv) != 0) {
		portfwd_conn_free(c);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.host = pf->dial_host;
	o.port = pf->dial_port;
	o.tls = pf->tls ? wd->tls : NULL;
	o.tls_name = pf->tls_name;
	o.dns = wd->dns;
	o.timeout_ms = wd->cfg->connect_timeout_ms;
	o.done = portfwd_dial_cb;
	o.arg = c;
	if (dial_start(wd->base, &o, &c->dial) != 0)
		portfwd_conn_free(c);
}

/* Stop accepting: the listener's event, socket and socket file. */
static void
portfwd_unlisten(struct portfwd *pf)
{
	if (pf->ev != NULL)
		event_free(pf->ev);
	pf->ev = NULL;
	if (pf->fd != -1)
		(void)close(pf->fd);
	pf->fd = -1;
	if (pf->unix_path != NULL)
		(void)unlink(pf->unix_path);
	free(pf->unix_path);
	pf->unix_path = NULL;
}

static void
portfwd_free(struct portfwd *pf)
{
	struct portfwd_conn *c;

	pf->draining = 0; /* its connections go with it */
	while ((c = TAILQ_FIRST(&pf->conns)) != NULL)
		portfwd_conn_free(c);
	upstream_req_cancel(pf->gone);
	portfwd_unlisten(pf);
	free(pf->sandbox_id);
	free(pf->address);
	free(pf->host);
	free(pf->tls_name);
	free(pf->dial_host);
	free(pf);
}

/* Take a forward out of the open ones, saying why. */
static void
portfwd_unlink(struct wrennd *wd, struct portfwd *pf, const char *why)
{
	log_info("port forward %s (%s port %u on %s) closed: %s", pf->id,
	    pf->sandbox_id, pf->port, pf->address, why);
	TAILQ_REMOVE(&wd->portfwds->list, pf, entry);
	wd->portfwds->n--;
}

/* End a forward: its listener and every connection. */
static void
portfwd_close(struct wrennd *wd, struct portfwd *pf, const char *why)
{
	portfwd_unlink(wd, pf, why);
	portfwd_free(pf);
}

/*
 * End a forward but let each connection write what it has queued (the
 * answer that told of the end) first: the listener goes now, the
 * forward when its last connection is freed.
 */
static void
portfwd_end(struct wrennd *wd, struct portfwd *pf, const char *why)
{
	struct portfwd_conn *c, *next;

	portfwd_unlink(wd, pf, why);
	portfwd_unlisten(pf);
	for (c = TAILQ_FIRST(&pf->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		portfwd_conn_finish(c);
	}
	if (TAILQ_EMPTY(&pf->conns)) {
		portfwd_free(pf);
		return;
	}
	pf->draining = 1;
	TAILQ_INSERT_TAIL(&wd->portfwds->draining, pf, entry);
}

/* The sandbox's record is read: a record gone or terminal ends pf. */
static void
portfwd_gone_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct portfwd *pf = arg;
	json_t *doc = NULL;
	int gone = 0;

	pf->gone = NULL; /* freed by upstream after this callback */
	if (res->outcome == UPSTREAM_OK && res->status == 404) {
		gone = 1;
	} else if (rest_ok(res) &&
	    (doc = json_loadb(res->body, res->body_len, 0, NULL)) != NULL) {
		gone = api_proxy_status_gone(
		    json_string_value(json_object_get(doc, "status")));
		json_decref(doc);
	}
	if (gone)
		portfwd_end(pf->wd, pf, "the proxy says its sandbox is gone");
	else
		log_debug("portfwd %s: a \"gone\" answer, but the sandbox's "
			  "record says otherwise (HTTP %ld): the app's",
		    pf->id, res->status);
}

/*
 * An answer had the shape of the proxy's "gone": read the sandbox's
 * record (an app can send the same bytes) unless a read is in flight.
 */
static void
portfwd_gone_check(struct portfwd *pf)
{
	char *path;

	if (pf->gone != NULL || pf->draining || pf->auth == UPSTREAM_AUTH_NONE)
		return;
	if ((path = rest_sandbox_path(pf->sandbox_id, "")) == NULL)
		return;
	pf->gone = rest_req_new(pf->wd, pf->auth, "GET", path, NULL);
	free(path);
	if (pf->gone != NULL &&
	    upstream_req_start(pf->gone, portfwd_gone_cb, pf) != 0)
		pf->gone = NULL; /* freed by upstream_req_start */
}

void
portfwd_close_all(struct wrennd *wd)
{
	struct portfwd *pf;

	if (wd->portfwds == NULL)
		return;
	while ((pf = TAILQ_FIRST(&wd->portfwds->list)) != NULL)
		portfwd_close(wd, pf, "wrennd is exiting");
	while ((pf = TAILQ_FIRST(&wd->portfwds->draining)) != NULL) {
		TAILQ_REMOVE(&wd->portfwds->draining, pf, entry);
		portfwd_free(pf);
	}
}

/* End the forwards leased to client (0: none) or of sandbox_id (NULL:
 * none). */
static void
portfwd_close_where(
    struct wrennd *wd, uint64_t client, const char *sandbox_id, const char *why)
{
	struct portfwd *pf, *next;

	if (wd->portfwds == NULL)
		return;
	for (pf = TAILQ_FIRST(&wd->portfwds->list); pf != NULL; pf = next) {
		next = TAILQ_NEXT(pf, entry);
		if ((client != 0 && pf->lease == client) ||
		    (sandbox_id != NULL &&
			strcmp(pf->sandbox_id, sandbox_id) == 0))
			portfwd_close(wd, pf, why);
	}
}

void
portfwd_client_gone(struct wrennd *wd, uint64_t client_id)
{
	portfwd_close_where(wd, client_id, NULL, "its client disconnected");
}

void
portfwd_sandbox_gone(struct wrennd *wd, const char *sandbox_id)
{
	portfwd_close_where(wd, 0, sandbox_id, "its sandbox was destroyed");
}

/*
 * "A.B.C.D:PORT" or "[v6]:PORT" (PORT 0..65535) into *ss and *len.
 * 0 or -1.
 */
static int
portfwd_parse_hostport(
    const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;
	size_t n;
	unsigned long port;

	if (colon == NULL || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5)
		return -1;
	port = strtoul(colon + 1, &end, 10);
	n = (size_t)(colon - text);
	if (port > 65535 || n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = sizeof(*sin);
	return 0;
}

/*
 * Bind listen ("HOST:PORT" on loopback, or an absolute Unix socket
 * path) for pf: its fd and address. 0, or -1 with the call failed.
 */
static int
portfwd_bind(struct call *call, struct portfwd *pf, const char *listen_on)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	char text[INET6_ADDRSTRLEN];
	socklen_t len = sizeof(ss);
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (listen_on[0] == '/') {
		if (strlen(listen_on) >= sizeof(sun.sun_path)) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "listen: a socket path is at most %zu bytes",
			    sizeof(sun.sun_path) - 1);
			return -1;
		}
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, listen_on, strlen(listen_on));
		fd = socket(
		    AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    listen(fd, 128) == -1) {
			call_fail(call, IPC_ERR_APPLICATION, "listen_failed",
			    NULL, "cannot listen on '%s': %s", listen_on,
			    strerror(errno));
			if (fd != -1)
				(void)close(fd);
			return -1;
		}
		pf->fd = fd;
		if ((pf->unix_path = strdup(listen_on)) == NULL ||
		    (pf->address = strdup(listen_on)) == NULL) {
			call_fail_oom(call);
			return -1;
		}
		return 0;
	}
	if (portfwd_parse_hostport(listen_on, &ss, &len) != 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "listen: '%.128s' is neither HOST:PORT (a numeric "
		    "loopback address) nor an absolute socket path",
		    listen_on);
		return -1;
	}
	if (ss.ss_family == AF_INET ? (ntohl(sin->sin_addr.s_addr) >> 24) != 127
				    : !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "listen: '%.128s' is not a loopback address; a forward "
		    "gives the API key's access to whoever connects, so "
		    "only loopback (or a Unix socket) is allowed",
		    listen_on);
		return -1;
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 128) == -1) {
		call_fail(call, IPC_ERR_APPLICATION, "listen_failed", NULL,
		    "cannot listen on %s: %s", listen_on, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	pf->fd = fd;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "getsockname: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		if (asprintf(&pf->address, "%s:%u", text,
			(unsigned)ntohs(sin->sin_port)) == -1)
			pf->address = NULL;
	} else {
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		if (asprintf(&pf->address, "[%s]:%u", text,
			(unsigned)ntohs(sin6->sin6_port)) == -1)
			pf->address = NULL;
	}
	if (pf->address == NULL) {
		call_fail_oom(call);
		return -1;
	}
	return 0;
}

/*
 * The proxy names of pf (its sandbox_id and port are call's): the Host
 * of forwarded requests (api_proxy_host), the TLS name (the same without
 * the base URL's port) and the base URL's address to dial. 0, or -1 with
 * the call failed.
 */
static int
portfwd_names(struct call *call, struct portfwd *pf)
{
	char label[API_PROXY_LABEL_MAX + 1];
	struct url *u = NULL;
	const char *err;

	if (api_proxy_label(call, (long)pf->port, label, sizeof(label)) != 0 ||
	    (pf->host = api_proxy_host(call, label)) == NULL)
		return -1;
	if (url_parse(upstream_base_url(call_wd(call)->up), &u, &err) != 0) {
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "the base URL cannot be parsed");
		return -1;
	}
	pf->tls = u->tls;
	pf->dial_port = u->port;
	if (asprintf(&pf->tls_name, "%s.%s", label, u->host) == -1)
		pf->tls_name = NULL;
	pf->dial_host = strdup(u->host);
	url_free(u);
	if (pf->tls_name == NULL || pf->dial_host == NULL) {
		call_fail_oom(call);
		return -1;
	}
	return 0;
}

static json_t *
portfwd_json(const struct portfwd *pf)
{
	char at[32] = "";
	struct tm tm;

	if (gmtime_r(&pf->created, &tm) != NULL)
		(void)strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:s}", "id",
	    pf->id, "sandbox_id", pf->sandbox_id, "port", (int)pf->port,
	    "address", pf->address, "lease",
	    pf->lease != 0 ? "connection" : "none", "connections",
	    (json_int_t)pf->nconns, "bytes_in", (json_int_t)pf->bytes_in,
	    "bytes_out", (json_int_t)pf->bytes_out, "created_at", at);
}

static void
portfwd_create(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	json_t *p = call_params(call);
	const char *sandbox_id =
	    json_string_value(json_object_get(p, "sandbox_id"));
	const char *listen_on = json_string_value(json_object_get(p, "listen"));
	const char *lease = json_string_value(json_object_get(p, "lease"));
	struct portfwd *pf;

	if (listen_on == NULL)
		listen_on = "127.0.0.1:0";
	if (lease != NULL && strcmp(lease, "connection") != 0 &&
	    strcmp(lease, "none") != 0) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "lease must be \"connection\" or \"none\"");
		return;
	}
	if (wd->portfwds->n >= (unsigned)wd->cfg->portfwd_max) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_forwards",
		    json_pack("{s:s}", "limit", "portfwd-max"),
		    "%u port forwards are open (portfwd-max)", wd->portfwds->n);
		return;
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL) {
		call_fail_oom(call);
		return;
	}
	pf->wd = wd;
	pf->fd = -1;
	pf->port = (unsigned)json_integer_value(json_object_get(p, "port"));
	TAILQ_INIT(&pf->conns);
	(void)snprintf(pf->id, sizeof(pf->id), "pf-%llu",
	    (unsigned long long)wd->portfwds->next);
	if ((pf->sandbox_id = strdup(sandbox_id)) == NULL) {
		call_fail_oom(call);
		portfwd_free(pf);
		return;
	}
	if (portfwd_names(call, pf) != 0 ||
	    portfwd_bind(call, pf, listen_on) != 0) {
		portfwd_free(pf);
		return;
	}
	if ((pf->ev = event_new(wd->base, pf->fd, EV_READ | EV_PERSIST,
		 portfwd_accept_cb, pf)) == NULL ||
	    event_add(pf->ev, NULL) != 0) {
		call_fail_oom(call);
		portfwd_free(pf);
		return;
	}
	pf->creator = client_id(call_client(call));
	pf->auth = call_auth(call);
	pf->created = time(NULL);
	if (lease != NULL && strcmp(lease, "connection") == 0)
		pf->lease = pf->creator;
	wd->portfwds->next++;
	wd->portfwds->n++;
	TAILQ_INSERT_TAIL(&wd->portfwds->list, pf, entry);
	log_info("port forward %s: %s -> %s port %u", pf->id, pf->address,
	    pf->sandbox_id, pf->port);
	call_reply(call,
	    json_pack("{s:s, s:s}", "id", pf->id, "address", pf->address));
}

static void
portfwd_list(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	struct portfwd *pf;
	json_t *a, *o;

	if ((a = json_array()) == NULL) {
		call_fail_oom(call);
		return;
	}
	TAILQ_FOREACH(pf, &wd->portfwds->list, entry) {
		if (!call_may_access(call, pf->sandbox_id))
			continue;
		if ((o = portfwd_json(pf)) == NULL ||
		    json_array_append_new(a, o) != 0) {
			json_decref(a);
			call_fail_oom(call);
			return;
		}
	}
	call_reply(call, a);
}

static void
portfwd_close_call(struct call *call)
{
	struct wrennd *wd = call_wd(call);
	const char *id =
	    json_string_value(json_object_get(call_params(call), "id"));
	struct portfwd *pf;

	TAILQ_FOREACH(pf, &wd->portfwds->list, entry) {
		if (strcmp(pf->id, id) == 0 &&
		    call_may_access(call, pf->sandbox_id))
			break;
	}
	if (pf == NULL) {
		call_fail(call, IPC_ERR_APPLICATION, "not_found", NULL,
		    "no port forward '%.64s'", id);
		return;
	}
	/* Who may close whose forward is issue 9's (roles): pf->creator
	 * names the client that made it; every local user may, so far. */
	portfwd_close(wd, pf, "port_forwards.close");
	call_reply(call, json_object());
}

static const struct methods_param portfwd_p_create[] = {
    {.name = "sandbox_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "sandbox id (cl-...)"},
    {.name = "port",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.min = 1,
	.max = 65535,
	.doc = "port in the sandbox"},
    {.name = "listen",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "\"HOST:PORT\" on loopback (default \"127.0.0.1:0\") or an "
	       "absolute Unix socket path"},
    {.name = "lease",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "\"connection\": closed when this connection ends; "
	       "\"none\" (default): until closed"},
    METHODS_PARAMS_END,
};

static const struct methods_param portfwd_p_close[] = {
    {.name = "id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "forward id (pf-...)"},
    METHODS_PARAMS_END,
};

static const struct methods_row portfwd_rows[] = {
    {
	.name = "sandbox.port_forward",
	.summary = "forward a local port to a port in a sandbox",
	.cred = ROLE_CRED_APIKEY,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = portfwd_p_create,
	.handler = portfwd_create,
    },
    {
	.name = "port_forwards.list",
	.summary = "the open port forwards with their counters",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = methods_no_params,
	.handler = portfwd_list,
    },
    {
	.name = "port_forwards.close",
	.summary = "close a port forward and its connections",
	.cred = ROLE_CRED_NONE,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.params = portfwd_p_close,
	.handler = portfwd_close_call,
    },
};

const struct api_table portfwd_methods = API_TABLE(portfwd_rows);
