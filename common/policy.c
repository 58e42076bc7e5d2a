/* policy.c: the allowlist matcher: hashes of exact names and of wildcard suffixes. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <libpsl.h>

#include "dname.h"
#include "util.h"

/* One key (an exact name, or the suffix of a wildcard): 8 bytes, the low half of its hash
 * and the index of its first rule (+1; 0 is an empty slot). The key itself is that
 * rule's pattern (past "*." for a wildcard). */
struct slot {
	uint32_t hash;
	uint32_t head;
};

#define ARENA_BLOCK (64 * 1024)

/* Rules are carved from big blocks: no per-rule malloc overhead, one free per block. */
struct block {
	SLIST_ENTRY(block) entry;
	size_t used, cap;
	char data[];
};

struct table {
	struct slot *slots;
	size_t cap;		/* power of two, or 0 */
	size_t used;
};

/* The tables of one kind of rule (allow, deny), one per form of pattern. */
enum form {
	FORM_EXACT,	/* "name": keyed by the name */
	FORM_ONE,	/* "*.suffix": keyed by the suffix, exactly one label below it */
	FORM_DEEP,	/* "**.suffix": keyed by the suffix, one or more labels below it */
	FORM_COUNT
};

struct policy {
	struct rule **rules;
	size_t n, cap;
	struct table t[2][FORM_COUNT];	/* [deny][form] */
	SLIST_HEAD(, block) blocks;
	char **srcs;		/* distinct source names, shared by the rules */
	size_t nsrcs;
};

static struct rule *
slot_rule(const struct policy *p, const struct slot *s)
{
	return p->rules[s->head - 1];
}

/* The hashed part of r's pattern: past "*." or "**.". */
static const char *
rule_key(const struct rule *r)
{
	return r->pattern + (r->wildcard ? r->wildcard + 1 : 0);
}

static const struct table *
rule_table(const struct policy *p, unsigned flags, int wildcard)
{
	return &p->t[(flags & RULE_DENY) != 0][wildcard];
}

static void *
arena_alloc(struct policy *p, size_t n)
{
	struct block *b = SLIST_FIRST(&p->blocks);

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		SLIST_INSERT_HEAD(&p->blocks, b, entry);
	}
	b->used += n;
	return b->data + b->used - n;
}

static const char *
intern_src(struct policy *p, const char *src)
{
	char **ns, *copy;
	size_t i;

	for (i = 0; i < p->nsrcs; i++)
		if (strcmp(p->srcs[i], src) == 0)
			return p->srcs[i];
	if ((copy = strdup(src)) == NULL)
		return NULL;
	if ((ns = realloc(p->srcs, (p->nsrcs + 1) * sizeof(*ns))) == NULL) {
		free(copy);
		return NULL;
	}
	p->srcs = ns;
	p->srcs[p->nsrcs++] = copy;
	return copy;
}

const char *
rule_origin(const struct rule *r, char *buf, size_t len)
{
	if (r->line > 0)
		snprintf(buf, len, "%s:%u", r->src, r->line);
	else
		snprintf(buf, len, "%s", r->src);
	return buf;
}

/*
 * The Public Suffix List, through libpsl, judges wildcards: loaded once per process, at
 * the first configuration load (config_read calls policy_psl_load), so before the
 * daemons install their seccomp filters: a reload under the sandbox uses the same list
 * and opens no file. psl_latest(NULL) takes the newer of the distribution's file
 * (Debian's publicsuffix package, /usr/share/publicsuffix/public_suffix_list.dafsa) and
 * the list built into libpsl; when the file is missing, the built-in list. A libpsl with
 * neither leaves psl NULL: then only single-label suffixes ("*.com") are refused, as the
 * list would, and no wildcard is warned about. Kept for the life of the process.
 */
static psl_ctx_t *psl_owned;
static const psl_ctx_t *psl;
static int psl_loaded;

void
policy_psl_load(void)
{
	if (psl_loaded)
		return;
	psl_loaded = 1;
	if ((psl_owned = psl_latest(NULL)) != NULL)
		psl = psl_owned;
	else
		psl = psl_builtin();
}

enum policy_suffix
policy_suffix_kind(const char *suffix)
{
	policy_psl_load();
	/* Single labels: top-level domains, or names the list's implicit "*" rule makes
	 * public suffixes (test, internal); the ICANN check below says so too. */
	if (strchr(suffix, '.') == NULL)
		return POLICY_SUFFIX_ICANN;
	if (psl == NULL)
		return POLICY_SUFFIX_NONE;
	if (psl_is_public_suffix2(psl, suffix, PSL_TYPE_ICANN))
		return POLICY_SUFFIX_ICANN;
	if (psl_is_public_suffix2(psl, suffix, PSL_TYPE_PRIVATE | PSL_TYPE_NO_STAR_RULE))
		return POLICY_SUFFIX_PRIVATE;
	return POLICY_SUFFIX_NONE;
}

/* Hash of s[0..len) read right to left, so that one pass over a name yields the hash
 * of every suffix (policy_lookup). */
static uint64_t
hash_rev(const char *s, size_t len)
{
	uint64_t h = UTIL_HASH_INIT;

	while (len-- > 0)
		h = util_hash_step(h, (unsigned char)s[len]);
	return h;
}

static struct slot *
table_find(const struct policy *p, const struct table *t, uint64_t h, const char *key,
    size_t len)
{
	size_t i;

	if (t->cap == 0)
		return NULL;
	for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct slot *s = &t->slots[i];
		const struct rule *r;

		if (s->head == 0)
			return NULL;
		if (s->hash != (uint32_t)h)
			continue;
		r = slot_rule(p, s);
		if (r->keylen == len && memcmp(rule_key(r), key, len) == 0)
			return s;
	}
}

static int
table_grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 16, i;
	struct slot *ns = calloc(ncap, sizeof(*ns));

	if (ns == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		struct slot *s = &t->slots[i];
		size_t j;

		if (s->head == 0)
			continue;
		/* The low 32 bits are all a slot keeps: tables stay under 2^32 slots. */
		for (j = s->hash & (ncap - 1); ns[j].head != 0; j = (j + 1) & (ncap - 1))
			;
		ns[j] = *s;
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* Add rule number idx (p->rules[idx], already stored) under key. */
static int
table_add(struct policy *p, struct table *t, const char *key, size_t len, size_t idx)
{
	uint64_t h = hash_rev(key, len);
	struct slot *s = table_find(p, t, h, key, len);
	size_t i;

	if (s != NULL && (p->rules[idx]->flags & RULE_ROUTE)) {
		/* A route's rule goes first: on its port it decides (policy_finish). */
		p->rules[idx]->next = slot_rule(p, s);
		s->head = (uint32_t)idx + 1;
		return 0;
	}
	if (s != NULL) {	/* same key: append, keeping the order written */
		struct rule *q = slot_rule(p, s);

		while (q->next != NULL)
			q = q->next;
		q->next = p->rules[idx];
		return 0;
	}
	/* Load at most 1/2: most lookups are misses (names not allowed, and every label
	 * of a name is tried against the wildcards), and misses pay for a full table. */
	if ((t->used + 1) * 2 > t->cap && table_grow(t) == -1)
		return -1;
	for (i = (uint32_t)h & (t->cap - 1); t->slots[i].head != 0; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i].hash = (uint32_t)h;
	t->slots[i].head = (uint32_t)idx + 1;
	t->used++;
	return 0;
}

struct policy *
policy_new(void)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (p != NULL)
		SLIST_INIT(&p->blocks);
	return p;
}

void
policy_free(struct policy *p)
{
	struct block *b;
	size_t i;

	if (p == NULL)
		return;
	while ((b = SLIST_FIRST(&p->blocks)) != NULL) {
		SLIST_REMOVE_HEAD(&p->blocks, entry);
		free(b);
	}
	for (i = 0; i < p->nsrcs; i++)
		free(p->srcs[i]);
	free(p->srcs);
	free(p->rules);
	for (i = 0; i < 2 * FORM_COUNT; i++)
		free(p->t[i / FORM_COUNT][i % FORM_COUNT].slots);
	free(p);
}

/* Validate pattern and write its normal form ("*." or "**." kept) to norm; *wildcard is
 * its enum form. */
static int
pattern_normalize(const char *pattern, char *norm, size_t normlen, int *wildcard, char *err,
    size_t errlen)
{
	char name[DNAME_MAX + 1];
	const char *body = pattern;
	enum dname_status st;

	*wildcard = FORM_EXACT;
	if (strncmp(pattern, "**.", 3) == 0) {
		*wildcard = FORM_DEEP;
		body = pattern + 3;
	} else if (strncmp(pattern, "*.", 2) == 0) {
		*wildcard = FORM_ONE;
		body = pattern + 2;
	}
	if (strcmp(pattern, "*") == 0 || strcmp(pattern, "**") == 0 ||
	    (body != pattern && body[0] == '\0')) {
		snprintf(err, errlen, "'%s' matches every name; list the names to allow", pattern);
		return -1;
	}
	if (strchr(body, '*') != NULL) {
		snprintf(err, errlen, "'%s': '*' is only allowed as the whole first label "
		    "(*.example.com: one label below example.com; **.example.com: any depth)",
		    pattern);
		return -1;
	}
	st = dname_normalize(body, strlen(body), name, NULL);
	if (st != DNAME_OK) {
		snprintf(err, errlen, "'%s': %s", pattern, dname_status_str(st));
		return -1;
	}
	if (*wildcard && policy_suffix_kind(name) == POLICY_SUFFIX_ICANN) {
		snprintf(err, errlen, "'%s' is too broad: it covers a whole public suffix", pattern);
		return -1;
	}
	snprintf(norm, normlen, "%s%s", *wildcard == FORM_DEEP ? "**." :
	    *wildcard == FORM_ONE ? "*." : "", name);
	return 0;
}

/* The first port both range lists include, or 0. */
static unsigned
ports_overlap(const struct portrange *a, size_t na, const struct portrange *b, size_t nb)
{
	size_t i, j;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (a[i].lo <= b[j].hi && b[j].lo <= a[i].hi)
				return a[i].lo > b[j].lo ? a[i].lo : b[j].lo;
	return 0;
}

/* The first rule for key in t (chain order) other than those with a flag in `without`
 * that shares a port with ports[0..nports); *port is that port. */
static const struct rule *
find_overlap(const struct policy *p, const char *norm, int wildcard,
    const struct portrange *ports, size_t nports, unsigned without, unsigned *port)
{
	const char *key = norm + (wildcard ? wildcard + 1 : 0);
	const struct table *t = rule_table(p, 0, wildcard);
	const struct slot *s = table_find(p, t, hash_rev(key, strlen(key)), key, strlen(key));
	const struct rule *r;

	for (r = s ? slot_rule(p, s) : NULL; r != NULL; r = r->next) {
		if (r->flags & without)
			continue;
		if ((*port = ports_overlap(r->ports, r->nports, ports, nports)) != 0)
			return r;
	}
	return NULL;
}

/*
 * Two allow rules for the same pattern and port must agree on 'private': otherwise which
 * one applies would depend on the order of the lines. A route's rule is not compared: it
 * takes 'private' from the allow rule instead (policy_finish). 0, or -1 with err.
 */
static int
check_conflict(const struct policy *p, const char *norm, int wildcard,
    const struct portrange *ports, size_t nports, unsigned flags, char *err, size_t errlen)
{
	const char *key = norm + (wildcard ? wildcard + 1 : 0);
	const struct table *t = rule_table(p, flags, wildcard);
	const struct slot *s = table_find(p, t, hash_rev(key, strlen(key)), key, strlen(key));
	const struct rule *r;
	char where[300];
	unsigned port;

	if (flags & (RULE_ROUTE | RULE_DENY))
		return 0;
	for (r = s ? slot_rule(p, s) : NULL; r != NULL; r = r->next) {
		if ((r->flags & RULE_ROUTE) || (r->flags & RULE_PRIVATE) == (flags & RULE_PRIVATE))
			continue;
		if ((port = ports_overlap(r->ports, r->nports, ports, nports)) == 0)
			continue;
		snprintf(err, errlen, "'%s' port %u: %s allows it %s 'private' and this rule %s; "
		    "which applies must not depend on the order of lines: write 'private' on both "
		    "or on neither", norm, port, rule_origin(r, where, sizeof(where)),
		    (r->flags & RULE_PRIVATE) ? "with" : "without",
		    (r->flags & RULE_PRIVATE) ? "without" : "with");
		return -1;
	}
	return 0;
}

int
policy_add(struct policy *p, const char *pattern, const struct portrange *ports,
    size_t nports, unsigned flags, const char *src, unsigned line, char *err, size_t errlen)
{
	char norm[DNAME_MAX + 4];
	struct portrange *pr;
	struct rule *r;
	size_t plen;
	int wildcard, rc;

	if (pattern_normalize(pattern, norm, sizeof(norm), &wildcard, err, errlen) == -1)
		return -1;
	if ((flags & RULE_DENY) && (flags & (RULE_PRIVATE | RULE_ROUTE))) {
		snprintf(err, errlen, "'%s': a deny rule has no 'private' and no route", pattern);
		return -1;
	}
	if (nports == 0 || nports > UINT16_MAX) {
		snprintf(err, errlen, "'%s': %s ports given", pattern, nports ? "too many" : "no");
		return -1;
	}
	if (check_conflict(p, norm, wildcard, ports, nports, flags, err, errlen) == -1)
		return -1;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap + p->cap / 2 : 16;
		struct rule **nr = realloc(p->rules, ncap * sizeof(*nr));

		if (nr == NULL)
			goto nomem;
		p->rules = nr;
		p->cap = ncap;
	}
	plen = strlen(norm);
	/* [struct rule][pattern\0][pad][ports] in one arena piece */
	r = arena_alloc(p, ((sizeof(*r) + plen + 1 + 3) & ~(size_t)3) + nports * sizeof(*ports));
	if (r == NULL || (r->src = intern_src(p, src)) == NULL)
		goto nomem;
	memcpy(r->pattern, norm, plen + 1);
	pr = (struct portrange *)(void *)((char *)r + ((sizeof(*r) + plen + 1 + 3) & ~(size_t)3));
	memcpy(pr, ports, nports * sizeof(*ports));
	r->ports = pr;
	r->nports = (uint16_t)nports;
	r->next = NULL;
	r->line = line;
	r->wildcard = (uint8_t)wildcard;
	r->flags = (uint8_t)flags;
	r->keylen = (uint16_t)(plen - (size_t)(wildcard ? wildcard + 1 : 0));
	p->rules[p->n] = r;
	rc = table_add(p, &p->t[(flags & RULE_DENY) != 0][wildcard], rule_key(r), r->keylen,
	    p->n);
	if (rc == -1)
		goto nomem;	/* the arena piece is freed with the policy */
	p->n++;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
rule_has_port(const struct rule *r, uint16_t port)
{
	size_t i;

	for (i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return 1;
	return 0;
}

int
rule_all_ports(const struct rule *r)
{
	return r->nports == 1 && r->ports[0].lo == 1 && r->ports[0].hi == UINT16_MAX;
}

/* Which rules of a chain a lookup takes. */
enum want {
	WANT_ANY,	/* any rule: the name alone */
	WANT_PORT,	/* a rule that includes the port */
	WANT_ALL	/* a rule for every port (a deny that refuses the name itself) */
};

/* First rule in a chain that the lookup wants. */
static const struct rule *
chain_pick(const struct rule *r, enum want want, uint16_t port)
{
	for (; r != NULL; r = r->next)
		if (want == WANT_ANY || (want == WANT_PORT && rule_has_port(r, port)) ||
		    (want == WANT_ALL && rule_all_ports(r)))
			return r;
	return NULL;
}

/* A name split for lookups: the hash of the whole name and of each suffix that follows a
 * dot, right to left (the last one collected is the longest suffix). */
struct split {
	uint64_t h;
	uint64_t hashes[DNAME_MAX / 2 + 2];
	size_t starts[DNAME_MAX / 2 + 2], nsuf;
};

static void
split_name(struct split *sp, const char *name, size_t len)
{
	size_t i;

	sp->h = UTIL_HASH_INIT;
	sp->nsuf = 0;
	for (i = len; i-- > 0;) {
		if (name[i] == '.' && i + 1 < len && sp->nsuf < NELEM(sp->hashes)) {
			sp->hashes[sp->nsuf] = sp->h;
			sp->starts[sp->nsuf++] = i + 1;
		}
		sp->h = util_hash_step(sp->h, (unsigned char)name[i]);
	}
}

/* Probe form's table of t at suffix k of sp (k == nsuf: the whole name). */
static const struct rule *
probe(const struct policy *p, const struct table *t, const struct split *sp,
    const char *name, size_t len, size_t k, enum want want, uint16_t port)
{
	size_t start = k < sp->nsuf ? sp->starts[k] : 0;
	const struct slot *s;

	s = table_find(p, t, k < sp->nsuf ? sp->hashes[k] : sp->h, name + start, len - start);
	return s != NULL ? chain_pick(slot_rule(p, s), want, port) : NULL;
}

/* The most specific rule among one kind's tables t: the exact name, then at the longest
 * suffix (the name less its first label) "*." before "**.", then "**." at each shorter
 * suffix. One probe per label (two for the longest suffix); none in an empty table. */
static const struct rule *
lookup_kind(const struct policy *p, const struct table *t, const struct split *sp,
    const char *name, size_t len, enum want want, uint16_t port)
{
	const struct rule *r;
	size_t k;

	if ((r = probe(p, &t[FORM_EXACT], sp, name, len, sp->nsuf, want, port)) != NULL)
		return r;
	if (sp->nsuf == 0)
		return NULL;
	if ((r = probe(p, &t[FORM_ONE], sp, name, len, sp->nsuf - 1, want, port)) != NULL)
		return r;
	for (k = sp->nsuf; k-- > 0;)
		if ((r = probe(p, &t[FORM_DEEP], sp, name, len, k, want, port)) != NULL)
			return r;
	return NULL;
}

/* A deny (allows wanted `allow`, denies `deny`) first, then the most specific allow. */
static const struct rule *
policy_lookup(const struct policy *p, const char *name, size_t len, enum want allow,
    enum want deny, uint16_t port)
{
	struct split sp;
	const struct rule *r;

	if (len == 0 || len > DNAME_MAX)
		return NULL;
	split_name(&sp, name, len);
	if ((r = lookup_kind(p, p->t[1], &sp, name, len, deny, port)) != NULL)
		return r;
	return lookup_kind(p, p->t[0], &sp, name, len, allow, port);
}

const struct rule *
policy_match_name(const struct policy *p, const char *name, size_t len)
{
	return policy_lookup(p, name, len, WANT_ANY, WANT_ALL, 0);
}

const struct rule *
policy_match(const struct policy *p, const char *name, size_t len, uint16_t port)
{
	return policy_lookup(p, name, len, WANT_PORT, WANT_PORT, port);
}

size_t
policy_count(const struct policy *p)
{
	return p->n;
}

const struct rule *
policy_rule(const struct policy *p, size_t i)
{
	return i < p->n ? p->rules[i] : NULL;
}

const struct rule *
policy_find(const struct policy *p, const char *pattern, const struct portrange *ports,
    size_t nports, unsigned without, unsigned *port)
{
	char norm[DNAME_MAX + 4], err[8];
	int wildcard;
	unsigned dummy;

	if (pattern_normalize(pattern, norm, sizeof(norm), &wildcard, err, sizeof(err)) == -1)
		return NULL;
	return find_overlap(p, norm, wildcard, ports, nports, without, port ? port : &dummy);
}

void
policy_finish(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct rule *r = p->rules[i];
		const struct rule *a;
		unsigned port;

		if (!(r->flags & RULE_ROUTE) || (r->flags & RULE_PRIVATE))
			continue;
		a = find_overlap(p, r->pattern, FORM_EXACT, r->ports, r->nports, RULE_ROUTE, &port);
		if (a != NULL && (a->flags & RULE_PRIVATE))
			r->flags |= RULE_PRIVATE | RULE_INHERITED;
	}
}

void
rule_format_ports(const struct rule *r, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < r->nports && off < len; i++) {
		int n;

		if (r->ports[i].lo == r->ports[i].hi)
			n = snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->ports[i].lo);
		else
			n = snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "",
			    r->ports[i].lo, r->ports[i].hi);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int
policy_parse_ports(const char *s, struct portrange **out, size_t *n, char *err,
    size_t errlen)
{
	struct portrange *pr = NULL;
	size_t cnt = 0;
	const char *p = s;

	*out = NULL;
	*n = 0;
	while (*p != '\0') {
		char item[32], *dash;
		const char *comma = strchr(p, ',');
		size_t il = comma ? (size_t)(comma - p) : strlen(p);
		unsigned long lo, hi;
		struct portrange *np;

		if (il == 0 || il >= sizeof(item)) {
			snprintf(err, errlen, "'%s': bad port list (write 443 or 465,587 or 8000-8099)", s);
			goto fail;
		}
		memcpy(item, p, il);
		item[il] = '\0';
		if ((dash = strchr(item, '-')) != NULL)
			*dash = '\0';
		if (util_parse_uint(item, 1, 65535, &lo) == -1 ||
		    (dash && util_parse_uint(dash + 1, 1, 65535, &hi) == -1)) {
			snprintf(err, errlen, "'%s': ports are numbers 1-65535", s);
			goto fail;
		}
		if (!dash)
			hi = lo;
		if (hi < lo) {
			snprintf(err, errlen, "'%s': range %lu-%lu is backwards", s, lo, hi);
			goto fail;
		}
		if ((np = realloc(pr, (cnt + 1) * sizeof(*pr))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		pr = np;
		pr[cnt].lo = (uint16_t)lo;
		pr[cnt].hi = (uint16_t)hi;
		cnt++;
		p += il;
		if (*p == ',') {
			p++;
			if (*p == '\0') {
				snprintf(err, errlen, "'%s': trailing comma", s);
				goto fail;
			}
		}
	}
	if (cnt == 0) {
		snprintf(err, errlen, "no ports given");
		goto fail;
	}
	*out = pr;
	*n = cnt;
	return 0;
fail:
	free(pr);
	return -1;
}
