/* policyset.c: the global rules, the named policies, and which policy a client is in. */
#include "policyset.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct named {
	char name[POLICYSET_NAME_MAX + 1];
	struct policy *policy;		/* owned; index 0 borrows the global one */
	enum policy_mode mode;
};

/* Open addressing over the specs: key (family, len, via, masked address). */
struct slot {
	const struct policy_spec *spec;	/* NULL: empty */
};

struct policyset {
	struct named *v;
	size_t n;
	enum policy_mode mode;		/* the gateway's */
	struct policy_spec *specs;	/* as added; sorted into trial order by finish */
	size_t nspecs;
	struct slot *table;
	size_t tmask;
	uint8_t lens4[33], nlens4;	/* source prefix lengths in use, longest first */
	uint8_t lens6[129], nlens6;
	int has_via;
};

struct policyset *
policyset_new(struct policy *global)
{
	struct policyset *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->v = calloc(1, sizeof(*s->v))) == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->v[0].name, POLICYSET_DEFAULT, sizeof(POLICYSET_DEFAULT));
	s->v[0].policy = global;
	s->n = 1;
	s->mode = MODE_ENFORCE;
	return s;
}

void
policyset_free(struct policyset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 1; i < s->n; i++)
		policy_free(s->v[i].policy);
	for (i = 0; i < s->nspecs; i++)
		free((char *)s->specs[i].origin);
	free(s->v);
	free(s->specs);
	free(s->table);
	free(s);
}

int
policyset_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > POLICYSET_NAME_MAX || name[0] == '-' ||
	    strcmp(name, POLICYSET_DEFAULT) == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '-'))
			return 0;
	return 1;
}

int
policyset_find(const struct policyset *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
policyset_add(struct policyset *s, const char *name, char *err, size_t errlen)
{
	struct named *nv;

	if (!policyset_name_ok(name)) {
		snprintf(err, errlen, "'%s': a policy's name is [a-z0-9][a-z0-9-]*, at most %d "
		    "bytes, and not '%s' (the name of clients in no policy)", name,
		    POLICYSET_NAME_MAX, POLICYSET_DEFAULT);
		return -1;
	}
	if (policyset_find(s, name) != -1) {
		snprintf(err, errlen, "%s is already declared", name);
		return -1;
	}
	if ((nv = realloc(s->v, (s->n + 1) * sizeof(*nv))) == NULL)
		goto nomem;
	s->v = nv;
	memset(&nv[s->n], 0, sizeof(nv[s->n]));
	memcpy(nv[s->n].name, name, strlen(name) + 1);
	if ((nv[s->n].policy = policy_new()) == NULL)
		goto nomem;
	return (int)s->n++;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

size_t
policyset_rule_count(const struct policyset *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += policy_count(s->v[i].policy);
	return n;
}

char *
policyset_spec_format(const struct policy_spec *sp, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	unsigned full = sp->family == AF_INET ? 32 : 128;

	if (inet_ntop(sp->family, sp->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	if (sp->via)
		snprintf(buf, len, "via %s", a);
	else if (sp->len == full)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, sp->len);
	return buf;
}

size_t
policyset_count(const struct policyset *s)
{
	return s->n;
}

const char *
policyset_name(const struct policyset *s, size_t idx)
{
	return idx < s->n ? s->v[idx].name : POLICYSET_DEFAULT;
}

struct policy *
policyset_policy(const struct policyset *s, size_t idx)
{
	return idx < s->n ? s->v[idx].policy : NULL;
}

void
policyset_set_mode(struct policyset *s, size_t idx, enum policy_mode m)
{
	if (idx < s->n)
		s->v[idx].mode = m;
}

enum policy_mode
policyset_own_mode(const struct policyset *s, size_t idx)
{
	return idx < s->n ? s->v[idx].mode : MODE_UNSET;
}

void
policyset_set_default_mode(struct policyset *s, enum policy_mode m)
{
	s->mode = m;
}

enum policy_mode
policyset_mode(const struct policyset *s, size_t idx)
{
	enum policy_mode m = idx > 0 ? policyset_own_mode(s, idx) : MODE_UNSET;

	return m != MODE_UNSET ? m : s->mode;
}

/* ---- client specs ---- */

static size_t
addr_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

void
policyset_mask(uint8_t *a, int family, unsigned len)
{
	size_t i, bytes = addr_bytes(family);

	for (i = 0; i < bytes; i++) {
		if (len >= 8)
			len -= 8;
		else {
			a[i] &= (uint8_t)(0xff00u >> len);
			len = 0;
		}
	}
}

static int
same_key(const struct policy_spec *a, int family, unsigned len, int via, const uint8_t *addr)
{
	return a->family == family && a->len == len && a->via == via &&
	    memcmp(a->addr, addr, addr_bytes(family)) == 0;
}

static size_t
key_hash(int family, unsigned len, int via, const uint8_t *addr)
{
	uint8_t head[3] = { (uint8_t)family, (uint8_t)len, (uint8_t)via };

	return (size_t)util_hash(util_hash(0, head, sizeof(head)), addr, addr_bytes(family));
}

int
policyset_add_spec(struct policyset *s, const struct policy_spec *sp,
    const struct policy_spec **clash)
{
	struct policy_spec ns = *sp, *nv;
	size_t i;

	*clash = NULL;
	if (ns.via)
		ns.len = (uint8_t)(addr_bytes(ns.family) * 8);
	policyset_mask(ns.addr, ns.family, ns.len);
	for (i = 0; i < s->nspecs; i++)
		if (same_key(&s->specs[i], ns.family, ns.len, ns.via, ns.addr)) {
			*clash = &s->specs[i];
			return -1;
		}
	if ((nv = realloc(s->specs, (s->nspecs + 1) * sizeof(*nv))) == NULL)
		return -1;
	s->specs = nv;
	if ((ns.origin = strdup(sp->origin ? sp->origin : "")) == NULL)
		return -1;
	s->specs[s->nspecs++] = ns;
	return 0;
}

size_t
policyset_spec_count(const struct policyset *s)
{
	return s->nspecs;
}

const struct policy_spec *
policyset_spec(const struct policyset *s, size_t i)
{
	return i < s->nspecs ? &s->specs[i] : NULL;
}

int
policyset_has_via(const struct policyset *s)
{
	return s->has_via;
}

/* Trial order of two source specs: IPv4 first (a client has one family), longer
 * prefixes first, then by address (never equal: policyset_add_spec refuses a prefix
 * twice). */
static int
by_trial(const void *pa, const void *pb)
{
	const struct policy_spec *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	if (a->len != b->len)
		return (int)b->len - (int)a->len;
	return memcmp(a->addr, b->addr, addr_bytes(a->family));
}

static void
note_len(uint8_t *lens, uint8_t *n, uint8_t len)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (lens[i] == len)
			return;
	lens[(*n)++] = len;
}

static int
desc(const void *a, const void *b)
{
	return (int)*(const uint8_t *)b - (int)*(const uint8_t *)a;
}

int
policyset_finish(struct policyset *s)
{
	size_t i, cap = 8, h;
	size_t nsrc = 0, j;
	struct policy_spec tmp;

	/* sources first (moved in order), sorted; via specs stay in the order written */
	for (i = 0; i < s->nspecs; i++)
		if (!s->specs[i].via) {
			tmp = s->specs[i];
			memmove(&s->specs[nsrc + 1], &s->specs[nsrc], (i - nsrc) * sizeof(tmp));
			s->specs[nsrc++] = tmp;
		}
	if (nsrc > 1)		/* (specs is NULL when there are none) */
		qsort(s->specs, nsrc, sizeof(*s->specs), by_trial);
	for (j = 0; j < s->nspecs; j++) {
		const struct policy_spec *sp = &s->specs[j];

		if (sp->via)
			s->has_via = 1;
		else if (sp->family == AF_INET)
			note_len(s->lens4, &s->nlens4, sp->len);
		else
			note_len(s->lens6, &s->nlens6, sp->len);
	}
	qsort(s->lens4, s->nlens4, 1, desc);
	qsort(s->lens6, s->nlens6, 1, desc);
	while (cap < s->nspecs * 2)
		cap *= 2;
	free(s->table);
	if ((s->table = calloc(cap, sizeof(*s->table))) == NULL)
		return -1;
	s->tmask = cap - 1;
	for (i = 0; i < s->nspecs; i++) {
		const struct policy_spec *sp = &s->specs[i];

		for (h = key_hash(sp->family, sp->len, sp->via, sp->addr) & s->tmask;
		    s->table[h].spec != NULL; h = (h + 1) & s->tmask)
			;
		s->table[h].spec = sp;
	}
	return 0;
}

static const struct policy_spec *
probe(const struct policyset *s, int family, unsigned len, int via, const uint8_t *addr)
{
	size_t h;

	if (s->table == NULL)
		return NULL;
	for (h = key_hash(family, len, via, addr) & s->tmask; s->table[h].spec != NULL;
	    h = (h + 1) & s->tmask)
		if (same_key(s->table[h].spec, family, len, via, addr))
			return s->table[h].spec;
	return NULL;
}

/* sa's address into a[16] (IPv4-mapped IPv6 as IPv4); its family, or 0. */
static int
addr_of(const struct sockaddr *sa, uint8_t a[16])
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(a, a6->s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(a, a6->s6_addr, 16);
		return AF_INET6;
	}
	return 0;
}

size_t
policyset_select(const struct policyset *s, const struct sockaddr *src,
    const struct sockaddr *local)
{
	const struct policy_spec *sp;
	uint8_t a[16], m[16];
	int fam;
	size_t i;

	if (s->nspecs == 0)
		return 0;
	if ((fam = addr_of(src, a)) != 0) {
		const uint8_t *lens = fam == AF_INET ? s->lens4 : s->lens6;
		size_t n = fam == AF_INET ? s->nlens4 : s->nlens6;

		for (i = 0; i < n; i++) {
			memcpy(m, a, sizeof(m));
			policyset_mask(m, fam, lens[i]);
			if ((sp = probe(s, fam, lens[i], 0, m)) != NULL)
				return sp->policy;
		}
	}
	if (s->has_via && (fam = addr_of(local, a)) != 0 &&
	    (sp = probe(s, fam, (unsigned)addr_bytes(fam) * 8, 1, a)) != NULL)
		return sp->policy;
	return 0;
}

/* ---- the rules ---- */

/* 1 if a is more specific than b (both match the same name): exact before any wildcard,
 * then the longer suffix, then the smaller wildcard kind (so `*.` before `**.`). */
static int
more_specific(const struct rule *a, const struct rule *b)
{
	if ((a->wildcard == 0) != (b->wildcard == 0))
		return a->wildcard == 0;
	if (a->keylen != b->keylen)
		return a->keylen > b->keylen;
	return a->wildcard < b->wildcard;
}

const struct rule *
policyset_check(const struct policyset *s, size_t idx, const char *name, size_t len,
    uint16_t port)
{
	const struct policy *gp = s->v[0].policy;
	const struct rule *g, *p;

	g = port ? policy_match(gp, name, len, port) : policy_match_name(gp, name, len);
	if (idx == 0 || idx >= s->n)
		return g;
	p = port ? policy_match(s->v[idx].policy, name, len, port) :
	    policy_match_name(s->v[idx].policy, name, len);
	/* A deny rule from either side wins over any allow, whatever its specificity (each
	 * side's policy_match already put its own deny first). */
	if (g != NULL && (g->flags & RULE_DENY))
		return g;
	if (p != NULL && (p->flags & RULE_DENY))
		return p;
	if (g == NULL)
		return p;
	if (p == NULL)
		return g;
	return more_specific(g, p) ? g : p;
}
