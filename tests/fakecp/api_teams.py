# SPDX-License-Identifier: MIT
"""Teams and members: /v1/teams (handlers_team.go + service/team.go).

Every /v1/teams/{id}... route first checks the URL team against the JWT's
team_id (400 "invalid team ID", 403 "JWT team does not match requested
team; use switch-team first"), before any lookup.  Authorisation then uses
the caller's role re-read from the memberships (not the JWT role claim).
Errors come from the service layer as text and go through the message
mapper, so e.g. "forbidden: ..." is 403 and "invalid: ..." is 400.

Orders of checks (as in Go):
  create       body, trim, name regex
  rename       body, trim, (old name looked up), regex, caller role
               owner/admin; a deleted team renames to nothing and still 204s
  delete       caller role == owner; running/paused/starting sandboxes are
               destroyed and marked stopped, templates removed in the
               background, then the team is soft-deleted
  add member   body, email lower+trim, "email is required", caller role,
               user by exact email (404), already a member (400)
  update role  uid, body, role admin|member (400, checked first), caller
               role, target membership (404), target is owner (403)
  remove       uid, caller role, target (404), owner (403)
  leave        caller role, owner (403)
The PUT /v1/admin/teams/{id}/byoc handler (SetBYOC) lives here too.
Registered by routes.py.
"""

import asyncio
import re
import time

import auditlog
import gojson
import httpio
import ids
import resources
import state as st
import validate
from gojson import GoMap
from httpio import error, json_response, no_content

NAME_REQUEST = gojson.Struct(name=gojson.STRING)
EMAIL_REQUEST = gojson.Struct(email=gojson.STRING)
ROLE_REQUEST = gojson.Struct(role=gojson.STRING)
BYOC_REQUEST = gojson.Struct(enabled=gojson.BOOL)

TEAM_NAME_RE = re.compile(r"[A-Za-z0-9 _\-@']{1,128}")
BAD_TEAM_NAME = ("invalid team name: must be 1-128 characters, "
                 "A-Z a-z 0-9 space _")
ZERO_TIME = "0001-01-01T00:00:00Z"
NO_ROWS = "no rows in result set"


class ServiceError(Exception):
    """A service-layer error, mapped by its text."""


def _fail(ctx, e):
    return httpio.service_error(ctx, str(e))


def invalid_body():
    return error(400, "invalid_request", "invalid JSON body")


def team_json(t):
    """teamToResponse."""
    return {"id": t.id, "name": t.name, "slug": t.slug, "is_byoc": t.is_byoc,
            "created_at": st.rfc3339(t.created_at)}


def team_with_role_json(t, role):
    d = team_json(t)
    d["role"] = role
    return d


def member_json(user, m, joined_at=None):
    """memberInfoToResponse."""
    return {"user_id": user.id, "name": user.name, "email": user.email,
            "role": m.role,
            "joined_at": joined_at if joined_at is not None
            else st.rfc3339(m.joined_at)}


def _memberships(state, team_id=None, user_id=None):
    """users_teams rows, ORDER BY created_at (insertion order on ties)."""
    out = [m for m in state.members.values()
           if (team_id is None or m.team_id == team_id)
           and (user_id is None or m.user_id == user_id)]
    out.sort(key=lambda m: m.joined_at)
    return out


def _members(state, team_id):
    """GetTeamMembers: memberships JOIN users."""
    return [member_json(state.users[m.user_id], m)
            for m in _memberships(state, team_id=team_id)
            if m.user_id in state.users]


def _require_team_access(ctx):
    """requireTeamAccess: (team_id, None) or (None, response)."""
    team_id = ids.parse(ids.TEAM, ctx.params.get("id", ""))
    if team_id is None:
        return None, error(400, "invalid_request", "invalid team ID")
    if team_id != ctx.auth.team_id:
        return None, error(403, "forbidden", "JWT team does not match "
                           "requested team; use switch-team first")
    return team_id, None


def _caller_role(state, team_id, user_id):
    m = state.members.get((team_id, user_id))
    if m is None:
        raise ServiceError("forbidden: not a member of this team")
    return m.role


def _team_role(ctx):
    """requireTeamAccess, then the caller's role in the team: (team_id,
    role, None), or (None, None, the reply) for an id that does not
    parse, another team's id, or a caller who is not a member."""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return None, None, resp
    try:
        return team_id, _caller_role(ctx.state, team_id,
                                     ctx.auth.user_id), None
    except ServiceError as e:
        return None, None, _fail(ctx, e)


def _require_admin(role):
    if role not in ("owner", "admin"):
        raise ServiceError("forbidden: admin or owner role required")


def _get_team(state, team_id):
    """TeamService.GetTeam: missing or soft-deleted -> "team not found"."""
    t = state.teams.get(team_id)
    if t is None or t.deleted_at is not None:
        raise ServiceError("team not found")
    return t


def _target_membership(state, team_id, user_id):
    m = state.members.get((team_id, user_id))
    if m is None:
        raise ServiceError("not found: user is not a member of this team")
    return m


# ---- /v1/teams -------------------------------------------------------------

async def list_(ctx):
    """GET /v1/teams"""
    state = ctx.state
    out = []
    for m in _memberships(state, user_id=ctx.auth.user_id):
        t = state.teams.get(m.team_id)
        if t is not None and t.deleted_at is None:
            out.append(team_with_role_json(t, m.role))
    return json_response(200, out)


async def create(ctx):
    """POST /v1/teams"""
    try:
        req = await ctx.decode(NAME_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    name = validate.trim_space(req["name"])
    if not TEAM_NAME_RE.fullmatch(name):
        return _fail(ctx, BAD_TEAM_NAME)
    state = ctx.state
    if ctx.auth.user_id not in state.users:     # rolled back
        return _fail(ctx, "insert owner: "
                     + resources.fk_violation("users_teams", "user_id"))
    t = state.add_team(name)
    state.add_member(t.id, ctx.auth.user_id, "owner")
    return json_response(201, team_with_role_json(t, "owner"))


async def get(ctx):
    """GET /v1/teams/{id}"""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return resp
    try:
        t = _get_team(ctx.state, team_id)
    except ServiceError as e:
        return _fail(ctx, e)
    return json_response(200, {"team": team_json(t),
                               "members": _members(ctx.state, team_id)})


async def rename(ctx):
    """PATCH /v1/teams/{id}"""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return resp
    try:
        req = await ctx.decode(NAME_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    name = validate.trim_space(req["name"])
    state = ctx.state
    try:
        old_name = _get_team(state, team_id).name
    except ServiceError:
        old_name = ""          # Go logs a warning and goes on
    try:
        if not TEAM_NAME_RE.fullmatch(name):
            raise ServiceError(BAD_TEAM_NAME)
        _require_admin(_caller_role(state, team_id, ctx.auth.user_id))
    except ServiceError as e:
        return _fail(ctx, e)
    t = state.teams.get(team_id)
    if t is not None and t.deleted_at is None:    # UpdateTeamName
        t.name = name
    auditlog.team_rename(state, ctx.auth, team_id, old_name, name)
    return no_content()


async def delete(ctx):
    """DELETE /v1/teams/{id}"""
    team_id, role, resp = _team_role(ctx)
    if resp is not None:
        return resp
    if role != "owner":
        return _fail(ctx, "forbidden: only the owner can delete a team")
    await _delete_team(ctx.app, team_id)
    return no_content()


async def destroy_team_sandboxes(app, team_id):
    """Destroy a team's running/paused/starting sandboxes (-> stopped)."""
    state = app.state
    active = [s for s in state.sandboxes.values() if s.team_id == team_id
              and s.status in (st.RUNNING, st.PAUSED, "starting")]
    for sb in active:
        if sb.host_id in state.hosts:
            try:
                await app.agent.destroy(sb)
            except OSError:
                pass
    for sb in active:
        state.set_status(sb, st.STOPPED)


async def _delete_team(app, team_id):
    """TeamService's delete: sandboxes, templates, soft delete."""
    await destroy_team_sandboxes(app, team_id)
    asyncio.ensure_future(_cleanup_team_templates(app, team_id))
    t = app.state.teams.get(team_id)
    if t is not None:
        t.deleted_at = time.time()


# ---- admin (f5a23c1) ---------------------------------------------------------

PER_PAGE = 100


def page_param(ctx):
    """fmt.Sscanf(p, "%d", &page): a leading integer, else (or < 1) 1."""
    m = re.match(r"\s*([+-]?[0-9]+)", ctx.q("page"))
    page = int(m.group(1)) if m else 1
    return page if page >= 1 else 1


def paged(ctx, key, rows):
    page = page_param(ctx)
    total = len(rows)
    return json_response(200, GoMap([
        (key, rows[(page - 1) * PER_PAGE:page * PER_PAGE]),
        ("total", total), ("page", page), ("per_page", PER_PAGE),
        ("total_pages", (total + PER_PAGE - 1) // PER_PAGE)]))


async def admin_list_teams(ctx):
    """GET /v1/admin/teams?page=N (every team but the platform team)"""
    state = ctx.state
    teams = [t for t in state.teams.values() if t.id != st.PLATFORM_TEAM_ID]
    # deleted_at ASC NULLS FIRST, created_at DESC
    teams.sort(key=lambda t: (t.deleted_at is not None, t.deleted_at or 0,
                              -t.created_at))
    rows = []
    for t in teams:
        members = [m for m in state.members.values() if m.team_id == t.id]
        owner = next((state.users.get(m.user_id) for m in members
                      if m.role == "owner"), None)
        rows.append({
            "id": t.id, "name": t.name, "slug": t.slug, "is_byoc": t.is_byoc,
            "created_at": st.rfc3339(t.created_at),
            "deleted_at": None if t.deleted_at is None
            else st.rfc3339(t.deleted_at),
            "member_count": len(members),
            "owner_name": owner.name if owner else "",
            "owner_email": owner.email if owner else "",
            "active_sandbox_count": sum(
                1 for s in state.sandboxes.values() if s.team_id == t.id
                and s.status in (st.RUNNING, st.PAUSED, "starting")),
            "channel_count": sum(1 for c in state.channels.values()
                                 if c.team_id == t.id)})
    return paged(ctx, "teams", rows)


async def admin_delete_team(ctx):
    """DELETE /v1/admin/teams/{id}"""
    team_id = ids.parse(ids.TEAM, ctx.params.get("id", ""))
    if team_id is None:
        return error(400, "invalid_request", "invalid team ID")
    t = ctx.state.teams.get(team_id)
    if t is None or t.deleted_at is not None:
        return _fail(ctx, "team not found")
    await _delete_team(ctx.app, team_id)
    auditlog.team_delete(ctx.state, ctx.auth, team_id)
    return no_content()


async def _cleanup_team_templates(app, team_id):
    """cleanupTeamTemplates: drop the team's templates (files + records)."""
    for t in [t for t in app.state.templates.values()
              if t.team_id == team_id]:
        app.state.delete_template(t)
        await app.agent.remove_tree(t.files_dir)


# ---- members ----------------------------------------------------------------

async def list_members(ctx):
    """GET /v1/teams/{id}/members"""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return resp
    return json_response(200, _members(ctx.state, team_id))


async def add_member(ctx):
    """POST /v1/teams/{id}/members"""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return resp
    try:
        req = await ctx.decode(EMAIL_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    email = validate.trim_space(req["email"].lower())
    if email == "":
        return error(400, "invalid_request", "email is required")
    state = ctx.state
    try:
        _require_admin(_caller_role(state, team_id, ctx.auth.user_id))
        target = next((u for u in state.users.values() if u.email == email),
                      None)
        if target is None:
            raise ServiceError("user not found: no account with that email")
        if (team_id, target.id) in state.members:
            raise ServiceError("invalid: user is already a member of this "
                               "team")
    except ServiceError as e:
        return _fail(ctx, e)
    m = state.add_member(team_id, target.id, "member")
    auditlog.member_add(state, ctx.auth, target.id, target.email, "member")
    return json_response(201, member_json(target, m, joined_at=ZERO_TIME))


def _member_param(ctx):
    """requireTeamAccess, then the {uid} of /members/{uid}: (team_id,
    uid, None), or (None, None, the 400 or 403 reply)."""
    team_id, resp = _require_team_access(ctx)
    if resp is not None:
        return None, None, resp
    uid = ids.parse(ids.USER, ctx.params.get("uid", ""))
    if uid is None:
        return None, None, error(400, "invalid_request", "invalid user ID")
    return team_id, uid, None


async def update_member_role(ctx):
    """PATCH /v1/teams/{id}/members/{uid}"""
    team_id, uid, resp = _member_param(ctx)
    if resp is not None:
        return resp
    try:
        req = await ctx.decode(ROLE_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    role = req["role"]
    state = ctx.state
    try:
        if role not in ("admin", "member"):
            raise ServiceError("invalid: role must be admin or member")
        _require_admin(_caller_role(state, team_id, ctx.auth.user_id))
        target = _target_membership(state, team_id, uid)
        if target.role == "owner":
            raise ServiceError("forbidden: the owner's role cannot be "
                               "changed")
    except ServiceError as e:
        return _fail(ctx, e)
    target.role = role
    auditlog.member_role_update(state, ctx.auth, uid, role)
    return no_content()


async def remove_member(ctx):
    """DELETE /v1/teams/{id}/members/{uid}"""
    team_id, uid, resp = _member_param(ctx)
    if resp is not None:
        return resp
    state = ctx.state
    try:
        _require_admin(_caller_role(state, team_id, ctx.auth.user_id))
        target = _target_membership(state, team_id, uid)
        if target.role == "owner":
            raise ServiceError("forbidden: the owner cannot be removed from "
                               "the team")
    except ServiceError as e:
        return _fail(ctx, e)
    state.members.pop((team_id, uid), None)
    auditlog.member_remove(state, ctx.auth, uid)
    return no_content()


async def leave(ctx):
    """POST /v1/teams/{id}/leave"""
    team_id, role, resp = _team_role(ctx)
    if resp is not None:
        return resp
    if role == "owner":
        return _fail(ctx, "forbidden: the owner cannot leave the team; "
                     "delete the team instead")
    state = ctx.state
    state.members.pop((team_id, ctx.auth.user_id), None)
    auditlog.member_leave(state, ctx.auth)
    return no_content()


# ---- admin ------------------------------------------------------------------

async def set_byoc(ctx):
    """PUT /v1/admin/teams/{id}/byoc (one-way switch)"""
    team_id = ids.parse(ids.TEAM, ctx.params.get("id", ""))
    if team_id is None:
        return error(400, "invalid_request", "invalid team ID")
    try:
        req = await ctx.decode(BYOC_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    t = ctx.state.teams.get(team_id)
    if t is None:
        return _fail(ctx, "team not found: " + NO_ROWS)
    if t.deleted_at is not None:
        return _fail(ctx, "team not found")
    if not req["enabled"]:
        return _fail(ctx, "invalid request: BYOC cannot be disabled once enabled")
    t.is_byoc = True
    return no_content()
