/* dname.h: host names as the allowlist sees them: validation and normalisation. Pure. */
#ifndef GATEHOUSE_DNAME_H
#define GATEHOUSE_DNAME_H

#include <stddef.h>

/* Longest name in presentation form without the trailing dot (RFC 1035: 255 octets
 * on the wire, which is 253 characters of text). */
#define DNAME_MAX 253
#define DNAME_LABEL_MAX 63

enum dname_status {
	DNAME_OK = 0,
	DNAME_EMPTY,		/* "" or "." */
	DNAME_TOO_LONG,		/* over DNAME_MAX characters */
	DNAME_LABEL_EMPTY,	/* "a..b", ".a" */
	DNAME_LABEL_TOO_LONG,	/* a label over 63 characters */
	DNAME_BAD_CHAR,		/* a byte other than letter, digit, '-', '_' in a label */
	DNAME_NON_ASCII,	/* a byte >= 0x80: not an A-label */
	DNAME_IP_LITERAL	/* an IPv4 or IPv6 address, not a name */
};

/*
 * Validate the host name in[0..len) and write its normal form to out (which must hold
 * DNAME_MAX + 1 bytes): ASCII letters lowercased, one trailing dot dropped, NUL
 * terminated. Labels may hold letters, digits, '-' and '_' (service labels such as
 * _acme-challenge are real host names in practice). On any status but DNAME_OK, out
 * holds an empty string. *outlen (if not NULL) receives strlen(out).
 */
enum dname_status dname_normalize(const char *in, size_t len, char *out, size_t *outlen);

/* A short English phrase for a status ("label longer than 63 characters"). Static. */
const char *dname_status_str(enum dname_status status);

/* 1 if s[0..len) is an IP address rather than a name: it is an IPv6 address (possibly
 * in brackets), or its last label is numeric ("1.2.3.4", "127.1", "0x7f000001"), which
 * URL parsers and inet_aton read as IPv4 (no top-level domain is numeric). */
int dname_is_ip_literal(const char *s, size_t len);

#endif
