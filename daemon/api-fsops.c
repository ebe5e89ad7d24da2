/* SPDX-License-Identifier: MIT */
/*
 * Filesystem operations in a sandbox: sandbox.list_files, sandbox.mkdir
 * and sandbox.remove. On the v0.1.5 control plane they are its
 * files/list, files/mkdir and files/remove routes, with the server's
 * answers and error quirks unchanged (a missing path is 502 agent_error).
 */
#include "config.h"

#include "api.h"
#include "methods.h"

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_list_files[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "directory in the sandbox (relative: to the home, ~ expands)"},
    {.name = "depth",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = 0,
	.max = 4294967295LL,
	.doc = "levels to descend (default and 0: 1, the directory itself)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_path[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "path in the sandbox (relative: to the home, ~ expands)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_fsops_rows[] = {
    {
	.name = "sandbox.list_files",
	.summary = "list a directory in a sandbox (entries like ls -l)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/list",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_list_files,
    },
    {
	.name = "sandbox.mkdir",
	.summary = "create a directory and its parents in a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/mkdir",
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_path,
    },
    {
	.name = "sandbox.remove",
	.summary = "remove a file or a directory tree in a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/remove",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY | METHODS_NEEDS_CAPSULES,
	.params = p_path,
    },
};

const struct api_table api_fsops_methods = API_TABLE(api_fsops_rows);
