/*
 * The audit log over HTTP, for auditors: the rows (which never hold
 * biometrics: every field is text written by the service itself), the
 * chain's verdict, and who accessed what, per actor and period.
 */
#include "svc/svc_int.h"

#include "tvs/audit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_DEFAULT 1000
#define EXPORT_MAX 10000

/* from/to query parameters (RFC 3339) into [*from, *to); -1 after a 400. */
static int range_or_reply(const tvs_http_req *req, tvs_http_resp *resp, int64_t *from, int64_t *to)
{
	struct jv v = { 0 };

	*from = svc_query_time(&v, req, "from", 0, 0);
	*to = svc_query_time(&v, req, "to", 0, TVS_AUDIT_MAX_AT + 1);
	if (!v.bad && *to <= *from)
		jv_fail(&v, "", "to", "must be after from");
	if (v.bad) {
		tvs_http_reply_error(resp, 400, "invalid_query", "%s: %s", v.field, v.msg);
		return -1;
	}
	return 0;
}

struct export_ctx {
	json_t *rows;
	size_t limit;
	int64_t after_seq;  /* rows up to this seq were sent before */
	const char *actor, *action, *object; /* NULL: any */
	int64_t last_seq;   /* of the last row put in rows */
	int truncated;      /* a matching row was left out */
};

/* a filter that is NULL, or equal to a field that is not */
static int field_is(const char *want, const char *field)
{
	return !want || (field && !strcmp(want, field));
}

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int export_row(void *arg, const tvs_audit_row *row)
{
	struct export_ctx *x = arg;
	char at[32], hex[2 * TVS_AUDIT_HASH_BYTES + 1];

	if (row->seq <= x->after_seq || !field_is(x->actor, row->e.actor) || !field_is(x->action, row->e.action) ||
	    !field_is(x->object, row->e.object))
		return 0;
	if (json_array_size(x->rows) >= x->limit) {
		x->truncated = 1;
		return TVS_ETOOBIG; /* enough: stop the walk */
	}
	x->last_seq = row->seq;
	svc_time_str(row->e.at, at);
	sodium_bin2hex(hex, sizeof(hex), row->hash, sizeof(row->hash));
	json_array_append_new(x->rows, json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s}", "seq", (json_int_t)row->seq,
						 "at", at, "actor", text_or_null(row->e.actor), "role",
						 text_or_null(row->e.role), "action", text_or_null(row->e.action),
						 "object", text_or_null(row->e.object), "purpose",
						 text_or_null(row->e.purpose), "detail", text_or_null(row->e.detail),
						 "hash", hex));
	return 0;
}

#define FILTER_MAX 200

/* Query parameter name of req, whole, into *val (malloc'd; NULL if absent):
 * 0, or -1 after a 503. Room for the whole query: a value too long for a
 * fixed buffer must be refused, not taken for an absent parameter. */
static int param_or_reply(const tvs_http_req *req, tvs_http_resp *resp, const char *name, char **val)
{
	size_t cap = strlen(req->query ? req->query : "") + 1;

	*val = malloc(cap);
	if (!*val) {
		svc_reply_rc(resp, TVS_ENOMEM, "audit export");
		return -1;
	}
	if (!tvs_http_query_param(req, name, *val, cap)) {
		free(*val);
		*val = NULL;
	}
	return 0;
}

/* Filter name, 1 to FILTER_MAX bytes, into buf: 1 if given, 0 if not, -1
 * after a 4xx/5xx. */
static int filter_or_reply(const tvs_http_req *req, tvs_http_resp *resp, const char *name, char buf[FILTER_MAX + 1])
{
	char *v;
	int rc = param_or_reply(req, resp, name, &v);

	if (!rc && v && (!v[0] || strlen(v) > FILTER_MAX)) {
		tvs_http_reply_error(resp, 400, "invalid_query", "%s: 1 to %d characters", name, FILTER_MAX);
		rc = -1;
	} else if (!rc && v) {
		memcpy(buf, v, strlen(v) + 1);
		rc = 1;
	}
	free(v);
	return rc;
}

/* A whole number in [lo, hi] (lo >= 0) from query parameter name, default
 * def; -1 after a 4xx/5xx. */
static int64_t count_or_reply(const tvs_http_req *req, tvs_http_resp *resp, const char *name, int64_t lo,
			      int64_t hi, int64_t def)
{
	char *v, *end;
	long long n = def;

	if (param_or_reply(req, resp, name, &v))
		return -1;
	if (v) {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < lo || n > hi) {
			tvs_http_reply_error(resp, 400, "invalid_query", "%s: a whole number from %lld to %lld", name,
					     (long long)lo, (long long)hi);
			n = -1;
		}
	}
	free(v);
	return n;
}

SVC_HANDLER(h_audit_export)
{
	struct export_ctx x = { .limit = EXPORT_DEFAULT };
	char actor[FILTER_MAX + 1], action[FILTER_MAX + 1], object[FILTER_MAX + 1];
	int64_t from, to, n;
	int rc, fa, fb, fc;

	if (range_or_reply(req, resp, &from, &to))
		return;
	if ((n = count_or_reply(req, resp, "limit", 1, EXPORT_MAX, EXPORT_DEFAULT)) < 0)
		return;
	x.limit = (size_t)n;
	if ((x.after_seq = count_or_reply(req, resp, "after_seq", 0, INT64_MAX - 1, 0)) < 0)
		return;
	if ((fa = filter_or_reply(req, resp, "actor", actor)) < 0 ||
	    (fb = filter_or_reply(req, resp, "action", action)) < 0 ||
	    (fc = filter_or_reply(req, resp, "object", object)) < 0)
		return;
	x.actor = fa ? actor : NULL;
	x.action = fb ? action : NULL;
	x.object = fc ? object : NULL;
	x.rows = json_array();
	rc = tvs_audit_export(s->store, from, to, export_row, &x);
	if (rc && rc != TVS_ETOOBIG) {
		json_decref(x.rows);
		svc_reply_rc(resp, rc, "audit export");
		return;
	}
	/* reading the log is itself an access to it */
	svc_audit(s, NULL, who, "audit.export", NULL, NULL);
	if (x.truncated)
		svc_reply_json(resp, 200, json_pack("{s:o,s:b,s:I}", "rows", x.rows, "truncated", 1, "next_after_seq",
						    (json_int_t)x.last_seq));
	else
		svc_reply_json(resp, 200, json_pack("{s:o,s:b}", "rows", x.rows, "truncated", 0));
}

SVC_HANDLER(h_audit_verify)
{
	tvs_audit_report r;
	int rc = tvs_audit_verify(s->store, s->audit_key, &r);

	if (rc) {
		svc_reply_rc(resp, rc, "audit verify");
		return;
	}
	svc_reply_json(resp, 200,
		       json_pack("{s:b,s:I,s:I,s:I,s:s?,s:o?,s:s?}", "ok", r.ok, "rows", (json_int_t)r.rows, "verified",
				 (json_int_t)r.verified, "last_seq", (json_int_t)r.last_seq, "damage",
				 r.ok ? NULL : tvs_audit_damage_name(r.kind), "first_bad_seq",
				 r.ok ? NULL : json_integer(r.first_bad_seq), "message", r.ok ? NULL : r.message));
}

struct access_ctx {
	json_t *periods; /* {"<start>": {"<actor>": {"<action>": n}}} */
};

static int access_count(void *arg, int64_t period_start, const char *actor, const char *action, int64_t n)
{
	struct access_ctx *x = arg;
	char at[32];
	json_t *p, *a;

	svc_time_str(period_start, at);
	p = json_object_get(x->periods, at);
	if (!p) {
		p = json_object();
		json_object_set_new(x->periods, at, p);
	}
	a = json_object_get(p, actor ? actor : "unknown");
	if (!a) {
		a = json_object();
		json_object_set_new(p, actor ? actor : "unknown", a);
	}
	json_object_set_new(a, action ? action : "unknown", json_integer(n));
	return 0;
}

/* Every device, partner and user's accesses per period: the report that
 * shows who touched what, for every partner, every period. */
SVC_HANDLER(h_report_access)
{
	struct access_ctx x;
	char buf[24];
	int64_t from, to, period = 86400;
	int rc;

	if (range_or_reply(req, resp, &from, &to))
		return;
	if (!tvs_http_query_param(req, "from", buf, sizeof(buf)) || !tvs_http_query_param(req, "to", buf, sizeof(buf))) {
		tvs_http_reply_error(resp, 400, "invalid_query", "from and to are required");
		return;
	}
	if (tvs_http_query_param(req, "period", buf, sizeof(buf))) {
		period = !strcmp(buf, "hour") ? 3600 : !strcmp(buf, "day") ? 86400 : !strcmp(buf, "week") ? 604800 : 0;
		if (!period) {
			tvs_http_reply_error(resp, 400, "invalid_query", "period: hour, day or week");
			return;
		}
	}
	x.periods = json_object();
	rc = tvs_audit_access_report(s->store, from, to, period, access_count, &x);
	if (rc) {
		json_decref(x.periods);
		if (rc == TVS_ETOOBIG)
			tvs_http_reply_error(resp, 400, "invalid_query", "too many periods: widen period or narrow the range");
		else
			svc_reply_rc(resp, rc, "access report");
		return;
	}
	svc_reply_json(resp, 200, json_pack("{s:I,s:o}", "period_s", (json_int_t)period, "periods", x.periods));
}
