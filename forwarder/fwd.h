/* fwd.h: the forwarder's shared context (config, audit, dns, listeners, live connections)
 * and its counters. */
#ifndef GATEHOUSE_FWD_H
#define GATEHOUSE_FWD_H

#include <event2/event.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "audit.h"
#include "config.h"
#include "conn.h"
#include "dns.h"
#include "iface.h"
#include "polstats.h"
#include "pump.h"
#include "route.h"

struct fwd_stats {
	uint64_t accepted;
	uint64_t bytes_up, bytes_down;		/* finished connections */
	uint64_t accept_paused;			/* times max-conns paused accepting */
	uint64_t accept_errors;			/* EMFILE and friends */
	unsigned active;
};

/* A policy's row in fwd.pstats: connections allowed by via, denied by reason, then those
 * report mode relayed that enforce refuses. */
#define FWD_PSTAT_ALLOWED 0
#define FWD_PSTAT_DENIED VIA_COUNT
#define FWD_PSTAT_WOULD_DENY (VIA_COUNT + DENY_COUNT)
#define FWD_PSTAT_WIDTH (FWD_PSTAT_WOULD_DENY + 1)

struct conn;
struct listeners;
struct client_table;
struct recent;

struct fwd {
	struct event_base *base;
	struct config *cfg;		/* the current configuration; connections hold refs */
	struct audit *audit;
	struct dns *dns;
	struct listeners *ls;
	struct iface_table *ifaces;
	struct route_probe *routes;	/* asks the kernel whether an address is this host */
	struct bufpool *pool;
	struct client_table *clients;
	struct recent *recent;		/* the names clients looked up (lookups-socket), or
					 * NULL: off, or it could not be bound */
	struct pool *names;		/* `answer pool` at start: the names of pool
					 * addresses (pool.h), else NULL */
	LIST_HEAD(conn_list, conn) conns;	/* every live connection (zeroed: empty) */
	struct fwd_stats stats;
	struct polstats *pstats;	/* the verdict counters per policy name (FWD_PSTAT_*) */
	uint32_t *pslot;		/* cfg's policy index -> row in pstats (NULL when out
					 * of memory: every policy counts as the default) */
};

/* The row of pstats of policy, an index in f->cfg->policies (the current configuration:
 * a connection takes its row when accepted and keeps it). main.c. */
uint32_t fwd_policy_slot(const struct fwd *f, size_t policy);

#endif
