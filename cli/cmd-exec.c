/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl exec SANDBOX [--] CMD [ARG...]": one command in a sandbox via
 * sandbox.exec. Its output goes to our stdout and stderr byte for byte
 * (base64 is decoded when the result says encoding "base64") and wrennctl
 * exits with the command's exit status. The command is not run through a
 * shell: use "-- /bin/sh -c 'LINE'" for shell syntax.
 *
 * "exec --stream" runs it through sandbox.exec_stream instead, printing the
 * output as it comes; "exec --detach" leaves the stream running inside
 * wrennd and prints its id; "attach STREAM" replays and follows such a
 * stream (streams.attach). Ctrl-C cancels the call (run.c).
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

/* Write one output field of the result to f, decoding base64. */
static int
cmd_exec_write(const json_t *res, const char *key, int base64, FILE *f)
{
	const json_t *v = json_object_get(res, key);
	unsigned char *buf;
	size_t len;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	if (!base64) {
		len = json_string_length(v);
		return fwrite(json_string_value(v), 1, len, f) == len ? 0 : -1;
	}
	if (b64_decode(
		json_string_value(v), json_string_length(v), &buf, &len) < 0)
		return -1;
	if (fwrite(buf, 1, len, f) != len) {
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/* One event of an exec stream, for people or (--json) as a JSON line. */
static void
cmd_exec_event(
    struct cli *cli, const char *event, const json_t *ev, void *userdata)
{
	const json_t *data = json_object_get(ev, "data");

	if (output_event(cli, event, ev))
		return;
	if (strcmp(event, "lost") == 0) {
		fprintf(stderr,
		    "wrennctl: warning: lost %" JSON_INTEGER_FORMAT
		    " events (seq %" JSON_INTEGER_FORMAT
		    "-%" JSON_INTEGER_FORMAT ", %s%" JSON_INTEGER_FORMAT
		    " bytes of output): wrennd's buffer dropped them\n",
		    json_integer_value(json_object_get(ev, "events")),
		    json_integer_value(json_object_get(ev, "from_seq")),
		    json_integer_value(json_object_get(ev, "to_seq")),
		    json_is_false(json_object_get(ev, "exact")) ? "about " : "",
		    json_integer_value(json_object_get(ev, "bytes")));
	} else if (strcmp(event, "error") == 0 && json_is_string(data))
		fprintf(stderr, "wrennctl: exec stream: %s\n",
		    json_string_value(data));
}

/*
 * Follow method (exec_stream or attach) to its end: print the events, and
 * return the command's exit status, or an exit code.
 */
static int
cmd_exec_follow(struct cli *cli, const char *method, json_t *params_steal)
{
	json_t *res = NULL, *code;
	int r;

	run_sigint_install();
	r = run_stream(
	    cli, method, params_steal, cmd_exec_event, NULL, &res, NULL);
	if (r != 0)
		return r;
	code = json_object_get(res, "exit_code");
	if (cli->json)
		output_json(res, 0);
	if (!json_is_integer(code)) {
		output_error_local(
		    cli, "protocol", "%s returned no exit_code", method);
		json_decref(res);
		return CLI_EXIT_ERROR;
	}
	/* -1 (killed by a signal) becomes 255, like exit(-1) in a shell. */
	r = (int)(json_integer_value(code) & 0xff);
	json_decref(res);
	return r;
}

/* "exec --detach": start, print the stream id, leave it to wrennd. */
static int
cmd_exec_detach(struct cli *cli, json_t *params_steal)
{
	json_t *res = NULL;
	int r;

	(void)json_object_set_new(params_steal, "detach", json_true());
	r = cli_call(cli, "sandbox.exec_stream", params_steal, &res);
	if (r != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		printf("%s\n",
		    json_string_value(json_object_get(res, "stream_id")));
	json_decref(res);
	return CLI_EXIT_OK;
}

/* "exec" without --stream: one sandbox.exec call, output at the end. */
static int
cmd_exec_once(struct cli *cli, json_t *params_steal)
{
	const char *enc;
	json_t *res = NULL, *code;
	int r, base64;

	if ((r = cli_call(cli, "sandbox.exec", params_steal, &res)) != 0)
		return r;
	code = json_object_get(res, "exit_code");
	if (!json_is_integer(code)) {
		output_error_local(
		    cli, "protocol", "sandbox.exec returned no exit_code");
		json_decref(res);
		return CLI_EXIT_ERROR;
	}
	if (cli->json) {
		output_result(res);
	} else {
		enc = json_string_value(json_object_get(res, "encoding"));
		base64 = enc != NULL && strcmp(enc, "base64") == 0;
		if (cmd_exec_write(res, "stdout", base64, stdout) < 0 ||
		    cmd_exec_write(res, "stderr", base64, stderr) < 0) {
			output_error_local(cli, "protocol",
			    "cannot decode or write the command's output");
			json_decref(res);
			return CLI_EXIT_ERROR;
		}
	}
	r = (int)(json_integer_value(code) & 0xff);
	json_decref(res);
	return r;
}

#define CMD_EXEC_STREAM (1 << 0)
#define CMD_EXEC_DETACH (1 << 1)

/* exec's options; CLI_CONTINUE or an exit code. */
static int
cmd_exec_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    long *timeout, int *mode)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, 'T'},
	    {"stream", no_argument, NULL, 'S'},
	    {"detach", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	/* "+": stop at SANDBOX so the command's own options stay its own. */
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS "T:Sd",
		    opts, NULL)) != -1) {
		if (c == 'T') {
			r = cli_parse_int(
			    cli, "--timeout", optarg, 1, 86400, timeout);
			if (r != 0)
				return r;
		} else if (c == 'S')
			*mode |= CMD_EXEC_STREAM;
		else if (c == 'd')
			*mode |= CMD_EXEC_DETACH;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (*timeout > 0 && *mode != 0)
		return cli_usage(cli,
		    "--timeout is for exec without --stream "
		    "or --detach");
	return CLI_CONTINUE;
}

int
cmd_exec_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const char *sandbox;
	json_t *params, *args;
	long timeout = 0;
	int r, mode = 0;

	r = cmd_exec_opts(cli, self, argc, argv, &timeout, &mode);
	if (r != CLI_CONTINUE)
		return r;
	if (optind >= argc)
		return cli_usage(cli, "exec wants SANDBOX and CMD");
	sandbox = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return cli_usage(cli, "exec wants a CMD to run in %s", sandbox);
	params = json_pack("{s:s, s:s, s:[]}", "sandbox_id", sandbox, "cmd",
	    argv[optind], "args");
	if (params == NULL)
		return CLI_EXIT_ERROR;
	args = json_object_get(params, "args");
	for (optind++; optind < argc; optind++)
		(void)json_array_append_new(args, json_string(argv[optind]));
	if (timeout > 0)
		(void)json_object_set_new(
		    params, "timeout_sec", json_integer(timeout));
	cli->exec_timeout = timeout;
	if (mode & CMD_EXEC_DETACH)
		return cmd_exec_detach(cli, params);
	if (mode & CMD_EXEC_STREAM)
		return cmd_exec_follow(cli, "sandbox.exec_stream", params);
	return cmd_exec_once(cli, params);
}

/* "attach [--from-seq N] STREAM": replay and follow a detached stream. */
int
cmd_exec_attach_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"from-seq", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	json_t *params;
	long from = -1;
	int c, r;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'F') {
			r = cli_parse_int(
			    cli, "--from-seq", optarg, 0, LONG_MAX, &from);
			if (r != 0)
				return r;
		} else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	params = json_pack("{s:s}", "stream_id", argv[optind]);
	if (params != NULL && from >= 0)
		(void)json_object_set_new(
		    params, "from_seq", json_integer(from));
	return cmd_exec_follow(cli, "streams.attach", params);
}
