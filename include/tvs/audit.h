/*
 * tvs audit: an append-only audit log, hash-chained so that changing,
 * deleting, inserting or reordering its rows, or cutting off its tail, shows.
 *
 * Row n stores hash_n = BLAKE2b-256_K(hash_{n-1} || enc(n, at, actor, role,
 * action, object, purpose, detail)), with hash_0 = 32 zero bytes. enc is
 * canonical and unambiguous: a format byte, seq and at as 8-byte big-endian,
 * then each text field as 0x00 (NULL) or 0x01, a 4-byte big-endian length and
 * the bytes, so NULL and "" differ and no field can bleed into the next. The
 * one-row table audit_head holds (seq, hash) of the newest row and moves in
 * the same transaction as every append, so a log that ends before the head
 * says it should has lost its tail.
 *
 * What the chain proves depends on the key K:
 *  - Keyed (a 32-byte audit key the service derives from its master key):
 *    someone with write access to the database but not the key cannot make a
 *    row whose hash verifies, so any edit, insertion, deletion, reordering or
 *    truncation is detected. This is the mode to deploy.
 *  - Unkeyed (key NULL): the hash is public arithmetic. It catches accidents
 *    and careless edits, but an attacker with write access can rewrite a row
 *    and recompute every later hash and the head, and the log verifies.
 *  - In both modes, an attacker who deletes the newest rows *and* rewrites
 *    audit_head to the new last row is not detected from the database alone;
 *    the head check catches truncation only while the head is left alone.
 *    Publishing the head hash elsewhere from time to time closes that gap.
 *
 * No biometrics, by construction. The log records who did what to which
 * object and why, never the data itself: callers must never put image or
 * template bytes (or their encodings) in any field. Fields are bounded to
 * TVS_AUDIT_MAX_FIELD bytes of valid UTF-8, which refuses raw binary and
 * anything the size of an image, but cannot recognise a small encoded
 * template: that part of the rule is the caller's.
 */
#ifndef TVS_AUDIT_H
#define TVS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "tvs/store.h"

#define TVS_AUDIT_HASH_BYTES 32
#define TVS_AUDIT_KEY_BYTES 32
#define TVS_AUDIT_MAX_FIELD 512             /* bytes per text field */
#define TVS_AUDIT_MAX_AT INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define TVS_AUDIT_MAX_PERIODS 100000        /* periods in one access report */

/* The schema: audit, its index on at, audit_head and the head's genesis row
 * (seq 0, zero hash), one statement per string for tvs_tx_exec. SQLite text;
 * the PostgreSQL backend will need BIGINT for INTEGER and BYTEA for BLOB. */
#define TVS_AUDIT_SCHEMA_COUNT 4
extern const char *const tvs_audit_schema_sql[TVS_AUDIT_SCHEMA_COUNT];
/* The same statements as one ';'-separated text, for a tvs_migration. */
extern const char tvs_audit_schema_script[];

/* One entry. actor and action are required; the other fields may be NULL
 * (stored as SQL NULL, hashed differently from ""). Every field is at most
 * TVS_AUDIT_MAX_FIELD bytes of UTF-8 and never holds biometric data. Actors
 * are "kind:id" ("device:12", "user:ana", "partner:XYZ") or "system". */
typedef struct tvs_audit_entry {
	int64_t at; /* seconds since the epoch, UTC; 0..TVS_AUDIT_MAX_AT */
	const char *actor;
	const char *role;
	const char *action;
	const char *object;
	const char *purpose;
	const char *detail;
} tvs_audit_entry;

/* Append e to the log inside tx, the caller's write transaction, so that a
 * record and its audit row commit (or roll back) together. key is
 * TVS_AUDIT_KEY_BYTES bytes, or NULL for an unkeyed chain; every append to
 * one log must use the same key. *seq_out (may be NULL) gets the new seq.
 * Returns 0; TVS_EINVAL for a bad entry (nothing run, tx still usable);
 * TVS_EINTEGRITY if audit_head does not match the newest row (the log was
 * tampered with: run tvs_audit_verify; nothing is appended); or a store
 * error. On any error the caller rolls tx back. */
int tvs_audit_append(tvs_tx_t *tx, const uint8_t *key, const tvs_audit_entry *e, int64_t *seq_out);

/* The chain hash of entry e written as seq after a row whose hash is prev
 * (all zero for seq 1), as tvs_audit_append computes it. No limits are
 * checked here. Returns 0, or TVS_EINVAL for NULL e, prev or out. */
int tvs_audit_compute_hash(const uint8_t *key, const uint8_t prev[TVS_AUDIT_HASH_BYTES], int64_t seq,
			   const tvs_audit_entry *e, uint8_t out[TVS_AUDIT_HASH_BYTES]);

enum tvs_audit_damage {
	TVS_AUDIT_INTACT = 0,
	TVS_AUDIT_CHANGED,   /* a row's content or hash no longer matches its hash */
	TVS_AUDIT_DELETED,   /* rows are missing: a gap in seq, or later rows renumbered down */
	TVS_AUDIT_INSERTED,  /* a row that was never appended sits in or after the chain */
	TVS_AUDIT_REORDERED, /* appended rows swapped places */
	TVS_AUDIT_TRUNCATED, /* audit_head names rows that are no longer there */
	TVS_AUDIT_HEAD,      /* audit_head itself was altered or removed */
	TVS_AUDIT_DAMAGE_COUNT
};

/* "intact", "changed", "deleted", "inserted", "reordered", "truncated",
 * "head_modified"; "unknown" for anything else. Static, never NULL. */
const char *tvs_audit_damage_name(int kind);

typedef struct tvs_audit_report {
	int ok;                /* 1 intact, 0 damaged */
	int kind;              /* enum tvs_audit_damage; TVS_AUDIT_INTACT when ok */
	int64_t first_bad_seq; /* the earliest seq the damage touches; 0 when ok */
	int64_t rows;          /* rows in the audit table */
	int64_t verified;      /* rows that chained correctly before the damage */
	int64_t last_seq;      /* highest seq in the table, 0 if empty */
	int64_t head_seq;      /* seq audit_head names, -1 if it has no row */
	char message[256];     /* what is wrong, for people; "" when ok */
} tvs_audit_report;

/* Walk the whole log in seq order (in pages, one read transaction, so a
 * concurrent append is not mistaken for damage) and check every row's hash,
 * its link to the row before, the seq sequence and audit_head. key as given
 * to tvs_audit_append. Fills *r and returns 0 whether or not the log is
 * intact (r->ok says which); a negative TVS_E only when the store fails.
 * The kind of damage is a best judgement from what the rows still prove;
 * first_bad_seq is where the chain first stops verifying. */
int tvs_audit_verify(tvs_store_t *s, const uint8_t *key, tvs_audit_report *r);

/* One row as stored. Strings are NUL-terminated and borrowed until the
 * callback returns; a field that is not text (only by tampering) reads as
 * NULL. Export does not verify: run tvs_audit_verify for that. */
typedef struct tvs_audit_row {
	int64_t seq;
	tvs_audit_entry e;
	uint8_t prev_hash[TVS_AUDIT_HASH_BYTES];
	uint8_t hash[TVS_AUDIT_HASH_BYTES];
} tvs_audit_row;

/* Return 0 to go on, or a negative code to stop with it. The callback runs
 * while the export holds a store connection: it must not use the store. */
typedef int (*tvs_audit_row_fn)(void *arg, const tvs_audit_row *row);

/* Call fn for every row with from <= at < to, in seq order, paging through
 * one read transaction. Returns 0, fn's negative code, or a store error. */
int tvs_audit_export(tvs_store_t *s, int64_t from, int64_t to, tvs_audit_row_fn fn, void *arg);

/* One group of an access report: actor and action borrowed until the
 * callback returns. Return 0 to go on, or a negative code to stop with it;
 * as above, the callback must not use the store. */
typedef int (*tvs_audit_count_fn)(void *arg, int64_t period_start, const char *actor, const char *action,
				  int64_t count);

/* Count rows per actor and action in each period [from + k*period, from +
 * (k+1)*period) of [from, to), the last period cut at to; period 0 means
 * one period, the whole range. Calls fn for every (period, actor, action)
 * with rows, ordered by period, actor, action; periods without rows get no
 * call (the caller knows the periods). Returns 0; TVS_EINVAL unless 0 <=
 * from < to <= TVS_AUDIT_MAX_AT + 1 and period >= 0; TVS_ETOOBIG for more
 * than TVS_AUDIT_MAX_PERIODS periods; fn's code; or a store error. */
int tvs_audit_access_report(tvs_store_t *s, int64_t from, int64_t to, int64_t period, tvs_audit_count_fn fn,
			    void *arg);

#endif
