# SPDX-License-Identifier: MIT
"""wrennctl pty on a real terminal: each case runs wrennctl in a tmux
pane of its own (a private tmux server, killed at the end of the case)
against the capsules fake. A shell runs commands and gets Ctrl-C as a
byte; the size is the pane's and follows a resize; Enter ~. detaches
(exit 0, the terminal back in cooked mode, the session left in wrennd)
and --attach brings it back by stream id (with replay) and by
SANDBOX:TAG; ~~ types one ~; the shell's exit status is wrennctl's; a
SIGTERM restores the terminal. Piped stdin works without a terminal;
bad --attach arguments, a gone tag and a 172413e server give clear
errors. tmux is required: without it the test fails."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENNCTL, Env, Opened, Tap, scaled,  # noqa: E402
                     wait_for, wrennctl)

t = Tap()
TMUX = shutil.which("tmux")
env = Env(dialect="capsules")
old = Env(dialect="sandboxes")

# What the pane runs: wrennctl (its pid in "pid", as the inner sh execs
# it), then its exit status and the terminal's settings after it.
RUN_SH = """cd %(dir)s
sh -c 'echo $$ >pid; exec "$@"' sh %(cmd)s
echo $? >rc.new
stty -a >stty.new 2>&1
mv stty.new stty
mv rc.new rc
exec sleep 3600
"""


class Term:
    """A tmux server of our own (-L) with one cols x rows pane running
    wrennctl ARGS."""
    count = 0

    def __init__(self, args, sock=None, cols=100, rows=30):
        Term.count += 1
        self.dir = os.path.join(env.tmp, "term%d" % Term.count)
        os.mkdir(self.dir)
        self.name = "wrennctl-pty-%d-%d" % (os.getpid(), Term.count)
        self.env = dict(os.environ, TMUX_TMPDIR=self.dir)
        self.env.pop("TMUX", None)
        cmd = " ".join(shlex.quote(a) for a in
                       [WRENNCTL, "--socket", sock or env.sock] + args)
        with open(os.path.join(self.dir, "run.sh"), "w") as f:
            f.write(RUN_SH % {"dir": shlex.quote(self.dir), "cmd": cmd})
        self.tmux("new-session", "-d", "-x", str(cols), "-y", str(rows),
                  "sh " + shlex.quote(os.path.join(self.dir, "run.sh")))

    def tmux(self, *args):
        return subprocess.run([TMUX, "-L", self.name, "-f", "/dev/null"] +
                              list(args), env=self.env, check=True,
                              capture_output=True, text=True,
                              timeout=scaled(30)).stdout

    def close(self):
        subprocess.run([TMUX, "-L", self.name, "kill-server"],
                       env=self.env, capture_output=True, timeout=30)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-J", "-S", "-2000")

    def wait_screen(self, pattern, what):
        """Until the pane shows pattern; returns the match."""
        try:
            wait_for(lambda: re.search(pattern, self.screen()), timeout=60,
                     step=0.05, what=what)
        except TimeoutError as e:
            raise TimeoutError("%s; the pane shows:\n%s" %
                               (e, self.screen().rstrip())) from None
        return re.search(pattern, self.screen())

    def type(self, text, enter=True):
        self.tmux("send-keys", "-l", text)
        if enter:
            self.tmux("send-keys", "Enter")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def file(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def pid(self):
        return int(wait_for(lambda: (self.file("pid") or "").strip(),
                            timeout=30, what="wrennctl's pid"))

    def exit_status(self):
        """wrennctl's exit status once it has ended."""
        return int(wait_for(lambda: self.file("rc"), timeout=60,
                            what="wrennctl's exit"))

    def stty_now(self):
        """The pane's terminal settings while wrennctl runs."""
        tty = self.tmux("display-message", "-p", "#{pane_tty}").strip()
        return subprocess.run(["stty", "-a", "-F", tty], capture_output=True,
                              text=True, timeout=30).stdout


def flags(stty):
    """The set of words of stty -a output (icanon, -icanon, echo, ...)."""
    return set(stty.split())


def stream_row(cl, stream_id):
    rows = [s for s in cl.call("streams.list")["result"]
            if s["stream_id"] == stream_id]
    return rows[0] if rows else None


HINT = r"re-attach with: wrennctl pty --attach (st-[0-9a-f]+) " \
       r"\(or --attach ([^ :]+):(pty-[0-9a-f]{8})\)"


def shell(keep, *args):
    """wrennctl pty SID -- /bin/sh in a new pane, its shell ready."""
    term = keep(Term(["pty", sid] + list(args) + ["--", "/bin/sh"]))
    term.type("echo ready-$((40+2))")
    term.wait_screen(r"ready-42", "the shell answers")
    return term


def leave(term, what):
    """exit in the shell: wrennctl exits 0."""
    term.type("exit")
    t.eq(term.exit_status(), 0, "wrennctl exits 0 after " + what)


def detached(keep):
    """A shell with X=42 set, detached with Enter ~.: (term, stream id,
    tag)."""
    term = shell(keep)
    term.type("X=4$((1+1)); echo set-$X")
    term.wait_screen(r"set-42", "the variable set")
    term.keys("Enter")
    term.type("~.", enter=False)
    t.eq(term.exit_status(), 0, "detach: wrennctl exits 0")
    m = term.wait_screen(HINT, "the re-attach hint")
    keep.later(c.call, "sandbox.kill", {"sandbox_id": sid,
                                        "selector": m.group(3)})
    keep.later(c.call, "streams.stop", {"stream_id": m.group(1)})
    return term, m.group(1), m.group(3)


try:
    with t.case("tmux is installed"):
        t.ok(TMUX is not None, "tmux is on PATH (scripts/deps.sh installs "
             "it)", os.environ.get("PATH"))
    if TMUX is None:
        raise SystemExit(t.done() or 1)
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]

    with t.case("a shell runs commands, raw mode while attached"), \
            Opened() as keep:
        term = shell(keep)
        now = flags(term.stty_now())
        t.has(now, "-icanon", "attached: the terminal is raw (-icanon)")
        t.has(now, "-echo", "attached: the terminal is raw (-echo)")
        term.type("sleep 300")
        term.keys("C-c")
        term.type("echo after-$((1+2))")
        t.ok(term.wait_screen(r"after-3", "Ctrl-C reached the shell"),
             "Ctrl-C is a byte for the program, not a signal for wrennctl")
        leave(term, "the shell case")

    with t.case("the size: initial, then after a resize"), Opened() as keep:
        term = shell(keep)
        term.type("stty size")
        t.ok(term.wait_screen(r"(?m)^30 100\s*$", "stty size"),
             "the PTY has the pane's size (30 rows, 100 columns)")
        term.tmux("resize-window", "-x", "120", "-y", "40")
        last = [0.0]

        def resized():
            # The SIGWINCH travels on its own: ask again until it is in.
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                term.type("stty size")
            return re.search(r"(?m)^40 120\s*$", term.screen())
        t.ok(wait_for(resized, timeout=60, step=0.05, what="resized"),
             "after the pane's resize the PTY has the new size")
        leave(term, "the resize case")

    with t.case("detach, then re-attach by stream id"), Opened() as keep:
        term, st, tag = detached(keep)
        after = flags(term.file("stty"))
        t.has(after, "icanon", "after the detach: icanon is back")
        t.has(after, "echo", "after the detach: echo is back")
        row = stream_row(c, st) or {}
        t.eq(row.get("detached"), True, "the session is in streams.list, "
             "detached")
        t.eq(row.get("state"), "running", "the detached session runs on")
        t.eq(row.get("tag"), tag, "the hint's tag is the session's")
        back = keep(Term(["pty", "--attach", st]))
        t.ok(back.wait_screen(r"set-42", "replay"),
             "re-attached by stream id: the earlier output is replayed")
        back.type("echo val=$X")
        t.ok(back.wait_screen(r"val=42", "the variable"),
             "re-attached by stream id: the shell kept its variable")
        back.type("exit 4")
        t.eq(back.exit_status(), 4,
             "the re-attached shell's exit status is wrennctl's")

    with t.case("re-attach by SANDBOX:TAG"), Opened() as keep:
        term, st, tag = detached(keep)
        back = keep(Term(["pty", "--attach", "%s:%s" % (sid, tag)]))
        back.type("echo val=$X")
        t.ok(back.wait_screen(r"val=42", "the variable by tag"),
             "re-attached by tag: the shell kept its variable")
        leave(back, "the tag case")

    with t.case("~~ types one ~"), Opened() as keep:
        term = shell(keep)
        term.type("read v; echo \"got[$v]\"")
        term.type("~~x")
        t.ok(term.wait_screen(r"got\[~x\]", "the line read"),
             "~~ at a line start sends one ~")
        leave(term, "the ~~ case")

    with t.case("exit 3 in the shell: wrennctl exits 3"), Opened() as keep:
        term = shell(keep)
        term.type("exit 3")
        t.eq(term.exit_status(), 3, "wrennctl's exit status is the shell's")
        after = flags(term.file("stty"))
        t.has(after, "icanon", "after the exit: icanon is back")
        t.has(after, "echo", "after the exit: echo is back")

    with t.case("SIGTERM restores the terminal"), Opened() as keep:
        term = shell(keep)
        os.kill(term.pid(), signal.SIGTERM)
        t.eq(term.exit_status(), 128 + signal.SIGTERM,
             "wrennctl dies of the SIGTERM")
        after = flags(term.file("stty"))
        t.has(after, "icanon", "after SIGTERM: icanon is back")
        t.has(after, "echo", "after SIGTERM: echo is back")

    with t.case("piped stdin, no terminal"), Opened():
        rc, out, err = wrennctl(env.sock, "pty", sid, "--", "/bin/sh",
                                input=b"echo piped-$((6*7))\nexit 5\n")
        t.eq(rc, 5, "piped: wrennctl exits with the shell's status")
        t.has(out.decode(errors="replace"), "piped-42",
              "piped: the shell's output on stdout")
        rc, out, err = wrennctl(env.sock, "pty", sid, "--", "/bin/sh",
                                input=b"echo eof-$((2*4))\n")
        t.eq(rc, 0, "piped: the end of stdin ends the shell (Ctrl-D)")
        t.has(out.decode(errors="replace"), "eof-8",
              "piped: the output before the end")

    with t.case("bad --attach arguments"), Opened():
        rc, out, err = wrennctl(env.sock, "pty", "--attach", "pty-1234abcd")
        t.eq(rc, 2, "--attach TAG without its sandbox: usage error")
        t.has(err, "a tag needs its sandbox", "the usage error says why")
        rc, out, err = wrennctl(env.sock, "pty", "--attach", "st-1", sid)
        t.eq(rc, 2, "--attach with a SANDBOX too: usage error")
        rc, out, err = wrennctl(env.sock, "pty", "--attach",
                                "%s:pty-00000000" % sid)
        t.eq(rc, 1, "--attach to a gone tag: exit 1")
        t.has(err, "no PTY 'pty-00000000'", "the error names the tag")
        rc, out, err = wrennctl(env.sock, "pty", "--attach", "st-0000")
        t.eq(rc, 1, "--attach to an unknown stream: exit 1")
        t.has(err, "stream st-0000 not found", "the error names the stream")

    with t.case("172413e server: unsupported"), Opened():
        o = old.client()
        osid = o.call("sandboxes.create", {})["result"]["id"]
        o.close()
        rc, out, err = wrennctl(old.sock, "pty", osid, input=b"")
        t.eq(rc, 1, "pty on 172413e: exit 1")
        t.has(err, "sandbox.pty needs a control plane",
              "pty on 172413e: says what it needs")
    c.close()
finally:
    env.close(t)
    old.close(t)
sys.exit(t.done())
