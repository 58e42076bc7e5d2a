/* peek.h: the verdict the forwarder's first-bytes parsers (tls_sni, http_host) return, and
 * the helpers they set it with. */
#ifndef GATEHOUSE_PEEK_H
#define GATEHOUSE_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "dname.h"

/* The most the forwarder reads from a client before it must know the name. */
#define PEEK_MAX 65536

enum peek_status {
	PEEK_NEED_MORE,	/* a prefix of something that may still name a host: read more */
	PEEK_NO_NAME,	/* well formed (or not this protocol at all), but names no usable host */
	PEEK_MALFORMED,	/* this protocol, but broken or hostile */
	PEEK_OK		/* res->name holds the normalised host name */
};

/* res->flags */
#define PEEK_F_NOT_PROTOCOL 0x01 /* NO_NAME because the bytes are not this protocol at all */
#define PEEK_F_IP_LITERAL   0x02 /* NO_NAME because the name given was an IP address */
#define PEEK_F_ECH          0x04 /* TLS: encrypted_client_hello present; name is the outer SNI */
#define PEEK_F_ABSOLUTE     0x08 /* HTTP: name taken from an absolute-form request target */
#define PEEK_F_CONNECT      0x10 /* HTTP: a CONNECT request (authority-form target) */

struct peek_result {
	enum peek_status status;	/* same as the return value */
	char name[DNAME_MAX + 1];	/* PEEK_OK: normalised name (lowercase, no trailing dot) */
	uint16_t port;			/* HTTP: port written in Host/target, 0 when absent */
	unsigned flags;			/* PEEK_F_* */
	size_t need;			/* PEEK_NEED_MORE: calling again before the buffer holds at
					 * least this many bytes cannot change the answer */
	size_t head_len;		/* PEEK_OK/NO_NAME: bytes of the ClientHello records or of
					 * the HTTP head that were examined (see each parser;
					 * 0 for NEED_MORE) */
	const char *why;		/* NO_NAME/MALFORMED: static text saying why, for logs */
};

/* Record status and why (static text or NULL) in res; returns status. */
static inline enum peek_status
peek_verdict(struct peek_result *res, enum peek_status status, const char *why)
{
	res->status = status;
	res->why = why;
	return status;
}

/* PEEK_NEED_MORE: nothing can change before the buffer holds need bytes. */
static inline enum peek_status
peek_need_more(struct peek_result *res, size_t need)
{
	res->need = need;
	return peek_verdict(res, PEEK_NEED_MORE, NULL);
}

static inline const char *
peek_status_name(enum peek_status status)
{
	switch (status) {
	case PEEK_NEED_MORE:
		return "need-more";
	case PEEK_NO_NAME:
		return "no-name";
	case PEEK_MALFORMED:
		return "malformed";
	case PEEK_OK:
		return "ok";
	}
	return "?";
}

#endif
