/* SPDX-License-Identifier: MIT */
/*
 * File transfer: small files as base64 in the call (sandbox.upload,
 * sandbox.download; admin.upload and admin.download in a platform
 * sandbox, on the routes rest_call_sandbox_path picks), files of any
 * size streamed between a file descriptor the client passed (SCM_RIGHTS)
 * and the control plane's streaming routes (sandbox.stream_upload,
 * sandbox.stream_download), with no buffering in the daemon beyond one
 * chunk. wrennd never opens a local path for a client: holding the fd is
 * the proof of access.
 *
 * The event loop never waits on a peer's descriptor. Pipes and sockets are
 * made non-blocking and polled; anything else (regular files, which may
 * sit on a FUSE mount that never answers, devices) is read or written by
 * one worker thread per transfer, one chunk at a time, while the loop
 * goes on. Every streaming transfer has an overall deadline and a
 * low-speed limit, and their number is capped per peer uid and in total
 * (below the upstream pool size, so short calls always find a
 * connection). The transfers, and the workers still stuck in the kernel
 * after their call ended, are listed in the module's state (wd->files).
 *
 * The control plane cannot signal a failed or short streaming download
 * (200 with an empty or truncated body), so "verify" compares the size and
 * SHA-256 of what crossed wrennd with the file inside the sandbox, by
 * running wc and sha256sum there through the exec route.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api.h"
#include "b64.h"
#include "call.h"
#include "client.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define FILES_UPSTREAM_MAX    104857600LL /* files/write body limit (100 MiB) */
#define FILES_REPLY_SLACK     256  /* reply bytes around the base64 data */
#define FILES_MULTIPART_SLACK 1024 /* bytes of multipart overhead */
#define FILES_PROGRESS_MS     250  /* between progress events */
#define FILES_VERIFY_TIMEOUT  600  /* seconds for wc + sha256sum */
#define FILES_CHUNK	      (256 * 1024) /* bytes per worker read/write */
#define FILES_WORKER_STACK    (128 * 1024) /* worker thread stack bytes */

/* Exit codes of the verification script (besides wc/sha256sum's own). */
#define FILES_VERIFY_IS_DIR  3
#define FILES_VERIFY_MISSING 4

enum files_dir {
	FILES_UP,   /* fd -> sandbox */
	FILES_DOWN, /* sandbox -> fd */
};

/* What the worker thread is asked to do (under its lock). */
enum files_op {
	FILES_OP_NONE,	/* idle: the last op (if any) is done */
	FILES_OP_READ,	/* one read(2) of up to FILES_CHUNK bytes into buf */
	FILES_OP_WRITE, /* write(2) all len bytes of buf */
	FILES_OP_QUIT,	/* exit when the current op (if any) returns */
	FILES_OP__MAX
};

/*
 * Blocking I/O for a descriptor that cannot be polled. The loop hands one
 * op at a time to the thread and learns of its end through the wake pipe;
 * it never waits for the thread. Shared by the loop and the thread: the
 * last of the two to drop its reference frees it, so a thread stuck in the
 * kernel forever keeps only this struct, its stack and the descriptor.
 */
struct files_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;	  /* under lock: the loop's and the thread's */
	enum files_op op; /* under lock */
	int fd;		  /* owned: the client's descriptor */
	int wake[2];	  /* owned pipe: one byte per finished op */
	char *buf;  /* owned, FILES_CHUNK bytes; the thread's during an op */
	size_t len; /* bytes in buf: read, or to write */
	int err;    /* errno of the last op, 0 if it succeeded */
};

/*
 * A streaming transfer's life:
 *
 *   MOVING --download ended, bytes still to write--> FLUSHING
 *   MOVING, FLUSHING --every byte crossed, verify--> VERIFYING
 *   any --answered or the call went away--> ENDED
 *
 * An ENDED transfer stays listed (and counted) only while its worker is
 * stuck in a blocking call; it is destroyed when the worker returns.
 */
enum files_xfer_state {
	FILES_XFER_MOVING,    /* the streaming request runs */
	FILES_XFER_FLUSHING,  /* download: the tail goes to the descriptor */
	FILES_XFER_VERIFYING, /* the check in the sandbox runs */
	FILES_XFER_ENDED,     /* its call is answered or gone */
	FILES_XFER__MAX
};

static const char *const files_xfer_state_names[FILES_XFER__MAX] = {
    "moving", "flushing", "verifying", "ended"};

#define FILES_XFER_TO(s) (1u << (s))
/* Legal transitions: files_xfer_transitions[from] has bit `to` set. */
static const unsigned files_xfer_transitions[FILES_XFER__MAX] = {
    [FILES_XFER_MOVING] = FILES_XFER_TO(FILES_XFER_FLUSHING) |
	FILES_XFER_TO(FILES_XFER_VERIFYING) | FILES_XFER_TO(FILES_XFER_ENDED),
    [FILES_XFER_FLUSHING] =
	FILES_XFER_TO(FILES_XFER_VERIFYING) | FILES_XFER_TO(FILES_XFER_ENDED),
    [FILES_XFER_VERIFYING] = FILES_XFER_TO(FILES_XFER_ENDED),
    [FILES_XFER_ENDED] = 0,
};

/* One streaming transfer (and its optional verification). */
struct files_xfer {
	TAILQ_ENTRY(files_xfer) entry; /* in wd->files until destroyed */
	struct wrennd *wd;	       /* borrowed */
	struct call *call; /* borrowed; NULL once the call is gone */
	enum files_xfer_state state;
	uid_t uid; /* the peer's, for max-peer-transfers */
	enum files_dir dir;
	int fd;			   /* owned (polled descriptors), else -1 */
	struct files_worker *wk;   /* shared with its thread, or NULL */
	struct event *ev_wake;	   /* owned: the worker's answers */
	int wk_busy;		   /* an op is with the thread */
	int wk_eof;		   /* upload: the thread read end of file */
	size_t wk_off;		   /* upload: bytes of wk->buf given to curl */
	struct upstream_req *req;  /* owned while in flight */
	struct event *ev_fd;	   /* owned: polled fd readiness while paused */
	struct event *ev_deadline; /* owned: transfer-timeout */
	struct event *ev_speed;	   /* owned: transfer-low-speed checks */
	long timeout_ms;	   /* transfer-timeout when started */
	long speed;		   /* transfer-low-speed (bytes/s) */
	long speed_ms;		   /* transfer-low-speed-time */
	uint64_t bytes_checked;	   /* bytes at the last low-speed check */
	struct evbuffer *pending;  /* owned: download bytes not yet written */
	EVP_MD_CTX *md;		   /* owned: SHA-256 of the bytes moved */
	uint64_t bytes;		   /* bytes moved */
	int64_t total;		   /* size when known (regular file), else -1 */
	int verify;
	char *sandbox_id; /* owned */
	char *path;	  /* owned */
	int io_errno;	  /* local I/O failure, 0 if none */
	struct timespec last_progress;
	char sha256[65]; /* hex digest once done */
};

TAILQ_HEAD(files_xfer_list, files_xfer);

/* The module's state (wd->files). */
struct api_files {
	struct files_xfer_list xfers; /* owned: transfers, and workers still
				       * stuck after their call */
	unsigned nxfers;
};

/* ---- the worker thread ---- */

/* Drop one reference; the last one frees (from either side). */
static void
files_worker_unref(struct files_worker *w)
{
	int last;

	pthread_mutex_lock(&w->lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	if (w->fd != -1)
		close(w->fd);
	if (w->wake[0] != -1)
		close(w->wake[0]);
	if (w->wake[1] != -1)
		close(w->wake[1]);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->buf);
	free(w);
}

/* Run one op with blocking calls (in the thread, without the lock). */
static void
files_worker_io(struct files_worker *w, enum files_op op)
{
	size_t off = 0;
	ssize_t n;

	w->err = 0;
	if (op == FILES_OP_READ) {
		do
			n = read(w->fd, w->buf, FILES_CHUNK);
		while (n < 0 && errno == EINTR);
		w->len = n > 0 ? (size_t)n : 0;
		w->err = n < 0 ? errno : 0;
		return;
	}
	while (off < w->len) {
		n = write(w->fd, w->buf + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->err = n < 0 ? errno : EIO;
			return;
		}
		off += (size_t)n;
	}
}

static void *
files_worker_main(void *arg)
{
	struct files_worker *w = arg;
	enum files_op op;
	char b = 0;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->op == FILES_OP_NONE)
			pthread_cond_wait(&w->cond, &w->lock);
		op = w->op;
		pthread_mutex_unlock(&w->lock);
		if (op == FILES_OP_QUIT)
			break;
		files_worker_io(w, op);
		pthread_mutex_lock(&w->lock);
		if (w->op != FILES_OP_QUIT)
			w->op = FILES_OP_NONE;
		pthread_mutex_unlock(&w->lock);
		/* One byte per op and one op at a time: the pipe never
		 * fills, and a failed write only loses a wake-up the loop
		 * no longer waits for. */
		(void)!write(w->wake[1], &b, 1);
	}
	files_worker_unref(w);
	return NULL;
}

/* Hand op to the thread (the loop side; the thread must be idle). */
static void
files_worker_submit(struct files_worker *w, enum files_op op)
{
	pthread_mutex_lock(&w->lock);
	w->op = op;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Whether the thread finished its op (the loop side). */
static int
files_worker_idle(struct files_worker *w)
{
	int idle;

	pthread_mutex_lock(&w->lock);
	idle = w->op == FILES_OP_NONE;
	pthread_mutex_unlock(&w->lock);
	return idle;
}

/* Start a worker owning fd; NULL on failure (fd is then still the
 * caller's). Signals stay with the main thread. */
static struct files_worker *
files_worker_new(int fd)
{
	struct files_worker *w;
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int r;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->fd = -1;
	w->wake[0] = w->wake[1] = -1;
	w->refs = 1;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return NULL;
	}
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NULL;
	}
	if ((w->buf = malloc(FILES_CHUNK)) == NULL ||
	    pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		goto fail;
	if (pthread_attr_init(&attr) != 0)
		goto fail;
	(void)pthread_attr_setstacksize(&attr, FILES_WORKER_STACK);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->refs = 2;
	r = pthread_create(&thread, &attr, files_worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		w->refs = 1;
		goto fail;
	}
	w->fd = fd;
	return w;
fail:
	files_worker_unref(w);
	return NULL;
}

/* Tell the thread to exit (now if idle, else after its op) and let go. */
static void
files_worker_quit(struct files_worker *w)
{
	files_worker_submit(w, FILES_OP_QUIT);
	files_worker_unref(w);
}

/* ---- transfer lifetime ---- */

/* Move to state `to`; illegal moves are bugs. */
static void
files_xfer_set_state(struct files_xfer *x, enum files_xfer_state to)
{
	assert(files_xfer_transitions[x->state] & FILES_XFER_TO(to));
	log_debug("transfer %p: %s -> %s", (void *)x,
	    files_xfer_state_names[x->state], files_xfer_state_names[to]);
	x->state = to;
}

/* Remove x from the list and free what is left of it. */
static void
files_xfer_destroy(struct files_xfer *x)
{
	if (x->wk != NULL)
		files_worker_quit(x->wk);
	if (x->ev_wake != NULL)
		event_free(x->ev_wake);
	TAILQ_REMOVE(&x->wd->files->xfers, x, entry);
	x->wd->files->nxfers--;
	free(x);
}

/*
 * End x's part in its call: stop the request, timers and events. A worker
 * stuck in the kernel keeps x listed (its descriptor and thread still
 * count toward the caps) until it answers; then it is destroyed.
 */
static void
files_xfer_free(struct files_xfer *x)
{
	files_xfer_set_state(x, FILES_XFER_ENDED);
	x->call = NULL;
	upstream_req_cancel(x->req);
	x->req = NULL;
	if (x->ev_fd != NULL)
		event_free(x->ev_fd);
	if (x->ev_deadline != NULL)
		event_free(x->ev_deadline);
	if (x->ev_speed != NULL)
		event_free(x->ev_speed);
	x->ev_fd = x->ev_deadline = x->ev_speed = NULL;
	if (x->pending != NULL)
		evbuffer_free(x->pending);
	x->pending = NULL;
	if (x->md != NULL)
		EVP_MD_CTX_free(x->md);
	x->md = NULL;
	if (x->fd != -1)
		close(x->fd);
	x->fd = -1;
	free(x->sandbox_id);
	free(x->path);
	x->sandbox_id = x->path = NULL;
	if (x->wk != NULL && x->wk_busy) {
		log_debug("transfer: the worker is still in a blocking call; "
			  "keeping it counted until it returns");
		return;
	}
	files_xfer_destroy(x);
}

static void
files_xfer_cancel_cb(struct call *call, void *arg)
{
	files_xfer_free(arg);
}

/* Unlink x from its call and free it; returns the call. */
static struct call *
files_xfer_done(struct files_xfer *x)
{
	struct call *call = x->call;

	call_set_cancel(call, NULL, NULL);
	files_xfer_free(x);
	return call;
}

/* Answer with result (built from x before x goes away). */
static void
files_xfer_reply(struct files_xfer *x, json_t *result_steal)
{
	call_reply(files_xfer_done(x), result_steal);
}

/* call_fail for x's call, formatted while x is alive; then free x. */
static void files_xfer_fail(struct files_xfer *x, int rpc_code,
    const char *code, json_t *extra_steal, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void
files_xfer_fail(struct files_xfer *x, int rpc_code, const char *code,
    json_t *extra_steal, const char *fmt, ...)
{
	struct call *call = x->call;
	va_list ap;

	call_set_cancel(call, NULL, NULL);
	va_start(ap, fmt);
	call_vfail(call, rpc_code, code, extra_steal, fmt, ap);
	va_end(ap);
	files_xfer_free(x);
}

/* The passed descriptor failed with err. */
static void
files_xfer_fail_io(struct files_xfer *x, int err)
{
	files_xfer_fail(x, IPC_ERR_APPLICATION, "io_error",
	    json_pack("{s:I}", "bytes", (json_int_t)x->bytes),
	    "%s the passed file descriptor failed after %llu bytes: %s",
	    x->dir == FILES_UP ? "reading" : "writing",
	    (unsigned long long)x->bytes, strerror(err));
}

/* A progress event, at most every FILES_PROGRESS_MS. */
static void
files_xfer_progress(struct files_xfer *x, int force)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - x->last_progress.tv_sec) * 1000 +
	    (now.tv_nsec - x->last_progress.tv_nsec) / 1000000;
	if (!force && ms < FILES_PROGRESS_MS)
		return;
	x->last_progress = now;
	if (x->total >= 0)
		(void)call_event(x->call, "progress",
		    json_pack("{s:I, s:I}", "bytes", (json_int_t)x->bytes,
			"total", (json_int_t)x->total));
	else
		(void)call_event(x->call, "progress",
		    json_pack("{s:I}", "bytes", (json_int_t)x->bytes));
}

static void
files_xfer_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * The transfer's result object. An unverified download of 0 bytes gets a
 * "warning": the control plane answers a missing file exactly like an
 * empty one.
 */
static json_t *
files_xfer_result(const struct files_xfer *x, int verified)
{
	json_t *r;

	r = json_pack("{s:I, s:s, s:b}", "size", (json_int_t)x->bytes, "sha256",
	    x->sha256, "verified", verified);
	if (r != NULL && !verified && x->dir == FILES_DOWN && x->bytes == 0)
		(void)json_object_set_new(r, "warning",
		    json_pack("s++++", "the control plane answered ",
			x->sandbox_id, ":", x->path,
			" with an empty body: the file is empty or does not "
			"exist (use verify to tell them apart)"));
	return r;
}

/* Parse "SIZE\nSHA256  -\n" from the verification command. */
static int
files_xfer_parse_check(const char *out, uint64_t *size, char *sha)
{
	unsigned long long n;
	int used = 0;

	if (sscanf(out, "%llu\n%n", &n, &used) != 1 || used == 0)
		return -1;
	out += used;
	if (strspn(out, "0123456789abcdef") != 64)
		return -1;
	memcpy(sha, out, 64);
	sha[64] = '\0';
	*size = n;
	return 0;
}

/* The verification command could not check the file (exit code code). */
static void
files_xfer_verify_unchecked(
    struct files_xfer *x, json_int_t code, const char *errtext)
{
	size_t n = errtext != NULL ? strlen(errtext) : 0;
	const char *reason;
	json_t *extra;

	reason = code == FILES_VERIFY_IS_DIR ? "is_a_directory"
	    : code == FILES_VERIFY_MISSING   ? "not_found"
					     : "unreadable";
	extra = json_pack("{s:I, s:s, s:s, s:s}", "size", (json_int_t)x->bytes,
	    "sha256", x->sha256, "path", x->path, "reason", reason);
	if (code == FILES_VERIFY_IS_DIR) {
		files_xfer_fail(x, IPC_ERR_APPLICATION, "integrity", extra,
		    "%s:%s is a directory", x->sandbox_id, x->path);
		return;
	}
	if (code == FILES_VERIFY_MISSING) {
		files_xfer_fail(x, IPC_ERR_APPLICATION, "integrity", extra,
		    "%s:%s does not exist", x->sandbox_id, x->path);
		return;
	}
	/* One line: the shell's message without its newline. */
	while (n > 0 && (errtext[n - 1] == '\n' || errtext[n - 1] == ' '))
		n--;
	files_xfer_fail(x, IPC_ERR_APPLICATION, "integrity", extra,
	    "%s:%s cannot be read to verify it%s%.*s", x->sandbox_id, x->path,
	    n > 0 ? ": " : "", (int)(n < 200 ? n : 200),
	    errtext != NULL ? errtext : "");
}

static void
files_xfer_verify_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct files_xfer *x = arg;
	const char *err = NULL, *out, *errtext;
	char sha[65];
	uint64_t size;
	json_t *r, *extra;
	json_int_t code;

	x->req = NULL;
	if (res->outcome != UPSTREAM_OK || res->status != 200) {
		call_fail_upstream(files_xfer_done(x), res);
		return;
	}
	r = call_upstream_json(res, &err);
	out = json_string_value(json_object_get(r, "stdout"));
	errtext = json_string_value(json_object_get(r, "stderr"));
	code = json_integer_value(json_object_get(r, "exit_code"));
	if (r == NULL || out == NULL) {
		json_decref(r);
		files_xfer_fail(x, IPC_ERR_APPLICATION, "upstream_protocol",
		    NULL, "unexpected answer to the verification command");
		return;
	}
	if (code != 0 || files_xfer_parse_check(out, &size, sha) != 0) {
		files_xfer_verify_unchecked(x, code, errtext);
		json_decref(r);
		return;
	}
	json_decref(r);
	if (size != x->bytes || strcmp(sha, x->sha256) != 0) {
		extra = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}", "size",
		    (json_int_t)x->bytes, "sha256", x->sha256, "sandbox_size",
		    (json_int_t)size, "sandbox_sha256", sha, "path", x->path,
		    "reason", "mismatch");
		files_xfer_fail(x, IPC_ERR_APPLICATION, "integrity", extra,
		    "%s of %s:%s does not match: %llu bytes (sha256 %.12s...) "
		    "crossed wrennd, the sandbox has %llu bytes (sha256 "
		    "%.12s...)",
		    x->dir == FILES_UP ? "upload" : "download", x->sandbox_id,
		    x->path, (unsigned long long)x->bytes, x->sha256,
		    (unsigned long long)size, sha);
		return;
	}
	files_xfer_reply(x, files_xfer_result(x, 1));
}

/* Ask the sandbox for the size and SHA-256 of x->path. */
static void
files_xfer_verify(struct files_xfer *x)
{
	struct call *call = x->call;
	json_t *body;
	char *path;

	/* The bytes have moved: the verification has its own deadline. */
	files_xfer_set_state(x, FILES_XFER_VERIFYING);
	event_del(x->ev_deadline);
	event_del(x->ev_speed);
	/* "$1" is the path as the file routes see it: relative to the
	 * sandbox's home, with ~ expanded. A directory or a missing file
	 * gets its own exit code, so the message can say which. */
	body = json_pack("{s:s, s:[s,s,s,s], s:i}", "cmd", "/bin/sh", "args",
	    "-c",
	    "p=$1; case $p in \"~\"|/root) p=$HOME ;;"
	    " \"~/\"*) p=$HOME/${p#\"~/\"} ;; /root/*) p=$HOME/${p#/root/} ;;"
	    " esac; if [ -d \"$p\" ]; then exit 3; fi;"
	    " if [ ! -e \"$p\" ]; then exit 4; fi;"
	    " wc -c < \"$p\" && sha256sum < \"$p\"",
	    "wrennd-verify", x->path, "timeout_sec", FILES_VERIFY_TIMEOUT);
	path = rest_sandbox_path(x->sandbox_id, "/exec");
	if (body == NULL || path == NULL) {
		json_decref(body);
		free(path);
		files_xfer_fail(x, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start the verification");
		return;
	}
	x->req = rest_request(call, "POST", path, body);
	json_decref(body);
	free(path);
	if (x->req != NULL) {
		upstream_req_set_timeout(
		    x->req, (FILES_VERIFY_TIMEOUT + 30) * 1000L);
		if (rest_start(call, x->req, 0, files_xfer_verify_cb, x) == 0)
			return;
	}
	/* The call has been failed; the transfer goes with it. */
	x->req = NULL;
	files_xfer_free(x);
}

/* Every byte has crossed: digest, then verify or answer. */
static void
files_xfer_finish(struct files_xfer *x)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(x->md, d, &n);
	files_xfer_hex(d, n, x->sha256);
	files_xfer_progress(x, 1);
	if (x->verify)
		files_xfer_verify(x);
	else
		files_xfer_reply(x, files_xfer_result(x, 0));
}

/* Download bytes are still on their way to the descriptor. */
static int
files_xfer_writing(const struct files_xfer *x)
{
	return x->wk_busy || evbuffer_get_length(x->pending) > 0;
}

/* The streaming request finished. */
static void
files_xfer_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct files_xfer *x = arg;

	x->req = NULL;
	if (x->io_errno != 0) {
		files_xfer_fail_io(x, x->io_errno);
		return;
	}
	if (res->outcome != UPSTREAM_OK || res->status < 200 ||
	    res->status >= 300) {
		call_fail_upstream(files_xfer_done(x), res);
		return;
	}
	if (x->dir == FILES_DOWN && files_xfer_writing(x)) {
		/* Finish writing the tail first. */
		files_xfer_set_state(x, FILES_XFER_FLUSHING);
		return;
	}
	files_xfer_finish(x);
}

/* Hand the next chunk of pending download bytes to the worker. */
static void
files_worker_write(struct files_xfer *x)
{
	struct files_worker *w = x->wk;

	w->len = (size_t)evbuffer_remove(x->pending, w->buf, FILES_CHUNK);
	x->wk_busy = 1;
	files_worker_submit(w, FILES_OP_WRITE);
}

/* The download's pending bytes are all written: go on or finish. */
static void
files_xfer_written(struct files_xfer *x)
{
	if (x->state == FILES_XFER_FLUSHING)
		files_xfer_finish(x);
	else
		upstream_req_resume(x->req);
}

/* The polled fd became ready: let the paused transfer go on. */
static void
files_xfer_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;
	ssize_t n;

	if (x->dir == FILES_DOWN) {
		n = evbuffer_write(x->pending, x->fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			files_xfer_fail_io(x, errno);
			return;
		}
		if (evbuffer_get_length(x->pending) > 0) {
			if (event_add(x->ev_fd, NULL) != 0)
				files_xfer_fail_io(x, ENOMEM);
			return;
		}
		files_xfer_written(x);
		return;
	}
	upstream_req_resume(x->req);
}

/* The worker finished its op. */
static void
files_xfer_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;
	char b[16];

	while (read(fd, b, sizeof(b)) > 0)
		;
	if (!x->wk_busy || !files_worker_idle(x->wk))
		return;
	x->wk_busy = 0;
	if (x->state == FILES_XFER_ENDED) {
		/* The call ended while the thread was stuck. */
		files_xfer_destroy(x);
		return;
	}
	if (x->wk->err != 0) {
		files_xfer_fail_io(x, x->wk->err);
		return;
	}
	if (x->dir == FILES_UP) {
		x->wk_off = 0;
		x->wk_eof = x->wk->len == 0;
		upstream_req_resume(x->req);
		return;
	}
	if (evbuffer_get_length(x->pending) == 0) {
		files_xfer_written(x);
		return;
	}
	/* Keep the thread writing while curl fetches the next chunk. */
	files_worker_write(x);
	if (x->state == FILES_XFER_MOVING)
		upstream_req_resume(x->req);
}

/* Upload from the worker's buffer; read ahead once it is used up. */
static long
files_worker_read(struct files_xfer *x, char *buf, size_t len)
{
	struct files_worker *w = x->wk;
	size_t n;

	if (x->wk_busy)
		return UPSTREAM_READ_PAUSE;
	if (x->wk_off >= w->len) {
		if (x->wk_eof)
			return 0;
		x->wk_busy = 1;
		files_worker_submit(w, FILES_OP_READ);
		return UPSTREAM_READ_PAUSE;
	}
	n = w->len - x->wk_off < len ? w->len - x->wk_off : len;
	memcpy(buf, w->buf + x->wk_off, n);
	x->wk_off += n;
	if (x->wk_off >= w->len && !x->wk_eof) {
		x->wk_busy = 1;
		files_worker_submit(w, FILES_OP_READ);
	}
	return (long)n;
}

/* Upload: curl wants up to len more bytes of the file part. */
static long
files_xfer_read_cb(struct upstream_req *req, char *buf, size_t len, void *arg)
{
	struct files_xfer *x = arg;
	ssize_t n;

	if (x->wk != NULL)
		n = files_worker_read(x, buf, len);
	else {
		for (;;) {
			n = read(x->fd, buf, len);
			if (n >= 0)
				break;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (event_add(x->ev_fd, NULL) != 0) {
					x->io_errno = ENOMEM;
					return -1;
				}
				return UPSTREAM_READ_PAUSE;
			}
			x->io_errno = errno;
			return -1;
		}
	}
	if (n <= 0)
		return (long)n;
	EVP_DigestUpdate(x->md, buf, (size_t)n);
	x->bytes += (uint64_t)n;
	files_xfer_progress(x, 0);
	return (long)n;
}

/* Download into the worker: queue, keep it busy, pause past a chunk. */
static int
files_worker_data(struct files_xfer *x, const char *buf, size_t len)
{
	if (evbuffer_add(x->pending, buf, len) != 0) {
		x->io_errno = ENOMEM;
		return -1;
	}
	if (!x->wk_busy)
		files_worker_write(x);
	return evbuffer_get_length(x->pending) > 0 ? 1 : 0;
}

/* Download: body bytes arrive; write them to the fd. */
static int
files_xfer_data_cb(
    struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	struct files_xfer *x = arg;
	ssize_t n;
	size_t off = 0;

	EVP_DigestUpdate(x->md, buf, len);
	x->bytes += len;
	files_xfer_progress(x, 0);
	if (x->wk != NULL)
		return files_worker_data(x, buf, len);
	while (off < len) {
		n = write(x->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			x->io_errno = errno;
			return -1;
		}
		off += (size_t)n;
	}
	if (off == len)
		return 0;
	/* Keep the rest (at most one chunk) and pause until writable. */
	if (evbuffer_add(x->pending, buf + off, len - off) != 0 ||
	    event_add(x->ev_fd, NULL) != 0) {
		x->io_errno = ENOMEM;
		return -1;
	}
	return 1;
}

/* transfer-timeout passed. */
static void
files_xfer_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;

	files_xfer_fail(x, IPC_ERR_APPLICATION, "timeout",
	    json_pack("{s:I, s:I}", "bytes", (json_int_t)x->bytes, "timeout_ms",
		(json_int_t)x->timeout_ms),
	    "the transfer did not finish within transfer-timeout (%ld ms) "
	    "after %llu bytes",
	    x->timeout_ms, (unsigned long long)x->bytes);
}

/* Every transfer-low-speed-time: enough bytes moved since the last one? */
static void
files_xfer_speed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;
	uint64_t moved = x->bytes - x->bytes_checked;
	uint64_t need = (uint64_t)x->speed * (uint64_t)x->speed_ms / 1000;

	x->bytes_checked = x->bytes;
	if (moved >= (need > 0 ? need : 1))
		return;
	files_xfer_fail(x, IPC_ERR_APPLICATION, "timeout",
	    json_pack("{s:I, s:I, s:I}", "bytes", (json_int_t)x->bytes,
		"low_speed", (json_int_t)x->speed, "low_speed_time_ms",
		(json_int_t)x->speed_ms),
	    "the transfer moved %llu bytes in the last %ld ms, under "
	    "transfer-low-speed (%ld bytes/s), after %llu bytes",
	    (unsigned long long)moved, x->speed_ms, x->speed,
	    (unsigned long long)x->bytes);
}

/* Arm the deadline and the low-speed check. */
static int
files_xfer_arm(struct files_xfer *x)
{
	struct timeval tv;

	tv.tv_sec = x->timeout_ms / 1000;
	tv.tv_usec = (x->timeout_ms % 1000) * 1000;
	if (event_add(x->ev_deadline, &tv) != 0)
		return -ENOMEM;
	tv.tv_sec = x->speed_ms / 1000;
	tv.tv_usec = (x->speed_ms % 1000) * 1000;
	return event_add(x->ev_speed, &tv) != 0 ? -ENOMEM : 0;
}

/* Whether fd can be polled (pipes and sockets); anything else goes to a
 * worker thread, since poll says "ready" for a regular file even when a
 * read will block (FUSE) and epoll refuses such files. */
static int
files_xfer_pollable(const struct stat *st)
{
	return S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode);
}

/* Shared set-up of both streaming directions. */
static struct files_xfer *
files_xfer_new(struct call *call, enum files_dir dir)
{
	const struct conf *cfg = call_wd(call)->cfg;
	struct event_base *base = call_wd(call)->base;
	struct files_xfer *x;
	struct stat st;
	int flags;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->wd = call_wd(call);
	x->call = call;
	x->uid = client_uid(call_client(call));
	x->dir = dir;
	x->total = -1;
	x->timeout_ms = cfg->transfer_timeout_ms;
	x->speed = cfg->transfer_low_speed;
	x->speed_ms = cfg->transfer_low_speed_time_ms;
	TAILQ_INSERT_TAIL(&x->wd->files->xfers, x, entry);
	x->wd->files->nxfers++;
	x->fd = call_take_fd(call, "fd");
	x->verify = json_is_true(json_object_get(call_params(call), "verify"));
	x->sandbox_id = strdup(json_string_value(
	    json_object_get(call_params(call), "sandbox_id")));
	x->path = strdup(
	    json_string_value(json_object_get(call_params(call), "path")));
	x->md = EVP_MD_CTX_new();
	x->pending = evbuffer_new();
	x->ev_deadline = evtimer_new(base, files_xfer_deadline_cb, x);
	x->ev_speed = event_new(base, -1, EV_PERSIST, files_xfer_speed_cb, x);
	if (x->sandbox_id == NULL || x->path == NULL || x->md == NULL ||
	    x->pending == NULL || x->ev_deadline == NULL ||
	    x->ev_speed == NULL ||
	    EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)
		goto fail;
	if (x->fd == -1 || fstat(x->fd, &st) == -1)
		goto fail;
	if (S_ISREG(st.st_mode) && dir == FILES_UP) {
		off_t pos = lseek(x->fd, 0, SEEK_CUR);

		x->total = st.st_size - (pos > 0 ? pos : 0);
	}
	if (files_xfer_pollable(&st)) {
		flags = fcntl(x->fd, F_GETFL);
		if (flags != -1)
			(void)fcntl(x->fd, F_SETFL, flags | O_NONBLOCK);
		x->ev_fd = event_new(base, x->fd,
		    dir == FILES_UP ? EV_READ : EV_WRITE, files_xfer_fd_cb, x);
		if (x->ev_fd == NULL)
			goto fail;
	} else {
		if ((x->wk = files_worker_new(x->fd)) == NULL)
			goto fail;
		x->fd = -1; /* the worker's now */
		x->ev_wake = event_new(base, x->wk->wake[0],
		    EV_READ | EV_PERSIST, files_xfer_wake_cb, x);
		if (x->ev_wake == NULL || event_add(x->ev_wake, NULL) != 0)
			goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &x->last_progress);
	return x;
fail:
	files_xfer_free(x);
	return NULL;
}

/*
 * Build and start the streaming request. Returns 0, or -1 after the call
 * has been failed (the transfer is then freed by the caller).
 */
static int
files_xfer_start(struct files_xfer *x)
{
	struct call *call = x->call;
	char *path;
	json_t *body = NULL;
	int r;

	if (files_xfer_arm(x) != 0) {
		call_fail_oom(call);
		return -1;
	}
	path = rest_sandbox_path(x->sandbox_id,
	    x->dir == FILES_UP ? "/files/stream/write" : "/files/stream/read");
	if (path != NULL && x->dir == FILES_DOWN)
		body = json_pack("{s:s}", "path", x->path);
	if (path == NULL || (x->dir == FILES_DOWN && body == NULL)) {
		free(path);
		call_fail_oom(call);
		return -1;
	}
	x->req = rest_request(call, "POST", path, body);
	free(path);
	json_decref(body);
	if (x->req == NULL)
		return -1;
	if (x->dir == FILES_UP) {
		/* The control plane needs the path part before the file. */
		r = upstream_req_add_field(x->req, "path", x->path);
		if (r == 0)
			r = upstream_req_add_file_stream(x->req, "file",
			    "upload.bin", files_xfer_read_cb, x);
	} else
		r = upstream_req_set_data_hook(x->req, files_xfer_data_cb, x);
	if (r != 0) {
		upstream_req_cancel(x->req);
		x->req = NULL;
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start the transfer: %s", strerror(-r));
		return -1;
	}
	/* transfer-timeout and transfer-low-speed stand in for the
	 * request deadline: they also see a stalled descriptor. */
	upstream_req_set_timeout(x->req, 0);
	if (rest_start(call, x->req, 0, files_xfer_done_cb, x) != 0) {
		x->req = NULL;
		return -1;
	}
	return 0;
}

unsigned
api_files_active(const struct wrennd *wd)
{
	return wd->files != NULL ? wd->files->nxfers : 0;
}

/*
 * Refuse a transfer past max-peer-transfers for the peer's uid or past
 * the transfer share of the pool (max-transfers, at most one less than
 * max-host-connections). Workers stuck after their call ended count.
 */
static int
files_admit(struct call *call)
{
	const struct conf *cfg = call_wd(call)->cfg;
	const struct api_files *af = call_wd(call)->files;
	uid_t uid = client_uid(call_client(call));
	const struct files_xfer *x;
	long all = cfg->max_transfers, mine = 0;

	if (all > cfg->max_host_connections - 1)
		all = cfg->max_host_connections > 1
		    ? cfg->max_host_connections - 1
		    : 1;
	TAILQ_FOREACH(x, &af->xfers, entry)
		if (x->uid == uid)
			mine++;
	if (mine >= cfg->max_peer_transfers) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_transfers",
		    json_pack("{s:I, s:I}", "active", (json_int_t)mine, "max",
			(json_int_t)cfg->max_peer_transfers),
		    "uid %u already has %ld streaming transfers "
		    "(max-peer-transfers)",
		    (unsigned)uid, mine);
		return -1;
	}
	if ((long)af->nxfers >= all) {
		call_fail(call, IPC_ERR_APPLICATION, "too_many_transfers",
		    json_pack("{s:I, s:I}", "active", (json_int_t)af->nxfers,
			"max", (json_int_t)all),
		    "%u streaming transfers are running, the most the "
		    "upstream pool leaves for them (max-transfers)",
		    af->nxfers);
		return -1;
	}
	return 0;
}

/* sandbox.stream_upload and sandbox.stream_download. */
static void
files_stream(struct call *call, enum files_dir dir)
{
	struct files_xfer *x;

	if (files_admit(call) != 0)
		return;
	if ((x = files_xfer_new(call, dir)) == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'fd' must refer to a passed, open file "
		    "descriptor");
		return;
	}
	call_set_cancel(call, files_xfer_cancel_cb, x);
	if (files_xfer_start(x) != 0)
		files_xfer_free(x); /* the call has been failed */
}

struct api_files *
api_files_new(void)
{
	struct api_files *af;

	if ((af = calloc(1, sizeof(*af))) == NULL)
		return NULL;
	TAILQ_INIT(&af->xfers);
	return af;
}

void
api_files_free(struct api_files *af)
{
	struct files_xfer *x;

	if (af == NULL)
		return;
	/* Only workers stuck in the kernel are left: let them go. */
	while ((x = TAILQ_FIRST(&af->xfers)) != NULL) {
		if (x->state != FILES_XFER_ENDED) {
			call_set_cancel(x->call, NULL, NULL);
			files_xfer_free(x);
			continue;
		}
		files_xfer_destroy(x);
	}
	free(af);
}

static void
api_files_stream_upload(struct call *call)
{
	files_stream(call, FILES_UP);
}

static void
api_files_stream_download(struct call *call)
{
	files_stream(call, FILES_DOWN);
}

/* ---- small files ---- */

/* transfer-timeout and transfer-low-speed for a small-file request (the
 * bytes are in memory: only the control plane sets the pace). */
static void
files_limit(struct call *call, struct upstream_req *req)
{
	const struct conf *cfg = call_wd(call)->cfg;

	upstream_req_set_timeout(req, cfg->transfer_timeout_ms);
	upstream_req_set_low_speed(
	    req, cfg->transfer_low_speed, cfg->transfer_low_speed_time_ms);
}

static void
files_upload_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;

	if (rest_done(call, res) == 0)
		call_reply(call, json_object());
}

static void
api_files_upload(struct call *call)
{
	struct upstream_req *req;
	json_t *data;
	unsigned char *bytes;
	char *path;
	size_t n;

	data = json_object_get(call_params(call), "data");
	bytes =
	    b64_decode(json_string_value(data), json_string_length(data), &n);
	if (bytes == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'data' must be standard base64 with padding");
		return;
	}
	if ((long long)n + FILES_MULTIPART_SLACK > FILES_UPSTREAM_MAX) {
		free(bytes);
		call_fail(call, IPC_ERR_APPLICATION, "too_large",
		    json_pack("{s:I, s:I}", "size", (json_int_t)n, "max",
			(json_int_t)(FILES_UPSTREAM_MAX -
			    FILES_MULTIPART_SLACK)),
		    "%zu bytes is over the control plane's 100 MiB limit for "
		    "files/write; use sandbox.stream_upload",
		    n);
		return;
	}
	path = rest_call_sandbox_path(call,
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    "/files/write");
	if (path == NULL) {
		free(bytes);
		call_fail_oom(call);
		return;
	}
	req = rest_request(call, "POST", path, NULL);
	free(path);
	if (req == NULL) {
		free(bytes);
		return;
	}
	if (upstream_req_add_field(req, "path",
		json_string_value(
		    json_object_get(call_params(call), "path"))) != 0 ||
	    upstream_req_add_file(req, "file", "upload", bytes, n) != 0) {
		free(bytes);
		upstream_req_cancel(req);
		call_fail_oom(call);
		return;
	}
	free(bytes);
	files_limit(call, req);
	(void)rest_start(call, req, REST_CANCEL, files_upload_cb, call);
}

/* Largest file whose sandbox.download reply fits max-reply and 100 MiB. */
static long long
files_download_max(const struct call *call)
{
	long long n =
	    (call_wd(call)->cfg->max_reply - FILES_REPLY_SLACK) / 4 * 3;

	return n < FILES_UPSTREAM_MAX ? n : FILES_UPSTREAM_MAX;
}

static void
files_download_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	long long max = files_download_max(call);
	char *b64;
	size_t n;

	if (res->outcome == UPSTREAM_TOO_LARGE) {
		call_set_cancel(call, NULL, NULL);
		call_fail(call, IPC_ERR_APPLICATION, "too_large",
		    json_pack("{s:I}", "max", (json_int_t)max),
		    "the file is over the %lld bytes a sandbox.download reply "
		    "carries (max-reply); use sandbox.stream_download",
		    max);
		return;
	}
	if (rest_done(call, res) != 0)
		return;
	if (res->body_len > (size_t)FILES_UPSTREAM_MAX) {
		call_fail(call, IPC_ERR_APPLICATION, "too_large", NULL,
		    "file is over 100 MiB; use sandbox.stream_download");
		return;
	}
	if ((b64 = b64_encode(res->body, res->body_len, &n)) == NULL) {
		call_fail_oom(call);
		return;
	}
	call_reply(call,
	    json_pack("{s:s%, s:I}", "data", b64, n, "size",
		(json_int_t)res->body_len));
	free(b64);
}

static void
api_files_download(struct call *call)
{
	struct upstream_req *req;
	json_t *body;
	char *path;

	body = json_pack(
	    "{s:O}", "path", json_object_get(call_params(call), "path"));
	path = rest_call_sandbox_path(call,
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    "/files/read");
	if (body == NULL || path == NULL) {
		json_decref(body);
		free(path);
		call_fail_oom(call);
		return;
	}
	req = rest_request(call, "POST", path, body);
	json_decref(body);
	free(path);
	if (req == NULL)
		return;
	files_limit(call, req);
	/* Stop the transfer as soon as its reply cannot be sent. */
	upstream_req_set_max_response(req, (size_t)files_download_max(call));
	(void)rest_start(call, req, REST_CANCEL, files_download_cb, call);
}

/* This file's method rows (methods.h), listed by methods.c. */

#define P_FILE_PATH                                                            \
	{                                                                      \
		.name = "path", .type = METHODS_T_STRING,                      \
		.in = METHODS_IN_LOCAL,                                        \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "path in the sandbox (relative to the home directory, " \
		       "/root)"                                                \
	}

static const struct methods_param p_upload[] = {
    METHODS_P_SANDBOX_ID,
    P_FILE_PATH,
    {.name = "data",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.doc = "file content, standard base64"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_download[] = {
    METHODS_P_SANDBOX_ID,
    P_FILE_PATH,
    METHODS_PARAMS_END,
};

static const struct methods_param p_stream_file[] = {
    METHODS_P_SANDBOX_ID,
    P_FILE_PATH,
    {.name = "fd",
	.type = METHODS_T_FD,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.doc = "{\"$fd\": n}: a file, pipe or socket passed with SCM_RIGHTS"},
    {.name = "verify",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "check size and SHA-256 against the file in the sandbox"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_files_rows[] = {
    {
	.name = "sandbox.upload",
	.summary = "write a small file (base64, < 100 MiB)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/files/write",
	.result = METHODS_RES_EMPTY,
	.params = p_upload,
	.handler = api_files_upload,
    },
    {
	.name = "sandbox.download",
	.summary = "read a small file (base64)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/files/read",
	.result = METHODS_RES_LOCAL,
	.params = p_download,
	.handler = api_files_download,
    },
    {
	.name = "admin.upload",
	.summary = "write a small file in a platform sandbox, as "
		   "sandbox.upload",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.path = "/v1/admin/capsules/{sandbox_id}/files/write",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_upload,
	.handler = api_files_upload,
    },
    {
	.name = "admin.download",
	.summary = "read a small file in a platform sandbox, as "
		   "sandbox.download",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.path = "/v1/admin/capsules/{sandbox_id}/files/read",
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_download,
	.handler = api_files_download,
    },
    {
	.name = "sandbox.stream_upload",
	.summary = "stream a passed fd into a sandbox file (any size)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/files/stream/write",
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM,
	.params = p_stream_file,
	.handler = api_files_stream_upload,
    },
    {
	.name = "sandbox.stream_download",
	.summary = "stream a sandbox file into a passed fd (any size)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.path = "/v1/sandboxes/{sandbox_id}/files/stream/read",
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM,
	.params = p_stream_file,
	.handler = api_files_stream_download,
    },
};

const struct api_table api_files_methods = API_TABLE(api_files_rows);
