/* passwire.c: a stub zone's query on the wire, and its server's answer turned into the
 * client's (no I/O).
 *
 * The answer is read with ldns (ldns_wire2pkt): it comes from a server, not from the
 * per-query path's clients, and needs every record type's names decompressed, which
 * ldns knows. What goes back to the client is written record by record, so that only
 * the zone's records and the client's own header and question go out. */
#include "passwire.h"

#include <ldns/ldns.h>
#include <string.h>

#include "query.h"

#define HDR 12
#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define OPCODE(f) (((f) >> 11) & 0xf)
#define EDNS_DO 0x8000

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Length of the plain wire name at w[0..cap) (labels to the root, no pointer, at most
 * 255 bytes), or 0. */
static size_t
name_len(const uint8_t *w, size_t cap)
{
	size_t off = 0;

	while (off < cap && off < 255) {
		uint8_t l = w[off];

		if (l & 0xc0)
			return 0;
		off += 1 + (size_t)l;
		if (l == 0)
			return off <= 255 ? off : 0;
	}
	return 0;
}

size_t
passwire_query(uint16_t id, const uint8_t *qname, uint16_t qtype, uint8_t *out, size_t cap)
{
	size_t n = name_len(qname, 255), i, off;

	if (n == 0 || cap < PASSWIRE_QUERY_MAX)
		return 0;
	memset(out, 0, HDR);
	wr16(out, id);
	wr16(out + 4, 1);		/* QDCOUNT; flags 0: QUERY, RD clear */
	wr16(out + 10, 1);		/* ARCOUNT: the OPT */
	for (i = 0; i < n; i++)		/* length bytes are under 64: lower() keeps them */
		out[HDR + i] = lower(qname[i]);
	off = HDR + n;
	wr16(out + off, qtype);
	wr16(out + off + 2, LDNS_RR_CLASS_IN);
	off += 4;
	out[off++] = 0;			/* OPT: root owner */
	wr16(out + off, LDNS_RR_TYPE_OPT);
	wr16(out + off + 2, QUERY_EDNS_PAYLOAD);
	memset(out + off + 4, 0, 6);	/* extended rcode, version, flags (DO clear), rdlen */
	return off + 10;
}

enum passwire_status
passwire_check(const uint8_t *resp, size_t len, uint16_t id, const uint8_t *qname,
    uint16_t qtype)
{
	size_t n = name_len(qname, 255), i;
	uint16_t flags;

	if (len < HDR || rd16(resp) != id)
		return PASSWIRE_FOREIGN;
	flags = rd16(resp + 2);
	if (!(flags & FLAG_QR) || OPCODE(flags) != LDNS_PACKET_QUERY)
		return PASSWIRE_FOREIGN;
	/* The question must be ours, byte for byte but for case (we sent it lowercase; a
	 * server may answer in its own case). A server that leaves it out (RFC 1035 allows
	 * that for some errors) cannot be told from a guess: ignored too. */
	if (rd16(resp + 4) != 1 || n == 0 || len < HDR + n + 4)
		return PASSWIRE_FOREIGN;
	for (i = 0; i < n; i++)
		if (lower(resp[HDR + i]) != lower(qname[i]))
			return PASSWIRE_FOREIGN;
	if (rd16(resp + HDR + n) != qtype || rd16(resp + HDR + n + 2) != LDNS_RR_CLASS_IN)
		return PASSWIRE_FOREIGN;
	if (flags & FLAG_TC)
		return PASSWIRE_TRUNCATED;
	return PASSWIRE_OK;
}

/* Copy the records of list that lie at or below zone into b; count them into *n and
 * the left-out ones into r->dropped, the answer's addresses into r. 0, or -1 when b is
 * out of room. */
static int
copy_records(ldns_buffer *b, const ldns_rr_list *list, const ldns_rdf *zone, int section,
    uint16_t *n, struct passwire_result *r)
{
	size_t i;

	*n = 0;
	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		const ldns_rdf *owner = ldns_rr_owner(rr), *rd;
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (t == LDNS_RR_TYPE_OPT || (ldns_dname_compare(owner, zone) != 0 &&
		    !ldns_dname_is_subdomain(owner, zone))) {
			r->dropped++;
			continue;
		}
		if (ldns_rr2buffer_wire(b, rr, section) != LDNS_STATUS_OK ||
		    ldns_buffer_position(b) > 65535)
			return -1;
		(*n)++;
		rd = ldns_rr_rdf(rr, 0);
		if (section != LDNS_SECTION_ANSWER || rd == NULL)
			continue;
		if (t == LDNS_RR_TYPE_A && ldns_rdf_size(rd) == 4 && r->n4++ < PASSWIRE_ADDRS)
			memcpy(&r->a4[r->n4 - 1], ldns_rdf_data(rd), 4);
		else if (t == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rd) == 16 &&
		    r->n6++ < PASSWIRE_ADDRS)
			memcpy(&r->a6[r->n6 - 1], ldns_rdf_data(rd), 16);
	}
	return 0;
}

/* Header, the client's question, then (unless tc) the records in b, then our OPT. */
static int
write_client(const struct passwire_client *cl, int aa, int rcode,
    const uint16_t counts[3], const ldns_buffer *b, int tc, uint8_t *out, size_t cap,
    size_t *outlen)
{
	uint16_t cflags = rd16(cl->query + 2);
	uint16_t flags = FLAG_QR | FLAG_RA | (cflags & (FLAG_RD | FLAG_CD)) |
	    (uint16_t)(rcode & 0xf);
	size_t qlen = cl->question_end - HDR, rlen = tc || b == NULL ? 0 : ldns_buffer_position(b);
	size_t need = HDR + qlen + rlen + (cl->edns ? 11 : 0);
	size_t off;

	if (need > cap || need > cl->limit)
		return -1;
	if (aa)
		flags |= FLAG_AA;
	if (tc)
		flags |= FLAG_TC;
	wr16(out, rd16(cl->query));
	wr16(out + 2, flags);
	wr16(out + 4, 1);
	wr16(out + 6, tc ? 0 : counts[0]);
	wr16(out + 8, tc ? 0 : counts[1]);
	wr16(out + 10, (uint16_t)((tc ? 0 : counts[2]) + (cl->edns ? 1 : 0)));
	memcpy(out + HDR, cl->query + HDR, qlen);
	off = HDR + qlen;
	if (rlen > 0)
		memcpy(out + off, ldns_buffer_begin(b), rlen);
	off += rlen;
	if (cl->edns) {
		out[off] = 0;
		wr16(out + off + 1, LDNS_RR_TYPE_OPT);
		wr16(out + off + 3, QUERY_EDNS_PAYLOAD);
		out[off + 5] = (uint8_t)(rcode >> 4);
		out[off + 6] = 0;
		wr16(out + off + 7, cl->dnssec_ok ? EDNS_DO : 0);
		wr16(out + off + 9, 0);
		off += 11;
	}
	*outlen = off;
	return 0;
}

int
passwire_answer(const uint8_t *resp, size_t len, const char *zone,
    const struct passwire_client *cl, uint8_t *out, size_t cap, size_t *outlen,
    struct passwire_result *r)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *zrdf = NULL;
	ldns_buffer *b = NULL;
	uint16_t counts[3] = { 0, 0, 0 };
	int rc = -1, pass;

	memset(r, 0, sizeof(*r));
	if (ldns_wire2pkt(&pkt, resp, len) != LDNS_STATUS_OK)
		return -1;
	if ((zrdf = ldns_dname_new_frm_str(zone)) == NULL || (b = ldns_buffer_new(512)) == NULL)
		goto out;
	r->server_rcode = ldns_pkt_get_rcode(pkt);
	pass = r->server_rcode == LDNS_RCODE_NOERROR || r->server_rcode == LDNS_RCODE_NXDOMAIN;
	r->rcode = pass ? r->server_rcode : LDNS_RCODE_SERVFAIL;
	if (pass && (copy_records(b, ldns_pkt_answer(pkt), zrdf, LDNS_SECTION_ANSWER, &counts[0],
	    r) == -1 || copy_records(b, ldns_pkt_authority(pkt), zrdf, LDNS_SECTION_AUTHORITY,
	    &counts[1], r) == -1 || copy_records(b, ldns_pkt_additional(pkt), zrdf,
	    LDNS_SECTION_ADDITIONAL, &counts[2], r) == -1))
		goto out;
	if (write_client(cl, ldns_pkt_aa(pkt), r->rcode, counts, b, 0, out, cap, outlen) == 0) {
		rc = 0;
		goto out;
	}
	/* Header, question (at most 259 bytes) and OPT always fit in 512. */
	r->truncated = 1;
	r->n4 = r->n6 = 0;
	rc = write_client(cl, ldns_pkt_aa(pkt), r->rcode, counts, b, 1, out, cap, outlen);
out:
	ldns_buffer_free(b);
	ldns_rdf_deep_free(zrdf);
	ldns_pkt_free(pkt);
	return rc;
}

int
passwire_servfail(const struct passwire_client *cl, uint8_t *out, size_t cap,
    size_t *outlen, struct passwire_result *r)
{
	static const uint16_t none[3] = { 0, 0, 0 };

	memset(r, 0, sizeof(*r));
	r->rcode = r->server_rcode = LDNS_RCODE_SERVFAIL;
	return write_client(cl, 0, LDNS_RCODE_SERVFAIL, none, NULL, 0, out, cap, outlen);
}
