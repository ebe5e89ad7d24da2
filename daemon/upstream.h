/* SPDX-License-Identifier: MIT */
/*
 * HTTP(S) client for the Wrenn control plane: one libcurl multi handle driven
 * by the daemon's libevent base (multi_socket API, as curl's hiperfifo.c), so
 * connections are pooled and reused across every local client's calls.
 * Owns: the CURLM, per-socket events, the timer, every in-flight easy handle.
 * Called by: rest.c (pass-through methods), api-*.c handlers, wrennd.c.
 * Credentials come from creds.c per request and are wiped after use; they
 * never appear in URLs, logs or error strings produced here.
 */
#ifndef WRENND_UPSTREAM_H
#define WRENND_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct creds;
struct tlsctx;
struct upstream;
struct upstream_req;

/*
 * Which credential a request carries, in the control plane's headers: the
 * API key as X-API-Key, a user JWT as "Authorization: Bearer <jwt>". Which
 * routes take which: the cred column of protocol/PROTOCOL.md's method
 * tables, and role.h.
 */
enum upstream_auth {
	UPSTREAM_AUTH_NONE,   /* no credential header */
	UPSTREAM_AUTH_APIKEY, /* X-API-Key */
	UPSTREAM_AUTH_JWT,    /* Authorization: Bearer */
	UPSTREAM_AUTH__MAX
};

struct upstream_opts {
	const char *base_url;	   /* borrowed for the call; copied */
	const struct tlsctx *tls;  /* borrowed; must outlive the upstream */
	struct creds *creds;	   /* borrowed; must outlive the upstream */
	long connect_timeout_ms;   /* 0: 10000 */
	long max_host_connections; /* 0: 8 */
	size_t max_response;	   /* bytes buffered per response; 0: 64 MiB */
};

/* Transport-level outcome (status is meaningful only with UPSTREAM_OK). */
enum upstream_outcome {
	UPSTREAM_OK,	    /* an HTTP response arrived (any status) */
	UPSTREAM_CONNECT,   /* DNS / connect / TLS failure */
	UPSTREAM_TIMEOUT,   /* request deadline passed */
	UPSTREAM_TOO_LARGE, /* response exceeded max_response */
	UPSTREAM_PROTOCOL,  /* malformed response, connection reset mid-way */
	UPSTREAM_ABORTED,   /* a streaming callback asked to stop */
	UPSTREAM_OUTCOME__MAX
};

/* One header field of an answer (see upstream_req_capture_headers). */
struct upstream_header {
	const char *name;  /* as received */
	const char *value; /* without surrounding whitespace */
};

struct upstream_result {
	enum upstream_outcome outcome;
	long status;	  /* HTTP status, 0 without a response */
	const char *body; /* borrowed until the callback returns; NUL
			   * terminated; empty when streamed out */
	size_t body_len;
	const char *content_type; /* borrowed, may be NULL */
	const char *errmsg;	  /* borrowed transport error text, or "" */
	double total_sec;	  /* wall time of the transfer */
	/* With upstream_req_capture_headers and UPSTREAM_OK: the final
	 * answer's fields in order (no status line, no trailers), borrowed
	 * until the callback returns; else NULL and 0. */
	const struct upstream_header *headers;
	size_t nheaders;
};

/*
 * Called exactly once per started request unless it was cancelled first.
 * The request is freed by upstream after the callback returns; do not
 * cancel it from inside the callback (doing so is a no-op). It always runs
 * from the event loop on a later turn, never inside upstream_req_start, and
 * outside libcurl, so it may start or cancel other requests and even call
 * upstream_free.
 */
typedef void (*upstream_done_cb)(
    struct upstream_req *req, const struct upstream_result *res, void *arg);

/*
 * Streaming hooks (optional). data: response body bytes as they arrive;
 * return 0 to continue, 1 to pause the transfer (resume later with
 * upstream_req_resume), -1 to abort (outcome UPSTREAM_ABORTED). The bytes
 * passed are consumed in all three cases (after a pause they are not handed
 * over again). When a data hook is set the body is not buffered, but only
 * for a 2xx answer: any other status is buffered as usual (capped at
 * max_response) so the done callback can read the error. read: fill up to
 * len bytes of request body; return bytes written, 0 for end of body, -1
 * to abort, or UPSTREAM_READ_PAUSE to pause until upstream_req_resume.
 * Hooks run inside libcurl: from there upstream_req_cancel,
 * upstream_req_start and upstream_req_resume are allowed but take effect
 * on the next loop turn; after a cancel no hook or callback runs again.
 */
#define UPSTREAM_READ_PAUSE ((long)-2)
typedef int (*upstream_data_cb)(
    struct upstream_req *req, const char *buf, size_t len, void *arg);
typedef long (*upstream_read_cb)(
    struct upstream_req *req, char *buf, size_t len, void *arg);

/* Create the client; returns NULL on failure (logged). */
struct upstream *upstream_new(
    struct event_base *base, const struct upstream_opts *opts);
/*
 * Cancel every request (no callbacks) and free, closing pooled connections.
 * NULL is a no-op. Requests not yet started must be cancelled first. May be
 * called from a done callback or hook: the teardown then finishes when that
 * callback returns, and no other callback runs.
 */
void upstream_free(struct upstream *up);
/* Use creds (borrowed) for requests started from now on (SIGHUP). */
void upstream_set_creds(struct upstream *up, struct creds *creds);

/* The configured base URL without trailing slashes (borrowed, lives as
 * long as up). */
const char *upstream_base_url(const struct upstream *up);
/* Counters for daemon.status. */
uint64_t upstream_requests_total(const struct upstream *up);
/*
 * Whether the control plane answered the last request that finished with
 * an answer or a connect failure: 1 answered (any status), 0 the
 * connection (DNS, TCP, TLS) failed, -1 no such request yet.
 */
int upstream_reachable(const struct upstream *up);
unsigned upstream_requests_active(const struct upstream *up);
/* Connections to the control plane opened since start (a warm pool
 * keeps this still). */
uint64_t upstream_connections_opened(const struct upstream *up);

/*
 * Make a request for METHOD (GET, POST, ...) on path_query, a path under the
 * base URL starting with "/" (the base URL's own path prefix is kept), with
 * any query string already escaped. Returns NULL on allocation failure, or
 * (logged) for a method that is not an upper-case token or a path_query
 * with bytes that need escaping (space, controls, non-ASCII).
 * The request is owned by the caller until upstream_req_start.
 */
struct upstream_req *upstream_req_new(struct upstream *up, const char *method,
    const char *path_query, enum upstream_auth auth);
/*
 * A request for the control plane's sandbox proxy (the front routes a
 * Host of "{port}-{sandbox_id}.{domain}" to that port in the sandbox): URL
 * scheme://label.host[:port]path_query from the base URL (its path prefix is
 * not used), so the Host header, TLS SNI and certificate check name the proxy,
 * while the connection goes to the base URL's host and port
 * (CURLOPT_CONNECT_TO) and is pooled like any other. label is one DNS label
 * (lower-case letters, digits, '-'); path_query starts with
 * "/". NULL on OOM, or for the cases upstream_req_new refuses, a bad
 * label or a base URL whose host is an IPv6 literal.
 */
struct upstream_req *upstream_req_new_proxy(struct upstream *up,
    const char *label, const char *method, const char *path_query,
    enum upstream_auth auth);
/*
 * The proxy's host name for label: "label.host[:port]" of the base URL
 * (the port only when it is not the scheme's default). Caller frees; NULL
 * with errno EINVAL (label not a DNS label of lower-case letters, digits
 * and '-', or a base URL host that is an IPv6 literal) or ENOMEM.
 */
char *upstream_proxy_host(const struct upstream *up, const char *label);
/*
 * Add the request header field "name: value" (copied, in call order).
 * -EINVAL: name is not a token, value has a control byte other than
 * HTAB (so no CR or LF), or the field belongs to the transport (Host,
 * Content-Length, Transfer-Encoding, Expect, and the hop-by-hop
 * Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade); -EPERM: a
 * credential field (X-API-Key, Authorization), which only the request's
 * auth sets; -E2BIG: more than 100 fields or 64 KiB of them.
 */
int upstream_req_add_header(
    struct upstream_req *req, const char *name, const char *value);
/*
 * Copy a request body of any bytes. It goes with the Content-Type given
 * to upstream_req_add_header, else with none.
 */
int upstream_req_set_body(
    struct upstream_req *req, const void *body, size_t len);
/*
 * Hand the answer's header fields to the done callback (upstream_result
 * headers), keeping at most max_bytes (1..1 MiB) of names and values; an
 * answer with more fails with UPSTREAM_TOO_LARGE.
 */
int upstream_req_capture_headers(struct upstream_req *req, size_t max_bytes);
/* Copy a JSON request body (Content-Type: application/json). */
int upstream_req_set_json(
    struct upstream_req *req, const char *body, size_t len);
/* Add a multipart/form-data text field (copied), in call order. */
int upstream_req_add_field(
    struct upstream_req *req, const char *name, const char *value);
/* Add a multipart file part from memory (copied). */
int upstream_req_add_file(struct upstream_req *req, const char *name,
    const char *filename, const void *data, size_t len);
/* Add a multipart file part whose bytes come from the read hook. */
int upstream_req_add_file_stream(struct upstream_req *req, const char *name,
    const char *filename, upstream_read_cb read, void *arg);
/* Deliver the response body through a hook instead of buffering it. */
int upstream_req_set_data_hook(
    struct upstream_req *req, upstream_data_cb cb, void *arg);
/* Whole-request deadline in ms (0: none; default 60000). */
void upstream_req_set_timeout(struct upstream_req *req, long ms);
/* Abort (UPSTREAM_TIMEOUT) when fewer than bytes_per_sec bytes per second
 * move during ms (rounded up to whole seconds); 0 bytes: no limit. */
void upstream_req_set_low_speed(
    struct upstream_req *req, long bytes_per_sec, long ms);
/*
 * Buffer at most bytes of this response (never more than max-response);
 * a longer one fails with UPSTREAM_TOO_LARGE as soon as it is known to be
 * longer (Content-Length, or the first byte past the cap).
 */
void upstream_req_set_max_response(struct upstream_req *req, size_t bytes);
/*
 * Start the transfer; on failure (-errno) the request has been freed:
 * -ENOENT if the request's credential is not configured, -ENOSPC if it is
 * too long, -ESHUTDOWN while upstream_free is pending, -ENOMEM. A request
 * already started gives -EALREADY and is left alone.
 */
int upstream_req_start(
    struct upstream_req *req, upstream_done_cb cb, void *arg);
/* Resume a paused transfer (either direction). The data hook may be called
 * from inside this call with the bytes held while paused. */
void upstream_req_resume(struct upstream_req *req);
/* Abort and free; no callback follows. Safe before start. NULL is a no-op. */
void upstream_req_cancel(struct upstream_req *req);

/*
 * Escape one path segment or query value (caller frees); NULL on OOM.
 * Everything but RFC 3986 unreserved characters is percent-encoded, and a
 * whole "." or ".." becomes "%2E" / "%2E%2E" so a segment cannot climb the
 * path (paths are sent as built, without dot-segment removal).
 */
char *upstream_escape(const char *s, size_t len);

#endif /* WRENND_UPSTREAM_H */
