/*
 * The service: lifecycle, the route table with each route's roles, and the
 * helpers every handler shares (JSON validation that names the failing field
 * path, replies, time, base64, the access record).
 *
 * The role check happens here, once, before a handler runs: a route cannot
 * forget it, and the table below is the authorisation matrix that
 * docs/api.md, the OpenAPI document and the tests all state.
 */
#include "svc_int.h"

#include "tvs/audit.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tvs_svc_default_config(tvs_svc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->db_url = "tvs.db";
	c->model_dir = "models/model";
	c->calibration = "data/calibration/lfw-default.json";
	c->country = "USA";
	c->fpir = 0.003;
	c->fmr = 0.001;
	c->margin = 0.03;
	c->session_ttl_s = 8 * 3600;
	c->workers = 2;
	c->rule_set = "final-2025";
	c->retention_interval_s = 60;
	c->retention_batch = 256;
	c->gallery_poll_ms = 1000;
	c->non_citizen_years = 75;
}

int64_t svc_now(const tvs_svc_t *s)
{
	if (s->cfg.now)
		return s->cfg.now(s->cfg.now_arg);
	return (int64_t)time(NULL);
}

void svc_time_str(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld", (long long)t);
}

/* ------------------------------------------------------------ routes */

#define PUB TVS_ROLE_PUBLIC
#define DEV TVS_ROLE_DEVICE
#define REP TVS_ROLE_REPOSITORY
#define OFF TVS_ROLE_OFFICER
#define SUP TVS_ROLE_SUPERVISOR
#define AUD TVS_ROLE_AUDITOR
#define ADM TVS_ROLE_ADMIN

/* method, pattern, handler, on_worker, max_body (0 default), roles */
#define SVC_ROUTES(X)                                                                      \
	X("GET", "/healthz", h_healthz, 0, 0, PUB)                                         \
	X("GET", "/metrics", h_metrics, 0, 0, PUB)                                         \
	X("GET", "/v1/openapi.json", h_openapi, 0, 0, PUB)                                 \
	X("GET", "/", h_console_index, 0, 0, PUB)                                          \
	X("GET", "/console/{file}", h_console_file, 0, 0, PUB)                             \
	X("POST", "/v1/sessions", h_session_create, 1, 4096, PUB)                          \
	X("DELETE", "/v1/sessions/current", h_session_delete, 1, 0, OFF | SUP | AUD | ADM) \
	X("POST", "/v1/users", h_user_create, 1, 4096, ADM)                                \
	X("GET", "/v1/users", h_user_list, 1, 0, ADM)                                      \
	X("POST", "/v1/ports", h_port_create, 1, 4096, ADM)                                \
	X("GET", "/v1/ports", h_port_list, 1, 0, OFF | SUP | AUD | ADM)                    \
	X("POST", "/v1/notices", h_notice_create, 1, 65536, ADM)                           \
	X("GET", "/v1/notices", h_notice_list, 1, 0, OFF | SUP | AUD | ADM)                \
	X("POST", "/v1/locations", h_location_create, 1, 4096, ADM)                        \
	X("GET", "/v1/locations", h_location_list, 1, 0, OFF | SUP | AUD | ADM)            \
	X("PATCH", "/v1/locations/{id}", h_location_patch, 1, 4096, ADM)                   \
	X("POST", "/v1/devices", h_device_create, 1, 4096, ADM)                            \
	X("GET", "/v1/devices", h_device_list, 1, 0, ADM)                                  \
	X("POST", "/v1/devices/{id}/revoke", h_device_revoke, 1, 0, ADM)                   \
	X("POST", "/v1/portraits", h_portrait_create, 1, 0, REP)                           \
	X("GET", "/v1/portraits/{id}/image", h_portrait_image, 1, 0, OFF | SUP)            \
	X("POST", "/v1/manifests", h_manifest_create, 1, 0, REP | ADM)                     \
	X("GET", "/v1/manifests", h_manifest_list, 1, 0, OFF | SUP | AUD | ADM)            \
	X("GET", "/v1/manifests/{id}", h_manifest_get, 1, 0, OFF | SUP | AUD | ADM)        \
	X("POST", "/v1/manifests/{id}/gallery", h_manifest_gallery, 1, 0, REP | SUP | ADM) \
	X("POST", "/v1/captures", h_capture, 1, 0, DEV)                                    \
	X("POST", "/v1/optouts", h_optout, 1, 4096, DEV)                                   \
	X("GET", "/v1/encounters", h_encounter_list, 1, 0, OFF | SUP | AUD)                \
	X("GET", "/v1/encounters/{id}", h_encounter_get, 1, 0, OFF | SUP | AUD)            \
	X("GET", "/v1/encounters/{id}/image", h_encounter_image, 1, 0, OFF | SUP)          \
	X("POST", "/v1/encounters/{id}/resolve", h_encounter_resolve, 1, 4096, OFF | SUP)  \
	X("GET", "/v1/events", h_events, 0, 0, OFF | SUP)                                  \
	X("GET", "/v1/reports/summary", h_report_summary, 1, 0, SUP | AUD | ADM)           \
	X("GET", "/v1/reports/timeseries", h_report_timeseries, 1, 0, SUP | AUD | ADM)     \
	X("GET", "/v1/reports/notices", h_report_notices, 1, 0, SUP | AUD | ADM)           \
	X("GET", "/v1/reports/retention", h_report_retention, 1, 0, SUP | AUD | ADM)       \
	X("POST", "/v1/retention/run", h_retention_run, 1, 0, ADM)                         \
	X("GET", "/v1/audit", h_audit_export, 1, 0, AUD | ADM)                             \
	X("GET", "/v1/audit/verify", h_audit_verify, 1, 0, AUD | ADM)                      \
	X("GET", "/v1/reports/access", h_report_access, 1, 0, AUD | ADM)

typedef void (*svc_handler_fn)(tvs_svc_t *, const tvs_http_req *, tvs_http_resp *, const struct svc_principal *);

static void dispatch(void *app, const tvs_http_req *req, tvs_http_resp *resp, unsigned roles, svc_handler_fn fn)
{
	tvs_svc_t *s = app;
	struct svc_principal who;

	memset(&who, 0, sizeof(who));
	if (!(roles & TVS_ROLE_PUBLIC) && svc_auth_or_reply(s, req, resp, roles, &who))
		return;
	if (who.name[0])
		snprintf(resp->actor, sizeof(resp->actor), "%s", who.name);
	fn(s, req, resp, &who);
}

#define X_WRAP(m, p, fn, w, mb, roles)                                                  \
	static void w_##fn(void *app, const tvs_http_req *req, tvs_http_resp *resp)     \
	{                                                                               \
		dispatch(app, req, resp, (roles), fn);                                  \
	}
SVC_ROUTES(X_WRAP)

#define X_ROUTE(m, p, fn, w, mb, roles) { m, p, w_##fn, w, mb },
static const tvs_http_route routes[] = { SVC_ROUTES(X_ROUTE) };

#define X_ROLES(m, p, fn, w, mb, roles) roles,
static const unsigned route_roles[] = { SVC_ROUTES(X_ROLES) };

const tvs_http_route *tvs_svc_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

unsigned tvs_svc_route_roles(size_t i)
{
	return i < sizeof(route_roles) / sizeof(route_roles[0]) ? route_roles[i] : 0;
}

static const struct {
	unsigned bit;
	const char *name;
} role_names[] = {
	{ TVS_ROLE_DEVICE, "device" },   { TVS_ROLE_REPOSITORY, "repository" }, { TVS_ROLE_OFFICER, "officer" },
	{ TVS_ROLE_SUPERVISOR, "supervisor" }, { TVS_ROLE_AUDITOR, "auditor" }, { TVS_ROLE_ADMIN, "admin" },
};

unsigned tvs_svc_role_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(name, role_names[i].name))
			return role_names[i].bit;
	return 0;
}

const char *tvs_svc_role_name(unsigned role)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (role == role_names[i].bit)
			return role_names[i].name;
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* What every use of a store needs, the server's and the admin commands':
 * configuration checked, rule set and terms, master key, store migrated. */
static int open_core(tvs_svc_t **out, const tvs_svc_config *cfg)
{
	tvs_svc_t *s;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return tvs__err(TVS_EIO, "service: libsodium failed to initialise");
	if (!cfg || cfg->workers < 1 || cfg->workers > 256 || !(cfg->fpir > 0 && cfg->fpir < 1) ||
	    !(cfg->fmr > 0 && cfg->fmr < 1) || !(cfg->margin >= 0 && cfg->margin < 1) || cfg->session_ttl_s < 60)
		return tvs__err(TVS_EINVAL, "service: bad configuration");
	if (!cfg->country || strlen(cfg->country) != 3)
		return tvs__err(TVS_EINVAL, "service: country must be an ISO 3166 alpha-3 code");
	s = calloc(1, sizeof(*s));
	if (!s)
		return tvs__err(TVS_ENOMEM, "service");
	*out = s;
	s->cfg = *cfg;
	memcpy(s->country, cfg->country, 4);
	pthread_rwlock_init(&s->gal.lock, NULL);
	pthread_mutex_init(&s->throttle.mu, NULL);
	pthread_mutex_init(&s->retention_mu, NULL);
	svc_events_init(&s->ev);
	if (tvs_policy_rules_by_name(cfg->rule_set ? cfg->rule_set : "", &s->rules))
		return tvs__err(TVS_EINVAL, "service: rule set must be pilot-2018 or final-2025, not %s",
				cfg->rule_set ? cfg->rule_set : "(none)");
	tvs_policy_default_terms(&s->terms);
	if (!(cfg->non_citizen_years > 0 && cfg->non_citizen_years <= 1000) || cfg->retention_interval_s < 0 ||
	    cfg->retention_batch < 1 || cfg->gallery_poll_ms < 0)
		return tvs__err(TVS_EINVAL, "service: non-citizen term must be in (0, 1000] years, the retention"
					    " interval >= 0, the retention batch >= 1, the gallery poll >= 0");
	s->terms.non_citizen_s = (int64_t)(cfg->non_citizen_years * TVS_POLICY_YEAR_S);
	if (!cfg->key_file)
		return tvs__err(TVS_EINVAL, "service: a master key file is required (--key-file)");
	rc = tvs_vault_open(&s->vault, cfg->key_file);
	if (rc)
		return tvs__err(rc, "master key %s: %s", cfg->key_file, tvs_errmsg());
	rc = tvs_store_open(&s->store, cfg->db_url, cfg->workers + 2);
	if (!rc)
		rc = tvs_store_migrate(s->store, svc_migrations, svc_nmigrations);
	if (!rc)
		rc = svc_audit_key_load(s);
	return rc;
}

int tvs_svc_open_admin(tvs_svc_t **out, const tvs_svc_config *cfg)
{
	tvs_svc_t *s;
	int rc = open_core(&s, cfg);

	if (rc) {
		tvs_svc_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

int tvs_svc_audit_event(tvs_svc_t *s, const char *actor, const char *action, const char *object,
			const char *purpose)
{
	struct svc_principal p = { 0 };

	snprintf(p.name, sizeof(p.name), "%s", actor);
	return svc_audit(s, NULL, &p, action, object, purpose);
}

void tvs_svc_audit_key(const tvs_svc_t *s, uint8_t out[32])
{
	memcpy(out, s->audit_key, 32);
}

int tvs_svc_create(tvs_svc_t **out, const tvs_svc_config *cfg)
{
	tvs_svc_t *s;
	tvs_face_config fc;
	int rc = open_core(&s, cfg);

	*out = NULL;
	if (rc)
		goto fail;
	tvs_quality_default_config(&s->q_capture);
	/* a document portrait is a controlled photo: hold it to a stricter pose */
	s->q_enrol = s->q_capture;
	s->q_enrol.max_yaw = s->q_capture.max_yaw * 0.75;

	rc = tvs_calib_load_json(&s->calib, cfg->calibration);
	if (rc) {
		rc = tvs__err(rc, "calibration %s: %s", cfg->calibration, tvs_errmsg());
		goto fail;
	}
	if (strcmp(s->calib.model, TVS_MATCH_DEFAULT_MODEL) != 0) {
		rc = tvs__err(TVS_EMODEL, "calibration %s is for model %s, not %s", cfg->calibration,
			      s->calib.model, TVS_MATCH_DEFAULT_MODEL);
		goto fail;
	}
	rc = tvs_calib_threshold_for_fmr(&s->calib, cfg->fmr, &s->thr_1to1);
	if (rc) {
		rc = tvs__err(TVS_ENOTFOUND, "calibration %s resolves no threshold at FMR %g", cfg->calibration,
			      cfg->fmr);
		goto fail;
	}
	tvs_face_default_config(&fc);
	fc.model_dir = cfg->model_dir;
	rc = tvs_face_engine_create(&s->engine, &fc);
	if (rc)
		goto fail;
	s->ctx = calloc((size_t)cfg->workers, sizeof(*s->ctx));
	if (!s->ctx) {
		rc = tvs__err(TVS_ENOMEM, "service");
		goto fail;
	}
	s->nctx = cfg->workers;
	s->started_at = svc_now(s);
	rc = svc_galleries_restore(s);
	if (!rc)
		rc = svc_ticker_start(&s->retention, s, "retention", cfg->retention_interval_s * 1000,
				      svc_retention_tick);
	if (!rc)
		rc = svc_ticker_start(&s->gallery_jobs, s, "gallery builds", cfg->gallery_poll_ms, svc_gallery_jobs_tick);
	if (!rc)
		rc = svc_events_fanout_start(s);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	tvs_svc_destroy(s);
	return rc;
}

void tvs_svc_shutdown_streams(tvs_svc_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->ev.mu);
	s->ev.stopping = 1;
	pthread_cond_broadcast(&s->ev.cv);
	pthread_mutex_unlock(&s->ev.mu);
}

void tvs_svc_destroy(tvs_svc_t *s)
{
	if (!s)
		return;
	svc_events_fanout_stop(s);
	svc_ticker_stop(&s->gallery_jobs);
	svc_ticker_stop(&s->retention);
	for (int i = 0; s->ctx && i < s->nctx; i++)
		tvs_face_ctx_destroy(s->ctx[i]);
	free(s->ctx);
	tvs_face_engine_destroy(s->engine);
	svc_galleries_free(&s->gal);
	pthread_rwlock_destroy(&s->gal.lock);
	pthread_mutex_destroy(&s->throttle.mu);
	pthread_mutex_destroy(&s->retention_mu);
	svc_events_free(&s->ev);
	tvs_store_close(s->store);
	tvs_vault_destroy(s->vault);
	sodium_memzero(s->audit_key, sizeof(s->audit_key));
	tvs_calib_free(&s->calib);
	free(s);
}

int tvs_svc_worker_init(void *app, int worker)
{
	tvs_svc_t *s = app;

	if (worker < 0 || worker >= s->nctx)
		return tvs__err(TVS_EINVAL, "service: worker %d of %d", worker, s->nctx);
	return tvs_face_ctx_create(&s->ctx[worker], s->engine);
}

void tvs_svc_worker_fini(void *app, int worker)
{
	tvs_svc_t *s = app;

	if (worker >= 0 && worker < s->nctx) {
		tvs_face_ctx_destroy(s->ctx[worker]);
		s->ctx[worker] = NULL;
	}
}

/* ------------------------------------------------------------ replies */

void svc_reply_json(tvs_http_resp *resp, int status, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!txt) {
		tvs_http_reply_error(resp, 500, "internal", "could not encode the reply");
		return;
	}
	free(resp->body);
	resp->body = txt;
	resp->body_len = strlen(txt);
	resp->status = status;
	resp->content_type = "application/json";
}

void svc_reply_rc(tvs_http_resp *resp, int rc, const char *what)
{
	const char *m = tvs_errmsg();

	/* The store's own words name tables and constraints: they help the
	 * operator's log, not the client, and say more about the schema than a
	 * client should learn. */
	if (!strncmp(m, "sqlite:", 7) || !strncmp(m, "store:", 6))
		m = rc == TVS_ECONFLICT ? "it already exists" : "refused by the store";
	switch (rc) {
	case TVS_ENOTFOUND: tvs_http_reply_error(resp, 404, "not_found", "%s not found", what); break;
	case TVS_ECONFLICT: tvs_http_reply_error(resp, 409, "conflict", "%s: %s", what, m); break;
	case TVS_EBUSY:
		tvs_http_add_header(resp, "Retry-After", "1");
		tvs_http_reply_error(resp, 503, "overloaded", "%s: busy, retry", what);
		break;
	case TVS_EFORMAT:
	case TVS_EUNSUPPORTED:
	case TVS_EINVAL: tvs_http_reply_error(resp, 400, "invalid_field", "%s: %s", what, m); break;
	case TVS_ETOOBIG: tvs_http_reply_error(resp, 413, "too_large", "%s: %s", what, m); break;
	default: tvs_http_reply_error(resp, 500, "internal", "%s failed", what); break;
	}
}

int64_t svc_param_id_or_reply(const tvs_http_req *req, tvs_http_resp *resp, int i)
{
	const char *p = i < req->nparams ? req->params[i] : NULL;
	char *end;
	long long v;

	if (!p || !*p || *p == '-' || *p == '+')
		goto bad;
	v = strtoll(p, &end, 10);
	if (*end || v <= 0)
		goto bad;
	return v;
bad:
	tvs_http_reply_error(resp, 404, "not_found", "no such id: %.32s", p ? p : "");
	return -1;
}

/* ------------------------------------------------------------ JSON input */

json_t *svc_json_body_or_reply(const tvs_http_req *req, tvs_http_resp *resp)
{
	json_error_t e;
	json_t *j;

	if (strcmp(req->content_type, "application/json") != 0) {
		tvs_http_reply_error(resp, 415, "unsupported_media_type", "expected application/json, got %s",
				     req->content_type[0] ? req->content_type : "no content type");
		return NULL;
	}
	j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		tvs_http_reply_error(resp, 400, "invalid_json", "line %d column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		tvs_http_reply_error(resp, 400, "invalid_json", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

int64_t svc_query_time(struct jv *v, const tvs_http_req *req, const char *name, int required, int64_t def)
{
	char buf[48];
	json_t *q = json_object();
	int64_t t;

	/* the body's RFC 3339 rules and messages, through a one-field object */
	if (tvs_http_query_param(req, name, buf, sizeof(buf)))
		json_object_set_new(q, name, json_string(buf));
	t = jv_time(v, q, "", name, required, def);
	json_decref(q);
	return t;
}

int jv_reply(struct jv *v, tvs_http_resp *resp)
{
	json_t *j;

	if (!v->bad)
		return 0;
	j = json_pack("{s:{s:s,s:s+++,s:s}}", "error", "code", "invalid_field", "message", v->field, ": ",
		      v->msg, "", "field", v->field);
	snprintf(resp->error_code, sizeof(resp->error_code), "invalid_field");
	svc_reply_json(resp, 400, j);
	return -1;
}

/* ------------------------------------------------------------ misc */

int svc_base64_decode(const char *in, size_t len, uint8_t **out, size_t *n)
{
	size_t cap = len / 4 * 3 + 3, got = 0;
	uint8_t *buf;

	*out = NULL;
	*n = 0;
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return tvs__err(TVS_ENOMEM, "base64");
	if (sodium_base642bin(buf, cap, in, len, "\r\n", &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(buf, cap, in, len, "\r\n", &got, NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) !=
		    0) {
		free(buf);
		return tvs__err(TVS_EFORMAT, "not valid base64");
	}
	*out = buf;
	*n = got;
	return 0;
}

int svc_audit(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_principal *p, const char *action, const char *object,
	      const char *purpose)
{
	tvs_audit_entry e = { .at = svc_now(s),
			      .actor = p && p->name[0] ? p->name : "system",
			      .role = p && p->role ? tvs_svc_role_name(p->role) : "system",
			      .action = action,
			      .object = object,
			      .purpose = purpose };
	tvs_tx_t *own = NULL;
	int rc;

	if (tx)
		return tvs_audit_append(tx, s->audit_key, &e, NULL);
	/* on its own: one write transaction for the one row */
	rc = tvs_store_begin(s->store, 1, &own);
	if (!rc)
		rc = tvs_audit_append(own, s->audit_key, &e, NULL);
	if (!rc) {
		rc = tvs_tx_commit(own);
		own = NULL;
	}
	tvs_tx_rollback(own);
	return rc;
}

int svc_audit_commit(tvs_svc_t *s, tvs_tx_t **tx, const struct svc_principal *p, const char *action,
		     const char *object, const char *purpose)
{
	int rc = svc_audit(s, *tx, p, action, object, purpose);

	if (rc)
		tvs_tx_rollback(*tx);
	else
		rc = tvs_tx_commit(*tx);
	*tx = NULL;
	return rc;
}
