/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl exec SANDBOX [--] CMD [ARG...]": one command in a sandbox via
 * sandbox.exec. Its output goes to our stdout and stderr byte for byte
 * (base64 is decoded when the result says encoding "base64") and wrennctl
 * exits with the command's exit status. The command is not run through a
 * shell: use "-- /bin/sh -c 'LINE'" for shell syntax.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

/* Value of one base64 character, or -1. */
static int
cmd_exec_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode standard base64 (padding optional, no whitespace) into a
 * malloc'd buffer. Returns 0, or -1 on bad input or allocation failure.
 */
static int
cmd_exec_b64decode(
    const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	unsigned char *out;
	unsigned int acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = cmd_exec_b64val((unsigned char)in[i])) < 0) {
			free(out);
			return -1;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

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
	if (cmd_exec_b64decode(
		json_string_value(v), json_string_length(v), &buf, &len) < 0)
		return -1;
	if (fwrite(buf, 1, len, f) != len) {
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int
cmd_exec_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	const char *sandbox, *enc;
	json_t *params, *args, *res = NULL, *code;
	long timeout = 0;
	int c, r, base64;

	/* "+": stop at SANDBOX so the command's own options stay its own. */
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS "t:", opts,
		    NULL)) != -1) {
		if (c == 't') {
			r = cli_parse_int(
			    cli, "--timeout", optarg, 1, 86400, &timeout);
			if (r != 0)
				return r;
			continue;
		}
		if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
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
	if ((r = cli_call(cli, "sandbox.exec", params, &res)) != 0)
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
	/* -1 (killed by a signal) becomes 255, like exit(-1) in a shell. */
	r = (int)(json_integer_value(code) & 0xff);
	json_decref(res);
	return r;
}
