/*
 * The SQLite backend of tvs store (store_int.h).
 *
 * Each connection is opened NOMUTEX (the pool hands it to one thread at a
 * time) with extended result codes, a 5 s busy timeout, foreign keys,
 * secure_delete (freed pages are zeroed, so deleted biometric bytes do not
 * linger in the main file), synchronous=FULL and, for a file, WAL.
 *
 * Statements are prepared per call and finalised before returning; results
 * are copied out, so nothing borrowed from SQLite outlives the call.
 *
 * "sqlite::memory:" is a shared-cache in-memory database under a unique URI
 * name, so every pool connection sees the same data and each open gets a
 * fresh one. Shared cache locks tables, not files, and such a conflict
 * (SQLITE_LOCKED_SHAREDCACHE) skips the busy handler; step() retries it with
 * a backoff up to the same timeout, which is safe because table locks are
 * taken before a statement's first row.
 */
#include "store/store_int.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUSY_MS 5000
#define SQL_SHOWN 80 /* characters of the SQL named in an error */

/* Map an SQLite result code to a TVS_E*, recording what and where. */
static int fail(sqlite3 *db, int rc, const char *sql)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: return tvs__err(TVS_ECONFLICT, "sqlite: %s", msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return tvs__err(TVS_EBUSY, "sqlite: %s (code %d, busy timeout %d ms) in \"%.*s\"", msg, rc, BUSY_MS,
				SQL_SHOWN, sql ? sql : "");
	case SQLITE_NOMEM: return tvs__err(TVS_ENOMEM, "sqlite: %s", msg);
	case SQLITE_TOOBIG: return tvs__err(TVS_ETOOBIG, "sqlite: %s", msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return tvs__err(TVS_EINTEGRITY, "sqlite: %s", msg);
	case SQLITE_ERROR:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return tvs__err(TVS_EINVAL, "sqlite: %s in \"%.*s\"", msg, SQL_SHOWN, sql ? sql : "");
	default: return tvs__err(TVS_EIO, "sqlite: %s", msg); /* IOERR, FULL, CANTOPEN, READONLY... */
	}
}

/* For the locks the busy handler does not cover: sleep 1, 2, 4 ... 32 ms,
 * and say 0 once the busy timeout is spent. *waited starts at 0. */
static int backoff(int *waited)
{
	int ms = *waited < 32 ? *waited + 1 : 32;

	if (*waited >= BUSY_MS)
		return 0;
	usleep((useconds_t)ms * 1000);
	*waited += ms;
	return 1;
}

static int step(sqlite3_stmt *st, int first)
{
	int rc, waited = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_LOCKED_SHAREDCACHE && first && backoff(&waited))
		sqlite3_reset(st);
	return rc;
}

static int bind(sqlite3 *db, sqlite3_stmt *st, const char *sql, const tvs_val *params, size_t np)
{
	int want = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;

	if ((size_t)want != np)
		return tvs__err(TVS_EINVAL, "store: %zu parameters for %d placeholders in \"%.*s\"", np, want,
				SQL_SHOWN, sql);
	for (int i = 0; i < want && rc == SQLITE_OK; i++) {
		const tvs_val *v = &params[i];
		if ((v->type == TVS_VAL_TEXT || v->type == TVS_VAL_BLOB) && v->n && !v->p)
			return tvs__err(TVS_EINVAL, "store: parameter %d: NULL pointer, length %zu", i + 1, v->n);
		switch (v->type) {
		case TVS_VAL_NULL: rc = sqlite3_bind_null(st, i + 1); break;
		case TVS_VAL_INT: rc = sqlite3_bind_int64(st, i + 1, v->i); break;
		case TVS_VAL_REAL: rc = sqlite3_bind_double(st, i + 1, v->r); break;
		case TVS_VAL_TEXT: /* a NULL pointer would bind SQL NULL */
			rc = sqlite3_bind_text64(st, i + 1, v->p ? v->p : "", v->n, SQLITE_TRANSIENT, SQLITE_UTF8);
			break;
		case TVS_VAL_BLOB: /* likewise: an empty blob stays a blob */
			rc = v->n ? sqlite3_bind_blob64(st, i + 1, v->p, v->n, SQLITE_TRANSIENT)
				  : sqlite3_bind_zeroblob(st, i + 1, 0);
			break;
		default:
			return tvs__err(TVS_EINVAL, "store: parameter %d has unknown type %d", i + 1, v->type);
		}
	}
	return rc == SQLITE_OK ? 0 : fail(db, rc, sql);
}

/* Copy the current row's cells to the end of out. */
static int take_row(sqlite3_stmt *st, tvs_rows *out, size_t *cap)
{
	size_t nc = out->ncols;

	if (out->nrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		if (ncap > SIZE_MAX / sizeof(tvs_val) / (nc ? nc : 1))
			return tvs__err(TVS_ENOMEM, "store: result too large");
		tvs_val *c = realloc(out->cells, ncap * nc * sizeof(tvs_val));
		if (!c)
			return tvs__err(TVS_ENOMEM, "store: result rows");
		out->cells = c;
		*cap = ncap;
	}
	tvs_val *row = out->cells + out->nrows * nc;
	memset(row, 0, nc * sizeof(*row));
	out->nrows++; /* counted now so tvs_rows_free sees partial copies */
	for (size_t j = 0; j < nc; j++) {
		int t = sqlite3_column_type(st, (int)j);
		const void *src = NULL;
		size_t n = 0;
		char *p;

		switch (t) {
		case SQLITE_INTEGER: row[j] = TVS_VINT(sqlite3_column_int64(st, (int)j)); continue;
		case SQLITE_FLOAT: row[j] = TVS_VREAL(sqlite3_column_double(st, (int)j)); continue;
		case SQLITE_NULL: continue;
		case SQLITE_TEXT: src = sqlite3_column_text(st, (int)j); break;
		default: src = sqlite3_column_blob(st, (int)j); break;
		}
		n = (size_t)sqlite3_column_bytes(st, (int)j); /* after the pointer, per the SQLite docs */
		if (!src && n)
			return tvs__err(TVS_ENOMEM, "store: result cell");
		p = malloc(n + 1); /* one spare byte: a NUL for text, non-NULL for an empty blob */
		if (!p)
			return tvs__err(TVS_ENOMEM, "store: result cell");
		if (n)
			memcpy(p, src, n);
		p[n] = '\0';
		row[j] = (tvs_val){.type = t == SQLITE_TEXT ? TVS_VAL_TEXT : TVS_VAL_BLOB, .p = p, .n = n};
	}
	return 0;
}

static int take_names(sqlite3_stmt *st, tvs_rows *out)
{
	out->ncols = (size_t)sqlite3_column_count(st);
	if (!out->ncols)
		return 0;
	out->names = calloc(out->ncols, sizeof(char *));
	if (!out->names)
		return tvs__err(TVS_ENOMEM, "store: column names");
	for (size_t j = 0; j < out->ncols; j++) {
		const char *name = sqlite3_column_name(st, (int)j);
		if (!name || !(out->names[j] = strdup(name)))
			return tvs__err(TVS_ENOMEM, "store: column names");
	}
	return 0;
}

static int sq_run(void *conn, const char *sql, const tvs_val *params, size_t np, int64_t *changes,
		  tvs_rows *out)
{
	sqlite3 *db = conn;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	size_t cap = 0;
	sqlite3_int64 total;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (changes)
		*changes = 0;
	if (!sql || (np && !params))
		return tvs__err(TVS_EINVAL, "store: NULL statement or parameters");
	rc = sqlite3_prepare_v3(db, sql, -1, 0, &st, &tail);
	if (rc != SQLITE_OK) {
		rc = fail(db, rc, sql);
		goto fail_prepare;
	}
	if (!st) {
		rc = tvs__err(TVS_EINVAL, "store: empty statement \"%.*s\"", SQL_SHOWN, sql);
		goto fail_prepare;
	}
	tail += strspn(tail, " \t\r\n;");
	if (*tail) {
		rc = tvs__err(TVS_EINVAL, "store: one statement per call: \"%.*s\"", SQL_SHOWN, sql);
		goto fail_stmt;
	}
	if ((rc = bind(db, st, sql, params, np)) < 0)
		goto fail_stmt;
	if (out && (rc = take_names(st, out)) < 0)
		goto fail_stmt;

	total = sqlite3_total_changes64(db);
	for (int first = 1;; first = 0) {
		rc = step(st, first);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			rc = fail(db, rc, sql);
			goto fail_stmt;
		}
		if (out && (rc = take_row(st, out, &cap)) < 0)
			goto fail_stmt;
	}
	/* sqlite3_changes64 keeps the last DML's count across DDL and SELECT */
	if (changes && sqlite3_total_changes64(db) != total)
		*changes = sqlite3_changes64(db);
	sqlite3_finalize(st);
	return 0;

fail_stmt:
	sqlite3_finalize(st);
fail_prepare:
	tvs_rows_free(out);
	return rc;
}

static int sq_run_script(void *conn, const char *script)
{
	sqlite3 *db = conn;
	int rc = sqlite3_exec(db, script, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(db, rc, script);
}

static int sq_begin(void *conn, int write)
{
	return sq_run(conn, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, NULL);
}

static int sq_commit(void *conn)
{
	return sq_run(conn, "COMMIT", NULL, 0, NULL, NULL);
}

static void sq_rollback(void *conn)
{
	/* some errors (IOERR, FULL, NOMEM) have already rolled back */
	if (!sqlite3_get_autocommit(conn))
		sq_run(conn, "ROLLBACK", NULL, 0, NULL, NULL);
}

static int sq_has_table(void *conn, const char *name, int *exists)
{
	tvs_rows r;
	tvs_val p = TVS_VTEXT(name);
	int rc = sq_run(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", &p, 1, NULL, &r);

	*exists = rc == 0 && r.nrows > 0;
	tvs_rows_free(&r);
	return rc;
}

static int sq_resolve(const char *spec, char **target)
{
	static atomic_uint seq;
	char buf[64];
	const char *t = spec;

	if (!strcmp(spec, ":memory:")) {
		snprintf(buf, sizeof(buf), "file:tvsmem%d_%u?mode=memory&cache=shared", (int)getpid(),
			 atomic_fetch_add(&seq, 1));
		t = buf;
	} else if (!strncmp(spec, "file:", 5)) {
		/* opened with SQLITE_OPEN_URI: keep a path that looks like a URI a path */
		if (!(*target = malloc(strlen(spec) + 3)))
			return tvs__err(TVS_ENOMEM, "store: path");
		strcpy(stpcpy(*target, "./"), spec);
		return 0;
	}
	*target = strdup(t);
	return *target ? 0 : tvs__err(TVS_ENOMEM, "store: path");
}

/* Switching a file to WAL needs a moment alone with it and returns
 * SQLITE_BUSY at once, without the busy handler, when another process is
 * opening the same new file: retry with a backoff up to the busy timeout. */
static int set_wal(sqlite3 *db, const char *target)
{
	int rc, waited = 0, wal;
	tvs_rows r;

	while ((rc = sq_run(db, "PRAGMA journal_mode = WAL", NULL, 0, NULL, &r)) == TVS_EBUSY && backoff(&waited))
		;
	if (rc < 0)
		return rc;
	wal = r.nrows == 1 && r.cells[0].type == TVS_VAL_TEXT && !strcmp(r.cells[0].p, "wal");
	tvs_rows_free(&r);
	return wal ? 0 : tvs__err(TVS_EUNSUPPORTED, "sqlite: %s: cannot use WAL mode", target);
}

static void sq_disconnect(void *conn)
{
	sqlite3_close_v2(conn); /* accepts NULL */
}

static int sq_connect(const char *target, void **conn)
{
	static const char *const setup[] = {
		"PRAGMA foreign_keys = ON",
		"PRAGMA secure_delete = ON",
		"PRAGMA synchronous = FULL",
	};
	sqlite3 *db = NULL;
	int rc;

	*conn = NULL;
	rc = sqlite3_open_v2(target, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = db ? tvs__err(TVS_EIO, "sqlite: cannot open %s: %s", target, sqlite3_errmsg(db))
			: tvs__err(TVS_ENOMEM, "sqlite: cannot open %s", target);
		goto fail_open;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_MS);
	/* WAL is a property of the file; an in-memory database has no file name */
	if (*sqlite3_db_filename(db, "main") && (rc = set_wal(db, target)) < 0)
		goto fail_open;
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if ((rc = sq_run(db, setup[i], NULL, 0, NULL, NULL)) < 0)
			goto fail_open;
	*conn = db;
	return 0;

fail_open:
	sqlite3_close_v2(db);
	return rc;
}

const tvs__store_backend tvs__store_sqlite = {
	.name = "sqlite",
	.resolve = sq_resolve,
	.connect = sq_connect,
	.disconnect = sq_disconnect,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.run = sq_run,
	.run_script = sq_run_script,
	.has_table = sq_has_table,
};
