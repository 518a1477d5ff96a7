/*
 * Accountability and operations: the summary report per port and mode,
 * Prometheus metrics, the health check and the OpenAPI document.
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
	char buf[48];
	int64_t from = 0, to = INT64_MAX;
	tvs_rows r = { 0 };
	json_t *rows;
	int rc;
	struct jv v = { 0 };
	json_t *q = json_object();

	/* reuse the RFC 3339 parser through a one-field object */
	if (tvs_http_query_param(req, "from", buf, sizeof(buf))) {
		json_object_set_new(q, "from", json_string(buf));
		from = jv_time(&v, q, "", "from", 1, 0);
	}
	if (tvs_http_query_param(req, "to", buf, sizeof(buf))) {
		json_object_set_new(q, "to", json_string(buf));
		to = jv_time(&v, q, "", "to", 1, INT64_MAX);
	}
	json_decref(q);
	if (v.bad) {
		tvs_http_reply_error(resp, 400, "invalid_query", "%s: %s", v.field, v.msg);
		return;
	}
	rc = tvs_store_query(
		s->store,
		"SELECT p.code, p.mode, count(*),"
		" sum(e.decision = 'MATCH'), sum(e.decision = 'NO_MATCH'), sum(e.decision = 'RETAKE'),"
		" sum(e.decision = 'IMPOSTOR_SUSPECTED'), sum(e.decision = 'OPT_OUT'), sum(e.status = 'resolved')"
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
