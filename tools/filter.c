/* filter.c: which audit records a command looks at (--denied, --client, --since, --until). */
#include "filter.h"

#include <string.h>

void
filter_init(struct filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = INT64_MIN;
	f->until = INT64_MAX;
}

int
filter_is_denial(const struct audit_rec *rec)
{
	return strcmp(rec->verdict, "deny") == 0 ||
	    (rec->enforce != NULL && strcmp(rec->enforce, "deny") == 0);
}

int
filter_pass(const struct filter *f, const struct audit_rec *rec)
{
	if (rec->ts_us < f->since || rec->ts_us > f->until)
		return 0;
	if (f->client != NULL && strcmp(f->client, rec->client) != 0)
		return 0;
	if (f->denied && !filter_is_denial(rec))
		return 0;
	return 1;
}
