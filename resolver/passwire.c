/* passwire.c: a stub zone's query on the wire, and its server's answer turned into the
 * client's (no I/O).
 *
 * The answer is read with ldns (ldns_wire2pkt): it comes from a server, not from the
 * per-query path's clients, and needs every record type's names decompressed, which
 * ldns knows. What goes back to the client is written record by record, so that only
 * the zone's records and the client's own header and question go out. Names are written
 * in full, or, when that is too large for the client, compressed (ldns's compression
 * table, filled from the client's question on): a headless Service's 60 addresses then
 * take 16 bytes each rather than 35, and fit a 1232-byte answer where they would have
 * been truncated. */
#include "passwire.h"

#include <ldns/ldns.h>
#include <string.h>

#include "dnswire.h"
#include "query.h"

static uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* An OPT record of ours at p (PASSWIRE_OPT bytes): root owner, our payload, the rcode's
 * upper bits, version 0, DO as given, no options. */
#define PASSWIRE_OPT 11
static void
put_opt(uint8_t *p, int rcode, int dnssec_ok)
{
	p[0] = 0;
	dnswire_wr16(p + 1, LDNS_RR_TYPE_OPT);
	dnswire_wr16(p + 3, QUERY_EDNS_PAYLOAD);
	p[5] = (uint8_t)(rcode >> 4);
	p[6] = 0;
	dnswire_wr16(p + 7, dnssec_ok ? DNSWIRE_EDNS_DO : 0);
	dnswire_wr16(p + 9, 0);
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
	memset(out, 0, DNSWIRE_HDR);
	dnswire_wr16(out, id);
	dnswire_wr16(out + 4, 1);		/* QDCOUNT; flags 0: QUERY, RD clear */
	dnswire_wr16(out + 10, 1);		/* ARCOUNT: the OPT */
	for (i = 0; i < n; i++)		/* length bytes are under 64: lower() keeps them */
		out[DNSWIRE_HDR + i] = lower(qname[i]);
	off = DNSWIRE_HDR + n;
	dnswire_wr16(out + off, qtype);
	dnswire_wr16(out + off + 2, LDNS_RR_CLASS_IN);
	put_opt(out + off + 4, 0, 0);	/* DO clear */
	return off + 4 + PASSWIRE_OPT;
}

enum passwire_status
passwire_check(const uint8_t *resp, size_t len, uint16_t id, const uint8_t *qname,
    uint16_t qtype)
{
	size_t n = name_len(qname, 255), i;
	uint16_t flags;

	if (len < DNSWIRE_HDR || dnswire_rd16(resp) != id)
		return PASSWIRE_FOREIGN;
	flags = dnswire_rd16(resp + 2);
	if (!(flags & DNSWIRE_QR) || DNSWIRE_OPCODE(flags) != LDNS_PACKET_QUERY)
		return PASSWIRE_FOREIGN;
	/* The question must be ours, byte for byte but for case (we sent it lowercase; a
	 * server may answer in its own case). A server that leaves it out (RFC 1035 allows
	 * that for some errors) cannot be told from a guess: ignored too. */
	if (dnswire_rd16(resp + 4) != 1 || n == 0 || len < DNSWIRE_HDR + n + 4)
		return PASSWIRE_FOREIGN;
	for (i = 0; i < n; i++)
		if (lower(resp[DNSWIRE_HDR + i]) != lower(qname[i]))
			return PASSWIRE_FOREIGN;
	if (dnswire_rd16(resp + DNSWIRE_HDR + n) != qtype ||
	    dnswire_rd16(resp + DNSWIRE_HDR + n + 2) != LDNS_RR_CLASS_IN)
		return PASSWIRE_FOREIGN;
	if (flags & DNSWIRE_TC)
		return PASSWIRE_TRUNCATED;
	return PASSWIRE_OK;
}

/* Copy the records of list that lie at or below zone into b, their names compressed
 * against names (the table of names written so far); count them into *n and the left-out
 * ones into r->dropped, the answer's addresses into r. 0; 1 when they pass 65535 bytes
 * (no message holds them); -1 when b cannot grow. */
static int
copy_records(ldns_buffer *b, ldns_rbtree_t *names, const ldns_rr_list *list,
    const ldns_rdf *zone, int section, uint16_t *n, struct passwire_result *r)
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
		if (ldns_rr2buffer_wire_compress(b, rr, section, names) != LDNS_STATUS_OK)
			return -1;
		if (ldns_buffer_position(b) > 65535)
			return 1;
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

/* Header (TC set when tc: then no records are given), the client's question, the
 * records recs[0..rlen) (written to follow the question), then our OPT. */
static int
write_client(const struct passwire_client *cl, int aa, int rcode,
    const uint16_t counts[3], const uint8_t *recs, size_t rlen, int tc, uint8_t *out,
    size_t cap, size_t *outlen)
{
	uint16_t cflags = dnswire_rd16(cl->query + 2);
	uint16_t flags = DNSWIRE_QR | DNSWIRE_RA | (cflags & (DNSWIRE_RD | DNSWIRE_CD)) |
	    (uint16_t)(rcode & 0xf);
	size_t qlen = cl->question_end - DNSWIRE_HDR;
	size_t need, off;

	need = DNSWIRE_HDR + qlen + rlen + (cl->edns ? PASSWIRE_OPT : 0);
	if (need > cap || need > cl->limit)
		return -1;
	if (aa)
		flags |= DNSWIRE_AA;
	if (tc)
		flags |= DNSWIRE_TC;
	dnswire_wr16(out, dnswire_rd16(cl->query));
	dnswire_wr16(out + 2, flags);
	dnswire_wr16(out + 4, 1);
	dnswire_wr16(out + 6, tc ? 0 : counts[0]);
	dnswire_wr16(out + 8, tc ? 0 : counts[1]);
	dnswire_wr16(out + 10, (uint16_t)((tc ? 0 : counts[2]) + (cl->edns ? 1 : 0)));
	memcpy(out + DNSWIRE_HDR, cl->query + DNSWIRE_HDR, qlen);
	off = DNSWIRE_HDR + qlen;
	if (rlen > 0)
		memcpy(out + off, recs, rlen);
	off += rlen;
	if (cl->edns) {
		put_opt(out + off, rcode, cl->dnssec_ok);
		off += PASSWIRE_OPT;
	}
	*outlen = off;
	return 0;
}

static int
compare_names(const void *a, const void *b)
{
	return ldns_dname_compare(a, b);
}

/* ldns_dname2buffer_wire_compress's table entries: a node of its own with a copy of the
 * name as key. */
static void
free_name(ldns_rbnode_t *node, void *arg)
{
	(void)arg;
	ldns_rdf_deep_free((ldns_rdf *)(uintptr_t)node->key);
	LDNS_FREE(node);
}

/* Into b, from its start, a header's room and the client's question, its name entered in
 * names (unless NULL): the records written after it then point at it (a name's offset in
 * b is its offset in the message), and their owners come out in the client's case. */
static int
start_message(ldns_buffer *b, ldns_rbtree_t *names, const struct passwire_client *cl)
{
	ldns_rdf *qname = NULL;
	size_t pos = DNSWIRE_HDR;
	int rc = -1;

	if (names == NULL) {		/* no table: the bytes as they are */
		if (!ldns_buffer_reserve(b, cl->question_end))
			return -1;
		ldns_buffer_write(b, cl->query, cl->question_end);
		return 0;
	}
	if (ldns_wire2dname(&qname, cl->query, cl->question_end, &pos) != LDNS_STATUS_OK)
		return -1;
	if (pos + 4 == cl->question_end && ldns_buffer_reserve(b, DNSWIRE_HDR)) {
		ldns_buffer_write(b, cl->query, DNSWIRE_HDR);
		if (ldns_dname2buffer_wire_compress(b, qname, names) == LDNS_STATUS_OK &&
		    ldns_buffer_reserve(b, 4)) {
			ldns_buffer_write(b, cl->query + pos, 4);
			rc = ldns_buffer_position(b) == cl->question_end ? 0 : -1;
		}
	}
	ldns_rdf_deep_free(qname);
	return rc;
}

/* The client's message up to its OPT into b, from its start: the header's room, the
 * question, and (unless the answer is SERVFAIL) the records at or below zone, their names
 * compressed against the table names or, when it is NULL, in full; counts and r's record
 * figures from copy_records. 0, 1 (too large for any message), or -1. */
static int
fill(ldns_buffer *b, ldns_rbtree_t *names, const ldns_pkt *pkt, const ldns_rdf *zone,
    const struct passwire_client *cl, uint16_t counts[3], struct passwire_result *r)
{
	const ldns_rr_list *sections[3];
	static const int kinds[3] = {
		LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL
	};
	int i, rc;

	ldns_buffer_clear(b);
	r->dropped = r->n4 = r->n6 = 0;
	if (start_message(b, names, cl) == -1)
		return -1;
	if (r->rcode == LDNS_RCODE_SERVFAIL)
		return 0;
	sections[0] = ldns_pkt_answer(pkt);
	sections[1] = ldns_pkt_authority(pkt);
	sections[2] = ldns_pkt_additional(pkt);
	for (i = 0; i < 3; i++)
		if ((rc = copy_records(b, names, sections[i], zone, kinds[i], &counts[i], r)) != 0)
			return rc;
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
	ldns_rbtree_t *names = NULL;
	uint16_t counts[3] = { 0, 0, 0 };
	int rc = -1, compress, filled;

	memset(r, 0, sizeof(*r));
	if (ldns_wire2pkt(&pkt, resp, len) != LDNS_STATUS_OK)
		return -1;
	if ((zrdf = ldns_dname_new_frm_str(zone)) == NULL || (b = ldns_buffer_new(512)) == NULL)
		goto out;
	/* The 12-bit rcode: the OPT's upper 8 bits (RFC 6891 6.1.3) and the header's 4;
	 * BADVERS (16) has the header's at 0, NOERROR alone. */
	r->server_rcode = ldns_pkt_edns_extended_rcode(pkt) << 4 | ldns_pkt_get_rcode(pkt);
	r->rcode = r->server_rcode == LDNS_RCODE_NOERROR ||
	    r->server_rcode == LDNS_RCODE_NXDOMAIN ? r->server_rcode : LDNS_RCODE_SERVFAIL;
	/* Names in full first; written again compressed only when that is too large for the
	 * client: ldns's compression (a copy of every name and suffix, a tree) made the whole
	 * relay cost 2.8 to 4.5 times the instructions (callgrind, a Service's address, an
	 * NXDOMAIN with its SOA), and most answers fit without it. */
	for (compress = 0; compress < 2; compress++) {
		if (compress && (names = ldns_rbtree_create(compare_names)) == NULL)
			goto out;
		if ((filled = fill(b, names, pkt, zrdf, cl, counts, r)) == -1)
			goto out;
		if (filled == 0 && write_client(cl, ldns_pkt_aa(pkt), r->rcode, counts,
		    ldns_buffer_at(b, cl->question_end),
		    ldns_buffer_position(b) - cl->question_end, 0, out, cap, outlen) == 0) {
			rc = 0;
			goto out;
		}
	}
	/* Header, question (at most 259 bytes) and OPT always fit in 512. */
	r->truncated = 1;
	r->n4 = r->n6 = 0;
	rc = write_client(cl, ldns_pkt_aa(pkt), r->rcode, counts, NULL, 0, 1, out, cap, outlen);
out:
	if (names != NULL) {
		ldns_traverse_postorder(names, free_name, NULL);
		ldns_rbtree_free(names);
	}
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
	return write_client(cl, 0, LDNS_RCODE_SERVFAIL, none, NULL, 0, 0, out, cap, outlen);
}
