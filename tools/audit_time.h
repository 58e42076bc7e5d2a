/* audit_time.h: the audit's UTC timestamps, parsed and formatted. */
#ifndef GATEHOUSE_AUDIT_TIME_H
#define GATEHOUSE_AUDIT_TIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * A time as the audit writes it ("2026-11-28T12:00:00.123456Z") or as a user types it
 * for --since/--until: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS" with an
 * optional fraction (up to 6 digits), a 'T' or a space, and an optional 'Z'; always UTC.
 * 0 with *us, or -1.
 */
int audit_time_parse(const char *s, int64_t *us);

/* us as "2026-11-28T12:00:00Z" (seconds) into buf; returns buf. */
const char *audit_time_format(int64_t us, char *buf, size_t len);

#endif
