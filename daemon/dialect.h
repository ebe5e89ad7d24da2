/* SPDX-License-Identifier: MIT */
/*
 * Which control plane wrennd talks to (CONTRACT.md section 11): the
 * 172413e routes under /v1/sandboxes or the v0.1.5 ones under
 * /v1/capsules, configured (api-dialect) or found by a probe of GET
 * /health. Holds the current dialect and the server's version, maps
 * every sandbox route to the server's spelling (one place: rest.c calls
 * dialect_map_path for every request and WebSocket) and gates calls:
 * a call that needs the control plane waits (bounded) for the probe, and
 * a row marked METHODS_NEEDS_CAPSULES fails locally with
 * "unsupported_by_server" against the older server, nothing sent.
 */
#ifndef WRENND_DIALECT_H
#define WRENND_DIALECT_H

#include <jansson.h>

struct call;
struct dialect;
struct upstream_result;
struct wrennd;

enum dialect_kind {
	DIALECT_UNKNOWN,   /* not probed yet, or the probe reached nobody */
	DIALECT_SANDBOXES, /* 172413e: /v1/sandboxes, no /health */
	DIALECT_CAPSULES,  /* v0.1.5: /v1/capsules, GET /health */
	DIALECT__MAX
};

/* What data.needs says for a row that needs the newer server. */
#define DIALECT_NEEDS_CAPSULES	"v0.1.5 (/v1/capsules)"
#define DIALECT_NEEDS_SANDBOXES "172413e (/v1/sandboxes)"

/*
 * The dialect state for wd, from wd->cfg's api-dialect ("auto",
 * "sandboxes" or "capsules"; conf.c checked it). NULL on OOM.
 */
struct dialect *dialect_new(struct wrennd *wd);
/* Cancel a probe in flight and free; calls still waiting are failed
 * ("shutting_down"). NULL is a no-op. */
void dialect_free(struct dialect *d);
/* Log the configured choice, or start the first probe (auto). */
void dialect_start(struct dialect *d);

/* The dialect in use (DIALECT_UNKNOWN until a probe found one). */
enum dialect_kind dialect_current(const struct dialect *d);
/* "unknown", "sandboxes", "capsules". */
const char *dialect_kind_name(enum dialect_kind k);
/* The configured api-dialect: "auto", "sandboxes" or "capsules". */
const char *dialect_mode_name(const struct dialect *d);
/* The server's version from GET /health, or NULL when not known. */
const char *dialect_server_version(const struct dialect *d);

/*
 * path (a control plane path, with any query) in the current dialect's
 * spelling: "/v1/sandboxes" and "/v1/sandboxes/..." become
 * "/v1/capsules..." on the v0.1.5 server; anything else is unchanged.
 * malloc'd; NULL on OOM.
 */
char *dialect_map_path(const struct dialect *d, const char *path);

/*
 * A request could not reach the control plane (connect, DNS, TLS): in
 * auto mode the next call probes again before it runs, as the server
 * may have been replaced while it was away.
 */
void dialect_unreachable(struct dialect *d);

/*
 * Admit call (already checked by the dispatcher) and run it with
 * run(call): at once for a method that needs no control plane or when
 * the dialect is known; after the probe when one is needed (the call
 * waits, bounded by the probe's deadline); or fail it: upstream_unreachable
 * while the dialect cannot be found, unsupported_by_server for a
 * METHODS_NEEDS_CAPSULES row on the older server, unauthorized for a
 * sandbox proxy row (ROLE_CRED_APIKEY) without an API key unless the
 * server is known to be v0.1.5 (the 172413e proxy takes X-API-Key only,
 * the v0.1.5 proxy no credential; a row that sends nothing is judged by
 * the dialect known so far, without waiting).
 */
void dialect_admit(struct call *call, void (*run)(struct call *call));

/*
 * A sandbox route answered with the server's own text 404 (no such route,
 * not the JSON envelope of a missing sandbox) while api-dialect is forced:
 * the configured dialect is not the server's. Fail call with
 * "upstream_protocol" saying so (data.api_dialect, status, body) and
 * return 1; 0 for any other answer (call untouched).
 */
int dialect_route_missing(struct call *call, const struct upstream_result *res);

/*
 * A WebSocket error message text (the "data" of {"type":"error"}) as the
 * typed error of the HTTP answer it replaced: the v0.1.5 server checks
 * credentials and the sandbox after the 101 (CONTRACT.md 11.2.1), so
 * "sandbox not found" is not_found (data.status 404), "sandbox is not
 * running (status: X)" invalid_state (409, data.sandbox_status X) and
 * "authentication failed" unauthorized (401), as the 172413e server's
 * HTTP answers were. A JSON-RPC error object (new reference), or NULL for
 * any other text.
 */
json_t *dialect_ws_error(const char *text);

/*
 * Fail call with "unsupported_by_server": what (e.g. "snapshots.create
 * with overwrite") needs the server named by needs (DIALECT_NEEDS_*);
 * data carries needs, dialect and server_version. Nothing was sent.
 */
void dialect_fail_unsupported(
    struct call *call, const char *what, const char *needs);

#endif /* WRENND_DIALECT_H */
