# SPDX-License-Identifier: MIT
"""The API route table, laid out like internal/api/server.go at 172413e.

Keep this file shaped like server.go: each r.Route() block there is one
nested function here, with the same middleware placement (Mux.use inside a
Route authenticates before route matching; with_() wraps single routes).
Routes of later passes go where their server.go counterparts are; the
comments mark the ones not emulated yet.
"""

import api_admin
import api_audit
import api_channels
import api_exec
import api_files
import api_hosts
import api_keys
import api_sandboxes
import api_snapshots
import api_stream
import api_teams
import api_users
import authmw
import chimux
import stats


def build():
    """Return the root chimux.Mux of the Wrenn API."""
    r = chimux.Mux()

    # Not yet emulated: /openapi.yaml, /docs, /v1/auth/*, /auth/oauth/*
    # (chi 404 until added).

    def api_keys_(r):
        r.use(authmw.jwt_only)
        r.post("/", api_keys.create)
        r.get("/", api_keys.list_)
        r.delete("/{id}", api_keys.delete)

    r.route("/v1/api-keys", api_keys_)

    def teams(r):
        r.use(authmw.jwt_only)
        r.get("/", api_teams.list_)
        r.post("/", api_teams.create)

        def team(r):
            r.get("/", api_teams.get)
            r.patch("/", api_teams.rename)
            r.delete("/", api_teams.delete)
            r.get("/members", api_teams.list_members)
            r.post("/members", api_teams.add_member)
            r.patch("/members/{uid}", api_teams.update_member_role)
            r.delete("/members/{uid}", api_teams.remove_member)
            r.post("/leave", api_teams.leave)

        r.route("/{id}", team)

    r.route("/v1/teams", teams)

    r.with_(authmw.jwt_only).get("/v1/users/search", api_users.search)

    def sandboxes(r):
        r.use(authmw.api_key_or_jwt)
        r.post("/", api_sandboxes.create)
        r.get("/", api_sandboxes.list_)
        r.get("/stats", stats.get_stats)

        def one(r):
            r.get("/", api_sandboxes.get)
            r.delete("/", api_sandboxes.destroy)
            r.post("/exec", api_exec.exec_)
            r.get("/exec/stream", api_stream.exec_stream)
            r.post("/ping", api_sandboxes.ping)
            r.post("/pause", api_sandboxes.pause)
            r.post("/resume", api_sandboxes.resume)
            r.post("/files/write", api_files.write)
            r.post("/files/read", api_files.read)
            r.post("/files/stream/write", api_files.stream_write)
            r.post("/files/stream/read", api_files.stream_read)
            r.get("/metrics", api_sandboxes.metrics)

        r.route("/{id}", one)

    r.route("/v1/sandboxes", sandboxes)

    def snapshots(r):
        r.use(authmw.api_key_or_jwt)
        r.post("/", api_snapshots.create)
        r.get("/", api_snapshots.list_)
        r.delete("/{name}", api_snapshots.delete)

    r.route("/v1/snapshots", snapshots)

    def hosts(r):
        r.post("/register", api_hosts.register)
        r.post("/auth/refresh", api_hosts.refresh)
        r.with_(authmw.host_token).post("/{id}/heartbeat", api_hosts.heartbeat)

        def jwt_group(r):
            r.use(authmw.jwt_only)
            r.post("/", api_hosts.create)
            r.get("/", api_hosts.list_)

            def host(r):
                r.get("/", api_hosts.get)
                r.delete("/", api_hosts.delete)
                r.get("/delete-preview", api_hosts.delete_preview)
                r.post("/token", api_hosts.regenerate_token)
                r.get("/tags", api_hosts.list_tags)
                r.post("/tags", api_hosts.add_tag)
                r.delete("/tags/{tag}", api_hosts.remove_tag)

            r.route("/{id}", host)

        r.group(jwt_group)

    r.route("/v1/hosts", hosts)

    def channels(r):
        r.use(authmw.jwt_only)
        r.post("/", api_channels.create)
        r.get("/", api_channels.list_)
        r.post("/test", api_channels.test)

        def channel(r):
            r.get("/", api_channels.get)
            r.patch("/", api_channels.update)
            r.delete("/", api_channels.delete)
            r.put("/config", api_channels.rotate_config)

        r.route("/{id}", channel)

    r.route("/v1/channels", channels)

    r.with_(authmw.jwt_only).get("/v1/audit-logs", api_audit.list_)

    def admin(r):
        r.use(authmw.jwt_only)
        r.use(authmw.admin)
        r.put("/teams/{id}/byoc", api_teams.set_byoc)
        r.get("/templates", api_admin.list_templates)
        r.delete("/templates/{name}", api_admin.delete_template)
        r.post("/builds", api_admin.create_build)
        r.get("/builds", api_admin.list_builds)
        r.get("/builds/{id}", api_admin.get_build)
        r.post("/builds/{id}/cancel", api_admin.cancel_build)

    r.route("/v1/admin", admin)
    return r
