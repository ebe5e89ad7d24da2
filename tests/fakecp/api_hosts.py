# SPDX-License-Identifier: MIT
"""Hosts: /v1/hosts (handlers_hosts.go + service/host.go at 172413e).

JWT group (create, list, get, delete, delete-preview, token, tags): the
caller's platform-admin flag is re-read from the users table on every call.
Non-admins see only BYOC hosts of their JWT team; anything else is
"host not found" (404).  Service errors go through the message mapper:
"invalid request: team not found" is 404 because "not found" wins, and
"invalid state: ..." (token regeneration for a non-pending host) is 400.

DELETE without ?force=true (exact string) on a host that still has
sandboxes in pending|starting|running|missing answers the one special 409
payload with code has_active_sandboxes and sandbox_ids inside "error".
With force, running/starting sandboxes are killed on the fake agent, all of
those sandboxes become stopped, refresh tokens are revoked and the host row
(and its tags) deleted.  Paused sandboxes keep pointing at the deleted host,
so their later pause/resume/destroy answer 404 "host not found for sandbox".

Host-agent side (no user auth): register consumes a one-time registration
token (64 hex, 1 h) and returns a host JWT + refresh token (60 days,
rotated on refresh); heartbeat takes the X-Host-Token JWT and turns an
unreachable host back online.  No mTLS CA is configured in the fake, so
cert_pem/key_pem/ca_cert_pem are omitted (as the CP does without a CA).
Registered by routes.py.
"""

import hashlib
import time

import auditlog
import gojson
import httpio
import ids
import resources
import tokens
from httpio import error, json_response, no_content

CREATE_REQUEST = gojson.Struct(type=gojson.STRING, team_id=gojson.STRING,
                               provider=gojson.STRING,
                               availability_zone=gojson.STRING)
TAG_REQUEST = gojson.Struct(tag=gojson.STRING)
REGISTER_REQUEST = gojson.Struct(token=gojson.STRING, arch=gojson.STRING,
                                 cpu_cores=gojson.INT32,
                                 memory_mb=gojson.INT32,
                                 disk_gb=gojson.INT32, address=gojson.STRING)
REFRESH_REQUEST = gojson.Struct(refresh_token=gojson.STRING)
NO_ROWS = "no rows in result set"


class ServiceError(Exception):
    """A service-layer error, mapped by its text."""


def _fail(ctx, e):
    return httpio.service_error(ctx, str(e))


def _is_admin(ctx):
    u = ctx.state.users.get(ctx.auth.user_id)
    return u is not None and u.is_admin


def _host_id_param(ctx):
    return ids.parse(ids.HOST, ctx.params.get("id", ""))


def invalid_host_id():
    return error(400, "invalid_request", "invalid host ID")


def _hash(token):
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")) \
        .hexdigest()


def _require_team_admin(state, user_id, team_id):
    m = state.members.get((team_id, user_id))
    if m is None:
        raise ServiceError("forbidden: not a member of the specified team")
    if m.role not in ("owner", "admin"):
        raise ServiceError("forbidden: only team owners and admins can "
                           "manage BYOC hosts")


def _get_host(state, host_id):
    h = state.hosts.get(host_id)
    if h is None:
        raise ServiceError("host not found: " + NO_ROWS)
    return h


def _get_visible(ctx, host_id, admin):
    """HostService.Get."""
    h = _get_host(ctx.state, host_id)
    if not admin and (not h.team_id or h.team_id != ctx.auth.team_id):
        raise ServiceError("host not found")
    return h


def _visible_host(ctx):
    """The {id} host as GET /v1/hosts/{id} finds it: (host, None), or
    (None, the reply) for an id that does not parse or a host the caller
    may not see."""
    host_id = _host_id_param(ctx)
    if host_id is None:
        return None, invalid_host_id()
    try:
        return _get_visible(ctx, host_id, _is_admin(ctx)), None
    except ServiceError as e:
        return None, _fail(ctx, e)


def _check_delete_permission(ctx, host_id, admin, check_membership):
    h = _get_host(ctx.state, host_id)
    if admin:
        return h
    if h.type != "byoc":
        raise ServiceError("forbidden: only admins can delete regular hosts")
    if not h.team_id or h.team_id != ctx.auth.team_id:
        raise ServiceError("forbidden: host does not belong to your team")
    if check_membership:
        _require_team_admin(ctx.state, ctx.auth.user_id, ctx.auth.team_id)
    return h


def new_registration_token(state, host_id):
    token = ids.hex_token()
    state.reg_tokens[token] = (host_id, time.time()
                               + resources.HOST_REG_TOKEN_TTL)
    return token


def _issue_refresh_token(state, host_id):
    token = ids.hex_token()
    rec = resources.RefreshToken(ids.new(ids.REFRESH_TOKEN), host_id,
                                 _hash(token),
                                 time.time() + resources.HOST_REFRESH_TTL)
    state.refresh_tokens[rec.token_hash] = rec
    return token


def _host_jwt(state, host_id):
    return tokens.sign(state.jwt_secret, tokens.host_claims(host_id))


# ---- JWT group --------------------------------------------------------------

async def create(ctx):
    """POST /v1/hosts"""
    try:
        req = await ctx.decode(CREATE_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    state = ctx.state
    admin = _is_admin(ctx)
    team_id = None
    if req["team_id"] != "":
        team_id = ids.parse(ids.TEAM, req["team_id"])
        if team_id is None:
            return error(400, "invalid_request", "invalid team_id")
    try:
        if req["type"] not in ("regular", "byoc"):
            raise ServiceError("invalid host type: must be 'regular' or "
                               "'byoc'")
        if req["type"] == "regular":
            if not admin:
                raise ServiceError("forbidden: only admins can create "
                                   "regular hosts")
        else:
            if team_id is None:
                raise ServiceError("invalid request: team_id is required "
                                   "for BYOC hosts")
            if not admin:
                _require_team_admin(state, ctx.auth.user_id, team_id)
        if team_id is not None:
            team = state.teams.get(team_id)
            if team is None or team.deleted_at is not None:
                raise ServiceError("invalid request: team not found")
            if not team.is_byoc:
                raise ServiceError("forbidden: BYOC is not enabled for this "
                                   "team")
        if ctx.auth.user_id not in state.users:
            raise ServiceError("insert host: " + resources.fk_violation(
                "hosts", "created_by"))
    except ServiceError as e:
        return _fail(ctx, e)
    h = resources.add_host(state, req["type"], team_id, ctx.auth.user_id,
                           provider=req["provider"],
                           availability_zone=req["availability_zone"])
    token = new_registration_token(state, h.id)
    auditlog.host_create(state, ctx.auth, h.id, h.team_id)
    return json_response(201, {"host": resources.host_json(h),
                               "registration_token": token})


async def list_(ctx):
    """GET /v1/hosts"""
    state = ctx.state
    admin = _is_admin(ctx)
    out = []
    for h in resources.hosts_by_created(state, True):
        if admin:
            team = state.teams.get(h.team_id) if h.team_id else None
            out.append(resources.host_json(
                h, team.name if team is not None else None))
        elif h.team_id == ctx.auth.team_id and h.type == "byoc":
            out.append(resources.host_json(h))
    return json_response(200, out)


async def get(ctx):
    """GET /v1/hosts/{id}"""
    h, resp = _visible_host(ctx)
    if resp is not None:
        return resp
    return json_response(200, resources.host_json(h))


async def delete_preview(ctx):
    """GET /v1/hosts/{id}/delete-preview (no membership-role check)"""
    host_id = _host_id_param(ctx)
    if host_id is None:
        return invalid_host_id()
    try:
        h = _check_delete_permission(ctx, host_id, _is_admin(ctx), False)
    except ServiceError as e:
        return _fail(ctx, e)
    sbs = resources.sandboxes_on_host(ctx.state, host_id)
    return json_response(200, {"host": resources.host_json(h),
                               "sandbox_ids": [s.id for s in sbs]})


async def delete(ctx):
    """DELETE /v1/hosts/{id}[?force=true]"""
    force = ctx.q("force") == "true"
    host_id = _host_id_param(ctx)
    if host_id is None:
        return invalid_host_id()
    state = ctx.state
    before = state.hosts.get(host_id)
    try:
        h = _check_delete_permission(ctx, host_id, _is_admin(ctx), True)
    except ServiceError as e:
        return _fail(ctx, e)
    sbs = resources.sandboxes_on_host(state, host_id)
    if sbs and not force:
        return json_response(409, gojson.GoMap(error=gojson.GoMap(
            code="has_active_sandboxes",
            message="host has active sandboxes; use ?force=true to destroy "
                    "them and delete the host",
            sandbox_ids=[s.id for s in sbs])))
    if h.address:
        for sb in sbs:
            if sb.status in ("running", "starting"):
                try:
                    await ctx.app.agent.destroy(sb)
                except OSError:
                    pass
    for sb in sbs:
        state.set_status(sb, "stopped")
    now = time.time()
    for rec in state.refresh_tokens.values():
        if rec.host_id == host_id and rec.revoked_at is None:
            rec.revoked_at = now
    state.hosts.pop(host_id, None)
    auditlog.host_delete(state, ctx.auth, host_id,
                         before.team_id if before is not None else None)
    return no_content()


async def regenerate_token(ctx):
    """POST /v1/hosts/{id}/token"""
    host_id = _host_id_param(ctx)
    if host_id is None:
        return invalid_host_id()
    state = ctx.state
    admin = _is_admin(ctx)
    try:
        h = _get_host(state, host_id)
        if h.status != "pending":
            raise ServiceError("invalid state: can only regenerate token for "
                               "pending hosts (status: %s)" % h.status)
        if not admin:
            if h.type != "byoc":
                raise ServiceError("forbidden: only admins can manage "
                                   "regular hosts")
            if not h.team_id or h.team_id != ctx.auth.team_id:
                raise ServiceError("forbidden: host does not belong to your "
                                   "team")
            _require_team_admin(state, ctx.auth.user_id, ctx.auth.team_id)
    except ServiceError as e:
        return _fail(ctx, e)
    token = new_registration_token(state, host_id)
    return json_response(201, {"host": resources.host_json(h),
                               "registration_token": token})


async def list_tags(ctx):
    """GET /v1/hosts/{id}/tags (null when there are none)"""
    h, resp = _visible_host(ctx)
    if resp is not None:
        return resp
    return json_response(200, sorted(h.tags) or None)


async def add_tag(ctx):
    """POST /v1/hosts/{id}/tags {tag} (idempotent)"""
    admin = _is_admin(ctx)
    host_id = _host_id_param(ctx)
    if host_id is None:
        return invalid_host_id()
    try:
        req = await ctx.decode(TAG_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["tag"] == "":
        return error(400, "invalid_request", "tag is required")
    try:
        h = _get_visible(ctx, host_id, admin)
    except ServiceError as e:
        return _fail(ctx, e)
    h.tags.add(req["tag"])
    return no_content()


async def remove_tag(ctx):
    """DELETE /v1/hosts/{id}/tags/{tag} (204 even if absent)"""
    h, resp = _visible_host(ctx)
    if resp is not None:
        return resp
    h.tags.discard(ctx.params.get("tag", ""))
    return no_content()


# ---- host agent side --------------------------------------------------------

def _agent_response(state, h, refresh_token):
    return {"host": resources.host_json(h), "token": _host_jwt(state, h.id),
            "refresh_token": refresh_token}


async def register(ctx):
    """POST /v1/hosts/register (no auth; one-time token in the body)"""
    try:
        req = await ctx.decode(REGISTER_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["token"] == "":
        return error(400, "invalid_request", "token is required")
    if req["address"] == "":
        return error(400, "invalid_request", "address is required")
    state = ctx.state
    entry = state.reg_tokens.pop(req["token"], None)     # GETDEL
    try:
        if entry is None or entry[1] <= time.time():
            raise ServiceError("invalid or expired registration token")
        h = _get_host(state, entry[0])
        if h.status != "pending":
            raise ServiceError("host already registered or not found")
    except ServiceError as e:
        return _fail(ctx, e)
    now = time.time()
    h.arch = req["arch"]
    h.cpu_cores = req["cpu_cores"]
    h.memory_mb = req["memory_mb"]
    h.disk_gb = req["disk_gb"]
    h.address = req["address"]
    h.status = "online"
    h.last_heartbeat_at = h.updated_at = now
    refresh = _issue_refresh_token(state, h.id)
    return json_response(201, _agent_response(state, h, refresh))


async def refresh(ctx):
    """POST /v1/hosts/auth/refresh (no auth; refresh token in the body)"""
    try:
        req = await ctx.decode(REFRESH_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["refresh_token"] == "":
        return error(400, "invalid_request", "refresh_token is required")
    state = ctx.state
    now = time.time()
    rec = state.refresh_tokens.get(_hash(req["refresh_token"]))
    try:
        if rec is None or rec.revoked_at is not None or rec.expires_at <= now:
            raise ServiceError("invalid or expired refresh token")
        h = _get_host(state, rec.host_id)
    except ServiceError as e:
        return _fail(ctx, e)
    new_token = _issue_refresh_token(state, h.id)
    rec.revoked_at = now
    return json_response(200, _agent_response(state, h, new_token))


async def heartbeat(ctx):
    """POST /v1/hosts/{id}/heartbeat (X-Host-Token)"""
    host_id = _host_id_param(ctx)
    if host_id is None:
        return invalid_host_id()
    if host_id != ctx.host_id:
        return error(403, "forbidden", "host ID mismatch")
    h = ctx.state.hosts.get(host_id)
    if h is None:
        return _fail(ctx, "host not found")
    was = h.status
    h.last_heartbeat_at = h.updated_at = time.time()
    if h.status == "unreachable":
        h.status = "online"
    if was == "unreachable":
        auditlog.host_marked_up(ctx.state, h.team_id, h.id)
    return no_content()
