# SPDX-License-Identifier: MIT
"""API key management: /v1/api-keys (handlers_apikeys.go, JWT only).

  POST   /v1/api-keys       {name?} -> 201 APIKey with the plaintext "key"
                            (name "" -> "Unnamed API Key"; empty body 400)
  GET    /v1/api-keys       newest first, with creator_email (keys whose
                            creator is not a user are skipped: inner JOIN)
  DELETE /v1/api-keys/{id}  204 whether or not the key exists in the team;
                            malformed ID 400 "invalid API key ID"

Create and delete write audit entries (create / revoke, scope team).  A key
created here authenticates the sandbox and snapshot routes at once.
Registered by routes.py.
"""

import auditlog
import gojson
import ids
import state as st
from httpio import error, json_response, no_content

CREATE_REQUEST = gojson.Struct(name=gojson.STRING)


def key_json(k, creator_email=""):
    """apiKeyToResponse / apiKeyWithCreatorToResponse (omitempty applied)."""
    d = {"id": k.id, "team_id": k.team_id, "name": k.name,
         "key_prefix": k.key_prefix, "created_by": k.created_by}
    if creator_email:
        d["creator_email"] = creator_email
    d["created_at"] = st.rfc3339(k.created_at)
    if k.last_used is not None:
        d["last_used"] = st.rfc3339(k.last_used)
    return d


async def create(ctx):
    """POST /v1/api-keys"""
    try:
        req = await ctx.decode(CREATE_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    ac = ctx.auth
    if ac.team_id not in ctx.state.teams or ac.user_id not in ctx.state.users:
        # InsertAPIKey fails on a foreign key (a minted JWT's team or user)
        return error(500, "internal_error", "failed to create API key")
    rec, plaintext = ctx.state.add_api_key(ac.team_id, ac.user_id,
                                           req["name"] or "Unnamed API Key")
    d = key_json(rec)
    d["key"] = plaintext
    auditlog.api_key_create(ctx.state, ac, rec.id, rec.name)
    return json_response(201, d)


async def list_(ctx):
    """GET /v1/api-keys"""
    state = ctx.state
    keys = [k for k in state.api_keys.values()
            if k.team_id == ctx.auth.team_id and k.created_by in state.users]
    keys.sort(key=lambda k: k.created_at, reverse=True)
    return json_response(200, [key_json(k, state.users[k.created_by].email)
                               for k in keys])


async def delete(ctx):
    """DELETE /v1/api-keys/{id}"""
    key_id = ids.parse(ids.API_KEY, ctx.params.get("id", ""))
    if key_id is None:
        return error(400, "invalid_request", "invalid API key ID")
    state = ctx.state
    for h, k in list(state.api_keys.items()):
        if k.id == key_id and k.team_id == ctx.auth.team_id:
            del state.api_keys[h]
    auditlog.api_key_revoke(state, ctx.auth, key_id)
    return no_content()
