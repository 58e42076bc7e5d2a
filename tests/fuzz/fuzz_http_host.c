/* fuzz_http_host.c: libFuzzer target for forwarder/http_host.c; aborts when an invariant breaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "http_host.h"

#include "fuzz.h"

/* Invariants of one result on its own. */
static void
check_result(const uint8_t *buf, size_t len, enum peek_status st, const struct peek_result *r)
{
	char norm[DNAME_MAX + 1];
	size_t nlen;

	CHECK(r->status == st);
	CHECK(memchr(r->name, '\0', sizeof(r->name)) != NULL);
	CHECK((r->flags & ~(unsigned)(PEEK_F_NOT_PROTOCOL | PEEK_F_IP_LITERAL |
	    PEEK_F_ABSOLUTE | PEEK_F_CONNECT)) == 0);
	CHECK(!(r->flags & PEEK_F_ABSOLUTE) || !(r->flags & PEEK_F_CONNECT));
	switch (st) {
	case PEEK_NEED_MORE:
		CHECK(r->need > len);
		CHECK((r->flags & (PEEK_F_NOT_PROTOCOL | PEEK_F_IP_LITERAL)) == 0);
		CHECK(r->why == NULL && r->name[0] == '\0');
		break;
	case PEEK_OK:
		CHECK(dname_normalize(r->name, strlen(r->name), norm, &nlen) == DNAME_OK);
		CHECK(strcmp(norm, r->name) == 0);
		CHECK(r->why == NULL);
		CHECK((r->flags & (PEEK_F_NOT_PROTOCOL | PEEK_F_IP_LITERAL)) == 0);
		CHECK(r->head_len > 0 && r->head_len <= len && r->head_len <= HTTP_HEAD_MAX);
		CHECK(r->head_len == http_head_end(buf, len, 0));
		CHECK(!(r->flags & PEEK_F_CONNECT) || r->port != 0);
		break;
	case PEEK_NO_NAME:
		CHECK(r->why != NULL && r->name[0] == '\0');
		CHECK(r->head_len > 0 && r->head_len <= len);
		if (r->flags & PEEK_F_NOT_PROTOCOL)
			CHECK((r->flags & ~(unsigned)PEEK_F_NOT_PROTOCOL) == 0);
		else
			CHECK(r->head_len == http_head_end(buf, len, 0));
		break;
	case PEEK_MALFORMED:
		CHECK(r->why != NULL && r->name[0] == '\0');
		CHECK((r->flags & (PEEK_F_NOT_PROTOCOL | PEEK_F_IP_LITERAL)) == 0);
		/* decided at the end of a line, or at the size limit */
		CHECK(r->head_len > 0 && r->head_len <= len && r->head_len <= HTTP_HEAD_MAX);
		CHECK(r->head_len == HTTP_HEAD_MAX || buf[r->head_len - 1] == '\n');
		break;
	default:
		abort();
	}
}

/* A verdict other than NEED_MORE on a prefix is final: the whole input gives the same. */
static void
check_prefix(const uint8_t *buf, size_t plen, const struct peek_result *full)
{
	struct peek_result r;
	enum peek_status st = http_host_parse(buf, plen, &r);

	check_result(buf, plen, st, &r);
	if (st == PEEK_NEED_MORE)
		return;
	if (st == PEEK_OK || full->status == PEEK_OK)	/* never OK with another name */
		CHECK(st == full->status && strcmp(r.name, full->name) == 0);
	CHECK(st == full->status && r.port == full->port && r.flags == full->flags &&
	    r.why == full->why && r.head_len == full->head_len);
}

static int
same_result(const struct peek_result *a, const struct peek_result *b)
{
	return a->status == b->status && strcmp(a->name, b->name) == 0 && a->port == b->port &&
	    a->flags == b->flags && a->need == b->need && a->head_len == b->head_len &&
	    a->why == b->why;
}

/* One call of an http_scan over a fresh copy of exactly buf[0..n): the buffer moves
 * between calls, as a realloc'd one does, and ASan sees a read past n or through a
 * pointer kept from an earlier call. */
static enum peek_status
feed_copy(struct http_scan *scan, const uint8_t *buf, size_t n, struct peek_result *r)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum peek_status st;

	CHECK(copy != NULL);
	memcpy(copy, buf, n);
	st = http_scan_feed(scan, copy, n, r);
	check_result(copy, n, st, r);
	free(copy);
	return st;
}

/*
 * The input fed to one http_scan in pieces whose sizes come from a generator seeded by
 * the input: the streamed verdict is the one-shot verdict of the same bytes, field by
 * field, and (not being NEED_MORE) that of the whole input; it stays as the rest is fed;
 * the scan looked at as many bytes as one call would, at most two per byte.
 */
static void
check_streamed(const uint8_t *buf, size_t len, const struct peek_result *full)
{
	struct http_scan scan, once;
	struct peek_result r, one, again;
	enum peek_status st = PEEK_NEED_MORE;
	uint32_t x = 2166136261u;
	size_t seen = 0, i;

	for (i = 0; i < len && i < 32; i++)
		x = (x ^ buf[len - 1 - i]) * 16777619u;
	http_scan_init(&scan);
	do {
		x = x * 1103515245u + 12345u;
		seen += (x & 0x300) == 0 ? 1 + (x >> 16) % 512 : 1 + (x >> 16) % 8;
		if (seen > len)
			seen = len;
		st = feed_copy(&scan, buf, seen, &r);
	} while (st == PEEK_NEED_MORE && seen < len);
	CHECK(http_host_parse(buf, seen, &one) == st && same_result(&r, &one));
	http_scan_init(&once);
	(void)http_scan_feed(&once, buf, seen, &one);
	CHECK(scan.examined == once.examined && scan.examined <= 2 * seen);
	if (st == PEEK_NEED_MORE) {
		CHECK(full->status == PEEK_NEED_MORE);
		return;
	}
	CHECK(st == full->status && strcmp(r.name, full->name) == 0 && r.port == full->port &&
	    r.flags == full->flags && r.why == full->why && r.head_len == full->head_len);
	while (seen < len) {
		x = x * 1103515245u + 12345u;
		seen += 1 + (x >> 16) % 1024;
		if (seen > len)
			seen = len;
		CHECK(feed_copy(&scan, buf, seen, &again) == st);
		CHECK(again.status == r.status && strcmp(again.name, r.name) == 0 &&
		    again.port == r.port && again.flags == r.flags && again.why == r.why &&
		    again.head_len == r.head_len);
	}
}

/* http_head_end over chunks whose sizes come from a generator seeded by the input. */
static void
check_head_end(const uint8_t *buf, size_t len)
{
	size_t want = http_head_end(buf, len, 0), seen = 0, got = 0, from;
	uint32_t x = 2166136261u;
	size_t i;

	for (i = 0; i < len && i < 16; i++)
		x = (x ^ buf[i]) * 16777619u;
	while (got == 0 && seen < len) {
		x = x * 1103515245u + 12345u;
		from = seen;
		seen += 1 + (x >> 16) % ((x & 0x100) ? 4 : 64);
		if (seen > len)
			seen = len;
		got = http_head_end(buf, seen, from);
	}
	CHECK(got == want);
	CHECK(want == 0 || (want >= 2 && want <= len && buf[want - 1] == '\n'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peek_result full;
	enum peek_status st;
	size_t n, step;

	st = http_host_parse(data, size, &full);
	check_result(data, size, st, &full);
	/* Every prefix of short inputs; about 64 spread over long ones, and the head's edge. */
	step = fuzz_prefix_step(size, 1024, 64);
	for (n = 0; n < size; n += step)
		check_prefix(data, n, &full);
	if (full.head_len > 0 && full.head_len <= size) {
		struct peek_result r;

		check_prefix(data, full.head_len, &full);
		check_prefix(data, full.head_len - 1, &full);
		/* the byte that decided was needed */
		if (st == PEEK_OK || st == PEEK_NO_NAME)
			CHECK(http_host_parse(data, full.head_len - 1, &r) == PEEK_NEED_MORE);
	}
	check_streamed(data, size, &full);
	check_head_end(data, size);
	return 0;
}
