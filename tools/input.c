/* input.c: audit files (or stdin) read line by line into records, with counts of what was skipped. */
#include "input.h"

#include <stdint.h>
#include <stdlib.h>

/* The next line of f into buf with its newline (as getline gives it, NUL bytes kept), at
 * most INPUT_LINE_MAX + 1 bytes; a longer one is read to its end and dropped: *n is then
 * SIZE_MAX. 0, or -1 at the end. */
static int
next_line(FILE *f, char *buf, size_t *n)
{
	int ch = EOF;
	size_t len = 0;

	while (len <= INPUT_LINE_MAX && (ch = getc_unlocked(f)) != EOF) {
		buf[len++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (len == 0)
		return -1;
	if (ch != '\n' && len > INPUT_LINE_MAX) {
		while ((ch = getc_unlocked(f)) != EOF && ch != '\n')
			;
		*n = SIZE_MAX;
		return 0;
	}
	buf[len] = '\0';
	*n = len;
	return 0;
}

int
input_read(FILE *f, input_fn fn, void *arg, struct input_stats *st)
{
	char *line = malloc(INPUT_LINE_MAX + 2);
	size_t n;
	int rc = 0;

	if (line == NULL)
		return -1;
	while (rc == 0 && next_line(f, line, &n) == 0) {
		struct audit_rec rec;

		st->lines++;
		if (n == SIZE_MAX) {	/* longer than any line a daemon writes */
			st->malformed++;
			continue;
		}
		switch (audit_line_parse(line, n, &rec)) {
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
