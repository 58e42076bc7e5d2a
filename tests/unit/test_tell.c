/* test_tell.c: resolver/tell.c against a socket of the test's own: the datagram it sends,
 * a repeat within a second not sent again, and every failure a drop that never blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lookups.h"
#include "tell.h"
#include "unit_lib.h"

/* A name of this process's own, bound by the test (or not). */
static void
name_of(char *buf, size_t len)
{
	snprintf(buf, len, "@gh-test-tell-%ld", (long)getpid());
}

static int
bind_name(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(lookups_sockaddr(name, &sun, &len), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* The next datagram on fd, decoded. */
static void
receive(int fd, struct lookup_msg *m)
{
	uint8_t buf[LOOKUPS_DGRAM_MAX + 1];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	assert_true(n > 0);
	assert_int_equal(lookups_decode(buf, (size_t)n, m), LOOKUPS_OK);
}

static void
test_sends_the_normal_form_once_a_second(void **state)
{
	struct sockaddr_storage c = sa_of("192.0.2.7:5353"), other = sa_of("2001:db8::7");
	struct lookup_msg m;
	struct tell *t;
	char name[64], err[256];
	int fd;

	(void)state;
	assert_int_equal(tell_open("off", &t, err, sizeof(err)), 0);	/* off: nothing */
	assert_null(t);
	tell_free(NULL);
	name_of(name, sizeof(name));
	fd = bind_name(name);
	assert_int_equal(tell_open(name, &t, err, sizeof(err)), 0);
	assert_non_null(t);
	assert_int_equal(tell_lookup(t, SA(c), "API.Example.", 1000), TELL_SENT);
	receive(fd, &m);
	assert_string_equal(m.name, "api.example");
	assert_true(m.ms == 1000);
	assert_int_equal(m.client[15], 7);
	/* the same client and name (any case) under a second later: not again */
	assert_int_equal(tell_lookup(t, SA(c), "api.example", 1999), TELL_REPEAT);
	assert_int_equal(tell_lookup(t, SA(other), "api.example", 1999), TELL_SENT);
	assert_int_equal(tell_lookup(t, SA(c), "b.example", 1999), TELL_SENT);
	assert_int_equal(tell_lookup(t, SA(c), "api.example", 2000), TELL_SENT);
	receive(fd, &m);
	assert_int_equal(m.client[0], 0x20);
	receive(fd, &m);
	assert_string_equal(m.name, "b.example");
	receive(fd, &m);
	assert_true(m.ms == 2000);
	/* not a host name: dropped */
	assert_int_equal(tell_lookup(t, SA(c), "a\\032b.example", 3000), TELL_DROPPED);
	close(fd);
	tell_free(t);
}

/* Nobody bound, or a queue nobody reads: dropped at once, never blocking. */
static void
test_drops_without_waiting(void **state)
{
	struct sockaddr_storage c;
	char name[64], err[256], text[32];
	struct tell *t;
	int fd, i, dropped = 0;

	(void)state;
	name_of(name, sizeof(name));
	assert_int_equal(tell_open(name, &t, err, sizeof(err)), 0);
	c = sa_of("192.0.2.1");
	assert_int_equal(tell_lookup(t, SA(c), "a.example", 1), TELL_DROPPED);
	assert_int_equal(tell_lookup(t, SA(c), "a.example", 2), TELL_REPEAT);	/* tried */
	fd = bind_name(name);
	for (i = 0; i < 1000 && !dropped; i++) {
		snprintf(text, sizeof(text), "10.0.%d.%d", i / 256, i % 256);
		c = sa_of(text);
		dropped = tell_lookup(t, SA(c), "a.example", 1) == TELL_DROPPED;
	}
	assert_true(dropped);		/* net.unix.max_dgram_qlen: 10 by default */
	close(fd);
	tell_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sends_the_normal_form_once_a_second),
		cmocka_unit_test(test_drops_without_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
