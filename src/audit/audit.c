/*
 * The hash-chained audit log (include/tvs/audit.h): append, verify, export
 * and the per-actor access report.
 *
 * Append locks and reads audit_head, hashes the entry onto the head's hash,
 * inserts the row only if the head names the newest row, and moves the
 * head, all in the caller's write transaction: three statements, because
 * the head's lock serialises every write and each round trip under it
 * counts (see LOCK_HEAD). SQLite has one writer at a time (write
 * transactions begin IMMEDIATE), so two appends can never read the same
 * head. On PostgreSQL the head row is locked for the rest of the
 * transaction instead (LOCK_HEAD, the append's first statement); the
 * genesis head row the schema inserts exists so that there is always a row
 * to lock, even before the first append.
 *
 * Verify walks the rows in seq order, a page at a time inside one read
 * transaction (a snapshot: appends committed meanwhile are not seen, so they
 * are not mistaken for damage). Each row is checked three ways: its seq
 * follows the last good one, its prev_hash is the last good row's hash, and
 * its hash is the hash of its own content. The first row that fails stops
 * the walk, and only then is any extra work done to name the damage:
 *
 *   - a gap in seq: rows were deleted;
 *   - the row verifies but does not link: the row before it was rewritten
 *     and rehashed (only possible without a key);
 *   - the row does not verify at its own seq but does at another seq o (a
 *     genuine row moved): if the row now at o is the one that belongs here,
 *     two rows were swapped; if o is later, rows were deleted and the rest
 *     renumbered down; if o is earlier, rows were inserted before it;
 *   - the row verifies nowhere, but a later row links straight to the last
 *     good row: the rows in between were inserted;
 *   - the row lies beyond audit_head: it was inserted after the fact;
 *   - otherwise the row itself was changed.
 *
 * Where a moved row came from is found by trying seqs where it may have
 * come from: next to the row whose hash is its prev_hash, before the row
 * whose prev_hash is its hash, the head, and a window around its own seq.
 * Each try is one hash, so this is cheap, and it only runs once, on damage.
 * If the rows are intact the walk ends by comparing audit_head with the last
 * row: a head beyond the last row means a lost tail (or an altered head if
 * its hash is the last row's); any other mismatch means an altered head.
 */
#include "tvs/audit.h"
#include "tvs/error.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HASH TVS_AUDIT_HASH_BYTES
#define FORMAT_V1 0x01 /* first byte of enc(): the encoding's version */
#define PAGE 1000 /* rows per page of verify and export */
#define STR_(x) #x
#define STR(x) STR_(x)
#define PAGE_SQL " LIMIT " STR(PAGE)
#define ORIGIN_WINDOW 1024 /* seqs tried each side of a moved row */
#define NFIELDS 6

/* ---- schema ---- */

#define SQL_AUDIT                                                                                          \
	"CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, role TEXT," \
	" action TEXT NOT NULL, object TEXT, purpose TEXT, detail TEXT, prev_hash BLOB NOT NULL,"            \
	" hash BLOB NOT NULL)"
#define SQL_AUDIT_AT "CREATE INDEX audit_at ON audit (at)"
#define SQL_HEAD                                                                                           \
	"CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"             \
	" hash BLOB NOT NULL)"
#define SQL_GENESIS                                                                                        \
	"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0,"                                             \
	" X'0000000000000000000000000000000000000000000000000000000000000000')"

const char *const tvs_audit_schema_sql[TVS_AUDIT_SCHEMA_COUNT] = { SQL_AUDIT, SQL_AUDIT_AT, SQL_HEAD,
								    SQL_GENESIS };
const char tvs_audit_schema_script[] = SQL_AUDIT ";\n" SQL_AUDIT_AT ";\n" SQL_HEAD ";\n" SQL_GENESIS ";\n";

#define ROW_COLS "seq, at, actor, role, action, object, purpose, detail, prev_hash, hash"
enum { C_SEQ, C_AT, C_FIELD0, C_PREV = C_FIELD0 + NFIELDS, C_HASH, C_COUNT };

static const uint8_t zero_hash[HASH];

/* ---- the chain hash ---- */

/* A text field: p NULL for SQL NULL. */
struct field {
	const char *p;
	size_t n;
};

static void put_be(uint8_t *out, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static void chain_hash(const uint8_t *key, const uint8_t *prev, int64_t seq, int64_t at, const struct field *f,
		       uint8_t out[HASH])
{
	crypto_generichash_state st;
	uint8_t buf[1 + 8 + 8];

	TVS_ASSERT(crypto_generichash_init(&st, key, key ? TVS_AUDIT_KEY_BYTES : 0, HASH) == 0);
	crypto_generichash_update(&st, prev, HASH);
	buf[0] = FORMAT_V1;
	put_be(buf + 1, (uint64_t)seq, 8);
	put_be(buf + 9, (uint64_t)at, 8);
	crypto_generichash_update(&st, buf, sizeof(buf));
	for (int i = 0; i < NFIELDS; i++) {
		buf[0] = f[i].p ? 1 : 0;
		put_be(buf + 1, f[i].p ? f[i].n : 0, 4);
		crypto_generichash_update(&st, buf, f[i].p ? 5 : 1);
		if (f[i].p && f[i].n)
			crypto_generichash_update(&st, (const uint8_t *)f[i].p, f[i].n);
	}
	crypto_generichash_final(&st, out, HASH);
	sodium_memzero(&st, sizeof(st));
}

static void entry_fields(const tvs_audit_entry *e, struct field f[NFIELDS])
{
	const char *s[NFIELDS] = { e->actor, e->role, e->action, e->object, e->purpose, e->detail };

	for (int i = 0; i < NFIELDS; i++)
		f[i] = (struct field){ s[i], s[i] ? strlen(s[i]) : 0 };
}

int tvs_audit_compute_hash(const uint8_t *key, const uint8_t prev[TVS_AUDIT_HASH_BYTES], int64_t seq,
			   const tvs_audit_entry *e, uint8_t out[TVS_AUDIT_HASH_BYTES])
{
	struct field f[NFIELDS];

	if (!prev || !e || !out)
		return tvs__err(TVS_EINVAL, "audit: NULL argument");
	entry_fields(e, f);
	chain_hash(key, prev, seq, e->at, f, out);
	return 0;
}

/* ---- append ---- */

static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static const char *const field_names[NFIELDS] = { "actor", "role", "action", "object", "purpose", "detail" };

static int check_entry(const tvs_audit_entry *e, struct field f[NFIELDS])
{
	if (!e)
		return tvs__err(TVS_EINVAL, "audit: no entry");
	if (e->at < 0 || e->at > TVS_AUDIT_MAX_AT)
		return tvs__err(TVS_EINVAL, "audit: at %lld is out of range", (long long)e->at);
	if (!e->actor || !e->action)
		return tvs__err(TVS_EINVAL, "audit: actor and action are required");
	entry_fields(e, f);
	for (int i = 0; i < NFIELDS; i++) {
		if (!f[i].p)
			continue;
		if (f[i].n > TVS_AUDIT_MAX_FIELD)
			return tvs__err(TVS_EINVAL, "audit: %s is %zu bytes, the limit is %d (no biometric data here)",
					field_names[i], f[i].n, TVS_AUDIT_MAX_FIELD);
		if (!utf8_valid((const unsigned char *)f[i].p, f[i].n))
			return tvs__err(TVS_EINVAL, "audit: %s is not valid UTF-8", field_names[i]);
	}
	return 0;
}

static int sodium_ready(void)
{
	return sodium_init() < 0 ? tvs__err(TVS_EIO, "audit: libsodium failed to initialise") : 0;
}

/* The statements an append runs while it holds the head's lock: that lock
 * serialises every write in the system, across nodes, so each round trip
 * under it lowers the ceiling on appends/s (docs/sizing.md). Three
 * statements and the commit, one text for both engines:
 *
 * LOCK_HEAD takes the head row's lock and reads the head in one statement:
 * a no-op UPDATE locks the row on PostgreSQL (READ COMMITTED writers run
 * side by side) and is simply the writer's first write on SQLite, where
 * writers are serial anyway; FOR UPDATE would need a text per engine. On
 * PostgreSQL an UPDATE that waited for the lock re-reads the locked row
 * itself, so RETURNING gives the head the previous append committed.
 *
 * INSERT_CHECKED inserts the row only if the head names the newest row:
 * that row has the head's seq and hash, or there is no row and the head is
 * genesis (the last parameter says whether it is). 0 rows inserted means
 * the check failed. One subquery, the plan of reading the newest row on its
 * own: the same check as three EXISTS measured slower on PostgreSQL than
 * the round trip it saved. The check cannot ride on LOCK_HEAD: a PostgreSQL
 * statement reads other tables in the snapshot it took when it started,
 * before its lock wait, so it would see the audit table as it was before
 * the previous append committed. INSERT_CHECKED starts after the lock is
 * held, so its snapshot holds every committed append.
 *
 * MOVE_HEAD moves the head onto the new row. */
#define LOCK_HEAD "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
#define INSERT_CHECKED                                                                                     \
	"INSERT INTO audit (" ROW_COLS ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"                              \
	" WHERE COALESCE((SELECT CASE WHEN seq = ? AND hash = ? THEN 1 ELSE 0 END"                          \
	" FROM audit ORDER BY seq DESC LIMIT 1), ?) = 1"
#define MOVE_HEAD "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"

/* The head does not name the newest row (INSERT_CHECKED refused) or is
 * malformed: say so, naming the newest row. Only runs on a tampered log, so
 * it may cost a statement. */
static int head_mismatch(tvs_tx_t *tx, int64_t head_seq)
{
	tvs_rows last = { 0 };
	int rc = tvs_tx_query(tx, "SELECT seq FROM audit ORDER BY seq DESC LIMIT 1", NULL, 0, &last);
	long long ls = rc == 0 && last.nrows ? (long long)tvs_rows_int(&last, 0, 0) : 0LL;

	tvs_rows_free(&last);
	if (rc)
		return rc;
	return tvs__err(TVS_EINTEGRITY,
			"audit: audit_head (seq %lld) does not match the newest row (seq %lld); run tvs audit verify",
			(long long)head_seq, ls);
}

/* Lock the head; *seq and prev from it, after checking it is well formed
 * (a seq that can grow, a hash of the right size). Whether it names the
 * newest row is INSERT_CHECKED's part. */
static int lock_head(tvs_tx_t *tx, int64_t *seq, uint8_t prev[HASH])
{
	tvs_rows head = { 0 };
	const void *hh;
	size_t hn;
	int64_t hs;
	int rc;

	rc = tvs_tx_query(tx, LOCK_HEAD, NULL, 0, &head);
	if (rc)
		goto out;
	if (head.nrows != 1) {
		rc = tvs__err(TVS_EINTEGRITY, "audit: audit_head has no row; run tvs audit verify");
		goto out;
	}
	hs = tvs_rows_int(&head, 0, 0);
	hh = tvs_rows_blob(&head, 0, 1, &hn);
	if (!hh || hn != HASH || head.cells[0].type != TVS_VAL_INT || hs < 0 || hs == INT64_MAX) {
		rc = head_mismatch(tx, hs);
		goto out;
	}
	*seq = hs;
	memcpy(prev, hh, HASH);
out:
	tvs_rows_free(&head);
	return rc;
}

int tvs_audit_append(tvs_tx_t *tx, const uint8_t *key, const tvs_audit_entry *e, int64_t *seq_out)
{
	struct field f[NFIELDS];
	uint8_t prev[HASH], hash[HASH];
	int64_t head = 0, seq, changes = 0;
	int rc;

	if (!tx)
		return tvs__err(TVS_EINVAL, "audit: no transaction");
	rc = check_entry(e, f);
	if (rc == 0)
		rc = sodium_ready();
	if (rc == 0)
		rc = lock_head(tx, &head, prev);
	if (rc)
		return rc;
	seq = head + 1;
	chain_hash(key, prev, seq, e->at, f, hash);

	/* the row, then INSERT_CHECKED's check: the head's seq and hash, and
	 * whether an empty log is right (the head is genesis) */
	int genesis = head == 0 && memcmp(prev, zero_hash, HASH) == 0;
	tvs_val v[C_COUNT + 3] = { TVS_VINT(seq),	  TVS_VINT(e->at),	 TVS_VTEXT(e->actor),
				   TVS_VTEXT(e->role),	  TVS_VTEXT(e->action),	 TVS_VTEXT(e->object),
				   TVS_VTEXT(e->purpose), TVS_VTEXT(e->detail),	 TVS_VBLOB(prev, HASH),
				   TVS_VBLOB(hash, HASH), TVS_VINT(head),	 TVS_VBLOB(prev, HASH),
				   TVS_VINT(genesis) };
	rc = tvs_tx_exec(tx, INSERT_CHECKED, v, C_COUNT + 3, &changes);
	if (rc)
		return rc;
	if (changes != 1)
		return head_mismatch(tx, head);
	tvs_val h[2] = { TVS_VINT(seq), TVS_VBLOB(hash, HASH) };
	rc = tvs_tx_exec(tx, MOVE_HEAD, h, 2, &changes);
	if (rc)
		return rc;
	if (changes != 1)
		return tvs__err(TVS_EINTEGRITY, "audit: audit_head vanished during the append");
	if (seq_out)
		*seq_out = seq;
	return 0;
}

/* ---- verify ---- */

const char *tvs_audit_damage_name(int kind)
{
	static const char *const names[TVS_AUDIT_DAMAGE_COUNT] = {
		[TVS_AUDIT_INTACT] = "intact",	     [TVS_AUDIT_CHANGED] = "changed",
		[TVS_AUDIT_DELETED] = "deleted",     [TVS_AUDIT_INSERTED] = "inserted",
		[TVS_AUDIT_REORDERED] = "reordered", [TVS_AUDIT_TRUNCATED] = "truncated",
		[TVS_AUDIT_HEAD] = "head_modified",
	};

	return kind >= 0 && kind < TVS_AUDIT_DAMAGE_COUNT ? names[kind] : "unknown";
}

/* A row as read back. Anything but the types append writes makes it
 * malformed: it verifies nowhere. Pointers borrow the rows it came from. */
struct arow {
	int64_t seq, at;
	int wellformed;
	struct field f[NFIELDS];
	const uint8_t *prev, *hash;
};

static void parse_row(const tvs_rows *r, size_t i, struct arow *a)
{
	const tvs_val *c = &r->cells[i * r->ncols];

	memset(a, 0, sizeof(*a));
	a->seq = c[C_SEQ].i; /* an INTEGER PRIMARY KEY is always an integer */
	a->wellformed = c[C_AT].type == TVS_VAL_INT && c[C_PREV].type == TVS_VAL_BLOB && c[C_PREV].n == HASH &&
			c[C_HASH].type == TVS_VAL_BLOB && c[C_HASH].n == HASH;
	a->at = c[C_AT].i;
	for (int k = 0; k < NFIELDS; k++) {
		const tvs_val *v = &c[C_FIELD0 + k];

		if (v->type == TVS_VAL_TEXT && v->n <= UINT32_MAX)
			a->f[k] = (struct field){ v->p, v->n };
		else if (v->type != TVS_VAL_NULL)
			a->wellformed = 0;
	}
	if (c[C_PREV].type == TVS_VAL_BLOB && c[C_PREV].n == HASH)
		a->prev = c[C_PREV].p;
	if (c[C_HASH].type == TVS_VAL_BLOB && c[C_HASH].n == HASH)
		a->hash = c[C_HASH].p;
}

struct verifier {
	tvs_tx_t *tx;
	const uint8_t *key;
	tvs_audit_report *r;
	int have_head;
	int64_t head_seq;
	uint8_t head_hash[HASH];
	int head_wellformed;
	int64_t expect;      /* the seq the next row must have */
	uint8_t prev[HASH];  /* hash of the last good row */
	int have_hash_at_head;
	uint8_t hash_at_head[HASH]; /* hash of the row at head_seq, once walked past */
};

/* Does row a verify if it were written as seq? */
static int verifies_as(const struct verifier *v, const struct arow *a, int64_t seq)
{
	uint8_t h[HASH];

	if (!a->wellformed || seq < 1)
		return 0;
	chain_hash(v->key, a->prev, seq, a->at, a->f, h);
	return sodium_memcmp(h, a->hash, HASH) == 0;
}

/* Record damage in the report; returns 1 (the walk stops). */
__attribute__((format(printf, 4, 5))) static int damage(struct verifier *v, int kind, int64_t seq,
							 const char *fmt, ...)
{
	va_list ap;

	v->r->ok = 0;
	v->r->kind = kind;
	v->r->first_bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->r->message, sizeof(v->r->message), fmt, ap);
	va_end(ap);
	return 1;
}

/* The seq of the first row matching sql with its params, or 0 if none. */
static int find_seq(struct verifier *v, const char *sql, const tvs_val *p, size_t np, int64_t *seq)
{
	tvs_rows r;
	int rc = tvs_tx_query(v->tx, sql, p, np, &r);

	*seq = rc == 0 && r.nrows ? tvs_rows_int(&r, 0, 0) : 0;
	tvs_rows_free(&r);
	return rc;
}

/* Where a genuine row a (which does not verify at its own seq) was written:
 * *o gets that seq, or 0 if it verifies at none of the seqs tried. */
static int find_origin(struct verifier *v, const struct arow *a, int64_t *o)
{
	int64_t cand[4], n = 0, c, s = a->seq;
	int rc;

	*o = 0;
	if (!a->wellformed)
		return 0;
	if (memcmp(a->prev, zero_hash, HASH) == 0)
		cand[n++] = 1;
	tvs_val p[2] = { TVS_VBLOB(a->prev, HASH), TVS_VINT(s) };
	rc = find_seq(v, "SELECT seq FROM audit WHERE hash = ? AND seq <> ? ORDER BY seq LIMIT 1", p, 2, &c);
	if (rc)
		return rc;
	if (c)
		cand[n++] = c + 1;
	p[0] = TVS_VBLOB(a->hash, HASH);
	rc = find_seq(v, "SELECT seq FROM audit WHERE prev_hash = ? AND seq <> ? ORDER BY seq LIMIT 1", p, 2, &c);
	if (rc)
		return rc;
	if (c)
		cand[n++] = c - 1;
	if (v->have_head && v->head_wellformed && memcmp(v->head_hash, a->hash, HASH) == 0)
		cand[n++] = v->head_seq;
	for (int64_t i = 0; i < n; i++)
		if (cand[i] != s && verifies_as(v, a, cand[i])) {
			*o = cand[i];
			return 0;
		}
	for (int64_t d = 1; d <= ORIGIN_WINDOW; d++) {
		if (s <= INT64_MAX - d && verifies_as(v, a, s + d)) {
			*o = s + d;
			return 0;
		}
		if (s - d >= 1 && verifies_as(v, a, s - d)) {
			*o = s - d;
			return 0;
		}
	}
	return 0;
}

/* Does the row now at seq at verify as seq want? */
static int row_at_verifies_as(struct verifier *v, int64_t at, int64_t want, int *yes)
{
	tvs_val p = TVS_VINT(at);
	tvs_rows r;
	struct arow b;
	int rc = tvs_tx_query(v->tx, "SELECT " ROW_COLS " FROM audit WHERE seq = ?", &p, 1, &r);

	*yes = 0;
	if (rc == 0 && r.nrows == 1) {
		parse_row(&r, 0, &b);
		*yes = verifies_as(v, &b, want);
	}
	tvs_rows_free(&r);
	return rc;
}

/* Name the damage at row a, which does not verify at its own seq. */
static int classify(struct verifier *v, const struct arow *a)
{
	long long s = a->seq, o, t;
	int64_t o64, t64;
	int swapped, rc;

	rc = find_origin(v, a, &o64);
	if (rc)
		return rc;
	o = o64;
	if (o > s) {
		rc = row_at_verifies_as(v, o, s, &swapped);
		if (rc)
			return rc;
		if (swapped)
			return damage(v, TVS_AUDIT_REORDERED, s, "rows %lld and %lld hold each other's entries", s, o);
		return damage(v, TVS_AUDIT_DELETED, s,
			      "row %lld holds the entry written as seq %lld: %lld row(s) from %lld were deleted"
			      " and later rows renumbered",
			      s, o, o - s, s);
	}
	if (o > 0)
		return damage(v, TVS_AUDIT_INSERTED, o,
			      "row %lld holds the entry written as seq %lld: %lld row(s) were inserted before it", s, o,
			      s - o);
	tvs_val p[2] = { TVS_VBLOB(v->prev, HASH), TVS_VINT(s) };
	rc = find_seq(v, "SELECT seq FROM audit WHERE prev_hash = ? AND seq > ? ORDER BY seq LIMIT 1", p, 2, &t64);
	if (rc)
		return rc;
	t = t64;
	if (t)
		return damage(v, TVS_AUDIT_INSERTED, s,
			      "rows %lld..%lld do not belong to the chain: row %lld links straight to row %lld", s,
			      t - 1, t, s - 1);
	if (v->have_head && s > v->head_seq)
		return damage(v, TVS_AUDIT_INSERTED, s, "row %lld lies beyond audit_head (seq %lld) and does not verify",
			      s, (long long)v->head_seq);
	if (s == 1 && a->prev && memcmp(a->prev, zero_hash, HASH) == 0)
		return damage(v, TVS_AUDIT_CHANGED, s,
			      "row 1 does not match its hash: it was changed, or the log was written with another key");
	return damage(v, TVS_AUDIT_CHANGED, s, "row %lld does not match its hash: its content was changed", s);
}

/* 0: the row is good and the walk goes on; 1: damage recorded; < 0 error. */
static int check_row(struct verifier *v, const struct arow *a)
{
	long long s = a->seq;
	int self, link;

	if (s < 1)
		return damage(v, TVS_AUDIT_INSERTED, s, "row %lld comes before the first seq, 1", s);
	if (s > v->expect)
		return damage(v, TVS_AUDIT_DELETED, v->expect, "rows %lld..%lld are missing", (long long)v->expect,
			      s - 1);
	self = verifies_as(v, a, s);
	link = a->prev && memcmp(a->prev, v->prev, HASH) == 0;
	if (self && link) {
		memcpy(v->prev, a->hash, HASH);
		if (v->have_head && s == v->head_seq) {
			memcpy(v->hash_at_head, a->hash, HASH);
			v->have_hash_at_head = 1;
		}
		v->expect++;
		v->r->verified++;
		v->r->last_seq = s;
		return 0;
	}
	if (self) {
		if (s == 1)
			return damage(v, TVS_AUDIT_CHANGED, 1, "row 1 verifies but does not start from the zero hash");
		return damage(v, TVS_AUDIT_CHANGED, s - 1,
			      "row %lld was rewritten and rehashed: row %lld was chained to another hash", s - 1, s);
	}
	return classify(v, a);
}

/* The log's rows are intact up to r->last_seq: compare audit_head. */
static void check_head(struct verifier *v)
{
	long long h = v->head_seq, last = v->r->last_seq;

	if (!v->have_head) {
		damage(v, TVS_AUDIT_HEAD, last, "audit_head has no row");
	} else if (!v->head_wellformed || h < 0) {
		damage(v, TVS_AUDIT_HEAD, last, "audit_head is malformed");
	} else if (h > last) {
		if (memcmp(v->head_hash, v->prev, HASH) == 0)
			damage(v, TVS_AUDIT_HEAD, last, "audit_head names seq %lld but holds row %lld's hash", h, last);
		else
			damage(v, TVS_AUDIT_TRUNCATED, last + 1,
			       "audit_head says the log ends at seq %lld, but it ends at %lld: rows %lld..%lld are gone",
			       h, last, last + 1, h);
	} else if (h == last) {
		if (memcmp(v->head_hash, v->prev, HASH) != 0)
			damage(v, TVS_AUDIT_HEAD, last, "audit_head's hash is not row %lld's hash", last);
	} else if (!(h == 0 ? memcmp(v->head_hash, zero_hash, HASH) == 0
			    : v->have_hash_at_head && memcmp(v->head_hash, v->hash_at_head, HASH) == 0)) {
		damage(v, TVS_AUDIT_HEAD, h + 1, "audit_head names seq %lld with a hash that is not that row's", h);
	} else if (v->key) {
		/* rows past the head verify under the key: they were appended,
		 * so it is the head that moved back */
		damage(v, TVS_AUDIT_HEAD, h + 1, "audit_head names seq %lld but rows up to %lld verify", h, last);
	} else {
		damage(v, TVS_AUDIT_INSERTED, h + 1,
		       "rows %lld..%lld follow audit_head (seq %lld); unkeyed, they may have been added", h + 1, last,
		       h);
	}
}

static int read_verify_head(struct verifier *v)
{
	tvs_rows r;
	size_t n = 0;
	const void *p;
	int rc = tvs_tx_query(v->tx, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, &r);

	if (rc == 0 && r.nrows == 1) {
		v->have_head = 1;
		v->head_seq = tvs_rows_int(&r, 0, 0);
		p = tvs_rows_blob(&r, 0, 1, &n);
		v->head_wellformed = p && n == HASH && r.cells[0].type == TVS_VAL_INT;
		if (v->head_wellformed)
			memcpy(v->head_hash, p, HASH);
	}
	v->r->head_seq = v->have_head ? v->head_seq : -1;
	tvs_rows_free(&r);
	return rc;
}

int tvs_audit_verify(tvs_store_t *s, const uint8_t *key, tvs_audit_report *r)
{
	struct verifier v = { .key = key, .r = r, .expect = 1 };
	int64_t cursor = INT64_MIN;
	tvs_rows page;
	int rc, found = 0;

	if (!s || !r)
		return tvs__err(TVS_EINVAL, "audit: NULL argument");
	memset(r, 0, sizeof(*r));
	rc = sodium_ready();
	if (rc)
		return rc;
	rc = tvs_store_begin(s, 0, &v.tx);
	if (rc)
		return rc;
	rc = read_verify_head(&v);
	if (rc)
		goto out;
	for (;;) {
		tvs_val p = TVS_VINT(cursor);
		struct arow a;
		size_t n;

		rc = tvs_tx_query(v.tx, "SELECT " ROW_COLS " FROM audit WHERE seq >= ? ORDER BY seq" PAGE_SQL, &p,
				  1, &page);
		if (rc) {
			tvs_rows_free(&page);
			goto out;
		}
		TVS_ASSERT(page.nrows == 0 || page.ncols == C_COUNT);
		n = page.nrows;
		for (size_t i = 0; i < n && !found; i++) {
			parse_row(&page, i, &a);
			rc = check_row(&v, &a);
			if (rc < 0) {
				tvs_rows_free(&page);
				goto out;
			}
			found = rc;
			cursor = a.seq;
		}
		tvs_rows_free(&page);
		if (found || n < PAGE || cursor == INT64_MAX)
			break;
		cursor++;
	}
	rc = 0;
	if (found) {
		tvs_rows c;

		rc = tvs_tx_query(v.tx, "SELECT count(*), max(seq) FROM audit", NULL, 0, &c);
		r->rows = tvs_rows_int(&c, 0, 0);
		r->last_seq = tvs_rows_int(&c, 0, 1);
		tvs_rows_free(&c);
	} else {
		r->rows = r->verified;
		check_head(&v);
		if (r->kind == TVS_AUDIT_INTACT)
			r->ok = 1;
	}
out:
	tvs_tx_rollback(v.tx);
	return rc;
}

/* ---- export and the access report ---- */

static void copy_hash(uint8_t out[HASH], const tvs_val *c)
{
	if (c->type == TVS_VAL_BLOB && c->n == HASH)
		memcpy(out, c->p, HASH);
	else
		memset(out, 0, HASH);
}

int tvs_audit_export(tvs_store_t *s, int64_t from, int64_t to, tvs_audit_row_fn fn, void *arg)
{
	tvs_tx_t *tx;
	int64_t cursor = INT64_MIN;
	int rc;

	if (!s || !fn)
		return tvs__err(TVS_EINVAL, "audit: NULL argument");
	rc = tvs_store_begin(s, 0, &tx);
	if (rc)
		return rc;
	for (;;) {
		tvs_val p[3] = { TVS_VINT(cursor), TVS_VINT(from), TVS_VINT(to) };
		tvs_rows page;
		size_t n;

		rc = tvs_tx_query(tx,
				  "SELECT " ROW_COLS " FROM audit WHERE seq >= ? AND at >= ? AND at < ?"
				  " ORDER BY seq" PAGE_SQL,
				  p, 3, &page);
		n = page.nrows;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			tvs_audit_row row;

			row.seq = tvs_rows_int(&page, i, C_SEQ);
			row.e.at = tvs_rows_int(&page, i, C_AT);
			row.e.actor = tvs_rows_text(&page, i, C_FIELD0 + 0);
			row.e.role = tvs_rows_text(&page, i, C_FIELD0 + 1);
			row.e.action = tvs_rows_text(&page, i, C_FIELD0 + 2);
			row.e.object = tvs_rows_text(&page, i, C_FIELD0 + 3);
			row.e.purpose = tvs_rows_text(&page, i, C_FIELD0 + 4);
			row.e.detail = tvs_rows_text(&page, i, C_FIELD0 + 5);
			copy_hash(row.prev_hash, &page.cells[i * page.ncols + C_PREV]);
			copy_hash(row.hash, &page.cells[i * page.ncols + C_HASH]);
			cursor = row.seq;
			rc = fn(arg, &row);
		}
		tvs_rows_free(&page);
		if (rc || n < PAGE || cursor == INT64_MAX)
			break;
		cursor++;
	}
	tvs_tx_rollback(tx);
	return rc;
}

int tvs_audit_access_report(tvs_store_t *s, int64_t from, int64_t to, int64_t period, tvs_audit_count_fn fn,
			    void *arg)
{
	static const char sql[] = "SELECT actor, action, count(*) FROM audit WHERE at >= ? AND at < ?"
				  " GROUP BY actor, action ORDER BY actor, action";
	tvs_tx_t *tx;
	int64_t nperiods;
	int rc;

	if (!s || !fn)
		return tvs__err(TVS_EINVAL, "audit: NULL argument");
	if (from < 0 || to <= from || to > TVS_AUDIT_MAX_AT + 1 || period < 0)
		return tvs__err(TVS_EINVAL, "audit: report range [%lld, %lld) or period %lld is invalid",
				(long long)from, (long long)to, (long long)period);
	if (period == 0)
		period = to - from;
	nperiods = (to - from + period - 1) / period;
	if (nperiods > TVS_AUDIT_MAX_PERIODS)
		return tvs__err(TVS_ETOOBIG, "audit: %lld periods, the limit is %d", (long long)nperiods,
				TVS_AUDIT_MAX_PERIODS);
	rc = tvs_store_begin(s, 0, &tx);
	if (rc)
		return rc;
	for (int64_t k = 0; rc == 0 && k < nperiods; k++) {
		int64_t start = from + k * period, end = to - start > period ? start + period : to;
		tvs_val p[2] = { TVS_VINT(start), TVS_VINT(end) };
		tvs_rows r;

		rc = tvs_tx_query(tx, sql, p, 2, &r);
		for (size_t i = 0; rc == 0 && i < r.nrows; i++) {
			const char *actor = tvs_rows_text(&r, i, 0), *action = tvs_rows_text(&r, i, 1);

			rc = fn(arg, start, actor ? actor : "", action ? action : "", tvs_rows_int(&r, i, 2));
		}
		tvs_rows_free(&r);
	}
	tvs_tx_rollback(tx);
	return rc;
}
