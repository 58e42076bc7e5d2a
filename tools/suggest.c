/* suggest.c: what each policy's clients were seen to need, taken from audit records (no output). */
#include "suggest.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "dname.h"
#include "util.h"

void
suggest_init(struct suggest *s)
{
	memset(s, 0, sizeof(*s));
	s->threshold = SUGGEST_THRESHOLD;
	s->first = INT64_MAX;
	s->last = INT64_MIN;
}

static void
line_free(struct suggestion *l)
{
	free(l->pattern);
	portset_free(&l->ports);
	strset_free(&l->clients);
	free(l->special);
	portset_free(&l->routes);
}

static void
policy_free(struct obs_policy *p)
{
	free(p->name);
	strset_free(&p->clients);
	strset_free(&p->denied);
	for (size_t i = 0; i < p->nnames; i++) {
		free(p->names[i].name);
		portset_free(&p->names[i].ports);
		strset_free(&p->names[i].clients);
		free(p->names[i].special);
		portset_free(&p->names[i].routes);
	}
	free(p->names);
	for (size_t i = 0; i < p->nports; i++) {
		strset_free(&p->ports[i].clients);
		strset_free(&p->ports[i].votes);
		free(p->ports[i].vote_n);
		free(p->ports[i].target);
		free(p->ports[i].special);
		free(p->ports[i].shared);
	}
	free(p->ports);
	for (size_t i = 0; i < p->nlines; i++)
		line_free(&p->lines[i]);
	free(p->lines);
}

void
suggest_free(struct suggest *s)
{
	for (size_t i = 0; i < s->npol; i++)
		policy_free(&s->pol[i]);
	free(s->pol);
	memset(s, 0, sizeof(*s));
}

/* Grow an array *v of *cap elements of size sz to hold one more than n. */
static int
reserve(void **v, size_t *cap, size_t n, size_t sz)
{
	void *nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if ((nv = realloc(*v, ncap * sz)) == NULL)
		return -1;
	memset((char *)nv + *cap * sz, 0, (ncap - *cap) * sz);
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Entries found by name: the arrays of these structs start with their name. */
_Static_assert(offsetof(struct obs_policy, name) == 0, "a policy starts with its name");
_Static_assert(offsetof(struct obs_name, name) == 0, "a name entry starts with its name");
_Static_assert(offsetof(struct suggestion, pattern) == 0, "a line starts with its pattern");

/* The entry called name in the array *v (*n structs of size sz, each starting with its
 * name as a char *), appended zeroed with a copy of name when there is none; NULL when
 * out of memory. A linear search: a policy's names number in the hundreds. */
static void *
named_entry(void **v, size_t *n, size_t *cap, size_t sz, const char *name)
{
	char **slot;

	for (size_t i = 0; i < *n; i++) {
		slot = (char **)((char *)*v + i * sz);
		if (strcmp(*slot, name) == 0)
			return slot;
	}
	if (reserve(v, cap, *n, sz) == -1)
		return NULL;
	slot = (char **)((char *)*v + *n * sz);
	if ((*slot = strdup(name)) == NULL)
		return NULL;
	(*n)++;
	return slot;
}

static struct obs_policy *
get_policy(struct suggest *s, const char *name)
{
	return named_entry((void **)&s->pol, &s->npol, &s->cap, sizeof(*s->pol), name);
}

struct obs_name *
suggest_name(struct obs_policy *p, const char *name)
{
	return named_entry((void **)&p->names, &p->nnames, &p->capnames, sizeof(*p->names), name);
}

struct suggestion *
suggest_line(struct obs_policy *p, const char *pattern)
{
	return named_entry((void **)&p->lines, &p->nlines, &p->caplines, sizeof(*p->lines),
	    pattern);
}

static struct obs_port *
get_port(struct obs_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i].port == port)
			return &p->ports[i];
	if (reserve((void **)&p->ports, &p->capports, p->nports, sizeof(*p->ports)) == -1)
		return NULL;
	p->ports[p->nports].port = port;
	return &p->ports[p->nports++];
}

/* name in normal form into out (DNAME_MAX + 1 bytes): 0, or -1 when it is no host name
 * an allow rule could name (an address, a reverse-lookup name, bad bytes). */
static int
host_name(const char *name, char *out)
{
	size_t len;

	if (name == NULL || dname_normalize(name, strlen(name), out, &len) != DNAME_OK)
		return -1;
	if (len >= 5 && strcmp(out + len - 5, ".arpa") == 0)
		return -1;
	return 0;
}

/* The special-purpose range addr ("ADDR:PORT" or "[V6]:PORT") lies in, or NULL. */
static const char *
special_range(const char *addr)
{
	struct sockaddr_storage ss;
	char err[128];

	if (addr == NULL || addr_parse(addr, 0, &ss, err, sizeof(err)) == -1)
		return NULL;
	return addr_special((const struct sockaddr *)&ss);
}

/* A copy of s for a comment: anything but printable ASCII becomes '?', so that no byte
 * of an audit line can end the comment it is written in. NULL when out of memory. */
static char *
comment_text(const char *s)
{
	char *copy = strdup(s);

	for (char *c = copy; c != NULL && *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	return copy;
}

static int
set_special(char **dst, const char *what)
{
	if (*dst != NULL || what == NULL)
		return 0;
	return (*dst = comment_text(what)) == NULL ? -1 : 0;
}

/* "NAME:PORT" of a route field into a host name and port: 0, or -1 when it is not one
 * (a line no forwarder writes). */
static int
route_target(const char *route, char *name, uint16_t *port)
{
	const char *colon = strrchr(route, ':');
	char host[DNAME_MAX + 1];
	unsigned long n;

	if (colon == NULL || (size_t)(colon - route) > DNAME_MAX ||
	    util_parse_uint(colon + 1, 1, 65535, &n) == -1)
		return -1;
	memcpy(host, route, (size_t)(colon - route));
	host[colon - route] = '\0';
	*port = (uint16_t)n;
	return host_name(host, name);
}

/* A name refused by a deny rule (reason, or report mode's enforce_reason, "denied")
 * stays refused: a deny is the operator's decision, and it wins over any allow line.
 * It is listed for the reader ("NAME (deny RULE)"); 1 when rec is one, -1 out of memory. */
static int
by_deny_rule(struct obs_policy *p, const struct audit_rec *rec, const char *name)
{
	const char *reason = rec->reason != NULL ? rec->reason : rec->enforce_reason;
	char entry[DNAME_MAX + 300], *rule;
	int rc;

	if (reason == NULL || strcmp(reason, "denied") != 0)
		return 0;
	rule = comment_text(rec->rule != NULL ? rec->rule : "?");
	if (rule == NULL)
		return -1;
	snprintf(entry, sizeof(entry), "%s (deny %s)", name, rule);
	free(rule);
	rc = strset_add(&p->denied, entry);
	return rc == -1 ? -1 : 1;
}

/* What a connection record says the policy needs: a name on a port, a route, or a
 * port reached with no name. */
static int
add_conn(struct obs_policy *p, const struct audit_rec *rec)
{
	const char *reason = rec->reason != NULL ? rec->reason : rec->enforce_reason;
	const char *range = special_range(rec->upstream);
	char name[DNAME_MAX + 1], special[300];
	struct obs_port *op;
	struct obs_name *n;
	int rc;

	/* needed a special-purpose address: dialled one (allowed with `private`), or was
	 * refused for having only such addresses (the refusal's detail names it) */
	if (range != NULL)
		snprintf(special, sizeof(special), "%s (%s)", rec->upstream, range);
	else if (reason != NULL && strcmp(reason, "no-address") == 0) {
		snprintf(special, sizeof(special), "%s", rec->detail != NULL ? rec->detail :
		    "only special-purpose addresses");
		range = special;
	}
	/* A routed port where the client named nothing (via "route"): the port's target is
	 * what it needed (the forwarder writes "route" for an implicit route too, so this may
	 * be an allow rule's doing: suggest_build decides which line it takes). Where it
	 * named a host (SNI, Host), the name is what it needed. */
	if (rec->route != NULL && (rec->name == NULL || (rec->via != NULL &&
	    strcmp(rec->via, "route") == 0))) {
		uint16_t tport;

		if (route_target(rec->route, name, &tport) == -1)
			return 0;
		if ((op = get_port(p, (uint16_t)rec->port)) == NULL)
			return -1;
		if (op->target == NULL) {
			if ((op->target = strdup(name)) == NULL)
				return -1;
			op->target_port = tport;
		}
		op->conns++;
		return strset_add(&op->clients, rec->client) == -1 ||
		    (range != NULL && set_special(&op->special, special) == -1) ? -1 : 0;
	}
	if (reason != NULL && strcmp(reason, "no-name") == 0) {
		if ((op = get_port(p, (uint16_t)rec->port)) == NULL)
			return -1;
		op->conns++;
		if (strset_add(&op->clients, rec->client) == -1)
			return -1;
		if (rec->nrecent > 0 && host_name(rec->recent[0], name) == 0) {
			size_t k = 0;

			while (k < op->votes.n && strcmp(op->votes.v[k], name) != 0)
				k++;
			if (k == op->votes.n) {
				uint64_t *vn = realloc(op->vote_n, (k + 1) * sizeof(*vn));

				if (vn == NULL)
					return -1;
				op->vote_n = vn;
				vn[k] = 0;
				if (strset_add(&op->votes, name) == -1)
					return -1;
			}
			op->vote_n[k]++;
		}
		return 0;
	}
	if (reason != NULL && (strcmp(reason, "malformed") == 0 ||
	    strcmp(reason, "peek-timeout") == 0 || strcmp(reason, "name-mismatch") == 0))
		return 0;	/* nothing an allow line changes */
	if (host_name(rec->name, name) == -1)
		return 0;
	if ((op = get_port(p, (uint16_t)rec->port)) == NULL)
		return -1;
	op->named = 1;
	if ((rc = by_deny_rule(p, rec, name)) != 0)
		return rc == -1 ? -1 : 0;
	if ((n = suggest_name(p, name)) == NULL)
		return -1;
	n->conns++;
	if (portset_add(&n->ports, (uint16_t)rec->port) == -1 ||
	    strset_add(&n->clients, rec->client) == -1)
		return -1;
	return range != NULL ? set_special(&n->special, special) : 0;
}

static int
add_query(struct obs_policy *p, const struct audit_rec *rec)
{
	char name[DNAME_MAX + 1];
	struct obs_name *n;
	int rc;

	if (strcmp(rec->verdict, "allow") != 0 && strcmp(rec->verdict, "deny") != 0)
		return 0;	/* invalid, dropped: no name to allow */
	if (host_name(rec->name, name) == -1)
		return 0;
	if ((rc = by_deny_rule(p, rec, name)) != 0)
		return rc == -1 ? -1 : 0;
	if ((n = suggest_name(p, name)) == NULL)
		return -1;
	n->lookups++;
	return strset_add(&n->clients, rec->client);
}

int
suggest_add(struct suggest *s, const struct audit_rec *rec)
{
	struct obs_policy *p = get_policy(s, rec->policy);

	if (p == NULL || strset_add(&p->clients, rec->client) == -1)
		return -1;
	s->records++;
	if (rec->ts_us < s->first)
		s->first = rec->ts_us;
	if (rec->ts_us > s->last)
		s->last = rec->ts_us;
	return rec->event == AUDIT_QUERY ? add_query(p, rec) : add_conn(p, rec);
}
