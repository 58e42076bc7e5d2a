/* summary.h: audit records counted per policy, client, name, port and verdict. */
#ifndef GATEHOUSE_SUMMARY_H
#define GATEHOUSE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit_line.h"

/* One row: the records with the same key (every field but the counts and times). */
struct summary_row {
	char *policy, *client;
	enum audit_event event;
	char *name;		/* "" when the line named none (a no-name connection) */
	unsigned port;		/* 0 for a query */
	char *verdict;		/* what happened: allow, deny, invalid, drop, abort */
	char *reason;		/* the refusal's reason, or enforce_reason; "" when none */
	int would_deny;		/* report mode let it through; enforce denies it */
	uint64_t count;
	int64_t first, last;	/* ts, microseconds */
	uint64_t client_total;	/* set by summary_sort: the client's count in its policy */
};

struct summary {
	struct summary_row *rows;
	size_t n, cap;
	size_t *slots;		/* hash of keys: row index + 1, 0 empty (internal) */
	size_t nslots;
};

void summary_init(struct summary *s);
void summary_free(struct summary *s);
/* Count rec in its row (made on first use). 0, or -1 when out of memory. */
int summary_add(struct summary *s, const struct audit_rec *rec);
/* Order the rows: by policy ("default" first, then by name), by the client's total count
 * (descending, then address), by the row's count (descending), then name and port. */
void summary_sort(struct summary *s);

/* The rows as a table for people, or as one JSON document ({"policies":[{"policy":...,
 * "clients":[{"client":...,"count":N,"rows":[...]}]}]}), sorted first. 0 or -1 (write
 * error). */
int summary_print_table(struct summary *s, FILE *f);
int summary_print_json(struct summary *s, FILE *f);

#endif
