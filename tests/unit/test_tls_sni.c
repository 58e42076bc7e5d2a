/* test_tls_sni.c: unit tests for forwarder/tls_sni.c on real and hand-made ClientHellos. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tls_sni.h"

#include "fixtures/clienthello_chromium.h"
#include "fixtures/clienthello_curl.h"
#include "fixtures/clienthello_gnutls.h"
#include "fixtures/clienthello_go.h"
#include "fixtures/clienthello_openssl.h"
#include "fixtures/clienthello_openssl11.h"
#include "fixtures/clienthello_python.h"

#define REC_HDR	5
#define HS_HDR	4
#define WIRE_MAX (PEEK_MAX + 8192)

/* ---- helpers ---------------------------------------------------------------------- */

static enum peek_status
parse(const uint8_t *buf, size_t len, struct peek_result *res)
{
	enum peek_status st = tls_sni_parse(buf, len, res);

	assert_int_equal(res->status, st);
	if (st == PEEK_NO_NAME || st == PEEK_MALFORMED)
		assert_non_null(res->why);
	if (st == PEEK_NEED_MORE) {
		assert_true(res->need > len);
		assert_true(res->need <= PEEK_MAX);
	}
	return st;
}

static void
assert_why(const struct peek_result *res, const char *want)
{
	if (want == NULL)
		return;
	if (res->why == NULL || strstr(res->why, want) == NULL)
		fail_msg("why is \"%s\", wanted it to mention \"%s\"",
		    res->why ? res->why : "(null)", want);
}

/*
 * Every strict prefix of buf[0..len) must be NEED_MORE with need in (p, len], or already
 * the final verdict (same status and why); and the answer may not change before need.
 */
static void
assert_prefixes(const uint8_t *buf, size_t len, const struct peek_result *final)
{
	struct peek_result res, again;
	size_t p;

	for (p = 0; p < len; p++) {
		if (parse(buf, p, &res) != PEEK_NEED_MORE) {
			assert_int_equal(res.status, final->status);
			assert_ptr_equal(res.why, final->why);
			continue;
		}
		assert_true(res.need > p);
		assert_true(res.need <= len);
		assert_int_equal(parse(buf, res.need - 1, &again), PEEK_NEED_MORE);
		assert_int_equal(again.need, res.need);
	}
}

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t n;
};

static void
put(struct wbuf *w, const void *src, size_t n)
{
	assert_true(n <= w->cap - w->n);
	if (n == 0)
		return;		/* src may be NULL then */
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void
put_uint(struct wbuf *w, unsigned v, size_t nbytes)
{
	while (nbytes-- > 0) {
		uint8_t b = (uint8_t)(v >> (8 * nbytes));

		put(w, &b, 1);
	}
}

static void
put_record_header(struct wbuf *w, unsigned type, size_t len)
{
	put_uint(w, type, 1);
	put_uint(w, 0x0301, 2);
	put_uint(w, (unsigned)len, 2);
}

/* The handshake message carried by a (well formed) record stream: payloads concatenated. */
static size_t
hs_message(const uint8_t *wire, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 0, n = 0, rlen;

	while (pos + REC_HDR <= len) {
		rlen = (size_t)wire[pos + 3] << 8 | wire[pos + 4];
		assert_true(pos + REC_HDR + rlen <= len && n + rlen <= cap);
		memcpy(out + n, wire + pos + REC_HDR, rlen);
		n += rlen;
		pos += REC_HDR + rlen;
		if (n >= HS_HDR &&
		    n >= HS_HDR + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3]))
			return HS_HDR + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3]);
	}
	fail_msg("record stream ends before the handshake message does");
	return 0;
}

/*
 * Frame hs[0..hslen) as handshake records: nsmall records of `small` bytes, then records
 * of `big` bytes. Returns the wire length.
 */
static size_t
reframe(const uint8_t *hs, size_t hslen, size_t nsmall, size_t small, size_t big,
    uint8_t *out, size_t cap)
{
	struct wbuf w = { out, cap, 0 };
	size_t done = 0, chunk, i;

	for (i = 0; done < hslen; i++) {
		chunk = i < nsmall ? small : big;
		if (chunk > hslen - done)
			chunk = hslen - done;
		put_record_header(&w, 22, chunk);
		put(&w, hs + done, chunk);
		done += chunk;
	}
	return w.n;
}

/* ---- the captured ClientHellos ------------------------------------------------------- */

struct fixture {
	const char *label;
	const uint8_t *bytes;
	size_t len;
	const char *name;
	int ech;
};

#define FIXTURE(id, ID) { #id, clienthello_##id, sizeof(clienthello_##id), \
	CLIENTHELLO_##ID##_NAME, CLIENTHELLO_##ID##_ECH }

static const struct fixture fixtures[] = {
	FIXTURE(curl, CURL),
	FIXTURE(openssl, OPENSSL),
	FIXTURE(openssl11, OPENSSL11),
	FIXTURE(gnutls, GNUTLS),
	FIXTURE(go, GO),
	FIXTURE(python, PYTHON),
	FIXTURE(chromium, CHROMIUM),
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static void
assert_fixture_ok(const struct fixture *f, const uint8_t *wire, size_t len, size_t head_len)
{
	struct peek_result res;

	if (parse(wire, len, &res) != PEEK_OK)
		fail_msg("%s (%zu bytes): %s: %s", f->label, len, peek_status_name(res.status),
		    res.why ? res.why : "");
	assert_string_equal(res.name, f->name);
	assert_int_equal(res.flags, f->ech ? PEEK_F_ECH : 0);
	assert_int_equal(res.head_len, head_len);
	assert_null(res.why);
}

static void
test_fixtures_whole(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NFIXTURES; i++)
		assert_fixture_ok(&fixtures[i], fixtures[i].bytes, fixtures[i].len, fixtures[i].len);
	/* the post-quantum hello is the one that does not fit one Ethernet segment */
	assert_true(sizeof(clienthello_chromium) > 1500);
	assert_int_equal(CLIENTHELLO_CHROMIUM_ECH, 1);
}

/* Cut at every byte, as TCP may: NEED_MORE until the last byte, with a need in range. */
static void
test_fixtures_every_split(void **state)
{
	struct peek_result res;
	size_t i;

	(void)state;
	for (i = 0; i < NFIXTURES; i++) {
		parse(fixtures[i].bytes, fixtures[i].len, &res);
		assert_prefixes(fixtures[i].bytes, fixtures[i].len, &res);
	}
}

/* Bytes after the ClientHello (early data, a second flight) are ignored. */
static void
test_fixtures_trailing(void **state)
{
	static const uint8_t tail[] = { 0x17, 0x03, 0x03, 0x00, 0x03, 'a', 'b', 'c', 0x47 };
	static uint8_t wire[WIRE_MAX];
	size_t i, n;

	(void)state;
	for (i = 0; i < NFIXTURES; i++) {
		n = fixtures[i].len;
		memcpy(wire, fixtures[i].bytes, n);
		memcpy(wire + n, tail, sizeof(tail));
		assert_fixture_ok(&fixtures[i], wire, n + sizeof(tail), n);
	}
}

/* The handshake message re-framed into records of 1, 7, 100, ... bytes. */
static void
test_fixtures_reframed(void **state)
{
	static const size_t sizes[] = { 1, 7, 100, 512, TLS_RECORD_MAX };
	static uint8_t hs[WIRE_MAX], wire[WIRE_MAX];
	struct peek_result res;
	size_t i, s, hslen, n, nrec;

	(void)state;
	for (i = 0; i < NFIXTURES; i++) {
		hslen = hs_message(fixtures[i].bytes, fixtures[i].len, hs, sizeof(hs));
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			n = reframe(hs, hslen, 0, sizes[s], sizes[s], wire, sizeof(wire));
			nrec = (hslen + sizes[s] - 1) / sizes[s];
			if (nrec <= TLS_HELLO_RECORDS_MAX) {
				assert_fixture_ok(&fixtures[i], wire, n, n);
			} else {
				assert_int_equal(parse(wire, n, &res), PEEK_MALFORMED);
				assert_why(&res, "more than 64 records");
			}
			parse(wire, n, &res);
			if (sizes[s] == 100 || sizes[s] == 7)
				assert_prefixes(wire, n, &res);
		}
	}
}

/* Exactly 64 records is fine, 65 is not. */
static void
test_record_limit(void **state)
{
	static uint8_t hs[WIRE_MAX], wire[WIRE_MAX];
	struct peek_result res;
	size_t i, hslen, n;

	(void)state;
	for (i = 0; i < NFIXTURES; i++) {
		hslen = hs_message(fixtures[i].bytes, fixtures[i].len, hs, sizeof(hs));
		n = reframe(hs, hslen, TLS_HELLO_RECORDS_MAX - 1, 1, TLS_RECORD_MAX, wire,
		    sizeof(wire));
		assert_fixture_ok(&fixtures[i], wire, n, n);
		n = reframe(hs, hslen, TLS_HELLO_RECORDS_MAX, 1, TLS_RECORD_MAX, wire, sizeof(wire));
		assert_int_equal(parse(wire, n, &res), PEEK_MALFORMED);
		assert_why(&res, "more than 64 records");
		/* decided as soon as the 64th record is in: no need to wait for the 65th */
		assert_int_equal(parse(wire, 64 * (REC_HDR + 1), &res), PEEK_MALFORMED);
		assert_int_equal(parse(wire, 64 * (REC_HDR + 1) - 1, &res), PEEK_NEED_MORE);
		assert_int_equal(res.need, 64 * (REC_HDR + 1));
	}
}

/* ---- hand-made ClientHellos ----------------------------------------------------------- */

#define BYTES(s) (const uint8_t *)(s), (sizeof(s) - 1)

/*
 * One hand-made case. Unless wire is set, a ClientHello is built: record header,
 * handshake header, version 0x0303, random, a session id of sid_len bytes, cs_len bytes
 * of cipher suites (0: 2 bytes; -1: none), comp_len compression methods (0: 1; -1: none),
 * then (unless no_ext) an extensions block: a server_name extension for sni (if set)
 * followed by the raw ext bytes. ext_delta is added to the extensions length field and
 * hs_delta to the handshake length, or hs_len (if not 0) replaces it. split > 0 frames
 * the message as two records, the second starting at handshake offset split with content
 * type rec2 (0: 22). Then patch_len bytes of patch are written at patch_at.
 */
struct hand_case {
	const char *label;
	const uint8_t *wire;
	size_t wire_len;
	const uint8_t *sni;
	size_t sni_len;
	const uint8_t *ext;
	size_t ext_len;
	unsigned sid_len;
	int cs_len;
	int comp_len;
	int no_ext;
	int ext_delta;
	int hs_delta;
	unsigned hs_len;
	size_t split;
	unsigned rec2;
	size_t patch_at;
	const char *patch;
	size_t patch_len;
	enum peek_status want;
	unsigned flags;
	const char *why;	/* a substring of res.why (NO_NAME, MALFORMED) */
	const char *name;	/* PEEK_OK */
};

#define WIRE(s)	.wire = BYTES(s)
#define SNI(s)	.sni = BYTES(s)
#define EXT(s)	.ext = BYTES(s)
#define PATCH(at, s) .patch_at = (at), .patch = (s), .patch_len = sizeof(s) - 1

/* Offsets in a built hello. */
#define AT_REC_VERSION	1
#define AT_HS_TYPE	5
#define AT_HS_LEN	6
#define AT_VERSION	9

static void
build_body(const struct hand_case *c, struct wbuf *w)
{
	static const uint8_t zeros[64];
	size_t ext_len = c->ext_len;
	int n;

	put_uint(w, 0x0303, 2);
	put(w, "gatehouse-random-gatehouse-rand!", 32);
	put_uint(w, c->sid_len, 1);
	put(w, zeros, c->sid_len);
	n = c->cs_len == 0 ? 2 : c->cs_len < 0 ? 0 : c->cs_len;
	put_uint(w, (unsigned)n, 2);
	while (n-- > 0)
		put_uint(w, n % 2 ? 0x13 : 0x01, 1);
	n = c->comp_len == 0 ? 1 : c->comp_len < 0 ? 0 : c->comp_len;
	put_uint(w, (unsigned)n, 1);
	put(w, zeros, (size_t)n);
	if (c->no_ext)
		return;
	if (c->sni != NULL)
		ext_len += 9 + c->sni_len;
	put_uint(w, (unsigned)((int)ext_len + c->ext_delta), 2);
	if (c->sni != NULL) {
		put_uint(w, 0x0000, 2);			/* server_name */
		put_uint(w, (unsigned)c->sni_len + 5, 2);	/* extension length */
		put_uint(w, (unsigned)c->sni_len + 3, 2);	/* ServerNameList length */
		put_uint(w, 0, 1);			/* host_name */
		put_uint(w, (unsigned)c->sni_len, 2);
		put(w, c->sni, c->sni_len);
	}
	put(w, c->ext, c->ext_len);
}

static size_t
build_case(const struct hand_case *c, uint8_t *out, size_t cap)
{
	static uint8_t hs[4096];
	struct wbuf body = { hs + HS_HDR, sizeof(hs) - HS_HDR, 0 }, w = { out, cap, 0 };
	size_t hslen;

	if (c->wire != NULL) {
		put(&w, c->wire, c->wire_len);
		return w.n;
	}
	build_body(c, &body);
	hs[0] = 1;
	hslen = c->hs_len ? c->hs_len : (size_t)((int)body.n + c->hs_delta);
	hs[1] = (uint8_t)(hslen >> 16);
	hs[2] = (uint8_t)(hslen >> 8);
	hs[3] = (uint8_t)hslen;
	hslen = HS_HDR + body.n;
	if (c->split == 0) {
		put_record_header(&w, 22, hslen);
		put(&w, hs, hslen);
	} else {
		put_record_header(&w, 22, c->split);
		put(&w, hs, c->split);
		put_record_header(&w, c->rec2 ? c->rec2 : 22, hslen - c->split);
		put(&w, hs + c->split, hslen - c->split);
	}
	if (c->patch != NULL) {
		assert_true(c->patch_at + c->patch_len <= w.n);
		memcpy(out + c->patch_at, c->patch, c->patch_len);
	}
	return w.n;
}

#define SNI_EXT(name) "\x00\x00\x00\x0b\x00\x09\x00\x00\x06" name	/* name: 6 bytes */
#define L61 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L63 L61 "aa"
#define NAME253 L63 "." L63 "." L63 "." L61		/* the longest name allowed */
#define NAME254 L63 "." L63 "." L63 "." L61 "a"	/* one too long, every label fine */

static const struct hand_case hand_cases[] = {
	/* well formed */
	{ "plain", SNI("example.test"), .want = PEEK_OK, .name = "example.test" },
	{ "upper case is normalised", SNI("WWW.Example.TEST"), .want = PEEK_OK,
	  .name = "www.example.test" },
	{ "253-character name", SNI(NAME253), .want = PEEK_OK, .name = NAME253 },
	{ "no session id, several compression methods", SNI("a.test"), .sid_len = 0,
	  .comp_len = 3, .want = PEEK_OK, .name = "a.test" },
	{ "other extensions around server_name", SNI("b.test"),
	  EXT("\x00\x2b\x00\x03\x02\x03\x04" "\xda\xda\x00\x00"), .sid_len = 32,
	  .want = PEEK_OK, .name = "b.test" },
	{ "unknown name_type entry besides host_name",
	  EXT("\x00\x00\x00\x10\x00\x0e" "\x01\x00\x02zz" "\x00\x00\x06" "c.test"),
	  .want = PEEK_OK, .name = "c.test" },
	{ "split over two records", SNI("split.test"), .split = 3, .want = PEEK_OK,
	  .name = "split.test" },
	{ "ECH: outer SNI used, flag set", SNI("public.test"),
	  EXT("\xfe\x0d\x00\x04\x00\x01\x02\x03"), .want = PEEK_OK, .flags = PEEK_F_ECH,
	  .name = "public.test" },
	/* not TLS at all */
	{ "HTTP request", WIRE("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), .want = PEEK_NO_NAME,
	  .flags = PEEK_F_NOT_PROTOCOL, .why = "not a TLS record" },
	{ "SSH banner", WIRE("SSH-2.0-OpenSSH_9.2\r\n"), .want = PEEK_NO_NAME,
	  .flags = PEEK_F_NOT_PROTOCOL, .why = "not a TLS record" },
	{ "SSLv2 hello", WIRE("\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10"
	  "\x01\x00\x80\x03\x00\x80\x07\x00\xc0\x06\x00\x40\x02\x00\x80\x04\x00\x80"
	  "\x00\x00\x39\x00\x00\x38\x00\x00\x35\x91\x38\xe8\xa3\x05\x2c\x7f\x43\x3e"
	  "\x84\x6b\x38\x24\x95\x6e\x56"), .want = PEEK_NO_NAME, .flags = PEEK_F_NOT_PROTOCOL,
	  .why = "SSLv2" },
	{ "alert type byte, then not version 3", WIRE("\x15\x01 hello"), .want = PEEK_NO_NAME,
	  .flags = PEEK_F_NOT_PROTOCOL, .why = "not a TLS record" },
	/* record layer */
	{ "alert record first", WIRE("\x15\x03\x03\x00\x02\x02\x28"), .want = PEEK_MALFORMED,
	  .why = "alert" },
	{ "application_data record first", WIRE("\x17\x03\x03\x00\x05hello"),
	  .want = PEEK_MALFORMED, .why = "content type" },
	{ "change_cipher_spec record first", WIRE("\x14\x03\x03\x00\x01\x01"),
	  .want = PEEK_MALFORMED, .why = "content type" },
	{ "wrong content type in the second record", SNI("x.test"), .split = 20, .rec2 = 23,
	  .want = PEEK_MALFORMED, .why = "content type other than handshake" },
	{ "garbage content type in the second record", SNI("x.test"), .split = 20,
	  .rec2 = 0x47, .want = PEEK_MALFORMED, .why = "content type other than handshake" },
	{ "alert in the second record", SNI("x.test"), .split = 20, .rec2 = 21,
	  .want = PEEK_MALFORMED, .why = "alert record before" },
	{ "record version major 2", SNI("x.test"), PATCH(AT_REC_VERSION, "\x02"),
	  .want = PEEK_MALFORMED, .why = "record version" },
	{ "record version major 4 in the second record", SNI("x.test"), .split = 10,
	  PATCH(REC_HDR + 10 + 1, "\x04"), .want = PEEK_MALFORMED, .why = "record version" },
	{ "zero-length record", WIRE("\x16\x03\x01\x00\x00\x16\x03\x01\x00\x01\x01"),
	  .want = PEEK_MALFORMED, .why = "zero-length" },
	{ "oversize record", WIRE("\x16\x03\x01\x40\x01\x01"), .want = PEEK_MALFORMED,
	  .why = "longer than 16384" },
	/* handshake header */
	{ "handshake type server_hello", SNI("x.test"), PATCH(AT_HS_TYPE, "\x02"),
	  .want = PEEK_MALFORMED, .why = "not a ClientHello" },
	{ "handshake length over PEEK_MAX", SNI("x.test"), PATCH(AT_HS_LEN, "\x01\x00\x01"),
	  .want = PEEK_MALFORMED, .why = "peek limit" },
	{ "handshake length shorter than the fields", SNI("x.test"), .hs_delta = -20,
	  .want = PEEK_MALFORMED, .why = "overrun" },
	{ "handshake length cutting the extensions", SNI("x.test"), .hs_delta = -3,
	  .want = PEEK_MALFORMED, .why = "extensions length" },
	/* handshake length ending inside each field (sid 0, 2 bytes of suites, 1 method) */
	{ "message ends in the version", SNI("x.test"), .hs_len = 1, .want = PEEK_MALFORMED,
	  .why = "too short for its version" },
	{ "message ends in the random", SNI("x.test"), .hs_len = 20, .want = PEEK_MALFORMED,
	  .why = "too short for its random" },
	{ "message ends before session_id", SNI("x.test"), .hs_len = 34,
	  .want = PEEK_MALFORMED, .why = "session_id missing" },
	{ "message ends in session_id", SNI("x.test"), .sid_len = 32, .hs_len = 40,
	  .want = PEEK_MALFORMED, .why = "session_id overruns" },
	{ "message ends in cipher_suites length", SNI("x.test"), .hs_len = 36,
	  .want = PEEK_MALFORMED, .why = "cipher_suites length missing" },
	{ "message ends in cipher_suites", SNI("x.test"), .hs_len = 38,
	  .want = PEEK_MALFORMED, .why = "cipher_suites overrun" },
	{ "message ends before compression_methods", SNI("x.test"), .hs_len = 39,
	  .want = PEEK_MALFORMED, .why = "compression_methods missing" },
	{ "message ends in compression_methods", SNI("x.test"), .comp_len = 3, .hs_len = 41,
	  .want = PEEK_MALFORMED, .why = "compression_methods overrun" },
	{ "message ends after compression_methods", SNI("x.test"), .hs_len = 41,
	  .want = PEEK_NO_NAME, .why = "no server_name" },
	{ "message ends in the extensions length", SNI("x.test"), .hs_len = 42,
	  .want = PEEK_MALFORMED, .why = "extensions length" },
	/* ClientHello fields */
	{ "client version major 2", SNI("x.test"), PATCH(AT_VERSION, "\x02"),
	  .want = PEEK_MALFORMED, .why = "version major" },
	{ "session_id of 33 bytes", SNI("x.test"), .sid_len = 33, .want = PEEK_MALFORMED,
	  .why = "session_id" },
	{ "odd cipher_suites length", SNI("x.test"), .cs_len = 3, .want = PEEK_MALFORMED,
	  .why = "cipher_suites" },
	{ "no cipher_suites", SNI("x.test"), .cs_len = -1, .want = PEEK_MALFORMED,
	  .why = "cipher_suites" },
	{ "no compression_methods", SNI("x.test"), .comp_len = -1, .want = PEEK_MALFORMED,
	  .why = "compression_methods" },
	{ "no extensions block", .no_ext = 1, .want = PEEK_NO_NAME,
	  .why = "no server_name" },
	{ "extensions length too long", SNI("x.test"), .ext_delta = 1,
	  .want = PEEK_MALFORMED, .why = "extensions length" },
	{ "extensions length too short", SNI("x.test"), .ext_delta = -1,
	  .want = PEEK_MALFORMED, .why = "extensions length" },
	{ "extension length overrunning", EXT("\x00\x17\x00\x10\x00\x00\x00\x00"),
	  .want = PEEK_MALFORMED, .why = "extension length overruns" },
	{ "extension header cut short", SNI("x.test"), EXT("\x00\x17\x00"),
	  .want = PEEK_MALFORMED, .why = "extension header overruns" },
	{ "duplicate extension", SNI("x.test"), EXT("\x00\x17\x00\x00\x00\x17\x00\x00"),
	  .want = PEEK_MALFORMED, .why = "duplicate extension" },
	{ "two server_name extensions", SNI("x.test"), EXT(SNI_EXT("y.test")),
	  .want = PEEK_MALFORMED, .why = "duplicate extension" },
	{ "no server_name extension", EXT("\x00\x2b\x00\x03\x02\x03\x04"),
	  .want = PEEK_NO_NAME, .why = "no server_name" },
	/* server_name */
	{ "duplicate host_name entry",
	  EXT("\x00\x00\x00\x14\x00\x12" "\x00\x00\x06" "a.test" "\x00\x00\x06" "b.test"),
	  .want = PEEK_MALFORMED, .why = "more than one host_name" },
	{ "only a non-host_name entry", EXT("\x00\x00\x00\x07\x00\x05" "\x01\x00\x02zz"),
	  .want = PEEK_NO_NAME, .why = "no host_name entry" },
	{ "empty server_name list", EXT("\x00\x00\x00\x02\x00\x00"), .want = PEEK_MALFORMED,
	  .why = "empty server_name list" },
	{ "server_name extension with no list", EXT("\x00\x00\x00\x00"),
	  .want = PEEK_MALFORMED, .why = "too short" },
	{ "list length under the extension length",
	  EXT("\x00\x00\x00\x0c\x00\x09\x00\x00\x06" "a.test\x00"), .want = PEEK_MALFORMED,
	  .why = "list length" },
	{ "list length over the extension length",
	  EXT("\x00\x00\x00\x0b\x00\x0a\x00\x00\x06" "a.test"), .want = PEEK_MALFORMED,
	  .why = "list length" },
	{ "entry overrunning the list", EXT("\x00\x00\x00\x0b\x00\x09\x00\x00\x07" "a.test"),
	  .want = PEEK_MALFORMED, .why = "entry overruns" },
	{ "entry header cut short", EXT("\x00\x00\x00\x04\x00\x02\x00\x00"),
	  .want = PEEK_MALFORMED, .why = "entry header overruns" },
	{ "empty server name", SNI(""), .want = PEEK_MALFORMED, .why = "empty host_name" },
	{ "name with NUL", SNI("evil.test\0.good.test"), .want = PEEK_MALFORMED,
	  .why = "NUL" },
	{ "name with trailing dot", SNI("example.test."), .want = PEEK_MALFORMED,
	  .why = "ends in a dot" },
	{ "name of one dot", SNI("."), .want = PEEK_MALFORMED, .why = "ends in a dot" },
	{ "IPv4 literal", SNI("192.0.2.1"), .want = PEEK_NO_NAME, .flags = PEEK_F_IP_LITERAL,
	  .why = "IP address" },
	{ "IPv6 literal", SNI("2001:db8::1"), .want = PEEK_NO_NAME,
	  .flags = PEEK_F_IP_LITERAL, .why = "IP address" },
	{ "IP literal under ECH", SNI("192.0.2.1"), EXT("\xfe\x0d\x00\x00"),
	  .want = PEEK_NO_NAME, .flags = PEEK_F_IP_LITERAL | PEEK_F_ECH, .why = "IP address" },
	{ "IP literal, then a duplicate extension", SNI("192.0.2.1"),
	  EXT("\x00\x17\x00\x00\x00\x17\x00\x00"), .want = PEEK_MALFORMED,
	  .flags = PEEK_F_IP_LITERAL, .why = "duplicate extension" },
	{ "non-ASCII name", SNI("b\xc3\xbc" "cher.test"), .want = PEEK_MALFORMED,
	  .why = "non-ASCII" },
	{ "space in name", SNI("exa mple.test"), .want = PEEK_MALFORMED,
	  .why = "character not allowed" },
	{ "254-character name", SNI(NAME254), .want = PEEK_MALFORMED,
	  .why = "longer than 253" },
	{ "64-character label", SNI(L63 "a.test"),
	  .want = PEEK_MALFORMED, .why = "label longer than 63" },
	{ "empty label", SNI("a..test"), .want = PEEK_MALFORMED, .why = "empty label" },
	{ "leading dot", SNI(".a.test"), .want = PEEK_MALFORMED, .why = "empty label" },
};

static void
test_hand_cases(void **state)
{
	static uint8_t wire[8192];
	struct peek_result res;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(hand_cases) / sizeof(hand_cases[0]); i++) {
		const struct hand_case *c = &hand_cases[i];

		n = build_case(c, wire, sizeof(wire));
		if (parse(wire, n, &res) != c->want || res.flags != c->flags)
			fail_msg("%s: got %s flags %#x (%s), wanted %s flags %#x", c->label,
			    peek_status_name(res.status), res.flags, res.why ? res.why : "",
			    peek_status_name(c->want), c->flags);
		assert_why(&res, c->why);
		if (c->want == PEEK_OK) {
			assert_string_equal(res.name, c->name);
			assert_int_equal(res.head_len, n);
		} else {
			assert_string_equal(res.name, "");
		}
		assert_prefixes(wire, n, &res);
	}
}

/* A prefix of a record (len bytes) and what is said about it: the need tls_sni_parse
 * reports, or whether tls_looks_like says TLS. */
struct prefix_case {
	const char *bytes;
	size_t len;
	size_t want;
};

/* need: the end of the record header, then of the record. */
static void
test_need(void **state)
{
	static const struct prefix_case cases[] = {
		{ "", 0, 1 },
		{ "\x16", 1, 5 },
		{ "\x16\x03\x01\x00", 4, 5 },
		{ "\x16\x03\x01\x00\x10", 5, 5 + 16 },
		{ "\x16\x03\x01\x00\x10\x01\x00", 7, 5 + 16 },
		{ "\x16\x03\x01\x00\x02\x01\x00", 7, 7 + 5 },
		{ "\x15", 1, 2 },
		{ "\x17", 1, 2 },
	};
	struct peek_result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse((const uint8_t *)cases[i].bytes, cases[i].len, &res),
		    PEEK_NEED_MORE);
		assert_int_equal(res.need, cases[i].want);
		assert_null(res.why);
	}
}

/* A ClientHello that could only be complete past PEEK_MAX bytes is refused. */
static void
test_peek_limit(void **state)
{
	static uint8_t hs[PEEK_MAX], wire[WIRE_MAX];
	struct peek_result res;
	size_t hslen = PEEK_MAX, full = REC_HDR + TLS_RECORD_MAX, n;

	(void)state;
	memset(hs, 0, sizeof(hs));
	hs[0] = 1;
	hs[1] = (uint8_t)((hslen - HS_HDR) >> 16);
	hs[2] = (uint8_t)((hslen - HS_HDR) >> 8);
	hs[3] = (uint8_t)(hslen - HS_HDR);
	n = reframe(hs, hslen, 0, TLS_RECORD_MAX, TLS_RECORD_MAX, wire, sizeof(wire));
	assert_int_equal(n, 4 * full);
	/* three full records in: the fourth header is awaited */
	assert_int_equal(parse(wire, 3 * full, &res), PEEK_NEED_MORE);
	assert_int_equal(res.need, 3 * full + REC_HDR);
	/* its header says the record ends past PEEK_MAX: refused without waiting */
	assert_int_equal(parse(wire, 3 * full + REC_HDR, &res), PEEK_MALFORMED);
	assert_why(&res, "peek limit");
	assert_int_equal(parse(wire, n, &res), PEEK_MALFORMED);
	assert_why(&res, "peek limit");

	/* records ending 4 bytes short of PEEK_MAX, message unfinished: no room for a header */
	hs[1] = (uint8_t)(PEEK_MAX >> 16);
	hs[2] = (uint8_t)(PEEK_MAX >> 8);
	hs[3] = (uint8_t)PEEK_MAX;
	hslen = 3 * TLS_RECORD_MAX + (PEEK_MAX - 4 - 3 * full - REC_HDR);
	n = reframe(hs, hslen, 3, TLS_RECORD_MAX, hslen - 3 * TLS_RECORD_MAX, wire,
	    sizeof(wire));
	assert_int_equal(n, PEEK_MAX - 4);
	assert_int_equal(parse(wire, n, &res), PEEK_MALFORMED);
	assert_why(&res, "peek limit");
	assert_int_equal(parse(wire, n - 1, &res), PEEK_NEED_MORE);
	assert_int_equal(res.need, n);
}

static void
test_looks_like(void **state)
{
	static const struct prefix_case cases[] = {
		{ "", 0, 1 },
		{ "\x16", 1, 1 },
		{ "\x16\x03", 2, 1 },
		{ "\x16\x03\x01\x02\x00\x01", 6, 1 },
		{ "\x16\x02", 2, 0 },
		{ "\x15\x03", 2, 0 },
		{ "\x80\x2e", 2, 0 },
		{ "G", 1, 0 },
		{ "GET /", 5, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tls_looks_like((const uint8_t *)cases[i].bytes, cases[i].len),
		    cases[i].want);
	for (i = 0; i < NFIXTURES; i++)
		assert_int_equal(tls_looks_like(fixtures[i].bytes, 1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_whole),
		cmocka_unit_test(test_fixtures_every_split),
		cmocka_unit_test(test_fixtures_trailing),
		cmocka_unit_test(test_fixtures_reframed),
		cmocka_unit_test(test_record_limit),
		cmocka_unit_test(test_hand_cases),
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_peek_limit),
		cmocka_unit_test(test_looks_like),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
