/* SPDX-License-Identifier: MIT */
/*
 * Configuration table, file parser and validation (see conf.h).
 * Called by wrennd.c at start-up and by tests/fuzzers; never logs.
 */
#include "config.h"

#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "role.h"
#include "textfile.h"
#include "url.h"

#define CONF_MAX_FILE (256 * 1024) /* bytes of a config file */

enum conf_type {
	CONF_STRING, /* char * */
	CONF_PATH,   /* char *, absolute or relative path */
	CONF_URL,    /* char *, http(s) URL */
	CONF_LONG,   /* long within [min, max] */
	CONF_MODE,   /* int, octal permission bits */
	CONF_INT,    /* int within [min, max] */
	CONF_TYPE__MAX
};

struct conf_option {
	const char *name; /* keyword in the file; --name on argv */
	enum conf_type type;
	size_t offset;	    /* into struct conf */
	long min, max;	    /* for numbers */
	const char *defval; /* default as text, NULL for none */
	const char *doc;    /* one line for --check and wrennd.conf(5) */
	int flags;
#define CONF_RESTART (1 << 0) /* a reload keeps the running value */
};

#define CONF_OFF(f) offsetof(struct conf, f)

static const struct conf_option conf_options[] = {
    {"socket", CONF_PATH, CONF_OFF(socket_path), 0, 0, NULL,
	"Unix socket path (default: $RUNTIME_DIRECTORY/wrennd.sock, "
	"$XDG_RUNTIME_DIR/wrennd/wrennd.sock, /run/wrennd/wrennd.sock)",
	CONF_RESTART},
    {"socket-mode", CONF_MODE, CONF_OFF(socket_mode), 0, 0777, "0600",
	"permission bits of the socket wrennd creates", CONF_RESTART},
    {"base-url", CONF_URL, CONF_OFF(base_url), 0, 0, "https://api.wrenn.dev",
	"control plane base URL", CONF_RESTART},
    {"api-key-file", CONF_PATH, CONF_OFF(api_key_file), 0, 0, NULL,
	"file holding the API key", 0},
    {"token-file", CONF_PATH, CONF_OFF(token_file), 0, 0, NULL,
	"file holding a user JWT", 0},
    {"ca-file", CONF_PATH, CONF_OFF(ca_file), 0, 0, NULL,
	"extra CA bundle trusted for the control plane", CONF_RESTART},
    {"api-dialect", CONF_STRING, CONF_OFF(api_dialect), 0, 0, "auto",
	"control plane routes: auto (probe GET /health), sandboxes (172413e, "
	"/v1/sandboxes) or capsules (v0.1.5, /v1/capsules)",
	CONF_RESTART},
    {"max-clients", CONF_LONG, CONF_OFF(max_clients), 1, 65536, "256",
	"concurrent local connections", 0},
    {"max-clients-per-uid", CONF_LONG, CONF_OFF(max_clients_per_uid), 1, 65536,
	"64", "concurrent local connections of one uid", 0},
    {"idle-timeout", CONF_LONG, CONF_OFF(idle_timeout_ms), 0, 86400000, "0",
	"ms a connection with no call, input or output stays open (0: "
	"forever)",
	0},
    {"max-queued-fds", CONF_LONG, CONF_OFF(max_queued_fds), 4, 32, "8",
	"passed file descriptors waiting for their line, per connection", 0},
    {"max-queued-fds-total", CONF_LONG, CONF_OFF(max_queued_fds_total), 4,
	1048576, "256",
	"passed file descriptors waiting for their lines, all connections", 0},
    {"max-reply", CONF_LONG, CONF_OFF(max_reply), 4096, 1024L * 1024 * 1024,
	"150994944",
	"bytes of one reply (fits a 100 MiB sandbox.download in base64)", 0},
    {"max-inflight", CONF_LONG, CONF_OFF(max_inflight), 1, 4096, "64",
	"calls in flight per connection", 0},
    {"max-line", CONF_LONG, CONF_OFF(max_line), 4096, 256L * 1024 * 1024,
	"1048576", "bytes per protocol line", 0},
    {"max-output", CONF_LONG, CONF_OFF(max_output), 65536, 1024L * 1024 * 1024,
	"4194304", "bytes queued to one slow client", 0},
    {"line-timeout", CONF_LONG, CONF_OFF(line_timeout_ms), 100, 3600000,
	"30000", "ms a partial line may wait for its end", 0},
    {"connect-timeout", CONF_LONG, CONF_OFF(connect_timeout_ms), 100, 600000,
	"10000", "ms to connect to the control plane", CONF_RESTART},
    {"request-timeout", CONF_LONG, CONF_OFF(request_timeout_ms), 100, 3600000,
	"120000", "ms default deadline of an upstream request", 0},
    {"max-response", CONF_LONG, CONF_OFF(max_response), 65536,
	1024L * 1024 * 1024, "268435456",
	"bytes of one buffered upstream response", CONF_RESTART},
    {"max-host-connections", CONF_LONG, CONF_OFF(max_host_connections), 1, 256,
	"8", "pooled connections to the control plane", CONF_RESTART},
    {"poll-interval", CONF_LONG, CONF_OFF(poll_interval_ms), 50, 60000, "500",
	"ms between polls of sandbox.wait_ready", 0},
    {"drain-timeout", CONF_LONG, CONF_OFF(drain_timeout_ms), 0, 600000, "5000",
	"ms in-flight calls get on SIGTERM", 0},
    {"stream-buffer", CONF_LONG, CONF_OFF(stream_buffer), 4096,
	256L * 1024 * 1024, "1048576",
	"bytes buffered for an attached exec stream before its "
	"WebSocket is paused",
	0},
    {"detach-buffer", CONF_LONG, CONF_OFF(detach_buffer), 4096,
	1024L * 1024 * 1024, "4194304",
	"replay bytes kept for a detached exec stream", 0},
    {"stall-timeout", CONF_LONG, CONF_OFF(stall_timeout_ms), 100, 3600000,
	"30000", "ms a client may block its exec stream before it is cancelled",
	0},
    {"ws-idle-timeout", CONF_LONG, CONF_OFF(ws_idle_timeout_ms), 0, 3600000,
	"60000",
	"ms without a byte from an exec stream's WebSocket before a ping, "
	"and again before it fails (0: never)",
	0},
    {"stream-retention", CONF_LONG, CONF_OFF(stream_retention_ms), 0, 86400000,
	"600000", "ms an ended detached stream stays attachable", 0},
    {"max-streams", CONF_LONG, CONF_OFF(max_streams), 1, 100000, "1024",
	"exec streams alive at once", 0},
    {"max-streams-per-uid", CONF_LONG, CONF_OFF(max_streams_per_uid), 1, 100000,
	"256", "exec streams alive at once started by one uid", 0},
    {"max-stream-memory", CONF_LONG, CONF_OFF(max_stream_memory), 65536,
	64L * 1024 * 1024 * 1024, "536870912",
	"bytes all exec stream buffers may hold together", 0},
    {"transfer-timeout", CONF_LONG, CONF_OFF(transfer_timeout_ms), 1000,
	604800000, "21600000", "ms one file transfer may take", 0},
    {"transfer-low-speed", CONF_LONG, CONF_OFF(transfer_low_speed), 1,
	1024L * 1024 * 1024, "1024",
	"bytes/s a file transfer must average over transfer-low-speed-time", 0},
    {"transfer-low-speed-time", CONF_LONG, CONF_OFF(transfer_low_speed_time_ms),
	1000, 3600000, "60000", "ms over which transfer-low-speed is measured",
	0},
    {"max-transfers", CONF_LONG, CONF_OFF(max_transfers), 1, 65536, "6",
	"streaming file transfers at once (at most max-host-connections - 1)",
	0},
    {"max-peer-transfers", CONF_LONG, CONF_OFF(max_peer_transfers), 1, 65536,
	"4", "streaming file transfers at once per peer uid", 0},
    {"portfwd-max", CONF_LONG, CONF_OFF(portfwd_max), 1, 4096, "64",
	"port forwards open at once", 0},
    {"portfwd-max-connections", CONF_LONG, CONF_OFF(portfwd_max_connections), 1,
	65536, "256", "connections one port forward serves at once", 0},
    {"portfwd-idle-timeout", CONF_LONG, CONF_OFF(portfwd_idle_timeout_ms), 1000,
	604800000, "600000",
	"ms a forwarded connection may stay silent both ways", 0},
    {"tool-socket", CONF_PATH, CONF_OFF(tool_socket), 0, 0, NULL,
	"Unix socket path for sandboxed tools (default: none); peers on it "
	"get the tool role",
	CONF_RESTART},
    {"tool-socket-mode", CONF_MODE, CONF_OFF(tool_socket_mode), 0, 0777, "0666",
	"permission bits of the tool socket wrennd creates", CONF_RESTART},
    {"tool-socket-group", CONF_STRING, CONF_OFF(tool_socket_group), 0, 0, NULL,
	"group (name or gid) the tool socket is given", CONF_RESTART},
    {"admin-group", CONF_STRING, CONF_OFF(admin_group), 0, 0, NULL,
	"group (name or gid) whose members get the admin role", 0},
    {"allow-users", CONF_STRING, CONF_OFF(allow_users), 0, 0, NULL,
	"users (names or uids, comma separated) with the user role on the "
	"control socket",
	0},
    {"allow-groups", CONF_STRING, CONF_OFF(allow_groups), 0, 0, NULL,
	"groups (names or gids, comma separated) whose members get the user "
	"role on the control socket",
	0},
    {"policy-file", CONF_PATH, CONF_OFF(policy_file), 0, 0, NULL,
	"file with the tool policy: what the tool role may create "
	"(templates, max-sandboxes, max-vcpus, max-memory-mb, "
	"max-timeout-sec, require-lease; default: no limits)",
	0},
    {"proxy-max-body", CONF_LONG, CONF_OFF(proxy_max_body), 0,
	768L * 1024 * 1024, "10485760",
	"bytes of a sandbox.http_request body, request and answer each", 0},
    {"state-dir", CONF_PATH, CONF_OFF(state_dir), 0, 0, NULL,
	"directory of the lease state file leases.json (default: "
	"$STATE_DIRECTORY; none: leases end with the daemon)",
	CONF_RESTART},
    {"lease-on-shutdown", CONF_STRING, CONF_OFF(lease_on_shutdown), 0, 0,
	"keep",
	"keep (for the next start) or destroy connection leases on SIGTERM", 0},
    {"max-leases", CONF_LONG, CONF_OFF(max_leases), 1, 1000000, "4096",
	"leases and keepalives held at once", 0},
    {"verbose", CONF_INT, CONF_OFF(verbosity), 0, 3, "0",
	"log verbosity (0 info, 1 debug)", 0},
};

#define CONF_NOPTIONS (sizeof(conf_options) / sizeof(conf_options[0]))

static char **
conf_strp(struct conf *cfg, const struct conf_option *o)
{
	return (char **)((char *)cfg + o->offset);
}

static const struct conf_option *
conf_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NOPTIONS; i++)
		if (strcmp(conf_options[i].name, name) == 0)
			return &conf_options[i];
	return NULL;
}

/* The string options that take one of a few words. */
static const struct {
	const char *name;
	const char *choices; /* "a|b|c" */
} conf_choices[] = {
    {"api-dialect", "auto|sandboxes|capsules"},
};

/* The choices of option name ("a|b|c"), or NULL when it takes any. */
static const char *
conf_choices_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(conf_choices) / sizeof(conf_choices[0]); i++)
		if (strcmp(conf_choices[i].name, name) == 0)
			return conf_choices[i].choices;
	return NULL;
}

/* Whether value is one of the "a|b|c" choices: a whole word, so neither
 * a part of one nor several ("a|b") pass. */
static int
conf_choice_ok(const char *choices, const char *value)
{
	size_t n = strlen(value), w;
	const char *c;

	for (c = choices; *c != '\0'; c += w, c += *c == '|') {
		w = strcspn(c, "|");
		if (w == n && strncmp(c, value, n) == 0)
			return 1;
	}
	return 0;
}

/* Validate a base URL (url.c): http or https, no query. */
static int
conf_check_url(const char *v, char *err, size_t errlen)
{
	const char *why = NULL;
	struct url *u = NULL;
	int r;

	if ((r = url_parse(v, &u, &why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return r;
	}
	if (u->scheme != URL_HTTP && u->scheme != URL_HTTPS) {
		snprintf(
		    err, errlen, "URL must start with http:// or https://");
		r = -EINVAL;
	} else if (u->query != NULL) {
		snprintf(err, errlen, "URL must not contain a query");
		r = -EINVAL;
	}
	url_free(u);
	return r;
}

int
conf_set(struct conf *cfg, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct conf_option *o;
	const char *choices;
	char *end, *dup, **sp;
	long v;

	if ((o = conf_find(key)) == NULL) {
		snprintf(err, errlen, "unknown option '%s'", key);
		return -EINVAL;
	}
	switch (o->type) {
	case CONF_URL:
		if (conf_check_url(value, err, errlen) != 0)
			return -EINVAL;
		/* FALLTHROUGH */
	case CONF_STRING:
	case CONF_PATH:
		if (*value == '\0') {
			snprintf(err, errlen, "%s: empty value", key);
			return -EINVAL;
		}
		if ((choices = conf_choices_of(key)) != NULL &&
		    !conf_choice_ok(choices, value)) {
			snprintf(err, errlen, "%s: '%.64s' is not one of %s",
			    key, value, choices);
			return -EINVAL;
		}
		if ((dup = strdup(value)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (o->type == CONF_URL) {
		n_trim : {
			size_t n = strlen(dup);
			if (n > 0 && dup[n - 1] == '/') {
				dup[n - 1] = '\0';
				goto n_trim;
			}
		}
		}
		sp = conf_strp(cfg, o);
		free(*sp);
		*sp = dup;
		return 0;
	case CONF_LONG:
	case CONF_INT:
	case CONF_MODE:
		errno = 0;
		v = strtol(value, &end, o->type == CONF_MODE ? 8 : 10);
		if (errno != 0 || end == value || *end != '\0') {
			snprintf(err, errlen, "%s: '%s' is not a%s number", key,
			    value, o->type == CONF_MODE ? "n octal" : "");
			return -EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen,
			    "%s: %ld is out of range %ld..%ld", key, v, o->min,
			    o->max);
			return -EINVAL;
		}
		if (o->type == CONF_LONG)
			*(long *)((char *)cfg + o->offset) = v;
		else
			*(int *)((char *)cfg + o->offset) = (int)v;
		return 0;
	case CONF_TYPE__MAX:
		break;
	}
	snprintf(err, errlen, "internal error");
	return -EINVAL;
}

struct conf *
conf_new(void)
{
	struct conf *cfg;
	char err[256];
	size_t i;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	cfg->refs = 1;
	for (i = 0; i < CONF_NOPTIONS; i++) {
		if (conf_options[i].defval == NULL)
			continue;
		if (conf_set(cfg, conf_options[i].name, conf_options[i].defval,
			err, sizeof(err)) != 0) {
			conf_unref(cfg);
			return NULL;
		}
	}
	return cfg;
}

struct conf *
conf_ref(struct conf *cfg)
{
	cfg->refs++;
	return cfg;
}

struct conf *
conf_unref(struct conf *cfg)
{
	size_t i;

	if (cfg == NULL || --cfg->refs > 0)
		return NULL;
	for (i = 0; i < CONF_NOPTIONS; i++) {
		switch (conf_options[i].type) {
		case CONF_STRING:
		case CONF_PATH:
		case CONF_URL:
			free(*conf_strp(cfg, &conf_options[i]));
			break;
		default:
			break;
		}
	}
	free(cfg->conf_file);
	free(cfg->allow_uids);
	free(cfg->allow_gids);
	policy_free(cfg->policy);
	free(cfg);
	return NULL;
}

int
conf_apply_env(struct conf *cfg, char *err, size_t errlen)
{
	const char *v;
	char sub[200];

	if ((v = getenv("WRENN_BASE_URL")) != NULL && *v != '\0') {
		if (conf_set(cfg, "base-url", v, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "WRENN_BASE_URL: %s", sub);
			return -EINVAL;
		}
	}
	return 0;
}

static void
conf_perr(struct parse_error *pe, const char *name, int line, int col,
    const char *msg)
{
	pe->line = line;
	pe->column = col;
	snprintf(pe->text, sizeof(pe->text), "%.80s:%d:%d: %.140s", name, line,
	    col, msg);
}

/*
 * Read one token at *pp: a bare word, or a "double quoted" string with \"
 * and \\ escapes. Returns 1 with the token in tok, 0 at end of line, -1 on
 * error (msg set).
 */
static int
conf_token(const char **pp, const char *end, char *tok, size_t toklen,
    const char **msg)
{
	const char *p = *pp;
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p == '#') {
		*pp = p;
		return 0;
	}
	if (*p == '"') {
		p++;
		for (;;) {
			if (p >= end) {
				*msg = "unterminated quoted string";
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\' && p + 1 < end &&
			    (p[1] == '"' || p[1] == '\\'))
				p++;
			if (n + 1 >= toklen) {
				*msg = "value too long";
				return -1;
			}
			tok[n++] = *p++;
		}
		p++;
		if (p < end && *p != ' ' && *p != '\t' && *p != '#') {
			*msg = "garbage after quoted string";
			return -1;
		}
	} else {
		while (p < end && *p != ' ' && *p != '\t' && *p != '#') {
			if ((unsigned char)*p < 0x20) {
				*msg = "control character in value";
				return -1;
			}
			if (n + 1 >= toklen) {
				*msg = "value too long";
				return -1;
			}
			tok[n++] = *p++;
		}
	}
	tok[n] = '\0';
	*pp = p;
	return 1;
}

int
conf_parse_buf(struct conf *cfg, const char *name, const char *buf, size_t len,
    struct parse_error *reterr)
{
	const char *p = buf, *end = buf + len, *eol, *q, *msg = NULL;
	char key[64], val[4096], err[256];
	int line = 0, r;

	while (p < end) {
		line++;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL) {
			conf_perr(reterr, name, line, 1, "NUL byte");
			return -EINVAL;
		}
		q = p;
		r = conf_token(&q, eol, key, sizeof(key), &msg);
		if (r < 0) {
			conf_perr(reterr, name, line, (int)(q - p) + 1, msg);
			return -EINVAL;
		}
		if (r == 0) {
			p = eol + 1;
			continue;
		}
		if (conf_find(key) == NULL) {
			snprintf(err, sizeof(err), "unknown option '%s'", key);
			conf_perr(reterr, name, line, 1, err);
			return -EINVAL;
		}
		r = conf_token(&q, eol, val, sizeof(val), &msg);
		if (r <= 0) {
			conf_perr(reterr, name, line, (int)(q - p) + 1,
			    r < 0 ? msg : "missing value");
			return -EINVAL;
		}
		{
			const char *col = q;
			char extra[8];

			r = conf_token(&q, eol, extra, sizeof(extra), &msg);
			if (r != 0) {
				conf_perr(reterr, name, line,
				    (int)(col - p) + 1,
				    "one value per line expected");
				return -EINVAL;
			}
		}
		if (conf_set(cfg, key, val, err, sizeof(err)) != 0) {
			conf_perr(reterr, name, line, 1, err);
			return -EINVAL;
		}
		p = eol + 1;
	}
	return 0;
}

int
conf_parse_file(struct conf *cfg, const char *path, struct parse_error *reterr)
{
	char *buf, why[160];
	size_t len;
	int r;

	if ((buf = textfile_read(
		 path, CONF_MAX_FILE, &len, &r, why, sizeof(why))) == NULL) {
		conf_perr(reterr, path, 0, 0, why);
		return r;
	}
	r = conf_parse_buf(cfg, path, buf, len, reterr);
	free(buf);
	if (r == 0 && cfg->conf_file == NULL)
		cfg->conf_file = strdup(path);
	return r;
}

/*
 * Refuse a socket path (what: "socket", "tool socket") too long for
 * sun_path, or one that can only come from an empty variable ("--socket
 * $XDG_RUNTIME_DIR/wrennd/wrennd.sock" with it unset): a relative path, a
 * socket directly in "/", or one whose missing first directory would be
 * created at the filesystem root. 0 or -EINVAL.
 */
static int
conf_check_socket(const char *what, const char *path, char *err, size_t errlen)
{
	static const char hint[] = "; is it built from an unset variable such "
				   "as $XDG_RUNTIME_DIR? Leave --socket out to "
				   "use the default";
	const char *name = path, *slash;
	char top[PATH_MAX];
	struct stat st;

	if (strlen(path) >= 108) {
		snprintf(err, errlen, "%s path is longer than 107 bytes: '%s'",
		    what, path);
		return -EINVAL;
	}
	if (path[0] != '/') {
		snprintf(err, errlen, "%s path '%s' is relative%s", what, path,
		    hint);
		return -EINVAL;
	}
	while (*name == '/')
		name++;
	if ((slash = strchr(name, '/')) == NULL) {
		snprintf(err, errlen,
		    "%s path '%s' is at the filesystem root%s", what, path,
		    hint);
		return -EINVAL;
	}
	snprintf(top, sizeof(top), "%.*s", (int)(slash - path), path);
	if (stat(top, &st) == -1 && errno == ENOENT) {
		snprintf(err, errlen,
		    "%s path '%s' would create the directory '%s' at the "
		    "filesystem root%s",
		    what, path, top, hint);
		return -EINVAL;
	}
	return 0;
}

/* The role options as numbers (struct role_rules). 0 or -errno. */
static int
conf_finish_roles(struct conf *cfg, char *err, size_t errlen)
{
	unsigned *ids, id;
	size_t n;
	int r;

	free(cfg->allow_uids);
	free(cfg->allow_gids);
	cfg->allow_uids = NULL;
	cfg->allow_gids = NULL;
	memset(&cfg->roles, 0, sizeof(cfg->roles));
	cfg->tool_socket_gid = (gid_t)-1;
	if ((r = role_resolve_list("allow-users", cfg->allow_users, 0, &ids, &n,
		 err, errlen)) != 0)
		return r;
	cfg->allow_uids = (uid_t *)ids;
	cfg->roles.users = cfg->allow_uids;
	cfg->roles.nusers = n;
	if ((r = role_resolve_list("allow-groups", cfg->allow_groups, 1, &ids,
		 &n, err, errlen)) != 0)
		return r;
	cfg->allow_gids = (gid_t *)ids;
	cfg->roles.groups = cfg->allow_gids;
	cfg->roles.ngroups = n;
	if (cfg->admin_group != NULL) {
		if ((r = role_resolve_id("admin-group", cfg->admin_group, 1,
			 &id, err, errlen)) != 0)
			return r;
		cfg->admin_gid = (gid_t)id;
		cfg->roles.admin = &cfg->admin_gid;
		cfg->roles.nadmin = 1;
	}
	if (cfg->tool_socket_group != NULL) {
		if ((r = role_resolve_id("tool-socket-group",
			 cfg->tool_socket_group, 1, &id, err, errlen)) != 0)
			return r;
		cfg->tool_socket_gid = (gid_t)id;
	}
	return 0;
}

int
conf_finish(struct conf *cfg, char *err, size_t errlen)
{
	const char *d;
	char path[PATH_MAX];
	int n;

	if (cfg->socket_path == NULL) {
		if ((d = getenv("RUNTIME_DIRECTORY")) != NULL && *d == '/') {
			/* systemd may pass several, colon separated */
			n = snprintf(path, sizeof(path), "%.*s/wrennd.sock",
			    (int)strcspn(d, ":"), d);
		} else if ((d = getenv("XDG_RUNTIME_DIR")) != NULL && *d == '/')
			n = snprintf(
			    path, sizeof(path), "%s/wrennd/wrennd.sock", d);
		else
			n = snprintf(
			    path, sizeof(path), "/run/wrennd/wrennd.sock");
		if (n < 0 || (size_t)n >= sizeof(path)) {
			snprintf(err, errlen, "socket path too long");
			return -EINVAL;
		}
		if ((cfg->socket_path = strdup(path)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (cfg->state_dir == NULL && (d = getenv("STATE_DIRECTORY")) != NULL &&
	    *d == '/') {
		/* systemd may pass several, colon separated */
		if ((cfg->state_dir = strndup(d, strcspn(d, ":"))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (strcmp(cfg->lease_on_shutdown, "keep") != 0 &&
	    strcmp(cfg->lease_on_shutdown, "destroy") != 0) {
		snprintf(err, errlen,
		    "lease-on-shutdown must be \"keep\" or \"destroy\", not "
		    "'%.32s'",
		    cfg->lease_on_shutdown);
		return -EINVAL;
	}
	if (conf_check_socket("socket", cfg->socket_path, err, errlen) != 0)
		return -EINVAL;
	if (cfg->tool_socket != NULL) {
		if (conf_check_socket(
			"tool socket", cfg->tool_socket, err, errlen) != 0)
			return -EINVAL;
		if (strcmp(cfg->tool_socket, cfg->socket_path) == 0) {
			snprintf(err, errlen,
			    "tool-socket and socket are the same path '%s'",
			    cfg->tool_socket);
			return -EINVAL;
		}
	}
	if ((n = conf_finish_roles(cfg, err, errlen)) != 0)
		return n;
	policy_free(cfg->policy);
	cfg->policy = NULL;
	if (cfg->policy_file != NULL &&
	    (n = policy_load(cfg->policy_file, &cfg->policy, err, errlen)) != 0)
		return n == -ENOMEM ? n : -EINVAL;
	return 0;
}

/* Whether option o has the same value in a and b. */
static int
conf_same(
    const struct conf_option *o, const struct conf *a, const struct conf *b)
{
	const char *pa = (const char *)a + o->offset,
		   *pb = (const char *)b + o->offset;
	const char *sa, *sb;

	switch (o->type) {
	case CONF_STRING:
	case CONF_PATH:
	case CONF_URL:
		sa = *(char *const *)pa;
		sb = *(char *const *)pb;
		return sa == sb ||
		    (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
	case CONF_LONG:
		return *(const long *)pa == *(const long *)pb;
	case CONF_INT:
	case CONF_MODE:
		return *(const int *)pa == *(const int *)pb;
	case CONF_TYPE__MAX:
		break;
	}
	return 1;
}

int
conf_keep_restart_only(
    struct conf *fresh, const struct conf *running, char *changed, size_t len)
{
	const struct conf_option *o;
	char **sp, *dup;
	const char *src;
	size_t i, used = 0;
	int n = 0;

	if (len > 0)
		changed[0] = '\0';
	for (i = 0; i < CONF_NOPTIONS; i++) {
		o = &conf_options[i];
		if (!(o->flags & CONF_RESTART) || conf_same(o, fresh, running))
			continue;
		switch (o->type) {
		case CONF_STRING:
		case CONF_PATH:
		case CONF_URL:
			src =
			    *(char *const *)((const char *)running + o->offset);
			if (src != NULL && (dup = strdup(src)) == NULL)
				return -ENOMEM;
			sp = conf_strp(fresh, o);
			free(*sp);
			*sp = src != NULL ? dup : NULL;
			break;
		case CONF_LONG:
			*(long *)((char *)fresh + o->offset) =
			    *(const long *)((const char *)running + o->offset);
			break;
		case CONF_INT:
		case CONF_MODE:
			*(int *)((char *)fresh + o->offset) =
			    *(const int *)((const char *)running + o->offset);
			break;
		case CONF_TYPE__MAX:
			break;
		}
		if (used < len) {
			int w = snprintf(changed + used, len - used, "%s%s",
			    n > 0 ? ", " : "", o->name);
			if (w > 0)
				used += (size_t)w;
		}
		n++;
	}
	return n;
}

void
conf_dump(const struct conf *cfg, FILE *fp)
{
	const struct conf_option *o;
	size_t i;
	const char *s;

	fprintf(fp, "# effective wrennd configuration\n");
	for (i = 0; i < CONF_NOPTIONS; i++) {
		o = &conf_options[i];
		switch (o->type) {
		case CONF_STRING:
		case CONF_PATH:
		case CONF_URL:
			s = *(char *const *)((const char *)cfg + o->offset);
			if (s == NULL)
				fprintf(fp, "# %s (unset)\n", o->name);
			else
				fprintf(fp, "%s \"%s\"\n", o->name, s);
			break;
		case CONF_LONG:
			fprintf(fp, "%s %ld\n", o->name,
			    *(const long *)((const char *)cfg + o->offset));
			break;
		case CONF_INT:
			fprintf(fp, "%s %d\n", o->name,
			    *(const int *)((const char *)cfg + o->offset));
			break;
		case CONF_MODE:
			fprintf(fp, "%s %04o\n", o->name,
			    *(const int *)((const char *)cfg + o->offset));
			break;
		case CONF_TYPE__MAX:
			break;
		}
	}
}
