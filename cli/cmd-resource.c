/* SPDX-License-Identifier: MIT */
/*
 * wrennctl namespaces that are plain method calls: snapshot, key, team,
 * user, channel, build, admin and stream. Each verb is data (a struct verb
 * run by verb.c); only "channel update" has code, because the method wants
 * every field and people want to change one.
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

/* ---- snapshot ------------------------------------------------------------ */

#define TEMPLATE_KEYS                                                          \
	VERB_STRS(                                                             \
	    "name", "type", "vcpus", "memory_mb", "size_bytes", "created_at")

static const struct verb v_snapshot_create = {
    .method = "snapshots.create",
    .args = VERB_STRS("sandbox_id"),
    .opts = VERB_OPTS({"name", 'n', "name", VERB_STRING},
	{"overwrite", 0, "overwrite", VERB_FLAG}),
    .show = VERB_SHOW_KV,
    .keys = TEMPLATE_KEYS,
    .quiet = "name",
};
static const struct verb v_snapshot_list = {
    .method = "snapshots.list",
    .opts = VERB_OPTS({"type", 't', "type", VERB_STRING}),
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("name", "type", "vcpus", "memory_mb", "size_bytes",
	"platform", "created_at"),
    .heads = VERB_STRS("NAME", "TYPE", "VCPUS", "MEMORY_MB", "SIZE_BYTES",
	"PLATFORM", "CREATED"),
    .quiet = "name",
    .empty = "No snapshots.",
};
static const struct verb v_snapshot_rm = {
    .method = "snapshots.delete",
    .args = VERB_STRS("name..."),
    .show = VERB_SHOW_DONE,
    .done = "Deleted snapshot",
};

const struct cmd cmd_snapshot_verbs[] = {
    VERB_ROW("create", NULL, "[--name NAME] [--overwrite] SANDBOX",
	"snapshot a sandbox into a template (-q: the name)",
	"  -n, --name NAME      template name (default template-<8 hex>)\n"
	"      --overwrite      replace a snapshot of the same name\n",
	v_snapshot_create),
    VERB_ROW("list", "ls", "[--type base|snapshot]",
	"list templates and snapshots (-q: names only)",
	"  -t, --type TYPE      only base templates or only snapshots\n",
	v_snapshot_list),
    VERB_ROW("rm", "delete", "NAME...", "delete team snapshots", NULL,
	v_snapshot_rm),
    CMD_END,
};

/* ---- key ----------------------------------------------------------------- */

static const struct verb v_key_create = {
    .method = "api_keys.create",
    .opts = VERB_OPTS({"name", 'n', "name", VERB_STRING}),
    .show = VERB_SHOW_KV,
    .keys =
	VERB_STRS("key", "id", "name", "key_prefix", "team_id", "created_at"),
    .quiet = "key",
    .note = "wrennctl: the key is shown only this once; store it now",
};
static const struct verb v_key_list = {
    .method = "api_keys.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS(
	"id", "name", "key_prefix", "creator_email", "created_at", "last_used"),
    .heads =
	VERB_STRS("ID", "NAME", "PREFIX", "CREATOR", "CREATED", "LAST_USED"),
    .quiet = "id",
    .empty = "No API keys.",
};
static const struct verb v_key_rm = {
    .method = "api_keys.delete",
    .args = VERB_STRS("key_id..."),
    .show = VERB_SHOW_DONE,
    .done = "Revoked API key",
};

const struct cmd cmd_key_verbs[] = {
    VERB_ROW("create", NULL, "[--name NAME]",
	"create an API key, shown once (-q: the key only)",
	"  -n, --name NAME      label (default \"Unnamed API Key\")\n",
	v_key_create),
    VERB_ROW("list", "ls", "", "list the team's API keys", NULL, v_key_list),
    VERB_ROW("rm", "delete", "KEY_ID...", "revoke API keys", NULL, v_key_rm),
    CMD_END,
};

/* ---- team ---------------------------------------------------------------- */

#define MEMBER_KEYS  VERB_STRS("user_id", "name", "email", "role", "joined_at")
#define MEMBER_HEADS VERB_STRS("USER_ID", "NAME", "EMAIL", "ROLE", "JOINED")

static const struct verb v_team_list = {
    .method = "teams.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("id", "name", "slug", "role", "is_byoc", "created_at"),
    .heads = VERB_STRS("ID", "NAME", "SLUG", "ROLE", "BYOC", "CREATED"),
    .quiet = "id",
    .empty = "No teams.",
};
static const struct verb v_team_create = {
    .method = "teams.create",
    .args = VERB_STRS("name"),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("id", "name", "slug", "role"),
    .quiet = "id",
};
static const struct verb v_team_get = {
    .method = "teams.get",
    .args = VERB_STRS("team_id"),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("team"),
    .sub = "members",
    .sub_keys = MEMBER_KEYS,
    .sub_heads = MEMBER_HEADS,
};
static const struct verb v_team_rename = {
    .method = "teams.rename",
    .args = VERB_STRS("team_id", "name"),
    .show = VERB_SHOW_DONE,
    .done = "Renamed the team to",
};
static const struct verb v_team_rm = {
    .method = "teams.delete",
    .args = VERB_STRS("team_id"),
    .show = VERB_SHOW_DONE,
    .done = "Deleted team",
    .flags = VERB_CONFIRM,
};
static const struct verb v_team_members = {
    .method = "teams.list_members",
    .args = VERB_STRS("team_id"),
    .show = VERB_SHOW_TABLE,
    .keys = MEMBER_KEYS,
    .heads = MEMBER_HEADS,
    .quiet = "user_id",
    .empty = "No members.",
};
static const struct verb v_team_add = {
    .method = "teams.add_member",
    .args = VERB_STRS("team_id", "email"),
    .show = VERB_SHOW_KV,
    .keys = MEMBER_KEYS,
    .quiet = "user_id",
};
static const struct verb v_team_role = {
    .method = "teams.update_member_role",
    .args = VERB_STRS("team_id", "user_id", "role"),
    .show = VERB_SHOW_DONE,
    .done = "Changed the member's role to",
};
static const struct verb v_team_remove = {
    .method = "teams.remove_member",
    .args = VERB_STRS("team_id", "user_id"),
    .show = VERB_SHOW_DONE,
    .done = "Removed member",
};
static const struct verb v_team_leave = {
    .method = "teams.leave",
    .args = VERB_STRS("team_id"),
    .show = VERB_SHOW_DONE,
    .done = "Left team",
};

const struct cmd cmd_team_verbs[] = {
    VERB_ROW("list", "ls", "", "teams you belong to", NULL, v_team_list),
    VERB_ROW("create", NULL, "NAME", "create a team (you become its owner)",
	NULL, v_team_create),
    VERB_ROW("get", "show", "TEAM", "a team and its members", NULL, v_team_get),
    VERB_ROW("rename", NULL, "TEAM NAME", "rename a team", NULL, v_team_rename),
    VERB_ROW("rm", "delete", "--yes TEAM",
	"delete a team and destroy all its sandboxes",
	"  -y, --yes            confirm: this cannot be undone\n", v_team_rm),
    VERB_ROW(
	"members", NULL, "TEAM", "list a team's members", NULL, v_team_members),
    VERB_ROW("add-member", NULL, "TEAM EMAIL", "add an existing user", NULL,
	v_team_add),
    VERB_ROW("set-role", NULL, "TEAM USER_ID admin|member",
	"change a member's role", NULL, v_team_role),
    VERB_ROW("remove-member", NULL, "TEAM USER_ID", "remove a member", NULL,
	v_team_remove),
    VERB_ROW("leave", NULL, "TEAM", "leave a team", NULL, v_team_leave),
    CMD_END,
};

/* ---- user ---------------------------------------------------------------- */

static const struct verb v_user_search = {
    .method = "users.search",
    .args = VERB_STRS("email"),
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("user_id", "email"),
    .heads = VERB_STRS("USER_ID", "EMAIL"),
    .quiet = "user_id",
    .empty = "No users found.",
};

const struct cmd cmd_user_verbs[] = {
    VERB_ROW("search", NULL, "EMAIL_PREFIX",
	"find users by email prefix (at least 3 characters with @)", NULL,
	v_user_search),
    CMD_END,
};

/* ---- channel ------------------------------------------------------------- */

#define CHANNEL_KEYS VERB_STRS("id", "name", "provider", "events", "created_at")
#define CHANNEL_OPTS_HELP                                                      \
	"  -p, --provider NAME  discord, slack, teams, googlechat, "           \
	"telegram,\n"                                                          \
	"                       matrix or webhook\n"                           \
	"  -c, --config K=V     a provider setting (repeatable), e.g.\n"       \
	"                       webhook_url=https://...\n"                     \
	"      --config-json J  all provider settings as one JSON object\n"

static const struct verb v_channel_create = {
    .method = "channels.create",
    .args = VERB_STRS("name"),
    .opts = VERB_OPTS({"provider", 'p', "provider", VERB_STRING},
	{"config", 'c', "config", VERB_MAP},
	{"config-json", 0, "config", VERB_JSON},
	{"event", 'e', "events", VERB_CSV}),
    .show = VERB_SHOW_KV,
    .keys = CHANNEL_KEYS,
    .quiet = "id",
};
static const struct verb v_channel_list = {
    .method = "channels.list",
    .show = VERB_SHOW_TABLE,
    .keys = CHANNEL_KEYS,
    .heads = VERB_STRS("ID", "NAME", "PROVIDER", "EVENTS", "CREATED"),
    .quiet = "id",
    .empty = "No channels.",
};
static const struct verb v_channel_get = {
    .method = "channels.get",
    .args = VERB_STRS("channel_id"),
    .show = VERB_SHOW_KV,
    .keys = CHANNEL_KEYS,
};
static const struct verb v_channel_update = {
    .method = "channels.update",
    .show = VERB_SHOW_KV,
    .keys = CHANNEL_KEYS,
    .quiet = "id",
};
static const struct verb v_channel_rm = {
    .method = "channels.delete",
    .args = VERB_STRS("channel_id..."),
    .show = VERB_SHOW_DONE,
    .done = "Deleted channel",
};
static const struct verb v_channel_rotate = {
    .method = "channels.rotate_config",
    .args = VERB_STRS("channel_id"),
    .opts = VERB_OPTS({"config", 'c', "config", VERB_MAP},
	{"config-json", 0, "config", VERB_JSON}),
    .show = VERB_SHOW_KV,
    .keys = CHANNEL_KEYS,
    .quiet = "id",
};
static const struct verb v_channel_test = {
    .method = "channels.test",
    .opts = VERB_OPTS({"provider", 'p', "provider", VERB_STRING},
	{"config", 'c', "config", VERB_MAP},
	{"config-json", 0, "config", VERB_JSON}),
    .show = VERB_SHOW_KV,
};

/* Fill what "channel update" was not told from the channel as it is. */
static int
cmd_channel_fill(struct cli *cli, const char *id, json_t *params)
{
	json_t *cur = NULL;
	int r;

	r = cli_call(
	    cli, "channels.get", json_pack("{s:s}", "channel_id", id), &cur);
	if (r != 0)
		return r;
	if (json_object_get(params, "name") == NULL)
		(void)json_object_set(
		    params, "name", json_object_get(cur, "name"));
	if (json_object_get(params, "events") == NULL)
		(void)json_object_set(
		    params, "events", json_object_get(cur, "events"));
	json_decref(cur);
	return 0;
}

/* Append the comma-separated event types in arg to params.events. */
static void
cmd_channel_events(json_t *params, const char *arg)
{
	json_t *events = json_object_get(params, "events");
	const char *p = arg;
	size_t n;

	if (events == NULL) {
		events = json_array();
		(void)json_object_set_new(params, "events", events);
	}
	for (; *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n > 0)
			(void)json_array_append_new(events, json_stringn(p, n));
	}
}

/* "channel update ID [--name N] [--event E...]": change what is given. */
static int
cmd_channel_update(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"name", required_argument, NULL, 'n'},
	    {"event", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	json_t *params;
	int c, r;

	if ((params = json_object()) == NULL)
		return CLI_EXIT_ERROR;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "n:e:", opts,
		    NULL)) != -1) {
		if (c == 'n')
			(void)json_object_set_new(
			    params, "name", json_string(optarg));
		else if (c == 'e')
			cmd_channel_events(params, optarg);
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE) {
			json_decref(params);
			return r;
		}
	}
	if (argc - optind != 1 || json_object_size(params) == 0) {
		json_decref(params);
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	}
	(void)json_object_set_new(
	    params, "channel_id", json_string(argv[optind]));
	if ((r = cmd_channel_fill(cli, argv[optind], params)) != 0) {
		json_decref(params);
		return r;
	}
	return verb_call(cli, &v_channel_update, params, argv[optind]);
}

const struct cmd cmd_channel_verbs[] = {
    VERB_ROW("create", NULL, "--provider P --config K=V... --event E... NAME",
	"create a notification channel (-q: the id)",
	CHANNEL_OPTS_HELP
	"  -e, --event TYPE     event type to deliver (repeatable, or a,b,c)\n",
	v_channel_create),
    VERB_ROW(
	"list", "ls", "", "list notification channels", NULL, v_channel_list),
    VERB_ROW("get", "show", "CHANNEL", "show a channel", NULL, v_channel_get),
    {"update", NULL, "[--name NAME] [--event E...] CHANNEL",
	"rename a channel or replace its events",
	"  -n, --name NAME      new name\n"
	"  -e, --event TYPE     event type (repeatable, or a,b,c; replaces "
	"the list)\n",
	cmd_channel_update, NULL, NULL},
    VERB_ROW(
	"rm", "delete", "CHANNEL...", "delete channels", NULL, v_channel_rm),
    VERB_ROW("rotate", NULL, "--config K=V... CHANNEL",
	"replace a channel's provider settings",
	"  -c, --config K=V     a provider setting (repeatable)\n"
	"      --config-json J  all settings as one JSON object\n",
	v_channel_rotate),
    VERB_ROW("test", NULL, "--provider P --config K=V...",
	"deliver a test event without saving a channel", CHANNEL_OPTS_HELP,
	v_channel_test),
    CMD_END,
};

/* ---- build --------------------------------------------------------------- */

static const struct verb v_build_create = {
    .method = "builds.create",
    .args = VERB_STRS("name"),
    .opts = VERB_OPTS({"recipe", 'r', "recipe", VERB_LIST},
	{"recipe-file", 'f', "recipe", VERB_LINES},
	{"base", 'b', "base_template", VERB_STRING},
	{"healthcheck", 0, "healthcheck", VERB_STRING},
	{"vcpus", 'c', "vcpus", VERB_INT},
	{"memory", 'm', "memory_mb", VERB_INT},
	{"skip-pre-post", 0, "skip_pre_post", VERB_FLAG}),
    .fixed = "{\"recipe\":[]}",
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("id", "name", "status", "base_template"),
    .quiet = "id",
};
static const struct verb v_build_list = {
    .method = "builds.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("id", "name", "status", "current_step", "total_steps",
	"base_template", "created_at"),
    .heads =
	VERB_STRS("ID", "NAME", "STATUS", "STEP", "STEPS", "BASE", "CREATED"),
    .quiet = "id",
    .empty = "No builds.",
};
static const struct verb v_build_get = {
    .method = "builds.get",
    .args = VERB_STRS("build_id"),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS(
	"id", "name", "status", "current_step", "total_steps", "error"),
    .sub = "logs",
    .sub_keys = VERB_STRS("step", "phase", "exit", "elapsed_ms", "cmd"),
    .sub_heads = VERB_STRS("STEP", "PHASE", "EXIT", "MS", "CMD"),
};
static const struct verb v_build_cancel = {
    .method = "builds.cancel",
    .args = VERB_STRS("build_id..."),
    .show = VERB_SHOW_DONE,
    .done = "Cancelled build",
};

const struct cmd cmd_build_verbs[] = {
    VERB_ROW("create", NULL, "[OPTIONS] --recipe LINE... NAME",
	"start a template build (platform admin; -q: the id)",
	"  -r, --recipe LINE    a RUN/START/ENV/WORKDIR line (repeatable)\n"
	"  -f, --recipe-file F  recipe lines from a file (- for stdin; # "
	"comments)\n"
	"  -b, --base NAME      template to start from (default minimal)\n"
	"      --healthcheck C  command that must succeed\n"
	"  -c, --vcpus N        virtual CPUs\n"
	"  -m, --memory MB      memory in MiB\n"
	"      --skip-pre-post  skip the pre/post build steps\n",
	v_build_create),
    VERB_ROW("list", "ls", "", "list template builds", NULL, v_build_list),
    VERB_ROW("get", "show", "BUILD", "a build with its step logs", NULL,
	v_build_get),
    VERB_ROW("cancel", NULL, "BUILD...", "cancel pending or running builds",
	NULL, v_build_cancel),
    CMD_END,
};

/* ---- admin --------------------------------------------------------------- */

static const struct verb v_admin_byoc = {
    .method = "admin.set_team_byoc",
    .args = VERB_STRS("team_id"),
    .fixed = "{\"enabled\":true}",
    .show = VERB_SHOW_DONE,
    .done = "Enabled bring-your-own-compute for team",
};
static const struct verb v_admin_templates = {
    .method = "admin.list_templates",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("name", "type", "team_id", "vcpus", "memory_mb",
	"size_bytes", "created_at"),
    .heads = VERB_STRS(
	"NAME", "TYPE", "TEAM", "VCPUS", "MEMORY_MB", "SIZE_BYTES", "CREATED"),
    .quiet = "name",
    .empty = "No templates.",
};
static const struct verb v_admin_rm_template = {
    .method = "admin.delete_template",
    .args = VERB_STRS("name"),
    .show = VERB_SHOW_DONE,
    .done = "Deleted platform template",
    .flags = VERB_CONFIRM,
};

const struct cmd cmd_admin_verbs[] = {
    VERB_ROW("byoc", NULL, "TEAM",
	"enable bring-your-own-compute for a team (cannot be undone)", NULL,
	v_admin_byoc),
    VERB_ROW("templates", NULL, "", "templates across all teams", NULL,
	v_admin_templates),
    VERB_ROW("rm-template", NULL, "--yes NAME", "delete a platform template",
	"  -y, --yes            confirm: this cannot be undone\n",
	v_admin_rm_template),
    CMD_END,
};

/* ---- stream -------------------------------------------------------------- */

static const struct verb v_stream_list = {
    .method = "streams.list",
    .show = VERB_SHOW_TABLE,
    .keys = VERB_STRS("stream_id", "sandbox_id", "state", "detached", "pid",
	"exit_code", "next_seq", "lost_events", "followers", "cmd"),
    .heads = VERB_STRS("STREAM", "SANDBOX", "STATE", "DETACHED", "PID", "EXIT",
	"EVENTS", "LOST", "FOLLOWERS", "CMD"),
    .quiet = "stream_id",
    .empty = "No streams.",
};
static const struct verb v_stream_stop = {
    .method = "streams.stop",
    .args = VERB_STRS("stream_id..."),
    .show = VERB_SHOW_DONE,
    .done = "Stopped stream",
};

const struct cmd cmd_stream_verbs[] = {
    VERB_ROW(
	"list", "ls", "", "exec streams held by wrennd", NULL, v_stream_list),
    VERB_ROW("stop", "rm", "STREAM...",
	"stop streams (the commands are killed) or discard ended ones", NULL,
	v_stream_stop),
    CMD_END,
};
