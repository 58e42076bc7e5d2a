/* httpd.c: the metrics endpoint on evhttp (no HTTP parsing of our own). */
#include "httpd.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "sock.h"

struct httpd {
	struct evhttp *http;
	struct evconnlistener *l;	/* evhttp's once bound; we only watch its errors */
	struct sock_pause pause;	/* its EMFILE back-off */
	httpd_fill_fn *fill;
	void *arg;
	uint64_t accept_errors;		/* exported, not logged: only the daemons' frame
					 * (daemon.c) logs in common/ */
	LIST_ENTRY(httpd) entry;
};
/* The listener's callback argument is evhttp's, so its error callback finds its httpd
 * here (one per daemon in practice). */
static LIST_HEAD(, httpd) live = LIST_HEAD_INITIALIZER(live);

/* The listener on or off (sock_enable_fn). */
static void
listener_enable(void *arg, int on)
{
	struct httpd *h = arg;

	if (on)
		evconnlistener_enable(h->l);
	else
		evconnlistener_disable(h->l);
}

/* Out of descriptors, a waiting scraper (the healthcheck) would keep the listener ready
 * and libevent would retry accept(2) in a loop: shed it and pause (sock.h), as the
 * daemons' own listeners do. */
static void
scrape_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct sockaddr_storage peer;
	struct httpd *h;

	(void)arg;
	LIST_FOREACH(h, &live, entry)
		if (h->l == l)
			break;
	if (h == NULL)
		return;
	h->accept_errors++;
	sock_pause_accept_error(&h->pause, evconnlistener_get_fd(l), EVUTIL_SOCKET_ERROR(), &peer);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct prom p;

	prom_init(&p);
	h->fill(&p, h->arg);
	prom_family(&p, "gatehouse_metrics_accept_errors_total", "counter",
	    "accept(2) failures on this endpoint (out of descriptors: a scraper was shed).");
	prom_u64(&p, "gatehouse_metrics_accept_errors_total", h->accept_errors, (const char *)NULL);
	if (p.oom) {
		prom_free(&p);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add(out, p.buf, p.len);
	prom_free(&p);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evbuffer_add(evhttp_request_get_output_buffer(req), "ok\n", 3);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

struct httpd *
httpd_start(struct event_base *base, const struct sockaddr *sa, httpd_fill_fn *fill,
    void *arg, char *err, size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	char msg[256];
	int fd;

	if (h == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	LIST_INSERT_HEAD(&live, h, entry);
	if ((h->http = evhttp_new(base)) == NULL ||
	    sock_pause_init(&h->pause, base, listener_enable, h) == -1) {
		snprintf(err, errlen, "metrics: out of memory");
		httpd_stop(h);
		return NULL;
	}
	h->fill = fill;
	h->arg = arg;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(h->http, HTTPD_TIMEOUT_SEC);
	evhttp_set_max_headers_size(h->http, HTTPD_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_cb(h->http, "/metrics", metrics_cb, h);
	evhttp_set_cb(h->http, "/healthz", healthz_cb, h);
	/* Our socket, not evhttp_bind_socket's: that one would listen with libevent's backlog
	 * and take IPv6 only or not by the system's default, as this one still does. */
	if ((fd = sock_open(sa, SOCK_STREAM, 0, msg, sizeof(msg))) == -1) {
		snprintf(err, errlen, "metrics %s", msg);
		httpd_stop(h);
		return NULL;
	}
	if ((h->l = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd)) == NULL ||
	    evhttp_bind_listener(h->http, h->l) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		if (h->l != NULL)
			evconnlistener_free(h->l);
		else
			close(fd);
		h->l = NULL;
		httpd_stop(h);
		return NULL;
	}
	evconnlistener_set_error_cb(h->l, scrape_accept_error_cb);
	return h;
}

void
httpd_stop(struct httpd *h)
{
	if (h == NULL)
		return;
	LIST_REMOVE(h, entry);
	if (h->http != NULL)
		evhttp_free(h->http);	/* and the listener bound to it */
	sock_pause_free(&h->pause);
	free(h);
}

void
httpd_common_metrics(struct prom *p, const char *daemon, size_t rules,
    const struct audit_stats *as, const struct reload_stats *rs)
{
	prom_family(p, "gatehouse_build_info", "gauge", "Version of this daemon.");
	prom_u64(p, "gatehouse_build_info", 1, "daemon", daemon, "version", GATEHOUSE_VERSION,
	    (const char *)NULL);
	prom_family(p, "gatehouse_rules", "gauge", "Allowlist rules in the running configuration.");
	prom_u64(p, "gatehouse_rules", rules, (const char *)NULL);
	prom_family(p, "gatehouse_audit_lines_total", "counter",
	    "Audit lines by outcome: written, suppressed by the flood bound, dropped on write errors.");
	prom_u64(p, "gatehouse_audit_lines_total", as->written, "result", "written", (const char *)NULL);
	prom_u64(p, "gatehouse_audit_lines_total", as->suppressed, "result", "suppressed",
	    (const char *)NULL);
	prom_u64(p, "gatehouse_audit_lines_total", as->dropped, "result", "dropped", (const char *)NULL);
	prom_family(p, "gatehouse_audit_write_errors_total", "counter", "Failed writes of the audit stream.");
	prom_u64(p, "gatehouse_audit_write_errors_total", as->write_errors, (const char *)NULL);
	prom_family(p, "gatehouse_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
	prom_u64(p, "gatehouse_reloads_total", rs->ok, "result", "ok", (const char *)NULL);
	prom_u64(p, "gatehouse_reloads_total", rs->failed, "result", "failed", (const char *)NULL);
}
