/* pass.c: stub-zone queries in flight: a UDP socket per try, TCP after a truncated
 * answer, one timer each, bounded in number per client and in all. */
#include "pass.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <unistd.h>

#include "addr.h"
#include "clients.h"
#include "dnswire.h"
#include "passwire.h"
#include "util.h"

#define RESP_MAX	65535		/* a DNS message */
#define READS		8		/* datagrams read per readiness event */

struct pass_job {
	struct pass *p;
	struct sockaddr_storage client;
	struct sockaddr_storage servers[CONFIG_STUB_SERVERS];
	size_t nservers;
	unsigned tries;			/* UDP tries started */
	int refused;			/* every try so far ended in ICMP unreachable */
	uint16_t id;
	uint16_t qtype;
	uint8_t query[PASSWIRE_QUERY_MAX];	/* its question's name is what an answer must
						 * echo: query + DNSWIRE_HDR */
	size_t qlen;
	int fd;				/* the UDP try's socket, or -1 */
	struct event *ev;		/* its read event */
	struct event *timer;		/* the first try's start (from the loop), then the
					 * try's end, or the TCP exchange's: datagrams that
					 * answer nothing (read, ignored) do not move it */
	struct bufferevent *bev;	/* the TCP exchange, or NULL */
	pass_done_fn done;
	void *arg;
	LIST_ENTRY(pass_job) entry;
};

struct pass {
	struct event_base *base;
	struct client_table *clients;	/* jobs in flight per client */
	LIST_HEAD(, pass_job) jobs;
	struct pass_stats stats;
	uint8_t buf[RESP_MAX];		/* UDP reads */
};

static void udp_try(struct pass_job *j);

static const struct sockaddr *
server_of(const struct pass_job *j)
{
	return (const struct sockaddr *)&j->servers[(j->tries - 1) % j->nservers];
}

/* Close what the job has open (a UDP try, a TCP exchange). */
static void
job_close(struct pass_job *j)
{
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->fd != -1)
		close(j->fd);
	if (j->bev != NULL)
		bufferevent_free(j->bev);
	j->ev = NULL;
	j->fd = -1;
	j->bev = NULL;
}

static void
job_free(struct pass_job *j)
{
	job_close(j);
	event_free(j->timer);
	LIST_REMOVE(j, entry);
	clients_dec(j->p->clients, (struct sockaddr *)&j->client);
	j->p->stats.inflight--;
	free(j);
}

/* The end: done told, the job freed. */
static void
job_end(struct pass_job *j, const uint8_t *resp, size_t len, const char *why)
{
	struct sockaddr_storage server;

	memcpy(&server, server_of(j), sizeof(server));
	job_close(j);
	if (j->done(j->arg, resp, len, (struct sockaddr *)&server, why) == 0)
		j->p->stats.answered++;
	else
		j->p->stats.failed++;	/* none, or one the client could not be given */
	job_free(j);
}

/* ---- TCP, after a truncated answer (RFC 7766: 2-byte length, one query) ---- */

static void
tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct pass_job *j = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t lenb[2], *msg;
	size_t mlen;

	if (evbuffer_copyout(in, lenb, 2) < 2)
		return;
	mlen = (size_t)lenb[0] << 8 | lenb[1];
	if (evbuffer_get_length(in) < 2 + mlen)
		return;
	if ((msg = evbuffer_pullup(in, (ev_ssize_t)(2 + mlen))) == NULL) {
		job_end(j, NULL, 0, "no-memory");
		return;
	}
	/* One query on the connection: anything but its answer ends it. */
	if (passwire_check(msg + 2, mlen, j->id, j->query + DNSWIRE_HDR, j->qtype) != PASSWIRE_OK)
		job_end(j, NULL, 0, "malformed");
	else
		job_end(j, msg + 2, mlen, NULL);
}

static void
tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pass_job *j = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	job_end(j, NULL, 0, "tcp-failed");
}

/* Each try and the TCP exchange under an ID of their own, never the one before's, so
 * that a late answer to an earlier try, or a guess made for it, matches none of them. */
static void
new_id(struct pass_job *j)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = (uint16_t)util_now_ms();	/* no entropy yet: still asked */
	if (id == j->id)
		id++;
	j->id = id;
	dnswire_wr16(j->query, j->id);
}

static void
tcp_start(struct pass_job *j)
{
	const struct sockaddr *sa = server_of(j);
	uint8_t lenb[2] = { (uint8_t)(j->qlen >> 8), (uint8_t)j->qlen };
	struct timeval tv;
	int fd;

	job_close(j);
	new_id(j);
	j->p->stats.tcp++;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		job_end(j, NULL, 0, "tcp-failed");
		return;
	}
	if ((j->bev = bufferevent_socket_new(j->p->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		job_end(j, NULL, 0, "no-memory");
		return;
	}
	util_ms_to_tv(PASS_TCP_MS, &tv);	/* the whole exchange, however it trickles */
	evtimer_add(j->timer, &tv);
	bufferevent_setwatermark(j->bev, EV_READ, 0, 2 + RESP_MAX);
	bufferevent_setcb(j->bev, tcp_read_cb, NULL, tcp_event_cb, j);
	if (bufferevent_write(j->bev, lenb, 2) == -1 ||
	    bufferevent_write(j->bev, j->query, j->qlen) == -1 ||
	    bufferevent_enable(j->bev, EV_READ | EV_WRITE) == -1 ||
	    bufferevent_socket_connect(j->bev, sa, (int)addr_len(sa)) == -1) {
		job_end(j, NULL, 0, "tcp-failed");
		return;
	}
}

/* ---- UDP ---- */

/* The try is over without an answer: the next one, or the end. */
static void
udp_next(struct pass_job *j, int refused)
{
	j->refused = j->refused && refused;
	job_close(j);
	if (j->tries >= PASS_TRIES) {
		job_end(j, NULL, 0, j->refused ? "refused" : "timeout");
		return;
	}
	udp_try(j);
}

static void
udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pass_job *j = arg;
	struct pass *p = j->p;
	int i;

	(void)what;
	for (i = 0; i < READS; i++) {
		ssize_t n = recv(fd, p->buf, sizeof(p->buf), MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {		/* ECONNREFUSED: nothing listens there */
			udp_next(j, errno == ECONNREFUSED);
			return;
		}
		switch (passwire_check(p->buf, (size_t)n, j->id, j->query + DNSWIRE_HDR, j->qtype)) {
		case PASSWIRE_OK:
			job_end(j, p->buf, (size_t)n, NULL);
			return;
		case PASSWIRE_TRUNCATED:
			tcp_start(j);
			return;
		case PASSWIRE_MALFORMED:
			job_end(j, NULL, 0, "malformed");
			return;
		case PASSWIRE_FOREIGN:	/* a late answer to nothing we asked, or a guess */
			p->stats.foreign++;
			break;
		}
	}
}

/* A try: a new socket (a new source port), connected, so the kernel takes datagrams
 * from the server's address and port only, and reports its ICMP errors. */
static void
udp_try(struct pass_job *j)
{
	const struct sockaddr *sa;
	struct timeval tv;

	j->tries++;
	new_id(j);
	sa = server_of(j);
	j->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd == -1 || connect(j->fd, sa, addr_len(sa)) == -1 ||
	    send(j->fd, j->query, j->qlen, MSG_DONTWAIT) != (ssize_t)j->qlen) {
		/* an address the host cannot reach, or send refused: counted as a try */
		udp_next(j, errno == ECONNREFUSED);
		return;
	}
	if ((j->ev = event_new(j->p->base, j->fd, EV_READ | EV_PERSIST, udp_cb, j)) == NULL) {
		job_end(j, NULL, 0, "no-memory");
		return;
	}
	event_add(j->ev, NULL);
	util_ms_to_tv(PASS_TRY_MS, &tv);
	evtimer_add(j->timer, &tv);
}

/* The first try starts here, from the loop (so that even one that cannot start ends
 * the job from the loop: done is never called from inside pass_start); after it, a try's
 * time is up (UDP: the next try), or the TCP exchange's (the end). */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pass_job *j = arg;

	(void)fd;
	(void)what;
	if (j->tries == 0)
		udp_try(j);
	else if (j->bev != NULL)
		job_end(j, NULL, 0, "timeout");
	else
		udp_next(j, 0);
}

struct pass_job *
pass_start(struct pass *p, const struct sockaddr *client, const struct stub_zone *zone,
    const uint8_t *qname, uint16_t qtype, pass_done_fn done, void *arg, const char **why)
{
	struct pass_job *j;

	/* Counted for the client only when not refused for the total: a count it was not
	 * given must not be taken back from it. */
	if (p->stats.inflight >= PASS_MAX) {
		p->stats.busy++;
		*why = "busy";
		return NULL;
	}
	if (clients_over(clients_inc(p->clients, client), PASS_PER_CLIENT)) {
		clients_dec(p->clients, client);
		p->stats.busy++;
		*why = "busy";
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		clients_dec(p->clients, client);
		*why = "no-memory";
		return NULL;
	}
	j->p = p;
	j->fd = -1;
	j->refused = 1;
	memcpy(&j->client, client, addr_len(client));
	memcpy(j->servers, zone->servers, sizeof(j->servers));
	j->nservers = zone->nservers;
	j->qtype = qtype;
	j->done = done;
	j->arg = arg;
	j->qlen = passwire_query(0, qname, qtype, j->query, sizeof(j->query));	/* ID: new_id */
	if (j->qlen == 0 || (j->timer = evtimer_new(p->base, timer_cb, j)) == NULL) {
		clients_dec(p->clients, client);
		free(j);
		*why = "no-memory";
		return NULL;
	}
	LIST_INSERT_HEAD(&p->jobs, j, entry);
	p->stats.inflight++;
	event_active(j->timer, EV_TIMEOUT, 0);	/* the first try, from the loop */
	return j;
}

void
pass_cancel(struct pass_job *j)
{
	job_free(j);
}

struct pass *
pass_new(struct event_base *base)
{
	struct pass *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->clients = clients_new()) == NULL) {
		free(p);
		return NULL;
	}
	p->base = base;
	LIST_INIT(&p->jobs);
	return p;
}

void
pass_free(struct pass *p)
{
	if (p == NULL)
		return;
	while (!LIST_EMPTY(&p->jobs))
		job_free(LIST_FIRST(&p->jobs));
	clients_free(p->clients);
	free(p);
}

const struct pass_stats *
pass_stats(const struct pass *p)
{
	return &p->stats;
}
