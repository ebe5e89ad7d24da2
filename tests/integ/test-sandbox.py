# SPDX-License-Identifier: MIT
"""Sandbox lifecycle and sync exec through wrennd, end to end: every method
of the first slice via `wrennctl call` and the raw protocol, with their
error paths, against the fake control plane."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Tap, Wrennd, ctl_json,  # noqa: E402
                     wrennctl)

t = Tap()
env = Env()
try:
    sock = env.sock
    c = env.client()
    hello = c.hello
    t.eq(hello.get("method"), "wrennd.hello", "server greets first")
    p = hello.get("params", {})
    t.ok(p.get("server") == "wrennd" and p.get("protocol") == 1 and
         isinstance(p.get("version"), str), "hello carries server/protocol/"
         "version", p)
    t.ok(p.get("limits", {}).get("max_line") == 1048576,
         "hello advertises max_line", p.get("limits"))
    for m in ("sandboxes.create", "sandboxes.list", "sandboxes.get",
              "sandboxes.destroy", "sandboxes.get_stats", "sandbox.exec",
              "sandbox.ping", "sandbox.pause", "sandbox.resume",
              "sandbox.wait_ready", "sandbox.metrics", "daemon.status"):
        t.ok(m in p.get("methods", []), "hello lists " + m)
    t.ok(isinstance(p.get("peer", {}).get("uid"), int),
         "hello reports the peer uid (SO_PEERCRED)")

    # rpc.hello is optional and negotiates.
    r = c.call("rpc.hello", {"client": "test/1", "protocol": 1})
    t.eq(r.get("result", {}).get("protocol"), 1, "rpc.hello answers")

    # create with defaults and with explicit fields
    rc, sb = ctl_json(sock, "sandboxes.create")
    t.ok(rc == 0 and sb.get("status") == "running" and
         sb.get("id", "").startswith("cl-"), "sandboxes.create {}", sb)
    sid = sb["id"]
    t.eq((sb.get("template"), sb.get("vcpus"), sb.get("memory_mb")),
         ("minimal", 1, 512), "create applies upstream defaults")
    rc, sb2 = ctl_json(sock, "sandboxes.create",
                       {"template": "minimal", "vcpus": 2, "memory_mb": 1024,
                        "timeout_sec": 0})
    t.ok(rc == 0 and sb2.get("vcpus") == 2 and sb2.get("memory_mb") == 1024,
         "sandboxes.create with fields", sb2)
    sid2 = sb2["id"]

    rc, lst = ctl_json(sock, "sandboxes.list")
    ids = [s["id"] for s in lst] if rc == 0 else []
    t.ok(rc == 0 and sid in ids and sid2 in ids, "sandboxes.list", lst)

    rc, got = ctl_json(sock, "sandboxes.get", {"sandbox_id": sid})
    t.ok(rc == 0 and got.get("id") == sid, "sandboxes.get", got)

    rc, st = ctl_json(sock, "sandboxes.get_stats", {"range": "5m"})
    t.ok(rc == 0 and st.get("range") == "5m" and "current" in st,
         "sandboxes.get_stats", st)
    rc, err = ctl_json(sock, "sandboxes.get_stats", {"range": "7m"})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_request" and
         err["error"]["data"]["status"] == 400,
         "get_stats bad range -> invalid_request 400", err)

    # sync exec: real output, exit code, base64 rule
    rc, ex = ctl_json(sock, "sandbox.exec",
                      {"sandbox_id": sid, "cmd": "/bin/sh",
                       "args": ["-c", "echo out; echo err >&2; exit 3"]})
    t.ok(rc == 0 and ex.get("stdout") == "out\n" and
         ex.get("stderr") == "err\n" and ex.get("exit_code") == 3 and
         ex.get("encoding") == "utf-8" and ex.get("sandbox_id") == sid,
         "sandbox.exec returns the upstream ExecResponse", ex)
    rc, ex = ctl_json(sock, "sandbox.exec",
                      {"sandbox_id": sid, "cmd": "printf",
                       "args": ["\\377\\001"]})
    t.ok(rc == 0 and ex.get("encoding") == "base64" and
         base64.b64decode(ex["stdout"]) == b"\xff\x01",
         "sandbox.exec binary output arrives base64 as upstream sends it",
         ex)
    rc, ex = ctl_json(sock, "sandbox.exec",
                      {"sandbox_id": sid, "cmd": "sleep", "args": ["5"],
                       "timeout_sec": 1})
    data = ex.get("error", {}).get("data", {}) if rc != 0 else {}
    t.eq(data.get("code"), "timeout", "exec past timeout_sec -> timeout")
    t.eq(data.get("status"), 502, "exec timeout keeps the upstream status")
    t.eq(data.get("timeout_sec"), 1, "exec timeout names timeout_sec")
    t.eq(data.get("upstream_code"), "agent_error",
         "exec timeout keeps the upstream code in data")
    t.ok("deadline_exceeded" in data.get("upstream_message", ""),
         "exec timeout keeps the upstream message in data", data)
    t.ok("within 1 s" in ex.get("error", {}).get("message", ""),
         "exec timeout message says what happened", ex)
    # Any other agent_error stays what the control plane said.
    rc, ex = ctl_json(sock, "sandbox.exec",
                      {"sandbox_id": sid, "cmd": "/nonexistent-binary"})
    t.ok(rc == 0 or ex["error"]["data"]["code"] != "timeout",
         "a failing exec that did not time out is not called timeout", ex)

    # human exec: stdout/stderr raw, exit code propagated
    rc, out, errt = wrennctl(sock, "exec", sid, "--", "/bin/sh", "-c",
                             "printf hi; printf oops >&2; exit 7")
    t.ok(rc == 7 and out == b"hi" and "oops" in errt,
         "wrennctl exec prints output and exits with the command's code",
         (rc, out, errt))

    rc, r = ctl_json(sock, "sandbox.ping", {"sandbox_id": sid})
    t.ok(rc == 0 and r == {}, "sandbox.ping 204 -> {}", r)

    rc, m = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid})
    t.ok(rc == 0 and m.get("sandbox_id") == sid and
         isinstance(m.get("points"), list), "sandbox.metrics", m)
    rc, m = ctl_json(sock, "sandbox.metrics",
                     {"sandbox_id": sid, "range": "1h"})
    t.ok(rc == 0 and m.get("range") == "1h", "sandbox.metrics range", m)

    rc, pz = ctl_json(sock, "sandbox.pause", {"sandbox_id": sid})
    t.ok(rc == 0 and pz.get("status") == "paused", "sandbox.pause", pz)
    rc, err = ctl_json(sock, "sandbox.pause", {"sandbox_id": sid})
    t.ok(rc != 0 and err["error"]["data"] == {"code": "invalid_state",
                                              "status": 409} and
         err["error"]["code"] == -32000 and
         "not running" in err["error"]["message"],
         "pause of a paused sandbox -> invalid_state 409", err)
    rc, err = ctl_json(sock, "sandbox.exec", {"sandbox_id": sid,
                                              "cmd": "true"})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_state",
         "exec on a paused sandbox -> invalid_state", err)
    rc, err = ctl_json(sock, "sandbox.ping", {"sandbox_id": sid})
    t.ok(rc != 0 and err["error"]["data"] == {"code": "invalid_state",
                                              "status": 409},
         "ping on a paused sandbox -> invalid_state 409", err)
    rc, err = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid,
                                                 "range": "3m"})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_request",
         "metrics with a bad range -> invalid_request", err)
    rc, err = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid,
                                                    "timeout_sec": 5})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_state",
         "wait_ready on a paused sandbox fails fast", err)
    rc, rs = ctl_json(sock, "sandbox.resume", {"sandbox_id": sid})
    t.ok(rc == 0 and rs.get("status") == "running", "sandbox.resume", rs)
    rc, err = ctl_json(sock, "sandbox.resume", {"sandbox_id": sid})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_state",
         "resume of a running sandbox -> invalid_state", err)

    rc, w = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid})
    t.ok(rc == 0 and w.get("status") == "running" and w.get("id") == sid,
         "wait_ready on a running sandbox returns it", w)

    # wait_ready: several clients share one poll loop
    env.fake.force_status(sid2, "pending")
    env.fake.force_status(sid2, "running", after_ms=1500)
    env.fake.clear_requests()
    waiters = [env.client() for _ in range(5)]
    ids = [cl.call_async("sandbox.wait_ready",
                         {"sandbox_id": sid2, "timeout_sec": 20})
           for cl in waiters]
    replies = [cl.wait_reply(i) for cl, i in zip(waiters, ids)]
    t.ok(all(r.get("result", {}).get("status") == "running"
             for r in replies), "5 waiters all see running", replies)
    polls = [q for q in env.fake.requests()
             if q["method"] == "GET" and q["path"] == "/v1/sandboxes/" + sid2]
    t.ok(1 <= len(polls) <= 8,
         "waiters share one poll loop (%d polls for 5 waiters over 1.5 s)"
         % len(polls), polls)
    for cl in waiters:
        cl.close()

    # wait_ready timeout
    env.fake.force_status(sid2, "pending")
    t0 = time.monotonic()
    rc, err = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid2,
                                                    "timeout_sec": 1})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "timeout" and
         time.monotonic() - t0 < 10,
         "wait_ready timeout -> data.code timeout", err)
    env.fake.force_status(sid2, "running")

    # destroy is idempotent upstream; list hides stopped
    rc, r = ctl_json(sock, "sandboxes.destroy", {"sandbox_id": sid2})
    t.ok(rc == 0 and r == {}, "sandboxes.destroy 204 -> {}", r)
    rc, r = ctl_json(sock, "sandboxes.destroy", {"sandbox_id": sid2})
    t.ok(rc == 0 and r == {}, "destroy again is still {}", r)
    rc, lst = ctl_json(sock, "sandboxes.list")
    t.ok(rc == 0 and sid2 not in [s["id"] for s in lst],
         "destroyed sandbox is not listed", lst)
    rc, err = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid2})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_state",
         "wait_ready on a stopped sandbox fails", err)
    rc, err = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid2})
    t.ok(rc != 0 and err["error"]["data"] == {"code": "not_found",
                                              "status": 404},
         "metrics of a stopped sandbox -> not_found", err)
    rc, err = ctl_json(sock, "sandboxes.destroy",
                       {"sandbox_id": "cl-" + "0" * 25})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "not_found",
         "destroying an unknown sandbox -> not_found", err)

    # upstream errors keep code and status
    missing = "cl-" + "0" * 25
    rc, err = ctl_json(sock, "sandboxes.get", {"sandbox_id": missing})
    t.ok(rc != 0 and err["error"]["code"] == -32000 and
         err["error"]["data"] == {"code": "not_found", "status": 404},
         "unknown sandbox -> not_found 404", err)
    rc, err = ctl_json(sock, "sandboxes.get", {"sandbox_id": "cl-bad"})
    t.ok(rc != 0 and err["error"]["data"]["code"] == "invalid_request",
         "malformed sandbox id -> upstream invalid_request", err)
    rc, err = ctl_json(sock, "sandboxes.create", {"template": "nope"})
    t.ok(rc != 0 and err["error"]["data"] == {"code": "not_found",
                                              "status": 404},
         "unknown template -> not_found", err)

    # daemon-side validation: nothing is sent upstream
    env.fake.clear_requests()
    bad = [("sandbox.exec", {"sandbox_id": sid}, "missing cmd"),
           ("sandbox.exec", {"sandbox_id": sid, "cmd": 5}, "cmd not string"),
           ("sandbox.exec", {"sandbox_id": sid, "cmd": "x",
                             "args": [1]}, "args not strings"),
           ("sandbox.exec", {"sandbox_id": sid, "cmd": "x",
                             "timeout_sec": "9"}, "timeout_sec string"),
           ("sandboxes.create", {"vcpus": 1.5}, "vcpus float"),
           ("sandboxes.create", {"vcpus": 2 ** 40}, "vcpus over int32"),
           ("sandboxes.get", {}, "missing sandbox_id"),
           ("sandboxes.get", {"sandbox_id": ".."}, "dot-dot id"),
           ("sandboxes.get", {"sandbox_id": sid, "bogus": 1}, "unknown"),
           ("sandbox.wait_ready", {"sandbox_id": sid, "timeout_sec": 0},
            "timeout 0")]
    for method, params, what in bad:
        r = c.call(method, params)
        e = r.get("error", {})
        t.ok(e.get("code") == -32602 and
             e.get("data", {}).get("code") == "invalid_params",
             "invalid params (%s) -> -32602" % what, r)
    t.eq([q["path"] for q in env.fake.requests()], [],
         "invalid params never reach the control plane")

    # audit finding 14: "." and ".." are refused as sandbox ids on the
    # file and stream routes too (a normalising proxy would route
    # /v1/sandboxes/../files/read elsewhere), before anything is sent.
    with t.case("dot segments on handler routes"):
        env.fake.clear_requests()
        dots = []
        for dot in (".", ".."):
            dots += [("sandbox.download", {"sandbox_id": dot, "path": "f"}),
                     ("sandbox.upload", {"sandbox_id": dot, "path": "f",
                                         "data": "eA=="}),
                     ("sandbox.exec_stream", {"sandbox_id": dot,
                                              "cmd": "ls"}),
                     ("sandbox.wait_ready", {"sandbox_id": dot})]
        for method, params in dots:
            e = c.call(method, params).get("error", {})
            t.eq(e.get("code"), -32602, "%s with sandbox_id %r -> -32602" %
                 (method, params["sandbox_id"]))
            t.eq(e.get("message"),
                 "parameter 'sandbox_id' is not a valid identifier",
                 "%s with sandbox_id %r names the parameter" %
                 (method, params["sandbox_id"]))
        t.eq([q["path"] for q in env.fake.requests()], [],
             "no dot-segment request reached the control plane")
    r = c.call("sandbox.frobnicate", {})
    t.ok(r.get("error", {}).get("code") == -32601 and
         r["error"]["data"]["code"] == "method_not_found",
         "unknown method -> -32601", r)

    # daemon.status: no secret anywhere
    rc, st = ctl_json(sock, "daemon.status")
    text = json.dumps(st)
    t.ok(rc == 0 and st.get("upstream", {}).get("reachable") is True and
         st["upstream"]["base_url"] == env.fake.url,
         "daemon.status reports a reachable upstream", st)
    t.ok(st.get("auth", {}).get("api_key", {}).get("configured") is True
         and st["auth"]["jwt"]["configured"] is False,
         "daemon.status reports which credentials are configured", st)
    t.ok(env.seed["api_key"] not in text, "daemon.status has no secret")
    t.ok(st.get("counts", {}).get("calls_total", 0) > 10,
         "daemon.status counts calls", st.get("counts"))

    # the credential used upstream was the API key, in a header
    reqs = env.fake.requests()
    t.ok(reqs and all(q.get("api_key") for q in reqs
                      if q["path"].startswith("/v1/sandboxes/cl")),
         "sandbox routes carry X-API-Key", reqs[:3])

    # human sandbox subcommands
    rc, out, errt = wrennctl(sock, "sandbox", "list")
    t.ok(rc == 0 and sid.encode() in out, "wrennctl sandbox list (table)",
         (rc, out, errt))
    rc, out, errt = wrennctl(sock, "sandbox", "get", "--json", sid)
    t.ok(rc == 0 and json.loads(out).get("id") == sid,
         "wrennctl sandbox get --json", (rc, out, errt))
    rc, out, errt = wrennctl(sock, "sandbox", "get", missing)
    t.eq(rc, 1, "wrennctl sandbox get of an unknown sandbox exits 1")
    t.ok("not found" in errt, "wrennctl says the sandbox was not found",
         errt)
    rc, out, errt = wrennctl(sock, "sandbox", "rm", sid)
    t.ok(rc == 0, "wrennctl sandbox rm", (rc, out, errt))
    rc, out, errt = wrennctl(sock, "call", "sandboxes.get", "{not json")
    t.ok(rc == 2, "wrennctl call with bad JSON params is a usage error",
         (rc, errt))

    # upstream faults: 5xx, slow answers past the deadline, nothing there
    env.fake.fault(path="^/v1/sandboxes$", method="GET", status=500,
                   count=1)
    r = c.call("sandboxes.list")
    t.ok(r.get("error", {}).get("data") == {"code": "internal_error",
                                            "status": 500},
         "an upstream 500 keeps its code and status", r)
    c.close()
    w2 = Wrennd(env.tmp, env.fake.url, api_key=env.seed["api_key"],
                args=["--set", "request-timeout=500"])
    env.fake.fault(path="^/v1/sandboxes$", method="GET", delay_ms=3000,
                   count=1)
    c2 = Client(w2.sock)
    t0 = time.monotonic()
    r = c2.call("sandboxes.list")
    t.ok(r.get("error", {}).get("data", {}).get("code") == "timeout" and
         time.monotonic() - t0 < 2.5,
         "an upstream slower than request-timeout -> timeout", r)
    c2.close()
    w2.stop()
    w3 = Wrennd(env.tmp, "http://127.0.0.1:1", api_key=env.seed["api_key"])
    c3 = Client(w3.sock)
    r = c3.call("sandboxes.list")
    t.ok(r.get("error", {}).get("data", {}).get("code") ==
         "upstream_unreachable" and "127.0.0.1" in r["error"]["message"],
         "nothing listening upstream -> upstream_unreachable", r)
    st = c3.call("daemon.status")["result"]["upstream"]
    t.ok(st["reachable"] is False and st.get("error"),
         "daemon.status reports the upstream unreachable", st)
    c3.close()
    w3.stop()
finally:
    rc, text = env.close(t)
    t.ok(env.seed["api_key"] not in text, "the API key never appears in "
         "wrennd's log")
sys.exit(t.done())
