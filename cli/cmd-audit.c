/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl audit list": the team's audit log (audit.list). One page by
 * default, every page with --all (wrennd walks the cursors, bounded by
 * --max); people get a table and, when more is left, the options that
 * continue from where it stopped.
 * Called by: the command table in wrennctl.c.
 */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "wrennctl.h"

/* The table, then how to get more when the answer says there is more. */
static void
cmd_audit_print(const struct verb *v, const json_t *res)
{
	const json_t *items = json_object_get(res, "items");
	const char *before, *before_id;

	if (json_array_size(items) == 0)
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
	else if (json_object_get(res, "truncated") == NULL)
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
	"the team's audit log, newest first",
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
