/* test_passwire.c: resolver/passwire.c: the query sent to a stub zone's server, the check of
 * what comes back, and the client's answer made of it; every output re-parsed by ldns. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns_wire.h"
#include "passwire.h"

#define ZONE	"cluster.local"
#define QID	0x4242		/* the ID the resolver sent the server */
#define CID	0x1111		/* the client's */
#define T_A	1
#define T_CNAME	5
#define T_SOA	6
#define T_AAAA	28
#define T_SRV	33
#define T_OPT	41
#define NELEM_RRS(a) (sizeof(a) / sizeof((a)[0]))

/* "web.Cluster.local" to a wire name (case kept) in out; its length. */
static size_t
wname(const char *text, uint8_t *out)
{
	size_t n = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- the client's query and what passwire_answer needs of it ---- */

struct client {
	uint8_t q[512];
	struct passwire_client cl;
};

static void
client_make(struct client *c, uint16_t id, uint16_t flags, const char *name, uint16_t type,
    int edns, int dnssec_ok, size_t limit)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	put16(c->q, id);
	put16(c->q + 2, flags);
	put16(c->q + 4, 1);
	n = HDR + wname(name, c->q + HDR);
	put16(c->q + n, type);
	put16(c->q + n + 2, 1);
	c->cl.query = c->q;
	c->cl.question_end = n + 4;
	c->cl.edns = edns;
	c->cl.dnssec_ok = dnssec_ok;
	c->cl.limit = limit;
}

/* ---- the server's answer, from ldns ---- */

/* A response to (name, type) with ID id, flags set on it, rcode, and records "SECTION RR"
 * ("an web.cluster.local. 5 IN A 10.0.0.1"); its wire form (compressed by ldns) into
 * *wire. */
static size_t
resp_ldns(uint8_t **wire, uint16_t id, const char *name, ldns_rr_type type, int aa, int tc,
    ldns_pkt_rcode rcode, const char *const *rrs, size_t nrr)
{
	ldns_pkt *pkt = NULL;
	size_t i, len = 0;

	assert_int_equal(ldns_pkt_query_new_frm_str(&pkt, name, type, LDNS_RR_CLASS_IN, 0),
	    LDNS_STATUS_OK);
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_qr(pkt, 1);
	ldns_pkt_set_rd(pkt, 0);
	ldns_pkt_set_aa(pkt, aa);
	ldns_pkt_set_tc(pkt, tc);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	for (i = 0; i < nrr; i++) {
		ldns_rr *rr = NULL;
		ldns_pkt_section s = strncmp(rrs[i], "an ", 3) == 0 ? LDNS_SECTION_ANSWER :
		    strncmp(rrs[i], "ns ", 3) == 0 ? LDNS_SECTION_AUTHORITY :
		    LDNS_SECTION_ADDITIONAL;

		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i] + 3, 0, NULL, NULL),
		    LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(pkt, s, rr));
	}
	assert_int_equal(ldns_pkt2wire(wire, pkt, &len), LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return len;
}

/* passwire_answer must succeed; its output parsed. */
static ldns_pkt *
answer_ok(const uint8_t *resp, size_t len, struct client *c, struct passwire_result *r,
    size_t *outlen)
{
	uint8_t out[65535];
	ldns_pkt *pkt = NULL;

	assert_int_equal(passwire_answer(resp, len, ZONE, &c->cl, out, sizeof(out), outlen, r), 0);
	assert_true(*outlen <= c->cl.limit);
	assert_int_equal(ldns_wire2pkt(&pkt, out, *outlen), LDNS_STATUS_OK);
	/* the client's ID and question, byte for byte (its case) */
	assert_int_equal(rd16(out), rd16(c->q));
	assert_memory_equal(out + HDR, c->q + HDR, c->cl.question_end - HDR);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_true(ldns_pkt_qr(pkt));
	return pkt;
}

/* The server's answer made by resp_ldns (ID QID, TC clear) relayed for c: parsed. */
static ldns_pkt *
relay(struct client *c, const char *name, ldns_rr_type type, int aa, ldns_pkt_rcode rcode,
    const char *const *rrs, size_t nrr, struct passwire_result *r)
{
	uint8_t *wire = NULL;
	size_t len = resp_ldns(&wire, QID, name, type, aa, 0, rcode, rrs, nrr), outlen;
	ldns_pkt *pkt = answer_ok(wire, len, c, r, &outlen);

	LDNS_FREE(wire);
	return pkt;
}

/* The text of record i of a section ("web.cluster.local.\t5\tIN\tA\t10.0.0.1\n"). */
static int
rr_is(const ldns_rr_list *l, size_t i, const char *want)
{
	ldns_rr *w = NULL;
	int eq;

	assert_int_equal(ldns_rr_new_frm_str(&w, want, 0, NULL, NULL), LDNS_STATUS_OK);
	eq = i < ldns_rr_list_rr_count(l) && ldns_rr_compare(ldns_rr_list_rr(l, i), w) == 0;
	ldns_rr_free(w);
	return eq;
}

/* ---- passwire_query ---- */

static void
test_query_wire(void **state)
{
	uint8_t name[256], out[PASSWIRE_QUERY_MAX];
	ldns_pkt *pkt = NULL;
	ldns_rdf *want = ldns_dname_new_frm_str("web.default.svc.cluster.local.");
	ldns_rr *q;
	size_t n;

	(void)state;
	wname("Web.DEFAULT.svc.Cluster.local", name);
	n = passwire_query(0xbeef, name, T_AAAA, out, sizeof(out));
	assert_true(n > 0 && n <= PASSWIRE_QUERY_MAX);
	assert_int_equal(ldns_wire2pkt(&pkt, out, n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), 0xbeef);
	assert_false(ldns_pkt_rd(pkt));
	assert_false(ldns_pkt_qr(pkt));
	assert_false(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_ad(pkt));
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_ancount(pkt) + ldns_pkt_nscount(pkt), 0);
	q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	assert_int_equal(ldns_rr_get_type(q), LDNS_RR_TYPE_AAAA);
	assert_int_equal(ldns_rr_get_class(q), LDNS_RR_CLASS_IN);
	/* lowercase on the wire, byte for byte */
	assert_memory_equal(out + HDR, "\003web\007default\003svc\007cluster\005local", 30);
	assert_int_equal(ldns_dname_compare(ldns_rr_owner(q), want), 0);
	/* our OPT: 1232, DO clear, no option */
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_false(ldns_pkt_edns_do(pkt));
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	assert_null(ldns_pkt_edns_data(pkt));
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(want);

	/* the ID given, nothing else changes */
	assert_int_equal(passwire_query(7, name, T_AAAA, out, sizeof(out)), n);
	assert_int_equal(rd16(out), 7);
}

static void
test_query_refuses(void **state)
{
	uint8_t name[320], out[PASSWIRE_QUERY_MAX + 8];
	size_t i;

	(void)state;
	/* a compression pointer where a label should be */
	memcpy(name, "\003web\300\014", 6);
	assert_int_equal(passwire_query(1, name, T_A, out, sizeof(out)), 0);
	/* no root label within 255 bytes */
	for (i = 0; i < 300; i += 64) {
		name[i] = 63;
		memset(name + i + 1, 'a', 63);
	}
	assert_int_equal(passwire_query(1, name, T_A, out, sizeof(out)), 0);
	/* 64 + 64 + 64 + 62 + 1 = 255 bytes: the longest name */
	name[192] = 61;
	name[254] = 0;
	assert_int_equal(passwire_query(1, name, T_A, out, sizeof(out)), PASSWIRE_QUERY_MAX);
	/* one byte more: 256 */
	name[192] = 62;
	name[255] = 0;
	assert_int_equal(passwire_query(1, name, T_A, out, sizeof(out)), 0);
	/* room too small */
	wname("a.cluster.local", name);
	assert_int_equal(passwire_query(1, name, T_A, out, PASSWIRE_QUERY_MAX - 1), 0);
}

/* ---- passwire_check ---- */

/* A response header and question by hand: id, flags, qdcount, then the question. */
static size_t
resp_hand(uint8_t *b, uint16_t id, uint16_t flags, uint16_t qd, const char *name,
    uint16_t type, uint16_t class)
{
	size_t n;

	memset(b, 0, HDR);
	put16(b, id);
	put16(b + 2, flags);
	put16(b + 4, qd);
	n = HDR + wname(name, b + HDR);
	put16(b + n, type);
	put16(b + n + 2, class);
	return n + 4;
}

static void
test_check(void **state)
{
	uint8_t qn[256], b[600];
	size_t n;

	(void)state;
	wname("web.cluster.local", qn);
	n = resp_hand(b, QID, F_QR | F_AA, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_OK);
	/* the server's own case */
	n = resp_hand(b, QID, F_QR, 1, "WEB.Cluster.LOCAL", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_OK);
	/* TC */
	n = resp_hand(b, QID, F_QR | F_TC, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_TRUNCATED);
	/* an error rcode is still the answer */
	n = resp_hand(b, QID, F_QR | 5, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_OK);
	/* wrong ID */
	n = resp_hand(b, QID + 1, F_QR, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* not a response: QR clear */
	n = resp_hand(b, QID, 0, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* another opcode (NOTIFY) */
	n = resp_hand(b, QID, F_QR | OPCODE(4), 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* no question, two questions */
	n = resp_hand(b, QID, F_QR, 0, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, HDR, QID, qn, T_A), PASSWIRE_FOREIGN);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	n = resp_hand(b, QID, F_QR, 2, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* another name, type, class */
	n = resp_hand(b, QID, F_QR, 1, "web.cluster.local.x", T_A, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	n = resp_hand(b, QID, F_QR, 1, "web.cluster.local", T_AAAA, 1);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	n = resp_hand(b, QID, F_QR, 1, "web.cluster.local", T_A, 3);
	assert_int_equal(passwire_check(b, n, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* the question cut short, the header cut short */
	n = resp_hand(b, QID, F_QR, 1, "web.cluster.local", T_A, 1);
	assert_int_equal(passwire_check(b, n - 1, QID, qn, T_A), PASSWIRE_FOREIGN);
	assert_int_equal(passwire_check(b, 11, QID, qn, T_A), PASSWIRE_FOREIGN);
	assert_int_equal(passwire_check(b, 0, QID, qn, T_A), PASSWIRE_FOREIGN);
	/* a question name that is a pointer */
	memcpy(b + HDR, "\300\014", 2);
	put16(b + HDR + 2, T_A);
	put16(b + HDR + 4, 1);
	assert_int_equal(passwire_check(b, HDR + 6, QID, qn, T_A), PASSWIRE_FOREIGN);
}

/* ---- passwire_answer ---- */

static void
test_answer_in_zone(void **state)
{
	static const char *const rrs[] = {
		"an web.default.svc.cluster.local. 5 IN A 10.0.0.1",
		"an web.default.svc.cluster.local. 5 IN A 10.0.0.2",
		"ns cluster.local. 5 IN NS ns.dns.cluster.local.",
		"ar ns.dns.cluster.local. 5 IN A 10.96.0.10",
	};
	struct passwire_result r;
	struct client c;
	ldns_pkt *pkt;

	(void)state;
	client_make(&c, CID, F_RD | F_CD, "Web.Default.svc.CLUSTER.local", T_A, 0, 0, 512);
	pkt = relay(&c, "web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
	    rrs, 4, &r);
	assert_int_equal(ldns_pkt_id(pkt), CID);
	assert_true(ldns_pkt_rd(pkt));
	assert_true(ldns_pkt_cd(pkt));
	assert_true(ldns_pkt_aa(pkt));
	assert_true(ldns_pkt_ra(pkt));
	assert_false(ldns_pkt_tc(pkt));
	assert_false(ldns_pkt_edns(pkt));	/* the client had none */
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_int_equal(ldns_pkt_arcount(pkt), 1);
	assert_true(rr_is(ldns_pkt_answer(pkt), 0, "web.default.svc.cluster.local. 5 IN A 10.0.0.1"));
	assert_true(rr_is(ldns_pkt_answer(pkt), 1, "web.default.svc.cluster.local. 5 IN A 10.0.0.2"));
	assert_true(rr_is(ldns_pkt_authority(pkt), 0, "cluster.local. 5 IN NS ns.dns.cluster.local."));
	assert_true(rr_is(ldns_pkt_additional(pkt), 0, "ns.dns.cluster.local. 5 IN A 10.96.0.10"));
	assert_int_equal(r.rcode, LDNS_RCODE_NOERROR);
	assert_int_equal(r.server_rcode, LDNS_RCODE_NOERROR);
	assert_int_equal(r.dropped, 0);
	assert_int_equal(r.n4, 2);	/* the answer section's only */
	assert_int_equal(r.n6, 0);
	assert_int_equal(ntohl(r.a4[0].s_addr), 0x0a000001);
	assert_int_equal(ntohl(r.a4[1].s_addr), 0x0a000002);
	assert_false(r.truncated);
	ldns_pkt_free(pkt);

	/* RD and CD clear at the client: clear in the answer; the server's AA clear too */
	client_make(&c, CID, 0, "web.default.svc.cluster.local", T_A, 0, 0, 512);
	pkt = relay(&c, "web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	    rrs, 1, &r);
	assert_false(ldns_pkt_rd(pkt));
	assert_false(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_aa(pkt));
	ldns_pkt_free(pkt);
}

static void
test_answer_outside_dropped(void **state)
{
	static const char *const rrs[] = {
		"an api.default.svc.cluster.local. 5 IN CNAME api.example.com.",
		"an api.example.com. 5 IN A 192.0.2.1",
		"an api.example.com. 5 IN AAAA 2001:db8::1",
		"ns example.com. 5 IN NS ns.example.com.",
		"ar ns.example.com. 5 IN A 192.0.2.53",
		"ar xcluster.local. 5 IN A 192.0.2.54",
		"ar cluster.local.evil.test. 5 IN A 192.0.2.55",
		"ar NS.Cluster.Local. 5 IN A 10.96.0.10",
	};
	struct passwire_result r;
	struct client c;
	ldns_pkt *pkt;

	(void)state;
	client_make(&c, CID, F_RD, "api.default.svc.cluster.local", T_A, 0, 0, 512);
	pkt = relay(&c, "api.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NOERROR,
	    rrs, NELEM_RRS(rrs), &r);
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	assert_true(rr_is(ldns_pkt_answer(pkt), 0,
	    "api.default.svc.cluster.local. 5 IN CNAME api.example.com."));
	assert_int_equal(ldns_pkt_nscount(pkt), 0);
	assert_int_equal(ldns_pkt_arcount(pkt), 1);	/* in the zone, whatever its case */
	assert_true(rr_is(ldns_pkt_additional(pkt), 0, "ns.cluster.local. 5 IN A 10.96.0.10"));
	assert_int_equal(r.dropped, 6);
	assert_int_equal(r.n4 + r.n6, 0);	/* the target's addresses are not the answer's */
	ldns_pkt_free(pkt);
}

static void
test_answer_nxdomain_and_errors(void **state)
{
	static const char *const soa[] = {
		"ns cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30",
	};
	static const ldns_pkt_rcode errs[] = { LDNS_RCODE_REFUSED, LDNS_RCODE_FORMERR,
		LDNS_RCODE_NOTIMPL, LDNS_RCODE_SERVFAIL };
	struct passwire_result r;
	struct client c;
	ldns_pkt *pkt;
	size_t i;

	(void)state;
	client_make(&c, CID, F_RD, "nope.cluster.local", T_A, 0, 0, 512);
	pkt = relay(&c, "nope.cluster.local.", LDNS_RR_TYPE_A, 1, LDNS_RCODE_NXDOMAIN, soa, 1, &r);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(pkt), 0)),
	    LDNS_RR_TYPE_SOA);
	assert_int_equal(r.rcode, LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(pkt);

	for (i = 0; i < NELEM_RRS(errs); i++) {
		pkt = relay(&c, "nope.cluster.local.", LDNS_RR_TYPE_A, 1, errs[i], soa, 1, &r);
		assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
		assert_int_equal(ldns_pkt_ancount(pkt) + ldns_pkt_nscount(pkt) +
		    ldns_pkt_arcount(pkt), 0);
		assert_int_equal(r.rcode, LDNS_RCODE_SERVFAIL);
		assert_int_equal((int)r.server_rcode, (int)errs[i]);
		ldns_pkt_free(pkt);
	}
}

static void
test_answer_edns(void **state)
{
	static const char *const rrs[] = { "an a.cluster.local. 5 IN A 10.0.0.1" };
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL;
	ldns_pkt *pkt;
	size_t len, outlen;

	(void)state;
	len = resp_ldns(&wire, QID, "a.cluster.local.", LDNS_RR_TYPE_A, 1, 0,
	    LDNS_RCODE_NOERROR, rrs, 1);
	client_make(&c, CID, F_RD, "a.cluster.local", T_A, 1, 1, 1232);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_true(ldns_pkt_edns(pkt));
	assert_true(ldns_pkt_edns_do(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	ldns_pkt_free(pkt);
	client_make(&c, CID, F_RD, "a.cluster.local", T_A, 1, 0, 1232);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_true(ldns_pkt_edns(pkt));
	assert_false(ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);
	client_make(&c, CID, F_RD, "a.cluster.local", T_A, 0, 0, 512);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_arcount(pkt), 0);
	ldns_pkt_free(pkt);
	LDNS_FREE(wire);
}

/* The server's answer to many.cluster.local A: the record first (text, or NULL), then n A
 * records of owner, 10.0.1.1 on; its wire form into *wire. */
static size_t
resp_many(uint8_t **wire, const char *first, const char *owner, size_t n)
{
	const char **rrs = calloc(n + 1, sizeof(*rrs));
	char (*text)[160] = calloc(n + 1, sizeof(*text));
	size_t i, k = 0, len;

	assert_non_null(rrs);
	assert_non_null(text);
	if (first != NULL)
		rrs[k++] = first;
	for (i = 0; i < n; i++, k++) {
		snprintf(text[k], sizeof(text[k]), "an %s 5 IN A 10.0.%zu.%zu", owner,
		    1 + i / 250, 1 + i % 250);
		rrs[k] = text[k];
	}
	len = resp_ldns(wire, QID, "many.cluster.local.", LDNS_RR_TYPE_A, 1, 0,
	    LDNS_RCODE_NOERROR, rrs, k);
	free(rrs);
	free(text);
	return len;
}

/* Too large with names in full, they go out compressed: a headless Service's 60
 * addresses fit an EDNS client's 1232 bytes (16 bytes each: a pointer, type, class, TTL,
 * length, address), owners and in-zone targets point back, and an owner that is the
 * question's name comes out in the client's case. */
static void
test_answer_compressed(void **state)
{
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL;
	ldns_pkt *pkt;
	size_t len, outlen, i;
	const ldns_rr_list *an;

	(void)state;
	len = resp_many(&wire, "an many.cluster.local. 5 IN CNAME pods.default.svc.cluster.local.",
	    "pods.default.svc.cluster.local.", 60);
	client_make(&c, CID, F_RD, "mAnY.CLUSTER.local", T_A, 1, 0, 1232);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_false(r.truncated);
	assert_false(ldns_pkt_tc(pkt));
	an = ldns_pkt_answer(pkt);
	assert_int_equal(ldns_rr_list_rr_count(an), 61);
	assert_int_equal(r.n4, 60);
	/* header 12, question 20 + 4; the CNAME: owner a pointer (2), 10, its target "pods"
	 * "default" "svc" then a pointer to the question's "cluster.local" (5+8+4+2); each A:
	 * the target's pointer (2), 10, 4; our OPT 11 */
	assert_int_equal(outlen, 12 + 24 + (2 + 10 + 19) + 60 * 16 + 11);
	assert_int_equal(ldns_rdf_size(ldns_rr_owner(ldns_rr_list_rr(an, 0))), 20);
	assert_memory_equal(ldns_rdf_data(ldns_rr_owner(ldns_rr_list_rr(an, 0))), c.q + HDR, 20);
	assert_true(rr_is(an, 0, "many.cluster.local. 5 IN CNAME pods.default.svc.cluster.local."));
	for (i = 1; i < 61; i++) {
		char a[64];

		snprintf(a, sizeof(a), "pods.default.svc.cluster.local. 5 IN A 10.0.1.%zu", i);
		assert_true(rr_is(an, i, a));
	}
	ldns_pkt_free(pkt);
	LDNS_FREE(wire);
}

/* 800 addresses under an 84-byte name: 78,400 bytes in full, more than any message
 * holds, 12,800 and the name once compressed: over TCP all of them, over UDP TC (neither
 * is SERVFAIL). */
static void
test_answer_too_large_in_full(void **state)
{
	static const char owner[] = "a-long-label-for-a-headless-service-with-many-pods-on-it"
	    ".default.svc.cluster.local.";
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL;
	ldns_pkt *pkt;
	size_t len, outlen;

	(void)state;
	assert_int_equal(sizeof(owner), 84);	/* the wire form: a byte more than the text */
	len = resp_many(&wire, NULL, owner, 800);
	client_make(&c, CID, F_RD, "many.cluster.local", T_A, 1, 0, 65535);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_false(r.truncated);
	assert_int_equal(r.rcode, LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 800);
	assert_int_equal(r.n4, 800);
	assert_true(outlen < 13000);
	ldns_pkt_free(pkt);
	client_make(&c, CID, F_RD, "many.cluster.local", T_A, 1, 0, 1232);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_true(r.truncated && ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	LDNS_FREE(wire);
}

/* 60 A records (16 bytes each even compressed): over 512, under 65535 */
static void
test_answer_truncation(void **state)
{
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL;
	ldns_pkt *pkt;
	size_t len, outlen, i;

	(void)state;
	len = resp_many(&wire, NULL, "many.cluster.local.", 60);
	client_make(&c, CID, F_RD, "many.cluster.local", T_A, 0, 0, 512);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_true(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt) + ldns_pkt_nscount(pkt) + ldns_pkt_arcount(pkt), 0);
	assert_true(r.truncated);
	assert_int_equal(r.n4, 0);
	assert_int_equal(r.rcode, LDNS_RCODE_NOERROR);
	ldns_pkt_free(pkt);
	/* TCP's limit: all of them, the addresses counted past PASSWIRE_ADDRS */
	client_make(&c, CID, F_RD, "many.cluster.local", T_A, 0, 0, 65535);
	pkt = answer_ok(wire, len, &c, &r, &outlen);
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 60);
	assert_false(r.truncated);
	assert_int_equal(r.n4, 60);
	for (i = 0; i < PASSWIRE_ADDRS; i++)
		assert_int_equal(ntohl(r.a4[i].s_addr), 0x0a000101u + i);
	ldns_pkt_free(pkt);
	LDNS_FREE(wire);
}

static void
test_answer_aaaa_many(void **state)
{
	const char *rrs[PASSWIRE_ADDRS + 3];
	char text[PASSWIRE_ADDRS + 3][80];
	struct passwire_result r;
	struct client c;
	ldns_pkt *pkt;
	size_t i;

	(void)state;
	for (i = 0; i < PASSWIRE_ADDRS + 3; i++) {
		snprintf(text[i], sizeof(text[i]), "an six.cluster.local. 5 IN AAAA fd00::%zx", i + 1);
		rrs[i] = text[i];
	}
	client_make(&c, CID, F_RD, "six.cluster.local", T_AAAA, 1, 0, 1232);
	pkt = relay(&c, "six.cluster.local.", LDNS_RR_TYPE_AAAA, 1, LDNS_RCODE_NOERROR, rrs,
	    PASSWIRE_ADDRS + 3, &r);
	assert_int_equal(ldns_pkt_ancount(pkt), PASSWIRE_ADDRS + 3);
	assert_int_equal(r.n6, PASSWIRE_ADDRS + 3);
	assert_int_equal(r.n4, 0);
	assert_int_equal(r.a6[PASSWIRE_ADDRS - 1].s6_addr[15], PASSWIRE_ADDRS);
	ldns_pkt_free(pkt);
}

/* At b + *n: a label (length byte and bytes, or "" for none), then a pointer to ptr. */
static void
label_ptr(uint8_t *b, size_t *n, const char *label, size_t ptr)
{
	size_t l = strlen(label);

	if (l > 0) {
		b[(*n)++] = (uint8_t)l;
		memcpy(b + *n, label, l);
		*n += l;
	}
	put16(b + *n, (uint16_t)(0xc000 | ptr));
	*n += 2;
}

/* After an owner at b + *n: TYPE, CLASS IN, TTL 5, room for RDLENGTH; its offset. */
static size_t
rr_head(uint8_t *b, size_t *n, uint16_t type)
{
	size_t rd;

	put16(b + *n, type);
	put16(b + *n + 2, 1);
	put16(b + *n + 4, 0);
	put16(b + *n + 6, 5);
	rd = *n + 8;
	*n = rd + 2;
	return rd;
}

/* By hand, with compression pointers inside CNAME, SRV and SOA rdata: the names come
 * out whole. */
static void
test_answer_pointers_in_rdata(void **state)
{
	uint8_t b[512];
	struct passwire_result r;
	struct client c;
	ldns_pkt *pkt;
	size_t n, outlen, rd;
	const size_t zone = HDR + 4;	/* "cluster.local" in the question */

	(void)state;
	n = resp_hand(b, QID, F_QR | F_AA, 1, "svc.cluster.local", T_SRV, 1);
	put16(b + 6, 2);		/* ANCOUNT */
	put16(b + 8, 1);		/* NSCOUNT */
	/* <ptr question> SRV 0 10 80 web.<ptr cluster.local> */
	label_ptr(b, &n, "", HDR);
	rd = rr_head(b, &n, T_SRV);
	put16(b + n, 0);
	put16(b + n + 2, 10);
	put16(b + n + 4, 80);
	n += 6;
	label_ptr(b, &n, "web", zone);
	put16(b + rd, (uint16_t)(n - rd - 2));
	/* web.<ptr> CNAME pod.<ptr> */
	label_ptr(b, &n, "web", zone);
	rd = rr_head(b, &n, T_CNAME);
	label_ptr(b, &n, "pod", zone);
	put16(b + rd, (uint16_t)(n - rd - 2));
	/* <ptr cluster.local> SOA ns.<ptr> host.<ptr> 1 0 0 0 0 */
	label_ptr(b, &n, "", zone);
	rd = rr_head(b, &n, T_SOA);
	label_ptr(b, &n, "ns", zone);
	label_ptr(b, &n, "host", zone);
	memset(b + n, 0, 20);
	b[n + 3] = 1;
	n += 20;
	put16(b + rd, (uint16_t)(n - rd - 2));

	client_make(&c, CID, F_RD, "SVC.cluster.local", T_SRV, 0, 0, 512);
	assert_int_equal(passwire_check(b, n, QID, (const uint8_t *)"\003svc\007cluster\005local",
	    T_SRV), PASSWIRE_OK);
	pkt = answer_ok(b, n, &c, &r, &outlen);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_true(rr_is(ldns_pkt_answer(pkt), 0, "svc.cluster.local. 5 IN SRV 0 10 80 web.cluster.local."));
	assert_true(rr_is(ldns_pkt_answer(pkt), 1, "web.cluster.local. 5 IN CNAME pod.cluster.local."));
	assert_true(rr_is(ldns_pkt_authority(pkt), 0,
	    "cluster.local. 5 IN SOA ns.cluster.local. host.cluster.local. 1 0 0 0 0"));
	assert_int_equal(r.dropped, 0);
	ldns_pkt_free(pkt);
	/* It fits: every name is written in full (no pointer, here no 0xc0 byte at all: no
	 * label is 64+ long or holds such a byte), whatever the server's pointers were. */
	{
		uint8_t out[1024];

		assert_int_equal(passwire_answer(b, n, ZONE, &c.cl, out, sizeof(out), &outlen,
		    &r), 0);
		/* SRV 19 + 10 + 6 + 19, CNAME 19 + 10 + 19, SOA 15 + 10 + 18 + 20 + 20 */
		assert_int_equal(outlen, 35 + 54 + 48 + 83);
		assert_null(memchr(out + HDR, 0xc0, outlen - HDR));
	}
	/* Too large for the client in full (a limit of 138 bytes stands for a headless
	 * Service's many records): compressed by our own table, never with the server's
	 * offsets: owners and the names in CNAME and SOA data point into it (at the
	 * question's "SVC.cluster.local" at 12 and "cluster.local" at 16, or at "web..."
	 * written before), SRV's target, which RFC 3597 4 keeps uncompressed, is in full.
	 * 12 + 19 + 4; SRV: 2 + 10 + 6 + 19; CNAME: web + ptr 6, 10, pod + ptr 6; SOA: 2,
	 * 10, ns + ptr 5, host + ptr 7, 20. */
	{
		static const uint8_t srv_target[] = "\003web\007cluster\005local";
		static const uint8_t cname_target[] = "\003pod\300";
		uint8_t out[1024];

		c.cl.limit = 35 + 37 + 22 + 44;
		pkt = answer_ok(b, n, &c, &r, &outlen);
		assert_false(r.truncated);
		assert_true(rr_is(ldns_pkt_answer(pkt), 1, "web.cluster.local. 5 IN CNAME pod.cluster.local."));
		assert_true(rr_is(ldns_pkt_authority(pkt), 0,
		    "cluster.local. 5 IN SOA ns.cluster.local. host.cluster.local. 1 0 0 0 0"));
		ldns_pkt_free(pkt);
		assert_int_equal(passwire_answer(b, n, ZONE, &c.cl, out, sizeof(out), &outlen,
		    &r), 0);
		assert_int_equal(outlen, 35 + 37 + 22 + 44);
		assert_non_null(memmem(out, outlen, srv_target, sizeof(srv_target)));
		assert_non_null(memmem(out, outlen, cname_target, sizeof(cname_target) - 1));
		for (rd = HDR + 19 + 4; rd + 1 < outlen; rd++)	/* no pointer past itself */
			if ((out[rd] & 0xc0) == 0xc0 && out[rd] != 0xff)
				assert_true((size_t)((out[rd] & 0x3f) << 8 | out[rd + 1]) < rd);
		/* a byte less: truncated */
		c.cl.limit--;
		pkt = answer_ok(b, n, &c, &r, &outlen);
		assert_true(r.truncated && ldns_pkt_tc(pkt));
		ldns_pkt_free(pkt);
	}
}

static void
test_answer_malformed(void **state)
{
	static const char *const rrs[] = { "an a.cluster.local. 5 IN A 10.0.0.1" };
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL, out[1024], b[64];
	size_t len, outlen, n;

	(void)state;
	client_make(&c, CID, F_RD, "a.cluster.local", T_A, 0, 0, 512);
	len = resp_ldns(&wire, QID, "a.cluster.local.", LDNS_RR_TYPE_A, 1, 0,
	    LDNS_RCODE_NOERROR, rrs, 1);
	/* cut inside the record */
	assert_int_equal(passwire_answer(wire, len - 3, ZONE, &c.cl, out, sizeof(out), &outlen,
	    &r), -1);
	/* ANCOUNT says 2 */
	wire[7] = 2;
	assert_int_equal(passwire_answer(wire, len, ZONE, &c.cl, out, sizeof(out), &outlen, &r),
	    -1);
	LDNS_FREE(wire);
	/* a pointer loop in an answer's owner */
	n = resp_hand(b, QID, F_QR, 1, "a.cluster.local", T_A, 1);
	put16(b + 6, 1);
	put16(b + n, (uint16_t)(0xc000 | n));
	put16(b + n + 2, T_A); put16(b + n + 4, 1); put16(b + n + 6, 0); put16(b + n + 8, 5);
	put16(b + n + 10, 4);
	memset(b + n + 12, 1, 4);
	assert_int_equal(passwire_answer(b, n + 16, ZONE, &c.cl, out, sizeof(out), &outlen, &r),
	    -1);
}

/* An extended rcode in the server's OPT (RFC 6891 6.1.3: the upper 8 bits of 12): BADVERS
 * is 16 with the header's 4 bits 0, which alone would read as NOERROR. */
static void
test_answer_extended_rcode(void **state)
{
	static const char *const rrs[] = { "an a.cluster.local. 5 IN A 10.0.0.1" };
	static const uint8_t opt[] = { 0, 0, T_OPT, 0x04, 0xd0, 1, 0, 0, 0, 0, 0 };
	struct passwire_result r;
	struct client c;
	uint8_t *wire = NULL, b[600];
	ldns_pkt *pkt;
	size_t len, outlen;

	(void)state;
	client_make(&c, CID, F_RD, "a.cluster.local", T_A, 1, 0, 1232);
	len = resp_ldns(&wire, QID, "a.cluster.local.", LDNS_RR_TYPE_A, 1, 0, LDNS_RCODE_NOERROR,
	    rrs, 1);
	/* then an OPT: 1232 bytes, extended rcode 1 (1 << 4 | 0: BADVERS), version 0 */
	assert_true(len + sizeof(opt) <= sizeof(b));
	memcpy(b, wire, len);
	memcpy(b + len, opt, sizeof(opt));
	put16(b + 10, 1);
	LDNS_FREE(wire);
	pkt = answer_ok(b, len + sizeof(opt), &c, &r, &outlen);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 0);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	assert_int_equal(r.rcode, LDNS_RCODE_SERVFAIL);
	assert_int_equal(r.server_rcode, 16);
	ldns_pkt_free(pkt);
}

static void
test_servfail(void **state)
{
	struct passwire_result r;
	struct client c;
	uint8_t out[600];
	ldns_pkt *pkt = NULL;
	size_t outlen;

	(void)state;
	client_make(&c, CID, F_RD | F_CD, "X.cluster.local", T_A, 1, 1, 512);
	assert_int_equal(passwire_servfail(&c.cl, out, sizeof(out), &outlen, &r), 0);
	assert_int_equal(ldns_wire2pkt(&pkt, out, outlen), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), CID);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	assert_true(ldns_pkt_qr(pkt) && ldns_pkt_rd(pkt) && ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_aa(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt) + ldns_pkt_nscount(pkt), 0);
	assert_true(ldns_pkt_edns(pkt));
	assert_true(ldns_pkt_edns_do(pkt));
	assert_memory_equal(out + HDR, c.q + HDR, c.cl.question_end - HDR);
	assert_int_equal(r.rcode, LDNS_RCODE_SERVFAIL);
	assert_int_equal(r.n4 + r.n6 + r.dropped, 0);
	ldns_pkt_free(pkt);
	client_make(&c, CID, 0, "X.cluster.local", T_A, 0, 0, 512);
	assert_int_equal(passwire_servfail(&c.cl, out, sizeof(out), &outlen, &r), 0);
	assert_int_equal(outlen, c.cl.question_end);
	assert_int_equal(rd16(out + 10), 0);
	/* no room */
	assert_int_equal(passwire_servfail(&c.cl, out, c.cl.question_end - 1, &outlen, &r), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_wire),
		cmocka_unit_test(test_query_refuses),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_answer_in_zone),
		cmocka_unit_test(test_answer_outside_dropped),
		cmocka_unit_test(test_answer_nxdomain_and_errors),
		cmocka_unit_test(test_answer_edns),
		cmocka_unit_test(test_answer_truncation),
		cmocka_unit_test(test_answer_compressed),
		cmocka_unit_test(test_answer_too_large_in_full),
		cmocka_unit_test(test_answer_aaaa_many),
		cmocka_unit_test(test_answer_pointers_in_rdata),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_answer_extended_rcode),
		cmocka_unit_test(test_servfail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
