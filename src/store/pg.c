/*
 * The PostgreSQL backend of tvs store (store_int.h), over libpq.
 *
 * URL. "postgres://..." or "postgresql://..." goes to libpq as it is, so
 * every libpq URI parameter works (host=/socket/dir, sslmode, options, ...),
 * over two defaults the URL may override: connect_timeout 10 s and
 * application_name "tvs/PID". No error message repeats the URL: it may hold a
 * password.
 *
 * Session. Each connection sets: notices discarded (the library never prints),
 * client_encoding UTF8, standard_conforming_strings on (a backslash in '...'
 * is a plain character, which the placeholder scan below relies on),
 * bytea_output hex, extra_float_digits 3 (floats print exactly), TimeZone UTC,
 * and lock_timeout 5 s, the same wait SQLite's busy timeout allows: a lock
 * held longer fails with 55P03, which is TVS_EBUSY.
 *
 * Statements. Callers write '?' placeholders; run() renumbers them $1..$n,
 * skipping string literals ('...', E'...' with backslash escapes), quoted
 * identifiers, comments (-- and nested slash-star) and dollar quotes ($$...$$,
 * $tag$...$tag$). So a '?' outside those is always a placeholder: the jsonb
 * operators ?, ?| and ?& cannot be written (use jsonb_exists() and friends).
 * Parameters are sent in binary with their types: INT as int8, REAL as
 * float8, TEXT as text, BLOB as bytea; NULL as an untyped NULL whose type the
 * server infers from where it stands (so "? IS NULL" alone cannot be typed:
 * write "CAST(? AS TEXT) IS NULL"). PostgreSQL text cannot hold a NUL byte:
 * such a TEXT parameter is TVS_EINVAL here rather than a server error.
 * PQexecParams runs exactly one statement, which is the store's contract.
 *
 * Results come back as text and are converted by column type: int2, int4,
 * int8, oid and bool are INT (bool as 0/1, as SQLite gives a comparison);
 * float4 and float8 are REAL; numeric is INT when it is a whole number that
 * fits (sum() of bigint is numeric) and REAL otherwise; bytea is BLOB (hex
 * decoded); everything else (text, varchar, timestamps, json...) is TEXT.
 *
 * Transactions. A write transaction is BEGIN ISOLATION LEVEL READ COMMITTED.
 * Unlike SQLite's BEGIN IMMEDIATE, that does not make writers take turns:
 * two write transactions run at once, each statement sees what others had
 * committed when it started, and a row another transaction has changed but
 * not committed makes an UPDATE or DELETE of it wait. A caller that needs a
 * serial section (read, decide, write) must lock what it reads (SELECT ...
 * FOR UPDATE, or an advisory lock) or retry. A read transaction is REPEATABLE
 * READ, which is what SQLite gives a reader: one snapshot for the whole
 * transaction. A failed statement aborts a PostgreSQL transaction by itself
 * (later statements: 25P02); store.c refuses them before they get here.
 *
 * Errors, by SQLSTATE: class 23 (unique, foreign key, check, not null,
 * exclusion) is TVS_ECONFLICT, named like SQLite's ("UNIQUE constraint
 * failed: ... \"t_k_key\""); 40001 (serialization), 40P01 (deadlock), 55P03
 * (lock timeout or NOWAIT), 55006, 57014 (statement timeout) and 53300 (too
 * many connections) are TVS_EBUSY; syntax, undefined objects, bad data and
 * the like (classes 0A 21 22 25 26 2B 34 3F 42 44) are TVS_EINVAL, naming
 * the SQL; 42501 and class 28 are TVS_EDENIED; a lost connection, class 08,
 * 57P and 58 are TVS_EIO. A message never includes the server's DETAIL line,
 * which repeats row values (a document number, a name); only a malformed
 * value the server could not parse (class 22) is quoted in the main line.
 *
 * Migrations run through PQexec (the simple protocol, so a text may hold
 * several statements) inside the migration's transaction, after an advisory
 * lock that makes concurrent migrators take turns (pg_lock_migrations).
 *
 * A connection found broken when no transaction is open on it is reset
 * (reconnected and set up again) before its next use; inside a transaction
 * the statement fails TVS_EIO, the transaction is gone, and the reset happens
 * at the next begin.
 *
 * Notifications (the end of this file). tvs_store_notify is pg_notify() run
 * through the store's own calls, in the caller's transaction or alone, so a
 * notification of a write goes out only if the write commits. A listener has
 * a connection of its own, opened from the URL (the store keeps none: its
 * pool connections come and go between callers), which only ever LISTENs:
 * tvs_listener_wait polls its socket, PQconsumeInput, PQnotifies. A lost
 * connection (the server restarted, pg_terminate_backend, a network cut that
 * TCP notices) is reopened and LISTENs again, and the caller is told
 * (TVS_LISTEN_GAP): what was sent in between is gone, as NOTIFY keeps
 * nothing for absent listeners. A silent half-open connection is found only
 * by libpq's TCP keepalives.
 */
#include "store/store_int.h"

#include <errno.h>
#include <limits.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_TIMEOUT_MS 5000	 /* as SQLite's busy timeout */
#define CONNECT_TIMEOUT_S "10" /* unless the URL says otherwise */
#define SQL_SHOWN 80		 /* characters of the SQL named in an error */
#define MAX_PARAMS 65535	 /* the protocol counts parameters in 16 bits */
#define MIN_SERVER 100000	 /* PostgreSQL 10: identity columns */

/* type OIDs, fixed in pg_type.dat */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

struct pgconn {
	PGconn *c;
	int in_tx; /* a BEGIN of ours is open */
};

/* ---- errors ---- */

/* Copy msg to buf on one line: libpq's own messages span several, with
 * tabs; every run of blanks that holds a line break becomes one space. */
static const char *one_line(const char *msg, char *buf, size_t cap)
{
	size_t n = 0;

	for (const char *p = msg ? msg : ""; *p && n + 1 < cap; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			while (p[1] == '\n' || p[1] == '\r' || p[1] == '\t' || p[1] == ' ')
				p++;
			if (n && buf[n - 1] != ' ')
				buf[n++] = ' ';
			continue;
		}
		buf[n++] = *p;
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* "class" is the SQLSTATE's first two characters */
static int in_class(const char *state, const char *const *classes)
{
	for (; *classes; classes++)
		if (!strncmp(state, *classes, 2))
			return 1;
	return 0;
}

static int code_for(const char *state)
{
	static const char *const invalid[] = {"0A", "21", "22", "25", "26", "2B", "34", "3F", "42", "44", NULL};
	static const char *const busy[] = {"40001", "40P01", "55P03", "55006", "57014", "53300", NULL};

	if (!state || strlen(state) != 5)
		return TVS_EIO;
	for (const char *const *b = busy; *b; b++)
		if (!strcmp(state, *b))
			return TVS_EBUSY;
	if (!strncmp(state, "23", 2))
		return TVS_ECONFLICT;
	if (!strcmp(state, "42501") || !strncmp(state, "28", 2))
		return TVS_EDENIED;
	if (!strcmp(state, "53200"))
		return TVS_ENOMEM;
	if (!strncmp(state, "54", 2))
		return TVS_ETOOBIG;
	if (!strcmp(state, "XX001") || !strcmp(state, "XX002"))
		return TVS_EINTEGRITY;
	if (in_class(state, invalid))
		return TVS_EINVAL;
	return TVS_EIO; /* 08 connection, 53 resources, 57P shutdown, 58 system, XX internal */
}

static const char *constraint_kind(const char *state)
{
	if (!strcmp(state, "23505"))
		return "UNIQUE";
	if (!strcmp(state, "23503"))
		return "FOREIGN KEY";
	if (!strcmp(state, "23514"))
		return "CHECK";
	if (!strcmp(state, "23502"))
		return "NOT NULL";
	if (!strcmp(state, "23P01"))
		return "EXCLUSION";
	return "integrity";
}

/* Map a failed result (or, with res NULL, the connection's last error) to a
 * TVS_E*, recording what and where. */
static int fail(PGconn *c, const PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char text[320];
	int code;

	if (!msg)
		msg = res ? PQresultErrorMessage(res) : c ? PQerrorMessage(c) : "";
	if (!msg || !*msg)
		msg = c ? PQerrorMessage(c) : "no error text";
	one_line(msg, text, sizeof(text));
	if (!sql)
		sql = "";
	if (!state) { /* raised by libpq itself: the connection, or memory */
		if (c && PQstatus(c) == CONNECTION_BAD)
			return tvs__err(TVS_EIO, "postgresql: connection lost: %s", text);
		return tvs__err(res ? TVS_EIO : TVS_ENOMEM, "postgresql: %s", text);
	}
	code = code_for(state);
	switch (code) {
	case TVS_ECONFLICT:
		return tvs__err(code, "postgresql: %s constraint failed: %s (%s)", constraint_kind(state), text, state);
	case TVS_EBUSY:
	case TVS_EINVAL:
		return tvs__err(code, "postgresql: %s (%s) in \"%.*s\"", text, state, SQL_SHOWN, sql);
	default: return tvs__err(code, "postgresql: %s (%s)", text, state);
	}
}

/* ---- placeholders ---- */

static int ident_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
	       ch == '$' || ch >= 0x80;
}

/* Length of the dollar-quote tag at s ("$$", "$tag$"), or 0 if none. */
static size_t dollar_tag(const char *s)
{
	const unsigned char *p = (const unsigned char *)s + 1;

	if (*s != '$')
		return 0;
	if (*p != '$' && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p >= 0x80))
		return 0; /* "$1" is a parameter, not a tag */
	while (*p != '$' && *p && ident_char(*p))
		p++;
	return *p == '$' ? (size_t)((const char *)p - s) + 1 : 0;
}

/* Copy sql to a new string (caller frees *out) with every '?' outside quotes
 * and comments turned into $1, $2 ...; *count gets how many. */
static int renumber(const char *sql, char **out, size_t *count)
{
	size_t len = strlen(sql), q = 0, k = 0;
	const char *s = sql;
	char *o;

	*out = NULL;
	*count = 0;
	for (const char *p = sql; *p; p++)
		q += *p == '?';
	/* "$65535" replaces one character: 5 more each, and more are refused */
	if (!(o = *out = malloc(len + (q < MAX_PARAMS ? q : MAX_PARAMS) * 5 + 1)))
		return tvs__err(TVS_ENOMEM, "store: statement");

	while (*s) {
		size_t tag;

		if (*s == '\'') {
			/* E'...' takes backslash escapes; '' is a quote either way */
			int esc = s > sql && (s[-1] == 'E' || s[-1] == 'e') &&
				  (s - 1 == sql || !ident_char((unsigned char)s[-2]));
			*o++ = *s++;
			while (*s) {
				if (esc && *s == '\\' && s[1]) {
					*o++ = *s++;
				} else if (*s == '\'') {
					*o++ = *s++;
					if (*s != '\'')
						break;
				}
				*o++ = *s++;
			}
		} else if (*s == '"') {
			*o++ = *s++;
			while (*s && *s != '"')
				*o++ = *s++;
			if (*s)
				*o++ = *s++;
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				*o++ = *s++;
		} else if (s[0] == '/' && s[1] == '*') {
			int depth = 0;
			do {
				if (s[0] == '/' && s[1] == '*') {
					depth++;
					*o++ = *s++;
				} else if (s[0] == '*' && s[1] == '/') {
					depth--;
					*o++ = *s++;
				}
				*o++ = *s++;
			} while (*s && depth > 0);
		} else if ((s == sql || !ident_char((unsigned char)s[-1])) && (tag = dollar_tag(s))) {
			const char *end = NULL;

			for (const char *p = s + tag; *p && !end; p++)
				if (!strncmp(p, s, tag))
					end = p + tag;
			if (!end)
				end = s + strlen(s);
			memcpy(o, s, (size_t)(end - s));
			o += end - s;
			s = end;
		} else if (*s == '?') {
			if (++k > MAX_PARAMS) {
				free(*out);
				*out = NULL;
				return tvs__err(TVS_EINVAL, "store: more than %d placeholders", MAX_PARAMS);
			}
			o += sprintf(o, "$%zu", k);
			s++;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	*count = k;
	return 0;
}

/* ---- parameters ---- */

struct params {
	const char **vals;
	unsigned char *nums; /* 8 bytes each: int8 and float8 go big-endian */
	int *lens, *fmts;
	Oid *types;
};

static void put_be64(unsigned char *b, uint64_t u)
{
	for (int k = 0; k < 8; k++)
		b[k] = (unsigned char)(u >> (56 - 8 * k));
}

/* Fill pp (one allocation at pp->vals, caller frees) from params. */
static int bind(struct params *pp, const tvs_val *params, size_t np)
{
	char *mem;

	memset(pp, 0, sizeof(*pp));
	if (!np)
		return 0;
	mem = malloc(np * (sizeof(char *) + 8 + 2 * sizeof(int) + sizeof(Oid)));
	if (!mem)
		return tvs__err(TVS_ENOMEM, "store: parameters");
	pp->vals = (const char **)(void *)mem;
	pp->nums = (unsigned char *)(mem + np * sizeof(char *));
	pp->lens = (int *)(void *)(pp->nums + np * 8);
	pp->fmts = pp->lens + np;
	pp->types = (Oid *)(void *)(pp->fmts + np);
	for (size_t i = 0; i < np; i++) {
		const tvs_val *v = &params[i];
		uint64_t u;

		pp->fmts[i] = 1;
		pp->lens[i] = 0;
		pp->vals[i] = NULL;
		pp->types[i] = 0;
		if ((v->type == TVS_VAL_TEXT || v->type == TVS_VAL_BLOB) && v->n && !v->p)
			return tvs__err(TVS_EINVAL, "store: parameter %zu: NULL pointer, length %zu", i + 1, v->n);
		switch (v->type) {
		case TVS_VAL_NULL: continue; /* untyped: the server infers */
		case TVS_VAL_INT:
			put_be64(pp->nums + 8 * i, (uint64_t)v->i);
			pp->types[i] = OID_INT8;
			pp->vals[i] = (const char *)(pp->nums + 8 * i);
			pp->lens[i] = 8;
			break;
		case TVS_VAL_REAL:
			memcpy(&u, &v->r, 8);
			put_be64(pp->nums + 8 * i, u);
			pp->types[i] = OID_FLOAT8;
			pp->vals[i] = (const char *)(pp->nums + 8 * i);
			pp->lens[i] = 8;
			break;
		case TVS_VAL_TEXT:
		case TVS_VAL_BLOB:
			if (v->n > INT_MAX)
				return tvs__err(TVS_ETOOBIG, "store: parameter %zu: %zu bytes", i + 1, v->n);
			if (v->type == TVS_VAL_TEXT && v->n && memchr(v->p, 0, v->n))
				return tvs__err(TVS_EINVAL, "store: parameter %zu: a NUL byte in text (PostgreSQL's "
						"text cannot hold one)", i + 1);
			pp->types[i] = v->type == TVS_VAL_TEXT ? OID_TEXT : OID_BYTEA;
			pp->vals[i] = v->n ? v->p : ""; /* a NULL pointer would send SQL NULL */
			pp->lens[i] = (int)v->n;
			break;
		default:
			return tvs__err(TVS_EINVAL, "store: parameter %zu has unknown type %d", i + 1, v->type);
		}
	}
	return 0;
}

/* ---- results ---- */

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int parse_real(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	/* ERANGE on underflow still gives the nearest value (a subnormal) */
	return end == s || *end || (errno && fabs(*out) > 1) ? -1 : 0;
}

/* One cell from its text form: *cell is zeroed on entry. */
static int take_cell(const PGresult *res, int row, int col, tvs_val *cell)
{
	const char *s = PQgetvalue(res, row, col);
	size_t n = (size_t)PQgetlength(res, row, col);
	Oid type = PQftype(res, col);
	unsigned char *p;

	if (PQgetisnull(res, row, col))
		return 0;
	switch (type) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		if (parse_int(s, &cell->i) < 0)
			return tvs__err(TVS_EIO, "postgresql: column %d: unreadable integer", col + 1);
		cell->type = TVS_VAL_INT;
		return 0;
	case OID_BOOL:
		*cell = TVS_VINT(s[0] == 't');
		return 0;
	case OID_FLOAT4:
	case OID_FLOAT8:
		if (parse_real(s, &cell->r) < 0)
			return tvs__err(TVS_EIO, "postgresql: column %d: unreadable number", col + 1);
		cell->type = TVS_VAL_REAL;
		return 0;
	case OID_NUMERIC:
		if (parse_int(s, &cell->i) == 0) {
			cell->type = TVS_VAL_INT;
		} else if (parse_real(s, &cell->r) == 0) {
			cell->type = TVS_VAL_REAL;
		} else {
			return tvs__err(TVS_EIO, "postgresql: column %d: unreadable numeric", col + 1);
		}
		return 0;
	case OID_BYTEA:
		if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2)
			return tvs__err(TVS_EIO, "postgresql: column %d: bytea not in hex", col + 1);
		n = (n - 2) / 2;
		if (!(p = malloc(n + 1))) /* non-NULL for an empty blob */
			return tvs__err(TVS_ENOMEM, "store: result cell");
		for (size_t k = 0; k < n; k++) {
			int hi = hexval((unsigned char)s[2 + 2 * k]), lo = hexval((unsigned char)s[3 + 2 * k]);
			if (hi < 0 || lo < 0) {
				free(p);
				return tvs__err(TVS_EIO, "postgresql: column %d: bad hex in bytea", col + 1);
			}
			p[k] = (unsigned char)(hi << 4 | lo);
		}
		p[n] = 0;
		*cell = (tvs_val){.type = TVS_VAL_BLOB, .p = p, .n = n};
		return 0;
	default:
		if (!(p = malloc(n + 1)))
			return tvs__err(TVS_ENOMEM, "store: result cell");
		memcpy(p, s, n);
		p[n] = 0;
		*cell = (tvs_val){.type = TVS_VAL_TEXT, .p = p, .n = n};
		return 0;
	}
}

static int take_rows(const PGresult *res, tvs_rows *out)
{
	size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
	int rc;

	out->ncols = nc;
	if (!nc)
		return 0;
	if (!(out->names = calloc(nc, sizeof(char *))))
		return tvs__err(TVS_ENOMEM, "store: column names");
	for (size_t j = 0; j < nc; j++)
		if (!(out->names[j] = strdup(PQfname(res, (int)j))))
			return tvs__err(TVS_ENOMEM, "store: column names");
	if (!nr)
		return 0;
	if (nr > SIZE_MAX / sizeof(tvs_val) / nc || !(out->cells = calloc(nr * nc, sizeof(tvs_val))))
		return tvs__err(TVS_ENOMEM, "store: result rows");
	out->nrows = nr; /* every cell zeroed (NULL): tvs_rows_free sees partial copies */
	for (size_t i = 0; i < nr; i++)
		for (size_t j = 0; j < nc; j++)
			if ((rc = take_cell(res, (int)i, (int)j, &out->cells[i * nc + j])) < 0)
				return rc;
	return 0;
}

/* ---- connections ---- */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Session settings, on a new or reset connection. */
static int setup(PGconn *c)
{
	char sql[256];
	PGresult *res;
	int rc = 0;

	PQsetNoticeProcessor(c, quiet, NULL);
	if (PQserverVersion(c) < MIN_SERVER)
		return tvs__err(TVS_EUNSUPPORTED, "postgresql: server version %d; tvs needs 10 or later",
				PQserverVersion(c));
	snprintf(sql, sizeof(sql),
		 "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; SET bytea_output = 'hex';"
		 " SET extra_float_digits = 3; SET TIME ZONE 'UTC'; SET lock_timeout = %d",
		 LOCK_TIMEOUT_MS);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(c, res, sql);
	PQclear(res);
	return rc;
}

static int pg_resolve(const char *spec, char **target)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(spec, &err);

	*target = NULL;
	if (!opts) {
		/* libpq's message may quote the whole URL, password and all */
		char buf[200];
		int shown = err && !strstr(err, "://");
		int rc = tvs__err(err ? TVS_EINVAL : TVS_ENOMEM, "postgresql: cannot parse the URL%s%s",
				  shown ? ": " : "", shown ? one_line(err, buf, sizeof(buf)) : "");
		PQfreemem(err);
		return rc;
	}
	PQconninfoFree(opts);
	*target = strdup(spec);
	return *target ? 0 : tvs__err(TVS_ENOMEM, "store: URL");
}

/* Defaults come first: what the URL says (expanded from "dbname") wins. */
static int pg_connect(const char *target, void **conn)
{
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	char app[32], buf[320];
	const char *const vals[] = {CONNECT_TIMEOUT_S, app, target, NULL};
	struct pgconn *pc;
	int rc;

	*conn = NULL;
	/* pg_stat_activity then says which node holds a lock or runs a query */
	snprintf(app, sizeof(app), "tvs/%ld", (long)getpid());
	if (!(pc = calloc(1, sizeof(*pc))))
		return tvs__err(TVS_ENOMEM, "store: connection");
	pc->c = PQconnectdbParams(keys, vals, 1);
	if (!pc->c) {
		rc = tvs__err(TVS_ENOMEM, "postgresql: connection");
		goto fail_conn;
	}
	if (PQstatus(pc->c) != CONNECTION_OK) {
		rc = tvs__err(TVS_EIO, "postgresql: cannot connect: %s",
			      one_line(PQerrorMessage(pc->c), buf, sizeof(buf)));
		goto fail_conn;
	}
	if ((rc = setup(pc->c)) < 0)
		goto fail_conn;
	*conn = pc;
	return 0;

fail_conn:
	PQfinish(pc->c); /* accepts NULL */
	free(pc);
	return rc;
}

static void pg_disconnect(void *conn)
{
	struct pgconn *pc = conn;

	if (!pc)
		return;
	PQfinish(pc->c);
	free(pc);
}

/* Before a statement outside a transaction: reconnect a broken connection. */
static int ensure(struct pgconn *pc)
{
	char buf[320];

	if (PQstatus(pc->c) == CONNECTION_OK)
		return 0;
	if (pc->in_tx)
		return tvs__err(TVS_EIO, "postgresql: connection lost inside a transaction");
	PQreset(pc->c);
	if (PQstatus(pc->c) != CONNECTION_OK)
		return tvs__err(TVS_EIO, "postgresql: reconnect failed: %s",
				one_line(PQerrorMessage(pc->c), buf, sizeof(buf)));
	return setup(pc->c);
}

static int pg_run(void *conn, const char *sql, const tvs_val *params, size_t np, int64_t *changes,
		  tvs_rows *out)
{
	struct pgconn *pc = conn;
	struct params pp = {0};
	PGresult *res = NULL;
	char *pgsql = NULL;
	size_t want;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (changes)
		*changes = 0;
	if (!sql || (np && !params))
		return tvs__err(TVS_EINVAL, "store: NULL statement or parameters");
	if ((rc = renumber(sql, &pgsql, &want)) < 0)
		return rc;
	if (want != np) {
		rc = tvs__err(TVS_EINVAL, "store: %zu parameters for %zu placeholders in \"%.*s\"", np, want, SQL_SHOWN,
			      sql);
		goto fail_sql;
	}
	if ((rc = bind(&pp, params, np)) < 0)
		goto fail_bind;
	if ((rc = ensure(pc)) < 0)
		goto fail_bind;
	res = PQexecParams(pc->c, pgsql, (int)np, pp.types, pp.vals, pp.lens, pp.fmts, 0);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK: break;
	case PGRES_EMPTY_QUERY:
		rc = tvs__err(TVS_EINVAL, "store: empty statement \"%.*s\"", SQL_SHOWN, sql);
		goto fail_res;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
	case PGRES_BAD_RESPONSE:
		rc = fail(pc->c, res, sql);
		goto fail_res;
	default: /* COPY and the like: not something the store speaks */
		rc = tvs__err(TVS_EINVAL, "store: unsupported statement (%s) \"%.*s\"",
			      PQresStatus(PQresultStatus(res)), SQL_SHOWN, sql);
		goto fail_res;
	}
	if (out && (rc = take_rows(res, out)) < 0)
		goto fail_res;
	if (changes) {
		const char *st = PQcmdStatus(res);
		if (!strncmp(st, "INSERT ", 7) || !strncmp(st, "UPDATE ", 7) || !strncmp(st, "DELETE ", 7) ||
		    !strncmp(st, "MERGE ", 6))
			*changes = strtoll(PQcmdTuples(res), NULL, 10);
	}
	PQclear(res);
	free(pp.vals);
	free(pgsql);
	return 0;

fail_res:
	PQclear(res); /* accepts NULL */
fail_bind:
	free(pp.vals);
fail_sql:
	free(pgsql);
	tvs_rows_free(out);
	return rc;
}

static int pg_run_script(void *conn, const char *script)
{
	struct pgconn *pc = conn;
	PGresult *res;
	int rc = 0;

	if ((rc = ensure(pc)) < 0)
		return rc;
	res = PQexec(pc->c, script); /* several statements: the simple protocol */
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY: break;
	default: rc = fail(pc->c, res, script);
	}
	PQclear(res);
	return rc;
}

static int pg_begin(void *conn, int write)
{
	struct pgconn *pc = conn;
	int rc;

	pc->in_tx = 0;
	if ((rc = ensure(pc)) < 0)
		return rc;
	rc = pg_run(pc, write ? "BEGIN ISOLATION LEVEL READ COMMITTED" : "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL,
		    0, NULL, NULL);
	pc->in_tx = rc == 0;
	return rc;
}

static int pg_commit(void *conn)
{
	struct pgconn *pc = conn;
	PGresult *res = PQexec(pc->c, "COMMIT");
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(pc->c, res, "COMMIT");
	else if (strcmp(PQcmdStatus(res), "COMMIT")) /* an aborted transaction answers ROLLBACK */
		rc = tvs__err(TVS_EINVAL, "postgresql: COMMIT of a failed transaction rolled it back");
	PQclear(res);
	if (PQtransactionStatus(pc->c) == PQTRANS_IDLE)
		pc->in_tx = 0;
	return rc;
}

static void pg_rollback(void *conn)
{
	struct pgconn *pc = conn;
	PGTransactionStatusType st = PQtransactionStatus(pc->c);

	if (st == PQTRANS_INTRANS || st == PQTRANS_INERROR)
		PQclear(PQexec(pc->c, "ROLLBACK"));
	pc->in_tx = 0;
}

static int pg_has_table(void *conn, const char *name, int *exists)
{
	tvs_rows r;
	tvs_val p = TVS_VTEXT(name);
	int rc = pg_run(conn,
			"SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?", &p,
			1, NULL, &r);

	*exists = rc == 0 && r.nrows > 0;
	tvs_rows_free(&r);
	return rc;
}

/* Migrators queue on a transaction-scoped advisory lock (SQLite's BEGIN
 * IMMEDIATE does this there), taken before tvs_schema_version is created or
 * read, so two nodes starting at once apply each migration exactly once. */
static int pg_lock_migrations(void *conn)
{
	return pg_run(conn, "SELECT pg_advisory_xact_lock(7626870496372255603)", NULL, 0, NULL, NULL);
}

const tvs__store_backend tvs__store_pg = {
	.name = "postgresql",
	.resolve = pg_resolve,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.run = pg_run,
	.run_script = pg_run_script,
	.has_table = pg_has_table,
	.lock_migrations = pg_lock_migrations,
};

/* ---- notifications ---- */

struct tvs_store_listener {
	struct pgconn *pc; /* NULL while the connection is lost */
	int broken;	   /* pc failed: reopen it once its queued notifications are out */
	char *target;	   /* the URL, to reconnect */
	char channel[64];
};

static int check_channel(const char *ch)
{
	size_t n = ch ? strlen(ch) : 0;

	if (n < 1 || n > 63 || (ch[0] >= '0' && ch[0] <= '9'))
		return tvs__err(TVS_EINVAL, "store: a channel is 1..63 characters of [a-z0-9_], not starting with a digit");
	for (size_t i = 0; i < n; i++)
		if (!((ch[i] >= 'a' && ch[i] <= 'z') || (ch[i] >= '0' && ch[i] <= '9') || ch[i] == '_'))
			return tvs__err(TVS_EINVAL, "store: a channel is 1..63 characters of [a-z0-9_], not "
					"starting with a digit");
	return 0;
}

int tvs_store_notify(tvs_store_t *s, tvs_tx_t *tx, const char *channel, const char *payload)
{
	tvs_val p[2];
	size_t n;
	int rc;

	if (!s || !payload)
		return tvs__err(TVS_EINVAL, "store: notify: NULL argument");
	if (strcmp(tvs_store_backend(s), tvs__store_pg.name))
		return tvs__err(TVS_EUNSUPPORTED, "store: notifications need PostgreSQL, not %s", tvs_store_backend(s));
	if ((rc = check_channel(channel)) < 0)
		return rc;
	if ((n = strlen(payload)) > TVS_STORE_PAYLOAD_MAX)
		return tvs__err(TVS_ETOOBIG, "store: notification payload of %zu bytes (at most %d)", n,
				TVS_STORE_PAYLOAD_MAX);
	p[0] = TVS_VTEXT(channel);
	p[1] = TVS_VTEXT(payload);
	return tx ? tvs_tx_exec(tx, "SELECT pg_notify(?, ?)", p, 2, NULL)
		  : tvs_store_exec(s, "SELECT pg_notify(?, ?)", p, 2, NULL);
}

/* Open l's connection and LISTEN (the channel is checked: no quoting needed) */
static int listener_connect(tvs_store_listener_t *l)
{
	char sql[96];
	PGresult *res;
	int rc;

	if ((rc = pg_connect(l->target, (void **)&l->pc)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "LISTEN %s", l->channel);
	res = PQexec(l->pc->c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fail(l->pc->c, res, sql);
		pg_disconnect(l->pc);
		l->pc = NULL;
	}
	PQclear(res);
	return rc;
}

int tvs_store_listen(const char *url, const char *channel, tvs_store_listener_t **out)
{
	tvs_store_listener_t *l;
	int rc;

	if (!out || !url)
		return tvs__err(TVS_EINVAL, "store: listen: NULL argument");
	*out = NULL;
	if (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11))
		return tvs__err(TVS_EUNSUPPORTED, "store: notifications need PostgreSQL");
	if ((rc = check_channel(channel)) < 0)
		return rc;
	if (!(l = calloc(1, sizeof(*l))))
		return tvs__err(TVS_ENOMEM, "store: listener");
	snprintf(l->channel, sizeof(l->channel), "%s", channel);
	if ((rc = pg_resolve(url, &l->target)) < 0 || (rc = listener_connect(l)) < 0)
		goto fail_listener;
	*out = l;
	return 0;

fail_listener:
	tvs_listener_close(l);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(int64_t deadline)
{
	int64_t left;

	while ((left = deadline - now_ms()) > 0) {
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

int tvs_listener_wait(tvs_store_listener_t *l, int timeout_ms, char *payload, size_t cap, int *got)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	if (got)
		*got = TVS_LISTEN_NONE;
	if (!l || !payload || !cap || !got || timeout_ms < 0)
		return tvs__err(TVS_EINVAL, "store: listener wait: bad argument");
	payload[0] = '\0';
	for (;;) {
		PGnotify *n;
		struct pollfd pfd;
		int64_t left;

		if (l->pc && (n = PQnotifies(l->pc->c))) { /* what was read before a loss still counts */
			size_t len = strlen(n->extra);

			if (len >= cap) {
				PQfreemem(n);
				return tvs__err(TVS_ETOOBIG, "store: a notification of %zu bytes for a buffer of %zu", len,
						cap);
			}
			memcpy(payload, n->extra, len + 1);
			PQfreemem(n);
			*got = TVS_LISTEN_PAYLOAD;
			return 0;
		}
		if (l->broken) {
			pg_disconnect(l->pc);
			l->pc = NULL;
			l->broken = 0;
		}
		if (!l->pc) { /* lost: reopen, or wait out the timeout so callers do not spin */
			if ((rc = listener_connect(l)) < 0) {
				sleep_until(deadline);
				return rc;
			}
			*got = TVS_LISTEN_GAP;
			return 0;
		}
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		pfd = (struct pollfd){.fd = PQsocket(l->pc->c), .events = POLLIN};
		if (pfd.fd < 0 || (poll(&pfd, 1, (int)left) > 0 &&
				   (!PQconsumeInput(l->pc->c) || PQstatus(l->pc->c) != CONNECTION_OK)))
			l->broken = 1;
	}
}

void tvs_listener_close(tvs_store_listener_t *l)
{
	if (!l)
		return;
	pg_disconnect(l->pc); /* accepts NULL */
	free(l->target);
	free(l);
}
