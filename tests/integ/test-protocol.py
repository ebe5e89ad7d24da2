# SPDX-License-Identifier: MIT
"""wrenn-ipc/1 robustness: malformed input, limits, ids, cancellation,
half-close, many concurrent clients, and a client that never reads.
Independent cases share one fake and one wrennd; each opens its own
connections."""
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Env, Opened, Tap, dig, settle  # noqa: E402

t = Tap()
env = Env(wrennd_args=["--set", "max-inflight=8",
                       "--set", "line-timeout=1000"])
sock = env.sock
_shared = []


def sandbox():
    """One running sandbox for every case (they only exec in it)."""
    if not _shared:
        c = Client(sock)
        try:
            r = c.call("sandboxes.create", {})
        finally:
            c.close()
        if "result" not in r:
            raise RuntimeError("sandboxes.create failed: %r" % (r,))
        _shared.append(r["result"]["id"])
    return _shared[0]


def inflight():
    """calls_inflight as daemon.status reports it (itself included)."""
    c = Client(sock)
    try:
        return dig(c.call("daemon.status"), "result", "counts",
                   "calls_inflight")
    finally:
        c.close()


def upstream_execs(args):
    """The fake's log entries for sync execs with these args."""
    out = []
    for q in env.fake.requests():
        if q["path"].endswith("/exec"):
            try:
                body = json.loads(q["body"])
            except ValueError:
                continue
            if body.get("args") == args:
                out.append(q)
    return out


# Fatal framing errors: one error with a null id, then the daemon closes.
FATAL = (
    (b"{not json}\n", -32700, "parse_error", "invalid JSON"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", -32700, "parse_error",
     "HTTP request line"),
    (b'{"jsonrpc":"2.0","id":1,"method":"x"}\r\n', -32700, "parse_error",
     "CR before LF"),
    (b"\xef\xbb\xbf{}\n", -32700, "parse_error", "BOM"),
    (b'{"a":"\xff"}\n', -32700, "parse_error", "invalid UTF-8"),
    (b'{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}\n', -32700,
     "parse_error", "duplicate keys"),
    (b"[" * 5000 + b"\n", -32700, "parse_error", "deep nesting"),
    (b'{"jsonrpc":"2.0","id":1,"method":"sandboxes.get","params":'
     b'{"sandbox_id":"' + b"a" * (1024 * 1024 + 10) + b'"}}\n', -32700,
     "too_large", "line over max_line"),
)

try:
    for payload, code, dcode, name in FATAL:
        with t.case(name), Opened() as keep:
            cl = keep(Client(sock))
            cl.send_raw(payload)
            m = cl.read_msg() or {}
            t.eq(dig(m, "error", "code"), code,
                 "%s -> %d" % (name, code))
            t.eq(dig(m, "error", "data", "code"), dcode,
                 "%s -> data.code %s" % (name, dcode))
            t.has(m, "id", "%s -> the error has an id" % name)
            t.ok(m.get("id", "absent") is None,
                 "%s -> the error has a null id" % name, m)
            t.ok(cl.closed(5), name + ": connection closed")

    # over max_line without any LF at all
    with t.case("endless line"), Opened() as keep:
        cl = keep(Client(sock))
        try:
            cl.send_raw(b"x" * (1024 * 1024 + 100))
        except OSError:
            pass
        m = cl.read_msg()
        t.eq(dig(m, "error", "data", "code"), "too_large",
             "endless line is cut at max_line")
        t.ok(cl.closed(5), "endless line: connection closed")

    # recoverable envelope errors keep the connection
    with t.case("recoverable envelope errors"), Opened() as keep:
        cl = keep(Client(sock))
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
                (b'{"jsonrpc":"2.0","id":1,"method":7}\n',
                 "method not string"),
                (b'{"jsonrpc":"2.0","id":1,"method":"daemon.status",'
                 b'"params":[1]}\n', "positional params")):
            cl.send_raw(payload)
            t.eq(dig(cl.read_msg(), "error", "code"), -32600,
                 "%s -> -32600" % name)
        r = cl.call("rpc.describe", {"method": "sandbox.exec"})
        t.eq(dig(r, "result", "name"), "sandbox.exec",
             "connection still usable after -32600s")
        ps = {p.get("name"): p for p in dig(r, "result", "params") or []}
        t.eq(dig(ps, "cmd", "required"), True,
             "rpc.describe shows cmd required")
        t.eq(dig(ps, "cmd", "type"), "string",
             "rpc.describe shows cmd's type")
        t.eq(dig(r, "result", "credential"), "api_key_or_jwt",
             "rpc.describe shows the credential")

    # string ids, reply order, duplicate ids
    with t.case("ids and reply order"), Opened() as keep:
        sid = sandbox()
        cl = keep(Client(sock))
        cl.send({"jsonrpc": "2.0", "id": "abc", "method": "sandbox.exec",
                 "params": {"sandbox_id": sid, "cmd": "sleep",
                            "args": ["1"]}})
        cl.send({"jsonrpc": "2.0", "id": "abc", "method": "daemon.status"})
        cl.send({"jsonrpc": "2.0", "id": 9, "method": "rpc.describe"})
        first = cl.read_msg()
        t.eq(dig(first, "id"), "abc", "the first reply is for id abc")
        t.eq(dig(first, "error", "code"), -32600,
             "duplicate in-flight id -> -32600")
        second = cl.read_msg()
        t.eq(dig(second, "id"), 9, "replies come in completion order, not "
             "request order")
        third = cl.read_msg()
        t.eq(dig(third, "id"), "abc", "string id matched to its reply")
        t.eq(dig(third, "result", "exit_code"), 0,
             "the exec's reply carries its result")

    # unknown notifications are ignored, replies from the client rejected
    with t.case("notifications and responses from the client"), \
            Opened() as keep:
        cl = keep(Client(sock))
        cl.send({"jsonrpc": "2.0", "method": "$/whatever", "params": {}})
        cl.send({"jsonrpc": "2.0", "id": 77, "result": {}})
        m = cl.read_msg()
        t.eq(dig(m, "id"), 77, "the first answer is for the response "
             "object (the notification got none)")
        t.eq(dig(m, "error", "code"), -32600,
             "a response object from the client is rejected")

    # cancellation: the call gets exactly one final reply, -32800, and
    # the upstream request is abandoned, not waited for
    with t.case("$/cancel"), Opened() as keep:
        sid = sandbox()
        cl = keep(Client(sock))
        env.fake.clear_requests()
        cid = cl.call_async("sandbox.exec", {"sandbox_id": sid,
                                             "cmd": "sleep",
                                             "args": ["60"]})
        q = settle(lambda: len(upstream_execs(["60"])), 1, 20)
        t.eq(q, 1, "the exec reached the control plane")
        cl.cancel(cid)
        r = cl.wait_reply(cid)
        t.eq(dig(r, "error", "code"), -32800, "$/cancel -> -32800")
        t.eq(dig(r, "error", "data", "code"), "cancelled",
             "$/cancel -> data.code cancelled")
        gone = settle(lambda: [e["client_gone"]
                               for e in upstream_execs(["60"])], [True],
                      20)
        t.eq(gone, [True], "$/cancel closes the upstream request at once "
             "(the control plane sees the client go)")
        cl.cancel(cid)  # already finished: no-op
        cl.cancel(12345)  # unknown: no-op
        r = cl.call("rpc.describe", {"method": "daemon.status"})
        t.has(r, "result", "cancel of unknown ids is a no-op")
        t.eq(cl.pending, [], "and no second reply came for the cancelled "
             "call")

    # max_inflight: the 9th call waits (reading paused), all finish
    with t.case("max_inflight"), Opened() as keep:
        sid = sandbox()
        cl = keep(Client(sock))
        ids = [cl.call_async("sandbox.exec",
                             {"sandbox_id": sid, "cmd": "sleep",
                              "args": ["0.3"]}) for _ in range(12)]
        rs = [cl.wait_reply(i) for i in ids]
        t.eq([dig(r, "result", "exit_code") for r in rs], [0] * 12,
             "12 calls over max_inflight=8 all complete")

    # half-close: requests sent, then shutdown(SHUT_WR); replies still come
    with t.case("half-close"), Opened() as keep:
        hc = keep(Client(sock))
        hid = hc.call_async("sandbox.exec", {"sandbox_id": sandbox(),
                                             "cmd": "echo",
                                             "args": ["half"]})
        hc.s.shutdown(socket.SHUT_WR)
        r = hc.wait_reply(hid)
        t.eq(dig(r, "result", "stdout"), "half\n",
             "half-closed client still gets its reply")
        t.ok(hc.closed(5), "then the daemon closes")

    # full disconnect mid-call cancels it; daemon stays healthy
    with t.case("a client that vanishes mid-call"), Opened() as keep:
        sid = sandbox()
        env.fake.clear_requests()
        dc = keep(Client(sock))
        dc.call_async("sandbox.exec", {"sandbox_id": sid, "cmd": "sleep",
                                       "args": ["61"]})
        n = settle(lambda: len(upstream_execs(["61"])), 1, 20)
        t.eq(n, 1, "the exec reached the control plane")
        t.eq(inflight(), 2, "the exec is in flight (with the status call)")
        dc.close()
        t.eq(settle(inflight, 1, 20), 1,
             "a vanished client's calls are dropped")
        gone = settle(lambda: [e["client_gone"]
                               for e in upstream_execs(["61"])], [True],
                      20)
        t.eq(gone, [True], "and its upstream request is closed")

    # a partial line that never completes times out (line-timeout=1s)
    with t.case("partial line"), Opened() as keep:
        pl = keep(Client(sock))
        pl.send_raw(b'{"jsonrpc":"2.0"')
        t.ok(pl.closed(5), "partial line times out")

    # a client that never reads does not slow others
    with t.case("a client that never reads"), Opened() as keep:
        stuck = keep(Client(sock))
        for i in range(200):
            stuck.call_async("rpc.describe", {})
        good = keep(Client(sock))
        r = good.call("sandbox.exec", {"sandbox_id": sandbox(),
                                       "cmd": "echo", "args": ["ok"]})
        t.eq(dig(r, "result", "stdout"), "ok\n",
             "others are served while one client does not read")

    # many concurrent clients, each with several calls in flight
    with t.case("40 concurrent clients"):
        sid = sandbox()
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
                    if dig(r, "result", "stdout") != "w%d-%d\n" % (n, k):
                        errors.append(r)
                cl2.close()
            except Exception as ex:  # noqa: BLE001
                errors.append(repr(ex))

        ths = [threading.Thread(target=worker, args=(n,)) for n in range(40)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)
        t.eq(errors[:5], [],
             "40 clients x 5 calls each get their own answers")

    with t.case("the daemon still answers"), Opened() as keep:
        r = keep(Client(sock)).call("daemon.status")
        t.ok((dig(r, "result", "counts", "clients") or 0) >= 1,
             "daemon still answers", r)
finally:
    env.close(t)
sys.exit(t.done())
