/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl internals shared by the library's files (never installed,
 * never exported: every name here starts with ctl_): the handle layout,
 * because conn.c (I/O), call.c (call table), hello.c (greeting) and
 * error.c (last error) all work on it, and the limits. Types and constants
 * only; the functions of module X (X.c) are declared in ctl-X.h.
 *
 * The modules form layers, each including only the headers of the ones
 * below it:
 *
 *   open.c      wrennctl_open*(): connect, greeting wait      (top)
 *   transfer.c  file transfers, built on calls
 *   call.c      calls in flight, replies, events; routes the messages conn
 *               decodes (struct ctl_conn_ops)
 *   hello.c     the greeting and its accessors
 *   conn.c      socket I/O, buffers, lines, close, the blocking loop
 *   error.c     the last error                                 (bottom)
 */
#ifndef WRENND_CTL_H
#define WRENND_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wrennctl.h"

#define CTL_MAX_LINE_DEFAULT	(64u * 1024 * 1024) /* bytes from the server */
#define CTL_MAX_LINE_MIN	1024		    /* bytes */
#define CTL_GREETING_TIMEOUT_MS 30000		    /* wrennctl_open() wait */
#define CTL_READ_CHUNK		65536		    /* bytes per recv() */
#define CTL_KEEP_BUFFER		(1024u * 1024)	    /* bytes kept when idle */
#define CTL_DISPATCH_BUDGET	64		    /* lines per process() */
#define CTL_NO_DEADLINE		UINT64_MAX
#define CTL_MAX_FDS		16 /* fds per call (SCM_RIGHTS allows 253) */
#define CTL_BARRIER_POLL_MS	2  /* re-check while an fd line waits */
#define CTL_OPEN_FLAGS		(WRENNCTL_OPEN_NONBLOCK | WRENNCTL_OPEN_FDS)

/* Connection states; see conn.c for the transitions. */
enum ctl_state {
	CTL_STATE_GREETING, /* connected, waiting for wrennd.hello */
	CTL_STATE_READY,    /* greeting read */
	CTL_STATE_CLOSED,   /* failed or closed: no more I/O */
	CTL_STATE__MAX
};

/* File descriptor passing ("fds" capability), see call.c. */
enum ctl_fds_state {
	CTL_FDS_OFF,	 /* not asked for */
	CTL_FDS_ASKED,	 /* rpc.hello {"enable":["fds"]} in flight */
	CTL_FDS_ON,	 /* wrennd said "fds" is enabled */
	CTL_FDS_REFUSED, /* wrennd does not offer it */
	CTL_FDS__MAX
};

/*
 * File descriptors that travel with the first byte of one queued line
 * (SCM_RIGHTS). Positions are absolute output offsets (see out_total).
 */
struct ctl_fdmark {
	uint64_t pos;	      /* the line's first byte */
	uint64_t end;	      /* just past the line's LF */
	int fds[CTL_MAX_FDS]; /* owned duplicates, closed once sent */
	size_t n;
	struct ctl_fdmark *next; /* owned by the list */
};

/* The last error of a handle (or of one reply while its callback runs). */
struct ctl_error {
	int code;	 /* WRENNCTL_E_*, 0 when no error */
	char *msg;	 /* owned; NULL when no error */
	json_t *json;	 /* owned: wire "error" object or a local one */
	char *json_text; /* owned: json dumped compactly */
};

/* One call in flight, awaiting its final reply. */
struct ctl_call {
	uint64_t id;
	wrennctl_event_fn on_event; /* NULL: events dropped */
	wrennctl_reply_fn on_reply; /* NULL: completion dropped */
	void *userdata;		    /* borrowed, passed through */
	int flags;
#define CTL_CALL_CANCELLED (1 << 0) /* $/cancel sent */
#define CTL_CALL_ABANDONED (1 << 1) /* blocking caller gave up (timeout) */
#define CTL_CALL_INTERNAL  (1 << 3) /* the library's own (rpc.hello) */
	struct ctl_call *next;	    /* owned by the list */
};

struct ctl_conn_ops;

struct wrennctl {
	int fd;				/* owned; -1 when none */
	const struct ctl_conn_ops *ops; /* borrowed, static: the call layer */
	enum ctl_state state;
	uint64_t timeout_ms; /* blocking-call deadline; 0 = none */
	size_t max_line;     /* bytes, LF excluded */
	uint64_t next_id;    /* next call id (1, 2, ...) */

	char *in;	/* owned: received bytes */
	size_t in_off;	/* start of undispatched data */
	size_t in_len;	/* end of received data */
	size_t in_size; /* allocated */
	size_t in_scan; /* bytes after in_off known to hold no LF */

	char *out;	    /* owned: bytes queued for the server */
	size_t out_off;	    /* first unsent byte */
	size_t out_len;	    /* end of queued bytes */
	size_t out_size;    /* allocated */
	uint64_t out_total; /* bytes ever queued: absolute offset of out_len */
	struct ctl_fdmark *marks;	/* owned FIFO, by pos */
	struct ctl_fdmark **marks_tail; /* where the next mark goes */
	int barrier; /* an fd line waits for wrennd to read what precedes it */
	enum ctl_fds_state fds; /* fd passing negotiation */

	struct ctl_call *calls; /* owned list of calls in flight */
	int n_calls;

	json_t *hello;	  /* owned: greeting params */
	char *hello_text; /* owned: hello dumped */

	struct ctl_error err;	    /* last error, see wrennctl_errmsg() */
	struct ctl_error close_err; /* why the connection closed */

	int eof;	    /* the server hung up (bytes may remain) */
	int dispatching;    /* callback nesting depth */
	int free_requested; /* wrennctl_free() called from a callback */
};

#endif /* WRENND_CTL_H */
