/* SPDX-License-Identifier: MIT */
/*
 * One call in flight: its id, method row, params, the local role and the
 * upstream credential chosen for it at dispatch (once), the handler's
 * cancel hook, and the helpers that send its final reply or its $/stream
 * events. A call gets exactly one final reply (result, error or
 * cancelled) unless its connection went away first, in which case it is
 * aborted silently. The struct is private to call.c: handlers keep only
 * borrowed pointers and must drop them in their cancel hook.
 *
 * Calls live on a call_list owned by the dispatcher's per-connection
 * state (rpc.c); call.c unlinks a call and tells the connection when it
 * ends.
 */
#ifndef WRENND_CALL_H
#define WRENND_CALL_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "client.h"
#include "role.h"
#include "upstream.h"

struct methods_row;
struct wrennd;

struct call;
TAILQ_HEAD(call_list, call);

#define CALL_MAX_FDS CLIENT_MAX_FDS /* descriptors one request may carry */

typedef void (*call_cancel_cb)(struct call *call, void *arg);
typedef void (*call_drain_cb)(struct call *call, void *arg);
typedef void (*call_done_cb)(struct call *call, void *arg);

/*
 * A new call on list for connection c of method m (opaque here; name is
 * its static name, for logs), with the role and credential the dispatcher
 * chose; takes references on id and params (NULL: {}) and ownership of
 * the nfds descriptors in fds. NULL on OOM (fds untouched).
 */
struct call *call_new(struct call_list *list, struct client *c,
    const struct methods_row *m, const char *name, enum role role,
    enum upstream_auth auth, json_t *id, json_t *params, const int *fds,
    unsigned nfds);

/* The call on list with this id, or NULL. */
struct call *call_find(struct call_list *list, const json_t *id);
/* Connection gone: abort every call on list (cancel hooks, no replies). */
void call_abort_all(struct call_list *list);
/*
 * The drain deadline passed (SIGTERM, drain-timeout ms ago): end every
 * call on list. Each one's cancel hook runs first (its upstream work
 * stops: a request is aborted, never completed), a streaming call gets a
 * last "error" event {code: "shutting_down", message}, then the final
 * error shutting_down with data.drain_timeout_ms.
 */
void call_shutdown_all(struct call_list *list, long drain_timeout_ms);
/*
 * The connection's output drained: run the drain hooks of the calls on
 * list while the connection stays active and uncongested. A hook may
 * finish its own call but no other.
 */
void call_drained_all(struct call_list *list);

/* Borrowed accessors, valid while the call lives. */
struct wrennd *call_wd(const struct call *call);
struct client *call_client(const struct call *call);
const struct methods_row *call_method(const struct call *call);
/* The params object (never NULL). */
json_t *call_params(const struct call *call);
/* The connection's role when the call was made. */
enum role call_role(const struct call *call);
/*
 * Whether the call's peer may see and touch sandbox_id: users and admins
 * always, a tool only its own (owner.h).
 */
int call_may_access(const struct call *call, const char *sandbox_id);
/*
 * Keep only the objects of array whose string member key names a sandbox
 * the call's peer may access (call_may_access); a no-op for users and
 * admins and for anything but an array.
 */
void call_filter_access(
    const struct call *call, json_t *array, const char *key);
/* The credential every upstream request of this call carries. */
enum upstream_auth call_auth(const struct call *call);

/*
 * Take ownership of the fd the parameter name refers to ({"$fd": n}).
 * Returns the fd, or -1 when the parameter is absent or already taken.
 */
int call_take_fd(struct call *call, const char *name);

/* Be told when the client's queued output drained below the low
 * watermark (NULL clears). */
void call_set_drain(struct call *call, call_drain_cb cb, void *arg);

/*
 * Be told once when the call ends, whatever ends it (reply, error,
 * cancel, its connection gone), just before it is freed (NULL clears).
 * For bookkeeping only: the hook must not answer or touch the call.
 */
void call_set_done(struct call *call, call_done_cb cb, void *arg);

/* Set (or clear with NULL) the hook that undoes in-flight handler work. */
void call_set_cancel(struct call *call, call_cancel_cb cb, void *arg);

/* Send the final result (stolen) and free the call. */
void call_reply(struct call *call, json_t *result_steal);

/*
 * Send a final error and free the call. rpc_code is a JSON-RPC code,
 * data_code the stable string; extra_steal (may be NULL) is merged into
 * error.data; the message is formatted here, from fmt. This is the one
 * way a handler reports an error (docs/ARCHITECTURE.md, "Errors"): the
 * handler's state is still alive while the arguments are formatted, and
 * is freed after the call was answered.
 */
void call_fail(struct call *call, int rpc_code, const char *data_code,
    json_t *extra_steal, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* call_fail for a wrapper of a handler's own (its arguments in ap). */
void call_vfail(struct call *call, int rpc_code, const char *data_code,
    json_t *extra_steal, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
/* call_fail with "internal" and "out of memory". */
void call_fail_oom(struct call *call);

/*
 * The JSON-RPC error object ({code, message, data}) for an HTTP error
 * answer of the control plane: its envelope's code and message, or a code
 * derived from the status for text answers. New reference, NULL on OOM.
 */
json_t *call_http_error(long status, const char *body, size_t body_len);

/*
 * The control plane's error envelope ({"error": {"code", "message"}}) in
 * body: the parsed document (new reference, the caller decrefs) with
 * *code and *msg borrowed from it (NULL when absent), or NULL when body
 * is not JSON.
 */
json_t *call_envelope(
    const char *body, size_t len, const char **code, const char **msg);

/*
 * An error object {"code": rpc, "message": ..., "data": {"code": dcode,
 * ...extra_steal}} (new reference; NULL on OOM), for an error that is
 * kept and sent to several calls (stream followers) with call_fail_obj.
 */
json_t *call_error_obj(int rpc, const char *dcode, json_t *extra_steal,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Send a final error from an error object (copied) and free the call. */
void call_fail_obj(struct call *call, const json_t *err);

/* The data.code and message of every refusal or end that the drain
 * (SIGTERM) causes: new connections, new calls, calls past the deadline. */
#define CALL_SHUTDOWN_CODE "shutting_down"
#define CALL_SHUTDOWN_MSG  "wrennd is shutting down"

/* Map an unsuccessful upstream result to the right error and free. */
void call_fail_upstream(struct call *call, const struct upstream_result *res);

/*
 * Turn a successful upstream response into a result: {} for empty
 * bodies, the parsed JSON otherwise. NULL (and *err set) when the body is
 * not JSON.
 */
json_t *call_upstream_json(const struct upstream_result *res, const char **err);

/*
 * Send a $/stream event with fields_steal merged in (may be NULL), with
 * the call's next sequence number (one past the last one sent). Returns 1 when
 * the client is congested and the producer should pause, 0 if not, -ENOMEM.
 */
int call_event(struct call *call, const char *event, json_t *fields_steal);
/* Like call_event, with the caller's own sequence number. */
int call_event_seq(
    struct call *call, uint64_t seq, const char *event, json_t *fields_steal);

/* $/cancel: run the cancel hook, reply -32800 and free. */
void call_cancel(struct call *call);

#endif /* WRENND_CALL_H */
