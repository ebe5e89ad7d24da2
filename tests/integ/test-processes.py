# SPDX-License-Identifier: MIT
"""Background processes through wrennd on a v0.1.5 control plane (the
capsules fake): sandbox.exec with background (tag, envs, cwd),
sandbox.processes, sandbox.kill with SIGTERM and SIGKILL,
sandbox.attach_process from two clients and detached with replay, and
wrennctl exec --background / ps / kill / attach; against the 172413e fake
every one of them is unsupported_by_server with nothing sent; invalid
params are refused locally."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Opened, Tap, Wrennd, dig,  # noqa: E402
                     wait_for, wrennctl)

t = Tap()
env = Env(dialect="capsules")
old = Env(dialect="sandboxes")


def text_of(events, kind="stdout"):
    return "".join(e.get("data", "") for e in events if e["event"] == kind)


def sh(cl, sid, script):
    """A foreground exec of /bin/sh -c script; its result."""
    return cl.call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                    "args": ["-c", script]}).get("result")


def background(cl, sid, script, **kw):
    p = {"sandbox_id": sid, "cmd": "/bin/sh", "args": ["-c", script],
         "background": True}
    p.update(kw)
    return cl.call("sandbox.exec", p)


def listed(cl, sid):
    return dig(cl.call("sandbox.processes", {"sandbox_id": sid}),
               "result", "processes") or []


def until_file(cl, sid, path):
    """Wait for a file the process makes when it is ready."""
    return wait_for(lambda: dig(sh(cl, sid, "test -e " + path),
                                "exit_code") == 0,
                    timeout=30, what=path)


def code_of(r):
    return dig(r, "error", "data", "code")


try:
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]

    with t.case("background exec"), Opened():
        sh(c, sid, "mkdir -p sub")
        r = background(c, sid, 'echo "$GREETING" > out; pwd > where; '
                       'sleep 60', tag="worker", envs={"GREETING": "hi"},
                       cwd="/root/sub")
        res = r.get("result", {})
        t.eq(sorted(res), ["cmd", "pid", "sandbox_id", "tag"],
             "background exec: the server's 202 body")
        t.eq(res.get("tag"), "worker", "background exec: the tag given")
        t.eq(res.get("sandbox_id"), sid, "background exec: sandbox_id")
        procs = listed(c, sid)
        t.eq([(p["pid"], p.get("tag")) for p in procs],
             [(res["pid"], "worker")], "sandbox.processes lists it")
        until_file(c, sid, "sub/where")
        t.eq(dig(sh(c, sid, "cat sub/out"), "stdout"), "hi\n",
             "envs reach the process, cwd is its directory")
        rc, out, err = wrennctl(env.sock, "ps", sid)
        t.eq(rc, 0, "wrennctl ps exits 0")
        lines = out.decode().splitlines()
        t.eq(lines[0].split(), ["PID", "TAG", "COMMAND"],
             "wrennctl ps: the table's heading")
        t.ok(lines[1].split()[:3] == [str(res["pid"]), "worker",
                                      "/bin/sh"],
             "wrennctl ps: the process's row", out)
        r = c.call("sandbox.kill", {"sandbox_id": sid, "selector": "worker"})
        t.eq(r.get("result"), {}, "sandbox.kill by tag (SIGKILL) -> {}")
        wait_for(lambda: not listed(c, sid), timeout=30, what="gone")
        t.eq(listed(c, sid), [], "the killed process left the list")

    with t.case("attach from two clients, SIGTERM"), Opened() as keep:
        r = background(c, sid, "trap 'echo term; exit 7' TERM; touch ready;"
                       " while :; do sleep 0.05; done")
        pid = r["result"]["pid"]
        until_file(c, sid, "ready")
        a1, a2 = keep(Client(env.sock)), keep(Client(env.sock))
        i1 = a1.call_async("sandbox.attach_process",
                           {"sandbox_id": sid, "selector": pid})
        i2 = a2.call_async("sandbox.attach_process",
                           {"sandbox_id": sid,
                            "selector": r["result"]["tag"]})

        def attached():
            return len([s for s in c.call("streams.list")["result"]
                        if s.get("pid") == pid]) == 2
        wait_for(attached, timeout=30, what="two attached streams")
        r = c.call("sandbox.kill", {"sandbox_id": sid, "selector": pid,
                                    "signal": "SIGTERM"})
        t.eq(r.get("result"), {}, "sandbox.kill SIGTERM by pid -> {}")
        for name, cl, i in (("first", a1, i1), ("second", a2, i2)):
            ev = []
            r = cl.wait_reply(i, events=ev)
            t.eq(r.get("result"), {"exit_code": 7},
                 "%s attacher: the exit code of the trap" % name)
            t.eq([e["event"] for e in ev][0], "start",
                 "%s attacher: events start with start" % name)
            t.eq(dig(ev, 0, "pid"), pid, "%s attacher: start{pid}" % name)
            t.eq(text_of(ev), "term\n", "%s attacher: the output" % name)

    with t.case("issue 10: one process started, listed, attached from two "
                "clients, SIGTERM then the default SIGKILL"), \
            Opened() as keep:
        # The trap survives SIGTERM (it only notes it), so only a SIGKILL
        # ends the process: the kill without -s must be one.
        rc, out, err = wrennctl(
            env.sock, "exec", "--background", "--tag", "survivor", "--env",
            "WORD=still here", "--cwd", "/root/sub", sid, "--",
            "/bin/sh", "-c", "trap 'echo \"term $WORD\"; "
            "echo \"$WORD\" > termed' TERM; touch ready2; "
            "while :; do sleep 0.05; done")
        t.eq(rc, 0, "wrennctl exec --background --tag --env --cwd exits 0 "
             "(%s)" % err.strip())
        pid, tag = (out.decode().split() + ["", ""])[:2]
        t.eq(tag, "survivor", "the flow: the tag given")
        t.eq([(str(p["pid"]), p.get("tag")) for p in listed(c, sid)],
             [(pid, "survivor")], "the flow: sandbox.processes lists it")
        until_file(c, sid, "sub/ready2")
        a1, a2 = keep(Client(env.sock)), keep(Client(env.sock))
        i1 = a1.call_async("sandbox.attach_process",
                           {"sandbox_id": sid, "selector": int(pid)})
        i2 = a2.call_async("sandbox.attach_process",
                           {"sandbox_id": sid, "selector": tag})
        wait_for(lambda: len([s for s in c.call("streams.list")["result"]
                              if str(s.get("pid")) == pid]) == 2,
                 timeout=30, what="two attached streams")
        env.fake.clear_requests()
        rc, out, err = wrennctl(env.sock, "kill", sid, tag, "-s", "TERM")
        t.eq(rc, 0, "wrennctl kill -s TERM exits 0 (%s)" % err.strip())
        until_file(c, sid, "sub/termed")
        t.eq(dig(sh(c, sid, "cat sub/termed"), "stdout"), "still here\n",
             "the flow: SIGTERM reached the trap, in the --cwd directory")
        t.eq([p.get("tag") for p in listed(c, sid)], ["survivor"],
             "the flow: the process outlived SIGTERM")
        r = c.call("sandbox.kill", {"sandbox_id": sid, "selector": int(pid)})
        t.eq(r.get("result"), {}, "the flow: sandbox.kill without a "
             "signal -> {}")
        kills = ["%s?%s" % (q["path"], q.get("query") or "")
                 for q in env.fake.requests() if q["method"] == "DELETE"]
        t.eq(kills, ["%s/%s/processes/survivor?signal=SIGTERM"
                     % (env.fake.sandboxes_path, sid),
                     "%s/%s/processes/%s?" % (env.fake.sandboxes_path, sid,
                                               pid)],
             "the flow: -s TERM asked for SIGTERM, the default for none "
             "(the server's SIGKILL)")
        for name, cl, i in (("first", a1, i1), ("second", a2, i2)):
            ev = []
            r = cl.wait_reply(i, events=ev)
            t.eq(r.get("result"), {"exit_code": -1},
                 "the flow: %s attacher: killed by a signal" % name)
            t.eq(text_of(ev), "term still here\n",
                 "the flow: %s attacher: the trap's output, with --env's "
                 "value" % name)
        wait_for(lambda: not listed(c, sid), timeout=30, what="gone")
        t.eq(listed(c, sid), [], "the flow: SIGKILL ended it")

    with t.case("SIGKILL through wrennctl"), Opened():
        rc, out, err = wrennctl(env.sock, "exec", "--background", "--tag",
                                "sleeper", sid, "--", "sleep", "60")
        t.eq(rc, 0, "wrennctl exec --background exits 0")
        pid, tag = out.decode().split()
        t.eq(tag, "sleeper", "wrennctl exec --background prints PID TAG")
        rc, out, err = wrennctl(env.sock, "kill", sid, "sleeper")
        t.eq(rc, 0, "wrennctl kill (SIGKILL) exits 0")
        t.eq(out, b"", "wrennctl kill (SIGKILL) prints nothing")
        wait_for(lambda: not listed(c, sid), timeout=30, what="gone")
        t.eq(listed(c, sid), [], "wrennctl kill: the process is gone")
        rc, out, err = wrennctl(env.sock, "kill", sid, "sleeper")
        t.eq(rc, 1, "wrennctl kill of an unknown process exits 1")
        t.ok("not found" in err, "wrennctl kill: says not found", err)

    with t.case("detached attach with replay"), Opened() as keep:
        # Two fifos: with one, the second read could open it while the
        # first writer still holds it and read its end of file at once.
        sh(c, sid, "rm -f fifo1 fifo2; mkfifo fifo1 fifo2")
        r = background(c, sid, "read x < fifo1; for i in 1 2 3; do "
                       "echo line $i; done; read x < fifo2; exit 5")
        pid = r["result"]["pid"]
        r = c.call("sandbox.attach_process",
                   {"sandbox_id": sid, "selector": pid, "detach": True})
        st = dig(r, "result", "stream_id") or ""
        t.ok(st.startswith("st-"), "detach answers with a stream id", r)
        t.eq(dig(r, "result", "pid"), pid, "detach answer carries the pid")
        sh(c, sid, "echo go > fifo1")

        def buffered():
            s = [x for x in c.call("streams.list")["result"]
                 if x["stream_id"] == st]
            return s and s[0]["output_bytes"] >= len("line 1\n") * 3
        wait_for(buffered, timeout=30, what="three lines buffered")
        a = keep(Client(env.sock))
        i = a.call_async("streams.attach", {"stream_id": st})
        sh(c, sid, "echo go > fifo2")
        ev = []
        r = a.wait_reply(i, events=ev)
        t.eq(r.get("result"), {"exit_code": 5},
             "re-attach: the process's exit code")
        t.eq(text_of(ev), "line 1\nline 2\nline 3\n",
             "re-attach replays what wrennd buffered before it")
        t.eq([e["seq"] for e in ev], list(range(len(ev))),
             "replayed events keep their seq from 0")
        rc, out, err = wrennctl(env.sock, "attach", sid, "nosuch")
        t.ok(rc != 0, "wrennctl attach of an unknown process fails", rc)
        t.has(err, "not found",
              "wrennctl attach of an unknown process: not found")

    with t.case("issue 10: process-stream errors after the upgrade"), \
            Opened() as keep:
        # v0.1.5 answers these with a WebSocket message after the 101, not
        # an HTTP status: wrennd gives the typed errors the HTTP answers
        # had.
        r = c.call("sandbox.attach_process",
                   {"sandbox_id": "cl-" + "0" * 25, "selector": 1})
        t.eq(code_of(r), "not_found", "attach_process to an unknown "
             "sandbox: not_found")
        t.eq(dig(r, "error", "data", "status"), 404,
             "attach_process to an unknown sandbox: status 404")
        psid = c.call("sandboxes.create", {})["result"]["id"]
        c.call("sandbox.pause", {"sandbox_id": psid})
        r = c.call("sandbox.attach_process",
                   {"sandbox_id": psid, "selector": 1})
        t.eq(code_of(r), "invalid_state", "attach_process to a paused "
             "sandbox: invalid_state")
        t.eq(dig(r, "error", "data", "sandbox_status"), "paused",
             "attach_process to a paused sandbox: data.sandbox_status")
        bad = keep(Wrennd(env.tmp, env.fake.url, api_key="wrn_" + "0" * 32))
        b = keep(Client(bad.sock))
        r = b.call("sandbox.attach_process", {"sandbox_id": sid,
                                              "selector": 1})
        t.eq(code_of(r), "unauthorized", "attach_process with a wrong API "
             "key: unauthorized")
        t.has(dig(r, "error", "message") or "", "authentication failed",
              "attach_process with a wrong API key: the server's words")

    with t.case("invalid params"), Opened():
        cases = [
            ("sandbox.exec", {"sandbox_id": sid, "cmd": "true",
                              "envs": {"A": "b"}}, "envs"),
            ("sandbox.exec", {"sandbox_id": sid, "cmd": "true",
                              "cwd": "/tmp"}, "cwd"),
            ("sandbox.exec", {"sandbox_id": sid, "cmd": "true",
                              "tag": "x"}, "tag"),
            ("sandbox.exec", {"sandbox_id": sid, "cmd": "true",
                              "background": True, "envs": {"A": 1}},
             "envs"),
            ("sandbox.kill", {"sandbox_id": sid, "selector": "x",
                              "signal": "SIGHUP"}, "signal"),
            ("sandbox.kill", {"sandbox_id": sid, "selector": "a/b"},
             "selector"),
            ("sandbox.kill", {"sandbox_id": sid, "selector": -1},
             "selector"),
            ("sandbox.attach_process", {"sandbox_id": sid,
                                        "selector": True}, "selector"),
        ]
        env.fake.clear_requests()
        for method, params, name in cases:
            r = c.call(method, params)
            t.eq(dig(r, "error", "code"), -32602,
                 "%s %s: -32602" % (method, json.dumps(params)))
            t.ok(name in (dig(r, "error", "message") or ""),
                 "%s: the message names '%s'" % (method, name), r)
        t.eq(env.fake.requests(), [], "invalid params: nothing sent")

    with t.case("old dialect: unsupported_by_server"), Opened():
        o = old.client()
        osid = o.call("sandboxes.create", {})["result"]["id"]
        old.fake.clear_requests()
        for method, params in (
                ("sandbox.processes", {"sandbox_id": osid}),
                ("sandbox.kill", {"sandbox_id": osid, "selector": 1}),
                ("sandbox.attach_process", {"sandbox_id": osid,
                                            "selector": "x"}),
                ("sandbox.exec", {"sandbox_id": osid, "cmd": "true",
                                  "background": True})):
            r = o.call(method, params)
            t.eq(code_of(r), "unsupported_by_server",
                 "%s on 172413e: unsupported_by_server" % method)
            t.eq(dig(r, "error", "data", "needs"), "v0.1.5 (/v1/capsules)",
                 "%s on 172413e: data.needs names the server" % method)
        t.eq(old.fake.requests(), [],
             "unsupported_by_server: the request log is empty")
        rc, out, err = wrennctl(old.sock, "ps", osid)
        t.ok(rc != 0, "wrennctl ps on 172413e fails", rc)
        said = err + out.decode()
        t.ok("unsupported_by_server" in said or "v0.1.5" in said,
             "wrennctl ps on 172413e says why (unsupported_by_server or "
             "the version it needs)", said)
        o.close()
    c.close()
finally:
    env.close(t)
    old.close(t)
sys.exit(t.done())
