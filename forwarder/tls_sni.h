/* tls_sni.h: the SNI host name in a TLS ClientHello, read as a stream of records. Pure. */
#ifndef GATEHOUSE_TLS_SNI_H
#define GATEHOUSE_TLS_SNI_H

#include <stddef.h>
#include <stdint.h>

#include "peek.h"

/* Limits (see tls_sni.c for why). */
#define TLS_RECORD_MAX	16384	/* payload bytes in one TLSPlaintext record (RFC 8446 5.1) */
#define TLS_HELLO_RECORDS_MAX 64 /* records one ClientHello may be spread over */

/*
 * Parse buf[0..len) as the start of a TLS connection: records of content type handshake
 * (22) whose payloads, concatenated, begin with a ClientHello. buf is only read, never
 * kept; *res is wholly written (res->why points to static text, res->name is a copy).
 * Work is linear in len. Returns (and stores in res->status):
 *  - PEEK_NEED_MORE while the bytes are a prefix of a ClientHello: res->need is the total
 *    length (the end of the current record header or record) before which calling again
 *    cannot change the answer. A ClientHello that could not be complete within PEEK_MAX
 *    bytes is PEEK_MALFORMED instead, so need never exceeds PEEK_MAX.
 *  - PEEK_NO_NAME | PEEK_F_NOT_PROTOCOL when the bytes do not start like a TLS record
 *    (anything but 0x16, or 0x14/0x15/0x17 followed by 0x03; an SSLv2-style hello too).
 *  - PEEK_NO_NAME for a well formed ClientHello with no server_name extension, or none
 *    of type host_name, or whose host_name is an IP literal (PEEK_F_IP_LITERAL).
 *  - PEEK_MALFORMED for a broken record layer (content type other than handshake before
 *    the ClientHello is complete, version major not 3, a record empty or over
 *    TLS_RECORD_MAX, more than TLS_HELLO_RECORDS_MAX records), a handshake message that
 *    is not a ClientHello or is over PEEK_MAX, any inconsistent length, a duplicated
 *    extension, a broken or doubled server_name, or an invalid host name (including one
 *    with a trailing dot, which RFC 6066 forbids).
 *  - PEEK_OK: res->name is the host_name normalised by dname_normalize.
 * PEEK_F_ECH is set when an encrypted_client_hello extension is present; the verdict is
 * then still the outer ClientHello's. For OK and NO_NAME, res->head_len is the length of
 * the records that carried the ClientHello (0 for PEEK_F_NOT_PROTOCOL: no record was
 * read); bytes after them are ignored.
 */
enum peek_status tls_sni_parse(const uint8_t *buf, size_t len, struct peek_result *res);

/*
 * 1 if buf[0..len) could be the start of a TLS handshake record (0x16, then 0x03), judged
 * on the bytes present: len 1 looks at one byte, len 0 answers 1. 0 otherwise.
 */
int tls_looks_like(const uint8_t *buf, size_t len);

#endif
