/* prom.h: Prometheus text exposition format (0.0.4), written into a growing buffer. Pure. */
#ifndef GATEHOUSE_PROM_H
#define GATEHOUSE_PROM_H

#include <stddef.h>
#include <stdint.h>

struct prom {
	char *buf;
	size_t len, cap;
	int oom;		/* a write did not fit in memory: the text is incomplete, and
				 * later writes are skipped */
};

/* An empty buffer (nothing allocated yet); prom_free frees it and empties p again. */
void prom_init(struct prom *p);
void prom_free(struct prom *p);

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram); help is
 * written as it is (no escaping). */
void prom_family(struct prom *p, const char *name, const char *type, const char *help);

/* name{k1="v1",k2="v2"} value. Labels are key, value pairs ended by (const char *)NULL;
 * values are escaped (backslash, double quote, newline). */
void prom_u64(struct prom *p, const char *name, uint64_t v, ...);
void prom_double(struct prom *p, const char *name, double v, ...);

/* A family of one series without labels: prom_family, then "name v". */
void prom_scalar(struct prom *p, const char *name, const char *type, const char *help,
    uint64_t v);

/* A family whose n series differ in one label: name{label="names[i]"} values[i], in
 * that order, after prom_family. */
void prom_by_label(struct prom *p, const char *name, const char *type, const char *help,
    const char *label, const char *const *names, const uint64_t *values, size_t n);

/* A histogram: name_bucket{le=...} for each bound (cumulative), +Inf, _sum, _count.
 * counts has nbounds + 1 entries (the last is above every bound). */
void prom_histogram(struct prom *p, const char *name, const double *bounds,
    const uint64_t *counts, size_t nbounds, double sum);

#endif
