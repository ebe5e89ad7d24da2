/* SPDX-License-Identifier: MIT */
/*
 * upstream.c and tlsctx.c against a real event loop and a local HTTP(S)
 * server (tests/unit/httpd-helper.py, Python standard library): request
 * building, base path joining, connection reuse, every transport outcome,
 * cancellation, streaming both ways with pause/resume, multipart order,
 * TLS verification, and that no socket event or fd outlives upstream_free.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "creds.h"
#include "log.h"
#include "tap.h"
#include "testenv.h"
#include "tlsctx.h"
#include "upstream.h"

#define TEST_API_KEY "wrn_test_key_0123456789"
#define TEST_JWT     "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.sig"

static struct event_base *base;
static int in_start; /* set around upstream_req_start */

/* One finished request, copied out of the done callback. */
struct res {
	int calls;
	int sync_violation; /* the callback ran inside upstream_req_start */
	enum upstream_outcome outcome;
	long status;
	char *body;
	size_t body_len;
	char *ctype;
	char *errmsg;
	json_t *json;
	struct upstream_req *req;
};

static void
res_clear(struct res *r)
{
	free(r->body);
	free(r->ctype);
	free(r->errmsg);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static void
done_cb(struct upstream_req *req, const struct upstream_result *ur, void *arg)
{
	struct res *r = arg;

	r->calls++;
	if (in_start)
		r->sync_violation = 1;
	r->req = req;
	r->outcome = ur->outcome;
	r->status = ur->status;
	r->body_len = ur->body_len;
	if ((r->body = malloc(ur->body_len + 1)) != NULL) {
		memcpy(r->body, ur->body, ur->body_len);
		r->body[ur->body_len] = '\0';
	}
	r->ctype = ur->content_type != NULL ? strdup(ur->content_type) : NULL;
	r->errmsg = strdup(ur->errmsg != NULL ? ur->errmsg : "(null)");
	r->json = json_loadb(ur->body, ur->body_len, 0, NULL);
}

static void
guard_cb(evutil_socket_t fd, short events, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *counter reaches target or timeout_ms passes. */
static int
wait_for(const int *counter, int target, int timeout_ms)
{
	struct timeval tv;
	struct event *g;
	int fired = 0;

	g = evtimer_new(base, guard_cb, &fired);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(g, &tv);
	while (*counter < target && !fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(g);
	return *counter >= target;
}

static void
spin(int ms)
{
	int never = 0;

	(void)wait_for(&never, 1, ms);
}

static int
start(struct upstream_req *req, struct res *r)
{
	int rc;

	in_start = 1;
	rc = upstream_req_start(req, done_cb, r);
	in_start = 0;
	return rc;
}

/* One request, run to completion. */
static void
run(struct upstream *up, const char *method, const char *path,
    enum upstream_auth auth, const char *json, long timeout_ms, struct res *r)
{
	struct upstream_req *req;

	memset(r, 0, sizeof(*r));
	req = upstream_req_new(up, method, path, auth);
	if (req == NULL) {
		diag("upstream_req_new(%s %s) failed", method, path);
		return;
	}
	if (json != NULL)
		upstream_req_set_json(req, json, strlen(json));
	if (timeout_ms >= 0)
		upstream_req_set_timeout(req, timeout_ms);
	if (start(req, r) != 0) {
		diag("upstream_req_start(%s %s) failed", method, path);
		return;
	}
	if (!wait_for(&r->calls, 1, 15000))
		diag("%s %s: no answer", method, path);
}

static const char *
jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

/* key's value in j as text for a check: its string, "null" or "missing". */
static const char *
jval(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL)
		return "missing";
	if (json_is_null(v))
		return "null";
	return json_is_string(v) ? json_string_value(v) : "not a string";
}

static uint32_t
crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static int
count_ev_cb(const struct event_base *b, const struct event *ev, void *arg)
{
	int *n = arg;

	if (event_get_fd(ev) >= 0)
		n[0]++;
	n[1]++;
	return 0;
}

/* Events in base: [0] with an fd (socket watches), [1] all. */
static void
count_events(int n[2])
{
	n[0] = n[1] = 0;
	event_base_foreach_event(base, count_ev_cb, n);
}

/* Start the helper (extra args may be NULL); returns its pid, port out. */
static pid_t
helper_start(const char *python, const char *script, const char *a1,
    const char *a2, const char *a3, int *port)
{
	char line[64];
	struct pollfd pfd;
	size_t used = 0;
	ssize_t n;
	int p[2];
	pid_t pid;

	*port = 0;
	if (pipe(p) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(python, python, script, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (used < sizeof(line) - 1 && memchr(line, '\n', used) == NULL) {
		if (poll(&pfd, 1, 15000) <= 0)
			break;
		if ((n = read(p[0], line + used, sizeof(line) - 1 - used)) <= 0)
			break;
		used += (size_t)n;
	}
	line[used] = '\0';
	close(p[0]);
	if (sscanf(line, "PORT %d", port) != 1 || *port <= 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void
helper_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* GET /stats from the helper through upstream itself. */
static int
helper_stats(struct upstream *up, long *conns, long *reqs)
{
	struct res r;

	run(up, "GET", "/stats", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	*conns =
	    (long)json_integer_value(json_object_get(r.json, "connections"));
	*reqs = (long)json_integer_value(json_object_get(r.json, "requests"));
	res_clear(&r);
	return 0;
}

static struct upstream *
make_up(const char *url, const struct tlsctx *tls, struct creds *creds,
    size_t max_response)
{
	struct upstream_opts o;

	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.tls = tls;
	o.creds = creds;
	o.connect_timeout_ms = 5000;
	o.max_host_connections = 4;
	o.max_response = max_response;
	return upstream_new(base, &o);
}

/* ---- basic requests -------------------------------------------------- */

static void
test_basic(struct upstream *up, int port)
{
	char url[128], want[128];
	struct upstream *up2;
	struct res r;
	json_t *j;

	snprintf(want, sizeof(want), "http://127.0.0.1:%d/api", port);
	ok_str(upstream_base_url(up), want, "base URL trailing slash dropped");

	run(up, "GET", "/v1/echo?x=1&y=a%20b", UPSTREAM_AUTH_NONE, NULL, -1,
	    &r);
	ok_int(r.calls, 1, "GET: one callback");
	ok_int(r.outcome, UPSTREAM_OK, "GET: outcome");
	ok_int(r.status, 200, "GET: status");
	ok_int(r.sync_violation, 0, "GET: callback not run inside start");
	ok_str(r.ctype, "application/json", "GET: content type");
	ok_str(jstr(r.json, "path"), "/api/v1/echo?x=1&y=a%20b",
	    "GET: base path prefix kept");
	ok_str(jstr(r.json, "method"), "GET", "GET: method");
	ok_str(jstr(r.json, "user_agent"), "wrennd/" PACKAGE_VERSION,
	    "GET: user agent");
	ok_str(r.errmsg, "", "GET: empty errmsg on success");
	ok_str(jval(r.json, "x_api_key"), "null",
	    "GET: no X-API-Key with UPSTREAM_AUTH_NONE");
	ok_str(jval(r.json, "authorization"), "null",
	    "GET: no Authorization with UPSTREAM_AUTH_NONE");
	res_clear(&r);

	run(up, "POST", "/v1/echo", UPSTREAM_AUTH_NONE, "{\"a\":1}", -1, &r);
	ok_int(r.outcome, UPSTREAM_OK, "POST JSON: outcome");
	ok_int(r.status, 200, "POST JSON: status");
	ok_str(jstr(r.json, "method"), "POST", "POST JSON: method arrives");
	ok_str(jstr(r.json, "body"), "{\"a\":1}", "POST JSON: body arrives");
	ok_str(jstr(r.json, "content_type"), "application/json",
	    "POST JSON: content type arrives");
	res_clear(&r);

	run(up, "PUT", "/v1/echo", UPSTREAM_AUTH_NONE, "[]", -1, &r);
	ok_str(jstr(r.json, "method"), "PUT", "PUT JSON: method");
	ok_str(jstr(r.json, "body"), "[]", "PUT JSON: body");
	res_clear(&r);

	run(up, "DELETE", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_int(r.outcome, UPSTREAM_OK, "DELETE without body: outcome");
	ok_str(jstr(r.json, "method"), "DELETE", "DELETE without body: method");
	ok_str(jstr(r.json, "body"), "", "DELETE without body: empty body");
	res_clear(&r);

	run(up, "POST", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	j = r.json;
	ok_str(jstr(j, "method"), "POST", "POST without body: method");
	ok_str(jstr(j, "content_length"), "0",
	    "POST without body: Content-Length 0");
	ok_str(jval(j, "content_type"), "null",
	    "POST without body: no form content type");
	res_clear(&r);

	run(up, "GET", "/v1/status/418", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_int(r.outcome, UPSTREAM_OK, "status 418: outcome");
	ok_int(r.status, 418, "status 418 is captured");
	ok_str(jstr(json_object_get(r.json, "error"), "code"), "status_418",
	    "error body is captured");
	res_clear(&r);

	run(up, "GET", "/v1/text", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_str(r.ctype, "text/plain; charset=utf-8", "text: content type");
	ok_str(r.body, "plain text\n", "text: body");
	ok_size(r.body_len, 11, "text: body length");
	res_clear(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	up2 = make_up(url, NULL, NULL, 0);
	run(up2, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_str(jstr(r.json, "path"), "/v1/echo", "base without path");
	res_clear(&r);
	upstream_free(up2);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/x", port);
	up2 = make_up(url, NULL, NULL, 0);
	run(up2, "GET", "v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_str(jstr(r.json, "path"), "/api/x/v1/echo",
	    "base without trailing slash, path without leading slash");
	res_clear(&r);
	upstream_free(up2);

	ok(upstream_req_new(up, "GET", "/v1/a b", UPSTREAM_AUTH_NONE) == NULL,
	    "a path with a space is refused");
	ok(upstream_req_new(up, "get\r\n", "/v1/x", UPSTREAM_AUTH_NONE) == NULL,
	    "a bad method is refused");
}

static void
test_bad_base(void)
{
	static const char *const bad[] = {
	    "ftp://127.0.0.1/",
	    "127.0.0.1:80",
	    "http://user:pw@h/",
	    "http://:80/",
	    "http://h/?q=1",
	    "http://h/#f",
	    "",
	};
	size_t i;
	int all = 1;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (make_up(bad[i], NULL, NULL, 0) != NULL) {
			diag("accepted '%s'", bad[i]);
			all = 0;
		}
	ok(all, "invalid base URLs are refused");
}

/* ---- concurrency and connection reuse -------------------------------- */

static void
test_concurrency(struct upstream *up)
{
	enum { N = 40 };
	struct res r[N];
	long c0, q0, c1, q1;
	uint64_t total0;
	int i, okc = 0, calls = 0, sync = 0, nev[2];

	helper_stats(up, &c0, &q0);
	total0 = upstream_requests_total(up);
	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++) {
		struct upstream_req *req = upstream_req_new(
		    up, "GET", "/v1/slow?ms=20", UPSTREAM_AUTH_NONE);
		if (req == NULL || start(req, &r[i]) != 0)
			diag("cannot start request %d", i);
	}
	ok(upstream_requests_active(up) == N, "%d requests active",
	    upstream_requests_active(up));
	ok(upstream_requests_total(up) == total0 + N, "total counts them");
	for (i = 0; i < N; i++) {
		(void)wait_for(&r[i].calls, 1, 15000);
		calls += r[i].calls;
		sync += r[i].sync_violation;
		okc += r[i].outcome == UPSTREAM_OK && r[i].status == 200;
		res_clear(&r[i]);
	}
	ok_int(calls, N, "%d concurrent requests: every callback", N);
	ok_int(okc, N, "%d concurrent requests: every one answered 200", N);
	ok_int(sync, 0, "%d concurrent requests: no callback inside start", N);
	ok_int(upstream_requests_active(up), 0, "none active afterwards");
	spin(20);
	count_events(nev);
	ok(nev[0] == 0, "no socket event left once transfers are done (%d)",
	    nev[0]);
	helper_stats(up, &c1, &q1);
	diag("helper: %ld new connections for %ld requests", c1 - c0, q1 - q0);
	ok_int(q1 - q0 >= N, 1, "the helper saw every request (%ld for %d)",
	    q1 - q0, N);
	ok_int(c1 - c0 < q1 - q0, 1,
	    "connections reused: %ld connections for %ld requests", c1 - c0,
	    q1 - q0);
	ok_int(c1 - c0 <= 4, 1,
	    "at most 4 connections (the host limit): got %ld", c1 - c0);
}

/*
 * Audit finding 15: a warm pool must not churn. NCLIENTS simulated local
 * clients each make calls one after the other, the next one a loop turn
 * after the answer (a real client's round trip through the daemon), so the
 * number of easy handles in the multi handle rises and falls all the time.
 * Counted by the helper: the connections it accepted.
 */
struct pool_client {
	struct upstream *up;
	int left;  /* calls still to make */
	int *done; /* shared count of answered calls */
	int *bad;  /* shared count of failed ones */
};

static void pool_done_cb(
    struct upstream_req *req, const struct upstream_result *ur, void *arg);

static void
pool_start(struct pool_client *pc)
{
	struct upstream_req *req;

	req = upstream_req_new(pc->up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	if (req == NULL || upstream_req_start(req, pool_done_cb, pc) != 0) {
		(*pc->done)++;
		(*pc->bad)++;
		pc->left = 0;
	}
}

static void
pool_kick_cb(evutil_socket_t fd, short events, void *arg)
{
	pool_start(arg);
}

static void
pool_done_cb(
    struct upstream_req *req, const struct upstream_result *ur, void *arg)
{
	struct pool_client *pc = arg;
	struct timeval zero = {0, 0};

	(*pc->done)++;
	if (ur->outcome != UPSTREAM_OK || ur->status != 200)
		(*pc->bad)++;
	if (--pc->left > 0)
		(void)event_base_once(
		    base, -1, EV_TIMEOUT, pool_kick_cb, pc, &zero);
}

/*
 * Run nclients x calls; returns the connections the pool opened, counted
 * where curl opens its sockets (exact; the helper's accept count can lag
 * behind a loaded machine's listen queue). *bad: the calls that failed.
 */
static long
pool_run(struct upstream *up, int nclients, int calls, int *bad)
{
	struct pool_client pc[64];
	uint64_t c0;
	int i, done = 0;

	assert(nclients <= 64);
	c0 = upstream_connections_opened(up);
	*bad = 0;
	for (i = 0; i < nclients; i++) {
		pc[i].up = up;
		pc[i].left = calls;
		pc[i].done = &done;
		pc[i].bad = bad;
		pool_start(&pc[i]);
	}
	if (!wait_for(&done, nclients * calls, 120000))
		diag("pool: only %d of %d calls answered", done,
		    nclients * calls);
	return (long)(upstream_connections_opened(up) - c0);
}

static void
test_pool_churn(int port, long limit)
{
	enum { NCLIENTS = 64, CALLS = 20 };
	struct upstream_opts o;
	struct upstream *up;
	char url[128];
	long warm, conns, hc0, hq0, hc1, hq1;
	int bad_warm, bad;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.max_host_connections = limit;
	up = upstream_new(base, &o);
	if (limit == 0)
		limit = 8; /* upstream.h's default */
	/* Warm up: every connection the limit allows gets opened. */
	warm = pool_run(up, NCLIENTS, 2, &bad_warm);
	helper_stats(up, &hc0, &hq0);
	conns = pool_run(up, NCLIENTS, CALLS, &bad);
	helper_stats(up, &hc1, &hq1);
	diag("max-host-connections %ld: %ld connections to warm up, then %ld "
	     "for %d calls (the helper accepted %ld meanwhile)",
	    limit, warm, conns, NCLIENTS * CALLS, hc1 - hc0);
	ok(bad_warm == 0, "finding 15, limit %ld: warming up, %d calls failed",
	    limit, bad_warm);
	ok(bad == 0, "finding 15, limit %ld: %d calls failed", limit, bad);
	ok(warm <= limit + 2,
	    "finding 15, limit %ld: warming up opens at most the limit + 2 "
	    "connections (%ld)",
	    limit, warm);
	ok(conns <= 2,
	    "finding 15, limit %ld: a warm pool opens at most 2 more "
	    "connections for %d calls from %d clients (opened %ld)",
	    limit, NCLIENTS * CALLS, NCLIENTS, conns);
	upstream_free(up);
}

/* A cold pool must not hold a quick call behind a slow one (PIPEWAIT). */
static void
test_cold_pool(int port)
{
	struct upstream_req *req;
	struct upstream *up;
	struct res slow, quick;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	up = make_up(url, NULL, NULL, 0);
	memset(&slow, 0, sizeof(slow));
	memset(&quick, 0, sizeof(quick));
	req =
	    upstream_req_new(up, "GET", "/v1/slow?ms=600", UPSTREAM_AUTH_NONE);
	start(req, &slow);
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	start(req, &quick);
	(void)wait_for(&quick.calls, 1, 5000);
	ok_int(quick.calls, 1, "cold pool: the quick request is answered");
	ok_int(slow.calls, 0,
	    "cold pool: a quick request is not queued behind a slow one");
	(void)wait_for(&slow.calls, 1, 5000);
	ok_int(slow.calls, 1, "cold pool: slow one done");
	ok_int(slow.outcome, UPSTREAM_OK, "cold pool: slow one succeeded");
	res_clear(&slow);
	res_clear(&quick);
	upstream_free(up);
}

/* ---- no re-sent requests (audit finding 16) ----------------------------- */

/* How many requests the helper's /v1/drop route saw with tag. */
static long
helper_hits(struct upstream *up, const char *tag)
{
	struct res r;
	long n;

	run(up, "GET", "/stats", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	n = (long)json_integer_value(
	    json_object_get(json_object_get(r.json, "hits"), tag));
	res_clear(&r);
	return n;
}

/* method on a warm connection that is reset once the request arrived. */
static void
drop_once(struct upstream *up, const char *method, const char *tag,
    const char *json, struct res *r, long *hits)
{
	char path[128];

	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, r);
	res_clear(r);
	snprintf(path, sizeof(path), "/v1/drop?tag=%s", tag);
	run(up, method, path, UPSTREAM_AUTH_NONE, json, -1, r);
	*hits = helper_hits(up, tag);
}

static void
test_no_resend(int port)
{
	static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
	struct upstream_opts o;
	struct upstream *up;
	char url[128], tag[32];
	struct res r;
	long hits;
	size_t i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.max_host_connections = 1; /* the warm connection is the one used */
	up = upstream_new(base, &o);

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(tag, sizeof(tag), "%s-json", methods[i]);
		drop_once(up, methods[i], tag, "{\"name\":\"x\"}", &r, &hits);
		ok(hits == 1,
		    "finding 16: a %s with a body reset before any answer "
		    "reaches the server once (%ld times)",
		    methods[i], hits);
		ok_int(r.calls, 1, "finding 16: the %s has one callback",
		    methods[i]);
		ok_int(r.outcome, UPSTREAM_PROTOCOL,
		    "finding 16: the %s fails with UPSTREAM_PROTOCOL",
		    methods[i]);
		ok_strstr(r.errmsg, "not sent again",
		    "finding 16: the %s error says why", methods[i]);
		res_clear(&r);
	}
	drop_once(up, "POST", "post-empty", NULL, &r, &hits);
	ok_int(hits, 1,
	    "finding 16: a POST without a body is not sent again either");
	ok_int(r.outcome, UPSTREAM_PROTOCOL,
	    "finding 16: the POST without a body fails with "
	    "UPSTREAM_PROTOCOL");
	res_clear(&r);

	drop_once(up, "GET", "get-once", NULL, &r, &hits);
	ok_int(hits, 2,
	    "finding 16: a GET reset before any answer is sent again once");
	ok_int(
	    r.outcome, UPSTREAM_OK, "finding 16: the GET sent again succeeds");
	ok_int(r.status, 200, "finding 16: the GET sent again answers 200");
	res_clear(&r);
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	res_clear(&r);
	run(up, "GET", "/v1/drop?tag=get-always&times=100", UPSTREAM_AUTH_NONE,
	    NULL, -1, &r);
	hits = helper_hits(up, "get-always");
	ok_int(hits, 2, "finding 16: a GET is tried at most twice");
	ok_int(r.outcome, UPSTREAM_PROTOCOL,
	    "finding 16: a GET reset twice fails with UPSTREAM_PROTOCOL");
	res_clear(&r);
	upstream_free(up);
}

/* ---- deadline while waiting for a connection (audit finding 2) -------- */

static void
test_queue_deadline(int port)
{
	struct upstream_opts o;
	struct upstream_req *req;
	struct upstream *up;
	struct res slow, quick;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.max_host_connections = 1;
	up = upstream_new(base, &o);
	memset(&slow, 0, sizeof(slow));
	memset(&quick, 0, sizeof(quick));
	req =
	    upstream_req_new(up, "GET", "/v1/slow?ms=4000", UPSTREAM_AUTH_NONE);
	upstream_req_set_timeout(req, 0);
	start(req, &slow);
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_set_timeout(req, 300);
	start(req, &quick);
	(void)wait_for(&quick.calls, 1, 10000);
	ok_int(quick.calls, 1,
	    "finding 2: the request waiting for the only connection ends");
	ok_int(quick.outcome, UPSTREAM_TIMEOUT,
	    "finding 2: it ends at its own deadline");
	ok_int(slow.calls, 0, "finding 2: it ends before the long one");
	ok_strstr(quick.errmsg, "waiting for an upstream connection",
	    "finding 2: the error says it was still waiting");
	(void)wait_for(&slow.calls, 1, 10000);
	ok_int(slow.calls, 1, "finding 2: the long request still finishes");
	ok_int(
	    slow.outcome, UPSTREAM_OK, "finding 2: the long request succeeds");
	res_clear(&slow);
	res_clear(&quick);
	upstream_free(up);
}

/* ---- proxy variables (audit finding 11) -------------------------------- */

static void
test_proxy_env(int port)
{
	static const char *const vars[] = {"http_proxy", "HTTP_PROXY",
	    "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"};
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct creds *c;
	struct conf *cfg;
	struct upstream *up;
	char url[128], proxy[64], err[256], seen[4096];
	struct res r;
	ssize_t n = 0;
	size_t i;
	int s, a;

	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(s, 8) != 0 ||
	    getsockname(s, (struct sockaddr *)&sin, &slen) != 0) {
		ok(0, "finding 11: proxy listener");
		return;
	}
	snprintf(
	    proxy, sizeof(proxy), "http://127.0.0.1:%d", ntohs(sin.sin_port));
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	cfg = conf_new();
	setenv("WRENN_API_KEY", TEST_API_KEY, 1);
	c = creds_load(cfg, err, sizeof(err));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	up = make_up(url, NULL, c, 0);
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_APIKEY, NULL, 3000, &r);
	ok_int(r.outcome, UPSTREAM_OK,
	    "finding 11: with proxy variables set the request succeeds");
	ok_str(jstr(r.json, "x_api_key"), TEST_API_KEY,
	    "finding 11: with proxy variables set the key still goes to the "
	    "base URL's host");
	res_clear(&r);
	if ((a = accept(s, NULL, NULL)) >= 0) {
		spin(100);
		n = read(a, seen, sizeof(seen) - 1);
		close(a);
	}
	seen[n > 0 ? n : 0] = '\0';
	ok_int(a < 0, 1,
	    "finding 11: the proxy from the environment saw no "
	    "connection");
	ok_null(strstr(seen, TEST_API_KEY),
	    "finding 11: the key never reached the proxy");
	upstream_free(up);
	creds_free(c);
	conf_unref(cfg);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	close(s);
}

/* ---- transport outcomes ---------------------------------------------- */

static void
test_outcomes(struct upstream *up)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct upstream *dead;
	struct timeval t0, t1;
	char url[128];
	struct res r;
	double el;
	int s;

	gettimeofday(&t0, NULL);
	run(up, "GET", "/v1/slow?ms=3000", UPSTREAM_AUTH_NONE, NULL, 300, &r);
	gettimeofday(&t1, NULL);
	el = (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6;
	diag("deadline of 300 ms on a 3 s answer: ended after %.2f s", el);
	ok_int(r.calls, 1, "deadline: one callback");
	ok_int(r.outcome, UPSTREAM_TIMEOUT,
	    "deadline -> UPSTREAM_TIMEOUT, not the answer after 3 s");
	ok_nonnull(r.errmsg, "deadline: an error message");
	ok_int(r.errmsg != NULL ? *r.errmsg != '\0' : 0, 1,
	    "deadline: the error message is not empty: '%s'",
	    r.errmsg ? r.errmsg : "(null)");
	res_clear(&r);

	/* A bound socket that does not listen refuses connections. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(s, (struct sockaddr *)&sin, &slen);
	snprintf(
	    url, sizeof(url), "http://127.0.0.1:%d/api", ntohs(sin.sin_port));
	dead = make_up(url, NULL, NULL, 0);
	run(dead, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_int(r.calls, 1, "connection refused: one callback");
	ok_int(r.outcome, UPSTREAM_CONNECT,
	    "connection refused -> UPSTREAM_CONNECT: %s",
	    r.errmsg ? r.errmsg : "");
	ok_int(r.status, 0, "connection refused: no status");
	ok_int(r.sync_violation, 0,
	    "connection refused: callback not run inside start");
	res_clear(&r);
	upstream_free(dead);
	close(s);

	run(up, "GET", "/v1/reset", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_int(r.calls, 1, "reset mid-response: one callback");
	ok_int(r.outcome, UPSTREAM_PROTOCOL,
	    "reset mid-response -> UPSTREAM_PROTOCOL: %s",
	    r.errmsg ? r.errmsg : "");
	res_clear(&r);

	/* The pool recovers after the reset connection. */
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok(r.outcome == UPSTREAM_OK, "next request after a reset works");
	res_clear(&r);
}

static void
test_too_large(int port)
{
	struct upstream *small;
	char url[128];
	struct res r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/", port);
	small = make_up(url, NULL, NULL, 1000);
	run(small, "GET", "/v1/big?n=5000", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok(r.outcome == UPSTREAM_TOO_LARGE,
	    "Content-Length over max_response -> TOO_LARGE (%d): %s", r.outcome,
	    r.errmsg);
	res_clear(&r);
	run(small, "GET", "/v1/big?n=5000&chunked=1", UPSTREAM_AUTH_NONE, NULL,
	    -1, &r);
	ok(r.outcome == UPSTREAM_TOO_LARGE,
	    "chunked body over max_response -> TOO_LARGE (%d): %s", r.outcome,
	    r.errmsg);
	res_clear(&r);
	run(small, "GET", "/v1/big?n=1000&chunked=1", UPSTREAM_AUTH_NONE, NULL,
	    -1, &r);
	ok_int(r.outcome, UPSTREAM_OK, "exactly max_response is fine");
	ok_size(r.body_len, 1000, "exactly max_response: every byte");
	res_clear(&r);
	upstream_free(small);
}

/* ---- cancellation ----------------------------------------------------- */

static void
cancel_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	upstream_req_cancel(arg);
}

static int
cancel_in_hook(struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	int *n = arg;

	if ((*n)++ == 0)
		upstream_req_cancel(req);
	return 0;
}

struct pair {
	struct upstream_req *other;
	const struct res *other_res; /* other is freed once answered */
	struct res r;
};

static void
cancel_other_cb(
    struct upstream_req *req, const struct upstream_result *ur, void *arg)
{
	struct pair *p = arg;

	p->r.calls++;
	if (p->other_res->calls == 0)
		upstream_req_cancel(p->other);
	upstream_req_cancel(req); /* own request: a no-op */
}

static void
test_cancel(struct upstream *up)
{
	struct upstream_req *req, *b;
	struct timeval tv = {0, 50000};
	struct event *ev;
	struct pair p;
	struct res r;
	int hooks = 0;

	req = upstream_req_new(up, "POST", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_set_json(req, "{}", 2);
	upstream_req_add_field(req, "a", "b");
	upstream_req_cancel(req);
	upstream_req_cancel(NULL);
	ok(1, "cancel before start");

	memset(&r, 0, sizeof(r));
	req =
	    upstream_req_new(up, "GET", "/v1/slow?ms=400", UPSTREAM_AUTH_NONE);
	start(req, &r);
	ev = evtimer_new(base, cancel_timer_cb, req);
	evtimer_add(ev, &tv);
	spin(800);
	event_free(ev);
	ok(r.calls == 0, "cancel in flight: no callback");
	ok(upstream_requests_active(up) == 0, "cancel in flight: not active");
	res_clear(&r);

	memset(&r, 0, sizeof(r));
	req = upstream_req_new(
	    up, "GET", "/v1/big?n=500000&chunked=1", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, cancel_in_hook, &hooks);
	start(req, &r);
	spin(500);
	ok_int(r.calls, 0, "cancel from inside the data hook: no callback");
	ok_int(
	    hooks, 1, "cancel from inside the data hook: no more hook calls");
	ok(upstream_requests_active(up) == 0, "cancel from hook: not active");

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	b = upstream_req_new(up, "GET", "/v1/slow?ms=500", UPSTREAM_AUTH_NONE);
	start(b, &r);
	p.other = b;
	p.other_res = &r;
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_start(req, cancel_other_cb, &p);
	spin(900);
	ok_int(p.r.calls, 1, "cancel another request: the done callback ran");
	ok_int(r.calls, 0,
	    "cancel another request from a done callback: no callback for it");
	ok(upstream_requests_active(up) == 0, "nothing left active");

	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok(r.outcome == UPSTREAM_OK, "client still works after cancels");
	res_clear(&r);
}

/* Things a data hook may do to the client from inside libcurl. */
struct hookplay {
	struct upstream *up;
	struct upstream_req *paused; /* another request, paused */
	struct res started;	     /* the request started from the hook */
	int calls;
	int mode; /* 0 start+resume other, 1 cancel self while paused,
		   * 2 upstream_free */
};

static int
hookplay_hook(struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	struct hookplay *h = arg;
	struct upstream_req *n;

	if (h->calls++ > 0)
		return 0;
	switch (h->mode) {
	case 0:
		n = upstream_req_new(
		    h->up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
		if (n != NULL && start(n, &h->started) != 0)
			diag("start from hook failed");
		upstream_req_resume(h->paused);
		return 0;
	case 1:
		return 1;
	default:
		upstream_free(h->up);
		return 0;
	}
}

static int
pause_once_hook(
    struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	int *n = arg;

	return (*n)++ == 0 ? 1 : 0;
}

/* Pause at the first call, abort at the next (maybe inside the resume). */
struct pabort {
	struct upstream_req *req;
	struct event *ev;
	int calls, in_resume, abort_in_resume;
};

static void
pabort_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pabort *p = arg;

	p->in_resume = 1;
	in_start = 1; /* the done callback must not run in here either */
	upstream_req_resume(p->req);
	in_start = 0;
	p->in_resume = 0;
}

static int
pabort_hook(struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	struct pabort *p = arg;
	struct timeval tv = {0, 20000};

	p->req = req;
	if (p->calls++ == 0) {
		evtimer_add(p->ev, &tv);
		return 1;
	}
	p->abort_in_resume = p->in_resume;
	return -1;
}

static void
test_hook_reentry(int port)
{
	struct upstream_req *req, *b;
	struct hookplay h;
	struct res r, rb;
	char url[128];
	int nb = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);

	/* From a hook: start a request, resume another one. */
	memset(&h, 0, sizeof(h));
	memset(&r, 0, sizeof(r));
	memset(&rb, 0, sizeof(rb));
	h.up = make_up(url, NULL, NULL, 0);
	b = upstream_req_new(
	    h.up, "GET", "/v1/big?n=300000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(b, pause_once_hook, &nb);
	start(b, &rb);
	spin(200);
	ok_int(nb, 1, "other request paused in its hook");
	ok_int(rb.calls, 0, "other request paused: no callback yet");
	h.paused = b;
	req =
	    upstream_req_new(h.up, "GET", "/v1/big?n=1000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, hookplay_hook, &h);
	start(req, &r);
	(void)wait_for(&h.started.calls, 1, 5000);
	(void)wait_for(&rb.calls, 1, 5000);
	(void)wait_for(&r.calls, 1, 5000);
	ok_int(r.outcome, UPSTREAM_OK, "the request with the hook succeeds");
	ok_int(h.started.calls, 1,
	    "a request started from inside a hook is answered");
	ok_int(h.started.outcome, UPSTREAM_OK,
	    "a request started from inside a hook succeeds");
	ok_int(h.started.sync_violation, 0,
	    "a request started from inside a hook: callback not inside start");
	ok_int(rb.calls, 1,
	    "a request resumed from inside another's hook finishes");
	ok_int(rb.outcome, UPSTREAM_OK,
	    "a request resumed from inside another's hook succeeds");
	res_clear(&r);
	res_clear(&rb);
	res_clear(&h.started);

	/* Cancel a paused request. */
	h.mode = 1;
	h.calls = 0;
	req = upstream_req_new(
	    h.up, "GET", "/v1/big?n=300000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, hookplay_hook, &h);
	start(req, &r);
	spin(200);
	upstream_req_cancel(req);
	spin(100);
	ok_int(h.calls, 1, "cancel while paused: no more hook calls");
	ok_int(r.calls, 0, "cancel while paused: no callback");
	ok_int(upstream_requests_active(h.up), 0,
	    "cancel while paused: not active");
	upstream_free(h.up);

	/* upstream_free from inside a hook, with others in flight. */
	memset(&h, 0, sizeof(h));
	memset(&r, 0, sizeof(r));
	memset(&rb, 0, sizeof(rb));
	h.mode = 2;
	h.up = make_up(url, NULL, NULL, 0);
	b = upstream_req_new(
	    h.up, "GET", "/v1/slow?ms=300", UPSTREAM_AUTH_NONE);
	start(b, &rb);
	req = upstream_req_new(
	    h.up, "GET", "/v1/big?n=100000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, hookplay_hook, &h);
	start(req, &r);
	spin(600);
	ok_int(h.calls, 1,
	    "upstream_free from inside a data hook: no more hook calls");
	ok_int(r.calls, 0,
	    "upstream_free from inside a data hook: no callback for it");
	ok_int(rb.calls, 0,
	    "upstream_free from inside a data hook: no callback for another");
}

static void
test_pause_abort(struct upstream *up)
{
	struct upstream_req *req;
	struct pabort p;
	struct res r;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.ev = evtimer_new(base, pabort_resume_cb, &p);
	req = upstream_req_new(
	    up, "GET", "/v1/big?n=1000000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, pabort_hook, &p);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 5000);
	diag(
	    "abort %s the resume call", p.abort_in_resume ? "inside" : "after");
	ok_int(r.calls, 1, "abort after a pause: one callback");
	ok_int(r.outcome, UPSTREAM_ABORTED,
	    "abort after a pause -> ABORTED: %s",
	    r.errmsg ? r.errmsg : "(null)");
	ok_int(p.calls, 2, "abort after a pause: the hook ran twice");
	ok_int(r.sync_violation, 0,
	    "abort after a pause: callback not inside resume");
	ok(upstream_requests_active(up) == 0, "nothing active");
	res_clear(&r);
	event_free(p.ev);
}

static long
cancel_from_read(struct upstream_req *req, char *buf, size_t len, void *arg)
{
	*(int *)arg += 1;
	upstream_req_cancel(req);
	return 0;
}

/* ---- streaming -------------------------------------------------------- */

/* A streamed request its hook pauses, resumed by a timer a little later. */
struct pacer {
	struct upstream_req *req;
	struct event *ev_resume;
	int pauses, resumes;
};

static void
pacer_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pacer *pc = arg;

	pc->resumes++;
	upstream_req_resume(pc->req);
}

/* Before the hook returns its pause: the resume in usec. */
static void
pacer_pause(struct pacer *pc, long usec)
{
	struct timeval tv = {0, usec};

	pc->pauses++;
	evtimer_add(pc->ev_resume, &tv);
}

static void
pacer_init(struct pacer *pc)
{
	pc->ev_resume = evtimer_new(base, pacer_resume_cb, pc);
}

/* A paced transfer paused a few times, each pause resumed; frees it. */
static void
pacer_check(struct pacer *pc, const char *what)
{
	ok_int(pc->pauses >= 3, 1, "%s: paused at least 3 times (%d)", what,
	    pc->pauses);
	ok_int(pc->resumes, pc->pauses, "%s: resumed as often as paused", what);
	event_free(pc->ev_resume);
	pc->ev_resume = NULL;
}

struct down {
	struct pacer pc;
	size_t off;	   /* bytes seen */
	size_t next_pause; /* offset of the next pause */
	int bad;	   /* pattern mismatch */
	int mode;	   /* 0 normal, 1 abort at first call */
};

static int
down_hook(struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	struct down *d = arg;
	size_t i;

	if (d->mode == 1)
		return -1;
	d->pc.req = req;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] != (d->off + i) % 251)
			d->bad++;
	d->off += len;
	if (d->off >= d->next_pause) {
		d->next_pause = d->off + 256 * 1024;
		pacer_pause(&d->pc, 10000);
		return 1;
	}
	return 0;
}

static void
test_download(struct upstream *up, const char *path, size_t n)
{
	struct upstream_req *req;
	struct down d;
	struct res r;

	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	pacer_init(&d.pc);
	d.next_pause = 100 * 1024;
	req = upstream_req_new(up, "GET", path, UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, down_hook, &d);
	upstream_req_set_timeout(req, 30000);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 30000);
	ok_int(r.outcome, UPSTREAM_OK, "%s: streamed download finished", path);
	ok_int(r.status, 200, "%s: status", path);
	ok_size(r.body_len, 0, "%s: nothing buffered for the callback", path);
	ok_size(d.off, n, "%s: every byte once", path);
	ok_int(d.bad, 0, "%s: every byte in order", path);
	pacer_check(&d.pc, path);
	res_clear(&r);
}

static void
test_stream_misc(struct upstream *up)
{
	struct upstream_req *req;
	struct down d;
	struct res r;

	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	d.mode = 1;
	req =
	    upstream_req_new(up, "GET", "/v1/big?n=100000", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, down_hook, &d);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok(r.outcome == UPSTREAM_ABORTED, "data hook -1 -> ABORTED (%d): %s",
	    r.outcome, r.errmsg);
	res_clear(&r);

	memset(&d, 0, sizeof(d));
	d.mode = 1;
	req = upstream_req_new(up, "GET", "/v1/status/404", UPSTREAM_AUTH_NONE);
	upstream_req_set_data_hook(req, down_hook, &d);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok_int(r.outcome, UPSTREAM_OK, "data hook, 404: outcome");
	ok_int(r.status, 404, "data hook, 404: status");
	ok_nonnull(r.json,
	    "data hook: a 404 body is buffered for the callback (%s)",
	    r.body ? r.body : "");
	res_clear(&r);
}

struct up_src {
	struct pacer pc;
	size_t sent, total, next_pause;
	int calls, mode;
	uint32_t crc;
};

static long
up_read(struct upstream_req *req, char *buf, size_t len, void *arg)
{
	struct up_src *s = arg;
	size_t i, n;

	s->calls++;
	s->pc.req = req;
	if (s->mode == 1)
		return -1;
	if (s->sent >= s->next_pause && s->sent < s->total) {
		s->next_pause = s->sent + 200 * 1024;
		pacer_pause(&s->pc, 5000);
		return UPSTREAM_READ_PAUSE;
	}
	n = s->total - s->sent;
	if (n > len)
		n = len;
	for (i = 0; i < n; i++)
		buf[i] = (char)((s->sent + i) % 251);
	s->crc = crc32_update(s->crc, (unsigned char *)buf, n);
	s->sent += n;
	return (long)n;
}

static void
test_multipart(struct upstream *up)
{
	static const char file[] = "hello\0world";
	struct upstream_req *req;
	struct up_src s;
	json_t *parts, *p;
	struct res r;
	const char *order;
	char names[128];
	size_t i;
	int calls;

	req = upstream_req_new(up, "POST", "/v1/upload", UPSTREAM_AUTH_NONE);
	upstream_req_add_field(req, "a", "1");
	upstream_req_add_field(req, "path", "/home/user/x.bin");
	upstream_req_add_file(req, "file", "x.bin", file, sizeof(file));
	upstream_req_add_field(req, "b", "2");
	memset(&r, 0, sizeof(r));
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	parts = json_object_get(r.json, "parts");
	names[0] = '\0';
	json_array_foreach(parts, i, p) {
		strncat(
		    names, jstr(p, "name"), sizeof(names) - strlen(names) - 2);
		strcat(names, ",");
	}
	ok_int(r.outcome, UPSTREAM_OK, "multipart: outcome");
	ok_str(names, "a,path,file,b,", "multipart parts in call order");
	p = json_array_get(parts, 2);
	ok_str(jstr(p, "filename"), "x.bin", "in-memory file part: file name");
	ok_int(json_integer_value(json_object_get(p, "len")),
	    (json_int_t)sizeof(file), "in-memory file part: length");
	ok_int((uint32_t)json_integer_value(json_object_get(p, "crc32")),
	    crc32_update(0, (const unsigned char *)file, sizeof(file)),
	    "in-memory file part: CRC-32");
	ok_str(jstr(json_array_get(parts, 1), "value"), "/home/user/x.bin",
	    "field value intact");
	res_clear(&r);

	/* Streamed file part, path first, with read-side pauses. */
	memset(&s, 0, sizeof(s));
	s.total = 1536 * 1024 + 7;
	s.next_pause = 64 * 1024;
	pacer_init(&s.pc);
	req = upstream_req_new(up, "POST", "/v1/upload", UPSTREAM_AUTH_NONE);
	upstream_req_add_field(req, "path", "/tmp/big.bin");
	upstream_req_add_file_stream(req, "file", "big.bin", up_read, &s);
	upstream_req_set_timeout(req, 30000);
	memset(&r, 0, sizeof(r));
	start(req, &r);
	(void)wait_for(&r.calls, 1, 30000);
	parts = json_object_get(r.json, "parts");
	p = json_array_get(parts, 1);
	order = jstr(json_array_get(parts, 0), "name");
	ok_int(r.outcome, UPSTREAM_OK, "streamed upload: outcome");
	ok_int(r.status, 200, "streamed upload: status");
	ok_size(json_array_size(parts), 2, "streamed upload: two parts");
	ok_str(order, "path", "streamed upload: path part first");
	ok_str(jstr(p, "name"), "file", "streamed upload: file part second");
	ok_int(json_integer_value(json_object_get(p, "len")),
	    (json_int_t)s.total, "streamed upload: %zu bytes arrive", s.total);
	ok_int((uint32_t)json_integer_value(json_object_get(p, "crc32")), s.crc,
	    "streamed upload: the bytes arrive intact (CRC-32)");
	pacer_check(&s.pc, "streamed upload");
	ok(json_is_true(json_object_get(r.json, "chunked")),
	    "streamed upload used chunked encoding");
	res_clear(&r);

	memset(&s, 0, sizeof(s));
	s.mode = 1;
	req = upstream_req_new(up, "POST", "/v1/upload", UPSTREAM_AUTH_NONE);
	upstream_req_add_file_stream(req, "file", "x", up_read, &s);
	memset(&r, 0, sizeof(r));
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok(r.outcome == UPSTREAM_ABORTED, "read hook -1 -> ABORTED (%d): %s",
	    r.outcome, r.errmsg);
	res_clear(&r);

	calls = 0;
	req = upstream_req_new(up, "POST", "/v1/upload", UPSTREAM_AUTH_NONE);
	upstream_req_add_field(req, "path", "/x");
	upstream_req_add_file_stream(
	    req, "file", "x", cancel_from_read, &calls);
	memset(&r, 0, sizeof(r));
	start(req, &r);
	spin(300);
	ok_int(calls, 1, "cancel from inside the read hook: one hook call");
	ok_int(r.calls, 0, "cancel from inside the read hook: no callback");
	ok_int(upstream_requests_active(up), 0,
	    "cancel from inside the read hook: not active");
}

/* ---- credentials ------------------------------------------------------ */

static void
test_auth(int port)
{
	struct upstream_req *req;
	struct creds *c, *c2;
	struct upstream *up;
	struct conf *cfg;
	char url[128], err[256];
	struct res r;

	if ((cfg = conf_new()) == NULL) {
		ok(0, "conf_new");
		return;
	}
	setenv("WRENN_API_KEY", TEST_API_KEY, 1);
	setenv("WRENN_TOKEN", TEST_JWT, 1);
	c = creds_load(cfg, err, sizeof(err));
	c2 = creds_load(cfg, err, sizeof(err)); /* environment is scrubbed */
	ok_nonnull(c, "credentials loaded");
	ok_nonnull(c2, "credentials loaded again from a scrubbed environment");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	up = make_up(url, NULL, c, 0);

	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_APIKEY, NULL, -1, &r);
	ok_str(jstr(r.json, "x_api_key"), TEST_API_KEY,
	    "UPSTREAM_AUTH_APIKEY sends X-API-Key");
	ok_str(jval(r.json, "authorization"), "null",
	    "UPSTREAM_AUTH_APIKEY sends no Authorization");
	res_clear(&r);
	run(up, "POST", "/v1/echo", UPSTREAM_AUTH_JWT, "{}", -1, &r);
	ok_str(jstr(r.json, "authorization"), "Bearer " TEST_JWT,
	    "UPSTREAM_AUTH_JWT sends Authorization: Bearer");
	ok_str(jval(r.json, "x_api_key"), "null",
	    "UPSTREAM_AUTH_JWT sends no X-API-Key");
	res_clear(&r);

	upstream_set_creds(up, c2);
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_JWT);
	memset(&r, 0, sizeof(r));
	ok_int(start(req, &r), -ENOENT,
	    "missing credential: start fails with -ENOENT");
	ok_int(r.calls, 0, "missing credential: no callback");
	upstream_free(up);
	creds_free(c);
	creds_free(c2);
	conf_unref(cfg);
}

/* ---- the sandbox proxy: host, fields, raw bodies, answer fields ------ */

/* The answer fields of one request, as [[name, value], ...]. */
struct fres {
	int calls;
	enum upstream_outcome outcome;
	long status;
	json_t *fields;
	char *errmsg;
};

static void
fields_cb(struct upstream_req *req, const struct upstream_result *ur, void *arg)
{
	struct fres *f = arg;
	size_t i;

	f->calls++;
	f->outcome = ur->outcome;
	f->status = ur->status;
	f->errmsg = strdup(ur->errmsg);
	f->fields = json_array();
	for (i = 0; i < ur->nheaders; i++)
		json_array_append_new(f->fields,
		    json_pack(
			"[s,s]", ur->headers[i].name, ur->headers[i].value));
}

/* "name=value;" for every field, in order. */
static void
fields_text(const json_t *fields, char *buf, size_t len)
{
	size_t i, n = 0;
	json_t *f;

	buf[0] = '\0';
	json_array_foreach(fields, i, f) {
		int w = snprintf(buf + n, len - n, "%s=%s;",
		    json_string_value(json_array_get(f, 0)),
		    json_string_value(json_array_get(f, 1)));

		if (w < 0 || (size_t)w >= len - n)
			return;
		n += (size_t)w;
	}
}

/* The value of the echoed request field name (case-insensitive), or "". */
static const char *
echo_field(json_t *echo, const char *name)
{
	const char *v = "";
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(echo, "fields"), i, f)
		if (strcasecmp(json_string_value(json_array_get(f, 0)), name) ==
		    0)
			v = json_string_value(json_array_get(f, 1));
	return v;
}

static void
test_proxy_host(int port)
{
	static const char *const bad[] = {"", "Upper", "-x", "x-", "a.b", "a_b",
	    /* one string of 64 characters, over the 63 a label may have */
	    ("0123456789012345678901234567890123456789012345678901234567"
	     "890123")};
	struct upstream *up, *up6;
	char url[128], want[128], *h;
	struct upstream_req *req;
	struct res r;
	size_t i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/", port);
	up = make_up(url, NULL, NULL, 0);
	h = upstream_proxy_host(up, "8888-cl-abc");
	snprintf(want, sizeof(want), "8888-cl-abc.127.0.0.1:%d", port);
	ok_str(h, want, "proxy host");
	free(h);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		h = upstream_proxy_host(up, bad[i]);
		ok_null(h, "proxy host: label '%s' refused", bad[i]);
		ok_int(
		    errno, EINVAL, "proxy host: label '%s' is EINVAL", bad[i]);
		free(h);
	}
	ok(upstream_req_new_proxy(up, "8888-cl-abc", "GET", "no-slash",
	       UPSTREAM_AUTH_NONE) == NULL,
	    "proxy request: a target without a leading '/' is refused");

	up6 = make_up("http://[::1]:8080", NULL, NULL, 0);
	errno = 0;
	h = upstream_proxy_host(up6, "8888-cl-abc");
	ok_null(h, "proxy host: an IPv6 base URL has no name to extend");
	ok_int(errno, EINVAL, "proxy host: an IPv6 base URL is EINVAL");
	free(h);
	ok(upstream_req_new_proxy(
	       up6, "8888-cl-abc", "GET", "/", UPSTREAM_AUTH_NONE) == NULL,
	    "proxy request: refused for an IPv6 base URL");
	upstream_free(up6);

	up6 = make_up("https://api.example.test", NULL, NULL, 0);
	h = upstream_proxy_host(up6, "80-cl-x");
	ok_str(h, "80-cl-x.api.example.test",
	    "proxy host: the default port is not written");
	free(h);
	upstream_free(up6);

	/* Host names the proxy, the connection goes to the base URL, the
	 * base path is not used and the pool keeps the connection. */
	memset(&r, 0, sizeof(r));
	req = upstream_req_new_proxy(
	    up, "8888-cl-abc", "GET", "/v1/echo?q=1", UPSTREAM_AUTH_NONE);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok_int(r.outcome, UPSTREAM_OK, "proxy GET: outcome");
	ok_int(r.status, 200, "proxy GET: status");
	ok_str(jstr(r.json, "host"), want, "proxy GET: Host");
	ok_str(jstr(r.json, "path"), "/v1/echo?q=1",
	    "proxy GET: the base path is not used");
	res_clear(&r);
	memset(&r, 0, sizeof(r));
	req = upstream_req_new_proxy(
	    up, "8888-cl-abc", "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok_int(r.outcome, UPSTREAM_OK, "proxy GET again: outcome");
	ok_int((long long)upstream_connections_opened(up), 1,
	    "proxy GET again: the pooled connection is reused");
	res_clear(&r);
	upstream_free(up);
}

static void
test_proxy_fields(int port)
{
	struct upstream_req *req;
	struct creds *c;
	struct conf *cfg;
	struct upstream *up;
	char url[128], err[256], name[16], text[512], *big;
	unsigned char bin[256];
	struct fres f;
	struct res r;
	size_t i;
	int rc;

	cfg = conf_new();
	setenv("WRENN_API_KEY", TEST_API_KEY, 1);
	c = creds_load(cfg, err, sizeof(err));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	up = make_up(url, NULL, c, 0);

	req = upstream_req_new_proxy(
	    up, "8888-cl-abc", "POST", "/v1/echo", UPSTREAM_AUTH_APIKEY);
	ok(upstream_req_add_header(req, "Host", "evil") == -EINVAL,
	    "field Host refused");
	ok(upstream_req_add_header(req, "transfer-encoding", "chunked") ==
		-EINVAL,
	    "field Transfer-Encoding refused (any case)");
	ok(upstream_req_add_header(req, "Connection", "close") == -EINVAL,
	    "hop-by-hop field Connection refused");
	ok(upstream_req_add_header(req, "Expect", "100-continue") == -EINVAL,
	    "field Expect refused");
	ok(upstream_req_add_header(req, "X-API-Key", "wrn_forged") == -EPERM,
	    "field X-API-Key refused as a credential");
	ok(upstream_req_add_header(req, "authorization", "Bearer x") == -EPERM,
	    "field Authorization refused as a credential");
	ok(upstream_req_add_header(req, "Bad Name", "1") == -EINVAL,
	    "a name with a space refused");
	ok(upstream_req_add_header(req, "", "1") == -EINVAL,
	    "an empty name refused");
	ok(upstream_req_add_header(req, "X-Smuggle", "a\r\nX-API-Key: b") ==
		-EINVAL,
	    "a value with CR LF refused");
	ok(upstream_req_add_header(req, "X-Ctl", "a\001b") == -EINVAL,
	    "a value with a control byte refused");
	ok(upstream_req_add_header(req, "X-One", "1\t2") == 0,
	    "a value with HTAB accepted");
	ok(upstream_req_add_header(req, "X-Empty", "") == 0,
	    "an empty value accepted");
	ok_int(upstream_req_add_header(req, "X-Rep", "a"), 0,
	    "a repeated field: the first accepted");
	ok_int(upstream_req_add_header(req, "X-Rep", "b"), 0,
	    "a repeated field: the second accepted");
	ok(upstream_req_add_header(req, "Content-Type", "application/x-bin") ==
		0,
	    "field Content-Type accepted");
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	ok(upstream_req_set_body(req, bin, sizeof(bin)) == 0, "raw body set");
	memset(&r, 0, sizeof(r));
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok_int(r.outcome, UPSTREAM_OK, "proxy POST: outcome");
	ok_int(r.status, 200, "proxy POST: status");
	ok_int(json_integer_value(json_object_get(r.json, "body_len")), 256,
	    "raw body: 256 bytes arrived");
	ok_int(
	    (uint32_t)json_integer_value(json_object_get(r.json, "body_crc32")),
	    crc32_update(0, bin, sizeof(bin)),
	    "raw body: the bytes arrived unchanged");
	ok_str(jstr(r.json, "content_type"), "application/x-bin",
	    "raw body: the caller's Content-Type");
	ok_str(jstr(r.json, "x_api_key"), TEST_API_KEY,
	    "the request's credential is the only X-API-Key");
	ok_str(echo_field(r.json, "X-One"), "1\t2", "field X-One sent");
	ok_str(echo_field(r.json, "X-Empty"), "", "field X-Empty sent empty");
	ok_int(json_array_size(json_object_get(r.json, "fields")) >= 2, 1,
	    "the echo lists the fields sent (%zu)",
	    json_array_size(json_object_get(r.json, "fields")));
	ok_str(echo_field(r.json, "X-Rep"), "b",
	    "repeated field X-Rep sent (the last)");
	res_clear(&r);

	/* Without a type a raw body has none (not curl's form type), and
	 * a big one does not wait for a 100 Continue. */
	big = calloc(1, 2 << 20);
	req = upstream_req_new_proxy(
	    up, "8888-cl-abc", "PUT", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_set_body(req, big, 2 << 20);
	memset(&r, 0, sizeof(r));
	start(req, &r);
	(void)wait_for(&r.calls, 1, 10000);
	ok_int(r.outcome, UPSTREAM_OK, "2 MiB raw PUT: outcome");
	ok_int(json_integer_value(json_object_get(r.json, "body_len")), 2 << 20,
	    "2 MiB raw PUT body arrived");
	ok_str(jval(r.json, "content_type"), "null",
	    "raw body without a type: no Content-Type sent");
	ok_str(jval(r.json, "expect"), "null", "raw body: no Expect sent");
	res_clear(&r);
	free(big);

	req = upstream_req_new_proxy(
	    up, "8888-cl-abc", "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	for (i = 0, rc = 0; i < 101 && rc == 0; i++) {
		snprintf(name, sizeof(name), "X-F%zu", i);
		rc = upstream_req_add_header(req, name, "v");
	}
	ok_int(rc, -E2BIG, "too many fields: -E2BIG");
	ok_size(i, 101, "the 101st field is the one refused");
	upstream_req_cancel(req);

	/* Answer fields: the final answer's, in order, trimmed, the folded
	 * line joined, no 103 fields, no trailers. */
	memset(&f, 0, sizeof(f));
	req = upstream_req_new(
	    up, "GET", "/v1/fields?pad=10", UPSTREAM_AUTH_NONE);
	ok(upstream_req_capture_headers(req, 0) == -EINVAL,
	    "capture: a zero limit is refused");
	upstream_req_capture_headers(req, 4096);
	upstream_req_start(req, fields_cb, &f);
	(void)wait_for(&f.calls, 1, 10000);
	fields_text(f.fields, text, sizeof(text));
	ok_int(f.outcome, UPSTREAM_OK, "capture: outcome");
	ok_int(f.status, 200, "capture: status");
	ok_str(text,
	    "Content-Type=text/plain;X-A=1;X-Rep=one;X-Rep=two;X-Fold=a b;"
	    "X-Pad=pppppppppp;Transfer-Encoding=chunked;Trailer=X-Trailer;",
	    "capture: the final answer's fields");
	json_decref(f.fields);
	free(f.errmsg);

	memset(&f, 0, sizeof(f));
	req = upstream_req_new(
	    up, "GET", "/v1/fields?pad=5000", UPSTREAM_AUTH_NONE);
	upstream_req_capture_headers(req, 4096);
	upstream_req_start(req, fields_cb, &f);
	(void)wait_for(&f.calls, 1, 10000);
	ok_int(f.outcome, UPSTREAM_TOO_LARGE,
	    "capture: fields over the limit fail with TOO_LARGE");
	ok_size(json_array_size(f.fields), 0,
	    "capture: fields over the limit: none handed over");
	ok_strstr(f.errmsg, "header fields", "capture: the error says so");
	json_decref(f.fields);
	free(f.errmsg);

	memset(&f, 0, sizeof(f));
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_start(req, fields_cb, &f);
	(void)wait_for(&f.calls, 1, 10000);
	ok_int(f.outcome, UPSTREAM_OK, "no capture: outcome");
	ok_size(
	    json_array_size(f.fields), 0, "no capture: no fields handed over");
	json_decref(f.fields);
	free(f.errmsg);

	upstream_free(up);
	creds_free(c);
	conf_unref(cfg);
}

/* ---- free with transfers in flight ----------------------------------- */

static struct upstream *free_me;

static void
free_in_cb(
    struct upstream_req *req, const struct upstream_result *ur, void *arg)
{
	struct res *r = arg;

	r->calls++;
	upstream_free(free_me);
	free_me = NULL;
}

static void
test_free_inflight(int port)
{
	struct upstream_req *req;
	struct upstream *up;
	struct res r[3];
	char url[128];
	int i, calls = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", port);
	up = make_up(url, NULL, NULL, 0);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++) {
		req = upstream_req_new(
		    up, "GET", "/v1/slow?ms=300", UPSTREAM_AUTH_NONE);
		start(req, &r[i]);
	}
	spin(50);
	upstream_free(up);
	spin(400);
	for (i = 0; i < 3; i++)
		calls += r[i].calls;
	ok(calls == 0, "upstream_free with transfers in flight: no callback");

	free_me = up = make_up(url, NULL, NULL, 0);
	memset(r, 0, sizeof(r));
	req = upstream_req_new(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE);
	upstream_req_start(req, free_in_cb, &r[0]);
	for (i = 1; i < 3; i++) {
		req = upstream_req_new(
		    up, "GET", "/v1/slow?ms=300", UPSTREAM_AUTH_NONE);
		start(req, &r[i]);
	}
	(void)wait_for(&r[0].calls, 1, 5000);
	spin(400);
	ok_int(r[0].calls, 1, "upstream_free from inside a done callback: ran");
	ok_int(r[1].calls, 0,
	    "upstream_free from inside a done callback: no callback for the "
	    "second");
	ok_int(r[2].calls, 0,
	    "upstream_free from inside a done callback: no callback for the "
	    "third");
	ok_null(free_me, "upstream_free from inside a done callback: freed");
}

/* ---- TLS -------------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A blocking TLS handshake through tlsctx_new_ssl. 1 verified. */
static int
raw_handshake(const struct tlsctx *t, int port, const char *host, char *alpn,
    size_t alpnlen)
{
	struct sockaddr_in sin;
	const unsigned char *sel = NULL;
	unsigned sellen = 0;
	int s, rc = 0;
	SSL *ssl;

	alpn[0] = '\0';
	if ((ssl = tlsctx_new_ssl(t, host)) == NULL)
		return -1;
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		SSL_set_fd(ssl, s);
		if (SSL_connect(ssl) == 1 &&
		    SSL_get_verify_result(ssl) == X509_V_OK) {
			rc = 1;
			SSL_get0_alpn_selected(ssl, &sel, &sellen);
			if (sel != NULL && sellen < alpnlen) {
				memcpy(alpn, sel, sellen);
				alpn[sellen] = '\0';
			}
		}
	}
	tlsctx_errors(NULL, 0);
	SSL_free(ssl);
	close(s);
	return rc;
}

static void
test_tls(const char *python, const char *script)
{
	char dir[] = "/tmp/wrennd-test-upstream-XXXXXX";
	char ca[256], cert[256], key[256], url[128], err[256], alpn[32];
	struct tlsctx *t_ca = NULL, *t_sys = NULL, *t_bad;
	struct upstream *up;
	struct res r;
	int port, rc;
	pid_t pid;

	if (mkdtemp(dir) == NULL ||
	    sh("command -v openssl >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP TLS: no openssl CLI or temp dir");
		return;
	}
	rc = sh("cd %s && "
		"openssl req -x509 -newkey ec -pkeyopt "
		"ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out "
		"ca.pem -days 2 -subj /CN=wrennd-test-ca >/dev/null 2>&1 && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		"-nodes -keyout srv.key -out srv.csr -subj /CN=wrennd-test "
		">/dev/null 2>&1 && "
		"printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
		"basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' "
		"> ext.cnf && "
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -out srv.pem -days 2 -extfile ext.cnf "
		">/dev/null 2>&1",
	    dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/srv.pem", dir);
	snprintf(key, sizeof(key), "%s/srv.key", dir);
	if (rc != 0 ||
	    (pid = helper_start(python, script, "--tls", cert, key, &port)) <
		0) {
		ok(0, "TLS: cannot make certificates or start the helper");
		sh("rm -rf %s", dir);
		return;
	}

	t_bad = tlsctx_new("/nonexistent/ca.pem", err, sizeof(err));
	ok_null(t_bad, "tlsctx_new: missing CA file refused");
	ok_strstr(err, "/nonexistent/ca.pem",
	    "tlsctx_new: missing CA file: the error names it");
	t_bad = tlsctx_new(key, err, sizeof(err));
	ok_null(t_bad, "tlsctx_new: no certificate refused");
	ok_int(*err != '\0', 1, "tlsctx_new: no certificate: '%s'", err);
	t_ca = tlsctx_new(ca, err, sizeof(err));
	t_sys = tlsctx_new(NULL, err, sizeof(err));
	ok_nonnull(t_ca, "tlsctx_new with a CA");
	ok_nonnull(t_sys, "tlsctx_new without a CA");
	ok_int(tlsctx_has_extra_ca(t_ca), 1, "tlsctx_has_extra_ca with a CA");
	ok_int(
	    tlsctx_has_extra_ca(t_sys), 0, "tlsctx_has_extra_ca without a CA");

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api", port);
	up = make_up(url, t_ca, NULL, 0);
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok_int(r.outcome, UPSTREAM_OK, "https with --ca-file: verified: %s",
	    r.errmsg ? r.errmsg : "(null)");
	ok_int(r.status, 200, "https with --ca-file: status");
	ok_str(
	    jstr(r.json, "path"), "/api/v1/echo", "https with --ca-file: path");
	res_clear(&r);
	run(up, "POST", "/v1/echo", UPSTREAM_AUTH_NONE, "{}", -1, &r);
	ok(r.outcome == UPSTREAM_OK, "https: second request");
	res_clear(&r);
	upstream_free(up);

	snprintf(url, sizeof(url), "https://localhost:%d/api", port);
	up = make_up(url, t_ca, NULL, 0);
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok(r.outcome == UPSTREAM_OK, "https by host name: verified (%d): %s",
	    r.outcome, r.errmsg);
	res_clear(&r);
	upstream_free(up);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api", port);
	up = make_up(url, t_sys, NULL, 0);
	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	ok(r.outcome == UPSTREAM_CONNECT,
	    "https without the CA: UPSTREAM_CONNECT (%d): %s", r.outcome,
	    r.errmsg);
	res_clear(&r);
	upstream_free(up);

	ok_int(raw_handshake(t_ca, port, "127.0.0.1", alpn, sizeof(alpn)), 1,
	    "tlsctx_new_ssl: IP literal verified");
	ok_str(alpn, "http/1.1", "tlsctx_new_ssl: ALPN");
	ok(raw_handshake(t_ca, port, "localhost", alpn, sizeof(alpn)) == 1,
	    "tlsctx_new_ssl: host name verified");
	ok(raw_handshake(t_ca, port, "wrong.example", alpn, sizeof(alpn)) == 0,
	    "tlsctx_new_ssl: wrong host name refused");
	ok(raw_handshake(t_ca, port, "127.0.0.2", alpn, sizeof(alpn)) == 0,
	    "tlsctx_new_ssl: wrong IP refused");
	ok(raw_handshake(t_sys, port, "127.0.0.1", alpn, sizeof(alpn)) == 0,
	    "tlsctx_new_ssl: unknown CA refused");

	tlsctx_free(t_ca);
	tlsctx_free(t_sys);
	helper_stop(pid);
	sh("rm -rf %s", dir);
}

int
main(void)
{
	char script[4096], url[128], *slash;
	const char *python, *top;
	struct upstream *up;
	struct res r;
	int port, fds0, nev[2];
	pid_t pid;
	char *esc;

	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("TEST_VERBOSE") != NULL ? 2 : 0);
	python = getenv("PYTHON3");
	if (python == NULL || *python == '\0')
		python = "/usr/bin/python3";
	if ((top = getenv("top_srcdir")) != NULL && *top != '\0') {
		snprintf(script, sizeof(script),
		    "%s/tests/unit/httpd-helper.py", top);
	} else {
		snprintf(script, sizeof(script), "%s", __FILE__);
		slash = strrchr(script, '/');
		snprintf(slash != NULL ? slash + 1 : script,
		    sizeof(script) -
			(size_t)(slash != NULL ? slash + 1 - script : 0),
		    "httpd-helper.py");
	}
	if (access(python, X_OK) != 0 || access(script, R_OK) != 0) {
		printf("1..0 # SKIP no %s or %s\n", python, script);
		return 0;
	}
	event_enable_debug_mode();
	base = event_base_new();
	if ((pid = helper_start(python, script, NULL, NULL, NULL, &port)) < 0) {
		printf("1..0 # SKIP cannot start %s\n", script);
		return 0;
	}
	diag("helper on port %d", port);
	fds0 = testenv_fds();

	esc = upstream_escape("a b/c?d&\xc3\xa9-_.~", 14);
	ok_str(esc, "a%20b%2Fc%3Fd%26%C3%A9-_.~", "upstream_escape");
	free(esc);
	esc = upstream_escape("", 0);
	ok_str(esc, "", "upstream_escape of nothing");
	free(esc);
	esc = upstream_escape("..", 2);
	ok_str(esc, "%2E%2E", "upstream_escape: a '..' segment");
	free(esc);
	esc = upstream_escape("a\0b", 3);
	ok_str(esc, "a%00b", "upstream_escape: embedded NUL");
	free(esc);

	test_bad_base();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/", port);
	up = make_up(url, NULL, NULL, 0);
	ok_nonnull(up, "upstream_new");
	test_basic(up, port);
	test_concurrency(up);
	test_cold_pool(port);
	test_pool_churn(port, 0);
	test_pool_churn(port, 64);
	test_no_resend(port);
	test_queue_deadline(port);
	test_proxy_env(port);
	test_outcomes(up);
	test_too_large(port);
	test_cancel(up);
	test_download(up, "/v1/big?n=2000000&chunked=1", 2000000);
	test_download(up, "/v1/big?n=1500001", 1500001);
	test_stream_misc(up);
	test_hook_reentry(port);
	test_pause_abort(up);
	test_multipart(up);

	run(up, "GET", "/v1/echo", UPSTREAM_AUTH_NONE, NULL, -1, &r);
	res_clear(&r);
	spin(20);
	count_events(nev);
	ok_int(nev[0], 0, "after all transfers: no socket events");
	upstream_free(up);
	upstream_free(NULL);

	test_auth(port);
	test_proxy_host(port);
	test_proxy_fields(port);
	test_free_inflight(port);
	test_tls(python, script);

	spin(20);
	count_events(nev);
	ok_int(nev[1], 0, "after upstream_free: no events left in the base");
	ok_int(testenv_fds(), fds0, "no fd leaked");
	if (testenv_fds() != fds0)
		sh("ls -l /proc/%d/fd >&2", (int)getpid());

	helper_stop(pid);
	event_base_free(base);
	libevent_global_shutdown();
	return done_testing();
}
