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
#include "pump.h"
#include "route.h"

struct fwd_stats {
	uint64_t accepted;
	uint64_t allowed[VIA_COUNT];		/* connections relayed, by how named */
	uint64_t denied[DENY_COUNT];		/* by reason */
	uint64_t bytes_up, bytes_down;		/* finished connections */
	uint64_t accept_paused;			/* times max-conns paused accepting */
	uint64_t accept_errors;			/* EMFILE and friends */
	unsigned active;
};

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
	LIST_HEAD(conn_list, conn) conns;	/* every live connection (zeroed: empty) */
	struct fwd_stats stats;
};

#endif
