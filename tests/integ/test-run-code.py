#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""sandbox.run_code end to end: wrennd finds or starts a kernel on a real
Jupyter Server (Debian's python3-jupyter-server and python3-ipykernel,
tests/integ/jupyterfix.py) behind the fake control plane's sandbox proxy,
and every local client shares it. State kept between calls and between
clients; stdout, stderr, rich display data and errors with their
traceback, assembled as the SDK's CodeResult; a runaway loop interrupted
at timeout_sec (and $/cancel) with the next call working; a killed and a
deleted kernel noticed (kernel_restarted); ten clients at once, run one
after the other; $/stream events before the final reply; an unknown
language; the JWT-only refusal with nothing sent; wrennctl run-code.
SKIPs when Jupyter is not installed."""
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import uuid

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Tap, Wrennd, dig, wait_for,  # noqa: E402
                     wrennctl)
import jupyterfix  # noqa: E402

have, why = jupyterfix.available()
if not have:
    print("1..0 # SKIP " + why)
    sys.exit(0)

t = Tap()
env = Env()
jup = None
try:
    jup = jupyterfix.Jupyter(env.tmp)
    sb = env.client().call("sandboxes.create", {})["result"]["id"]
    jup.map_into(env.fake, sb)
    c = env.client()
    # A cold kernel start on a loaded machine takes a while: the calls
    # below wait for their replies, never for a time.
    c.s.settimeout(300)

    def run(code, client=None, **kw):
        p = {"sandbox_id": sb, "code": code}
        p.update(kw)
        return (client or c).call("sandbox.run_code", p)

    def res(r):
        return r.get("result", {})

    def err(r):
        return r.get("error", {}).get("data", {})

    def read_stdout(cl, i, want):
        """Read call i's messages until its stdout events add up to want
        (ipykernel may split a print in several); returns what came,
        which holds a reply or other events if they came first."""
        got, text = [], ""
        while text != want and len(text) < len(want):
            m = json.loads(cl.read_line())
            if m.get("id") == i:
                return got + [m]
            if m.get("method") == "$/stream" and \
                    m["params"].get("id") == i:
                got.append(m["params"])
                if m["params"].get("event") != "stdout":
                    return got
                text += m["params"].get("data", "")
            else:
                cl.pending.append(m)
        return got

    def gated(flag, before, after):
        """Code that runs before, waits until the test creates flag, then
        runs after: the test decides when it goes on, not a clock."""
        return ("import os, time, sys\n%s\n"
                "while not os.path.exists(%r): time.sleep(0.02)\n%s"
                % (before, flag, after))

    def foreign_execute(kernel_id, code):
        """Run code as another client of the Jupyter Server would (a
        notebook: stop_on_error true); the execute_reply's status."""
        async def go():
            url = "%s/api/kernels/%s/channels?session_id=other" % (
                jup.url.replace("http://", "ws://"), kernel_id)
            mid = uuid.uuid4().hex
            msg = {"header": {"msg_id": mid, "msg_type": "execute_request",
                              "session": "other", "username": "other",
                              "version": "5.3", "date": ""},
                   "parent_header": {}, "metadata": {}, "buffers": [],
                   "channel": "shell",
                   "content": {"code": code, "silent": False,
                               "store_history": False,
                               "user_expressions": {},
                               "allow_stdin": False,
                               "stop_on_error": True}}
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(url) as ws:
                    await ws.send_str(json.dumps(msg))
                    async for m in ws:
                        d = json.loads(m.data)
                        if d.get("channel") == "shell" and \
                                d.get("parent_header", {}).get(
                                    "msg_id") == mid:
                            return d.get("content", {}).get("status")
        return asyncio.run(asyncio.wait_for(go(), 60))

    def status_counts():
        r = c.call("daemon.status")
        return r["result"]["counts"]

    with t.case("first call: a kernel is started, the result assembled"):
        r = run("x = 41\nprint('hello')\nimport sys\n"
                "print('warn', file=sys.stderr)\nx + 1")
        out = res(r)
        t.eq(out.get("text"), "42", "text is the main result's text/plain")
        t.eq(out.get("stdout"), "hello\n", "stdout")
        t.eq(out.get("stderr"), "warn\n", "stderr")
        t.eq(out.get("error"), None, "no error")
        t.eq(out.get("results"),
             [{"is_main_result": True, "text/plain": "42"}],
             "results: the main result's bundle")
        t.ok(isinstance(out.get("execution_count"), int),
             "execution_count is an integer", out)
        t.eq(out.get("kernel_restarted"), False,
             "a first kernel is not a restart")
        kernels = jup.api("GET", "/api/kernels")
        t.eq(len(kernels), 1, "one kernel was started on the server")
        t.eq(status_counts().get("kernels_connected"), 1,
             "daemon.status counts one connected kernel")

    with t.case("state persists between calls and clients"):
        run("shared = ['from the first client']")
        c2 = env.client()
        c2.s.settimeout(300)
        r = run("shared.append('second'); shared", client=c2)
        t.eq(res(r).get("text"), "['from the first client', 'second']",
             "a second client sees the first one's variables")
        c2.close()
        t.eq(len(jup.api("GET", "/api/kernels")), 1,
             "still the one kernel")

    with t.case("quote stripping and no result"):
        t.eq(res(run("'hello'")).get("text"), "hello",
             "a repr's quotes are stripped as the SDK does")
        r = res(run("y = 1"))
        t.eq(r.get("text"), None, "an assignment has no result (text)")
        t.eq(r.get("results"), [], "an assignment has no result (results)")
        t.eq(r.get("execution_count"), None,
             "an assignment has no result (execution_count)")

    with t.case("rich display data"):
        r = res(run("from IPython.display import display, HTML\n"
                    "display(HTML('<b>bold</b>'))\n{'a': 1}"))
        rs = r.get("results", [])
        t.eq(len(rs), 2, "a display and a main result")
        t.eq(rs[0].get("is_main_result"), False,
             "display_data with its text/html (is_main_result)")
        t.eq(rs[0].get("text/html"), "<b>bold</b>",
             "display_data with its text/html (text/html)")
        t.eq(r.get("text"), "{'a': 1}", "text of the main result")
        r = res(run("import matplotlib\n"
                    "matplotlib.use('module://matplotlib_inline."
                    "backend_inline')\n"
                    "import matplotlib.pyplot as plt\n"
                    "plt.figure(figsize=(1, 1), dpi=20)\n"
                    "plt.plot([1, 2]); plt.show()"))
        if r.get("error") and r["error"].get("name") == \
                "ModuleNotFoundError":
            r = res(run("import base64\n"
                        "from IPython.display import Image, display\n"
                        "display(Image(data=base64.b64decode("
                        "'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA"
                        "DUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==')"
                        ", format='png'))"))
        pngs = [x["image/png"] for x in r.get("results", [])
                if "image/png" in x]
        t.eq(len(pngs), 1, "one image/png result")
        t.ok(pngs[:1], "the image/png is base64 of a PNG, as Jupyter sends it",
             r)
        t.ok("".join(pngs[:1]).startswith("iVBORw0KGgo"),
             "the image/png is base64 of a PNG, as Jupyter sends it", r)

    with t.case("an error with its traceback"):
        r = run("def f():\n    return 1/0\nf()")
        e = res(r).get("error") or {}
        t.eq(e.get("name"), "ZeroDivisionError", "error name")
        t.eq(e.get("value"), "division by zero", "error value")
        t.ok("ZeroDivisionError" in e.get("traceback", ""),
             "the traceback names the exception", e)
        t.ok("\n" in e.get("traceback", ""),
             "traceback lines joined by newlines", e)
        t.ok("result" in r, "an error in the code is a result, not a "
             "failed call", r)

    with t.case("an error never aborts the next call"):
        run("before_error = 'kept'")
        r = run("raise KeyError('k')")
        t.eq((res(r).get("error") or {}).get("name"), "KeyError",
             "the error is the call's result")
        # Sent at once, inside the kernel's abort window (jupyterfix):
        # wrennd's code goes with stop_on_error false.
        r = run("before_error")
        t.eq(res(r).get("text"), "kept", "the next call ran")
        t.eq(err(r).get("code"), None, "the next call did not fail")

    with t.case("a call the kernel aborted is an error, not a result"):
        kid = jup.api("GET", "/api/kernels")[0]["id"]
        t.eq(foreign_execute(kid, "raise RuntimeError('theirs')"), "error",
             "another client's code failed with stop_on_error")
        r = run("never_ran = True")
        t.eq(err(r).get("code"), "kernel_aborted", "data.code kernel_aborted")
        t.eq(r.get("error", {}).get("code"), -32000, "-32000")
        wait_for(lambda: "result" in run("1"), 60, step=0.5,
                 what="the kernel's abort window to close")
        r = run("'never_ran' in dir()")
        t.eq(res(r).get("text"), "False", "the aborted code never ran")

    with t.case("timeout: the kernel is interrupted, the next call works"):
        run("kept = 'still here'")
        r = run("print('spinning', flush=True)\nwhile True: pass",
                timeout_sec=2)
        t.eq(err(r).get("code"), "timeout", "data.code timeout")
        t.eq(err(r).get("timeout_sec"), 2, "data.timeout_sec")
        t.eq(err(r).get("stdout"), "spinning\n",
             "the partial output is in data")
        r = run("kept")
        t.eq(res(r).get("text"), "still here",
             "the next call works and the state was kept")
        t.eq(res(r).get("kernel_restarted"), False,
             "an interrupt is not a restart")

    with t.case("$/cancel interrupts running code"):
        i = c.call_async("sandbox.run_code", {
            "sandbox_id": sb, "stream": True,
            "code": "import time\nprint('started', flush=True)\n"
                    "time.sleep(600)"})
        ev = []
        got = read_stdout(c, i, "started\n")
        t.eq("".join(e.get("data", "") for e in got), "started\n",
             "the code runs (its output so far)")
        c.cancel(i)
        r = c.wait_reply(i, ev)
        t.eq(r.get("error", {}).get("code"), -32800, "cancelled")
        r = run("1 + 1")
        t.eq(res(r).get("text"), "2", "the next call works")

    with t.case("streaming: events arrive before the final reply"):
        flag = os.path.join(env.tmp, "go")
        i = c.call_async("sandbox.run_code", {
            "sandbox_id": sb, "stream": True,
            "code": gated(flag, "print('one', flush=True)",
                          "from IPython.display import display, HTML\n"
                          "print('two', file=sys.stderr, flush=True)\n"
                          "display(HTML('<i>x</i>'))\n"
                          "raise ValueError('bad')")})
        got = read_stdout(c, i, "one\n")
        t.eq(sorted(set(e.get("event") for e in got)), ["stdout"],
             "the first messages are stdout events, not the reply")
        t.eq("".join(e.get("data", "") for e in got), "one\n",
             "stdout events with the text printed so far")
        t.eq([e.get("seq") for e in got], list(range(len(got))),
             "numbered from seq 0")
        open(flag, "w").close()
        ev = []
        r = c.wait_reply(i, ev)
        # A print may come in several stream messages: runs of one event
        # name count once.
        names = [e["event"] for k, e in enumerate(ev)
                 if k == 0 or ev[k - 1]["event"] != e["event"]]
        t.eq(names, ["stderr", "result", "error"],
             "then stderr, result and error events")
        t.eq("".join(e["data"] for e in ev if e["event"] == "stderr"),
             "two\n", "the stderr events' data")
        rev = [e for e in ev if e["event"] == "result"]
        eev = [e for e in ev if e["event"] == "error"]
        t.eq(rev[0].get("bundle", {}).get("text/html") if rev else None,
             "<i>x</i>", "the result event carries the bundle")
        t.eq((eev[0].get("name"), eev[0].get("value")) if eev else None,
             ("ValueError", "bad"), "the error event: name and value")
        t.ok(eev, "the error event: traceback", eev)
        t.has(dig(eev, 0, "traceback") or "", "ValueError",
              "the error event: traceback (traceback)")
        t.eq(res(r).get("stdout"), "one\n", "the reply has it all too")

    with t.case("ten clients at once run one after the other"):
        run("n = 0\nlog = []")
        replies = {}

        def one(k):
            cl = Client(env.sock)
            cl.s.settimeout(300)
            replies[k] = cl.call("sandbox.run_code", {
                "sandbox_id": sb,
                "code": "import time\nn += 1\nlog.append('a%d')\n"
                        "time.sleep(0.05)\nlog.append('b%d')\nn" % (k, k)})
            cl.close()
        th = [threading.Thread(target=one, args=(k,)) for k in range(10)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        ns = sorted(int(res(replies[k]).get("text") or -1)
                    for k in range(10))
        t.eq(ns, list(range(1, 11)),
             "each call saw the one before it: n is 1 to 10")
        log = res(run("log")).get("text", "")
        pairs = eval(log) if log.startswith("[") else []
        t.eq(len(pairs), 20, "no two runs interleaved (length)")
        t.ok(all(pairs[j][1:] == pairs[j + 1][1:]
                 for j in range(0, len(pairs) - 1, 2)),
             "no two runs interleaved (each run's lines are adjacent)", log)
        t.ok(all(pairs[j][0] == "a" for j in range(0, len(pairs), 2)),
             "no two runs interleaved (each run starts with its first line)",
             log)

    with t.case("a queued call cancelled leaves the queue"):
        flag2 = os.path.join(env.tmp, "go2")
        a = c.call_async("sandbox.run_code", {
            "sandbox_id": sb, "stream": True,
            "code": gated(flag2, "print('a', flush=True)", "'a done'")})
        read_stdout(c, a, "a\n")
        cb = env.client()
        # Lines of one connection are handled in order: b is queued
        # behind a before its cancel is read.
        b = cb.call_async("sandbox.run_code",
                          {"sandbox_id": sb, "code": "queued_ran = True"})
        cb.cancel(b)
        t.eq(cb.wait_reply(b).get("error", {}).get("code"), -32800,
             "the queued call is cancelled")
        open(flag2, "w").close()
        t.eq(res(c.wait_reply(a)).get("text"), "a done",
             "the running call is not disturbed")
        t.eq(res(run("'queued_ran' in dir()")).get("text"), "False",
             "the cancelled code never ran")
        cb.close()

    with t.case("code that ignores the interrupt: the kernel is restarted"):
        run("before_deaf = 1")
        r = run("import signal, time\n"
                "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "while True: time.sleep(0.05)", timeout_sec=1)
        t.eq(err(r).get("code"), "timeout", "timeout")
        r = run("before_deaf")
        t.eq(res(r).get("kernel_restarted"), True,
             "the next call runs on a restarted kernel")
        t.eq((res(r).get("error") or {}).get("name"), "NameError",
             "whose state is gone")

    with t.case("unknown language"):
        r = run("1", language="cobol")
        e = r.get("error", {})
        t.eq(e.get("code"), -32602, "-32602")
        t.eq(e.get("data", {}).get("code"), "invalid_params",
             "data.code invalid_params")
        t.eq(e.get("data", {}).get("languages"), ["python"],
             "data.languages: what the server offers")
        t.ok("python" in e.get("message", ""), "the message lists them", e)
        t.eq(res(run("1 + 2", language="python3")).get("text"), "3",
             "a kernelspec name works as language")

    with t.case("a killed kernel is noticed: kernel_restarted"):
        run("before_kill = 1")
        kid = jup.api("GET", "/api/kernels")[0]["id"]
        t.ok(jup.kill_kernel(kid), "the kernel process was killed")
        # The server restarts it and says so on the channel; wrennd then
        # drops that connection.
        wait_for(lambda: status_counts().get("kernels_connected") == 0,
                 120, 0.1, "wrennd noticing the restart")
        r = run("before_kill")
        t.eq(res(r).get("kernel_restarted"), True,
             "the next reply says the state was lost")
        t.eq((res(r).get("error") or {}).get("name"), "NameError",
             "and the variable is gone")
        r = run("1")
        t.eq(res(r).get("kernel_restarted"), False, "said once")

    with t.case("a kernel dying under running code"):
        r = run("import os\nos.kill(os.getpid(), 9)")
        t.eq(err(r).get("code"), "kernel_died", "data.code kernel_died")
        t.eq(err(r).get("kernel_restarted"), True,
             "data.kernel_restarted")
        r = run("1 + 1")
        t.ok((res(r).get("text"), res(r).get("kernel_restarted")) ==
             ("2", True), "the next call runs on the fresh kernel", r)

    with t.case("a deleted kernel: a new one, kernel_restarted"):
        run("z = 5")
        kid = jup.api("GET", "/api/kernels")[0]["id"]
        jup.api("DELETE", "/api/kernels/" + kid)
        wait_for(lambda: status_counts().get("kernels_connected") == 0,
                 120, 0.1, "wrennd noticing the shutdown")
        r = run("z")
        t.eq(res(r).get("kernel_restarted"), True, "kernel_restarted")
        t.eq((res(r).get("error") or {}).get("name"), "NameError",
             "state lost")
        ks = jup.api("GET", "/api/kernels")
        t.eq(len(ks), 1, "one kernel on the server")
        t.ok(ks[:1], "a new kernel", (kid, ks))
        t.ok(dig(ks, 0, "id") != kid, "a new kernel (id)", ks)

    with t.case("errors before any kernel"):
        r = c.call("sandbox.run_code",
                   {"sandbox_id": "cl-" + "0" * 25, "code": "1"})
        t.eq(err(r).get("code"), "not_found",
             "a sandbox the proxy does not know: not_found")
        r = c.call("sandbox.run_code",
                   {"sandbox_id": "CL-Upper", "code": "1"})
        t.eq(r.get("error", {}).get("data", {}).get("code"),
             "invalid_params", "a sandbox id the proxy cannot route")
        r = c.call("sandbox.run_code", {"sandbox_id": sb, "code": "1",
                                        "timeout_sec": 0})
        t.eq(r.get("error", {}).get("code"), -32602,
             "timeout_sec 0 is out of range")

    with t.case("JWT only"):
        w = Wrennd(env.tmp, env.fake.url, token=env.seed["jwt_owner"])
        try:
            c3 = Client(w.sock)
            env.fake.clear_requests()
            r = c3.call("sandbox.run_code", {"sandbox_id": sb, "code": "1"})
            if env.fake.dialect == "capsules":
                # v0.1.5's proxy takes no credential: a JWT is enough.
                t.eq(r.get("result", {}).get("text"), "1",
                     "capsules, JWT only: the code runs")
                keyed = [e for e in env.fake.proxied_requests()
                         if e.get("has_api_key")]
                t.eq(keyed, [], "capsules: no X-API-Key reached the proxy")
            else:
                t.eq(err(r).get("code"), "unauthorized", "unauthorized")
                t.eq(err(r).get("needs"), "api_key", "needs api_key")
                t.ok("API key" in r.get("error", {}).get("message", ""),
                     "the message says an API key is needed", r)
                t.eq(env.fake.requests(), [], "the request log is empty")
            c3.close()
        finally:
            w.stop()

    with t.case("wrennctl run-code"):
        rc, out, errt = wrennctl(env.sock, "run-code", sb, "-",
                                 input=b"print('from stdin')\n6 * 7\n",
                                 timeout=300)
        t.eq(rc, 0, "exit 0")
        t.eq(out.decode(), "from stdin\n42\n",
             "stdout, then the main result")
        src = os.path.join(env.tmp, "cell.py")
        with open(src, "w") as f:
            f.write("import sys\nprint('oops', file=sys.stderr)\n"
                    "raise KeyError('k')\n")
        rc, out, errt = wrennctl(env.sock, "run-code", sb, src, timeout=300)
        t.ok(rc != 0, "an error in the code: non-zero exit", rc)
        t.has(errt, "oops", "stderr and the traceback on stderr")
        t.has(errt, "KeyError", "stderr and the traceback on stderr")
        d = tempfile.mkdtemp(dir=env.tmp)
        rc, out, errt = wrennctl(
            env.sock, "run-code", "--save-dir", d, sb, "-", timeout=300,
            input=b"import base64\nfrom IPython.display import Image, "
                  b"display\ndisplay(Image(data=base64.b64decode("
                  b"'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE"
                  b"QVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='), "
                  b"format='png'))\n")
        files = sorted(os.listdir(d))
        t.ok(rc == 0, "--save-dir: exit 0", (rc, out, errt))
        t.eq(len(files), 1, "--save-dir: one file saved")
        t.ok(files[:1], "--save-dir: a .png file", files)
        t.ok("".join(files[:1]).endswith(".png"),
             "--save-dir: a .png file", files)
        if files:
            with open(os.path.join(d, files[0]), "rb") as f:
                t.eq(f.read(8), b"\x89PNG\r\n\x1a\n",
                     "--save-dir: a PNG file")
            t.ok(files[0] in out.decode(), "the file name is printed",
                 out)
        rc, out, errt = wrennctl(env.sock, "run-code", sb, "-",
                                 "--timeout", "1",
                                 input=b"while True: pass\n", timeout=300)
        t.ok(rc != 0, "--timeout: non-zero exit", rc)
        t.ok("1 s" in errt, "--timeout: the message says 1 s", errt)
finally:
    env.close(t)
    if jup is not None:
        jup.stop()
sys.exit(t.done())
