/* sets.c: the small sets the suggestion keeps: client addresses (in order seen) and ports (sorted). */
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

int
strset_has(const struct strset *set, const char *s)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], s) == 0)
			return 1;
	return 0;
}

int
strset_add(struct strset *set, const char *s)
{
	char *copy;

	if (strset_has(set, s))
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		char **v = realloc(set->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		set->v = v;
		set->cap = cap;
	}
	if ((copy = strdup(s)) == NULL)
		return -1;
	set->v[set->n++] = copy;
	return 0;
}

void
strset_free(struct strset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

int
portset_add(struct portset *set, uint16_t port)
{
	size_t i = 0;

	while (i < set->n && set->v[i] < port)
		i++;
	if (i < set->n && set->v[i] == port)
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		uint16_t *v = realloc(set->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		set->v = v;
		set->cap = cap;
	}
	memmove(&set->v[i + 1], &set->v[i], (set->n - i) * sizeof(*set->v));
	set->v[i] = port;
	set->n++;
	return 0;
}

int
portset_has(const struct portset *set, uint16_t port)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i] == port)
			return 1;
	return 0;
}

int
portset_merge(struct portset *dst, const struct portset *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (portset_add(dst, src->v[i]) == -1)
			return -1;
	return 0;
}

void
portset_free(struct portset *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

void
portset_format(const struct portset *set, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < set->n && off < len; ) {
		size_t j = i;
		int w;

		while (j + 1 < set->n && set->v[j + 1] == set->v[j] + 1)
			j++;
		if (j > i)
			w = snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", set->v[i],
			    set->v[j]);
		else
			w = snprintf(buf + off, len - off, "%s%u", off ? "," : "", set->v[i]);
		if (w < 0)
			break;
		off += (size_t)w;
		i = j + 1;
	}
}
