/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl host ...": hosts (compute machines) and their tags, over the
 * hosts.* methods. Plain calls are verbs (verb.c); "host rm" has code: it
 * will not destroy a host's sandboxes (--force) without --yes, and when
 * the host still has sandboxes it lists them with a hint.
 * Called by: the command table in wrennctl.c.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

#define HOST_KEYS                                                              \
	VERB_STRS("id", "type", "status", "team_id", "provider",               \
	    "availability_zone", "address", "last_heartbeat_at")

static const struct verb v_host_create = {
    .method = "hosts.create",
    .args = VERB_STRS("type"),
    .opts = VERB_OPTS({"team", 't', "team_id", VERB_STRING},
	{"provider", 'p', "provider", VERB_STRING},
	{"zone", 'z', "availability_zone", VERB_STRING}),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("registration_token", "host"),
    .quiet = "host.id",
    .note = "wrennctl: the registration token is shown only this once",
};
static const struct verb v_host_list = {
    .method = "hosts.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("id", "type", "status", "team_id", "provider",
	"availability_zone", "address", "last_heartbeat_at"),
    .heads = VERB_STRS("ID", "TYPE", "STATUS", "TEAM", "PROVIDER", "ZONE",
	"ADDRESS", "HEARTBEAT"),
    .quiet = "id",
    .empty = "No hosts.",
};
static const struct verb v_host_get = {
    .method = "hosts.get",
    .args = VERB_STRS("host_id"),
    .show = VERB_SHOW_KV,
    .keys = HOST_KEYS,
};
static const struct verb v_host_rm = {
    .method = "hosts.delete",
    .show = VERB_SHOW_DONE,
    .done = "Deleted host",
};
static const struct verb v_host_preview = {
    .method = "hosts.delete_preview",
    .args = VERB_STRS("host_id"),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("sandbox_ids", "host"),
    .quiet = "sandbox_ids",
};
static const struct verb v_host_token = {
    .method = "hosts.regenerate_token",
    .args = VERB_STRS("host_id"),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("registration_token", "host"),
    .quiet = "registration_token",
};
static const struct verb v_host_tags = {
    .method = "hosts.list_tags",
    .args = VERB_STRS("host_id"),
    .show = VERB_SHOW_LIST,
    .empty = "No tags.",
};
static const struct verb v_host_tag = {
    .method = "hosts.add_tag",
    .args = VERB_STRS("host_id", "tag..."),
    .show = VERB_SHOW_DONE,
    .done = "Added tag",
};
static const struct verb v_host_untag = {
    .method = "hosts.remove_tag",
    .args = VERB_STRS("host_id", "tag..."),
    .show = VERB_SHOW_DONE,
    .done = "Removed tag",
};

/* After has_active_sandboxes: what to do about them. */
static void
cmd_host_hint(struct cli *cli, const char *host)
{
	const char *code = wrennctl_err_data_code(cli->h);

	if (cli->json || code == NULL ||
	    (strcmp(code, "has_active_sandboxes") != 0 &&
		strcmp(code, "host_has_sandboxes") != 0))
		return;
	fprintf(stderr,
	    "wrennctl: hint: 'wrennctl host rm --force --yes %s' destroys "
	    "them with the host\n",
	    host);
}

/* "host rm [--force --yes] HOST": delete a host, its sandboxes on demand. */
static int
cmd_host_rm(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"force", no_argument, NULL, 'f'},
	    {"yes", no_argument, NULL, 'y'},
	    {NULL, 0, NULL, 0},
	};
	json_t *params;
	int c, r, force = 0, yes = 0;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS "fy", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if (c == 'y')
			yes = 1;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	if (force && !yes) {
		fprintf(stderr,
		    "wrennctl: 'host rm --force' destroys every sandbox on "
		    "host %s; add --yes to confirm\n",
		    argv[optind]);
		return CLI_EXIT_USAGE;
	}
	params = json_pack("{s:s}", "host_id", argv[optind]);
	if (params != NULL && force)
		(void)json_object_set_new(params, "force", json_true());
	r = verb_call(cli, &v_host_rm, params, argv[optind]);
	if (r == CLI_EXIT_ERROR)
		cmd_host_hint(cli, argv[optind]);
	return r;
}

const struct cmd cmd_host_verbs[] = {
    VERB_ROW("create", NULL, "[OPTIONS] regular|byoc",
	"create a host and its registration token (-q: the host id)",
	"  -t, --team TEAM      owning team (required for byoc)\n"
	"  -p, --provider NAME  cloud provider label\n"
	"  -z, --zone ZONE      availability zone label\n",
	v_host_create),
    VERB_ROW("list", "ls", "", "list hosts", NULL, v_host_list),
    VERB_ROW("get", "show", "HOST", "show one host", NULL, v_host_get),
    {"rm", "delete", "[--force --yes] HOST",
	"delete a host (--force: and destroy its sandboxes)",
	"  -f, --force          also destroy the host's sandboxes\n"
	"  -y, --yes            confirm --force: this cannot be undone\n",
	cmd_host_rm, NULL, NULL},
    VERB_ROW("preview", NULL, "HOST",
	"what deleting a host would destroy (-q: sandbox ids)", NULL,
	v_host_preview),
    VERB_ROW("token", NULL, "HOST", "new registration token for a pending host",
	NULL, v_host_token),
    VERB_ROW("tags", NULL, "HOST", "list a host's tags", NULL, v_host_tags),
    VERB_ROW(
	"tag", NULL, "HOST TAG...", "add tags to a host", NULL, v_host_tag),
    VERB_ROW("untag", NULL, "HOST TAG...", "remove tags from a host", NULL,
	v_host_untag),
    CMD_END,
};
