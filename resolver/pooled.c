/* pooled.c: the resolver's side of `answer pool`: an address per allowed name for query.c, and its counters. */
#include "pooled.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients.h"
#include "log.h"

/* Clients whose budget of new names is kept (a client forgotten under a flood of source
 * addresses starts a new budget: a spoofing client cannot be held to one anyway). */
#define CLIENT_SLOTS 4096
#define CLIENT_PROBE 8

struct budget {
	struct client_slot head;	/* clients.h */
	int64_t window_s;		/* the start of its window of pool-hold */
	uint32_t taken;			/* new names given addresses in it */
};

struct pooled {
	struct pool *pool;		/* the running pool (a reload may name another) */
	char *state;			/* its file */
	uint32_t hold_s;
	unsigned max_per_client;	/* 0: no limit */
	struct client_slots budgets;
	uint64_t exhausted, reused, limited;
	struct query_pool hook;
};

static uint32_t
hold_seconds(const struct config *c)
{
	uint64_t s = (c->pool_hold_ms + 999) / 1000;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* The budget of client (NULL: none kept) at now_s, its window renewed after a hold. */
static struct budget *
budget_of(struct pooled *pd, const struct sockaddr *client, int64_t now_s)
{
	struct client_slot *cs;
	struct budget *b;

	if (client == NULL || pd->max_per_client == 0)
		return NULL;
	if (!clients_slot_find(&pd->budgets, client, &cs))
		clients_slot_claim(&pd->budgets, cs, client);
	b = (struct budget *)(void *)cs;
	b->head.last_ms = (uint64_t)now_s * 1000;
	if (b->taken == 0 || now_s - b->window_s >= (int64_t)pd->hold_s) {
		b->window_s = now_s;
		b->taken = 0;
	}
	return b;
}

/* query_pool.addr: the name's slot, as addresses. A held name costs nothing; a new one
 * takes from the client's budget of pool-max-per-client per pool-hold, past which it is
 * answered without the pool (the gateway's own address, as when the pool is full). */
static int
pooled_addr(void *ctx, const struct sockaddr *client, const char *name, size_t len,
    struct in_addr *a4, struct in6_addr *a6, int *has6)
{
	struct pooled *pd = ctx;
	const struct pool_net *net;
	int64_t now_s = (int64_t)time(NULL);
	struct budget *b;
	uint32_t slot;

	if (!pool_held(pd->pool, name, len, now_s, &slot)) {
		if ((b = budget_of(pd, client, now_s)) != NULL &&
		    b->taken >= pd->max_per_client) {
			pd->limited++;
			return 0;
		}
		switch (pool_assign(pd->pool, name, len, now_s, pd->hold_s, &slot)) {
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
		if (b != NULL)
			b->taken++;
	}
	net = pool_net(pd->pool);
	pool_net_addr4(net, slot, a4);
	*has6 = net->len6 != 0;
	if (*has6)
		pool_net_addr6(net, slot, a6);
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
	pd->hold_s = hold_seconds(cfg);
	pd->max_per_client = cfg->pool_max_per_client;
	if (clients_slots_init(&pd->budgets, CLIENT_SLOTS, sizeof(struct budget),
	    CLIENT_PROBE) == -1) {
		snprintf(err, errlen, "out of memory");
		pooled_free(pd);
		return NULL;
	}
	pd->hook.addr = pooled_addr;
	pd->hook.ctx = pd;
	pd->hook.v6 = cfg->pool.len6 != 0;
	return pd;
}

void
pooled_free(struct pooled *pd)
{
	if (pd == NULL)
		return;
	pool_close(pd->pool);
	clients_slots_free(&pd->budgets);
	free(pd->state);
	free(pd);
}

void
pooled_reload(struct pooled *pd, const struct config *nc)
{
	if (!nc->answer_pool || !pool_net_equal(pool_net(pd->pool), &nc->pool) ||
	    strcmp(pd->state, nc->pool_state) != 0)
		log_warnx("reload: answer pool and pool-state changes take effect at the next "
		    "start; the running pool stays");
	pd->hold_s = hold_seconds(nc);
	pd->max_per_client = nc->pool_max_per_client;
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

	pool_net_format(pool_net(pd->pool), net, sizeof(net));
	snprintf(buf, len, "pool %s (%u addresses, %u names held)", net,
	    pool_net(pd->pool)->slots, pool_used(pd->pool));
}

void
pooled_metrics(const struct pooled *pd, struct prom *p)
{
	prom_scalar(p, "gatehouse_pool_addresses", "gauge",
	    "Addresses of the answer pool (one per name).", pool_net(pd->pool)->slots);
	prom_scalar(p, "gatehouse_pool_names", "gauge",
	    "Pool addresses that hold a name.", pool_used(pd->pool));
	prom_scalar(p, "gatehouse_pool_exhausted_total", "counter",
	    "Allowed names answered with the gateway's own address because every pool address "
	    "was held (answered within pool-hold, or with a connection open).", pd->exhausted);
	prom_scalar(p, "gatehouse_pool_client_limited_total", "counter",
	    "New names answered with the gateway's own address because their client had "
	    "given addresses to pool-max-per-client new names within pool-hold.", pd->limited);
	prom_scalar(p, "gatehouse_pool_reused_total", "counter",
	    "Pool addresses given to a new name after their name went unanswered for "
	    "pool-hold.", pd->reused);
}
