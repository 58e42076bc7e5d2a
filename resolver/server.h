/* server.h: the resolver's sockets: UDP and TCP listeners on libevent, answers via query.c. */
#ifndef GATEHOUSE_RESOLVER_SERVER_H
#define GATEHOUSE_RESOLVER_SERVER_H

#include <event2/event.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "iface.h"
#include "pass.h"
#include "polstats.h"
#include "query.h"
#include "tell.h"

#define SERVER_RCODES 24	/* rcodes 0..23 counted one by one, QUERY_RCODE_BADVERS included */

/* Query types counted one by one; the rest are "other". */
enum server_qtype {
	SERVER_QT_A, SERVER_QT_AAAA, SERVER_QT_HTTPS, SERVER_QT_SVCB, SERVER_QT_MX,
	SERVER_QT_TXT, SERVER_QT_SRV, SERVER_QT_CNAME, SERVER_QT_PTR, SERVER_QT_NS,
	SERVER_QT_SOA, SERVER_QT_ANY, SERVER_QT_OTHER, SERVER_QT_COUNT
};

/* A policy's row in server_stats.policies: queries by verdict and qtype
 * (v * SERVER_QT_COUNT + q), then the names report mode answered that enforce refuses. */
#define SERVER_PSTAT_WOULD_DENY (VERDICT_COUNT * SERVER_QT_COUNT)
#define SERVER_PSTAT_WIDTH (SERVER_PSTAT_WOULD_DENY + 1)

struct server_stats {
	struct polstats *policies;	/* queries per policy name, verdict and qtype
					 * (SERVER_PSTAT_*) */
	uint64_t rcode[SERVER_RCODES];
	uint64_t udp, tcp;		/* queries per transport */
	uint64_t truncated;		/* answers sent with TC=1 */
	uint64_t send_errors;		/* datagrams sendmmsg could not send */
	uint64_t tcp_accepted, tcp_refused;	/* TCP connections (refused: at dns-tcp-max
					 * with none to evict, over a client's share, or
					 * out of memory) */
	uint64_t tcp_idle_closed;	/* closed when a read or write waited dns-tcp-idle */
	uint64_t tcp_evicted;		/* closed at dns-tcp-max to make room */
	uint64_t tcp_accept_errors;	/* accept(2) failures (EMFILE and friends) */
	uint64_t tcp_shed;		/* accepted and closed at once when out of descriptors */
	unsigned tcp_open;
	uint64_t told[TELL_RESULT_COUNT];	/* lookups told the forwarder, by result */
};

struct server;

/*
 * Bind UDP and TCP on every dns-listen address of cfg (at most 64; takes a reference).
 * A default IPv6 address the host cannot bind (no IPv6, or no such address) is skipped
 * with a warning logged; any other failure is an error. audit and ifaces (the interface
 * addresses `answer auto` reads, refreshed by the caller) stay the caller's and must
 * outlive the server. NULL with err on failure.
 */
struct server *server_new(struct event_base *base, struct config *cfg, struct audit *audit,
    const struct iface_table *ifaces, char *err, size_t errlen);
/* Close every socket and connection, drop the configuration; NULL is ignored. */
void server_free(struct server *srv);
/* Answer allowed names from pool (`answer pool`; the caller's, outliving srv), or from
 * the configuration's addresses again (NULL). */
void server_set_pool(struct server *srv, const struct query_pool *pool);

/* A reloaded configuration: used for every query from now on (takes a reference and
 * drops the old one). Listening addresses are not changed by a reload. */
void server_set_config(struct server *srv, struct config *cfg);

/* The counters, valid as long as srv. */
const struct server_stats *server_stats(const struct server *srv);
/* The stub zones' (pass.h), valid as long as srv. */
const struct pass_stats *server_pass_stats(const struct server *srv);
/* "A", "AAAA", ..., "other": the qtype label of the metrics. */
const char *server_qtype_name(enum server_qtype q);

#endif
