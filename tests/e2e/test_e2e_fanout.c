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

/* ------------------------------------------------------------ the test */

static void test_event_from_b_reaches_a(void **state)
{
	static e2e_sse st;
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
	e2e_sse_start(&st, &e2e_srv, &w.officer, "encounter", &th);
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
