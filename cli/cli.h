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
#define CLI_EXIT_ERROR	 1   /* wrennd or the control plane reported an error */
#define CLI_EXIT_USAGE	 2   /* bad command line */
#define CLI_EXIT_CONNECT 3   /* cannot reach wrennd, or connection lost */
#define CLI_EXIT_SIGINT	 130 /* interrupted by Ctrl-C (128 + SIGINT) */
#define CLI_CONTINUE	 (-1) /* cli_common_opt(): keep parsing */

/* State shared by every command of one invocation. */
struct cli {
	const char *socket;  /* --socket; borrowed from argv, NULL = default */
	int json;	     /* --json: JSON output for scripts */
	int quiet;	     /* -q: only essential output */
	int verbose;	     /* -v: errors also show wrennd's own message */
	struct wrennctl *h;  /* owned; NULL until cli_connect() */
	const char *subject; /* what errors are about (rm A B: "A"), or NULL */
	char path[96];	     /* command words so far, for help and errors */
	const char *method;  /* the last call's method (static), or NULL */
	char object[160];    /* what the last call asked about, "sandbox
				cl-..." or "cl-...:PATH" (file), or "" */
	long exec_timeout;   /* sync exec: the timeout asked for (seconds) */
};

struct verb;

/*
 * One row of a command table. A row either runs (run) or is a namespace
 * whose verbs are in sub (terminated by a row with name NULL), or both:
 * then it runs unless its first argument names one of its verbs. A row whose
 * work is "one method call, shown a standard way" names its struct verb
 * (verb.c) and runs verb_run. New namespaces are new rows, nothing else.
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
	const struct verb *verb; /* for run == verb_run, else NULL */
};

/* Rows named "__..." are for scripts: not in help or completion. */
#define CLI_HIDDEN(c) ((c)->name[0] == '_' && (c)->name[1] == '_')

/* Table-writing helpers (file-scope compound literals). */
#define VERB_STRS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define VERB_OPTS(...)                                                         \
	((const struct verb_opt[]){__VA_ARGS__, {NULL, 0, NULL, VERB__MAX}})
#define VERB_ROW(name, alias, syn, summary, opts, v)                           \
	{                                                                      \
		name, alias, syn, summary, opts, verb_run, NULL, &v            \
	}
#define CMD_END                                                                \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL                 \
	}

/* How verb_run turns one option into a param. */
enum verb_type {
	VERB_STRING, /* --opt S: "param":"S" */
	VERB_INT,    /* --opt N: "param":N */
	VERB_FLAG,   /* --opt: "param":true */
	VERB_LIST,   /* --opt A (repeatable): "param":["A",...] */
	VERB_CSV,    /* --opt A,B (repeatable): "param":["A","B",...] */
	VERB_LINES,  /* --opt FILE ("-": stdin): its lines appended to a list */
	VERB_MAP,    /* --opt K=V (repeatable): "param":{"K":"V"} */
	VERB_JSON,   /* --opt JSON: "param":<JSON value> */
	VERB__MAX
};

/* An option of a verb; its help line is in the row's options text. */
struct verb_opt {
	const char *name;  /* long option, NULL ends the list */
	int key;	   /* short option letter, or 0 */
	const char *param; /* wire param it sets */
	enum verb_type type;
};

/* How a verb's result is shown to people (--json prints it as is). */
enum verb_show {
	VERB_SHOW_KV,	  /* "key: value" lines (keys first), sub as a table */
	VERB_SHOW_TABLE,  /* an array of objects as a table */
	VERB_SHOW_LIST,	  /* an array of strings, one per line */
	VERB_SHOW_DONE,	  /* "<done> <last argument>" */
	VERB_SHOW_CUSTOM, /* the verb's print function */
	VERB_SHOW__MAX
};

/*
 * One method call described as data: positional arguments and options
 * become params, the result is shown per show. args name the wire params
 * of the positional arguments in order; a trailing "..." on the last one
 * repeats the call once per remaining argument (rm A B C), a trailing "?"
 * makes it optional.
 */
struct verb {
	const char *method;
	const char *const *args;     /* NULL-terminated, or NULL */
	const struct verb_opt *opts; /* ends with name NULL, or NULL */
	enum verb_show show;
	const char *const *keys;  /* KV: shown first; TABLE: the columns */
	const char *const *heads; /* TABLE: column headings */
	const char *done;	  /* DONE: printed before the last argument */
	const char *quiet;	  /* -q: print only this member ("a.b") */
	const char *empty;	  /* TABLE/LIST: text when there is nothing */
	const char *fixed;	  /* JSON object merged into params */
	const char *sub;	  /* KV: array member shown as a table */
	const char *const *sub_keys;
	const char *const *sub_heads;
	const char *note; /* printed to stderr after success (people only) */
	/* CUSTOM: shows res (also for -q) of the call with params. */
	void (*print)(struct cli *cli, const struct verb *v,
	    const json_t *params, const json_t *res);
	unsigned int flags;
#define VERB_CONFIRM (1u << 0) /* refuse without --yes (destroys data) */
};

/* Options every command accepts; commands append their own. */
#define CLI_COMMON_SHORTOPTS "hjqs:v"
/* All but --socket, for a command whose -s is its own (kill). */
#define CLI_COMMON_LONGOPTS_BUT_SOCKET                                         \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'},    \
	    {"quiet", no_argument, NULL, 'q'},                                 \
	{                                                                      \
		"verbose", no_argument, NULL, 'v'                              \
	}
#define CLI_COMMON_LONGOPTS                                                    \
	CLI_COMMON_LONGOPTS_BUT_SOCKET,                                        \
	{                                                                      \
		"socket", required_argument, NULL, 's'                         \
	}

/* wrennctl.c */
void cli_getopt_reset(void);
int cli_common_opt(struct cli *cli, const struct cmd *self, int c);
/* Parse argv for the common options only: CLI_CONTINUE, or the exit code
 * (help printed, bad option); the arguments start at optind. */
int cli_common_only(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cli_usage(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_help(const struct cli *cli, const struct cmd *self, FILE *out);
int cli_connect(struct cli *cli);
int cli_call(struct cli *cli, const char *method, json_t *params_steal,
    json_t **ret_result);
void cli_set_object(struct cli *cli, const char *method, const json_t *params);
int cli_exit_code(int r);
int cli_parse_int(const struct cli *cli, const char *opt, const char *s,
    long min, long max, long *ret);
/*
 * Read all of the file path ("-" or NULL: stdin) into a malloc'd buffer
 * (*ret may be NULL when it is empty). 0, or -errno: -EFBIG past max
 * bytes, -EIO for a read error.
 */
int cli_read_file(
    const char *path, size_t max, unsigned char **ret, size_t *ret_len);
const struct cmd *cli_root_cmd(void);
const struct cmd *cli_lookup(const struct cmd *table, const char *word);
int cli_result_text(
    struct cli *cli, const char *method, int r, char *res, json_t **ret_result);

/* verb.c */
int verb_run(struct cli *cli, const struct cmd *self, int argc, char **argv);
int verb_call(struct cli *cli, const struct verb *v, json_t *params_steal,
    const char *last_arg);
void verb_show(struct cli *cli, const struct verb *v, const json_t *params,
    const json_t *res, const char *last_arg);

/* run.c: long calls that Ctrl-C cancels. */
typedef void (*run_event_fn)(
    struct cli *cli, const char *event, const json_t *ev, void *userdata);
void run_sigint_install(void);
int run_interrupted(void);
int run_abandoned(void);
int run_stream(struct cli *cli, const char *method, json_t *params_steal,
    run_event_fn on_event, void *userdata, json_t **ret_result,
    json_t **ret_error);
void run_hold_install(void);
int run_hold(struct cli *cli, const char *what);
int run_transfer(struct cli *cli, int upload, const char *sandbox,
    const char *path, const char *what, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, json_t **ret_result,
    json_t **ret_error);

/* output.c */
void output_json(const json_t *v, int pretty);
/* A $/stream event as one JSON line (--json), or a stdout or stderr
 * event ({"data": text}) written to that stream as it came: 1, else 0
 * (an event for the command to show). */
int output_event(const struct cli *cli, const char *event, const json_t *ev);
void output_result(const json_t *v);
void output_error(struct cli *cli, int r);
void output_error_local(struct cli *cli, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void output_kv(const json_t *obj, const char *const *first);
char *output_scalar(const json_t *v);
char *output_age(const json_t *v);
void output_bytes(char *buf, size_t size, double bytes);
void output_table_json(const json_t *rows, size_t ncols,
    const char *const *heads, const char *const *keys);
const json_t *output_path(const json_t *v, const char *path);
char *output_field(const json_t *obj, const char *path);

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
int cmd_exec_attach_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
/* "--env NAME=VALUE" into the "envs" object of params (made when
 * missing): CLI_CONTINUE, or an exit code (usage printed). exec, pty. */
int cmd_exec_env(struct cli *cli, json_t *params, const char *kv);
int cmd_pty_run(struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_process_ps_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_process_kill_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
/* A PID|TAG argument as the selector param (a number or a string). */
json_t *cmd_process_selector(const char *arg);
int cmd_cp_run(struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_fs_ls_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_fs_mkdir_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_fs_rm_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
extern const struct verb cmd_fs_usage_verb;
int cmd_code_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_proxy_url_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_proxy_http_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_portfwd_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
extern const struct cmd cmd_portfwd_verbs[];
int cmd_describe_methods_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_describe_method(struct cli *cli, const char *method);
int cmd_complete_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
int cmd_completion_run(
    struct cli *cli, const struct cmd *self, int argc, char **argv);
extern const struct cmd cmd_sandbox_verbs[];
extern const struct cmd cmd_stream_verbs[];
extern const struct cmd cmd_snapshot_verbs[];
extern const struct cmd cmd_key_verbs[];
extern const struct cmd cmd_host_verbs[];
extern const struct cmd cmd_team_verbs[];
extern const struct cmd cmd_user_verbs[];
extern const struct cmd cmd_channel_verbs[];
extern const struct cmd cmd_audit_verbs[];
extern const struct cmd cmd_build_verbs[];
extern const struct cmd cmd_admin_verbs[];

#endif /* WRENND_CLI_H */
