/* test_http_host.c: unit tests for forwarder/http_host.c with annotated request heads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dname.h"
#include "http_host.h"

/* A string literal and its length, NULs included. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

struct hcase {
	const char	*label;
	const uint8_t	*buf;
	size_t		 len;
	enum peek_status status;
	const char	*name;		/* OK */
	uint16_t	 port;
	unsigned	 flags;
	const char	*why;		/* NO_NAME/MALFORMED; NULL: dname_status_str(dst) */
	enum dname_status dst;
	size_t		 head_len;	/* OK/NO_NAME; 0: the whole input */
};

/* Table rows: the label and the input (a string literal or a char array) on the first line,
 * what it gives on the next:
 *   GOOD(label, input, name, port, flags): PEEK_OK for that name and port (0: none);
 *   NO_NAME(label, input, why, port, flags): PEEK_NO_NAME;
 *   BAD(label, input, why, flags): PEEK_MALFORMED;
 *   BAD_NAME(label, input, dst, flags): PEEK_MALFORMED as dname_normalize said dst;
 * flags are PEEK_F_*, 0 for none. A head_len other than the whole input follows by name. */
#define GOOD(label, in, name_, port_, flags_, ...) { label, B(in), .status = PEEK_OK, \
	.name = name_, .port = port_, .flags = flags_, __VA_ARGS__ }
#define NO_NAME(label, in, why_, port_, flags_, ...) { label, B(in), .status = PEEK_NO_NAME, \
	.why = why_, .port = port_, .flags = flags_, __VA_ARGS__ }
#define BAD(label, in, why_, flags_) { label, B(in), .status = PEEK_MALFORMED, .why = why_, \
	.flags = flags_ }
#define BAD_NAME(label, in, dst_, flags_) { label, B(in), .status = PEEK_MALFORMED, \
	.dst = dst_, .flags = flags_ }

/* ---- heads recorded from real clients against a listener on 127.0.0.1 ---- */

/* curl 7.88.1: curl --resolve www.example.com:18431:127.0.0.1 http://www.example.com:18431/index.html */
static const char curl_get[] =
	"GET /index.html HTTP/1.1\r\n"
	"Host: www.example.com:18431\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"\r\n";

/* curl 7.88.1: curl http://127.0.0.1:18431/ (an IP literal: no name) */
static const char curl_ip[] =
	"GET / HTTP/1.1\r\n"
	"Host: 127.0.0.1:18431\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"\r\n";

/* curl 7.88.1: curl --http1.0 --resolve ... http://www.example.com:18431/ */
static const char curl_http10[] =
	"GET / HTTP/1.0\r\n"
	"Host: www.example.com:18431\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"\r\n";

/* curl 7.88.1: curl -d 'a=1' http://api.example.com:18431/v1/x?q=1 (the body follows the head) */
static const char curl_post[] =
	"POST /v1/x?q=1 HTTP/1.1\r\n"
	"Host: api.example.com:18431\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"Content-Length: 3\r\n"
	"Content-Type: application/x-www-form-urlencoded\r\n"
	"\r\n"
	"a=1";

/* curl 7.88.1 through an HTTP proxy: curl -x http://127.0.0.1:18431 http://www.example.com/path?x=1 */
static const char curl_proxy[] =
	"GET http://www.example.com/path?x=1 HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"Proxy-Connection: Keep-Alive\r\n"
	"\r\n";

/* curl 7.88.1: curl -x http://127.0.0.1:18431 http://user:pw@www.example.com:8080/ */
static const char curl_proxy_user[] =
	"GET http://www.example.com:8080/ HTTP/1.1\r\n"
	"Host: www.example.com:8080\r\n"
	"Authorization: Basic dXNlcjpwdw==\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"Proxy-Connection: Keep-Alive\r\n"
	"\r\n";

/* curl 7.88.1 tunnelling: curl -p -x http://127.0.0.1:18431 https://www.example.com/ */
static const char curl_connect[] =
	"CONNECT www.example.com:443 HTTP/1.1\r\n"
	"Host: www.example.com:443\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Proxy-Connection: Keep-Alive\r\n"
	"\r\n";

/* GNU Wget 1.21.3: http_proxy=http://127.0.0.1:18431 wget http://www.example.com/a/b */
static const char wget_proxy[] =
	"GET http://www.example.com/a/b HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: Wget/1.21.3\r\n"
	"Accept: */*\r\n"
	"Accept-Encoding: identity\r\n"
	"Connection: Keep-Alive\r\n"
	"Proxy-Connection: Keep-Alive\r\n"
	"\r\n";

/* GNU Wget 1.21.3: wget http://localhost:18431/ */
static const char wget_local[] =
	"GET / HTTP/1.1\r\n"
	"Host: localhost:18431\r\n"
	"User-Agent: Wget/1.21.3\r\n"
	"Accept: */*\r\n"
	"Accept-Encoding: identity\r\n"
	"Connection: Keep-Alive\r\n"
	"\r\n";

/* GNU Wget 1.21.3: https_proxy=http://127.0.0.1:18431 wget https://www.example.com/ (Host last) */
static const char wget_connect[] =
	"CONNECT www.example.com:443 HTTP/1.1\r\n"
	"User-Agent: Wget/1.21.3\r\n"
	"Host: www.example.com:443\r\n"
	"\r\n";

/* Python 3.11.7 urllib: urlopen("http://localhost:18431/x") (Host is not the first field) */
static const char py_local[] =
	"GET /x HTTP/1.1\r\n"
	"Accept-Encoding: identity\r\n"
	"Host: localhost:18431\r\n"
	"User-Agent: Python-urllib/3.11\r\n"
	"Connection: close\r\n"
	"\r\n";

/* Python 3.11.7 urllib with ProxyHandler({"http": "http://127.0.0.1:18431"}) */
static const char py_proxy[] =
	"GET http://www.example.com/y HTTP/1.1\r\n"
	"Accept-Encoding: identity\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: Python-urllib/3.11\r\n"
	"Connection: close\r\n"
	"\r\n";

static const struct hcase real_cases[] = {
	GOOD("curl GET", curl_get,
	    "www.example.com", 18431, 0),
	NO_NAME("curl IP literal", curl_ip,
	    "host is an IPv4 address, not a name", 18431, PEEK_F_IP_LITERAL),
	GOOD("curl HTTP/1.0", curl_http10,
	    "www.example.com", 18431, 0),
	GOOD("curl POST, body after head", curl_post,
	    "api.example.com", 18431, 0, .head_len = sizeof(curl_post) - 1 - 3),
	GOOD("curl via proxy", curl_proxy,
	    "www.example.com", 0, PEEK_F_ABSOLUTE),
	GOOD("curl via proxy, userinfo", curl_proxy_user,
	    "www.example.com", 8080, PEEK_F_ABSOLUTE),
	GOOD("curl CONNECT", curl_connect,
	    "www.example.com", 443, PEEK_F_CONNECT),
	GOOD("wget via proxy", wget_proxy,
	    "www.example.com", 0, PEEK_F_ABSOLUTE),
	GOOD("wget GET", wget_local,
	    "localhost", 18431, 0),
	GOOD("wget CONNECT", wget_connect,
	    "www.example.com", 443, PEEK_F_CONNECT),
	GOOD("python GET", py_local,
	    "localhost", 18431, 0),
	GOOD("python via proxy", py_proxy,
	    "www.example.com", 0, PEEK_F_ABSOLUTE),
};

/* ---- written by hand: forms and spellings real clients may send ---- */

#define REQ "GET / HTTP/1.1\r\n"

static const struct hcase good_cases[] = {
	GOOD("Host, no port", REQ "Host: example.com\r\n\r\n",
	    "example.com", 0, 0),
	GOOD("uppercase name and field", REQ "HOST: WWW.Example.COM\r\n\r\n",
	    "www.example.com", 0, 0),
	GOOD("trailing dot", REQ "Host: example.com.:8080\r\n\r\n",
	    "example.com", 8080, 0),
	GOOD("OWS around the value", REQ "Host: \t example.com \t\r\n\r\n",
	    "example.com", 0, 0),
	GOOD("no space after colon", REQ "host:example.com\r\n\r\n",
	    "example.com", 0, 0),
	GOOD("LF-only lines", "GET / HTTP/1.1\nHost: example.com\nAccept: */*\n\n",
	    "example.com", 0, 0),
	GOOD("mixed line ends, \\n\\r\\n", "GET / HTTP/1.1\r\nHost: example.com\n\r\n",
	    "example.com", 0, 0),
	GOOD("mixed line ends, \\r\\n\\n", "GET / HTTP/1.1\nHost: example.com\r\n\n",
	    "example.com", 0, 0),
	GOOD("port 65535", REQ "Host: a.example:65535\r\n\r\n",
	    "a.example", 65535, 0),
	GOOD("port with a leading zero", REQ "Host: a.example:08080\r\n\r\n",
	    "a.example", 8080, 0),
	GOOD("service label", REQ "Host: _acme-challenge.example.com\r\n\r\n",
	    "_acme-challenge.example.com", 0, 0),
	GOOD("obs-text in another field", REQ "Host: a.example\r\nX-Y: caf\xc3\xa9\t!\r\n"
	    "X-Empty:\r\n\r\n",
	    "a.example", 0, 0),
	GOOD("bytes after the head", REQ "Host: a.example\r\n\r\nHost: evil.example\r\n\r\n",
	    "a.example", 0, 0, .head_len = sizeof(REQ "Host: a.example\r\n\r\n") - 1),
	GOOD("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    "a.example", 0, 0),
	GOOD("absolute https, uppercase scheme", "GET HTTPS://A.Example:8443?q HTTP/1.1\r\n"
	    "Host: a.example:8443\r\n\r\n",
	    "a.example", 8443, PEEK_F_ABSOLUTE),
	GOOD("absolute, default port spelled in Host", "GET http://a.example/ HTTP/1.1\r\n"
	    "Host: a.example:80\r\n\r\n",
	    "a.example", 0, PEEK_F_ABSOLUTE),
	GOOD("absolute https, Host :443", "GET https://a.example:443/ HTTP/1.1\r\n"
	    "Host: A.EXAMPLE.\r\n\r\n",
	    "a.example", 443, PEEK_F_ABSOLUTE),
	GOOD("absolute, fragment ends authority", "GET http://a.example#x/y HTTP/1.1\r\n\r\n",
	    "a.example", 0, PEEK_F_ABSOLUTE),
	GOOD("absolute, HTTP/1.0, no Host", "GET http://a.example/ HTTP/1.0\r\n\r\n",
	    "a.example", 0, PEEK_F_ABSOLUTE),
	GOOD("userinfo up to the last @", "GET http://allowed.example@x@evil.example/ HTTP/1.1"
	    "\r\n\r\n",
	    "evil.example", 0, PEEK_F_ABSOLUTE),
	GOOD("userinfo spoofing Host", "GET http://allowed.example@evil.example/ HTTP/1.1\r\n"
	    "Host: evil.example\r\n\r\n",
	    "evil.example", 0, PEEK_F_ABSOLUTE),
	GOOD("CONNECT without Host", "CONNECT a.example:443 HTTP/1.1\r\n\r\n",
	    "a.example", 443, PEEK_F_CONNECT),
	GOOD("CONNECT, Host without port", "CONNECT a.example:8443 HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n",
	    "a.example", 8443, PEEK_F_CONNECT),
	GOOD("CONNECT, ClientHello follows", "CONNECT a.example:443 HTTP/1.1\r\n\r\n"
	    "\x16\x03\x01\x02\x00\x01",
	    "a.example", 443, PEEK_F_CONNECT,
	    .head_len = sizeof("CONNECT a.example:443 HTTP/1.1\r\n\r\n") - 1),
	NO_NAME("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n",
	    "no Host field", 0, 0),
	NO_NAME("HTTP/1.1 without Host", REQ "Accept: */*\r\n\r\n",
	    "no Host field", 0, 0),
	NO_NAME("empty Host", REQ "Host:\r\n\r\n",
	    "empty Host field", 0, 0),
	NO_NAME("Host of blanks", REQ "Host:  \t \r\n\r\n",
	    "empty Host field", 0, 0),
	NO_NAME("IPv4 Host, trailing dot", REQ "Host: 10.0.0.1.\r\n\r\n",
	    "host is an IPv4 address, not a name", 0, PEEK_F_IP_LITERAL),
	NO_NAME("short IPv4 127.1", REQ "Host: 127.1\r\n\r\n",
	    "host is an IPv4 address, not a name", 0, PEEK_F_IP_LITERAL),
	NO_NAME("hex IPv4", REQ "Host: 0x7F000001:80\r\n\r\n",
	    "host is an IPv4 address, not a name", 80, PEEK_F_IP_LITERAL),
	NO_NAME("IPv6 Host", REQ "Host: [2001:db8::1]:8080\r\n\r\n",
	    "host is an IPv6 address, not a name", 8080, PEEK_F_IP_LITERAL),
	NO_NAME("absolute IPv6", "GET http://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n",
	    "host is an IPv6 address, not a name", 0, PEEK_F_IP_LITERAL | PEEK_F_ABSOLUTE),
	NO_NAME("CONNECT IPv4", "CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n",
	    "host is an IPv4 address, not a name", 443, PEEK_F_IP_LITERAL | PEEK_F_CONNECT),
	GOOD("0x label that is no number", REQ "Host: a.0xcafez\r\n\r\n",
	    "a.0xcafez", 0, 0),
	GOOD("digits in a name are fine", REQ "Host: 1.2.3.4.example\r\n\r\n",
	    "1.2.3.4.example", 0, 0),
};

/* ---- broken or ambiguous heads: MALFORMED, and why ---- */

static const struct hcase bad_cases[] = {
	BAD("obs-fold, SP", REQ "Host: a.example\r\n evil.example\r\n\r\n",
	    "obs-fold (a line starting with whitespace)", 0),
	BAD("obs-fold, HTAB", REQ "X: 1\r\n\tHost: evil.example\r\nHost: a.example\r\n\r\n",
	    "obs-fold (a line starting with whitespace)", 0),
	BAD("space before colon", REQ "Host : evil.example\r\n\r\n",
	    "whitespace between field name and colon", 0),
	BAD("tab before colon", REQ "Host\t: evil.example\r\n\r\n",
	    "whitespace between field name and colon", 0),
	BAD("name not a token", REQ "Ho(st): x\r\nHost: a.example\r\n\r\n",
	    "field name is not a token", 0),
	BAD("non-ASCII name", REQ "H\xc3\xb6st: x\r\nHost: a.example\r\n\r\n",
	    "field name is not a token", 0),
	BAD("empty name", REQ ": x\r\nHost: a.example\r\n\r\n",
	    "field name is not a token", 0),
	BAD("no colon", REQ "Host a.example\r\n\r\n",
	    "whitespace between field name and colon", 0),
	BAD("no colon, one token", REQ "Hostname\r\n\r\n",
	    "field line without a colon", 0),
	BAD("bare CR in value", REQ "Host: a.example\rX: y\r\n\r\n",
	    "bare CR not followed by LF", 0),
	BAD("bare CR in name", REQ "X\rHost: a.example\r\n\r\n",
	    "bare CR not followed by LF", 0),
	BAD("CR CR LF", REQ "Host: a.example\r\r\n\r\n",
	    "bare CR not followed by LF", 0),
	BAD("CR at start of a line", REQ "Host: a.example\r\n\rX: y\r\n\r\n",
	    "bare CR not followed by LF", 0),
	BAD("NUL in value", REQ "Host: a.example\0.evil\r\n\r\n",
	    "control byte in a field value", 0),
	BAD("control byte in other value", REQ "Host: a.example\r\nX: \x01\r\n\r\n",
	    "control byte in a field value", 0),
	BAD("DEL in value", REQ "X: \x7f\r\nHost: a.example\r\n\r\n",
	    "control byte in a field value", 0),
	BAD("two Host fields", REQ "Host: a.example\r\nhost: evil.example\r\n\r\n",
	    "two Host fields", 0),
	BAD("two equal Host fields", REQ "Host: a.example\r\nHost: a.example\r\n\r\n",
	    "two Host fields", 0),
	BAD("empty and full Host", REQ "Host:\r\nHost: a.example\r\n\r\n",
	    "two Host fields", 0),
	BAD("port 0", REQ "Host: a.example:0\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("port 65536", REQ "Host: a.example:65536\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("port of six digits", REQ "Host: a.example:000080\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("empty port", REQ "Host: a.example:\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("port not digits", REQ "Host: a.example:8o\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("signed port", REQ "Host: a.example:+80\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD("empty host, port", REQ "Host: :80\r\n\r\n",
	    "empty host", 0),
	BAD("IPv6 without brackets", REQ "Host: ::1\r\n\r\n",
	    "IPv6 literal without brackets", 0),
	BAD("unclosed bracket", REQ "Host: [::1\r\n\r\n",
	    "IPv6 literal without its closing bracket", 0),
	BAD("name in brackets", REQ "Host: [evil.example]\r\n\r\n",
	    "invalid IPv6 literal", 0),
	BAD("over-long bracket", REQ "Host: [0000:0000:0000:0000:0000:0000:0000:0000:0000:1]\r\n"
	    "\r\n",
	    "invalid IPv6 literal", 0),
	BAD("junk after bracket", REQ "Host: [::1]x\r\n\r\n",
	    "port is not a number from 1 to 65535", 0),
	BAD_NAME("space inside Host", REQ "Host: a.example evil.example\r\n\r\n",
	    DNAME_BAD_CHAR, 0),
	BAD_NAME("comma list in Host", REQ "Host: a.example,evil.example\r\n\r\n",
	    DNAME_BAD_CHAR, 0),
	BAD_NAME("percent-encoded Host", REQ "Host: %65vil.example\r\n\r\n",
	    DNAME_BAD_CHAR, 0),
	BAD_NAME("empty label", REQ "Host: a..example\r\n\r\n",
	    DNAME_LABEL_EMPTY, 0),
	BAD_NAME("two trailing dots", REQ "Host: a.example..\r\n\r\n",
	    DNAME_LABEL_EMPTY, 0),
	BAD_NAME("Host of one dot", REQ "Host: .\r\n\r\n",
	    DNAME_EMPTY, 0),
	BAD_NAME("label of 64",
	    REQ "Host: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\r\n\r\n",
	    DNAME_LABEL_TOO_LONG, 0),
	BAD_NAME("non-ASCII name", REQ "Host: b\xc3\xbc" "cher.example\r\n\r\n",
	    DNAME_NON_ASCII, 0),
	BAD("Host differs from target", "GET http://a.example/ HTTP/1.1\r\n"
	    "Host: evil.example\r\n\r\n",
	    "Host differs from request target", PEEK_F_ABSOLUTE),
	BAD("Host port differs", "GET http://a.example/ HTTP/1.1\r\n"
	    "Host: a.example:8080\r\n\r\n",
	    "Host differs from request target", PEEK_F_ABSOLUTE),
	BAD("https target, Host :80", "GET https://a.example/ HTTP/1.1\r\n"
	    "Host: a.example:80\r\n\r\n",
	    "Host differs from request target", PEEK_F_ABSOLUTE),
	BAD("empty Host with target", "GET http://a.example/ HTTP/1.1\r\nHost:\r\n\r\n",
	    "Host differs from request target", PEEK_F_ABSOLUTE),
	BAD("IP target, name Host", "GET http://192.0.2.1/ HTTP/1.1\r\n" "Host: a.example\r\n\r\n",
	    "Host differs from request target", PEEK_F_ABSOLUTE),
	BAD("bad Host with target", "GET http://a.example/ HTTP/1.1\r\n"
	    "Host: a.example:99999\r\n\r\n",
	    "port is not a number from 1 to 65535", PEEK_F_ABSOLUTE),
	BAD("empty authority", "GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    "empty host", PEEK_F_ABSOLUTE),
	BAD("only userinfo", "GET http://evil.example@/ HTTP/1.1\r\n\r\n",
	    "empty host", PEEK_F_ABSOLUTE),
	BAD("backslash in authority", "GET http://evil.example\\@a.example/ HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n",
	    "backslash in the request target's authority", 0),
	BAD("other scheme", "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    "request target is not origin-, absolute- or asterisk-form", 0),
	BAD("http: without //", "GET http:a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    "request target is not origin-, absolute- or asterisk-form", 0),
	BAD("authority-form without CONNECT", "GET a.example:443 HTTP/1.1\r\n\r\n",
	    "request target is not origin-, absolute- or asterisk-form", 0),
	BAD("asterisk with GET", "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    "asterisk-form target with a method other than OPTIONS", 0),
	BAD("CONNECT without port", "CONNECT a.example HTTP/1.1\r\n\r\n",
	    "CONNECT target without a port", PEEK_F_CONNECT),
	BAD("CONNECT, Host differs", "CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: evil.example:443\r\n\r\n",
	    "Host differs from request target", PEEK_F_CONNECT),
	BAD("CONNECT, Host port differs", "CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: a.example:8443\r\n\r\n",
	    "Host differs from request target", PEEK_F_CONNECT),
	BAD_NAME("CONNECT, userinfo", "CONNECT u@a.example:443 HTTP/1.1\r\n\r\n",
	    DNAME_BAD_CHAR, PEEK_F_CONNECT),
	BAD("CONNECT, path", "CONNECT http://a.example/ HTTP/1.1\r\n\r\n",
	    "port is not a number from 1 to 65535", PEEK_F_CONNECT),
};

/* ---- other protocols: NO_NAME | NOT_PROTOCOL within their first line ---- */

static const struct hcase other_cases[] = {
	{ "SMTP EHLO", B("EHLO mail.example\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no request target followed by a space", .head_len = 18 },
	{ "SMTP QUIT", B("QUIT\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 5 },
	/* TLS 1.0 record, handshake, ClientHello: the first byte already tells */
	{ "TLS ClientHello", B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 1 },
	{ "SSH banner", B("SSH-2.0-OpenSSH_9.2\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 20 },
	{ "binary blob", B("\x00\x00\x00\x2a\x7f\x45\x4c\x46"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 1 },
	{ "Redis RESP", B("*1\r\n$4\r\nPING\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 3 },
	{ "HTTP/2 preface", B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "HTTP/2 connection preface, not HTTP/1.x", .head_len = 12 },
	{ "HTTP/2.0 request line", B("GET / HTTP/2.0\r\nHost: a.example\r\n\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "version is not HTTP/1.0 or HTTP/1.1", .head_len = 12 },
	{ "HTTP/1.2", B("GET / HTTP/1.2\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "version is not HTTP/1.0 or HTTP/1.1", .head_len = 14 },
	{ "lowercase version", B("GET / http/1.1\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "version is not HTTP/1.0 or HTTP/1.1", .head_len = 7 },
	{ "HTTP/0.9 request", B("GET /\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no request target followed by a space", .head_len = 6 },
	{ "two spaces", B("GET  / HTTP/1.1\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no request target followed by a space", .head_len = 5 },
	{ "tab separator", B("GET\t/ HTTP/1.1\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 4 },
	{ "space after version", B("GET / HTTP/1.1 \r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "request line does not end in CRLF", .head_len = 15 },
	{ "bare CR ends request line", B("GET / HTTP/1.1\rHost: a.example\r\n\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "request line does not end in CRLF", .head_len = 16 },
	{ "leading CRLF", B("\r\nGET / HTTP/1.1\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no method token followed by a space", .head_len = 1 },
	{ "UTF-8 in target", B("GET /caf\xc3\xa9 HTTP/1.1\r\n"),
	  .status = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "no request target followed by a space", .head_len = 9 },
};

/* ---- checking ---- */

static void
expect(const struct hcase *c, const uint8_t *buf, size_t len, const struct peek_result *r,
    enum peek_status st)
{
	const char *why = c->why != NULL ? c->why : dname_status_str(c->dst);
	size_t head_len = c->head_len != 0 ? c->head_len : c->len;
	int ok = st == c->status && r->status == st && r->flags == c->flags;

	if (ok && st == PEEK_OK)
		ok = strcmp(r->name, c->name) == 0 && r->port == c->port &&
		    r->head_len == head_len && r->why == NULL;
	if (ok && st != PEEK_OK)
		ok = r->name[0] == '\0' && r->why != NULL && strcmp(r->why, why) == 0;
	if (ok && st == PEEK_NO_NAME)
		ok = r->head_len == head_len &&
		    ((c->flags & PEEK_F_NOT_PROTOCOL) != 0 || r->port == c->port);
	if (!ok)
		fail_msg("%s (%zu of %zu bytes): got %s name '%s' port %u flags %#x head_len %zu "
		    "why '%s'", c->label, len, c->len, peek_status_name(st), r->name,
		    (unsigned)r->port, r->flags, r->head_len, r->why ? r->why : "(null)");
	(void)buf;
}

/* The whole input gives the expected verdict; with `prefixes`, every shorter prefix
 * that ends inside the head gives NEED_MORE and every longer one the same verdict. */
static void
run_case(const struct hcase *c, int prefixes)
{
	struct peek_result r;
	size_t head_len = c->head_len != 0 ? c->head_len : c->len;
	size_t n;

	expect(c, c->buf, c->len, &r, http_host_parse(c->buf, c->len, &r));
	if (!prefixes)
		return;
	for (n = 0; n < head_len; n++) {
		enum peek_status st = http_host_parse(c->buf, n, &r);

		if (st != PEEK_NEED_MORE || r.status != st || r.need != n + 1)
			fail_msg("%s: prefix of %zu bytes gave %s (%s), need %zu", c->label, n,
			    peek_status_name(st), r.why ? r.why : "", r.need);
	}
	for (n = head_len; n <= c->len; n++)
		expect(c, c->buf, n, &r, http_host_parse(c->buf, n, &r));
}

static void
run_table(const struct hcase *cases, size_t n, int prefixes)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_case(&cases[i], prefixes);
}

#define RUN_TABLE(t, prefixes) run_table(t, sizeof(t) / sizeof(t[0]), prefixes)

/* Two results are the same verdict, field by field. */
static int
same_result(const struct peek_result *a, const struct peek_result *b)
{
	return a->status == b->status && strcmp(a->name, b->name) == 0 && a->port == b->port &&
	    a->flags == b->flags && a->need == b->need && a->head_len == b->head_len &&
	    a->why == b->why;
}

/*
 * Feed c->buf to one http_scan in pieces of `step` bytes (the last one shorter), each call
 * given a fresh copy of exactly the bytes so far (the buffer moves, as a realloc'd one
 * does, and ASan sees any read past them or through a kept pointer). Every result must
 * be what http_host_parse says about the same bytes; the verdict, once reached, must be
 * the expected one, and stays the same as the rest of the input is fed. Returns the
 * bytes that had arrived when the verdict came (c->len + 1 if it never came).
 */
static size_t
stream_case(const struct hcase *c, size_t step, struct http_scan *scan)
{
	struct peek_result r, one;
	enum peek_status st;
	size_t seen = 0, decided = c->len + 1;
	uint8_t *copy;

	http_scan_init(scan);
	do {
		seen = c->len - seen > step ? seen + step : c->len;
		copy = malloc(seen ? seen : 1);
		assert_non_null(copy);
		memcpy(copy, c->buf, seen);
		st = http_scan_feed(scan, copy, seen, &r);
		http_host_parse(copy, seen, &one);
		if (st != r.status || !same_result(&r, &one))
			fail_msg("%s: fed %zu at a time, %zu bytes: streamed %s (%s), one-shot %s (%s)",
			    c->label, step, seen, peek_status_name(st), r.why ? r.why : "",
			    peek_status_name(one.status), one.why ? one.why : "");
		if (st != PEEK_NEED_MORE && decided > c->len) {
			decided = seen;
			expect(c, copy, seen, &r, st);
		}
		free(copy);
	} while (seen < c->len);
	if (decided > c->len)
		fail_msg("%s: fed %zu at a time, no verdict after all %zu bytes", c->label, step,
		    c->len);
	return decided;
}

/* Every table case fed in pieces of every size: byte by byte the verdict comes at the
 * very byte where a prefix first decides, and never costs more than two looks a byte. */
static void
stream_table(const struct hcase *cases, size_t n)
{
	struct http_scan scan, once;
	struct peek_result r;
	size_t i, step, at, first;

	for (i = 0; i < n; i++) {
		const struct hcase *c = &cases[i];

		for (first = 0; first <= c->len; first++)
			if (http_host_parse(c->buf, first, &r) != PEEK_NEED_MORE)
				break;
		at = stream_case(c, 1, &scan);
		if (at != first)
			fail_msg("%s: byte by byte decided at %zu, a prefix first decides at %zu",
			    c->label, at, first);
		http_scan_init(&once);
		http_scan_feed(&once, c->buf, at, &r);
		assert_int_equal(scan.examined, once.examined);
		assert_true(scan.examined <= 2 * at);
		for (step = 2; step <= c->len; step++)
			(void)stream_case(c, step, &scan);
	}
}

#define STREAM_TABLE(t) stream_table(t, sizeof(t) / sizeof(t[0]))

static void
test_real_heads(void **state)
{
	(void)state;
	RUN_TABLE(real_cases, 1);
}

static void
test_good_heads(void **state)
{
	(void)state;
	RUN_TABLE(good_cases, 1);
}

static void
test_bad_heads(void **state)
{
	(void)state;
	RUN_TABLE(bad_cases, 0);
}

/* The same tables, fed as a reader would: in pieces of every size. */
static void
test_streamed_real(void **state)
{
	(void)state;
	STREAM_TABLE(real_cases);
}

static void
test_streamed_good(void **state)
{
	(void)state;
	STREAM_TABLE(good_cases);
}

static void
test_streamed_bad(void **state)
{
	(void)state;
	STREAM_TABLE(bad_cases);
}

static void
test_streamed_other(void **state)
{
	(void)state;
	STREAM_TABLE(other_cases);
}

/* Other protocols are recognised at the byte head_len says, and not before. */
static void
test_other_protocols(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(other_cases) / sizeof(other_cases[0]); i++) {
		const struct hcase *c = &other_cases[i];
		const uint8_t *lf = memchr(c->buf, '\n', c->len);
		struct peek_result r;

		run_case(c, 0);
		assert_true(c->head_len <= (lf != NULL ? (size_t)(lf - c->buf) + 1 : c->len));
		for (n = 0; n < c->head_len; n++)
			if (http_host_parse(c->buf, n, &r) != PEEK_NEED_MORE)
				fail_msg("%s: decided at %zu bytes, expected %zu", c->label, n,
				    c->head_len);
		for (n = c->head_len; n <= c->len; n++)
			expect(c, c->buf, n, &r, http_host_parse(c->buf, n, &r));
	}
}

/* Plausible request-line prefixes wait for more; the empty buffer too. */
static void
test_need_more(void **state)
{
	static const char *const prefixes[] = {
		"", "G", "GET", "GET ", "GET /", "GET / ", "GET / H", "GET / HTTP/1.", "GET / HTTP/1.1",
		"GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a.example\r\n",
		"GET / HTTP/1.1\r\nHost: a.example\r\n\r", "GET / HTTP/1.1\r\nX: y\n\r",
		"PRI * HTTP/", "CONNECT a.example:443 HTTP/1.1\r\n",
	};
	struct peek_result r;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		assert_int_equal(http_host_parse((const uint8_t *)prefixes[i], n, &r),
		    PEEK_NEED_MORE);
		assert_int_equal(r.need, n + 1);
		assert_int_equal(r.flags & PEEK_F_NOT_PROTOCOL, 0);
	}
}

/* A buffer of `len` bytes: request line, then `fields` lines of filler, then the blank
 * line if `blank`, padding the first filler field so the whole is exactly len bytes. */
static uint8_t *
build_head(size_t len, size_t fields, int blank)
{
	static const char line[] = "GET / HTTP/1.1\r\nHost: a.example\r\n";
	uint8_t *b = malloc(len);
	size_t p = sizeof(line) - 1, tail = blank ? 2 : 0, i, pad;

	assert_non_null(b);
	assert_true(len >= p + fields * 6 + tail);
	memcpy(b, line, p);
	pad = len - p - fields * 6 - tail;
	for (i = 0; i < fields; i++) {
		memcpy(b + p, "X: ", 3);
		p += 3;
		if (i == 0) {
			memset(b + p, 'x', pad);
			p += pad;
		}
		memcpy(b + p, "y\r\n", 3);
		p += 3;
	}
	if (blank)
		memcpy(b + p, "\r\n", 2);
	return b;
}

static void
test_limits_head(void **state)
{
	struct peek_result r;
	uint8_t *b;

	(void)state;
	b = build_head(HTTP_HEAD_MAX, 1, 1);
	assert_int_equal(http_host_parse(b, HTTP_HEAD_MAX, &r), PEEK_OK);
	assert_int_equal(r.head_len, HTTP_HEAD_MAX);
	assert_string_equal(r.name, "a.example");
	free(b);
	b = build_head(HTTP_HEAD_MAX + 1, 1, 1);
	assert_int_equal(http_host_parse(b, HTTP_HEAD_MAX, &r), PEEK_MALFORMED);
	assert_string_equal(r.why, "head longer than 16384 bytes");
	assert_int_equal(http_host_parse(b, HTTP_HEAD_MAX - 1, &r), PEEK_NEED_MORE);
	assert_int_equal(http_host_parse(b, HTTP_HEAD_MAX + 1, &r), PEEK_MALFORMED);
	free(b);
	b = build_head(PEEK_MAX, 1, 0);
	assert_int_equal(http_host_parse(b, PEEK_MAX, &r), PEEK_MALFORMED);
	assert_string_equal(r.why, "head longer than 16384 bytes");
	free(b);
}

static void
test_limits_fields(void **state)
{
	struct peek_result r;
	uint8_t *b;
	size_t len = 33 + (HTTP_FIELDS_MAX - 1) * 6 + 2;	/* Host plus 99 fillers */

	(void)state;
	b = build_head(len, HTTP_FIELDS_MAX - 1, 1);
	assert_int_equal(http_host_parse(b, len, &r), PEEK_OK);
	free(b);
	b = build_head(len + 6, HTTP_FIELDS_MAX, 1);
	assert_int_equal(http_host_parse(b, len + 6, &r), PEEK_MALFORMED);
	assert_string_equal(r.why, "more than 100 header fields");
	free(b);
}

/* "M...M / HTTP/1.1": 32 method bytes wait for more, 33 are not HTTP. */
static void
test_limits_method(void **state)
{
	uint8_t b[64];
	struct peek_result r;

	(void)state;
	memset(b, 'M', sizeof(b));
	assert_int_equal(http_host_parse(b, HTTP_METHOD_MAX, &r), PEEK_NEED_MORE);
	b[HTTP_METHOD_MAX] = ' ';
	assert_int_equal(http_host_parse(b, HTTP_METHOD_MAX + 1, &r), PEEK_NEED_MORE);
	b[HTTP_METHOD_MAX] = 'M';
	assert_int_equal(http_host_parse(b, HTTP_METHOD_MAX + 1, &r), PEEK_NO_NAME);
	assert_int_equal(r.flags, PEEK_F_NOT_PROTOCOL);
	assert_int_equal(r.head_len, HTTP_METHOD_MAX + 1);
	assert_string_equal(r.why, "method longer than 32 bytes");
}

/* "GET /xxx HTTP/1.1": a target of 8192 bytes is accepted, 8193 is not HTTP. */
static void
test_limits_target(void **state)
{
	static const char tail[] = " HTTP/1.1\r\nHost: a.example\r\n\r\n";
	size_t tlen, len;
	struct peek_result r;
	uint8_t *b = malloc(4 + HTTP_TARGET_MAX + 1 + sizeof(tail));

	(void)state;
	assert_non_null(b);
	for (tlen = HTTP_TARGET_MAX; tlen <= HTTP_TARGET_MAX + 1; tlen++) {
		memcpy(b, "GET /", 5);
		memset(b + 5, 'x', tlen - 1);
		memcpy(b + 4 + tlen, tail, sizeof(tail) - 1);
		len = 4 + tlen + sizeof(tail) - 1;
		if (tlen == HTTP_TARGET_MAX) {
			assert_int_equal(http_host_parse(b, len, &r), PEEK_OK);
			assert_int_equal(http_host_parse(b, 4 + tlen, &r), PEEK_NEED_MORE);
		} else {
			assert_int_equal(http_host_parse(b, len, &r), PEEK_NO_NAME);
			assert_int_equal(r.flags, PEEK_F_NOT_PROTOCOL);
			assert_int_equal(r.head_len, 4 + tlen);
			assert_string_equal(r.why, "request target longer than 8192 bytes");
		}
	}
	free(b);
}

/* Names of 253 characters pass, 254 do not (dname_normalize decides). */
static void
test_limits_name(void **state)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: ";
	uint8_t b[512];
	struct peek_result r;
	size_t n, i, len;

	(void)state;
	for (n = DNAME_MAX; n <= DNAME_MAX + 1; n++) {
		memcpy(b, head, sizeof(head) - 1);
		len = sizeof(head) - 1;
		for (i = 0; i < n; i++)		/* labels of 49 letters */
			b[len++] = (i % 50 == 49) ? '.' : 'a';
		memcpy(b + len, "\r\n\r\n", 4);
		len += 4;
		if (n == DNAME_MAX) {
			assert_int_equal(http_host_parse(b, len, &r), PEEK_OK);
			assert_int_equal(strlen(r.name), DNAME_MAX);
		} else {
			assert_int_equal(http_host_parse(b, len, &r), PEEK_MALFORMED);
			assert_string_equal(r.why, dname_status_str(DNAME_TOO_LONG));
		}
	}
}

/* ---- judged line by line: refused before the blank line ---- */

/* head_len: where the verdict comes (just past the line, or the limit, that decides);
 * every case goes on past it, with a blank line, to show that what follows cannot
 * change the verdict. */
/* A head refused as MALFORMED (why) once `upto` is in: head_len is its length, and the rest
 * follows it in the input. */
#define EARLY(label, why_, upto, rest) \
	{ label, B(upto rest), .status = PEEK_MALFORMED, .why = why_, .head_len = sizeof(upto) - 1 }

static const struct hcase early_cases[] = {
	EARLY("issue 11's drip: a one-byte line", "field line without a colon",
	    REQ "a\n", "a\na\n\r\n"),
	EARLY("space before colon", "whitespace between field name and colon",
	    REQ "X: 1\r\nHost : evil.example\r\n", "Host: a.example\r\n\r\n"),
	EARLY("obs-fold", "obs-fold (a line starting with whitespace)",
	    REQ "Host: a.example\r\n evil.example\r\n", "\r\n"),
	EARLY("bare CR", "bare CR not followed by LF",
	    REQ "Host: a.example\rX: y\r\n", "\r\n"),
	EARLY("control byte", "control byte in a field value",
	    REQ "X: \x01\r\n", "Host: a.example\r\n\r\n"),
	EARLY("second Host", "two Host fields",
	    REQ "Host: a.example\nHost: a.example\n", "X: y\n\n"),
	EARLY("target of no known form", "request target is not origin-, absolute- or asterisk-form",
	    "GET ftp://a.example/ HTTP/1.1\r\n", "Host: a.example\r\n\r\n"),
	EARLY("asterisk with GET, absolute flag unset",
	    "asterisk-form target with a method other than OPTIONS", "GET * HTTP/1.0\n", "\n"),
};

/* Each prefix before head_len waits; each from head_len on gives the verdict, head_len
 * included; byte by byte, the scan decides at head_len too. */
static void
run_early(const struct hcase *c)
{
	struct http_scan scan;
	struct peek_result r;
	size_t n;

	for (n = 0; n < c->head_len; n++)
		if (http_host_parse(c->buf, n, &r) != PEEK_NEED_MORE)
			fail_msg("%s: decided at %zu bytes (%s), expected %zu", c->label, n,
			    r.why ? r.why : "", c->head_len);
	for (n = c->head_len; n <= c->len; n++) {
		expect(c, c->buf, n, &r, http_host_parse(c->buf, n, &r));
		if (r.head_len != c->head_len)
			fail_msg("%s: %zu bytes: head_len %zu, expected %zu", c->label, n,
			    r.head_len, c->head_len);
	}
	assert_int_equal(stream_case(c, 1, &scan), c->head_len);
}

static void
test_early_refusal(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(early_cases) / sizeof(early_cases[0]); i++)
		run_early(&early_cases[i]);
}

/* The 101st field is refused when its line is in, and 16 KiB without the blank line
 * when the 16384th byte is: neither waits for a blank line that never comes. */
static void
test_early_refusal_limits(void **state)
{
	static const char fill[] = "X-Drip: 1\r\n";
	size_t n = sizeof(REQ) - 1 + (HTTP_FIELDS_MAX + 5) * (sizeof(fill) - 1);
	uint8_t *b = malloc(n + 2);
	struct hcase c = { "the 101st field", NULL, 0, PEEK_MALFORMED, NULL, 0, 0,
	    "more than 100 header fields", 0, 0 };
	size_t i;

	(void)state;
	assert_non_null(b);
	memcpy(b, REQ, sizeof(REQ) - 1);
	for (i = 0; i < HTTP_FIELDS_MAX + 5; i++)
		memcpy(b + sizeof(REQ) - 1 + i * (sizeof(fill) - 1), fill, sizeof(fill) - 1);
	memcpy(b + n, "\r\n", 2);
	c.buf = b;
	c.len = n + 2;
	c.head_len = sizeof(REQ) - 1 + (HTTP_FIELDS_MAX + 1) * (sizeof(fill) - 1);
	run_early(&c);
	free(b);

	b = build_head(HTTP_HEAD_MAX + 64, 1, 1);
	c = (struct hcase){ "16 KiB without the blank line", b, HTTP_HEAD_MAX + 64,
	    PEEK_MALFORMED, NULL, 0, 0, "head longer than 16384 bytes", 0, HTTP_HEAD_MAX };
	run_early(&c);
	free(b);
}

/* ---- linear work, counted: struct http_scan's examined ---- */

/* Fed one byte at a time (a fresh copy of the bytes so far each call), buf[0..len) must
 * reach `want` having looked at no more than two bytes per byte received, exactly as
 * many as one call over the whole buffer looks at. */
static void
assert_linear(const char *label, const uint8_t *buf, size_t len, enum peek_status want)
{
	struct http_scan scan, once;
	struct peek_result r;
	enum peek_status st = PEEK_NEED_MORE;
	size_t n = 0;

	http_scan_init(&scan);
	while (st == PEEK_NEED_MORE && n < len) {
		uint8_t *copy = malloc(++n);

		assert_non_null(copy);
		memcpy(copy, buf, n);
		st = http_scan_feed(&scan, copy, n, &r);
		free(copy);
	}
	http_scan_init(&once);
	http_scan_feed(&once, buf, n, &r);
	if (st != want || scan.examined > 2 * n || scan.examined != once.examined)
		fail_msg("%s: %s after %zu bytes fed one at a time, %zu bytes examined (one call: "
		    "%zu)", label, peek_status_name(st), n, scan.examined, once.examined);
	print_message("%s: %zu bytes fed one at a time, %zu examined\n", label, n,
	    scan.examined);
}

static void
test_linear_work(void **state)
{
	static const char drip[] = "a:\n";
	uint8_t *b;
	size_t i, n;

	(void)state;
	/* the largest head the limits allow: 16 KiB, 100 fields */
	b = build_head(HTTP_HEAD_MAX, HTTP_FIELDS_MAX - 1, 1);
	assert_linear("16 KiB head of 100 fields", b, HTTP_HEAD_MAX, PEEK_OK);
	free(b);
	/* 16 KiB of one field, no blank line */
	b = build_head(HTTP_HEAD_MAX, 1, 0);
	assert_linear("16 KiB without a blank line", b, HTTP_HEAD_MAX, PEEK_MALFORMED);
	free(b);
	/* issue 11's drip: a request line, then short lines until the 101st is refused */
	n = sizeof(REQ) - 1 + 200 * (sizeof(drip) - 1);
	b = malloc(n);
	assert_non_null(b);
	memcpy(b, REQ, sizeof(REQ) - 1);
	for (i = 0; i < 200; i++)
		memcpy(b + sizeof(REQ) - 1 + i * (sizeof(drip) - 1), drip, sizeof(drip) - 1);
	assert_linear("3-byte field lines", b, n, PEEK_MALFORMED);
	free(b);
	/* the longest request line: an 8 KiB target */
	n = 4 + HTTP_TARGET_MAX + sizeof(" HTTP/1.1\r\nHost: a.example\r\n\r\n") - 1;
	b = malloc(n);
	assert_non_null(b);
	memcpy(b, "GET /", 5);
	memset(b + 5, 'x', HTTP_TARGET_MAX - 1);
	memcpy(b + 4 + HTTP_TARGET_MAX, " HTTP/1.1\r\nHost: a.example\r\n\r\n",
	    sizeof(" HTTP/1.1\r\nHost: a.example\r\n\r\n") - 1);
	assert_linear("8 KiB request target", b, n, PEEK_OK);
	free(b);
}

/* The state holds offsets, not pointers, and copes with callers that break the rules:
 * called again after its verdict, it repeats it; given fewer bytes than before, it
 * starts over rather than read what is not there. */
static void
test_scan_state(void **state)
{
	static const char head[] = REQ "Host: a.example\r\n\r\nGET";
	struct http_scan scan;
	struct peek_result r, again;
	size_t n = sizeof(head) - 1;

	(void)state;
	http_scan_init(&scan);
	assert_int_equal(http_scan_feed(&scan, (const uint8_t *)head, n - 3, &r), PEEK_OK);
	assert_string_equal(r.name, "a.example");
	assert_int_equal(http_scan_feed(&scan, (const uint8_t *)head, n, &again), PEEK_OK);
	assert_true(same_result(&r, &again));
	/* a shorter buffer: the scan restarts and judges those bytes alone */
	assert_int_equal(http_scan_feed(&scan, (const uint8_t *)head, 10, &r), PEEK_NEED_MORE);
	assert_int_equal(r.need, 11);
	assert_int_equal(scan.examined, 10);
	assert_int_equal(http_scan_feed(&scan, (const uint8_t *)head, n, &r), PEEK_OK);
	assert_string_equal(r.name, "a.example");
	/* a verdict reached before the blank line is repeated too */
	http_scan_init(&scan);
	assert_int_equal(http_scan_feed(&scan, B("SSH-2.0-x\r\n"), &r), PEEK_NO_NAME);
	assert_int_equal(http_scan_feed(&scan, B("SSH-2.0-x\r\nmore"), &again), PEEK_NO_NAME);
	assert_true(same_result(&r, &again));
	assert_int_equal(again.flags, PEEK_F_NOT_PROTOCOL);
	assert_int_equal(again.head_len, 10);	/* the CR after "SSH-2.0-x" */
}

/* ---- http_head_end ---- */

struct endcase {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 end;
};

static const struct endcase end_cases[] = {
	{ B(""), 0 },
	{ B("\r\n\r\n"), 4 },
	{ B("\n\n"), 2 },
	{ B("\n\r\n"), 3 },
	{ B("\r\n\n"), 3 },
	{ B("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n"), 27 },
	{ B("GET / HTTP/1.1\nHost: a\n\nbody"), 24 },
	{ B("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0 },
	{ B("a\r\r\n\r\r\n"), 0 },		/* CR CR LF is no blank line */
	{ B("a\n\rb\n\r\n"), 7 },
	{ B("a\r\nb\r\n\r\r\n\n"), 10 },	/* "\r\r\n" is not blank, its LF + LF is */
	{ B("\r\n\r\r\n\r\n"), 7 },
	{ B("x\n"), 0 },
};

/* From 0, and in every split: the first part, then the rest searched with from = cut. */
static void
test_head_end(void **state)
{
	size_t i, cut, got;

	(void)state;
	for (i = 0; i < sizeof(end_cases) / sizeof(end_cases[0]); i++) {
		const struct endcase *c = &end_cases[i];

		assert_int_equal(http_head_end(c->buf, c->len, 0), c->end);
		for (cut = 0; cut <= c->len; cut++) {
			got = http_head_end(c->buf, cut, 0);
			if (got == 0)
				got = http_head_end(c->buf, c->len, cut);
			if (got != c->end)
				fail_msg("case %zu split at %zu: %zu, expected %zu", i, cut, got,
				    c->end);
		}
	}
}

/* Byte by byte and in every chunk size over the real heads, as a reader would. */
static void
test_head_end_chunks(void **state)
{
	size_t i, step, seen, got, want;

	(void)state;
	for (i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]); i++) {
		const struct hcase *c = &real_cases[i];

		want = http_head_end(c->buf, c->len, 0);
		assert_int_equal(want, c->head_len != 0 ? c->head_len : c->len);
		for (step = 1; step <= c->len; step++) {
			for (seen = 0, got = 0; got == 0 && seen < c->len; ) {
				size_t from = seen;

				seen = seen + step < c->len ? seen + step : c->len;
				got = http_head_end(c->buf, seen, from);
			}
			assert_int_equal(got, want);
		}
	}
	assert_int_equal(http_head_end(B("\r\n\r\n"), 9), 0);	/* from past len */
}

/* Every field of the result is written, whatever the caller left in it. */
static void
test_result_reset(void **state)
{
	struct peek_result r;

	(void)state;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(http_host_parse(B("GET"), &r), PEEK_NEED_MORE);
	assert_int_equal(r.status, PEEK_NEED_MORE);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.port, 0);
	assert_int_equal(r.head_len, 0);
	assert_null(r.why);
	assert_string_equal(r.name, "");
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(http_host_parse(B(REQ "Host: 192.0.2.1\r\n\r\n"), &r), PEEK_NO_NAME);
	assert_string_equal(r.name, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_heads),
		cmocka_unit_test(test_good_heads),
		cmocka_unit_test(test_bad_heads),
		cmocka_unit_test(test_streamed_real),
		cmocka_unit_test(test_streamed_good),
		cmocka_unit_test(test_streamed_bad),
		cmocka_unit_test(test_streamed_other),
		cmocka_unit_test(test_early_refusal),
		cmocka_unit_test(test_early_refusal_limits),
		cmocka_unit_test(test_linear_work),
		cmocka_unit_test(test_scan_state),
		cmocka_unit_test(test_other_protocols),
		cmocka_unit_test(test_need_more),
		cmocka_unit_test(test_limits_head),
		cmocka_unit_test(test_limits_fields),
		cmocka_unit_test(test_limits_method),
		cmocka_unit_test(test_limits_target),
		cmocka_unit_test(test_limits_name),
		cmocka_unit_test(test_head_end),
		cmocka_unit_test(test_head_end_chunks),
		cmocka_unit_test(test_result_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
