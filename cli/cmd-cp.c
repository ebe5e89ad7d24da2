/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl cp LOCAL SANDBOX:PATH" and "wrennctl cp SANDBOX:PATH LOCAL":
 * files of any size, streamed by wrennd between a file descriptor we open
 * and pass (sandbox.stream_upload / stream_download) and the sandbox; "-"
 * is our stdin or stdout. wrennd verifies size and SHA-256 unless
 * --no-verify. Both directions go to a temporary name beside the target
 * that becomes the target only on success (a local rename(2), or "mv"
 * through the exec route in the sandbox; a failed upload's temporary file
 * is removed the same way), so a failed, interrupted or corrupt transfer
 * never leaves a partial file under the final name. "cp -r" copies
 * directories as a tar stream: tar runs here and in the sandbox, the
 * archive crosses as one verified file. A download without verification
 * that got no bytes is flagged (the control plane answers a missing file
 * with an empty body). A progress bar goes to stderr when it is a
 * terminal.
 * Called by: the command table in wrennctl.c.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	char *rtmp;   /* owned: the upload's temporary name in the sandbox */
	pid_t tar;    /* local tar of "cp -r", or -1 */
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

static void cp_empty_warning(const struct cp *cp, const struct cp_end *remote,
    const json_t *res, unsigned int flags);

/*
 * Run the transfer between the opened local end and path in the sandbox
 * of remote (its own path, or a temporary name; errors name remote).
 */
static int
cp_transfer(struct cp *cp, const struct cp_end *remote, const char *path,
    unsigned int flags)
{
	json_t *res = NULL, *err = NULL;
	json_int_t size;
	int r;

	(void)clock_gettime(CLOCK_MONOTONIC, &cp->start);
	run_sigint_install();
	r = run_transfer(cp->cli, cp->upload, remote->sandbox, path,
	    remote->arg, cp->fd, flags, cp_progress_cb, cp, &res, &err);
	if (r == 0)
		cp_empty_warning(cp, remote, res, flags);
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

/* "<random hex>" for temporary names (16 hex digits). */
static void
cp_random(char *buf, size_t size)
{
	unsigned char r[8];
	size_t i;

	if (getentropy(r, sizeof(r)) < 0) {
		/* Unique enough for a name nobody else picks: pid and time. */
		snprintf(buf, size, "%08x%08lx", (unsigned)getpid(),
		    (unsigned long)time(NULL));
		return;
	}
	for (i = 0; i < sizeof(r) && 2 * i + 2 < size; i++)
		snprintf(buf + 2 * i, size - 2 * i, "%02x", r[i]);
}

/* A temporary name beside path (local or in the sandbox), malloc'd. */
static char *
cp_temp_name(const char *path, const char *ext)
{
	char rnd[20], suffix[48];

	cp_random(rnd, sizeof(rnd));
	snprintf(suffix, sizeof(suffix), ".wrennctl-%s%s", rnd, ext);
	return cp_sibling(path, ".", suffix);
}

/* path without trailing slashes ("dir/" -> "dir"; "/" stays), in place. */
static void
cp_strip_slashes(char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
}

/*
 * Run the shell script with args ($1...) in the sandbox through
 * sandbox.exec. Returns 0 when it exits 0; otherwise prints "in sandbox
 * ID: <its stderr>" (unless quiet) and returns CLI_EXIT_ERROR.
 */
static int
cp_sh(struct cli *cli, const char *sandbox, const char *script,
    const char *const *args, int quiet)
{
	json_t *params, *a, *res;
	const char *err;
	char *text, *out = NULL;
	size_t i, n;
	int r;

	params = json_pack("{s:s, s:s, s:[s, s, s]}", "sandbox_id", sandbox,
	    "cmd", "/bin/sh", "args", "-c", script, "sh");
	a = json_object_get(params, "args");
	for (i = 0; a != NULL && args[i] != NULL; i++)
		(void)json_array_append_new(a, json_string(args[i]));
	text = params != NULL ? json_dumps(params, JSON_COMPACT) : NULL;
	json_decref(params);
	if (text == NULL || (r = cli_connect(cli)) != 0) {
		free(text);
		return CLI_EXIT_ERROR;
	}
	r = wrennctl_call(cli->h, "sandbox.exec", text, &out);
	free(text);
	if (r < 0) {
		if (!quiet)
			output_error(cli, r);
		return cli_exit_code(r);
	}
	res = json_loads(out, 0, NULL);
	free(out);
	if (json_integer_value(json_object_get(res, "exit_code")) == 0 &&
	    json_is_integer(json_object_get(res, "exit_code"))) {
		json_decref(res);
		return 0;
	}
	err = json_string_value(json_object_get(res, "stderr"));
	n = err != NULL ? strcspn(err, "\n") : 0;
	if (!quiet)
		output_error_local(cli, "sandbox_command",
		    "in sandbox %s: %.*s", sandbox,
		    (int)(n > 0 && n < 400 ? n : 400),
		    n > 0 ? err : "the command failed");
	json_decref(res);
	return CLI_EXIT_ERROR;
}

/*
 * Give the upload's temporary file its final name (into the directory
 * when the target is one, as cp does), or remove it after a failure. Not
 * after a second Ctrl-C: wrennd may still be writing it, and the user
 * wants out; the temporary name is all that is left then.
 */
static int
cp_upload_finish(
    struct cp *cp, const struct cp_end *remote, const char *local_name, int r)
{
	static const char mv[] = "d=$2; [ -d \"$d\" ] && d=\"$d/$3\"; "
				 "[ -d \"$d\" ] && { echo \"$d is a "
				 "directory\" >&2; rm -f -- \"$1\"; exit 1; }; "
				 "mv -f -- \"$1\" \"$d\" || { rm -f -- \"$1\"; "
				 "exit 1; }";
	static const char rm[] = "rm -f -- \"$1\"";
	const char *args[] = {cp->rtmp, remote->path, local_name, NULL};

	if (r == 0)
		return cp_sh(cp->cli, remote->sandbox, mv, args, 0);
	if (!run_abandoned())
		(void)cp_sh(cp->cli, remote->sandbox, rm, args, 1);
	return r;
}

/* After a download without verification: say if nothing came. */
static void
cp_empty_warning(const struct cp *cp, const struct cp_end *remote,
    const json_t *res, unsigned int flags)
{
	const char *w = json_string_value(json_object_get(res, "warning"));

	if (cp->upload || (flags & WRENNCTL_VERIFY) || cp->cli->quiet ||
	    json_integer_value(json_object_get(res, "size")) != 0)
		return;
	if (w != NULL)
		fprintf(stderr, "wrennctl: warning: %s\n", w);
	else
		fprintf(stderr,
		    "wrennctl: warning: the control plane answered %s with an "
		    "empty body: the file is empty or does not exist (without "
		    "--no-verify wrennd tells which)\n",
		    remote->arg);
}

/*
 * Start "tar ARGS" here with fd as its stdin (in) or stdout (!in). SIGINT
 * is unblocked for it (run.c blocks it in wrennctl).
 */
static pid_t
cp_tar_spawn(const char *const *args, int fd, int in)
{
	sigset_t none;
	pid_t pid;

	if ((pid = fork()) != 0)
		return pid;
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(fd, in ? STDIN_FILENO : STDOUT_FILENO) < 0)
		_exit(127);
	execvp("tar", (char *const *)args);
	fprintf(stderr, "wrennctl: cannot run tar: %s\n", strerror(errno));
	_exit(127);
}

/* Wait for the local tar; 0 when it succeeded, else an exit code. */
static int
cp_tar_wait(struct cp *cp)
{
	int status;

	if (cp->tar < 0)
		return 0;
	while (waitpid(cp->tar, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	cp->tar = -1;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	output_error_local(cp->cli, "io_error", "the local tar failed");
	return CLI_EXIT_ERROR;
}

/*
 * Run "tar ARGS" here on one end of the pipe p (its stdin when in, its
 * stdout when not) while cp_transfer moves the archive through the other
 * end; both ends are closed when it returns (so an extracting tar sees the
 * end of the archive), tar waited for. Returns 0 or an exit code.
 */
static int
cp_tar_transfer(struct cp *cp, const char *const *args, int p[2], int in,
    struct cp_end *remote, unsigned int flags)
{
	int r;

	cp->tar = cp_tar_spawn(args, p[in ? 0 : 1], in);
	(void)close(p[in ? 0 : 1]);
	cp->fd = p[in ? 1 : 0];
	cp->own_fd = 1;
	cp->fd_flags = fcntl(cp->fd, F_GETFL);
	r = cp->tar < 0 ? CLI_EXIT_ERROR
			: cp_transfer(cp, remote, cp->rtmp, flags);
	(void)close(cp->fd);
	cp->fd = -1;
	cp->own_fd = 0;
	if (cp_tar_wait(cp) != 0 && r == 0)
		r = CLI_EXIT_ERROR;
	return r;
}

/* nftw() callback of cp_rm_tree. */
static int
cp_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	(void)(type == FTW_DP ? rmdir(path) : unlink(path));
	return 0;
}

/* Remove a local directory tree (a failed "cp -r" download). */
static void
cp_rm_tree(const char *dir)
{
	(void)nftw(dir, cp_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * "cp -r LOCAL SANDBOX:PATH": tar LOCAL here into a pipe that wrennd
 * uploads to a temporary archive in the sandbox; then tar extracts it
 * there into PATH (into PATH/NAME when PATH is a directory), through a
 * temporary directory so that PATH appears complete or not at all.
 */
static int
cp_dir_upload(struct cp *cp, struct cp_end *local, struct cp_end *remote,
    unsigned int flags)
{
	static const char untar[] =
	    "t=$1 d=$2 n=$3; "
	    "if [ -d \"$d\" ]; then tar -xf \"$t\" -C \"$d\"; s=$?; else "
	    "x=$(dirname -- \"$d\")/.wrennctl-$$; "
	    "mkdir -p -- \"$x\" && tar -xf \"$t\" -C \"$x\" && "
	    "mv -f -- \"$x/$n\" \"$d\"; s=$?; rm -rf -- \"$x\"; fi; "
	    "rm -f -- \"$t\"; exit $s";
	char *dir = strdup(local->path), *base = strdup(local->path);
	const char *args[8];
	int p[2], r;

	if (dir == NULL || base == NULL || pipe2(p, O_CLOEXEC) < 0) {
		free(dir);
		free(base);
		output_error_local(cp->cli, "io_error", "cannot start tar: %s",
		    strerror(errno));
		return CLI_EXIT_ERROR;
	}
	args[0] = "tar";
	args[1] = "-C";
	args[2] = dirname(dir);
	args[3] = "-cf";
	args[4] = "-";
	args[5] = "--";
	args[6] = basename(base);
	args[7] = NULL;
	r = cp_tar_transfer(cp, args, p, 0, remote, flags);
	args[0] = cp->rtmp;
	args[1] = remote->path;
	args[2] = basename(base);
	args[3] = NULL;
	if (r == 0)
		r = cp_sh(cp->cli, remote->sandbox, untar, args, 0);
	else if (!run_abandoned())
		(void)cp_sh(
		    cp->cli, remote->sandbox, "rm -f -- \"$1\"", args, 1);
	free(dir);
	free(base);
	return r;
}

/*
 * "cp -r SANDBOX:PATH LOCAL": tar PATH in the sandbox into a temporary
 * archive, which wrennd downloads into a pipe to tar here. It extracts
 * into LOCAL when that is a directory (LOCAL/NAME), else into a temporary
 * directory beside LOCAL whose NAME is renamed to LOCAL on success.
 */
static int
cp_dir_download(struct cp *cp, struct cp_end *local, struct cp_end *remote,
    unsigned int flags)
{
	static const char mktar[] =
	    "[ -e \"$2\" ] || { echo \"$2 does not exist\" >&2; exit 1; }; "
	    "tar -cf \"$1\" -C \"$(dirname -- \"$2\")\" -- "
	    "\"$(basename -- \"$2\")\" || { rm -f -- \"$1\"; exit 1; }";
	char *base = strdup(remote->path), *into = NULL, *tmpdir = NULL;
	char *name = NULL, *moved = NULL;
	const char *args[10];
	struct stat st;
	int p[2] = {-1, -1}, r;

	if (base == NULL)
		return CLI_EXIT_ERROR;
	args[0] = cp->rtmp;
	args[1] = remote->path;
	args[2] = NULL;
	if ((r = cp_sh(cp->cli, remote->sandbox, mktar, args, 0)) != 0) {
		free(base);
		return r;
	}
	if (stat(local->path, &st) == 0 && S_ISDIR(st.st_mode))
		into = strdup(local->path);
	else if ((tmpdir = cp_temp_name(local->path, "")) != NULL &&
	    mkdir(tmpdir, 0700) == 0)
		into = strdup(tmpdir);
	if (into == NULL || pipe2(p, O_CLOEXEC) < 0) {
		output_error_local(cp->cli, "io_error", "cannot write %s: %s",
		    local->path, strerror(errno));
		r = CLI_EXIT_ERROR;
		goto out;
	}
	args[0] = "tar";
	args[1] = "--no-same-owner";
	args[2] = "-xf";
	args[3] = "-";
	args[4] = "-C";
	args[5] = into;
	args[6] = NULL;
	r = cp_tar_transfer(cp, args, p, 1, remote, flags);
	name = strdup(basename(base));
	if (r == 0 && tmpdir != NULL && name != NULL &&
	    asprintf(&moved, "%s/%s", tmpdir, name) >= 0 &&
	    rename(moved, local->path) < 0) {
		output_error_local(cp->cli, "io_error",
		    "cannot rename %s to %s: %s", moved, local->path,
		    strerror(errno));
		r = CLI_EXIT_ERROR;
	}
out:
	if (tmpdir != NULL)
		cp_rm_tree(tmpdir);
	args[0] = cp->rtmp;
	args[1] = NULL;
	if (!run_abandoned())
		(void)cp_sh(
		    cp->cli, remote->sandbox, "rm -f -- \"$1\"", args, 1);
	free(moved);
	free(name);
	free(base);
	free(into);
	free(tmpdir);
	return r;
}

/* cp's options; CLI_CONTINUE or an exit code. */
static int
cp_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    unsigned int *flags, int *recursive)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"no-verify", no_argument, NULL, 'N'},
	    {"recursive", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	*flags = WRENNCTL_VERIFY;
	while ((c = getopt_long(
		    argc, argv, CLI_COMMON_SHORTOPTS "rR", opts, NULL)) != -1) {
		if (c == 'N')
			*flags &= ~WRENNCTL_VERIFY;
		else if (c == 'r' || c == 'R')
			*recursive = 1;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind != 2)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	return CLI_CONTINUE;
}

/* One file between the opened local end and the sandbox. */
static int
cp_file(struct cp *cp, struct cp_end *local, struct cp_end *remote,
    unsigned int flags)
{
	char *name;
	int r;

	if (cp_open(cp, local, remote) < 0) {
		output_error_local(cp->cli, "io_error", "cannot open %s: %s%s",
		    local->arg, strerror(errno),
		    errno == EISDIR ? " (cp -r copies directories)" : "");
		return CLI_EXIT_ERROR;
	}
	r = cp_transfer(
	    cp, remote, cp->upload ? cp->rtmp : remote->path, flags);
	if (!cp->upload)
		return r;
	if ((name = strdup(local->path)) == NULL)
		return CLI_EXIT_ERROR;
	r = cp_upload_finish(cp, remote,
	    strcmp(local->path, "-") == 0 ? "stdin" : basename(name), r);
	free(name);
	return r;
}

int
cmd_cp_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	struct cp_end src, dst, *local, *remote;
	char *rpath = NULL;
	struct cp cp;
	unsigned int flags;
	int r, recursive = 0;

	r = cp_opts(cli, self, argc, argv, &flags, &recursive);
	if (r != CLI_CONTINUE)
		return r;
	if (cp_parse_end(argv[optind], &src) < 0 ||
	    cp_parse_end(argv[optind + 1], &dst) < 0)
		return CLI_EXIT_ERROR;
	memset(&cp, 0, sizeof(cp));
	cp.cli = cli;
	cp.fd = -1;
	cp.tar = -1;
	cp.upload = dst.sandbox != NULL;
	local = cp.upload ? &src : &dst;
	remote = cp.upload ? &dst : &src;
	cp.bar = isatty(STDERR_FILENO) && !cli->quiet && !cli->json;
	if ((src.sandbox == NULL) == (dst.sandbox == NULL))
		r = cli_usage(cli,
		    "cp wants one local file and one "
		    "SANDBOX:PATH");
	else if (recursive && strcmp(local->path, "-") == 0)
		r = cli_usage(
		    cli, "cp -r copies directories, not stdin/stdout");
	else if ((rpath = strdup(remote->path)) == NULL)
		r = CLI_EXIT_ERROR;
	else {
		cp_strip_slashes(rpath);
		remote->path = rpath;
		if ((cp.rtmp = cp_temp_name(rpath, recursive ? ".tar" : "")) ==
		    NULL)
			r = CLI_EXIT_ERROR;
		else if (recursive && cp.upload)
			r = cp_dir_upload(&cp, local, remote, flags);
		else if (recursive)
			r = cp_dir_download(&cp, local, remote, flags);
		else
			r = cp_file(&cp, local, remote, flags);
	}
	r = cp_close(&cp, r);
	free(cp.rtmp);
	free(rpath);
	free(src.sandbox);
	free(dst.sandbox);
	return r;
}
