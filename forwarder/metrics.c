/* metrics.c: the forwarder's Prometheus families. */
#include <stdio.h>

#include "conn.h"
#include "fwd.h"
#include "metrics.h"
#include "prom.h"
#include "recent.h"

static const double lookup_bounds[DNS_LATENCY_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10
};

/* The verdict families, one set of series per policy name (bounded: polstats.h). */
static void
verdict_metrics(struct prom *p, const struct polstats *ps)
{
	uint32_t k;
	int i;

	prom_family(p, "gatehouse_connections_total", "counter",
	    "Forwarded connections by client policy: allowed by how the name was learned, "
	    "denied by reason.");
	for (k = 0; k < polstats_count(ps); k++) {
		const uint64_t *row = polstats_crow(ps, k);
		const char *pol = polstats_name(ps, k);

		for (i = 1; i < VIA_COUNT; i++)
			prom_u64(p, "gatehouse_connections_total", row[FWD_PSTAT_ALLOWED + i], "policy",
			    pol, "verdict", "allow", "via", conn_via_name((enum via)i),
			    (const char *)NULL);
		for (i = 1; i < DENY_COUNT; i++)
			prom_u64(p, "gatehouse_connections_total", row[FWD_PSTAT_DENIED + i], "policy",
			    pol, "verdict", "deny", "reason", conn_deny_name((enum deny)i),
			    (const char *)NULL);
	}
	polstats_write_would_deny(ps, p, "Connections report mode relayed that enforce would refuse, "
	    "by client policy.", FWD_PSTAT_WOULD_DENY);
}

static void
conn_metrics(struct prom *p, const struct fwd_stats *s)
{
	static const char *const directions[] = { "up", "down" };
	const uint64_t bytes[] = { s->bytes_up, s->bytes_down };

	prom_scalar(p, "gatehouse_connections_accepted_total", "counter",
	    "Client connections accepted.", s->accepted);
	prom_scalar(p, "gatehouse_connections_active", "gauge",
	    "Client connections open now.", s->active);
	prom_by_label(p, "gatehouse_relay_bytes_total", "counter",
	    "Bytes relayed by finished connections: up (client to upstream) and down.",
	    "direction", directions, bytes, 2);
	prom_scalar(p, "gatehouse_accept_paused_total", "counter",
	    "Times max-conns paused accepting.", s->accept_paused);
	prom_scalar(p, "gatehouse_accept_errors_total", "counter",
	    "accept(2) failures (EMFILE and friends), each followed by a short back-off.",
	    s->accept_errors);
}

static void
dns_metrics(struct prom *p, const struct dns_stats *d)
{
	int i;

	prom_family(p, "gatehouse_upstream_lookups_total", "counter",
	    "Lookups the cache could not answer, by result: sent to the upstream DNS servers (ok, "
	    "no-address, fail, timeout) or refused before (limit, client-limit).");
	for (i = DNS_OK; i < DNS_STATUS_COUNT; i++)
		prom_u64(p, "gatehouse_upstream_lookups_total", d->lookups[i], "result",
		    dns_status_name((enum dns_status)i), (const char *)NULL);
	prom_family(p, "gatehouse_upstream_lookup_duration_seconds", "histogram",
	    "Time c-ares took to answer, per network lookup.");
	prom_histogram(p, "gatehouse_upstream_lookup_duration_seconds", lookup_bounds, d->latency,
	    DNS_LATENCY_BUCKETS, d->latency_sum);
	prom_family(p, "gatehouse_upstream_cache_hits_total", "counter",
	    "Lookups answered from the cache, positive or negative.");
	prom_u64(p, "gatehouse_upstream_cache_hits_total", d->cache_hits, "kind", "positive",
	    (const char *)NULL);
	prom_u64(p, "gatehouse_upstream_cache_hits_total", d->cache_negative_hits, "kind", "negative",
	    (const char *)NULL);
	prom_scalar(p, "gatehouse_upstream_lookups_coalesced_total", "counter",
	    "Lookups that joined one already in flight for the same name.", d->coalesced);
	prom_scalar(p, "gatehouse_upstream_lookups_in_flight", "gauge",
	    "Names being looked up now.", d->in_flight);
}

/* The lookups-socket's datagrams (all 0 when it is off or was not bound). */
static void
recent_metrics(struct prom *p, const struct recent *rc)
{
	static const struct recent_stats none;
	const struct recent_stats *r = rc != NULL ? recent_stats(rc) : &none;
	const struct {
		const char *result;
		uint64_t n;
	} rows[] = {
		{ "recorded", r->recorded }, { "malformed", r->malformed },
		{ "refused", r->refused }, { "stale", r->stale },
	};
	size_t i;

	prom_family(p, "gatehouse_lookups_received_total", "counter",
	    "Datagrams on the lookups-socket: recorded, malformed, refused (not the resolver's user), stale (waited over the window).");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		prom_u64(p, "gatehouse_lookups_received_total", rows[i].n, "result", rows[i].result,
		    (const char *)NULL);
}

void
metrics_write(struct prom *p, const struct fwd *f)
{
	verdict_metrics(p, f->pstats);
	conn_metrics(p, &f->stats);
	dns_metrics(p, dns_stats(f->dns));
	recent_metrics(p, f->recent);
}
