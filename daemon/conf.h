/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one declarative option table drives the config file parser
 * (`keyword value` lines, # comments, quoted strings), the command line
 * overrides, validation and the --check dump. Precedence: flags, then file,
 * then environment, then defaults. struct conf is the one shared,
 * read-only, reference-counted structure of the daemon.
 */
#ifndef WRENND_CONF_H
#define WRENND_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "role.h"

struct policy;

struct parse_error {
	int line;	/* 1-based; 0 when not tied to a line */
	int column;	/* 1-based; 0 when unknown */
	char text[256]; /* "file:line:col: message" ready to print */
};

struct conf {
	int refs;		 /* conf_ref / conf_unref */
	char *conf_file;	 /* owned; NULL without --config */
	char *socket_path;	 /* owned; resolved, never NULL after finish */
	int socket_mode;	 /* permission bits of a socket we bind */
	char *base_url;		 /* owned; http(s)://host[:port][/prefix] */
	char *api_key_file;	 /* owned or NULL */
	char *token_file;	 /* owned or NULL */
	char *ca_file;		 /* owned or NULL */
	char *api_dialect;	 /* owned: "auto", "sandboxes", "capsules" */
	long max_clients;	 /* concurrent local connections */
	long max_inflight;	 /* calls in flight per connection */
	long max_line;		 /* bytes per protocol line */
	long max_output;	 /* bytes queued to one client before we stop
				  * producing for it */
	long line_timeout_ms;	 /* a partial line older than this closes */
	long connect_timeout_ms; /* upstream TCP+TLS connect */
	long request_timeout_ms; /* default upstream request deadline */
	long max_response;	 /* bytes of one buffered upstream response */
	long max_host_connections; /* upstream connection pool per host */
	long poll_interval_ms;	   /* sandbox.wait_ready polling period */
	long drain_timeout_ms;	  /* grace period for in-flight calls on exit */
	long stream_buffer;	  /* bytes buffered per attached exec stream */
	long detach_buffer;	  /* replay bytes kept per detached stream */
	long stall_timeout_ms;	  /* a client blocking its stream this long
				   * gets it cancelled */
	long ws_idle_timeout_ms;  /* silent exec WebSocket: ping, then fail */
	long stream_retention_ms; /* ended detached streams are kept */
	long max_streams;	  /* exec streams alive at once */
	long max_streams_per_uid; /* of them, started by one uid */
	long max_stream_memory;	  /* bytes: sum of the stream buffer bounds */
	int verbosity;		  /* 0 info, 1+ debug */

	/* Per-peer limits (listener.c, client.c). */
	long max_clients_per_uid; /* concurrent connections of one uid */
	long idle_timeout_ms;	  /* close a connection idle this long; 0 off */
	long max_queued_fds;	  /* passed fds awaiting their line, per
				   * connection */
	long max_queued_fds_total; /* the same over all connections */
	long max_reply;		   /* bytes of one message to a client */

	/* File transfers (api-files.c). */
	long transfer_timeout_ms;	 /* deadline of one file transfer */
	long transfer_low_speed;	 /* bytes/s a transfer must keep up */
	long transfer_low_speed_time_ms; /* ...measured over this window */
	long max_transfers;		 /* streaming transfers at once */
	long max_peer_transfers;	 /* ...per peer uid */

	/* Port forwards (portfwd.c). */
	long portfwd_max;	      /* forwards open at once */
	long portfwd_max_connections; /* connections of one forward */
	long portfwd_idle_timeout_ms; /* a silent connection closes */

	/* The tool socket and roles (listener.c, role.c). */
	char *tool_socket;	 /* owned or NULL: no tool socket */
	int tool_socket_mode;	 /* permission bits of the tool socket */
	char *tool_socket_group; /* owned or NULL: group of the tool socket */
	char *admin_group;	 /* owned or NULL: its members are admin */
	char *allow_users;	 /* owned or NULL: users with the user role */
	char *allow_groups;	 /* owned or NULL: groups with the user role */
	/* Derived by conf_finish from the four above (names resolved). */
	gid_t tool_socket_gid; /* (gid_t)-1 when unset */
	uid_t *allow_uids;     /* owned */
	gid_t *allow_gids;     /* owned */
	gid_t admin_gid;
	struct role_rules roles; /* points into the arrays above */

	/* The tool policy (policy.c): read by conf_finish, so a reload
	 * with a bad file keeps the running configuration and policy. */
	char *policy_file;     /* owned or NULL: tools have no limits */
	struct policy *policy; /* owned or NULL */

	/* The sandbox proxy (api-proxy.c). */
	long proxy_max_body; /* bytes of a sandbox.http_request body, each
			      * way */

	/* Leases (lease.c) and shutdown (wrennd.c). */
	char *state_dir;	 /* owned or NULL: where leases.json lives */
	char *lease_on_shutdown; /* owned: "keep" or "destroy" */
	long max_leases;	 /* leases and keepalives at once */
};

/* A new configuration holding the defaults; NULL on OOM. */
struct conf *conf_new(void);
struct conf *conf_ref(struct conf *cfg);
/* Drop a reference; frees at zero. NULL is a no-op. Returns NULL. */
struct conf *conf_unref(struct conf *cfg);

/*
 * Set option key (as in the file, e.g. "base-url") from text. Returns 0, or
 * -EINVAL with a message in err (no file position).
 */
int conf_set(struct conf *cfg, const char *key, const char *value, char *err,
    size_t errlen);

/* Apply WRENN_BASE_URL and friends from the environment. */
int conf_apply_env(struct conf *cfg, char *err, size_t errlen);

/* Parse a config file into cfg. Returns 0 or -errno with *reterr set. */
int conf_parse_file(
    struct conf *cfg, const char *path, struct parse_error *reterr);

/* Parse config text (for tests and fuzzing); name is used in messages. */
int conf_parse_buf(struct conf *cfg, const char *name, const char *buf,
    size_t len, struct parse_error *reterr);

/*
 * Fill derived defaults (socket path), resolve the user and group names
 * of the role options to numbers (getpwnam, getgrnam: at start and on a
 * reload, never per connection), read the policy-file and validate. 0 or
 * -EINVAL.
 */
int conf_finish(struct conf *cfg, char *err, size_t errlen);

/*
 * For a reload: copy into fresh the running values of the options that
 * change only on a restart (socket, socket-mode, base-url, ca-file,
 * connect-timeout, max-response, max-host-connections) where they differ,
 * naming them ("a, b") in changed. Returns how many differed, or -ENOMEM.
 */
int conf_keep_restart_only(
    struct conf *fresh, const struct conf *running, char *changed, size_t len);

/* Print the effective configuration as a config file (no secrets). */
void conf_dump(const struct conf *cfg, FILE *fp);

#endif /* WRENND_CONF_H */
