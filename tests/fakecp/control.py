# SPDX-License-Identifier: MIT
"""Test-control API under /_fake/ (not part of Wrenn): log, faults, knobs.

  GET    /_fake/health                     200 {"status":"ok"}
  GET    /_fake/seed                       the --seed-out document
  GET    /_fake/requests[?since=SEQ]       request log (oldest first)
  DELETE /_fake/requests                   clear the log
  GET    /_fake/faults                     active fault rules
  POST   /_fake/faults                     add a rule -> 201 {"id":N,...}
  DELETE /_fake/faults                     remove all rules
  DELETE /_fake/faults/{id}                remove one rule
  GET    /_fake/sandboxes[/{id}]           internal view of sandboxes
  POST   /_fake/sandboxes/{id}/status      {"status":S,"after_ms"?:N}
  GET    /_fake/ptys                       live PTYs (api_pty.py)
  POST   /_fake/jwt                        mint a user JWT -> {"token":...}
  POST   /_fake/api-keys                   {"team_id"?,"name"?} -> key
  ...and the ones in control_resources.py (hosts, audit, builds) and
  proxy.py (the sandbox proxy's target cache and port map)

No auth, no faults, never logged.  Bodies are lenient JSON; errors are
400/404 {"error":"text"}.  RequestLog and FaultTable are used by fakecp.py
for every /v1 request.
"""

import asyncio
import collections
import json
import re
import time

import chimux
import httpio
import ids
import state as st
import streamfault
import tokens

MAX_FAULTS = 1000
_DEFAULT_CODES = {400: "invalid_request", 401: "unauthorized",
                  403: "forbidden", 404: "not_found", 409: "conflict",
                  413: "too_large", 500: "internal_error",
                  502: "agent_error", 503: "host_unavailable"}


class RequestLog:
    """The last N API requests, with the credentials they carried."""

    def __init__(self, maxlen):
        self.entries = collections.deque(maxlen=maxlen)
        self.seq = 0

    def start(self, request, raw_path, raw_query):
        """Record a request as it arrives; the caller fills in the rest."""
        self.seq += 1
        h = request.headers
        api_key = h.get("X-API-Key")
        authz = h.get("Authorization")
        bearer = authz[7:] if authz and authz.startswith("Bearer ") else None
        headers = {}
        for k, v in h.items():
            headers.setdefault(k.lower(), v)
        entry = {
            "seq": self.seq, "time": time.time(),
            "method": request.method, "path": raw_path, "query": raw_query,
            "has_api_key": api_key is not None, "api_key": api_key,
            "has_authorization": authz is not None,
            "has_bearer": bearer is not None, "bearer": bearer,
            "has_host_token": "X-Host-Token" in h,
            "host": h.get("Host"),
            "proxy": None,        # proxy.py fills it for proxied requests
            "headers": headers,
            "body": "", "body_bytes": 0, "body_truncated": False,
            "status": None, "fault": None, "dropped": False,
            "client_gone": False,
        }
        self.entries.append(entry)
        return entry

    def since(self, seq):
        return [e for e in self.entries if e["seq"] > seq]


class Fault:
    """One injected failure rule."""

    def __init__(self, fid, spec):
        if not isinstance(spec, dict) or not isinstance(spec.get("path"),
                                                        str):
            raise ValueError('"path" (a regular expression) is required')
        self.id = fid
        self.spec = spec
        self.path = re.compile(spec["path"])
        self.method = spec.get("method")
        self.proxy = bool(spec.get("proxy", False))
        self.delay_ms = _opt_int(spec, "delay_ms", 0)
        self.status = _opt_int(spec, "status", 0)
        self.reset = bool(spec.get("reset", False))
        self.count = spec.get("count")
        if self.count is not None:
            self.count = _opt_int(spec, "count", 0)
        self.text = spec.get("text")
        self.code = spec.get("code") or _DEFAULT_CODES.get(self.status,
                                                           "fault")
        self.message = spec.get("message", "injected fault")
        self.stream = streamfault.parse(spec.get("stream"))
        self.hits = 0
        if self.method is not None and not isinstance(self.method, str):
            raise ValueError('"method" must be a string')
        if self.status and not 100 <= self.status <= 599:
            raise ValueError('"status" must be 100..599')

    def matches(self, method, path, proxy=False):
        if self.count is not None and self.count <= 0:
            return False
        if self.proxy != proxy:
            return False
        if self.method and self.method.upper() != method:
            return False
        return self.path.search(path) is not None

    def response(self):
        if self.text is not None:
            return httpio.body_response(self.status, str(self.text).encode(),
                                        "text/plain; charset=utf-8")
        return httpio.error(self.status, self.code, self.message)

    def to_json(self):
        d = dict(self.spec)
        d.update(id=self.id, hits=self.hits, remaining=self.count)
        return d


def _opt_int(spec, key, default):
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError('"%s" must be a non-negative integer' % key)
    return v


class FaultTable:
    def __init__(self):
        self.faults = []
        self.next_id = 1

    def add(self, spec):
        if len(self.faults) >= MAX_FAULTS:
            raise ValueError("too many fault rules")
        f = Fault(self.next_id, spec)
        self.next_id += 1
        self.faults.append(f)
        return f

    def match(self, method, path, proxy=False):
        """The first live rule matching the request; consumes one count.
        Rules with "proxy": true match only proxied requests, the others
        only API requests."""
        for f in self.faults:
            if f.matches(method, path, proxy):
                f.hits += 1
                if f.count is not None:
                    f.count -= 1
                return f
        return None


# --------------------------------------------------------------------------
# Handlers

def _json(status, obj):
    body = (json.dumps(obj, indent=1) + "\n").encode()
    return httpio.body_response(status, body, "application/json")


def _fail(status, text):
    return _json(status, {"error": text})


async def _body(ctx):
    raw = await ctx.read_body(1 << 20)
    if not raw.strip():
        return {}
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("body must be a JSON object")
    return obj


def _internal_sandbox(sb):
    d = st.sandbox_json(sb)
    d.update(team_id=sb.team_id, workdir=sb.workdir,
             disk_size_mb=sb.disk_size_mb, host_id=sb.host_id)
    return d


async def health(ctx):
    return _json(200, {"status": "ok"})


async def seed(ctx):
    return _json(200, ctx.app.seed)


async def get_requests(ctx):
    try:
        since = int(ctx.q("since") or 0)
    except ValueError:
        return _fail(400, "since must be an integer")
    return _json(200, ctx.app.log.since(since))


async def clear_requests(ctx):
    ctx.app.log.entries.clear()
    return httpio.no_content()


async def get_faults(ctx):
    return _json(200, [f.to_json() for f in ctx.app.faults.faults])


async def add_fault(ctx):
    try:
        f = ctx.app.faults.add(await _body(ctx))
    except (ValueError, re.error) as e:
        return _fail(400, str(e))
    return _json(201, f.to_json())


async def clear_faults(ctx):
    ctx.app.faults.faults.clear()
    return httpio.no_content()


async def delete_fault(ctx):
    table = ctx.app.faults
    before = len(table.faults)
    table.faults = [f for f in table.faults if str(f.id) != ctx.params["id"]]
    if len(table.faults) == before:
        return _fail(404, "no such fault")
    return httpio.no_content()


async def list_sandboxes(ctx):
    return _json(200, [_internal_sandbox(s)
                       for s in ctx.state.sandboxes.values()])


async def get_sandbox(ctx):
    sb = ctx.state.sandboxes.get(ctx.params["id"])
    if sb is None:
        return _fail(404, "no such sandbox")
    return _json(200, _internal_sandbox(sb))


async def force_status(ctx):
    """Set a sandbox's DB status now or after after_ms (no VM change)."""
    sb = ctx.state.sandboxes.get(ctx.params["id"])
    if sb is None:
        return _fail(404, "no such sandbox")
    try:
        body = await _body(ctx)
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise ValueError('"status" must be a non-empty string')
        after_ms = _opt_int(body, "after_ms", 0)
    except ValueError as e:
        return _fail(400, str(e))

    def apply():
        ctx.state.set_status(sb, status)
        if status == st.RUNNING and sb.run_started is None:
            ctx.app.agent.ping(sb)
            sb.run_started = time.time()

    if after_ms:
        asyncio.get_running_loop().call_later(after_ms / 1000.0, apply)
    else:
        apply()
    return _json(200, {"id": sb.id, "status": sb.status,
                       "scheduled": status if after_ms else None})


async def mint_jwt(ctx):
    """Sign a user JWT with the server secret.

    Body: {"user": "owner"|"admin"|"member"|"other"} picks a seeded user;
    "sub", "team_id", "role", "email", "name", "is_admin", "typ",
    "ttl" (seconds, may be negative), "alg" (HS256/384/512) override.
    """
    try:
        body = await _body(ctx)
        users = ctx.app.seed["users"]
        base = users.get(body.get("user", "owner"))
        if base is None:
            raise ValueError("unknown seeded user")
        now = int(time.time())
        ttl = body.get("ttl", tokens.USER_JWT_TTL)
        claims = tokens.user_claims(
            body.get("sub", base["id"]), body.get("team_id", base["team_id"]),
            body.get("role", base["role"]), body.get("email", base["email"]),
            body.get("name", base["name"]),
            body.get("is_admin", base["is_admin"]), iat=now,
            exp=now + int(ttl), typ=body.get("typ"))
        token = tokens.sign(ctx.state.jwt_secret, claims,
                            body.get("alg", "HS256"))
    except (ValueError, TypeError, KeyError) as e:
        return _fail(400, str(e))
    return _json(200, {"token": token, "claims": claims})


async def add_api_key(ctx):
    try:
        body = await _body(ctx)
    except ValueError as e:
        return _fail(400, str(e))
    team_id = body.get("team_id", ctx.app.seed["team_a"]["id"])
    if team_id not in ctx.state.teams:
        return _fail(404, "no such team")
    owner = next((m.user_id for (t, _), m in ctx.state.members.items()
                  if t == team_id), ids.zero(ids.USER))
    rec, key = ctx.state.add_api_key(team_id, owner,
                                     body.get("name", "Unnamed API Key"))
    return _json(201, {"id": rec.id, "key": key, "team_id": team_id})


def build():
    """The /_fake mux."""
    r = chimux.Mux()

    def fake(r):
        r.get("/health", health)
        r.get("/seed", seed)
        r.get("/requests", get_requests)
        r.delete("/requests", clear_requests)
        r.get("/faults", get_faults)
        r.post("/faults", add_fault)
        r.delete("/faults", clear_faults)
        r.delete("/faults/{id}", delete_fault)
        r.get("/sandboxes", list_sandboxes)
        r.get("/sandboxes/{id}", get_sandbox)
        r.post("/sandboxes/{id}/status", force_status)
        r.post("/jwt", mint_jwt)
        r.post("/api-keys", add_api_key)
        import api_pty  # the live PTYs
        api_pty.register_control(r)
        import proxy   # the sandbox proxy's cache and port map
        proxy.register_control(r)
        import control_resources   # hosts, placement, audit, builds
        control_resources.register(r)

    r.route("/_fake", fake)
    return r
