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
	DNS_FAIL,		/* SERVFAIL, refused, garbage, no server, out of memory:
				 * nothing learned */
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

/* res holds the addresses when st is DNS_OK; for another status it holds none, or is
 * NULL (DNS_TIMEOUT). */
typedef void dns_cb(void *arg, enum dns_status st, const struct cache_result *res);

struct dns;
struct dns_wait;

/* Initialise c-ares on base from cfg's upstream (system: the servers of /etc/resolv.conf;
 * its search list, ndots, LOCALDOMAIN, RES_OPTIONS and HOSTALIASES never change a name
 * asked) and cfg's limits (dns_reconfigure). NULL with err on failure. */
struct dns *dns_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
/* Stop every lookup (their callbacks are never called: cancel or forget the waits
 * first) and free d; NULL is ignored. */
void dns_free(struct dns *d);

/* Apply a reloaded configuration's limits: max-lookups, max-lookups-per-client,
 * lookup-timeout (for lookups started from now on; the per-try timeout c-ares was given
 * at start stays), negative-cache-ttl and the cache's TTL bounds. The upstream servers
 * stay those of dns_new: a change of upstream takes effect at the next start. */
void dns_reconfigure(struct dns *d, const struct config *cfg);

/*
 * Resolve name (normalised, already allowed): the upstream is asked for exactly this
 * name, A and AAAA, and every address of the answers is kept. Returns 1 when the
 * answer is known at once, with *st set, *wait NULL and cb never called: a fresh cache
 * entry (DNS_OK with *res filled, or DNS_NOADDR), DNS_LIMIT, DNS_CLIENT_LIMIT, or
 * DNS_FAIL when out of memory (*res then empty). Otherwise returns 0 and cb is called
 * exactly once later, from the event loop (unless dns_cancel(*wait) comes first);
 * *wait is the handle. A lookup that must go to the network counts against client's
 * share (max-lookups-per-client) until c-ares is done with it, past lookup-timeout if
 * need be (uncounted when the count cannot be kept: out of memory); joining one in
 * flight is free. When one family has answered, the other gets 50 ms more (RFC 8305),
 * then the addresses in hand are delivered. res is borrowed: when returned, valid until
 * the next dns_* call; in cb, until cb returns.
 */
int dns_lookup(struct dns *d, const char *name, const struct sockaddr *client, dns_cb *cb,
    void *arg, struct dns_wait **wait, enum dns_status *st, struct cache_result *res);
/* Forget a wait dns_lookup returned, before its cb has run (the wait is freed when cb
 * is called); the lookup goes on for others and the cache. NULL is ignored. */
void dns_cancel(struct dns_wait *w);

/* The counters, valid as long as d. */
const struct dns_stats *dns_stats(const struct dns *d);
const char *dns_status_name(enum dns_status st);

#endif
