# SPDX-License-Identifier: MIT
"""Records of the non-sandbox resources and the queries shared around them.

Hosts (with tags, registration and refresh tokens), notification channels,
template builds and audit-log entries, plus the bits of db/queries/*.sql and
the service layer that more than one handler module needs:

  select_host      scheduler.RoundRobinScheduler.SelectHost
  host_for_agent   SandboxService.agentForSandbox's host lookup
  host_json        hostToResponse (handlers_hosts.go)
  rfc3339_us       RFC3339 of a microsecond timestamp (Postgres precision)

The containers live on state.State (hosts, channels, builds, audit_logs,
reg_tokens, refresh_tokens); State.seed() creates the platform host through
add_host().  Pure module: no I/O.
"""

import dataclasses
import time
from typing import Dict, List, Optional

import ids

HOST_REG_TOKEN_TTL = 3600            # registration token, seconds
HOST_REFRESH_TTL = 60 * 24 * 3600    # refresh token, seconds

# Sandbox statuses that count as "on the host" for host deletion.
HOST_ACTIVE_SANDBOX_STATUSES = ("pending", "starting", "running", "missing")


def now_us():
    """Current time in integer microseconds (Postgres timestamptz)."""
    return time.time_ns() // 1000


def rfc3339_us(us):
    """Go time.RFC3339 (UTC, whole seconds) of a microsecond timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // 1000000))


@dataclasses.dataclass
class Host:
    id: str
    type: str                       # regular | byoc
    team_id: Optional[str]
    created_by: str
    created_at: float
    updated_at: float
    provider: str = ""
    availability_zone: str = ""
    arch: str = ""
    cpu_cores: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    address: str = ""
    status: str = "pending"
    last_heartbeat_at: Optional[float] = None
    tags: set = dataclasses.field(default_factory=set)
    # The fake's stand-in for a live agent heartbeating every few seconds:
    # last_heartbeat_at/updated_at read as "now" while the host is online.
    auto_heartbeat: bool = False
    seq: int = 0


@dataclasses.dataclass
class RefreshToken:
    id: str
    host_id: str
    token_hash: str
    expires_at: float
    revoked_at: Optional[float] = None


@dataclasses.dataclass
class Channel:
    id: str
    team_id: str
    name: str
    provider: str
    config: Dict[str, str]
    events: List[str]
    created_at: float
    updated_at: float
    seq: int = 0


@dataclasses.dataclass
class Build:
    id: str
    name: str
    base_template: str
    recipe: List[str]
    healthcheck: str
    vcpus: int
    memory_mb: int
    total_steps: int
    template_id: str
    skip_pre_post: bool
    created_at: float
    seq: int = 0
    status: str = "pending"
    current_step: int = 0
    logs: list = dataclasses.field(default_factory=list)
    error: str = ""
    sandbox_id: Optional[str] = None
    host_id: Optional[str] = None
    started_at: Optional[float] = None
    completed_at: Optional[float] = None
    # capsules dialect (f5a23c1): the new row's defaults; None at 172413e.
    default_user: Optional[str] = None


@dataclasses.dataclass
class AuditEntry:
    id: str
    team_id: str
    actor_type: str                 # user | api_key | system
    actor_id: Optional[str]
    actor_name: str
    resource_type: str
    resource_id: Optional[str]
    action: str
    scope: str                      # team | admin
    status: str                     # success | info | warning | error
    metadata: dict
    created_us: int                 # microseconds since the epoch


# ---- hosts ----------------------------------------------------------------

def add_host(state, type_, team_id, created_by, status="pending",
             address="", provider="", availability_zone="", **specs):
    """InsertHost (+ the fields RegisterHost would fill, for the fake)."""
    now = time.time()
    h = Host(ids.new(ids.HOST), type_, team_id, created_by, now, now,
             provider=provider, availability_zone=availability_zone,
             address=address, status=status, seq=state.next_seq(), **specs)
    if status != "pending":
        h.last_heartbeat_at = now
    state.hosts[h.id] = h
    return h


def touch_host(h):
    """The view of an auto-heartbeating host at this instant."""
    if h.auto_heartbeat and h.status == "online":
        now = time.time()
        h.last_heartbeat_at = now
        h.updated_at = now


def host_json(h, team_name=None):
    """hostToResponse: optional fields omitted when empty/zero."""
    touch_host(h)
    d = {"id": h.id, "type": h.type}
    if h.team_id:
        d["team_id"] = h.team_id
    if team_name is not None:
        d["team_name"] = team_name
    for key in ("provider", "availability_zone", "arch", "cpu_cores",
                "memory_mb", "disk_gb", "address"):
        v = getattr(h, key)
        if v:
            d[key] = v
    d["status"] = h.status
    if h.last_heartbeat_at is not None:
        d["last_heartbeat_at"] = _rfc3339(h.last_heartbeat_at)
    d.update(created_by=h.created_by, created_at=_rfc3339(h.created_at),
             updated_at=_rfc3339(h.updated_at))
    return d


def _rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def hosts_by_created(state, reverse):
    return sorted(state.hosts.values(), key=lambda h: (h.created_at, h.seq),
                  reverse=reverse)


def select_host(state, team):
    """RoundRobinScheduler.SelectHost; returns (host, None) or (None, err)."""
    eligible = []
    for h in hosts_by_created(state, False):      # ListActiveHosts
        if h.status in ("pending", "offline"):
            continue
        if h.status != "online" or h.address == "":
            continue
        if team.is_byoc:
            if h.type != "byoc" or h.team_id != team.id:
                continue
        elif h.type != "regular":
            continue
        eligible.append(h)
    if not eligible:
        if team.is_byoc:
            return None, "no online BYOC hosts available for team"
        return None, "no online platform hosts available"
    idx = state.rr_counter
    state.rr_counter += 1
    return eligible[idx % len(eligible)], None


def host_for_agent(state, sb):
    """agentForSandbox's host lookup: None, or the service error text."""
    h = state.hosts.get(getattr(sb, "host_id", "") or "")
    if h is None:
        return "host not found for sandbox: no rows in result set"
    if h.address == "":
        return "get agent client: host %s has no address" % h.id
    return None


def sandboxes_on_host(state, host_id):
    """ListSandboxesByHostAndStatus(pending|starting|running|missing)."""
    out = [s for s in state.sandboxes.values()
           if getattr(s, "host_id", None) == host_id
           and s.status in HOST_ACTIVE_SANDBOX_STATUSES]
    out.sort(key=lambda s: (s.created_at, s.seq), reverse=True)
    return out


def fk_violation(table, column):
    """The pgconn.PgError text of a foreign-key violation on insert."""
    return ('ERROR: insert or update on table "%s" violates foreign key '
            'constraint "%s_%s_fkey" (SQLSTATE 23503)' % (table, table,
                                                          column))
