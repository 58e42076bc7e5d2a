/* metrics.h: the resolver's Prometheus families, from the server's counters. */
#ifndef GATEHOUSE_RESOLVER_METRICS_H
#define GATEHOUSE_RESOLVER_METRICS_H

#include "prom.h"
#include "server.h"

/* Append the resolver's own families (DNS queries, answers, TCP) to p. */
void metrics_write(struct prom *p, const struct server_stats *s);
/* The stub zones' families (queries passed to their servers). */
void metrics_write_pass(struct prom *p, const struct pass_stats *s);

#endif
