/*
 * Manifests (the JSON form) and the galleries built from them. A manifest is
 * stored in one transaction with its locations and travelers, so a bad
 * traveler at index 300 leaves nothing behind and the error names it.
 */
#include "svc_int.h"

#include "tvs/paxlst.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Store manifest m (already valid as JSON) through tx, with its locations
 * and travelers: 0 with *mid and *with (travelers with a portrait), -1
 * with v naming what the store refused (an unknown port or location, a
 * document listed twice), or a store error. */
static int manifest_insert(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_manifest_in *m, const char *format,
			   struct jv *v, int64_t *mid, size_t *with)
{
	tvs_rows r = { 0 };
	int64_t port_id, now = svc_now(s);
	int rc;

	rc = tvs_tx_query(tx, "SELECT id FROM ports WHERE code = ?", (tvs_val[]){ TVS_VTEXT(m->port) }, 1, &r);
	if (!rc && r.nrows != 1) {
		jv_fail(v, "", "port", "no port has code %.8s", m->port);
		rc = -1;
	}
	if (rc)
		goto out;
	port_id = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	rc = tvs_tx_query(tx,
			  "INSERT INTO manifests (carrier, number, direction, port_id, scheduled_at, opens_at, closes_at,"
			  " source_format, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			  (tvs_val[]){ TVS_VTEXT(m->carrier), TVS_VTEXT(m->number), TVS_VTEXT(m->direction),
				       TVS_VINT(port_id), TVS_VINT(m->scheduled_at), TVS_VINT(m->opens_at),
				       TVS_VINT(m->closes_at), TVS_VTEXT(format), TVS_VINT(now) },
			  9, &r);
	if (rc)
		goto out;
	*mid = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	for (size_t i = 0; !rc && i < json_array_size(m->locations); i++) {
		const char *code = json_string_value(json_array_get(m->locations, i));
		char key[24];

		snprintf(key, sizeof(key), "[%zu]", i);
		rc = tvs_tx_query(tx, "SELECT id FROM locations WHERE port_id = ? AND code = ?",
				  (tvs_val[]){ TVS_VINT(port_id), TVS_VTEXT(code) }, 2, &r);
		if (!rc && r.nrows != 1) {
			jv_fail(v, "locations", key, "no location %.16s at port %.8s", code, m->port);
			rc = -1;
		}
		if (!rc)
			rc = tvs_tx_exec(tx, "INSERT INTO manifest_locations (manifest_id, location_id) VALUES (?, ?)",
					 (tvs_val[]){ TVS_VINT(*mid), TVS_VINT(tvs_rows_int(&r, 0, 0)) }, 2, NULL);
		tvs_rows_free(&r);
		if (rc == TVS_ECONFLICT) {
			jv_fail(v, "locations", key, "listed twice");
			rc = -1;
		}
	}
	for (size_t i = 0; !rc && i < json_array_size(m->travelers); i++) {
		struct svc_document d;
		char path[48];
		int64_t doc_id;

		snprintf(path, sizeof(path), "travelers[%zu].document", i);
		svc_document_fields(v, json_object_get(json_array_get(m->travelers, i), "document"), path, &d);
		rc = svc_document_upsert(tx, now, &d, &doc_id);
		if (!rc)
			rc = tvs_tx_exec(tx,
					 "INSERT INTO manifest_travelers (manifest_id, document_id, citizen) VALUES (?, ?, ?)",
					 (tvs_val[]){ TVS_VINT(*mid), TVS_VINT(doc_id),
						      TVS_VINT(d.nationality && !strcmp(d.nationality, s->country)) },
					 3, NULL);
		if (rc == TVS_ECONFLICT) {
			snprintf(path, sizeof(path), "travelers[%zu]", i);
			jv_fail(v, path, NULL, "this document is already on the manifest");
			rc = -1;
		}
	}
	if (!rc)
		rc = svc_gallery_request(tx, *mid, now);
	if (!rc)
		rc = tvs_tx_query(tx,
				  "SELECT count(DISTINCT mt.document_id) FROM manifest_travelers mt"
				  " JOIN portraits p ON p.document_id = mt.document_id WHERE mt.manifest_id = ?",
				  (tvs_val[]){ TVS_VINT(*mid) }, 1, &r);
	if (!rc)
		*with = (size_t)tvs_rows_int(&r, 0, 0);
out:
	tvs_rows_free(&r);
	return rc;
}

/* Store every manifest of ms[0..n) in one transaction with its audit rows:
 * all or none. The reply lists them (one manifest: the object itself). */
static void manifests_store(tvs_svc_t *s, tvs_http_resp *resp, const struct svc_principal *who, json_t **bodies,
			    size_t n, const char *format)
{
	struct jv v = { 0 };
	tvs_tx_t *tx = NULL;
	json_t *out = json_array();
	int rc = tvs_store_begin(s->store, 1, &tx);

	for (size_t k = 0; !rc && k < n; k++) {
		struct svc_manifest_in m;
		int64_t mid = 0;
		size_t with = 0;
		char obj[40];

		if (svc_manifest_parse(&v, bodies[k], &m)) {
			rc = -1;
			break;
		}
		rc = manifest_insert(s, tx, &m, format, &v, &mid, &with);
		snprintf(obj, sizeof(obj), "manifest:%lld", (long long)mid);
		if (!rc)
			rc = svc_audit(s, tx, who, "manifest.create", obj, format);
		if (!rc)
			json_array_append_new(out, json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:{s:s}}", "id", (json_int_t)mid,
							     "carrier", m.carrier, "number", m.number, "direction",
							     m.direction, "travelers",
							     (json_int_t)json_array_size(m.travelers), "with_portraits",
							     (json_int_t)with, "gallery", "status", "queued"));
	}
	if (!rc) {
		rc = tvs_tx_commit(tx);
		tx = NULL;
	}
	tvs_tx_rollback(tx);
	if (!rc)
		svc_ticker_kick(&s->gallery_jobs);
	if (rc == -1)
		jv_reply(&v, resp);
	else if (rc)
		svc_reply_rc(resp, rc, "manifest");
	else if (n == 1)
		svc_reply_json(resp, 201, json_incref(json_array_get(out, 0)));
	else
		svc_reply_json(resp, 201, json_pack("{s:O}", "manifests", out));
	json_decref(out);
}

/* "2026-11-23T10:00:00Z" as PAXLST gives it, or "" */
static json_t *paxlst_traveler_json(const tvs_paxlst_traveler *t, const tvs_paxlst_document *d)
{
	json_t *doc = json_pack("{s:s,s:s,s:s}", "type", d->type, "number", d->number, "issuing_state",
				d->issuing_state[0] ? d->issuing_state : t->nationality);

	if (t->nationality[0])
		json_object_set_new(doc, "nationality", json_string(t->nationality));
	if (t->surname[0])
		json_object_set_new(doc, "surname", json_string(t->surname));
	if (t->given_names[0])
		json_object_set_new(doc, "given_names", json_string(t->given_names));
	if (t->birth_date[0])
		json_object_set_new(doc, "birth_date", json_string(t->birth_date));
	if (t->sex[0])
		json_object_set_new(doc, "sex", json_string(t->sex));
	if (d->expiry[0])
		json_object_set_new(doc, "expiry", json_string(d->expiry));
	return json_pack("{s:o}", "document", doc);
}

/* One PAXLST manifest as the JSON manifest the service validates: the
 * deployment's port says the direction (PAXLST does not); the locations
 * come from the query. NULL with v set if it cannot be mapped. */
static json_t *paxlst_manifest_json(const tvs_paxlst_manifest *pm, size_t k, const char *port, const char *locs,
				    struct jv *v)
{
	const char *dir = tvs_paxlst_direction(pm, port);
	json_t *trav, *loc = json_array();
	char path[48], buf[256], *save = NULL;

	snprintf(path, sizeof(path), "manifests[%zu]", k);
	if (!dir) {
		jv_fail(v, path, NULL, "port %s is neither the flight's departure (%s) nor its arrival (%s)", port,
			pm->departure_port, pm->arrival_port);
		json_decref(loc);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", locs);
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
		json_array_append_new(loc, json_string(c));
	trav = json_array();
	for (size_t i = 0; i < pm->ntravelers; i++) {
		const tvs_paxlst_traveler *t = &pm->travelers[i];
		const tvs_paxlst_document *d = tvs_paxlst_primary_document(t);

		if (!d) {
			jv_fail(v, path, NULL, "segment %zu (NAD): %s %s has no travel document (DOC)", t->segment,
				t->surname, t->given_names);
			json_decref(trav);
			json_decref(loc);
			return NULL;
		}
		json_array_append_new(trav, paxlst_traveler_json(t, d));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "carrier", pm->carrier, "number", pm->flight, "direction", dir,
			 "port", port, "scheduled_at", !strcmp(dir, "exit") ? pm->departure_time : pm->arrival_time,
			 "locations", loc, "travelers", trav);
}

/* POST /v1/manifests with Content-Type: application/edifact: a carrier's
 * UN/EDIFACT PAXLST interchange, ?port=CODE (the deployment's port: it
 * decides entry or exit) and ?locations=A1,A2. Every message of the
 * interchange becomes a manifest, stored together or not at all. */
static void manifest_create_paxlst(tvs_svc_t *s, const tvs_http_req *req, tvs_http_resp *resp,
				   const struct svc_principal *who)
{
	char port[16], locs[256];
	tvs_paxlst *px = NULL;
	tvs_paxlst_error perr;
	struct jv v = { 0 };
	json_t **bodies = NULL;
	size_t n = 0;
	int rc;

	if (!tvs_http_query_param(req, "port", port, sizeof(port)) || !port[0] ||
	    !tvs_http_query_param(req, "locations", locs, sizeof(locs)) || !locs[0]) {
		tvs_http_reply_error(resp, 400, "invalid_query",
				     "a PAXLST manifest needs ?port=CODE (this port: it decides entry or exit) and"
				     " ?locations=CODE,CODE");
		return;
	}
	rc = tvs_paxlst_parse(req->body, req->body_len, NULL, &px, &perr);
	if (rc) {
		if (rc == TVS_ENOMEM)
			svc_reply_rc(resp, rc, "paxlst");
		else
			tvs_http_reply_error(resp, rc == TVS_ETOOBIG ? 413 : 400,
					     rc == TVS_ETOOBIG ? "too_large" : "invalid_paxlst", "PAXLST: %s",
					     tvs_errmsg());
		return;
	}
	bodies = calloc(px->nmanifests, sizeof(*bodies));
	for (n = 0; bodies && n < px->nmanifests; n++) {
		bodies[n] = paxlst_manifest_json(&px->manifests[n], n, port, locs, &v);
		if (!bodies[n])
			break;
	}
	if (!bodies)
		svc_reply_rc(resp, TVS_ENOMEM, "paxlst");
	else if (v.bad)
		jv_reply(&v, resp);
	else
		manifests_store(s, resp, who, bodies, n, "paxlst");
	for (size_t k = 0; bodies && k < n; k++)
		json_decref(bodies[k]);
	free(bodies);
	tvs_paxlst_free(px);
}

SVC_HANDLER(h_manifest_create)
{
	json_t *b;

	if (!strcmp(req->content_type, "application/edifact")) {
		manifest_create_paxlst(s, req, resp, who);
		return;
	}
	b = svc_json_body_or_reply(req, resp);
	if (!b)
		return;
	manifests_store(s, resp, who, &b, 1, "json");
	json_decref(b);
}

static const char manifest_cols[] =
	"SELECT m.id, m.carrier, m.number, m.direction, p.code, m.scheduled_at, m.opens_at, m.closes_at,"
	" (SELECT count(*) FROM manifest_travelers mt WHERE mt.manifest_id = m.id),"
	" g.status, g.size, g.built_at, g.queued_at FROM manifests m JOIN ports p ON p.id = m.port_id"
	" LEFT JOIN galleries g ON g.manifest_id = m.id";

static json_t *manifest_json(const tvs_rows *r, size_t i)
{
	char sched[32], op[32], cl[32], built[32], queued[32];
	json_t *g;

	svc_time_str(tvs_rows_int(r, i, 5), sched);
	svc_time_str(tvs_rows_int(r, i, 6), op);
	svc_time_str(tvs_rows_int(r, i, 7), cl);
	if (tvs_rows_is_null(r, i, 9)) {
		g = json_pack("{s:s}", "status", "none");
	} else {
		int never = !strcmp(tvs_rows_text(r, i, 9), "queued");

		svc_time_str(tvs_rows_int(r, i, 11), built);
		if (!tvs_rows_is_null(r, i, 12))
			svc_time_str(tvs_rows_int(r, i, 12), queued);
		/* queued_at: a build is waiting (the first, or a rebuild) */
		g = json_pack("{s:s,s:I,s:s*,s:s*}", "status", tvs_rows_text(r, i, 9), "size",
			      (json_int_t)tvs_rows_int(r, i, 10), "built_at", never ? NULL : built, "queued_at",
			      tvs_rows_is_null(r, i, 12) ? NULL : queued);
	}
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:I,s:o}", "id", (json_int_t)tvs_rows_int(r, i, 0),
			 "carrier", tvs_rows_text(r, i, 1), "number", tvs_rows_text(r, i, 2), "direction",
			 tvs_rows_text(r, i, 3), "port", tvs_rows_text(r, i, 4), "scheduled_at", sched, "window",
			 "opens_at", op, "closes_at", cl, "travelers", (json_int_t)tvs_rows_int(r, i, 8), "gallery", g);
}

SVC_HANDLER(h_manifest_list)
{
	char sql[sizeof(manifest_cols) + 64];
	tvs_rows r = { 0 };
	json_t *arr;
	int rc;

	snprintf(sql, sizeof(sql), "%s ORDER BY m.scheduled_at DESC, m.id DESC LIMIT 500", manifest_cols);
	rc = tvs_store_query(s->store, sql, NULL, 0, &r);
	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, "manifests");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(arr, manifest_json(&r, i));
	tvs_rows_free(&r);
	svc_reply_json(resp, 200, json_pack("{s:o}", "manifests", arr));
}

SVC_HANDLER(h_manifest_get)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0);
	char sql[sizeof(manifest_cols) + 64];
	tvs_rows r = { 0 }, t = { 0 };
	json_t *m, *arr;
	int rc;

	if (id < 0)
		return;
	snprintf(sql, sizeof(sql), "%s WHERE m.id = ?", manifest_cols);
	rc = tvs_store_query(s->store, sql, (tvs_val[]){ TVS_VINT(id) }, 1, &r);
	if (!rc && r.nrows != 1)
		rc = TVS_ENOTFOUND;
	if (!rc)
		rc = tvs_store_query(s->store,
				     "SELECT mt.id, d.surname, d.given_names, d.nationality, d.type, d.number,"
				     " d.issuing_state, (SELECT count(*) FROM portraits p WHERE p.document_id = d.id),"
				     " mt.citizen FROM manifest_travelers mt JOIN documents d ON d.id = mt.document_id"
				     " WHERE mt.manifest_id = ? ORDER BY mt.id",
				     (tvs_val[]){ TVS_VINT(id) }, 1, &t);
	if (rc) {
		svc_reply_rc(resp, rc, "manifest");
		goto out;
	}
	m = manifest_json(&r, 0);
	arr = json_array();
	for (size_t i = 0; i < t.nrows; i++)
		json_array_append_new(arr, json_pack("{s:I,s:s?,s:s?,s:s?,s:b,s:{s:s,s:s,s:s},s:I}", "id",
						     (json_int_t)tvs_rows_int(&t, i, 0), "surname",
						     tvs_rows_text(&t, i, 1), "given_names", tvs_rows_text(&t, i, 2),
						     "nationality", tvs_rows_text(&t, i, 3), "citizen",
						     (int)tvs_rows_int(&t, i, 8), "document", "type",
						     tvs_rows_text(&t, i, 4), "number", tvs_rows_text(&t, i, 5),
						     "issuing_state", tvs_rows_text(&t, i, 6), "portraits",
						     (json_int_t)tvs_rows_int(&t, i, 7)));
	json_object_set_new(m, "travelers", arr);
	svc_reply_json(resp, 200, m);
out:
	tvs_rows_free(&r);
	tvs_rows_free(&t);
}

SVC_HANDLER(h_manifest_gallery)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0);
	json_t *sum = NULL;
	int rc;

	if (id < 0)
		return;
	rc = svc_gallery_build(s, who, id, &sum);
	if (rc) {
		svc_reply_rc(resp, rc, "manifest");
		return;
	}
	svc_event_publish(s, "gallery", json_deep_copy(sum));
	svc_reply_json(resp, 200, sum);
}
