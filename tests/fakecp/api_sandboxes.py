# SPDX-License-Identifier: MIT
"""Sandbox lifecycle handlers: /v1/sandboxes and /v1/sandboxes/{id}/...

Mirrors handlers_sandbox.go, handlers_metrics.go and service/sandbox.go at
172413e, including their orders of checks and messages.  Errors raised by
the "service layer" go through httpio.service_error (the message-text
mapper), so e.g. an unknown sandbox on pause is 404 with the pgx suffix
"sandbox not found: no rows in result set", while GET says just
"sandbox not found".

The VM side (boot, pause, resume, destroy, metrics) is agent.Agent.
Create picks a host with the round-robin scheduler (resources.select_host:
online hosts with an address; regular ones for normal teams, the team's
own BYOC hosts for BYOC teams) and records it in sb.host_id; pause, resume,
ping and destroy first look that host up like agentForSandbox (404 "host
not found for sandbox: ..." once it is deleted).  Successful create, pause,
resume and destroy write audit entries (auditlog.py).
Registered by routes.py.
"""

import asyncio
import time

import auditlog
import gojson
import httpio
import ids
import resources
import state as st
import validate
from agent import AgentError
from httpio import error, json_response

NO_ROWS = "no rows in result set"   # pgx.ErrNoRows, wrapped with %w

CREATE_REQUEST = gojson.Struct(template=gojson.STRING, vcpus=gojson.INT32,
                               memory_mb=gojson.INT32,
                               timeout_sec=gojson.INT32)
METRIC_RANGES = ("5m", "10m", "1h", "2h", "6h", "12h", "24h")


class ServiceError(Exception):
    """A plain error from the service layer; mapped by message text."""


def sandbox_id_param(ctx):
    """id.ParseSandboxID(chi.URLParam(r, "id")); None if malformed."""
    return ids.parse(ids.SANDBOX, ctx.params.get("id", ""))


def invalid_sandbox_id():
    return error(400, "invalid_request", "invalid sandbox ID")


def _service_lookup(ctx, sandbox_id):
    sb = ctx.state.sandbox_by_team(sandbox_id, ctx.auth.team_id)
    if sb is None:
        raise ServiceError("sandbox not found: " + NO_ROWS)
    return sb


# What the fake host agent reports about a new capsule at f5a23c1.
AGENT_METADATA = {"agent_version": "0.1.5", "envd_version": "0.1.5",
                  "firecracker_version": "1.10.1", "kernel_version": "6.1.102"}


def _agent_for(ctx, sb):
    """agentForSandbox: the sandbox's host must exist and have an address."""
    why = resources.host_for_agent(ctx.state, sb)
    if why is not None:
        raise ServiceError(why)


def _lifecycle_sandbox(ctx, need=None):
    """The {id} sandbox of pause, resume, ping and destroy, looked up as
    the Go service does: (sandbox, None), or (None, the reply): 400 for an
    id that does not parse, the service's error for a sandbox that is not
    the team's, whose status is not need ("sandbox is not running (status:
    paused)"; need None: any status) or whose host has no agent."""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return None, invalid_sandbox_id()
    try:
        sb = _service_lookup(ctx, sid)
        if need is not None and sb.status != need:
            raise ServiceError("sandbox is not %s (status: %s)"
                               % (need, sb.status))
        _agent_for(ctx, sb)
    except ServiceError as e:
        return None, httpio.service_error(ctx, str(e))
    return sb, None


def _mark_running(state, sb, host_ip):
    """UpdateSandboxRunning."""
    now = time.time()
    sb.status = st.RUNNING
    sb.host_ip = host_ip
    sb.guest_ip = ""
    sb.started_at = now
    sb.last_active_at = now
    sb.last_updated = now


async def _create_sandbox(app, team_id, req, gone):
    """SandboxService.Create."""
    state = app.state
    template = req["template"] or "minimal"
    bad = validate.safe_name(template)
    if bad:
        raise ServiceError("invalid template name: " + bad)
    vcpus = req["vcpus"] if req["vcpus"] > 0 else 1
    memory_mb = req["memory_mb"] if req["memory_mb"] > 0 else 512
    tmpl = None
    template_id = st.PLATFORM_TEAM_ID
    if template != "minimal":
        tmpl = state.template_by_team(template, team_id)
        if tmpl is None:
            raise ServiceError("template %s not found: %s"
                               % (validate.go_quote(template), NO_ROWS))
        template_id = tmpl.id
        if tmpl.type == "snapshot":
            vcpus, memory_mb = tmpl.vcpus, tmpl.memory_mb
    team = state.teams.get(team_id)
    if team is None:
        raise ServiceError("team not found: " + NO_ROWS)
    host, why = resources.select_host(state, team)
    if host is None:
        raise ServiceError("select host: " + why)
    now = time.time()
    sid = ids.new(ids.SANDBOX)
    sb = st.Sandbox(id=sid, team_id=team_id, template=template,
                    template_id=template_id, status=st.PENDING, vcpus=vcpus,
                    memory_mb=memory_mb, timeout_sec=req["timeout_sec"],
                    created_at=now, last_updated=now,
                    seq=state.next_seq(), workdir=app.agent.workdir(sid),
                    host_id=host.id)
    state.sandboxes[sid] = sb
    try:
        host_ip = await app.agent.create(sb, tmpl, gone)
    except (asyncio.CancelledError, httpio.ClientGone):
        # The client went away: the agent RPC fails, the row becomes error.
        state.set_status(sb, st.ERROR)
        raise
    except AgentError:
        state.set_status(sb, st.ERROR)
        raise
    except OSError as e:
        state.set_status(sb, st.ERROR)
        raise AgentError("internal", "create sandbox: %s" % e)
    _mark_running(state, sb, host_ip)
    if app.dialect == "capsules":
        sb.metadata = dict(AGENT_METADATA)
    return sb


async def create(ctx):
    """POST /v1/sandboxes"""
    try:
        req = await ctx.decode(CREATE_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    gone = ctx.watch_disconnect()
    try:
        sb = await _create_sandbox(ctx.app, ctx.auth.team_id, req, gone)
    except ServiceError as e:
        return httpio.service_error(ctx, str(e))
    except AgentError as e:
        return httpio.agent_error(ctx, e.code, e.text)
    finally:
        gone.cancel()
    auditlog.sandbox_create(ctx.state, ctx.auth, sb.id, sb.template)
    return json_response(201, st.sandbox_json(sb))


async def list_(ctx):
    """GET /v1/sandboxes"""
    return json_response(200, [st.sandbox_json(s) for s in
                               ctx.state.list_sandboxes(ctx.auth.team_id)])


async def get(ctx):
    """GET /v1/sandboxes/{id}"""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return invalid_sandbox_id()
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    return json_response(200, st.sandbox_json(sb))


async def pause(ctx):
    """POST /v1/sandboxes/{id}/pause"""
    sb, err = _lifecycle_sandbox(ctx, st.RUNNING)
    if err is not None:
        return err
    ctx.state.set_status(sb, st.PAUSED)     # pre-marked before the RPC
    ctx.app.agent.flush_metrics(sb)
    await ctx.app.agent.pause(sb)
    auditlog.sandbox_pause(ctx.state, ctx.auth, sb.id)
    return json_response(200, st.sandbox_json(sb))


async def resume(ctx):
    """POST /v1/sandboxes/{id}/resume"""
    sb, err = _lifecycle_sandbox(ctx, st.PAUSED)
    if err is not None:
        return err
    host_ip = await ctx.app.agent.resume(sb)
    _mark_running(ctx.state, sb, host_ip)
    auditlog.sandbox_resume(ctx.state, ctx.auth, sb.id)
    return json_response(200, st.sandbox_json(sb))


async def ping(ctx):
    """POST /v1/sandboxes/{id}/ping"""
    sb, err = _lifecycle_sandbox(ctx, st.RUNNING)
    if err is not None:
        return err
    ctx.app.agent.ping(sb)
    sb.last_active_at = sb.last_updated = time.time()
    return httpio.no_content()


async def destroy(ctx):
    """DELETE /v1/sandboxes/{id} (idempotent)"""
    sb, err = _lifecycle_sandbox(ctx)
    if err is not None:
        return err
    await ctx.app.agent.destroy(sb)
    sb.points.clear()
    ctx.state.set_status(sb, st.STOPPED)
    auditlog.sandbox_destroy(ctx.state, ctx.auth, sb.id)
    return httpio.no_content()


async def metrics(ctx):
    """GET /v1/sandboxes/{id}/metrics?range="""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return invalid_sandbox_id()
    range_ = ctx.q("range") or "10m"
    if range_ not in METRIC_RANGES:
        return error(400, "invalid_request",
                     "range must be one of: 5m, 10m, 1h, 2h, 6h, 12h, 24h")
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    if sb.status not in (st.RUNNING, st.PAUSED):
        return error(404, "not_found",
                     "metrics not available for sandbox in state: "
                     + sb.status)
    if sb.status == st.RUNNING and \
            resources.host_for_agent(ctx.state, sb) is not None:
        return error(503, "host_unavailable", "sandbox host is not reachable")
    points = ctx.app.agent.metrics(sb, range_, sb.status == st.RUNNING)
    return json_response(200, {
        "sandbox_id": ctx.params["id"], "range": range_,
        "points": [{"timestamp_unix": p.ts, "cpu_pct": p.cpu_pct,
                    "mem_bytes": p.mem_bytes, "disk_bytes": p.disk_bytes}
                   for p in points]})
