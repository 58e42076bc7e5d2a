/* cache.c: name -> addresses with expiry; chained hash plus an insertion-order list. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "util.h"

struct entry {
	struct entry *hnext;		/* hash chain */
	TAILQ_ENTRY(entry) order;	/* insertion order, for eviction */
	uint64_t hash;
	uint64_t expires_ms;
	int negative;
	size_t n;
	struct cache_addr *addrs;
	char name[];
};

struct cache {
	struct entry **buckets;
	size_t nbuckets;		/* power of two */
	size_t count, max;
	size_t naddrs;			/* addresses held by every entry together */
	uint32_t min_ttl, max_ttl;
	TAILQ_HEAD(, entry) order;	/* oldest first */
};

struct cache *
cache_new(size_t max_entries, uint32_t min_ttl, uint32_t max_ttl)
{
	struct cache *c = calloc(1, sizeof(*c));
	size_t nb = 16;

	if (c == NULL)
		return NULL;
	while (nb < max_entries && nb < (1u << 20))
		nb *= 2;
	if ((c->buckets = calloc(nb, sizeof(*c->buckets))) == NULL) {
		free(c);
		return NULL;
	}
	c->nbuckets = nb;
	TAILQ_INIT(&c->order);
	c->max = max_entries ? max_entries : 1;
	cache_set_limits(c, min_ttl, max_ttl);
	return c;
}

void
cache_set_limits(struct cache *c, uint32_t min_ttl, uint32_t max_ttl)
{
	c->min_ttl = min_ttl;
	c->max_ttl = max_ttl < min_ttl ? min_ttl : max_ttl;
}

static struct entry **
slot(struct cache *c, const char *name, uint64_t h)
{
	struct entry **pp = &c->buckets[h & (c->nbuckets - 1)];

	while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->name, name) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void
remove_entry(struct cache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hnext;
	TAILQ_REMOVE(&c->order, e, order);
	c->naddrs -= e->n;
	free(e->addrs);
	free(e);
	c->count--;
}

void
cache_free(struct cache *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->order)) != NULL)
		remove_entry(c, slot(c, e->name, e->hash));
	free(c->buckets);
	free(c);
}

static void
store(struct cache *c, const char *name, const struct cache_addr *addrs, size_t n,
    int negative, uint64_t expires_ms)
{
	uint64_t h = util_hash(UTIL_HASH_INIT, name, strlen(name));
	struct entry **pp = slot(c, name, h), *e, *old;
	size_t nl = strlen(name);

	if (*pp != NULL)
		remove_entry(c, pp);
	while ((c->count >= c->max || c->naddrs + n > CACHE_ADDR_BUDGET) &&
	    (old = TAILQ_FIRST(&c->order)) != NULL)
		remove_entry(c, slot(c, old->name, old->hash));
	if ((e = calloc(1, sizeof(*e) + nl + 1)) == NULL)
		return;
	if (n > 0 && (e->addrs = malloc(n * sizeof(*addrs))) == NULL) {
		free(e);
		return;
	}
	memcpy(e->name, name, nl + 1);
	if (n > 0)
		memcpy(e->addrs, addrs, n * sizeof(*addrs));
	e->n = n;
	c->naddrs += n;
	e->hash = h;
	e->negative = negative;
	e->expires_ms = expires_ms;
	pp = slot(c, name, h);
	*pp = e;
	TAILQ_INSERT_TAIL(&c->order, e, order);
	c->count++;
}

void
cache_put(struct cache *c, const char *name, const struct cache_addr *addrs, size_t n,
    uint32_t ttl, uint64_t now_ms)
{
	if (ttl < c->min_ttl)
		ttl = c->min_ttl;
	if (ttl > c->max_ttl)
		ttl = c->max_ttl;
	if (ttl == 0 || n == 0 || n > CACHE_ADDR_BUDGET)
		return;
	store(c, name, addrs, n, 0, now_ms + (uint64_t)ttl * 1000);
}

void
cache_put_negative(struct cache *c, const char *name, uint32_t ttl, uint64_t now_ms)
{
	if (ttl == 0)
		return;
	store(c, name, NULL, 0, 1, now_ms + (uint64_t)ttl * 1000);
}

int
cache_get(struct cache *c, const char *name, uint64_t now_ms, struct cache_result *out)
{
	uint64_t h = util_hash(UTIL_HASH_INIT, name, strlen(name));
	struct entry **pp = slot(c, name, h), *e = *pp;

	if (e == NULL)
		return 0;
	if (now_ms >= e->expires_ms) {
		remove_entry(c, pp);
		return 0;
	}
	out->negative = e->negative;
	out->n = e->n;
	out->addrs = e->addrs;
	out->expires_ms = e->expires_ms;
	return 1;
}

size_t
cache_count(const struct cache *c)
{
	return c->count;
}
