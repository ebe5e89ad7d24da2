# SPDX-License-Identifier: MIT
"""Audit log: GET /v1/audit-logs (handlers_audit.go, service/audit.go,
ListAuditLogs in db/queries/audit.sql).  JWT only.

Query parameters, validated in this order:
  before     RFC3339 (Go time.Parse: fraction with "." or "," allowed,
             "Z" or +hh:mm), exclusive cursor; else 400 "before must be an
             RFC3339 timestamp".  The zero time (0001-01-01T00:00:00Z)
             counts as "no cursor", as time.IsZero() does.
  limit      strconv.Atoi (sign allowed), >= 1, else 400 "limit must be a
             positive integer"; default 50; above 200 silently 200.
  before_id  log-... ID, else 400 "before_id must be a valid audit log ID";
             only used together with before (id < before_id when
             created_at == before).
  resource_type, action   repeatable and/or comma-separated, trimmed,
             de-duplicated, OR-matched; all-empty means no filter.
Scope: JWT role owner/admin sees "team" and "admin" entries, anyone else
"team" only.  Rows are ordered created_at DESC, id DESC (IDs compare like
the UUIDs they encode).  Response {"items":[...]} plus next_before /
next_before_id taken from the last item when there is one.

The cursor quirk is reproduced: rows keep microseconds but next_before is
rendered with whole seconds, so the next page asks for created_at < that
second and skips the rest of the boundary row's second.
At f5a23c1 (capsules dialect): any bad parameter is 400 "invalid query
parameters"; a numeric limit < 1 means 50 (and before_id is then not
parsed, the Go code returns early); GET /v1/admin/audit-logs lists the
platform team's entries, both scopes.
Registered by routes.py.
"""

import re

import ids
import resources
import state as st
import validate
from gojson import GoMap
from httpio import error, json_response

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})"
    r"(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})\Z")
_ATOI_RE = re.compile(r"[+-]?[0-9]+\Z")
_ZERO_TIME_S = -62135596800          # Go's zero Time as Unix seconds


def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in(m, y):
    if m == 2:
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        return 29 if leap else 28
    return 30 if m in (4, 6, 9, 11) else 31


def parse_rfc3339(s):
    """time.Parse(time.RFC3339, s) -> (unix seconds, nanoseconds) or None."""
    m = _RFC3339_RE.match(s)
    if m is None:
        return None
    y, mo, d, hh, mi, ss = (int(x) for x in m.groups()[:6])
    frac, tz = m.group(7), m.group(8)
    if not (1 <= mo <= 12 and 1 <= d <= _days_in(mo, y) and hh <= 23
            and mi <= 59 and ss <= 59):
        return None
    nsec = int((frac or "0")[:9].ljust(9, "0"))
    offset = 0
    if tz != "Z":
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
    secs = _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss
    return secs - offset, nsec


def parse_multi(values):
    """parseMultiParam: flatten, split on commas, trim, dedupe; None = all."""
    out = []
    for v in values or ():
        for part in v.split(","):
            part = validate.trim_space(part)
            if part and part not in out:
                out.append(part)
    return out or None


def _go_value(v):
    """A JSON value as Go's map[string]any round trip re-encodes it."""
    if isinstance(v, dict):
        return GoMap((k, _go_value(x)) for k, x in v.items())
    if isinstance(v, list):
        return [_go_value(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def entry_json(e):
    """auditLogResponse (omitempty applied)."""
    d = {"id": e.id, "actor_type": e.actor_type}
    if e.actor_id:
        d["actor_id"] = e.actor_id
    if e.actor_name:
        d["actor_name"] = e.actor_name
    d["resource_type"] = e.resource_type
    if e.resource_id:
        d["resource_id"] = e.resource_id
    d.update(action=e.action, scope=e.scope, status=e.status)
    if e.metadata:
        d["metadata"] = _go_value(e.metadata)
    d["created_at"] = resources.rfc3339_us(e.created_us)
    return d


def query(state, team_id, admin_scoped, resource_types, actions,
          before_us, before_id, limit):
    """ListAuditLogs."""
    scopes = ("team", "admin") if admin_scoped else ("team",)
    out = []
    for e in state.audit_logs:
        if e.team_id != team_id or e.scope not in scopes:
            continue
        if resource_types and e.resource_type not in resource_types:
            continue
        if actions and e.action not in actions:
            continue
        if before_us is not None and not (
                e.created_us < before_us or
                (e.created_us == before_us and before_id is not None
                 and e.id < before_id)):
            continue
        out.append(e)
    out.sort(key=lambda e: (e.created_us, e.id), reverse=True)
    return out[:limit]


class _BadQuery(Exception):
    """A query parameter failed (172413e: its own message)."""


def _params(ctx):
    """parseAuditParams -> (before_us, before_id, limit); _BadQuery.

    At f5a23c1 (capsules) every failure is the generic "invalid query
    parameters", and a numeric limit < 1 is 50 and returns early, so a
    before_id after it is not even parsed."""
    head = ctx.dialect == "capsules"
    before_us = None
    s = ctx.q("before")
    if s != "":
        t = parse_rfc3339(s)
        if t is None:
            raise _BadQuery("before must be an RFC3339 timestamp")
        secs, nsec = t
        if not (secs == _ZERO_TIME_S and nsec == 0):
            before_us = secs * 1000000 + nsec // 1000
    limit = DEFAULT_LIMIT
    s = ctx.q("limit")
    if s != "":
        n = int(s) if _ATOI_RE.match(s) else None
        if n is None or n > 2**63 - 1 or n < -2**63:
            raise _BadQuery("limit must be a positive integer")
        if n < 1:
            if head:
                return before_us, None, DEFAULT_LIMIT
            raise _BadQuery("limit must be a positive integer")
        limit = n
    before_id = None
    s = ctx.q("before_id")
    if s != "":
        before_id = ids.parse(ids.AUDIT_LOG, s)
        if before_id is None:
            raise _BadQuery("before_id must be a valid audit log ID")
    return before_us, before_id, limit


async def _list(ctx, team_id, admin_scoped):
    try:
        before_us, before_id, limit = _params(ctx)
    except _BadQuery as e:
        return error(400, "invalid_request",
                     "invalid query parameters"
                     if ctx.dialect == "capsules" else str(e))
    entries = query(ctx.state, team_id, admin_scoped,
                    parse_multi(ctx.query.get("resource_type")),
                    parse_multi(ctx.query.get("action")),
                    before_us, before_id, min(limit, MAX_LIMIT))
    resp = GoMap(items=[entry_json(e) for e in entries])
    if entries:
        last = entries[-1]
        resp["next_before"] = resources.rfc3339_us(last.created_us)
        resp["next_before_id"] = last.id
    return json_response(200, resp)


async def list_(ctx):
    """GET /v1/audit-logs"""
    ac = ctx.auth
    return await _list(ctx, ac.team_id, ac.role in ("owner", "admin"))


async def admin_list(ctx):
    """GET /v1/admin/audit-logs (f5a23c1): the platform team, both
    scopes."""
    return await _list(ctx, st.PLATFORM_TEAM_ID, True)
