/* cache.h: the forwarder's answer cache: name -> addresses until a clamped TTL runs out. Pure. */
#ifndef GATEHOUSE_CACHE_H
#define GATEHOUSE_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_ADDRS 16		/* addresses kept per name (more are dropped) */

struct cache_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

struct cache_result {
	int negative;		/* 1: the name has no address (NXDOMAIN/NODATA) */
	size_t n;
	struct cache_addr addrs[CACHE_ADDRS];
	uint64_t expires_ms;
};

struct cache;

/* At most max_entries names; positive TTLs are clamped to [min_ttl, max_ttl] seconds. */
struct cache *cache_new(size_t max_entries, uint32_t min_ttl, uint32_t max_ttl);
void cache_free(struct cache *c);
void cache_set_limits(struct cache *c, uint32_t min_ttl, uint32_t max_ttl);

/* Store (replacing) the addresses of name (normalised), valid for the clamped ttl from
 * now_ms. Copies everything. When full, the oldest entry goes first. */
void cache_put(struct cache *c, const char *name, const struct cache_addr *addrs, size_t n,
    uint32_t ttl, uint64_t now_ms);
/* Store that name has no address, for ttl seconds exactly (no clamping; 0: nothing). */
void cache_put_negative(struct cache *c, const char *name, uint32_t ttl, uint64_t now_ms);

/* 1 and *out filled while the entry is fresh; 0 when absent or expired (an expired entry
 * is removed). */
int cache_get(struct cache *c, const char *name, uint64_t now_ms, struct cache_result *out);

size_t cache_count(const struct cache *c);

#endif
