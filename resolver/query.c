/* query.c: turns a query buffer into an answer buffer under the allowlist (no I/O).
 *
 * The wire format is read and written here with bounded cursors, using ldns for the
 * protocol's constants and names (types, classes, rcodes). ldns's object model
 * (ldns_wire2pkt/ldns_pkt2wire) allocates dozens of objects per message, which the per-
 * query path cannot afford; the tests use it as the independent parser that checks
 * every answer this file writes. */
#include "query.h"

#include <ldns/ldns.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dname.h"
#include "dnswire.h"
#include "util.h"

static const char ede_text[] = "not on the allowlist";

/* SOA in negative answers: we answer as if authoritative for the whole tree. */
static const uint8_t soa_mname[] = "\011gatehouse\007invalid";	/* + root */
static const uint8_t soa_rname[] = "\012hostmaster\011gatehouse\007invalid";

/* What parsing found. Offsets are into the query. */
struct msg {
	uint16_t id, flags, qd, an, ns, ar;
	size_t qname_off, qname_len;	/* wire name of the first question */
	size_t question_end;		/* offset just past the first question */
	const char *malformed;		/* where the walk stopped, or NULL */
	int question_ok;		/* first question fully read */
	unsigned nopt;
	int opt_root;			/* every OPT had the root owner */
	uint16_t opt_size;
	uint8_t opt_version;
	uint16_t opt_flags;
};

/* ---- reading ---- */

/* Walk the name at off: labels ending in the root label, or, where pointer_ok, in a
 * pointer (not followed). Returns the offset past it, or 0 when malformed: an extended
 * label type (0x40, 0x80), a pointer where none may be, over 255 bytes, or past len. */
static size_t
walk_name(const uint8_t *q, size_t len, size_t off, int pointer_ok)
{
	size_t start = off;

	while (off < len) {
		uint8_t l = q[off];

		if ((l & 0xc0) == 0xc0 && pointer_ok)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		if (off + 1 + l > len || off + 1 + l - start > 255)
			return 0;
		off += 1 + (size_t)l;
		if (l == 0)
			return off;
	}
	return 0;
}

/* A name anywhere in the message but the question. */
static size_t
skip_name(const uint8_t *q, size_t len, size_t off)
{
	return walk_name(q, len, off, 1);
}

/* The question name: plain labels only (a pointer could only point into the header). */
static size_t
read_qname(const uint8_t *q, size_t len, size_t off)
{
	return walk_name(q, len, off, 0);
}

static void
read_opt(struct msg *m, const uint8_t *q, size_t name_off, size_t fixed)
{
	m->nopt++;
	if (q[name_off] != 0)
		m->opt_root = 0;
	if (m->nopt == 1) {
		m->opt_size = dnswire_rd16(q + fixed + 2);
		m->opt_version = q[fixed + 5];
		m->opt_flags = dnswire_rd16(q + fixed + 6);
	}
}

/* Walk the sections after the questions; records OPT and stops at the first fault. */
static void
walk_records(struct msg *m, const uint8_t *q, size_t len, size_t off)
{
	unsigned total = (unsigned)m->an + m->ns + m->ar, i;

	for (i = 0; i < total; i++) {
		size_t name_off = off, fixed;
		uint16_t rdlen;

		if ((off = skip_name(q, len, off)) == 0 || off + 10 > len) {
			m->malformed = "malformed-record";
			return;
		}
		fixed = off;
		rdlen = dnswire_rd16(q + fixed + 8);
		if (fixed + 10 + rdlen > len) {
			m->malformed = "malformed-record";
			return;
		}
		if (i >= (unsigned)m->an + m->ns && dnswire_rd16(q + fixed) == LDNS_RR_TYPE_OPT)
			read_opt(m, q, name_off, fixed);
		off = fixed + 10 + rdlen;
	}
}

static void
parse(struct msg *m, const uint8_t *q, size_t len)
{
	size_t off = DNSWIRE_HDR;
	unsigned i;

	memset(m, 0, sizeof(*m));
	m->opt_root = 1;
	m->id = dnswire_rd16(q);
	m->flags = dnswire_rd16(q + 2);
	m->qd = dnswire_rd16(q + 4);
	m->an = dnswire_rd16(q + 6);
	m->ns = dnswire_rd16(q + 8);
	m->ar = dnswire_rd16(q + 10);
	for (i = 0; i < m->qd; i++) {
		size_t name_off = off;

		off = (i == 0) ? read_qname(q, len, off) : skip_name(q, len, off);
		if (off == 0 || off + 4 > len) {
			m->malformed = "malformed-question";
			return;
		}
		if (i == 0) {
			m->qname_off = name_off;
			m->qname_len = off - name_off;
			m->question_end = off + 4;
			m->question_ok = 1;
		}
		off += 4;
	}
	walk_records(m, q, len, off);
}

/* Presentation text of a wire name (case kept, \DDD escapes) into info->qname, and the
 * lowercase form for matching into match (empty when the name holds bytes no allowed
 * name can hold). */
static void
qname_text(const uint8_t *w, struct query_info *info, char *match, size_t *matchlen)
{
	size_t o = 0, mo = 0, off = 0;
	int matchable = 1;

	while (w[off] != 0) {
		uint8_t l = w[off++], j;

		for (j = 0; j < l; j++, off++) {
			uint8_t c = w[off];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_') {
				info->qname[o++] = (char)c;
				if (mo < DNAME_MAX + 1)
					match[mo++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
				continue;
			}
			matchable = 0;
			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\' && c != '"' &&
			    c != ';' && c != '(' && c != ')' && c != '$' && c != '@') {
				info->qname[o++] = (char)c;
			} else if (c == '.' || c == '\\' || c == '"') {
				info->qname[o++] = '\\';
				info->qname[o++] = (char)c;
			} else {
				o += (size_t)snprintf(info->qname + o, 5, "\\%03u", c);
			}
		}
		info->qname[o++] = '.';
		if (mo < DNAME_MAX + 1)
			match[mo++] = '.';
	}
	if (o == 0)
		info->qname[o++] = '.';
	else
		o--;			/* no trailing dot in the audit line */
	info->qname[o] = '\0';
	if (mo > 0)
		mo--;
	if (!matchable || mo > DNAME_MAX)
		mo = 0;
	match[mo] = '\0';
	*matchlen = mo;
}

/* Shannon entropy of a label in bits per character, over its lowercased bytes. Only
 * computed for labels of 20 bytes or more, which ordinary names rarely have. */
static double
label_entropy(const uint8_t *l, size_t n)
{
	unsigned counts[256] = { 0 };
	double h = 0;
	size_t i;

	for (i = 0; i < n; i++)
		counts[(l[i] >= 'A' && l[i] <= 'Z') ? l[i] + 32 : l[i]]++;
	for (i = 0; i < 256; i++) {
		if (counts[i] > 0) {
			double p = (double)counts[i] / (double)n;

			h -= p * log2(p);
		}
	}
	return h;
}

unsigned
query_name_flags(const uint8_t *w)
{
	unsigned flags = 0, labels = 0;
	size_t off = 0;

	while (w[off] != 0 && off < 255) {
		uint8_t l = w[off];

		labels++;
		if (l >= QFLAG_LABEL_LEN)
			flags |= QFLAG_LONG_LABEL;
		/* Base32/64/hex-encoded data: long and close to uniformly spread. A random
		 * 20-character base32 string measures about 3.9 bits; words stay under 3.5. */
		if (l >= 20 && label_entropy(w + off + 1, l) >= 3.5)
			flags |= QFLAG_HIGH_ENTROPY;
		off += 1 + (size_t)l;
	}
	if (off + 1 >= QFLAG_NAME_LEN)
		flags |= QFLAG_LONG_NAME;
	if (labels >= QFLAG_LABELS)
		flags |= QFLAG_MANY_LABELS;
	return flags;
}

size_t
query_flag_names(unsigned flags, const char **names)
{
	size_t n = 0;

	if (flags & QFLAG_LONG_LABEL)
		names[n++] = "long-label";
	if (flags & QFLAG_LONG_NAME)
		names[n++] = "long-name";
	if (flags & QFLAG_MANY_LABELS)
		names[n++] = "many-labels";
	if (flags & QFLAG_HIGH_ENTROPY)
		names[n++] = "high-entropy";
	return n;
}

/* ---- writing ---- */

struct out {
	uint8_t *p;
	size_t len, cap;
	int full;		/* something did not fit */
};

static void
put_bytes(struct out *o, const void *d, size_t n)
{
	if (o->full || o->len + n > o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void
put16(struct out *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(o, b, 2);
}

static void
put32(struct out *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(o, b, 4);
}

/* Type, class, TTL and rdlength of a record whose owner was just written. */
static void
put_rr_head(struct out *o, uint16_t type, uint16_t class, uint32_t ttl, uint16_t rdlen)
{
	put16(o, type);
	put16(o, class);
	put32(o, ttl);
	put16(o, rdlen);
}

static void
put_addr_rr(struct out *o, uint16_t type, const void *addr, uint16_t alen, uint32_t ttl)
{
	put16(o, 0xc000 | DNSWIRE_HDR);		/* owner: the question name, as sent */
	put_rr_head(o, type, LDNS_RR_CLASS_IN, ttl, alen);
	put_bytes(o, addr, alen);
}

static void
put_soa(struct out *o, uint32_t negttl)
{
	uint16_t rdlen = (uint16_t)(sizeof(soa_mname) + sizeof(soa_rname) + 20);

	put_bytes(o, "", 1);			/* owner: root */
	put_rr_head(o, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, negttl, rdlen);
	put_bytes(o, soa_mname, sizeof(soa_mname));	/* sizeof includes the root label */
	put_bytes(o, soa_rname, sizeof(soa_rname));
	put32(o, 1);			/* serial */
	put32(o, 3600);			/* refresh */
	put32(o, 600);			/* retry */
	put32(o, 86400);		/* expire */
	put32(o, negttl);		/* minimum: the negative TTL (RFC 2308) */
}

static void
put_opt(struct out *o, int rcode, int dnssec_ok, int ede)
{
	uint16_t rdlen = ede ? (uint16_t)(4 + 2 + sizeof(ede_text) - 1) : 0;

	put_bytes(o, "", 1);
	put16(o, LDNS_RR_TYPE_OPT);
	put16(o, QUERY_EDNS_PAYLOAD);
	put32(o, (uint32_t)((rcode >> 4) & 0xff) << 24 | (dnssec_ok ? DNSWIRE_EDNS_DO : 0));
	put16(o, rdlen);
	if (ede) {
		put16(o, LDNS_EDNS_EDE);		/* RFC 8914 */
		put16(o, (uint16_t)(2 + sizeof(ede_text) - 1));
		put16(o, LDNS_EDE_BLOCKED);
		put_bytes(o, ede_text, sizeof(ede_text) - 1);
	}
}

/* What goes into the answer, decided before any byte is written. */
struct plan {
	int rcode;
	int question;		/* echo the question */
	int opt;		/* add an OPT record */
	int ede;		/* with EDE 15 */
	int soa;		/* SOA in authority */
	int want4, want6;	/* A / AAAA records from env (or the pool's) */
	int pooled;		/* from the pool: a4 and a6, one each */
	struct in_addr a4;
	struct in6_addr a6;
};

static void
put_header(struct out *o, const struct msg *m, const struct plan *pl, uint16_t an,
    uint16_t ns, uint16_t ar, int tc)
{
	uint16_t flags = DNSWIRE_QR | DNSWIRE_AA | DNSWIRE_RA |
	    (uint16_t)(DNSWIRE_OPCODE(m->flags) << 11) |
	    (m->flags & (DNSWIRE_RD | DNSWIRE_CD)) | (uint16_t)(pl->rcode & 0xf);

	if (tc)
		flags |= DNSWIRE_TC;
	put16(o, m->id);
	put16(o, flags);
	put16(o, pl->question ? 1 : 0);
	put16(o, an);
	put16(o, ns);
	put16(o, ar);
}

/* Write the whole answer; 0, or -1 when it does not fit in o->cap. */
static int
write_answer(struct out *o, const uint8_t *q, const struct msg *m, const struct plan *pl,
    const struct query_env *env, struct query_info *info, int tc)
{
	size_t n4 = tc || !pl->want4 ? 0 : pl->pooled ? 1 : env->na;
	size_t n6 = tc || !pl->want6 ? 0 : pl->pooled ? 1 : env->naaaa;
	const struct in_addr *a = pl->pooled ? &pl->a4 : env->a;
	const struct in6_addr *aaaa = pl->pooled ? &pl->a6 : env->aaaa;
	size_t i;

	o->len = 0;
	o->full = 0;
	if (n4 + n6 > 0xffff)
		return -1;
	put_header(o, m, pl, (uint16_t)(n4 + n6), (pl->soa && !tc) ? 1 : 0, pl->opt ? 1 : 0, tc);
	if (pl->question)
		put_bytes(o, q + m->qname_off, m->question_end - m->qname_off);
	for (i = 0; i < n4; i++)
		put_addr_rr(o, LDNS_RR_TYPE_A, &a[i], 4, env->ttl);
	for (i = 0; i < n6; i++)
		put_addr_rr(o, LDNS_RR_TYPE_AAAA, &aaaa[i], 16, env->ttl);
	if (pl->soa && !tc)
		put_soa(o, env->negative_ttl);
	if (pl->opt)
		put_opt(o, pl->rcode, info->dnssec_ok, pl->ede);
	if (o->full)
		return -1;
	info->nanswer4 = (unsigned)n4;
	info->nanswer6 = (unsigned)n6;
	info->pooled = pl->pooled && n4 + n6 > 0;
	if (info->pooled) {
		info->pool4 = pl->a4;
		info->pool6 = pl->a6;
	}
	info->truncated = tc;
	return 0;
}

/* ---- the policy ---- */

/* The zone of v[0..n) that name[0..len) (lowercase) is at or below, or NULL. */
static const struct stub_zone *
stub_zone_find(const struct stub_zone *v, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct stub_zone *z = &v[i];

		if (len < z->len || memcmp(name + len - z->len, z->zone, z->len) != 0)
			continue;
		if (len == z->len || name[len - z->len - 1] == '.')
			return z;
	}
	return NULL;
}

/* Decide for a well-formed QUERY with one question in class IN. */
static void
plan_name(struct plan *pl, const struct query_env *env, struct query_info *info,
    const char *match, size_t matchlen)
{
	uint16_t t = info->qtype;

	info->rule = matchlen > 0 ? policyset_check(env->policies, env->policy, match,
	    matchlen, 0) : NULL;
	/* A stub zone's names are its servers' to answer (the allowlist does not decide
	 * them, report mode neither), but a deny rule for every port still refuses one. */
	if (matchlen > 0 && (info->rule == NULL || !(info->rule->flags & RULE_DENY)) &&
	    (info->stub = stub_zone_find(env->stub_zones, env->nstub_zones, match,
	    matchlen)) != NULL) {
		info->verdict = VERDICT_PASS;
		info->rule = NULL;
		return;
	}
	/* A deny rule for every port refuses the name; one for some ports does not decide
	 * here (DNS carries no port): the forwarder refuses those. Report mode answers a
	 * name enforce refuses as an allowed one, the root excepted (no rule can allow it).
	 * Nothing is forwarded either way: the answer is the gateway's own address. */
	if ((info->rule == NULL || (info->rule->flags & RULE_DENY)) && env->report &&
	    matchlen > 0)
		info->would_deny = 1;
	else if (info->rule == NULL || (info->rule->flags & RULE_DENY)) {
		info->verdict = VERDICT_DENY;
		if (info->rule != NULL)
			info->reason = "denied";
		pl->rcode = env->blocked_refused ? LDNS_RCODE_REFUSED : LDNS_RCODE_NXDOMAIN;
		pl->soa = !env->blocked_refused;
		pl->ede = info->edns;
		return;
	}
	info->verdict = VERDICT_ALLOW;
	pl->rcode = LDNS_RCODE_NOERROR;
	if (env->pool != NULL && matchlen > 0 && t == LDNS_RR_TYPE_AAAA && !env->pool->v6) {
		pl->soa = 1;	/* NODATA: clients use IPv4; no address taken for nothing */
		return;
	}
	if (env->pool != NULL && matchlen > 0 && (t == LDNS_RR_TYPE_A ||
	    t == LDNS_RR_TYPE_AAAA || t == LDNS_RR_TYPE_ANY)) {
		int has6 = 0;

		if (env->pool->addr(env->pool->ctx, env->client, match, matchlen, &pl->a4, &pl->a6,
		    &has6)) {
			/* the name's own address: AAAA only from an IPv6 pool, else NODATA */
			pl->pooled = 1;
			pl->want4 = t != LDNS_RR_TYPE_AAAA;
			pl->want6 = t != LDNS_RR_TYPE_A && has6;
			pl->soa = !pl->want4 && !pl->want6;
			return;
		}
	}
	pl->want4 = (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_ANY) && env->na > 0;
	pl->want6 = (t == LDNS_RR_TYPE_AAAA || t == LDNS_RR_TYPE_ANY) && env->naaaa > 0;
	pl->soa = !pl->want4 && !pl->want6;	/* NODATA */
}

/* Why a query cannot be answered on its name: a reason and the rcode, or NULL. */
static const char *
refusal(const struct msg *m, const struct query_info *info, int *rcode)
{
	*rcode = LDNS_RCODE_FORMERR;
	if (DNSWIRE_OPCODE(m->flags) != LDNS_PACKET_QUERY) {
		*rcode = LDNS_RCODE_NOTIMPL;
		return "opcode";
	}
	if (m->qd != 1)
		return "qdcount";
	if (!m->question_ok)
		return m->malformed;
	if (m->flags & DNSWIRE_TC)
		return "tc-set";
	if (m->an != 0)
		return "ancount";
	if (m->ns != 0)
		return "nscount";
	if (m->malformed != NULL)
		return m->malformed;
	if (m->nopt > 1)
		return "several-opt";
	if (m->nopt == 1 && !m->opt_root)
		return "opt-owner";
	if (m->nopt == 1 && m->opt_version > 0) {
		*rcode = QUERY_RCODE_BADVERS;
		return "edns-version";
	}
	if (info->qtype == LDNS_RR_TYPE_OPT)
		return "qtype-opt";
	*rcode = LDNS_RCODE_REFUSED;
	if (info->qclass != LDNS_RR_CLASS_IN)
		return "class";
	if (info->qtype == LDNS_RR_TYPE_AXFR || info->qtype == LDNS_RR_TYPE_IXFR)
		return "zone-transfer";
	return NULL;
}

static void
decide(struct plan *pl, const struct msg *m, const struct query_env *env,
    struct query_info *info, const char *match, size_t matchlen)
{
	const char *why;
	int rcode;

	pl->question = m->qd == 1 && m->question_ok;
	pl->opt = m->nopt > 0 && m->malformed == NULL;
	if ((why = refusal(m, info, &rcode)) != NULL) {
		info->verdict = VERDICT_INVALID;
		info->reason = why;
		pl->rcode = rcode;
		return;
	}
	plan_name(pl, env, info, match, matchlen);
}

enum query_result
query_answer(const uint8_t *q, size_t qlen, const struct query_env *env, uint8_t *out,
    size_t outcap, size_t *outlen, struct query_info *info)
{
	char match[DNAME_MAX + 2];
	size_t matchlen = 0, limit;
	struct plan pl;
	struct msg m;
	struct out o;

	memset(info, 0, offsetof(struct query_info, qname));
	info->qname[0] = '\0';
	*outlen = 0;
	info->verdict = VERDICT_DROP;
	if (qlen < DNSWIRE_HDR || outcap < QUERY_UDP_MIN) {
		info->reason = "short";
		return QUERY_DROP;
	}
	parse(&m, q, qlen);
	info->id = m.id;
	if (m.flags & DNSWIRE_QR) {
		info->reason = "response";
		return QUERY_DROP;
	}
	if (m.question_ok) {
		info->has_question = 1;
		qname_text(q + m.qname_off, info, match, &matchlen);
		info->flags = query_name_flags(q + m.qname_off);
		info->qtype = dnswire_rd16(q + m.question_end - 4);
		info->qclass = dnswire_rd16(q + m.question_end - 2);
	}
	info->edns = m.nopt > 0 && m.malformed == NULL;
	if (info->edns) {
		info->edns_size = m.opt_size;
		info->dnssec_ok = (m.opt_flags & DNSWIRE_EDNS_DO) != 0;
	}
	memset(&pl, 0, sizeof(pl));
	decide(&pl, &m, env, info, match, matchlen);
	info->rcode = pl.rcode;
	if (info->verdict == VERDICT_PASS) {
		info->question_end = m.question_end;
		return QUERY_PASS;
	}

	limit = outcap < 65535 ? outcap : 65535;
	if (!env->tcp) {
		size_t udp = QUERY_UDP_MIN;

		if (info->edns && m.opt_size > udp)
			udp = m.opt_size < QUERY_EDNS_PAYLOAD ? m.opt_size : QUERY_EDNS_PAYLOAD;
		if (udp < limit)
			limit = udp;
	}
	o.p = out;
	o.cap = limit;
	/* Too big: TC set, records dropped. Header, question (at most 259 bytes) and OPT
	 * with EDE (at most 37) always fit in the 512 bytes every limit allows. */
	if (write_answer(&o, q, &m, &pl, env, info, 0) == -1)
		write_answer(&o, q, &m, &pl, env, info, 1);
	*outlen = o.len;
	return QUERY_ANSWER;
}

/* ---- names for the audit line ---- */

const char *
query_type_name(uint16_t type, char *buf, size_t len)
{
	const ldns_rr_descriptor *d;

	switch (type) {		/* the common ones without a copy (per-query path) */
	case LDNS_RR_TYPE_A:
		return "A";
	case LDNS_RR_TYPE_AAAA:
		return "AAAA";
	case LDNS_RR_TYPE_HTTPS:
		return "HTTPS";
	default:
		break;
	}
	d = ldns_rr_descript(type);

	if (d != NULL && d->_name != NULL && strncmp(d->_name, "TYPE", 4) != 0) {
		util_strlcpy(buf, d->_name, len);
		return buf;
	}
	switch (type) {	/* meta types ldns leaves unnamed */
	case LDNS_RR_TYPE_ANY:
		util_strlcpy(buf, "ANY", len);
		return buf;
	case LDNS_RR_TYPE_AXFR:
		util_strlcpy(buf, "AXFR", len);
		return buf;
	case LDNS_RR_TYPE_IXFR:
		util_strlcpy(buf, "IXFR", len);
		return buf;
	default:
		snprintf(buf, len, "TYPE%u", type);
		return buf;
	}
}

const char *
query_rcode_name(int rcode, char *buf, size_t len)
{
	const ldns_lookup_table *lt;

	if (rcode == LDNS_RCODE_NOERROR)	/* the common ones without a lookup */
		return "NOERROR";
	if (rcode == LDNS_RCODE_NXDOMAIN)
		return "NXDOMAIN";

	if (rcode == QUERY_RCODE_BADVERS) {
		util_strlcpy(buf, "BADVERS", len);
		return buf;
	}
	if (rcode == LDNS_RCODE_NOTIMPL) {	/* ldns says NOTIMPL; RFC 1035 and dig NOTIMP */
		util_strlcpy(buf, "NOTIMP", len);
		return buf;
	}
	lt = ldns_lookup_by_id(ldns_rcodes, rcode);
	if (lt != NULL && lt->name != NULL)
		util_strlcpy(buf, lt->name, len);
	else
		snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

const char *
query_verdict_name(enum query_verdict v)
{
	static const char *const names[VERDICT_COUNT] = {
		[VERDICT_ALLOW] = "allow",
		[VERDICT_DENY] = "deny",
		[VERDICT_INVALID] = "invalid",
		[VERDICT_DROP] = "drop",
		[VERDICT_PASS] = "pass",
	};

	return (unsigned)v < VERDICT_COUNT ? names[v] : "?";
}
