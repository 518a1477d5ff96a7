/*
 * tvs store, the engine-neutral half: URL parsing, the connection pool,
 * transactions, migrations and the result accessors. The SQL engine sits
 * behind a table of functions (store_int.h): sqlite.c or pg.c, chosen by the
 * URL's prefix.
 *
 * Pool. One slot per connection, each slot also serving as the tvs_tx_t of
 * the transaction that holds it, so a begin allocates nothing. Free slots are
 * a stack under one mutex; a caller with none free waits on a condition
 * variable. There is no timeout: connections come back when their holders
 * finish, which is bounded by the engine's own busy timeout.
 *
 * Failed statements. PostgreSQL aborts a whole transaction when one statement
 * fails; SQLite undoes only that statement. So that code written against
 * SQLite does not silently depend on the latter, a transaction here is dead
 * after any failed statement: further statements are refused and commit
 * rolls back and returns the first error.
 *
 * Migrations run one per write transaction. The version is read inside it,
 * after the write lock is taken (SQLite: BEGIN IMMEDIATE; PostgreSQL, whose
 * writers do not take turns: an advisory lock, the backend's
 * lock_migrations), so two processes migrating at once apply each step
 * exactly once: the second waits, then sees the first's version.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <ctype.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 256

struct tvs_tx {
	tvs_store_t *s;
	void *conn;
	int err; /* first failed statement's code, 0 if none */
};

struct tvs_store {
	const tvs__store_backend *be;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pool, nfree;
	struct tvs_tx *slots; /* pool of them */
	struct tvs_tx **free; /* stack of nfree */
};

static struct tvs_tx *acquire(tvs_store_t *s)
{
	struct tvs_tx *tx;

	pthread_mutex_lock(&s->mu);
	while (s->nfree == 0)
		pthread_cond_wait(&s->cv, &s->mu);
	tx = s->free[--s->nfree];
	pthread_mutex_unlock(&s->mu);
	tx->err = 0;
	return tx;
}

static void release(struct tvs_tx *tx)
{
	tvs_store_t *s = tx->s;

	pthread_mutex_lock(&s->mu);
	s->free[s->nfree++] = tx;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void store_free(tvs_store_t *s)
{
	for (int i = 0; i < s->pool; i++)
		s->be->disconnect(s->slots[i].conn);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->free);
	free(s->slots);
	free(s);
}

int tvs_store_open(tvs_store_t **out, const char *url, int pool)
{
	const tvs__store_backend *be = &tvs__store_sqlite;
	const char *spec = url, *sep;
	char *target = NULL;
	tvs_store_t *s;
	int rc;

	if (!out || !url || pool < 1 || pool > POOL_MAX)
		return tvs__err(TVS_EINVAL, "store: need a URL and a pool of 1..%d", POOL_MAX);
	*out = NULL;
	/* never echo a full URL: it may carry a password */
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
		be = &tvs__store_pg; /* libpq takes the whole URL */
	else if (!strncmp(url, "sqlite:", 7))
		spec = url + 7;
	else if ((sep = strstr(url, "://")))
		return tvs__err(TVS_EUNSUPPORTED, "store: unknown URL scheme \"%.*s\"", (int)(sep - url) % 32, url);
	if (!*spec)
		return tvs__err(TVS_EINVAL, "store: empty database path");

	if (!(s = calloc(1, sizeof(*s))))
		return tvs__err(TVS_ENOMEM, "store");
	s->be = be;
	if (pthread_mutex_init(&s->mu, NULL)) {
		free(s);
		return tvs__err(TVS_ENOMEM, "store: mutex");
	}
	if (pthread_cond_init(&s->cv, NULL)) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return tvs__err(TVS_ENOMEM, "store: condition variable");
	}
	/* from here store_free undoes everything: slots fill in order */
	s->slots = calloc((size_t)pool, sizeof(*s->slots));
	s->free = calloc((size_t)pool, sizeof(*s->free));
	if (!s->slots || !s->free) {
		rc = tvs__err(TVS_ENOMEM, "store: pool");
		goto fail_store;
	}
	s->pool = pool;
	if ((rc = be->resolve(spec, &target)) < 0)
		goto fail_store;
	for (int i = 0; i < pool; i++) {
		s->slots[i].s = s;
		if ((rc = be->connect(target, &s->slots[i].conn)) < 0)
			goto fail_store;
		s->free[s->nfree++] = &s->slots[i];
	}
	free(target);
	*out = s;
	return 0;

fail_store:
	free(target);
	store_free(s);
	return rc;
}

void tvs_store_close(tvs_store_t *s)
{
	if (!s)
		return;
	TVS_ASSERT(s->nfree == s->pool); /* a transaction or call still holds a connection */
	store_free(s);
}

const char *tvs_store_backend(const tvs_store_t *s)
{
	return s ? s->be->name : "";
}

int tvs_store_begin(tvs_store_t *s, int write, tvs_tx_t **out)
{
	struct tvs_tx *tx;
	int rc;

	if (!s || !out)
		return tvs__err(TVS_EINVAL, "store: begin: NULL argument");
	*out = NULL;
	tx = acquire(s);
	if ((rc = s->be->begin(tx->conn, write)) < 0) {
		s->be->rollback(tx->conn);
		release(tx);
		return rc;
	}
	*out = tx;
	return 0;
}

int tvs_tx_commit(tvs_tx_t *tx)
{
	const tvs__store_backend *be;
	int rc;

	if (!tx)
		return tvs__err(TVS_EINVAL, "store: commit: NULL transaction");
	be = tx->s->be;
	if (tx->err) {
		rc = tvs__err(tx->err, "store: commit of a transaction with a failed statement; rolled back");
		be->rollback(tx->conn);
	} else if ((rc = be->commit(tx->conn)) < 0) {
		be->rollback(tx->conn);
	}
	release(tx);
	return rc;
}

void tvs_tx_rollback(tvs_tx_t *tx)
{
	if (!tx)
		return;
	tx->s->be->rollback(tx->conn);
	release(tx);
}

static int tx_run(tvs_tx_t *tx, const char *sql, const tvs_val *params, size_t np, int64_t *changes,
		  tvs_rows *out)
{
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!tx)
		return tvs__err(TVS_EINVAL, "store: NULL transaction");
	if (tx->err)
		return tvs__err(TVS_EINVAL, "store: transaction already failed; roll it back");
	if ((rc = tx->s->be->run(tx->conn, sql, params, np, changes, out)) < 0)
		tx->err = rc;
	return rc;
}

int tvs_tx_exec(tvs_tx_t *tx, const char *sql, const tvs_val *params, size_t np, int64_t *changes)
{
	return tx_run(tx, sql, params, np, changes, NULL);
}

int tvs_tx_query(tvs_tx_t *tx, const char *sql, const tvs_val *params, size_t np, tvs_rows *out)
{
	if (!out)
		return tvs__err(TVS_EINVAL, "store: query: NULL result");
	return tx_run(tx, sql, params, np, NULL, out);
}

/* One statement in autocommit mode: atomic on its own in both engines. */
static int store_run(tvs_store_t *s, const char *sql, const tvs_val *params, size_t np, int64_t *changes,
		     tvs_rows *out)
{
	struct tvs_tx *tx;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!s)
		return tvs__err(TVS_EINVAL, "store: NULL store");
	tx = acquire(s);
	rc = s->be->run(tx->conn, sql, params, np, changes, out);
	release(tx);
	return rc;
}

int tvs_store_exec(tvs_store_t *s, const char *sql, const tvs_val *params, size_t np, int64_t *changes)
{
	return store_run(s, sql, params, np, changes, NULL);
}

int tvs_store_query(tvs_store_t *s, const char *sql, const tvs_val *params, size_t np, tvs_rows *out)
{
	if (!out)
		return tvs__err(TVS_EINVAL, "store: query: NULL result");
	return store_run(s, sql, params, np, NULL, out);
}

/* ---- migrations ---- */

static const char schema_table_sql[] = "CREATE TABLE IF NOT EXISTS tvs_schema_version ("
				       "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

static int read_version(tvs_tx_t *tx, int *version)
{
	tvs_rows r;
	int rc = tvs_tx_query(tx, "SELECT COALESCE(MAX(version), 0) FROM tvs_schema_version", NULL, 0, &r);

	*version = rc == 0 ? (int)tvs_rows_int(&r, 0, 0) : 0;
	tvs_rows_free(&r);
	return rc;
}

/* Does s[i..] start the word w (case-insensitive, whole word)? */
static int word_at(const char *s, size_t i, const char *w)
{
	size_t n = strlen(w);

	if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return 0;
	return !strncasecmp(s + i, w, n) && !isalnum((unsigned char)s[i + n]) && s[i + n] != '_';
}

/* The SQLite DDL of a migration in PostgreSQL's types, for a migration that
 * gives no text of its own: 64-bit integers everywhere (the service stores
 * INT64_MAX as "held"), an INTEGER PRIMARY KEY numbers itself as SQLite's
 * rowid does, BLOB is BYTEA, REAL is double, and X'..' literals are
 * decode(..., 'hex'). Quoted text is copied untouched. Caller frees. */
char *tvs__store_ddl_for_postgresql(const char *in)
{
	static const char *const map[][2] = {
		{ "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" },
		{ "INTEGER", "BIGINT" },
		{ "BLOB", "BYTEA" },
		{ "REAL", "DOUBLE PRECISION" },
	};
	size_t n = strlen(in), cap = 2 * n + 64, o = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k, hit = SIZE_MAX;

		if (o + 64 > cap) {
			char *p = realloc(out, cap *= 2);

			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
		}
		if (in[i] == '\'' && !(i > 0 && (in[i - 1] == 'X' || in[i - 1] == 'x'))) { /* a string literal */
			do
				out[o++] = in[i++];
			while (i < n && in[i] != '\'' && o + 2 < cap);
			if (i < n)
				out[o++] = in[i++];
			continue;
		}
		if ((in[i] == 'X' || in[i] == 'x') && in[i + 1] == '\'' && (i == 0 || !isalnum((unsigned char)in[i - 1]))) {
			const char *end = strchr(in + i + 2, '\'');
			size_t len = end ? (size_t)(end - in - i - 2) : 0;

			if (end && o + len + 32 < cap) {
				o += (size_t)sprintf(out + o, "decode('%.*s', 'hex')", (int)len, in + i + 2);
				i = (size_t)(end - in) + 1;
				continue;
			}
		}
		for (k = 0; k < sizeof(map) / sizeof(map[0]); k++)
			if (word_at(in, i, map[k][0])) {
				hit = k;
				break;
			}
		if (hit != SIZE_MAX) {
			o += (size_t)sprintf(out + o, "%s", map[hit][1]);
			i += strlen(map[hit][0]);
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
	return out;
}

static int apply(tvs_tx_t *tx, const tvs_migration *m)
{
	const tvs__store_backend *be = tx->s->be;
	int pg = !strcmp(be->name, "postgresql");
	char *conv = pg && !m->postgresql ? tvs__store_ddl_for_postgresql(m->sqlite) : NULL;
	const char *text = !pg ? m->sqlite : m->postgresql ? m->postgresql : conv;
	char detail[256], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (!text)
		return tvs__err(TVS_ENOMEM, "store: migration %d", m->version);
	rc = be->run_script(tx->conn, text);
	free(conv);
	if (rc < 0) {
		tx->err = rc;
		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		return tvs__err(rc, "store: migration %d (%s): %s", m->version, m->name, detail);
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tvs_val p[] = {TVS_VINT(m->version), TVS_VTEXT(m->name), TVS_VTEXT(stamp)};
	return tvs_tx_exec(tx, "INSERT INTO tvs_schema_version (version, name, applied_at) VALUES (?, ?, ?)", p, 3,
			   NULL);
}

int tvs_store_migrate(tvs_store_t *s, const tvs_migration *m, size_t n)
{
	int last = n ? m[n - 1].version : 0, version, rc;
	tvs_tx_t *tx;
	size_t i;

	if (!s || (n && !m))
		return tvs__err(TVS_EINVAL, "store: migrate: NULL argument");
	for (i = 0; i < n; i++)
		if (m[i].version < 1 || (i && m[i].version <= m[i - 1].version) || !m[i].name || !m[i].sqlite)
			return tvs__err(TVS_EINVAL, "store: migration %zu (version %d): versions must increase from 1, "
					"each with a name and SQL", i, m[i].version);
	for (;;) {
		if ((rc = tvs_store_begin(s, 1, &tx)) < 0)
			return rc;
		if (s->be->lock_migrations && (rc = s->be->lock_migrations(tx->conn)) < 0)
			goto fail_tx;
		if ((rc = tvs_tx_exec(tx, schema_table_sql, NULL, 0, NULL)) < 0 || (rc = read_version(tx, &version)) < 0)
			goto fail_tx;
		if (version > last) {
			rc = tvs__err(TVS_EUNSUPPORTED, "store: database schema version %d is newer than this program's %d",
				      version, last);
			goto fail_tx;
		}
		for (i = 0; i < n && m[i].version <= version; i++)
			;
		if (i == n)
			return tvs_tx_commit(tx); /* keeps tvs_schema_version on a fresh database */
		if ((rc = apply(tx, &m[i])) < 0)
			goto fail_tx;
		if ((rc = tvs_tx_commit(tx)) < 0)
			return rc;
	}

fail_tx:
	tvs_tx_rollback(tx);
	return rc;
}

int tvs_store_schema_version(tvs_store_t *s, int *version)
{
	tvs_tx_t *tx;
	int exists = 0, rc;

	if (!version)
		return tvs__err(TVS_EINVAL, "store: schema_version: NULL argument");
	*version = 0;
	if ((rc = tvs_store_begin(s, 0, &tx)) < 0)
		return rc;
	if ((rc = s->be->has_table(tx->conn, "tvs_schema_version", &exists)) < 0 ||
	    (exists && (rc = read_version(tx, version)) < 0)) {
		tvs_tx_rollback(tx);
		return rc;
	}
	return tvs_tx_commit(tx);
}

/* ---- results ---- */

static const tvs_val *cell(const tvs_rows *r, size_t row, size_t col)
{
	if (!r || !r->cells || row >= r->nrows || col >= r->ncols)
		return NULL;
	return &r->cells[row * r->ncols + col];
}

int64_t tvs_rows_int(const tvs_rows *r, size_t row, size_t col)
{
	const tvs_val *v = cell(r, row, col);

	return v && v->type == TVS_VAL_INT ? v->i : 0;
}

double tvs_rows_real(const tvs_rows *r, size_t row, size_t col)
{
	const tvs_val *v = cell(r, row, col);

	if (!v)
		return 0;
	return v->type == TVS_VAL_REAL ? v->r : v->type == TVS_VAL_INT ? (double)v->i : 0;
}

const char *tvs_rows_text(const tvs_rows *r, size_t row, size_t col)
{
	const tvs_val *v = cell(r, row, col);

	return v && v->type == TVS_VAL_TEXT ? v->p : NULL;
}

const void *tvs_rows_blob(const tvs_rows *r, size_t row, size_t col, size_t *len)
{
	const tvs_val *v = cell(r, row, col);
	int ok = v && v->type == TVS_VAL_BLOB;

	if (len)
		*len = ok ? v->n : 0;
	return ok ? v->p : NULL;
}

int tvs_rows_is_null(const tvs_rows *r, size_t row, size_t col)
{
	const tvs_val *v = cell(r, row, col);

	return !v || v->type == TVS_VAL_NULL;
}

int tvs_rows_col(const tvs_rows *r, const char *name)
{
	if (!r || !r->names || !name)
		return -1;
	for (size_t j = 0; j < r->ncols; j++)
		if (r->names[j] && !strcasecmp(r->names[j], name))
			return (int)j;
	return -1;
}

void tvs_rows_free(tvs_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->cells && i < r->nrows * r->ncols; i++)
		if (r->cells[i].type == TVS_VAL_TEXT || r->cells[i].type == TVS_VAL_BLOB)
			free((void *)r->cells[i].p);
	for (size_t j = 0; r->names && j < r->ncols; j++)
		free(r->names[j]);
	free(r->cells);
	free(r->names);
	memset(r, 0, sizeof(*r));
}
