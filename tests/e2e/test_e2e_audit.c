/*
 * The audit log of a real server, from outside: the service's own actions
 * (logins, enrolments, decisions, image views with their purpose,
 * resolutions) are chained; an auditor exports and verifies them over HTTP;
 * and `tvs audit verify` reports an edited, deleted, inserted or reordered
 * row, each on its own copy of the stopped server's store, with the first
 * bad sequence number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "tvs/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static e2e_world w;

/* Copy the stopped server's store and key to DIR/NAME.db(.key). */
static void copy_store(const char *name, char out[256])
{
	char cmd[1024];

	snprintf(out, 256, "%s/%s.db", e2e_srv.dir, name);
	snprintf(cmd, sizeof(cmd), "cp %s %s && cp -p %s %s.key", e2e_srv.db, out, e2e_srv.key, out);
	assert_int_equal(system(cmd), 0);
}

static void sql(const char *db, const char *stmt)
{
	tvs_store_t *st;

	assert_int_equal(tvs_store_open(&st, db, 1), 0);
	if (tvs_store_exec(st, stmt, NULL, 0, NULL) != 0)
		fail_msg("%s: %s", stmt, "failed");
	tvs_store_close(st);
}

/* `tvs audit verify` on db: its JSON verdict; *status gets the exit status. */
static json_t *verify(const char *db, int *status)
{
	char cmd[512], line[2048];
	FILE *p;
	json_t *j;

	snprintf(cmd, sizeof(cmd), "%s audit verify --db %s", e2e_bin(), db);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	*status = pclose(p);
	j = json_loads(line, 0, NULL);
	if (!j)
		fail_msg("%s printed '%s'", cmd, line);
	return j;
}

static void expect_damage(const char *name, const char *const *stmts, const char *damage, json_int_t first_bad)
{
	char db[256];
	int st;
	json_t *j;

	copy_store(name, db);
	for (; *stmts; stmts++)
		sql(db, *stmts);
	j = verify(db, &st);
	if (json_is_true(json_object_get(j, "ok")) || st == 0)
		fail_msg("%s: tvs audit verify saw nothing (exit %d)", name, st);
	if (strcmp(e2e_jstr(j, "damage"), damage) != 0 || e2e_jint(j, "first_bad_seq") != first_bad)
		fail_msg("%s: want %s at %lld, got %s at %lld", name, damage, (long long)first_bad,
			 e2e_jstr(j, "damage"), (long long)e2e_jint(j, "first_bad_seq"));
	json_decref(j);
}

static int has_action(json_t *rows, const char *action)
{
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r)
		if (json_is_string(json_object_get(r, "action")) && !strcmp(e2e_jstr(r, "action"), action))
			return 1;
	return 0;
}

static void test_audit_chain(void **state)
{
	char path[128], db[256];
	json_t *j, *rows, *r;
	int st;
	size_t i;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, 2);
	json_decref(e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, NULL));
	json_decref(e2e_capture(&e2e_srv, &w.device, &e2e_im->live[3], -1, NULL)); /* a stranger: pending */
	j = e2e_encounters(&e2e_srv, &w.officer, "pending");
	snprintf(path, sizeof(path), "/v1/encounters/%lld/image?purpose=compare+at+the+gate",
		 (long long)e2e_jint(json_array_get(j, 0), "id"));
	json_decref(e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200));
	json_decref(j);

	/* the auditor's view: every kind of access is there, nothing biometric */
	j = e2e_call(&e2e_srv, "GET", "/v1/audit?limit=10000", &w.auditor, NULL, 200);
	rows = e2e_jarr(j, "rows");
	assert_true(json_array_size(rows) > 10);
	assert_true(has_action(rows, "login"));
	assert_true(has_action(rows, "portrait.enrol"));
	assert_true(has_action(rows, "capture.decision"));
	assert_true(has_action(rows, "image.view"));
	json_array_foreach(rows, i, r) {
		const char *keys[] = { "actor", "role", "action", "object", "purpose", "detail" };

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			json_t *v = json_object_get(r, keys[k]);

			if (json_is_string(v) && json_string_length(v) > 200)
				fail_msg("audit row %lld field %s is %zu bytes: what is in it?",
					 (long long)e2e_jint(r, "seq"), keys[k], json_string_length(v));
		}
		if (!strcmp(e2e_jstr(r, "action"), "image.view"))
			assert_string_equal(e2e_jstr(r, "purpose"), "compare at the gate");
	}
	json_decref(j);

	/* filtered on the server: only the rows asked for, in pages */
	{
		json_int_t after = 0, pages = 0, seen = 0, views = 0;

		j = e2e_call(&e2e_srv, "GET", "/v1/audit?action=image.view&actor=user%3Aofficer1", &w.auditor, NULL, 200);
		rows = e2e_jarr(j, "rows");
		assert_int_equal(json_array_size(rows), 1);
		assert_int_equal(strncmp(e2e_jstr(json_array_get(rows, 0), "object"), "encounter:", 10), 0);
		json_decref(j);
		j = e2e_call(&e2e_srv, "GET", "/v1/audit?action=image.view&actor=user%3Aauditor1", &w.auditor, NULL, 200);
		assert_int_equal(json_array_size(e2e_jarr(j, "rows")), 0);
		json_decref(j);
		/* every capture.decision row, one page each */
		do {
			char page[160];

			snprintf(page, sizeof(page), "/v1/audit?action=capture.decision&limit=1&after_seq=%lld", (long long)after);
			j = e2e_call(&e2e_srv, "GET", page, &w.auditor, NULL, 200);
			json_array_foreach(e2e_jarr(j, "rows"), i, r)
			{
				assert_string_equal(e2e_jstr(r, "action"), "capture.decision");
				assert_true(e2e_jint(r, "seq") > after);
				seen++;
			}
			pages++;
			after = json_is_true(json_object_get(j, "truncated")) ? e2e_jint(j, "next_after_seq") : -1;
			json_decref(j);
		} while (after >= 0 && pages < 100);
		j = e2e_call(&e2e_srv, "GET", "/v1/audit?limit=10000", &w.auditor, NULL, 200);
		json_array_foreach(e2e_jarr(j, "rows"), i, r)
			views += !strcmp(e2e_jstr(r, "action"), "capture.decision");
		json_decref(j);
		assert_int_equal(seen, views);
		assert_true(pages >= 2);
	}
	{
		/* a filter too long, empty, or a bad number: 400, not "no filter" */
		static const char *const bad[] = {
			"/v1/audit?actor=", "/v1/audit?after_seq=-1", "/v1/audit?limit=12abc", "/v1/audit?after_seq=x",
			"/v1/audit?after_seq=99999999999999999999999999999999999999",
		};
		char longq[1200];
		e2e_resp br;

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			e2e_request(&e2e_srv, &(e2e_req){ .path = bad[k], .cred = &w.auditor }, &br);
			e2e_check_error(&br, 400, "invalid_query", bad[k]);
			e2e_resp_free(&br);
		}
		snprintf(longq, sizeof(longq), "/v1/audit?object=%0*d", 900, 7);
		e2e_request(&e2e_srv, &(e2e_req){ .path = longq, .cred = &w.auditor }, &br);
		e2e_check_error(&br, 400, "invalid_query", "a 900-character object filter");
		e2e_resp_free(&br);
	}
	j = e2e_call(&e2e_srv, "GET", "/v1/audit/verify", &w.auditor, NULL, 200);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);

	/* stopped, the store verifies from the command line */
	assert_int_equal(e2e_server_stop(&e2e_srv, SIGTERM), 0);
	if (e2e_srv.pg) {
		/* the tampering below edits copies of a database file */
		print_message("[ SKIP     ] e2e_audit: tampering with copies needs the SQLite file\n");
		return;
	}
	copy_store("intact", db);
	j = verify(db, &st);
	assert_int_equal(st, 0);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_true(e2e_jint(j, "rows") > 10);
	json_decref(j);

	/* each tamper on its own copy: the kind and the first bad seq */
	expect_damage("edited", (const char *const[]){ "UPDATE audit SET actor = 'user:nobody' WHERE seq = 5", NULL },
		      "changed", 5);
	expect_damage("deleted", (const char *const[]){ "DELETE FROM audit WHERE seq = 6", NULL }, "deleted", 6);
	expect_damage("inserted",
		      (const char *const[]){ "UPDATE audit SET seq = seq + 1000 WHERE seq > 7",
					     "UPDATE audit SET seq = seq - 999 WHERE seq > 1007",
					     "INSERT INTO audit (seq, at, actor, role, action, object, purpose, detail,"
					     " prev_hash, hash) SELECT 8, at, 'user:nobody', 'admin', 'login', NULL, NULL,"
					     " NULL, hash, hash FROM audit WHERE seq = 7",
					     "UPDATE audit_head SET seq = seq + 1", NULL },
		      "inserted", 8);
	expect_damage("reordered",
		      (const char *const[]){ "UPDATE audit SET seq = -1 WHERE seq = 9",
					     "UPDATE audit SET seq = 9 WHERE seq = 10",
					     "UPDATE audit SET seq = 10 WHERE seq = -1", NULL },
		      "reordered", 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_chain),
	};
	return E2E_RUN("e2e_audit", tests, e2e_group_setup, e2e_group_teardown);
}
