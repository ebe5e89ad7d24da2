/* SPDX-License-Identifier: MIT */
/*
 * Handlers for the methods that are more than one REST pass-through,
 * referenced from the method table (methods.c): api-sandbox.c
 * (wait_ready), api-audit.c (audit.list with all), api-files.c (file
 * transfers), api-daemon.c (rpc.describe, daemon.status), stream.c (exec
 * streams), rpc.c (rpc.hello). A leaf header: it only names types.
 */
#ifndef WRENND_API_H
#define WRENND_API_H

struct call;
struct wrennd;

struct api_sandbox;
struct api_files;

/* api-sandbox.c's state (struct wrennd's sandbox): NULL on OOM. Free it
 * after api_sandbox_shutdown. */
struct api_sandbox *api_sandbox_new(void);
void api_sandbox_free(struct api_sandbox *sb);

void api_sandbox_wait_ready(struct call *call);
/* Stop every wait_ready poll loop (shutdown). */
void api_sandbox_shutdown(struct wrennd *wd);

/* Number of sandboxes being polled for waiters. */
unsigned api_sandbox_watches(const struct wrennd *wd);

void api_audit_list(struct call *call);

void api_files_upload(struct call *call);
void api_files_download(struct call *call);
void api_files_stream_upload(struct call *call);
void api_files_stream_download(struct call *call);
/* api-files.c's state (struct wrennd's files): NULL on OOM. */
struct api_files *api_files_new(void);
/* At exit, after every call is gone: let go of file-transfer workers
 * still stuck in a blocking call (they free themselves if they return),
 * and free the state. */
void api_files_free(struct api_files *af);

void api_daemon_status(struct call *call);
void api_rpc_describe(struct call *call);

/* Exec streams (stream.c). */
void stream_exec(struct call *call);
void stream_attach(struct call *call);
void stream_list(struct call *call);
void stream_stop(struct call *call);

/* rpc.hello (rpc.c): protocol check and capability negotiation. */
void rpc_hello(struct call *call);

#endif /* WRENND_API_H */
