/*
 * An acknowledged capture survives kill -9. Two clients send captures with
 * unique request_ids, each one after another; once enough have been
 * acknowledged the server is killed with SIGKILL while requests are still in
 * flight, then started again on the same store. Every acknowledged token must
 * be listed exactly once, no encounter may exist that nobody sent, a replay
 * of an acknowledged request_id must return its token, and a replay of a
 * request cut by the kill must resolve to exactly one encounter either way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENTS 2
#define ACKS_BEFORE_KILL 12 /* in all */
#define MAX_SENT 400

static e2e_world w;


struct client {
	int index;
	int nacked;
	char rid[MAX_SENT][32];
	char token[MAX_SENT][128]; /* "" until acknowledged */
	int cut;                   /* 1: the last request got no reply */
	long odd_status;           /* a reply other than 200, if any */
	char odd_body[256];
};

static struct client clients[CLIENTS];
static volatile int stop;
static int acked_total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *client_main(void *arg)
{
	struct client *c = arg;

	for (int i = 0; i < MAX_SENT && !stop; i++) {
		json_t *b, *j;
		char *txt;
		e2e_resp r;

		snprintf(c->rid[i], sizeof(c->rid[i]), "dur-%d-%04d", c->index, i);
		b = json_pack("{s:s,s:s}", "image", e2e_im->live[(c->index + i) % 2].b64, "request_id", c->rid[i]);
		txt = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		e2e_request_raw(&e2e_srv,
				&(e2e_req){ .method = "POST", .path = "/v1/captures", .cred = &w.device, .body = txt },
				&r);
		free(txt);
		if (r.status == 0) {
			c->cut = 1;
			e2e_resp_free(&r);
			break;
		}
		j = r.status == 200 ? json_object_get(r.json, "token") : NULL;
		if (!json_is_string(j)) {
			c->odd_status = r.status;
			snprintf(c->odd_body, sizeof(c->odd_body), "%s", r.body);
			e2e_resp_free(&r);
			break;
		}
		snprintf(c->token[i], sizeof(c->token[i]), "%s", json_string_value(j));
		c->nacked = i + 1;
		pthread_mutex_lock(&mu);
		acked_total++;
		pthread_mutex_unlock(&mu);
		e2e_resp_free(&r);
	}
	return NULL;
}

static void start_clients(pthread_t th[CLIENTS], int first_index)
{
	for (int k = 0; k < CLIENTS; k++) {
		clients[k].index = first_index + k;
		assert_int_equal(pthread_create(&th[k], NULL, client_main, &clients[k]), 0);
	}
}

/* Wait until the clients have ACKS_BEFORE_KILL acknowledgements between
 * them; -1, or the index of a client that met an odd status first (it has
 * stopped, so waiting on would be forever). */
static int wait_for_acks(void)
{
	for (;;) {
		int done;

		pthread_mutex_lock(&mu);
		done = acked_total >= ACKS_BEFORE_KILL;
		pthread_mutex_unlock(&mu);
		if (done)
			return -1;
		for (int k = 0; k < CLIENTS; k++)
			if (clients[k].odd_status)
				return k;
		usleep(2000);
	}
}

static void test_acknowledged_captures_survive_kill9(void **state)
{
	pthread_t th[CLIENTS];
	json_t *list, *r;
	int status, acked = 0, cut = 0, n;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	/* person 0 enrolled, person 1 a stranger: MATCH and NO_MATCH both */
	e2e_world_setup(&e2e_srv, &w, 1);

	start_clients(th, 0);
	int odd = wait_for_acks();
	if (odd >= 0) {
		stop = 1;
		for (int j = 0; j < CLIENTS; j++)
			pthread_join(th[j], NULL);
		fail_msg("client %d: capture answered %ld: %s", odd, clients[odd].odd_status, clients[odd].odd_body);
	}
	status = e2e_server_stop(&e2e_srv, SIGKILL);
	stop = 1;
	for (int k = 0; k < CLIENTS; k++)
		pthread_join(th[k], NULL);
	assert_int_equal(status, 128 + SIGKILL);
	for (int k = 0; k < CLIENTS; k++) {
		if (clients[k].odd_status)
			fail_msg("client %d: capture answered %ld: %s", k, clients[k].odd_status, clients[k].odd_body);
		acked += clients[k].nacked;
		cut += clients[k].cut;
	}
	print_message("e2e: %d captures acknowledged, %d cut by the kill\n", acked, cut);
	assert_true(acked >= ACKS_BEFORE_KILL);

	/* the same store again */
	assert_int_equal(e2e_server_start(&e2e_srv, NULL), 0);
	e2e_world_relogin(&e2e_srv, &w);
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	n = (int)json_array_size(list);
	for (int k = 0; k < CLIENTS; k++)
		for (int i = 0; i < clients[k].nacked; i++) {
			int seen = e2e_count_token(list, clients[k].token[i]);

			if (seen != 1)
				fail_msg("acknowledged capture %s (token %s) is listed %d times after kill -9",
					 clients[k].rid[i], clients[k].token[i], seen);
		}
	/* nothing nobody sent: at most the requests the kill cut short */
	if (n < acked || n > acked + cut)
		fail_msg("%d encounters listed for %d acknowledged and %d cut requests", n, acked, cut);
	json_decref(list);

	/* replays: an acknowledged request_id answers its token */
	r = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, clients[0].rid[0]);
	assert_string_equal(e2e_jstr(r, "token"), clients[0].token[0]);
	json_decref(r);
	/* a request the kill cut: sent again, it is recorded exactly once */
	for (int k = 0; k < CLIENTS; k++) {
		char token[128];

		if (!clients[k].cut)
			continue;
		r = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[(k + clients[k].nacked) % 2], -1,
				clients[k].rid[clients[k].nacked]);
		snprintf(token, sizeof(token), "%s", e2e_jstr(r, "token"));
		json_decref(r);
		list = e2e_encounters(&e2e_srv, &w.officer, "all");
		assert_int_equal(e2e_count_token(list, token), 1);
		json_decref(list);
	}
	/* the replays added nothing beyond the cut ones' single records */
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	if ((int)json_array_size(list) != acked + cut)
		fail_msg("%zu encounters after the replays, expected %d", json_array_size(list), acked + cut);
	json_decref(list);
}

/* SIGTERM while captures are in flight: the server finishes what it took,
 * exits 0, and every acknowledged capture is stored exactly once. */
static void test_sigterm_drains(void **state)
{
	pthread_t th[CLIENTS];
	json_t *list;
	int status, acked = 0, before;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);
	if (!e2e_srv.pid)
		assert_int_equal(e2e_server_start(&e2e_srv, NULL), 0);
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	before = (int)json_array_size(list);
	json_decref(list);

	memset(clients, 0, sizeof(clients));
	stop = 0;
	acked_total = 0;
	start_clients(th, 10); /* request ids unlike the first test's */
	wait_for_acks();
	status = e2e_server_stop(&e2e_srv, SIGTERM);
	stop = 1;
	for (int k = 0; k < CLIENTS; k++)
		pthread_join(th[k], NULL);
	if (status != 0)
		fail_msg("SIGTERM under load: exit status %d (want 0; >1000: had to be killed)", status);
	for (int k = 0; k < CLIENTS; k++) {
		/* a 503 while stopping is fair; anything else is not */
		if (clients[k].odd_status && clients[k].odd_status != 503)
			fail_msg("client %d: capture answered %ld: %s", k, clients[k].odd_status, clients[k].odd_body);
		acked += clients[k].nacked;
	}

	assert_int_equal(e2e_server_start(&e2e_srv, NULL), 0);
	e2e_world_relogin(&e2e_srv, &w);
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	for (int k = 0; k < CLIENTS; k++)
		for (int i = 0; i < clients[k].nacked; i++)
			if (e2e_count_token(list, clients[k].token[i]) != 1)
				fail_msg("acknowledged capture %s is listed %d times after SIGTERM", clients[k].rid[i],
					 e2e_count_token(list, clients[k].token[i]));
	if ((int)json_array_size(list) < before + acked || (int)json_array_size(list) > before + acked + CLIENTS)
		fail_msg("%zu encounters after SIGTERM: %d before, %d acknowledged", json_array_size(list), before,
			 acked);
	json_decref(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acknowledged_captures_survive_kill9),
		cmocka_unit_test(test_sigterm_drains),
	};
	return E2E_RUN("e2e_durability", tests, e2e_group_setup, e2e_group_teardown);
}
