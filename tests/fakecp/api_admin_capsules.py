# SPDX-License-Identifier: MIT
"""Admin capsules of f5a23c1 (handlers_admin_capsules.go, CONTRACT 11.2):
capsules owned by the platform team, JWT + platform admin.

  POST/GET /v1/admin/capsules          the team handlers with the team
                                       forced to the platform team
  POST /v1/admin/capsules/{id}/snapshot {"name"?} -> 201 Template: replaces
                                       an existing platform template of
                                       that name, then DESTROYS the capsule
The other /v1/admin/capsules/{id}/... rows are the team handlers behind
authmw.platform_team (routes.py).  Capsules dialect only.
"""

import asyncio

import api_sandboxes
import auditlog
import gojson
import ids
import resources
import state as st
import validate
from agent import AgentError
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import agent_error, error, json_response

SNAPSHOT_REQUEST = gojson.Struct(name=gojson.STRING)


async def create(ctx):
    """POST /v1/admin/capsules"""
    ctx.auth.team_id = st.PLATFORM_TEAM_ID
    return await api_sandboxes.create(ctx)


async def list_(ctx):
    """GET /v1/admin/capsules"""
    ctx.auth.team_id = st.PLATFORM_TEAM_ID
    return await api_sandboxes.list_(ctx)


async def snapshot(ctx):
    """POST /v1/admin/capsules/{id}/snapshot"""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return invalid_sandbox_id()
    try:
        req = await ctx.decode(SNAPSHOT_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    name = req["name"] or ids.snapshot_name()
    bad = validate.safe_name(name)
    if bad:
        return error(400, "invalid_request", "invalid snapshot name: " + bad)
    state = ctx.state
    sb = state.sandbox_by_team(sid, st.PLATFORM_TEAM_ID)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    if sb.status not in (st.RUNNING, st.PAUSED):
        return error(409, "invalid_state", "sandbox must be running or paused")
    existing = state.platform_template(name)
    if existing is not None:
        state.delete_template(existing)
        await ctx.app.agent.remove_tree(existing.files_dir)
    if resources.host_for_agent(state, sb) is not None:
        return error(503, "host_unavailable", "sandbox host is not reachable")
    was_running = sb.status == st.RUNNING
    if was_running:
        state.set_status(sb, st.PAUSED)

    async def take():
        template_id = st.new_template_id()
        try:
            files_dir, size = await ctx.app.agent.snapshot(sb, template_id,
                                                           was_running)
        except (AgentError, OSError) as e:
            if was_running:
                state.set_status(sb, st.RUNNING)
            if isinstance(e, OSError):
                e = AgentError("internal", "create snapshot: %s" % e)
            return agent_error(ctx, e.code, e.text)
        tmpl = state.add_template(name, "snapshot", sb.vcpus, sb.memory_mb,
                                  size, st.PLATFORM_TEAM_ID,
                                  files_dir=files_dir,
                                  template_id=template_id,
                                  metadata=sb.metadata)
        await ctx.app.agent.destroy(sb)
        sb.points.clear()
        state.set_status(sb, st.STOPPED)
        auditlog.snapshot_create(state, ctx.auth, name)
        return json_response(201, st.template_json(tmpl))

    return await asyncio.shield(asyncio.ensure_future(take()))
