/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl cp LOCAL SANDBOX:PATH" and "wrennctl cp SANDBOX:PATH LOCAL":
 * files of any size, streamed by wrennd between a file descriptor we open
 * and pass (sandbox.stream_upload / stream_download) and the sandbox; "-"
 * is our stdin or stdout. wrennd verifies size and SHA-256 unless
 * --no-verify. A download to a path goes to a temporary file in the same
 * directory that is renamed over the target only on success, so a failed
 * or corrupt transfer never leaves a partial file under the final name.
 * A progress bar goes to stderr when it is a terminal.
 * Called by: the command table in wrennctl.c.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "wrennctl.h"

/* One side of the copy. */
struct cp_end {
	const char *arg;  /* as given (borrowed from argv) */
	char *sandbox;	  /* owned: sandbox id, NULL for a local end */
	const char *path; /* local path, or the path in the sandbox */
};

/* A transfer in progress. */
struct cp {
	struct cli *cli; /* borrowed */
	int upload;
	int fd;	      /* the local fd passed to wrennd */
	int fd_flags; /* its status flags before (O_NONBLOCK may change) */
	int own_fd;   /* fd is ours to close */
	char *tmp;    /* owned: temporary download file, or NULL */
	char *final;  /* owned: where tmp goes on success */
	int bar;      /* draw a progress bar on stderr */
	struct timespec start;
	double rate; /* bytes per second at the last progress */
};

/*
 * Split "SANDBOX:PATH" (no '/' before the colon); a local path is anything
 * else ("./a:b" for a local name with a colon).
 */
static int
cp_parse_end(const char *arg, struct cp_end *e)
{
	const char *colon = strchr(arg, ':');

	memset(e, 0, sizeof(*e));
	e->arg = arg;
	e->path = arg;
	if (colon == NULL || colon == arg ||
	    memchr(arg, '/', (size_t)(colon - arg)))
		return 0;
	if ((e->sandbox = strndup(arg, (size_t)(colon - arg))) == NULL)
		return -1;
	e->path = colon + 1;
	return 0;
}

static double
cp_elapsed(const struct cp *cp)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - cp->start.tv_sec) +
	    (double)(now.tv_nsec - cp->start.tv_nsec) / 1e9;
}

/* "12.0 MiB / 100.0 MiB  12%  4.0 MiB/s" on one refreshed line. */
static void
cp_bar(const struct cp *cp, uint64_t bytes, int64_t total, const char *end)
{
	char done[32], all[32], rate[32];

	output_bytes(done, sizeof(done), (double)bytes);
	output_bytes(rate, sizeof(rate), cp->rate);
	if (total > 0) {
		output_bytes(all, sizeof(all), (double)total);
		fprintf(stderr, "\r\033[K%s / %s  %3d%%  %s/s%s", done, all,
		    (int)((double)bytes * 100 / (double)total), rate, end);
	} else
		fprintf(stderr, "\r\033[K%s  %s/s%s", done, rate, end);
	(void)fflush(stderr);
}

/* A progress event: the rate so far, and the bar when there is one. */
static void
cp_progress_cb(struct wrennctl *h, uint64_t id, uint64_t bytes, int64_t total,
    void *userdata)
{
	struct cp *cp = userdata;
	double secs = cp_elapsed(cp);

	cp->rate = secs > 0 ? (double)bytes / secs : 0;
	if (cp->bar)
		cp_bar(cp, bytes, total, "");
}

/* What the sandbox has, next to what crossed wrennd, after "integrity". */
static void
cp_integrity(struct cp *cp, const json_t *err)
{
	const json_t *data = json_object_get(err, "data");
	const char *code = json_string_value(json_object_get(data, "code"));
	const char *sha = json_string_value(json_object_get(data, "sha256"));
	const char *ssha =
	    json_string_value(json_object_get(data, "sandbox_sha256"));

	if (cp->cli->json || code == NULL || strcmp(code, "integrity") != 0)
		return;
	if (sha != NULL && ssha != NULL)
		fprintf(stderr,
		    "wrennctl: %s %" JSON_INTEGER_FORMAT " bytes (sha256 %s),\n"
		    "wrennctl: the sandbox file has %" JSON_INTEGER_FORMAT
		    " bytes (sha256 %s)\n",
		    cp->upload ? "sent" : "received",
		    json_integer_value(json_object_get(data, "size")), sha,
		    json_integer_value(json_object_get(data, "sandbox_size")),
		    ssha);
	if (!cp->upload && cp->final != NULL)
		fprintf(stderr, "wrennctl: %s was not written\n", cp->final);
}

/* "<dir>/<prefix><name><suffix>" of path (malloc'd), or NULL. */
static char *
cp_sibling(const char *path, const char *prefix, const char *suffix)
{
	char *dir, *base, *out = NULL;
	size_t n;

	dir = strdup(path);
	base = strdup(path);
	if (dir != NULL && base != NULL) {
		n = strlen(path) + strlen(prefix) + strlen(suffix) + 3;
		if ((out = malloc(n)) != NULL)
			snprintf(out, n, "%s/%s%s%s", dirname(dir), prefix,
			    basename(base), suffix);
	}
	free(dir);
	free(base);
	return out;
}

/* Where a download goes: local, or local/NAME when local is a directory. */
static char *
cp_target(const char *local, const char *remote)
{
	struct stat st;
	char *name, *out;
	size_t n;

	if (stat(local, &st) < 0 || !S_ISDIR(st.st_mode))
		return strdup(local);
	if ((name = strdup(remote)) == NULL)
		return NULL;
	n = strlen(local) + strlen(remote) + 2;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s/%s", local, basename(name));
	free(name);
	return out;
}

/*
 * The local file of a download: a temporary file beside the target, mode
 * 0644 less the umask, renamed over the target by cp_close() on success.
 */
static int
cp_open_download(struct cp *cp, const char *local, const char *remote)
{
	mode_t mask;

	if ((cp->final = cp_target(local, remote)) == NULL ||
	    (cp->tmp = cp_sibling(cp->final, ".", ".wrennctl-XXXXXX")) ==
		NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((cp->fd = mkostemp(cp->tmp, O_CLOEXEC)) < 0) {
		free(cp->tmp);
		cp->tmp = NULL;
		return -1;
	}
	cp->own_fd = 1;
	mask = umask(0);
	(void)umask(mask);
	(void)fchmod(cp->fd, 0644 & ~mask);
	return 0;
}

/* Open (or take stdin/stdout for "-") the local end. */
static int
cp_open(struct cp *cp, const struct cp_end *local, const struct cp_end *remote)
{
	struct stat st;

	if (strcmp(local->path, "-") == 0) {
		cp->fd = cp->upload ? STDIN_FILENO : STDOUT_FILENO;
		(void)fflush(stdout);
	} else if (cp->upload) {
		cp->fd = open(local->path, O_RDONLY | O_CLOEXEC);
		if (cp->fd < 0)
			return -1;
		cp->own_fd = 1;
		if (fstat(cp->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			return -1;
		}
	} else if (cp_open_download(cp, local->path, remote->path) < 0)
		return -1;
	cp->fd_flags = fcntl(cp->fd, F_GETFL);
	return 0;
}

/* Put the local end in order: keep or drop the download, restore flags. */
static int
cp_close(struct cp *cp, int r)
{
	if (cp->fd >= 0 && cp->fd_flags >= 0)
		(void)fcntl(cp->fd, F_SETFL, cp->fd_flags);
	if (cp->tmp != NULL && r == 0 && fsync(cp->fd) < 0) {
		output_error_local(cp->cli, "io_error", "cannot write %s: %s",
		    cp->final, strerror(errno));
		r = CLI_EXIT_ERROR;
	}
	if (cp->own_fd && close(cp->fd) < 0 && r == 0 && cp->tmp != NULL) {
		output_error_local(cp->cli, "io_error", "cannot write %s: %s",
		    cp->final, strerror(errno));
		r = CLI_EXIT_ERROR;
	}
	if (cp->tmp != NULL && r == 0 && rename(cp->tmp, cp->final) < 0) {
		output_error_local(cp->cli, "io_error",
		    "cannot rename %s to %s: %s", cp->tmp, cp->final,
		    strerror(errno));
		r = CLI_EXIT_ERROR;
	}
	if (cp->tmp != NULL && r != 0)
		(void)unlink(cp->tmp);
	free(cp->tmp);
	free(cp->final);
	return r;
}

/* Run the transfer between the opened local end and the sandbox. */
static int
cp_transfer(struct cp *cp, const struct cp_end *remote, unsigned int flags)
{
	json_t *res = NULL, *err = NULL;
	json_int_t size;
	int r;

	(void)clock_gettime(CLOCK_MONOTONIC, &cp->start);
	run_sigint_install();
	r = run_transfer(cp->cli, cp->upload, remote->sandbox, remote->path,
	    cp->fd, flags, cp_progress_cb, cp, &res, &err);
	if (cp->bar && r == 0) {
		size = json_integer_value(json_object_get(res, "size"));
		cp_bar(cp, (uint64_t)size, size,
		    json_is_true(json_object_get(res, "verified"))
			? "  verified\n"
			: "\n");
	} else if (cp->bar)
		fputc('\n', stderr);
	if (err != NULL)
		cp_integrity(cp, err);
	/* The result JSON, unless stdout carries the file. */
	if (r == 0 && cp->cli->json &&
	    !(!cp->upload && cp->fd == STDOUT_FILENO))
		output_result(res);
	json_decref(res);
	json_decref(err);
	return r;
}

/* cp's options; CLI_CONTINUE or an exit code. */
static int
cp_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    unsigned int *flags)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"no-verify", no_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	*flags = WRENNCTL_VERIFY;
	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'N')
			*flags &= ~WRENNCTL_VERIFY;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind != 2)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	return CLI_CONTINUE;
}

int
cmd_cp_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	struct cp_end src, dst;
	struct cp cp;
	unsigned int flags;
	int r;

	if ((r = cp_opts(cli, self, argc, argv, &flags)) != CLI_CONTINUE)
		return r;
	if (cp_parse_end(argv[optind], &src) < 0 ||
	    cp_parse_end(argv[optind + 1], &dst) < 0)
		return CLI_EXIT_ERROR;
	memset(&cp, 0, sizeof(cp));
	cp.cli = cli;
	cp.fd = -1;
	cp.upload = dst.sandbox != NULL;
	if ((src.sandbox == NULL) == (dst.sandbox == NULL))
		r = cli_usage(cli,
		    "cp wants one local file and one "
		    "SANDBOX:PATH");
	else if (cp_open(&cp, cp.upload ? &src : &dst,
		     cp.upload ? &dst : &src) < 0) {
		output_error_local(cli, "io_error", "cannot open %s: %s",
		    cp.upload ? src.arg : dst.arg, strerror(errno));
		r = CLI_EXIT_ERROR;
	} else {
		cp.bar = isatty(STDERR_FILENO) && !cli->quiet && !cli->json;
		r = cp_transfer(&cp, cp.upload ? &dst : &src, flags);
	}
	r = cp_close(&cp, r);
	free(src.sandbox);
	free(dst.sandbox);
	return r;
}
