/*
 * Accountability and operations: the summary report per port and mode,
 * its time series (per bucket, with latency percentiles, for the
 * supervisor's charts), Prometheus metrics, the health check and the
 * OpenAPI document.
 *
 * The OpenAPI document is compiled into the binary from src/svc/openapi.json
 * (.incbin), so the server always serves the document of its own build; a
 * test checks it against the route table.
 */
#include "svc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__asm__(".section .rodata\n"
	".global tvs__openapi_json\n"
	".type tvs__openapi_json, @object\n"
	"tvs__openapi_json:\n"
	".incbin \"src/svc/openapi.json\"\n"
	".byte 0\n"
	".global tvs__openapi_json_end\n"
	"tvs__openapi_json_end:\n"
	".previous\n");
extern const char tvs__openapi_json[];
extern const char tvs__openapi_json_end[];

SVC_HANDLER(h_openapi)
{
	tvs_http_reply_text(resp, 200, "application/json", tvs__openapi_json,
			    (size_t)(tvs__openapi_json_end - tvs__openapi_json) - 1);
}

SVC_HANDLER(h_healthz)
{
	tvs_rows r = { 0 };
	int rc = tvs_store_query(s->store, "SELECT 1", NULL, 0, &r);

	tvs_rows_free(&r);
	svc_reply_json(resp, rc ? 503 : 200,
		       json_pack("{s:s,s:s,s:I}", "status", rc ? "degraded" : "ok", "db", rc ? "error" : "ok",
				 "galleries", (json_int_t)svc_galleries_count(s)));
}

/* A growable text buffer for the metrics page. */
struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

SVC_HANDLER(h_metrics)
{
	struct buf b = { 0 };
	const double *bounds = svc_latency_bounds();
	unsigned long long cum = 0, by_class[6];
	static const char *const cls[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };

	tvs_http_count_requests(req->server, by_class);
	bprintf(&b, "# HELP tvs_http_requests_total HTTP requests completed since start, by status class.\n"
		    "# TYPE tvs_http_requests_total counter\n");
	for (int i = 0; i < 6; i++)
		bprintf(&b, "tvs_http_requests_total{code=\"%s\"} %llu\n", cls[i], by_class[i]);
	bprintf(&b, "# HELP tvs_decisions_total Capture and opt-out decisions since start.\n"
		    "# TYPE tvs_decisions_total counter\n");
	for (int d = 0; d < D_COUNT; d++)
		bprintf(&b, "tvs_decisions_total{decision=\"%s\"} %llu\n", svc_decision_name(d),
			(unsigned long long)atomic_load(&s->m.decisions[d]));
	bprintf(&b, "# HELP tvs_capture_latency_seconds Capture processing time, decode to commit.\n"
		    "# TYPE tvs_capture_latency_seconds histogram\n");
	for (int i = 0; i <= SVC_LAT_BUCKETS; i++) {
		cum += atomic_load(&s->m.lat_bucket[i]);
		if (i < SVC_LAT_BUCKETS)
			bprintf(&b, "tvs_capture_latency_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cum);
		else
			bprintf(&b, "tvs_capture_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	bprintf(&b, "tvs_capture_latency_seconds_sum %.6f\ntvs_capture_latency_seconds_count %llu\n",
		atomic_load(&s->m.lat_sum_us) / 1e6, cum);
	bprintf(&b,
		"# TYPE tvs_enrolments_total counter\ntvs_enrolments_total %llu\n"
		"# TYPE tvs_enrolments_refused_total counter\ntvs_enrolments_refused_total %llu\n"
		"# TYPE tvs_logins_failed_total counter\ntvs_logins_failed_total %llu\n"
		"# TYPE tvs_galleries gauge\ntvs_galleries %zu\n",
		(unsigned long long)atomic_load(&s->m.enrolments), (unsigned long long)atomic_load(&s->m.enrol_refused),
		(unsigned long long)atomic_load(&s->m.logins_failed), svc_galleries_count(s));
	if (b.oom) {
		free(b.p);
		tvs_http_reply_error(resp, 503, "overloaded", "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	free(resp->body);
	resp->body = b.p;
	resp->body_len = b.n;
}

SVC_HANDLER(h_report_summary)
{
	int64_t from, to;
	tvs_rows r = { 0 };
	json_t *rows;
	int rc;
	struct jv v = { 0 };

	from = svc_query_time(&v, req, "from", 0, 0);
	to = svc_query_time(&v, req, "to", 0, INT64_MAX);
	if (v.bad) {
		tvs_http_reply_error(resp, 400, "invalid_query", "%s: %s", v.field, v.msg);
		return;
	}
	rc = tvs_store_query(
		s->store,
		"SELECT p.code, p.mode, count(*),"
		" count(*) FILTER (WHERE e.decision = 'MATCH'), count(*) FILTER (WHERE e.decision = 'NO_MATCH'),"
		" count(*) FILTER (WHERE e.decision = 'RETAKE'), count(*) FILTER (WHERE e.decision = 'IMPOSTOR_SUSPECTED'),"
		" count(*) FILTER (WHERE e.decision = 'OPT_OUT'), count(*) FILTER (WHERE e.status = 'resolved')"
		" FROM encounters e JOIN locations l ON l.id = e.location_id JOIN ports p ON p.id = l.port_id"
		" WHERE e.captured_at >= ? AND e.captured_at < ? GROUP BY p.code, p.mode ORDER BY p.code",
		(tvs_val[]){ TVS_VINT(from), TVS_VINT(to) }, 2, &r);
	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, "report");
		return;
	}
	rows = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		int64_t all = tvs_rows_int(&r, i, 2), match = tvs_rows_int(&r, i, 3), nm = tvs_rows_int(&r, i, 4),
			imp = tvs_rows_int(&r, i, 6), opt = tvs_rows_int(&r, i, 7);
		int64_t decided = match + nm + imp; /* photos that reached matching */
		int64_t captures = all - opt;

		json_array_append_new(
			rows, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "port", tvs_rows_text(&r, i, 0),
					"mode", tvs_rows_text(&r, i, 1), "captures", (json_int_t)captures, "match",
					(json_int_t)match, "no_match", (json_int_t)nm, "retake",
					(json_int_t)tvs_rows_int(&r, i, 5), "impostor_suspected", (json_int_t)imp,
					"opt_out", (json_int_t)opt, "resolved", (json_int_t)tvs_rows_int(&r, i, 8),
					"match_rate", decided ? json_real((double)match / decided) : json_null(),
					"opt_out_rate", all ? json_real((double)opt / all) : json_null()));
	}
	tvs_rows_free(&r);
	svc_reply_json(resp, 200, json_pack("{s:o}", "ports", rows));
}

#define SERIES_MAX_BUCKETS 1000

/* ratio a/b as JSON, null when b is 0 */
static json_t *rate(int64_t a, int64_t b)
{
	return b ? json_real((double)a / (double)b) : json_null();
}

/* The summary over time: for each bucket of [from, to) (minute, hour or
 * day; at most SERIES_MAX_BUCKETS, every bucket present, empty ones zero),
 * optionally for one port or one mode, the decisions, the no-matches an
 * officer later resolved as verified (a false non-match proxy: the traveler
 * was genuine), and capture latency p50/p99 (nearest rank over the bucket's
 * captures, opt-outs excluded). Buckets are by captured_at, like the summary. */
SVC_HANDLER(h_report_timeseries)
{
	static const char *const modes[] = { "air", "land", "sea", NULL };
	static const struct {
		const char *name;
		int64_t s;
	} sizes[] = { { "minute", 60 }, { "hour", 3600 }, { "day", 86400 } };
	char buf[48], port[8] = "", mode[8] = "", t[32];
	int64_t from, to, bucket = 3600, nb;
	struct jv v = { 0 };
	json_t *series, **slot = NULL;
	tvs_rows r = { 0 }, lat = { 0 };
	int rc;

	from = svc_query_time(&v, req, "from", 1, 0);
	to = svc_query_time(&v, req, "to", 1, 0);
	if (!v.bad && to <= from)
		jv_fail(&v, "", "to", "must be after from");
	if (!v.bad && tvs_http_query_param(req, "bucket", buf, sizeof(buf))) {
		bucket = 0;
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (!strcmp(buf, sizes[i].name))
				bucket = sizes[i].s;
		if (!bucket)
			jv_fail(&v, "", "bucket", "must be minute, hour or day");
	}
	if (!v.bad && tvs_http_query_param(req, "port", buf, sizeof(buf))) {
		size_t n = strlen(buf), ok = n >= 3 && n <= 5;

		for (size_t i = 0; ok && i < n; i++)
			ok = (buf[i] >= 'A' && buf[i] <= 'Z') || (buf[i] >= '0' && buf[i] <= '9');
		if (!ok)
			jv_fail(&v, "", "port", "must be a port code ([A-Z0-9]{3,5})");
		else
			memcpy(port, buf, n + 1);
	}
	if (!v.bad && tvs_http_query_param(req, "mode", buf, sizeof(buf))) {
		for (size_t i = 0; modes[i] && !mode[0]; i++)
			if (!strcmp(buf, modes[i]))
				snprintf(mode, sizeof(mode), "%s", modes[i]);
		if (!mode[0])
			jv_fail(&v, "", "mode", "must be air, land or sea");
	}
	nb = v.bad ? 0 : (to - from + bucket - 1) / bucket;
	if (!v.bad && nb > SERIES_MAX_BUCKETS)
		jv_fail(&v, "", "bucket", "%lld buckets: at most %d (widen the bucket or narrow the range)",
			(long long)nb, SERIES_MAX_BUCKETS);
	if (v.bad) {
		tvs_http_reply_error(resp, 400, "invalid_query", "%s: %s", v.field, v.msg);
		return;
	}
	/* plain SQL for both backends: CASE rather than sum(boolean), '?' placeholders */
#define SERIES_FROM                                                                                    \
	" FROM encounters e JOIN locations l ON l.id = e.location_id JOIN ports p ON p.id = l.port_id" \
	" WHERE e.captured_at >= ? AND e.captured_at < ? AND (? = '' OR p.code = ?) AND (? = '' OR p.mode = ?)"
#define SERIES_COUNT(cond) " sum(CASE WHEN " cond " THEN 1 ELSE 0 END)"
#define SERIES_PARAMS                                                                                   \
	(tvs_val[]){ TVS_VINT(from), TVS_VINT(bucket), TVS_VINT(from), TVS_VINT(to), TVS_VTEXT(port),    \
		     TVS_VTEXT(port), TVS_VTEXT(mode), TVS_VTEXT(mode) },                                \
		8
	rc = tvs_store_query(s->store,
			     "SELECT (e.captured_at - ?) / ?, count(*)," SERIES_COUNT("e.decision = 'MATCH'") ","
			     SERIES_COUNT("e.decision = 'NO_MATCH'") "," SERIES_COUNT("e.decision = 'RETAKE'") ","
			     SERIES_COUNT("e.decision = 'IMPOSTOR_SUSPECTED'") "," SERIES_COUNT("e.decision = 'OPT_OUT'") ","
			     SERIES_COUNT("e.decision = 'NO_MATCH' AND EXISTS (SELECT 1 FROM officer_actions a"
					  " WHERE a.encounter_id = e.id AND a.action = 'verified')")
				     SERIES_FROM " GROUP BY 1 ORDER BY 1",
			     SERIES_PARAMS, &r);
	if (!rc)
		rc = tvs_store_query(s->store,
				     "SELECT b, max(CASE WHEN rn = (n * 50 + 99) / 100 THEN ms END),"
				     " max(CASE WHEN rn = (n * 99 + 99) / 100 THEN ms END)"
				     " FROM (SELECT b, ms, row_number() OVER (PARTITION BY b ORDER BY ms) AS rn,"
				     " count(*) OVER (PARTITION BY b) AS n"
				     " FROM (SELECT (e.captured_at - ?) / ? AS b, e.latency_ms AS ms" SERIES_FROM
				     " AND e.decision <> 'OPT_OUT' AND e.latency_ms IS NOT NULL) AS x) AS y"
				     " GROUP BY b ORDER BY b",
				     SERIES_PARAMS, &lat);
#undef SERIES_FROM
#undef SERIES_COUNT
#undef SERIES_PARAMS
	if (rc) {
		svc_reply_rc(resp, rc, "report");
		goto out;
	}
	series = json_array();
	slot = calloc((size_t)nb, sizeof(*slot));
	if (!series || !slot) {
		json_decref(series);
		svc_reply_rc(resp, TVS_ENOMEM, "report");
		goto out;
	}
	for (int64_t k = 0; k < nb; k++) {
		svc_time_str(from + k * bucket, t);
		slot[k] = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:n,s:n,s:n,s:n,s:n,s:n}", "start", t, "captures",
				    (json_int_t)0, "match", (json_int_t)0, "no_match", (json_int_t)0, "retake",
				    (json_int_t)0, "impostor_suspected", (json_int_t)0, "opt_out", (json_int_t)0,
				    "confirmed_manually", (json_int_t)0, "match_rate", "capture_rate", "opt_out_rate",
				    "fnmr_proxy", "latency_p50_ms", "latency_p99_ms");
		json_array_append_new(series, slot[k]);
	}
	for (size_t i = 0; i < r.nrows; i++) {
		int64_t k = tvs_rows_int(&r, i, 0), all = tvs_rows_int(&r, i, 1), match = tvs_rows_int(&r, i, 2),
			nm = tvs_rows_int(&r, i, 3), retake = tvs_rows_int(&r, i, 4), imp = tvs_rows_int(&r, i, 5),
			opt = tvs_rows_int(&r, i, 6), conf = tvs_rows_int(&r, i, 7);
		int64_t decided = match + nm + imp, captures = all - opt;
		json_t *o;

		if (k < 0 || k >= nb || !(o = slot[k]))
			continue;
		json_object_set_new(o, "captures", json_integer(captures));
		json_object_set_new(o, "match", json_integer(match));
		json_object_set_new(o, "no_match", json_integer(nm));
		json_object_set_new(o, "retake", json_integer(retake));
		json_object_set_new(o, "impostor_suspected", json_integer(imp));
		json_object_set_new(o, "opt_out", json_integer(opt));
		json_object_set_new(o, "confirmed_manually", json_integer(conf));
		json_object_set_new(o, "match_rate", rate(match, decided));
		json_object_set_new(o, "capture_rate", rate(decided, captures));
		json_object_set_new(o, "opt_out_rate", rate(opt, all));
		json_object_set_new(o, "fnmr_proxy", rate(conf, match + conf));
	}
	for (size_t i = 0; i < lat.nrows; i++) {
		int64_t k = tvs_rows_int(&lat, i, 0);

		if (k < 0 || k >= nb || !slot[k])
			continue;
		if (!tvs_rows_is_null(&lat, i, 1))
			json_object_set_new(slot[k], "latency_p50_ms", json_real(tvs_rows_real(&lat, i, 1)));
		if (!tvs_rows_is_null(&lat, i, 2))
			json_object_set_new(slot[k], "latency_p99_ms", json_real(tvs_rows_real(&lat, i, 2)));
	}
	svc_reply_json(resp, 200,
		       json_pack("{s:I,s:s?,s:s?,s:o}", "bucket_s", (json_int_t)bucket, "port", port[0] ? port : NULL,
				 "mode", mode[0] ? mode : NULL, "series", series));
out:
	free(slot);
	tvs_rows_free(&r);
	tvs_rows_free(&lat);
}

/* Locations whose posted notice is missing or not the one in force: a
 * traveler there may have been photographed without being told how. */
SVC_HANDLER(h_report_notices)
{
	int64_t now = svc_now(s);
	tvs_rows cur = { 0 }, r = { 0 };
	const char *current = NULL;
	json_t *rows;
	size_t missing = 0, stale = 0;
	int rc = tvs_store_query(s->store,
				 "SELECT version FROM notices WHERE effective_at <= ? ORDER BY effective_at DESC, id DESC"
				 " LIMIT 1",
				 (tvs_val[]){ TVS_VINT(now) }, 1, &cur);

	if (!rc)
		rc = tvs_store_query(s->store,
				     "SELECT l.id, p.code, l.code, l.name, l.notice_version FROM locations l"
				     " JOIN ports p ON p.id = l.port_id ORDER BY p.code, l.code",
				     NULL, 0, &r);
	if (rc) {
		svc_reply_rc(resp, rc, "report");
		goto out;
	}
	if (cur.nrows == 1)
		current = tvs_rows_text(&cur, 0, 0);
	rows = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		const char *v = tvs_rows_is_null(&r, i, 4) ? NULL : tvs_rows_text(&r, i, 4);
		const char *st = !v ? "missing" : !current || strcmp(v, current) ? "stale" : "current";

		missing += !v;
		stale += v && st[0] == 's';
		json_array_append_new(rows, json_pack("{s:I,s:s,s:s,s:s,s:s?,s:s}", "location_id",
						      (json_int_t)tvs_rows_int(&r, i, 0), "port", tvs_rows_text(&r, i, 1),
						      "code", tvs_rows_text(&r, i, 2), "name", tvs_rows_text(&r, i, 3),
						      "notice_version", v, "status", st));
	}
	svc_reply_json(resp, 200, json_pack("{s:s?,s:I,s:I,s:o}", "notice_in_force", current, "missing",
					    (json_int_t)missing, "stale", (json_int_t)stale, "locations", rows));
out:
	tvs_rows_free(&cur);
	tvs_rows_free(&r);
}
