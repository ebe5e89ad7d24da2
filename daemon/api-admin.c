/* SPDX-License-Identifier: MIT */
/*
 * Platform administration: builds.* (template builds) and admin.*. Every
 * method is one REST pass-through (rest_passthrough in rest.c) on a route
 * that takes only the JWT of a platform admin, so this file is only their
 * rows.
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
};

const struct api_table api_admin_methods = API_TABLE(api_admin_rows);
