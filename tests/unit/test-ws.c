/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/ws.c against tests/unit/ws-helper.py, a stdlib
 * Python WebSocket peer started on 127.0.0.1 (plus a TLS port when the
 * openssl tool can make a test certificate). Covers the handshake and its
 * refusals, messages and the Wrenn-style TCP close without a close frame,
 * pings, close frames, limits, protocol errors, read pausing with real TCP
 * backpressure, freeing from inside callbacks, evdns names and wss://.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "tap.h"
#include "testenv.h"
#include "tlsctx.h"
#include "ws.h"

#define MAX_MSGS 8

static char tmpdir[] = "/tmp/test-ws.XXXXXX";
static int port, tls_port;
static pid_t helper_pid = -1;
static int helper_stdin = -1;
static struct tlsctx *tls_trust; /* trusts the helper's certificate */

/* What one connection saw. */
struct t {
	struct event_base *base;
	struct ws *ws;
	int opened, closed, done;
	enum ws_reason reason;
	char errmsg[256];
	unsigned code;
	char close_text[128];
	int status;
	char ctype[128];
	char body[70000];
	size_t body_len;

	int nmsg;
	enum ws_msg_type types[MAX_MSGS];
	char msgs[MAX_MSGS][1600];
	size_t lens[MAX_MSGS];
	size_t bytes;

	/* Knobs. */
	const char *send_on_open[3]; /* texts sent from on_open */
	int free_at;		     /* ws_free inside on_message N */
	int close_at;		     /* ws_close inside on_message N */
	int pause_at[2];	     /* ws_pause_read(1) inside message N */
	int burst;		     /* check burst message order/content */
	long next_seq;
	int bad_burst;
	int count_msgs; /* check "msg N" order for all N */
	int bad_order;
	long turn, last_turn, turns; /* loop turns that delivered */
	struct event *turn_ev;
	int per_turn, max_per_turn;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
t_open(struct ws *ws, void *arg)
{
	struct t *t = arg;
	int i;

	t->opened++;
	for (i = 0; i < 3 && t->send_on_open[i] != NULL; i++)
		if (ws_send_text(ws, t->send_on_open[i],
			strlen(t->send_on_open[i])) != 0)
			t->opened = -100;
}

/* Burst messages are "%08d" seq then (size - 8) copies of 'a' + seq%26. */
static void
t_check_burst(struct t *t, const unsigned char *d, size_t len)
{
	char seq[9];
	size_t i;

	if (len < 8) {
		t->bad_burst++;
		return;
	}
	memcpy(seq, d, 8);
	seq[8] = '\0';
	if (atol(seq) != t->next_seq)
		t->bad_burst++;
	for (i = 8; i < len; i++)
		if (d[i] != 'a' + t->next_seq % 26) {
			t->bad_burst++;
			break;
		}
	t->next_seq++;
}

static void
t_message(struct ws *ws, enum ws_msg_type type, const unsigned char *data,
    size_t len, void *arg)
{
	struct t *t = arg;
	int n = ++t->nmsg;

	t->bytes += len;
	if (n <= MAX_MSGS) {
		t->types[n - 1] = type;
		t->lens[n - 1] = len;
		memcpy(t->msgs[n - 1], data,
		    len < sizeof(t->msgs[0]) - 1 ? len
						 : sizeof(t->msgs[0]) - 1);
	}
	if (t->burst)
		t_check_burst(t, data, len);
	if (t->count_msgs) {
		char want[32];

		snprintf(want, sizeof(want), "msg %d", n - 1);
		if (len != strlen(want) || memcmp(data, want, len) != 0)
			t->bad_order++;
		if (t->turn != t->last_turn) {
			t->turns++;
			t->last_turn = t->turn;
			t->per_turn = 0;
		}
		if (++t->per_turn > t->max_per_turn)
			t->max_per_turn = t->per_turn;
	}
	if (n == t->pause_at[0] || n == t->pause_at[1])
		ws_pause_read(ws, 1);
	if (n == t->close_at) {
		ws_close(ws);
		t->done = 1;
	}
	if (n == t->free_at) {
		ws_free(ws);
		t->ws = NULL;
		t->done = 1;
	}
}

static void
t_close(struct ws *ws, const struct ws_close_info *info, void *arg)
{
	struct t *t = arg;

	t->closed++;
	t->reason = info->reason;
	snprintf(t->errmsg, sizeof(t->errmsg), "%s", info->errmsg);
	t->code = info->code;
	snprintf(t->close_text, sizeof(t->close_text), "%s", info->close_text);
	t->status = info->status;
	snprintf(t->ctype, sizeof(t->ctype), "%s",
	    info->content_type != NULL ? info->content_type : "(null)");
	t->body_len = info->body_len;
	memcpy(t->body, info->body, info->body_len + 1);
	t->done = 1;
	/* Free from inside the callback: must be deferred by ws.c. */
	ws_free(ws);
	t->ws = NULL;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until *flag or ms elapsed; returns *flag. */
static int
run_until(struct event_base *base, int *flag, int ms)
{
	struct timeval tv = {0, 10000};
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	double end = now_ms() + ms;

	event_add(tick, &tv);
	while ((flag == NULL || !*flag) && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return flag == NULL || *flag;
}

/* After ws_free: every ws event must go away (linger is bounded). */
static int
drain(struct event_base *base)
{
	double end = now_ms() + 4000;
	int n;

	for (;;) {
		n = event_base_get_num_events(
		    base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);
		if (n == 0 || now_ms() > end)
			break;
		run_until(base, NULL, 20);
	}
	return n == 0;
}

static void
t_init(struct t *t)
{
	memset(t, 0, sizeof(*t));
	t->base = event_base_new();
}

static void
t_fini(struct t *t, const char *name)
{
	if (t->ws != NULL) {
		ws_free(t->ws);
		t->ws = NULL;
	}
	ok(drain(t->base), "%s: no events left after ws_free", name);
	event_base_free(t->base);
}

/* Run until t has n messages, is closed, or ms elapsed. */
static void
wait_msgs(struct t *t, int n, int ms)
{
	double end = now_ms() + ms;

	while (t->nmsg < n && !t->closed && now_ms() < end)
		run_until(t->base, NULL, 10);
}

static int
t_connect_opts(
    struct t *t, const char *scheme, int p, const char *path, struct ws_opts *o)
{
	char url[256];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", scheme, p, path);
	o->url = url;
	o->on_open = t_open;
	o->on_message = t_message;
	o->on_close = t_close;
	o->arg = t;
	return ws_connect(t->base, o, &t->ws);
}

static int
t_connect(struct t *t, const char *path)
{
	struct ws_opts o;

	memset(&o, 0, sizeof(o));
	o.handshake_timeout_ms = 5000;
	return t_connect_opts(t, "ws", port, path, &o);
}

/* A fresh t connected to path (the default options); what names the case. */
static void
t_start(struct t *t, const char *path, const char *what)
{
	t_init(t);
	ok_int(t_connect(t, path), 0, "%s: connect", what);
}

/* Connect to url, dialling 127.0.0.1:p instead of the URL's host. */
static int
t_connect_to(struct t *t, const char *url, int p, struct ws_opts *o)
{
	o->url = url;
	o->connect_host = "127.0.0.1";
	o->connect_port = (unsigned)p;
	o->on_open = t_open;
	o->on_message = t_message;
	o->on_close = t_close;
	o->arg = t;
	return ws_connect(t->base, o, &t->ws);
}

/* Read an integer a helper published in tmpdir/name; -1 if absent. */
static long
helper_value(const char *name, int wait_ms)
{
	char path[256];
	double end = now_ms() + wait_ms;
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	for (;;) {
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%ld", &v) != 1)
				v = -1;
			fclose(f);
			if (v != -1)
				return v;
		}
		if (now_ms() > end)
			return -1;
		usleep(20000);
	}
}

static int
helper_start(const char *cert, const char *key)
{
	const char *srcdir = getenv("top_srcdir");
	const char *python = getenv("PYTHON3");
	char helper[1024];
	int fds[2];

	if (python == NULL || *python == '\0')
		python = "/usr/bin/python3";
	if (access(python, X_OK) != 0)
		return -1;
	if (srcdir != NULL && *srcdir != '\0')
		snprintf(helper, sizeof(helper), "%s/tests/unit/ws-helper.py",
		    srcdir);
	else {
		/* Fall back to the directory of this source file. */
		const char *slash = strrchr(__FILE__, '/');
		snprintf(helper, sizeof(helper), "%.*sws-helper.py",
		    slash != NULL ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
	}
	if (access(helper, R_OK) != 0)
		return -1;
	if (pipe(fds) == -1)
		return -1;
	helper_pid = fork();
	if (helper_pid == -1)
		return -1;
	if (helper_pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		if (cert != NULL)
			execl(python, python, helper, tmpdir, cert, key,
			    (char *)NULL);
		else
			execl(python, python, helper, tmpdir, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	helper_stdin = fds[1];
	fcntl(helper_stdin, F_SETFD, FD_CLOEXEC);
	port = (int)helper_value("port", 10000);
	if (cert != NULL)
		tls_port = (int)helper_value("tls-port", 10000);
	return port > 0 ? 0 : -1;
}

static void
helper_stop(void)
{
	char cmd[300];

	if (helper_stdin != -1)
		close(helper_stdin);
	if (helper_pid > 0) {
		kill(helper_pid, SIGTERM);
		waitpid(helper_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
}

/* A self-signed certificate for IP 127.0.0.1; 0 on success. */
static int
make_cert(char *cert, char *key, size_t len)
{
	char cmd[1024];

	snprintf(cert, len, "%s/cert.pem", tmpdir);
	snprintf(key, len, "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -days 2 -subj /CN=wrennd-test -addext "
	    "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '%s' -out '%s' "
	    ">/dev/null 2>&1",
	    key, cert);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_reason_names(void)
{
	ok_str(ws_reason_name(WS_REASON_EOF), "eof", "reason name of EOF");
	ok_str(ws_reason_name(WS_REASON__MAX), "unknown",
	    "reason name past the last");
}

static void
test_bad_args(void)
{
	static const char *const crlf[] = {"X-API-Key: a\r\nX-Evil: 1", NULL};
	static const char *const noname[] = {": v", NULL};
	struct event_base *base = event_base_new();
	struct ws_opts o;
	struct ws *ws = NULL;

	memset(&o, 0, sizeof(o));
	o.url = "http://127.0.0.1/";
	ok(ws_connect(base, &o, &ws) == -EINVAL, "connect: http:// refused");
	o.url = "wss://127.0.0.1/";
	ok(ws_connect(base, &o, &ws) == -EINVAL,
	    "connect: wss:// without tlsctx refused");
	o.url = "ws://example.invalid/";
	ok(ws_connect(base, &o, &ws) == -EINVAL,
	    "connect: host name without evdns refused");
	o.url = "ws://127.0.0.1:99999/";
	ok(ws_connect(base, &o, &ws) == -EINVAL, "connect: bad port refused");
	o.url = "ws://user@127.0.0.1/";
	ok(ws_connect(base, &o, &ws) == -EINVAL, "connect: userinfo refused");
	o.url = "ws://127.0.0.1/a b";
	ok(ws_connect(base, &o, &ws) == -EINVAL,
	    "connect: space in path refused");
	o.url = "ws://127.0.0.1/";
	o.headers = crlf;
	ok(ws_connect(base, &o, &ws) == -EINVAL,
	    "connect: CR/LF in a header line refused");
	o.headers = noname;
	ok(ws_connect(base, &o, &ws) == -EINVAL,
	    "connect: header without a name refused");
	ok(ws == NULL, "connect: *ret untouched on failure");
	ok(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0,
	    "connect: failures leave no events");
	event_base_free(base);
}

static void
test_headers(void)
{
	static const char *const hdrs[] = {
	    "X-API-Key: wrn_0123456789abcdef", "X-Extra:  two", NULL};
	struct ws_opts o;
	struct t t;
	char host[64];
	const char *k;

	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.headers = hdrs;
	ok(t_connect_opts(&t, "ws", port, "/headers?x=1", &o) == 0,
	    "headers: connect");
	ok(ws_send_text(t.ws, "x", 1) == -ENOTCONN,
	    "headers: send before open is -ENOTCONN");
	run_until(t.base, &t.nmsg, 5000);
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", port);
	ok_int(t.opened, 1, "headers: opened");
	ok_int(t.nmsg, 1, "headers: got the echo");
	ok_int(strncmp(t.msgs[0], "GET /headers?x=1 HTTP/1.1\r\n", 27), 0,
	    "headers: request line (got '%.27s')", t.msgs[0]);
	ok_strstr(t.msgs[0], host, "headers: Host with port");
	ok_strstr(
	    t.msgs[0], "\r\nUpgrade: websocket\r\n", "headers: Upgrade header");
	ok_strstr(t.msgs[0], "\r\nConnection: Upgrade\r\n",
	    "headers: Connection header");
	ok_strstr(t.msgs[0], "\r\nSec-WebSocket-Version: 13\r\n",
	    "headers: Sec-WebSocket-Version header");
	k = strstr(t.msgs[0], "\r\nSec-WebSocket-Key: ");
	ok_nonnull(k, "headers: Sec-WebSocket-Key header");
	ok_int(k != NULL && strlen(k) > 45, 1,
	    "headers: the key has 24 characters");
	ok_int(k != NULL && strlen(k) > 45 ? k[43] : 0, '=',
	    "headers: the key's padding 1 (16-byte base64 key)");
	ok_int(k != NULL && strlen(k) > 45 ? k[44] : 0, '=',
	    "headers: the key's padding 2 (16-byte base64 key)");
	ok_int(k != NULL && strlen(k) > 45 ? k[45] : 0, '\r',
	    "headers: the key ends its line");
	ok_strstr(t.msgs[0], "\r\nX-API-Key: wrn_0123456789abcdef\r\n",
	    "headers: caller's first header line sent verbatim");
	ok_strstr(t.msgs[0], "\r\nX-Extra:  two\r\n",
	    "headers: caller's second header line sent verbatim");
	k = strstr(t.msgs[0], "\r\n\r\n");
	ok_nonnull(k, "headers: a blank line");
	ok_str(
	    k != NULL ? k + 4 : NULL, "", "headers: one blank line at the end");
	ws_close(t.ws);
	ok(ws_send_text(t.ws, "x", 1) == -EPIPE,
	    "headers: send after ws_close is -EPIPE");
	ok(ws_queued_bytes(t.ws) == 0, "headers: nothing queued once closed");
	run_until(t.base, NULL, 100);
	ok(t.closed == 0, "headers: no on_close after ws_close");
	t_fini(&t, "headers");
}

static void
test_echo(void)
{
	static char big[200001];
	struct t t;

	memset(big, 'B', sizeof(big) - 1);
	t_init(&t);
	t.send_on_open[0] = "hello";
	t.send_on_open[1] = big;
	t.send_on_open[2] = "";
	ok(t_connect(&t, "/echo") == 0, "echo: connect");
	run_until(t.base, &t.opened, 5000);
	ok(t.opened == 1, "echo: opened and sent from on_open");
	ok(ws_queued_bytes(t.ws) >= sizeof(big) - 1,
	    "echo: queued bytes counted (%zu)", ws_queued_bytes(t.ws));
	wait_msgs(&t, 3, 5000);
	run_until(t.base, NULL, 100); /* nothing more may come */
	ok(t.nmsg == 3, "echo: three messages back (%d)", t.nmsg);
	ok_int(t.types[0], WS_MSG_TEXT, "echo: text type echoed");
	ok_size(t.lens[0], 5, "echo: text length echoed");
	ok_int(memcmp(t.msgs[0], "hello", 5), 0, "echo: text echoed");
	ok(t.lens[1] == sizeof(big) - 1, "echo: 200000-byte message echoed");
	ok(t.lens[2] == 0, "echo: empty message echoed");
	ok(ws_queued_bytes(t.ws) == 0, "echo: output drained");
	ws_close(t.ws);
	ok(t.closed == 0, "echo: ws_close makes no callback");
	t_fini(&t, "echo");
	ok(helper_value("echo.close", 3000) == 1000,
	    "echo: server got close frame 1000 from ws_close");
}

static void
test_messages_eof(void)
{
	struct t t;
	char want[16];
	int i;

	t_start(&t, "/messages?n=5", "eof");
	run_until(t.base, &t.done, 5000);
	ok_int(t.nmsg, 5, "eof: five messages");
	for (i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "msg %d", i);
		ok_str(t.msgs[i], want, "eof: message %d in order", i);
	}
	ok_int(t.closed, 1, "eof: on_close");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_EOF),
	    "eof: TCP close without close frame is WS_REASON_EOF (%s)",
	    t.errmsg);
	run_until(t.base, NULL, 100);
	ok(t.closed == 1, "eof: on_close exactly once");
	t_fini(&t, "eof");
}

/*
 * Pause inside on_message (message 1), check the server really stalls
 * (its writes block: TCP backpressure) and nothing is delivered, resume,
 * pause again at message 100 and resume from outside a callback, then get
 * every byte complete and in order.
 */
static void
test_burst(const char *scheme, int p, long total, const char *name)
{
	char path[128], f[256];
	struct ws_opts o;
	struct t t;
	long s1, s2;
	int n1;

	snprintf(f, sizeof(f), "%s/burst.sent", tmpdir);
	unlink(f);
	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.handshake_timeout_ms = 5000;
	o.idle_timeout_ms = 800; /* must not fire while paused */
	o.tls = tls_trust;
	t.burst = 1;
	t.pause_at[0] = 1;
	t.pause_at[1] = 100;
	snprintf(path, sizeof(path), "/burst?total=%ld&size=65536", total);
	ok(t_connect_opts(&t, scheme, p, path, &o) == 0, "%s: connect", name);
	wait_msgs(&t, 1, 5000);
	run_until(t.base, NULL, 1200);
	n1 = t.nmsg;
	s1 = helper_value("burst.sent", 1000);
	run_until(t.base, NULL, 500);
	s2 = helper_value("burst.sent", 1000);
	diag("%s: paused after message 1; the server wrote %ld, then %ld, "
	     "of %ld bytes",
	    name, s1, s2, total);
	ok_int(n1, 1, "%s: one message before the pause", name);
	ok_int(t.nmsg, 1, "%s: no message delivered while paused", name);
	ok(t.closed == 0, "%s: no idle timeout while paused", name);
	ok_int(s1 > 0, 1, "%s: the server wrote (%ld)", name, s1);
	ok_int(s2, s1, "%s: the server is stalled by backpressure", name);
	ok_int(
	    s2 < total, 1, "%s: before the end (%ld of %ld)", name, s2, total);
	ws_pause_read(t.ws, 0);
	/* Conditions, not speed: the bounds only stop a hung test (a TLS
	 * burst under valgrind on a loaded machine takes tens of seconds). */
	wait_msgs(&t, 100, 120000);
	run_until(t.base, NULL, 300);
	ok(t.nmsg == 100, "%s: paused again at message 100 (%d)", name, t.nmsg);
	ws_pause_read(t.ws, 0);
	run_until(t.base, &t.done, 120000);
	ok_int(t.closed, 1, "%s: ends (%s)", name, t.errmsg);
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_CLOSED),
	    "%s: ends with the server's close frame", name);
	ok_int(t.code, 1000, "%s: the close code", name);
	ok_str(t.close_text, "done", "%s: the close text", name);
	ok_int((long long)t.bytes, total, "%s: all bytes", name);
	ok_int(t.bad_burst, 0, "%s: complete", name);
	ok_int(t.next_seq, total / 65536, "%s: every message in order", name);
	t_fini(&t, name);
}

/*
 * A refused upgrade: status, content type and body reach on_close; words,
 * if not NULL, are in the message. The helper's refusing routes hold the
 * connection until the client goes away, so on_close at all is the answer
 * read by its framing, not by waiting for a close.
 */
static void
test_refused(const char *path, int status, const char *ctype, const char *body,
    const char *words)
{
	char shown[256];
	struct t t;

	t_init(&t);
	ok(t_connect(&t, path) == 0, "%s: connect", path);
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1,
	    "%s: on_close while the server holds the connection (%s)", path,
	    t.errmsg);
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_HANDSHAKE),
	    "%s: WS_REASON_HANDSHAKE", path);
	ok_int(t.status, status, "%s: HTTP status", path);
	ok_int(t.opened, 0, "%s: not opened", path);
	ok_str(t.ctype, ctype, "%s: content type", path);
	ok_str(t.body, body, "%s: body (%s)", path,
	    testenv_shown(t.body, t.body_len, shown, sizeof(shown)));
	ok_size(t.body_len, strlen(body), "%s: body length", path);
	if (words != NULL)
		ok(strstr(t.errmsg, words) != NULL, "%s: message has '%s' (%s)",
		    path, words, t.errmsg);
	t_fini(&t, path);
}

/* A timer that notes whether it fired before the connection closed. */
struct deadline {
	const struct t *t;
	int before_close;
};

static void
deadline_fired(evutil_socket_t fd, short what, void *arg)
{
	struct deadline *d = arg;

	d->before_close = !d->t->closed;
}

/* A bad answer or failure: reason and a word of the message. */
static void
test_fails(const char *path, long hs_ms, long idle_ms, size_t max_msg,
    enum ws_reason reason, int status, const char *words)
{
	long limit = hs_ms > 0 && !idle_ms ? hs_ms : idle_ms;
	struct deadline d = {NULL, 0};
	struct event *ev = NULL;
	struct timeval tv;
	struct ws_opts o;
	struct t t;

	t_init(&t);
	d.t = &t;
	/*
	 * Not before the deadline, by the loop's own order: a timer of a
	 * millisecond less, added before ws's own, fires first unless ws
	 * gives up early (no wall-clock bound).
	 */
	if (reason == WS_REASON_TIMEOUT) {
		tv.tv_sec = (limit - 1) / 1000;
		tv.tv_usec = (limit - 1) % 1000 * 1000;
		if ((ev = evtimer_new(t.base, deadline_fired, &d)) != NULL)
			(void)evtimer_add(ev, &tv);
	}
	memset(&o, 0, sizeof(o));
	o.handshake_timeout_ms = hs_ms;
	o.idle_timeout_ms = idle_ms;
	o.max_msg = max_msg;
	ok(t_connect_opts(&t, "ws", port, path, &o) == 0, "%s: connect", path);
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1, "%s: on_close", path);
	ok_str(ws_reason_name(t.reason), ws_reason_name(reason), "%s: reason",
	    path);
	ok_int(t.status, status, "%s: status", path);
	ok_strstr(t.errmsg, words, "%s: the message", path);
	if (reason == WS_REASON_TIMEOUT) {
		ok_nonnull(ev, "%s: the deadline's timer", path);
		ok_int(d.before_close, 1,
		    "%s: not before the deadline (a %ld ms timer fired first)",
		    path, limit - 1);
	}
	if (ev != NULL)
		event_free(ev);
	if (reason == WS_REASON_TOO_LARGE || reason == WS_REASON_PROTOCOL)
		ok(t.nmsg == 0, "%s: the bad message is not delivered", path);
	t_fini(&t, path);
}

/* Issue 12 finding 17: a silent server gets a ping, then the timeout. */
static void
test_idle_silent(void)
{
	char f[256];
	long pings;

	snprintf(f, sizeof(f), "%s/idle.pings", tmpdir);
	unlink(f);
	test_fails("/idle", 5000, 300, 0, WS_REASON_TIMEOUT, 0,
	    "no answer from the control plane for 600 ms");
	pings = helper_value("idle.pings", 3000);
	ok(pings == 1, "/idle: one ping before giving up (got %ld)", pings);
}

/* A server that only answers pings keeps the connection past the timeout. */
static void
test_idle_pinged(void)
{
	struct ws_opts o;
	struct t t;
	char f[256];
	long pings;

	snprintf(f, sizeof(f), "%s/pinged.pings", tmpdir);
	unlink(f);
	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.handshake_timeout_ms = 5000;
	o.idle_timeout_ms = 300;
	ok(t_connect_opts(&t, "ws", port, "/pinged", &o) == 0,
	    "pinged: connect");
	run_until(t.base, &t.opened, 5000);
	/* Run until the server has answered at least four pings. */
	pings = -1;
	for (int i = 0; i < 100 && !t.closed; i++) {
		run_until(t.base, NULL, 100);
		pings = helper_value("pinged.pings", 0);
		if (pings >= 4)
			break;
	}
	ok(pings >= 4, "pinged: the server answered >= 4 pings (got %ld)",
	    pings);
	ok(t.closed == 0, "pinged: still open after the pongs (closed %d, %s)",
	    t.closed, t.closed ? t.errmsg : "-");
	t_fini(&t, "pinged");
}

/* Every WebSocket's socket has TCP keepalive (from dial.c). */
static void
test_keepalive(void)
{
	struct t t;
	int fd, v;

	t_start(&t, "/idle", "keepalive");
	run_until(t.base, &t.opened, 5000);
	fd = ws_fd(t.ws);
	ok(fd >= 0, "keepalive: the ws has a socket (%d)", fd);
	/* The probe timings are dial.c's, checked in test-dial. */
	v = testenv_sockopt(fd, SOL_SOCKET, SO_KEEPALIVE);
	ok(v == 1, "keepalive: SO_KEEPALIVE is 1 (got %d)", v);
	t_fini(&t, "keepalive");
}

static void
test_ping(void)
{
	struct t t;

	t_start(&t, "/ping", "ping");
	wait_msgs(&t, 1, 5000);
	ok_int(t.nmsg, 1, "ping: one message");
	ok_str(t.msgs[0], "pong-ok", "ping: answered with the same payload");
	t_fini(&t, "ping");
}

static void
test_close_frame(void)
{
	struct t t;

	t_start(&t, "/close", "close");
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1, "close: on_close");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_CLOSED),
	    "close: WS_REASON_CLOSED");
	ok_int(t.code, 4001, "close: the code");
	ok_str(t.close_text, "bye", "close: the text");
	t_fini(&t, "close");
	ok(helper_value("close.reply", 3000) == 4001,
	    "close: the close frame was echoed to the server");
}

static void
test_early(void)
{
	struct t t;

	t_start(&t, "/early", "early");
	run_until(t.base, &t.done, 5000);
	ok_int(t.nmsg, 4, "early: four messages");
	ok_str(
	    t.msgs[0], "first", "early: frame sent with the 101 is delivered");
	ok_str(t.msgs[1], "frag-ment-ed",
	    "early: fragments reassembled around a ping");
	ok_int(
	    t.types[1], WS_MSG_TEXT, "early: the fragmented message is text");
	ok_int(t.types[2], WS_MSG_BINARY, "early: binary message type");
	ok_size(t.lens[2], 5, "early: binary message length");
	ok_int(memcmp(t.msgs[2], "\0\1bin", 5), 0, "early: binary message");
	ok_str(t.msgs[3], "end", "early: last message");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_EOF),
	    "early: then EOF");
	t_fini(&t, "early");
}

static void
test_refused_port(void)
{
	struct ws_opts o;
	struct t t;
	int p = testenv_closed_port();

	t_init(&t);
	memset(&o, 0, sizeof(o));
	ok(t_connect_opts(&t, "ws", p, "/", &o) == 0, "refused: connect");
	ok(t.closed == 0, "refused: no callback from inside ws_connect");
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1, "refused: on_close");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_TRANSPORT),
	    "refused: WS_REASON_TRANSPORT");
	ok_strstr(t.errmsg, "refused", "refused: the message");
	t_fini(&t, "refused");
}

/* Counts loop turns: re-armed once per event_base_loop iteration. */
static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct t *t = arg;
	static const struct timeval zero = {0, 0};

	t->turn++;
	if (!t->done)
		evtimer_add(t->turn_ev, &zero);
}

/* Many small messages: all delivered, in order, over several loop turns
 * (ws.c delivers at most a fixed number per turn). */
static void
test_budget(void)
{
	static const struct timeval zero = {0, 0};
	struct t t;

	t_init(&t);
	t.count_msgs = 1;
	t.last_turn = -1;
	t.turn_ev = evtimer_new(t.base, turn_cb, &t);
	evtimer_add(t.turn_ev, &zero);
	ok(t_connect(&t, "/messages?n=1000") == 0, "budget: connect");
	run_until(t.base, &t.done, 10000);
	ok_int(t.nmsg, 1000, "budget: 1000 messages");
	ok_int(t.bad_order, 0, "budget: in order");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_EOF),
	    "budget: then EOF");
	/* A counted turn may hold two ws work slices (timer order). */
	ok_int(t.turns >= 8, 1,
	    "budget: spread over at least 8 loop turns "
	    "(got %ld)",
	    t.turns);
	ok_int(t.max_per_turn <= 2 * 64, 1,
	    "budget: at most %d per turn (got %d)", 2 * 64, t.max_per_turn);
	event_free(t.turn_ev);
	t_fini(&t, "budget");
}

/* The owner frees or closes from inside on_message. */
static void
test_owner_in_callback(void)
{
	struct t t;

	t_init(&t);
	t.free_at = 1;
	ok(t_connect(&t, "/messages?n=5") == 0, "free-in-cb: connect");
	run_until(t.base, &t.done, 5000);
	run_until(t.base, NULL, 200);
	ok_int(t.nmsg, 1, "free-in-cb: no message after ws_free");
	ok_int(t.closed, 0, "free-in-cb: no on_close after ws_free");
	t_fini(&t, "free-in-cb");

	t_init(&t);
	t.close_at = 2;
	ok(t_connect(&t, "/messages?n=5") == 0, "close-in-cb: connect");
	run_until(t.base, &t.done, 5000);
	run_until(t.base, NULL, 200);
	ok_int(t.nmsg, 2, "close-in-cb: no message after ws_close");
	ok_int(t.closed, 0, "close-in-cb: no on_close after ws_close");
	t_fini(&t, "close-in-cb");

	/* Freed before the first loop turn: nothing happens at all. */
	t_start(&t, "/echo", "free-at-once");
	ws_free(t.ws);
	t.ws = NULL;
	run_until(t.base, NULL, 100);
	ok_int(t.opened, 0, "free-at-once: no on_open");
	ok_int(t.closed, 0, "free-at-once: no on_close");
	t_fini(&t, "free-at-once");
}

/* Host names through evdns (a private hosts file), and a freed lookup. */
static void
test_dns(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct evdns_base *dns;
	struct ws_opts o;
	char hosts[256], url[128], ns[64];
	struct t t;
	FILE *f;
	int udp, n0, n1;

	snprintf(hosts, sizeof(hosts), "%s/hosts", tmpdir);
	f = fopen(hosts, "w");
	/* ::1 first: the helper is not there, so the next address is tried. */
	fprintf(f,
	    "::1 wrennd-ws-test.example\n"
	    "127.0.0.1 wrennd-ws-test.example\n");
	fclose(f);

	t_init(&t);
	dns = evdns_base_new(t.base, 0);
	ok_nonnull(dns, "dns: evdns base");
	ok_int(dns != NULL ? evdns_base_load_hosts(dns, hosts) : -1, 0,
	    "dns: evdns base with a hosts file");
	memset(&o, 0, sizeof(o));
	o.dns = dns;
	snprintf(url, sizeof(url),
	    "ws://wrennd-ws-test.example:%d/messages?n=2", port);
	o.url = url;
	o.on_open = t_open;
	o.on_message = t_message;
	o.on_close = t_close;
	o.arg = &t;
	ok(ws_connect(t.base, &o, &t.ws) == 0, "dns: connect by name");
	run_until(t.base, &t.done, 5000);
	ok_int(
	    t.nmsg, 2, "dns: resolved, connected, 2 messages (%s)", t.errmsg);
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_EOF),
	    "dns: then EOF");

	/* A name server that never answers; free while the lookup runs. */
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(udp, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(udp, (struct sockaddr *)&sin, &len);
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", ntohs(sin.sin_port));
	ok(evdns_base_nameserver_ip_add(dns, ns) == 0, "dns: silent server");
	t.done = 0;
	t.closed = 0;
	snprintf(url, sizeof(url), "ws://nowhere.example:%d/", port);
	run_until(t.base, NULL, 50);
	n0 = event_base_get_num_events(
	    t.base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);
	ok(ws_connect(t.base, &o, &t.ws) == 0, "dns: connect to a slow name");
	run_until(t.base, NULL, 100);
	ok(t.closed == 0, "dns: lookup still pending");
	ws_free(t.ws);
	t.ws = NULL;
	run_until(t.base, NULL, 200);
	n1 = event_base_get_num_events(
	    t.base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);
	ok(n1 == n0, "dns: cancelled lookup released (%d events, was %d)", n1,
	    n0);
	ok(t.closed == 0, "dns: no callback after ws_free");
	evdns_base_free(dns, 0);
	close(udp);
	t_fini(&t, "dns");
}

/*
 * connect_host (the sandbox proxy reached at the base URL's address): the
 * address dialled is 127.0.0.1 while the URL's host, which needs no DNS
 * name, is the Host of the request, the TLS server name and the name the
 * certificate must carry.
 */
static void
test_connect_to(const struct tlsctx *tls)
{
	char url[256], host[128];
	struct ws_opts o;
	struct t t;

	t_init(&t);
	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "ws://8888-cl-abc.proxy.invalid:%d/headers",
	    port);
	ok(t_connect_to(&t, url, port, &o) == 0, "connect_host: connect");
	run_until(t.base, &t.nmsg, 5000);
	snprintf(host, sizeof(host),
	    "\r\nHost: 8888-cl-abc.proxy.invalid:%d\r\n", port);
	ok_int(t.opened, 1,
	    "connect_host: opened through 127.0.0.1 without a lookup (%s)",
	    t.errmsg);
	ok_int(t.nmsg, 1, "connect_host: the request came back");
	ok_strstr(t.nmsg == 1 ? t.msgs[0] : NULL, host,
	    "connect_host: Host is the URL's");
	ws_close(t.ws);
	t_fini(&t, "connect_host");

	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.tls = tls;
	snprintf(url, sizeof(url), "wss://localhost:%d/echo", tls_port);
	t.send_on_open[0] = "named";
	ok(t_connect_to(&t, url, tls_port, &o) == 0,
	    "connect_host wss: connect");
	wait_msgs(&t, 1, 5000);
	ok_int(t.nmsg, 1,
	    "connect_host wss: the certificate is checked for the URL's "
	    "name localhost, which it carries (%s)",
	    t.errmsg);
	ok_str(t.nmsg == 1 ? t.msgs[0] : NULL, "named",
	    "connect_host wss: the echo");
	ws_close(t.ws);
	t_fini(&t, "connect_host wss");

	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.tls = tls;
	snprintf(url, sizeof(url), "wss://other.invalid:%d/echo", tls_port);
	ok(t_connect_to(&t, url, tls_port, &o) == 0,
	    "connect_host wss other name: connect");
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1, "connect_host wss other name: on_close");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_TRANSPORT),
	    "connect_host wss other name: WS_REASON_TRANSPORT");
	ok_int(t.opened, 0, "connect_host wss other name: not opened");
	ok_strstr(t.errmsg, "certificate",
	    "connect_host wss other name: refused, the certificate does "
	    "not name other.invalid");
	t_fini(&t, "connect_host wss other name");
}

static void
test_wss(const char *cert)
{
	struct tlsctx *sys;
	struct ws_opts o;
	char err[256];
	struct t t;

	tls_trust = tlsctx_new(cert, err, sizeof(err));
	ok(tls_trust != NULL, "wss: tlsctx with the test CA (%s)",
	    tls_trust ? "ok" : err);
	if (tls_trust == NULL)
		return;

	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.tls = tls_trust;
	t.send_on_open[0] = "over tls";
	ok(t_connect_opts(&t, "wss", tls_port, "/echo", &o) == 0,
	    "wss: connect");
	wait_msgs(&t, 1, 5000);
	ok_int(t.nmsg, 1, "wss: one message");
	ok_str(t.msgs[0], "over tls", "wss: echo over TLS");
	ws_close(t.ws);
	t_fini(&t, "wss echo");
	ok(helper_value("echo.close", 3000) == 1000,
	    "wss: close frame flushed before teardown");

	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.tls = tls_trust;
	ok(t_connect_opts(&t, "wss", tls_port, "/messages?n=3", &o) == 0,
	    "wss eof: connect");
	run_until(t.base, &t.done, 5000);
	ok_int(t.nmsg, 3, "wss eof: three messages (%s)", t.errmsg);
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_EOF),
	    "wss eof: TCP close without close_notify is WS_REASON_EOF");
	t_fini(&t, "wss eof");

	test_burst("wss", tls_port, 8L << 20, "wss burst");

	/* The system store alone does not trust the test certificate. */
	sys = tlsctx_new(NULL, err, sizeof(err));
	t_init(&t);
	memset(&o, 0, sizeof(o));
	o.tls = sys;
	ok_nonnull(sys, "wss verify: a tlsctx with the system store");
	ok_int(
	    sys != NULL ? t_connect_opts(&t, "wss", tls_port, "/echo", &o) : -1,
	    0, "wss verify: connect");
	run_until(t.base, &t.done, 5000);
	ok_int(t.closed, 1, "wss verify: on_close");
	ok_str(ws_reason_name(t.reason), ws_reason_name(WS_REASON_TRANSPORT),
	    "wss verify: WS_REASON_TRANSPORT");
	ok_strstr(t.errmsg, "certificate",
	    "wss verify: untrusted certificate refused");
	ok_int(t.opened, 0, "wss verify: not opened");
	t_fini(&t, "wss verify");
	tlsctx_free(sys);
	test_connect_to(tls_trust);
	tlsctx_free(tls_trust);
	tls_trust = NULL;
}

int
main(void)
{
	char cert[256], key[256];
	int have_tls;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		printf("1..0 # SKIP cannot create a temporary directory\n");
		return 0;
	}
	have_tls = make_cert(cert, key, sizeof(cert)) == 0;
	if (helper_start(have_tls ? cert : NULL, key) != 0) {
		helper_stop();
		printf("1..0 # SKIP python3 or ws-helper.py unavailable\n");
		return 0;
	}

	test_reason_names();
	test_bad_args();
	test_headers();
	test_echo();
	test_messages_eof();
	test_burst("ws", port, 16L << 20, "burst");
	test_refused("/notfound", 404, "application/json",
	    "{\"error\":{\"code\":\"not_found\","
	    "\"message\":\"sandbox not found\"}}\n",
	    NULL);
	test_refused("/badrequest", 400, "text/plain; charset=utf-8",
	    "Bad Request\n", NULL);
	test_refused("/chunked", 409, "application/json",
	    "{\"error\":{\"code\":\"invalid_state\","
	    "\"message\":\"sandbox is not running (status: paused)\"}}\n",
	    NULL);
	/* Issue 11: chunk extensions are refused (http.c), body kept so far. */
	test_refused("/chunkext", 409, "application/json",
	    "{\"error\":{\"code\":\"in", "chunk extension");
	test_refused(
	    "/eofbody", 502, "text/plain", "upstream went away\n", NULL);
	test_fails("/badaccept", 5000, 0, 0, WS_REASON_HANDSHAKE, 101,
	    "Sec-WebSocket-Accept");
	test_fails(
	    "/noupgrade", 5000, 0, 0, WS_REASON_HANDSHAKE, 101, "Upgrade");
	test_fails(
	    "/bighead", 5000, 0, 0, WS_REASON_HANDSHAKE, 0, "larger than");
	test_fails(
	    "/hangup", 5000, 0, 0, WS_REASON_HANDSHAKE, 0, "closed before");
	test_fails("/noanswer", 300, 0, 0, WS_REASON_TIMEOUT, 0,
	    "handshake timed out");
	test_idle_silent();
	test_idle_pinged();
	test_keepalive();
	test_fails("/huge?size=4096", 5000, 0, 1024, WS_REASON_TOO_LARGE, 0,
	    "larger than 1024");
	test_fails(
	    "/badframe", 5000, 0, 0, WS_REASON_PROTOCOL, 0, "invalid frame");
	ok(helper_value("badframe.close", 3000) == 1002,
	    "/badframe: the server got close code 1002");
	test_fails("/badutf8", 5000, 0, 0, WS_REASON_PROTOCOL, 0, "UTF-8");
	/* Issue 12 finding 17: bad control frames are protocol errors. */
	test_fails("/badctrl?kind=frag", 5000, 0, 0, WS_REASON_PROTOCOL, 0,
	    "invalid frame");
	ok(helper_value("badctrl.close", 3000) == 1002,
	    "/badctrl?kind=frag: the server got close code 1002");
	test_fails("/badctrl?kind=big", 5000, 0, 0, WS_REASON_PROTOCOL, 0,
	    "invalid frame");
	ok(helper_value("badctrl.close", 3000) == 1002,
	    "/badctrl?kind=big: the server got close code 1002");
	test_ping();
	test_close_frame();
	test_early();
	test_refused_port();
	test_budget();
	test_owner_in_callback();
	test_dns();
	if (have_tls && tls_port > 0)
		test_wss(cert);
	else
		diag("wss tests skipped: no openssl tool or TLS port");

	helper_stop();
	return done_testing();
}
