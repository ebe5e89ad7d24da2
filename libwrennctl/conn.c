/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl connection: the handle's life cycle, non-blocking I/O with
 * an input and an output buffer, line framing and decoding, the event-loop
 * entry points (get_fd, get_events, process, wait) and the blocking loop
 * the synchronous calls run on. Decoded messages and the close go to the
 * handle's struct ctl_conn_ops (the call layer), so this module includes
 * nothing above it.
 * Owns: the socket fd, both buffers, the handle itself.
 * Called by: applications; open.c, call.c and hello.c.
 *
 * States: GREETING -> READY -> CLOSED, or GREETING -> CLOSED. Once CLOSED
 * (peer hung up, I/O error, protocol violation) the socket is shut down but
 * kept open until wrennctl_free(), so an event loop never watches a
 * recycled fd number; every call in flight has completed with the reason.
 *
 * File descriptors go out with SCM_RIGHTS on the sendmsg() that carries the
 * first byte of their request line, and that sendmsg() carries nothing of
 * any other line. A partial write sends the rest of the line without them.
 * wrennd ties received fds to the line holding the first byte of the
 * recvmsg() chunk they came with, and the kernel glues earlier unread bytes
 * into that chunk, so a line with fds is only started once wrennd has read
 * everything before it (SIOCOUTQ is 0): the "barrier".
 */
#include "config.h"

#include "wrennctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <jansson.h>

#include "ctl-conn.h"
#include "ctl.h"
#include "ctl-error.h"
#include "ipc.h"

/* Milliseconds on the monotonic clock. */
static uint64_t
ctl_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Absolute deadline for a relative timeout; 0 means none. */
uint64_t
ctl_deadline(uint64_t timeout_ms)
{
	uint64_t now;

	if (timeout_ms == 0 || timeout_ms == CTL_NO_DEADLINE)
		return CTL_NO_DEADLINE;
	now = ctl_now_ms();
	if (timeout_ms > CTL_NO_DEADLINE - now)
		return CTL_NO_DEADLINE;
	return now + timeout_ms;
}

/*
 * Common entry of the public functions taking a handle: checks it and
 * clears the last error. Blocking or dispatching functions are refused
 * inside callbacks (in_callback_ok = 0) because they would re-enter the
 * dispatch loop.
 */
int
ctl_api_enter(struct wrennctl *h, int in_callback_ok)
{
	if (h == NULL)
		return WRENNCTL_E_INVAL;
	if (h->free_requested)
		return ctl_fail(h, WRENNCTL_E_INVAL, "handle is being freed");
	if (h->dispatching > 0 && !in_callback_ok)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "this function cannot be called from a callback");
	ctl_error_clear(&h->err);
	return 0;
}

/* The failure recorded when the connection closed, as h's last error. */
int
ctl_closed_error(struct wrennctl *h)
{
	if (ctl_error_copy(&h->err, &h->close_err) < 0)
		h->err.code = h->close_err.code;
	return h->close_err.code;
}

/* Close a mark's duplicates and free it. */
static void
ctl_mark_free(struct ctl_fdmark *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		(void)close(m->fds[i]);
	free(m);
}

/* Drop the fd marks of queued lines, closing their duplicates. */
static void
ctl_marks_clear(struct wrennctl *h)
{
	struct ctl_fdmark *m;

	while ((m = h->marks) != NULL) {
		h->marks = m->next;
		ctl_mark_free(m);
	}
	h->marks_tail = &h->marks;
}

/* Release everything; callbacks of calls in flight see CANCELLED. */
void
ctl_conn_destroy(struct wrennctl *h)
{
	struct ctl_error why;

	memset(&why, 0, sizeof(why));
	h->dispatching++;
	h->state = CTL_STATE_CLOSED;
	(void)ctl_error_local(
	    &why, WRENNCTL_E_CANCELLED, "connection closed by wrennctl_free()");
	h->ops->closed(h, &why);
	ctl_error_clear(&why);
	if (h->fd >= 0)
		(void)close(h->fd);
	ctl_marks_clear(h);
	free(h->in);
	free(h->out);
	json_decref(h->hello);
	free(h->hello_text);
	ctl_error_clear(&h->err);
	ctl_error_clear(&h->close_err);
	free(h);
}

/*
 * Common exit of the public functions that dispatch: performs a
 * wrennctl_free() that a callback asked for. Returns r.
 */
int
ctl_api_leave(struct wrennctl *h, int r)
{
	if (h->free_requested && h->dispatching == 0)
		ctl_conn_destroy(h);
	return r;
}

struct wrennctl *
wrennctl_free(struct wrennctl *h)
{
	if (h == NULL)
		return NULL;
	if (h->dispatching > 0) {
		h->free_requested = 1;
		return NULL;
	}
	ctl_conn_destroy(h);
	return NULL;
}

/* Move to state CLOSED with the reason in why (taken over). */
void
ctl_close_with(struct wrennctl *h, struct ctl_error *why)
{
	if (h->state == CTL_STATE_CLOSED) {
		ctl_error_clear(why);
		return;
	}
	h->state = CTL_STATE_CLOSED;
	ctl_error_move(&h->close_err, why);
	/* The server sees EOF and cancels whatever we still had running. */
	(void)shutdown(h->fd, SHUT_RDWR);
	h->out_off = h->out_len = 0;
	h->in_off = h->in_len = h->in_scan = 0;
	ctl_marks_clear(h);
	h->barrier = 0;
	h->ops->closed(h, &h->close_err);
}

/* Close the connection for a local reason: code and message. */
void
ctl_close(struct wrennctl *h, int code, const char *fmt, ...)
{
	struct ctl_error why;
	char buf[256];
	va_list ap;

	if (h->state == CTL_STATE_CLOSED)
		return;
	memset(&why, 0, sizeof(why));
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)ctl_error_local(&why, code, "%s", buf);
	ctl_close_with(h, &why);
}

/* Append bytes to the output buffer. */
static int
ctl_out_append(struct wrennctl *h, const char *buf, size_t len)
{
	size_t need, size;
	char *p;

	if (h->out_off > 0 && h->out_off == h->out_len)
		h->out_off = h->out_len = 0;
	if (h->out_off > 0 && h->out_size - h->out_len < len) {
		memmove(h->out, h->out + h->out_off, h->out_len - h->out_off);
		h->out_len -= h->out_off;
		h->out_off = 0;
	}
	need = h->out_len + len;
	if (need < len)
		return WRENNCTL_E_NOMEM;
	if (need > h->out_size) {
		size = h->out_size != 0 ? h->out_size : 4096;
		while (size < need) {
			if (size > SIZE_MAX / 2)
				return WRENNCTL_E_NOMEM;
			size *= 2;
		}
		if ((p = realloc(h->out, size)) == NULL)
			return WRENNCTL_E_NOMEM;
		h->out = p;
		h->out_size = size;
	}
	memcpy(h->out + h->out_len, buf, len);
	h->out_len += len;
	h->out_total += len;
	return 0;
}

/* Encode msg (borrowed) as one line and queue it. */
int
ctl_queue(struct wrennctl *h, json_t *msg)
{
	return ctl_queue_fds(h, msg, NULL, 0);
}

/* A new mark holding duplicates of fds[0..n_fds-1]. */
static int
ctl_mark_new(
    struct wrennctl *h, const int *fds, size_t n_fds, struct ctl_fdmark **ret)
{
	struct ctl_fdmark *m;
	size_t i;
	int saved;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	for (i = 0; i < n_fds; i++) {
		/* Above 2, so a closed stdio slot is never reused by us. */
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (m->fds[i] < 0) {
			saved = errno;
			ctl_mark_free(m);
			return ctl_fail(h,
			    saved == EBADF ? WRENNCTL_E_INVAL
					   : WRENNCTL_E_NOMEM,
			    "cannot duplicate fd %d: %s", fds[i],
			    strerror(saved));
		}
		m->n++;
	}
	*ret = m;
	return 0;
}

/*
 * Encode msg (borrowed) as one line and queue it with duplicates of the
 * n_fds descriptors in fds (the caller's stay open), to be sent with the
 * line's first byte.
 */
int
ctl_queue_fds(struct wrennctl *h, json_t *msg, const int *fds, size_t n_fds)
{
	struct ctl_fdmark *m = NULL;
	uint64_t pos = h->out_total;
	size_t len;
	char *line;
	int r;

	if (h->state == CTL_STATE_CLOSED)
		return ctl_closed_error(h);
	if (n_fds > 0 && (r = ctl_mark_new(h, fds, n_fds, &m)) < 0)
		return r;
	r = WRENNCTL_E_NOMEM;
	if ((line = ipc_encode(msg, &len)) != NULL) {
		r = ctl_out_append(h, line, len);
		free(line);
	}
	if (r < 0) {
		if (m != NULL)
			ctl_mark_free(m);
		return ctl_fail(h, r, "out of memory");
	}
	if (m != NULL) {
		m->pos = pos;
		m->end = h->out_total;
		*h->marks_tail = m;
		h->marks_tail = &m->next;
	}
	return 0;
}

/*
 * Whether wrennd has still not read some of what we sent (SIOCOUTQ counts
 * the bytes queued on the socket that the peer has not consumed).
 */
static int
ctl_peer_unread(const struct wrennctl *h)
{
#ifdef SIOCOUTQ
	int n = 0;

	if (ioctl(h->fd, SIOCOUTQ, &n) == 0 && n > 0)
		return 1;
#endif
	return 0;
}

/* sendmsg() len bytes at the output offset with the fds of mark m. */
static ssize_t
ctl_send_fds(struct wrennctl *h, const struct ctl_fdmark *m, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct cmsghdr *cm;
	struct msghdr msg;
	struct iovec iov;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = h->out + h->out_off;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * m->n);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * m->n);
	memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->n);
	return sendmsg(h->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Send the next piece of output: up to the next line with fds, or that
 * line's start with its fds (and nothing past its end). Returns bytes
 * sent, 0 when blocked (h->barrier says why), or -1 with errno.
 */
static ssize_t
ctl_send_some(struct wrennctl *h)
{
	struct ctl_fdmark *m = h->marks;
	uint64_t at = h->out_total - (h->out_len - h->out_off);
	size_t len = h->out_len - h->out_off;
	ssize_t n;

	if (m == NULL || m->pos > at) {
		if (m != NULL && m->pos - at < len)
			len = (size_t)(m->pos - at);
		return send(h->fd, h->out + h->out_off, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (ctl_peer_unread(h)) {
		h->barrier = 1;
		errno = EAGAIN;
		return -1;
	}
	if (m->end - at < len)
		len = (size_t)(m->end - at);
	n = ctl_send_fds(h, m, len);
	if (n > 0) {
		/* The kernel holds its own references now. */
		h->marks = m->next;
		if (h->marks == NULL)
			h->marks_tail = &h->marks;
		ctl_mark_free(m);
	}
	return n;
}

/*
 * Write queued output without blocking. Returns 1 if bytes went out, 0 if
 * nothing could be written, or -errno of a fatal send error (the caller
 * decides when to close, so no callback ever runs from here).
 */
int
ctl_try_write(struct wrennctl *h)
{
	ssize_t n;
	int wrote = 0;

	h->barrier = 0;
	if (h->state == CTL_STATE_CLOSED)
		return 0;
	while (h->out_off < h->out_len) {
		n = ctl_send_some(h);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		h->out_off += (size_t)n;
		wrote = 1;
	}
	if (h->out_off == h->out_len)
		h->out_off = h->out_len = 0;
	return wrote;
}

/*
 * Read once without blocking. Returns 1 if bytes arrived or the peer hung
 * up (h->eof is then set), 0 if nothing was there, or -errno.
 */
static int
ctl_read(struct wrennctl *h)
{
	size_t size;
	ssize_t n;
	char *p;

	if (h->eof)
		return 0;
	if (h->in_off > 0) {
		memmove(h->in, h->in + h->in_off, h->in_len - h->in_off);
		h->in_len -= h->in_off;
		h->in_off = 0;
	}
	if (h->in_size - h->in_len < CTL_READ_CHUNK) {
		/* Grow geometrically: one long line must not cost O(n^2). */
		size = h->in_size != 0 ? h->in_size : CTL_READ_CHUNK;
		while (size - h->in_len < CTL_READ_CHUNK)
			size *= 2;
		if ((p = realloc(h->in, size)) == NULL)
			return -ENOMEM;
		h->in = p;
		h->in_size = size;
	}
	for (;;) {
		n = recv(h->fd, h->in + h->in_len, h->in_size - h->in_len,
		    MSG_DONTWAIT);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
	if (n == 0)
		h->eof = 1;
	h->in_len += (size_t)n;
	return 1;
}

/* Decode one line (LF excluded) and dispatch it. */
static void
ctl_dispatch_line(struct wrennctl *h, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg;

	/* Lenient client: \u0000 inside strings is legal JSON (exec output). */
	msg = json_loadb(
	    line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (msg == NULL) {
		ctl_close(h, WRENNCTL_E_PROTOCOL,
		    "invalid JSON from wrennd (line %d column %d): %s",
		    jerr.line, jerr.column, jerr.text);
		return;
	}
	if (!json_is_object(msg))
		ctl_close(h, WRENNCTL_E_PROTOCOL,
		    "wrennd sent a JSON value that is not an object");
	else
		h->ops->message(h, msg);
	json_decref(msg);
}

/*
 * Find the next complete line after in_off. Bytes already searched are not
 * searched again (in_scan), so a line arriving in many reads costs O(n).
 * Returns 1 with *ret_linelen (LF excluded), 0 when incomplete, or
 * -EMSGSIZE past max_line.
 */
static int
ctl_line_find(struct wrennctl *h, size_t *ret_linelen)
{
	size_t avail = h->in_len - h->in_off, from = h->in_scan, n;
	int r;

	if (from > h->max_line) /* wrennctl_set_max_line() lowered it */
		return -EMSGSIZE;
	r = ipc_line_find(
	    h->in + h->in_off + from, avail - from, h->max_line - from, &n);
	if (r == 1) {
		*ret_linelen = from + n;
		h->in_scan = 0;
	} else if (r == 0)
		h->in_scan = avail;
	return r;
}

/*
 * Dispatch up to CTL_DISPATCH_BUDGET complete lines. Returns the number
 * dispatched; *more is set when complete lines may remain.
 */
static int
ctl_dispatch(struct wrennctl *h, int *more)
{
	size_t linelen = 0;
	char *line;
	int n = 0, r;

	*more = 0;
	h->dispatching++;
	while (h->state != CTL_STATE_CLOSED && !h->free_requested) {
		if (n == CTL_DISPATCH_BUDGET) {
			*more = 1;
			break;
		}
		r = ctl_line_find(h, &linelen);
		if (r < 0) {
			ctl_close(h, WRENNCTL_E_PROTOCOL,
			    "wrennd sent a line longer than %zu bytes",
			    h->max_line);
			break;
		}
		if (r == 0)
			break;
		line = h->in + h->in_off;
		h->in_off += linelen + 1;
		ctl_dispatch_line(h, line, linelen);
		n++;
	}
	h->dispatching--;
	if (h->in_off == h->in_len) {
		h->in_off = h->in_len = 0;
		/* Do not keep the memory of one huge reply forever. */
		if (h->in_size > CTL_KEEP_BUFFER) {
			free(h->in);
			h->in = NULL;
			h->in_size = 0;
		}
	}
	return n;
}

/*
 * The peer went away while we were writing: dispatch whatever it sent
 * before (typically a final error line) so it is not lost.
 */
static void
ctl_drain(struct wrennctl *h)
{
	int r, more = 0;

	do {
		r = ctl_read(h);
		(void)ctl_dispatch(h, &more);
	} while ((r > 0 || more) && !h->eof && h->state != CTL_STATE_CLOSED &&
	    !h->free_requested);
	while (more && h->state != CTL_STATE_CLOSED && !h->free_requested)
		(void)ctl_dispatch(h, &more);
}

/*
 * One round of non-blocking work: write, read, dispatch, and close when
 * the peer hung up and everything it sent has been dispatched. Returns 1 on
 * progress, 0 when idle, or the close code.
 */
static int
ctl_step(struct wrennctl *h)
{
	int w, r, n, more;

	if (h->state == CTL_STATE_CLOSED)
		return h->close_err.code;
	w = ctl_try_write(h);
	if (w < 0) {
		ctl_drain(h);
		ctl_close(
		    h, WRENNCTL_E_CONNECT, "send to wrennd: %s", strerror(-w));
		return h->close_err.code;
	}
	r = ctl_read(h);
	if (r == -ENOMEM) {
		ctl_close(h, WRENNCTL_E_NOMEM, "out of memory");
		return h->close_err.code;
	}
	if (r < 0) {
		ctl_close(h, WRENNCTL_E_CONNECT, "receive from wrennd: %s",
		    strerror(-r));
		return h->close_err.code;
	}
	n = ctl_dispatch(h, &more);
	if (h->state == CTL_STATE_CLOSED)
		return h->close_err.code;
	if (h->eof && !more) {
		if (h->in_len > h->in_off)
			ctl_close(h, WRENNCTL_E_CONNECT,
			    "wrennd closed the connection in the middle of a "
			    "message");
		else
			ctl_close(h, WRENNCTL_E_CONNECT,
			    "wrennd closed the connection");
		return h->close_err.code;
	}
	return (w > 0 || r > 0 || n > 0 || more) ? 1 : 0;
}

/* poll(2) events for the current state. */
static short
ctl_poll_events(const struct wrennctl *h)
{
	return (short)(POLLIN | (h->out_off < h->out_len ? POLLOUT : 0));
}

/*
 * Block until until(h, arg) holds, the connection closes or deadline_ms
 * (absolute, CTL_NO_DEADLINE for none) passes. Callbacks run from here.
 * Returns 0 when the condition holds, else a negative code (also recorded
 * as the last error for TIMEOUT and for a closed connection).
 */
int
ctl_run(struct wrennctl *h, ctl_until_fn until, const void *arg,
    uint64_t deadline_ms)
{
	struct pollfd pfd;
	uint64_t now, left;
	int r, ms;

	for (;;) {
		if (until(h, arg))
			return 0;
		if (h->free_requested)
			return ctl_fail(h, WRENNCTL_E_CANCELLED,
			    "handle freed from a callback");
		r = ctl_step(h);
		if (until(h, arg))
			return 0;
		if (r < 0)
			return ctl_closed_error(h);
		if (r > 0)
			continue;
		ms = -1;
		if (deadline_ms != CTL_NO_DEADLINE) {
			now = ctl_now_ms();
			if (now >= deadline_ms)
				return ctl_fail(h, WRENNCTL_E_TIMEOUT,
				    "timed out waiting for wrennd");
			left = deadline_ms - now;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd.fd = h->fd;
		pfd.events = ctl_poll_events(h);
		pfd.revents = 0;
		if (h->barrier) {
			/* Nothing signals "wrennd read it": look again soon. */
			pfd.events = POLLIN;
			if (ms < 0 || ms > CTL_BARRIER_POLL_MS)
				ms = CTL_BARRIER_POLL_MS;
		}
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return ctl_fail(
			    h, WRENNCTL_E_CONNECT, "poll: %s", strerror(errno));
	}
}

static int
ctl_until_flushed(const struct wrennctl *h, const void *arg)
{
	return h->out_off == h->out_len;
}

/*
 * A handle around the connected fd, in state GREETING, whose decoded
 * messages and close go to ops (the layer above). fd is not owned until
 * the caller keeps the handle; ctl_conn_destroy(h) with h->fd = -1 gives
 * it back.
 */
int
ctl_conn_new(int fd, const struct ctl_conn_ops *ops, struct wrennctl **ret)
{
	struct wrennctl *h;
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return WRENNCTL_E_INVAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return WRENNCTL_E_NOMEM;
	h->fd = fd;
	h->ops = ops;
	h->state = CTL_STATE_GREETING;
	h->max_line = CTL_MAX_LINE_DEFAULT;
	h->next_id = 1;
	h->marks_tail = &h->marks;
	*ret = h;
	return 0;
}

int
wrennctl_set_timeout(struct wrennctl *h, uint64_t timeout_ms)
{
	int r;

	if ((r = ctl_api_enter(h, 1)) < 0)
		return r;
	h->timeout_ms = timeout_ms;
	return 0;
}

int
wrennctl_set_max_line(struct wrennctl *h, size_t max_line)
{
	int r;

	if ((r = ctl_api_enter(h, 1)) < 0)
		return r;
	if (max_line < CTL_MAX_LINE_MIN)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "max_line must be at least %d bytes", CTL_MAX_LINE_MIN);
	h->max_line = max_line;
	return 0;
}

int
wrennctl_get_fd(const struct wrennctl *h)
{
	if (h == NULL)
		return WRENNCTL_E_INVAL;
	return h->fd;
}

int
wrennctl_get_events(const struct wrennctl *h)
{
	if (h == NULL)
		return WRENNCTL_E_INVAL;
	if (h->state == CTL_STATE_CLOSED)
		return h->close_err.code;
	return ctl_poll_events(h);
}

int
wrennctl_process(struct wrennctl *h)
{
	int r;

	if ((r = ctl_api_enter(h, 0)) < 0)
		return r;
	r = ctl_step(h);
	if (r < 0)
		r = ctl_closed_error(h);
	return ctl_api_leave(h, r);
}

int
wrennctl_wait(struct wrennctl *h, uint64_t timeout_ms)
{
	struct pollfd pfd;
	int r, ms;

	if ((r = ctl_api_enter(h, 0)) < 0)
		return r;
	if (h->state == CTL_STATE_CLOSED)
		return ctl_closed_error(h);
	ms = timeout_ms > INT_MAX ? -1 : (int)timeout_ms;
	pfd.fd = h->fd;
	pfd.events = ctl_poll_events(h);
	pfd.revents = 0;
	r = poll(&pfd, 1, ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		return ctl_fail(
		    h, WRENNCTL_E_CONNECT, "poll: %s", strerror(errno));
	}
	return r > 0 ? 1 : 0;
}

int
wrennctl_flush(struct wrennctl *h)
{
	int r;

	if ((r = ctl_api_enter(h, 0)) < 0)
		return r;
	r = ctl_run(h, ctl_until_flushed, NULL, ctl_deadline(h->timeout_ms));
	/* A closed connection has nothing queued, but nothing was sent. */
	if (r == 0 && h->state == CTL_STATE_CLOSED)
		r = ctl_closed_error(h);
	return ctl_api_leave(h, r);
}
