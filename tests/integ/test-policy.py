# SPDX-License-Identifier: MIT
"""Roles and the tool policy with real users (issue 9). The test creates
users and groups (useradd, groupadd; unique names per run, removed at the
end even on failure) and runs its clients as them (setpriv --reuid
--regid --init-groups, so the groups come from the group database as for
a login): a user allowed nowhere is refused at accept, a member of
allow-groups is a user, a member of admin-group an admin; a tool cannot
call api_keys.list (nothing sent upstream) nor see or destroy another
tool's sandbox; and sandboxes.create on the tool socket is held to the
policy-file (templates, max-sandboxes counted with creates in flight and
freed by a destroy, max-vcpus, max-memory-mb, max-timeout-sec, a match
group block), refused with policy_denied and nothing sent; SIGHUP
reloads the policy and a bad file keeps the old one.

The cases SKIP with the reason when not run as root."""
import os
import shutil
import signal
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENND, Client, Env, Tap, Wrennd, dig,  # noqa
                     peer_calls, sanitizer_clean, wait_for)

t = Tap()

TOOLS = ("useradd", "groupadd", "userdel", "groupdel", "setpriv")
if os.geteuid() != 0 or any(shutil.which(x) is None for x in TOOLS):
    t.ok(True, "# SKIP policy: needs root, useradd, groupadd and setpriv "
         "to run clients as real users")
    sys.exit(t.done())

RUN = uuid.uuid4().hex[:6]
G_USERS, G_ADMIN, G_WIDE = ("wp%s%s" % (RUN, g) for g in "uaw")
U_NONE, U_USER, U_ADMIN, T_A, T_B, T_WIDE = (
    "wp%s%s" % (RUN, u) for u in ("n", "m", "d", "ta", "tb", "tw"))
T_LEASE = "wp%stl" % RUN
made_users, made_groups = [], []


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def make_group(name):
    sh("groupadd", name)
    made_groups.append(name)


def make_user(name, groups=()):
    """A user with its own primary group and the supplementary groups."""
    cmd = ["useradd", "-M", "-U", "-s", "/usr/sbin/nologin"]
    if groups:
        cmd += ["-G", ",".join(groups)]
    sh(*cmd, name)
    made_users.append(name)


def cleanup():
    for u in made_users:
        subprocess.run(["userdel", u], capture_output=True, timeout=120)
    for g in made_groups:
        subprocess.run(["groupdel", g], capture_output=True, timeout=120)


def as_user(name, sock, calls=()):
    """Run calls as the user name, all in flight at once (a create and a
    destroy of one connection race)."""
    return peer_calls(["--reuid=" + name, "--regid=" + name,
                       "--init-groups"], sock, calls, together=True,
                      timeout=300)


def err_code(reply):
    return dig(reply, "error", "data", "code")


def created(reply):
    return dig(reply, "result", "id")


POLICY = """\
# every tool: small sandboxes of two templates, at most two at a time
templates minimal,python
max-sandboxes 2
max-vcpus 2
max-memory-mb 1024
max-timeout-sec 600

match group %s
\tmax-sandboxes 3
\tmax-vcpus 4

match user %s
\tmax-sandboxes 1
\trequire-lease yes
""" % (G_WIDE, T_LEASE)

env = None
try:
    make_group(G_USERS)
    make_group(G_ADMIN)
    make_group(G_WIDE)
    make_user(U_NONE)
    make_user(U_USER, [G_USERS])
    make_user(U_ADMIN, [G_ADMIN])
    make_user(T_A)
    make_user(T_B)
    make_user(T_WIDE, [G_WIDE])
    make_user(T_LEASE)

    env = Env(start_wrennd=False)
    fake = env.fake
    d = os.path.join(env.tmp, "s")
    os.mkdir(d)
    os.chmod(env.tmp, 0o711)
    os.chmod(d, 0o711)
    ctl = os.path.join(d, "control.sock")
    tool = os.path.join(d, "tool.sock")
    pfile = os.path.join(env.tmp, "policy.conf")
    cfile = os.path.join(env.tmp, "wrennd.conf")
    with open(pfile, "w") as f:
        f.write(POLICY)
    with open(cfile, "w") as f:
        f.write("socket-mode 0666\nallow-groups %s\nadmin-group %s\n"
                "tool-socket \"%s\"\npolicy-file \"%s\"\n"
                % (G_USERS, G_ADMIN, tool, pfile))
    w = Wrennd(env.tmp, fake.url, api_key=env.seed["api_key"],
               socket_path=ctl, args=["--config", cfile])
    admin = Client(ctl)

    def destroy_all():
        for sb in dig(admin.call("sandboxes.list"), "result") or []:
            admin.call("sandboxes.destroy", {"sandbox_id": sb["id"]})

    with t.case("a user allowed nowhere is refused at accept"):
        out = as_user(U_NONE, ctl, [("daemon.status", {})])
        t.eq(err_code(out["first"]), "permission_denied",
             "the one line says permission_denied")
        t.eq(out["eof"], True, "the connection is closed after it")

    with t.case("a member of allow-groups is a user"):
        out = as_user(U_USER, ctl, [("daemon.status", {}),
                                    ("api_keys.list", {})])
        t.eq(dig(out, "first", "params", "peer", "role"), "user",
             "the greeting says user")
        t.eq(dig(out["calls"][0], "result", "peer", "role"), "user",
             "daemon.status says user")
        t.eq(err_code(out["calls"][1]), "permission_denied",
             "a user is refused api_keys.list")

    with t.case("a member of admin-group is admin"):
        out = as_user(U_ADMIN, ctl, [("daemon.status", {})])
        t.eq(dig(out, "first", "params", "peer", "role"), "admin",
             "the greeting says admin")

    with t.case("a tool cannot call api_keys.list"):
        fake.clear_requests()
        out = as_user(T_A, tool, [("api_keys.list", {})])
        t.eq(dig(out, "first", "params", "peer", "role"), "tool",
             "the greeting says tool")
        t.eq(dig(out["calls"][0], "error", "code"), -32001,
             "api_keys.list -> -32001")
        t.eq(err_code(out["calls"][0]), "permission_denied",
             "api_keys.list -> permission_denied")
        t.eq([q["path"] for q in fake.requests()], [],
             "the upstream request log is empty")

    with t.case("a tool cannot see or destroy another tool's sandbox"):
        a = as_user(T_A, tool, [("sandboxes.create",
                                 {"timeout_sec": 60})])
        sa = created(a["calls"][0])
        t.ok(sa is not None, "tool A creates a sandbox", a["calls"][0])
        fake.clear_requests()
        b = as_user(T_B, tool, [("sandboxes.get", {"sandbox_id": sa}),
                                ("sandboxes.destroy", {"sandbox_id": sa}),
                                ("sandboxes.list", {})])
        t.eq(err_code(b["calls"][0]), "not_found", "B's get -> not_found")
        t.eq(err_code(b["calls"][1]), "not_found",
             "B's destroy -> not_found")
        t.eq(dig(b["calls"][2], "result"), [],
             "B's sandboxes.list is empty")
        t.eq([q["path"] for q in fake.requests()], [fake.sandboxes_path],
             "only B's list reached the control plane")
        t.eq(dig(admin.call("sandboxes.get", {"sandbox_id": sa}),
                 "result", "status"), "running",
             "A's sandbox is still running")
        destroy_all()

    def denied(user, params, limit, value, allowed):
        """A create as user refused by limit, nothing sent upstream."""
        fake.clear_requests()
        r = as_user(user, tool, [("sandboxes.create", params)])["calls"][0]
        t.eq(dig(r, "error", "code"), -32001, "%s: -32001" % limit)
        t.eq(err_code(r), "policy_denied", "%s: policy_denied" % limit)
        t.eq(dig(r, "error", "data", "limit"), limit,
             "%s: data.limit" % limit)
        t.eq(dig(r, "error", "data", "value"), value,
             "%s: data.value" % limit)
        t.eq(dig(r, "error", "data", "allowed"), allowed,
             "%s: data.allowed" % limit)
        t.eq([q["path"] for q in fake.requests()], [],
             "%s: nothing sent upstream" % limit)
        return r

    with t.case("policy: a template not allowed"):
        r = denied(T_A, {"template": "ubuntu", "timeout_sec": 60},
                   "templates", "ubuntu", ["minimal", "python"])
        t.ok("'ubuntu'" in dig(r, "error", "message"),
             "the message names the template", r)

    with t.case("policy: max-vcpus, max-memory-mb, max-timeout-sec"):
        denied(T_A, {"vcpus": 3, "timeout_sec": 60}, "max-vcpus", 3, 2)
        denied(T_A, {"memory_mb": 2048, "timeout_sec": 60},
               "max-memory-mb", 2048, 1024)
        denied(T_A, {"timeout_sec": 601}, "max-timeout-sec", 601, 600)
        denied(T_A, {}, "max-timeout-sec", 0, 600)

    with t.case("policy: max-sandboxes counts creates in flight"):
        fake.fault(path="^%s$" % fake.sandboxes_path, method="POST",
                   delay_ms=300, count=3)
        out = as_user(T_A, tool, [("sandboxes.create", {"timeout_sec": 60})
                                  for _ in range(3)])
        ok = [created(r) for r in out["calls"] if created(r)]
        codes = [err_code(r) for r in out["calls"] if not created(r)]
        t.eq(len(ok), 2, "two of three concurrent creates succeed")
        t.eq(codes, ["policy_denied"], "the third is policy_denied")
        fake.clear_faults()
        denied(T_A, {"timeout_sec": 60}, "max-sandboxes", 3, 2)
        out = as_user(T_B, tool, [("sandboxes.create",
                                   {"timeout_sec": 60})])
        t.ok(created(out["calls"][0]) is not None,
             "another tool uid has its own count", out["calls"][0])
        out = as_user(T_A, tool, [
            ("sandboxes.destroy", {"sandbox_id": ok[0]})])
        t.eq(dig(out["calls"][0], "result"), {}, "A destroys one")
        out = as_user(T_A, tool, [("sandboxes.create", {"timeout_sec": 60})])
        t.ok(created(out["calls"][0]) is not None,
             "a destroyed sandbox no longer counts", out["calls"][0])
        destroy_all()

    with t.case("policy: a match group block"):
        out = as_user(T_WIDE, tool, [
            ("sandboxes.create", {"vcpus": 4, "timeout_sec": 60})
            for _ in range(3)])
        t.eq(len([r for r in out["calls"] if created(r)]), 3,
             "three 4-vcpu sandboxes for a member of the group")
        denied(T_WIDE, {"timeout_sec": 60}, "max-sandboxes", 4, 3)
        denied(T_WIDE, {"template": "ubuntu", "timeout_sec": 60},
               "templates", "ubuntu", ["minimal", "python"])
        destroy_all()

    with t.case("policy: require-lease, and a lease's destroy frees a place"):
        denied(T_LEASE, {"timeout_sec": 60}, "require-lease", "none",
               "connection")
        leased = {"timeout_sec": 60, "lease": "connection"}
        out = as_user(T_LEASE, tool, [("sandboxes.create", leased)])
        sl = created(out["calls"][0])
        t.ok(sl is not None, "a leased create is allowed", out["calls"][0])
        # The peer has exited: its connection closed, the lease destroys.
        wait_for(lambda: "lease %s: destroy done" % sl in w.stderr(), 60,
                 0.05, "the lease's destroy")
        out = as_user(T_LEASE, tool, [("sandboxes.create", leased)])
        t.ok(created(out["calls"][0]) is not None,
             "the sandbox its lease destroyed no longer counts",
             out["calls"][0])

    with t.case("policy: users are not held to it"):
        out = as_user(U_USER, ctl, [("sandboxes.create", {"vcpus": 8})])
        t.ok(created(out["calls"][0]) is not None,
             "a user creates an 8-vcpu sandbox", out["calls"][0])
        destroy_all()

    def reload(n):
        w.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: w.stderr().count("SIGHUP:") >= n, 60, 0.05,
                 "reload %d in the log" % n)

    with t.case("SIGHUP: new calls see the new policy"):
        with open(pfile, "w") as f:
            f.write("max-vcpus 1\n")
        reload(1)
        denied(T_A, {"vcpus": 2}, "max-vcpus", 2, 1)
        out = as_user(T_A, tool, [("sandboxes.create",
                                   {"template": "ubuntu-none"})])
        t.eq(err_code(out["calls"][0]), "not_found",
             "templates is no longer limited (the control plane answers)")

    with t.case("SIGHUP: a bad policy file keeps the old one"):
        with open(pfile, "w") as f:
            f.write("max-vcpus 8\nmax-sandboxes lots\n")
        reload(2)
        log = w.stderr()
        t.ok("policy.conf:2: max-sandboxes: 'lots'" in log,
             "the log names the file and line", log[-1000:])
        denied(T_A, {"vcpus": 2}, "max-vcpus", 2, 1)

    admin.close()
    code, text = w.stop()
    t.eq(code, 0, "wrennd exits 0")
    t.ok(sanitizer_clean(text), "no sanitizer report", text[-2000:])

    with t.case("a bad policy file at start is refused with file:line"):
        with open(pfile, "w") as f:
            f.write("templates ok\nmatch user no-such-user-%s\n" % RUN)
        p = subprocess.run(
            [WRENND, "--config", cfile, "--check"],
            capture_output=True, text=True, timeout=120,
            env=dict(os.environ, WRENN_BASE_URL=fake.url))
        t.ok(p.returncode != 0, "wrennd --check fails", p.returncode)
        t.ok("policy.conf:2: match user: no such user" in p.stderr,
             "the message has file and line", p.stderr)
finally:
    if env is not None:
        env.close(t)
    cleanup()
sys.exit(t.done())
