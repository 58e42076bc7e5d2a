/* collapse.c: sibling names folded into one wildcard, never over a public suffix (libpsl). */
#include "collapse.h"

#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

static const psl_ctx_t *
psl(void)
{
	static const psl_ctx_t *ctx;
	static int loaded;

	if (!loaded) {
		ctx = psl_latest(NULL);
		loaded = 1;
	}
	return ctx;
}

int
collapse_parent_ok(const char *parent)
{
	const psl_ctx_t *ctx = psl();

	if (ctx == NULL || strchr(parent, '.') == NULL)
		return 0;
	return !psl_is_public_suffix(ctx, parent) && psl_registrable_domain(ctx, parent) != NULL;
}

static size_t
labels(const char *name)
{
	size_t n = 1;

	for (; *name; name++)
		n += *name == '.';
	return n;
}

/* How many labels name has below parent (0 when it is not below it). */
static size_t
depth_below(const char *name, const char *parent)
{
	size_t ln = strlen(name), lp = strlen(parent);

	if (ln <= lp + 1 || name[ln - lp - 1] != '.' || strcmp(name + ln - lp, parent) != 0)
		return 0;
	return labels(name) - labels(parent);
}

static int
foldable(const struct obs_name *n)
{
	return !n->covered && n->special == NULL && n->routes.n == 0;
}

static int
cmp_deepest(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	size_t la = labels(a), lb = labels(b);

	if (la != lb)
		return la > lb ? -1 : 1;
	return strcmp(a, b);
}

/* Every proper ancestor of p's foldable names that collapse_parent_ok allows. */
static int
candidates(const struct obs_policy *p, struct strset *out)
{
	for (size_t i = 0; i < p->nnames; i++) {
		const char *dot;

		if (!foldable(&p->names[i]))
			continue;
		for (dot = strchr(p->names[i].name, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
			if (collapse_parent_ok(dot + 1) && strset_add(out, dot + 1) == -1)
				return -1;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_deepest);
	return 0;
}

/* A new line in p->lines for pattern, covering the names below parent whose depth
 * satisfies want (1: exactly one label; 0: any). */
static int
fold(struct obs_policy *p, const char *pattern, const char *parent, int one_label)
{
	struct suggestion *l = suggest_line(p, pattern);

	if (l == NULL)
		return -1;
	for (size_t i = 0; i < p->nnames; i++) {
		struct obs_name *n = &p->names[i];
		size_t d = depth_below(n->name, parent);

		if (!foldable(n) || d == 0 || (one_label && d != 1))
			continue;
		n->covered = 1;
		l->names++;
		l->conns += n->conns;
		l->lookups += n->lookups;
		if (portset_merge(&l->ports, &n->ports) == -1)
			return -1;
		for (size_t k = 0; k < n->clients.n; k++)
			if (strset_add(&l->clients, n->clients.v[k]) == -1)
				return -1;
	}
	return 0;
}

int
collapse_names(struct obs_policy *p, unsigned threshold)
{
	struct strset cand = { 0 };
	char pattern[300];
	int rc = 0;

	if (threshold == 0 || candidates(p, &cand) == -1) {
		strset_free(&cand);
		return threshold == 0 ? 0 : -1;
	}
	for (size_t c = 0; c < cand.n && rc == 0; c++) {
		const char *parent = cand.v[c];
		size_t one = 0, all = 0;

		for (size_t i = 0; i < p->nnames; i++) {
			size_t d = depth_below(p->names[i].name, parent);

			if (!foldable(&p->names[i]) || d == 0)
				continue;
			all++;
			one += d == 1;
		}
		if (one >= threshold) {
			snprintf(pattern, sizeof(pattern), "*.%s", parent);
			rc = fold(p, pattern, parent, 1);
		} else if (all >= threshold) {
			snprintf(pattern, sizeof(pattern), "**.%s", parent);
			rc = fold(p, pattern, parent, 0);
		}
	}
	strset_free(&cand);
	return rc;
}
