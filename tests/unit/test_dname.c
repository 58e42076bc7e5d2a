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
		{ "example.com", 0, DNAME_OK, "example.com", "already normal" },
		{ "Example.COM", 0, DNAME_OK, "example.com", "ASCII letters lowercased" },
		{ "SMTP.GMAIL.COM.", 0, DNAME_OK, "smtp.gmail.com", "uppercase and trailing dot" },
		{ "example.com.", 0, DNAME_OK, "example.com", "one trailing dot dropped" },
		{ "localhost", 0, DNAME_OK, "localhost", "single label" },
		{ "a", 0, DNAME_OK, "a", "one character" },
		{ "_acme-challenge.example.com", 0, DNAME_OK, "_acme-challenge.example.com",
		  "underscore service label accepted" },
		{ "_dmarc.Example.org", 0, DNAME_OK, "_dmarc.example.org", "underscore + case" },
		{ "a_b.c-d.e", 0, DNAME_OK, "a_b.c-d.e", "'_' and '-' inside labels" },
		{ "xn--bcher-kva.example", 0, DNAME_OK, "xn--bcher-kva.example", "A-label kept" },
		{ "123.example.com", 0, DNAME_OK, "123.example.com", "numeric first label is a name" },
		{ "1.2.3.com", 0, DNAME_OK, "1.2.3.com", "numeric labels, alphabetic TLD" },
		{ "0x1.example", 0, DNAME_OK, "0x1.example", "hex-looking first label is fine" },
		{ "example.com\0junk", 11, DNAME_OK, "example.com", "only len bytes are read" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_statuses(void **state)
{
	static const struct ncase cases[] = {
		{ "", 0, DNAME_EMPTY, NULL, "empty string" },
		{ ".", 0, DNAME_EMPTY, NULL, "root alone" },
		{ "a..b", 0, DNAME_LABEL_EMPTY, NULL, "two dots in a row" },
		{ ".a", 0, DNAME_LABEL_EMPTY, NULL, "leading dot" },
		{ "a..", 0, DNAME_LABEL_EMPTY, NULL, "two trailing dots: only one is dropped" },
		{ "..", 0, DNAME_LABEL_EMPTY, NULL, "two dots alone" },
		{ "a b.com", 0, DNAME_BAD_CHAR, NULL, "space" },
		{ "*.example.com", 0, DNAME_BAD_CHAR, NULL, "'*' is not a name character" },
		{ "a/b.com", 0, DNAME_BAD_CHAR, NULL, "'/'" },
		{ "a\0b.com", 7, DNAME_BAD_CHAR, NULL, "NUL inside the name" },
		{ "exa\tmple.com", 0, DNAME_BAD_CHAR, NULL, "tab" },
		{ "a@b.com", 0, DNAME_BAD_CHAR, NULL, "'@'" },
		{ "a\x7f.com", 0, DNAME_BAD_CHAR, NULL, "DEL (0x7f)" },
		{ "b\xc3\xbc" "cher.example", 0, DNAME_NON_ASCII, NULL, "UTF-8 u-umlaut" },
		{ "\xe4\xbe\x8b.com", 0, DNAME_NON_ASCII, NULL, "UTF-8 CJK label" },
		{ "a.\xff", 0, DNAME_NON_ASCII, NULL, "0xff byte" },
		{ "1.2.3.4", 0, DNAME_IP_LITERAL, NULL, "IPv4 dotted quad" },
		{ "1.2.3.4.", 0, DNAME_IP_LITERAL, NULL, "IPv4 with trailing dot" },
		{ "127.1", 0, DNAME_IP_LITERAL, NULL, "short IPv4 form (inet_aton)" },
		{ "0x7f000001", 0, DNAME_IP_LITERAL, NULL, "hex IPv4 form" },
		{ "2130706433", 0, DNAME_IP_LITERAL, NULL, "decimal IPv4 form" },
		{ "example.123", 0, DNAME_IP_LITERAL, NULL, "numeric last label" },
		{ "::1", 0, DNAME_IP_LITERAL, NULL, "IPv6 loopback" },
		{ "2001:db8::1", 0, DNAME_IP_LITERAL, NULL, "IPv6" },
		{ "[::1]", 0, DNAME_IP_LITERAL, NULL, "bracketed IPv6" },
		{ "::ffff:1.2.3.4", 0, DNAME_IP_LITERAL, NULL, "IPv4-mapped IPv6" },
		{ "fe80::1", 0, DNAME_IP_LITERAL, NULL, "link-local IPv6" },
		{ "example.com:443", 0, DNAME_BAD_CHAR, NULL, "':' in a name that is not IPv6" },
		{ "[::1", 0, DNAME_BAD_CHAR, NULL, "unclosed bracket: not an address either" },
		{ "fe80::1%eth0", 0, DNAME_BAD_CHAR, NULL, "zone index: not an address" },
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
			{ l63, 0, DNAME_OK, l63, "63-character label is the maximum" },
			{ l64, 0, DNAME_LABEL_TOO_LONG, NULL, "64-character label" },
			{ n253, 0, DNAME_OK, n253, "253 characters is the maximum" },
			{ n253dot, 0, DNAME_OK, n253, "253 characters plus the trailing dot" },
			{ up253, 0, DNAME_OK, n253, "253 uppercase characters lowercased" },
			{ n254, 0, DNAME_TOO_LONG, NULL, "254 characters" },
			{ rep(tmp, 64, ""), 0, DNAME_LABEL_TOO_LONG, NULL, "single 64-char label" },
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

/* dname_is_ip_literal on its own (used by the peek parsers on raw SNI/Host values). */
static void
test_is_ip_literal(void **state)
{
	static const struct {
		const char *s;
		int want;
		const char *shows;
	} cases[] = {
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
