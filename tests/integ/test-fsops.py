# SPDX-License-Identifier: MIT
"""Filesystem operations, usage and the v0.1.5 admin rows through wrennd:
sandbox.list_files, sandbox.mkdir and sandbox.remove on a tree with a
symlink, an empty directory, a file with a space and one with a leading
dash, and a missing path (the server's 502 agent_error quirk as it is);
sandboxes.usage with its dates checked locally (nothing sent for a bad
range); the admin.* rows of the v0.1.5 server with an admin JWT, refused
upstream for a JWT that is not an admin's and locally without a JWT;
against the 172413e fake the newer-only rows are unsupported_by_server
with nothing sent."""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, Opened, Tap, Wrennd, Client, dig  # noqa: E402

t = Tap()
MTIME = 1700000000
# The tree every case lists, made through exec in the sandbox's home.
TREE = ("rm -rf tree && mkdir -p tree/empty tree/sub && "
        "printf hi > 'tree/a file' && printf x > tree/-dash && "
        "printf abc > tree/sub/f && ln -s sub tree/link && "
        "chmod 640 'tree/a file' && chmod 644 tree/-dash tree/sub/f && "
        "chmod 755 tree/empty && chmod 750 tree/sub && "
        "touch -h -d @%d tree/* tree/sub/f" % MTIME)
FIELDS = ["group", "mode", "modified_at", "name", "owner", "path",
          "permissions", "size", "type"]


def start(e, api_key=True, token=None):
    """A wrennd in front of e's fake with the API key and/or a JWT."""
    return Wrennd(e.tmp, e.fake.url,
                  api_key=e.seed["api_key"] if api_key else None,
                  token=token)


def code_of(r):
    return dig(r, "error", "data", "code")


def make_tree(cl, sid):
    r = cl.call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                 "args": ["-c", TREE]})
    return dig(r, "result", "exit_code"), dig(r, "result", "stderr")


def by_path(entries):
    return {e.get("path"): e for e in entries or []}


def check_tree(cl, sid, label):
    """The entries of tree at depth 2 and 1, field by field."""
    r = cl.call("sandbox.list_files", {"sandbox_id": sid, "path": "tree",
                                       "depth": 2})
    got = by_path(dig(r, "result", "entries"))
    want = {
        "/root/tree/-dash": ("-dash", "file", 1, 0o644, "-rw-r--r--"),
        "/root/tree/a file": ("a file", "file", 2, 0o640, "-rw-r-----"),
        "/root/tree/empty": ("empty", "directory", None, 0o755,
                             "drwxr-xr-x"),
        "/root/tree/link": ("link", "directory", 3, 0o750, "Lrwxrwxrwx"),
        "/root/tree/sub": ("sub", "directory", None, 0o750, "drwxr-x---"),
        "/root/tree/sub/f": ("f", "file", 3, 0o644, "-rw-r--r--"),
    }
    t.eq(sorted(got), sorted(want), "%s: list_files depth 2: the paths"
         % label)
    for path, (name, kind, size, mode, perms) in sorted(want.items()):
        e = got.get(path, {})
        keys = sorted(k for k in e if k != "symlink_target")
        t.eq(keys, FIELDS, "%s: %s: the entry's fields" % (label, path))
        t.eq(e.get("name"), name, "%s: %s: name" % (label, path))
        t.eq(e.get("type"), kind, "%s: %s: type" % (label, path))
        if size is not None:
            t.eq(e.get("size"), size, "%s: %s: size" % (label, path))
        t.eq(e.get("mode"), mode, "%s: %s: mode" % (label, path))
        t.eq(e.get("permissions"), perms, "%s: %s: permissions"
             % (label, path))
        t.eq(e.get("modified_at"), MTIME, "%s: %s: modified_at"
             % (label, path))
        t.eq(type(e.get("owner")), str, "%s: %s: owner is a string"
             % (label, path))
        t.ok(e.get("owner"), "%s: %s: owner is a name, not empty"
             % (label, path), e.get("owner"))
    t.eq(got.get("/root/tree/link", {}).get("symlink_target"),
         "/root/tree/sub", "%s: the symlink's target, resolved" % label)
    t.eq([p for p, e in sorted(got.items()) if "symlink_target" in e],
         ["/root/tree/link"], "%s: only the symlink has symlink_target"
         % label)
    r = cl.call("sandbox.list_files", {"sandbox_id": sid, "path": "tree"})
    t.eq(sorted(by_path(dig(r, "result", "entries"))),
         sorted(p for p in want if p.count("/") == 3),
         "%s: list_files without depth: one level" % label)
    r = cl.call("sandbox.list_files", {"sandbox_id": sid,
                                       "path": "tree/empty"})
    t.eq(dig(r, "result"), {"entries": []},
         "%s: an empty directory has no entries" % label)
    return got


def check_errors(cl, sid, label):
    """Missing paths and the mkdir conflicts, as the server reports them."""
    for method in ("sandbox.list_files", "sandbox.remove"):
        r = cl.call(method, {"sandbox_id": sid, "path": "tree/nope"})
        t.eq(code_of(r), "agent_error", "%s: %s of a missing path: "
             "agent_error (the server's quirk)" % (label, method))
    r = cl.call("sandbox.list_files", {"sandbox_id": sid,
                                       "path": "tree/-dash"})
    t.eq(code_of(r), "agent_error", "%s: list_files of a file: agent_error"
         % label)
    r = cl.call("sandbox.mkdir", {"sandbox_id": sid, "path": "tree/sub"})
    t.eq(code_of(r), "conflict", "%s: mkdir of a directory: conflict"
         % label)
    r = cl.call("sandbox.mkdir", {"sandbox_id": sid, "path": "tree/-dash"})
    t.eq(code_of(r), "invalid_request", "%s: mkdir of a file: "
         "invalid_request" % label)


def check_changes(cl, sid, label):
    """mkdir with parents, remove of a tree, of a symlink, of a file."""
    r = cl.call("sandbox.mkdir", {"sandbox_id": sid,
                                  "path": "tree/new/inner"})
    e = dig(r, "result", "entry") or {}
    t.eq(e.get("path"), "/root/tree/new/inner",
         "%s: mkdir with parents: the new directory's entry: path" % label)
    t.eq(e.get("name"), "inner",
         "%s: mkdir with parents: the new directory's entry: name" % label)
    t.eq(e.get("type"), "directory",
         "%s: mkdir with parents: the new directory's entry: type" % label)
    for path in ("tree/sub", "tree/link", "tree/-dash", "tree/a file"):
        r = cl.call("sandbox.remove", {"sandbox_id": sid, "path": path})
        t.eq(r.get("result"), {}, "%s: remove %s -> {}" % (label, path))
    r = cl.call("sandbox.list_files", {"sandbox_id": sid, "path": "tree",
                                       "depth": 3})
    t.eq(sorted(by_path(dig(r, "result", "entries"))),
         ["/root/tree/empty", "/root/tree/new", "/root/tree/new/inner"],
         "%s: what is left after the removes" % label)


env = Env(dialect="capsules", start_wrennd=False)
old = Env(dialect="sandboxes", start_wrennd=False)
try:
    env.wrennd = start(env, token=env.seed["jwt_admin"])
    old.wrennd = start(old, token=old.seed["jwt_admin"])
    c = Client(env.wrennd.sock)
    o = Client(old.wrennd.sock)
    sid = c.call("sandboxes.create", {})["result"]["id"]
    osid = o.call("sandboxes.create", {})["result"]["id"]
    trees = {}

    for label, cl, s in (("v0.1.5", c, sid), ("172413e polyfill", o, osid)):
        with t.case("%s: list_files of a tree" % label), Opened():
            t.eq(make_tree(cl, s), (0, ""), "%s: the tree is made" % label)
            trees[label] = check_tree(cl, s, label)

        with t.case("%s: errors" % label), Opened():
            check_errors(cl, s, label)

    with t.case("both servers: the same entries"), Opened():
        def strip(tree):
            return {p: {k: v for k, v in e.items()
                        if k not in ("owner", "group")}
                    for p, e in tree.items()}
        t.eq(strip(trees.get("172413e polyfill", {})),
             strip(trees.get("v0.1.5", {})),
             "the polyfill's entries are the server's (owner and group "
             "aside: the fake's exec runs as the test's user)")

    with t.case("v0.1.5: a missing path is HTTP 502"), Opened():
        r = c.call("sandbox.list_files", {"sandbox_id": sid,
                                          "path": "tree/nope"})
        t.eq(dig(r, "error", "data", "status"), 502,
             "v0.1.5: a missing path is HTTP 502, reported as it is")

    with t.case("172413e: the polyfill runs tools with argv"), Opened():
        old.fake.clear_requests()
        r = o.call("sandbox.list_files", {"sandbox_id": osid,
                                          "path": "tree"})
        t.ok("result" in r, "polyfilled list_files answers", r)
        r = o.call("sandbox.list_files", {"sandbox_id": osid,
                                          "path": "tree/nope"})
        t.eq(dig(r, "error", "data", "polyfilled"), True,
             "a polyfill error says data.polyfilled")
        bodies = [json.loads(q["body"]) for q in old.fake.requests()
                  if q["path"].endswith("/exec")]
        t.eq([b.get("cmd") for b in bodies], ["find", "find"],
             "list_files: one exec of find each, no shell")
        t.eq(dig(bodies, 0, "args", 1), "./tree",
             "the path is one argument, relative to the home")
        # A name a shell would run: through argv it stays a name.
        odd = "tree/$(touch pwned); x"
        old.fake.clear_requests()
        r = o.call("sandbox.mkdir", {"sandbox_id": osid, "path": odd})
        t.eq(dig(r, "result", "entry", "name"), "$(touch pwned); x",
             "polyfilled mkdir of a name with shell syntax: that name")
        bodies = [json.loads(q["body"]) for q in old.fake.requests()
                  if q["path"].endswith("/exec")]
        t.eq([[b.get("cmd")] + b.get("args", [])[:3] for b in bodies][1:2],
             [["mkdir", "-p", "--", "./" + odd]],
             "polyfilled mkdir: mkdir -p -- PATH as argv, no shell")
        old.fake.clear_requests()
        r = o.call("sandbox.remove", {"sandbox_id": osid, "path": odd})
        t.eq(r.get("result"), {}, "polyfilled remove of that name -> {}")
        bodies = [json.loads(q["body"]) for q in old.fake.requests()
                  if q["path"].endswith("/exec")]
        t.eq([[b.get("cmd")] + b.get("args", []) for b in bodies],
             [["find", "./" + odd, "-maxdepth", "0", "-exec", "rm", "-rf",
               "--", "{}", "+"]],
             "polyfilled remove: one find -exec rm -rf -- as argv")
        r = o.call("sandbox.list_files", {"sandbox_id": osid,
                                          "path": "tree"})
        t.eq([e.get("name") for e in dig(r, "result", "entries") or []
              if "pwned" in e.get("name", "")], [],
             "polyfilled remove: the name is gone from the listing")
        r = o.call("sandbox.exec", {"sandbox_id": osid, "cmd": "test",
                                    "args": ["-e", "pwned"]})
        t.eq(dig(r, "result", "exit_code"), 1,
             "no file 'pwned' in the home: the name was never run")

    for label, cl, s in (("v0.1.5", c, sid), ("172413e polyfill", o, osid)):
        with t.case("%s: mkdir and remove" % label), Opened():
            check_changes(cl, s, label)

    with t.case("local checks: nothing sent"), Opened():
        env.fake.clear_requests()
        for method, params in (
                ("sandbox.list_files", {"sandbox_id": sid, "path": ""}),
                ("sandbox.list_files", {"sandbox_id": sid, "path": "x",
                                        "depth": -1}),
                ("sandbox.mkdir", {"sandbox_id": sid}),
                ("sandbox.remove", {"sandbox_id": sid, "path": 3})):
            r = c.call(method, params)
            t.eq(code_of(r), "invalid_params", "%s %r: invalid_params"
                 % (method, params))
        t.eq(env.fake.requests(), [], "invalid params: nothing sent")

    with t.case("sandboxes.usage"), Opened():
        today = datetime.datetime.now(datetime.timezone.utc).date()
        day = (today - datetime.timedelta(days=3)).isoformat()
        env.fake.ctl("POST", "usage", {"date": day, "cpu_minutes": 12.5,
                                       "ram_mb_minutes": 2048})
        r = c.call("sandboxes.usage", {"from": day, "to": day})
        t.eq(r.get("result"), {"from": day, "to": day, "points": [
            {"date": day, "cpu_minutes": 12.5, "ram_mb_minutes": 2048.0}]},
            "sandboxes.usage: the server's object for one past day")
        r = c.call("sandboxes.usage", {})
        t.eq(dig(r, "result", "from"),
             (today - datetime.timedelta(days=29)).isoformat(),
             "sandboxes.usage without dates: from is today - 29 days")
        env.fake.clear_requests()
        d92 = (today - datetime.timedelta(days=92)).isoformat()
        d93 = (today - datetime.timedelta(days=93)).isoformat()
        for params in ({"from": "2026-13-01"}, {"to": "2026-02-30"},
                       {"from": "2026-1-01"}, {"from": "x"},
                       {"from": "2026-03-02", "to": "2026-03-01"},
                       {"from": "2026-01-01", "to": "2026-04-04"},
                       {"from": d93}, {"from": 20260101}):
            r = c.call("sandboxes.usage", params)
            t.eq(code_of(r), "invalid_params",
                 "sandboxes.usage %r: invalid_params" % params)
        t.eq(env.fake.requests(), [], "bad usage dates: nothing sent")
        r = c.call("sandboxes.usage", {"from": d92})
        t.eq(dig(r, "result", "from"), d92,
             "sandboxes.usage: a span of 92 days is allowed")

    with t.case("admin rows with an admin JWT"), Opened():
        r = c.call("admin.list_teams", {"page": 1})
        t.eq(sorted(r.get("result", {})),
             ["page", "per_page", "teams", "total", "total_pages"],
             "admin.list_teams: the server's page")
        users = dig(c.call("admin.list_users", {}), "result", "users") or []
        t.ok(any(u.get("email") == "admin@a.test" for u in users),
             "admin.list_users lists the admin", users)
        r = c.call("admin.list_audit_logs", {})
        t.ok(isinstance(dig(r, "result", "items"), list),
             "admin.list_audit_logs: a page of items", r)
        r = c.call("admin.create_sandbox", {})
        asid = dig(r, "result", "id") or ""
        t.ok(asid.startswith("cl-"), "admin.create_sandbox: a sandbox", r)
        ids = [s.get("id") for s in
               dig(c.call("admin.list_sandboxes"), "result") or []]
        t.has(ids, asid, "admin.list_sandboxes lists it")
        t.eq(dig(c.call("admin.get_sandbox", {"sandbox_id": asid}),
                 "result", "id"), asid, "admin.get_sandbox")
        r = c.call("admin.exec", {"sandbox_id": asid, "cmd": "/bin/sh",
                                  "args": ["-c", "mkdir d && echo hi"]})
        t.eq(dig(r, "result", "stdout"), "hi\n", "admin.exec: the output")
        r = c.call("admin.list_files", {"sandbox_id": asid, "path": "~"})
        t.eq([e.get("name") for e in dig(r, "result", "entries") or []],
             ["d"], "admin.list_files: the directory made by admin.exec")
        r = c.call("admin.mkdir", {"sandbox_id": asid, "path": "d/e"})
        t.eq(dig(r, "result", "entry", "path"), "/root/d/e", "admin.mkdir")
        r = c.call("admin.remove", {"sandbox_id": asid, "path": "d"})
        t.eq(r.get("result"), {}, "admin.remove -> {}")
        r = c.call("admin.metrics", {"sandbox_id": asid})
        t.ok("result" in r, "admin.metrics answers", r)
        r = c.call("admin.destroy_sandbox", {"sandbox_id": asid})
        t.eq(r.get("result"), {}, "admin.destroy_sandbox -> {}")
        r = c.call("admin.delete_team", {"team_id": "team-" + "1" * 25})
        t.eq(code_of(r), "not_found", "admin.delete_team of no team: "
             "the server's not_found")

    with t.case("admin rows need the JWT of an admin"), Opened() as keep:
        user = keep(start(env, token=env.seed["jwt_owner"]))
        u = keep(Client(user.sock))
        r = u.call("admin.list_users", {})
        t.eq(code_of(r), "forbidden",
             "admin.list_users with a JWT that is not an admin's: "
             "forbidden from the server")
        key = keep(start(env))
        k = keep(Client(key.sock))
        env.fake.clear_requests()
        r = k.call("admin.list_teams", {})
        t.eq(code_of(r), "unauthorized",
             "admin.list_teams with only an API key: unauthorized")
        t.eq(dig(r, "error", "data", "needs"), "admin_jwt",
             "admin.list_teams: data.needs says admin_jwt")
        t.eq(env.fake.requests(), [], "no JWT: nothing sent")

    with t.case("172413e: unsupported_by_server"), Opened():
        old.fake.clear_requests()
        for method, params in (
                ("sandboxes.usage", {}),
                ("admin.list_teams", {}),
                ("admin.set_user_active", {"user_id": "usr-x",
                                           "active": True}),
                ("admin.list_audit_logs", {}),
                ("admin.get_sandbox", {"sandbox_id": osid})):
            r = o.call(method, params)
            t.eq(code_of(r), "unsupported_by_server",
                 "%s on 172413e: unsupported_by_server" % method)
        t.eq(old.fake.requests(), [],
             "unsupported_by_server: the request log is empty")
    o.close()
    c.close()
finally:
    for e in (env, old):
        e.close(t)
sys.exit(t.done())
