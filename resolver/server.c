/* server.c: the resolver's UDP and TCP sockets, one answer per query, one audit line each. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "burst.h"
#include "clients.h"
#include "dname.h"
#include "dnswire.h"
#include "iface.h"
#include "log.h"
#include "pass.h"
#include "passwire.h"
#include "sock.h"
#include "util.h"

#define BATCH		32		/* datagrams per recvmmsg/sendmmsg */
#define ROUNDS		8		/* batches per readiness event, then yield to others */
#define UDP_IN		4096		/* larger queries are cut (and then FORMERR) */
#define UDP_OUT		QUERY_EDNS_PAYLOAD
#define TCP_MSG_MAX	65535		/* a DNS message over TCP (2-byte length) */
#define TCP_OUT_MAX	(256 * 1024)	/* stop reading a client that does not read answers */
#define MAX_SOCKS	64
#define CMSG_ROOM	CMSG_SPACE(sizeof(struct in6_pktinfo))
#define TCP_EVICT_MS	1000		/* at dns-tcp-max, a connection that answered nothing
					 * for this long gives its place to a new one */

struct udp_sock {
	struct server *srv;
	int fd;
	int family;
	int wildcard;		/* bound to 0.0.0.0 or ::, so answers name their source */
	struct event *ev;
};

struct tcp_conn {
	struct server *srv;
	struct bufferevent *bev;
	struct sockaddr_storage peer, local;
	unsigned ifindex;
	int closing;			/* EOF seen: free once the answers are written */
	unsigned passes;		/* its queries a stub zone's server is asked for */
	uint64_t last_answer_ms;	/* accept time, then the last query read or pass
					 * answered */
	LIST_ENTRY(tcp_conn) entry;
};

/* A query for a stub zone's name, while its server is asked (pass.h). */
struct pending {
	struct server *srv;
	struct pass_job *job;
	struct udp_sock *us;		/* UDP: the socket it came on */
	struct tcp_conn *tc;		/* TCP: its connection; NULL once that closed */
	struct sockaddr_storage peer, dst;
	unsigned ifindex;
	char zone[DNAME_MAX + 1];
	struct query_info qi;
	LIST_ENTRY(pending) entry;
	uint8_t query[];		/* its header and question: q[0..qi.question_end) */
};

/* Addresses an answer may carry, computed per query for `answer auto`. */
struct answer_addrs {
	struct in_addr a[IFACE_ADDRS];
	struct in6_addr aaaa[IFACE_ADDRS];
};

struct server {
	struct event_base *base;
	struct config *cfg;
	struct audit *audit;
	const struct iface_table *ifaces;	/* the caller's, kept up to date by it */
	struct udp_sock udp[MAX_SOCKS];
	size_t nudp;
	struct evconnlistener *tcp[MAX_SOCKS];
	size_t ntcp;
	struct sock_pause tcp_pause;		/* the TCP listeners' EMFILE back-off */
	LIST_HEAD(, tcp_conn) conns;
	struct client_table *tcp_clients;	/* open TCP connections per client address */
	struct burst *burst;			/* distinct blocked names per client */
	struct tell *tell;			/* lookups for the forwarder, or NULL (off) */
	const struct query_pool *pool;		/* `answer pool`'s hook, or NULL */
	struct pass *pass;			/* stub-zone queries in flight */
	LIST_HEAD(, pending) pending;		/* their clients' side */
	struct server_stats stats;
	uint32_t *pslot;			/* cfg's policy index -> row in stats.policies
					 * (NULL when out of memory: all in the default's) */
	/* UDP batch scratch */
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec in_iov[BATCH], out_iov[BATCH];
	struct sockaddr_storage peer[BATCH];
	uint8_t in_buf[BATCH][UDP_IN];
	uint8_t out_buf[BATCH][UDP_OUT];
	union {
		struct cmsghdr align;
		char buf[CMSG_ROOM];
	} in_cmsg[BATCH], out_cmsg[BATCH];
	uint8_t tcp_buf[TCP_MSG_MAX];
};

static struct log_rate send_rl = LOG_RATE_INIT(5, 60);
static struct log_rate accept_rl = LOG_RATE_INIT(5, 60);

/* ---- answers ---- */

/* Fill env's answer addresses for a query that arrived on dst (interface ifindex). */
static void
answer_env(struct server *srv, const struct sockaddr *dst, unsigned ifindex,
    struct query_env *env, struct answer_addrs *aa)
{
	const struct config *c = srv->cfg;
	const struct iface *ifc;

	if (!c->answer_auto) {
		env->a = c->answer4;
		env->na = c->nanswer4;
		env->aaaa = c->answer6;
		env->naaaa = c->nanswer6;
		return;
	}
	env->a = aa->a;
	env->aaaa = aa->aaaa;
	env->na = env->naaaa = 0;
	ifc = ifindex ? iface_by_index(srv->ifaces, ifindex) : NULL;
	if (ifc == NULL)
		ifc = iface_by_addr(srv->ifaces, dst);
	if (dst->sa_family == AF_INET) {
		aa->a[0] = ((const struct sockaddr_in *)dst)->sin_addr;
		env->na = 1;
		if (ifc != NULL) {
			memcpy(aa->aaaa, ifc->v6, ifc->n6 * sizeof(aa->aaaa[0]));
			env->naaaa = ifc->n6;
		}
	} else if (dst->sa_family == AF_INET6) {
		const struct in6_addr *d6 = &((const struct sockaddr_in6 *)dst)->sin6_addr;

		if (!IN6_IS_ADDR_LINKLOCAL(d6)) {
			aa->aaaa[0] = *d6;
			env->naaaa = 1;
		} else if (ifc != NULL) {
			memcpy(aa->aaaa, ifc->v6, ifc->n6 * sizeof(aa->aaaa[0]));
			env->naaaa = ifc->n6;
		}
		if (ifc != NULL) {
			memcpy(aa->a, ifc->v4, ifc->n4 * sizeof(aa->a[0]));
			env->na = ifc->n4;
		}
	}
}

/* Append ",addr" (or "addr" first) to buf when it fits; returns the new length. */
static size_t
append_addr(char *buf, size_t cap, size_t off, int family, const void *addr)
{
	if (off + INET6_ADDRSTRLEN + 2 > cap)
		return off;
	if (off > 0)
		buf[off++] = ',';
	if (family == AF_INET)
		return off + addr_fmt_ipv4(buf + off, addr);
	inet_ntop(family, addr, buf + off, (socklen_t)(cap - off));
	return off + strlen(buf + off);
}

/* What an audit line of a passed query adds: the zone, the server, its answer. */
struct pass_note {
	const char *zone;
	const struct sockaddr *server;		/* NULL: none was asked (busy, stopped) */
	const struct passwire_result *res;	/* NULL: no answer */
};

static void
audit_query(struct server *srv, const struct sockaddr *peer, int tcp,
    const struct query_info *qi, const struct query_env *env, const struct pass_note *pn)
{
	const char *flags[5];
	size_t nflags;
	int burst = qi->verdict == VERDICT_DENY && srv->burst != NULL &&
	    burst_note(srv->burst, peer, qi->qname, strlen(qi->qname), util_now_ms());

	char tbuf[16], rbuf[16], ans[512];
	size_t i, off = 0;

	if (!audit_begin(srv->audit, "query", peer))
		return;
	audit_client(srv->audit, peer, policyset_name(env->policies, env->policy));
	audit_safe(srv->audit, "proto", tcp ? "tcp" : "udp");
	if (qi->has_question) {
		audit_str(srv->audit, "qname", qi->qname);
		audit_safe(srv->audit, "qtype", query_type_name(qi->qtype, tbuf, sizeof(tbuf)));
		if (qi->qclass != LDNS_RR_CLASS_IN)
			audit_uint(srv->audit, "qclass", qi->qclass);
	}
	audit_safe(srv->audit, "verdict", query_verdict_name(qi->verdict));
	if (qi->rule != NULL)
		audit_safe(srv->audit, "rule", qi->rule->pattern);
	if (qi->reason != NULL)
		audit_safe(srv->audit, "reason", qi->reason);
	if (qi->verdict != VERDICT_DROP)
		audit_safe(srv->audit, "rcode", query_rcode_name(qi->rcode, rbuf, sizeof(rbuf)));
	if (pn != NULL) {
		char sbuf[ADDR_STRLEN];

		audit_safe(srv->audit, "zone", pn->zone);
		if (pn->server != NULL)
			audit_safe(srv->audit, "upstream", addr_format(pn->server, 1, sbuf,
			    sizeof(sbuf)));
		for (i = 0; pn->res != NULL && i < pn->res->n4 && i < PASSWIRE_ADDRS; i++)
			off = append_addr(ans, sizeof(ans), off, AF_INET, &pn->res->a4[i]);
		for (i = 0; pn->res != NULL && i < pn->res->n6 && i < PASSWIRE_ADDRS; i++)
			off = append_addr(ans, sizeof(ans), off, AF_INET6, &pn->res->a6[i]);
		if (pn->res != NULL && pn->res->dropped > 0)	/* the CNAME target's records */
			audit_uint(srv->audit, "outside_zone", pn->res->dropped);
	}
	for (i = 0; i < qi->nanswer4; i++)	/* the pool's one address, or env's */
		off = append_addr(ans, sizeof(ans), off, AF_INET, qi->pooled ? &qi->pool4 :
		    &env->a[i]);
	for (i = 0; i < qi->nanswer6; i++)
		off = append_addr(ans, sizeof(ans), off, AF_INET6, qi->pooled ? &qi->pool6 :
		    &env->aaaa[i]);
	if (off > 0)
		audit_safe(srv->audit, "answer", ans);
	if (qi->truncated)
		audit_uint(srv->audit, "tc", 1);
	nflags = query_flag_names(qi->flags, flags);
	if (burst)
		flags[nflags++] = "blocked-burst";
	if (nflags > 0)
		audit_strarray(srv->audit, "flags", flags, nflags);
	if (env->report)
		audit_report(srv->audit, qi->verdict == VERDICT_ALLOW && !qi->would_deny,
		    !qi->would_deny ? qi->reason : qi->rule != NULL ? "denied" : "not-allowed",
		    NULL);	/* a deny rule is the line's "rule" already */
	audit_end(srv->audit);
}

/* The query types counted one by one: their number on the wire and their label. */
static const struct {
	uint16_t type;
	const char *name;
} qtypes[SERVER_QT_COUNT] = {
	[SERVER_QT_A] = { LDNS_RR_TYPE_A, "A" },
	[SERVER_QT_AAAA] = { LDNS_RR_TYPE_AAAA, "AAAA" },
	[SERVER_QT_HTTPS] = { LDNS_RR_TYPE_HTTPS, "HTTPS" },
	[SERVER_QT_SVCB] = { LDNS_RR_TYPE_SVCB, "SVCB" },
	[SERVER_QT_MX] = { LDNS_RR_TYPE_MX, "MX" },
	[SERVER_QT_TXT] = { LDNS_RR_TYPE_TXT, "TXT" },
	[SERVER_QT_SRV] = { LDNS_RR_TYPE_SRV, "SRV" },
	[SERVER_QT_CNAME] = { LDNS_RR_TYPE_CNAME, "CNAME" },
	[SERVER_QT_PTR] = { LDNS_RR_TYPE_PTR, "PTR" },
	[SERVER_QT_NS] = { LDNS_RR_TYPE_NS, "NS" },
	[SERVER_QT_SOA] = { LDNS_RR_TYPE_SOA, "SOA" },
	[SERVER_QT_ANY] = { LDNS_RR_TYPE_ANY, "ANY" },
	[SERVER_QT_OTHER] = { 0, "other" },
};

static enum server_qtype
qtype_bucket(const struct query_info *qi)
{
	size_t i;

	for (i = 0; qi->has_question && i < SERVER_QT_OTHER; i++)
		if (qtypes[i].type == qi->qtype)
			return (enum server_qtype)i;
	return SERVER_QT_OTHER;
}

const char *
server_qtype_name(enum server_qtype q)
{
	return q < SERVER_QT_COUNT ? qtypes[q].name : qtypes[SERVER_QT_OTHER].name;
}

static void
count_query(struct server *srv, const struct query_info *qi, int tcp, size_t policy)
{
	uint64_t *row = polstats_row(srv->stats.policies, srv->pslot ? srv->pslot[policy] : 0);

	row[qi->verdict * SERVER_QT_COUNT + qtype_bucket(qi)]++;
	if (qi->would_deny)
		row[SERVER_PSTAT_WOULD_DENY]++;
	if (qi->verdict != VERDICT_DROP && qi->rcode >= 0 && qi->rcode < SERVER_RCODES)
		srv->stats.rcode[qi->rcode]++;
	if (tcp)
		srv->stats.tcp++;
	else
		srv->stats.udp++;
	if (qi->truncated)
		srv->stats.truncated++;
}

/* ---- stub zones: the query goes to the zone's servers, the answer comes later ---- */

static void udp_send_one(struct server *srv, struct udp_sock *us, const struct sockaddr *peer,
    const struct sockaddr *dst, unsigned ifindex, const uint8_t *buf, size_t len);
static int tcp_queue(struct tcp_conn *tc, size_t len);
static void tcp_free(struct tcp_conn *tc);

/* What passwire needs of the client's query q, as query.c read it (qi). */
static void
pass_client(const uint8_t *q, const struct query_info *qi, int tcp,
    struct passwire_client *cl)
{
	cl->query = q;
	cl->question_end = qi->question_end;
	cl->edns = qi->edns;
	cl->dnssec_ok = qi->dnssec_ok;
	cl->limit = 65535;
	if (!tcp) {	/* as query.c bounds its own answers */
		cl->limit = QUERY_UDP_MIN;
		if (qi->edns && qi->edns_size > cl->limit)
			cl->limit = qi->edns_size < QUERY_EDNS_PAYLOAD ? qi->edns_size :
			    QUERY_EDNS_PAYLOAD;
	}
}

/* A passed query's counters and audit line; its policy is chosen now (a reload while it
 * waited may have renumbered them). */
static void
pass_account(struct server *srv, const struct sockaddr *peer, const struct sockaddr *dst,
    int tcp, const struct query_info *qi, const struct pass_note *pn)
{
	struct query_env env;

	memset(&env, 0, sizeof(env));
	env.policies = srv->cfg->policies;
	env.policy = policyset_select(env.policies, peer, dst);
	count_query(srv, qi, tcp, env.policy);
	audit_query(srv, peer, tcp, qi, &env, pn);
}

/* The end of a pass: the audit line, the counters, the answer to the client. 0 when the
 * server's answer (resp) was relayed, -1 when the client was told SERVFAIL. */
static int
pass_finish(struct pending *pd, const uint8_t *resp, size_t len,
    const struct sockaddr *server, const char *why)
{
	struct server *srv = pd->srv;
	struct passwire_client cl;
	struct passwire_result res;
	struct pass_note pn;
	int tcp = pd->us == NULL, ok;
	uint8_t *out = srv->tcp_buf + 2;	/* free: no TCP read is under way */
	size_t outlen = 0, cap = sizeof(srv->tcp_buf) - 2;

	pass_client(pd->query, &pd->qi, tcp, &cl);
	ok = resp != NULL && passwire_answer(resp, len, pd->zone, &cl, out, cap, &outlen,
	    &res) == 0;
	if (!ok)
		passwire_servfail(&cl, out, cap, &outlen, &res);
	pd->qi.rcode = res.rcode;
	pd->qi.truncated = res.truncated;
	pd->qi.reason = ok ? NULL : why != NULL ? why : "malformed";
	pn.zone = pd->zone;
	pn.server = server;
	pn.res = ok ? &res : NULL;
	pass_account(srv, (struct sockaddr *)&pd->peer, (struct sockaddr *)&pd->dst, tcp,
	    &pd->qi, &pn);
	audit_flush(srv->audit);
	if (!tcp)
		udp_send_one(srv, pd->us, (struct sockaddr *)&pd->peer, (struct sockaddr *)&pd->dst,
		    pd->ifindex, out, outlen);
	else if (pd->tc != NULL) {
		struct tcp_conn *tc = pd->tc;

		tc->passes--;
		tc->last_answer_ms = util_now_ms();	/* not idle: tcp_make_room spares it */
		if (tcp_queue(tc, outlen) == -1 && tc->closing && tc->passes == 0)
			tcp_free(tc);		/* nothing left to write it for */
	}
	LIST_REMOVE(pd, entry);
	free(pd);
	return ok ? 0 : -1;
}

static int
pass_done_cb(void *arg, const uint8_t *resp, size_t len, const struct sockaddr *server,
    const char *why)
{
	return pass_finish(arg, resp, len, server, why);
}

/* Ask the stub zone's servers for q, answered later on us (UDP) or tc (TCP). 0, or -1
 * when it cannot be asked now (*why): the caller answers SERVFAIL at once. */
static int
pass_begin(struct server *srv, const uint8_t *q, const struct sockaddr *peer,
    const struct sockaddr *dst, unsigned ifindex, struct udp_sock *us, struct tcp_conn *tc,
    const struct query_info *qi, const char **why)
{
	struct pending *pd = malloc(sizeof(*pd) + qi->question_end);

	*why = "no-memory";
	if (pd == NULL)
		return -1;
	pd->srv = srv;
	pd->us = us;
	pd->tc = tc;
	memcpy(&pd->peer, peer, addr_len(peer));
	memcpy(&pd->dst, dst, addr_len(dst));
	pd->ifindex = ifindex;
	util_strlcpy(pd->zone, qi->stub->zone, sizeof(pd->zone));
	memcpy(&pd->qi, qi, sizeof(*qi));
	pd->qi.stub = NULL;		/* the configuration's: it may be reloaded meanwhile */
	memcpy(pd->query, q, qi->question_end);
	pd->job = pass_start(srv->pass, peer, qi->stub, q + DNSWIRE_HDR, qi->qtype, pass_done_cb,
	    pd, why);
	if (pd->job == NULL) {
		free(pd);
		return -1;
	}
	LIST_INSERT_HEAD(&srv->pending, pd, entry);
	if (tc != NULL)
		tc->passes++;
	return 0;
}

/* A pass that could not start: SERVFAIL now, audited and counted like the others. qi is
 * the caller's, which has no more use for it. */
static size_t
pass_refused(struct server *srv, const uint8_t *q, const struct sockaddr *peer,
    const struct sockaddr *dst, int tcp, struct query_info *qi, const char *why,
    uint8_t *out, size_t cap)
{
	struct passwire_client cl;
	struct passwire_result res;
	struct pass_note pn = { qi->stub->zone, NULL, NULL };
	size_t outlen = 0;

	pass_client(q, qi, tcp, &cl);	/* header, question, OPT: within any limit */
	passwire_servfail(&cl, out, cap, &outlen, &res);
	qi->rcode = res.rcode;
	qi->reason = why;
	pass_account(srv, peer, dst, tcp, qi, &pn);
	return outlen;
}

/* Answer one query; 1 with *outlen set when there is something to send now. A query
 * for a stub zone's name is answered later, on us (UDP) or tc (TCP). */
static int
answer_one(struct server *srv, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
    const struct sockaddr *dst, unsigned ifindex, struct udp_sock *us, struct tcp_conn *tc,
    uint8_t *out, size_t outcap, size_t *outlen)
{
	int tcp = tc != NULL;
	struct answer_addrs aa;
	struct query_env env;
	struct query_info qi;
	enum query_result res;

	memset(&env, 0, sizeof(env));
	env.policies = srv->cfg->policies;
	env.policy = policyset_select(env.policies, peer, dst);
	env.report = policyset_mode(env.policies, env.policy) == MODE_REPORT;
	env.ttl = srv->cfg->ttl;
	env.negative_ttl = srv->cfg->negative_ttl;
	env.blocked_refused = srv->cfg->blocked_refused;
	env.tcp = tcp;
	env.pool = srv->pool;
	env.client = peer;
	env.stub_zones = srv->cfg->stub_zones;
	env.nstub_zones = srv->cfg->nstub_zones;
	answer_env(srv, dst, ifindex, &env, &aa);
	res = query_answer(q, qlen, &env, out, outcap, outlen, &qi);
	if (res == QUERY_PASS) {
		const char *why;

		if (pass_begin(srv, q, peer, dst, ifindex, us, tc, &qi, &why) == 0)
			return 0;
		*outlen = pass_refused(srv, q, peer, dst, tcp, &qi, why, out, outcap);
		return 1;
	}
	count_query(srv, &qi, tcp, env.policy);
	audit_query(srv, peer, tcp, &qi, &env, NULL);
	if (res == QUERY_ANSWER && qi.verdict == VERDICT_ALLOW && srv->tell != NULL)
		srv->stats.told[tell_lookup(srv->tell, peer, qi.qname, util_now_ms())]++;
	return res == QUERY_ANSWER;
}

/* ---- UDP ---- */

/* Destination address and interface of a received datagram, from its PKTINFO. */
static unsigned
udp_dst(const struct msghdr *mh, int family, struct sockaddr_storage *dst)
{
	struct cmsghdr *cm;

	memset(dst, 0, sizeof(*dst));
	dst->ss_family = (sa_family_t)family;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)mh); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in *)dst)->sin_addr = pi.ipi_addr;
			return (unsigned)pi.ipi_ifindex;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in6 *)dst)->sin6_addr = pi.ipi6_addr;
			return pi.ipi6_ifindex;
		}
	}
	return 0;
}

/* Answer from the address the query was sent to (matters on a wildcard socket). */
static void
udp_src_cmsg(struct msghdr *mh, void *room, const struct sockaddr *dst, unsigned ifindex)
{
	struct cmsghdr *cm;

	mh->msg_control = room;
	if (dst->sa_family == AF_INET) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = ((const struct sockaddr_in *)dst)->sin_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(mh);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = ((const struct sockaddr_in6 *)dst)->sin6_addr;
		pi.ipi6_ifindex = ifindex;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(mh);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

static void
udp_send(struct server *srv, int fd, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int s = sendmmsg(fd, srv->out + done, n - done, MSG_DONTWAIT);

		if (s > 0) {
			done += (unsigned)s;
			continue;
		}
		if (s == -1 && errno == EINTR)
			continue;
		/* This datagram cannot go (full buffer, unreachable peer): skip it. */
		srv->stats.send_errors++;
		log_warn_rl(&send_rl, "udp send");
		done++;
	}
}

/* One answer, later than its batch (a stub zone's). */
static void
udp_send_one(struct server *srv, struct udp_sock *us, const struct sockaddr *peer,
    const struct sockaddr *dst, unsigned ifindex, const uint8_t *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_ROOM];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)peer;
	mh.msg_namelen = addr_len(peer);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (us->wildcard)
		udp_src_cmsg(&mh, cm.buf, dst, ifindex);
	if (sendmsg(us->fd, &mh, MSG_DONTWAIT) == -1) {
		srv->stats.send_errors++;
		log_warn_rl(&send_rl, "udp send");
	}
}

/* Point the receive headers at their buffers: all of them once, then after each
 * recvmmsg only the n it filled (the kernel changed their lengths and flags). */
static void
udp_prepare_in(struct server *srv, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct msghdr *mh = &srv->in[i].msg_hdr;

		srv->in_iov[i].iov_base = srv->in_buf[i];
		srv->in_iov[i].iov_len = UDP_IN;
		mh->msg_name = &srv->peer[i];
		mh->msg_namelen = sizeof(srv->peer[i]);
		mh->msg_iov = &srv->in_iov[i];
		mh->msg_iovlen = 1;
		mh->msg_control = srv->in_cmsg[i].buf;
		mh->msg_controllen = CMSG_ROOM;
		mh->msg_flags = 0;
	}
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *us = arg;
	struct server *srv = us->srv;
	int round;

	(void)what;
	for (round = 0; round < ROUNDS; round++) {
		int got, i;
		unsigned nout = 0;

		got = recvmmsg(fd, srv->in, BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			break;
		for (i = 0; i < got; i++) {
			struct msghdr *mh = &srv->in[i].msg_hdr;
			struct msghdr *oh = &srv->out[nout].msg_hdr;
			struct sockaddr_storage dst;
			unsigned ifindex = udp_dst(mh, us->family, &dst);
			size_t outlen;

			if (!answer_one(srv, srv->in_buf[i], srv->in[i].msg_len,
			    (struct sockaddr *)&srv->peer[i], (struct sockaddr *)&dst, ifindex, us,
			    NULL, srv->out_buf[nout], UDP_OUT, &outlen))
				continue;
			memset(oh, 0, sizeof(*oh));
			srv->out_iov[nout].iov_base = srv->out_buf[nout];
			srv->out_iov[nout].iov_len = outlen;
			oh->msg_name = &srv->peer[i];
			oh->msg_namelen = mh->msg_namelen;
			oh->msg_iov = &srv->out_iov[nout];
			oh->msg_iovlen = 1;
			/* Bound to one address, the kernel picks it as the source anyway;
			 * a control message per datagram would only cost a lookup. */
			if (us->wildcard)
				udp_src_cmsg(oh, srv->out_cmsg[nout].buf, (struct sockaddr *)&dst,
				    ifindex);
			nout++;
		}
		if (nout > 0)
			udp_send(srv, fd, nout);
		udp_prepare_in(srv, (unsigned)got);
		if (got < BATCH)
			break;
	}
	audit_flush(srv->audit);
}

/* ---- TCP (RFC 7766: 2-byte framing, pipelined queries, idle timeout) ---- */

/* The answer in the server's tcp_buf + 2 (len bytes) framed (RFC 1035 4.2.2) onto tc's
 * output. 0, or -1 when it could not be added. */
static int
tcp_queue(struct tcp_conn *tc, size_t len)
{
	uint8_t *buf = tc->srv->tcp_buf;

	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	return evbuffer_add(bufferevent_get_output(tc->bev), buf, len + 2);
}

static void
tcp_free(struct tcp_conn *tc)
{
	struct server *srv = tc->srv;
	struct pending *pd;

	if (tc->passes > 0)	/* their answers have nowhere to go now */
		LIST_FOREACH(pd, &srv->pending, entry)
			if (pd->tc == tc)
				pd->tc = NULL;
	LIST_REMOVE(tc, entry);
	bufferevent_free(tc->bev);
	clients_dec(srv->tcp_clients, (struct sockaddr *)&tc->peer);
	srv->stats.tcp_open--;
	free(tc);
}

static void
tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;
	struct server *srv = tc->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);

	for (;;) {
		uint8_t lenb[2], *q;
		size_t mlen, outlen;

		if (evbuffer_copyout(in, lenb, 2) < 2)
			break;
		mlen = (size_t)lenb[0] << 8 | lenb[1];
		if (evbuffer_get_length(in) < 2 + mlen)
			break;
		if ((q = evbuffer_pullup(in, (ev_ssize_t)(2 + mlen))) == NULL)
			break;
		tc->last_answer_ms = util_now_ms();
		if (answer_one(srv, q + 2, mlen, (struct sockaddr *)&tc->peer,
		    (struct sockaddr *)&tc->local, tc->ifindex, NULL, tc, srv->tcp_buf + 2,
		    sizeof(srv->tcp_buf) - 2, &outlen))
			(void)tcp_queue(tc, outlen);
		evbuffer_drain(in, 2 + mlen);
		if (evbuffer_get_length(out) > TCP_OUT_MAX) {
			bufferevent_disable(bev, EV_READ);	/* resumed in tcp_write_cb */
			break;
		}
	}
	audit_flush(srv->audit);
}

static void
tcp_write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;

	if (tc->closing) {
		if (tc->passes == 0)	/* else the last pass's answer comes first */
			tcp_free(tc);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		tcp_read_cb(bev, tc);	/* queries may be waiting in the input already */
	}
}

static void
tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *tc = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (evbuffer_get_length(bufferevent_get_output(bev)) > 0 || tc->passes > 0)) {
		tc->closing = 1;		/* write what is answered, then close */
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !(what & BEV_EVENT_ERROR) && tc->passes > 0) {
		/* not idle: a query is outstanding at a stub zone's server (RFC 7766 6.2.3);
		 * a pass is bounded (pass.h), and the next quiet spell is timed again */
		bufferevent_enable(bev, (what & BEV_EVENT_READING) ? EV_READ : EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		tc->srv->stats.tcp_idle_closed++;
	tcp_free(tc);
}

/* At dns-tcp-max: close the connection that has gone longest without an answer, if
 * that is over TCP_EVICT_MS (RFC 7766 6.2.3 lets a server close connections to make
 * room; a client trickling bytes never completes a query, so it goes first). */
static int
tcp_make_room(struct server *srv)
{
	struct tcp_conn *tc, *oldest = NULL;
	uint64_t now = util_now_ms();

	LIST_FOREACH(tc, &srv->conns, entry)	/* one waiting for a zone server is not idle */
		if (tc->passes == 0 && (oldest == NULL ||
		    tc->last_answer_ms < oldest->last_answer_ms))
			oldest = tc;
	if (oldest == NULL || now - oldest->last_answer_ms < TCP_EVICT_MS)
		return -1;
	srv->stats.tcp_evicted++;
	tcp_free(oldest);
	return 0;
}

/* One client may hold an eighth of the TCP places (at least 4). */
static unsigned
tcp_per_client(const struct config *c)
{
	return c->dns_tcp_max / 8 > 4 ? c->dns_tcp_max / 8 : 4;
}

static void
tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct server *srv = arg;
	struct tcp_conn *tc;
	struct timeval tv;
	socklen_t sl = sizeof(tc->local);
	const struct iface *ifc;

	(void)l;
	if ((srv->stats.tcp_open >= srv->cfg->dns_tcp_max && tcp_make_room(srv) == -1) ||
	    (tc = calloc(1, sizeof(*tc))) == NULL) {
		srv->stats.tcp_refused++;
		close(fd);
		return;
	}
	if (clients_over(clients_inc(srv->tcp_clients, sa), tcp_per_client(srv->cfg))) {
		clients_dec(srv->tcp_clients, sa);
		srv->stats.tcp_refused++;
		free(tc);
		close(fd);
		return;
	}
	tc->srv = srv;
	tc->last_answer_ms = util_now_ms();
	memcpy(&tc->peer, sa, (size_t)salen < sizeof(tc->peer) ? (size_t)salen : sizeof(tc->peer));
	if (getsockname(fd, (struct sockaddr *)&tc->local, &sl) == -1) {
		clients_dec(srv->tcp_clients, sa);
		close(fd);
		free(tc);
		return;
	}
	ifc = iface_by_addr(srv->ifaces, (struct sockaddr *)&tc->local);
	tc->ifindex = ifc ? ifc->index : 0;
	tc->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (tc->bev == NULL) {
		clients_dec(srv->tcp_clients, sa);
		close(fd);
		free(tc);
		return;
	}
	util_ms_to_tv(srv->cfg->dns_tcp_idle_ms, &tv);
	bufferevent_set_timeouts(tc->bev, &tv, &tv);
	/* Room for one whole framed query and then some: reading pauses above it. */
	bufferevent_setwatermark(tc->bev, EV_READ, 0, 2 + TCP_MSG_MAX + UDP_IN);
	bufferevent_setcb(tc->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, tc);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&srv->conns, tc, entry);
	srv->stats.tcp_open++;
	srv->stats.tcp_accepted++;
}

/* The TCP listeners on or off (sock_enable_fn). */
static void
tcp_listeners_enable(void *arg, int on)
{
	struct server *srv = arg;
	size_t i;

	for (i = 0; i < srv->ntcp; i++) {
		if (on)
			evconnlistener_enable(srv->tcp[i]);
		else
			evconnlistener_disable(srv->tcp[i]);
	}
}

static void
tcp_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct sockaddr_storage peer;
	int err = EVUTIL_SOCKET_ERROR(), shed;

	srv->stats.tcp_accept_errors++;
	errno = err;
	log_warn_rl(&accept_rl, "dns tcp accept");
	/* Out of descriptors: shed one waiting client and stop accepting for a moment
	 * (sock.h); UDP goes on meanwhile. */
	if ((shed = sock_pause_accept_error(&srv->tcp_pause, evconnlistener_get_fd(l), err,
	    &peer)) == -1)
		return;
	srv->stats.tcp_shed += (uint64_t)shed;
}

/* ---- sockets ---- */

/* A socket for dns-listen address sa: "udp ADDR: reason" or "tcp ADDR: reason" in err,
 * and errno (EAFNOSUPPORT, EADDRNOTAVAIL, ...) for server_new, on failure. */
static int
open_dns_socket(size_t nopen, const struct sockaddr *sa, int type, char *err, size_t errlen)
{
	char msg[256];
	int fd, e;

	if (nopen == MAX_SOCKS) {
		snprintf(err, errlen, "too many dns-listen addresses (most %d)", MAX_SOCKS);
		errno = EINVAL;
		return -1;
	}
	fd = sock_open(sa, type, SOCK_OPEN_V6ONLY | (type == SOCK_DGRAM ? SOCK_OPEN_PKTINFO : 0),
	    msg, sizeof(msg));
	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "%s %s", type == SOCK_DGRAM ? "udp" : "tcp", msg);
		errno = e;
	}
	return fd;
}

static int
udp_open(struct server *srv, const struct sockaddr *sa, char *err, size_t errlen)
{
	struct udp_sock *us = &srv->udp[srv->nudp];
	int fd, rcv = 1 << 20;

	if ((fd = open_dns_socket(srv->nudp, sa, SOCK_DGRAM, err, errlen)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	us->srv = srv;
	us->fd = fd;
	us->family = sa->sa_family;
	us->wildcard = addr_is_any(sa);
	us->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, udp_read_cb, us);
	if (us->ev == NULL || event_add(us->ev, NULL) == -1) {
		snprintf(err, errlen, "event_new failed");
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	srv->nudp++;
	return 0;
}

static int
tcp_open(struct server *srv, const struct sockaddr *sa, char *err, size_t errlen)
{
	struct evconnlistener *l;
	int fd;

	if ((fd = open_dns_socket(srv->ntcp, sa, SOCK_STREAM, err, errlen)) == -1)
		return -1;
	l = evconnlistener_new(srv->base, tcp_accept_cb, srv, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (l == NULL) {
		snprintf(err, errlen, "evconnlistener_new failed");
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	evconnlistener_set_error_cb(l, tcp_error_cb);
	srv->tcp[srv->ntcp++] = l;
	return 0;
}

struct server *
server_new(struct event_base *base, struct config *cfg, struct audit *audit,
    const struct iface_table *ifaces, char *err, size_t errlen)
{
	struct server *srv = calloc(1, sizeof(*srv));
	size_t i;

	if (srv == NULL || (srv->tcp_clients = clients_new()) == NULL ||
	    (srv->burst = burst_new()) == NULL || (srv->pass = pass_new(base)) == NULL ||
	    (srv->stats.policies = polstats_new(SERVER_PSTAT_WIDTH)) == NULL ||
	    polstats_map(srv->stats.policies, cfg->policies, &srv->pslot) == -1 ||
	    sock_pause_init(&srv->tcp_pause, base, tcp_listeners_enable, srv) == -1) {
		if (srv != NULL) {
			pass_free(srv->pass);
			clients_free(srv->tcp_clients);
			burst_free(srv->burst);
			polstats_free(srv->stats.policies);
		}
		snprintf(err, errlen, "out of memory");
		free(srv);
		return NULL;
	}
	srv->base = base;
	LIST_INIT(&srv->conns);
	LIST_INIT(&srv->pending);
	srv->cfg = config_ref(cfg);
	srv->audit = audit;
	srv->ifaces = ifaces;
	if (tell_open(cfg->lookups_socket, &srv->tell, err, errlen) == -1) {
		server_free(srv);
		return NULL;
	}
	udp_prepare_in(srv, BATCH);
	for (i = 0; i < cfg->dns_listen.n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&cfg->dns_listen.v[i];

		if (udp_open(srv, sa, err, errlen) == 0 && tcp_open(srv, sa, err, errlen) == 0)
			continue;
		if (cfg->dns_listen_default && sa->sa_family == AF_INET6 &&
		    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			log_warnx("%s; IPv6 skipped", err);
			continue;
		}
		server_free(srv);
		return NULL;
	}
	if (srv->nudp == 0) {
		snprintf(err, errlen, "no DNS socket could be opened");
		server_free(srv);
		return NULL;
	}
	return srv;
}

void
server_free(struct server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	/* Passes in flight end here: SERVFAIL to their clients (a UDP one gets it; a TCP
	 * connection is closed below) and each its audit line, as every query has one. */
	while (!LIST_EMPTY(&srv->pending)) {
		struct pending *pd = LIST_FIRST(&srv->pending);

		pass_cancel(pd->job);
		(void)pass_finish(pd, NULL, 0, NULL, "stopped");	/* frees pd */
	}
	pass_free(srv->pass);
	while (!LIST_EMPTY(&srv->conns))
		tcp_free(LIST_FIRST(&srv->conns));
	for (i = 0; i < srv->nudp; i++) {
		event_free(srv->udp[i].ev);
		close(srv->udp[i].fd);
	}
	for (i = 0; i < srv->ntcp; i++)
		evconnlistener_free(srv->tcp[i]);
	sock_pause_free(&srv->tcp_pause);
	clients_free(srv->tcp_clients);
	burst_free(srv->burst);
	polstats_free(srv->stats.policies);
	free(srv->pslot);
	tell_free(srv->tell);
	config_unref(srv->cfg);
	free(srv);
}

void
server_set_config(struct server *srv, struct config *cfg)
{
	config_ref(cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
	free(srv->pslot);
	if (polstats_map(srv->stats.policies, cfg->policies, &srv->pslot) == -1)
		log_warnx("reload: out of memory for the per-policy counters: counted as %s",
		    POLICYSET_DEFAULT);
}

void
server_set_pool(struct server *srv, const struct query_pool *pool)
{
	srv->pool = pool;
}

const struct server_stats *
server_stats(const struct server *srv)
{
	return &srv->stats;
}

const struct pass_stats *
server_pass_stats(const struct server *srv)
{
	return pass_stats(srv->pass);
}
