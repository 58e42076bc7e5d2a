/* metrics.h: the forwarder's Prometheus families, from its counters and the lookups'. */
#ifndef GATEHOUSE_FORWARDER_METRICS_H
#define GATEHOUSE_FORWARDER_METRICS_H

#include "fwd.h"
#include "prom.h"

/* Append the forwarder's own families (connections, accepting, lookups) to p. */
void metrics_write(struct prom *p, const struct fwd *f);

#endif
