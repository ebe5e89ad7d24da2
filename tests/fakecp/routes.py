# SPDX-License-Identifier: MIT
"""The API route table, laid out like internal/api/server.go at 172413e.

Keep this file shaped like server.go: each r.Route() block there is one
nested function here, with the same middleware placement (Mux.use inside a
Route authenticates before route matching; with_() wraps single routes).
Routes of later passes go where their server.go counterparts are; the
comments mark the ones not emulated yet.
"""

import api_exec
import api_sandboxes
import api_snapshots
import authmw
import chimux
import stats


def build():
    """Return the root chimux.Mux of the Wrenn API."""
    r = chimux.Mux()

    # Not yet emulated: /openapi.yaml, /docs, /v1/auth/*, /auth/oauth/*,
    # /v1/api-keys, /v1/teams, /v1/users/search (chi 404 until added).

    def sandboxes(r):
        r.use(authmw.api_key_or_jwt)
        r.post("/", api_sandboxes.create)
        r.get("/", api_sandboxes.list_)
        r.get("/stats", stats.get_stats)

        def one(r):
            r.get("/", api_sandboxes.get)
            r.delete("/", api_sandboxes.destroy)
            r.post("/exec", api_exec.exec_)
            # Not yet: GET /exec/stream (WebSocket)
            r.post("/ping", api_sandboxes.ping)
            r.post("/pause", api_sandboxes.pause)
            r.post("/resume", api_sandboxes.resume)
            # Not yet: POST /files/write, /files/read, /files/stream/write,
            # /files/stream/read
            r.get("/metrics", api_sandboxes.metrics)

        r.route("/{id}", one)

    r.route("/v1/sandboxes", sandboxes)

    def snapshots(r):
        r.use(authmw.api_key_or_jwt)
        r.post("/", api_snapshots.create)
        r.get("/", api_snapshots.list_)
        r.delete("/{name}", api_snapshots.delete)

    r.route("/v1/snapshots", snapshots)

    # Not yet emulated: /v1/hosts (register, auth/refresh, heartbeat with
    # authmw.host_token, JWT group), /v1/channels, /v1/audit-logs,
    # /v1/admin (authmw.jwt_only + authmw.admin).
    return r
