/* input.h: audit files (or stdin) read line by line into records, with counts of what was skipped. */
#ifndef GATEHOUSE_INPUT_H
#define GATEHOUSE_INPUT_H

#include <stdint.h>
#include <stdio.h>

#include "audit_line.h"

struct input_stats {
	uint64_t lines, records;
	uint64_t malformed;	/* not JSON objects, or query/conn lines missing a field */
	uint64_t other;		/* JSON objects of other events (suppressed, dropped) */
};

/* The longest line read: a daemon's audit line is bounded far below it (common/audit.c),
 * even behind a `docker compose logs` prefix. A longer line is skipped as malformed, so a
 * file without newlines costs no more memory than this. */
#define INPUT_LINE_MAX (64 * 1024)

/* Called for each record; 0 to go on, -1 to stop (out of memory). */
typedef int (*input_fn)(const struct audit_rec *rec, void *arg);

/* Every line of f through audit_line_parse; each record to fn. 0, or -1 when fn
 * stopped or reading failed (errno). */
int input_read(FILE *f, input_fn fn, void *arg, struct input_stats *st);

/* The stderr line for what was skipped ("skipped 3 of 120 lines: ..."), or nothing when
 * nothing was. */
void input_report(const struct input_stats *st, const char *progname, FILE *err);

#endif
