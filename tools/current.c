/* current.c: the configuration in force (-c), read with the daemons' own reader, for suggest's diff. */
#include "current.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

int
current_load(struct current *cur, const char *path, char *const *env, char *err,
    size_t errlen)
{
	size_t n;

	memset(cur, 0, sizeof(*cur));
	if (config_load(path, env, &cur->c, err, errlen) == -1)
		return -1;
	n = policy_count(cur->c->policy);
	cur->used = calloc(n ? n : 1, 1);
	cur->route_used = calloc(cur->c->nroutes ? cur->c->nroutes : 1, 1);
	if (cur->used == NULL || cur->route_used == NULL) {
		snprintf(err, errlen, "out of memory");
		current_free(cur);
		return -1;
	}
	return 0;
}

void
current_free(struct current *cur)
{
	config_unref(cur->c);
	free(cur->used);
	free(cur->route_used);
	memset(cur, 0, sizeof(*cur));
}

const struct policy *
current_rules(const struct current *cur, const char *policy)
{
	(void)policy;
	return cur->c->policy;
}

const char *
current_specs(const struct current *cur, const char *policy)
{
	(void)cur;
	(void)policy;
	return NULL;
}

static void
mark(struct current *cur, const struct rule *r)
{
	size_t n = policy_count(cur->c->policy);

	for (size_t i = 0; i < n; i++)
		if (policy_rule(cur->c->policy, i) == r) {
			cur->used[i] = 1;
			return;
		}
}

const struct rule *
current_allows(struct current *cur, const char *policy, const char *name, uint16_t port)
{
	const struct policy *p = current_rules(cur, policy);
	const struct rule *r = port ? policy_match(p, name, strlen(name), port) :
	    policy_match_name(p, name, strlen(name));

	if (r != NULL)
		mark(cur, r);
	return r;
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
	/* an implicit route: the port's only name, an exact allow rule */
	r = config_implicit_route(cur->c, port);
	if (r != NULL && target_port == port && strcmp(r->pattern, target) == 0) {
		mark(cur, r);
		return 1;
	}
	return 0;
}
