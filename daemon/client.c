/* SPDX-License-Identifier: MIT */
/*
 * Local connections (see client.h): framing, limits, descriptor queueing
 * and the output queue. Complete messages go to wd->client_ops. State
 * machine:
 *
 *   ACTIVE --(protocol error, drain, half-close done)--> FLUSHING --> CLOSED
 *   ACTIVE --(peer gone, write error, stuck, timeout)--> CLOSED
 *
 * A drain (SIGTERM) moves each connection to FLUSHING once its last call
 * ended; at the drain deadline the calls still in flight are answered
 * with shutting_down first (client_shutdown_all).
 *
 * Reading stops (and lines wait in the input buffer) while the client has
 * max-inflight calls or more than max-output bytes queued, so a client that
 * floods requests or never reads its replies only slows itself.
 */
#include "config.h"

#include "client.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "role.h"
#include "wrennd.h"

#define CLIENT_READ_CHUNK      65536 /* bytes per read(2) */
#define CLIENT_READS_PER_EVENT 8     /* reads before yielding to others */
#define CLIENT_LINES_PER_EVENT 64    /* lines dispatched per turn */
#define CLIENT_FLUSH_TIMEOUT   5     /* seconds to flush a final error */
#define CLIENT_FD_BATCHES                                                      \
	32 /* received fd sets awaiting their line;                            \
	    * at least the largest max-queued-fds */

enum client_state {
	CLIENT_ACTIVE,	 /* reading and dispatching */
	CLIENT_FLUSHING, /* no more input; close once output is written */
	CLIENT_CLOSED,	 /* waiting for the deferred free */
	CLIENT__MAX
};

static const char *const client_state_names[CLIENT__MAX] = {
    "active", "flushing", "closed"};

#define CLIENT_TO(s) (1u << (s))
/* Legal transitions: client_transitions[from] has bit `to` set. */
static const unsigned client_transitions[CLIENT__MAX] = {
    [CLIENT_ACTIVE] = CLIENT_TO(CLIENT_FLUSHING) | CLIENT_TO(CLIENT_CLOSED),
    [CLIENT_FLUSHING] = CLIENT_TO(CLIENT_CLOSED),
    [CLIENT_CLOSED] = 0,
};

/* File descriptors that arrived with the byte at offset off. */
struct client_fdset {
	uint64_t off;		/* absolute input offset of that byte */
	uint64_t end;		/* end of the chunk they came with */
	int fd[CLIENT_MAX_FDS]; /* owned */
	unsigned n;
};

struct client {
	TAILQ_ENTRY(client) entry; /* in wd->clients */
	struct wrennd *wd;	   /* borrowed */
	struct conf *cfg;	   /* owned reference: limits at accept */
	uint64_t id;
	int fd; /* owned */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	enum role role; /* from listener.c, at accept */
	enum client_state state;
	const struct client_ops *ops; /* borrowed: the dispatcher */
	void *data;		/* the dispatcher's, freed by ops->close */
	struct evbuffer *in;	/* owned: bytes not yet dispatched */
	struct evbuffer *out;	/* owned: bytes not yet written */
	struct evbuffer *msg;	/* owned: scratch for one message */
	size_t scanned;		/* bytes of in known to hold no LF */
	struct event *ev_read;	/* owned */
	struct event *ev_write; /* owned */
	struct event *ev_line;	/* owned: partial-line deadline */
	struct event *ev_kick;	/* owned: deferred work (close, resume) */
	struct event *ev_idle;	/* owned: idle-timeout timer */
	unsigned ncalls;	/* calls in flight */
	int reading;		/* ev_read is added */
	int eof;		/* peer shut down its side */
	int drain;		/* close once idle (daemon shutdown) */
	const char *kick_close; /* reason for a deferred close */
	unsigned caps;		/* capabilities enabled by rpc.hello */
#define CLIENT_CAP_FDS 0x1
	uint64_t in_off;   /* absolute offset of the first byte of in */
	uint64_t in_total; /* bytes ever received */
	struct client_fdset fdq[CLIENT_FD_BATCHES]; /* owned fds, FIFO */
	unsigned nfdq;
	unsigned nfdq_fds; /* descriptors in fdq (also in wd->nfds_queued) */
};

static void client_process(struct client *c);
static void client_update_read(struct client *c);

/* Move to state `to`; illegal moves are bugs. */
static void
client_set_state(struct client *c, enum client_state to)
{
	assert(client_transitions[c->state] & CLIENT_TO(to));
	log_debug("client %llu: %s -> %s", (unsigned long long)c->id,
	    client_state_names[c->state], client_state_names[to]);
	c->state = to;
}

uint64_t
client_id(const struct client *c)
{
	return c->id;
}

enum role
client_role(const struct client *c)
{
	return c->role;
}

uid_t
client_uid(const struct client *c)
{
	return c->uid;
}

gid_t
client_gid(const struct client *c)
{
	return c->gid;
}

pid_t
client_pid(const struct client *c)
{
	return c->pid;
}

const struct conf *
client_conf(const struct client *c)
{
	return c->cfg;
}

int
client_active(const struct client *c)
{
	return c->state == CLIENT_ACTIVE;
}

void *
client_data(const struct client *c)
{
	return c->data;
}

void
client_set_data(struct client *c, void *data)
{
	c->data = data;
}

void
client_enable_fds(struct client *c)
{
	c->caps |= CLIENT_CAP_FDS;
}

int
client_fds_enabled(const struct client *c)
{
	return (c->caps & CLIENT_CAP_FDS) != 0;
}

struct wrennd *
client_wrennd(const struct client *c)
{
	return c->wd;
}

unsigned
client_ncalls(const struct client *c)
{
	return c->ncalls;
}

size_t
client_queued(const struct client *c)
{
	return evbuffer_get_length(c->out);
}

int
client_congested(const struct client *c)
{
	return evbuffer_get_length(c->out) > (size_t)c->cfg->max_output;
}

/* Close the descriptors of one fd set and forget them. */
static void
client_fdset_close(struct client_fdset *set)
{
	unsigned i;

	for (i = 0; i < set->n; i++)
		close(set->fd[i]);
	set->n = 0;
}

/* Take the oldest queued fd set off the queue (the caller owns it). */
static void
client_fdq_pop(struct client *c, struct client_fdset *set)
{
	*set = c->fdq[0];
	memmove(&c->fdq[0], &c->fdq[1], (c->nfdq - 1) * sizeof(c->fdq[0]));
	c->nfdq--;
	c->nfdq_fds -= set->n;
	c->wd->nfds_queued -= set->n;
}

/*
 * Close queued fd sets whose chunk ended at or before absolute offset off:
 * no line starting there or later can own them. Returns how many
 * descriptors were closed.
 */
static unsigned
client_fdq_drop(struct client *c, uint64_t off)
{
	unsigned i, k = 0, n = 0;

	for (i = 0; i < c->nfdq; i++) {
		if (c->fdq[i].end <= off) {
			n += c->fdq[i].n;
			client_fdset_close(&c->fdq[i]);
			continue;
		}
		c->fdq[k++] = c->fdq[i];
	}
	c->nfdq = k;
	c->nfdq_fds -= n;
	c->wd->nfds_queued -= n;
	return n;
}

/* Deferred free: never inside a callback of this client. */
static void
client_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_line != NULL)
		event_free(c->ev_line);
	if (c->ev_kick != NULL)
		event_free(c->ev_kick);
	if (c->ev_idle != NULL)
		event_free(c->ev_idle);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	if (c->msg != NULL)
		evbuffer_free(c->msg);
	conf_unref(c->cfg);
	free(c);
}

void
client_close(struct client *c, const char *reason)
{
	struct timeval tv = {0, 0};

	if (c->state == CLIENT_CLOSED)
		return;
	client_set_state(c, CLIENT_CLOSED);
	log_debug("client %llu: closed: %s (uid %u, pid %d)",
	    (unsigned long long)c->id, reason, (unsigned)c->uid, (int)c->pid);
	if (c->ev_read != NULL)
		event_del(c->ev_read);
	if (c->ev_write != NULL)
		event_del(c->ev_write);
	if (c->ev_line != NULL)
		event_del(c->ev_line);
	if (c->ev_kick != NULL)
		event_del(c->ev_kick);
	if (c->ev_idle != NULL)
		event_del(c->ev_idle);
	if (c->ops != NULL)
		c->ops->close(c);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	client_fdq_drop(c, UINT64_MAX);
	TAILQ_REMOVE(&c->wd->clients, c, entry);
	c->wd->nclients--;
	if (event_base_once(
		c->wd->base, -1, EV_TIMEOUT, client_free_cb, c, &tv) != 0)
		log_warnx("client %llu: cannot schedule free, leaking",
		    (unsigned long long)c->id);
	/* The last client of a draining daemon ends the loop. */
	if (c->wd->draining && c->wd->nclients == 0)
		event_base_loopexit(c->wd->base, NULL);
}

/* Ask for a close on the next loop turn (safe from any call stack). */
static void
client_close_later(struct client *c, const char *reason)
{
	if (c->state == CLIENT_CLOSED || c->kick_close != NULL)
		return;
	c->kick_close = reason;
	event_active(c->ev_kick, EV_TIMEOUT, 0);
}

void
client_finish(struct client *c)
{
	struct timeval tv = {CLIENT_FLUSH_TIMEOUT, 0};

	if (c->state != CLIENT_ACTIVE)
		return;
	client_set_state(c, CLIENT_FLUSHING);
	event_del(c->ev_read);
	c->reading = 0;
	if (evbuffer_get_length(c->out) == 0) {
		client_close_later(c, "done");
		return;
	}
	event_del(c->ev_line);
	event_add(c->ev_line, &tv); /* bounded flush */
}

/* json_dump_callback() sink: append to an evbuffer. */
static int
client_dump_cb(const char *buf, size_t len, void *arg)
{
	return evbuffer_add(arg, buf, len) == 0 ? 0 : -1;
}

/*
 * Queue an error for id (NULL: none) that belongs to no call, its message
 * formatted from fmt; extra_steal (may be NULL) is merged into error.data.
 * Returns 0 or -ENOMEM.
 */
static int client_verror(struct client *c, const json_t *id, int code,
    const char *data_code, json_t *extra_steal, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
static int
client_verror(struct client *c, const json_t *id, int code,
    const char *data_code, json_t *extra_steal, const char *fmt, va_list ap)
{
	char text[1024];
	json_t *msg;
	int r;

	vsnprintf(text, sizeof(text), fmt, ap);
	msg = ipc_make_error_code(id, code, text, data_code, extra_steal);
	if (msg == NULL)
		return -ENOMEM;
	r = client_send(c, msg);
	json_decref(msg);
	return r;
}

/* client_verror for the connection's own notices (not a failed call). */
static int client_error(struct client *c, const json_t *id, int code,
    const char *data_code, json_t *extra_steal, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int
client_error(struct client *c, const json_t *id, int code,
    const char *data_code, json_t *extra_steal, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = client_verror(c, id, code, data_code, extra_steal, fmt, ap);
	va_end(ap);
	return r;
}

void
client_fail(struct client *c, const json_t *id, int code, const char *data_code,
    json_t *extra_steal, const char *fmt, ...)
{
	va_list ap;

	c->wd->calls_failed++;
	va_start(ap, fmt);
	(void)client_verror(c, id, code, data_code, extra_steal, fmt, ap);
	va_end(ap);
}

/*
 * Answer a message over max-reply with a too_large error for the same id
 * (a notification's error has a null id).
 */
static int
client_send_too_large(struct client *c, const json_t *msg, size_t len)
{
	log_info("client %llu: refusing a %zu byte reply (max-reply %ld)",
	    (unsigned long long)c->id, len, c->cfg->max_reply);
	return client_error(c, json_object_get(msg, "id"), IPC_ERR_APPLICATION,
	    "too_large",
	    json_pack("{s:I, s:I}", "size", (json_int_t)len, "max",
		(json_int_t)c->cfg->max_reply),
	    "the reply of %zu bytes is over max-reply (%ld bytes); move "
	    "big data with the streaming calls (sandbox.stream_download, "
	    "sandbox.exec_stream)",
	    len, c->cfg->max_reply);
}

int
client_send(struct client *c, const json_t *msg)
{
	size_t len;

	if (c->state == CLIENT_CLOSED)
		return 0;
	/*
	 * A peer that left more than twice max-output unread before this
	 * message does not read: disconnect it. What was queued before is
	 * what counts, so one big reply to a reading peer always goes out.
	 */
	if (evbuffer_get_length(c->out) > 2 * (size_t)c->cfg->max_output) {
		log_info("client %llu: %zu bytes queued and not read, "
			 "disconnecting",
		    (unsigned long long)c->id, evbuffer_get_length(c->out));
		client_close_later(c, "output queue overflow");
		return 0;
	}
	/* Serialize into a scratch buffer whose chains then move to the
	 * output without a copy; on failure nothing half-written is sent. */
	if (json_dump_callback(msg, client_dump_cb, c->msg, JSON_COMPACT) !=
		0 ||
	    evbuffer_add(c->msg, "\n", 1) != 0) {
		(void)evbuffer_drain(c->msg, evbuffer_get_length(c->msg));
		return -ENOMEM;
	}
	if ((len = evbuffer_get_length(c->msg)) > (size_t)c->cfg->max_reply) {
		(void)evbuffer_drain(c->msg, len);
		return client_send_too_large(c, msg, len);
	}
	if (evbuffer_add_buffer(c->out, c->msg) != 0) {
		(void)evbuffer_drain(c->msg, evbuffer_get_length(c->msg));
		return -ENOMEM;
	}
	event_add(c->ev_write, NULL);
	return 0;
}

void
client_call_begin(struct client *c)
{
	c->ncalls++;
	c->wd->calls_total++;
}

void
client_call_end(struct client *c)
{
	c->ncalls--;
	if (c->state != CLIENT_ACTIVE)
		return;
	/* Resume work on the next turn: we may be deep in a callback. */
	if (c->kick_close == NULL)
		event_active(c->ev_kick, EV_TIMEOUT, 0);
}

/* Deferred work: a requested close, or resuming after a call finished. */
static void
client_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (c->kick_close != NULL) {
		client_close(c, c->kick_close);
		return;
	}
	client_process(c);
}

static void
client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	int n;

	n = evbuffer_write(c->out, c->fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		client_close(c,
		    errno == EPIPE || errno == ECONNRESET ? "peer went away"
							  : "write error");
		return;
	}
	if (evbuffer_get_length(c->out) == 0) {
		event_del(c->ev_write);
		if (c->state == CLIENT_FLUSHING) {
			client_close(c, "done");
			return;
		}
	}
	/* Output drained below the watermark: let producers go on. */
	if (c->state == CLIENT_ACTIVE &&
	    evbuffer_get_length(c->out) <= (size_t)c->cfg->max_output / 2) {
		c->ops->drained(c);
		if (c->state == CLIENT_ACTIVE)
			client_process(c);
	}
}

/* Nothing going on for idle-timeout: say so and close. */
static void
client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (c->state != CLIENT_ACTIVE)
		return; /* already on its way out */
	(void)client_error(c, NULL, IPC_ERR_APPLICATION, "idle_timeout", NULL,
	    "no call, input or output for %ld ms (idle-timeout), closing",
	    c->cfg->idle_timeout_ms);
	client_finish(c);
}

/* Arm the idle timer when nothing is going on, disarm it otherwise. */
static void
client_update_idle(struct client *c)
{
	struct timeval tv = {c->cfg->idle_timeout_ms / 1000,
	    (c->cfg->idle_timeout_ms % 1000) * 1000};

	if (c->cfg->idle_timeout_ms == 0 || c->state != CLIENT_ACTIVE)
		return;
	if (c->ncalls == 0 && evbuffer_get_length(c->in) == 0 &&
	    evbuffer_get_length(c->out) == 0) {
		if (!event_pending(c->ev_idle, EV_TIMEOUT, NULL))
			event_add(c->ev_idle, &tv);
	} else
		event_del(c->ev_idle);
}

static void
client_line_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (c->state == CLIENT_FLUSHING)
		client_close(c, "flush timed out");
	else
		client_close(c, "partial line timed out");
}

/* Peer sent EOF: a full close aborts everything, a half-close lets the
 * calls already sent finish. */
static void
client_eof(struct client *c)
{
	struct pollfd pfd = {c->fd, POLLOUT, 0};

	c->eof = 1;
	event_del(c->ev_read);
	c->reading = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
		client_close(c, "peer closed");
		return;
	}
	client_process(c);
}

/*
 * recvmsg(2) one chunk into the input buffer. File descriptors passed with
 * SCM_RIGHTS are queued with the offset of the chunk's first byte; the
 * line that contains that byte owns them.
 */
static int
client_recv(struct client *c)
{
	char cbuf[CMSG_SPACE(sizeof(int) * CLIENT_MAX_FDS * 2)];
	struct evbuffer_iovec vec;
	struct cmsghdr *cm;
	struct msghdr msg;
	struct iovec iov;
	struct client_fdset set;
	const char *why = NULL;
	unsigned nfd, i;
	ssize_t n;
	int *fds;

	if (evbuffer_reserve_space(c->in, CLIENT_READ_CHUNK, &vec, 1) < 1) {
		errno = ENOMEM;
		return -1;
	}
	iov.iov_base = vec.iov_base;
	iov.iov_len =
	    vec.iov_len < CLIENT_READ_CHUNK ? vec.iov_len : CLIENT_READ_CHUNK;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0)
		return (int)n;
	memset(&set, 0, sizeof(set));
	set.off = c->in_total;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		fds = (int *)(void *)CMSG_DATA(cm);
		for (i = 0; i < nfd; i++) {
			if (set.n < CLIENT_MAX_FDS)
				set.fd[set.n++] = fds[i];
			else {
				close(fds[i]);
				why =
				    "too many file descriptors in one message "
				    "(limits.max_fds)";
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		why = "file descriptors were lost (truncated control "
		      "message)";
	/* Descriptors waiting for their line are capped per connection
	 * and over the daemon, so partial lines cannot fill the fd table. */
	if (why == NULL && set.n > 0 &&
	    (c->nfdq == CLIENT_FD_BATCHES ||
		c->nfdq_fds + set.n > (unsigned)c->cfg->max_queued_fds))
		why = "too many file descriptors wait for their lines on this "
		      "connection (limits.max_queued_fds)";
	if (why == NULL && set.n > 0 &&
	    c->wd->nfds_queued + set.n > (unsigned)c->cfg->max_queued_fds_total)
		why = "too many file descriptors wait for their lines in "
		      "wrennd (max-queued-fds-total)";
	if (why != NULL)
		client_fdset_close(&set);
	vec.iov_len = (size_t)n;
	evbuffer_commit_space(c->in, &vec, 1);
	c->in_total += (uint64_t)n;
	if (set.n > 0) {
		set.end = c->in_total;
		c->fdq[c->nfdq++] = set;
		c->nfdq_fds += set.n;
		c->wd->nfds_queued += set.n;
	}
	if (why != NULL) {
		log_info(
		    "client %llu: %s, closing", (unsigned long long)c->id, why);
		(void)client_error(c, NULL, IPC_ERR_INVALID_REQUEST,
		    "too_many_fds", NULL, "%s", why);
		client_finish(c);
		/* Nothing more is read: the queue goes now, not at close. */
		(void)client_fdq_drop(c, UINT64_MAX);
	}
	return (int)n;
}

static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	int i, n;

	for (i = 0; i < CLIENT_READS_PER_EVENT; i++) {
		n = client_recv(c);
		if (c->state != CLIENT_ACTIVE)
			return;
		if (n == 0) {
			client_eof(c);
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_close(c, "read error");
			return;
		}
		/* Bytes from the peer restart the idle clock. */
		event_del(c->ev_idle);
		if (n < CLIENT_READ_CHUNK ||
		    evbuffer_get_length(c->in) > (size_t)c->cfg->max_line)
			break;
	}
	client_process(c);
}

/* Decide whether we want input now (backpressure on calls and output). */
static void
client_update_read(struct client *c)
{
	int want;

	want = c->state == CLIENT_ACTIVE && !c->eof &&
	    c->ncalls < (unsigned)c->cfg->max_inflight &&
	    !client_congested(c) &&
	    evbuffer_get_length(c->in) <= (size_t)c->cfg->max_line;
	if (want && !c->reading)
		event_add(c->ev_read, NULL);
	else if (!want && c->reading)
		event_del(c->ev_read);
	c->reading = want;
}

/* Whether a parsed request refers to passed descriptors. */
static int
client_wants_fds(const struct ipc_msg *m)
{
	const char *key;
	json_t *v;

	if (m->kind != IPC_KIND_REQUEST || m->params == NULL)
		return 0;
	json_object_foreach(m->params, key, v)
		if (json_is_object(v) && json_object_get(v, "$fd") != NULL)
			return 1;
	return 0;
}

/* Take one complete line off the input and act on it. */
static void
client_line(struct client *c, size_t linelen)
{
	struct client_fdset lfds;
	struct ipc_error perr;
	struct ipc_msg m;
	const char *line, *why = NULL;
	uint64_t end;
	unsigned stray;
	int r;

	line = (const char *)evbuffer_pullup(c->in, (ev_ssize_t)linelen + 1);
	r = ipc_parse(line, linelen, &m, &perr);
	/*
	 * The kernel hands fds over with a chunk that may also hold earlier
	 * unread lines, so a set belongs to the first request in its chunk
	 * that refers to descriptors ({"$fd": n}). When the chunk ends
	 * within this line no later line can take the set, so this line
	 * gets it, wanted or not; other sets that came within this line are
	 * strays. Either way nothing passed outlives the line that brought
	 * it unless a call owns it.
	 */
	end = c->in_off + linelen + 1;
	(void)client_fdq_drop(c, c->in_off);
	memset(&lfds, 0, sizeof(lfds));
	if (c->nfdq > 0 && c->fdq[0].off < end &&
	    (client_wants_fds(&m) || c->fdq[0].end <= end))
		client_fdq_pop(c, &lfds);
	evbuffer_drain(c->in, linelen + 1);
	c->in_off = end;
	c->scanned = 0;
	stray = client_fdq_drop(c, c->in_off);
	if (r == IPC_ERR_PARSE) {
		client_fdset_close(&lfds);
		client_fail(c, NULL, IPC_ERR_PARSE, "parse_error", NULL,
		    "parse error at column %d: %s", perr.column, perr.text);
		ipc_msg_clear(&m);
		client_finish(c);
		return;
	}
	if (r != 0) {
		client_fdset_close(&lfds);
		client_fail(c, m.id, IPC_ERR_INVALID_REQUEST, "invalid_request",
		    NULL, "%s", perr.text);
		ipc_msg_clear(&m);
		return;
	}
	if (stray > 0)
		why = "file descriptors came with more than one write of "
		      "this line";
	else if (lfds.n > 0 && m.kind != IPC_KIND_REQUEST)
		why = "file descriptors may only come with a request";
	else if (lfds.n > 0 && !(c->caps & CLIENT_CAP_FDS))
		why = "file descriptors were passed but the fds capability "
		      "is not enabled (rpc.hello enable [\"fds\"])";
	else if (lfds.n > 0 && !client_wants_fds(&m))
		why = "file descriptors were passed with a request that has "
		      "no {\"$fd\": n} parameter";
	if (why != NULL) {
		client_fdset_close(&lfds);
		client_fail(c, m.id, IPC_ERR_INVALID_REQUEST, "unexpected_fds",
		    NULL, "%s", why);
		ipc_msg_clear(&m);
		return;
	}
	switch (m.kind) {
	case IPC_KIND_REQUEST:
	case IPC_KIND_NOTIFICATION:
		c->ops->message(c, &m, lfds.fd, lfds.n);
		break;
	default:
		/* We never send requests, so a reply is a client bug. */
		client_fdset_close(&lfds);
		client_fail(c, m.id, IPC_ERR_INVALID_REQUEST, "invalid_request",
		    NULL, "unexpected response object");
		break;
	}
	ipc_msg_clear(&m);
}

/* Dispatch buffered lines while the limits allow, then fix up events. */
static void
client_process(struct client *c)
{
	struct evbuffer_ptr pos;
	size_t len;
	int lines = 0;

	while (c->state == CLIENT_ACTIVE &&
	    c->ncalls < (unsigned)c->cfg->max_inflight &&
	    !client_congested(c)) {
		len = evbuffer_get_length(c->in);
		if (len == 0 || len == c->scanned)
			break;
		if (lines++ == CLIENT_LINES_PER_EVENT) {
			event_active(c->ev_kick, EV_TIMEOUT, 0);
			break;
		}
		evbuffer_ptr_set(c->in, &pos, c->scanned, EVBUFFER_PTR_SET);
		pos = evbuffer_search(c->in, "\n", 1, &pos);
		if (pos.pos == -1) {
			c->scanned = len;
			if (len > (size_t)c->cfg->max_line)
				goto too_long;
			break;
		}
		if ((size_t)pos.pos > (size_t)c->cfg->max_line)
			goto too_long;
		client_line(c, (size_t)pos.pos);
	}
	if (c->state == CLIENT_CLOSED)
		return;
	/* A partial line must complete within line-timeout. */
	if (c->state == CLIENT_ACTIVE) {
		if (evbuffer_get_length(c->in) > 0 && c->scanned > 0 &&
		    c->scanned == evbuffer_get_length(c->in)) {
			if (!event_pending(c->ev_line, EV_TIMEOUT, NULL)) {
				struct timeval tv = {
				    c->cfg->line_timeout_ms / 1000,
				    (c->cfg->line_timeout_ms % 1000) * 1000};
				event_add(c->ev_line, &tv);
			}
		} else
			event_del(c->ev_line);
	}
	client_update_read(c);
	client_update_idle(c);
	/* Half-closed and nothing left to do: flush and go. */
	if (c->state == CLIENT_ACTIVE && c->eof && c->ncalls == 0 &&
	    (evbuffer_get_length(c->in) == 0 ||
		c->scanned == evbuffer_get_length(c->in)))
		client_finish(c);
	if (c->state == CLIENT_ACTIVE && c->drain && c->ncalls == 0)
		client_finish(c);
	return;
too_long:
	client_fail(c, NULL, IPC_ERR_PARSE, "too_large", NULL,
	    "line exceeds the maximum of %ld bytes (limits.max_line)",
	    c->cfg->max_line);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	c->scanned = 0;
	client_finish(c);
}

void
client_drain(struct client *c)
{
	c->drain = 1;
	if (c->state == CLIENT_ACTIVE && c->ncalls == 0)
		client_finish(c);
}

struct client *
client_new(
    struct wrennd *wd, int fd, uid_t uid, gid_t gid, pid_t pid, enum role role)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->wd = wd;
	c->cfg = conf_ref(wd->cfg);
	c->id = ++wd->next_client_id;
	c->fd = fd;
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
	c->role = role;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->msg = evbuffer_new();
	c->ev_read =
	    event_new(wd->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
	c->ev_write =
	    event_new(wd->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	c->ev_line = evtimer_new(wd->base, client_line_cb, c);
	c->ev_kick = event_new(wd->base, -1, 0, client_kick_cb, c);
	c->ev_idle = evtimer_new(wd->base, client_idle_cb, c);
	TAILQ_INSERT_TAIL(&wd->clients, c, entry);
	wd->nclients++;
	if (c->in == NULL || c->out == NULL || c->msg == NULL ||
	    c->ev_read == NULL || c->ev_write == NULL || c->ev_line == NULL ||
	    c->ev_kick == NULL || c->ev_idle == NULL) {
		log_warnx(
		    "client %llu: out of memory", (unsigned long long)c->id);
		client_close(c, "out of memory");
		return NULL;
	}
	log_debug("client %llu: connected (uid %u, gid %u, pid %d)",
	    (unsigned long long)c->id, (unsigned)uid, (unsigned)gid, (int)pid);
	/* The dispatcher is set only now, so a failed setup above never
	 * reaches its close hook without its open hook. */
	c->ops = wd->client_ops;
	if (c->ops->open(c) != 0) {
		log_warnx(
		    "client %llu: cannot greet", (unsigned long long)c->id);
		client_close(c, "out of memory");
		return NULL;
	}
	client_update_read(c);
	return c;
}

int
client_peer_groups(
    const struct client *c, gid_t *small, size_t nsmall, gid_t **groups)
{
	return role_peer_groups(c->fd, small, nsmall, groups);
}

unsigned
client_count_uid(struct wrennd *wd, uid_t uid)
{
	struct client *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &wd->clients, entry)
		n += c->uid == uid;
	return n;
}

unsigned
client_calls_all(struct wrennd *wd)
{
	struct client *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &wd->clients, entry)
		n += c->ncalls;
	return n;
}

void
client_drain_all(struct wrennd *wd)
{
	struct client *c, *next;

	/* client_drain may close (and unlink) c, so fetch next first. */
	for (c = TAILQ_FIRST(&wd->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		client_drain(c);
	}
}

void
client_shutdown_all(struct wrennd *wd, int now)
{
	struct client *c, *next;

	/* Closes are deferred (client_close_later) or done here, after
	 * next was fetched: the walk never meets a freed client. */
	for (c = TAILQ_FIRST(&wd->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		c->drain = 1;
		if (c->state != CLIENT_CLOSED)
			c->ops->shutdown(c);
		if (!now) {
			client_finish(c);
			continue;
		}
		/* One try at the final replies, without waiting. */
		if (c->fd != -1)
			(void)evbuffer_write(c->out, c->fd);
		client_close(c, "shutting down");
	}
}

void
client_close_all(struct wrennd *wd, const char *reason)
{
	struct client *c;

	while ((c = TAILQ_FIRST(&wd->clients)) != NULL)
		client_close(c, reason);
}
