/* config.h: one configuration for both daemons, from a file and/or GATEHOUSE_* variables. */
#ifndef GATEHOUSE_CONFIG_H
#define GATEHOUSE_CONFIG_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "policy.h"
#include "policyset.h"
#include "pool_net.h"

#define CONFIG_DEFAULT_PATH "/etc/gatehouse/gatehouse.conf"

struct route {
	uint16_t port;		/* the forwarder's listening port */
	char *name;		/* target host, normalised */
	uint16_t target_port;	/* port dialled on the target */
	unsigned flags;		/* RULE_PRIVATE */
	char *origin;		/* "FILE:LINE" or "GATEHOUSE_ROUTE" */
};

/* Listening ports the forwarder opens at most; an allowlist naming more is a config error
 * (blamed on the rule that crossed it). */
#define CONFIG_MAX_PORTS 1024

/* A port the forwarder listens on (named by `allow` or `route`), and how it learns the
 * name there. */
struct config_port {
	uint16_t port;
	const struct route *route;	/* the `route` on this port, or NULL */
	const struct rule *implicit;	/* no route, and exactly one name allowed on the port,
					 * exact (no wildcard): the rule that matches it there
					 * (an implicit route); else NULL */
};

struct addrlist {
	struct sockaddr_storage *v;
	size_t n;
};

/* `stub-zone ZONE SERVER...` (config_zones.c): the resolver passes queries for names at
 * or below zone to servers, authoritative for it, and relays their answers. */
#define CONFIG_STUB_ZONES 16
#define CONFIG_STUB_SERVERS 4
struct stub_zone {
	char *zone;		/* normalised: lowercase, no trailing dot */
	size_t len;
	struct sockaddr_storage servers[CONFIG_STUB_SERVERS];	/* ADDR:PORT (53 default) */
	size_t nservers;
	char *origin;		/* "FILE:LINE" */
};

struct config {
	unsigned refs;
	char *path;			/* the file read, or NULL when none */
	struct policy *policy;		/* global allow lines (outside any `policy` section),
					 * plus one implied rule per route */
	struct policyset *policies;	/* the named policies and the client selector; its
					 * index 0 is policy (policyset.h) */
	struct route *routes;
	size_t nroutes;
	struct config_port *ports;	/* ascending; computed once when built (config_ports.c) */
	size_t nports;

	/* resolver */
	struct addrlist dns_listen;	/* ADDR:PORT */
	int answer_auto;		/* 1: address the query arrived on (also the fallback
					 * of answer_pool) */
	int answer_pool;		/* 1: `answer pool`: an address per name (pool.h) */
	struct pool_net pool;		/* answer_pool == 1 */
	char *pool_state;		/* the mapping's file */
	uint64_t pool_hold_ms;		/* an address goes to another name only after this */
	unsigned pool_max_per_client;	/* new names a client may give addresses to per
					 * pool-hold; 0: no limit */
	struct in_addr *answer4;	/* answer_auto == 0 */
	size_t nanswer4;
	struct in6_addr *answer6;
	size_t nanswer6;
	int blocked_refused;		/* 0: NXDOMAIN, 1: REFUSED */
	uint32_t ttl, negative_ttl;
	struct stub_zone *stub_zones;	/* in the order written */
	size_t nstub_zones;
	unsigned dns_tcp_max;		/* open TCP connections */
	uint64_t dns_tcp_idle_ms;

	/* forwarder */
	struct addrlist forward_listen;	/* addresses only; ports come from allow/route */
	int upstream_system;		/* 1: the gateway's resolv.conf */
	struct addrlist upstream;	/* ADDR:PORT (default port 53) */
	uint64_t peek_timeout_ms, connect_timeout_ms, idle_timeout_ms;
	uint64_t half_close_timeout_ms, lookup_timeout_ms;
	unsigned max_conns, max_conns_per_client, max_lookups, max_lookups_per_client;
	uint32_t cache_min_ttl, cache_max_ttl, negative_cache_ttl;

	/* both */
	char *audit;			/* "stdout", "stderr", "off" or a path */
	unsigned audit_rate;		/* lines per second per client; 0: no limit */
	int metrics_on;
	struct sockaddr_storage metrics;
	char *user;			/* drop to this user when started as root */
	int sandbox;			/* 1: seccomp filter after start-up (sandbox.h) */
	char *lookups_socket;		/* "@NAME" (abstract unix socket) or "off": the resolver
					 * tells the forwarder its lookups there (lookups.h) */
	int mode_report;		/* `mode`: 0 enforce, 1 report (a policy may override) */
	int dns_listen_default, forward_listen_default;	/* not written by the user */
	char *warnings;			/* lines worth logging (a rule written twice), or NULL */
	unsigned *set_line;		/* per setting: the file line that set it, 0 if none */
	unsigned char *set_env;		/* per setting: set (last) by its GATEHOUSE_ variable */
};

/*
 * Load the configuration: the file at path (when path is NULL: $GATEHOUSE_CONFIG, else
 * CONFIG_DEFAULT_PATH, which may be missing), then the GATEHOUSE_* entries of env
 * (NULL-terminated "NAME=value" strings; NULL means none). Environment entries add
 * allow/route rules and replace single settings. 0 with *out holding one reference
 * (the caller's, for config_unref). On error returns -1, *out is NULL and err holds
 * "FILE:LINE: what is wrong" (or "GATEHOUSE_X: ...", or "PATH: cannot open: ...").
 */
int config_load(const char *path, char *const *env, struct config **out, char *err,
    size_t errlen);

/* As config_load, from buf[0..len) (NULL: no file) with no file access; name is used
 * in messages and as c->path (NULL: "config" in messages, and no path). */
int config_parse(const char *name, const char *buf, size_t len, char *const *env,
    struct config **out, char *err, size_t errlen);

/* One more reference to c; returns c. Not thread-safe: one event loop. */
struct config *config_ref(struct config *c);
/* Drop one; the last frees c and everything it holds. NULL is ignored. */
void config_unref(struct config *c);

/* The route for a listening port, or NULL. */
const struct route *config_route(const struct config *c, uint16_t port);

/* Where setting (a directive name: "audit") was written: "FILE:LINE" or its variable
 * ("GATEHOUSE_AUDIT") in buf, and 1; 0 when it has its default (buf untouched). */
int config_origin(const struct config *c, const char *setting, char *buf, size_t len);

/* ---- ports (config_ports.c) ---- */

/* Compute c->ports from the rules and routes (config.c calls it once, when every line
 * and variable is read). -1 with err ("ORIGIN: ...", naming the rule that took the
 * count past CONFIG_MAX_PORTS) or out of memory. */
int config_ports_build(struct config *c, char *err, size_t errlen);

/* The entry for port, or NULL when the forwarder does not listen on it. */
const struct config_port *config_port(const struct config *c, uint16_t port);

/* The rule that routes port implicitly (see struct config_port), or NULL. */
const struct rule *config_implicit_route(const struct config *c, uint16_t port);

/* How each port learns its name, as comment lines ("# port 465: routed to ..."), for
 * config_print. */
void config_ports_print(const struct config *c, FILE *f);

/* One line for the start-up message: "ports 443,465,587,8000-8099; routed: 465 ->
 * smtp.gmail.com:465, 587 -> mail.example.com" (a route with its target port, an
 * implicit route without), or "no ports"; cut with "..." when longer than len. A len
 * under 8 leaves buf untouched. */
void config_ports_summary(const struct config *c, char *buf, size_t len);

/* ---- --check (config_print.c) ---- */

/* The effective configuration, as `--check` prints it: a configuration file that reads
 * back to the same allowlist, with comments saying where each rule was written and how
 * each port learns its name. */
void config_print(const struct config *c, FILE *f);

#endif
