/* dnswire.h: the DNS header's layout and big-endian fields, for the files that read and
 * write messages by hand (query.c, passwire.c). */
#ifndef GATEHOUSE_DNSWIRE_H
#define GATEHOUSE_DNSWIRE_H

#include <stdint.h>

#define DNSWIRE_HDR	12		/* header bytes; the first question follows */
#define DNSWIRE_QR	0x8000		/* flag bits of the header's second word */
#define DNSWIRE_AA	0x0400
#define DNSWIRE_TC	0x0200
#define DNSWIRE_RD	0x0100
#define DNSWIRE_RA	0x0080
#define DNSWIRE_CD	0x0010
#define DNSWIRE_OPCODE(f) (((f) >> 11) & 0xf)
#define DNSWIRE_EDNS_DO	0x8000		/* in the OPT record's flags */

static inline uint16_t
dnswire_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
dnswire_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#endif
