/*
 * Faces in, templates out: the shared path from image bytes to a quality-
 * gated template, repository enrolment of document portraits, and the
 * documents those portraits belong to.
 *
 * Only the primary face (the largest) is described: the quality gate has
 * already refused photos with a second face nearly as large, so describing
 * bystanders would cost a recognition pass each for nothing.
 */
#include "svc_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int svc_face_template(tvs_svc_t *s, int worker, const uint8_t *img, size_t len, const tvs_quality_config *qc,
		      tvs_quality *q, tvs_template *t, tvs_http_resp *resp)
{
	tvs_face faces[SVC_MAX_FACES];
	tvs_face_ctx_t *ctx;
	tvs_image im = { 0 };
	tvs_img_opts o;
	int n = 0, rc;

	TVS_ASSERT(worker >= 0 && worker < s->nctx && s->ctx[worker]);
	ctx = s->ctx[worker];
	memset(q, 0, sizeof(*q));
	tvs_img_default_opts(&o);
	rc = tvs_img_decode(img, len, &o, &im);
	if (rc) {
		tvs_http_reply_error(resp, 400, "invalid_image", "image: %s", tvs_errmsg());
		return -1;
	}
	rc = tvs_face_detect_padded(ctx, &im, faces, SVC_MAX_FACES, &n);
	for (int i = 0; !rc && i < n; i++)
		rc = tvs_face_landmarks(ctx, &im, &faces[i]);
	if (!rc)
		rc = tvs_quality_assess(qc, &im, faces, n, q);
	if (!rc && q->reason == TVS_Q_OK) {
		tvs_face *f = &faces[q->primary];

		rc = tvs_face_describe(ctx, &im, f);
		if (!rc)
			rc = tvs_match_template_init(t, TVS_MATCH_DEFAULT_MODEL, 1, f->descriptor, TVS_FACE_DESC_DIM);
	}
	tvs_image_free(&im);
	if (rc) {
		svc_reply_rc(resp, rc, "face analysis");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ documents */

int svc_document_upsert(tvs_tx_t *tx, int64_t now, const struct svc_document *d, int64_t *id)
{
	tvs_rows r = { 0 };
	int rc;

	/* known fields overwrite, absent ones keep what the store had */
	rc = tvs_tx_query(tx,
			  "INSERT INTO documents (type, number, issuing_state, nationality, surname, given_names,"
			  " birth_date, sex, expiry, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			  " ON CONFLICT (issuing_state, type, number) DO UPDATE SET"
			  " nationality = COALESCE(excluded.nationality, documents.nationality),"
			  " surname = COALESCE(excluded.surname, documents.surname),"
			  " given_names = COALESCE(excluded.given_names, documents.given_names),"
			  " birth_date = COALESCE(excluded.birth_date, documents.birth_date),"
			  " sex = COALESCE(excluded.sex, documents.sex),"
			  " expiry = COALESCE(excluded.expiry, documents.expiry) RETURNING id",
			  (tvs_val[]){ TVS_VTEXT(d->type), TVS_VTEXT(d->number), TVS_VTEXT(d->issuing_state),
				       TVS_VTEXT(d->nationality), TVS_VTEXT(d->surname), TVS_VTEXT(d->given_names),
				       TVS_VTEXT(d->birth_date), TVS_VTEXT(d->sex), TVS_VTEXT(d->expiry), TVS_VINT(now) },
			  10, &r);
	if (!rc)
		*id = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	return rc;
}

/* ------------------------------------------------------------ portraits */

static const char *const sources[] = { "passport", "visa", "encounter", NULL };

SVC_HANDLER(h_portrait_create)
{
	json_t *b = svc_json_body_or_reply(req, resp), *dj;
	struct jv v = { 0 };
	struct svc_document d;
	const char *source, *b64;
	uint8_t *img = NULL, tbuf[1024], *ict = NULL, *tct = NULL;
	size_t ilen = 0, tlen = 0, ictn = 0, tctn = 0;
	int64_t ikey = 0, tkey = 0;
	tvs_quality q;
	tvs_template t;
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	int64_t doc_id = 0, now = svc_now(s), queued = 0;
	json_t *qj;
	char *qtxt = NULL;
	int rc;

	if (!b)
		return;
	dj = jv_obj(&v, b, "", "document", 1);
	if (dj)
		svc_document_fields(&v, dj, "document", &d);
	source = jv_enum(&v, b, "", "source", 1, sources);
	b64 = jv_str(&v, b, "", "image", 1, 4, (size_t)-1);
	if (!v.bad && svc_base64_decode(b64, strlen(b64), &img, &ilen))
		jv_fail(&v, "", "image", "not valid base64");
	if (jv_reply(&v, resp))
		goto out;
	if (svc_face_template(s, req->worker, img, ilen, &s->q_enrol, &q, &t, resp))
		goto out;
	if (q.reason != TVS_Q_OK) {
		atomic_fetch_add(&s->m.enrol_refused, 1);
		svc_reply_json(resp, 422,
			       json_pack("{s:{s:s,s:s+,s:s}}", "error", "code", "quality", "message",
					 "portrait refused by the enrolment quality check: ",
					 tvs_quality_reason_name(q.reason), "reason", tvs_quality_reason_name(q.reason)));
		snprintf(resp->error_code, sizeof(resp->error_code), "quality");
		goto out;
	}
	rc = tvs_match_template_serialize(&t, tbuf, sizeof(tbuf), &tlen);
	qj = json_pack("{s:f,s:f,s:f,s:f}", "eye_distance_px", q.eye_distance_px, "sharpness", q.sharpness,
		       "brightness", q.brightness, "yaw_deg", q.yaw_deg);
	qtxt = json_dumps(qj, JSON_COMPACT);
	if (!rc)
		rc = tvs_store_begin(s->store, 1, &tx);
	if (!rc)
		rc = svc_document_upsert(tx, now, &d, &doc_id);
	if (!rc)
		rc = svc_seal(s, tx, img, ilen, &ikey, &ict, &ictn);
	if (!rc)
		rc = svc_seal(s, tx, tbuf, tlen, &tkey, &tct, &tctn);
	sodium_memzero(tbuf, sizeof(tbuf));
	if (!rc)
		rc = tvs_tx_query(tx,
				  "INSERT INTO portraits (document_id, source, image, image_key, image_type, template,"
				  " template_key, quality, captured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
				  (tvs_val[]){ TVS_VINT(doc_id), TVS_VTEXT(source), TVS_VBLOB(ict, ictn), TVS_VINT(ikey),
					       TVS_VTEXT(tvs_img_sniff(img, ilen) == TVS_IMG_PNG ? "image/png" : "image/jpeg"),
					       TVS_VBLOB(tct, tctn), TVS_VINT(tkey), TVS_VTEXT(qtxt), TVS_VINT(now) },
				  9, &r);
	/* the galleries of the open manifests listing the document gain it */
	if (!rc)
		rc = svc_gallery_request_for_document(tx, doc_id, now, &queued);
	if (!rc)
		rc = svc_audit_commit(s, &tx, who, "portrait.enrol", d.number, source);
	if (rc) {
		tvs_tx_rollback(tx);
		json_decref(qj);
		svc_reply_rc(resp, rc, "portrait");
		goto out;
	}
	atomic_fetch_add(&s->m.enrolments, 1);
	if (queued)
		svc_ticker_kick(&s->gallery_jobs);
	svc_reply_json(resp, 201, json_pack("{s:I,s:I,s:o}", "portrait_id", (json_int_t)tvs_rows_int(&r, 0, 0),
					    "document_id", (json_int_t)doc_id, "quality", qj));
out:
	free(qtxt);
	tvs_rows_free(&r);
	free(ict);
	free(tct);
	if (img)
		sodium_memzero(img, ilen);
	free(img);
	json_decref(b);
}

/* Send the stored image of a record after recording who looked and why:
 * sql selects (sealed image, its key id, media type) for the id in path
 * param 0. The audit row commits before a byte is unsealed: no record of the
 * access, no access. */
void svc_reply_image(tvs_svc_t *s, const tvs_http_req *req, tvs_http_resp *resp, const struct svc_principal *who,
		     const char *sql, const char *what)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0);
	char purpose[201], obj[64], type[16];
	tvs_rows r = { 0 };
	tvs_tx_t *tx = NULL;
	const void *ct;
	uint8_t *img = NULL;
	size_t ctn = 0, n = 0;
	int rc;

	if (id < 0)
		return;
	if (!tvs_http_query_param(req, "purpose", purpose, sizeof(purpose)) || !purpose[0]) {
		tvs_http_reply_error(resp, 400, "invalid_query", "purpose is required (1-200 characters): it is audited");
		return;
	}
	snprintf(obj, sizeof(obj), "%s:%lld", what, (long long)id);
	rc = tvs_store_begin(s->store, 1, &tx);
	if (!rc)
		rc = tvs_tx_query(tx, sql, (tvs_val[]){ TVS_VINT(id) }, 1, &r);
	if (!rc && (r.nrows != 1 || !(ct = tvs_rows_blob(&r, 0, 0, &ctn))))
		rc = TVS_ENOTFOUND; /* none, or purged */
	if (!rc)
		rc = svc_unseal(s, tx, tvs_rows_int(&r, 0, 1), ct, ctn, &img, &n);
	if (!rc) {
		snprintf(type, sizeof(type), "%s", strcmp(tvs_rows_text(&r, 0, 2), "image/png") ? "image/jpeg" : "image/png");
		rc = svc_audit_commit(s, &tx, who, "image.view", obj, purpose);
	}
	tvs_tx_rollback(tx);
	tvs_rows_free(&r);
	if (rc) {
		tvs_vault_free_plain(img, n);
		svc_reply_rc(resp, rc, what);
		return;
	}
	tvs_http_reply_text(resp, 200, type, (const char *)img, n);
	tvs_vault_free_plain(img, n);
}

SVC_HANDLER(h_portrait_image)
{
	svc_reply_image(s, req, resp, who, "SELECT image, image_key, image_type FROM portraits WHERE id = ?",
			"portrait");
}
