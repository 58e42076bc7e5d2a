/* fuzz_passwire.c: libFuzzer target for resolver/passwire.c: arbitrary bytes as a stub zone
 * server's answer to a fixed query; the client's answer re-parsed by ldns, aborts when an
 * invariant breaks (its ID and question, nothing outside the zone, within its limit, and
 * each section's records, read back through our name compression, the server's records
 * at or below the zone, in order). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "passwire.h"

#include "../unit/dns_wire.h"
#include "fuzz.h"

#define ZONE	"cluster.local"
#define QID	0x4242
#define CID	0x1234

static const uint8_t QNAME[] = "\003web\007cluster\005local";	/* and the root's 0 */
#define QNAME_LEN sizeof(QNAME)

/* The client's size: UDP's least and EDNS's usual, TCP's; and 160, no client's, so that
 * most answers take the compressed path (written again when too large in full). */
static const size_t limits[] = { 160, 512, 1232, 65535 };

/* Every record of list at or below zone. */
static int
all_in_zone(const ldns_rr_list *list, const ldns_rdf *zone)
{
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(list, i));

		if (ldns_dname_compare(o, zone) != 0 && !ldns_dname_is_subdomain(o, zone))
			return 0;
	}
	return 1;
}

/* Whether out is in, less what lies outside zone and OPT records: the same records (names
 * compared as ldns does, case aside), in the same order. */
static int
same_in_zone(const ldns_rr_list *in, const ldns_rr_list *out, const ldns_rdf *zone)
{
	size_t i, j = 0;

	for (i = 0; i < ldns_rr_list_rr_count(in); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(in, i);
		const ldns_rdf *o = ldns_rr_owner(rr);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT ||
		    (ldns_dname_compare(o, zone) != 0 && !ldns_dname_is_subdomain(o, zone)))
			continue;
		if (j >= ldns_rr_list_rr_count(out) ||
		    ldns_rr_compare(rr, ldns_rr_list_rr(out, j)) != 0)
			return 0;
		j++;
	}
	return j == ldns_rr_list_rr_count(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t resp[65535 + 64], out[65535];
	uint8_t q[HDR + QNAME_LEN + 4], ctl;
	struct passwire_client cl;
	struct passwire_result r;
	ldns_pkt *pkt = NULL;
	ldns_rdf *zone;
	size_t len, outlen = 0;
	uint16_t qtype;

	if (size < 2)
		return 0;
	ctl = data[0];
	qtype = (ctl & 0x40) ? 33 : 1;	/* SRV or A */
	/* the client's query: its ID, RD and CD from the control byte, the name in its case */
	memset(q, 0, HDR);
	q[0] = CID >> 8;
	q[1] = CID & 0xff;
	q[2] = (ctl & 0x01) ? 0x01 : 0;
	q[3] = (ctl & 0x02) ? 0x10 : 0;
	q[5] = 1;
	memcpy(q + HDR, "\003WEB\007cluster\005Local", QNAME_LEN);
	q[HDR + QNAME_LEN] = 0;
	q[HDR + QNAME_LEN + 1] = (uint8_t)qtype;
	q[HDR + QNAME_LEN + 2] = 0;
	q[HDR + QNAME_LEN + 3] = 1;
	cl.query = q;
	cl.question_end = sizeof(q);
	cl.edns = (ctl & 0x04) != 0;
	cl.dnssec_ok = (ctl & 0x08) != 0;
	cl.limit = limits[(ctl >> 4) & 3];

	/* The response: the input as it is, or (bit 7) the input after a header and question
	 * that pass passwire_check, so that the records are reached often. */
	data++;
	size--;
	if (ctl & 0x80) {
		size_t h = HDR + QNAME_LEN + 4;

		if (size < 8 || size > sizeof(resp) - h)
			return 0;
		memset(resp, 0, h);
		resp[0] = QID >> 8;
		resp[1] = QID & 0xff;
		resp[2] = (uint8_t)(0x80 | (data[0] & 0x05));	/* QR, AA and RD maybe */
		resp[3] = data[1];				/* RA..rcode */
		resp[5] = 1;
		memcpy(resp + 6, data + 2, 6);			/* the other counts */
		memcpy(resp + HDR, QNAME, QNAME_LEN);
		resp[HDR + QNAME_LEN + 1] = (uint8_t)qtype;
		resp[HDR + QNAME_LEN + 3] = 1;
		memcpy(resp + h, data + 8, size - 8);
		len = h + size - 8;
	} else {
		if (size > sizeof(resp))
			return 0;
		memcpy(resp, data, size);
		len = size;
	}

	if (passwire_check(resp, len, QID, QNAME, qtype) != PASSWIRE_OK)
		return 0;
	if (passwire_answer(resp, len, ZONE, &cl, out, sizeof(out), &outlen, &r) != 0)
		return 0;
	CHECK(outlen >= HDR + QNAME_LEN + 4 && outlen <= cl.limit);
	CHECK(out[0] == (CID >> 8) && out[1] == (CID & 0xff));
	CHECK(memcmp(out + HDR, q + HDR, sizeof(q) - HDR) == 0);
	CHECK(rd16(out + 4) == 1);
	CHECK(!!(out[2] & 0x01) == !!(ctl & 0x01));	/* RD echoed */
	CHECK(!!(out[3] & 0x10) == !!(ctl & 0x02));	/* CD echoed */
	CHECK(ldns_wire2pkt(&pkt, out, outlen) == LDNS_STATUS_OK);
	CHECK((zone = ldns_dname_new_frm_str(ZONE)) != NULL);
	CHECK(all_in_zone(ldns_pkt_answer(pkt), zone));
	CHECK(all_in_zone(ldns_pkt_authority(pkt), zone));
	CHECK(all_in_zone(ldns_pkt_additional(pkt), zone));
	CHECK(ldns_pkt_edns(pkt) == cl.edns);
	CHECK(!cl.edns || ldns_pkt_edns_do(pkt) == cl.dnssec_ok);
	CHECK(!r.truncated || (ldns_pkt_tc(pkt) && ldns_pkt_ancount(pkt) == 0 &&
	    ldns_pkt_nscount(pkt) == 0));
	CHECK(r.rcode == 0 || r.rcode == 3 || r.rcode == 2);
	CHECK((int)ldns_pkt_get_rcode(pkt) == (r.rcode & 0xf));
	CHECK(r.rcode != 2 || ldns_pkt_ancount(pkt) + ldns_pkt_nscount(pkt) == 0);
	if (r.rcode != 2 && !r.truncated) {
		ldns_pkt *in = NULL;

		CHECK(ldns_wire2pkt(&in, resp, len) == LDNS_STATUS_OK);
		CHECK(same_in_zone(ldns_pkt_answer(in), ldns_pkt_answer(pkt), zone));
		CHECK(same_in_zone(ldns_pkt_authority(in), ldns_pkt_authority(pkt), zone));
		CHECK(same_in_zone(ldns_pkt_additional(in), ldns_pkt_additional(pkt), zone));
		ldns_pkt_free(in);
	}
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(pkt);
	return 0;
}
