/* passwire.h: a stub zone's query on the wire, and its server's answer turned into the
 * client's. Pure. */
#ifndef GATEHOUSE_PASSWIRE_H
#define GATEHOUSE_PASSWIRE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Header, a question (name up to 255 bytes, type, class) and an OPT record. */
#define PASSWIRE_QUERY_MAX (12 + 255 + 4 + 11)
/* Addresses of an answer kept for the audit line. */
#define PASSWIRE_ADDRS 8

/*
 * The query the resolver sends a stub zone's server, into out (PASSWIRE_QUERY_MAX bytes):
 * ID id, opcode QUERY, RD clear (the server answers from its own zone, it is not asked to
 * recurse), one question: the wire name qname (labels ending in the root label, as
 * query.c checked it), lowercased, qtype, class IN; an OPT record offering
 * QUERY_EDNS_PAYLOAD bytes, DO clear. Nothing else of the client's query goes out: not
 * its ID, flags, case or EDNS options. Returns the length, or 0 when qname is not a
 * plain wire name of at most 255 bytes.
 */
size_t passwire_query(uint16_t id, const uint8_t *qname, uint16_t qtype, uint8_t *out,
    size_t cap);

enum passwire_status {
	PASSWIRE_OK,		/* the answer to the query: pass it on */
	PASSWIRE_TRUNCATED,	/* the answer, with TC set: ask again over TCP */
	PASSWIRE_FOREIGN,	/* not an answer to the query (another ID, question or a
				 * query): ignore it and keep waiting */
	PASSWIRE_MALFORMED	/* claims to answer it but does not parse */
};

/* Whether resp[0..len) answers the query passwire_query built with id, qname, qtype. */
enum passwire_status passwire_check(const uint8_t *resp, size_t len, uint16_t id,
    const uint8_t *qname, uint16_t qtype);

/* What the client asked, as passwire_answer needs it. */
struct passwire_client {
	const uint8_t *query;	/* the client's query: its header and first question are */
	size_t question_end;	/* echoed (ID, RD, CD, the name's case): q[12..question_end) */
	int edns;		/* it had an OPT record: the answer has one too */
	int dnssec_ok;
	size_t limit;		/* the most the answer may take (UDP: the client's size) */
};

/* What the server's answer said, for the audit line and the counters. */
struct passwire_result {
	int rcode;		/* what the client is told */
	int server_rcode;	/* what the server said (12 bits: its OPT's upper 8 too) */
	unsigned dropped;	/* records outside the zone left out */
	unsigned n4, n6;	/* A and AAAA records in the answer (the first
				 * PASSWIRE_ADDRS kept below) */
	struct in_addr a4[PASSWIRE_ADDRS];
	struct in6_addr a6[PASSWIRE_ADDRS];
	int truncated;		/* too large for limit: sent with TC set and no records */
};

/*
 * The client's answer, into out (cap >= 512), from resp[0..len), which passwire_check
 * called PASSWIRE_OK; zone is the stub zone (normalised text). The header carries the
 * client's ID, RD and CD, the server's AA and rcode (NOERROR and NXDOMAIN pass; any other
 * becomes SERVFAIL with no records), the question is the client's, and every record whose
 * owner is at or below zone is copied, names in full; when that is too large for limit,
 * compressed (owners, and names in the data of the types RFC 3597 4 lets be: CNAME, NS,
 * SOA, MX, PTR...) against the question and each other, and an owner that is the
 * question's name then comes out in the client's case. Records outside the zone (the
 * target of a CNAME to another domain, and its addresses) are left out: the client asks
 * for those next, and they are judged by the allowlist like any name. An OPT record of
 * our own when the client had one. Too large for the client's limit even compressed (or
 * for any message): TC set, no records. 0 with *outlen, or -1 (out of memory, or resp
 * does not parse).
 */
int passwire_answer(const uint8_t *resp, size_t len, const char *zone,
    const struct passwire_client *cl, uint8_t *out, size_t cap, size_t *outlen,
    struct passwire_result *r);

/* SERVFAIL for the client (no server answered): its header and question, our OPT when
 * it had one; r says so (rcode SERVFAIL, no records). 0, or -1 when cap is too small. */
int passwire_servfail(const struct passwire_client *cl, uint8_t *out, size_t cap,
    size_t *outlen, struct passwire_result *r);

#endif
