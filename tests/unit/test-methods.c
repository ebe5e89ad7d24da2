/* SPDX-License-Identifier: MIT */
/*
 * The method checker (daemon/methods.c), path building (rest_build_path in
 * daemon/rest.c) and the integrity of every handler file's method rows:
 * no daemon, no network. Test rows of its own exercise each parameter
 * type, bound and flag alone; the real rows are checked for what every
 * row must have (issue 11, item 3).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "methods.h"
#include "rest.h"
#include "role.h"
#include "tap.h"

/* One parameter of each kind the checker knows. */
static const struct methods_param p_all[] = {
    {.name = "s",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "string"},
    {.name = "ne",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_NONEMPTY,
	.doc = "non-empty string"},
    {.name = "i",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.doc = "unbounded integer"},
    {.name = "b",
	.type = METHODS_T_INT,
	.in = METHODS_IN_QUERY,
	.min = -5,
	.max = 10,
	.doc = "bounded integer"},
    {.name = "t",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_BODY,
	.doc = "boolean"},
    {.name = "ss",
	.type = METHODS_T_STRINGS,
	.in = METHODS_IN_BODY,
	.doc = "strings"},
    {.name = "o",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_BODY,
	.doc = "object"},
    {.name = "a",
	.type = METHODS_T_ARRAY,
	.in = METHODS_IN_BODY,
	.doc = "array"},
    {.name = "sl",
	.type = METHODS_T_STRLIST,
	.in = METHODS_IN_QUERY,
	.doc = "strlist"},
    {.name = "fd", .type = METHODS_T_FD, .in = METHODS_IN_LOCAL, .doc = "fd"},
    {.name = "any",
	.type = METHODS_T_ANY,
	.in = METHODS_IN_BODY,
	.doc = "anything"},
    {.name = "id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED,
	.doc = "path segment"},
    METHODS_PARAMS_END,
};

static const struct methods_row m_all = {
    .name = "test.all",
    .summary = "every parameter type",
    .cred = ROLE_CRED_ANY,
    .role = ROLE_USER,
    .verb = "POST",
    .path = "/v1/things/{id}",
    .params = p_all,
};

/*
 * Check params (JSON text, "id" added when absent) against m_all: the
 * return value and the message, one assertion each.
 */
static void
check(const char *what, const char *text, int want_rc, const char *want_err)
{
	char err[256] = "";
	json_t *params;
	int rc;

	if ((params = json_loads(text, JSON_ALLOW_NUL, NULL)) == NULL) {
		ok(0, "%s: test input parses as JSON: %s", what, text);
		return;
	}
	if (json_object_get(params, "id") == NULL)
		json_object_set_new(params, "id", json_string("x1"));
	rc = methods_check_params(&m_all, params, err, sizeof(err));
	ok(rc == want_rc, "%s: returns %d (got %d)", what, want_rc, rc);
	if (want_err != NULL)
		ok(strcmp(err, want_err) == 0, "%s: says \"%s\" (got \"%s\")",
		    what, want_err, err);
	json_decref(params);
}

static void
test_check_unknown(void)
{
	check("unknown name", "{\"nope\": 1}", -EINVAL,
	    "unknown parameter 'nope' for test.all");
	check("known names only", "{\"s\": \"v\", \"i\": 3}", 0, NULL);
	check("no params but the required one", "{}", 0, NULL);
}

static void
test_check_types(void)
{
	check("string ok", "{\"s\": \"\"}", 0, NULL);
	check("string wrong", "{\"s\": 1}", -EINVAL,
	    "parameter 's' must be a string");
	check("integer ok", "{\"i\": -7}", 0, NULL);
	check("integer wrong (real)", "{\"i\": 1.5}", -EINVAL,
	    "parameter 'i' must be an integer");
	check("integer wrong (string)", "{\"i\": \"1\"}", -EINVAL,
	    "parameter 'i' must be an integer");
	check("boolean ok", "{\"t\": false}", 0, NULL);
	check("boolean wrong", "{\"t\": 0}", -EINVAL,
	    "parameter 't' must be a boolean");
	check("strings ok", "{\"ss\": [\"a\", \"b\"]}", 0, NULL);
	check("strings empty ok", "{\"ss\": []}", 0, NULL);
	check("strings with a number", "{\"ss\": [\"a\", 2]}", -EINVAL,
	    "parameter 'ss' must be a string[]");
	check("strings as a string", "{\"ss\": \"a\"}", -EINVAL,
	    "parameter 'ss' must be a string[]");
	check("object ok", "{\"o\": {\"k\": 1}}", 0, NULL);
	check("object wrong", "{\"o\": []}", -EINVAL,
	    "parameter 'o' must be a object");
	check("array ok", "{\"a\": [1, \"x\", null]}", 0, NULL);
	check("array wrong", "{\"a\": {}}", -EINVAL,
	    "parameter 'a' must be a array");
	check("any takes null", "{\"any\": null}", 0, NULL);
	check("any takes an object", "{\"any\": {\"k\": [1]}}", 0, NULL);
}

static void
test_check_strlist(void)
{
	check("strlist as a string", "{\"sl\": \"a\"}", 0, NULL);
	check("strlist as a list", "{\"sl\": [\"a\", \"b\"]}", 0, NULL);
	check("strlist list with a number", "{\"sl\": [\"a\", 1]}", -EINVAL,
	    "parameter 'sl' must be a string|string[]");
	check("strlist as a number", "{\"sl\": 1}", -EINVAL,
	    "parameter 'sl' must be a string|string[]");
	check("strlist as an object", "{\"sl\": {}}", -EINVAL,
	    "parameter 'sl' must be a string|string[]");
}

static void
test_check_fd(void)
{
	check("fd ok", "{\"fd\": {\"$fd\": 0}}", 0, NULL);
	check("fd as a number", "{\"fd\": 0}", -EINVAL,
	    "parameter 'fd' must be a fd");
	check("fd index as a string", "{\"fd\": {\"$fd\": \"0\"}}", -EINVAL,
	    "parameter 'fd' must be a fd");
	check("fd with another member", "{\"fd\": {\"$fd\": 0, \"x\": 1}}",
	    -EINVAL, "parameter 'fd' must be a fd");
	check("fd without $fd", "{\"fd\": {\"fd\": 0}}", -EINVAL,
	    "parameter 'fd' must be a fd");
}

static void
test_check_bounds(void)
{
	check("bounded at min", "{\"b\": -5}", 0, NULL);
	check("bounded at max", "{\"b\": 10}", 0, NULL);
	check("bounded below min", "{\"b\": -6}", -EINVAL,
	    "parameter 'b' must be between -5 and 10");
	check("bounded above max", "{\"b\": 11}", -EINVAL,
	    "parameter 'b' must be between -5 and 10");
	check(
	    "min == max means unbounded", "{\"i\": 9007199254740991}", 0, NULL);
}

static void
test_check_flags(void)
{
	check("required given null", "{\"id\": null}", -EINVAL,
	    "parameter 'id' must be a string");
	check("non-empty given empty", "{\"ne\": \"\"}", -EINVAL,
	    "parameter 'ne' must not be empty");
	check("non-empty given one byte", "{\"ne\": \"x\"}", 0, NULL);
	check("empty allowed without METHODS_F_NONEMPTY", "{\"s\": \"\"}", 0,
	    NULL);
	check("string with NUL", "{\"s\": \"a\\u0000b\"}", -EINVAL,
	    "parameter 's' must not contain NUL");
}

/* A required parameter that is absent (the id is not added here). */
static void
test_check_required(void)
{
	char err[256] = "";
	json_t *params = json_object();
	int rc;

	rc = methods_check_params(&m_all, params, err, sizeof(err));
	ok(rc == -EINVAL, "required absent: returns %d (got %d)", -EINVAL, rc);
	ok(strcmp(err, "missing required parameter 'id'") == 0,
	    "required absent: says \"missing required parameter 'id'\" "
	    "(got \"%s\")",
	    err);
	json_decref(params);
}

static void
test_check_segments(void)
{
	check("path segment \".\"", "{\"id\": \".\"}", -EINVAL,
	    "parameter 'id' is not a valid identifier");
	check("path segment \"..\"", "{\"id\": \"..\"}", -EINVAL,
	    "parameter 'id' is not a valid identifier");
	check("path segment \"...\"", "{\"id\": \"...\"}", 0, NULL);
	check("path segment \"a/b\" (escaped later)", "{\"id\": \"a/b\"}", 0,
	    NULL);
	check("body string \"..\" is no segment", "{\"s\": \"..\"}", 0, NULL);

	ok(methods_segment_ok("", 0) == 0, "segment \"\": refused (got %d)",
	    methods_segment_ok("", 0));
	ok(methods_segment_ok(".", 1) == 0, "segment \".\": refused (got %d)",
	    methods_segment_ok(".", 1));
	ok(methods_segment_ok("..", 2) == 0, "segment \"..\": refused (got %d)",
	    methods_segment_ok("..", 2));
	ok(methods_segment_ok("...", 3) == 1,
	    "segment \"...\": allowed (got %d)", methods_segment_ok("...", 3));
	ok(methods_segment_ok(".a", 2) == 1, "segment \".a\": allowed (got %d)",
	    methods_segment_ok(".a", 2));
	ok(methods_segment_ok("a", 1) == 1, "segment \"a\": allowed (got %d)",
	    methods_segment_ok("a", 1));
}

/*
 * rest_build_path(m, tmpl, params): the path it builds (want_err NULL) or
 * NULL and the message, one assertion each.
 */
static void
build(const char *what, const struct methods_row *m, const char *tmpl,
    const char *text, const char *want, const char *want_err)
{
	char err[256] = "", *path;
	const char *got;
	json_t *params;

	if ((params = json_loads(text, JSON_ALLOW_NUL, NULL)) == NULL) {
		ok(0, "%s: test input parses as JSON: %s", what, text);
		return;
	}
	path = rest_build_path(m, tmpl, params, err, sizeof(err));
	got = path != NULL ? path : "(null)";
	if (want != NULL)
		ok(strcmp(got, want) == 0,
		    "%s: builds \"%s\" (got \"%s\", error \"%s\")", what, want,
		    got, err);
	else {
		ok(path == NULL, "%s: builds nothing (got \"%s\")", what, got);
		ok(strcmp(err, want_err) == 0, "%s: says \"%s\" (got \"%s\")",
		    what, want_err, err);
	}
	free(path);
	json_decref(params);
}

static const struct methods_param p_two[] = {
    {.name = "team_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED,
	.doc = "team"},
    {.name = "user_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED,
	.doc = "user"},
    {.name = "body",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "body"},
    {.name = "q",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.doc = "query"},
    {.name = "n",
	.type = METHODS_T_INT,
	.in = METHODS_IN_QUERY,
	.doc = "query integer"},
    {.name = "f",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_QUERY,
	.doc = "query boolean"},
    {.name = "l",
	.type = METHODS_T_STRLIST,
	.in = METHODS_IN_QUERY,
	.doc = "query list"},
    METHODS_PARAMS_END,
};

static const struct methods_row m_two = {
    .name = "test.two",
    .summary = "two placeholders and queries",
    .cred = ROLE_CRED_ANY,
    .role = ROLE_USER,
    .verb = "GET",
    .path = "/v1/teams/{team_id}/members/{user_id}",
    .params = p_two,
};

static void
test_build_path(void)
{
	const char *tmpl = m_two.path;

	build("no placeholder", &m_two, "/v1/teams", "{}", "/v1/teams", NULL);
	build("two placeholders", &m_two, tmpl,
	    "{\"team_id\": \"team-1\", \"user_id\": \"usr-2\"}",
	    "/v1/teams/team-1/members/usr-2", NULL);
	build("placeholder at the end", &m_two, "/v1/teams/{team_id}",
	    "{\"team_id\": \"t\"}", "/v1/teams/t", NULL);
	build("escaping", &m_two, "/v1/teams/{team_id}",
	    "{\"team_id\": \"a b/c?d#e%f&g\"}",
	    "/v1/teams/a%20b%2Fc%3Fd%23e%25f%26g", NULL);
	build("unreserved bytes kept", &m_two, "/v1/teams/{team_id}",
	    "{\"team_id\": \"A-z_0.9~\"}", "/v1/teams/A-z_0.9~", NULL);
	build("non-ASCII escaped", &m_two, "/v1/teams/{team_id}",
	    "{\"team_id\": \"\\u00e9\"}", "/v1/teams/%C3%A9", NULL);
	build("missing placeholder", &m_two, tmpl, "{\"team_id\": \"t\"}", NULL,
	    "missing required parameter 'user_id'");
	build("placeholder not a string", &m_two, tmpl,
	    "{\"team_id\": 7, \"user_id\": \"u\"}", NULL,
	    "missing required parameter 'team_id'");
	build("placeholder \"..\"", &m_two, tmpl,
	    "{\"team_id\": \"..\", \"user_id\": \"u\"}", NULL,
	    "parameter 'team_id' is not a valid identifier");
	build("placeholder \"\"", &m_two, tmpl,
	    "{\"team_id\": \"\", \"user_id\": \"u\"}", NULL,
	    "parameter 'team_id' is not a valid identifier");
	build("unterminated placeholder", &m_two, "/v1/teams/{team_id", "{}",
	    NULL, "bad path template");
	build("placeholder name too long", &m_two,
	    "/v1/"
	    "{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa}",
	    "{}", NULL, "bad path template");
}

static void
test_build_query(void)
{
	const char *tmpl = "/v1/teams/{team_id}";

	build("one query string", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"q\": \"x\"}", "/v1/teams/t?q=x", NULL);
	build("query values escaped", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"q\": \"a b&c=d\"}",
	    "/v1/teams/t?q=a%20b%26c%3Dd", NULL);
	build("query integer and booleans", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"n\": -3, \"f\": true}",
	    "/v1/teams/t?n=-3&f=true", NULL);
	build("query false", &m_two, tmpl, "{\"team_id\": \"t\", \"f\": false}",
	    "/v1/teams/t?f=false", NULL);
	build("query in parameter-list order", &m_two, tmpl,
	    "{\"f\": true, \"team_id\": \"t\", \"q\": \"x\"}",
	    "/v1/teams/t?q=x&f=true", NULL);
	build("query list repeats the key", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"l\": [\"a\", \"b c\"]}",
	    "/v1/teams/t?l=a&l=b%20c", NULL);
	build("query list of one string", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"l\": \"a\"}", "/v1/teams/t?l=a", NULL);
	build("query empty list adds nothing", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"l\": []}", "/v1/teams/t", NULL);
	build("body and path params stay out of the query", &m_two, tmpl,
	    "{\"team_id\": \"t\", \"user_id\": \"u\", \"body\": \"b\"}",
	    "/v1/teams/t", NULL);
}

/* rpc.describe of one row: every field, bounds only where set. */
static void
test_describe(void)
{
	static const struct methods_param p[] = {
	    {.name = "id",
		.type = METHODS_T_STRING,
		.in = METHODS_IN_PATH,
		.flags = METHODS_F_REQUIRED,
		.doc = "the id"},
	    {.name = "n",
		.type = METHODS_T_INT,
		.in = METHODS_IN_QUERY,
		.min = 1,
		.max = 9,
		.doc = "a count"},
	    {.name = "all",
		.type = METHODS_T_BOOL,
		.in = METHODS_IN_LOCAL,
		.doc = "all"},
	    METHODS_PARAMS_END,
	};
	static const struct methods_row pass = {
	    .name = "test.get",
	    .summary = "get one",
	    .cred = ROLE_CRED_JWT,
	    .role = ROLE_ADMIN,
	    .verb = "DELETE",
	    .path = "/v1/t/{id}",
	    .result = METHODS_RES_EMPTY,
	    .params = p,
	};
	static const struct methods_row local = {
	    .name = "test.local",
	    .summary = "local",
	    .cred = ROLE_CRED_NONE,
	    .role = ROLE_TOOL,
	    .path = "/v1/t",
	    .result = METHODS_RES_LOCAL,
	    .flags = METHODS_STREAM,
	    .params = methods_no_params,
	};
	static const char want_pass[] =
	    "{\"credential\":\"jwt\",\"name\":\"test.get\",\"params\":["
	    "{\"doc\":\"the id\",\"name\":\"id\",\"required\":true,"
	    "\"type\":\"string\"},"
	    "{\"doc\":\"a count\",\"max\":9,\"min\":1,\"name\":\"n\","
	    "\"required\":false,\"type\":\"integer\"},"
	    "{\"doc\":\"all\",\"name\":\"all\",\"required\":false,"
	    "\"type\":\"boolean\"}],"
	    "\"result\":\"empty\",\"role\":\"admin\",\"stream\":false,"
	    "\"summary\":\"get one\","
	    "\"upstream\":{\"method\":\"DELETE\",\"path\":\"/v1/t/{id}\"}}";
	static const char want_local[] =
	    "{\"credential\":\"none\",\"name\":\"test.local\",\"params\":[],"
	    "\"result\":\"object\",\"role\":\"tool\",\"stream\":true,"
	    "\"summary\":\"local\"}";
	json_t *d;
	char *got;

	d = methods_describe(&pass);
	got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	ok(strcmp(got != NULL ? got : "", want_pass) == 0,
	    "describe a pass-through: %s (got %s)", want_pass, got);
	free(got);
	json_decref(d);
	d = methods_describe(&local);
	got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	ok(strcmp(got != NULL ? got : "", want_local) == 0,
	    "describe a handler row without a verb (no upstream): %s (got %s)",
	    want_local, got);
	free(got);
	json_decref(d);
}

/* The first row for which bad(m) holds, or NULL. */
static const struct methods_row *
first_row(int (*bad)(const struct methods_row *))
{
	const struct methods_row *m;
	size_t i;

	for (i = 0; (m = methods_at(i)) != NULL; i++)
		if (bad(m))
			return m;
	return NULL;
}

static int
no_summary(const struct methods_row *m)
{
	return m->summary == NULL || m->summary[0] == '\0';
}

static int
bad_name(const struct methods_row *m)
{
	const char *dot = strchr(m->name, '.');

	return dot == NULL || dot == m->name || dot[1] == '\0' ||
	    strchr(dot + 1, '.') != NULL;
}

static int
bad_role(const struct methods_row *m)
{
	return m->role >= ROLE__MAX || m->cred >= ROLE_CRED__MAX;
}

static int
no_params(const struct methods_row *m)
{
	return m->params == NULL;
}

static int
no_route(const struct methods_row *m)
{
	return m->handler == NULL && (m->verb == NULL || m->path == NULL);
}

static int
bad_route(const struct methods_row *m)
{
	static const char *verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	size_t i;

	if (m->path != NULL && strncmp(m->path, "/v1/", 4) != 0)
		return 1;
	if (m->verb == NULL)
		return 0;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(m->verb, verbs[i]) == 0)
			return 0;
	return 1;
}

/* A pass-through always goes upstream, so it needs a credential. */
static int
passthrough_without_cred(const struct methods_row *m)
{
	return m->handler == NULL && m->cred == ROLE_CRED_NONE;
}

static int
bad_param(const struct methods_row *m)
{
	const struct methods_param *p, *q;

	for (p = m->params; p->name != NULL; p++) {
		if (p->name[0] == '\0' || p->doc == NULL || p->doc[0] == '\0' ||
		    p->type >= METHODS_T__MAX || p->in >= METHODS_IN__MAX)
			return 1;
		for (q = m->params; q != p; q++)
			if (strcmp(q->name, p->name) == 0)
				return 1;
	}
	return 0;
}

/* Whether path has the placeholder {name}. */
static int
has_placeholder(const char *path, const char *name)
{
	size_t n = strlen(name);
	const char *t;

	for (t = path; (t = strchr(t, '{')) != NULL; t++)
		if (strncmp(t + 1, name, n) == 0 && t[1 + n] == '}')
			return 1;
	return 0;
}

/* A {placeholder} that is no required METHODS_IN_PATH string param. */
static int
undeclared_placeholder(const struct methods_row *m)
{
	const struct methods_param *p;
	const char *t, *end;
	char name[64];
	size_t n;

	if (m->path == NULL)
		return 0;
	for (t = m->path; (t = strchr(t, '{')) != NULL; t = end) {
		if ((end = strchr(t, '}')) == NULL ||
		    (n = (size_t)(end - t - 1)) == 0 || n >= sizeof(name))
			return 1;
		memcpy(name, t + 1, n);
		name[n] = '\0';
		p = methods_param_find(m, name);
		if (p == NULL || p->in != METHODS_IN_PATH ||
		    p->type != METHODS_T_STRING ||
		    !(p->flags & METHODS_F_REQUIRED))
			return 1;
	}
	return 0;
}

/* A METHODS_IN_PATH param that is not in the path (or a row without a path). */
static int
unused_path_param(const struct methods_row *m)
{
	const struct methods_param *p;

	for (p = m->params; p->name != NULL; p++)
		if (p->in == METHODS_IN_PATH &&
		    (m->path == NULL || !has_placeholder(m->path, p->name)))
			return 1;
	return 0;
}

static void
test_rows(void)
{
	static const struct {
		const char *what;
		int (*bad)(const struct methods_row *);
	} props[] = {
	    {"every row has a summary", no_summary},
	    {"every name is namespace.verb", bad_name},
	    {"every role and credential is known", bad_role},
	    {"every row has a parameter list", no_params},
	    {"every row has a verb and a path, or a handler", no_route},
	    {"every path starts /v1/, every verb is an HTTP method", bad_route},
	    {"every pass-through has a credential", passthrough_without_cred},
	    {"every param has a name, doc, type and place, once", bad_param},
	    {"every path placeholder is a required METHODS_IN_PATH string",
		undeclared_placeholder},
	    {"every METHODS_IN_PATH param is a placeholder of its path",
		unused_path_param},
	};
	const struct methods_row *m;
	size_t i;

	ok(methods_at(0) != NULL, "the method list is not empty");
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		m = first_row(props[i].bad);
		ok(m == NULL, "%s (first row that is not: %s)", props[i].what,
		    m != NULL ? m->name : "none");
	}
}

static void
test_rows_unique(void)
{
	const struct methods_row *m, *dup = NULL, *lost = NULL;
	size_t i, j;

	for (i = 0; (m = methods_at(i)) != NULL; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(methods_at(j)->name, m->name) == 0)
				dup = m;
		if (methods_find(m->name) != m)
			lost = m;
	}
	ok(dup == NULL, "method names are unique (first repeated: %s)",
	    dup != NULL ? dup->name : "none");
	ok(lost == NULL, "methods_find finds every row (first not: %s)",
	    lost != NULL ? lost->name : "none");
	ok(methods_find("sandbox.nope") == NULL,
	    "methods_find: an unknown name is NULL");
	ok(methods_find("") == NULL, "methods_find: \"\" is NULL");
	ok(methods_find("sandbox.exe") == NULL,
	    "methods_find: a prefix of a name is NULL");
}

/*
 * methods_find is a binary search over an index built at the first
 * lookup: every row is found by a copy of its name (not its own pointer),
 * names around each row (a character more, one less, the last one
 * changed) find only rows of exactly that name, and names before the
 * first and after the last in sort order find nothing.
 */
static void
test_find_index(void)
{
	const struct methods_row *m, *hit;
	char name[128];
	size_t i, len, wrong = 0, found = 0, n = 0;

	for (i = 0; (m = methods_at(i)) != NULL; i++) {
		n++;
		snprintf(name, sizeof(name), "%s", m->name);
		if (methods_find(name) == m)
			found++;
		len = strlen(name);
		snprintf(name, sizeof(name), "%s~", m->name);
		if ((hit = methods_find(name)) != NULL &&
		    strcmp(hit->name, name) != 0)
			wrong++;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 1), m->name);
		if ((hit = methods_find(name)) != NULL &&
		    strcmp(hit->name, name) != 0)
			wrong++;
		snprintf(name, sizeof(name), "%.*s%c", (int)(len - 1), m->name,
		    m->name[len - 1] + 1);
		if ((hit = methods_find(name)) != NULL &&
		    strcmp(hit->name, name) != 0)
			wrong++;
	}
	ok_size(found, n, "methods_find: every row by a copy of its name");
	ok_size(
	    wrong, 0, "methods_find: names next to a row find no other row");
	ok_null(methods_find("!"), "methods_find: a name before every row");
	ok_null(methods_find("~"), "methods_find: a name after every row");
	ok_str(methods_find("rpc.hello") != NULL
		? methods_find("rpc.hello")->name
		: NULL,
	    "rpc.hello", "methods_find: rpc.hello");
}

/* The tool role (sandboxed tools) reaches exactly these methods. */
static void
test_tool_role(void)
{
	/* The data plane of a tool's own sandboxes (issue 9), in hello
	 * order; never the account, other owners or the team. */
	static const char *const tool[] = {"rpc.hello", "rpc.describe",
	    "daemon.status", "sandboxes.create", "sandboxes.list",
	    "sandboxes.get", "sandboxes.destroy", "sandbox.exec",
	    "sandbox.ping", "sandbox.pause", "sandbox.resume",
	    "sandbox.wait_ready", "sandbox.metrics", "sandbox.upload",
	    "sandbox.download", "sandbox.stream_upload",
	    "sandbox.stream_download", "sandbox.list_files", "sandbox.mkdir",
	    "sandbox.remove", "sandbox.get_url", "sandbox.http_request",
	    "sandbox.exec_stream", "streams.attach", "streams.list",
	    "streams.stop", "sandbox.run_code", "sandbox.port_forward",
	    "port_forwards.list", "port_forwards.close", "leases.list",
	    "sandbox.keepalive"};
	const struct methods_row *m;
	char got[1024] = "", want[1024] = "";
	size_t i;

	for (i = 0; i < sizeof(tool) / sizeof(tool[0]); i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "%s ", tool[i]);
	for (i = 0; (m = methods_at(i)) != NULL; i++)
		if (m->role == ROLE_TOOL)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s ", m->name);
	ok(strcmp(got, want) == 0, "tool-role methods are \"%s\" (got \"%s\")",
	    want, got);
}

/* The hello list is the rows in list order, starting as PROTOCOL.md shows. */
static void
test_names(void)
{
	static const char *const first[] = {
	    "rpc.hello", "rpc.describe", "daemon.status"};
	json_t *names = methods_names();
	const struct methods_row *m, *bad = NULL;
	const char *s;
	size_t i, n = 0;

	for (i = 0; (m = methods_at(i)) != NULL; i++) {
		n++;
		s = json_string_value(json_array_get(names, i));
		if (bad == NULL && strcmp(s != NULL ? s : "", m->name) != 0)
			bad = m;
	}
	ok(json_array_size(names) == n,
	    "methods_names has one name per row: %zu (got %zu)", n,
	    json_array_size(names));
	ok(bad == NULL,
	    "methods_names lists the rows in order (first out of place: %s)",
	    bad != NULL ? bad->name : "none");
	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		s = json_string_value(json_array_get(names, i));
		s = s != NULL ? s : "(none)";
		ok(strcmp(s, first[i]) == 0, "hello method %zu is %s (got %s)",
		    i, first[i], s);
	}
	ok(methods_at(n) == NULL, "methods_at past the last row is NULL");
	json_decref(names);
}

int
main(void)
{
	test_check_unknown();
	test_check_types();
	test_check_strlist();
	test_check_fd();
	test_check_bounds();
	test_check_flags();
	test_check_required();
	test_check_segments();
	test_build_path();
	test_build_query();
	test_describe();
	test_rows();
	test_rows_unique();
	test_find_index();
	test_tool_role();
	test_names();
	return done_testing();
}
