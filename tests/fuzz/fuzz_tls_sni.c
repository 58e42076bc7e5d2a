/* fuzz_tls_sni.c: libFuzzer target for tls_sni_parse, checking its contract on every input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "tls_sni.h"

#include "fuzz.h"

/* What must hold for any single call. */
static void
check_one(const uint8_t *buf, size_t len, const struct peek_result *res, enum peek_status st)
{
	char norm[DNAME_MAX + 1];
	size_t nlen;

	CHECK(res->status == st);
	switch (st) {
	case PEEK_OK:
		/* a valid name, already in normal form, with no trailing dot */
		nlen = strnlen(res->name, sizeof(res->name));
		CHECK(nlen > 0 && nlen < sizeof(res->name));
		CHECK(res->name[nlen - 1] != '.');
		CHECK(dname_normalize(res->name, nlen, norm, NULL) == DNAME_OK);
		CHECK(strcmp(norm, res->name) == 0);
		CHECK(res->head_len > 0 && res->head_len <= len);
		CHECK(res->why == NULL);
		CHECK((res->flags & (PEEK_F_NOT_PROTOCOL | PEEK_F_IP_LITERAL)) == 0);
		break;
	case PEEK_NEED_MORE:
		CHECK(res->need > len && res->need <= PEEK_MAX);
		CHECK(res->name[0] == '\0');
		break;
	case PEEK_NO_NAME:
		CHECK(res->why != NULL && res->name[0] == '\0');
		CHECK(res->head_len <= len);
		CHECK(!(res->flags & PEEK_F_NOT_PROTOCOL) || !tls_looks_like(buf, len));
		break;
	case PEEK_MALFORMED:
		CHECK(res->why != NULL && res->name[0] == '\0');
		break;
	default:
		abort();
	}
	if (len > 0 && tls_looks_like(buf, len))
		CHECK(!(res->flags & PEEK_F_NOT_PROTOCOL));
}

/*
 * A prefix of buf: NEED_MORE, or the final verdict itself (a verdict never changes as
 * bytes arrive); when NEED_MORE, nothing short of need may change it.
 */
static void
check_prefix(const uint8_t *buf, size_t len, size_t p, const struct peek_result *whole)
{
	struct peek_result res, again;
	enum peek_status st;

	st = tls_sni_parse(buf, p, &res);
	check_one(buf, p, &res, st);
	if (st == PEEK_NEED_MORE) {
		CHECK(whole->status != PEEK_NEED_MORE || res.need <= whole->need);
		CHECK(whole->status == PEEK_NEED_MORE || res.need <= len);
		if (res.need - 1 > p && res.need - 1 <= len) {
			CHECK(tls_sni_parse(buf, res.need - 1, &again) == PEEK_NEED_MORE);
			CHECK(again.need == res.need);
		}
		return;
	}
	CHECK(st == whole->status && res.why == whole->why);
	if (st == PEEK_OK)
		CHECK(strcmp(res.name, whole->name) == 0 && res.head_len == whole->head_len);
}

/* Every prefix of a short input, an even spread (plus the last bytes) of a long one. */
static void
check_prefixes(const uint8_t *buf, size_t len, const struct peek_result *whole)
{
	size_t p, step = fuzz_prefix_step(len, 512, 256);

	for (p = 0; p < len; p += step)
		check_prefix(buf, len, p, whole);
	for (p = len > 16 ? len - 16 : 0; p < len; p++)
		check_prefix(buf, len, p, whole);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peek_result whole;

	check_one(data, size, &whole, tls_sni_parse(data, size, &whole));
	check_prefixes(data, size, &whole);
	return 0;
}
