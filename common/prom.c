/* prom.c: Prometheus text format writer (see prom.h). */
#include "prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void
prom_free(struct prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

static void
add(struct prom *p, const char *s, size_t n)
{
	if (p->oom)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 4096;
		char *nb;

		while (nc < p->len + n + 1)
			nc *= 2;
		if ((nb = realloc(p->buf, nc)) == NULL) {
			p->oom = 1;
			return;
		}
		p->buf = nb;
		p->cap = nc;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void
adds(struct prom *p, const char *s)
{
	add(p, s, strlen(s));
}

void
prom_family(struct prom *p, const char *name, const char *type, const char *help)
{
	adds(p, "# HELP ");
	adds(p, name);
	adds(p, " ");
	adds(p, help);
	adds(p, "\n# TYPE ");
	adds(p, name);
	adds(p, " ");
	adds(p, type);
	adds(p, "\n");
}

static void
labels(struct prom *p, va_list ap)
{
	const char *k;
	int first = 1;

	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *), *c;

		adds(p, first ? "{" : ",");
		first = 0;
		adds(p, k);
		adds(p, "=\"");
		for (c = v; *c != '\0'; c++) {
			if (*c == '\\')
				adds(p, "\\\\");
			else if (*c == '"')
				adds(p, "\\\"");
			else if (*c == '\n')
				adds(p, "\\n");
			else
				add(p, c, 1);
		}
		adds(p, "\"");
	}
	if (!first)
		adds(p, "}");
}

void
prom_u64(struct prom *p, const char *name, uint64_t v, ...)
{
	char num[32];
	va_list ap;

	adds(p, name);
	va_start(ap, v);
	labels(p, ap);
	va_end(ap);
	snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
	adds(p, num);
}

void
prom_double(struct prom *p, const char *name, double v, ...)
{
	char num[48];
	va_list ap;

	adds(p, name);
	va_start(ap, v);
	labels(p, ap);
	va_end(ap);
	snprintf(num, sizeof(num), " %.9g\n", v);
	adds(p, num);
}

void
prom_scalar(struct prom *p, const char *name, const char *type, const char *help, uint64_t v)
{
	prom_family(p, name, type, help);
	prom_u64(p, name, v, (const char *)NULL);
}

void
prom_by_label(struct prom *p, const char *name, const char *type, const char *help,
    const char *label, const char *const *names, const uint64_t *values, size_t n)
{
	size_t i;

	prom_family(p, name, type, help);
	for (i = 0; i < n; i++)
		prom_u64(p, name, values[i], label, names[i], (const char *)NULL);
}

void
prom_histogram(struct prom *p, const char *name, const double *bounds,
    const uint64_t *counts, size_t nbounds, double sum)
{
	char metric[128], le[32];
	uint64_t cum = 0;
	size_t i;

	snprintf(metric, sizeof(metric), "%s_bucket", name);
	for (i = 0; i < nbounds; i++) {
		cum += counts[i];
		snprintf(le, sizeof(le), "%g", bounds[i]);
		prom_u64(p, metric, cum, "le", le, (const char *)NULL);
	}
	cum += counts[nbounds];
	prom_u64(p, metric, cum, "le", "+Inf", (const char *)NULL);
	snprintf(metric, sizeof(metric), "%s_sum", name);
	prom_double(p, metric, sum, (const char *)NULL);
	snprintf(metric, sizeof(metric), "%s_count", name);
	prom_u64(p, metric, cum, (const char *)NULL);
}
