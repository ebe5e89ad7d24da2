/* SPDX-License-Identifier: MIT */
/*
 * "wrennctl pty SANDBOX [-- CMD [ARG...]]": an interactive terminal in a
 * sandbox (sandbox.pty, a v0.1.5 control plane), like ssh or docker
 * attach; "wrennctl pty --attach STREAM_ID|SANDBOX:TAG" re-attaches to a
 * session (streams.attach with replay, or sandbox.pty {tag}).
 *
 * When stdin is a terminal it is put in raw mode (every key, Ctrl-C too,
 * goes to the program in the sandbox) and restored on every way out: the
 * program's exit, errors, wrennd going away, detaching, and SIGTERM,
 * SIGHUP, SIGINT or SIGQUIT sent to wrennctl (restored in the handler,
 * then the signal is raised again with its default action). The size
 * comes from TIOCGWINSZ and follows SIGWINCH (streams.resize). "~." after
 * Enter detaches (ssh's escape; "~~" sends one "~"): the session's call
 * is cancelled, which leaves the session running inside wrennd with its
 * replay buffer, and wrennctl exits 0 with a hint how to re-attach. The
 * program's exit ends wrennctl with its exit status.
 *
 * One poll() loop: the wrennd connection (libwrennctl's event-loop API),
 * stdin, and a self-pipe the signal handlers write to. Typed bytes wait
 * in a bounded buffer and go out as streams.input calls of at most
 * 64 KiB, one at a time (so they keep their order); a rate_limited
 * answer is retried after a growing pause, never dropped.
 *
 * Owns: the saved terminal state and the self-pipe (file-scope: the
 * signal handlers have nowhere else to find them).
 * Called by: wrennctl.c (the "pty" row).
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "b64.h"
#include "wrennctl.h"

/* The most bytes one streams.input carries (wrennd's limit). */
#define CMD_PTY_PIECE (64 * 1024)
/* Typed bytes held while they wait to be sent; past it stdin is not read. */
#define CMD_PTY_INBUF (256 * 1024)
/* One read of stdin, and the room it needs (a held escape character
 * adds one byte to the one after it; the end of a pipe adds two). */
#define CMD_PTY_READ	  4096
#define CMD_PTY_READ_ROOM (2 * CMD_PTY_READ + 2)
/* rate_limited: the first pause before a retry, and the longest (ms). */
#define CMD_PTY_BACKOFF_MIN 20
#define CMD_PTY_BACKOFF_MAX 1000
/* How long a detach waits for wrennd to answer the cancel (ms). */
#define CMD_PTY_DETACH_WAIT 5000
/* The terminal size bounds of sandbox.pty and streams.resize. */
#define CMD_PTY_DIM_MAX 1000

/* The terminal as it was before raw mode (restored by the handlers too). */
static struct termios cmd_pty_saved;
static volatile sig_atomic_t cmd_pty_raw; /* 1 while stdin is raw */
static int cmd_pty_sigfd[2] = {-1, -1};	  /* self-pipe: SIGWINCH */

/* Where the escape character was seen (ssh's rule: after Enter only). */
enum cmd_pty_esc {
	CMD_PTY_ESC_MID,   /* inside a line */
	CMD_PTY_ESC_START, /* at the start of a line */
	CMD_PTY_ESC_SEEN,  /* the escape character at a line start, held */
	CMD_PTY_ESC__MAX
};

/* One terminal session: the call that follows it and the typed bytes. */
struct cmd_pty {
	struct cli *cli;     /* borrowed */
	uint64_t id;	     /* the session's call */
	int done;	     /* its final reply came */
	int status;	     /* 0 or WRENNCTL_E_* */
	json_t *result;	     /* owned: the final result */
	char stream_id[64];  /* from "started" (or --attach) */
	char tag[160];	     /* from "started", or "" */
	const char *sandbox; /* borrowed from argv, or NULL */
	int tty;	     /* stdin is a terminal (raw mode, resize) */
	int resize;	     /* a size to send once the stream id is known */
	unsigned char *in;   /* owned: typed bytes not yet taken */
	size_t in_len;	     /* bytes in in */
	size_t in_flight;    /* the first in_flight of in are being sent */
	int64_t retry_at;    /* One read of stdin, and the room it needs (a held
			      * escape character    adds one byte to the one after
			      * it;    the end of a pipe adds two). */
#define CMD_PTY_READ	  4096
#define CMD_PTY_READ_ROOM (2 * CMD_PTY_READ + 2)
	/* rate_limited: resend at (monotonic ms), 0 */
	int backoff;		 /* the next pause after rate_limited (ms) */
	int in_open;		 /* stdin not at its end yet */
	int in_dead;		 /* the session takes no more input */
	int escape;		 /* the escape character, or -1 */
	enum cmd_pty_esc esc;	 /* where the escape character may come */
	int detach;		 /* detaching: the cancel is sent */
	int64_t detach_deadline; /* give up waiting for its answer (ms) */
	int write_failed;	 /* stdout took no more */
};

/* Monotonic milliseconds. */
static int64_t
cmd_pty_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Put the terminal back as it was; safe in a signal handler, idempotent. */
static void
cmd_pty_restore(void)
{
	if (cmd_pty_raw) {
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &cmd_pty_saved);
		cmd_pty_raw = 0;
	}
}

/* A fatal signal: restore the terminal, then die of the signal. */
static void
cmd_pty_fatal_handler(int sig)
{
	cmd_pty_restore();
	/* SA_RESETHAND made the action the default again. */
	(void)raise(sig);
}

/* SIGWINCH: tell the loop through the self-pipe. */
static void
cmd_pty_winch_handler(int sig)
{
	int saved = errno;
	char c = 'W';

	(void)sig;
	if (cmd_pty_sigfd[1] >= 0)
		(void)write(cmd_pty_sigfd[1], &c, 1);
	errno = saved;
}

/* The self-pipe, the signal handlers, and SIGPIPE ignored (EPIPE). */
static int
cmd_pty_signals(void)
{
	static const int fatal[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
	struct sigaction sa;
	sigset_t set;
	size_t i;

	if (pipe(cmd_pty_sigfd) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		(void)fcntl(cmd_pty_sigfd[i], F_SETFL, O_NONBLOCK);
		(void)fcntl(cmd_pty_sigfd[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	(void)sigemptyset(&sa.sa_mask);
	sa.sa_handler = cmd_pty_winch_handler;
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = cmd_pty_fatal_handler;
	sa.sa_flags = SA_RESETHAND;
	(void)sigemptyset(&set);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		(void)sigaction(fatal[i], &sa, NULL);
		(void)sigaddset(&set, fatal[i]);
	}
	(void)sigaddset(&set, SIGWINCH);
	/* Another command may have blocked some (run.c); not here. */
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	(void)sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

/* Raw mode on stdin (a copy of its settings made raw); 0 or -1. */
static int
cmd_pty_raw_mode(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &cmd_pty_saved) != 0)
		return -1;
	raw = cmd_pty_saved;
	cfmakeraw(&raw);
	/* Set before the change: a signal in between restores either way. */
	cmd_pty_raw = 1;
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) != 0) {
		cmd_pty_raw = 0;
		return -1;
	}
	return 0;
}

/* The terminal's size, or 0 when it has none. */
static int
cmd_pty_winsize(long *cols, long *rows)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 ||
	    ws.ws_row == 0)
		return 0;
	*cols = ws.ws_col > CMD_PTY_DIM_MAX ? CMD_PTY_DIM_MAX : ws.ws_col;
	*rows = ws.ws_row > CMD_PTY_DIM_MAX ? CMD_PTY_DIM_MAX : ws.ws_row;
	return 1;
}

/* All of buf to stdout; 0 or -1. */
static int
cmd_pty_write(const unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The answer to a streams.resize: nothing to do (a size is advice). */
static void
cmd_pty_resize_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	(void)h;
	(void)id;
	(void)status;
	(void)json;
	(void)userdata;
}

/* Start a call with params (taken over) on the session's connection. */
static int
cmd_pty_call(struct cmd_pty *p, const char *method, json_t *params_steal,
    wrennctl_event_fn on_event, wrennctl_reply_fn on_reply, void *userdata,
    uint64_t *ret_id)
{
	char *text = json_dumps(params_steal, JSON_COMPACT);
	int r;

	json_decref(params_steal);
	if (text == NULL)
		return WRENNCTL_E_NOMEM;
	r = wrennctl_call_async(
	    p->cli->h, method, text, on_event, on_reply, userdata, ret_id);
	free(text);
	return r;
}

/* Send the terminal's size once the session's stream id is known. */
static void
cmd_pty_send_size(struct cmd_pty *p)
{
	long cols, rows;

	if (!p->resize || p->stream_id[0] == '\0' || p->done || p->detach)
		return;
	p->resize = 0;
	if (!cmd_pty_winsize(&cols, &rows))
		return;
	(void)cmd_pty_call(p, "streams.resize",
	    json_pack("{s:s, s:i, s:i}", "stream_id", p->stream_id, "cols",
		(int)cols, "rows", (int)rows),
	    NULL, cmd_pty_resize_cb, NULL, NULL);
}

/* Copy a string member of ev into buf when it fits (ids are short). */
static void
cmd_pty_keep(const json_t *ev, const char *key, char *buf, size_t size)
{
	const char *v = json_string_value(json_object_get(ev, key));

	if (v != NULL && strlen(v) < size)
		memcpy(buf, v, strlen(v) + 1);
}

/* One event of the session: started (ids), output (to stdout). */
static void
cmd_pty_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	struct cmd_pty *p = userdata;
	const json_t *data;
	unsigned char *buf;
	json_t *ev;
	size_t len;

	(void)h;
	(void)id;
	if ((ev = json_loads(json, 0, NULL)) == NULL)
		return;
	if (strcmp(event, "started") == 0) {
		cmd_pty_keep(
		    ev, "stream_id", p->stream_id, sizeof(p->stream_id));
		cmd_pty_keep(ev, "tag", p->tag, sizeof(p->tag));
		cmd_pty_send_size(p);
	} else if (strcmp(event, "output") == 0 && !p->write_failed &&
	    json_is_string(data = json_object_get(ev, "data"))) {
		buf = b64_decode_loose(
		    json_string_value(data), json_string_length(data), &len);
		if (buf != NULL && cmd_pty_write(buf, len) != 0)
			p->write_failed = 1;
		free(buf);
	}
	json_decref(ev);
}

/* The session's final reply: its result, or the error (printed here,
 * where the error accessors describe it, after the terminal is back). */
static void
cmd_pty_reply_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct cmd_pty *p = userdata;

	(void)h;
	(void)id;
	p->done = 1;
	p->status = status;
	if (status == 0) {
		p->result = json_loads(json, 0, NULL);
		return;
	}
	cmd_pty_restore();
	if (!(p->detach && status == WRENNCTL_E_CANCELLED))
		output_error(p->cli, status);
}

/* The answer to a streams.input: drop what it carried, or retry later. */
static void
cmd_pty_input_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct cmd_pty *p = userdata;
	const char *code = status != 0 ? wrennctl_err_data_code(h) : NULL;

	(void)id;
	(void)json;
	if (code != NULL && strcmp(code, "rate_limited") == 0) {
		/* Nothing was sent: the same bytes go again after a pause. */
		p->retry_at = cmd_pty_now() + p->backoff;
		p->backoff = p->backoff * 2 > CMD_PTY_BACKOFF_MAX
		    ? CMD_PTY_BACKOFF_MAX
		    : p->backoff * 2;
		p->in_flight = 0;
		return;
	}
	if (status != 0 && status != WRENNCTL_E_CANCELLED)
		/* The session ended (its own reply says how): stop typing. */
		p->in_dead = 1;
	p->backoff = CMD_PTY_BACKOFF_MIN;
	memmove(p->in, p->in + p->in_flight, p->in_len - p->in_flight);
	p->in_len -= p->in_flight;
	p->in_flight = 0;
}

/* Send the next piece of typed bytes when nothing else is on its way. */
static void
cmd_pty_send_input(struct cmd_pty *p)
{
	size_t n = p->in_len > CMD_PTY_PIECE ? CMD_PTY_PIECE : p->in_len;
	json_t *params;
	size_t len;
	char *data;

	if (p->in_flight > 0 || n == 0 || p->stream_id[0] == '\0' || p->done ||
	    p->detach || p->in_dead)
		return;
	if (p->retry_at != 0 && cmd_pty_now() < p->retry_at)
		return;
	p->retry_at = 0;
	if ((data = b64_encode(p->in, n, &len)) == NULL)
		return;
	params =
	    json_pack("{s:s, s:s}", "stream_id", p->stream_id, "data", data);
	free(data);
	if (cmd_pty_call(p, "streams.input", params, NULL, cmd_pty_input_cb, p,
		NULL) == 0)
		p->in_flight = n;
}

/* One typed byte through the escape rule into the input buffer. */
static void
cmd_pty_typed(struct cmd_pty *p, unsigned char c)
{
	int at_start = c == '\r' || c == '\n';

	if (p->esc == CMD_PTY_ESC_SEEN) {
		p->esc = CMD_PTY_ESC_MID;
		if (c == '.') {
			p->detach = 1;
			return;
		}
		if (c != (unsigned char)p->escape)
			/* Not a command: the held escape goes out too. */
			p->in[p->in_len++] = (unsigned char)p->escape;
	} else if (p->esc == CMD_PTY_ESC_START && p->escape >= 0 &&
	    c == (unsigned char)p->escape) {
		p->esc = CMD_PTY_ESC_SEEN;
		return;
	}
	p->in[p->in_len++] = c;
	p->esc = at_start ? CMD_PTY_ESC_START : CMD_PTY_ESC_MID;
}

/* Read what stdin has into the input buffer (it has room for it). */
static void
cmd_pty_read_stdin(struct cmd_pty *p)
{
	unsigned char buf[CMD_PTY_READ];
	ssize_t n;
	size_t i;

	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		p->in_open = 0;
		if (p->esc == CMD_PTY_ESC_SEEN)
			p->in[p->in_len++] = (unsigned char)p->escape;
		/* A pipe's end: end-of-file for the program (Ctrl-D). */
		if (!p->tty)
			p->in[p->in_len++] = 0x04;
		return;
	}
	for (i = 0; i < (size_t)n && !p->detach; i++)
		cmd_pty_typed(p, buf[i]);
}

/* Empty the self-pipe; a SIGWINCH means a size to send. */
static void
cmd_pty_read_signals(struct cmd_pty *p)
{
	char buf[64];

	while (read(cmd_pty_sigfd[0], buf, sizeof(buf)) > 0)
		p->resize = p->tty;
}

/* Start detaching: cancel the session's call (the session stays). */
static void
cmd_pty_start_detach(struct cmd_pty *p)
{
	p->detach_deadline = cmd_pty_now() + CMD_PTY_DETACH_WAIT;
	(void)wrennctl_cancel(p->cli->h, p->id);
}

/* The poll() timeout: until a retry is due, or the detach gives up. */
static int
cmd_pty_timeout(const struct cmd_pty *p)
{
	int64_t now = cmd_pty_now(), at = 0;

	if (p->detach)
		at = p->detach_deadline;
	else if (p->retry_at != 0 && p->in_len > 0 && p->in_flight == 0)
		at = p->retry_at;
	if (at == 0)
		return -1;
	return at <= now ? 0 : (int)(at - now);
}

/* Run the loop until the session's call ends (or a detach gives up). */
static int
cmd_pty_loop(struct cmd_pty *p)
{
	struct wrennctl *h = p->cli->h;
	struct pollfd pfd[3];
	nfds_t n;
	int r;

	while (!p->done) {
		if (p->write_failed && !p->detach) {
			/* Nowhere to show it: leave the session in wrennd. */
			p->detach = 1;
			cmd_pty_start_detach(p);
		}
		if (p->detach && cmd_pty_now() >= p->detach_deadline)
			return 0;
		if ((r = wrennctl_process(h)) < 0)
			break; /* the reply callback has run */
		if (r > 0)
			continue;
		/* Before waiting: what the events just made possible. */
		cmd_pty_send_size(p);
		cmd_pty_send_input(p);
		pfd[0].fd = wrennctl_get_fd(h);
		pfd[0].events = (short)wrennctl_get_events(h);
		pfd[1].fd = cmd_pty_sigfd[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = STDIN_FILENO;
		pfd[2].events = POLLIN;
		n = p->in_open && !p->detach &&
			p->in_len + CMD_PTY_READ_ROOM <= CMD_PTY_INBUF
		    ? 3
		    : 2;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if (poll(pfd, n, cmd_pty_timeout(p)) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents != 0)
			cmd_pty_read_signals(p);
		if (n == 3 && pfd[2].revents != 0) {
			cmd_pty_read_stdin(p);
			if (p->detach)
				cmd_pty_start_detach(p);
		}
	}
	return 0;
}

/* The hint after a detach: how to come back. */
static void
cmd_pty_hint(const struct cmd_pty *p, const char *what)
{
	if (p->sandbox != NULL && p->tag[0] != '\0')
		fprintf(stderr,
		    "wrennctl: %s; re-attach with: wrennctl pty --attach %s "
		    "(or --attach %s:%s)\n",
		    what, p->stream_id, p->sandbox, p->tag);
	else
		fprintf(stderr,
		    "wrennctl: %s; re-attach with: wrennctl pty --attach %s\n",
		    what, p->stream_id[0] != '\0' ? p->stream_id : "STREAM_ID");
}

/* How the session ended, as wrennctl's exit status. */
static int
cmd_pty_status(struct cmd_pty *p)
{
	const json_t *code;

	if (p->detach) {
		cmd_pty_hint(p,
		    p->write_failed
			? "cannot write to stdout; left the session running"
			: "detached");
		return p->write_failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	}
	if (!p->done)
		return CLI_EXIT_CONNECT;
	if (p->status != 0)
		return cli_exit_code(p->status);
	if (json_is_true(json_object_get(p->result, "detached"))) {
		/* Someone ran streams.stop: the program goes on upstream. */
		if (p->sandbox != NULL && p->tag[0] != '\0')
			fprintf(stderr,
			    "wrennctl: the session was detached "
			    "(streams.stop); re-attach with: wrennctl pty "
			    "--attach %s:%s\n",
			    p->sandbox, p->tag);
		else
			fprintf(stderr,
			    "wrennctl: the session was detached "
			    "(streams.stop)\n");
		return CLI_EXIT_OK;
	}
	code = json_object_get(p->result, "exit_code");
	if (!json_is_integer(code)) {
		output_error_local(p->cli, "protocol",
		    "the session ended without an exit_code");
		return CLI_EXIT_ERROR;
	}
	/* -1 (killed by a signal) becomes 255, as exit(-1) in a shell. */
	return (int)(json_integer_value(code) & 0xff);
}

/* Start the session's call (params taken over); 0 or an exit code. */
static int
cmd_pty_start(struct cmd_pty *p, const char *method, json_t *params_steal)
{
	int r;

	if ((r = cli_connect(p->cli)) != 0) {
		json_decref(params_steal);
		return r;
	}
	cli_set_object(p->cli, method, params_steal);
	if (json_object_get(params_steal, "tag") != NULL)
		/* wrennd's not_found says what is missing: the PTY. */
		p->cli->object[0] = '\0';
	r = cmd_pty_call(p, method, params_steal, cmd_pty_event_cb,
	    cmd_pty_reply_cb, p, &p->id);
	if (r < 0) {
		output_error(p->cli, r);
		return cli_exit_code(r);
	}
	return 0;
}

/* Follow the session on this terminal until it ends; the exit status. */
static int
cmd_pty_session(struct cmd_pty *p, const char *method, json_t *params_steal)
{
	int r;

	p->tty = isatty(STDIN_FILENO);
	p->in_open = 1;
	p->backoff = CMD_PTY_BACKOFF_MIN;
	p->esc = CMD_PTY_ESC_START;
	if ((p->in = malloc(CMD_PTY_INBUF)) == NULL || cmd_pty_signals() != 0) {
		json_decref(params_steal);
		output_error_local(
		    p->cli, "nomem", "cannot set up: %s", strerror(errno));
		return CLI_EXIT_ERROR;
	}
	if (!p->tty)
		p->escape = -1; /* piped bytes are all data */
	if ((r = cmd_pty_start(p, method, params_steal)) != 0)
		return r;
	(void)atexit(cmd_pty_restore);
	if (p->tty && cmd_pty_raw_mode() != 0) {
		output_error_local(p->cli, "io",
		    "cannot put the terminal in raw mode: %s", strerror(errno));
		return CLI_EXIT_ERROR;
	}
	(void)cmd_pty_loop(p);
	cmd_pty_restore();
	return cmd_pty_status(p);
}

/* The escape character option: one character, or "none". */
static int
cmd_pty_escape(struct cli *cli, const char *arg, int *ret)
{
	if (strcmp(arg, "none") == 0) {
		*ret = -1;
		return CLI_CONTINUE;
	}
	if (strlen(arg) != 1 || (unsigned char)arg[0] < 0x20 ||
	    (unsigned char)arg[0] >= 0x7f || arg[0] == '.')
		return cli_usage(cli,
		    "--escape wants one printable character other than "
		    "'.', or none; not '%s'",
		    arg);
	*ret = (unsigned char)arg[0];
	return CLI_CONTINUE;
}

/* pty's options into params (start params) and p; CLI_CONTINUE or a code. */
static int
cmd_pty_opts(struct cli *cli, const struct cmd *self, int argc, char **argv,
    struct cmd_pty *p, json_t *params, const char **attach)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"attach", required_argument, NULL, 'a'},
	    {"env", required_argument, NULL, 'e'},
	    {"cwd", required_argument, NULL, 'C'},
	    {"cols", required_argument, NULL, 'X'},
	    {"rows", required_argument, NULL, 'Y'},
	    {"escape", required_argument, NULL, 'E'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c, r;

	/* "+": stop at SANDBOX so the command's own options stay its own. */
	while ((c = getopt_long(argc, argv,
		    "+" CLI_COMMON_SHORTOPTS "a:e:C:E:", opts, NULL)) != -1) {
		r = CLI_CONTINUE;
		if (c == 'a')
			*attach = optarg;
		else if (c == 'e')
			r = cmd_exec_env(cli, params, optarg);
		else if (c == 'C')
			(void)json_object_set_new(
			    params, "cwd", json_string(optarg));
		else if (c == 'X' || c == 'Y') {
			r = cli_parse_int(cli, c == 'X' ? "--cols" : "--rows",
			    optarg, 1, CMD_PTY_DIM_MAX, &v);
			if (r == 0)
				(void)json_object_set_new(params,
				    c == 'X' ? "cols" : "rows",
				    json_integer(v));
			r = r == 0 ? CLI_CONTINUE : r;
		} else if (c == 'E')
			r = cmd_pty_escape(cli, optarg, &p->escape);
		else
			r = cli_common_opt(cli, self, c);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (*attach != NULL && json_object_size(params) > 0)
		return cli_usage(cli,
		    "--env, --cwd, --cols and --rows start a new PTY; they "
		    "cannot go with --attach");
	return CLI_CONTINUE;
}

/*
 * --attach ARG: a stream id (st-...) re-attaches with streams.attach
 * (replay from the start), SANDBOX:TAG with sandbox.pty {tag}.
 */
static int
cmd_pty_attach(struct cmd_pty *p, const char *arg)
{
	const char *colon = strchr(arg, ':');
	json_t *params;
	char *sandbox;
	int r;

	if (strncmp(arg, "st-", 3) == 0) {
		if (strlen(arg) < sizeof(p->stream_id))
			memcpy(p->stream_id, arg, strlen(arg) + 1);
		p->resize = 1;
		return cmd_pty_session(
		    p, "streams.attach", json_pack("{s:s}", "stream_id", arg));
	}
	if (colon == NULL || colon == arg || colon[1] == '\0')
		return cli_usage(p->cli,
		    "--attach wants a stream id (st-...) or SANDBOX:TAG "
		    "(a tag needs its sandbox), not '%s'",
		    arg);
	if ((sandbox = strndup(arg, (size_t)(colon - arg))) == NULL)
		return CLI_EXIT_ERROR;
	params =
	    json_pack("{s:s, s:s}", "sandbox_id", sandbox, "tag", colon + 1);
	p->sandbox = sandbox;
	p->resize = 1;
	r = cmd_pty_session(p, "sandbox.pty", params);
	free(sandbox);
	return r;
}

/* A new PTY running argv[optind..] (nothing: the server's /bin/bash). */
static int
cmd_pty_new(struct cmd_pty *p, json_t *params, int argc, char **argv)
{
	long cols, rows;
	json_t *args;

	p->sandbox = argv[optind];
	(void)json_object_set_new(
	    params, "sandbox_id", json_string(argv[optind++]));
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind < argc) {
		(void)json_object_set_new(
		    params, "cmd", json_string(argv[optind++]));
		if ((args = json_array()) == NULL) {
			json_decref(params);
			return CLI_EXIT_ERROR;
		}
		for (; optind < argc; optind++)
			(void)json_array_append_new(
			    args, json_string(argv[optind]));
		(void)json_object_set_new(params, "args", args);
	}
	if (isatty(STDIN_FILENO) && cmd_pty_winsize(&cols, &rows)) {
		if (json_object_get(params, "cols") == NULL)
			(void)json_object_set_new(
			    params, "cols", json_integer(cols));
		if (json_object_get(params, "rows") == NULL)
			(void)json_object_set_new(
			    params, "rows", json_integer(rows));
	}
	return cmd_pty_session(p, "sandbox.pty", params);
}

int
cmd_pty_run(struct cli *cli, const struct cmd *self, int argc, char **argv)
{
	struct cmd_pty p;
	const char *attach = NULL;
	json_t *params;
	int r;

	memset(&p, 0, sizeof(p));
	p.cli = cli;
	p.escape = '~';
	if ((params = json_object()) == NULL)
		return CLI_EXIT_ERROR;
	r = cmd_pty_opts(cli, self, argc, argv, &p, params, &attach);
	if (r == CLI_CONTINUE && attach != NULL && optind < argc)
		r = cli_usage(cli,
		    "--attach takes no SANDBOX or CMD (a tag is "
		    "--attach SANDBOX:TAG)");
	if (r == CLI_CONTINUE && attach == NULL && optind >= argc)
		r = cli_usage(cli, "pty wants SANDBOX (or --attach)");
	if (r != CLI_CONTINUE) {
		json_decref(params);
		return r;
	}
	if (attach != NULL) {
		json_decref(params);
		r = cmd_pty_attach(&p, attach);
	} else
		r = cmd_pty_new(&p, params, argc, argv);
	/* Our callbacks point at p: complete the calls while it lives. */
	cli->h = wrennctl_free(cli->h);
	cmd_pty_restore();
	json_decref(p.result);
	free(p.in);
	return r;
}
