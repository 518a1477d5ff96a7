/*
 * Officer views of encounters and their resolution. Auditors see the same
 * records without who was matched: they check the process, not the people.
 * Viewing a live image is audited with its purpose (svc_reply_image).
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const statuses[] = { "pending", "resolved", "all", NULL };

SVC_HANDLER(h_encounter_list)
{
	char st[16] = "pending", buf[32];
	int64_t loc = 0, before = INT64_MAX, limit = 100;
	tvs_rows r = { 0 };
	json_t *arr;
	int rc, ok = 0;

	if (tvs_http_query_param(req, "status", st, sizeof(st))) {
		for (size_t i = 0; statuses[i]; i++)
			ok |= !strcmp(st, statuses[i]);
		if (!ok) {
			tvs_http_reply_error(resp, 400, "invalid_query", "status must be pending, resolved or all");
			return;
		}
	}
	if (tvs_http_query_param(req, "location_id", buf, sizeof(buf)) && (sscanf(buf, "%lld", (long long *)&loc) != 1 || loc < 1)) {
		tvs_http_reply_error(resp, 400, "invalid_query", "location_id must be a positive integer");
		return;
	}
	if (tvs_http_query_param(req, "before_id", buf, sizeof(buf)) &&
	    (sscanf(buf, "%lld", (long long *)&before) != 1 || before < 1)) {
		tvs_http_reply_error(resp, 400, "invalid_query", "before_id must be a positive integer");
		return;
	}
	if (tvs_http_query_param(req, "limit", buf, sizeof(buf)) &&
	    (sscanf(buf, "%lld", (long long *)&limit) != 1 || limit < 1 || limit > 1000)) {
		tvs_http_reply_error(resp, 400, "invalid_query", "limit must be 1..1000");
		return;
	}
	rc = tvs_store_query(s->store,
			     "SELECT id, captured_at, location_id, decision, reason, status, token FROM encounters"
			     " WHERE (? = 'all' OR status = ?) AND (? = 0 OR location_id = ?) AND id < ?"
			     " ORDER BY id DESC LIMIT ?",
			     (tvs_val[]){ TVS_VTEXT(st), TVS_VTEXT(st), TVS_VINT(loc), TVS_VINT(loc), TVS_VINT(before),
					  TVS_VINT(limit) },
			     6, &r);
	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, "encounters");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		char at[32];

		svc_time_str(tvs_rows_int(&r, i, 1), at);
		json_array_append_new(arr, json_pack("{s:I,s:s,s:I,s:s,s:s?,s:s,s:s}", "id",
						     (json_int_t)tvs_rows_int(&r, i, 0), "at", at, "location_id",
						     (json_int_t)tvs_rows_int(&r, i, 2), "decision",
						     tvs_rows_text(&r, i, 3), "reason", tvs_rows_text(&r, i, 4), "status",
						     tvs_rows_text(&r, i, 5), "token", tvs_rows_text(&r, i, 6)));
	}
	tvs_rows_free(&r);
	svc_reply_json(resp, 200, json_pack("{s:o}", "encounters", arr));
}

/* The traveler of document doc: names, nationality, document, portrait ids. */
static json_t *traveler_json(tvs_svc_t *s, int64_t doc, double score, int with_score)
{
	tvs_rows d = { 0 }, p = { 0 };
	json_t *j = NULL, *ids;

	if (tvs_store_query(s->store,
			    "SELECT surname, given_names, nationality, type, number, issuing_state FROM documents WHERE id = ?",
			    (tvs_val[]){ TVS_VINT(doc) }, 1, &d) ||
	    d.nrows != 1 ||
	    tvs_store_query(s->store, "SELECT id FROM portraits WHERE document_id = ? ORDER BY id",
			    (tvs_val[]){ TVS_VINT(doc) }, 1, &p))
		goto out;
	ids = json_array();
	for (size_t i = 0; i < p.nrows; i++)
		json_array_append_new(ids, json_integer(tvs_rows_int(&p, i, 0)));
	j = json_pack("{s:I,s:s?,s:s?,s:s?,s:{s:s,s:s,s:s},s:o}", "document_id", (json_int_t)doc, "surname",
		      tvs_rows_text(&d, 0, 0), "given_names", tvs_rows_text(&d, 0, 1), "nationality",
		      tvs_rows_text(&d, 0, 2), "document", "type", tvs_rows_text(&d, 0, 3), "number",
		      tvs_rows_text(&d, 0, 4), "issuing_state", tvs_rows_text(&d, 0, 5), "portrait_ids", ids);
	if (j && with_score)
		json_object_set_new(j, "score", json_real(score));
out:
	tvs_rows_free(&d);
	tvs_rows_free(&p);
	return j;
}

/* The whole encounter as officers see it; auditors get it without identities. */
static json_t *encounter_json(tvs_svc_t *s, int64_t id, int identities, int *rc)
{
	tvs_rows r = { 0 }, a = { 0 };
	json_t *j = NULL;
	char at[32];

	*rc = tvs_store_query(s->store,
			      "SELECT e.id, e.captured_at, e.location_id, e.device_id, e.decision, e.reason, e.status,"
			      " e.token, e.score, mt.document_id, e.candidates, e.presented_document, e.quality,"
			      " e.notice_version, e.manifest_id, e.image IS NOT NULL, e.latency_ms, e.rule_set, e.applies,"
			      " e.category, e.bio_purge_at, e.record_purge_at, e.purged_at"
			      " FROM encounters e LEFT JOIN manifest_travelers mt ON mt.id = e.matched_traveler_id"
			      " WHERE e.id = ?",
			      (tvs_val[]){ TVS_VINT(id) }, 1, &r);
	if (!*rc && r.nrows != 1)
		*rc = TVS_ENOTFOUND;
	if (!*rc)
		*rc = tvs_store_query(s->store,
				      "SELECT a.action, a.traveler_id, a.note, a.at, u.username FROM officer_actions a"
				      " JOIN users u ON u.id = a.user_id WHERE a.encounter_id = ? ORDER BY a.id DESC LIMIT 1",
				      (tvs_val[]){ TVS_VINT(id) }, 1, &a);
	if (*rc)
		goto out;
	svc_time_str(tvs_rows_int(&r, 0, 1), at);
	j = json_pack("{s:I,s:s,s:I,s:I,s:s,s:s?,s:s,s:s,s:s?,s:o,s:b,s:f}", "id", (json_int_t)id, "at", at,
		      "location_id", (json_int_t)tvs_rows_int(&r, 0, 2), "device_id", (json_int_t)tvs_rows_int(&r, 0, 3),
		      "decision", tvs_rows_text(&r, 0, 4), "reason", tvs_rows_text(&r, 0, 5), "status",
		      tvs_rows_text(&r, 0, 6), "token", tvs_rows_text(&r, 0, 7), "notice_version",
		      tvs_rows_text(&r, 0, 13), "manifest_id",
		      tvs_rows_is_null(&r, 0, 14) ? json_null() : json_integer(tvs_rows_int(&r, 0, 14)), "has_image",
		      (int)tvs_rows_int(&r, 0, 15), "latency_ms", tvs_rows_real(&r, 0, 16));
	if (tvs_rows_text(&r, 0, 12))
		json_object_set_new(j, "quality", json_loads(tvs_rows_text(&r, 0, 12), 0, NULL));
	/* the policy it was judged under and its deadlines: what an auditor checks */
	{
		json_t *ret = json_pack("{s:s?,s:s?,s:s?}", "rule_set", tvs_rows_text(&r, 0, 17), "applies",
					tvs_rows_text(&r, 0, 18), "category", tvs_rows_text(&r, 0, 19));
		static const char *const keys[] = { "biometrics_purge_at", "record_purge_at", "purged_at" };

		for (int k = 0; k < 3; k++) {
			char t[32];
			int64_t v = tvs_rows_int(&r, 0, 20 + k);

			if (tvs_rows_is_null(&r, 0, 20 + k))
				json_object_set_new(ret, keys[k], json_null());
			else if (v == TVS_POLICY_HELD)
				json_object_set_new(ret, keys[k], json_string("held"));
			else {
				svc_time_str(v, t);
				json_object_set_new(ret, keys[k], json_string(t));
			}
		}
		json_object_set_new(j, "retention", ret);
	}
	if (identities) {
		json_t *cands = json_array(), *stored = tvs_rows_text(&r, 0, 10)
								   ? json_loads(tvs_rows_text(&r, 0, 10), 0, NULL)
								   : NULL;
		size_t i;
		json_t *c;

		json_object_set_new(j, "score", tvs_rows_is_null(&r, 0, 8) ? json_null() : json_real(tvs_rows_real(&r, 0, 8)));
		json_object_set_new(j, "matched",
				    tvs_rows_is_null(&r, 0, 9) || strcmp(tvs_rows_text(&r, 0, 4), "MATCH")
					    ? json_null()
					    : traveler_json(s, tvs_rows_int(&r, 0, 9), 0, 0));
		json_array_foreach(stored, i, c)
		{
			json_t *t = traveler_json(s, json_integer_value(json_object_get(c, "document_id")),
						  json_real_value(json_object_get(c, "score")), 1);

			if (t)
				json_array_append_new(cands, t);
		}
		json_decref(stored);
		json_object_set_new(j, "candidates", cands);
		json_object_set_new(j, "presented_document",
				    tvs_rows_text(&r, 0, 11) ? json_loads(tvs_rows_text(&r, 0, 11), 0, NULL) : json_null());
	}
	if (a.nrows == 1) {
		char rat[32];

		svc_time_str(tvs_rows_int(&a, 0, 3), rat);
		json_object_set_new(j, "resolution",
				    json_pack("{s:s,s:o,s:s?,s:s,s:s}", "outcome", tvs_rows_text(&a, 0, 0), "traveler_id",
					      tvs_rows_is_null(&a, 0, 1) ? json_null() : json_integer(tvs_rows_int(&a, 0, 1)),
					      "note", tvs_rows_text(&a, 0, 2), "at", rat, "officer", tvs_rows_text(&a, 0, 4)));
	} else {
		json_object_set_new(j, "resolution", json_null());
	}
out:
	tvs_rows_free(&r);
	tvs_rows_free(&a);
	return j;
}

SVC_HANDLER(h_encounter_get)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0);
	int rc, identities = who->role != TVS_ROLE_AUDITOR;
	json_t *j;
	char obj[40];

	if (id < 0)
		return;
	j = encounter_json(s, id, identities, &rc);
	if (!j) {
		svc_reply_rc(resp, rc ? rc : TVS_ENOMEM, "encounter");
		return;
	}
	snprintf(obj, sizeof(obj), "encounter:%lld", (long long)id);
	if (identities && svc_audit(s, NULL, who, "encounter.view", obj, NULL)) {
		json_decref(j);
		svc_reply_rc(resp, TVS_EIO, "audit");
		return;
	}
	svc_reply_json(resp, 200, j);
}

SVC_HANDLER(h_encounter_image)
{
	svc_reply_image(s, req, resp, who,
			"SELECT image, image_key, image_type FROM encounters WHERE id = ? AND image IS NOT NULL",
			"encounter");
}

/* opted_out: the traveler declined the photo at the officer's desk (shown
 * the notice); only citizens may, so by default it resolves as a citizen
 * and the capture is shredded with the resolution. */
static const char *const outcomes[] = { "verified", "referred", "denied", "opted_out", NULL };
static const char *const citizen_states[] = { "yes", "no", "unknown", NULL };

SVC_HANDLER(h_encounter_resolve)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0), trav, changed = 0;
	json_t *b, *j;
	struct jv v = { 0 };
	const char *outcome, *note, *citizen;
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	char obj[40];
	int rc;

	if (id < 0 || !(b = svc_json_body_or_reply(req, resp)))
		return;
	outcome = jv_enum(&v, b, "", "outcome", 1, outcomes);
	trav = jv_int(&v, b, "", "traveler_id", 0, 1, INT64_MAX, 0);
	note = jv_str(&v, b, "", "note", 0, 0, 2000);
	/* what the manual document check established: it sets how long the
	 * capture is kept (a citizen's goes at once) */
	citizen = jv_enum(&v, b, "", "citizen", 0, citizen_states);
	if (jv_reply(&v, resp))
		goto out;
	rc = tvs_store_begin(s->store, 1, &tx);
	if (rc)
		goto fail;
	rc = tvs_tx_query(tx, "SELECT status FROM encounters WHERE id = ?", (tvs_val[]){ TVS_VINT(id) }, 1, &r);
	if (!rc && r.nrows != 1)
		rc = TVS_ENOTFOUND;
	if (rc)
		goto fail;
	if (strcmp(tvs_rows_text(&r, 0, 0), "pending") != 0) {
		tvs_tx_rollback(tx);
		tvs_http_reply_error(resp, 409, "conflict", "encounter %lld is %s, not pending", (long long)id,
				     tvs_rows_text(&r, 0, 0));
		goto out;
	}
	if (trav) {
		tvs_rows_free(&r);
		rc = tvs_tx_query(tx, "SELECT citizen FROM manifest_travelers WHERE id = ?", (tvs_val[]){ TVS_VINT(trav) },
				  1, &r);
		if (rc)
			goto fail;
		if (r.nrows != 1) {
			tvs_tx_rollback(tx);
			jv_fail(&v, "", "traveler_id", "no traveler has id %lld", (long long)trav);
			jv_reply(&v, resp);
			goto out;
		}
		if (!citizen) /* the manifest says, for the traveler the officer named */
			citizen = tvs_rows_int(&r, 0, 0) ? "yes" : "no";
	}
	if (!citizen)
		citizen = !strcmp(outcome, "opted_out") ? "yes" : "unknown";
	rc = tvs_tx_exec(tx, "UPDATE encounters SET status = 'resolved' WHERE id = ? AND status = 'pending'",
			 (tvs_val[]){ TVS_VINT(id) }, 1, &changed);
	if (!rc)
		rc = tvs_tx_exec(tx,
				 "INSERT INTO officer_actions (encounter_id, user_id, action, traveler_id, note, at)"
				 " VALUES (?, ?, ?, ?, ?, ?)",
				 (tvs_val[]){ TVS_VINT(id), TVS_VINT(who->id), TVS_VTEXT(outcome),
					      trav ? TVS_VINT(trav) : TVS_VNULL, TVS_VTEXT(note), TVS_VINT(svc_now(s)) },
				 6, NULL);
	if (!rc)
		rc = svc_policy_resolve(s, tx, id, svc_now(s), citizen);
	snprintf(obj, sizeof(obj), "encounter:%lld", (long long)id);
	if (!rc)
		rc = svc_audit_commit(s, &tx, who, "encounter.resolve", obj, outcome);
	if (rc)
		goto fail;
	svc_event_publish(s, "resolution", json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "outcome", outcome,
						     "officer", who->name));
	j = encounter_json(s, id, 1, &rc);
	if (j)
		svc_reply_json(resp, 200, j);
	else
		svc_reply_rc(resp, rc ? rc : TVS_ENOMEM, "encounter");
	goto out;
fail:
	tvs_tx_rollback(tx);
	svc_reply_rc(resp, rc, "encounter");
out:
	tvs_rows_free(&r);
	json_decref(b);
}
