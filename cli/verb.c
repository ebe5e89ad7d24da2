/* SPDX-License-Identifier: MIT */
/*
 * wrennctl verbs as data: most commands are "one method call with these
 * positional arguments and options as params, shown as a table, a
 * key: value block, a list or a one-line confirmation". A struct verb
 * (cli.h) says which; verb_run parses the command line against it, makes
 * the call (once per argument for "rm A B C") and prints the result.
 * Commands with more logic (host rm, channel update, audit list) call
 * verb_call/verb_show for the parts that are standard.
 * Called by: the command tables of cmd-*.c.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

#define VERB_MAX_OPTS	  16  /* options of one verb */
#define VERB_OPT_BASE	  256 /* getopt values of long-only options */
#define VERB_MAX_LINE_LEN 65536

/*
 * Append arg to the array params[name]; with csv, each of its
 * comma-separated items.
 */
static int
verb_set_list(json_t *params, const char *name, const char *arg, int csv)
{
	json_t *a = json_object_get(params, name);
	const char *p = arg, *comma;

	if (a == NULL) {
		if ((a = json_array()) == NULL)
			return -1;
		(void)json_object_set_new(params, name, a);
	}
	if (!csv)
		return json_array_append_new(a, json_string(arg));
	do {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma > p)
			(void)json_array_append_new(
			    a, json_stringn(p, (size_t)(comma - p)));
		p = comma + 1;
	} while (*comma != '\0');
	return 0;
}

/* Append the lines of file path ("-": stdin) to the array params[name]. */
static int
verb_set_lines(struct cli *cli, json_t *params, const char *name,
    const char *opt, const char *path)
{
	char line[VERB_MAX_LINE_LEN];
	json_t *a = json_object_get(params, name);
	FILE *f;
	size_t len;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
		return cli_usage(cli, "--%s: cannot open %s: %s", opt, path,
		    strerror(errno));
	if (a == NULL) {
		a = json_array();
		(void)json_object_set_new(params, name, a);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len > 0 && line[0] != '#')
			(void)json_array_append_new(a, json_string(line));
	}
	if (f != stdin)
		(void)fclose(f);
	return 0;
}

/* Set params[name][K] = V from "K=V". */
static int
verb_set_map(struct cli *cli, json_t *params, const char *name, const char *opt,
    const char *arg)
{
	json_t *o = json_object_get(params, name);
	const char *eq = strchr(arg, '=');
	char *key;

	if (eq == NULL || eq == arg)
		return cli_usage(
		    cli, "--%s wants KEY=VALUE, not '%s'", opt, arg);
	if (o == NULL) {
		o = json_object();
		(void)json_object_set_new(params, name, o);
	}
	if ((key = strndup(arg, (size_t)(eq - arg))) == NULL)
		return CLI_EXIT_ERROR;
	(void)json_object_set_new(o, key, json_string(eq + 1));
	free(key);
	return 0;
}

/* Turn one option of the verb into a param. Returns 0 or an exit code. */
static int
verb_set_opt(
    struct cli *cli, json_t *params, const struct verb_opt *o, const char *arg)
{
	char flag[64];
	json_t *v = NULL;
	long n;
	int r;

	snprintf(flag, sizeof(flag), "--%s", o->name);
	switch (o->type) {
	case VERB_STRING:
		v = json_string(arg);
		break;
	case VERB_INT:
		r = cli_parse_int(cli, flag, arg, INT_MIN, INT_MAX, &n);
		if (r != 0)
			return r;
		v = json_integer(n);
		break;
	case VERB_FLAG:
		v = json_true();
		break;
	case VERB_LIST:
	case VERB_CSV:
		r = verb_set_list(params, o->param, arg, o->type == VERB_CSV);
		return r < 0 ? CLI_EXIT_ERROR : 0;
	case VERB_LINES:
		return verb_set_lines(cli, params, o->param, o->name, arg);
	case VERB_MAP:
		return verb_set_map(cli, params, o->param, o->name, arg);
	case VERB_JSON:
		v = json_loads(arg, JSON_DECODE_ANY, NULL);
		if (v == NULL)
			return cli_usage(
			    cli, "%s wants JSON, not '%s'", flag, arg);
		break;
	case VERB__MAX:
		break;
	}
	if (json_object_set_new(params, o->param, v) < 0)
		return CLI_EXIT_ERROR;
	return 0;
}

/*
 * The getopt tables of v: the common options, v's own, and --yes for a
 * verb that needs confirmation.
 */
static void
verb_getopt_tables(
    const struct verb *v, struct option *longopts, char *shortopts)
{
	static const struct option common[] = {
	    CLI_COMMON_LONGOPTS,
	};
	const struct verb_opt *o;
	size_t n = 0, i;
	char *s;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		longopts[n++] = common[i];
	s = shortopts + strlen(strcpy(shortopts, CLI_COMMON_SHORTOPTS));
	for (i = 0, o = v->opts;
	     o != NULL && o->name != NULL && i < VERB_MAX_OPTS; i++, o++) {
		longopts[n].name = o->name;
		longopts[n].has_arg =
		    o->type == VERB_FLAG ? no_argument : required_argument;
		longopts[n].flag = NULL;
		longopts[n].val = o->key != 0 ? o->key : VERB_OPT_BASE + (int)i;
		n++;
		if (o->key != 0) {
			*s++ = (char)o->key;
			if (o->type != VERB_FLAG)
				*s++ = ':';
		}
	}
	if (v->flags & VERB_CONFIRM) {
		longopts[n].name = "yes";
		longopts[n].has_arg = no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 'y';
		n++;
		*s++ = 'y';
	}
	*s = '\0';
	memset(&longopts[n], 0, sizeof(longopts[n]));
}

/* The verb option getopt returned as c, or NULL. */
static const struct verb_opt *
verb_find_opt(const struct verb *v, int c)
{
	const struct verb_opt *o;
	int i;

	for (i = 0, o = v->opts; o != NULL && o->name != NULL; i++, o++)
		if (c == (o->key != 0 ? o->key : VERB_OPT_BASE + i))
			return o;
	return NULL;
}

/* Parse the options into params; CLI_CONTINUE or an exit code. */
static int
verb_parse_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    json_t *params, int *yes)
{
	struct option longopts[VERB_MAX_OPTS + 8];
	char shortopts[2 * VERB_MAX_OPTS + 16];
	const struct verb_opt *o;
	int c, r;

	verb_getopt_tables(self->verb, longopts, shortopts);
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if ((o = verb_find_opt(self->verb, c)) != NULL) {
			if ((r = verb_set_opt(cli, params, o, optarg)) != 0)
				return r;
		} else if (c == 'y' && (self->verb->flags & VERB_CONFIRM))
			*yes = 1;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	return CLI_CONTINUE;
}

/* Name of positional spec a without its "?" or "..." suffix. */
static void
verb_arg_name(const char *a, char *buf, size_t size)
{
	size_t len = strcspn(a, "?.");

	snprintf(buf, size, "%.*s", (int)len, a);
}

/* Bounds on the number of positional arguments; *repeat for "...". */
static void
verb_arg_counts(const struct verb *v, int *min, int *max, int *repeat)
{
	const char *const *a;
	size_t len;

	*min = *max = *repeat = 0;
	for (a = v->args; a != NULL && *a != NULL; a++) {
		len = strlen(*a);
		(*max)++;
		if (len > 3 && strcmp(*a + len - 3, "...") == 0) {
			*repeat = 1;
			*max = INT_MAX;
			(*min)++;
		} else if ((*a)[len - 1] != '?')
			(*min)++;
	}
}

/* Run the verb once per value of its repeated argument. */
static int
verb_repeat(struct cli *cli, const struct verb *v, json_t *params,
    const char *name, int argc, char **argv)
{
	json_t *p;
	int r, worst = CLI_EXIT_OK;

	for (; optind < argc; optind++) {
		if ((p = json_deep_copy(params)) == NULL)
			return CLI_EXIT_ERROR;
		(void)json_object_set_new(p, name, json_string(argv[optind]));
		cli->subject = argv[optind];
		r = verb_call(cli, v, p, argv[optind]);
		cli->subject = NULL;
		if (r > worst)
			worst = r;
		if (r == CLI_EXIT_CONNECT)
			break;
	}
	return worst;
}

/* The command line's positional arguments into params, then the call. */
static int
verb_args(struct cli *cli, const struct cmd *self, json_t *params, int argc,
    char **argv)
{
	const struct verb *v = self->verb;
	const char *last = NULL;
	char name[64];
	int min, max, repeat, n = argc - optind, i;

	verb_arg_counts(v, &min, &max, &repeat);
	if (n < min || n > max) {
		json_decref(params);
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	}
	for (i = 0; v->args != NULL && v->args[i] != NULL && optind < argc;
	     i++) {
		verb_arg_name(v->args[i], name, sizeof(name));
		if (repeat && v->args[i + 1] == NULL) {
			n = verb_repeat(cli, v, params, name, argc, argv);
			json_decref(params);
			return n;
		}
		last = argv[optind++];
		(void)json_object_set_new(params, name, json_string(last));
	}
	return verb_call(cli, v, params, last);
}

int
verb_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const struct verb *v = self->verb;
	json_t *params;
	int r, yes = 0;

	params =
	    v->fixed != NULL ? json_loads(v->fixed, 0, NULL) : json_object();
	if (params == NULL)
		return CLI_EXIT_ERROR;
	r = verb_parse_opts(cli, self, argc, argv, params, &yes);
	if (r != CLI_CONTINUE) {
		json_decref(params);
		return r;
	}
	if ((v->flags & VERB_CONFIRM) && !yes) {
		json_decref(params);
		fprintf(stderr,
		    "wrennctl: '%s' destroys data and cannot be undone; add "
		    "--yes to confirm\n",
		    cli->path);
		return CLI_EXIT_USAGE;
	}
	return verb_args(cli, self, params, argc, argv);
}

/*
 * Call v's method with params (taken over) and show the result; last_arg
 * fills the DONE line. Returns 0 or an exit code (errors are printed).
 */
int
verb_call(struct cli *cli, const struct verb *v, json_t *params_steal,
    const char *last_arg)
{
	json_t *params = json_incref(params_steal), *res = NULL;
	int r;

	if ((r = cli_call(cli, v->method, params_steal, &res)) != 0) {
		json_decref(params);
		return r;
	}
	verb_show(cli, v, params, res, last_arg);
	json_decref(params);
	json_decref(res);
	return CLI_EXIT_OK;
}

/* -q: the verb's essential member(s) only. */
static void
verb_show_quiet(const struct verb *v, const json_t *res)
{
	const json_t *e;
	char *s;
	size_t i;

	if (json_is_array(res)) {
		json_array_foreach(res, i, e) {
			s = v->quiet != NULL && json_is_object(e)
			    ? output_field(e, v->quiet)
			    : output_scalar(e);
			if (s != NULL)
				printf("%s\n", s);
			free(s);
		}
		return;
	}
	if (v->quiet == NULL)
		return;
	e = output_path(res, v->quiet);
	if (json_is_array(e)) {
		verb_show_quiet(v, e);
		return;
	}
	if ((s = output_field(res, v->quiet)) != NULL)
		printf("%s\n", s);
	free(s);
}

/* KV, with the sub member (an array) as a table after it. */
static void
verb_show_kv(const struct verb *v, const json_t *res)
{
	const json_t *sub;
	json_t *rest;
	size_t n = 0;

	sub = v->sub != NULL ? json_object_get(res, v->sub) : NULL;
	if (sub == NULL) {
		output_kv(res, v->keys);
		return;
	}
	rest = json_copy((json_t *)res);
	(void)json_object_del(rest, v->sub);
	output_kv(rest, v->keys);
	json_decref(rest);
	while (v->sub_keys[n] != NULL)
		n++;
	printf("\n");
	if (json_array_size(sub) == 0)
		printf("%s: none\n", v->sub);
	else
		output_table_json(sub, n, v->sub_heads, v->sub_keys);
}

/* Print res for people according to v (or as JSON with --json). */
void
verb_show(struct cli *cli, const struct verb *v, const json_t *params,
    const json_t *res, const char *last_arg)
{
	size_t n = 0;

	if (cli->json) {
		output_result(res);
		return;
	}
	if (v->show == VERB_SHOW_CUSTOM) {
		v->print(cli, v, params, res);
		return;
	}
	if (cli->quiet &&
	    (v->quiet != NULL || v->show == VERB_SHOW_LIST ||
		v->show == VERB_SHOW_DONE)) {
		if (v->show != VERB_SHOW_DONE)
			verb_show_quiet(v, res);
		return;
	}
	switch (v->show) {
	case VERB_SHOW_KV:
		verb_show_kv(v, res);
		break;
	case VERB_SHOW_TABLE:
		while (v->keys[n] != NULL)
			n++;
		if (json_array_size(res) == 0)
			printf("%s\n", v->empty != NULL ? v->empty : "None.");
		else
			output_table_json(res, n, v->heads, v->keys);
		break;
	case VERB_SHOW_LIST:
		if (json_array_size(res) == 0)
			printf("%s\n", v->empty != NULL ? v->empty : "None.");
		else
			verb_show_quiet(v, res);
		break;
	case VERB_SHOW_DONE:
		printf("%s %s\n", v->done, last_arg != NULL ? last_arg : "");
		break;
	case VERB_SHOW_CUSTOM: /* above */
	case VERB_SHOW__MAX:
		break;
	}
	if (v->note != NULL)
		fprintf(stderr, "%s\n", v->note);
}
