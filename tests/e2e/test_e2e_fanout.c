/*
 * Events across nodes: two `tvs serve` on one PostgreSQL schema and master
 * key. The world is made through node A; node B builds the gallery itself
 * (POST /v1/manifests/{id}/gallery); an officer's event stream on A must show
 * the encounter of a capture posted to B, which reaches A only through
 * NOTIFY tvs_events and A's listener, carrying an SSE id of A's numbering.
 *
 * PostgreSQL only: the SQLite pass skips (one file, one node).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NENROLLED 2

static e2e_server node_b;
static e2e_world w;

/* ------------------------------------------------------------ one event stream */

struct sse {
	e2e_server *s;
	const e2e_cred *cred;
	const char *want;  /* event type to wait for */
	volatile int open; /* the first bytes arrived */
	volatile int done; /* the wanted event arrived */
	long status;
	char buf[1 << 16];
	size_t n;
	char id[32], data[4096];
};

/* Parse the complete events in st->buf; 1 when the wanted one is found. */
static int sse_scan(struct sse *st)
{
	char *p = st->buf, *end;

	while ((end = strstr(p, "\n\n"))) {
		char id[32] = "", ev[32] = "message", data[4096] = "";

		*end = '\0';
		for (char *line = p, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			if (!strncmp(line, "id:", 3))
				snprintf(id, sizeof(id), "%s", line + 3 + (line[3] == ' '));
			else if (!strncmp(line, "event:", 6))
				snprintf(ev, sizeof(ev), "%s", line + 6 + (line[6] == ' '));
			else if (!strncmp(line, "data:", 5))
				snprintf(data + strlen(data), sizeof(data) - strlen(data), "%s", line + 5 + (line[5] == ' '));
		}
		p = end + 2;
		if (!strcmp(ev, st->want) && data[0]) {
			snprintf(st->id, sizeof(st->id), "%s", id);
			snprintf(st->data, sizeof(st->data), "%s", data);
			return 1;
		}
	}
	memmove(st->buf, p, strlen(p) + 1);
	st->n = strlen(st->buf);
	return 0;
}

static size_t sse_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sse *st = arg;
	size_t n = size * nmemb;

	st->open = 1;
	if (st->n + n >= sizeof(st->buf))
		return 0;
	memcpy(st->buf + st->n, data, n);
	st->n += n;
	st->buf[st->n] = '\0';
	if (sse_scan(st)) {
		st->done = 1;
		return 0; /* enough: cut the stream */
	}
	return n;
}

static void *sse_thread(void *arg)
{
	struct sse *st = arg;
	struct curl_slist *hl = NULL;
	char url[256];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/events", st->s->port);
	hl = curl_slist_append(hl, st->cred->header);
	hl = curl_slist_append(hl, "Accept: text/event-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L); /* a hang guard, not a timing check */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st->status);
	st->open = 1;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return NULL;
}

/* ------------------------------------------------------------ the test */

static void test_event_from_b_reaches_a(void **state)
{
	static struct sse st;
	char path[96];
	json_t *r, *data;
	pthread_t th;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	if (!e2e_srv.pg) {
		print_message("[ SKIP     ] e2e_fanout: several nodes need PostgreSQL\n");
		skip();
	}
	e2e_world_setup(&e2e_srv, &w, NENROLLED);
	assert_int_equal(e2e_server_init_like(&node_b, &e2e_srv), 0);
	assert_int_equal(e2e_server_start(&node_b, NULL), 0);

	/* B builds the gallery it will search */
	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)w.manifest_id);
	r = e2e_call(&node_b, "POST", path, &w.repo, NULL, 200);
	assert_string_equal(e2e_jstr(r, "status"), "ready");
	json_decref(r);

	/* an officer watches A; a traveler is photographed at B */
	st.s = &e2e_srv;
	st.cred = &w.officer;
	st.want = "encounter";
	assert_int_equal(pthread_create(&th, NULL, sse_thread, &st), 0);
	for (int i = 0; i < 60 * 100 && !st.open; i++)
		usleep(10 * 1000); /* until the stream is open (a startup wait) */
	assert_true(st.open);
	r = e2e_capture(&node_b, &w.device, &e2e_im->live[0], -1, NULL);
	assert_string_equal(e2e_jstr(r, "decision"), "MATCH");
	json_decref(r);
	pthread_join(th, NULL);
	if (!st.done)
		fail_msg("GET /v1/events on node A: no encounter event from node B (status %ld)", st.status);
	assert_int_equal(st.status, 200);
	data = json_loads(st.data, 0, NULL);
	assert_true(json_is_object(data));
	assert_true(json_is_integer(json_object_get(data, "id")));
	assert_int_equal(e2e_jint(data, "location_id"), w.loc_id);
	assert_string_equal(e2e_jstr(data, "decision"), "MATCH");
	json_decref(data);
	assert_true(atoll(st.id) > 0); /* an id of A's ring, for Last-Event-ID on A */
}

static int teardown(void **state)
{
	e2e_server_cleanup(&node_b);
	return e2e_group_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_from_b_reaches_a),
	};
	return E2E_RUN("e2e_fanout", tests, e2e_group_setup, teardown);
}
