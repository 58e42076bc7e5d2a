/* dial.c: parallel staggered connection attempts; the first to connect wins. */
#include "dial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "util.h"

struct attempt {
	int fd;
	struct event *ev;
	size_t idx;
	struct dial *d;
};

struct dial {
	struct event_base *base;
	struct sockaddr_storage addrs[DIAL_MAX];
	size_t n, next;
	struct attempt att[DIAL_MAX];
	struct event *timer;	/* stagger, and the deferred failure report */
	uint64_t stagger_ms;
	int last_err;
	int failed;
	dial_cb *cb;
	void *arg;
};

void
dial_order(struct sockaddr_storage *addrs, size_t n)
{
	struct sockaddr_storage v6[DIAL_MAX], v4[DIAL_MAX];
	size_t n6 = 0, n4 = 0, i, o = 0;

	for (i = 0; i < n && i < DIAL_MAX; i++) {
		if (addrs[i].ss_family == AF_INET6)
			v6[n6++] = addrs[i];
		else
			v4[n4++] = addrs[i];
	}
	for (i = 0; i < n6 || i < n4; i++) {
		if (i < n6)
			addrs[o++] = v6[i];
		if (i < n4)
			addrs[o++] = v4[i];
	}
}

static void
attempt_close(struct attempt *a)
{
	if (a->ev != NULL) {
		event_free(a->ev);
		a->ev = NULL;
	}
	if (a->fd != -1) {
		close(a->fd);
		a->fd = -1;
	}
}

static void
dial_free(struct dial *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		attempt_close(&d->att[i]);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d);
}

void
dial_cancel(struct dial *d)
{
	if (d != NULL)
		dial_free(d);
}

static int
attempts_active(const struct dial *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->att[i].fd != -1)
			return 1;
	return 0;
}

static void next_attempt(struct dial *d);

/* Report failure from the loop once nothing is left to try. */
static void
maybe_failed(struct dial *d)
{
	if (d->next < d->n || attempts_active(d))
		return;
	d->failed = 1;
	event_active(d->timer, EV_TIMEOUT, 0);
}

static void
attempt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct attempt *a = arg;
	struct dial *d = a->d;
	int err = 0;
	socklen_t el = sizeof(err);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
		err = errno;
	if (err == 0) {
		struct sockaddr_storage sa = d->addrs[a->idx];
		dial_cb *cb = d->cb;
		void *cbarg = d->arg;
		int won = a->fd;

		a->fd = -1;		/* handed to the caller */
		dial_free(d);
		cb(cbarg, won, &sa, 0);
		return;
	}
	d->last_err = err;
	attempt_close(a);
	if (d->next < d->n)
		next_attempt(d);	/* a failure starts the next at once */
	maybe_failed(d);
}

/* Start attempts until one is in progress or none is left. */
static void
next_attempt(struct dial *d)
{
	struct timeval tv;

	while (d->next < d->n) {
		struct attempt *a = &d->att[d->next];
		const struct sockaddr *sa = (const struct sockaddr *)&d->addrs[d->next];

		a->idx = d->next++;
		a->d = d;
		a->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (a->fd == -1) {
			d->last_err = errno;
			continue;
		}
		if (connect(a->fd, sa, addr_len(sa)) == -1 && errno != EINPROGRESS) {
			d->last_err = errno;
			attempt_close(a);
			continue;
		}
		/* In progress (or already connected): writability tells which way it went. */
		a->ev = event_new(d->base, a->fd, EV_WRITE, attempt_cb, a);
		if (a->ev == NULL || event_add(a->ev, NULL) == -1) {
			d->last_err = ENOMEM;
			attempt_close(a);
			continue;
		}
		break;
	}
	if (d->next < d->n) {
		util_ms_to_tv(d->stagger_ms, &tv);
		evtimer_add(d->timer, &tv);
	}
}

/* The stagger ran out: start the next attempt. Or report the failure maybe_failed queued. */
static void
stagger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	if (d->failed) {
		dial_cb *cb = d->cb;
		void *cbarg = d->arg;
		int err = d->last_err ? d->last_err : ECONNREFUSED;

		dial_free(d);
		cb(cbarg, -1, NULL, err);
		return;
	}
	next_attempt(d);
	maybe_failed(d);
}

struct dial *
dial_start(struct event_base *base, const struct sockaddr_storage *addrs, size_t n,
    uint64_t stagger_ms, dial_cb *cb, void *arg)
{
	struct dial *d = calloc(1, sizeof(*d));
	size_t i;

	if (d == NULL)
		return NULL;
	d->base = base;
	d->n = n < DIAL_MAX ? n : DIAL_MAX;
	memcpy(d->addrs, addrs, d->n * sizeof(*addrs));
	dial_order(d->addrs, d->n);
	for (i = 0; i < DIAL_MAX; i++)
		d->att[i].fd = -1;
	d->stagger_ms = stagger_ms;
	d->cb = cb;
	d->arg = arg;
	if ((d->timer = evtimer_new(base, stagger_cb, d)) == NULL) {
		free(d);
		return NULL;
	}
	next_attempt(d);
	maybe_failed(d);
	return d;
}
