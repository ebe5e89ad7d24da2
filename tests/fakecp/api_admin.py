# SPDX-License-Identifier: MIT
"""Platform-admin templates and builds: /v1/admin/... (handlers_builds.go,
service/build.go at 172413e).  The whole /v1/admin group sits behind
authmw.jwt_only + authmw.admin (403 "admin access required" unless the
users table says is_admin).  PUT /v1/admin/teams/{id}/byoc is
api_teams.set_byoc.

  GET    /templates          every template of every team, newest first
  DELETE /templates/{name}   safe name (400), platform templates only (404
                             "template not found"), minimal 403
  POST   /builds             body, "name is required", safe name ("invalid
                             template name: ..."), recipe >= 1 line; defaults
                             base_template "minimal", vcpus 1, memory_mb 512;
                             total_steps = len(recipe) + 4 unless
                             skip_pre_post; 201 Build with status "pending"
  GET    /builds[/{id}]      newest first / 404 "build not found"
  POST   /builds/{id}/cancel 204; 400 with the raw error text when finished
                             ("build is already success") or unknown ("get
                             build: no rows in result set")

Builds stay "pending" (no worker) unless fakecp runs with
--build-step-ms N: then a simulated worker marks the build running after N
ms, "executes" one step every N ms (RUN/START succeed with no output,
ENV/WORKDIR are bookkeeping, USER/COPY fail as unsupported, unknown
keywords fail the recipe parse), and on success inserts the platform
template (type "snapshot" with a healthcheck, else "base").
Registered by routes.py.
"""

import asyncio
import time

import gojson
import ids
import resources
import state as st
import validate
from httpio import error, json_response, no_content

CREATE_BUILD_REQUEST = gojson.Struct(
    name=gojson.STRING, base_template=gojson.STRING,
    recipe=gojson.ListOf(gojson.STRING), healthcheck=gojson.STRING,
    vcpus=gojson.INT32, memory_mb=gojson.INT32, skip_pre_post=gojson.BOOL)

PRE_BUILD_CMDS = ("RUN apt update",)
POST_BUILD_CMDS = ("RUN apt clean", "RUN apt autoremove -y",
                   "RUN rm -rf /var/lib/apt/lists/*")
FINISHED = ("success", "failed", "cancelled")


# ---- templates --------------------------------------------------------------

async def list_templates(ctx):
    """GET /v1/admin/templates"""
    tmpls = sorted(ctx.state.templates.values(), key=lambda t: t.created_at,
                   reverse=True)
    return json_response(200, [
        {"name": t.name, "type": t.type, "vcpus": t.vcpus,
         "memory_mb": t.memory_mb, "size_bytes": t.size_bytes,
         "team_id": t.team_id, "created_at": st.rfc3339(t.created_at)}
        for t in tmpls])


async def delete_template(ctx):
    """DELETE /v1/admin/templates/{name}"""
    name = ctx.params.get("name", "")
    bad = validate.safe_name(name)
    if bad:
        return error(400, "invalid_request", "invalid template name: " + bad)
    tmpl = ctx.state.platform_template(name)
    if tmpl is None:
        return error(404, "not_found", "template not found")
    if tmpl.name == "minimal":
        return error(403, "forbidden", "the minimal template cannot be "
                     "deleted")
    ctx.state.delete_template(tmpl)
    await ctx.app.agent.remove_tree(tmpl.files_dir)
    return no_content()


# ---- builds -----------------------------------------------------------------

def build_json(b):
    """buildToResponse."""
    d = {"id": b.id, "name": b.name, "base_template": b.base_template,
         "recipe": list(b.recipe)}
    if b.healthcheck:
        d["healthcheck"] = b.healthcheck
    d.update(vcpus=b.vcpus, memory_mb=b.memory_mb, status=b.status,
             current_step=b.current_step, total_steps=b.total_steps,
             logs=[dict(e) for e in b.logs])
    if b.error:
        d["error"] = b.error
    if b.sandbox_id:
        d["sandbox_id"] = b.sandbox_id
    if b.host_id:
        d["host_id"] = b.host_id
    if b.default_user is not None:      # f5a23c1
        d.update(default_user=b.default_user, default_env={})
    d["created_at"] = st.rfc3339(b.created_at)
    if b.started_at is not None:
        d["started_at"] = st.rfc3339(b.started_at)
    if b.completed_at is not None:
        d["completed_at"] = st.rfc3339(b.completed_at)
    return d


def set_build_status(b, status):
    """UpdateBuildStatus: started_at once on running, completed_at at end."""
    b.status = status
    if status == "running" and b.started_at is None:
        b.started_at = time.time()
    if status in FINISHED:
        b.completed_at = time.time()


def fail_build(b, msg):
    """UpdateBuildError."""
    b.error = msg
    b.status = "failed"
    b.completed_at = time.time()


async def create_build(ctx):
    """POST /v1/admin/builds"""
    try:
        req = await ctx.decode(CREATE_BUILD_REQUEST)
    except gojson.DecodeError:
        return error(400, "invalid_request", "invalid JSON body")
    if req["name"] == "":
        return error(400, "invalid_request", "name is required")
    bad = validate.safe_name(req["name"])
    if bad:
        return error(400, "invalid_request", "invalid template name: " + bad)
    recipe = req["recipe"] or []
    if not recipe:
        return error(400, "invalid_request",
                     "recipe must contain at least one command")
    extra = 0 if req["skip_pre_post"] else \
        len(PRE_BUILD_CMDS) + len(POST_BUILD_CMDS)
    state = ctx.state
    b = resources.Build(
        id=ids.new(ids.BUILD), name=req["name"],
        base_template=req["base_template"] or "minimal", recipe=recipe,
        healthcheck=req["healthcheck"],
        vcpus=req["vcpus"] if req["vcpus"] > 0 else 1,
        memory_mb=req["memory_mb"] if req["memory_mb"] > 0 else 512,
        total_steps=len(recipe) + extra, template_id=st.new_template_id(),
        skip_pre_post=req["skip_pre_post"], created_at=time.time(),
        seq=state.next_seq(),
        default_user="root" if ctx.dialect == "capsules" else None)
    state.builds[b.id] = b
    step_ms = getattr(ctx.app.opts, "build_step_ms", 0) or 0
    if step_ms > 0:
        asyncio.ensure_future(_run_build(state, b, step_ms / 1000.0))
    return json_response(201, build_json(b))


async def list_builds(ctx):
    """GET /v1/admin/builds"""
    bs = sorted(ctx.state.builds.values(),
                key=lambda b: (b.created_at, b.seq), reverse=True)
    return json_response(200, [build_json(b) for b in bs])


def _build_id_param(ctx):
    return ids.parse(ids.BUILD, ctx.params.get("id", ""))


async def get_build(ctx):
    """GET /v1/admin/builds/{id}"""
    bid = _build_id_param(ctx)
    if bid is None:
        return error(400, "invalid_request", "invalid build ID")
    b = ctx.state.builds.get(bid)
    if b is None:
        return error(404, "not_found", "build not found")
    return json_response(200, build_json(b))


async def cancel_build(ctx):
    """POST /v1/admin/builds/{id}/cancel"""
    bid = _build_id_param(ctx)
    if bid is None:
        return error(400, "invalid_request", "invalid build ID")
    b = ctx.state.builds.get(bid)
    if b is None:
        return error(400, "invalid_request",
                     "get build: no rows in result set")
    if b.status in FINISHED:
        return error(400, "invalid_request", "build is already " + b.status)
    set_build_status(b, "cancelled")
    return no_content()


# ---- simulated build worker -------------------------------------------------

class _StepError(Exception):
    pass


def _parse_step(line):
    """recipe.ParseStep, reduced to its error cases; returns the keyword."""
    s = validate.trim_space(line)
    if s == "":
        raise _StepError("empty step")
    keyword, _, rest = s.partition(" ")
    rest = validate.trim_space(rest)
    kw = keyword.upper()
    q = validate.go_quote(s)
    if kw == "RUN":
        if rest.startswith("--timeout="):
            flag, sep, cmd = rest[len("--timeout="):].partition(" ")
            if not sep or validate.trim_space(cmd) == "":
                raise _StepError("RUN --timeout= flag has no command: " + q)
            rest = validate.trim_space(cmd)
        if rest == "":
            raise _StepError("RUN requires a command: " + q)
    elif kw == "START":
        if rest == "":
            raise _StepError("START requires a command: " + q)
    elif kw == "ENV":
        key, sep, _ = rest.partition("=")
        if not sep:
            raise _StepError("ENV requires KEY=VALUE format: " + q)
        if key == "":
            raise _StepError("ENV key is empty: " + q)
    elif kw == "WORKDIR":
        if rest == "":
            raise _StepError("WORKDIR requires a path: " + q)
    elif kw not in ("USER", "COPY"):
        raise _StepError("unknown instruction %s (expected RUN, START, ENV, "
                         "WORKDIR, USER, or COPY)"
                         % validate.go_quote(keyword))
    return kw, s


def _parse_recipe(lines):
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(_parse_step(line))
        except _StepError as e:
            raise _StepError("recipe line %d: %s" % (i + 1, e))
    return out


async def _run_build(state, b, step_s):
    """executeBuild, with every exec pretending to succeed at once."""
    await asyncio.sleep(step_s)
    if b.status == "cancelled":
        return
    set_build_status(b, "running")
    platform = state.teams.get(st.PLATFORM_TEAM_ID)
    host, why = resources.select_host(state, platform)
    if host is None:
        return fail_build(b, "no host available: " + why)
    if b.base_template != "minimal" and \
            state.platform_template(b.base_template) is None:
        return fail_build(b, "base template %s not found: no rows in result "
                          "set" % validate.go_quote(b.base_template))
    b.sandbox_id = ids.new(ids.SANDBOX)
    b.host_id = host.id
    try:
        user_steps = _parse_recipe(b.recipe)
    except _StepError as e:
        return fail_build(b, "recipe parse error: %s" % e)
    phases = []
    if not b.skip_pre_post:
        phases.append(("pre-build", _parse_recipe(PRE_BUILD_CMDS)))
    phases.append(("recipe", user_steps))
    if not b.skip_pre_post:
        phases.append(("post-build", _parse_recipe(POST_BUILD_CMDS)))
    step = 0
    for phase, steps in phases:
        for kw, raw in steps:
            await asyncio.sleep(step_s)
            if b.status == "cancelled":
                return
            step += 1
            entry = {"step": step, "phase": phase, "cmd": raw, "stdout": "",
                     "stderr": "", "exit": 0, "ok": True, "elapsed_ms": 0}
            if kw in ("RUN", "START"):
                entry["elapsed_ms"] = int(step_s * 1000)
            elif kw in ("USER", "COPY"):
                entry.update(stderr=kw + " is not yet supported", ok=False)
            b.logs.append(entry)
            b.current_step = step
            if not entry["ok"]:
                return fail_build(b, "%s step %d failed: %s"
                                  % (phase, step, entry["stderr"]))
    if b.status == "cancelled":
        return
    state.add_template(b.name, "snapshot" if b.healthcheck else "base",
                       b.vcpus, b.memory_mb, 0, st.PLATFORM_TEAM_ID,
                       template_id=b.template_id)
    set_build_status(b, "success")
