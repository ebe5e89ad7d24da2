/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl against an in-process fake wrennd: each case forks a child
 * that speaks wrenn-ipc/1 on one end of a socketpair (or a listening Unix
 * socket) and obeys instructions carried in the params of each call, so the
 * client side of every case is plain public API. Covers the greeting,
 * blocking and asynchronous calls, out-of-order replies, streams, cancel,
 * local timeouts, the error mapping, connection loss, garbage and oversize
 * lines, the non-blocking event-loop mode and callback re-entrancy rules,
 * and file descriptor passing: the fake receives the fds with recvmsg(),
 * checks they came with the first byte of their line (once), and reads
 * them; the "fds" negotiation; partial writes; the file transfer calls.
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
 *   "pause_ms":N        after replying, do not read for N ms
 * Without "error"/"result" the reply is
 *   {"method":M,"params":P,"cancels":N,"hellos":H,"fds_on":B,
 *    "fd_sets":K,"fd_at_start":B,"fds":["content of fd 0",...]}
 * (N = "$/cancel" seen so far, H = rpc.hello calls, K = SCM_RIGHTS
 * messages that came with bytes of this line, fd_at_start whether the
 * first of them came with its first byte).
 * rpc.hello, sandbox.stream_upload and sandbox.stream_download behave like
 * wrennd's (see fake_hello and fake_transfer).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
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

/* A greeting that offers fd passing, like wrennd's. */
#define HELLO_FDS                                                              \
	"{\"jsonrpc\":\"2.0\",\"method\":\"wrennd.hello\",\"params\":{"        \
	"\"server\":\"wrennd\",\"version\":\"0.1.0-test\",\"protocol\":1,"     \
	"\"capabilities\":[\"stream\",\"cancel\",\"fds\"],\"limits\":{"        \
	"\"max_line\":1048576,\"max_inflight\":64,\"max_fds\":4},"             \
	"\"peer\":{\"uid\":1000,\"gid\":1000,\"pid\":42,\"role\":\"user\"},"   \
	"\"methods\":[\"sandbox.stream_upload\"]}}\n"

#define FAKE_BUF   (1u << 20) /* bytes of input the fake holds */
#define FAKE_FDS   16	      /* fds in one SCM_RIGHTS message */
#define FAKE_SETS  64	      /* fd sets awaiting their line */
#define FAKE_FDCAP 65536      /* bytes the fake reads from one fd */

/* ---- fake server (child process) ------------------------------------- */

/* File descriptors received with one recvmsg(). */
struct fake_fdset {
	uint64_t off; /* stream offset of the chunk's first byte */
	int fd[FAKE_FDS];
	int n;
};

struct fake {
	int fd;
	json_t *held[32]; /* ids of held calls, owned */
	int n_held;
	int cancels;
	int offer_fds; /* the greeting lists "fds" */
	int fds_on;    /* rpc.hello enabled it */
	int hellos;
	struct fake_fdset sets[FAKE_SETS];
	int n_sets;
	/* The current line's fds (owned while it is handled). */
	int lfd[FAKE_FDS * 4];
	int n_lfd;
	int l_sets;	/* SCM_RIGHTS messages of the line */
	int l_at_start; /* the first of them came with the line's first byte */
	int pause_ms;
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

/* Write all of buf to a passed fd (errors ignored: the test checks). */
static void
fake_write_fd(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
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

/* Read fd to EOF (at most FAKE_FDCAP bytes kept) and close it. */
static json_t *
fake_read_fd(int fd, size_t *ret_total)
{
	static char buf[FAKE_FDCAP];
	char chunk[4096];
	size_t len = 0, total = 0, k;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		k = (size_t)n < sizeof(buf) - len ? (size_t)n
						  : sizeof(buf) - len;
		memcpy(buf + len, chunk, k);
		len += k;
		total += (size_t)n;
	}
	close(fd);
	if (ret_total != NULL)
		*ret_total = total;
	return json_stringn(buf, len);
}

/* The default reply: what the fake saw of this call. */
static json_t *
fake_echo(struct fake *f, const char *method, json_t *params)
{
	json_t *fds = json_array();
	int i;

	for (i = 0; i < f->n_lfd; i++)
		json_array_append_new(fds, fake_read_fd(f->lfd[i], NULL));
	f->n_lfd = 0;
	return json_pack("{s:s, s:o, s:i, s:i, s:b, s:i, s:b, s:o}", "method",
	    method, "params",
	    params != NULL ? json_incref(params) : json_object(), "cancels",
	    f->cancels, "hellos", f->hellos, "fds_on", f->fds_on, "fd_sets",
	    f->l_sets, "fd_at_start", f->l_at_start, "fds", fds);
}

/* rpc.hello: enable "fds" when asked and offered. */
static void
fake_hello(struct fake *f, json_t *id, json_t *params)
{
	json_t *v, *enabled;
	size_t i;

	f->hellos++;
	json_array_foreach(json_object_get(params, "enable"), i, v) {
		if (strcmp(json_string_value(v), "fds") == 0 && f->offer_fds)
			f->fds_on = 1;
	}
	enabled = json_pack("[s,s]", "stream", "cancel");
	if (f->fds_on)
		json_array_append_new(enabled, json_string("fds"));
	fake_reply_result(f, id,
	    json_pack("{s:i, s:s, s:s, s:o}", "protocol", 1, "server", "wrennd",
		"version", "0.1.0-test", "enabled", enabled));
}

static void
fake_progress(struct fake *f, json_t *id, size_t bytes)
{
	fake_send(f,
	    json_pack("{s:s, s:s, s:{s:O, s:i, s:s, s:I, s:I}}", "jsonrpc",
		"2.0", "method", "$/stream", "params", "id", id, "seq", 0,
		"event", "progress", "bytes", (json_int_t)bytes, "total",
		(json_int_t)bytes));
}

/* Fail a transfer with data.code code (and extra data members). */
static void
fake_transfer_fail(struct fake *f, json_t *id, const char *code,
    const char *msg, json_t *data_steal)
{
	if (data_steal == NULL)
		data_steal = json_object();
	json_object_set_new(data_steal, "code", json_string(code));
	fake_reply_error(f, id,
	    json_pack("{s:i, s:s, s:o}", "code", -32000, "message", msg, "data",
		data_steal));
}

/*
 * sandbox.stream_upload / stream_download against the passed fd. Paths:
 * "/bad" fails verification, "/io" is a local I/O error, "/hold" waits for
 * "$/cancel" after the first progress event.
 */
static void
fake_transfer(struct fake *f, const char *method, json_t *id, json_t *params)
{
	static const char content[] = "downloaded content\n";
	const char *path = json_string_value(json_object_get(params, "path"));
	int verify = json_is_true(json_object_get(params, "verify"));
	size_t size = sizeof(content) - 1;
	json_t *got = NULL;

	if (f->n_lfd != 1 || path == NULL) {
		fake_transfer_fail(
		    f, id, "invalid_params", "want one fd and a path", NULL);
		return;
	}
	f->n_lfd = 0;
	if (strcmp(method, "sandbox.stream_upload") == 0)
		got = fake_read_fd(f->lfd[0], &size);
	else {
		if (strcmp(path, "/io") != 0)
			fake_write_fd(f->lfd[0], content, size);
		close(f->lfd[0]);
	}
	fake_progress(f, id, size);
	if (strcmp(path, "/hold") == 0) {
		if (f->n_held < 32)
			f->held[f->n_held++] = json_incref(id);
	} else if (strcmp(path, "/io") == 0)
		fake_transfer_fail(
		    f, id, "io_error", "write: Broken pipe", NULL);
	else if (verify && strcmp(path, "/bad") == 0)
		fake_transfer_fail(f, id, "integrity",
		    "the file in the sandbox differs",
		    json_pack("{s:I, s:s, s:I, s:s, s:s}", "size",
			(json_int_t)size, "sha256", "aaaa", "sandbox_size",
			(json_int_t)0, "sandbox_sha256", "bbbb", "path", path));
	else
		fake_reply_result(f, id,
		    json_pack("{s:I, s:s, s:b, s:O, s:O?}", "size",
			(json_int_t)size, "sha256", "cafe", "verified", verify,
			"params", params, "data", got));
	json_decref(got);
}

static void
fake_request(struct fake *f, const char *method, json_t *id, json_t *params)
{
	json_t *v, *ev;
	size_t i;
	int seq = 0;

	if (strcmp(method, "rpc.hello") == 0) {
		fake_hello(f, id, params);
		return;
	}
	if (strncmp(method, "sandbox.stream_", 15) == 0) {
		fake_transfer(f, method, id, params);
		return;
	}
	v = json_object_get(params, "pause_ms");
	if (json_is_integer(v))
		f->pause_ms = (int)json_integer_value(v);
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
	json_array_foreach(json_object_get(params, "events"), i, ev) {
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
		fake_reply_result(f, id, fake_echo(f, method, params));
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
	if (f->n_lfd > 0 && (id == NULL || !f->fds_on)) {
		/* wrennd's answer to fds without the capability. */
		while (f->n_lfd > 0)
			close(f->lfd[--f->n_lfd]);
		if (id != NULL)
			fake_reply_error(f, id,
			    json_pack("{s:i, s:s, s:{s:s}}", "code", -32600,
				"message", "fds capability not enabled", "data",
				"code", "unexpected_fds"));
	} else if (id == NULL) {
		if (strcmp(json_string_value(method), "$/cancel") == 0)
			fake_cancel(f, json_object_get(msg, "params"));
	} else
		fake_request(f, json_string_value(method), id,
		    json_object_get(msg, "params"));
	while (f->n_lfd > 0)
		close(f->lfd[--f->n_lfd]);
	json_decref(msg);
}

/*
 * recvmsg() into buf; fds that come along are queued with off, the stream
 * offset of the chunk's first byte (what wrennd does).
 */
static ssize_t
fake_recv(struct fake *f, char *buf, size_t len, uint64_t off)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * FAKE_FDS)];
		struct cmsghdr align;
	} u;
	struct fake_fdset *set;
	struct cmsghdr *cm;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.b;
	msg.msg_controllen = sizeof(u.b);
	n = recvmsg(f->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	if (msg.msg_flags & MSG_CTRUNC)
		_exit(12);
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (f->n_sets == FAKE_SETS)
			_exit(10);
		set = &f->sets[f->n_sets++];
		set->off = off;
		set->n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(set->fd, CMSG_DATA(cm), sizeof(int) * (size_t)set->n);
	}
	return n;
}

/* Give the line [start, start + len] the fd sets that came with it. */
static void
fake_line_fds(struct fake *f, uint64_t start, size_t len)
{
	int i, k = 0;

	f->n_lfd = f->l_sets = f->l_at_start = 0;
	while (k < f->n_sets && f->sets[k].off <= start + len) {
		if (f->l_sets++ == 0)
			f->l_at_start = f->sets[k].off == start;
		for (i = 0; i < f->sets[k].n; i++) {
			if (f->n_lfd == FAKE_FDS * 4)
				_exit(11);
			f->lfd[f->n_lfd++] = f->sets[k].fd[i];
		}
		k++;
	}
	memmove(
	    f->sets, f->sets + k, (size_t)(f->n_sets - k) * sizeof(*f->sets));
	f->n_sets -= k;
}

/* Serve one connection until EOF, then exit the child. */
static void
fake_main(int fd, const char *hello, int hello_delay_ms)
{
	static char buf[FAKE_BUF];
	struct fake f;
	size_t len = 0, linelen;
	uint64_t consumed = 0; /* stream offset of buf[0] */
	ssize_t n;
	char *lf;

	memset(&f, 0, sizeof(f));
	f.fd = fd;
	f.offer_fds = strstr(hello, "\"fds\"]") != NULL;
	(void)signal(SIGPIPE, SIG_IGN);
	if (hello_delay_ms > 0)
		usleep((useconds_t)hello_delay_ms * 1000);
	if (*hello == '\0')
		_exit(0); /* no greeting: hang up at once */
	fake_write(&f, hello, strlen(hello));
	for (;;) {
		n = fake_recv(&f, buf + len, sizeof(buf) - len, consumed + len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((lf = memchr(buf, '\n', len)) != NULL) {
			linelen = (size_t)(lf - buf);
			fake_line_fds(&f, consumed, linelen);
			fake_line(&f, buf, linelen);
			memmove(buf, lf + 1, len - linelen - 1);
			len -= linelen + 1;
			consumed += linelen + 1;
			if (f.pause_ms > 0) {
				usleep((useconds_t)f.pause_ms * 1000);
				f.pause_ms = 0;
			}
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
	ok_int(wrennctl_version_num(), WRENNCTL_VERSION_NUM,
	    "wrennctl_version_num() is WRENNCTL_VERSION_NUM");
	ok_int(WRENNCTL_AT_LEAST(0, 1, 0), 1, "WRENNCTL_AT_LEAST(0, 1, 0)");
	ok_int(WRENNCTL_AT_LEAST(0, 1, 1), 0, "not WRENNCTL_AT_LEAST(0, 1, 1)");
	ok_int(WRENNCTL_AT_LEAST(1, 0, 0), 0, "not WRENNCTL_AT_LEAST(1, 0, 0)");
	ok(strcmp(wrennctl_strerror(0), "success") == 0, "strerror(0)");
	for (code = WRENNCTL_E_NOMEM; code >= WRENNCTL_E_ACCOUNT; code--) {
		seen[n] = wrennctl_strerror(code);
		if (strcmp(seen[n], "unknown error") == 0)
			distinct = 0;
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], seen[n]) == 0)
				distinct = 0;
		n++;
	}
	ok(distinct, "strerror covers all %d codes with distinct text", n);
	ok_str(wrennctl_strerror(1), "unknown error", "strerror(1)");
	ok_str(wrennctl_strerror(-1000), "unknown error", "strerror(-1000)");
	ok(wrennctl_free(NULL) == NULL, "wrennctl_free(NULL)");
	ok_str(wrennctl_errmsg(NULL), "invalid argument", "errmsg(NULL)");
	ok_null(wrennctl_err_data_code(NULL), "err_data_code(NULL)");
	ok_null(wrennctl_err_json(NULL), "err_json(NULL)");
	ok_int(wrennctl_get_fd(NULL), WRENNCTL_E_INVAL, "get_fd(NULL)");
	ok_int(wrennctl_call(NULL, "x", NULL, NULL), WRENNCTL_E_INVAL,
	    "call(NULL handle)");
	ok_int(wrennctl_process(NULL), WRENNCTL_E_INVAL, "process(NULL)");
	ok_int(wrennctl_open_fd(-1, 0, NULL), WRENNCTL_E_INVAL, "open_fd(-1)");
}

static void
test_socket_path(void)
{
	char *p = NULL;
	int r;

	(void)unsetenv("WRENND_SOCKET");
	(void)setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	r = wrennctl_socket_path(NULL, &p);
	ok_int(r, 0, "path from XDG_RUNTIME_DIR: succeeds");
	ok_str(p, "/run/user/1234/wrennd/wrennd.sock",
	    "path from XDG_RUNTIME_DIR");
	free(p);
	(void)setenv("WRENND_SOCKET", "/tmp/w.sock", 1);
	p = NULL;
	r = wrennctl_socket_path("", &p);
	ok_int(r, 0, "WRENND_SOCKET: succeeds");
	ok_str(p, "/tmp/w.sock", "WRENND_SOCKET wins over XDG_RUNTIME_DIR");
	free(p);
	p = NULL;
	r = wrennctl_socket_path("/x/y.sock", &p);
	ok_int(r, 0, "explicit path: succeeds");
	ok_str(p, "/x/y.sock", "explicit path wins over WRENND_SOCKET");
	free(p);
	(void)unsetenv("WRENND_SOCKET");
	(void)unsetenv("XDG_RUNTIME_DIR");
	p = NULL;
	r = wrennctl_socket_path(NULL, &p);
	ok_int(r, 0, "default path: succeeds");
	ok_str(p, "/run/wrennd/wrennd.sock", "default path");
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
	ok_str(wrennctl_server_version(h), "0.1.0-test",
	    "server version from the greeting");
	ok_int(wrennctl_server_limit(h, "max_line"), 1048576,
	    "limit max_line from the greeting");
	ok_int(wrennctl_server_limit(h, "max_inflight"), 64,
	    "limit max_inflight from the greeting");
	ok_int(wrennctl_server_limit(h, "max_fds"), 0,
	    "limit max_fds from the greeting");
	ok_int(wrennctl_server_limit(h, "nope"), -1, "an unknown limit is -1");
	ok_str(wrennctl_server_method(h, 0), "sandboxes.create",
	    "method 0 from the greeting");
	ok_null(wrennctl_server_method(h, 3), "no method 3");
	ok_int(wrennctl_server_has_method(h, "sandbox.exec"), 1,
	    "has_method sandbox.exec");
	ok_int(wrennctl_server_has_method(h, "hosts.list"), 0,
	    "not has_method hosts.list");
	ok_int(wrennctl_server_has_capability(h, "cancel"), 1,
	    "capability cancel from the greeting");
	ok_int(
	    wrennctl_server_has_capability(h, "fds"), 0, "no capability fds");
	ok_str(wrennctl_peer_role(h), "user", "peer role from the greeting");
	j = parse(wrennctl_hello_json(h));
	ok_int(json_is_object(j), 1, "hello_json is an object");
	ok_nonnull(json_object_get(j, "limits"), "hello_json has limits");
	json_decref(j);

	r = wrennctl_call(
	    h, "sandboxes.get", "{\"sandbox_id\":\"cl-1\"}", &res);
	ok(r == 0, "blocking call succeeds");
	j = parse(res);
	ok_int(json_is_object(j), 1, "the result is an object: %s",
	    res != NULL ? res : "(null)");
	ok_str(json_string_value(json_object_get(j, "method")), "sandboxes.get",
	    "the result carries the method");
	ok_str(json_string_value(
		   json_object_get(json_object_get(j, "params"), "sandbox_id")),
	    "cl-1", "the result carries the params");
	json_decref(j);
	free(res);
	ok_str(wrennctl_errmsg(h), "", "no error message after success");
	ok_null(wrennctl_err_json(h), "no error JSON after success");

	res = NULL;
	r = wrennctl_call(h, "daemon.status", NULL, &res);
	ok_int(r, 0, "NULL params: succeeds");
	ok_nonnull(res, "NULL params: a result");
	free(res);
	ok(wrennctl_call(h, "daemon.status", "  ", NULL) == 0,
	    "blank params and NULL ret_result");
	res = NULL;
	r = wrennctl_call(h, "sandboxes.list", "{\"result\":[1,\"a\"]}", &res);
	ok_int(r, 0, "array result: succeeds");
	ok_str(res, "[1,\"a\"]", "array result");
	free(res);
	res = NULL;
	r = wrennctl_call(h, "x.scalar", "{\"result\":42}", &res);
	ok_int(r, 0, "scalar result: succeeds");
	ok_str(res, "42", "scalar result");
	free(res);
	res = NULL;
	r = wrennctl_call(
	    h, "sandbox.exec", "{\"result\":{\"stdout\":\"a\\u0000b\"}}", &res);
	ok_int(r, 0, "a NUL inside a result string: succeeds");
	ok_strstr(res, "a\\u0000b", "a NUL inside a result string survives");
	free(res);

	res = (char *)"untouched";
	r = wrennctl_call(h, "x", "{bad json", &res);
	ok_int(r, WRENNCTL_E_INVAL, "bad params JSON is INVAL");
	ok_str(res, "untouched", "bad params JSON: ret untouched");
	ok_strstr(wrennctl_errmsg(h), "not valid JSON",
	    "bad params JSON: the message");
	ok_str(wrennctl_err_data_code(h), "invalid_argument",
	    "bad params JSON: the data code");
	ok(wrennctl_call(h, "x", "[1]", NULL) == WRENNCTL_E_INVAL,
	    "params that are not an object are INVAL");
	ok_int(wrennctl_call(h, "", NULL, NULL), WRENNCTL_E_INVAL,
	    "empty method is INVAL");
	ok_int(wrennctl_call(h, NULL, NULL, NULL), WRENNCTL_E_INVAL,
	    "NULL method is INVAL");
	ok(wrennctl_call(h, "x.unknown_notification",
	       "{\"raw\":\"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"method\\\":"
	       "\\\"x.bye\\\",\\\"params\\\":{}}\\n\"}",
	       NULL) == 0,
	    "unknown notifications from the server are ignored");
	ok_int(wrennctl_call_async(h, "x.async", NULL, NULL, NULL, NULL, NULL),
	    0, "an async call without callbacks is queued");
	ok_int(wrennctl_flush(h), 0, "flush writes queued output");
	ok_int(wrennctl_get_events(h), POLLIN, "then only POLLIN is wanted");
	ok_int(wrennctl_call(h, "x.after", NULL, NULL), 0,
	    "a later call succeeds");
	ok_int(wrennctl_pending_calls(h), 0,
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
	     "\"integrity\",\"size\":3,\"sandbox_size\":0}}",
		WRENNCTL_E_INTEGRITY, "integrity", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"io_error\"}}",
		WRENNCTL_E_IO, "io_error", 0},
	    {"{\"code\":-32600,\"message\":\"m\",\"data\":{\"code\":"
	     "\"unexpected_fds\"}}",
		WRENNCTL_E_UNSUPPORTED, "unexpected_fds", 0},
	    {"{\"code\":-32600,\"message\":\"m\",\"data\":{\"code\":"
	     "\"too_many_fds\"}}",
		WRENNCTL_E_VALIDATION, "too_many_fds", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"too_many_streams\"}}",
		WRENNCTL_E_BUSY, "too_many_streams", 0},
	    {"{\"code\":-32001,\"message\":\"m\",\"data\":{\"code\":"
	     "\"permission_denied\",\"role\":\"admin\"}}",
		WRENNCTL_E_FORBIDDEN, "permission_denied", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"stream_error\"}}",
		WRENNCTL_E_APPLICATION, "stream_error", 0},
	    /* The v0.1.5 control plane's codes (CONTRACT.md 11.9). */
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"no_hosts_available\",\"status\":503,\"retryable\":true}}",
		WRENNCTL_E_NO_HOSTS, "no_hosts_available", 503},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"unsupported_by_server\",\"needs\":\"v0.1.5\"}}",
		WRENNCTL_E_UNSUPPORTED_BY_SERVER, "unsupported_by_server", 0},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"account_deactivated\",\"status\":403}}",
		WRENNCTL_E_ACCOUNT, "account_deactivated", 403},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"account_disabled\",\"status\":403}}",
		WRENNCTL_E_ACCOUNT, "account_disabled", 403},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"account_not_activated\",\"status\":403}}",
		WRENNCTL_E_ACCOUNT, "account_not_activated", 403},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"template_name_taken\",\"status\":409}}",
		WRENNCTL_E_CONFLICT, "template_name_taken", 409},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"agent_error\",\"status\":501}}",
		WRENNCTL_E_AGENT, "agent_error", 501},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"wrong_password\",\"status\":401}}",
		WRENNCTL_E_AUTHENTICATION, "wrong_password", 401},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"signup_cooldown\",\"status\":409}}",
		WRENNCTL_E_CONFLICT, "signup_cooldown", 409},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"invalid_token\",\"status\":400}}",
		WRENNCTL_E_VALIDATION, "invalid_token", 400},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"already_activated\",\"status\":400}}",
		WRENNCTL_E_VALIDATION, "already_activated", 400},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"last_login_method\",\"status\":400}}",
		WRENNCTL_E_VALIDATION, "last_login_method", 400},
	    {"{\"code\":-32000,\"message\":\"m\",\"data\":{\"code\":"
	     "\"owns_team_with_members\",\"status\":409}}",
		WRENNCTL_E_CONFLICT, "owns_team_with_members", 409},
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
	const char *dc;
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
		dc = cases[i].data_code ? cases[i].data_code : "-";
		ok_int(r, cases[i].code, "error %s: code (%s)", dc,
		    wrennctl_strerror(r));
		ok_str(res, "untouched", "error %s: ret untouched", dc);
		if (cases[i].data_code == NULL)
			ok_null(wrennctl_err_data_code(h),
			    "error %s: no data code", dc);
		else
			ok_str(wrennctl_err_data_code(h), cases[i].data_code,
			    "error %s: data code", dc);
		ok_int(wrennctl_err_http_status(h), cases[i].status,
		    "error %s: HTTP status", dc);
		ok_nonnull(wrennctl_err_json(h), "error %s: err_json", dc);
	}
	r = wrennctl_call(h, "x.fail",
	    "{\"error\":"
	    "{\"code\":-32000,"
	    "\"message\":\"sandbox not found\",\"data\":{\"code\":"
	    "\"not_found\",\"status\":404}}}",
	    NULL);
	ok_str(wrennctl_errmsg(h), "sandbox not found",
	    "errmsg is the wire message");
	ok_int(wrennctl_err_rpc_code(h), -32000, "rpc code kept");
	ok_strstr(wrennctl_err_json(h), "\"status\":404",
	    "err_json is the wire error object");
	r = wrennctl_call(h, "hosts.delete",
	    "{\"error\":{\"code\":-32000,\"message\":\"host has active "
	    "sandboxes\",\"data\":{\"code\":\"has_active_sandboxes\","
	    "\"status\":409,\"sandbox_ids\":[\"cl-a\",\"cl-b\"]}}}",
	    NULL);
	ok_int(r, WRENNCTL_E_HOST_HAS_SANDBOXES, "has_active_sandboxes: code");
	ok_str(wrennctl_err_sandbox_id(h, 0), "cl-a",
	    "has_active_sandboxes: sandbox id 0");
	ok_str(wrennctl_err_sandbox_id(h, 1), "cl-b",
	    "has_active_sandboxes: sandbox id 1");
	ok_null(wrennctl_err_sandbox_id(h, 2),
	    "has_active_sandboxes: no sandbox id 2");
	ok_int(
	    wrennctl_call(h, "x.ok", NULL, NULL), 0, "a later call succeeds");
	ok_null(
	    wrennctl_err_sandbox_id(h, 0), "a success clears the sandbox ids");
	ok_null(wrennctl_err_data_code(h), "a success clears the data code");
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
	time_t until = time(NULL) + (max_ms + 999) / 1000;
	int r;

	while (*counter < target) {
		r = wrennctl_process(h);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (time(NULL) > until)
			return WRENNCTL_E_TIMEOUT;
		pfd.fd = wrennctl_get_fd(h);
		pfd.events = (short)wrennctl_get_events(h);
		pfd.revents = 0;
		(void)poll(&pfd, 1, 50);
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
	int r, i;
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
	ok_int(r, 0, "three async calls started");
	ok_int(id[0] != id[1], 1, "ids 0 and 1 differ (%llu %llu)",
	    (unsigned long long)id[0], (unsigned long long)id[1]);
	ok_int(id[1] != id[2], 1, "ids 1 and 2 differ (%llu %llu)",
	    (unsigned long long)id[1], (unsigned long long)id[2]);
	ok(wrennctl_pending_calls(h) == 3, "three calls pending");
	r = loop_until(h, &log.n, 3, 10000);
	ok_int(r, 0, "the loop ends");
	ok_int(log.n, 3, "three replies arrived via process()");
	/* Expected order: c (releases), then b, then a. */
	for (i = 0; i < 3 && log.n == 3; i++) {
		ok_int((long long)log.ids[i], (long long)id[2 - i],
		    "reply %d matches call %d", i, 2 - i);
		ok_int(
		    log.tags[i], 102 - i, "reply %d carries its userdata", i);
		ok_int(log.status[i], 0, "reply %d status", i);
		if (i == 0)
			continue;
		j = parse(log.json[i]);
		ok_int(json_integer_value(json_object_get(j, "released")),
		    (long long)log.ids[i], "reply %d was released by the next",
		    i);
		json_decref(j);
	}
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
	int i, r;

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
	ok_int(r, 0, "streaming call succeeds");
	ok_str(res, "{\"exit_code\":0}",
	    "streaming call returns the final result");
	ok_int(sl.n, 4, "four events delivered, stray event ignored");
	ok_str(sl.n > 0 ? sl.events[0] : NULL, "start", "event 0");
	ok_str(sl.n > 1 ? sl.events[1] : NULL, "stdout", "event 1");
	ok_str(sl.n > 2 ? sl.events[2] : NULL, "exit", "event 2");
	ok_str(sl.n > 3 ? sl.events[3] : NULL, "", "event 3 has no kind");
	for (i = 0; i < 4; i++)
		ok_int(sl.seq[i], i, "event %d JSON carries id and seq", i);
	free(res);

	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = 0;
	res = NULL;
	r = wrennctl_call_stream(h, "sandbox.exec_stream",
	    "{\"events\":[{\"event\":\"start\"}],\"hold\":true}",
	    stream_event_cb, &sl, &res);
	ok(sl.cancel_rc == 0, "wrennctl_cancel from the event callback");
	ok_int(r, WRENNCTL_E_CANCELLED, "cancelled call: code (%s)",
	    wrennctl_strerror(r));
	ok_null(res, "cancelled call: no result");
	ok_str(wrennctl_err_data_code(h), "cancelled",
	    "cancelled call: data code");
	ok_int(wrennctl_err_rpc_code(h), -32800,
	    "cancelled call ends with its final -32800 reply");
	ok(wrennctl_cancel(h, 12345) == WRENNCTL_E_INVAL,
	    "cancel of an unknown id is INVAL");

	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = -1;
	res = NULL;
	r = wrennctl_call_stream(h, "sandbox.exec_stream",
	    "{\"n_events\":300,\"result\":{}}", stream_counter_cb, &sl.n, &res);
	ok_int(r, 0, "a burst of events: succeeds");
	ok_int(sl.n, 300, "300 events in a burst (past the dispatch budget)");
	free(res);
	res = NULL;
	r = wrennctl_call(h, "x.big", "{\"big\":3000000}", &res);
	ok_int(r, 0, "a 3 MB reply: succeeds");
	ok_size(res != NULL ? strlen(res) : 0, 3000002,
	    "a 3 MB reply arrives whole");
	ok_int(res != NULL ? res[1] : 0, 'x', "a 3 MB reply: its first byte");
	ok_int(res != NULL && strlen(res) > 3000000 ? res[3000000] : 0, 'x',
	    "a 3 MB reply: its last byte");
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
	ok_int(wrennctl_call_async(h, "sandbox.wait_ready", "{\"hold\":true}",
		   NULL, log_reply_cb, &t, &id),
	    0, "async call started");
	ok_int(wrennctl_cancel(h, id), 0, "async call cancelled");
	ok_int(wrennctl_cancel(h, id), 0, "cancelling twice is harmless");
	(void)loop_until(h, &log.n, 1, 10000);
	ok_int(log.n, 1, "the cancelled call completes once");
	ok_int(
	    (long long)log.ids[0], (long long)id, "the cancelled call: its id");
	ok_int(log.status[0], WRENNCTL_E_CANCELLED,
	    "the cancelled call: CANCELLED");
	ok_strstr(log.json[0], "-32800", "the cancelled call: its reply");
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
	ok_int(r, WRENNCTL_E_TIMEOUT, "local timeout: code");
	ok_null(res, "local timeout: no result");
	ok_str(
	    wrennctl_err_data_code(h), "timeout", "local timeout: data code");
	ok_strstr(wrennctl_errmsg(h), "sandbox.wait_ready",
	    "local timeout: the message names the method");
	ok(wrennctl_pending_calls(h) == 0,
	    "the abandoned call does not count as pending");
	ok(wrennctl_set_timeout(h, 0) == 0, "timeout off");
	r = wrennctl_call(h, "x", NULL, &res);
	j = parse(res);
	ok_int(r, 0, "the next call succeeds, late reply dropped");
	ok_int(json_integer_value(json_object_get(j, "cancels")), 1,
	    "timed-out call was cancelled on the server");
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
	ok_int(r, WRENNCTL_E_CONNECT, "server closing mid-call: code (%s)",
	    wrennctl_errmsg(h));
	ok_null(res, "server closing mid-call: no result");
	ok_str(wrennctl_err_data_code(h), "connect",
	    "server closing mid-call: data code");
	ok_int(wrennctl_call(h, "y", NULL, NULL), WRENNCTL_E_CONNECT,
	    "the handle stays failed: call");
	ok_int(wrennctl_get_events(h), WRENNCTL_E_CONNECT,
	    "the handle stays failed: get_events");
	ok_int(wrennctl_process(h), WRENNCTL_E_CONNECT,
	    "the handle stays failed: process");
	ok_int(wrennctl_flush(h), WRENNCTL_E_CONNECT,
	    "the handle stays failed: flush");
	ok_int(wrennctl_wait(h, 0), WRENNCTL_E_CONNECT,
	    "the handle stays failed: wait");
	ok_int(wrennctl_call_async(h, "z", NULL, NULL, NULL, NULL, NULL),
	    WRENNCTL_E_CONNECT, "the handle stays failed: call_async");
	ok(wrennctl_get_fd(h) >= 0, "the fd stays open until free");
	close_fake(&s, h, "connection_loss");

	h = open_fake(&s);
	if (!ok(h != NULL, "open for reply-then-close"))
		return;
	r = wrennctl_call(h, "x",
	    "{\"result\":{\"ok\":1},"
	    "\"reply_then_close\":true}",
	    &res);
	ok_int(r, 0, "a reply sent just before the close: succeeds");
	ok_str(res, "{\"ok\":1}",
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
	ok_int(r, WRENNCTL_E_CONNECT, "EOF inside a line: code");
	ok_strstr(wrennctl_errmsg(h), "middle of a message",
	    "EOF inside a line: the message");
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
	ok_int(r, code, "%s: code (%s)", what, wrennctl_strerror(r));
	ok_strstr(wrennctl_errmsg(h), needle, "%s: the message", what);
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
		ok_int(r, cases[i].code, "open refuses %s (%s)", cases[i].what,
		    wrennctl_strerror(r));
		ok_null(h, "open refuses %s: no handle", cases[i].what);
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
	ok_int(r, 0, "open NONBLOCK succeeds");
	if (!ok_nonnull(h, "open NONBLOCK returns at once"))
		return;
	ok_null(wrennctl_server_version(h), "no greeting yet: no version");
	ok_null(wrennctl_hello_json(h), "no greeting yet: no hello_json");
	ok(wrennctl_process(h) == 0, "process() with nothing to do is 0");
	ok(wrennctl_wait(h, 0) == 0, "wait(0) times out at once");
	ok(wrennctl_call_async(h, "sandboxes.list", "{\"result\":[]}", NULL,
	       log_reply_cb, &t, &id) == 0,
	    "call queued before the greeting");
	ok_int(wrennctl_get_events(h) & ~(POLLIN | POLLOUT), 0,
	    "get_events asks for nothing but POLLIN and POLLOUT");
	ok_int(wrennctl_get_events(h) & POLLIN, POLLIN,
	    "get_events asks for POLLIN");
	while (log.n == 0) {
		r = wrennctl_process(h);
		if (r < 0)
			break;
		if (r == 0)
			(void)wrennctl_wait(h, 1000);
	}
	ok_int(log.n, 1, "reply dispatched by process()");
	ok_int(log.status[0], 0, "the reply's status");
	ok_int((long long)log.ids[0], (long long)id, "the reply's id");
	ok_str(log.json[0], "[]", "the reply's result");
	ok_int(log.tags[0], 7, "the reply's userdata");
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
	ok_int(re.blocking_rc, WRENNCTL_E_INVAL,
	    "a blocking call inside a callback is refused");
	ok_int(re.process_rc, WRENNCTL_E_INVAL,
	    "process() inside a callback is refused");
	ok_int(re.flush_rc, WRENNCTL_E_INVAL,
	    "flush() inside a callback is refused");
	ok(re.async_rc == 0, "call_async inside a callback works");
	ok(wrennctl_pending_calls(re.h) == 1, "the nested call is pending");
	(void)wrennctl_free(re.h);
	ok_int(re.replies, 2, "wrennctl_free completes pending calls");
	ok_int(re.frees, 1, "wrennctl_free completes them with CANCELLED");
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
	ok_int(re.replies, 2,
	    "wrennctl_free from a callback is deferred and completes the "
	    "other calls");
	ok_int(re.frees, 1, "the other calls complete with CANCELLED");
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
	int lfd, cfd, r, st = 0, e;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/w.sock", dir);
	r = wrennctl_new(path, &h);
	e = errno;
	ok_int(r, WRENNCTL_E_CONNECT, "connect to a missing socket: CONNECT");
	ok_int(e, ENOENT, "connect to a missing socket: errno ENOENT");
	ok_null(h, "connect to a missing socket: no handle");

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
	ok_int(r, 0, "wrennctl_new(NULL) succeeds");
	ok_nonnull(h, "wrennctl_new(NULL) connects to $WRENND_SOCKET");
	if (h != NULL) {
		ok_int(wrennctl_call(h, "daemon.status", "{}", &res), 0,
		    "call over a path-connected socket");
		ok_nonnull(res, "call over a path-connected socket: a result");
		free(res);
		(void)wrennctl_free(h);
	}
	ok_int(waitpid(pid, &st, 0), pid, "path server reaped");
	ok_int(WIFEXITED(st) != 0, 1, "path server exited");
	ok_int(WEXITSTATUS(st), 0, "path server exited cleanly");
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

/* ---- fd passing --------------------------------------------------------- */

/* Open a handle with flags on a fake that offers (or not) fd passing. */
static struct wrennctl *
open_fake_with(struct srv *s, const char *hello, unsigned int flags, int *rc)
{
	struct wrennctl *h = NULL;

	*rc = -1000;
	if (srv_start(s, hello, 0) < 0)
		return NULL;
	*rc = wrennctl_open_fd(s->fd, flags, &h);
	if (*rc < 0) {
		close(s->fd);
		return NULL;
	}
	return h;
}

/* Number of open file descriptors of this process. */
static int
count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* A pipe holding text, write end closed; returns the read end. */
static int
pipe_with(const char *text)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	if (write(p[1], text, strlen(text)) != (ssize_t)strlen(text)) {
		close(p[0]);
		p[0] = -1;
	}
	close(p[1]);
	return p[0];
}

/* An unlinked temporary file holding text, offset 0. */
static int
file_with(const char *text)
{
	char path[] = "/tmp/test-libwrennctl-fd.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) < 0)
		return -1;
	(void)unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static const char *
jstr(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL ? v : "";
}

static json_int_t
jint(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static void
test_fds_unsupported(void)
{
	struct wrennctl *h;
	struct srv s;
	int fd, r;

	h = open_fake_with(&s, NULL, 0, &r);
	if (!ok(h != NULL, "open a fake without the fds capability"))
		return;
	fd = pipe_with("x");
	r = wrennctl_call_fds(
	    h, "x.fds", "{\"f\":{\"$fd\":0}}", &fd, 1, NULL, NULL, NULL);
	ok_int(r, WRENNCTL_E_UNSUPPORTED,
	    "fds to a wrennd without the capability: UNSUPPORTED");
	ok_str(wrennctl_err_data_code(h), "unsupported",
	    "fds without the capability: data code");
	ok_strstr(wrennctl_errmsg(h), "fds",
	    "fds without the capability: the message");
	close(fd);
	ok(wrennctl_call(h, "x", NULL, NULL) == 0,
	    "the handle still works for plain calls");
	close_fake(&s, h, "fds_unsupported");

	h = open_fake_with(&s, NULL, WRENNCTL_OPEN_FDS, &r);
	ok_null(h, "open with WRENNCTL_OPEN_FDS fails without the capability");
	ok_int(r, WRENNCTL_E_UNSUPPORTED,
	    "open with WRENNCTL_OPEN_FDS without the capability: UNSUPPORTED");
	(void)srv_wait(&s);
}

/* Argument checks of the fd calls; none of them reaches the server. */
static void
fds_bad_arguments(struct wrennctl *h, int fd)
{
	int fds[5], i, bad = open("/dev/null", O_RDONLY);

	for (i = 0; i < 5; i++)
		fds[i] = fd;
	ok_int(wrennctl_call_fds(h, "x", "{}", &fd, 1, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "an fd not referenced in params is INVAL");
	ok_strstr(wrennctl_errmsg(h), "referenced 0 times",
	    "an fd not referenced: the message");
	ok(wrennctl_call_fds(h, "x", "{\"a\":{\"$fd\":0},\"b\":[{\"$fd\":0}]}",
	       &fd, 1, NULL, NULL, NULL) == WRENNCTL_E_INVAL,
	    "an fd referenced twice is INVAL");
	ok(wrennctl_call_fds(h, "x", "{\"a\":{\"$fd\":1}}", &fd, 1, NULL, NULL,
	       NULL) == WRENNCTL_E_INVAL,
	    "a reference past the fds is INVAL");
	ok(wrennctl_call_fds(h, "x", "{\"a\":{\"$fd\":0}}", NULL, 1, NULL, NULL,
	       NULL) == WRENNCTL_E_INVAL,
	    "NULL fds is INVAL");
	i = -1;
	ok(wrennctl_call_fds(h, "x", "{\"a\":{\"$fd\":0}}", &i, 1, NULL, NULL,
	       NULL) == WRENNCTL_E_INVAL,
	    "a negative fd is INVAL");
	ok_int(wrennctl_call_fds(h, "x",
		   "{\"a\":[{\"$fd\":0},{\"$fd\":1},{\"$fd\":2},{\"$fd\":3},"
		   "{\"$fd\":4}]}",
		   fds, 5, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "more fds than limits.max_fds is INVAL");
	ok_strstr(wrennctl_errmsg(h), "at most 4",
	    "more fds than limits.max_fds: the message");
	i = bad;
	close(bad);
	ok_int(wrennctl_call_fds(
		   h, "x", "{\"a\":{\"$fd\":0}}", &i, 1, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "a closed fd is INVAL");
	ok_strstr(wrennctl_errmsg(h), "Bad file descriptor",
	    "a closed fd: the message");
	i = pipe_with("async");
	ok(wrennctl_call_async_fds(h, "x", "{\"a\":{\"$fd\":0}}", &i, 1, NULL,
	       NULL, NULL, NULL) == 0,
	    "...but a correct async call goes out");
	close(i);
	ok(wrennctl_flush(h) == 0, "flush");
}

static void
test_fds_pass(void)
{
	struct stream_log sl;
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	int fds[2], before, r;
	json_t *j, *got;

	h = open_fake_with(&s, HELLO_FDS, 0, &r);
	if (!ok(h != NULL, "open a fake that offers fds"))
		return;
	before = count_fds();
	fds[0] = pipe_with("through a pipe");
	fds[1] = file_with("from a file");
	fds_bad_arguments(h, fds[0]);
	memset(&sl, 0, sizeof(sl));
	sl.cancel_on = -1;
	r = wrennctl_call_fds(h, "x.fds",
	    "{\"a\":{\"$fd\":0},\"nested\":{\"b\":{\"$fd\":1}},"
	    "\"events\":[{\"event\":\"start\"},{\"event\":\"stdout\"}]}",
	    fds, 2, stream_event_cb, &sl, &res);
	j = parse(res);
	got = json_object_get(j, "fds");
	ok_int(r, 0, "the first fd call succeeds (%s)",
	    res != NULL ? res : wrennctl_errmsg(h));
	ok_int(jint(j, "hellos"), 1,
	    "fds negotiated with one rpc.hello before the first fd call");
	ok_int(json_is_true(json_object_get(j, "fds_on")), 1,
	    "the server turned fds on");
	ok_int(jint(j, "fd_sets"), 1, "one SCM_RIGHTS message");
	ok_int(json_is_true(json_object_get(j, "fd_at_start")), 1,
	    "the fds came with the first byte of the line");
	ok_size(json_array_size(got), 2, "the server read both fds");
	ok_str(json_string_value(json_array_get(got, 0)), "through a pipe",
	    "fd 0 read back, in index order");
	ok_str(json_string_value(json_array_get(got, 1)), "from a file",
	    "fd 1 read back, in index order");
	ok_int(sl.n, 2, "the event callback of an fd call gets the events");
	ok_int(sl.seq[0], 0, "fd call event 0 has seq 0");
	ok_int(sl.seq[1], 1, "fd call event 1 has seq 1");
	ok_str(sl.n > 1 ? sl.events[1] : NULL, "stdout",
	    "fd call event 1 is stdout");
	json_decref(j);
	free(res);
	res = NULL;
	ok_int(fcntl(fds[0], F_GETFD) >= 0, 1, "the caller's fd 0 stays open");
	ok_int(fcntl(fds[1], F_GETFD) >= 0, 1, "the caller's fd 1 stays open");
	close(fds[0]);
	close(fds[1]);
	ok(count_fds() == before, "no descriptor leaked (%d, %d before)",
	    count_fds(), before);
	fds[0] = pipe_with("second");
	r = wrennctl_call_fds(
	    h, "x.fds", "{\"f\":{\"$fd\":0}}", fds, 1, NULL, NULL, &res);
	j = parse(res);
	ok_int(r, 0, "a second fd call succeeds");
	ok_int(
	    jint(j, "hellos"), 1, "a second fd call needs no second rpc.hello");
	ok_int(jint(j, "fd_sets"), 1, "a second fd call: one more fd set");
	ok_str(json_string_value(json_array_get(json_object_get(j, "fds"), 0)),
	    "second", "a second fd call: its fd reads back");
	json_decref(j);
	free(res);
	close(fds[0]);
	res = NULL;
	r = wrennctl_call_fds(h, "x.plain", "{}", NULL, 0, NULL, NULL, &res);
	j = parse(res);
	ok_int(r, 0, "n_fds 0: succeeds");
	ok_int(jint(j, "fd_sets"), 0, "n_fds 0 is a plain call");
	json_decref(j);
	free(res);
	close_fake(&s, h, "fds_pass");
}

static void
test_fds_open_flag(void)
{
	struct reply_log log;
	struct tagged t;
	struct wrennctl *h;
	struct srv s;
	char *res = NULL;
	json_t *j;
	int fd, r;

	h = open_fake_with(&s, HELLO_FDS, WRENNCTL_OPEN_FDS, &r);
	if (!ok(h != NULL, "open with WRENNCTL_OPEN_FDS (%s)",
		wrennctl_strerror(r)))
		return;
	r = wrennctl_call(h, "x", NULL, &res);
	j = parse(res);
	ok_int(r, 0, "a call after open with WRENNCTL_OPEN_FDS");
	ok_int(jint(j, "hellos"), 1,
	    "the open negotiated fds (one rpc.hello, not a pending call)");
	ok_int(json_is_true(json_object_get(j, "fds_on")), 1,
	    "the open turned fds on");
	json_decref(j);
	free(res);
	close_fake(&s, h, "fds_open_flag");

	/* Non-blocking: the rpc.hello is queued before the greeting. */
	memset(&log, 0, sizeof(log));
	t.log = &log;
	t.tag = 3;
	h = open_fake_with(
	    &s, HELLO_FDS, WRENNCTL_OPEN_FDS | WRENNCTL_OPEN_NONBLOCK, &r);
	if (!ok(h != NULL, "open NONBLOCK|FDS"))
		return;
	ok(wrennctl_pending_calls(h) == 0,
	    "the library's own rpc.hello is not a pending call");
	fd = pipe_with("async");
	r = wrennctl_call_async_fds(h, "x.fds", "{\"f\":{\"$fd\":0}}", &fd, 1,
	    NULL, log_reply_cb, &t, NULL);
	close(fd);
	ok_int(r, 0, "an async fd call is queued");
	ok_int(loop_until(h, &log.n, 1, 10000), 0,
	    "an async fd call through the event loop");
	ok_int(log.status[0], 0, "the async fd call's status");
	j = parse(log.json[0]);
	ok_int(jint(j, "hellos"), 1, "its fd came after a single negotiation");
	ok_int(jint(j, "fd_sets"), 1, "its fd came in one fd set");
	ok_str(json_string_value(json_array_get(json_object_get(j, "fds"), 0)),
	    "async", "its fd reads back");
	json_decref(j);
	free_log(&log);
	close_fake(&s, h, "fds_open_nonblock");
}

/* params {"pad":"xxx..." (n bytes), "pause_ms":P} plus a suffix. */
static char *
padded_params(size_t n, int pause_ms, const char *suffix)
{
	char *p = malloc(n + 128);
	int k;

	if (p == NULL)
		return NULL;
	k = snprintf(p, 64, "{\"pause_ms\":%d,\"pad\":\"", pause_ms);
	memset(p + k, 'x', n);
	snprintf(p + k + n, 64, "\"%s}", suffix);
	return p;
}

/*
 * A socket buffer far smaller than the lines, a server that stops reading
 * for a while, and a line with fds between two without: every write is
 * partial; the fds must still arrive once, with their line's first byte.
 */
static void
test_fds_partial_write(void)
{
	struct reply_log log;
	struct tagged t[3];
	struct wrennctl *h = NULL;
	struct srv s;
	char *pa, *pb, *pc;
	int fd, sndbuf = 4096, r, i;
	json_t *j[3];

	memset(&log, 0, sizeof(log));
	if (srv_start(&s, HELLO_FDS, 0) < 0)
		return;
	(void)setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (!ok(wrennctl_open_fd(s.fd, WRENNCTL_OPEN_FDS, &h) == 0,
		"open with a tiny send buffer"))
		return;
	pa = padded_params(300000, 200, "");
	pb = padded_params(300000, 0, ",\"f\":{\"$fd\":0}");
	pc = padded_params(1000, 0, "");
	fd = file_with("partial but whole");
	for (i = 0; i < 3; i++) {
		t[i].log = &log;
		t[i].tag = i;
	}
	r = wrennctl_call_async(h, "a", pa, NULL, log_reply_cb, &t[0], NULL);
	r |= wrennctl_call_async_fds(
	    h, "b", pb, &fd, 1, NULL, log_reply_cb, &t[1], NULL);
	r |= wrennctl_call_async(h, "c", pc, NULL, log_reply_cb, &t[2], NULL);
	close(fd);
	ok_int(r, 0, "three calls queued");
	ok_int(wrennctl_get_events(h) & POLLOUT, POLLOUT, "output pending");
	r = loop_until(h, &log.n, 3, 20000);
	ok_int(r, 0, "the loop ends (%s)", wrennctl_strerror(r));
	ok_int(log.n, 3, "all three answered");
	for (i = 0; i < 3; i++)
		j[i] = parse(log.n == 3 ? log.json[i] : NULL);
	for (i = 0; i < 3 && log.n == 3; i++)
		ok_int(log.tags[i], i, "reply %d is call %d's", i, i);
	ok_int(jint(j[0], "fd_sets"), 0, "the line before the fd line: no fds");
	ok_int(jint(j[2], "fd_sets"), 0, "the line after the fd line: no fds");
	ok_int(jint(j[1], "fd_sets"), 1, "the fd line's fd came once");
	ok_int(json_is_true(json_object_get(j[1], "fd_at_start")), 1,
	    "the fd line's fd came with its first byte");
	ok_str(
	    json_string_value(json_array_get(json_object_get(j[1], "fds"), 0)),
	    "partial but whole", "the fd line's fd reads back");
	ok(strlen(jstr(json_object_get(j[1], "params"), "pad")) == 300000,
	    "the 300 kB line arrived whole");
	for (i = 0; i < 3; i++)
		json_decref(j[i]);
	free(pa);
	free(pb);
	free(pc);
	free_log(&log);
	close_fake(&s, h, "fds_partial_write");
}

struct progress_log {
	int n;
	uint64_t bytes;
	int64_t total;
	int cancel; /* cancel from the callback */
	int cancel_rc;
};

static void
progress_cb(struct wrennctl *h, uint64_t id, uint64_t bytes, int64_t total,
    void *userdata)
{
	struct progress_log *pl = userdata;

	pl->n++;
	pl->bytes = bytes;
	pl->total = total;
	if (pl->cancel)
		pl->cancel_rc = wrennctl_cancel(h, id);
}

static void
test_transfer_upload(struct wrennctl *h)
{
	struct progress_log pl;
	char *res = NULL;
	json_t *j, *p;
	int fd, r;

	memset(&pl, 0, sizeof(pl));
	fd = pipe_with("0123456789");
	r = wrennctl_stream_upload(h, "cl-1", "/root/up.txt", fd,
	    WRENNCTL_VERIFY, progress_cb, &pl, &res);
	close(fd);
	j = parse(res);
	p = json_object_get(j, "params");
	ok_int(r, 0, "stream_upload succeeds (%s)",
	    res != NULL ? res : wrennctl_errmsg(h));
	ok_int(jint(j, "size"), 10, "stream_upload: the size");
	ok_str(jstr(j, "data"), "0123456789",
	    "stream_upload sends the fd's bytes");
	ok_int(json_is_true(json_object_get(j, "verified")), 1,
	    "stream_upload: verified");
	ok_str(jstr(p, "sandbox_id"), "cl-1", "stream_upload: sandbox_id");
	ok_str(jstr(p, "path"), "/root/up.txt", "stream_upload: path");
	ok_int(json_is_true(json_object_get(p, "verify")), 1,
	    "stream_upload: verify");
	ok_int(json_object_get(p, "fd") != NULL, 1, "stream_upload: an fd");
	ok_int(jint(json_object_get(p, "fd"), "$fd"), 0,
	    "stream_upload: {\"$fd\":0}");
	ok_int(pl.n, 1, "progress callback: called once");
	ok_int((long long)pl.bytes, 10, "progress callback: bytes");
	ok_int(pl.total, 10, "progress callback: total");
	json_decref(j);
	free(res);
	res = NULL;

	fd = pipe_with("abc");
	r = wrennctl_stream_upload(
	    h, "cl-1", "/bad", fd, WRENNCTL_VERIFY, NULL, NULL, &res);
	close(fd);
	ok_int(r, WRENNCTL_E_INTEGRITY,
	    "a verification mismatch is WRENNCTL_E_INTEGRITY");
	ok_null(res, "a verification mismatch: no result");
	ok_str(wrennctl_err_data_code(h), "integrity",
	    "a verification mismatch: data code");
	ok_strstr(wrennctl_err_json(h), "\"sandbox_sha256\":\"bbbb\"",
	    "a verification mismatch: the data");

	memset(&pl, 0, sizeof(pl));
	pl.cancel = 1;
	fd = pipe_with("held");
	r = wrennctl_stream_upload(
	    h, "cl-1", "/hold", fd, 0, progress_cb, &pl, NULL);
	close(fd);
	ok_int(pl.cancel_rc, 0,
	    "the progress callback can cancel the transfer by id");
	ok_int(r, WRENNCTL_E_CANCELLED, "the cancelled transfer: CANCELLED");
	ok_int(wrennctl_stream_upload(h, "cl-1", "/x", -1, 0, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "upload of fd -1 is INVAL");
	ok_int(
	    wrennctl_stream_upload(h, "cl-1", "/x", 0, 0x80, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "upload with unknown flags is INVAL");
	ok_int(wrennctl_stream_upload(h, NULL, "/x", 0, 0, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "upload without a sandbox is INVAL");
	ok_int(wrennctl_stream_download(h, "cl-1", "", 1, 0, NULL, NULL, NULL),
	    WRENNCTL_E_INVAL, "download of an empty path is INVAL");
}

/* userdata of an async transfer: a reply tag first, then progress. */
struct async_xfer {
	struct tagged t; /* first: log_reply_cb takes a struct tagged * */
	struct progress_log pl;
};

static void
async_progress_cb(struct wrennctl *h, uint64_t id, uint64_t bytes,
    int64_t total, void *userdata)
{
	struct async_xfer *ax = userdata;

	progress_cb(h, id, bytes, total, &ax->pl);
}

static void
test_transfer_download(struct wrennctl *h)
{
	struct reply_log log;
	struct async_xfer ax;
	char *res = NULL, buf[64];
	ssize_t n;
	int p[2], r;
	json_t *j;

	if (pipe(p) < 0)
		return;
	r = wrennctl_stream_download(
	    h, "cl-1", "/root/f", p[1], 0, NULL, NULL, &res);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	j = parse(res);
	ok_int(r, 0, "stream_download succeeds");
	ok_int(jint(j, "size"), 19, "stream_download: the size");
	ok_str(
	    buf, "downloaded content\n", "stream_download writes into the fd");
	json_decref(j);
	free(res);
	res = NULL;
	if (pipe(p) < 0)
		return;
	r = wrennctl_stream_download(
	    h, "cl-1", "/io", p[1], WRENNCTL_VERIFY, NULL, NULL, &res);
	close(p[0]);
	close(p[1]);
	ok_int(r, WRENNCTL_E_IO,
	    "a local write failure in wrennd is WRENNCTL_E_IO");
	ok_str(wrennctl_err_data_code(h), "io_error",
	    "a local write failure: data code");

	memset(&log, 0, sizeof(log));
	memset(&ax, 0, sizeof(ax));
	ax.t.log = &log;
	ax.t.tag = 9;
	if (pipe(p) < 0)
		return;
	r = wrennctl_stream_download_async(h, "cl-1", "/root/f", p[1], 0,
	    async_progress_cb, log_reply_cb, &ax, NULL);
	close(p[1]);
	if (r == 0)
		r = loop_until(h, &log.n, 1, 10000);
	ok_int(r, 0, "stream_download_async: reply through process()");
	ok_int(log.status[0], 0, "stream_download_async: the reply's status");
	ok_int(log.tags[0], 9, "stream_download_async: the reply's userdata");
	ok_int(ax.pl.n, 1, "stream_download_async: progress called once");
	ok_int((long long)ax.pl.bytes, 19,
	    "stream_download_async: progress bytes");
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	ok(n == 19, "and the bytes are in the pipe");
	free_log(&log);
}

static void
test_transfer(void)
{
	struct wrennctl *h;
	struct srv s;
	int before, r;

	h = open_fake_with(&s, HELLO_FDS, 0, &r);
	if (!ok(h != NULL, "open for file transfer"))
		return;
	before = count_fds();
	test_transfer_upload(h);
	test_transfer_download(h);
	ok(count_fds() == before, "transfers leak no descriptor");
	close_fake(&s, h, "transfer");
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
	test_fds_unsupported();
	test_fds_pass();
	test_fds_open_flag();
	test_fds_partial_write();
	test_transfer();
	return done_testing();
}
