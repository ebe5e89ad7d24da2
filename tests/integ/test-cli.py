# SPDX-License-Identifier: MIT
"""wrennctl's human commands end to end: live exec streams, detach and
attach, cp in both directions (files and stdin/stdout) with verification,
Ctrl-C cancelling a stream, resource tables, confirmations for destructive
commands, help from rpc.describe and the completion script."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENNCTL, Env, Opened, Tap, Wrennd,  # noqa: E402
                     settle, wrennctl)

t = Tap()
env = Env(cred="both")


def stop_streams():
    """Stop every stream wrennd lists (a case that failed half way
    leaves its streams behind), so the next case starts with none."""
    rc, out, err = wrennctl(env.sock, "-q", "stream", "list")
    for st in out.decode().split():
        wrennctl(env.sock, "stream", "stop", st)


def running_streams():
    rc, out, err = wrennctl(env.sock, "--json", "stream", "list")
    return [s for s in json.loads(out or b"[]")
            if s.get("state") == "running"]


def interrupted(p, timeout=10):
    """Send p SIGINT; its exit status, or None when it did not exit."""
    p.send_signal(signal.SIGINT)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


try:
    sock = env.sock
    # The fixture the cases share: a sandbox, and a local file of 5 MiB.
    rc, out, err = wrennctl(sock, "-q", "sandbox", "create")
    sid = out.decode().strip()
    src = os.path.join(env.tmp, "src.bin")
    data = os.urandom(5 * 1024 * 1024 + 3)
    with open(src, "wb") as f:
        f.write(data)

    with t.case("sandbox create -q"):
        t.eq(rc, 0, "sandbox create -q prints the id (exit status)")
        t.ok(sid.startswith("cl-"), "sandbox create -q prints the id",
             (rc, out, err))

    with t.case("exec --stream"):
        # live output, exit code
        rc, out, err = wrennctl(sock, "exec", "--stream", sid, "--",
                                "/bin/sh", "-c",
                                "echo out; echo err >&2; exit 9")
        t.eq(rc, 9,
             "exec --stream prints output and exits with the command's code "
             "(exit status)")
        t.eq(out, b"out\n",
             "exec --stream prints output and exits with the command's code "
             "(stdout)")
        t.has(err, "err",
              "exec --stream prints output and exits with the command's "
              "code (stderr)")

    with t.case("exec --detach and attach"), Opened() as keep:
        keep.later(stop_streams)
        rc, out, err = wrennctl(sock, "exec", "--detach", sid, "--",
                                "/bin/sh", "-c",
                                "echo one; sleep 0.5; echo two; exit 4")
        st = out.decode().strip()
        t.eq(rc, 0, "exec --detach prints a stream id (exit status)")
        t.ok(st.startswith("st-"), "exec --detach prints a stream id",
             (rc, out, err))
        rc, out, err = wrennctl(sock, "attach", st)
        t.eq(rc, 4,
             "attach replays, follows and exits with the command's code "
             "(exit status)")
        t.eq(out, b"one\ntwo\n",
             "attach replays, follows and exits with the command's code "
             "(stdout)")
        rc, out, err = wrennctl(sock, "stream", "list")
        t.eq(rc, 0, "stream list shows it (exit status)")
        t.has(out, st.encode(), "stream list shows it (stdout)")
        rc, out, err = wrennctl(sock, "stream", "stop", st)
        t.eq(rc, 0, "stream stop exits 0")

    with t.case("Ctrl-C cancels a live stream"), Opened() as keep:
        keep.later(stop_streams)
        # $/cancel, exit 130
        p = subprocess.Popen([WRENNCTL, "--socket", sock, "exec",
                              "--stream", sid, "--", "sleep", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        keep.later(lambda: p.poll() is None and p.kill())
        keep.later(p.stdout.close)
        keep.later(p.stderr.close)
        t.eq(settle(lambda: len(running_streams()), 1), 1,
             "the stream runs")
        t.eq(interrupted(p), 130, "Ctrl-C during exec --stream exits 130")
        rc, out, err = wrennctl(sock, "--json", "stream", "list")
        t.eq(rc, 0, "and the stream is gone (exit status)")
        t.ok(b'"running"' not in out, "and the stream is gone (stdout)", out)

    with t.case("cp both ways, verified"):
        rc, out, err = wrennctl(sock, "cp", src, sid + ":cp/in.bin")
        t.eq(rc, 0, "cp LOCAL SANDBOX:PATH (exit status)")
        dst = os.path.join(env.tmp, "dst.bin")
        rc, out, err = wrennctl(sock, "cp", sid + ":cp/in.bin", dst)
        t.eq(rc, 0, "cp SANDBOX:PATH LOCAL is byte-exact (exit status)")
        with open(dst, "rb") as f:
            back = f.read()
        t.ok(back == data, "cp SANDBOX:PATH LOCAL is byte-exact",
             "got %d bytes, want %d" % (len(back), len(data)))
        mask = os.umask(0o022)
        os.umask(mask)
        t.eq(oct(os.stat(dst).st_mode & 0o777), oct(0o644 & ~mask),
             "a downloaded file gets 0644 less the umask")

    with t.case("cp with - for stdin and stdout"):
        rc, out, err = wrennctl(sock, "cp", "-", sid + ":cp/stdin.bin",
                                input=b"from stdin\n")
        t.eq(rc, 0, "cp - SANDBOX:PATH (exit status)")
        rc, out, err = wrennctl(sock, "cp", sid + ":cp/stdin.bin", "-")
        t.eq(rc, 0, "cp SANDBOX:PATH - (exit status)")
        t.eq(out, b"from stdin\n", "cp with - for stdin and stdout (stdout)")

    with t.case("cp of a missing file fails (verification)"):
        rc, out, err = wrennctl(sock, "cp", sid + ":cp/nope.bin",
                                os.path.join(env.tmp, "nope.bin"))
        t.eq(rc, 1, "cp of a missing file fails (verification) (exit "
             "status)")
        t.ok("integrity" in err.lower() or "missing" in err,
             "cp of a missing file fails (verification)", (rc, err))
        t.ok(not os.path.exists(os.path.join(env.tmp, "nope.bin")),
             "and leaves no partial file behind")

    with t.case("a truncated download is refused"), Opened() as keep:
        keep.later(env.fake.clear_faults)
        rc, out, err = wrennctl(sock, "cp", src, sid + ":cp/trunc.bin")
        t.eq(rc, 0, "the file to download is uploaded (exit status)")
        env.fake.fault(path="/files/stream/read$", count=1,
                       stream={"action": "truncate", "after_bytes": 1000})
        part = os.path.join(env.tmp, "trunc.bin")
        rc, out, err = wrennctl(sock, "cp", sid + ":cp/trunc.bin", part)
        t.eq(rc, 1, "a truncated download is refused and not kept (exit "
             "status)")
        t.ok(not os.path.exists(part),
             "a truncated download is refused and not kept", (rc, err))


    def sandbox_ls(d):
        rc, out, err = wrennctl(sock, "exec", sid, "--", "ls", "-a", d)
        return out.decode().split()

    with t.case("issue 7: an upload goes to a temporary name first"):
        rc, out, err = wrennctl(sock, "cp", src, sid + ":cp/in.bin")
        t.eq(rc, 0, "an upload to cp/in.bin (exit status)")
        t.has(sandbox_ls("cp"), "in.bin",
              "a finished upload has its name and leaves no temporary file")
        t.ok(not any(".wrennctl-" in n for n in sandbox_ls("cp")),
             "a finished upload has its name and leaves no temporary file",
             sandbox_ls("cp"))
        env.fake.clear_requests()
        p = subprocess.Popen([WRENNCTL, "--socket", sock, "cp", "-",
                              sid + ":cp/int.bin"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write(b"x" * 300000)
        p.stdin.flush()

        def uploading():
            return any("/files/stream/write" in r["path"] and
                       r.get("body_bytes", 0) > 0
                       for r in env.fake.requests())
        settle(uploading, True, 20)
        rc = interrupted(p, 30)
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
        t.eq(rc, 130, "Ctrl-C during an upload exits 130")
        names = sandbox_ls("cp")
        t.ok("int.bin" not in names,
             "an interrupted upload leaves nothing under the final name",
             names)
        t.ok(not any(".wrennctl-" in n for n in names),
             "and its temporary file is removed", names)
        rc, out, err = wrennctl(sock, "cp", src, sid + ":cp")
        t.eq(rc, 0, "an upload to a directory lands inside it (exit status)")
        t.has(sandbox_ls("cp"), "src.bin",
              "an upload to a directory lands inside it")

    with t.case("issue 7: cp errors and warnings"):
        rc, out, err = wrennctl(sock, "cp", "--no-verify",
                                sid + ":cp/nope.bin", "-")
        t.eq(rc, 0,
             "cp --no-verify of a missing file warns of the empty body (exit "
             "status)")
        t.eq(out, b"",
             "cp --no-verify of a missing file warns of the empty body "
             "(stdout)")
        t.has(err, "empty body",
              "cp --no-verify of a missing file warns of the empty body "
              "(stderr)")
        t.has(err, sid + ":cp/nope.bin",
              "cp --no-verify of a missing file warns of the empty body "
              "(stderr)")
        rc, out, err = wrennctl(sock, "cp", src, "cl-" + "0" * 25 + ":x")
        t.eq(err, "wrennctl: sandbox cl-%s not found\n" % ("0" * 25),
             "an upload to a missing sandbox names the sandbox")
        rc, out, err = wrennctl(sock, "cp", env.tmp, sid + ":x")
        t.eq(rc, 1, "a directory without -r says to use -r (exit status)")
        t.has(err, "cp -r copies directories",
              "a directory without -r says to use -r (stderr)")

    with t.case("issue 7: cp -r copies directories through tar"):
        tree = os.path.join(env.tmp, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        with open(os.path.join(tree, "a.txt"), "w") as f:
            f.write("a\n")
        with open(os.path.join(tree, "sub", "b.bin"), "wb") as f:
            f.write(data[:100000])
        rc, out, err = wrennctl(sock, "cp", "-r", tree, sid + ":trees/t1")
        t.eq(rc, 0, "cp -r LOCAL SANDBOX:NEW")
        rc, out, err = wrennctl(sock, "exec", sid, "--", "find", "trees")
        t.eq(sorted(out.decode().split()),
             ["trees", "trees/t1", "trees/t1/a.txt", "trees/t1/sub",
              "trees/t1/sub/b.bin"], "the tree arrives as NEW")
        rc, out, err = wrennctl(sock, "cp", "-r", tree, sid + ":trees")
        t.eq(rc, 0,
             "into an existing directory it lands as DIR/NAME (exit status)")
        t.has(sandbox_ls("trees"), "tree",
              "into an existing directory it lands as DIR/NAME")
        t.ok(not any(".wrennctl-" in n for n in sandbox_ls("trees")),
             "no temporary archive is left", sandbox_ls("trees"))
        back = os.path.join(env.tmp, "back")
        rc, out, err = wrennctl(sock, "cp", "-r", sid + ":trees/t1", back)
        t.eq(rc, 0, "cp -r SANDBOX:DIR LOCAL")
        with open(os.path.join(back, "sub", "b.bin"), "rb") as f:
            t.ok(f.read() == data[:100000], "byte-exact back")
        t.eq(sorted(os.listdir(back)), ["a.txt", "sub"], "as LOCAL itself")
        rc, out, err = wrennctl(sock, "cp", "-r", sid + ":trees/t1", back)
        t.eq(rc, 0,
             "into an existing local directory as DIR/NAME (exit status)")
        t.ok(os.path.isdir(os.path.join(back, "t1", "sub")),
             "into an existing local directory as DIR/NAME", err)
        t.ok(not any(".wrennctl-" in n for n in os.listdir(env.tmp)),
             "no temporary directory is left here", os.listdir(env.tmp))
        rc, out, err = wrennctl(sock, "cp", "-r", sid + ":trees/nope",
                                os.path.join(env.tmp, "nope.d"))
        t.eq(rc, 1, "a missing directory is an error and leaves nothing (exit "
             "status)")
        t.has(err, "trees/nope does not exist",
              "a missing directory is an error and leaves nothing (stderr)")
        t.ok(not os.path.exists(os.path.join(env.tmp, "nope.d")),
             "a missing directory is an error and leaves nothing", err)

    # resource tables, confirmations
    with t.case("snapshot list prints a table"):
        rc, out, err = wrennctl(sock, "snapshot", "list")
        t.eq(rc, 0, "snapshot list prints a table (exit status)")
        t.has(out, b"minimal", "snapshot list prints a table (stdout)")
        t.has(out.upper(), b"NAME", "snapshot list prints a table")
    with t.case("team list (JWT route)"):
        rc, out, err = wrennctl(sock, "team", "list")
        t.eq(rc, 0, "team list (JWT route) (exit status)")
        t.has(out, env.seed["team_a"]["id"].encode(),
              "team list (JWT route) (stdout)")
    with t.case("key create --json"):
        rc, out, err = wrennctl(sock, "--json", "key", "create", "--name",
                                "x")
        t.eq(rc, 0, "key create --json (exit status)")
        t.has(out, b'"key"', "key create --json (stdout)")
    with t.case("team rm refuses without --yes"):
        rc, out, err = wrennctl(sock, "team", "rm", env.seed["team_a"]["id"])
        t.eq(rc, 2, "team rm refuses without --yes (exit status)")
        t.has(err, "--yes", "team rm refuses without --yes (stderr)")
    with t.case("issue 7: not found names the object"):
        missing = "cl-" + "0" * 25
        rc, out, err = wrennctl(sock, "sandbox", "get", missing)
        t.eq(rc, 1, "sandbox get of a missing sandbox exits 1")
        t.eq(err, "wrennctl: sandbox %s not found\n" % missing,
             "and says which sandbox was not found, without the "
             "backend's words")
        rc, out, err = wrennctl(sock, "-v", "sandbox", "get", missing)
        t.ok("no rows in result set" in err or "not found" in
             err.split("\n", 1)[1], "-v adds the upstream message", err)
        t.ok("not_found, HTTP 404" in err, "-v names the code and status",
             err)
        rc, out, err = wrennctl(sock, "--json", "sandbox", "get", missing)
        t.eq(json.loads(err)["data"]["code"], "not_found",
             "--json keeps the wire error")
        rc, out, err = wrennctl(sock, "exec", missing, "--", "true")
        t.eq(err, "wrennctl: sandbox %s not found\n" % missing,
             "exec in a missing sandbox names it")
        rc, out, err = wrennctl(sock, "attach", "st-nope")
        t.eq(err, "wrennctl: stream st-nope not found\n",
             "attach to a missing stream names it")

    with t.case("issue 7: a sync exec that hits its timeout says so"):
        rc, out, err = wrennctl(sock, "exec", "-T", "1", sid, "--",
                                "sleep", "5")
        t.eq(rc, 1, "exec past its timeout exits 1")
        t.eq(err, "wrennctl: the command in sandbox %s did not finish "
             "within 1 s (raise --timeout, or use --stream)\n" % sid,
             "and says that it timed out, not how the backend saw it")
        rc, out, err = wrennctl(sock, "-v", "exec", "-T", "1", sid, "--",
                                "sleep", "5")
        t.ok("wrennd said: " in err, "-v adds wrennd's message", err)

    with t.case("issue 7: did you mean"):
        rc, out, err = wrennctl(sock, "sandbx", "list")
        t.eq(rc, 2, "a mistyped command is a usage error")
        t.ok("Did you mean this?\n\tsandbox\n" in err,
             "and suggests the command", err)
        rc, out, err = wrennctl(sock, "sandbox", "lsit")
        t.has(err, "unknown command 'lsit' for 'wrennctl sandbox'",
              "a mistyped verb suggests the verb (stderr)")
        t.has(err, "\tlist\n", "a mistyped verb suggests the verb (stderr)")
        rc, out, err = wrennctl(sock, "stream", "stpo")
        t.ok("\tstop\n" in err, "a transposition is one edit", err)
        rc, out, err = wrennctl(sock, "xyzzy")
        t.eq(rc, 2,
             "nothing is suggested for a word like no command (exit status)")
        t.ok("Did you mean" not in err,
             "nothing is suggested for a word like no command (stderr)", err)
        rc, out, err = wrennctl(sock, "help", "sandbox", "craete")
        t.ok("\tcreate\n" in err, "help suggests too", err)

    with t.case("issue 7: -T is --timeout everywhere"):
        rc, out, err = wrennctl(sock, "exec", "-T", "5", sid, "--", "echo",
                                "hi")
        t.eq(rc, 0, "exec -T SEC (exit status)")
        t.eq(out, b"hi\n", "exec -T SEC (stdout)")
        rc, out, err = wrennctl(sock, "sandbox", "wait", "-T", "5", sid)
        t.eq(rc, 0, "sandbox wait -T SEC")
        rc, out, err = wrennctl(sock, "exec", "--help")
        t.has(out, b"-T, --timeout", "exec --help documents -T (stdout)")
        t.ok(b"-t," not in out, "exec --help documents -T (stdout)", out)
        t.ok(b"--stream to keep their order" in out,
             "exec --help says stdout and stderr arrive separately", out)

    with t.case("issue 7: audit list -q and the next-page hint"):
        rc, out, err = wrennctl(sock, "audit", "list")
        t.eq(rc, 0, "audit list")
        t.ok("next page" not in err,
             "no next-page hint when everything fit on the page", err)
        rc, out, err = wrennctl(sock, "--json", "audit", "list")
        ids = [e["id"] for e in json.loads(out)["items"]]
        t.ok(len(ids) >= 2, "the log has entries", ids)
        rc, out, err = wrennctl(sock, "-q", "audit", "list")
        t.eq(out.decode().split(), ids, "audit list -q prints the ids only")
        rc, out, err = wrennctl(sock, "audit", "list", "--limit", "1")
        t.ok("next page: --before " in err,
             "a next-page hint when there is a next page", err)
        rc, out, err = wrennctl(sock, "audit", "list", "--limit",
                                str(len(ids)))
        t.ok("next page" not in err,
             "no hint after a full page that is the last one", err)

    with t.case("help from rpc.describe"):
        rc, out, err = wrennctl(sock, "help", "sandbox.exec")
        t.eq(rc, 0, "help METHOD shows the live description (exit status)")
        t.has(out, b"cmd", "help METHOD shows the live description (stdout)")
        t.has(out, b"timeout_sec",
              "help METHOD shows the live description (stdout)")
        rc, out, err = wrennctl(sock, "help", "sandbox.exec")
        t.has(out.decode().splitlines(), "Credential: api_key_or_jwt",
              "help METHOD: one credential for both servers")
        rc, out, err = wrennctl(sock, "help", "sandbox.get_url")
        t.has(out.decode().splitlines(), "Credential: api_key (api_key on "
              "172413e, api_key_or_jwt on v0.1.5)",
              "issue 10: help of a proxy method: the credential per server")
    with t.case("completion bash"):
        rc, out, err = wrennctl(sock, "completion", "bash")
        t.eq(rc, 0, "completion bash prints a script (exit status)")
        t.has(out, b"complete", "completion bash prints a script (stdout)")
        t.has(out, b"wrennctl", "completion bash prints a script (stdout)")
    with t.case("wrennctl(1) documents every command and verb"):
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
                if not verb.startswith("-") and \
                        not verb.startswith("cl-") and \
                        "%s %s" % (cmd, verb) not in man:
                    missing.append("%s %s" % (cmd, verb))
        t.eq(missing, [], "wrennctl(1) documents every command and verb")
    with t.case("issue 7: status of a healthy setup"):
        env.fake.clear_requests()
        rc, out, err = wrennctl(sock, "status")
        text = out.decode()
        t.eq(rc, 0, "status exits 0 when the setup works")
        t.eq(text.split("\n")[0].split(), ["status:", "ok"],
             "and says ok first")
        t.ok("probe" not in text, "with no alarming probe codes", text)
        # a word: the fake's port (in upstream.base_url) may hold 401
        t.ok(not re.search(r"\b401\b", text),
             "with no alarming probe codes (401)", text)
        reqs = env.fake.requests()
        t.ok(len(reqs) >= 1,
             "daemon.status sends nothing unauthenticated (length)", len(reqs))
        t.ok(all(r.get("has_api_key") for r in reqs),
             "daemon.status sends nothing unauthenticated", reqs)
        rc, out, err = wrennctl(sock, "--json", "status")
        up = json.loads(out)["upstream"]
        t.eq(up.get("state"), "ok",
             "--json: state ok, an authenticated probe answered 200 (state)")
        t.eq(up.get("probe_status"), 200,
             "--json: state ok, an authenticated probe answered 200 "
             "(probe_status)")
        t.eq(up.get("probe_auth"), "api_key",
             "--json: state ok, an authenticated probe answered 200 "
             "(probe_auth)")

    with t.case("issue 7: status with a wrong API key"):
        w = Wrennd(env.tmp, env.fake.url, api_key="wrn_" + "0" * 32)
        try:
            rc, out, err = wrennctl(w.sock, "status")
            first = out.decode().split("\n")[0]
            t.eq(rc, 1, "status exits 1 with a wrong API key")
            t.ok(first.startswith("status:"),
                 "and shows an error state with the reason first", out)
            t.has(first,
                  "error: the control plane rejected the API key (HTTP 401)",
                  "and shows an error state with the reason first")
            rc, out, err = wrennctl(w.sock, "--json", "status")
            up = json.loads(out)["upstream"]
            t.eq(up.get("state"), "auth_error", "--json: state auth_error")
            t.ok("401" in up.get("reason", ""), "--json: the reason",
                 up)
            rc, out, err = wrennctl(w.sock, "-q", "status")
            t.ok(out.decode().startswith("error: "), "-q: the state only",
                 out)
        finally:
            w.stop()

    def complete(*words, sock_path=None):
        """Run the completion script the way bash does: COMP_WORDS and
        COMP_CWORD set, _wrennctl called, COMPREPLY printed."""
        script = ('source <("$W" completion bash)\n'
                  'COMP_WORDS=("$W" %s)\nCOMP_CWORD=%d\n_wrennctl\n'
                  'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (
                      " ".join("'%s'" % w for w in words), len(words)))
        e = dict(os.environ, W=WRENNCTL, WRENND_SOCKET=sock_path or sock)
        p = subprocess.run(["bash", "-c", script], capture_output=True,
                           env=e, timeout=30)
        return [w for w in p.stdout.decode().split("\n") if w]

    with t.case("issue 7: completion of sandbox and stream ids"), \
            Opened() as keep:
        keep.later(stop_streams)
        t.ok(sid in complete("sandbox", "get", ""),
             "sandbox get completes sandbox ids", complete("sandbox", "get",
                                                           ""))
        t.ok(sid in complete("exec", "-T", "5", sid[:5]),
             "exec -T 5 completes a sandbox id after the option's "
             "argument", complete("exec", "-T", "5", sid[:5]))
        t.eq(complete("exec", sid, ""), [],
             "exec's CMD is not completed with ids")
        rc, out, err = wrennctl(sock, "exec", "--detach", sid, "--",
                                "sleep", "30")
        st2 = out.decode().strip()
        t.eq(complete("attach", ""), [st2], "attach completes stream ids")
        t.ok(st2 in complete("stream", "stop", st2[:4]),
             "stream stop completes stream ids", complete("stream", "stop",
                                                          st2[:4]))
        wrennctl(sock, "stream", "stop", st2)
        t.eq(complete("cp", "x", sid[:6]), [sid + ":"],
             "cp completes SANDBOX: prefixes")
        t.ok("sandbox" in complete("sa"), "commands still complete",
             complete("sa"))
        mute = os.path.join(env.tmp, "mute.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(mute)
        srv.listen(1)  # accepts, never greets
        got = complete("sandbox", "get", "", sock_path=mute)
        srv.close()
        t.eq(got, [], "a daemon that does not answer gives no candidates "
             "(and no hang)")

    with t.case("issue 7: sandbox list hides stopped sandboxes"):
        # The control plane leaves stopped and errored sandboxes out of its
        # list; one that lists them (its API description allows it) is
        # played by a rule answering the list with such an array.
        rc, out, err = wrennctl(sock, "--json", "sandbox", "get", sid)
        live = json.loads(out)
        dead = dict(live, id="cl-" + "d" * 25, status="stopped")
        broken = dict(live, id="cl-" + "e" * 25, status="error")
        listing = json.dumps([live, dead, broken])

        def listed(*args):
            env.fake.fault(path="^%s$" % env.fake.sandboxes_path,
                           method="GET", status=200, text=listing, count=1)
            rc, out, err = wrennctl(sock, *args)
            env.fake.clear_faults()
            return rc, out.decode(), err
        rc, out, err = listed("-q", "sandbox", "list")
        t.eq(out.split(), [sid, broken["id"]],
             "sandbox list leaves out a stopped sandbox, like docker ps")
        rc, out, err = listed("-q", "sandbox", "list", "--all")
        t.eq(out.split(), [sid, dead["id"], broken["id"]],
             "--all shows it")
        rc, out, err = listed("--json", "sandbox", "list")
        t.eq([x["id"] for x in json.loads(out)], [sid, broken["id"]],
             "--json without --all leaves it out too")
        rc, out, err = listed("sandbox", "list")
        t.ok(dead.get("id") not in out,
             "the table says how many it hid (stdout)", out)
        t.has(err, "1 stopped sandbox not shown",
              "the table says how many it hid (stderr)")

    with t.case("issue 7: relative ages in tables"):
        rc, out, err = wrennctl(sock, "sandbox", "list")
        row = [ln for ln in out.decode().splitlines() if sid in ln]
        t.eq(len(row), 1, "a table shows the creation time as an age (length)")
        age = row[0] if row else ""
        t.ok(age.endswith("s ago") or age.endswith("m ago"),
             "a table shows the creation time as an age", out)
        rc, out, err = wrennctl(sock, "--json", "sandbox", "list")
        created = [x["created_at"] for x in json.loads(out)
                   if x["id"] == sid]
        t.eq(len(created), 1, "--json keeps the absolute time (length)")
        when = created[0] if created else ""
        t.ok(when.startswith("20"), "--json keeps the absolute time (year)",
             created)
        t.has(when, "T", "--json keeps the absolute time (date and time)")
        rc, out, err = wrennctl(sock, "snapshot", "list")
        t.ok(b" ago" in out or b"CREATED" not in out,
             "every table's times are ages (snapshot list)", out)

    with t.case("issue 7: connection errors say what to do"):
        gone = os.path.join(env.tmp, "absent", "w.sock")
        rc, out, err = wrennctl(gone, "sandbox", "list")
        t.eq(rc, 3, "no socket exits 3")
        t.eq(err, "wrennctl: cannot connect to wrennd at %s: No such file "
             "or directory. Is wrennd running? (see wrennd(8); set "
             "--socket or WRENND_SOCKET)\n" % gone,
             "a missing socket asks whether wrennd runs")
        stale = os.path.join(env.tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()  # bound, never listening: what a dead wrennd leaves
        rc, out, err = wrennctl(stale, "status")
        t.eq(rc, 3, "a stale socket exits 3")
        t.has(err, "Connection refused. ",
              "a refused connection suggests a stale socket (stderr)")
        t.has(err, "stale socket",
              "a refused connection suggests a stale socket (stderr)")
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", WRENNCTL, "--socket", sock,
                            "status"], capture_output=True)
        perr = p.stderr.decode()
        t.eq(p.returncode, 3, "a socket we may not open exits 3")
        t.has(perr, "Permission denied. ",
              "permission denied points at the socket's mode and group "
              "(stderr)")
        t.has(perr, "mode or group",
              "permission denied points at the socket's mode and group "
              "(stderr)")

    def fake_wrennd(path, answer):
        """A one-connection wrennd on path that greets, enables fds and
        answers every other call with the error object answer."""
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)

        def serve():
            c, _ = srv.accept()
            f = c.makefile("rwb")
            f.write(json.dumps({"jsonrpc": "2.0", "method": "wrennd.hello",
                                "params": {"protocol": 1, "capabilities":
                                           ["fds"]}}).encode() + b"\n")
            f.flush()
            for line in f:
                m = json.loads(line)
                if m.get("method") == "rpc.hello":
                    r = {"jsonrpc": "2.0", "id": m["id"], "result": {
                        "protocol": 1, "enabled": ["fds"]}}
                else:
                    r = {"jsonrpc": "2.0", "id": m["id"], "error": answer}
                f.write(json.dumps(r).encode() + b"\n")
                f.flush()
                if "error" in r:
                    break
            c.close()
            srv.close()
        th = threading.Thread(target=serve)
        th.start()
        return th

    with t.case("issue 7: verify failures name the file"):
        for code, want in (("is_a_directory", "cl-x:dir is a directory"),
                           ("not_found", "cl-x:dir does not exist")):
            fsock = os.path.join(env.tmp, "files-%s.sock" % code)
            th = fake_wrennd(fsock, {"code": -32000, "message":
                                     "wc: standard input: whatever",
                                     "data": {"code": code}})
            rc, out, err = wrennctl(fsock, "cp", "cl-x:dir",
                                    os.path.join(env.tmp, "v.out"))
            th.join()
            t.eq(rc, 1, "data.code %s reads '%s' (exit status)" % (code, want))
            t.ok(err.startswith("wrennctl: %s\n" % want),
                 "data.code %s reads '%s'" % (code, want), err)

    with t.case("issue 7: a daemon that dies mid-stream"):
        dying = os.path.join(env.tmp, "dying.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(dying)
        srv.listen(1)

        def serve():
            c, _ = srv.accept()
            c.sendall(json.dumps({"jsonrpc": "2.0",
                                  "method": "wrennd.hello",
                                  "params": {"protocol": 1}}).encode()
                      + b"\n")
            c.recv(65536)  # the call arrives; the daemon dies
            c.close()
        th = threading.Thread(target=serve)
        th.start()
        rc, out, err = wrennctl(dying, "exec", "--stream", "cl-x", "--",
                                "true")
        th.join()
        srv.close()
        t.eq(rc, 3, "a lost connection exits 3")
        t.ok(err.startswith("wrennctl: connection to wrennd lost: "),
             "and is reported as lost, not as cannot connect", err)
        t.ok("cannot connect" not in err,
             "and is reported as lost, not as cannot connect (stderr)", err)
finally:
    env.close(t)
sys.exit(t.done())
