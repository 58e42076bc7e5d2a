/* audit.c: the audit writer: JSON Lines formatted into a batch buffer, a token bucket
 * per client address (and one for all clients), counts for everything held back. */
#include "audit.h"
#include "policyset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "addr.h"
#include "clients.h"
#include "util.h"

#define BUF_CAP		(256 * 1024)	/* batch buffer */
#define FLUSH_AT	(64 * 1024)	/* audit_end writes once this much is batched */
#define LINE_ROOM	(16 * 1024)	/* audit_begin flushes first when less is free */
#define SLOTS		4096		/* clients tracked by the flood bound */
#define PROBE		8		/* slots looked at per client */
#define BURST_FACTOR	10
#define GLOBAL_FACTOR	20

struct audit_slot {
	struct client_slot c;		/* c.last_ms: the bucket's last refill */
	uint64_t tokens;		/* in thousandths of a line */
	uint64_t held;			/* suppressed since the last report */
};

struct audit {
	char *target;
	char daemon[32];
	int fd;
	int own_fd;			/* fd is ours to close */
	int is_pipe;			/* writes are cut at PIPE_BUF on line boundaries */
	int partial;			/* buf starts inside a line already half written */
	unsigned rate;
	char *buf;
	size_t len;
	size_t line_start;		/* offset of the line being built */
	int in_line;
	int overflow;			/* the line being built did not fit */
	size_t pending_lines;		/* complete lines in buf */
	uint64_t dropped_unreported;
	uint64_t global_tokens, global_ms;
	time_t ts_sec;			/* cache for the timestamp's date part */
	char ts_prefix[24];		/* "2026-11-28T12:00:00" */
	size_t ts_prefix_len;
	struct client_slots slots;
	struct audit_stats stats;
};

static int
open_target(const char *target, int *fd, int *own, char *err, size_t errlen)
{
	if (strcmp(target, "off") == 0) {
		*fd = -1;
		*own = 0;
	} else if (strcmp(target, "stdout") == 0) {
		*fd = STDOUT_FILENO;
		*own = 0;
	} else if (strcmp(target, "stderr") == 0) {
		*fd = STDERR_FILENO;
		*own = 0;
	} else {
		*fd = open(target, AUDIT_OPEN_FLAGS, AUDIT_OPEN_MODE);
		if (*fd == -1) {
			snprintf(err, errlen, "audit %s: %s", target, strerror(errno));
			return -1;
		}
		*own = 1;
	}
	return 0;
}

static int
is_fifo(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

struct audit *
audit_open(const char *target, const char *daemon, unsigned rate, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->buf = malloc(BUF_CAP)) == NULL ||
	    clients_slots_init(&a->slots, SLOTS, sizeof(struct audit_slot), PROBE) == -1 ||
	    (a->target = strdup(target)) == NULL) {
		snprintf(err, errlen, "audit: out of memory");
		goto fail;
	}
	if (open_target(target, &a->fd, &a->own_fd, err, errlen) == -1)
		goto fail;
	a->is_pipe = is_fifo(a->fd);
	util_strlcpy(a->daemon, daemon, sizeof(a->daemon));
	audit_set_rate(a, rate);
	return a;
fail:
	if (a != NULL) {
		free(a->buf);
		clients_slots_free(&a->slots);
		free(a->target);
		free(a);
	}
	return NULL;
}

void
audit_set_rate(struct audit *a, unsigned rate)
{
	a->rate = rate;
	a->global_tokens = (uint64_t)rate * BURST_FACTOR * GLOBAL_FACTOR * 1000;
	a->global_ms = util_now_ms();
}

const char *
audit_target(const struct audit *a)
{
	return a->target;
}

int
audit_target_is_file(const char *target)
{
	return strcmp(target, "off") != 0 && strcmp(target, "stdout") != 0 &&
	    strcmp(target, "stderr") != 0;
}

const struct audit_stats *
audit_stats(const struct audit *a)
{
	return &a->stats;
}

int
audit_reopen(struct audit *a, char *err, size_t errlen)
{
	int fd, own;

	if (!a->own_fd)
		return 0;
	audit_flush(a);
	if (open_target(a->target, &fd, &own, err, errlen) == -1)
		return -1;
	if (a->partial && a->len > 0) {	/* its start is in the old file: drop the rest */
		const char *nl = memchr(a->buf, '\n', a->len);
		size_t cut = nl ? (size_t)(nl - a->buf) + 1 : a->len;

		memmove(a->buf, a->buf + cut, a->len - cut);
		a->len -= cut;
		a->pending_lines--;
		a->stats.dropped++;
		a->dropped_unreported++;
	}
	a->partial = 0;
	close(a->fd);
	a->fd = fd;
	a->is_pipe = is_fifo(fd);
	return 0;
}

/* ---- formatting ---- */

/* 1 for the bytes that are written as they are: printable ASCII but '"' and '\'. */
static const unsigned char plain[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1,
	[')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1, [':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1,
	['>'] = 1, ['?'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
	['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
	['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
	['Z'] = 1, ['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1,
	['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
	['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
	['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['{'] = 1, ['|'] = 1, ['}'] = 1,
	['~'] = 1, [' '] = 1,
};

size_t
audit_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, o = 0;

	while (i < len) {
		size_t run = i;
		unsigned char c;

		while (run < len && plain[(unsigned char)s[run]])
			run++;
		if (run > i) {		/* a run of plain bytes: one copy */
			if (o + (run - i) > cap)
				return (size_t)-1;
			memcpy(out + o, s + i, run - i);
			o += run - i;
			i = run;
			continue;
		}
		c = (unsigned char)s[i++];
		if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			if (o + 2 > cap)
				return (size_t)-1;
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
			continue;
		}
		if (o + 6 > cap)
			return (size_t)-1;
		memcpy(out + o, "\\u00", 4);
		out[o + 4] = hex[c >> 4];
		out[o + 5] = hex[c & 15];
		o += 6;
	}
	return o;
}

/* Decimal digits of v into buf (holds 20); returns the length. No printf on the per-query
 * path: it was a third of the resolver's instructions. */
static size_t
fmt_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static void
put_raw(struct audit *a, const char *s, size_t n)
{
	if (a->overflow || a->len + n > BUF_CAP) {
		a->overflow = 1;
		return;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

static void
put_escaped(struct audit *a, const char *s, size_t n)
{
	size_t w;

	if (a->overflow)
		return;
	w = audit_escape(a->buf + a->len, BUF_CAP - a->len, s, n);
	if (w == (size_t)-1)
		a->overflow = 1;
	else
		a->len += w;
}

static void
put_key(struct audit *a, const char *key)
{
	put_raw(a, ",\"", 2);
	put_raw(a, key, strlen(key));
	put_raw(a, "\":", 2);
}

static void
put_ts(struct audit *a)
{
	struct timespec ts;
	char tail[8];
	unsigned long us;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != a->ts_sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		a->ts_prefix_len = strftime(a->ts_prefix, sizeof(a->ts_prefix), "%Y-%m-%dT%H:%M:%S",
		    &tm);
		a->ts_sec = ts.tv_sec;
	}
	put_raw(a, a->ts_prefix, a->ts_prefix_len);
	us = (unsigned long)(ts.tv_nsec / 1000);
	tail[0] = '.';
	for (i = 6; i >= 1; i--) {
		tail[i] = (char)('0' + us % 10);
		us /= 10;
	}
	tail[7] = 'Z';
	put_raw(a, tail, 8);
}

static void
line_open(struct audit *a, const char *event)
{
	a->line_start = a->len;
	a->in_line = 1;
	a->overflow = 0;
	put_raw(a, "{\"ts\":\"", 7);
	put_ts(a);
	put_raw(a, "\",\"daemon\":\"", 12);
	put_raw(a, a->daemon, strlen(a->daemon));
	put_raw(a, "\",\"event\":\"", 11);
	put_raw(a, event, strlen(event));
	put_raw(a, "\"", 1);
}

void
audit_str(struct audit *a, const char *key, const char *val)
{
	audit_strn(a, key, val, strlen(val));
}

void
audit_strn(struct audit *a, const char *key, const char *val, size_t len)
{
	if (!a->in_line)
		return;
	put_key(a, key);
	put_raw(a, "\"", 1);
	put_escaped(a, val, len);
	put_raw(a, "\"", 1);
}

void
audit_safe(struct audit *a, const char *key, const char *val)
{
	if (!a->in_line)
		return;
	put_key(a, key);
	put_raw(a, "\"", 1);
	put_raw(a, val, strlen(val));
	put_raw(a, "\"", 1);
}

void
audit_uint(struct audit *a, const char *key, uint64_t val)
{
	char num[20];

	if (!a->in_line)
		return;
	put_key(a, key);
	put_raw(a, num, fmt_u64(num, val));
}

void
audit_addr(struct audit *a, const char *key, const struct sockaddr *sa, int with_port)
{
	char buf[ADDR_STRLEN];
	size_t n;

	if (!a->in_line)
		return;
	if (sa->sa_family != AF_INET) {	/* IPv6 is rarer: the library's formatter */
		audit_str(a, key, addr_format(sa, with_port, buf, sizeof(buf)));
		return;
	}
	n = addr_fmt_ipv4(buf, &((const struct sockaddr_in *)sa)->sin_addr);
	if (with_port) {
		buf[n++] = ':';
		n += fmt_u64(buf + n, addr_port(sa));
	}
	put_key(a, key);
	put_raw(a, "\"", 1);
	put_raw(a, buf, n);
	put_raw(a, "\"", 1);
}

void
audit_client(struct audit *a, const struct sockaddr *sa, const char *policy)
{
	audit_addr(a, "client", sa, 0);
	audit_uint(a, "client_port", addr_port(sa));
	audit_safe(a, "policy", policy != NULL ? policy : POLICYSET_DEFAULT);
}

void
audit_report(struct audit *a, int enforce_allows, const char *enforce_reason,
    const char *rule)
{
	audit_safe(a, "mode", "report");
	audit_safe(a, "enforce", enforce_allows ? "allow" : "deny");
	if (enforce_allows)
		return;
	if (enforce_reason != NULL)
		audit_safe(a, "enforce_reason", enforce_reason);
	if (rule != NULL)
		audit_safe(a, "rule", rule);
}

void
audit_strarray(struct audit *a, const char *key, const char *const *vals, size_t n)
{
	size_t i;

	if (!a->in_line)
		return;
	put_key(a, key);
	put_raw(a, "[", 1);
	for (i = 0; i < n; i++) {
		put_raw(a, i ? ",\"" : "\"", i ? 2 : 1);
		put_escaped(a, vals[i], strlen(vals[i]));
		put_raw(a, "\"", 1);
	}
	put_raw(a, "]", 1);
}

void
audit_end(struct audit *a)
{
	if (!a->in_line)
		return;
	a->in_line = 0;
	put_raw(a, "}\n", 2);
	if (a->overflow) {	/* cannot happen with bounded fields; count, never write half */
		a->len = a->line_start;
		a->overflow = 0;
		a->stats.dropped++;
		a->dropped_unreported++;
		return;
	}
	a->pending_lines++;
	if (a->len >= FLUSH_AT)
		audit_flush(a);
}

/* ---- the flood bound ---- */

static int
bucket_take(uint64_t *tokens, uint64_t *last_ms, uint64_t now, uint64_t rate, uint64_t cap)
{
	if (now > *last_ms) {
		uint64_t add = (now - *last_ms) * rate;	/* rate/s = rate thousandths/ms */

		*tokens = (*tokens + add > cap) ? cap : *tokens + add;
	}
	*last_ms = now;
	if (*tokens < 1000)
		return 0;
	*tokens -= 1000;
	return 1;
}

static void report_held(struct audit *a, struct audit_slot *s);

/* The flood bound's slot of client, a full bucket for one not seen lately. */
static struct audit_slot *
audit_slot(struct audit *a, const struct sockaddr *client, uint64_t now)
{
	struct client_slot *c;
	struct audit_slot *s;

	if (clients_slot_find(&a->slots, client, &c))
		return (struct audit_slot *)c;
	s = (struct audit_slot *)c;
	if (s->c.used && s->held > 0)
		report_held(a, s);	/* evicted: its count is written first */
	clients_slot_claim(&a->slots, c, client);
	s->c.last_ms = now;
	s->tokens = (uint64_t)a->rate * BURST_FACTOR * 1000;
	return s;
}

int
audit_begin(struct audit *a, const char *event, const struct sockaddr *client)
{
	if (a->fd == -1)		/* audit off */
		return 0;
	if (a->len + LINE_ROOM > BUF_CAP)
		audit_flush(a);
	if (a->len + LINE_ROOM > BUF_CAP) {	/* writer stuck: count, do not block */
		a->stats.dropped++;
		a->dropped_unreported++;
		return 0;
	}
	if (a->rate > 0 && client != NULL) {
		uint64_t now = util_now_ms();
		struct audit_slot *s = audit_slot(a, client, now);
		uint64_t r = a->rate;

		if (!bucket_take(&s->tokens, &s->c.last_ms, now, r, r * BURST_FACTOR * 1000) ||
		    !bucket_take(&a->global_tokens, &a->global_ms, now, r * GLOBAL_FACTOR,
		    r * BURST_FACTOR * GLOBAL_FACTOR * 1000)) {
			s->held++;
			a->stats.suppressed++;
			return 0;
		}
	}
	line_open(a, event);
	return 1;
}

static void
report_held(struct audit *a, struct audit_slot *s)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, s->c.key, 16);
	line_open(a, "suppressed");
	audit_addr(a, "client", (struct sockaddr *)&sin6, 0);
	audit_uint(a, "count", s->held);
	audit_end(a);
	s->held = 0;
}

void
audit_tick(struct audit *a)
{
	uint64_t now = util_now_ms();
	size_t i;

	for (i = 0; i < SLOTS && a->fd != -1; i++) {
		struct audit_slot *s = (struct audit_slot *)clients_slot_at(&a->slots, i);

		if (s->c.used && s->held > 0)
			report_held(a, s);	/* once a second while a flood lasts */
		else if (s->c.used && s->held == 0 && now - s->c.last_ms > 60000)
			s->c.used = 0;	/* idle: free the slot */
	}
	audit_flush(a);
}

/* ---- writing ---- */

/* How much of buf[off..len) one write may take: everything for a file; for a pipe
 * (docker logs, shared by both daemons) at most PIPE_BUF bytes ending on a line boundary,
 * so the kernel never interleaves another writer inside a line. */
static size_t
chunk_len(const struct audit *a, size_t off)
{
	size_t left = a->len - off;
	const char *nl;

	if (!a->is_pipe || left <= PIPE_BUF)
		return left;
	nl = memrchr(a->buf + off, '\n', PIPE_BUF);
	if (nl != NULL)
		return (size_t)(nl - (a->buf + off)) + 1;
	/* One line longer than PIPE_BUF (cannot happen with bounded fields): whole line. */
	nl = memchr(a->buf + off, '\n', left);
	return nl ? (size_t)(nl - (a->buf + off)) + 1 : left;
}

/* After a failed write: count the whole lines not written as dropped and forget them,
 * but keep the rest of a line the failed write cut in two, so the next write finishes
 * it and the file never holds half a line glued to the next one. */
static void
drop_unwritten(struct audit *a)
{
	const char *nl = memchr(a->buf, '\n', a->len);
	size_t keep = a->partial && nl != NULL ? (size_t)(nl - a->buf) + 1 : 0;

	a->stats.dropped += a->pending_lines - (keep ? 1 : 0);
	a->dropped_unreported += a->pending_lines - (keep ? 1 : 0);
	a->pending_lines = keep ? 1 : 0;
	a->len = keep;
}

/* Write the batch. Pending bytes that hit EAGAIN stay for the next flush; on a hard
 * error see drop_unwritten. */
static int
write_batch(struct audit *a)
{
	size_t off = 0, whole = 0;
	const char *p, *end;
	int rc = 0, saved = 0;

	while (off < a->len) {
		ssize_t w = write(a->fd, a->buf + off, chunk_len(a, off));

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		saved = (w == -1 && errno != 0) ? errno : EIO;
		a->stats.write_errors++;
		rc = -1;
		break;
	}
	for (p = a->buf, end = a->buf + off; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		whole++;
	if (off > 0)
		a->partial = a->buf[off - 1] != '\n';
	a->stats.written += whole;
	a->pending_lines -= whole < a->pending_lines ? whole : a->pending_lines;
	memmove(a->buf, a->buf + off, a->len - off);
	a->len -= off;
	if (rc == -1) {
		drop_unwritten(a);
		errno = saved;
	}
	return rc;
}

int
audit_flush(struct audit *a)
{
	uint64_t n;

	if (a->in_line || a->fd == -1)
		return 0;
	if (write_batch(a) == -1)
		return -1;
	if (a->dropped_unreported == 0 || a->len > 0)
		return 0;
	/* Writing works again: say how many lines were lost. */
	n = a->dropped_unreported;
	a->dropped_unreported = 0;
	line_open(a, "dropped");
	audit_uint(a, "count", n);
	a->in_line = 0;
	put_raw(a, "}\n", 2);
	a->pending_lines++;
	if (write_batch(a) == 0)
		return 0;
	if (a->len == 0) {		/* the report itself is not a lost event */
		a->stats.dropped--;
		a->dropped_unreported = n;
	}
	return -1;
}

void
audit_close(struct audit *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < SLOTS && a->fd != -1; i++) {
		struct audit_slot *s = (struct audit_slot *)clients_slot_at(&a->slots, i);

		if (s->c.used && s->held > 0)
			report_held(a, s);
	}
	audit_flush(a);
	if (a->own_fd)
		close(a->fd);
	free(a->buf);
	clients_slots_free(&a->slots);
	free(a->target);
	free(a);
}
