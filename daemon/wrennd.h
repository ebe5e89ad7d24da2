/* SPDX-License-Identifier: MIT */
/*
 * struct wrennd: the daemon's root object, passed explicitly everywhere
 * (there are no mutable globals besides the log level). Owned and built by
 * wrennd.c; the modules named in the fields own their own internals.
 */
#ifndef WRENND_WRENND_H
#define WRENND_WRENND_H

#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

struct event;
struct event_base;
struct conf;
struct creds;
struct tlsctx;
struct upstream;
struct listener;
struct client;
struct client_ops;
struct api_sandbox;
struct api_files;
struct stream_set;
struct portfwd_set;
struct kernel_set;
struct owner_set;
struct lease_set;
struct evdns_base;
struct systemd;
struct dialect;

TAILQ_HEAD(client_list, client);

struct wrennd {
	struct event_base *base;    /* owned */
	struct conf *cfg;	    /* owned reference; swapped on reload */
	struct creds *creds;	    /* owned; swapped on reload */
	struct tlsctx *tls;	    /* owned */
	struct upstream *up;	    /* owned */
	struct listener *listener;  /* owned; NULL once draining */
	struct client_list clients; /* owned */
	const struct client_ops *client_ops; /* borrowed: the dispatcher */
	unsigned nclients;
	unsigned nfds_queued; /* passed fds awaiting their lines (client.c) */
	uint64_t next_client_id;
	struct api_sandbox *sandbox;  /* owned: api-sandbox.c's wait loops */
	struct api_files *files;      /* owned: api-files.c's transfers */
	struct stream_set *streams;   /* owned: stream.c's exec streams */
	struct portfwd_set *portfwds; /* owned: portfwd.c's forwards */
	struct kernel_set *kernels;   /* owned: kernel.c's Jupyter kernels */
	struct owner_set *owners;     /* owned: who created which sandbox */
	struct lease_set *leases;     /* owned: lease.c's leases */
	struct evdns_base *dns;	      /* owned: resolver for WebSockets */
	struct systemd *systemd;      /* owned: sd_notify and watchdog */
	struct dialect *dialect;      /* owned: dialect.c's api dialect */
	struct event *ev_drain;	      /* owned; drain deadline */
	int draining;		      /* SIGTERM received */
	int hurry;		      /* a second signal: exit now */
	time_t started;		      /* wall clock at start */
	uint64_t calls_total;	      /* calls dispatched since start */
	uint64_t calls_failed;	      /* calls answered with an error */
};

#endif /* WRENND_WRENND_H */
