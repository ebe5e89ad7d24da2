/* SPDX-License-Identifier: MIT */
/*
 * HTTP(S) client for the Wrenn control plane (see upstream.h): one libcurl
 * multi handle driven by the daemon's libevent base with the multi_socket
 * API, as in curl's docs/examples/hiperfifo.c. curl tells us which sockets
 * to watch (upstream_socket_cb) and when to call it back (upstream_timer_cb);
 * we turn both into libevent events that call curl_multi_socket_action and
 * then collect finished transfers with curl_multi_info_read.
 *
 * Re-entrancy rules, because curl forbids most of its API from inside its
 * own callbacks and the style forbids freeing what is deeper in the stack:
 * - user hooks (data/read) run inside curl; while up->in_curl > 0 a cancel,
 *   start or resume only records what to do and upstream_reap_cb does it on
 *   the next loop turn;
 * - done callbacks run outside curl, from upstream_check_multi_info, so they
 *   may start and cancel other requests directly;
 * - upstream_free inside any of our dispatch frames (up->busy > 0) marks the
 *   client closing and the outermost frame destroys it on its way out.
 *
 * Owns: the CURLM, the per-socket events, curl's timer event, every started
 * request. Called by: rest.c, api-*.c, wrennd.c.
 */
#include "config.h"

#include "upstream.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "creds.h"
#include "log.h"
#include "tlsctx.h"
#include "url.h"

#define UPSTREAM_CONNECT_TIMEOUT_MS 10000L
#define UPSTREAM_MAX_HOST_CONNS	    8L
#define UPSTREAM_MAX_RESPONSE	    ((size_t)64 << 20)
#define UPSTREAM_REQ_TIMEOUT_MS	    60000L
#define UPSTREAM_BUFFERSIZE	    (64L * 1024)
#define UPSTREAM_AUTH_MAX	    8192  /* bytes of one auth header line */
#define UPSTREAM_MAX_SENDS	    2	  /* tries of an idempotent request */
#define UPSTREAM_MAX_HEADERS	    100	  /* upstream_req_add_header fields */
#define UPSTREAM_MAX_HEADER_BYTES   65536 /* ...and their bytes */
#define UPSTREAM_MAX_CAPTURE                                                   \
	((size_t)1 << 20) /* captured answer                                   \
			   * header bytes */

/* CURLOPT_PREREQFUNCTION (7.80) tells us each time curl sends a request. */
#if LIBCURL_VERSION_NUM >= 0x075000
#define UPSTREAM_HAVE_PREREQ 1
#else
#define UPSTREAM_HAVE_PREREQ 0
#endif
#define UPSTREAM_USER_AGENT "wrennd/" PACKAGE_VERSION

enum upstream_req_state {
	UPSTREAM_REQ_NEW,	/* being built; owned by the caller */
	UPSTREAM_REQ_QUEUED,	/* started inside curl; added next turn */
	UPSTREAM_REQ_RUNNING,	/* in the multi handle */
	UPSTREAM_REQ_FAILING,	/* failed behind curl's back; reported next
				 * turn */
	UPSTREAM_REQ_DONE,	/* done callback running; freed after it */
	UPSTREAM_REQ_CANCELLED, /* cancelled inside curl; freed next turn */
	UPSTREAM_REQ__MAX
};

static const char *const upstream_req_state_names[UPSTREAM_REQ__MAX] = {
    "new",
    "queued",
    "running",
    "failing",
    "done",
    "cancelled",
};

/* Legal transitions: bit n of [from] allows "to n". */
#define UPSTREAM_TO(s) (1u << (s))
static const unsigned upstream_req_transitions[UPSTREAM_REQ__MAX] = {
    [UPSTREAM_REQ_NEW] =
	UPSTREAM_TO(UPSTREAM_REQ_QUEUED) | UPSTREAM_TO(UPSTREAM_REQ_RUNNING),
    [UPSTREAM_REQ_QUEUED] = UPSTREAM_TO(UPSTREAM_REQ_RUNNING) |
	UPSTREAM_TO(UPSTREAM_REQ_DONE) | UPSTREAM_TO(UPSTREAM_REQ_CANCELLED),
    [UPSTREAM_REQ_RUNNING] = UPSTREAM_TO(UPSTREAM_REQ_FAILING) |
	UPSTREAM_TO(UPSTREAM_REQ_DONE) | UPSTREAM_TO(UPSTREAM_REQ_CANCELLED),
    [UPSTREAM_REQ_FAILING] =
	UPSTREAM_TO(UPSTREAM_REQ_DONE) | UPSTREAM_TO(UPSTREAM_REQ_CANCELLED),
    [UPSTREAM_REQ_DONE] = 0,
    [UPSTREAM_REQ_CANCELLED] = 0,
};

/* A multipart file part whose bytes come from a read hook. */
struct upstream_part {
	struct upstream_req *req; /* borrowed back-pointer */
	upstream_read_cb read;
	void *arg;		    /* borrowed, the hook's */
	struct upstream_part *next; /* owned */
};

struct upstream_req {
	struct upstream *up; /* borrowed parent */
	enum upstream_req_state state;
	TAILQ_ENTRY(upstream_req) entry; /* in the list of its state */
	CURL *easy;			 /* owned */
	int in_multi;			 /* easy is added to up->multi */
	char *method;			 /* owned */
	char *path;			 /* owned; for debug logs only */
	enum upstream_auth auth;
	int idempotent;	    /* GET or HEAD: curl may send it again */
	int sends;	    /* times curl was about to send the request */
	int resend_refused; /* a second send was stopped (not idempotent) */
	long timeout_ms;
	struct event *ev_deadline;     /* owned; the whole-request deadline */
	int deadline_passed;	       /* ev_deadline fired */
	struct curl_slist *headers;    /* owned; wiped before free */
	unsigned nheaders_added;       /* upstream_req_add_header fields */
	size_t header_bytes;	       /* ...and their bytes */
	int has_ctype;		       /* one of them is Content-Type */
	struct curl_slist *connect_to; /* owned; proxy requests only */
	curl_mime *mime;	       /* owned */
	struct upstream_part *parts;   /* owned */
	char *body;		       /* owned request body */
	size_t body_len;
	int body_raw; /* body is not JSON (upstream_req_set_body) */
	char *resp;   /* owned response body, NUL terminated */
	size_t resp_len;
	size_t resp_cap;
	upstream_data_cb data_cb;
	void *data_arg;	    /* borrowed, the hook's */
	int streaming;	    /* -1 undecided, 0 buffer, 1 hook */
	size_t skip;	    /* already consumed bytes curl will
			     * hand us again after a pause */
	int paused;	    /* a hook paused the transfer */
	int resume_pending; /* resume asked for inside curl */
	int too_large;	    /* response passed max_response */
	size_t hdr_max;	    /* capture response headers up to this many
			     * bytes; 0: do not capture */
	char *hdr;	    /* owned: captured "name\0value\0" pairs */
	size_t hdr_len;
	size_t hdr_cap;
	size_t hdr_count;	      /* pairs in hdr */
	int hdr_done;		      /* the final header block has ended */
	int hdr_too_large;	      /* they passed hdr_max */
	struct upstream_header *hdrv; /* owned: built at finish */
	size_t max_response; /* bytes buffered; at most up->max_response */
	int aborted;	     /* a hook returned -1 */
	enum upstream_outcome fail_outcome; /* for UPSTREAM_REQ_FAILING */
	upstream_done_cb cb;
	void *arg;		      /* borrowed, the callback's */
	char errbuf[CURL_ERROR_SIZE]; /* curl's error text, or ours */
};

TAILQ_HEAD(upstream_req_list, upstream_req);

/* Per-socket state handed to curl with curl_multi_assign. */
struct upstream_sock {
	struct upstream *up; /* borrowed parent */
	curl_socket_t fd;
	int what;			  /* CURL_POLL_* being watched */
	struct event *ev;		  /* owned */
	TAILQ_ENTRY(upstream_sock) entry; /* in up->socks or up->dead_socks */
};

TAILQ_HEAD(upstream_sock_list, upstream_sock);

struct upstream {
	struct event_base *base;  /* borrowed */
	CURLM *multi;		  /* owned */
	struct event *ev_timer;	  /* owned; curl's one timeout */
	struct event *ev_reap;	  /* owned; deferred work */
	char *base_url;		  /* owned; no trailing slash */
	struct url *url;	  /* owned; base_url parsed */
	const struct tlsctx *tls; /* borrowed */
	struct creds *creds;	  /* borrowed */
	long connect_timeout_ms;
	size_t max_response; /* bytes */
	int global_init;     /* curl_global_init succeeded */
	int pipewait;	     /* https: wait to multiplex (h2) */
	uint64_t requests_total;
	int reachable; /* -1 unknown, 0 the last connect failed, 1 answered */
	unsigned requests_active;	  /* queued + running + failing */
	unsigned nsockets;		  /* opened by curl, not yet closed */
	uint64_t sockets_opened;	  /* connections curl opened, ever */
	int busy;			  /* depth of our dispatch frames */
	int in_curl;			  /* depth of curl calls that may run
					   * hooks */
	int closing;			  /* upstream_free called while busy */
	struct upstream_req_list queued;  /* UPSTREAM_REQ_QUEUED */
	struct upstream_req_list running; /* UPSTREAM_REQ_RUNNING */
	struct upstream_req_list failing; /* UPSTREAM_REQ_FAILING */
	struct upstream_req_list dead;	  /* UPSTREAM_REQ_CANCELLED */
	struct upstream_sock_list socks;  /* watched for curl */
	struct upstream_sock_list dead_socks; /* removed; freed next turn */
};

static void upstream_destroy(struct upstream *up);

/* The list a request in state s lives on, or NULL. */
static struct upstream_req_list *
upstream_req_list_of(struct upstream *up, enum upstream_req_state s)
{
	switch (s) {
	case UPSTREAM_REQ_QUEUED:
		return &up->queued;
	case UPSTREAM_REQ_RUNNING:
		return &up->running;
	case UPSTREAM_REQ_FAILING:
		return &up->failing;
	case UPSTREAM_REQ_CANCELLED:
		return &up->dead;
	default:
		return NULL;
	}
}

static int
upstream_req_state_active(enum upstream_req_state s)
{
	return s == UPSTREAM_REQ_QUEUED || s == UPSTREAM_REQ_RUNNING ||
	    s == UPSTREAM_REQ_FAILING;
}

/* Move req to state s: assert the transition, fix lists and counters. */
static void
upstream_req_set_state(struct upstream_req *req, enum upstream_req_state s)
{
	struct upstream *up = req->up;
	struct upstream_req_list *from, *to;

	assert(req->state < UPSTREAM_REQ__MAX && s < UPSTREAM_REQ__MAX);
	assert(upstream_req_transitions[req->state] & UPSTREAM_TO(s));
	log_debug("upstream: %s '%s': %s -> %s", req->method, req->path,
	    upstream_req_state_names[req->state], upstream_req_state_names[s]);
	if ((from = upstream_req_list_of(up, req->state)) != NULL)
		TAILQ_REMOVE(from, req, entry);
	if ((to = upstream_req_list_of(up, s)) != NULL)
		TAILQ_INSERT_TAIL(to, req, entry);
	if (req->state == UPSTREAM_REQ_NEW)
		up->requests_total++;
	if (upstream_req_state_active(req->state) &&
	    !upstream_req_state_active(s))
		up->requests_active--;
	else if (!upstream_req_state_active(req->state) &&
	    upstream_req_state_active(s))
		up->requests_active++;
	req->state = s;
}

/* Run upstream_reap_cb on the next loop turn. */
static void
upstream_schedule(struct upstream *up)
{
	event_active(up->ev_reap, EV_TIMEOUT, 1);
}

/* Leave a dispatch frame; the outermost one finishes a deferred free. */
static void
upstream_leave(struct upstream *up)
{
	assert(up->busy > 0);
	if (--up->busy == 0 && up->closing)
		upstream_destroy(up);
}

/* Free a request curl no longer knows about. */
static void
upstream_req_free(struct upstream_req *req)
{
	struct upstream_part *p;
	struct curl_slist *h;

	if (req == NULL)
		return;
	assert(!req->in_multi);
	/* The easy handle goes first: the mime tree, header list and body
	 * must outlive it. */
	if (req->easy != NULL)
		curl_easy_cleanup(req->easy);
	if (req->ev_deadline != NULL)
		event_free(req->ev_deadline);
	curl_mime_free(req->mime);
	while ((p = req->parts) != NULL) {
		req->parts = p->next;
		free(p);
	}
	for (h = req->headers; h != NULL; h = h->next)
		creds_wipe(h->data, strlen(h->data));
	curl_slist_free_all(req->headers);
	curl_slist_free_all(req->connect_to);
	free(req->hdr);
	free(req->hdrv);
	free(req->body);
	free(req->resp);
	free(req->method);
	free(req->path);
	free(req);
}

/* Detach req from the multi handle (outside curl only). */
static void
upstream_req_detach(struct upstream_req *req)
{
	CURLMcode mc;

	if (!req->in_multi)
		return;
	assert(req->up->in_curl == 0);
	if ((mc = curl_multi_remove_handle(req->up->multi, req->easy)) !=
	    CURLM_OK)
		log_warnx("upstream: cannot remove transfer: %s, ignoring",
		    curl_multi_strerror(mc));
	req->in_multi = 0;
}

/* What a finished transfer means for the caller. */
static enum upstream_outcome
upstream_outcome_of(const struct upstream_req *req, CURLcode rc)
{
	if (req->too_large || req->hdr_too_large)
		return UPSTREAM_TOO_LARGE;
	if (req->resend_refused)
		return UPSTREAM_PROTOCOL;
	if (req->deadline_passed)
		return UPSTREAM_TIMEOUT;
	if (req->aborted)
		return UPSTREAM_ABORTED;
	switch (rc) {
	case CURLE_OK:
		return UPSTREAM_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return UPSTREAM_TIMEOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00
	case CURLE_SSL_CLIENTCERT:
#endif
		return UPSTREAM_CONNECT;
	case CURLE_FILESIZE_EXCEEDED:
		return UPSTREAM_TOO_LARGE;
	case CURLE_WRITE_ERROR:
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return UPSTREAM_ABORTED;
	default:
		/* RECV_ERROR, SEND_ERROR, PARTIAL_FILE, GOT_NOTHING, HTTP2,
		 * WEIRD_SERVER_REPLY, SEND_FAIL_REWIND, ... */
		return UPSTREAM_PROTOCOL;
	}
}

/* Point req->hdrv at the captured "name\0value\0" pairs; 0 or -ENOMEM. */
static int
upstream_req_header_list(struct upstream_req *req)
{
	const char *p = req->hdr;
	size_t i;

	if (req->hdr_count == 0)
		return 0;
	if ((req->hdrv = calloc(req->hdr_count, sizeof(*req->hdrv))) == NULL)
		return -ENOMEM;
	for (i = 0; i < req->hdr_count; i++) {
		req->hdrv[i].name = p;
		p += strlen(p) + 1;
		req->hdrv[i].value = p;
		p += strlen(p) + 1;
	}
	return 0;
}

/*
 * Report req to its owner and free it. forced is the outcome to report, or
 * UPSTREAM_OUTCOME__MAX to derive it from rc. Runs outside curl only.
 */
static void
upstream_req_finish(
    struct upstream_req *req, CURLcode rc, enum upstream_outcome forced)
{
	struct upstream_result res;
	char *ct = NULL;
	double total = 0;
	long status = 0;

	memset(&res, 0, sizeof(res));
	if (req->in_multi) {
		(void)curl_easy_getinfo(
		    req->easy, CURLINFO_RESPONSE_CODE, &status);
		(void)curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &ct);
		(void)curl_easy_getinfo(req->easy, CURLINFO_TOTAL_TIME, &total);
	}
	res.outcome = forced != UPSTREAM_OUTCOME__MAX
	    ? forced
	    : upstream_outcome_of(req, rc);
	/* curl's text says "Failure writing output" for our own aborts. */
	if (res.outcome == UPSTREAM_TOO_LARGE && req->hdr_too_large)
		snprintf(req->errbuf, sizeof(req->errbuf),
		    "response header fields larger than %zu bytes",
		    req->hdr_max);
	else if (res.outcome == UPSTREAM_TOO_LARGE)
		snprintf(req->errbuf, sizeof(req->errbuf),
		    "response larger than %zu bytes", req->max_response);
	else if (res.outcome == UPSTREAM_ABORTED && req->aborted)
		snprintf(req->errbuf, sizeof(req->errbuf),
		    "transfer aborted by the stream hook");
	else if (req->resend_refused)
		snprintf(req->errbuf, sizeof(req->errbuf),
		    "connection lost before any answer; a %s is not sent "
		    "again, it may have reached the control plane",
		    req->method);
	else if (req->deadline_passed)
		snprintf(req->errbuf, sizeof(req->errbuf),
		    "no answer within %ld ms%s", req->timeout_ms,
		    UPSTREAM_HAVE_PREREQ && req->sends == 0
			? " (still waiting for an upstream connection)"
			: "");
	else if (res.outcome != UPSTREAM_OK && req->errbuf[0] == '\0')
		snprintf(req->errbuf, sizeof(req->errbuf), "%s",
		    curl_easy_strerror(rc));
	res.status = status;
	res.body = req->resp != NULL ? req->resp : "";
	res.body_len = req->resp_len;
	res.content_type = ct;
	res.errmsg = res.outcome == UPSTREAM_OK ? "" : req->errbuf;
	res.total_sec = total;
	if (res.outcome == UPSTREAM_OK && req->hdr_max > 0) {
		if (upstream_req_header_list(req) == 0) {
			res.headers = req->hdrv;
			res.nheaders = req->hdr_count;
		} else {
			res.outcome = UPSTREAM_ABORTED;
			snprintf(req->errbuf, sizeof(req->errbuf),
			    "out of memory for the response header fields");
			res.errmsg = req->errbuf;
		}
	}

	/* Detaching keeps ct valid: curl frees it with the easy handle. */
	if (res.outcome == UPSTREAM_OK)
		req->up->reachable = 1;
	else if (res.outcome == UPSTREAM_CONNECT)
		req->up->reachable = 0;
	upstream_req_detach(req);
	upstream_req_set_state(req, UPSTREAM_REQ_DONE);
	if (res.outcome == UPSTREAM_OK)
		log_debug("upstream: %s '%s': HTTP %ld, %zu bytes in %.3f s",
		    req->method, req->path, status, req->resp_len, total);
	else
		log_debug("upstream: %s '%s': failed (outcome %d): %s",
		    req->method, req->path, (int)res.outcome, req->errbuf);
	if (req->cb != NULL)
		req->cb(req, &res, req->arg);
	upstream_req_free(req);
}

/* Collect finished transfers; called after every socket action. */
static void
upstream_check_multi_info(struct upstream *up)
{
	struct upstream_req *req;
	CURLMsg *msg;
	char *priv;
	CURLcode rc;
	int left;

	while (!up->closing &&
	    (msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		priv = NULL;
		(void)curl_easy_getinfo(
		    msg->easy_handle, CURLINFO_PRIVATE, &priv);
		req = (struct upstream_req *)(void *)priv;
		/* Cancelled or failing ones are finished by the reaper. */
		if (req == NULL || req->state != UPSTREAM_REQ_RUNNING)
			continue;
		upstream_req_finish(req, rc, UPSTREAM_OUTCOME__MAX);
	}
}

/* Tell curl about activity on fd (or a timeout) and reap what finished. */
static void
upstream_action(struct upstream *up, curl_socket_t fd, int mask)
{
	CURLMcode mc;
	int running;

	up->busy++;
	up->in_curl++;
	mc = curl_multi_socket_action(up->multi, fd, mask, &running);
	up->in_curl--;
	if (mc != CURLM_OK)
		log_warnx("upstream: socket action: %s, ignoring",
		    curl_multi_strerror(mc));
	upstream_check_multi_info(up);
	upstream_leave(up);
}

static void
upstream_sock_event_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream_sock *sk = arg;
	int mask = 0;

	if (events & EV_READ)
		mask |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		mask |= CURL_CSELECT_OUT;
	upstream_action(sk->up, fd, mask);
}

static void
upstream_timer_event_cb(evutil_socket_t fd, short events, void *arg)
{
	upstream_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: never act from here, only arm the timer. */
static int
upstream_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct upstream *up = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		(void)evtimer_del(up->ev_timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (evtimer_add(up->ev_timer, &tv) != 0) {
		log_warnx("upstream: cannot arm the curl timer");
		return -1;
	}
	return 0;
}

/* Watch fd for what (CURL_POLL_IN/OUT/INOUT) with sk's event. */
static int
upstream_sock_watch(struct upstream_sock *sk, curl_socket_t fd, int what)
{
	short kind = 0;

	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	/* event_assign needs a non-pending event. */
	(void)event_del(sk->ev);
	sk->fd = fd;
	sk->what = what;
	if (kind == 0)
		return 0;
	if (event_assign(sk->ev, sk->up->base, fd, kind | EV_PERSIST,
		upstream_sock_event_cb, sk) != 0 ||
	    event_add(sk->ev, NULL) != 0) {
		log_warnx("upstream: cannot watch socket %d", (int)fd);
		return -1;
	}
	return 0;
}

/* curl forgot the socket: stop watching it and free it next turn. */
static void
upstream_sock_release(struct upstream *up, struct upstream_sock *sk)
{
	(void)event_del(sk->ev);
	sk->what = 0;
	TAILQ_REMOVE(&up->socks, sk, entry);
	TAILQ_INSERT_TAIL(&up->dead_socks, sk, entry);
	upstream_schedule(up);
}

static void
upstream_sock_free(struct upstream_sock *sk)
{
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION, after hiperfifo.c's sock_cb. */
static int
upstream_socket_cb(
    CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct upstream *up = userp;
	struct upstream_sock *sk = socketp;

	if (what == CURL_POLL_REMOVE) {
		/* A REMOVE for a socket we never saw is a no-op (curl #17949).
		 */
		if (sk != NULL)
			upstream_sock_release(up, sk);
		return 0;
	}
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL) {
			log_warnx("upstream: out of memory");
			return -1;
		}
		sk->up = up;
		sk->fd = fd;
		if ((sk->ev = event_new(up->base, fd, 0, upstream_sock_event_cb,
			 sk)) == NULL) {
			log_warnx("upstream: cannot create a socket event");
			free(sk);
			return -1;
		}
		if (curl_multi_assign(up->multi, fd, sk) != CURLM_OK) {
			upstream_sock_free(sk);
			return -1;
		}
		TAILQ_INSERT_TAIL(&up->socks, sk, entry);
	}
	return upstream_sock_watch(sk, fd, what);
}

/* CURLOPT_OPENSOCKETFUNCTION: count sockets and set close-on-exec. */
static curl_socket_t
upstream_opensocket_cb(
    void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct upstream *up = clientp;
	int fd;

	fd =
	    socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	up->nsockets++;
	up->sockets_opened++;
	return fd;
}

/*
 * CURLOPT_CLOSESOCKETFUNCTION: if curl closes a socket it still has us
 * watching (curl #16026, #6237), drop the event before the fd number can
 * be reused. The state itself stays until curl's REMOVE or upstream_free,
 * since curl may still hold it.
 */
static int
upstream_closesocket_cb(void *clientp, curl_socket_t fd)
{
	struct upstream *up = clientp;
	struct upstream_sock *sk;

	TAILQ_FOREACH(sk, &up->socks, entry) {
		if (sk->fd == fd && sk->what != 0) {
			log_debug("upstream: socket %d closed while watched",
			    (int)fd);
			(void)event_del(sk->ev);
			sk->what = 0;
		}
	}
	if (up->nsockets > 0)
		up->nsockets--;
	return close(fd) == 0 ? 0 : 1;
}

#if UPSTREAM_HAVE_PREREQ
/*
 * CURLOPT_PREREQFUNCTION: curl is about to send the request on a
 * connection. curl sends it again on a new connection when a reused one
 * dies before any answer byte, but the first copy may already have reached
 * the control plane: a create would then run twice (audit finding 16).
 * Only GET and HEAD may go again, and only once more.
 */
static int
upstream_prereq_cb(void *clientp, char *primary_ip, char *local_ip,
    int primary_port, int local_port)
{
	struct upstream_req *req = clientp;

	if (req->state != UPSTREAM_REQ_RUNNING)
		return CURL_PREREQFUNC_ABORT;
	if (++req->sends > 1 &&
	    (!req->idempotent || req->sends > UPSTREAM_MAX_SENDS)) {
		req->resend_refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	if (req->sends > 1)
		log_debug("upstream: %s '%s': connection lost before any "
			  "answer, sending again",
		    req->method, req->path);
	return CURL_PREREQFUNC_OK;
}
#endif

/* CURLOPT_SSL_CTX_FUNCTION: the daemon's one TLS policy. */
static CURLcode
upstream_sslctx_cb(CURL *easy, void *sslctx, void *arg)
{
	struct upstream *up = arg;

	if (tlsctx_apply(up->tls, sslctx) != 0) {
		tlsctx_log_errors("upstream: cannot apply the TLS policy");
		return CURLE_SSL_CERTPROBLEM;
	}
	return CURLE_OK;
}

/* Append response bytes under the max_response cap. */
static int
upstream_req_buffer(struct upstream_req *req, const char *ptr, size_t len)
{
	size_t max = req->max_response, cap;
	char *p;

	if (len > max - req->resp_len) {
		req->too_large = 1;
		return -1;
	}
	if (req->resp_len + len + 1 > req->resp_cap) {
		cap = req->resp_cap > 0 ? req->resp_cap : 4096;
		while (cap < req->resp_len + len + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (cap > max + 1)
			cap = max + 1;
		if ((p = realloc(req->resp, cap)) == NULL) {
			log_warnx("upstream: out of memory for a %zu byte "
				  "response",
			    req->resp_len + len);
			return -1;
		}
		req->resp = p;
		req->resp_cap = cap;
	}
	memcpy(req->resp + req->resp_len, ptr, len);
	req->resp_len += len;
	req->resp[req->resp_len] = '\0';
	return 0;
}

/*
 * CURLOPT_WRITEFUNCTION. With a data hook and a 2xx answer the body goes
 * to the hook; other answers are buffered so the caller can read the error.
 * A pause returns CURL_WRITEFUNC_PAUSE, after which curl hands the same
 * bytes over again: the hook already consumed them, so they are skipped.
 */
static size_t
upstream_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct upstream_req *req = arg;
	size_t total = size * nmemb, len = total, n;
	long status = 0;
	int r;

	if (req->state != UPSTREAM_REQ_RUNNING)
		return 0; /* cancelled: abort the transfer */
	if (req->streaming < 0) {
		(void)curl_easy_getinfo(
		    req->easy, CURLINFO_RESPONSE_CODE, &status);
		req->streaming =
		    req->data_cb != NULL && status >= 200 && status < 300;
	}
	if (!req->streaming)
		return upstream_req_buffer(req, ptr, len) == 0 ? total : 0;
	if (req->skip > 0) {
		n = req->skip < len ? req->skip : len;
		ptr += n;
		len -= n;
		req->skip -= n;
		if (len == 0)
			return total;
	}
	r = req->data_cb(req, ptr, len, req->data_arg);
	if (req->state != UPSTREAM_REQ_RUNNING)
		return 0; /* cancelled from inside the hook */
	if (r < 0) {
		req->aborted = 1;
		return 0;
	}
	if (r > 0) {
		req->skip = total;
		req->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	return total;
}

/* Append len bytes to the captured header fields, within hdr_max. */
static int
upstream_hdr_add(struct upstream_req *req, const char *p, size_t len)
{
	size_t cap;
	char *n;

	if (len > req->hdr_max - req->hdr_len) {
		req->hdr_too_large = 1;
		return -1;
	}
	if (req->hdr_len + len > req->hdr_cap) {
		cap = req->hdr_cap > 0 ? req->hdr_cap : 1024;
		while (cap < req->hdr_len + len)
			cap *= 2;
		if (cap > req->hdr_max)
			cap = req->hdr_max;
		if ((n = realloc(req->hdr, cap)) == NULL)
			return -1;
		req->hdr = n;
		req->hdr_cap = cap;
	}
	memcpy(req->hdr + req->hdr_len, p, len);
	req->hdr_len += len;
	return 0;
}

/* Whether c is optional whitespace (SP, HTAB). */
static int
upstream_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * CURLOPT_HEADERFUNCTION (upstream_req_capture_headers only): keep the
 * fields of the final response as "name\0value\0", value without
 * surrounding whitespace. A status line starts a block afresh (interim
 * 1xx answers come first); lines after the block ended are trailers and
 * are left out; an obsolete folded line joins the previous value.
 */
static size_t
upstream_header_cb(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct upstream_req *req = arg;
	size_t total = size * nitems, len = total, nlen;
	const char *colon, *v;
	int fold;

	if (req->state != UPSTREAM_REQ_RUNNING)
		return 0;
	while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		req->hdr_len = req->hdr_count = 0;
		req->hdr_done = 0;
		return total;
	}
	if (req->hdr_done)
		return total;
	if (len == 0) {
		req->hdr_done = 1;
		return total;
	}
	fold = upstream_ows(ptr[0]);
	if (fold && req->hdr_count == 0)
		return total;
	colon = fold ? ptr : memchr(ptr, ':', len);
	if (colon == NULL || (!fold && colon == ptr))
		return total; /* not a field; curl checks the syntax */
	nlen = (size_t)(colon - ptr);
	for (v = fold ? ptr : colon + 1; v < ptr + len && upstream_ows(*v);)
		v++;
	while (len > 0 && upstream_ows(ptr[len - 1]) && ptr + len > v)
		len--;
	if (fold) {
		/* The previous value's NUL becomes the joining space. */
		req->hdr[req->hdr_len - 1] = ' ';
	} else if (upstream_hdr_add(req, ptr, nlen) != 0 ||
	    upstream_hdr_add(req, "", 1) != 0)
		return 0;
	if (upstream_hdr_add(req, v, (size_t)(ptr + len - v)) != 0 ||
	    upstream_hdr_add(req, "", 1) != 0)
		return 0;
	if (!fold)
		req->hdr_count++;
	return total;
}

/* curl_mime_data_cb read function of a streamed file part. */
static size_t
upstream_part_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upstream_part *p = arg;
	struct upstream_req *req = p->req;
	size_t len = size * nitems;
	long n;

	if (req->state != UPSTREAM_REQ_RUNNING)
		return CURL_READFUNC_ABORT;
	n = p->read(req, buf, len, p->arg);
	if (req->state != UPSTREAM_REQ_RUNNING)
		return CURL_READFUNC_ABORT;
	if (n == UPSTREAM_READ_PAUSE) {
		req->paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	if (n < 0 || (size_t)n > len) {
		req->aborted = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

/* Undo a hook's pause (outside any curl callback). */
static void
upstream_req_unpause(struct upstream_req *req)
{
	struct upstream *up = req->up;
	CURLcode rc;

	up->busy++;
	up->in_curl++;
	req->paused = 0;
	/* May call the data hook right here with bytes held while paused. */
	rc = curl_easy_pause(req->easy, CURLPAUSE_CONT);
	up->in_curl--;
	if (rc != CURLE_OK && req->state == UPSTREAM_REQ_RUNNING) {
		if (req->errbuf[0] == '\0')
			snprintf(req->errbuf, sizeof(req->errbuf),
			    "cannot resume: %s", curl_easy_strerror(rc));
		req->fail_outcome = upstream_outcome_of(req, rc);
		if (req->fail_outcome == UPSTREAM_OK)
			req->fail_outcome = UPSTREAM_PROTOCOL;
		upstream_req_set_state(req, UPSTREAM_REQ_FAILING);
		upstream_schedule(up);
	}
	upstream_leave(up);
}

/*
 * The request's deadline passed. curl 7.88 applies CURLOPT_TIMEOUT_MS only
 * once a transfer has a connection: one waiting for a free one under
 * max-host-connections would wait for as long as the others take (audit
 * finding 2), so wrennd keeps the deadline itself, from the start.
 */
static void
upstream_deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream_req *req = arg;
	struct upstream *up = req->up;

	if (req->state != UPSTREAM_REQ_RUNNING &&
	    req->state != UPSTREAM_REQ_QUEUED)
		return;
	up->busy++;
	req->deadline_passed = 1;
	upstream_req_finish(req, CURLE_OPERATION_TIMEDOUT, UPSTREAM_TIMEOUT);
	upstream_leave(up);
}

/* Add a started request to the multi handle. */
static int
upstream_req_add(struct upstream_req *req)
{
	CURLMcode mc;

	if ((mc = curl_multi_add_handle(req->up->multi, req->easy)) !=
	    CURLM_OK) {
		log_warnx("upstream: cannot start transfer: %s",
		    curl_multi_strerror(mc));
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	req->in_multi = 1;
	return 0;
}

static int
upstream_work_left(const struct upstream *up)
{
	const struct upstream_req *req;

	if (!TAILQ_EMPTY(&up->dead) || !TAILQ_EMPTY(&up->dead_socks) ||
	    !TAILQ_EMPTY(&up->queued) || !TAILQ_EMPTY(&up->failing))
		return 1;
	TAILQ_FOREACH(req, &up->running, entry)
		if (req->resume_pending)
			return 1;
	return 0;
}

/* Deferred work, one loop turn after it was asked for inside curl. */
static void
upstream_reap_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream *up = arg;
	struct upstream_req *req;
	struct upstream_sock *sk;
	int again;

	up->busy++;
	while ((req = TAILQ_FIRST(&up->dead)) != NULL) {
		TAILQ_REMOVE(&up->dead, req, entry);
		upstream_req_detach(req);
		upstream_req_free(req);
	}
	while ((sk = TAILQ_FIRST(&up->dead_socks)) != NULL) {
		TAILQ_REMOVE(&up->dead_socks, sk, entry);
		upstream_sock_free(sk);
	}
	while (!up->closing && (req = TAILQ_FIRST(&up->queued)) != NULL) {
		if (upstream_req_add(req) == 0) {
			upstream_req_set_state(req, UPSTREAM_REQ_RUNNING);
			continue;
		}
		snprintf(
		    req->errbuf, sizeof(req->errbuf), "cannot start transfer");
		upstream_req_finish(req, CURLE_OK, UPSTREAM_ABORTED);
	}
	/* A resume may run hooks that change the list: rescan each time. */
	do {
		again = 0;
		TAILQ_FOREACH(req, &up->running, entry) {
			if (up->closing || !req->resume_pending)
				continue;
			req->resume_pending = 0;
			if (req->paused)
				upstream_req_unpause(req);
			again = 1;
			break;
		}
	} while (again && !up->closing);
	while (!up->closing && (req = TAILQ_FIRST(&up->failing)) != NULL)
		upstream_req_finish(req, CURLE_OK, req->fail_outcome);
	if (!up->closing && upstream_work_left(up))
		upstream_schedule(up);
	upstream_leave(up);
}

/*
 * Check the base URL (url.c) and return a copy without trailing slashes;
 * *https tells the scheme, *ret the parsed URL. It is never logged: a URL
 * that is rejected may carry a password.
 */
static char *
upstream_parse_base(const char *url, int *https, struct url **ret)
{
	const char *why = NULL;
	struct url *u = NULL;
	char *out = NULL;
	size_t n;

	if (url_parse(url, &u, &why) == 0) {
		if (u->scheme != URL_HTTP && u->scheme != URL_HTTPS)
			why = "scheme must be http or https";
		else if (u->query != NULL)
			why = "query not allowed";
	}
	if (why != NULL) {
		log_warnx("upstream: base URL: %s", why);
		url_free(u);
		return NULL;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if ((out = strndup(url, n)) == NULL) {
		log_warnx("upstream: out of memory");
		url_free(u);
		return NULL;
	}
	*https = u->tls;
	*ret = u;
	return out;
}

struct upstream *
upstream_new(struct event_base *base, const struct upstream_opts *opts)
{
	struct upstream *up;
	long maxconns;
	CURLcode rc;
	CURL *probe;

	if (base == NULL || opts == NULL || opts->base_url == NULL) {
		log_warnx("upstream: no base URL");
		return NULL;
	}
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		log_warnx("upstream: out of memory");
		return NULL;
	}
	up->base = base;
	up->reachable = -1;
	up->tls = opts->tls;
	up->creds = opts->creds;
	up->connect_timeout_ms = opts->connect_timeout_ms > 0
	    ? opts->connect_timeout_ms
	    : UPSTREAM_CONNECT_TIMEOUT_MS;
	up->max_response =
	    opts->max_response > 0 ? opts->max_response : UPSTREAM_MAX_RESPONSE;
	TAILQ_INIT(&up->queued);
	TAILQ_INIT(&up->running);
	TAILQ_INIT(&up->failing);
	TAILQ_INIT(&up->dead);
	TAILQ_INIT(&up->socks);
	TAILQ_INIT(&up->dead_socks);
	if ((up->base_url = upstream_parse_base(
		 opts->base_url, &up->pipewait, &up->url)) == NULL)
		goto fail;
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		log_warnx("upstream: cannot initialize libcurl: %s",
		    curl_easy_strerror(rc));
		goto fail;
	}
	up->global_init = 1;
	if ((up->ev_timer = evtimer_new(base, upstream_timer_event_cb, up)) ==
		NULL ||
	    (up->ev_reap = event_new(base, -1, 0, upstream_reap_cb, up)) ==
		NULL) {
		log_warnx("upstream: cannot create events");
		goto fail;
	}
	/*
	 * The pool holds as many idle connections as the host may have.
	 * Left unset, curl keeps at most 4 x the easy handles currently
	 * added, and since every request adds and removes its own handle
	 * that number rises and falls with the load: each dip closed warm
	 * connections that the next burst had to open again (audit finding
	 * 15). Every connection goes to the one base URL host.
	 */
	maxconns = opts->max_host_connections > 0 ? opts->max_host_connections
						  : UPSTREAM_MAX_HOST_CONNS;
	if ((up->multi = curl_multi_init()) == NULL) {
		log_warnx("upstream: cannot create the curl multi handle");
		goto fail;
	}
	if (curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION,
		upstream_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up) != CURLM_OK ||
	    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION,
		upstream_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up) != CURLM_OK ||
	    curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		maxconns) != CURLM_OK ||
	    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, maxconns) !=
		CURLM_OK) {
		log_warnx("upstream: cannot configure the curl multi handle");
		goto fail;
	}
	/* Fail closed if this libcurl cannot take our TLS policy. */
	if (up->tls != NULL) {
		if ((probe = curl_easy_init()) == NULL) {
			log_warnx("upstream: out of memory");
			goto fail;
		}
		rc = curl_easy_setopt(
		    probe, CURLOPT_SSL_CTX_FUNCTION, upstream_sslctx_cb);
		curl_easy_cleanup(probe);
		if (rc != CURLE_OK) {
			log_warnx("upstream: libcurl's TLS backend (%s) cannot "
				  "apply the TLS policy: %s",
			    curl_version_info(CURLVERSION_NOW)->ssl_version,
			    curl_easy_strerror(rc));
			goto fail;
		}
	}
	log_debug("upstream: ready, %s", curl_version());
	return up;
fail:
	upstream_destroy(up);
	return NULL;
}

/* Tear everything down; only outside curl and outside our frames. */
static void
upstream_destroy(struct upstream *up)
{
	struct upstream_req_list *lists[4];
	struct upstream_sock *sk;
	struct upstream_req *req;
	size_t i;

	lists[0] = &up->queued;
	lists[1] = &up->running;
	lists[2] = &up->failing;
	lists[3] = &up->dead;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		while ((req = TAILQ_FIRST(lists[i])) != NULL) {
			TAILQ_REMOVE(lists[i], req, entry);
			upstream_req_detach(req);
			upstream_req_free(req);
		}
	}
	up->requests_active = 0;
	/* Closes pooled connections (through upstream_closesocket_cb, which
	 * still needs the socket list). */
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->nsockets != 0)
		log_debug(
		    "upstream: %u sockets not closed by libcurl", up->nsockets);
	while ((sk = TAILQ_FIRST(&up->socks)) != NULL) {
		TAILQ_REMOVE(&up->socks, sk, entry);
		upstream_sock_free(sk);
	}
	while ((sk = TAILQ_FIRST(&up->dead_socks)) != NULL) {
		TAILQ_REMOVE(&up->dead_socks, sk, entry);
		upstream_sock_free(sk);
	}
	if (up->ev_timer != NULL)
		event_free(up->ev_timer);
	if (up->ev_reap != NULL)
		event_free(up->ev_reap);
	if (up->global_init)
		curl_global_cleanup();
	free(up->base_url);
	url_free(up->url);
	free(up);
}

void
upstream_free(struct upstream *up)
{
	struct upstream_req_list *lists[3];
	struct upstream_req *req;
	size_t i;

	if (up == NULL)
		return;
	if (up->busy == 0) {
		upstream_destroy(up);
		return;
	}
	/* Called from a hook or a done callback: silence every request now,
	 * tear down when the outermost frame unwinds. */
	lists[0] = &up->queued;
	lists[1] = &up->running;
	lists[2] = &up->failing;
	up->closing = 1;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		while ((req = TAILQ_FIRST(lists[i])) != NULL)
			upstream_req_set_state(req, UPSTREAM_REQ_CANCELLED);
}

void
upstream_set_creds(struct upstream *up, struct creds *creds)
{
	if (up != NULL)
		up->creds = creds;
}

const char *
upstream_base_url(const struct upstream *up)
{
	return up != NULL ? up->base_url : NULL;
}

uint64_t
upstream_requests_total(const struct upstream *up)
{
	return up != NULL ? up->requests_total : 0;
}

int
upstream_reachable(const struct upstream *up)
{
	return up != NULL ? up->reachable : -1;
}

uint64_t
upstream_connections_opened(const struct upstream *up)
{
	return up != NULL ? up->sockets_opened : 0;
}

unsigned
upstream_requests_active(const struct upstream *up)
{
	return up != NULL ? up->requests_active : 0;
}

/* Whether s is a plausible HTTP method token (upper-case letters). */
static int
upstream_method_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 16)
		return 0;
	for (; *s != '\0'; s++)
		if (*s < 'A' || *s > 'Z')
			return 0;
	return 1;
}

/* Whether path_query is printable ASCII without spaces. */
static int
upstream_path_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/*
 * A request for method on url (owned by the call, freed), whose path for
 * debug logs is path_query; the URL was checked by the caller.
 */
static struct upstream_req *
upstream_req_make(struct upstream *up, const char *method, char *url,
    const char *path_query, enum upstream_auth auth)
{
	struct upstream_req *req;
	size_t n;
	CURL *e;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		goto fail;
	req->up = up;
	req->state = UPSTREAM_REQ_NEW;
	req->auth = auth;
	req->timeout_ms = UPSTREAM_REQ_TIMEOUT_MS;
	req->max_response = up->max_response;
	req->streaming = -1;
	req->idempotent =
	    strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if ((req->method = strdup(method)) == NULL)
		goto fail;
	n = strcspn(path_query, "?");
	if ((req->path = strndup(path_query, n < 120 ? n : 120)) == NULL)
		goto fail;
	if ((req->easy = e = curl_easy_init()) == NULL)
		goto fail;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, UPSTREAM_USER_AGENT) !=
		CURLE_OK)
		goto fail;
	free(url);
	url = NULL;
	(void)curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)req);
	(void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	(void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK)
		goto fail;
#else
	(void)curl_easy_setopt(
	    e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	(void)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Never a proxy: libcurl would take one from http_proxy, https_proxy
	 * or ALL_PROXY in our environment and hand it the credential header
	 * (audit finding 11). "" turns the variables off; NOPROXY "*" too. */
	if (curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK)
		goto fail;
#if UPSTREAM_HAVE_PREREQ
	if (curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, upstream_prereq_cb) !=
	    CURLE_OK)
		goto fail;
	(void)curl_easy_setopt(e, CURLOPT_PREREQDATA, req);
#else
	/* Without a hook to stop a second send, a request that must not be
	 * repeated never rides a reused connection (curl repeats only those).
	 */
	if (!req->idempotent)
		(void)curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
#endif
	/* Send the path as built: no client-side "/../" squashing that would
	 * quietly aim the request at another resource. */
	(void)curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	/* Over https a new transfer waits for a connection that may turn
	 * out to multiplex (ALPN h2) instead of opening another. Over plain
	 * http that never happens, yet curl 7.88 makes a transfer wait for
	 * the first response on a cold pool (a quick call would sit behind
	 * a long one), so there it stays off. */
	(void)curl_easy_setopt(e, CURLOPT_PIPEWAIT, (long)up->pipewait);
	(void)curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	(void)curl_easy_setopt(
	    e, CURLOPT_CONNECTTIMEOUT_MS, up->connect_timeout_ms);
	(void)curl_easy_setopt(e, CURLOPT_BUFFERSIZE, UPSTREAM_BUFFERSIZE);
	(void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, upstream_write_cb);
	(void)curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	(void)curl_easy_setopt(
	    e, CURLOPT_OPENSOCKETFUNCTION, upstream_opensocket_cb);
	(void)curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, up);
	(void)curl_easy_setopt(
	    e, CURLOPT_CLOSESOCKETFUNCTION, upstream_closesocket_cb);
	(void)curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, up);
	(void)curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	(void)curl_easy_setopt(
	    e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (up->tls != NULL) {
		if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION,
			upstream_sslctx_cb) != CURLE_OK)
			goto fail;
		(void)curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, up);
		if (tlsctx_apply_curl(up->tls, e) != 0)
			goto fail;
#if LIBCURL_VERSION_NUM >= 0x075700
		/* A cached trust store would be shared across connections and
		 * (curl >= 7.87) set after our callback, hiding the extra
		 * CA; load it fresh for each new connection instead. */
		if (tlsctx_has_extra_ca(up->tls))
			(void)curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
	}
	return req;
fail:
	free(url);
	upstream_req_free(req);
	return NULL;
}

/* Whether method and path_query may start a request (logged if not). */
static int
upstream_req_args_ok(struct upstream *up, const char *method,
    const char *path_query, enum upstream_auth auth)
{
	char qm[40], qp[128];

	if (up == NULL || method == NULL || path_query == NULL ||
	    auth >= UPSTREAM_AUTH__MAX || up->closing)
		return 0;
	if (!upstream_method_ok(method) || !upstream_path_ok(path_query)) {
		log_warnx("upstream: invalid request \"%s\" \"%s\"",
		    log_quote(qm, sizeof(qm), method, strlen(method)),
		    log_quote(qp, sizeof(qp), path_query, strlen(path_query)));
		return 0;
	}
	return 1;
}

struct upstream_req *
upstream_req_new(struct upstream *up, const char *method,
    const char *path_query, enum upstream_auth auth)
{
	char *url = NULL;

	if (!upstream_req_args_ok(up, method, path_query, auth))
		return NULL;
	if (url_join(up->url, URL_AS_IS, path_query, &url) < 0)
		return NULL;
	return upstream_req_make(up, method, url, path_query, auth);
}

/* Whether label is one DNS label of lower-case letters, digits and '-'. */
static int
upstream_label_ok(const char *label)
{
	size_t n = strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return n > 0 && n <= 63 && label[n] == '\0' && label[0] != '-' &&
	    label[n - 1] != '-';
}

char *
upstream_proxy_host(const struct upstream *up, const char *label)
{
	char *out;

	if (up == NULL || label == NULL || !upstream_label_ok(label) ||
	    strchr(up->url->host, ':') != NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&out, "%s.%s", label, up->url->hostport) == -1) {
		errno = ENOMEM;
		return NULL;
	}
	return out;
}

struct upstream_req *
upstream_req_new_proxy(struct upstream *up, const char *label,
    const char *method, const char *path_query, enum upstream_auth auth)
{
	struct upstream_req *req;
	struct curl_slist *l;
	char *host, *url, *to;

	if (!upstream_req_args_ok(up, method, path_query, auth) ||
	    *path_query != '/')
		return NULL;
	if ((host = upstream_proxy_host(up, label)) == NULL)
		return NULL;
	/* The URL names the proxy (Host, SNI, certificate check); the TCP
	 * connection goes where the base URL points, so no DNS name is
	 * needed for the sandbox and the pool keeps the connections. */
	if (asprintf(&url, "%s://%s%s", url_scheme_name(up->url->scheme), host,
		path_query) == -1)
		url = NULL;
	free(host);
	if (url == NULL)
		return NULL;
	if (asprintf(&to, "%s.%s:%u:%s:%u", label, up->url->host, up->url->port,
		up->url->host, up->url->port) == -1) {
		free(url);
		return NULL;
	}
	req = upstream_req_make(up, method, url, path_query, auth);
	if (req == NULL || (l = curl_slist_append(NULL, to)) == NULL) {
		free(to);
		upstream_req_free(req);
		return NULL;
	}
	free(to);
	req->connect_to = l;
	if (curl_easy_setopt(req->easy, CURLOPT_CONNECT_TO, l) != CURLE_OK) {
		upstream_req_free(req);
		return NULL;
	}
	return req;
}

/* Lazily create the multipart body. */
static curl_mime *
upstream_req_mime(struct upstream_req *req)
{
	if (req->mime == NULL)
		req->mime = curl_mime_init(req->easy);
	return req->mime;
}

static int
upstream_errno(CURLcode rc)
{
	return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int
upstream_req_set_json(struct upstream_req *req, const char *body, size_t len)
{
	char *copy;

	if (req == NULL || req->state != UPSTREAM_REQ_NEW ||
	    req->mime != NULL || (body == NULL && len > 0))
		return -EINVAL;
	if ((copy = malloc(len + 1)) == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(copy, body, len);
	copy[len] = '\0';
	free(req->body);
	req->body = copy;
	req->body_len = len;
	return 0;
}

/* Append one header line to req's list. */
static int
upstream_req_header(struct upstream_req *req, const char *line)
{
	struct curl_slist *l;

	if ((l = curl_slist_append(req->headers, line)) == NULL)
		return -ENOMEM;
	req->headers = l;
	return 0;
}

int
upstream_req_set_body(struct upstream_req *req, const void *body, size_t len)
{
	int r;

	if ((r = upstream_req_set_json(req, body, len)) == 0)
		req->body_raw = 1;
	return r;
}

/* Fields the transport owns: hop-by-hop ones (RFC 9110 7.6.1), framing,
 * routing and the interim-answer handshake. */
static const char *const upstream_transport_fields[] = {"Connection",
    "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
    "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    "Host", "Content-Length", "Expect", NULL};

/* Fields only the request's credential (upstream_req_auth) sets. */
static const char *const upstream_credential_fields[] = {
    "X-API-Key", "Authorization", NULL};

static int
upstream_field_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(name, *list) == 0)
			return 1;
	return 0;
}

/* Whether value is a field value: no control bytes but HTAB (RFC 9110
 * 5.5), so no CR or LF can end the line early. */
static int
upstream_value_ok(const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *)value; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

/* 0, -EINVAL or -EPERM for a field upstream_req_add_header may send. */
static int
upstream_header_check(const char *name, const char *value)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~"
				    "0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	size_t n;

	if (name == NULL || value == NULL)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || strspn(name, tchar) != n || !upstream_value_ok(value))
		return -EINVAL;
	if (upstream_field_in(name, upstream_credential_fields))
		return -EPERM;
	if (upstream_field_in(name, upstream_transport_fields))
		return -EINVAL;
	return 0;
}

int
upstream_req_add_header(
    struct upstream_req *req, const char *name, const char *value)
{
	char *line;
	size_t n;
	int r;

	if (req == NULL || req->state != UPSTREAM_REQ_NEW)
		return -EINVAL;
	if ((r = upstream_header_check(name, value)) != 0)
		return r;
	n = strlen(name) + 2 + strlen(value);
	if (req->nheaders_added >= UPSTREAM_MAX_HEADERS ||
	    n > UPSTREAM_MAX_HEADER_BYTES - req->header_bytes)
		return -E2BIG;
	/* "Name;" is curl's way to send a field with an empty value. */
	if (asprintf(&line, *value != '\0' ? "%s: %s" : "%s;", name, value) ==
	    -1)
		return -ENOMEM;
	r = upstream_req_header(req, line);
	free(line);
	if (r != 0)
		return r;
	req->nheaders_added++;
	req->header_bytes += n;
	if (strcasecmp(name, "Content-Type") == 0)
		req->has_ctype = 1;
	return 0;
}

int
upstream_req_capture_headers(struct upstream_req *req, size_t max_bytes)
{
	if (req == NULL || req->state != UPSTREAM_REQ_NEW || max_bytes == 0 ||
	    max_bytes > UPSTREAM_MAX_CAPTURE)
		return -EINVAL;
	req->hdr_max = max_bytes;
	if (curl_easy_setopt(req->easy, CURLOPT_HEADERFUNCTION,
		upstream_header_cb) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_HEADERDATA, req) != CURLE_OK)
		return -EINVAL;
	return 0;
}

/* A new part at the end of the multipart body (call order is kept). */
static curl_mimepart *
upstream_req_part(struct upstream_req *req, const char *name, int *ret)
{
	curl_mimepart *part;
	CURLcode rc;

	*ret = -EINVAL;
	if (req == NULL || name == NULL || req->state != UPSTREAM_REQ_NEW ||
	    req->body != NULL)
		return NULL;
	*ret = -ENOMEM;
	if (upstream_req_mime(req) == NULL ||
	    (part = curl_mime_addpart(req->mime)) == NULL)
		return NULL;
	if ((rc = curl_mime_name(part, name)) != CURLE_OK) {
		*ret = upstream_errno(rc);
		return NULL;
	}
	*ret = 0;
	return part;
}

int
upstream_req_add_field(
    struct upstream_req *req, const char *name, const char *value)
{
	curl_mimepart *part;
	CURLcode rc;
	int r;

	if (value == NULL)
		return -EINVAL;
	if ((part = upstream_req_part(req, name, &r)) == NULL)
		return r;
	if ((rc = curl_mime_data(part, value, CURL_ZERO_TERMINATED)) !=
	    CURLE_OK)
		return upstream_errno(rc);
	return 0;
}

int
upstream_req_add_file(struct upstream_req *req, const char *name,
    const char *filename, const void *data, size_t len)
{
	curl_mimepart *part;
	CURLcode rc;
	int r;

	if (filename == NULL || (data == NULL && len > 0))
		return -EINVAL;
	if ((part = upstream_req_part(req, name, &r)) == NULL)
		return r;
	/* curl_mime_data reads strlen() for CURL_ZERO_TERMINATED (-1), so
	 * an empty file is given as "" of length 0. */
	if ((rc = curl_mime_filename(part, filename)) != CURLE_OK ||
	    (rc = curl_mime_type(part, "application/octet-stream")) !=
		CURLE_OK ||
	    (rc = curl_mime_data(part, len > 0 ? data : "", len)) != CURLE_OK)
		return upstream_errno(rc);
	return 0;
}

int
upstream_req_add_file_stream(struct upstream_req *req, const char *name,
    const char *filename, upstream_read_cb read, void *arg)
{
	struct upstream_part *p;
	curl_mimepart *part;
	CURLcode rc;
	int r;

	if (filename == NULL || read == NULL)
		return -EINVAL;
	if ((part = upstream_req_part(req, name, &r)) == NULL)
		return r;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->req = req;
	p->read = read;
	p->arg = arg;
	p->next = req->parts;
	req->parts = p;
	/* Unknown size: chunked upload over HTTP/1.1. No seek function, so
	 * curl cannot replay the part (no redirects are followed). */
	if ((rc = curl_mime_filename(part, filename)) != CURLE_OK ||
	    (rc = curl_mime_type(part, "application/octet-stream")) !=
		CURLE_OK ||
	    (rc = curl_mime_data_cb(
		 part, -1, upstream_part_read_cb, NULL, NULL, p)) != CURLE_OK)
		return upstream_errno(rc);
	return 0;
}

int
upstream_req_set_data_hook(
    struct upstream_req *req, upstream_data_cb cb, void *arg)
{
	if (req == NULL || req->state != UPSTREAM_REQ_NEW)
		return -EINVAL;
	req->data_cb = cb;
	req->data_arg = arg;
	return 0;
}

void
upstream_req_set_timeout(struct upstream_req *req, long ms)
{
	if (req != NULL && req->state == UPSTREAM_REQ_NEW)
		req->timeout_ms = ms > 0 ? ms : 0;
}

void
upstream_req_set_max_response(struct upstream_req *req, size_t bytes)
{
	if (req != NULL && req->state == UPSTREAM_REQ_NEW &&
	    bytes < req->up->max_response)
		req->max_response = bytes;
}

void
upstream_req_set_low_speed(
    struct upstream_req *req, long bytes_per_sec, long ms)
{
	if (req == NULL || req->state != UPSTREAM_REQ_NEW || bytes_per_sec <= 0)
		return;
	(void)curl_easy_setopt(
	    req->easy, CURLOPT_LOW_SPEED_LIMIT, bytes_per_sec);
	(void)curl_easy_setopt(
	    req->easy, CURLOPT_LOW_SPEED_TIME, (ms + 999) / 1000);
}

/* Put the credential header in the list; the local copy is wiped. */
static int
upstream_req_auth(struct upstream_req *req)
{
	char buf[UPSTREAM_AUTH_MAX];
	enum creds_kind kind;
	int r;

	if (req->auth == UPSTREAM_AUTH_NONE)
		return 0;
	kind = req->auth == UPSTREAM_AUTH_APIKEY ? CREDS_APIKEY : CREDS_JWT;
	r = creds_header(req->up->creds, kind, buf, sizeof(buf));
	if (r >= 0)
		r = upstream_req_header(req, buf);
	creds_wipe(buf, sizeof(buf));
	return r < 0 ? r : 0;
}

/* Method, body and headers, once the request is complete. */
static int
upstream_req_prepare(struct upstream_req *req)
{
	CURL *e = req->easy;
	const char *m = req->method;
	int r;

	if ((r = upstream_req_auth(req)) != 0)
		return r;
	if (req->mime != NULL) {
		if (curl_easy_setopt(e, CURLOPT_MIMEPOST, req->mime) !=
		    CURLE_OK)
			return -ENOMEM;
	} else if (req->body != NULL) {
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		(void)curl_easy_setopt(
		    e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (!req->body_raw) {
			r = upstream_req_header(
			    req, "Content-Type: application/json");
		} else {
			/* A raw body has the caller's type or none (not
			 * curl's form type), and goes at once, without
			 * waiting for a 100 Continue. */
			r = req->has_ctype
			    ? 0
			    : upstream_req_header(req, "Content-Type:");
			if (r == 0)
				r = upstream_req_header(req, "Expect:");
		}
		if (r != 0)
			return r;
	} else if (strcmp(m, "GET") == 0) {
		(void)curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		(void)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0) {
		/* An empty body: Content-Length: 0 and no form type. */
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		(void)curl_easy_setopt(
		    e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		if (!req->has_ctype &&
		    (r = upstream_req_header(req, "Content-Type:")) != 0)
			return r;
	}
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	    strcmp(m, "POST") != 0) {
		if (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
			return -ENOMEM;
	} else if ((req->mime != NULL || req->body != NULL) &&
	    strcmp(m, "POST") != 0) {
		if (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
			return -ENOMEM;
	}
	if (req->headers != NULL)
		(void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	(void)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	/* Refuse a too long buffered answer before reading it. */
	if (req->data_cb == NULL)
		(void)curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)req->max_response);
	return 0;
}

/* Start counting the request's deadline (none when timeout_ms is 0). */
static int
upstream_req_arm_deadline(struct upstream_req *req)
{
	struct timeval tv;

	if (req->timeout_ms <= 0)
		return 0;
	if ((req->ev_deadline = evtimer_new(
		 req->up->base, upstream_deadline_cb, req)) == NULL)
		return -ENOMEM;
	tv.tv_sec = req->timeout_ms / 1000;
	tv.tv_usec = (req->timeout_ms % 1000) * 1000;
	if (evtimer_add(req->ev_deadline, &tv) != 0)
		return -ENOMEM;
	return 0;
}

int
upstream_req_start(struct upstream_req *req, upstream_done_cb cb, void *arg)
{
	struct upstream *up;
	int r;

	if (req == NULL)
		return -EINVAL;
	if (req->state != UPSTREAM_REQ_NEW)
		return -EALREADY;
	up = req->up;
	if (up->closing) {
		r = -ESHUTDOWN;
		goto fail;
	}
	if ((r = upstream_req_prepare(req)) != 0)
		goto fail;
	if ((r = upstream_req_arm_deadline(req)) != 0)
		goto fail;
	req->cb = cb;
	req->arg = arg;
	if (up->in_curl > 0) {
		/* curl_multi_add_handle is refused inside curl callbacks. */
		upstream_req_set_state(req, UPSTREAM_REQ_QUEUED);
		upstream_schedule(up);
		return 0;
	}
	if ((r = upstream_req_add(req)) != 0)
		goto fail;
	/* Adding only arms curl's timer: the transfer (and so the callback)
	 * happens on a later loop turn, never inside this call. */
	upstream_req_set_state(req, UPSTREAM_REQ_RUNNING);
	return 0;
fail:
	upstream_req_free(req);
	return r;
}

void
upstream_req_resume(struct upstream_req *req)
{
	if (req == NULL || req->state != UPSTREAM_REQ_RUNNING || !req->paused)
		return;
	if (req->up->in_curl > 0) {
		req->resume_pending = 1;
		upstream_schedule(req->up);
		return;
	}
	upstream_req_unpause(req);
}

void
upstream_req_cancel(struct upstream_req *req)
{
	struct upstream *up;

	if (req == NULL)
		return;
	up = req->up;
	switch (req->state) {
	case UPSTREAM_REQ_NEW:
		upstream_req_free(req);
		return;
	case UPSTREAM_REQ_QUEUED:
	case UPSTREAM_REQ_RUNNING:
	case UPSTREAM_REQ_FAILING:
		req->cb = NULL;
		if (up->in_curl > 0 && req->in_multi) {
			/* Inside curl: the hooks now see CANCELLED and make
			 * curl stop; detach and free on the next turn. */
			upstream_req_set_state(req, UPSTREAM_REQ_CANCELLED);
			upstream_schedule(up);
			return;
		}
		upstream_req_set_state(req, UPSTREAM_REQ_CANCELLED);
		TAILQ_REMOVE(&up->dead, req, entry);
		upstream_req_detach(req);
		upstream_req_free(req);
		return;
	case UPSTREAM_REQ_DONE:	     /* freed when its callback returns */
	case UPSTREAM_REQ_CANCELLED: /* already on its way out */
	case UPSTREAM_REQ__MAX:
		return;
	}
}

char *
upstream_escape(const char *s, size_t len)
{
	char *esc, *out;

	if (s == NULL || len > INT_MAX)
		return NULL;
	if (len == 0)
		return strdup("");
	/* Unreserved, but as a whole segment they would move up the path. */
	if (len == 1 && s[0] == '.')
		return strdup("%2E");
	if (len == 2 && s[0] == '.' && s[1] == '.')
		return strdup("%2E%2E");
	/* The handle argument is ignored by libcurl (>= 7.82, and unused for
	 * conversions on POSIX before that). */
	if ((esc = curl_easy_escape(NULL, s, (int)len)) == NULL)
		return NULL;
	out = strdup(esc); /* callers free(3), not curl_free */
	curl_free(esc);
	return out;
}
