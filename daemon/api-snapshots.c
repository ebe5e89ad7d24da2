/* SPDX-License-Identifier: MIT */
/*
 * snapshots.*: templates made from sandboxes. Every method is one REST
 * pass-through (rest_passthrough in rest.c); snapshots.create first
 * refuses overwrite on the v0.1.5 control plane, which ignores the query
 * and answers 409 template_name_taken (CONTRACT.md 11.7). An API key or a
 * JWT will do.
 */
#include "config.h"

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "dialect.h"
#include "methods.h"
#include "rest.h"
#include "wrennd.h"

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
	.doc = "replace a snapshot of the same name (172413e only)"},
    METHODS_PARAMS_END,
};

/* snapshots.create: overwrite is the older server's alone; the newer one
 * would ignore it and fail, so nothing is sent. */
static void
api_snapshots_create(struct call *call)
{
	if (json_is_true(json_object_get(call_params(call), "overwrite")) &&
	    dialect_current(call_wd(call)->dialect) == DIALECT_CAPSULES) {
		dialect_fail_unsupported(call,
		    "snapshots.create with overwrite", DIALECT_NEEDS_SANDBOXES);
		return;
	}
	rest_passthrough(call);
}

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
	.flags = METHODS_BODY | METHODS_SLOW,
	.params = p_snapshots_create,
	.handler = api_snapshots_create,
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
