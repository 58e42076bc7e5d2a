/* tls_sni.c: the SNI host name of a ClientHello spread over TCP segments and TLS records. */
#include "tls_sni.h"

#include <string.h>

#include "dname.h"

#define TLS_CT_CHANGE_CIPHER_SPEC 20
#define TLS_CT_ALERT		21
#define TLS_CT_HANDSHAKE	22
#define TLS_CT_APPLICATION_DATA	23
#define TLS_RECORD_HEADER	5	/* type(1) version(2) length(2) */
#define TLS_HS_HEADER		4	/* msg_type(1) length(3) */
#define TLS_HS_CLIENT_HELLO	1
#define TLS_RANDOM_LEN		32
#define TLS_SESSION_ID_MAX	32
#define TLS_EXT_SERVER_NAME	0x0000
#define TLS_EXT_ECH		0xfe0d	/* encrypted_client_hello (draft-ietf-tls-esni) */
#define TLS_SNI_HOST_NAME	0

/*
 * Why TLS_HELLO_RECORDS_MAX (64): the caller re-parses from the first byte each time more
 * bytes arrive, and the payload of every record is remembered in a fixed table on the
 * stack. Real clients put a ClientHello in one record (a post-quantum hello of ~2 KB
 * still fits a 16 KiB record); only an evader splits it into many tiny records, and
 * without a bound a 64 KiB peek could hold ~11,000 six-byte records. 64 keeps the table
 * small and the walk cheap while leaving room for any legitimate fragmentation.
 */

/* One record's payload inside buf. */
struct tls_frag {
	size_t off;
	size_t len;
};

/* Reads the handshake bytes carried by a run of records as if they were contiguous. */
struct hs_cursor {
	const uint8_t *buf;
	const struct tls_frag *frag;
	size_t nfrag;
	size_t fi;	/* current fragment */
	size_t fo;	/* offset in the current fragment */
	size_t left;	/* bytes this cursor may still read */
};

/* What the server_name extension said, kept until the whole ClientHello has been walked. */
struct sni_seen {
	int have_ext;		/* a server_name extension was present */
	int have_host;		/* it held a host_name entry */
	enum peek_status status;	/* verdict on that host_name: OK, NO_NAME (IP literal) */
	char name[DNAME_MAX + 1];
};

/* -1 after recording MALFORMED with why: the walkers' way out. */
static int
bad(struct peek_result *res, const char *why)
{
	peek_verdict(res, PEEK_MALFORMED, why);
	return -1;
}

/* Step to a fragment that still has a byte to give; -1 if there is none. */
static int
cur_settle(struct hs_cursor *c)
{
	while (c->fi < c->nfrag && c->fo >= c->frag[c->fi].len) {
		c->fi++;
		c->fo = 0;
	}
	return c->fi < c->nfrag ? 0 : -1;
}

static int
cur_u8(struct hs_cursor *c, unsigned *v)
{
	if (c->left == 0 || cur_settle(c) == -1)
		return -1;
	*v = c->buf[c->frag[c->fi].off + c->fo];
	c->fo++;
	c->left--;
	return 0;
}

static int
cur_uint(struct hs_cursor *c, size_t nbytes, unsigned *v)
{
	unsigned b;

	*v = 0;
	while (nbytes-- > 0) {
		if (cur_u8(c, &b) == -1)
			return -1;
		*v = (*v << 8) | b;
	}
	return 0;
}

/* Advance n bytes, copying them to dst unless dst is NULL. */
static int
cur_take(struct hs_cursor *c, size_t n, uint8_t *dst)
{
	size_t chunk;

	if (n > c->left)
		return -1;
	while (n > 0) {
		if (cur_settle(c) == -1)
			return -1;
		chunk = c->frag[c->fi].len - c->fo;
		if (chunk > n)
			chunk = n;
		if (dst != NULL) {
			memcpy(dst, c->buf + c->frag[c->fi].off + c->fo, chunk);
			dst += chunk;
		}
		c->fo += chunk;
		c->left -= chunk;
		n -= chunk;
	}
	return 0;
}

/* Split off the next n bytes as *sub and move c past them. */
static int
cur_sub(struct hs_cursor *c, size_t n, struct hs_cursor *sub)
{
	if (n > c->left)
		return -1;
	*sub = *c;
	sub->left = n;
	return cur_take(c, n, NULL);
}

/* Judge the first byte or two: is this TLS at all? 0 to go on, -1 with *res filled. */
static int
check_first_bytes(const uint8_t *buf, size_t len, struct peek_result *res)
{
	if (len == 0) {
		peek_need_more(res, 1);
		return -1;
	}
	switch (buf[0]) {
	case TLS_CT_HANDSHAKE:
		return 0;
	case TLS_CT_CHANGE_CIPHER_SPEC:
	case TLS_CT_ALERT:
	case TLS_CT_APPLICATION_DATA:
		if (len < 2) {
			peek_need_more(res, 2);
			return -1;
		}
		if (buf[1] == 3) {
			peek_verdict(res, PEEK_MALFORMED, buf[0] == TLS_CT_ALERT ?
			    "alert record where a ClientHello was expected" :
			    "TLS record of a content type other than handshake before the ClientHello");
			return -1;
		}
		break;
	default:
		break;
	}
	res->flags |= PEEK_F_NOT_PROTOCOL;
	peek_verdict(res, PEEK_NO_NAME, (buf[0] & 0x80) ?
	    "not a TLS record (an SSLv2-style hello carries no SNI)" : "not a TLS record");
	return -1;
}

/* Check the handshake header as far as the complete records carry it. */
static int
check_hs_header(const uint8_t *buf, const struct tls_frag *frag, size_t nfrag, size_t avail,
    size_t *msg_len, struct peek_result *res)
{
	struct hs_cursor c = { buf, frag, nfrag, 0, 0, avail };
	unsigned type, hs_len;

	if (cur_u8(&c, &type) == -1)
		return 0;
	if (type != TLS_HS_CLIENT_HELLO)
		return bad(res, "first handshake message is not a ClientHello");
	if (cur_uint(&c, 3, &hs_len) == -1)
		return 0;
	if (hs_len > PEEK_MAX)
		return bad(res, "ClientHello longer than the peek limit");
	*msg_len = TLS_HS_HEADER + (size_t)hs_len;
	return 0;
}

/*
 * Walk whole records from the start of buf until their payloads hold the complete
 * handshake message. 0 with frag[0..*nfrag) and *msg_len set; -1 with *res filled.
 * Only complete records are looked into, so the answer changes only at record ends.
 */
static int
read_records(const uint8_t *buf, size_t len, struct tls_frag *frag, size_t *nfrag,
    size_t *msg_len, struct peek_result *res)
{
	size_t pos = 0, avail = 0, rlen;

	*msg_len = 0;
	for (*nfrag = 0; *msg_len == 0 || avail < *msg_len; (*nfrag)++) {
		if (*nfrag == TLS_HELLO_RECORDS_MAX)
			return bad(res, "ClientHello spread over more than 64 records");
		if (pos + TLS_RECORD_HEADER > PEEK_MAX)
			return bad(res, "ClientHello cannot fit in the peek limit");
		if (len - pos < TLS_RECORD_HEADER) {
			peek_need_more(res, pos + TLS_RECORD_HEADER);
			return -1;
		}
		if (buf[pos] != TLS_CT_HANDSHAKE)
			return bad(res, buf[pos] == TLS_CT_ALERT ?
			    "alert record before the ClientHello was complete" :
			    "record of a content type other than handshake inside the ClientHello");
		if (buf[pos + 1] != 3)
			return bad(res, "record version major is not 3");
		rlen = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (rlen == 0)
			return bad(res, "zero-length handshake record");
		if (rlen > TLS_RECORD_MAX)
			return bad(res, "record longer than 16384 bytes");
		if (pos + TLS_RECORD_HEADER + rlen > PEEK_MAX)
			return bad(res, "ClientHello cannot fit in the peek limit");
		if (len - pos - TLS_RECORD_HEADER < rlen) {
			peek_need_more(res, pos + TLS_RECORD_HEADER + rlen);
			return -1;
		}
		frag[*nfrag].off = pos + TLS_RECORD_HEADER;
		frag[*nfrag].len = rlen;
		pos += TLS_RECORD_HEADER + rlen;
		avail += rlen;
		if (*msg_len == 0 &&
		    check_hs_header(buf, frag, *nfrag + 1, avail, msg_len, res) == -1)
			return -1;
	}
	res->head_len = pos;
	return 0;
}

/* Validate one host_name entry of nlen bytes at the front of *c into *sni. */
static int
check_host_name(struct hs_cursor *c, size_t nlen, struct sni_seen *sni, struct peek_result *res)
{
	char raw[DNAME_MAX];
	enum dname_status ds;

	if (nlen == 0)
		return bad(res, "empty host_name in server_name");
	if (nlen > DNAME_MAX)
		return bad(res, "host_name longer than 253 characters");
	if (cur_take(c, nlen, (uint8_t *)raw) == -1)
		return bad(res, "host_name overruns the server_name list");
	if (memchr(raw, '\0', nlen) != NULL)
		return bad(res, "NUL byte in host_name");
	if (raw[nlen - 1] == '.')
		return bad(res, "host_name ends in a dot (RFC 6066 forbids it)");
	ds = dname_normalize(raw, nlen, sni->name, NULL);
	if (ds == DNAME_IP_LITERAL) {
		sni->status = PEEK_NO_NAME;
		res->flags |= PEEK_F_IP_LITERAL;
		return 0;
	}
	if (ds != DNAME_OK)
		return bad(res, dname_status_str(ds));
	sni->status = PEEK_OK;
	return 0;
}

/* The server_name extension body (RFC 6066 3): a ServerNameList filling it exactly. */
static int
walk_server_name(struct hs_cursor *ext, struct sni_seen *sni, struct peek_result *res)
{
	struct hs_cursor entry;
	unsigned list_len, type, nlen;

	sni->have_ext = 1;
	if (cur_uint(ext, 2, &list_len) == -1)
		return bad(res, "server_name extension too short for its list length");
	if (list_len != ext->left)
		return bad(res, "server_name list length does not match the extension length");
	if (list_len == 0)
		return bad(res, "empty server_name list");
	while (ext->left > 0) {
		if (cur_uint(ext, 1, &type) == -1 || cur_uint(ext, 2, &nlen) == -1)
			return bad(res, "server_name entry header overruns the list");
		if (cur_sub(ext, nlen, &entry) == -1)
			return bad(res, "server_name entry overruns the list");
		if (type != TLS_SNI_HOST_NAME)
			continue;
		if (sni->have_host)
			return bad(res, "more than one host_name in server_name");
		sni->have_host = 1;
		if (check_host_name(&entry, nlen, sni, res) == -1)
			return -1;
	}
	return 0;
}

/* The extensions block: each extension fits, none appears twice (RFC 8446 4.2). */
static int
walk_extensions(struct hs_cursor *c, struct sni_seen *sni, struct peek_result *res)
{
	uint8_t seen[65536 / 8];	/* one bit per extension type */
	struct hs_cursor ext;
	unsigned type, elen;

	memset(seen, 0, sizeof(seen));
	while (c->left > 0) {
		if (cur_uint(c, 2, &type) == -1 || cur_uint(c, 2, &elen) == -1)
			return bad(res, "extension header overruns the extensions block");
		if (cur_sub(c, elen, &ext) == -1)
			return bad(res, "extension length overruns the extensions block");
		if (seen[type >> 3] & (1u << (type & 7)))
			return bad(res, "duplicate extension type");
		seen[type >> 3] |= (uint8_t)(1u << (type & 7));
		if (type == TLS_EXT_ECH)
			res->flags |= PEEK_F_ECH;
		if (type == TLS_EXT_SERVER_NAME && walk_server_name(&ext, sni, res) == -1)
			return -1;
	}
	return 0;
}

/* The ClientHello body (RFC 8446 4.1.2), the cursor bounded by the handshake length. */
static int
walk_hello(struct hs_cursor *c, struct sni_seen *sni, struct peek_result *res)
{
	unsigned major, n;

	if (cur_take(c, TLS_HS_HEADER, NULL) == -1 || cur_u8(c, &major) == -1 ||
	    cur_take(c, 1, NULL) == -1)
		return bad(res, "ClientHello too short for its version");
	if (major != 3)
		return bad(res, "ClientHello version major is not 3");
	if (cur_take(c, TLS_RANDOM_LEN, NULL) == -1)
		return bad(res, "ClientHello too short for its random");
	if (cur_uint(c, 1, &n) == -1 || n > TLS_SESSION_ID_MAX)
		return bad(res, "session_id missing or longer than 32 bytes");
	if (cur_take(c, n, NULL) == -1)
		return bad(res, "session_id overruns the ClientHello");
	if (cur_uint(c, 2, &n) == -1 || n < 2 || n % 2 != 0)
		return bad(res, "cipher_suites length missing, odd or zero");
	if (cur_take(c, n, NULL) == -1)
		return bad(res, "cipher_suites overrun the ClientHello");
	if (cur_uint(c, 1, &n) == -1 || n == 0)
		return bad(res, "compression_methods missing or empty");
	if (cur_take(c, n, NULL) == -1)
		return bad(res, "compression_methods overrun the ClientHello");
	if (c->left == 0)
		return 0;	/* no extensions block at all (allowed before TLS 1.3) */
	if (cur_uint(c, 2, &n) == -1 || n != c->left)
		return bad(res, "extensions length does not fill the rest of the ClientHello");
	return walk_extensions(c, sni, res);
}

enum peek_status
tls_sni_parse(const uint8_t *buf, size_t len, struct peek_result *res)
{
	struct tls_frag frag[TLS_HELLO_RECORDS_MAX];
	struct sni_seen sni;
	struct hs_cursor c;
	size_t nfrag, msg_len;

	memset(res, 0, sizeof(*res));
	memset(&sni, 0, sizeof(sni));
	if (check_first_bytes(buf, len, res) == -1 ||
	    read_records(buf, len, frag, &nfrag, &msg_len, res) == -1)
		return res->status;
	c = (struct hs_cursor){ buf, frag, nfrag, 0, 0, msg_len };
	if (walk_hello(&c, &sni, res) == -1)
		return res->status;
	if (!sni.have_ext)
		return peek_verdict(res, PEEK_NO_NAME, "no server_name extension");
	if (!sni.have_host)
		return peek_verdict(res, PEEK_NO_NAME, "server_name has no host_name entry");
	if (sni.status != PEEK_OK)
		return peek_verdict(res, PEEK_NO_NAME, "host_name is an IP address");
	memcpy(res->name, sni.name, sizeof(res->name));
	return peek_verdict(res, PEEK_OK, NULL);
}

int
tls_looks_like(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return 1;
	if (buf[0] != TLS_CT_HANDSHAKE)
		return 0;
	return len < 2 || buf[1] == 3;
}
