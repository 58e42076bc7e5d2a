/* test_recent.c: common/lookups.c (the resolver-to-forwarder datagram, with annotated
 * bytes) and forwarder/recent.c (who may send, the table's order, window and bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "lookups.h"
#include "recent.h"
#include "unit_lib.h"

#define SENDER 65534		/* the resolver's user in these tests */

/* api.example for 192.0.2.7 at 0x0102030405060708 ms. */
static const uint8_t good[] = {
	0x01,					/* version */
	0x0b,					/* name length: 11 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7,	/* ::ffff:192.0.2.7 */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,		/* ms, big-endian */
	'a', 'p', 'i', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
};

/* The encoder writes exactly the annotated bytes, and they decode back. */
static void
test_encode_decode(void **state)
{
	struct sockaddr_storage c = sa_of("192.0.2.7:5353"), c6 = sa_of("2001:db8::1");
	uint8_t buf[LOOKUPS_DGRAM_MAX];
	struct lookup_msg m;
	size_t n;

	(void)state;
	n = lookups_encode(SA(c), "api.example", 0x0102030405060708ULL, buf, sizeof(buf));
	assert_int_equal(n, sizeof(good));
	assert_memory_equal(buf, good, sizeof(good));
	assert_int_equal(lookups_decode(good, sizeof(good), &m), LOOKUPS_OK);
	assert_string_equal(m.name, "api.example");
	assert_true(m.ms == 0x0102030405060708ULL);
	assert_memory_equal(m.client, good + 2, 16);
	n = lookups_encode(SA(c6), "a.b", 7, buf, sizeof(buf));
	assert_int_equal(lookups_decode(buf, n, &m), LOOKUPS_OK);
	assert_int_equal(m.client[0], 0x20);
	/* no name, a name too long, a buffer too small */
	assert_int_equal(lookups_encode(SA(c), "", 1, buf, sizeof(buf)), 0);
	assert_int_equal(lookups_encode(SA(c), "api.example", 1, buf, LOOKUPS_HEAD + 10), 0);
}

/* Every field is checked: each bad datagram gets its own status. */
static void
test_decode_rejects(void **state)
{
	uint8_t b[sizeof(good) + 1];
	struct lookup_msg m;

	(void)state;
	assert_int_equal(lookups_decode(good, 0, &m), LOOKUPS_SHORT);
	assert_int_equal(lookups_decode(good, LOOKUPS_HEAD, &m), LOOKUPS_SHORT);
	memcpy(b, good, sizeof(good));
	b[0] = 2;
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_VERSION);
	/* the name's length disagrees with the datagram's, either way, or is 0 */
	assert_int_equal(lookups_decode(good, sizeof(good) - 1, &m), LOOKUPS_BAD_LENGTH);
	memcpy(b, good, sizeof(good));
	b[sizeof(good)] = 'x';
	assert_int_equal(lookups_decode(b, sizeof(good) + 1, &m), LOOKUPS_BAD_LENGTH);
	b[1] = 0;
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_LENGTH);
	/* the unspecified address */
	memcpy(b, good, sizeof(good));
	memset(b + 2, 0, 16);
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_ADDRESS);
	/* not a name in its normal form: upper case, a trailing dot, a bad byte, an IP */
	memcpy(b, good, sizeof(good));
	b[LOOKUPS_HEAD] = 'A';
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_NAME);
	b[LOOKUPS_HEAD] = ' ';
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_NAME);
	memcpy(b, good, sizeof(good));
	b[sizeof(good) - 1] = '.';
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_NAME);
	memcpy(b + LOOKUPS_HEAD, "10.0.0.100.", 11);
	b[sizeof(good) - 1] = '1';
	assert_int_equal(lookups_decode(b, sizeof(good), &m), LOOKUPS_BAD_NAME);
	assert_string_not_equal(lookups_status_str(LOOKUPS_BAD_NAME), "unknown");
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_un sun;
	socklen_t len;
	char longname[120];

	(void)state;
	assert_int_equal(lookups_sockaddr("@gh", &sun, &len), 0);
	assert_int_equal(sun.sun_path[0], 0);
	assert_memory_equal(sun.sun_path + 1, "gh", 2);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 3);
	assert_int_equal(lookups_sockaddr("@", &sun, &len), -1);
	assert_int_equal(lookups_sockaddr("/run/x", &sun, &len), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '@';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(lookups_sockaddr(longname, &sun, &len), -1);
	longname[108] = '\0';			/* '@' and 107 bytes: the most there is room for */
	assert_int_equal(lookups_sockaddr(longname, &sun, &len), 0);
}

/* Newest first; a name looked up again moves to the front instead of twice. */
static void
test_order_and_repeats(void **state)
{
	struct recent *r = *state;
	struct sockaddr_storage c = sa_of("10.0.0.2:1000"), other = sa_of("10.0.0.3");
	struct sockaddr_storage mapped = sa_of("::ffff:10.0.0.2");
	const char *out[LOOKUPS_RECENT_MAX];

	assert_int_equal(recent_list(r, SA(c), 0, out, LOOKUPS_RECENT_MAX), 0);
	recent_note(r, SA(c), "a.example", 100);
	recent_note(r, SA(c), "b.example", 200);
	recent_note(r, SA(c), "a.example", 300);
	recent_note(r, SA(other), "x.example", 300);
	assert_int_equal(recent_list(r, SA(c), 400, out, LOOKUPS_RECENT_MAX), 2);
	assert_string_equal(out[0], "a.example");
	assert_string_equal(out[1], "b.example");
	/* a port or the IPv4-mapped form is the same client; max bounds the list */
	assert_int_equal(recent_list(r, SA(mapped), 400, out, 1), 1);
	assert_string_equal(out[0], "a.example");
	assert_int_equal(recent_list(r, SA(other), 400, out, LOOKUPS_RECENT_MAX), 1);
}

/* At most LOOKUPS_RECENT_MAX names, the oldest dropped; none older than the window. */
static void
test_bounds_and_window(void **state)
{
	struct recent *r = *state;
	struct sockaddr_storage c = sa_of("2001:db8::9");
	const char *out[LOOKUPS_RECENT_MAX];
	char name[32];
	int i;

	for (i = 0; i < LOOKUPS_RECENT_MAX + 3; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		recent_note(r, SA(c), name, 1000 + (uint64_t)i * 1000);
	}
	/* n10 at 11000 ... n3 at 4000 */
	assert_int_equal(recent_list(r, SA(c), 11000, out, LOOKUPS_RECENT_MAX),
	    LOOKUPS_RECENT_MAX);
	assert_string_equal(out[0], "n10.example");
	assert_string_equal(out[LOOKUPS_RECENT_MAX - 1], "n3.example");
	/* 10 s after n3 it is gone; 1 ms before, it is not */
	assert_int_equal(recent_list(r, SA(c), 4000 + LOOKUPS_WINDOW_MS - 1, out,
	    LOOKUPS_RECENT_MAX), LOOKUPS_RECENT_MAX);
	assert_int_equal(recent_list(r, SA(c), 4000 + LOOKUPS_WINDOW_MS, out,
	    LOOKUPS_RECENT_MAX), LOOKUPS_RECENT_MAX - 1);
	assert_int_equal(recent_list(r, SA(c), 11000 + LOOKUPS_WINDOW_MS, out,
	    LOOKUPS_RECENT_MAX), 0);
}

/* The table is fixed: thousands of clients take no more room, and the newest stay. */
static void
test_many_clients(void **state)
{
	struct recent *r = *state;
	struct sockaddr_storage c;
	const char *out[LOOKUPS_RECENT_MAX];
	char text[32];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		c = sa_of(text);
		recent_note(r, SA(c), "a.example", (uint64_t)i);
	}
	assert_int_equal(recent_list(r, SA(c), 20000, out, LOOKUPS_RECENT_MAX), 1);
	c = sa_of("10.0.0.1");
	assert_int_equal(recent_list(r, SA(c), 20000, out, LOOKUPS_RECENT_MAX), 0);
}

/* Only the resolver's user (or root) is heard; bad datagrams and late ones are counted. */
static void
test_receive(void **state)
{
	const struct recent_stats *st = recent_stats(*state);
	uint64_t now = 0x0102030405060708ULL;		/* the datagram's own time */
	struct recent *r = *state;
	const char *out[LOOKUPS_RECENT_MAX];
	struct sockaddr_storage c = sa_of("192.0.2.7");

	recent_receive(r, good, sizeof(good), SENDER, now);	/* before set_sender: root only */
	assert_int_equal(st->refused, 1);
	recent_set_sender(r, SENDER);
	recent_receive(r, good, sizeof(good), 1000, now);
	recent_receive(r, good, sizeof(good), (uid_t)-1, now);	/* no credentials */
	assert_int_equal(st->refused, 3);
	assert_int_equal(recent_list(r, SA(c), now, out, LOOKUPS_RECENT_MAX), 0);
	recent_receive(r, good, sizeof(good) - 1, SENDER, now);
	assert_int_equal(st->malformed, 1);
	recent_receive(r, good, sizeof(good), SENDER, now + LOOKUPS_WINDOW_MS);
	assert_int_equal(st->stale, 1);
	recent_receive(r, good, sizeof(good), SENDER, now + 5);
	recent_receive(r, good, sizeof(good), 0, now + 6);
	assert_int_equal(st->recorded, 2);
	assert_int_equal(recent_list(r, SA(c), now + 6, out, LOOKUPS_RECENT_MAX), 1);
	assert_string_equal(out[0], "api.example");
	/* the window runs from the lookup's time, not from when it was read */
	assert_int_equal(recent_list(r, SA(c), now + LOOKUPS_WINDOW_MS, out,
	    LOOKUPS_RECENT_MAX), 0);
	/* a time ahead of the reader's counts as the reader's */
	recent_receive(r, good, sizeof(good), SENDER, now - 1000);
	assert_int_equal(recent_list(r, SA(c), now - 1000 + LOOKUPS_WINDOW_MS - 1, out,
	    LOOKUPS_RECENT_MAX), 1);
	assert_int_equal(recent_list(r, SA(c), now - 1000 + LOOKUPS_WINDOW_MS, out,
	    LOOKUPS_RECENT_MAX), 0);
}

/* Each table test gets an empty table. */
static int
table_new(void **state)
{
	*state = recent_new();
	return *state != NULL ? 0 : -1;
}

static int
table_free(void **state)
{
	recent_free(*state);
	return 0;
}

#define TABLE_TEST(f) cmocka_unit_test_setup_teardown(f, table_new, table_free)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_sockaddr),
		TABLE_TEST(test_order_and_repeats),
		TABLE_TEST(test_bounds_and_window),
		TABLE_TEST(test_many_clients),
		TABLE_TEST(test_receive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
