# SPDX-License-Identifier: MIT
"""wrennctl ls, mkdir, rm and usage against both servers: the v0.1.5
routes and the 172413e polyfill. ls prints a table like ls -l (sorted,
sizes right-aligned, a symlink with its target, control characters as
'?' on a terminal), mkdir makes parents, rm refuses a directory without
-r and a missing path without -f and never the root or the home (nothing
sent), usage shows the server's days as a table or says the older server
lacks it."""
import datetime
import json
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENNCTL, Client, Env, Opened, Tap, Wrennd,  # noqa: E402
                     dig, wrennctl)

t = Tap()
MTIME = 1700000000
TREE = ("rm -rf tree && mkdir -p tree/sub && printf hello > tree/b && "
        "printf x > 'tree/a file' && printf abc > tree/sub/f && "
        "ln -s sub tree/link && chmod 640 tree/b && "
        "touch -h -d @%d tree/* tree/sub/f" % MTIME)


def sh(cl, sid, script):
    r = cl.call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                 "args": ["-c", script]})
    return dig(r, "result", "exit_code")


def names(cl, sid, path):
    r = cl.call("sandbox.list_files", {"sandbox_id": sid, "path": path})
    return sorted(e.get("name") for e in dig(r, "result", "entries") or [])


def on_tty(sock, *args):
    """Run wrennctl with stdout on a pseudo-terminal: (exit code, text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([WRENNCTL, "--socket", sock] + list(args),
                         stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(30), out.decode(errors="replace")


def cases(label, env, sock, cl, sid):
    sb = sid + ":"

    with t.case("%s: ls -l" % label), Opened():
        t.eq(sh(cl, sid, TREE), 0, "%s: the tree is made" % label)
        rc, out, err = wrennctl(sock, "ls", sb + "tree")
        t.eq(rc, 0, "%s: ls exits 0 (%s)" % (label, err.strip()))
        lines = out.decode().splitlines()
        t.eq([ln.split()[-1] for ln in lines],
             ["file", "b", "/root/tree/sub", "sub"],
             "%s: ls: one line an entry, sorted by name" % label)
        t.eq(lines[1].split()[0] if len(lines) > 1 else None, "-rw-r-----",
             "%s: ls: the permissions come first" % label)
        t.eq(lines[2].split()[-3:] if len(lines) > 2 else None,
             ["link", "->", "/root/tree/sub"],
             "%s: ls: a symlink shows its target" % label)
        sizes = [ln.split()[3] for ln in lines]
        t.eq(sizes[:2], ["1", "5"], "%s: ls: the sizes" % label)
        col = {ln.index(" " + s + " ") + len(s) for ln, s in
               zip(lines, sizes)}
        t.eq(len(col), 1, "%s: ls: sizes end in one column (%s)"
             % (label, sorted(col)))

    with t.case("%s: ls -q, -d and --json" % label), Opened():
        rc, out, err = wrennctl(sock, "ls", "-q", "-d", "2", sb + "tree")
        t.eq(out.decode().splitlines(),
             ["a file", "b", "link", "sub", "sub/f"],
             "%s: ls -q -d 2: names below the directory" % label)
        rc, out, err = wrennctl(sock, "--json", "ls", sb + "tree")
        t.eq(sorted(e.get("name") for e in
                    json.loads(out).get("entries", [])),
             ["a file", "b", "link", "sub"],
             "%s: ls --json: the method's result" % label)
        rc, out, err = wrennctl(sock, "ls", "-q", sb)
        t.has(out.decode().splitlines(), "tree",
              "%s: ls SANDBOX: lists the home" % label)

    with t.case("%s: ls on a terminal" % label), Opened():
        t.eq(sh(cl, sid, "rm -rf esc && mkdir esc && "
                "touch \"esc/$(printf 'a\\033]0;x\\007b')\""), 0,
             "%s: a file with escapes in its name is made" % label)
        rc, out = on_tty(sock, "ls", "-q", sb + "esc")
        t.eq(rc, 0, "%s: ls on a terminal exits 0" % label)
        t.eq(out.strip(), "a?]0;x?b",
             "%s: control characters are shown as '?'" % label)

    with t.case("%s: mkdir" % label), Opened():
        rc, out, err = wrennctl(sock, "mkdir", sb + "tree/n1/n2",
                                sb + "tree/m")
        t.eq(rc, 0, "%s: mkdir exits 0 (%s)" % (label, err.strip()))
        t.eq(out, b"", "%s: mkdir is silent" % label)
        t.eq(names(cl, sid, "tree/n1"), ["n2"],
             "%s: mkdir made the parents" % label)
        t.has(names(cl, sid, "tree"), "m",
              "%s: mkdir made the second directory" % label)
        rc, out, err = wrennctl(sock, "mkdir", sb + "tree/b")
        t.eq(rc, 1, "%s: mkdir of a file exits 1" % label)

    with t.case("%s: rm" % label), Opened():
        rc, out, err = wrennctl(sock, "rm", sb + "tree/sub")
        t.eq(rc, 1, "%s: rm of a directory without -r exits 1" % label)
        t.has(err, "is a directory", "%s: rm says it is a directory"
              % label)
        t.has(names(cl, sid, "tree"), "sub",
              "%s: the directory is still there" % label)
        rc, out, err = wrennctl(sock, "rm", sb + "tree/link")
        t.eq(rc, 0, "%s: rm of a symlink to a directory exits 0 (%s)"
             % (label, err.strip()))
        t.eq(names(cl, sid, "tree/sub"), ["f"],
             "%s: rm took the link, not its target's files" % label)
        rc, out, err = wrennctl(sock, "rm", "-r", sb + "tree/sub",
                                sb + "tree/b")
        t.eq(rc, 0, "%s: rm -r exits 0 (%s)" % (label, err.strip()))
        t.eq(names(cl, sid, "tree"), ["a file", "m", "n1"],
             "%s: rm -r removed the directory and the file" % label)
        rc, out, err = wrennctl(sock, "rm", sb + "tree/nope")
        t.eq(rc, 1, "%s: rm of a missing path exits 1" % label)
        t.has(err, "no such file", "%s: rm says it is not there" % label)
        rc, out, err = wrennctl(sock, "rm", "-f", sb + "tree/nope")
        t.eq(rc, 0, "%s: rm -f of a missing path exits 0" % label)

    with t.case("%s: refused locally" % label), Opened():
        env.fake.clear_requests()
        for args in (["rm", "-r", sb + "/"], ["rm", "-r", sb + "~"],
                     ["rm", "-r", sb], ["ls", "tree"],
                     ["mkdir", "nosandbox"]):
            rc, out, err = wrennctl(sock, *args)
            t.eq(rc, 2, "%s: wrennctl %s exits 2" % (label, " ".join(args)))
        t.eq(env.fake.requests(), [], "%s: refused locally: nothing sent"
             % label)


env = Env(dialect="capsules", start_wrennd=False)
old = Env(dialect="sandboxes", start_wrennd=False)
try:
    env.wrennd = Wrennd(env.tmp, env.fake.url, api_key=env.seed["api_key"])
    old.wrennd = Wrennd(old.tmp, old.fake.url, api_key=old.seed["api_key"])
    c = Client(env.wrennd.sock)
    o = Client(old.wrennd.sock)
    sid = c.call("sandboxes.create", {})["result"]["id"]
    osid = o.call("sandboxes.create", {})["result"]["id"]

    cases("v0.1.5", env, env.wrennd.sock, c, sid)
    cases("172413e polyfill", old, old.wrennd.sock, o, osid)

    with t.case("usage on v0.1.5"), Opened():
        today = datetime.datetime.now(datetime.timezone.utc).date()
        day = (today - datetime.timedelta(days=3)).isoformat()
        env.fake.ctl("POST", "usage", {"date": day, "cpu_minutes": 12.5,
                                       "ram_mb_minutes": 2048})
        rc, out, err = wrennctl(env.wrennd.sock, "usage", "--from", day,
                                "--to", day)
        t.eq(rc, 0, "usage exits 0 (%s)" % err.strip())
        lines = out.decode().splitlines()
        t.has(lines, "from: " + day, "usage shows from")
        t.ok(any(ln.split()[:1] == ["DATE"] for ln in lines),
             "usage has a table of days", lines)
        t.ok(any(ln.split() == [day, "12.5", "2048"] for ln in lines),
             "usage shows the day's minutes", lines)

    with t.case("usage on 172413e"), Opened():
        old.fake.clear_requests()
        rc, out, err = wrennctl(old.wrennd.sock, "usage")
        t.eq(rc, 1, "usage on 172413e exits 1")
        t.has(err, "v0.1.5", "usage on 172413e names the server needed")
        t.eq(old.fake.requests(), [], "usage on 172413e: nothing sent")
finally:
    c.close()
    o.close()
    env.close(t)
    old.close(t)
sys.exit(t.done())
