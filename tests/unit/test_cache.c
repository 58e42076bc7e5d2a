/* test_cache.c: the forwarder's answer cache: TTL clamping, expiry, negative entries, eviction. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"

static struct cache_addr
v4(const char *s)
{
	struct cache_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static struct cache_addr
v6(const char *s)
{
	struct cache_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
	return a;
}

/* A TTL inside [min, max] is kept to the millisecond. */
static void
test_ttl_respected(void **state)
{
	struct cache *c = cache_new(100, 5, 300);
	struct cache_addr a[2] = { v4("93.184.216.34"), v6("2606:2800:220:1::1") };
	struct cache_result r;

	(void)state;
	cache_put(c, "example.com", a, 2, 60, 1000);
	assert_int_equal(cache_get(c, "example.com", 1000, &r), 1);
	assert_int_equal(r.negative, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.addrs[0].family, AF_INET);
	assert_memory_equal(&r.addrs[0].u.v4, &a[0].u.v4, 4);
	assert_int_equal(r.addrs[1].family, AF_INET6);
	assert_memory_equal(&r.addrs[1].u.v6, &a[1].u.v6, 16);
	assert_int_equal(r.expires_ms, 61000);
	assert_int_equal(cache_get(c, "example.com", 60999, &r), 1);	/* last fresh ms */
	assert_int_equal(cache_get(c, "example.com", 61000, &r), 0);	/* expired */
	assert_int_equal(cache_count(c), 0);				/* and removed */
	cache_free(c);
}

/* TTLs below the floor are raised; above the ceiling lowered. */
static void
test_ttl_clamped(void **state)
{
	struct cache *c = cache_new(100, 5, 300);
	struct cache_addr a = v4("1.1.1.1");
	struct cache_result r;

	(void)state;
	cache_put(c, "low.example", &a, 1, 0, 0);
	assert_int_equal(cache_get(c, "low.example", 0, &r), 1);
	assert_int_equal(r.expires_ms, 5000);
	cache_put(c, "high.example", &a, 1, 86400, 0);
	assert_int_equal(cache_get(c, "high.example", 0, &r), 1);
	assert_int_equal(r.expires_ms, 300000);
	/* New limits apply to new entries. */
	cache_set_limits(c, 0, 10);
	cache_put(c, "zero.example", &a, 1, 0, 0);
	assert_int_equal(cache_get(c, "zero.example", 0, &r), 0);	/* floor 0: not cached */
	cache_put(c, "ten.example", &a, 1, 60, 0);
	assert_int_equal(cache_get(c, "ten.example", 0, &r), 1);
	assert_int_equal(r.expires_ms, 10000);
	cache_free(c);
}

/* Negative entries last exactly their TTL and say negative. */
static void
test_negative(void **state)
{
	struct cache *c = cache_new(100, 5, 300);
	struct cache_result r;

	(void)state;
	cache_put_negative(c, "nx.example", 5, 100);
	assert_int_equal(cache_get(c, "nx.example", 100, &r), 1);
	assert_int_equal(r.negative, 1);
	assert_int_equal(r.n, 0);
	assert_int_equal(cache_get(c, "nx.example", 5099, &r), 1);
	assert_int_equal(cache_get(c, "nx.example", 5100, &r), 0);
	cache_put_negative(c, "zero.example", 0, 0);			/* 0: not cached */
	assert_int_equal(cache_get(c, "zero.example", 0, &r), 0);
	cache_free(c);
}

/* A new answer replaces the old one for the same name (positive over negative too). */
static void
test_replace(void **state)
{
	struct cache *c = cache_new(100, 5, 300);
	struct cache_addr a = v4("10.0.0.1"), b = v4("10.0.0.2");
	struct cache_result r;

	(void)state;
	cache_put_negative(c, "x.example", 5, 0);
	cache_put(c, "x.example", &a, 1, 60, 0);
	cache_put(c, "x.example", &b, 1, 60, 10);
	assert_int_equal(cache_count(c), 1);
	assert_int_equal(cache_get(c, "x.example", 20, &r), 1);
	assert_int_equal(r.negative, 0);
	assert_memory_equal(&r.addrs[0].u.v4, &b.u.v4, 4);
	assert_int_equal(r.expires_ms, 60010);
	cache_free(c);
}

/* Full: the oldest entry goes first; the count never exceeds the bound. */
static void
test_eviction(void **state)
{
	struct cache *c = cache_new(3, 5, 300);
	struct cache_addr a = v4("1.2.3.4");
	struct cache_result r;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		cache_put(c, name, &a, 1, 60, (uint64_t)i);
		assert_true(cache_count(c) <= 3);
	}
	assert_int_equal(cache_get(c, "n6.example", 10, &r), 0);
	assert_int_equal(cache_get(c, "n7.example", 10, &r), 1);
	assert_int_equal(cache_get(c, "n9.example", 10, &r), 1);
	cache_free(c);
}

/* Every address of an answer is kept (a DNS message holds at most ~4,000): the one
 * public address after many private ones must survive until the forwarder filters. */
static void
test_many_addresses(void **state)
{
	struct cache *c = cache_new(10, 5, 300);
	static struct cache_addr a[4000];
	struct cache_result r;
	char s[32];
	int i;

	(void)state;
	for (i = 0; i < 4000; i++) {
		snprintf(s, sizeof(s), "10.0.%d.%d", i / 250, i % 250 + 1);
		a[i] = v4(s);
	}
	cache_put(c, "many.example", a, 4000, 60, 0);
	assert_int_equal(cache_get(c, "many.example", 0, &r), 1);
	assert_int_equal(r.n, 4000);
	assert_memory_equal(&r.addrs[3999].u.v4, &a[3999].u.v4, 4);
	cache_free(c);
}

/* The address budget bounds memory: big answers push the oldest names out, and one answer
 * larger than the whole budget is not cached at all. */
static void
test_address_budget(void **state)
{
	struct cache *c = cache_new(100, 5, 300);
	static struct cache_addr a[CACHE_ADDR_BUDGET + 1];
	struct cache_result r;
	char name[32];
	size_t i, per = CACHE_ADDR_BUDGET / 4;

	(void)state;
	for (i = 0; i <= CACHE_ADDR_BUDGET; i++)
		a[i] = v4("93.184.216.34");
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "big%zu.example", i);
		cache_put(c, name, a, per, 60, 0);
	}
	assert_int_equal(cache_count(c), 4);		/* 5 x 1/4 of the budget: one went */
	assert_int_equal(cache_get(c, "big0.example", 0, &r), 0);
	assert_int_equal(cache_get(c, "big4.example", 0, &r), 1);
	assert_int_equal(r.n, per);
	cache_put(c, "huge.example", a, CACHE_ADDR_BUDGET + 1, 60, 0);
	assert_int_equal(cache_get(c, "huge.example", 0, &r), 0);
	assert_int_equal(cache_get(c, "big4.example", 0, &r), 1);	/* nothing evicted for it */
	cache_free(c);
}

/* Names are distinct keys (no prefix or case folding inside the cache). */
static void
test_keys(void **state)
{
	struct cache *c = cache_new(10, 5, 300);
	struct cache_addr a = v4("1.2.3.4");
	struct cache_result r;

	(void)state;
	cache_put(c, "a.example", &a, 1, 60, 0);
	assert_int_equal(cache_get(c, "a.example", 0, &r), 1);
	assert_int_equal(cache_get(c, "b.example", 0, &r), 0);
	assert_int_equal(cache_get(c, "a.exampl", 0, &r), 0);
	assert_int_equal(cache_get(c, "xa.example", 0, &r), 0);
	cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_respected),
		cmocka_unit_test(test_ttl_clamped),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_address_budget),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
