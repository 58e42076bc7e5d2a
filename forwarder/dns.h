/* dns.h: the forwarder's name resolution: c-ares driven by the libevent loop, with a cache. */
#ifndef GATEHOUSE_DNS_H
#define GATEHOUSE_DNS_H

#include <event2/event.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"

enum dns_status {
	DNS_OK,			/* addresses found */
	DNS_NOADDR,		/* NXDOMAIN or no A/AAAA (cached as negative) */
	DNS_FAIL,		/* SERVFAIL, refused, garbage, no server: nothing learned */
	DNS_TIMEOUT,		/* no answer within lookup-timeout */
	DNS_LIMIT,		/* max-lookups names already in flight */
	DNS_CLIENT_LIMIT	/* this client started max-lookups-per-client of them */
};
#define DNS_STATUS_COUNT (DNS_CLIENT_LIMIT + 1)

#define DNS_LATENCY_BUCKETS 10	/* upper bounds in dns.c: 1 ms ... 10 s, then +Inf */

struct dns_stats {
	uint64_t lookups[DNS_STATUS_COUNT];	/* by enum dns_status: network answers, limits */
	uint64_t cache_hits, cache_negative_hits, coalesced;
	uint64_t latency[DNS_LATENCY_BUCKETS + 1];	/* network lookups, by bucket */
	double latency_sum;		/* seconds */
	unsigned in_flight;
};

typedef void dns_cb(void *arg, enum dns_status st, const struct cache_result *res);

struct dns;
struct dns_wait;

/* Initialise c-ares on base from cfg's upstream (system: the servers of /etc/resolv.conf;
 * its search list, ndots, LOCALDOMAIN, RES_OPTIONS and HOSTALIASES never change a name
 * asked). NULL with err on failure. */
struct dns *dns_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
void dns_free(struct dns *d);

/* Apply a reloaded configuration's limits: max-lookups, max-lookups-per-client,
 * lookup-timeout (for lookups started from now on; the per-try timeout c-ares was given
 * at start stays), negative-cache-ttl and the cache's TTL bounds. The upstream servers
 * stay those of dns_new: a change of upstream takes effect at the next start. */
void dns_reconfigure(struct dns *d, const struct config *cfg);

/*
 * Resolve name (normalised, already allowed): the upstream is asked for exactly this
 * name, A and AAAA, and every address of the answers is kept. A fresh cache entry
 * answers at once: returns 1 with *st and *res filled and cb never called. Otherwise
 * returns 0 and cb is called exactly once later (unless dns_cancel is called first);
 * *wait is the handle. A lookup that must go to the network counts against client's
 * share (max-lookups-per-client) until it ends; joining one in flight is free. When one
 * family has answered, the other gets 50 ms more (RFC 8305), then the addresses in hand
 * are delivered. res is borrowed: when returned, valid until the next dns_* call; in cb,
 * until cb returns.
 */
int dns_lookup(struct dns *d, const char *name, const struct sockaddr *client, dns_cb *cb,
    void *arg, struct dns_wait **wait, enum dns_status *st, struct cache_result *res);
void dns_cancel(struct dns_wait *w);

const struct dns_stats *dns_stats(const struct dns *d);
const char *dns_status_name(enum dns_status st);

#endif
