/* SPDX-License-Identifier: MIT */
/*
 * One call in flight: its id, method row and params, the handler's cancel
 * hook, and the helpers that send its final reply or its $/stream events.
 * A call gets exactly one final reply (result, error or cancelled) unless
 * its client went away first, in which case it is aborted silently.
 * Owned by its client; handlers keep only borrowed pointers to it and
 * must drop them in their cancel hook.
 */
#ifndef WRENND_CALL_H
#define WRENND_CALL_H

#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

struct client;
struct method;
struct wrennd;
struct upstream_result;

struct call;

#define CALL_MAX_FDS 4 /* file descriptors one request may carry */

typedef void (*call_cancel_cb)(struct call *call, void *arg);
typedef void (*call_drain_cb)(struct call *call, void *arg);

struct call {
	TAILQ_ENTRY(call) entry;     /* in the client's list */
	struct client *client;	     /* borrowed owner */
	struct wrennd *wd;	     /* borrowed */
	const struct method *method; /* borrowed, static */
	json_t *id;		     /* owned reference */
	json_t *params;		     /* owned reference, always an object */
	uint64_t seq;		     /* next $/stream sequence number */
	call_cancel_cb cancel;	     /* stops handler work; no reply */
	void *cancel_arg;
	void *state;	     /* handler's, freed by its cancel hook or
			      * before replying */
	call_drain_cb drain; /* client output drained (backpressure) */
	void *drain_arg;
	int fds[CALL_MAX_FDS]; /* owned: passed with the request line;
				* -1 once taken */
	unsigned nfds;
};

/* A new call owned by c; takes references on id and params. */
struct call *call_new(
    struct client *c, const struct method *m, json_t *id, json_t *params);

/*
 * Take ownership of the fd the parameter name refers to ({"$fd": n}).
 * Returns the fd, or -1 when the parameter is absent or already taken.
 */
int call_take_fd(struct call *call, const char *name);

/* Be told when the client's queued output drained below the low
 * watermark (NULL clears). */
void call_set_drain(struct call *call, call_drain_cb cb, void *arg);

/* Like call_event, with the caller's own sequence number. */
int call_event_seq(
    struct call *call, uint64_t seq, const char *event, json_t *fields_steal);

/* Set (or clear with NULL) the hook that undoes in-flight handler work. */
void call_set_cancel(struct call *call, call_cancel_cb cb, void *arg);

/* Send the final result (stolen) and free the call. */
void call_reply(struct call *call, json_t *result_steal);

/*
 * Send a final error and free the call. rpc_code is a JSON-RPC code,
 * data_code the stable string; extra_steal (may be NULL) is merged into
 * error.data.
 */
void call_fail(struct call *call, int rpc_code, const char *data_code,
    json_t *extra_steal, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * The JSON-RPC error object ({code, message, data}) for an HTTP error
 * answer of the control plane: its envelope's code and message, or a code
 * derived from the status for text answers. New reference, NULL on OOM.
 */
json_t *call_http_error(long status, const char *body, size_t body_len);

/*
 * An error object {"code": rpc, "message": ..., "data": {"code": dcode,
 * ...extra_steal}} (new reference; NULL on OOM).
 */
json_t *call_error_obj(int rpc, const char *dcode, json_t *extra_steal,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Send a final error from an error object (copied) and free the call. */
void call_fail_obj(struct call *call, const json_t *err);

/* Map an unsuccessful upstream result to the right error and free. */
void call_fail_upstream(struct call *call, const struct upstream_result *res);

/*
 * Turn a successful upstream response into a result: {} for empty
 * bodies, the parsed JSON otherwise. NULL (and *err set) when the body is
 * not JSON.
 */
json_t *call_upstream_json(const struct upstream_result *res, const char **err);

/*
 * Send a $/stream event with fields_steal merged in (may be NULL). Returns
 * 1 when the client is congested and the producer should pause, 0 if
 * not, -ENOMEM.
 */
int call_event(struct call *call, const char *event, json_t *fields_steal);

/* $/cancel: run the cancel hook, reply -32800 and free. */
void call_cancel(struct call *call);
/* Client gone: run the cancel hook and free without a reply. */
void call_abort(struct call *call);

#endif /* WRENND_CALL_H */
