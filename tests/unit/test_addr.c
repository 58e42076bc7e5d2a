/* test_addr.c: common/addr.c: parse, format, compare, key, and the special-purpose ranges. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "util.h"

/* A sockaddr from an address literal (no port). */
static struct sockaddr_storage
sa_of(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s, &s4->sin_addr), 1);
	}
	return ss;
}

/* ---- addr_parse ---- */

struct pcase {
	const char *in;
	int default_port;
	int ok;
	int family;		/* when ok */
	const char *addr;	/* when ok: addr_format without port */
	unsigned port;		/* when ok */
	const char *err;	/* when not ok: the exact message */
	const char *shows;
};

static void
test_parse(void **state)
{
	static const struct pcase cases[] = {
		{ "1.2.3.4", 53, 1, AF_INET, "1.2.3.4", 53, NULL, "IPv4, default port used" },
		{ "1.2.3.4:5353", 53, 1, AF_INET, "1.2.3.4", 5353, NULL, "IPv4 with port" },
		{ "1.2.3.4:53", -1, 1, AF_INET, "1.2.3.4", 53, NULL, "port given where required" },
		{ "1.2.3.4", -2, 1, AF_INET, "1.2.3.4", 0, NULL, "no port where refused: port 0" },
		{ "1.2.3.4", 0, 1, AF_INET, "1.2.3.4", 0, NULL, "default 0 leaves port 0" },
		{ "0.0.0.0:1", -1, 1, AF_INET, "0.0.0.0", 1, NULL, "port 1 is the lowest" },
		{ "1.2.3.4:65535", -1, 1, AF_INET, "1.2.3.4", 65535, NULL, "65535 the highest" },
		{ "::1", 53, 1, AF_INET6, "::1", 53, NULL, "bare IPv6: no port, default used" },
		{ "[::1]", 53, 1, AF_INET6, "::1", 53, NULL, "bracketed IPv6 without port" },
		{ "[::1]:5353", 53, 1, AF_INET6, "::1", 5353, NULL, "bracketed IPv6 with port" },
		{ "[::1]:53", -1, 1, AF_INET6, "::1", 53, NULL, "IPv6 with a required port" },
		{ "::", -2, 1, AF_INET6, "::", 0, NULL, "IPv6 any, port refused" },
		{ "2001:db8::53", 0, 1, AF_INET6, "2001:db8::53", 0, NULL, "bare IPv6 address" },
		{ "1.2.3.4:0", 53, 0, 0, NULL, 0, "'0': port must be 1-65535", "port 0" },
		{ "1.2.3.4:65536", 53, 0, 0, NULL, 0, "'65536': port must be 1-65535", "port 65536" },
		{ "1.2.3.4:x", 53, 0, 0, NULL, 0, "'x': port must be 1-65535", "port 'x'" },
		{ "1.2.3.4:", 53, 0, 0, NULL, 0, "'': port must be 1-65535", "empty port" },
		{ "1.2.3.4:-1", 53, 0, 0, NULL, 0, "'-1': port must be 1-65535", "negative port" },
		{ "[::1]:0", 53, 0, 0, NULL, 0, "'0': port must be 1-65535", "IPv6 port 0" },
		{ "[::1]:65536", 53, 0, 0, NULL, 0, "'65536': port must be 1-65535", "IPv6 port 65536" },
		{ "1.2.3.4", -1, 0, 0, NULL, 0, "'1.2.3.4': a port is required (ADDR:PORT)",
		  "required port missing" },
		{ "[::1]", -1, 0, 0, NULL, 0, "'::1': a port is required (ADDR:PORT)",
		  "required port missing, IPv6" },
		{ "::1", -1, 0, 0, NULL, 0, "'::1': a port is required (ADDR:PORT)",
		  "bare IPv6 never carries a port" },
		{ "1.2.3.4:53", -2, 0, 0, NULL, 0, "'1.2.3.4': no port expected here",
		  "port where refused" },
		{ "[::1]:53", -2, 0, 0, NULL, 0, "'::1': no port expected here",
		  "IPv6 port where refused" },
		{ "[::1", 53, 0, 0, NULL, 0, "'[::1': missing ']'", "missing ']'" },
		{ "[::1]x", 53, 0, 0, NULL, 0, "'[::1]x': junk after ']'", "junk after ']'" },
		{ "example.com", 53, 0, 0, NULL, 0, "'example.com': not an IP address", "a name" },
		{ "example.com:53", 53, 0, 0, NULL, 0, "'example.com': not an IP address",
		  "a name with a port" },
		{ "", 53, 0, 0, NULL, 0, "'': not an IP address", "empty" },
		{ ":53", 53, 0, 0, NULL, 0, "':53': not an IP address", "empty host, port given" },
		{ "1.2.3", 53, 0, 0, NULL, 0, "'1.2.3': not an IP address", "short IPv4 form" },
		{ "1.2.3.256", 53, 0, 0, NULL, 0, "'1.2.3.256': not an IP address", "octet 256" },
		{ "fe80::1%eth0", 53, 0, 0, NULL, 0, "'fe80::1%eth0': not an IP address",
		  "zone index refused" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		struct sockaddr_storage ss;
		char err[256] = "", buf[ADDR_STRLEN];
		int rc;

		memset(&ss, 0xaa, sizeof(ss));
		rc = addr_parse(c->in, c->default_port, &ss, err, sizeof(err));
		if (c->ok) {
			if (rc != 0) {
				print_error("case %zu (%s): '%s' failed: %s\n", i, c->shows, c->in, err);
				bad++;
				continue;
			}
			addr_format((struct sockaddr *)&ss, 0, buf, sizeof(buf));
			if (ss.ss_family != c->family || strcmp(buf, c->addr) != 0 ||
			    addr_port((struct sockaddr *)&ss) != c->port) {
				print_error("case %zu (%s): got family %d '%s' port %u\n", i, c->shows,
				    ss.ss_family, buf, addr_port((struct sockaddr *)&ss));
				bad++;
			}
		} else if (rc != -1 || strcmp(err, c->err) != 0) {
			print_error("case %zu (%s): '%s' rc %d err \"%s\", want \"%s\"\n", i, c->shows,
			    c->in, rc, err, c->err);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The bracket path reports the host it looked at, not the rest of the string. */
static void
test_parse_empty_brackets(void **state)
{
	struct sockaddr_storage ss;
	char err[256] = "";

	(void)state;
	assert_int_equal(addr_parse("[]:53", 53, &ss, err, sizeof(err)), -1);
	/* the message quotes the input ("[]:53"), as every other addr_parse message does */
	assert_string_equal(err, "'[]:53': not an IP address");
}

/* ---- addr_format ---- */

static void
test_format(void **state)
{
	static const struct {
		const char *addr;
		unsigned port;
		const char *noport, *withport;
		const char *shows;
	} cases[] = {
		{ "1.2.3.4", 53, "1.2.3.4", "1.2.3.4:53", "IPv4" },
		{ "0.0.0.0", 0, "0.0.0.0", "0.0.0.0:0", "IPv4 any, port 0" },
		{ "255.255.255.255", 65535, "255.255.255.255", "255.255.255.255:65535", "longest IPv4" },
		{ "::1", 53, "::1", "[::1]:53", "IPv6 in brackets with a port" },
		{ "2001:db8::1", 443, "2001:db8::1", "[2001:db8::1]:443", "IPv6 compressed" },
		{ "::ffff:1.2.3.4", 80, "1.2.3.4", "1.2.3.4:80", "v4-mapped written as IPv4" },
		{ "::ffff:192.168.0.1", 0, "192.168.0.1", "192.168.0.1:0", "v4-mapped, port 0" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", "longest IPv6 fits ADDR_STRLEN" },
		{ "::ffff:0:1.2.3.4", 1, "::ffff:0:102:304", "[::ffff:0:102:304]:1",
		  "v4-translated is not v4-mapped" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].addr);
		char a[ADDR_STRLEN], b[ADDR_STRLEN];

		addr_set_port((struct sockaddr *)&ss, (uint16_t)cases[i].port);
		assert_ptr_equal(addr_format((struct sockaddr *)&ss, 0, a, sizeof(a)), a);
		assert_ptr_equal(addr_format((struct sockaddr *)&ss, 1, b, sizeof(b)), b);
		if (strcmp(a, cases[i].noport) != 0 || strcmp(b, cases[i].withport) != 0) {
			print_error("case %zu (%s): '%s' / '%s'\n", i, cases[i].shows, a, b);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Unknown family formats as "?"; a small buffer truncates and stays terminated. */
static void
test_format_edges(void **state)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN], small[5];

	(void)state;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_string_equal(addr_format((struct sockaddr *)&ss, 1, buf, sizeof(buf)), "?");
	assert_int_equal(addr_port((struct sockaddr *)&ss), 0);
	ss = sa_of("10.20.30.40");
	addr_set_port((struct sockaddr *)&ss, 8080);
	addr_format((struct sockaddr *)&ss, 1, small, sizeof(small));
	assert_string_equal(small, "10.2");
	addr_format((struct sockaddr *)&ss, 0, small, sizeof(small));
	assert_string_equal(small, "10.2");
}

/* A parsed address formats back to its canonical text (both ways). */
static void
test_parse_format_roundtrip(void **state)
{
	static const char *const in[] = {
		"1.2.3.4:53", "[::1]:53", "[2001:db8::1]:65535", "255.255.255.255:1",
		"[fe80::1]:5353", "[::ffff:1.2.3.4]:53",
	};
	static const char *const want[] = {
		"1.2.3.4:53", "[::1]:53", "[2001:db8::1]:65535", "255.255.255.255:1",
		"[fe80::1]:5353", "1.2.3.4:53",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct sockaddr_storage ss;
		char err[128], buf[ADDR_STRLEN];

		assert_int_equal(addr_parse(in[i], -1, &ss, err, sizeof(err)), 0);
		assert_string_equal(addr_format((struct sockaddr *)&ss, 1, buf, sizeof(buf)), want[i]);
		assert_int_equal(addr_len((struct sockaddr *)&ss), ss.ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	}
}

/* got (NULL or the name of a class of address) is what a table row wants: the name, or
 * "" for NULL. */
static int
class_is(const char *got, const char *want)
{
	return want[0] == '\0' ? got == NULL : got != NULL && strcmp(got, want) == 0;
}

/* ---- addr_special ---- */

static void
test_special(void **state)
{
	static const struct {
		const char *addr;
		const char *want;	/* "": an ordinary global address (NULL) */
		const char *shows;
	} cases[] = {
		/* IPv4 */
		{ "0.0.0.0", "this-network", "unspecified" },
		{ "0.255.255.255", "this-network", "top of 0/8" },
		{ "1.0.0.0", "", "just past 0/8" },
		{ "9.255.255.255", "", "just below 10/8" },
		{ "10.0.0.0", "private", "10/8 bottom" },
		{ "10.255.255.255", "private", "10/8 top" },
		{ "11.0.0.0", "", "just past 10/8" },
		{ "100.63.255.255", "", "just below 100.64/10" },
		{ "100.64.0.0", "shared", "100.64/10 bottom (CGNAT)" },
		{ "100.127.255.255", "shared", "100.64/10 top" },
		{ "100.128.0.0", "", "just past 100.64/10" },
		{ "127.0.0.1", "loopback", "loopback" },
		{ "127.255.255.255", "loopback", "127/8 top" },
		{ "169.254.0.0", "link-local", "169.254/16 bottom" },
		{ "169.254.169.254", "link-local", "cloud metadata address" },
		{ "169.255.0.0", "", "just past 169.254/16" },
		{ "172.15.255.255", "", "just below 172.16/12" },
		{ "172.16.0.0", "private", "172.16/12 bottom" },
		{ "172.31.255.255", "private", "172.16/12 top" },
		{ "172.32.0.0", "", "just past 172.16/12" },
		{ "192.0.0.0", "ietf-protocol", "192.0.0/24 bottom" },
		{ "192.0.0.255", "ietf-protocol", "192.0.0/24 top" },
		{ "192.0.1.0", "", "between 192.0.0/24 and TEST-NET-1" },
		{ "192.0.2.1", "documentation", "TEST-NET-1" },
		{ "192.88.99.1", "6to4-relay", "6to4 relay anycast" },
		{ "192.167.255.255", "", "just below 192.168/16" },
		{ "192.168.0.0", "private", "192.168/16 bottom" },
		{ "192.168.255.255", "private", "192.168/16 top" },
		{ "192.169.0.0", "", "just past 192.168/16" },
		{ "198.17.255.255", "", "just below 198.18/15" },
		{ "198.18.0.0", "benchmarking", "198.18/15 bottom" },
		{ "198.19.255.255", "benchmarking", "198.18/15 top" },
		{ "198.20.0.0", "", "just past 198.18/15" },
		{ "198.51.100.7", "documentation", "TEST-NET-2" },
		{ "203.0.113.9", "documentation", "TEST-NET-3" },
		{ "203.0.114.0", "", "just past TEST-NET-3" },
		{ "223.255.255.255", "", "just below multicast" },
		{ "224.0.0.1", "multicast", "multicast bottom" },
		{ "239.255.255.255", "multicast", "multicast top" },
		{ "240.0.0.0", "reserved", "240/4 bottom" },
		{ "255.255.255.254", "reserved", "240/4" },
		{ "255.255.255.255", "reserved", "limited broadcast" },
		{ "8.8.8.8", "", "Google DNS" },
		{ "1.1.1.1", "", "Cloudflare DNS" },
		{ "142.250.102.108", "", "an smtp.gmail.com address" },
		/* IPv6 */
		{ "::", "unspecified", "IPv6 unspecified" },
		{ "::1", "loopback", "IPv6 loopback" },
		{ "::2", "v4compat", "::/96 (deprecated v4-compatible)" },
		{ "::ffff:1.2.3.4", "v4mapped", "v4-mapped, global IPv4 inside" },
		{ "::ffff:8.8.8.8", "v4mapped", "v4-mapped never passes" },
		{ "::ffff:0:1.2.3.4", "v4translated", "::ffff:0:0/96" },
		{ "64:ff9b::1.2.3.4", "nat64", "well-known NAT64 prefix" },
		{ "64:ff9b:1::1", "nat64", "local-use NAT64 64:ff9b:1::/48" },
		{ "64:ff9b:2::1", "not-global-unicast", "outside 64:ff9b:1::/48" },
		{ "100::1", "discard", "discard-only 100::/64" },
		{ "100:0:0:1::1", "not-global-unicast", "past 100::/64, still outside 2000::/3" },
		{ "2001::1", "teredo", "Teredo 2001::/32" },
		{ "2001:0:ffff::1", "teredo", "Teredo top" },
		{ "2001:db8::1", "documentation", "2001:db8::/32" },
		{ "2001:1::1", "ietf-protocol", "inside 2001::/23" },
		{ "2001:1ff::1", "ietf-protocol", "top of 2001::/23" },
		{ "2001:200::1", "", "just past 2001::/23 (WIDE)" },
		{ "2002::1", "6to4", "6to4" },
		{ "2002:ffff::1", "6to4", "6to4 top" },
		{ "2003::1", "", "just past 2002::/16" },
		{ "3fff::1", "documentation", "3fff::/20 (RFC 9637)" },
		{ "3fff:fff::1", "documentation", "3fff::/20 top" },
		{ "3fff:1000::1", "", "just past 3fff::/20" },
		{ "3ffe::1", "", "inside 2000::/3, not special" },
		{ "4000::1", "not-global-unicast", "outside 2000::/3" },
		{ "1fff::1", "not-global-unicast", "below 2000::/3" },
		{ "5f00::1", "srv6", "SRv6 SIDs" },
		{ "fc00::1", "ula", "ULA fc00::/7 bottom" },
		{ "fd12::1", "ula", "ULA fd00::/8" },
		{ "fe80::1", "link-local", "link-local" },
		{ "febf::1", "link-local", "link-local top" },
		{ "fec0::1", "site-local", "site-local" },
		{ "ff02::1", "multicast", "all-nodes multicast" },
		{ "2606:4700::1111", "", "Cloudflare IPv6" },
		{ "2a00:1450::1", "", "Google IPv6" },
		{ "2001:4860:4860::8888", "", "Google DNS IPv6" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].addr);
		const char *got = addr_special((struct sockaddr *)&ss);

		if (!class_is(got, cases[i].want)) {
			print_error("case %zu (%s): %s -> %s, want %s\n", i, cases[i].shows,
			    cases[i].addr, got ? got : "NULL", cases[i].want[0] ? cases[i].want : "NULL");
			bad++;
		}
		/* the per-family helpers agree with addr_special */
		if (ss.ss_family == AF_INET) {
			const char *g4 = addr_special4(&((struct sockaddr_in *)&ss)->sin_addr);

			if (g4 != got) {
				print_error("case %zu: addr_special4 disagrees\n", i);
				bad++;
			}
		} else if (addr_special6(&((struct sockaddr_in6 *)&ss)->sin6_addr) != got) {
			print_error("case %zu: addr_special6 disagrees\n", i);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Never NULL for a family it does not know: refusing is the safe answer. */
static void
test_special_unknown_family(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_string_equal(addr_special((struct sockaddr *)&ss), "unknown-family");
	ss.ss_family = AF_UNSPEC;
	assert_non_null(addr_special((struct sockaddr *)&ss));
}

/* ---- addr_never: refused even for a `private` rule ---- */

static void
test_never(void **state)
{
	static const struct {
		const char *addr;
		const char *want;	/* "": may be dialled when the rule allows it (NULL) */
	} cases[] = {
		{ "0.0.0.0", "this-network" },		/* Linux dials it as the local host */
		{ "0.1.2.3", "this-network" },
		{ "::", "unspecified" },
		{ "::ffff:0.0.0.0", "this-network" },	/* the mapped form of 0.0.0.0 */
		{ "255.255.255.255", "broadcast" },
		{ "::ffff:255.255.255.255", "broadcast" },
		{ "224.0.0.1", "multicast" },
		{ "239.255.255.250", "multicast" },
		{ "::ffff:224.0.0.251", "multicast" },
		{ "ff02::1", "multicast" },
		{ "ff05::1:3", "multicast" },
		{ "127.0.0.1", "" },			/* loopback: special, the loop guard's */
		{ "10.0.0.255", "" },			/* subnet broadcast: a local route says */
		{ "192.168.1.1", "" },
		{ "1.0.0.0", "" },
		{ "223.255.255.255", "" },
		{ "240.0.0.1", "" },			/* reserved: special, not never */
		{ "::1", "" },
		{ "::ffff:127.0.0.1", "" },
		{ "2001:db8::1", "" },
		{ "fe80::1", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct sockaddr_storage ss;
		char err[128];
		const char *got;

		assert_int_equal(addr_parse(cases[i].addr, 443, &ss, err, sizeof(err)), 0);
		got = addr_never((struct sockaddr *)&ss);
		if (!class_is(got, cases[i].want)) {
			print_error("%s: got %s, want %s\n", cases[i].addr, got ? got : "NULL",
			    cases[i].want[0] ? cases[i].want : "NULL");
			fail();
		}
	}
}

/* ---- addr_equal, addr_is_any, addr_key ---- */

/* Two endpoints and whether addr_equal calls them equal without, and with, the port. */
struct eq_case {
	const char *a;
	unsigned pa;
	const char *b;
	unsigned pb;
	int noport, withport;
	const char *shows;
};

static void
test_equal(void **state)
{
	static const struct eq_case cases[] = {
		{ "1.2.3.4", 1, "1.2.3.4", 1, 1, 1, "same address and port" },
		{ "1.2.3.4", 1, "1.2.3.4", 2, 1, 0, "port differs" },
		{ "1.2.3.4", 1, "1.2.3.5", 1, 0, 0, "address differs" },
		{ "::1", 53, "::1", 53, 1, 1, "IPv6 same" },
		{ "::1", 53, "::2", 53, 0, 0, "IPv6 address differs" },
		{ "::1", 53, "::1", 54, 1, 0, "IPv6 port differs" },
		{ "1.2.3.4", 1, "::ffff:1.2.3.4", 1, 0, 0, "IPv4 vs v4-mapped: families differ" },
		{ "0.0.0.0", 0, "::", 0, 0, 0, "the two anys differ" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage a = sa_of(cases[i].a), b = sa_of(cases[i].b);

		addr_set_port((struct sockaddr *)&a, (uint16_t)cases[i].pa);
		addr_set_port((struct sockaddr *)&b, (uint16_t)cases[i].pb);
		assert_int_equal(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b, 0),
		    cases[i].noport);
		assert_int_equal(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b, 1),
		    cases[i].withport);
		assert_int_equal(addr_equal((struct sockaddr *)&b, (struct sockaddr *)&a, 1),
		    cases[i].withport);	/* symmetric */
	}
}

static void
test_is_any(void **state)
{
	struct sockaddr_storage a;

	(void)state;
	a = sa_of("0.0.0.0");
	assert_int_equal(addr_is_any((struct sockaddr *)&a), 1);
	a = sa_of("::");
	assert_int_equal(addr_is_any((struct sockaddr *)&a), 1);
	a = sa_of("0.0.0.1");
	assert_int_equal(addr_is_any((struct sockaddr *)&a), 0);
	a = sa_of("::1");
	assert_int_equal(addr_is_any((struct sockaddr *)&a), 0);
	a = sa_of("::ffff:0.0.0.0");
	assert_int_equal(addr_is_any((struct sockaddr *)&a), 0);
}

/* The key: IPv4 as ::ffff:a.b.c.d, so an IPv4 client and its v4-mapped form share a key;
 * the port never counts. */
static void
test_key(void **state)
{
	static const uint8_t k4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 172, 19, 0, 5 };
	static const uint8_t k6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct sockaddr_storage a, b;
	uint8_t ka[16], kb[16];

	(void)state;
	a = sa_of("172.19.0.5");
	addr_set_port((struct sockaddr *)&a, 41234);
	memset(ka, 0x77, sizeof(ka));
	addr_key((struct sockaddr *)&a, ka);
	assert_memory_equal(ka, k4, 16);
	b = sa_of("::ffff:172.19.0.5");
	addr_set_port((struct sockaddr *)&b, 1);
	addr_key((struct sockaddr *)&b, kb);
	assert_memory_equal(kb, k4, 16);	/* same client either way */
	a = sa_of("2001:db8::1");
	addr_key((struct sockaddr *)&a, ka);
	assert_memory_equal(ka, k6, 16);
	a = sa_of("172.19.0.6");
	addr_key((struct sockaddr *)&a, ka);
	assert_memory_not_equal(ka, k4, 16);
	memset(&a, 0, sizeof(a));
	a.ss_family = AF_UNIX;
	memset(ka, 0x77, sizeof(ka));
	addr_key((struct sockaddr *)&a, ka);
	memset(kb, 0, sizeof(kb));
	assert_memory_equal(ka, kb, 16);	/* unknown family: all zero */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_empty_brackets),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_edges),
		cmocka_unit_test(test_parse_format_roundtrip),
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_special_unknown_family),
		cmocka_unit_test(test_never),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_is_any),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
