#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake's capsules dialect (v0.1.5, CONTRACT 11); TAP.

Starts one fake in each dialect (fakecp.py --dialect capsules and the
default sandboxes) and checks: every sandbox route under /v1/capsules and
no alias either way, GET /health, the route groups of f5a23c1 (an unknown
path is a 404 before any credential check), the user re-read on JWTs, and
the WebSocket admission of 11.2.1 (header credentials or the auth message,
errors as messages after the 101).  Each case is independent: it makes the
sandboxes it needs.  Runs in a few seconds.

aiohttp is needed in this process too (re-executes with FAKECP_PYTHON, see
test_fakecp_data.py).
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_fakecp import Fake, err, require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import aiohttp  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import traceback  # noqa: E402

WS = aiohttp.WSMsgType
NOT_FOUND = b"404 page not found\n"

# Every sandbox route of 172413e: (method, path after the prefix).
ROUTES = [
    ("POST", ""), ("GET", ""), ("GET", "/stats"),
    ("GET", "/{id}"), ("POST", "/{id}/exec"), ("GET", "/{id}/exec/stream"),
    ("POST", "/{id}/ping"), ("POST", "/{id}/pause"),
    ("POST", "/{id}/resume"), ("POST", "/{id}/files/write"),
    ("POST", "/{id}/files/read"), ("POST", "/{id}/files/stream/write"),
    ("POST", "/{id}/files/stream/read"), ("GET", "/{id}/metrics"),
    ("DELETE", "/{id}"),
]


class DFake(Fake):
    def __init__(self, tmp, name, dialect, extra=()):
        super().__init__(tmp, name, extra=("--dialect", dialect)
                         + tuple(extra))
        self.dialect = dialect
        self.base = "http://127.0.0.1:%d" % self.port
        self.key = {"X-API-Key": self.seed["api_key"]}
        self.prefix = "/v1/" + dialect


class Api:
    def __init__(self, session, fake):
        self.s = session
        self.fake = fake

    async def req(self, method, path, headers=None, key=True, **kw):
        h = dict(self.fake.key if key else {})
        h.update(headers or {})
        async with self.s.request(method, self.fake.base + path, headers=h,
                                  **kw) as r:
            return r.status, r.headers, await r.read()

    async def json(self, method, path, **kw):
        status, _, body = await self.req(method, path, **kw)
        try:
            return status, json.loads(body) if body.strip() else None
        except ValueError:
            return status, body

    async def sandbox(self):
        status, sb = await self.json("POST", self.fake.prefix, json={})
        assert status == 201, (status, sb)
        return sb["id"]

    async def ws(self, sid, headers=None, path=None):
        path = path or "%s/%s/exec/stream" % (self.fake.prefix, sid)
        return await self.s.ws_connect(self.fake.base + path,
                                       headers=headers or {},
                                       autoping=False)


async def messages(ws, timeout=20):
    """Every message until the server ends the connection."""
    out = []
    while True:
        m = await ws.receive(timeout=timeout)
        if m.type != WS.TEXT:
            return out
        out.append(json.loads(m.data))


def start(cmd, *args):
    return json.dumps({"type": "start", "cmd": cmd, "args": list(args)})


async def case(t, name, coro):
    """One independent case; an exception is one failed test."""
    try:
        await coro
    except Exception as e:
        t.ok(False, "%s: raised %s" % (name, type(e).__name__),
             traceback.format_exc()[-3000:])


# --------------------------------------------------------------------------
# Routes

async def test_health(t, caps, old):
    status, hdrs, body = await caps.req("GET", "/health", key=False)
    t.eq(status, 200, "capsules: GET /health status")
    t.eq(body, b'{"status":"ok","version":"0.1.5"}',
         "capsules: GET /health body")
    t.eq(hdrs.get("Content-Type"), "application/json",
         "capsules: GET /health content type")
    status, _, body = await old.req("GET", "/health", key=False)
    t.eq(status, 404, "sandboxes: GET /health is 404")
    t.eq(body, NOT_FOUND, "sandboxes: GET /health is 404")


async def test_renamed(t, api, other):
    """Every route answers under the dialect's prefix and is a chi 404
    under the other one."""
    d = api.fake.dialect
    sid = await api.sandbox()
    for method, tail in ROUTES:
        path = tail.replace("{id}", sid)
        status, _, body = await api.req(method, api.fake.prefix + path)
        t.ok(status != 404 or body != NOT_FOUND,
             "%s: %s %s%s is routed" % (d, method, api.fake.prefix, tail),
             "got %d %r" % (status, body[:200]))
        status, _, body = await api.req(method, other + path)
        t.eq(status, 404,
             "%s: %s %s%s is a chi 404" % (d, method, other, tail))
        t.eq(body, NOT_FOUND,
             "%s: %s %s%s is a chi 404" % (d, method, other, tail))


async def test_lifecycle(t, caps):
    sid = await caps.sandbox()
    t.ok(sid.startswith("cl-"), "capsules: create answers a cl- ID", sid)
    status, body = await caps.json("POST", "/v1/capsules/%s/exec" % sid,
                                   json={"cmd": "echo", "args": ["hi"]})
    t.eq(status, 200, "capsules: exec output and sandbox_id")
    t.eq(body.get("stdout"), "hi\n",
         "capsules: exec output and sandbox_id (stdout)")
    t.eq(body.get("sandbox_id"), sid,
         "capsules: exec output and sandbox_id (sandbox_id)")
    status, body = await caps.json("GET", "/v1/capsules")
    t.has([s["id"] for s in body], sid, "capsules: list shows it")
    status, body = await caps.json("POST", "/v1/snapshots",
                                   json={"sandbox_id": sid})
    t.eq(status, 201, "capsules: POST /v1/snapshots takes sandbox_id")


async def test_groups(t, caps, old):
    """f5a23c1 uses r.Group: no credential check before route matching."""
    sid = await caps.sandbox()
    status, _, body = await caps.req("GET", "/v1/capsules/%s/nope" % sid,
                                     key=False)
    t.eq(status, 404,
         "capsules: unknown capsule path without credentials is a 404")
    t.eq(body, NOT_FOUND,
         "capsules: unknown capsule path without credentials is a 404")
    status, _, body = await caps.req("GET", "/v1/admin/nope", key=False)
    t.eq(status, 404,
         "capsules: unknown admin path without credentials is a 404")
    t.eq(body, NOT_FOUND,
         "capsules: unknown admin path without credentials is a 404")
    status, _ = await caps.json("GET", "/v1/capsules/" + sid, key=False)
    t.eq(status, 401, "capsules: a known route still needs credentials")
    sid = await old.sandbox()
    status, _ = await old.json("GET", "/v1/sandboxes/%s/nope" % sid,
                               key=False)
    t.eq(status, 401, "sandboxes: auth before route matching (401)")


async def test_user_reread(t, caps, old):
    """At f5a23c1 a JWT's user must exist and be active."""
    for api in (caps, old):
        _, minted = await api.json("POST", "/_fake/jwt", key=False,
                                   json={"sub": "usr-" + "1" * 25})
        h = {"Authorization": "Bearer " + minted["token"]}
        got = await api.json("GET", api.fake.prefix, key=False, headers=h)
        if api.fake.dialect == "capsules":
            t.eq(got, (401, err("unauthorized", "user not found")),
                 "capsules: JWT of a missing user")
        else:
            t.eq(got[0], 200, "sandboxes: JWT of a missing user is accepted")


# --------------------------------------------------------------------------
# WebSocket admission (11.2.1)

async def test_ws_header(t, caps):
    sid = await caps.sandbox()
    ws = await caps.ws(sid, headers=caps.fake.key)
    await ws.send_str(start("echo", "hi"))
    got = [m["type"] for m in await messages(ws)]
    t.eq(got, ["start", "stdout", "exit"],
         "capsules ws: a valid X-API-Key needs no auth message")


async def test_ws_auth_msg(t, caps):
    sid = await caps.sandbox()
    ws = await caps.ws(sid)
    await ws.send_str(json.dumps({"type": "auth",
                                  "token": caps.fake.seed["jwt_owner"]}))
    await ws.send_str(start("echo", "hi"))
    got = await messages(ws)
    t.eq([m["type"] for m in got], ["start", "stdout", "exit"],
         "capsules ws: auth message with a JWT, then the start message")


async def auth_fails(t, caps, name, first=None, headers=None, path=None):
    sid = await caps.sandbox()
    ws = await caps.ws(sid, headers=headers, path=path)
    if first is not None:
        await ws.send_str(first)
    got = await messages(ws)
    t.eq(got, [{"type": "error", "data": "authentication failed"}],
         "capsules ws: " + name)


async def test_ws_auth_failures(t, caps):
    seed = caps.fake.seed
    await auth_fails(t, caps, "an API key in the auth message fails",
                     json.dumps({"type": "auth", "token": seed["api_key"]}))
    await auth_fails(t, caps, "an expired JWT in the auth message fails",
                     json.dumps({"type": "auth",
                                 "token": seed["jwt_expired"]}))
    await auth_fails(t, caps, "a start message first fails",
                     start("echo", "hi"))
    await auth_fails(t, caps, "an invalid X-API-Key gets a 101, then fails",
                     start("echo", "hi"), headers={"X-API-Key": "wrn_bad"})
    await auth_fails(t, caps, "silence until --ws-auth-timeout fails")


async def test_ws_errors(t, caps):
    ws = await caps.ws("cl-" + "0" * 25, headers=caps.fake.key)
    t.eq(await messages(ws), [{"type": "error", "data": "sandbox not found"}],
         "capsules ws: unknown sandbox is a message after the 101")
    sid = await caps.sandbox()
    status, _ = await caps.json("POST", "/v1/capsules/%s/pause" % sid)
    assert status == 200, status
    ws = await caps.ws(sid, headers=caps.fake.key)
    t.eq(await messages(ws), [{"type": "error", "data":
                               "sandbox is not running (status: paused)"}],
         "capsules ws: a paused sandbox is a message after the 101")
    status, _, body = await caps.req("GET", "/v1/capsules/cl-bad/exec/stream")
    t.eq(status, 400,
         "capsules ws: a malformed ID is a 400 before the upgrade")
    t.eq(json.loads(body), err("invalid_request", "invalid sandbox ID"),
         "capsules ws: a malformed ID is a 400 before the upgrade")


# --------------------------------------------------------------------------
# Changed shapes and messages (11.7, 11.8)

async def test_messages(t, caps, old):
    """The service mapper's generic messages at f5a23c1."""
    for api in (caps, old):
        sid = await api.sandbox()
        p = "%s/%s/pause" % (api.fake.prefix, sid)
        status, _ = await api.json("POST", p)
        assert status == 200, status
        status, body = await api.json("POST", p)
        if api.fake.dialect == "capsules":
            t.eq(status, 409,
                 "capsules: pause of a paused capsule, generic message")
            t.eq(body, err("invalid_state", "resource is not running"),
                 "capsules: pause of a paused capsule, generic message")
        else:
            t.eq(status, 409,
                 "sandboxes: pause of a paused sandbox, the service text")
            t.eq(body,
                 err( "invalid_state", "sandbox is not running (status: paused)"),
                 "sandboxes: pause of a paused sandbox, the service text")


async def test_no_hosts(t, caps):
    """A BYOC team without hosts: 503 no_hosts_available at f5a23c1."""
    seed = caps.fake.seed
    admin = {"Authorization": "Bearer " + seed["jwt_admin"]}
    status, _ = await caps.json(
        "PUT", "/v1/admin/teams/%s/byoc" % seed["team_b"]["id"], key=False,
        headers=admin, json={"enabled": True})
    assert status == 204, status
    got = await caps.json("POST", "/v1/capsules", key=False, json={},
                          headers={"X-API-Key": seed["api_key_b"]})
    t.eq(got, (503, err("no_hosts_available",
                        "no servers available \u2014 try again later")),
         "capsules: no host for the team -> 503 no_hosts_available")


async def test_metadata(t, caps, old):
    sid = await caps.sandbox()
    _, sb = await caps.json("GET", "/v1/capsules/" + sid)
    meta = sb.get("metadata", {})
    t.eq(sorted(meta), ["agent_version", "envd_version",
                        "firecracker_version", "kernel_version"],
         "capsules: a capsule carries the agent's metadata")
    t.eq(list(sb)[-1], "metadata", "capsules: metadata is the last field")
    status, tmpl = await caps.json("POST", "/v1/snapshots",
                                   json={"sandbox_id": sid})
    t.eq(status, 201, "capsules: a snapshot copies the capsule's metadata")
    t.eq(tmpl.get("metadata"), meta,
         "capsules: a snapshot copies the capsule's metadata (metadata)")
    sid = await old.sandbox()
    _, sb = await old.json("GET", "/v1/sandboxes/" + sid)
    t.ok("metadata" not in sb, "sandboxes: no metadata field", sb)


async def test_snapshot_name_taken(t, caps, old):
    for api in (caps, old):
        sid = await api.sandbox()
        body = {"sandbox_id": sid, "name": "taken-name"}
        status, _ = await api.json("POST", "/v1/snapshots", json=body)
        assert status == 201, status
        sid = await api.sandbox()
        body["sandbox_id"] = sid
        got = await api.json("POST", "/v1/snapshots?overwrite=true",
                             json=body)
        if api.fake.dialect == "capsules":
            t.eq(got, (409, err("template_name_taken", "snapshot name "
                                "already exists; delete the existing "
                                "snapshot first to reuse this name")),
                 "capsules: overwrite is gone, 409 template_name_taken")
        else:
            t.eq(got[0], 201, "sandboxes: ?overwrite=true replaces it")


async def test_audit_params(t, caps, old):
    jwt = {"Authorization": "Bearer " + caps.fake.seed["jwt_owner"]}
    for api in (caps, old):
        h = {"Authorization": "Bearer " + api.fake.seed["jwt_owner"]}
        got = await api.json("GET", "/v1/audit-logs?before=yesterday",
                             key=False, headers=h)
        want = "invalid query parameters" if api.fake.dialect == \
            "capsules" else "before must be an RFC3339 timestamp"
        t.eq(got, (400, err("invalid_request", want)),
             "%s: audit with a bad before" % api.fake.dialect)
    status, _ = await caps.json("GET", "/v1/audit-logs?limit=0&before_id=x",
                                key=False, headers=jwt)
    t.eq(status, 200, "capsules: audit limit=0 is 50, before_id unparsed")


# --------------------------------------------------------------------------
# Usage (11.5)

async def test_usage(t, caps):
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = datetime.timedelta(days=1)
    for d, cpu in ((today - 3 * day, 1.5), (today - day, 2.25),
                   (today - 40 * day, 9.0)):
        status, _ = await caps.json("POST", "/_fake/usage", key=False,
                                    json={"date": d.isoformat(),
                                          "cpu_minutes": cpu,
                                          "ram_mb_minutes": cpu * 512})
        assert status == 201, status
    status, body = await caps.json("GET", "/v1/capsules/usage")
    t.eq(status, 200, "usage: default range answers")
    t.eq(body.get("from"), (today - 29 * day).isoformat(),
         "usage: default range is today - 29 days .. today (from)")
    t.eq(body.get("to"), today.isoformat(),
         "usage: default range is today - 29 days .. today (to)")
    t.eq([p["date"] for p in body["points"]],
         [(today - 3 * day).isoformat(), (today - day).isoformat(),
          today.isoformat()],
         "usage: rollup days in range, sparse and ascending, then today")
    t.eq(body["points"][1], {"date": (today - day).isoformat(),
                             "cpu_minutes": 2.25, "ram_mb_minutes": 1152},
         "usage: a rollup point's values")
    status, body = await caps.json(
        "GET", "/v1/capsules/usage?from=%s&to=%s"
        % ((today - 45 * day).isoformat(), (today - 2 * day).isoformat()))
    t.eq([p["date"] for p in body["points"]],
         [(today - 40 * day).isoformat(), (today - 3 * day).isoformat()],
         "usage: a past range has no today point")
    for q, msg in (("from=2024-02-30", "from must be YYYY-MM-DD"),
                   ("to=yesterday", "to must be YYYY-MM-DD"),
                   ("from=2024-03-02&to=2024-03-01",
                    "from must be before or equal to to"),
                   ("from=2024-01-01&to=2024-04-03",
                    "range cannot exceed 92 days")):
        got = await caps.json("GET", "/v1/capsules/usage?" + q)
        t.eq(got, (400, err("invalid_request", msg)), "usage: " + q)
    status, _ = await caps.json(
        "GET", "/v1/capsules/usage?from=2024-01-01&to=2024-04-02")
    t.eq(status, 200, "usage: a 92-day span is allowed")


# --------------------------------------------------------------------------
# Filesystem helpers (11.4)

async def test_files(t, caps, old):
    sid = await caps.sandbox()
    base = "/v1/capsules/%s/files/" % sid

    async def fs(op, body):
        return await caps.json("POST", base + op, json=body)

    status, body = await fs("mkdir", {"path": "/root/d/e"})
    entry = body.get("entry", {}) if isinstance(body, dict) else {}
    t.eq(status, 200, "files: mkdir answers 200")
    t.eq(list(entry), ["name", "path", "type", "size", "mode",
                       "permissions", "owner", "group", "modified_at"],
         "files: mkdir entry fields in order")
    t.eq(entry.get("name"), "e",
         "files: mkdir created the directory with its parents (name)")
    t.eq(entry.get("path"), "/root/d/e",
         "files: mkdir created the directory with its parents (path)")
    t.eq(entry.get("type"), "directory",
         "files: mkdir created the directory with its parents (type)")
    t.eq(entry.get("mode"), 0o755,
         "files: mkdir created the directory with its parents (mode)")
    t.eq(entry.get("permissions"), "drwxr-xr-x",
         "files: mkdir created the directory with its parents (permissions)")
    got = await fs("mkdir", {"path": "d/e"})
    t.eq(got, (409, err("conflict", "already_exists: directory already "
                        "exists: /root/d/e")),
         "files: mkdir of an existing directory is 409 conflict")
    _, ex = await caps.json("POST", "/v1/capsules/%s/exec" % sid,
                            json={"cmd": "sh", "args": [
                                "-c", "printf abc > d/f && ln -s f d/l"]})
    assert ex["exit_code"] == 0, ex
    got = await fs("mkdir", {"path": "/root/d/f"})
    t.eq(got, (400, err("invalid_request", "invalid_argument: path exists "
                        "but is not a directory: /root/d/f")),
         "files: mkdir of an existing file is 400")
    status, body = await fs("list", {"path": "/root/d"})
    t.eq([(e["name"], e["path"], e["type"]) for e in body["entries"]],
         [("e", "/root/d/e", "directory"), ("f", "/root/d/f", "file"),
          ("l", "/root/d/l", "file")],
         "files: list depth 1 (a symlink has its target's type)")
    link = body["entries"][2]
    t.eq(link.get("symlink_target"), "/root/d/f",
         "files: a symlink's target and 'L' type letter (symlink_target)")
    t.eq(link.get("permissions")[0], "L",
         "files: a symlink's target and 'L' type letter")
    t.eq(body["entries"][1]["size"], 3, "files: a file's size")
    status, body = await fs("list", {"path": "/root", "depth": 2})
    t.eq([e["path"] for e in body["entries"]],
         ["/root/d", "/root/d/e", "/root/d/f", "/root/d/l"],
         "files: list depth 2 walks into directories")
    status, body = await fs("list", {"path": "/root/nope"})
    t.eq(status, 502, "files: list of a missing path is 502 agent_error")
    t.eq(body.get("error", {}).get("code"), "agent_error",
         "files: list of a missing path is 502 agent_error (code)")
    t.ok(body.get("error", {}).get("message", "").startswith( "internal: list dir: list dir: not_found: path not found: "),
         "files: list of a missing path is 502 agent_error", body)
    status, body = await fs("list", {"path": "/root/d/f"})
    t.eq(status, 502, "files: list of a file is 502 agent_error")
    t.eq(body.get("error", {}).get("code"), "agent_error",
         "files: list of a file is 502 agent_error (code)")
    t.eq(await fs("remove", {"path": "/root/d"}), (204, None),
         "files: remove of a directory tree is 204")
    status, body = await fs("remove", {"path": "/root/d"})
    t.eq(status, 502, "files: remove of a missing path is 502 agent_error")
    t.ok(body.get("error", {}).get("message", "").startswith( "internal: remove: remove: internal: error removing: "),
         "files: remove of a missing path is 502 agent_error", body)
    t.eq(await fs("list", {}), (400, err("invalid_request",
                                         "path is required")),
         "files: path is required")
    status, _, body = await old.req(
        "POST", "/v1/sandboxes/%s/files/list" % await old.sandbox(),
        json={"path": "/root"})
    t.eq(status, 404, "sandboxes: files/list is a chi 404")
    t.eq(body, NOT_FOUND, "sandboxes: files/list is a chi 404")


# --------------------------------------------------------------------------
# Admin routes (11.2)

async def test_admin(t, caps):
    seed = caps.fake.seed
    admin = {"Authorization": "Bearer " + seed["jwt_admin"]}

    async def aj(method, path, **kw):
        return await caps.json(method, path, key=False, headers=admin, **kw)

    status, body = await aj("GET", "/v1/admin/teams")
    t.eq(status, 200, "admin: teams page keys")
    t.eq(sorted(body), ["page", "per_page", "teams", "total", "total_pages"],
         "admin: teams page keys")
    t.eq(list(body["teams"][0]), ["id", "name", "slug", "is_byoc",
                                  "created_at", "deleted_at", "member_count",
                                  "owner_name", "owner_email",
                                  "active_sandbox_count", "channel_count"],
         "admin: team row fields in order")
    t.ok(seed["platform_team_id"] not in [x["id"] for x in body["teams"]],
         "admin: the platform team is not listed", body["teams"])
    status, body = await aj("GET", "/v1/admin/users?page=x")
    t.eq(status, 200, "admin: users page (a bad page is 1)")
    t.eq(body.get("page"), 1, "admin: users page (a bad page is 1) (page)")
    t.eq(body.get("per_page"), 100,
         "admin: users page (a bad page is 1) (per_page)")
    t.eq(list(body["users"][0]), ["id", "email", "name", "is_admin",
                                  "status", "created_at", "teams_joined",
                                  "teams_owned"],
         "admin: user row fields in order")
    me = seed["users"]["admin"]["id"]
    got = await aj("PUT", "/v1/admin/users/%s/active" % me,
                   json={"active": False})
    t.eq(got, (400, err("invalid_request",
                        "cannot deactivate your own account")),
         "admin: no self-deactivation")
    got = await aj("PUT", "/v1/admin/users/usr-%s/active" % ("1" * 25),
                   json={"active": False})
    t.eq(got, (404, err("not_found", "user not found")),
         "admin: deactivating an unknown user")
    got = await aj("DELETE", "/v1/admin/teams/team-%s" % ("1" * 25))
    t.eq(got, (404, err("not_found", "resource not found")),
         "admin: deleting an unknown team")
    status, build = await aj("POST", "/v1/admin/builds", json={
        "name": "dfake-build", "recipe": ["RUN true"]})
    keys = list(build) if isinstance(build, dict) else []
    t.eq(status, 201, "admin: a build carries default_user/env")
    t.eq(build.get("default_user"), "root",
         "admin: a build carries default_user/env (default_user)")
    t.eq(build.get("default_env"), {},
         "admin: a build carries default_user/env (default_env)")
    t.eq(keys[keys.index("default_user"):keys.index("default_user") + 3]
         if "default_user" in keys else keys,
         ["default_user", "default_env", "created_at"],
         "admin: default_user/env come before created_at")
    status, body = await aj("GET", "/v1/admin/audit-logs?limit=5")
    t.eq(status, 200, "admin: audit-logs of the platform team")
    t.eq(list(body), ["items"], "admin: audit-logs of the platform team")
    status, _ = await caps.json(
        "GET", "/v1/admin/teams", key=False,
        headers={"Authorization": "Bearer " + seed["jwt_owner"]})
    t.eq(status, 403, "admin: a non-admin JWT is refused")


async def test_deactivate(t, caps):
    seed = caps.fake.seed
    _, minted = await caps.json("POST", "/_fake/api-keys", key=False,
                                json={"team_id": seed["team_b"]["id"]})
    other = seed["users"]["other"]
    admin = {"Authorization": "Bearer " + seed["jwt_admin"]}
    sid = await caps.sandbox()
    status, _ = await caps.json("PUT", "/v1/admin/users/%s/active"
                                % other["id"], key=False, headers=admin,
                                json={"active": False})
    t.eq(status, 204, "deactivate: 204")
    got = await caps.json("GET", "/v1/capsules", key=False, headers={
        "Authorization": "Bearer " + seed["jwt_other"]})
    t.eq(got[0], 403, "deactivate: the user's JWT is refused")
    t.eq(got[1]["error"]["code"], "account_deactivated",
         "deactivate: code account_deactivated")
    status, _ = await caps.json("GET", "/v1/capsules/" + sid)
    t.eq(status, 200, "deactivate: another team's capsule is untouched")
    status, _ = await caps.json("PUT", "/v1/admin/users/%s/active"
                                % other["id"], key=False, headers=admin,
                                json={"active": True})
    got = await caps.json("GET", "/v1/capsules", key=False, headers={
        "Authorization": "Bearer " + seed["jwt_other"]})
    t.eq(got[0], 200, "reactivate: the JWT works again")


async def test_admin_capsules(t, caps):
    seed = caps.fake.seed
    admin = {"Authorization": "Bearer " + seed["jwt_admin"]}

    async def aj(method, path, **kw):
        return await caps.json(method, path, key=False, headers=admin, **kw)

    status, sb = await aj("POST", "/v1/admin/capsules", json={})
    t.eq(status, 201, "admin capsules: create")
    sid = sb["id"]
    _, listed = await aj("GET", "/v1/admin/capsules")
    t.has([x["id"] for x in listed], sid, "admin capsules: listed")
    _, team_list = await caps.json("GET", "/v1/capsules")
    t.ok(sid not in [x["id"] for x in team_list],
         "admin capsules: not in team A's list", team_list)
    status, _ = await aj("GET", "/v1/admin/capsules/" + sid)
    t.eq(status, 200, "admin capsules: get")
    status, body = await aj("POST", "/v1/admin/capsules/%s/exec" % sid,
                            json={"cmd": "echo", "args": ["x"]})
    t.eq(status, 200, "admin capsules: exec")
    t.eq(body.get("stdout"), "x\n", "admin capsules: exec (stdout)")
    path = "/v1/admin/capsules/%s/exec/stream" % sid
    ws = await caps.ws(sid, path=path, headers=caps.fake.key)
    await ws.send_str(json.dumps({"type": "auth",
                                  "token": seed["jwt_admin"]}))
    await ws.send_str(start("echo", "hi"))
    got = [m["type"] for m in await messages(ws)]
    t.eq(got, ["start", "stdout", "exit"],
         "admin ws: the auth message of an admin")
    await auth_fails(t, caps, "admin ws: header credentials are not "
                     "consulted", start("echo", "hi"),
                     headers={"Authorization": "Bearer "
                              + seed["jwt_admin"]}, path=path)
    await auth_fails(t, caps, "admin ws: a non-admin's auth message fails",
                     json.dumps({"type": "auth",
                                 "token": seed["jwt_owner"]}), path=path)
    status, body = await aj("GET", "/v1/admin/capsules/%s/processes" % sid)
    t.eq(status, 200, "admin capsules: processes")
    t.eq(body, {"processes": []}, "admin capsules: processes (none)")
    status, _ = await aj("DELETE", "/v1/admin/capsules/%s/processes/x" % sid)
    t.eq(status, 404, "admin capsules: kill an unknown process")
    pty = "/v1/admin/capsules/%s/pty" % sid
    ws = await caps.ws(sid, path=pty, headers=admin)
    await ws.send_str(json.dumps({"type": "start", "cmd": "/bin/sh",
                                  "args": ["-c", "exit 4"]}))
    m = await ws.receive(timeout=20)
    t.eq(json.loads(m.data), {"type": "error", "data": "authentication "
                              "failed", "fatal": True},
         "admin pty: header credentials are not consulted")
    await ws.close()
    ws = await caps.ws(sid, path=pty)
    await ws.send_str(json.dumps({"type": "auth",
                                  "token": seed["jwt_admin"]}))
    await ws.send_str(json.dumps({"type": "start", "cmd": "/bin/sh",
                                  "args": ["-c", "exit 4"]}))
    got = []
    while not got or got[-1].get("type") not in ("exit", "error"):
        got.append(json.loads((await ws.receive(timeout=20)).data))
    await ws.close()
    t.eq(got[0].get("type"), "started", "admin pty: started")
    t.eq(got[-1], {"type": "exit", "exit_code": 4}, "admin pty: exit")
    sel = "/v1/admin/capsules/%s/processes/x/stream" % sid
    await auth_fails(t, caps, "admin process stream: header credentials "
                     "are not consulted", "{}", headers=admin, path=sel)
    status, tmpl = await aj("POST", "/v1/admin/capsules/%s/snapshot" % sid,
                            json={"name": "plat-snap"})
    t.eq(status, 201, "admin capsules: snapshot makes a platform template")
    t.eq(tmpl.get("platform"), True,
         "admin capsules: snapshot makes a platform template (platform)")
    _, got = await aj("GET", "/v1/admin/capsules/" + sid)
    t.eq(got.get("status"), "stopped",
         "admin capsules: the snapshot destroyed the capsule")


async def test_proxy_keyless(t, c, o):
    """f5a23c1's proxy checks no credential (CONTRACT 9.5); 172413e's
    wants X-API-Key."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()   # nothing listens there: the agent's dial error

    async def get(api, sid, key):
        h = {"Host": "%d-%s.localhost" % (port, sid)}
        if key is not None:
            h["X-API-Key"] = key
        return await api.req("GET", "/x", headers=h, key=False)

    sid = await c.sandbox()
    status, _, body = await get(c, sid, None)
    t.eq(status, 502, "capsules proxy: no key goes on to the sandbox")
    t.ok(body.startswith(b"proxy error: dial tcp"),
         "capsules proxy: no key reaches the agent's dial", body)
    status, _, _ = await get(c, sid, c.fake.seed["api_key_b"])
    t.eq(status, 502, "capsules proxy: another team's key is not looked "
         "at (the ID alone finds the sandbox)")
    osid = await o.sandbox()
    status, _, _ = await get(o, osid, None)
    t.eq(status, 401, "sandboxes proxy: no key is 401")


async def amain(t, tmp, fakes):
    caps = DFake(tmp, "caps", "capsules",
                 extra=("--ws-auth-timeout", "0.5"))
    fakes.append(caps)
    old = DFake(tmp, "old", "sandboxes")
    fakes.append(old)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        c, o = Api(s, caps), Api(s, old)
        await case(t, "health", test_health(t, c, o))
        await case(t, "renamed capsules", test_renamed(t, c, "/v1/sandboxes"))
        await case(t, "renamed sandboxes", test_renamed(t, o, "/v1/capsules"))
        await case(t, "lifecycle", test_lifecycle(t, c))
        await case(t, "groups", test_groups(t, c, o))
        await case(t, "user re-read", test_user_reread(t, c, o))
        await case(t, "ws header", test_ws_header(t, c))
        await case(t, "ws auth message", test_ws_auth_msg(t, c))
        await case(t, "ws auth failures", test_ws_auth_failures(t, c))
        await case(t, "ws errors", test_ws_errors(t, c))
        await case(t, "messages", test_messages(t, c, o))
        await case(t, "no hosts", test_no_hosts(t, c))
        await case(t, "metadata", test_metadata(t, c, o))
        await case(t, "snapshot name taken",
                   test_snapshot_name_taken(t, c, o))
        await case(t, "audit params", test_audit_params(t, c, o))
        await case(t, "usage", test_usage(t, c))
        await case(t, "files", test_files(t, c, o))
        await case(t, "admin", test_admin(t, c))
        await case(t, "deactivate", test_deactivate(t, c))
        await case(t, "admin capsules", test_admin_capsules(t, c))
        await case(t, "proxy keyless", test_proxy_keyless(t, c, o))


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-capsules-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
