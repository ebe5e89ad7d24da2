/* SPDX-License-Identifier: MIT */
/*
 * snapshots.*: templates made from sandboxes. Every method is one REST
 * pass-through (rest_passthrough in rest.c), so this file is only their
 * rows; an API key or a JWT will do.
 */
#include "config.h"

#include "api.h"
#include "methods.h"

static const struct method_param p_snapshots_create[] = {
    {.name = "sandbox_id",
	.type = PT_STRING,
	.in = PIN_BODY,
	.flags = PF_REQUIRED | PF_NONEMPTY,
	.doc = "sandbox to snapshot (left paused)"},
    {.name = "name",
	.type = PT_STRING,
	.in = PIN_BODY,
	.doc = "template name (default template-<8 hex>)"},
    {.name = "overwrite",
	.type = PT_BOOL,
	.in = PIN_QUERY,
	.doc = "replace a snapshot of the same name"},
    METHOD_PARAMS_END,
};

static const struct method_param p_snapshots_list[] = {
    {.name = "type",
	.type = PT_STRING,
	.in = PIN_QUERY,
	.doc = "base or snapshot"},
    METHOD_PARAMS_END,
};

static const struct method_param p_name_path[] = {
    METHOD_P_TEMPLATE_NAME,
    METHOD_PARAMS_END,
};

static const struct method api_snapshots_rows[] = {
    /* Snapshots (templates made from sandboxes). */
    {
	.name = "snapshots.create",
	.summary = "snapshot a sandbox into a template",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_USER,
	.verb = "POST",
	.path = "/v1/snapshots",
	.flags = METHOD_BODY,
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
	.result = MRES_EMPTY,
	.params = p_name_path,
    },
};

const struct api_table api_snapshots_methods = API_TABLE(api_snapshots_rows);
