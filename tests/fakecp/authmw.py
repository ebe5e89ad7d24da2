# SPDX-License-Identifier: MIT
"""The control plane's auth middlewares (CONTRACT.md 2.2, middleware_*.go).

  api_key_or_jwt  A: sandbox and snapshot routes.  A non-empty X-API-Key is
                  the only credential considered, even when it is wrong and
                  a valid Bearer token is also sent.
  jwt_only        B: X-API-Key is ignored.
  admin           C: B, then the user must exist and be a platform admin.
  host_token      D: X-Host-Token carrying a typ=host JWT.

In the capsules dialect (f5a23c1) every JWT is also checked against the
user's row (missing 401 "user not found", not active 403
account_deactivated), and three more exist:
  optional_api_key_or_jwt  the WS routes: stamps ctx.auth from valid
                  header credentials, passes through otherwise (the
                  handler then reads the auth message, api_stream.ws_auth).
  platform_team   injectPlatformTeam: the team becomes the platform team.
  admin_ws        markAdminWS: ctx.admin_ws = True (auth message only).

Each stamps ctx.auth (or ctx.host_id) and calls next, or answers 401/403
with the exact messages of the Go code.  JWT claims that hold an ID are
parsed with ids.parse, so the >2^128 quirk drops the connection here too.
"""

import dataclasses
import time
from typing import Optional

import ids
import state as st
import tokens
from httpio import error


@dataclasses.dataclass
class AuthContext:
    """auth.AuthContext: who is calling and for which team."""
    team_id: str
    user_id: Optional[str] = None
    email: str = ""
    name: str = ""
    role: str = ""
    is_admin: bool = False
    api_key_id: Optional[str] = None
    api_key_name: str = ""


def _unauthorized(message):
    return error(401, "unauthorized", message)


DEACTIVATED = ("your account has been deactivated \u2014 contact your "
               "administrator to regain access")


def auth_from_jwt(ctx, token):
    """Verify a user JWT; return (AuthContext, None) or (None, response).
    The user's row is checked too in the capsules dialect."""
    try:
        claims = tokens.verify_user(ctx.state.jwt_secret, token)
    except tokens.TokenError:
        return None, _unauthorized("invalid or expired token")
    team_id = ids.parse(ids.TEAM, claims["team_id"])
    if team_id is None:
        return None, _unauthorized("invalid team ID in token")
    user_id = ids.parse(ids.USER, claims["sub"])
    if user_id is None:
        return None, _unauthorized("invalid user ID in token")
    if ctx.dialect == "capsules":
        user = ctx.state.users.get(user_id)
        if user is None:
            return None, _unauthorized("user not found")
        if user.status != "active":
            return None, error(403, "account_deactivated", DEACTIVATED)
    return AuthContext(team_id=team_id, user_id=user_id,
                       email=claims["email"], name=claims["name"],
                       role=claims["role"],
                       is_admin=claims["is_admin"]), None


async def api_key_or_jwt(ctx, nxt):
    """requireAPIKeyOrJWT."""
    key = ctx.header("X-API-Key")
    if key:
        rec = ctx.state.api_key_by_plaintext(key)
        if rec is None:
            return _unauthorized("invalid API key")
        rec.last_used = time.time()
        ctx.auth = AuthContext(team_id=rec.team_id, api_key_id=rec.id,
                               api_key_name=rec.name)
        return await nxt(ctx)
    header = ctx.header("Authorization")
    if header.startswith("Bearer "):
        ac, resp = auth_from_jwt(ctx, header[len("Bearer "):])
        if resp is not None:
            return resp
        ac.is_admin = False   # this middleware does not copy IsAdmin
        ctx.auth = ac
        return await nxt(ctx)
    return _unauthorized("X-API-Key or Authorization: Bearer <token> required")


async def jwt_only(ctx, nxt):
    """requireJWT."""
    header = ctx.header("Authorization")
    if not header.startswith("Bearer "):
        return _unauthorized("Authorization: Bearer <token> required")
    ac, resp = auth_from_jwt(ctx, header[len("Bearer "):])
    if resp is not None:
        return resp
    ctx.auth = ac
    return await nxt(ctx)


async def admin(ctx, nxt):
    """requireAdmin (after jwt_only): the DB, not the claim, decides."""
    if ctx.auth is None:
        return _unauthorized("authentication required")
    user = ctx.state.users.get(ctx.auth.user_id)
    if user is None or not user.is_admin:
        return error(403, "forbidden", "admin access required")
    return await nxt(ctx)


async def optional_api_key_or_jwt(ctx, nxt):
    """optionalAPIKeyOrJWT (f5a23c1): header credentials where valid; bad
    or missing ones do not fail the request."""
    key = ctx.header("X-API-Key")
    rec = ctx.state.api_key_by_plaintext(key) if key else None
    if rec is not None:
        rec.last_used = time.time()
        ctx.auth = AuthContext(team_id=rec.team_id, api_key_id=rec.id,
                               api_key_name=rec.name)
        return await nxt(ctx)
    header = ctx.header("Authorization")
    if header.startswith("Bearer "):
        ac, _ = auth_from_jwt(ctx, header[len("Bearer "):])
        if ac is not None:
            ac.is_admin = False
            ctx.auth = ac
    return await nxt(ctx)


async def platform_team(ctx, nxt):
    """injectPlatformTeam (after admin)."""
    if ctx.auth is not None:
        ctx.auth.team_id = st.PLATFORM_TEAM_ID
    return await nxt(ctx)


async def admin_ws(ctx, nxt):
    """markAdminWS: the handler authenticates with the auth message and
    requires a platform admin; header credentials are not consulted."""
    ctx.admin_ws = True
    return await nxt(ctx)


async def host_token(ctx, nxt):
    """requireHostToken."""
    token = ctx.header("X-Host-Token")
    if not token:
        return _unauthorized("X-Host-Token header required")
    try:
        claims = tokens.verify_host(ctx.state.jwt_secret, token)
    except tokens.TokenError:
        return _unauthorized("invalid or expired host token")
    host_id = ids.parse(ids.HOST, claims["host_id"])
    if host_id is None:
        return _unauthorized("invalid host ID in token")
    ctx.host_id = host_id
    return await nxt(ctx)
