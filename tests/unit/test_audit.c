/* test_audit.c: common/audit.c: JSON escaping, whole lines in a file, the per-client and
 * global flood bounds with exact "suppressed" counts, and failing writes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "util.h"

#include "tmpdir.h"

#define PYTHON "/usr/bin/python3"

static char logpath[128];

/* ---- helpers ---- */

static struct sockaddr_storage
client(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* The lines of a file, each without its '\n'; the file must end with '\n'. */
struct lines {
	char *buf;
	char **v;
	size_t n;
};

static void
read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	size_t cap = 0, len = 0, i;
	char *p;

	memset(l, 0, sizeof(*l));
	assert_non_null(f);
	for (;;) {
		size_t r;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			l->buf = realloc(l->buf, cap);
			assert_non_null(l->buf);
		}
		r = fread(l->buf + len, 1, cap - len - 1, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	l->buf[len] = '\0';
	assert_int_equal(strlen(l->buf), len);		/* no raw NUL in the file */
	if (len > 0)
		assert_int_equal(l->buf[len - 1], '\n');	/* whole lines only */
	for (i = 0; i < len; i++)
		if (l->buf[i] == '\n')
			l->n++;
	l->v = calloc(l->n + 1, sizeof(*l->v));
	assert_non_null(l->v);
	for (i = 0, p = l->buf; i < l->n; i++) {
		char *nl = strchr(p, '\n');

		*nl = '\0';
		l->v[i] = p;
		p = nl + 1;
	}
}

static void
free_lines(struct lines *l)
{
	free(l->buf);
	free(l->v);
}

/* Every line of the file is one JSON object (Python's json module is the judge). */
static void
assert_json_lines(const char *path)
{
	char cmd[512];

	if (access(PYTHON, X_OK) != 0)
		skip();
	snprintf(cmd, sizeof(cmd), PYTHON " -c 'import json,sys\n"
	    "for l in sys.stdin:\n"
	    "    o = json.loads(l)\n"
	    "    assert isinstance(o, dict), l\n"
	    "    assert list(o)[:3] == [\"ts\", \"daemon\", \"event\"], l\n' < '%s'", path);
	if (system(cmd) != 0)
		fail_msg("%s: not one JSON object per line", path);
}

/* "ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ" within a few seconds of now; returns the line past
 * the timestamp's closing quote. */
static const char *
check_ts(const char *line)
{
	struct tm tm;
	int us = -1, n = 0;
	time_t t;

	if (strncmp(line, "{\"ts\":\"", 7) != 0)
		fail_msg("line does not start with {\"ts\":\": %s", line);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(line + 7, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ\"%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us, &n) != 7 || n != 28)
		fail_msg("bad timestamp: %s", line);
	assert_true(us >= 0 && us <= 999999);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	assert_true(t <= time(NULL) + 1 && t >= time(NULL) - 30);
	return line + 7 + n;
}

/* The line after its timestamp, exactly. */
static void
assert_line(const char *line, const char *after_ts)
{
	const char *rest = check_ts(line);

	if (strcmp(rest, after_ts) != 0)
		fail_msg("line\n  %s\nwant\n  {\"ts\":\"...\"%s", line, after_ts);
}

/* The file at path holds exactly n lines, the i-th being a timestamp and then the i-th
 * of the n strings given (assert_line), each one JSON object. */
static void
assert_log(const char *path, size_t n, ...)
{
	struct lines l;
	va_list ap;
	size_t i;

	read_lines(path, &l);
	assert_int_equal(l.n, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_line(l.v[i], va_arg(ap, const char *));
	va_end(ap);
	free_lines(&l);
	assert_json_lines(path);
}

static struct audit *
open_log(unsigned rate)
{
	char err[256] = "";
	struct audit *a;

	unlink(logpath);
	a = audit_open(logpath, "resolver", rate, err, sizeof(err));
	if (a == NULL)
		fail_msg("audit_open: %s", err);
	return a;
}

/* One ordinary line for a client; returns what audit_begin said. */
static int
event(struct audit *a, const struct sockaddr *cl, const char *qname)
{
	if (!audit_begin(a, "query", cl))
		return 0;
	audit_str(a, "qname", qname);
	audit_end(a);
	return 1;
}

/* n such lines; how many audit_begin let through (the rest were suppressed). */
static unsigned
events(struct audit *a, const struct sockaddr *cl, const char *qname, unsigned n)
{
	unsigned i, ok = 0;

	for (i = 0; i < n; i++)
		ok += (unsigned)event(a, cl, qname);
	return ok;
}

static size_t
count_event(const struct lines *l, const char *needle)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		if (strstr(l->v[i], needle) != NULL)
			n++;
	return n;
}

static int
setup(void **state)
{
	(void)state;
	if (tmpdir_make("audit") == -1)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/audit.jsonl", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove();
}

/* ---- audit_escape ---- */

/* Bytes (len of them, NULs included) and their escaped form. */
struct esc_case {
	const char *in;
	size_t len;
	const char *out;
	const char *shows;
};

static void
test_escape(void **state)
{
	static const struct esc_case cases[] = {
		{ "smtp.gmail.com", 14, "smtp.gmail.com", "printable ASCII kept" },
		{ " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", 37, " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~",
		  "every printable class kept" },
		{ "a\"b", 3, "a\\\"b", "double quote" },
		{ "a\\b", 3, "a\\\\b", "backslash" },
		{ "\n\r\t", 3, "\\n\\r\\t", "newline, CR, tab" },
		{ "\0", 1, "\\u0000", "NUL" },
		{ "\x01\x1f", 2, "\\u0001\\u001f", "other control bytes" },
		{ "\b\f", 2, "\\u0008\\u000c", "backspace and form feed as \\u" },
		{ "\x7f", 1, "\\u007f", "DEL" },
		{ "\x80\xff", 2, "\\u0080\\u00ff", "bytes >= 0x80" },
		{ "b\xc3\xbc", 3, "b\\u00c3\\u00bc", "UTF-8 written byte by byte" },
		{ "x\"}\n{\"event\":\"fake", 18, "x\\\"}\\n{\\\"event\\\":\\\"fake", "an injection attempt" },
		{ "", 0, "", "empty" },
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		size_t n;

		memset(out, 'Z', sizeof(out));
		n = audit_escape(out, sizeof(out), cases[i].in, cases[i].len);
		if (n != strlen(cases[i].out) || memcmp(out, cases[i].out, n) != 0) {
			print_error("case %zu (%s): got %zu '%.*s'\n", i, cases[i].shows, n,
			    n == (size_t)-1 ? 0 : (int)n, out);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Bytes and the capacity their escaped form needs. */
struct cap_case {
	const char *in;
	size_t len, need;
};

/* The exact capacity fits; one byte less is (size_t)-1 and nothing past cap is written. */
static void
test_escape_small(void **state)
{
	static const struct cap_case cases[] = {
		{ "a", 1, 1 }, { "\"", 1, 2 }, { "\n", 1, 2 }, { "\x01", 1, 6 }, { "\xff", 1, 6 },
		{ "ab\"c\x02", 5, 11 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[32];

		memset(out, 'Z', sizeof(out));
		assert_int_equal(audit_escape(out, cases[i].need, cases[i].in, cases[i].len),
		    cases[i].need);
		assert_int_equal(out[cases[i].need], 'Z');
		memset(out, 'Z', sizeof(out));
		assert_int_equal(audit_escape(out, cases[i].need - 1, cases[i].in, cases[i].len),
		    (size_t)-1);
		assert_int_equal(out[cases[i].need - 1], 'Z');
	}
	assert_int_equal(audit_escape(NULL, 0, "", 0), 0);
}

/* ---- whole lines ---- */

static void
test_lines_exact(void **state)
{
	struct sockaddr_storage cl = client("172.19.0.5", 41234);
	struct sockaddr_storage up = client("142.250.102.108", 465);
	struct sockaddr_storage up6 = client("2a00:1450::1", 443);
	static const char *const answers[] = { "172.19.0.120", "fd00::\"1" };
	struct audit *a = open_log(0);
	struct stat st;
	mode_t um;

	(void)state;
	assert_string_equal(audit_target(a), logpath);
	assert_int_equal(audit_begin(a, "query", SA(cl)), 1);
	audit_addr(a, "client", SA(cl), 0);
	audit_str(a, "proto", "udp");
	audit_str(a, "qname", "smtp.gmail.com");
	audit_str(a, "qtype", "A");
	audit_strarray(a, "answer", answers, 2);
	audit_end(a);
	assert_int_equal(audit_begin(a, "conn", SA(cl)), 1);
	audit_addr(a, "client", SA(cl), 1);
	audit_uint(a, "port", 465);
	audit_addr(a, "upstream", SA(up), 1);
	audit_addr(a, "upstream6", SA(up6), 1);
	audit_uint(a, "bytes_up", UINT64_MAX);
	audit_strarray(a, "none", NULL, 0);
	audit_end(a);
	/* a client-controlled name with quotes, a newline and a NUL stays in its field */
	assert_int_equal(audit_begin(a, "conn", NULL), 1);
	audit_strn(a, "name", "evil\"}\n{\"event\":\"fake\0x", 23);
	audit_str(a, "verdict", "deny");
	audit_end(a);
	assert_int_equal(audit_flush(a), 0);
	assert_int_equal(audit_stats(a)->written, 3);
	audit_close(a);

	assert_log(logpath, 3,
	    ",\"daemon\":\"resolver\",\"event\":\"query\",\"client\":\"172.19.0.5\","
	    "\"proto\":\"udp\",\"qname\":\"smtp.gmail.com\",\"qtype\":\"A\","
	    "\"answer\":[\"172.19.0.120\",\"fd00::\\\"1\"]}",
	    ",\"daemon\":\"resolver\",\"event\":\"conn\",\"client\":\"172.19.0.5:41234\","
	    "\"port\":465,\"upstream\":\"142.250.102.108:465\",\"upstream6\":\"[2a00:1450::1]:443\","
	    "\"bytes_up\":18446744073709551615,\"none\":[]}",
	    ",\"daemon\":\"resolver\",\"event\":\"conn\","
	    "\"name\":\"evil\\\"}\\n{\\\"event\\\":\\\"fake\\u0000x\",\"verdict\":\"deny\"}");
	/* created 0640 (less the umask) */
	um = umask(022);
	umask(um);
	assert_int_equal(stat(logpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~um);
}

/* Every byte value in a field, and a long field: still one valid line each. */
static void
test_lines_every_byte(void **state)
{
	struct audit *a = open_log(0);
	char all[256], big[8192];
	struct lines l;
	size_t i;

	(void)state;
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	memset(big, '\n', sizeof(big));
	assert_int_equal(audit_begin(a, "conn", NULL), 1);
	audit_strn(a, "all", all, sizeof(all));
	audit_end(a);
	assert_int_equal(audit_begin(a, "conn", NULL), 1);
	audit_strn(a, "big", big, sizeof(big));
	audit_end(a);
	assert_int_equal(audit_flush(a), 0);
	audit_close(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 2);
	{
		/* 8192 newlines are 16384 characters of "\n" */
		const char *head = ",\"daemon\":\"resolver\",\"event\":\"conn\",\"big\":\"";
		const char *rest = check_ts(l.v[1]);

		assert_int_equal(strlen(rest), strlen(head) + 2 * sizeof(big) + 2);
		assert_memory_equal(rest, head, strlen(head));
		for (i = 0; i < sizeof(big); i++)
			assert_memory_equal(rest + strlen(head) + 2 * i, "\\n", 2);
		assert_string_equal(rest + strlen(head) + 2 * sizeof(big), "\"}");
	}
	/* 0x00-0x1f as \u00XX except \t \n \r, printable kept, '"' '\\' escaped, DEL and
	 * high bytes as \u00XX */
	assert_non_null(strstr(l.v[0], "\"all\":\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005"
	    "\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\\u000e"));
	assert_non_null(strstr(l.v[0], "\\u001f !\\\"#$%&'()*+,-./0123456789"));
	assert_non_null(strstr(l.v[0], "XYZ[\\\\]^_`abc"));
	assert_non_null(strstr(l.v[0], "xyz{|}~\\u007f\\u0080\\u0081"));
	assert_non_null(strstr(l.v[0], "\\u00fe\\u00ff\"}"));
	free_lines(&l);
	assert_json_lines(logpath);
}

/* A line too big for the batch buffer is dropped whole and counted, never written half;
 * the next flush says how many were lost. */
static void
test_line_overflow(void **state)
{
	struct audit *a = open_log(0);
	size_t big = 300 * 1024;
	char *v = malloc(big);

	(void)state;
	assert_non_null(v);
	memset(v, 'x', big);
	assert_int_equal(event(a, NULL, "before"), 1);
	assert_int_equal(audit_begin(a, "conn", NULL), 1);
	audit_strn(a, "huge", v, big);
	audit_end(a);
	assert_int_equal(audit_stats(a)->dropped, 1);
	assert_int_equal(event(a, NULL, "after"), 1);
	assert_int_equal(audit_flush(a), 0);
	audit_close(a);
	free(v);
	assert_log(logpath, 3,
	    ",\"daemon\":\"resolver\",\"event\":\"query\",\"qname\":\"before\"}",
	    ",\"daemon\":\"resolver\",\"event\":\"query\",\"qname\":\"after\"}",
	    ",\"daemon\":\"resolver\",\"event\":\"dropped\",\"count\":1}");
}

/* Many lines: batching flushes on its own and every line arrives whole, in order. */
static void
test_many_lines(void **state)
{
	struct audit *a = open_log(0);
	struct sockaddr_storage cl = client("10.9.9.9", 1);
	struct lines l;
	size_t i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%zu.example", i);
		assert_int_equal(event(a, SA(cl), name), 1);	/* rate 0: no limit */
	}
	audit_close(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 5000);
	assert_non_null(strstr(l.v[0], "\"qname\":\"n0.example\"}"));
	assert_non_null(strstr(l.v[4999], "\"qname\":\"n4999.example\"}"));
	free_lines(&l);
}

/* ---- the flood bound ---- */

/* Rate N: a burst from one client writes exactly 10*N lines, then counts; another
 * client is unaffected; once the client pauses for a second, audit_tick writes one
 * "suppressed" line with the exact count. */
static void
test_flood_per_client(void **state)
{
	struct sockaddr_storage c1 = client("10.0.0.1", 1000), c1b = client("10.0.0.1", 2000);
	struct sockaddr_storage c1m = client("::ffff:10.0.0.1", 3000);
	struct sockaddr_storage c2 = client("2001:db8::7", 53);
	struct audit *a = open_log(5);
	unsigned ok1 = 0, ok2 = 0, refill = 0, i, lo, hi;
	uint64_t m0a, m0b, m1a, m1b;
	struct lines l;
	struct timespec ts = { 1, 150 * 1000000L };

	(void)state;
	/* 80 from client 1, on three source ports and as v4-mapped: one client */
	for (i = 0; i < 80; i++)
		ok1 += (unsigned)event(a, i % 3 == 0 ? SA(c1) : i % 3 == 1 ? SA(c1b) : SA(c1m),
		    "x.example");
	for (i = 0; i < 51; i++)
		ok2 += (unsigned)event(a, SA(c2), "y.example");
	assert_int_equal(ok1, 50);		/* 10 * rate */
	assert_int_equal(ok2, 50);		/* a second client has its own burst */
	assert_int_equal(audit_stats(a)->suppressed, 31);
	/* a suppressed begin: fields and end are no-ops */
	m0a = util_now_ms();
	assert_int_equal(audit_begin(a, "query", SA(c1)), 0);
	m0b = util_now_ms();
	audit_str(a, "qname", "ignored");
	audit_uint(a, "n", 1);
	audit_end(a);
	assert_int_equal(audit_stats(a)->suppressed, 32);
	/* a tick (once a second in the daemons) reports what each client held back, also
	 * while its flood goes on, so a count is never stuck behind an endless flood */
	audit_tick(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 102);
	assert_int_equal(count_event(&l, "\"event\":\"suppressed\""), 2);
	{
		const char *want1 = ",\"daemon\":\"resolver\",\"event\":\"suppressed\","
		    "\"client\":\"10.0.0.1\",\"count\":31}";
		const char *want2 = ",\"daemon\":\"resolver\",\"event\":\"suppressed\","
		    "\"client\":\"2001:db8::7\",\"count\":1}";
		const char *r100 = check_ts(l.v[100]), *r101 = check_ts(l.v[101]);

		/* slot order is the hash's: either line may come first */
		if (!((strcmp(r100, want1) == 0 && strcmp(r101, want2) == 0) ||
		    (strcmp(r100, want2) == 0 && strcmp(r101, want1) == 0)))
			fail_msg("suppressed lines:\n  %s\n  %s", l.v[100], l.v[101]);
	}
	free_lines(&l);
	assert_int_equal(audit_stats(a)->written, 102);
	/* reported once: another tick adds nothing */
	nanosleep(&ts, NULL);
	audit_tick(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 102);
	free_lines(&l);

	/* the bucket refilled at 5 lines a second since the last line, no more: with less
	 * than a line of tokens left over, floor(5 * elapsed) or one more */
	m1a = util_now_ms();
	for (i = 0; i < 20; i++)
		refill += (unsigned)event(a, SA(c1), "again.example");
	m1b = util_now_ms();
	lo = (unsigned)((m1a - m0b) * 5 / 1000);
	hi = (unsigned)((m1b - m0a) * 5 / 1000) + 1;
	if (refill < lo || refill > hi)
		fail_msg("refill %u lines, want %u-%u", refill, lo, hi);
	assert_true(refill >= 5);
	audit_close(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 102 + refill + 1);
	{
		char want[256];

		snprintf(want, sizeof(want), ",\"daemon\":\"resolver\",\"event\":\"suppressed\","
		    "\"client\":\"10.0.0.1\",\"count\":%u}", 20 - refill);
		assert_line(l.v[l.n - 1], want);
	}
	free_lines(&l);
	assert_json_lines(logpath);
}

/* All clients together get 20 * 10 * rate as their burst. */
static void
test_flood_global(void **state)
{
	struct audit *a = open_log(1);
	unsigned ok = 0, i, reported = 0;
	struct lines l;

	(void)state;
	for (i = 0; i < 30; i++) {
		char addr[32];
		struct sockaddr_storage cl;

		snprintf(addr, sizeof(addr), "192.0.2.%u", i + 1);
		cl = client(addr, 1);
		ok += events(a, SA(cl), "z.example", 10);
	}
	assert_int_equal(ok, 200);
	assert_int_equal(audit_stats(a)->suppressed, 100);
	audit_close(a);		/* reports every pending count */
	read_lines(logpath, &l);
	assert_int_equal(count_event(&l, "\"event\":\"query\""), 200);
	for (i = 0; i < l.n; i++) {
		const char *p = strstr(l.v[i], "\"event\":\"suppressed\"");
		unsigned n;

		if (p != NULL) {
			p = strstr(p, "\"count\":");
			assert_non_null(p);
			assert_int_equal(sscanf(p, "\"count\":%u}", &n), 1);
			reported += n;
		}
	}
	assert_int_equal(reported, 100);	/* nothing disappears without a count */
	free_lines(&l);
	assert_json_lines(logpath);
}

/* Rate 0: no bound. A NULL client: no bound either. audit_set_rate changes it live. */
static void
test_flood_unlimited(void **state)
{
	struct sockaddr_storage cl = client("10.1.1.1", 1);
	struct audit *a = open_log(0);

	(void)state;
	assert_int_equal(events(a, SA(cl), "u.example", 3000), 3000);
	assert_int_equal(audit_stats(a)->suppressed, 0);
	audit_set_rate(a, 1);
	assert_int_equal(events(a, NULL, "n.example", 300), 300);
	assert_int_equal(events(a, SA(cl), "u.example", 30), 10);
	audit_set_rate(a, 0);
	assert_int_equal(events(a, SA(cl), "u.example", 30), 30);
	audit_close(a);
}

/* audit_close writes the counts still pending. */
static void
test_close_reports(void **state)
{
	struct sockaddr_storage cl = client("198.51.100.9", 7);
	struct audit *a = open_log(2);
	unsigned ok;
	struct lines l;

	(void)state;
	ok = events(a, SA(cl), "c.example", 25);
	assert_int_equal(ok, 20);
	assert_int_equal(audit_stats(a)->suppressed, 5);
	audit_close(a);
	read_lines(logpath, &l);
	assert_int_equal(l.n, 21);
	assert_line(l.v[20], ",\"daemon\":\"resolver\",\"event\":\"suppressed\","
	    "\"client\":\"198.51.100.9\",\"count\":5}");
	free_lines(&l);
	assert_json_lines(logpath);
}

/* ---- failing writes ---- */

static void
test_dev_full(void **state)
{
	struct audit *a;
	char err[256] = "";

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	a = audit_open("/dev/full", "forwarder", 0, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(events(a, NULL, "lost.example", 3), 3);
	errno = 0;
	assert_int_equal(audit_flush(a), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(audit_stats(a)->dropped, 3);
	assert_int_equal(audit_stats(a)->write_errors, 1);
	assert_int_equal(audit_stats(a)->written, 0);
	/* the daemon keeps going: more lines, more failures, all counted */
	assert_int_equal(events(a, NULL, "lost.example", 2), 2);
	assert_int_equal(audit_flush(a), -1);
	assert_int_equal(audit_stats(a)->dropped, 5);
	assert_true(audit_stats(a)->write_errors >= 2);
	assert_int_equal(audit_stats(a)->written, 0);
	audit_close(a);
}

/* A file target that fails (a symlink to /dev/full), then works again after rotation
 * (audit_reopen): the first flush that works writes a "dropped" line with the count. */
static void
test_recovery(void **state)
{
	char link[160], real[160];
	struct audit *a;
	char err[256] = "";

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	snprintf(link, sizeof(link), "%s/link.jsonl", tmpdir);
	snprintf(real, sizeof(real), "%s/real.jsonl", tmpdir);
	unlink(link);
	unlink(real);
	assert_int_equal(symlink("/dev/full", link), 0);
	a = audit_open(link, "forwarder", 0, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(events(a, NULL, "lost.example", 3), 3);
	assert_int_equal(audit_flush(a), -1);
	assert_int_equal(audit_stats(a)->dropped, 3);
	/* rotate: the path now names a regular file */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(real, link), 0);
	assert_int_equal(audit_reopen(a, err, sizeof(err)), 0);
	assert_int_equal(audit_stats(a)->dropped, 3);	/* a failed report is not a lost event */
	assert_int_equal(event(a, NULL, "kept.example"), 1);
	assert_int_equal(audit_flush(a), 0);
	assert_int_equal(audit_stats(a)->dropped, 3);
	audit_close(a);
	assert_log(real, 2,
	    ",\"daemon\":\"forwarder\",\"event\":\"query\",\"qname\":\"kept.example\"}",
	    ",\"daemon\":\"forwarder\",\"event\":\"dropped\",\"count\":3}");
}

/* A write that fails part-way (the disk fills in the middle of a batch: here a file size
 * limit) must not leave half a line that the next line is glued to, and "dropped" must
 * count the lines that are not in the file, not the ones that are. */
static void
test_partial_write(void **state)
{
	struct audit *a = open_log(0);
	struct rlimit old, lim;
	struct lines l;
	void (*oldsig)(int);
	size_t i, whole = 0, bad = 0;
	uint64_t dropped;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	for (i = 0; i < 20; i++) {
		char name[64];

		snprintf(name, sizeof(name), "line%02zu.example", i);
		assert_int_equal(event(a, NULL, name), 1);
	}
	/* each line is 95 bytes: 1000 ends inside the 11th */
	lim = old;
	lim.rlim_cur = 1000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(audit_flush(a), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(audit_stats(a)->write_errors, 1);
	dropped = audit_stats(a)->dropped;
	/* writing works again */
	assert_int_equal(event(a, NULL, "after.example"), 1);
	assert_int_equal(audit_flush(a), 0);
	audit_close(a);
	read_lines(logpath, &l);
	for (i = 0; i < l.n; i++) {
		/* a whole line is '{' ... '}' with exactly one "ts" */
		if (l.v[i][0] != '{' || l.v[i][strlen(l.v[i]) - 1] != '}' ||
		    strstr(l.v[i] + 1, "{\"ts\"") != NULL) {
			print_error("broken line %zu: %s\n", i, l.v[i]);
			bad++;
		} else if (strstr(l.v[i], "\"event\":\"query\"") != NULL)
			whole++;
	}
	free_lines(&l);
	/* 21 events: every one is either whole in the file or counted as dropped */
	if (whole + dropped != 21 || bad != 0)
		fail_msg("%zu whole query lines in the file + %llu counted dropped != 21 events; "
		    "%zu broken lines", whole, (unsigned long long)dropped, bad);
}

/* Open errors name the target; stdout/stderr targets reopen as a no-op. */
static void
test_open_errors(void **state)
{
	char err[256] = "";
	struct audit *a;

	(void)state;
	assert_null(audit_open("/nonexistent-dir/x/audit.log", "resolver", 0, err, sizeof(err)));
	assert_string_equal(err, "audit /nonexistent-dir/x/audit.log: No such file or directory");
	a = audit_open("stderr", "resolver", 0, err, sizeof(err));
	assert_non_null(a);
	assert_string_equal(audit_target(a), "stderr");
	assert_int_equal(audit_reopen(a, err, sizeof(err)), 0);
	audit_close(a);
	assert_true(fcntl(STDERR_FILENO, F_GETFD) != -1);	/* not ours to close */
	audit_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_small),
		cmocka_unit_test(test_lines_exact),
		cmocka_unit_test(test_lines_every_byte),
		cmocka_unit_test(test_line_overflow),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_flood_per_client),
		cmocka_unit_test(test_flood_global),
		cmocka_unit_test(test_flood_unlimited),
		cmocka_unit_test(test_close_reports),
		cmocka_unit_test(test_dev_full),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_partial_write),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
