# SPDX-License-Identifier: MIT
"""In-memory "database" of the fake control plane.

State owns every record (teams, users, memberships, API keys, sandboxes,
templates) and the JWT secret.  It plays the role of the Postgres queries in
db/queries/*.sql: lookups here have the same scoping rules (a sandbox is
found only by its team, a template by its team or the platform team).  It
does no I/O; the per-sandbox scratch directories are managed by the sandbox
handlers.

Everything runs on one asyncio loop, so a record is never seen half-updated
between two awaits.  The seed() method creates the fixed cast used by the
tests and returns the --seed-out document.
"""

import dataclasses
import time
from typing import Dict, Optional

import ids
import resources
import tokens

PLATFORM_TEAM_ID = ids.zero(ids.TEAM)
SEED_PASSWORD = "password123"

# Sandbox statuses (CONTRACT.md 6.1).
PENDING, RUNNING, PAUSED, STOPPED, ERROR, MISSING = (
    "pending", "running", "paused", "stopped", "error", "missing")


def new_template_id():
    """Templates have a bare UUID in the DB; any unique string will do."""
    return ids.new("tmpl-")


def rfc3339(t):
    """Go time.RFC3339 in UTC: second precision, Z suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclasses.dataclass
class Team:
    id: str
    name: str
    slug: str
    created_at: float
    is_byoc: bool = False
    deleted_at: Optional[float] = None


@dataclasses.dataclass
class User:
    id: str
    email: str
    name: str
    password: str
    created_at: float
    is_admin: bool = False
    status: str = "active"


@dataclasses.dataclass
class Membership:
    team_id: str
    user_id: str
    role: str            # owner | admin | member
    joined_at: float
    is_default: bool = False


@dataclasses.dataclass
class ApiKey:
    id: str
    team_id: str
    name: str
    key_hash: str
    key_prefix: str
    created_by: str
    created_at: float
    last_used: Optional[float] = None


@dataclasses.dataclass
class Template:
    id: str               # internal only (a UUID in the real DB)
    name: str
    type: str             # base | snapshot
    vcpus: int
    memory_mb: int
    size_bytes: int
    team_id: str
    created_at: float
    files_dir: Optional[str] = None   # disk contents captured by a snapshot
    # capsules dialect: copied from the source capsule (CONTRACT 11.7)
    metadata: Dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class MetricPoint:
    ts: int
    cpu_pct: float
    mem_bytes: int
    disk_bytes: int


@dataclasses.dataclass
class Sandbox:
    id: str
    team_id: str
    template: str
    template_id: str
    status: str
    vcpus: int
    memory_mb: int
    timeout_sec: int
    created_at: float
    last_updated: float
    seq: int                       # creation order, tie-breaker for listing
    workdir: str                   # scratch directory = the sandbox "disk"
    disk_size_mb: int = 5120
    guest_ip: str = ""
    host_ip: str = ""
    started_at: Optional[float] = None
    last_active_at: Optional[float] = None
    # Host-agent side: idle clock for the TTL reaper (monotonic seconds) and
    # the wall-clock start of the current VM run (for live metrics).
    agent_last_active: float = 0.0
    run_started: Optional[float] = None
    # Metric points persisted at pause, by tier ("10m", "2h", "24h").
    points: Dict[str, Dict[int, MetricPoint]] = dataclasses.field(
        default_factory=dict)
    # Running exec child processes (asyncio.subprocess.Process).
    procs: set = dataclasses.field(default_factory=set)
    # The host the scheduler placed it on (resources.Host id).
    host_id: str = ""
    # capsules dialect: what the host agent reports at create (11.7).
    metadata: Dict[str, str] = dataclasses.field(default_factory=dict)


class State:
    """All records, plus the credentials used to sign tokens."""

    def __init__(self, jwt_secret: bytes):
        self.jwt_secret = jwt_secret
        self.teams: Dict[str, Team] = {}
        self.users: Dict[str, User] = {}
        self.members: Dict[tuple, Membership] = {}    # (team_id, user_id)
        self.api_keys: Dict[str, ApiKey] = {}         # key_hash -> key
        self.sandboxes: Dict[str, Sandbox] = {}
        self.templates: Dict[str, Template] = {}      # template id -> tmpl
        self._seq = 0
        self._ip = 0
        # Hosts, channels, builds, audit log (see resources.py).
        self.hosts = {}                               # host id -> Host
        self.channels = {}                            # channel id -> Channel
        self.builds = {}                              # build id -> Build
        self.audit_logs = []                          # AuditEntry, any order
        # capsules: daily_usage rollups, (team id, "YYYY-MM-DD") ->
        # (cpu_minutes, ram_mb_minutes); only /_fake/usage writes them.
        self.daily_usage = {}
        self.reg_tokens = {}          # registration token -> (host id, exp)
        self.refresh_tokens = {}      # token hash -> RefreshToken
        self.rr_counter = 0           # round-robin scheduler position
        self.platform_host_id = None
        now = time.time()
        self.teams[PLATFORM_TEAM_ID] = Team(PLATFORM_TEAM_ID, "Platform",
                                            "platform", now - 86400 * 30)
        # The seeded platform template (migration 20260328162803).
        self.add_template("minimal", "base", 1, 512, 0, PLATFORM_TEAM_ID,
                          created_at=now - 86400 * 30)

    # ---- helpers -------------------------------------------------------

    def next_seq(self):
        self._seq += 1
        return self._seq

    def next_host_ip(self):
        """A fresh VM address, as the host agent reports it."""
        self._ip += 1
        return "10.11.%d.%d" % ((self._ip // 250) % 250, self._ip % 250 + 2)

    # ---- teams, users, keys -------------------------------------------

    def add_team(self, name):
        t = Team(ids.new(ids.TEAM), name, ids.team_slug(), time.time())
        self.teams[t.id] = t
        return t

    def add_user(self, email, name, password=SEED_PASSWORD, is_admin=False):
        u = User(ids.new(ids.USER), email, name, password, time.time(),
                 is_admin=is_admin)
        self.users[u.id] = u
        return u

    def add_member(self, team_id, user_id, role, is_default=False):
        m = Membership(team_id, user_id, role, time.time(), is_default)
        self.members[(team_id, user_id)] = m
        return m

    def add_api_key(self, team_id, created_by, name="Unnamed API Key",
                    plaintext=None):
        """Create a key; returns (record, plaintext)."""
        plaintext = plaintext or tokens.new_api_key()
        k = ApiKey(ids.new(ids.API_KEY), team_id, name,
                   tokens.hash_api_key(plaintext),
                   tokens.api_key_prefix(plaintext), created_by, time.time())
        self.api_keys[k.key_hash] = k
        return k, plaintext

    def api_key_by_plaintext(self, key):
        return self.api_keys.get(tokens.hash_api_key(key))

    def user_jwt(self, user_id, team_id, exp=None, iat=None):
        """Sign a user token the way login/switch-team do."""
        u = self.users[user_id]
        m = self.members.get((team_id, user_id))
        role = m.role if m else "member"
        return tokens.sign(self.jwt_secret, tokens.user_claims(
            u.id, team_id, role, u.email, u.name, u.is_admin, iat=iat,
            exp=exp))

    # ---- templates -----------------------------------------------------

    def add_template(self, name, type_, vcpus, memory_mb, size_bytes,
                     team_id, created_at=None, files_dir=None,
                     template_id=None, metadata=None):
        tid = template_id or new_template_id()
        t = Template(tid, name, type_, vcpus, memory_mb, size_bytes, team_id,
                     time.time() if created_at is None else created_at,
                     files_dir, dict(metadata or {}))
        self.templates[tid] = t
        return t

    def template_by_team(self, name, team_id):
        """GetTemplateByTeam: the team's template or a platform one."""
        for t in self.templates.values():
            if t.name == name and t.team_id in (team_id, PLATFORM_TEAM_ID):
                return t
        return None

    def platform_template(self, name):
        for t in self.templates.values():
            if t.name == name and t.team_id == PLATFORM_TEAM_ID:
                return t
        return None

    def team_template(self, name, team_id):
        """GetTemplateByName: exact team match, no platform fallback."""
        for t in self.templates.values():
            if t.name == name and t.team_id == team_id:
                return t
        return None

    def list_templates(self, team_id, type_filter=""):
        """ListTemplatesByTeam[AndType], newest first."""
        out = [t for t in self.templates.values()
               if t.team_id in (team_id, PLATFORM_TEAM_ID)
               and (not type_filter or t.type == type_filter)]
        out.sort(key=lambda t: t.created_at, reverse=True)
        return out

    def delete_template(self, t):
        self.templates.pop(t.id, None)

    # ---- sandboxes -----------------------------------------------------

    def sandbox_by_team(self, sandbox_id, team_id):
        """GetSandboxByTeam: other teams' sandboxes do not exist."""
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or sb.team_id != team_id:
            return None
        return sb

    def list_sandboxes(self, team_id):
        """ListSandboxesByTeam: newest first, stopped/error hidden."""
        out = [s for s in self.sandboxes.values() if s.team_id == team_id
               and s.status not in (STOPPED, ERROR)]
        out.sort(key=lambda s: (s.created_at, s.seq), reverse=True)
        return out

    def set_status(self, sb, status):
        """UpdateSandboxStatus: status + last_updated."""
        sb.status = status
        sb.last_updated = time.time()

    def live_usage(self, team_id):
        """GetLiveMetrics / SampleSandboxMetrics for one team."""
        running = vcpus = mem = 0
        for s in self.sandboxes.values():
            if s.team_id != team_id:
                continue
            if s.status in (RUNNING, "starting"):
                running += 1
                vcpus += s.vcpus
                mem += s.memory_mb
            elif s.status == PAUSED:
                mem += -(-s.memory_mb // 2)
        return running, vcpus, mem

    # ---- seed ----------------------------------------------------------

    def seed(self, fixed_api_key=None):
        """Create teams A/B and their users and keys; return the seed doc."""
        team_a = self.add_team("Team A")
        team_b = self.add_team("Team B")
        cast = {
            "owner": (team_a, "owner", "owner@a.test", "Alice Owner", False),
            "admin": (team_a, "admin", "admin@a.test", "Ada Admin", True),
            "member": (team_a, "member", "member@a.test", "Mel Member",
                       False),
            "other": (team_b, "owner", "owner@b.test", "Bob Other", False),
        }
        users = {}
        for label, (team, role, email, name, is_admin) in cast.items():
            u = self.add_user(email, name, is_admin=is_admin)
            self.add_member(team.id, u.id, role, is_default=True)
            users[label] = {
                "id": u.id, "email": u.email, "name": u.name,
                "password": u.password, "team_id": team.id, "role": role,
                "is_admin": is_admin, "jwt": self.user_jwt(u.id, team.id),
            }
        key_a, plain_a = self.add_api_key(team_a.id, users["owner"]["id"],
                                          "seed key A", fixed_api_key)
        key_b, plain_b = self.add_api_key(team_b.id, users["other"]["id"],
                                          "seed key B")
        # The platform host every sandbox lands on unless tests add more.
        platform_host = resources.add_host(
            self, "regular", None, users["admin"]["id"], status="online",
            address="127.0.0.1:50051", arch="x86_64", cpu_cores=8,
            memory_mb=16384, disk_gb=100, auto_heartbeat=True)
        self.platform_host_id = platform_host.id
        owner = users["owner"]
        expired = self.user_jwt(owner["id"], team_a.id,
                                iat=time.time() - 7 * 3600,
                                exp=time.time() - 3600)
        host_jwt = tokens.sign(self.jwt_secret, tokens.host_claims(
            ids.new(ids.HOST)))

        def team_doc(t):
            return {"id": t.id, "name": t.name, "slug": t.slug}

        return {
            "jwt_secret": self.jwt_secret.decode("utf-8", "replace"),
            "platform_team_id": PLATFORM_TEAM_ID,
            "team_a": team_doc(team_a),
            "team_b": team_doc(team_b),
            "api_key": plain_a,
            "api_key_id": key_a.id,
            "api_key_b": plain_b,
            "api_key_b_id": key_b.id,
            "users": users,
            "jwt_owner": users["owner"]["jwt"],
            "jwt_admin": users["admin"]["jwt"],
            "jwt_member": users["member"]["jwt"],
            "jwt_other": users["other"]["jwt"],
            "jwt_expired": expired,
            "jwt_host": host_jwt,
            "platform_host_id": platform_host.id,
        }


def sandbox_json(sb: Sandbox):
    """sandboxToResponse: Go field order, omitempty applied."""
    d = {"id": sb.id, "status": sb.status, "template": sb.template,
         "vcpus": sb.vcpus, "memory_mb": sb.memory_mb,
         "timeout_sec": sb.timeout_sec}
    if sb.guest_ip:
        d["guest_ip"] = sb.guest_ip
    if sb.host_ip:
        d["host_ip"] = sb.host_ip
    d["created_at"] = rfc3339(sb.created_at)
    if sb.started_at is not None:
        d["started_at"] = rfc3339(sb.started_at)
    if sb.last_active_at is not None:
        d["last_active_at"] = rfc3339(sb.last_active_at)
    d["last_updated"] = rfc3339(sb.last_updated)
    if sb.metadata:
        d["metadata"] = dict(sorted(sb.metadata.items()))   # a Go map
    return d


def template_json(t: Template):
    """templateToResponse (snapshot listing / create)."""
    d = {"name": t.name, "type": t.type}
    if t.vcpus:
        d["vcpus"] = t.vcpus
    if t.memory_mb:
        d["memory_mb"] = t.memory_mb
    d.update(size_bytes=t.size_bytes, created_at=rfc3339(t.created_at),
             platform=t.team_id == PLATFORM_TEAM_ID)
    if t.metadata:
        d["metadata"] = dict(sorted(t.metadata.items()))
    return d

