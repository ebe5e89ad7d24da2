/* SPDX-License-Identifier: MIT */
/*
 * What unit tests with real sockets need around them: counting this
 * process's open descriptors and a base's events (to show nothing leaks),
 * a loopback TCP listener, a port nobody listens on, socket options, a
 * throw-away test CA with a server certificate it signed (openssl CLI), and
 * bytes shown on one TAP line.
 */
#ifndef WRENND_TESTENV_H
#define WRENND_TESTENV_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

/* Descriptors open in this process. */
static int __attribute__((unused)) testenv_fds(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

static int __attribute__((unused))
testenv_count_cb(const struct event_base *b, const struct event *ev, void *arg)
{
	(void)b;
	(void)ev;
	++*(int *)arg;
	return 0;
}

/* Events added to base (pending or active). */
static int __attribute__((unused)) testenv_events(struct event_base *base)
{
	int n = 0;

	(void)event_base_foreach_event(base, testenv_count_cb, &n);
	return n;
}

/*
 * A TCP socket listening on addr (a dotted quad) port 0, never accepted
 * from: the kernel completes connections into its backlog. Its port goes
 * to *port. -1 on failure.
 */
static int __attribute__((unused)) testenv_listen(const char *addr, int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (fd == -1 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A loopback port nobody listens on (bound, read, closed); 0 on failure. */
static int __attribute__((unused)) testenv_closed_port(void)
{
	int port = 0, fd = testenv_listen("127.0.0.1", &port);

	if (fd == -1)
		return 0;
	close(fd);
	return port;
}

/* An int socket option of fd, or -1 if it cannot be read. */
static int __attribute__((unused)) testenv_sockopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) != 0)
		return -1;
	return v;
}

/* system() of a formatted command line. */
static int testenv_sh(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));
static int
testenv_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/*
 * In dir: ca.pem (a test CA), srv.pem and srv.key (a server certificate it
 * signed for IP 127.0.0.1 and DNS localhost). 0, or -1 without the openssl
 * CLI or on failure.
 */
static int __attribute__((unused)) testenv_make_ca(const char *dir)
{
	if (testenv_sh("command -v openssl >/dev/null 2>&1") != 0)
		return -1;
	return testenv_sh(
		   "cd '%s' && "
		   "openssl req -x509 -newkey ec -pkeyopt "
		   "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out "
		   "ca.pem -days 2 -subj /CN=wrennd-test-ca >/dev/null 2>&1 && "
		   "openssl req -newkey ec -pkeyopt "
		   "ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out "
		   "srv.csr -subj /CN=wrennd-test >/dev/null 2>&1 && "
		   "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
		   "basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n'"
		   " "
		   "> ext.cnf && "
		   "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		   "-CAcreateserial -out srv.pem -days 2 -extfile ext.cnf "
		   ">/dev/null 2>&1",
		   dir) == 0
	    ? 0
	    : -1;
}

/*
 * s[0..len) for a one-line TAP description: CR as \\r, LF as \\n, other
 * control and 8-bit bytes as \\xNN; cut to fit buf. Returns buf.
 */
static __attribute__((unused)) const char *
testenv_shown(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t n = 0, i;
	unsigned char c;

	for (i = 0; i < len && n + 5 < buflen; i++) {
		c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			n += (size_t)snprintf(
			    buf + n, buflen - n, "\\%c", c == '\r' ? 'r' : 'n');
		else if (c < ' ' || c >= 0x7f)
			n +=
			    (size_t)snprintf(buf + n, buflen - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

#endif /* WRENND_TESTENV_H */
