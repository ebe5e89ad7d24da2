# SPDX-License-Identifier: MIT
"""Notification channels: /v1/channels (handlers_channels.go,
internal/channels/service.go at 172413e).  JWT only, scoped to the JWT team.

Validation, in Go's order:
  create  name (trim, lower, spaces -> "-", then validate.SafeName:
          "invalid: name must not be empty" / "invalid: name ... must match"),
          provider (discord slack teams googlechat telegram matrix webhook,
          else "invalid: unsupported provider \"x\""), events (at least one,
          each a known type, else "invalid: unknown event type \"x\""), the
          provider's required config keys in order ("invalid: url is
          required for webhook"); webhook gets a 64-hex secret when none is
          given and only then is the secret echoed ("secret" in the 201).
          Name taken in the team -> 409 conflict "conflict: channel name
          \"x\" already exists".
  update  PATCH needs name and events (same rules); unknown -> 404 "channel
          not found"; name taken by another channel -> 409.
  config  PUT replaces the config after checking the channel's provider
          keys; the secret is not echoed.
  delete  204 whether or not it existed (still audited).
  test    POST /v1/channels/test validates provider + config and answers
          {"status":"ok"}; the fake never delivers anything.
Registered by routes.py.
"""

import time

import auditlog
import gojson
import httpio
import ids
import resources
import state as st
import validate
from httpio import error, json_response, no_content

PROVIDERS = ("discord", "slack", "teams", "googlechat", "telegram", "matrix",
             "webhook")
REQUIRED_FIELDS = {
    "discord": ("webhook_url",),
    "slack": ("webhook_url",),
    "teams": ("webhook_url",),
    "googlechat": ("webhook_url",),
    "telegram": ("bot_token", "chat_id"),
    "matrix": ("homeserver_url", "access_token", "room_id"),
    "webhook": ("url",),
}
EVENT_TYPES = ("capsule.created", "capsule.running", "capsule.paused",
               "capsule.destroyed", "template.snapshot.created",
               "template.snapshot.deleted", "host.up", "host.down")

_CONFIG = gojson.MapOf(gojson.STRING)
_EVENTS = gojson.ListOf(gojson.STRING)
CREATE_REQUEST = gojson.Struct(name=gojson.STRING, provider=gojson.STRING,
                               config=_CONFIG, events=_EVENTS)
UPDATE_REQUEST = gojson.Struct(name=gojson.STRING, events=_EVENTS)
CONFIG_REQUEST = gojson.Struct(config=_CONFIG)
TEST_REQUEST = gojson.Struct(provider=gojson.STRING, config=_CONFIG)


class ServiceError(Exception):
    """A service-layer error, mapped by its text."""


def _fail(ctx, e):
    return httpio.service_error(ctx, str(e))


def invalid_body():
    return error(400, "invalid_request", "invalid JSON body")


def channel_json(ch, secret=None):
    """channelToResponse (+ secret on create)."""
    d = {"id": ch.id, "team_id": ch.team_id, "name": ch.name,
         "provider": ch.provider, "events": list(ch.events),
         "created_at": st.rfc3339(ch.created_at),
         "updated_at": st.rfc3339(ch.updated_at)}
    if secret:
        d["secret"] = secret
    return d


def clean_name(name):
    """cleanName: trim, lower-case, spaces to dashes, SafeName."""
    name = validate.trim_space(name).lower().replace(" ", "-")
    bad = validate.safe_name(name)
    if bad:
        raise ServiceError("invalid: " + bad)
    return name


def _check_events(events):
    if not events:
        raise ServiceError("invalid: at least one event type is required")
    for et in events:
        if et not in EVENT_TYPES:
            raise ServiceError("invalid: unknown event type %s"
                               % validate.go_quote(et))


def _check_provider(provider):
    if provider not in PROVIDERS:
        raise ServiceError("invalid: unsupported provider %s"
                           % validate.go_quote(provider))


def _check_config(provider, config):
    for field in REQUIRED_FIELDS.get(provider, ()):
        if not config.get(field):
            raise ServiceError("invalid: %s is required for %s"
                               % (field, provider))


def _name_taken(state, team_id, name, except_id=None):
    return any(c.team_id == team_id and c.name == name and c.id != except_id
               for c in state.channels.values())


def _conflict(name):
    return ServiceError("conflict: channel name %s already exists"
                        % validate.go_quote(name))


def _channel_id_param(ctx):
    return ids.parse(ids.CHANNEL, ctx.params.get("id", ""))


def invalid_channel_id():
    return error(400, "invalid_request", "invalid channel ID")


async def create(ctx):
    """POST /v1/channels"""
    try:
        req = await ctx.decode(CREATE_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    state = ctx.state
    team_id = ctx.auth.team_id
    config = dict(req["config"] or {})
    try:
        name = clean_name(req["name"])
        _check_provider(req["provider"])
        _check_events(req["events"])
        _check_config(req["provider"], config)
        secret = None
        if req["provider"] == "webhook":
            if not config.get("secret"):
                config["secret"] = ids.hex_token()
            secret = config["secret"]
        if _name_taken(state, team_id, name):
            raise _conflict(name)
        if team_id not in state.teams:
            raise ServiceError("insert channel: " + resources.fk_violation(
                "channels", "team_id"))
    except ServiceError as e:
        return _fail(ctx, e)
    now = time.time()
    ch = resources.Channel(ids.new(ids.CHANNEL), team_id, name,
                           req["provider"], config, list(req["events"]),
                           now, now, seq=state.next_seq())
    state.channels[ch.id] = ch
    auditlog.channel_create(state, ctx.auth, ch.id, ch.name, ch.provider)
    return json_response(201, channel_json(ch, secret))


async def list_(ctx):
    """GET /v1/channels (newest first)"""
    chs = [c for c in ctx.state.channels.values()
           if c.team_id == ctx.auth.team_id]
    chs.sort(key=lambda c: (c.created_at, c.seq), reverse=True)
    return json_response(200, [channel_json(c) for c in chs])


def _lookup(ctx, channel_id):
    ch = ctx.state.channels.get(channel_id)
    if ch is None or ch.team_id != ctx.auth.team_id:
        return None
    return ch


async def get(ctx):
    """GET /v1/channels/{id}"""
    cid = _channel_id_param(ctx)
    if cid is None:
        return invalid_channel_id()
    ch = _lookup(ctx, cid)
    if ch is None:
        return error(404, "not_found", "channel not found")
    return json_response(200, channel_json(ch))


async def update(ctx):
    """PATCH /v1/channels/{id} {name, events}"""
    cid = _channel_id_param(ctx)
    if cid is None:
        return invalid_channel_id()
    try:
        req = await ctx.decode(UPDATE_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    try:
        name = clean_name(req["name"])
        _check_events(req["events"])
        ch = _lookup(ctx, cid)
        if ch is None:
            raise ServiceError("channel not found")
        if _name_taken(ctx.state, ch.team_id, name, except_id=ch.id):
            raise _conflict(name)
    except ServiceError as e:
        return _fail(ctx, e)
    ch.name = name
    ch.events = list(req["events"])
    ch.updated_at = time.time()
    auditlog.channel_update(ctx.state, ctx.auth, cid)
    return json_response(200, channel_json(ch))


async def rotate_config(ctx):
    """PUT /v1/channels/{id}/config {config}"""
    cid = _channel_id_param(ctx)
    if cid is None:
        return invalid_channel_id()
    try:
        req = await ctx.decode(CONFIG_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    config = dict(req["config"] or {})
    try:
        ch = _lookup(ctx, cid)
        if ch is None:
            raise ServiceError("channel not found")
        _check_config(ch.provider, config)
    except ServiceError as e:
        return _fail(ctx, e)
    if ch.provider == "webhook" and not config.get("secret"):
        config["secret"] = ids.hex_token()
    ch.config = config
    ch.updated_at = time.time()
    auditlog.channel_rotate_config(ctx.state, ctx.auth, cid)
    return json_response(200, channel_json(ch))


async def delete(ctx):
    """DELETE /v1/channels/{id} (no 404)"""
    cid = _channel_id_param(ctx)
    if cid is None:
        return invalid_channel_id()
    if _lookup(ctx, cid) is not None:
        del ctx.state.channels[cid]
    auditlog.channel_delete(ctx.state, ctx.auth, cid)
    return no_content()


async def test(ctx):
    """POST /v1/channels/test {provider, config} (nothing is delivered)"""
    try:
        req = await ctx.decode(TEST_REQUEST)
    except gojson.DecodeError:
        return invalid_body()
    try:
        _check_provider(req["provider"])
        _check_config(req["provider"], req["config"] or {})
    except ServiceError as e:
        return _fail(ctx, e)
    return json_response(200, gojson.GoMap(status="ok"))
