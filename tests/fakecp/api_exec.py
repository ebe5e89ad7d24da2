# SPDX-License-Identifier: MIT
"""Synchronous exec: POST /v1/sandboxes/{id}/exec (handlers_exec.go).

Order of checks: bad ID 400, unknown 404, not running 409 (before the body
is even read), body 400, empty cmd 400, then the agent.  Output is returned
as text when both streams are valid UTF-8, otherwise both are standard
base64 and encoding says "base64".  duration_ms is measured around the
agent call; last_active_at is bumped only on success.  In the capsules
dialect "background": true hands the command to api_process.py (202).

The streaming variant (WebSocket exec/stream) will live next to this.
Registered by routes.py.
"""

import base64
import time

import api_process
import gojson
import httpio
import resources
import state as st
from agent import AgentError
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import error, json_response

EXEC_REQUEST = gojson.Struct(cmd=gojson.STRING,
                             args=gojson.ListOf(gojson.STRING),
                             timeout_sec=gojson.INT32)
# f5a23c1: background processes (api_process.py); envs and cwd are only
# honoured with background, timeout_sec only without.
EXEC_REQUEST_CAPSULES = gojson.Struct(
    cmd=gojson.STRING, args=gojson.ListOf(gojson.STRING),
    timeout_sec=gojson.INT32, background=gojson.BOOL, tag=gojson.STRING,
    envs=gojson.MapOf(gojson.STRING), cwd=gojson.STRING)


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


async def exec_(ctx):
    """POST /v1/sandboxes/{id}/exec"""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return invalid_sandbox_id()
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    if sb.status != st.RUNNING:
        return error(409, "invalid_state",
                     "sandbox is not running (status: %s)" % sb.status)
    try:
        req = await ctx.decode(EXEC_REQUEST_CAPSULES
                               if ctx.dialect == "capsules" else EXEC_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["cmd"] == "":
        return error(400, "invalid_request", "cmd is required")

    start = time.monotonic()
    if resources.host_for_agent(ctx.state, sb) is not None:
        return error(503, "host_unavailable", "sandbox host is not reachable")
    if req.get("background"):
        return await api_process.start_background(ctx, sb, req)
    gone = ctx.watch_disconnect()
    try:
        res = await ctx.app.agent.exec(sb, req["cmd"], req["args"] or [],
                                       req["timeout_sec"], gone)
    except AgentError as e:
        return httpio.agent_error(ctx, e.code, e.text)
    finally:
        gone.cancel()
    duration_ms = int((time.monotonic() - start) * 1000)
    sb.last_active_at = sb.last_updated = time.time()

    if _is_utf8(res.stdout) and _is_utf8(res.stderr):
        encoding = "utf-8"
        stdout = res.stdout.decode("utf-8")
        stderr = res.stderr.decode("utf-8")
    else:
        encoding = "base64"
        stdout = base64.b64encode(res.stdout).decode("ascii")
        stderr = base64.b64encode(res.stderr).decode("ascii")
    return json_response(200, {
        "sandbox_id": ctx.params["id"], "cmd": req["cmd"],
        "stdout": stdout, "stderr": stderr, "exit_code": res.exit_code,
        "duration_ms": duration_ms, "encoding": encoding})
