/* SPDX-License-Identifier: MIT */
/*
 * Shell completion. "wrennctl completion bash" prints a small bash script
 * that asks wrennctl itself for the candidates: the hidden
 * "wrennctl __complete -- WORD... CURRENT" walks the command table (so new
 * commands complete without touching the script), offers a command's long
 * options from its help text, and method names for "call" and "help" from
 * the running wrennd's rpc.describe. It prints nothing it cannot know, and
 * the script then falls back to file names (cp).
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
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
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

/* Method names from the running wrennd (nothing if it is not there). */
static void
cmd_complete_methods(struct cli *cli, const char *cur)
{
	char *text = NULL;
	json_t *res, *m;
	size_t i;

	if (wrennctl_new(cli->socket, &cli->h) < 0)
		return;
	if (wrennctl_call(cli->h, "rpc.describe", NULL, &text) < 0)
		return;
	res = json_loads(text, 0, NULL);
	free(text);
	json_array_foreach(json_object_get(res, "methods"), i, m) {
		if (json_is_string(json_object_get(m, "name")))
			cmd_complete_offer(
			    json_string_value(json_object_get(m, "name")), cur);
	}
	json_decref(res);
}

/* Skip a global option (and its argument) at words[*i]; 1 if skipped. */
static int
cmd_complete_skip_opt(struct cli *cli, char **words, int n, int *i)
{
	const char *w = words[*i];

	if (w[0] != '-' || w[1] == '\0')
		return 0;
	if ((strcmp(w, "-s") == 0 || strcmp(w, "--socket") == 0) &&
	    *i + 1 < n) {
		cli->socket = words[++*i];
	} else if (strncmp(w, "--socket=", 9) == 0)
		cli->socket = w + 9;
	return 1;
}

/* Candidates for the word after the leaf command c and its nargs args. */
static void
cmd_complete_leaf(
    struct cli *cli, const struct cmd *c, int nargs, const char *cur)
{
	if (cur[0] == '-') {
		cmd_complete_options(c, cur);
		return;
	}
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
		if (cmd_complete_skip_opt(cli, argv, argc - 1, &i))
			continue;
		if (leaf != NULL) {
			nargs++;
			continue;
		}
		if ((c = cli_lookup(ns->sub, argv[i])) == NULL)
			return CLI_EXIT_OK;
		if (c->sub != NULL)
			ns = c;
		else
			leaf = c;
	}
	if (leaf != NULL)
		cmd_complete_leaf(cli, leaf, nargs, cur);
	else if (cur[0] == '-')
		cmd_complete_options(ns, cur);
	else
		cmd_complete_words(ns, cur);
	return CLI_EXIT_OK;
}
