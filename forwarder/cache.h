/* cache.h: the forwarder's answer cache: name -> addresses until a clamped TTL runs out. Pure. */
#ifndef GATEHOUSE_CACHE_H
#define GATEHOUSE_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Every address of an answer is kept (the forwarder filters them per rule, so dropping
 * some before filtering could drop the only usable one). Memory stays bounded by a budget
 * of addresses over the whole cache: past it the oldest names go first. */
#define CACHE_ADDR_BUDGET 65536

struct cache_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* An answer, borrowed: addrs points into the cache (or the lookup that produced it) and
 * stays valid only until the next call into the cache; copy what you keep. */
struct cache_result {
	int negative;		/* 1: the name has no address (NXDOMAIN/NODATA) */
	size_t n;
	const struct cache_addr *addrs;
	uint64_t expires_ms;
};

struct cache;

/* At most max_entries names (at least 1); positive TTLs are clamped to [min_ttl,
 * max_ttl] seconds (cache_set_limits: a max_ttl under min_ttl is taken as min_ttl, and
 * entries already stored keep their expiry). NULL when out of memory. */
struct cache *cache_new(size_t max_entries, uint32_t min_ttl, uint32_t max_ttl);
void cache_free(struct cache *c);	/* NULL is ignored */
void cache_set_limits(struct cache *c, uint32_t min_ttl, uint32_t max_ttl);

/* Store (replacing) the addresses of name (normalised), valid for the clamped ttl from
 * now_ms. Copies everything. When full (entries, or the address budget), the oldest
 * entries go first. Nothing is stored, and an entry already there stays, for n == 0, a
 * clamped ttl of 0 or an answer larger than the whole budget; out of memory, nothing
 * is stored and the old entry is gone. */
void cache_put(struct cache *c, const char *name, const struct cache_addr *addrs, size_t n,
    uint32_t ttl, uint64_t now_ms);
/* Store that name has no address, for ttl seconds exactly (no clamping; 0: nothing
 * stored, an entry already there stays), replacing what the name had. */
void cache_put_negative(struct cache *c, const char *name, uint32_t ttl, uint64_t now_ms);

/* 1 and *out filled while the entry is fresh (out->addrs borrowed, see struct
 * cache_result); 0 when absent or expired (an expired entry is removed). */
int cache_get(struct cache *c, const char *name, uint64_t now_ms, struct cache_result *out);

size_t cache_count(const struct cache *c);

#endif
