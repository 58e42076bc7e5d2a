/* test_pool.c: common/pool_net.c and common/pool.c: the pool's addresses, and the state file both daemons map. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool.h"
#include "pool_net.h"

static char dir[] = "/tmp/gatehouse-test-pool-XXXXXX";
static char path[sizeof(dir) + 16];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/pool", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static struct pool_net
net(const char *c4, const char *c6)
{
	struct pool_net n;
	char err[256];

	assert_int_equal(pool_net_parse(c4, c6, &n, err, sizeof(err)), 0);
	return n;
}

static void
refused(const char *c4, const char *c6, const char *want)
{
	struct pool_net n;
	char err[256] = "";

	assert_int_equal(pool_net_parse(c4, c6, &n, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void
test_net_parse(void **state)
{
	struct pool_net n;
	char buf[128];

	(void)state;
	n = net("172.29.0.128/25", NULL);
	assert_int_equal(n.slots, 126);		/* first and last left out */
	assert_int_equal(n.len6, 0);
	pool_net_format(&n, buf, sizeof(buf));
	assert_string_equal(buf, "172.29.0.128/25");
	n = net("10.9.0.0/29", "fd00:29::/125");
	assert_int_equal(n.slots, 6);
	n = net("10.9.0.0/29", "fd00:29::/126");	/* the IPv6 prefix is the smaller */
	assert_int_equal(n.slots, 3);
	pool_net_format(&n, buf, sizeof(buf));
	assert_string_equal(buf, "10.9.0.0/29 fd00:29::/126");
	n = net("10.0.0.0/16", NULL);
	assert_int_equal(n.slots, POOL_MAX_SLOTS);	/* capped */
	refused("10.0.0.0/8", NULL, "'10.0.0.0/8': an IPv4 pool is /16 to /30");
	refused("10.0.0.0/31", NULL, "'10.0.0.0/31': an IPv4 pool is /16 to /30");
	refused("10.0.0.1/29", NULL, "'10.0.0.1/29' has bits set past the prefix length: write "
	    "the network");
	refused("10.0.0.0", NULL, "'10.0.0.0': an IPv4 pool is ADDR/LEN (172.29.0.128/25)");
	refused("fd00::/120", NULL, "'fd00::/120': an IPv4 pool is ADDR/LEN (172.29.0.128/25)");
	refused("10.0.0.0/29", "10.1.0.0/29", "'10.1.0.0/29': an IPv6 pool is ADDR/LEN "
	    "(fd00:29::/112)");
	refused("10.0.0.0/29", "fd00::1/120", "'fd00::1/120' has bits set past the prefix "
	    "length: write the network");
	refused("10.0.0.0/29", "fd00::/127", "'fd00::/127': an IPv6 pool is /126 or wider");
}

static int64_t
slot_of(const struct pool_net *n, const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return pool_net_slot(n, (struct sockaddr *)&ss);
}

static void
test_net_slots(void **state)
{
	struct pool_net n = net("172.29.0.128/25", "fd00:29::100/120");
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	pool_net_addr4(&n, 0, &a4);
	assert_string_equal(inet_ntop(AF_INET, &a4, buf, sizeof(buf)), "172.29.0.129");
	pool_net_addr4(&n, 125, &a4);
	assert_string_equal(inet_ntop(AF_INET, &a4, buf, sizeof(buf)), "172.29.0.254");
	pool_net_addr6(&n, 0, &a6);
	assert_string_equal(inet_ntop(AF_INET6, &a6, buf, sizeof(buf)), "fd00:29::101");
	pool_net_addr6(&n, 125, &a6);
	assert_string_equal(inet_ntop(AF_INET6, &a6, buf, sizeof(buf)), "fd00:29::17e");
	assert_int_equal(slot_of(&n, "172.29.0.129"), 0);
	assert_int_equal(slot_of(&n, "172.29.0.254"), 125);
	assert_int_equal(slot_of(&n, "172.29.0.128"), -1);	/* the network's */
	assert_int_equal(slot_of(&n, "172.29.0.255"), -1);	/* the broadcast */
	assert_int_equal(slot_of(&n, "172.29.0.127"), -1);
	assert_int_equal(slot_of(&n, "172.29.1.129"), -1);
	assert_int_equal(slot_of(&n, "::ffff:172.29.0.130"), 1);	/* a v4-mapped accept */
	assert_int_equal(slot_of(&n, "fd00:29::101"), 0);
	assert_int_equal(slot_of(&n, "fd00:29::17e"), 125);
	assert_int_equal(slot_of(&n, "fd00:29::17f"), -1);	/* past the IPv4 slots */
	assert_int_equal(slot_of(&n, "fd00:29::100"), -1);
	assert_int_equal(slot_of(&n, "fd00:29::1:101"), -1);
	assert_int_equal(slot_of(&n, "fd00:28::101"), -1);
	n = net("172.29.0.128/25", NULL);
	assert_int_equal(slot_of(&n, "fd00:29::101"), -1);	/* no IPv6 pool */
}

static struct pool *
open_pool(const struct pool_net *n, int writer)
{
	struct pool *p;
	char err[512];

	if (pool_open(path, n, writer, &p, err, sizeof(err)) == -1)
		fail_msg("pool_open: %s", err);
	return p;
}

static uint32_t
assign(struct pool *p, const char *name, int64_t now, enum pool_result want)
{
	uint32_t slot = UINT32_MAX;

	assert_int_equal(pool_assign(p, name, strlen(name), now, 60, &slot), want);
	return slot;
}

static void
name_is(struct pool *p, uint32_t slot, const char *want)
{
	char buf[300];
	int n = pool_name(p, slot, buf);

	if (want == NULL) {
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void
test_assign_hold_reuse(void **state)
{
	struct pool_net n = net("10.9.0.0/29", NULL);		/* 6 slots */
	struct pool *res, *fwd;
	char name[32];

	(void)state;
	unlink(path);
	res = open_pool(&n, 1);
	fwd = open_pool(&n, 0);
	assert_int_equal(assign(res, "a.test", 1000, POOL_NEW), 0);
	assert_int_equal(assign(res, "b.test", 1000, POOL_NEW), 1);
	assert_int_equal(assign(res, "a.test", 1001, POOL_HELD), 0);	/* the same name */
	name_is(fwd, 0, "a.test");	/* the other process's mapping sees it */
	name_is(fwd, 1, "b.test");
	name_is(fwd, 2, NULL);		/* never answered */
	name_is(fwd, 6, NULL);		/* past the pool */
	for (int i = 2; i < 6; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		assert_int_equal(assign(res, name, 1030 + i, POOL_NEW), i);
	}
	assert_int_equal(pool_used(res), 6);
	/* full, every name answered within the hold (60 s): the caller falls back */
	assign(res, "late.test", 1059, POOL_FULL);
	/* b.test's answer at 1000 may have been at 1000.9: at 1060 60 s may not have passed */
	assign(res, "late.test", 1060, POOL_FULL);
	/* b.test went unanswered longest, but a connection to it is open: a.test goes
	 * instead (answered at 1001), and never while a.test's is open too */
	pool_conn_open(fwd, 1);
	assert_int_equal(assign(res, "late.test", 1062, POOL_REUSED), 0);
	name_is(fwd, 0, "late.test");
	assert_int_equal(assign(res, "a.test", 1062, POOL_FULL), UINT32_MAX);
	assert_int_equal(assign(res, "late.test", 1063, POOL_HELD), 0);
	pool_conn_close(fwd, 1);
	assert_int_equal(assign(res, "a.test", 1063, POOL_REUSED), 1);	/* b.test's now */
	name_is(fwd, 1, "a.test");
	assert_int_equal(assign(res, "b.test", 1063, POOL_FULL), UINT32_MAX);
	/* no address ever stands for two names */
	for (uint32_t i = 0; i < 6; i++)
		for (uint32_t j = i + 1; j < 6; j++) {
			char x[300], y[300];

			assert_true(pool_name(fwd, i, x) > 0 && pool_name(fwd, j, y) > 0);
			assert_string_not_equal(x, y);
		}
	pool_close(fwd);
	pool_close(res);
}

static void
test_survives_restarts(void **state)
{
	struct pool_net n = net("10.9.0.0/29", NULL), other = net("10.9.1.0/29", NULL);
	struct pool *res, *fwd;

	(void)state;
	unlink(path);
	res = open_pool(&n, 1);
	assign(res, "a.test", 1000, POOL_NEW);
	assign(res, "b.test", 1000, POOL_NEW);
	fwd = open_pool(&n, 0);
	pool_conn_open(fwd, 0);
	pool_close(res);
	/* the resolver restarts: the same names, the same addresses */
	res = open_pool(&n, 1);
	assert_int_equal(pool_used(res), 2);
	assert_int_equal(assign(res, "b.test", 1001, POOL_HELD), 1);
	assert_int_equal(assign(res, "c.test", 1001, POOL_NEW), 2);
	/* the forwarder restarts: the names stay, its open counts go (its connections did) */
	pool_close(fwd);
	fwd = open_pool(&n, 0);
	name_is(fwd, 0, "a.test");
	name_is(fwd, 2, "c.test");
	pool_close(fwd);
	/* another pool (a /28: a larger file), while the first resolver still maps the old
	 * one: a new file takes the path, the old mapping stays whole (a truncation under it
	 * would be a SIGBUS) */
	other = net("10.9.1.0/28", NULL);
	fwd = open_pool(&other, 1);
	assert_int_equal(pool_used(fwd), 0);
	assert_int_equal(assign(fwd, "c.test", 1002, POOL_NEW), 0);
	assert_int_equal(assign(res, "b.test", 1002, POOL_HELD), 1);
	assert_int_equal(assign(res, "d.test", 1002, POOL_NEW), 3);
	pool_close(fwd);
	pool_close(res);
	/* and back to a smaller pool: the same */
	res = open_pool(&other, 1);
	fwd = open_pool(&n, 1);
	assert_int_equal(assign(res, "c.test", 1003, POOL_HELD), 0);
	name_is(res, 0, "c.test");
	pool_close(fwd);
	pool_close(res);
}

/* Thousands of reuses through a full pool: the least recently answered name goes first,
 * every name keeps its slot while held, and the index stays exact (a removal that broke a
 * probe chain would lose a held name, or hand it a second slot). */
static void
test_many_reuses(void **state)
{
	struct pool_net n = net("10.9.0.0/25", NULL);		/* 126 slots */
	struct pool *res, *fwd;
	char name[32], buf[300];
	uint32_t slot, first = 0, s1 = 0;
	int64_t now = 1000, last[126] = { 0 };

	(void)state;
	unlink(path);
	res = open_pool(&n, 1);
	fwd = open_pool(&n, 0);
	for (int k = 0; k < 5000; k++) {
		now += 2;
		snprintf(name, sizeof(name), "n%d.test", k);
		assert_int_equal(pool_assign(res, name, strlen(name), now, 1, &slot),
		    k < 126 ? POOL_NEW : POOL_REUSED);
		name_is(fwd, slot, name);
		if (k == 126)
			assert_int_equal(slot, first);	/* n0's, the least recently answered */
		if (k >= 126)	/* always the least recently answered */
			for (uint32_t i = 0; i < n.slots; i++)
				assert_true(i == slot || last[i] >= last[slot]);
		last[slot] = now;
		if (k == 0)
			first = slot;
		/* n1 answered at every step: never the least recently answered, never taken */
		if (k == 1)
			s1 = slot;
		if (k >= 2) {
			assert_int_equal(pool_assign(res, "n1.test", 7, now, 1, &slot), POOL_HELD);
			assert_int_equal(slot, s1);
			last[slot] = now;
		}
		if (k % 250 == 249)
			for (uint32_t i = 0; i < n.slots; i++) {
				uint32_t again;

				assert_true(pool_name(fwd, i, buf) > 0);
				assert_int_equal(pool_assign(res, buf, strlen(buf), now, 1, &again),
				    POOL_HELD);
				assert_int_equal(again, i);
				last[i] = now;
			}
	}
	assert_int_equal(pool_used(res), 126);
	pool_close(fwd);
	pool_close(res);
	/* reopened, the recency order comes from the file's times */
	res = open_pool(&n, 1);
	assert_int_equal(pool_assign(res, "after.test", 10, now + 1, 0, &slot), POOL_REUSED);
	pool_close(res);
}

/* Long-lived connections (a database pool, SSH) to the least recently answered names
 * never stop reuse: more of them than a new name tries still leave the free slots behind
 * them usable. */
static void
test_open_connections_do_not_block_reuse(void **state)
{
	struct pool_net n = net("10.9.0.0/24", NULL);		/* 254 slots */
	struct pool *res, *fwd;
	char name[32];
	uint32_t slot;

	(void)state;
	unlink(path);
	res = open_pool(&n, 1);
	fwd = open_pool(&n, 0);
	for (uint32_t i = 0; i < n.slots; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		assert_int_equal(assign(res, name, 1000 + i / 10, POOL_NEW), i);
		if (i < 100)
			pool_conn_open(fwd, i);		/* the 100 oldest stay connected */
	}
	for (int k = 0; k < 154; k++) {		/* every idle slot goes, none of the 100 */
		snprintf(name, sizeof(name), "late%d.test", k);
		assert_int_equal(pool_assign(res, name, strlen(name), 5000, 60, &slot),
		    POOL_REUSED);
		assert_true(slot >= 100);
	}
	assign(res, "more.test", 5000, POOL_FULL);
	pool_conn_close(fwd, 7);
	pool_conn_close(fwd, 7);	/* once too often: the count stays at zero */
	assert_int_equal(assign(res, "more.test", 5001, POOL_REUSED), 7);
	pool_close(fwd);
	pool_close(res);
}

/* A file damaged or written by anything else: what it says is checked, never trusted. */
static void
test_damaged_file(void **state)
{
	struct pool_net n = net("10.9.0.0/29", NULL);
	struct pool *res, *fwd;
	struct stat st;
	size_t slot_size;
	FILE *f;
	char err[512];

	(void)state;
	unlink(path);
	res = open_pool(&n, 1);
	assign(res, "a.test", 1000, POOL_NEW);
	assign(res, "b.test", 1000, POOL_NEW);
	pool_close(res);
	/* slot 1's name turned into bytes no name has; slot 0 left mid-write (odd seq). The
	 * layout: a 4096-byte header, then the slots (seq, open, answered, len, name) */
	assert_int_equal(stat(path, &st), 0);
	slot_size = ((size_t)st.st_size - 4096) / n.slots;
	f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(4096 + slot_size + 17), SEEK_SET), 0);
	fputc('/', f);
	assert_int_equal(fseek(f, 4096, SEEK_SET), 0);		/* slot 0, seq */
	fputc(1, f);
	fclose(f);
	fwd = open_pool(&n, 0);
	name_is(fwd, 0, NULL);		/* being written: no name */
	name_is(fwd, 1, NULL);		/* not a name */
	res = open_pool(&n, 1);		/* the writer repairs both */
	assert_int_equal(pool_used(res), 0);
	assert_int_equal(assign(res, "c.test", 1001, POOL_NEW), 0);
	name_is(fwd, 0, "c.test");
	pool_close(res);
	pool_close(fwd);
	/* a short file (another layout): reset */
	assert_int_equal(truncate(path, 100), 0);
	res = open_pool(&n, 1);
	assert_int_equal(pool_used(res), 0);
	pool_close(res);
	/* a file others may write: refused */
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(pool_open(path, &n, 1, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "with mode 666: it must be this daemon's own"));
	assert_int_equal(chmod(path, 0600), 0);
	/* a path that cannot be a pool file */
	assert_int_equal(pool_open(dir, &n, 1, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pool-state "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_parse),
		cmocka_unit_test(test_net_slots),
		cmocka_unit_test(test_assign_hold_reuse),
		cmocka_unit_test(test_survives_restarts),
		cmocka_unit_test(test_many_reuses),
		cmocka_unit_test(test_open_connections_do_not_block_reuse),
		cmocka_unit_test(test_damaged_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
