/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl sandbox ...": the sandbox lifecycle verbs (create, list, get,
 * rm, pause, resume, ping, wait, metrics, stats) over the sandboxes.* and
 * sandbox.* methods. Each verb is a row of cmd_sandbox_verbs; people get
 * tables and "key: value" blocks, --json gives the result objects.
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wrennctl.h"

/* Sandbox fields in the order people read them; others follow. */
static const char *const cmd_sandbox_fields[] = {"id", "status", "template",
    "vcpus", "memory_mb", "timeout_sec", "host_ip", "created_at", "started_at",
    "last_active_at", "last_updated", NULL};

/*
 * Parse the common options of a verb whose only extra option is "opt"
 * (long name, or NULL) with an integer or string argument. Returns
 * CLI_CONTINUE when the verb should run.
 */
static int
cmd_sandbox_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    const char *opt, const char **ret_optarg)
{
	struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {opt != NULL ? opt : "", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	int timeout = opt != NULL && strcmp(opt, "timeout") == 0;
	int c, r;

	if (opt == NULL)
		opts[sizeof(opts) / sizeof(opts[0]) - 2].name = NULL;
	/* -T is --timeout in every command that has one. */
	while ((c = getopt_long(argc, argv,
		    timeout ? CLI_COMMON_SHORTOPTS "T:" : CLI_COMMON_SHORTOPTS,
		    opts, NULL)) != -1) {
		if (c == 'o' || c == 'T') {
			*ret_optarg = optarg;
			continue;
		}
		if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	return CLI_CONTINUE;
}

/* Parse the options and exactly one SANDBOX argument. */
static int
cmd_sandbox_one(struct cli *cli, const struct cmd *self, int argc, char **argv,
    const char *opt, const char **ret_optarg, const char **ret_id)
{
	int r;

	r = cmd_sandbox_opts(cli, self, argc, argv, opt, ret_optarg);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage(cli, "%s wants one SANDBOX id", self->name);
	*ret_id = argv[optind];
	return CLI_CONTINUE;
}

static int
cmd_sandbox_create(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"template", required_argument, NULL, 't'},
	    {"vcpus", required_argument, NULL, 'c'},
	    {"memory", required_argument, NULL, 'm'},
	    {"timeout", required_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	json_t *params, *res = NULL;
	long v;
	int c, r;

	if ((params = json_object()) == NULL)
		return CLI_EXIT_ERROR;
	while ((c = getopt_long(argc, argv,
		    CLI_COMMON_SHORTOPTS "t:c:m:T:", opts, NULL)) != -1) {
		r = CLI_CONTINUE;
		switch (c) {
		case 't':
			(void)json_object_set_new(
			    params, "template", json_string(optarg));
			break;
		case 'c':
		case 'm':
		case 'T':
			r = cli_parse_int(cli,
			    c == 'c'	   ? "--vcpus"
				: c == 'm' ? "--memory"
					   : "--timeout",
			    optarg, c == 'T' ? 0 : 1, 2147483647L, &v);
			if (r == 0) {
				(void)json_object_set_new(params,
				    c == 'c'	   ? "vcpus"
					: c == 'm' ? "memory_mb"
						   : "timeout_sec",
				    json_integer(v));
				r = CLI_CONTINUE;
			}
			break;
		default:
			r = cli_common_opt(cli, self, c);
			break;
		}
		if (r != CLI_CONTINUE) {
			json_decref(params);
			return r;
		}
	}
	if (optind != argc) {
		json_decref(params);
		return cli_usage(cli, "create takes options only");
	}
	if ((r = cli_call(cli, "sandboxes.create", params, &res)) != 0)
		return r;
	if (cli->json)
		output_result(res);
	else if (cli->quiet)
		printf("%s\n", json_string_value(json_object_get(res, "id")));
	else
		output_kv(res, cmd_sandbox_fields);
	json_decref(res);
	return CLI_EXIT_OK;
}

/*
 * Drop the stopped sandboxes from the list res (as docker ps hides exited
 * containers); returns how many were dropped.
 */
static size_t
cmd_sandbox_drop_stopped(json_t *res)
{
	const char *status;
	size_t i = 0, n = 0;

	while (i < json_array_size(res)) {
		status = json_string_value(
		    json_object_get(json_array_get(res, i), "status"));
		if (status != NULL && strcmp(status, "stopped") == 0) {
			(void)json_array_remove(res, i);
			n++;
		} else
			i++;
	}
	return n;
}

static int
cmd_sandbox_list(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"all", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	json_t *res = NULL, *sb;
	size_t i, hidden = 0;
	int c, r, all = 0;

	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS "a", opts, NULL)) != -1) {
		if (c == 'a')
			all = 1;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (optind != argc)
		return cli_usage(cli, "list takes no arguments");
	if ((r = cli_call(cli, "sandboxes.list", NULL, &res)) != 0)
		return r;
	if (!all && json_is_array(res))
		hidden = cmd_sandbox_drop_stopped(res);
	if (cli->json) {
		output_result(res);
	} else if (cli->quiet) {
		json_array_foreach(res, i, sb)
			printf("%s\n",
			    json_string_value(json_object_get(sb, "id")));
	} else {
		if (json_array_size(res) == 0)
			printf("No sandboxes.\n");
		else
			output_table_json(res, 6,
			    VERB_STRS("ID", "STATUS", "TEMPLATE", "VCPUS",
				"MEMORY_MB", "CREATED"),
			    VERB_STRS("id", "status", "template", "vcpus",
				"memory_mb", "created_at"));
		if (hidden > 0)
			fprintf(stderr,
			    "wrennctl: %zu stopped sandbox%s not shown (--all "
			    "shows %s)\n",
			    hidden, hidden == 1 ? "" : "es",
			    hidden == 1 ? "it" : "them");
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

static int
cmd_sandbox_get(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	const char *id = NULL;
	json_t *res = NULL;
	int r;

	r = cmd_sandbox_one(cli, self, argc, argv, NULL, NULL, &id);
	if (r != CLI_CONTINUE)
		return r;
	r = cli_call(
	    cli, "sandboxes.get", json_pack("{s:s}", "sandbox_id", id), &res);
	if (r != 0)
		return r;
	if (cli->json)
		output_result(res);
	else
		output_kv(res, cmd_sandbox_fields);
	json_decref(res);
	return CLI_EXIT_OK;
}

/* rm: every id is tried; the exit code is the worst failure. */
static int
cmd_sandbox_rm(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	json_t *res;
	int r, worst = CLI_EXIT_OK;

	r = cmd_sandbox_opts(cli, self, argc, argv, NULL, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (optind == argc)
		return cli_usage(cli, "rm wants at least one SANDBOX id");
	for (; optind < argc; optind++) {
		res = NULL;
		cli->subject = argv[optind];
		r = cli_call(cli, "sandboxes.destroy",
		    json_pack("{s:s}", "sandbox_id", argv[optind]), &res);
		cli->subject = NULL;
		if (r != 0) {
			if (r > worst)
				worst = r;
			if (r == CLI_EXIT_CONNECT)
				break;
			continue;
		}
		if (cli->json)
			output_json(res, 0);
		else if (!cli->quiet)
			printf("Destroyed %s\n", argv[optind]);
		json_decref(res);
	}
	return worst;
}

/* pause, resume, ping, wait: one id in, a short confirmation out. */
static int
cmd_sandbox_simple(struct cli *cli, const struct cmd *self, int argc,
    char **argv, const char *method, const char *done)
{
	const char *id = NULL, *tmo = NULL;
	const char *status;
	json_t *params, *res = NULL;
	long sec;
	int r;

	r = cmd_sandbox_one(cli, self, argc, argv,
	    strcmp(self->name, "wait") == 0 ? "timeout" : NULL, &tmo, &id);
	if (r != CLI_CONTINUE)
		return r;
	if ((params = json_pack("{s:s}", "sandbox_id", id)) == NULL)
		return CLI_EXIT_ERROR;
	if (tmo != NULL) {
		if ((r = cli_parse_int(
			 cli, "--timeout", tmo, 1, 86400, &sec)) != 0) {
			json_decref(params);
			return r;
		}
		(void)json_object_set_new(
		    params, "timeout_sec", json_integer(sec));
	}
	if ((r = cli_call(cli, method, params, &res)) != 0)
		return r;
	if (cli->json)
		output_result(res);
	else if (!cli->quiet) {
		status = json_string_value(json_object_get(res, "status"));
		if (status != NULL)
			printf("%s %s (%s)\n", done, id, status);
		else
			printf("%s %s\n", done, id);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

static int
cmd_sandbox_pause(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	return cmd_sandbox_simple(
	    cli, self, argc, argv, "sandbox.pause", "Paused");
}

static int
cmd_sandbox_resume(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	return cmd_sandbox_simple(
	    cli, self, argc, argv, "sandbox.resume", "Resumed");
}

static int
cmd_sandbox_ping(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	return cmd_sandbox_simple(
	    cli, self, argc, argv, "sandbox.ping", "Pinged");
}

static int
cmd_sandbox_wait(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	return cmd_sandbox_simple(
	    cli, self, argc, argv, "sandbox.wait_ready", "Ready:");
}

static int
cmd_sandbox_metrics(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const char *const heads[] = {"TIME", "CPU%", "MEMORY", "DISK"};
	struct output_table *t;
	const char *id = NULL, *range = NULL;
	const char *cells[4];
	char when[32], cpu[32], mem[32], disk[32];
	json_t *params, *res = NULL, *p;
	struct tm tm;
	time_t ts;
	size_t i;
	int r;

	r = cmd_sandbox_one(cli, self, argc, argv, "range", &range, &id);
	if (r != CLI_CONTINUE)
		return r;
	if ((params = json_pack("{s:s}", "sandbox_id", id)) == NULL)
		return CLI_EXIT_ERROR;
	if (range != NULL)
		(void)json_object_set_new(params, "range", json_string(range));
	if ((r = cli_call(cli, "sandbox.metrics", params, &res)) != 0)
		return r;
	if (cli->json) {
		output_result(res);
	} else if (json_array_size(json_object_get(res, "points")) == 0) {
		if (!cli->quiet)
			printf("No metrics for %s in range %s.\n", id,
			    json_is_string(json_object_get(res, "range"))
				? json_string_value(
				      json_object_get(res, "range"))
				: "-");
	} else if ((t = output_table_new(4, heads)) != NULL) {
		json_array_foreach(json_object_get(res, "points"), i, p) {
			ts = (time_t)json_integer_value(
			    json_object_get(p, "timestamp_unix"));
			if (gmtime_r(&ts, &tm) == NULL ||
			    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
				&tm) == 0)
				snprintf(when, sizeof(when), "-");
			snprintf(cpu, sizeof(cpu), "%.1f",
			    json_number_value(json_object_get(p, "cpu_pct")));
			output_bytes(mem, sizeof(mem),
			    json_number_value(json_object_get(p, "mem_bytes")));
			output_bytes(disk, sizeof(disk),
			    json_number_value(
				json_object_get(p, "disk_bytes")));
			cells[0] = when;
			cells[1] = cpu;
			cells[2] = mem;
			cells[3] = disk;
			(void)output_table_add(t, cells);
		}
		output_table_print(t);
		output_table_free(t);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

static int
cmd_sandbox_stats(
    struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const char *const order[] = {"range", "current", "peaks", NULL};
	const char *range = NULL;
	json_t *res = NULL, *series;
	int r;

	r = cmd_sandbox_opts(cli, self, argc, argv, "range", &range);
	if (r != CLI_CONTINUE)
		return r;
	if (optind != argc)
		return cli_usage(cli, "stats takes no arguments");
	r = cli_call(cli, "sandboxes.get_stats",
	    range != NULL ? json_pack("{s:s}", "range", range) : NULL, &res);
	if (r != 0)
		return r;
	if (cli->json) {
		output_result(res);
	} else {
		/* The time series is for graphs; people get its length. */
		series = json_object_get(res, "series");
		if (json_is_object(series)) {
			(void)json_object_set_new(res, "series",
			    json_integer((json_int_t)json_array_size(
				json_object_get(series, "labels"))));
		}
		output_kv(res, order);
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

#define CMD_SANDBOX_TIMEOUT_HELP                                               \
	"  -T, --timeout SEC    give up after SEC seconds (default 30)\n"

const struct cmd cmd_sandbox_verbs[] = {
    {"create", NULL, "[OPTIONS]", "create a sandbox",
	"  -t, --template NAME  template (default: minimal)\n"
	"  -c, --vcpus N        virtual CPUs (default 1)\n"
	"  -m, --memory MB      memory in MiB (default 512)\n"
	"  -T, --timeout SEC    pause after SEC idle seconds (default 0: "
	"never)\n",
	cmd_sandbox_create, NULL, NULL},
    {"list", "ls", "[--all]", "list sandboxes but stopped ones (-q: ids only)",
	"  -a, --all            stopped sandboxes too\n", cmd_sandbox_list,
	NULL, NULL},
    {"get", "show", "SANDBOX", "show one sandbox", NULL, cmd_sandbox_get, NULL,
	NULL},
    {"rm", "destroy", "SANDBOX...", "destroy sandboxes", NULL, cmd_sandbox_rm,
	NULL, NULL},
    {"pause", NULL, "SANDBOX", "pause a sandbox (snapshot and release)", NULL,
	cmd_sandbox_pause, NULL, NULL},
    {"resume", NULL, "SANDBOX", "resume a paused sandbox", NULL,
	cmd_sandbox_resume, NULL, NULL},
    {"ping", NULL, "SANDBOX", "reset a sandbox's inactivity timer", NULL,
	cmd_sandbox_ping, NULL, NULL},
    {"wait", NULL, "[--timeout SEC] SANDBOX", "wait until a sandbox is running",
	CMD_SANDBOX_TIMEOUT_HELP, cmd_sandbox_wait, NULL, NULL},
    {"metrics", NULL, "[--range RANGE] SANDBOX",
	"CPU, memory and disk samples of a sandbox",
	"      --range RANGE    5m, 10m (default), 1h, 2h, 6h, 12h, 24h\n",
	cmd_sandbox_metrics, NULL, NULL},
    {"stats", NULL, "[--range RANGE]", "usage statistics of the team",
	"      --range RANGE    5m, 1h (default), 6h, 24h, 30d\n",
	cmd_sandbox_stats, NULL, NULL},
    CMD_END,
};
