# SPDX-License-Identifier: MIT
"""User search: GET /v1/users/search?email=<prefix> (handlers_users.go).

The prefix is trimmed and must be at least 3 bytes and contain "@" (else
400).  The query is `email LIKE <prefix with % and _ escaped> || '%'`,
case-sensitive, ORDER BY email (code-point order here), LIMIT 10.  A
backslash the client sends is not escaped, so it still acts as the LIKE
escape character, as in Postgres.  Any authenticated user can search every
account.  At f5a23c1 also the admin user list and PUT
/v1/admin/users/{id}/active (deactivation: status "disabled", the user's
API keys deleted, the sandboxes of the teams they own destroyed).
Registered by routes.py.
"""

import re

import api_teams
import auditlog
import gojson
import ids
import state as st
import validate
from httpio import error, json_response, no_content

SEARCH_LIMIT = 10


def like_regex(pattern):
    """A Postgres LIKE pattern (escape character backslash) as a regex."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


async def search(ctx):
    """GET /v1/users/search"""
    prefix = validate.trim_space(ctx.q("email"))
    if len(prefix.encode("utf-8", "surrogateescape")) < 3 or "@" not in prefix:
        return error(400, "invalid_request", "email prefix must be at least "
                     "3 characters and contain '@'")
    escaped = prefix.replace("%", "\\%").replace("_", "\\_")
    rx = like_regex(escaped + "%")
    found = sorted((u for u in ctx.state.users.values()
                    if rx.fullmatch(u.email)), key=lambda u: u.email)
    return json_response(200, [{"user_id": u.id, "email": u.email}
                               for u in found[:SEARCH_LIMIT]])


# ---- admin (f5a23c1) ---------------------------------------------------------

ACTIVE_REQUEST = gojson.Struct(active=gojson.BOOL)


async def admin_list_users(ctx):
    """GET /v1/admin/users?page=N (every user not deleted, newest first)"""
    state = ctx.state
    users = sorted((u for u in state.users.values() if u.status != "deleted"),
                   key=lambda u: -u.created_at)
    rows = []
    for u in users:
        ms = [m for m in state.members.values() if m.user_id == u.id]
        rows.append({"id": u.id, "email": u.email, "name": u.name,
                     "is_admin": u.is_admin, "status": u.status,
                     "created_at": st.rfc3339(u.created_at),
                     "teams_joined": len(ms),
                     "teams_owned": sum(1 for m in ms if m.role == "owner")})
    return api_teams.paged(ctx, "users", rows)


async def set_user_active(ctx):
    """PUT /v1/admin/users/{id}/active {"active": bool}"""
    user_id = ids.parse(ids.USER, ctx.params.get("id", ""))
    if user_id is None:
        return error(400, "invalid_request", "invalid user ID")
    try:
        req = await ctx.decode(ACTIVE_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if ctx.auth.user_id == user_id and not req["active"]:
        return error(400, "invalid_request",
                     "cannot deactivate your own account")
    state = ctx.state
    user = state.users.get(user_id)
    if user is None:
        return error(404, "not_found", "user not found")
    if req["active"]:
        user.status = "active"
        auditlog.user_activate(state, ctx.auth, user_id, user.email)
        return no_content()
    # UserService.SetUserStatus(disabled): API keys deleted, sandboxes of
    # the teams they own destroyed.
    user.status = "disabled"
    for h, k in list(state.api_keys.items()):
        if k.created_by == user_id:
            del state.api_keys[h]
    for m in [m for m in state.members.values()
              if m.user_id == user_id and m.role == "owner"]:
        await api_teams.destroy_team_sandboxes(ctx.app, m.team_id)
    auditlog.user_deactivate(state, ctx.auth, user_id, user.email)
    return no_content()
