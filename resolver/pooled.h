/* pooled.h: the resolver's side of `answer pool`: an address per allowed name for query.c, and its counters. */
#ifndef GATEHOUSE_RESOLVER_POOLED_H
#define GATEHOUSE_RESOLVER_POOLED_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pool.h"
#include "prom.h"
#include "query.h"

struct pooled;

/* Open cfg's pool state file (pool_open, as the writer) for cfg's pool; cfg->answer_pool
 * must be 1. NULL with err. Opened once at start: a reload keeps it (pooled_reload). */
struct pooled *pooled_new(const struct config *cfg, char *err, size_t errlen);
void pooled_free(struct pooled *pd);	/* NULL is ignored */

/* A reload: the new pool-hold applies; a changed pool or pool-state file is logged as
 * taking effect at the next start (the running pool stays). */
void pooled_reload(struct pooled *pd, const struct config *nc);

/* The hook for query_env.pool; valid while pd lives. */
const struct query_pool *pooled_hook(const struct pooled *pd);

/* "pool 172.29.0.128/25 (126 addresses, 3 names held)" for the start-up line. */
void pooled_describe(const struct pooled *pd, char *buf, size_t len);

/* gatehouse_pool_* families. */
void pooled_metrics(const struct pooled *pd, struct prom *p);

#endif
