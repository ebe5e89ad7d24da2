# SPDX-License-Identifier: MIT
"""The control plane's api dialect (issue 10): auto-detection against the
172413e fake (/v1/sandboxes) and the v0.1.5 one (/v1/capsules), with
daemon.status showing the dialect and the server's version; a server
that is down at start and comes back, then is replaced by the other one
(the probe runs again after it was unreachable); api-dialect forced to
the wrong one (a clear error and a running wrennd); every method that
needs the newer server refused on the older one with
unsupported_by_server naming the version needed and nothing sent; and
daemon.status never sending an unauthenticated request to an
authenticated route; no_hosts_available marked retryable; pause and
snapshot given minutes where other calls have request-timeout;
PROTOCOL.md marking exactly the methods rpc.describe says need the
newer server. Both
fakes are started whatever WRENND_TEST_DIALECT says."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DIALECTS, Client, Env, FakeCP, Opened, Tap,  # noqa: E402
                     Wrennd, dig, sanitizer_clean, wait_for, wrennctl)

t = Tap()
# One API key for every fake this test starts, so a wrennd keeps working
# when its control plane is replaced.
KEY = "wrn_" + "d1a1ec7" * 4 + "0000"
# What each fake's GET /health says (routes.py VERSION; none on 172413e).
VERSION = {"sandboxes": None, "capsules": "0.1.5"}
PREFIX = {"sandboxes": "/v1/sandboxes", "capsules": "/v1/capsules"}


def upstream(c):
    return dig(c.call("daemon.status"), "result", "upstream") or {}


def code_of(r):
    return dig(r, "error", "data", "code")


def unauthenticated(fake):
    """Requests that reached fake without a credential, but for the
    probe's GET /health (the one route that takes none)."""
    return ["%s %s" % (q["method"], q["path"]) for q in fake.requests()
            if q["path"] != "/health" and not q.get("has_api_key")
            and not q.get("has_bearer")]


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dummy(p):
    """A value of p's declared type, to pass the dispatcher's checks."""
    kind = p.get("type")
    if kind == "integer":
        return p.get("min", 1) if p.get("min", 1) > 0 else 1
    return {"boolean": False, "strings": ["x"], "object": {}, "array": [],
            "string": "cl-" + "0" * 25}.get(kind, "x")


def clean_exit(w, what):
    rc, text = w.stop()
    t.eq(rc, 0, "%s: wrennd exits 0" % what)
    t.ok(sanitizer_clean(text), "%s: no sanitizer report" % what,
         text[-2000:])


envs = {}
try:
    for d in DIALECTS:
        envs[d] = Env(dialect=d, fake_args=["--api-key", KEY],
                      start_wrennd=False)

    for d in DIALECTS:
        with t.case("auto-detection against the %s fake" % d), \
                Opened() as keep:
            env = envs[d]
            w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY))
            c = keep(Client(w.sock))
            up = upstream(c)
            t.eq(up.get("dialect"), d, "%s: daemon.status dialect" % d)
            t.eq(up.get("api_dialect"), "auto",
                 "%s: daemon.status api_dialect" % d)
            t.eq(up.get("server_version"), VERSION[d],
                 "%s: daemon.status server_version" % d)
            t.eq(up.get("state"), "ok", "%s: daemon.status state" % d)
            probes = [q for q in env.fake.requests()
                      if q["path"] == "/health"]
            t.eq(len(probes), 1, "%s: one GET /health probe at start" % d)
            t.eq(dig(probes, 0, "has_api_key"), False,
                 "%s: the probe carries no API key" % d)
            t.eq(unauthenticated(env.fake), [],
                 "%s: daemon.status sent nothing unauthenticated to an "
                 "authenticated route" % d)
            env.fake.clear_requests()
            r = c.call("sandboxes.list")
            t.ok("result" in r, "%s: sandboxes.list works" % d, r)
            t.eq([q["path"] for q in env.fake.requests()], [PREFIX[d]],
                 "%s: sandboxes.list used the dialect's route" % d)
            rc, out, err = wrennctl(w.sock, "status")
            t.eq(rc, 0, "%s: wrennctl status exits 0" % d)
            lines = [x.split() for x in out.decode().splitlines()]
            t.has(lines, ["upstream.dialect:", d],
                  "%s: wrennctl status shows the dialect" % d)
            c.close()
            clean_exit(w, d)

    with t.case("daemon.status without a credential sends nothing "
                "authenticated"), Opened() as keep:
        env = envs["capsules"]
        w = keep(Wrennd(env.tmp, env.fake.url))
        c = keep(Client(w.sock))
        env.fake.clear_requests()
        up = upstream(c)
        t.eq(up.get("state"), "no_credentials",
             "no credential: daemon.status says so")
        t.eq(up.get("dialect"), "capsules",
             "no credential: the dialect is still found")
        t.eq(env.fake.requests(), [],
             "no credential: daemon.status sent nothing")
        c.close()
        clean_exit(w, "no credential")

    with t.case("a control plane down at start, then back, then "
                "replaced"), Opened() as keep:
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        tmp = envs["capsules"].tmp
        w = keep(Wrennd(tmp, url, api_key=KEY))
        t.ok("api-dialect: unknown" in w.stderr(),
             "down at start: the log says the dialect is unknown",
             w.stderr()[-1000:])
        c = keep(Client(w.sock))
        t.eq(upstream(c).get("dialect"), "unknown",
             "down at start: daemon.status dialect unknown")
        r = c.call("sandboxes.list")
        t.eq(code_of(r), "upstream_unreachable",
             "down at start: a call fails with upstream_unreachable")
        t.eq(dig(r, "error", "data", "dialect"), "unknown",
             "down at start: data.dialect unknown")
        t.ok(isinstance(dig(r, "error", "data", "retry_after_ms"), int),
             "down at start: data.retry_after_ms says when to retry", r)
        t.ok("/health" in (dig(r, "error", "message") or ""),
             "down at start: the message names the probe", r)
        cap = keep(FakeCP(tmp, dialect="capsules", extra=[
            "--listen", "127.0.0.1:%d" % port, "--api-key", KEY]))
        # The probe runs again on the first call after its back-off.
        r = wait_for(lambda: (lambda r: r if "result" in r else None)(
            c.call("sandboxes.list")), 30, step=0.25,
            what="a call once the control plane is back")
        t.eq(r.get("result"), [], "back: sandboxes.list works")
        up = upstream(c)
        t.eq(up.get("dialect"), "capsules", "back: daemon.status capsules")
        t.eq(up.get("server_version"), "0.1.5",
             "back: daemon.status server_version")
        cap.stop()
        r = c.call("sandboxes.list")
        t.eq(code_of(r), "upstream_unreachable",
             "gone: a call fails with upstream_unreachable")
        old = keep(FakeCP(tmp, dialect="sandboxes", extra=[
            "--listen", "127.0.0.1:%d" % port, "--api-key", KEY]))
        # It was unreachable, so the next call probes GET /health again.
        r = wait_for(lambda: (lambda r: r if "result" in r else None)(
            c.call("sandboxes.list")), 30, step=0.25,
            what="a call once the control plane is replaced")
        t.eq(r.get("result"), [], "replaced: sandboxes.list works")
        up = upstream(c)
        t.eq(up.get("dialect"), "sandboxes",
             "replaced: daemon.status sandboxes")
        t.eq(up.get("server_version"), None,
             "replaced: no server_version")
        t.eq([q["path"] for q in old.requests()
              if q["path"].startswith("/v1/sandboxes")][-1:],
             ["/v1/sandboxes"], "replaced: the old server's route is used")
        t.ok("api-dialect: sandboxes" in w.stderr(),
             "replaced: the log names the new dialect", w.stderr()[-1000:])
        c.close()
        clean_exit(w, "down and back")

    for forced, real in (("sandboxes", "capsules"), ("capsules",
                                                     "sandboxes")):
        with t.case("api-dialect %s against the %s fake" % (forced, real)), \
                Opened() as keep:
            env = envs[real]
            w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY,
                            args=["--api-dialect", forced]))
            c = keep(Client(w.sock))
            up = upstream(c)
            t.eq(up.get("dialect"), forced,
                 "forced %s: daemon.status dialect" % forced)
            t.eq(up.get("api_dialect"), forced,
                 "forced %s: daemon.status api_dialect" % forced)
            env.fake.clear_requests()
            r = c.call("sandboxes.list")
            e = r.get("error") or {}
            t.eq(dig(e, "data", "code"), "upstream_protocol",
                 "forced %s: sandboxes.list fails with upstream_protocol" %
                 forced)
            t.ok("api-dialect" in (e.get("message") or ""),
                 "forced %s: the message names api-dialect" % forced, e)
            t.eq(dig(e, "data", "api_dialect"), forced,
                 "forced %s: data.api_dialect" % forced)
            t.eq([q["path"] for q in env.fake.requests()],
                 [PREFIX[forced]],
                 "forced %s: the forced route was asked" % forced)
            t.ok(w.proc.poll() is None,
                 "forced %s: wrennd is still running" % forced)
            t.ok("result" in c.call("rpc.describe", {"method": "daemon.status"}),
                 "forced %s: wrennd still answers" % forced)
            c.close()
            clean_exit(w, "forced %s" % forced)

    with t.case("newer-only methods against 172413e"), Opened() as keep:
        env = envs["sandboxes"]
        w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY,
                        token=env.seed["jwt_admin"]))
        c = keep(Client(w.sock))
        listed = dig(c.call("rpc.describe"), "result", "methods") or []
        newer = [m for m in listed if m.get("needs_server")]
        t.ok(len(newer) >= 10, "rpc.describe marks the newer-only methods",
             [m.get("name") for m in newer])
        env.fake.clear_requests()
        for m in newer:
            params = {p["name"]: dummy(p) for p in m.get("params", [])
                      if p.get("required")}
            r = c.call(m["name"], params)
            t.eq(code_of(r), "unsupported_by_server",
                 "%s on 172413e: unsupported_by_server" % m["name"])
            t.eq(dig(r, "error", "data", "needs"), "v0.1.5 (/v1/capsules)",
                 "%s on 172413e: data.needs names the version" % m["name"])
            t.ok("v0.1.5" in (dig(r, "error", "message") or ""),
                 "%s on 172413e: the message names v0.1.5" % m["name"], r)
        t.eq(env.fake.requests(), [],
             "newer-only methods: the request log is empty")
        c.close()
        clean_exit(w, "newer-only")

    with t.case("PROTOCOL.md marks the newer-only methods"), \
            Opened() as keep:
        env = envs["sandboxes"]
        w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY))
        c = keep(Client(w.sock))
        listed = dig(c.call("rpc.describe"), "result", "methods") or []
        with open(os.path.join(os.environ.get("top_srcdir", "."),
                               "protocol", "PROTOCOL.md")) as f:
            rows = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)`"
                                   r"( \([^)]*\))? \|", f.read(), re.M))
        t.ok(len(rows) > 50, "PROTOCOL.md has the method tables", len(rows))
        for m in listed:
            if m["name"] not in rows:
                continue
            t.eq("**v0.1.5 server**" in rows[m["name"]],
                 m.get("needs_server") is not None,
                 "%s: PROTOCOL.md's mark agrees with rpc.describe" %
                 m["name"])
        c.close()
        clean_exit(w, "marks")

    with t.case("no_hosts_available is retryable"), Opened() as keep:
        env = envs["capsules"]
        w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY))
        c = keep(Client(w.sock))
        keep.later(env.fake.clear_faults)
        env.fake.fault(path="^/v1/capsules$", method="POST", status=503,
                       code="no_hosts_available",
                       message="no servers available — try again later",
                       count=1)
        r = c.call("sandboxes.create", {})
        t.eq(code_of(r), "no_hosts_available",
             "no hosts: the server's code")
        t.eq(dig(r, "error", "data", "status"), 503, "no hosts: HTTP 503")
        t.eq(dig(r, "error", "data", "retryable"), True,
             "no hosts: data.retryable is true")
        r = c.call("sandboxes.create", {})
        t.ok("result" in r, "no hosts: the same call again succeeds", r)
        env.fake.fault(path="^/v1/capsules$", method="POST", status=503,
                       code="host_unavailable", count=1)
        r = c.call("sandboxes.create", {})
        t.eq(code_of(r), "host_unavailable",
             "another 503: the server's code")
        t.ok("retryable" not in (dig(r, "error", "data") or {}),
             "another 503: no data.retryable", r)
        rc, out, err = wrennctl(w.sock, "sandbox", "create", "-q")
        t.ok(rc == 0, "wrennctl sandbox create works", (rc, err))
        c.close()
        clean_exit(w, "no hosts")

    for d in DIALECTS:
        with t.case("%s: pause and snapshot outlive request-timeout" % d), \
                Opened() as keep:
            env = envs[d]
            w = keep(Wrennd(env.tmp, env.fake.url, api_key=KEY,
                            args=["--set", "request-timeout=1000"]))
            c = keep(Client(w.sock))
            keep.later(env.fake.clear_faults)
            sid = dig(c.call("sandboxes.create", {}), "result", "id")
            t.ok(sid is not None, "%s: a sandbox" % d)
            # Each answer comes 2.5 s late: past request-timeout (1 s).
            env.fake.fault(path="^%s/%s$" % (PREFIX[d], sid), method="GET",
                           delay_ms=2500, count=1)
            r = c.call("sandboxes.get", {"sandbox_id": sid})
            t.eq(code_of(r), "timeout",
                 "%s: a late sandboxes.get passes request-timeout" % d)
            env.fake.fault(path="^%s/%s/pause$" % (PREFIX[d], sid),
                           method="POST", delay_ms=2500, count=1)
            r = c.call("sandbox.pause", {"sandbox_id": sid})
            t.eq(dig(r, "result", "status"), "paused",
                 "%s: a late sandbox.pause still succeeds" % d)
            env.fake.fault(path="^/v1/snapshots$", method="POST",
                           delay_ms=2500, count=1)
            r = c.call("snapshots.create", {"sandbox_id": sid,
                                            "name": "slow-" + d})
            t.eq(dig(r, "result", "name"), "slow-" + d,
                 "%s: a late snapshots.create still succeeds" % d)
            for m, slow in (("sandbox.pause", True),
                            ("snapshots.create", True),
                            ("admin.snapshot_sandbox", True),
                            ("sandboxes.get", None)):
                t.eq(dig(c.call("rpc.describe", {"method": m}), "result",
                         "slow"), slow,
                     "%s: rpc.describe %s slow" % (d, m))
            c.close()
            clean_exit(w, "%s slow calls" % d)
finally:
    for e in envs.values():
        e.close()
sys.exit(t.done())
