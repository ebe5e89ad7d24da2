/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (rpc.c) on the daemon's real connection code: each case
 * opens a socketpair, hands one end to client_new() as listener.c would
 * (with the peer's uid) and speaks wrenn-ipc/1 on the other end, one event
 * loop turn at a time. The control plane is a few lines of HTTP/1.1 on a
 * loopback socket of this process, which records each request head and
 * answers [] (or holds the answer back). No daemon, no other network.
 *
 * Cases: the greeting and the role it carries, unknown method, the role
 * check (permission_denied, data.role), bad params, draining, the
 * credential chosen at admission (the header the request carries, and
 * every refusal with nothing sent), duplicate ids, rpc.hello version and
 * capability negotiation, $/cancel of a call in flight and of an unknown
 * id.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "log.h"
#include "owner.h"
#include "rpc.h"
#include "stream.h"
#include "tap.h"
#include "tlsctx.h"
#include "upstream.h"
#include "wrennd.h"

#define TEST_API_KEY "wrn_rpc_test_key_0123456789"
/* {"exp":4102444800} (2100) and {"exp":1000000000} (2001) */
#define TEST_JWT     "h.eyJleHAiOjQxMDI0NDQ4MDB9.s"
#define TEST_JWT_OLD "h.eyJleHAiOjEwMDAwMDAwMDB9.s"
#define USER_UID     4242  /* neither root nor us: the user role */
#define MAX_TURNS    20000 /* loop turns to wait for a condition */

static struct wrennd wd;

/* ---- the loopback control plane ------------------------------------ */

struct fake_conn {
	int fd;
	struct event *ev;
	char buf[8192];
	size_t len;
};

static struct {
	int fd;
	int port;
	struct event *ev;
	int hold;	 /* record requests but do not answer them */
	int requests;	 /* request heads seen */
	char head[8192]; /* the last one */
	struct fake_conn *conns[16];
} fake;

static void
fake_conn_close(struct fake_conn *fc)
{
	unsigned i;

	for (i = 0; i < sizeof(fake.conns) / sizeof(fake.conns[0]); i++)
		if (fake.conns[i] == fc)
			fake.conns[i] = NULL;
	event_free(fc->ev);
	close(fc->fd);
	free(fc);
}

static void
fake_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\n"
				     "Content-Type: application/json\r\n"
				     "Content-Length: 2\r\n\r\n[]";
	struct fake_conn *fc = arg;
	char *end;
	ssize_t n;
	size_t hl;

	n = read(fd, fc->buf + fc->len, sizeof(fc->buf) - 1 - fc->len);
	if (n <= 0) {
		fake_conn_close(fc);
		return;
	}
	fc->len += (size_t)n;
	fc->buf[fc->len] = '\0';
	if ((end = strstr(fc->buf, "\r\n\r\n")) == NULL)
		return;
	/* GET requests only: the head is the whole request. */
	hl = (size_t)(end - fc->buf) + 4;
	memcpy(fake.head, fc->buf, hl);
	fake.head[hl] = '\0';
	fake.requests++;
	memmove(fc->buf, fc->buf + hl, fc->len - hl);
	fc->len -= hl;
	if (!fake.hold)
		(void)!write(fd, answer, sizeof(answer) - 1);
}

static void
fake_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct fake_conn *fc;
	unsigned i;
	int fd;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		return;
	for (i = 0; i < sizeof(fake.conns) / sizeof(fake.conns[0]); i++)
		if (fake.conns[i] == NULL)
			break;
	if (i == sizeof(fake.conns) / sizeof(fake.conns[0]) ||
	    (fc = calloc(1, sizeof(*fc))) == NULL) {
		close(fd);
		return;
	}
	fc->fd = fd;
	fc->ev = event_new(wd.base, fd, EV_READ | EV_PERSIST, fake_read_cb, fc);
	event_add(fc->ev, NULL);
	fake.conns[i] = fc;
}

static int
fake_start(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fake.fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fake.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fake.fd, 16) != 0 ||
	    getsockname(fake.fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	fake.port = ntohs(sa.sin_port);
	fake.ev = event_new(
	    wd.base, fake.fd, EV_READ | EV_PERSIST, fake_accept_cb, NULL);
	return fake.ev != NULL && event_add(fake.ev, NULL) == 0 ? 0 : -1;
}

static void
fake_stop(void)
{
	unsigned i;

	for (i = 0; i < sizeof(fake.conns) / sizeof(fake.conns[0]); i++)
		if (fake.conns[i] != NULL)
			fake_conn_close(fake.conns[i]);
	event_free(fake.ev);
	close(fake.fd);
}

/* Whether the last request head has a header line starting with name. */
static int
fake_has_header(const char *name)
{
	const char *p;

	for (p = strstr(fake.head, "\r\n"); p != NULL;
	     p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, name, strlen(name)) == 0)
			return 1;
	return 0;
}

/* ---- the peer: one connection to the dispatcher ----------------------- */

struct peer {
	int fd; /* our end of the socketpair */
	char buf[65536];
	size_t len;
	int eof;
};

/* One loop turn, without waiting, then a short poll on the peer. */
static void
turn(const struct peer *p)
{
	struct pollfd pfd = {p != NULL ? p->fd : -1, POLLIN, 0};

	event_base_loop(wd.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	(void)poll(&pfd, 1, 1);
}

/* Connect a peer with this uid; the daemon side is the real client.c. */
static int
peer_open(struct peer *p, uid_t uid)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	p->fd = sv[1];
	if (client_new(&wd, sv[0], uid, 100, 4000,
		uid == geteuid() ? ROLE_ADMIN : ROLE_USER) == NULL) {
		close(sv[1]);
		return -1;
	}
	return 0;
}

/* Close our end and let the daemon notice and free its side. */
static void
peer_close(struct peer *p)
{
	int i;

	close(p->fd);
	for (i = 0; i < 100 && wd.nclients > 0; i++)
		turn(NULL);
}

static void
peer_send(struct peer *p, const char *line)
{
	size_t n = strlen(line), off = 0;
	ssize_t w;

	while (off < n) {
		w = write(p->fd, line + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else
			turn(p);
	}
	(void)!write(p->fd, "\n", 1);
}

/* The next message from the daemon, or NULL at EOF or after MAX_TURNS. */
static json_t *
peer_next(struct peer *p)
{
	char *nl;
	json_t *msg;
	ssize_t n;
	int i;

	for (i = 0; i < MAX_TURNS; i++) {
		if ((nl = memchr(p->buf, '\n', p->len)) != NULL) {
			msg =
			    json_loadb(p->buf, (size_t)(nl - p->buf), 0, NULL);
			p->len -= (size_t)(nl - p->buf) + 1;
			memmove(p->buf, nl + 1, p->len);
			return msg;
		}
		n = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n == 0) {
			p->eof = 1;
			return NULL;
		}
		if (n > 0) {
			p->len += (size_t)n;
			continue;
		}
		turn(p);
	}
	return NULL;
}

/*
 * Send one JSON-RPC call (params: a JSON object's text, or NULL for none)
 * and return the next message from the daemon.
 */
static json_t *
peer_call(struct peer *p, int id, const char *method, const char *params)
{
	char line[1024];

	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id, method,
	    params != NULL ? ",\"params\":" : "", params != NULL ? params : "");
	peer_send(p, line);
	return peer_next(p);
}

/* The greeting, then nothing else from a fresh connection. */
static json_t *
peer_open_greeted(struct peer *p, uid_t uid)
{
	if (peer_open(p, uid) != 0)
		return NULL;
	return peer_next(p);
}

/* Run the loop until the control plane saw n requests in all. */
static void
wait_requests(int n)
{
	int i;

	for (i = 0; i < MAX_TURNS && fake.requests < n; i++)
		turn(NULL);
}

/* ---- credentials ----------------------------------------------------- */

/* Load a store from WRENN_API_KEY / WRENN_TOKEN (NULL: unset) and make it
 * the daemon's. */
static void
use_creds(const char *key, const char *jwt)
{
	struct creds *c;
	char err[256];

	unsetenv("WRENN_API_KEY");
	unsetenv("WRENN_TOKEN");
	if (key != NULL)
		setenv("WRENN_API_KEY", key, 1);
	if (jwt != NULL)
		setenv("WRENN_TOKEN", jwt, 1);
	if ((c = creds_load(wd.cfg, err, sizeof(err))) == NULL) {
		diag("creds_load: %s", err);
		exit(99);
	}
	if (wd.up != NULL)
		upstream_set_creds(wd.up, c);
	creds_free(wd.creds);
	wd.creds = c;
}

/* ---- checks ---------------------------------------------------------- */

static const char *
str_at(const json_t *msg, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(msg, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long
int_at(const json_t *msg, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(msg, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -999999;
}

static void
is_str(const char *got, const char *want, const char *what)
{
	ok_str(got, want, "%s", what);
}

static void
is_int(long long got, long long want, const char *what)
{
	ok_int(got, want, "%s", what);
}

/* An error reply for id with JSON-RPC code and data.code. */
static void
is_error(const json_t *msg, long long id, long long code, const char *dcode,
    const char *what)
{
	char w[256];

	snprintf(w, sizeof(w), "%s: id", what);
	is_int(int_at(msg, "id", NULL, NULL), id, w);
	snprintf(w, sizeof(w), "%s: error.code", what);
	is_int(int_at(msg, "error", "code", NULL), code, w);
	snprintf(w, sizeof(w), "%s: error.data.code", what);
	is_str(str_at(msg, "error", "data", "code"), dcode, w);
}

/* ---- cases ----------------------------------------------------------- */

static void
test_greeting(void)
{
	struct peer p;
	json_t *m, *methods, *v;
	size_t i;
	int found = 0;

	m = peer_open_greeted(&p, USER_UID);
	is_str(str_at(m, "method", NULL, NULL), "wrennd.hello",
	    "greeting: the first message");
	ok(json_object_get(m, "id") == NULL,
	    "greeting: a notification (no id; got %s)",
	    json_object_get(m, "id") != NULL ? "an id" : "none");
	is_int(int_at(m, "params", "protocol", NULL), 1, "greeting: protocol");
	is_str(str_at(m, "params", "peer", "role"), "user",
	    "greeting: peer.role of another uid");
	is_int(
	    int_at(m, "params", "peer", "uid"), USER_UID, "greeting: peer.uid");
	is_int(int_at(m, "params", "limits", "max_line"), wd.cfg->max_line,
	    "greeting: limits.max_line");
	methods = json_object_get(json_object_get(m, "params"), "methods");
	json_array_foreach(methods, i, v)
		found += json_is_string(v) &&
		    strcmp(json_string_value(v), "rpc.hello") == 0;
	is_int(found, 1, "greeting: rpc.hello listed in methods, times");
	json_decref(m);
	peer_close(&p);

	m = peer_open_greeted(&p, geteuid());
	is_str(str_at(m, "params", "peer", "role"), "admin",
	    "greeting: peer.role of wrennd's own uid");
	json_decref(m);
	peer_close(&p);
}

static void
test_unknown_method(void)
{
	struct peer p;
	json_t *m;

	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(&p, 1, "no.such", NULL);
	is_error(m, 1, -32601, "method_not_found", "unknown method");
	is_str(str_at(m, "error", "message", NULL), "unknown method 'no.such'",
	    "unknown method: message");
	json_decref(m);
	peer_close(&p);
}

static void
test_role(void)
{
	struct peer p;
	json_t *m;
	int before = fake.requests;

	use_creds(TEST_API_KEY, TEST_JWT);
	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(&p, 2, "api_keys.list", NULL);
	is_error(m, 2, -32001, "permission_denied", "admin method, user role");
	is_str(str_at(m, "error", "data", "role"), "admin",
	    "admin method, user role: data.role");
	is_int(fake.requests - before, 0,
	    "admin method, user role: requests sent upstream");
	json_decref(m);
	peer_close(&p);
}

static void
test_bad_params(void)
{
	struct peer p;
	json_t *m;
	int before = fake.requests;

	use_creds(TEST_API_KEY, NULL);
	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(&p, 3, "sandboxes.get", "{}");
	is_error(m, 3, -32602, "invalid_params", "missing param");
	is_str(str_at(m, "error", "message", NULL),
	    "missing required parameter 'sandbox_id'",
	    "missing param: message");
	json_decref(m);
	m = peer_call(&p, 4, "sandboxes.list", "{\"bogus\":1}");
	is_error(m, 4, -32602, "invalid_params", "unknown param");
	json_decref(m);
	is_int(fake.requests - before, 0, "bad params: requests sent upstream");
	peer_close(&p);
}

static void
test_draining(void)
{
	struct peer p;
	json_t *m;

	use_creds(TEST_API_KEY, NULL);
	json_decref(peer_open_greeted(&p, USER_UID));
	wd.draining = 1;
	m = peer_call(&p, 5, "sandboxes.list", NULL);
	wd.draining = 0;
	is_error(m, 5, -32000, "shutting_down", "draining");
	json_decref(m);
	peer_close(&p);
}

/* A GET method against the fake: the header its request carried. */
static void
test_credential_sent(void)
{
	struct peer p;
	json_t *m;
	int before;

	use_creds(TEST_API_KEY, TEST_JWT);
	json_decref(peer_open_greeted(&p, USER_UID));

	before = fake.requests;
	m = peer_call(&p, 6, "sandboxes.list", NULL);
	ok(json_is_array(json_object_get(m, "result")),
	    "key or JWT route: the result arrived (got %s)",
	    json_object_get(m, "error") != NULL ? "an error" : "no result");
	json_decref(m);
	is_int(fake.requests - before, 1, "key or JWT route: requests sent");
	ok(fake_has_header("X-API-Key: " TEST_API_KEY),
	    "key or JWT route, both configured: the API key was sent");
	ok(!fake_has_header("Authorization:"),
	    "key or JWT route, both configured: no JWT was sent");

	before = fake.requests;
	m = peer_call(&p, 7, "hosts.list", NULL);
	ok(json_is_array(json_object_get(m, "result")),
	    "JWT route: the result arrived (got %s)",
	    json_object_get(m, "error") != NULL ? "an error" : "no result");
	json_decref(m);
	is_int(fake.requests - before, 1, "JWT route: requests sent");
	ok(fake_has_header("Authorization: Bearer " TEST_JWT),
	    "JWT route: the JWT was sent");
	ok(!fake_has_header("X-API-Key:"), "JWT route: no API key was sent");
	peer_close(&p);
}

/*
 * With the credentials key and jwt, a new peer's first call, which must
 * be refused at admission as unauthorized (what names the case); the
 * answer (caller frees) for the case's own checks of its data.
 */
static json_t *
unauthorized_call(const char *key, const char *jwt, int id, const char *method,
    const char *what)
{
	struct peer p;
	json_t *m;

	use_creds(key, jwt);
	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(&p, id, method, NULL);
	is_error(m, id, -32000, "unauthorized", what);
	peer_close(&p);
	return m;
}

/* Refusals at admission: nothing reaches the control plane. */
static void
test_credential_refused(void)
{
	json_t *m;
	int before = fake.requests;

	m = unauthorized_call(
	    TEST_API_KEY, NULL, 8, "hosts.list", "JWT route, API key only");
	is_str(str_at(m, "error", "data", "needs"), "jwt",
	    "JWT route, API key only: data.needs");
	json_decref(m);

	m = unauthorized_call(NULL, NULL, 9, "sandboxes.list", "no credential");
	is_str(str_at(m, "error", "data", "needs"), "api_key_or_jwt",
	    "no credential: data.needs");
	json_decref(m);

	m = unauthorized_call(
	    NULL, TEST_JWT_OLD, 10, "sandboxes.list", "expired JWT");
	ok(json_is_true(json_object_get(
	       json_object_get(json_object_get(m, "error"), "data"),
	       "expired")),
	    "expired JWT: data.expired is true");
	is_str(str_at(m, "error", "data", "expired_at"), "2001-09-09T01:46:40Z",
	    "expired JWT: data.expired_at");
	json_decref(m);

	is_int(fake.requests - before, 0, "refused credentials: requests sent");
}

static void
test_hello(void)
{
	struct peer p;
	json_t *m, *en, *v;
	size_t i;
	int fds = 0;

	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(
	    &p, 11, "rpc.hello", "{\"protocol\":1,\"enable\":[\"fds\"]}");
	is_int(int_at(m, "id", NULL, NULL), 11, "rpc.hello: id");
	is_int(int_at(m, "result", "protocol", NULL), 1,
	    "rpc.hello: result.protocol");
	en = json_object_get(json_object_get(m, "result"), "enabled");
	json_array_foreach(en, i, v)
		fds += strcmp(json_string_value(v), "fds") == 0;
	is_int(fds, 1, "rpc.hello: \"fds\" in result.enabled, times");
	json_decref(m);
	peer_close(&p);

	json_decref(peer_open_greeted(&p, USER_UID));
	m = peer_call(&p, 12, "rpc.hello", "{\"protocol\":2}");
	is_error(m, 12, -32600, "protocol_mismatch", "rpc.hello protocol 2");
	is_int(int_at(m, "error", "data", "min"), 1,
	    "rpc.hello protocol 2: data.min");
	is_int(int_at(m, "error", "data", "max"), 1,
	    "rpc.hello protocol 2: data.max");
	json_decref(m);
	m = peer_next(&p);
	ok_null(m, "rpc.hello protocol 2: nothing after the error");
	ok_int(p.eof, 1,
	    "rpc.hello protocol 2: the connection is closed after the error");
	json_decref(m);
	peer_close(&p);
}

/* Calls held in flight by the fake: duplicate ids and $/cancel. */
static void
test_in_flight(void)
{
	struct peer p;
	json_t *m;

	use_creds(TEST_API_KEY, NULL);
	fake.hold = 1;
	json_decref(peer_open_greeted(&p, USER_UID));
	peer_send(&p,
	    "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":"
	    "\"sandboxes.list\"}");
	wait_requests(fake.requests + 1);
	m = peer_call(&p, 20, "sandboxes.list", NULL);
	is_error(m, 20, -32600, "invalid_request", "duplicate id");
	json_decref(m);

	/* An unknown id gets no answer: the next message is the hello's. */
	peer_send(&p,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancel\","
	    "\"params\":{\"id\":99}}");
	m = peer_call(&p, 21, "rpc.hello", NULL);
	is_int(int_at(m, "id", NULL, NULL), 21,
	    "$/cancel of an unknown id: the next reply's id");
	ok(json_object_get(m, "result") != NULL,
	    "$/cancel of an unknown id: the next reply is a result");
	json_decref(m);

	peer_send(&p,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancel\","
	    "\"params\":{\"id\":20}}");
	m = peer_next(&p);
	is_error(m, 20, -32800, "cancelled", "$/cancel of a call in flight");
	json_decref(m);
	is_int((long long)upstream_requests_active(wd.up), 0,
	    "$/cancel of a call in flight: upstream requests left");
	fake.hold = 0;
	peer_close(&p);
}

int
main(void)
{
	char err[256];

	log_init(0);
	signal(SIGPIPE, SIG_IGN);
	unsetenv("CREDENTIALS_DIRECTORY");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 99;
	memset(&wd, 0, sizeof(wd));
	TAILQ_INIT(&wd.clients);
	wd.client_ops = &rpc_client_ops;
	if ((wd.base = event_base_new()) == NULL || fake_start() != 0)
		return 99;
	snprintf(err, sizeof(err), "http://127.0.0.1:%d", fake.port);
	if ((wd.cfg = conf_new()) == NULL ||
	    conf_set(wd.cfg, "base-url", err, err, sizeof(err)) != 0)
		return 99;
	use_creds(NULL, NULL);
	if ((wd.tls = tlsctx_new(NULL, err, sizeof(err))) == NULL)
		return 99;
	{
		struct upstream_opts uo;

		memset(&uo, 0, sizeof(uo));
		uo.base_url = wd.cfg->base_url;
		uo.tls = wd.tls;
		uo.creds = wd.creds;
		if ((wd.up = upstream_new(wd.base, &uo)) == NULL)
			return 99;
	}
	if ((wd.sandbox = api_sandbox_new()) == NULL ||
	    (wd.files = api_files_new()) == NULL ||
	    (wd.streams = stream_set_new()) == NULL ||
	    (wd.owners = owner_set_new()) == NULL)
		return 99;

	test_greeting();
	test_unknown_method();
	test_role();
	test_bad_params();
	test_draining();
	test_credential_sent();
	test_credential_refused();
	test_hello();
	test_in_flight();

	client_close_all(&wd, "test over");
	api_sandbox_free(wd.sandbox);
	api_files_free(wd.files);
	stream_set_free(wd.streams);
	owner_set_free(wd.owners);
	upstream_free(wd.up);
	fake_stop();
	event_base_dispatch(wd.base);
	event_base_free(wd.base);
	tlsctx_free(wd.tls);
	creds_free(wd.creds);
	conf_unref(wd.cfg);
	curl_global_cleanup();
	return done_testing();
}
