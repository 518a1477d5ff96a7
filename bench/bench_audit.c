/*
 * The audit chain's ceiling: appends/s when 1, 2, 4 and 8 writer threads each
 * loop { begin; tvs_audit_append; commit } on one store, with the mean and
 * p99 transaction latency and the ratio to 1 thread. Beside it, as the
 * same-run reference for "a transaction without the chain", a plain write
 * transaction: BEGIN, one small INSERT into a scratch table, COMMIT.
 *
 * Why it is shaped this way: every append takes the one audit_head row's
 * lock and holds it to the commit (src/audit/audit.c), so appends from all
 * threads, and in a deployment from all nodes, run one at a time. Adding
 * threads past the point where the lock is always held adds no appends/s,
 * only latency, and the plateau is 1 / (the time the lock is held). That
 * plateau is what docs/sizing.md needs, so the bench measures throughput
 * against writer count rather than one thread's speed.
 *
 * Each point gets a database of its own (SQLite: a new file under a mkdtemp
 * folder in $TMPDIR or /tmp; PostgreSQL: a new schema, named through the
 * URL's search_path), so no point inherits another's chain or bloat. One
 * store per point, its pool as large as the thread count, so each thread
 * holds a connection of its own. After each point the chain is verified
 * (tvs_audit_verify) and its rows counted against the appends that
 * succeeded, so a figure never comes from a broken chain.
 *
 * Durability settings dominate a commit's cost, so the output states them,
 * read back from the engine: SQLite (WAL, synchronous=FULL: each commit
 * fsyncs) always runs; PostgreSQL runs when TVS_TEST_PG is set
 * (scripts/with-pg.sh starts a scratch server with fsync=off and
 * synchronous_commit=off). Nothing is asserted.
 *
 * Usage: bench_audit [SECONDS per point, default 3]
 */
#include "tvs/audit.h"
#include "tvs/error.h"
#include "tvs/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8
#define WARMUP_S 0.5 /* per point, not counted: connections, caches, the first pages */
#define T0 INT64_C(1714521600)

static const int thread_counts[] = { 1, 2, 4, 8 };
#define NPOINTS (int)(sizeof(thread_counts) / sizeof(thread_counts[0]))

static const uint8_t key[TVS_AUDIT_KEY_BYTES] = { 0x62, 0x65, 0x6e, 0x63, 0x68, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
						  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27 };

#define SQL_SCRATCH                                                                                        \
	"CREATE TABLE scratch (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"          \
	" action TEXT NOT NULL, object TEXT)"

static const tvs_migration migrations[] = {
	{ 1, "audit", tvs_audit_schema_script, NULL },
	{ 2, "scratch", SQL_SCRATCH, NULL },
};

enum work { WORK_PLAIN, WORK_AUDIT };

/* The engine under test. */
static struct {
	int pg;
	const char *base;   /* PostgreSQL: $TVS_TEST_PG */
	tvs_store_t *admin; /* PostgreSQL: makes and drops the schemas */
	char dir[64];       /* SQLite: the mkdtemp folder */
	int seq;
} be;

struct run;

struct worker {
	struct run *run;
	pthread_t th;
	int id;
	double *lat; /* seconds, transactions started inside the window */
	size_t n, cap;
	long done;   /* every transaction that committed, warm-up included */
	long errors;
	double last; /* when the last counted transaction finished */
	char first_err[200];
};

struct run {
	tvs_store_t *s;
	enum work work;
	double warm_end, end;
	struct worker w[MAX_THREADS];
};

struct result {
	double tps, mean_ms, p99_ms, max_ms;
	long n, errors;
	char first_err[200];
	char chain[96]; /* what verify said */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whole-machine busy CPU seconds from /proc/stat (0 where unreadable). */
static double cpu_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	double busy = 0;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]) == 8)
		busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]); /* all but idle and iowait */
	fclose(f);
	return busy / (double)sysconf(_SC_CLK_TCK);
}

/* A URL for a new, empty database: a file in be.dir, or a new schema. */
static int fresh_url(char *buf, size_t cap, char *schema, size_t scap)
{
	char sql[128];
	int rc;

	be.seq++;
	schema[0] = '\0';
	if (!be.pg) {
		snprintf(buf, cap, "sqlite:%s/point%d.db", be.dir, be.seq);
		return 0;
	}
	snprintf(schema, scap, "tvs_bench_audit_%d_%d", (int)getpid(), be.seq);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	rc = tvs_store_exec(be.admin, sql, NULL, 0, NULL);
	if (rc) {
		schema[0] = '\0';
		return rc;
	}
	snprintf(buf, cap, "%s%soptions=-csearch_path%%3D%s", be.base, strchr(be.base, '?') ? "&" : "?", schema);
	return 0;
}

static void drop_schema(const char *schema)
{
	char sql[128];

	if (!be.pg || !schema[0])
		return;
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
	if (tvs_store_exec(be.admin, sql, NULL, 0, NULL))
		printf("bench_audit: %s: %s\n", sql, tvs_errmsg());
}

/* One transaction of the kind under test; i numbers it within its thread. */
static int one_tx(struct run *r, struct worker *w, long i)
{
	char actor[32], object[48];
	tvs_tx_t *tx;
	int rc;

	/* about the size of a capture's entry (src/svc/capture.c) */
	snprintf(actor, sizeof(actor), "device:%d", w->id + 1);
	snprintf(object, sizeof(object), "encounter:%d-%ld", w->id, i);
	rc = tvs_store_begin(r->s, 1, &tx);
	if (rc)
		return rc;
	if (r->work == WORK_AUDIT) {
		tvs_audit_entry e = { .at = T0 + i,
				      .actor = actor,
				      .role = "device",
				      .action = "capture",
				      .object = object,
				      .purpose = "border check",
				      .detail = "decision=match" };

		rc = tvs_audit_append(tx, key, &e, NULL);
	} else {
		tvs_val v[4] = { TVS_VINT(T0 + i), TVS_VTEXT(actor), TVS_VTEXT("capture"), TVS_VTEXT(object) };

		rc = tvs_tx_exec(tx, "INSERT INTO scratch (at, actor, action, object) VALUES (?, ?, ?, ?)", v, 4,
				 NULL);
	}
	if (rc) {
		tvs_tx_rollback(tx);
		return rc;
	}
	return tvs_tx_commit(tx);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;

	for (long i = 0;; i++) {
		double t0 = now_s(), t1;
		int rc;

		if (t0 >= r->end)
			break;
		rc = one_tx(r, w, i);
		t1 = now_s();
		if (rc) {
			if (!w->errors++)
				snprintf(w->first_err, sizeof(w->first_err), "%s: %s", tvs_strerror(rc), tvs_errmsg());
			continue;
		}
		w->done++;
		if (t0 < r->warm_end)
			continue;
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 4096;
			double *p = realloc(w->lat, cap * sizeof(*p));

			if (!p)
				break; /* the figures so far still stand */
			w->lat = p;
			w->cap = cap;
		}
		w->lat[w->n++] = t1 - t0;
		w->last = t1;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Run work on nthreads threads over a fresh database for seconds (after the
 * warm-up), verify the chain, fill *res. 0, or a negative code when the
 * database could not be made. */
static int run_point(enum work work, int nthreads, double seconds, struct result *res)
{
	char url[1024], schema[64];
	struct run r = { .work = work };
	double *all = NULL, sum = 0, last = 0;
	long done = 0;
	size_t n = 0;
	int started = 0, rc;

	memset(res, 0, sizeof(*res));
	rc = fresh_url(url, sizeof(url), schema, sizeof(schema));
	if (rc)
		return rc;
	rc = tvs_store_open(&r.s, url, nthreads);
	if (rc)
		goto fail_open;
	rc = tvs_store_migrate(r.s, migrations, sizeof(migrations) / sizeof(migrations[0]));
	if (rc)
		goto fail_migrate;

	r.warm_end = now_s() + WARMUP_S;
	r.end = r.warm_end + seconds;
	for (int i = 0; i < nthreads; i++) {
		r.w[i] = (struct worker){ .run = &r, .id = i };
		if (pthread_create(&r.w[i].th, NULL, worker_run, &r.w[i]))
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(r.w[i].th, NULL);
		n += r.w[i].n;
		done += r.w[i].done;
		res->errors += r.w[i].errors;
		if (r.w[i].last > last)
			last = r.w[i].last;
		if (r.w[i].errors && !res->first_err[0])
			snprintf(res->first_err, sizeof(res->first_err), "%s", r.w[i].first_err);
	}
	if (started < nthreads)
		snprintf(res->first_err, sizeof(res->first_err), "only %d of %d threads started", started, nthreads);

	all = n ? malloc(n * sizeof(*all)) : NULL;
	if (all) {
		size_t k = 0;

		for (int i = 0; i < started; i++) {
			memcpy(all + k, r.w[i].lat, r.w[i].n * sizeof(*all));
			k += r.w[i].n;
		}
		qsort(all, n, sizeof(*all), cmp_double);
		for (size_t i = 0; i < n; i++)
			sum += all[i];
		res->n = (long)n;
		res->tps = last > r.warm_end ? (double)n / (last - r.warm_end) : 0;
		res->mean_ms = 1e3 * sum / (double)n;
		res->p99_ms = 1e3 * all[(size_t)(0.99 * (double)(n - 1))];
		res->max_ms = 1e3 * all[n - 1];
	}

	if (work == WORK_AUDIT) {
		tvs_audit_report rep;

		if (tvs_audit_verify(r.s, key, &rep))
			snprintf(res->chain, sizeof(res->chain), "verify failed: %s", tvs_errmsg());
		else if (!rep.ok || rep.rows != done)
			snprintf(res->chain, sizeof(res->chain), "BROKEN: %lld rows for %ld appends, %s",
				 (long long)rep.rows, done, rep.ok ? "intact" : tvs_audit_damage_name(rep.kind));
		else
			snprintf(res->chain, sizeof(res->chain), "intact, %lld rows", (long long)rep.rows);
	}
	rc = 0;
	free(all);
	for (int i = 0; i < nthreads; i++)
		free(r.w[i].lat);
fail_migrate:
	tvs_store_close(r.s);
fail_open:
	drop_schema(schema);
	return rc;
}

/* What the engine was told about durability, read back from it. */
static void print_engine(void)
{
	tvs_rows rows = { 0 };

	if (be.pg) {
		tvs_store_query(be.admin,
				"SELECT current_setting('server_version'), current_setting('fsync'),"
				" current_setting('synchronous_commit'), current_setting('full_page_writes'),"
				" current_setting('wal_sync_method')",
				NULL, 0, &rows);
		printf("== PostgreSQL %s over %s: fsync=%s synchronous_commit=%s full_page_writes=%s"
		       " wal_sync_method=%s\n",
		       rows.nrows ? tvs_rows_text(&rows, 0, 0) : "?",
		       strstr(be.base, "host=/") || strstr(be.base, "host=%2F") ? "a unix socket" : "TCP",
		       rows.nrows ? tvs_rows_text(&rows, 0, 1) : "?", rows.nrows ? tvs_rows_text(&rows, 0, 2) : "?",
		       rows.nrows ? tvs_rows_text(&rows, 0, 3) : "?", rows.nrows ? tvs_rows_text(&rows, 0, 4) : "?");
		printf("   (synchronous_commit=off: COMMIT returns before its WAL is flushed, so no figure below\n"
		       "   includes a disk flush; a durable production commit adds one, inside the audit lock)\n");
	} else {
		tvs_store_t *s = NULL;
		struct statfs fs;
		const char *fst = "?";
		char url[160];

		snprintf(url, sizeof(url), "sqlite:%s/probe.db", be.dir);
		if (statfs(be.dir, &fs) == 0)
			fst = fs.f_type == 0xEF53		? "ext2/3/4"
			      : fs.f_type == 0x01021994 ? "tmpfs (fsync costs nothing)"
			      : fs.f_type == 0x58465342 ? "xfs"
			      : fs.f_type == 0x9123683E ? "btrfs"
			      : fs.f_type == 0x794c7630 ? "overlayfs"
							: "other";
		if (tvs_store_open(&s, url, 1) == 0) {
			tvs_rows j = { 0 };

			tvs_store_query(s, "PRAGMA journal_mode", NULL, 0, &j);
			tvs_store_query(s, "PRAGMA synchronous", NULL, 0, &rows);
			printf("== SQLite, a file in %s (%s): journal_mode=%s synchronous=%lld (2 = FULL: every commit"
			       " fsyncs the WAL)\n",
			       be.dir, fst, j.nrows ? tvs_rows_text(&j, 0, 0) : "?",
			       rows.nrows ? (long long)tvs_rows_int(&rows, 0, 0) : -1LL);
			tvs_rows_free(&j);
			printf("   (writers take turns: BEGIN IMMEDIATE, and a waiting one sleeps in SQLite's busy handler,\n"
			       "   so with several threads the max column is mostly that sleep)\n");
		}
		tvs_store_close(s);
	}
	tvs_rows_free(&rows);
}

static void print_row(const char *what, int nthreads, const struct result *r, double base_tps)
{
	printf("%-14s %7d %9.0f %8.2f %8.2f %8.1f", what, nthreads, r->tps, r->mean_ms, r->p99_ms, r->max_ms);
	if (base_tps > 0)
		printf(" %7.2fx", r->tps / base_tps);
	else
		printf(" %8s", "");
	printf(" %6ld  %s\n", r->errors, r->chain);
	if (r->errors)
		printf("%14s first error: %s\n", "", r->first_err);
}

/* The plain reference, then the chain at every thread count. */
static int bench_engine(double seconds)
{
	struct result plain, pt[NPOINTS];
	int rc;

	print_engine();
	printf("%-14s %7s %9s %8s %8s %8s %8s %6s  %s\n", "transaction", "threads", "tx/s", "mean ms", "p99 ms",
	       "max ms", "vs 1", "errors", "chain after the point");
	rc = run_point(WORK_PLAIN, 1, seconds, &plain);
	if (rc)
		goto fail;
	print_row("plain INSERT", 1, &plain, 0);
	for (int i = 0; i < NPOINTS; i++) {
		rc = run_point(WORK_AUDIT, thread_counts[i], seconds, &pt[i]);
		if (rc)
			goto fail;
		print_row("audit append", thread_counts[i], &pt[i], pt[0].tps);
	}
	if (pt[0].tps > 0 && plain.tps > 0)
		printf("one append's transaction, alone: %.2f ms (the plain one: %.2f ms, so the chain adds %.2f ms)\n",
		       pt[0].mean_ms, plain.mean_ms, pt[0].mean_ms - plain.mean_ms);
	{
		double best = 0;

		for (int i = 0; i < NPOINTS; i++)
			if (pt[i].tps > best)
				best = pt[i].tps;
		if (best > 0)
			printf("best: %.0f appends/s, one every %.2f ms: the part of an append that runs one at a time\n",
			       best, 1e3 / best);
	}
	printf("\n");
	return 0;
fail:
	printf("bench_audit: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
	return rc;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0;

	if (seconds <= 0 || seconds > 120)
		seconds = 3;
	{
		const char *tmp = getenv("TMPDIR");

		snprintf(be.dir, sizeof(be.dir), "%s/tvs-bench-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(be.dir)) {
			printf("bench_audit: cannot make a folder under %s\n", tmp && *tmp ? tmp : "/tmp");
			return 1;
		}
	}
	printf("audit appends against writer threads: each thread loops { begin; tvs_audit_append; commit },\n"
	       "%.1f s per point after a %.1f s warm-up, a fresh database per point; 'plain INSERT' is\n"
	       "{ begin; one INSERT into a scratch table; commit } on 1 thread, the transaction without the chain\n",
	       seconds, WARMUP_S);
	{
		double b0 = cpu_busy_s();

		usleep(500000);
		printf("machine: %ld CPU cores online, shared by these threads and the database; %.2f of them busy with\n"
		       "other work just before the bench\n\n",
		       ncpu, 2 * (cpu_busy_s() - b0));
	}

	be.pg = 0;
	if (bench_engine(seconds))
		rc = 1;

	be.base = getenv("TVS_TEST_PG");
	if (!be.base || !*be.base) {
		printf("PostgreSQL: TVS_TEST_PG unset, skipped (run under scripts/with-pg.sh)\n");
	} else if (tvs_store_open(&be.admin, be.base, 1)) {
		printf("bench_audit: PostgreSQL: %s\n", tvs_errmsg());
		rc = 1;
	} else {
		be.pg = 1;
		if (bench_engine(seconds))
			rc = 1;
		tvs_store_close(be.admin);
	}

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", be.dir);
		if (system(cmd))
			printf("bench_audit: could not remove %s\n", be.dir);
	}
	return rc;
}
