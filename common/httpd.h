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
 * up to HTTPD_HEADERS_MAX bytes, no body, HTTPD_TIMEOUT_SEC timeouts. Out of descriptors,
 * a waiting scraper is shed and accepting pauses (sock.h), counted in
 * gatehouse_metrics_accept_errors_total. NULL with err. */
#define HTTPD_HEADERS_MAX 8192
#define HTTPD_TIMEOUT_SEC 5
struct httpd *httpd_start(struct event_base *base, const struct sockaddr *sa,
    httpd_fill_fn *fill, void *arg, char *err, size_t errlen);
void httpd_stop(struct httpd *h);

/* Reloads counted by result, for gatehouse_reloads_total. */
struct reload_stats {
	uint64_t ok, failed;
};

/* The families both daemons export: build info, rules, audit lines, reloads. */
void httpd_common_metrics(struct prom *p, const char *daemon, size_t rules,
    const struct audit_stats *as, const struct reload_stats *rs);

#endif
