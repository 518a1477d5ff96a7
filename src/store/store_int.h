/*
 * Internal: the seam between the engine-neutral store (store.c: URL parsing,
 * the connection pool, transactions, migrations, result accessors) and one
 * SQL engine. A backend is a table of functions over an opaque connection:
 * sqlite.c (SQLite) and pg.c (PostgreSQL, libpq).
 *
 * A connection is used by one thread at a time (the pool guarantees it), so
 * backends need no locking of their own. Every function returns 0 or a
 * negative TVS_E* with the detail set through tvs__err.
 */
#ifndef TVS_STORE_INT_H
#define TVS_STORE_INT_H

#include "tvs/error.h"
#include "tvs/store.h"

typedef struct tvs__store_backend {
	const char *name; /* what tvs_store_backend() reports */
	/* Turn the URL's engine-specific part into a connect target (every
	 * pool connection gets the same one). Caller frees *target. */
	int (*resolve)(const char *spec, char **target);
	int (*connect)(const char *target, void **conn);
	void (*disconnect)(void *conn); /* accepts NULL */
	int (*begin)(void *conn, int write);
	int (*commit)(void *conn); /* on failure the transaction may still be open */
	void (*rollback)(void *conn); /* no-op when no transaction is open */
	/* One statement. out (may be NULL) gets the rows, zeroed on entry and
	 * left zeroed on error; changes (may be NULL) the rows changed. */
	int (*run)(void *conn, const char *sql, const tvs_val *params, size_t np, int64_t *changes,
		   tvs_rows *out);
	/* Several statements, no parameters, no rows (migrations). */
	int (*run_script)(void *conn, const char *script);
	int (*has_table)(void *conn, const char *name, int *exists);
	/* Inside a write transaction: wait until no other migrator holds the
	 * migration lock, and hold it until the transaction ends. NULL when
	 * begin(write) already serialises writers (SQLite). */
	int (*lock_migrations)(void *conn);
} tvs__store_backend;

extern const tvs__store_backend tvs__store_sqlite;
extern const tvs__store_backend tvs__store_pg;

/* A migration's SQLite DDL with PostgreSQL's types (store.c); caller frees. */
char *tvs__store_ddl_for_postgresql(const char *sqlite_ddl);

#endif
