/* SPDX-License-Identifier: MIT */
/*
 * REST pass-through: turns a method row plus validated params into one
 * upstream request (path template, query, JSON body, the call's
 * credential) and its answer into the call's reply. Also the one way
 * handlers build upstream requests: rest_request, rest_start and
 * rest_done, so the credential, deadline, cancel hook and error mapping
 * are the same everywhere.
 */
#ifndef WRENND_REST_H
#define WRENND_REST_H

#include <jansson.h>

#include "upstream.h"

struct call;
struct methods_row;
struct wrennd;
struct ws;
struct ws_opts;

/* Run call as a pass-through of its method row; answers it now or later. */
void rest_passthrough(struct call *call);

/*
 * The JSON body of call's row: its METHODS_IN_BODY params that are present (new
 * reference; NULL on OOM, nothing failed).
 */
json_t *rest_body(struct call *call);

/*
 * A new upstream request for call: verb, path (escaped, with any query),
 * the credential chosen at dispatch, body as compact JSON unless NULL, and
 * the request-timeout deadline (change it with upstream_req_set_timeout).
 * Owned by the caller until rest_start. NULL after the call has been
 * failed ("internal", out of memory).
 */
struct upstream_req *rest_request(
    struct call *call, const char *verb, const char *path, const json_t *body);

/*
 * rest_request with another credential than the call's: for a local
 * method that probes the control plane with the credential the
 * pass-throughs would use (daemon.status).
 */
struct upstream_req *rest_request_auth(struct call *call,
    enum upstream_auth auth, const char *verb, const char *path,
    const json_t *body);

/*
 * The same for work that serves several calls (a shared poll loop): the
 * credential is given (one a call was dispatched with); NULL on OOM,
 * nothing failed.
 */
struct upstream_req *rest_req_new(struct wrennd *wd, enum upstream_auth auth,
    const char *verb, const char *path, const json_t *body);
/*
 * The credential the control plane's sandbox proxy takes in the current
 * api dialect (dialect.h): none on the v0.1.5 server, whose proxy checks
 * nothing and would hand a key on to the sandboxed app; the API key
 * (X-API-Key, the only one it accepts) on the 172413e server or while
 * the dialect is not known.
 */
enum upstream_auth rest_proxy_auth(const struct wrennd *wd);

/*
 * rest_req_new through the control plane's sandbox proxy
 * (upstream_req_new_proxy; label is "{port}-{sandbox_id}", path the
 * origin-form target in the sandbox) with rest_proxy_auth's credential:
 * for work shared by several calls (a Jupyter kernel). NULL on OOM or a
 * label the proxy cannot route.
 */
struct upstream_req *rest_req_new_proxy(struct wrennd *wd, const char *label,
    const char *verb, const char *path, const json_t *body);

/*
 * A request for call through the control plane's sandbox proxy
 * (upstream_req_new_proxy): label is "{port}-{sandbox_id}", path the
 * origin-form target in the sandbox, with rest_proxy_auth's credential
 * and the request-timeout deadline; no body. Owned by the caller until
 * rest_start. NULL after the call has been failed ("internal").
 */
struct upstream_req *rest_request_proxy(
    struct call *call, const char *label, const char *verb, const char *path);

/*
 * The WebSocket URL (ws:// or wss://) of a control plane path such as
 * rest_sandbox_path's, in the api dialect's spelling (dialect.h), under
 * the base URL. 0 with *ret malloc'd, or -errno with *why set.
 */
int rest_ws_url(
    struct wrennd *wd, const char *path, char **ret, const char **why);

/*
 * Open a WebSocket to the control plane: o gives the URL, callbacks and
 * limits (and connect_host for the sandbox proxy); this adds the
 * credential auth as a request header (built in a buffer that is wiped,
 * never kept; none for UPSTREAM_AUTH_NONE), the daemon's TLS policy and
 * resolver, and ws-idle-timeout unless o has one. As ws_connect();
 * -ENOENT when that credential is not configured.
 */
int rest_ws_connect(struct wrennd *wd, enum upstream_auth auth,
    struct ws_opts *o, struct ws **ret);

/*
 * Send the in-band WebSocket authentication of the v0.1.5 admin stream
 * routes ({"type":"auth","token":JWT}, which take no header credential)
 * on ws, which is open: the first message, before start/connect. The
 * message is built in a buffer that is wiped and is never logged.
 * Returns 0, -ENOENT without a JWT, or as ws_send_text().
 */
int rest_ws_send_auth(struct wrennd *wd, struct ws *ws);

#define REST_CANCEL 0x1 /* the call's cancel hook aborts the request */

/*
 * Start req; done(req, result, arg) runs once, on a later loop turn. With
 * REST_CANCEL the call's cancel hook is set to abort it (a handler whose
 * own hook owns the request passes 0). Returns 0, or -errno after req was
 * freed and the call failed ("internal").
 */
int rest_start(struct call *call, struct upstream_req *req, unsigned flags,
    upstream_done_cb done, void *arg);

/* Whether an upstream result is a 2xx answer. */
int rest_ok(const struct upstream_result *res);

/*
 * The start of a done callback for a REST_CANCEL request: clears the
 * call's cancel hook; returns 0 for a 2xx answer, else -1 after failing
 * the call with the mapped upstream error.
 */
int rest_done(struct call *call, const struct upstream_result *res);

/*
 * "/v1/sandboxes/<escaped id><suffix>" (suffix may be ""), malloc'd, in
 * the 172413e spelling (requests map it to the server's dialect); NULL
 * with errno EINVAL when the id is "", "." or "..", ENOMEM on allocation
 * failure.
 */
char *rest_sandbox_path(const char *sandbox_id, const char *suffix);

/* Where the v0.1.5 server keeps the platform team's sandboxes. */
#define REST_ADMIN_SANDBOXES "/v1/admin/capsules"

/*
 * Whether call's row works on the platform team's sandboxes
 * (REST_ADMIN_SANDBOXES) rather than the team's: a row that takes a
 * platform admin's JWT (ROLE_CRED_ADMIN). Its WebSockets authenticate
 * with rest_ws_send_auth only.
 */
int rest_admin_route(const struct call *call);

/*
 * rest_sandbox_path for call's row: under REST_ADMIN_SANDBOXES for an
 * admin row (rest_admin_route), else the team's route. NULL with errno
 * as rest_sandbox_path.
 */
char *rest_call_sandbox_path(
    const struct call *call, const char *sandbox_id, const char *suffix);

/*
 * Expand a path template ("/v1/sandboxes/{sandbox_id}") from params,
 * escaping each value, and append the METHODS_IN_QUERY params present. Returns
 * a malloc'd string or NULL with err set.
 */
char *rest_build_path(const struct methods_row *m, const char *tmpl,
    json_t *params, char *err, size_t errlen);

#endif /* WRENND_REST_H */
