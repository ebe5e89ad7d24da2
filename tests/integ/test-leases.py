#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Leases (sandboxes.create {lease: "connection"}), sandbox.keepalive,
leases.list, the state file across a restart and a reload, retried
actions, lease-on-shutdown, and drain on SIGTERM. The lease holders are
separate processes that are really SIGKILLed; every check on the control
plane waits for the request log to show the condition."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, Client, Env, Opened, Tap, dig,  # noqa: E402
                     settle, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))

# A lease holder: connects, creates a leased sandbox, prints its id, then
# waits (holding the connection) until it is killed or stdin closes.
HOLDER = r"""
import json, sys
sys.path.insert(0, %r)
from harness import Client
c = Client(sys.argv[1])
params = json.loads(sys.argv[2])
r = c.call("sandboxes.create", params)
print(json.dumps(r), flush=True)
ka = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
if ka is not None:
    ka["sandbox_id"] = r["result"]["id"]
    print(json.dumps(c.call("sandbox.keepalive", ka)), flush=True)
sys.stdin.read()
""" % HERE

t = Tap()


class Holder:
    """A process holding a leased sandbox on its own connection."""

    def __init__(self, sock, params=None, keepalive=None):
        p = {"lease": "connection"}
        p.update(params or {})
        args = [PYTHON, "-c", HOLDER, sock, json.dumps(p)]
        if keepalive is not None:
            args.append(json.dumps(keepalive))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.reply = json.loads(self.proc.stdout.readline())
        self.id = dig(self.reply, "result", "id")
        self.ka = None
        if keepalive is not None:
            self.ka = json.loads(self.proc.stdout.readline())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()

    close = kill


def calls(fake, method, path):
    return [e for e in fake.requests()
            if e["method"] == method and e["path"] == path]


def deletes(fake, sid):
    return calls(fake, "DELETE", fake.sandboxes_path + "/" + sid)


def leases(sock):
    c = Client(sock)
    try:
        return dig(c.call("leases.list"), "result", "leases") or []
    finally:
        c.close()


def lease_ids(sock):
    return sorted(e["sandbox_id"] for e in leases(sock))


def new_env(keep, *args, tool=False):
    """A fake control plane and a wrennd with a state directory (and with
    tool, a tool socket at env.tool), both stopped when the case ends."""
    env = Env(start_wrennd=False)
    keep.later(env.close)
    env.state = os.path.join(env.tmp, "state")
    if tool:
        env.tool = os.path.join(env.tmp, "tool.sock")
        args = ("--set", "tool-socket=" + env.tool) + args
    env.start_wrennd(args=["--set", "state-dir=" + env.state] + list(args))
    return env


def restart(env, *args):
    """Stop wrennd with SIGTERM (exit code checked by the caller) and
    start it again on the same state directory."""
    rc, text = env.wrennd.stop()
    env.start_wrennd(args=["--set", "state-dir=" + env.state] + list(args))
    return rc, text


with t.case("SIGKILL of the holder destroys its sandbox"), \
        Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock))
    t.ok(h.id is not None, "leased create answers with the sandbox",
         h.reply)
    t.eq(lease_ids(env.sock), [h.id], "leases.list shows the lease")
    env.fake.clear_requests()
    start = time.monotonic()
    h.kill()
    wait_for(lambda: deletes(env.fake, h.id), 10, what="DELETE")
    took = time.monotonic() - start
    t.ok(took < 1.0, "DELETE seen within one second of the kill",
         "took %.3f s" % took)
    t.eq(settle(lambda: lease_ids(env.sock), []), [],
         "the lease is gone once the sandbox is destroyed")
    st = env.fake.ctl("GET", "sandboxes/" + h.id)
    t.eq(dig(st, "status"), "stopped", "the sandbox is stopped")
    rc, text = env.wrennd.stop()
    t.eq(rc, 0, "wrennd exits 0 on SIGTERM")

with t.case("lease_action pause pauses instead"), Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock, {"lease_action": "pause"}))
    env.fake.clear_requests()
    h.kill()
    path = env.fake.sandboxes_path + "/%s/pause" % h.id
    wait_for(lambda: calls(env.fake, "POST", path), 10, what="pause")
    t.eq(len(deletes(env.fake, h.id)), 0, "no DELETE for a pause lease")
    t.eq(settle(lambda: lease_ids(env.sock), []), [],
         "the pause lease is gone once paused")

with t.case("leases.list fields"), Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock, {"lease_action": "pause"},
                    keepalive={"interval_sec": 30}))
    ls = leases(env.sock)
    t.eq(len(ls), 1, "one lease listed")
    e = ls[0] if ls else {}
    t.eq(e.get("sandbox_id"), h.id, "sandbox_id")
    t.eq(e.get("action"), "pause", "action")
    t.eq(e.get("state"), "held", "state while the owner is connected")
    t.eq(dig(e, "owner", "pid"), h.proc.pid, "owner pid is the holder")
    t.eq(dig(e, "owner", "uid"), os.getuid(), "owner uid")
    t.ok(isinstance(dig(e, "owner", "connection"), int),
         "owner connection id", e)
    t.eq(type(e.get("created_at")), str, "created_at is a string")
    t.ok(str(e.get("created_at")).endswith("Z"), "created_at in UTC",
         e.get("created_at"))
    t.eq(e.get("keepalive_sec"), 30, "keepalive interval")
    t.eq(e.get("attempts"), 0, "no action attempted yet")

with t.case("bad lease params"), Opened() as keep:
    env = new_env(keep)
    c = keep(Client(env.sock))
    env.fake.clear_requests()
    for params, name in (({"lease": "process"}, "lease value"),
                         ({"lease": "connection", "lease_action": "stop"},
                          "lease_action value"),
                         ({"lease_action": "pause"},
                          "lease_action without lease")):
        r = c.call("sandboxes.create", params)
        t.eq(dig(r, "error", "data", "code"), "invalid_params",
             "%s refused" % name)
    t.eq(calls(env.fake, "POST", env.fake.sandboxes_path), [],
         "nothing sent upstream for bad lease params")

with t.case("keepalive pings while open, stops on close"), \
        Opened() as keep:
    env = new_env(keep)
    c = keep(Client(env.sock))
    sid = c.call("sandboxes.create")["result"]["id"]
    path = env.fake.sandboxes_path + "/%s/ping" % sid
    env.fake.clear_requests()
    r = c.call("sandbox.keepalive", {"sandbox_id": sid, "interval_sec": 1})
    t.eq(dig(r, "result", "interval_sec"), 1, "keepalive answers")
    wait_for(lambda: len(calls(env.fake, "POST", path)) >= 3, 15,
             what="three pings")
    times = [e["time"] for e in calls(env.fake, "POST", path)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.ok(all(g >= 0.9 for g in gaps), "pings are an interval apart",
         gaps)
    c.close()
    # The daemon saw the close once leases.list no longer has it.
    wait_for(lambda: lease_ids(env.sock) == [], 10, what="lease gone")
    n = len(calls(env.fake, "POST", path))
    # A second keepalive at the same interval is the clock: once it has
    # pinged three times, the first one would have pinged too.
    c2 = keep(Client(env.sock))
    other = c2.call("sandboxes.create")["result"]["id"]
    opath = env.fake.sandboxes_path + "/%s/ping" % other
    c2.call("sandbox.keepalive", {"sandbox_id": other, "interval_sec": 1})
    wait_for(lambda: len(calls(env.fake, "POST", opath)) >= 3, 15,
             what="three pings of the other sandbox")
    t.eq(len(calls(env.fake, "POST", path)), n,
         "no ping after the connection closed")
    t.eq(len(deletes(env.fake, sid)), 0,
         "a keepalive alone destroys nothing")

with t.case("a tool leases and keeps alive its own sandboxes only"), \
        Opened() as keep:
    env = new_env(keep, tool=True)
    u = keep(Holder(env.sock))
    tl = keep(Holder(env.tool, keepalive={"interval_sec": 1}))
    t.ok(tl.id is not None, "a tool creates a leased sandbox", tl.reply)
    t.eq(dig(tl.ka, "result", "interval_sec"), 1,
         "a tool keeps its own sandbox alive")
    t.eq(lease_ids(env.tool), [tl.id],
         "a tool's leases.list shows only its own lease")
    t.eq(lease_ids(env.sock), sorted([u.id, tl.id]),
         "the control socket's leases.list shows both")
    c = keep(Client(env.tool))
    env.fake.clear_requests()
    r = c.call("sandbox.keepalive", {"sandbox_id": u.id,
                                     "interval_sec": 1})
    t.eq(dig(r, "error", "data", "code"), "not_found",
         "keepalive of another owner's sandbox is not_found")
    t.eq(calls(env.fake, "POST",
               env.fake.sandboxes_path + "/%s/ping" % u.id), [],
         "nothing sent upstream for it")
    wait_for(lambda: calls(env.fake, "POST",
                           env.fake.sandboxes_path + "/%s/ping" % tl.id), 10,
             what="a ping of the tool's sandbox")
    t.eq([(e["action"], e["keepalive_sec"]) for e in leases(env.sock)
          if e["sandbox_id"] == u.id], [("destroy", 0)],
         "the refused keepalive holds nothing")
    tl.kill()
    wait_for(lambda: deletes(env.fake, tl.id), 10, what="DELETE")
    t.eq(len(deletes(env.fake, u.id)), 0,
         "the user's lease is untouched")
    t.eq(settle(lambda: lease_ids(env.sock), [u.id]), [u.id],
         "only the user's lease is left")

with t.case("keepalive of a missing sandbox"), Opened() as keep:
    env = new_env(keep)
    c = keep(Client(env.sock))
    r = c.call("sandbox.keepalive", {"sandbox_id": "cl-" + "0" * 24 + "1",
                                     "interval_sec": 5})
    t.eq(dig(r, "error", "data", "code"), "not_found",
         "keepalive of a missing sandbox is not_found")
    t.eq(lease_ids(env.sock), [], "nothing kept for it")

with t.case("a failing destroy is retried"), Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock))
    env.fake.clear_requests()
    env.fake.fault(path="^%s/%s$" % (env.fake.sandboxes_path, h.id),
                   method="DELETE",
                   status=503, count=2)
    h.kill()
    # An entry is logged when the request arrives; its status once
    # answered.
    wait_for(lambda: [e for e in deletes(env.fake, h.id)
                      if e["status"] == 204], 20, what="answered DELETE")
    st = [e["status"] for e in deletes(env.fake, h.id)]
    t.eq(st, [503, 503, 204], "two failures, then success")
    t.eq(settle(lambda: lease_ids(env.sock), []), [],
         "the lease is gone after the success")

with t.case("restart between create and death destroys once"), \
        Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock))
    rc, text = restart(env)
    t.eq(rc, 0, "wrennd exits 0 on SIGTERM")
    t.eq(deletes(env.fake, h.id), [], "the restart destroyed nothing")
    ls = leases(env.sock)
    t.eq([e["sandbox_id"] for e in ls], [h.id],
         "the lease is back after the restart")
    t.eq(dig(ls, 0, "state"), "watching", "its owner process is watched")
    h.kill()
    wait_for(lambda: deletes(env.fake, h.id), 10, what="DELETE")
    t.eq(settle(lambda: lease_ids(env.sock), []), [], "lease done")
    rc, text = restart(env)
    t.eq(lease_ids(env.sock), [], "nothing left after another restart")
    t.eq(len(deletes(env.fake, h.id)), 1, "exactly one DELETE")

with t.case("owner gone during the restart is acted on once"), \
        Opened() as keep:
    env = new_env(keep)
    h = keep(Holder(env.sock))
    env.wrennd.stop()
    h.kill()
    env.start_wrennd(args=["--set", "state-dir=" + env.state])
    wait_for(lambda: deletes(env.fake, h.id), 10, what="DELETE")
    t.eq(settle(lambda: lease_ids(env.sock), []), [], "lease done")
    restart(env)
    t.eq(len(deletes(env.fake, h.id)), 1, "exactly one DELETE")

with t.case("a pending destroy survives a restart"), Opened() as keep:
    env = new_env(keep)
    keep.later(env.fake.clear_faults)
    h = keep(Holder(env.sock))
    env.fake.fault(path="^%s/%s$" % (env.fake.sandboxes_path, h.id),
                   method="DELETE",
                   status=503)
    h.kill()
    wait_for(lambda: deletes(env.fake, h.id), 10, what="first DELETE")
    env.wrennd.stop()
    env.fake.clear_faults()
    env.start_wrennd(args=["--set", "state-dir=" + env.state])
    wait_for(lambda: [e for e in deletes(env.fake, h.id)
                      if e["status"] == 204], 10, what="DELETE retried")
    t.eq(settle(lambda: lease_ids(env.sock), []), [], "lease done")

with t.case("lease-on-shutdown destroy"), Opened() as keep:
    env = new_env(keep, "--set", "lease-on-shutdown=destroy")
    h = keep(Holder(env.sock))
    rc, text = env.wrennd.stop()
    t.eq(rc, 0, "wrennd exits 0")
    t.eq([e["status"] for e in deletes(env.fake, h.id)], [204],
         "the lease was destroyed before the exit")
    env.start_wrennd(args=["--set", "state-dir=" + env.state])
    t.eq(lease_ids(env.sock), [], "nothing left for the next start")

with t.case("reload keeps leases"), Opened() as keep:
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("poll-interval 400\n")
    conf.close()
    keep.later(os.unlink, conf.name)
    env = new_env(keep, "--config", conf.name)
    h = keep(Holder(env.sock))
    with open(conf.name, "w") as f:
        f.write("poll-interval 300\n")
    env.wrennd.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP" in env.wrennd.stderr(), 10, what="reload")
    t.eq(lease_ids(env.sock), [h.id], "the lease is still there")
    h.kill()
    wait_for(lambda: deletes(env.fake, h.id), 10, what="DELETE")
    t.ok(True, "the lease acts after the reload")

sys.exit(t.done())
