/*
 * The event bus behind GET /v1/events: a ring of the last SVC_EVENT_RING
 * events, each with a sequence number that is also its SSE id, so a console
 * that reconnects with Last-Event-ID misses nothing still in the ring.
 *
 * Each stream runs on its connection's own thread and waits on the bus's
 * condition variable at most a second at a time (the HTTP layer's contract),
 * sending a comment line every 15 s so proxies keep the connection open.
 * Events carry ids and decisions, never images or templates.
 */
#include "svc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSE_HEARTBEAT_S 15
#define SSE_BUF 8192

void svc_events_init(struct svc_events *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->next = 1;
}

void svc_events_free(struct svc_events *e)
{
	for (size_t i = 0; i < SVC_EVENT_RING; i++)
		free(e->ring[i].data);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
}

void svc_event_publish(tvs_svc_t *s, const char *type, json_t *data)
{
	char *txt = data ? json_dumps(data, JSON_COMPACT) : NULL;
	struct svc_events *e = &s->ev;
	struct svc_event *slot;

	json_decref(data);
	if (!txt)
		return;
	pthread_mutex_lock(&e->mu);
	slot = &e->ring[e->next % SVC_EVENT_RING];
	free(slot->data);
	slot->data = txt;
	slot->seq = e->next++;
	snprintf(slot->type, sizeof(slot->type), "%s", type);
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

struct sse {
	tvs_svc_t *s;
	uint64_t next; /* seq to send next */
	time_t last_sent;
	char buf[SSE_BUF];
	size_t len, pos;
};

/* Fill st->buf with the events from st->next on; called with the lock held. */
static void drain(struct sse *st)
{
	struct svc_events *e = &st->s->ev;

	if (e->next > SVC_EVENT_RING && st->next < e->next - SVC_EVENT_RING)
		st->next = e->next - SVC_EVENT_RING; /* the console fell too far behind */
	while (st->next < e->next) {
		const struct svc_event *ev = &e->ring[st->next % SVC_EVENT_RING];
		int n = snprintf(st->buf + st->len, SSE_BUF - st->len, "id: %llu\nevent: %s\ndata: %s\n\n",
				 (unsigned long long)ev->seq, ev->type, ev->data);

		if (n < 0 || (size_t)n >= SSE_BUF - st->len)
			break; /* the rest goes in the next call */
		st->len += (size_t)n;
		st->next++;
	}
}

static ssize_t sse_read(void *arg, char *out, size_t max)
{
	struct sse *st = arg;
	struct svc_events *e = &st->s->ev;
	size_t n;

	if (st->pos == st->len) {
		struct timespec until;
		time_t now = time(NULL);

		st->pos = st->len = 0;
		pthread_mutex_lock(&e->mu);
		if (!e->stopping && st->next >= e->next) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&e->cv, &e->mu, &until);
		}
		if (e->stopping) {
			pthread_mutex_unlock(&e->mu);
			return -1;
		}
		drain(st);
		pthread_mutex_unlock(&e->mu);
		if (st->len == 0 && now - st->last_sent >= SSE_HEARTBEAT_S)
			st->len = (size_t)snprintf(st->buf, SSE_BUF, ": keep-alive\n\n");
		if (st->len == 0)
			return 0;
		st->last_sent = now;
	}
	n = st->len - st->pos < max ? st->len - st->pos : max;
	memcpy(out, st->buf + st->pos, n);
	st->pos += n;
	return (ssize_t)n;
}

SVC_HANDLER(h_events)
{
	struct sse *st = calloc(1, sizeof(*st));

	if (!st) {
		tvs_http_reply_error(resp, 503, "overloaded", "no memory for another event stream");
		return;
	}
	st->s = s;
	st->last_sent = time(NULL);
	pthread_mutex_lock(&s->ev.mu);
	st->next = s->ev.next;
	if (req->last_event_id) {
		char *end;
		unsigned long long last;

		errno = 0;
		last = strtoull(req->last_event_id, &end, 10);
		if (!errno && !*end && last < s->ev.next)
			st->next = last + 1;
	}
	/* a retry hint and an immediate first line, so the client sees the
	 * stream open before any event */
	st->len = (size_t)snprintf(st->buf, SSE_BUF, "retry: 2000\n: connected\n\n");
	pthread_mutex_unlock(&s->ev.mu);
	resp->status = 200;
	resp->content_type = "text/event-stream";
	resp->stream = sse_read;
	resp->stream_arg = st;
	resp->stream_free = free;
}
