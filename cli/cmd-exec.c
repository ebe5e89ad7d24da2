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
 *
 * "exec --background" starts the command as a background process of the
 * sandbox (a v0.1.5 control plane; --tag, --env, --cwd) and prints its
 * pid and tag; "attach SANDBOX PID|TAG" follows such a process
 * (sandbox.attach_process) until it exits.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
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
	if ((buf = b64_decode_loose(
		 json_string_value(v), json_string_length(v), &len)) == NULL)
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
 * The exit status of a command method's result (res stolen): its
 * exit_code, of which -1 (killed by a signal) becomes 255 like exit(-1)
 * in a shell; or an error when there is none.
 */
static int
cmd_exec_status(struct cli *cli, const char *method, json_t *res)
{
	const json_t *code = json_object_get(res, "exit_code");
	int r = CLI_EXIT_ERROR;

	if (json_is_integer(code))
		r = (int)(json_integer_value(code) & 0xff);
	else
		output_error_local(
		    cli, "protocol", "%s returned no exit_code", method);
	json_decref(res);
	return r;
}

/*
 * Follow method (exec_stream or attach) to its end: print the events, and
 * return the command's exit status, or an exit code.
 */
static int
cmd_exec_follow(struct cli *cli, const char *method, json_t *params_steal)
{
	json_t *res = NULL;
	int r;

	run_sigint_install();
	r = run_stream(
	    cli, method, params_steal, cmd_exec_event, NULL, &res, NULL);
	if (r != 0)
		return r;
	if (cli->json)
		output_json(res, 0);
	return cmd_exec_status(cli, method, res);
}

/*
 * Start a command that goes on without us (flag: "detach" or
 * "background" set in params_steal) and print what names it: the JSON
 * result, or the line print makes of it.
 */
static int
cmd_exec_start(struct cli *cli, const char *method, const char *flag,
    json_t *params_steal, void (*print)(const json_t *res))
{
	json_t *res = NULL;
	int r;

	(void)json_object_set_new(params_steal, flag, json_true());
	if ((r = cli_call(cli, method, params_steal, &res)) != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		print(res);
	json_decref(res);
	return CLI_EXIT_OK;
}

/* "exec --detach" prints the stream id and leaves it to wrennd. */
static void
cmd_exec_print_stream(const json_t *res)
{
	printf("%s\n", json_string_value(json_object_get(res, "stream_id")));
}

/* "exec" without --stream: one sandbox.exec call, output at the end. */
static int
cmd_exec_once(struct cli *cli, json_t *params_steal)
{
	const char *enc;
	json_t *res = NULL;
	int r, base64, done;

	if ((r = cli_call(cli, "sandbox.exec", params_steal, &res)) != 0)
		return r;
	/* A result without its exit_code is not shown (see _status). */
	done = json_is_integer(json_object_get(res, "exit_code"));
	if (done && cli->json) {
		output_result(res);
	} else if (done) {
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
	return cmd_exec_status(cli, "sandbox.exec", res);
}

/* "exec --background" prints "PID TAG". */
static void
cmd_exec_print_process(const json_t *res)
{
	const char *tag = json_string_value(json_object_get(res, "tag"));

	printf("%" JSON_INTEGER_FORMAT " %s\n",
	    json_integer_value(json_object_get(res, "pid")),
	    tag != NULL ? tag : "-");
}

#define CMD_EXEC_STREAM	    (1 << 0)
#define CMD_EXEC_DETACH	    (1 << 1)
#define CMD_EXEC_BACKGROUND (1 << 2)

int
cmd_exec_env(struct cli *cli, json_t *extra, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *envs = json_object_get(extra, "envs");
	char *name;

	if (eq == NULL || eq == kv)
		return cli_usage(cli, "--env wants NAME=VALUE, not '%s'", kv);
	if (envs == NULL) {
		envs = json_object();
		(void)json_object_set_new(extra, "envs", envs);
	}
	if ((name = strndup(kv, (size_t)(eq - kv))) == NULL)
		return CLI_EXIT_ERROR;
	(void)json_object_set_new(envs, name, json_string(eq + 1));
	free(name);
	return CLI_CONTINUE;
}

/* exec's options; CLI_CONTINUE or an exit code. */
static int
cmd_exec_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    long *timeout, int *mode, json_t *extra)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, 'T'},
	    {"stream", no_argument, NULL, 'S'},
	    {"detach", no_argument, NULL, 'd'},
	    {"background", no_argument, NULL, 'b'},
	    {"tag", required_argument, NULL, 'g'},
	    {"env", required_argument, NULL, 'e'},
	    {"cwd", required_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	/* "+": stop at SANDBOX so the command's own options stay its own. */
	while ((c = getopt_long(argc, argv,
		    "+" CLI_COMMON_SHORTOPTS "T:Sdbe:C:", opts, NULL)) != -1) {
		if (c == 'T') {
			r = cli_parse_int(
			    cli, "--timeout", optarg, 1, 86400, timeout);
			if (r != 0)
				return r;
		} else if (c == 'S')
			*mode |= CMD_EXEC_STREAM;
		else if (c == 'd')
			*mode |= CMD_EXEC_DETACH;
		else if (c == 'b')
			*mode |= CMD_EXEC_BACKGROUND;
		else if (c == 'g')
			(void)json_object_set_new(
			    extra, "tag", json_string(optarg));
		else if (c == 'C')
			(void)json_object_set_new(
			    extra, "cwd", json_string(optarg));
		else if (c == 'e') {
			if ((r = cmd_exec_env(cli, extra, optarg)) !=
			    CLI_CONTINUE)
				return r;
		} else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (*timeout > 0 && *mode != 0)
		return cli_usage(cli,
		    "--timeout is for exec without --stream, --detach "
		    "or --background");
	if ((*mode & CMD_EXEC_BACKGROUND) && *mode != CMD_EXEC_BACKGROUND)
		return cli_usage(cli,
		    "--background is not for --stream or --detach (follow "
		    "the process with attach SANDBOX PID|TAG)");
	if (json_object_size(extra) > 0 && !(*mode & CMD_EXEC_BACKGROUND))
		return cli_usage(cli,
		    "--tag, --env and --cwd are for --background (the "
		    "control plane ignores them otherwise)");
	return CLI_CONTINUE;
}

int
cmd_exec_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const char *sandbox;
	json_t *params, *args, *extra;
	long timeout = 0;
	int r, mode = 0;

	if ((extra = json_object()) == NULL)
		return CLI_EXIT_ERROR;
	r = cmd_exec_opts(cli, self, argc, argv, &timeout, &mode, extra);
	if (r == CLI_CONTINUE && optind >= argc)
		r = cli_usage(cli, "exec wants SANDBOX and CMD");
	if (r != CLI_CONTINUE) {
		json_decref(extra);
		return r;
	}
	sandbox = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc) {
		json_decref(extra);
		return cli_usage(cli, "exec wants a CMD to run in %s", sandbox);
	}
	params = json_pack("{s:s, s:s, s:[]}", "sandbox_id", sandbox, "cmd",
	    argv[optind], "args");
	if (params == NULL || json_object_update(params, extra) != 0) {
		json_decref(extra);
		json_decref(params);
		return CLI_EXIT_ERROR;
	}
	json_decref(extra);
	args = json_object_get(params, "args");
	for (optind++; optind < argc; optind++)
		(void)json_array_append_new(args, json_string(argv[optind]));
	if (timeout > 0)
		(void)json_object_set_new(
		    params, "timeout_sec", json_integer(timeout));
	cli->exec_timeout = timeout;
	if (mode & CMD_EXEC_BACKGROUND)
		return cmd_exec_start(cli, "sandbox.exec", "background", params,
		    cmd_exec_print_process);
	if (mode & CMD_EXEC_DETACH)
		return cmd_exec_start(cli, "sandbox.exec_stream", "detach",
		    params, cmd_exec_print_stream);
	if (mode & CMD_EXEC_STREAM)
		return cmd_exec_follow(cli, "sandbox.exec_stream", params);
	return cmd_exec_once(cli, params);
}

/*
 * "attach [--from-seq N] STREAM": replay and follow a detached stream;
 * "attach SANDBOX PID|TAG": follow a background process until it exits.
 */
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
	if (argc - optind == 2 && from < 0)
		return cmd_exec_follow(cli, "sandbox.attach_process",
		    json_pack("{s:s, s:o}", "sandbox_id", argv[optind],
			"selector", cmd_process_selector(argv[optind + 1])));
	if (argc - optind != 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	params = json_pack("{s:s}", "stream_id", argv[optind]);
	if (params != NULL && from >= 0)
		(void)json_object_set_new(
		    params, "from_seq", json_integer(from));
	return cmd_exec_follow(cli, "streams.attach", params);
}
