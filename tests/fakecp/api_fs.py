# SPDX-License-Identifier: MIT
"""Filesystem helpers of f5a23c1 (capsules dialect, CONTRACT 11.4):
POST /v1/capsules/{id}/files/{list,mkdir,remove} (handlers_fs.go, the host
agent's ListDir/MakeDir/RemovePath, envd-rs's filesystem service).

Order: bad ID 400, unknown 404 "sandbox not found", not running 409
"sandbox is not running" (no status), invalid JSON 400, "path is required"
400, host 503, then the RPC.  Error quirks of the host agent: ListDir and
RemovePath re-wrap every envd error as internal, so a missing path or a
non-directory is 502 agent_error "internal: list dir: list dir:
not_found: path not found: ..." (resp. "internal: remove: remove:
internal: error removing: ...; also tried as file: ..."), while MakeDir
passes envd's code through: an existing directory is 409 conflict
"already_exists: directory already exists: <path>", an existing file 400
invalid_request "invalid_argument: path exists but is not a directory:
<path>".  Remove of a missing path is that 502, never 404.

Registered by routes.py (capsules dialect only).
"""

import asyncio

import gojson
import httpio
import sandboxfs
from api_files import no_host, not_on_host, precheck
from httpio import error, json_response, no_content

LIST_REQUEST = gojson.Struct(path=gojson.STRING, depth=gojson.UINT32)
PATH_REQUEST = gojson.Struct(path=gojson.STRING)


async def _admit(ctx, shape):
    """(sandbox, request, None) or (None, None, error response)."""
    sb, resp = precheck(ctx)
    if resp is not None:
        return None, None, resp
    try:
        req = await ctx.decode(shape)
    except gojson.DecodeError:
        return None, None, error(400, "invalid_request", "invalid JSON body")
    if req["path"] == "":
        return None, None, error(400, "invalid_request", "path is required")
    resp = no_host(ctx, sb)
    if resp is not None:
        return None, None, resp
    gone = not_on_host(sb)
    if gone:
        return None, None, httpio.agent_error(ctx, "not_found", gone)
    return sb, req, None


async def list_(ctx):
    """POST /v1/capsules/{id}/files/list {"path", "depth"?}"""
    sb, req, resp = await _admit(ctx, LIST_REQUEST)
    if resp is not None:
        return resp
    fs = sandboxfs.FsRpc(sb.workdir)
    try:
        entries = await asyncio.to_thread(fs.list_dir, req["path"],
                                          req["depth"])
    except sandboxfs.RpcError as e:
        return httpio.agent_error(ctx, "internal", "list dir: list dir: "
                                  + str(e))
    return json_response(200, {"entries": entries})


async def mkdir(ctx):
    """POST /v1/capsules/{id}/files/mkdir {"path"}"""
    sb, req, resp = await _admit(ctx, PATH_REQUEST)
    if resp is not None:
        return resp
    fs = sandboxfs.FsRpc(sb.workdir)
    try:
        entry = await asyncio.to_thread(fs.make_dir, req["path"])
    except sandboxfs.RpcError as e:
        # MakeDir returns the wrapped error: its Connect code survives.
        return httpio.agent_error(ctx, e.code, e.message)
    return json_response(200, {"entry": entry})


async def remove(ctx):
    """POST /v1/capsules/{id}/files/remove {"path"}"""
    sb, req, resp = await _admit(ctx, PATH_REQUEST)
    if resp is not None:
        return resp
    fs = sandboxfs.FsRpc(sb.workdir)
    try:
        await asyncio.to_thread(fs.remove, req["path"])
    except sandboxfs.RpcError as e:
        return httpio.agent_error(ctx, "internal", "remove: remove: "
                                  + str(e))
    return no_content()
