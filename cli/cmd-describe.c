/* SPDX-License-Identifier: MIT */
/*
 * What wrennd itself says about its methods (rpc.describe): "wrennctl help
 * METHOD" prints one method's params, types, credential and whether it
 * streams; "wrennctl methods" lists them all. The daemon is the source of
 * truth, so a newer wrennd's methods show up without a new wrennctl.
 * Called by: wrennctl.c (help), the command table.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

/* A param's type with its range: "integer (1..86400)". */
static void
cmd_describe_type(const json_t *p, char *buf, size_t size)
{
	const json_t *min = json_object_get(p, "min");
	const json_t *max = json_object_get(p, "max");
	const char *type = json_string_value(json_object_get(p, "type"));

	/* The full 32-bit range says nothing; a real bound does. */
	if (json_is_integer(min) && json_is_integer(max) &&
	    !(json_integer_value(min) == -2147483647LL - 1 &&
		json_integer_value(max) == 2147483647LL))
		snprintf(buf, size,
		    "%s (%" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT ")",
		    type != NULL ? type : "?", json_integer_value(min),
		    json_integer_value(max));
	else
		snprintf(buf, size, "%s", type != NULL ? type : "?");
}

/* The params of method m as a table. */
static void
cmd_describe_params(const json_t *m)
{
	static const char *const heads[] = {
	    "PARAM", "TYPE", "REQUIRED", "DESCRIPTION"};
	const json_t *params = json_object_get(m, "params"), *p;
	struct output_table *t;
	const char *cells[4];
	char type[64];
	size_t i;

	if (json_array_size(params) == 0) {
		printf("Params: none\n");
		return;
	}
	if ((t = output_table_new(4, heads)) == NULL)
		return;
	json_array_foreach(params, i, p) {
		cmd_describe_type(p, type, sizeof(type));
		cells[0] = json_string_value(json_object_get(p, "name"));
		cells[1] = type;
		cells[2] =
		    json_is_true(json_object_get(p, "required")) ? "yes" : "no";
		cells[3] = json_string_value(json_object_get(p, "doc"));
		(void)output_table_add(t, cells);
	}
	output_table_print(t);
	output_table_free(t);
}

/* One method object of rpc.describe, for people. */
static void
cmd_describe_print(const json_t *m)
{
	const json_t *up = json_object_get(m, "upstream");
	int stream = json_is_true(json_object_get(m, "stream"));
	const char *server;
	json_t *v;
	int first = 0;

	printf("%s - %s\n\n", json_string_value(json_object_get(m, "name")),
	    json_string_value(json_object_get(m, "summary")));
	cmd_describe_params(m);
	printf("\nCredential: %s",
	    json_string_value(json_object_get(m, "credential")));
	json_object_foreach(
	    (json_t *)json_object_get(m, "credential_by_server"), server, v)
		printf("%s%s on %s", first++ ? ", " : " (",
		    json_string_value(v), server);
	printf("%s\n", first ? ")" : "");
	printf("Role:       %s or stronger\n",
	    json_string_value(json_object_get(m, "role")));
	printf("Streaming:  %s\n",
	    stream ? "yes: $/stream events, then one final reply "
		     "($/cancel stops it)"
		   : "no");
	printf("Result:     %s\n",
	    json_string_value(json_object_get(m, "result")));
	if (json_is_object(up))
		printf("Upstream:   %s %s\n",
		    json_string_value(json_object_get(up, "method")),
		    json_string_value(json_object_get(up, "path")));
	printf("\nCall it with: wrennctl call %s '{...}'\n",
	    json_string_value(json_object_get(m, "name")));
}

/* "wrennctl help METHOD": rpc.describe of one method. */
int
cmd_describe_method(struct cli *cli, const char *method)
{
	json_t *res = NULL;
	int r;

	r = cli_call(
	    cli, "rpc.describe", json_pack("{s:s}", "method", method), &res);
	if (r != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		cmd_describe_print(res);
	json_decref(res);
	return CLI_EXIT_OK;
}

/* "wrennctl methods": every method wrennd has, with its summary. */
int
cmd_describe_methods_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	json_t *res = NULL, *methods;
	int r;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (optind != argc)
		return cli_usage(cli, "methods takes no arguments");
	if ((r = cli_call(cli, "rpc.describe", NULL, &res)) != 0)
		return r;
	methods = json_object_get(res, "methods");
	if (cli->json)
		output_result(res);
	else if (cli->quiet) {
		size_t i;
		json_t *m;

		json_array_foreach(methods, i, m)
			printf("%s\n",
			    json_string_value(json_object_get(m, "name")));
	} else
		output_table_json(methods, 4,
		    VERB_STRS("METHOD", "STREAM", "CREDENTIAL", "SUMMARY"),
		    VERB_STRS("name", "stream", "credential", "summary"));
	json_decref(res);
	return CLI_EXIT_OK;
}
