# SPDX-License-Identifier: MIT
"""Test-control endpoints for hosts, sandbox placement, audit and builds.

  GET  /_fake/hosts                   every host, internal view
  POST /_fake/hosts                   {type?, team_id?, status?, address?,
                                      created_by?, provider?, ...} -> 201
  POST /_fake/hosts/{id}/status       {status, address?, monitor?}
  POST /_fake/sandboxes/{id}/host     {host_id} -> move a sandbox
  GET  /_fake/audit[?team_id=]        raw audit entries (created_us)
  POST /_fake/audit                   {count, team_id?, resource_type?,
                                      action?, scope?, status?, spread_ms?}
  POST /_fake/builds/{id}/status      {status, error?}
  POST /_fake/usage                   {date, cpu_minutes?, ram_mb_minutes?,
                                      team_id?} -> a daily_usage rollup
  POST /_fake/users/{id}/status       {status} (active, inactive, ...)

Same conventions as control.py (no auth, not logged, no faults, lenient
JSON, errors {"error": text}); registered from control.build().
"""

import time

import api_admin
import api_hosts
import auditlog
import control
import resources
import stats
from control import _body, _fail, _json, _opt_int

HOST_TYPES = ("regular", "byoc")


def _internal_host(state, h):
    d = resources.host_json(h)
    d.update(tags=sorted(h.tags), auto_heartbeat=h.auto_heartbeat,
             sandbox_ids=[s.id for s in state.sandboxes.values()
                          if s.host_id == h.id])
    return d


async def list_hosts(ctx):
    return _json(200, [_internal_host(ctx.state, h) for h in
                       resources.hosts_by_created(ctx.state, False)])


async def add_host(ctx):
    """Create a host directly, e.g. an online BYOC host for team A."""
    state = ctx.state
    try:
        body = await _body(ctx)
        type_ = body.get("type", "regular")
        if type_ not in HOST_TYPES:
            raise ValueError('"type" must be "regular" or "byoc"')
        status = body.get("status", "online")
        if not isinstance(status, str) or not status:
            raise ValueError('"status" must be a non-empty string')
        team_id = body.get("team_id")
        if team_id is not None and team_id not in state.teams:
            return _fail(404, "no such team")
        created_by = body.get("created_by",
                              ctx.app.seed["users"]["admin"]["id"])
        specs = {k: body[k] for k in ("arch", "provider",
                                      "availability_zone") if k in body}
        for k in ("cpu_cores", "memory_mb", "disk_gb"):
            if k in body:
                specs[k] = _opt_int(body, k, 0)
        address = body.get("address")
        if address is None:
            address = "" if status == "pending" else \
                "127.0.0.1:%d" % (50051 + len(state.hosts))
    except ValueError as e:
        return _fail(400, str(e))
    h = resources.add_host(state, type_, team_id, created_by, status=status,
                           address=address,
                           auto_heartbeat=status == "online", **specs)
    d = _internal_host(state, h)
    if status == "pending":
        d["registration_token"] = api_hosts.new_registration_token(state,
                                                                   h.id)
    return _json(201, d)


async def host_status(ctx):
    """Set a host's status; with "monitor": true also do what the CP's host
    monitor does on that transition (sandboxes -> missing + marked_down
    audit when going unreachable; missing -> running + marked_up when
    coming back online)."""
    state = ctx.state
    h = state.hosts.get(ctx.params["id"])
    if h is None:
        return _fail(404, "no such host")
    try:
        body = await _body(ctx)
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise ValueError('"status" must be a non-empty string')
    except ValueError as e:
        return _fail(400, str(e))
    was = h.status
    h.status = status
    h.updated_at = time.time()
    if "address" in body:
        h.address = str(body["address"])
    h.auto_heartbeat = status == "online"
    if body.get("monitor"):
        if status == "unreachable" and was != "unreachable":
            for sb in state.sandboxes.values():
                if sb.host_id == h.id and \
                        sb.status in ("running", "starting", "pending"):
                    state.set_status(sb, "missing")
            auditlog.host_marked_down(state, h.team_id, h.id)
        elif status == "online" and was == "unreachable":
            for sb in state.sandboxes.values():
                if sb.host_id == h.id and sb.status == "missing":
                    state.set_status(sb, "running")
            auditlog.host_marked_up(state, h.team_id, h.id)
    return _json(200, _internal_host(state, h))


async def place_sandbox(ctx):
    """Attribute a sandbox to another (existing) host."""
    state = ctx.state
    sb = state.sandboxes.get(ctx.params["id"])
    if sb is None:
        return _fail(404, "no such sandbox")
    try:
        body = await _body(ctx)
    except ValueError as e:
        return _fail(400, str(e))
    host_id = body.get("host_id")
    if host_id not in state.hosts:
        return _fail(404, "no such host")
    sb.host_id = host_id
    return _json(200, control._internal_sandbox(sb))


def _audit_json(e):
    return {"id": e.id, "team_id": e.team_id, "actor_type": e.actor_type,
            "actor_id": e.actor_id, "actor_name": e.actor_name,
            "resource_type": e.resource_type, "resource_id": e.resource_id,
            "action": e.action, "scope": e.scope, "status": e.status,
            "metadata": e.metadata, "created_us": e.created_us,
            "created_at": resources.rfc3339_us(e.created_us)}


def _api_order(entries):
    return sorted(entries, key=lambda e: (e.created_us, e.id), reverse=True)


async def list_audit(ctx):
    team_id = ctx.q("team_id")
    return _json(200, [_audit_json(e) for e in _api_order(
        e for e in ctx.state.audit_logs
        if not team_id or e.team_id == team_id)])


async def add_audit(ctx):
    """Insert count synthetic entries; the newest is now, each one before
    it spread_ms older (default 1000, so the second-truncated cursor of
    /v1/audit-logs loses nothing; smaller spreads exhibit the quirk, 0
    gives them all one timestamp)."""
    state = ctx.state
    try:
        body = await _body(ctx)
        count = _opt_int(body, "count", 0)
        spread_ms = _opt_int(body, "spread_ms", 1000)
        if count > 100000:
            raise ValueError('"count" must be at most 100000')
        team_id = body.get("team_id", ctx.app.seed["team_a"]["id"])
        fields = {}
        for k, default in (("resource_type", "sandbox"), ("action", "create"),
                           ("scope", "team"), ("status", "success")):
            v = body.get(k, default)
            if not isinstance(v, str) or not v:
                raise ValueError('"%s" must be a non-empty string' % k)
            fields[k] = v
    except ValueError as e:
        return _fail(400, str(e))
    if team_id not in state.teams:
        return _fail(404, "no such team")
    newest = resources.now_us()
    made = []
    for i in range(count):
        made.append(auditlog.write(
            state, team_id, None, fields["resource_type"],
            "synthetic-%d" % (count - i), fields["action"], fields["scope"],
            fields["status"], {"synthetic": True, "n": count - i},
            created_us=newest - (count - 1 - i) * spread_ms * 1000))
    made = _api_order(made)
    return _json(201, {"count": count, "ids": [e.id for e in made],
                       "newest_us": made[0].created_us if made else None,
                       "oldest_us": made[-1].created_us if made else None})


async def build_status(ctx):
    state = ctx.state
    b = state.builds.get(ctx.params["id"])
    if b is None:
        return _fail(404, "no such build")
    try:
        body = await _body(ctx)
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise ValueError('"status" must be a non-empty string')
    except ValueError as e:
        return _fail(400, str(e))
    if status == "failed" and body.get("error"):
        api_admin.fail_build(b, str(body["error"]))
    else:
        api_admin.set_build_status(b, status)
    return _json(200, api_admin.build_json(b))


async def add_usage(ctx):
    """Upsert one daily_usage row (the rollup job of f5a23c1)."""
    try:
        body = await _body(ctx)
        day = body.get("date")
        if not isinstance(day, str) or stats.parse_date(day) is None:
            raise ValueError('"date" must be YYYY-MM-DD')
        vals = []
        for k in ("cpu_minutes", "ram_mb_minutes"):
            v = body.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError('"%s" must be a number' % k)
            vals.append(round(float(v), 4))     # NUMERIC(18,4)
        team_id = body.get("team_id", ctx.app.seed["team_a"]["id"])
    except ValueError as e:
        return _fail(400, str(e))
    if team_id not in ctx.state.teams:
        return _fail(404, "no such team")
    ctx.state.daily_usage[(team_id, day)] = tuple(vals)
    return _json(201, {"team_id": team_id, "date": day,
                       "cpu_minutes": vals[0], "ram_mb_minutes": vals[1]})


async def user_status(ctx):
    user = ctx.state.users.get(ctx.params["id"])
    if user is None:
        return _fail(404, "no such user")
    try:
        body = await _body(ctx)
        status = body.get("status")
        if status not in ("active", "inactive", "disabled", "deleted"):
            raise ValueError('"status" must be active, inactive, disabled '
                             'or deleted')
    except ValueError as e:
        return _fail(400, str(e))
    user.status = status
    return _json(200, {"id": user.id, "status": user.status})


def register(r):
    """Add the routes to the /_fake sub-router r."""
    r.get("/hosts", list_hosts)
    r.post("/hosts", add_host)
    r.post("/hosts/{id}/status", host_status)
    r.post("/sandboxes/{id}/host", place_sandbox)
    r.get("/audit", list_audit)
    r.post("/audit", add_audit)
    r.post("/builds/{id}/status", build_status)
    r.post("/usage", add_usage)
    r.post("/users/{id}/status", user_status)
