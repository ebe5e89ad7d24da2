# SPDX-License-Identifier: MIT
"""Every control-plane resource through wrennd: snapshots, API keys,
users, teams, hosts, channels, audit, builds, admin. Each method's success
path and at least one error path, the credential chosen per route (API key
where accepted, JWT where required, local refusal when missing or
expired, with nothing sent upstream), token-file reload without dropping
clients, and typed errors including non-JSON upstream answers."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, Client, CtlClient, Env, Tap,  # noqa
                     ctl_json, sanitizer_clean, wait_for)

t = Tap()
env = Env(start_wrennd=False)
seed = env.seed
users = seed["users"]
team_a = seed["team_a"]["id"]
tokfile = os.path.join(env.tmp, "token")


def set_token(tok):
    """Rewrite the token file atomically (as a credential manager would)."""
    tmp = tokfile + ".new"
    with open(tmp, "w") as f:
        f.write(tok + "\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, tokfile)


def mint(**kw):
    return env.fake.ctl("POST", "jwt", kw)["token"]


def ok_result(r, name, pred=lambda res: True):
    res = r.get("result")
    return t.ok("result" in r and pred(res), name, r)


def err_code(r, code, name, status=None):
    d = r.get("error", {}).get("data", {})
    good = d.get("code") == code and (status is None or
                                      d.get("status") == status)
    return t.ok(good, name, r)


PEER = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rwb")
out = {"hello": json.loads(f.readline())}
for i, (m, p) in enumerate(json.loads(sys.argv[2])):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": m,
                        "params": p}).encode() + b"\n")
    f.flush()
    out[m] = json.loads(f.readline())
print(json.dumps(out))
"""


def peer_calls(sock, calls):
    """Make calls (one at a time) as uid/gid 65534 with no groups; returns
    {"hello": greeting, method: reply, ...}."""
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", PYTHON, "-c", PEER, sock,
                        json.dumps(calls)], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("peer failed: %s" % p.stderr)
    return json.loads(p.stdout)


def wait_reload(c, pred, what):
    return wait_for(lambda: pred(c.call("daemon.status")["result"]), 10,
                    0.1, what)


try:
    set_token(seed["jwt_owner"])
    w = env.start_wrennd(cred="api_key", args=["--token-file", tokfile])
    sock = env.sock
    # Every resource call goes through wrennctl (built on libwrennctl);
    # raw is the protocol client for what wrennctl does not show (hello).
    raw = Client(sock)
    c = CtlClient(sock)
    fake = env.fake

    # ---- credential per route
    fake.clear_requests()
    r = c.call("sandboxes.list")
    q = fake.requests()[-1]
    t.ok(q["has_api_key"] and not q["has_bearer"],
         "sandbox route uses the API key when both are configured", q)
    r = c.call("teams.list")
    q = fake.requests()[-1]
    t.ok(q["path"] == "/v1/teams" and q["has_bearer"] and
         not q["has_api_key"], "JWT-only route sends only the JWT", q)
    t.ok("result" in r and any(x["id"] == team_a for x in r["result"]),
         "teams.list", r)

    # ---- snapshots (API key or JWT)
    sid = c.call("sandboxes.create", {})["result"]["id"]
    r = c.call("snapshots.create", {"sandbox_id": sid, "name": "snap-one"})
    ok_result(r, "snapshots.create", lambda x: x["name"] == "snap-one" and
              x["type"] == "snapshot")
    t.eq(c.call("sandboxes.get", {"sandbox_id": sid})["result"]["status"],
         "paused", "the snapshotted sandbox is left paused")
    err_code(c.call("snapshots.create", {"sandbox_id": sid,
                                         "name": "snap-one"}),
             "already_exists", "snapshot name taken -> already_exists", 409)
    ok_result(c.call("snapshots.create", {"sandbox_id": sid,
                                          "name": "snap-one",
                                          "overwrite": True}),
              "snapshots.create overwrite=true")
    err_code(c.call("snapshots.create", {"sandbox_id": sid,
                                         "name": "minimal"}),
             "name_reserved", "platform name -> name_reserved", 409)
    ok_result(c.call("snapshots.list", {"type": "snapshot"}),
              "snapshots.list type=snapshot",
              lambda x: [s["name"] for s in x] == ["snap-one"])
    err_code(c.call("snapshots.list", {"type": 1}), "invalid_params",
             "snapshots.list with a non-string type -> invalid_params")
    ok_result(c.call("snapshots.list"), "snapshots.list includes minimal",
              lambda x: "minimal" in [s["name"] for s in x])
    ok_result(c.call("snapshots.delete", {"name": "snap-one"}),
              "snapshots.delete -> {}", lambda x: x == {})
    err_code(c.call("snapshots.delete", {"name": "snap-one"}), "not_found",
             "snapshots.delete unknown -> not_found", 404)
    err_code(c.call("snapshots.delete", {"name": "minimal"}), "forbidden",
             "deleting a platform template -> forbidden", 403)
    err_code(c.call("snapshots.create", {"name": "x"}), "invalid_params",
             "snapshots.create without sandbox_id -> invalid_params")

    # ---- API keys (JWT)
    r = c.call("api_keys.create", {"name": "ci"})
    ok_result(r, "api_keys.create returns the key once",
              lambda x: x["key"].startswith("wrn_") and x["name"] == "ci")
    kid = r["result"]["id"]
    ok_result(c.call("api_keys.list"), "api_keys.list",
              lambda x: kid in [k["id"] for k in x] and
              all("key" not in k for k in x))
    ok_result(c.call("api_keys.delete", {"key_id": kid}),
              "api_keys.delete -> {}", lambda x: x == {})
    err_code(c.call("api_keys.delete", {"key_id": "nope"}),
             "invalid_request", "api_keys.delete bad id -> invalid_request",
             400)

    # ---- users
    ok_result(c.call("users.search", {"email": "member@"}),
              "users.search", lambda x: [u["email"] for u in x] ==
              ["member@a.test"])
    err_code(c.call("users.search", {"email": "ab"}), "invalid_request",
             "users.search short prefix -> invalid_request", 400)

    # ---- teams
    ok_result(c.call("teams.get", {"team_id": team_a}), "teams.get",
              lambda x: x["team"]["id"] == team_a and len(x["members"]) >= 3)
    err_code(c.call("teams.get", {"team_id": seed["team_b"]["id"]}),
             "forbidden", "teams.get of another team -> forbidden", 403)
    r = c.call("teams.create", {"name": "Side Project"})
    ok_result(r, "teams.create", lambda x: x["role"] == "owner")
    team_x = r["result"]["id"]
    err_code(c.call("teams.create", {"name": "bad/name"}), "invalid_request",
             "teams.create bad name -> invalid_request", 400)
    ok_result(c.call("teams.rename", {"team_id": team_a,
                                      "name": "Team A Renamed"}),
              "teams.rename -> {}", lambda x: x == {})
    err_code(c.call("teams.rename", {"team_id": team_a, "name": "a/b"}),
             "invalid_request", "teams.rename bad name -> invalid_request",
             400)
    ok_result(c.call("teams.list_members", {"team_id": team_a}),
              "teams.list_members", lambda x: len(x) >= 3)
    err_code(c.call("teams.list_members",
                    {"team_id": seed["team_b"]["id"]}), "forbidden",
             "teams.list_members of another team -> forbidden", 403)
    other = users["other"]
    ok_result(c.call("teams.add_member", {"team_id": team_a,
                                          "email": other["email"]}),
              "teams.add_member", lambda x: x["role"] == "member")
    err_code(c.call("teams.add_member", {"team_id": team_a,
                                         "email": other["email"]}),
             "invalid_request", "adding a member twice -> invalid_request")
    err_code(c.call("teams.add_member", {"team_id": team_a,
                                         "email": "ghost@x.test"}),
             "not_found", "adding an unknown email -> not_found", 404)
    ok_result(c.call("teams.update_member_role",
                     {"team_id": team_a, "user_id": other["id"],
                      "role": "admin"}), "teams.update_member_role -> {}")
    err_code(c.call("teams.update_member_role",
                    {"team_id": team_a, "user_id": other["id"],
                     "role": "god"}), "invalid_request",
             "bad role -> invalid_request", 400)
    ok_result(c.call("teams.remove_member",
                     {"team_id": team_a, "user_id": other["id"]}),
              "teams.remove_member -> {}")
    err_code(c.call("teams.remove_member",
                    {"team_id": team_a, "user_id": other["id"]}),
             "not_found", "removing a non-member -> not_found", 404)
    err_code(c.call("teams.leave", {"team_id": team_a}), "forbidden",
             "the owner cannot leave -> forbidden", 403)
    err_code(c.call("teams.delete", {"team_id": team_x}), "forbidden",
             "deleting a team other than the JWT's -> forbidden", 403)

    # token file rewritten: picked up without a restart, clients stay
    exp0 = c.call("daemon.status")["result"]["auth"]["jwt"]["expires_at"]
    set_token(mint(user="owner", team_id=team_x, ttl=7200))
    wait_reload(c, lambda st: st["auth"]["jwt"]["expires_at"] != exp0,
                "token reload")
    t.ok(True, "a rewritten token file is re-read (daemon.status shows the "
         "new expiry)")
    ok_result(raw.call("teams.delete", {"team_id": team_x}),
              "teams.delete with the new token -> {} (on a connection "
              "opened before the reload)")
    set_token(mint(user="member", team_id=team_a))
    wait_reload(c, lambda st: st["auth"]["jwt"]["expires_in_sec"] > 20000,
                "member token")
    ok_result(c.call("teams.leave", {"team_id": team_a}),
              "teams.leave -> {}")

    # expired JWT: refused locally, nothing sent
    set_token(seed["jwt_expired"])
    wait_reload(c, lambda st: st["auth"]["jwt"].get("expired") is True,
                "expired token")
    fake.clear_requests()
    r = c.call("teams.list")
    err_code(r, "unauthorized", "an expired JWT is refused locally")
    t.ok(r["error"]["data"].get("expired") is True and
         "expired" in r["error"]["message"], "with an actionable message", r)
    t.eq(fake.requests(), [], "and the control plane saw no request")

    # SIGHUP reload keeps clients
    set_token(seed["jwt_admin"])
    w.proc.send_signal(signal.SIGHUP)
    wait_reload(c, lambda st: st["auth"]["jwt"].get("platform_admin"),
                "admin token")
    ok_result(raw.call("daemon.status"),
              "SIGHUP reload keeps the connection")

    # ---- admin and builds (platform admin JWT)
    ok_result(c.call("admin.list_templates"), "admin.list_templates",
              lambda x: "minimal" in [tp["name"] for tp in x])
    err_code(c.call("admin.delete_template", {"name": "minimal"}),
             "forbidden", "deleting minimal -> forbidden", 403)
    err_code(c.call("admin.delete_template", {"name": "nope"}),
             "not_found", "admin.delete_template unknown -> not_found", 404)
    r = c.call("builds.create", {"name": "py-tools",
                                 "recipe": ["RUN echo hi"]})
    ok_result(r, "builds.create", lambda x: x["id"].startswith("bld-") and
              x["status"] == "pending")
    bid = r["result"]["id"]
    ok_result(c.call("builds.list"), "builds.list",
              lambda x: bid in [b["id"] for b in x])
    ok_result(c.call("builds.get", {"build_id": bid}), "builds.get",
              lambda x: x["total_steps"] == 5)
    ok_result(c.call("builds.cancel", {"build_id": bid}),
              "builds.cancel -> {}")
    err_code(c.call("builds.cancel", {"build_id": bid}), "invalid_request",
             "cancelling a finished build -> invalid_request", 400)
    err_code(c.call("builds.create", {"name": "x", "recipe": []}),
             "invalid_request", "builds.create empty recipe -> 400", 400)
    err_code(c.call("builds.get", {"build_id": "bld-" + "0" * 25}),
             "not_found", "builds.get unknown -> not_found", 404)

    # ---- hosts
    r = c.call("hosts.create", {"type": "regular", "provider": "test"})
    ok_result(r, "hosts.create", lambda x: len(x["registration_token"]) ==
              64 and x["host"]["status"] == "pending")
    hid = r["result"]["host"]["id"]
    ok_result(c.call("hosts.get", {"host_id": hid}), "hosts.get",
              lambda x: x["id"] == hid)
    ok_result(c.call("hosts.list"), "hosts.list",
              lambda x: hid in [h["id"] for h in x])
    ok_result(c.call("hosts.regenerate_token", {"host_id": hid}),
              "hosts.regenerate_token",
              lambda x: len(x["registration_token"]) == 64)
    ok_result(c.call("hosts.list_tags", {"host_id": hid}),
              "hosts.list_tags is null without tags", lambda x: x is None)
    ok_result(c.call("hosts.add_tag", {"host_id": hid, "tag": "gpu"}),
              "hosts.add_tag -> {}")
    ok_result(c.call("hosts.list_tags", {"host_id": hid}),
              "hosts.list_tags", lambda x: x == ["gpu"])
    ok_result(c.call("hosts.remove_tag", {"host_id": hid, "tag": "gpu"}),
              "hosts.remove_tag -> {}")
    err_code(c.call("hosts.create", {"type": "spaceship"}),
             "invalid_request", "hosts.create bad type -> invalid_request")
    err_code(c.call("hosts.get", {"host_id": "host-" + "0" * 25}),
             "not_found", "hosts.get unknown -> not_found", 404)
    ghost = "host-" + "0" * 25
    for m, p in (("hosts.delete_preview", {"host_id": ghost}),
                 ("hosts.list_tags", {"host_id": ghost}),
                 ("hosts.remove_tag", {"host_id": ghost, "tag": "x"})):
        err_code(c.call(m, p), "not_found", "%s unknown host -> not_found"
                 % m, 404)
    err_code(c.call("hosts.add_tag", {"host_id": hid, "tag": ""}),
             "invalid_params", "hosts.add_tag empty tag -> invalid_params")
    ok_result(c.call("hosts.delete", {"host_id": hid}),
              "hosts.delete -> {}")
    # a host with sandboxes: 409 with the ids, then force
    h2 = fake.ctl("POST", "hosts", {"type": "regular"})["id"]
    sid2 = c.call("sandboxes.create", {})["result"]["id"]
    fake.ctl("POST", "sandboxes/%s/host" % sid2, {"host_id": h2})
    ok_result(c.call("hosts.delete_preview", {"host_id": h2}),
              "hosts.delete_preview lists the sandboxes",
              lambda x: sid2 in x["sandbox_ids"])
    err_code(c.call("hosts.regenerate_token", {"host_id": h2}),
             "invalid_request", "token for an online host -> "
             "invalid_request", 400)
    r = c.call("hosts.delete", {"host_id": h2})
    err_code(r, "has_active_sandboxes", "deleting a busy host -> "
             "has_active_sandboxes", 409)
    t.ok(sid2 in r.get("error", {}).get("data", {}).get("sandbox_ids", []),
         "the sandbox ids travel in error.data", r)
    rc, out = ctl_json(sock, "hosts.delete", {"host_id": h2})
    t.ok(rc == 1 and sid2 in out["error"]["data"]["sandbox_ids"],
         "wrennctl call exposes them too", out)
    ok_result(c.call("hosts.delete", {"host_id": h2, "force": True}),
              "hosts.delete force=true -> {}")
    t.eq(c.call("sandboxes.get", {"sandbox_id": sid2})["result"]["status"],
         "stopped", "forced delete stopped the sandbox")

    # BYOC last: afterwards team A's sandboxes need a BYOC host
    ok_result(c.call("admin.set_team_byoc", {"team_id": team_a,
                                             "enabled": True}),
              "admin.set_team_byoc -> {}")
    err_code(c.call("admin.set_team_byoc", {"team_id": team_a,
                                            "enabled": False}),
             "invalid_request", "disabling BYOC -> invalid_request", 400)

    # ---- channels (a member's token would do; admin is a member too)
    ch = {"name": "CI Hook", "provider": "webhook",
          "config": {"url": "https://hooks.example/x"},
          "events": ["capsule.created"]}
    r = c.call("channels.create", ch)
    ok_result(r, "channels.create (webhook secret shown once)",
              lambda x: x["name"] == "ci-hook" and len(x["secret"]) == 64)
    chid = r["result"]["id"]
    err_code(c.call("channels.create", ch), "conflict",
             "duplicate channel name -> conflict", 409)
    err_code(c.call("channels.create", dict(ch, provider="pigeon",
                                            name="p")),
             "invalid_request", "unknown provider -> invalid_request", 400)
    ok_result(c.call("channels.list"), "channels.list",
              lambda x: chid in [k["id"] for k in x])
    ok_result(c.call("channels.get", {"channel_id": chid}), "channels.get",
              lambda x: "secret" not in x)
    ok_result(c.call("channels.update", {"channel_id": chid, "name": "hook2",
                                         "events": ["host.down"]}),
              "channels.update", lambda x: x["events"] == ["host.down"])
    ok_result(c.call("channels.rotate_config",
                     {"channel_id": chid,
                      "config": {"url": "https://hooks.example/y"}}),
              "channels.rotate_config", lambda x: x["id"] == chid)
    ok_result(c.call("channels.test", {"provider": "webhook",
                                       "config": {"url": "https://h.ex/"}}),
              "channels.test", lambda x: x == {"status": "ok"})
    ghost_ch = "ch-" + "0" * 25
    err_code(c.call("channels.update", {"channel_id": ghost_ch, "name": "x",
                                        "events": ["host.up"]}),
             "not_found", "channels.update unknown -> not_found", 404)
    err_code(c.call("channels.rotate_config",
                    {"channel_id": ghost_ch, "config": {"url": "https://x"}}),
             "not_found", "channels.rotate_config unknown -> not_found", 404)
    err_code(c.call("channels.test", {"provider": "pigeon", "config": {}}),
             "invalid_request", "channels.test bad provider -> "
             "invalid_request", 400)
    err_code(c.call("channels.delete", {"channel_id": "nope"}),
             "invalid_request", "channels.delete bad id -> invalid_request",
             400)
    ok_result(c.call("channels.delete", {"channel_id": chid}),
              "channels.delete -> {}")
    err_code(c.call("channels.get", {"channel_id": chid}), "not_found",
             "channels.get after delete -> not_found", 404)

    # ---- audit log with cursors and the all-pages walk
    fake.ctl("POST", "audit", {"count": 450})
    r = c.call("audit.list", {"limit": 200})
    ok_result(r, "audit.list one page", lambda x: len(x["items"]) == 200 and
              "next_before" in x and "next_before_id" in x)
    r2 = c.call("audit.list", {"limit": 200,
                               "before": r["result"]["next_before"],
                               "before_id": r["result"]["next_before_id"]})
    ok_result(r2, "audit.list next page", lambda x:
              not set(i["id"] for i in x["items"]) &
              set(i["id"] for i in r["result"]["items"]))
    r = c.call("audit.list", {"all": True})
    total = len(env.fake.ctl("GET", "audit?team_id=" + team_a))
    ok_result(r, "audit.list all walks every page",
              lambda x: len(x["items"]) >= 450 and x["pages"] >= 3 and
              x["truncated"] is False)
    t.diag("audit: %d entries in the fake, %d returned"
           % (total, len(r["result"]["items"])))
    r = c.call("audit.list", {"all": True, "max_items": 300})
    ok_result(r, "audit.list all stops at max_items with cursors",
              lambda x: len(x["items"]) == 300 and x["truncated"] and
              x["next_before_id"] == x["items"][-1]["id"])
    r = c.call("audit.list", {"resource_type": ["team", "channel"],
                              "limit": 200})
    ok_result(r, "audit.list filter by a list of resource types",
              lambda x: x["items"] and all(i["resource_type"] in
                                           ("team", "channel")
                                           for i in x["items"]))
    err_code(c.call("audit.list", {"before": "yesterday"}),
             "invalid_request", "bad cursor -> invalid_request", 400)

    # ---- non-JSON upstream errors stay typed
    fake.fault(path="^/v1/teams$", status=404, text="404 page not found\n",
               count=1)
    r = c.call("teams.list")
    err_code(r, "not_found", "a plain-text 404 becomes not_found", 404)
    t.ok("404 page not found" in r["error"]["data"].get("body", ""),
         "with the text in data.body", r)
    fake.fault(path="^/v1/teams$", status=503, count=1)
    err_code(c.call("teams.list"), "host_unavailable",
             "a 503 envelope keeps its code", 503)
    # curl retries once on a reused connection that dies before answering
    fake.fault(path="^/v1/teams$", reset=True, count=2)
    err_code(c.call("teams.list"), "upstream_unreachable",
             "a reset connection -> upstream_unreachable")
    fake.clear_faults()

    # ---- rpc.describe covers every method
    names = raw.hello["params"]["methods"]
    d = c.call("rpc.describe")["result"]["methods"]
    t.eq(sorted(m["name"] for m in d), sorted(names),
         "rpc.describe describes every method in the hello")
    t.ok(all(m["credential"] in ("none", "api_key_or_jwt", "jwt",
                                 "admin_jwt") and
             all({"name", "type", "required"} <= set(p) for p in m["params"])
             for m in d), "each with credential and typed params")
    with open(os.path.join(os.environ.get("top_srcdir", "."), "protocol",
                           "PROTOCOL.md")) as f:
        doc = f.read()
    missing = [n for n in names if "`%s`" % n not in doc]
    t.eq(missing, [], "protocol/PROTOCOL.md documents every method")
    raw.close()
    c.close()
    code, text = env.wrennd.stop()
    t.ok(code == 0 and sanitizer_clean(text), "wrennd exits cleanly",
         text[-2000:])

    # ---- only an API key: JWT routes fail locally, nothing is sent
    w = env.start_wrennd(cred="api_key")
    c = CtlClient(env.sock)
    fake.clear_requests()
    for m, p in (("teams.list", {}), ("api_keys.list", {}),
                 ("api_keys.create", {"name": "x"}),
                 ("hosts.list", {}), ("audit.list", {}),
                 ("builds.list", {}), ("admin.list_templates", {}),
                 ("channels.list", {}), ("users.search", {"email": "a@b"})):
        r = c.call(m, p)
        err_code(r, "unauthorized", "%s with only an API key -> local "
                 "unauthorized" % m)
    r = c.call("builds.list")
    t.ok("platform admin" in r["error"]["message"] and
         "WRENN_TOKEN" in r["error"]["message"],
         "the message says which credential to configure", r)
    rc, out = ctl_json(env.sock, "teams.list")
    t.ok(rc == 1 and out["error"]["data"]["code"] == "unauthorized",
         "the same through wrennctl call", out)
    t.eq([q["path"] for q in fake.requests()], [],
         "the control plane received no request for any of them")
    c.close()
    env.wrennd.stop()

    # ---- roles (audit finding 6): a peer of another uid is a user, and
    # the rows that mint credentials or change the account need admin.
    with t.case("roles for another uid"):
        sockdir = os.path.join(env.tmp, "shared")
        os.mkdir(sockdir)
        for d in (env.tmp, sockdir):
            os.chmod(d, 0o711)
        env.start_wrennd(cred="admin", args=["--set", "socket-mode=0666"],
                         socket_path=os.path.join(sockdir, "w.sock"))
        admin_only = (("api_keys.create", {"name": "stolen"}),
                      ("api_keys.list", {}),
                      ("hosts.regenerate_token", {"host_id": "host-x"}),
                      ("hosts.create", {"type": "regular"}),
                      ("teams.delete", {"team_id": team_a}),
                      ("teams.add_member", {"team_id": team_a,
                                            "email": "a@b.c"}),
                      ("builds.list", {}),
                      ("admin.list_templates", {}),
                      ("channels.create", {"name": "x", "provider": "webhook",
                                           "config": {}, "events": []}),
                      ("channels.delete", {"channel_id": "ch-x"}))
        allowed = (("teams.list", {}), ("teams.get", {"team_id": team_a}),
                   ("channels.list", {}), ("daemon.status", {}))
        out = peer_calls(env.sock, allowed)
        fake.clear_requests()
        out.update(peer_calls(env.sock, admin_only))
        t.eq(out["hello"]["params"]["peer"]["role"], "user",
             "uid 65534 is greeted with the user role")
        for m, _ in admin_only:
            e = out[m].get("error", {})
            t.eq(e.get("code"), -32001, "%s as a user -> -32001" % m)
            t.eq(e.get("data", {}).get("code"), "permission_denied",
                 "%s as a user -> data.code permission_denied" % m)
            t.eq(e.get("data", {}).get("role"), "admin",
                 "%s as a user -> data.role names admin" % m)
        for m, _ in allowed:
            t.ok("result" in out[m], "%s as a user succeeds" % m, out[m])
        t.eq([q["path"] for q in fake.requests()], [],
             "no refused call reached the control plane")
        st = out["daemon.status"].get("result", {})
        t.ok("counts" not in st,
             "daemon.status for a user has no daemon-wide counts", st)
        t.ok("platform_admin" not in st.get("auth", {}).get("jwt", {}),
             "daemon.status for a user has no JWT is_admin claim", st)
        # The same calls from root (admin) are not refused locally.
        c = Client(env.sock)
        r = c.call("api_keys.list")
        t.ok("result" in r, "api_keys.list as admin succeeds", r)
        st = c.call("daemon.status")["result"]
        t.ok("counts" in st, "daemon.status for admin keeps the counts", st)
        t.ok("platform_admin" in st["auth"]["jwt"],
             "daemon.status for admin keeps the is_admin claim", st)
        d = {m["name"]: m["role"]
             for m in c.call("rpc.describe")["result"]["methods"]}
        t.eq(d.get("teams.delete"), "admin",
             "rpc.describe says teams.delete needs admin")
        c.close()
finally:
    env.close(t)
sys.exit(t.done())
