/* query.h: one DNS query in, one answer out: the resolver's policy on the wire. Pure. */
#ifndef GATEHOUSE_QUERY_H
#define GATEHOUSE_QUERY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "policy.h"
#include "policyset.h"

/* A question name in presentation form with \DDD escapes: at most 4 characters per
 * wire byte, plus the NUL. */
#define QUERY_NAME_TEXT (255 * 4 + 1)
/* What the answers say about their own size: EDNS payload advertised, and the most we
 * send over UDP whatever the client offers (DNS Flag Day 2020). */
#define QUERY_EDNS_PAYLOAD 1232
#define QUERY_UDP_MIN 512
/* RFC 6891's extended rcode for an EDNS version we do not speak (ldns has no name). */
#define QUERY_RCODE_BADVERS 16

enum query_result {
	QUERY_ANSWER,	/* out[0..*outlen) is the answer to send */
	QUERY_DROP,	/* send nothing (a response, under 12 bytes, or outcap under
			 * QUERY_UDP_MIN); info says why */
	QUERY_PASS	/* a name in a stub zone (info->stub): nothing written; the
			 * caller asks the zone's servers (passwire.h) */
};

/* Signs of data smuggled in a name, for the audit line (flagged, allowed or not). */
#define QFLAG_LONG_LABEL	0x01	/* a label of QFLAG_LABEL_LEN bytes or more */
#define QFLAG_LONG_NAME		0x02	/* QFLAG_NAME_LEN bytes or more on the wire */
#define QFLAG_MANY_LABELS	0x04	/* QFLAG_LABELS labels or more */
#define QFLAG_HIGH_ENTROPY	0x08	/* a long label that reads like encoded data */
#define QFLAG_LABEL_LEN		40
#define QFLAG_NAME_LEN		100
#define QFLAG_LABELS		8

enum query_verdict {
	VERDICT_ALLOW,	/* the name is on the allowlist */
	VERDICT_DENY,	/* a well-formed query for a name that is not */
	VERDICT_INVALID,/* refused on its form: FORMERR, NOTIMP, REFUSED (class, xfr), BADVERS */
	VERDICT_DROP,	/* not answered at all */
	VERDICT_PASS,	/* in a stub zone: passed to its servers */
	VERDICT_COUNT
};

/* `answer pool`: the addresses of an allowed name. addr fills *a4 and, when the pool
 * has IPv6, *a6 (*has6 = 1) for name (lowercase, no trailing dot, len bytes), and
 * returns 1; 0 when the pool has no address for it (full): the answer then carries
 * env's own addresses. It keeps state (the pool) but does no I/O. */
struct query_pool {
	int (*addr)(void *ctx, const struct sockaddr *client, const char *name, size_t len,
	    struct in_addr *a4, struct in6_addr *a6, int *has6);
	void *ctx;
	int v6;		/* the pool has IPv6: else an AAAA query is NODATA and takes no slot */
};

/* What the answer depends on besides the packet. */
struct query_env {
	const struct policyset *policies;	/* the global rules and the named policies */
	size_t policy;			/* the client's policy in policies (0: none) */
	int report;			/* its mode is report: a name enforce refuses is
					 * answered as allowed (info->would_deny) */
	const struct in_addr *a;	/* addresses for A answers (may be none) */
	size_t na;
	const struct in6_addr *aaaa;	/* addresses for AAAA answers (may be none) */
	size_t naaaa;
	uint32_t ttl;			/* of A/AAAA records */
	uint32_t negative_ttl;		/* of the SOA in NXDOMAIN/NODATA answers */
	int blocked_refused;		/* names not allowed: REFUSED instead of NXDOMAIN */
	int tcp;			/* 1: no UDP size limit (TCP allows 65535) */
	const struct query_pool *pool;	/* NULL: no pool; else asked for A, AAAA and ANY
					 * answers of allowed names (report mode's too) */
	const struct sockaddr *client;	/* who asked: passed to the pool, nothing else */
	const struct stub_zone *stub_zones;	/* names at or below one of these are passed
					 * (QUERY_PASS) unless a deny rule refuses them */
	size_t nstub_zones;
};

/* What was asked and decided, for the audit line and the counters. */
struct query_info {
	enum query_verdict verdict;
	const char *reason;		/* INVALID/DROP: short static name ("qdcount", ...);
					 * DENY by a deny rule: "denied" */
	uint16_t id;
	int has_question;		/* qname/qtype/qclass are valid */
	uint16_t qtype, qclass;
	int rcode;			/* 12-bit (QUERY_RCODE_BADVERS is 16) */
	const struct rule *rule;	/* ALLOW: the rule that matched; DENY, and ALLOW under
					 * report mode with would_deny: the deny rule that
					 * refuses the name, or NULL (points into policies) */
	int would_deny;			/* ALLOW under report mode for a name enforce refuses */
	unsigned nanswer4, nanswer6;	/* addresses put in the answer (env->a[0..n), or
					 * the pool's one) */
	int pooled;			/* the answer carries the pool's addresses: */
	struct in_addr pool4;
	struct in6_addr pool6;
	unsigned flags;			/* QFLAG_*: what the name looks like (exfiltration signs) */
	int truncated;			/* TC was set */
	int edns;			/* the query had an OPT record */
	uint16_t edns_size;		/* its payload size */
	int dnssec_ok;
	const struct stub_zone *stub;	/* PASS: the zone (one of env's) */
	size_t question_end;		/* PASS: the first question is q[12..question_end) */
	char qname[QUERY_NAME_TEXT];	/* as sent (0x20 case kept), escaped, "." for root;
					 * last, so clearing the rest stays cheap */
};

/*
 * Decide the answer to the query q[0..qlen) and write it to out (outcap >= 512; for TCP
 * the answer is bounded by min(outcap, 65535), for UDP also by the client's size: 512
 * without EDNS, else its EDNS payload size within [512, QUERY_EDNS_PAYLOAD]). An answer
 * too large is sent with TC set and no answer or authority records. Never reads
 * outside q, never writes outside out, allocates nothing, does no I/O. info is always
 * filled (info->rule points into env->policies).
 */
enum query_result query_answer(const uint8_t *q, size_t qlen, const struct query_env *env,
    uint8_t *out, size_t outcap, size_t *outlen, struct query_info *info);

/* "A", "AAAA", "HTTPS", ... or "TYPE65280": a static string for the common ones, else
 * written to buf (16 bytes are enough). */
const char *query_type_name(uint16_t type, char *buf, size_t len);
/* "NOERROR", "NXDOMAIN", ..., "BADVERS", or "RCODE23": as query_type_name, static or
 * in buf. */
const char *query_rcode_name(int rcode, char *buf, size_t len);
const char *query_verdict_name(enum query_verdict v);

/* The QFLAG_* of a wire name the caller has checked (labels up to the root; the walk
 * stops at 255 bytes). Pure. */
unsigned query_name_flags(const uint8_t *wire);
/* The names of the flags set, into names[] (at most 4); returns how many. */
size_t query_flag_names(unsigned flags, const char **names);

#endif
