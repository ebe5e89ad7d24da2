/* SPDX-License-Identifier: MIT */
/*
 * conf.c without a daemon: the file parser (values, quoting, errors with
 * line and column), conf_set ranges, the words api-dialect takes (issue
 * 10), conf_finish's socket path checks (issue 7) and what a reload keeps
 * (conf_keep_restart_only).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Parse text into a fresh configuration; the result code. */
static int
parse(const char *text, struct conf **ret, struct parse_error *pe)
{
	struct conf *cfg = conf_new();

	memset(pe, 0, sizeof(*pe));
	*ret = cfg;
	if (cfg == NULL)
		return -1;
	return conf_parse_buf(cfg, "t.conf", text, strlen(text), pe);
}

static void
test_parse(void)
{
	struct parse_error pe;
	struct conf *cfg;
	int r;

	r = parse("# comment\n\nmax-clients 10   # trailing\n"
		  "token-file \"/tmp/a b\\\"c\"\n",
	    &cfg, &pe);
	ok(r == 0, "a good file parses (%d: %s)", r, pe.text);
	ok(cfg->max_clients == 10, "max-clients: want 10, got %ld",
	    cfg->max_clients);
	ok(streq(cfg->token_file, "/tmp/a b\"c"),
	    "a quoted value with a space and an escape (got '%s')",
	    cfg->token_file);
	ok(cfg->max_inflight == 64,
	    "untouched keys keep defaults: want 64, "
	    "got %ld",
	    cfg->max_inflight);
	conf_unref(cfg);

	r = parse("max-clients 10\nmax-inflight lots\n", &cfg, &pe);
	ok(r != 0, "a bad number is refused");
	ok(pe.line == 2, "on line 2 (got %d)", pe.line);
	ok(strncmp(pe.text, "t.conf:2:1: ", 12) == 0,
	    "message starts with file:line:col (got '%s')", pe.text);
	conf_unref(cfg);

	r = parse("frobnicate 1\n", &cfg, &pe);
	ok_int(r != 0, 1, "unknown option: refused (r=%d)", r);
	ok_strstr(
	    pe.text, "unknown option 'frobnicate'", "unknown option: named");
	conf_unref(cfg);

	r = parse("max-clients 1 2\n", &cfg, &pe);
	ok_int(r != 0, 1, "a second value: refused (r=%d)", r);
	ok_int(pe.column, 14, "a second value: column");
	conf_unref(cfg);

	r = parse("base-url \"http://x\n", &cfg, &pe);
	ok_int(r != 0, 1, "unterminated quote: refused (r=%d)", r);
	ok_strstr(pe.text, "unterminated", "unterminated quote: named");
	conf_unref(cfg);

	r = parse("max-clients\n", &cfg, &pe);
	ok_int(r != 0, 1, "missing value: refused (r=%d)", r);
	ok_strstr(pe.text, "missing value", "missing value: named");
	conf_unref(cfg);

	r = parse("max-clients 0\n", &cfg, &pe);
	ok_int(r != 0, 1, "out of range: refused (r=%d)", r);
	ok_strstr(pe.text, "out of range", "out of range: named");
	conf_unref(cfg);

	cfg = conf_new();
	r = conf_parse_buf(cfg, "t.conf", "max-clients 1\0x\n", 16, &pe);
	ok_int(r != 0, 1, "a NUL byte: refused (r=%d)", r);
	ok_strstr(pe.text, "NUL", "a NUL byte: named");
	conf_unref(cfg);
}

static void
test_set(void)
{
	struct conf *cfg = conf_new();
	char err[256] = "", url[1200];
	int r;

	/* long values are kept whole (wrennd --set passes them on) */
	memcpy(url, "http://127.0.0.1:1/", 19);
	memset(url + 19, 'p', 1000);
	url[1019] = '\0';
	r = conf_set(cfg, "base-url", url, err, sizeof(err));
	ok(r == 0, "a 1019-byte base-url is taken (%d: %s)", r, err);
	ok(streq(cfg->base_url, url), "and kept whole (got %zu bytes)",
	    cfg->base_url != NULL ? strlen(cfg->base_url) : 0);
	r = conf_set(cfg, "base-url", "http://h:1///", err, sizeof(err));
	ok_int(r, 0, "trailing slashes: taken");
	ok_str(cfg->base_url, "http://h:1", "trailing slashes: trimmed");
	r = conf_set(cfg, "base-url", "http://u:p@h", err, sizeof(err));
	ok(r != 0, "credentials in the URL are refused");
	r = conf_set(cfg, "socket-mode", "0660", err, sizeof(err));
	ok_int(r, 0, "octal mode: taken");
	ok_int(cfg->socket_mode, 0660, "octal mode: value");
	r = conf_set(cfg, "socket-mode", "9", err, sizeof(err));
	ok(r != 0, "a non-octal mode is refused");
	r = conf_set(cfg, "token-file", "", err, sizeof(err));
	ok(r != 0, "an empty path is refused");
	conf_unref(cfg);
}

/* api-dialect (issue 10): auto by default, one of three words from the
 * file or --set, anything else refused with the words it takes. */
static void
test_api_dialect(void)
{
	static const char *bad[] = {
	    "Capsules", "caps", "auto|sandboxes", "sandboxes ", "v0.1.5", "a"};
	struct parse_error pe;
	struct conf *cfg = conf_new();
	char err[256] = "";
	size_t i;
	int r;

	ok_str(cfg->api_dialect, "auto", "api-dialect: auto by default");
	conf_unref(cfg);
	r = parse("api-dialect capsules\n", &cfg, &pe);
	ok_int(r, 0, "api-dialect capsules in the file: taken");
	ok_str(cfg->api_dialect, "capsules", "api-dialect from the file");
	conf_unref(cfg);
	r = parse("api-dialect newest\n", &cfg, &pe);
	ok_int(r != 0, 1, "api-dialect newest in the file: refused");
	ok_strstr(
	    pe.text, "t.conf:1:", "api-dialect newest in the file: file:line");
	ok_strstr(pe.text, "auto|sandboxes|capsules",
	    "api-dialect newest in the file: the words it takes");
	conf_unref(cfg);
	cfg = conf_new();
	r = conf_set(cfg, "api-dialect", "sandboxes", err, sizeof(err));
	ok_int(r, 0, "--set api-dialect=sandboxes: taken");
	ok_str(cfg->api_dialect, "sandboxes", "--set api-dialect: the value");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		r = conf_set(cfg, "api-dialect", bad[i], err, sizeof(err));
		ok_int(r != 0, 1, "--set api-dialect='%s': refused", bad[i]);
		ok_strstr(err, "is not one of auto|sandboxes|capsules",
		    "--set api-dialect='%s': the words it takes", bad[i]);
	}
	ok_str(cfg->api_dialect, "sandboxes",
	    "a refused api-dialect keeps the value before it");
	conf_unref(cfg);
}

/*
 * conf_finish on the socket path and, when not NULL, the tool socket
 * tool; the result, err filled.
 */
static int
finish_sockets(const char *path, const char *tool, char *err, size_t errlen)
{
	struct conf *cfg = conf_new();
	char sub[256];
	int r;

	err[0] = '\0';
	if (conf_set(cfg, "socket", path, sub, sizeof(sub)) != 0 ||
	    (tool != NULL &&
		conf_set(cfg, "tool-socket", tool, sub, sizeof(sub)) != 0)) {
		conf_unref(cfg);
		return -100;
	}
	r = conf_finish(cfg, err, errlen);
	conf_unref(cfg);
	return r;
}

/* conf_finish on a socket path alone. */
static int
finish_socket(const char *path, char *err, size_t errlen)
{
	return finish_sockets(path, NULL, err, errlen);
}

/* conf_finish with the socket /tmp/w.sock and the tool socket tool. */
static int
finish_tool_socket(const char *tool, char *err, size_t errlen)
{
	return finish_sockets("/tmp/w.sock", tool, err, errlen);
}

static void
test_socket_path(void)
{
	char err[512], top[64], path[128], ok_path[256];
	int r;

	/* issue 7: what an unset variable makes of a socket path */
	snprintf(top, sizeof(top), "/wrennd-unit-%ld", (long)getpid());
	snprintf(path, sizeof(path), "%s/wrennd.sock", top);
	r = finish_socket(path, err, sizeof(err));
	ok(r != 0, "a new directory at / is refused (%s)", path);
	ok_strstr(err, top, "the reason names the directory");
	ok_strstr(err, "unset variable", "the reason names the cause");
	ok(access(top, F_OK) != 0, "nothing was created at /");
	r = finish_socket("/wrennd.sock", err, sizeof(err));
	ok(r != 0, "a socket in / is refused (got '%s')", err);
	r = finish_socket("//wrennd.sock", err, sizeof(err));
	ok(r != 0, "also spelt //wrennd.sock (got '%s')", err);
	r = finish_socket("wrennd/wrennd.sock", err, sizeof(err));
	ok_int(r != 0, 1, "a relative path is refused (r=%d)", r);
	ok_strstr(err, "relative", "a relative path: named");
	snprintf(ok_path, sizeof(ok_path), "/tmp/wrennd-unit-%ld/w.sock",
	    (long)getpid());
	r = finish_socket(ok_path, err, sizeof(err));
	ok(r == 0, "a new directory under an existing one is fine (%s)", err);
	r = finish_socket("/tmp/w.sock", err, sizeof(err));
	ok(r == 0, "an existing directory is fine (%s)", err);
}

/* The tool socket has the socket's checks, named as its own. */
static void
test_tool_socket_path(void)
{
	char err[512], longer[160];

	snprintf(longer, sizeof(longer), "/tmp/%0120d.sock", 0);
	ok_int(finish_tool_socket(longer, err, sizeof(err)), -EINVAL,
	    "a tool socket longer than sun_path is refused");
	ok_strstr(err, "tool socket path is longer than 107 bytes",
	    "a long tool socket: named");
	ok_int(finish_tool_socket("w-tool.sock", err, sizeof(err)), -EINVAL,
	    "a relative tool socket is refused");
	ok_strstr(err, "tool socket path 'w-tool.sock' is relative",
	    "a relative tool socket: named");
	ok_int(finish_tool_socket("/w-tool.sock", err, sizeof(err)), -EINVAL,
	    "a tool socket in / is refused");
	ok_strstr(err, "tool socket path '/w-tool.sock' is at the filesystem",
	    "a tool socket in /: named");
	ok_int(finish_tool_socket("/tmp/w.sock", err, sizeof(err)), -EINVAL,
	    "the socket's own path is refused");
	ok_strstr(err, "are the same path", "the same path: named");
	ok_int(finish_tool_socket("/tmp/w-tool.sock", err, sizeof(err)), 0,
	    "a tool socket in an existing directory is fine");
}

static void
test_default_socket(void)
{
	struct conf *cfg;
	char err[256] = "";

	(void)unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", "", 1);
	cfg = conf_new();
	ok_int(conf_finish(cfg, err, sizeof(err)), 0,
	    "empty XDG_RUNTIME_DIR: finishes (%s)", err);
	ok_str(cfg->socket_path, "/run/wrennd/wrennd.sock",
	    "empty XDG_RUNTIME_DIR: socket path");
	conf_unref(cfg);
	setenv("XDG_RUNTIME_DIR", "/tmp", 1);
	cfg = conf_new();
	ok_int(conf_finish(cfg, err, sizeof(err)), 0,
	    "XDG_RUNTIME_DIR=/tmp: finishes (%s)", err);
	ok_str(cfg->socket_path, "/tmp/wrennd/wrennd.sock",
	    "XDG_RUNTIME_DIR=/tmp: socket path");
	conf_unref(cfg);
}

static void
test_reload_keeps(void)
{
	struct conf *run = conf_new(), *fresh = conf_new();
	char err[256], changed[256];
	int n;

	(void)conf_set(run, "base-url", "http://a:1", err, sizeof(err));
	(void)conf_set(run, "max-clients", "5", err, sizeof(err));
	(void)conf_set(fresh, "base-url", "http://b:2", err, sizeof(err));
	(void)conf_set(fresh, "max-clients", "7", err, sizeof(err));
	(void)conf_set(fresh, "max-host-connections", "3", err, sizeof(err));
	n = conf_keep_restart_only(fresh, run, changed, sizeof(changed));
	ok(n == 2, "two restart-only options differ (got %d)", n);
	ok(streq(changed, "base-url, max-host-connections"),
	    "and are named (got '%s')", changed);
	ok(streq(fresh->base_url, "http://a:1"),
	    "base-url keeps the running value (got '%s')", fresh->base_url);
	ok(fresh->max_host_connections == run->max_host_connections,
	    "max-host-connections keeps the running value (got %ld)",
	    fresh->max_host_connections);
	ok(fresh->max_clients == 7, "max-clients takes the new value (got %ld)",
	    fresh->max_clients);
	n = conf_keep_restart_only(fresh, run, changed, sizeof(changed));
	ok_int(n, 0, "then nothing differs");
	ok_str(changed, "", "and nothing is named");
	conf_unref(run);
	conf_unref(fresh);
}

int
main(void)
{
	test_parse();
	test_set();
	test_api_dialect();
	test_socket_path();
	test_tool_socket_path();
	test_default_socket();
	test_reload_keeps();
	return done_testing();
}
