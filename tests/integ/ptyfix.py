# SPDX-License-Identifier: MIT
"""PTY sessions followed through wrennd, for test-pty.py and
test-admin-ws.py: a streaming call's events read as they come (Session),
the terminal's bytes of its output events, typing into a session, and
the input and resize checks both make."""
import base64
import re

from harness import dig, wait_for


def b64(text):
    return base64.b64encode(text.encode()).decode()


def output_of(events):
    """The terminal's bytes, decoded, from a list of output events."""
    return b"".join(base64.b64decode(e["data"]) for e in events
                    if e["event"] == "output").decode(errors="replace")


class Session:
    """A sandbox.pty (or streams.attach) call followed on its own client:
    its events as they come, its final reply when it ends."""

    def __init__(self, cl, method, params):
        self.cl = cl
        self.id = cl.call_async(method, params)
        self.events = []
        self.final = None

    def read_one(self):
        m = self.cl.read_msg()
        if m is None:
            raise EOFError("connection closed")
        if m.get("id") == self.id and ("result" in m or "error" in m):
            self.final = m
        elif m.get("method") == "$/stream" and \
                m["params"].get("id") == self.id:
            self.events.append(m["params"])
        else:
            self.cl.pending.append(m)

    def until(self, pred, what):
        """Read until pred(self) holds or the call ended."""
        def step():
            if pred(self):
                return True
            if self.final is not None:
                raise AssertionError("%s: the call ended first: %r" %
                                     (what, self.final))
            self.read_one()
            return False
        wait_for(step, timeout=60, step=0, what=what)

    def until_output(self, pattern, what):
        self.until(lambda s: re.search(pattern, output_of(s.events)), what)
        return re.search(pattern, output_of(self.events))

    def until_final(self):
        while self.final is None:
            self.read_one()
        return self.final

    def started(self):
        self.until(lambda s: any(e["event"] == "started"
                                 for e in s.events), "started")
        return next(e for e in self.events if e["event"] == "started")


def typed(cl, stream_id, text):
    return cl.call("streams.input", {"stream_id": stream_id,
                                     "data": b64(text)})


def check_input_resize(t, c, s, stream_id):
    """On c, streams.input and streams.resize to the session s (started
    at 100x30, a shell): stty size shows each size."""
    t.eq(dig(typed(c, stream_id, "stty size\n"), "result"), {},
         "streams.input answers {}")
    t.ok(s.until_output(r"30 100\r\n", "stty size"),
         "the terminal has the size asked for")
    r = c.call("streams.resize", {"stream_id": stream_id,
                                  "cols": 120, "rows": 50})
    t.eq(r.get("result"), {}, "streams.resize answers {}")
    typed(c, stream_id, "stty size\n")
    t.ok(s.until_output(r"50 120\r\n", "stty size after resize"),
         "stty size shows the new size")
