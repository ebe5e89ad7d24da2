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
    t.eq((status, body), (404, NOT_FOUND), "sandboxes: GET /health is 404")


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
        t.eq((status, body), (404, NOT_FOUND),
             "%s: %s %s%s is a chi 404" % (d, method, other, tail))


async def test_lifecycle(t, caps):
    sid = await caps.sandbox()
    t.ok(sid.startswith("cl-"), "capsules: create answers a cl- ID", sid)
    status, body = await caps.json("POST", "/v1/capsules/%s/exec" % sid,
                                   json={"cmd": "echo", "args": ["hi"]})
    t.eq((status, body.get("stdout"), body.get("sandbox_id")),
         (200, "hi\n", sid), "capsules: exec output and sandbox_id")
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
    t.eq((status, body), (404, NOT_FOUND),
         "capsules: unknown capsule path without credentials is a 404")
    status, _, body = await caps.req("GET", "/v1/admin/nope", key=False)
    t.eq((status, body), (404, NOT_FOUND),
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
    t.eq((status, json.loads(body)),
         (400, err("invalid_request", "invalid sandbox ID")),
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
            t.eq((status, body), (409, err("invalid_state",
                                           "resource is not running")),
                 "capsules: pause of a paused capsule, generic message")
        else:
            t.eq((status, body), (409, err(
                "invalid_state", "sandbox is not running (status: paused)")),
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
    t.eq((status, tmpl.get("metadata")), (201, meta),
         "capsules: a snapshot copies the capsule's metadata")
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


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-capsules-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
