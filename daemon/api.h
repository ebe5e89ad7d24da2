/* SPDX-License-Identifier: MIT */
/*
 * The method tables of the handler files, listed by methods.c, and the
 * few handler-file functions the rest of the daemon calls. Each file
 * defines its rows (struct methods_row, methods.h) beside its handlers and
 * exports them as one struct api_table. A leaf header: it only names
 * types.
 */
#ifndef WRENND_API_H
#define WRENND_API_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct methods_row;
struct wrennd;

/* One handler file's method rows: rows[0 .. n-1], in hello order. */
struct api_table {
	const struct methods_row *rows; /* static */
	size_t n;
};

/* The api_table of a static array of rows. */
#define API_TABLE(rows)                                                        \
	{                                                                      \
		(rows), sizeof(rows) / sizeof((rows)[0])                       \
	}

/*
 * The tables, in the order methods.c lists them (the hello order):
 * rpc.c: rpc.hello
 * api-daemon.c: rpc.describe, daemon.status
 * api-sandbox.c: sandboxes.*, sandbox.* but files and exec streams
 * api-files.c: sandbox.upload, download, stream_upload, stream_download
 * api-fsops.c: sandbox.list_files, mkdir, remove (filesystem operations)
 * api-proxy.c: sandbox.get_url, sandbox.http_request (the sandbox proxy)
 * api-process.c: sandbox.processes, sandbox.kill (background processes)
 * api-pty.c: sandbox.pty, streams.input, streams.resize (terminals)
 * stream.c: sandbox.exec_stream, streams.*
 * api-code.c: sandbox.run_code
 * api-snapshots.c: snapshots.*
 * api-account.c: api_keys.*, hosts.*, teams.*, users.*, channels.* (JWT)
 * api-audit.c: audit.list
 * api-admin.c: builds.*, admin.* (JWT of a platform admin)
 * portfwd.c: sandbox.port_forward, port_forwards.*
 * api-lease.c: leases.list, sandbox.keepalive
 */
extern const struct api_table rpc_methods;
extern const struct api_table api_daemon_methods;
extern const struct api_table api_sandbox_methods;
extern const struct api_table api_files_methods;
extern const struct api_table api_fsops_methods;
extern const struct api_table api_proxy_methods;
extern const struct api_table api_process_methods;
extern const struct api_table api_pty_methods;
extern const struct api_table stream_methods;
extern const struct api_table api_code_methods;
extern const struct api_table api_snapshots_methods;
extern const struct api_table api_account_methods;
extern const struct api_table api_audit_methods;
extern const struct api_table api_admin_methods;
extern const struct api_table portfwd_methods;
extern const struct api_table api_lease_methods;

struct api_sandbox;
struct api_files;
struct call;

/*
 * api-process.c, for the methods that name a process: call's param name
 * ("selector": a pid as a number, or a tag; "tag": a tag) as text into
 * buf (len bytes). Returns 0, or -1 after failing the call
 * (invalid_params).
 */
int api_process_selector(
    struct call *call, const char *name, char *buf, size_t len);

/* The row of selector (a pid's digits or a tag) in a process list body
 * {"processes": [...]} (borrowed from it), or NULL. */
const json_t *api_process_match(const json_t *list, const char *selector);

/*
 * ".../processes/<escaped selector><tail>" of a sandbox, as
 * rest_call_sandbox_path for call's row (tail may be ""); NULL with
 * errno EINVAL or ENOMEM.
 */
char *api_process_path(const struct call *call, const char *sandbox_id,
    const char *selector, const char *tail);

/*
 * Whether every value of call's envs param is a string (the server takes
 * an object of strings); 0, or -1 after failing the call.
 */
int api_process_envs_ok(struct call *call);

/*
 * Look the process named selector (a pid as text, or a tag) up in the
 * list of call's sandbox_id: done(call, process, arg) runs once, later,
 * with the server's row {pid, tag?, cmd, args?} (borrowed for the
 * callback) or NULL when it is not there; an upstream error fails the
 * call instead (done is not run). Returns 0, or -1 after failing call.
 */
typedef void (*api_process_found_cb)(
    struct call *call, const json_t *process, void *arg);
int api_process_find(struct call *call, const char *selector,
    api_process_found_cb done, void *arg);

/*
 * Start a background process for call as sandbox.exec {background: true}
 * does: POST .../exec of call's sandbox_id with body (cmd, args; this
 * adds "background": true). done(call, pid, arg) runs once, later, with
 * the server's pid; on an upstream error or an answer without a pid it
 * runs with pid -1 after the call was failed; if the call goes away
 * first the request is aborted and done runs with call NULL and pid -1
 * (the process may have started). Returns 0, or -1 after failing call
 * (done is not run).
 */
typedef void (*api_process_started_cb)(
    struct call *call, int64_t pid, void *arg);
int api_process_start(struct call *call, const json_t *body,
    api_process_started_cb done, void *arg);

/* The longest "{port}-{sandbox_id}" label of the sandbox proxy's host
 * name (one DNS label). */
#define API_PROXY_LABEL_MAX 63

/*
 * api-proxy.c, for every method that reaches into a sandbox through the
 * control plane's proxy: "{port}-{sandbox_id}" of call's sandbox_id into
 * label (len bytes), after checking the id has the form the proxy routes
 * (cl- and lower-case letters or digits). Returns 0, or -1 after failing
 * the call (invalid_params).
 */
int api_proxy_label(struct call *call, long port, char *label, size_t len);
/*
 * The proxy's host name for label (caller frees), or NULL after failing
 * the call: a base URL that is an IPv6 address has no name to put the
 * sandbox's label in front of.
 */
char *api_proxy_host(struct call *call, const char *label);
/*
 * Whether an answer of the sandbox proxy has the shape of the proxy's own
 * word that the sandbox is gone: status 404 with "sandbox not found", or
 * 409 "sandbox is not running (status: stopped)" (or error: the terminal
 * states), written as Go's http.Error writes them (content_type and
 * nosniff are the values of Content-Type and X-Content-Type-Options, NULL
 * when absent; body the whole body). An app can send the same bytes:
 * the sandbox's record decides (api_proxy_status_gone).
 */
int api_proxy_gone_shape(long status, const char *content_type,
    const char *nosniff, const char *body, size_t len);
/* Whether a sandbox record's status is a terminal one (stopped, error). */
int api_proxy_status_gone(const char *status);

/*
 * api-lease.c, for sandboxes.create: with {lease: "connection"} run the
 * create and lease the new sandbox to the calling connection, returning 1
 * (the call is answered now or later, also for bad lease params);
 * without a lease return 0 and leave the call alone.
 */
int api_lease_create(struct call *call);

/* api-sandbox.c's state (struct wrennd's sandbox): NULL on OOM. Free it
 * after api_sandbox_shutdown. */
struct api_sandbox *api_sandbox_new(void);
void api_sandbox_free(struct api_sandbox *sb);

/* Stop every wait_ready poll loop (shutdown). */
void api_sandbox_shutdown(struct wrennd *wd);

/* Number of sandboxes being polled for waiters. */
unsigned api_sandbox_watches(const struct wrennd *wd);

/* api-files.c's state (struct wrennd's files): NULL on OOM. */
struct api_files *api_files_new(void);
/* Streaming transfers counted against max-transfers (workers stuck in a
 * blocking read or write count until they return). */
unsigned api_files_active(const struct wrennd *wd);
/* At exit, after every call is gone: let go of file-transfer workers
 * still stuck in a blocking call (they free themselves if they return),
 * and free the state. */
void api_files_free(struct api_files *af);

#endif /* WRENND_API_H */
