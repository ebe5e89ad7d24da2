/* SPDX-License-Identifier: MIT */
/*
 * wrennd: main(), command line, start-up, signals and shutdown. Owns
 * struct wrennd and builds its modules in order: configuration,
 * credentials, TLS policy, upstream client, listener. Runs in the
 * foreground and logs to stderr; systemd (Type=notify) or a terminal
 * supervises it.
 */
#include "config.h"

#include "wrennd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "api.h"
#include "client.h"
#include "conf.h"
#include "creds.h"
#include "dialect.h"
#include "kernel.h"
#include "lease.h"
#include "listener.h"
#include "log.h"
#include "owner.h"
#include "portfwd.h"
#include "rpc.h"
#include "systemd.h"
#include "stream.h"
#include "tlsctx.h"
#include "upstream.h"

/* Options that map to configuration keys (flags win over file and env). */
static const struct option wrennd_longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"socket-mode", required_argument, NULL, 'm'},
    {"tool-socket", required_argument, NULL, 'T'},
    {"base-url", required_argument, NULL, 'b'},
    {"config", required_argument, NULL, 'c'},
    {"api-key-file", required_argument, NULL, 'k'},
    {"token-file", required_argument, NULL, 't'},
    {"ca-file", required_argument, NULL, 'a'},
    {"api-dialect", required_argument, NULL, 'd'},
    {"set", required_argument, NULL, 'o'}, {"check", no_argument, NULL, 'C'},
    {"verbose", no_argument, NULL, 'v'}, {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

static void
wrennd_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: wrennd [--socket PATH] [--base-url URL] [--config FILE]\n"
	    "              [--api-key-file FILE] [--token-file FILE] "
	    "[--ca-file FILE]\n"
	    "              [--api-dialect auto|sandboxes|capsules]\n"
	    "              [--socket-mode MODE] [--tool-socket PATH]\n"
	    "              [--set KEY=VALUE] [--check] [-v] [-V]\n"
	    "Credentials: WRENN_API_KEY, --api-key-file or "
	    "$CREDENTIALS_DIRECTORY/wrenn-api-key;\n"
	    "             WRENN_TOKEN, --token-file or "
	    "$CREDENTIALS_DIRECTORY/wrenn-token\n"
	    "             for a user JWT.\n"
	    "See wrennd(8) and wrennd.conf(5).\n");
}

static void
wrennd_versions(FILE *fp)
{
	fprintf(fp, "wrennd %s (wrenn-ipc/1)\n", PACKAGE_VERSION);
	fprintf(fp, "libevent %s, %s, jansson %s, %s\n", event_get_version(),
	    OpenSSL_version(OPENSSL_VERSION), jansson_version_str(),
	    curl_version());
#ifdef HAVE_SYSTEMD
	fprintf(fp, "built with libsystemd\n");
#else
	fprintf(fp, "built without libsystemd\n");
#endif
}

/* Route libevent's own messages into our log. */
static void
wrennd_event_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * End the drain: streams get their last "error" event, every call still
 * in flight its final shutting_down error (its upstream work stopped),
 * then the connections flush and close; the last close ends the loop.
 * With now (a second signal) nothing waits for a flush.
 */
static void
wrennd_drain_end(struct wrennd *wd, int now)
{
	stream_shutdown_all(wd->streams);
	client_shutdown_all(wd, now);
	if (wd->nclients == 0)
		event_base_loopexit(wd->base, NULL);
}

/* Drain deadline passed: stop what is left. */
static void
wrennd_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wrennd *wd = arg;

	log_info("drain deadline passed: stopping %u call(s) of %u client(s)",
	    client_calls_all(wd), wd->nclients);
	wrennd_drain_end(wd, 0);
}

/*
 * SIGTERM/SIGINT: stop accepting, let calls in flight finish within
 * drain-timeout, then stop the rest and exit. A second signal exits now.
 */
static void
wrennd_sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct wrennd *wd = arg;
	long ms = wd->cfg->drain_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (wd->draining) {
		log_info("signal %d during the drain: exiting now", (int)sig);
		wd->hurry = 1;
		if (wd->ev_drain != NULL)
			event_del(wd->ev_drain);
		wrennd_drain_end(wd, 1);
		event_base_loopexit(wd->base, NULL);
		return;
	}
	log_info("signal %d: draining %u client(s), %u call(s) in flight, "
		 "for up to %ld ms",
	    (int)sig, wd->nclients, client_calls_all(wd), ms);
	wd->draining = 1;
	systemd_stopping(wd->systemd);
	listener_free(wd->listener);
	wd->listener = NULL;
	lease_shutdown(wd, strcmp(wd->cfg->lease_on_shutdown, "destroy") == 0);
	client_drain_all(wd);
	if (wd->nclients == 0) {
		event_base_loopexit(wd->base, NULL);
		return;
	}
	wd->ev_drain = evtimer_new(wd->base, wrennd_drain_cb, wd);
	if (wd->ev_drain == NULL)
		wrennd_drain_cb(-1, 0, wd);
	else
		event_add(wd->ev_drain, &tv);
}

/* What SIGHUP needs to rebuild the configuration as it was built at start. */
struct wrennd_args {
	struct wrennd *wd; /* borrowed */
	int argc;
	char **argv;	  /* borrowed: main's */
	const char *file; /* borrowed from argv; NULL without --config */
	int verbose;	  /* -v count */
};

/*
 * Apply the command line flags to cfg (they win over file and env). 0, or
 * -EINVAL with a message in err.
 */
static int
wrennd_apply_flags(
    struct conf *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char sub[256], *key;
	const char *name, *eq;
	int ch;

	optind = 1;
	while ((ch = getopt_long(
		    argc, argv, "s:b:c:vVh", wrennd_longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			name = "socket";
			break;
		case 'm':
			name = "socket-mode";
			break;
		case 'T':
			name = "tool-socket";
			break;
		case 'b':
			name = "base-url";
			break;
		case 'k':
			name = "api-key-file";
			break;
		case 't':
			name = "token-file";
			break;
		case 'a':
			name = "ca-file";
			break;
		case 'd':
			name = "api-dialect";
			break;
		case 'o':
			/* KEY=VALUE of any length: only the key is copied */
			if ((eq = strchr(optarg, '=')) == NULL) {
				snprintf(err, errlen,
				    "--set '%.64s': expected KEY=VALUE",
				    optarg);
				return -EINVAL;
			}
			if ((key = strndup(optarg, (size_t)(eq - optarg))) ==
			    NULL) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			if (conf_set(cfg, key, eq + 1, sub, sizeof(sub)) != 0) {
				snprintf(err, errlen, "--set: %s", sub);
				free(key);
				return -EINVAL;
			}
			free(key);
			continue;
		default:
			continue;
		}
		if (conf_set(cfg, name, optarg, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "--%s: %s", name, sub);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Build the configuration: defaults, environment, file, then flags, then
 * validation. NULL with a one-line message in err.
 */
static struct conf *
wrennd_conf_build(const struct wrennd_args *a, char *err, size_t errlen)
{
	struct parse_error pe;
	struct conf *cfg;

	if ((cfg = conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (conf_apply_env(cfg, err, errlen) != 0)
		goto fail;
	if (a->file != NULL && conf_parse_file(cfg, a->file, &pe) != 0) {
		snprintf(err, errlen, "%s", pe.text);
		goto fail;
	}
	if (wrennd_apply_flags(cfg, a->argc, a->argv, err, errlen) != 0)
		goto fail;
	if (a->verbose > cfg->verbosity)
		cfg->verbosity = a->verbose;
	if (conf_finish(cfg, err, errlen) != 0)
		goto fail;
	return cfg;
fail:
	conf_unref(cfg);
	return NULL;
}

/*
 * Re-read the credentials of cfg (the running configuration or the one a
 * reload is about to install). The new store, or NULL after logging why.
 */
static struct creds *
wrennd_read_creds(struct wrennd *wd, const struct conf *cfg, const char *why)
{
	struct creds *fresh;
	char err[256];

	if ((fresh = creds_reload(wd->creds, cfg, err, sizeof(err))) == NULL)
		log_warnx("%s: %s, keeping current credentials and "
			  "configuration",
		    why, err);
	return fresh;
}

/* Install fresh credentials (and, when not NULL, a new configuration). */
static void
wrennd_install(
    struct wrennd *wd, struct creds *fresh, struct conf *cfg, const char *why)
{
	upstream_set_creds(wd->up, fresh);
	creds_free(wd->creds);
	wd->creds = fresh;
	if (cfg != NULL) {
		/* Clients keep the reference they took at accept. */
		conf_unref(wd->cfg);
		wd->cfg = cfg;
		log_init(cfg->verbosity);
	}
	log_info("%s: %scredentials re-read (api key %s, jwt %s)", why,
	    cfg != NULL ? "configuration and " : "",
	    creds_have(fresh, CREDS_APIKEY) ? "yes" : "no",
	    creds_have(fresh, CREDS_JWT) ? "yes" : "no");
}

/*
 * SIGHUP: rebuild the configuration from the file, the environment and
 * the flags; keep the running values of the options that only change on a
 * restart (logging each that differs); re-read the credentials it names.
 * A bad file or credential changes nothing.
 */
static void
wrennd_reload(struct wrennd_args *a)
{
	struct wrennd *wd = a->wd;
	struct creds *fresh;
	struct conf *cfg = NULL;
	char err[512], kept[256];
	int n;

	if (a->file != NULL) {
		if ((cfg = wrennd_conf_build(a, err, sizeof(err))) == NULL) {
			log_warnx("SIGHUP: %s, keeping current configuration "
				  "and credentials",
			    err);
			return;
		}
		if ((n = conf_keep_restart_only(
			 cfg, wd->cfg, kept, sizeof(kept))) < 0) {
			log_warnx("SIGHUP: out of memory, keeping current "
				  "configuration and credentials");
			conf_unref(cfg);
			return;
		}
		if (n > 0)
			log_warnx("SIGHUP: %s: changed only by a restart, "
				  "keeping the running value%s",
			    kept, n > 1 ? "s" : "");
	}
	if ((fresh = wrennd_read_creds(
		 wd, cfg != NULL ? cfg : wd->cfg, "SIGHUP")) == NULL) {
		conf_unref(cfg);
		return;
	}
	wrennd_install(wd, fresh, cfg, "SIGHUP");
}

/* SIGHUP: reload, told to systemd (RELOADING=1, then READY=1). */
static void
wrennd_sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct wrennd_args *a = arg;

	systemd_reloading(a->wd->systemd);
	wrennd_reload(a);
	systemd_ready(a->wd->systemd);
}

/* The counts systemd's STATUS= line shows (systemd.c asks for them). */
static void
wrennd_status_fill(void *arg, struct systemd_status *st)
{
	struct wrennd *wd = arg;
	int key = creds_have(wd->creds, CREDS_APIKEY);
	int jwt = creds_have(wd->creds, CREDS_JWT);

	st->auth = key && jwt ? "api_key+jwt"
	    : key	      ? "api_key"
	    : jwt	      ? "jwt"
			      : "none";
	st->reachable = upstream_reachable(wd->up);
	st->clients = wd->nclients;
	st->sandboxes = (unsigned)owner_count(wd->owners);
	st->streams = stream_count(wd->streams);
	st->leases = lease_count(wd);
	st->draining = wd->draining;
}

/* Once a second: a rewritten key or token file is picked up by itself. */
static void
wrennd_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wrennd *wd = arg;
	struct creds *fresh;

	if (!creds_files_changed(wd->creds, wd->cfg))
		return;
	fresh = wrennd_read_creds(wd, wd->cfg, "credential file changed");
	if (fresh != NULL)
		wrennd_install(wd, fresh, NULL, "credential file changed");
	else /* retry once the file changes again, not every second */
		creds_files_seen(wd->creds, wd->cfg);
}

/*
 * The start-up configuration: the first pass over argv finds --config,
 * --check, -v, -V and -h; then wrennd_conf_build. Exits on error.
 */
static struct conf *
wrennd_conf(struct wrennd_args *a, int *check)
{
	struct conf *cfg;
	char err[512];
	int ch;

	*check = 0;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((ch = getopt_long(a->argc, a->argv, "s:b:c:vVh", wrennd_longopts,
		    NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->file = optarg;
			break;
		case 'C':
			*check = 1;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'V':
			wrennd_versions(stdout);
			exit(0);
		case 'h':
			wrennd_usage(stdout);
			exit(0);
		case '?':
			fprintf(stderr, "wrennd: %s '%s' (see wrennd --help)\n",
			    optopt != 0 && strchr("sbc", optopt) != NULL
				? "missing argument for"
				: "unknown option",
			    a->argv[optind - 1]);
			exit(2);
		default:
			break;
		}
	}
	if (optind < a->argc) {
		fprintf(stderr, "wrennd: unexpected argument '%s'\n",
		    a->argv[optind]);
		exit(2);
	}
	if ((cfg = wrennd_conf_build(a, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	return cfg;
}

int
main(int argc, char **argv)
{
	struct wrennd wd;
	struct wrennd_args args;
	struct upstream_opts uo;
	struct rlimit rl = {0, 0};
	struct event *ev_term, *ev_int, *ev_hup, *ev_watch;
	struct timeval one = {1, 0};
	char err[256];
	int check;

	/* Secrets must not reach a core dump or a ptrace peer. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	signal(SIGPIPE, SIG_IGN);
	log_init(0);

	memset(&wd, 0, sizeof(wd));
	memset(&args, 0, sizeof(args));
	TAILQ_INIT(&wd.clients);
	wd.client_ops = &rpc_client_ops;
	wd.started = time(NULL);
	args.wd = &wd;
	args.argc = argc;
	args.argv = argv;
	wd.cfg = wrennd_conf(&args, &check);
	log_init(wd.cfg->verbosity);

	if ((wd.creds = creds_load(wd.cfg, err, sizeof(err))) == NULL)
		fatalx("credentials: %s", err);
	if ((wd.tls = tlsctx_new(wd.cfg->ca_file, err, sizeof(err))) == NULL)
		fatalx("TLS: %s", err);
	/* An https control plane with nothing to verify it against would
	 * only fail each call with a vague certificate error: say so now. */
	if (strncmp(wd.cfg->base_url, "https://", 8) == 0 &&
	    tlsctx_check_trust(wd.tls, err, sizeof(err)) != 0)
		fatalx("TLS: %s", err);
	if (check) {
		conf_dump(wd.cfg, stdout);
		printf("# credentials: api key %s, jwt %s\n",
		    creds_have(wd.creds, CREDS_APIKEY) ? "configured" : "none",
		    creds_have(wd.creds, CREDS_JWT) ? "configured" : "none");
		printf("configuration OK\n");
		tlsctx_free(wd.tls);
		creds_free(wd.creds);
		conf_unref(wd.cfg);
		return 0;
	}
	if (!creds_have(wd.creds, CREDS_APIKEY) &&
	    !creds_have(wd.creds, CREDS_JWT))
		log_warnx("no credential configured: only local methods will "
			  "work (set WRENN_API_KEY or WRENN_TOKEN)");

	listener_raise_nofile(wd.cfg);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	event_set_log_callback(wrennd_event_log_cb);
	if ((wd.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	log_info("wrennd %s starting: libevent %s, %s, jansson %s, libcurl %s",
	    PACKAGE_VERSION, event_get_version(),
	    OpenSSL_version(OPENSSL_VERSION), jansson_version_str(),
	    curl_version_info(CURLVERSION_NOW)->version);

	if ((wd.dns = evdns_base_new(
		 wd.base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
		log_warnx("no DNS resolver: WebSocket streams need a numeric "
			  "control plane host");
	memset(&uo, 0, sizeof(uo));
	uo.base_url = wd.cfg->base_url;
	uo.tls = wd.tls;
	uo.creds = wd.creds;
	uo.connect_timeout_ms = wd.cfg->connect_timeout_ms;
	uo.max_host_connections = wd.cfg->max_host_connections;
	uo.max_response = (size_t)wd.cfg->max_response;
	if ((wd.up = upstream_new(wd.base, &uo)) == NULL)
		fatalx("cannot set up the HTTP client");
	if ((wd.systemd = systemd_new(wd.base, wrennd_status_fill, &wd)) ==
	    NULL)
		fatalx("out of memory");
	if ((wd.sandbox = api_sandbox_new()) == NULL ||
	    (wd.files = api_files_new()) == NULL ||
	    (wd.streams = stream_set_new()) == NULL ||
	    (wd.portfwds = portfwd_set_new()) == NULL ||
	    (wd.kernels = kernel_set_new()) == NULL ||
	    (wd.owners = owner_set_new()) == NULL ||
	    (wd.dialect = dialect_new(&wd)) == NULL ||
	    (wd.leases = lease_set_new()) == NULL)
		fatalx("out of memory");
	if (lease_set_load(&wd, err, sizeof(err)) != 0)
		fatalx("leases: %s", err);
	/* Signals first: a client may send SIGTERM as soon as the socket
	 * exists; libevent queues it until the loop runs. */
	ev_term = evsignal_new(wd.base, SIGTERM, wrennd_sigterm_cb, &wd);
	ev_int = evsignal_new(wd.base, SIGINT, wrennd_sigterm_cb, &wd);
	ev_hup = evsignal_new(wd.base, SIGHUP, wrennd_sighup_cb, &args);
	ev_watch = event_new(wd.base, -1, EV_PERSIST, wrennd_watch_cb, &wd);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    ev_watch == NULL || event_add(ev_term, NULL) != 0 ||
	    event_add(ev_int, NULL) != 0 || event_add(ev_hup, NULL) != 0 ||
	    event_add(ev_watch, &one) != 0)
		fatalx("cannot install signal handlers");
	if ((wd.listener = listener_new(&wd)) == NULL)
		fatalx("cannot listen");

	log_info("listening on %s, upstream %s", listener_path(wd.listener),
	    wd.cfg->base_url);
	dialect_start(wd.dialect);
	systemd_ready(wd.systemd);

	event_base_dispatch(wd.base);

	log_info("exiting");
	api_sandbox_shutdown(&wd);
	client_close_all(&wd, "exiting");
	/* After a second signal the pending actions wait for the next
	 * start (the state file has them). */
	if (!wd.hurry)
		lease_shutdown_wait(&wd, wd.cfg->drain_timeout_ms);
	lease_set_free(wd.leases);
	wd.leases = NULL;
	portfwd_close_all(&wd);
	portfwd_set_free(wd.portfwds);
	wd.portfwds = NULL;
	api_files_free(wd.files);
	wd.files = NULL;
	stream_set_free(wd.streams);
	wd.streams = NULL;
	kernel_set_free(wd.kernels);
	wd.kernels = NULL;
	api_sandbox_free(wd.sandbox);
	wd.sandbox = NULL;
	owner_set_free(wd.owners);
	wd.owners = NULL;
	listener_free(wd.listener);
	systemd_free(wd.systemd);
	wd.systemd = NULL;
	dialect_free(wd.dialect);
	wd.dialect = NULL;
	upstream_free(wd.up);
	if (wd.ev_drain != NULL)
		event_free(wd.ev_drain);
	event_free(ev_term);
	event_free(ev_int);
	/* Past the drain: a further SIGTERM or SIGINT must not turn the
	 * exit 0 into death by signal now that libevent's handlers are gone
	 * (freeing them put the default action back). */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	event_free(ev_hup);
	event_free(ev_watch);
	if (wd.dns != NULL)
		evdns_base_free(wd.dns, 1);
	/* Run what is left (deferred frees, WebSocket close flushes, at most
	 * a couple of seconds) until no event remains. */
	event_base_dispatch(wd.base);
	event_base_free(wd.base);
	curl_global_cleanup();
	tlsctx_free(wd.tls);
	creds_free(wd.creds);
	conf_unref(wd.cfg);
	return 0;
}
