/* fuzz_http_host.c: libFuzzer target for forwarder/http_host.c; aborts when an invariant breaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "http_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

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
	step = size <= 1024 ? 1 : size / 64;
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
	check_head_end(data, size);
	return 0;
}
