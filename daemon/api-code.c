/* SPDX-License-Identifier: MIT */
/*
 * sandbox.run_code: code run on a Jupyter kernel in the sandbox, shared by
 * every local client (kernel.c keeps the kernels, their queues and the
 * assembly of the CodeResult). This file is the method row and the
 * handler that checks what the caller asked for.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "ipc.h"
#include "kernel.h"
#include "methods.h"

#define CODE_DEFAULT_LANGUAGE "python"
#define CODE_DEFAULT_TIMEOUT  30
#define CODE_LANGUAGE_MAX     64 /* bytes of a language or spec name */

static void
api_code_run(struct call *call)
{
	json_t *params = call_params(call), *code, *v;
	char label[API_PROXY_LABEL_MAX + 1], *host;
	struct kernel_run_args a;

	if (api_proxy_label(call, KERNEL_PORT, label, sizeof(label)) != 0 ||
	    (host = api_proxy_host(call, label)) == NULL)
		return;
	free(host);
	memset(&a, 0, sizeof(a));
	a.sandbox_id = json_string_value(json_object_get(params, "sandbox_id"));
	code = json_object_get(params, "code");
	a.code = json_string_value(code);
	a.code_len = json_string_length(code);
	v = json_object_get(params, "language");
	a.language = v != NULL ? json_string_value(v) : CODE_DEFAULT_LANGUAGE;
	if (strlen(a.language) > CODE_LANGUAGE_MAX) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'language' is longer than %d bytes",
		    CODE_LANGUAGE_MAX);
		return;
	}
	v = json_object_get(params, "timeout_sec");
	a.timeout_sec =
	    v != NULL ? (int)json_integer_value(v) : CODE_DEFAULT_TIMEOUT;
	a.stream = json_is_true(json_object_get(params, "stream"));
	kernel_run(call, &a);
}

static const struct methods_param p_run_code[] = {
    {.name = "sandbox_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "sandbox id (cl-...) running a Jupyter Server on port 8888"},
    {.name = "code",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_REQUIRED,
	.doc = "the code, run like a notebook cell"},
    {.name = "language",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_LOCAL,
	.flags = METHODS_F_NONEMPTY,
	.doc = "kernelspec language or name (default python)"},
    {.name = "timeout_sec",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.min = 1,
	.max = 86400,
	.doc = "seconds the code may run before the kernel is interrupted "
	       "(default 30; time queued behind other calls not counted)"},
    {.name = "stream",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "also send stdout, stderr, result and error events"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_code_rows[] = {
    {
	.name = "sandbox.run_code",
	.summary = "run code on the sandbox's shared Jupyter kernel",
	.cred = ROLE_CRED_APIKEY,
	.role = ROLE_TOOL,
	.result = METHODS_RES_LOCAL,
	.flags = METHODS_STREAM,
	.params = p_run_code,
	.handler = api_code_run,
    },
};

const struct api_table api_code_methods = API_TABLE(api_code_rows);
