# SPDX-License-Identifier: MIT
"""Every control-plane resource through wrennd: snapshots, API keys,
users, teams, hosts, channels, audit, builds, admin. Each method's success
path and at least one error path, the credential chosen per route (API key
where accepted, JWT where required, local refusal when missing or
expired, with nothing sent upstream), token-file reload without dropping
clients, and typed errors including non-JSON upstream answers.

Independent cases share one fake and one wrennd that reads its JWT from a
token file: each case first puts the token it needs there (use_token) and
creates the resources it changes; cases that need other credentials start
a wrennd of their own."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, Client, CtlClient, Env, Opened, Tap,  # noqa
                     Wrennd, ctl_json, dig, sanitizer_clean, settle)

t = Tap()
env = Env(start_wrennd=False)
seed = env.seed
fake = env.fake
users = seed["users"]
team_a = seed["team_a"]["id"]
team_b = seed["team_b"]["id"]
tokfile = os.path.join(env.tmp, "token")
# The token the shared wrennd runs with: (user, team_id), or None while
# unknown (a switch that did not complete).
_current = [None]
_ttl = [7200]


def set_token(tok):
    """Rewrite the token file atomically (as a credential manager would)."""
    tmp = tokfile + ".new"
    with open(tmp, "w") as f:
        f.write(tok + "\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, tokfile)


def mint(**kw):
    """A fresh token; each with its own expiry, so a reload is visible."""
    _ttl[0] += 1
    kw.setdefault("ttl", _ttl[0])
    return fake.ctl("POST", "jwt", kw)


def jwt_status(sock=None):
    c = Client(sock or env.sock)
    try:
        return dig(c.call("daemon.status"), "result", "auth", "jwt") or {}
    finally:
        c.close()


def iso(exp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))


def switch_token(user, team_id=None):
    """Put a fresh token of a seeded user (in team_id) in the token file;
    return (the expiry wrennd should report, what it reports once the
    token file is re-read, or after 20 s)."""
    _current[0] = None
    kw = {"user": user}
    if team_id is not None:
        kw["team_id"] = team_id
    m = mint(**kw)
    set_token(m["token"])
    want = iso(m["claims"]["exp"])
    got = settle(lambda: jwt_status().get("expires_at"), want, 20, 0.1)
    if got == want:
        _current[0] = (user, team_id)
    return want, got


def use_token(user, team_id=None):
    """Make the shared wrennd run with a token of user (in team_id): a
    case's first step. The case fails if wrennd does not pick it up."""
    if _current[0] == (user, team_id):
        return
    want, got = switch_token(user, team_id)
    if got != want:
        raise RuntimeError("wrennd did not re-read the token file: "
                           "expires_at %r, want %r" % (got, want))


def result(r, name):
    """Assert r is a result; return it (None for an error)."""
    t.ok(isinstance(r, dict), name, r)
    t.has(r, "result", name)
    return dig(r, "result")


def failed(r, code, name, status=None):
    """Assert r is an error with data.code (and HTTP status)."""
    t.eq(dig(r, "error", "data", "code"), code, name)
    if status is not None:
        t.eq(dig(r, "error", "data", "status"), status,
             "%s: HTTP %d" % (name, status))


def ids_of(items, key="id"):
    return [x.get(key) for x in items] if isinstance(items, list) else []


def clean_exit(w, what):
    code, text = w.stop()
    t.eq(code, 0, "%s exits 0" % what)
    t.ok(sanitizer_clean(text), "%s: no sanitizer report" % what,
         text[-2000:])


def new_sandbox(c):
    r = c.call("sandboxes.create", {})
    if "result" not in r:
        raise RuntimeError("sandboxes.create failed: %r" % (r,))
    return r["result"]["id"]


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


try:
    set_token(seed["jwt_owner"])
    w = env.start_wrennd(cred="api_key", args=["--token-file", tokfile])
    _current[0] = ("owner", None)
    sock = env.sock
    # Every resource call goes through wrennctl (built on libwrennctl);
    # Client is the protocol client for what wrennctl does not show.
    c = CtlClient(sock)

    # ---- credential per route
    with t.case("credential per route"):
        use_token("owner")
        fake.clear_requests()
        c.call("sandboxes.list")
        q = (fake.requests() or [{}])[-1]
        t.eq(q.get("path"), fake.sandboxes_path, "sandboxes.list reached the "
             "fake")
        t.eq(q.get("has_api_key"), True, "sandbox route uses the API key "
             "when both are configured")
        t.eq(q.get("has_bearer"), False, "sandbox route sends no JWT")
        r = c.call("teams.list")
        q = (fake.requests() or [{}])[-1]
        t.eq(q.get("path"), "/v1/teams", "teams.list reached the fake")
        t.eq(q.get("has_bearer"), True, "JWT-only route sends the JWT")
        t.eq(q.get("has_api_key"), False, "JWT-only route sends only the "
             "JWT")
        t.has(ids_of(result(r, "teams.list")), team_a,
              "teams.list has team A")

    # ---- snapshots (API key or JWT)
    with t.case("snapshots"):
        sid = new_sandbox(c)
        x = result(c.call("snapshots.create", {"sandbox_id": sid,
                                               "name": "snap-one"}),
                   "snapshots.create")
        t.eq(dig(x, "name"), "snap-one", "snapshots.create: its name")
        t.eq(dig(x, "type"), "snapshot", "snapshots.create: its type")
        t.eq(dig(c.call("sandboxes.get", {"sandbox_id": sid}), "result",
                 "status"), "paused", "the snapshotted sandbox is left "
             "paused")
        # A taken name: 172413e's already_exists, v0.1.5's
        # template_name_taken (CONTRACT.md 11.7).
        taken = ("template_name_taken" if fake.dialect == "capsules"
                 else "already_exists")
        failed(c.call("snapshots.create", {"sandbox_id": sid,
                                           "name": "snap-one"}),
               taken, "snapshot name taken -> " + taken, 409)
        over = {"sandbox_id": sid, "name": "snap-one", "overwrite": True}
        if fake.dialect == "capsules":
            fake.clear_requests()
            r = c.call("snapshots.create", over)
            failed(r, "unsupported_by_server",
                   "snapshots.create overwrite=true on v0.1.5 -> "
                   "unsupported_by_server")
            t.eq(dig(r, "error", "data", "needs"), "172413e (/v1/sandboxes)",
                 "overwrite: data.needs names the older server")
            t.eq(fake.requests(), [], "overwrite on v0.1.5: nothing sent")
        else:
            result(c.call("snapshots.create", over),
                   "snapshots.create overwrite=true")
        failed(c.call("snapshots.create", {"sandbox_id": sid,
                                           "name": "minimal"}),
               "name_reserved", "platform name -> name_reserved", 409)
        x = result(c.call("snapshots.list", {"type": "snapshot"}),
                   "snapshots.list type=snapshot")
        t.eq(ids_of(x, "name"), ["snap-one"],
             "snapshots.list type=snapshot lists only the snapshot")
        failed(c.call("snapshots.list", {"type": 1}), "invalid_params",
               "snapshots.list with a non-string type -> invalid_params")
        x = result(c.call("snapshots.list"), "snapshots.list")
        t.has(ids_of(x, "name"), "minimal", "snapshots.list includes "
              "minimal")
        t.eq(result(c.call("snapshots.delete", {"name": "snap-one"}),
                    "snapshots.delete succeeds"), {},
             "snapshots.delete -> {}")
        failed(c.call("snapshots.delete", {"name": "snap-one"}),
               "not_found", "snapshots.delete unknown -> not_found", 404)
        failed(c.call("snapshots.delete", {"name": "minimal"}),
               "forbidden", "deleting a platform template -> forbidden",
               403)
        failed(c.call("snapshots.create", {"name": "x"}), "invalid_params",
               "snapshots.create without sandbox_id -> invalid_params")

    # ---- API keys (JWT)
    with t.case("api_keys"):
        use_token("owner")
        x = result(c.call("api_keys.create", {"name": "ci"}),
                   "api_keys.create")
        t.ok(str(dig(x, "key")).startswith("wrn_"),
             "api_keys.create returns the key once", x)
        t.eq(dig(x, "name"), "ci", "api_keys.create: its name")
        kid = dig(x, "id")
        x = result(c.call("api_keys.list"), "api_keys.list")
        t.has(ids_of(x), kid, "api_keys.list lists the new key")
        t.eq([k for k in (x or []) if "key" in k], [],
             "api_keys.list shows no key")
        t.eq(result(c.call("api_keys.delete", {"key_id": kid}),
                    "api_keys.delete succeeds"), {}, "api_keys.delete -> {}")
        failed(c.call("api_keys.delete", {"key_id": "nope"}),
               "invalid_request", "api_keys.delete bad id -> "
               "invalid_request", 400)

    # ---- users
    with t.case("users.search"):
        use_token("owner")
        x = result(c.call("users.search", {"email": "member@"}),
                   "users.search")
        t.eq(ids_of(x, "email"), ["member@a.test"],
             "users.search finds the member")
        failed(c.call("users.search", {"email": "ab"}), "invalid_request",
               "users.search short prefix -> invalid_request", 400)

    # ---- teams
    with t.case("teams"):
        use_token("owner")
        x = result(c.call("teams.get", {"team_id": team_a}), "teams.get")
        t.eq(dig(x, "team", "id"), team_a, "teams.get returns team A")
        t.ok(len(dig(x, "members") or []) >= 3,
             "teams.get lists team A's 3 seeded members", x)
        failed(c.call("teams.get", {"team_id": team_b}), "forbidden",
               "teams.get of another team -> forbidden", 403)
        x = result(c.call("teams.create", {"name": "Side Project"}),
                   "teams.create")
        t.eq(dig(x, "role"), "owner", "teams.create makes us the owner")
        team_x = dig(x, "id")
        failed(c.call("teams.create", {"name": "bad/name"}),
               "invalid_request", "teams.create bad name -> "
               "invalid_request", 400)
        t.eq(result(c.call("teams.rename", {"team_id": team_a,
                                            "name": "Team A Renamed"}),
                    "teams.rename succeeds"), {}, "teams.rename -> {}")
        failed(c.call("teams.rename", {"team_id": team_a, "name": "a/b"}),
               "invalid_request", "teams.rename bad name -> "
               "invalid_request", 400)
        x = result(c.call("teams.list_members", {"team_id": team_a}),
                   "teams.list_members")
        t.ok(len(x or []) >= 3, "teams.list_members lists 3 or more", x)
        failed(c.call("teams.list_members", {"team_id": team_b}),
               "forbidden", "teams.list_members of another team -> "
               "forbidden", 403)
        other = users["other"]
        x = result(c.call("teams.add_member", {"team_id": team_a,
                                               "email": other["email"]}),
                   "teams.add_member")
        t.eq(dig(x, "role"), "member", "teams.add_member adds a member")
        failed(c.call("teams.add_member", {"team_id": team_a,
                                           "email": other["email"]}),
               "invalid_request", "adding a member twice -> "
               "invalid_request")
        failed(c.call("teams.add_member", {"team_id": team_a,
                                           "email": "ghost@x.test"}),
               "not_found", "adding an unknown email -> not_found", 404)
        result(c.call("teams.update_member_role",
                      {"team_id": team_a, "user_id": other["id"],
                       "role": "admin"}), "teams.update_member_role -> {}")
        failed(c.call("teams.update_member_role",
                      {"team_id": team_a, "user_id": other["id"],
                       "role": "god"}), "invalid_request",
               "bad role -> invalid_request", 400)
        result(c.call("teams.remove_member",
                      {"team_id": team_a, "user_id": other["id"]}),
               "teams.remove_member -> {}")
        failed(c.call("teams.remove_member",
                      {"team_id": team_a, "user_id": other["id"]}),
               "not_found", "removing a non-member -> not_found", 404)
        failed(c.call("teams.leave", {"team_id": team_a}), "forbidden",
               "the owner cannot leave -> forbidden", 403)
        failed(c.call("teams.delete", {"team_id": team_x}), "forbidden",
               "deleting a team other than the JWT's -> forbidden", 403)

    # ---- audit log with cursors and the all-pages walk
    with t.case("audit.list"):
        use_token("owner")
        fake.ctl("POST", "audit", {"count": 450})
        r = c.call("audit.list", {"limit": 200})
        x = result(r, "audit.list one page")
        t.eq(len(dig(x, "items") or []), 200, "audit.list one page of 200")
        t.has(x, "next_before", "audit.list one page has next_before")
        t.has(x, "next_before_id", "audit.list one page has "
              "next_before_id")
        x2 = result(c.call("audit.list",
                           {"limit": 200, "before": dig(x, "next_before"),
                            "before_id": dig(x, "next_before_id")}),
                    "audit.list next page")
        page1 = set(ids_of(dig(x, "items")))
        page2 = set(ids_of(dig(x2, "items")))
        t.eq(len(page2), 200, "audit.list next page of 200")
        t.eq(page1 & page2, set(), "audit.list next page shares no entry "
             "with the first")
        x = result(c.call("audit.list", {"all": True}),
                   "audit.list all walks every page")
        total = len(fake.ctl("GET", "audit?team_id=" + team_a))
        t.ok(len(dig(x, "items") or []) >= 450,
             "audit.list all returns all 450 or more", dig(x, "pages"))
        t.ok((dig(x, "pages") or 0) >= 3, "audit.list all walks 3 pages "
             "or more", dig(x, "pages"))
        t.eq(dig(x, "truncated"), False, "audit.list all is not truncated")
        t.diag("audit: %d entries in the fake, %d returned"
               % (total, len(dig(x, "items") or [])))
        x = result(c.call("audit.list", {"all": True, "max_items": 300}),
                   "audit.list all with max_items")
        items = dig(x, "items") or [{}]
        t.eq(len(items), 300, "audit.list all stops at max_items")
        t.eq(dig(x, "truncated"), True, "and says it is truncated")
        t.eq(dig(x, "next_before_id"), items[-1].get("id"),
             "with the cursor after the last item")
        x = result(c.call("audit.list", {"resource_type": ["team",
                                                           "channel"],
                                         "limit": 200}),
                   "audit.list filter by a list of resource types")
        kinds = set(i.get("resource_type") for i in dig(x, "items") or [])
        t.ok(kinds, "the filter leaves some entries", x)
        t.eq(kinds - {"team", "channel"}, set(),
             "the filter leaves only teams and channels")
        failed(c.call("audit.list", {"before": "yesterday"}),
               "invalid_request", "bad cursor -> invalid_request", 400)

    # ---- non-JSON upstream errors stay typed
    with t.case("non-JSON upstream errors"), Opened() as keep:
        use_token("owner")
        keep.later(fake.clear_faults)
        fake.fault(path="^/v1/teams$", status=404,
                   text="404 page not found\n", count=1)
        r = c.call("teams.list")
        failed(r, "not_found", "a plain-text 404 becomes not_found", 404)
        t.has(dig(r, "error", "data", "body") or "", "404 page not found",
              "with the text in data.body")
        fake.fault(path="^/v1/teams$", status=503, count=1)
        failed(c.call("teams.list"), "host_unavailable",
               "a 503 envelope keeps its code", 503)
        # curl retries once on a reused connection that dies before
        # answering
        fake.fault(path="^/v1/teams$", reset=True, count=2)
        failed(c.call("teams.list"), "upstream_unreachable",
               "a reset connection -> upstream_unreachable")

    # ---- rpc.describe covers every method
    with t.case("rpc.describe"), Opened() as keep:
        names = keep(Client(sock)).hello["params"]["methods"]
        d = dig(c.call("rpc.describe"), "result", "methods") or []
        t.eq(sorted(m["name"] for m in d), sorted(names),
             "rpc.describe describes every method in the hello")
        t.eq([m["name"] for m in d if m.get("credential") not in
              ("none", "api_key_or_jwt", "jwt", "admin_jwt", "api_key")],
             [],
             "each with its credential")
        # issue 10: the proxy takes the API key on 172413e, none on v0.1.5
        # (where any credential serves the method's own record reads)
        t.eq(sorted(m["name"] for m in d if "credential_by_server" in m),
             sorted(m["name"] for m in d if m.get("credential") ==
                    "api_key"),
             "credential_by_server: exactly the api_key (proxy) methods")
        t.eq([m.get("credential_by_server") for m in d
              if m["name"] == "sandbox.get_url"],
             [{"172413e": "api_key", "v0.1.5": "api_key_or_jwt"}],
             "sandbox.get_url: the credential per server")
        t.eq([m["name"] for m in d
              if not all({"name", "type", "required"} <= set(p)
                         for p in m.get("params", [{}]))], [],
             "each with typed params")
        with open(os.path.join(os.environ.get("top_srcdir", "."),
                               "protocol", "PROTOCOL.md")) as f:
            doc = f.read()
        t.eq([n for n in names if "`%s`" % n not in doc], [],
             "protocol/PROTOCOL.md documents every method")

    # token file rewritten: picked up without a restart, clients stay
    with t.case("a rewritten token file"), Opened() as keep:
        use_token("owner")
        team_y = dig(c.call("teams.create", {"name": "Reload Team"}),
                     "result", "id")
        old = keep(Client(sock))
        want, got = switch_token("owner", team_y)
        t.eq(got, want, "a rewritten token file is re-read (daemon.status "
             "shows the new expiry)")
        r = old.call("teams.delete", {"team_id": team_y})
        t.eq(dig(r, "result"), {}, "teams.delete with the new token -> {} "
             "(on a connection opened before the reload)")

    with t.case("teams.leave"):
        use_token("member")
        t.eq(dig(c.call("teams.leave", {"team_id": team_a}), "result"), {},
             "teams.leave -> {}")

    # expired JWT: refused locally, nothing sent
    with t.case("an expired JWT"):
        _current[0] = None
        set_token(seed["jwt_expired"])
        t.eq(settle(lambda: jwt_status().get("expired"), True, 20, 0.1),
             True, "daemon.status shows the token expired")
        fake.clear_requests()
        r = c.call("teams.list")
        failed(r, "unauthorized", "an expired JWT is refused locally")
        t.eq(dig(r, "error", "data", "expired"), True,
             "with data.expired")
        t.has(dig(r, "error", "message") or "", "expired",
              "with an actionable message")
        t.eq(fake.requests(), [], "and the control plane saw no request")

    # SIGHUP reload keeps clients
    with t.case("SIGHUP keeps clients"), Opened() as keep:
        use_token("admin")
        raw = keep(Client(sock))
        n = w.stderr().count("SIGHUP:")
        w.proc.send_signal(signal.SIGHUP)
        t.eq(settle(lambda: w.stderr().count("SIGHUP:"), n + 1, 20), n + 1,
             "wrennd logs the SIGHUP reload")
        t.has(raw.call("daemon.status"), "result",
              "SIGHUP reload keeps the connection")
        t.eq(jwt_status().get("platform_admin"), True,
             "and the admin token")

    # ---- admin and builds (platform admin JWT)
    with t.case("admin templates and builds"):
        use_token("admin")
        x = result(c.call("admin.list_templates"), "admin.list_templates")
        t.has(ids_of(x, "name"), "minimal", "admin.list_templates lists "
              "minimal")
        failed(c.call("admin.delete_template", {"name": "minimal"}),
               "forbidden", "deleting minimal -> forbidden", 403)
        failed(c.call("admin.delete_template", {"name": "nope"}),
               "not_found", "admin.delete_template unknown -> not_found",
               404)
        x = result(c.call("builds.create", {"name": "py-tools",
                                            "recipe": ["RUN echo hi"]}),
                   "builds.create")
        bid = dig(x, "id")
        t.ok(str(bid).startswith("bld-"), "builds.create returns a bld- id",
             x)
        t.eq(dig(x, "status"), "pending", "builds.create: pending")
        x = result(c.call("builds.list"), "builds.list")
        t.has(ids_of(x), bid, "builds.list lists the build")
        x = result(c.call("builds.get", {"build_id": bid}), "builds.get")
        t.eq(dig(x, "total_steps"), 5, "builds.get: total_steps")
        result(c.call("builds.cancel", {"build_id": bid}),
               "builds.cancel -> {}")
        failed(c.call("builds.cancel", {"build_id": bid}),
               "invalid_request", "cancelling a finished build -> "
               "invalid_request", 400)
        failed(c.call("builds.create", {"name": "x", "recipe": []}),
               "invalid_request", "builds.create empty recipe -> 400", 400)
        failed(c.call("builds.get", {"build_id": "bld-" + "0" * 25}),
               "not_found", "builds.get unknown -> not_found", 404)

    # ---- hosts
    with t.case("hosts"):
        use_token("admin")
        x = result(c.call("hosts.create", {"type": "regular",
                                           "provider": "test"}),
                   "hosts.create")
        t.eq(len(dig(x, "registration_token") or ""), 64,
             "hosts.create returns a registration token")
        t.eq(dig(x, "host", "status"), "pending", "hosts.create: pending")
        hid = dig(x, "host", "id")
        t.eq(dig(c.call("hosts.get", {"host_id": hid}), "result", "id"),
             hid, "hosts.get")
        t.has(ids_of(dig(c.call("hosts.list"), "result")), hid,
              "hosts.list")
        x = result(c.call("hosts.regenerate_token", {"host_id": hid}),
                   "hosts.regenerate_token")
        t.eq(len(dig(x, "registration_token") or ""), 64,
             "hosts.regenerate_token returns a token")
        t.eq(c.call("hosts.list_tags", {"host_id": hid}),
             {"result": None}, "hosts.list_tags is null without tags")
        result(c.call("hosts.add_tag", {"host_id": hid, "tag": "gpu"}),
               "hosts.add_tag -> {}")
        t.eq(dig(c.call("hosts.list_tags", {"host_id": hid}), "result"),
             ["gpu"], "hosts.list_tags")
        result(c.call("hosts.remove_tag", {"host_id": hid, "tag": "gpu"}),
               "hosts.remove_tag -> {}")
        failed(c.call("hosts.create", {"type": "spaceship"}),
               "invalid_request", "hosts.create bad type -> "
               "invalid_request")
        ghost = "host-" + "0" * 25
        failed(c.call("hosts.get", {"host_id": ghost}), "not_found",
               "hosts.get unknown -> not_found", 404)
        for m, p in (("hosts.delete_preview", {"host_id": ghost}),
                     ("hosts.list_tags", {"host_id": ghost}),
                     ("hosts.remove_tag", {"host_id": ghost, "tag": "x"})):
            failed(c.call(m, p), "not_found", "%s unknown host -> not_found"
                   % m, 404)
        failed(c.call("hosts.add_tag", {"host_id": hid, "tag": ""}),
               "invalid_params", "hosts.add_tag empty tag -> "
               "invalid_params")
        result(c.call("hosts.delete", {"host_id": hid}),
               "hosts.delete -> {}")

    # a host with sandboxes: 409 with the ids, then force
    with t.case("deleting a busy host"):
        use_token("admin")
        h2 = fake.ctl("POST", "hosts", {"type": "regular"})["id"]
        sid2 = new_sandbox(c)
        fake.ctl("POST", "sandboxes/%s/host" % sid2, {"host_id": h2})
        x = result(c.call("hosts.delete_preview", {"host_id": h2}),
                   "hosts.delete_preview")
        t.has(dig(x, "sandbox_ids") or [], sid2,
              "hosts.delete_preview lists the sandboxes")
        failed(c.call("hosts.regenerate_token", {"host_id": h2}),
               "invalid_request", "token for an online host -> "
               "invalid_request", 400)
        r = c.call("hosts.delete", {"host_id": h2})
        failed(r, "has_active_sandboxes", "deleting a busy host -> "
               "has_active_sandboxes", 409)
        t.has(dig(r, "error", "data", "sandbox_ids") or [], sid2,
              "the sandbox ids travel in error.data")
        rc, out = ctl_json(sock, "hosts.delete", {"host_id": h2})
        t.eq(rc, 1, "wrennctl call exits 1")
        t.has(dig(out, "error", "data", "sandbox_ids") or [], sid2,
              "wrennctl call exposes them too")
        result(c.call("hosts.delete", {"host_id": h2, "force": True}),
               "hosts.delete force=true -> {}")
        t.eq(dig(c.call("sandboxes.get", {"sandbox_id": sid2}), "result",
                 "status"), "stopped", "forced delete stopped the sandbox")

    # BYOC is one way: a team of the case's own
    with t.case("admin.set_team_byoc"):
        use_token("admin")
        tid = dig(c.call("teams.create", {"name": "Byoc Team"}), "result",
                  "id")
        result(c.call("admin.set_team_byoc", {"team_id": tid,
                                              "enabled": True}),
               "admin.set_team_byoc -> {}")
        failed(c.call("admin.set_team_byoc", {"team_id": tid,
                                              "enabled": False}),
               "invalid_request", "disabling BYOC -> invalid_request", 400)

    # ---- channels (a member's token would do; admin is a member too)
    with t.case("channels"):
        use_token("admin")
        ch = {"name": "CI Hook", "provider": "webhook",
              "config": {"url": "https://hooks.example/x"},
              "events": ["capsule.created"]}
        x = result(c.call("channels.create", ch), "channels.create")
        t.eq(dig(x, "name"), "ci-hook", "channels.create: the name as "
             "stored")
        t.eq(len(dig(x, "secret") or ""), 64,
             "channels.create: the webhook secret shown once")
        chid = dig(x, "id")
        failed(c.call("channels.create", ch), "conflict",
               "duplicate channel name -> conflict", 409)
        failed(c.call("channels.create", dict(ch, provider="pigeon",
                                              name="p")),
               "invalid_request", "unknown provider -> invalid_request",
               400)
        t.has(ids_of(dig(c.call("channels.list"), "result")), chid,
              "channels.list")
        x = result(c.call("channels.get", {"channel_id": chid}),
                   "channels.get")
        t.eq(dig(x, "id"), chid, "channels.get returns the channel")
        t.ok(isinstance(x, dict), "channels.get shows no secret", x)
        t.ok("secret" not in (x or {}),
             "channels.get shows no secret (secret)", x)
        x = result(c.call("channels.update",
                          {"channel_id": chid, "name": "hook2",
                           "events": ["host.down"]}), "channels.update")
        t.eq(dig(x, "events"), ["host.down"], "channels.update: events")
        x = result(c.call("channels.rotate_config",
                          {"channel_id": chid,
                           "config": {"url": "https://hooks.example/y"}}),
                   "channels.rotate_config")
        t.eq(dig(x, "id"), chid, "channels.rotate_config returns it")
        t.eq(dig(c.call("channels.test",
                        {"provider": "webhook",
                         "config": {"url": "https://h.ex/"}}), "result"),
             {"status": "ok"}, "channels.test")
        ghost_ch = "ch-" + "0" * 25
        failed(c.call("channels.update", {"channel_id": ghost_ch,
                                          "name": "x",
                                          "events": ["host.up"]}),
               "not_found", "channels.update unknown -> not_found", 404)
        failed(c.call("channels.rotate_config",
                      {"channel_id": ghost_ch,
                       "config": {"url": "https://x"}}),
               "not_found", "channels.rotate_config unknown -> not_found",
               404)
        failed(c.call("channels.test", {"provider": "pigeon",
                                        "config": {}}),
               "invalid_request", "channels.test bad provider -> "
               "invalid_request", 400)
        failed(c.call("channels.delete", {"channel_id": "nope"}),
               "invalid_request", "channels.delete bad id -> "
               "invalid_request", 400)
        result(c.call("channels.delete", {"channel_id": chid}),
               "channels.delete -> {}")
        failed(c.call("channels.get", {"channel_id": chid}), "not_found",
               "channels.get after delete -> not_found", 404)

    # ---- credential isolation seen by the control plane: an API key of
    # team B and a JWT of team A, so the fake's log and its answers both
    # tell which one arrived, for rows and handlers of each kind
    with t.case("credential isolation per route"), Opened() as keep:
        wi = keep(Wrennd(env.tmp, fake.url, api_key=seed["api_key_b"],
                         token=seed["jwt_owner"]))
        ci = keep(Client(wi.sock))
        fake.clear_requests()
        sid = new_sandbox(ci)
        key_calls = (
            ("sandbox.exec_stream", {"sandbox_id": sid, "cmd": "true"}),
            ("sandbox.upload", {"sandbox_id": sid, "path": "f",
                                "data": "eA=="}),
            ("sandbox.download", {"sandbox_id": sid, "path": "f"}),
            ("sandbox.wait_ready", {"sandbox_id": sid}),
            ("snapshots.list", {}))
        jwt_calls = (("teams.list", {}), ("audit.list", {"limit": 1}),
                     ("users.search", {"email": "member@"}))
        for m, p in key_calls + jwt_calls:
            t.has(ci.call(m, p), "result", "%s succeeds" % m)
        reqs = fake.requests()
        t.eq(sorted(set("%s %s" % (q["method"], q["path"].replace(sid,
                                                                  "ID"))
                        for q in reqs)),
             sorted(w.replace("SB", fake.sandboxes_path) for w in (
                 "GET /v1/audit-logs", "GET SB/ID", "GET SB/ID/exec/stream",
                 "GET /v1/snapshots", "GET /v1/teams", "GET /v1/users/search",
                 "POST SB", "POST SB/ID/files/read",
                 "POST SB/ID/files/write")),
             "every route of the calls reached the control plane")
        for q in reqs:
            what = "%s %s" % (q["method"], q["path"])
            h = q["headers"]
            if q["path"].startswith((fake.sandboxes_path, "/v1/snapshots")):
                t.eq(h.get("x-api-key"), seed["api_key_b"],
                     "%s arrived with the API key" % what)
                t.eq(h.get("authorization"), None,
                     "%s arrived without Authorization" % what)
            else:
                t.eq(h.get("authorization"), "Bearer " + seed["jwt_owner"],
                     "%s arrived with the JWT" % what)
                t.eq(h.get("x-api-key"), None,
                     "%s arrived without X-API-Key" % what)
        t.eq(dig(fake.ctl("GET", "sandboxes/" + sid), "team_id"), team_b,
             "the control plane made the sandbox for the API key's team")
        teams = ids_of(dig(ci.call("teams.list"), "result"))
        t.has(teams, team_a, "and answered teams.list for the JWT's user "
              "(in team A)")
        t.ok(team_b not in teams, "not for the API key's team B", teams)
        ci.close()
        clean_exit(wi, "the wrennd with both credentials")

    # ---- chi's own text/plain 404 (no fault rule): a base URL with a
    # path the control plane does not route
    with t.case("the control plane's text 404"), Opened() as keep:
        wp = keep(Wrennd(env.tmp, fake.url + "/api",
                         api_key=seed["api_key"], token=seed["jwt_owner"]))
        cp = keep(Client(wp.sock))
        fake.clear_requests()
        for m, p in (("teams.list", {}),
                     ("sandboxes.get", {"sandbox_id": "cl-" + "1" * 25})):
            e = cp.call(m, p).get("error")
            t.eq(dig(e, "code"), -32000, "%s answered 404 text -> -32000"
                 % m)
            t.eq(dig(e, "data", "code"), "not_found",
                 "%s answered 404 text -> data.code not_found" % m)
            t.eq(dig(e, "data", "status"), 404,
                 "%s answered 404 text -> data.status 404" % m)
            t.eq(dig(e, "data", "body"), "404 page not found",
                 "%s answered 404 text -> the text in data.body" % m)
            t.eq(dig(e, "message"),
                 "control plane answered HTTP 404: 404 page not found",
                 "%s answered 404 text -> the message quotes it" % m)
        t.eq([(q["path"], q["status"], q["fault"])
              for q in fake.requests()],
             [("/api/v1/teams", 404, None),
              ("/api/v1/sandboxes/cl-" + "1" * 25, 404, None)],
             "the fake answered both with its own 404, not a fault rule")
        rc, out = ctl_json(wp.sock, "teams.list")
        t.eq(dig(out, "error", "data", "code"), "not_found",
             "wrennctl call shows not_found too")
        cp.close()
        clean_exit(wp, "the wrennd with a wrong base path")

    # ---- only an API key: JWT routes fail locally, nothing is sent
    with t.case("only an API key"), Opened() as keep:
        wk = keep(Wrennd(env.tmp, fake.url, api_key=seed["api_key"]))
        ck = CtlClient(wk.sock)
        fake.clear_requests()
        for m, p in (("teams.list", {}), ("api_keys.list", {}),
                     ("api_keys.create", {"name": "x"}),
                     ("hosts.list", {}), ("audit.list", {}),
                     ("builds.list", {}), ("admin.list_templates", {}),
                     ("channels.list", {}),
                     ("users.search", {"email": "a@b"})):
            failed(ck.call(m, p), "unauthorized",
                   "%s with only an API key -> local unauthorized" % m)
        msg = dig(ck.call("builds.list"), "error", "message") or ""
        t.has(msg, "platform admin",
              "the message says which credential to configure")
        t.has(msg, "WRENN_TOKEN", "and where")
        rc, out = ctl_json(wk.sock, "teams.list")
        t.eq(rc, 1, "wrennctl call exits 1")
        t.eq(dig(out, "error", "data", "code"), "unauthorized",
             "the same through wrennctl call")
        t.eq([q["path"] for q in fake.requests()], [],
             "the control plane received no request for any of them")
        clean_exit(wk, "the wrennd with only an API key")

    # ---- roles (audit finding 6): a peer of another uid is a user, and
    # the rows that mint credentials or change the account need admin.
    with t.case("roles for another uid"), Opened() as keep:
        sockdir = os.path.join(env.tmp, "shared")
        os.mkdir(sockdir)
        for d in (env.tmp, sockdir):
            os.chmod(d, 0o711)
        wr = keep(Wrennd(env.tmp, fake.url, token=seed["jwt_admin"],
                         args=["--set", "socket-mode=0666",
                               "--set", "allow-users=65534"],
                         socket_path=os.path.join(sockdir, "w.sock")))
        admin_only = (("api_keys.create", {"name": "stolen"}),
                      ("api_keys.list", {}),
                      ("hosts.regenerate_token", {"host_id": "host-x"}),
                      ("hosts.create", {"type": "regular"}),
                      ("teams.delete", {"team_id": team_a}),
                      ("teams.add_member", {"team_id": team_a,
                                            "email": "a@b.c"}),
                      ("builds.list", {}),
                      ("admin.list_templates", {}),
                      ("channels.create", {"name": "x",
                                           "provider": "webhook",
                                           "config": {}, "events": []}),
                      ("channels.delete", {"channel_id": "ch-x"}))
        allowed = (("teams.list", {}), ("teams.get", {"team_id": team_a}),
                   ("channels.list", {}), ("daemon.status", {}))
        out = peer_calls(wr.sock, allowed)
        fake.clear_requests()
        out.update(peer_calls(wr.sock, admin_only))
        t.eq(dig(out, "hello", "params", "peer", "role"), "user",
             "uid 65534 is greeted with the user role")
        for m, _ in admin_only:
            e = out[m].get("error", {})
            t.eq(e.get("code"), -32001, "%s as a user -> -32001" % m)
            t.eq(e.get("data", {}).get("code"), "permission_denied",
                 "%s as a user -> data.code permission_denied" % m)
            t.eq(e.get("data", {}).get("role"), "admin",
                 "%s as a user -> data.role names admin" % m)
        for m, _ in allowed:
            t.has(out[m], "result", "%s as a user succeeds" % m)
        t.eq([q["path"] for q in fake.requests()], [],
             "no refused call reached the control plane")
        st = dig(out, "daemon.status", "result") or {}
        t.ok("counts" not in st,
             "daemon.status for a user has no daemon-wide counts", st)
        t.ok("platform_admin" not in (dig(st, "auth", "jwt") or {}),
             "daemon.status for a user has no JWT is_admin claim", st)
        # The same calls from root (admin) are not refused locally.
        cr = keep(Client(wr.sock))
        t.has(cr.call("api_keys.list"), "result",
              "api_keys.list as admin succeeds")
        st = dig(cr.call("daemon.status"), "result") or {}
        t.has(st, "counts", "daemon.status for admin keeps the counts")
        t.has(dig(st, "auth", "jwt") or {}, "platform_admin",
              "daemon.status for admin keeps the is_admin claim")
        d = {m["name"]: m["role"] for m in
             dig(cr.call("rpc.describe"), "result", "methods") or []}
        t.eq(d.get("teams.delete"), "admin",
             "rpc.describe says teams.delete needs admin")
        cr.close()
        clean_exit(wr, "the wrennd shared with another uid")
finally:
    env.close(t)
sys.exit(t.done())
