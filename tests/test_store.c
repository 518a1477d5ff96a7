/*
 * Unit tests for tvs store over SQLite (src/store/): URL forms, migrations
 * (fresh, repeated, a newer database, bad version lists, two processes at
 * once), every value type round trip, error mapping, transactions, the pool
 * blocking when empty, WAL and durability on a file, and two writer threads.
 * File databases live in a mkdtemp folder under /tmp removed at the end.
 * Nothing here asserts on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/store.h"

#include <dirent.h>
#include <float.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

static void db_url(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "sqlite:%s/%s", tmpdir, name);
}

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_store_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	(void)state;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	return rmdir(tmpdir);
}

static tvs_store_t *open_mem(int pool)
{
	tvs_store_t *s = NULL;

	assert_int_equal(tvs_store_open(&s, "sqlite::memory:", pool), 0);
	assert_int_equal(tvs_store_exec(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v)", NULL, 0, NULL),
			 0);
	return s;
}

static int64_t count(tvs_store_t *s, const char *table)
{
	char sql[128];
	tvs_rows r;
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(tvs_store_query(s, sql, NULL, 0, &r), 0);
	n = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	return n;
}

static void urls(void **state)
{
	tvs_store_t *s = NULL, *s2 = NULL;

	(void)state;
	assert_int_equal(tvs_store_open(&s, "postgresql://tvs:hunter2@db/tvs", 2), TVS_EUNSUPPORTED);
	assert_null(s);
	assert_non_null(strstr(tvs_errmsg(), "PostgreSQL"));
	assert_null(strstr(tvs_errmsg(), "hunter2"));
	assert_int_equal(tvs_store_open(&s, "mysql://x/y", 1), TVS_EUNSUPPORTED);
	assert_int_equal(tvs_store_open(&s, "sqlite:", 1), TVS_EINVAL);
	assert_int_equal(tvs_store_open(&s, "", 1), TVS_EINVAL);
	assert_int_equal(tvs_store_open(&s, "sqlite::memory:", 0), TVS_EINVAL);
	assert_int_equal(tvs_store_open(&s, NULL, 1), TVS_EINVAL);

	/* each memory open is its own database, shared by its pool */
	s = open_mem(3);
	assert_string_equal(tvs_store_backend(s), "sqlite");
	assert_int_equal(tvs_store_open(&s2, "sqlite::memory:", 1), 0);
	assert_int_equal(tvs_store_exec(s2, "CREATE TABLE t (x)", NULL, 0, NULL), 0);
	tvs_store_close(s2);
	tvs_tx_t *a, *b;
	assert_int_equal(tvs_store_begin(s, 0, &a), 0);
	assert_int_equal(tvs_store_begin(s, 0, &b), 0); /* another connection */
	assert_ptr_not_equal(a, b);
	tvs_rows r;
	assert_int_equal(tvs_tx_query(b, "SELECT count(*) FROM t", NULL, 0, &r), 0);
	assert_int_equal(tvs_rows_int(&r, 0, 0), 0);
	tvs_rows_free(&r);
	tvs_tx_rollback(a);
	assert_int_equal(tvs_tx_commit(b), 0);
	tvs_store_close(s);
	tvs_store_close(NULL);

	/* a plain path, and a garbage file is an integrity error */
	char path[128];
	FILE *f;
	snprintf(path, sizeof(path), "%s/plain.db", tmpdir);
	assert_int_equal(tvs_store_open(&s, path, 1), 0);
	tvs_store_close(s);
	snprintf(path, sizeof(path), "%s/garbage.db", tmpdir);
	assert_non_null(f = fopen(path, "wb"));
	for (int i = 0; i < 4096; i++)
		fputc(i * 7 + 3, f);
	fclose(f);
	assert_int_equal(tvs_store_open(&s, path, 1), TVS_EINTEGRITY);
	assert_null(s);
}

static const tvs_migration migs[] = {
	{1, "people", "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
		      "CREATE INDEX people_name ON people (name)", NULL},
	{2, "docs", "CREATE TABLE docs (id INTEGER PRIMARY KEY, person INTEGER NOT NULL REFERENCES people(id))", NULL},
	{5, "seed", "INSERT INTO people (name) VALUES ('a'); INSERT INTO people (name) VALUES ('b')", NULL},
};

static void migrate(void **state)
{
	tvs_store_t *s = NULL;
	int v = -1;
	tvs_rows r;

	(void)state;
	assert_int_equal(tvs_store_open(&s, "sqlite::memory:", 2), 0);
	assert_int_equal(tvs_store_schema_version(s, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tvs_store_migrate(s, migs, 2), 0);
	assert_int_equal(tvs_store_schema_version(s, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(tvs_store_migrate(s, migs, 3), 0);
	assert_int_equal(tvs_store_migrate(s, migs, 3), 0); /* no-op: seed not applied twice */
	assert_int_equal(count(s, "people"), 2);
	assert_int_equal(tvs_store_schema_version(s, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(tvs_store_query(s, "SELECT version, name, applied_at FROM tvs_schema_version ORDER BY version",
					 NULL, 0, &r),
			 0);
	assert_int_equal(r.nrows, 3);
	assert_string_equal(tvs_rows_text(&r, 2, 1), "seed");
	assert_int_equal(strlen(tvs_rows_text(&r, 2, 2)), 20); /* 2024-01-01T00:00:00Z */
	tvs_rows_free(&r);

	/* foreign keys are on */
	tvs_val p = TVS_VINT(99);
	assert_int_equal(tvs_store_exec(s, "INSERT INTO docs (person) VALUES (?)", &p, 1, NULL), TVS_ECONFLICT);

	/* old code against a newer database */
	assert_int_equal(tvs_store_migrate(s, migs, 2), TVS_EUNSUPPORTED);
	assert_non_null(strstr(tvs_errmsg(), "newer"));

	/* bad lists */
	tvs_migration bad[] = {{1, "a", "SELECT 1", NULL}, {1, "b", "SELECT 1", NULL}};
	assert_int_equal(tvs_store_migrate(s, bad, 2), TVS_EINVAL);
	bad[0].version = 0;
	assert_int_equal(tvs_store_migrate(s, bad, 1), TVS_EINVAL);
	bad[0] = (tvs_migration){3, "a", NULL, NULL};
	assert_int_equal(tvs_store_migrate(s, bad, 1), TVS_EINVAL);
	tvs_store_close(s);

	/* a failing migration leaves nothing behind and names itself */
	assert_int_equal(tvs_store_open(&s, "sqlite::memory:", 1), 0);
	tvs_migration broken[] = {{1, "ok", "CREATE TABLE x (a)", NULL},
				  {2, "broken", "CREATE TABLE y (a); CREATE TABLE z (a) nonsense", NULL}};
	assert_int_equal(tvs_store_migrate(s, broken, 2), TVS_EINVAL);
	assert_non_null(strstr(tvs_errmsg(), "broken"));
	assert_int_equal(tvs_store_schema_version(s, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(tvs_store_query(s, "SELECT name FROM sqlite_master WHERE name = 'y'", NULL, 0, &r), 0);
	assert_int_equal(r.nrows, 0);
	tvs_rows_free(&r);
	tvs_store_close(s);
}

/* Two processes migrate one file at once: each step applies exactly once
 * (CREATE TABLE without IF NOT EXISTS would fail a second time). */
static void migrate_two_processes(void **state)
{
	static const tvs_migration m[] = {
		{1, "one", "CREATE TABLE one (a); INSERT INTO one VALUES (1)", NULL},
		{2, "two", "CREATE TABLE two (a); INSERT INTO two VALUES (2)", NULL},
		{3, "three", "CREATE TABLE three (a); INSERT INTO one VALUES (3)", NULL},
	};
	char url[128];
	pid_t pid[2];
	tvs_store_t *s;
	int status, v;

	(void)state;
	db_url(url, sizeof(url), "mig.db");
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			int ok = tvs_store_open(&s, url, 1) == 0 && tvs_store_migrate(s, m, 3) == 0;
			if (!ok)
				fprintf(stderr, "child %d: %s\n", i, tvs_errmsg());
			tvs_store_close(ok ? s : NULL);
			_exit(ok ? 0 : 1);
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(tvs_store_open(&s, url, 1), 0);
	assert_int_equal(tvs_store_schema_version(s, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(count(s, "one"), 2);
	assert_int_equal(count(s, "tvs_schema_version"), 3);
	tvs_store_close(s);
}

static void values(void **state)
{
	tvs_store_t *s = open_mem(1);
	static const char blob[] = {'a', 0, 'b', 0, 0, (char)0xff};
	static const char text_nul[] = {'x', 0, 'y'};
	tvs_val in[] = {
		TVS_VINT(INT64_MAX), TVS_VINT(INT64_MIN), TVS_VINT(0), TVS_VREAL(-1.5e300), TVS_VREAL(DBL_MIN),
		TVS_VTEXT("héllo"), TVS_VTEXT(""), TVS_VTEXT(NULL), TVS_VNULL, TVS_VBLOB(blob, sizeof(blob)),
		TVS_VBLOB(NULL, 0), {.type = TVS_VAL_TEXT, .p = text_nul, .n = sizeof(text_nul)},
	};
	size_t n = sizeof(in) / sizeof(in[0]);
	tvs_rows r;
	int64_t id, changes = -1;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		tvs_val p[] = {TVS_VINT(i), in[i]};
		assert_int_equal(tvs_store_query(s, "INSERT INTO t (k, v) VALUES (?, ?) RETURNING id", p, 2, &r), 0);
		assert_int_equal(r.nrows, 1);
		assert_string_equal(r.names[0], "id");
		id = tvs_rows_int(&r, 0, 0);
		assert_int_equal(id, (int64_t)i + 1);
		tvs_rows_free(&r);
	}
	assert_int_equal(tvs_store_query(s, "SELECT v, typeof(v), length(v) AS len FROM t ORDER BY id", NULL, 0, &r), 0);
	assert_int_equal(r.nrows, n);
	assert_int_equal(r.ncols, 3);
	assert_int_equal(tvs_rows_col(&r, "LEN"), 2);
	assert_int_equal(tvs_rows_col(&r, "nope"), -1);
	assert_true(tvs_rows_int(&r, 0, 0) == INT64_MAX);
	assert_true(tvs_rows_int(&r, 1, 0) == INT64_MIN);
	assert_true(tvs_rows_real(&r, 1, 0) == (double)INT64_MIN); /* INT reads as real */
	assert_false(tvs_rows_is_null(&r, 2, 0));
	assert_true(tvs_rows_real(&r, 3, 0) == -1.5e300);
	assert_true(tvs_rows_real(&r, 4, 0) == DBL_MIN);
	assert_int_equal(tvs_rows_int(&r, 3, 0), 0); /* wrong type */
	assert_string_equal(tvs_rows_text(&r, 5, 0), "héllo");
	assert_string_equal(tvs_rows_text(&r, 6, 0), ""); /* empty text is not NULL */
	assert_string_equal(tvs_rows_text(&r, 6, 1), "text");
	assert_false(tvs_rows_is_null(&r, 6, 0));
	assert_true(tvs_rows_is_null(&r, 7, 0));
	assert_null(tvs_rows_text(&r, 7, 0));
	assert_true(tvs_rows_is_null(&r, 8, 0));
	size_t len = 99;
	const char *b = tvs_rows_blob(&r, 9, 0, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_null(tvs_rows_text(&r, 9, 0));
	b = tvs_rows_blob(&r, 10, 0, &len); /* empty blob: a blob, not NULL */
	assert_non_null(b);
	assert_int_equal(len, 0);
	assert_string_equal(tvs_rows_text(&r, 10, 1), "blob");
	assert_int_equal(r.cells[11 * 3].n, sizeof(text_nul));
	assert_memory_equal(r.cells[11 * 3].p, text_nul, sizeof(text_nul));
	/* out of range */
	assert_int_equal(tvs_rows_int(&r, n, 0), 0);
	assert_null(tvs_rows_text(&r, 0, 3));
	assert_null(tvs_rows_blob(&r, n, 0, &len));
	assert_int_equal(len, 0);
	assert_true(tvs_rows_is_null(&r, n, 0));
	tvs_rows_free(&r);
	tvs_rows_free(&r); /* zeroed */
	tvs_rows_free(NULL);

	/* changes counts DML only */
	assert_int_equal(tvs_store_exec(s, "UPDATE t SET v = 1 WHERE id <= 3", NULL, 0, &changes), 0);
	assert_int_equal(changes, 3);
	assert_int_equal(tvs_store_exec(s, "SELECT * FROM t", NULL, 0, &changes), 0);
	assert_int_equal(changes, 0);
	assert_int_equal(tvs_store_exec(s, "CREATE TABLE u (a)", NULL, 0, &changes), 0);
	assert_int_equal(changes, 0);
	assert_int_equal(tvs_store_query(s, "SELECT * FROM u", NULL, 0, &r), 0); /* no rows, still names */
	assert_int_equal(r.nrows, 0);
	assert_string_equal(r.names[0], "a");
	tvs_rows_free(&r);
	tvs_store_close(s);
}

static void errors(void **state)
{
	tvs_store_t *s = open_mem(1);
	tvs_val p[] = {TVS_VTEXT("k"), TVS_VINT(1)};
	tvs_rows r;
	tvs_tx_t *tx;

	(void)state;
	assert_int_equal(tvs_store_exec(s, "INSERT INTO t (k, v) VALUES (?, ?)", p, 2, NULL), 0);
	assert_int_equal(tvs_store_exec(s, "INSERT INTO t (k, v) VALUES (?, ?)", p, 2, NULL), TVS_ECONFLICT);
	assert_non_null(strstr(tvs_errmsg(), "UNIQUE"));
	assert_int_equal(count(s, "t"), 1);

	/* a conflict inside a transaction: rolled back, nothing changed */
	tvs_val q[] = {TVS_VTEXT("other"), TVS_VINT(2)};
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO t (k, v) VALUES (?, ?)", q, 2, NULL), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO t (k, v) VALUES (?, ?)", p, 2, NULL), TVS_ECONFLICT);
	tvs_tx_rollback(tx);
	assert_int_equal(count(s, "t"), 1);

	/* a failed statement kills the transaction; commit rolls it back */
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO t (k, v) VALUES (?, ?)", q, 2, NULL), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO t (k, v) VALUES (?, ?)", p, 2, NULL), TVS_ECONFLICT);
	assert_int_equal(tvs_tx_exec(tx, "SELECT 1", NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_tx_commit(tx), TVS_ECONFLICT);
	assert_int_equal(count(s, "t"), 1);

	/* bad SQL names the statement */
	assert_int_equal(tvs_store_exec(s, "SELEKT 1 FROM nowhere_table", NULL, 0, NULL), TVS_EINVAL);
	assert_non_null(strstr(tvs_errmsg(), "SELEKT"));
	assert_int_equal(tvs_store_query(s, "SELECT * FROM missing", NULL, 0, &r), TVS_EINVAL);
	assert_int_equal(r.nrows, 0);
	assert_null(r.cells);
	assert_int_equal(tvs_store_exec(s, "SELECT 1; SELECT 2", NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_store_exec(s, "  ", NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_store_exec(s, "SELECT 1;", NULL, 0, NULL), 0);
	assert_int_equal(tvs_store_exec(s, NULL, NULL, 0, NULL), TVS_EINVAL);

	/* parameter count and shape */
	assert_int_equal(tvs_store_exec(s, "INSERT INTO t (k, v) VALUES (?, ?)", p, 1, NULL), TVS_EINVAL);
	assert_int_equal(tvs_store_exec(s, "SELECT 1", p, 1, NULL), TVS_EINVAL);
	assert_int_equal(tvs_store_exec(s, "SELECT ?", NULL, 1, NULL), TVS_EINVAL);
	tvs_val bad = {.type = 42};
	assert_int_equal(tvs_store_exec(s, "SELECT ?", &bad, 1, NULL), TVS_EINVAL);
	bad = (tvs_val){.type = TVS_VAL_BLOB, .p = NULL, .n = 4};
	assert_int_equal(tvs_store_exec(s, "SELECT ?", &bad, 1, NULL), TVS_EINVAL);
	assert_int_equal(count(s, "t"), 1);

	/* rollback discards, commit keeps; rollback(NULL) is a no-op */
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "DELETE FROM t", NULL, 0, NULL), 0);
	tvs_tx_rollback(tx);
	tvs_tx_rollback(NULL);
	assert_int_equal(count(s, "t"), 1);
	assert_int_equal(tvs_store_begin(s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "DELETE FROM t", NULL, 0, NULL), 0);
	assert_int_equal(tvs_tx_commit(tx), 0);
	assert_int_equal(count(s, "t"), 0);
	tvs_store_close(s);
}

struct waiter {
	tvs_store_t *s;
	atomic_int done;
	int rc;
	int64_t seen;
};

static void *wait_for_pool(void *arg)
{
	struct waiter *w = arg;
	tvs_rows r;

	/* records how many rows existed when it finally got the connection */
	w->rc = tvs_store_query(w->s, "INSERT INTO t (k, v) SELECT 'late', count(*) FROM t RETURNING v", NULL, 0, &r);
	w->seen = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	atomic_store(&w->done, 1);
	return NULL;
}

static void pool_exhaustion(void **state)
{
	struct waiter w = {.s = open_mem(1)};
	pthread_t th;
	tvs_tx_t *tx;

	(void)state;
	assert_int_equal(tvs_store_begin(w.s, 1, &tx), 0);
	assert_int_equal(tvs_tx_exec(tx, "INSERT INTO t (k) VALUES ('first')", NULL, 0, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, wait_for_pool, &w), 0);
	usleep(20000); /* gives it a chance to run ahead; a pass never depends on it */
	assert_int_equal(atomic_load(&w.done), 0); /* the only connection is ours */
	assert_int_equal(tvs_tx_commit(tx), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.seen, 1); /* it ran after our commit */
	assert_int_equal(count(w.s, "t"), 2);
	tvs_store_close(w.s);
}

static void file_db(void **state)
{
	tvs_store_t *s = NULL;
	char url[128];
	tvs_rows r;
	static const struct {
		const char *pragma, *text;
		int64_t val;
	} want[] = {
		{"PRAGMA journal_mode", "wal", 0},
		{"PRAGMA synchronous", NULL, 2},
		{"PRAGMA foreign_keys", NULL, 1},
		{"PRAGMA secure_delete", NULL, 1},
		{"PRAGMA busy_timeout", NULL, 5000},
	};

	(void)state;
	db_url(url, sizeof(url), "file.db");
	assert_int_equal(tvs_store_open(&s, url, 2), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(tvs_store_query(s, want[i].pragma, NULL, 0, &r), 0);
		if (want[i].text)
			assert_string_equal(tvs_rows_text(&r, 0, 0), want[i].text);
		else
			assert_int_equal(tvs_rows_int(&r, 0, 0), want[i].val);
		tvs_rows_free(&r);
	}
	assert_int_equal(tvs_store_migrate(s, migs, 1), 0);
	tvs_val p = TVS_VTEXT("durable");
	assert_int_equal(tvs_store_exec(s, "INSERT INTO people (name) VALUES (?)", &p, 1, NULL), 0);
	tvs_store_close(s);

	assert_int_equal(tvs_store_open(&s, url, 1), 0);
	assert_int_equal(tvs_store_query(s, "SELECT name FROM people", NULL, 0, &r), 0);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(tvs_rows_text(&r, 0, 0), "durable");
	tvs_rows_free(&r);
	tvs_store_close(s);
}

#define PER_WRITER 200

struct writer {
	tvs_store_t *s;
	int id, errors;
};

static void *write_rows(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < PER_WRITER; i++) {
		tvs_val p[] = {TVS_VINT(w->id), TVS_VINT(i)};
		const char *sql = "INSERT INTO w (who, i) VALUES (?, ?)";
		tvs_tx_t *tx;

		if (i % 2) { /* alternate autocommit and explicit transactions */
			w->errors += tvs_store_exec(w->s, sql, p, 2, NULL) != 0;
		} else if (tvs_store_begin(w->s, 1, &tx) != 0) {
			w->errors++;
		} else {
			int rc = tvs_tx_exec(tx, sql, p, 2, NULL);
			w->errors += (tvs_tx_commit(tx) | rc) != 0;
		}
	}
	return NULL;
}

/* On a file the busy handler queues the writers; in memory (shared cache)
 * the store's own retry of table-lock conflicts does. */
static void run_writers(const char *url)
{
	struct writer w[2];
	pthread_t th[2];
	tvs_store_t *s;

	assert_int_equal(tvs_store_open(&s, url, 2), 0);
	assert_int_equal(tvs_store_exec(s, "CREATE TABLE w (who INTEGER, i INTEGER, UNIQUE (who, i))", NULL, 0, NULL), 0);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){.s = s, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, write_rows, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(count(s, "w"), 2 * PER_WRITER);
	tvs_store_close(s);
}

static void concurrent_writers(void **state)
{
	char url[128];

	(void)state;
	db_url(url, sizeof(url), "writers.db");
	run_writers(url);
	run_writers("sqlite::memory:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls),
		cmocka_unit_test(migrate),
		cmocka_unit_test(migrate_two_processes),
		cmocka_unit_test(values),
		cmocka_unit_test(errors),
		cmocka_unit_test(pool_exhaustion),
		cmocka_unit_test(file_db),
		cmocka_unit_test(concurrent_writers),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
