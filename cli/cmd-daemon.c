/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl status": wrennd's own state (daemon.status) plus what the
 * greeting said about this connection. Later daemon-level commands go here.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "wrennctl.h"

int
cmd_daemon_status_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	static const char *const order[] = {
	    "version", "upstream", "auth", "counts", NULL};
	json_t *res = NULL;
	char *path = NULL;
	const char *role;
	int c, r;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	if (optind != argc)
		return cli_usage(cli, "status takes no arguments");
	if ((r = cli_call(cli, "daemon.status", NULL, &res)) != 0)
		return r;
	if (cli->json) {
		output_result(res);
	} else {
		/* What this connection looks like from here, after the rest. */
		if (!cli->quiet && json_is_object(res)) {
			if (wrennctl_socket_path(cli->socket, &path) < 0)
				path = NULL;
			role = wrennctl_peer_role(cli->h);
			(void)json_object_set_new(res, "connection",
			    json_pack(
				"{s:s?, s:s?}", "socket", path, "role", role));
			free(path);
		}
		output_kv(res, order);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}
