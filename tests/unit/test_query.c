/* test_query.c: resolver/query.c on annotated wire queries; every answer is re-parsed by ldns. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns_wire.h"
#include "policy.h"
#include "query.h"

#define T_A		1
#define T_NS		2
#define T_CNAME		5
#define T_SOA		6
#define T_PTR		12
#define T_MX		15
#define T_TXT		16
#define T_AAAA		28
#define T_SRV		33
#define T_OPT		41
#define T_SVCB		64
#define T_HTTPS		65
#define T_IXFR		251
#define T_AXFR		252
#define T_ANY		255
#define T_CAA		257
#define C_IN		1
#define C_CH		3
#define C_HS		4
#define C_NONE		254
#define C_ANY		255
#define TTL		300
#define NEG_TTL		30
#define OUTCAP		65535
#define ALLOWED		"allowed.example.com"	/* on the allowlist (setup) */
#define EVIL		"evil.example"		/* not on it */
#define ONLY_B		"only-b.example.com"	/* on policy b's rules only */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- the query builder: every helper appends annotated bytes ---------------------- */

struct wire {
	uint8_t b[8192];
	size_t len;
	size_t qstart, qend;	/* the first question's bytes (name, type, class) */
	int has_opt;		/* an OPT record was appended */
	uint16_t flags;		/* header flags as written */
};

static void
w_bytes(struct wire *w, const void *p, size_t n)
{
	assert_true(w->len + n <= sizeof(w->b));
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void
w_u8(struct wire *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void
w_u16(struct wire *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 2);
}

/* n bytes of value c (a long label's bytes) */
static void
w_fill(struct wire *w, uint8_t c, size_t n)
{
	assert_true(w->len + n <= sizeof(w->b));
	memset(w->b + w->len, c, n);
	w->len += n;
}

/* The counts of a header (QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT); left out: 0. */
struct counts {
	uint16_t qd, an, ns, ar;
};

/* Header: ID, flags (QR|opcode|AA|TC|RD / RA|Z|AD|CD|rcode), then the four counts. Starts
 * the wire afresh. */
static void
w_header(struct wire *w, uint16_t id, uint16_t flags, struct counts c)
{
	memset(w, 0, sizeof(*w));
	w_u16(w, id);		/* bytes 0-1: ID */
	w_u16(w, flags);	/* bytes 2-3: flags */
	w_u16(w, c.qd);		/* bytes 4-5: QDCOUNT */
	w_u16(w, c.an);		/* bytes 6-7: ANCOUNT */
	w_u16(w, c.ns);		/* bytes 8-9: NSCOUNT */
	w_u16(w, c.ar);		/* bytes 10-11: ARCOUNT */
	w->flags = flags;
}
#define HEADER(w, id, flags, ...) w_header((w), (id), (flags), (struct counts){ __VA_ARGS__ })

/* A name from dotted text, case kept: one length byte per label, then the root (0). "." is
 * the root alone. No escapes: raw label bytes go through w_bytes. */
static void
w_name(struct wire *w, const char *text)
{
	const char *p = text;

	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		assert_true(l > 0 && l <= 63);
		w_u8(w, (uint8_t)l);	/* label length */
		w_bytes(w, p, l);	/* label bytes */
		p += l + (dot ? 1 : 0);
	}
	w_u8(w, 0);			/* root label */
}

/* Mark the bytes from start to here as the first question (for comparison). */
static void
w_mark_question(struct wire *w, size_t start)
{
	if (w->qend == 0) {
		w->qstart = start;
		w->qend = w->len;
	}
}

/* QTYPE, QCLASS after a name written from start: ends a question. */
static void
w_type_class(struct wire *w, size_t start, uint16_t type, uint16_t class)
{
	w_u16(w, type);		/* QTYPE */
	w_u16(w, class);	/* QCLASS */
	w_mark_question(w, start);
}

/* The question: name, QTYPE, QCLASS. */
static void
w_question(struct wire *w, const char *name, uint16_t type, uint16_t class)
{
	size_t start = w->len;

	w_name(w, name);
	w_type_class(w, start, type, class);
}

/* A resource record after its owner: TYPE, CLASS, TTL, RDLENGTH (as given, which may lie),
 * then n bytes of RDATA. */
static void
w_rr_after_owner(struct wire *w, uint16_t type, uint16_t class, uint32_t ttl, uint16_t rdlen,
    const void *rdata, size_t n)
{
	w_u16(w, type);
	w_u16(w, class);
	w_u16(w, (uint16_t)(ttl >> 16));	/* TTL */
	w_u16(w, (uint16_t)ttl);
	w_u16(w, rdlen);			/* RDLENGTH */
	if (n > 0)
		w_bytes(w, rdata, n);
}

/* The fields of an OPT pseudo-record (RFC 6891); left out: 0 (no options). */
struct opt {
	uint16_t size;		/* CLASS: the requestor's UDP payload size */
	uint8_t ext_rcode;	/* TTL byte 0: extended rcode */
	uint8_t version;	/* TTL byte 1: EDNS version */
	uint16_t eflags;	/* TTL bytes 2-3: DO bit, Z */
	const uint8_t *rdata;	/* options: code(2) len(2) data */
	uint16_t rdlen;
};

/* OPT: owner root, TYPE 41, then the fields above. */
static void
w_opt_rr(struct wire *w, struct opt o)
{
	w_u8(w, 0);			/* owner: root */
	w_u16(w, T_OPT);		/* TYPE OPT */
	w_u16(w, o.size);
	w_u8(w, o.ext_rcode);
	w_u8(w, o.version);
	w_u16(w, o.eflags);
	w_u16(w, o.rdlen);		/* RDLENGTH */
	if (o.rdlen > 0)
		w_bytes(w, o.rdata, o.rdlen);
	w->has_opt = 1;
}
#define OPT(w, ...) w_opt_rr((w), (struct opt){ __VA_ARGS__ })

/* A query as most tests send it; left out: 0. */
struct question {
	uint16_t id;
	const char *name;	/* dotted, see w_name */
	uint16_t type;		/* QTYPE; QCLASS is IN */
	uint16_t edns;		/* the OPT's UDP payload size; 0: no OPT */
	uint16_t eflags;	/* the OPT's DO and Z bits */
	uint16_t flags;		/* header flags besides RD (opcode, CD, ...) */
	int no_rd;		/* RD clear (it is set otherwise) */
};

static void
w_query(struct wire *w, const struct question *q)
{
	HEADER(w, q->id, (uint16_t)((q->no_rd ? 0 : F_RD) | q->flags), .qd = 1,
	    .ar = q->edns ? 1 : 0);
	w_question(w, q->name, q->type, C_IN);
	if (q->edns)
		OPT(w, .size = q->edns, .eflags = q->eflags);
}
/* make_query(&w, .id = 1, .name = ALLOWED, .type = T_A, .edns = 1232) */
#define make_query(w, ...) w_query((w), &(struct question){ __VA_ARGS__ })

/* ---- the environment ------------------------------------------------------------- */

static struct policy *pol;
static struct policyset *set;		/* pol global; policy "b" (index 1) adds ONLY_B */
static struct in_addr v4[256];
static struct in6_addr v6[4];

static void
add_rule_flags(const char *pattern, unsigned flags, uint16_t lo, uint16_t hi)
{
	struct portrange pr = { lo, hi };
	char err[256];

	if (policy_add(pol, pattern, &pr, 1, flags, "test", 0, err, sizeof(err)) == -1)
		fail_msg("policy_add %s: %s", pattern, err);
}

static void
add_rule(const char *pattern)
{
	add_rule_flags(pattern, 0, 443, 443);
}

static int
setup(void **state)
{
	size_t i;

	(void)state;
	pol = policy_new();
	assert_non_null(pol);
	add_rule(ALLOWED);
	add_rule("a.b.example.com");
	add_rule("*.wild.example.org");
	add_rule("exact.wild.example.org");
	add_rule("**.deep.example.org");
	add_rule_flags("secret.deep.example.org", RULE_DENY, 1, UINT16_MAX);	/* every port */
	add_rule_flags("*.hidden.deep.example.org", RULE_DENY, 1, UINT16_MAX);
	add_rule_flags("port.deep.example.org", RULE_DENY, 443, 443);	/* some ports only */
	add_rule("Trailing.Example.NET.");	/* normalised to trailing.example.net */
	add_rule_flags("secret.cluster.local", RULE_DENY, 1, UINT16_MAX);	/* in a stub zone */
	add_rule_flags("port.cluster.local", RULE_DENY, 443, 443);
	add_rule("allowed.cluster.local");
	{
		struct portrange pr = { 443, 443 };
		char err[256];

		assert_non_null(set = policyset_new(pol));
		assert_int_equal(policyset_add(set, "b", err, sizeof(err)), 1);
		assert_int_equal(policy_add(policyset_policy(set, 1), ONLY_B, &pr, 1, 0, "test",
		    0, err, sizeof(err)), 0);
		assert_int_equal(policyset_finish(set), 0);
	}
	for (i = 0; i < 256; i++) {		/* 10.0.<i/256>.<i%256>, then 192.0.2.1.. */
		char s[32];

		snprintf(s, sizeof(s), "10.0.%zu.%zu", i / 256, i % 256);
		assert_int_equal(inet_pton(AF_INET, s, &v4[i]), 1);
	}
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &v4[0]), 1);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.2", &v4[1]), 1);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.3", &v4[2]), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &v6[0]), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", &v6[1]), 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	policyset_free(set);
	policy_free(pol);
	return 0;
}

/* The gateway's addresses are v4[0..na) and v6[0..naaaa). */
static struct query_env
env_with(size_t na, size_t naaaa)
{
	struct query_env e;

	memset(&e, 0, sizeof(e));
	e.policies = set;
	e.a = v4;
	e.na = na;
	e.aaaa = v6;
	e.naaaa = naaaa;
	e.ttl = TTL;
	e.negative_ttl = NEG_TTL;
	return e;
}

/* ---- running a query and checking the answer --------------------------------------- */

struct res {
	enum query_result r;
	uint8_t out[OUTCAP];
	size_t len;
	struct query_info info;
	ldns_pkt *pkt;		/* the answer as ldns reads it */
	const struct wire *q;
};

static struct res R;

static void
free_res(void)
{
	if (R.pkt != NULL)
		ldns_pkt_free(R.pkt);
	R.pkt = NULL;
}

static struct res *
run_cap(const struct wire *q, const struct query_env *env, size_t outcap)
{
	ldns_status st;

	free_res();
	memset(R.out, 0xee, sizeof(R.out));
	R.q = q;
	R.r = query_answer(q->b, q->len, env, R.out, outcap, &R.len, &R.info);
	if (R.r == QUERY_DROP) {
		assert_int_equal(R.len, 0);
		return &R;
	}
	assert_int_equal(R.r, QUERY_ANSWER);
	assert_true(R.len >= HDR && R.len <= outcap);
	st = ldns_wire2pkt(&R.pkt, R.out, R.len);
	if (st != LDNS_STATUS_OK)
		fail_msg("ldns cannot parse the answer: %s", ldns_get_errorstr_by_id(st));
	return &R;
}

static struct res *
run(const struct wire *q, const struct query_env *env)
{
	return run_cap(q, env, OUTCAP);
}

/* The query answered in the usual environment: one IPv4 and one IPv6 address, UDP. */
static struct res *
ask(const struct wire *q)
{
	struct query_env env = env_with(1, 1);

	return run(q, &env);
}

static uint16_t
hflags(const struct res *r)
{
	return rd16(r->out + 2);
}

/* The EDNS options of the answer: none, or exactly EDE 15 (Blocked). */
static void
check_ede(const struct res *r, int blocked)
{
	ldns_edns_option_list *ol = ldns_pkt_edns_get_option_list(r->pkt);
	size_t n = ol ? ldns_edns_option_list_get_count(ol) : 0;

	if (!blocked) {
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, 1);
	{
		ldns_edns_option *o = ldns_edns_option_list_get_option(ol, 0);
		uint8_t *d = ldns_edns_get_data(o);

		assert_int_equal(ldns_edns_get_code(o), 15);		/* EDE, RFC 8914 */
		assert_true(ldns_edns_get_size(o) >= 2);
		assert_int_equal(rd16(d), 15);				/* info-code Blocked */
	}
}

/* The single SOA in authority: owner root, class IN, TTL and MINIMUM the negative TTL. */
static void
check_soa(const struct res *r)
{
	ldns_rr_list *auth = ldns_pkt_authority(r->pkt);
	ldns_rr *soa;

	assert_int_equal(ldns_rr_list_rr_count(auth), 1);
	soa = ldns_rr_list_rr(auth, 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_get_class(soa), LDNS_RR_CLASS_IN);
	assert_int_equal(ldns_rr_ttl(soa), NEG_TTL);
	assert_int_equal(ldns_dname_label_count(ldns_rr_owner(soa)), 0);	/* root */
	assert_int_equal(ldns_rr_rd_count(soa), 7);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), NEG_TTL);	/* MINIMUM */
}

/* The DO bit of the query's first OPT (bytes 2-3 of its TTL), 0 without one. */
static int
query_do(const struct wire *q)
{
	size_t i;

	if (!q->has_opt)
		return 0;
	/* find it after the question(s) by its owner (root) and type */
	for (i = HDR; i + 11 <= q->len; i++)
		if (q->b[i] == 0 && rd16(q->b + i + 1) == T_OPT)
			return (rd16(q->b + i + 7) & EDNS_DO) != 0;
	return 0;
}

/* What an answer's header must say; left out: 0 (NOERROR, no TC, no records, no OPT). */
struct want {
	int rcode;		/* 12 bits: BADVERS (16) is 0 in the header, 1 in the OPT */
	int tc;			/* TC set */
	int no_question;	/* QDCOUNT 0: no question copied */
	uint16_t an;		/* ANCOUNT */
	uint16_t ns;		/* NSCOUNT: 1 is the negative answer's SOA (check_soa) */
	int opt;		/* an OPT in additional */
	int ede;		/* that OPT carries EDE 15 (Blocked); otherwise no option */
};

/* What every answer shares: ID, QR AA RA set, RD CD and opcode copied, TC as expected,
 * the question copied byte for byte when there is one, the counts, the rcode (header
 * and extended), an OPT exactly as expected (payload 1232, version 0, DO copied) with
 * EDE or no option, and the SOA when NSCOUNT is 1. */
static void
check_want(const struct res *r, struct want w)
{
	const struct wire *q = r->q;
	uint16_t f = hflags(r), qf = q->flags;
	uint16_t qd = w.no_question ? 0 : 1;

	assert_int_equal(rd16(r->out), rd16(q->b));			/* ID echoed */
	assert_int_equal(ldns_pkt_id(r->pkt), rd16(q->b));
	assert_true(f & F_QR);
	assert_true(ldns_pkt_qr(r->pkt));
	assert_true(f & F_AA);
	assert_true(ldns_pkt_aa(r->pkt));
	assert_true(f & F_RA);
	assert_true(ldns_pkt_ra(r->pkt));
	assert_int_equal(f & F_RD, qf & F_RD);
	assert_int_equal(ldns_pkt_rd(r->pkt), (qf & F_RD) != 0);
	assert_int_equal(f & F_CD, qf & F_CD);
	assert_int_equal(ldns_pkt_cd(r->pkt), (qf & F_CD) != 0);
	assert_int_equal(f & (F_Z | F_AD), 0);				/* never set */
	assert_int_equal((f >> 11) & 0xf, (qf >> 11) & 0xf);		/* opcode */
	assert_int_equal((f & F_TC) != 0, w.tc);
	assert_int_equal(ldns_pkt_tc(r->pkt), w.tc);
	assert_int_equal(f & 0xf, w.rcode & 0xf);			/* header rcode */
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), w.rcode & 0xf);
	assert_int_equal(r->info.rcode, w.rcode);
	/* counts as written on the wire */
	assert_int_equal(rd16(r->out + 4), qd);
	assert_int_equal(rd16(r->out + 6), w.an);
	assert_int_equal(rd16(r->out + 8), w.ns);
	assert_int_equal(rd16(r->out + 10), w.opt ? 1 : 0);
	assert_int_equal(ldns_pkt_qdcount(r->pkt), qd);
	assert_int_equal(ldns_pkt_ancount(r->pkt), w.an);
	assert_int_equal(ldns_pkt_nscount(r->pkt), w.ns);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_additional(r->pkt)), 0);
	if (qd == 1) {
		size_t ql = q->qend - q->qstart;

		assert_true(q->qend > q->qstart);
		assert_true(r->len >= HDR + ql);
		assert_memory_equal(r->out + HDR, q->b + q->qstart, ql);	/* 0x20 kept */
	}
	if (w.opt) {
		int qdo = query_do(q);

		assert_int_equal(ldns_pkt_edns_udp_size(r->pkt), QUERY_EDNS_PAYLOAD);
		assert_int_equal(ldns_pkt_edns_version(r->pkt), 0);
		assert_int_equal(ldns_pkt_edns_extended_rcode(r->pkt), (w.rcode >> 4) & 0xff);
		assert_int_equal(ldns_pkt_edns_do(r->pkt), qdo);
		assert_int_equal(ldns_pkt_edns_z(r->pkt) & ~EDNS_DO, 0);	/* ldns keeps DO in z */
		assert_int_equal(r->info.dnssec_ok, qdo);
	} else {
		assert_int_equal(ldns_pkt_edns_udp_size(r->pkt), 0);
	}
	check_ede(r, w.ede);
	if (w.ns == 1)
		check_soa(r);
}
/* check_answer(r, .rcode = LDNS_RCODE_NOERROR, .an = 1, .opt = 1) */
#define check_answer(r, ...) check_want((r), (struct want){ __VA_ARGS__ })

/* Answer record i: type, owner the question name byte for byte, class IN, TTL, address. */
static void
check_addr_rr(const struct res *r, size_t i, uint16_t type, const void *addr)
{
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(r->pkt), i);
	ldns_rdf *owner, *rd;
	size_t ql = r->q->qend - r->q->qstart - 4;

	assert_non_null(rr);
	assert_int_equal(ldns_rr_get_type(rr), type);
	assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
	assert_int_equal(ldns_rr_ttl(rr), TTL);
	owner = ldns_rr_owner(rr);
	assert_int_equal(ldns_rdf_size(owner), ql);
	assert_memory_equal(ldns_rdf_data(owner), r->q->b + r->q->qstart, ql);
	rd = ldns_rr_rdf(rr, 0);
	assert_int_equal(ldns_rdf_size(rd), type == T_A ? 4 : 16);
	assert_memory_equal(ldns_rdf_data(rd), addr, type == T_A ? 4 : 16);
}

/* What query_info must say; left out: 0/NULL. */
struct want_info {
	enum query_verdict verdict;
	const char *reason;	/* INVALID/DROP's short name; NULL: none */
	const char *rule;	/* the pattern of the rule that matched; NULL: none */
	const char *qname;	/* the question's text; NULL: no question */
	unsigned n4, n6;	/* addresses answered */
	int truncated;
};

/* The info, and when there is a question its QTYPE/QCLASS as sent; the n4 A records are
 * v4[0..n4) in order, then the n6 AAAA records v6[0..n6). */
static void
check_want_info(const struct res *r, struct want_info w)
{
	const struct query_info *i = &r->info;
	size_t k;

	assert_int_equal(i->verdict, w.verdict);
	if (w.reason == NULL)
		assert_null(i->reason);
	else {
		assert_non_null(i->reason);
		assert_string_equal(i->reason, w.reason);
	}
	if (w.rule == NULL)
		assert_null(i->rule);
	else {
		assert_non_null(i->rule);
		assert_string_equal(i->rule->pattern, w.rule);
	}
	if (w.qname == NULL)
		assert_int_equal(i->has_question, 0);
	else {
		assert_int_equal(i->has_question, 1);
		assert_string_equal(i->qname, w.qname);
		assert_int_equal(i->qtype, rd16(r->q->b + r->q->qend - 4));
		assert_int_equal(i->qclass, rd16(r->q->b + r->q->qend - 2));
	}
	assert_int_equal(i->id, rd16(r->q->b));
	assert_int_equal(i->nanswer4, w.n4);
	assert_int_equal(i->nanswer6, w.n6);
	assert_int_equal(i->truncated, w.truncated);
	for (k = 0; k < w.n4; k++)
		check_addr_rr(r, k, T_A, &v4[k]);
	for (k = 0; k < w.n6; k++)
		check_addr_rr(r, w.n4 + k, T_AAAA, &v6[k]);
}
/* check_info(r, .verdict = VERDICT_DENY, .qname = EVIL) */
#define check_info(r, ...) check_want_info((r), (struct want_info){ __VA_ARGS__ })

/* One query of a table and what its answer must be. */
struct step {
	size_t na, naaaa;	/* the gateway's addresses (env_with) */
	int tcp;		/* env.tcp */
	int refused;		/* env.blocked_refused */
	size_t outcap;		/* the caller's buffer; 0: OUTCAP */
	struct question q;
	struct want want;
	struct want_info info;
	size_t len;		/* the answer's exact length; 0: not checked */
	size_t max_len;		/* a bound on it; 0: not checked */
};

/* Each step in turn: the query built, answered and checked, and the EDNS the query
 * carried read back from info. */
static void
run_steps(const struct step *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, s++) {
		struct query_env env = env_with(s->na, s->naaaa);
		struct wire q;
		struct res *r;

		env.tcp = s->tcp;
		env.blocked_refused = s->refused;
		w_query(&q, &s->q);
		r = run_cap(&q, &env, s->outcap ? s->outcap : OUTCAP);
		check_want(r, s->want);
		check_want_info(r, s->info);
		assert_int_equal(r->info.edns, s->q.edns != 0);
		if (s->q.edns)
			assert_int_equal(r->info.edns_size, s->q.edns);
		if (s->len)
			assert_int_equal(r->len, s->len);
		if (s->max_len)
			assert_true(r->len <= s->max_len);
	}
	free_res();
}

/* A test that is a table of steps (struct step_table as the cmocka state). */
struct step_table {
	const struct step *steps;
	size_t n;
};

static void
test_steps(void **state)
{
	const struct step_table *t = *state;

	run_steps(t->steps, t->n);
}
#define STEPS(s)	(&(struct step_table){ (s), NELEM(s) })
#define STEP_TEST(name, s) { name, test_steps, NULL, NULL, STEPS(s) }

/* The info of an answer for the allowed name; .n4/.n6/.truncated follow it. */
#define ALLOWED_INFO	.verdict = VERDICT_ALLOW, .rule = ALLOWED, .qname = ALLOWED
/* The answer to ALLOWED A with n addresses: header 12 + question (21 + 4) + 16 per A
 * record (a pointer owner, type, class, TTL, length, address) + 11 for an OPT without
 * options. */
#define A_ANSWER_LEN(n, opt)	(HDR + 25 + 16 * (n) + ((opt) ? 11 : 0))

/* ---- allowed names ------------------------------------------------------------------ */

/* allowed name, A: NOERROR, one A record per configured address (all of them, in order),
 * TTL `ttl`. */
static const struct step allowed_a[] = {
	{ .na = 1, .naaaa = 1, .q = { .id = 0x1234, .name = ALLOWED, .type = T_A },
	  .want = { .an = 1 }, .info = { ALLOWED_INFO, .n4 = 1 },
	  .len = A_ANSWER_LEN(1, 0) },
	{ .na = 2, .q = { .id = 0x2002, .name = ALLOWED, .type = T_A, .edns = 1232 },
	  .want = { .an = 2, .opt = 1 }, .info = { ALLOWED_INFO, .n4 = 2 } },
	{ .na = 3, .q = { .id = 0x2003, .name = ALLOWED, .type = T_A, .edns = 1232 },
	  .want = { .an = 3, .opt = 1 }, .info = { ALLOWED_INFO, .n4 = 3 } },
};

/* allowed name, AAAA: the IPv6 addresses when there are some ... */
static const struct step allowed_aaaa[] = {
	{ .na = 1, .naaaa = 1, .q = { .id = 0xbeef, .name = ALLOWED, .type = T_AAAA },
	  .want = { .an = 1 }, .info = { ALLOWED_INFO, .n6 = 1 } },
	{ .naaaa = 2, .q = { .id = 0xbef0, .name = ALLOWED, .type = T_AAAA, .edns = 1232 },
	  .want = { .an = 2, .opt = 1 }, .info = { ALLOWED_INFO, .n6 = 2 } },
};

/* ... and NODATA (NOERROR, no answer, SOA in authority) when there are none. Likewise an
 * A query when the gateway has no IPv4 address. Never NXDOMAIN for an allowed name. */
static const struct step allowed_nodata_no_addresses[] = {
	{ .na = 1, .q = { .id = 7, .name = ALLOWED, .type = T_AAAA },
	  .want = { .ns = 1 }, .info = { ALLOWED_INFO } },
	{ .na = 1, .q = { .id = 8, .name = ALLOWED, .type = T_AAAA, .edns = 1232 },
	  .want = { .ns = 1, .opt = 1 }, .info = { ALLOWED_INFO } },
	{ .naaaa = 1, .q = { .id = 9, .name = ALLOWED, .type = T_A },
	  .want = { .ns = 1 }, .info = { ALLOWED_INFO } },
};

/* Step s for each of types[] (IDs s.q.id + i), once without EDNS and once with an OPT of
 * 1232 (the answer then has an OPT, and EDE 15 when ede_blocked). */
static void
run_each_type(struct step s, const uint16_t *types, size_t n, int ede_blocked)
{
	uint16_t id = s.q.id;
	size_t i;

	for (i = 0; i < n; i++) {
		s.q.id = (uint16_t)(id + i);
		s.q.type = types[i];
		s.q.edns = 0;
		s.want.opt = 0;
		s.want.ede = 0;
		run_steps(&s, 1);
		s.q.edns = 1232;
		s.want.opt = 1;
		s.want.ede = ede_blocked;
		run_steps(&s, 1);
	}
}

/* allowed name, any other type: NODATA, nothing forwarded (HTTPS/SVCB included). */
static void
test_allowed_other_types_nodata(void **state)
{
	static const uint16_t types[] = { T_MX, T_TXT, T_HTTPS, T_SVCB, T_SRV, T_CNAME, T_PTR,
		T_NS, T_SOA, T_CAA, 99 /* SPF */, 65280 /* private use */, 0 /* reserved */ };
	const struct step s = { .na = 2, .naaaa = 2, .q = { .id = 0x4000, .name = ALLOWED },
		.want = { .ns = 1 }, .info = { ALLOWED_INFO } };

	(void)state;
	run_each_type(s, types, NELEM(types), 0);
}

/* allowed name, ANY: RFC 8482, the A and AAAA answer; A only without IPv6; NODATA with
 * no address at all. */
static const struct step allowed_any[] = {
	{ .na = 2, .naaaa = 1, .q = { .id = 0x0a0a, .name = ALLOWED, .type = T_ANY, .edns = 1232 },
	  .want = { .an = 3, .opt = 1 }, .info = { ALLOWED_INFO, .n4 = 2, .n6 = 1 } },
	{ .na = 1, .q = { .id = 0x0a0a, .name = ALLOWED, .type = T_ANY, .edns = 1232 },
	  .want = { .an = 1, .opt = 1 }, .info = { ALLOWED_INFO, .n4 = 1 } },
	{ .q = { .id = 0x0a0a, .name = ALLOWED, .type = T_ANY, .edns = 1232 },
	  .want = { .ns = 1, .opt = 1 }, .info = { ALLOWED_INFO } },
};

/* ---- answer pool ---------------------------------------------------------------- */

/* A stand-in pool for query.c's hook (pooled.c is the real one, over pool.c: test_pool):
 * it hands out 10.9.0.(1 + calls), with IPv6 when has6, or nothing when full. */
struct fake_pool {
	int calls, full, has6;
	char last[300];
};

static int
fake_addr(void *ctx, const struct sockaddr *client, const char *name, size_t len,
    struct in_addr *a4, struct in6_addr *a6, int *has6)
{
	struct fake_pool *fp = ctx;

	(void)client;
	fp->calls++;
	snprintf(fp->last, sizeof(fp->last), "%.*s", (int)len, name);
	if (fp->full)
		return 0;
	a4->s_addr = htonl(0x0a090000u + 1 + (uint32_t)fp->calls);
	memset(a6, 0, sizeof(*a6));
	a6->s6_addr[0] = 0xfd;
	a6->s6_addr[15] = (uint8_t)(1 + fp->calls);
	*has6 = fp->has6;
	return 1;
}

/* The first address record of the answer, as text. */
static const char *
first_addr(const struct res *r, char *buf, size_t len)
{
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(r->pkt), 0);
	ldns_rdf *rd = ldns_rr_rdf(rr, 0);

	inet_ntop(ldns_rdf_get_type(rd) == LDNS_RDF_TYPE_A ? AF_INET : AF_INET6,
	    ldns_rdf_data(rd), buf, (socklen_t)len);
	return buf;
}

/* An allowed name gets the pool's address (asked with the lowercase name); AAAA is
 * NODATA without an IPv6 pool; a full pool leaves the gateway's own address; names not
 * allowed and types other than A, AAAA and ANY never reach the pool. */
static void
test_pool_answers(void **state)
{
	struct fake_pool fp = { 0 };
	struct query_pool hook = { fake_addr, &fp, 0 };
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	char buf[64];

	(void)state;
	env.pool = &hook;
	make_query(&q, .id = 1, .name = "AlLoWeD.example.com", .type = T_A);
	r = run(&q, &env);
	check_answer(r, .an = 1);
	assert_string_equal(first_addr(r, buf, sizeof(buf)), "10.9.0.2");
	assert_string_equal(fp.last, ALLOWED);
	assert_true(r->info.pooled);
	make_query(&q, .id = 2, .name = ALLOWED, .type = T_AAAA);
	r = run(&q, &env);
	check_answer(r, .ns = 1);		/* NODATA: no IPv6 pool, and no address taken */
	assert_int_equal(fp.calls, 1);
	fp.has6 = 1;
	hook.v6 = 1;
	r = run(&q, &env);
	check_answer(r, .an = 1);
	assert_string_equal(first_addr(r, buf, sizeof(buf)), "fd00::3");
	make_query(&q, .id = 3, .name = ALLOWED, .type = T_ANY);
	r = run(&q, &env);
	check_answer(r, .an = 2);		/* one A, one AAAA */
	assert_int_equal(r->info.nanswer4, 1);
	assert_int_equal(r->info.nanswer6, 1);
	fp.full = 1;
	make_query(&q, .id = 4, .name = ALLOWED, .type = T_A);
	r = run(&q, &env);
	check_answer(r, .an = 1);
	assert_false(r->info.pooled);
	assert_int_equal(memcmp(ldns_rdf_data(ldns_rr_rdf(ldns_rr_list_rr(
	    ldns_pkt_answer(r->pkt), 0), 0)), &v4[0], 4), 0);	/* the gateway's */
	fp.full = 0;
	fp.calls = 0;
	make_query(&q, .id = 5, .name = "not-allowed.example.com", .type = T_A);
	check_answer(run(&q, &env), .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1);
	make_query(&q, .id = 6, .name = ALLOWED, .type = T_MX);
	check_answer(run(&q, &env), .ns = 1);
	assert_int_equal(fp.calls, 0);
	free_res();
}

/* ---- names not allowed ------------------------------------------------------------ */

/* Any type: NXDOMAIN + SOA; EDE 15 with EDNS, and no OPT at all without. */
static void
test_blocked_nxdomain(void **state)
{
	static const uint16_t types[] = { T_A, T_AAAA, T_MX, T_TXT, T_HTTPS, T_SVCB, T_ANY,
		T_PTR };
	/* a sibling, a parent and an extension of an allowed name are all different names */
	static const char *const names[] = { "example.com", "x.allowed.example.com",
		"allowed.example.com.corp.example" /* search domain */, "allowed.example.co" };
	size_t i;

	(void)state;
	run_each_type((struct step){ .na = 1, .naaaa = 1, .q = { .id = 0x5000, .name = EVIL },
	    .want = { .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1 },
	    .info = { .verdict = VERDICT_DENY, .qname = EVIL } }, types, NELEM(types), 1);
	for (i = 0; i < NELEM(names); i++) {
		const struct step s = { .na = 1, .naaaa = 1,
			.q = { .id = (uint16_t)(1 + i), .name = names[i], .type = T_A },
			.want = { .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1 },
			.info = { .verdict = VERDICT_DENY, .qname = names[i] } };

		run_steps(&s, 1);
	}
}

/* The EDE text, when there is one, is printable ASCII (RFC 8914: UTF-8). */
static void
test_blocked_ede_text(void **state)
{
	ldns_edns_option_list *ol;
	ldns_edns_option *o;
	struct wire q;
	struct res *r;
	size_t i, sz;
	uint8_t *d;

	(void)state;
	make_query(&q, .id = 0x0e0e, .name = EVIL, .type = T_A, .edns = 1232);
	r = ask(&q);
	ol = ldns_pkt_edns_get_option_list(r->pkt);
	assert_non_null(ol);
	o = ldns_edns_option_list_get_option(ol, 0);
	d = ldns_edns_get_data(o);
	sz = ldns_edns_get_size(o);
	for (i = 2; i < sz; i++)
		assert_true(d[i] >= 0x20 && d[i] < 0x7f);
	free_res();
}

/* blocked refused: REFUSED (no SOA), EDE still tells why when the query had EDNS; allowed
 * names are not affected by the mode. */
static const struct step blocked_refused[] = {
	{ .na = 1, .naaaa = 1, .refused = 1, .q = { .id = 0x7777, .name = EVIL, .type = T_A },
	  .want = { .rcode = LDNS_RCODE_REFUSED },
	  .info = { .verdict = VERDICT_DENY, .qname = EVIL } },
	{ .na = 1, .naaaa = 1, .refused = 1,
	  .q = { .id = 0x7778, .name = EVIL, .type = T_AAAA, .edns = 1232 },
	  .want = { .rcode = LDNS_RCODE_REFUSED, .opt = 1, .ede = 1 },
	  .info = { .verdict = VERDICT_DENY, .qname = EVIL } },
	{ .na = 1, .naaaa = 1, .refused = 1, .q = { .id = 0x7779, .name = ALLOWED, .type = T_A },
	  .want = { .an = 1 }, .info = { ALLOWED_INFO, .n4 = 1 } },
	{ .na = 1, .naaaa = 1, .refused = 1, .q = { .id = 0x777a, .name = ALLOWED, .type = T_MX },
	  .want = { .ns = 1 }, .info = { ALLOWED_INFO } },
};

/* ---- refused on form ---------------------------------------------------------------- */

/* Opcodes 1..15: NOTIMP, the opcode and the question echoed. */
static void
test_opcode_notimp(void **state)
{
	struct wire q;
	unsigned op;

	(void)state;
	for (op = 1; op <= 15; op++) {
		const struct step s[2] = {
			{ .na = 1, .naaaa = 1,
			  .q = { .id = (uint16_t)(0x6000 + op), .flags = OPCODE(op), .name = ALLOWED,
			    .type = T_A },
			  .want = { .rcode = LDNS_RCODE_NOTIMPL },
			  .info = { .verdict = VERDICT_INVALID, .reason = "opcode", .qname = ALLOWED } },
			{ .na = 1, .naaaa = 1,
			  .q = { .id = (uint16_t)(0x6000 + op), .flags = OPCODE(op), .name = ALLOWED,
			    .type = T_A, .edns = 1232, .eflags = EDNS_DO },
			  .want = { .rcode = LDNS_RCODE_NOTIMPL, .opt = 1 },
			  .info = { .verdict = VERDICT_INVALID, .reason = "opcode", .qname = ALLOWED } },
		};

		run_steps(s, NELEM(s));
	}
	/* NOTIFY (4) with no question at all: NOTIMP still (the opcode is checked first) */
	HEADER(&q, 0x6100, OPCODE(4));
	check_answer(ask(&q), .rcode = LDNS_RCODE_NOTIMPL, .no_question = 1);
	free_res();
}

/* QDCOUNT 0 or 2: FORMERR, no question in the answer. */
static void
test_qdcount(void **state)
{
	struct wire q;
	struct res *r;

	(void)state;
	HEADER(&q, 0x0100, F_RD);				/* header alone */
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1);
	check_info(r, .verdict = VERDICT_INVALID, .reason = "qdcount");

	HEADER(&q, 0x0101, F_RD, .ar = 1);			/* no question, an OPT */
	OPT(&q, .size = 1232);
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1, .opt = 1);
	check_info(r, .verdict = VERDICT_INVALID, .reason = "qdcount");

	HEADER(&q, 0x0102, F_RD, .qd = 2);			/* two questions */
	w_question(&q, ALLOWED, T_A, C_IN);
	w_question(&q, ALLOWED, T_AAAA, C_IN);
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1);
	check_info(r, .verdict = VERDICT_INVALID, .reason = "qdcount",
	    .qname = ALLOWED);			/* the first question is audited */

	HEADER(&q, 0x0103, F_RD, .qd = 2);			/* QDCOUNT 2, one question sent */
	w_question(&q, ALLOWED, T_A, C_IN);
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	free_res();
}

/* n labels of 63 bytes c (a long name's body, without the root) */
static void
w_long_labels(struct wire *q, size_t n, uint8_t c)
{
	size_t i;

	for (i = 0; i < n; i++) {
		w_u8(q, 63);
		w_fill(q, c, 63);
	}
}

/* An unparseable question: FORMERR with the ID echoed and no question copied. */
static void
test_bad_question(void **state)
{
	struct wire q;
	int c;

	(void)state;
	for (c = 0; c < 9; c++) {
		struct res *r;

		HEADER(&q, (uint16_t)(0xf000 + c), F_RD, .qd = 1);
		switch (c) {
		case 0:	/* truncated name: "\007exam" and the packet ends */
			w_bytes(&q, "\007exam", 5);
			break;
		case 1:	/* label length 63 with 2 bytes left */
			w_bytes(&q, "\077ab", 3);
			break;
		case 2:	/* compression pointer in the question: 0xc00c (to itself) + type/class */
			w_bytes(&q, "\300\014\000\001\000\001", 6);
			break;
		case 3:	/* "\003www" then a pointer to offset 12 */
			w_bytes(&q, "\003www\300\014\000\001\000\001", 10);
			break;
		case 4:	/* 0x40 extended label type (RFC 6891 deprecated) */
			w_bytes(&q, "\101abc\000\000\001\000\001", 9);
			break;
		case 5:	/* 0x80 label type (reserved) */
			w_bytes(&q, "\201a\000\000\001\000\001", 7);
			break;
		case 6:	/* name over 255 bytes: four 63-byte labels + root = 257 */
			w_long_labels(&q, 4, 'a');
			w_u8(&q, 0);
			w_type_class(&q, HDR, T_A, C_IN);
			break;
		case 7:	/* name complete, QTYPE/QCLASS cut: only 3 of 4 bytes */
			w_name(&q, ALLOWED);
			w_bytes(&q, "\000\001\000", 3);
			break;
		case 8:	/* name with no root label: ends after a full label */
			w_bytes(&q, "\007example", 8);
			break;
		}
		r = ask(&q);
		check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1);
		check_info(r, .verdict = VERDICT_INVALID, .reason = "malformed-question");
		assert_int_equal(r->info.id, 0xf000 + c);
	}
	free_res();
}

/* The longest legal name (255 bytes on the wire) is a question like any other. */
static void
test_name_255(void **state)
{
	struct wire q;
	struct res *r;

	(void)state;
	HEADER(&q, 0x0255, F_RD, .qd = 1);
	w_long_labels(&q, 3, 'a');	/* 3 * (1 + 63) = 192 */
	w_u8(&q, 61);			/* + 62 = 254 */
	w_fill(&q, 'b', 61);
	w_u8(&q, 0);			/* + root = 255 */
	w_type_class(&q, HDR, T_A, C_IN);
	assert_int_equal(q.qend - q.qstart - 4, 255);
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	assert_int_equal(strlen(r->info.qname), 253);
	free_res();
}

/* Class other than IN: REFUSED. */
static void
test_class_refused(void **state)
{
	static const uint16_t classes[] = { C_CH, C_HS, C_NONE, C_ANY, 2, 0 };
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(classes); i++) {
		struct res *r;

		HEADER(&q, (uint16_t)(0x0c00 + i), F_RD, .qd = 1);
		w_question(&q, ALLOWED, T_A, classes[i]);
		r = ask(&q);
		check_answer(r, .rcode = LDNS_RCODE_REFUSED);
		check_info(r, .verdict = VERDICT_INVALID, .reason = "class", .qname = ALLOWED);
		assert_int_equal(r->info.qclass, classes[i]);
	}
	/* version.bind CH TXT: the classic probe */
	HEADER(&q, 0x0cff, 0, .qd = 1);
	w_question(&q, "version.bind", T_TXT, C_CH);
	check_answer(ask(&q), .rcode = LDNS_RCODE_REFUSED);
	free_res();
}

/* AXFR / IXFR: REFUSED, whatever the name. */
static const struct step zone_transfer_refused[] = {
	{ .na = 1, .naaaa = 1, .q = { .id = 0xaf01, .name = ALLOWED, .type = T_AXFR },
	  .want = { .rcode = LDNS_RCODE_REFUSED },
	  .info = { .verdict = VERDICT_INVALID, .reason = "zone-transfer", .qname = ALLOWED } },
	{ .na = 1, .naaaa = 1, .q = { .id = 0xaf02, .name = EVIL, .type = T_IXFR, .edns = 1232 },
	  .want = { .rcode = LDNS_RCODE_REFUSED, .opt = 1 },
	  .info = { .verdict = VERDICT_INVALID, .reason = "zone-transfer", .qname = EVIL } },
};

/* EDNS version 1: BADVERS (16): extended rcode 1 in the OPT TTL, 0 in the header. */
static void
test_badvers(void **state)
{
	struct wire q;
	struct res *r;

	(void)state;
	HEADER(&q, 0xbad1, F_RD | F_CD, .qd = 1, .ar = 1);
	w_question(&q, ALLOWED, T_A, C_IN);
	OPT(&q, .size = 4096, .version = 1, .eflags = EDNS_DO);
	r = ask(&q);
	check_answer(r, .rcode = QUERY_RCODE_BADVERS, .opt = 1);
	assert_int_equal(hflags(r) & 0xf, 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(r->pkt), 1);
	check_info(r, .verdict = VERDICT_INVALID, .reason = "edns-version", .qname = ALLOWED);
	assert_int_equal(r->info.rcode, 16);

	/* version 255, for a name not allowed: BADVERS too (the form is judged first) */
	HEADER(&q, 0xbad2, 0, .qd = 1, .ar = 1);
	w_question(&q, EVIL, T_A, C_IN);
	OPT(&q, .size = 1232, .version = 255);
	r = ask(&q);
	check_answer(r, .rcode = QUERY_RCODE_BADVERS, .opt = 1);
	free_res();
}

/* More than one OPT, TC in a query, ANCOUNT or NSCOUNT, OPT with a non-root owner,
 * QTYPE OPT, a record running past the end: FORMERR, with the reason named. */
static void
test_formerr_forms(void **state)
{
	static const struct {
		uint16_t flags;		/* header flags besides RD */
		struct counts c;	/* QDCOUNT is 1 */
		uint16_t qtype;		/* 0: A */
		int opt;		/* the answer has an OPT */
		const char *reason;
	} cases[] = {
		{ .c = { .ar = 2 }, .opt = 1, .reason = "several-opt" },
		{ .flags = F_TC, .reason = "tc-set" },
		{ .c = { .an = 1 }, .reason = "ancount" },
		{ .c = { .ns = 1 }, .reason = "nscount" },
		{ .c = { .an = 1 }, .reason = "ancount" },
		{ .c = { .ar = 1 }, .opt = 1, .reason = "opt-owner" },
		{ .c = { .ar = 1 }, .opt = 1, .reason = "opt-owner" },
		{ .qtype = T_OPT, .reason = "qtype-opt" },
		{ .c = { .ar = 1 }, .reason = "malformed-record" },
		{ .c = { .ar = 1 }, .reason = "malformed-record" },
	};
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct counts c = cases[i].c;
		struct res *r;

		c.qd = 1;
		w_header(&q, (uint16_t)(0xf001 + i), (uint16_t)(F_RD | cases[i].flags), c);
		w_question(&q, ALLOWED, cases[i].qtype ? cases[i].qtype : T_A, C_IN);
		switch (i) {
		case 0:	/* two OPT records */
			OPT(&q, .size = 1232);
			OPT(&q, .size = 1232);
			break;
		case 1:	/* TC=1 in a query */
			break;
		case 2:	/* ANCOUNT 1 with a real answer record: owner pointer to the question */
			w_bytes(&q, "\300\014", 2);
			w_rr_after_owner(&q, T_A, C_IN, 60, 4, "\001\002\003\004", 4);	/* 1.2.3.4 */
			break;
		case 3:	/* NSCOUNT 1 with an NS record in authority: owner root */
			w_u8(&q, 0);
			w_rr_after_owner(&q, T_NS, C_IN, 60, 2, "\300\014", 2);	/* NSDNAME: pointer */
			break;
		case 4:	/* ANCOUNT 1 with no record sent */
			break;
		case 5:	/* OPT with a non-root owner ("\001x") */
			w_bytes(&q, "\001x\000", 3);
			w_rr_after_owner(&q, T_OPT, 1232, 0, 0, NULL, 0);
			break;
		case 6:	/* OPT owner as a pointer to the question name: not root either */
			w_bytes(&q, "\300\014", 2);
			w_rr_after_owner(&q, T_OPT, 1232, 0, 0, NULL, 0);
			break;
		case 7:	/* QTYPE OPT (41) in the question */
			break;
		case 8:	/* OPT whose RDLENGTH (8) runs past the end (2 bytes): no OPT trusted */
			w_u8(&q, 0);
			w_rr_after_owner(&q, T_OPT, 1232, 0, 8, "\000\012", 2);
			break;
		case 9:	/* ARCOUNT 1 and nothing there */
			break;
		}
		r = ask(&q);
		check_answer(r, .rcode = LDNS_RCODE_FORMERR, .opt = cases[i].opt);
		check_info(r, .verdict = VERDICT_INVALID, .reason = cases[i].reason, .qname = ALLOWED);
		if (i == 8)
			assert_int_equal(r->info.edns, 0);
	}
	free_res();
}

/* Names in the other sections are walked with the same limits: extended label types and
 * names over 255 bytes make the query malformed; a compression pointer is fine. */
static void
test_record_names(void **state)
{
	struct wire q;
	struct res *r;
	int c;

	(void)state;
	for (c = 0; c < 4; c++) {
		HEADER(&q, (uint16_t)(0x5a00 + c), F_RD, .qd = 1, .ar = 2);
		w_question(&q, ALLOWED, T_A, C_IN);
		switch (c) {
		case 0:	/* owner with a 0x40 label */
			w_bytes(&q, "\101x\000", 3);
			break;
		case 1:	/* owner with a 0x80 label */
			w_bytes(&q, "\201x\000", 3);
			break;
		case 2:	/* owner of 4 * 64 + 1 = 257 bytes */
			w_long_labels(&q, 4, 'o');
			w_u8(&q, 0);
			break;
		case 3:	/* owner "\001x" + pointer to the question name: well-formed */
			w_bytes(&q, "\001x\300\014", 4);
			break;
		}
		w_rr_after_owner(&q, T_TXT, C_IN, 0, 2, "\001z", 2);	/* a TXT in additional */
		OPT(&q, .size = 1232);
		r = ask(&q);
		if (c < 3) {
			q.has_opt = 0;
			check_answer(r, .rcode = LDNS_RCODE_FORMERR);
			check_info(r, .verdict = VERDICT_INVALID, .reason = "malformed-record",
			    .qname = ALLOWED);
		} else {
			check_answer(r, .an = 1, .opt = 1);
			check_info(r, ALLOWED_INFO, .n4 = 1);
		}
	}
	free_res();
}

/* More addresses than ANCOUNT can count (65536): not an answer even over TCP, so TC. */
static void
test_too_many_addresses(void **state)
{
	struct query_env env = env_with(0, 0);
	struct in_addr *many = calloc(65536, sizeof(*many));
	struct wire q;
	struct res *r;

	(void)state;
	assert_non_null(many);
	env.a = many;
	env.na = 65536;
	env.tcp = 1;
	make_query(&q, .id = 0xffff, .name = ALLOWED, .type = T_A);
	r = run(&q, &env);
	check_answer(r, .tc = 1);
	check_info(r, ALLOWED_INFO, .truncated = 1);
	free_res();
	free(many);
}

/* A TSIG-like extra record in additional (not OPT) is tolerated: the query is answered. */
static void
test_other_additional_ok(void **state)
{
	struct wire q;
	struct res *r;

	(void)state;
	HEADER(&q, 0xadd1, F_RD, .qd = 1, .ar = 2);
	w_question(&q, ALLOWED, T_A, C_IN);
	w_bytes(&q, "\300\014", 2);		/* owner: the question name */
	w_rr_after_owner(&q, T_TXT, C_IN, 0, 2, "\001z", 2);	/* one character-string "z" */
	OPT(&q, .size = 1232);
	r = ask(&q);
	check_answer(r, .an = 1, .opt = 1);
	check_info(r, ALLOWED_INFO, .n4 = 1);
	free_res();
}

/* QR=1 and anything under 12 bytes: dropped, nothing written. */
static void
test_dropped(void **state)
{
	struct wire q;
	struct res *r;
	size_t n;

	(void)state;
	HEADER(&q, 0xd001, F_QR | F_AA | F_RD | F_RA, .qd = 1, .an = 1);
	w_question(&q, ALLOWED, T_A, C_IN);
	r = ask(&q);
	assert_int_equal(r->r, QUERY_DROP);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->info.verdict, VERDICT_DROP);
	assert_string_equal(r->info.reason, "response");
	assert_int_equal(r->info.id, 0xd001);

	/* QR=1 on a header alone, and on garbage */
	HEADER(&q, 0xd002, F_QR);
	r = ask(&q);
	assert_int_equal(r->r, QUERY_DROP);
	HEADER(&q, 0xd003, 0xffff, .qd = 0xffff, .an = 0xffff, .ns = 0xffff, .ar = 0xffff);
	r = ask(&q);
	assert_int_equal(r->r, QUERY_DROP);

	make_query(&q, .id = 0xd004, .name = ALLOWED, .type = T_A);
	for (n = 0; n < HDR; n++) {
		struct wire s = q;

		s.len = n;
		r = ask(&s);
		assert_int_equal(r->r, QUERY_DROP);
		assert_int_equal(r->len, 0);
		assert_int_equal(r->info.verdict, VERDICT_DROP);
		assert_string_equal(r->info.reason, "short");
	}
	/* exactly a header: answered (FORMERR, qdcount 0... here QDCOUNT says 1) */
	q.len = HDR;
	r = ask(&q);
	assert_int_equal(r->r, QUERY_ANSWER);
	check_answer(r, .rcode = LDNS_RCODE_FORMERR, .no_question = 1);
	free_res();
}

/* Unknown EDNS options and flags in the query are not echoed; DO is. */
static void
test_edns_options_not_echoed(void **state)
{
	/* cookie (10): 8-byte client cookie; NSID (3) empty; ECS (8) 1.2.3.0/24; padding (12);
	 * an unassigned option 65001 with 3 bytes */
	static const uint8_t opts[] = {
		0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		0x00, 0x03, 0x00, 0x00,
		0x00, 0x08, 0x00, 0x07, 0x00, 0x01, 24, 0, 1, 2, 3,
		0x00, 0x0c, 0x00, 0x04, 0, 0, 0, 0,
		0xfd, 0xe9, 0x00, 0x03, 'x', 'y', 'z',
	};
	struct wire q;
	struct res *r;

	(void)state;
	HEADER(&q, 0xed01, F_RD | F_CD, .qd = 1, .ar = 1);
	w_question(&q, ALLOWED, T_A, C_IN);
	OPT(&q, .size = 4096, .eflags = EDNS_DO | 0x1234 /* Z bits */, .rdata = opts,
	    .rdlen = sizeof(opts));
	r = ask(&q);
	check_answer(r, .an = 1, .opt = 1);
	assert_true(ldns_pkt_edns_do(r->pkt));
	assert_int_equal(r->info.dnssec_ok, 1);
	assert_int_equal(r->info.edns_size, 4096);
	/* the OPT is the last 11 bytes: root, 41, 1232, TTL 0x00008000, RDLEN 0 */
	assert_memory_equal(r->out + r->len - 11,
	    "\000\000\051\004\320\000\000\200\000\000\000", 11);

	HEADER(&q, 0xed02, 0, .qd = 1, .ar = 1);
	w_question(&q, EVIL, T_A, C_IN);
	OPT(&q, .size = 4096, .eflags = 0x7fff /* everything but DO */, .rdata = opts,
	    .rdlen = sizeof(opts));
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1, .opt = 1,
	    .ede = 1);					/* only EDE, none of the query's */
	assert_false(ldns_pkt_edns_do(r->pkt));
	free_res();
}

/* RD and CD copied both ways; Z and AD of a query are not. */
static void
test_header_bits(void **state)
{
	static const uint16_t fl[] = { 0, F_RD, F_CD, F_RD | F_CD, F_AD | F_Z, F_RD | F_AD | F_CD |
		F_Z | F_RA | F_AA | 0x000f /* an rcode in a query */ };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(fl); i++) {
		const struct step s = { .na = 1, .naaaa = 1,
			.q = { .id = (uint16_t)(0x4b00 + i), .no_rd = 1, .flags = fl[i],
			    .name = ALLOWED, .type = T_A },
			.want = { .an = 1 }, .info = { ALLOWED_INFO, .n4 = 1 } };

		run_steps(&s, 1);
	}
}

/* ---- sizes -------------------------------------------------------------------------- */

/* A UDP limit for ALLOWED A with an OPT of payload edns (0: none): `fit` addresses make a
 * complete answer of exactly A_ANSWER_LEN, one more makes TC with the question (and the
 * OPT) only. */
struct udp_limit {
	uint16_t id, edns;
	size_t fit;
};

/* Without EDNS, 512 is the most: 29 records fit (501), 30 do not (517). EDNS with a
 * payload under 512 means 512 (RFC 6891): exactly 512 fits, 528 does not. */
static const struct udp_limit udp_512 = { .id = 0x0512, .edns = 0, .fit = 29 };
static const struct udp_limit udp_512_edns_100 = { .id = 0x0513, .edns = 100, .fit = 29 };
_Static_assert(A_ANSWER_LEN(29, 1) == 512, "29 records and an OPT are 512 bytes");
/* EDNS 4096: capped at 1232 (74 records = exactly 1232 fit, 75 = 1248 do not); 65535
 * offered: still 1232. */
static const struct udp_limit udp_1232 = { .id = 0x1232, .edns = 4096, .fit = 74 };
static const struct udp_limit udp_1232_edns_65535 = { .id = 0x1233, .edns = 65535, .fit = 74 };
_Static_assert(A_ANSWER_LEN(74, 1) == 1232, "74 records and an OPT are 1232 bytes");
/* EDNS 600: 600 (34 records = 592 fit, 35 = 608 do not). */
static const struct udp_limit udp_600 = { .id = 0x0600, .edns = 600, .fit = 34 };

static void
test_udp_limit(void **state)
{
	const struct udp_limit *l = *state;
	const struct step s[2] = {
		{ .na = l->fit, .q = { .id = l->id, .name = ALLOWED, .type = T_A, .edns = l->edns },
		  .want = { .an = (uint16_t)l->fit, .opt = l->edns != 0 },
		  .info = { ALLOWED_INFO, .n4 = (unsigned)l->fit },
		  .len = A_ANSWER_LEN(l->fit, l->edns != 0) },
		{ .na = l->fit + 1, .q = { .id = l->id, .name = ALLOWED, .type = T_A, .edns = l->edns },
		  .want = { .tc = 1, .opt = l->edns != 0 }, .info = { ALLOWED_INFO, .truncated = 1 },
		  .len = A_ANSWER_LEN(0, l->edns != 0) },
	};

	run_steps(s, NELEM(s));
}
#define UDP_LIMIT_TEST(l) { "test_" #l, test_udp_limit, NULL, NULL, (void *)&(l) }

/* An answer that cannot fit (200 addresses): TC=1 with the question (+OPT), no records;
 * over TCP the same query gets everything, bounded by the caller's buffer only. */
static const struct step truncation_and_tcp[] = {
	{ .na = 200, .q = { .id = 0x7c01, .name = ALLOWED, .type = T_A, .edns = 1232 },
	  .want = { .tc = 1, .opt = 1 }, .info = { ALLOWED_INFO, .truncated = 1 } },
	{ .na = 200, .q = { .id = 0x7c02, .name = ALLOWED, .type = T_A },
	  .want = { .tc = 1 }, .info = { ALLOWED_INFO, .truncated = 1 },
	  .len = A_ANSWER_LEN(0, 0) },
	/* ANY with 200 + 2: TC too */
	{ .na = 200, .naaaa = 2, .q = { .id = 0x7c03, .name = ALLOWED, .type = T_ANY, .edns = 1232 },
	  .want = { .tc = 1, .opt = 1 }, .info = { ALLOWED_INFO, .truncated = 1 } },
	{ .na = 200, .tcp = 1, .q = { .id = 0x7c04, .name = ALLOWED, .type = T_A, .edns = 1232 },
	  .want = { .an = 200, .opt = 1 }, .info = { ALLOWED_INFO, .n4 = 200 },
	  .len = A_ANSWER_LEN(200, 1) },
	/* TCP, no EDNS: no limit */
	{ .na = 200, .tcp = 1, .q = { .id = 0x7c05, .name = ALLOWED, .type = T_A },
	  .want = { .an = 200 }, .info = { ALLOWED_INFO, .n4 = 200 } },
	/* TCP is bounded by the caller's buffer: 1024 holds 61 records, not 200 */
	{ .na = 200, .tcp = 1, .outcap = 1024, .q = { .id = 0x7c05, .name = ALLOWED, .type = T_A },
	  .want = { .tc = 1 }, .info = { ALLOWED_INFO, .truncated = 1 }, .max_len = 1024 },
};

/* outcap under 512 is a caller error: nothing is written. */
static void
test_small_outcap(void **state)
{
	struct query_env env = env_with(1, 1);
	struct query_info info;
	uint8_t out[511];
	size_t outlen = 99;
	struct wire q;

	(void)state;
	make_query(&q, .id = 1, .name = ALLOWED, .type = T_A);
	assert_int_equal(query_answer(q.b, q.len, &env, out, sizeof(out), &outlen, &info),
	    QUERY_DROP);
	assert_int_equal(outlen, 0);
}

/* ---- names -------------------------------------------------------------------------- */

/* "*.wild.example.org" covers one label below, "**.deep.example.org" any depth; neither
 * the apex; an exact rule wins. */
static void
test_wildcard_and_exact(void **state)
{
	static const struct {
		const char *name, *rule;
	} cases[] = {
		{ "a.wild.example.org", "*.wild.example.org" },
		{ "a.b.c.wild.example.org", NULL },
		{ "exact.wild.example.org", "exact.wild.example.org" },
		{ "x.exact.wild.example.org", NULL },
		{ "a.deep.example.org", "**.deep.example.org" },
		{ "a.b.c.deep.example.org", "**.deep.example.org" },
		{ "deep.example.org", NULL },
		{ "wild.example.org", NULL },
		{ "example.org", NULL },
		{ "awild.example.org", NULL },
		{ "a.wild.example.org.evil", NULL },
		{ ALLOWED, ALLOWED },
		{ "a.b.example.com", "a.b.example.com" },
		{ "trailing.example.net", "trailing.example.net" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct step s = { .na = 1,
			.q = { .id = (uint16_t)i, .name = cases[i].name, .type = T_A },
			.want = { .an = 1 },
			.info = { .verdict = VERDICT_ALLOW, .rule = cases[i].rule,
			    .qname = cases[i].name, .n4 = 1 } };

		if (cases[i].rule == NULL) {
			s.want = (struct want){ .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1 };
			s.info = (struct want_info){ .verdict = VERDICT_DENY, .qname = cases[i].name };
		}
		run_steps(&s, 1);
	}
}

/* A deny rule for every port refuses the name over the allow rule that matches it, with
 * reason "denied" and the deny rule (NXDOMAIN, or REFUSED with `blocked refused`); a deny
 * for some ports leaves the name answered (DNS carries no port). */
static void
test_deny_rules(void **state)
{
	static const struct {
		const char *name, *rule;
		int denied;
	} cases[] = {
		{ "secret.deep.example.org", "secret.deep.example.org", 1 },
		{ "x.hidden.deep.example.org", "*.hidden.deep.example.org", 1 },
		{ "a.x.hidden.deep.example.org", "**.deep.example.org", 0 },	/* *. : one label */
		{ "hidden.deep.example.org", "**.deep.example.org", 0 },	/* not the apex */
		{ "a.secret.deep.example.org", "**.deep.example.org", 0 },	/* exact: not below */
		{ "port.deep.example.org", "**.deep.example.org", 0 },
	};
	size_t i;
	int refused;

	(void)state;
	for (refused = 0; refused <= 1; refused++) {
		for (i = 0; i < NELEM(cases); i++) {
			struct step s = { .na = 1, .refused = refused,
				.q = { .id = (uint16_t)i, .name = cases[i].name, .type = T_A },
				.want = { .an = 1 },
				.info = { .verdict = VERDICT_ALLOW, .rule = cases[i].rule,
				    .qname = cases[i].name, .n4 = 1 } };

			if (cases[i].denied) {
				s.want = refused ? (struct want){ .rcode = LDNS_RCODE_REFUSED } :
				    (struct want){ .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1 };
				s.info = (struct want_info){ .verdict = VERDICT_DENY,
				    .reason = "denied", .rule = cases[i].rule, .qname = cases[i].name };
			}
			run_steps(&s, 1);
		}
	}
}

/* 0x20 mixed case: matched case-insensitively, copied and audited as sent; a rule written
 * with capitals and a trailing dot matches. */
static void
test_case_and_trailing_dot(void **state)
{
	static const char *const names[] = { "AlLoWeD.ExAmPlE.CoM", "ALLOWED.EXAMPLE.COM",
		"tRaIlInG.eXaMpLe.NeT", "A.WILD.EXAMPLE.ORG" };
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		struct res *r;

		make_query(&q, .id = (uint16_t)(0xca5e + i), .name = names[i], .type = T_A,
		    .edns = 1232);
		r = ask(&q);
		check_answer(r, .an = 1, .opt = 1);		/* question bytes equal */
		check_addr_rr(r, 0, T_A, &v4[0]);		/* owner bytes equal */
		assert_int_equal(r->info.verdict, VERDICT_ALLOW);
		assert_string_equal(r->info.qname, names[i]);	/* case kept */
	}
	free_res();
}

/* A question whose name is n raw wire bytes (labels and root), type A, class IN. */
static void
w_raw_question(struct wire *q, uint16_t id, const void *name, size_t n)
{
	HEADER(q, id, F_RD, .qd = 1);
	w_bytes(q, name, n);
	w_type_class(q, HDR, T_A, C_IN);
}

/* Bytes no host name holds ('.', NUL, '"', '\', blanks, controls, 8-bit) are denied even
 * when the text would read as an allowed name, and the audit text escapes them. */
static void
test_special_bytes(void **state)
{
	static const struct {
		const char *wire;	/* the name on the wire */
		size_t len;
		const char *text;	/* info.qname */
	} cases[] = {
		/* one label "allowed.example.com" (0x13 bytes) + root */
		{ "\023allowed.example.com\000", 21, "allowed\\.example\\.com" },
		/* "a.b" label + example + com: reads as the allowed a.b.example.com */
		{ "\003a.b\007example\003com\000", 17, "a\\.b.example.com" },
		/* a NUL after "com": "allowed.example.com\000" + "evil" */
		{ "\007allowed\007example\004com\000\004evil\000", 27,
		  "allowed.example.com\\000.evil" },
		/* NUL inside the first label */
		{ "\003a\000b\007example\003com\000", 17, "a\\000b.example.com" },
		/* quote, backslash, space, newline, DEL, 0xff, ';', '(', ')', '$', '@' */
		{ "\013\"\\ \n\177\377;()$@\003com\000", 17,
		  "\\\"\\\\\\032\\010\\127\\255\\059\\040\\041\\036\\064.com" },
		/* printable punctuation kept as is: '*', '!', '~', '/' */
		{ "\004*!~/\003com\000", 10, "*!~/.com" },
		/* an 8-bit (UTF-8) label: "é" */
		{ "\002\303\251\003com\000", 8, "\\195\\169.com" },
	};
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct res *r;

		w_raw_question(&q, (uint16_t)(0x5b00 + i), cases[i].wire, cases[i].len);
		r = ask(&q);
		check_answer(r, .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1);
		check_info(r, .verdict = VERDICT_DENY, .qname = cases[i].text);
	}
	free_res();
}

/* The root name: a well-formed question, denied; audited as ".". */
static const struct step root_name[] = {
	{ .na = 1, .naaaa = 1, .q = { .id = 0x2007, .name = ".", .type = T_SOA },
	  .want = { .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1 },
	  .info = { .verdict = VERDICT_DENY, .qname = "." } },
	/* a priming query */
	{ .na = 1, .naaaa = 1, .q = { .id = 0x2008, .name = ".", .type = T_NS, .edns = 1232 },
	  .want = { .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1, .opt = 1, .ede = 1 },
	  .info = { .verdict = VERDICT_DENY, .qname = "." } },
};

/* The longest text: 127 one-byte labels of 0xff escape to 4 characters each ("\255"). */
static void
test_qname_text_longest(void **state)
{
	uint8_t name[255];
	struct wire q;
	struct res *r;
	size_t i;

	(void)state;
	for (i = 0; i < 127; i++) {		/* 127 * 2 + root = 255 bytes */
		name[2 * i] = 1;
		name[2 * i + 1] = 0xff;
	}
	name[254] = 0;
	w_raw_question(&q, 0x1041, name, sizeof(name));
	r = ask(&q);
	check_answer(r, .rcode = LDNS_RCODE_NXDOMAIN, .ns = 1);
	assert_int_equal(strlen(r->info.qname), 127 * 4 + 126);
	assert_true(strlen(r->info.qname) < QUERY_NAME_TEXT);
	free_res();
}

/* ---- names of things for the audit line ---------------------------------------------- */

static void
test_names(void **state)
{
	char b[16];

	(void)state;
	assert_string_equal(query_type_name(1, b, sizeof(b)), "A");
	assert_string_equal(query_type_name(28, b, sizeof(b)), "AAAA");
	assert_string_equal(query_type_name(65, b, sizeof(b)), "HTTPS");
	assert_string_equal(query_type_name(64, b, sizeof(b)), "SVCB");
	assert_string_equal(query_type_name(255, b, sizeof(b)), "ANY");
	assert_string_equal(query_type_name(252, b, sizeof(b)), "AXFR");
	assert_string_equal(query_type_name(251, b, sizeof(b)), "IXFR");
	assert_string_equal(query_type_name(65280, b, sizeof(b)), "TYPE65280");
	assert_string_equal(query_rcode_name(0, b, sizeof(b)), "NOERROR");
	assert_string_equal(query_rcode_name(1, b, sizeof(b)), "FORMERR");
	assert_string_equal(query_rcode_name(3, b, sizeof(b)), "NXDOMAIN");
	assert_string_equal(query_rcode_name(4, b, sizeof(b)), "NOTIMP");
	assert_string_equal(query_rcode_name(5, b, sizeof(b)), "REFUSED");
	assert_string_equal(query_rcode_name(16, b, sizeof(b)), "BADVERS");
	assert_string_equal(query_rcode_name(23, b, sizeof(b)), "RCODE23");
	assert_string_equal(query_verdict_name(VERDICT_ALLOW), "allow");
	assert_string_equal(query_verdict_name(VERDICT_DENY), "deny");
	assert_string_equal(query_verdict_name(VERDICT_INVALID), "invalid");
	assert_string_equal(query_verdict_name(VERDICT_DROP), "drop");
}

/* Exfiltration signs read from the wire name, whatever the verdict. */
static void
test_name_flags(void **state)
{
	static const struct {
		const char *wire;	/* length-prefixed labels, NUL-terminated */
		unsigned flags;
	} cases[] = {
		{ "\003www\007example\003com", 0 },
		/* a 20-byte English-looking label stays low in entropy */
		{ "\024aaaabbbbccccddddeeee\007example", 0 },
		/* base32 of random bytes: high entropy */
		{ "\032mfrggzdfmztwq2lknnwg23tpob\004evil\007example", QFLAG_HIGH_ENTROPY },
		/* 40 bytes: long (and of low entropy) */
		{ "\050aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\007example", QFLAG_LONG_LABEL },
		/* 8 labels */
		{ "\001a\001b\001c\001d\001e\001f\001g\001h", QFLAG_MANY_LABELS },
		/* 7 labels */
		{ "\001a\001b\001c\001d\001e\001f\001g", 0 },
	};
	uint8_t wire[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t l = strlen(cases[i].wire);

		memcpy(wire, cases[i].wire, l + 1);	/* + the root label */
		if (query_name_flags(wire) != cases[i].flags)
			fail_msg("case %zu: flags 0x%x, want 0x%x", i, query_name_flags(wire),
			    cases[i].flags);
	}
	/* 100 bytes on the wire: long name (5 labels of 19 + lengths + root = 101) */
	memset(wire, 0, sizeof(wire));
	for (i = 0; i < 5; i++) {
		wire[i * 20] = 19;
		memset(wire + i * 20 + 1, 'a', 19);
	}
	assert_int_equal(query_name_flags(wire), QFLAG_LONG_NAME);
	{
		const char *names[4];

		assert_int_equal(query_flag_names(QFLAG_LONG_LABEL | QFLAG_HIGH_ENTROPY, names), 2);
		assert_string_equal(names[0], "long-label");
		assert_string_equal(names[1], "high-entropy");
	}
}

/* A name only policy b allows: answered for b, refused for the default; the global
 * rules answer for both. */
static void
test_per_policy(void **state)
{
	struct wire w;
	struct query_env e = env_with(1, 1);
	struct res *r;

	(void)state;
	make_query(&w, .id = 0x7001, .name = ONLY_B, .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NXDOMAIN);
	e.policy = 1;
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_ALLOW);
	assert_string_equal(r->info.rule->pattern, ONLY_B);
	assert_int_equal(ldns_pkt_ancount(r->pkt), 1);
	make_query(&w, .id = 0x7002, .name = ALLOWED, .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_ALLOW);
	assert_string_equal(r->info.rule->pattern, ALLOWED);
	free_res();
}

/* Report mode: a refused name is answered with the gateway's address, and said to be
 * one enforce refuses; an allowed one is not; the root and malformed queries stay
 * refused (nothing is forwarded either way: query.c does no I/O). */
static void
test_report_mode(void **state)
{
	struct wire w;
	struct query_env e = env_with(1, 1);
	struct res *r;

	(void)state;
	e.report = 1;
	make_query(&w, .id = 0x7101, .name = EVIL, .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_ALLOW);
	assert_int_equal(r->info.would_deny, 1);
	assert_null(r->info.rule);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r->pkt), 1);
	make_query(&w, .id = 0x7102, .name = ALLOWED, .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_ALLOW);
	assert_int_equal(r->info.would_deny, 0);
	make_query(&w, .id = 0x7103, .name = ".", .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	make_query(&w, .id = 0x7104, .name = EVIL, .type = T_A, .flags = 0x0800 /* IQUERY */);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	free_res();
}

/* ---- stub zones: names at or below one are passed (QUERY_PASS), nothing written ---- */

static struct stub_zone stubs[2] = {
	{ .zone = "corp.internal", .len = 13 },
	{ .zone = "cluster.local", .len = 13 },
};

static struct query_env
env_stub(void)
{
	struct query_env e = env_with(1, 1);

	e.stub_zones = stubs;
	e.nstub_zones = NELEM(stubs);
	return e;
}

/* The query is passed to zone; nothing is written. */
static void
assert_passed(const struct wire *w, const struct query_env *e, const struct stub_zone *zone)
{
	struct query_info info;
	size_t len = 0x5a5a;
	uint8_t out[600];

	memset(out, 0xee, sizeof(out));
	assert_int_equal(query_answer(w->b, w->len, e, out, sizeof(out), &len, &info),
	    QUERY_PASS);
	assert_int_equal(info.verdict, VERDICT_PASS);
	assert_ptr_equal(info.stub, zone);
	assert_int_equal(info.question_end, w->qend);
	assert_null(info.rule);
	assert_int_equal(out[0], 0xee);
}

static void
test_stub_pass(void **state)
{
	struct query_env e = env_stub();
	struct wire w;
	struct res *r;

	(void)state;
	make_query(&w, .id = 0x8001, .name = "web.default.svc.cluster.local", .type = T_A);
	assert_passed(&w, &e, &stubs[1]);
	/* any case, EDNS, another type, RD clear */
	make_query(&w, .id = 0x8002, .name = "WEB.Default.svc.Cluster.LOCAL", .type = T_SRV,
	    .edns = 1232, .eflags = EDNS_DO, .no_rd = 1);
	assert_passed(&w, &e, &stubs[1]);
	/* the apex itself, the other zone */
	make_query(&w, .id = 0x8003, .name = "cluster.local", .type = T_SOA);
	assert_passed(&w, &e, &stubs[1]);
	make_query(&w, .id = 0x8004, .name = "db.corp.internal", .type = T_AAAA);
	assert_passed(&w, &e, &stubs[0]);
	/* an allow rule in the zone does not answer it: the zone's servers do */
	make_query(&w, .id = 0x8005, .name = "allowed.cluster.local", .type = T_A);
	assert_passed(&w, &e, &stubs[1]);
	/* a deny rule for some ports only does not refuse the name (DNS has no port) */
	make_query(&w, .id = 0x8006, .name = "port.cluster.local", .type = T_A);
	assert_passed(&w, &e, &stubs[1]);
	/* report mode passes too */
	e.report = 1;
	make_query(&w, .id = 0x8007, .name = "x.cluster.local", .type = T_A);
	assert_passed(&w, &e, &stubs[1]);
	e.report = 0;
	/* another policy: still passed */
	e.policy = 1;
	assert_passed(&w, &e, &stubs[1]);
	/* no stub zones: the same name is refused as any other */
	e = env_with(1, 1);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NXDOMAIN);
	free_res();
}

static void
test_stub_not_passed(void **state)
{
	static const char *const outside[] = {
		"xcluster.local", "cluster.local.evil.test", "x.cluster.local.evil.test",
		"local", "cluster.locals", "corp.internal.cluster", EVIL,
	};
	struct query_env e = env_stub();
	struct wire w;
	struct res *r;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(outside); i++) {
		make_query(&w, .id = (uint16_t)(0x8100 + i), .name = outside[i], .type = T_A);
		r = run(&w, &e);
		assert_int_equal(r->r, QUERY_ANSWER);
		assert_int_equal(r->info.verdict, VERDICT_DENY);
		assert_null(r->info.stub);
		assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NXDOMAIN);
	}
	/* a deny rule for every port wins over the zone, and its wildcard child too */
	make_query(&w, .id = 0x8110, .name = "secret.cluster.local", .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NXDOMAIN);
	/* ... in report mode too */
	e.report = 1;
	r = run(&w, &e);
	assert_int_not_equal(r->info.verdict, VERDICT_PASS);
	e.report = 0;
	/* a name outside the zones but allowed: answered as before */
	make_query(&w, .id = 0x8111, .name = ALLOWED, .type = T_A);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_ALLOW);
	free_res();
}

/* Malformed and refused queries in a zone are answered here, as before: never passed. */
static void
test_stub_malformed(void **state)
{
	struct query_env e = env_stub();
	struct wire w;
	struct res *r;

	(void)state;
	/* two questions */
	HEADER(&w, 0x8201, F_RD, .qd = 2);
	w_question(&w, "a.cluster.local", T_A, C_IN);
	w_question(&w, "b.cluster.local", T_A, C_IN);
	r = run(&w, &e);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_FORMERR);
	/* the question cut short */
	make_query(&w, .id = 0x8202, .name = "a.cluster.local", .type = T_A);
	w.len -= 2;
	r = run(&w, &e);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_FORMERR);
	/* class CH */
	HEADER(&w, 0x8203, F_RD, .qd = 1);
	w_question(&w, "a.cluster.local", T_A, C_CH);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_REFUSED);
	/* a zone transfer */
	make_query(&w, .id = 0x8204, .name = "cluster.local", .type = T_AXFR);
	r = run(&w, &e);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	assert_int_not_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NOERROR);
	/* another opcode (UPDATE) */
	make_query(&w, .id = 0x8205, .name = "cluster.local", .type = T_SOA, .flags = OPCODE(5));
	r = run(&w, &e);
	assert_int_not_equal(r->info.verdict, VERDICT_PASS);
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), LDNS_RCODE_NOTIMPL);
	/* a response: dropped */
	make_query(&w, .id = 0x8206, .name = "a.cluster.local", .type = T_A, .flags = F_QR);
	r = run(&w, &e);
	assert_int_equal(r->r, QUERY_DROP);
	free_res();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STEP_TEST("test_allowed_a", allowed_a),
		STEP_TEST("test_allowed_aaaa", allowed_aaaa),
		STEP_TEST("test_allowed_nodata_no_addresses", allowed_nodata_no_addresses),
		cmocka_unit_test(test_allowed_other_types_nodata),
		STEP_TEST("test_allowed_any", allowed_any),
		cmocka_unit_test(test_pool_answers),
		cmocka_unit_test(test_blocked_nxdomain),
		cmocka_unit_test(test_blocked_ede_text),
		STEP_TEST("test_blocked_refused", blocked_refused),
		cmocka_unit_test(test_opcode_notimp),
		cmocka_unit_test(test_qdcount),
		cmocka_unit_test(test_bad_question),
		cmocka_unit_test(test_name_255),
		cmocka_unit_test(test_class_refused),
		STEP_TEST("test_zone_transfer_refused", zone_transfer_refused),
		cmocka_unit_test(test_badvers),
		cmocka_unit_test(test_formerr_forms),
		cmocka_unit_test(test_record_names),
		cmocka_unit_test(test_too_many_addresses),
		cmocka_unit_test(test_other_additional_ok),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_edns_options_not_echoed),
		cmocka_unit_test(test_header_bits),
		UDP_LIMIT_TEST(udp_512),
		UDP_LIMIT_TEST(udp_512_edns_100),
		UDP_LIMIT_TEST(udp_1232),
		UDP_LIMIT_TEST(udp_1232_edns_65535),
		UDP_LIMIT_TEST(udp_600),
		STEP_TEST("test_truncation_and_tcp", truncation_and_tcp),
		cmocka_unit_test(test_small_outcap),
		cmocka_unit_test(test_wildcard_and_exact),
		cmocka_unit_test(test_deny_rules),
		cmocka_unit_test(test_case_and_trailing_dot),
		cmocka_unit_test(test_special_bytes),
		STEP_TEST("test_root_name", root_name),
		cmocka_unit_test(test_qname_text_longest),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_flags),
		cmocka_unit_test(test_per_policy),
		cmocka_unit_test(test_report_mode),
		cmocka_unit_test(test_stub_pass),
		cmocka_unit_test(test_stub_not_passed),
		cmocka_unit_test(test_stub_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
