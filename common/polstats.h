/* polstats.h: counters per policy name, kept across reloads: the metrics' policy label. */
#ifndef GATEHOUSE_POLSTATS_H
#define GATEHOUSE_POLSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "policyset.h"

/* Rows of `width` counters, one per policy name seen in a configuration since start (the
 * first is POLICYSET_DEFAULT). The label set is bounded: names come from the
 * configurations, and past POLSTATS_MAX names the rest share one row named
 * POLSTATS_OTHER (not a valid policy name, so it never meets a real one). */
#define POLSTATS_MAX 4096
#define POLSTATS_OTHER "_other"

struct polstats;

/* NULL when out of memory. */
struct polstats *polstats_new(size_t width);
void polstats_free(struct polstats *ps);	/* NULL is ignored */

/* The row of every policy of set, by its index there, into a new array *map (the caller
 * frees it), adding rows for names not seen before. 0, or -1 when out of memory (*map is
 * then NULL). */
int polstats_map(struct polstats *ps, const struct policyset *set, uint32_t **map);

/* Row slot's counters (width of them); slot from polstats_map, or 0 (the default). */
uint64_t *polstats_row(struct polstats *ps, uint32_t slot);
const uint64_t *polstats_crow(const struct polstats *ps, uint32_t slot);

struct prom;

/* The family POLSTATS_WOULD_DENY ("gatehouse_report_would_deny_total", help text help):
 * one series per policy name, the counter in column col of its row. */
#define POLSTATS_WOULD_DENY "gatehouse_report_would_deny_total"
void polstats_write_would_deny(const struct polstats *ps, struct prom *p, const char *help,
    size_t col);

size_t polstats_count(const struct polstats *ps);
const char *polstats_name(const struct polstats *ps, uint32_t slot);

#endif
