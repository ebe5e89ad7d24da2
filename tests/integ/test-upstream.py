# SPDX-License-Identifier: MIT
"""The upstream connection pool through wrennd, end to end, against the fake
control plane: a create whose warm connection is reset before any answer
reaches the control plane once (audit finding 16), proxy variables in
wrennd's environment never see a request or the key (finding 11), and peer
text in the -v log stays quoted on one line (finding 10). Connection churn
(finding 15) is counted in tests/unit/test-upstream."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, Tap, wait_for  # noqa: E402

t = Tap()


def count(fake, method, path):
    return sum(1 for r in fake.requests()
               if r["method"] == method and r["path"] == path)


env = Env(wrennd_args=["-v"])
# The sandbox routes' prefix of the dialect the fake speaks.
SB = env.fake.sandboxes_path
try:
    c = env.client()

    with t.case("finding 16: a reset create is sent once"):
        # A first call leaves a warm pooled connection.
        r = c.call("sandboxes.list")
        t.ok("result" in r, "finding 16: warm-up call works", r)
        env.fake.clear_requests()
        env.fake.fault(path=SB + "$", method="POST", reset=True,
                       count=1)
        r = c.call("sandboxes.create", {})
        n = count(env.fake, "POST", SB)
        t.eq(n, 1, "finding 16: the control plane saw POST %s once" % SB)
        t.eq(r.get("error", {}).get("data", {}).get("code"),
             "upstream_unreachable",
             "finding 16: the create fails with upstream_unreachable")
        t.ok("not sent again" in r.get("error", {}).get("message", ""),
             "finding 16: the error says the create was not sent again", r)
        sbs = env.fake.ctl("GET", "sandboxes")
        t.ok(len(sbs) <= 1, "finding 16: at most one sandbox exists "
             "(%d)" % len(sbs), sbs)
        env.fake.clear_faults()

    with t.case("finding 16: a reset GET is sent again"):
        c.call("sandboxes.list")
        env.fake.clear_requests()
        env.fake.fault(path=SB + "$", method="GET", reset=True,
                       count=1)
        r = c.call("sandboxes.list")
        t.ok("result" in r, "finding 16: a list reset before any answer "
             "succeeds on the second try", r)
        t.eq(count(env.fake, "GET", SB), 2,
             "finding 16: the control plane saw GET %s twice" % SB)
        env.fake.clear_faults()

    with t.case("finding 15: daemon.status counts the pool's connections"):
        c.call("sandboxes.list")
        before = c.call("daemon.status")["result"]["counts"]
        for _ in range(20):
            c.call("sandboxes.list")
        after = c.call("daemon.status")["result"]["counts"]
        t.ok(before["upstream_connections_opened"] >= 1,
             "finding 15: upstream_connections_opened counts the pool's "
             "connection (%d)" % before["upstream_connections_opened"])
        t.eq(after["upstream_connections_opened"],
             before["upstream_connections_opened"],
             "finding 15: 20 calls in a row open no connection on a warm "
             "pool")

    with t.case("finding 10: peer text in the log is quoted on one line"):
        c.send({"jsonrpc": "2.0", "method": "x\n<0>forged-notification"})
        env.fake.fault(path=SB + "/cl-log$", method="GET",
                       status=500, message="boom\n<0>forged-upstream",
                       count=1)
        r = c.call("sandboxes.get", {"sandbox_id": "cl-log"})
        t.ok("error" in r, "finding 10: the faulted call fails", r)
        env.fake.clear_faults()
        text = wait_for(
            lambda: (lambda s: s if "forged-upstream" in s else None)(
                env.wrennd.stderr()), 10, what="the log line")
        lines = text.splitlines()
        bad = [ln for ln in lines if ln.startswith("<0>")]
        t.eq(bad, [], "finding 10: no log line starts with a forged <0>")
        t.ok(any('ignoring notification "x\\n<0>forged-notification"' in ln
                 for ln in lines),
             "finding 10: the notification method is logged quoted, "
             "newline escaped", "\n".join(lines[-20:]))
        t.ok(any("boom\\n<0>forged-upstream" in ln for ln in lines),
             "finding 10: the upstream message is logged with its newline "
             "escaped", "\n".join(lines[-20:]))
finally:
    env.close(t)

# Proxy variables: a listener stands in for the proxy.
proxy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
proxy.bind(("127.0.0.1", 0))
proxy.listen(8)
proxy.setblocking(False)
purl = "http://127.0.0.1:%d" % proxy.getsockname()[1]
penv = {k: purl for k in ("http_proxy", "HTTP_PROXY", "https_proxy",
                          "HTTPS_PROXY", "ALL_PROXY", "all_proxy")}
penv.update({"no_proxy": "", "NO_PROXY": ""})
env = Env(start_wrennd=False)
try:
    env.start_wrennd(env=penv)
    with t.case("finding 11: proxy variables are ignored"):
        env.fake.clear_requests()
        c = env.client()
        r = c.call("sandboxes.list")
        t.ok("result" in r, "finding 11: a call with proxy variables set "
             "reaches the control plane", r)
        reqs = [q for q in env.fake.requests()
                if q["path"] == SB]
        t.eq(len(reqs), 1,
             "finding 11: the key went to the base URL's host (length)")
        t.eq(reqs[0].get("api_key") if reqs else None, env.seed["api_key"],
             "finding 11: the key went to the base URL's host (api_key)")
        seen = b""
        try:
            conn, _ = proxy.accept()
            conn.settimeout(1)
            try:
                seen = conn.recv(65536)
            except OSError:
                pass
            conn.close()
            accepted = True
        except BlockingIOError:
            accepted = False
        t.ok(not accepted, "finding 11: the proxy saw no connection")
        t.ok(env.seed["api_key"].encode() not in seen,
             "finding 11: the key never reached the proxy")
        c.close()
finally:
    env.close(t)
    proxy.close()
sys.exit(t.done())
