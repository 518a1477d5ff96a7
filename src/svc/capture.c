/*
 * Captures and opt-outs: the device's question and the service's answer.
 *
 *   quality gate -> RETAKE(reason)
 *   1:N over every gallery the location serves now:
 *       best >= threshold(FPIR, gallery size) and best - runner-up >= margin -> gallery match
 *   1:1 against the presented document's portraits, when a document is given:
 *       gallery match and document match, same document  -> MATCH
 *       exactly one of the two, or two different people   -> IMPOSTOR_SUSPECTED
 *       neither                                          -> NO_MATCH
 *
 * The encounter is committed before the reply leaves, and the reply holds
 * only {decision, token, reason, latency_ms}: the device learns nothing it
 * could leak. A request_id makes a retry safe: the same device sending the
 * same id gets the first answer back and nothing new is recorded.
 *
 * What is kept: a no-match or impostor's live image (an officer must see it);
 * a matched non-citizen's image (the encounter joins their record); never a
 * matched citizen's image, nor anything of a retake or an opt-out.
 */
#include "svc_int.h"

#include "tvs/mrz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const double lat_bounds[SVC_LAT_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
						    0.15,  0.25, 0.5,   1.0,  2.0,   5.0 };

const double *svc_latency_bounds(void)
{
	return lat_bounds;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *const decision_names[D_COUNT] = { "MATCH", "NO_MATCH", "RETAKE", "IMPOSTOR_SUSPECTED",
						     "OPT_OUT" };

const char *svc_decision_name(int d)
{
	return d >= 0 && d < D_COUNT ? decision_names[d] : "UNKNOWN";
}

static void count_decision(tvs_svc_t *s, int d, double ms)
{
	atomic_fetch_add(&s->m.decisions[d], 1);
	if (d == D_OPT_OUT)
		return;
	int b = 0;

	while (b < SVC_LAT_BUCKETS && ms / 1e3 > lat_bounds[b])
		b++;
	atomic_fetch_add(&s->m.lat_bucket[b], 1);
	atomic_fetch_add(&s->m.lat_sum_us, (unsigned long long)(ms * 1e3));
}

static void reply_decision(tvs_http_resp *resp, int status, const char *decision, const char *token,
			   const char *reason, double ms)
{
	svc_reply_json(resp, status, json_pack("{s:s,s:s,s:s?,s:f}", "decision", decision, "token", token, "reason",
					       reason, "latency_ms", ms));
}

/* A retry: answer with what was recorded for (device, request_id). 1 if
 * replied, 0 if there is no such encounter, -1 after an error reply. */
static int replay(tvs_svc_t *s, tvs_http_resp *resp, int64_t device, const char *request_id, int status)
{
	tvs_rows r = { 0 };
	int rc;

	if (!request_id)
		return 0;
	rc = tvs_store_query(s->store,
			     "SELECT decision, token, reason, latency_ms FROM encounters WHERE device_id = ? AND request_id = ?",
			     (tvs_val[]){ TVS_VINT(device), TVS_VTEXT(request_id) }, 2, &r);
	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, "encounter");
		return -1;
	}
	if (r.nrows == 0) {
		tvs_rows_free(&r);
		return 0;
	}
	reply_decision(resp, status, tvs_rows_text(&r, 0, 0), tvs_rows_text(&r, 0, 1), tvs_rows_text(&r, 0, 2),
		       tvs_rows_real(&r, 0, 3));
	tvs_rows_free(&r);
	return 1;
}

struct encounter {
	int64_t device, location, captured_at, manifest_id, matched_doc;
	const char *request_id;
	int decision;
	const char *reason;
	double score, latency_ms;
	int has_score;
	json_t *candidates, *presented, *quality; /* borrowed */
	const uint8_t *image;
	size_t image_len;
	char token[96];
	int64_t id;
};

/* A device's clock may drift a little, but an encounter stamped hours
 * ahead would sort above every real one and outlive its retention limit. */
#define CLOCK_SKEW_S 300

static int64_t captured_at(struct jv *v, json_t *b, int64_t now)
{
	int64_t t = jv_time(v, b, "", "captured_at", 0, now);

	if (t > now + CLOCK_SKEW_S) {
		jv_fail(v, "", "captured_at", "is %lld s ahead of the server's clock (at most %d allowed)",
			(long long)(t - now), CLOCK_SKEW_S);
		return now;
	}
	return t;
}

/* Insert e in one transaction; TVS_ECONFLICT if (device, request_id) exists. */
static int encounter_commit(tvs_svc_t *s, struct encounter *e)
{
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	char *cand = e->candidates ? json_dumps(e->candidates, JSON_COMPACT) : NULL;
	char *pres = e->presented ? json_dumps(e->presented, JSON_COMPACT) : NULL;
	char *qual = e->quality ? json_dumps(e->quality, JSON_COMPACT) : NULL;
	const char *status = (e->decision == D_NO_MATCH || e->decision == D_IMPOSTOR) ? "pending" : "closed";
	uint8_t *ict = NULL;
	size_t ictn = 0;
	int64_t ikey = 0;
	struct svc_policy_out pol;
	int rc;

	svc_token_new("", e->token, sizeof(e->token));
	rc = tvs_store_begin(s->store, 1, &tx);
	if (!rc)
		rc = svc_policy_assess(s, tx,
				       &(struct svc_policy_in){ .decision = e->decision, .location_id = e->location,
								.manifest_id = e->manifest_id,
								.matched_doc = e->matched_doc,
								.captured_at = e->captured_at },
				       &pol);
	if (!rc && !pol.keep_image)
		e->image = NULL; /* the rule set or the category keeps none: it never reaches the disk */
	if (!rc && e->image)
		rc = svc_seal(s, tx, e->image, e->image_len, &ikey, &ict, &ictn);
	if (rc)
		goto out;
	rc = tvs_tx_query(
		tx,
		"INSERT INTO encounters (token, device_id, location_id, request_id, captured_at, created_at, decision,"
		" reason, score, matched_traveler_id, manifest_id, candidates, presented_document, quality,"
		" notice_version, status, image, image_key, image_type, latency_ms, rule_set, applies, citizen, exempt,"
		" category, confirmed_at, bio_purge_at, record_purge_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
		" (SELECT id FROM manifest_travelers WHERE manifest_id = ? AND document_id = ?), ?, ?, ?, ?,"
		" (SELECT notice_version FROM locations WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" RETURNING id",
		(tvs_val[]){ TVS_VTEXT(e->token), TVS_VINT(e->device), TVS_VINT(e->location), TVS_VTEXT(e->request_id),
			     TVS_VINT(e->captured_at), TVS_VINT(svc_now(s)), TVS_VTEXT(decision_names[e->decision]),
			     TVS_VTEXT(e->reason), e->has_score ? TVS_VREAL(e->score) : TVS_VNULL,
			     TVS_VINT(e->manifest_id), TVS_VINT(e->matched_doc),
			     e->manifest_id ? TVS_VINT(e->manifest_id) : TVS_VNULL, TVS_VTEXT(cand), TVS_VTEXT(pres),
			     TVS_VTEXT(qual), TVS_VINT(e->location), TVS_VTEXT(status),
			     e->image ? TVS_VBLOB(ict, ictn) : TVS_VNULL, e->image ? TVS_VINT(ikey) : TVS_VNULL,
			     TVS_VTEXT(e->image ? (tvs_img_sniff(e->image, e->image_len) == TVS_IMG_PNG ? "image/png"
												: "image/jpeg")
					       : NULL),
			     TVS_VREAL(e->latency_ms), TVS_VTEXT(pol.rule_set), TVS_VTEXT(pol.applies),
			     TVS_VTEXT(pol.citizen), TVS_VINT(pol.exempt), TVS_VTEXT(pol.category),
			     TVS_VINT(pol.confirmed_at), TVS_VINT(pol.bio_purge_at), TVS_VINT(pol.record_purge_at) },
		29, &r);
	if (rc)
		goto out;
	e->id = tvs_rows_int(&r, 0, 0);
	{
		struct svc_principal dev = { .role = TVS_ROLE_DEVICE, .id = e->device };
		char obj[40];

		snprintf(dev.name, sizeof(dev.name), "device:%lld", (long long)e->device);
		snprintf(obj, sizeof(obj), "encounter:%lld", (long long)e->id);
		rc = svc_audit_commit(s, &tx, &dev, "capture.decision", obj, decision_names[e->decision]);
	}
out:
	tvs_tx_rollback(tx);
	tvs_rows_free(&r);
	free(ict);
	free(cand);
	free(pres);
	free(qual);
	return rc;
}

static void publish(tvs_svc_t *s, const struct encounter *e)
{
	char at[32];

	svc_time_str(e->captured_at, at);
	svc_event_publish(s, "encounter",
			  json_pack("{s:I,s:s,s:s?,s:I,s:s,s:s}", "id", (json_int_t)e->id, "decision",
				    decision_names[e->decision], "reason", e->reason, "location_id",
				    (json_int_t)e->location, "at", at, "status",
				    (e->decision == D_NO_MATCH || e->decision == D_IMPOSTOR) ? "pending" : "closed"));
}

/* Commit e and answer the device; a concurrent twin with the same
 * request_id loses the race and answers with the winner's record. */
static void finish(tvs_svc_t *s, tvs_http_resp *resp, struct encounter *e, double t0, int status)
{
	int rc;

	e->latency_ms = mono_ms() - t0;
	rc = encounter_commit(s, e);
	if (rc == TVS_ECONFLICT && e->request_id && replay(s, resp, e->device, e->request_id, status))
		return;
	if (rc) {
		svc_reply_rc(resp, rc, "encounter");
		return;
	}
	count_decision(s, e->decision, e->latency_ms);
	publish(s, e);
	reply_decision(resp, status, decision_names[e->decision], e->token, e->reason, mono_ms() - t0);
}

/* Best cosine of probe against the portraits of the presented document.
 * *doc gets the document id (0: unknown, or no portrait). */
static int document_score(tvs_svc_t *s, const char *number, const char *state, const tvs_template *probe,
			  float *best, int64_t *doc)
{
	tvs_rows r = { 0 };
	tvs_tx_t *tx = NULL;
	int rc;

	*best = -2.0f;
	*doc = 0;
	rc = tvs_store_begin(s->store, 0, &tx);
	if (!rc)
		rc = tvs_tx_query(tx,
				  "SELECT d.id, p.template, p.template_key FROM documents d"
				  " JOIN portraits p ON p.document_id = d.id"
				  " WHERE d.number = ? AND (CAST(? AS TEXT) IS NULL OR d.issuing_state = ?)"
				  " AND p.template IS NOT NULL",
				  (tvs_val[]){ TVS_VTEXT(number), TVS_VTEXT(state), TVS_VTEXT(state) }, 3, &r);
	for (size_t i = 0; !rc && i < r.nrows; i++) {
		tvs_template t;
		float sc;

		rc = svc_unseal_template(s, tx, &r, i, 1, &t);
		if (!rc)
			rc = tvs_match_verify(probe, &t, &sc);
		if (!rc && sc > *best) {
			*best = sc;
			*doc = tvs_rows_int(&r, i, 0);
		}
	}
	tvs_tx_rollback(tx); /* read only */
	tvs_rows_free(&r);
	return rc;
}

static double threshold_1n(tvs_svc_t *s, size_t gallery_size)
{
	double t;

	if (tvs_calib_threshold_for_fpir(&s->calib, gallery_size, s->cfg.fpir, &t) == 0)
		return t;
	/* no 1:N point for this size: the 1:1 point is the measured fallback */
	return s->thr_1to1;
}

/* The presented document's machine-readable zone, as the gate read it:
 * one string (lines split at newlines) or an array of lines. A zone that is
 * malformed or fails a check digit is refused with the reason, so the
 * device reads it again; a look-alike is never corrected here. */
static int mrz_document(struct jv *v, json_t *x, int64_t now, tvs_mrz_document *doc)
{
	const char *lines[4];
	size_t n = 0;
	tvs_mrz m;
	tvs_mrz_ymd today;
	struct tm tm;
	time_t t = (time_t)now;
	int rc;

	gmtime_r(&t, &tm);
	today = (tvs_mrz_ymd){ tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
	if (json_is_string(x)) {
		rc = tvs_mrz_parse_text(json_string_value(x), json_string_length(x), &today, &m);
	} else if (json_is_array(x) && json_array_size(x) >= 1 && json_array_size(x) <= 3) {
		for (n = 0; n < json_array_size(x); n++) {
			if (!json_is_string(json_array_get(x, n))) {
				jv_fail(v, "", "mrz", "lines must be strings");
				return -1;
			}
			lines[n] = json_string_value(json_array_get(x, n));
		}
		rc = tvs_mrz_parse(lines, NULL, n, &today, &m);
	} else {
		jv_fail(v, "", "mrz", "must be a string or an array of 2 or 3 lines");
		return -1;
	}
	if (rc) {
		jv_fail(v, "", "mrz", "%s", tvs_errmsg());
		return -1;
	}
	if (!m.valid) {
		for (int c = 0; c < TVS_MRZ_CHECKS; c++)
			if (m.checks[c].present && !m.checks[c].ok) {
				jv_fail(v, "", "mrz", "%s check digit at line %d column %d is %c, expected %c",
					tvs_mrz_check_name(c), m.checks[c].line, m.checks[c].column, m.checks[c].found,
					m.checks[c].expected);
				return -1;
			}
		jv_fail(v, "", "mrz", "%s", m.nproblems ? m.problems[0].text : "not a valid MRZ");
		return -1;
	}
	tvs_mrz_make_document(&m, doc);
	if (strlen(doc->number) > 20) {
		jv_fail(v, "", "mrz", "document number longer than 20 characters");
		return -1;
	}
	return 0;
}

SVC_HANDLER(h_capture)
{
	double t0 = mono_ms();
	json_t *b = svc_json_body_or_reply(req, resp), *dj, *cand = NULL, *pres = NULL, *qj = NULL;
	struct jv v = { 0 };
	struct encounter e = { 0 };
	const char *b64, *dnum = NULL, *dstate = NULL;
	tvs_mrz_document mrz;
	uint8_t *img = NULL;
	size_t ilen = 0;
	tvs_quality q;
	tvs_template t;
	struct svc_search sr;
	int64_t now = svc_now(s);
	int grc;

	if (!b)
		return;
	b64 = jv_str(&v, b, "", "image", 1, 4, (size_t)-1);
	dj = jv_obj(&v, b, "", "document", 0);
	if (dj) {
		dnum = jv_str(&v, dj, "document", "number", 1, 1, 20);
		dstate = jv_str(&v, dj, "document", "issuing_state", 0, 3, 3);
	}
	if (json_object_get(b, "mrz")) {
		if (dj)
			jv_fail(&v, "", "mrz", "send the document or its MRZ, not both");
		else if (!mrz_document(&v, json_object_get(b, "mrz"), now, &mrz))
			dnum = mrz.number, dstate = mrz.issuing_state;
	}
	e.captured_at = captured_at(&v, b, now);
	e.request_id = jv_str(&v, b, "", "request_id", 0, 1, 64);
	if (jv_reply(&v, resp))
		goto out;
	e.device = who->id;
	e.location = who->location_id;
	if (replay(s, resp, e.device, e.request_id, 200))
		goto out;
	/* the store may hold galleries (or newer ones) built on another node;
	 * if it cannot say, the cached ones still serve */
	grc = svc_galleries_refresh(s, e.location, now);
	if (!svc_galleries_serving(s, e.location, now)) {
		if (grc)
			svc_reply_rc(resp, grc == TVS_EBUSY ? grc : TVS_EIO, "gallery");
		else
			tvs_http_reply_error(resp, 409, "no_gallery", "no ready gallery serves location %lld now",
					     (long long)e.location);
		goto out;
	}
	if (svc_base64_decode(b64, strlen(b64), &img, &ilen)) {
		jv_fail(&v, "", "image", "not valid base64");
		jv_reply(&v, resp);
		goto out;
	}
	if (svc_face_template(s, req->worker, img, ilen, &s->q_capture, &q, &t, resp))
		goto out;
	qj = json_pack("{s:i,s:f,s:f,s:f,s:f}", "faces", q.nfaces, "eye_distance_px", q.eye_distance_px, "sharpness",
		       q.sharpness, "brightness", q.brightness, "yaw_deg", q.yaw_deg);
	e.quality = qj;
	if (q.reason != TVS_Q_OK) {
		e.decision = D_RETAKE;
		e.reason = tvs_quality_reason_name(q.reason);
		finish(s, resp, &e, t0, 200);
		goto out;
	}
	if (svc_gallery_search(s, e.location, now, &t, &sr)) {
		svc_reply_rc(resp, TVS_EIO, "search");
		goto out;
	}
	{
		double thr = threshold_1n(s, sr.gallery_size);
		int gal_match = sr.nhits > 0 && sr.hits[0].score >= thr &&
				(sr.nhits < 2 || sr.hits[0].score - sr.hits[1].score >= s->cfg.margin);
		int64_t gal_doc = gal_match ? (int64_t)sr.hits[0].subject_id : 0;

		cand = json_array();
		for (int i = 0; i < sr.nhits; i++)
			json_array_append_new(cand, json_pack("{s:I,s:I,s:f}", "document_id",
							      (json_int_t)sr.hits[i].subject_id, "manifest_id",
							      (json_int_t)sr.manifest_id[i], "score", sr.hits[i].score));
		e.candidates = cand;
		if (sr.nhits > 0) {
			e.score = sr.hits[0].score;
			e.has_score = 1;
			e.manifest_id = sr.manifest_id[0];
			e.matched_doc = (int64_t)sr.hits[0].subject_id;
		}
		if (dnum) {
			float dscore;
			int64_t ddoc;

			if (document_score(s, dnum, dstate, &t, &dscore, &ddoc)) {
				svc_reply_rc(resp, TVS_EIO, "document check");
				goto out;
			}
			pres = json_pack("{s:s,s:s?,s:o}", "number", dnum, "issuing_state", dstate, "score",
					 ddoc ? json_real(dscore) : json_null());
			e.presented = pres;
			if (ddoc) {
				int doc_match = dscore >= s->thr_1to1;

				if (gal_match && doc_match && gal_doc == ddoc)
					e.decision = D_MATCH;
				else if (gal_match || doc_match)
					e.decision = D_IMPOSTOR, e.reason = "DOCUMENT_MISMATCH";
				else
					e.decision = D_NO_MATCH, e.reason = "NO_CANDIDATE";
			} else {
				/* no portrait on file for the document: the gallery decides */
				e.decision = gal_match ? D_MATCH : D_NO_MATCH;
				e.reason = gal_match ? NULL : "NO_CANDIDATE";
			}
		} else if (gal_match) {
			e.decision = D_MATCH;
		} else {
			e.decision = D_NO_MATCH;
			e.reason = sr.nhits > 0 && sr.hits[0].score >= thr ? "AMBIGUOUS" : "NO_CANDIDATE";
		}
		/* offered to the store; the rule set and the traveler's category
		 * decide whether it is kept (svc_policy_assess) */
		e.image = img;
		e.image_len = ilen;
	}
	finish(s, resp, &e, t0, 200);
out:
	json_decref(cand);
	json_decref(pres);
	json_decref(qj);
	free(img);
	json_decref(b);
}

SVC_HANDLER(h_optout)
{
	double t0 = mono_ms();
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	struct encounter e = { 0 };

	if (!b)
		return;
	if (json_object_get(b, "image"))
		jv_fail(&v, "", "image", "an opt-out carries no image");
	e.captured_at = captured_at(&v, b, svc_now(s));
	e.request_id = jv_str(&v, b, "", "request_id", 0, 1, 64);
	if (jv_reply(&v, resp))
		goto out;
	e.device = who->id;
	e.location = who->location_id;
	e.decision = D_OPT_OUT;
	if (replay(s, resp, e.device, e.request_id, 201))
		goto out;
	finish(s, resp, &e, t0, 201);
	/* the device learns the decision and token; latency means nothing here */
	if (resp->status == 201) {
		json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);

		if (j) {
			json_object_del(j, "reason");
			json_object_del(j, "latency_ms");
			svc_reply_json(resp, 201, j);
		}
	}
out:
	json_decref(b);
}
