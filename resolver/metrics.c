/* metrics.c: the resolver's Prometheus families. */
#include "metrics.h"

#include <ldns/ldns.h>
#include <stdio.h>

#include "util.h"

/* The series written even at zero, so that a dashboard has them from the start. */
static int
always_verdict(size_t v)
{
	return v == VERDICT_ALLOW || v == VERDICT_DENY;
}

static int
always_qtype(size_t q)
{
	return q == SERVER_QT_A || q == SERVER_QT_AAAA;
}

void
metrics_write(struct prom *p, const struct server_stats *s)
{
	static const char *const protos[] = { "udp", "tcp" };
	static const char *const tcp_results[] = {
		"accepted", "refused", "idle-closed", "evicted", "shed"
	};
	const uint64_t transport[] = { s->udp, s->tcp };
	const uint64_t tcp[] = {
		s->tcp_accepted, s->tcp_refused, s->tcp_idle_closed, s->tcp_evicted, s->tcp_shed
	};
	static const char *const told[TELL_RESULT_COUNT] = {
		[TELL_SENT] = "sent", [TELL_REPEAT] = "repeat", [TELL_DROPPED] = "dropped",
	};
	char rname[16];
	size_t v, q;
	int rc;

	uint32_t i;

	prom_family(p, "gatehouse_dns_queries_total", "counter",
	    "DNS queries by client policy, verdict (allow, deny, invalid, drop, pass) and query "
	    "type.");
	for (i = 0; i < polstats_count(s->policies); i++) {
		const uint64_t *row = polstats_crow(s->policies, i);
		const char *pol = polstats_name(s->policies, i);

		for (v = 0; v < VERDICT_COUNT; v++)
			for (q = 0; q < SERVER_QT_COUNT; q++) {
				uint64_t n = row[v * SERVER_QT_COUNT + q];

				if (n > 0 || (always_verdict(v) && always_qtype(q)))
					prom_u64(p, "gatehouse_dns_queries_total", n, "policy", pol,
					    "verdict", query_verdict_name((enum query_verdict)v), "qtype",
					    server_qtype_name((enum server_qtype)q), (const char *)NULL);
			}
	}
	polstats_write_would_deny(s->policies, p, "Names report mode answered that enforce would "
	    "refuse, by client policy.", SERVER_PSTAT_WOULD_DENY);
	prom_family(p, "gatehouse_dns_responses_total", "counter", "DNS answers sent, by rcode.");
	for (rc = 0; rc < SERVER_RCODES; rc++)
		if (s->rcode[rc] > 0 || rc == LDNS_RCODE_NOERROR || rc == LDNS_RCODE_NXDOMAIN)
			prom_u64(p, "gatehouse_dns_responses_total", s->rcode[rc], "rcode",
			    query_rcode_name(rc, rname, sizeof(rname)), (const char *)NULL);
	prom_by_label(p, "gatehouse_dns_transport_queries_total", "counter",
	    "DNS queries by transport.", "proto", protos, transport, 2);
	prom_scalar(p, "gatehouse_dns_truncated_total", "counter",
	    "UDP answers sent with TC=1.", s->truncated);
	prom_scalar(p, "gatehouse_dns_send_errors_total", "counter",
	    "UDP answers that could not be sent.", s->send_errors);
	prom_by_label(p, "gatehouse_dns_tcp_connections_total", "counter",
	    "DNS-over-TCP connections: accepted, refused (limits), closed idle, evicted to make room, shed (out of descriptors).",
	    "result", tcp_results, tcp, 5);
	prom_scalar(p, "gatehouse_dns_tcp_accept_errors_total", "counter",
	    "accept(2) failures (EMFILE and friends), each followed by a "
	    UTIL_STR(UTIL_ACCEPT_BACKOFF_MS) " ms pause in accepting.",
	    s->tcp_accept_errors);
	prom_scalar(p, "gatehouse_dns_tcp_open", "gauge",
	    "DNS-over-TCP connections open now.", s->tcp_open);
	prom_by_label(p, "gatehouse_lookups_told_total", "counter",
	    "Lookups of allowed names told the forwarder (lookups-socket): sent, repeat (the client's same name under a second ago: not sent), dropped (no forwarder bound, its queue full).",
	    "result", told, s->told, NELEM(told));
}

void
metrics_write_pass(struct prom *p, const struct pass_stats *s)
{
	static const char *const results[] = { "answered", "failed", "busy" };
	const uint64_t n[] = { s->answered, s->failed, s->busy };

	prom_by_label(p, "gatehouse_stub_queries_total", "counter",
	    "Queries for stub-zone names: answered by a zone server, failed (no answer after "
	    UTIL_STR(PASS_TRIES) " tries, or a malformed one: SERVFAIL), busy (not asked: "
	    UTIL_STR(PASS_MAX) " in flight, or " UTIL_STR(PASS_PER_CLIENT) " from the client: "
	    "SERVFAIL).", "result", results, n, NELEM(results));
	prom_scalar(p, "gatehouse_stub_tcp_total", "counter",
	    "Stub-zone queries asked again over TCP after a truncated UDP answer.", s->tcp);
	prom_scalar(p, "gatehouse_stub_foreign_total", "counter",
	    "Datagrams on a stub-zone query's socket that answered another question or ID "
	    "(late answers, or guesses at one): ignored.", s->foreign);
	prom_scalar(p, "gatehouse_stub_inflight", "gauge",
	    "Stub-zone queries waiting for a zone server now.", s->inflight);
}
