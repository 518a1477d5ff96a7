/*
 * Unit tests for the hash-chained audit log (src/audit/audit.c).
 *
 * Each tamper test builds a fresh 1000-row log in memory, damages it with
 * plain SQL the way someone with write access to the database would, and
 * checks that verify names the right kind of damage at the right seq. Also:
 * the hash against an independent reference (Python's hashlib.blake2b over
 * the documented encoding), keyed versus unkeyed chains (an unkeyed chain
 * can be rewritten undetectably; a keyed one cannot without the key), the
 * limits on fields, NULL versus "", page boundaries, atomicity with the
 * caller's record, two writer threads, export and the access report.
 * Nothing here asserts on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_tmpdir.h"

#include "tvs/audit.h"
#include "tvs/error.h"
#include "tvs/store.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 1000
#define T0 INT64_C(1714521600) /* 2024-05-01T00:00:00Z */

static const uint8_t key[TVS_AUDIT_KEY_BYTES] = { 0x6b, 0x65, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
						  14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29 };
static const uint8_t other_key[TVS_AUDIT_KEY_BYTES] = { 0x6d, 0x61, 0x6c, 0x6c, 0x6f, 0x72, 0x79 };

static int make_tmpdir(void **state)
{
	(void)state;
	return tmpdir_make("test_audit") == 0 ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return tmpdir_remove();
}

/* ---- helpers ---- */

static void create_schema(tvs_store_t *s)
{
	for (int i = 0; i < TVS_AUDIT_SCHEMA_COUNT; i++)
		assert_int_equal(tvs_store_exec(s, tvs_audit_schema_sql[i], NULL, 0, NULL), 0);
}

static tvs_store_t *open_log(void)
{
	tvs_store_t *s = NULL;

	assert_int_equal(tvs_store_open(&s, "sqlite::memory:", 2), 0);
	create_schema(s);
	return s;
}

/* Entry i (1-based), the one fill() writes as seq i. */
static void make_entry(int i, tvs_audit_entry *e, char *actor, char *object, size_t cap)
{
	snprintf(actor, cap, i % 3 ? "device:%d" : "user:ana", i % 7);
	snprintf(object, cap, "encounter:%d", i);
	*e = (tvs_audit_entry){
		.at = T0 + 60 * (int64_t)(i - 1),
		.actor = actor,
		.role = i % 3 ? "device" : "officer",
		.action = i % 2 ? "capture" : "resolve",
		.object = object,
		.purpose = i % 5 ? "border check" : NULL,
		.detail = i % 2 ? "decision=match" : NULL,
	};
}

/* Append entries from+1..from+n, 100 to a transaction. */
static void fill_from(tvs_store_t *s, const uint8_t *k, int from, int n)
{
	for (int i = from + 1; i <= from + n;) {
		tvs_tx_t *tx;

		assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
		for (int j = 0; j < 100 && i <= from + n; j++, i++) {
			char actor[32], object[32];
			tvs_audit_entry e;
			int64_t seq = 0;

			make_entry(i, &e, actor, object, sizeof(actor));
			assert_int_equal(tvs_audit_append(tx, k, &e, &seq), 0);
			assert_int_equal(seq, i);
		}
		assert_int_equal(tvs_tx_commit(tx), 0);
	}
}

static tvs_store_t *make_log(const uint8_t *k, int n)
{
	tvs_store_t *s = open_log();

	fill_from(s, k, 0, n);
	return s;
}

static void sql(tvs_store_t *s, const char *q)
{
	if (tvs_store_exec(s, q, NULL, 0, NULL) != 0)
		fail_msg("%s: %s", q, tvs_errmsg());
}

static void expect_damage(tvs_store_t *s, const uint8_t *k, int kind, int64_t first_bad)
{
	tvs_audit_report r;

	assert_int_equal(tvs_audit_verify(s, k, &r), 0);
	if (r.kind != kind || r.first_bad_seq != first_bad)
		fail_msg("expected %s at %lld, got %s at %lld: %s", tvs_audit_damage_name(kind), (long long)first_bad,
			 tvs_audit_damage_name(r.kind), (long long)r.first_bad_seq, r.message);
	assert_int_equal(r.ok, kind == TVS_AUDIT_INTACT);
	assert_true(kind == TVS_AUDIT_INTACT ? r.message[0] == '\0' : r.message[0] != '\0');
}

static void expect_intact(tvs_store_t *s, const uint8_t *k, int64_t rows)
{
	tvs_audit_report r;

	assert_int_equal(tvs_audit_verify(s, k, &r), 0);
	if (!r.ok)
		fail_msg("not intact: %s at %lld: %s", tvs_audit_damage_name(r.kind), (long long)r.first_bad_seq,
			 r.message);
	assert_int_equal(r.kind, TVS_AUDIT_INTACT);
	assert_int_equal(r.rows, rows);
	assert_int_equal(r.verified, rows);
	assert_int_equal(r.last_seq, rows);
	assert_int_equal(r.head_seq, rows);
	assert_int_equal(r.first_bad_seq, 0);
}

static void head(tvs_store_t *s, int64_t *seq, uint8_t hash[32])
{
	tvs_rows r;
	size_t n;

	assert_int_equal(tvs_store_query(s, "SELECT seq, hash FROM audit_head", NULL, 0, &r), 0);
	assert_int_equal(r.nrows, 1);
	*seq = tvs_rows_int(&r, 0, 0);
	memcpy(hash, tvs_rows_blob(&r, 0, 1, &n), 32);
	assert_int_equal(n, 32);
	tvs_rows_free(&r);
}

static const char *text_or_null(const tvs_rows *r, size_t i, size_t c)
{
	return tvs_rows_is_null(r, i, c) ? NULL : tvs_rows_text(r, i, c);
}

/* What an attacker with write access does: rehash every row from seq from
 * on (with attacker_key, NULL for the public unkeyed function) onto the row
 * before it, and point audit_head at the new last hash. */
static void rechain(tvs_store_t *s, const uint8_t *attacker_key, int64_t from)
{
	tvs_val p = TVS_VINT(from - 1);
	uint8_t prev[32] = { 0 }, h[32];
	tvs_rows r;
	int64_t seq = 0;

	assert_int_equal(tvs_store_query(s,
					 "SELECT seq, at, actor, role, action, object, purpose, detail, hash FROM audit"
					 " WHERE seq >= ? ORDER BY seq",
					 &p, 1, &r),
			 0);
	for (size_t i = 0; i < r.nrows; i++) {
		tvs_audit_entry e = { .at = tvs_rows_int(&r, i, 1),
				      .actor = text_or_null(&r, i, 2),
				      .role = text_or_null(&r, i, 3),
				      .action = text_or_null(&r, i, 4),
				      .object = text_or_null(&r, i, 5),
				      .purpose = text_or_null(&r, i, 6),
				      .detail = text_or_null(&r, i, 7) };

		seq = tvs_rows_int(&r, i, 0);
		if (seq < from) { /* the untouched row before: chain onto it */
			memcpy(prev, tvs_rows_blob(&r, i, 8, NULL), 32);
			continue;
		}
		assert_int_equal(tvs_audit_compute_hash(attacker_key, prev, seq, &e, h), 0);
		tvs_val u[3] = { TVS_VBLOB(prev, 32), TVS_VBLOB(h, 32), TVS_VINT(seq) };
		assert_int_equal(tvs_store_exec(s, "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", u, 3, NULL),
				 0);
		memcpy(prev, h, 32);
	}
	tvs_rows_free(&r);
	tvs_val hd[2] = { TVS_VINT(seq), TVS_VBLOB(prev, 32) };
	assert_int_equal(tvs_store_exec(s, "UPDATE audit_head SET seq = ?, hash = ?", hd, 2, NULL), 0);
}

/* Move rows with seq >= from up by one (PRIMARY KEY safe). */
static void shift_up(tvs_store_t *s, int from)
{
	char q[128];

	snprintf(q, sizeof(q), "UPDATE audit SET seq = -seq - 1 WHERE seq >= %d", from);
	sql(s, q);
	sql(s, "UPDATE audit SET seq = -seq WHERE seq < 0");
}

static void swap_rows(tvs_store_t *s, int a, int b)
{
	char q[128];

	snprintf(q, sizeof(q), "UPDATE audit SET seq = -1 WHERE seq = %d", a);
	sql(s, q);
	snprintf(q, sizeof(q), "UPDATE audit SET seq = %d WHERE seq = %d", a, b);
	sql(s, q);
	snprintf(q, sizeof(q), "UPDATE audit SET seq = %d WHERE seq = -1", b);
	sql(s, q);
}

/* ---- the hash ---- */

static void hex32(const char *hex, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* Known answers from an independent implementation of the documented
 * encoding (Python hashlib.blake2b, digest_size=32): a change here breaks
 * every deployed log, so it must be deliberate. */
static void hash_known_answers(void **state)
{
	static const uint8_t zero[32];
	uint8_t k[32], h1[32], h2[32], want[32];
	tvs_audit_entry e1 = { T0, "device:12", "device", "capture", "encounter:7", NULL, "" };
	tvs_audit_entry e2 = { T0 + 1, "user:ana", NULL, "resolve", NULL, "border check", "caf\xc3\xa9" };

	(void)state;
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
	assert_int_equal(tvs_audit_compute_hash(k, zero, 1, &e1, h1), 0);
	hex32("c1f9e799b4fbef4bdcb29e7402b6f16b79d82fab0b8862719f4b36fcd06698de", want);
	assert_memory_equal(h1, want, 32);
	assert_int_equal(tvs_audit_compute_hash(NULL, h1, 2, &e2, h2), 0);
	hex32("a7a70c4edb51d172b93adb03ac5ce1194d6f6f64903f74cebb9b910f0e357271", want);
	assert_memory_equal(h2, want, 32);
	assert_int_equal(tvs_audit_compute_hash(k, NULL, 1, &e1, h1), TVS_EINVAL);
	assert_int_equal(tvs_audit_compute_hash(k, zero, 1, NULL, h1), TVS_EINVAL);
}

/* NULL and "" hash differently, and bytes cannot move between fields. */
static void null_and_empty_are_distinct(void **state)
{
	static const uint8_t zero[32];
	uint8_t a[32], b[32];
	tvs_audit_entry e = { T0, "device:1", NULL, "capture", NULL, NULL, NULL };

	(void)state;
	assert_int_equal(tvs_audit_compute_hash(key, zero, 1, &e, a), 0);
	e.role = "";
	assert_int_equal(tvs_audit_compute_hash(key, zero, 1, &e, b), 0);
	assert_memory_not_equal(a, b, 32);
	e.role = NULL;
	e.detail = "";
	assert_int_equal(tvs_audit_compute_hash(key, zero, 1, &e, b), 0);
	assert_memory_not_equal(a, b, 32);

	tvs_audit_entry x = { T0, "ab", "c", "act", NULL, NULL, NULL };
	tvs_audit_entry y = { T0, "a", "bc", "act", NULL, NULL, NULL };
	assert_int_equal(tvs_audit_compute_hash(key, zero, 1, &x, a), 0);
	assert_int_equal(tvs_audit_compute_hash(key, zero, 1, &y, b), 0);
	assert_memory_not_equal(a, b, 32);
	/* seq and at are bound too */
	assert_int_equal(tvs_audit_compute_hash(key, zero, 2, &x, b), 0);
	assert_memory_not_equal(a, b, 32);

	/* in the database: NULL role becomes '' */
	tvs_store_t *s = open_log();
	tvs_tx_t *tx;
	e = (tvs_audit_entry){ T0, "device:1", NULL, "capture", NULL, NULL, NULL };
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tvs_audit_append(tx, key, &e, NULL), 0);
	assert_int_equal(tvs_tx_commit(tx), 0);
	expect_intact(s, key, 3);
	sql(s, "UPDATE audit SET role = '' WHERE seq = 2");
	expect_damage(s, key, TVS_AUDIT_CHANGED, 2);
	sql(s, "UPDATE audit SET role = NULL WHERE seq = 2");
	expect_intact(s, key, 3);
	tvs_store_close(s);
}

/* ---- append ---- */

static void empty_and_small(void **state)
{
	tvs_store_t *s = open_log();
	tvs_audit_report r;
	tvs_rows rows;
	int64_t hs;
	uint8_t hh[32], zero[32] = { 0 };

	(void)state;
	expect_intact(s, key, 0);
	head(s, &hs, hh);
	assert_int_equal(hs, 0);
	assert_memory_equal(hh, zero, 32);

	fill_from(s, key, 0, 3);
	expect_intact(s, key, 3);
	assert_int_equal(tvs_store_query(s, "SELECT seq, actor, role, action, prev_hash, hash FROM audit ORDER BY seq",
					 NULL, 0, &rows),
			 0);
	assert_int_equal(rows.nrows, 3);
	assert_string_equal(tvs_rows_text(&rows, 0, 1), "device:1");
	assert_string_equal(tvs_rows_text(&rows, 2, 1), "user:ana");
	assert_memory_equal(tvs_rows_blob(&rows, 0, 4, NULL), zero, 32);
	assert_memory_equal(tvs_rows_blob(&rows, 1, 4, NULL), tvs_rows_blob(&rows, 0, 5, NULL), 32);
	assert_memory_equal(tvs_rows_blob(&rows, 2, 4, NULL), tvs_rows_blob(&rows, 1, 5, NULL), 32);
	head(s, &hs, hh);
	assert_int_equal(hs, 3);
	assert_memory_equal(hh, tvs_rows_blob(&rows, 2, 5, NULL), 32);
	tvs_rows_free(&rows);

	/* the schema script (for a migration) makes the same tables */
	tvs_store_t *m = NULL;
	tvs_migration mig = { 1, "audit", tvs_audit_schema_script, NULL };
	assert_int_equal(tvs_store_open(&m, "sqlite::memory:", 1), 0);
	assert_int_equal(tvs_store_migrate(m, &mig, 1), 0);
	fill_from(m, NULL, 0, 5);
	expect_intact(m, NULL, 5);
	tvs_store_close(m);

	assert_int_equal(tvs_audit_verify(NULL, key, &r), TVS_EINVAL);
	assert_int_equal(tvs_audit_verify(s, key, NULL), TVS_EINVAL);
	tvs_store_close(s);
}

static void field_limits(void **state)
{
	tvs_store_t *s = open_log();
	char big[TVS_AUDIT_MAX_FIELD + 2];
	tvs_tx_t *tx;
	tvs_audit_entry ok = { T0, "device:1", "device", "capture", "encounter:1", "border check", "note" };
	static const char *const bad_utf8[] = { "\xff", "a\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80" };
	int64_t seq;

	(void)state;
	memset(big, 'x', sizeof(big));
	big[TVS_AUDIT_MAX_FIELD] = '\0';
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	for (int f = 0; f < 6; f++) {
		tvs_audit_entry e = ok;
		const char **field[6] = { &e.actor, &e.role, &e.action, &e.object, &e.purpose, &e.detail };

		big[TVS_AUDIT_MAX_FIELD] = '\0'; /* 512 bytes: accepted */
		*field[f] = big;
		assert_int_equal(tvs_audit_append(tx, key, &e, NULL), 0);
		big[TVS_AUDIT_MAX_FIELD] = 'x'; /* 513: refused */
		big[TVS_AUDIT_MAX_FIELD + 1] = '\0';
		assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
		assert_non_null(strstr(tvs_errmsg(), "513"));
		for (size_t u = 0; u < sizeof(bad_utf8) / sizeof(bad_utf8[0]); u++) {
			*field[f] = bad_utf8[u];
			assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
		}
	}
	tvs_audit_entry e = ok;
	e.actor = NULL;
	assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
	e = ok;
	e.action = NULL;
	assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
	e = ok;
	e.at = -1;
	assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
	e.at = TVS_AUDIT_MAX_AT + 1;
	assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINVAL);
	e.at = TVS_AUDIT_MAX_AT;
	e.detail = "caf\xc3\xa9 \xf0\x9f\x9b\x82"; /* multi-byte UTF-8 is fine */
	assert_int_equal(tvs_audit_append(tx, key, &e, &seq), 0);
	assert_int_equal(seq, 7);
	assert_int_equal(tvs_audit_append(tx, key, NULL, NULL), TVS_EINVAL);
	assert_int_equal(tvs_audit_append(NULL, key, &ok, NULL), TVS_EINVAL);
	/* refusals ran no statement: the transaction commits what was good */
	assert_int_equal(tvs_tx_commit(tx), 0);
	expect_intact(s, key, 7);
	tvs_store_close(s);
}

/* The record and its audit row commit or roll back together. */
static void append_is_part_of_the_transaction(void **state)
{
	tvs_store_t *s = make_log(key, 5);
	tvs_audit_entry e = { T0, "device:1", "device", "capture", "encounter:9", NULL, NULL };
	tvs_tx_t *tx;
	tvs_rows r;
	int64_t seq;

	(void)state;
	sql(s, "CREATE TABLE records (id INTEGER PRIMARY KEY, audit_seq INTEGER)");
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO records (audit_seq) VALUES (NULL)", NULL, 0, NULL), 0);
	assert_int_equal(tvs_audit_append(tx, key, &e, &seq), 0);
	assert_int_equal(seq, 6);
	tvs_tx_rollback(tx);
	expect_intact(s, key, 5);
	assert_int_equal(tvs_store_query(s, "SELECT count(*) FROM records", NULL, 0, &r), 0);
	assert_int_equal(tvs_rows_int(&r, 0, 0), 0);
	tvs_rows_free(&r);

	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_audit_append(tx, key, &e, &seq), 0);
	assert_int_equal(seq, 6); /* the rolled-back seq is reused: no gap */
	assert_int_equal(tvs_tx_commit(tx), 0);
	expect_intact(s, key, 6);
	tvs_store_close(s);
}

/* Append refuses to extend a log whose head is not its newest row. */
static void append_refuses_a_damaged_head(void **state)
{
	static const char *const tamper[] = {
		"UPDATE audit_head SET hash = randomblob(32)",
		"UPDATE audit_head SET seq = seq - 1",
		"DELETE FROM audit_head",
		"DELETE FROM audit WHERE seq = 10",
		("INSERT INTO audit SELECT seq + 1, at, actor, role, action, object, purpose, detail, hash,"
		 " randomblob(32) FROM audit WHERE seq = 10"),
	};
	tvs_audit_entry e = { T0, "device:1", NULL, "capture", NULL, NULL, NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		tvs_store_t *s = make_log(key, 10);
		tvs_tx_t *tx;

		sql(s, tamper[i]);
		assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
		assert_int_equal(tvs_audit_append(tx, key, &e, NULL), TVS_EINTEGRITY);
		assert_non_null(strstr(tvs_errmsg(), "audit_head"));
		tvs_tx_rollback(tx);
		tvs_store_close(s);
	}
}

/* ---- verify: intact ---- */

static void intact_log_verifies(void **state)
{
	tvs_store_t *s = make_log(key, N);
	tvs_audit_report r;

	(void)state;
	expect_intact(s, key, N);
	/* another key, or none, does not */
	assert_int_equal(tvs_audit_verify(s, other_key, &r), 0);
	assert_false(r.ok);
	assert_int_equal(r.kind, TVS_AUDIT_CHANGED);
	assert_int_equal(r.first_bad_seq, 1);
	assert_non_null(strstr(r.message, "key"));
	assert_int_equal(r.rows, N);
	assert_int_equal(r.verified, 0);
	expect_damage(s, NULL, TVS_AUDIT_CHANGED, 1);
	tvs_store_close(s);

	s = make_log(NULL, N);
	expect_intact(s, NULL, N);
	expect_damage(s, key, TVS_AUDIT_CHANGED, 1);
	tvs_store_close(s);
}

/* ---- verify: each kind of tampering ---- */

static void changed_row(void **state)
{
	static const char *const tamper[] = {
		"UPDATE audit SET detail = 'decision=no_match' WHERE seq = 500",
		"UPDATE audit SET detail = '' WHERE seq = 500", /* NULL -> '' */
		"UPDATE audit SET role = NULL WHERE seq = 500",
		"UPDATE audit SET purpose = '' WHERE seq = 500", /* NULL -> '' */
		"UPDATE audit SET actor = 'device:4' WHERE seq = 500",
		"UPDATE audit SET at = at + 1 WHERE seq = 500",
		"UPDATE audit SET hash = randomblob(32) WHERE seq = 500",
		"UPDATE audit SET prev_hash = randomblob(32) WHERE seq = 500",
		"UPDATE audit SET detail = x'00ff' WHERE seq = 500", /* a blob where text belongs */
		"UPDATE audit SET hash = x'00' WHERE seq = 500",      /* a hash of the wrong size */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		tvs_store_t *s = make_log(key, N);
		tvs_audit_report r;

		sql(s, tamper[i]);
		expect_damage(s, key, TVS_AUDIT_CHANGED, 500);
		assert_int_equal(tvs_audit_verify(s, key, &r), 0);
		assert_int_equal(r.verified, 499);
		assert_int_equal(r.rows, N);
		assert_int_equal(r.last_seq, N);
		tvs_store_close(s);
	}
	/* the first and the last row too */
	tvs_store_t *s = make_log(key, N);
	sql(s, "UPDATE audit SET object = 'encounter:0' WHERE seq = 1");
	expect_damage(s, key, TVS_AUDIT_CHANGED, 1);
	tvs_store_close(s);
	s = make_log(key, N);
	sql(s, "UPDATE audit SET object = 'encounter:0' WHERE seq = 1000");
	expect_damage(s, key, TVS_AUDIT_CHANGED, 1000);
	tvs_store_close(s);
}

static void deleted_row(void **state)
{
	tvs_store_t *s = make_log(key, N);

	(void)state;
	sql(s, "DELETE FROM audit WHERE seq = 500");
	expect_damage(s, key, TVS_AUDIT_DELETED, 500);
	tvs_store_close(s);

	s = make_log(key, N);
	sql(s, "DELETE FROM audit WHERE seq BETWEEN 500 AND 509");
	expect_damage(s, key, TVS_AUDIT_DELETED, 500);
	tvs_store_close(s);

	s = make_log(key, N);
	sql(s, "DELETE FROM audit WHERE seq = 1");
	expect_damage(s, key, TVS_AUDIT_DELETED, 1);
	tvs_store_close(s);

	/* deleted, then later rows renumbered down to close the gap */
	s = make_log(key, N);
	sql(s, "DELETE FROM audit WHERE seq BETWEEN 500 AND 502");
	sql(s, "UPDATE audit SET seq = -(seq - 3) WHERE seq > 502");
	sql(s, "UPDATE audit SET seq = -seq WHERE seq < 0");
	sql(s, "UPDATE audit_head SET seq = seq - 3");
	expect_damage(s, key, TVS_AUDIT_DELETED, 500);
	tvs_store_close(s);
}

static void inserted_row(void **state)
{
	static const uint8_t zero[32];
	tvs_store_t *s = make_log(key, N);
	tvs_audit_entry e = { T0, "user:mallory", "officer", "delete", "encounter:499", NULL, NULL };
	uint8_t prev[32], guess[32];
	tvs_rows r;

	(void)state;
	/* make room at 500 and insert a forged row that links to row 499,
	 * with its hash guessed as the unkeyed function gives it */
	assert_int_equal(tvs_store_query(s, "SELECT hash FROM audit WHERE seq = 499", NULL, 0, &r), 0);
	memcpy(prev, tvs_rows_blob(&r, 0, 0, NULL), 32);
	tvs_rows_free(&r);
	shift_up(s, 500);
	assert_int_equal(tvs_audit_compute_hash(NULL, prev, 500, &e, guess), 0);
	tvs_val v[] = { TVS_VINT(e.at), TVS_VTEXT(e.actor), TVS_VTEXT(e.role), TVS_VTEXT(e.action),
			TVS_VTEXT(e.object), TVS_VBLOB(prev, 32), TVS_VBLOB(guess, 32) };
	assert_int_equal(tvs_store_exec(s,
					"INSERT INTO audit (seq, at, actor, role, action, object, prev_hash, hash)"
					" VALUES (500, ?, ?, ?, ?, ?, ?, ?)",
					v, 7, NULL),
			 0);
	sql(s, "UPDATE audit_head SET seq = seq + 1");
	expect_damage(s, key, TVS_AUDIT_INSERTED, 500);
	tvs_store_close(s);

	/* a forged row with random hashes, two of them */
	s = make_log(key, N);
	shift_up(s, 500);
	shift_up(s, 500);
	sql(s, "INSERT INTO audit SELECT 500, at, actor, role, action, object, purpose, detail, randomblob(32),"
	       " randomblob(32) FROM audit WHERE seq = 499");
	sql(s, "INSERT INTO audit SELECT 501, at, actor, role, action, object, purpose, detail, randomblob(32),"
	       " randomblob(32) FROM audit WHERE seq = 499");
	expect_damage(s, key, TVS_AUDIT_INSERTED, 500);
	tvs_store_close(s);

	/* a forged row after the last one, head left alone */
	s = make_log(key, N);
	sql(s, "INSERT INTO audit SELECT 1001, at, actor, role, action, object, purpose, detail, hash,"
	       " randomblob(32) FROM audit WHERE seq = 1000");
	expect_damage(s, key, TVS_AUDIT_INSERTED, 1001);
	tvs_store_close(s);

	/* a forged row before the first */
	s = make_log(key, N);
	tvs_val z = TVS_VBLOB(zero, 32);
	assert_int_equal(tvs_store_exec(s,
					"INSERT INTO audit SELECT 0, at, actor, role, action, object, purpose, detail,"
					" ?, randomblob(32) FROM audit WHERE seq = 1",
					&z, 1, NULL),
			 0);
	expect_damage(s, key, TVS_AUDIT_INSERTED, 0);
	tvs_store_close(s);
}

static void reordered_rows(void **state)
{
	static const int pairs[][2] = { { 300, 700 }, { 500, 501 }, { 1, 1000 }, { 999, 1000 } };

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		tvs_store_t *s = make_log(key, N);

		swap_rows(s, pairs[i][0], pairs[i][1]);
		expect_damage(s, key, TVS_AUDIT_REORDERED, pairs[i][0]);
		tvs_store_close(s);
	}
	/* swapping the contents (all but seq) is the same thing */
	tvs_store_t *s = make_log(key, N);
	sql(s, "CREATE TABLE t AS SELECT * FROM audit WHERE seq IN (300, 700)");
	sql(s, "UPDATE t SET seq = 1000 - seq");
	sql(s, "DELETE FROM audit WHERE seq IN (300, 700)");
	sql(s, "INSERT INTO audit SELECT * FROM t");
	expect_damage(s, key, TVS_AUDIT_REORDERED, 300);
	tvs_store_close(s);
}

static void truncated_tail(void **state)
{
	tvs_store_t *s = make_log(key, N);
	tvs_audit_report r;

	(void)state;
	sql(s, "DELETE FROM audit WHERE seq > 997");
	expect_damage(s, key, TVS_AUDIT_TRUNCATED, 998);
	assert_int_equal(tvs_audit_verify(s, key, &r), 0);
	assert_int_equal(r.rows, 997);
	assert_int_equal(r.verified, 997);
	assert_int_equal(r.last_seq, 997);
	assert_int_equal(r.head_seq, 1000);
	tvs_store_close(s);

	s = make_log(key, N);
	sql(s, "DELETE FROM audit");
	expect_damage(s, key, TVS_AUDIT_TRUNCATED, 1);
	tvs_store_close(s);
}

/* The limit of what the database alone can show: cut the tail and move the
 * head back to the new last row, and the log is consistent again, keyed or
 * not. Anchoring the head hash elsewhere is what catches this. */
static void truncation_with_head_rewritten_is_undetected(void **state)
{
	tvs_store_t *s = make_log(key, N);

	(void)state;
	sql(s, "DELETE FROM audit WHERE seq > 997");
	sql(s, "UPDATE audit_head SET seq = 997, hash = (SELECT hash FROM audit WHERE seq = 997)");
	expect_intact(s, key, 997);
	tvs_store_close(s);
}

static void modified_head(void **state)
{
	static const struct {
		const char *sql;
		int kind;
		int64_t seq;
	} cases[] = {
		{ "UPDATE audit_head SET hash = randomblob(32)", TVS_AUDIT_HEAD, 1000 },
		{ "UPDATE audit_head SET hash = x'00'", TVS_AUDIT_HEAD, 1000 },
		{ "UPDATE audit_head SET seq = seq + 5", TVS_AUDIT_HEAD, 1000 },
		{ "UPDATE audit_head SET seq = 995", TVS_AUDIT_HEAD, 996 },
		{ "UPDATE audit_head SET seq = 995, hash = (SELECT hash FROM audit WHERE seq = 995)", TVS_AUDIT_HEAD,
		  996 },
		{ "UPDATE audit_head SET seq = 0, hash = zeroblob(32)", TVS_AUDIT_HEAD, 1 },
		{ "DELETE FROM audit_head", TVS_AUDIT_HEAD, 1000 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tvs_store_t *s = make_log(key, N);

		sql(s, cases[i].sql);
		expect_damage(s, key, cases[i].kind, cases[i].seq);
		tvs_store_close(s);
	}
	/* unkeyed, rows past a consistent head may have been added by anyone */
	tvs_store_t *s = make_log(NULL, N);
	sql(s, cases[4].sql);
	expect_damage(s, NULL, TVS_AUDIT_INSERTED, 996);
	tvs_store_close(s);
}

/* ---- keyed versus unkeyed ---- */

/* Without a key the chain is public arithmetic: an attacker who edits a row
 * and recomputes every later hash and the head leaves a log that verifies.
 * This test documents that limit; the keyed test below is the fix. */
static void unkeyed_chain_can_be_recomputed(void **state)
{
	tvs_store_t *s = make_log(NULL, N);

	(void)state;
	sql(s, "UPDATE audit SET detail = 'decision=no_match' WHERE seq = 500");
	expect_damage(s, NULL, TVS_AUDIT_CHANGED, 500);
	rechain(s, NULL, 500);
	expect_intact(s, NULL, N); /* undetected */
	tvs_store_close(s);

	/* deleting a row and rechaining the rest is just as invisible */
	s = make_log(NULL, N);
	sql(s, "DELETE FROM audit WHERE seq = 500");
	sql(s, "UPDATE audit SET seq = -(seq - 1) WHERE seq > 500");
	sql(s, "UPDATE audit SET seq = -seq WHERE seq < 0");
	rechain(s, NULL, 500);
	expect_intact(s, NULL, N - 1);
	tvs_store_close(s);
}

static void keyed_chain_recompute_is_detected(void **state)
{
	tvs_store_t *s = make_log(key, N);

	(void)state;
	sql(s, "UPDATE audit SET detail = 'decision=no_match' WHERE seq = 500");
	rechain(s, other_key, 500);
	expect_damage(s, key, TVS_AUDIT_CHANGED, 500);
	tvs_store_close(s);

	s = make_log(key, N);
	rechain(s, NULL, 500); /* the unkeyed function, as a guess */
	expect_damage(s, key, TVS_AUDIT_CHANGED, 500);
	tvs_store_close(s);

	/* rewriting the whole log with another key fails at the first row */
	s = make_log(key, N);
	rechain(s, other_key, 1);
	expect_damage(s, key, TVS_AUDIT_CHANGED, 1);
	tvs_store_close(s);
}

/* Unkeyed attackers who rehash only what they touched are still caught. */
static void unkeyed_partial_rehash_is_detected(void **state)
{
	tvs_store_t *s = make_log(NULL, N);
	char actor[32], object[32];
	tvs_audit_entry e;
	uint8_t prev[32], h[32];
	tvs_rows r;

	(void)state;
	/* edit row 500 and fix its own hash, not the chain after it */
	sql(s, "UPDATE audit SET detail = 'edited' WHERE seq = 500");
	assert_int_equal(tvs_store_query(s, "SELECT prev_hash FROM audit WHERE seq = 500", NULL, 0, &r), 0);
	memcpy(prev, tvs_rows_blob(&r, 0, 0, NULL), 32);
	tvs_rows_free(&r);
	make_entry(500, &e, actor, object, sizeof(actor));
	e.detail = "edited";
	assert_int_equal(tvs_audit_compute_hash(NULL, prev, 500, &e, h), 0);
	tvs_val v = TVS_VBLOB(h, 32);
	assert_int_equal(tvs_store_exec(s, "UPDATE audit SET hash = ? WHERE seq = 500", &v, 1, NULL), 0);
	expect_damage(s, NULL, TVS_AUDIT_CHANGED, 500);
	tvs_store_close(s);

	/* insert a correctly hashed row, without rehashing the rows after it */
	s = make_log(NULL, N);
	assert_int_equal(tvs_store_query(s, "SELECT hash FROM audit WHERE seq = 499", NULL, 0, &r), 0);
	memcpy(prev, tvs_rows_blob(&r, 0, 0, NULL), 32);
	tvs_rows_free(&r);
	shift_up(s, 500);
	make_entry(499, &e, actor, object, sizeof(actor));
	assert_int_equal(tvs_audit_compute_hash(NULL, prev, 500, &e, h), 0);
	tvs_val ins[] = { TVS_VINT(e.at), TVS_VTEXT(e.actor), TVS_VTEXT(e.role), TVS_VTEXT(e.action),
			  TVS_VTEXT(e.object), TVS_VTEXT(e.purpose), TVS_VTEXT(e.detail), TVS_VBLOB(prev, 32),
			  TVS_VBLOB(h, 32) };
	assert_int_equal(tvs_store_exec(s,
					"INSERT INTO audit (seq, at, actor, role, action, object, purpose, detail,"
					" prev_hash, hash) VALUES (500, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
					ins, 9, NULL),
			 0);
	expect_damage(s, NULL, TVS_AUDIT_INSERTED, 500);
	tvs_store_close(s);
}

/* ---- paging ---- */

static int count_rows(void *arg, const tvs_audit_row *row)
{
	int64_t *n = arg;

	assert_int_equal(row->seq, *n + 1);
	(*n)++;
	return 0;
}

/* Damage right at and around the 1000-row page boundaries. */
static void page_boundaries(void **state)
{
	tvs_store_t *s = make_log(key, 2503);
	int64_t n = 0;

	(void)state;
	expect_intact(s, key, 2503);
	assert_int_equal(tvs_audit_export(s, 0, TVS_AUDIT_MAX_AT + 1, count_rows, &n), 0);
	assert_int_equal(n, 2503);
	sql(s, "UPDATE audit SET detail = 'x' WHERE seq = 2001");
	expect_damage(s, key, TVS_AUDIT_CHANGED, 2001);
	tvs_store_close(s);

	s = make_log(key, 2503);
	sql(s, "DELETE FROM audit WHERE seq = 1001");
	expect_damage(s, key, TVS_AUDIT_DELETED, 1001);
	tvs_store_close(s);

	s = make_log(key, 2503);
	swap_rows(s, 1000, 1001);
	expect_damage(s, key, TVS_AUDIT_REORDERED, 1000);
	tvs_store_close(s);

	s = make_log(key, 2000);
	sql(s, "DELETE FROM audit WHERE seq > 1000");
	expect_damage(s, key, TVS_AUDIT_TRUNCATED, 1001);
	tvs_store_close(s);
}

/* ---- two writers ---- */

#define PER_WRITER 200

struct writer {
	tvs_store_t *s;
	int id, errors;
};

static void *write_entries(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < PER_WRITER; i++) {
		char actor[32], object[32];
		tvs_audit_entry e = { T0 + i, actor, "device", "capture", object, NULL, NULL };
		tvs_tx_t *tx;
		int64_t seq = 0;
		int rc;

		snprintf(actor, sizeof(actor), "device:%d", w->id);
		snprintf(object, sizeof(object), "encounter:%d", i);
		if (tvs_store_begin(w->s, 1, &tx) != 0) {
			w->errors++;
			continue;
		}
		tvs_val v[2] = { TVS_VINT(w->id), TVS_VINT(i) };
		rc = tvs_tx_exec(tx, "INSERT INTO records (who, i) VALUES (?, ?)", v, 2, NULL);
		if (rc == 0)
			rc = tvs_audit_append(tx, key, &e, &seq);
		if (rc == 0) {
			tvs_val u[3] = { TVS_VINT(seq), TVS_VINT(w->id), TVS_VINT(i) };
			rc = tvs_tx_exec(tx, "UPDATE records SET seq = ? WHERE who = ? AND i = ?", u, 3, NULL);
		}
		if (rc) {
			tvs_tx_rollback(tx);
			w->errors++;
		} else {
			w->errors += tvs_tx_commit(tx) != 0;
		}
	}
	return NULL;
}

static void run_writers(const char *url)
{
	struct writer w[2];
	pthread_t th[2];
	tvs_store_t *s = NULL;
	tvs_rows r;

	assert_int_equal(tvs_store_open(&s, url, 2), 0);
	create_schema(s);
	sql(s, "CREATE TABLE records (who INTEGER, i INTEGER, seq INTEGER UNIQUE, UNIQUE (who, i))");
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){ .s = s, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, write_entries, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	expect_intact(s, key, 2 * PER_WRITER);
	/* every record has its own audit row, by the same actor */
	assert_int_equal(tvs_store_query(s,
					 "SELECT count(*) FROM records r JOIN audit a ON a.seq = r.seq"
					 " WHERE a.actor = 'device:' || r.who AND a.object = 'encounter:' || r.i",
					 NULL, 0, &r),
			 0);
	assert_int_equal(tvs_rows_int(&r, 0, 0), 2 * PER_WRITER);
	tvs_rows_free(&r);
	tvs_store_close(s);
}

static void two_writer_threads(void **state)
{
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "sqlite:%s/writers.db", tmpdir);
	run_writers(url);
	run_writers("sqlite::memory:");
}

/* ---- export and the access report ---- */

struct collected {
	int n, stop_at;
	int64_t first, last;
};

static int collect(void *arg, const tvs_audit_row *row)
{
	struct collected *c = arg;
	char actor[32], object[32];
	tvs_audit_entry e;
	static const uint8_t zero[32];

	make_entry((int)row->seq, &e, actor, object, sizeof(actor));
	assert_int_equal(row->e.at, e.at);
	assert_string_equal(row->e.actor, e.actor);
	assert_string_equal(row->e.role, e.role);
	assert_string_equal(row->e.action, e.action);
	assert_string_equal(row->e.object, e.object);
	if (e.purpose)
		assert_string_equal(row->e.purpose, e.purpose);
	else
		assert_null(row->e.purpose);
	if (e.detail)
		assert_string_equal(row->e.detail, e.detail);
	else
		assert_null(row->e.detail);
	assert_memory_not_equal(row->hash, zero, 32);
	if (c->n == 0)
		c->first = row->seq;
	c->last = row->seq;
	if (++c->n == c->stop_at)
		return TVS_EIO;
	return 0;
}

static void export_rows(void **state)
{
	tvs_store_t *s = make_log(key, N);
	struct collected c = { 0 };
	uint8_t hh[32];
	int64_t hs;

	(void)state;
	/* at of seq i is T0 + 60 (i - 1): [T0 + 6000, T0 + 12000) is 101..200 */
	assert_int_equal(tvs_audit_export(s, T0 + 6000, T0 + 12000, collect, &c), 0);
	assert_int_equal(c.n, 100);
	assert_int_equal(c.first, 101);
	assert_int_equal(c.last, 200);

	c = (struct collected){ .stop_at = 5 };
	assert_int_equal(tvs_audit_export(s, 0, TVS_AUDIT_MAX_AT + 1, collect, &c), TVS_EIO);
	assert_int_equal(c.n, 5);

	c = (struct collected){ 0 };
	assert_int_equal(tvs_audit_export(s, T0 + 60 * N, TVS_AUDIT_MAX_AT + 1, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(tvs_audit_export(s, 0, 1, NULL, NULL), TVS_EINVAL);

	/* the last exported hash is the head's */
	c = (struct collected){ 0 };
	head(s, &hs, hh);
	assert_int_equal(tvs_audit_export(s, T0 + 60 * (N - 1), T0 + 60 * N, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last, hs);
	tvs_store_close(s);
}

struct count {
	int64_t start;
	char actor[32], action[32];
	int64_t n;
};

struct counts {
	struct count c[32];
	int n;
};

static int collect_count(void *arg, int64_t start, const char *actor, const char *action, int64_t n)
{
	struct counts *cs = arg;

	assert_true(cs->n < 32);
	cs->c[cs->n].start = start;
	snprintf(cs->c[cs->n].actor, sizeof(cs->c[0].actor), "%s", actor);
	snprintf(cs->c[cs->n].action, sizeof(cs->c[0].action), "%s", action);
	cs->c[cs->n++].n = n;
	return 0;
}

static void check_count(const struct count *c, int64_t start, const char *actor, const char *action, int64_t n)
{
	assert_int_equal(c->start, start);
	assert_string_equal(c->actor, actor);
	assert_string_equal(c->action, action);
	assert_int_equal(c->n, n);
}

static void access_report(void **state)
{
	static const struct {
		int64_t at;
		const char *actor, *action;
	} log[] = {
		{ T0 - 1, "device:1", "capture" },  /* before the range */
		{ T0, "device:1", "capture" },	    { T0 + 10, "device:1", "capture" },
		{ T0 + 20, "device:2", "capture" }, { T0 + 30, "device:1", "resolve" },
		{ T0 + 86399, "partner:XYZ", "query" },
		{ T0 + 86400, "user:ana", "resolve" }, { T0 + 86401, "user:ana", "resolve" },
		{ T0 + 86402, "partner:XYZ", "query" },
		{ T0 + 3 * 86400, "device:1", "capture" }, /* after the range */
	};
	tvs_store_t *s = open_log();
	struct counts cs = { .n = 0 };
	tvs_tx_t *tx;

	(void)state;
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	for (size_t i = 0; i < sizeof(log) / sizeof(log[0]); i++) {
		tvs_audit_entry e = { log[i].at, log[i].actor, NULL, log[i].action, NULL, NULL, NULL };
		assert_int_equal(tvs_audit_append(tx, key, &e, NULL), 0);
	}
	assert_int_equal(tvs_tx_commit(tx), 0);

	assert_int_equal(tvs_audit_access_report(s, T0, T0 + 3 * 86400, 86400, collect_count, &cs), 0);
	assert_int_equal(cs.n, 6);
	check_count(&cs.c[0], T0, "device:1", "capture", 2);
	check_count(&cs.c[1], T0, "device:1", "resolve", 1);
	check_count(&cs.c[2], T0, "device:2", "capture", 1);
	check_count(&cs.c[3], T0, "partner:XYZ", "query", 1);
	check_count(&cs.c[4], T0 + 86400, "partner:XYZ", "query", 1);
	check_count(&cs.c[5], T0 + 86400, "user:ana", "resolve", 2);

	cs.n = 0; /* one period: the whole range */
	assert_int_equal(tvs_audit_access_report(s, T0, T0 + 2 * 86400, 0, collect_count, &cs), 0);
	assert_int_equal(cs.n, 5);
	check_count(&cs.c[3], T0, "partner:XYZ", "query", 2);

	cs.n = 0; /* a last period cut short at to */
	assert_int_equal(tvs_audit_access_report(s, T0, T0 + 86401, 86400, collect_count, &cs), 0);
	assert_int_equal(cs.n, 5);
	check_count(&cs.c[4], T0 + 86400, "user:ana", "resolve", 1);

	assert_int_equal(tvs_audit_access_report(s, T0, T0, 0, collect_count, &cs), TVS_EINVAL);
	assert_int_equal(tvs_audit_access_report(s, -1, T0, 0, collect_count, &cs), TVS_EINVAL);
	assert_int_equal(tvs_audit_access_report(s, T0, T0 + 1, -1, collect_count, &cs), TVS_EINVAL);
	assert_int_equal(tvs_audit_access_report(s, 0, TVS_AUDIT_MAX_AT + 1, 1, collect_count, &cs), TVS_ETOOBIG);
	tvs_store_close(s);
}

static void damage_names(void **state)
{
	(void)state;
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_INTACT), "intact");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_CHANGED), "changed");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_DELETED), "deleted");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_INSERTED), "inserted");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_REORDERED), "reordered");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_TRUNCATED), "truncated");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_HEAD), "head_modified");
	assert_string_equal(tvs_audit_damage_name(-1), "unknown");
	assert_string_equal(tvs_audit_damage_name(TVS_AUDIT_DAMAGE_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hash_known_answers),
		cmocka_unit_test(null_and_empty_are_distinct),
		cmocka_unit_test(empty_and_small),
		cmocka_unit_test(field_limits),
		cmocka_unit_test(append_is_part_of_the_transaction),
		cmocka_unit_test(append_refuses_a_damaged_head),
		cmocka_unit_test(intact_log_verifies),
		cmocka_unit_test(changed_row),
		cmocka_unit_test(deleted_row),
		cmocka_unit_test(inserted_row),
		cmocka_unit_test(reordered_rows),
		cmocka_unit_test(truncated_tail),
		cmocka_unit_test(truncation_with_head_rewritten_is_undetected),
		cmocka_unit_test(modified_head),
		cmocka_unit_test(unkeyed_chain_can_be_recomputed),
		cmocka_unit_test(keyed_chain_recompute_is_detected),
		cmocka_unit_test(unkeyed_partial_rehash_is_detected),
		cmocka_unit_test(page_boundaries),
		cmocka_unit_test(two_writer_threads),
		cmocka_unit_test(export_rows),
		cmocka_unit_test(access_report),
		cmocka_unit_test(damage_names),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
