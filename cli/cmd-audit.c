/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl audit list": the team's audit log (audit.list). One page by
 * default, every page with --all (wrennd walks the cursors, bounded by
 * --max); people get a table (-q: the entry ids) and, only when there is
 * more (checked with one entry asked for past a full page), the options
 * that continue from where it stopped.
 * Called by: the command table in wrennctl.c.
 */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "wrennctl.h"

#define CMD_AUDIT_PAGE_DEFAULT 50  /* entries per page the server sends */
#define CMD_AUDIT_PAGE_MAX     200 /* ... and its silent clamp */

/*
 * Whether the log has an entry past the page that the call with params
 * answered with res. A short page is the last one; after a full page one
 * entry is asked for beyond the cursors (a full page can be the last).
 */
static int
cmd_audit_has_next(struct cli *cli, const json_t *params, const json_t *res)
{
	const json_t *items = json_object_get(res, "items");
	json_int_t limit = CMD_AUDIT_PAGE_DEFAULT;
	json_t *probe, *more;
	char *text, *out = NULL;
	int r, next;

	if (json_is_integer(json_object_get(params, "limit")))
		limit = json_integer_value(json_object_get(params, "limit"));
	if (limit > CMD_AUDIT_PAGE_MAX)
		limit = CMD_AUDIT_PAGE_MAX;
	if ((json_int_t)json_array_size(items) < limit)
		return 0;
	if ((probe = json_deep_copy(params)) == NULL)
		return 0;
	(void)json_object_set_new(probe, "limit", json_integer(1));
	(void)json_object_set(
	    probe, "before", json_object_get(res, "next_before"));
	(void)json_object_set(
	    probe, "before_id", json_object_get(res, "next_before_id"));
	text = json_dumps(probe, JSON_COMPACT);
	json_decref(probe);
	if (text == NULL)
		return 0;
	r = wrennctl_call(cli->h, "audit.list", text, &out);
	free(text);
	if (r < 0)
		return 0; /* no hint we cannot stand behind */
	more = json_loads(out, 0, NULL);
	free(out);
	next = json_array_size(json_object_get(more, "items")) > 0;
	json_decref(more);
	return next;
}

/* The table (-q: the entry ids), then how to go on when there is more. */
static void
cmd_audit_print(struct cli *cli, const struct verb *v, const json_t *params,
    const json_t *res)
{
	const json_t *items = json_object_get(res, "items"), *e;
	const char *before, *before_id;
	size_t i;

	if (cli->quiet) {
		json_array_foreach(items, i, e) {
			if (json_is_string(json_object_get(e, "id")))
				printf("%s\n",
				    json_string_value(
					json_object_get(e, "id")));
		}
	} else if (json_array_size(items) == 0)
		printf("No audit log entries.\n");
	else
		output_table_json(items, 7,
		    VERB_STRS("TIME", "ACTOR", "ACTION", "RESOURCE", "ID",
			"STATUS", "SCOPE"),
		    VERB_STRS("created_at", "actor_name", "action",
			"resource_type", "resource_id", "status", "scope"));
	before = json_string_value(json_object_get(res, "next_before"));
	before_id = json_string_value(json_object_get(res, "next_before_id"));
	if (before == NULL || before_id == NULL || json_array_size(items) == 0)
		return;
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(stderr,
		    "wrennctl: stopped at --max; continue with --before %s "
		    "--before-id %s\n",
		    before, before_id);
	else if (json_object_get(res, "truncated") == NULL && !cli->quiet &&
	    cmd_audit_has_next(cli, params, res))
		fprintf(stderr,
		    "wrennctl: next page: --before %s --before-id %s\n", before,
		    before_id);
}

static const struct verb v_audit_list = {
    .method = "audit.list",
    .opts = VERB_OPTS({"all", 'a', "all", VERB_FLAG},
	{"limit", 'n', "limit", VERB_INT}, {"max", 0, "max_items", VERB_INT},
	{"type", 't', "resource_type", VERB_CSV},
	{"action", 0, "action", VERB_CSV}, {"before", 0, "before", VERB_STRING},
	{"before-id", 0, "before_id", VERB_STRING}),
    .show = VERB_SHOW_CUSTOM,
    .print = cmd_audit_print,
};

const struct cmd cmd_audit_verbs[] = {
    VERB_ROW("list", "ls",
	"[--all] [--limit N] [--max N] [--type T] [--action A]",
	"the team's audit log, newest first (-q: entry ids)",
	"  -a, --all            every page (wrennd follows the cursors)\n"
	"  -n, --limit N        entries per page (default 50, at most 200)\n"
	"      --max N          with --all: stop after N entries (default "
	"10000)\n"
	"  -t, --type TYPE      only this resource type (repeatable, or "
	"a,b)\n"
	"      --action ACTION  only this action (repeatable, or a,b)\n"
	"      --before TIME    continue before this time (RFC 3339)\n"
	"      --before-id ID   ... and this entry (from the last page)\n",
	v_audit_list),
    CMD_END,
};
