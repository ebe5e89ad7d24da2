/* SPDX-License-Identifier: MIT */
/*
 * wrennctl internals: the command table type, the state shared by all
 * commands, and the helpers the command files call. wrennctl talks to
 * wrennd only through the public libwrennctl API (wrennctl.h); jansson is
 * used to build params and format results.
 */
#ifndef WRENND_CLI_H
#define WRENND_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "wrennctl.h"

/* Exit codes (pinned, documented in wrennctl(1)). */
#define CLI_EXIT_OK	 0
#define CLI_EXIT_ERROR	 1 /* wrennd or the control plane reported an error */
#define CLI_EXIT_USAGE	 2 /* bad command line */
#define CLI_EXIT_CONNECT 3 /* cannot reach wrennd, or connection lost */
#define CLI_CONTINUE	 (-1) /* cli_common_opt(): keep parsing */

/* State shared by every command of one invocation. */
struct cli {
	const char *socket; /* --socket; borrowed from argv, NULL = default */
	int json;	    /* --json: JSON output for scripts */
	int quiet;	    /* -q: only essential output */
	struct wrennctl *h; /* owned; NULL until cli_connect() */
	char path[96];	    /* command words so far, for help and errors */
};

/*
 * One row of a command table. A row either runs (run) or is a namespace
 * whose verbs are in sub (terminated by a row with name NULL). Later
 * namespaces (snapshot, key, host, team, audit, build, admin, attach, cp)
 * are new rows, nothing else.
 */
struct cmd {
	const char *name;
	const char *alias;    /* second name, or NULL */
	const char *synopsis; /* after the command words, e.g. "SANDBOX" */
	const char *summary;  /* one line for listings */
	const char
	    *options; /* option help lines ("  -x, --xx  ..."), or NULL */
	int (*run)(struct cli *cli, const struct cmd *self, int argc,
	    char **argv); /* argv[0] is the command word */
	const struct cmd *sub;
};

/* Options every command accepts; commands append their own. */
#define CLI_COMMON_SHORTOPTS "hjqs:"
#define CLI_COMMON_LONGOPTS                                                    \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'},    \
	    {"quiet", no_argument, NULL, 'q'},                                 \
	{                                                                      \
		"socket", required_argument, NULL, 's'                         \
	}

/* wrennctl.c */
void cli_getopt_reset(void);
int cli_common_opt(struct cli *cli, const struct cmd *self, int c);
int cli_usage(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_help(const struct cli *cli, const struct cmd *self, FILE *out);
int cli_connect(struct cli *cli);
int cli_call(struct cli *cli, const char *method, json_t *params_steal,
    json_t **ret_result);
int cli_exit_code(int r);
int cli_parse_int(const struct cli *cli, const char *opt, const char *s,
    long min, long max, long *ret);

/* output.c */
void output_json(const json_t *v, int pretty);
void output_result(const json_t *v);
void output_error(struct cli *cli, int r);
void output_error_local(struct cli *cli, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void output_kv(const json_t *obj, const char *const *first);
char *output_scalar(const json_t *v);
void output_bytes(char *buf, size_t size, double bytes);

struct output_table;
struct output_table *output_table_new(size_t ncols, const char *const *heads);
int output_table_add(struct output_table *t, const char *const *cells);
void output_table_print(const struct output_table *t);
void output_table_free(struct output_table *t);

/* cmd-*.c */
int cmd_call_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_daemon_status_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_exec_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
extern const struct cmd cmd_sandbox_verbs[];

#endif /* WRENND_CLI_H */
