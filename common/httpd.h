/* httpd.h: /metrics (Prometheus text) and /healthz on libevent's HTTP server. The daemon
 * passes its event base; nothing here runs a loop of its own. */
#ifndef GATEHOUSE_HTTPD_H
#define GATEHOUSE_HTTPD_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "audit.h"
#include "prom.h"

/* Fills the /metrics text on each request. */
typedef void httpd_fill_fn(struct prom *p, void *arg);

struct httpd;

/* Listen on sa (IPv6 only or not by the system's default); GET and HEAD only, headers
 * up to HTTPD_HEADERS_MAX bytes, no body, HTTPD_TIMEOUT_SEC timeouts. Every accept(2)
 * failure is counted in gatehouse_metrics_accept_errors_total (never logged); out of
 * descriptors, a waiting scraper is shed and accepting pauses (sock.h). fill(p, arg) is
 * called on base's loop for each /metrics request. NULL with err ("metrics ADDR:PORT:
 * reason", or out of memory). */
#define HTTPD_HEADERS_MAX 8192
#define HTTPD_TIMEOUT_SEC 5
struct httpd *httpd_start(struct event_base *base, const struct sockaddr *sa,
    httpd_fill_fn *fill, void *arg, char *err, size_t errlen);
/* Close the listener and free h; NULL is ignored. */
void httpd_stop(struct httpd *h);

/* Reloads counted by result, for gatehouse_reloads_total. */
struct reload_stats {
	uint64_t ok, failed;
};

/* The families both daemons export: build info, rules, audit lines and write errors,
 * reloads. */
void httpd_common_metrics(struct prom *p, const char *daemon, size_t rules,
    const struct audit_stats *as, const struct reload_stats *rs);

#endif
