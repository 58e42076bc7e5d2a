/* pooled.c: the resolver's side of `answer pool`: an address per allowed name for query.c, and its counters. */
#include "pooled.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct pooled {
	struct pool *pool;
	struct pool_net net;		/* the running pool (a reload may name another) */
	char *state;			/* its file */
	uint32_t hold_s;
	uint64_t exhausted, reused;
	struct query_pool hook;
};

static uint32_t
hold_seconds(const struct config *c)
{
	uint64_t s = (c->pool_hold_ms + 999) / 1000;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* query_pool.addr: the name's slot, as addresses */
static int
pooled_addr(void *ctx, const char *name, size_t len, struct in_addr *a4, struct in6_addr *a6,
    int *has6)
{
	struct pooled *pd = ctx;
	uint32_t slot;

	switch (pool_assign(pd->pool, name, len, (int64_t)time(NULL), pd->hold_s, &slot)) {
	case POOL_FULL:
		pd->exhausted++;
		return 0;
	case POOL_REUSED:
		pd->reused++;
		break;
	case POOL_HELD:
	case POOL_NEW:
		break;
	}
	pool_net_addr4(&pd->net, slot, a4);
	*has6 = pd->net.len6 != 0;
	if (*has6)
		pool_net_addr6(&pd->net, slot, a6);
	return 1;
}

struct pooled *
pooled_new(const struct config *cfg, char *err, size_t errlen)
{
	struct pooled *pd = calloc(1, sizeof(*pd));

	if (pd == NULL || (pd->state = strdup(cfg->pool_state)) == NULL) {
		free(pd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pool_open(cfg->pool_state, &cfg->pool, 1, &pd->pool, err, errlen) == -1) {
		pooled_free(pd);
		return NULL;
	}
	pd->net = cfg->pool;
	pd->hold_s = hold_seconds(cfg);
	pd->hook.addr = pooled_addr;
	pd->hook.ctx = pd;
	return pd;
}

void
pooled_free(struct pooled *pd)
{
	if (pd == NULL)
		return;
	pool_close(pd->pool);
	free(pd->state);
	free(pd);
}

void
pooled_reload(struct pooled *pd, const struct config *nc)
{
	if (!nc->answer_pool || !pool_net_equal(&pd->net, &nc->pool) ||
	    strcmp(pd->state, nc->pool_state) != 0)
		log_warnx("reload: answer pool and pool-state changes take effect at the next "
		    "start; the running pool stays");
	pd->hold_s = hold_seconds(nc);
}

const struct query_pool *
pooled_hook(const struct pooled *pd)
{
	return &pd->hook;
}

void
pooled_describe(const struct pooled *pd, char *buf, size_t len)
{
	char net[2 * 48];

	pool_net_format(&pd->net, net, sizeof(net));
	snprintf(buf, len, "pool %s (%u addresses, %u names held)", net, pd->net.slots,
	    pool_used(pd->pool));
}

void
pooled_metrics(const struct pooled *pd, struct prom *p)
{
	prom_scalar(p, "gatehouse_pool_addresses", "gauge",
	    "Addresses of the answer pool (one per name).", pd->net.slots);
	prom_scalar(p, "gatehouse_pool_names", "gauge",
	    "Pool addresses that hold a name.", pool_used(pd->pool));
	prom_scalar(p, "gatehouse_pool_exhausted_total", "counter",
	    "Allowed names answered with the gateway's own address because every pool address "
	    "was held (answered within pool-hold, or with a connection open).", pd->exhausted);
	prom_scalar(p, "gatehouse_pool_reused_total", "counter",
	    "Pool addresses given to a new name after their name went unanswered for "
	    "pool-hold.", pd->reused);
}
