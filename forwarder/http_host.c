/* http_host.c: learns the intended host from the head of an HTTP/1.x request (see http_host.h). */
#include "http_host.h"

#include <arpa/inet.h>
#include <string.h>

#include "dname.h"

/* The request line, once it is complete: offsets into the caller's buffer. */
struct reqline {
	size_t		 method_len;	/* the method is buf[0..method_len) */
	size_t		 target_off;
	size_t		 target_len;
	size_t		 end;		/* just past the line's LF */
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

/* What the field lines say that matters here. */
struct fields {
	const uint8_t	*host;		/* Host value without OWS; NULL when there is no Host */
	size_t		 host_len;
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

static enum peek_status
verdict(struct peek_result *res, enum peek_status status, const char *why)
{
	res->status = status;
	res->why = why;
	return status;
}

static enum peek_status
need_more(struct peek_result *res, size_t len)
{
	res->need = len + 1;
	return verdict(res, PEEK_NEED_MORE, NULL);
}

static enum peek_status
not_http(struct peek_result *res, size_t examined, const char *why)
{
	res->flags |= PEEK_F_NOT_PROTOCOL;
	res->head_len = examined;
	return verdict(res, PEEK_NO_NAME, why);
}

/* The bytes after the target, up to the LF: "HTTP/1.0" or "HTTP/1.1", then CRLF or LF. */
static enum peek_status
version_parse(const uint8_t *buf, size_t len, size_t i, struct reqline *rl,
    struct peek_result *res)
{
	static const char version[] = "HTTP/1.";
	size_t v;
	int ok;

	for (v = 0; v < sizeof(version); v++, i++) {	/* the NUL's slot is the digit */
		if (i == len)
			return need_more(res, len);
		ok = v < sizeof(version) - 1 ? buf[i] == (uint8_t)version[v] :
		    (buf[i] == '0' || buf[i] == '1');
		if (ok)
			continue;
		if (rl->method_len == 3 && memcmp(buf, "PRI", 3) == 0 && rl->target_len == 1 &&
		    buf[rl->target_off] == '*')
			return not_http(res, i + 1, "HTTP/2 connection preface, not HTTP/1.x");
		return not_http(res, i + 1, "version is not HTTP/1.0 or HTTP/1.1");
	}
	if (i < len && buf[i] == '\r')
		i++;
	if (i == len)
		return need_more(res, len);
	if (buf[i] != '\n')
		return not_http(res, i + 1, "request line does not end in CRLF");
	rl->end = i + 1;
	return PEEK_OK;
}

/*
 * "METHOD SP request-target SP HTTP/1.x CRLF", judged byte by byte so that other
 * protocols are turned away within their first line. PEEK_OK once the line is complete
 * (the target's form is checked later), else NEED_MORE or NO_NAME|NOT_PROTOCOL.
 */
static enum peek_status
reqline_parse(const uint8_t *buf, size_t len, struct reqline *rl, struct peek_result *res)
{
	size_t i;

	for (i = 0; i < len && is_tchar(buf[i]); i++)
		if (i == HTTP_METHOD_MAX)
			return not_http(res, i + 1, "method longer than 32 bytes");
	if (i == len)
		return need_more(res, len);
	if (i == 0 || buf[i] != ' ')
		return not_http(res, i + 1, "no method token followed by a space");
	rl->method_len = i;
	rl->target_off = ++i;
	for (; i < len && buf[i] > ' ' && buf[i] < 0x7f; i++)
		if (i - rl->target_off == HTTP_TARGET_MAX)
			return not_http(res, i + 1, "request target longer than 8192 bytes");
	if (i == len)
		return need_more(res, len);
	if (i == rl->target_off || buf[i] != ' ')
		return not_http(res, i + 1, "no request target followed by a space");
	rl->target_len = i - rl->target_off;
	return version_parse(buf, len, i + 1, rl, res);
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
target_parse(const uint8_t *buf, const struct reqline *rl, struct target *tg)
{
	const uint8_t *t = buf + rl->target_off;
	size_t n = rl->target_len;

	tg->form = FORM_INVALID;
	tg->auth = NULL;
	tg->auth_len = 0;
	tg->dflt_port = 0;
	if (rl->method_len == 7 && memcmp(buf, "CONNECT", 7) == 0) {
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
		if (rl->method_len == 7 && memcmp(buf, "OPTIONS", 7) == 0)
			return NULL;
		return "asterisk-form target with a method other than OPTIONS";
	}
	return absolute_parse(t, n, tg);
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

/*
 * 1 if the last label of s[0..n) is a number ("127.1", "0x7f000001", "10.0.0.010"):
 * URL parsers (WHATWG) read such a host as an IPv4 address, so it is no name.
 */
static int
host_is_numeric(const uint8_t *s, size_t n)
{
	size_t start, i;

	if (n > 0 && s[n - 1] == '.')
		n--;
	for (start = n; start > 0 && s[start - 1] != '.'; start--)
		;
	if (start == n)
		return 0;
	i = start;
	if (n - start >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		for (i += 2; i < n; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (ascii_lower(s[i]) >= 'a' &&
			    ascii_lower(s[i]) <= 'f')))
				return 0;
		return 1;
	}
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
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
	if (host_is_numeric(s, n) || dname_is_ip_literal((const char *)s, n)) {
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
		return verdict(res, PEEK_OK, NULL);
	case AUTH_IP:
		res->flags |= PEEK_F_IP_LITERAL;
		return verdict(res, PEEK_NO_NAME, a->why);
	case AUTH_BAD:
		break;
	}
	return verdict(res, PEEK_MALFORMED, a->why);
}

/* The name from the target when it has an authority (Host must then agree), else Host. */
static enum peek_status
name_choose(const struct target *tg, const struct fields *f, struct peek_result *res)
{
	struct authority t, h;

	if (tg->form != FORM_ABSOLUTE && tg->form != FORM_AUTHORITY) {
		if (f->host == NULL)
			return verdict(res, PEEK_NO_NAME, "no Host field");
		if (f->host_len == 0)
			return verdict(res, PEEK_NO_NAME, "empty Host field");
		authority_parse(f->host, f->host_len, &h);
		return authority_verdict(&h, res);
	}
	authority_parse(tg->auth, tg->auth_len, &t);
	if (t.kind == AUTH_BAD)
		return verdict(res, PEEK_MALFORMED, t.why);
	if (tg->form == FORM_AUTHORITY && t.port == 0)
		return verdict(res, PEEK_MALFORMED, "CONNECT target without a port");
	if (f->host != NULL) {
		authority_parse(f->host, f->host_len, &h);
		if (h.kind == AUTH_BAD && f->host_len > 0)
			return verdict(res, PEEK_MALFORMED, h.why);
		if (!authority_same(&t, &h, tg->form == FORM_AUTHORITY ? t.port : tg->dflt_port))
			return verdict(res, PEEK_MALFORMED, "Host differs from request target");
	}
	return authority_verdict(&t, res);
}

/* One field line (without its line end): the RFC 9112 rules, and remember Host. */
static const char *
field_check(const uint8_t *line, size_t n, struct fields *f)
{
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
	if (f->host != NULL)
		return "two Host fields";
	for (vs = i + 1; vs < n && (line[vs] == ' ' || line[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'); ve--)
		;
	f->host = line + vs;
	f->host_len = ve - vs;
	return NULL;
}

/* Every field line in buf[from..end), where end is just past the blank line. NULL or why. */
static const char *
fields_scan(const uint8_t *buf, size_t from, size_t end, struct fields *f)
{
	const uint8_t *lf;
	const char *why;
	size_t p, n, count = 0;

	f->host = NULL;
	f->host_len = 0;
	for (p = from; p < end; p += n + 1) {
		if ((lf = memchr(buf + p, '\n', end - p)) == NULL)
			break;
		n = (size_t)(lf - (buf + p));
		if (n == 0 || (n == 1 && buf[p] == '\r'))
			return NULL;	/* the blank line */
		if (++count > HTTP_FIELDS_MAX)
			return "more than 100 header fields";
		if ((why = field_check(buf + p, buf[p + n - 1] == '\r' ? n - 1 : n, f)) != NULL)
			return why;
	}
	return "head without a blank line";	/* not reached: end comes from http_head_end */
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

enum peek_status
http_host_parse(const uint8_t *buf, size_t len, struct peek_result *res)
{
	struct reqline rl;
	struct target tg;
	struct fields f;
	enum peek_status st;
	const char *why;
	size_t end;

	res->status = PEEK_NEED_MORE;
	res->name[0] = '\0';
	res->port = 0;
	res->flags = 0;
	res->need = 0;
	res->head_len = 0;
	res->why = NULL;
	if ((st = reqline_parse(buf, len, &rl, res)) != PEEK_OK)
		return st;
	why = target_parse(buf, &rl, &tg);
	if (tg.form == FORM_ABSOLUTE)
		res->flags |= PEEK_F_ABSOLUTE;
	else if (tg.form == FORM_AUTHORITY)
		res->flags |= PEEK_F_CONNECT;
	if (why != NULL)
		return verdict(res, PEEK_MALFORMED, why);
	end = http_head_end(buf, len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX, 0);
	if (end == 0 && len >= HTTP_HEAD_MAX)
		return verdict(res, PEEK_MALFORMED, "head longer than 16384 bytes");
	if (end == 0)
		return need_more(res, len);
	res->head_len = end;
	if ((why = fields_scan(buf, rl.end, end, &f)) != NULL)
		return verdict(res, PEEK_MALFORMED, why);
	return name_choose(&tg, &f, res);
}
