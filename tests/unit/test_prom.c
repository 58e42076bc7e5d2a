/* test_prom.c: common/prom.c: the Prometheus text format, byte for byte (HELP and TYPE
 * lines, labels and their escaping, counters, gauges, one-series families, histograms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

/* The text written so far is exactly want; then start again empty. */
static void
expect_text(struct prom *p, const char *want)
{
	assert_int_equal(p->oom, 0);
	assert_non_null(p->buf);
	assert_string_equal(p->buf, want);
	assert_int_equal(p->len, strlen(want));
	prom_free(p);
	prom_init(p);
}

static void
test_family_lines(void **state)
{
	static const char *const ways[] = { "up", "down" };
	static const uint64_t counts[] = { 7, 0 };
	struct prom p;

	(void)state;
	prom_init(&p);
	assert_null(p.buf);
	assert_int_equal(p.len, 0);
	prom_family(&p, "x_total", "counter", "Things counted.");
	expect_text(&p, "# HELP x_total Things counted.\n# TYPE x_total counter\n");
	prom_family(&p, "x_now", "gauge", "Things now.");
	expect_text(&p, "# HELP x_now Things now.\n# TYPE x_now gauge\n");
	prom_scalar(&p, "y_total", "counter", "One series.", 5);
	expect_text(&p, "# HELP y_total One series.\n# TYPE y_total counter\ny_total 5\n");
	prom_by_label(&p, "z_total", "counter", "By way.", "way", ways, counts, 2);
	expect_text(&p, "# HELP z_total By way.\n# TYPE z_total counter\n"
	    "z_total{way=\"up\"} 7\nz_total{way=\"down\"} 0\n");
	prom_free(&p);
}

/* No labels: no braces. One label, several labels: in the order given. */
static void
test_samples(void **state)
{
	struct prom p;

	(void)state;
	prom_init(&p);
	prom_u64(&p, "a_total", 0, (const char *)NULL);
	expect_text(&p, "a_total 0\n");
	prom_u64(&p, "a_total", UINT64_MAX, (const char *)NULL);
	expect_text(&p, "a_total 18446744073709551615\n");
	prom_u64(&p, "a_total", 7, "k", "v", (const char *)NULL);
	expect_text(&p, "a_total{k=\"v\"} 7\n");
	prom_u64(&p, "a_total", 3, "verdict", "allow", "via", "sni", (const char *)NULL);
	expect_text(&p, "a_total{verdict=\"allow\",via=\"sni\"} 3\n");
	prom_u64(&p, "a_total", 1, "k", "", (const char *)NULL);
	expect_text(&p, "a_total{k=\"\"} 1\n");
	prom_double(&p, "g", 0.25, (const char *)NULL);
	expect_text(&p, "g 0.25\n");
	prom_double(&p, "g", 1234567.5, "k", "v", (const char *)NULL);
	expect_text(&p, "g{k=\"v\"} 1234567.5\n");
	prom_double(&p, "g", -3, (const char *)NULL);
	expect_text(&p, "g -3\n");
	prom_free(&p);
}

/* Backslash, double quote and newline are escaped in label values; nothing else is. */
static void
test_label_escaping(void **state)
{
	struct prom p;

	(void)state;
	prom_init(&p);
	prom_u64(&p, "e", 1, "v", "a\\b\"c\nd", (const char *)NULL);
	expect_text(&p, "e{v=\"a\\\\b\\\"c\\nd\"} 1\n");
	prom_u64(&p, "e", 2, "v", "\\\\\n\n\"", "w", "tab\there'q'", (const char *)NULL);
	expect_text(&p, "e{v=\"\\\\\\\\\\n\\n\\\"\",w=\"tab\there'q'\"} 2\n");
	prom_free(&p);
}

/* Buckets are cumulative, then +Inf, _sum and _count (the total, +Inf included). */
static void
test_histogram(void **state)
{
	static const double bounds[] = { 0.001, 0.5, 2 };
	static const uint64_t counts[] = { 1, 0, 4, 2 };
	struct prom p;

	(void)state;
	prom_init(&p);
	prom_histogram(&p, "h_seconds", bounds, counts, 3, 7.75);
	expect_text(&p,
	    "h_seconds_bucket{le=\"0.001\"} 1\n"
	    "h_seconds_bucket{le=\"0.5\"} 1\n"
	    "h_seconds_bucket{le=\"2\"} 5\n"
	    "h_seconds_bucket{le=\"+Inf\"} 7\n"
	    "h_seconds_sum 7.75\n"
	    "h_seconds_count 7\n");
	prom_free(&p);
}

/* A small exposition as a scrape sees it: families in order, each followed by its samples. */
static void
test_exposition(void **state)
{
	struct prom p;

	(void)state;
	prom_init(&p);
	prom_family(&p, "gh_connections_total", "counter", "Connections by verdict.");
	prom_u64(&p, "gh_connections_total", 12, "verdict", "allow", (const char *)NULL);
	prom_u64(&p, "gh_connections_total", 3, "verdict", "deny", (const char *)NULL);
	prom_family(&p, "gh_connections_active", "gauge", "Open now.");
	prom_u64(&p, "gh_connections_active", 2, (const char *)NULL);
	prom_family(&p, "gh_uptime_seconds", "gauge", "Seconds since start.");
	prom_double(&p, "gh_uptime_seconds", 42.5, (const char *)NULL);
	expect_text(&p,
	    "# HELP gh_connections_total Connections by verdict.\n"
	    "# TYPE gh_connections_total counter\n"
	    "gh_connections_total{verdict=\"allow\"} 12\n"
	    "gh_connections_total{verdict=\"deny\"} 3\n"
	    "# HELP gh_connections_active Open now.\n"
	    "# TYPE gh_connections_active gauge\n"
	    "gh_connections_active 2\n"
	    "# HELP gh_uptime_seconds Seconds since start.\n"
	    "# TYPE gh_uptime_seconds gauge\n"
	    "gh_uptime_seconds 42.5\n");
	prom_free(&p);
}

/* The buffer grows past its first allocation and keeps every byte. */
static void
test_growth(void **state)
{
	char label[16];
	struct prom p;
	size_t i, want = 0;

	(void)state;
	prom_init(&p);
	for (i = 0; i < 2000; i++) {
		snprintf(label, sizeof(label), "%05zu", i);
		prom_u64(&p, "grow", i, "i", label, (const char *)NULL);
		want += strlen("grow{i=\"00000\"} \n") + (size_t)snprintf(NULL, 0, "%zu", i);
	}
	assert_int_equal(p.oom, 0);
	assert_int_equal(p.len, want);
	assert_int_equal(strlen(p.buf), want);
	assert_true(p.cap > p.len);
	assert_memory_equal(p.buf, "grow{i=\"00000\"} 0\ngrow{i=\"00001\"} 1\n", 36);
	assert_non_null(strstr(p.buf, "grow{i=\"01999\"} 1999\n"));
	prom_free(&p);
	assert_null(p.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_lines),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_exposition),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
