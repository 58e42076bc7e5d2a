/* test_burst.c: the blocked-burst detector: distinct names per client per window. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "burst.h"

static struct sockaddr_storage
client(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	return ss;
}

static int
note(struct burst *b, const struct sockaddr_storage *c, const char *name, uint64_t now)
{
	return burst_note(b, (const struct sockaddr *)c, name, strlen(name), now);
}

/* The 20th distinct name within the window flags; the 19th does not. */
static void
test_threshold(void **state)
{
	struct burst *b = burst_new();
	struct sockaddr_storage c = client("10.0.0.5");
	char name[64];
	int i;

	(void)state;
	for (i = 0; i < BURST_NAMES - 1; i++) {
		snprintf(name, sizeof(name), "x%d.evil.example", i);
		assert_int_equal(note(b, &c, name, 1000 + (uint64_t)i), 0);
	}
	assert_int_equal(note(b, &c, "last.evil.example", 2000), 1);
	assert_int_equal(note(b, &c, "more.evil.example", 2001), 1);
	burst_free(b);
}

/* Repeats of one name (any case) are one name: a retrying client is not a tunnel. */
static void
test_repeats(void **state)
{
	struct burst *b = burst_new();
	struct sockaddr_storage c = client("10.0.0.6");
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(note(b, &c, i % 2 ? "Evil.Example" : "evil.example", (uint64_t)i),
		    0);
	burst_free(b);
}

/* Clients are counted apart, and the count starts over after the window. */
static void
test_clients_and_window(void **state)
{
	struct burst *b = burst_new();
	struct sockaddr_storage c1 = client("10.0.0.7"), c2 = client("10.0.0.8");
	char name[64];
	int i;

	(void)state;
	for (i = 0; i < BURST_NAMES; i++) {
		snprintf(name, sizeof(name), "a%d.example", i);
		note(b, &c1, name, 0);
		if (i < BURST_NAMES - 1)
			assert_int_equal(note(b, &c2, name, 0), 0);
	}
	assert_int_equal(note(b, &c1, "z.example", 1), 1);
	assert_int_equal(note(b, &c2, "y.example", 1), 1);	/* c2's 20th */
	assert_int_equal(note(b, &c1, "new.example", BURST_WINDOW_MS + 1), 0);
	burst_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_repeats),
		cmocka_unit_test(test_clients_and_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
