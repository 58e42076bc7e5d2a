/* first_bytes.c: a connection's first bytes: paced reads, TLS or HTTP, the name they give. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_internal.h"
#include "dest.h"
#include "first_bytes.h"
#include "peek.h"
#include "refuse.h"
#include "tls_sni.h"
#include "util.h"

#define PEEK_CHUNK 4096		/* first peek buffer; grows to PEEK_MAX */
/* Peeking, the first PEEK_EAGER_READS reads that leave the name undecided follow the
 * client at once (a real client's ClientHello or head comes in one or two reads, even a
 * post-quantum hello). After that each read that still leaves it undecided is followed by
 * a pause, PEEK_PACE_MS doubling up to PEEK_PACE_MAX_MS, with SO_RCVLOWAT raised to
 * PEEK_MAX so the kernel does not wake the loop for each segment meanwhile (a FIN, a reset
 * or a full peek still do); a timer then reads what has come. Bytes dripped a segment at
 * a time are taken many segments a read: the forwarder's work per connection is bounded
 * by time, not by how finely the client cuts its bytes (bench/run.py --only peek). A
 * paced read that finds nothing puts the low-water mark back, so an idle client costs no
 * wake-ups; at peek-timeout what has arrived is read before giving up; the mark is one
 * byte again before anything is relayed. */
#define PEEK_EAGER_READS 2
#define PEEK_PACE_MS 40
#define PEEK_PACE_MAX_MS 640

static void peek_unpace(struct conn *c, int done);

/* Read what the client sent into the peek buffer. 1 read something, 0 nothing yet,
 * -1 the client is gone (closed or reset: c->client_eof set for a clean FIN). */
static int
peek_read(struct conn *c)
{
	ssize_t r;

	if (c->peeklen == c->peekcap) {
		size_t ncap = c->peekcap ? c->peekcap * 2 : PEEK_CHUNK;
		uint8_t *np;

		if (ncap > PEEK_MAX)
			ncap = PEEK_MAX;
		if (ncap == c->peekcap || (np = realloc(c->peek, ncap)) == NULL)
			return 0;
		c->peek = np;
		c->peekcap = ncap;
	}
	do
		r = recv(c->client.fd, c->peek + c->peeklen, c->peekcap - c->peeklen, 0);
	while (r == -1 && errno == EINTR);
	if (r > 0) {
		if (c->peeklen == 0)
			c->t_first_byte = util_now_ms();
		c->peeklen += (size_t)r;
		c->t_last = util_now_ms();
		return 1;
	}
	if (r == 0) {
		c->client_eof = 1;
		return -1;
	}
	return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* Run the parser that fits the first bytes, so that the work over all the reads is
 * linear in the bytes received, however they are cut into segments: the HTTP head scan
 * resumes where the last read left it; the ClientHello is parsed again only once a TLS
 * record is complete (tls_sni_parse's need), and a hello spans at most
 * TLS_HELLO_RECORDS_MAX records. */
static enum peek_status
classify(struct conn *c, struct peek_result *res)
{
	enum peek_status st;

	memset(res, 0, sizeof(*res));
	if (c->peeklen == 0)
		return PEEK_NEED_MORE;
	if (c->proto == PROTO_UNKNOWN) {
		c->proto = tls_looks_like(c->peek, c->peeklen) ? PROTO_TLS : PROTO_HTTP;
		if (c->proto == PROTO_HTTP)
			http_scan_init(&c->http);
	}
	if (c->proto == PROTO_TLS) {
		if (c->peeklen < c->need)
			return PEEK_NEED_MORE;
		st = tls_sni_parse(c->peek, c->peeklen, res);
		if (st == PEEK_NEED_MORE)
			c->need = res->need;
	} else if (c->proto == PROTO_HTTP) {
		st = http_scan_feed(&c->http, c->peek, c->peeklen, res);
		if (st == PEEK_NO_NAME && (res->flags & PEEK_F_NOT_PROTOCOL))
			c->proto = PROTO_OTHER;
	} else
		return PEEK_NO_NAME;
	if (st == PEEK_NEED_MORE && c->peeklen >= PEEK_MAX) {
		res->why = "first bytes exceed 64 KiB without a name";
		return PEEK_MALFORMED;
	}
	c->peek_flags |= res->flags;
	return st;
}

static const char *
no_name_detail(const struct peek_result *res)
{
	if (res->flags & PEEK_F_IP_LITERAL)
		return "an IP address was given, not a name";
	if (res->flags & PEEK_F_NOT_PROTOCOL)
		return "neither a TLS ClientHello nor an HTTP request";
	return res->why ? res->why : "no name";
}

/* Non-routed port: the name decides everything. final: the client has closed, so
 * nothing more will come. 1 when the name is still undecided (more bytes are awaited),
 * 0 when decided (refused: c may be gone). */
static int
peek_decide(struct conn *c, int final)
{
	struct peek_result res;
	enum peek_status st = classify(c, &res);

	switch (st) {
	case PEEK_NEED_MORE:
		if (!final)
			return 1;
		refuse_conn(c, DENY_NO_NAME, "client closed %s", c->peeklen ?
		    "before naming a host" : "without sending anything");
		return 0;
	case PEEK_NO_NAME:
		refuse_conn(c, DENY_NO_NAME, "%s", no_name_detail(&res));
		return 0;
	case PEEK_MALFORMED:
		refuse_conn(c, DENY_MALFORMED, "%s", res.why ? res.why : "malformed");
		return 0;
	case PEEK_OK:
		break;
	}
	util_strlcpy(c->name, res.name, sizeof(c->name));
	c->via = c->proto == PROTO_TLS ? VIA_SNI : VIA_HOST;
	if (res.flags & PEEK_F_CONNECT) {
		refuse_conn(c, DENY_MALFORMED, "CONNECT is not supported: connect to the name itself");
		return 0;
	}
	c->rule = dest_rule(c->cfg, c->policy, c->name, c->port);
	/* Report mode relays a learned name enforce refuses (no rule, or a deny rule); with
	 * no allow rule there is no 'private', so dest_filter still refuses special-purpose
	 * addresses and loops. */
	if ((c->rule == NULL || (c->rule->flags & RULE_DENY)) && c->report)
		c->would_deny = 1;
	else if (c->rule == NULL) {
		refuse_conn(c, DENY_NOT_ALLOWED, "%s", "");
		return 0;
	} else if (c->rule->flags & RULE_DENY) {	/* audited with the deny rule as "rule" */
		refuse_conn(c, DENY_DENIED, "%s", "");
		return 0;
	}
	c->target_port = c->port;
	c->gate = GATE_OPEN;
	peek_unpace(c, 1);
	/* The client's read event stays registered: a TLS client sends nothing more until
	 * the server answers, so this saves two epoll_ctl calls; if it does send (or close)
	 * before we relay, side_read_cb parks the event and the bytes wait in the kernel. */
	conn_resolve(c);
	return 0;
}

static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	first_bytes_readable(c);
}

/* A read left the name undecided: past PEEK_EAGER_READS, take the next read from the
 * timer, after a longer pause each time. Without a timer to spare, keep reading at once:
 * correct, only dearer. */
static void
peek_pace(struct conn *c)
{
	struct timeval tv;
	int lowat = PEEK_MAX;

	if (++c->peek_reads <= PEEK_EAGER_READS)
		return;
	if (c->pace == NULL && (c->pace = evtimer_new(c->f->base, pace_cb, c)) == NULL)
		return;
	if (!c->lowat && setsockopt(c->client.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
		c->lowat = 1;
	c->pace_ms = c->pace_ms == 0 ? PEEK_PACE_MS : c->pace_ms * 2;
	if (c->pace_ms > PEEK_PACE_MAX_MS)
		c->pace_ms = PEEK_PACE_MAX_MS;
	util_ms_to_tv(c->pace_ms, &tv);
	evtimer_add(c->pace, &tv);
}

/* Reads follow the client at once again: the low-water mark back to one byte. Called when
 * a paced read found nothing (the client's next bytes wake the loop and start a longer
 * pause: an idle client costs no wake-ups) and when the name is decided (done: the timer
 * goes too). */
static void
peek_unpace(struct conn *c, int done)
{
	int one = 1;

	if (done)
		conn_free_event(&c->pace);
	if (c->lowat) {
		setsockopt(c->client.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
		c->lowat = 0;
	}
}

/* Routed port: the first bytes may only confirm the routed name. Returns 1 when the
 * gate opened, 0 when still undecided, -1 when the connection was refused. */
static int
verify_decide(struct conn *c)
{
	struct peek_result res;
	enum peek_status st = classify(c, &res);

	switch (st) {
	case PEEK_NEED_MORE:
		return 0;
	case PEEK_MALFORMED:
		refuse_conn(c, DENY_MALFORMED, "%s", res.why ? res.why : "malformed");
		return -1;
	case PEEK_OK:
		if (strcmp(res.name, c->name) != 0) {
			/* The audit line and the refusal name what the client asked for; the
			 * route's target is in the line's "route" field, the name of a pool
			 * address in the detail. */
			char held[DNAME_MAX + 1];
			int by_address = c->via == VIA_ADDRESS;

			util_strlcpy(held, c->name, sizeof(held));
			util_strlcpy(c->name, res.name, sizeof(c->name));
			c->via = c->proto == PROTO_TLS ? VIA_SNI : VIA_HOST;
			if (by_address)
				refuse_conn(c, DENY_NAME_MISMATCH, "the address dialled is %s's", held);
			else
				refuse_conn(c, DENY_NAME_MISMATCH, "port %u is routed to %s", c->port,
				    c->route);
			return -1;
		}
		break;
	case PEEK_NO_NAME:
		break;		/* no name in it (SMTP, no SNI): the route or address decides */
	}
	c->gate = GATE_OPEN;
	return 1;
}

void
first_bytes_readable(struct conn *c)
{
	int r = peek_read(c);

	if (r == 0) {
		if (c->lowat && c->gate == GATE_PEEK)	/* the timer found nothing */
			peek_unpace(c, 0);
		return;
	}
	if (c->state == CONN_REFUSING) {
		struct peek_result res;

		/* A ClientHello shows itself in two bytes; an HTTP request once its request
		 * line is judged; anything else is no protocol we answer in. */
		if (r == 1 && classify(c, &res) == PEEK_NEED_MORE && c->proto != PROTO_TLS &&
		    !c->client_eof)
			return;
		c->proto_sure = r == 1;
		refuse_now(c);
		return;
	}
	if (r == -1 && !c->client_eof) {
		if (c->gate == GATE_PEEK || c->state != CONN_RELAYING)
			refuse_conn(c, DENY_NO_NAME, "client reset before naming a host");
		else
			conn_close(c, "client-reset");
		return;
	}
	if (c->gate == GATE_PEEK) {
		if (peek_decide(c, c->client_eof))
			peek_pace(c);
		return;
	}
	/* GATE_VERIFY: a partial prefix followed by FIN cannot name anything: let it pass. */
	r = verify_decide(c);
	if (r == -1)
		return;			/* refused: c may be gone */
	if (r == 0 && !c->client_eof) {
		if (c->state == CONN_RELAYING)	/* first bytes started: peek-timeout runs */
			(void)conn_relay_check_time(c, util_now_ms());
		return;
	}
	c->gate = GATE_OPEN;
	conn_event_set(c->client.ev_read, 0);
	if (c->state == CONN_RELAYING)
		conn_relay_start(c);
}

void
first_bytes_timeout(struct conn *c, uint64_t now)
{
	int r;

	/* Paced, bytes may be waiting unread: they count if they arrived in time. */
	if (c->lowat && (r = peek_read(c)) != 0) {
		if (r == -1 && !c->client_eof) {
			refuse_conn(c, DENY_NO_NAME, "client reset before naming a host");
			return;
		}
		if (!peek_decide(c, c->client_eof))
			return;		/* decided: c may be gone */
	}
	refuse_conn(c, DENY_PEEK_TIMEOUT, "%zu bytes in %llu ms", c->peeklen,
	    (unsigned long long)(now - c->t_start));
}
