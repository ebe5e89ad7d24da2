/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl port-forward SANDBOX PORT [LOCAL]" in kubectl's shape: a
 * forward (sandbox.port_forward, leased to this connection) that lives
 * while the command runs in the foreground; Ctrl-C or SIGTERM closes it.
 * "port-forward ls" and "port-forward rm ID..." are the verbs of
 * cmd_portfwd_verbs (port_forwards.list, port_forwards.close).
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "wrennctl.h"

static const struct verb v_portfwd_list = {
    .method = "port_forwards.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("id", "sandbox_id", "port", "address", "connections",
	"bytes_in", "bytes_out", "created_at"),
    .heads = VERB_STRS(
	"ID", "SANDBOX", "PORT", "ADDRESS", "CONNS", "IN", "OUT", "AGE"),
    .quiet = "id",
    .empty = "No port forwards.",
};
static const struct verb v_portfwd_close = {
    .method = "port_forwards.close",
    .args = VERB_STRS("id..."),
    .show = VERB_SHOW_DONE,
    .done = "Closed port forward",
};

const struct cmd cmd_portfwd_verbs[] = {
    VERB_ROW("ls", "list", "",
	"the open port forwards: counters, bytes in and out, age", NULL,
	v_portfwd_list),
    VERB_ROW("rm", "close", "ID...",
	"close port forwards and their connections", NULL, v_portfwd_close),
    CMD_END,
};

/*
 * The listen param for LOCAL: a port alone is on 127.0.0.1, a path (with
 * a '/') is a Unix socket made absolute against the current directory,
 * anything else ("ADDR:PORT") goes as it is for wrennd to check. NULL
 * LOCAL: a free port on 127.0.0.1. 0 with *ret (malloc'd), or an exit
 * code (said).
 */
static int
cmd_portfwd_listen(const struct cli *cli, const char *local, char **ret)
{
	char cwd[PATH_MAX];
	long port;
	int r;

	*ret = NULL;
	if (local == NULL)
		local = "0";
	if (local[0] != '\0' && strspn(local, "0123456789") == strlen(local)) {
		if ((r = cli_parse_int(cli, "LOCAL", local, 0, 65535, &port)) !=
		    0)
			return r;
		if (asprintf(ret, "127.0.0.1:%ld", port) == -1)
			*ret = NULL;
	} else if (strchr(local, '/') != NULL && local[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return cli_usage(cli,
			    "LOCAL: cannot make '%s' absolute: %s", local,
			    strerror(errno));
		while (strncmp(local, "./", 2) == 0)
			local += 2 + strspn(local + 2, "/");
		if (asprintf(ret, "%s/%s", cwd, local) == -1)
			*ret = NULL;
	} else
		*ret = strdup(local);
	if (*ret == NULL) {
		fprintf(stderr, "wrennctl: out of memory\n");
		return CLI_EXIT_ERROR;
	}
	return 0;
}

int
cmd_portfwd_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	json_t *res = NULL, *params;
	char *listen = NULL, *text, *out = NULL;
	const char *id;
	long port;
	int r;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (argc - optind < 2 || argc - optind > 3)
		return cli_usage(cli,
		    "port-forward wants SANDBOX PORT [LOCAL], or ls, or rm "
		    "ID...");
	if ((r = cli_parse_int(
		 cli, "PORT", argv[optind + 1], 1, 65535, &port)) != 0 ||
	    (r = cmd_portfwd_listen(cli,
		 argc - optind == 3 ? argv[optind + 2] : NULL, &listen)) != 0)
		return r;
	run_hold_install();
	r = cli_call(cli, "sandbox.port_forward",
	    json_pack("{s:s, s:i, s:s, s:s}", "sandbox_id", argv[optind],
		"port", (int)port, "listen", listen, "lease", "connection"),
	    &res);
	free(listen);
	if (r != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		printf("Forwarding from %s -> %ld\n",
		    json_string_value(json_object_get(res, "address")), port);
	(void)fflush(stdout);
	r = run_hold(cli, "the forward is closed");
	id = json_string_value(json_object_get(res, "id"));
	params = json_pack("{s:s}", "id", id != NULL ? id : "");
	if (r == 0 && (text = json_dumps(params, JSON_COMPACT)) != NULL) {
		/* Closed before exiting, so it is gone when we are; an
		 * error (already closed) changes nothing. */
		(void)wrennctl_call(cli->h, "port_forwards.close", text, &out);
		free(out);
		free(text);
	}
	json_decref(params);
	json_decref(res);
	return r;
}
