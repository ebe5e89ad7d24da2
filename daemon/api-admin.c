/* SPDX-License-Identifier: MIT */
/*
 * Platform administration: builds.* (template builds) and admin.*. Every
 * method is one REST pass-through (rest_passthrough in rest.c) on a route
 * that takes only the JWT of a platform admin, so this file is only their
 * rows. The teams, users and platform-sandbox rows exist only on the
 * v0.1.5 server (METHODS_NEEDS_CAPSULES); admin.list_audit_logs is in
 * api-audit.c, beside the handler it shares with audit.list.
 */
#include "config.h"

#include "api.h"
#include "methods.h"

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
    {.name = "vcpus",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "virtual CPUs"},
    {.name = "memory_mb",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "memory in MiB"},
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
    {.name = "page",
	.type = METHODS_T_INT,
	.in = METHODS_IN_QUERY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "page of 100 (default 1)"},
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
    {.name = "template",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "template or snapshot name (default minimal)"},
    {.name = "vcpus",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "virtual CPUs (default 1)"},
    {.name = "memory_mb",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "memory in MiB (default 512)"},
    {.name = "timeout_sec",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "inactivity seconds before auto-pause (0: never)"},
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
    {.name = "cmd",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "executable, looked up in PATH; not run through a shell"},
    {.name = "args",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_BODY,
	.doc = "argv[1..]"},
    {.name = "timeout_sec",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = METHODS_I32_MIN,
	.max = METHODS_I32_MAX,
	.doc = "seconds (default 30)"},
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
    {.name = "range",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "5m, 10m, 1h, 2h, 6h, 12h or 24h (default 10m)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_admin_rows[] = {
    /* Template builds (platform admin). */
    {
	.name = "builds.create",
	.summary = "start a template build",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/builds",
	.flags = METHODS_BODY,
	.params = p_builds_create,
    },
    {
	.name = "builds.list",
	.summary = "list template builds",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/builds",
	.params = methods_no_params,
    },
    {
	.name = "builds.get",
	.summary = "get one build with its logs",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/builds/{build_id}",
	.params = p_build,
    },
    {
	.name = "builds.cancel",
	.summary = "cancel a pending or running build",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/builds/{build_id}/cancel",
	.result = METHODS_RES_EMPTY,
	.params = p_build,
    },
    /* Platform administration. */
    {
	.name = "admin.set_team_byoc",
	.summary = "enable bring-your-own-compute for a team",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "PUT",
	.path = "/v1/admin/teams/{team_id}/byoc",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY,
	.params = p_admin_byoc,
    },
    {
	.name = "admin.list_templates",
	.summary = "templates across all teams",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/templates",
	.params = methods_no_params,
    },
    {
	.name = "admin.delete_template",
	.summary = "delete a platform template",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/admin/templates/{name}",
	.result = METHODS_RES_EMPTY,
	.params = p_name_path,
    },
    /* Platform administration on the v0.1.5 server (/v1/admin). */
    {
	.name = "admin.list_teams",
	.summary = "every team, 100 per page",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/teams",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_page,
    },
    {
	.name = "admin.delete_team",
	.summary = "delete a team",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/admin/teams/{team_id}",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_team,
    },
    {
	.name = "admin.list_users",
	.summary = "every user, 100 per page",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/users",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_page,
    },
    {
	.name = "admin.set_user_active",
	.summary = "activate or deactivate a user",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "PUT",
	.path = "/v1/admin/users/{user_id}/active",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_user_active,
    },
    /* The platform team's sandboxes (capsules). */
    {
	.name = "admin.create_sandbox",
	.summary = "create a sandbox of the platform team",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_create,
    },
    {
	.name = "admin.list_sandboxes",
	.summary = "the platform team's sandboxes",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/capsules",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = methods_no_params,
    },
    {
	.name = "admin.get_sandbox",
	.summary = "get one platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/capsules/{sandbox_id}",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_sandbox,
    },
    {
	.name = "admin.destroy_sandbox",
	.summary = "destroy a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/admin/capsules/{sandbox_id}",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_sandbox,
    },
    {
	.name = "admin.snapshot_sandbox",
	.summary = "snapshot a platform sandbox into a platform template, then "
		   "destroy it",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules/{sandbox_id}/snapshot",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_snapshot,
    },
    {
	.name = "admin.exec",
	.summary = "run a command in a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules/{sandbox_id}/exec",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES | METHODS_EXEC_TIMEOUT,
	.params = p_admin_exec,
    },
    {
	.name = "admin.list_files",
	.summary = "list a directory in a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules/{sandbox_id}/files/list",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_list_files,
    },
    {
	.name = "admin.mkdir",
	.summary = "create a directory in a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules/{sandbox_id}/files/mkdir",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_path,
    },
    {
	.name = "admin.remove",
	.summary = "remove a path in a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/admin/capsules/{sandbox_id}/files/remove",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_admin_path,
    },
    {
	.name = "admin.metrics",
	.summary = "resource metrics of a platform sandbox",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/capsules/{sandbox_id}/metrics",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_admin_metrics,
    },
};

const struct api_table api_admin_methods = API_TABLE(api_admin_rows);
