# SPDX-License-Identifier: MIT
"""The "stream" part of a fault rule: failures in the middle of a stream.

A fault rule (control.py) may carry

  "stream": {"action": "cut" | "stall" | "error" | "truncate" | "corrupt",
             "after_bytes": N,       # payload bytes delivered first
             "after_messages": N,    # exec or process stream: messages
                                     # sent first
             "stall_ms": M,          # stall: pause M ms; absent/0 = forever
             "data": "text",         # error: the error message's data
             "rst": true}            # cut: RST instead of FIN

It applies to GET /v1/sandboxes/{id}/exec/stream and, in the capsules
dialect, GET /v1/capsules/{id}/processes/{selector}/stream (payload =
process output; "after_messages" counts the process stream's "start"
too), and to POST /v1/sandboxes/{id}/files/stream/read (payload = file
bytes); other routes ignore it.  A re-attach to a process gets no replay
of what it printed during the cut, as on the real server.  The rule fires once, at the first point
where its trigger holds:

  after_messages N   before the server's message number N+1 (0 = before
                     "start"); exec and process streams only
  after_bytes N      once exactly N payload bytes were sent (a chunk or
                     message is split to stop there); on exec/stream the
                     "start" message always goes out first
  neither            as after_bytes 0

Actions ("exec/stream" stands for the process stream too):
  cut       exec/stream: close the TCP connection (FIN, or RST with "rst")
            with no exit, error or close frame; stream/read: the same,
            leaving the chunked body unterminated
  truncate  stream/read: end the body normally (terminating chunk), as the
            real server does on a mid-transfer failure; exec/stream: = cut
  stall     send nothing for stall_ms (forever if absent or 0) while the
            connection stays open, then carry on
  error     exec/stream: send {"type":"error","data":...} and end the
            session as the real server does (no exit, no close frame);
            stream/read: = truncate
  corrupt   stream/read: flip every bit of the payload byte at offset
            after_bytes and carry on, so the body keeps its size (a
            same-size corruption only a content check catches); nothing if
            the file is shorter; exec/stream: = cut

Used by control.Fault (parse) and the api_stream / api_files handlers.
"""

import asyncio
import dataclasses
from typing import Optional

ACTIONS = ("cut", "stall", "error", "truncate", "corrupt")


@dataclasses.dataclass
class StreamFault:
    action: str
    after_bytes: Optional[int] = None
    after_messages: Optional[int] = None
    stall_ms: int = 0
    data: str = "injected fault"
    rst: bool = False


def _nonneg(spec, key):
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError('"stream.%s" must be a non-negative integer' % key)
    return v


def parse(spec):
    """Validate a rule's "stream" object; None if absent."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError('"stream" must be an object')
    action = spec.get("action")
    if action not in ACTIONS:
        raise ValueError('"stream.action" must be one of '
                         + ", ".join(ACTIONS))
    after_bytes = _nonneg(spec, "after_bytes")
    after_messages = _nonneg(spec, "after_messages")
    if after_bytes is not None and after_messages is not None:
        raise ValueError('give "stream.after_bytes" or '
                         '"stream.after_messages", not both')
    data = spec.get("data", "injected fault")
    if not isinstance(data, str):
        raise ValueError('"stream.data" must be a string')
    return StreamFault(action=action, after_bytes=after_bytes,
                       after_messages=after_messages,
                       stall_ms=_nonneg(spec, "stall_ms") or 0,
                       data=data, rst=bool(spec.get("rst", False)))


def of(ctx):
    """The stream fault of the rule that matched this request, if any."""
    rule = getattr(ctx, "fault", None)
    return getattr(rule, "stream", None) if rule is not None else None


async def stall(fault, gone=None):
    """Sleep stall_ms (forever if 0), or until `gone` completes."""
    waits = set()
    if fault.stall_ms:
        waits.add(asyncio.ensure_future(asyncio.sleep(fault.stall_ms
                                                      / 1000.0)))
    if gone is not None:
        waits.add(gone)
    if not waits:
        await asyncio.get_running_loop().create_future()   # forever
        return
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            if w is not gone:
                w.cancel()
