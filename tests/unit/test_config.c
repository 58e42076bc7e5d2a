/* test_config.c: common/config*.c: every directive and setting, FILE:LINE errors, the
 * environment, config_load's file rules, and config_print -> config_parse round trips. */
#include <arpa/inet.h>
#include <errno.h>
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

#include "addr.h"
#include "config.h"
#include "policy.h"
#include "util.h"

#include "tmpdir.h"

#define NAME "t.conf"
#define ADDR_ADVICE "allow the name the clients use (the forwarder dials what it resolves " \
	"to; add 'private' for private addresses)"
#define NOT_A_SETTING "not a gatehouse setting (the variables are GATEHOUSE_ALLOW, " \
	"GATEHOUSE_DENY, GATEHOUSE_ROUTE, GATEHOUSE_CONFIG and GATEHOUSE_<SETTING>, e.g. GATEHOUSE_DNS_LISTEN)"

static char err[1024];

/* A table row: what goes in (a line, a file, a variable) and the text wanted for it. */
struct in_out {
	const char *in;
	const char *out;
};

/* A row with a file and a variable in. */
struct text_var_out {
	const char *text;
	const char *var;
	const char *out;
};

/* Parse a string (NUL-free unless len given) with an explicit env. */
static int
parse_env(const char *text, char *const *env, struct config **c)
{
	memset(err, 0, sizeof(err));
	return config_parse(NAME, text, strlen(text), env, c, err, sizeof(err));
}

static struct config *
must_parse(const char *text, char *const *env)
{
	struct config *c = NULL;

	if (parse_env(text, env, &c) != 0)
		fail_msg("parse failed: %s\n--- input:\n%s", err, text);
	assert_non_null(c);
	return c;
}

/* 0 when parsing text (with env) fails with exactly the message want and leaves no
 * config; otherwise 1, with what was seen printed under the label what. */
static int
refused_with(const char *what, const char *text, char *const *env, const char *want)
{
	struct config *c = (struct config *)1;
	int rc = parse_env(text, env, &c);

	if (rc == -1 && c == NULL && strcmp(err, want) == 0)
		return 0;
	print_error("%s: rc %d err \"%s\"\n   want \"%s\"\n", what, rc, err, want);
	if (rc == 0)
		config_unref(c);
	return 1;
}

/* refused_with for a file of the lines before, line, and the lines after: the message
 * must be NAME:N: err, N the number of that line. */
static int
line_refused(const char *before, const char *line, const char *after, const char *err_text)
{
	char text[512], want[1024];
	int n = 1;
	const char *p;

	for (p = before; *p != '\0'; p++)
		n += *p == '\n';
	snprintf(text, sizeof(text), "%s%s\n%s", before, line, after);
	snprintf(want, sizeof(want), NAME ":%d: %s", n, err_text);
	return refused_with(line, text, NULL, want);
}

/* The environment of one variable (none when var is NULL); valid until the next call. */
static char *const *
env_of(const char *var)
{
	static char *env[2];

	env[0] = (char *)var;
	env[1] = NULL;
	return env;
}

/* The route listening on port goes to target ("name:port") with flags; it was written at
 * origin unless that is NULL. */
static void
assert_route(const struct config *c, uint16_t port, const char *target, unsigned flags,
    const char *origin)
{
	const struct route *r = config_route(c, port);
	char got[300];

	assert_non_null(r);
	snprintf(got, sizeof(got), "%s:%u", r->name, (unsigned)r->target_port);
	assert_string_equal(got, target);
	assert_int_equal(r->flags, flags);
	if (origin != NULL)
		assert_string_equal(r->origin, origin);
}

/* config_print into a malloc'd string. */
static char *
print_str(const struct config *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	config_print(c, f);
	fclose(f);
	return s;
}

/* 1 if the printed config holds exactly this line. */
static int
has_line(const char *printed, const char *line)
{
	size_t ll = strlen(line);
	const char *p = printed;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == printed || p[-1] == '\n') && (p[ll] == '\n' || p[ll] == '\t'))
			return 1;
		p += ll;
	}
	return 0;
}

/* The rule matched for (name, port) by origin, "-" for none. */
static const char *
match_origin(const struct config *c, const char *name, uint16_t port)
{
	const struct rule *r = policy_match(c->policy, name, strlen(name), port);

	static char where[300];

	return r ? rule_origin(r, where, sizeof(where)) : "-";
}

static char *
addr_str(const struct sockaddr_storage *ss, int with_port, char *buf)
{
	return addr_format((const struct sockaddr *)ss, with_port, buf, ADDR_STRLEN);
}

/* The list is exactly want: its addresses in order, as addr_format writes them (with the
 * port when with_port), separated by one space. */
static void
assert_addrlist(const struct addrlist *l, int with_port, const char *want)
{
	char got[512], b[ADDR_STRLEN];
	size_t i, o = 0;

	got[0] = '\0';
	for (i = 0; i < l->n && o < sizeof(got); i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i > 0 ? " " : "",
		    addr_str(&l->v[i], with_port, b));
	assert_string_equal(got, want);
}

/* ---- every setting: a good value ---- */

static void
test_settings_good(void **state)
{
	/* in: a line written in the file; out: the line config_print writes for it */
	static const struct in_out cases[] = {
		{ "dns-listen 127.0.0.1:5353 [::1]", "dns-listen 127.0.0.1:5353 [::1]:53" },
		{ "dns-listen 172.19.0.120", "dns-listen 172.19.0.120:53" },
		{ "forward-listen 172.19.0.120 fd00::1", "forward-listen 172.19.0.120 fd00::1" },
		{ "answer 172.19.0.120 fd00::120", "answer 172.19.0.120 fd00::120" },
		{ "answer fd00::120 172.19.0.120 10.0.0.1", "answer 172.19.0.120 10.0.0.1 fd00::120" },
		{ "answer auto", "answer auto" },
		{ "blocked refused", "blocked refused" },
		{ "blocked nxdomain", "blocked nxdomain" },
		{ "ttl 300", "ttl 300" },
		{ "ttl 2147483647", "ttl 2147483647" },
		{ "negative-ttl 0", "negative-ttl 0" },
		{ "upstream 9.9.9.9 [2620:fe::fe]:5353", "upstream 9.9.9.9:53 [2620:fe::fe]:5353" },
		{ "upstream system", "upstream system" },
		{ "audit /var/log/gatehouse.jsonl", "audit /var/log/gatehouse.jsonl" },
		{ "audit stderr", "audit stderr" },
		{ "audit-rate 0", "audit-rate 0" },
		{ "audit-rate 10000000", "audit-rate 10000000" },
		{ "metrics 127.0.0.1:9100", "metrics 127.0.0.1:9100" },
		{ "metrics [::1]:9100", "metrics [::1]:9100" },
		{ "metrics off", "metrics off" },
		{ "peek-timeout 1.5", "peek-timeout 1500ms" },
		{ "connect-timeout 250ms", "connect-timeout 250ms" },
		{ "idle-timeout 5m", "idle-timeout 300" },
		{ "idle-timeout 604800", "idle-timeout 604800" },
		{ "half-close-timeout 2s", "half-close-timeout 2" },
		{ "lookup-timeout 7", "lookup-timeout 7" },
		{ "max-conns 100", "max-conns 100" },
		{ "max-conns-per-client 10", "max-conns-per-client 10" },
		{ "max-lookups 32", "max-lookups 32" },
		{ "cache-min-ttl 0", "cache-min-ttl 0" },
		{ "cache-max-ttl 3600", "cache-max-ttl 3600" },
		{ "negative-cache-ttl 30", "negative-cache-ttl 30" },
		{ "dns-tcp-max 16", "dns-tcp-max 16" },
		{ "dns-tcp-idle 500ms", "dns-tcp-idle 500ms" },
		{ "user gatehouse", "user gatehouse" },
		{ "sandbox off", "sandbox off" },
		{ "sandbox on", "sandbox on" },
		{ "lookups-socket off", "lookups-socket off" },
		{ "lookups-socket @gh-1._:/-Z", "lookups-socket @gh-1._:/-Z" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = NULL;
		char *out;

		if (parse_env(cases[i].in, NULL, &c) != 0) {
			print_error("'%s' refused: %s\n", cases[i].in, err);
			bad++;
			continue;
		}
		out = print_str(c);
		if (!has_line(out, cases[i].out)) {
			print_error("'%s': no line '%s' in:\n%s\n", cases[i].in, cases[i].out, out);
			bad++;
		}
		free(out);
		config_unref(c);
	}
	assert_int_equal(bad, 0);
}

/* The integer settings: the default (an empty configuration) and the value the file of
 * test_settings_fields gives, read from struct config by offset; UNCHECKED where the
 * test does not look. */
struct field_case {
	const char *name;
	size_t offset, size;
	long long dflt, set;
};
#define UNCHECKED (-1LL)
#define FIELD(f, dflt_, set_) \
	{ #f, offsetof(struct config, f), sizeof(((struct config *)0)->f), (dflt_), (set_) }

static const struct field_case fields[] = {
	FIELD(dns_listen_default, 1, 0),
	FIELD(forward_listen_default, 1, 0),
	FIELD(answer_auto, 1, 0),
	FIELD(blocked_refused, 0, 1),
	FIELD(ttl, 60, 30),
	FIELD(negative_ttl, 60, 20),
	FIELD(upstream_system, 1, 0),
	FIELD(metrics_on, 0, 1),
	FIELD(peek_timeout_ms, 10000, 1500),
	FIELD(connect_timeout_ms, 10000, 250),
	FIELD(idle_timeout_ms, 3600000, 300000),
	FIELD(max_conns, 4096, 100),
	FIELD(max_conns_per_client, 512, 10),
	FIELD(sandbox, 1, 1),
	/* set by the test file, their defaults not checked here */
	FIELD(nanswer4, UNCHECKED, 1),
	FIELD(nanswer6, UNCHECKED, 1),
	FIELD(audit_rate, UNCHECKED, 7),
	FIELD(half_close_timeout_ms, UNCHECKED, 2000),
	FIELD(lookup_timeout_ms, UNCHECKED, 3000),
	FIELD(max_lookups, UNCHECKED, 32),
	FIELD(cache_min_ttl, UNCHECKED, 1),
	FIELD(cache_max_ttl, UNCHECKED, 60),
	FIELD(negative_cache_ttl, UNCHECKED, 2),
	FIELD(dns_tcp_max, UNCHECKED, 16),
	FIELD(dns_tcp_idle_ms, UNCHECKED, 500),
};

/* Field f of c (an int, unsigned, uint32_t, size_t or uint64_t: none is negative here). */
static long long
field_value(const struct config *c, const struct field_case *f)
{
	const unsigned char *p = (const unsigned char *)c + f->offset;
	uint64_t v64;
	uint32_t v32;

	if (f->size == sizeof(v64)) {
		memcpy(&v64, p, sizeof(v64));
		return (long long)v64;
	}
	assert_int_equal(f->size, sizeof(v32));
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

/* Every field of the table holds its default (dflt) or its set value: each one that
 * does not is named, then the test fails. */
static void
assert_fields(const struct config *c, int dflt)
{
	size_t i, bad = 0;

	for (i = 0; i < NELEM(fields); i++) {
		long long want = dflt ? fields[i].dflt : fields[i].set, got;

		if (want == UNCHECKED)
			continue;
		got = field_value(c, &fields[i]);
		if (got != want) {
			print_error("%s is %lld, want %lld\n", fields[i].name, got, want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The values land in the right fields. */
static void
test_settings_fields(void **state)
{
	struct config *c;
	char b[ADDR_STRLEN];

	(void)state;
	c = must_parse("dns-listen 127.0.0.1:5353 [::1]\n"
	    "forward-listen 172.19.0.120\n"
	    "answer 172.19.0.120 fd00::120\n"
	    "blocked refused\n"
	    "ttl 30\nnegative-ttl 20\n"
	    "upstream 9.9.9.9\n"
	    "audit /tmp/a.log\naudit-rate 7\n"
	    "metrics 127.0.0.1:9100\n"
	    "peek-timeout 1.5\nconnect-timeout 250ms\nidle-timeout 5m\n"
	    "half-close-timeout 2s\nlookup-timeout 3\n"
	    "max-conns 100\nmax-conns-per-client 10\nmax-lookups 32\n"
	    "cache-min-ttl 1\ncache-max-ttl 60\nnegative-cache-ttl 2\n"
	    "dns-tcp-max 16\ndns-tcp-idle 500ms\nuser gh\n", NULL);
	assert_addrlist(&c->dns_listen, 1, "127.0.0.1:5353 [::1]:53");
	assert_addrlist(&c->forward_listen, 0, "172.19.0.120");
	assert_int_equal(addr_port((struct sockaddr *)&c->forward_listen.v[0]), 0);
	assert_int_equal(c->answer4[0].s_addr, inet_addr("172.19.0.120"));
	assert_addrlist(&c->upstream, 1, "9.9.9.9:53");
	assert_string_equal(c->audit, "/tmp/a.log");
	assert_string_equal(addr_str(&c->metrics, 1, b), "127.0.0.1:9100");
	assert_string_equal(c->user, "gh");
	assert_string_equal(c->path, NAME);
	assert_fields(c, 0);
	config_unref(c);
}

/* An empty config is legal: no rules, the documented defaults (DESIGN.md table). */
static void
test_empty_and_defaults(void **state)
{
	static const char *const empties[] = { "", "\n", "# only a comment\n", "  \t \r\n\n",
	    "   # indented comment\n\n# another" };
	struct config *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		c = must_parse(empties[i], NULL);
		assert_int_equal(policy_count(c->policy), 0);
		assert_int_equal(c->nroutes, 0);
		assert_fields(c, 1);
		config_unref(c);
	}
	/* no buffer at all (config_load with a missing default file) */
	assert_int_equal(config_parse(NULL, NULL, 0, NULL, &c, err, sizeof(err)), 0);
	assert_null(c->path);
	assert_int_equal(policy_count(c->policy), 0);
	assert_addrlist(&c->dns_listen, 1, "0.0.0.0:53 [::]:53");
	assert_addrlist(&c->forward_listen, 0, "0.0.0.0 ::");
	assert_string_equal(c->audit, "stdout");
	assert_true(c->cache_min_ttl <= c->cache_max_ttl);
	assert_fields(c, 1);
	config_unref(c);
}

/* ---- every setting: a bad value, with the exact "FILE:LINE: ..." message ---- */

static void
test_settings_bad(void **state)
{
	/* in: a line written on line 3, after a comment and a blank line; out: the error
	 * after "t.conf:3: " */
	static const struct in_out cases[] = {
		{ "dns-listen", "'dns-listen' needs a value" },
		{ "dns-listen 1.2.3.4:0", "dns-listen: '0': port must be 1-65535" },
		{ "dns-listen 127.0.0.1:53 dns.google", "dns-listen: 'dns.google': not an IP address" },
		{ "forward-listen 1.2.3.4:443", "forward-listen: '1.2.3.4': no port expected here" },
		{ "forward-listen [::]:443", "forward-listen: '::': no port expected here" },
		{ "answer 1.2.3.4 bogus", "answer: 'bogus' is neither 'auto' nor an IP address" },
		{ "answer 1.2.3.4:53", "answer: '1.2.3.4:53' is neither 'auto' nor an IP address" },
		{ "blocked servfail", "'blocked servfail': expected nxdomain or refused" },
		{ "blocked nxdomain refused", "'blocked' takes one value" },
		{ "ttl", "'ttl' needs a value" },
		{ "ttl -1", "'ttl -1': expected a whole number 0-2147483647" },
		{ "ttl 2147483648", "'ttl 2147483648': expected a whole number 0-2147483647" },
		{ "ttl 1 2", "'ttl' takes one value" },
		{ "negative-ttl x", "'negative-ttl x': expected a whole number 0-2147483647" },
		{ "upstream dns.google", "upstream: 'dns.google': not an IP address" },
		{ "upstream 9.9.9.9:0", "upstream: '0': port must be 1-65535" },
		{ "audit", "'audit' needs a value" },
		{ "audit a b", "'audit' takes one value" },
		{ "audit-rate 10000001", "'audit-rate 10000001': expected a whole number 0-10000000" },
		{ "audit-rate -5", "'audit-rate -5': expected a whole number 0-10000000" },
		{ "metrics 127.0.0.1",
		  "metrics: '127.0.0.1': a port is required (ADDR:PORT) (write off or ADDR:PORT)" },
		{ "metrics on", "metrics: 'on': not an IP address (write off or ADDR:PORT)" },
		{ "peek-timeout 0", "'peek-timeout 0': expected a duration such as 10, 1.5, 250ms or "
		  "5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "connect-timeout 10d", "'connect-timeout 10d': expected a duration such as 10, 1.5, "
		  "250ms or 5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "idle-timeout 604801", "'idle-timeout 604801': expected a duration such as 10, 1.5, "
		  "250ms or 5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "half-close-timeout -1", "'half-close-timeout -1': expected a duration such as 10, "
		  "1.5, 250ms or 5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "lookup-timeout 1.x", "'lookup-timeout 1.x': expected a duration such as 10, 1.5, "
		  "250ms or 5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "max-conns 0", "'max-conns 0': expected a whole number 1-1000000" },
		{ "max-conns-per-client 1000001",
		  "'max-conns-per-client 1000001': expected a whole number 1-1000000" },
		{ "max-lookups 100001", "'max-lookups 100001': expected a whole number 1-100000" },
		{ "cache-min-ttl 86401", "'cache-min-ttl 86401': expected a whole number 0-86400" },
		{ "cache-max-ttl 0", "'cache-max-ttl 0': expected a whole number 1-86400" },
		{ "negative-cache-ttl 3601", "'negative-cache-ttl 3601': expected a whole number 0-3600" },
		{ "dns-tcp-max 0", "'dns-tcp-max 0': expected a whole number 1-100000" },
		{ "dns-tcp-idle 0ms", "'dns-tcp-idle 0ms': expected a duration such as 10, 1.5, 250ms "
		  "or 5m (seconds unless marked; more than 0, at most 7 days)" },
		{ "user a b", "'user' takes one value" },
		{ "user", "'user' needs a value" },
		{ "sandbox yes", "'sandbox yes': expected on or off (off is for debugging only)" },
		{ "sandbox on off", "'sandbox' takes one value" },
		{ "lookups-socket /run/gatehouse/lookups", "'lookups-socket /run/gatehouse/lookups': "
		  "expected off or @NAME (an abstract unix socket name: 1-107 letters, digits or "
		  "._:/-)" },
		{ "lookups-socket @", "'lookups-socket @': expected off or @NAME (an abstract unix "
		  "socket name: 1-107 letters, digits or ._:/-)" },
		{ "lookups-socket @a\\b", "'lookups-socket @a\\b': expected off or @NAME (an "
		  "abstract unix socket name: 1-107 letters, digits or ._:/-)" },
		{ "bogus 1", "unknown directive 'bogus'" },
		{ "Allow a.com 443", "unknown directive 'Allow'; did you mean 'allow'?" },
		{ "forward-listn 10.0.0.1", "unknown directive 'forward-listn'; did you mean "
		  "'forward-listen'?" },
		{ "ttl\x01 5", "control character 0x01 in the line" },
		{ "ttl 5\x1b", "control character 0x1b in the line" },
		{ "allow b\xc3\xbc" "cher.de 443", "a non-ASCII character (U+00FC) at column 8: write "
		  "names as A-labels (xn--...)" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += line_refused("# settings\n\n", cases[i].in, "ttl 5\n", cases[i].out);
	assert_int_equal(bad, 0);
}

/* Settings that depend on each other: the message must still name the file and line
 * (DESIGN.md: "Bad configuration is a startup error with FILE:LINE: what is wrong"). */
static void
test_cross_setting_error(void **state)
{
	struct config *c;

	(void)state;
	assert_int_equal(parse_env("# ttl\ncache-min-ttl 600\n", NULL, &c), -1);
	assert_non_null(strstr(err, "600 is above cache-max-ttl 300"));
	if (strncmp(err, NAME ":2: ", strlen(NAME ":2: ")) != 0)
		fail_msg("\"%s\" does not start with \"" NAME ":2: \" (the cache-min-ttl line)", err);
	assert_int_equal(parse_env("cache-max-ttl 50\ncache-min-ttl 100\n", NULL, &c), -1);
	assert_non_null(strstr(err, "100 is above cache-max-ttl 50"));
	if (strncmp(err, NAME ":", strlen(NAME ":")) != 0)
		fail_msg("\"%s\" does not name the file " NAME, err);
	/* equal is fine */
	c = must_parse("cache-max-ttl 50\ncache-min-ttl 50\n", NULL);
	config_unref(c);
}

/* A setting written twice names the first line; env entries replace without error. */
static void
test_set_twice(void **state)
{
	struct config *c;

	(void)state;
	assert_int_equal(parse_env("ttl 1\n# comment\n\nttl 2\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":4: 'ttl' is set twice (first on line 1)");
	assert_int_equal(parse_env("allow a.example 443\ndns-listen 1.2.3.4\n\ndns-listen 1.2.3.4\n",
	    NULL, &c), -1);
	assert_string_equal(err, NAME ":4: 'dns-listen' is set twice (first on line 2)");
	/* a bad value on the first line is reported there, not as "set twice" */
	assert_int_equal(parse_env("ttl x\nttl 2\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":1: 'ttl x': expected a whole number 0-2147483647");
	/* allow and route lines accumulate */
	c = must_parse("allow a.example 443\nallow a.example 80\n", NULL);
	assert_int_equal(policy_count(c->policy), 2);
	config_unref(c);
}

/* Comments, blanks, CRLF, no final newline; line numbers count every line. */
static void
test_lines(void **state)
{
	struct config *c;

	(void)state;
	c = must_parse("# head\r\n"
	    "allow a.example 443 # trailing comment\r\n"
	    "\r\n"
	    "allow b.example 443#comment glued to a value\r\n"
	    "\tallow\tc.example\t80,8080\t\r\n"
	    "   \r\n"
	    "allow d.example 22 private", NULL);		/* no final newline */
	assert_int_equal(policy_count(c->policy), 4);
	assert_string_equal(match_origin(c, "a.example", 443), NAME ":2");
	assert_string_equal(match_origin(c, "b.example", 443), NAME ":4");
	assert_string_equal(match_origin(c, "c.example", 8080), NAME ":5");
	assert_string_equal(match_origin(c, "d.example", 22), NAME ":7");
	assert_int_equal(policy_match(c->policy, "d.example", 9, 22)->flags, RULE_PRIVATE);
	config_unref(c);
	/* CRLF: the error line is still right */
	assert_int_equal(parse_env("ttl 5\r\n\r\nbogus\r\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":3: unknown directive 'bogus'");
	/* a NUL byte, with its line */
	{
		static const char text[] = "allow a.example 443\nttl 5\0x\nttl 6\n";
		struct config *c2 = (struct config *)1;

		assert_int_equal(config_parse(NAME, text, sizeof(text) - 1, NULL, &c2, err,
		    sizeof(err)), -1);
		assert_null(c2);
		assert_string_equal(err, NAME ":2: NUL byte in the line");
		/* a NUL at the very start of the buffer */
		assert_int_equal(config_parse(NAME, "\0", 1, NULL, &c2, err, sizeof(err)), -1);
		assert_string_equal(err, NAME ":1: NUL byte in the line");
	}
	/* len is honoured: bytes past it are not read */
	assert_int_equal(config_parse(NAME, "ttl 5\nbogus", 6, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->ttl, 5);
	config_unref(c);
	/* a non-ASCII line far down: its line number */
	assert_int_equal(parse_env("\n\n\n\n\n\n\n\n\nallow \xe4\xbe\x8b.com 443\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":10: a non-ASCII character (U+4F8B) at column 7: write names "
	    "as A-labels (xn--...)");
	/* no name: "config" */
	assert_int_equal(config_parse(NULL, "bogus\n", 6, NULL, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "config:1: unknown directive 'bogus'");
}

/* 256 values on a line are the limit. */
static void
test_max_args(void **state)
{
	char text[8192] = "answer";
	struct config *c;
	int i;

	(void)state;
	for (i = 0; i < 255; i++) {
		char a[24];

		snprintf(a, sizeof(a), " 10.0.%d.%d", i / 200, i % 200 + 1);
		strcat(text, a);
	}
	c = must_parse(text, NULL);	/* "answer" + 255 values = 256 */
	assert_int_equal(c->nanswer4, 255);
	config_unref(c);
	strcat(text, " 10.0.9.1");
	assert_int_equal(parse_env(text, NULL, &c), -1);
	assert_string_equal(err, NAME ":1: more than 256 values on one line");
}

/* ---- allow ---- */

static void
test_allow(void **state)
{
	/* in: an allow line; out: NULL when accepted, else the error after "t.conf:2: " */
	static const struct in_out cases[] = {
		{ "allow smtp.gmail.com 465,587", NULL },
		{ "allow *.githubusercontent.com 443", NULL },
		{ "allow db.internal.example 5432 private", NULL },
		{ "allow Upper.Example. 8000-8099", NULL },
		{ "allow", "usage: allow NAME PORTS [private]" },
		{ "allow a.example", "usage: allow NAME PORTS [private]" },
		{ "allow a.example 443 private extra", "usage: allow NAME PORTS [private]" },
		{ "allow a.example 443 public",
		  "allow a.example: unknown option 'public' (the only one is 'private')" },
		{ "allow a.example 443 PRIVATE",
		  "allow a.example: unknown option 'PRIVATE' (the only one is 'private')" },
		{ "allow a.example 0", "allow a.example: '0': ports are numbers 1-65535" },
		{ "allow a.example 443,", "allow a.example: '443,': trailing comma" },
		{ "allow a.example 10-5", "allow a.example: '10-5': range 10-5 is backwards" },
		{ "allow a.example https", "allow a.example: 'https': ports are numbers 1-65535" },
		{ "allow * 443", "allow '*' matches every name; list the names to allow" },
		{ "allow *.com 443", "allow '*.com' is too broad: it covers a whole public suffix" },
		{ "allow *.co.uk 443", "allow '*.co.uk' is too broad: it covers a whole public suffix" },
		{ "allow a*.b.com 443",
		  "allow 'a*.b.com': '*' is only allowed as the whole first label (*.example.com: "
		  "one label below example.com; **.example.com: any depth)" },
		{ "allow **.com 443", "allow '**.com' is too broad: it covers a whole public suffix" },
		{ "allow .example.com 443", "allow '.example.com': a leading dot is no wildcard "
		  "here: write example.com for the name itself, *.example.com for one label below "
		  "it, **.example.com for any depth" },
		{ "allow **.githubusercontent.com 443", NULL },
		{ "allow 10.0.0.1 443", "allow '10.0.0.1' is an IP address, not a name: " ADDR_ADVICE },
		{ "allow smtp.gmail.com:465 465", "allow 'smtp.gmail.com:465': the port goes in the port "
		  "list, not after the name: write smtp.gmail.com 465" },
		{ "allow fd00::1 465", "allow 'fd00::1' is an IP address, not a name: " ADDR_ADVICE },
		{ "allow a_b.c 443", NULL },
		/* names that look a little like ports are still names (fuzz_config found that
		 * "5-." was refused once printed as "5-") */
		{ "allow 8000-8099 443", NULL },
		{ "allow 5-. 443", NULL },
		{ "allow a..b 443", "allow 'a..b': empty label (two dots in a row, or a leading dot)" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct config *c = NULL;
		int rc;

		if (cases[i].out != NULL) {
			bad += line_refused("ttl 5\n", cases[i].in, "", cases[i].out);
			continue;
		}
		snprintf(text, sizeof(text), "ttl 5\n%s\n", cases[i].in);
		rc = parse_env(text, NULL, &c);
		if (rc != 0 || policy_count(c->policy) != 1) {
			print_error("'%s' refused: %s\n", cases[i].in, err);
			bad++;
		}
		config_unref(c);
	}
	assert_int_equal(bad, 0);
}

/* What the accepted allow lines match. */
static void
test_allow_matches(void **state)
{
	struct config *c;

	(void)state;
	c = must_parse("allow smtp.gmail.com 465,587\n"
	    "allow *.githubusercontent.com 443\n"
	    "allow db.internal.example 5432 private\n"
	    "allow Upper.Example. 8000-8099\n"
	    "allow **.deep.example 443\n", NULL);
	assert_string_equal(match_origin(c, "smtp.gmail.com", 465), NAME ":1");
	assert_string_equal(match_origin(c, "smtp.gmail.com", 587), NAME ":1");
	assert_string_equal(match_origin(c, "smtp.gmail.com", 25), "-");
	assert_string_equal(match_origin(c, "raw.githubusercontent.com", 443), NAME ":2");
	assert_string_equal(match_origin(c, "githubusercontent.com", 443), "-");
	/* *. is one label below; **. any depth; neither the apex */
	assert_string_equal(match_origin(c, "a.raw.githubusercontent.com", 443), "-");
	assert_string_equal(match_origin(c, "a.deep.example", 443), NAME ":5");
	assert_string_equal(match_origin(c, "a.b.c.deep.example", 443), NAME ":5");
	assert_string_equal(match_origin(c, "deep.example", 443), "-");
	assert_string_equal(match_origin(c, "upper.example", 8050), NAME ":4");
	assert_int_equal(policy_match(c->policy, "db.internal.example", 19, 5432)->flags,
	    RULE_PRIVATE);
	assert_int_equal(policy_match(c->policy, "smtp.gmail.com", 14, 465)->flags, 0);
	config_unref(c);
}

/* ---- deny ---- */

/* deny NAME [PORTS] in the file and GATEHOUSE_DENY: a deny wins over every allow that
 * matches (name, port), in either order; without ports it refuses the name itself; it
 * names no port to listen on; --check prints it as written. */
static void
test_deny(void **state)
{
	char *env[] = { "GATEHOUSE_DENY=admin.example.com b.example.com:8443 *.tmp.example.com",
	    "GATEHOUSE_ALLOW=env.example.com:443", NULL };
	struct config *c;
	const struct rule *r;
	char *printed;

	(void)state;
	c = must_parse("deny vault.example.com\n"
	    "allow **.example.com 443,8443\n"
	    "allow vault.example.com 443\n"
	    "deny *.a.example.com 8443\n", env);
	assert_string_equal(match_origin(c, "vault.example.com", 443), NAME ":1");
	r = policy_match_name(c->policy, "vault.example.com", 17);
	assert_non_null(r);
	assert_int_equal(r->flags, RULE_DENY);
	assert_string_equal(match_origin(c, "x.a.example.com", 8443), NAME ":4");
	assert_string_equal(match_origin(c, "x.a.example.com", 443), NAME ":2");
	assert_int_equal(policy_match_name(c->policy, "x.a.example.com", 15)->flags, 0);
	assert_string_equal(match_origin(c, "y.x.a.example.com", 8443), NAME ":2");
	assert_string_equal(match_origin(c, "admin.example.com", 443), "GATEHOUSE_DENY");
	assert_string_equal(match_origin(c, "b.example.com", 8443), "GATEHOUSE_DENY");
	assert_string_equal(match_origin(c, "b.example.com", 443), NAME ":2");
	assert_string_equal(match_origin(c, "q.tmp.example.com", 443), "GATEHOUSE_DENY");
	assert_string_equal(match_origin(c, "env.example.com", 443), "GATEHOUSE_ALLOW");
	/* a deny names no listening port: 443 and 8443 only */
	assert_int_equal(c->nports, 2);
	printed = print_str(c);
	assert_true(has_line(printed, "deny vault.example.com"));
	assert_true(has_line(printed, "deny *.a.example.com 8443"));
	assert_true(has_line(printed, "deny b.example.com 8443"));
	assert_true(has_line(printed, "deny *.tmp.example.com"));
	assert_non_null(strstr(printed, "deny vault.example.com\t# " NAME ":1\n"));
	free(printed);
	config_unref(c);
	/* an exact allow alone on its port is no implicit route when a deny covers it */
	c = must_parse("allow db.example 5432\ndeny db.example 5432\n", NULL);
	assert_null(config_implicit_route(c, 5432));
	config_unref(c);
}

static void
test_deny_bad(void **state)
{
	static const struct in_out cases[] = {
		{ "deny", "usage: deny NAME [PORTS]" },
		{ "deny a.example 443 80", "usage: deny NAME [PORTS]" },
		{ "deny a.example 443 private",
		  "deny a.example: 'private' is for allow rules; a deny refuses whatever the address" },
		{ "deny a.example 0", "deny a.example: '0': ports are numbers 1-65535" },
		{ "deny * 443", "deny '*' matches every name; list the names to allow" },
		{ "deny 10.0.0.1", "deny '10.0.0.1' is an IP address, not a name: " ADDR_ADVICE },
		{ "deny a.*.example", "deny 'a.*.example': '*' is only allowed as the whole first "
		  "label (*.example.com: one label below example.com; **.example.com: any depth)" },
		{ "denny a.example", "unknown directive 'denny'; did you mean 'deny'?" },
	};
	static const struct {
		const char *var, *err;
	} envs[] = {
		{ "GATEHOUSE_DENY=a.example:443:private", "GATEHOUSE_DENY: 'a.example:443:private': "
		  "write NAME[:PORTS], e.g. vault.example.com or vault.example.com:443 (a deny has "
		  "no options)" },
		{ "GATEHOUSE_DENY=a.example:x", "GATEHOUSE_DENY: deny a.example: 'x': ports are "
		  "numbers 1-65535" },
		{ "GATEHOUSE_DENNY=a.example", "GATEHOUSE_DENNY: not a gatehouse setting; did you "
		  "mean GATEHOUSE_DENY?" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += line_refused("ttl 5\n", cases[i].in, "", cases[i].out);
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		bad += refused_with(envs[i].var, "", env_of(envs[i].var), envs[i].err);
	/* a route a deny covers on its port could never be used: an error at the route */
	bad += refused_with("route denied", "allow smtp.gmail.com 465\n"
	    "route 587 smtp.gmail.com:587\ndeny **.gmail.com 25,587\n", NULL,
	    NAME ":2: route 587 smtp.gmail.com: the deny rule **.gmail.com (" NAME ":3) refuses "
	    "smtp.gmail.com on port 587, so the route could never be used");
	bad += refused_with("route denied by env", "route 2525 mx.example:25\n",
	    env_of("GATEHOUSE_DENY=mx.example"), NAME ":1: route 2525 mx.example: the deny "
	    "rule mx.example (GATEHOUSE_DENY) refuses mx.example on port 2525, so the route "
	    "could never be used");
	assert_int_equal(bad, 0);
}

/* ---- route ---- */

static void
test_route(void **state)
{
	struct config *c;
	const struct rule *rule;

	(void)state;
	c = must_parse("route 587 smtp.gmail.com:587\n"
	    "route 2525 SMTP.X.com.\n"
	    "route 15432 db.internal.example:5432 private\n", NULL);
	assert_int_equal(c->nroutes, 3);
	assert_route(c, 587, "smtp.gmail.com:587", 0, NAME ":1");
	/* normalised; no target port: the listening one */
	assert_route(c, 2525, "smtp.x.com:2525", 0, NULL);
	assert_route(c, 15432, "db.internal.example:5432", RULE_PRIVATE, NULL);
	assert_null(config_route(c, 25));
	/* each route implies an allow rule for (target, listening port) */
	assert_int_equal(policy_count(c->policy), 3);
	rule = policy_match(c->policy, "smtp.gmail.com", 14, 587);
	assert_non_null(rule);
	assert_int_equal(rule->flags, RULE_ROUTE);
	{ char w[300]; assert_string_equal(rule_origin(rule, w, sizeof(w)), NAME ":1"); }
	assert_string_equal(match_origin(c, "smtp.x.com", 2525), NAME ":2");
	rule = policy_match(c->policy, "db.internal.example", 19, 15432);
	assert_non_null(rule);
	assert_int_equal(rule->flags, RULE_ROUTE | RULE_PRIVATE);
	/* ... for the listening port only */
	assert_string_equal(match_origin(c, "db.internal.example", 5432), "-");
	assert_string_equal(match_origin(c, "smtp.gmail.com", 465), "-");
	config_unref(c);
}

static void
test_route_bad(void **state)
{
	/* in: the lines, the error is on the last one; out: the error */
	static const struct in_out cases[] = {
		{ "route 587", NAME ":1: usage: route PORT NAME[:PORT] [private]" },
		{ "route 587 a.example 1 private", NAME ":1: usage: route PORT NAME[:PORT] [private]" },
		{ "route 587 a.example public",
		  NAME ":1: route 587: unknown option 'public' (the only one is 'private')" },
		{ "route 0 a.example", NAME ":1: route '0': the port must be 1-65535" },
		{ "route 65536 a.example", NAME ":1: route '65536': the port must be 1-65535" },
		{ "route smtp a.example", NAME ":1: route 'smtp': the port must be 1-65535" },
		{ "route 587 a.example:0",
		  NAME ":1: route 587: 'a.example:0': the target port must be 1-65535" },
		{ "route 587 a.example:",
		  NAME ":1: route 587: 'a.example:': the target port must be 1-65535" },
		{ "route 587 *.gmail.com:587",
		  NAME ":1: route 587: the target must be one name, not a wildcard" },
		{ "route 587 *.gmail.com",
		  NAME ":1: route 587: the target must be one name, not a wildcard" },
		{ "route 587 10.0.0.1:25", NAME ":1: route 587: '10.0.0.1' is an IP address, not a "
		  "name: " ADDR_ADVICE },
		{ "route 587 https://smtp.gmail.com:587", NAME ":1: route 587: 'https://smtp.gmail.com' "
		  "is a URL: write the host only (smtp.gmail.com)" },
		{ "route 587 :25", NAME ":1: route 587: '': empty name" },
		{ "route 587 a..b:25",
		  NAME ":1: route 587: 'a..b': empty label (two dots in a row, or a leading dot)" },
		{ "route 587 smtp.gmail.com:587\n# x\nroute 587 smtp.other.com:587",
		  NAME ":3: route 587: port 587 already has a route (" NAME ":1)" },
		{ "route 587 smtp.gmail.com\nroute 587 smtp.gmail.com private",
		  NAME ":2: route 587: port 587 already has a route (" NAME ":1)" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += refused_with(cases[i].in, cases[i].in, NULL, cases[i].out);
	assert_int_equal(bad, 0);
}

/* ---- the environment ---- */

static void
test_env_allow_route(void **state)
{
	char *env[] = {
		"PATH=/usr/bin:/bin",
		"GATEHOUSE_ALLOW=smtp.gmail.com:465,587 *.github.com:443;db.internal.example:5432:private"
		    "\t\tx.example:1",
		"HOME=/root",
		"GATEHOUSE_ROUTE=587=smtp.gmail.com:587 2525=smtp.x.com;5432=db.x:5432:private "
		    "2526=smtp.y.com:private",
		NULL,
	};
	struct config *c;

	(void)state;
	c = must_parse("allow file.example 443\n", env);
	/* 1 file rule + 4 env rules + 4 implied by routes */
	assert_int_equal(policy_count(c->policy), 9);
	assert_string_equal(match_origin(c, "file.example", 443), NAME ":1");
	assert_string_equal(match_origin(c, "smtp.gmail.com", 465), "GATEHOUSE_ALLOW");
	/* on a routed port the route's own rule decides */
	assert_string_equal(match_origin(c, "smtp.gmail.com", 587), "GATEHOUSE_ROUTE");
	assert_string_equal(match_origin(c, "api.github.com", 443), "GATEHOUSE_ALLOW");
	assert_string_equal(match_origin(c, "github.com", 443), "-");
	assert_string_equal(match_origin(c, "x.example", 1), "GATEHOUSE_ALLOW");
	assert_int_equal(policy_match(c->policy, "db.internal.example", 19, 5432)->flags,
	    RULE_PRIVATE);
	assert_int_equal(c->nroutes, 4);
	assert_route(c, 587, "smtp.gmail.com:587", 0, "GATEHOUSE_ROUTE");
	assert_route(c, 2525, "smtp.x.com:2525", 0, NULL);
	assert_route(c, 5432, "db.x:5432", RULE_PRIVATE, NULL);
	assert_route(c, 2526, "smtp.y.com:2526", RULE_PRIVATE, NULL);
	assert_string_equal(match_origin(c, "db.x", 5432), "GATEHOUSE_ROUTE");
	assert_int_equal(policy_match(c->policy, "db.x", 4, 5432)->flags,
	    RULE_PRIVATE | RULE_ROUTE);
	config_unref(c);
}

/* Env settings replace the file's; unknown GATEHOUSE_ names are errors; others ignored. */
static void
test_env_settings(void **state)
{
	char *env1[] = { "GATEHOUSE_DNS_LISTEN=127.0.0.1:5353 [::1]:5353", "GATEHOUSE_TTL=7",
	    "GATEHOUSE_MAX_CONNS_PER_CLIENT=9", "GATEHOUSE_PEEK_TIMEOUT=250ms",
	    "GATEHOUSE_BLOCKED=refused", "GATEHOUSE_CONFIG=/nonexistent/ignored.conf",
	    "GATEHOUSEX=1", "GATEHOUSE_ALLOW", "NOT_GATEHOUSE_TTL=x", "GATEHOUSE=1",
	    "GATEHOUSE_UPSTREAM=1.1.1.1;9.9.9.9:5353", NULL };
	struct config *c;

	(void)state;
	c = must_parse("dns-listen 0.0.0.0:53\nttl 300\nmax-conns-per-client 100\n", env1);
	assert_addrlist(&c->dns_listen, 1, "127.0.0.1:5353 [::1]:5353");
	assert_int_equal(c->ttl, 7);
	assert_int_equal(c->max_conns_per_client, 9);
	assert_int_equal(c->peek_timeout_ms, 250);
	assert_int_equal(c->blocked_refused, 1);
	assert_int_equal(c->upstream_system, 0);
	assert_addrlist(&c->upstream, 1, "1.1.1.1:53 9.9.9.9:5353");
	config_unref(c);
}

static void
test_env_errors(void **state)
{
	static const struct {
		const char *var;
		const char *file;
		const char *err;
	} cases[] = {
		{ "GATEHOUSE_TTL=abc", "",
		  "GATEHOUSE_TTL: 'ttl abc': expected a whole number 0-2147483647" },
		{ "GATEHOUSE_TTL=", "", "GATEHOUSE_TTL: 'ttl' needs a value" },
		{ "GATEHOUSE_TTL=1 2", "", "GATEHOUSE_TTL: 'ttl' takes one value" },
		{ "GATEHOUSE_=1", "", "GATEHOUSE_: " NOT_A_SETTING },
		{ "GATEHOUSE_DNS_LISTEN=1.2.3.4:0", "", "GATEHOUSE_DNS_LISTEN: dns-listen: '0': port must be 1-65535" },
		{ "GATEHOUSE_ALLOW=a.example", "",
		  "GATEHOUSE_ALLOW: 'a.example': write NAME:PORTS[:private], e.g. smtp.gmail.com:465,587" },
		{ "GATEHOUSE_ALLOW=a.example:443 b.example:0", "",
		  "GATEHOUSE_ALLOW: allow b.example: '0': ports are numbers 1-65535" },
		{ "GATEHOUSE_ALLOW=a.example:443:public", "",
		  "GATEHOUSE_ALLOW: allow a.example: unknown option 'public' (the only one is 'private')" },
		{ "GATEHOUSE_ALLOW=*.com:443", "",
		  "GATEHOUSE_ALLOW: allow '*.com' is too broad: it covers a whole public suffix" },
		{ "GATEHOUSE_ALLOW=b\xc3\xbc" "cher.de:443", "",
		  "GATEHOUSE_ALLOW: in the value, a non-ASCII character (U+00FC) at column 2: write "
		  "names as A-labels (xn--...)" },
		{ "GATEHOUSE_ROUTE=587", "",
		  "GATEHOUSE_ROUTE: '587': write PORT=NAME[:PORT][:private], e.g. 587=smtp.gmail.com:587" },
		{ "GATEHOUSE_ROUTE=587=*.gmail.com:587", "",
		  "GATEHOUSE_ROUTE: route 587: the target must be one name, not a wildcard" },
		{ "GATEHOUSE_ROUTE=587=smtp.gmail.com:587", "route 587 smtp.gmail.com\n",
		  "GATEHOUSE_ROUTE: route 587: port 587 already has a route (" NAME ":1)" },
		{ "GATEHOUSE_ROUTE=587=a.example 587=b.example", "",
		  "GATEHOUSE_ROUTE: route 587: port 587 already has a route (GATEHOUSE_ROUTE)" },
		{ "GATEHOUSE_ROUTE=587=a.example:25:public", "",
		  "GATEHOUSE_ROUTE: route 587: unknown option 'public' (the only one is 'private')" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *env[] = { "HOME=/", (char *)cases[i].var, NULL };

		bad += refused_with(cases[i].var, cases[i].file, env, cases[i].err);
	}
	assert_int_equal(bad, 0);
}

/* An empty GATEHOUSE_ALLOW adds nothing; only blanks and ';' too. */
static void
test_env_empty_lists(void **state)
{
	char *env[] = { "GATEHOUSE_ALLOW=", "GATEHOUSE_ROUTE= ; ;", NULL };
	struct config *c = must_parse("", env);

	(void)state;
	assert_int_equal(policy_count(c->policy), 0);
	assert_int_equal(c->nroutes, 0);
	config_unref(c);
}

/* ---- mistakes a new user makes: what is wrong and what to write instead ---- */

/* In the file: one row per message of issue 11's table, and their neighbours. */
static void
test_mistakes_file(void **state)
{
	/* in: a line on line 2, after "ttl 5"; out: the error after "t.conf:2: " */
	static const struct in_out cases[] = {
		{ "allow 443 example.com",
		  "allow 443 example.com: the name comes first: write allow example.com 443" },
		{ "allow 465,587 smtp.gmail.com private",
		  "allow 465,587 smtp.gmail.com: the name comes first: write allow smtp.gmail.com "
		  "465,587" },
		{ "allow 10.0.0.0/8 443",
		  "allow '10.0.0.0/8' is an address prefix, not a name: " ADDR_ADVICE },
		{ "allow fd00::/8 443", "allow 'fd00::/8' is an address prefix, not a name: " ADDR_ADVICE },
		{ "allow [fd00::1] 443", "allow '[fd00::1]' is an IP address, not a name: " ADDR_ADVICE },
		{ "allow 127.1 443", "allow '127.1' is an IP address, not a name: " ADDR_ADVICE },
		{ "allow https://example.com 443",
		  "allow 'https://example.com' is a URL: write the host only (example.com)" },
		{ "allow https://user@example.com:8443/x?y 8443",
		  "allow 'https://user@example.com:8443/x?y' is a URL: write the host only "
		  "(example.com), and put its port 8443 in the port list" },
		{ "allow example.com/path 443",
		  "allow 'example.com/path': write the host only (example.com), without a path" },
		{ "allow example.123 443",
		  "allow 'example.123' is not a name: its last label is a number, which no top-level "
		  "domain is (and URL parsers read such a host as an IPv4 address); check the name" },
		{ "allow *.example.123 443",
		  "allow 'example.123' is not a name: its last label is a number, which no top-level "
		  "domain is (and URL parsers read such a host as an IPv4 address); check the name" },
		{ "allow a.example 443, 80",
		  "allow a.example: a blank at column 21 splits the port list: write it as 443,80" },
		{ "allow a.example 443 ,80 private",
		  "allow a.example: a blank at column 20 splits the port list: write it as 443,80" },
		{ "allow a.example\t443,\t80, 8080",
		  "allow a.example: a blank at column 21 splits the port list: write it as 443,80,8080" },
		{ "\xef\xbb\xbf" "allow a.example 443",
		  "a UTF-8 byte order mark (BOM) at column 1: save the file without it (plain ASCII)" },
		{ "allow\xc2\xa0" "a.example 443",
		  "a no-break space (U+00A0) at column 6: replace it with an ordinary space" },
		{ "allow a.example\xe2\x80\xaf" "443",
		  "a no-break space (U+202F) at column 16: replace it with an ordinary space" },
		{ "allow a.example 443\xe2\x80\x8b",
		  "a zero-width character (U+200B) at column 20: delete it" },
		{ "allow a.example 8000\xe2\x80\x93" "8099",
		  "a Unicode dash (U+2013) at column 21: write an ASCII '-'" },
		{ "allow \xe2\x80\x9c" "a.example\xe2\x80\x9d 443",
		  "a curly quote (U+201C) at column 7: quotes are not part of the syntax; delete it" },
		{ "allow a.example 443 \xff",
		  "a byte 0xFF that is not UTF-8 at column 21: the file must be ASCII (write names as "
		  "A-labels, xn--...)" },
		{ "allow \"example.com\" 443",
		  "\"example.com\": quotes are not part of the syntax; write the values without them" },
		{ "audit '/var/log/x.log'",
		  "'/var/log/x.log': quotes are not part of the syntax; write the values without them" },
		{ "route 587 smtp.gmail.com:587 \"private\"",
		  "\"private\": quotes are not part of the syntax; write the values without them" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		bad += line_refused("ttl 5\n", cases[i].in, "", cases[i].out);
	/* a BOM is named as such on the first line, a comment or not */
	{
		struct config *c = NULL;

		assert_int_equal(parse_env("\xef\xbb\xbf# gatehouse.conf\nallow a.example 443\n",
		    NULL, &c), -1);
	}
	assert_string_equal(err, NAME ":1: a UTF-8 byte order mark (BOM) at column 1: save the "
	    "file without it (plain ASCII)");
	/* non-ASCII in a comment is fine */
	config_unref(must_parse("allow a.example 443 # caf\xc3\xa9\xc2\xa0ok\n", NULL));
	assert_int_equal(bad, 0);
}

/* In the environment: the same rows, as GATEHOUSE_ALLOW items, plus what only happens
 * there (commas between items, quotes an env_file kept). */
static void
test_mistakes_env(void **state)
{
	/* in: a variable; out: the error */
	static const struct in_out cases[] = {
		{ "GATEHOUSE_ALLOW=443:example.com",
		  "GATEHOUSE_ALLOW: '443:example.com': the name comes first: write example.com:443" },
		{ "GATEHOUSE_ALLOW=10.0.0.0/8:443",
		  "GATEHOUSE_ALLOW: allow '10.0.0.0/8' is an address prefix, not a name: " ADDR_ADVICE },
		{ "GATEHOUSE_ALLOW=[fd00::1]:443",
		  "GATEHOUSE_ALLOW: allow '[fd00::1]' is an IP address, not a name: " ADDR_ADVICE },
		{ "GATEHOUSE_ALLOW=fd00::1:443",
		  "GATEHOUSE_ALLOW: allow 'fd00::1:443' is an IP address, not a name: " ADDR_ADVICE },
		{ "GATEHOUSE_ALLOW=https://example.com:443",
		  "GATEHOUSE_ALLOW: 'https://example.com:443' is a URL: write the host only: "
		  "example.com:443" },
		{ "GATEHOUSE_ALLOW=ok.example:80 https://example.com/x",
		  "GATEHOUSE_ALLOW: 'https://example.com/x' is a URL: write the host only: "
		  "example.com:PORTS" },
		{ "GATEHOUSE_ALLOW=example.123:443",
		  "GATEHOUSE_ALLOW: allow 'example.123' is not a name: its last label is a number, which "
		  "no top-level domain is (and URL parsers read such a host as an IPv4 address); check "
		  "the name" },
		{ "GATEHOUSE_ALLOW=a.x:443,b.x:443",
		  "GATEHOUSE_ALLOW: 'a.x:443,b.x:443': separate items with blanks, not commas: "
		  "a.x:443 b.x:443" },
		{ "GATEHOUSE_ALLOW=a.x:443,80,b.x:443:private,c.x",
		  "GATEHOUSE_ALLOW: 'a.x:443,80,b.x:443:private,c.x': separate items with blanks, not "
		  "commas: a.x:443,80 b.x:443:private c.x" },
		{ "GATEHOUSE_ALLOW=a.x:443, 80",
		  "GATEHOUSE_ALLOW: 'a.x:443, 80': a blank splits the port list (blanks separate "
		  "items): write a.x:443,80" },
		{ "GATEHOUSE_ALLOW=a.x:443 ,80",
		  "GATEHOUSE_ALLOW: 'a.x:443 ,80': a blank splits the port list (blanks separate "
		  "items): write a.x:443,80" },
		{ "GATEHOUSE_ALLOW=\"example.com:443\"",
		  "GATEHOUSE_ALLOW: the value is in quotes, which an env_file (docker run --env-file) "
		  "keeps as part of it: write GATEHOUSE_ALLOW=example.com:443" },
		{ "GATEHOUSE_ALLOW='a.x:443 b.x:443'",
		  "GATEHOUSE_ALLOW: the value is in quotes, which an env_file (docker run --env-file) "
		  "keeps as part of it: write GATEHOUSE_ALLOW=a.x:443 b.x:443" },
		{ "GATEHOUSE_TTL=\"60\"",
		  "GATEHOUSE_TTL: the value is in quotes, which an env_file (docker run --env-file) "
		  "keeps as part of it: write GATEHOUSE_TTL=60" },
		{ "GATEHOUSE_ROUTE=\"587=smtp.gmail.com:587\"",
		  "GATEHOUSE_ROUTE: the value is in quotes, which an env_file (docker run --env-file) "
		  "keeps as part of it: write GATEHOUSE_ROUTE=587=smtp.gmail.com:587" },
		{ "GATEHOUSE_ALLOW=a.x:443\xc2\xa0" "b.x:443",
		  "GATEHOUSE_ALLOW: in the value, a no-break space (U+00A0) at column 8: replace it "
		  "with an ordinary space" },
		{ "GATEHOUSE_ALLOW=\xef\xbb\xbf" "a.x:443",
		  "GATEHOUSE_ALLOW: in the value, a UTF-8 byte order mark (BOM) at column 1: save the "
		  "file without it (plain ASCII)" },
		{ "GATEHOUSE_ROUTE=587=https://smtp.gmail.com:587",
		  "GATEHOUSE_ROUTE: route 587: 'https://smtp.gmail.com:587' is a URL: write the host "
		  "only: 587=smtp.gmail.com:587" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		bad += refused_with(cases[i].in, "", env_of(cases[i].in), cases[i].out);
	assert_int_equal(bad, 0);
}

/* Unknown GATEHOUSE_ variables are errors naming the closest real one; lower-case
 * gatehouse_ variables are errors naming the right spelling; others are not ours. */
static void
test_unknown_variables(void **state)
{
	/* in: a variable; out: the error, NULL when accepted (not a gatehouse variable) */
	static const struct in_out cases[] = {
		{ "GATEHOUSE_FORWARD_LISTN=127.0.0.1",
		  "GATEHOUSE_FORWARD_LISTN: not a gatehouse setting; did you mean "
		  "GATEHOUSE_FORWARD_LISTEN?" },
		{ "GATEHOUSE_ALOW=a.example:443",
		  "GATEHOUSE_ALOW: not a gatehouse setting; did you mean GATEHOUSE_ALLOW?" },
		{ "GATEHOUSE_ROUTES=587=a.example",
		  "GATEHOUSE_ROUTES: not a gatehouse setting; did you mean GATEHOUSE_ROUTE?" },
		{ "GATEHOUSE_CONFG=/x", "GATEHOUSE_CONFG: not a gatehouse setting; did you mean "
		  "GATEHOUSE_CONFIG?" },
		{ "GATEHOUSE_DNS-LISTEN=127.0.0.1:53", "GATEHOUSE_DNS-LISTEN: not a gatehouse setting; "
		  "did you mean GATEHOUSE_DNS_LISTEN?" },
		{ "GATEHOUSE_MAX_CONN=5", "GATEHOUSE_MAX_CONN: not a gatehouse setting; did you mean "
		  "GATEHOUSE_MAX_CONNS?" },
		{ "GATEHOUSE_FOO=1", "GATEHOUSE_FOO: " NOT_A_SETTING },
		{ "GATEHOUSE_=1", "GATEHOUSE_: " NOT_A_SETTING },
		{ "GATEHOUSE_IP=172.29.0.120", "GATEHOUSE_IP: not a gatehouse setting: it is for "
		  "docker-compose.yml's substitutions (.env); do not pass it to the gatehouse container" },
		{ "GATEHOUSE_SUBNET=172.29.0.0/24", "GATEHOUSE_SUBNET: not a gatehouse setting: it is "
		  "for docker-compose.yml's substitutions (.env); do not pass it to the gatehouse "
		  "container" },
		{ "gatehouse_allow=a.example:443",
		  "gatehouse_allow: gatehouse variables are upper case: write GATEHOUSE_ALLOW" },
		{ "Gatehouse_Allow=a.example:443",
		  "Gatehouse_Allow: gatehouse variables are upper case: write GATEHOUSE_ALLOW" },
		{ "GATEHOUSE_Ttl=5", "GATEHOUSE_Ttl: gatehouse variables are upper case: write "
		  "GATEHOUSE_TTL" },
		{ "gatehouse_forward_listen=1.2.3.4", "gatehouse_forward_listen: gatehouse variables "
		  "are upper case: write GATEHOUSE_FORWARD_LISTEN" },
		{ "gatehouse_alow=a.example:443",
		  "gatehouse_alow: not a gatehouse setting; did you mean GATEHOUSE_ALLOW?" },
		{ "gatehouse_=1", "gatehouse_: " NOT_A_SETTING },
		/* even with an empty or quoted value: the name is the mistake */
		{ "GATEHOUSE_ALOW=", "GATEHOUSE_ALOW: not a gatehouse setting; did you mean "
		  "GATEHOUSE_ALLOW?" },
		{ "GATEHOUSE_ALOW=\"a.example:443\"", "GATEHOUSE_ALOW: not a gatehouse setting; did "
		  "you mean GATEHOUSE_ALLOW?" },
		{ "GATEHOUSEALLOW=a.example:443", NULL },
		{ "MY_GATEHOUSE_ALLOW=a.example:443", NULL },
		{ "GATEHOUSE=1", NULL },
		{ "GATEHOUSE_ALLOW", NULL },	/* no '=': not a variable */
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		char *env[] = { "GATEHOUSE_TTL=7", (char *)cases[i].in, "GATEHOUSE_ALLOW=b.example:1",
		    NULL };
		struct config *c = NULL;
		int rc;

		if (cases[i].out != NULL) {
			bad += refused_with(cases[i].in, "allow a.example 443\n", env, cases[i].out);
			continue;
		}
		rc = parse_env("allow a.example 443\n", env, &c);
		if (rc != 0 || c == NULL || policy_count(c->policy) != 2 || c->ttl != 7) {
			print_error("%s: rc %d err \"%s\"\n", cases[i].in, rc, err);
			bad++;
		}
		if (rc == 0)
			config_unref(c);
	}
	assert_int_equal(bad, 0);
}

/* How many of the cases (a file, a variable or NULL) parse with warnings other than their
 * out (NULL: none), each printed. */
static size_t
warnings_differ(const struct text_var_out *cases, size_t n)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		struct config *c = must_parse(cases[i].text, env_of(cases[i].var));

		if ((cases[i].out == NULL) != (c->warnings == NULL) || (c->warnings != NULL &&
		    strcmp(c->warnings, cases[i].out) != 0)) {
			print_error("case %zu: warnings \"%s\"\n   want \"%s\"\n", i,
			    c->warnings ? c->warnings : "(none)",
			    cases[i].out ? cases[i].out : "(none)");
			bad++;
		}
		config_unref(c);
	}
	return bad;
}

/* A rule written twice (or a port of it) is a warning naming both places, not an error;
 * a route beside the allow rule of its name is no duplicate. */
static void
test_duplicate_warning(void **state)
{
	/* text: the file; var: a variable or NULL; out: the warnings, NULL for none */
	static const struct text_var_out cases[] = {
		{ "allow a.example 443\n# again\nallow a.example 443\n", NULL,
		  NAME ":3: allow a.example: port 443 is already allowed by " NAME ":1 (the same rule "
		  "written twice?)\n" },
		{ "allow a.example 80,443\nallow A.Example. 443-444\n", NULL,
		  NAME ":2: allow A.Example.: port 443 is already allowed by " NAME ":1 (the same rule "
		  "written twice?)\n" },
		{ "allow *.a.example 443\nallow *.a.example 443\nallow *.a.example 443\n", NULL,
		  NAME ":2: allow *.a.example: port 443 is already allowed by " NAME ":1 (the same "
		  "rule written twice?)\n"
		  NAME ":3: allow *.a.example: port 443 is already allowed by " NAME ":1 (the same "
		  "rule written twice?)\n" },
		{ "allow a.example 443 private\n", "GATEHOUSE_ALLOW=a.example:443:private",
		  "GATEHOUSE_ALLOW: allow a.example: port 443 is already allowed by " NAME ":1 (the "
		  "same rule written twice?)\n" },
		{ "allow a.example 443\nallow a.example 80\n", NULL, NULL },
		{ "allow a.example 443\nallow *.a.example 443\n", NULL, NULL },
		{ "allow smtp.gmail.com 465,587\nroute 587 smtp.gmail.com:587\n", NULL, NULL },
		{ "route 587 smtp.gmail.com:587\nallow smtp.gmail.com 587\n", NULL, NULL },
		/* a per-client share as large as the whole would let one client take it all */
		{ "max-lookups 16\n", NULL, "max-lookups-per-client 32 is not below max-lookups 16: "
		  "one client can take every lookup in flight (a share of max-lookups/8 or less "
		  "keeps the others served)\n" },
		{ "max-lookups 16\nmax-lookups-per-client 2\n", NULL, NULL },
		{ "max-lookups 1\n", NULL, NULL },
	};

	(void)state;
	assert_int_equal(warnings_differ(cases, NELEM(cases)), 0);
}

/* Wildcards judged with the Public Suffix List (libpsl): over an ICANN suffix refused at
 * FILE:LINE (allow and deny, file and environment); over a private-section suffix
 * accepted with a warning naming the place. */
static void
test_public_suffix(void **state)
{
	static const struct in_out refused[] = {
		{ "allow **.co.uk 443", "allow '**.co.uk' is too broad: it covers a whole public "
		  "suffix" },
		{ "allow *.com.au 443", "allow '*.com.au' is too broad: it covers a whole public "
		  "suffix" },
		{ "allow *.nic.ck 443", "allow '*.nic.ck' is too broad: it covers a whole public "
		  "suffix" },	/* "*.ck": every x.ck is a public suffix */
		{ "allow *.kawasaki.jp 443", "allow '*.kawasaki.jp' is too broad: it covers a whole "
		  "public suffix" },
		{ "deny **.com", "deny '**.com' is too broad: it covers a whole public suffix" },
		{ "allow *.internal 443", "allow '*.internal' is too broad: it covers a whole "
		  "public suffix" },
	};
	static const struct text_var_out warned[] = {
		{ "allow *.github.io 443\n", NULL, NAME ":1: allow *.github.io: github.io is a "
		  "public suffix (private section of the Public Suffix List): anyone can create "
		  "names below it, and this wildcard covers them all\n" },
		{ "ttl 5\nallow **.s3.amazonaws.com 443\n", NULL, NAME ":2: allow "
		  "**.s3.amazonaws.com: s3.amazonaws.com is a public suffix (private section of "
		  "the Public Suffix List): anyone can create names below it, and this wildcard "
		  "covers them all\n" },
		{ "", "GATEHOUSE_ALLOW=**.githubusercontent.com:443", "GATEHOUSE_ALLOW: allow "
		  "**.githubusercontent.com: githubusercontent.com is a public suffix (private "
		  "section of the Public Suffix List): anyone can create names below it, and this "
		  "wildcard covers them all\n" },
		{ "deny *.herokuapp.com\n", NULL, NAME ":1: deny *.herokuapp.com: herokuapp.com "
		  "is a public suffix (private section of the Public Suffix List): anyone can "
		  "create names below it, and this wildcard covers them all\n" },
		/* below a private suffix: one owner's names, nothing to say */
		{ "allow *.me.github.io 443\nallow **.bucket.s3.amazonaws.com 443\n"
		  "allow github.io 443\nallow **.example.co.uk 443\nallow *.amazonaws.com 443\n",
		  NULL, NULL },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(refused); i++)
		bad += line_refused("ttl 5\n", refused[i].in, "", refused[i].out);
	bad += refused_with("env", "", env_of("GATEHOUSE_DENY=**.co.uk"), "GATEHOUSE_DENY: deny "
	    "'**.co.uk' is too broad: it covers a whole public suffix");
	bad += warnings_differ(warned, NELEM(warned));
	assert_int_equal(bad, 0);
}

/* ---- ports: the list, implicit routes, the limit ---- */

/* Which ports the forwarder listens on and how each learns the name. */
static void
test_ports(void **state)
{
	struct config *c;
	const struct config_port *cp;
	char sum[512], *out;

	(void)state;
	c = must_parse("allow smtp.gmail.com 465,587\n"
	    "allow api.example 443\n"
	    "allow *.cdn.example 443\n"		/* a wildcard on 443: no implicit route */
	    "allow a.example 8000-8002\n"
	    "allow b.example 8002\n"		/* two names on 8002 */
	    "allow twice.example 9000\n"
	    "allow twice.example 9000\n"	/* one name written twice: still implicit */
	    "allow *.only.example 9100\n"	/* only a wildcard */
	    "route 2525 smtp.gmail.com:587\n", NULL);
	assert_int_equal(c->nports, 9);
	assert_null(config_port(c, 25));
	assert_null(config_port(c, 0));
	assert_null(config_port(c, 65535));
	cp = config_port(c, 465);
	assert_non_null(cp);
	assert_null(cp->route);
	assert_non_null(cp->implicit);
	assert_string_equal(cp->implicit->pattern, "smtp.gmail.com");
	assert_ptr_equal(config_implicit_route(c, 587), config_implicit_route(c, 465));
	assert_null(config_implicit_route(c, 443));
	assert_non_null(config_implicit_route(c, 8000));
	assert_non_null(config_implicit_route(c, 8001));
	assert_null(config_implicit_route(c, 8002));
	assert_string_equal(config_implicit_route(c, 9000)->pattern, "twice.example");
	assert_null(config_implicit_route(c, 9100));
	cp = config_port(c, 2525);
	assert_non_null(cp);
	assert_ptr_equal(cp->route, config_route(c, 2525));
	assert_null(cp->implicit);
	out = print_str(c);
	assert_true(has_line(out, "# port 443: the name from the client's TLS SNI or HTTP Host"));
	assert_true(has_line(out, "# port 465: routed to smtp.gmail.com on the same port (the "
	    "only name allowed there, " NAME ":1)"));
	assert_true(has_line(out, "# port 2525: routed to smtp.gmail.com:587 (the route at "
	    NAME ":9)"));
	assert_true(has_line(out, "# ports 8000-8001: routed to a.example on the same port (the "
	    "only name allowed there, " NAME ":4)"));
	assert_true(has_line(out, "# port 8002: the name from the client's TLS SNI or HTTP Host"));
	free(out);
	config_ports_summary(c, sum, sizeof(sum));
	assert_string_equal(sum, "ports 443,465,587,2525,8000-8002,9000,9100; routed: "
	    "465 -> smtp.gmail.com, 587 -> smtp.gmail.com, 2525 -> smtp.gmail.com:587, "
	    "8000 -> a.example, 8001 -> a.example, 9000 -> twice.example");
	/* cut, never past the buffer */
	config_ports_summary(c, sum, 40);
	assert_string_equal(sum, "ports 443,465,587,2525,8000-8002...");
	config_unref(c);
	c = must_parse("", NULL);
	assert_int_equal(c->nports, 0);
	config_ports_summary(c, sum, sizeof(sum));
	assert_string_equal(sum, "no ports");
	config_unref(c);
	/* the environment's rules count too; a reloaded config computes its own */
	{
		char *env[] = { "GATEHOUSE_ALLOW=env.example:25", NULL };

		c = must_parse("allow smtp.gmail.com 465\n", env);
		assert_int_equal(c->nports, 2);
		assert_string_equal(config_implicit_route(c, 25)->pattern, "env.example");
		config_unref(c);
	}
}

/* More than CONFIG_MAX_PORTS listening ports is a config error naming the rule that took
 * the count past it (issue 11: `allow x 1-65535` passed --check and failed at start). */
static void
test_ports_limit(void **state)
{
	/* text: the file; var: a variable or NULL; out: the error, NULL when accepted */
	static const struct text_var_out cases[] = {
		{ "allow x.example 1-65535\n", NULL, NAME ":1: allow x.example 1-65535: with this "
		  "rule the allowlist names more than 1024 ports, the most the forwarder listens on: "
		  "narrow the port ranges" },
		{ "allow a.example 1-1000\n\nallow b.example 1001-1024\nallow c.example 1-1024\n"
		  "allow d.example 22,1025\n", NULL, NAME ":5: allow d.example 22,1025: with this rule "
		  "the allowlist names more than 1024 ports, the most the forwarder listens on: narrow "
		  "the port ranges" },
		{ "allow a.example 1-1024\n", NULL, NULL },
		{ "allow a.example 1-1023\nroute 2000 b.example:25\nroute 2001 b.example:25\n", NULL,
		  NAME ":3: route 2001 b.example: with this rule the allowlist names more than 1024 "
		  "ports, the most the forwarder listens on: narrow the port ranges" },
		{ "allow a.example 1-1024\n", "GATEHOUSE_ALLOW=b.example:443 c.example:2000",
		  "GATEHOUSE_ALLOW: allow c.example 2000: with this rule the allowlist names more than "
		  "1024 ports, the most the forwarder listens on: narrow the port ranges" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct config *c = NULL;
		int rc;

		if (cases[i].out != NULL) {
			bad += refused_with(cases[i].text, cases[i].text, env_of(cases[i].var),
			    cases[i].out);
			continue;
		}
		rc = parse_env(cases[i].text, env_of(cases[i].var), &c);
		if (rc != 0 || c->nports != CONFIG_MAX_PORTS) {
			print_error("case %zu: rc %d err %s\n", i, rc, err);
			bad++;
		}
		if (rc == 0)
			config_unref(c);
	}
	assert_int_equal(bad, 0);
}

/* metrics ADDR:65535 would put the forwarder's endpoint on port 65536 (wrapping to 0, a
 * random port): an error naming the line. */
static void
test_metrics_top_port(void **state)
{
	char *env[] = { "GATEHOUSE_METRICS=[::1]:65535", NULL };
	struct config *c;

	(void)state;
	assert_int_equal(parse_env("ttl 5\nmetrics 127.0.0.1:65535\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":2: metrics 127.0.0.1:65535: the forwarder serves its "
	    "metrics one port up (PORT+1), and there is no port above 65535: use a port up to "
	    "65534");
	assert_int_equal(parse_env("", env, &c), -1);
	assert_string_equal(err, "GATEHOUSE_METRICS: metrics [::1]:65535: the forwarder serves "
	    "its metrics one port up (PORT+1), and there is no port above 65535: use a port up to "
	    "65534");
	config_unref(must_parse("metrics 127.0.0.1:65534\n", NULL));
}

/* config_origin: the line or variable that set a setting; 0 for a default. */
static void
test_origin(void **state)
{
	char *env[] = { "GATEHOUSE_USER=envuser", NULL };
	struct config *c = must_parse("ttl 5\n\naudit /tmp/a.log\nuser fileuser\n", env);
	char buf[300] = "untouched";

	(void)state;
	assert_int_equal(config_origin(c, "audit", buf, sizeof(buf)), 1);
	assert_string_equal(buf, NAME ":3");
	assert_int_equal(config_origin(c, "user", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "GATEHOUSE_USER");
	assert_int_equal(config_origin(c, "dns-tcp-max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "GATEHOUSE_USER");
	assert_int_equal(config_origin(c, "no-such-setting", buf, sizeof(buf)), 0);
	config_unref(c);
}

/* Every setting at its default, in the order --check prints them (DESIGN.md's table). */
static const char DEFAULTS[] =
    "dns-listen 0.0.0.0:53 [::]:53\n"
    "forward-listen 0.0.0.0 ::\n"
    "answer auto\n"
    "blocked nxdomain\n"
    "ttl 60\n"
    "negative-ttl 60\n"
    "upstream system\n"
    "audit stdout\n"
    "audit-rate 100\n"
    "metrics off\n"
    "peek-timeout 10\n"
    "connect-timeout 10\n"
    "idle-timeout 3600\n"
    "half-close-timeout 60\n"
    "lookup-timeout 5\n"
    "max-conns 4096\n"
    "max-conns-per-client 512\n"
    "max-lookups 256\n"
    "max-lookups-per-client 32\n"
    "cache-min-ttl 5\n"
    "cache-max-ttl 300\n"
    "negative-cache-ttl 5\n"
    "dns-tcp-max 256\n"
    "dns-tcp-idle 10\n"
    "user nobody\n"
    "sandbox on\n"
    "lookups-socket @gatehouse-lookups\n"
    "mode enforce\n"
    "pool-state /var/lib/gatehouse/pool\n"
    "pool-hold 3600\n"
    "pool-max-per-client 64\n";

static void
test_defaults_printed(void **state)
{
	struct config *c = must_parse("", NULL);
	char *out = print_str(c);

	(void)state;
	assert_string_equal(out, DEFAULTS);
	free(out);
	config_unref(c);
}

/* Each setting, written as --check prints it, in the file and in its variable: printed
 * back the same, config_origin names the line or the variable, and written twice in the
 * file it is refused. */
static void
test_every_setting(void **state)
{
	char lines[sizeof(DEFAULTS)], *line, *save = NULL;
	size_t n = 0;

	(void)state;
	memcpy(lines, DEFAULTS, sizeof(DEFAULTS));
	for (line = strtok_r(lines, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[64], text[256], var[128], buf[300], want[300], *env[2] = { var, NULL };
		size_t nl = strcspn(line, " "), i, o;
		struct config *c;
		char *out;

		snprintf(name, sizeof(name), "%.*s", (int)nl, line);
		/* the file */
		snprintf(text, sizeof(text), "# one setting\n%s\n", line);
		c = must_parse(text, NULL);
		out = print_str(c);
		assert_true(has_line(out, line));
		assert_int_equal(config_origin(c, name, buf, sizeof(buf)), 1);
		assert_string_equal(buf, NAME ":2");
		free(out);
		config_unref(c);
		/* its variable: GATEHOUSE_ and the name in capitals, '-' as '_' */
		o = (size_t)snprintf(var, sizeof(var), "GATEHOUSE_");
		for (i = 0; i < nl; i++)
			var[o++] = line[i] == '-' ? '_' : (char)(line[i] - 'a' + 'A');
		snprintf(var + o, sizeof(var) - o, "=%s", line + nl + 1);
		c = must_parse("", env);
		out = print_str(c);
		assert_true(has_line(out, line));
		assert_int_equal(config_origin(c, name, buf, sizeof(buf)), 1);
		var[o] = '\0';
		assert_string_equal(buf, var);
		free(out);
		config_unref(c);
		/* twice */
		snprintf(text, sizeof(text), "%s\n%s\n", line, line);
		assert_int_equal(parse_env(text, NULL, &c), -1);
		snprintf(want, sizeof(want), NAME ":2: '%s' is set twice (first on line 1)", name);
		assert_string_equal(err, want);
		n++;
	}
	assert_int_equal(n, 31);
}

/* `answer pool`: read, printed back, and what it needs of other settings. */
static void
test_answer_pool(void **state)
{
	char *env[] = { "GATEHOUSE_ANSWER=pool 10.9.0.0/29 fd00:9::/120", NULL };
	struct config *c;
	char *out;

	(void)state;
	c = must_parse("answer pool 172.29.0.128/25\npool-hold 90s\n", NULL);
	assert_non_null(c->warnings);	/* dns-listen on the wildcard: every address served */
	assert_non_null(strstr(c->warnings, "answer pool with dns-listen on the wildcard"));
	assert_true(c->answer_pool);
	assert_true(c->answer_auto);		/* the answer when the pool is full */
	assert_int_equal(c->pool.slots, 126);
	assert_int_equal(c->pool_hold_ms, 90000);
	out = print_str(c);
	assert_true(has_line(out, "answer pool 172.29.0.128/25"));
	assert_true(has_line(out, "pool-hold 90"));
	free(out);
	config_unref(c);
	c = must_parse("", env);
	assert_int_equal(c->pool.len6, 120);
	config_unref(c);
	c = must_parse("pool-hold 2h\n", NULL);
	assert_int_equal(c->pool_hold_ms, 7200000);
	config_unref(c);
	assert_int_equal(parse_env("answer pool\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":1: answer pool: expected an IPv4 prefix and optionally "
	    "an IPv6 one (answer pool 172.29.0.128/25 [fd00:29::/112])");
	assert_int_equal(parse_env("answer pool 10.0.0.0/8\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":1: answer pool: '10.0.0.0/8': an IPv4 pool is /16 to /30");
	assert_int_equal(parse_env("answer pool 10.9.0.0/29\nforward-listen 10.0.0.1\n", NULL,
	    &c), -1);
	assert_string_equal(err, NAME ":2: answer pool: forward-listen must include 0.0.0.0, the "
	    "wildcard address: connections to pool addresses arrive there");
	assert_int_equal(parse_env("answer pool 10.9.0.0/29 fd00::/120\nforward-listen 0.0.0.0\n",
	    NULL, &c), -1);
	assert_string_equal(err, NAME ":2: answer pool: forward-listen must include ::, the "
	    "wildcard address: connections to pool addresses arrive there");
	assert_int_equal(parse_env("answer pool 10.9.0.0/29\npolicy ci via 10.0.0.1\n"
	    "allow a.test 22\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":1: answer pool: a policy chooses its clients by via, "
	    "which connections to pool addresses cannot show (they arrive on a pool address, "
	    "not the gateway's): choose those clients by source address");
	c = must_parse("answer pool 10.9.0.0/29\ndns-listen 10.0.0.1:53\n", NULL);
	assert_null(c->warnings);
	config_unref(c);
	assert_int_equal(parse_env("answer pool 10.9.0.0/29\n\npool-hold 30\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":3: pool-hold 30000ms is shorter than ttl 60: a client may "
	    "use an answer for ttl seconds, and its address must stay its name's that long");
}

/* A check across settings blames the variable when the environment wrote the setting
 * (the environment is read after the file). */
static void
test_cross_setting_error_env(void **state)
{
	char *max_env[] = { "GATEHOUSE_CACHE_MAX_TTL=1", NULL };
	char *min_env[] = { "GATEHOUSE_CACHE_MIN_TTL=600", NULL };
	struct config *c;

	(void)state;
	assert_int_equal(parse_env("cache-min-ttl 5\n", max_env, &c), -1);
	assert_string_equal(err, "GATEHOUSE_CACHE_MAX_TTL: cache-max-ttl 1 is below "
	    "cache-min-ttl 5");
	assert_int_equal(parse_env("# ttls\ncache-max-ttl 300\n", min_env, &c), -1);
	assert_string_equal(err, "GATEHOUSE_CACHE_MIN_TTL: cache-min-ttl 600 is above "
	    "cache-max-ttl 300");
	/* written in the file only: the line written last */
	assert_int_equal(parse_env("cache-min-ttl 100\n\ncache-max-ttl 50\n", NULL, &c), -1);
	assert_string_equal(err, NAME ":3: cache-max-ttl 50 is below cache-min-ttl 100");
}

/* ---- config_load: files ---- */


static char *
tmp_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup_tmp(void **state)
{
	(void)state;
	return tmpdir_make("config");
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return tmpdir_remove();
}

static void
test_load(void **state)
{
	char path[256], want[512], missing[256];
	char *env_allow[] = { "GATEHOUSE_ALLOW=env.example:443", NULL };
	struct config *c = (struct config *)1;

	(void)state;
	tmp_path("gatehouse.conf", path, sizeof(path));
	write_file(path, "# test\nallow smtp.gmail.com 465,587\nroute 587 smtp.gmail.com:587\n");
	assert_int_equal(config_load(path, env_allow, &c, err, sizeof(err)), 0);
	assert_string_equal(c->path, path);
	assert_int_equal(policy_count(c->policy), 3);
	snprintf(want, sizeof(want), "%s:2", path);
	assert_string_equal(match_origin(c, "smtp.gmail.com", 465), want);
	assert_string_equal(match_origin(c, "env.example", 443), "GATEHOUSE_ALLOW");
	config_unref(c);

	/* an error names the file's path and line */
	write_file(path, "allow a.example 443\nttl soon\n");
	assert_int_equal(config_load(path, NULL, &c, err, sizeof(err)), -1);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:2: 'ttl soon': expected a whole number 0-2147483647", path);
	assert_string_equal(err, want);

	/* a missing explicit path is an error */
	tmp_path("missing.conf", missing, sizeof(missing));
	assert_int_equal(config_load(missing, env_allow, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
	assert_string_equal(err, want);

	/* GATEHOUSE_CONFIG names the file when no path is given; missing is an error too */
	write_file(path, "allow via-env.example 443\n");
	{
		char var[300], *env[] = { var, NULL };

		snprintf(var, sizeof(var), "GATEHOUSE_CONFIG=%s", path);
		assert_int_equal(config_load(NULL, env, &c, err, sizeof(err)), 0);
		assert_string_equal(c->path, path);
		snprintf(want, sizeof(want), "%s:1", path);
		assert_string_equal(match_origin(c, "via-env.example", 443), want);
		config_unref(c);
		snprintf(var, sizeof(var), "GATEHOUSE_CONFIG=%s", missing);
		assert_int_equal(config_load(NULL, env, &c, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
		assert_string_equal(err, want);
		/* quotes an env_file kept */
		snprintf(var, sizeof(var), "GATEHOUSE_CONFIG=\"%s\"", path);
		assert_int_equal(config_load(NULL, env, &c, err, sizeof(err)), -1);
		assert_string_equal(err, "GATEHOUSE_CONFIG: the value is in quotes, which an env_file "
		    "(docker run --env-file) keeps as part of it: write it without them");
		snprintf(var, sizeof(var), "GATEHOUSE_CONFIG=%s", missing);
		/* an explicit path wins over GATEHOUSE_CONFIG */
		assert_int_equal(config_load(path, env, &c, err, sizeof(err)), 0);
		assert_string_equal(c->path, path);
		config_unref(c);
	}

	/* a directory is not a config file */
	assert_int_equal(config_load(tmpdir, NULL, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: read error: Is a directory", tmpdir);
	assert_string_equal(err, want);

	/* a file with a non-ASCII line through config_load */
	write_file(path, "allow a.example 443\n\nallow \xc3\xa9t\xc3\xa9.fr 443\n");
	assert_int_equal(config_load(path, NULL, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: a non-ASCII character (U+00E9) at column 7: write names "
	    "as A-labels (xn--...)", path);
	assert_string_equal(err, want);
}

/* The default path may be missing when the environment configures everything. */
static void
test_load_default_missing(void **state)
{
	char *env[] = { "GATEHOUSE_ALLOW=smtp.gmail.com:465", "GATEHOUSE_TTL=9", NULL };
	char *env_empty_cfg[] = { "GATEHOUSE_CONFIG=", "GATEHOUSE_ALLOW=a.example:1", NULL };
	struct config *c = NULL;

	(void)state;
	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		skip();		/* this machine has a real config there */
	assert_int_equal(config_load(NULL, env, &c, err, sizeof(err)), 0);
	assert_null(c->path);
	assert_int_equal(policy_count(c->policy), 1);
	assert_int_equal(c->ttl, 9);
	assert_string_equal(match_origin(c, "smtp.gmail.com", 465), "GATEHOUSE_ALLOW");
	config_unref(c);
	/* nothing at all: legal, 0 rules */
	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(policy_count(c->policy), 0);
	config_unref(c);
	/* an empty GATEHOUSE_CONFIG means the default */
	assert_int_equal(config_load(NULL, env_empty_cfg, &c, err, sizeof(err)), 0);
	assert_int_equal(policy_count(c->policy), 1);
	config_unref(c);
	/* an unknown GATEHOUSE_ variable is an error naming it, through config_load too */
	{
		char *unknown[] = { "GATEHOUSE_ALLOW=a.example:1", "GATEHOUSE_FOO=1", NULL };
		char *bad[] = { "GATEHOUSE_TTL=x", NULL };

		c = (struct config *)1;
		assert_int_equal(config_load(NULL, unknown, &c, err, sizeof(err)), -1);
		assert_null(c);
		assert_string_equal(err, "GATEHOUSE_FOO: " NOT_A_SETTING);
		assert_int_equal(config_load(NULL, bad, &c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "GATEHOUSE_TTL: "));
	}
}

/* ---- references ---- */

static void
test_refs(void **state)
{
	struct config *c = must_parse("allow a.example 443\n", NULL);

	(void)state;
	assert_int_equal(c->refs, 1);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(c->refs, 2);
	config_unref(c);
	assert_int_equal(c->refs, 1);
	assert_string_equal(match_origin(c, "a.example", 443), NAME ":1");	/* still alive */
	config_unref(c);
	config_unref(NULL);
}

/* ---- config_print -> config_parse round trip ---- */

/* Lines of the printout with the "\t# origin" comments and the "# port" lines (which
 * name origins too) cut; same_ports compares what those lines say. */
static char *
strip_origins(const char *printed)
{
	char *s = strdup(printed), *r = s, *w = s;

	assert_non_null(s);
	while (*r != '\0') {
		if ((r[0] == '\t' && r[1] == '#') || ((r == s || r[-1] == '\n') && r[0] == '#')) {
			while (*r != '\0' && *r != '\n')
				r++;
			if (r[0] == '\n' && (w == s || w[-1] == '\n'))
				r++;	/* a whole comment line: its newline too */
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/* The same listening ports, each with the same route or implicit route. */
static int
same_ports(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->nports != b->nports) {
		print_error("%zu ports, reparsed %zu\n", a->nports, b->nports);
		return 1;
	}
	for (i = 0; i < a->nports; i++) {
		const struct config_port *pa = &a->ports[i], *pb = &b->ports[i];

		if (pa->port != pb->port || (pa->route == NULL) != (pb->route == NULL) ||
		    (pa->route && strcmp(pa->route->name, pb->route->name) != 0) ||
		    (pa->implicit == NULL) != (pb->implicit == NULL) ||
		    (pa->implicit && strcmp(pa->implicit->pattern, pb->implicit->pattern) != 0)) {
			print_error("port %u differs after the round trip\n", pa->port);
			return 1;
		}
	}
	return 0;
}

/* The same decision for (name, port) in both configs: allowed or not, private or not. */
static int
same_decisions(const struct config *a, const struct config *b, const char *const *names,
    size_t nnames, const uint16_t *ports, size_t nports)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < nnames; i++) {
		for (j = 0; j < nports; j++) {
			const struct rule *ra = policy_match(a->policy, names[i], strlen(names[i]),
			    ports[j]);
			const struct rule *rb = policy_match(b->policy, names[i], strlen(names[i]),
			    ports[j]);

			if ((ra == NULL) != (rb == NULL) || (ra != NULL &&
			    (ra->flags & RULE_PRIVATE) != (rb->flags & RULE_PRIVATE))) {
				print_error("%s port %u: original %s%s, reparsed %s%s\n", names[i],
				    ports[j], ra ? "allow" : "deny",
				    ra && (ra->flags & RULE_PRIVATE) ? " private" : "",
				    rb ? "allow" : "deny",
				    rb && (rb->flags & RULE_PRIVATE) ? " private" : "");
				bad++;
			}
		}
	}
	return bad;
}

static void
roundtrip(const char *text, char *const *env, const char *const *names, size_t nnames,
    const uint16_t *ports, size_t nports)
{
	struct config *a = must_parse(text, env), *b = NULL;
	char *pa = print_str(a), *pb, *sa, *sb;
	int bad = 0;
	size_t i;

	if (config_parse("printed", pa, strlen(pa), NULL, &b, err, sizeof(err)) != 0) {
		print_error("the printout does not parse: %s\n%s", err, pa);
		free(pa);
		config_unref(a);
		fail();
	}
	pb = print_str(b);
	sa = strip_origins(pa);
	sb = strip_origins(pb);
	if (strcmp(sa, sb) != 0) {
		print_error("printouts differ:\n%s---\n%s", sa, sb);
		bad++;
	}
	if (policy_count(a->policy) != policy_count(b->policy) || a->nroutes != b->nroutes) {
		print_error("%zu rules / %zu routes, reparsed %zu / %zu\n", policy_count(a->policy),
		    a->nroutes, policy_count(b->policy), b->nroutes);
		bad++;
	}
	for (i = 0; i < a->nroutes; i++) {
		const struct route *rb = config_route(b, a->routes[i].port);

		if (rb == NULL || strcmp(rb->name, a->routes[i].name) != 0 ||
		    rb->target_port != a->routes[i].target_port || rb->flags != a->routes[i].flags) {
			print_error("route %u differs after the round trip\n", a->routes[i].port);
			bad++;
		}
	}
	bad += same_decisions(a, b, names, nnames, ports, nports);
	bad += same_ports(a, b);
	free(pa);
	free(pb);
	free(sa);
	free(sb);
	config_unref(a);
	config_unref(b);
	assert_int_equal(bad, 0);
}

/* Names that are accepted are accepted again in their printed (normal) form. */
static void
test_roundtrip_odd_names(void **state)
{
	static const char *const names[] = { "5-", "8000-8099", "a_b.c" };
	static const uint16_t ports[] = { 2, 443 };

	(void)state;
	roundtrip("route 2 5-.\nallow 8000-8099. 443\nallow A_B.c. 443\n", NULL, names,
	    NELEM(names), ports, NELEM(ports));
}

static void
test_roundtrip(void **state)
{
	static const char text[] =
	    "allow smtp.gmail.com 465,587\n"
	    "allow *.githubusercontent.com 443\n"
	    "allow db.internal.example 5432 private\n"
	    "allow *.b.example 8000-8099,9000\n"
	    "allow **.deep.example 443\n"
	    "deny vault.deep.example\n"
	    "deny *.x.b.example 9000,8050-8060\n"
	    "route 2587 smtp.gmail.com:587\n"
	    "route 15432 db.internal.example:5432 private\n"
	    "dns-listen 172.19.0.120:53 [fd00::120]:5353\n"
	    "forward-listen 172.19.0.120 fd00::120\n"
	    "answer 172.19.0.120 fd00::120\n"
	    "blocked refused\n"
	    "ttl 30\nnegative-ttl 15\n"
	    "upstream 9.9.9.9 [2620:fe::fe]:5353\n"
	    "audit /var/log/gatehouse.jsonl\naudit-rate 0\n"
	    "metrics [::1]:9100\n"
	    "peek-timeout 1.5\nconnect-timeout 250ms\nidle-timeout 5m\n"
	    "half-close-timeout 2s\nlookup-timeout 3\n"
	    "max-conns 100\nmax-conns-per-client 10\nmax-lookups 32\n"
	    "cache-min-ttl 1\ncache-max-ttl 60\nnegative-cache-ttl 2\n"
	    "dns-tcp-max 16\ndns-tcp-idle 500ms\nuser gh\n";
	char *env[] = { "GATEHOUSE_ALLOW=env.example:443:private *.env.example:80",
	    "GATEHOUSE_ROUTE=25=mx.env.example:2525",
	    "GATEHOUSE_DENY=bad.env.example **.deep.env.example:80", NULL };
	static const char *const names[] = { "smtp.gmail.com", "raw.githubusercontent.com",
	    "githubusercontent.com", "db.internal.example", "x.b.example", "b.example",
	    "env.example", "a.env.example", "mx.env.example", "other.example",
	    "a.b.deep.example", "vault.deep.example", "y.x.b.example", "bad.env.example",
	    "a.deep.env.example" };
	static const uint16_t ports[] = { 25, 80, 443, 465, 587, 2525, 2587, 5432, 8000, 8099,
	    8100, 9000, 15432 };

	(void)state;
	roundtrip(text, env, names, sizeof(names) / sizeof(names[0]), ports,
	    sizeof(ports) / sizeof(ports[0]));
	/* defaults only */
	roundtrip("", NULL, names, 1, ports, 1);
}

/* `private` and routes (issue 11): a route takes 'private' from the allow rule of the
 * same name that covers its port, and a route's own 'private' applies to its port; in
 * any order of lines, file or environment. Two allow rules that disagree stay refused. */
static void
test_route_private_inherited(void **state)
{
	static const struct {
		const char *text;	/* the file */
		const char *var;	/* a variable, or NULL */
		const char *name;
		uint16_t port;
		unsigned flags;		/* of the rule that decides (name, port) */
	} cases[] = {
		/* the README's example: private from the allow rule */
		{ "allow smtp.gmail.com 465,587 private\nroute 587 smtp.gmail.com:587\n", NULL,
		  "smtp.gmail.com", 587, RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED },
		{ "allow smtp.gmail.com 465,587 private\nroute 587 smtp.gmail.com:587\n", NULL,
		  "smtp.gmail.com", 465, RULE_PRIVATE },
		/* the route first */
		{ "route 587 smtp.gmail.com:587\nallow smtp.gmail.com 465,587 private\n", NULL,
		  "smtp.gmail.com", 587, RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED },
		/* the allow rule from the environment, after the file's route */
		{ "route 587 smtp.gmail.com:587\n", "GATEHOUSE_ALLOW=smtp.gmail.com:465,587:private",
		  "smtp.gmail.com", 587, RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED },
		{ "allow smtp.gmail.com 465,587 private\n", "GATEHOUSE_ROUTE=587=smtp.gmail.com:587",
		  "smtp.gmail.com", 587, RULE_ROUTE | RULE_PRIVATE | RULE_INHERITED },
		/* the route's own private applies to its port, whatever the allow rule says */
		{ "allow db.example 5432,25\nroute 5432 db.example private\n", NULL,
		  "db.example", 5432, RULE_ROUTE | RULE_PRIVATE },
		{ "route 5432 db.example:5432 private\nallow db.example 5432\n", NULL,
		  "db.example", 5432, RULE_ROUTE | RULE_PRIVATE },
		{ "allow db.example 5432,25\nroute 5432 db.example private\n", NULL,
		  "db.example", 25, 0 },
		/* an allow rule on another port, or a wildcard, gives nothing */
		{ "allow db.example 15432 private\nroute 5432 db.example\n", NULL,
		  "db.example", 5432, RULE_ROUTE },
		{ "allow *.x.example 5432 private\nroute 5432 db.x.example\n", NULL,
		  "db.x.example", 5432, RULE_ROUTE },
		/* neither private */
		{ "allow smtp.gmail.com 465,587\nroute 587 smtp.gmail.com:587\n", NULL,
		  "smtp.gmail.com", 587, RULE_ROUTE },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct config *c = NULL;
		const struct rule *r;

		if (parse_env(cases[i].text, env_of(cases[i].var), &c) != 0) {
			print_error("case %zu refused: %s\n", i, err);
			bad++;
			continue;
		}
		r = policy_match(c->policy, cases[i].name, strlen(cases[i].name), cases[i].port);
		if (r == NULL || r->flags != cases[i].flags) {
			print_error("case %zu: %s port %u: flags %u, want %u\n", i, cases[i].name,
			    cases[i].port, r ? r->flags : 999u, cases[i].flags);
			bad++;
		}
		config_unref(c);
	}
	assert_int_equal(bad, 0);
}

/* Two allow rules that disagree on 'private' are refused, in the file and the
 * environment, with both places named and what to write. */
static void
test_allow_private_conflict(void **state)
{
	char *env[] = { "GATEHOUSE_ALLOW=db.example:5432", NULL };
	struct config *c;

	(void)state;
	assert_int_equal(parse_env("allow db.example 5432,25 private\n\nallow db.example 5432\n",
	    NULL, &c), -1);
	assert_string_equal(err, NAME ":3: allow 'db.example' port 5432: " NAME ":1 allows it with "
	    "'private' and this rule without; which applies must not depend on the order of "
	    "lines: write 'private' on both or on neither");
	assert_int_equal(parse_env("allow db.example 5432 private\n", env, &c), -1);
	assert_string_equal(err, "GATEHOUSE_ALLOW: allow 'db.example' port 5432: " NAME ":1 allows "
	    "it with 'private' and this rule without; which applies must not depend on the order "
	    "of lines: write 'private' on both or on neither");
	/* wildcards too */
	assert_int_equal(parse_env("allow *.db.example 1-100\nallow *.db.example 50 private\n",
	    NULL, &c), -1);
	assert_non_null(strstr(err, NAME ":2: allow '*.db.example' port 50: " NAME ":1 allows it "
	    "without 'private' and this rule with"));
}

/* The printout says where an inherited 'private' came from, and reads back the same. */
static void
test_roundtrip_route_private(void **state)
{
	static const char *const names[] = { "smtp.gmail.com", "db.example" };
	static const uint16_t ports[] = { 25, 465, 587, 5432 };
	static const char text[] = "route 587 smtp.gmail.com:587\n"
	    "allow smtp.gmail.com 465,587 private\n"
	    "allow db.example 5432,25\nroute 5432 db.example private\n";
	struct config *c = must_parse(text, NULL);
	char *out = print_str(c);

	(void)state;
	if (!has_line(out, "route 587 smtp.gmail.com:587\t# " NAME ":1; private from the allow "
	    "rule at " NAME ":2"))
		fail_msg("no inherited-private note in:\n%s", out);
	free(out);
	config_unref(c);
	roundtrip(text, NULL, names, NELEM(names), ports, NELEM(ports));
}

/* A rule with a long port list: config_print must write every port, never a list cut
 * in the middle of a number (which would name a different port). */
static void
test_roundtrip_many_ports(void **state)
{
	static const char *const names[] = { "many.example" };
	char text[4096] = "allow many.example ", want[4096] = "allow many.example ", *out;
	uint16_t ports[1300];
	struct config *c;
	size_t i, n = 0;
	int whole;

	(void)state;
	for (i = 0; i < 200; i++) {
		char p[16];

		snprintf(p, sizeof(p), "%s%zu", i ? "," : "", 1000 + 2 * i);
		strcat(text, p);
		strcat(want, p);
	}
	strcat(text, "\n");
	c = must_parse(text, NULL);
	out = print_str(c);
	whole = has_line(out, want);
	if (!whole)
		print_error("the allow line is not printed whole:\n%.*s\n", (int)strcspn(out, "\n"),
		    out);
	free(out);
	config_unref(c);
	for (i = 1; i < 1300; i++)
		ports[n++] = (uint16_t)i;
	roundtrip(text, NULL, names, 1, ports, n);
	assert_true(whole);
}

/* ---- stub-zone ---- */

static void
test_stub_zone(void **state)
{
	struct config *c;
	char b[ADDR_STRLEN], *out;

	(void)state;
	c = must_parse("allow a.example 443\n"
	    "stub-zone Cluster.Local. 10.96.0.10\n"
	    "stub-zone corp.internal 10.0.0.53:5353 [fd00::53] [fd00::54]:54 10.0.0.54\n", NULL);
	assert_int_equal(c->nstub_zones, 2);
	assert_string_equal(c->stub_zones[0].zone, "cluster.local");
	assert_int_equal(c->stub_zones[0].len, strlen("cluster.local"));
	assert_int_equal(c->stub_zones[0].nservers, 1);
	assert_string_equal(addr_str(&c->stub_zones[0].servers[0], 1, b), "10.96.0.10:53");
	assert_string_equal(c->stub_zones[0].origin, NAME ":2");
	assert_string_equal(c->stub_zones[1].zone, "corp.internal");
	assert_int_equal(c->stub_zones[1].nservers, 4);
	assert_string_equal(addr_str(&c->stub_zones[1].servers[0], 1, b), "10.0.0.53:5353");
	assert_string_equal(addr_str(&c->stub_zones[1].servers[1], 1, b), "[fd00::53]:53");
	assert_string_equal(addr_str(&c->stub_zones[1].servers[2], 1, b), "[fd00::54]:54");
	assert_string_equal(addr_str(&c->stub_zones[1].servers[3], 1, b), "10.0.0.54:53");
	out = print_str(c);
	assert_true(has_line(out, "stub-zone cluster.local 10.96.0.10:53"));
	assert_true(has_line(out,
	    "stub-zone corp.internal 10.0.0.53:5353 [fd00::53]:53 [fd00::54]:54 10.0.0.54:53"));
	assert_non_null(strstr(out, "stub-zone cluster.local 10.96.0.10:53\t# " NAME ":2\n"));
	free(out);
	config_unref(c);

	/* none: none printed */
	c = must_parse("allow a.example 443\n", NULL);
	assert_int_equal(c->nstub_zones, 0);
	out = print_str(c);
	assert_null(strstr(out, "stub-zone"));
	free(out);
	config_unref(c);

	/* sixteen zones are taken, before policies too */
	{
		char text[2048];
		size_t i, o = 0;

		for (i = 0; i < 16; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
			    "stub-zone z%zu.cluster.local 10.0.0.%zu\n", i, i + 1);
		snprintf(text + o, sizeof(text) - o, "policy ci via 10.0.0.1\nallow a.example 443\n");
		c = must_parse(text, NULL);
		assert_int_equal(c->nstub_zones, 16);
		assert_string_equal(c->stub_zones[15].zone, "z15.cluster.local");
		config_unref(c);
	}
}

static void
test_stub_zone_bad(void **state)
{
	static const struct in_out lines[] = {
		{ "stub-zone cluster.local",
		  "usage: stub-zone ZONE SERVER[:PORT]... (stub-zone cluster.local 10.96.0.10)" },
		{ "stub-zone", "usage: stub-zone ZONE SERVER[:PORT]... (stub-zone cluster.local "
		  "10.96.0.10)" },
		{ "stub-zone . 10.0.0.1", "stub-zone .: the root would pass every name out: name "
		  "the one domain to pass" },
		{ "stub-zone com 10.0.0.1", "stub-zone com: a public suffix: its server would be "
		  "asked names anyone can register; name the domain it is authoritative for "
		  "(cluster.local)" },
		{ "stub-zone CO.UK. 10.0.0.1", "stub-zone co.uk: a public suffix: its server would "
		  "be asked names anyone can register; name the domain it is authoritative for "
		  "(cluster.local)" },
		{ "stub-zone local 10.0.0.1", "stub-zone local: a public suffix: its server would "
		  "be asked names anyone can register; name the domain it is authoritative for "
		  "(cluster.local)" },
		{ "stub-zone cluster.local coredns.kube-system",
		  "stub-zone cluster.local: server coredns.kube-system: 'coredns.kube-system': not "
		  "an IP address (an address, with :PORT if not 53: a name would need a lookup out)" },
		{ "stub-zone cluster.local 10.0.0.1:0", "stub-zone cluster.local: server "
		  "10.0.0.1:0: '0': port must be 1-65535 (an address, with :PORT if not 53: a name "
		  "would need a lookup out)" },
		{ "stub-zone cluster.local 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5",
		  "stub-zone cluster.local: at most 4 servers" },
		{ "stub-zone bad..local 10.0.0.1", NULL },
		{ "stub-zon cluster.local 10.0.0.1", "unknown directive 'stub-zon'; did you mean "
		  "'stub-zone'?" },
	};
	char text[2048];
	size_t i, o = 0;
	int bad = 0;

	(void)state;
	for (i = 0; i < NELEM(lines); i++) {
		struct config *c = NULL;

		if (lines[i].out == NULL) {	/* refused; the message is dname's */
			bad += parse_env(lines[i].in, NULL, &c) != -1 || c != NULL ||
			    strncmp(err, NAME ":1: stub-zone bad..local: ", 26) != 0;
			continue;
		}
		bad += line_refused("allow a.example 443\n", lines[i].in, "", lines[i].out);
	}
	/* twice, in another spelling */
	bad += line_refused("stub-zone cluster.local 10.0.0.1\n", "stub-zone CLUSTER.local. "
	    "10.0.0.2", "", "stub-zone cluster.local is written twice (first at " NAME ":1)");
	/* inside a policy section */
	bad += line_refused("policy ci via 10.0.0.1\n", "stub-zone cluster.local 10.0.0.1", "",
	    "stub-zone inside policy ci: stub zones are gateway-wide; write them before the "
	    "first policy line");
	/* a seventeenth */
	for (i = 0; i < 16; i++)	/* short lines: line_refused's file is 512 bytes */
		o += (size_t)snprintf(text + o, sizeof(text) - o, "stub-zone z%zu.k8s 1.0.0.%zu\n",
		    i, i + 1);
	bad += line_refused(text, "stub-zone z16.k8s 1.0.0.17", "",
	    "stub-zone z16.k8s: at most 16 stub zones");
	/* the resolver's own listening address, written before or after */
	bad += refused_with("own address", "stub-zone cluster.local 10.0.0.9 127.0.0.1:5353\n"
	    "dns-listen 127.0.0.1:5353\n", NULL, NAME ":1: stub-zone cluster.local: server "
	    "127.0.0.1:5353 is this resolver's own dns-listen address");
	bad += refused_with("own address 2", "dns-listen [::1]:53\nstub-zone cluster.local [::1]\n",
	    NULL, NAME ":2: stub-zone cluster.local: server [::1]:53 is this resolver's own "
	    "dns-listen address");
	assert_int_equal(bad, 0);
	/* another port of the same address is another server */
	config_unref(must_parse("dns-listen 127.0.0.1:5353\nstub-zone cluster.local 127.0.0.1\n",
	    NULL));
}

static void
test_roundtrip_stub_zone(void **state)
{
	static const char *const names[] = { "a.example" };
	static const uint16_t ports[] = { 443 };
	struct config *a, *b = NULL;
	char *pa;
	size_t i, j;

	(void)state;
	roundtrip("allow a.example 443\nstub-zone Cluster.local 10.96.0.10\n"
	    "stub-zone corp.internal [fd00::53]:5353 10.0.0.53\n", NULL, names, 1, ports, 1);
	/* and the zones themselves are the same */
	a = must_parse("stub-zone cluster.local 10.96.0.10 [fd00::53]:5353\n", NULL);
	pa = print_str(a);
	assert_int_equal(config_parse("printed", pa, strlen(pa), NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(b->nstub_zones, a->nstub_zones);
	for (i = 0; i < a->nstub_zones; i++) {
		assert_string_equal(b->stub_zones[i].zone, a->stub_zones[i].zone);
		assert_int_equal(b->stub_zones[i].nservers, a->stub_zones[i].nservers);
		for (j = 0; j < a->stub_zones[i].nservers; j++)
			assert_true(addr_equal((const struct sockaddr *)&a->stub_zones[i].servers[j],
			    (const struct sockaddr *)&b->stub_zones[i].servers[j], 1));
	}
	free(pa);
	config_unref(a);
	config_unref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_good),
		cmocka_unit_test(test_stub_zone),
		cmocka_unit_test(test_stub_zone_bad),
		cmocka_unit_test(test_roundtrip_stub_zone),
		cmocka_unit_test(test_settings_fields),
		cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_settings_bad),
		cmocka_unit_test(test_cross_setting_error),
		cmocka_unit_test(test_set_twice),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_max_args),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_allow_matches),
		cmocka_unit_test(test_deny),
		cmocka_unit_test(test_deny_bad),
		cmocka_unit_test(test_public_suffix),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_route_bad),
		cmocka_unit_test(test_env_allow_route),
		cmocka_unit_test(test_env_settings),
		cmocka_unit_test(test_env_errors),
		cmocka_unit_test(test_env_empty_lists),
		cmocka_unit_test(test_mistakes_file),
		cmocka_unit_test(test_mistakes_env),
		cmocka_unit_test(test_unknown_variables),
		cmocka_unit_test(test_duplicate_warning),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ports_limit),
		cmocka_unit_test(test_metrics_top_port),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_defaults_printed),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_cross_setting_error_env),
		cmocka_unit_test(test_answer_pool),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_default_missing),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_roundtrip_odd_names),
		cmocka_unit_test(test_route_private_inherited),
		cmocka_unit_test(test_allow_private_conflict),
		cmocka_unit_test(test_roundtrip_route_private),
		cmocka_unit_test(test_roundtrip_many_ports),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
