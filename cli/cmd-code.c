/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl run-code SANDBOX [FILE|-]": code run on the sandbox's shared
 * Jupyter kernel (sandbox.run_code with stream true). Its stdout and
 * stderr are printed as they come, then the main result's text; an error
 * in the code prints its traceback on stderr and exits 1. Images (PNG,
 * JPEG, SVG, PDF) cannot go to a terminal: they are saved to files, in
 * --save-dir or, when stdout is not a terminal, in the current directory,
 * and the file name is printed; on a terminal without --save-dir a line
 * says what was left out. Ctrl-C interrupts the kernel (run.c).
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "b64.h"
#include "wrennctl.h"

#define CMD_CODE_MAX   (1024 * 1024) /* bytes of code (wrennd's max-line) */
#define CMD_CODE_FILES 10000	     /* NAME-N.EXT tried before giving up */

/* What one run-code invocation keeps while the events arrive. */
struct cmd_code {
	struct cli *cli;
	const char *sandbox;
	const char *save_dir; /* --save-dir, or "." when stdout is no tty,
			       * or NULL: images are not saved */
	unsigned saved;	      /* images saved so far */
	int failed;	      /* an image could not be saved */
};

/* The MIME types that are files, not text, and their extensions. */
static const struct {
	const char *mime;
	const char *ext;
	int base64; /* as Jupyter sends them */
} cmd_code_images[] = {
    {"image/png", "png", 1},
    {"image/jpeg", "jpg", 1},
    {"image/svg+xml", "svg", 0},
    {"application/pdf", "pdf", 1},
};

#define CMD_CODE_NIMAGES (sizeof(cmd_code_images) / sizeof(cmd_code_images[0]))

/* Write len bytes to a new file DIR/SANDBOX-N.EXT; its name in path. */
static int
cmd_code_write(struct cmd_code *cc, const char *ext, const unsigned char *buf,
    size_t len, char *path, size_t pathlen)
{
	unsigned n;
	ssize_t w;
	size_t off;
	int fd = -1;

	for (n = cc->saved + 1; n <= CMD_CODE_FILES && fd < 0; n++) {
		snprintf(path, pathlen, "%s/%s-%u.%s", cc->save_dir,
		    cc->sandbox, n, ext);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	for (off = 0; off < len; off += (size_t)w)
		if ((w = write(fd, buf + off, len - off)) < 0) {
			(void)close(fd);
			return -1;
		}
	cc->saved = n - 1;
	return close(fd);
}

/* Decode Jupyter's base64 (lines end with newlines) into *ret. */
static int
cmd_code_b64(const json_t *v, unsigned char **ret, size_t *ret_len)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i, k = 0;
	char *clean;

	if ((clean = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ')
			clean[k++] = s[i];
	*ret = b64_decode_loose(clean, k, ret_len);
	free(clean);
	return *ret == NULL ? -1 : 0;
}

/* Save (or announce) the images of one result bundle. */
static void
cmd_code_images_of(struct cmd_code *cc, const json_t *bundle)
{
	const json_t *v;
	unsigned char *buf = NULL;
	char path[4200];
	size_t i, len;
	int r;

	for (i = 0; i < CMD_CODE_NIMAGES; i++) {
		v = json_object_get(bundle, cmd_code_images[i].mime);
		if (!json_is_string(v))
			continue;
		if (cc->save_dir == NULL) {
			printf("[%s, %zu bytes: use --save-dir DIR to save "
			       "it]\n",
			    cmd_code_images[i].mime, json_string_length(v));
			continue;
		}
		if (cmd_code_images[i].base64)
			r = cmd_code_b64(v, &buf, &len);
		else {
			r = 0;
			len = json_string_length(v);
			if ((buf = malloc(len + 1)) != NULL)
				memcpy(buf, json_string_value(v), len);
			else
				r = -1;
		}
		if (r == 0)
			r = cmd_code_write(cc, cmd_code_images[i].ext, buf, len,
			    path, sizeof(path));
		free(buf);
		buf = NULL;
		if (r != 0) {
			fprintf(stderr, "wrennctl: cannot save the %s: %s\n",
			    cmd_code_images[i].mime, strerror(errno));
			cc->failed = 1;
			continue;
		}
		printf("[%s saved to %s]\n", cmd_code_images[i].mime, path);
	}
}

/* Whether a bundle has one of the image types. */
static int
cmd_code_has_image(const json_t *bundle)
{
	size_t i;

	for (i = 0; i < CMD_CODE_NIMAGES; i++)
		if (json_object_get(bundle, cmd_code_images[i].mime) != NULL)
			return 1;
	return 0;
}

/* Print text, then a newline unless it ends with one. */
static void
cmd_code_line(FILE *f, const json_t *text)
{
	size_t n = json_string_length(text);

	(void)fwrite(json_string_value(text), 1, n, f);
	if (n == 0 || json_string_value(text)[n - 1] != '\n')
		fputc('\n', f);
}

/* The traceback on stderr; ANSI colours only for a terminal. */
static void
cmd_code_traceback(const json_t *err)
{
	const char *tb = json_string_value(json_object_get(err, "traceback"));
	int tty = isatty(STDERR_FILENO);
	const char *p;

	(void)fflush(stdout);
	if (tb == NULL || *tb == '\0') {
		fprintf(stderr, "%s: %s\n",
		    json_string_value(json_object_get(err, "name")),
		    json_string_value(json_object_get(err, "value")));
		return;
	}
	for (p = tb; *p != '\0'; p++) {
		if (!tty && p[0] == '\033' && p[1] == '[') {
			/* CSI ... final byte (0x40-0x7e). */
			for (p += 2; *p != '\0' && (*p < 0x40 || *p > 0x7e);)
				p++;
			if (*p == '\0')
				break;
			continue;
		}
		fputc(*p, stderr);
	}
	if (p == tb || p[-1] != '\n')
		fputc('\n', stderr);
}

/* One $/stream event: print stdout and stderr, save images. */
static void
cmd_code_event(
    struct cli *cli, const char *event, const json_t *ev, void *userdata)
{
	struct cmd_code *cc = userdata;
	const json_t *b, *text;

	if (output_event(cli, event, ev))
		return;
	if (strcmp(event, "result") == 0) {
		b = json_object_get(ev, "bundle");
		cmd_code_images_of(cc, b);
		/* A display's text now, as Jupyter's console does; the main
		 * result's at the end. */
		text = json_object_get(b, "text/plain");
		if (!json_is_true(json_object_get(b, "is_main_result")) &&
		    !cmd_code_has_image(b) && json_is_string(text))
			cmd_code_line(stdout, text);
		(void)fflush(stdout);
	} else if (strcmp(event, "error") == 0)
		cmd_code_traceback(ev);
}

/* The code: FILE, or stdin for "-" or no FILE; NULL after an error. */
static char *
cmd_code_read(struct cli *cli, const char *file, size_t *ret_len)
{
	unsigned char *buf = NULL;
	char *code;
	size_t len = 0;
	int r;

	r = cli_read_file(file, CMD_CODE_MAX, &buf, &len);
	if (r != 0) {
		output_error_local(cli, "io",
		    "cannot read the code from %s: %s",
		    file == NULL || strcmp(file, "-") == 0 ? "stdin" : file,
		    r == -EFBIG ? "more than 1 MiB" : strerror(-r));
		return NULL;
	}
	if ((code = realloc(buf, len + 1)) == NULL) {
		free(buf);
		output_error_local(cli, "nomem", "out of memory");
		return NULL;
	}
	code[len] = '\0';
	*ret_len = len;
	return code;
}

int
cmd_code_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"language", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"save-dir", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	struct cmd_code cc = {cli, NULL, NULL, 0, 0};
	const char *language = NULL, *file = NULL;
	json_t *params, *res = NULL, *text, *err;
	long timeout = 0;
	size_t len = 0;
	char *code;
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "l:T:D:", opts,
		    NULL)) != -1) {
		if (c == 'l')
			language = optarg;
		else if (c == 'T') {
			r = cli_parse_int(
			    cli, "--timeout", optarg, 1, 86400, &timeout);
			if (r != 0)
				return r;
		} else if (c == 'D')
			cc.save_dir = optarg;
		else if ((r = cli_common_opt(cli, self, c)) != CLI_CONTINUE)
			return r;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage(
		    cli, "usage: %s %s", cli->path, self->synopsis);
	cc.sandbox = argv[optind];
	if (argc - optind == 2)
		file = argv[optind + 1];
	if (cc.save_dir == NULL && !isatty(STDOUT_FILENO))
		cc.save_dir = ".";
	if ((code = cmd_code_read(cli, file, &len)) == NULL)
		return CLI_EXIT_ERROR;
	params = json_pack("{s:s, s:s%, s:b}", "sandbox_id", cc.sandbox, "code",
	    code, len, "stream", 1);
	free(code);
	if (params == NULL) {
		output_error_local(
		    cli, "protocol", "the code is not valid UTF-8 text");
		return CLI_EXIT_ERROR;
	}
	if (language != NULL)
		(void)json_object_set_new(
		    params, "language", json_string(language));
	if (timeout > 0)
		(void)json_object_set_new(
		    params, "timeout_sec", json_integer(timeout));
	run_sigint_install();
	r = run_stream(
	    cli, "sandbox.run_code", params, cmd_code_event, &cc, &res, NULL);
	if (r != 0)
		return r;
	if (cli->json)
		output_json(res, 0);
	else if (json_is_true(json_object_get(res, "kernel_restarted")))
		fprintf(stderr,
		    "wrennctl: warning: the kernel was restarted since the "
		    "last call: its state is lost\n");
	text = json_object_get(res, "text");
	if (!cli->json && json_is_string(text))
		cmd_code_line(stdout, text);
	err = json_object_get(res, "error");
	r = json_is_object(err) || cc.failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	json_decref(res);
	return r;
}
