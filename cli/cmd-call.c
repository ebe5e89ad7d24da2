/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl call METHOD [PARAMS_JSON|-]": the generic call for scripts.
 * Pinned behaviour: the result JSON on stdout and exit 0, or the error JSON
 * on stderr and a non-zero exit. Stream events of the call ("$/stream"
 * params objects) are printed one JSON object per line on stdout before the
 * result. "--fd N" (repeatable) passes our descriptor N with the call; the
 * params refer to the k-th one as {"$fd":k}.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "wrennctl.h"

#define CMD_CALL_MAX_STDIN (64u * 1024 * 1024) /* bytes of params */
#define CMD_CALL_MAX_FDS   16		       /* --fd options */

/* Read all of stdin into a NUL-terminated string (NULL on failure). */
static char *
cmd_call_read_stdin(void)
{
	size_t len = 0, size = 4096, n;
	char *buf, *p;

	if ((buf = malloc(size)) == NULL)
		return NULL;
	for (;;) {
		n = fread(buf + len, 1, size - len - 1, stdin);
		len += n;
		if (n == 0)
			break;
		if (size - len - 1 == 0) {
			if (size >= CMD_CALL_MAX_STDIN) {
				free(buf);
				return NULL;
			}
			if ((p = realloc(buf, size * 2)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
			size *= 2;
		}
	}
	if (ferror(stdin)) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Each stream event: its params object as one line, flushed at once. */
static void
cmd_call_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	fputs(json, stdout);
	fputc('\n', stdout);
	(void)fflush(stdout);
}

/* call's options; CLI_CONTINUE or an exit code. */
static int
cmd_call_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    int *fds, size_t *n_fds)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"fd", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	long fd;
	int c, r;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c != 'F') {
			if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
				return r;
			continue;
		}
		if (*n_fds == CMD_CALL_MAX_FDS)
			return cli_usage(cli, "too many --fd options");
		if ((r = cli_parse_int(cli, "--fd", optarg, 0, 65535, &fd)) !=
		    0)
			return r;
		fds[(*n_fds)++] = (int)fd;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage(cli,
		    "call wants METHOD and optional "
		    "PARAMS_JSON");
	return CLI_CONTINUE;
}

int
cmd_call_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const char *method, *params = "{}";
	char *input = NULL, *res = NULL;
	int fds[CMD_CALL_MAX_FDS];
	size_t n_fds = 0;
	json_t *result;
	int r;

	if ((r = cmd_call_opts(cli, self, argc, argv, fds, &n_fds)) !=
	    CLI_CONTINUE)
		return r;
	method = argv[optind];
	if (argc - optind == 2) {
		params = argv[optind + 1];
		if (strcmp(params, "-") == 0) {
			if ((input = cmd_call_read_stdin()) == NULL)
				return cli_usage(
				    cli, "cannot read params from stdin");
			params = input;
		}
	}
	/* Errors of "call" are always JSON (pinned for scripts). */
	cli->json = 1;
	if ((r = cli_connect(cli)) != 0) {
		free(input);
		return r;
	}
	r = wrennctl_call_fds(
	    cli->h, method, params, fds, n_fds, cmd_call_event_cb, NULL, &res);
	free(input);
	if (r < 0) {
		output_error(cli, r);
		return cli_exit_code(r);
	}
	result = isatty(STDOUT_FILENO)
	    ? json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
	    : NULL;
	if (result != NULL)
		output_json(result, 1);
	else
		printf("%s\n", res);
	json_decref(result);
	free(res);
	return CLI_EXIT_OK;
}
