/* dns_wire.h: DNS header bits and a big-endian reader, shared by test_query.c and fuzz_query.c. */
#ifndef GATEHOUSE_TEST_DNS_WIRE_H
#define GATEHOUSE_TEST_DNS_WIRE_H

#include <stdint.h>

#define HDR		12		/* the fixed header: ID, flags, four counts */
#define F_QR		0x8000
#define F_AA		0x0400
#define F_TC		0x0200
#define F_RD		0x0100
#define F_RA		0x0080
#define F_Z		0x0040
#define F_AD		0x0020
#define F_CD		0x0010
#define OPCODE(n)	((uint16_t)((n) << 11))
#define EDNS_DO		0x8000		/* in the OPT TTL's low 16 bits */

/* The 16-bit big-endian value at p (two bytes the caller has checked are there). */
static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
