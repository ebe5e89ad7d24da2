/* SPDX-License-Identifier: MIT */
/*
 * dial.c on real loopback sockets, no control plane: a connect, a refused
 * port, the second address of a name after the first refused, the
 * deadline (a TLS peer and a name server that never answer), TLS verified
 * with a test CA, refused without it or for the wrong name (an in-process
 * TLS server on the same loop), cancelling in every phase without a
 * callback, an event or a descriptor left, and the words dial_bev_end()
 * finds for an EOF and a reset.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "dial.h"
#include "log.h"
#include "tap.h"
#include "testenv.h"
#include "tlsctx.h"

static struct event_base *base;
static char tmpdir[] = "/tmp/test-dial.XXXXXX";

/* What one dial reported. */
struct res {
	int calls;
	int in_start; /* set around dial_start: a callback then is a bug */
	int sync;     /* the callback ran inside dial_start */
	enum dial_outcome outcome;
	int error;
	char errmsg[256];
	struct bufferevent *bev; /* owned once reported */
	struct dial *d;
};

static void
done_cb(struct dial *d, const struct dial_result *r, void *arg)
{
	struct res *res = arg;

	res->calls++;
	if (res->in_start)
		res->sync = 1;
	res->outcome = r->outcome;
	res->error = r->error;
	snprintf(res->errmsg, sizeof(res->errmsg), "%s", r->errmsg);
	res->bev = r->bev;
	/* Freeing inside the callback is allowed. */
	dial_free(d);
	res->d = NULL;
}

static void
res_clear(struct res *res)
{
	if (res->bev != NULL)
		bufferevent_free(res->bev);
	dial_free(res->d);
	memset(res, 0, sizeof(*res));
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until *flag is non-zero or ms passed (a safety net). */
static void
run_until(const int *flag, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int fired = 0;
	struct event *g = evtimer_new(base, guard_cb, &fired);

	evtimer_add(g, &tv);
	while ((flag == NULL || !*flag) && !fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(g);
}

static int
start(struct res *res, const char *host, int port, const struct tlsctx *tls,
    struct evdns_base *dns, long timeout_ms)
{
	struct dial_opts o = {.host = host,
	    .port = (unsigned)port,
	    .tls = tls,
	    .dns = dns,
	    .timeout_ms = timeout_ms,
	    .done = done_cb,
	    .arg = res};
	int r;

	memset(res, 0, sizeof(*res));
	res->in_start = 1;
	r = dial_start(base, &o, &res->d);
	res->in_start = 0;
	return r;
}

/* Dial and wait for the one result. */
static void
dial_wait(struct res *res, const char *host, int port, const struct tlsctx *tls,
    struct evdns_base *dns, long timeout_ms)
{
	int r = start(res, host, port, tls, dns, timeout_ms);

	if (r != 0) {
		diag("dial_start(%s, %d): %d", host, port, r);
		return;
	}
	run_until(&res->calls, 20000);
}

/* The peer address of a connected socket, dotted. */
static const char *
peer(int fd, char *buf, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	if (getpeername(fd, (struct sockaddr *)&sin, &sl) != 0 ||
	    inet_ntop(AF_INET, &sin.sin_addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* A private hosts file: name -> the addresses, in this order. */
static struct evdns_base *
dns_with_hosts(const char *name, const char *a1, const char *a2)
{
	char path[300];
	struct evdns_base *dns;
	FILE *f;

	snprintf(path, sizeof(path), "%s/hosts", tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		return NULL;
	fprintf(f, "%s %s\n", a1, name);
	if (a2 != NULL)
		fprintf(f, "%s %s\n", a2, name);
	fclose(f);
	dns = evdns_base_new(base, 0);
	if (dns != NULL && evdns_base_load_hosts(dns, path) != 0) {
		evdns_base_free(dns, 0);
		return NULL;
	}
	return dns;
}

static void
test_bad_args(void)
{
	struct dial_opts o = {.host = "127.0.0.1", .port = 80, .done = done_cb};
	struct dial *d = NULL;
	int r;

	o.host = NULL;
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: no host: want %d, got %d", -EINVAL, r);
	o.host = "";
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: empty host: want %d, got %d", -EINVAL, r);
	o.host = "127.0.0.1";
	o.port = 0;
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: port 0: want %d, got %d", -EINVAL, r);
	o.port = 65536;
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: port 65536: want %d, got %d", -EINVAL, r);
	o.port = 80;
	o.done = NULL;
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: no callback: want %d, got %d", -EINVAL, r);
	o.done = done_cb;
	o.host = "example.invalid";
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: a name without evdns: want %d, got %d",
	    -EINVAL, r);
	o.host = "[::1]";
	r = dial_start(base, &o, &d);
	ok(r == -EINVAL, "bad args: a bracketed literal: want %d, got %d",
	    -EINVAL, r);
	ok(d == NULL, "bad args: *ret untouched: want NULL, got %p", (void *)d);
	r = testenv_events(base);
	ok(r == 0, "bad args: events left: want 0, got %d", r);
	dial_free(NULL);
	ok(1, "dial_free(NULL) is a no-op");
}

static void
test_names(void)
{
	ok(strcmp(dial_outcome_name(DIAL_TLS), "tls") == 0,
	    "outcome name: want 'tls', got '%s'", dial_outcome_name(DIAL_TLS));
	ok(strcmp(dial_outcome_name(DIAL_OUTCOME__MAX), "unknown") == 0,
	    "outcome name out of range: want 'unknown', got '%s'",
	    dial_outcome_name(DIAL_OUTCOME__MAX));
}

static void
test_connect_ok(void)
{
	struct res res;
	char addr[64];
	int port, lfd = testenv_listen("127.0.0.1", &port), fd, v;

	dial_wait(&res, "127.0.0.1", port, NULL, NULL, 5000);
	ok(res.sync == 0, "connect: no callback from inside dial_start");
	ok(res.calls == 1, "connect: one callback: want 1, got %d", res.calls);
	ok(res.outcome == DIAL_OK, "connect: want ok, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ok(res.error == 0, "connect: error: want 0, got %d", res.error);
	ok(strcmp(res.errmsg, "") == 0, "connect: errmsg: want '', got '%s'",
	    res.errmsg);
	ok(res.bev != NULL, "connect: a bufferevent handed over");
	if (res.bev != NULL) {
		fd = (int)bufferevent_getfd(res.bev);
		ok(strcmp(peer(fd, addr, sizeof(addr)), "127.0.0.1") == 0,
		    "connect: peer: want 127.0.0.1, got %s", addr);
		v = testenv_sockopt(fd, SOL_SOCKET, SO_KEEPALIVE);
		ok(v == 1, "connect: SO_KEEPALIVE: want 1, got %d", v);
		v = testenv_sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE);
		ok(v == 30, "connect: TCP_KEEPIDLE: want 30, got %d", v);
		v = testenv_sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL);
		ok(v == 10, "connect: TCP_KEEPINTVL: want 10, got %d", v);
		v = testenv_sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT);
		ok(v == 3, "connect: TCP_KEEPCNT: want 3, got %d", v);
		v = testenv_sockopt(fd, IPPROTO_TCP, TCP_NODELAY);
		ok(v == 1, "connect: TCP_NODELAY: want 1, got %d", v);
		v = bufferevent_get_enabled(res.bev);
		ok(v == 0, "connect: handed over with I/O off: want 0, got %d",
		    v);
		ok(bufferevent_openssl_get_ssl(res.bev) == NULL,
		    "connect: plain TCP has no SSL");
	}
	res_clear(&res);
	close(lfd);
}

static void
test_refused(void)
{
	struct res res;
	int port = testenv_closed_port();

	dial_wait(&res, "127.0.0.1", port, NULL, NULL, 5000);
	ok(res.outcome == DIAL_CONNECT, "refused: want connect, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ok(res.error == ECONNREFUSED, "refused: error: want %d, got %d",
	    ECONNREFUSED, res.error);
	ok(strstr(res.errmsg, "refused") != NULL,
	    "refused: errmsg says so: '%s'", res.errmsg);
	ok(strstr(res.errmsg, "127.0.0.1") != NULL,
	    "refused: errmsg names the host: '%s'", res.errmsg);
	ok(res.bev == NULL, "refused: no bufferevent");
	res_clear(&res);
}

/*
 * A name whose first address (127.0.0.2, in hosts-file order) refuses:
 * the second (127.0.0.1, listening) is tried and connected.
 */
static void
test_second_address(void)
{
	struct evdns_base *dns;
	struct res res;
	char addr[64];
	int port, lfd = testenv_listen("127.0.0.1", &port);

	dial_wait(&res, "127.0.0.2", port, NULL, NULL, 5000);
	ok(res.outcome == DIAL_CONNECT,
	    "second address: 127.0.0.2 alone refuses: want connect, got %s "
	    "(%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	res_clear(&res);

	dns =
	    dns_with_hosts("two.wrennd-test.example", "127.0.0.2", "127.0.0.1");
	ok(dns != NULL, "second address: evdns with a hosts file");
	dial_wait(&res, "two.wrennd-test.example", port, NULL, dns, 5000);
	ok(res.outcome == DIAL_OK, "second address: want ok, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	if (res.bev != NULL)
		ok(strcmp(peer((int)bufferevent_getfd(res.bev), addr,
			      sizeof(addr)),
		       "127.0.0.1") == 0,
		    "second address: peer: want 127.0.0.1, got %s", addr);
	res_clear(&res);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	close(lfd);
}

/* A name server that never answers, on a UDP socket of ours. */
static struct evdns_base *
dns_silent(int *udp)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct evdns_base *dns;
	char ns[64];

	*udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*udp == -1 || bind(*udp, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(*udp, (struct sockaddr *)&sin, &len))
		return NULL;
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", ntohs(sin.sin_port));
	dns = evdns_base_new(base, 0);
	if (dns != NULL && evdns_base_nameserver_ip_add(dns, ns) != 0) {
		evdns_base_free(dns, 0);
		return NULL;
	}
	return dns;
}

static void
test_deadline(const struct tlsctx *tls)
{
	struct evdns_base *dns;
	struct res res;
	int port, udp, lfd = testenv_listen("127.0.0.1", &port);

	/* TCP connects (the backlog), TLS never gets an answer. */
	if (tls != NULL) {
		dial_wait(&res, "127.0.0.1", port, tls, NULL, 300);
		ok(res.outcome == DIAL_TIMEOUT,
		    "deadline in TLS: want timeout, got %s (%s)",
		    dial_outcome_name(res.outcome), res.errmsg);
		ok(strstr(res.errmsg,
		       "TLS handshake with 127.0.0.1 timed out") != NULL,
		    "deadline in TLS: errmsg says where: '%s'", res.errmsg);
		ok(res.bev == NULL, "deadline in TLS: no bufferevent");
		res_clear(&res);
	}
	close(lfd);

	dns = dns_silent(&udp);
	ok(dns != NULL, "deadline in lookup: a silent name server");
	dial_wait(&res, "nowhere.wrennd-test.example", 443, NULL, dns, 300);
	ok(res.outcome == DIAL_TIMEOUT,
	    "deadline in lookup: want timeout, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ok(strstr(res.errmsg, "looking up nowhere.wrennd-test.example") != NULL,
	    "deadline in lookup: errmsg says where: '%s'", res.errmsg);
	res_clear(&res);
	/* Let evdns report the cancelled lookup before it goes. */
	run_until(NULL, 100);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	close(udp);
}

/* The in-process TLS server: accepted connections, freed at the end. */
static SSL_CTX *srv_ctx;
static struct bufferevent *srv_bevs[64];
static int srv_n;

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	(void)arg;
}

static void
srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	if (srv_n == (int)(sizeof(srv_bevs) / sizeof(srv_bevs[0]))) {
		close(fd);
		return;
	}
	bev = bufferevent_openssl_socket_new(base, fd, SSL_new(srv_ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return;
	bufferevent_setcb(bev, NULL, NULL, srv_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	srv_bevs[srv_n++] = bev;
}

static void
test_tls(const struct tlsctx *trust)
{
	struct sockaddr_in sin;
	struct evconnlistener *l;
	struct tlsctx *sys;
	struct evdns_base *dns;
	struct res res;
	char cert[300], key[300], err[256];
	socklen_t len = sizeof(sin);
	SSL *ssl;
	int port, i;
	long vr;

	snprintf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
	srv_ctx = SSL_CTX_new(TLS_server_method());
	if (srv_ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(srv_ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(srv_ctx, key, SSL_FILETYPE_PEM) != 1) {
		ok(0, "tls: a server context with the test certificate");
		SSL_CTX_free(srv_ctx);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(base, srv_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ok(l != NULL, "tls: server listening");
	if (l == NULL)
		return;
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);

	dial_wait(&res, "127.0.0.1", port, trust, NULL, 5000);
	ok(res.outcome == DIAL_OK, "tls with the test CA: want ok, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ssl = res.bev != NULL ? bufferevent_openssl_get_ssl(res.bev) : NULL;
	ok(ssl != NULL, "tls with the test CA: a TLS bufferevent");
	vr = ssl != NULL ? SSL_get_verify_result(ssl) : -1;
	ok(vr == X509_V_OK,
	    "tls with the test CA: verify result: want %d, "
	    "got %ld",
	    X509_V_OK, vr);
	i = ssl != NULL ? SSL_is_init_finished(ssl) : -1;
	ok(i == 1, "tls with the test CA: handshake finished: want 1, got %d",
	    i);
	res_clear(&res);

	sys = tlsctx_new(NULL, err, sizeof(err));
	ok(sys != NULL, "tls: a policy with the system store only (%s)",
	    sys != NULL ? "ok" : err);
	dial_wait(&res, "127.0.0.1", port, sys, NULL, 5000);
	ok(res.outcome == DIAL_TLS, "tls untrusted: want tls, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ok(strstr(res.errmsg, "certificate verify failed") != NULL,
	    "tls untrusted: errmsg says why: '%s'", res.errmsg);
	ok(res.bev == NULL, "tls untrusted: no bufferevent");
	res_clear(&res);
	tlsctx_free(sys);

	dns = dns_with_hosts("wrong.wrennd-test.example", "127.0.0.1", NULL);
	dial_wait(&res, "wrong.wrennd-test.example", port, trust, dns, 5000);
	ok(res.outcome == DIAL_TLS, "tls wrong name: want tls, got %s (%s)",
	    dial_outcome_name(res.outcome), res.errmsg);
	ok(strstr(res.errmsg, "certificate verify failed") != NULL,
	    "tls wrong name: errmsg says why: '%s'", res.errmsg);
	res_clear(&res);
	if (dns != NULL)
		evdns_base_free(dns, 0);

	run_until(NULL, 50);
	for (i = 0; i < srv_n; i++)
		bufferevent_free(srv_bevs[i]);
	srv_n = 0;
	evconnlistener_free(l);
	SSL_CTX_free(srv_ctx);
	srv_ctx = NULL;
}

/* Freed before a result: no callback, no event, no descriptor left. */
static void
cancel_case(const char *name, const char *host, int port,
    const struct tlsctx *tls, struct evdns_base *dns, long run_ms)
{
	struct res res;
	int ev0, fd0, r, n;

	/* Let earlier cases' deferred frees run before counting. */
	run_until(NULL, 50);
	ev0 = testenv_events(base);
	fd0 = testenv_fds();
	r = start(&res, host, port, tls, dns, 10000);
	ok(r == 0, "cancel %s: dial_start: want 0, got %d", name, r);
	if (run_ms > 0)
		run_until(NULL, run_ms);
	ok(res.calls == 0, "cancel %s: still under way: want 0 calls, got %d",
	    name, res.calls);
	dial_free(res.d);
	res.d = NULL;
	run_until(NULL, 100);
	ok(res.calls == 0, "cancel %s: no callback: want 0, got %d", name,
	    res.calls);
	n = testenv_events(base);
	ok(n == ev0, "cancel %s: events: want %d, got %d", name, ev0, n);
	n = testenv_fds();
	ok(n == fd0, "cancel %s: descriptors: want %d, got %d", name, fd0, n);
}

static void
test_cancel(const struct tlsctx *tls)
{
	struct evdns_base *dns;
	int port, udp, lfd = testenv_listen("127.0.0.1", &port);

	cancel_case("at once", "127.0.0.1", port, NULL, NULL, 0);
	if (tls != NULL)
		cancel_case("in TLS", "127.0.0.1", port, tls, NULL, 100);
	close(lfd);
	dns = dns_silent(&udp);
	ok(dns != NULL, "cancel: a silent name server");
	cancel_case(
	    "in lookup", "nowhere.wrennd-test.example", 443, NULL, dns, 100);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	close(udp);
}

/* dial_bev_end() on a dialled bufferevent: EOF, then a reset. */
struct end {
	int seen, error;
	char text[200];
};

static void
end_cb(struct bufferevent *bev, short what, void *arg)
{
	struct end *e = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	e->error = dial_bev_end(bev, what, e->text, sizeof(e->text));
	e->seen = 1;
}

static void
bev_end_case(int reset)
{
	const char *name = reset ? "reset" : "eof";
	struct linger lg = {1, 0};
	struct end e = {0, -1, ""};
	struct res res;
	int port, lfd = testenv_listen("127.0.0.1", &port), afd;

	dial_wait(&res, "127.0.0.1", port, NULL, NULL, 5000);
	ok(res.outcome == DIAL_OK, "bev end %s: connect: want ok, got %s (%s)",
	    name, dial_outcome_name(res.outcome), res.errmsg);
	if (res.bev == NULL)
		goto out;
	afd = accept(lfd, NULL, NULL);
	ok(afd >= 0, "bev end %s: accepted: got fd %d", name, afd);
	if (afd < 0)
		goto out;
	bufferevent_setcb(res.bev, NULL, NULL, end_cb, &e);
	bufferevent_enable(res.bev, EV_READ);
	if (reset)
		setsockopt(afd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(afd);
	run_until(&e.seen, 5000);
	ok(e.error == reset, "bev end %s: error: want %d, got %d", name, reset,
	    e.error);
	ok(strstr(e.text,
	       reset ? "reset"
		     : "connection closed by the "
		       "server") != NULL,
	    "bev end %s: text: '%s'", name, e.text);
out:
	res_clear(&res);
	close(lfd);
}

int
main(void)
{
	char ca[300], err[256];
	struct tlsctx *trust = NULL;
	int fd0, ev0, n;

	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("TEST_VERBOSE") != NULL ? 2 : 0);
	if (mkdtemp(tmpdir) == NULL) {
		printf("1..0 # SKIP cannot create a temporary directory\n");
		return 0;
	}
	base = event_base_new();
	fd0 = testenv_fds();
	if (testenv_make_ca(tmpdir) == 0) {
		snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
		trust = tlsctx_new(ca, err, sizeof(err));
		if (trust == NULL)
			diag("tlsctx_new with the test CA: %s", err);
	} else
		diag("no openssl CLI: the TLS cases are skipped");

	test_names();
	test_bad_args();
	test_connect_ok();
	test_refused();
	test_second_address();
	test_deadline(trust);
	if (trust != NULL)
		test_tls(trust);
	test_cancel(trust);
	bev_end_case(0);
	bev_end_case(1);

	tlsctx_free(trust);
	run_until(NULL, 50);
	ev0 = testenv_events(base);
	ok(ev0 == 0, "at the end: events in the base: want 0, got %d", ev0);
	n = testenv_fds();
	ok(n == fd0, "at the end: descriptors: want %d, got %d", fd0, n);
	event_base_free(base);
	testenv_sh("rm -rf '%s'", tmpdir);
	return done_testing();
}
