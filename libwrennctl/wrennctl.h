/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl: the client library for wrennd, the local gateway to the Wrenn
 * cloud sandbox control plane. It speaks wrenn-ipc/1 (protocol/PROTOCOL.md)
 * over wrennd's Unix socket: one JSON-RPC 2.0 object per line, many calls in
 * flight on one connection, replies matched by id, streamed events, cancel.
 *
 * The API is generic: a call names a wire method ("sandboxes.get") and takes
 * its params as a JSON object text; the result comes back as JSON text. New
 * wire methods therefore need no new library symbols.
 *
 * Conventions (the same as sd-bus):
 *  - Functions returning int give 0 (or a documented non-negative value) on
 *    success and a negative WRENNCTL_E_* code on failure.
 *  - Results go out through ret_* parameters that are left untouched on
 *    failure. A returned "char *" belongs to the caller (free(3) it); a
 *    returned "const char *" is borrowed, with the lifetime documented.
 *  - A "const char *" argument is borrowed for the duration of the call.
 *  - The library never logs, never calls exit() or abort(), and does not
 *    raise SIGPIPE (it sends with MSG_NOSIGNAL).
 *
 * Threads: the library has no global state. One handle may be used by only
 * one thread at a time (serialise with your own lock if you must share it);
 * different handles may be used concurrently from different threads.
 *
 * Callbacks run only inside wrennctl_process(), the blocking calls
 * (wrennctl_call, wrennctl_call_stream, wrennctl_call_fds,
 * wrennctl_stream_upload, wrennctl_stream_download, wrennctl_flush) and
 * wrennctl_free(). Inside a callback you may call the *_async functions,
 * wrennctl_cancel(), the accessors and wrennctl_free(); every other
 * function that takes the handle returns WRENNCTL_E_INVAL there.
 *
 * The header is C89 plus <stdint.h>; it exposes no struct layout.
 */
#ifndef WRENND_WRENNCTL_H
#define WRENND_WRENNCTL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time version of this header. */
#define WRENNCTL_VERSION_MAJOR 0
#define WRENNCTL_VERSION_MINOR 1
#define WRENNCTL_VERSION_PATCH 0
#define WRENNCTL_VERSION_NUM   0x000100 /* 0xMMmmpp */
#define WRENNCTL_AT_LEAST(major, minor, patch)                                 \
	(WRENNCTL_VERSION_NUM >= (((major) << 16) | ((minor) << 8) | (patch)))

#if defined(__GNUC__) && __GNUC__ >= 4
#define WRENNCTL_EXPORT __attribute__((visibility("default")))
#else
#define WRENNCTL_EXPORT
#endif

/*
 * Error codes. Explicitly numbered and append-only: a number is never reused
 * or renumbered; a retired code stays reserved. Switch on these (or on
 * wrennctl_err_data_code()), never on message text.
 */
enum wrennctl_error {
	WRENNCTL_OK = 0,
	/* Local failures. */
	WRENNCTL_E_NOMEM = -1,	   /* out of memory */
	WRENNCTL_E_INVAL = -2,	   /* invalid argument or misuse */
	WRENNCTL_E_CONNECT = -3,   /* cannot connect, or connection lost */
	WRENNCTL_E_PROTOCOL = -4,  /* wrennd sent something unexpected */
	WRENNCTL_E_TIMEOUT = -5,   /* local or daemon timeout ("timeout") */
	WRENNCTL_E_CANCELLED = -6, /* the call was cancelled */
	/* Errors reported by wrennd (data.code in parentheses). */
	WRENNCTL_E_VALIDATION = -7,	/* invalid_request, invalid_params */
	WRENNCTL_E_AUTHENTICATION = -8, /* unauthorized */
	WRENNCTL_E_FORBIDDEN = -9,	/* forbidden, no_team, local role */
	WRENNCTL_E_NOT_FOUND = -10,	/* not_found */
	WRENNCTL_E_CONFLICT = -11,	/* invalid_state, conflict, ... */
	WRENNCTL_E_HOST_HAS_SANDBOXES = -12, /* has_active_sandboxes */
	WRENNCTL_E_HOST_UNAVAILABLE = -13,   /* host_unavailable */
	WRENNCTL_E_AGENT = -14,		     /* agent_error */
	WRENNCTL_E_INTERNAL = -15,	     /* internal_error, db_error, ... */
	WRENNCTL_E_METHOD_NOT_FOUND = -16,   /* method_not_found (-32601) */
	WRENNCTL_E_TOO_LARGE = -17,	     /* too_large */
	WRENNCTL_E_UPSTREAM = -18, /* upstream_unreachable, upstream_protocol */
	WRENNCTL_E_SHUTTING_DOWN = -19, /* shutting_down */
	WRENNCTL_E_APPLICATION = -20,	/* any other error reported by wrennd */
	WRENNCTL_E_BUSY = -21,		/* too_many_clients: retry later */
	WRENNCTL_E_INTEGRITY = -22,   /* integrity: transferred file differs */
	WRENNCTL_E_IO = -23,	      /* io_error: wrennd could not use a fd */
	WRENNCTL_E_UNSUPPORTED = -24, /* wrennd lacks a needed capability */
	/* Errors of the v0.1.5 control plane and its dialect. */
	WRENNCTL_E_NO_HOSTS = -25, /* no_hosts_available: retry later */
	WRENNCTL_E_UNSUPPORTED_BY_SERVER = -26, /* unsupported_by_server */
	WRENNCTL_E_ACCOUNT = -27 /* account_deactivated, _disabled, ... */
};

/* Flags for wrennctl_open() and wrennctl_open_fd(). */
#define WRENNCTL_OPEN_NONBLOCK (1u << 0) /* do not wait for the greeting */
#define WRENNCTL_OPEN_FDS      (1u << 1) /* enable fd passing at once */

/* Flags for the file transfer functions (wrennctl_stream_upload, ...). */
#define WRENNCTL_VERIFY (1u << 0) /* check size and SHA-256 in the sandbox */

/* Opaque connection handle. */
struct wrennctl;

/*
 * Completion of a call started with wrennctl_call_async(). Called exactly
 * once per successfully started call: with the final reply, when the
 * connection fails (WRENNCTL_E_CONNECT or WRENNCTL_E_PROTOCOL), or from
 * wrennctl_free() (WRENNCTL_E_CANCELLED). status is 0 or a WRENNCTL_E_*
 * code. json is borrowed and valid only during the callback: the result
 * JSON text on success, the wire "error" object as JSON text on an error
 * reported by wrennd, NULL on a local failure. While the callback runs, the
 * wrennctl_err* accessors describe this call's error.
 */
typedef void (*wrennctl_reply_fn)(struct wrennctl *h, uint64_t id, int status,
    const char *json, void *userdata);

/*
 * One "$/stream" event of a streaming call (for example "start", "stdout",
 * "stderr", "exit", "error", "lost", "progress"; unknown kinds will be
 * added, so ignore those you do not know). event is "" when the server sent
 * none. json is the notification's params object as JSON text, with the
 * call's id, the stream's own sequence number seq and the event's members:
 * {"id":..,"seq":N,"event":..,...}. Both are borrowed, valid only during
 * the callback. Events always arrive before the call's final reply.
 */
typedef void (*wrennctl_event_fn)(struct wrennctl *h, uint64_t id,
    const char *event, const char *json, void *userdata);

/*
 * Progress of a file transfer (wrennctl_stream_upload() and friends): the
 * bytes moved so far and the total size, or -1 when wrennd does not know it
 * (a pipe or a socket). Called at most every 250 ms, and once at the end.
 * id is the call's id, for wrennctl_cancel().
 */
typedef void (*wrennctl_progress_fn)(struct wrennctl *h, uint64_t id,
    uint64_t bytes, int64_t total, void *userdata);

/* --- Version ------------------------------------------------------------ */

/* Run-time library version, e.g. "0.1.0". Static string. */
WRENNCTL_EXPORT const char *wrennctl_version(void);

/* Run-time library version as 0xMMmmpp, comparable to WRENNCTL_VERSION_NUM. */
WRENNCTL_EXPORT uint32_t wrennctl_version_num(void);

/* --- Errors ------------------------------------------------------------- */

/*
 * Static English description of a WRENNCTL_E_* code (0 gives "success").
 * Unknown codes give "unknown error". Never NULL.
 */
WRENNCTL_EXPORT const char *wrennctl_strerror(int code);

/*
 * Detail of the last failure on h (for example "sandbox not found" or
 * "connect /run/wrennd/wrennd.sock: No such file or directory"), "" when
 * the last call succeeded. Borrowed: valid until the next call on h that is
 * not an accessor. Never NULL.
 */
WRENNCTL_EXPORT const char *wrennctl_errmsg(const struct wrennctl *h);

/*
 * The stable error name of the last failure: the wire error's data.code
 * ("not_found", "has_active_sandboxes", "upstream_unreachable", ...), or
 * for local failures one of "nomem", "invalid_argument", "connect",
 * "protocol", "timeout", "cancelled", "unsupported". NULL when there is no
 * error or the server sent no data.code. Borrowed, same lifetime as
 * wrennctl_errmsg().
 */
WRENNCTL_EXPORT const char *wrennctl_err_data_code(const struct wrennctl *h);

/* HTTP status of the last upstream error (data.status), or 0. */
WRENNCTL_EXPORT int wrennctl_err_http_status(const struct wrennctl *h);

/* JSON-RPC error code of the last wire error (e.g. -32602), or 0. */
WRENNCTL_EXPORT int wrennctl_err_rpc_code(const struct wrennctl *h);

/*
 * The last error as a JSON object text: the wire "error" member verbatim
 * ({"code":..,"message":..,"data":{..}}), or for local failures
 * {"message":..,"data":{"code":"connect","source":"libwrennctl"}}. NULL when
 * there is no error (or when even that could not be allocated). Borrowed,
 * same lifetime as wrennctl_errmsg().
 */
WRENNCTL_EXPORT const char *wrennctl_err_json(const struct wrennctl *h);

/*
 * The i-th sandbox id attached to the last error (data.sandbox_ids, sent
 * with WRENNCTL_E_HOST_HAS_SANDBOXES), or NULL past the end. Borrowed, same
 * lifetime as wrennctl_errmsg().
 */
WRENNCTL_EXPORT const char *wrennctl_err_sandbox_id(
    const struct wrennctl *h, size_t i);

/* --- Connection --------------------------------------------------------- */

/*
 * Resolve the socket path the library would use for path: path itself if
 * non-NULL and non-empty, else $WRENND_SOCKET, else
 * $XDG_RUNTIME_DIR/wrennd/wrennd.sock, else /run/wrennd/wrennd.sock.
 * *ret_path is malloc'd and owned by the caller.
 */
WRENNCTL_EXPORT int wrennctl_socket_path(const char *path, char **ret_path);

/*
 * Connect to wrennd at path (NULL: see wrennctl_socket_path()) and wait for
 * its greeting. Same as wrennctl_open(path, 0, ret). On failure nothing is
 * allocated and, for WRENNCTL_E_CONNECT, errno holds the reason.
 */
WRENNCTL_EXPORT int wrennctl_new(const char *path, struct wrennctl **ret);

/*
 * Connect to wrennd at path. Without WRENNCTL_OPEN_NONBLOCK it waits up to
 * 30 seconds for the "wrennd.hello" greeting (else WRENNCTL_E_TIMEOUT) and
 * fails with WRENNCTL_E_PROTOCOL if something else arrives or the server
 * speaks another protocol major version; a refusal line from wrennd gives
 * its code (WRENNCTL_E_BUSY, WRENNCTL_E_SHUTTING_DOWN). With
 * WRENNCTL_OPEN_NONBLOCK it returns at once; the greeting is read by
 * wrennctl_process() (or any blocking call). The new handle is owned by the
 * caller; release it with wrennctl_free().
 *
 * WRENNCTL_OPEN_FDS enables file descriptor passing right away (rpc.hello
 * {"enable":["fds"]}); without NONBLOCK, open then also waits for that
 * answer and fails with WRENNCTL_E_UNSUPPORTED when wrennd does not offer
 * the "fds" capability. Without the flag the library negotiates it the first
 * time a call carries fds, so the flag only moves the round trip (and the
 * failure) to the open.
 */
WRENNCTL_EXPORT int wrennctl_open(
    const char *path, unsigned int flags, struct wrennctl **ret);

/*
 * Like wrennctl_open() on an already connected stream socket fd (socket
 * activation, an inherited or passed fd, tests). The handle takes ownership
 * of fd on success only and sets it non-blocking.
 */
WRENNCTL_EXPORT int wrennctl_open_fd(
    int fd, unsigned int flags, struct wrennctl **ret);

/*
 * Close the connection and free h. Calls still in flight complete with
 * WRENNCTL_E_CANCELLED through their reply callbacks (the server cancels them
 * when the connection closes). Called from inside a callback, the handle is
 * freed when the outermost library call returns. Returns NULL, so
 * h = wrennctl_free(h) is the idiom; wrennctl_free(NULL) does nothing.
 */
WRENNCTL_EXPORT struct wrennctl *wrennctl_free(struct wrennctl *h);

/*
 * Local deadline for each blocking call (wrennctl_call, wrennctl_call_stream,
 * wrennctl_flush), in milliseconds; 0 (the default) means none. When it
 * expires the call is cancelled on the server, its late reply is dropped,
 * and the call returns WRENNCTL_E_TIMEOUT.
 */
WRENNCTL_EXPORT int wrennctl_set_timeout(
    struct wrennctl *h, uint64_t timeout_ms);

/*
 * Longest line accepted from wrennd in bytes (default 64 MiB, minimum 1024).
 * A longer line is WRENNCTL_E_PROTOCOL and closes the connection.
 */
WRENNCTL_EXPORT int wrennctl_set_max_line(struct wrennctl *h, size_t max_line);

/* --- The server's greeting ---------------------------------------------- */

/*
 * All accessors below return NULL / -1 / 0 until the "wrennd.hello"
 * greeting has been read (wrennctl_new() waits for it). Strings are
 * borrowed and valid until wrennctl_free().
 */

/* The greeting's params object as JSON text. */
WRENNCTL_EXPORT const char *wrennctl_hello_json(const struct wrennctl *h);

/* The server version (params.version), e.g. "0.1.0". */
WRENNCTL_EXPORT const char *wrennctl_server_version(const struct wrennctl *h);

/*
 * A limit advertised in params.limits ("max_line", "max_inflight",
 * "max_fds"), or -1 when absent.
 */
WRENNCTL_EXPORT int64_t wrennctl_server_limit(
    const struct wrennctl *h, const char *name);

/* The i-th method name in params.methods, or NULL past the end. */
WRENNCTL_EXPORT const char *wrennctl_server_method(
    const struct wrennctl *h, size_t i);

/* 1 if the server lists method (or capability name), else 0. */
WRENNCTL_EXPORT int wrennctl_server_has_method(
    const struct wrennctl *h, const char *method);
WRENNCTL_EXPORT int wrennctl_server_has_capability(
    const struct wrennctl *h, const char *name);

/* The role wrennd gave this connection ("admin", "user", "tool"), or NULL. */
WRENNCTL_EXPORT const char *wrennctl_peer_role(const struct wrennctl *h);

/* --- Calls -------------------------------------------------------------- */

/*
 * Call method with params_json (a JSON object text; NULL or "" sends no
 * params, which the server treats as {}), wait for the final reply and
 * store the result as JSON text in *ret_result (malloc'd, owned by the
 * caller; may be NULL if the result is not wanted). On an error reply
 * returns the mapped WRENNCTL_E_* code; the wrennctl_err* accessors give
 * the details. Other calls' callbacks may run while it waits.
 */
WRENNCTL_EXPORT int wrennctl_call(struct wrennctl *h, const char *method,
    const char *params_json, char **ret_result);

/*
 * Like wrennctl_call() for a streaming method: on_event (may be NULL) is
 * called for every "$/stream" event of the call before it returns. The
 * callback may call wrennctl_cancel(h, id); the call then ends with
 * WRENNCTL_E_CANCELLED (unless the final reply was already on its way).
 */
WRENNCTL_EXPORT int wrennctl_call_stream(struct wrennctl *h, const char *method,
    const char *params_json, wrennctl_event_fn on_event, void *userdata,
    char **ret_result);

/*
 * Start a call without waiting. The request is queued (and written at once
 * if the socket takes it); on_event (may be NULL) gets its stream events and
 * on_reply (may be NULL) its completion, both from wrennctl_process(). The
 * call id goes to *ret_id (may be NULL). userdata is passed through.
 */
WRENNCTL_EXPORT int wrennctl_call_async(struct wrennctl *h, const char *method,
    const char *params_json, wrennctl_event_fn on_event,
    wrennctl_reply_fn on_reply, void *userdata, uint64_t *ret_id);

/*
 * Like wrennctl_call_stream(), passing n_fds file descriptors (fds[0..n-1])
 * with the request; params_json refers to fds[i] as {"$fd":i}, and every
 * fd must be referenced exactly once (else WRENNCTL_E_INVAL). The fds stay
 * the caller's: the library sends duplicates (SCM_RIGHTS, with the first
 * byte of the request line) and closes those. The "fds" capability is
 * negotiated on first use (see WRENNCTL_OPEN_FDS); WRENNCTL_E_UNSUPPORTED
 * when wrennd does not offer it. n_fds may be 0 (fds may then be NULL).
 * At most limits.max_fds of the greeting, and at most 16, per call.
 */
WRENNCTL_EXPORT int wrennctl_call_fds(struct wrennctl *h, const char *method,
    const char *params_json, const int *fds, size_t n_fds,
    wrennctl_event_fn on_event, void *userdata, char **ret_result);

/*
 * Like wrennctl_call_async(), passing file descriptors as described for
 * wrennctl_call_fds(). The fds are duplicated before it returns, so the
 * caller may close its own at once. May be called from a callback.
 */
WRENNCTL_EXPORT int wrennctl_call_async_fds(struct wrennctl *h,
    const char *method, const char *params_json, const int *fds, size_t n_fds,
    wrennctl_event_fn on_event, wrennctl_reply_fn on_reply, void *userdata,
    uint64_t *ret_id);

/*
 * Ask wrennd to cancel call id (sends "$/cancel"). The call still completes
 * exactly once, normally with WRENNCTL_E_CANCELLED. Returns WRENNCTL_E_INVAL
 * if id is not a call in flight on h.
 */
WRENNCTL_EXPORT int wrennctl_cancel(struct wrennctl *h, uint64_t id);

/* Number of calls in flight on h that still await their final reply. */
WRENNCTL_EXPORT int wrennctl_pending_calls(const struct wrennctl *h);

/* --- File transfer ---------------------------------------------------------
 */

/*
 * Stream everything readable from fd into the file path of sandbox
 * sandbox_id (method sandbox.stream_upload; the file is created or
 * replaced). fd may be a regular file (read from its current offset), a
 * pipe or a socket; it stays the caller's (wrennd reads a duplicate, and may
 * set O_NONBLOCK on a pipe or socket, which is shared with the caller's fd).
 * flags: WRENNCTL_VERIFY makes wrennd compare size and SHA-256 with the
 * file in the sandbox afterwards; a mismatch is WRENNCTL_E_INTEGRITY (the
 * wrennctl_err_json() data has size, sha256, sandbox_size, sandbox_sha256).
 * A local read error of wrennd is WRENNCTL_E_IO. on_progress (may be NULL)
 * sees the progress events. On success *ret_result (may be NULL) is the
 * result JSON {"size":N,"sha256":"...","verified":bool}, owned by the caller.
 */
WRENNCTL_EXPORT int wrennctl_stream_upload(struct wrennctl *h,
    const char *sandbox_id, const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, char **ret_result);

/*
 * Stream the file path of sandbox sandbox_id into fd (method
 * sandbox.stream_download), which may be a regular file (written from its
 * current offset; not truncated), a pipe or a socket. Otherwise as
 * wrennctl_stream_upload(): with WRENNCTL_VERIFY a short or corrupted
 * download is WRENNCTL_E_INTEGRITY, a local write error WRENNCTL_E_IO.
 */
WRENNCTL_EXPORT int wrennctl_stream_download(struct wrennctl *h,
    const char *sandbox_id, const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, char **ret_result);

/*
 * The asynchronous forms of the two calls above, for event loops: progress
 * goes to on_progress and the completion to on_reply (json is the result
 * object on success), both from wrennctl_process(). fd is duplicated before
 * they return. May be called from a callback.
 */
WRENNCTL_EXPORT int wrennctl_stream_upload_async(struct wrennctl *h,
    const char *sandbox_id, const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, wrennctl_reply_fn on_reply,
    void *userdata, uint64_t *ret_id);
WRENNCTL_EXPORT int wrennctl_stream_download_async(struct wrennctl *h,
    const char *sandbox_id, const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, wrennctl_reply_fn on_reply,
    void *userdata, uint64_t *ret_id);

/* --- Event loop integration (like sd_bus_get_fd / sd_bus_process) ------- */

/*
 * The connection's file descriptor, for poll(2)/epoll/libevent. It stays
 * owned by h and open until wrennctl_free().
 */
WRENNCTL_EXPORT int wrennctl_get_fd(const struct wrennctl *h);

/*
 * The poll(2) events to wait for: POLLIN, plus POLLOUT while output is
 * queued (values from <poll.h>). Negative WRENNCTL_E_* once the connection
 * has failed. A request carrying fds is only sent once wrennd has read
 * everything before it (so the fds cannot be taken for an earlier line's);
 * during that short wait POLLOUT is asked for although process() may make
 * no progress.
 */
WRENNCTL_EXPORT int wrennctl_get_events(const struct wrennctl *h);

/*
 * Do pending I/O without blocking and dispatch what arrived (callbacks run
 * here). Returns 1 if it made progress and should be called again before
 * waiting, 0 if there is nothing to do until the fd is ready, or a negative
 * code when the connection failed (all calls in flight have then completed
 * with that code).
 */
WRENNCTL_EXPORT int wrennctl_process(struct wrennctl *h);

/*
 * Wait until the fd is ready for wrennctl_get_events(), at most timeout_ms
 * milliseconds (UINT64_MAX: forever). Returns 1 when ready, 0 on timeout or
 * signal, negative on failure. Does not dispatch.
 */
WRENNCTL_EXPORT int wrennctl_wait(struct wrennctl *h, uint64_t timeout_ms);

/* Block until all queued output is written (bounded by the timeout). */
WRENNCTL_EXPORT int wrennctl_flush(struct wrennctl *h);

#ifdef __cplusplus
}
#endif

#endif /* WRENND_WRENNCTL_H */
