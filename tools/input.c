/* input.c: audit files (or stdin) read line by line into records, with counts of what was skipped. */
#include "input.h"

#include <stdlib.h>

int
input_read(FILE *f, input_fn fn, void *arg, struct input_stats *st)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, f)) != -1) {
		struct audit_rec rec;

		st->lines++;
		switch (audit_line_parse(line, (size_t)n, &rec)) {
		case AUDIT_LINE_OK:
			st->records++;
			rc = fn(&rec, arg);
			audit_rec_free(&rec);
			break;
		case AUDIT_LINE_BLANK:
			break;
		case AUDIT_LINE_OTHER:
			st->other++;
			break;
		case AUDIT_LINE_MALFORMED:
			st->malformed++;
			break;
		}
		if (rc == -1)
			break;
	}
	free(line);
	return rc == -1 || ferror(f) ? -1 : 0;
}

void
input_report(const struct input_stats *st, const char *progname, FILE *err)
{
	if (st->malformed + st->other == 0)
		return;
	fprintf(err, "%s: skipped %llu of %llu lines: %llu not query or conn audit lines "
	    "(not JSON, or a field missing), %llu other events\n", progname,
	    (unsigned long long)(st->malformed + st->other), (unsigned long long)st->lines,
	    (unsigned long long)st->malformed, (unsigned long long)st->other);
}
