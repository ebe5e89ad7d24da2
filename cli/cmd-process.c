/* SPDX-License-Identifier: MIT */
/*
 * Background processes in a sandbox (a v0.1.5 control plane):
 * "wrennctl ps SANDBOX" lists them (sandbox.processes) and "wrennctl kill
 * SANDBOX PID|TAG [-s TERM|KILL]" signals one (sandbox.kill). They are
 * started with "exec --background" and followed with "attach SANDBOX
 * PID|TAG" (cmd-exec.c).
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

/* "ps SANDBOX": a table of the processes (PID, TAG, COMMAND). */
int
cmd_process_ps_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const char *const heads[] = {"PID", "TAG", "COMMAND"};
	struct output_table *t;
	const json_t *procs, *p, *a;
	json_t *res = NULL;
	size_t i, k;
	int r;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	r = cli_call(cli, "sandbox.processes",
	    json_pack("{s:s}", "sandbox_id", argv[optind]), &res);
	if (r != 0)
		return r;
	procs = json_object_get(res, "processes");
	if (cli->json || !json_is_array(procs)) {
		output_result(res);
		json_decref(res);
		return CLI_EXIT_OK;
	}
	if ((t = output_table_new(3, heads)) == NULL) {
		json_decref(res);
		return CLI_EXIT_ERROR;
	}
	json_array_foreach(procs, i, p) {
		char *pid = output_field(p, "pid"),
		     *tag = output_field(p, "tag");
		char *cmd = output_field(p, "cmd"), *line = NULL;
		const char *cells[3];
		size_t len;
		FILE *f = open_memstream(&line, &len);

		if (f != NULL) {
			fputs(cmd != NULL ? cmd : "", f);
			json_array_foreach(json_object_get(p, "args"), k, a)
				fprintf(f, " %s",
				    json_is_string(a) ? json_string_value(a)
						      : "?");
			fclose(f);
		}
		cells[0] = pid;
		cells[1] = tag;
		cells[2] = line != NULL ? line : cmd;
		(void)output_table_add(t, cells);
		free(pid);
		free(tag);
		free(cmd);
		free(line);
	}
	output_table_print(t);
	output_table_free(t);
	json_decref(res);
	return CLI_EXIT_OK;
}

/*
 * The selector of a process for a call: a number is a pid (sent as a JSON
 * number), anything else a tag.
 */
json_t *
cmd_process_selector(const char *arg)
{
	char *end;
	unsigned long long pid;

	if (arg[0] >= '0' && arg[0] <= '9') {
		pid = strtoull(arg, &end, 10);
		if (*end == '\0' && pid <= 4294967295ULL)
			return json_integer((json_int_t)pid);
	}
	return json_string(arg);
}

/* "kill [-s TERM|KILL] SANDBOX PID|TAG". */
int
cmd_process_kill_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	/* -s is the signal here, as in kill(1); the socket is --socket. */
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS_BUT_SOCKET,
	    {"socket", required_argument, NULL, 'P'},
	    {"signal", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *sig = NULL;
	json_t *params, *res = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "hjqs:v", opts, NULL)) != -1) {
		if (c == 'P')
			cli->socket = optarg;
		else if (c != 's') {
			if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
				return r;
		} else if (strcmp(optarg, "TERM") == 0 ||
		    strcmp(optarg, "SIGTERM") == 0)
			sig = "SIGTERM";
		else if (strcmp(optarg, "KILL") == 0 ||
		    strcmp(optarg, "SIGKILL") == 0)
			sig = "SIGKILL";
		else
			return cli_usage(cli,
			    "the signal is TERM or KILL (the control plane "
			    "sends no other), not '%s'",
			    optarg);
	}
	if (argc - optind != 2)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	params = json_pack("{s:s, s:o}", "sandbox_id", argv[optind], "selector",
	    cmd_process_selector(argv[optind + 1]));
	if (params != NULL && sig != NULL)
		(void)json_object_set_new(params, "signal", json_string(sig));
	if ((r = cli_call(cli, "sandbox.kill", params, &res)) != 0)
		return r;
	if (cli->json)
		output_result(res);
	json_decref(res);
	return CLI_EXIT_OK;
}
