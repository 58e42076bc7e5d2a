/* fuzz_config.c: libFuzzer target for common/config*.c: config_parse over arbitrary bytes,
 * config_print on success (and its printout must parse again); aborts when an invariant
 * breaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dname.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.conf"
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", \
	#cond, __LINE__); abort(); } } while (0)

static FILE *devnull;

/* What every accepted configuration must satisfy. */
static void
check_config(const struct config *c, const char *origin_prefix)
{
	char name[DNAME_MAX + 8];
	size_t i;

	CHECK(c->refs == 1);
	for (i = 0; i < policy_count(c->policy); i++) {
		const struct rule *r = policy_rule(c->policy, i);
		const char *body = r->pattern + (r->wildcard ? r->wildcard + 1 : 0);
		size_t bl = strlen(body);
		const struct rule *m;

		CHECK(r->nports > 0);
		CHECK(strcmp(r->src, origin_prefix) == 0 && r->line > 0);
		CHECK(r->wildcard == (strncmp(r->pattern, "**.", 3) == 0 ? 2 :
		    strncmp(r->pattern, "*.", 2) == 0));
		CHECK(bl > 0 && bl <= DNAME_MAX && body[bl - 1] != '.');
		CHECK(strpbrk(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZ*") == NULL);
		if (!r->wildcard) {
			m = policy_match(c->policy, body, bl, r->ports[0].lo);
			CHECK(m != NULL);
			/* a deny wins over every allow on its ports */
			CHECK(!(r->flags & RULE_DENY) || (m->flags & RULE_DENY));
			continue;
		}
		/* the apex is never matched by its own wildcard */
		m = policy_match_name(c->policy, body, bl);
		CHECK(m != r);
		if (bl + 2 <= DNAME_MAX) {
			snprintf(name, sizeof(name), "x.%s", body);
			m = policy_match(c->policy, name, bl + 2, r->ports[0].lo);
			CHECK(m != NULL);
			CHECK(!(r->flags & RULE_DENY) || (m->flags & RULE_DENY));
		}
	}
	for (i = 0; i < c->nroutes; i++) {
		const struct route *rt = &c->routes[i];

		const struct rule *r = policy_match(c->policy, rt->name, strlen(rt->name), rt->port);

		CHECK(config_route(c, rt->port) == rt);
		CHECK(rt->target_port != 0);
		/* a route allows its target on its listening port, and its rule decides there,
		 * private when the route or an allow rule of its name on the port says so */
		CHECK(r != NULL && (r->flags & RULE_ROUTE));
		CHECK(!(rt->flags & RULE_PRIVATE) || (r->flags & RULE_PRIVATE));
		CHECK(config_port(c, rt->port) != NULL && config_port(c, rt->port)->route == rt);
	}
	/* the port table: ascending, bounded, each port's route or implicit route consistent */
	CHECK(c->nports <= CONFIG_MAX_PORTS);
	for (i = 0; i < c->nports; i++) {
		const struct config_port *cp = &c->ports[i];

		CHECK(i == 0 || cp->port > c->ports[i - 1].port);
		CHECK(config_port(c, cp->port) == cp);
		CHECK(cp->route == config_route(c, cp->port));
		CHECK(cp->route == NULL || cp->implicit == NULL);
		if (cp->implicit != NULL) {
			size_t k, found = 0;

			CHECK(!cp->implicit->wildcard && rule_has_port(cp->implicit, cp->port));
			/* the rules of every policy count together (config_ports.c): the rule
			 * is the match of the policy that holds it, global or named */
			for (k = 0; k < policyset_count(c->policies); k++)
				found += policy_match(policyset_policy(c->policies, k),
				    cp->implicit->pattern, strlen(cp->implicit->pattern), cp->port) ==
				    cp->implicit;
			CHECK(found == 1);
		}
	}
	CHECK(c->cache_min_ttl <= c->cache_max_ttl);
}

/* The i-th rule that came from an allow line (routes' implied rules are skipped). */
static const struct rule *
allow_rule(const struct config *c, size_t i)
{
	size_t k;

	for (k = 0; k < policy_count(c->policy); k++) {
		const struct rule *r = policy_rule(c->policy, k);

		if (!(r->flags & RULE_ROUTE) && i-- == 0)
			return r;
	}
	return NULL;
}

/* The printout gives the same allow rules, in order, with the same ports and flags. */
static void
check_same_rules(const struct config *a, const struct config *b)
{
	size_t i;

	for (i = 0;; i++) {
		const struct rule *ra = allow_rule(a, i), *rb = allow_rule(b, i);

		CHECK((ra == NULL) == (rb == NULL));
		if (ra == NULL)
			break;
		CHECK(strcmp(ra->pattern, rb->pattern) == 0);
		CHECK(ra->flags == rb->flags);
		CHECK(ra->nports == rb->nports);
		CHECK(memcmp(ra->ports, rb->ports, ra->nports * sizeof(*ra->ports)) == 0);
	}
	for (i = 0; i < a->nroutes; i++) {
		const struct route *rb = config_route(b, a->routes[i].port);

		CHECK(rb != NULL && strcmp(rb->name, a->routes[i].name) == 0);
		CHECK(rb->target_port == a->routes[i].target_port && rb->flags == a->routes[i].flags);
	}
	CHECK(a->nports == b->nports);
	for (i = 0; i < a->nports; i++) {
		const struct config_port *pa = &a->ports[i], *pb = &b->ports[i];

		CHECK(pa->port == pb->port);
		CHECK((pa->route == NULL) == (pb->route == NULL));
		CHECK((pa->implicit == NULL) == (pb->implicit == NULL));
		CHECK(pa->implicit == NULL || (strcmp(pa->implicit->pattern, pb->implicit->pattern) == 0 &&
		    pa->implicit->flags == pb->implicit->flags));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = (struct config *)1, *c2 = NULL;
	char err[1024], *printed = NULL;
	size_t plen = 0;
	FILE *mem;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	memset(err, 0, sizeof(err));
	if (config_parse(NAME, (const char *)data, size, NULL, &c, err, sizeof(err)) != 0) {
		CHECK(c == NULL);
		CHECK(err[0] != '\0');
		CHECK(strncmp(err, NAME, strlen(NAME)) == 0);
		return 0;
	}
	CHECK(c != NULL);
	check_config(c, NAME);
	config_print(c, devnull);
	/* what --check prints is itself a configuration that gives the same allowlist */
	CHECK((mem = open_memstream(&printed, &plen)) != NULL);
	config_print(c, mem);
	fclose(mem);
	if (config_parse("printed", printed, plen, NULL, &c2, err, sizeof(err)) != 0) {
		fprintf(stderr, "printout refused: %s\n%s", err, printed);
		abort();
	}
	check_config(c2, "printed");
	CHECK(policy_count(c2->policy) == policy_count(c->policy));
	CHECK(c2->nroutes == c->nroutes);
	check_same_rules(c, c2);
	config_unref(c2);
	free(printed);
	config_unref(c);
	return 0;
}
