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

#define MIN_TTL	5	/* the fixture cache's clamp, seconds */
#define MAX_TTL	300

/* An address from text: IPv6 when it holds a ':', else IPv4. */
static struct cache_addr
addr(const char *s)
{
	struct cache_addr a;
	void *dst;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	dst = a.family == AF_INET6 ? (void *)&a.u.v6 : (void *)&a.u.v4;
	assert_int_equal(inet_pton(a.family, s, dst), 1);
	return a;
}

/* Each test gets a cache of 100 names clamping TTLs to [MIN_TTL, MAX_TTL] as *state. */
static int
setup(void **state)
{
	*state = cache_new(100, MIN_TTL, MAX_TTL);
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	cache_free(*state);
	return 0;
}

/* name is in c at now_ms and its entry expires at expires_ms; the result in *r. */
static void
assert_fresh(struct cache *c, const char *name, uint64_t now_ms, uint64_t expires_ms,
    struct cache_result *r)
{
	assert_int_equal(cache_get(c, name, now_ms, r), 1);
	assert_int_equal(r->expires_ms, expires_ms);
}

/* name is not in c at now_ms (never put, not cached, expired or evicted). */
static void
assert_absent(struct cache *c, const char *name, uint64_t now_ms)
{
	struct cache_result r;

	assert_int_equal(cache_get(c, name, now_ms, &r), 0);
}

/* Address i of a result is a, family and bytes. */
static void
assert_addr(const struct cache_result *r, size_t i, const struct cache_addr *a)
{
	assert_int_equal(r->addrs[i].family, a->family);
	if (a->family == AF_INET)
		assert_memory_equal(&r->addrs[i].u.v4, &a->u.v4, 4);
	else
		assert_memory_equal(&r->addrs[i].u.v6, &a->u.v6, 16);
}

/* A TTL inside [min, max] is kept to the millisecond. */
static void
test_ttl_respected(void **state)
{
	struct cache *c = *state;
	struct cache_addr a[2] = { addr("93.184.216.34"), addr("2606:2800:220:1::1") };
	struct cache_result r;

	cache_put(c, "example.com", a, 2, 60, 1000);
	assert_fresh(c, "example.com", 1000, 61000, &r);
	assert_int_equal(r.negative, 0);
	assert_int_equal(r.n, 2);
	assert_addr(&r, 0, &a[0]);
	assert_addr(&r, 1, &a[1]);
	assert_fresh(c, "example.com", 60999, 61000, &r);	/* last fresh ms */
	assert_absent(c, "example.com", 61000);			/* expired */
	assert_int_equal(cache_count(c), 0);			/* and removed */
}

/* TTLs below the floor are raised; above the ceiling lowered. New limits apply to new
 * entries; a floor of 0 caches nothing with TTL 0. */
static void
test_ttl_clamped(void **state)
{
	static const struct {
		const char *name;
		unsigned min, max;	/* the limits when it is put */
		uint32_t ttl;
		uint64_t expires_ms;	/* put at 0; 0: not cached */
	} cases[] = {
		{ "low.example", MIN_TTL, MAX_TTL, 0, MIN_TTL * 1000 },
		{ "high.example", MIN_TTL, MAX_TTL, 86400, MAX_TTL * 1000 },
		{ "zero.example", 0, 10, 0, 0 },
		{ "ten.example", 0, 10, 60, 10000 },
	};
	struct cache *c = *state;
	struct cache_addr a = addr("1.1.1.1");
	struct cache_result r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cache_set_limits(c, cases[i].min, cases[i].max);
		cache_put(c, cases[i].name, &a, 1, cases[i].ttl, 0);
		if (cases[i].expires_ms == 0)
			assert_absent(c, cases[i].name, 0);
		else
			assert_fresh(c, cases[i].name, 0, cases[i].expires_ms, &r);
	}
}

/* Negative entries last exactly their TTL and say negative. */
static void
test_negative(void **state)
{
	struct cache *c = *state;
	struct cache_result r;

	cache_put_negative(c, "nx.example", 5, 100);
	assert_fresh(c, "nx.example", 100, 5100, &r);
	assert_int_equal(r.negative, 1);
	assert_int_equal(r.n, 0);
	assert_fresh(c, "nx.example", 5099, 5100, &r);
	assert_absent(c, "nx.example", 5100);
	cache_put_negative(c, "zero.example", 0, 0);		/* 0: not cached */
	assert_absent(c, "zero.example", 0);
}

/* A new answer replaces the old one for the same name (positive over negative too). */
static void
test_replace(void **state)
{
	struct cache *c = *state;
	struct cache_addr a = addr("10.0.0.1"), b = addr("10.0.0.2");
	struct cache_result r;

	cache_put_negative(c, "x.example", 5, 0);
	cache_put(c, "x.example", &a, 1, 60, 0);
	cache_put(c, "x.example", &b, 1, 60, 10);
	assert_int_equal(cache_count(c), 1);
	assert_fresh(c, "x.example", 20, 60010, &r);
	assert_int_equal(r.negative, 0);
	assert_addr(&r, 0, &b);
}

/* Full: the oldest entry goes first; the count never exceeds the bound. */
static void
test_eviction(void **state)
{
	struct cache *c = cache_new(3, MIN_TTL, MAX_TTL);
	struct cache_addr a = addr("1.2.3.4");
	struct cache_result r;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		cache_put(c, name, &a, 1, 60, (uint64_t)i);
		assert_true(cache_count(c) <= 3);
	}
	assert_absent(c, "n6.example", 10);
	assert_fresh(c, "n7.example", 10, 60007, &r);
	assert_fresh(c, "n9.example", 10, 60009, &r);
	cache_free(c);
}

/* Every address of an answer is kept (a DNS message holds at most ~4,000): the one
 * public address after many private ones must survive until the forwarder filters. */
static void
test_many_addresses(void **state)
{
	struct cache *c = *state;
	static struct cache_addr a[4000];
	struct cache_result r;
	char s[32];
	int i;

	for (i = 0; i < 4000; i++) {
		snprintf(s, sizeof(s), "10.0.%d.%d", i / 250, i % 250 + 1);
		a[i] = addr(s);
	}
	cache_put(c, "many.example", a, 4000, 60, 0);
	assert_fresh(c, "many.example", 0, 60000, &r);
	assert_int_equal(r.n, 4000);
	assert_addr(&r, 3999, &a[3999]);
}

/* The address budget bounds memory: big answers push the oldest names out, and one answer
 * larger than the whole budget is not cached at all. */
static void
test_address_budget(void **state)
{
	struct cache *c = *state;
	static struct cache_addr a[CACHE_ADDR_BUDGET + 1];
	struct cache_result r;
	char name[32];
	size_t i, per = CACHE_ADDR_BUDGET / 4;

	for (i = 0; i <= CACHE_ADDR_BUDGET; i++)
		a[i] = addr("93.184.216.34");
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "big%zu.example", i);
		cache_put(c, name, a, per, 60, 0);
	}
	assert_int_equal(cache_count(c), 4);		/* 5 x 1/4 of the budget: one went */
	assert_absent(c, "big0.example", 0);
	assert_fresh(c, "big4.example", 0, 60000, &r);
	assert_int_equal(r.n, per);
	cache_put(c, "huge.example", a, CACHE_ADDR_BUDGET + 1, 60, 0);
	assert_absent(c, "huge.example", 0);
	assert_fresh(c, "big4.example", 0, 60000, &r);	/* nothing evicted for it */
}

/* Names are distinct keys (no prefix or case folding inside the cache). */
static void
test_keys(void **state)
{
	static const char *const others[] = { "b.example", "a.exampl", "xa.example" };
	struct cache *c = *state;
	struct cache_addr a = addr("1.2.3.4");
	struct cache_result r;
	size_t i;

	cache_put(c, "a.example", &a, 1, 60, 0);
	assert_fresh(c, "a.example", 0, 60000, &r);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_absent(c, others[i], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ttl_respected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test_setup_teardown(test_many_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
