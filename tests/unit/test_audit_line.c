/* test_audit_line.c: tools/audit_line.c and audit_time.c: compose prefixes, malformed lines, every field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit_line.h"
#include "audit_time.h"

static enum audit_line_status
parse(const char *line, struct audit_rec *rec)
{
	return audit_line_parse(line, strlen(line), rec);
}

/* The string field of rec called key (as the audit line names it). */
static const char *
field(const struct audit_rec *rec, const char *key)
{
	const struct { const char *key; const char *val; } f[] = {
		{ "ts", rec->ts }, { "client", rec->client }, { "policy", rec->policy },
		{ "name", rec->name }, { "qtype", rec->qtype }, { "rcode", rec->rcode },
		{ "via", rec->via }, { "route", rec->route }, { "upstream", rec->upstream },
		{ "verdict", rec->verdict }, { "reason", rec->reason }, { "rule", rec->rule },
		{ "detail", rec->detail }, { "mode", rec->mode }, { "enforce", rec->enforce },
		{ "enforce_reason", rec->enforce_reason },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].val;
	fail_msg("no field %s", key);
	return NULL;
}

/* Each "key", "value" pair of want (NULL-terminated) is a field of rec; a NULL value:
 * the field is absent. */
static void
fields_are(const struct audit_rec *rec, const char *const *want)
{
	for (size_t i = 0; want[i] != NULL; i += 2) {
		const char *got = field(rec, want[i]);

		if (want[i + 1] == NULL)
			assert_null(got);
		else
			assert_string_equal(got, want[i + 1]);
	}
}

#define QUERY "{\"ts\":\"2026-11-28T12:00:00.123456Z\",\"daemon\":\"resolver\"," \
	"\"event\":\"query\",\"client\":\"172.19.0.5\",\"client_port\":41234,\"proto\":\"udp\"," \
	"\"qname\":\"smtp.gmail.com\",\"qtype\":\"A\",\"verdict\":\"allow\"," \
	"\"rule\":\"smtp.gmail.com\",\"rcode\":\"NOERROR\",\"answer\":\"172.19.0.120\"}"

static void
test_prefixes(void **state)
{
	static const char *const good[] = {
		QUERY,					/* none */
		"gatehouse-1  | " QUERY,		/* compose v2 */
		"gatehouse_1  | " QUERY,		/* compose v1 */
		"my.gate_house-12 | " QUERY,		/* any service name, replica 12 */
		"gatehouse-1  |" QUERY,			/* no space after the bar */
		"  " QUERY "\r\n",			/* blanks and CRLF around it */
	};
	static const char *const bad[] = {
		"gatehouse  | " QUERY,			/* no replica number */
		"-1  | " QUERY,				/* no service name */
		"gatehouse-1 : " QUERY,			/* not a bar */
		"gatehouse-1" QUERY,			/* no blank before the bar */
	};
	struct audit_rec rec;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse(good[i], &rec), AUDIT_LINE_OK);
		assert_string_equal(rec.name, "smtp.gmail.com");
		audit_rec_free(&rec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &rec), AUDIT_LINE_MALFORMED);
	assert_ptr_equal(audit_line_strip("x-1  | {}", 9), "x-1  | {}" + 7);
}

static void
test_blank_other_malformed(void **state)
{
	static const char *const malformed[] = {
		"not json",
		"[1,2]",
		"\"a string\"",
		"{\"event\":\"query\"",					/* cut */
		"{\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\"}",	/* no ts */
		"{\"ts\":\"yesterday\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"verdict\":\"allow\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"conn\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"conn\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"port\":0}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"conn\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"port\":\"443\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"conn\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"port\":70000}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"\",\"verdict\":\"allow\"}",
		"gatehouse-1  | gatehouse-resolver: started",		/* a diagnostic */
		/* a client that is no address, a policy that is no policy name: a line no
		 * daemon writes, and nothing to put in a configuration */
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"host\",\"verdict\":\"allow\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\\nallow x 1\",\"verdict\":\"allow\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"policy\":\"\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"policy\":\"Web\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"policy\":\"-web\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"policy\":\"a b\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\",\"client\":\"10.0.0.1\",\"verdict\":\"allow\",\"policy\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	struct audit_rec rec;

	(void)state;
	assert_int_equal(parse("", &rec), AUDIT_LINE_BLANK);
	assert_int_equal(parse("  \r\n", &rec), AUDIT_LINE_BLANK);
	assert_int_equal(parse("gatehouse-1  | ", &rec), AUDIT_LINE_BLANK);
	assert_int_equal(parse("{\"ts\":\"x\",\"event\":\"suppressed\",\"count\":3}", &rec),
	    AUDIT_LINE_OTHER);
	assert_int_equal(parse("{\"event\":\"dropped\"}", &rec), AUDIT_LINE_OTHER);
	/* the longest policy name, and an IPv6 client */
	assert_int_equal(parse("{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"query\","
	    "\"client\":\"2001:db8::1\",\"verdict\":\"allow\",\"policy\":"
	    "\"a-0123456789abcdefghijklmnopqrst\"}", &rec), AUDIT_LINE_OK);
	audit_rec_free(&rec);
	assert_int_equal(parse("{\"no\":\"event\"}", &rec), AUDIT_LINE_OTHER);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		assert_int_equal(parse(malformed[i], &rec), AUDIT_LINE_MALFORMED);
		assert_null(rec.json);
	}
}

static void
test_query_fields(void **state)
{
	struct audit_rec rec;

	(void)state;
	assert_int_equal(parse(QUERY, &rec), AUDIT_LINE_OK);
	assert_int_equal(rec.event, AUDIT_QUERY);
	assert_string_equal(rec.ts, "2026-11-28T12:00:00.123456Z");
	assert_true(rec.ts_us == 1795867200123456LL);
	assert_int_equal(rec.client_port, 41234);
	/* policy absent: default */
	fields_are(&rec, (const char *const[]){ "client", "172.19.0.5", "policy", "default",
	    "qtype", "A", "rcode", "NOERROR", "verdict", "allow", "rule", "smtp.gmail.com",
	    "reason", NULL, "mode", NULL, NULL });
	assert_int_equal(rec.port, 0);
	assert_int_equal(rec.nrecent, 0);
	audit_rec_free(&rec);

	/* report mode and a deny rule: the fields issue 13 adds */
	assert_int_equal(parse("{\"ts\":\"2026-11-28T12:00:00Z\",\"event\":\"query\","
	    "\"client\":\"::1\",\"client_port\":5,\"policy\":\"web\",\"qname\":\"vault.example.com\","
	    "\"qtype\":\"AAAA\",\"verdict\":\"allow\",\"rcode\":\"NOERROR\",\"mode\":\"report\","
	    "\"enforce\":\"deny\",\"enforce_reason\":\"denied\",\"rule\":\"vault.example.com\","
	    "\"unknown\":{\"nested\":[1,2]}}", &rec), AUDIT_LINE_OK);
	fields_are(&rec, (const char *const[]){ "policy", "web", "mode", "report", "enforce", "deny",
	    "enforce_reason", "denied", "client", "::1", NULL });
	audit_rec_free(&rec);
}

static void
test_conn_fields(void **state)
{
	struct audit_rec rec;

	(void)state;
	assert_int_equal(parse("gatehouse-1  | {\"ts\":\"2026-11-28T12:00:01Z\","
	    "\"daemon\":\"forwarder\",\"event\":\"conn\",\"client\":\"172.19.0.5\","
	    "\"client_port\":41238,\"policy\":\"mail\",\"port\":587,\"name\":\"evil.example\","
	    "\"via\":\"sni\",\"route\":\"smtp.gmail.com:587\",\"verdict\":\"deny\","
	    "\"rule\":\"smtp.gmail.com\",\"reason\":\"name-mismatch\","
	    "\"detail\":\"port 587 is routed to smtp.gmail.com\",\"ms\":2}", &rec), AUDIT_LINE_OK);
	assert_int_equal(rec.event, AUDIT_CONN);
	assert_int_equal(rec.port, 587);
	fields_are(&rec, (const char *const[]){ "name", "evil.example", "via", "sni", "route",
	    "smtp.gmail.com:587", "reason", "name-mismatch", "detail",
	    "port 587 is routed to smtp.gmail.com", "policy", "mail", "upstream", NULL, NULL });
	audit_rec_free(&rec);

	assert_int_equal(parse("{\"ts\":\"2026-11-28T12:00:02Z\",\"event\":\"conn\","
	    "\"client\":\"10.0.0.2\",\"port\":25,\"verdict\":\"allow\",\"reason\":\"no-name\","
	    "\"mode\":\"report\",\"enforce\":\"deny\",\"enforce_reason\":\"no-name\","
	    "\"upstream\":\"192.0.2.1:25\",\"recent\":[\"mx.example.net\",7,\"a.example\","
	    "\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}", &rec), AUDIT_LINE_OK);
	assert_int_equal(rec.client_port, -1);	/* absent */
	assert_string_equal(rec.upstream, "192.0.2.1:25");
	assert_int_equal(rec.nrecent, AUDIT_RECENT_MAX);	/* the number skipped, cut at 8 */
	assert_string_equal(rec.recent[0], "mx.example.net");
	assert_string_equal(rec.recent[1], "a.example");
	assert_null(rec.name);
	audit_rec_free(&rec);
}

static void
test_times(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(audit_time_parse("1970-01-01", &us), 0);
	assert_true(us == 0);
	assert_int_equal(audit_time_parse("1970-01-01T00:01", &us), 0);
	assert_true(us == 60000000);
	assert_int_equal(audit_time_parse("1970-01-01 00:00:01.5Z", &us), 0);
	assert_true(us == 1500000);
	assert_int_equal(audit_time_parse("2026-11-28T12:00:00.000001Z", &us), 0);
	assert_true(us == 1795867200000001LL);
	assert_int_equal(audit_time_parse("2026-11-28T12:00:00.1234567Z", &us), -1);
	assert_int_equal(audit_time_parse("2026-11-28T12:00:00.Z", &us), -1);
	assert_int_equal(audit_time_parse("2026-13-01", &us), -1);
	assert_int_equal(audit_time_parse("2026-11-28T24:00", &us), -1);
	assert_int_equal(audit_time_parse("2026-11-28T12", &us), -1);
	assert_int_equal(audit_time_parse("2026-11-28x", &us), -1);
	assert_int_equal(audit_time_parse("", &us), -1);
	{
		char buf[40];

		assert_string_equal(audit_time_format(1795867200123456LL, buf, sizeof(buf)),
		    "2026-11-28T12:00:00Z");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_blank_other_malformed),
		cmocka_unit_test(test_query_fields),
		cmocka_unit_test(test_conn_fields),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
