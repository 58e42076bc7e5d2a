/* hint.c: what a configuration mistake probably meant (see hint.h). Pure. */
#include "hint.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dname.h"
#include "util.h"

#define HINT_WORD_MAX 64
#define HINT_FAR 1000u

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

unsigned
hint_distance(const char *a, const char *b)
{
	unsigned row[HINT_WORD_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > HINT_WORD_MAX || lb > HINT_WORD_MAX)
		return HINT_FAR;
	for (j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		unsigned diag = row[0], up;

		row[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			unsigned best = diag + (lower(a[i - 1]) != lower(b[j - 1]));

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *
hint_closest(const char *word, const char *const *words, size_t n)
{
	const char *best = NULL;
	unsigned bestd = HINT_FAR;
	size_t i;

	for (i = 0; i < n; i++) {
		size_t longer = strlen(words[i]) > strlen(word) ? strlen(words[i]) : strlen(word);
		unsigned d = hint_distance(word, words[i]), limit = (unsigned)(longer / 3);

		if (limit < 1)
			limit = 1;
		if (d <= limit && d < bestd) {
			best = words[i];
			bestd = d;
		}
	}
	return best;
}

/* ---- non-ASCII characters ---- */

/* Decode the UTF-8 sequence at s[0..len) (s[0] >= 0x80). The code point, or -1 when the
 * bytes are not well-formed UTF-8. */
static long
utf8_decode(const unsigned char *s, size_t len)
{
	size_t n, i;
	long cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return -1;
	if (len < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return cp;
}

int
hint_nonascii(const char *s, size_t len, char *msg, size_t msglen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, col;
	long cp;

	for (i = 0; i < len && u[i] < 0x80; i++)
		;
	if (i == len)
		return 0;
	col = i + 1;
	cp = utf8_decode(u + i, len - i);
	if (cp < 0)
		snprintf(msg, msglen, "a byte 0x%02X that is not UTF-8 at column %zu: the file must "
		    "be ASCII (write names as A-labels, xn--...)", u[i], col);
	else if (cp == 0xfeff && i == 0)
		snprintf(msg, msglen, "a UTF-8 byte order mark (BOM) at column 1: save the file "
		    "without it (plain ASCII)");
	else if (cp == 0xfeff || (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060)
		snprintf(msg, msglen, "a zero-width character (U+%04lX) at column %zu: delete it",
		    cp, col);
	else if (cp == 0xa0 || cp == 0x2007 || cp == 0x202f)
		snprintf(msg, msglen, "a no-break space (U+%04lX) at column %zu: replace it with an "
		    "ordinary space", cp, col);
	else if ((cp >= 0x2000 && cp <= 0x200a) || cp == 0x3000 || cp == 0x205f)
		snprintf(msg, msglen, "a Unicode space (U+%04lX) at column %zu: replace it with an "
		    "ordinary space", cp, col);
	else if (cp >= 0x2018 && cp <= 0x201f)
		snprintf(msg, msglen, "a curly quote (U+%04lX) at column %zu: quotes are not part of "
		    "the syntax; delete it", cp, col);
	else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212)
		snprintf(msg, msglen, "a Unicode dash (U+%04lX) at column %zu: write an ASCII '-'",
		    cp, col);
	else
		snprintf(msg, msglen, "a non-ASCII character (U+%04lX) at column %zu: write names "
		    "as A-labels (xn--...)", cp, col);
	return 1;
}

/* ---- strings that are not host names ---- */

int
hint_is_port_list(const char *s)
{
	/* items of digits, or digits '-' digits, separated by single commas */
	for (;;) {
		size_t d = strspn(s, "0123456789");

		if (d == 0)
			return 0;
		s += d;
		if (*s == '-') {
			if ((d = strspn(s + 1, "0123456789")) == 0)
				return 0;
			s += 1 + d;
		}
		if (*s == '\0')
			return 1;
		if (*s++ != ',')
			return 0;
	}
}

int
hint_url(const char *s, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *p = strstr(s, "://"), *end, *at, *colon;
	size_t hl;

	if (p == NULL)
		return 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;			/* user:password@ */
	if (*p == '[') {			/* [v6]:port */
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL)
			rb = end;
		hl = (size_t)(rb - p - 1);
		colon = (rb < end && rb[1] == ':') ? rb + 1 : NULL;
		p++;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hl = (size_t)((colon ? colon : end) - p);
	}
	snprintf(host, hostlen, "%.*s", (int)hl, p);
	if (colon != NULL)
		snprintf(port, portlen, "%.*s", (int)(end - colon - 1), colon + 1);
	else if (portlen > 0)
		port[0] = '\0';
	return 1;
}

/* 1 if s (up to len) is an IPv4 or IPv6 address as inet_pton reads it. */
static int
is_address(const char *s, size_t len)
{
	char tmp[64];
	unsigned char buf[16];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, buf) == 1 || inet_pton(AF_INET6, tmp, buf) == 1;
}

/* 1 if every label of s is numeric (dotted-decimal forms that inet_aton reads: 127.1). */
static int
all_numeric_labels(const char *s)
{
	int digits = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digits = 1;
		else if (*s != '.')
			return 0;
	}
	return digits;
}

static const char ADDR_ADVICE[] = "allow the name the clients use (the forwarder dials "
    "what it resolves to; add 'private' for private addresses)";

int
hint_name(const char *s, char *msg, size_t msglen)
{
	char host[DNAME_MAX + 8], port[16];
	const char *slash, *colon;
	size_t len = strlen(s);

	if (len > 0 && (s[0] == '"' || s[0] == '\'' || s[len - 1] == '"' || s[len - 1] == '\'')) {
		size_t a = (s[0] == '"' || s[0] == '\''), b = (len > a && (s[len - 1] == '"' ||
		    s[len - 1] == '\''));

		snprintf(msg, msglen, "'%s': quotes are not part of the syntax: write %.*s", s,
		    (int)(len - a - b), s + a);
		return 1;
	}
	if (s[0] == '.' && s[1] != '\0' && s[1] != '.') {	/* ".example.com", as some proxies */
		snprintf(msg, msglen, "'%s': a leading dot is no wildcard here: write %s for the "
		    "name itself, *.%s for one label below it, **.%s for any depth", s, s + 1,
		    s + 1, s + 1);
		return 1;
	}
	if (hint_url(s, host, sizeof(host), port, sizeof(port))) {
		snprintf(msg, msglen, "'%s' is a URL: write the host only (%s)%s%s%s", s, host,
		    port[0] ? ", and put its port " : "", port, port[0] ? " in the port list" : "");
		return 1;
	}
	if ((slash = strchr(s, '/')) != NULL) {
		if (is_address(s, (size_t)(slash - s))) {
			snprintf(msg, msglen, "'%s' is an address prefix, not a name: %s", s, ADDR_ADVICE);
			return 1;
		}
		snprintf(msg, msglen, "'%s': write the host only (%.*s), without a path", s,
		    (int)(slash - s), s);
		return 1;
	}
	if (is_address(s, len) || (all_numeric_labels(s) && dname_is_ip_literal(s, len))) {
		snprintf(msg, msglen, "'%s' is an IP address, not a name: %s", s, ADDR_ADVICE);
		return 1;
	}
	if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL &&
	    hint_is_port_list(colon + 1)) {
		snprintf(msg, msglen, "'%s': the port goes in the port list, not after the name: "
		    "write %.*s %s", s, (int)(colon - s), s, colon + 1);
		return 1;
	}
	if (dname_is_ip_literal(s, len)) {
		snprintf(msg, msglen, "'%s' is not a name: its last label is a number, which no "
		    "top-level domain is (and URL parsers read such a host as an IPv4 address); "
		    "check the name", s);
		return 1;
	}
	return 0;
}
