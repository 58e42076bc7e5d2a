/* dname.c: host name validation and normalisation (see dname.h). */
#include "dname.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util.h"

static int
is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The last label, as URL parsers read it: all digits, or 0x and hex digits, means the
 * whole host is an IPv4 address in some notation ("127.1", "0x7f000001"). */
static int
numeric_label(const char *s, size_t len)
{
	size_t i = 0;
	int hex = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		hex = 1;
		i = 2;
	}
	if (i == len)
		return hex;		/* "0x" alone is zero in those parsers */
	for (; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))))
			return 0;
	}
	return 1;
}

int
dname_is_ip_literal(const char *s, size_t len)
{
	const char *last;

	if (len == 0)
		return 0;
	if (memchr(s, ':', len) != NULL) {
		char tmp[64];
		struct in6_addr a6;

		if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
			s++;
			len -= 2;
		}
		if (len >= sizeof(tmp))
			return 0;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		return inet_pton(AF_INET6, tmp, &a6) == 1;
	}
	if (len > 1 && s[len - 1] == '.')
		len--;
	last = memrchr(s, '.', len);
	last = last ? last + 1 : s;
	return numeric_label(last, len - (size_t)(last - s));
}

enum dname_status
dname_normalize(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t i, label = 0;

	out[0] = '\0';
	if (outlen != NULL)
		*outlen = 0;
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return DNAME_EMPTY;
	if (len > DNAME_MAX)
		return DNAME_TOO_LONG;
	if (dname_is_ip_literal(in, len))
		return DNAME_IP_LITERAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0) {
				out[0] = '\0';
				return DNAME_LABEL_EMPTY;
			}
			label = 0;
		} else if (c >= 0x80) {
			out[0] = '\0';
			return DNAME_NON_ASCII;
		} else if (!is_label_char(c)) {
			out[0] = '\0';
			return DNAME_BAD_CHAR;
		} else if (++label > DNAME_LABEL_MAX) {
			out[0] = '\0';
			return DNAME_LABEL_TOO_LONG;
		}
		out[i] = (char)c;
	}
	if (label == 0) {	/* "a.." arrives here as "a." */
		out[0] = '\0';
		return DNAME_LABEL_EMPTY;
	}
	out[len] = '\0';
	if (outlen != NULL)
		*outlen = len;
	return DNAME_OK;
}

const char *
dname_status_str(enum dname_status status)
{
	switch (status) {
	case DNAME_OK:
		return "valid name";
	case DNAME_EMPTY:
		return "empty name";
	case DNAME_TOO_LONG:
		return "name longer than " UTIL_STR(DNAME_MAX) " characters";
	case DNAME_LABEL_EMPTY:
		return "empty label (two dots in a row, or a leading dot)";
	case DNAME_LABEL_TOO_LONG:
		return "label longer than " UTIL_STR(DNAME_LABEL_MAX) " characters";
	case DNAME_BAD_CHAR:
		return "character not allowed in a host name (letters, digits, '-', '_')";
	case DNAME_NON_ASCII:
		return "non-ASCII name: write it as an A-label (xn--...)";
	case DNAME_IP_LITERAL:
		return "an IP address, not a name";
	}
	return "invalid name";
}
