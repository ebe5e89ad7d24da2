#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake control plane's non-sandbox routes; prints TAP.

Covers /v1/api-keys, /v1/teams (+ members), /v1/users/search, /v1/hosts
(JWT group, register/refresh/heartbeat, the has_active_sandboxes 409),
/v1/channels, /v1/audit-logs (filters, scope, paging through 450 synthetic
entries, the second-truncated cursor quirk), /v1/admin (BYOC, templates,
builds, with and without the simulated build worker), the new /_fake
control endpoints, and that the new routes are logged and take faults.
Uses the launcher and client of test_fakecp.py.  Runs in a few seconds.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True   # do not leave __pycache__ in the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_fakecp import Client, Fake, err, run  # noqa: E402

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
JWT_MISMATCH = "JWT team does not match requested team; use switch-team first"
ZERO_TIME = "0001-01-01T00:00:00Z"


class Ctx:
    """The fake, a client and the seed, for the test sections."""

    def __init__(self, t, fake):
        self.t = t
        self.fake = fake
        self.c = Client(fake.port)
        self.s = fake.seed
        self.a = self.s["team_a"]["id"]
        self.b = self.s["team_b"]["id"]
        self.users = self.s["users"]

    def jwt(self, **claims):
        return self.c.json("POST", "/_fake/jwt", claims)[1]["token"]


def test_api_keys(x):
    t, c, s = x.t, x.c, x.s
    owner = s["jwt_owner"]
    t.eq(c.json("POST", "/v1/api-keys", {}, key=s["api_key"]),
         (401, err("unauthorized", "Authorization: Bearer <token> required")),
         "api-keys: X-API-Key is not accepted (JWT only)")
    t.eq(c.json("POST", "/v1/api-keys", jwt=owner),
         (400, err("invalid_request", "invalid JSON body")),
         "api-keys: body required")
    status, k = c.json("POST", "/v1/api-keys", {"name": ""}, jwt=owner)
    t.eq(status, 201, "api-keys: create returns the key once")
    t.eq(k.get("name"), "Unnamed API Key",
         "api-keys: create returns the key once (name)")
    t.ok(re.fullmatch(r"wrn_[0-9a-f]{32}", k.get("key")),
         "api-keys: create returns the key once", (status, k))
    t.eq(k.get("key_prefix"), k.get("key")[:10],
         "api-keys: create returns the key once (key_prefix)")
    t.eq(k.get("team_id"), x.a,
         "api-keys: create returns the key once (team_id)")
    t.eq(k.get("created_by"), x.users.get("owner", {}).get("id"),
         "api-keys: create returns the key once (created_by)")
    t.ok("creator_email" not in k, "api-keys: create returns the key once", k)
    t.ok("last_used" not in k, "api-keys: create returns the key once", k)
    t.eq(list(k)[-1], "key", "api-keys: create returns the key once")
    t.eq(c.json("GET", "/v1/sandboxes", key=k["key"])[0], 200,
         "api-keys: the new key works on sandbox routes")
    status, keys = c.json("GET", "/v1/api-keys", jwt=owner)
    t.eq(status, 200, "api-keys: list newest first, creator_email, last_used")
    t.eq(keys[0].get("id"), k.get("id"),
         "api-keys: list newest first, creator_email, last_used (id)")
    t.eq(keys[0].get("creator_email"), "owner@a.test",
         "api-keys: list newest first, creator_email, last_used "
         "(creator_email)")
    t.ok("key" not in keys[0],
         "api-keys: list newest first, creator_email, last_used", keys[0])
    t.has(keys[0], "last_used",
          "api-keys: list newest first, creator_email, last_used")
    t.eq({kk.get("team_id") for kk in keys}, {x.a},
         "api-keys: list newest first, creator_email, last_used")
    t.eq(c.json("DELETE", "/v1/api-keys/key-nope", jwt=owner),
         (400, err("invalid_request", "invalid API key ID")),
         "api-keys: bad ID 400")
    t.eq(c.request("DELETE", "/v1/api-keys/" + s["api_key_b_id"],
                   jwt=owner)[0], 204, "api-keys: other team's key: 204")
    t.eq(c.json("GET", "/v1/sandboxes", key=s["api_key_b"])[0], 200,
         "api-keys: ...and it still works")
    t.eq(c.request("DELETE", "/v1/api-keys/" + k["id"], jwt=owner)[0], 204,
         "api-keys: delete 204")
    t.eq(c.json("GET", "/v1/sandboxes", key=k["key"])[0], 401,
         "api-keys: deleted key rejected")
    x.revoked_key_id = k["id"]


def test_teams(x):
    t, c, s = x.t, x.c, x.s
    owner, member = s["jwt_owner"], s["jwt_member"]
    status, teams = c.json("GET", "/v1/teams", jwt=owner)
    t.eq(status, 200, "teams: list with role")
    t.eq(len(teams), 1, "teams: list with role (length)")
    t.eq(teams[0].get("id"), x.a, "teams: list with role (id)")
    t.eq(teams[0].get("role"), "owner", "teams: list with role (role)")
    t.eq(list(teams[0]),
         ["id", "name", "slug", "is_byoc", "created_at", "role"],
         "teams: list with role")
    t.eq(c.json("GET", "/v1/teams/" + x.b, jwt=owner),
         (403, err("forbidden", JWT_MISMATCH)), "teams: URL team != JWT team")
    t.eq(c.json("GET", "/v1/teams/team-x", jwt=owner),
         (400, err("invalid_request", "invalid team ID")), "teams: bad ID")
    status, g = c.json("GET", "/v1/teams/" + x.a, jwt=member)
    t.eq(status, 200, "teams: get with members in join order")
    t.eq(g.get("team", {}).get("name"), "Team A",
         "teams: get with members in join order (name)")
    t.eq([m.get("role") for m in g.get("members")],
         ["owner", "admin", "member"], "teams: get with members in join order")
    t.eq(c.json("PATCH", "/v1/teams/" + x.a, {"name": "bad/name"},
                jwt=member),
         (400, err("invalid_request", "invalid team name: must be 1-128 "
                   "characters, A-Z a-z 0-9 space _")),
         "teams: rename checks the name before the role")
    t.eq(c.json("PATCH", "/v1/teams/" + x.a, {"name": "X"}, jwt=member),
         (403, err("forbidden", "forbidden: admin or owner role required")),
         "teams: member cannot rename")
    fake_owner = x.jwt(user="member", role="owner")
    t.eq(c.json("PATCH", "/v1/teams/" + x.a, {"name": "X"},
                jwt=fake_owner)[0], 403,
         "teams: role is re-read from the DB, not the JWT")
    t.eq(c.request("PATCH", "/v1/teams/" + x.a, '{"name": "  Team A2 "}',
                   jwt=owner)[0], 204, "teams: owner renames")
    t.eq(c.json("GET", "/v1/teams/" + x.a, jwt=owner)[1]["team"]["name"],
         "Team A2", "teams: name trimmed and stored")

    # Members.
    base = "/v1/teams/%s/members" % x.a
    t.eq(c.json("POST", base, {"email": "  "}, jwt=owner),
         (400, err("invalid_request", "email is required")),
         "members: email required")
    t.eq(c.json("POST", base, {"email": "x@y.z"}, jwt=member),
         (403, err("forbidden", "forbidden: admin or owner role required")),
         "members: member cannot add")
    t.eq(c.json("POST", base, {"email": "nobody@a.test"}, jwt=owner),
         (404, err("not_found", "user not found: no account with that "
                   "email")), "members: unknown email 404")
    bob = x.users["other"]
    status, m = c.json("POST", base, {"email": " OWNER@B.test "}, jwt=owner)
    t.eq(status, 201, "members: add -> 201 with the zero joined_at")
    t.eq(m,
         {"user_id": bob.get("id"), "name": bob.get("name"), "email": bob.get("email"), "role": "member", "joined_at": ZERO_TIME},
         "members: add -> 201 with the zero joined_at")
    t.eq(c.json("POST", base, {"email": "owner@b.test"}, jwt=owner),
         (400, err("invalid_request", "invalid: user is already a member "
                   "of this team")), "members: already a member 400")
    bob_url = "%s/%s" % (base, bob["id"])
    t.eq(c.json("PATCH", bob_url, {"role": "owner"}, jwt=member),
         (400, err("invalid_request", "invalid: role must be admin or "
                   "member")), "members: role validated first")
    t.eq(c.json("PATCH", bob_url, {"role": "admin"}, jwt=member)[0], 403,
         "members: member cannot change roles")
    t.eq(c.json("PATCH", "%s/%s" % (base, x.users["owner"]["id"]),
                {"role": "member"}, jwt=s["jwt_admin"]),
         (403, err("forbidden", "forbidden: the owner's role cannot be "
                   "changed")), "members: owner's role is fixed")
    t.eq(c.json("PATCH", "%s/usr-%s" % (base, "0" * 25),
                {"role": "admin"}, jwt=owner),
         (404, err("not_found", "not found: user is not a member of this "
                   "team")), "members: unknown target 404")
    t.eq(c.json("PATCH", base + "/usr-x", {"role": "admin"}, jwt=owner),
         (400, err("invalid_request", "invalid user ID")),
         "members: bad user ID 400")
    t.eq(c.request("PATCH", bob_url, '{"role":"admin"}', jwt=owner)[0], 204,
         "members: role update 204")
    t.eq(c.json("DELETE", "%s/%s" % (base, x.users["owner"]["id"]),
                jwt=s["jwt_admin"]),
         (403, err("forbidden", "forbidden: the owner cannot be removed "
                   "from the team")), "members: owner cannot be removed")
    t.eq(c.request("DELETE", bob_url, jwt=owner)[0], 204,
         "members: remove 204")
    t.eq(c.json("DELETE", bob_url, jwt=owner),
         (404, err("not_found", "not found: user is not a member of this "
                   "team")), "members: remove again 404")
    t.eq(c.json("POST", "/v1/teams/%s/leave" % x.a, jwt=owner),
         (403, err("forbidden", "forbidden: the owner cannot leave the "
                   "team; delete the team instead")), "leave: owner 403")

    # A scratch team: create, leave, delete.
    t.eq(c.json("POST", "/v1/teams", {"name": "bad!"}, jwt=owner)[0], 400,
         "teams: create with a bad name 400")
    status, scratch = c.json("POST", "/v1/teams", {"name": " Scratch "},
                             jwt=owner)
    t.eq(status, 201, "teams: create 201 owner")
    t.eq(scratch.get("name"), "Scratch", "teams: create 201 owner (name)")
    t.eq(scratch.get("role"), "owner", "teams: create 201 owner (role)")
    t.ok(scratch.get("is_byoc") is False, "teams: create 201 owner (is_byoc)",
         scratch.get("is_byoc"))
    t.ok(re.fullmatch(r"[0-9a-f]{6}-[0-9a-f]{6}", scratch.get("slug")),
         "teams: create 201 owner", (status, scratch))
    sid = scratch["id"]
    owner_s = x.jwt(user="owner", team_id=sid)
    c.json("POST", "/v1/teams/%s/members" % sid, {"email": "member@a.test"},
           jwt=owner_s)
    member_s = x.jwt(user="member", team_id=sid, role="member")
    t.eq(c.request("POST", "/v1/teams/%s/leave" % sid, jwt=member_s)[0], 204,
         "leave: member 204")
    t.eq([tt["id"] for tt in c.json("GET", "/v1/teams", jwt=member)[1]],
         [x.a], "leave: team gone from the member's list")
    t.eq(c.json("POST", "/v1/teams/%s/leave" % sid, jwt=member_s),
         (403, err("forbidden", "forbidden: not a member of this team")),
         "leave: twice -> not a member")
    _, sb = c.json("POST", "/v1/sandboxes", {}, jwt=owner_s)
    t.eq(c.json("DELETE", "/v1/teams/" + sid,
                jwt=x.jwt(user="admin", team_id=sid))[0], 403,
         "teams: non-member cannot delete")
    t.eq(c.request("DELETE", "/v1/teams/" + sid, jwt=owner_s)[0], 204,
         "teams: owner deletes")
    t.eq(c.json("GET", "/v1/sandboxes/" + sb["id"], jwt=owner_s)[1]
         ["status"], "stopped", "teams: delete stops the team's sandboxes")
    t.eq(c.json("GET", "/v1/teams/" + sid, jwt=owner_s),
         (404, err("not_found", "team not found")), "teams: deleted is 404")
    t.eq(len(c.json("GET", "/v1/teams", jwt=owner)[1]), 1,
         "teams: deleted team not listed")


def test_users(x):
    t, c = x.t, x.c
    jwt = x.s["jwt_member"]
    t.eq(c.json("GET", "/v1/users/search?email=ow", jwt=jwt),
         (400, err("invalid_request", "email prefix must be at least 3 "
                   "characters and contain '@'")), "users: short prefix")
    t.eq(c.json("GET", "/v1/users/search?email=owner", jwt=jwt)[0], 400,
         "users: prefix needs @")
    t.eq(c.json("GET", "/v1/users/search?email=+owner@+", jwt=jwt),
         (200, [{"user_id": x.users["owner"]["id"], "email": "owner@a.test"},
                {"user_id": x.users["other"]["id"],
                 "email": "owner@b.test"}]),
         "users: trimmed prefix, sorted by email")
    t.eq(c.json("GET", "/v1/users/search?email=%25@a", jwt=jwt), (200, []),
         "users: % is matched literally")
    t.eq(c.json("GET", "/v1/users/search?email=OWNER@", jwt=jwt), (200, []),
         "users: case-sensitive")
    t.eq(c.json("GET", "/v1/users/search?email=owner@", key=x.s["api_key"])
         [0], 401, "users: JWT only")


def test_hosts(x):
    t, c, s = x.t, x.c, x.s
    owner, admin, other = s["jwt_owner"], s["jwt_admin"], s["jwt_other"]
    ph = s["platform_host_id"]
    status, hosts = c.json("GET", "/v1/hosts", jwt=admin)
    t.eq(status, 200, "hosts: admin sees the seeded platform host")
    t.eq([h.get("id") for h in hosts], [ph],
         "hosts: admin sees the seeded platform host")
    t.eq(hosts[0].get("status"), "online",
         "hosts: admin sees the seeded platform host (status)")
    t.ok("team_id" not in hosts[0],
         "hosts: admin sees the seeded platform host", hosts[0])
    t.eq(c.json("GET", "/v1/hosts", jwt=owner), (200, []),
         "hosts: non-admin sees only their BYOC hosts")
    t.eq(c.json("GET", "/v1/hosts/" + ph, jwt=owner),
         (404, err("not_found", "host not found")),
         "hosts: regular host hidden from non-admins")
    t.eq(c.json("GET", "/v1/hosts/host-x", jwt=admin),
         (400, err("invalid_request", "invalid host ID")), "hosts: bad ID")
    t.eq(c.json("POST", "/v1/hosts", {"type": "regular"}, jwt=owner),
         (403, err("forbidden", "forbidden: only admins can create regular "
                   "hosts")), "hosts: regular needs platform admin")
    t.eq(c.json("POST", "/v1/hosts", {"type": "x"}, jwt=admin),
         (400, err("invalid_request", "invalid host type: must be 'regular' "
                   "or 'byoc'")), "hosts: bad type")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc"}, jwt=owner),
         (400, err("invalid_request", "invalid request: team_id is required "
                   "for BYOC hosts")), "hosts: byoc needs team_id")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc", "team_id": "t"},
                jwt=owner),
         (400, err("invalid_request", "invalid team_id")),
         "hosts: bad team_id")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc", "team_id": x.b},
                jwt=owner),
         (403, err("forbidden", "forbidden: not a member of the specified "
                   "team")), "hosts: byoc for a foreign team")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc", "team_id": x.a},
                jwt=s["jwt_member"]),
         (403, err("forbidden", "forbidden: only team owners and admins can "
                   "manage BYOC hosts")), "hosts: byoc needs owner/admin")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc", "team_id": x.a},
                jwt=owner),
         (403, err("forbidden", "forbidden: BYOC is not enabled for this "
                   "team")), "hosts: byoc needs BYOC enabled")
    t.eq(c.json("POST", "/v1/hosts", {"type": "byoc",
                                      "team_id": "team-" + "0" * 24 + "1"},
                jwt=admin),
         (404, err("not_found", "invalid request: team not found")),
         "hosts: unknown team is 404 (\"not found\" wins)")

    # Enable BYOC for team B: its sandboxes now need a BYOC host.
    byoc_url = "/v1/admin/teams/%s/byoc" % x.b
    t.eq(c.json("PUT", byoc_url, {"enabled": True}, jwt=owner),
         (403, err("forbidden", "admin access required")),
         "admin: owner is not a platform admin")
    t.eq(c.json("PUT", byoc_url, {"enabled": True},
                jwt=x.jwt(user="owner", is_admin=True))[0], 403,
         "admin: the is_admin claim is not trusted")
    t.eq(c.request("PUT", byoc_url, '{"enabled":true}', jwt=admin)[0], 204,
         "admin: enable BYOC 204")
    t.eq(c.request("PUT", byoc_url, '{"enabled":true}', jwt=admin)[0], 204,
         "admin: enable BYOC again 204")
    t.eq(c.json("PUT", byoc_url, {"enabled": False}, jwt=admin),
         (400, err("invalid_request", "invalid request: BYOC cannot be "
                   "disabled once enabled")), "admin: BYOC is one-way")
    t.eq(c.json("PUT", "/v1/admin/teams/team-%s1/byoc" % ("0" * 24),
                {"enabled": True}, jwt=admin)[0], 404,
         "admin: BYOC unknown team 404")
    t.eq(c.json("POST", "/v1/sandboxes", {}, key=s["api_key_b"]),
         (500, err("internal_error", "select host: no online BYOC hosts "
                   "available for team")),
         "scheduler: BYOC team without hosts cannot create sandboxes")

    # A BYOC host via the API: pending, token, register, heartbeat.
    status, cr = c.json("POST", "/v1/hosts", {"type": "byoc", "team_id": x.b,
                                              "provider": "aws"}, jwt=other)
    h = cr["host"] if status == 201 else {}
    t.eq(status, 201, "hosts: byoc create 201 pending + 64-hex token")
    t.ok(HEX64.match(cr.get("registration_token")),
         "hosts: byoc create 201 pending + 64-hex token", (status, cr))
    t.eq(h.get("status"), "pending",
         "hosts: byoc create 201 pending + 64-hex token (status)")
    t.eq(h.get("team_id"), x.b,
         "hosts: byoc create 201 pending + 64-hex token (team_id)")
    t.eq(h.get("provider"), "aws",
         "hosts: byoc create 201 pending + 64-hex token (provider)")
    t.ok("address" not in h, "hosts: byoc create 201 pending + 64-hex token",
         h)
    t.ok("last_heartbeat_at" not in h,
         "hosts: byoc create 201 pending + 64-hex token", h)
    t.eq(h.get("created_by"), x.users.get("other", {}).get("id"),
         "hosts: byoc create 201 pending + 64-hex token (created_by)")
    hid = h.get("id", "host-x")
    status, rt = c.json("POST", "/v1/hosts/%s/token" % hid, jwt=other)
    t.eq(status, 201, "hosts: regenerate token for a pending host")
    t.ok(HEX64.match(rt.get("registration_token")),
         "hosts: regenerate token for a pending host", (status, rt))
    t.ok(rt.get("registration_token") != cr.get("registration_token"),
         "hosts: regenerate token for a pending host (registration_token)",
         rt.get("registration_token"))
    t.eq(c.json("POST", "/v1/hosts/%s/token" % ph, jwt=other),
         (400, err("invalid_request", "invalid state: can only regenerate "
                   "token for pending hosts (status: online)")),
         "hosts: token for a non-pending host is 400 (state before perms)")
    t.eq(c.json("POST", "/v1/hosts/register", {"token": "x"}),
         (400, err("invalid_request", "address is required")),
         "register: address required")
    status, reg = c.json("POST", "/v1/hosts/register",
                         {"token": rt["registration_token"],
                          "address": "10.1.2.3:50051", "arch": "arm64",
                          "cpu_cores": 4, "memory_mb": 8192})
    t.eq(status, 201, "register: 201 online, host JWT, refresh token")
    t.eq(reg.get("host", {}).get("status"), "online",
         "register: 201 online, host JWT, refresh token (status)")
    t.eq(reg.get("host", {}).get("address"), "10.1.2.3:50051",
         "register: 201 online, host JWT, refresh token (address)")
    t.eq(reg.get("host", {}).get("cpu_cores"), 4,
         "register: 201 online, host JWT, refresh token (cpu_cores)")
    t.ok("disk_gb" not in reg.get("host"),
         "register: 201 online, host JWT, refresh token (host)",
         reg.get("host"))
    t.ok(HEX64.match(reg.get("refresh_token")),
         "register: 201 online, host JWT, refresh token", (status, reg))
    t.ok("cert_pem" not in reg,
         "register: 201 online, host JWT, refresh token", reg)
    t.eq(reg.get("token").count("."), 2,
         "register: 201 online, host JWT, refresh token")
    t.eq(c.json("POST", "/v1/hosts/register",
                {"token": cr["registration_token"], "address": "a:1"}),
         (404, err("not_found", "host already registered or not found")),
         "register: the other token of a registered host")
    t.eq(c.json("POST", "/v1/hosts/register",
                {"token": rt["registration_token"], "address": "a:1"}),
         (401, err("unauthorized", "invalid or expired registration token")),
         "register: tokens are single-use")
    hb = "/v1/hosts/%s/heartbeat" % hid
    t.eq(c.json("POST", hb),
         (401, err("unauthorized", "X-Host-Token header required")),
         "heartbeat: token required")
    t.eq(c.request("POST", hb, headers={"X-Host-Token": reg["token"]})[0],
         204, "heartbeat: 204")
    t.eq(c.json("POST", "/v1/hosts/%s/heartbeat" % ph,
                headers={"X-Host-Token": reg["token"]}),
         (403, err("forbidden", "host ID mismatch")), "heartbeat: mismatch")
    status, ref = c.json("POST", "/v1/hosts/auth/refresh",
                         {"refresh_token": reg["refresh_token"]})
    t.eq(status, 200, "refresh: rotated")
    t.ok(ref.get("refresh_token") != reg.get("refresh_token"),
         "refresh: rotated (refresh_token)", ref.get("refresh_token"))
    t.eq(ref.get("host", {}).get("id"), hid, "refresh: rotated (id)")
    t.eq(c.json("POST", "/v1/hosts/auth/refresh",
                {"refresh_token": reg["refresh_token"]}),
         (401, err("unauthorized", "invalid or expired refresh token")),
         "refresh: old token revoked")

    # Listing and visibility.
    status, hosts = c.json("GET", "/v1/hosts", jwt=admin)
    t.eq(status, 200, "hosts: admin list newest first with team_name")
    t.eq(hosts[0].get("id"), hid,
         "hosts: admin list newest first with team_name (id)")
    t.eq(hosts[0].get("team_name"), "Team B",
         "hosts: admin list newest first with team_name (team_name)")
    t.ok("team_name" not in hosts[-1],
         "hosts: admin list newest first with team_name", hosts[-1])
    status, hosts = c.json("GET", "/v1/hosts", jwt=other)
    t.eq(status, 200, "hosts: team sees its BYOC host")
    t.eq([hh.get("id") for hh in hosts], [hid],
         "hosts: team sees its BYOC host")
    t.ok("team_name" not in hosts[0], "hosts: team sees its BYOC host",
         hosts[0])
    t.eq(c.json("GET", "/v1/hosts/" + hid, jwt=owner)[0], 404,
         "hosts: other team's BYOC host is 404")

    # Tags.
    tags = "/v1/hosts/%s/tags" % hid
    status, _, body = c.request("GET", tags, jwt=other)
    t.eq(status, 200, "tags: null when none")
    t.eq(body, b"null\n", "tags: null when none")
    t.eq(c.json("POST", tags, {}, jwt=other),
         (400, err("invalid_request", "tag is required")), "tags: required")
    for tag in ("gpu", "a", "gpu"):
        c.request("POST", tags, '{"tag":"%s"}' % tag, jwt=other)
    t.eq(c.json("GET", tags, jwt=other), (200, ["a", "gpu"]),
         "tags: sorted, idempotent")
    t.eq(c.request("DELETE", tags + "/zzz", jwt=other)[0], 204,
         "tags: delete absent 204")
    c.request("DELETE", tags + "/gpu", jwt=other)
    t.eq(c.json("GET", tags, jwt=other), (200, ["a"]), "tags: deleted")
    t.eq(c.json("POST", tags, {"tag": "x"}, jwt=owner)[0], 404,
         "tags: other team 404")

    # Sandboxes on the BYOC host; delete with and without force.
    status, sb1 = c.json("POST", "/v1/sandboxes", {}, key=s["api_key_b"])
    t.eq(c.json("GET", "/_fake/sandboxes/" + sb1["id"])[1]["host_id"], hid,
         "scheduler: BYOC team's sandbox lands on its host")
    special = {"error": {"code": "has_active_sandboxes",
                         "message": "host has active sandboxes; use "
                         "?force=true to destroy them and delete the host",
                         "sandbox_ids": [sb1["id"]]}}
    t.eq(c.json("DELETE", "/v1/hosts/" + hid, jwt=other), (409, special),
         "hosts: delete with active sandboxes -> special 409")
    t.eq(c.json("DELETE", "/v1/hosts/%s?force=TRUE" % hid, jwt=other),
         (409, special), "hosts: force must be exactly \"true\"")
    t.eq(c.json("GET", "/v1/hosts/%s/delete-preview" % hid,
                jwt=x.jwt(user="other", role="member")),
         (200, {"host": c.json("GET", "/v1/hosts/" + hid, jwt=other)[1],
                "sandbox_ids": [sb1["id"]]}), "hosts: delete-preview")
    t.eq(c.json("DELETE", "/v1/hosts/" + ph, jwt=other),
         (403, err("forbidden", "forbidden: only admins can delete regular "
                   "hosts")), "hosts: regular delete needs admin")
    t.eq(c.json("DELETE", "/v1/hosts/" + hid, jwt=owner),
         (403, err("forbidden", "forbidden: host does not belong to your "
                   "team")), "hosts: foreign BYOC host delete 403")
    t.eq(c.request("DELETE", "/v1/hosts/%s?force=true" % hid, jwt=other)[0],
         204, "hosts: forced delete 204")
    t.eq(c.json("GET", "/v1/sandboxes/" + sb1["id"], key=s["api_key_b"])[1]
         ["status"], "stopped", "hosts: forced delete stops the sandboxes")
    t.eq(c.json("GET", "/v1/hosts/" + hid, jwt=admin),
         (404, err("not_found", "host not found: no rows in result set")),
         "hosts: gone")

    # A paused sandbox left on a deleted host (via /_fake/hosts).
    status, fh = c.json("POST", "/_fake/hosts",
                        {"type": "byoc", "team_id": x.b})
    t.eq(status, 201, "control: POST /_fake/hosts")
    t.eq(fh.get("status"), "online", "control: POST /_fake/hosts (status)")
    t.ok(fh.get("address"), "control: POST /_fake/hosts (address)",
         (status, fh))
    _, sb2 = c.json("POST", "/v1/sandboxes", {}, key=s["api_key_b"])
    c.json("POST", "/v1/sandboxes/%s/pause" % sb2["id"], key=s["api_key_b"])
    t.eq(c.request("DELETE", "/v1/hosts/" + fh["id"], jwt=other)[0], 204,
         "hosts: paused sandboxes do not block delete")
    t.eq(c.json("DELETE", "/v1/sandboxes/" + sb2["id"], key=s["api_key_b"]),
         (404, err("not_found", "host not found for sandbox: no rows in "
                   "result set")), "sandboxes: destroy on a deleted host 404")
    # Placement control.
    _, sb3 = c.json("POST", "/v1/sandboxes", {}, key=s["api_key"])
    status, pending = c.json("POST", "/_fake/hosts", {"status": "pending"})
    t.eq(status, 201, "control: pending host with token")
    t.ok(HEX64.match(pending.get("registration_token")),
         "control: pending host with token", pending)
    t.ok("address" not in pending, "control: pending host with token", pending)
    t.eq(c.json("POST", "/_fake/sandboxes/%s/host" % sb3["id"],
                {"host_id": pending["id"]})[1]["host_id"], pending["id"],
         "control: place a sandbox on a host")
    t.eq(c.json("POST", "/v1/sandboxes/%s/pause" % sb3["id"],
                key=s["api_key"]),
         (500, err("internal_error", "get agent client: host %s has no "
                   "address" % pending["id"])),
         "sandboxes: host without address 500")
    t.eq(c.json("POST", "/v1/sandboxes/%s/exec" % sb3["id"], {"cmd": "true"},
                key=s["api_key"]),
         (503, err("host_unavailable", "sandbox host is not reachable")),
         "exec: host without address 503")
    c.json("POST", "/_fake/sandboxes/%s/host" % sb3["id"], {"host_id": ph})
    t.eq(c.json("GET", "/v1/hosts/%s/delete-preview" % ph, jwt=admin)[1]
         ["sandbox_ids"][0], sb3["id"], "hosts: preview lists newest first")


def test_channels(x):
    t, c, s = x.t, x.c, x.s
    owner = s["jwt_owner"]
    t.eq(c.json("GET", "/v1/channels", key=s["api_key"])[0], 401,
         "channels: JWT only")
    body = {"name": " My Hook ", "provider": "webhook",
            "config": {"url": "http://127.0.0.1:9/"},
            "events": ["capsule.created", "host.down"]}
    status, ch = c.json("POST", "/v1/channels", body, jwt=owner)
    t.eq(status, 201, "channels: create webhook, name normalised, secret")
    t.eq(ch.get("name"), "my-hook",
         "channels: create webhook, name normalised, secret (name)")
    t.eq(ch.get("events"), body.get("events"),
         "channels: create webhook, name normalised, secret (events)")
    t.ok(HEX64.match(ch.get("secret")),
         "channels: create webhook, name normalised, secret", (status, ch))
    t.eq(list(ch),
         ["id", "team_id", "name", "provider", "events", "created_at", "updated_at", "secret"],
         "channels: create webhook, name normalised, secret")
    t.eq(c.json("POST", "/v1/channels", body, jwt=owner),
         (409, err("conflict", 'conflict: channel name "my-hook" already '
                   'exists')), "channels: name taken 409")
    cases = [
        ({"name": "", "provider": "nope"}, "invalid: name must not be empty"),
        ({"name": "a/b"}, 'invalid: name "a/b" contains invalid characters '
         'or is too long (max 64, must match ^[a-zA-Z0-9][a-zA-Z0-9._-]'
         '{0,63}$)'),
        ({"name": "n", "provider": "nope"},
         'invalid: unsupported provider "nope"'),
        ({"name": "n", "provider": "slack"},
         "invalid: at least one event type is required"),
        ({"name": "n", "provider": "slack", "events": ["capsule.x"]},
         'invalid: unknown event type "capsule.x"'),
        ({"name": "n", "provider": "telegram", "events": ["host.up"],
          "config": {"bot_token": "t"}},
         "invalid: chat_id is required for telegram"),
    ]
    for b, msg in cases:
        t.eq(c.json("POST", "/v1/channels", b, jwt=owner),
             (400, err("invalid_request", msg)), "channels: " + msg)
    status, sl = c.json("POST", "/v1/channels",
                        {"name": "Slack", "provider": "slack",
                         "config": {"webhook_url": "u", "secret": "s"},
                         "events": ["host.up"]}, jwt=owner)
    t.eq(status, 201, "channels: no secret for other providers")
    t.ok("secret" not in sl, "channels: no secret for other providers", sl)
    status, lst = c.json("GET", "/v1/channels", jwt=owner)
    t.eq([cc["id"] for cc in lst], [sl["id"], ch["id"]],
         "channels: list newest first")
    t.eq(c.json("GET", "/v1/channels/" + ch["id"], jwt=owner)[1],
         {k: v for k, v in ch.items() if k != "secret"}, "channels: get")
    t.eq(c.json("GET", "/v1/channels/" + ch["id"], jwt=s["jwt_other"]),
         (404, err("not_found", "channel not found")),
         "channels: other team 404")
    t.eq(c.json("GET", "/v1/channels/ch-x", jwt=owner),
         (400, err("invalid_request", "invalid channel ID")),
         "channels: bad ID")
    url = "/v1/channels/" + sl["id"]
    t.eq(c.json("PATCH", url, {"name": "x"}, jwt=owner),
         (400, err("invalid_request", "invalid: at least one event type is "
                   "required")), "channels: PATCH needs events")
    t.eq(c.json("PATCH", url, {"name": "MY HOOK", "events": ["host.up"]},
                jwt=owner)[0], 409, "channels: PATCH to a taken name 409")
    status, up = c.json("PATCH", url, {"name": "ops", "events":
                                       ["host.up", "host.down"]}, jwt=owner)
    t.eq(status, 200, "channels: PATCH 200")
    t.eq(up.get("name"), "ops", "channels: PATCH 200 (name)")
    t.eq(up.get("events"), ["host.up", "host.down"],
         "channels: PATCH 200 (events)")
    t.eq(c.json("PUT", "/v1/channels/%s/config" % ch["id"], {"config": {}},
                jwt=owner),
         (400, err("invalid_request", "invalid: url is required for "
                   "webhook")), "channels: PUT config validated")
    status, rc = c.json("PUT", "/v1/channels/%s/config" % ch["id"],
                        {"config": {"url": "http://x/"}}, jwt=owner)
    t.eq(status, 200, "channels: PUT config 200")
    t.ok("secret" not in rc, "channels: PUT config 200 (exit status)", rc)
    t.eq(c.json("POST", "/v1/channels/test",
                {"provider": "slack", "config": {"webhook_url": "u"}},
                jwt=owner), (200, {"status": "ok"}), "channels: test ok")
    t.eq(c.json("POST", "/v1/channels/test", {"provider": "matrix"},
                jwt=owner),
         (400, err("invalid_request", "invalid: homeserver_url is required "
                   "for matrix")), "channels: test validates")
    t.eq(c.request("DELETE", url, jwt=owner)[0], 204, "channels: delete")
    t.eq(c.request("DELETE", url, jwt=owner)[0], 204,
         "channels: delete again 204")
    t.eq(c.json("GET", url, jwt=owner)[0], 404, "channels: gone")
    x.channel_id = ch["id"]


def _page(x, jwt, query):
    return x.c.json("GET", "/v1/audit-logs?" + query, jwt=jwt)


def test_audit(x):
    t, c, s = x.t, x.c, x.s
    owner, member = s["jwt_owner"], s["jwt_member"]
    status, page = _page(x, owner, "limit=200")
    acts = {(e["resource_type"], e["action"]) for e in page["items"]}
    want = {("api_key", "create"), ("api_key", "revoke"),
            ("team", "rename"), ("member", "add"), ("member", "role_update"),
            ("member", "remove"), ("sandbox", "create"), ("channel", "create"),
            ("channel", "update"), ("channel", "rotate_config"),
            ("channel", "delete")}
    t.eq(status, 200, "audit: actions are recorded")
    t.ok(want <= acts, "audit: actions are recorded", want)
    ren = [e for e in page["items"] if e["action"] == "rename"]
    t.ok(ren, "audit: rename entry", ren)
    t.eq(ren[0].get("metadata"), {"new_name": "Team A2", "old_name": "Team A"},
         "audit: rename entry (metadata)")
    t.eq(ren[0].get("actor_type"), "user", "audit: rename entry (actor_type)")
    t.eq(ren[0].get("actor_name"), "Alice Owner",
         "audit: rename entry (actor_name)")
    t.eq(ren[0].get("scope"), "team", "audit: rename entry (scope)")
    t.eq(ren[0].get("status"), "info", "audit: rename entry (status)")
    keys = [e for e in page["items"] if e["resource_type"] == "api_key"
            and e["action"] == "revoke"]
    t.ok(keys, "audit: empty metadata omitted", keys)
    t.eq(keys[0].get("resource_id"), x.revoked_key_id,
         "audit: empty metadata omitted (resource_id)")
    t.ok("metadata" not in keys[0], "audit: empty metadata omitted", keys[0])
    status, mp = _page(x, member, "limit=200")
    t.eq(status, 200, "audit: members see team scope only")
    t.ok(mp.get("items"), "audit: members see team scope only (items)",
         mp.get("items"))
    t.ok(all(e.get("scope") == "team" for e in mp.get("items")),
         "audit: members see team scope only",
         all(e.get("scope") == "team" for e in mp.get("items")))
    t.ok(any(e.get("scope") == "admin" for e in page.get("items")),
         "audit: members see team scope only",
         any(e.get("scope") == "admin" for e in page.get("items")))
    status, f = _page(x, owner, "resource_type=channel,api_key"
                      "&action=revoke&action=+delete,")
    t.eq(status, 200, "audit: multi-value filters")
    t.eq({(e.get("resource_type"), e.get("action")) for e in f.get("items")},
         {("api_key", "revoke"), ("channel", "delete")},
         "audit: multi-value filters")
    t.eq(_page(x, owner, "resource_type=nothing"), (200, {"items": []}),
         "audit: no cursor fields when empty")
    bad = [("before=yesterday&limit=0", "before must be an RFC3339 "
            "timestamp"),
           ("limit=0", "limit must be a positive integer"),
           ("limit=1.5", "limit must be a positive integer"),
           ("before_id=log-x", "before_id must be a valid audit log ID")]
    for q, msg in bad:
        t.eq(_page(x, owner, q), (400, err("invalid_request", msg)),
             "audit: " + q)
    t.eq(_page(x, owner, "limit=%2B1")[0], 200, "audit: limit=+1 is ok")

    # 450 synthetic entries one second apart: pages of 200, 200, 50.
    status, made = c.json("POST", "/_fake/audit",
                          {"count": 450, "team_id": x.b,
                           "resource_type": "synthetic"})
    t.eq(status, 201, "control: POST /_fake/audit")
    t.eq(len(made.get("ids")), 450,
         "control: POST /_fake/audit (length of ids)")
    other = s["jwt_other"]
    got, sizes, q = [], [], "resource_type=synthetic&limit=1000"
    while len(sizes) < 10:
        status, p = _page(x, other, q)
        sizes.append(len(p["items"]))
        if not p["items"]:
            break
        got += [e["id"] for e in p["items"]]
        q = "resource_type=synthetic&limit=1000&before=%s&before_id=%s" % (
            p["next_before"], p["next_before_id"])
    t.eq(sizes, [200, 200, 50, 0],
         "audit: paging through 450 entries (limit clamped to 200)")
    t.eq(got, made.get("ids"),
         "audit: paging through 450 entries (limit clamped to 200)")

    # The cursor quirk: entries 10 ms apart share seconds and get skipped.
    c.json("POST", "/_fake/audit", {"count": 30, "team_id": x.b,
                                    "resource_type": "quirk",
                                    "spread_ms": 10})
    raw = c.json("GET", "/_fake/audit?team_id=" + x.b)[1]
    raw = [e for e in raw if e["resource_type"] == "quirk"]
    status, p1 = _page(x, other, "resource_type=quirk&limit=5")
    last_us = raw[4]["created_us"]
    status, p2 = _page(x, other, "resource_type=quirk&limit=100&before=%s"
                       "&before_id=%s" % (p1["next_before"],
                                          p1["next_before_id"]))
    expect = [e["id"] for e in raw
              if e["created_us"] < last_us // 1000000 * 1000000]
    t.ok(not re.search(r"\.", p1.get("next_before")),
         "audit: second-truncated cursor skips the rest of that second",
         (p1["next_before"], len(expect)))
    t.eq([e.get("id") for e in p2.get("items")], expect,
         "audit: second-truncated cursor skips the rest of that second")
    t.ok(len(expect) < 25,
         "audit: second-truncated cursor skips the rest of that second "
         "(length)", len(expect))
    # Same timestamp for all: only the id tie-breaker separates them.
    c.json("POST", "/_fake/audit", {"count": 6, "team_id": x.b,
                                    "resource_type": "tie", "spread_ms": 0})
    raw = [e for e in c.json("GET", "/_fake/audit?team_id=" + x.b)[1]
           if e["resource_type"] == "tie"]
    us = raw[0]["created_us"]
    exact = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1000000)) \
        + ".%06dZ" % (us % 1000000)
    status, p = _page(x, other, "resource_type=tie&before=%s&before_id=%s"
                      % (exact, raw[1]["id"]))
    t.eq([e["id"] for e in p["items"]], [e["id"] for e in raw[2:]],
         "audit: before with microseconds + before_id tie-breaker")
    status, p = _page(x, other, "resource_type=tie&before_id=" + raw[1]["id"])
    t.eq(len(p["items"]), 6, "audit: before_id alone is ignored")
    status, p = _page(x, other, "resource_type=tie&before=" + ZERO_TIME)
    t.eq(len(p["items"]), 6, "audit: the zero time means no cursor")


def test_admin(x):
    t, c, s = x.t, x.c, x.s
    admin = s["jwt_admin"]
    t.eq(c.json("GET", "/v1/admin/templates", key=s["api_key"])[0], 401,
         "admin: JWT required")
    status, tm = c.json("GET", "/v1/admin/templates", jwt=admin)
    t.eq(status, 200, "admin: templates of all teams")
    t.eq(tm[-1],
         { "name": "minimal", "type": "base", "vcpus": 1, "memory_mb": 512, "size_bytes": 0, "team_id": s.get("platform_team_id"), "created_at": tm[-1].get("created_at")},
         "admin: templates of all teams")
    t.eq(c.json("DELETE", "/v1/admin/templates/minimal", jwt=admin),
         (403, err("forbidden", "the minimal template cannot be deleted")),
         "admin: minimal cannot be deleted")
    t.eq(c.json("DELETE", "/v1/admin/templates/nope", jwt=admin),
         (404, err("not_found", "template not found")),
         "admin: only platform templates")
    t.eq(c.json("POST", "/v1/admin/builds", {}, jwt=admin),
         (400, err("invalid_request", "name is required")),
         "builds: name required")
    t.eq(c.json("POST", "/v1/admin/builds", {"name": ".x"}, jwt=admin)[1]
         ["error"]["message"][:23], "invalid template name: ",
         "builds: safe name")
    t.eq(c.json("POST", "/v1/admin/builds", {"name": "x", "recipe": []},
                jwt=admin),
         (400, err("invalid_request", "recipe must contain at least one "
                   "command")), "builds: recipe required")
    status, b = c.json("POST", "/v1/admin/builds",
                       {"name": "py", "recipe": ["RUN echo <hi>", "ENV A=b"]},
                       jwt=admin)
    t.eq(status, 201, "builds: create 201 pending")
    t.eq(b.get("status"), "pending", "builds: create 201 pending (status)")
    t.eq(b.get("total_steps"), 6, "builds: create 201 pending (total_steps)")
    t.eq(b.get("base_template"), "minimal",
         "builds: create 201 pending (base_template)")
    t.eq(b.get("vcpus"), 1, "builds: create 201 pending (vcpus)")
    t.eq(b.get("memory_mb"), 512, "builds: create 201 pending (memory_mb)")
    t.eq(b.get("logs"), [], "builds: create 201 pending (logs)")
    t.eq(b.get("current_step"), 0, "builds: create 201 pending (current_step)")
    t.ok("healthcheck" not in b, "builds: create 201 pending", b)
    t.ok(b.get("id", "").startswith("bld-"), "builds: create 201 pending",
         (status, b))
    status, b2 = c.json("POST", "/v1/admin/builds",
                        {"name": "py2", "recipe": ["RUN x"],
                         "skip_pre_post": True, "vcpus": 2,
                         "healthcheck": "true"}, jwt=admin)
    t.eq(status, 201, "builds: skip_pre_post")
    t.eq(b2.get("total_steps"), 1, "builds: skip_pre_post (total_steps)")
    t.eq(b2.get("vcpus"), 2, "builds: skip_pre_post (vcpus)")
    t.eq(b2.get("healthcheck"), "true", "builds: skip_pre_post (healthcheck)")
    t.eq([bb["id"] for bb in c.json("GET", "/v1/admin/builds",
                                    jwt=admin)[1]], [b2["id"], b["id"]],
         "builds: list newest first")
    t.eq(c.json("GET", "/v1/admin/builds/" + b["id"], jwt=admin), (200, b),
         "builds: get")
    t.eq(c.json("GET", "/v1/admin/builds/bld-x", jwt=admin),
         (400, err("invalid_request", "invalid build ID")), "builds: bad ID")
    unknown = "bld-" + "0" * 25
    t.eq(c.json("GET", "/v1/admin/builds/" + unknown, jwt=admin),
         (404, err("not_found", "build not found")), "builds: unknown 404")
    t.eq(c.request("POST", "/v1/admin/builds/%s/cancel" % b["id"],
                   jwt=admin)[0], 204, "builds: cancel 204")
    t.eq(c.json("POST", "/v1/admin/builds/%s/cancel" % b["id"], jwt=admin),
         (400, err("invalid_request", "build is already cancelled")),
         "builds: cancel finished 400 raw text")
    t.eq(c.json("POST", "/v1/admin/builds/%s/cancel" % unknown, jwt=admin),
         (400, err("invalid_request", "get build: no rows in result set")),
         "builds: cancel unknown 400 raw text")
    st_, cb = c.json("GET", "/v1/admin/builds/" + b["id"], jwt=admin)
    t.eq(cb.get("status"), "cancelled", "builds: cancelled shape (status)")
    t.has(cb, "completed_at", "builds: cancelled shape")
    t.ok("started_at" not in cb, "builds: cancelled shape", cb)


def test_routing_log_faults(x):
    t, c, s = x.t, x.c, x.s
    t.eq(c.json("GET", "/v1/hosts/register")[0], 401,
         "routing: GET /v1/hosts/register falls into the JWT {id} routes")
    t.eq(c.json("GET", "/v1/hosts/register", jwt=s["jwt_admin"]),
         (400, err("invalid_request", "invalid host ID")),
         "routing: ...and is a bad host ID")
    t.eq(c.request("GET", "/v1/teams/%s/nope" % x.a)[0], 401,
         "routing: auth before 404 under /v1/teams")
    t.eq(c.request("GET", "/v1/teams/%s/nope" % x.a,
                   jwt=s["jwt_owner"])[:3:2], (404, b"404 page not found\n"),
         "routing: chi 404 with credentials")
    status, hdrs, _ = c.request("PUT", "/v1/channels", jwt=s["jwt_owner"])
    t.eq(status, 405, "routing: 405 with Allow")
    t.eq(sorted(hdrs.get_all("Allow") or []), ["GET", "POST"],
         "routing: 405 with Allow")
    t.eq(c.request("GET", "/v1/users/search/x")[0], 404,
         "routing: inline JWT route has no auth on unknown paths")
    c.request("DELETE", "/_fake/requests")
    c.request("GET", "/v1/channels", jwt=s["jwt_owner"])
    c.request("GET", "/v1/audit-logs", jwt=s["jwt_owner"])
    log = c.json("GET", "/_fake/requests")[1]
    t.eq([e.get("path") for e in log], ["/v1/channels", "/v1/audit-logs"],
         "log: new routes are logged")
    t.ok(all(e.get("status") == 200 for e in log),
         "log: new routes are logged", log)
    c.request("POST", "/_fake/faults", '{"path": "^/v1/admin/", '
              '"status": 503, "count": 1}')
    t.eq(c.json("GET", "/v1/admin/builds", jwt=s["jwt_admin"]),
         (503, err("host_unavailable", "injected fault")),
         "faults: apply to the new routes")
    t.eq(c.json("GET", "/v1/admin/builds", jwt=s["jwt_admin"])[0], 200,
         "faults: count exhausted")
    c.request("DELETE", "/_fake/faults")


def test_build_worker(t, tmp):
    fake = Fake(tmp, "builds", extra=["--build-step-ms", "20"])
    try:
        c = Client(fake.port)
        admin = fake.seed["jwt_admin"]
        _, b = c.json("POST", "/v1/admin/builds",
                      {"name": "tool", "recipe": ["RUN apt install -y x",
                                                  "WORKDIR /srv"]},
                      jwt=admin)
        _, bad = c.json("POST", "/v1/admin/builds",
                        {"name": "bad", "recipe": ["FROM x"]}, jwt=admin)
        deadline = time.time() + 5
        while time.time() < deadline:
            cur = c.json("GET", "/v1/admin/builds/" + b["id"], jwt=admin)[1]
            if cur["status"] not in ("pending", "running"):
                break
            time.sleep(0.05)
        t.eq(cur.get("status"), "success",
             "build worker: success with logs (status)")
        t.eq(cur.get("current_step"), 6,
             "build worker: success with logs (current_step)")
        t.eq([e.get("phase") for e in cur.get("logs")],
             ["pre-build", "recipe", "recipe", "post-build", "post-build", "post-build"],
             "build worker: success with logs")
        t.eq(cur.get("host_id"), fake.seed[ "platform_host_id"],
             "build worker: success with logs (host_id)")
        t.has(cur, "started_at", "build worker: success with logs")
        t.has(cur, "completed_at", "build worker: success with logs")
        names = [tt["name"] for tt in c.json("GET", "/v1/snapshots",
                                             key=fake.seed["api_key"])[1]]
        t.ok("tool" in names, "build worker: platform template created",
             names)
        badb = c.json("GET", "/v1/admin/builds/" + bad["id"], jwt=admin)[1]
        t.eq(badb.get("status"), "failed",
             "build worker: recipe parse failure (status)")
        t.eq(badb.get("error"),
             'recipe parse error: recipe line 1: unknown instruction "FROM" (expected RUN, START, ENV, WORKDIR, USER, or COPY)',
             "build worker: recipe parse failure (error)")
    finally:
        t.eq(fake.stop(), 0, "build worker fake: clean exit")


def _main_body(t, tmp, fakes):
    fake = Fake(tmp, "plain")
    fakes.append(fake)
    x = Ctx(t, fake)
    test_api_keys(x)
    test_teams(x)
    test_users(x)
    test_hosts(x)
    test_channels(x)
    test_audit(x)
    test_admin(x)
    test_routing_log_faults(x)
    test_build_worker(t, tmp)


def main():
    return run("test-fakecp-res-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
