# SPDX-License-Identifier: MIT
"""Sandbox lifecycle and sync exec through wrennd, end to end: every method
of the first slice via `wrennctl call` and the raw protocol, with their
error paths, against the fake control plane; `wrennctl exec` output for
people (base64 decoded, exit status). Independent cases share one fake and
one wrennd; each case creates the sandboxes it changes."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Opened, Tap, Wrennd, ctl_json,  # noqa
                     dig, wrennctl)

t = Tap()
env = Env()
sock = env.sock
MISSING = "cl-" + "0" * 25
_shared = []


def raw_call(method, params=None):
    """One call on a connection of its own (cheaper than wrennctl where
    the client is not what a case tests)."""
    c = Client(sock)
    try:
        return c.call(method, params)
    finally:
        c.close()


def new_sandbox(params=None):
    """A sandbox of the calling case's own (the case fails if none)."""
    r = raw_call("sandboxes.create", params or {})
    if "result" not in r:
        raise RuntimeError("sandboxes.create failed: %r" % (r,))
    return r["result"]["id"]


def shared_sandbox():
    """One running sandbox for the cases that only read or exec in it."""
    if not _shared:
        _shared.append(new_sandbox())
    return _shared[0]


def err_data(out):
    """error.data of a ctl_json answer (None for a result)."""
    return dig(out, "error", "data")


try:
    with t.case("greeting"), Opened() as keep:
        c = keep(env.client())
        t.eq(c.hello.get("method"), "wrennd.hello", "server greets first")
        p = c.hello.get("params", {})
        t.eq(p.get("server"), "wrennd", "hello names the server")
        t.eq(p.get("protocol"), 1, "hello carries protocol 1")
        t.eq(type(p.get("version")), str, "hello carries a version string")
        t.eq(dig(p, "limits", "max_line"), 1048576,
             "hello advertises max_line")
        for m in ("sandboxes.create", "sandboxes.list", "sandboxes.get",
                  "sandboxes.destroy", "sandboxes.get_stats", "sandbox.exec",
                  "sandbox.ping", "sandbox.pause", "sandbox.resume",
                  "sandbox.wait_ready", "sandbox.metrics", "daemon.status"):
            t.has(p.get("methods", []), m, "hello lists " + m)
        t.eq(dig(p, "peer", "uid"), os.getuid(),
             "hello reports the peer uid (SO_PEERCRED)")
        # rpc.hello is optional and negotiates.
        r = c.call("rpc.hello", {"client": "test/1", "protocol": 1})
        t.eq(dig(r, "result", "protocol"), 1, "rpc.hello answers")

    with t.case("sandboxes.create with defaults"):
        rc, sb = ctl_json(sock, "sandboxes.create")
        t.eq(rc, 0, "sandboxes.create {} succeeds")
        t.eq(dig(sb, "status"), "running", "sandboxes.create {} -> running")
        t.ok(str(dig(sb, "id")).startswith("cl-"),
             "sandboxes.create {} -> an id cl-...", sb)
        t.eq(dig(sb, "template"), "minimal",
             "create applies upstream defaults")
        t.eq(dig(sb, "vcpus"), 1, "create applies upstream defaults")
        t.eq(dig(sb, "memory_mb"), 512, "create applies upstream defaults")

    with t.case("sandboxes.create with fields"):
        rc, sb = ctl_json(sock, "sandboxes.create",
                          {"template": "minimal", "vcpus": 2,
                           "memory_mb": 1024, "timeout_sec": 0})
        t.eq(rc, 0, "sandboxes.create with fields succeeds")
        t.eq(dig(sb, "vcpus"), 2, "sandboxes.create with fields: vcpus")
        t.eq(dig(sb, "memory_mb"), 1024,
             "sandboxes.create with fields: memory_mb")

    with t.case("sandboxes.list and sandboxes.get"):
        sid, sid2 = shared_sandbox(), new_sandbox()
        rc, lst = ctl_json(sock, "sandboxes.list")
        t.eq(rc, 0, "sandboxes.list succeeds")
        ids = [s.get("id") for s in lst] if isinstance(lst, list) else lst
        t.has(ids, sid, "sandboxes.list has the first sandbox")
        t.has(ids, sid2, "sandboxes.list has the second sandbox")
        rc, got = ctl_json(sock, "sandboxes.get", {"sandbox_id": sid})
        t.eq(rc, 0, "sandboxes.get succeeds")
        t.eq(dig(got, "id"), sid, "sandboxes.get returns that sandbox")

    with t.case("sandboxes.get_stats"):
        rc, st = ctl_json(sock, "sandboxes.get_stats", {"range": "5m"})
        t.eq(rc, 0, "sandboxes.get_stats succeeds")
        t.eq(dig(st, "range"), "5m", "sandboxes.get_stats echoes the range")
        t.has(st, "current", "sandboxes.get_stats has current")
        rc, err = ctl_json(sock, "sandboxes.get_stats", {"range": "7m"})
        t.eq(err_data(err), {"code": "invalid_request", "status": 400},
             "get_stats bad range -> invalid_request 400")

    # sync exec: real output, exit code, base64 rule
    with t.case("sandbox.exec"):
        sid = shared_sandbox()
        rc, ex = ctl_json(sock, "sandbox.exec",
                          {"sandbox_id": sid, "cmd": "/bin/sh",
                           "args": ["-c", "echo out; echo err >&2; exit 3"]})
        t.eq(rc, 0, "sandbox.exec of a failing command succeeds")
        t.eq(dig(ex, "stdout"), "out\n", "sandbox.exec returns stdout")
        t.eq(dig(ex, "stderr"), "err\n", "sandbox.exec returns stderr")
        t.eq(dig(ex, "exit_code"), 3, "sandbox.exec returns the exit code")
        t.eq(dig(ex, "encoding"), "utf-8", "sandbox.exec says utf-8")
        t.eq(dig(ex, "sandbox_id"), sid, "sandbox.exec names the sandbox")

    with t.case("sandbox.exec binary output"):
        rc, ex = ctl_json(sock, "sandbox.exec",
                          {"sandbox_id": shared_sandbox(), "cmd": "printf",
                           "args": ["\\377\\001"]})
        t.eq(dig(ex, "encoding"), "base64",
             "sandbox.exec binary output arrives base64 as upstream sends it")
        t.eq(base64.b64decode(dig(ex, "stdout") or ""), b"\xff\x01",
             "and decodes to the command's bytes")

    with t.case("sandbox.exec past timeout_sec"):
        rc, ex = ctl_json(sock, "sandbox.exec",
                          {"sandbox_id": shared_sandbox(), "cmd": "sleep",
                           "args": ["5"], "timeout_sec": 1})
        data = err_data(ex) or {}
        t.eq(data.get("code"), "timeout", "exec past timeout_sec -> timeout")
        t.eq(data.get("status"), 502,
             "exec timeout keeps the upstream status")
        t.eq(data.get("timeout_sec"), 1, "exec timeout names timeout_sec")
        t.eq(data.get("upstream_code"), "agent_error",
             "exec timeout keeps the upstream code in data")
        t.has(data.get("upstream_message", ""), "deadline_exceeded",
              "exec timeout keeps the upstream message in data")
        t.has(dig(ex, "error", "message") or "", "within 1 s",
              "exec timeout message says what happened")

    # Any other agent_error stays what the control plane said.
    with t.case("sandbox.exec of a missing binary"):
        rc, ex = ctl_json(sock, "sandbox.exec",
                          {"sandbox_id": shared_sandbox(),
                           "cmd": "/nonexistent-binary"})
        t.ok(dig(ex, "error", "data", "code") != "timeout",
             "a failing exec that did not time out is not called timeout",
             ex)

    # human exec: stdout/stderr raw, exit code propagated
    with t.case("wrennctl exec"):
        rc, out, errt = wrennctl(sock, "exec", shared_sandbox(), "--",
                                 "/bin/sh", "-c",
                                 "printf hi; printf oops >&2; exit 7")
        t.eq(rc, 7, "wrennctl exec exits with the command's code")
        t.eq(out, b"hi", "wrennctl exec prints the command's stdout")
        t.eq(errt, "oops", "wrennctl exec prints the command's stderr")

    # wrennctl exec for people decodes what the control plane sent base64
    # (the control plane sends both stdout and stderr base64 when either
    # is not UTF-8, with "encoding": "base64").
    with t.case("wrennctl exec: binary stdout, UTF-8 stderr"):
        sid = shared_sandbox()
        script = ("printf '\\377\\000A\\001'; "
                  "printf 'gr\\303\\274\\303\\237e \\342\\234\\223' >&2; "
                  "exit 5")
        ex = raw_call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                       "args": ["-c", script]})
        t.eq(dig(ex, "result", "encoding"), "base64",
             "the control plane sends this output base64")
        rc, out, errt = wrennctl(sock, "exec", sid, "--", "/bin/sh", "-c",
                                 script)
        t.eq(rc, 5, "wrennctl exec exits with the command's code")
        t.eq(out, b"\xff\x00A\x01",
             "wrennctl exec writes the decoded binary stdout byte for byte")
        t.eq(errt, "gr\u00fc\u00dfe \u2713",
             "wrennctl exec writes the decoded UTF-8 stderr")

    with t.case("wrennctl exec: UTF-8 stdout, binary stderr"):
        sid = shared_sandbox()
        script = ("printf 'h\\303\\251llo\\n'; printf '\\376\\377' >&2")
        ex = raw_call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                       "args": ["-c", script]})
        t.eq(dig(ex, "result", "encoding"), "base64",
             "binary stderr makes the control plane send both base64")
        rc, out, errb = wrennctl(sock, "exec", sid, "--", "/bin/sh", "-c",
                                 script, text=False)
        t.eq(rc, 0, "wrennctl exec exits 0")
        t.eq(out, "h\u00e9llo\n".encode(),
             "wrennctl exec decodes stdout too when stderr made it base64")
        t.eq(errb, b"\xfe\xff",
             "wrennctl exec writes the binary stderr byte for byte")

    with t.case("wrennctl exec: every byte value"):
        want = bytes(range(256))
        fmt = "".join("\\%03o" % b for b in want)
        # 256 bytes on stdout and 2 on stderr: both padding lengths
        script = "printf '%s'; printf '\\200\\201' >&2; exit 200" % fmt
        rc, out, errb = wrennctl(sock, "exec", shared_sandbox(), "--",
                                 "/bin/sh", "-c", script, text=False)
        t.eq(rc, 200, "wrennctl exec exits with status 200")
        t.eq(out, want, "wrennctl exec writes all 256 byte values in order")
        t.eq(errb, b"\x80\x81", "and the 2 stderr bytes")

    with t.case("wrennctl exec: UTF-8 output stays as sent"):
        text = "gr\u00fc\u00dfe \u2713 \U0001f600\n"
        rc, out, errt = wrennctl(sock, "exec", shared_sandbox(), "--",
                                 "printf", "%s", text)
        ex = raw_call("sandbox.exec", {"sandbox_id": shared_sandbox(),
                                       "cmd": "printf", "args": ["%s", text]})
        t.eq(dig(ex, "result", "encoding"), "utf-8",
             "the control plane sends UTF-8 output as text")
        t.eq(rc, 0, "wrennctl exec exits 0")
        t.eq(out, text.encode(), "wrennctl exec writes the UTF-8 bytes")
        t.eq(errt, "", "and nothing on stderr")

    with t.case("wrennctl exec: a command killed by a signal"):
        rc, out, errt = wrennctl(sock, "exec", shared_sandbox(), "--",
                                 "/bin/sh", "-c", "printf x; kill -9 $$")
        t.eq(rc, 255, "exit_code -1 (a signal) makes wrennctl exit 255")
        t.eq(out, b"x", "after writing the output")

    with t.case("sandbox.ping and sandbox.metrics"):
        sid = shared_sandbox()
        rc, r = ctl_json(sock, "sandbox.ping", {"sandbox_id": sid})
        t.eq(rc, 0, "sandbox.ping 204 -> {} (exit status)")
        t.eq(r, {}, "sandbox.ping 204 -> {}")
        rc, m = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid})
        t.eq(dig(m, "sandbox_id"), sid, "sandbox.metrics names the sandbox")
        t.eq(type(dig(m, "points")), list, "sandbox.metrics has points")
        rc, m = ctl_json(sock, "sandbox.metrics",
                         {"sandbox_id": sid, "range": "1h"})
        t.eq(dig(m, "range"), "1h", "sandbox.metrics range")
        rc, err = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid,
                                                     "range": "3m"})
        t.eq(dig(err_data(err), "code"), "invalid_request",
             "metrics with a bad range -> invalid_request")

    with t.case("pause and resume"):
        sid = new_sandbox()
        rc, pz = ctl_json(sock, "sandbox.pause", {"sandbox_id": sid})
        t.eq(dig(pz, "status"), "paused", "sandbox.pause")
        rc, err = ctl_json(sock, "sandbox.pause", {"sandbox_id": sid})
        t.eq(err_data(err), {"code": "invalid_state", "status": 409},
             "pause of a paused sandbox -> invalid_state 409")
        t.eq(dig(err, "error", "code"), -32000,
             "pause of a paused sandbox -> -32000")
        t.has(dig(err, "error", "message") or "", "not running",
              "pause of a paused sandbox says it is not running")
        rc, err = ctl_json(sock, "sandbox.exec", {"sandbox_id": sid,
                                                  "cmd": "true"})
        t.eq(dig(err_data(err), "code"), "invalid_state",
             "exec on a paused sandbox -> invalid_state")
        rc, err = ctl_json(sock, "sandbox.ping", {"sandbox_id": sid})
        t.eq(err_data(err), {"code": "invalid_state", "status": 409},
             "ping on a paused sandbox -> invalid_state 409")
        rc, err = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid,
                                                        "timeout_sec": 5})
        t.eq(dig(err_data(err), "code"), "invalid_state",
             "wait_ready on a paused sandbox fails fast")
        rc, rs = ctl_json(sock, "sandbox.resume", {"sandbox_id": sid})
        t.eq(dig(rs, "status"), "running", "sandbox.resume")
        rc, err = ctl_json(sock, "sandbox.resume", {"sandbox_id": sid})
        t.eq(dig(err_data(err), "code"), "invalid_state",
             "resume of a running sandbox -> invalid_state")

    with t.case("wait_ready on a running sandbox"):
        sid = shared_sandbox()
        rc, w = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid})
        t.eq(dig(w, "status"), "running",
             "wait_ready on a running sandbox returns it running")
        t.eq(dig(w, "id"), sid, "wait_ready returns that sandbox")

    # wait_ready: several clients share one poll loop
    with t.case("wait_ready shares one poll loop"), Opened() as keep:
        sid = new_sandbox()
        env.fake.force_status(sid, "pending")
        env.fake.force_status(sid, "running", after_ms=1500)
        env.fake.clear_requests()
        waiters = [keep(env.client()) for _ in range(5)]
        ids = [cl.call_async("sandbox.wait_ready",
                             {"sandbox_id": sid, "timeout_sec": 20})
               for cl in waiters]
        replies = [cl.wait_reply(i) for cl, i in zip(waiters, ids)]
        t.eq([dig(r, "result", "status") for r in replies], ["running"] * 5,
             "5 waiters all see running")
        polls = [q for q in env.fake.requests()
                 if q["method"] == "GET" and
                 q["path"] == env.fake.sandboxes_path + "/" + sid]
        t.ok(1 <= len(polls) <= 8,
             "waiters share one poll loop (%d polls for 5 waiters over "
             "1.5 s)" % len(polls), polls)

    with t.case("wait_ready timeout"), Opened() as keep:
        sid = new_sandbox()
        env.fake.force_status(sid, "pending")
        # Client's own timeout bounds the wait: a daemon that ignored
        # timeout_sec fails the case with a socket timeout.
        c = keep(Client(sock, timeout=30))
        t0 = time.monotonic()
        r = c.call("sandbox.wait_ready", {"sandbox_id": sid,
                                          "timeout_sec": 1})
        t.diag("wait_ready with timeout_sec 1 answered after %.1f s"
               % (time.monotonic() - t0))
        t.eq(dig(r, "error", "data", "code"), "timeout",
             "wait_ready timeout -> data.code timeout")
        t.eq(dig(r, "error", "data", "last_status"), "pending",
             "wait_ready timeout names the last status seen")
        t.has(dig(r, "error", "message") or "", "after 1 s",
              "wait_ready timeout says how long it waited")

    with t.case("issue 10: a sandbox left in error (a failed pause)"), \
            Opened() as keep:
        sid = new_sandbox()
        env.fake.force_status(sid, "error")
        # timeout_sec far past the client's own: only failing fast answers
        c = keep(Client(sock, timeout=30))
        r = c.call("sandbox.wait_ready", {"sandbox_id": sid,
                                          "timeout_sec": 3600})
        t.eq(dig(r, "error", "data", "code"), "invalid_state",
             "wait_ready on a sandbox in error fails fast: invalid_state")
        t.eq(dig(r, "error", "data", "sandbox_status"), "error",
             "wait_ready on a sandbox in error: data.sandbox_status")
        r = c.call("sandbox.pause", {"sandbox_id": sid})
        t.eq(dig(r, "error", "data", "code"), "invalid_state",
             "pause of a sandbox in error: the server's invalid_state")
        r = c.call("sandbox.exec", {"sandbox_id": sid, "cmd": "true"})
        t.eq(dig(r, "error", "data", "code"), "invalid_state",
             "exec on a sandbox in error: invalid_state")
        ids = [s.get("id") for s in dig(c.call("sandboxes.list"),
                                        "result") or []]
        t.ok(sid not in ids, "sandboxes.list leaves a sandbox in error out",
             ids)
        r = c.call("sandboxes.destroy", {"sandbox_id": sid})
        t.eq(r.get("result"), {}, "a sandbox in error can be destroyed")

    # destroy is idempotent upstream; list hides stopped
    with t.case("sandboxes.destroy"):
        sid = new_sandbox()
        rc, r = ctl_json(sock, "sandboxes.destroy", {"sandbox_id": sid})
        t.eq(rc, 0, "sandboxes.destroy 204 -> {} (exit status)")
        t.eq(r, {}, "sandboxes.destroy 204 -> {}")
        rc, r = ctl_json(sock, "sandboxes.destroy", {"sandbox_id": sid})
        t.eq(rc, 0, "destroy again is still {} (exit status)")
        t.eq(r, {}, "destroy again is still {}")
        rc, lst = ctl_json(sock, "sandboxes.list")
        t.eq(rc, 0, "sandboxes.list after destroy succeeds")
        ids = [s.get("id") for s in lst] if isinstance(lst, list) else []
        t.ok(sid not in ids, "destroyed sandbox is not listed", lst)
        rc, err = ctl_json(sock, "sandbox.wait_ready", {"sandbox_id": sid})
        t.eq(dig(err_data(err), "code"), "invalid_state",
             "wait_ready on a stopped sandbox fails")
        rc, err = ctl_json(sock, "sandbox.metrics", {"sandbox_id": sid})
        t.eq(err_data(err), {"code": "not_found", "status": 404},
             "metrics of a stopped sandbox -> not_found")
        rc, err = ctl_json(sock, "sandboxes.destroy",
                           {"sandbox_id": MISSING})
        t.eq(dig(err_data(err), "code"), "not_found",
             "destroying an unknown sandbox -> not_found")

    # upstream errors keep code and status
    with t.case("upstream errors keep code and status"):
        rc, err = ctl_json(sock, "sandboxes.get", {"sandbox_id": MISSING})
        t.eq(dig(err, "error", "code"), -32000, "unknown sandbox -> -32000")
        t.eq(err_data(err), {"code": "not_found", "status": 404},
             "unknown sandbox -> not_found 404")
        rc, err = ctl_json(sock, "sandboxes.get", {"sandbox_id": "cl-bad"})
        t.eq(dig(err_data(err), "code"), "invalid_request",
             "malformed sandbox id -> upstream invalid_request")
        rc, err = ctl_json(sock, "sandboxes.create", {"template": "nope"})
        t.eq(err_data(err), {"code": "not_found", "status": 404},
             "unknown template -> not_found")

    # daemon-side validation: nothing is sent upstream
    with t.case("invalid params"), Opened() as keep:
        c = keep(env.client())
        sid = shared_sandbox()
        env.fake.clear_requests()
        bad = [("sandbox.exec", {"sandbox_id": sid}, "missing cmd"),
               ("sandbox.exec", {"sandbox_id": sid, "cmd": 5},
                "cmd not string"),
               ("sandbox.exec", {"sandbox_id": sid, "cmd": "x",
                                 "args": [1]}, "args not strings"),
               ("sandbox.exec", {"sandbox_id": sid, "cmd": "x",
                                 "timeout_sec": "9"}, "timeout_sec string"),
               ("sandboxes.create", {"vcpus": 1.5}, "vcpus float"),
               ("sandboxes.create", {"vcpus": 2 ** 40}, "vcpus over int32"),
               ("sandboxes.get", {}, "missing sandbox_id"),
               ("sandboxes.get", {"sandbox_id": ".."}, "dot-dot id"),
               ("sandboxes.get", {"sandbox_id": sid, "bogus": 1},
                "unknown"),
               ("sandbox.wait_ready", {"sandbox_id": sid, "timeout_sec": 0},
                "timeout 0")]
        for method, params, what in bad:
            r = c.call(method, params)
            t.eq(dig(r, "error", "code"), -32602,
                 "invalid params (%s) -> -32602" % what)
            t.eq(dig(r, "error", "data", "code"), "invalid_params",
                 "invalid params (%s) -> data.code invalid_params" % what)
        t.eq([q["path"] for q in env.fake.requests()], [],
             "invalid params never reach the control plane")

    # audit finding 14: "." and ".." are refused as sandbox ids on the
    # file and stream routes too (a normalising proxy would route
    # /v1/sandboxes/../files/read elsewhere), before anything is sent.
    with t.case("dot segments on handler routes"), Opened() as keep:
        c = keep(env.client())
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

    with t.case("unknown method"), Opened() as keep:
        r = keep(env.client()).call("sandbox.frobnicate", {})
        t.eq(dig(r, "error", "code"), -32601, "unknown method -> -32601")
        t.eq(dig(r, "error", "data", "code"), "method_not_found",
             "unknown method -> data.code method_not_found")

    # daemon.status: no secret anywhere
    with t.case("daemon.status"):
        rc, st = ctl_json(sock, "daemon.status")
        t.eq(dig(st, "upstream", "reachable"), True,
             "daemon.status reports a reachable upstream")
        t.eq(dig(st, "upstream", "base_url"), env.fake.url,
             "daemon.status reports the base URL")
        t.eq(dig(st, "auth", "api_key", "configured"), True,
             "daemon.status reports the API key configured")
        t.eq(dig(st, "auth", "jwt", "configured"), False,
             "daemon.status reports no JWT configured")
        t.ok(env.seed["api_key"] not in json.dumps(st),
             "daemon.status has no secret")
        before = dig(st, "counts", "calls_total") or 0
        for _ in range(3):
            raw_call("rpc.describe", {"method": "daemon.status"})
        rc, st = ctl_json(sock, "daemon.status")
        t.ok((dig(st, "counts", "calls_total") or 0) >= before + 4,
             "daemon.status counts calls (3 calls and itself after %d)"
             % before, dig(st, "counts"))

    # the credential used upstream was the API key, in a header
    with t.case("sandbox routes carry X-API-Key"):
        sid = shared_sandbox()
        env.fake.clear_requests()
        raw_call("sandboxes.get", {"sandbox_id": sid})
        raw_call("sandbox.ping", {"sandbox_id": sid})
        raw_call("sandbox.exec", {"sandbox_id": sid, "cmd": "true"})
        reqs = [q for q in env.fake.requests()
                if q["path"].startswith(env.fake.sandboxes_path + "/cl")]
        t.eq(len(reqs), 3, "three sandbox requests reached the fake")
        for q in reqs:
            t.eq(q.get("api_key"), env.seed["api_key"],
                 "%s %s carries X-API-Key" % (q["method"], q["path"]))
            t.eq(q.get("has_authorization"), False,
                 "%s %s carries no Authorization" % (q["method"],
                                                     q["path"]))

    # human sandbox subcommands
    with t.case("wrennctl sandbox subcommands"):
        sid = new_sandbox()
        rc, out, errt = wrennctl(sock, "sandbox", "list")
        t.eq(rc, 0, "wrennctl sandbox list exits 0")
        t.has(out, sid.encode(), "wrennctl sandbox list (table) shows it")
        rc, out, errt = wrennctl(sock, "sandbox", "get", "--json", sid)
        t.eq(rc, 0, "wrennctl sandbox get --json exits 0")
        t.eq(json.loads(out or b"{}").get("id"), sid,
             "wrennctl sandbox get --json")
        rc, out, errt = wrennctl(sock, "sandbox", "get", MISSING)
        t.eq(rc, 1, "wrennctl sandbox get of an unknown sandbox exits 1")
        t.has(errt, "not found", "wrennctl says the sandbox was not found")
        rc, out, errt = wrennctl(sock, "sandbox", "rm", sid)
        t.eq(rc, 0, "wrennctl sandbox rm")
        rc, out, errt = wrennctl(sock, "call", "sandboxes.get", "{not json")
        t.eq(rc, 2, "wrennctl call with bad JSON params is a usage error")

    # upstream faults: 5xx, slow answers past the deadline, nothing there
    with t.case("an upstream 500"), Opened() as keep:
        keep.later(env.fake.clear_faults)
        c = keep(env.client())
        env.fake.fault(path="^%s$" % env.fake.sandboxes_path, method="GET",
                       status=500,
                       count=1)
        r = c.call("sandboxes.list")
        t.eq(dig(r, "error", "data"), {"code": "internal_error",
                                       "status": 500},
             "an upstream 500 keeps its code and status")

    with t.case("an upstream slower than request-timeout"), \
            Opened() as keep:
        keep.later(env.fake.clear_faults)
        w2 = keep(Wrennd(env.tmp, env.fake.url, api_key=env.seed["api_key"],
                         args=["--set", "request-timeout=500"]))
        env.fake.clear_requests()
        f = env.fake.ctl("POST", "faults", {
            "path": "^%s$" % env.fake.sandboxes_path, "method": "GET",
            "delay_ms": 3000,
            "count": 1})
        c2 = keep(Client(w2.sock))
        t0 = time.monotonic()
        r = c2.call("sandboxes.list")
        t.diag("request-timeout 500 ms answered after %.1f s"
               % (time.monotonic() - t0))
        t.eq(dig(r, "error", "data", "code"), "timeout",
             "an upstream slower than request-timeout -> timeout")
        t.eq([q["fault"] for q in env.fake.requests()], [f["id"]],
             "the request did reach the slow control plane")

    with t.case("nothing listening upstream"), Opened() as keep:
        w3 = keep(Wrennd(env.tmp, "http://127.0.0.1:1",
                         api_key=env.seed["api_key"]))
        c3 = keep(Client(w3.sock))
        r = c3.call("sandboxes.list")
        t.eq(dig(r, "error", "data", "code"), "upstream_unreachable",
             "nothing listening upstream -> upstream_unreachable")
        t.has(dig(r, "error", "message") or "", "127.0.0.1",
              "the message names the address")
        st = dig(c3.call("daemon.status"), "result", "upstream") or {}
        t.eq(st.get("reachable"), False,
             "daemon.status reports the upstream unreachable")
        t.ok(st.get("error"), "daemon.status says why", st)
finally:
    rc, text = env.close(t)
    t.ok(env.seed["api_key"] not in text, "the API key never appears in "
         "wrennd's log")
sys.exit(t.done())
