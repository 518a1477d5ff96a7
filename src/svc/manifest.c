/*
 * Manifests (the JSON form) and the galleries built from them. A manifest is
 * stored in one transaction with its locations and travelers, so a bad
 * traveler at index 300 leaves nothing behind and the error names it.
 */
#include "svc_int.h"

#include <stdio.h>
#include <string.h>

#define SVC_MANIFEST_MAX_TRAVELERS 10000
#define SVC_MANIFEST_MAX_LOCATIONS 64

static const char *const directions[] = { "entry", "exit", NULL };

SVC_HANDLER(h_manifest_create)
{
	json_t *b = svc_json_body_or_reply(req, resp), *win, *locs, *trav;
	struct jv v = { 0 };
	const char *carrier, *number, *dir, *port;
	int64_t sched, opens, closes, port_id = 0, mid = 0, now = svc_now(s);
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	size_t with = 0;
	int rc = 0;

	if (!b)
		return;
	carrier = jv_str(&v, b, "", "carrier", 1, 1, 8);
	number = jv_str(&v, b, "", "number", 1, 1, 16);
	dir = jv_enum(&v, b, "", "direction", 1, directions);
	port = jv_str(&v, b, "", "port", 1, 3, 5);
	sched = jv_time(&v, b, "", "scheduled_at", 1, 0);
	win = jv_obj(&v, b, "", "window", 0);
	opens = jv_time(&v, win, "window", "opens_at", 0, sched - 4 * 3600);
	closes = jv_time(&v, win, "window", "closes_at", 0, sched + 3600);
	locs = jv_arr(&v, b, "", "locations", 1, SVC_MANIFEST_MAX_LOCATIONS);
	trav = jv_arr(&v, b, "", "travelers", 1, SVC_MANIFEST_MAX_TRAVELERS);
	if (!v.bad && closes <= opens)
		jv_fail(&v, "window", "closes_at", "must be after opens_at");
	if (!v.bad && json_array_size(locs) == 0)
		jv_fail(&v, "", "locations", "at least one location code");
	if (jv_reply(&v, resp))
		goto out;
	rc = tvs_store_begin(s->store, 1, &tx);
	if (rc)
		goto fail;
	rc = tvs_tx_query(tx, "SELECT id FROM ports WHERE code = ?", (tvs_val[]){ TVS_VTEXT(port) }, 1, &r);
	if (rc)
		goto fail;
	if (r.nrows != 1) {
		jv_fail(&v, "", "port", "no port has code %.8s", port);
		goto bad;
	}
	port_id = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	rc = tvs_tx_query(tx,
			  "INSERT INTO manifests (carrier, number, direction, port_id, scheduled_at, opens_at, closes_at,"
			  " source_format, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'json', ?) RETURNING id",
			  (tvs_val[]){ TVS_VTEXT(carrier), TVS_VTEXT(number), TVS_VTEXT(dir), TVS_VINT(port_id),
				       TVS_VINT(sched), TVS_VINT(opens), TVS_VINT(closes), TVS_VINT(now) },
			  8, &r);
	if (rc)
		goto fail;
	mid = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	for (size_t i = 0; i < json_array_size(locs); i++) {
		json_t *c = json_array_get(locs, i);
		char key[24];

		snprintf(key, sizeof(key), "[%zu]", i);
		if (!json_is_string(c)) {
			jv_fail(&v, "locations", key, "must be a location code");
			goto bad;
		}
		rc = tvs_tx_query(tx, "SELECT id FROM locations WHERE port_id = ? AND code = ?",
				  (tvs_val[]){ TVS_VINT(port_id), TVS_VTEXT(json_string_value(c)) }, 2, &r);
		if (rc)
			goto fail;
		if (r.nrows != 1) {
			jv_fail(&v, "locations", key, "no location %.16s at port %.8s", json_string_value(c), port);
			goto bad;
		}
		rc = tvs_tx_exec(tx, "INSERT INTO manifest_locations (manifest_id, location_id) VALUES (?, ?)",
				 (tvs_val[]){ TVS_VINT(mid), TVS_VINT(tvs_rows_int(&r, 0, 0)) }, 2, NULL);
		tvs_rows_free(&r);
		if (rc == TVS_ECONFLICT) {
			jv_fail(&v, "locations", key, "listed twice");
			goto bad;
		}
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < json_array_size(trav); i++) {
		json_t *t = json_array_get(trav, i), *dj;
		struct svc_document d;
		char path[48];
		int64_t doc_id;
		int citizen;

		snprintf(path, sizeof(path), "travelers[%zu]", i);
		if (!json_is_object(t)) {
			jv_fail(&v, path, NULL, "must be an object");
			goto bad;
		}
		dj = jv_obj(&v, t, path, "document", 1);
		snprintf(path, sizeof(path), "travelers[%zu].document", i);
		if (!dj || svc_document_fields(&v, dj, path, &d))
			goto bad;
		rc = svc_document_upsert(tx, now, &d, &doc_id);
		if (rc)
			goto fail;
		citizen = d.nationality && !strcmp(d.nationality, s->country);
		rc = tvs_tx_exec(tx, "INSERT INTO manifest_travelers (manifest_id, document_id, citizen) VALUES (?, ?, ?)",
				 (tvs_val[]){ TVS_VINT(mid), TVS_VINT(doc_id), TVS_VINT(citizen) }, 3, NULL);
		if (rc == TVS_ECONFLICT) {
			jv_fail(&v, path, NULL, "this document is already on the manifest");
			goto bad;
		}
		if (rc)
			goto fail;
	}
	rc = tvs_tx_query(tx,
			  "SELECT count(DISTINCT mt.document_id) FROM manifest_travelers mt"
			  " JOIN portraits p ON p.document_id = mt.document_id WHERE mt.manifest_id = ?",
			  (tvs_val[]){ TVS_VINT(mid) }, 1, &r);
	if (rc)
		goto fail;
	with = (size_t)tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	{
		char obj[40];

		snprintf(obj, sizeof(obj), "manifest:%lld", (long long)mid);
		rc = svc_audit_commit(s, &tx, who, "manifest.create", obj, NULL);
	}
	if (rc)
		goto fail;
	svc_reply_json(resp, 201, json_pack("{s:I,s:I,s:I,s:{s:s}}", "id", (json_int_t)mid, "travelers",
					    (json_int_t)json_array_size(trav), "with_portraits", (json_int_t)with,
					    "gallery", "status", "none"));
	goto out;
bad:
	tvs_tx_rollback(tx);
	jv_reply(&v, resp);
	goto out;
fail:
	tvs_tx_rollback(tx);
	svc_reply_rc(resp, rc, "manifest");
out:
	tvs_rows_free(&r);
	json_decref(b);
}

static const char manifest_cols[] =
	"SELECT m.id, m.carrier, m.number, m.direction, p.code, m.scheduled_at, m.opens_at, m.closes_at,"
	" (SELECT count(*) FROM manifest_travelers mt WHERE mt.manifest_id = m.id),"
	" g.status, g.size, g.built_at FROM manifests m JOIN ports p ON p.id = m.port_id"
	" LEFT JOIN galleries g ON g.manifest_id = m.id";

static json_t *manifest_json(const tvs_rows *r, size_t i)
{
	char sched[32], op[32], cl[32], built[32];
	json_t *g;

	svc_time_str(tvs_rows_int(r, i, 5), sched);
	svc_time_str(tvs_rows_int(r, i, 6), op);
	svc_time_str(tvs_rows_int(r, i, 7), cl);
	if (tvs_rows_is_null(r, i, 9)) {
		g = json_pack("{s:s}", "status", "none");
	} else {
		svc_time_str(tvs_rows_int(r, i, 11), built);
		g = json_pack("{s:s,s:I,s:s}", "status", tvs_rows_text(r, i, 9), "size",
			      (json_int_t)tvs_rows_int(r, i, 10), "built_at", built);
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
	rc = svc_gallery_build(s, id, &sum);
	if (rc) {
		svc_reply_rc(resp, rc, "manifest");
		return;
	}
	svc_audit(s, NULL, who, "gallery.build", req->params[0], NULL);
	svc_event_publish(s, "gallery", json_deep_copy(sum));
	svc_reply_json(resp, 200, sum);
}
