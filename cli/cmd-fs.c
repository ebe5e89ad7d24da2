/* SPDX-License-Identifier: MIT */
/*
 * Files in a sandbox without copying them: "wrennctl ls SANDBOX:PATH"
 * (sandbox.list_files, a table like ls -l), "mkdir SANDBOX:PATH..."
 * (sandbox.mkdir), "rm [-r] [-f] SANDBOX:PATH..." (sandbox.remove) and
 * "usage" (sandboxes.usage). list_files, mkdir and remove are routes of
 * the v0.1.5 server that wrennd polyfills on 172413e, so these work on
 * both; usage needs v0.1.5.
 *
 * The server's remove takes a directory with everything in it, as rm -rf
 * does; rm here asks the way rm(1) does: without -r a directory is
 * refused, which needs one list_files of the parent to learn the type.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "wrennctl.h"

/* The longest listing ls shows before it says how many it left out. */
#define FS_LS_MAX 100000

const struct verb cmd_fs_usage_verb = {
    .method = "sandboxes.usage",
    .opts = VERB_OPTS(
	{"from", 'f', "from", VERB_STRING}, {"to", 't', "to", VERB_STRING}),
    .show = VERB_SHOW_KV,
    .keys = VERB_STRS("from", "to"),
    .sub = "points",
    .sub_keys = VERB_STRS("date", "cpu_minutes", "ram_mb_minutes"),
    .sub_heads = VERB_STRS("DATE", "CPU-MINUTES", "RAM-MB-MINUTES"),
};

/*
 * Split "SANDBOX:PATH" into a sandbox id (malloc'd) and the path in it
 * (borrowed; "" is the home). 0, or an exit code (said).
 */
static int
fs_parse(
    struct cli *cli, const char *arg, char **ret_sandbox, const char **ret_path)
{
	const char *colon = strchr(arg, ':');

	if (colon == NULL || colon == arg)
		return cli_usage(cli,
		    "'%s' is not SANDBOX:PATH (the path is in the sandbox)",
		    arg);
	if ((*ret_sandbox = strndup(arg, (size_t)(colon - arg))) == NULL)
		return CLI_EXIT_ERROR;
	*ret_path = colon[1] != '\0' ? colon + 1 : "~";
	return 0;
}

/*
 * Copy s for a terminal: control characters (a file name in a sandbox is
 * whatever its programs made it) become '?', as ls(1) shows them.
 */
static char *
fs_printable(const char *s, int tty)
{
	char *out = strdup(s), *p;

	if (out == NULL || !tty)
		return out;
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* ls(1)'s time column: month, day and time within six months, else year. */
static void
fs_time(char *buf, size_t size, const json_t *v, time_t now)
{
	time_t t;
	struct tm tm;

	if (!json_is_integer(v)) {
		snprintf(buf, size, "-");
		return;
	}
	t = (time_t)json_integer_value(v);
	if (localtime_r(&t, &tm) == NULL) {
		snprintf(buf, size, "-");
		return;
	}
	if (t > now - 182 * 86400L && t < now + 3600)
		(void)strftime(buf, size, "%b %e %H:%M", &tm);
	else
		(void)strftime(buf, size, "%b %e  %Y", &tm);
}

/* Sort by path, bytewise, as ls does in the C locale. */
static int
fs_cmp(const void *a, const void *b)
{
	const char *pa = json_string_value(
		       json_object_get(*(json_t *const *)a, "path")),
		   *pb = json_string_value(
		       json_object_get(*(json_t *const *)b, "path"));

	return strcmp(pa != NULL ? pa : "", pb != NULL ? pb : "");
}

/*
 * The absolute path of the directory listed (the path asked may be
 * relative, or "~"): the shortest parent among the entries, malloc'd, or
 * NULL when there are none.
 */
static char *
fs_base(json_t *const *v, size_t n)
{
	const char *best = NULL, *path, *slash;
	size_t i, len, best_len = 0;

	for (i = 0; i < n; i++) {
		path = json_string_value(json_object_get(v[i], "path"));
		if (path == NULL || (slash = strrchr(path, '/')) == NULL)
			continue;
		len = (size_t)(slash - path);
		if (best == NULL || len < best_len) {
			best = path;
			best_len = len;
		}
	}
	return best != NULL ? strndup(best, best_len) : NULL;
}

/*
 * What ls shows for an entry: its path below the directory listed (base,
 * from fs_base), which is its name at depth 1, or the whole path.
 */
static const char *
fs_shown_name(const json_t *e, const char *base)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	size_t n = base != NULL ? strlen(base) : 0;

	if (path == NULL)
		return "?";
	if (base != NULL && strncmp(path, base, n) == 0 && path[n] == '/' &&
	    path[n + 1] != '\0')
		return path + n + 1;
	return path;
}

enum { FS_PERM, FS_OWNER, FS_GROUP, FS_SIZE, FS_TIME, FS_NAME, FS__NCOL };

/* Print entries (sorted in place) as ls -l does, names below base. */
static void
fs_ls_print(json_t **v, size_t n, const char *base)
{
	int tty = isatty(STDOUT_FILENO);
	char **cell;
	size_t w[FS__NCOL] = {0}, i, c, len;
	time_t now = time(NULL);

	qsort(v, n, sizeof(*v), fs_cmp);
	if ((cell = calloc(n * FS__NCOL, sizeof(*cell))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const json_t *e = v[i];
		const char *target =
		    json_string_value(json_object_get(e, "symlink_target"));
		char tbuf[32], *name, **row = cell + i * FS__NCOL;

		row[FS_PERM] = output_field(e, "permissions");
		row[FS_OWNER] = output_field(e, "owner");
		row[FS_GROUP] = output_field(e, "group");
		row[FS_SIZE] = output_field(e, "size");
		fs_time(
		    tbuf, sizeof(tbuf), json_object_get(e, "modified_at"), now);
		row[FS_TIME] = strdup(tbuf);
		name = fs_printable(fs_shown_name(e, base), tty);
		if (name != NULL && target != NULL) {
			char *t = fs_printable(target, tty);

			if (t == NULL ||
			    asprintf(&row[FS_NAME], "%s -> %s", name, t) < 0)
				row[FS_NAME] = NULL;
			free(t);
			free(name);
		} else
			row[FS_NAME] = name;
		for (c = 0; c < FS__NCOL; c++) {
			if (row[c] == NULL)
				row[c] = strdup("?");
			if (c != FS_NAME && row[c] != NULL) {
				char *p = fs_printable(row[c], tty);

				free(row[c]);
				row[c] = p;
			}
			len = row[c] != NULL ? strlen(row[c]) : 1;
			if (len > w[c])
				w[c] = len;
		}
	}
	for (i = 0; i < n; i++) {
		char **row = cell + i * FS__NCOL;

		printf("%-*s %-*s %-*s %*s %-*s %s\n", (int)w[FS_PERM],
		    row[FS_PERM] ? row[FS_PERM] : "?", (int)w[FS_OWNER],
		    row[FS_OWNER] ? row[FS_OWNER] : "?", (int)w[FS_GROUP],
		    row[FS_GROUP] ? row[FS_GROUP] : "?", (int)w[FS_SIZE],
		    row[FS_SIZE] ? row[FS_SIZE] : "?", (int)w[FS_TIME],
		    row[FS_TIME] ? row[FS_TIME] : "?",
		    row[FS_NAME] ? row[FS_NAME] : "?");
	}
	for (i = 0; i < n * FS__NCOL; i++)
		free(cell[i]);
	free(cell);
}

/* "ls [-d N] SANDBOX:PATH". */
int
cmd_fs_ls_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"depth", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	json_t *res = NULL, *params, **v = NULL;
	const json_t *entries, *e;
	const char *path;
	char *sandbox = NULL, *base;
	long depth = 0;
	size_t i, n;
	int c, r;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS "d:", opts, NULL)) != -1) {
		if (c != 'd') {
			if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
				return r;
		} else if ((r = cli_parse_int(
				cli, "--depth", optarg, 1, 64, &depth)) != 0)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	if ((r = fs_parse(cli, argv[optind], &sandbox, &path)) != 0)
		return r;
	params = json_pack("{s:s, s:s}", "sandbox_id", sandbox, "path", path);
	if (params != NULL && depth > 0)
		(void)json_object_set_new(params, "depth", json_integer(depth));
	free(sandbox);
	if ((r = cli_call(cli, "sandbox.list_files", params, &res)) != 0)
		return r;
	entries = json_object_get(res, "entries");
	if (cli->json || !json_is_array(entries)) {
		output_result(res);
		json_decref(res);
		return CLI_EXIT_OK;
	}
	n = json_array_size(entries);
	if (n > FS_LS_MAX)
		n = FS_LS_MAX;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		json_decref(res);
		return CLI_EXIT_ERROR;
	}
	json_array_foreach(entries, i, e) {
		if (i >= n)
			break;
		v[i] = (json_t *)e;
	}
	base = fs_base(v, n);
	if (cli->quiet) {
		qsort(v, n, sizeof(*v), fs_cmp);
		for (i = 0; i < n; i++) {
			char *s = fs_printable(
			    fs_shown_name(v[i], base), isatty(STDOUT_FILENO));

			if (s != NULL)
				puts(s);
			free(s);
		}
	} else
		fs_ls_print(v, n, base);
	free(base);
	if (json_array_size(entries) > n)
		fprintf(stderr, "wrennctl: %zu more entries not shown\n",
		    json_array_size(entries) - n);
	free(v);
	json_decref(res);
	return CLI_EXIT_OK;
}

/* "mkdir SANDBOX:PATH...": each with its missing parents, as mkdir -p. */
int
cmd_fs_mkdir_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	json_t *res;
	const char *path;
	char *sandbox;
	int i, r, worst = CLI_EXIT_OK;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (argc - optind < 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	for (i = optind; i < argc; i++) {
		if ((r = fs_parse(cli, argv[i], &sandbox, &path)) != 0)
			return r;
		res = NULL;
		cli->subject = argv[i];
		r = cli_call(cli, "sandbox.mkdir",
		    json_pack(
			"{s:s, s:s}", "sandbox_id", sandbox, "path", path),
		    &res);
		free(sandbox);
		if (r != 0) {
			worst = r;
			if (r == CLI_EXIT_CONNECT || run_interrupted())
				break;
			continue;
		}
		if (cli->json)
			output_result(res);
		json_decref(res);
	}
	cli->subject = NULL;
	return worst;
}

/*
 * The type of path in sandbox, from a listing of its parent: "directory",
 * "file", ... in *ret (malloc'd), NULL when it is not there. 0, or the
 * exit code of the failed call (said).
 */
static int
fs_type(struct cli *cli, const char *sandbox, const char *path, char **ret)
{
	json_t *res = NULL;
	const json_t *e;
	const char *slash, *p;
	char *parent;
	size_t i, n;
	int r;

	*ret = NULL;
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	slash = NULL;
	for (p = path; p < path + n; p++)
		if (*p == '/')
			slash = p;
	if (slash == NULL)
		parent = strdup("~");
	else if (slash == path)
		parent = strdup("/");
	else
		parent = strndup(path, (size_t)(slash - path));
	if (parent == NULL)
		return CLI_EXIT_ERROR;
	r = cli_call(cli, "sandbox.list_files",
	    json_pack("{s:s, s:s}", "sandbox_id", sandbox, "path", parent),
	    &res);
	free(parent);
	if (r != 0)
		return r;
	p = slash != NULL ? slash + 1 : path;
	n -= (size_t)(p - path);
	json_array_foreach(json_object_get(res, "entries"), i, e) {
		const char *name =
		    json_string_value(json_object_get(e, "name"));

		if (name != NULL && strlen(name) == n &&
		    strncmp(name, p, n) == 0) {
			/* A symlink is described by its target; rm takes
			 * the link, as rm(1) does, without -r. */
			*ret = json_object_get(e, "symlink_target") != NULL
			    ? strdup("symlink")
			    : output_field(e, "type");
			if (*ret == NULL)
				r = CLI_EXIT_ERROR;
			break;
		}
	}
	json_decref(res);
	return 0;
}

/* "rm [-r] [-f] SANDBOX:PATH...". */
int
cmd_fs_rm_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"recursive", no_argument, NULL, 'r'},
	    {"force", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	json_t *res;
	const char *path;
	char *sandbox, *type;
	int c, i, r, recursive = 0, force = 0, worst = CLI_EXIT_OK;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "rRf", opts,
		    NULL)) != -1) {
		if (c == 'r' || c == 'R')
			recursive = 1;
		else if (c == 'f')
			force = 1;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind < 1)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	for (i = optind; i < argc; i++) {
		if ((r = fs_parse(cli, argv[i], &sandbox, &path)) != 0)
			return r;
		if (strspn(path, "/") == strlen(path) ||
		    strcmp(path, "~") == 0 || strcmp(path, "~/") == 0) {
			free(sandbox);
			return cli_usage(cli,
			    "refusing to remove '%s' (the root or the home)",
			    argv[i]);
		}
		cli->subject = argv[i];
		type = NULL;
		r = fs_type(cli, sandbox, path, &type);
		if (r == 0 && type == NULL && !force) {
			output_error_local(cli, "not_found",
			    "%s: no such file or directory", argv[i]);
			r = CLI_EXIT_ERROR;
		} else if (r == 0 && type != NULL &&
		    strcmp(type, "directory") == 0 && !recursive) {
			output_error_local(cli, "invalid_params",
			    "%s: is a directory (use -r)", argv[i]);
			r = CLI_EXIT_ERROR;
		} else if (r == 0 && type != NULL) {
			res = NULL;
			r = cli_call(cli, "sandbox.remove",
			    json_pack("{s:s, s:s}", "sandbox_id", sandbox,
				"path", path),
			    &res);
			if (r == 0 && cli->json)
				output_result(res);
			json_decref(res);
		}
		free(type);
		free(sandbox);
		if (r != 0) {
			worst = r;
			if (r == CLI_EXIT_CONNECT || run_interrupted())
				break;
		}
	}
	cli->subject = NULL;
	return worst;
}
