/* dns.c: c-ares on the libevent loop: sockets and timeouts, coalesced lookups, the cache. */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "addr.h"
#include "clients.h"
#include "dname.h"
#include "log.h"
#include "util.h"

#define CACHE_ENTRIES 10000
#define RESOLUTION_DELAY_MS 50	/* RFC 8305 3: after one family answers, wait for the other */

static struct log_rate upstream_rl = LOG_RATE_INIT(5, 60);

struct dns_wait {
	dns_cb *cb;
	void *arg;
	LIST_ENTRY(dns_wait) entry;	/* in its pending's waiters */
};

/* One name being looked up on the network; its waiters share the answer. */
struct pending {
	struct dns *d;
	LIST_ENTRY(pending) entry;	/* in d->pending, while waiters may join */
	int listed;			/* entry is linked (the two go together) */
	int orphan;			/* timed out: c-ares still owns a query for it */
	int completed;			/* c-ares answered; delivery is queued */
	int outstanding;		/* queries c-ares still holds (A, AAAA) */
	int destroyed;			/* the channel is being destroyed */
	int rc[2];			/* ares status of the A and AAAA answers */
	enum dns_status status;
	struct cache_addr *addrs;	/* every address of both answers */
	size_t naddrs;
	uint32_t ttl;			/* the smallest TTL seen */
	struct sockaddr_storage client;	/* who started it: counted in per_client */
	struct event *ev;		/* lookup timeout, then delivery */
	uint64_t start_ms;
	LIST_HEAD(, dns_wait) waiters;
	char name[DNAME_MAX + 1];
};

struct sockev {
	ares_socket_t fd;
	struct event *ev;
	short what;
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;		/* c-ares's own timeouts */
	struct sockev *socks;
	size_t nsocks, capsocks;
	struct cache *cache;
	LIST_HEAD(, pending) pending;	/* lookups a new waiter may join */
	struct client_table *per_client;	/* lookups in flight each client started */
	unsigned max_lookups, max_lookups_per_client;
	uint64_t lookup_timeout_ms;
	uint32_t negative_ttl;
	struct dns_stats stats;
};

static const double latency_bounds[DNS_LATENCY_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10
};

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NOADDR:
		return "no-address";
	case DNS_FAIL:
		return "fail";
	case DNS_TIMEOUT:
		return "timeout";
	case DNS_LIMIT:
		return "limit";
	case DNS_CLIENT_LIMIT:
		return "client-limit";
	}
	return "?";
}

/* ---- c-ares sockets and timers on the loop ---- */

static void rearm(struct dns *d);

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->ch, (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	rearm(d);
}

/* c-ares's own timeouts (retries, a server that does not answer) have come. */
static void
channel_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(d);
}

static void
rearm(struct dns *d)
{
	struct timeval tv, *t;

	if (d->ch == NULL)
		return;
	t = ares_timeout(d->ch, NULL, &tv);
	if (t != NULL)
		event_add(d->timer, t);
	else
		event_del(d->timer);
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	size_t i;

	for (i = 0; i < d->nsocks && d->socks[i].fd != fd; i++)
		;
	if (i < d->nsocks) {
		event_free(d->socks[i].ev);
		if (what == 0) {
			d->socks[i] = d->socks[--d->nsocks];
			return;
		}
	} else {
		if (what == 0)
			return;
		if (d->nsocks == d->capsocks) {
			size_t nc = d->capsocks ? d->capsocks * 2 : 8;
			struct sockev *ns = realloc(d->socks, nc * sizeof(*ns));

			if (ns == NULL) {
				log_warnx("dns: out of memory for a socket event");
				return;
			}
			d->socks = ns;
			d->capsocks = nc;
		}
		i = d->nsocks++;
		d->socks[i].fd = fd;
	}
	d->socks[i].what = what;
	d->socks[i].ev = event_new(d->base, fd, (short)(what | EV_PERSIST), sock_cb, d);
	if (d->socks[i].ev == NULL || event_add(d->socks[i].ev, NULL) == -1)
		log_warnx("dns: cannot watch a c-ares socket");
}

/* ---- lookups ---- */

/* No more waiters may join p (it is answered, or is being freed). */
static void
pending_unlist(struct pending *p)
{
	if (!p->listed)
		return;
	LIST_REMOVE(p, entry);
	p->listed = 0;
}

/* Free p once c-ares holds no query for it any more (its callbacks have all run). */
static void
pending_free(struct pending *p)
{
	pending_unlist(p);
	while (!LIST_EMPTY(&p->waiters))
		dns_cancel(LIST_FIRST(&p->waiters));
	event_free(p->ev);
	p->d->stats.in_flight--;
	clients_dec(p->d->per_client, (struct sockaddr *)&p->client);
	free(p->addrs);
	free(p);
}

/* Hand the outcome to every waiter, one at a time (a callback may cancel others). */
static void
deliver(struct pending *p, enum dns_status st, const struct cache_result *res)
{
	struct dns_wait *w;

	pending_unlist(p);
	while ((w = LIST_FIRST(&p->waiters)) != NULL) {
		dns_cb *cb = w->cb;
		void *arg = w->arg;

		dns_cancel(w);
		cb(arg, st, res);
	}
}

static void
result_of(const struct pending *p, struct cache_result *res)
{
	memset(res, 0, sizeof(*res));
	res->n = p->naddrs;
	res->addrs = p->addrs;
}

static void
pending_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct cache_result res;

	(void)fd;
	(void)what;
	if (p->completed) {
		result_of(p, &res);
		deliver(p, p->status, &res);
		pending_free(p);
		return;
	}
	/* The other family is late (the resolution delay ran out), or lookup-timeout: answer
	 * the waiters now with what has come; c-ares finishes (and fills the cache) later. */
	p->orphan = 1;
	if (p->naddrs > 0) {
		p->d->stats.lookups[DNS_OK]++;
		log_debug("dns: %s: one family answered, the other is late", p->name);
		result_of(p, &res);
		deliver(p, DNS_OK, &res);
		return;
	}
	p->d->stats.lookups[DNS_TIMEOUT]++;
	log_warnx_rl(&upstream_rl, "upstream dns: %s: no answer within lookup-timeout", p->name);
	deliver(p, DNS_TIMEOUT, NULL);
}

static void
record_latency(struct dns *d, uint64_t start_ms)
{
	double s = (double)(util_now_ms() - start_ms) / 1000.0;
	size_t i;

	for (i = 0; i < DNS_LATENCY_BUCKETS && s > latency_bounds[i]; i++)
		;
	d->stats.latency[i]++;
	d->stats.latency_sum += s;
}

/* Append n addresses of one family to p (every one: the forwarder filters them later). */
static int
add_addrs(struct pending *p, int family, const void *v, int n)
{
	struct cache_addr *na;
	int i;

	if (n <= 0)
		return 0;
	if ((na = realloc(p->addrs, (p->naddrs + (size_t)n) * sizeof(*na))) == NULL)
		return -1;
	p->addrs = na;
	for (i = 0; i < n; i++) {
		struct cache_addr *ca = &p->addrs[p->naddrs++];
		int ttl;

		memset(ca, 0, sizeof(*ca));
		ca->family = family;
		if (family == AF_INET) {
			ca->u.v4 = ((const struct ares_addrttl *)v)[i].ipaddr;
			ttl = ((const struct ares_addrttl *)v)[i].ttl;
		} else {
			ca->u.v6 = *(const struct in6_addr *)
			    &((const struct ares_addr6ttl *)v)[i].ip6addr;
			ttl = ((const struct ares_addr6ttl *)v)[i].ttl;
		}
		if (ttl >= 0 && (uint32_t)ttl < p->ttl)
			p->ttl = (uint32_t)ttl;
	}
	return 0;
}

/*
 * The addresses in one answer, whatever their number: after the 12-byte header an A record
 * takes at least 15 bytes (a one-byte owner name, the root, reached through a CNAME), an
 * AAAA 27, so alen bounds the count. c-ares 1.18 takes A/AAAA records owned by the name
 * asked or by a name a CNAME in the answer points to. ARES_SUCCESS, ARES_ENODATA or an
 * error.
 */
static int
parse_answer(struct pending *p, int family, const unsigned char *abuf, int alen)
{
	int cap = (alen > 12 ? alen - 12 : 0) / (family == AF_INET ? 15 : 27) + 1, n = cap, rc;
	void *v = calloc((size_t)cap, family == AF_INET ? sizeof(struct ares_addrttl) :
	    sizeof(struct ares_addr6ttl));

	if (v == NULL)
		return ARES_ENOMEM;
	if (family == AF_INET)
		rc = ares_parse_a_reply(abuf, alen, NULL, v, &n);
	else
		rc = ares_parse_aaaa_reply(abuf, alen, NULL, v, &n);
	if (rc == ARES_SUCCESS && n == 0)
		rc = ARES_ENODATA;
	if (rc == ARES_SUCCESS && add_addrs(p, family, v, n) == -1)
		rc = ARES_ENOMEM;
	free(v);
	return rc;
}

/* What the two answers (A and AAAA) say together. */
static enum dns_status
combine(const struct pending *p)
{
	int i, nodata = 0, timeout = 0;

	if (p->naddrs > 0)
		return DNS_OK;		/* one family answered: dial it */
	for (i = 0; i < 2; i++) {
		if (p->rc[i] == ARES_ENOTFOUND || p->rc[i] == ARES_ENODATA || p->rc[i] == ARES_SUCCESS)
			nodata++;
		else if (p->rc[i] == ARES_ETIMEOUT)
			timeout++;
	}
	if (nodata == 2)
		return DNS_NOADDR;	/* cached as negative */
	return timeout > 0 ? DNS_TIMEOUT : DNS_FAIL;
}

/* Both answers are in (or the channel is going away). */
static void
lookup_done(struct pending *p)
{
	struct dns *d = p->d;
	uint64_t now = util_now_ms();
	int bad = p->rc[0] != ARES_SUCCESS ? p->rc[0] : p->rc[1];

	p->status = combine(p);
	if (p->status == DNS_OK)
		cache_put(d->cache, p->name, p->addrs, p->naddrs, p->ttl == UINT32_MAX ? 0 : p->ttl,
		    now);
	else if (p->status == DNS_NOADDR)
		cache_put_negative(d->cache, p->name, d->negative_ttl, now);
	record_latency(d, p->start_ms);
	if (p->orphan) {		/* its waiters were told at the timeout */
		pending_free(p);
		return;
	}
	d->stats.lookups[p->status]++;
	/* The upstream failing (not a name that does not exist) is the operator's business:
	 * say so on stderr, a few lines a minute at most. */
	if (p->status == DNS_FAIL || p->status == DNS_TIMEOUT)
		log_warnx_rl(&upstream_rl, "upstream dns: %s: %s (%s)", p->name,
		    dns_status_name(p->status), ares_strerror(bad));
	else if (p->status != DNS_OK)
		log_debug("dns: %s: %s (%s)", p->name, dns_status_name(p->status),
		    ares_strerror(bad));
	p->completed = 1;
	event_active(p->ev, EV_TIMEOUT, 0);	/* deliver from the loop, never from inside
						 * the caller's dns_lookup */
}

/* One answer (A: slot 0, AAAA: slot 1) from c-ares. */
static void
answer_cb(struct pending *p, int slot, int status, const unsigned char *abuf, int alen)
{
	if (status == ARES_SUCCESS)
		status = parse_answer(p, slot == 0 ? AF_INET : AF_INET6, abuf, alen);
	p->rc[slot] = status;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		p->destroyed = 1;
	if (--p->outstanding > 0) {
		/* RFC 8305 3: addresses of one family are in; give the other RESOLUTION_DELAY_MS
		 * more rather than the rest of lookup-timeout (an upstream that drops AAAA
		 * queries would otherwise fail every connection). */
		uint64_t now = util_now_ms();

		if (p->naddrs > 0 && !p->orphan && !p->destroyed &&
		    now + RESOLUTION_DELAY_MS < p->start_ms + p->d->lookup_timeout_ms) {
			struct timeval tv;

			util_ms_to_tv(RESOLUTION_DELAY_MS, &tv);
			evtimer_add(p->ev, &tv);
		}
		return;
	}
	if (p->destroyed) {		/* dns_free: nobody is told anything */
		pending_free(p);
		return;
	}
	lookup_done(p);
}

static void
a_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	answer_cb(arg, 0, status, abuf, alen);
}

static void
aaaa_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	answer_cb(arg, 1, status, abuf, alen);
}

static struct dns_wait *
add_waiter(struct pending *p, dns_cb *cb, void *arg)
{
	struct dns_wait *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&p->waiters, w, entry);
	return w;
}

void
dns_cancel(struct dns_wait *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, entry);
	free(w);
}

/*
 * Ask the upstream for exactly this name: one A and one AAAA query (ares_query sends the
 * name as given, as an absolute name). Not ares_getaddrinfo: in c-ares 1.18 it applies the
 * search list of resolv.conf, LOCALDOMAIN and ndots even with ARES_FLAG_NOSEARCH, so an
 * allowed name could be relayed to NAME.searchdomain's address and a client's labels
 * would reach whoever serves the search domain.
 */
static struct pending *
lookup_start(struct dns *d, const char *name, const struct sockaddr *client)
{
	struct pending *p = calloc(1, sizeof(*p));
	struct timeval tv;

	if (p == NULL)
		return NULL;
	if (clients_inc(d->per_client, client) == 0) {	/* out of memory: refused (DNS_FAIL) */
		free(p);
		return NULL;
	}
	p->d = d;
	util_strlcpy(p->name, name, sizeof(p->name));
	p->start_ms = util_now_ms();
	p->ttl = UINT32_MAX;
	memcpy(&p->client, client, addr_len(client));
	if ((p->ev = evtimer_new(d->base, pending_ev_cb, p)) == NULL) {
		clients_dec(d->per_client, client);
		free(p);
		return NULL;
	}
	util_ms_to_tv(d->lookup_timeout_ms, &tv);
	evtimer_add(p->ev, &tv);
	LIST_INIT(&p->waiters);
	LIST_INSERT_HEAD(&d->pending, p, entry);
	p->listed = 1;
	d->stats.in_flight++;
	p->outstanding = 2;
	ares_query(d->ch, name, ns_c_in, ns_t_a, a_cb, p);
	ares_query(d->ch, name, ns_c_in, ns_t_aaaa, aaaa_cb, p);
	rearm(d);
	return p;
}

int
dns_lookup(struct dns *d, const char *name, const struct sockaddr *client, dns_cb *cb,
    void *arg, struct dns_wait **wait, enum dns_status *st, struct cache_result *res)
{
	struct pending *p;

	*wait = NULL;
	memset(res, 0, sizeof(*res));
	if (cache_get(d->cache, name, util_now_ms(), res)) {
		*st = res->negative ? DNS_NOADDR : DNS_OK;
		if (res->negative)
			d->stats.cache_negative_hits++;
		else
			d->stats.cache_hits++;
		return 1;
	}
	LIST_FOREACH(p, &d->pending, entry)
		if (strcmp(p->name, name) == 0)
			break;
	if (p != NULL)
		d->stats.coalesced++;
	else if (d->stats.in_flight >= d->max_lookups) {
		d->stats.lookups[DNS_LIMIT]++;
		*st = DNS_LIMIT;
		return 1;
	} else if (clients_count(d->per_client, client) >= d->max_lookups_per_client) {
		d->stats.lookups[DNS_CLIENT_LIMIT]++;
		*st = DNS_CLIENT_LIMIT;
		return 1;
	} else if ((p = lookup_start(d, name, client)) == NULL) {
		*st = DNS_FAIL;
		return 1;
	}
	if ((*wait = add_waiter(p, cb, arg)) == NULL) {
		*st = DNS_FAIL;
		return 1;
	}
	return 0;
}

/* ---- setup ---- */

static int
set_servers(struct dns *d, const struct config *cfg, char *err, size_t errlen)
{
	char csv[2048], abuf[ADDR_STRLEN];
	size_t i, off = 0;
	int rc;

	if (cfg->upstream_system)
		return 0;
	csv[0] = '\0';
	for (i = 0; i < cfg->upstream.n && off < sizeof(csv) - ADDR_STRLEN - 2; i++) {
		addr_format((const struct sockaddr *)&cfg->upstream.v[i], 1, abuf, sizeof(abuf));
		off += (size_t)snprintf(csv + off, sizeof(csv) - off, "%s%s", i ? "," : "", abuf);
	}
	if ((rc = ares_set_servers_ports_csv(d->ch, csv)) != ARES_SUCCESS) {
		snprintf(err, errlen, "upstream %s: %s", csv, ares_strerror(rc));
		return -1;
	}
	return 0;
}

struct dns *
dns_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
	struct dns *d = calloc(1, sizeof(*d));
	struct ares_options o;
	int rc, mask;
	char lookups[] = "b";

	if (d == NULL || (d->cache = cache_new(CACHE_ENTRIES, cfg->cache_min_ttl,
	    cfg->cache_max_ttl)) == NULL || (d->timer = evtimer_new(base, channel_timeout_cb, d)) == NULL ||
	    (d->per_client = clients_new()) == NULL) {
		snprintf(err, errlen, "dns: out of memory");
		goto fail;
	}
	d->base = base;
	LIST_INIT(&d->pending);
	dns_reconfigure(d, cfg);
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	/* Names are asked as written (ares_query, see lookup_start()). Belt and braces for any path
	 * that would still consult them: no search domains (an empty list given here is not
	 * replaced by resolv.conf's or LOCALDOMAIN's), ndots 1, no HOSTALIASES, no hosts file. */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.lookups = lookups;
	o.domains = NULL;
	o.ndomains = 0;
	o.ndots = 1;
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = d;
	o.timeout = (int)(cfg->lookup_timeout_ms / 2 > 2000 ? 2000 : cfg->lookup_timeout_ms / 2 + 1);
	o.tries = 2;
	mask = ARES_OPT_FLAGS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_DOMAINS | ARES_OPT_NDOTS;
	if ((rc = ares_init_options(&d->ch, &o, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		d->ch = NULL;
		goto fail;
	}
	if (set_servers(d, cfg, err, errlen) == -1)
		goto fail;
	return d;
fail:
	dns_free(d);
	return NULL;
}

void
dns_reconfigure(struct dns *d, const struct config *cfg)
{
	d->max_lookups = cfg->max_lookups;
	d->max_lookups_per_client = cfg->max_lookups_per_client;
	d->lookup_timeout_ms = cfg->lookup_timeout_ms;
	d->negative_ttl = cfg->negative_cache_ttl;
	cache_set_limits(d->cache, cfg->cache_min_ttl, cfg->cache_max_ttl);
}

void
dns_free(struct dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->ch != NULL) {
		ares_destroy(d->ch);	/* calls back every pending lookup with EDESTRUCTION */
		d->ch = NULL;
	}
	while (!LIST_EMPTY(&d->pending))
		pending_free(LIST_FIRST(&d->pending));
	for (i = 0; i < d->nsocks; i++)
		event_free(d->socks[i].ev);
	free(d->socks);
	if (d->timer != NULL)
		event_free(d->timer);
	cache_free(d->cache);
	clients_free(d->per_client);
	ares_library_cleanup();
	free(d);
}

const struct dns_stats *
dns_stats(const struct dns *d)
{
	return &d->stats;
}
