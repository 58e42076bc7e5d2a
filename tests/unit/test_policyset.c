/* test_policyset.c: common/policyset.c and the `policy` sections: which policy a client is
 * in, the global and a policy's rules together, the file and environment forms, their
 * errors at FILE:LINE, --check's printing and its round trip, and report mode's setting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "policyset.h"

#define NAME "t.conf"

static char err[1024];

/* An address (v4 or v6) with port 0, for policyset_select. */
static struct sockaddr_storage *
sa(const char *text)
{
	static struct sockaddr_storage ss[4];
	static int next;
	struct sockaddr_storage *s = &ss[next++ % 4];

	memset(s, 0, sizeof(*s));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)s)->sin_addr) == 1)
		s->ss_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)s)->sin6_addr), 1);
		s->ss_family = AF_INET6;
	}
	return s;
}

/* The name of the policy of a client from src arriving on local (either may be NULL). */
static const char *
pick(const struct config *c, const char *src, const char *local)
{
	return policyset_name(c->policies, policyset_select(c->policies,
	    src ? (struct sockaddr *)sa(src) : NULL, local ? (struct sockaddr *)sa(local) : NULL));
}

static struct config *
parse(const char *text, char *const *env)
{
	struct config *c = NULL;

	if (config_parse(NAME, text, strlen(text), env, &c, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s\n--- input:\n%s", err, text);
	return c;
}

/* Parsing text with env fails with exactly want. */
static void
refused(const char *text, char *const *env, const char *want)
{
	struct config *c = NULL;

	if (config_parse(NAME, text, strlen(text), env, &c, err, sizeof(err)) == 0) {
		config_unref(c);
		fail_msg("accepted:\n%s", text);
	}
	assert_null(c);
	if (strcmp(err, want) != 0)
		fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
}

/* The pattern of the rule deciding (name, port) for policy pname ("default" too), or "-". */
static const char *
decide(const struct config *c, const char *pname, const char *name, uint16_t port)
{
	int idx = policyset_find(c->policies, pname);
	const struct rule *r;

	assert_true(idx >= 0);
	r = policyset_check(c->policies, (size_t)idx, name, strlen(name), port);
	return r ? r->pattern : "-";
}

/* config_print into a malloc'd string. */
static char *
print_str(const struct config *c)
{
	char *buf = NULL, *out;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	config_print(c, f);
	fclose(f);
	out = strdup(buf);
	free(buf);
	assert_non_null(out);
	return out;
}

/* Cut every "\t# ..." comment from the lines of text, in place. */
static void
strip_origins(char *text)
{
	size_t r = 0, w = 0;

	while (text[r] != '\0') {
		if (text[r] == '\t' && text[r + 1] == '#') {
			r += strcspn(text + r, "\n");
			continue;
		}
		text[w++] = text[r++];
	}
	text[w] = '\0';
}

static const char layout[] =
	"allow pypi.org 443\n"
	"policy grafana 172.29.0.10\n"
	"allow smtp.gmail.com 465\n"
	"policy workers 172.29.0.0/24 fd00::/64\n"
	"allow files.pythonhosted.org 443\n"
	"policy net16 172.29.0.0/16\n"
	"allow *.example.com 443\n"
	"policy agents via 172.30.0.1 via fd01::1\n"
	"allow api.github.com 443\n"
	"mode report\n";

/* The longest source prefix wins; a source beats via; no match: default. */
static void
test_select(void **state)
{
	struct config *c = parse(layout, NULL);

	(void)state;
	assert_string_equal(pick(c, "172.29.0.10", NULL), "grafana");
	assert_string_equal(pick(c, "172.29.0.11", NULL), "workers");
	assert_string_equal(pick(c, "172.29.1.11", NULL), "net16");
	assert_string_equal(pick(c, "172.28.0.10", NULL), "default");
	assert_string_equal(pick(c, "fd00::7", NULL), "workers");
	assert_string_equal(pick(c, "::ffff:172.29.0.10", NULL), "grafana");	/* mapped */
	/* via: only when no source spec holds the client */
	assert_string_equal(pick(c, "10.1.1.1", "172.30.0.1"), "agents");
	assert_string_equal(pick(c, "fd02::9", "fd01::1"), "agents");
	assert_string_equal(pick(c, "172.29.0.10", "172.30.0.1"), "grafana");
	assert_string_equal(pick(c, "10.1.1.1", "172.30.0.2"), "default");
	assert_string_equal(pick(c, NULL, NULL), "default");
	assert_int_equal(policyset_has_via(c->policies), 1);
	config_unref(c);
}

/* A client gets the global rules and its policy's; a client in no policy the global
 * ones only; the more specific match decides. */
static void
test_rules_together(void **state)
{
	struct config *c = parse(layout, NULL);

	(void)state;
	assert_string_equal(decide(c, "grafana", "smtp.gmail.com", 465), "smtp.gmail.com");
	assert_string_equal(decide(c, "grafana", "pypi.org", 443), "pypi.org");
	assert_string_equal(decide(c, "grafana", "files.pythonhosted.org", 443), "-");
	assert_string_equal(decide(c, "workers", "smtp.gmail.com", 465), "-");
	assert_string_equal(decide(c, "workers", "smtp.gmail.com", 0), "-");
	assert_string_equal(decide(c, "workers", "files.pythonhosted.org", 0),
	    "files.pythonhosted.org");
	assert_string_equal(decide(c, "default", "pypi.org", 0), "pypi.org");
	assert_string_equal(decide(c, "default", "smtp.gmail.com", 0), "-");
	assert_string_equal(decide(c, "net16", "a.example.com", 443), "*.example.com");
	assert_string_equal(decide(c, "net16", "a.example.com", 80), "-");
	/* a policy's exact rule beats a global wildcard, and the other way round */
	config_unref(c);
	c = parse("allow **.example.com 443\npolicy p 10.0.0.1\nallow a.example.com 443 private\n"
	    "policy q 10.0.0.2\nallow *.b.example.com 443\n", NULL);
	assert_true(policyset_check(c->policies, 1, "a.example.com", 13, 443)->flags &
	    RULE_PRIVATE);
	assert_string_equal(decide(c, "q", "x.b.example.com", 443), "*.b.example.com");
	assert_string_equal(decide(c, "q", "x.c.example.com", 443), "**.example.com");
	assert_string_equal(decide(c, "q", "y.x.b.example.com", 443), "**.example.com");
	assert_string_equal(policyset_name(c->policies, 1), "p");
	config_unref(c);
}

/* A deny rule from either side wins over any allow: a policy's deny over a global
 * wildcard, a global deny over a policy's exact allow; in files and variables alike. */
static void
test_deny_across_policies(void **state)
{
	char *env[] = { "GATEHOUSE_ALLOW=**.example.com:443", "GATEHOUSE_DENY=secret.example.com",
	    "GATEHOUSE_POLICY_P=10.0.0.1", "GATEHOUSE_POLICY_P_DENY=vault.example.com:443",
	    "GATEHOUSE_POLICY_Q=10.0.0.2", "GATEHOUSE_POLICY_Q_ALLOW=secret.example.com:443",
	    NULL };
	const char *file = "allow **.example.com 443\ndeny secret.example.com\n"
	    "policy p 10.0.0.1\ndeny vault.example.com 443\n"
	    "policy q 10.0.0.2\nallow secret.example.com 443\n";
	struct config *c;
	int form;

	(void)state;
	for (form = 0; form < 2; form++) {
		const struct rule *r;

		c = form == 0 ? parse(file, NULL) : parse("", env);
		r = policyset_check(c->policies, (size_t)policyset_find(c->policies, "p"),
		    "vault.example.com", 17, 443);
		assert_non_null(r);
		assert_true(r->flags & RULE_DENY);
		assert_string_equal(decide(c, "q", "vault.example.com", 443), "**.example.com");
		assert_string_equal(decide(c, "p", "www.example.com", 443), "**.example.com");
		r = policyset_check(c->policies, (size_t)policyset_find(c->policies, "q"),
		    "secret.example.com", 18, 443);
		assert_non_null(r);
		assert_true(r->flags & RULE_DENY);
		/* the name alone (the resolver): a deny for every port refuses it, one for some
		 * ports does not */
		r = policyset_check(c->policies, (size_t)policyset_find(c->policies, "q"),
		    "secret.example.com", 18, 0);
		assert_true(r != NULL && (r->flags & RULE_DENY));
		r = policyset_check(c->policies, (size_t)policyset_find(c->policies, "p"),
		    "vault.example.com", 17, 0);
		assert_true(r != NULL && !(r->flags & RULE_DENY));
		config_unref(c);
	}
}

/* Modes: the gateway's setting, a policy's own line overriding it. */
static void
test_modes(void **state)
{
	struct config *c = parse(layout, NULL);

	(void)state;
	assert_int_equal(policyset_mode(c->policies, 0), MODE_ENFORCE);
	assert_int_equal(policyset_mode(c->policies, 1), MODE_ENFORCE);
	assert_int_equal(policyset_mode(c->policies, 4), MODE_REPORT);
	config_unref(c);
	c = parse("mode report\npolicy p 10.0.0.1\nmode enforce\npolicy q 10.0.0.2\n", NULL);
	assert_int_equal(policyset_mode(c->policies, 0), MODE_REPORT);
	assert_int_equal(policyset_mode(c->policies, 1), MODE_ENFORCE);
	assert_int_equal(policyset_mode(c->policies, 2), MODE_REPORT);
	config_unref(c);
	{
		char *env[] = { "GATEHOUSE_MODE=report", "GATEHOUSE_POLICY_P_MODE=enforce",
			"GATEHOUSE_POLICY_P=10.0.0.1", NULL };

		c = parse("", env);
		assert_int_equal(policyset_mode(c->policies, 0), MODE_REPORT);
		assert_int_equal(policyset_mode(c->policies, 1), MODE_ENFORCE);
		config_unref(c);
	}
}

/* The environment alone: policies declared in any order with their rules. */
static void
test_env(void **state)
{
	char *env[] = {
		"GATEHOUSE_ALLOW=pypi.org:443",
		"GATEHOUSE_POLICY_MAIL_RELAY_ALLOW=smtp.gmail.com:465,587",	/* before its policy */
		"GATEHOUSE_POLICY_MAIL_RELAY=172.29.0.10 via 172.30.0.1",
		"GATEHOUSE_POLICY_WORKER=172.29.0.20/32",
		"GATEHOUSE_POLICY_WORKER_ALLOW=files.pythonhosted.org:443",
		"GATEHOUSE_POLICY_WORKER_MODE=report",
		NULL };
	struct config *c = parse("", env);

	(void)state;
	assert_int_equal(policyset_count(c->policies), 3);
	assert_string_equal(pick(c, "172.29.0.10", NULL), "mail-relay");
	assert_string_equal(pick(c, "1.2.3.4", "172.30.0.1"), "mail-relay");
	assert_string_equal(pick(c, "172.29.0.20", NULL), "worker");
	assert_string_equal(decide(c, "mail-relay", "smtp.gmail.com", 587), "smtp.gmail.com");
	assert_string_equal(decide(c, "worker", "smtp.gmail.com", 587), "-");
	assert_string_equal(decide(c, "worker", "pypi.org", 443), "pypi.org");
	assert_int_equal(policyset_mode(c->policies, 2), MODE_REPORT);
	config_unref(c);
	/* a file's policy takes rules from the environment too */
	{
		char *env2[] = { "GATEHOUSE_POLICY_P_ALLOW=x.example:443", NULL };

		c = parse("policy p 10.0.0.1\n", env2);
		assert_string_equal(decide(c, "p", "x.example", 443), "x.example");
		config_unref(c);
	}
}

static void
test_errors(void **state)
{
	static const struct { const char *text, *want; } file[] = {
		{ "policy a 10.0.0.0/8\npolicy b 10.0.0.0/8\n",
		    NAME ":2: policy b: "
		    "10.0.0.0/8 is already a client of policy a (" NAME ":1): a client spec may be in one "
		    "policy only" },
		{ "policy a via 10.0.0.1\n\npolicy b 10.0.0.1 via 10.0.0.1\n",
		    NAME ":3: "
		    "policy b: via 10.0.0.1 is already a client of policy a (" NAME ":1): a client spec "
		    "may be in one policy only" },
		{ "policy a 10.0.0.5/24\n",
		    NAME ":1: policy a: '10.0.0.5/24' has bits set "
		    "past the prefix length: write 10.0.0.0/24 (the network) or the address alone (one "
		    "client)" },
		{ "policy a 10.0.0.0/33\n",
		    NAME ":1: policy a: '10.0.0.0/33': the prefix "
		    "length must be 0-32" },
		{ "policy a via 10.0.0.0/24\n",
		    NAME ":1: policy a: via 10.0.0.0/24: via "
		    "takes one address (the gateway's), not a prefix" },
		{ "policy a via\n",
		    NAME ":1: policy a: via needs the gateway's address" },
		{ "policy a\n",
		    NAME ":1: policy a: no client: write the clients' source "
		    "addresses or prefixes, or via ADDR (the gateway address their traffic arrives on)" },
		{ "policy a grafana\n",
		    NAME ":1: policy a: 'grafana': a client is ADDR, "
		    "ADDR/LEN or via ADDR (not an address)" },
		{ "policy default 10.0.0.1\n",
		    NAME ":1: policy 'default': a policy's name "
		    "is [a-z0-9][a-z0-9-]*, at most 32 bytes, and not 'default' (the name of clients in "
		    "no policy)" },
		{ "policy Grafana 10.0.0.1\n",
		    NAME ":1: policy 'Grafana': a policy's name "
		    "is [a-z0-9][a-z0-9-]*, at most 32 bytes, and not 'default' (the name of clients in "
		    "no policy)" },
		{ "policy a 10.0.0.1\npolicy a 10.0.0.2\n",
		    NAME ":2: policy a is "
		    "already declared" },
		{ "policy a 10.0.0.1\nroute 587 smtp.gmail.com\n",
		    NAME ":2: route inside "
		    "policy a: routes are gateway-wide; write them before the first policy line" },
		{ "policy a 10.0.0.1\nttl 30\n",
		    NAME ":2: 'ttl' inside policy a: settings "
		    "are gateway-wide (only allow, deny and mode lines belong to a policy); write it before the "
		    "first policy line" },
		{ "policy a 10.0.0.1\nmode audit\n",
		    NAME ":2: 'mode audit': expected "
		    "enforce or report" },
		{ "policy a 10.0.0.1\nmode report\nmode enforce\n",
		    NAME ":3: policy a: "
		    "'mode' is set twice" },
		{ "mode off\n",
		    NAME ":1: 'mode off': expected enforce or report" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(file) / sizeof(file[0]); i++)
		refused(file[i].text, NULL, file[i].want);
	{
		char *e1[] = { "GATEHOUSE_POLICY_A_ALLOW=x.example:443", NULL };
		char *e2[] = { "GATEHOUSE_POLICY_a=10.0.0.1", NULL };
		char *e3[] = { "GATEHOUSE_POLICY_A=10.0.0.1", "GATEHOUSE_POLICY_B=10.0.0.1", NULL };
		char *e4[] = { "GATEHOUSE_POLICY_A=10.0.0.1", "GATEHOUSE_POLICY_A_DENY=x.example:1:private", NULL };

		refused("", e1, "GATEHOUSE_POLICY_A_ALLOW: no policy a: declare it with "
		    "GATEHOUSE_POLICY_A or a policy line");
		refused("", e2, "GATEHOUSE_POLICY_a: gatehouse variables are upper case, with '_' "
		    "for '-' in a policy's name");
		refused("", e3, "GATEHOUSE_POLICY_B: policy b: 10.0.0.1 is already a client of "
		    "policy a (GATEHOUSE_POLICY_A): a client spec may be in one policy only");
		refused("", e4, "GATEHOUSE_POLICY_A_DENY: 'x.example:1:private': write NAME[:PORTS], "
		    "e.g. vault.example.com or vault.example.com:443 (a deny has no options)");
		refused("policy a 10.0.0.1\n", e3 + 0, "GATEHOUSE_POLICY_A: policy a is "
		    "already declared");
	}
}

/* --check: the policies after everything gateway-wide, the order specs are tried in,
 * and the printed form reads back to the same policies. */
static void
test_print(void **state)
{
	struct config *c = parse(layout, NULL), *back;
	char *s = print_str(c), *t;
	const char *want =
		"# clients are matched in this order (the first spec that holds the client "
		"decides; none: policy default, the rules above only):\n"
		"#   172.29.0.10 -> grafana\t(" NAME ":2)\n"
		"#   172.29.0.0/24 -> workers\t(" NAME ":4)\n"
		"#   172.29.0.0/16 -> net16\t(" NAME ":6)\n"
		"#   fd00::/64 -> workers\t(" NAME ":4)\n"
		"#   via 172.30.0.1 -> agents\t(" NAME ":8)\n"
		"#   via fd01::1 -> agents\t(" NAME ":8)\n"
		"policy grafana 172.29.0.10\n"
		"allow smtp.gmail.com 465\t# " NAME ":3\n"
		"policy workers 172.29.0.0/24 fd00::/64\n"
		"allow files.pythonhosted.org 443\t# " NAME ":5\n"
		"policy net16 172.29.0.0/16\n"
		"allow *.example.com 443\t# " NAME ":7\n"
		"policy agents via 172.30.0.1 via fd01::1\n"
		"allow api.github.com 443\t# " NAME ":9\n"
		"mode report\n";

	(void)state;
	assert_non_null(strstr(s, "mode enforce\n"));		/* the gateway's setting */
	assert_true(strstr(s, "mode enforce\n") < strstr(s, "policy grafana"));
	if (strstr(s, want) == NULL)
		fail_msg("printed:\n%s\nwant the tail:\n%s", s, want);
	back = parse(s, NULL);
	t = print_str(back);
	{
		static char ta[4096], sb[4096];

		assert_non_null(strstr(t, "policy grafana"));
		snprintf(ta, sizeof(ta), "%s", strstr(t, "policy grafana"));
		snprintf(sb, sizeof(sb), "%s", strstr(s, "policy grafana"));
		strip_origins(ta);
		strip_origins(sb);
		assert_string_equal(ta, sb);
	}
	assert_string_equal(pick(back, "172.29.0.11", NULL), "workers");
	assert_int_equal(policyset_mode(back->policies, 4), MODE_REPORT);
	free(s);
	free(t);
	config_unref(back);
	config_unref(c);
}

/* Implicit routes count every policy's rules: one exact name alone on a port across all
 * policies stays routed; two names (in two policies) do not. */
static void
test_ports(void **state)
{
	struct config *c = parse("policy a 10.0.0.1\nallow smtp.a.example 25\n"
	    "policy b 10.0.0.2\nallow smtp.b.example 25\nallow only.b.example 2525\n", NULL);

	(void)state;
	assert_non_null(config_port(c, 25));
	assert_null(config_implicit_route(c, 25));
	assert_non_null(config_implicit_route(c, 2525));
	assert_string_equal(config_implicit_route(c, 2525)->pattern, "only.b.example");
	config_unref(c);
}

/* The selector's cost: 1,000 policies, each a /32 of its own, all found. */
static void
test_many(void **state)
{
	struct policy *g = policy_new();
	struct policyset *s = policyset_new(g);
	char name[32], e[256];
	size_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 1000; i++) {
		struct policy_spec sp;
		const struct policy_spec *clash;
		uint32_t a = htonl(0x0a000000u + (uint32_t)i);

		snprintf(name, sizeof(name), "p%zu", i);
		assert_int_equal(policyset_add(s, name, e, sizeof(e)), (int)i + 1);
		memset(&sp, 0, sizeof(sp));
		sp.family = AF_INET;
		memcpy(sp.addr, &a, 4);
		sp.len = 32;
		sp.policy = (uint32_t)i + 1;
		sp.origin = "test";
		assert_int_equal(policyset_add_spec(s, &sp, &clash), 0);
	}
	assert_int_equal(policyset_finish(s), 0);
	for (i = 0; i < 1000; i++) {
		struct sockaddr_in in;

		memset(&in, 0, sizeof(in));
		in.sin_family = AF_INET;
		in.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
		assert_int_equal(policyset_select(s, (struct sockaddr *)&in, NULL), i + 1);
	}
	assert_false(policyset_name_ok("-a"));
	assert_false(policyset_name_ok("a_b"));
	assert_false(policyset_name_ok("abcdefghijabcdefghijabcdefghijabc"));	/* 33 */
	assert_true(policyset_name_ok("abcdefghijabcdefghijabcdefghijab"));	/* 32 */
	policyset_free(s);
	policy_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_rules_together),
		cmocka_unit_test(test_deny_across_policies),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
