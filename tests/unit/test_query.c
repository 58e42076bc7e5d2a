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

#include "policy.h"
#include "query.h"

#define HDR		12
#define F_QR		0x8000
#define F_AA		0x0400
#define F_TC		0x0200
#define F_RD		0x0100
#define F_RA		0x0080
#define F_Z		0x0040
#define F_AD		0x0020
#define F_CD		0x0010
#define OPCODE(n)	((uint16_t)((n) << 11))
#define EDNS_DO		0x8000
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

static void
w_u32(struct wire *w, uint32_t v)
{
	w_u16(w, (uint16_t)(v >> 16));
	w_u16(w, (uint16_t)v);
}

/* Header: ID, flags (QR|opcode|AA|TC|RD / RA|Z|AD|CD|rcode), then QD/AN/NS/AR counts. */
static void
w_header(struct wire *w, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
    uint16_t ar)
{
	memset(w, 0, sizeof(*w));
	w_u16(w, id);		/* bytes 0-1: ID */
	w_u16(w, flags);	/* bytes 2-3: flags */
	w_u16(w, qd);		/* bytes 4-5: QDCOUNT */
	w_u16(w, an);		/* bytes 6-7: ANCOUNT */
	w_u16(w, ns);		/* bytes 8-9: NSCOUNT */
	w_u16(w, ar);		/* bytes 10-11: ARCOUNT */
	w->flags = flags;
}

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

/* The question: name, QTYPE, QCLASS. The first one is remembered for comparison. */
static void
w_question(struct wire *w, const char *name, uint16_t type, uint16_t class)
{
	size_t start = w->len;

	w_name(w, name);
	w_u16(w, type);		/* QTYPE */
	w_u16(w, class);	/* QCLASS */
	if (w->qend == 0) {
		w->qstart = start;
		w->qend = w->len;
	}
}

/* Mark bytes written by hand (w_bytes) as the first question. */
static void
w_mark_question(struct wire *w, size_t start)
{
	w->qstart = start;
	w->qend = w->len;
}

/* OPT pseudo-record (RFC 6891): owner root, TYPE 41, CLASS = UDP payload size, TTL =
 * extended rcode (8) | version (8) | DO + Z (16), RDLEN, RDATA (options). */
static void
w_opt(struct wire *w, uint16_t size, uint8_t ext_rcode, uint8_t version, uint16_t eflags,
    const uint8_t *rdata, uint16_t rdlen)
{
	w_u8(w, 0);			/* owner: root */
	w_u16(w, T_OPT);		/* TYPE OPT */
	w_u16(w, size);			/* CLASS: requestor's UDP payload size */
	w_u8(w, ext_rcode);		/* TTL byte 0: extended rcode */
	w_u8(w, version);		/* TTL byte 1: EDNS version */
	w_u16(w, eflags);		/* TTL bytes 2-3: DO bit, Z */
	w_u16(w, rdlen);		/* RDLENGTH */
	if (rdlen > 0)
		w_bytes(w, rdata, rdlen);	/* options: code(2) len(2) data */
	w->has_opt = 1;
}

/* The common case: ID, RD set, one question, and an OPT record when edns > 0 (its payload
 * size; no options, DO clear). */
static void
make_query(struct wire *w, uint16_t id, const char *name, uint16_t type, uint16_t edns)
{
	w_header(w, id, F_RD, 1, 0, 0, edns ? 1 : 0);
	w_question(w, name, type, C_IN);
	if (edns)
		w_opt(w, edns, 0, 0, 0, NULL, 0);
}

/* ---- the environment ------------------------------------------------------------- */

static struct policy *pol;
static struct in_addr v4[256];
static struct in6_addr v6[4];

static void
add_rule(const char *pattern)
{
	struct portrange pr = { 443, 443 };
	char err[256];

	if (policy_add(pol, pattern, &pr, 1, 0, "test", 0, err, sizeof(err)) == -1)
		fail_msg("policy_add %s: %s", pattern, err);
}

static int
setup(void **state)
{
	size_t i;

	(void)state;
	pol = policy_new();
	assert_non_null(pol);
	add_rule("allowed.example.com");
	add_rule("a.b.example.com");
	add_rule("*.wild.example.org");
	add_rule("exact.wild.example.org");
	add_rule("Trailing.Example.NET.");	/* normalised to trailing.example.net */
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
	policy_free(pol);
	return 0;
}

static struct query_env
env_with(size_t na, size_t naaaa)
{
	struct query_env e;

	memset(&e, 0, sizeof(e));
	e.policy = pol;
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

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

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

static uint16_t
hflags(const struct res *r)
{
	return rd16(r->out + 2);
}

/* What every answer shares: ID, QR AA RA set, RD CD and opcode copied, TC as expected,
 * the question copied byte for byte when there is one, the counts, the rcode (header
 * and extended), and an OPT exactly as expected (payload 1232, version 0, DO copied). */
static void
check_answer(const struct res *r, int rcode, int tc, uint16_t qd, uint16_t an, uint16_t ns,
    int opt)
{
	const struct wire *q = r->q;
	uint16_t f = hflags(r), qf = q->flags;

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
	assert_int_equal((f & F_TC) != 0, tc);
	assert_int_equal(ldns_pkt_tc(r->pkt), tc);
	assert_int_equal(f & 0xf, rcode & 0xf);				/* header rcode */
	assert_int_equal(ldns_pkt_get_rcode(r->pkt), rcode & 0xf);
	assert_int_equal(r->info.rcode, rcode);
	/* counts as written on the wire */
	assert_int_equal(rd16(r->out + 4), qd);
	assert_int_equal(rd16(r->out + 6), an);
	assert_int_equal(rd16(r->out + 8), ns);
	assert_int_equal(rd16(r->out + 10), opt ? 1 : 0);
	assert_int_equal(ldns_pkt_qdcount(r->pkt), qd);
	assert_int_equal(ldns_pkt_ancount(r->pkt), an);
	assert_int_equal(ldns_pkt_nscount(r->pkt), ns);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_additional(r->pkt)), 0);
	if (qd == 1) {
		size_t ql = q->qend - q->qstart;

		assert_true(q->qend > q->qstart);
		assert_true(r->len >= HDR + ql);
		assert_memory_equal(r->out + HDR, q->b + q->qstart, ql);	/* 0x20 kept */
	}
	if (opt) {
		uint16_t qedns = 0;

		assert_int_equal(ldns_pkt_edns_udp_size(r->pkt), QUERY_EDNS_PAYLOAD);
		assert_int_equal(ldns_pkt_edns_version(r->pkt), 0);
		assert_int_equal(ldns_pkt_edns_extended_rcode(r->pkt), (rcode >> 4) & 0xff);
		/* DO copied from the query's OPT TTL (bytes 2-3 of it); Z never set */
		if (q->has_opt) {
			size_t i;

			/* the query's first OPT: find it after the question(s) by its type */
			for (i = HDR; i + 11 <= q->len; i++)
				if (q->b[i] == 0 && rd16(q->b + i + 1) == T_OPT) {
					qedns = rd16(q->b + i + 7);
					break;
				}
		}
		assert_int_equal(ldns_pkt_edns_do(r->pkt), (qedns & EDNS_DO) != 0);
		assert_int_equal(ldns_pkt_edns_z(r->pkt) & ~EDNS_DO, 0);	/* ldns keeps DO in z */
		assert_int_equal(r->info.dnssec_ok, (qedns & EDNS_DO) != 0);
	} else {
		assert_int_equal(ldns_pkt_edns_udp_size(r->pkt), 0);
	}
}

/* The EDNS options of the answer: none, or exactly EDE 15 (Blocked). */
static void
check_ede(struct res *r, int blocked)
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

static void
check_info(const struct res *r, enum query_verdict v, const char *reason, const char *rule,
    const char *qname, unsigned n4, unsigned n6, int truncated)
{
	const struct query_info *i = &r->info;

	assert_int_equal(i->verdict, v);
	if (reason == NULL)
		assert_null(i->reason);
	else {
		assert_non_null(i->reason);
		assert_string_equal(i->reason, reason);
	}
	if (rule == NULL)
		assert_null(i->rule);
	else {
		assert_non_null(i->rule);
		assert_string_equal(i->rule->pattern, rule);
	}
	if (qname == NULL)
		assert_int_equal(i->has_question, 0);
	else {
		assert_int_equal(i->has_question, 1);
		assert_string_equal(i->qname, qname);
	}
	assert_int_equal(i->id, rd16(r->q->b));
	assert_int_equal(i->nanswer4, n4);
	assert_int_equal(i->nanswer6, n6);
	assert_int_equal(i->truncated, truncated);
}

/* ---- allowed names ------------------------------------------------------------------ */

/* allowed name, A: NOERROR, one A record per configured address, TTL `ttl`. */
static void
test_allowed_a(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	size_t n;

	(void)state;
	make_query(&q, 0x1234, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 0);
	check_addr_rr(r, 0, T_A, &v4[0]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 1, 0, 0);
	assert_int_equal(r->info.qtype, T_A);
	assert_int_equal(r->info.qclass, C_IN);
	assert_int_equal(r->info.edns, 0);
	/* exact size: header + question (21 + 4) + one A with a pointer owner (16) */
	assert_int_equal(r->len, HDR + 25 + 16);

	for (n = 2; n <= 3; n++) {	/* several configured addresses: all of them, in order */
		size_t i;

		env = env_with(n, 0);
		make_query(&q, (uint16_t)(0x2000 + n), "allowed.example.com", T_A, 1232);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NOERROR, 0, 1, (uint16_t)n, 0, 1);
		check_ede(r, 0);
		for (i = 0; i < n; i++)
			check_addr_rr(r, i, T_A, &v4[i]);
		check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com",
		    (unsigned)n, 0, 0);
		assert_int_equal(r->info.edns, 1);
		assert_int_equal(r->info.edns_size, 1232);
	}
	free_res();
}

/* allowed name, AAAA: the IPv6 addresses when there are some ... */
static void
test_allowed_aaaa(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0xbeef, "allowed.example.com", T_AAAA, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 0);
	check_addr_rr(r, 0, T_AAAA, &v6[0]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 1, 0);

	env = env_with(0, 2);
	make_query(&q, 0xbef0, "allowed.example.com", T_AAAA, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 2, 0, 1);
	check_addr_rr(r, 0, T_AAAA, &v6[0]);
	check_addr_rr(r, 1, T_AAAA, &v6[1]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 2, 0);
	free_res();
}

/* ... and NODATA (NOERROR, no answer, SOA in authority) when there are none. Likewise an
 * A query when the gateway has no IPv4 address. Never NXDOMAIN for an allowed name. */
static void
test_allowed_nodata_no_addresses(void **state)
{
	struct query_env env = env_with(1, 0);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 7, "allowed.example.com", T_AAAA, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, 0);
	check_soa(r);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 0);

	make_query(&q, 8, "allowed.example.com", T_AAAA, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, 1);
	check_soa(r);
	check_ede(r, 0);

	env = env_with(0, 1);
	make_query(&q, 9, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, 0);
	check_soa(r);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 0);
	free_res();
}

/* allowed name, any other type: NODATA, nothing forwarded (HTTPS/SVCB included). */
static void
test_allowed_other_types_nodata(void **state)
{
	static const uint16_t types[] = { T_MX, T_TXT, T_HTTPS, T_SVCB, T_SRV, T_CNAME, T_PTR,
		T_NS, T_SOA, T_CAA, 99 /* SPF */, 65280 /* private use */, 0 /* reserved */ };
	struct query_env env = env_with(2, 2);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct res *r;
		int edns;

		for (edns = 0; edns <= 1; edns++) {
			make_query(&q, (uint16_t)(0x4000 + i), "allowed.example.com", types[i],
			    edns ? 1232 : 0);
			r = run(&q, &env);
			check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, edns);
			check_soa(r);
			if (edns)
				check_ede(r, 0);
			check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com",
			    "allowed.example.com", 0, 0, 0);
			assert_int_equal(r->info.qtype, types[i]);
		}
	}
	free_res();
}

/* allowed name, ANY: RFC 8482, the A and AAAA answer. */
static void
test_allowed_any(void **state)
{
	struct query_env env = env_with(2, 1);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0x0a0a, "allowed.example.com", T_ANY, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 3, 0, 1);
	check_addr_rr(r, 0, T_A, &v4[0]);
	check_addr_rr(r, 1, T_A, &v4[1]);
	check_addr_rr(r, 2, T_AAAA, &v6[0]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 2, 1, 0);

	env = env_with(1, 0);		/* no IPv6: A only */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 1);
	check_addr_rr(r, 0, T_A, &v4[0]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 1, 0, 0);

	env = env_with(0, 0);		/* nothing at all: NODATA */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, 1);
	check_soa(r);
	free_res();
}

/* ---- names not allowed ------------------------------------------------------------ */

/* Any type: NXDOMAIN + SOA; EDE 15 with EDNS, and no OPT at all without. */
static void
test_blocked_nxdomain(void **state)
{
	static const uint16_t types[] = { T_A, T_AAAA, T_MX, T_TXT, T_HTTPS, T_SVCB, T_ANY,
		T_PTR };
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct res *r;

		make_query(&q, (uint16_t)(0x5000 + i), "evil.example", types[i], 0);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
		check_soa(r);
		check_info(r, VERDICT_DENY, NULL, NULL, "evil.example", 0, 0, 0);

		make_query(&q, (uint16_t)(0x5100 + i), "evil.example", types[i], 1232);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 1);
		check_soa(r);
		check_ede(r, 1);
		check_info(r, VERDICT_DENY, NULL, NULL, "evil.example", 0, 0, 0);
	}
	/* a sibling, a parent and an extension of an allowed name are all different names */
	make_query(&q, 1, "example.com", T_A, 0);
	check_answer(run(&q, &env), LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	make_query(&q, 2, "x.allowed.example.com", T_A, 0);
	check_answer(run(&q, &env), LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	make_query(&q, 3, "allowed.example.com.corp.example", T_A, 0);	/* search domain */
	check_answer(run(&q, &env), LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	make_query(&q, 4, "allowed.example.co", T_A, 0);
	check_answer(run(&q, &env), LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	free_res();
}

/* The EDE text, when there is one, is printable ASCII (RFC 8914: UTF-8). */
static void
test_blocked_ede_text(void **state)
{
	struct query_env env = env_with(1, 1);
	ldns_edns_option_list *ol;
	ldns_edns_option *o;
	struct wire q;
	struct res *r;
	size_t i, sz;
	uint8_t *d;

	(void)state;
	make_query(&q, 0x0e0e, "evil.example", T_A, 1232);
	r = run(&q, &env);
	ol = ldns_pkt_edns_get_option_list(r->pkt);
	assert_non_null(ol);
	o = ldns_edns_option_list_get_option(ol, 0);
	d = ldns_edns_get_data(o);
	sz = ldns_edns_get_size(o);
	for (i = 2; i < sz; i++)
		assert_true(d[i] >= 0x20 && d[i] < 0x7f);
	free_res();
}

/* blocked refused: REFUSED (no SOA), EDE still tells why when the query had EDNS. */
static void
test_blocked_refused(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	env.blocked_refused = 1;
	make_query(&q, 0x7777, "evil.example", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_REFUSED, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_DENY, NULL, NULL, "evil.example", 0, 0, 0);

	make_query(&q, 0x7778, "evil.example", T_AAAA, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_REFUSED, 0, 1, 0, 0, 1);
	check_ede(r, 1);

	/* allowed names are not affected by the mode */
	make_query(&q, 0x7779, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 0);
	make_query(&q, 0x777a, "allowed.example.com", T_MX, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 0, 1, 0);
	check_soa(r);
	free_res();
}

/* ---- refused on form ---------------------------------------------------------------- */

/* Opcodes 1..15: NOTIMP, the opcode and the question echoed. */
static void
test_opcode_notimp(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	unsigned op;

	(void)state;
	for (op = 1; op <= 15; op++) {
		struct res *r;
		int edns;

		for (edns = 0; edns <= 1; edns++) {
			w_header(&q, (uint16_t)(0x6000 + op), (uint16_t)(OPCODE(op) | F_RD), 1, 0, 0,
			    edns ? 1 : 0);
			w_question(&q, "allowed.example.com", T_A, C_IN);
			if (edns)
				w_opt(&q, 1232, 0, 0, EDNS_DO, NULL, 0);
			r = run(&q, &env);
			check_answer(r, LDNS_RCODE_NOTIMPL, 0, 1, 0, 0, edns);
			if (edns)
				check_ede(r, 0);
			check_info(r, VERDICT_INVALID, "opcode", NULL, "allowed.example.com", 0, 0, 0);
		}
	}
	/* NOTIFY (4) with no question at all: NOTIMP still (the opcode is checked first) */
	w_header(&q, 0x6100, OPCODE(4), 0, 0, 0, 0);
	check_answer(run(&q, &env), LDNS_RCODE_NOTIMPL, 0, 0, 0, 0, 0);
	free_res();
}

/* QDCOUNT 0 or 2: FORMERR, no question in the answer. */
static void
test_qdcount(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	w_header(&q, 0x0100, F_RD, 0, 0, 0, 0);		/* header alone */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "qdcount", NULL, NULL, 0, 0, 0);

	w_header(&q, 0x0101, F_RD, 0, 0, 0, 1);		/* no question, an OPT */
	w_opt(&q, 1232, 0, 0, 0, NULL, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 1);
	check_ede(r, 0);
	check_info(r, VERDICT_INVALID, "qdcount", NULL, NULL, 0, 0, 0);

	w_header(&q, 0x0102, F_RD, 2, 0, 0, 0);		/* two questions */
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_question(&q, "allowed.example.com", T_AAAA, C_IN);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 0);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	assert_string_equal(r->info.reason, "qdcount");
	assert_int_equal(r->info.nanswer4, 0);

	w_header(&q, 0x0103, F_RD, 2, 0, 0, 0);		/* QDCOUNT 2, one question sent */
	w_question(&q, "allowed.example.com", T_A, C_IN);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 0);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);
	free_res();
}

/* An unparseable question: FORMERR with the ID echoed and no question copied. */
static void
test_bad_question(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;
	int c;

	(void)state;
	for (c = 0; c < 9; c++) {
		struct res *r;

		w_header(&q, (uint16_t)(0xf000 + c), F_RD, 1, 0, 0, 0);
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
			for (i = 0; i < 4; i++) {
				w_u8(&q, 63);
				memset(q.b + q.len, 'a', 63);
				q.len += 63;
			}
			w_u8(&q, 0);
			w_u16(&q, T_A);
			w_u16(&q, C_IN);
			break;
		case 7:	/* name complete, QTYPE/QCLASS cut: only 3 of 4 bytes */
			w_name(&q, "allowed.example.com");
			w_bytes(&q, "\000\001\000", 3);
			break;
		case 8:	/* name with no root label: ends after a full label */
			w_bytes(&q, "\007example", 8);
			break;
		}
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 0);
		check_info(r, VERDICT_INVALID, "malformed-question", NULL, NULL, 0, 0, 0);
		assert_int_equal(r->info.id, 0xf000 + c);
	}
	free_res();
}

/* The longest legal name (255 bytes on the wire) is a question like any other. */
static void
test_name_255(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	size_t start;
	int i;

	(void)state;
	w_header(&q, 0x0255, F_RD, 1, 0, 0, 0);
	start = q.len;
	for (i = 0; i < 3; i++) {	/* 3 * (1 + 63) = 192 */
		w_u8(&q, 63);
		memset(q.b + q.len, 'a', 63);
		q.len += 63;
	}
	w_u8(&q, 61);			/* + 62 = 254 */
	memset(q.b + q.len, 'b', 61);
	q.len += 61;
	w_u8(&q, 0);			/* + root = 255 */
	w_u16(&q, T_A);
	w_u16(&q, C_IN);
	w_mark_question(&q, start);
	assert_int_equal(q.qend - q.qstart - 4, 255);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	check_soa(r);
	assert_int_equal(r->info.verdict, VERDICT_DENY);
	assert_int_equal(strlen(r->info.qname), 253);
	free_res();
}

/* Class other than IN: REFUSED. */
static void
test_class_refused(void **state)
{
	static const uint16_t classes[] = { C_CH, C_HS, C_NONE, C_ANY, 2, 0 };
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		struct res *r;

		w_header(&q, (uint16_t)(0x0c00 + i), F_RD, 1, 0, 0, 0);
		w_question(&q, "allowed.example.com", T_A, classes[i]);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_REFUSED, 0, 1, 0, 0, 0);
		check_info(r, VERDICT_INVALID, "class", NULL, "allowed.example.com", 0, 0, 0);
		assert_int_equal(r->info.qclass, classes[i]);
	}
	/* version.bind CH TXT: the classic probe */
	w_header(&q, 0x0cff, 0, 1, 0, 0, 0);
	w_question(&q, "version.bind", T_TXT, C_CH);
	check_answer(run(&q, &env), LDNS_RCODE_REFUSED, 0, 1, 0, 0, 0);
	free_res();
}

/* AXFR / IXFR: REFUSED, whatever the name. */
static void
test_zone_transfer_refused(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0xaf01, "allowed.example.com", T_AXFR, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_REFUSED, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "zone-transfer", NULL, "allowed.example.com", 0, 0, 0);
	make_query(&q, 0xaf02, "evil.example", T_IXFR, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_REFUSED, 0, 1, 0, 0, 1);
	check_ede(r, 0);
	check_info(r, VERDICT_INVALID, "zone-transfer", NULL, "evil.example", 0, 0, 0);
	free_res();
}

/* EDNS version 1: BADVERS (16): extended rcode 1 in the OPT TTL, 0 in the header. */
static void
test_badvers(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	w_header(&q, 0xbad1, F_RD | F_CD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_opt(&q, 4096, 0, 1 /* version */, EDNS_DO, NULL, 0);
	r = run(&q, &env);
	check_answer(r, 16, 0, 1, 0, 0, 1);
	assert_int_equal(hflags(r) & 0xf, 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(r->pkt), 1);
	check_ede(r, 0);
	check_info(r, VERDICT_INVALID, "edns-version", NULL, "allowed.example.com", 0, 0, 0);
	assert_int_equal(r->info.rcode, 16);

	/* version 255, for a name not allowed: BADVERS too (the form is judged first) */
	w_header(&q, 0xbad2, 0, 1, 0, 0, 1);
	w_question(&q, "evil.example", T_A, C_IN);
	w_opt(&q, 1232, 0, 255, 0, NULL, 0);
	r = run(&q, &env);
	check_answer(r, 16, 0, 1, 0, 0, 1);
	check_ede(r, 0);
	free_res();
}

/* More than one OPT, TC in a query, ANCOUNT or NSCOUNT, OPT with a non-root owner,
 * QTYPE OPT, a record running past the end: FORMERR. */
static void
test_formerr_forms(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	/* two OPT records */
	w_header(&q, 0xf001, F_RD, 1, 0, 0, 2);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_opt(&q, 1232, 0, 0, 0, NULL, 0);
	w_opt(&q, 1232, 0, 0, 0, NULL, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 1);
	check_ede(r, 0);
	check_info(r, VERDICT_INVALID, "several-opt", NULL, "allowed.example.com", 0, 0, 0);

	/* TC=1 in a query */
	w_header(&q, 0xf002, F_RD | F_TC, 1, 0, 0, 0);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "tc-set", NULL, "allowed.example.com", 0, 0, 0);

	/* ANCOUNT 1 with a real answer record: owner pointer to the question, A, IN */
	w_header(&q, 0xf003, F_RD, 1, 1, 0, 0);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_bytes(&q, "\300\014", 2);		/* owner: pointer to offset 12 */
	w_u16(&q, T_A);
	w_u16(&q, C_IN);
	w_u32(&q, 60);				/* TTL */
	w_u16(&q, 4);				/* RDLENGTH */
	w_bytes(&q, "\001\002\003\004", 4);	/* 1.2.3.4 */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "ancount", NULL, "allowed.example.com", 0, 0, 0);

	/* NSCOUNT 1 with an NS record in authority */
	w_header(&q, 0xf004, F_RD, 1, 0, 1, 0);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_u8(&q, 0);				/* owner: root */
	w_u16(&q, T_NS);
	w_u16(&q, C_IN);
	w_u32(&q, 60);
	w_u16(&q, 2);
	w_bytes(&q, "\300\014", 2);		/* NSDNAME: pointer */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "nscount", NULL, "allowed.example.com", 0, 0, 0);

	/* ANCOUNT 1 with no record sent: FORMERR still */
	w_header(&q, 0xf005, F_RD, 1, 1, 0, 0);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	assert_int_equal(r->info.verdict, VERDICT_INVALID);

	/* OPT with a non-root owner ("\001x") */
	w_header(&q, 0xf006, F_RD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_bytes(&q, "\001x\000", 3);		/* owner x. */
	w_u16(&q, T_OPT);
	w_u16(&q, 1232);
	w_u32(&q, 0);
	w_u16(&q, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 1);
	check_info(r, VERDICT_INVALID, "opt-owner", NULL, "allowed.example.com", 0, 0, 0);

	/* OPT owner as a pointer to the question name: not root either */
	w_header(&q, 0xf007, F_RD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_bytes(&q, "\300\014", 2);
	w_u16(&q, T_OPT);
	w_u16(&q, 1232);
	w_u32(&q, 0);
	w_u16(&q, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 1);
	check_info(r, VERDICT_INVALID, "opt-owner", NULL, "allowed.example.com", 0, 0, 0);

	/* QTYPE OPT (41) in the question */
	make_query(&q, 0xf008, "allowed.example.com", T_OPT, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "qtype-opt", NULL, "allowed.example.com", 0, 0, 0);

	/* OPT whose RDLENGTH runs past the end: malformed, and no OPT is trusted */
	w_header(&q, 0xf009, F_RD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_u8(&q, 0);
	w_u16(&q, T_OPT);
	w_u16(&q, 1232);
	w_u32(&q, 0);
	w_u16(&q, 8);				/* RDLENGTH 8, 2 bytes follow */
	w_bytes(&q, "\000\012", 2);
	q.has_opt = 0;
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "malformed-record", NULL, "allowed.example.com", 0, 0, 0);
	assert_int_equal(r->info.edns, 0);

	/* ARCOUNT 1 and nothing there */
	w_header(&q, 0xf00a, F_RD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
	check_info(r, VERDICT_INVALID, "malformed-record", NULL, "allowed.example.com", 0, 0, 0);
	free_res();
}

/* Names in the other sections are walked with the same limits: extended label types and
 * names over 255 bytes make the query malformed; a compression pointer is fine. */
static void
test_record_names(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	int c, i;

	(void)state;
	for (c = 0; c < 4; c++) {
		w_header(&q, (uint16_t)(0x5a00 + c), F_RD, 1, 0, 0, 2);
		w_question(&q, "allowed.example.com", T_A, C_IN);
		switch (c) {
		case 0:	/* owner with a 0x40 label */
			w_bytes(&q, "\101x\000", 3);
			break;
		case 1:	/* owner with a 0x80 label */
			w_bytes(&q, "\201x\000", 3);
			break;
		case 2:	/* owner of 4 * 64 + 1 = 257 bytes */
			for (i = 0; i < 4; i++) {
				w_u8(&q, 63);
				memset(q.b + q.len, 'o', 63);
				q.len += 63;
			}
			w_u8(&q, 0);
			break;
		case 3:	/* owner "\001x" + pointer to the question name: well-formed */
			w_bytes(&q, "\001x\300\014", 4);
			break;
		}
		w_u16(&q, T_TXT);		/* a TXT record in additional */
		w_u16(&q, C_IN);
		w_u32(&q, 0);
		w_u16(&q, 2);
		w_bytes(&q, "\001z", 2);
		w_opt(&q, 1232, 0, 0, 0, NULL, 0);
		r = run(&q, &env);
		if (c < 3) {
			q.has_opt = 0;
			check_answer(r, LDNS_RCODE_FORMERR, 0, 1, 0, 0, 0);
			check_info(r, VERDICT_INVALID, "malformed-record", NULL, "allowed.example.com",
			    0, 0, 0);
		} else {
			check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 1);
			check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com",
			    1, 0, 0);
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
	make_query(&q, 0xffff, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 0);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 1);
	free_res();
	free(many);
}

/* A TSIG-like extra record in additional (not OPT) is tolerated: the query is answered. */
static void
test_other_additional_ok(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	w_header(&q, 0xadd1, F_RD, 1, 0, 0, 2);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_bytes(&q, "\300\014", 2);		/* owner: the question name */
	w_u16(&q, T_TXT);
	w_u16(&q, C_IN);
	w_u32(&q, 0);
	w_u16(&q, 2);
	w_bytes(&q, "\001z", 2);		/* one character-string "z" */
	w_opt(&q, 1232, 0, 0, 0, NULL, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 1);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 1, 0, 0);
	free_res();
}

/* QR=1 and anything under 12 bytes: dropped, nothing written. */
static void
test_dropped(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	size_t n;

	(void)state;
	w_header(&q, 0xd001, F_QR | F_AA | F_RD | F_RA, 1, 1, 0, 0);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	r = run(&q, &env);
	assert_int_equal(r->r, QUERY_DROP);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->info.verdict, VERDICT_DROP);
	assert_string_equal(r->info.reason, "response");
	assert_int_equal(r->info.id, 0xd001);

	/* QR=1 on a header alone, and on garbage */
	w_header(&q, 0xd002, F_QR, 0, 0, 0, 0);
	r = run(&q, &env);
	assert_int_equal(r->r, QUERY_DROP);
	w_header(&q, 0xd003, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff);
	r = run(&q, &env);
	assert_int_equal(r->r, QUERY_DROP);

	make_query(&q, 0xd004, "allowed.example.com", T_A, 0);
	for (n = 0; n < HDR; n++) {
		struct wire s = q;

		s.len = n;
		r = run(&s, &env);
		assert_int_equal(r->r, QUERY_DROP);
		assert_int_equal(r->len, 0);
		assert_int_equal(r->info.verdict, VERDICT_DROP);
		assert_string_equal(r->info.reason, "short");
	}
	/* exactly a header: answered (FORMERR, qdcount 0... here QDCOUNT says 1) */
	q.len = HDR;
	r = run(&q, &env);
	assert_int_equal(r->r, QUERY_ANSWER);
	check_answer(r, LDNS_RCODE_FORMERR, 0, 0, 0, 0, 0);
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
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	w_header(&q, 0xed01, F_RD | F_CD, 1, 0, 0, 1);
	w_question(&q, "allowed.example.com", T_A, C_IN);
	w_opt(&q, 4096, 0, 0, EDNS_DO | 0x1234 /* Z bits */, opts, sizeof(opts));
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 1);
	check_ede(r, 0);
	assert_true(ldns_pkt_edns_do(r->pkt));
	assert_int_equal(r->info.dnssec_ok, 1);
	assert_int_equal(r->info.edns_size, 4096);
	/* the OPT is the last 11 bytes: root, 41, 1232, TTL 0x00008000, RDLEN 0 */
	assert_memory_equal(r->out + r->len - 11,
	    "\000\000\051\004\320\000\000\200\000\000\000", 11);

	w_header(&q, 0xed02, 0, 1, 0, 0, 1);
	w_question(&q, "evil.example", T_A, C_IN);
	w_opt(&q, 4096, 0, 0, 0x7fff /* everything but DO */, opts, sizeof(opts));
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 1);
	check_ede(r, 1);				/* only EDE, none of the query's */
	assert_false(ldns_pkt_edns_do(r->pkt));
	free_res();
}

/* RD and CD copied both ways; Z and AD of a query are not. */
static void
test_header_bits(void **state)
{
	static const uint16_t fl[] = { 0, F_RD, F_CD, F_RD | F_CD, F_AD | F_Z, F_RD | F_AD | F_CD |
		F_Z | F_RA | F_AA | 0x000f /* an rcode in a query */ };
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		struct res *r;

		w_header(&q, (uint16_t)(0x4b00 + i), fl[i], 1, 0, 0, 0);
		w_question(&q, "allowed.example.com", T_A, C_IN);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 0);
	}
	free_res();
}

/* ---- sizes -------------------------------------------------------------------------- */

/* The answer to "allowed.example.com" A with n addresses: header 12 + question 25 +
 * 16 per A record (+ 11 for an OPT without options). */
static size_t
a_answer_len(size_t n, int opt)
{
	return HDR + 25 + 16 * n + (opt ? 11 : 0);
}

/* Without EDNS, 512 is the most: 29 records fit (501), 30 do not (517) -> TC. */
static void
test_udp_512(void **state)
{
	struct query_env env = env_with(29, 0);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0x0512, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 29, 0, 0);
	assert_int_equal(r->len, a_answer_len(29, 0));
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 29, 0, 0);

	env = env_with(30, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 0);	/* TC, question only */
	assert_int_equal(r->len, HDR + 25);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 1);

	/* EDNS with a payload under 512 means 512 (RFC 6891); exactly 512 fits */
	env = env_with(29, 0);
	make_query(&q, 0x0513, "allowed.example.com", T_A, 100);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 29, 0, 1);
	assert_int_equal(r->len, 512);
	assert_int_equal(r->len, a_answer_len(29, 1));
	env = env_with(30, 0);
	r = run(&q, &env);					/* 528 */
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	assert_int_equal(r->len, HDR + 25 + 11);
	free_res();
}

/* EDNS 4096: capped at 1232 (74 records = exactly 1232 fit, 75 = 1248 do not). */
static void
test_udp_1232(void **state)
{
	struct query_env env = env_with(74, 0);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0x1232, "allowed.example.com", T_A, 4096);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 74, 0, 1);
	assert_int_equal(r->len, a_answer_len(74, 1));
	assert_int_equal(r->len, 1232);

	env = env_with(75, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	assert_int_equal(r->len, HDR + 25 + 11);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 1);

	/* 65535 offered: still 1232 */
	make_query(&q, 0x1233, "allowed.example.com", T_A, 65535);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	free_res();
}

/* EDNS 600: 600 (34 records = 592 fit, 35 = 608 do not). */
static void
test_udp_600(void **state)
{
	struct query_env env = env_with(34, 0);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0x0600, "allowed.example.com", T_A, 600);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 34, 0, 1);
	assert_int_equal(r->len, a_answer_len(34, 1));

	env = env_with(35, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	assert_true(r->len <= 600);
	free_res();
}

/* An answer that cannot fit (200 addresses): TC=1 with the question (+OPT), no records;
 * over TCP the same query gets everything. */
static void
test_truncation_and_tcp(void **state)
{
	struct query_env env = env_with(200, 0);
	struct wire q;
	struct res *r;
	size_t i;

	(void)state;
	make_query(&q, 0x7c01, "allowed.example.com", T_A, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	check_ede(r, 0);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 1);

	make_query(&q, 0x7c02, "allowed.example.com", T_A, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 0);
	assert_int_equal(r->len, HDR + 25);

	/* ANY with 200 + 2: TC too */
	env.aaaa = v6;
	env.naaaa = 2;
	make_query(&q, 0x7c03, "allowed.example.com", T_ANY, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 1);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 0, 0, 1);

	env = env_with(200, 0);
	env.tcp = 1;
	make_query(&q, 0x7c04, "allowed.example.com", T_A, 1232);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 200, 0, 1);
	assert_int_equal(r->len, a_answer_len(200, 1));
	for (i = 0; i < 200; i++)
		check_addr_rr(r, i, T_A, &v4[i]);
	check_info(r, VERDICT_ALLOW, NULL, "allowed.example.com", "allowed.example.com", 200, 0, 0);

	make_query(&q, 0x7c05, "allowed.example.com", T_A, 0);	/* TCP, no EDNS: no limit */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 200, 0, 0);

	/* TCP is bounded by the caller's buffer: 1024 holds 61 records, not 200 */
	r = run_cap(&q, &env, 1024);
	check_answer(r, LDNS_RCODE_NOERROR, 1, 1, 0, 0, 0);
	assert_true(r->len <= 1024);
	free_res();
}

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
	make_query(&q, 1, "allowed.example.com", T_A, 0);
	assert_int_equal(query_answer(q.b, q.len, &env, out, sizeof(out), &outlen, &info),
	    QUERY_DROP);
	assert_int_equal(outlen, 0);
}

/* ---- names -------------------------------------------------------------------------- */

/* "*.wild.example.org" covers any depth below, never the apex; an exact rule wins. */
static void
test_wildcard_and_exact(void **state)
{
	static const struct {
		const char *name, *rule;
	} cases[] = {
		{ "a.wild.example.org", "*.wild.example.org" },
		{ "a.b.c.wild.example.org", "*.wild.example.org" },
		{ "exact.wild.example.org", "exact.wild.example.org" },
		{ "x.exact.wild.example.org", "*.wild.example.org" },
		{ "wild.example.org", NULL },
		{ "example.org", NULL },
		{ "awild.example.org", NULL },
		{ "a.wild.example.org.evil", NULL },
		{ "allowed.example.com", "allowed.example.com" },
		{ "a.b.example.com", "a.b.example.com" },
		{ "trailing.example.net", "trailing.example.net" },
	};
	struct query_env env = env_with(1, 0);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res *r;

		make_query(&q, (uint16_t)i, cases[i].name, T_A, 0);
		r = run(&q, &env);
		if (cases[i].rule != NULL) {
			check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 0);
			check_info(r, VERDICT_ALLOW, NULL, cases[i].rule, cases[i].name, 1, 0, 0);
		} else {
			check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
			check_info(r, VERDICT_DENY, NULL, NULL, cases[i].name, 0, 0, 0);
		}
	}
	free_res();
}

/* 0x20 mixed case: matched case-insensitively, copied and audited as sent; a rule written
 * with capitals and a trailing dot matches. */
static void
test_case_and_trailing_dot(void **state)
{
	static const char *const names[] = { "AlLoWeD.ExAmPlE.CoM", "ALLOWED.EXAMPLE.COM",
		"tRaIlInG.eXaMpLe.NeT", "A.WILD.EXAMPLE.ORG" };
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct res *r;

		make_query(&q, (uint16_t)(0xca5e + i), names[i], T_A, 1232);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NOERROR, 0, 1, 1, 0, 1);	/* question bytes equal */
		check_addr_rr(r, 0, T_A, &v4[0]);			/* owner bytes equal */
		assert_int_equal(r->info.verdict, VERDICT_ALLOW);
		assert_string_equal(r->info.qname, names[i]);		/* case kept */
	}
	free_res();
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
	struct query_env env = env_with(1, 1);
	struct wire q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t start;
		struct res *r;

		w_header(&q, (uint16_t)(0x5b00 + i), F_RD, 1, 0, 0, 0);
		start = q.len;
		w_bytes(&q, cases[i].wire, cases[i].len);
		w_u16(&q, T_A);
		w_u16(&q, C_IN);
		w_mark_question(&q, start);
		r = run(&q, &env);
		check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
		check_info(r, VERDICT_DENY, NULL, NULL, cases[i].text, 0, 0, 0);
	}
	free_res();
}

/* The root name: a well-formed question, denied; audited as ".". */
static void
test_root_name(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;

	(void)state;
	make_query(&q, 0x2007, ".", T_SOA, 0);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
	check_info(r, VERDICT_DENY, NULL, NULL, ".", 0, 0, 0);
	make_query(&q, 0x2008, ".", T_NS, 1232);	/* a priming query */
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 1);
	check_ede(r, 1);
	free_res();
}

/* The longest text: 127 one-byte labels of "\000" escape to 4 characters each. */
static void
test_qname_text_longest(void **state)
{
	struct query_env env = env_with(1, 1);
	struct wire q;
	struct res *r;
	size_t start, i;

	(void)state;
	w_header(&q, 0x1041, F_RD, 1, 0, 0, 0);
	start = q.len;
	for (i = 0; i < 127; i++) {		/* 127 * 2 + root = 255 bytes */
		w_u8(&q, 1);
		w_u8(&q, 0xff);
	}
	w_u8(&q, 0);
	w_u16(&q, T_A);
	w_u16(&q, C_IN);
	w_mark_question(&q, start);
	r = run(&q, &env);
	check_answer(r, LDNS_RCODE_NXDOMAIN, 0, 1, 0, 1, 0);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_a),
		cmocka_unit_test(test_allowed_aaaa),
		cmocka_unit_test(test_allowed_nodata_no_addresses),
		cmocka_unit_test(test_allowed_other_types_nodata),
		cmocka_unit_test(test_allowed_any),
		cmocka_unit_test(test_blocked_nxdomain),
		cmocka_unit_test(test_blocked_ede_text),
		cmocka_unit_test(test_blocked_refused),
		cmocka_unit_test(test_opcode_notimp),
		cmocka_unit_test(test_qdcount),
		cmocka_unit_test(test_bad_question),
		cmocka_unit_test(test_name_255),
		cmocka_unit_test(test_class_refused),
		cmocka_unit_test(test_zone_transfer_refused),
		cmocka_unit_test(test_badvers),
		cmocka_unit_test(test_formerr_forms),
		cmocka_unit_test(test_record_names),
		cmocka_unit_test(test_too_many_addresses),
		cmocka_unit_test(test_other_additional_ok),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_edns_options_not_echoed),
		cmocka_unit_test(test_header_bits),
		cmocka_unit_test(test_udp_512),
		cmocka_unit_test(test_udp_1232),
		cmocka_unit_test(test_udp_600),
		cmocka_unit_test(test_truncation_and_tcp),
		cmocka_unit_test(test_small_outcap),
		cmocka_unit_test(test_wildcard_and_exact),
		cmocka_unit_test(test_case_and_trailing_dot),
		cmocka_unit_test(test_special_bytes),
		cmocka_unit_test(test_root_name),
		cmocka_unit_test(test_qname_text_longest),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_flags),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
