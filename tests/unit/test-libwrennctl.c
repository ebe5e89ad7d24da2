/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl against an in-process fake wrennd: each case forks a child
 * that speaks wrenn-ipc/1 on one end of a socketpair (or a listening Unix
 * socket) and obeys instructions carried in the params of each call, so the
 * client side of every case is plain public API. Covers the greeting,
 * blocking and asynchronous calls, out-of-order replies, streams, cancel,
 * local timeouts, the error mapping, connection loss, garbage and oversize
 * lines, the non-blocking event-loop mode and callback re-entrancy rules.
 *
 * Instructions understood by the fake server (all optional, in params):
 *   "close":true        close the connection instead of replying
 *   "raw":"..."         write these bytes first (verbatim)
 *   "delay_ms":N        sleep before replying
 *   "events":[{..},..]  send each as a $/stream event (id and seq added)
 *   "stray_event":true  first send an event for an id nobody uses
 *   "hold":true         do not reply until "$/cancel" (-> -32800) or a
 *                       "release" call (-> {"released":id})
 *   "release":true      reply, then reply to held calls newest first
 *   "error":{..}        reply with this error object
 *   "result":X          reply with this result
 *   "reply_then_close"  reply, then close at once
 *   "big":N             reply with a string of N bytes ("xxx...")
 *   "n_events":N        send N stdout events first
 * Without "error"/"result" the reply is
 *   {"method":M,"params":P,"cancels":N} (N = "$/cancel" seen so far).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"
#include "wrennctl.h"

#define HELLO                                                                  \
	"{\"jsonrpc\":\"2.0\",\"method\":\"wrennd.hello\",\"params\":{"        \
	"\"server\":\"wrennd\",\"version\":\"0.1.0-test\",\"protocol\":1,"     \
	"\"capabilities\":[\"stream\",\"cancel\"],\"limits\":{"                \
	"\"max_line\":1048576,\"max_inflight\":64,\"max_fds\":0},"             \
	"\"peer\":{\"uid\":1000,\"gid\":1000,\"pid\":42,\"role\":\"user\"},"   \
	"\"methods\":[\"sandboxes.create\",\"sandboxes.get\","                 \
	"\"sandbox.exec\"]}}\n"

/* ---- fake server (child process) ------------------------------------- */

struct fake {
	int fd;
	json_t *held[32]; /* ids of held calls, owned */
	int n_held;
	int cancels;
};

static void
fake_write(struct fake *f, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(f->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the client went away */
		buf += n;
		len -= (size_t)n;
	}
}

static void
fake_send(struct fake *f, json_t *msg_steal)
{
	char *s;

	s = json_dumps(msg_steal, JSON_COMPACT);
	json_decref(msg_steal);
	if (s == NULL)
		_exit(3);
	fake_write(f, s, strlen(s));
	fake_write(f, "\n", 1);
	free(s);
}

static void
fake_reply_result(struct fake *f, json_t *id, json_t *result_steal)
{
	fake_send(f,
	    json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
		result_steal));
}

static void
fake_reply_error(struct fake *f, json_t *id, json_t *error_steal)
{
	fake_send(f,
	    json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "error",
		error_steal));
}

static void
fake_cancel(struct fake *f, json_t *params)
{
	json_t *id = json_object_get(params, "id");
	int i;

	f->cancels++;
	for (i = 0; i < f->n_held; i++) {
		if (!json_equal(f->held[i], id))
			continue;
		fake_reply_error(f, id,
		    json_pack("{s:i, s:s, s:{s:s}}", "code", -32800, "message",
			"cancelled", "data", "code", "cancelled"));
		json_decref(f->held[i]);
		f->held[i] = f->held[--f->n_held];
		return;
	}
}

static void
fake_request(struct fake *f, const char *method, json_t *id, json_t *params)
{
	json_t *v, *ev;
	size_t i;
	int seq = 0;

	v = json_object_get(params, "raw");
	if (json_is_string(v))
		fake_write(f, json_string_value(v), json_string_length(v));
	if (json_is_true(json_object_get(params, "close")))
		_exit(0);
	v = json_object_get(params, "delay_ms");
	if (json_is_integer(v))
		usleep((useconds_t)json_integer_value(v) * 1000);
	if (json_is_true(json_object_get(params, "stray_event")))
		fake_send(f,
		    json_pack("{s:s, s:s, s:{s:i, s:i, s:s}}", "jsonrpc", "2.0",
			"method", "$/stream", "params", "id", 99999, "seq", 0,
			"event", "stdout"));
	json_array_foreach(json_object_get(params, "events"), i, ev)
	{
		v = json_deep_copy(ev);
		json_object_set(v, "id", id);
		json_object_set_new(v, "seq", json_integer(seq++));
		fake_send(f,
		    json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
			"$/stream", "params", v));
	}
	if (json_is_true(json_object_get(params, "hold"))) {
		if (f->n_held < 32)
			f->held[f->n_held++] = json_incref(id);
		return;
	}
	v = json_object_get(params, "n_events");
	for (i = 0; json_is_integer(v) && i < (size_t)json_integer_value(v);
	     i++)
		fake_send(f,
		    json_pack("{s:s, s:s, s:{s:O, s:i, s:s, s:s}}", "jsonrpc",
			"2.0", "method", "$/stream", "params", "id", id, "seq",
			seq++, "event", "stdout", "data", "line\n"));
	if ((v = json_object_get(params, "big")) != NULL) {
		char *big = malloc((size_t)json_integer_value(v));

		if (big == NULL)
			_exit(7);
		memset(big, 'x', (size_t)json_integer_value(v));
		fake_reply_result(
		    f, id, json_stringn(big, (size_t)json_integer_value(v)));
		free(big);
		return;
	}
	if ((v = json_object_get(params, "error")) != NULL)
		fake_reply_error(f, id, json_incref(v));
	else if ((v = json_object_get(params, "result")) != NULL)
		fake_reply_result(f, id, json_incref(v));
	else
		fake_reply_result(f, id,
		    json_pack("{s:s, s:o, s:i}", "method", method, "params",
			params != NULL ? json_incref(params) : json_object(),
			"cancels", f->cancels));
	if (json_is_true(json_object_get(params, "reply_then_close")))
		_exit(0);
	if (json_is_true(json_object_get(params, "release"))) {
		while (f->n_held > 0) {
			v = f->held[--f->n_held];
			fake_reply_result(
			    f, v, json_pack("{s:O}", "released", v));
			json_decref(v);
		}
	}
}

static void
fake_line(struct fake *f, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *method, *id;

	msg = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	if (msg == NULL)
		_exit(4);
	method = json_object_get(msg, "method");
	id = json_object_get(msg, "id");
	if (!json_is_string(method) ||
	    !json_is_string(json_object_get(msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") !=
		0)
		_exit(5);
	if (id == NULL) {
		if (strcmp(json_string_value(method), "$/cancel") == 0)
			fake_cancel(f, json_object_get(msg, "params"));
	} else
		fake_request(f, json_string_value(method), id,
		    json_object_get(msg, "params"));
	json_decref(msg);
}

/* Serve one connection until EOF, then exit the child. */
static void
fake_main(int fd, const char *hello, int hello_delay_ms)
{
	static char buf[1 << 16];
	struct fake f;
	size_t len = 0, linelen;
	ssize_t n;
	char *lf;

	memset(&f, 0, sizeof(f));
	f.fd = fd;
	(void)signal(SIGPIPE, SIG_IGN);
	if (hello_delay_ms > 0)
		usleep((useconds_t)hello_delay_ms * 1000);
	if (*hello == '\0')
		_exit(0); /* no greeting: hang up at once */
	fake_write(&f, hello, strlen(hello));
	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((lf = memchr(buf, '\n', len)) != NULL) {
			linelen = (size_t)(lf - buf);
			fake_line(&f, buf, linelen);
			memmove(buf, lf + 1, len - linelen - 1);
			len -= linelen + 1;
		}
		if (len == sizeof(buf))
			_exit(6);
	}
	_exit(0);
}

struct srv {
	pid_t pid;
	int fd; /* the client's end */
};

/* Fork a fake server on a socketpair; s->fd is the client's end. */
static int
srv_start(struct srv *s, const char *hello, int hello_delay_ms)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(sv[0]);
		fake_main(sv[1], hello != NULL ? hello : HELLO, hello_delay_ms);
	}
	close(sv[1]);
	s->fd = sv[0];
	return 0;
}

/* Wait for the child; returns its exit status (or -1). */
static int
srv_wait(struct srv *s)
{
	int st;

	if (waitpid(s->pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Open a blocking handle on a new fake server. */
static struct wrennctl *
open_fake(struct srv *s)
{
	struct wrennctl *h = NULL;

	if (srv_start(s, NULL, 0) < 0)
		return NULL;
	if (wrennctl_open_fd(s->fd, 0, &h) < 0) {
		close(s->fd);
		return NULL;
	}
	return h;
}

/* Close the handle and reap the child; ok() on a clean exit. */
static void
close_fake(struct srv *s, struct wrennctl *h, const char *what)
{
	int st;

	(void)wrennctl_free(h);
	st = srv_wait(s);
	ok(st == 0, "%s: fake server exited cleanly (%d)", what, st);
}

static json_t *
parse(const char *s)
{
	return s != NULL ? json_loads(s, JSON_ALLOW_NUL, NULL) : NULL;
}

/* ---- cases ------------------------------------------------------------ */

static void
test_version_and_strerror(void)
{
	const char *seen[32];
	int code, distinct = 1, i, n = 0;

	ok(strcmp(wrennctl_version(), "0.1.0") == 0, "wrennctl_version() %s",
	    wrennctl_version());
	ok(wrennctl_version_num() == WRENNCTL_VERSION_NUM &&
		WRENNCTL_AT_LEAST(0, 1, 0) && !WRENNCTL_AT_LEAST(0, 1, 1) &&
		!WRENNCTL_AT_LEAST(1, 0, 0),
	    "version number and WRENNCTL_AT_LEAST agree");
	ok(strcmp(wrennctl_strerror(0), "success") == 0, "strerror(0)");
	for (code = WRENNCTL_E_NOMEM; code >= WRENNCTL_E_BUSY; code--) {
		seen[n] = wrennctl_strerror(code);
		if (strcmp(seen[n], "unknown error") == 0)
			distinct = 0;
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], seen[n]) == 0)
				distinct = 0;
		n++;
	}
	ok(distinct, "strerror covers all %d codes with distinct text", n);
	ok(strcmp(wrennctl_strerror(1), "unknown error") == 0 &&
		strcmp(wrennctl_strerror(-1000), "unknown error") == 0,
	    "strerror of unknown codes");
	ok(wrennctl_free(NULL) == NULL, "wrennctl_free(NULL)");
	ok(strcmp(wrennctl_errmsg(NULL), "invalid argument") == 0 &&
		wrennctl_err_data_code(NULL) == NULL &&
		wrennctl_err_json(NULL) == NULL &&
		wrennctl_get_fd(NULL) == WRENNCTL_E_INVAL &&
		wrennctl_call(NULL, "x", NULL, NULL) == WRENNCTL_E_INVAL &&
		wrennctl_process(NULL) == WRENNCTL_E_INVAL &&
		wrennctl_open_fd(-1, 0, NULL) == WRENNCTL_E_INVAL,
	    "NULL handle and bad arguments give WRENNCTL_E_INVAL");
}

static void
test_socket_path(void)
{
	char *p = NULL;
	int r;

	(void)unsetenv("WRENND_SOCKET");
	(void)setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	r = wrennctl_socket_path(NULL, &p);
	ok(r == 0 && strcmp(p, "/run/user/1234/wrennd/wrennd.sock") == 0,
	    "path from XDG_RUNTIME_DIR: %s", p);
	free(p);
	(void)setenv("WRENND_SOCKET", "/tmp/w.sock", 1);
	ok(wrennctl_socket_path("", &p) == 0 && strcmp(p, "/tmp/w.sock") == 0,
	    "WRENND_SOCKET wins over XDG_RUNTIME_DIR");
	free(p);
	ok(wrennctl_socket_path("/x/y.sock", &p) == 0 &&
		strcmp(p, "/x/y.sock") == 0,
	    "explicit path wins over WRENND_SOCKET");
	free(p);
	(void)unsetenv("WRENND_SOCKET");
	(void)unsetenv("XDG_RUNTIME_DIR");
	ok(wrennctl_socket_path(NULL, &p) == 0 &&
		strcmp(p, "/run/wrennd/wrennd.sock") == 0,
	    "default /run/wrennd/wrennd.sock");
	free(p);
	ok(wrennctl_socket_path(NULL, NULL) == WRENNCTL_E_INVAL,
	    "socket_path(NULL ret) is INVAL");
}

static void
test_hello_and_call(void)
{
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	json_t *j;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open_fd waits for the greeting"))
		return;
	ok(wrennctl_server_version(h) != NULL &&
		strcmp(wrennctl_server_version(h), "0.1.0-test") == 0,
	    "server version from the greeting");
	ok(wrennctl_server_limit(h, "max_line") == 1048576 &&
		wrennctl_server_limit(h, "max_inflight") == 64 &&
		wrennctl_server_limit(h, "max_fds") == 0 &&
		wrennctl_server_limit(h, "nope") == -1,
	    "limits from the greeting");
	ok(wrennctl_server_method(h, 0) != NULL &&
		strcmp(wrennctl_server_method(h, 0), "sandboxes.create") == 0 &&
		wrennctl_server_method(h, 3) == NULL &&
		wrennctl_server_has_method(h, "sandbox.exec") &&
		!wrennctl_server_has_method(h, "hosts.list"),
	    "method list from the greeting");
	ok(wrennctl_server_has_capability(h, "cancel") &&
		!wrennctl_server_has_capability(h, "fds"),
	    "capabilities from the greeting");
	ok(wrennctl_peer_role(h) != NULL &&
		strcmp(wrennctl_peer_role(h), "user") == 0,
	    "peer role from the greeting");
	j = parse(wrennctl_hello_json(h));
	ok(json_is_object(j) && json_object_get(j, "limits") != NULL,
	    "hello_json is the params object");
	json_decref(j);

	r = wrennctl_call(
	    h, "sandboxes.get", "{\"sandbox_id\":\"cl-1\"}", &res);
	ok(r == 0, "blocking call succeeds");
	j = parse(res);
	ok(json_is_object(j) &&
		strcmp(json_string_value(json_object_get(j, "method")),
		    "sandboxes.get") == 0 &&
		strcmp(json_string_value(json_object_get(
			   json_object_get(j, "params"), "sandbox_id")),
		    "cl-1") == 0,
	    "result JSON carries method and params: %s",
	    res != NULL ? res : "(null)");
	json_decref(j);
	free(res);
	ok(strcmp(wrennctl_errmsg(h), "") == 0 && wrennctl_err_json(h) == NULL,
	    "no error after success");

	res = NULL;
	ok(wrennctl_call(h, "daemon.status", NULL, &res) == 0 && res != NULL,
	    "NULL params");
	free(res);
	ok(wrennctl_call(h, "daemon.status", "  ", NULL) == 0,
	    "blank params and NULL ret_result");
	res = NULL;
	r = wrennctl_call(h, "sandboxes.list", "{\"result\":[1,\"a\"]}", &res);
	ok(r == 0 && res != NULL && strcmp(res, "[1,\"a\"]") == 0,
	    "array result: %s", res != NULL ? res : "(null)");
	free(res);
	res = NULL;
	ok(wrennctl_call(h, "x.scalar", "{\"result\":42}", &res) == 0 &&
		res != NULL && strcmp(res, "42") == 0,
	    "scalar result");
	free(res);
	res = NULL;
	r = wrennctl_call(
	    h, "sandbox.exec", "{\"result\":{\"stdout\":\"a\\u0000b\"}}", &res);
	ok(r == 0 && res != NULL && strstr(res, "a\\u0000b") != NULL,
	    "a NUL inside a result string survives: %s",
	    res != NULL ? res : "(null)");
	free(res);

	res = (char *)"untouched";
	r = wrennctl_call(h, "x", "{bad json", &res);
	ok(r == WRENNCTL_E_INVAL && strcmp(res, "untouched") == 0 &&
		strstr(wrennctl_errmsg(h), "not valid JSON") != NULL &&
		strcmp(wrennctl_err_data_code(h), "invalid_argument") == 0,
	    "bad params JSON is INVAL, ret untouched: %s", wrennctl_errmsg(h));
	ok(wrennctl_call(h, "x", "[1]", NULL) == WRENNCTL_E_INVAL,
	    "params that are not an object are INVAL");
	ok(wrennctl_call(h, "", NULL, NULL) == WRENNCTL_E_INVAL &&
		wrennctl_call(h, NULL, NULL, NULL) == WRENNCTL_E_INVAL,
	    "empty method is INVAL");
	ok(wrennctl_call(h, "x.unknown_notification",
	       "{\"raw\":\"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"method\\\":"
	       "\\\"x.bye\\\",\\\"params\\\":{}}\\n\"}",
	       NULL) == 0,
	    "unknown notifications from the server are ignored");
	ok(wrennctl_call_async(h, "x.async", NULL, NULL, NULL, NULL, NULL) ==
		    0 &&
		wrennctl_flush(h) == 0 && wrennctl_get_events(h) == POLLIN,
	    "flush writes queued output; then only POLLIN is wanted");
	ok(wrennctl_call(h, "x.after", NULL, NULL) == 0 &&
		wrennctl_pending_calls(h) == 0,
	    "a call without callbacks still completes (reply dropped)");
	ok(wrennctl_pending_calls(h) == 0, "nothing pending");
	close_fake(&s, h, "hello_and_call");
}

struct err_case {
	const char *error; /* wire error object */
	int code;
	const char *data_code;
	int status;
};

static void
test_error_mapping(void)
{
	static const struct err_case cases[] = {
	    {"{\"code\":-32000,\"message\":\"sandbox not found\","
	     "\"data\":{\"code\":\"not_found\",\"status\":404}}",
		WRENNCTL_E_NOT_FOUND, "not_found", 404},
	    {"{\"code\":-32602,\"message\":\"bad\",\"data\":{\"code\":"
	     "\"invalid_params\"}}",
		WRENNCTL_E_VALIDATION, "invalid_params", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"invalid_request\",\"status\":400}}",
		WRENNCTL_E_VALIDATION, "invalid_request", 400},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"unauthorized\",\"status\":401}}",
		WRENNCTL_E_AUTHENTICATION, "unauthorized", 401},
	    {"{\"code\":-32001,\"message\":\"m\",\"data\":{\"code\":"
	     "\"forbidden\"}}",
		WRENNCTL_E_FORBIDDEN, "forbidden", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"invalid_state\",\"status\":409}}",
		WRENNCTL_E_CONFLICT, "invalid_state", 409},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"already_exists\",\"status\":409}}",
		WRENNCTL_E_CONFLICT, "already_exists", 409},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"host_unavailable\",\"status\":503}}",
		WRENNCTL_E_HOST_UNAVAILABLE, "host_unavailable", 503},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"agent_error\",\"status\":502}}",
		WRENNCTL_E_AGENT, "agent_error", 502},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"db_error\",\"status\":500}}",
		WRENNCTL_E_INTERNAL, "db_error", 500},
	    {"{\"code\":-32601,\"message\":\"no such method\"}",
		WRENNCTL_E_METHOD_NOT_FOUND, NULL, 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"too_large\",\"status\":413}}",
		WRENNCTL_E_TOO_LARGE, "too_large", 413},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"upstream_unreachable\"}}",
		WRENNCTL_E_UPSTREAM, "upstream_unreachable", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"timeout\"}}",
		WRENNCTL_E_TIMEOUT, "timeout", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"shutting_down\"}}",
		WRENNCTL_E_SHUTTING_DOWN, "shutting_down", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"too_many_clients\"}}",
		WRENNCTL_E_BUSY, "too_many_clients", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"brand_new\",\"status\":404}}",
		WRENNCTL_E_NOT_FOUND, "brand_new", 404},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"brand_new\",\"status\":418}}",
		WRENNCTL_E_APPLICATION, "brand_new", 418},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"brand_new\",\"status\":599}}",
		WRENNCTL_E_INTERNAL, "brand_new", 599},
	};
	struct wrennctl *h;
	struct srv s;
	char params[512];
	char *res;
	size_t i;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open for error mapping"))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(
		    params, sizeof(params), "{\"error\":%s}", cases[i].error);
		res = (char *)"untouched";
		r = wrennctl_call(h, "x.fail", params, &res);
		ok(r == cases[i].code && strcmp(res, "untouched") == 0 &&
			(cases[i].data_code == NULL
				? wrennctl_err_data_code(h) == NULL
				: wrennctl_err_data_code(h) != NULL &&
				    strcmp(wrennctl_err_data_code(h),
					cases[i].data_code) == 0) &&
			wrennctl_err_http_status(h) == cases[i].status &&
			wrennctl_err_json(h) != NULL,
		    "error %s -> %d (%s)",
		    cases[i].data_code ? cases[i].data_code : "-", r,
		    wrennctl_strerror(r));
	}
	r = wrennctl_call(h, "x.fail",
	    "{\"error\":"
	    "{\"code\":-32000,"
	    "\"message\":\"sandbox not found\",\"data\":{\"code\":"
	    "\"not_found\",\"status\":404}}}",
	    NULL);
	ok(strcmp(wrennctl_errmsg(h), "sandbox not found") == 0 &&
		wrennctl_err_rpc_code(h) == -32000,
	    "errmsg is the wire message, rpc code kept");
	ok(strstr(wrennctl_err_json(h), "\"status\":404") != NULL,
	    "err_json is the wire error object: %s", wrennctl_err_json(h));
	r = wrennctl_call(h, "hosts.delete",
	    "{\"error\":{\"code\":-32000,\"message\":\"host has active "
	    "sandboxes\",\"data\":{\"code\":\"has_active_sandboxes\","
	    "\"status\":409,\"sandbox_ids\":[\"cl-a\",\"cl-b\"]}}}",
	    NULL);
	ok(r == WRENNCTL_E_HOST_HAS_SANDBOXES &&
		wrennctl_err_sandbox_id(h, 0) != NULL &&
		strcmp(wrennctl_err_sandbox_id(h, 0), "cl-a") == 0 &&
		strcmp(wrennctl_err_sandbox_id(h, 1), "cl-b") == 0 &&
		wrennctl_err_sandbox_id(h, 2) == NULL,
	    "has_active_sandboxes exposes the sandbox ids");
	ok(wrennctl_call(h, "x.ok", NULL, NULL) == 0 &&
		wrennctl_err_sandbox_id(h, 0) == NULL &&
		wrennctl_err_data_code(h) == NULL,
	    "a success clears the last error");
	close_fake(&s, h, "error_mapping");
}

struct reply_log {
	int n;
	uint64_t ids[8];
	int status[8];
	char *json[8];
	int tags[8];
};

/* userdata for log_reply_cb: where to log, and a tag to log. */
struct tagged {
	struct reply_log *log;
	int tag;
};

static void
log_reply_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct tagged *t = userdata;
	struct reply_log *log = t->log;

	if (log->n >= 8)
		return;
	log->ids[log->n] = id;
	log->status[log->n] = status;
	log->json[log->n] = json != NULL ? strdup(json) : NULL;
	log->tags[log->n] = t->tag;
	log->n++;
}

/*
 * Run the event loop as an application would (process until idle, then
 * poll on get_fd/get_events) until *counter reaches target.
 */
static int
loop_until(struct wrennctl *h, const int *counter, int target, int max_ms)
{
	struct pollfd pfd;
	int r, waited = 0;

	while (*counter < target) {
		r = wrennctl_process(h);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (waited >= max_ms)
			return WRENNCTL_E_TIMEOUT;
		pfd.fd = wrennctl_get_fd(h);
		pfd.events = (short)wrennctl_get_events(h);
		pfd.revents = 0;
		(void)poll(&pfd, 1, 50);
		waited += 50;
	}
	return 0;
}

static void
free_log(struct reply_log *log)
{
	int i;

	for (i = 0; i < log->n; i++)
		free(log->json[i]);
}

static void
test_out_of_order(void)
{
	struct reply_log log;
	struct tagged t[3];
	struct wrennctl *h;
	struct srv s;
	uint64_t id[3];
	int r, i, right = 1;
	json_t *j;

	memset(&log, 0, sizeof(log));
	h = open_fake(&s);
	if (!ok(h != NULL, "open for out-of-order replies"))
		return;
	for (i = 0; i < 3; i++) {
		t[i].log = &log;
		t[i].tag = 100 + i;
	}
	r = wrennctl_call_async(
	    h, "a", "{\"hold\":true}", NULL, log_reply_cb, &t[0], &id[0]);
	r |= wrennctl_call_async(
	    h, "b", "{\"hold\":true}", NULL, log_reply_cb, &t[1], &id[1]);
	r |= wrennctl_call_async(
	    h, "c", "{\"release\":true}", NULL, log_reply_cb, &t[2], &id[2]);
	ok(r == 0 && id[0] != id[1] && id[1] != id[2],
	    "three async calls started (ids %llu %llu %llu)",
	    (unsigned long long)id[0], (unsigned long long)id[1],
	    (unsigned long long)id[2]);
	ok(wrennctl_pending_calls(h) == 3, "three calls pending");
	r = loop_until(h, &log.n, 3, 10000);
	ok(r == 0 && log.n == 3, "three replies arrived via process()");
	/* Expected order: c (releases), then b, then a. */
	if (log.n == 3) {
		right = log.ids[0] == id[2] && log.ids[1] == id[1] &&
		    log.ids[2] == id[0] && log.tags[0] == 102 &&
		    log.tags[1] == 101 && log.tags[2] == 100;
		for (i = 1; i < 3; i++) {
			j = parse(log.json[i]);
			if (json_integer_value(json_object_get(
				j, "released")) != (json_int_t)log.ids[i])
				right = 0;
			json_decref(j);
		}
	}
	ok(log.n == 3 && right && log.status[0] == 0 && log.status[1] == 0 &&
		log.status[2] == 0,
	    "replies in reverse order matched to their calls and userdata");
	ok(wrennctl_pending_calls(h) == 0, "nothing pending afterwards");
	free_log(&log);
	close_fake(&s, h, "out_of_order");
}

/* A wedged case kills the run instead of hanging make check. */
static void
fail_safe_alarm(void)
{
	(void)alarm(120);
}

struct stream_log {
	int n;
	char events[8][16];
	long seq[8];
	int after_reply;
	int cancel_on; /* cancel when this event arrives (index) */
	int cancel_rc;
};

static void
stream_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	struct stream_log *sl = userdata;
	json_t *j;

	if (sl->n >= 8)
		return;
	snprintf(sl->events[sl->n], sizeof(sl->events[0]), "%s", event);
	j = parse(json);
	sl->seq[sl->n] = json_is_integer(json_object_get(j, "seq"))
	    ? (long)json_integer_value(json_object_get(j, "seq"))
	    : -1;
	if (json_integer_value(json_object_get(j, "id")) != (json_int_t)id)
		sl->seq[sl->n] = -2;
	json_decref(j);
	if (sl->cancel_on == sl->n)
		sl->cancel_rc = wrennctl_cancel(h, id);
	sl->n++;
}

static void
stream_counter_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	(*(int *)userdata)++;
}

static void
test_stream_and_cancel(void)
{
	struct stream_log sl;
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open for streams"))
		return;
	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = -1;
	r = wrennctl_call_stream(h, "sandbox.exec_stream",
	    "{\"stray_event\":true,\"events\":[{\"event\":\"start\","
	    "\"pid\":7},{\"event\":\"stdout\",\"data\":\"hi\\n\"},"
	    "{\"event\":\"exit\",\"exit_code\":0},{\"data\":\"no kind\"}],"
	    "\"result\":{\"exit_code\":0}}",
	    stream_event_cb, &sl, &res);
	ok(r == 0 && res != NULL && strcmp(res, "{\"exit_code\":0}") == 0,
	    "streaming call returns the final result");
	ok(sl.n == 4 && strcmp(sl.events[0], "start") == 0 &&
		strcmp(sl.events[1], "stdout") == 0 &&
		strcmp(sl.events[2], "exit") == 0 &&
		strcmp(sl.events[3], "") == 0,
	    "events delivered in order, stray event ignored (%d)", sl.n);
	ok(sl.seq[0] == 0 && sl.seq[1] == 1 && sl.seq[2] == 2 && sl.seq[3] == 3,
	    "event JSON carries id and seq");
	free(res);

	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = 0;
	res = NULL;
	r = wrennctl_call_stream(h, "sandbox.exec_stream",
	    "{\"events\":[{\"event\":\"start\"}],\"hold\":true}",
	    stream_event_cb, &sl, &res);
	ok(sl.cancel_rc == 0, "wrennctl_cancel from the event callback");
	ok(r == WRENNCTL_E_CANCELLED && res == NULL &&
		strcmp(wrennctl_err_data_code(h), "cancelled") == 0 &&
		wrennctl_err_rpc_code(h) == -32800,
	    "cancelled call ends with its final -32800 reply (%s)",
	    wrennctl_strerror(r));
	ok(wrennctl_cancel(h, 12345) == WRENNCTL_E_INVAL,
	    "cancel of an unknown id is INVAL");

	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = -1;
	res = NULL;
	r = wrennctl_call_stream(h, "sandbox.exec_stream",
	    "{\"n_events\":300,\"result\":{}}", stream_counter_cb, &sl.n, &res);
	ok(r == 0 && sl.n == 300,
	    "300 events in a burst (past the dispatch budget): %d", sl.n);
	free(res);
	res = NULL;
	r = wrennctl_call(h, "x.big", "{\"big\":3000000}", &res);
	ok(r == 0 && res != NULL && strlen(res) == 3000002 && res[1] == 'x' &&
		res[3000000] == 'x',
	    "a 3 MB reply arrives whole");
	free(res);
	close_fake(&s, h, "stream_and_cancel");
}

static void
test_async_cancel(void)
{
	struct reply_log log;
	struct tagged t;
	struct wrennctl *h;
	struct srv s;
	uint64_t id;
	char *res = NULL;
	json_t *j;

	memset(&log, 0, sizeof(log));
	t.log = &log;
	t.tag = 1;
	h = open_fake(&s);
	if (!ok(h != NULL, "open for async cancel"))
		return;
	ok(wrennctl_call_async(h, "sandbox.wait_ready", "{\"hold\":true}", NULL,
	       log_reply_cb, &t, &id) == 0 &&
		wrennctl_cancel(h, id) == 0 && wrennctl_cancel(h, id) == 0,
	    "async call cancelled (twice is harmless)");
	(void)loop_until(h, &log.n, 1, 10000);
	ok(log.n == 1 && log.ids[0] == id &&
		log.status[0] == WRENNCTL_E_CANCELLED && log.json[0] != NULL &&
		strstr(log.json[0], "-32800") != NULL,
	    "the cancelled call completes once with CANCELLED");
	ok(wrennctl_call(h, "x", NULL, &res) == 0, "next call works");
	j = parse(res);
	ok(json_integer_value(json_object_get(j, "cancels")) == 1,
	    "the server saw exactly one $/cancel");
	json_decref(j);
	free(res);
	free_log(&log);
	close_fake(&s, h, "async_cancel");
}

static void
test_timeout(void)
{
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	json_t *j;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open for timeouts"))
		return;
	ok(wrennctl_set_timeout(h, 150) == 0, "set_timeout");
	r = wrennctl_call(h, "sandbox.wait_ready", "{\"hold\":true}", &res);
	ok(r == WRENNCTL_E_TIMEOUT && res == NULL &&
		strcmp(wrennctl_err_data_code(h), "timeout") == 0 &&
		strstr(wrennctl_errmsg(h), "sandbox.wait_ready") != NULL,
	    "local timeout: %s", wrennctl_errmsg(h));
	ok(wrennctl_pending_calls(h) == 0,
	    "the abandoned call does not count as pending");
	ok(wrennctl_set_timeout(h, 0) == 0, "timeout off");
	r = wrennctl_call(h, "x", NULL, &res);
	j = parse(res);
	ok(r == 0 && json_integer_value(json_object_get(j, "cancels")) == 1,
	    "timed-out call was cancelled on the server, late reply dropped");
	json_decref(j);
	free(res);
	close_fake(&s, h, "timeout");
}

static void
test_connection_loss(void)
{
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open for connection loss"))
		return;
	r = wrennctl_call(h, "x", "{\"close\":true}", &res);
	ok(r == WRENNCTL_E_CONNECT && res == NULL &&
		strcmp(wrennctl_err_data_code(h), "connect") == 0,
	    "server closing mid-call: %s (%s)", wrennctl_strerror(r),
	    wrennctl_errmsg(h));
	ok(wrennctl_call(h, "y", NULL, NULL) == WRENNCTL_E_CONNECT &&
		wrennctl_get_events(h) == WRENNCTL_E_CONNECT &&
		wrennctl_process(h) == WRENNCTL_E_CONNECT &&
		wrennctl_flush(h) == WRENNCTL_E_CONNECT &&
		wrennctl_wait(h, 0) == WRENNCTL_E_CONNECT &&
		wrennctl_call_async(h, "z", NULL, NULL, NULL, NULL, NULL) ==
		    WRENNCTL_E_CONNECT,
	    "the handle stays failed");
	ok(wrennctl_get_fd(h) >= 0, "the fd stays open until free");
	close_fake(&s, h, "connection_loss");

	h = open_fake(&s);
	if (!ok(h != NULL, "open for reply-then-close"))
		return;
	r = wrennctl_call(h, "x",
	    "{\"result\":{\"ok\":1},"
	    "\"reply_then_close\":true}",
	    &res);
	ok(r == 0 && res != NULL && strcmp(res, "{\"ok\":1}") == 0,
	    "a reply sent just before the close is still delivered");
	free(res);
	res = NULL;
	ok(wrennctl_call(h, "x", NULL, &res) == WRENNCTL_E_CONNECT,
	    "then the connection is gone");
	close_fake(&s, h, "reply_then_close");

	h = open_fake(&s);
	if (!ok(h != NULL, "open for a truncated line"))
		return;
	r = wrennctl_call(h, "x",
	    "{\"raw\":\"{\\\"jsonrpc\\\":\",\"close\":"
	    "true}",
	    NULL);
	ok(r == WRENNCTL_E_CONNECT &&
		strstr(wrennctl_errmsg(h), "middle of a message") != NULL,
	    "EOF inside a line: %s", wrennctl_errmsg(h));
	close_fake(&s, h, "truncated");
}

/* Expect call(params) to fail with code after the server misbehaves. */
static void
expect_broken(const char *what, const char *params, size_t max_line, int code,
    const char *needle)
{
	struct wrennctl *h;
	struct srv s;
	int r;

	h = open_fake(&s);
	if (!ok(h != NULL, "open for %s", what))
		return;
	if (max_line != 0)
		(void)wrennctl_set_max_line(h, max_line);
	r = wrennctl_call(h, "x", params, NULL);
	ok(r == code && strstr(wrennctl_errmsg(h), needle) != NULL,
	    "%s: %s (%s)", what, wrennctl_strerror(r), wrennctl_errmsg(h));
	ok(wrennctl_call(h, "x", NULL, NULL) == code,
	    "%s: the handle stays failed", what);
	close_fake(&s, h, what);
}

static void
test_garbage(void)
{
	char *big;
	size_t n = 5000, i;

	expect_broken("garbage line", "{\"raw\":\"this is not json\\n\"}", 0,
	    WRENNCTL_E_PROTOCOL, "invalid JSON");
	expect_broken("non-object line", "{\"raw\":\"[1,2]\\n\"}", 0,
	    WRENNCTL_E_PROTOCOL, "not an object");
	expect_broken("neither reply nor notification",
	    "{\"raw\":\"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"id\\\":1}\\n\"}", 0,
	    WRENNCTL_E_PROTOCOL, "neither");
	expect_broken("connection-level error (id null)",
	    "{\"raw\":\"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"id\\\":null,"
	    "\\\"error\\\":{\\\"code\\\":-32700,\\\"message\\\":\\\"parse "
	    "error\\\",\\\"data\\\":{\\\"code\\\":\\\"parse_error\\\"}}}\\n\"}",
	    0, WRENNCTL_E_PROTOCOL, "parse error");
	if ((big = malloc(n + 64)) == NULL)
		return;
	memcpy(big, "{\"raw\":\"", 8);
	for (i = 8; i < n; i++)
		big[i] = 'x';
	memcpy(big + n, "\\n\"}", 5);
	expect_broken("oversize line", big, 1024, WRENNCTL_E_PROTOCOL,
	    "longer than 1024");
	free(big);
}

static void
test_bad_greetings(void)
{
	static const struct {
		const char *hello;
		const char *what;
		int code;
	} cases[] = {
	    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n",
		"a reply before the greeting", WRENNCTL_E_PROTOCOL},
	    {"{\"jsonrpc\":\"2.0\",\"method\":\"wrennd.hello\",\"params\":"
	     "{\"protocol\":2}}\n",
		"protocol 2", WRENNCTL_E_PROTOCOL},
	    {"{\"jsonrpc\":\"2.0\",\"method\":\"wrennd.hello\"}\n",
		"a greeting without params", WRENNCTL_E_PROTOCOL},
	    {"HTTP/1.1 400 Bad Request\r\n\r\n", "an HTTP server",
		WRENNCTL_E_PROTOCOL},
	    /* What wrennd's listener sends instead of the greeting. */
	    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
	     "\"message\":\"too many clients connected\",\"data\":{\"code\":"
	     "\"too_many_clients\"}}}\n",
		"a too_many_clients refusal", WRENNCTL_E_BUSY},
	    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
	     "\"message\":\"wrennd is shutting down\",\"data\":{\"code\":"
	     "\"shutting_down\"}}}\n",
		"a shutting_down refusal", WRENNCTL_E_SHUTTING_DOWN},
	};
	struct wrennctl *h;
	struct srv s;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = NULL;
		if (srv_start(&s, cases[i].hello, 0) < 0)
			continue;
		r = wrennctl_open_fd(s.fd, 0, &h);
		ok(r == cases[i].code && h == NULL, "open refuses %s (%s)",
		    cases[i].what, wrennctl_strerror(r));
		close(s.fd);
		(void)srv_wait(&s);
	}
	/* The greeting never comes and the server hangs up. */
	if (srv_start(&s, "", 0) == 0) {
		h = NULL;
		r = wrennctl_open_fd(s.fd, 0, &h);
		ok(r == WRENNCTL_E_CONNECT || r == WRENNCTL_E_PROTOCOL,
		    "open with no greeting then EOF fails (%s)",
		    wrennctl_strerror(r));
		close(s.fd);
		(void)srv_wait(&s);
	}
}

static void
test_nonblocking(void)
{
	struct reply_log log;
	struct tagged t;
	struct wrennctl *h = NULL;
	struct srv s;
	uint64_t id;
	int r;

	memset(&log, 0, sizeof(log));
	t.log = &log;
	t.tag = 7;
	if (srv_start(&s, NULL, 200) < 0)
		return;
	r = wrennctl_open_fd(s.fd, WRENNCTL_OPEN_NONBLOCK, &h);
	if (!ok(r == 0 && h != NULL, "open NONBLOCK returns at once"))
		return;
	ok(wrennctl_server_version(h) == NULL && wrennctl_hello_json(h) == NULL,
	    "no greeting yet");
	ok(wrennctl_process(h) == 0, "process() with nothing to do is 0");
	ok(wrennctl_wait(h, 0) == 0, "wait(0) times out at once");
	ok(wrennctl_call_async(h, "sandboxes.list", "{\"result\":[]}", NULL,
	       log_reply_cb, &t, &id) == 0,
	    "call queued before the greeting");
	ok((wrennctl_get_events(h) & ~(POLLIN | POLLOUT)) == 0 &&
		(wrennctl_get_events(h) & POLLIN),
	    "get_events asks for POLLIN");
	while (log.n == 0) {
		r = wrennctl_process(h);
		if (r < 0)
			break;
		if (r == 0)
			(void)wrennctl_wait(h, 1000);
	}
	ok(log.n == 1 && log.status[0] == 0 && log.ids[0] == id &&
		log.json[0] != NULL && strcmp(log.json[0], "[]") == 0 &&
		log.tags[0] == 7,
	    "reply dispatched by process()");
	ok(wrennctl_server_version(h) != NULL, "greeting read by process()");
	free_log(&log);
	close_fake(&s, h, "nonblocking");
}

struct reentry {
	struct wrennctl *h;
	int blocking_rc, process_rc, async_rc, flush_rc;
	int replies, frees;
	uint64_t id2;
	int free_in_cb;
};

static void
reentry_second_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct reentry *re = userdata;

	re->replies++;
	if (status == WRENNCTL_E_CANCELLED)
		re->frees++;
}

static void
reentry_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct reentry *re = userdata;

	re->replies++;
	re->blocking_rc = wrennctl_call(h, "x", NULL, NULL);
	re->process_rc = wrennctl_process(h);
	re->flush_rc = wrennctl_flush(h);
	re->async_rc = wrennctl_call_async(
	    h, "x", "{\"hold\":true}", NULL, reentry_second_cb, re, &re->id2);
	if (re->free_in_cb)
		(void)wrennctl_free(h);
}

static void
test_reentry(void)
{
	struct reentry re;
	struct srv s;
	int done = 0, r;

	memset(&re, 0, sizeof(re));
	re.h = open_fake(&s);
	if (!ok(re.h != NULL, "open for re-entry"))
		return;
	ok(wrennctl_call_async(re.h, "x", NULL, NULL, reentry_cb, &re, NULL) ==
		0,
	    "async call");
	while (re.replies == 0 && done++ < 100) {
		r = wrennctl_process(re.h);
		if (r < 0)
			break;
		if (r == 0)
			(void)wrennctl_wait(re.h, 100);
	}
	ok(re.blocking_rc == WRENNCTL_E_INVAL &&
		re.process_rc == WRENNCTL_E_INVAL &&
		re.flush_rc == WRENNCTL_E_INVAL,
	    "blocking calls inside a callback are refused");
	ok(re.async_rc == 0, "call_async inside a callback works");
	ok(wrennctl_pending_calls(re.h) == 1, "the nested call is pending");
	(void)wrennctl_free(re.h);
	ok(re.replies == 2 && re.frees == 1,
	    "wrennctl_free completes pending calls with CANCELLED");
	ok(srv_wait(&s) == 0, "re-entry: fake server exited cleanly");

	memset(&re, 0, sizeof(re));
	re.free_in_cb = 1;
	re.h = open_fake(&s);
	if (!ok(re.h != NULL, "open for free-in-callback"))
		return;
	(void)wrennctl_call_async(re.h, "x", NULL, NULL, reentry_cb, &re, NULL);
	r = 0;
	done = 0;
	while (re.replies == 0 && r >= 0 && done++ < 200) {
		/* After the callback freed it, re.h must not be touched. */
		r = wrennctl_process(re.h);
		if (re.replies > 0)
			break;
		if (r == 0)
			(void)wrennctl_wait(re.h, 100);
	}
	ok(re.replies == 2 && re.frees == 1,
	    "wrennctl_free from a callback is deferred and completes the "
	    "other calls");
	ok(srv_wait(&s) == 0, "free-in-callback: fake server exited cleanly");
}

static void
test_connect_path(void)
{
	struct sockaddr_un sa;
	struct wrennctl *h = NULL;
	char dir[] = "/tmp/test-libwrennctl.XXXXXX";
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pid_t pid;
	char *res = NULL;
	int lfd, cfd, r, st;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/w.sock", dir);
	r = wrennctl_new(path, &h);
	ok(r == WRENNCTL_E_CONNECT && errno == ENOENT && h == NULL,
	    "connect to a missing socket: CONNECT, errno ENOENT");

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4) < 0) {
		ok(0, "listen on %s", path);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		cfd = accept(lfd, NULL, NULL);
		close(lfd);
		if (cfd < 0)
			_exit(9);
		fake_main(cfd, HELLO, 0);
	}
	close(lfd);
	(void)setenv("WRENND_SOCKET", path, 1);
	r = wrennctl_new(NULL, &h);
	(void)unsetenv("WRENND_SOCKET");
	ok(r == 0 && h != NULL,
	    "wrennctl_new(NULL) connects to $WRENND_SOCKET");
	if (h != NULL) {
		ok(wrennctl_call(h, "daemon.status", "{}", &res) == 0 &&
			res != NULL,
		    "call over a path-connected socket");
		free(res);
		(void)wrennctl_free(h);
	}
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "path server exited cleanly");
	(void)unlink(path);
	(void)rmdir(dir);
	r = wrennctl_open("/this/path/is/way/too/long/for/a/unix/socket/"
			  "address/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaaaaaaaaaaaaaa.sock",
	    0, &h);
	ok(r == WRENNCTL_E_INVAL, "an over-long socket path is INVAL");
	ok(wrennctl_open(path, 0x100, &h) == WRENNCTL_E_INVAL,
	    "unknown open flags are INVAL");
}

int
main(void)
{
	fail_safe_alarm();
	(void)signal(SIGPIPE, SIG_IGN);
	diag("libwrennctl %s against a forked fake wrennd", wrennctl_version());
	test_version_and_strerror();
	test_socket_path();
	test_hello_and_call();
	test_error_mapping();
	test_out_of_order();
	test_stream_and_cancel();
	test_async_cancel();
	test_timeout();
	test_connection_loss();
	test_garbage();
	test_bad_greetings();
	test_nonblocking();
	test_reentry();
	test_connect_path();
	return done_testing();
}
