/* SPDX-License-Identifier: MIT */
/*
 * Filesystem operations in a sandbox: sandbox.list_files, sandbox.mkdir
 * and sandbox.remove. On the v0.1.5 control plane they are its
 * files/list, files/mkdir and files/remove routes, with the server's
 * answers and error quirks unchanged (a missing path is 502 agent_error).
 *
 * The 172413e server has no such routes, so there they are polyfilled
 * through its exec route, which runs cmd with args as its argv (no shell:
 * envd's wrapper ends in exec "$@"), as root with the home /root as its
 * working directory: GNU find lists (-printf, one NUL-terminated record
 * per file, stat -L and readlink -e for a symlink's target), mkdir -p
 * creates, rm -rf (run by find, so a missing path is seen) removes. The
 * path is never part of a shell string: it is resolved here as the
 * server resolves it (~ and relative paths against /root) and passed as
 * one argument that starts with "/" or "./", so no tool reads it as an
 * option. The results and errors have the server's shapes.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "b64.h"
#include "call.h"
#include "conf.h"
#include "dialect.h"
#include "ipc.h"
#include "log.h"
#include "methods.h"
#include "rest.h"
#include "upstream.h"
#include "wrennd.h"

/* The home of exec and of the file routes on the 172413e server. */
#define FSOPS_HOME "/root"
/* The longest path taken (PATH_MAX of the sandbox's Linux). */
#define FSOPS_PATH_MAX 4096
/* Seconds the tools may run in the sandbox (exec's timeout_sec). */
#define FSOPS_TIMEOUT 300
/* find's -maxdepth is an int. */
#define FSOPS_DEPTH_MAX 2147483647LL

/* One file of find's output. */
struct fsops_rec {
	long depth;
	char y, Y;	    /* find's %y (lstat) and %Y (followed) type */
	long long size;	    /* lstat size */
	unsigned long mode; /* lstat permission bits */
	const char *owner, *group;
	long long mtime;   /* seconds */
	const char *rel;   /* %P: the path under the start, "" for it */
	long target_mode;  /* a symlink's target's bits, -1 unknown */
	const char *cwd;   /* readlink -e ., for a symlink */
	const char *canon; /* readlink -e of a symlink, or NULL */
};

/*
 * The user's path as the server resolves it, into abs (FSOPS_PATH_MAX +
 * 1 bytes): "~" and "~/x" are the home, a relative path is joined to the
 * home, then cleaned lexically (Go's filepath.Clean); and into arg the
 * same path as the tools in the sandbox are given it: relative to their
 * working directory (the home) as "." or "./x", else absolute. Returns
 * 0, or -1 after failing the call.
 */
static int
fsops_resolve(struct call *call, char *abs, char *arg)
{
	const char *p =
	    json_string_value(json_object_get(call_params(call), "path"));
	char in[2 * FSOPS_PATH_MAX + 16], *seg, *save;
	size_t n = 0, len;
	int r;

	if (p[0] == '~' && p[1] != '\0' && p[1] != '/') {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'path': cannot expand user-specific home dir");
		return -1;
	}
	if (p[0] == '~')
		r = snprintf(in, sizeof(in), "%s/%s", FSOPS_HOME, p + 1);
	else if (p[0] != '/')
		r = snprintf(in, sizeof(in), "%s/%s", FSOPS_HOME, p);
	else
		r = snprintf(in, sizeof(in), "%s", p);
	if (r < 0 || (size_t)r >= sizeof(in) || strlen(p) > FSOPS_PATH_MAX) {
		call_fail(call, IPC_ERR_INVALID_PARAMS, "invalid_params", NULL,
		    "parameter 'path' is longer than %d bytes", FSOPS_PATH_MAX);
		return -1;
	}
	/* Clean: drop "" and "." segments, ".." removes the one before
	 * (never above "/"). */
	abs[0] = '\0';
	for (seg = strtok_r(in, "/", &save); seg != NULL;
	     seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (n > 0 && abs[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			abs[n] = '\0';
			continue;
		}
		len = strlen(seg);
		if (n + 1 + len > FSOPS_PATH_MAX) {
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter 'path' is longer than %d bytes",
			    FSOPS_PATH_MAX);
			return -1;
		}
		abs[n++] = '/';
		memcpy(abs + n, seg, len + 1);
		n += len;
	}
	if (n == 0)
		memcpy(abs, "/", 2);
	len = strlen(FSOPS_HOME);
	if (strcmp(abs, FSOPS_HOME) == 0)
		memcpy(arg, ".", 2);
	else if (strncmp(abs, FSOPS_HOME "/", len + 1) == 0)
		snprintf(arg, FSOPS_PATH_MAX + 3, ".%s", abs + len);
	else
		memcpy(arg, abs, strlen(abs) + 1);
	return 0;
}

/*
 * Run argv (a JSON array of strings, stolen: argv[0] is the program) in
 * call's sandbox through the exec route; done gets the call.
 */
static void
fsops_exec(struct call *call, json_t *argv, upstream_done_cb done)
{
	json_t *body = NULL;
	struct upstream_req *req;
	char *path;

	path = rest_sandbox_path(
	    json_string_value(json_object_get(call_params(call), "sandbox_id")),
	    "/exec");
	if (argv != NULL && json_array_size(argv) > 0)
		body =
		    json_pack("{s:O, s:O, s:i}", "cmd", json_array_get(argv, 0),
			"args", argv, "timeout_sec", FSOPS_TIMEOUT);
	if (body != NULL)
		(void)json_array_remove(json_object_get(body, "args"), 0);
	json_decref(argv);
	if (path == NULL || body == NULL) {
		free(path);
		json_decref(body);
		if (errno == EINVAL)
			call_fail(call, IPC_ERR_INVALID_PARAMS,
			    "invalid_params", NULL,
			    "parameter 'sandbox_id' is not a valid identifier");
		else
			call_fail_oom(call);
		return;
	}
	req = rest_request(call, "POST", path, body);
	free(path);
	json_decref(body);
	if (req == NULL)
		return;
	upstream_req_set_timeout(req, (FSOPS_TIMEOUT + 30) * 1000L);
	upstream_req_set_max_response(
	    req, (size_t)call_wd(call)->cfg->max_reply);
	(void)rest_start(call, req, REST_CANCEL, done, call);
}

/*
 * The exec answer of a done callback: 0 with *out (malloc'd, *outlen
 * bytes, NUL-terminated), err (the first line of stderr, quoted; errlen
 * bytes) and *code, or -1 after failing the call.
 */
static int
fsops_result(struct call *call, const struct upstream_result *res, char **out,
    size_t *outlen, char *err, size_t errlen, long *code)
{
	const char *why = NULL, *o, *e, *enc;
	unsigned char *eb = NULL;
	size_t elen, n;
	json_t *r;

	if (rest_done(call, res) != 0)
		return -1;
	r = call_upstream_json(res, &why);
	o = json_string_value(json_object_get(r, "stdout"));
	e = json_string_value(json_object_get(r, "stderr"));
	enc = json_string_value(json_object_get(r, "encoding"));
	if (o == NULL || e == NULL ||
	    !json_is_integer(json_object_get(r, "exit_code"))) {
		json_decref(r);
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol", NULL,
		    "unexpected answer of the exec route");
		return -1;
	}
	*code = (long)json_integer_value(json_object_get(r, "exit_code"));
	elen = json_string_length(json_object_get(r, "stderr"));
	if (enc != NULL && strcmp(enc, "base64") == 0) {
		*out = (char *)b64_decode(o,
		    json_string_length(json_object_get(r, "stdout")), outlen);
		eb = b64_decode(e, elen, &elen);
		e = (const char *)eb;
	} else {
		*outlen = json_string_length(json_object_get(r, "stdout"));
		if ((*out = malloc(*outlen + 1)) != NULL) {
			memcpy(*out, o, *outlen);
			(*out)[*outlen] = '\0';
		}
	}
	if (*out == NULL || e == NULL) {
		free(*out);
		free(eb);
		json_decref(r);
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol", NULL,
		    "the exec route's output is not valid base64");
		return -1;
	}
	n = 0;
	while (n < elen && e[n] != '\n')
		n++;
	log_quote(err, errlen, e, n);
	free(eb);
	json_decref(r);
	return 0;
}

/* Fail call with the error the v0.1.5 server gives for the same case. */
static void fsops_fail(struct call *call, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
fsops_fail(struct call *call, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_vfail(call, IPC_ERR_APPLICATION, code,
	    json_pack("{s:b}", "polyfilled", 1), fmt, ap);
	va_end(ap);
}

/* find's arguments for the records of arg down to depth (0: itself). */
static json_t *
fsops_find_argv(const char *arg, long long depth)
{
	char d[24];

	snprintf(d, sizeof(d), "%lld", depth);
	return json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,"
			 "s,s,s,s,s,s]",
	    "find", "-H", arg, "-maxdepth", d, "-printf",
	    "E%d\\t%y\\t%Y\\t%s\\t%m\\t%u\\t%g\\t%T@\\t%P\\0", "(", "-type",
	    "l", "!", "-xtype", "l", "-exec", "stat", "-L", "--printf",
	    "M%a\\0", "{}", ";", "-printf", "R", "-exec", "readlink", "-ze",
	    ".", "{}", ";", "-o", "-true", ")");
}

/*
 * Parse find's output (n bytes at out, records and symlink extras, each
 * NUL-terminated) into recs (at most max); returns the count or -1.
 */
static long
fsops_parse(char *out, size_t n, struct fsops_rec *recs, size_t max)
{
	struct fsops_rec *r = NULL;
	char *seg = out, *f[9], *end;
	size_t len, count = 0;
	int i;

	while (seg < out + n) {
		len = strlen(seg);
		if (seg[0] == 'E') {
			if (count == max)
				return -1;
			f[0] = seg + 1;
			for (i = 1; i < 9; i++) {
				if ((f[i] = strchr(f[i - 1], '\t')) == NULL)
					return -1;
				*f[i]++ = '\0';
			}
			r = &recs[count++];
			memset(r, 0, sizeof(*r));
			r->depth = strtol(f[0], NULL, 10);
			r->y = f[1][0];
			r->Y = f[2][0];
			r->size = strtoll(f[3], NULL, 10);
			r->mode = strtoul(f[4], NULL, 8) & 07777;
			r->owner = f[5];
			r->group = f[6];
			r->mtime = strtoll(f[7], &end, 10);
			r->rel = f[8];
			r->target_mode = -1;
		} else if (seg[0] == 'M' && r != NULL) {
			r->target_mode = strtol(seg + 1, NULL, 8) & 07777;
		} else if (seg[0] == 'R' && r != NULL) {
			r->cwd = seg + 1;
			if (seg + len + 1 < out + n && seg[len + 1] == '/') {
				seg += len + 1;
				len = strlen(seg);
				r->canon = seg;
			}
		}
		seg += len + 1;
	}
	return (long)count;
}

/* s as JSON text, invalid UTF-8 replaced with U+FFFD (new reference). */
static json_t *
fsops_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k, need;
	char *buf;
	json_t *v;

	if ((v = json_string(s)) != NULL)
		return v;
	if ((buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	k = 0;
	while (i < n) {
		need = p[i] < 0x80	    ? 0
		    : (p[i] & 0xe0) == 0xc0 ? 1
		    : (p[i] & 0xf0) == 0xe0 ? 2
		    : (p[i] & 0xf8) == 0xf0 ? 3
					    : 9;
		if (need != 9 && i + need < n + (need == 0)) {
			size_t j;

			for (j = 1; j <= need && i + j < n; j++)
				if ((p[i + j] & 0xc0) != 0x80)
					break;
			if (j > need) {
				memcpy(buf + k, p + i, need + 1);
				k += need + 1;
				i += need + 1;
				continue;
			}
		}
		memcpy(buf + k, "\xef\xbf\xbd", 3);
		k += 3;
		i++;
	}
	buf[k] = '\0';
	v = json_string(buf);
	free(buf);
	return v;
}

/* The server's letter for a file type in permissions. */
static char
fsops_type_letter(char y)
{
	switch (y) {
	case 'd':
		return 'd';
	case 'l':
		return 'L';
	case 'f':
		return '-';
	case 'b':
	case 'c':
	case 'p':
		return y;
	case 's':
		return 'S';
	default:
		return '?';
	}
}

static const char *
fsops_type_name(char y)
{
	return y == 'f' ? "file" : y == 'd' ? "directory" : "unknown";
}

/*
 * The server's FileEntry for r under abs (the resolved start path): a
 * symlink has its target's type and mode ("unknown" and 0 when it does
 * not resolve), its own size and permissions, and symlink_target, the
 * resolved target (paths under exec's working directory, the home, in
 * the home's name), or its own path when it dangles. New reference.
 */
static json_t *
fsops_entry(const struct fsops_rec *r, const char *abs)
{
	char perms[11], *path = NULL, *target = NULL;
	const char *name, *type;
	unsigned long mode = r->mode;
	size_t cl;
	json_t *e;
	int i;

	if (r->rel[0] == '\0')
		path = strdup(abs);
	else if (asprintf(&path, "%s/%s", strcmp(abs, "/") == 0 ? "" : abs,
		     r->rel) == -1)
		path = NULL;
	if (path == NULL)
		return NULL;
	name = strrchr(path, '/') != NULL && path[1] != '\0'
	    ? strrchr(path, '/') + 1
	    : path;
	perms[0] = fsops_type_letter(r->y);
	for (i = 0; i < 9; i++)
		perms[1 + i] = r->mode & (0400u >> i) ? "rwx"[i % 3] : '-';
	perms[10] = '\0';
	type = fsops_type_name(r->y);
	if (r->y == 'l') {
		type = r->target_mode >= 0 ? fsops_type_name(r->Y) : "unknown";
		mode = r->target_mode >= 0 ? (unsigned long)r->target_mode : 0;
		if (r->canon == NULL)
			target = strdup(path);
		else if (r->cwd != NULL && strcmp(r->cwd, "/") != 0 &&
		    strncmp(r->canon, r->cwd, (cl = strlen(r->cwd))) == 0 &&
		    (r->canon[cl] == '\0' || r->canon[cl] == '/')) {
			if (asprintf(&target, "%s%s", FSOPS_HOME,
				r->canon + cl) == -1)
				target = NULL;
		} else
			target = strdup(r->canon);
		if (target == NULL) {
			free(path);
			return NULL;
		}
	}
	e = json_pack("{s:o, s:o, s:s, s:I, s:I, s:s, s:o, s:o, s:I}", "name",
	    fsops_text(name), "path", fsops_text(path), "type", type, "size",
	    (json_int_t)r->size, "mode", (json_int_t)mode, "permissions", perms,
	    "owner", fsops_text(r->owner), "group", fsops_text(r->group),
	    "modified_at", (json_int_t)r->mtime);
	if (e != NULL && target != NULL &&
	    json_object_set_new(e, "symlink_target", fsops_text(target)) != 0) {
		json_decref(e);
		e = NULL;
	}
	free(path);
	free(target);
	return e;
}

/*
 * find's records of the last step into entries (depth >= 1) and *self
 * (the start, depth 0, or NULL when find did not reach it). Returns the
 * new array, or NULL after failing the call.
 */
static json_t *
fsops_entries(struct call *call, char *out, size_t n, const char *abs,
    struct fsops_rec *self)
{
	struct fsops_rec *recs;
	size_t max = n / 8 + 1;
	json_t *list, *e;
	long count, i;

	self->y = 0;
	if ((recs = calloc(max, sizeof(*recs))) == NULL ||
	    (list = json_array()) == NULL) {
		free(recs);
		call_fail_oom(call);
		return NULL;
	}
	if ((count = fsops_parse(out, n, recs, max)) < 0) {
		free(recs);
		json_decref(list);
		call_fail(call, IPC_ERR_APPLICATION, "upstream_protocol", NULL,
		    "find in the sandbox printed something that is not its "
		    "records (the polyfill needs GNU findutils)");
		return NULL;
	}
	for (i = 0; i < count; i++) {
		if (recs[i].depth == 0) {
			*self = recs[i];
			continue;
		}
		if ((e = fsops_entry(&recs[i], abs)) == NULL ||
		    json_array_append_new(list, e) != 0) {
			free(recs);
			json_decref(list);
			call_fail_oom(call);
			return NULL;
		}
	}
	free(recs);
	return list;
}

/* What a done callback learns of its exec step. */
struct fsops_step {
	char abs[FSOPS_PATH_MAX + 1]; /* the path, as the server resolves it */
	char rel[FSOPS_PATH_MAX + 3]; /* and as the tools are given it */
	char err[320];		      /* stderr's first line, quoted */
	long code;		      /* the command's exit code */
	char *out;		      /* stdout, NUL-terminated, until used */
	size_t n;		      /* its length */
};

/*
 * The prologue of every done callback: the exec answer into st (st->out
 * malloc'd) and the call's path resolved. Returns 0, or -1 after failing
 * the call (nothing to free).
 */
static int
fsops_step(
    struct call *call, const struct upstream_result *res, struct fsops_step *st)
{
	st->out = NULL;
	if (fsops_result(call, res, &st->out, &st->n, st->err, sizeof(st->err),
		&st->code) != 0)
		return -1;
	if (fsops_resolve(call, st->abs, st->rel) != 0) {
		free(st->out);
		return -1;
	}
	return 0;
}

/*
 * The same for a step that needs only its exit code: its output dropped,
 * a failed command answered as the server's agent_error "what: path:
 * stderr" (dflt for an empty stderr). Returns 0 to go on, or -1 after
 * failing the call.
 */
static int
fsops_step_status(struct call *call, const struct upstream_result *res,
    struct fsops_step *st, const char *what, const char *dflt)
{
	if (fsops_step(call, res, st) != 0)
		return -1;
	free(st->out);
	st->out = NULL;
	if (st->code != 0) {
		fsops_fail(call, "agent_error", "%s: %s: %s", what, st->abs,
		    *st->err ? st->err : dflt);
		return -1;
	}
	return 0;
}

/*
 * The same for a step that ran find: its records into the returned
 * entries, the start's find type (%y) into *self_type (0: find did not
 * reach it) and, with self_entry, the start's own entry there (NULL when
 * it is not there or there is no memory). Returns the entries, or NULL
 * after failing the call.
 */
static json_t *
fsops_step_entries(struct call *call, const struct upstream_result *res,
    struct fsops_step *st, char *self_type, json_t **self_entry)
{
	struct fsops_rec self;
	json_t *list;

	if (fsops_step(call, res, st) != 0)
		return NULL;
	list = fsops_entries(call, st->out, st->n, st->abs, &self);
	/* self points into out: its entry is made before out goes. */
	if (list != NULL && self_entry != NULL)
		*self_entry = self.y != 0 ? fsops_entry(&self, st->abs) : NULL;
	*self_type = self.y;
	free(st->out);
	st->out = NULL;
	return list;
}

static void
fsops_list_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	struct fsops_step st;
	json_t *list;
	char y;

	if ((list = fsops_step_entries(call, res, &st, &y, NULL)) == NULL)
		return;
	if (st.code != 0 || y == 0) {
		json_decref(list);
		fsops_fail(call, "agent_error", "list dir: %s: %s", st.abs,
		    *st.err ? st.err : "find failed in the sandbox");
		return;
	}
	if (y != 'd') {
		json_decref(list);
		fsops_fail(call, "agent_error",
		    "list dir: path is not a directory: %s", st.abs);
		return;
	}
	call_reply(call, json_pack("{s:o}", "entries", list));
}

/* sandbox.list_files on the 172413e server: find. */
static void
fsops_list(struct call *call)
{
	char abs[FSOPS_PATH_MAX + 1], arg[FSOPS_PATH_MAX + 3];
	json_int_t depth =
	    json_integer_value(json_object_get(call_params(call), "depth"));

	if (fsops_resolve(call, abs, arg) != 0)
		return;
	if (depth < 1)
		depth = 1;
	if (depth > FSOPS_DEPTH_MAX)
		depth = FSOPS_DEPTH_MAX;
	fsops_exec(call, fsops_find_argv(arg, depth), fsops_list_done);
}

static void
fsops_mkdir_entry_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	struct fsops_step st;
	json_t *list, *e;
	char y;

	if ((list = fsops_step_entries(call, res, &st, &y, &e)) == NULL)
		return;
	json_decref(list);
	if (e == NULL) {
		fsops_fail(call, "agent_error", "make dir: %s: %s", st.abs,
		    *st.err ? st.err : "the new directory is not there");
		return;
	}
	call_reply(call, json_pack("{s:o}", "entry", e));
}

static void
fsops_mkdir_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	struct fsops_step st;

	if (fsops_step_status(
		call, res, &st, "make dir", "mkdir failed in the sandbox") == 0)
		fsops_exec(
		    call, fsops_find_argv(st.rel, 0), fsops_mkdir_entry_done);
}

/* What is at the path decides: the server refuses an existing one. */
static void
fsops_mkdir_check_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	struct fsops_step st;
	json_t *list;
	char y;

	if ((list = fsops_step_entries(call, res, &st, &y, NULL)) == NULL)
		return;
	json_decref(list);
	if (y == 'd') {
		fsops_fail(call, "conflict",
		    "already_exists: directory already exists: %s", st.abs);
		return;
	}
	if (y != 0) {
		fsops_fail(call, "invalid_request",
		    "invalid_argument: path exists but is not a directory: %s",
		    st.abs);
		return;
	}
	fsops_exec(call, json_pack("[s,s,s,s]", "mkdir", "-p", "--", st.rel),
	    fsops_mkdir_done);
}

/* sandbox.mkdir on the 172413e server: find, mkdir -p, find. */
static void
fsops_mkdir(struct call *call)
{
	char abs[FSOPS_PATH_MAX + 1], arg[FSOPS_PATH_MAX + 3];

	if (fsops_resolve(call, abs, arg) != 0)
		return;
	fsops_exec(call, fsops_find_argv(arg, 0), fsops_mkdir_check_done);
}

static void
fsops_remove_done(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct call *call = arg;
	struct fsops_step st;

	if (fsops_step_status(
		call, res, &st, "remove", "rm failed in the sandbox") == 0)
		call_reply(call, json_object());
}

/* sandbox.remove on the 172413e server: find runs rm -rf if it exists. */
static void
fsops_remove(struct call *call)
{
	char abs[FSOPS_PATH_MAX + 1], arg[FSOPS_PATH_MAX + 3];

	if (fsops_resolve(call, abs, arg) != 0)
		return;
	fsops_exec(call,
	    json_pack("[s,s,s,s,s,s,s,s,s,s]", "find", arg, "-maxdepth", "0",
		"-exec", "rm", "-rf", "--", "{}", "+"),
	    fsops_remove_done);
}

/* The route on the v0.1.5 server, the polyfill on the 172413e one. */
static void
fsops_route(struct call *call, void (*polyfill)(struct call *))
{
	if (dialect_current(call_wd(call)->dialect) == DIALECT_CAPSULES)
		rest_passthrough(call);
	else
		polyfill(call);
}

static void
api_fsops_list_files(struct call *call)
{
	fsops_route(call, fsops_list);
}

static void
api_fsops_mkdir(struct call *call)
{
	fsops_route(call, fsops_mkdir);
}

static void
api_fsops_remove(struct call *call)
{
	fsops_route(call, fsops_remove);
}

/* This file's method rows (methods.h), listed by methods.c. */

static const struct methods_param p_list_files[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "directory in the sandbox (relative: to the home, ~ expands)"},
    {.name = "depth",
	.type = METHODS_T_INT,
	.in = METHODS_IN_BODY,
	.min = 0,
	.max = 4294967295LL,
	.doc = "levels to descend (default and 0: 1, the directory itself)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_path[] = {
    METHODS_P_SANDBOX_ID,
    {.name = "path",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "path in the sandbox (relative: to the home, ~ expands)"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_fsops_rows[] = {
    {
	.name = "sandbox.list_files",
	.summary = "list a directory in a sandbox (entries like ls -l)",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/list",
	.flags = METHODS_BODY,
	.params = p_list_files,
	.handler = api_fsops_list_files,
    },
    {
	.name = "sandbox.mkdir",
	.summary = "create a directory and its parents in a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/mkdir",
	.flags = METHODS_BODY,
	.params = p_path,
	.handler = api_fsops_mkdir,
    },
    {
	.name = "sandbox.remove",
	.summary = "remove a file or a directory tree in a sandbox",
	.cred = ROLE_CRED_ANY,
	.role = ROLE_TOOL,
	.verb = "POST",
	.path = "/v1/sandboxes/{sandbox_id}/files/remove",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY,
	.params = p_path,
	.handler = api_fsops_remove,
    },
};

const struct api_table api_fsops_methods = API_TABLE(api_fsops_rows);
