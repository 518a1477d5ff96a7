/*
 * Two nodes, one PostgreSQL: node A is the harness's server, node B a second
 * `tvs serve` on the same schema and master key, started before anything is
 * built so that nothing reaches B's memory at start.
 *
 * - A gallery built through A serves a capture through B (B loads it from
 *   the store on demand).
 * - A portrait added through A for the manifest's traveler who had none
 *   queues a rebuild (a job any node's gallery worker claims); B matches
 *   the newcomer once it is built, without anyone asking it to build.
 * - An explicit rebuild through B is seen by A on its next capture.
 * - Two retention runs at once on the same due records (two `tvs retention
 *   run` processes, as two nodes would) purge each record exactly once.
 *
 * SQLite is one file on one machine: the tests skip on that pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NENROLLED 3
#define NEWCOMER NENROLLED /* a face on no manifest: the portrait given to the unportrayed traveler */

static e2e_server node_b;
static e2e_world w;

#define REQUIRE_PG()                                                                             \
	do {                                                                                     \
		E2E_REQUIRE(&e2e_srv);                                                           \
		if (!e2e_srv.pg) {                                                               \
			print_message("[ SKIP     ] e2e_nodes: several nodes need PostgreSQL\n"); \
			skip();                                                                  \
		}                                                                                \
	} while (0)

static const char *decision_of(e2e_server *s, const e2e_img *img)
{
	static char d[32];
	json_t *r = e2e_capture(s, &w.device, img, -1, NULL);

	snprintf(d, sizeof(d), "%s", e2e_jstr(r, "decision"));
	json_decref(r);
	return d;
}

static void test_gallery_on_demand(void **state)
{
	char path[96];
	json_t *r, *before, *after;

	(void)state;
	REQUIRE_PG();
	assert_int_equal(e2e_server_init_like(&node_b, &e2e_srv), 0);
	assert_int_equal(e2e_server_start(&node_b, NULL), 0);

	e2e_world_setup(&e2e_srv, &w, NENROLLED); /* through A, its gallery too */
	for (int i = 0; i < NENROLLED; i++)
		assert_string_equal(decision_of(&node_b, &e2e_im->live[i]), "MATCH");
	assert_string_equal(decision_of(&e2e_srv, &e2e_im->live[0]), "MATCH");
	assert_string_equal(decision_of(&node_b, &e2e_im->live[NEWCOMER]), "NO_MATCH");

	/* the traveler without a portrait gets one, through A: that queues a
	 * rebuild, which a node's gallery worker claims; B, which built
	 * nothing, then catches up on its next capture */
	before = e2e_gallery_wait(&node_b, &w.officer, w.manifest_id, NENROLLED);
	r = e2e_call(&e2e_srv, "POST", "/v1/portraits", &w.repo,
		     json_pack("{s:o,s:s,s:s}", "document", e2e_document(w.unportrayed), "source", "passport", "image",
			       e2e_im->portrait[NEWCOMER].b64),
		     201);
	json_decref(r);
	after = e2e_gallery_wait(&node_b, &w.officer, w.manifest_id, NENROLLED + 1);
	assert_true(strcmp(e2e_jstr(after, "built_at"), e2e_jstr(before, "built_at")) >= 0);
	assert_string_equal(decision_of(&node_b, &e2e_im->live[NEWCOMER]), "MATCH");
	assert_string_equal(decision_of(&e2e_srv, &e2e_im->live[NEWCOMER]), "MATCH");
	json_decref(before);
	json_decref(after);

	/* an explicit rebuild through B; A's copy is then older, and it
	 * catches up on its next capture */
	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)w.manifest_id);
	r = e2e_call(&node_b, "POST", path, &w.repo, NULL, 200);
	assert_int_equal(e2e_jint(r, "size"), NENROLLED + 1);
	assert_int_equal(e2e_jint(r, "missing"), 0);
	json_decref(r);
	assert_string_equal(decision_of(&node_b, &e2e_im->live[NEWCOMER]), "MATCH");
	assert_string_equal(decision_of(&e2e_srv, &e2e_im->live[NEWCOMER]), "MATCH");
	assert_string_equal(decision_of(&e2e_srv, &e2e_im->live[1]), "MATCH");
}

/* Start `tvs retention run --now now` on the shared store; read with
 * run_read. */
static FILE *run_start(int64_t now)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s retention run --db '%s' --key-file %s --now %lld", e2e_bin(), e2e_srv.db,
		 e2e_srv.key, (long long)now);
	p = popen(cmd, "r");
	assert_non_null(p);
	return p;
}

static json_t *run_read(FILE *p)
{
	char line[4096];
	json_t *j;

	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	j = json_loads(line, 0, NULL);
	if (!j)
		fail_msg("tvs retention run printed %s", line);
	return j;
}

static void test_retention_on_two_nodes(void **state)
{
	int64_t far = e2e_now() + 100LL * 366 * 24 * 3600;
	json_t *enc, *a, *b;
	size_t before, after;
	json_int_t recs;
	FILE *pa, *pb;

	(void)state;
	REQUIRE_PG();
	enc = e2e_encounters(&e2e_srv, &w.officer, "all");
	before = json_array_size(enc);
	json_decref(enc);
	assert_true(before > 0);

	pa = run_start(far);
	pb = run_start(far);
	a = run_read(pa);
	b = run_read(pb);
	recs = e2e_jint(a, "records_purged") + e2e_jint(b, "records_purged");
	print_message("e2e_nodes: retention purged %lld + %lld records (%lld + %lld images) of %zu encounters\n",
		      (long long)e2e_jint(a, "records_purged"), (long long)e2e_jint(b, "records_purged"),
		      (long long)e2e_jint(a, "biometrics_purged"), (long long)e2e_jint(b, "biometrics_purged"),
		      before);
	json_decref(a);
	json_decref(b);

	enc = e2e_encounters(&e2e_srv, &w.officer, "all");
	after = json_array_size(enc);
	json_decref(enc);
	assert_true(after < before);
	assert_int_equal(recs, (json_int_t)(before - after));
}

static int teardown(void **state)
{
	e2e_server_cleanup(&node_b);
	return e2e_group_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gallery_on_demand),
		cmocka_unit_test(test_retention_on_two_nodes),
	};
	return E2E_RUN("e2e_nodes", tests, e2e_group_setup, teardown);
}
