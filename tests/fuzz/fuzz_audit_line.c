/* fuzz_audit_line.c: libFuzzer target for tools/audit_line.c and audit_time.c; aborts when an invariant breaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_line.h"
#include "audit_time.h"
#include "fuzz.h"

/* Every string of a record is readable to its NUL. */
static void
touch(const char *s)
{
	if (s != NULL)
		CHECK(strlen(s) < 1u << 30);
}

static void
check_record(const struct audit_rec *r)
{
	const char *const fields[] = { r->ts, r->name, r->qtype, r->rcode, r->via, r->route,
		r->upstream, r->reason, r->rule, r->detail, r->mode, r->enforce,
		r->enforce_reason };
	char buf[40];

	CHECK(r->json != NULL);
	CHECK(r->ts != NULL && r->client != NULL && r->client[0] != '\0');
	CHECK(r->verdict != NULL && r->policy != NULL && r->policy[0] != '\0');
	CHECK(r->event == AUDIT_QUERY || r->event == AUDIT_CONN);
	CHECK(r->event == AUDIT_QUERY ? r->port == 0 : (r->port >= 1 && r->port <= 65535));
	CHECK(r->client_port >= -1 && r->client_port <= 65535);
	CHECK(r->nrecent <= AUDIT_RECENT_MAX);
	for (size_t i = 0; i < r->nrecent; i++)
		touch(r->recent[i]);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		touch(fields[i]);
	audit_time_format(r->ts_us, buf, sizeof(buf));
	CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_rec rec;
	const char *p = audit_line_strip((const char *)data, size);
	char *s;
	int64_t us;

	CHECK(p >= (const char *)data && p <= (const char *)data + size);
	switch (audit_line_parse((const char *)data, size, &rec)) {
	case AUDIT_LINE_OK:
		check_record(&rec);
		audit_rec_free(&rec);
		CHECK(rec.json == NULL);
		break;
	case AUDIT_LINE_BLANK:
	case AUDIT_LINE_OTHER:
	case AUDIT_LINE_MALFORMED:
		CHECK(rec.json == NULL);
		break;
	default:
		abort();
	}
	/* the same bytes as a --since argument */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)audit_time_parse(s, &us);
	free(s);
	return 0;
}
