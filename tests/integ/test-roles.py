# SPDX-License-Identifier: MIT
"""Roles by peer credentials and the socket (issue 9), with real different
uids: clients run as other uids through setpriv. A uid that is not
allowed is refused at accept; allow-users makes a user; admin-group makes
an admin; every peer on the tool socket is a tool, which reaches only the
data plane of the sandboxes it created (another tool's answer not_found,
sandboxes.list filtered) and nothing of the account (permission_denied
with nothing sent upstream). Socket modes, and the two sockets told apart
by LISTEN_FDNAMES under socket activation.

The uids are numeric (setpriv needs no passwd entry); the cases SKIP with
the reason when not run as root."""
import os
import shutil
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENND, Client, Env, Opened, Tap,  # noqa
                     Wrennd, dig, peer_calls, sanitizer_clean, wait_for)

t = Tap()

USER = 65531   # in allow-users
OTHER = 65532  # allowed nowhere
ADMIN = 65533  # member of the admin group
ADMIN_GID = 65500
TOOL_A = 65534
TOOL_B = 65530

def as_peer(uid, sock, calls=(), groups=None):
    """Run calls as uid (gid the same, no supplementary groups unless
    groups lists some), one at a time; returns {"first", "calls",
    "eof"}."""
    who = ["--reuid=%d" % uid, "--regid=%d" % uid]
    who += ["--groups=" + ",".join(str(g) for g in groups)] if groups \
        else ["--clear-groups"]
    return peer_calls(who, sock, calls)


def err_code(reply):
    return dig(reply, "error", "data", "code")


def shared_dir(env, name):
    """A directory other uids can traverse, for sockets."""
    d = os.path.join(env.tmp, name)
    os.mkdir(d)
    os.chmod(env.tmp, 0o711)
    os.chmod(d, 0o711)
    return d


def clean_exit(w, what):
    code, text = w.stop()
    t.eq(code, 0, "%s exits 0" % what)
    t.ok(sanitizer_clean(text), "%s: no sanitizer report" % what,
         text[-2000:])


if os.geteuid() != 0 or shutil.which("setpriv") is None:
    t.ok(True, "# SKIP roles: needs root and setpriv to run clients as "
         "other uids")
    sys.exit(t.done())

env = Env(start_wrennd=False)
fake = env.fake
seed = env.seed
try:
    d = shared_dir(env, "s")
    ctl = os.path.join(d, "control.sock")
    tool = os.path.join(d, "tool.sock")
    w = Wrennd(env.tmp, fake.url, token=seed["jwt_owner"],
               socket_path=ctl,
               args=["--set", "socket-mode=0666",
                     "--set", "allow-users=%d" % USER,
                     "--set", "admin-group=%d" % ADMIN_GID,
                     "--set", "tool-socket=" + tool])

    with t.case("a uid not allowed is refused at accept"):
        out = as_peer(OTHER, ctl, [("daemon.status", {})])
        first = out["first"] or {}
        t.eq(err_code(first), "permission_denied",
             "the one line says permission_denied")
        t.ok("allow-users" in dig(first, "error", "message"),
             "the reason names allow-users", first)
        t.eq(out["eof"], True, "the connection is closed after it")
        t.ok("refusing uid %d" % OTHER in w.stderr(),
             "the refusal is logged with the uid")

    with t.case("allow-users gives the user role"):
        out = as_peer(USER, ctl, [("sandboxes.list", {}),
                                  ("daemon.status", {}),
                                  ("api_keys.list", {})])
        t.eq(dig(out, "first", "params", "peer", "role"), "user",
             "greeting role")
        t.ok(isinstance(dig(out["calls"][0], "result"), list),
             "sandboxes.list works", out["calls"][0])
        t.eq(dig(out["calls"][1], "result", "peer", "role"), "user",
             "daemon.status shows the role")
        t.eq(err_code(out["calls"][2]), "permission_denied",
             "api_keys.list still needs admin")

    with t.case("admin-group membership gives the admin role"):
        out = as_peer(ADMIN, ctl, [("daemon.status", {})],
                      groups=[ADMIN_GID])
        t.eq(dig(out, "first", "params", "peer", "role"), "admin",
             "a member of admin-group is greeted as admin")
        t.eq(dig(out["calls"][0], "result", "peer", "role"), "admin",
             "daemon.status says admin")
        out = as_peer(ADMIN, ctl, [])
        t.eq(err_code(out["first"]), "permission_denied",
             "the same uid without the group is refused")

    with t.case("tool: no account methods, nothing sent upstream"):
        fake.clear_requests()
        refused = (("api_keys.list", "admin"), ("hosts.list", "user"),
                   ("sandboxes.get_stats", "user"),
                   ("snapshots.list", "user"), ("teams.list", "user"),
                   ("audit.list", "user"), ("channels.list", "user"))
        out = as_peer(TOOL_A, tool, [(m, {}) for m, _ in refused])
        t.eq(dig(out, "first", "params", "peer", "role"), "tool",
             "a peer on the tool socket is greeted as tool")
        for i, (m, role) in enumerate(refused):
            r = out["calls"][i]
            t.eq(dig(r, "error", "code"), -32001, "%s -> -32001" % m)
            t.eq(err_code(r), "permission_denied",
                 "%s -> permission_denied" % m)
            t.eq(dig(r, "error", "data", "role"), role,
                 "%s -> data.role %s" % (m, role))
        t.eq([q["path"] for q in fake.requests()], [],
             "the control plane received no request")
        out = as_peer(TOOL_A, tool, [("daemon.status", {})])
        t.eq(dig(out["calls"][0], "result", "peer", "role"), "tool",
             "daemon.status shows the tool role")

    with t.case("root on the tool socket is a tool"):
        c = Client(tool)
        t.eq(dig(c.hello, "params", "peer", "role"), "tool",
             "root greeted as tool on the tool socket")
        t.eq(err_code(c.call("api_keys.list")), "permission_denied",
             "and refused api_keys.list")
        c.close()

    with t.case("tools see and touch only their own sandboxes"):
        a = as_peer(TOOL_A, tool, [("sandboxes.create", {})])
        sa = dig(a["calls"][0], "result", "id")
        t.ok(sa is not None, "tool A creates a sandbox", a["calls"][0])
        b = as_peer(TOOL_B, tool, [("sandboxes.create", {})])
        sb = dig(b["calls"][0], "result", "id")
        t.ok(sb is not None, "tool B creates a sandbox", b["calls"][0])
        c = Client(ctl)
        su = dig(c.call("sandboxes.create"), "result", "id")
        fake.clear_requests()
        b = as_peer(TOOL_B, tool, [
            ("sandboxes.get", {"sandbox_id": sa}),
            ("sandboxes.destroy", {"sandbox_id": sa}),
            ("sandbox.exec", {"sandbox_id": sa, "cmd": "true"}),
            ("sandboxes.get", {"sandbox_id": su}),
            ("sandboxes.list", {}),
            ("sandboxes.get", {"sandbox_id": sb})])
        for i, what in enumerate(("get of A's", "destroy of A's",
                                  "exec in A's", "get of a user's")):
            t.eq(err_code(b["calls"][i]), "not_found",
                 "B's %s sandbox -> not_found" % what)
            t.eq(dig(b["calls"][i], "error", "message"),
                 "sandbox not found", "B's %s: the control plane's text"
                 % what)
        t.eq(sorted(x.get("id") for x in dig(b["calls"][4], "result")
                    or []), [sb], "B's sandboxes.list shows only its own")
        t.eq(dig(b["calls"][5], "result", "id"), sb,
             "B gets its own sandbox")
        t.eq([q["path"] for q in fake.requests()],
             [fake.sandboxes_path, fake.sandboxes_path + "/" + sb],
             "only B's own list and get reached the control plane")
        ids = sorted(x.get("id") for x in
                     dig(c.call("sandboxes.list"), "result") or [])
        for who, sid in (("A's", sa), ("B's", sb), ("the user's", su)):
            t.has(ids, sid, "admin's list shows %s sandbox" % who)
        a = as_peer(TOOL_A, tool, [("sandboxes.destroy", {"sandbox_id": sa}),
                                   ("sandboxes.get", {"sandbox_id": sa})])
        t.eq(dig(a["calls"][0], "result"), {}, "A destroys its own")
        t.eq(err_code(a["calls"][1]), "not_found",
             "and then it is gone for A")
        c.call("sandboxes.destroy", {"sandbox_id": sb})
        c.call("sandboxes.destroy", {"sandbox_id": su})
        c.close()

    with t.case("socket modes"):
        t.eq(stat.S_IMODE(os.stat(tool).st_mode), 0o666,
             "the tool socket is 0666 by default")
        t.eq(stat.S_IMODE(os.stat(ctl).st_mode), 0o666,
             "the control socket has socket-mode")
    clean_exit(w, "the shared wrennd")

    with t.case("tool-socket-mode and tool-socket-group"), Opened() as keep:
        d2 = shared_dir(env, "m")
        tool2 = os.path.join(d2, "tool.sock")
        w2 = keep(Wrennd(env.tmp, fake.url, token=seed["jwt_owner"],
                         socket_path=os.path.join(d2, "c.sock"),
                         args=["--set", "tool-socket=" + tool2,
                               "--set", "tool-socket-mode=0660",
                               "--set", "tool-socket-group=%d" % ADMIN_GID]))
        st = os.stat(tool2)
        t.eq(stat.S_IMODE(st.st_mode), 0o660, "tool-socket-mode 0660")
        t.eq(st.st_gid, ADMIN_GID, "tool-socket-group sets the group")
        t.eq(stat.S_IMODE(os.stat(w2.sock).st_mode), 0o600,
             "the control socket stays 0600 by default")
        out = as_peer(TOOL_A, tool2, [], groups=[ADMIN_GID])
        t.eq(dig(out, "first", "params", "peer", "role"), "tool",
             "a member of the socket's group connects as a tool")
        try:
            as_peer(TOOL_A, tool2, [])
            refused = ""
        except RuntimeError as e:
            refused = str(e)
        t.ok("PermissionError" in refused,
             "without the group the 0660 socket cannot be opened", refused)
        clean_exit(w2, "the wrennd with a 0660 tool socket")

    with t.case("socket activation: LISTEN_FDNAMES control and tool"):
        d3 = shared_dir(env, "a")
        socks = []
        for name in ("tool", "control"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(os.path.join(d3, name + ".sock"))
            os.chmod(os.path.join(d3, name + ".sock"), 0o666)
            s.listen(16)
            socks.append(s)
        e = dict(os.environ, WRENN_BASE_URL=fake.url,
                 WRENN_TOKEN=seed["jwt_owner"], LISTEN_FDS="2",
                 LISTEN_FDNAMES="tool:control")
        e.pop("WRENN_API_KEY", None)
        log = open(os.path.join(env.tmp, "activated.log"), "w")
        # fds 3 and 4 in LISTEN_FDNAMES order; LISTEN_PID is the exec'd
        # wrennd's pid, set by the shell that becomes it.
        p = subprocess.Popen(
            ["sh", "-c", 'exec 3<&%d 4<&%d; LISTEN_PID=$$ exec "$0" "$@"'
             % (socks[0].fileno(), socks[1].fileno()), WRENND,
             "--socket", os.path.join(d3, "unused.sock")],
            env=e, pass_fds=[s.fileno() for s in socks], stdout=log,
            stderr=subprocess.STDOUT)
        try:
            ct = Client(os.path.join(d3, "control.sock"))
            t.eq(dig(ct.hello, "params", "peer", "role"), "admin",
                 "root on the fd named control is admin")
            ct.close()
            tt = Client(os.path.join(d3, "tool.sock"))
            t.eq(dig(tt.hello, "params", "peer", "role"), "tool",
                 "root on the fd named tool is a tool")
            tt.close()
            out = as_peer(OTHER, os.path.join(d3, "control.sock"), [])
            t.eq(err_code(out["first"]), "permission_denied",
                 "another uid on the control fd is refused")
        finally:
            p.terminate()
            t.eq(p.wait(60), 0, "the activated wrennd exits 0")
            log.close()
            for s in socks:
                s.close()
finally:
    env.close(t)
sys.exit(t.done())
