/* SPDX-License-Identifier: MIT */
/*
 * Reaching what runs in a sandbox through the control plane's proxy:
 * "wrennctl url SANDBOX PORT" prints the proxy URL (sandbox.get_url);
 * "wrennctl http SANDBOX PORT [METHOD] PATH" makes one request
 * (sandbox.http_request) and writes the answer's body to stdout as is,
 * with the status and header fields on stderr under -v, like curl.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "wrennctl.h"

#define CMD_PROXY_BODY_MAX ((size_t)1 << 30) /* bytes read for -d */

/* Parse PORT (1..65535) into *ret; 0 or a usage exit code. */
static int
cmd_proxy_port(const struct cli *cli, const char *s, long *ret)
{
	return cli_parse_int(cli, "PORT", s, 1, 65535, ret);
}

int
cmd_proxy_url_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	json_t *res = NULL;
	long port;
	int r;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (argc - optind != 2)
		return cli_usage(cli, "url wants SANDBOX and PORT");
	if ((r = cmd_proxy_port(cli, argv[optind + 1], &port)) != 0)
		return r;
	if ((r = cli_call(cli, "sandbox.get_url",
		 json_pack("{s:s, s:i}", "sandbox_id", argv[optind], "port",
		     (int)port),
		 &res)) != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		printf("%s\n", json_string_value(json_object_get(res, "url")));
	json_decref(res);
	return CLI_EXIT_OK;
}

/*
 * The body of -d: DATA as written, @FILE, or - for stdin, base64-encoded
 * into *ret. 0 or an exit code (the error printed).
 */
static int
cmd_proxy_body(struct cli *cli, const char *arg, char **ret)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = 0;

	if (strcmp(arg, "-") == 0)
		r = cli_read_file("-", CMD_PROXY_BODY_MAX, &buf, &len);
	else if (arg[0] == '@')
		r = cli_read_file(arg + 1, CMD_PROXY_BODY_MAX, &buf, &len);
	else {
		len = strlen(arg);
		if ((buf = malloc(len + 1)) == NULL)
			r = -ENOMEM;
		else
			memcpy(buf, arg, len);
	}
	if (r != 0) {
		output_error_local(cli, "io", "cannot read the body %s: %s",
		    strcmp(arg, "-") == 0 ? "from stdin" : arg + 1,
		    strerror(-r));
		return CLI_EXIT_ERROR;
	}
	*ret = b64_encode(buf, len, &len);
	free(buf);
	if (*ret == NULL) {
		output_error_local(cli, "nomem", "out of memory");
		return CLI_EXIT_ERROR;
	}
	return 0;
}

/* Add -H "Name: value" to headers (a repeated name becomes an array);
 * CLI_CONTINUE or an exit code. */
static int
cmd_proxy_header(struct cli *cli, json_t *headers, const char *arg)
{
	const char *colon = strchr(arg, ':'), *v;
	json_t *prev;
	char *name;
	int r;

	if (colon == NULL || colon == arg)
		return cli_usage(cli, "-H wants 'Name: value', not '%s'", arg);
	if ((name = strndup(arg, (size_t)(colon - arg))) == NULL) {
		output_error_local(cli, "nomem", "out of memory");
		return CLI_EXIT_ERROR;
	}
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((prev = json_object_get(headers, name)) == NULL)
		r = json_object_set_new(headers, name, json_string(v));
	else if (json_is_array(prev))
		r = json_array_append_new(prev, json_string(v));
	else
		r = json_object_set_new(
		    headers, name, json_pack("[O,s]", prev, v));
	free(name);
	return r == 0 ? CLI_CONTINUE : cli_usage(cli, "bad header '%s'", arg);
}

/* -v: the status and header fields on stderr, "< " in front as curl. */
static void
cmd_proxy_show_head(const json_t *res)
{
	const char *name;
	json_t *v, *e;
	size_t i;

	fprintf(stderr, "< HTTP %lld\n",
	    (long long)json_integer_value(json_object_get(res, "status")));
	json_object_foreach(json_object_get(res, "headers"), name, v) {
		if (json_is_string(v))
			fprintf(
			    stderr, "< %s: %s\n", name, json_string_value(v));
		json_array_foreach(v, i, e)
			fprintf(
			    stderr, "< %s: %s\n", name, json_string_value(e));
	}
	fprintf(stderr, "<\n");
}

/* Write the answer: JSON, or the body to stdout; the exit code. */
static int
cmd_proxy_show(struct cli *cli, const json_t *res, int fail)
{
	const json_t *b = json_object_get(res, "body");
	json_int_t status = json_integer_value(json_object_get(res, "status"));
	unsigned char *body;
	size_t len;

	if (cli->json) {
		output_result(res);
	} else {
		if (cli->verbose)
			cmd_proxy_show_head(res);
		if ((body = b64_decode_loose(json_string_value(b),
			 json_string_length(b), &len)) == NULL) {
			output_error_local(
			    cli, "protocol", "the answer's body is not base64");
			return CLI_EXIT_ERROR;
		}
		if (fwrite(body, 1, len, stdout) != len ||
		    fflush(stdout) != 0) {
			free(body);
			output_error_local(cli, "io",
			    "cannot write the body: %s", strerror(errno));
			return CLI_EXIT_ERROR;
		}
		free(body);
	}
	if (fail && status >= 400) {
		if (!cli->json && !cli->quiet)
			fprintf(stderr,
			    "wrennctl: the server answered HTTP %lld\n",
			    (long long)status);
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

int
cmd_proxy_http_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"header", required_argument, NULL, 'H'},
	    {"data", required_argument, NULL, 'd'},
	    {"fail", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = NULL, *method, *path;
	json_t *headers, *params, *res = NULL;
	char *body = NULL;
	int c, r, fail = 0, nargs;
	long port;

	if ((headers = json_object()) == NULL)
		return CLI_EXIT_ERROR;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "H:d:f", opts,
		    NULL)) != -1) {
		r = CLI_CONTINUE;
		if (c == 'H')
			r = cmd_proxy_header(cli, headers, optarg);
		else if (c == 'd')
			data = optarg;
		else if (c == 'f')
			fail = 1;
		else
			r = cli_common_opt(cli, self, c);
		if (r != CLI_CONTINUE) {
			json_decref(headers);
			return r;
		}
	}
	nargs = argc - optind;
	if (nargs != 3 && nargs != 4) {
		json_decref(headers);
		return cli_usage(cli, "http wants SANDBOX PORT [METHOD] PATH");
	}
	if ((r = cmd_proxy_port(cli, argv[optind + 1], &port)) != 0) {
		json_decref(headers);
		return r;
	}
	method = nargs == 4 ? argv[optind + 2] : data != NULL ? "POST" : "GET";
	path = argv[optind + nargs - 1];
	if (data != NULL && (r = cmd_proxy_body(cli, data, &body)) != 0) {
		json_decref(headers);
		return r;
	}
	params = json_pack("{s:s, s:i, s:s, s:s, s:o, s:s*}", "sandbox_id",
	    argv[optind], "port", (int)port, "method", method, "path", path,
	    "headers", headers, "body", body);
	free(body);
	if ((r = cli_call(cli, "sandbox.http_request", params, &res)) != 0)
		return r;
	r = cmd_proxy_show(cli, res, fail);
	json_decref(res);
	return r;
}
