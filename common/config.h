/* config.h: one configuration for both daemons, from a file and/or GATEHOUSE_* variables. */
#ifndef GATEHOUSE_CONFIG_H
#define GATEHOUSE_CONFIG_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/gatehouse/gatehouse.conf"

struct route {
	uint16_t port;		/* the forwarder's listening port */
	char *name;		/* target host, normalised */
	uint16_t target_port;	/* port dialled on the target */
	unsigned flags;		/* RULE_PRIVATE */
	char *origin;		/* "FILE:LINE" or "GATEHOUSE_ROUTE" */
};

struct addrlist {
	struct sockaddr_storage *v;
	size_t n;
};

struct config {
	unsigned refs;
	char *path;			/* the file read, or NULL when none */
	struct policy *policy;		/* allow lines, plus one implied rule per route */
	struct route *routes;
	size_t nroutes;

	/* resolver */
	struct addrlist dns_listen;	/* ADDR:PORT */
	int answer_auto;		/* 1: address the query arrived on */
	struct in_addr *answer4;	/* answer_auto == 0 */
	size_t nanswer4;
	struct in6_addr *answer6;
	size_t nanswer6;
	int blocked_refused;		/* 0: NXDOMAIN, 1: REFUSED */
	uint32_t ttl, negative_ttl;
	unsigned dns_tcp_max;		/* open TCP connections */
	uint64_t dns_tcp_idle_ms;

	/* forwarder */
	struct addrlist forward_listen;	/* addresses only; ports come from allow/route */
	int upstream_system;		/* 1: the gateway's resolv.conf */
	struct addrlist upstream;	/* ADDR:PORT (default port 53) */
	uint64_t peek_timeout_ms, connect_timeout_ms, idle_timeout_ms;
	uint64_t half_close_timeout_ms, lookup_timeout_ms;
	unsigned max_conns, max_conns_per_client, max_lookups;
	uint32_t cache_min_ttl, cache_max_ttl, negative_cache_ttl;

	/* both */
	char *audit;			/* "stdout", "stderr" or a path */
	unsigned audit_rate;		/* lines per second per client; 0: no limit */
	int metrics_on;
	struct sockaddr_storage metrics;
	char *user;			/* drop to this user when started as root */
	int sandbox;			/* 1: seccomp filter after start-up (sandbox.h) */
	int dns_listen_default, forward_listen_default;	/* not written by the user */
	char *warnings;			/* lines worth logging (unknown GATEHOUSE_ variables), or NULL */
};

/*
 * Load the configuration: the file at path (when path is NULL: $GATEHOUSE_CONFIG, else
 * CONFIG_DEFAULT_PATH, which may be missing), then the GATEHOUSE_* entries of env
 * (NULL-terminated "NAME=value" strings; NULL means none). Environment entries add
 * allow/route rules and replace single settings. On error returns -1 and err holds
 * "FILE:LINE: what is wrong" (or "GATEHOUSE_X: ..."). *out has one reference.
 */
int config_load(const char *path, char *const *env, struct config **out, char *err,
    size_t errlen);

/* As config_load, from a buffer (name is used in messages), with no file access. */
int config_parse(const char *name, const char *buf, size_t len, char *const *env,
    struct config **out, char *err, size_t errlen);

struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/* The route for a listening port, or NULL. */
const struct route *config_route(const struct config *c, uint16_t port);

/* The effective configuration, as `--check` prints it. */
void config_print(const struct config *c, FILE *f);

#endif
