/* http_host.c: learns the intended host from the head of an HTTP/1.x request (see http_host.h). */
#include "http_host.h"

#include <arpa/inet.h>
#include <string.h>

#include "dname.h"

/* Where the scan is (struct http_scan's phase). */
enum scan_phase {
	SCAN_METHOD,		/* request line: the method */
	SCAN_TARGET,		/* the request target */
	SCAN_VERSION,		/* "HTTP/1.x" */
	SCAN_CR,		/* after the version: CR or LF */
	SCAN_LF,		/* after its CR: LF */
	SCAN_FIELDS,		/* field lines, up to the blank line */
	SCAN_DONE,		/* the blank line is in: the name decides */
	SCAN_FAILED		/* decided before the blank line: status, why */
};

enum target_form {
	FORM_INVALID,		/* none of the below */
	FORM_ORIGIN,		/* "/path?query" */
	FORM_ASTERISK,		/* "*", OPTIONS only */
	FORM_ABSOLUTE,		/* "http://authority/path" */
	FORM_AUTHORITY		/* "host:port", CONNECT only */
};

struct target {
	enum target_form form;
	const uint8_t	*auth;		/* ABSOLUTE/AUTHORITY: host[:port], userinfo removed */
	size_t		 auth_len;
	uint16_t	 dflt_port;	/* ABSOLUTE: the scheme's port, for comparing with Host */
};

enum auth_kind {
	AUTH_NAME,		/* a valid host name, normalised in name[] */
	AUTH_IP,		/* an IP literal */
	AUTH_BAD		/* anything else; why says what */
};

/* host [":" port] as found in Host or in a request target. */
struct authority {
	enum auth_kind	 kind;
	const uint8_t	*host;		/* as written, brackets included */
	size_t		 host_len;
	uint16_t	 port;		/* 0 when absent */
	char		 name[DNAME_MAX + 1];
	const char	*why;		/* AUTH_IP, AUTH_BAD */
};

static int
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static uint8_t
ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

/* 1 if a[0..n) equals b[0..n) ignoring ASCII case. */
static int
ascii_caseeq(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

/* The scan has decided before the blank line: status, why, and where. */
static void
scan_fail(struct http_scan *scan, enum peek_status status, size_t decided, const char *why)
{
	scan->phase = SCAN_FAILED;
	scan->status = status;
	scan->why = why;
	scan->head_len = decided;
	scan->pos = decided;
}

/* The bytes are no HTTP/1.x request: decided at byte decided - 1. */
static void
not_http(struct http_scan *scan, size_t decided, const char *why)
{
	scan->flags |= PEEK_F_NOT_PROTOCOL;
	scan_fail(scan, PEEK_NO_NAME, decided, why);
}

/* tg from an "http://..." or "https://..." target (its authority, userinfo dropped): NULL,
 * or why t is not one. */
static const char *
absolute_parse(const uint8_t *t, size_t n, struct target *tg)
{
	static const char *const schemes[] = { "http://", "https://" };
	static const uint16_t ports[] = { 80, 443 };
	size_t k, sl, alen, at;

	for (k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
		sl = strlen(schemes[k]);
		if (n < sl || !ascii_caseeq(t, (const uint8_t *)schemes[k], sl))
			continue;
		for (alen = 0; sl + alen < n; alen++) {
			uint8_t c = t[sl + alen];

			if (c == '/' || c == '?' || c == '#')
				break;
			if (c == '\\')	/* WHATWG URL parsers end the authority here */
				return "backslash in the request target's authority";
		}
		/* userinfo runs up to the last '@': "http://allowed@evil/" names evil */
		for (at = alen; at > 0 && t[sl + at - 1] != '@'; at--)
			;
		tg->form = FORM_ABSOLUTE;
		tg->auth = t + sl + at;
		tg->auth_len = alen - at;
		tg->dflt_port = ports[k];
		return NULL;
	}
	return "request target is not origin-, absolute- or asterisk-form";
}

/* Which form the request target takes (RFC 9112 section 3.2). NULL, or why not. */
static const char *
target_parse(const uint8_t *buf, const struct http_scan *scan, struct target *tg)
{
	const uint8_t *t = buf + scan->target_off;
	size_t n = scan->target_len;

	tg->form = FORM_INVALID;
	tg->auth = NULL;
	tg->auth_len = 0;
	tg->dflt_port = 0;
	if (scan->method_len == 7 && memcmp(buf, "CONNECT", 7) == 0) {
		tg->form = FORM_AUTHORITY;
		tg->auth = t;
		tg->auth_len = n;
		return NULL;
	}
	if (t[0] == '/') {
		tg->form = FORM_ORIGIN;
		return NULL;
	}
	if (n == 1 && t[0] == '*') {
		tg->form = FORM_ASTERISK;
		if (scan->method_len == 7 && memcmp(buf, "OPTIONS", 7) == 0)
			return NULL;
		return "asterisk-form target with a method other than OPTIONS";
	}
	return absolute_parse(t, n, tg);
}

/* The request line is complete, up to end: judge the target's form, then read fields. */
static void
reqline_done(struct http_scan *scan, const uint8_t *buf, size_t end)
{
	struct target tg;
	const char *why = target_parse(buf, scan, &tg);

	if (tg.form == FORM_ABSOLUTE)
		scan->flags |= PEEK_F_ABSOLUTE;
	else if (tg.form == FORM_AUTHORITY)
		scan->flags |= PEEK_F_CONNECT;
	if (why != NULL) {
		scan_fail(scan, PEEK_MALFORMED, end, why);
		return;
	}
	scan->form = (uint8_t)tg.form;
	scan->auth_off = tg.auth != NULL ? (size_t)(tg.auth - buf) : 0;
	scan->auth_len = tg.auth_len;
	scan->dflt_port = tg.dflt_port;
	scan->phase = SCAN_FIELDS;
	scan->line = scan->pos = end;
}

/*
 * One byte of "METHOD SP request-target SP HTTP/1.x CRLF" (buf[i], i the scan's position),
 * judged as it comes so that other protocols are turned away within their first line.
 */
static void
reqline_byte(struct http_scan *scan, const uint8_t *buf, size_t i)
{
	static const char version[] = "HTTP/1.";
	uint8_t c = buf[i];
	int ok;

	switch (scan->phase) {
	case SCAN_METHOD:
		if (is_tchar(c)) {
			if (i == HTTP_METHOD_MAX)
				not_http(scan, i + 1, "method longer than 32 bytes");
		} else if (i == 0 || c != ' ') {
			not_http(scan, i + 1, "no method token followed by a space");
		} else {
			scan->method_len = i;
			scan->target_off = i + 1;
			scan->phase = SCAN_TARGET;
		}
		return;
	case SCAN_TARGET:
		if (c > ' ' && c < 0x7f) {
			if (i - scan->target_off == HTTP_TARGET_MAX)
				not_http(scan, i + 1, "request target longer than 8192 bytes");
		} else if (i == scan->target_off || c != ' ') {
			not_http(scan, i + 1, "no request target followed by a space");
		} else {
			scan->target_len = i - scan->target_off;
			scan->vpos = 0;
			scan->phase = SCAN_VERSION;
		}
		return;
	case SCAN_VERSION:	/* the NUL's slot in version[] is the digit */
		ok = scan->vpos < sizeof(version) - 1 ? c == (uint8_t)version[scan->vpos] :
		    (c == '0' || c == '1');
		if (ok) {
			if (++scan->vpos == sizeof(version))
				scan->phase = SCAN_CR;
		} else if (scan->method_len == 3 && memcmp(buf, "PRI", 3) == 0 &&
		    scan->target_len == 1 && buf[scan->target_off] == '*') {
			not_http(scan, i + 1, "HTTP/2 connection preface, not HTTP/1.x");
		} else
			not_http(scan, i + 1, "version is not HTTP/1.0 or HTTP/1.1");
		return;
	case SCAN_CR:
		if (c == '\r') {
			scan->phase = SCAN_LF;
			return;
		}
		/* FALLTHROUGH */
	case SCAN_LF:
		if (c == '\n')
			reqline_done(scan, buf, i + 1);
		else
			not_http(scan, i + 1, "request line does not end in CRLF");
		return;
	default:
		return;
	}
}

/* The request line, byte by byte from where the last call stopped. */
static void
reqline_scan(struct http_scan *scan, const uint8_t *buf, size_t len)
{
	while (scan->phase < SCAN_FIELDS && scan->pos < len) {
		scan->examined++;
		reqline_byte(scan, buf, scan->pos);
		if (scan->phase < SCAN_FIELDS)
			scan->pos++;
	}
}

/* 1..65535 in one to five digits. 0, or -1. */
static int
port_parse(const uint8_t *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* 1 if s[0..n) (the inside of "[...]") is an IPv6 address. */
static int
ipv6_valid(const uint8_t *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a6) == 1;
}

/* The host part of an authority (no port, not bracketed): a name, an IPv4 literal or bad. */
static void
host_classify(const uint8_t *s, size_t n, struct authority *a)
{
	enum dname_status st;

	if (n == 0) {
		a->why = "empty host";
		return;
	}
	if (dname_is_ip_literal((const char *)s, n)) {
		a->kind = AUTH_IP;
		a->why = "host is an IPv4 address, not a name";
		return;
	}
	st = dname_normalize((const char *)s, n, a->name, NULL);
	if (st != DNAME_OK) {
		a->why = dname_status_str(st);
		return;
	}
	a->kind = AUTH_NAME;
}

/* host [":" port] from a Host value or a request target; the result goes to *a. */
static void
authority_parse(const uint8_t *s, size_t n, struct authority *a)
{
	const uint8_t *close, *colon;
	int bracketed = n > 0 && s[0] == '[';
	size_t hl;

	a->kind = AUTH_BAD;
	a->host = s;
	a->host_len = 0;
	a->port = 0;
	a->name[0] = '\0';
	a->why = NULL;
	if (bracketed) {
		if ((close = memchr(s, ']', n)) == NULL) {
			a->why = "IPv6 literal without its closing bracket";
			return;
		}
		hl = (size_t)(close - s) + 1;
		if (!ipv6_valid(s + 1, hl - 2)) {
			a->why = "invalid IPv6 literal";
			return;
		}
	} else {
		colon = memchr(s, ':', n);
		hl = colon != NULL ? (size_t)(colon - s) : n;
		if (colon != NULL && memchr(colon + 1, ':', n - hl - 1) != NULL) {
			a->why = "IPv6 literal without brackets";
			return;
		}
	}
	a->host_len = hl;
	if (hl < n && (s[hl] != ':' || port_parse(s + hl + 1, n - hl - 1, &a->port) == -1)) {
		a->why = "port is not a number from 1 to 65535";
		return;
	}
	if (bracketed) {
		a->kind = AUTH_IP;
		a->why = "host is an IPv6 address, not a name";
		return;
	}
	host_classify(s, hl, a);
}

/* 1 if t (a request target's authority) and h (a Host value) name the same host and port. */
static int
authority_same(const struct authority *t, const struct authority *h, uint16_t dflt_port)
{
	uint16_t tp = t->port != 0 ? t->port : dflt_port;
	uint16_t hp = h->port != 0 ? h->port : dflt_port;

	if (t->kind != h->kind || tp != hp)
		return 0;
	if (t->kind == AUTH_NAME)
		return strcmp(t->name, h->name) == 0;
	return t->host_len == h->host_len && ascii_caseeq(t->host, h->host, t->host_len);
}

static enum peek_status
authority_verdict(const struct authority *a, struct peek_result *res)
{
	res->port = a->port;
	switch (a->kind) {
	case AUTH_NAME:
		memcpy(res->name, a->name, sizeof(res->name));
		return peek_verdict(res, PEEK_OK, NULL);
	case AUTH_IP:
		res->flags |= PEEK_F_IP_LITERAL;
		return peek_verdict(res, PEEK_NO_NAME, a->why);
	case AUTH_BAD:
		break;
	}
	return peek_verdict(res, PEEK_MALFORMED, a->why);
}

/* The name from the target when it has an authority (Host must then agree), else Host. */
static enum peek_status
name_choose(const struct http_scan *scan, const uint8_t *buf, struct peek_result *res)
{
	const uint8_t *host = scan->have_host ? buf + scan->host_off : NULL;
	size_t host_len = scan->host_len;
	struct authority t, h;

	if (scan->form != FORM_ABSOLUTE && scan->form != FORM_AUTHORITY) {
		if (host == NULL)
			return peek_verdict(res, PEEK_NO_NAME, "no Host field");
		if (host_len == 0)
			return peek_verdict(res, PEEK_NO_NAME, "empty Host field");
		authority_parse(host, host_len, &h);
		return authority_verdict(&h, res);
	}
	authority_parse(buf + scan->auth_off, scan->auth_len, &t);
	if (t.kind == AUTH_BAD)
		return peek_verdict(res, PEEK_MALFORMED, t.why);
	if (scan->form == FORM_AUTHORITY && t.port == 0)
		return peek_verdict(res, PEEK_MALFORMED, "CONNECT target without a port");
	if (host != NULL) {
		authority_parse(host, host_len, &h);
		if (h.kind == AUTH_BAD && host_len > 0)
			return peek_verdict(res, PEEK_MALFORMED, h.why);
		if (!authority_same(&t, &h, scan->form == FORM_AUTHORITY ? t.port :
		    scan->dflt_port))
			return peek_verdict(res, PEEK_MALFORMED, "Host differs from request target");
	}
	return authority_verdict(&t, res);
}

/* One field line buf[off..off+n) (without its line end): the RFC 9112 rules, and
 * remember where Host's value is. NULL, or why the line is refused. */
static const char *
field_check(const uint8_t *buf, size_t off, size_t n, struct http_scan *scan)
{
	const uint8_t *line = buf + off;
	size_t i, vs, ve;

	if (line[0] == ' ' || line[0] == '\t')
		return "obs-fold (a line starting with whitespace)";
	for (i = 0; i < n && is_tchar(line[i]); i++)
		;
	if (i == n)
		return "field line without a colon";
	if (line[i] == ' ' || line[i] == '\t')
		return "whitespace between field name and colon";
	if (line[i] == '\r')
		return "bare CR not followed by LF";
	if (line[i] != ':' || i == 0)
		return "field name is not a token";
	for (vs = i + 1; vs < n; vs++) {
		if (line[vs] == '\r')
			return "bare CR not followed by LF";
		if ((line[vs] < ' ' && line[vs] != '\t') || line[vs] == 0x7f)
			return "control byte in a field value";
	}
	if (i != 4 || !ascii_caseeq(line, (const uint8_t *)"host", 4))
		return NULL;
	if (scan->have_host)
		return "two Host fields";
	for (vs = i + 1; vs < n && (line[vs] == ' ' || line[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'); ve--)
		;
	scan->have_host = 1;
	scan->host_off = off + vs;
	scan->host_len = ve - vs;
	return NULL;
}

/* The line buf[scan->line..end) just completed (end is just past its LF): the blank
 * line ends the head, any other is a field line judged now. */
static void
line_judge(struct http_scan *scan, const uint8_t *buf, size_t end)
{
	size_t p = scan->line, n = end - 1 - p;
	const char *why;

	if (n == 0 || (n == 1 && buf[p] == '\r')) {
		scan->phase = SCAN_DONE;
		scan->head_len = end;
		return;
	}
	if (++scan->fields > HTTP_FIELDS_MAX) {
		scan_fail(scan, PEEK_MALFORMED, end, "more than 100 header fields");
		return;
	}
	if (buf[end - 2] == '\r')
		n--;
	scan->examined += n;
	if ((why = field_check(buf, p, n, scan)) != NULL)
		scan_fail(scan, PEEK_MALFORMED, end, why);
}

/* Field lines within the first HTTP_HEAD_MAX bytes, each line end searched for once. */
static void
fields_scan(struct http_scan *scan, const uint8_t *buf, size_t len)
{
	size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	const uint8_t *lf;
	size_t end;

	while (scan->phase == SCAN_FIELDS && scan->pos < lim) {
		if ((lf = memchr(buf + scan->pos, '\n', lim - scan->pos)) == NULL) {
			scan->examined += lim - scan->pos;
			scan->pos = lim;
			break;
		}
		end = (size_t)(lf - buf) + 1;
		scan->examined += end - scan->pos;
		scan->pos = end;
		line_judge(scan, buf, end);
		scan->line = end;
	}
	if (scan->phase == SCAN_FIELDS && len >= HTTP_HEAD_MAX)
		scan_fail(scan, PEEK_MALFORMED, HTTP_HEAD_MAX, "head longer than 16384 bytes");
}

size_t
http_head_end(const uint8_t *buf, size_t len, size_t from)
{
	const uint8_t *lf;
	size_t i = from > 3 ? from - 3 : 0;

	while (i < len && (lf = memchr(buf + i, '\n', len - i)) != NULL) {
		i = (size_t)(lf - buf) + 1;
		if (i < len && buf[i] == '\n')
			return i + 1;
		if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

void
http_scan_init(struct http_scan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->phase = SCAN_METHOD;
}

enum peek_status
http_scan_feed(struct http_scan *scan, const uint8_t *buf, size_t len, struct peek_result *res)
{
	if (len < scan->pos)
		http_scan_init(scan);
	if (scan->phase < SCAN_FIELDS)
		reqline_scan(scan, buf, len);
	if (scan->phase == SCAN_FIELDS)
		fields_scan(scan, buf, len);
	res->name[0] = '\0';
	res->port = 0;
	res->flags = scan->flags;
	res->need = 0;
	res->head_len = 0;
	switch (scan->phase) {
	case SCAN_FAILED:
		res->head_len = scan->head_len;
		return peek_verdict(res, scan->status, scan->why);
	case SCAN_DONE:
		res->head_len = scan->head_len;
		return name_choose(scan, buf, res);
	default:
		return peek_need_more(res, len + 1);
	}
}

enum peek_status
http_host_parse(const uint8_t *buf, size_t len, struct peek_result *res)
{
	struct http_scan scan;

	http_scan_init(&scan);
	return http_scan_feed(&scan, buf, len, res);
}
