/*
 * The event bus behind GET /v1/events: a ring of the last SVC_EVENT_RING
 * events, each with a sequence number that is also its SSE id, so a console
 * that reconnects with Last-Event-ID misses nothing still in the ring.
 *
 * Each stream runs on its connection's own thread and waits on the bus's
 * condition variable at most a second at a time (the HTTP layer's contract),
 * sending a comment line every 15 s so proxies keep the connection open.
 * Events carry ids and decisions, never images or templates.
 *
 * Many nodes, one PostgreSQL. An officer at a console connected to node A
 * must see what node B decides, so on PostgreSQL every event published here
 * is also sent, after it is appended to this ring, with NOTIFY on channel
 * tvs_events as {"node","ns","seq","type","data"}: node is this process's
 * random id, ns the store's schema (deployments sharing a database ignore
 * each other). A listener thread (its own connection, not the pool's) takes
 * the other nodes' events and appends them to this ring as if raised here.
 * Each ring numbers what it appends, so the SSE id is "SEQ-NODE": the
 * number in this node's ring and this process's random node id. A console
 * that reconnects to the same node run gets what it missed from the ring; one
 * that lands on another node, on a restarted one (a new node id), or that
 * fell further behind than the ring holds, gets a "resync" event (no id) at
 * once and then this node's present: its cue to reload its lists from the
 * API, which are the truth. Fan-out is at most once: a NOTIFY that fails, or
 * an event sent while a listener's connection is down, is lost; when the
 * listener reconnects it appends a "resync" event saying so. The
 * callers publish after their transaction commits, so NOTIFY runs in a
 * statement of its own (tvs_store_notify with no transaction) and never
 * announces what did not happen.
 */
#include "svc_int.h"

#include <sodium.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSE_HEARTBEAT_S 15
#define SSE_BUF 8192
#define FANOUT_CHANNEL "tvs_events"
#define FANOUT_WAIT_MS 500 /* the listener looks at its stop flag this often */

/* A resync event: sent without an id, it is not in the ring. */
#define RESYNC(reason) "event: resync\ndata: {\"reason\":\"" reason "\"}\n\n"

void svc_events_init(struct svc_events *e)
{
	unsigned char id[8];

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->next = 1;
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(e->node, sizeof(e->node), id, sizeof(id));
}

void svc_events_free(struct svc_events *e)
{
	for (size_t i = 0; i < SVC_EVENT_RING; i++)
		free(e->ring[i].data);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
}

/* Append an event (txt owned, JSON text) to the ring and wake the streams. */
static void ring_append(struct svc_events *e, const char *type, char *txt, uint64_t *seq)
{
	struct svc_event *slot;

	pthread_mutex_lock(&e->mu);
	slot = &e->ring[e->next % SVC_EVENT_RING];
	free(slot->data);
	slot->data = txt;
	slot->seq = e->next++;
	snprintf(slot->type, sizeof(slot->type), "%s", type);
	if (seq)
		*seq = slot->seq;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void svc_event_publish(tvs_svc_t *s, const char *type, json_t *data)
{
	char *txt = data ? json_dumps(data, JSON_COMPACT) : NULL;
	struct svc_events *e = &s->ev;
	char *msg = NULL;
	uint64_t seq;

	if (!txt) {
		json_decref(data);
		return;
	}
	ring_append(e, type, txt, &seq);
	if (e->fanout) {
		json_t *m = json_pack("{s:s,s:s,s:I,s:s,s:O}", "node", e->node, "ns", e->ns, "seq", (json_int_t)seq,
				      "type", type, "data", data);

		msg = m ? json_dumps(m, JSON_COMPACT) : NULL;
		json_decref(m);
	}
	/* best effort: a payload too long, or a failed NOTIFY, leaves the event on this node alone */
	if (msg && strlen(msg) <= TVS_STORE_PAYLOAD_MAX)
		tvs_store_notify(e->fanout, NULL, FANOUT_CHANNEL, msg);
	free(msg);
	json_decref(data);
}

/* One notification from the channel: another node's event of our namespace
 * goes into the ring; anything else is dropped. */
static void fanout_take(struct svc_events *e, const char *payload)
{
	json_t *j = json_loads(payload, 0, NULL);
	const char *node = json_string_value(json_object_get(j, "node"));
	const char *ns = json_string_value(json_object_get(j, "ns"));
	const char *type = json_string_value(json_object_get(j, "type"));
	json_t *data = json_object_get(j, "data");
	char *txt;

	if (node && ns && type && json_is_object(data) && strcmp(node, e->node) && !strcmp(ns, e->ns) &&
	    strlen(type) < sizeof(e->ring[0].type) && (txt = json_dumps(data, JSON_COMPACT)))
		ring_append(e, type, txt, NULL);
	json_decref(j);
}

static void *fanout_listen(void *arg)
{
	struct svc_events *e = arg;
	char *buf = malloc(TVS_STORE_PAYLOAD_MAX + 1);

	while (buf && !atomic_load(&e->listen_stop)) {
		int got;

		if (tvs_listener_wait(e->listener, FANOUT_WAIT_MS, buf, TVS_STORE_PAYLOAD_MAX + 1, &got) < 0)
			continue; /* reconnecting: the wait has already waited */
		if (got == TVS_LISTEN_PAYLOAD) {
			fanout_take(e, buf);
		} else if (got == TVS_LISTEN_GAP) {
			char *txt = strdup("{\"reason\":\"events from other nodes may have been missed\"}");

			if (txt)
				ring_append(e, "resync", txt, NULL);
		}
	}
	free(buf);
	return NULL;
}

int svc_events_fanout_start(tvs_svc_t *s)
{
	struct svc_events *e = &s->ev;
	tvs_rows r;
	int rc;

	if (strcmp(tvs_store_backend(s->store), "postgresql"))
		return 0;
	rc = tvs_store_query(s->store, "SELECT current_schema()", NULL, 0, &r);
	if (!rc && !tvs_rows_text(&r, 0, 0))
		rc = tvs__err(TVS_EINVAL, "events: the store has no current schema");
	if (!rc)
		snprintf(e->ns, sizeof(e->ns), "%s", tvs_rows_text(&r, 0, 0));
	tvs_rows_free(&r);
	if (rc)
		return rc;
	if ((rc = tvs_store_listen(s->cfg.db_url, FANOUT_CHANNEL, &e->listener)) < 0)
		return tvs__err(rc, "events: listen: %s", tvs_errmsg());
	atomic_store(&e->listen_stop, 0);
	if (pthread_create(&e->listen_thread, NULL, fanout_listen, e)) {
		tvs_listener_close(e->listener);
		e->listener = NULL;
		return tvs__err(TVS_ENOMEM, "events: listener thread");
	}
	e->listening = 1;
	e->fanout = s->store;
	return 0;
}

void svc_events_fanout_stop(tvs_svc_t *s)
{
	struct svc_events *e = &s->ev;

	e->fanout = NULL;
	if (e->listening) {
		atomic_store(&e->listen_stop, 1);
		pthread_join(e->listen_thread, NULL); /* within FANOUT_WAIT_MS, or a reconnect's timeout */
		e->listening = 0;
	}
	tvs_listener_close(e->listener);
	e->listener = NULL;
}

/* The seq of a Last-Event-ID this node sent ("SEQ-NODE"): 0, or -1 when
 * another node or an earlier run of this one sent it, or it is no id of
 * ours. Called with the lock held. */
static int ring_id_parse(const struct svc_events *e, const char *id, uint64_t *seq)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(id, &end, 10);
	if (errno || end == id || *end != '-' || strcmp(end + 1, e->node) || v >= e->next)
		return -1;
	*seq = v;
	return 0;
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

	if (e->next > SVC_EVENT_RING && st->next < e->next - SVC_EVENT_RING) {
		st->next = e->next - SVC_EVENT_RING;
		st->len += (size_t)snprintf(st->buf + st->len, SSE_BUF - st->len, "%s",
					    RESYNC("the console fell further behind than this node keeps events"));
	}
	while (st->next < e->next) {
		const struct svc_event *ev = &e->ring[st->next % SVC_EVENT_RING];
		int n = snprintf(st->buf + st->len, SSE_BUF - st->len, "id: %llu-%s\nevent: %s\ndata: %s\n\n",
				 (unsigned long long)ev->seq, e->node, ev->type, ev->data);

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
	/* a retry hint and an immediate first line, so the client sees the
	 * stream open before any event */
	st->len = (size_t)snprintf(st->buf, SSE_BUF, "retry: 2000\n: connected\n\n");
	pthread_mutex_lock(&s->ev.mu);
	st->next = s->ev.next;
	if (req->last_event_id) {
		uint64_t last;

		if (ring_id_parse(&s->ev, req->last_event_id, &last))
			st->len += (size_t)snprintf(st->buf + st->len, SSE_BUF - st->len, "%s",
						    RESYNC("this node does not hold the events after the last one seen"));
		else
			st->next = last + 1; /* drain() says resync if those are gone */
	}
	pthread_mutex_unlock(&s->ev.mu);
	resp->status = 200;
	resp->content_type = "text/event-stream";
	resp->stream = sse_read;
	resp->stream_arg = st;
	resp->stream_free = free;
}
