/* SPDX-License-Identifier: MIT */
/*
 * wrennctl: command-line client for wrennd. main(), the global options, the
 * command table and its dispatch, help, and the helpers every command uses
 * to connect and call (errors are printed once, here or in output.c, and
 * turned into the documented exit codes). The commands live in cmd-*.c.
 * Uses only the public libwrennctl API.
 */
#include "config.h"

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

static int cli_help_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);

#define CLI_COMMON_HELP                                                        \
	"  -j, --json           JSON output (errors as JSON on stderr)\n"      \
	"  -q, --quiet          print only essential output\n"                 \
	"  -s, --socket PATH    wrennd socket (default: $WRENND_SOCKET, "      \
	"else\n"                                                               \
	"                       $XDG_RUNTIME_DIR/wrennd/wrennd.sock, else\n"   \
	"                       /run/wrennd/wrennd.sock)\n"                    \
	"  -v, --verbose        errors also show wrennd's and the control "    \
	"plane's\n"                                                            \
	"                       own message\n"                                 \
	"  -h, --help           show this help\n"

/* The top-level commands. New namespaces are new rows. */
static const struct cmd cli_cmds[] = {
    {"sandbox", "sandboxes", "COMMAND [ARGS...]", "manage sandboxes", NULL,
	NULL, cmd_sandbox_verbs, NULL},
    {"exec", NULL, "[OPTIONS] SANDBOX [--] CMD [ARG...]",
	"run a command in a sandbox",
	"  -T, --timeout SEC    command timeout in seconds (default 30; not\n"
	"                       with --stream or --detach)\n"
	"  -S, --stream         print the output as it comes (Ctrl-C cancels)\n"
	"  -d, --detach         leave it running in wrennd; print the stream "
	"id\n"
	"  -b, --background     start it as a background process of the "
	"sandbox\n"
	"                       and print its pid and tag (v0.1.5 server)\n"
	"      --tag TAG        --background: the process's tag (default "
	"proc-...)\n"
	"  -e, --env NAME=VALUE --background: an environment variable "
	"(repeatable)\n"
	"  -C, --cwd DIR        --background: its working directory\n"
	"Without --stream, all of stdout is written, then all of stderr: the\n"
	"control plane returns them separately, so their interleaving is "
	"lost.\n"
	"Use --stream to keep their order.\n",
	cmd_exec_run, NULL, NULL},
    {"attach", NULL, "[--from-seq N] STREAM|SANDBOX [PID|TAG]",
	"replay and follow a detached exec stream, or follow a background "
	"process",
	"      --from-seq N     first event wanted (default: all buffered)\n"
	"With SANDBOX PID|TAG it follows that process's output from now on "
	"until it\nexits (v0.1.5 server), and exits with its status.\n",
	cmd_exec_attach_run, NULL, NULL},
    {"pty", NULL, "[OPTIONS] SANDBOX [-- CMD [ARG...]]",
	"an interactive terminal in a sandbox, or (--attach) back to one "
	"(v0.1.5 server)",
	"  -a, --attach ID      re-attach: a stream id (st-..., with what it "
	"printed\n"
	"                       since it started) or SANDBOX:TAG (its tag, "
	"pty-...)\n"
	"  -e, --env NAME=VALUE an environment variable (repeatable)\n"
	"  -C, --cwd DIR        its working directory\n"
	"      --cols N         terminal width (default: this terminal's, else "
	"80)\n"
	"      --rows N         terminal height (default: this terminal's, "
	"else 24)\n"
	"  -E, --escape CHAR    the escape character (default ~), or none\n"
	"CMD defaults to /bin/bash. On a terminal, Enter then ~. detaches "
	"(the session\ngoes on in wrennd; ~~ types one ~); wrennctl exits "
	"with the program's status.\n",
	cmd_pty_run, NULL, NULL},
    {"ps", NULL, "SANDBOX",
	"list the processes running in a sandbox (v0.1.5 server)", NULL,
	cmd_process_ps_run, NULL, NULL},
    {"kill", NULL, "[-s TERM|KILL] SANDBOX PID|TAG",
	"signal a process in a sandbox (default KILL; v0.1.5 server)",
	"  -s, --signal SIG     TERM or KILL (default KILL); the socket is\n"
	"                       --socket here\n",
	cmd_process_kill_run, NULL, NULL},
    {"stream", "streams", "COMMAND [ARGS...]", "exec streams held by wrennd",
	NULL, NULL, cmd_stream_verbs, NULL},
    {"cp", NULL, "[-r] [--no-verify] SRC DST",
	"copy a file or (-r) a directory to or from a sandbox (SANDBOX:PATH)",
	"  -r, --recursive      copy a directory (through tar on both sides)\n"
	"      --no-verify      skip the size and SHA-256 check in the "
	"sandbox\n"
	"                       (LOCAL may be - for stdin or stdout)\n",
	cmd_cp_run, NULL, NULL},
    {"run-code", NULL, "[-l LANGUAGE] [-T SEC] [-D DIR] SANDBOX [FILE|-]",
	"run code on the sandbox's Jupyter kernel (shared, keeps state)",
	"  -l, --language LANG  kernel language or kernelspec (default "
	"python)\n"
	"  -T, --timeout SEC    interrupt the code after SEC seconds (default "
	"30)\n"
	"  -D, --save-dir DIR   save images (PNG, JPEG, SVG, PDF) in DIR;\n"
	"                       when stdout is not a terminal they are saved "
	"in\n"
	"                       the current directory anyway\n"
	"The code is FILE, or stdin. Its output is printed as it comes, then "
	"the\n"
	"main result; an error in the code exits 1. Ctrl-C interrupts the "
	"kernel.\n",
	cmd_code_run, NULL, NULL},
    {"ls", NULL, "[-d DEPTH] SANDBOX:PATH",
	"list a directory in a sandbox, as ls -l does",
	"  -d, --depth N        also list N-1 levels below (1..64, default "
	"1)\n"
	"  -q, --quiet          names only\n"
	"PATH is relative to the home (/root); SANDBOX: alone is the home.\n",
	cmd_fs_ls_run, NULL, NULL},
    {"mkdir", NULL, "SANDBOX:PATH...",
	"make directories in a sandbox, with their parents (mkdir -p)", NULL,
	cmd_fs_mkdir_run, NULL, NULL},
    {"rm", NULL, "[-r] [-f] SANDBOX:PATH...",
	"remove files or directories in a sandbox",
	"  -r, --recursive      remove directories and what is in them\n"
	"  -f, --force          no error for a path that is not there\n",
	cmd_fs_rm_run, NULL, NULL},
    VERB_ROW("usage", NULL, "[--from YYYY-MM-DD] [--to YYYY-MM-DD]",
	"the team's CPU and memory use per day (v0.1.5 server)",
	"  -f, --from DATE      first day (default: 29 days before --to)\n"
	"  -t, --to DATE        last day (default: today, UTC)\n",
	cmd_fs_usage_verb),
    {"url", NULL, "SANDBOX PORT",
	"print the proxy URL of a port in a sandbox (needs an API key)", NULL,
	cmd_proxy_url_run, NULL, NULL},
    {"http", NULL,
	"[-H 'NAME: VALUE']... [-d DATA|@FILE|-] [-f] SANDBOX PORT "
	"[METHOD] PATH",
	"one HTTP request to a port in a sandbox; the body goes to stdout",
	"  -H, --header 'NAME: VALUE'\n"
	"                       a request header field (repeatable)\n"
	"  -d, --data DATA      the request body: DATA, @FILE or - for "
	"stdin\n"
	"                       (METHOD defaults to POST with it, else GET)\n"
	"  -f, --fail           exit 1 when the answer's status is 400 or "
	"more\n"
	"With -v the status and header fields go to stderr.\n",
	cmd_proxy_http_run, NULL, NULL},
    {"port-forward", NULL, "SANDBOX PORT [LOCAL] | ls | rm ID...",
	"forward a local port to a port in a sandbox until Ctrl-C",
	"LOCAL is a port on 127.0.0.1 (default: a free one), ADDR:PORT on\n"
	"loopback, or a Unix socket path. The forward lives while the "
	"command\n"
	"runs: Ctrl-C or SIGTERM closes it (exit 0); wrennd going away exits "
	"3.\n",
	cmd_portfwd_run, cmd_portfwd_verbs, NULL},
    {"snapshot", "snapshots", "COMMAND [ARGS...]", "snapshots and templates",
	NULL, NULL, cmd_snapshot_verbs, NULL},
    {"key", "keys", "COMMAND [ARGS...]", "API keys of the team", NULL, NULL,
	cmd_key_verbs, NULL},
    {"host", "hosts", "COMMAND [ARGS...]", "hosts that run sandboxes", NULL,
	NULL, cmd_host_verbs, NULL},
    {"team", "teams", "COMMAND [ARGS...]", "teams and their members", NULL,
	NULL, cmd_team_verbs, NULL},
    {"user", "users", "COMMAND [ARGS...]", "find users", NULL, NULL,
	cmd_user_verbs, NULL},
    {"channel", "channels", "COMMAND [ARGS...]", "notification channels", NULL,
	NULL, cmd_channel_verbs, NULL},
    {"audit", NULL, "COMMAND [ARGS...]", "the team's audit log", NULL, NULL,
	cmd_audit_verbs, NULL},
    {"build", "builds", "COMMAND [ARGS...]", "template builds (platform admin)",
	NULL, NULL, cmd_build_verbs, NULL},
    {"admin", NULL, "COMMAND [ARGS...]", "platform administration", NULL, NULL,
	cmd_admin_verbs, NULL},
    {"status", NULL, "", "show wrennd status and upstream health", NULL,
	cmd_daemon_status_run, NULL, NULL},
    {"call", NULL, "[--fd N]... METHOD [PARAMS_JSON|-]",
	"call any wrennd method; print the result JSON",
	"      --fd N           pass file descriptor N with the call; the "
	"params\n"
	"                       name the k-th --fd as {\"$fd\":k}\n",
	cmd_call_run, NULL, NULL},
    {"methods", NULL, "", "list wrennd's methods (rpc.describe)", NULL,
	cmd_describe_methods_run, NULL, NULL},
    {"help", NULL, "[COMMAND...|METHOD]",
	"help for a command, or a wrennd method (sandbox.exec)", NULL,
	cli_help_run, NULL, NULL},
    {"completion", NULL, "bash", "print the bash completion script", NULL,
	cmd_completion_run, NULL, NULL},
    {"__complete", NULL, "-- WORD... CURRENT",
	"completion candidates (used by the completion script)", NULL,
	cmd_complete_run, NULL, NULL},
    CMD_END,
};

/* The root, so help and dispatch treat wrennctl itself as a namespace. */
static const struct cmd cli_root = {
    "wrennctl",
    NULL,
    "[OPTIONS] COMMAND [ARGS...]",
    "command-line client for wrennd, the local gateway to the Wrenn "
    "sandbox cloud",
    "  -V, --version        show the wrennctl and libwrennctl versions\n",
    NULL,
    cli_cmds,
    NULL,
};

/* The root of the command table (completion walks it). */
const struct cmd *
cli_root_cmd(void)
{
	return &cli_root;
}

/* Make the next getopt_long() start afresh (GNU and musl: optind 0). */
void
cli_getopt_reset(void)
{
	optind = 0;
}

/* Print help for self (a namespace or a command) to out. */
void
cli_help(const struct cli *cli, const struct cmd *self, FILE *out)
{
	const struct cmd *c;
	char words[160];
	size_t w = 0, len;

	fprintf(out, "Usage: %s %s\n\n", cli->path, self->synopsis);
	fprintf(out, "%c%s.\n", toupper((unsigned char)self->summary[0]),
	    self->summary + 1);
	if (self->sub != NULL) {
		for (c = self->sub; c->name != NULL; c++) {
			snprintf(words, sizeof(words), "%s %s", c->name,
			    c->synopsis);
			len = strlen(words);
			if (len > w && !CLI_HIDDEN(c))
				w = len;
		}
		if (w > 40)
			w = 40;
		fprintf(out, "\nCommands:\n");
		for (c = self->sub; c->name != NULL; c++) {
			if (CLI_HIDDEN(c))
				continue;
			snprintf(words, sizeof(words), "%s %s", c->name,
			    c->synopsis);
			if (strlen(words) > w)
				fprintf(out, "  %s\n  %-*s  %s\n", words,
				    (int)w, "", c->summary);
			else
				fprintf(out, "  %-*s  %s\n", (int)w, words,
				    c->summary);
		}
	}
	fprintf(out, "\nOptions:\n");
	if (self->options != NULL)
		fputs(self->options, out);
	fputs(CLI_COMMON_HELP, out);
	if (self->sub != NULL)
		fprintf(out,
		    "\nRun '%s COMMAND --help' for more about a "
		    "command.\n",
		    cli->path);
	if (self == &cli_root)
		fprintf(out,
		    "\nExit status: 0 success, 1 error reported by wrennd or "
		    "the control plane,\n2 usage error, 3 cannot connect to "
		    "wrennd, 130 interrupted (Ctrl-C);\nexec, attach and pty "
		    "exit "
		    "with the command's status. See wrennctl(1).\n");
}

/* Report a command-line error; returns CLI_EXIT_USAGE. */
int
cli_usage(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wrennctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cli->path);
	return CLI_EXIT_USAGE;
}

/* Options every command shares; CLI_CONTINUE or an exit code. */
int
cli_common_opt(struct cli *cli, const struct cmd *self, int c)
{
	switch (c) {
	case 'h':
		cli_help(cli, self, stdout);
		return CLI_EXIT_OK;
	case 'j':
		cli->json = 1;
		return CLI_CONTINUE;
	case 'q':
		cli->quiet = 1;
		return CLI_CONTINUE;
	case 's':
		cli->socket = optarg;
		return CLI_CONTINUE;
	case 'v':
		cli->verbose = 1;
		return CLI_CONTINUE;
	default:
		/* getopt_long already said what was wrong. */
		fprintf(stderr, "Try '%s --help'.\n", cli->path);
		return CLI_EXIT_USAGE;
	}
}

/* Parse the options every command shares and no others. */
int
cli_common_only(struct cli *cli, const struct cmd *self, int argc, char **argv)
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
	return CLI_CONTINUE;
}

/* Parse an integer option argument in [min, max]. */
int
cli_parse_int(const struct cli *cli, const char *opt, const char *s, long min,
    long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return cli_usage(cli,
		    "%s wants a number from %ld to %ld, "
		    "not '%s'",
		    opt, min, max, s);
	*ret = v;
	return 0;
}

int
cli_read_file(
    const char *path, size_t max, unsigned char **ret, size_t *ret_len)
{
	int stdin_ = path == NULL || strcmp(path, "-") == 0;
	unsigned char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;
	FILE *f = stdin_ ? stdin : fopen(path, "rb");
	int r = 0;

	if (f == NULL)
		return -errno;
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1) {
				r = -EFBIG;
				break;
			}
			cap = cap > 0 ? cap * 2 : 65536;
			cap = cap > max + 1 ? max + 1 : cap;
			if ((p = realloc(buf, cap)) == NULL) {
				r = -ENOMEM;
				break;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			r = ferror(f) ? -EIO : 0;
			break;
		}
	}
	if (r == 0 && len > max)
		r = -EFBIG;
	if (!stdin_)
		(void)fclose(f);
	if (r != 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int
cli_exit_code(int r)
{
	switch (r) {
	case 0:
		return CLI_EXIT_OK;
	case WRENNCTL_E_CONNECT:
		return CLI_EXIT_CONNECT;
	case WRENNCTL_E_INVAL:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_ERROR;
	}
}

/* What to do about a failed connect(2), by its errno (NULL: no advice). */
static const char *
cli_connect_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return "Is wrennd running? (see wrennd(8); set --socket or "
		       "WRENND_SOCKET)";
	case EACCES:
	case EPERM:
		return "The socket's mode or group does not let you in: run "
		       "as wrennd's user, or start wrennd with --socket-mode "
		       "0660 on a socket whose group you are in (see "
		       "wrennd(8))";
	case ECONNREFUSED:
		return "Nothing listens on it: a stale socket left by a "
		       "wrennd that is gone? Start wrennd (it replaces a stale "
		       "socket) or set --socket or WRENND_SOCKET to the "
		       "running one";
	default:
		return NULL;
	}
}

/* Connect on first use; prints the failure and returns an exit code. */
int
cli_connect(struct cli *cli)
{
	const char *hint;
	char *path = NULL;
	int r, saved;

	if (cli->h != NULL)
		return 0;
	errno = 0;
	r = wrennctl_new(cli->socket, &cli->h);
	if (r == 0)
		return 0;
	saved = errno;
	if (wrennctl_socket_path(cli->socket, &path) < 0)
		path = NULL;
	if (r == WRENNCTL_E_CONNECT && saved != 0) {
		hint = cli_connect_hint(saved);
		output_error_local(cli, "connect",
		    "cannot connect to wrennd at %s: %s.%s%s",
		    path != NULL ? path : "?", strerror(saved),
		    hint != NULL ? " " : "", hint != NULL ? hint : "");
	} else if (r == WRENNCTL_E_INVAL)
		output_error_local(cli, "invalid_argument",
		    "bad socket path %s", path != NULL ? path : "?");
	else
		output_error_local(cli, "connect",
		    "cannot talk to wrennd at %s: %s",
		    path != NULL ? path : "?", wrennctl_strerror(r));
	free(path);
	return r == WRENNCTL_E_INVAL ? CLI_EXIT_USAGE : CLI_EXIT_CONNECT;
}

/* Which param names the object a method is about, in order of preference. */
static const struct {
	const char *param;
	const char *noun;
} cli_objects[] = {
    {"sandbox_id", "sandbox"},
    {"stream_id", "stream"},
    {"build_id", "build"},
    {"channel_id", "channel"},
    {"host_id", "host"},
    {"key_id", "API key"},
    {"user_id", "user"},
    {"team_id", "team"},
};

/*
 * Remember what method's call with params is about ("sandbox cl-...") so
 * that output_error() can say "sandbox cl-... not found" instead of the
 * control plane's own words. Snapshots and templates are named by "name".
 */
void
cli_set_object(struct cli *cli, const char *method, const json_t *params)
{
	const char *id;
	size_t i;

	cli->object[0] = '\0';
	cli->method = method;
	for (i = 0; i < sizeof(cli_objects) / sizeof(cli_objects[0]); i++) {
		id = json_string_value(
		    json_object_get(params, cli_objects[i].param));
		if (id != NULL) {
			snprintf(cli->object, sizeof(cli->object), "%s %s",
			    cli_objects[i].noun, id);
			return;
		}
	}
	id = json_string_value(json_object_get(params, "name"));
	if (id != NULL &&
	    (strncmp(method, "snapshots.", 10) == 0 ||
		strncmp(method, "admin.", 6) == 0))
		snprintf(cli->object, sizeof(cli->object), "template %s", id);
}

/*
 * Call method with params (taken over; NULL for none) and parse the
 * result into *ret_result (owned by the caller). Prints errors; returns 0
 * or an exit code.
 */
int
cli_call(struct cli *cli, const char *method, json_t *params_steal,
    json_t **ret_result)
{
	json_error_t jerr;
	char *text = NULL, *res = NULL;
	json_t *result;
	int r;

	if ((r = cli_connect(cli)) != 0) {
		json_decref(params_steal);
		return r;
	}
	cli_set_object(cli, method, params_steal);
	if (params_steal != NULL) {
		text = json_dumps(params_steal, JSON_COMPACT);
		json_decref(params_steal);
		if (text == NULL) {
			output_error_local(cli, "nomem", "out of memory");
			return CLI_EXIT_ERROR;
		}
	}
	r = wrennctl_call(cli->h, method, text, &res);
	free(text);
	if (r < 0) {
		output_error(cli, r);
		return cli_exit_code(r);
	}
	result = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	free(res);
	if (result == NULL) {
		output_error_local(cli, "protocol",
		    "cannot parse the result of %s: %s", method, jerr.text);
		return CLI_EXIT_ERROR;
	}
	*ret_result = result;
	return 0;
}

/* Append a command word to cli->path. */
static void
cli_path_push(struct cli *cli, const char *word)
{
	size_t len = strlen(cli->path);

	snprintf(cli->path + len, sizeof(cli->path) - len, "%s%s",
	    len > 0 ? " " : "", word);
}

const struct cmd *
cli_lookup(const struct cmd *table, const char *word)
{
	const struct cmd *c;

	for (c = table; c->name != NULL; c++)
		if (strcmp(c->name, word) == 0 ||
		    (c->alias != NULL && strcmp(c->alias, word) == 0))
			return c;
	return NULL;
}

#define CLI_SUGGEST_MAX_LEN 64 /* longer words are never suggested for */

/*
 * Edit distance of a and b (insertions, deletions, substitutions and
 * transpositions of neighbours, as git's "did you mean" counts them).
 */
static size_t
cli_distance(const char *a, const char *b)
{
	size_t row[3][CLI_SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b), i, j, best;
	size_t *prev2, *prev, *cur;

	if (la > CLI_SUGGEST_MAX_LEN || lb > CLI_SUGGEST_MAX_LEN)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[0][j] = j;
	for (i = 1; i <= la; i++) {
		/* Rows i, i - 1 and i - 2, in turn. */
		cur = row[i % 3];
		prev = row[(i + 2) % 3];
		prev2 = row[(i + 1) % 3];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			best = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return row[la % 3][lb];
}

/* Whether word is close enough to name to suggest it. */
static int
cli_similar(const char *word, const char *name)
{
	size_t len = strlen(word), d = cli_distance(word, name);

	if (len >= 2 && strncmp(name, word, len) == 0)
		return 1; /* a prefix: "sand" for "sandbox" */
	return d <= 2 && d < len;
}

/*
 * "unknown command" with the commands of ns that look like word (by
 * edit distance, as git and kubectl suggest). Returns CLI_EXIT_USAGE.
 */
static int
cli_unknown(const struct cli *cli, const struct cmd *ns, const char *word)
{
	const struct cmd *c;
	int n = 0;

	fprintf(stderr, "wrennctl: unknown command '%s' for '%s'\n", word,
	    cli->path);
	for (c = ns->sub; c->name != NULL; c++) {
		if (CLI_HIDDEN(c) ||
		    !(cli_similar(word, c->name) ||
			(c->alias != NULL && cli_similar(word, c->alias))))
			continue;
		if (n++ == 0)
			fprintf(stderr, "\nDid you mean this?\n");
		fprintf(stderr, "\t%s\n", c->name);
	}
	if (n > 0)
		fputc('\n', stderr);
	fprintf(stderr, "Try '%s --help'.\n", cli->path);
	return CLI_EXIT_USAGE;
}

/* Run argv[0] from table (a namespace descends into its verbs). */
static int
cli_dispatch(struct cli *cli, const struct cmd *ns, int argc, char **argv)
{
	const struct cmd *c;

	c = cli_lookup(ns->sub, argv[0]);
	if (c == NULL)
		return cli_unknown(cli, ns, argv[0]);
	cli_path_push(cli, c->name);
	/* A row with both runs unless its first word names one of its
	 * verbs (port-forward SANDBOX PORT, port-forward ls). */
	if (c->sub != NULL &&
	    (c->run == NULL ||
		(argc >= 2 && cli_lookup(c->sub, argv[1]) != NULL))) {
		if (argc < 2) {
			cli_help(cli, c, stderr);
			return CLI_EXIT_USAGE;
		}
		if (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0) {
			cli_help(cli, c, stdout);
			return CLI_EXIT_OK;
		}
		return cli_dispatch(cli, c, argc - 1, argv + 1);
	}
	/* getopt's own messages then read "wrennctl sandbox get: ...". */
	argv[0] = cli->path;
	cli_getopt_reset();
	return c->run(cli, c, argc, argv);
}

/*
 * "wrennctl help [COMMAND...]": help for the named command; "wrennctl help
 * METHOD" (a name with a dot) describes a wrennd method.
 */
static int
cli_help_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const struct cmd *ns = &cli_root, *c;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-j") == 0 ||
		    strcmp(argv[i], "--json") == 0)
			cli->json = 1;
		else
			return cli_usage(
			    cli, "usage: %s %s", cli->path, self->synopsis);
	}
	if (argc - i == 1 && strchr(argv[i], '.') != NULL)
		return cmd_describe_method(cli, argv[i]);
	snprintf(cli->path, sizeof(cli->path), "wrennctl");
	for (; i < argc; i++) {
		if (ns->sub == NULL)
			return cli_usage(cli, "'%s' has no command '%s'",
			    cli->path, argv[i]);
		if ((c = cli_lookup(ns->sub, argv[i])) == NULL)
			return cli_unknown(cli, ns, argv[i]);
		cli_path_push(cli, c->name);
		ns = c;
	}
	cli_help(cli, ns, stdout);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct cli cli;
	int c, r;

	memset(&cli, 0, sizeof(cli));
	cli_path_push(&cli, "wrennctl");
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS "V", opts,
		    NULL)) != -1) {
		if (c == 'V') {
			printf("wrennctl %s (libwrennctl %s)\n",
			    PACKAGE_VERSION, wrennctl_version());
			return CLI_EXIT_OK;
		}
		if ((r = cli_common_opt(&cli, &cli_root, c)) != CLI_CONTINUE)
			return r;
	}
	if (optind >= argc) {
		cli_help(&cli, &cli_root, stderr);
		return CLI_EXIT_USAGE;
	}
	r = cli_dispatch(&cli, &cli_root, argc - optind, argv + optind);
	cli.h = wrennctl_free(cli.h);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (r == CLI_EXIT_OK) {
			fprintf(stderr, "wrennctl: write error: %s\n",
			    strerror(errno));
			r = CLI_EXIT_ERROR;
		}
	}
	return r;
}
