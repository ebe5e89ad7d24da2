/* SPDX-License-Identifier: MIT */
/*
 * audit.list: one page is a plain pass-through; with "all": true the
 * daemon walks the before/before_id cursors for the caller, page after
 * page, and stops at max_items (the answer then says truncated and carries
 * the cursors to continue from).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "call.h"
#include "conf.h"
#include "ipc.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

#define AUDIT_MAX_ITEMS_DEFAULT 10000
#define AUDIT_PAGE		200 /* the control plane's largest page */

struct audit_walk {
	struct call *call;	  /* borrowed */
	struct upstream_req *req; /* owned while in flight */
	json_t *query;		  /* owned: params of the next page */
	json_t *items;		  /* owned: collected so far */
	json_int_t max_items;
	json_int_t page_limit;
	unsigned pages;
};

static void audit_next(struct audit_walk *aw);

static void
audit_free(struct audit_walk *aw)
{
	upstream_req_cancel(aw->req);
	json_decref(aw->query);
	json_decref(aw->items);
	free(aw);
}

static void
audit_cancel_cb(struct call *call, void *arg)
{
	audit_free(arg);
}

/* Reply with what we have; cursors let the caller go on. */
static void
audit_finish(struct audit_walk *aw, int truncated, json_t *page)
{
	struct call *call = aw->call;
	json_t *res;

	res = json_pack("{s:O, s:I, s:b}", "items", aw->items, "pages",
	    (json_int_t)aw->pages, "truncated", truncated);
	if (res != NULL && page != NULL) {
		json_t *nb = json_object_get(page, "next_before");
		json_t *nbi = json_object_get(page, "next_before_id");

		if (nb != NULL)
			json_object_set(res, "next_before", nb);
		if (nbi != NULL)
			json_object_set(res, "next_before_id", nbi);
	}
	call_set_cancel(call, NULL, NULL);
	audit_free(aw);
	if (res == NULL)
		call_fail_oom(call);
	else
		call_reply(call, res);
}

static void
audit_page_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct audit_walk *aw = arg;
	struct call *call = aw->call;
	const char *err = NULL;
	json_t *page, *items, *nb, *nbi, *it;
	size_t i, n;

	aw->req = NULL;
	if (!rest_ok(res)) {
		call_set_cancel(call, NULL, NULL);
		audit_free(aw);
		call_fail_upstream(call, res);
		return;
	}
	page = call_upstream_json(res, &err);
	items = json_object_get(page, "items");
	if (!json_is_array(items)) {
		json_decref(page);
		call_set_cancel(call, NULL, NULL);
		audit_free(aw);
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol", NULL,
		    "audit page without an items array");
		return;
	}
	aw->pages++;
	n = json_array_size(items);
	json_array_foreach(items, i, it) {
		if ((json_int_t)json_array_size(aw->items) >= aw->max_items) {
			/* Cursor of the last item we kept. */
			json_t *last = json_array_get(
			    aw->items, json_array_size(aw->items) - 1);
			json_t *cur = json_pack("{s:O?, s:O?}", "next_before",
			    json_object_get(last, "created_at"),
			    "next_before_id", json_object_get(last, "id"));

			audit_finish(aw, 1, cur);
			json_decref(cur);
			json_decref(page);
			return;
		}
		json_array_append(aw->items, it);
	}
	nb = json_object_get(page, "next_before");
	nbi = json_object_get(page, "next_before_id");
	if (n == 0 || (json_int_t)n < aw->page_limit || !json_is_string(nb) ||
	    (json_equal(nb, json_object_get(aw->query, "before")) &&
		json_equal(nbi, json_object_get(aw->query, "before_id")))) {
		audit_finish(aw, 0, NULL);
		json_decref(page);
		return;
	}
	json_object_set(aw->query, "before", nb);
	if (json_is_string(nbi))
		json_object_set(aw->query, "before_id", nbi);
	json_decref(page);
	audit_next(aw);
}

static void
audit_next(struct audit_walk *aw)
{
	struct call *call = aw->call;
	char err[256], *path;

	path = rest_build_path(call_method(call), call_method(call)->path,
	    aw->query, err, sizeof(err));
	if (path == NULL) {
		call_set_cancel(call, NULL, NULL);
		audit_free(aw);
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "%s", err);
		return;
	}
	aw->req = rest_request(call, "GET", path, NULL);
	free(path);
	if (aw->req == NULL ||
	    rest_start(call, aw->req, 0, audit_page_cb, aw) != 0) {
		/* The call has been failed; the walk goes with it. */
		aw->req = NULL;
		audit_free(aw);
	}
}

static void
api_audit_list(struct call *call)
{
	struct audit_walk *aw;
	json_t *v;

	if (!json_is_true(json_object_get(call_params(call), "all"))) {
		rest_passthrough(call);
		return;
	}
	if ((aw = calloc(1, sizeof(*aw))) == NULL)
		goto oom;
	aw->call = call;
	aw->query = json_deep_copy(call_params(call));
	aw->items = json_array();
	if (aw->query == NULL || aw->items == NULL) {
		audit_free(aw);
		goto oom;
	}
	v = json_object_get(call_params(call), "max_items");
	aw->max_items =
	    v != NULL ? json_integer_value(v) : AUDIT_MAX_ITEMS_DEFAULT;
	v = json_object_get(call_params(call), "limit");
	if (v == NULL) {
		json_object_set_new(
		    aw->query, "limit", json_integer(AUDIT_PAGE));
		aw->page_limit = AUDIT_PAGE;
	} else {
		aw->page_limit = json_integer_value(v);
		if (aw->page_limit < 1)
			aw->page_limit = 50;
		if (aw->page_limit > AUDIT_PAGE)
			aw->page_limit = AUDIT_PAGE;
	}
	call_set_cancel(call, audit_cancel_cb, aw);
	audit_next(aw);
	return;
oom:
	call_fail_oom(call);
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_audit[] = {
    {.name = "before",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "RFC3339 cursor (next_before of the previous page)"},
    {.name = "before_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "tie-break cursor (next_before_id)"},
    METHODS_P_I32(
	"limit", METHODS_IN_QUERY, "page size (default 50, at most 200)"),
    {.name = "resource_type",
	.type = METHODS_T_STRLIST,
	.in = METHODS_IN_QUERY,
	.doc = "filter; a string or a list (OR-matched)"},
    {.name = "action",
	.type = METHODS_T_STRLIST,
	.in = METHODS_IN_QUERY,
	.doc = "filter; a string or a list (OR-matched)"},
    {.name = "all",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_LOCAL,
	.doc = "walk every page for the caller"},
    {.name = "max_items",
	.type = METHODS_T_INT,
	.in = METHODS_IN_LOCAL,
	.min = 1,
	.max = 1000000,
	.doc = "with all: stop after this many items (default 10000)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_audit_rows[] = {
    {
	.name = "audit.list",
	.summary = "audit log page (all: every page, bounded)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/audit-logs",
	.params = p_audit,
	.handler = api_audit_list,
    },
    {
	.name = "admin.list_audit_logs",
	.summary = "the platform team's audit log (all: every page, bounded)",
	.cred = ROLE_CRED_ADMIN,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/admin/audit-logs",
	.flags = METHODS_NEEDS_CAPSULES,
	.params = p_audit,
	.handler = api_audit_list,
    },
};

const struct api_table api_audit_methods = API_TABLE(api_audit_rows);
