/* test_policy.c: common/policy.c: rules, the matcher's precedence, port lists, and scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

/* Add a rule whose ports are written as text; fails the test on error. */
static void
add(struct policy *p, const char *pattern, const char *ports, unsigned flags, const char *origin)
{
	struct portrange *pr;
	size_t n;
	char err[256] = "";

	if (policy_parse_ports(ports, &pr, &n, err, sizeof(err)) != 0)
		fail_msg("ports '%s': %s", ports, err);
	if (policy_add(p, pattern, pr, n, flags, origin, 0, err, sizeof(err)) != 0)
		fail_msg("policy_add '%s': %s", pattern, err);
	free(pr);
}

/* The rule matched for (name, port), by origin, or "-" for none. port 0: any port. */
static const char *
who(const struct policy *p, const char *name, unsigned port)
{
	const struct rule *r = port ? policy_match(p, name, strlen(name), (uint16_t)port) :
	    policy_match_name(p, name, strlen(name));

	static char where[300];

	return r ? rule_origin(r, where, sizeof(where)) : "-";
}

struct mcase {
	const char *name;
	unsigned port;		/* 0: policy_match_name */
	const char *want;	/* origin of the rule, "-" for none */
	const char *shows;
};

static void
run_matches(const struct policy *p, const struct mcase *cases, size_t n)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		const char *got = who(p, cases[i].name, cases[i].port);

		if (strcmp(got, cases[i].want) != 0) {
			print_error("case %zu (%s): %s port %u -> %s, want %s\n", i, cases[i].shows,
			    cases[i].name, cases[i].port, got, cases[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Exact names and wildcards: what each matches and what it never does. */
static void
test_match_basic(void **state)
{
	struct policy *p = policy_new();
	static const struct mcase cases[] = {
		{ "smtp.gmail.com", 465, "smtp", "exact name, listed port" },
		{ "smtp.gmail.com", 587, "smtp", "exact name, second port" },
		{ "smtp.gmail.com", 25, "-", "exact name, other port" },
		{ "smtp.gmail.com", 0, "smtp", "name only" },
		{ "gmail.com", 0, "-", "parent of an exact name" },
		{ "x.smtp.gmail.com", 0, "-", "child of an exact name" },
		{ "smtp.gmail.co", 0, "-", "prefix of the name" },
		{ "mtp.gmail.com", 0, "-", "suffix of the name" },
		{ "a.example.com", 443, "wild", "one label below a wildcard" },
		{ "a.b.example.com", 443, "-", "*. matches one label only, not two" },
		{ "a.b.c.d.e.example.com", 443, "-", "*. never many labels below" },
		{ "example.com", 443, "-", "the apex is not matched by *.example.com" },
		{ "a.deep.example", 443, "deep", "**. matches one label below" },
		{ "a.b.deep.example", 443, "deep", "**. matches two labels below" },
		{ "a.b.c.d.e.deep.example", 0, "deep", "**. matches many labels below" },
		{ "deep.example", 0, "-", "the apex is not matched by **.deep.example" },
		{ "xdeep.example", 0, "-", "**. needs a label boundary" },
		{ "example.com", 0, "-", "the apex, any port" },
		{ "aexample.com", 443, "-", "suffix string without a label boundary" },
		{ "a.example.com", 80, "-", "wildcard, other port" },
		{ "a.example.org", 443, "-", "other domain" },
		{ "com", 0, "-", "TLD" },
		{ "", 0, "-", "empty name" },
	};

	(void)state;
	add(p, "smtp.gmail.com", "465,587", 0, "smtp");
	add(p, "*.example.com", "443", 0, "wild");
	add(p, "**.deep.example", "443", 0, "deep");
	assert_int_equal(policy_count(p), 3);
	run_matches(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_free(p);
}

/* Patterns are normalised (upper case, trailing dot); names are the caller's job. */
static void
test_pattern_normalised(void **state)
{
	struct policy *p = policy_new();
	static const struct mcase cases[] = {
		{ "smtp.gmail.com", 465, "upper", "upper-case pattern matches the normal name" },
		{ "a.github.com", 443, "wild-upper", "upper-case wildcard" },
		{ "db.internal.example", 5432, "dot", "trailing dot dropped from the pattern" },
		{ "x.dot.example", 1, "wild-dot", "wildcard with trailing dot" },
		{ "SMTP.GMAIL.COM", 465, "-", "names must come normalised: upper case misses" },
		{ "smtp.gmail.com.", 465, "-", "names must come normalised: a trailing dot misses" },
	};

	(void)state;
	add(p, "SMTP.Gmail.COM", "465", 0, "upper");
	add(p, "*.GitHub.COM", "443", 0, "wild-upper");
	add(p, "db.internal.example.", "5432", 0, "dot");
	add(p, "*.dot.example.", "1", 0, "wild-dot");
	add(p, "**.Deep.Example.", "1", 0, "deep-dot");
	assert_string_equal(policy_rule(p, 0)->pattern, "smtp.gmail.com");
	assert_string_equal(policy_rule(p, 1)->pattern, "*.github.com");
	assert_int_equal(policy_rule(p, 1)->wildcard, 1);
	assert_int_equal(policy_rule(p, 0)->wildcard, 0);
	assert_string_equal(policy_rule(p, 2)->pattern, "db.internal.example");
	assert_string_equal(policy_rule(p, 3)->pattern, "*.dot.example");
	assert_string_equal(policy_rule(p, 4)->pattern, "**.deep.example");
	assert_int_equal(policy_rule(p, 4)->wildcard, 2);
	run_matches(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_free(p);
}

/* Most specific wins: exact over wildcard, longer wildcard suffix over shorter, at one
 * suffix "*." over "**."; and a more specific rule without the port falls back to a less
 * specific one with it. */
static void
test_precedence(void **state)
{
	struct policy *p = policy_new();
	static const struct mcase cases[] = {
		{ "a.b.example.com", 443, "exact-ab", "exact beats every wildcard" },
		{ "a.b.example.com", 0, "exact-ab", "exact beats wildcards (name only)" },
		{ "x.b.example.com", 443, "one-b", "at one suffix *. beats **." },
		{ "x.b.example.com", 0, "one-b", "name only: *. beats **. at one suffix" },
		{ "x.b.example.com", 80, "deep-b", "*. lacks the port: **. at the same suffix" },
		{ "y.x.b.example.com", 443, "deep-b", "two labels below b: only **.b matches" },
		{ "y.x.b.example.com", 0, "deep-b", "longest suffix with a match (name only)" },
		{ "x.c.example.com", 443, "wild-ex", "only the short wildcard matches" },
		{ "b.example.com", 443, "wild-ex", "apex of *.b is under **.example.com" },
		{ "x.b.example.com", 8443, "wild-ex", "longer suffix lacks the port: shorter has it" },
		{ "a.b.example.com", 8443, "wild-ex", "exact lacks the port: wildcard has it" },
		{ "a.b.example.com", 9000, "-", "nobody has the port" },
		{ "example.com", 0, "-", "the apex of every wildcard" },
		{ "x.one.example", 443, "one-shallow", "*. under a shorter suffix than a **." },
		{ "y.x.one.example", 443, "deep-one", "two labels: *. of one.example does not" },
	};

	(void)state;
	add(p, "**.example.com", "443,8443", 0, "wild-ex");
	add(p, "**.b.example.com", "443,80", 0, "deep-b");
	add(p, "*.b.example.com", "443", 0, "one-b");
	add(p, "a.b.example.com", "443", 0, "exact-ab");
	add(p, "**.one.example", "443", 0, "deep-one");
	add(p, "*.one.example", "443", 0, "one-shallow");
	run_matches(p, cases, sizeof(cases) / sizeof(cases[0]));
	policy_free(p);
}

/* A deny rule that matches (name, port) decides over every allow rule that matches,
 * whatever their specificity and order; policy_match_name only takes a deny for every
 * port. */
static void
test_deny(void **state)
{
	struct policy *p = policy_new();
	static const struct mcase cases[] = {
		{ "vault.example.com", 443, "deny-vault", "exact deny over a wildcard allow" },
		{ "vault.example.com", 0, "deny-vault", "name only: a deny for every port" },
		{ "api.example.com", 443, "allow-all", "the allow rule elsewhere" },
		{ "x.secret.example.com", 443, "deny-secret", "**. deny over the more specific *. allow" },
		{ "x.secret.example.com", 0, "deny-secret", "name only" },
		{ "secret.example.com", 443, "allow-all", "the deny's apex is not denied" },
		{ "a.example.com", 443, "deny-a", "a deny written before the exact allow" },
		{ "a.example.com", 80, "allow-a", "the deny's ports only" },
		{ "a.example.com", 0, "allow-a", "name only: a deny with ports does not decide" },
		{ "b.example.com", 8443, "deny-b", "a deny written after the exact allow" },
		{ "b.example.com", 443, "allow-all", "other port: the wildcard allow" },
		{ "b.example.com", 0, "allow-b", "name only: the allow" },
		{ "one.shallow.example", 0, "deny-one", "*. deny, one label" },
		{ "two.one.shallow.example", 0, "allow-shallow", "*. deny: not two labels" },
		{ "no.rule.example", 0, "-", "no rule" },
		{ "vault.example.org", 0, "deny-org", "a deny with no allow at all" },
		{ "vault.example.org", 22, "deny-org", "a deny with no allow at all, a port" },
	};
	struct portrange every = { 1, 65535 }, pr = { 443, 443 };
	char err[256] = "";

	(void)state;
	add(p, "vault.example.com", "1-65535", RULE_DENY, "deny-vault");
	add(p, "**.example.com", "443", 0, "allow-all");
	add(p, "*.secret.example.com", "443", 0, "allow-secret");
	add(p, "**.secret.example.com", "1-65535", RULE_DENY, "deny-secret");
	add(p, "a.example.com", "443,8443", RULE_DENY, "deny-a");
	add(p, "a.example.com", "80,443", 0, "allow-a");
	add(p, "b.example.com", "8443,80", 0, "allow-b");
	add(p, "b.example.com", "8443", RULE_DENY, "deny-b");
	add(p, "**.shallow.example", "1-65535", 0, "allow-shallow");
	add(p, "*.shallow.example", "1-65535", RULE_DENY, "deny-one");
	add(p, "vault.example.org", "1-65535", RULE_DENY, "deny-org");
	run_matches(p, cases, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(policy_match(p, "vault.example.com", 17, 443)->flags, RULE_DENY);
	assert_true(rule_all_ports(policy_match_name(p, "vault.example.com", 17)));
	assert_false(rule_all_ports(policy_match(p, "a.example.com", 13, 443)));
	/* a deny never says 'private' nor routes; policy_find sees allow rules only */
	assert_int_equal(policy_add(p, "c.example.com", &every, 1, RULE_DENY | RULE_PRIVATE,
	    "x", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "'c.example.com': a deny rule has no 'private' and no route");
	assert_int_equal(policy_add(p, "c.example.com", &pr, 1, RULE_DENY | RULE_ROUTE, "x", 0,
	    err, sizeof(err)), -1);
	assert_null(policy_find(p, "vault.example.com", &pr, 1, 0, NULL));
	assert_string_equal(policy_find(p, "a.example.com", &pr, 1, 0, NULL)->src, "allow-a");
	/* a deny and an allow of one pattern may disagree on anything: no 'private' check */
	add(p, "d.example.com", "443", RULE_PRIVATE, "allow-d");
	add(p, "d.example.com", "443", RULE_DENY, "deny-d");
	assert_string_equal(who(p, "d.example.com", 443), "deny-d");
	policy_free(p);
}

/* Several rules for one name: each found by its port, with its own flags. */
static void
test_same_name_rules(void **state)
{
	struct policy *p = policy_new();
	const struct rule *r;
	static const struct mcase cases[] = {
		{ "db.example", 5432, "pg-private", "first rule's port" },
		{ "db.example", 6379, "redis", "second rule's port" },
		{ "db.example", 443, "https", "third rule, inside its range" },
		{ "db.example", 8000, "range", "range bottom" },
		{ "db.example", 8099, "range", "range top" },
		{ "db.example", 7999, "-", "just below the range" },
		{ "db.example", 8100, "-", "just above the range" },
		{ "db.example", 0, "pg-private", "name only: the first rule written" },
		{ "x.wild.example", 22, "w22", "wildcard chain, first" },
		{ "x.wild.example", 23, "w23", "wildcard chain, second" },
	};

	(void)state;
	add(p, "db.example", "5432", RULE_PRIVATE, "pg-private");
	add(p, "db.example", "6379", 0, "redis");
	add(p, "DB.example.", "443", 0, "https");	/* same key after normalisation */
	add(p, "db.example", "8000-8099", RULE_PRIVATE, "range");
	add(p, "*.wild.example", "22", RULE_PRIVATE, "w22");
	add(p, "*.wild.example", "23", 0, "w23");
	run_matches(p, cases, sizeof(cases) / sizeof(cases[0]));
	r = policy_match(p, "db.example", 10, 5432);
	assert_non_null(r);
	assert_int_equal(r->flags, RULE_PRIVATE);
	r = policy_match(p, "db.example", 10, 6379);
	assert_non_null(r);
	assert_int_equal(r->flags, 0);
	r = policy_match(p, "x.wild.example", 14, 22);
	assert_int_equal(r->flags, RULE_PRIVATE);
	r = policy_match(p, "x.wild.example", 14, 23);
	assert_int_equal(r->flags, 0);
	/* policy_rule: the order added, NULL past the end */
	assert_int_equal(policy_count(p), 6);
	assert_string_equal(policy_rule(p, 0)->src, "pg-private");
	assert_string_equal(policy_rule(p, 5)->src, "w23");
	assert_null(policy_rule(p, 6));
	policy_free(p);
}

/* rule_has_port over ranges and lists */
static void
test_has_port(void **state)
{
	struct portrange pr[] = { { 25, 25 }, { 465, 465 }, { 8000, 8099 }, { 65535, 65535 } };
	struct rule r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.ports = pr;
	r.nports = 4;
	assert_int_equal(rule_has_port(&r, 25), 1);
	assert_int_equal(rule_has_port(&r, 24), 0);
	assert_int_equal(rule_has_port(&r, 26), 0);
	assert_int_equal(rule_has_port(&r, 465), 1);
	assert_int_equal(rule_has_port(&r, 8000), 1);
	assert_int_equal(rule_has_port(&r, 8050), 1);
	assert_int_equal(rule_has_port(&r, 8099), 1);
	assert_int_equal(rule_has_port(&r, 8100), 0);
	assert_int_equal(rule_has_port(&r, 65535), 1);
	assert_int_equal(rule_has_port(&r, 0), 0);
}

/* A pattern policy_add refuses, its message, and what the case shows. */
struct refusal {
	const char *pattern;
	const char *err;
	const char *shows;
};

#define STAR_ONLY "'*' is only allowed as the whole first label (*.example.com: one " \
	"label below example.com; **.example.com: any depth)"

/* Refused patterns, each with the exact message. */
static void
test_refused_patterns(void **state)
{
	static const struct refusal cases[] = {
		{ "*", "'*' matches every name; list the names to allow", "bare '*'" },
		{ "*.", "'*.' matches every name; list the names to allow", "'*.'" },
		{ "*.com", "'*.com' is too broad: it covers a whole public suffix", "a TLD" },
		{ "*.COM.", "'*.COM.' is too broad: it covers a whole public suffix",
		  "a TLD in upper case, trailing dot" },
		{ "*.co.uk", "'*.co.uk' is too broad: it covers a whole public suffix",
		  "a second-level public suffix" },
		{ "*.com.au", "'*.com.au' is too broad: it covers a whole public suffix",
		  "another listed public suffix" },
		{ "**.net.in", "'**.net.in' is too broad: it covers a whole public suffix",
		  "a public suffix no hand-kept list had" },
		{ "*.foo.kawasaki.jp", "'*.foo.kawasaki.jp' is too broad: it covers a whole "
		  "public suffix", "under a \"*.kawasaki.jp\" rule of the list" },
		{ "**", "'**' matches every name; list the names to allow", "bare '**'" },
		{ "**.", "'**.' matches every name; list the names to allow", "'**.'" },
		{ "**.com", "'**.com' is too broad: it covers a whole public suffix", "**. over a TLD" },
		{ "a*.b.com", "'a*.b.com': " STAR_ONLY, "'*' inside a label" },
		{ "*.*.b.com", "'*.*.b.com': " STAR_ONLY, "two wildcards" },
		{ "**.*.b.com", "'**.*.b.com': " STAR_ONLY, "'**.' then '*.'" },
		{ "***.b.com", "'***.b.com': " STAR_ONLY, "three stars" },
		{ "a.*.com", "'a.*.com': " STAR_ONLY, "'*' in a middle label" },
		{ "a.**.com", "'a.**.com': " STAR_ONLY, "'**' in a middle label" },
		{ "1.2.3.4", "'1.2.3.4': an IP address, not a name", "IPv4 literal" },
		{ "::1", "'::1': an IP address, not a name", "IPv6 literal" },
		{ "*.10.0.0", "'*.10.0.0': an IP address, not a name", "wildcard over numbers" },
		{ "b\xc3\xbc" "cher.de", "'b\xc3\xbc" "cher.de': non-ASCII name: write it as an A-label (xn--...)",
		  "non-ASCII" },
		{ "", "'': empty name", "empty" },
		{ "*.a..b", "'*.a..b': empty label (two dots in a row, or a leading dot)", "empty label" },
		{ "a b", "'a b': character not allowed in a host name (letters, digits, '-', '_')",
		  "space" },
	};
	struct policy *p = policy_new();
	struct portrange pr = { 443, 443 };
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int rc = policy_add(p, cases[i].pattern, &pr, 1, 0, "t", 0, err, sizeof(err));

		if (rc != -1 || strcmp(err, cases[i].err) != 0) {
			print_error("case %zu (%s): rc %d err \"%s\"\n   want \"%s\"\n", i,
			    cases[i].shows, rc, err, cases[i].err);
			bad++;
		}
	}
	assert_int_equal(policy_count(p), 0);
	assert_int_equal(bad, 0);
	policy_free(p);
}

/* Narrow wildcards are fine, including one directly under a public suffix's owner. */
static void
test_accepted_wildcards(void **state)
{
	static const char *const ok[] = {
		"*.example.co.uk", "*.githubusercontent.com", "*.uk.com", "*.a.b", "*._tcp.example",
		"**.example.co.uk", "**.githubusercontent.com",
	};
	struct policy *p = policy_new();
	struct portrange pr = { 443, 443 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char err[256] = "";

		if (policy_add(p, ok[i], &pr, 1, 0, ok[i], 0, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", ok[i], err);
	}
	assert_string_equal(who(p, "x.example.co.uk", 443), "*.example.co.uk");
	assert_string_equal(who(p, "x.co.uk", 443), "-");
	assert_string_equal(who(p, "y.x.example.co.uk", 443), "**.example.co.uk");
	policy_free(p);
}

/* policy_suffix_kind: what the Public Suffix List says of a wildcard's suffix. */
static void
test_suffix_kind(void **state)
{
	static const struct {
		const char *suffix;
		enum policy_suffix want;
	} cases[] = {
		{ "com", POLICY_SUFFIX_ICANN }, { "co.uk", POLICY_SUFFIX_ICANN },
		{ "test", POLICY_SUFFIX_ICANN }, { "x.ck", POLICY_SUFFIX_ICANN },
		{ "github.io", POLICY_SUFFIX_PRIVATE }, { "s3.amazonaws.com", POLICY_SUFFIX_PRIVATE },
		{ "githubusercontent.com", POLICY_SUFFIX_PRIVATE },
		{ "example.com", POLICY_SUFFIX_NONE }, { "me.github.io", POLICY_SUFFIX_NONE },
		{ "amazonaws.com", POLICY_SUFFIX_NONE }, { "wild.test", POLICY_SUFFIX_NONE },
	};
	size_t i, bad = 0;

	(void)state;
	policy_psl_load();
	policy_psl_load();	/* once: the second call does nothing */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (policy_suffix_kind(cases[i].suffix) != cases[i].want) {
			print_error("%s: %d, want %d\n", cases[i].suffix,
			    (int)policy_suffix_kind(cases[i].suffix), (int)cases[i].want);
			bad++;
		}
	assert_int_equal(bad, 0);
}

/* A rule with no ports is refused; flags and origin are copied. */
static void
test_add_copies(void **state)
{
	struct policy *p = policy_new();
	struct portrange pr[2] = { { 1, 2 }, { 5, 5 } };
	char origin[] = "f.conf", err[128] = "", where[64];
	const struct rule *r;

	(void)state;
	assert_int_equal(policy_add(p, "a.example", pr, 0, 0, "x", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "'a.example': no ports given");
	assert_int_equal(policy_add(p, "a.example", pr, 2, RULE_PRIVATE | RULE_ROUTE, origin, 7, err,
	    sizeof(err)), 0);
	origin[0] = 'X';		/* the caller's buffers are not kept */
	pr[0].lo = 9;
	r = policy_match(p, "a.example", 9, 1);
	assert_non_null(r);
	assert_string_equal(rule_origin(r, where, sizeof(where)), "f.conf:7");
	assert_int_equal(r->line, 7);
	assert_int_equal(r->nports, 2);
	assert_int_equal(r->ports[0].lo, 1);
	assert_int_equal(r->flags, RULE_PRIVATE | RULE_ROUTE);
	policy_free(p);
	policy_free(NULL);
}

/* ---- port lists ---- */

static void
test_parse_ports(void **state)
{
	static const struct {
		const char *in;
		const char *want;	/* formatted back, or NULL for an error */
		const char *err;
		const char *shows;
	} cases[] = {
		{ "443", "443", NULL, "one port" },
		{ "465,587", "465,587", NULL, "two ports" },
		{ "8000-8099", "8000-8099", NULL, "a range" },
		{ "1", "1", NULL, "lowest port" },
		{ "65535", "65535", NULL, "highest port" },
		{ "1-65535", "1-65535", NULL, "every port" },
		{ "25,465-466,587,8000-8099", "25,465-466,587,8000-8099", NULL, "mixed list" },
		{ "80-80", "80", NULL, "one-port range written as a port" },
		{ "0", NULL, "'0': ports are numbers 1-65535", "port 0" },
		{ "65536", NULL, "'65536': ports are numbers 1-65535", "port 65536" },
		{ "1-", NULL, "'1-': ports are numbers 1-65535", "open range" },
		{ "-1", NULL, "'-1': ports are numbers 1-65535", "negative / no range start" },
		{ "10-5", NULL, "'10-5': range 10-5 is backwards", "backwards range" },
		{ "443,", NULL, "'443,': trailing comma", "trailing comma" },
		{ ",443", NULL, "',443': bad port list (write 443 or 465,587 or 8000-8099)",
		  "leading comma" },
		{ "443,,587", NULL, "'443,,587': bad port list (write 443 or 465,587 or 8000-8099)",
		  "empty item" },
		{ "", NULL, "no ports given", "empty" },
		{ "a", NULL, "'a': ports are numbers 1-65535", "a letter" },
		{ "1-2-3", NULL, "'1-2-3': ports are numbers 1-65535", "two dashes" },
		{ " 443", NULL, "' 443': ports are numbers 1-65535", "leading blank" },
		{ "443 ", NULL, "'443 ': ports are numbers 1-65535", "trailing blank" },
		{ "+443", NULL, "'+443': ports are numbers 1-65535", "sign" },
		{ "1-65536", NULL, "'1-65536': ports are numbers 1-65535", "range past the top" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct portrange *pr = (struct portrange *)1;
		size_t n = 99;
		char err[256] = "", buf[256];
		int rc = policy_parse_ports(cases[i].in, &pr, &n, err, sizeof(err));

		if (cases[i].want != NULL) {
			struct rule r;

			if (rc != 0) {
				print_error("case %zu (%s): '%s' refused: %s\n", i, cases[i].shows,
				    cases[i].in, err);
				bad++;
				continue;
			}
			memset(&r, 0, sizeof(r));
			r.ports = pr;
			r.nports = n;
			rule_format_ports(&r, buf, sizeof(buf));
			if (strcmp(buf, cases[i].want) != 0) {
				print_error("case %zu (%s): formatted '%s'\n", i, cases[i].shows, buf);
				bad++;
			}
			free(pr);
		} else if (rc != -1 || strcmp(err, cases[i].err) != 0 || pr != NULL || n != 0) {
			print_error("case %zu (%s): rc %d err \"%s\" (want \"%s\") out %p n %zu\n", i,
			    cases[i].shows, rc, err, cases[i].err, (void *)pr, n);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Exact ranges from a list, and format -> parse gives the same ranges. */
static void
test_ports_roundtrip(void **state)
{
	struct portrange *a, *b;
	size_t na, nb;
	char err[128], buf[128];
	struct rule r;

	(void)state;
	assert_int_equal(policy_parse_ports("25,465,8000-8099,65535", &a, &na, err, sizeof(err)), 0);
	assert_int_equal(na, 4);
	assert_int_equal(a[0].lo, 25);
	assert_int_equal(a[0].hi, 25);
	assert_int_equal(a[2].lo, 8000);
	assert_int_equal(a[2].hi, 8099);
	assert_int_equal(a[3].lo, 65535);
	memset(&r, 0, sizeof(r));
	r.ports = a;
	r.nports = na;
	rule_format_ports(&r, buf, sizeof(buf));
	assert_string_equal(buf, "25,465,8000-8099,65535");
	assert_int_equal(policy_parse_ports(buf, &b, &nb, err, sizeof(err)), 0);
	assert_int_equal(nb, na);
	assert_memory_equal(a, b, na * sizeof(*a));
	/* a small buffer truncates but stays a string */
	rule_format_ports(&r, buf, 6);
	assert_int_equal(strlen(buf), 5);
	assert_memory_equal(buf, "25,46", 5);
	free(a);
	free(b);
}

/* ---- scale: 100,000 rules, lookups stay correct (correctness only, not timed) ---- */

#define NSCALE 100000

static void
test_scale(void **state)
{
	struct policy *p = policy_new();
	char name[128], want[64];
	size_t i, bad = 0;
	const struct rule *r;
	char where[300];

	(void)state;
	for (i = 0; i < NSCALE; i++) {
		char pat[64];
		struct portrange pr = { (uint16_t)(1000 + i % 1000), (uint16_t)(1000 + i % 1000) };
		char err[128];

		if (i % 2 == 0)
			snprintf(pat, sizeof(pat), "host%zu.exact.example", i);
		else
			snprintf(pat, sizeof(pat), "**.zone%zu.wild.example", i);
		if (policy_add(p, pat, &pr, 1, i % 3 == 0 ? RULE_PRIVATE : 0, "scale",
		    (unsigned)i + 1, err, sizeof(err)) != 0)
			fail_msg("rule %zu: %s", i, err);
	}
	assert_int_equal(policy_count(p), NSCALE);
	for (i = 0; i < NSCALE; i++) {
		unsigned port = 1000 + i % 1000;

		snprintf(want, sizeof(want), "scale:%zu", i + 1);
		if (i % 2 == 0)
			snprintf(name, sizeof(name), "host%zu.exact.example", i);
		else
			snprintf(name, sizeof(name), "a.b.zone%zu.wild.example", i);
		r = policy_match(p, name, strlen(name), (uint16_t)port);
		if (r == NULL || strcmp(rule_origin(r, where, sizeof(where)), want) != 0 ||
		    r->flags != (i % 3 == 0 ? RULE_PRIVATE : 0u)) {
			if (bad++ < 10)
				print_error("member %s port %u -> %s\n", name, port,
				    r ? rule_origin(r, where, sizeof(where)) : "-");
			continue;
		}
		/* wrong port, the apex of a wildcard, and a near-miss name: no rule */
		if (policy_match(p, name, strlen(name), (uint16_t)(port + 1000)) != NULL)
			bad++;
		if (i % 2 == 1) {
			snprintf(name, sizeof(name), "zone%zu.wild.example", i);
			if (policy_match_name(p, name, strlen(name)) != NULL)
				bad++;
		}
		snprintf(name, sizeof(name), "host%zu.exact.example", i + NSCALE);
		if (policy_match_name(p, name, strlen(name)) != NULL)
			bad++;
		snprintf(name, sizeof(name), "x.zone%zu.wild.example", i + NSCALE);
		if (policy_match_name(p, name, strlen(name)) != NULL)
			bad++;
	}
	/* names that are not members at all */
	if (policy_match_name(p, "exact.example", 13) != NULL ||
	    policy_match_name(p, "wild.example", 12) != NULL ||
	    policy_match_name(p, "host0.exact.example.evil", 24) != NULL)
		bad++;
	assert_int_equal(bad, 0);
	policy_free(p);
}

/* Long names: a name of many labels, and one of exactly 253 characters, find their
 * wildcard; a longer one never matches. */
static void
test_long_names(void **state)
{
	struct policy *p = policy_new();
	char name[254];
	size_t i;

	(void)state;
	add(p, "**.z.example", "1", 0, "deep");
	add(p, "*.z.example", "2", 0, "one");
	/* "a.a.a. ... .z.example": 2*121 + 9 = 251 characters, 123 labels */
	for (i = 0; i < 121; i++) {
		name[2 * i] = 'a';
		name[2 * i + 1] = '.';
	}
	strcpy(name + 242, "z.example");
	assert_int_equal(strlen(name), 251);
	assert_string_equal(who(p, name, 1), "deep");
	assert_string_equal(who(p, name, 2), "-");		/* *. : one label only */
	assert_string_equal(who(p, name + 240, 1), "deep");	/* "a.z.example" */
	assert_string_equal(who(p, name + 240, 2), "one");
	{
		char n253[260] = "aaa.";

		strcat(n253, name + 2);		/* 4 + 249 */
		assert_int_equal(strlen(n253), 253);
		assert_string_equal(who(p, n253, 1), "deep");
	}
	/* over DNAME_MAX: never a match */
	{
		char big[300];

		memset(big, 'a', sizeof(big));
		strcpy(big + 300 - 12, ".z.example");
		assert_string_equal(who(p, big, 1), "-");
	}
	policy_free(p);
}

/* A route's rule (RULE_ROUTE) decides its port for its name, is never refused for
 * disagreeing with an allow rule, and after policy_finish takes 'private' from the allow
 * rule of its name on its port; policy_find finds rules by pattern and port. */
static void
test_route_rules(void **state)
{
	struct policy *p = policy_new();
	struct portrange pr = { 587, 587 }, pr25 = { 25, 25 };
	const struct rule *r;
	char err[256] = "";
	unsigned port = 0;

	(void)state;
	add(p, "smtp.gmail.com", "465,587", RULE_PRIVATE, "allow");
	add(p, "smtp.gmail.com", "587", RULE_ROUTE, "route");
	add(p, "db.example", "5432,25", 0, "db-allow");
	add(p, "db.example", "5432", RULE_ROUTE | RULE_PRIVATE, "db-route");
	add(p, "mx.example", "25", RULE_ROUTE, "mx-route");	/* before its allow rule */
	add(p, "mx.example", "25", RULE_PRIVATE, "mx-allow");
	/* two allow rules that disagree are still refused */
	assert_int_equal(policy_add(p, "db.example", &pr25, 1, RULE_PRIVATE, "x", 0, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "port 25: db-allow allows it without 'private'"));
	/* the route's rule decides its port, the allow rule the others */
	assert_string_equal(who(p, "smtp.gmail.com", 587), "route");
	assert_string_equal(who(p, "smtp.gmail.com", 465), "allow");
	assert_string_equal(who(p, "mx.example", 25), "mx-route");
	assert_int_equal(policy_match(p, "smtp.gmail.com", 14, 587)->flags, RULE_ROUTE);
	policy_finish(p);
	assert_int_equal(policy_match(p, "smtp.gmail.com", 14, 587)->flags,
	    RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED);
	assert_int_equal(policy_match(p, "smtp.gmail.com", 14, 465)->flags, RULE_PRIVATE);
	assert_int_equal(policy_match(p, "db.example", 10, 5432)->flags, RULE_ROUTE | RULE_PRIVATE);
	assert_int_equal(policy_match(p, "db.example", 10, 25)->flags, 0);
	assert_int_equal(policy_match(p, "mx.example", 10, 25)->flags,
	    RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED);
	/* policy_find */
	r = policy_find(p, "SMTP.gmail.com.", &pr, 1, RULE_ROUTE, &port);
	assert_non_null(r);
	assert_string_equal(r->src, "allow");
	assert_int_equal(port, 587);
	r = policy_find(p, "smtp.gmail.com", &pr, 1, 0, NULL);
	assert_string_equal(r->src, "route");
	assert_null(policy_find(p, "smtp.gmail.com", &pr25, 1, 0, NULL));
	assert_null(policy_find(p, "*.gmail.com", &pr, 1, 0, NULL));
	assert_null(policy_find(p, "not a name", &pr, 1, 0, NULL));
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_basic),
		cmocka_unit_test(test_pattern_normalised),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_deny),
		cmocka_unit_test(test_suffix_kind),
		cmocka_unit_test(test_same_name_rules),
		cmocka_unit_test(test_route_rules),
		cmocka_unit_test(test_has_port),
		cmocka_unit_test(test_refused_patterns),
		cmocka_unit_test(test_accepted_wildcards),
		cmocka_unit_test(test_add_copies),
		cmocka_unit_test(test_parse_ports),
		cmocka_unit_test(test_ports_roundtrip),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_long_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
