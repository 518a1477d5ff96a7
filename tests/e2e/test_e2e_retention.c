/*
 * Retention by traveler category, with a moved clock: a server of country
 * UTO (so UTO nationals are citizens) with its scheduler off, and
 * `tvs retention run --now T` as the clock. Through the API:
 *   - a citizen's match keeps no photo at all (confirmed at capture);
 *   - a non-citizen's match is kept, still there after 13 h and after 74
 *     years, and gone (with its record) after 76;
 *   - an unresolved no-match is held past 12 h and past 76 years, and a
 *     resolution that finds a citizen purges it with the resolution;
 *   - after a purge, the ciphertext copied out beforehand cannot be opened,
 *     even with the master key: its data key was shredded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "tvs/error.h"
#include "tvs/store.h"
#include "tvs/vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600
#define YEAR INT64_C(31557600)

static e2e_world w;

static int setup(void **state)
{
	static const char *const extra[] = { "--country", "UTO", "--retention-interval", "0", NULL };

	(void)state;
	if (e2e_missing())
		return 0;
	e2e_im = e2e_images_get();
	e2e_nationality[2] = "FRA"; /* person 2 is the one non-citizen */
	if (!e2e_im || e2e_server_init(&e2e_srv) || e2e_server_start(&e2e_srv, extra))
		return -1;
	return 0;
}

/* `tvs retention SUB --db ... --now T`, its JSON output parsed. */
static json_t *retention(const char *sub, int64_t now)
{
	char cmd[1024], line[4096];
	FILE *p;
	json_t *j;

	snprintf(cmd, sizeof(cmd), "%s retention %s --db '%s' --key-file %s --now %lld", e2e_bin(), sub, e2e_srv.db,
		 e2e_srv.key, (long long)now);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	j = json_loads(line, 0, NULL);
	if (!j)
		fail_msg("%s printed %s", cmd, line);
	return j;
}

static long image_status(json_int_t id)
{
	char path[96];
	e2e_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/encounters/%lld/image?purpose=retention+test", (long long)id);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.officer }, &r);
	st = r.status;
	e2e_resp_free(&r);
	return st;
}

/* The newest encounter's id (the one just captured). */
static json_int_t newest(void)
{
	json_t *all = e2e_encounters(&e2e_srv, &w.officer, "all");
	json_int_t id = e2e_jint(json_array_get(all, 0), "id");

	json_decref(all);
	return id;
}

/* The category row of the retention report. */
static json_t *category(json_t *report, const char *name)
{
	json_t *cats = e2e_jarr(report, "categories"), *c;
	size_t i;

	json_array_foreach(cats, i, c)
		if (json_is_string(json_object_get(c, "category")) && !strcmp(e2e_jstr(c, "category"), name))
			return c;
	return NULL;
}

/* The sealed image and its key id, as stored, read from the database file. */
static void copy_sealed(json_int_t id, uint8_t **ct, size_t *n, int64_t *key)
{
	tvs_store_t *st;
	tvs_rows r = { 0 };
	const void *p;

	assert_int_equal(tvs_store_open(&st, e2e_srv.db, 1), 0);
	assert_int_equal(tvs_store_query(st, "SELECT image, image_key FROM encounters WHERE id = ?",
					 (tvs_val[]){ TVS_VINT(id) }, 1, &r),
			 0);
	assert_int_equal(r.nrows, 1);
	p = tvs_rows_blob(&r, 0, 0, n);
	assert_non_null(p);
	*ct = malloc(*n);
	memcpy(*ct, p, *n);
	*key = tvs_rows_int(&r, 0, 1);
	tvs_rows_free(&r);
	tvs_store_close(st);
}

/* Open ct with the master key: rc. */
static int open_with_master(int64_t key, const uint8_t *ct, size_t n)
{
	char kf[160];
	tvs_vault_t *v;
	tvs_store_t *st;
	tvs_tx_t *tx;
	uint8_t *plain = NULL;
	size_t len = 0;
	int rc;

	snprintf(kf, sizeof(kf), "%s", e2e_srv.key);
	assert_int_equal(tvs_vault_open(&v, kf), 0);
	assert_int_equal(tvs_store_open(&st, e2e_srv.db, 1), 0);
	assert_int_equal(tvs_store_begin(st, 0, &tx), 0);
	rc = tvs_vault_open_sealed(v, tx, key, ct, n, &plain, &len);
	tvs_vault_free_plain(plain, len);
	tvs_tx_rollback(tx);
	tvs_store_close(st);
	tvs_vault_destroy(v);
	return rc;
}

static void test_retention_by_category(void **state)
{
	json_int_t citizen, foreign, stranger;
	int64_t t0 = e2e_now();
	uint8_t *ct_foreign, *ct_stranger;
	size_t n_foreign, n_stranger;
	int64_t key_foreign, key_stranger;
	json_t *j, *rep;
	char path[96];

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, 3);

	j = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, NULL);
	assert_string_equal(e2e_jstr(j, "decision"), "MATCH");
	json_decref(j);
	citizen = newest();
	j = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[2], -1, NULL);
	assert_string_equal(e2e_jstr(j, "decision"), "MATCH");
	json_decref(j);
	foreign = newest();
	j = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[4], -1, NULL);
	assert_string_equal(e2e_jstr(j, "decision"), "NO_MATCH");
	json_decref(j);
	stranger = newest();

	/* at capture: the citizen's photo never reached the store */
	assert_int_equal(image_status(citizen), 404);
	assert_int_equal(image_status(foreign), 200);
	assert_int_equal(image_status(stranger), 200);
	rep = e2e_call(&e2e_srv, "GET", "/v1/reports/retention", &w.supervisor, NULL, 200);
	assert_string_equal(e2e_jstr(rep, "rule_set"), "final-2025");
	assert_non_null(category(rep, "citizen"));
	assert_int_equal(e2e_jint(category(rep, "citizen"), "with_biometrics"), 0);
	assert_int_equal(e2e_jint(category(rep, "non_citizen_matched"), "with_biometrics"), 1);
	assert_int_equal(e2e_jint(category(rep, "no_match_unresolved"), "with_biometrics"), 1);
	assert_true(json_is_true(json_object_get(category(rep, "no_match_unresolved"), "held_until_resolved")));
	json_decref(rep);
	/* each encounter carries what it was judged under and its deadlines */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)stranger);
	j = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_string_equal(e2e_jstr(json_object_get(j, "retention"), "rule_set"), "final-2025");
	assert_string_equal(e2e_jstr(json_object_get(j, "retention"), "category"), "no_match_unresolved");
	assert_string_equal(e2e_jstr(json_object_get(j, "retention"), "biometrics_purge_at"), "held");
	assert_string_equal(e2e_jstr(j, "notice_version"), "v1");
	json_decref(j);
	copy_sealed(foreign, &ct_foreign, &n_foreign, &key_foreign);
	copy_sealed(stranger, &ct_stranger, &n_stranger, &key_stranger);
	assert_int_equal(open_with_master(key_foreign, ct_foreign, n_foreign), 0); /* the check can succeed */

	/* 13 h later: nothing is due; the no-match is held past any 12 h */
	j = retention("run", t0 + 13 * HOUR);
	assert_int_equal(e2e_jint(j, "biometrics_purged"), 0);
	assert_int_equal(e2e_jint(j, "records_purged"), 0);
	json_decref(j);
	assert_int_equal(image_status(foreign), 200);
	assert_int_equal(image_status(stranger), 200);

	/* the officer's document check finds a citizen: purged with the resolution */
	snprintf(path, sizeof(path), "/v1/encounters/%lld/resolve", (long long)stranger);
	json_decref(e2e_call(&e2e_srv, "POST", path, &w.officer,
			     json_pack("{s:s,s:s,s:s}", "outcome", "verified", "citizen", "yes", "note",
				       "manual document check: a citizen"),
			     200));
	assert_int_equal(image_status(stranger), 404);
	if (open_with_master(key_stranger, ct_stranger, n_stranger) != TVS_ENOTFOUND)
		fail_msg("a purged capture still opens with the master key");

	/* 74 years on: the citizen's and the resolved no-match's event rows
	 * (2-year term) are gone, the non-citizen's match is still kept; at 76
	 * it is gone too */
	j = retention("run", t0 + 74 * YEAR);
	assert_int_equal(e2e_jint(j, "records_purged"), 2);
	json_decref(j);
	assert_int_equal(image_status(foreign), 200);
	j = retention("run", t0 + 76 * YEAR);
	assert_int_equal(e2e_jint(j, "records_purged"), 1);
	json_decref(j);
	assert_int_equal(image_status(foreign), 404);
	if (open_with_master(key_foreign, ct_foreign, n_foreign) != TVS_ENOTFOUND)
		fail_msg("a purged record's capture still opens with the master key");
	rep = retention("report", t0 + 76 * YEAR);
	assert_null(category(rep, "non_citizen_matched"));
	json_decref(rep);
	free(ct_foreign);
	free(ct_stranger);
}

/* A new notice in force makes every location posting the old one stale; a
 * location that posts none is missing. */
static void test_notice_report(void **state)
{
	json_t *j, *locs, *l;
	size_t i, seen = 0;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	if (!w.admin.header[0])
		skip();
	j = e2e_call(&e2e_srv, "GET", "/v1/reports/notices", &w.auditor, NULL, 200);
	assert_string_equal(e2e_jstr(j, "notice_in_force"), "v1");
	assert_int_equal(e2e_jint(j, "stale"), 0);
	json_decref(j);
	json_decref(e2e_call(&e2e_srv, "POST", "/v1/locations", &w.admin,
			     json_pack("{s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", "Z9", "name", "No notice",
				       "kind", "boarding_gate", "direction", "exit"),
			     201));
	json_decref(e2e_call(&e2e_srv, "POST", "/v1/notices", &w.admin,
			     json_pack("{s:s,s:s}", "version", "v2", "text", "A newer notice."), 201));
	j = e2e_call(&e2e_srv, "GET", "/v1/reports/notices", &w.auditor, NULL, 200);
	assert_string_equal(e2e_jstr(j, "notice_in_force"), "v2");
	assert_int_equal(e2e_jint(j, "missing"), 1);
	assert_true(e2e_jint(j, "stale") >= 1);
	locs = e2e_jarr(j, "locations");
	json_array_foreach(locs, i, l) {
		if (!strcmp(e2e_jstr(l, "code"), "Z9"))
			assert_string_equal(e2e_jstr(l, "status"), "missing"), seen++;
		if (!strcmp(e2e_jstr(l, "code"), E2E_LOC_CODE))
			assert_string_equal(e2e_jstr(l, "status"), "stale"), seen++;
	}
	assert_int_equal(seen, 2);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retention_by_category),
		cmocka_unit_test(test_notice_report),
	};
	return E2E_RUN("e2e_retention", tests, setup, e2e_group_teardown);
}
