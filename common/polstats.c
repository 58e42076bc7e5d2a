/* polstats.c: counters per policy name, kept across reloads: the metrics' policy label. */
#include "polstats.h"
#include "prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct polstats {
	size_t width;			/* counters per row */
	size_t n, cap;			/* rows used, rows allocated */
	char (*names)[POLICYSET_NAME_MAX + 1];
	uint64_t *rows;			/* n * width, zeroed when added */
};

/* Add a row called name; its slot, or -1 when out of memory. */
static int
add_row(struct polstats *ps, const char *name)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		void *nn = realloc(ps->names, cap * sizeof(*ps->names));

		if (nn == NULL)
			return -1;
		ps->names = nn;
		if ((nn = realloc(ps->rows, cap * ps->width * sizeof(*ps->rows))) == NULL)
			return -1;
		ps->rows = nn;
		ps->cap = cap;
	}
	snprintf(ps->names[ps->n], sizeof(ps->names[0]), "%s", name);
	memset(ps->rows + ps->n * ps->width, 0, ps->width * sizeof(*ps->rows));
	return (int)ps->n++;
}

struct polstats *
polstats_new(size_t width)
{
	struct polstats *ps = calloc(1, sizeof(*ps));

	if (ps == NULL)
		return NULL;
	ps->width = width;
	if (add_row(ps, POLICYSET_DEFAULT) == -1) {
		polstats_free(ps);
		return NULL;
	}
	return ps;
}

void
polstats_free(struct polstats *ps)
{
	if (ps == NULL)
		return;
	free(ps->names);
	free(ps->rows);
	free(ps);
}

/* The slot called name, added when new (POLSTATS_OTHER's past POLSTATS_MAX); -1 when out
 * of memory. */
static int
slot_of(struct polstats *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->names[i], name) == 0)
			return (int)i;
	if (ps->n + 1 >= POLSTATS_MAX && strcmp(name, POLSTATS_OTHER) != 0)
		return slot_of(ps, POLSTATS_OTHER);
	return add_row(ps, name);
}

int
polstats_map(struct polstats *ps, const struct policyset *set, uint32_t **map)
{
	size_t i, n = policyset_count(set);
	int slot;

	if ((*map = calloc(n, sizeof(**map))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((slot = slot_of(ps, policyset_name(set, i))) == -1) {
			free(*map);
			*map = NULL;
			return -1;
		}
		(*map)[i] = (uint32_t)slot;
	}
	return 0;
}

uint64_t *
polstats_row(struct polstats *ps, uint32_t slot)
{
	return ps->rows + (slot < ps->n ? slot : 0) * ps->width;
}

const uint64_t *
polstats_crow(const struct polstats *ps, uint32_t slot)
{
	return ps->rows + (slot < ps->n ? slot : 0) * ps->width;
}

size_t
polstats_count(const struct polstats *ps)
{
	return ps->n;
}

const char *
polstats_name(const struct polstats *ps, uint32_t slot)
{
	return slot < ps->n ? ps->names[slot] : POLICYSET_DEFAULT;
}

void
polstats_write_would_deny(const struct polstats *ps, struct prom *p, const char *help, size_t col)
{
	uint32_t i;

	prom_family(p, POLSTATS_WOULD_DENY, "counter", help);
	for (i = 0; i < ps->n; i++)
		prom_u64(p, POLSTATS_WOULD_DENY, polstats_crow(ps, i)[col], "policy",
		    ps->names[i], (const char *)NULL);
}
