/* test_resolvconf.c: common/resolvconf.c: the servers each resolv.conf names, written out,
 * and the same files read by c-ares (which the forwarder resolves with) for comparison:
 * the pre-flight of both daemons must find the servers the forwarder will ask. */
#include <ares.h>
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

#include "resolvconf.h"

#define MAX 64

static char tmpdir[64], path[128];

/* "1.2.3.4:53" / "[::1]:53" for each of the n servers, separated by spaces. */
static void
format_servers(const struct sockaddr_storage *ss, size_t n, char *out, size_t outlen)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n && used < outlen; i++) {
		char a[INET6_ADDRSTRLEN];
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss[i];
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss[i];

		if (ss[i].ss_family == AF_INET) {
			inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
			used += (size_t)snprintf(out + used, outlen - used, "%s%s:%u", i ? " " : "",
			    a, ntohs(sin->sin_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
			used += (size_t)snprintf(out + used, outlen - used, "%s[%s]:%u", i ? " " : "",
			    a, ntohs(sin6->sin6_port));
		}
	}
}

/* The servers c-ares reads from path, initialised as forwarder/dns.c does, formatted. */
static void
cares_servers(const char *file, char *out, size_t outlen)
{
	struct ares_addr_port_node *list = NULL, *s;
	struct sockaddr_storage ss[MAX];
	struct ares_options o;
	char lookups[] = "b";
	ares_channel ch;
	size_t n = 0;

	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.lookups = lookups;
	o.resolvconf_path = (char *)(uintptr_t)file;
	assert_int_equal(ares_init_options(&ch, &o, ARES_OPT_FLAGS | ARES_OPT_LOOKUPS |
	    ARES_OPT_RESOLVCONF), ARES_SUCCESS);
	assert_int_equal(ares_get_servers_ports(ch, &list), ARES_SUCCESS);
	for (s = list; s != NULL && n < MAX; s = s->next, n++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss[n];
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss[n];

		memset(&ss[n], 0, sizeof(ss[n]));
		assert_true(s->family == AF_INET || s->family == AF_INET6);
		if (s->family == AF_INET) {
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, &s->addr.addr4, 4);
			sin->sin_port = htons(s->udp_port ? (uint16_t)s->udp_port : 53);
		} else {
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, &s->addr.addr6, 16);
			sin6->sin6_port = htons(s->udp_port ? (uint16_t)s->udp_port : 53);
		}
	}
	ares_free_data(list);
	ares_destroy(ch);
	format_servers(ss, n, out, outlen);
}

/* text as the resolv.conf: resolvconf_read finds want, and so does c-ares. */
static void
assert_servers(const char *text, const char *want)
{
	struct sockaddr_storage ss[MAX];
	char got[4096], cares[4096], err[256];
	FILE *f = fopen(path, "w");
	size_t n;

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(resolvconf_read(path, ss, MAX, &n, err, sizeof(err)), 0);
	format_servers(ss, n, got, sizeof(got));
	cares_servers(path, cares, sizeof(cares));
	if (strcmp(got, want) != 0 || strcmp(cares, want) != 0)
		fail_msg("resolv.conf:\n%s\nwant:   %s\ngot:    %s\nc-ares: %s", text, want, got,
		    cares);
}

static void
test_nameserver_lines(void **state)
{
	(void)state;
	assert_servers("nameserver 198.51.100.53\n", "198.51.100.53:53");
	assert_servers("# gateway\nsearch corp.test\nnameserver 198.51.100.53\n"
	    "nameserver 127.0.0.1\n", "198.51.100.53:53 127.0.0.1:53");
	assert_servers("nameserver 2001:db8::1\nnameserver ::ffff:192.0.2.1\n",
	    "[2001:db8::1]:53 [::ffff:192.0.2.1]:53");
	/* no final newline; CRLF; tabs and leading blanks */
	assert_servers("nameserver 192.0.2.1", "192.0.2.1:53");
	assert_servers("nameserver 192.0.2.1\r\nnameserver 192.0.2.2\r\n",
	    "192.0.2.1:53 192.0.2.2:53");
	assert_servers("  \tnameserver\t192.0.2.1  \n", "192.0.2.1:53");
	/* several on one line, separated by blanks or commas */
	assert_servers("nameserver 192.0.2.1, 192.0.2.2 ,192.0.2.3\t2001:db8::3\n",
	    "192.0.2.1:53 192.0.2.2:53 192.0.2.3:53 [2001:db8::3]:53");
	/* the other directives name no server */
	assert_servers("domain corp.test\noptions ndots:2 timeout:1 rotate\n"
	    "sortlist 10.0.0.0/8\nlookup file bind\nnameserver 192.0.2.9\n", "192.0.2.9:53");
	/* 40 servers: all of them, in order */
	{
		char text[2048], want[2048];
		size_t tl = 0, wl = 0;
		int i;

		for (i = 1; i <= 40; i++) {
			tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "nameserver 192.0.2.%d\n",
			    i);
			wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s192.0.2.%d:53",
			    i > 1 ? " " : "", i);
		}
		assert_servers(text, want);
	}
}

static void
test_comments_and_junk(void **state)
{
	(void)state;
	/* a comment starts at '#' or ';', also after the value */
	assert_servers("nameserver 192.0.2.1 # 192.0.2.9\n#nameserver 192.0.2.8\n",
	    "192.0.2.1:53");
	assert_servers("nameserver 192.0.2.1;192.0.2.2\n; nameserver 192.0.2.8\n",
	    "192.0.2.1:53");
	/* what is not an address is skipped, the rest of the line still counts */
	assert_servers("nameserver fe80::1%eth0 192.0.2.7\n", "192.0.2.7:53");
	assert_servers("nameserver [192.0.2.1]:5353\nnameserver 192.0.2.300\n"
	    "nameserver 192.0.2.4\n", "192.0.2.4:53");
	assert_servers("nameserver dns.example\nnameserver 192.0.2.5\n", "192.0.2.5:53");
}

/* No server named: c-ares asks 127.0.0.1, and so does the forwarder. */
static void
test_no_server(void **state)
{
	char err[256];
	struct sockaddr_storage ss[MAX];
	char got[256];
	size_t n;

	(void)state;
	assert_servers("", "127.0.0.1:53");
	assert_servers("# empty\n", "127.0.0.1:53");
	assert_servers("nameserver\nnameserver   \n", "127.0.0.1:53");
	assert_servers("nameservers 192.0.2.1\nNAMESERVER 192.0.2.2\nnameserver:192.0.2.3\n",
	    "127.0.0.1:53");
	/* a missing file too */
	assert_int_equal(resolvconf_read("/nonexistent/resolv.conf", ss, MAX, &n, err,
	    sizeof(err)), 0);
	format_servers(ss, n, got, sizeof(got));
	assert_string_equal(got, "127.0.0.1:53");
}

/* BIND's network notations, which c-ares 1.18 also takes (ares_inet_net_pton): a short
 * "127.1", hex "0x7f000001", a "/CIDR" suffix. It fills only the bytes written ("127.1":
 * two; the rest is what its stack held), so no reader can agree with it on these; this one
 * skips them, as inet_pton does. */
static void
test_network_notations(void **state)
{
	struct sockaddr_storage ss[MAX];
	static const char text[] = "nameserver 127.1 0x7f000001 127.0.0.1/8 192.0.2\n"
	    "nameserver 2001:db8::1/64\n";
	char got[256];
	size_t n;

	(void)state;
	resolvconf_parse(text, sizeof(text) - 1, ss, MAX, &n);
	format_servers(ss, n, got, sizeof(got));
	assert_string_equal(got, "127.0.0.1:53");
}

static void
test_max(void **state)
{
	struct sockaddr_storage ss[2];
	static const char text[] = "nameserver 192.0.2.1 192.0.2.2 192.0.2.3\n";
	char got[256];
	size_t n;

	(void)state;
	resolvconf_parse(text, sizeof(text) - 1, ss, 2, &n);
	format_servers(ss, n, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:53 192.0.2.2:53");
	/* the length given is the end, wherever a NUL is */
	resolvconf_parse(text, strlen("nameserver 192.0.2.1"), ss, 2, &n);
	format_servers(ss, n, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:53");
}

static void
test_unreadable(void **state)
{
	struct sockaddr_storage ss[MAX];
	char err[256], want[256];
	size_t n;

	(void)state;
	assert_int_equal(resolvconf_read(tmpdir, ss, MAX, &n, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "reading %s: Is a directory", tmpdir);
	assert_string_equal(err, want);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/gh-test-resolvconf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/resolv.conf", tmpdir);
	return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	ares_library_cleanup();
	unlink(path);
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nameserver_lines),
		cmocka_unit_test(test_comments_and_junk),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_network_notations),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
