/* summary.c: audit records counted per policy, client, name, port and verdict (no output). */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static int
would_deny(const struct audit_rec *rec)
{
	return rec->enforce != NULL && strcmp(rec->enforce, "deny") == 0 &&
	    strcmp(rec->verdict, "deny") != 0;
}

/* The reason a row shows: the refusal's, else what enforce would have refused for. */
static const char *
rec_reason(const struct audit_rec *rec)
{
	if (rec->reason != NULL)
		return rec->reason;
	return would_deny(rec) ? or_empty(rec->enforce_reason) : "";
}

static uint64_t
key_hash(const char *policy, const char *client, enum audit_event ev, const char *name,
    unsigned port, const char *verdict, const char *reason, int wd)
{
	const char *parts[] = { policy, client, name, verdict, reason };
	uint64_t h = util_hash(0x9e3779b97f4a7c15ULL, &port, sizeof(port));

	h = util_hash(h, &ev, sizeof(ev));
	h = util_hash(h, &wd, sizeof(wd));
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = util_hash(h, parts[i], strlen(parts[i]) + 1);
	return h;
}

static uint64_t
row_hash(const struct summary_row *r)
{
	return key_hash(r->policy, r->client, r->event, r->name, r->port, r->verdict, r->reason,
	    r->would_deny);
}

static int
row_is(const struct summary_row *r, const struct audit_rec *rec, const char *name,
    const char *reason)
{
	return r->event == rec->event && r->port == rec->port &&
	    r->would_deny == would_deny(rec) && strcmp(r->policy, rec->policy) == 0 &&
	    strcmp(r->client, rec->client) == 0 && strcmp(r->name, name) == 0 &&
	    strcmp(r->verdict, rec->verdict) == 0 && strcmp(r->reason, reason) == 0;
}

void
summary_init(struct summary *s)
{
	memset(s, 0, sizeof(*s));
}

void
summary_free(struct summary *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct summary_row *r = &s->rows[i];

		free(r->policy);
		free(r->client);
		free(r->name);
		free(r->verdict);
		free(r->reason);
	}
	free(s->rows);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* Double the hash table (at half full) and re-insert every row. */
static int
grow_slots(struct summary *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 64;
	size_t *slots;

	while (n < (s->n + 1) * 2)
		n *= 2;
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = (size_t)row_hash(&s->rows[i]) & (n - 1);

		while (slots[j] != 0)
			j = (j + 1) & (n - 1);
		slots[j] = i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static struct summary_row *
new_row(struct summary *s, const struct audit_rec *rec, const char *name, const char *reason)
{
	struct summary_row *r;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct summary_row *rows = realloc(s->rows, cap * sizeof(*rows));

		if (rows == NULL)
			return NULL;
		s->rows = rows;
		s->cap = cap;
	}
	r = &s->rows[s->n];
	memset(r, 0, sizeof(*r));
	r->policy = strdup(rec->policy);
	r->client = strdup(rec->client);
	r->name = strdup(name);
	r->verdict = strdup(rec->verdict);
	r->reason = strdup(reason);
	if (!r->policy || !r->client || !r->name || !r->verdict || !r->reason) {
		free(r->policy);
		free(r->client);
		free(r->name);
		free(r->verdict);
		free(r->reason);
		return NULL;
	}
	r->event = rec->event;
	r->port = rec->port;
	r->would_deny = would_deny(rec);
	r->first = r->last = rec->ts_us;	/* summary_add counts it */
	s->n++;
	return r;
}

int
summary_add(struct summary *s, const struct audit_rec *rec)
{
	const char *name = or_empty(rec->name), *reason = rec_reason(rec);
	struct summary_row *r;
	size_t j;

	if ((s->n + 1) * 2 > s->nslots && grow_slots(s) == -1)
		return -1;
	j = (size_t)key_hash(rec->policy, rec->client, rec->event, name, rec->port, rec->verdict,
	    reason, would_deny(rec)) & (s->nslots - 1);
	for (; s->slots[j] != 0; j = (j + 1) & (s->nslots - 1)) {
		r = &s->rows[s->slots[j] - 1];
		if (row_is(r, rec, name, reason))
			goto found;
	}
	if ((r = new_row(s, rec, name, reason)) == NULL)
		return -1;
	s->slots[j] = s->n;
found:
	r->count++;
	if (rec->ts_us < r->first)
		r->first = rec->ts_us;
	if (rec->ts_us > r->last)
		r->last = rec->ts_us;
	return 0;
}

static int
cmp_policy(const char *a, const char *b)
{
	int da = strcmp(a, "default") == 0, db = strcmp(b, "default") == 0;

	if (da != db)
		return db - da;
	return strcmp(a, b);
}

static int
cmp_client(const void *pa, const void *pb)
{
	const struct summary_row *a = pa, *b = pb;
	int c = strcmp(a->policy, b->policy);

	return c != 0 ? c : strcmp(a->client, b->client);
}

/* The total count of each (policy, client), into each of its rows' client_total (the
 * rows sorted by policy and client first). */
static void
client_totals(struct summary *s)
{
	size_t i = 0;

	if (s->n > 1)
		qsort(s->rows, s->n, sizeof(*s->rows), cmp_client);
	while (i < s->n) {
		size_t j = i;
		uint64_t t = 0;

		for (; j < s->n && cmp_client(&s->rows[i], &s->rows[j]) == 0; j++)
			t += s->rows[j].count;
		for (; i < j; i++)
			s->rows[i].client_total = t;
	}
}

static int
cmp_rows(const void *pa, const void *pb)
{
	const struct summary_row *a = pa, *b = pb;
	int c;

	if ((c = cmp_policy(a->policy, b->policy)) != 0)
		return c;
	if (a->client_total != b->client_total)
		return a->client_total > b->client_total ? -1 : 1;
	if ((c = strcmp(a->client, b->client)) != 0)
		return c;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->event != b->event)
		return a->event < b->event ? -1 : 1;
	if ((c = strcmp(a->verdict, b->verdict)) != 0)
		return c;
	return strcmp(a->reason, b->reason);
}

void
summary_sort(struct summary *s)
{
	client_totals(s);
	if (s->n > 1)
		qsort(s->rows, s->n, sizeof(*s->rows), cmp_rows);
	free(s->slots);		/* indexes are stale now; summary_add rebuilds them */
	s->slots = NULL;
	s->nslots = 0;
}
