/* SPDX-License-Identifier: MIT */
/*
 * File transfer: small files as base64 in the call (sandbox.upload,
 * sandbox.download), files of any size streamed between a file descriptor
 * the client passed (SCM_RIGHTS) and the control plane's streaming routes
 * (sandbox.stream_upload, sandbox.stream_download), with no buffering in
 * the daemon beyond one chunk. wrennd never opens a local path for a
 * client: holding the fd is the proof of access.
 *
 * The control plane cannot signal a failed or short streaming download
 * (200 with an empty or truncated body), so "verify" compares the size and
 * SHA-256 of what crossed wrennd with the file inside the sandbox, by
 * running wc and sha256sum there through the exec route.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "call.h"
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

enum xfer_dir {
	XFER_UP,   /* fd -> sandbox */
	XFER_DOWN, /* sandbox -> fd */
};

/* One streaming transfer (and its optional verification). */
struct xfer {
	struct call *call; /* borrowed */
	enum xfer_dir dir;
	int fd;			  /* owned */
	int fd_file;		  /* fd is a regular file (blocking I/O) */
	struct upstream_req *req; /* owned while in flight */
	struct event *ev_fd;	  /* owned: fd readiness while paused */
	struct evbuffer *pending; /* owned: download bytes not yet written */
	EVP_MD_CTX *md;		  /* owned: SHA-256 of the bytes moved */
	uint64_t bytes;		  /* bytes moved */
	int64_t total;		  /* size when known (regular file), else -1 */
	int verify;
	char *sandbox_id; /* owned */
	char *path;	  /* owned */
	int io_errno;	  /* local I/O failure, 0 if none */
	struct timespec last_progress;
	char sha256[65]; /* hex digest once done */
};

static void
xfer_free(struct xfer *x)
{
	upstream_req_cancel(x->req);
	if (x->ev_fd != NULL)
		event_free(x->ev_fd);
	if (x->pending != NULL)
		evbuffer_free(x->pending);
	if (x->md != NULL)
		EVP_MD_CTX_free(x->md);
	if (x->fd != -1)
		close(x->fd);
	free(x->sandbox_id);
	free(x->path);
	free(x);
}

static void
xfer_cancel_cb(struct call *call, void *arg)
{
	xfer_free(arg);
}

/* Unlink x from its call and free it; returns the call. */
static struct call *
xfer_done(struct xfer *x)
{
	struct call *call = x->call;

	call_set_cancel(call, NULL, NULL);
	x->req = NULL; /* freed by upstream after the callback */
	xfer_free(x);
	return call;
}

/* Answer with result (built from x before x goes away). */
static void
xfer_reply(struct xfer *x, json_t *result_steal)
{
	call_reply(xfer_done(x), result_steal);
}

/* Fail the call; the message is formatted while x is still alive. */
static void xfer_fail(struct xfer *x, const char *code, json_t *extra_steal,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void
xfer_fail(
    struct xfer *x, const char *code, json_t *extra_steal, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call_fail(xfer_done(x),
	    strcmp(code, "internal") == 0 ? IPC_ERR_INTERNAL
					  : IPC_ERR_APPLICATION,
	    code, extra_steal, "%s", msg);
}

/* A progress event, at most every FILES_PROGRESS_MS. */
static void
xfer_progress(struct xfer *x, int force)
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
xfer_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The transfer's result object. */
static json_t *
xfer_result(const struct xfer *x, int verified)
{
	return json_pack("{s:I, s:s, s:b}", "size", (json_int_t)x->bytes,
	    "sha256", x->sha256, "verified", verified);
}

/* Parse "SIZE\nSHA256  -\n" from the verification command. */
static int
xfer_parse_check(const char *out, uint64_t *size, char *sha)
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

static void
xfer_verify_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct xfer *x = arg;
	const char *err = NULL, *out, *errtext;
	char sha[65];
	uint64_t size;
	json_t *r, *extra;
	json_int_t code;

	x->req = NULL;
	if (res->outcome != UPSTREAM_OK || res->status != 200) {
		call_fail_upstream(xfer_done(x), res);
		return;
	}
	r = call_upstream_json(res, &err);
	out = json_string_value(json_object_get(r, "stdout"));
	errtext = json_string_value(json_object_get(r, "stderr"));
	code = json_integer_value(json_object_get(r, "exit_code"));
	if (r == NULL || out == NULL) {
		json_decref(r);
		xfer_fail(x, "upstream_protocol", NULL,
		    "unexpected answer to the verification command");
		return;
	}
	if (code != 0 || xfer_parse_check(out, &size, sha) != 0) {
		char why[201];
		size_t n = errtext != NULL ? strlen(errtext) : 0;

		/* One line: the shell's message without its newline. */
		while (
		    n > 0 && (errtext[n - 1] == '\n' || errtext[n - 1] == ' '))
			n--;
		snprintf(why, sizeof(why), "%.*s", (int)(n < 200 ? n : 200),
		    errtext != NULL ? errtext : "");
		extra = json_pack("{s:I, s:s, s:s}", "size",
		    (json_int_t)x->bytes, "sha256", x->sha256, "path", x->path);
		xfer_fail(x, "integrity", extra,
		    "cannot verify '%s' in the sandbox (the file is missing "
		    "or unreadable): %s",
		    x->path, why);
		json_decref(r);
		return;
	}
	json_decref(r);
	if (size != x->bytes || strcmp(sha, x->sha256) != 0) {
		extra = json_pack("{s:I, s:s, s:I, s:s, s:s}", "size",
		    (json_int_t)x->bytes, "sha256", x->sha256, "sandbox_size",
		    (json_int_t)size, "sandbox_sha256", sha, "path", x->path);
		xfer_fail(x, "integrity", extra,
		    "%s of '%s' does not match: %llu bytes (sha256 %.12s...) "
		    "crossed wrennd, the sandbox has %llu bytes (sha256 "
		    "%.12s...)",
		    x->dir == XFER_UP ? "upload" : "download", x->path,
		    (unsigned long long)x->bytes, x->sha256,
		    (unsigned long long)size, sha);
		return;
	}
	xfer_reply(x, xfer_result(x, 1));
}

/* Ask the sandbox for the size and SHA-256 of x->path. */
static void
xfer_verify(struct xfer *x)
{
	struct call *call = x->call;
	json_t *body;
	char *path;

	/* "$1" is the path as the file routes see it: relative to the
	 * sandbox's home, with ~ expanded. */
	body = json_pack("{s:s, s:[s,s,s,s], s:i}", "cmd", "/bin/sh", "args",
	    "-c",
	    "p=$1; case $p in \"~\"|/root) p=$HOME ;;"
	    " \"~/\"*) p=$HOME/${p#\"~/\"} ;; /root/*) p=$HOME/${p#/root/} ;;"
	    " esac; wc -c < \"$p\" && sha256sum < \"$p\"",
	    "wrennd-verify", x->path, "timeout_sec", FILES_VERIFY_TIMEOUT);
	path = rest_sandbox_path(x->sandbox_id, "/exec");
	if (body == NULL || path == NULL) {
		json_decref(body);
		free(path);
		xfer_fail(x, "internal", NULL, "cannot start the verification");
		return;
	}
	x->req = rest_request(call, "POST", path, body);
	json_decref(body);
	free(path);
	if (x->req != NULL) {
		upstream_req_set_timeout(
		    x->req, (FILES_VERIFY_TIMEOUT + 30) * 1000L);
		if (rest_start(call, x->req, 0, xfer_verify_cb, x) == 0)
			return;
	}
	/* The call has been failed; the transfer goes with it. */
	x->req = NULL;
	xfer_free(x);
}

/* The streaming request finished. */
static void
xfer_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct xfer *x = arg;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	x->req = NULL;
	if (x->io_errno != 0) {
		xfer_fail(x, "io_error",
		    json_pack("{s:I}", "bytes", (json_int_t)x->bytes),
		    "%s the passed file descriptor failed after %llu bytes: "
		    "%s",
		    x->dir == XFER_UP ? "reading" : "writing",
		    (unsigned long long)x->bytes, strerror(x->io_errno));
		return;
	}
	if (res->outcome != UPSTREAM_OK || res->status < 200 ||
	    res->status >= 300) {
		call_fail_upstream(xfer_done(x), res);
		return;
	}
	if (x->dir == XFER_DOWN && evbuffer_get_length(x->pending) > 0) {
		/* Finish writing the tail first (pipes and sockets). */
		x->req = NULL;
		return;
	}
	EVP_DigestFinal_ex(x->md, d, &n);
	xfer_hex(d, n, x->sha256);
	xfer_progress(x, 1);
	if (x->verify)
		xfer_verify(x);
	else
		xfer_reply(x, xfer_result(x, 0));
}

/* The fd became ready: let the paused transfer go on. */
static void
xfer_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	ssize_t n;

	if (x->dir == XFER_DOWN) {
		n = evbuffer_write(x->pending, x->fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			x->io_errno = errno;
			upstream_req_cancel(x->req);
			x->req = NULL;
			xfer_fail(x, "io_error",
			    json_pack("{s:I}", "bytes", (json_int_t)x->bytes),
			    "writing the passed file descriptor failed: %s",
			    strerror(errno));
			return;
		}
		if (evbuffer_get_length(x->pending) > 0) {
			event_add(x->ev_fd, NULL);
			return;
		}
		if (x->req == NULL) {
			/* The body had ended while we were flushing. */
			unsigned char d[EVP_MAX_MD_SIZE];
			unsigned len = 0;

			EVP_DigestFinal_ex(x->md, d, &len);
			xfer_hex(d, len, x->sha256);
			xfer_progress(x, 1);
			if (x->verify)
				xfer_verify(x);
			else
				xfer_reply(x, xfer_result(x, 0));
			return;
		}
	}
	upstream_req_resume(x->req);
}

/* Upload: curl wants up to len more bytes of the file part. */
static long
xfer_read_cb(struct upstream_req *req, char *buf, size_t len, void *arg)
{
	struct xfer *x = arg;
	ssize_t n;

	for (;;) {
		n = read(x->fd, buf, len);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			event_add(x->ev_fd, NULL);
			return UPSTREAM_READ_PAUSE;
		}
		x->io_errno = errno;
		return -1;
	}
	EVP_DigestUpdate(x->md, buf, (size_t)n);
	x->bytes += (uint64_t)n;
	xfer_progress(x, 0);
	return (long)n;
}

/* Download: body bytes arrive; write them to the fd. */
static int
xfer_data_cb(struct upstream_req *req, const char *buf, size_t len, void *arg)
{
	struct xfer *x = arg;
	ssize_t n;
	size_t off = 0;

	EVP_DigestUpdate(x->md, buf, len);
	x->bytes += len;
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
	xfer_progress(x, 0);
	if (off == len)
		return 0;
	/* Keep the rest (at most one chunk) and pause until writable. */
	if (evbuffer_add(x->pending, buf + off, len - off) != 0) {
		x->io_errno = ENOMEM;
		return -1;
	}
	event_add(x->ev_fd, NULL);
	return 1;
}

/* Shared set-up of both streaming directions. */
static struct xfer *
xfer_new(struct call *call, enum xfer_dir dir)
{
	struct xfer *x;
	struct stat st;
	int flags;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->call = call;
	x->dir = dir;
	x->total = -1;
	x->fd = call_take_fd(call, "fd");
	x->verify = json_is_true(json_object_get(call_params(call), "verify"));
	x->sandbox_id = strdup(json_string_value(
	    json_object_get(call_params(call), "sandbox_id")));
	x->path = strdup(
	    json_string_value(json_object_get(call_params(call), "path")));
	x->md = EVP_MD_CTX_new();
	x->pending = evbuffer_new();
	if (x->sandbox_id == NULL || x->path == NULL || x->md == NULL ||
	    x->pending == NULL ||
	    EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)
		goto fail;
	if (x->fd == -1 || fstat(x->fd, &st) == -1)
		goto fail;
	x->fd_file = S_ISREG(st.st_mode);
	if (x->fd_file && dir == XFER_UP) {
		off_t pos = lseek(x->fd, 0, SEEK_CUR);

		x->total = st.st_size - (pos > 0 ? pos : 0);
	}
	if (!x->fd_file) {
		/* Pipes and sockets are polled; files are read directly. */
		flags = fcntl(x->fd, F_GETFL);
		if (flags != -1)
			(void)fcntl(x->fd, F_SETFL, flags | O_NONBLOCK);
		x->ev_fd = event_new(call_wd(call)->base, x->fd,
		    dir == XFER_UP ? EV_READ : EV_WRITE, xfer_fd_cb, x);
		if (x->ev_fd == NULL)
			goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &x->last_progress);
	return x;
fail:
	xfer_free(x);
	return NULL;
}

/* Build the streaming request for x. */
/*
 * Build and start the streaming request. Returns 0, or -1 after the call
 * has been failed (the transfer is then freed by the caller).
 */
static int
xfer_start(struct xfer *x)
{
	struct call *call = x->call;
	char *path;
	json_t *body = NULL;
	int r;

	path = rest_sandbox_path(x->sandbox_id,
	    x->dir == XFER_UP ? "/files/stream/write" : "/files/stream/read");
	if (path != NULL && x->dir == XFER_DOWN)
		body = json_pack("{s:s}", "path", x->path);
	if (path == NULL || (x->dir == XFER_DOWN && body == NULL)) {
		free(path);
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return -1;
	}
	x->req = rest_request(call, "POST", path, body);
	free(path);
	json_decref(body);
	if (x->req == NULL)
		return -1;
	if (x->dir == XFER_UP) {
		/* The control plane needs the path part before the file. */
		r = upstream_req_add_field(x->req, "path", x->path);
		if (r == 0)
			r = upstream_req_add_file_stream(
			    x->req, "file", "upload.bin", xfer_read_cb, x);
	} else
		r = upstream_req_set_data_hook(x->req, xfer_data_cb, x);
	if (r != 0) {
		upstream_req_cancel(x->req);
		x->req = NULL;
		call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
		    "cannot start the transfer: %s", strerror(-r));
		return -1;
	}
	upstream_req_set_timeout(x->req, 0);
	if (rest_start(call, x->req, 0, xfer_done_cb, x) != 0) {
		x->req = NULL;
		return -1;
	}
	return 0;
}

/* sandbox.stream_upload and sandbox.stream_download. */
static void
files_stream(struct call *call, enum xfer_dir dir)
{
	struct xfer *x;

	if ((x = xfer_new(call, dir)) == NULL) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'fd' must refer to a passed, open file "
		    "descriptor");
		return;
	}
	call_set_cancel(call, xfer_cancel_cb, x);
	if (xfer_start(x) != 0)
		xfer_free(x); /* the call has been failed */
}

void
api_files_stream_upload(struct call *call)
{
	files_stream(call, XFER_UP);
}

void
api_files_stream_download(struct call *call)
{
	files_stream(call, XFER_DOWN);
}

/* ---- small files ---- */

static void
files_upload_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;

	if (rest_done(call, res) == 0)
		call_reply(call, json_object());
}

/* Decode standard base64 (padding required, no whitespace). */
static unsigned char *
files_b64decode(const char *s, size_t len, size_t *ret_len)
{
	unsigned char *out;
	size_t pad = 0;
	int n;

	if (len % 4 != 0)
		return NULL;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	if (strspn(s,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/") != len - pad)
		return NULL;
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	n = len == 0 ? 0
		     : EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	*ret_len = (size_t)n - pad;
	return out;
}

void
api_files_upload(struct call *call)
{
	struct upstream_req *req;
	json_t *data;
	unsigned char *bytes;
	char *path;
	size_t n;

	data = json_object_get(call_params(call), "data");
	bytes = files_b64decode(
	    json_string_value(data), json_string_length(data), &n);
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
	path = rest_sandbox_path(
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    "/files/write");
	if (path == NULL) {
		free(bytes);
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
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
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return;
	}
	free(bytes);
	upstream_req_set_timeout(req, 0);
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
	int n;

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
	if ((b64 = malloc(res->body_len / 3 * 4 + 8)) == NULL) {
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return;
	}
	n = EVP_EncodeBlock((unsigned char *)b64,
	    (const unsigned char *)res->body, (int)res->body_len);
	call_reply(call,
	    json_pack("{s:s%, s:I}", "data", b64, (size_t)n, "size",
		(json_int_t)res->body_len));
	free(b64);
}

void
api_files_download(struct call *call)
{
	struct upstream_req *req;
	json_t *body;
	char *path;

	body = json_pack(
	    "{s:O}", "path", json_object_get(call_params(call), "path"));
	path = rest_sandbox_path(
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    "/files/read");
	if (body == NULL || path == NULL) {
		json_decref(body);
		free(path);
		call_fail(
		    call, IPC_ERR_INTERNAL, "internal", NULL, "out of memory");
		return;
	}
	req = rest_request(call, "POST", path, body);
	json_decref(body);
	free(path);
	if (req == NULL)
		return;
	upstream_req_set_timeout(req, 0);
	/* Stop the transfer as soon as its reply cannot be sent. */
	upstream_req_set_max_response(req, (size_t)files_download_max(call));
	(void)rest_start(call, req, REST_CANCEL, files_download_cb, call);
}
