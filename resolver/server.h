/* server.h: the resolver's sockets: UDP and TCP listeners on libevent, answers via query.c. */
#ifndef GATEHOUSE_RESOLVER_SERVER_H
#define GATEHOUSE_RESOLVER_SERVER_H

#include <event2/event.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "query.h"

#define STAT_RCODES 24		/* rcodes 0..23 counted one by one, BADVERS (16) included */

/* Query types counted one by one; the rest are "other". */
enum stat_qtype {
	QT_A, QT_AAAA, QT_HTTPS, QT_SVCB, QT_MX, QT_TXT, QT_SRV, QT_CNAME, QT_PTR, QT_NS, QT_SOA,
	QT_ANY, QT_OTHER, QT_COUNT
};

struct resolver_stats {
	uint64_t queries[4][QT_COUNT];	/* by enum query_verdict, then qtype */
	uint64_t rcode[STAT_RCODES];
	uint64_t udp, tcp;		/* queries per transport */
	uint64_t truncated;		/* answers sent with TC=1 */
	uint64_t send_errors;		/* sendmsg failures */
	uint64_t tcp_accepted, tcp_refused;	/* TCP connections (refused: over dns-tcp-max) */
	uint64_t tcp_idle_closed;
	uint64_t tcp_evicted;		/* closed at dns-tcp-max to make room */
	uint64_t tcp_accept_errors;	/* accept(2) failures (EMFILE and friends) */
	uint64_t tcp_shed;		/* accepted and closed at once when out of descriptors */
	unsigned tcp_open;
};

struct resolver;

/*
 * Bind UDP and TCP on every dns-listen address of cfg (takes a reference). Default
 * addresses whose family the host lacks are skipped with a warning; any other bind
 * failure is an error. audit stays the caller's. NULL with err on failure.
 */
struct resolver *resolver_new(struct event_base *base, struct config *cfg, struct audit *audit,
    char *err, size_t errlen);
void resolver_free(struct resolver *r);

/* A reloaded configuration: used for every query from now on (takes a reference and
 * drops the old one). Listening addresses are not changed by a reload. */
void resolver_set_config(struct resolver *r, struct config *cfg);

/* Re-read interface addresses for `answer auto` (call on a timer and after reload). */
void resolver_refresh_interfaces(struct resolver *r);

const struct resolver_stats *resolver_stats(const struct resolver *r);
const char *stat_qtype_name(enum stat_qtype q);

/* The resolver's metric families (metrics.c). */
struct prom;
void resolver_metrics(struct prom *p, const struct resolver_stats *s);

#endif
