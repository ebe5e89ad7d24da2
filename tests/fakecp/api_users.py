# SPDX-License-Identifier: MIT
"""User search: GET /v1/users/search?email=<prefix> (handlers_users.go).

The prefix is trimmed and must be at least 3 bytes and contain "@" (else
400).  The query is `email LIKE <prefix with % and _ escaped> || '%'`,
case-sensitive, ORDER BY email (code-point order here), LIMIT 10.  A
backslash the client sends is not escaped, so it still acts as the LIKE
escape character, as in Postgres.  Any authenticated user can search every
account.  Registered by routes.py.
"""

import re

import validate
from httpio import error, json_response

SEARCH_LIMIT = 10


def like_regex(pattern):
    """A Postgres LIKE pattern (escape character backslash) as a regex."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


async def search(ctx):
    """GET /v1/users/search"""
    prefix = validate.trim_space(ctx.q("email"))
    if len(prefix.encode("utf-8", "surrogateescape")) < 3 or "@" not in prefix:
        return error(400, "invalid_request", "email prefix must be at least "
                     "3 characters and contain '@'")
    escaped = prefix.replace("%", "\\%").replace("_", "\\_")
    rx = like_regex(escaped + "%")
    found = sorted((u for u in ctx.state.users.values()
                    if rx.fullmatch(u.email)), key=lambda u: u.email)
    return json_response(200, [{"user_id": u.id, "email": u.email}
                               for u in found[:SEARCH_LIMIT]])
