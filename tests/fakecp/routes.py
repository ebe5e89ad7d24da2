# SPDX-License-Identifier: MIT
"""The API route tables, laid out like internal/api/server.go.

Two dialects (fakecp.py --dialect):

  sandboxes  server.go at 172413e: every sandbox route under /v1/sandboxes,
             auth (Mux.use inside r.Route) before route matching.
  capsules   server.go at f5a23c1 (v0.1.5, CONTRACT 11): the same routes
             under /v1/capsules with no alias, GET /health, and the
             capsule and admin routes in r.Group blocks, so their auth
             wraps each handler and an unknown path below them is a plain
             404 without any credential check.

Keep each builder shaped like its server.go: each r.Route() block there is
one nested function here, with the same middleware placement (Mux.use
inside a Route authenticates before route matching; with_()/group() wrap
single routes).  Blocks that are the same at both commits are shared.

Routes of other modules: a module in EXTENSIONS may define
register_capsules(group, r); the capsules builder calls it at the end of
each group below with r carrying that group's middlewares, so the module
registers its rows (r.get(...), r.post(...)) in its own file:

  "capsules"          /v1/capsules             API key or JWT
  "capsule"           /v1/capsules/{id}        API key or JWT, non-WS
  "capsule_ws"        /v1/capsules/{id}        optional header auth (WS)
  "admin"             /v1/admin                JWT + platform admin
  "admin_capsule"     /v1/admin/capsules/{id}  JWT + admin, platform team
  "admin_capsule_ws"  /v1/admin/capsules/{id}  WS auth message only
"""

import api_admin
import api_admin_capsules
import api_audit
import api_channels
import api_exec
import api_files
import api_fs
import api_hosts
import api_keys
import api_process
import api_pty
import api_sandboxes
import api_snapshots
import api_stream
import api_teams
import api_users
import authmw
import chimux
import httpio
import stats

SANDBOXES = "sandboxes"
CAPSULES = "capsules"
DIALECTS = (SANDBOXES, CAPSULES)
VERSION = "0.1.5"            # what GET /health reports in capsules mode

# Modules that add capsules-dialect routes (see the module docstring).
EXTENSIONS = [api_process, api_pty]


def build(dialect=SANDBOXES):
    """Return the root chimux.Mux of the Wrenn API in that dialect."""
    if dialect == CAPSULES:
        return _build_f5a23c1()
    return _build_172413e()


def _extend(group, r):
    for mod in EXTENSIONS:
        mod.register_capsules(group, r)


# --------------------------------------------------------------------------
# Blocks shared by both commits (requireJWT differs, see authmw).

def _api_keys(r):
    r.use(authmw.jwt_only)
    r.post("/", api_keys.create)
    r.get("/", api_keys.list_)
    r.delete("/{id}", api_keys.delete)


def _teams(r):
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


def _snapshots(r):
    r.use(authmw.api_key_or_jwt)
    r.post("/", api_snapshots.create)
    r.get("/", api_snapshots.list_)
    r.delete("/{name}", api_snapshots.delete)


def _hosts(r):
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


def _channels(r):
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


def _admin_builds(r):
    """The template and build rows of the admin group (both commits)."""
    r.get("/templates", api_admin.list_templates)
    r.delete("/templates/{name}", api_admin.delete_template)
    r.post("/builds", api_admin.create_build)
    r.get("/builds", api_admin.list_builds)
    r.get("/builds/{id}", api_admin.get_build)
    r.post("/builds/{id}/cancel", api_admin.cancel_build)


# --------------------------------------------------------------------------
# 172413e

def _build_172413e():
    r = chimux.Mux()

    # Not yet emulated: /openapi.yaml, /docs, /v1/auth/*, /auth/oauth/*
    # (chi 404 until added).

    r.route("/v1/api-keys", _api_keys)
    r.route("/v1/teams", _teams)
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
    r.route("/v1/snapshots", _snapshots)
    r.route("/v1/hosts", _hosts)
    r.route("/v1/channels", _channels)
    r.with_(authmw.jwt_only).get("/v1/audit-logs", api_audit.list_)

    def admin(r):
        r.use(authmw.jwt_only)
        r.use(authmw.admin)
        r.put("/teams/{id}/byoc", api_teams.set_byoc)
        _admin_builds(r)

    r.route("/v1/admin", admin)
    return r


# --------------------------------------------------------------------------
# f5a23c1 (v0.1.5)

async def health(ctx):
    """GET /health: fmt.Fprintf of {"status":"ok","version":%q}, no newline."""
    body = ('{"status":"ok","version":"%s"}' % VERSION).encode()
    return httpio.body_response(200, body, "application/json")


def _capsule_rows(r):
    """The rows the team's /v1/capsules/{id} group and the admin's
    /v1/admin/capsules/{id} group both have (each adds its own after;
    rows of different paths do not depend on their order)."""
    r.get("/", api_sandboxes.get)
    r.delete("/", api_sandboxes.destroy)
    r.post("/exec", api_exec.exec_)
    r.post("/files/write", api_files.write)
    r.post("/files/read", api_files.read)
    r.post("/files/list", api_fs.list_)
    r.post("/files/mkdir", api_fs.mkdir)
    r.post("/files/remove", api_fs.remove)
    r.get("/metrics", api_sandboxes.metrics)


def _capsule_ws(r, auth, group):
    """A capsule block's WebSocket group: GET /exec/stream behind auth,
    then the rows EXTENSIONS add to group."""
    def ws_group(r):
        r.use(auth)
        r.get("/exec/stream", api_stream.exec_stream)
        _extend(group, r)

    r.group(ws_group)


def _build_f5a23c1():
    r = chimux.Mux()
    r.get("/health", health)

    # Not yet emulated: /openapi.yaml, /docs, /v1/auth/*, /auth/oauth/*,
    # /v1/me/* (chi 404 until added).

    r.route("/v1/api-keys", _api_keys)
    r.route("/v1/teams", _teams)
    r.with_(authmw.jwt_only).get("/v1/users/search", api_users.search)

    def capsules(r):
        def auth_group(r):
            r.use(authmw.api_key_or_jwt)
            r.post("/", api_sandboxes.create)
            r.get("/", api_sandboxes.list_)
            r.get("/stats", stats.get_stats)
            r.get("/usage", stats.get_usage)
            _extend("capsules", r)

        r.group(auth_group)

        def one(r):
            def auth_group(r):
                r.use(authmw.api_key_or_jwt)
                _capsule_rows(r)
                r.post("/ping", api_sandboxes.ping)
                r.post("/pause", api_sandboxes.pause)
                r.post("/resume", api_sandboxes.resume)
                r.post("/files/stream/write", api_files.stream_write)
                r.post("/files/stream/read", api_files.stream_read)
                _extend("capsule", r)

            r.group(auth_group)
            _capsule_ws(r, authmw.optional_api_key_or_jwt, "capsule_ws")

        r.route("/{id}", one)

    r.route("/v1/capsules", capsules)
    r.route("/v1/snapshots", _snapshots)
    r.route("/v1/hosts", _hosts)
    r.route("/v1/channels", _channels)
    r.with_(authmw.jwt_only).get("/v1/audit-logs", api_audit.list_)

    def admin(r):
        def auth_group(r):
            r.use(authmw.jwt_only)
            r.use(authmw.admin)
            r.get("/teams", api_teams.admin_list_teams)
            r.put("/teams/{id}/byoc", api_teams.set_byoc)
            r.delete("/teams/{id}", api_teams.admin_delete_team)
            r.get("/users", api_users.admin_list_users)
            r.put("/users/{id}/active", api_users.set_user_active)
            r.get("/audit-logs", api_audit.admin_list)
            _admin_builds(r)
            r.post("/capsules", api_admin_capsules.create)
            r.get("/capsules", api_admin_capsules.list_)
            _extend("admin", r)

        r.group(auth_group)

        def capsule(r):
            def auth_group(r):
                r.use(authmw.jwt_only)
                r.use(authmw.admin)
                r.use(authmw.platform_team)
                _capsule_rows(r)
                r.post("/snapshot", api_admin_capsules.snapshot)
                _extend("admin_capsule", r)

            r.group(auth_group)
            _capsule_ws(r, authmw.admin_ws, "admin_capsule_ws")

        r.route("/capsules/{id}", capsule)

    r.route("/v1/admin", admin)
    return r
