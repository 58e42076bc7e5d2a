/* filter.h: which audit records a command looks at (--denied, --client, --since, --until). */
#ifndef GATEHOUSE_FILTER_H
#define GATEHOUSE_FILTER_H

#include <stdint.h>

#include "audit_line.h"

struct filter {
	int denied;		/* only denials, and what report mode would have denied */
	const char *client;	/* only this client address (as the audit writes it) */
	int64_t since, until;	/* ts window, inclusive; INT64_MIN / INT64_MAX: open */
};

/* No filter: everything passes. */
void filter_init(struct filter *f);
/* 1 when rec passes f. */
int filter_pass(const struct filter *f, const struct audit_rec *rec);
/* 1 when rec is a denial, or a line report mode let through that enforce denies. */
int filter_is_denial(const struct audit_rec *rec);

#endif
