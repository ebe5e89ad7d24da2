/* SPDX-License-Identifier: MIT */
/*
 * Shell completion. "wrennctl completion bash" prints a small bash script
 * that asks wrennctl itself for the candidates: the hidden
 * "wrennctl __complete -- WORD... CURRENT" walks the command table (so new
 * commands complete without touching the script), offers a command's long
 * options from its help text, and from the running wrennd (with a short
 * timeout, so a stuck daemon never hangs the shell) sandbox ids and stream
 * ids where the synopsis names a SANDBOX or STREAM argument, "SANDBOX:" in
 * cp, and method names for "call" and "help". It prints nothing it cannot
 * know, and the script then falls back to file names (cp).
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

#define CMD_COMPLETE_TIMEOUT_MS 1500 /* wrennd's answer, greeting included */

static const char cmd_complete_bash[] =
    "# bash completion for wrennctl(1), from \"wrennctl completion bash\".\n"
    "# Install as /usr/share/bash-completion/completions/wrennctl or run\n"
    "#   source <(wrennctl completion bash)\n"
    "_wrennctl()\n"
    "{\n"
    "\tlocal cur words cword\n"
    "\tif declare -F _get_comp_words_by_ref >/dev/null; then\n"
    "\t\t_get_comp_words_by_ref -n =: cur words cword\n"
    "\telse\n"
    "\t\twords=(\"${COMP_WORDS[@]}\")\n"
    "\t\tcword=$COMP_CWORD\n"
    "\tfi\n"
    "\tlocal IFS=$'\\n'\n"
    "\tCOMPREPLY=($(\"${words[0]}\" __complete -- "
    "\"${words[@]:1:cword}\" 2>/dev/null))\n"
    "\tif [ ${#COMPREPLY[@]} -eq 0 ]; then\n"
    "\t\tcompopt -o default 2>/dev/null\n"
    "\tfi\n"
    "}\n"
    "complete -F _wrennctl wrennctl\n";

/* "wrennctl completion bash": the script above. */
int
cmd_completion_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	int r;

	if ((r = cli_common_only(cli, self, argc, argv)) != CLI_CONTINUE)
		return r;
	if (argc - optind != 1 || strcmp(argv[optind], "bash") != 0)
		return cli_usage(cli, "usage: %s bash", cli->path);
	fputs(cmd_complete_bash, stdout);
	return CLI_EXIT_OK;
}

/* Print s if it starts with prefix. */
static void
cmd_complete_offer(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) == 0)
		printf("%s\n", s);
}

/* The visible command words of a namespace. */
static void
cmd_complete_words(const struct cmd *ns, const char *cur)
{
	const struct cmd *c;

	for (c = ns->sub; c->name != NULL; c++)
		if (strncmp(c->name, "__", 2) != 0)
			cmd_complete_offer(c->name, cur);
}

/*
 * The long options of c, read from its help text (each line starts with
 * "  -x, --name" or "      --name"), and the common ones.
 */
static void
cmd_complete_options(const struct cmd *c, const char *cur)
{
	static const char *const common[] = {
	    "--help", "--json", "--quiet", "--socket", "--verbose"};
	const char *p;
	char opt[64];
	size_t i, n;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		cmd_complete_offer(common[i], cur);
	for (p = c->options; p != NULL && *p != '\0'; p += strcspn(p, "\n")) {
		p += strspn(p, " \n");
		if (p[0] == '-' && p[1] != '-') {
			p += strcspn(p, " "); /* "-x," */
			p += strspn(p, " ");
		}
		if (strncmp(p, "--", 2) != 0)
			continue;
		n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-") + 2;
		if (n > 2 && n < sizeof(opt)) {
			memcpy(opt, p, n);
			opt[n] = '\0';
			cmd_complete_offer(opt, cur);
		}
	}
}

/*
 * The result of method (no params) from the running wrennd, or NULL if it
 * is not there or slow: completion must never hang the shell, so the
 * greeting and the call share a deadline of CMD_COMPLETE_TIMEOUT_MS.
 */
static json_t *
cmd_complete_call(struct cli *cli, const char *method)
{
	char *text = NULL;
	json_t *res;

	if (cli->h == NULL) {
		if (wrennctl_open(
			cli->socket, WRENNCTL_OPEN_NONBLOCK, &cli->h) < 0)
			return NULL;
		(void)wrennctl_set_timeout(cli->h, CMD_COMPLETE_TIMEOUT_MS);
	}
	if (wrennctl_call(cli->h, method, NULL, &text) < 0)
		return NULL;
	res = json_loads(text, JSON_DECODE_ANY, NULL);
	free(text);
	return res;
}

/* Print a followed by b if that starts with prefix. */
static void
cmd_complete_offer2(const char *a, const char *b, const char *prefix)
{
	size_t la = strlen(a), lp = strlen(prefix);

	if (lp <= la ? strncmp(a, prefix, lp) == 0
		     : strncmp(a, prefix, la) == 0 &&
		    strncmp(b, prefix + la, lp - la) == 0)
		printf("%s%s\n", a, b);
}

/* Member key (a string) of each object in list, followed by suffix. */
static void
cmd_complete_members(
    const json_t *list, const char *key, const char *suffix, const char *cur)
{
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *v = json_string_value(json_object_get(e, key));

		if (v != NULL && strchr(v, '\n') == NULL)
			cmd_complete_offer2(v, suffix, cur);
	}
}

/* Method names from the running wrennd (nothing if it is not there). */
static void
cmd_complete_methods(struct cli *cli, const char *cur)
{
	json_t *res = cmd_complete_call(cli, "rpc.describe");

	cmd_complete_members(json_object_get(res, "methods"), "name", "", cur);
	json_decref(res);
}

/* Ids of the sandboxes (stopped ones left out), each followed by suffix. */
static void
cmd_complete_sandboxes(struct cli *cli, const char *suffix, const char *cur)
{
	json_t *res = cmd_complete_call(cli, "sandboxes.list"), *keep, *e;
	size_t i;

	if ((keep = json_array()) == NULL) {
		json_decref(res);
		return;
	}
	json_array_foreach(res, i, e) {
		const char *st =
		    json_string_value(json_object_get(e, "status"));

		if (st == NULL || strcmp(st, "stopped") != 0)
			(void)json_array_append(keep, e);
	}
	cmd_complete_members(keep, "id", suffix, cur);
	json_decref(keep);
	json_decref(res);
}

/* Ids of the exec streams wrennd holds. */
static void
cmd_complete_streams(struct cli *cli, const char *cur)
{
	json_t *res = cmd_complete_call(cli, "streams.list");

	cmd_complete_members(res, "stream_id", "", cur);
	json_decref(res);
}

/*
 * The name of the n-th positional argument in a synopsis ("[--timeout
 * SEC] SANDBOX", "STREAM...") into buf: options and [optional] groups are
 * skipped, a last name ending in "..." repeats. "" when there is none.
 */
static void
cmd_complete_arg_name(const char *syn, int n, char *buf, size_t size)
{
	const char *p = syn, *last = NULL;
	size_t len, last_len = 0;
	int depth = 0, i = 0;

	buf[0] = '\0';
	while (*p != '\0') {
		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len == 0)
			break;
		if (depth == 0 && p[0] != '[' && p[0] != '-') {
			if (i++ == n) {
				snprintf(buf, size, "%.*s", (int)len, p);
				return;
			}
			last = p;
			last_len = len;
		}
		for (size_t k = 0; k < len; k++)
			depth += p[k] == '[' ? 1 : p[k] == ']' ? -1 : 0;
		p += len;
	}
	if (last != NULL && last_len > 3 &&
	    strncmp(last + last_len - 3, "...", 3) == 0)
		snprintf(buf, size, "%.*s", (int)last_len, last);
}

/*
 * Whether option word of c ("-T", "--timeout") takes an argument: its help
 * line reads "  -T, --timeout SEC" (an upper-case word after the name).
 */
static int
cmd_complete_takes_arg(const struct cmd *c, const char *word)
{
	const char *p, *name;
	size_t n;
	char shrt;

	for (p = c->options; p != NULL && *p != '\0'; p += strcspn(p, "\n")) {
		p += strspn(p, " \n");
		shrt = 0;
		if (p[0] == '-' && p[1] != '-' && p[1] != '\0') {
			shrt = p[1];
			p += strcspn(p, " ");
			p += strspn(p, " ");
		}
		if (strncmp(p, "--", 2) != 0)
			continue;
		name = p;
		n = strcspn(p, " \n");
		if ((strlen(word) == n && strncmp(word, name, n) == 0) ||
		    (shrt != 0 && word[0] == '-' && word[1] == shrt &&
			word[2] == '\0'))
			return name[n] == ' ' && name[n + 1] >= 'A' &&
			    name[n + 1] <= 'Z';
	}
	return 0;
}

/*
 * Skip an option at words[*i], and its argument when the leaf command
 * (NULL: not known yet) says it takes one; 1 if skipped.
 */
static int
cmd_complete_skip_opt(
    struct cli *cli, const struct cmd *leaf, char **words, int n, int *i)
{
	const char *w = words[*i];

	if (w[0] != '-' || w[1] == '\0')
		return 0;
	if ((strcmp(w, "-s") == 0 || strcmp(w, "--socket") == 0) &&
	    *i + 1 < n) {
		cli->socket = words[++*i];
	} else if (strncmp(w, "--socket=", 9) == 0)
		cli->socket = w + 9;
	else if (leaf != NULL && strchr(w, '=') == NULL &&
	    cmd_complete_takes_arg(leaf, w) && *i + 1 < n)
		++*i;
	return 1;
}

/*
 * Candidates for the word after the leaf command c and its nargs args:
 * options, then by the synopsis's name for the argument sandbox ids,
 * stream ids (from wrennd), "SANDBOX:" for cp, method names.
 */
static void
cmd_complete_leaf(
    struct cli *cli, const struct cmd *c, int nargs, const char *cur)
{
	char arg[64];

	if (cur[0] == '-') {
		cmd_complete_options(c, cur);
		return;
	}
	cmd_complete_arg_name(c->synopsis, nargs, arg, sizeof(arg));
	if (strncmp(arg, "SANDBOX", 7) == 0)
		cmd_complete_sandboxes(cli, "", cur);
	else if (strncmp(arg, "STREAM", 6) == 0)
		cmd_complete_streams(cli, cur);
	else if (strcmp(c->name, "cp") == 0 && nargs < 2 &&
	    strncmp(cur, "cl-", 3) == 0 && strchr(cur, ':') == NULL)
		cmd_complete_sandboxes(cli, ":", cur);
	if (nargs > 0)
		return;
	if (strcmp(c->name, "call") == 0)
		cmd_complete_methods(cli, cur);
	else if (strcmp(c->name, "help") == 0) {
		cmd_complete_words(cli_root_cmd(), cur);
		cmd_complete_methods(cli, cur);
	} else if (strcmp(c->name, "completion") == 0)
		cmd_complete_offer("bash", cur);
}

/*
 * "wrennctl __complete -- WORD... CURRENT": the candidates for CURRENT,
 * one per line, after the command words WORD... (without "wrennctl").
 */
int
cmd_complete_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const struct cmd *ns = cli_root_cmd(), *c, *leaf = NULL;
	const char *cur;
	int i = 1, nargs = 0;

	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return CLI_EXIT_USAGE;
	cur = argv[argc - 1];
	for (; i < argc - 1; i++) {
		if (cmd_complete_skip_opt(cli, leaf, argv, argc - 1, &i))
			continue;
		if (leaf != NULL) {
			nargs++;
			continue;
		}
		if ((c = cli_lookup(ns->sub, argv[i])) == NULL) {
			if (ns->run == NULL)
				return CLI_EXIT_OK;
			/* a namespace that also runs: its first argument */
			leaf = ns;
			nargs++;
			continue;
		}
		if (c->sub != NULL)
			ns = c;
		else
			leaf = c;
	}
	if (leaf != NULL)
		cmd_complete_leaf(cli, leaf, nargs, cur);
	else if (ns->run != NULL && cur[0] != '-') {
		cmd_complete_words(ns, cur);
		cmd_complete_leaf(cli, ns, 0, cur);
	} else if (cur[0] == '-')
		cmd_complete_options(ns, cur);
	else
		cmd_complete_words(ns, cur);
	return CLI_EXIT_OK;
}
