/* current.c: the configuration in force (-c), read with the daemons' own reader, for suggest's diff. */
#include "current.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policyset.h"

/* Every spec of policy idx, space-separated, in a new string; NULL when out of memory. */
static char *
join_specs(const struct policyset *s, size_t idx)
{
	size_t cap = 1, len = 0;
	char *out = NULL, one[80];

	for (int pass = 0; pass < 2; pass++) {
		for (size_t j = 0; j < policyset_spec_count(s); j++) {
			const struct policy_spec *sp = policyset_spec(s, j);
			size_t n;

			if (sp->policy != idx)
				continue;
			policyset_spec_format(sp, one, sizeof(one));
			n = strlen(one);
			if (pass == 0) {
				cap += n + 1;
				continue;
			}
			if (len)
				out[len++] = ' ';
			memcpy(out + len, one, n);
			len += n;
		}
		if (pass == 0 && (out = malloc(cap)) == NULL)
			return NULL;
	}
	out[len] = '\0';
	return out;
}

int
current_load(struct current *cur, const char *path, char *const *env, char *err,
    size_t errlen)
{
	const struct policyset *s;
	size_t total = 0;

	memset(cur, 0, sizeof(*cur));
	if (config_load(path, env, &cur->c, err, errlen) == -1)
		return -1;
	s = cur->c->policies;
	cur->npol = policyset_count(s);
	cur->base = calloc(cur->npol, sizeof(*cur->base));
	cur->specs = calloc(cur->npol, sizeof(*cur->specs));
	if (cur->base == NULL || cur->specs == NULL)
		goto oom;
	for (size_t i = 0; i < cur->npol; i++) {
		cur->base[i] = total;
		total += policy_count(policyset_policy(s, i));
		if (i > 0 && (cur->specs[i] = join_specs(s, i)) == NULL)
			goto oom;
	}
	cur->used = calloc(total ? total : 1, 1);
	cur->route_used = calloc(cur->c->nroutes ? cur->c->nroutes : 1, 1);
	if (cur->used == NULL || cur->route_used == NULL)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	current_free(cur);
	return -1;
}

void
current_free(struct current *cur)
{
	for (size_t i = 0; cur->specs != NULL && i < cur->npol; i++)
		free(cur->specs[i]);
	free(cur->specs);
	free(cur->base);
	config_unref(cur->c);
	free(cur->used);
	free(cur->route_used);
	memset(cur, 0, sizeof(*cur));
}

size_t
current_policy(const struct current *cur, const char *policy)
{
	int idx = policyset_find(cur->c->policies, policy);

	return idx > 0 ? (size_t)idx : 0;
}

const char *
current_specs(const struct current *cur, const char *policy)
{
	return cur->specs[current_policy(cur, policy)];
}

/* Mark r used, a rule of any policy (an implicit route's rule may be a policy's). A
 * linear search: a configuration's rules number in the hundreds. */
static void
mark(struct current *cur, const struct rule *r)
{
	for (size_t idx = 0; idx < cur->npol; idx++) {
		const struct policy *p = policyset_policy(cur->c->policies, idx);
		size_t n = policy_count(p);

		for (size_t i = 0; i < n; i++)
			if (policy_rule(p, i) == r) {
				cur->used[cur->base[idx] + i] = 1;
				return;
			}
	}
}

const struct rule *
current_allows(struct current *cur, const char *policy, const char *name, uint16_t port)
{
	size_t idx = current_policy(cur, policy);
	const struct rule *r = policyset_check(cur->c->policies, idx, name, strlen(name), port);

	if (r == NULL)
		return NULL;
	mark(cur, r);
	return r->flags & RULE_DENY ? NULL : r;
}

int
current_route(struct current *cur, uint16_t port, const char *target, uint16_t target_port)
{
	const struct rule *r;

	for (size_t i = 0; i < cur->c->nroutes; i++) {
		const struct route *rt = &cur->c->routes[i];

		if (rt->port == port && rt->target_port == target_port &&
		    strcmp(rt->name, target) == 0) {
			cur->route_used[i] = 1;
			return 1;
		}
	}
	/* an implicit route: the port's only name, an exact allow rule (of any policy) */
	r = config_implicit_route(cur->c, port);
	if (r != NULL && target_port == port && strcmp(r->pattern, target) == 0) {
		mark(cur, r);
		return 1;
	}
	return 0;
}
