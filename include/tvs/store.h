/*
 * tvs store: one SQL interface over SQLite (embedded default) and PostgreSQL
 * (many nodes sharing one database).
 *
 * Callers write SQL in the subset both engines speak: '?' placeholders (the
 * PostgreSQL driver renumbers them to $n), INSERT ... RETURNING, CURRENT
 * standard types. Schema differences live in the migrations, which carry one
 * text per backend.
 *
 * Results are materialised: a query returns every row, copied, so no statement
 * outlives the call and a connection goes back to the pool at once. Our
 * queries return tens of rows, or a gallery's templates at most.
 *
 * Concurrency: a store holds a small pool of connections. Every call takes
 * one for its duration; a transaction holds one from begin to commit or
 * rollback. SQLite runs in WAL mode with synchronous=FULL (an acknowledged
 * write survives kill -9 and power loss), foreign keys on, and a busy
 * timeout; write transactions begin IMMEDIATE so two writers queue instead of
 * deadlocking on a lock upgrade.
 *
 * PostgreSQL differs in one way callers must mind: write transactions are
 * READ COMMITTED and run side by side, not one at a time. Code that reads,
 * decides and writes must lock what it read (SELECT ... FOR UPDATE) or it can
 * act on a stale read; on SQLite the lock is implied. Read transactions see
 * one snapshot on both. Types: INT binds as int8 (declare BIGINT columns on
 * PostgreSQL: its INTEGER is 32 bits), REAL as float8 (DOUBLE PRECISION: its
 * REAL is 32 bits), BLOB as bytea; TEXT cannot hold NUL bytes there; a NULL
 * parameter is untyped, so "? IS NULL" needs CAST(? AS type). Booleans read
 * back as INT 0/1. Details in src/store/pg.c.
 */
#ifndef TVS_STORE_H
#define TVS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct tvs_store tvs_store_t;
typedef struct tvs_tx tvs_tx_t;

enum tvs_val_type { TVS_VAL_NULL = 0, TVS_VAL_INT, TVS_VAL_REAL, TVS_VAL_TEXT, TVS_VAL_BLOB };

/* A parameter or a result cell. Parameters borrow p; result cells own it
 * (freed by tvs_rows_free). TEXT cells are NUL-terminated; n excludes the NUL. */
typedef struct tvs_val {
	int type;
	int64_t i;
	double r;
	const void *p;
	size_t n;
} tvs_val;

#define TVS_VNULL ((tvs_val){.type = TVS_VAL_NULL})
#define TVS_VINT(x) ((tvs_val){.type = TVS_VAL_INT, .i = (int64_t)(x)})
#define TVS_VREAL(x) ((tvs_val){.type = TVS_VAL_REAL, .r = (double)(x)})
/* NULL s binds SQL NULL */
static inline tvs_val tvs_val_text(const char *s)
{
	return s ? (tvs_val){ .type = TVS_VAL_TEXT, .p = s, .n = strlen(s) } : TVS_VNULL;
}
#define TVS_VTEXT(s) tvs_val_text(s)
#define TVS_VBLOB(ptr, len) ((tvs_val){.type = TVS_VAL_BLOB, .p = (ptr), .n = (len)})

typedef struct tvs_rows {
	size_t nrows, ncols;
	tvs_val *cells; /* row-major nrows * ncols */
	char **names;   /* column names, ncols */
} tvs_rows;

/* Cell accessors: out-of-range or NULL cells give 0 / NULL. */
int64_t tvs_rows_int(const tvs_rows *r, size_t row, size_t col);
double tvs_rows_real(const tvs_rows *r, size_t row, size_t col);
const char *tvs_rows_text(const tvs_rows *r, size_t row, size_t col);
const void *tvs_rows_blob(const tvs_rows *r, size_t row, size_t col, size_t *len);
int tvs_rows_is_null(const tvs_rows *r, size_t row, size_t col);
/* Column index by name, or -1. */
int tvs_rows_col(const tvs_rows *r, const char *name);
void tvs_rows_free(tvs_rows *r); /* accepts NULL and zeroed rows */

/* Open url: "sqlite:PATH", a plain PATH (SQLite), "sqlite::memory:" (one
 * shared in-memory database, for tests), or "postgresql://..." /
 * "postgres://..." (a libpq connection URI, passed on as it is; a server
 * that cannot be reached is TVS_EIO). pool: connections (>= 1), each opened
 * now. */
int tvs_store_open(tvs_store_t **out, const char *url, int pool);
void tvs_store_close(tvs_store_t *s); /* accepts NULL */
const char *tvs_store_backend(const tvs_store_t *s); /* "sqlite" or "postgresql" */

/* One migration: version numbers strictly increase from 1. */
typedef struct tvs_migration {
	int version;
	const char *name;
	const char *sqlite; /* may hold several statements */
	const char *postgresql; /* NULL: same text as sqlite */
} tvs_migration;

/* Apply, in one transaction each, every migration above the database's
 * version, recording it in tvs_schema_version (so a migration's text must
 * not contain BEGIN or COMMIT). A database newer than the code (a version
 * above the last given) is TVS_EUNSUPPORTED: old code must not write into a
 * schema it does not know. */
int tvs_store_migrate(tvs_store_t *s, const tvs_migration *m, size_t n);
int tvs_store_schema_version(tvs_store_t *s, int *version);

/* Transactions. write=1 takes the write lock at begin; a transaction that
 * writes must say so (a read one that writes may fail TVS_EBUSY). As in
 * PostgreSQL, a failed statement kills the transaction: later statements
 * are refused and commit rolls back and returns the first error. A thread
 * holding a transaction must not make another call on the same store that
 * needs a connection when none is free: it would wait for itself. */
int tvs_store_begin(tvs_store_t *s, int write, tvs_tx_t **tx);
int tvs_tx_commit(tvs_tx_t *tx);   /* always releases tx, even on failure */
void tvs_tx_rollback(tvs_tx_t *tx); /* accepts NULL */

/* Run one statement. *changes (may be NULL) gets rows changed. */
int tvs_tx_exec(tvs_tx_t *tx, const char *sql, const tvs_val *params, size_t np, int64_t *changes);
/* Run one statement and materialise its rows into *out (zeroed first; free
 * with tvs_rows_free even on error). */
int tvs_tx_query(tvs_tx_t *tx, const char *sql, const tvs_val *params, size_t np, tvs_rows *out);

/* The same, each as its own transaction. */
int tvs_store_exec(tvs_store_t *s, const char *sql, const tvs_val *params, size_t np, int64_t *changes);
int tvs_store_query(tvs_store_t *s, const char *sql, const tvs_val *params, size_t np, tvs_rows *out);

/* Notifications (PostgreSQL's LISTEN/NOTIFY; another engine answers
 * TVS_EUNSUPPORTED). A channel is 1..63 characters of [a-z0-9_], not
 * starting with a digit; a payload is text shorter than
 * TVS_STORE_PAYLOAD_MAX + 1 bytes (PostgreSQL refuses 8000 and more):
 * longer is TVS_ETOOBIG. Delivery is at most once, to listeners connected
 * when the notification commits, on the same database (every schema: put a
 * namespace in the payload where that matters). */
#define TVS_STORE_PAYLOAD_MAX 7999

/* Send payload on channel. tx NULL: at once, in a statement of its own; a
 * transaction of s: sent only if and when tx commits (use this for news of
 * what tx writes), and a failure kills tx like any failed statement. */
int tvs_store_notify(tvs_store_t *s, tvs_tx_t *tx, const char *channel, const char *payload);

typedef struct tvs_store_listener tvs_store_listener_t;

/* What tvs_listener_wait delivered in *got. */
enum tvs_listen_got {
	TVS_LISTEN_NONE = 0,    /* the timeout passed */
	TVS_LISTEN_PAYLOAD = 1, /* one notification's payload */
	TVS_LISTEN_GAP = 2,     /* the connection was lost and is back, listening again: notifications sent
				 * meanwhile are lost, so resynchronise from the tables */
};

/* Listen on channel over a connection of its own to url (the URL a store
 * was opened with; not a pool connection). Caller closes *out with
 * tvs_listener_close. One thread at a time may use a listener. */
int tvs_store_listen(const char *url, const char *channel, tvs_store_listener_t **out);

/* Wait up to timeout_ms (>= 0) for the next notification: its payload goes
 * to payload (NUL-terminated; cap TVS_STORE_PAYLOAD_MAX + 1 holds any) and
 * *got says what came. A lost connection is re-opened here; while that
 * fails, the call waits out its timeout and returns TVS_EIO (call again). A
 * payload longer than cap - 1 is dropped: TVS_ETOOBIG. */
int tvs_listener_wait(tvs_store_listener_t *l, int timeout_ms, char *payload, size_t cap, int *got);
void tvs_listener_close(tvs_store_listener_t *l); /* accepts NULL */

/* Errors: a UNIQUE / foreign-key / CHECK / NOT NULL violation is
 * TVS_ECONFLICT with the constraint in tvs_errmsg(); a lock that outlasts the
 * busy timeout (5 s on both engines) is TVS_EBUSY, and so on PostgreSQL are a
 * serialization failure and a deadlock: retry the transaction; a bad
 * statement TVS_EINVAL (a programming error: the message names the SQL); disk
 * errors and a lost connection TVS_EIO. */

#endif
