# SPDX-License-Identifier: MIT
"""wrennctl's human commands end to end: live exec streams, detach and
attach, cp in both directions (files and stdin/stdout) with verification,
Ctrl-C cancelling a stream, resource tables, confirmations for destructive
commands, help from rpc.describe and the completion script."""
import hashlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import WRENNCTL, Env, Tap, wrennctl  # noqa: E402

t = Tap()
env = Env(cred="both")
try:
    sock = env.sock
    rc, out, err = wrennctl(sock, "-q", "sandbox", "create")
    sid = out.decode().strip()
    t.ok(rc == 0 and sid.startswith("cl-"), "sandbox create -q prints the id",
         (rc, out, err))

    # exec --stream: live output, exit code
    rc, out, err = wrennctl(sock, "exec", "--stream", sid, "--", "/bin/sh",
                            "-c", "echo out; echo err >&2; exit 9")
    t.ok(rc == 9 and out == b"out\n" and "err" in err,
         "exec --stream prints output and exits with the command's code",
         (rc, out, err))

    # detach + attach
    rc, out, err = wrennctl(sock, "exec", "--detach", sid, "--", "/bin/sh",
                            "-c", "echo one; sleep 0.5; echo two; exit 4")
    st = out.decode().strip()
    t.ok(rc == 0 and st.startswith("st-"), "exec --detach prints a stream id",
         (rc, out, err))
    rc, out, err = wrennctl(sock, "attach", st)
    t.ok(rc == 4 and out == b"one\ntwo\n", "attach replays, follows and "
         "exits with the command's code", (rc, out, err))
    rc, out, err = wrennctl(sock, "stream", "list")
    t.ok(rc == 0 and st.encode() in out, "stream list shows it", (out, err))
    rc, out, err = wrennctl(sock, "stream", "stop", st)
    t.ok(rc == 0, "stream stop", err)

    # Ctrl-C cancels a live stream: $/cancel, exit 130
    p = subprocess.Popen([WRENNCTL, "--socket", sock, "exec", "--stream",
                          sid, "--", "sleep", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    for _ in range(200):  # until the stream runs
        rc, out, err = wrennctl(sock, "--json", "stream", "list")
        if b'"running"' in out:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    t.eq(rc, 130, "Ctrl-C during exec --stream exits 130")
    rc, out, err = wrennctl(sock, "--json", "stream", "list")
    t.ok(rc == 0 and b'"running"' not in out, "and the stream is gone",
         out)

    # cp both ways, verified; a file and stdin/stdout
    src = os.path.join(env.tmp, "src.bin")
    data = os.urandom(5 * 1024 * 1024 + 3)
    with open(src, "wb") as f:
        f.write(data)
    rc, out, err = wrennctl(sock, "cp", src, sid + ":cp/in.bin")
    t.ok(rc == 0, "cp LOCAL SANDBOX:PATH", err)
    dst = os.path.join(env.tmp, "dst.bin")
    rc, out, err = wrennctl(sock, "cp", sid + ":cp/in.bin", dst)
    with open(dst, "rb") as f:
        back = f.read()
    t.ok(rc == 0 and back == data, "cp SANDBOX:PATH LOCAL is byte-exact",
         err)
    mask = os.umask(0o022)
    os.umask(mask)
    t.eq(oct(os.stat(dst).st_mode & 0o777), oct(0o644 & ~mask),
         "a downloaded file gets 0644 less the umask")
    rc, out, err = wrennctl(sock, "cp", "-", sid + ":cp/stdin.bin",
                            input=b"from stdin\n")
    rc2, out2, err2 = wrennctl(sock, "cp", sid + ":cp/stdin.bin", "-")
    t.ok(rc == 0 and rc2 == 0 and out2 == b"from stdin\n",
         "cp with - for stdin and stdout", (err, err2))
    rc, out, err = wrennctl(sock, "cp", sid + ":cp/nope.bin",
                            os.path.join(env.tmp, "nope.bin"))
    t.ok(rc == 1 and ("integrity" in err.lower() or "missing" in err),
         "cp of a missing file fails (verification)", (rc, err))
    t.ok(not os.path.exists(os.path.join(env.tmp, "nope.bin")),
         "and leaves no partial file behind")
    env.fake.fault(path="/files/stream/read$", count=1,
                   stream={"action": "truncate", "after_bytes": 1000})
    rc, out, err = wrennctl(sock, "cp", sid + ":cp/in.bin", dst + ".2")
    t.ok(rc == 1 and not os.path.exists(dst + ".2"),
         "a truncated download is refused and not kept", (rc, err))
    env.fake.clear_faults()

    # resource tables, confirmations, has_active_sandboxes hint
    rc, out, err = wrennctl(sock, "snapshot", "list")
    t.ok(rc == 0 and b"minimal" in out and b"NAME" in out.upper(),
         "snapshot list prints a table", (out, err))
    rc, out, err = wrennctl(sock, "team", "list")
    t.ok(rc == 0 and env.seed["team_a"]["id"].encode() in out,
         "team list (JWT route)", (out, err))
    rc, out, err = wrennctl(sock, "--json", "key", "create", "--name", "x")
    t.ok(rc == 0 and b'"key"' in out, "key create --json", (out, err))
    rc, out, err = wrennctl(sock, "team", "rm", env.seed["team_a"]["id"])
    t.ok(rc == 2 and "--yes" in err, "team rm refuses without --yes",
         (rc, err))
    rc, out, err = wrennctl(sock, "sandbox", "get", "cl-" + "0" * 25)
    t.ok(rc == 1 and "not_found" in err and "404" in err,
         "errors for people name the code and status", err)

    # help from rpc.describe, completion
    rc, out, err = wrennctl(sock, "help", "sandbox.exec")
    t.ok(rc == 0 and b"cmd" in out and b"timeout_sec" in out,
         "help METHOD shows the live description", out)
    rc, out, err = wrennctl(sock, "completion", "bash")
    t.ok(rc == 0 and b"complete" in out and b"wrennctl" in out,
         "completion bash prints a script", err)
    # wrennctl(1) documents every command and verb the CLI offers
    with open(os.path.join(os.environ.get("top_srcdir", "."), "docs",
                           "wrennctl.1")) as f:
        man = f.read().replace("\\-", "-")
    missing = []
    rc, out, err = wrennctl(sock, "__complete", "--", "")
    for cmd in out.decode().split():
        if cmd.startswith("-"):
            continue
        if cmd not in man:
            missing.append(cmd)
            continue
        if cmd in ("call", "help"):  # these complete method names
            continue
        rc, sub, err = wrennctl(sock, "__complete", "--", cmd, "")
        for verb in sub.decode().split():
            if not verb.startswith("-") and not verb.startswith("cl-") and \
                    "%s %s" % (cmd, verb) not in man:
                missing.append("%s %s" % (cmd, verb))
    t.eq(missing, [], "wrennctl(1) documents every command and verb")
finally:
    env.close(t)
sys.exit(t.done())
