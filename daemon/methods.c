/* SPDX-License-Identifier: MIT */
/*
 * The method table (see methods.h) and the generic parameter checker.
 * Adding a pass-through method is one row here plus a test.
 */
#include "config.h"

#include "methods.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

#define I32_MIN (-2147483647LL - 1)
#define I32_MAX 2147483647LL

/* Parameter lists. A NULL name ends each list. */
#define P_END                                                                  \
	{                                                                      \
		NULL, PT__MAX, PIN__MAX, 0, 0, 0, NULL                         \
	}
#define P_SANDBOX_ID                                                           \
	{                                                                      \
		"sandbox_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY,  \
		    0, 0, "sandbox id (cl-...)"                                \
	}

static const struct method_param p_none[] = {P_END};

static const struct method_param p_sandbox[] = {P_SANDBOX_ID, P_END};

static const struct method_param p_sandboxes_create[] = {
    {"template", PT_STRING, PIN_BODY, 0, 0, 0,
	"template or snapshot name (default minimal)"},
    {"vcpus", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	"virtual CPUs (default 1)"},
    {"memory_mb", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	"memory in MiB (default 512)"},
    {"timeout_sec", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	"inactivity seconds before auto-pause (0: never)"},
    P_END};

static const struct method_param p_stats[] = {
    {"range", PT_STRING, PIN_QUERY, 0, 0, 0,
	"5m, 1h, 6h, 24h or 30d (default 1h)"},
    P_END};

static const struct method_param p_exec[] = {P_SANDBOX_ID,
    {"cmd", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"executable, looked up in PATH; not run through a shell"},
    {"args", PT_STRINGS, PIN_BODY, 0, 0, 0, "argv[1..]"},
    {"timeout_sec", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX,
	"seconds before the command is killed (default 30)"},
    P_END};

static const struct method_param p_wait_ready[] = {P_SANDBOX_ID,
    {"timeout_sec", PT_INT, PIN_LOCAL, 0, 1, 86400,
	"seconds to wait (default 30)"},
    P_END};

static const struct method_param p_metrics[] = {P_SANDBOX_ID,
    {"range", PT_STRING, PIN_QUERY, 0, 0, 0,
	"5m, 10m, 1h, 2h, 6h, 12h or 24h (default 10m)"},
    P_END};

static const struct method_param p_snapshots_create[] = {
    {"sandbox_id", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"sandbox to snapshot (left paused)"},
    {"name", PT_STRING, PIN_BODY, 0, 0, 0,
	"template name (default template-<8 hex>)"},
    {"overwrite", PT_BOOL, PIN_QUERY, 0, 0, 0,
	"replace a snapshot of the same name"},
    P_END};

static const struct method_param p_snapshots_list[] = {
    {"type", PT_STRING, PIN_QUERY, 0, 0, 0, "base or snapshot"}, P_END};

static const struct method_param p_name_path[] = {
    {"name", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"template name"},
    P_END};

static const struct method_param p_api_keys_create[] = {
    {"name", PT_STRING, PIN_BODY, 0, 0, 0,
	"label (default \"Unnamed API Key\")"},
    P_END};

static const struct method_param p_key[] = {
    {"key_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"API key record id (key-...)"},
    P_END};

#define P_HOST_ID                                                              \
	{                                                                      \
		"host_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0,  \
		    0, "host id (host-...)"                                    \
	}

static const struct method_param p_host[] = {P_HOST_ID, P_END};

static const struct method_param p_hosts_create[] = {
    {"type", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"regular or byoc"},
    {"team_id", PT_STRING, PIN_BODY, 0, 0, 0,
	"owning team (required for byoc)"},
    {"provider", PT_STRING, PIN_BODY, 0, 0, 0, "cloud provider label"},
    {"availability_zone", PT_STRING, PIN_BODY, 0, 0, 0,
	"availability zone label"},
    P_END};

static const struct method_param p_hosts_delete[] = {P_HOST_ID,
    {"force", PT_BOOL, PIN_QUERY, 0, 0, 0, "destroy the host's sandboxes too"},
    P_END};

static const struct method_param p_hosts_add_tag[] = {P_HOST_ID,
    {"tag", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0, "tag to add"},
    P_END};

static const struct method_param p_hosts_remove_tag[] = {P_HOST_ID,
    {"tag", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"tag to remove"},
    P_END};

#define P_TEAM_ID                                                              \
	{                                                                      \
		"team_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0,  \
		    0, "team id (team-...); must be the JWT's active team"     \
	}

static const struct method_param p_team[] = {P_TEAM_ID, P_END};

static const struct method_param p_teams_create[] = {
    {"name", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "team name"}, P_END};

static const struct method_param p_teams_rename[] = {P_TEAM_ID,
    {"name", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "new name"}, P_END};

static const struct method_param p_teams_add_member[] = {P_TEAM_ID,
    {"email", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0,
	"email of an existing user"},
    P_END};

#define P_USER_ID                                                              \
	{                                                                      \
		"user_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0,  \
		    0, "user id (usr-...)"                                     \
	}

static const struct method_param p_teams_member[] = {
    P_TEAM_ID, P_USER_ID, P_END};

static const struct method_param p_teams_role[] = {P_TEAM_ID, P_USER_ID,
    {"role", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "admin or member"}, P_END};

static const struct method_param p_audit[] = {
    {"before", PT_STRING, PIN_QUERY, 0, 0, 0,
	"RFC3339 cursor (next_before of the previous page)"},
    {"before_id", PT_STRING, PIN_QUERY, 0, 0, 0,
	"tie-break cursor (next_before_id)"},
    {"limit", PT_INT, PIN_QUERY, 0, -2147483648LL, 2147483647LL,
	"page size (default 50, at most 200)"},
    {"resource_type", PT_STRLIST, PIN_QUERY, 0, 0, 0,
	"filter; a string or a list (OR-matched)"},
    {"action", PT_STRLIST, PIN_QUERY, 0, 0, 0,
	"filter; a string or a list (OR-matched)"},
    {"all", PT_BOOL, PIN_LOCAL, 0, 0, 0, "walk every page for the caller"},
    {"max_items", PT_INT, PIN_LOCAL, 0, 1, 1000000,
	"with all: stop after this many items (default 10000)"},
    P_END};

static const struct method_param p_builds_create[] = {
    {"name", PT_STRING, PIN_BODY, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"template name to build"},
    {"base_template", PT_STRING, PIN_BODY, 0, 0, 0,
	"template to start from (default minimal)"},
    {"recipe", PT_STRINGS, PIN_BODY, PF_REQUIRED, 0, 0,
	"RUN/START/ENV/WORKDIR lines"},
    {"healthcheck", PT_STRING, PIN_BODY, 0, 0, 0, "command that must succeed"},
    {"vcpus", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX, "virtual CPUs"},
    {"memory_mb", PT_INT, PIN_BODY, 0, I32_MIN, I32_MAX, "memory in MiB"},
    {"skip_pre_post", PT_BOOL, PIN_BODY, 0, 0, 0,
	"skip the pre/post build steps"},
    P_END};

static const struct method_param p_build[] = {
    {"build_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"build id (bld-...)"},
    P_END};

static const struct method_param p_admin_byoc[] = {P_TEAM_ID,
    {"enabled", PT_BOOL, PIN_BODY, PF_REQUIRED, 0, 0,
	"true (BYOC cannot be disabled)"},
    P_END};

static const struct method_param p_users_search[] = {
    {"email", PT_STRING, PIN_QUERY, PF_REQUIRED, 0, 0,
	"email prefix (at least 3 characters with @)"},
    P_END};

#define P_CHANNEL_ID                                                           \
	{                                                                      \
		"channel_id", PT_STRING, PIN_PATH, PF_REQUIRED | PF_NONEMPTY,  \
		    0, 0, "channel id (ch-...)"                                \
	}

static const struct method_param p_channel[] = {P_CHANNEL_ID, P_END};

static const struct method_param p_channels_create[] = {
    {"name", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "channel name"},
    {"provider", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0,
	"discord, slack, teams, googlechat, telegram, matrix or webhook"},
    {"config", PT_OBJECT, PIN_BODY, PF_REQUIRED, 0, 0,
	"provider settings (strings)"},
    {"events", PT_STRINGS, PIN_BODY, PF_REQUIRED, 0, 0,
	"event types to deliver"},
    P_END};

static const struct method_param p_channels_update[] = {P_CHANNEL_ID,
    {"name", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "channel name"},
    {"events", PT_STRINGS, PIN_BODY, PF_REQUIRED, 0, 0,
	"event types to deliver"},
    P_END};

static const struct method_param p_channels_config[] = {P_CHANNEL_ID,
    {"config", PT_OBJECT, PIN_BODY, PF_REQUIRED, 0, 0,
	"new provider settings (replaces the old)"},
    P_END};

static const struct method_param p_channels_test[] = {
    {"provider", PT_STRING, PIN_BODY, PF_REQUIRED, 0, 0, "provider"},
    {"config", PT_OBJECT, PIN_BODY, PF_REQUIRED, 0, 0, "provider settings"},
    P_END};

static const struct method_param p_exec_stream[] = {P_SANDBOX_ID,
    {"cmd", PT_STRING, PIN_LOCAL, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"executable, looked up in PATH; not run through a shell"},
    {"args", PT_STRINGS, PIN_LOCAL, 0, 0, 0, "argv[1..]"},
    {"detach", PT_BOOL, PIN_LOCAL, 0, 0, 0,
	"keep running inside wrennd; answer with a stream_id at once"},
    P_END};

#define P_FILE_PATH                                                            \
	{                                                                      \
		"path", PT_STRING, PIN_LOCAL, PF_REQUIRED | PF_NONEMPTY, 0, 0, \
		    "path in the sandbox (relative to the home directory, "    \
		    "/root)"                                                   \
	}

static const struct method_param p_upload[] = {P_SANDBOX_ID, P_FILE_PATH,
    {"data", PT_STRING, PIN_LOCAL, PF_REQUIRED, 0, 0,
	"file content, standard base64"},
    P_END};

static const struct method_param p_download[] = {
    P_SANDBOX_ID, P_FILE_PATH, P_END};

static const struct method_param p_stream_file[] = {P_SANDBOX_ID, P_FILE_PATH,
    {"fd", PT_FD, PIN_LOCAL, PF_REQUIRED, 0, 0,
	"{\"$fd\": n}: a file, pipe or socket passed with SCM_RIGHTS"},
    {"verify", PT_BOOL, PIN_LOCAL, 0, 0, 0,
	"check size and SHA-256 against the file in the sandbox"},
    P_END};

static const struct method_param p_stream_id[] = {
    {"stream_id", PT_STRING, PIN_LOCAL, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"stream id (st-...)"},
    P_END};

static const struct method_param p_attach[] = {
    {"stream_id", PT_STRING, PIN_LOCAL, PF_REQUIRED | PF_NONEMPTY, 0, 0,
	"stream id (st-...)"},
    {"from_seq", PT_INT, PIN_LOCAL, 0, 0, 9007199254740991LL,
	"first event wanted (default 0: everything still buffered)"},
    P_END};

static const struct method_param p_describe[] = {
    {"method", PT_STRING, PIN_LOCAL, 0, 0, 0, "describe only this method"},
    P_END};

static const struct method_param p_hello[] = {
    {"client", PT_STRING, PIN_LOCAL, 0, 0, 0, "client name/version"},
    {"protocol", PT_INT, PIN_LOCAL, 0, 0, 1000,
	"protocol major version the client speaks"},
    {"enable", PT_STRINGS, PIN_LOCAL, 0, 0, 0, "capabilities to enable"},
    P_END};

static const struct method methods[] = {
    /* Protocol and daemon. */
    {"rpc.hello", "negotiate protocol version and capabilities", ROLE_CRED_NONE,
	ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_hello, rpc_hello},
    {"rpc.describe", "describe the methods, their params and needs",
	ROLE_CRED_NONE, ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_describe,
	api_rpc_describe},
    {"daemon.status", "daemon version, upstream, credentials, counters",
	ROLE_CRED_NONE, ROLE_TOOL, NULL, NULL, MRES_LOCAL, 0, p_none,
	api_daemon_status},

    /* Sandboxes (collection). */
    {"sandboxes.create", "create a sandbox", ROLE_CRED_ANY, ROLE_USER, "POST",
	"/v1/sandboxes", MRES_JSON, METHOD_BODY, p_sandboxes_create, NULL},
    {"sandboxes.list", "list the team's live sandboxes", ROLE_CRED_ANY,
	ROLE_USER, "GET", "/v1/sandboxes", MRES_JSON, 0, p_none, NULL},
    {"sandboxes.get", "get one sandbox", ROLE_CRED_ANY, ROLE_USER, "GET",
	"/v1/sandboxes/{sandbox_id}", MRES_JSON, 0, p_sandbox, NULL},
    {"sandboxes.destroy", "destroy a sandbox", ROLE_CRED_ANY, ROLE_USER,
	"DELETE", "/v1/sandboxes/{sandbox_id}", MRES_EMPTY, 0, p_sandbox, NULL},
    {"sandboxes.get_stats", "team usage statistics", ROLE_CRED_ANY, ROLE_USER,
	"GET", "/v1/sandboxes/stats", MRES_JSON, 0, p_stats, NULL},

    /* One sandbox. */
    {"sandbox.exec", "run a command and wait for its output", ROLE_CRED_ANY,
	ROLE_USER, "POST", "/v1/sandboxes/{sandbox_id}/exec", MRES_JSON,
	METHOD_BODY | METHOD_EXEC_TIMEOUT, p_exec, NULL},
    {"sandbox.ping", "reset the inactivity timer", ROLE_CRED_ANY, ROLE_USER,
	"POST", "/v1/sandboxes/{sandbox_id}/ping", MRES_EMPTY, 0, p_sandbox,
	NULL},
    {"sandbox.pause", "snapshot and release a running sandbox", ROLE_CRED_ANY,
	ROLE_USER, "POST", "/v1/sandboxes/{sandbox_id}/pause", MRES_JSON, 0,
	p_sandbox, NULL},
    {"sandbox.resume", "restore a paused sandbox", ROLE_CRED_ANY, ROLE_USER,
	"POST", "/v1/sandboxes/{sandbox_id}/resume", MRES_JSON, 0, p_sandbox,
	NULL},
    {"sandbox.wait_ready", "wait until a sandbox is running", ROLE_CRED_ANY,
	ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}", MRES_LOCAL, 0,
	p_wait_ready, api_sandbox_wait_ready},
    {"sandbox.metrics", "CPU, memory and disk time series", ROLE_CRED_ANY,
	ROLE_USER, "GET", "/v1/sandboxes/{sandbox_id}/metrics", MRES_JSON, 0,
	p_metrics, NULL},

    /* Files. */
    {"sandbox.upload", "write a small file (base64, < 100 MiB)", ROLE_CRED_ANY,
	ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}/files/write", MRES_EMPTY,
	0, p_upload, api_files_upload},
    {"sandbox.download", "read a small file (base64)", ROLE_CRED_ANY, ROLE_USER,
	NULL, "/v1/sandboxes/{sandbox_id}/files/read", MRES_LOCAL, 0,
	p_download, api_files_download},
    {"sandbox.stream_upload",
	"stream a passed fd into a sandbox file (any size)", ROLE_CRED_ANY,
	ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}/files/stream/write",
	MRES_LOCAL, METHOD_STREAM, p_stream_file, api_files_stream_upload},
    {"sandbox.stream_download",
	"stream a sandbox file into a passed fd (any size)", ROLE_CRED_ANY,
	ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}/files/stream/read",
	MRES_LOCAL, METHOD_STREAM, p_stream_file, api_files_stream_download},

    /* Exec streams. */
    {"sandbox.exec_stream",
	"run a command and stream its output ($/stream events)", ROLE_CRED_ANY,
	ROLE_USER, NULL, "/v1/sandboxes/{sandbox_id}/exec/stream", MRES_LOCAL,
	METHOD_STREAM, p_exec_stream, stream_exec},
    {"streams.attach", "replay and follow an exec stream", ROLE_CRED_NONE,
	ROLE_USER, NULL, NULL, MRES_LOCAL, METHOD_STREAM, p_attach,
	stream_attach},
    {"streams.list", "exec streams held by wrennd", ROLE_CRED_NONE, ROLE_USER,
	NULL, NULL, MRES_LOCAL, 0, p_none, stream_list},
    {"streams.stop",
	"stop an exec stream upstream (or discard an ended "
	"one)",
	ROLE_CRED_NONE, ROLE_USER, NULL, NULL, MRES_EMPTY, 0, p_stream_id,
	stream_stop},

    /* Snapshots (templates made from sandboxes). */
    {"snapshots.create", "snapshot a sandbox into a template", ROLE_CRED_ANY,
	ROLE_USER, "POST", "/v1/snapshots", MRES_JSON, METHOD_BODY,
	p_snapshots_create, NULL},
    {"snapshots.list", "list team and platform templates", ROLE_CRED_ANY,
	ROLE_USER, "GET", "/v1/snapshots", MRES_JSON, 0, p_snapshots_list,
	NULL},
    {"snapshots.delete", "delete a team snapshot", ROLE_CRED_ANY, ROLE_USER,
	"DELETE", "/v1/snapshots/{name}", MRES_EMPTY, 0, p_name_path, NULL},

    /* API keys. */
    {"api_keys.create", "create an API key (the key is shown once)",
	ROLE_CRED_JWT, ROLE_ADMIN, "POST", "/v1/api-keys", MRES_JSON,
	METHOD_BODY, p_api_keys_create, NULL},
    {"api_keys.list", "list the team's API keys", ROLE_CRED_JWT, ROLE_ADMIN,
	"GET", "/v1/api-keys", MRES_JSON, 0, p_none, NULL},
    {"api_keys.delete", "revoke an API key", ROLE_CRED_JWT, ROLE_ADMIN,
	"DELETE", "/v1/api-keys/{key_id}", MRES_EMPTY, 0, p_key, NULL},

    /* Hosts. */
    {"hosts.create", "create a host and its registration token", ROLE_CRED_JWT,
	ROLE_ADMIN, "POST", "/v1/hosts", MRES_JSON, METHOD_BODY, p_hosts_create,
	NULL},
    {"hosts.list", "list hosts", ROLE_CRED_JWT, ROLE_USER, "GET", "/v1/hosts",
	MRES_JSON, 0, p_none, NULL},
    {"hosts.get", "get one host", ROLE_CRED_JWT, ROLE_USER, "GET",
	"/v1/hosts/{host_id}", MRES_JSON, 0, p_host, NULL},
    {"hosts.delete", "delete a host (force: destroy its sandboxes)",
	ROLE_CRED_JWT, ROLE_ADMIN, "DELETE", "/v1/hosts/{host_id}", MRES_EMPTY,
	0, p_hosts_delete, NULL},
    {"hosts.delete_preview", "what deleting a host would destroy",
	ROLE_CRED_JWT, ROLE_USER, "GET", "/v1/hosts/{host_id}/delete-preview",
	MRES_JSON, 0, p_host, NULL},
    {"hosts.regenerate_token", "new registration token (pending hosts)",
	ROLE_CRED_JWT, ROLE_ADMIN, "POST", "/v1/hosts/{host_id}/token",
	MRES_JSON, 0, p_host, NULL},
    {"hosts.list_tags", "list a host's tags (null when none)", ROLE_CRED_JWT,
	ROLE_USER, "GET", "/v1/hosts/{host_id}/tags", MRES_JSON, 0, p_host,
	NULL},
    {"hosts.add_tag", "tag a host", ROLE_CRED_JWT, ROLE_ADMIN, "POST",
	"/v1/hosts/{host_id}/tags", MRES_EMPTY, METHOD_BODY, p_hosts_add_tag,
	NULL},
    {"hosts.remove_tag", "untag a host", ROLE_CRED_JWT, ROLE_ADMIN, "DELETE",
	"/v1/hosts/{host_id}/tags/{tag}", MRES_EMPTY, 0, p_hosts_remove_tag,
	NULL},

    /* Teams. */
    {"teams.list", "teams of the user", ROLE_CRED_JWT, ROLE_USER, "GET",
	"/v1/teams", MRES_JSON, 0, p_none, NULL},
    {"teams.create", "create a team (caller becomes owner)", ROLE_CRED_JWT,
	ROLE_ADMIN, "POST", "/v1/teams", MRES_JSON, METHOD_BODY, p_teams_create,
	NULL},
    {"teams.get", "a team and its members", ROLE_CRED_JWT, ROLE_USER, "GET",
	"/v1/teams/{team_id}", MRES_JSON, 0, p_team, NULL},
    {"teams.rename", "rename a team", ROLE_CRED_JWT, ROLE_ADMIN, "PATCH",
	"/v1/teams/{team_id}", MRES_EMPTY, METHOD_BODY, p_teams_rename, NULL},
    {"teams.delete", "delete a team and destroy its sandboxes", ROLE_CRED_JWT,
	ROLE_ADMIN, "DELETE", "/v1/teams/{team_id}", MRES_EMPTY, 0, p_team,
	NULL},
    {"teams.list_members", "members of a team", ROLE_CRED_JWT, ROLE_ADMIN,
	"GET", "/v1/teams/{team_id}/members", MRES_JSON, 0, p_team, NULL},
    {"teams.add_member", "add a user by email", ROLE_CRED_JWT, ROLE_ADMIN,
	"POST", "/v1/teams/{team_id}/members", MRES_JSON, METHOD_BODY,
	p_teams_add_member, NULL},
    {"teams.update_member_role", "change a member's role", ROLE_CRED_JWT,
	ROLE_ADMIN, "PATCH", "/v1/teams/{team_id}/members/{user_id}",
	MRES_EMPTY, METHOD_BODY, p_teams_role, NULL},
    {"teams.remove_member", "remove a member", ROLE_CRED_JWT, ROLE_ADMIN,
	"DELETE", "/v1/teams/{team_id}/members/{user_id}", MRES_EMPTY, 0,
	p_teams_member, NULL},
    {"teams.leave", "leave a team", ROLE_CRED_JWT, ROLE_ADMIN, "POST",
	"/v1/teams/{team_id}/leave", MRES_EMPTY, 0, p_team, NULL},

    /* Users. */
    {"users.search", "find users by email prefix", ROLE_CRED_JWT, ROLE_USER,
	"GET", "/v1/users/search", MRES_JSON, 0, p_users_search, NULL},

    /* Notification channels. */
    {"channels.create", "create a notification channel", ROLE_CRED_JWT,
	ROLE_ADMIN, "POST", "/v1/channels", MRES_JSON, METHOD_BODY,
	p_channels_create, NULL},
    {"channels.list", "list notification channels", ROLE_CRED_JWT, ROLE_USER,
	"GET", "/v1/channels", MRES_JSON, 0, p_none, NULL},
    {"channels.get", "get a notification channel", ROLE_CRED_JWT, ROLE_USER,
	"GET", "/v1/channels/{channel_id}", MRES_JSON, 0, p_channel, NULL},
    {"channels.update", "rename a channel or change its events", ROLE_CRED_JWT,
	ROLE_ADMIN, "PATCH", "/v1/channels/{channel_id}", MRES_JSON,
	METHOD_BODY, p_channels_update, NULL},
    {"channels.delete", "delete a notification channel", ROLE_CRED_JWT,
	ROLE_ADMIN, "DELETE", "/v1/channels/{channel_id}", MRES_EMPTY, 0,
	p_channel, NULL},
    {"channels.rotate_config", "replace a channel's provider settings",
	ROLE_CRED_JWT, ROLE_ADMIN, "PUT", "/v1/channels/{channel_id}/config",
	MRES_JSON, METHOD_BODY, p_channels_config, NULL},
    {"channels.test", "deliver a test event without saving", ROLE_CRED_JWT,
	ROLE_ADMIN, "POST", "/v1/channels/test", MRES_JSON, METHOD_BODY,
	p_channels_test, NULL},

    /* Audit log. */
    {"audit.list", "audit log page (all: every page, bounded)", ROLE_CRED_JWT,
	ROLE_USER, "GET", "/v1/audit-logs", MRES_JSON, 0, p_audit,
	api_audit_list},

    /* Template builds (platform admin). */
    {"builds.create", "start a template build", ROLE_CRED_ADMIN, ROLE_ADMIN,
	"POST", "/v1/admin/builds", MRES_JSON, METHOD_BODY, p_builds_create,
	NULL},
    {"builds.list", "list template builds", ROLE_CRED_ADMIN, ROLE_ADMIN, "GET",
	"/v1/admin/builds", MRES_JSON, 0, p_none, NULL},
    {"builds.get", "get one build with its logs", ROLE_CRED_ADMIN, ROLE_ADMIN,
	"GET", "/v1/admin/builds/{build_id}", MRES_JSON, 0, p_build, NULL},
    {"builds.cancel", "cancel a pending or running build", ROLE_CRED_ADMIN,
	ROLE_ADMIN, "POST", "/v1/admin/builds/{build_id}/cancel", MRES_EMPTY, 0,
	p_build, NULL},

    /* Platform administration. */
    {"admin.set_team_byoc", "enable bring-your-own-compute for a team",
	ROLE_CRED_ADMIN, ROLE_ADMIN, "PUT", "/v1/admin/teams/{team_id}/byoc",
	MRES_EMPTY, METHOD_BODY, p_admin_byoc, NULL},
    {"admin.list_templates", "templates across all teams", ROLE_CRED_ADMIN,
	ROLE_ADMIN, "GET", "/v1/admin/templates", MRES_JSON, 0, p_none, NULL},
    {"admin.delete_template", "delete a platform template", ROLE_CRED_ADMIN,
	ROLE_ADMIN, "DELETE", "/v1/admin/templates/{name}", MRES_EMPTY, 0,
	p_name_path, NULL},
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

const struct method *
methods_all(size_t *ret_n)
{
	*ret_n = NMETHODS;
	return methods;
}

const struct method *
methods_find(const char *name)
{
	size_t i;

	for (i = 0; i < NMETHODS; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

const struct method_param *
methods_param(const struct method *m, const char *name)
{
	const struct method_param *p;

	for (p = m->params; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

const char *
param_type_name(enum param_type t)
{
	static const char *names[PT__MAX] = {"string", "integer", "boolean",
	    "string[]", "object", "array", "string|string[]", "fd", "any"};

	return t < PT__MAX ? names[t] : "?";
}

/* Whether v has type t (bounds are checked by the caller). */
static int
methods_type_ok(enum param_type t, const json_t *v)
{
	size_t i;
	json_t *e;

	switch (t) {
	case PT_STRING:
		return json_is_string(v);
	case PT_INT:
		return json_is_integer(v);
	case PT_BOOL:
		return json_is_boolean(v);
	case PT_STRINGS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return 0;
		return 1;
	case PT_OBJECT:
		return json_is_object(v);
	case PT_ARRAY:
		return json_is_array(v);
	case PT_FD:
		return json_is_object(v) && json_object_size(v) == 1 &&
		    json_is_integer(json_object_get(v, "$fd"));
	case PT_STRLIST:
		return json_is_string(v) || methods_type_ok(PT_STRINGS, v);
	case PT_ANY:
		return 1;
	case PT__MAX:
		break;
	}
	return 0;
}

int
methods_segment_ok(const char *s, size_t len)
{
	return len > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int
methods_check_params(
    const struct method *m, const json_t *params, char *err, size_t errlen)
{
	const struct method_param *p;
	const char *key;
	json_t *v;
	json_int_t iv;

	json_object_foreach((json_t *)params, key, v) {
		if ((p = methods_param(m, key)) == NULL) {
			snprintf(err, errlen,
			    "unknown parameter '%.64s' for %s", key, m->name);
			return -EINVAL;
		}
		if (!methods_type_ok(p->type, v)) {
			snprintf(err, errlen, "parameter '%s' must be %s %s",
			    p->name, p->type == PT_INT ? "an" : "a",
			    param_type_name(p->type));
			return -EINVAL;
		}
		if (p->type == PT_INT && p->min < p->max) {
			iv = json_integer_value(v);
			if (iv < p->min || iv > p->max) {
				snprintf(err, errlen,
				    "parameter '%s' must be between %lld and "
				    "%lld",
				    p->name, p->min, p->max);
				return -EINVAL;
			}
		}
		if (p->type == PT_STRING &&
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen,
			    "parameter '%s' must not contain NUL", p->name);
			return -EINVAL;
		}
		if (p->type == PT_STRING && (p->flags & PF_NONEMPTY) &&
		    json_string_length(v) == 0) {
			snprintf(err, errlen,
			    "parameter '%s' must not be empty", p->name);
			return -EINVAL;
		}
		/* A path segment of "." or ".." would name another route
		 * once a proxy normalises the URL. */
		if (p->type == PT_STRING && p->in == PIN_PATH &&
		    !methods_segment_ok(
			json_string_value(v), json_string_length(v))) {
			snprintf(err, errlen,
			    "parameter '%s' is not a valid identifier",
			    p->name);
			return -EINVAL;
		}
	}
	for (p = m->params; p->name != NULL; p++) {
		if ((p->flags & PF_REQUIRED) &&
		    json_object_get(params, p->name) == NULL) {
			snprintf(err, errlen, "missing required parameter '%s'",
			    p->name);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *
methods_names(void)
{
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < NMETHODS; i++)
		json_array_append_new(a, json_string(methods[i].name));
	return a;
}

json_t *
methods_describe(const struct method *m)
{
	const struct method_param *p;
	json_t *o, *params, *po;

	params = json_array();
	for (p = m->params; p->name != NULL; p++) {
		po = json_pack("{s:s, s:s, s:b, s:s}", "name", p->name, "type",
		    param_type_name(p->type), "required",
		    (p->flags & PF_REQUIRED) != 0, "doc", p->doc);
		if (po != NULL && p->type == PT_INT && p->min < p->max) {
			json_object_set_new(po, "min", json_integer(p->min));
			json_object_set_new(po, "max", json_integer(p->max));
		}
		json_array_append_new(params, po);
	}
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:s}", "name", m->name,
	    "summary", m->summary, "params", params, "credential",
	    role_cred_name(m->cred), "role", role_name(m->role), "stream",
	    (m->flags & METHOD_STREAM) != 0, "result",
	    m->result == MRES_EMPTY ? "empty" : "object");
	if (o != NULL && m->verb != NULL && m->path != NULL)
		json_object_set_new(o, "upstream",
		    json_pack(
			"{s:s, s:s}", "method", m->verb, "path", m->path));
	return o;
}
