/* test_clients.c: common/clients.c: exact counts per address, and the fixed slots that
 * forget the least recently seen client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "clients.h"
#include "unit_lib.h"

/* ---- counts ---- */

/* One count per address, whatever the port; IPv4 and its mapped IPv6 form are one. */
static void
test_counts(void **state)
{
	struct client_table *t = clients_new();
	struct sockaddr_storage a = sa_of("192.0.2.1:1000"), a2 = sa_of("192.0.2.1:2000");
	struct sockaddr_storage mapped = sa_of("::ffff:192.0.2.1"), b = sa_of("192.0.2.2:1000");

	(void)state;
	assert_non_null(t);
	assert_int_equal(clients_count(t, SA(a)), 0);
	assert_int_equal(clients_inc(t, SA(a)), 1);
	assert_int_equal(clients_inc(t, SA(a2)), 2);
	assert_int_equal(clients_inc(t, SA(mapped)), 3);
	assert_int_equal(clients_count(t, SA(b)), 0);
	assert_int_equal(clients_inc(t, SA(b)), 1);
	clients_dec(t, SA(a));
	assert_int_equal(clients_count(t, SA(a)), 2);
	clients_dec(t, SA(a));
	clients_dec(t, SA(a));
	assert_int_equal(clients_count(t, SA(a)), 0);
	clients_dec(t, SA(a));			/* no entry: left alone */
	assert_int_equal(clients_count(t, SA(a)), 0);
	assert_int_equal(clients_count(t, SA(b)), 1);
	clients_free(t);
}

/* Over the limit, or not counted (0: out of memory), refuses. */
static void
test_over(void **state)
{
	(void)state;
	assert_int_equal(clients_over(1, 4), 0);
	assert_int_equal(clients_over(4, 4), 0);
	assert_int_equal(clients_over(5, 4), 1);
	assert_int_equal(clients_over(0, 4), 1);
	assert_int_equal(clients_over(0, 0), 1);
}

/* Many addresses: each count is its own (chains hold them apart). */
static void
test_many(void **state)
{
	struct client_table *t = clients_new();
	char ip[32];
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		struct sockaddr_storage c;

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 0xff, i & 0xff);
		c = sa_of(ip);
		assert_int_equal(clients_inc(t, SA(c)), 1);
		if (i % 2 == 0)
			assert_int_equal(clients_inc(t, SA(c)), 2);
	}
	for (i = 0; i < 20000; i++) {
		struct sockaddr_storage c;

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 0xff, i & 0xff);
		c = sa_of(ip);
		assert_int_equal(clients_count(t, SA(c)), i % 2 == 0 ? 2 : 1);
	}
	clients_free(t);
}

/* ---- slots ---- */

struct test_slot {
	struct client_slot c;
	unsigned n;		/* the caller's own state */
};

/* Find or claim sa's slot at time now; *fresh says it was claimed. */
static struct test_slot *
slot(struct client_slots *t, struct sockaddr_storage sa, uint64_t now, int *fresh)
{
	struct client_slot *c;

	*fresh = !clients_slot_find(t, SA(sa), &c);
	if (*fresh)
		clients_slot_claim(t, c, SA(sa));
	c->last_ms = now;
	return (struct test_slot *)c;
}

/* A client keeps its slot and the state in it; a claimed slot starts zeroed. */
static void
test_slots_keep(void **state)
{
	struct client_slots t;
	struct sockaddr_storage a = sa_of("192.0.2.1:1"), a2 = sa_of("192.0.2.1:2");
	struct test_slot *s;
	int fresh;

	(void)state;
	assert_int_equal(clients_slots_init(&t, 64, sizeof(struct test_slot), 4), 0);
	s = slot(&t, a, 1, &fresh);
	assert_int_equal(fresh, 1);
	assert_int_equal(s->n, 0);
	s->n = 7;
	s = slot(&t, a2, 2, &fresh);		/* same address, other port */
	assert_int_equal(fresh, 0);
	assert_int_equal(s->n, 7);
	assert_int_equal(s->c.used, 1);
	clients_slots_free(&t);
}

/* Four slots, four probes: every client may sit in any of them, so a fifth takes over
 * the least recently seen, whose slot comes back still holding it (to be reported). */
static void
test_slots_evict(void **state)
{
	struct client_slots t;
	struct sockaddr_storage c[5];
	struct client_slot *victim;
	struct test_slot *s;
	char ip[32];
	int i, fresh;

	(void)state;
	assert_int_equal(clients_slots_init(&t, 4, sizeof(struct test_slot), 4), 0);
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		c[i] = sa_of(ip);
	}
	for (i = 0; i < 4; i++) {
		s = slot(&t, c[i], 100 + (uint64_t)i, &fresh);
		assert_int_equal(fresh, 1);
		s->n = (unsigned)i + 1;
	}
	slot(&t, c[0], 200, &fresh);		/* c[0] seen again: c[1] is now the oldest */
	assert_int_equal(fresh, 0);
	assert_int_equal(clients_slot_find(&t, SA(c[4]), &victim), 0);
	assert_int_equal(victim->used, 1);
	assert_int_equal(((struct test_slot *)victim)->n, 2);	/* c[1]'s */
	clients_slot_claim(&t, victim, SA(c[4]));
	assert_int_equal(((struct test_slot *)victim)->n, 0);
	assert_int_equal(clients_slot_find(&t, SA(c[1]), &victim), 0);	/* forgotten */
	for (i = 0; i < 5; i++)
		if (i != 1)
			assert_int_equal(clients_slot_find(&t, SA(c[i]), &victim), 1);
	clients_slots_free(&t);
}

/* An unused slot is taken before any client is forgotten. */
static void
test_slots_unused_first(void **state)
{
	struct client_slots t;
	struct sockaddr_storage a = sa_of("203.0.113.1:1"), b = sa_of("203.0.113.2:1");
	struct client_slot *victim;
	int fresh, i;

	(void)state;
	assert_int_equal(clients_slots_init(&t, 4, sizeof(struct test_slot), 4), 0);
	slot(&t, a, 5, &fresh);
	assert_int_equal(clients_slot_find(&t, SA(b), &victim), 0);
	assert_int_equal(victim->used, 0);
	for (i = 0; i < 4; i++)
		if (clients_slot_at(&t, (size_t)i)->used)
			assert_ptr_not_equal(clients_slot_at(&t, (size_t)i), victim);
	clients_slots_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_over),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_slots_keep),
		cmocka_unit_test(test_slots_evict),
		cmocka_unit_test(test_slots_unused_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
