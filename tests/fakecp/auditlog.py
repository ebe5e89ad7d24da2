# SPDX-License-Identifier: MIT
"""The audit logger (internal/audit/logger.go at 172413e).

Each log_* function writes one resources.AuditEntry into state.audit_logs
exactly as the Go method does: actor from the auth context (user, else API
key, else system), resource ID, action, scope ("team" or "admin"), status
and metadata.  Entries carry a microsecond created_at, like the Postgres
column.  Handlers call these after the action succeeded, as the Go
handlers do; the notification-channel publishing side is not emulated.
"""

import ids
import resources


def _actor(ac):
    """actorFields: (actor_type, actor_id, actor_name)."""
    if ac is None:
        return "system", None, ""
    if ac.user_id:
        return "user", ac.user_id, ac.name
    if ac.api_key_id:
        return "api_key", ac.api_key_id, ac.api_key_name
    return "system", None, ""


def write(state, team_id, ac, resource_type, resource_id, action, scope,
          status, metadata=None, created_us=None):
    """InsertAuditLog; returns the entry."""
    actor_type, actor_id, actor_name = _actor(ac)
    e = resources.AuditEntry(
        id=ids.new(ids.AUDIT_LOG), team_id=team_id, actor_type=actor_type,
        actor_id=actor_id or None, actor_name=actor_name or "",
        resource_type=resource_type, resource_id=resource_id or None,
        action=action, scope=scope, status=status,
        metadata=dict(metadata or {}),
        created_us=resources.now_us() if created_us is None else created_us)
    state.audit_logs.append(e)
    return e


def _team(state, ac, *args, **kw):
    return write(state, ac.team_id, ac, *args, **kw)


# ---- sandbox events (scope: team) ----------------------------------------

def sandbox_create(state, ac, sandbox_id, template):
    _team(state, ac, "sandbox", sandbox_id, "create", "team", "success",
          {"template": template})


def sandbox_pause(state, ac, sandbox_id):
    _team(state, ac, "sandbox", sandbox_id, "pause", "team", "success")


def sandbox_auto_pause(state, team_id, sandbox_id):
    write(state, team_id, None, "sandbox", sandbox_id, "pause", "team",
          "info")


def sandbox_resume(state, ac, sandbox_id):
    _team(state, ac, "sandbox", sandbox_id, "resume", "team", "success")


def sandbox_destroy(state, ac, sandbox_id):
    _team(state, ac, "sandbox", sandbox_id, "destroy", "team", "warning")


# ---- snapshot events (scope: team) -----------------------------------------

def snapshot_create(state, ac, name):
    _team(state, ac, "snapshot", name, "create", "team", "success")


def snapshot_delete(state, ac, name):
    _team(state, ac, "snapshot", name, "delete", "team", "warning")


# ---- team, channel, API key events (scope: team) ---------------------------

def team_rename(state, ac, team_id, old_name, new_name):
    _team(state, ac, "team", team_id, "rename", "team", "info",
          {"old_name": old_name, "new_name": new_name})


def channel_create(state, ac, channel_id, name, provider):
    _team(state, ac, "channel", channel_id, "create", "team", "success",
          {"name": name, "provider": provider})


def channel_update(state, ac, channel_id):
    _team(state, ac, "channel", channel_id, "update", "team", "info")


def channel_rotate_config(state, ac, channel_id):
    _team(state, ac, "channel", channel_id, "rotate_config", "team", "info")


def channel_delete(state, ac, channel_id):
    _team(state, ac, "channel", channel_id, "delete", "team", "warning")


def api_key_create(state, ac, key_id, name):
    _team(state, ac, "api_key", key_id, "create", "team", "success",
          {"name": name})


def api_key_revoke(state, ac, key_id):
    _team(state, ac, "api_key", key_id, "revoke", "team", "warning")


# ---- member events (scope: admin) ------------------------------------------

def member_add(state, ac, user_id, email, role):
    _team(state, ac, "member", user_id, "add", "admin", "success",
          {"email": email, "role": role})


def member_remove(state, ac, user_id):
    _team(state, ac, "member", user_id, "remove", "admin", "warning")


def member_leave(state, ac):
    _team(state, ac, "member", ac.user_id or "", "leave", "admin", "info")


def member_role_update(state, ac, user_id, new_role):
    _team(state, ac, "member", user_id, "role_update", "admin", "info",
          {"new_role": new_role})


# ---- host events ------------------------------------------------------------

def host_create(state, ac, host_id, host_team_id):
    team_id = host_team_id or ac.team_id
    if team_id:
        write(state, team_id, ac, "host", host_id, "create", "admin",
              "success")


def host_delete(state, ac, host_id, host_team_id):
    team_id = host_team_id or ac.team_id
    if team_id:
        write(state, team_id, ac, "host", host_id, "delete", "admin",
              "warning")


def host_marked_up(state, team_id, host_id):
    if team_id:
        write(state, team_id, None, "host", host_id, "marked_up", "team",
              "success")


def host_marked_down(state, team_id, host_id):
    if team_id:
        write(state, team_id, None, "host", host_id, "marked_down", "team",
              "error")


# ---- admin events of f5a23c1 (scope: admin) -------------------------------

def user_activate(state, ac, user_id, email):
    return _team(state, ac, "user", user_id, "activate", "admin", "success",
                 {"email": email})


def user_deactivate(state, ac, user_id, email):
    return _team(state, ac, "user", user_id, "deactivate", "admin",
                 "warning", {"email": email})


def team_delete(state, ac, team_id):
    return _team(state, ac, "team", team_id, "delete", "admin", "warning")
