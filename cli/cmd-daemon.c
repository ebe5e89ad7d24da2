/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl status": wrennd's own state (daemon.status) plus what the
 * greeting said about this connection. The first line says whether the
 * setup works: wrennd's probe of the control plane (one authenticated
 * read) is "ok", or an error with its reason (a rejected API key, an
 * unreachable control plane, no credential); then the details. Exits 1
 * when it is not ok. Later daemon-level commands go here.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

/* Probe fields folded into the "status" line for people. */
static const char *const cmd_daemon_probe_keys[] = {"state", "reason",
    "reachable", "error", "probe", "probe_auth", "probe_status", NULL};

/* Whether wrennd's probe found the setup working. */
static int
cmd_daemon_ok(const json_t *res)
{
	const char *state = json_string_value(
	    json_object_get(json_object_get(res, "upstream"), "state"));

	return state != NULL && strcmp(state, "ok") == 0;
}

/* Fold res.upstream's probe outcome into res.status ("ok", "error: ..."). */
static void
cmd_daemon_health(json_t *res)
{
	json_t *up = json_object_get(res, "upstream");
	const char *state = json_string_value(json_object_get(up, "state"));
	const char *reason = json_string_value(json_object_get(up, "reason"));
	char *line = NULL;
	size_t i;

	if (cmd_daemon_ok(res))
		line = strdup("ok");
	else if (asprintf(&line, "error: %s",
		     reason != NULL	 ? reason
			 : state != NULL ? state
					 : "unknown") < 0)
		line = NULL;
	(void)json_object_set_new(
	    res, "status", json_string(line != NULL ? line : "error"));
	free(line);
	for (i = 0; cmd_daemon_probe_keys[i] != NULL; i++)
		(void)json_object_del(up, cmd_daemon_probe_keys[i]);
}

int
cmd_daemon_status_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	static const char *const order[] = {
	    "status", "version", "upstream", "auth", "counts", NULL};
	json_t *res = NULL;
	char *path = NULL;
	const char *role;
	int c, r, ok;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	if (optind != argc)
		return cli_usage(cli, "status takes no arguments");
	if ((r = cli_call(cli, "daemon.status", NULL, &res)) != 0)
		return r;
	ok = cmd_daemon_ok(res);
	if (cli->json) {
		output_result(res);
	} else if (cli->quiet) {
		cmd_daemon_health(res);
		printf(
		    "%s\n", json_string_value(json_object_get(res, "status")));
	} else {
		cmd_daemon_health(res);
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
	return ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}
