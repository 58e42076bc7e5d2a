/* test_dname.c: common/dname.c: normal form of host names and every dname_status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dname.h"

/* One input (bytes and length, so NULs and high bytes can be written) and the result. */
struct ncase {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	enum dname_status want;
	const char *out;	/* normal form when DNAME_OK */
	const char *shows;
};

/* Rows: in is already in normal form; in is normalised to out; in is refused with st. */
#define KEPT(in_, shows_) { .in = (in_), .want = DNAME_OK, .out = (in_), .shows = (shows_) }
#define NORMAL(in_, out_, shows_) \
	{ .in = (in_), .want = DNAME_OK, .out = (out_), .shows = (shows_) }
#define REFUSED(in_, st, shows_) { .in = (in_), .want = (st), .shows = (shows_) }

static const char *
status_name(enum dname_status st)
{
	switch (st) {
	case DNAME_OK: return "DNAME_OK";
	case DNAME_EMPTY: return "DNAME_EMPTY";
	case DNAME_TOO_LONG: return "DNAME_TOO_LONG";
	case DNAME_LABEL_EMPTY: return "DNAME_LABEL_EMPTY";
	case DNAME_LABEL_TOO_LONG: return "DNAME_LABEL_TOO_LONG";
	case DNAME_BAD_CHAR: return "DNAME_BAD_CHAR";
	case DNAME_NON_ASCII: return "DNAME_NON_ASCII";
	case DNAME_IP_LITERAL: return "DNAME_IP_LITERAL";
	}
	return "?";
}

/* Run a table; every mismatch is printed with the case's annotation, then the test fails. */
static void
run_cases(const struct ncase *cases, size_t n)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		const struct ncase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		char out[DNAME_MAX + 1];
		size_t outlen = 12345;
		enum dname_status st;

		memset(out, 'Z', sizeof(out));
		st = dname_normalize(c->in, len, out, &outlen);
		if (st != c->want) {
			print_error("case %zu (%s): status %s, want %s\n", i, c->shows,
			    status_name(st), status_name(c->want));
			bad++;
			continue;
		}
		if (st == DNAME_OK) {
			if (strcmp(out, c->out) != 0 || outlen != strlen(c->out)) {
				print_error("case %zu (%s): out '%s' (%zu), want '%s'\n", i, c->shows,
				    out, outlen, c->out);
				bad++;
			}
		} else if (out[0] != '\0' || outlen != 0) {
			/* contract: on any failure out holds "" and *outlen is 0 */
			print_error("case %zu (%s): failed but out='%.20s' outlen=%zu\n", i, c->shows,
			    out, outlen);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* "a" repeated n times, then tail. */
static char *
rep(char *buf, size_t n, const char *tail)
{
	memset(buf, 'a', n);
	strcpy(buf + n, tail);
	return buf;
}

static void
test_normal_form(void **state)
{
	static const struct ncase cases[] = {
		KEPT("example.com", "already normal"),
		NORMAL("Example.COM", "example.com", "ASCII letters lowercased"),
		NORMAL("SMTP.GMAIL.COM.", "smtp.gmail.com", "uppercase and trailing dot"),
		NORMAL("example.com.", "example.com", "one trailing dot dropped"),
		KEPT("localhost", "single label"),
		KEPT("a", "one character"),
		KEPT("_acme-challenge.example.com", "underscore service label accepted"),
		NORMAL("_dmarc.Example.org", "_dmarc.example.org", "underscore + case"),
		KEPT("a_b.c-d.e", "'_' and '-' inside labels"),
		KEPT("xn--bcher-kva.example", "A-label kept"),
		KEPT("123.example.com", "numeric first label is a name"),
		KEPT("1.2.3.com", "numeric labels, alphabetic TLD"),
		KEPT("0x1.example", "hex-looking first label is fine"),
		{ .in = "example.com\0junk", .len = 11, .want = DNAME_OK, .out = "example.com",
		  .shows = "only len bytes are read" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_statuses(void **state)
{
	static const struct ncase cases[] = {
		REFUSED("", DNAME_EMPTY, "empty string"),
		REFUSED(".", DNAME_EMPTY, "root alone"),
		REFUSED("a..b", DNAME_LABEL_EMPTY, "two dots in a row"),
		REFUSED(".a", DNAME_LABEL_EMPTY, "leading dot"),
		REFUSED("a..", DNAME_LABEL_EMPTY, "two trailing dots: only one is dropped"),
		REFUSED("..", DNAME_LABEL_EMPTY, "two dots alone"),
		REFUSED("a b.com", DNAME_BAD_CHAR, "space"),
		REFUSED("*.example.com", DNAME_BAD_CHAR, "'*' is not a name character"),
		REFUSED("a/b.com", DNAME_BAD_CHAR, "'/'"),
		{ .in = "a\0b.com", .len = 7, .want = DNAME_BAD_CHAR, 
		  .shows = "NUL inside the name" },
		REFUSED("exa\tmple.com", DNAME_BAD_CHAR, "tab"),
		REFUSED("a@b.com", DNAME_BAD_CHAR, "'@'"),
		REFUSED("a\x7f.com", DNAME_BAD_CHAR, "DEL (0x7f)"),
		REFUSED("b\xc3\xbc" "cher.example", DNAME_NON_ASCII, "UTF-8 u-umlaut"),
		REFUSED("\xe4\xbe\x8b.com", DNAME_NON_ASCII, "UTF-8 CJK label"),
		REFUSED("a.\xff", DNAME_NON_ASCII, "0xff byte"),
		REFUSED("1.2.3.4", DNAME_IP_LITERAL, "IPv4 dotted quad"),
		REFUSED("1.2.3.4.", DNAME_IP_LITERAL, "IPv4 with trailing dot"),
		REFUSED("127.1", DNAME_IP_LITERAL, "short IPv4 form (inet_aton)"),
		REFUSED("0x7f000001", DNAME_IP_LITERAL, "hex IPv4 form"),
		REFUSED("2130706433", DNAME_IP_LITERAL, "decimal IPv4 form"),
		REFUSED("example.123", DNAME_IP_LITERAL, "numeric last label"),
		REFUSED("::1", DNAME_IP_LITERAL, "IPv6 loopback"),
		REFUSED("2001:db8::1", DNAME_IP_LITERAL, "IPv6"),
		REFUSED("[::1]", DNAME_IP_LITERAL, "bracketed IPv6"),
		REFUSED("::ffff:1.2.3.4", DNAME_IP_LITERAL, "IPv4-mapped IPv6"),
		REFUSED("fe80::1", DNAME_IP_LITERAL, "link-local IPv6"),
		REFUSED("example.com:443", DNAME_BAD_CHAR, "':' in a name that is not IPv6"),
		REFUSED("[::1", DNAME_BAD_CHAR, "unclosed bracket: not an address either"),
		REFUSED("fe80::1%eth0", DNAME_BAD_CHAR, "zone index: not an address"),
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Lengths: 253 characters of name are the limit, 63 of a label. */
static void
test_lengths(void **state)
{
	char l63[64 + 8], l64[65 + 8], n253[260], n254[260], n253dot[260], tmp[300];
	size_t i;

	(void)state;
	rep(l63, 63, ".com");
	rep(l64, 64, ".com");
	/* 63+1+63+1+63+1+61 = 253 */
	strcpy(n253, rep(tmp, 63, "."));
	strcat(n253, rep(tmp, 63, "."));
	strcat(n253, rep(tmp, 63, "."));
	strcat(n253, rep(tmp, 61, ""));
	assert_int_equal(strlen(n253), 253);
	strcpy(n254, n253);
	n254[252] = 'b';
	strcat(n254, "c");	/* last label 62 chars, 254 in all */
	assert_int_equal(strlen(n254), 254);
	strcpy(n253dot, n253);
	strcat(n253dot, ".");

	{
		char up253[260];

		/* uppercase 253-char name: lowercased in full */
		for (i = 0; i <= strlen(n253); i++)
			up253[i] = n253[i] == 'a' ? 'A' : n253[i];
		const struct ncase cases[] = {
			KEPT(l63, "63-character label is the maximum"),
			REFUSED(l64, DNAME_LABEL_TOO_LONG, "64-character label"),
			KEPT(n253, "253 characters is the maximum"),
			NORMAL(n253dot, n253, "253 characters plus the trailing dot"),
			NORMAL(up253, n253, "253 uppercase characters lowercased"),
			REFUSED(n254, DNAME_TOO_LONG, "254 characters"),
			REFUSED(rep(tmp, 64, ""), DNAME_LABEL_TOO_LONG, "single 64-char label"),
		};
		run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
}

/* The out buffer must be able to hold DNAME_MAX + 1 bytes and nothing more is written. */
static void
test_out_bounds(void **state)
{
	char in[254], out[DNAME_MAX + 1 + 8];
	size_t outlen;

	(void)state;
	memset(in, 'x', sizeof(in));
	for (size_t i = 63; i < 253; i += 64)
		in[i] = '.';
	memset(out, 0x55, sizeof(out));
	assert_int_equal(dname_normalize(in, 253, out, &outlen), DNAME_OK);
	assert_int_equal(outlen, 253);
	assert_int_equal(out[253], '\0');
	for (size_t i = DNAME_MAX + 1; i < sizeof(out); i++)
		assert_int_equal((unsigned char)out[i], 0x55);
	/* outlen may be NULL */
	assert_int_equal(dname_normalize("A.b", 3, out, NULL), DNAME_OK);
	assert_string_equal(out, "a.b");
}

/* A text and whether dname_is_ip_literal reads it as an address. */
struct ip_case {
	const char *s;
	int want;
	const char *shows;
};

/* dname_is_ip_literal on its own (used by the peek parsers on raw SNI/Host values). */
static void
test_is_ip_literal(void **state)
{
	static const struct ip_case cases[] = {
		{ "1.2.3.4", 1, "dotted quad" },
		{ "1.2.3.4.", 1, "dotted quad, trailing dot" },
		{ "10", 1, "one number" },
		{ "0x", 1, "\"0x\" reads as zero" },
		{ "0XAbC", 1, "uppercase hex" },
		{ "::", 1, "IPv6 any" },
		{ "[2001:db8::1]", 1, "bracketed" },
		{ "::ffff:10.0.0.1", 1, "IPv4-mapped" },
		{ "1::2::3", 0, "two '::' is not IPv6" },
		{ "host:80", 0, "name:port is not IPv6" },
		{ "[::1", 0, "unclosed bracket" },
		{ "example.com", 0, "name" },
		{ "1.2.3.4.example", 0, "numeric labels before a TLD" },
		{ "0xg", 0, "not hex" },
		{ "12a", 0, "digits then a letter" },
		{ "", 0, "empty" },
		{ ".", 0, "root" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = dname_is_ip_literal(cases[i].s, strlen(cases[i].s));

		if (got != cases[i].want) {
			print_error("case %zu (%s): got %d want %d\n", i, cases[i].shows, got,
			    cases[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Each status has its own phrase; the ones quoted in error messages are exact. */
static void
test_status_str(void **state)
{
	(void)state;
	assert_string_equal(dname_status_str(DNAME_LABEL_TOO_LONG), "label longer than 63 characters");
	assert_string_equal(dname_status_str(DNAME_TOO_LONG), "name longer than 253 characters");
	assert_string_equal(dname_status_str(DNAME_EMPTY), "empty name");
	assert_string_equal(dname_status_str(DNAME_IP_LITERAL), "an IP address, not a name");
	assert_non_null(strstr(dname_status_str(DNAME_NON_ASCII), "A-label"));
	for (int a = DNAME_OK; a <= DNAME_IP_LITERAL; a++)
		for (int b = a + 1; b <= DNAME_IP_LITERAL; b++)
			assert_string_not_equal(dname_status_str((enum dname_status)a),
			    dname_status_str((enum dname_status)b));
	assert_string_equal(dname_status_str((enum dname_status)99), "invalid name");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_form),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_out_bounds),
		cmocka_unit_test(test_is_ip_literal),
		cmocka_unit_test(test_status_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
