/* fuzz_query.c: libFuzzer target for resolver/query.c; every answer re-parsed by ldns, aborts
 * when an invariant breaks. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "policy.h"
#include "query.h"

#include "../unit/dns_wire.h"
#include "fuzz.h"

/* server.c gives a UDP answer QUERY_EDNS_PAYLOAD bytes; more here, so that the UDP bound
 * is seen to come from query_answer itself, not from the buffer */
#define UDP_OUT	4096
#define TCP_OUT	65535

static struct policy *pol;
static struct policyset *set;
static struct in_addr v4[100];
static struct in6_addr v6[4];

/* The policy and addresses, once. */
static void
init(void)
{
	static const char *const rules[] = { "allowed.example.com", "a.b.example.com",
		"*.wild.example.org", "exact.wild.example.org", "a.io", "x_y-z.example.net" };
	struct portrange pr = { 443, 443 };
	char err[256];
	size_t i;

	if (pol != NULL)
		return;
	pol = policy_new();
	CHECK(pol != NULL);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		CHECK(policy_add(pol, rules[i], &pr, 1, 0, "fuzz", 0, err, sizeof(err)) == 0);
	CHECK((set = policyset_new(pol)) != NULL);
	CHECK(policyset_add(set, "p", err, sizeof(err)) == 1);
	CHECK(policy_add(policyset_policy(set, 1), "only-p.example.com", &pr, 1, 0, "fuzz", 0,
	    err, sizeof(err)) == 0);
	CHECK(policyset_finish(set) == 0);
	for (i = 0; i < 100; i++)
		v4[i].s_addr = htonl(0xc0000200u + (uint32_t)i);	/* 192.0.2.0 + i */
	for (i = 0; i < 4; i++) {
		CHECK(inet_pton(AF_INET6, "2001:db8::", &v6[i]) == 1);
		v6[i].s6_addr[15] = (uint8_t)(i + 1);
	}
}

/* The environment is picked by the query ID's low 3 bits, so the fuzzer reaches each. */
static struct query_env
env_for(const uint8_t *data, size_t size, int tcp)
{
	struct query_env e;
	unsigned pick = size >= 2 ? data[1] & 7 : 0;

	memset(&e, 0, sizeof(e));
	e.policies = set;
	e.policy = size >= 1 ? data[0] & 1 : 0;	/* the default, or policy p */
	e.report = size >= 1 && (data[0] & 2) != 0;
	e.a = v4;
	e.aaaa = v6;
	e.ttl = 60;
	e.negative_ttl = 30;
	e.tcp = tcp;
	switch (pick) {
	case 0:	/* usual: one v4, one v6 */
		e.na = 1;
		e.naaaa = 1;
		break;
	case 1:	/* many: forces truncation over UDP */
		e.na = 100;
		e.naaaa = 4;
		break;
	case 2:	/* none at all */
		break;
	case 3:	/* `blocked refused`, v4 only */
		e.na = 1;
		e.blocked_refused = 1;
		break;
	case 4:	/* just over 1232 with an OPT for a short name: 37 + 76 * 16 + 11 */
		e.na = 76;
		break;
	case 5:	/* around 512: 29 records fit without EDNS, ... */
		e.na = 29;
		break;
	case 6:	/* ... 30 do not */
		e.na = 30;
		break;
	case 7:	/* several of each */
		e.na = 3;
		e.naaaa = 3;
		break;
	}
	return e;
}

/* The question name as the allowlist would read it: NULL-terminated lowercase dotted
 * text, or "" when a byte no host name holds is in it. *named: 1 when the name is one
 * report mode answers (not the root, only letters, digits, '-' and '_', at most
 * DNAME_MAX as text), whether or not it is a host name a rule could hold. Written
 * independently of query.c: walks the (already validated) answer copy of the question. */
static void
expected_match(const uint8_t *name, size_t len, char *out, size_t outcap, int *named)
{
	char text[4 * 256];
	size_t o = 0, off = 0;
	enum dname_status st;

	out[0] = '\0';
	*named = 0;
	while (off < len && name[off] != 0) {
		uint8_t l = name[off++];
		size_t j;

		CHECK(l <= 63 && off + l <= len);
		for (j = 0; j < l; j++) {
			uint8_t c = name[off + j];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return;
			text[o++] = (char)c;
		}
		off += l;
		text[o++] = '.';
	}
	if (o == 0)
		return;
	text[--o] = '\0';
	*named = o <= DNAME_MAX;
	CHECK(outcap >= DNAME_MAX + 1);
	/* dname_normalize also refuses IP-looking names; the matcher would never hold one */
	st = dname_normalize(text, o, out, NULL);
	if (st != DNAME_OK)
		out[0] = '\0';
}

/* Invariants of one answer to the query data[0..size). */
static void
check_answer(const uint8_t *data, size_t size, const struct query_env *env,
    enum query_result res, const uint8_t *out, size_t outlen, size_t outcap,
    const struct query_info *info)
{
	ldns_pkt *pkt = NULL;
	uint16_t qf, af, qd, an, ns, ar;
	size_t limit, i;

	/* info is always filled */
	CHECK(info->verdict <= VERDICT_DROP);
	CHECK(memchr(info->qname, '\0', sizeof(info->qname)) != NULL);
	for (i = 0; info->qname[i] != '\0'; i++)	/* escaped: printable, no blanks */
		CHECK(info->qname[i] > 0x20 && info->qname[i] < 0x7f);
	CHECK(!info->has_question || info->qname[0] != '\0');

	/* QUERY_DROP iff under 12 bytes or QR set */
	if (size < HDR || (data[2] & 0x80)) {
		CHECK(res == QUERY_DROP);
		CHECK(outlen == 0);
		CHECK(info->verdict == VERDICT_DROP && info->reason != NULL);
		return;
	}
	CHECK(res == QUERY_ANSWER);
	CHECK(info->verdict != VERDICT_DROP);

	/* never larger than the transport allows */
	if (env->tcp)
		limit = outcap < 65535 ? outcap : 65535;
	else {
		limit = QUERY_UDP_MIN;
		if (info->edns && info->edns_size > limit)
			limit = info->edns_size < QUERY_EDNS_PAYLOAD ? info->edns_size :
			    QUERY_EDNS_PAYLOAD;
	}
	CHECK(outlen >= HDR && outlen <= limit && outlen <= outcap);

	/* it parses, with the ID and the flags a client needs */
	CHECK(ldns_wire2pkt(&pkt, out, outlen) == LDNS_STATUS_OK);
	qf = rd16(data + 2);
	af = rd16(out + 2);
	qd = rd16(out + 4);
	an = rd16(out + 6);
	ns = rd16(out + 8);
	ar = rd16(out + 10);
	CHECK(rd16(out) == rd16(data) && ldns_pkt_id(pkt) == rd16(data));
	CHECK((af & F_QR) && (af & F_AA) && (af & F_RA));
	CHECK(ldns_pkt_qr(pkt) && ldns_pkt_aa(pkt) && ldns_pkt_ra(pkt));
	CHECK((af & (F_RD | F_CD)) == (qf & (F_RD | F_CD)));
	CHECK(((af >> 11) & 0xf) == ((qf >> 11) & 0xf));
	CHECK((af & 0xf) == (info->rcode & 0xf));
	CHECK(ldns_pkt_qdcount(pkt) == qd && ldns_pkt_ancount(pkt) == an &&
	    ldns_pkt_nscount(pkt) == ns);
	CHECK(qd <= 1 && ns <= 1 && ar <= 1);

	/* an OPT only when the query had one; then payload 1232, version 0, the rcode's top */
	CHECK(ar == 0 || info->edns);
	if (ar == 1) {
		CHECK(ldns_pkt_edns_udp_size(pkt) == QUERY_EDNS_PAYLOAD);
		CHECK(ldns_pkt_edns_version(pkt) == 0);
		CHECK(ldns_pkt_edns_extended_rcode(pkt) == ((info->rcode >> 4) & 0xff));
		CHECK(ldns_pkt_edns_do(pkt) == (info->dnssec_ok != 0));
	} else {
		CHECK(info->rcode <= 15);
	}

	/* the question, when there is one, is the query's first, byte for byte */
	if (qd == 1) {
		size_t qlen;
		char want[DNAME_MAX + 2];

		CHECK(info->has_question);
		CHECK(ldns_rr_list_rr_count(ldns_pkt_question(pkt)) == 1);
		qlen = ldns_rdf_size(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0))) + 4;
		CHECK(HDR + qlen <= outlen && HDR + qlen <= size);
		CHECK(memcmp(out + HDR, data + HDR, qlen) == 0);
		CHECK(rd16(out + HDR + qlen - 4) == info->qtype);
		CHECK(rd16(out + HDR + qlen - 2) == info->qclass);

		/* allow iff the name, read independently, is on the allowlist */
		if (info->verdict == VERDICT_ALLOW || info->verdict == VERDICT_DENY) {
			int allowed, named;

			expected_match(out + HDR, qlen - 4, want, sizeof(want), &named);
			allowed = want[0] != '\0' &&
			    (policy_match_name(pol, want, strlen(want)) != NULL ||
			    (env->policy == 1 && policy_match_name(policyset_policy(set, 1), want,
			    strlen(want)) != NULL));
			/* report mode answers every name but the root and names no host name
			 * is like, and says which enforce would refuse */
			CHECK((allowed || (env->report && named)) ==
			    (info->verdict == VERDICT_ALLOW));
			CHECK(info->would_deny == (!allowed && info->verdict == VERDICT_ALLOW));
			CHECK(info->qclass == 1);
		}
	}

	/* records: only for allowed names; TC answers carry none */
	if (info->verdict == VERDICT_ALLOW) {
		CHECK((info->rule != NULL) != info->would_deny && info->rcode == LDNS_RCODE_NOERROR && qd == 1);
		CHECK(an == info->nanswer4 + info->nanswer6);
		CHECK(info->nanswer4 <= env->na && info->nanswer6 <= env->naaaa);
		if (!info->truncated)
			CHECK((an > 0) != (ns == 1));	/* addresses, or NODATA with SOA */
	} else {
		CHECK(info->rule == NULL && an == 0);
	}
	if (info->verdict == VERDICT_DENY)
		CHECK(info->rcode == (env->blocked_refused ? LDNS_RCODE_REFUSED :
		    LDNS_RCODE_NXDOMAIN));
	if (info->verdict == VERDICT_INVALID)
		CHECK(info->reason != NULL && info->rcode != LDNS_RCODE_NOERROR && ns == 0);
	CHECK(((af & F_TC) != 0) == (info->truncated != 0));
	if (af & F_TC)
		CHECK(an == 0 && ns == 0 && !env->tcp);
	ldns_pkt_free(pkt);
}

/* The same query with a stub zone ("wild.example.org", holding allowed names, and
 * "cluster.local"): passed (QUERY_PASS, nothing written) exactly when the name, read
 * independently, is at or below a zone and no port-less deny refuses it (this policy has
 * none); otherwise the very answer it had without the zones. */
static void
check_stub(const uint8_t *data, size_t size, const struct query_env *plain,
    enum query_result pres, const uint8_t *pout, size_t plen, const struct query_info *pi)
{
	static struct stub_zone zones[2];
	static uint8_t out[UDP_OUT];
	struct query_env e = *plain;
	struct query_info si;
	enum query_result sr;
	size_t slen = 0, i;
	int below = 0;

	if (zones[0].zone == NULL) {
		zones[0].zone = (char *)"wild.example.org";
		zones[1].zone = (char *)"cluster.local";
		for (i = 0; i < 2; i++)
			zones[i].len = strlen(zones[i].zone);
	}
	e.stub_zones = zones;
	e.nstub_zones = 2;
	sr = query_answer(data, size, &e, out, sizeof(out), &slen, &si);
	if (pi->verdict == VERDICT_ALLOW || pi->verdict == VERDICT_DENY) {
		char want[DNAME_MAX + 2];
		int named;
		size_t wl;

		expected_match(pout + HDR, pi->has_question ? plen - HDR : 0, want, sizeof(want),
		    &named);
		wl = strlen(want);
		for (i = 0; i < 2 && want[0] != '\0'; i++) {
			size_t zl = zones[i].len;

			if (wl == zl ? strcmp(want, zones[i].zone) == 0 :
			    wl > zl && want[wl - zl - 1] == '.' && strcmp(want + wl - zl,
			    zones[i].zone) == 0)
				below = 1;
		}
	}
	if (!below) {
		CHECK(sr == pres && si.verdict == pi->verdict && slen == plen &&
		    memcmp(out, pout, plen) == 0);
		return;
	}
	CHECK(sr == QUERY_PASS && si.verdict == VERDICT_PASS && slen == 0);
	CHECK(si.stub == &zones[0] || si.stub == &zones[1]);
	CHECK(si.rule == NULL && si.has_question && si.qclass == 1);
	CHECK(si.question_end > HDR && si.question_end <= size);
	CHECK(memcmp(pout + HDR, data + HDR, si.question_end - HDR) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t udp_out[UDP_OUT], tcp_out[TCP_OUT];
	struct query_info ui, ti;
	struct query_env ue, te;
	enum query_result ur, tr;
	size_t ulen = 0, tlen = 0;

	init();
	ue = env_for(data, size, 0);
	te = env_for(data, size, 1);
	ur = query_answer(data, size, &ue, udp_out, sizeof(udp_out), &ulen, &ui);
	check_answer(data, size, &ue, ur, udp_out, ulen, sizeof(udp_out), &ui);
	tr = query_answer(data, size, &te, tcp_out, sizeof(tcp_out), &tlen, &ti);
	check_answer(data, size, &te, tr, tcp_out, tlen, sizeof(tcp_out), &ti);

	/* the transport changes only the size: same decision, and the same bytes when the
	 * UDP answer was not truncated */
	CHECK(ur == tr && ui.verdict == ti.verdict && ui.rcode == ti.rcode &&
	    ui.reason == ti.reason && ui.rule == ti.rule);
	CHECK(strcmp(ui.qname, ti.qname) == 0);
	CHECK(!ti.truncated);
	if (ur == QUERY_ANSWER && !ui.truncated)
		CHECK(ulen == tlen && memcmp(udp_out, tcp_out, ulen) == 0);
	check_stub(data, size, &ue, ur, udp_out, ulen, &ui);
	return 0;
}
