/* SPDX-License-Identifier: MIT */
/*
 * The ownership table (daemon/owner.c) on its own: who may reach which
 * sandbox by role and uid, replacing and removing entries, counting a
 * tool's sandboxes, and a closed connection.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "owner.h"
#include "tap.h"

static void
test_access(void)
{
	struct owner_set *os = owner_set_new();

	ok_nonnull(os, "owner_set_new");
	ok_int(owner_add(os, "sb-tool", 1001, 7, ROLE_TOOL, 0), 0,
	    "add a tool's sandbox");
	ok_int(owner_add(os, "sb-user", 1001, 8, ROLE_USER, 0), 0,
	    "add a user's sandbox");
	ok_int(owner_may_access(os, "sb-tool", ROLE_TOOL, 1001), 1,
	    "the creating tool uid reaches its sandbox");
	ok_int(owner_may_access(os, "sb-tool", ROLE_TOOL, 1002), 0,
	    "another tool uid does not");
	ok_int(owner_may_access(os, "sb-user", ROLE_TOOL, 1001), 0,
	    "a tool does not reach a sandbox its uid made as a user");
	ok_int(owner_may_access(os, "sb-none", ROLE_TOOL, 1001), 0,
	    "a tool does not reach an unrecorded sandbox");
	ok_int(owner_may_access(os, "sb-tool", ROLE_USER, 1002), 1,
	    "a user reaches every sandbox");
	ok_int(owner_may_access(os, "sb-none", ROLE_ADMIN, 0), 1,
	    "an admin reaches an unrecorded sandbox");
	owner_set_free(os);
}

static void
test_table(void)
{
	struct owner_set *os = owner_set_new();
	char id[OWNER_ID_MAX + 2];
	const struct owner *o;
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "sb-%d", i);
		(void)owner_add(os, id, i % 2 ? 1001 : 1002, 9,
		    i < 30 ? ROLE_TOOL : ROLE_USER, 100 + i);
	}
	ok_size(owner_count(os), 40, "40 entries after growing");
	ok_int((int)owner_count_tool(os, 1001), 15, "tool sandboxes of 1001");
	ok_int(owner_add(os, "sb-3", 1002, 10, ROLE_TOOL, 0), 0,
	    "re-adding an id");
	ok_size(owner_count(os), 40, "re-adding replaces");
	o = owner_find(os, "sb-3");
	ok_nonnull(o, "sb-3 found");
	ok_int(o != NULL ? (int)o->uid : -1, 1002, "sb-3 has the new uid");
	ok_int((int)owner_count_tool(os, 1001), 14, "1001 lost sb-3");
	owner_remove(os, "sb-0");
	owner_remove(os, "sb-unknown");
	ok_size(owner_count(os), 39, "one removed, unknown ignored");
	ok_null(owner_find(os, "sb-0"), "sb-0 gone");
	o = owner_at(os, 0);
	ok_str(o != NULL ? o->sandbox_id : "", "sb-1",
	    "creation order after a remove");
	ok_int(o != NULL ? (int)o->created : 0, 101, "created time kept");
	owner_conn_gone(os, 9);
	o = owner_find(os, "sb-1");
	ok_int(o != NULL ? (int)o->conn : -1, 0, "conn cleared when it closes");
	o = owner_find(os, "sb-3");
	ok_int(o != NULL ? (int)o->conn : -1, 10, "other conns kept");
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	ok_int(owner_add(os, id, 1, 1, ROLE_TOOL, 0), -EINVAL,
	    "an id over OWNER_ID_MAX is refused");
	ok_int(owner_add(os, "", 1, 1, ROLE_TOOL, 0), -EINVAL,
	    "an empty id is refused");
	owner_conn_gone(NULL, 9);
	ok_null(owner_find(NULL, "sb-1"), "a NULL table finds nothing");
	owner_set_free(os);
}

/* Creates in flight count towards a tool's live sandboxes. */
static void
test_pending(void)
{
	struct owner_set *os = owner_set_new();

	ok_int(owner_add(os, "sb-1", 1001, 7, ROLE_TOOL, 0), 0, "one sandbox");
	ok_int(owner_reserve(os, 1001), 0, "a create in flight");
	ok_int(owner_reserve(os, 1001), 0, "a second create in flight");
	ok_int(owner_reserve(os, 1002), 0, "another uid's create");
	ok_int((int)owner_live_tool(os, 1001), 3,
	    "live: one recorded and two in flight");
	ok_int((int)owner_count_tool(os, 1001), 1,
	    "owner_count_tool counts only recorded ones");
	owner_release(os, 1001);
	owner_release(os, 1001);
	owner_release(os, 1001);
	ok_int((int)owner_live_tool(os, 1001), 1,
	    "released creates no longer count (an extra release is ignored)");
	ok_int((int)owner_live_tool(os, 1002), 1, "1002's create still counts");
	owner_release(os, 1002);
	ok_int((int)owner_live_tool(os, 1002), 0, "1002 has none left");
	owner_set_free(os);
}

int
main(void)
{
	test_access();
	test_table();
	test_pending();
	return done_testing();
}
