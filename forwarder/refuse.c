/* refuse.c: refusing a connection: audit line, TLS alert or HTTP reply, REFUSE_WAIT, drain. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_internal.h"
#include "recent.h"
#include "refuse.h"
#include "util.h"

#define DRAIN_MS 2000		/* after a refusal: let the client read it before closing */
#define DRAIN_BYTES 65536
/* A routed port is dialled before the client speaks; when that fails first, the client's
 * first bytes (if it sends any soon) say how to refuse it: a TLS alert, an HTTP 502. A
 * client that waits for the server to speak (SMTP) is closed after this. */
#define REFUSE_WAIT_MS 500

static const uint8_t *
tls_alert(enum deny reason)
{
	/* A fatal alert record: content type 21, TLS 1.2 record version, length 2. */
	static uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x00 };

	switch (reason) {
	case DENY_NO_NAME:
		alert[6] = 112;		/* unrecognized_name */
		break;
	case DENY_MALFORMED:
		alert[6] = 50;		/* decode_error */
		break;
	case DENY_RESOLVE_FAILED:
	case DENY_CONNECT_FAILED:
		alert[6] = 80;		/* internal_error */
		break;
	default:
		alert[6] = 49;		/* access_denied */
		break;
	}
	return alert;
}

static size_t
http_refusal(struct conn *c, char *buf, size_t len)
{
	char body[512];
	const char *status = "403 Forbidden";
	int bl;

	switch (c->deny) {
	case DENY_NOT_ALLOWED:
		bl = snprintf(body, sizeof(body), "gatehouse: %s on port %u is not on the allowlist\n",
		    c->name, c->port);
		break;
	case DENY_DENIED:
		bl = snprintf(body, sizeof(body), "gatehouse: %s on port %u is denied by the rule "
		    "'deny %s'\n", c->name, c->port, c->rule ? c->rule->pattern : "?");
		break;
	case DENY_NAME_MISMATCH:
		if (c->route == NULL)	/* a pool address: the detail names whose it is */
			bl = snprintf(body, sizeof(body), "gatehouse: %s; %s is not allowed here\n",
			    c->detail, c->name);
		else
			bl = snprintf(body, sizeof(body), "gatehouse: port %u is routed to %s; %s is "
			    "not allowed here\n", c->port, c->route, c->name);
		break;
	case DENY_NO_ADDRESS:
		bl = snprintf(body, sizeof(body), "gatehouse: %s has no address it may connect to (%s)\n",
		    c->name, c->detail);
		break;
	case DENY_RESOLVE_FAILED:
		status = "502 Bad Gateway";
		bl = snprintf(body, sizeof(body), "gatehouse: %s could not be resolved (%s)\n", c->name,
		    c->detail);
		break;
	case DENY_CONNECT_FAILED:
		status = "502 Bad Gateway";
		bl = snprintf(body, sizeof(body), "gatehouse: could not connect to %s port %u (%s)\n",
		    c->name, c->target_port, c->detail);
		break;
	default:
		status = "400 Bad Request";
		bl = snprintf(body, sizeof(body), "gatehouse: %s (%s)\n", conn_deny_name(c->deny),
		    c->detail);
		break;
	}
	if (bl < 0 || (size_t)bl >= sizeof(body))
		bl = (int)sizeof(body) - 1;
	return (size_t)snprintf(buf, len, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%.*s", status, bl, bl, body);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint8_t buf[4096];
	ssize_t r;

	if (what & EV_TIMEOUT) {
		conn_close(c, "drained");
		return;
	}
	r = recv(fd, buf, sizeof(buf), 0);
	if (r > 0 && (c->drained += (size_t)r) < DRAIN_BYTES)
		return;
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	conn_close(c, "drained");
}

/* A routed port failed before the client sent a byte: wait REFUSE_WAIT_MS for its first
 * bytes (first_bytes_readable), then refuse (refuse_now). 1 when deferred. */
static int
refuse_later(struct conn *c, enum deny reason)
{
	if (c->state == CONN_REFUSING || c->gate != GATE_VERIFY || c->peeklen > 0 ||
	    c->client_eof || (reason != DENY_CONNECT_FAILED && reason != DENY_RESOLVE_FAILED &&
	    reason != DENY_NO_ADDRESS))
		return 0;
	c->deny = reason;
	conn_stop_upstream(c);
	conn_set_state(c, CONN_REFUSING);
	conn_event_set(c->client.ev_read, 1);
	conn_arm_timer(c, REFUSE_WAIT_MS);
	return 1;
}

/* The refusal refuse_later put off, now: in the protocol the first bytes showed, if any. */
void
refuse_now(struct conn *c)
{
	char detail[sizeof(c->detail)];

	if (!c->proto_sure)
		c->proto = PROTO_UNKNOWN;	/* no bytes, or not enough to tell */
	util_strlcpy(detail, c->detail, sizeof(detail));
	refuse_conn(c, c->deny, "%s", detail);
}

/* Refuse: one audit line, the protocol's signal, then a short drain so the client reads
 * the signal instead of a reset. */
void
refuse_conn(struct conn *c, enum deny reason, const char *fmt, ...)
{
	struct fwd *f = c->f;
	struct conn_facts facts;
	char resp[1024];
	size_t rl = 0;
	va_list ap;

	c->deny = reason;
	c->detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
		va_end(ap);
	}
	if (refuse_later(c, reason))
		return;
	conn_facts_of(c, &facts);
	if (reason == DENY_NO_NAME && f->recent != NULL)	/* a hint for a `route` */
		facts.nrecent = recent_list(f->recent, (const struct sockaddr *)&c->peer,
		    util_now_ms(), facts.recent, LOOKUPS_RECENT_MAX);
	conn_audit_deny(f->audit, &facts, c->deny, c->detail);
	c->audited = 1;
	polstats_row(f->pstats, c->pslot)[FWD_PSTAT_DENIED + reason]++;
	if (c->proto == PROTO_TLS && reason != DENY_PEEK_TIMEOUT) {
		memcpy(resp, tls_alert(reason), 7);
		rl = 7;
	} else if (c->proto == PROTO_HTTP && reason != DENY_PEEK_TIMEOUT)
		rl = http_refusal(c, resp, sizeof(resp));
	if (rl == 0 || c->client_eof ||
	    send(c->client.fd, resp, rl, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		conn_close(c, "refused");
		return;
	}
	shutdown(c->client.fd, SHUT_WR);
	/* Stop everything but reading the client. */
	conn_free_event(&c->pace);
	conn_stop_upstream(c);
	conn_free_event(&c->client.ev_read);
	conn_set_state(c, CONN_DRAINING);
	c->client.ev_read = event_new(f->base, c->client.fd, EV_READ | EV_PERSIST, drain_cb, c);
	if (c->client.ev_read == NULL) {
		conn_close(c, "refused");
		return;
	}
	event_add(c->client.ev_read, NULL);
	event_del(c->timer);
	event_assign(c->timer, f->base, -1, 0, drain_cb, c);
	conn_arm_timer(c, DRAIN_MS);
}

