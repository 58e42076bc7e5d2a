/* http_host.h: the host an HTTP/1.x request head names (Host, absolute-form, CONNECT). Pure. */
#ifndef GATEHOUSE_HTTP_HOST_H
#define GATEHOUSE_HTTP_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "peek.h"

/* Limits; a request past them is refused rather than buffered (a method or target past
 * its limit as not HTTP, a head or field count past its limit as malformed). */
#define HTTP_METHOD_MAX	32	/* bytes in the method token */
#define HTTP_TARGET_MAX	8192	/* bytes in the request target */
#define HTTP_HEAD_MAX	16384	/* bytes in the whole head, blank line included */
#define HTTP_FIELDS_MAX	100	/* header fields */

/*
 * Offset just past the blank line ending an HTTP head ("\r\n\r\n" or "\n\n", also the
 * mixed "\n\r\n" and "\r\n\n"), searching buf[from..len) but allowing the terminator to
 * start up to 3 bytes before `from`; 0 if there is none yet. A caller that got 0 for
 * buf[0..n) may call again with from = n once more bytes have arrived, and gets the same
 * answer as a search from 0. Does not look at anything but line ends. (The scan below
 * finds the blank line on its own; this is the plain definition tests hold it to.)
 */
size_t http_head_end(const uint8_t *buf, size_t len, size_t from);

/*
 * Parse buf[0..len) as the start of an HTTP/1.x request (bytes after the head are ignored)
 * and fill *res (every field is written; nothing in it points into buf, res->why points
 * to static text). The same as http_scan_init() then one http_scan_feed() over the whole
 * buffer, so a head fed in pieces gets exactly this verdict. Returns:
 *  - PEEK_NEED_MORE while the bytes are a plausible but incomplete head; res->need = len + 1.
 *  - PEEK_NO_NAME | PEEK_F_NOT_PROTOCOL as soon as the bytes cannot start an HTTP/1.0 or
 *    HTTP/1.1 request line (SMTP, TLS, SSH, an HTTP/2 preface, binary, a method over
 *    HTTP_METHOD_MAX or a target over HTTP_TARGET_MAX bytes), at the latest at the
 *    first LF; res->head_len = bytes examined.
 *  - PEEK_NO_NAME when the head is well formed but names no usable host: no Host, an empty
 *    Host, or an IP literal (PEEK_F_IP_LITERAL; a numeric last label such as "127.1" or
 *    "0x7f000001" counts as one, since URL parsers read it as IPv4).
 *  - PEEK_MALFORMED for a broken or ambiguous head (RFC 9112 smuggling defences: obs-fold,
 *    space before the colon, bare CR, control bytes, two Host fields, a Host that differs
 *    from an absolute-form or CONNECT target, a CONNECT target without a port, an
 *    invalid name or port, over HTTP_HEAD_MAX or HTTP_FIELDS_MAX).
 *    Lines are judged as they complete, so a head is refused as soon as a complete line
 *    is bad (a request target of the wrong form, a broken field line, the 101st field) or
 *    HTTP_HEAD_MAX bytes have arrived without the blank line, without waiting for the
 *    blank line; what Host says is judged at the blank line. res->head_len is the offset
 *    just past the line (or the limit) that decided.
 *  - PEEK_OK: res->name is the normalised name (see dname_normalize), res->port the port
 *    written (0 when none), res->head_len the offset just past the blank line.
 * PEEK_F_ABSOLUTE / PEEK_F_CONNECT are set once the request line shows the target form,
 * whatever the status. The name comes from an absolute-form or CONNECT target when there
 * is one (a Host field must then agree: same name, and the same port once a missing port
 * is read as the scheme's, or for CONNECT as the target's), else from Host.
 * A verdict other than PEEK_NEED_MORE never changes as more bytes arrive.
 */
enum peek_status http_host_parse(const uint8_t *buf, size_t len, struct peek_result *res);

/*
 * Where a scan of one HTTP head stands, so that a reader can feed the head as it arrives
 * and pay for each byte once: the work over all calls is linear in the bytes received
 * (each byte of the request line is judged once; each field line is searched for its LF
 * once and checked once, when it completes). The caller owns it (no allocation, nothing
 * to free) and sets it up with http_scan_init(). It holds offsets only, never pointers,
 * so the buffer may move between calls (realloc). Members are http_host.c's, except
 * `examined`, which a test may read.
 */
struct http_scan {
	size_t		 examined;	/* bytes looked at so far, over every call: at most
					 * two per byte of the head (tests hold it to that) */
	size_t		 pos;		/* next byte to look at */
	size_t		 line;		/* start of the field line being read */
	size_t		 method_len;	/* the method is buf[0..method_len) */
	size_t		 target_off, target_len;
	size_t		 auth_off, auth_len;	/* absolute-form/CONNECT authority */
	size_t		 host_off, host_len;	/* the Host value without OWS */
	size_t		 head_len;	/* verdict reached: see http_host_parse */
	const char	*why;		/* verdict reached before the blank line: why */
	enum peek_status status;	/* verdict reached before the blank line */
	unsigned	 fields;	/* field lines so far */
	unsigned	 flags;		/* PEEK_F_* known so far */
	uint16_t	 dflt_port;	/* absolute-form: the scheme's port */
	uint8_t		 phase;		/* where in the head the scan is */
	uint8_t		 form;		/* the request target's form */
	uint8_t		 vpos;		/* next byte of "HTTP/1.x" */
	uint8_t		 have_host;
};

void http_scan_init(struct http_scan *scan);

/*
 * Continue *scan over buf[0..len), everything received so far: buf must begin with the
 * bytes of the previous call's buffer (it may be longer, or have moved). Fills *res as
 * http_host_parse(buf, len, res) would, and returns the same verdict; the work of a call
 * is what the new bytes need, plus checking the name once the blank line is in. Once the
 * verdict is not PEEK_NEED_MORE, later calls return it again (after the blank line by
 * checking the name again). A buffer shorter than the part already scanned breaks the
 * contract: the scan then starts over from byte 0.
 */
enum peek_status http_scan_feed(struct http_scan *scan, const uint8_t *buf, size_t len,
    struct peek_result *res);

#endif
