# SPDX-License-Identifier: MIT
"""wrenn-ipc/1 robustness: malformed input, limits, ids, cancellation,
half-close, many concurrent clients, and a client that never reads."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Env, Tap  # noqa: E402

t = Tap()
env = Env(wrennd_args=["--set", "max-inflight=8",
                       "--set", "line-timeout=1000"])
try:
    sock = env.sock
    good = env.client()
    sb = good.call("sandboxes.create", {})["result"]
    sid = sb["id"]

    def expect_close(payload, code, dcode, name):
        cl = Client(sock)
        cl.send_raw(payload)
        m = cl.read_msg()
        e = (m or {}).get("error", {})
        t.ok(e.get("code") == code and
             e.get("data", {}).get("code") == dcode and m.get("id") is None,
             name + " -> %d %s" % (code, dcode), m)
        t.ok(cl.closed(5), name + ": connection closed")
        cl.close()

    expect_close(b"{not json}\n", -32700, "parse_error", "invalid JSON")
    expect_close(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", -32700,
                 "parse_error", "HTTP request line")
    expect_close(b'{"jsonrpc":"2.0","id":1,"method":"x"}\r\n', -32700,
                 "parse_error", "CR before LF")
    expect_close(b"\xef\xbb\xbf{}\n", -32700, "parse_error", "BOM")
    expect_close(b'{"a":"\xff"}\n', -32700, "parse_error", "invalid UTF-8")
    expect_close(b'{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}\n',
                 -32700, "parse_error", "duplicate keys")
    expect_close(b"[" * 5000 + b"\n", -32700, "parse_error",
                 "deep nesting")
    big = b'{"jsonrpc":"2.0","id":1,"method":"sandboxes.get","params":' \
          b'{"sandbox_id":"' + b"a" * (1024 * 1024 + 10) + b'"}}\n'
    expect_close(big, -32700, "too_large", "line over max_line")
    # over max_line without any LF at all
    cl = Client(sock)
    try:
        cl.send_raw(b"x" * (1024 * 1024 + 100))
    except OSError:
        pass
    m = cl.read_msg()
    t.ok(m and m["error"]["data"]["code"] == "too_large" and cl.closed(5),
         "endless line is cut at max_line", m)
    cl.close()

    # recoverable envelope errors keep the connection
    cl = Client(sock)
    for payload, name in (
            (b'[{"jsonrpc":"2.0","id":1,"method":"daemon.status"}]\n',
             "batch"),
            (b'"hello"\n', "not an object"),
            (b'{"id":1,"method":"daemon.status"}\n', "missing jsonrpc"),
            (b'{"jsonrpc":"2.0","id":1.5,"method":"daemon.status"}\n',
             "float id"),
            (b'{"jsonrpc":"2.0","id":{},"method":"daemon.status"}\n',
             "object id"),
            (b'{"jsonrpc":"2.0","id":"' + b"x" * 65 +
             b'","method":"daemon.status"}\n', "long string id"),
            (b'{"jsonrpc":"2.0","id":1,"method":7}\n', "method not string"),
            (b'{"jsonrpc":"2.0","id":1,"method":"daemon.status",'
             b'"params":[1]}\n', "positional params")):
        cl.send_raw(payload)
        m = cl.read_msg()
        t.ok(m and m.get("error", {}).get("code") == -32600,
             "%s -> -32600" % name, m)
    r = cl.call("rpc.describe", {"method": "sandbox.exec"})
    t.ok(r.get("result", {}).get("name") == "sandbox.exec",
         "connection still usable after -32600s", r)
    ps = {p["name"]: p for p in r["result"]["params"]}
    t.ok(ps.get("cmd", {}).get("required") is True and
         ps["cmd"]["type"] == "string" and
         r["result"]["credential"] == "api_key_or_jwt",
         "rpc.describe shows params and credential", r["result"])
    # string ids, reply order, duplicate ids
    cl.send({"jsonrpc": "2.0", "id": "abc", "method": "sandbox.exec",
             "params": {"sandbox_id": sid, "cmd": "sleep", "args": ["1"]}})
    cl.send({"jsonrpc": "2.0", "id": "abc", "method": "daemon.status"})
    cl.send({"jsonrpc": "2.0", "id": 9, "method": "rpc.describe"})
    first = cl.read_msg()
    t.ok(first.get("id") == "abc" and
         first.get("error", {}).get("code") == -32600,
         "duplicate in-flight id -> -32600", first)
    second = cl.read_msg()
    t.eq(second.get("id"), 9, "replies come in completion order, not "
         "request order")
    third = cl.read_msg()
    t.ok(third.get("id") == "abc" and
         third.get("result", {}).get("exit_code") == 0,
         "string id matched to its reply", third)
    # unknown notifications are ignored, replies from the client rejected
    cl.send({"jsonrpc": "2.0", "method": "$/whatever", "params": {}})
    cl.send({"jsonrpc": "2.0", "id": 77, "result": {}})
    m = cl.read_msg()
    t.ok(m.get("id") == 77 and m["error"]["code"] == -32600,
         "a response object from the client is rejected", m)

    # cancellation: the call gets exactly one final reply, -32800
    env.fake.clear_requests()
    cid = cl.call_async("sandbox.exec", {"sandbox_id": sid, "cmd": "sleep",
                                         "args": ["5"]})
    time.sleep(0.3)
    t0 = time.monotonic()
    cl.cancel(cid)
    r = cl.wait_reply(cid)
    t.ok(r.get("error", {}).get("code") == -32800 and
         r["error"]["data"]["code"] == "cancelled" and
         time.monotonic() - t0 < 2, "$/cancel -> -32800 promptly", r)
    cl.cancel(cid)  # already finished: no-op
    cl.cancel(12345)  # unknown: no-op
    r = cl.call("rpc.describe", {"method": "daemon.status"})
    t.ok("result" in r, "cancel of unknown ids is a no-op", r)

    # max_inflight: the 9th call waits (reading paused), all finish
    ids = [cl.call_async("sandbox.exec",
                         {"sandbox_id": sid, "cmd": "sleep",
                          "args": ["0.3"]}) for _ in range(12)]
    rs = [cl.wait_reply(i) for i in ids]
    t.ok(all("result" in r for r in rs),
         "12 calls over max_inflight=8 all complete", rs)

    # half-close: requests sent, then shutdown(SHUT_WR); replies still come
    hc = Client(sock)
    hid = hc.call_async("sandbox.exec", {"sandbox_id": sid, "cmd": "echo",
                                         "args": ["half"]})
    hc.s.shutdown(socket.SHUT_WR)
    r = hc.wait_reply(hid)
    t.ok(r.get("result", {}).get("stdout") == "half\n",
         "half-closed client still gets its reply", r)
    t.ok(hc.closed(5), "then the daemon closes")
    hc.close()

    # full disconnect mid-call cancels it; daemon stays healthy
    dc = Client(sock)
    dc.call_async("sandbox.exec", {"sandbox_id": sid, "cmd": "sleep",
                                   "args": ["3"]})
    time.sleep(0.2)
    dc.close()
    for _ in range(100):
        st = good.call("daemon.status")["result"]
        if st["counts"]["calls_inflight"] == 1:
            break
        time.sleep(0.05)
    t.ok(st["counts"]["calls_inflight"] == 1,
         "a vanished client's calls are dropped", st["counts"])

    # a partial line that never completes times out (line-timeout=1s)
    pl = Client(sock)
    pl.send_raw(b'{"jsonrpc":"2.0"')
    t.ok(pl.closed(5), "partial line times out")
    pl.close()

    # a client that never reads does not slow others
    stuck = Client(sock)
    for i in range(200):
        stuck.call_async("rpc.describe", {})
    t0 = time.monotonic()
    r = good.call("sandbox.exec", {"sandbox_id": sid, "cmd": "echo",
                                   "args": ["ok"]})
    t.ok(r.get("result", {}).get("stdout") == "ok\n",
         "others are served while one client does not read", r)
    t.diag("exec latency with a stuck neighbour: %.3f s"
           % (time.monotonic() - t0))

    # many concurrent clients, each with several calls in flight
    errors = []

    def worker(n):
        try:
            cl2 = Client(sock)
            ids = [cl2.call_async("sandbox.exec",
                                  {"sandbox_id": sid, "cmd": "echo",
                                   "args": ["w%d-%d" % (n, k)]})
                   for k in range(5)]
            for k, i in enumerate(ids):
                r = cl2.wait_reply(i)
                if r.get("result", {}).get("stdout") != "w%d-%d\n" % (n, k):
                    errors.append(r)
            cl2.close()
        except Exception as ex:  # noqa: BLE001
            errors.append(repr(ex))

    ths = [threading.Thread(target=worker, args=(n,)) for n in range(40)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    t.ok(not errors, "40 clients x 5 calls each get their own answers",
         errors[:5])
    stuck.close()
    r = good.call("daemon.status")
    t.ok(r["result"]["counts"]["clients"] >= 1, "daemon still answers")
    good.close()
finally:
    env.close(t)
sys.exit(t.done())
