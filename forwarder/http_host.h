/* http_host.h: the host an HTTP/1.x request head names (Host, absolute-form, CONNECT). Pure. */
#ifndef GATEHOUSE_HTTP_HOST_H
#define GATEHOUSE_HTTP_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "peek.h"

/* Limits; a request past them is refused rather than buffered. */
#define HTTP_METHOD_MAX	32	/* bytes in the method token */
#define HTTP_TARGET_MAX	8192	/* bytes in the request target */
#define HTTP_HEAD_MAX	16384	/* bytes in the whole head, blank line included */
#define HTTP_FIELDS_MAX	100	/* header fields */

/*
 * Offset just past the blank line ending an HTTP head ("\r\n\r\n" or "\n\n", also the
 * mixed "\n\r\n" and "\r\n\n"), searching buf[from..len) but allowing the terminator to
 * start up to 3 bytes before `from`; 0 if there is none yet. A caller that got 0 for
 * buf[0..n) may call again with from = n once more bytes have arrived, and gets the same
 * answer as a search from 0. Does not look at anything but line ends.
 */
size_t http_head_end(const uint8_t *buf, size_t len, size_t from);

/*
 * Parse buf[0..len) as the start of an HTTP/1.x request (bytes after the head are ignored)
 * and fill *res (every field is written; nothing in it points into buf, res->why points
 * to static text). Returns:
 *  - PEEK_NEED_MORE while the bytes are a plausible but incomplete head; res->need = len + 1.
 *  - PEEK_NO_NAME | PEEK_F_NOT_PROTOCOL as soon as the bytes cannot start an HTTP/1.0 or
 *    HTTP/1.1 request line (SMTP, TLS, SSH, an HTTP/2 preface, binary), at the latest at
 *    the first LF; res->head_len = bytes examined.
 *  - PEEK_NO_NAME when the head is well formed but names no usable host: no Host, an empty
 *    Host, or an IP literal (PEEK_F_IP_LITERAL; a numeric last label such as "127.1" or
 *    "0x7f000001" counts as one, since URL parsers read it as IPv4).
 *  - PEEK_MALFORMED for a broken or ambiguous head (RFC 9112 smuggling defences: obs-fold,
 *    space before the colon, bare CR, control bytes, two Host fields, a Host that differs
 *    from an absolute-form or CONNECT target, an invalid name or port, over the limits).
 *  - PEEK_OK: res->name is the normalised name (see dname_normalize), res->port the port
 *    written (0 when none), res->head_len the offset just past the blank line.
 * PEEK_F_ABSOLUTE / PEEK_F_CONNECT are set once the request line shows the target form,
 * whatever the status. The name comes from an absolute-form or CONNECT target when there
 * is one (a Host field must then agree: same name, and the same port once a missing port
 * is read as the scheme's, or for CONNECT as the target's), else from Host.
 */
enum peek_status http_host_parse(const uint8_t *buf, size_t len, struct peek_result *res);

#endif
