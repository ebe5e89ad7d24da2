/* SPDX-License-Identifier: MIT */
/*
 * Platform administration: builds.* (template builds) and admin.*. Every
 * method is one REST pass-through (rest_passthrough in rest.c) on a route
 * that takes only the JWT of a platform admin, so this file is only their
 * rows. The teams, users and platform-sandbox rows exist only on the
 * v0.1.5 server (METHODS_NEEDS_CAPSULES); admin.list_audit_logs is in
 * api-audit.c, beside the handler it shares with audit.list, and the
 * platform sandboxes' methods that are more than one request beside the
 * handlers they share with the team's: admin.exec_stream and
 * admin.attach_process in stream.c, admin.pty in api-pty.c, admin.kill
 * in api-process.c (rest_admin_route picks their /v1/admin/capsules
 * routes).
 */
#include "config.h"

#include "api.h"
#include "methods.h"

/*
 * One row of this file: a REST pass-through that takes the JWT of a
 * platform admin (ROLE_CRED_ADMIN) from a local admin; the variable part
 * is the rest of the row (.result, .flags, .params).
 */
#define API_ADMIN_ROW(name_, summary_, verb_, path_, ...)                      \
	{                                                                      \
		.name = (name_), .summary = (summary_),                        \
		.cred = ROLE_CRED_ADMIN, .role = ROLE_ADMIN, .verb = (verb_),  \
		.path = (path_), __VA_ARGS__                                   \
	}

static const struct methods_param p_builds_create[] = {
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "template name to build"},
    {.name = "base_template",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "template to start from (default minimal)"},
    {.name = "recipe",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "RUN/START/ENV/WORKDIR lines"},
    {.name = "healthcheck",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "command that must succeed"},
    METHODS_P_I32("vcpus", METHODS_IN_BODY, "virtual CPUs"),
    METHODS_P_I32("memory_mb", METHODS_IN_BODY, "memory in MiB"),
    {.name = "skip_pre_post",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_BODY,
	.doc = "skip the pre/post build steps"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_build[] = {
    {.name = "build_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "build id (bld-...)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_byoc[] = {
    METHODS_P_TEAM_ID,
    {.name = "enabled",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "true (BYOC cannot be disabled)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_name_path[] = {
    METHODS_P_TEMPLATE_NAME,
    METHODS_PARAMS_END,
};

static const struct methods_param p_page[] = {
    METHODS_P_I32("page", METHODS_IN_QUERY, "page of 100 (default 1)"),
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_team[] = {
    {.name = "team_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "team id (team-...), any team"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_user_active[] = {
    {.name = "user_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "user id (usr-...)"},
    {.name = "active",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "false deactivates: deletes the user's API keys and destroys "
	       "the sandboxes of the teams they own"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_create[] = {
    METHODS_P_SANDBOX_SPEC,
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_sandbox[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_snapshot[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "platform template name (an existing one is overwritten)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_exec[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_P_EXEC_CMD,
    METHODS_P_I32("timeout_sec", METHODS_IN_BODY, "seconds (default 30)"),
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_list_files[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "directory in the sandbox"},
    {.name = "depth",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = 0,
	.max = 4294967295LL,
	.doc = "levels to descend (default 1)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_path[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "path in the sandbox"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_admin_metrics[] = {
    METHODS_P_SANDBOX_ID,
    METHODS_P_METRICS_RANGE,
    METHODS_PARAMS_END,
};

static const struct methods_row api_admin_rows[] = {
    /* Template builds (platform admin). */
    API_ADMIN_ROW("builds.create", "start a template build", "POST",
	"/v1/admin/builds", .flags = METHODS_BODY, .params = p_builds_create),
    API_ADMIN_ROW("builds.list", "list template builds", "GET",
	"/v1/admin/builds", .params = methods_no_params),
    API_ADMIN_ROW("builds.get", "get one build with its logs", "GET",
	"/v1/admin/builds/{build_id}", .params = p_build),
    API_ADMIN_ROW("builds.cancel", "cancel a pending or running build", "POST",
	"/v1/admin/builds/{build_id}/cancel", .result = METHODS_RES_EMPTY,
	.params = p_build),
    /* Platform administration. */
    API_ADMIN_ROW("admin.set_team_byoc",
	"enable bring-your-own-compute for a team", "PUT",
	"/v1/admin/teams/{team_id}/byoc", .result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY, .params = p_admin_byoc),
    API_ADMIN_ROW("admin.list_templates", "templates across all teams", "GET",
	"/v1/admin/templates", .params = methods_no_params),
    API_ADMIN_ROW("admin.delete_template", "delete a platform template",
	"DELETE", "/v1/admin/templates/{name}", .result = METHODS_RES_EMPTY,
	.params = p_name_path),
    /* Platform administration on the v0.1.5 server (/v1/admin). */
    API_ADMIN_ROW("admin.list_teams", "every team, 100 per page", "GET",
	"/v1/admin/teams", .flags = METHODS_NEEDS_CAPSULES, .params = p_page),
    API_ADMIN_ROW("admin.delete_team", "delete a team", "DELETE",
	"/v1/admin/teams/{team_id}", .result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES, .params = p_admin_team),
    API_ADMIN_ROW("admin.list_users", "every user, 100 per page", "GET",
	"/v1/admin/users", .flags = METHODS_NEEDS_CAPSULES, .params = p_page),
    API_ADMIN_ROW("admin.set_user_active", "activate or deactivate a user",
	"PUT", "/v1/admin/users/{user_id}/active", .result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_user_active),
    /* The platform team's sandboxes (capsules). */
    API_ADMIN_ROW("admin.create_sandbox",
	"create a sandbox of the platform team", "POST", "/v1/admin/capsules",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_create),
    API_ADMIN_ROW("admin.list_sandboxes", "the platform team's sandboxes",
	"GET", "/v1/admin/capsules", .flags = METHODS_NEEDS_CAPSULES,
	.params = methods_no_params),
    API_ADMIN_ROW("admin.get_sandbox", "get one platform sandbox", "GET",
	"/v1/admin/capsules/{sandbox_id}", .flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_sandbox),
    API_ADMIN_ROW("admin.destroy_sandbox", "destroy a platform sandbox",
	"DELETE", "/v1/admin/capsules/{sandbox_id}",
	.result = METHODS_RES_EMPTY, .flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_sandbox),
    API_ADMIN_ROW("admin.snapshot_sandbox",
	"snapshot a platform sandbox into a platform template, then destroy it",
	"POST", "/v1/admin/capsules/{sandbox_id}/snapshot",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES | METHODS_SLOW,
	.params = p_admin_snapshot),
    API_ADMIN_ROW("admin.exec", "run a command in a platform sandbox", "POST",
	"/v1/admin/capsules/{sandbox_id}/exec",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES | METHODS_EXEC_TIMEOUT,
	.params = p_admin_exec),
    API_ADMIN_ROW("admin.list_files", "list a directory in a platform sandbox",
	"POST", "/v1/admin/capsules/{sandbox_id}/files/list",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_list_files),
    API_ADMIN_ROW("admin.mkdir", "create a directory in a platform sandbox",
	"POST", "/v1/admin/capsules/{sandbox_id}/files/mkdir",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES, .params = p_admin_path),
    API_ADMIN_ROW("admin.remove", "remove a path in a platform sandbox", "POST",
	"/v1/admin/capsules/{sandbox_id}/files/remove",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES, .params = p_admin_path),
    API_ADMIN_ROW("admin.metrics", "resource metrics of a platform sandbox",
	"GET", "/v1/admin/capsules/{sandbox_id}/metrics",
	.flags = METHODS_NEEDS_CAPSULES, .params = p_admin_metrics),
    API_ADMIN_ROW("admin.processes",
	"processes running in a platform sandbox, as sandbox.processes", "GET",
	"/v1/admin/capsules/{sandbox_id}/processes",
	.flags = METHODS_NEEDS_CAPSULES, .params = p_admin_sandbox),
};

const struct api_table api_admin_methods = API_TABLE(api_admin_rows);
