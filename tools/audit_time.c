/* audit_time.c: the audit's UTC timestamps, parsed (lines, --since/--until) and formatted. */
#include "audit_time.h"

#include <stdio.h>
#include <time.h>

/* n decimal digits at *p into *v; advances *p. 0, or -1 when a digit is missing. */
static int
digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];

		if (ch < '0' || ch > '9')
			return -1;
		x = x * 10 + (ch - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int
audit_time_parse(const char *s, int64_t *us)
{
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac = 0;
	time_t t;

	if (digits(&p, 4, &y) == -1 || *p++ != '-' || digits(&p, 2, &mo) == -1 ||
	    *p++ != '-' || digits(&p, 2, &d) == -1)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) == -1 || *p++ != ':' || digits(&p, 2, &mi) == -1)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) == -1)
				return -1;
			if (*p == '.') {
				int n = 0;

				p++;
				for (; *p >= '0' && *p <= '9'; p++, n++) {
					if (n >= 6)
						return -1;
					frac = frac * 10 + (*p - '0');
				}
				if (n == 0)
					return -1;
				for (; n < 6; n++)
					frac *= 10;
			}
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

const char *
audit_time_format(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}
