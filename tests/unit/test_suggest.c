/* test_suggest.c: tools/summary.c, suggest.c, suggest_build.c, collapse.c: aggregation, folding, ports, routes, review. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit_line.h"
#include "audit_time.h"
#include "collapse.h"
#include "config.h"
#include "filter.h"
#include "suggest.h"
#include "summary.h"

/* A conn line at second sec from client to name (NULL: none) on port; extra: more fields
 * (",\"k\":v"), NULL for none. */
static void
conn_line(char *buf, size_t len, int sec, const char *client, unsigned port, const char *name,
    const char *verdict, const char *extra)
{
	snprintf(buf, len, "{\"ts\":\"2026-12-04T10:00:%02dZ\",\"event\":\"conn\",\"client\":\"%s\","
	    "\"port\":%u%s%s%s,\"verdict\":\"%s\"%s}", sec, client, port,
	    name ? ",\"name\":\"" : "", name ? name : "", name ? "\"" : "", verdict,
	    extra ? extra : "");
}

static void
query_line(char *buf, size_t len, int sec, const char *client, const char *name,
    const char *verdict, const char *extra)
{
	snprintf(buf, len, "{\"ts\":\"2026-12-04T10:00:%02dZ\",\"event\":\"query\",\"client\":\"%s\","
	    "\"qname\":\"%s\",\"qtype\":\"A\",\"verdict\":\"%s\"%s}", sec, client, name, verdict,
	    extra ? extra : "");
}

static void
feed_sug(struct suggest *s, const char *line)
{
	struct audit_rec rec;

	assert_int_equal(audit_line_parse(line, strlen(line), &rec), AUDIT_LINE_OK);
	assert_int_equal(suggest_add(s, &rec), 0);
	audit_rec_free(&rec);
}

static void
conn(struct suggest *s, const char *client, unsigned port, const char *name, const char *extra)
{
	char buf[1024];

	conn_line(buf, sizeof(buf), 1, client, port, name, "allow", extra);
	feed_sug(s, buf);
}

/* The entry of v (n structs of size sz that start with their name, as suggest.c's
 * arrays do) called name, or NULL. */
static const void *
named(const void *v, size_t n, size_t sz, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *const *e = (const void *)((const char *)v + i * sz);

		if (strcmp(*e, name) == 0)
			return e;
	}
	return NULL;
}

/* The line of policy p whose pattern is pat, or NULL. */
static const struct suggestion *
line_of(const struct obs_policy *p, const char *pat)
{
	return named(p->lines, p->nlines, sizeof(*p->lines), pat);
}

/* p has exactly the lines of want (NULL-terminated patterns), in any order. */
static void
lines_are(const struct obs_policy *p, const char *const *want)
{
	size_t n = 0;

	for (; want[n] != NULL; n++)
		if (line_of(p, want[n]) == NULL)
			fail_msg("no line %s", want[n]);
	assert_int_equal(p->nlines, n);
}

static const struct obs_policy *
policy_of(const struct suggest *s, const char *name)
{
	return named(s->pol, s->npol, sizeof(*s->pol), name);
}

static void
ports_are(const struct suggestion *l, const char *want)
{
	char buf[256];

	assert_non_null(l);
	portset_format(&l->ports, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* ---- aggregation (summary.c) and filters */

static void
add_sum(struct summary *sum, const struct filter *f, const char *line)
{
	struct audit_rec rec;

	assert_int_equal(audit_line_parse(line, strlen(line), &rec), AUDIT_LINE_OK);
	if (filter_pass(f, &rec))
		assert_int_equal(summary_add(sum, &rec), 0);
	audit_rec_free(&rec);
}

static void
test_aggregation(void **state)
{
	struct summary sum;
	struct filter f;
	char buf[1024];

	(void)state;
	summary_init(&sum);
	filter_init(&f);
	for (int i = 0; i < 200; i++) {		/* past the first hash table's size */
		char name[64];

		snprintf(name, sizeof(name), "n%d.example.com", i % 100);
		conn_line(buf, sizeof(buf), i % 60, "10.0.0.1", 443, name, "allow", NULL);
		add_sum(&sum, &f, buf);
	}
	conn_line(buf, sizeof(buf), 5, "10.0.0.2", 443, "a.example", "deny",
	    ",\"reason\":\"not-allowed\"");
	add_sum(&sum, &f, buf);
	for (int i = 0; i < 3; i++) {
		conn_line(buf, sizeof(buf), 9 - i, "10.0.0.2", 443, "b.example", "allow",
		    ",\"mode\":\"report\",\"enforce\":\"deny\",\"enforce_reason\":\"not-allowed\"");
		add_sum(&sum, &f, buf);
	}
	query_line(buf, sizeof(buf), 1, "10.0.0.3", "b.example", "allow", ",\"policy\":\"web\"");
	add_sum(&sum, &f, buf);
	assert_int_equal(sum.n, 100 + 1 + 1 + 1);
	summary_sort(&sum);
	/* default first, its busiest client first, its rows by count */
	assert_string_equal(sum.rows[0].client, "10.0.0.1");
	assert_int_equal(sum.rows[0].count, 2);
	assert_int_equal(sum.rows[0].client_total, 200);
	assert_string_equal(sum.rows[100].client, "10.0.0.2");
	assert_string_equal(sum.rows[100].name, "b.example");
	assert_int_equal(sum.rows[100].count, 3);
	assert_int_equal(sum.rows[100].would_deny, 1);
	assert_string_equal(sum.rows[100].reason, "not-allowed");
	assert_true(sum.rows[100].first < sum.rows[100].last);
	assert_string_equal(sum.rows[101].name, "a.example");
	assert_string_equal(sum.rows[102].policy, "web");
	assert_int_equal(sum.rows[102].event, AUDIT_QUERY);
	/* adding after a sort still finds the rows */
	conn_line(buf, sizeof(buf), 5, "10.0.0.2", 443, "a.example", "deny",
	    ",\"reason\":\"not-allowed\"");
	add_sum(&sum, &f, buf);
	assert_int_equal(sum.n, 103);
	summary_free(&sum);

	/* --denied keeps denials and would-be denials; --client and the window */
	summary_init(&sum);
	f.denied = 1;
	f.client = "10.0.0.2";
	assert_int_equal(audit_time_parse("2026-12-04T10:00:06Z", &f.since), 0);
	assert_int_equal(audit_time_parse("2026-12-04T10:00:08Z", &f.until), 0);
	conn_line(buf, sizeof(buf), 5, "10.0.0.2", 443, "early.example", "deny", NULL);
	add_sum(&sum, &f, buf);
	conn_line(buf, sizeof(buf), 7, "10.0.0.2", 443, "ok.example", "allow", NULL);
	add_sum(&sum, &f, buf);
	conn_line(buf, sizeof(buf), 7, "10.0.0.9", 443, "other.example", "deny", NULL);
	add_sum(&sum, &f, buf);
	conn_line(buf, sizeof(buf), 8, "10.0.0.2", 443, "would.example", "allow",
	    ",\"enforce\":\"deny\"");
	add_sum(&sum, &f, buf);
	conn_line(buf, sizeof(buf), 6, "10.0.0.2", 443, "deny.example", "deny", NULL);
	add_sum(&sum, &f, buf);
	conn_line(buf, sizeof(buf), 9, "10.0.0.2", 443, "late.example", "deny", NULL);
	add_sum(&sum, &f, buf);
	assert_int_equal(sum.n, 2);
	summary_free(&sum);
}

/* ---- sibling folding (collapse.c) */

static void
siblings(struct suggest *s, const char *head, const char *tail, int n, unsigned port)
{
	for (int i = 0; i < n; i++) {
		char name[128];

		snprintf(name, sizeof(name), "%s%d%s", head, i, tail);
		conn(s, "10.0.0.1", port, name, NULL);
	}
}

static void
test_fold_threshold(void **state)
{
	struct suggest s;
	const struct obs_policy *p;

	(void)state;
	suggest_init(&s);
	siblings(&s, "a", ".four.example.com", 4, 443);	/* under the threshold */
	siblings(&s, "b", ".five.example.com", 5, 443);	/* at it */
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = policy_of(&s, "default");
	/* the four do not fold, nor with the five below example.com once those folded */
	lines_are(p, (const char *const[]){ "a0.four.example.com", "a1.four.example.com",
	    "a2.four.example.com", "a3.four.example.com", "*.five.example.com", NULL });
	assert_int_equal(line_of(p, "*.five.example.com")->names, 5);
	suggest_free(&s);

	suggest_init(&s);
	s.threshold = 3;			/* the option */
	siblings(&s, "a", ".four.example.com", 4, 443);
	assert_int_equal(suggest_build(&s, NULL), 0);
	lines_are(&s.pol[0], (const char *const[]){ "*.four.example.com", NULL });
	suggest_free(&s);
}

static void
test_fold_one_label_or_any_depth(void **state)
{
	struct suggest s;
	const struct obs_policy *p;

	(void)state;
	suggest_init(&s);
	/* five at different depths below cdn.example.net: any depth */
	conn(&s, "10.0.0.1", 443, "a.cdn.example.net", NULL);
	conn(&s, "10.0.0.1", 443, "b.x.cdn.example.net", NULL);
	conn(&s, "10.0.0.1", 443, "c.y.cdn.example.net", NULL);
	conn(&s, "10.0.0.1", 443, "d.z.w.cdn.example.net", NULL);
	conn(&s, "10.0.0.1", 443, "e.cdn.example.net", NULL);
	/* five one label below api.example.org, and one deeper that stays exact */
	siblings(&s, "r", ".api.example.org", 5, 443);
	conn(&s, "10.0.0.1", 443, "deep.r0.api.example.org", NULL);
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	lines_are(p, (const char *const[]){ "**.cdn.example.net", "*.api.example.org",
	    "deep.r0.api.example.org", NULL });
	assert_int_equal(line_of(p, "**.cdn.example.net")->names, 5);
	assert_int_equal(line_of(p, "*.api.example.org")->names, 5);
	suggest_free(&s);
}

static void
test_fold_never_over_a_public_suffix(void **state)
{
	struct suggest s;
	const struct obs_policy *p;

	(void)state;
	assert_false(collapse_parent_ok("com"));
	assert_false(collapse_parent_ok("co.uk"));
	assert_false(collapse_parent_ok("github.io"));		/* the list's private section */
	assert_false(collapse_parent_ok("s3.amazonaws.com"));
	assert_true(collapse_parent_ok("example.co.uk"));
	assert_true(collapse_parent_ok("a.example.co.uk"));
	assert_true(collapse_parent_ok("user.github.io"));
	suggest_init(&s);
	siblings(&s, "user", ".github.io", 6, 443);
	siblings(&s, "shop", ".co.uk", 6, 443);
	siblings(&s, "www.shop", ".co.uk", 6, 443);
	siblings(&s, "host", ".com", 6, 443);
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	for (size_t i = 0; i < p->nlines; i++)
		assert_null(strchr(p->lines[i].pattern, '*'));
	assert_int_equal(p->nlines, 24);
	suggest_free(&s);
}

/* ---- ports, routes, review */

static void
test_ports_merged(void **state)
{
	struct suggest s;
	const struct obs_policy *p;
	static const unsigned ports[] = { 8002, 443, 8000, 8001, 443, 465 };

	(void)state;
	suggest_init(&s);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		conn(&s, "10.0.0.1", ports[i], "api.example.com", NULL);
	conn(&s, "10.0.0.2", 443, "API.Example.com.", ",\"policy\":\"default\"");
	siblings(&s, "m", ".mail.example.com", 4, 465);
	conn(&s, "10.0.0.1", 587, "m4.mail.example.com", NULL);
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	ports_are(line_of(p, "api.example.com"), "443,465,8000-8002");
	assert_int_equal(line_of(p, "api.example.com")->conns, 7);
	assert_int_equal(line_of(p, "api.example.com")->clients.n, 2);
	ports_are(line_of(p, "*.mail.example.com"), "465,587");
	suggest_free(&s);
}

static void
test_routes_from_recent(void **state)
{
	/* per port: the route target (NULL: none), where it came from, whether a connection
	 * on it named a host, the connections without one, whether the target's allow line
	 * routes it (the port's only name) */
	static const struct {
		unsigned port;
		const char *target;
		int from_recent, named;
		unsigned conns;
		int by_allow;
	} want[] = {
		{ 25, "mx.example.net", 1, 0, 3, 1 },	/* the lookup most made before */
		{ 443, NULL, 0, 1, 1, 0 },		/* named ones there: no route */
		{ 9000, NULL, 0, 0, 1, 0 },		/* no lookup before: nothing to route to */
		{ 587, "smtp.gmail.com", 0, 0, 1, 1 },	/* the route seen */
		{ 8080, NULL, 0, 1, 0, 0 },		/* an implicit route, the name named */
	};
	struct suggest s;
	const struct obs_policy *p;
	char buf[1024];

	(void)state;
	suggest_init(&s);
	/* port 25: no name, looked up mx.example.net twice, other.example once */
	for (int i = 0; i < 3; i++) {
		conn_line(buf, sizeof(buf), i, "10.0.0.1", 25, NULL, "deny", i == 1 ?
		    ",\"reason\":\"no-name\",\"recent\":[\"other.example\",\"mx.example.net\"]" :
		    ",\"reason\":\"no-name\",\"recent\":[\"MX.example.net\"]");
		feed_sug(&s, buf);
	}
	/* port 443: named connections and one without a name: no route there */
	conn(&s, "10.0.0.1", 443, "www.example.com", NULL);
	conn_line(buf, sizeof(buf), 4, "10.0.0.1", 443, NULL, "deny",
	    ",\"reason\":\"no-name\",\"recent\":[\"www.example.com\"]");
	feed_sug(&s, buf);
	/* port 9000: no name and no lookup before: nothing to route to */
	conn_line(buf, sizeof(buf), 5, "10.0.0.1", 9000, NULL, "deny", ",\"reason\":\"no-name\"");
	feed_sug(&s, buf);
	/* port 587: an existing route */
	conn_line(buf, sizeof(buf), 6, "10.0.0.1", 587, "smtp.gmail.com", "allow",
	    ",\"via\":\"route\",\"route\":\"smtp.gmail.com:587\"");
	feed_sug(&s, buf);
	/* an implicit route (the port's only name), the client naming it: an allow line */
	conn_line(buf, sizeof(buf), 6, "10.0.0.1", 8080, "web.example.com", "allow",
	    ",\"via\":\"host\",\"route\":\"web.example.com:8080\"");
	feed_sug(&s, buf);
	/* route fields no forwarder writes: ignored */
	conn_line(buf, sizeof(buf), 6, "10.0.0.1", 26, NULL, "allow",
	    ",\"via\":\"route\",\"route\":\"bad name:26\"");
	feed_sug(&s, buf);
	conn_line(buf, sizeof(buf), 6, "10.0.0.1", 26, NULL, "allow",
	    ",\"via\":\"route\",\"route\":\"ok.example:0\"");
	feed_sug(&s, buf);
	conn_line(buf, sizeof(buf), 6, "10.0.0.1", 26, NULL, "allow",
	    ",\"via\":\"route\",\"route\":\"no-port.example\"");
	feed_sug(&s, buf);
	/* the route's target looked up: counted on its allow line */
	query_line(buf, sizeof(buf), 7, "10.0.0.1", "smtp.gmail.com", "allow", NULL);
	feed_sug(&s, buf);
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct obs_port *op = NULL;

		for (size_t k = 0; k < p->nports; k++)
			if (p->ports[k].port == want[i].port)
				op = &p->ports[k];
		assert_non_null(op);
		if (want[i].target == NULL)
			assert_null(op->target);
		else
			assert_string_equal(op->target, want[i].target);
		assert_int_equal(op->target_port, want[i].target ? want[i].port : 0);
		assert_int_equal(op->from_recent, want[i].from_recent);
		assert_int_equal(op->named, want[i].named);
		assert_int_equal(op->conns, want[i].conns);
		assert_int_equal(op->by_allow, want[i].by_allow);
		assert_null(op->shared);
	}
	assert_int_equal(p->nports, 5);
	ports_are(line_of(p, "web.example.com"), "8080");
	assert_int_equal(line_of(p, "web.example.com")->routes.n, 0);
	/* the targets of 587 and 25: allow lines that route their port, not `route` lines */
	ports_are(line_of(p, "smtp.gmail.com"), "587");
	assert_int_equal(line_of(p, "smtp.gmail.com")->routes.n, 1);
	assert_int_equal(line_of(p, "smtp.gmail.com")->lookups, 1);
	assert_int_equal(line_of(p, "smtp.gmail.com")->conns, 1);
	ports_are(line_of(p, "mx.example.net"), "25");
	assert_int_equal(line_of(p, "mx.example.net")->conns, 3);
	assert_non_null(line_of(p, "www.example.com"));
	suggest_free(&s);
}

static const struct obs_port *
port_of(const struct obs_policy *p, unsigned port)
{
	for (size_t k = 0; k < p->nports; k++)
		if (p->ports[k].port == port)
			return &p->ports[k];
	fail_msg("no port %u in policy %s", port, p->name);
	return NULL;
}

static void
routed_conn(struct suggest *s, const char *policy, const char *client, unsigned port,
    const char *target)
{
	char buf[1024], extra[300];

	snprintf(extra, sizeof(extra), ",\"policy\":\"%s\",\"via\":\"route\",\"route\":\"%s\"",
	    policy, target);
	conn_line(buf, sizeof(buf), 1, client, port, NULL, "allow", extra);
	feed_sug(s, buf);
}

static void
test_routes_stay_in_their_policy(void **state)
{
	/* A no-name port's target takes an allow line in the policy of the clients that
	 * needed it, unless no allow line can route the port: then a `route` (gateway-wide),
	 * with the reason when it is another name on the port. */
	static const char conf[] =
	    "route 2525 relay.example:2525\n"		/* the configuration's own route */
	    "policy ops 10.0.0.9\n"
	    "allow db2.example 5433\n";			/* a name of c's on 5433 */
	struct suggest s;
	struct config *c;
	const struct obs_policy *mail, *ci, *web;
	char err[512];

	(void)state;
	assert_int_equal(config_parse("t.conf", conf, sizeof(conf) - 1, NULL, &c, err,
	    sizeof(err)), 0);
	suggest_init(&s);
	routed_conn(&s, "mail", "10.0.0.2", 465, "smtp.example.com:465");
	routed_conn(&s, "mail", "10.0.0.2", 2526, "mx.example.com:25");	/* another port */
	routed_conn(&s, "mail", "10.0.0.2", 2525, "relay.example:2525");
	routed_conn(&s, "ci", "10.0.0.3", 5432, "db.example.com:5432");
	conn(&s, "10.0.0.4", 5432, "other.example.com", ",\"policy\":\"web\"");
	routed_conn(&s, "ci", "10.0.0.3", 5433, "db.example.com:5433");
	routed_conn(&s, "web", "10.0.0.4", 465, "smtp.example.com:465");	/* same target */
	assert_int_equal(suggest_build(&s, c), 0);
	mail = policy_of(&s, "mail");
	ci = policy_of(&s, "ci");
	web = policy_of(&s, "web");
	assert_true(port_of(mail, 465)->by_allow);
	ports_are(line_of(mail, "smtp.example.com"), "465");
	assert_true(port_of(web, 465)->by_allow);
	ports_are(line_of(web, "smtp.example.com"), "465");
	assert_false(port_of(mail, 2526)->by_allow);
	assert_null(port_of(mail, 2526)->shared);
	assert_null(line_of(mail, "mx.example.com"));
	assert_false(port_of(mail, 2525)->by_allow);	/* c's route stays */
	assert_null(port_of(mail, 2525)->shared);
	assert_null(line_of(mail, "relay.example"));
	assert_false(port_of(ci, 5432)->by_allow);
	assert_string_equal(port_of(ci, 5432)->shared, "other.example.com");
	assert_null(line_of(ci, "db.example.com"));
	assert_false(port_of(ci, 5433)->by_allow);
	assert_string_equal(port_of(ci, 5433)->shared, "db2.example (t.conf:3)");
	suggest_free(&s);

	/* without c: 2525 and 5433 are the targets' alone */
	suggest_init(&s);
	routed_conn(&s, "mail", "10.0.0.2", 2525, "relay.example:2525");
	routed_conn(&s, "ci", "10.0.0.3", 5433, "db.example.com:5433");
	assert_int_equal(suggest_build(&s, NULL), 0);
	assert_true(port_of(policy_of(&s, "mail"), 2525)->by_allow);
	assert_true(port_of(policy_of(&s, "ci"), 5433)->by_allow);
	suggest_free(&s);
	config_unref(c);
}

static void
test_review_marks(void **state)
{
	struct suggest s;
	const struct obs_policy *p;
	const struct suggestion *l;
	char buf[1024];

	(void)state;
	suggest_init(&s);
	conn(&s, "10.0.0.1", 8443, "db.corp.example.com", ",\"upstream\":\"10.1.2.3:8443\"");
	conn(&s, "10.0.0.1", 443, "ok.example.com", ",\"upstream\":\"93.184.216.34:443\"");
	conn_line(buf, sizeof(buf), 2, "10.0.0.1", 443, "meta.example.com", "deny",
	    ",\"reason\":\"no-address\",\"detail\":\"169.254.169.254 (link-local)\"");
	feed_sug(&s, buf);
	conn(&s, "10.0.0.1", 443, "v6.example.com", ",\"upstream\":\"[::1]:443\"");
	/* a detail with a newline cannot end its comment */
	conn_line(buf, sizeof(buf), 2, "10.0.0.1", 443, "nl.example.com", "deny",
	    ",\"reason\":\"no-address\",\"detail\":\"10.0.0.1\\nallow evil.example 1\"");
	feed_sug(&s, buf);
	/* a name only looked up: allowed on the assumed port, for review */
	query_line(buf, sizeof(buf), 3, "10.0.0.1", "lookup.example.com", "deny", NULL);
	feed_sug(&s, buf);
	/* names that are no allow rule's: addresses, reverse names, invalid queries */
	query_line(buf, sizeof(buf), 3, "10.0.0.1", "4.3.2.1.in-addr.arpa", "deny", NULL);
	feed_sug(&s, buf);
	query_line(buf, sizeof(buf), 3, "10.0.0.1", "x.example.com", "invalid", NULL);
	feed_sug(&s, buf);
	conn(&s, "10.0.0.1", 443, "192.0.2.7", NULL);
	/* siblings that needed a special-purpose address never fold */
	for (int i = 0; i < 5; i++) {
		char name[64];

		snprintf(name, sizeof(name), "n%d.lan.example.com", i);
		conn(&s, "10.0.0.1", 443, name, ",\"upstream\":\"192.168.1.1:443\"");
	}
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	l = line_of(p, "db.corp.example.com");
	assert_non_null(l);
	assert_non_null(strstr(l->special, "10.1.2.3:8443"));
	assert_null(line_of(p, "ok.example.com")->special);
	assert_string_equal(line_of(p, "meta.example.com")->special, "169.254.169.254 (link-local)");
	assert_non_null(line_of(p, "v6.example.com")->special);
	l = line_of(p, "lookup.example.com");
	assert_non_null(l);
	assert_int_equal(l->lookup_only, 1);
	ports_are(l, "443");
	assert_int_equal(line_of(p, "ok.example.com")->lookup_only, 0);
	assert_null(line_of(p, "*.lan.example.com"));
	assert_non_null(line_of(p, "n0.lan.example.com"));
	assert_string_equal(line_of(p, "nl.example.com")->special, "10.0.0.1?allow evil.example 1");
	assert_int_equal(p->nlines, 6 + 5);
	suggest_free(&s);
}

static void
test_policies_apart(void **state)
{
	struct suggest s;

	(void)state;
	suggest_init(&s);
	conn(&s, "10.0.0.1", 443, "a.example", NULL);
	conn(&s, "10.0.0.2", 443, "b.example", ",\"policy\":\"web\"");
	conn(&s, "10.0.0.3", 443, "c.example", ",\"policy\":\"web\"");
	assert_int_equal(suggest_build(&s, NULL), 0);
	assert_int_equal(s.npol, 2);
	assert_non_null(line_of(policy_of(&s, "default"), "a.example"));
	assert_null(line_of(policy_of(&s, "default"), "b.example"));
	assert_non_null(line_of(policy_of(&s, "web"), "c.example"));
	assert_int_equal(policy_of(&s, "web")->clients.n, 2);
	assert_int_equal(s.records, 3);
	suggest_free(&s);
}

static void
test_lookup_only_port(void **state)
{
	struct suggest s;
	char buf[1024];

	(void)state;
	suggest_init(&s);
	/* policy web: its names were reached on 8443 most, so a name only looked up gets it */
	conn(&s, "10.0.0.2", 8443, "a.example", ",\"policy\":\"web\"");
	conn(&s, "10.0.0.2", 8443, "b.example", ",\"policy\":\"web\"");
	conn(&s, "10.0.0.2", 443, "b.example", ",\"policy\":\"web\"");
	query_line(buf, sizeof(buf), 1, "10.0.0.2", "c.example", "deny", ",\"policy\":\"web\"");
	feed_sug(&s, buf);
	/* policy db: no connection at all: 443 */
	query_line(buf, sizeof(buf), 1, "10.0.0.3", "d.example", "deny", ",\"policy\":\"db\"");
	feed_sug(&s, buf);
	assert_int_equal(suggest_build(&s, NULL), 0);
	ports_are(line_of(policy_of(&s, "web"), "c.example"), "8443");
	assert_int_equal(line_of(policy_of(&s, "web"), "c.example")->lookup_only, 1);
	ports_are(line_of(policy_of(&s, "db"), "d.example"), "443");
	suggest_free(&s);
}

static void
test_deny_rules_stay(void **state)
{
	struct suggest s;
	const struct obs_policy *p;
	char buf[1024];

	(void)state;
	suggest_init(&s);
	conn_line(buf, sizeof(buf), 1, "10.0.0.1", 443, "vault.example.com", "deny",
	    ",\"reason\":\"denied\",\"rule\":\"vault.example.com\"");
	feed_sug(&s, buf);
	query_line(buf, sizeof(buf), 2, "10.0.0.1", "vault.example.com", "deny",
	    ",\"reason\":\"denied\",\"rule\":\"vault.example.com\"");
	feed_sug(&s, buf);
	/* report mode: let through, but a deny rule's */
	conn_line(buf, sizeof(buf), 3, "10.0.0.1", 22, "git.example.com", "allow",
	    ",\"mode\":\"report\",\"enforce\":\"deny\",\"enforce_reason\":\"denied\","
	    "\"rule\":\"git.example.com\"");
	feed_sug(&s, buf);
	conn(&s, "10.0.0.1", 443, "git.example.com", NULL);
	assert_int_equal(suggest_build(&s, NULL), 0);
	p = &s.pol[0];
	lines_are(p, (const char *const[]){ "git.example.com", NULL });
	ports_are(line_of(p, "git.example.com"), "443");
	assert_int_equal(p->denied.n, 2);
	assert_string_equal(p->denied.v[0], "vault.example.com (deny vault.example.com)");
	assert_string_equal(p->denied.v[1], "git.example.com (deny git.example.com)");
	suggest_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregation),
		cmocka_unit_test(test_fold_threshold),
		cmocka_unit_test(test_fold_one_label_or_any_depth),
		cmocka_unit_test(test_fold_never_over_a_public_suffix),
		cmocka_unit_test(test_ports_merged),
		cmocka_unit_test(test_routes_from_recent),
		cmocka_unit_test(test_routes_stay_in_their_policy),
		cmocka_unit_test(test_review_marks),
		cmocka_unit_test(test_policies_apart),
		cmocka_unit_test(test_lookup_only_port),
		cmocka_unit_test(test_deny_rules_stay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
