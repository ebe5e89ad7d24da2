/* SPDX-License-Identifier: MIT */
/*
 * snapshots.*: templates made from sandboxes. Every method is one REST
 * pass-through (rest_passthrough in rest.c), so this file is only their
 * rows; an API key or a JWT will do.
 */
#include "config.h"

#include "api.h"
#include "methods.h"

static const struct methods_param p_snapshots_create[] = {
    {.name = "sandbox_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "sandbox to snapshot (left paused)"},
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "template name (default template-<8 hex>)"},
    {.name = "overwrite",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_QUERY,
	.doc = "replace a snapshot of the same name"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_snapshots_list[] = {
    {.name = "type",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "base or snapshot"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_name_path[] = {
    METHODS_P_TEMPLATE_NAME,
    METHODS_PARAMS_END,
};

static const struct methods_row api_snapshots_rows[] = {
    /* Snapshots (templates made from sandboxes). */
    {
	.name = "snapshots.create",
	.summary = "snapshot a sandbox into a template",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "POST",
	.path = "/v1/snapshots",
	.flags = METHODS_BODY,
	.params = p_snapshots_create,
    },
    {
	.name = "snapshots.list",
	.summary = "list team and platform templates",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/snapshots",
	.params = p_snapshots_list,
    },
    {
	.name = "snapshots.delete",
	.summary = "delete a team snapshot",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "DELETE",
	.path = "/v1/snapshots/{name}",
	.result = METHODS_RES_EMPTY,
	.params = p_name_path,
    },
};

const struct api_table api_snapshots_methods = API_TABLE(api_snapshots_rows);
