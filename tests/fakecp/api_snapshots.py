# SPDX-License-Identifier: MIT
"""Snapshot / template handlers: /v1/snapshots (handlers_snapshots.go).

Create checks, in order: body, sandbox_id present, sandbox_id parses, name
(defaulted to template-<8hex>) is a safe name, not a platform template name
(409 name_reserved), not already the team's (409 already_exists, or with
?overwrite=true the old template is deleted at once - before the sandbox is
even looked up), sandbox exists (404) and is running or paused (409).  A
running sandbox is pre-marked paused and stays paused afterwards.  The copy
runs shielded from client disconnects, like the Go handler's detached
context.

Registered by routes.py.
"""

import asyncio

import auditlog
import gojson
import ids
import resources
import state as st
import validate
from agent import AgentError
from httpio import agent_error, error, json_response, no_content

CREATE_REQUEST = gojson.Struct(sandbox_id=gojson.STRING, name=gojson.STRING)


async def create(ctx):
    """POST /v1/snapshots[?overwrite=true] (capsules: no overwrite)"""
    try:
        req = await ctx.decode(CREATE_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["sandbox_id"] == "":
        return error(400, "invalid_request", "sandbox_id is required")
    sid = ids.parse(ids.SANDBOX, req["sandbox_id"])
    if sid is None:
        return error(400, "invalid_request", "invalid sandbox_id")
    name = req["name"] or ids.snapshot_name()
    bad = validate.safe_name(name)
    if bad:
        return error(400, "invalid_request", "invalid snapshot name: " + bad)

    state = ctx.state
    team_id = ctx.auth.team_id
    overwrite = ctx.q("overwrite") == "true"
    if state.platform_template(name) is not None:
        return error(409, "name_reserved",
                     "template name is reserved by a global template")
    existing = state.template_by_team(name, team_id)
    if existing is not None and ctx.dialect == "capsules":
        # f5a23c1: ?overwrite is gone (CONTRACT 11.7).
        return error(409, "template_name_taken", "snapshot name already "
                     "exists; delete the existing snapshot first to reuse "
                     "this name")
    if existing is not None:
        if not overwrite:
            return error(409, "already_exists", "snapshot name already "
                         "exists; use ?overwrite=true to replace")
        state.delete_template(existing)
        await ctx.app.agent.remove_tree(existing.files_dir)

    sb = state.sandbox_by_team(sid, team_id)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    if sb.status not in (st.RUNNING, st.PAUSED):
        return error(409, "invalid_state", "sandbox must be running or paused")
    return await take(ctx, sb, name, team_id)


async def take(ctx, sb, name, team_id, destroy=False):
    """The copy both snapshot routes make once their checks pass (this
    module's create and api_admin_capsules.snapshot): 503 when sb's host
    is not reachable; a running sandbox is marked paused first (running
    again if the copy fails, else it stays paused); the template name of
    team_id, then with destroy the sandbox destroyed (stopped); 201
    Template.  The copy runs shielded from client disconnects, like the
    Go handler's detached context."""
    state = ctx.state
    if resources.host_for_agent(state, sb) is not None:
        return error(503, "host_unavailable", "sandbox host is not reachable")
    was_running = sb.status == st.RUNNING
    if was_running:
        state.set_status(sb, st.PAUSED)

    async def copy():
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
                                  size, team_id, files_dir=files_dir,
                                  template_id=template_id,
                                  metadata=sb.metadata)
        if destroy:
            await ctx.app.agent.destroy(sb)
            sb.points.clear()
            state.set_status(sb, st.STOPPED)
        auditlog.snapshot_create(state, ctx.auth, name)
        return json_response(201, st.template_json(tmpl))

    return await asyncio.shield(asyncio.ensure_future(copy()))


async def list_(ctx):
    """GET /v1/snapshots[?type=base|snapshot]"""
    return json_response(200, [st.template_json(t) for t in
                               ctx.state.list_templates(ctx.auth.team_id,
                                                        ctx.q("type"))])


async def delete(ctx):
    """DELETE /v1/snapshots/{name}"""
    name = ctx.params.get("name", "")
    bad = validate.safe_name(name)
    if bad:
        return error(400, "invalid_request", "invalid snapshot name: " + bad)
    tmpl = ctx.state.template_by_team(name, ctx.auth.team_id)
    if tmpl is None:
        return error(404, "not_found", "template not found")
    if tmpl.team_id == st.PLATFORM_TEAM_ID:
        return error(403, "forbidden",
                     "platform templates cannot be deleted here")
    ctx.state.delete_template(tmpl)
    await ctx.app.agent.remove_tree(tmpl.files_dir)
    auditlog.snapshot_delete(ctx.state, ctx.auth, name)
    return no_content()
