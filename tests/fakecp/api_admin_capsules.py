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

import api_sandboxes
import api_snapshots
import gojson
import ids
import state as st
import validate
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import error

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
    return await api_snapshots.take(ctx, sb, name, st.PLATFORM_TEAM_ID,
                                    destroy=True)
