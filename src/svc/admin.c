/*
 * Administration: ports, privacy notices, locations and device keys. Small
 * CRUD, each write audited. A device's API key is returned once, at creation;
 * only its hash is kept.
 */
#include "svc_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int is_code(const char *c, size_t lo, size_t hi)
{
	size_t n = strlen(c);

	if (n < lo || n > hi)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isupper((unsigned char)c[i]) || isdigit((unsigned char)c[i])))
			return 0;
	return 1;
}

/* Reply with the rows of sql as an array named key, columns as fields; time
 * columns (ending in _at) become RFC 3339 strings. */
static void reply_rows(tvs_svc_t *s, tvs_http_resp *resp, const char *key, const char *sql, const tvs_val *p,
		       size_t np)
{
	tvs_rows r = { 0 };
	json_t *arr;
	int rc = tvs_store_query(s->store, sql, p, np, &r);

	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, key);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		json_t *o = json_object();

		for (size_t c = 0; c < r.ncols; c++) {
			const tvs_val *cell = &r.cells[i * r.ncols + c];
			const char *name = r.names[c];
			size_t nl = strlen(name);
			json_t *x;

			if (cell->type == TVS_VAL_INT && nl > 3 && !strcmp(name + nl - 3, "_at")) {
				char t[32];

				svc_time_str(cell->i, t);
				x = json_string(t);
			} else if (cell->type == TVS_VAL_INT && !strcmp(name, "enabled")) {
				x = json_boolean(cell->i);
			} else if (cell->type == TVS_VAL_INT) {
				x = json_integer(cell->i);
			} else if (cell->type == TVS_VAL_REAL) {
				x = json_real(cell->r);
			} else if (cell->type == TVS_VAL_TEXT) {
				x = json_string(cell->p);
			} else {
				x = json_null();
			}
			json_object_set_new(o, name, x);
		}
		json_array_append_new(arr, o);
	}
	tvs_rows_free(&r);
	svc_reply_json(resp, 200, json_pack("{s:o}", key, arr));
}

/* Insert with RETURNING id; reply 201 with the echo object plus id. */
static void insert_reply(tvs_svc_t *s, tvs_http_resp *resp, const struct svc_principal *who, const char *what,
			 const char *sql, const tvs_val *p, size_t np, json_t *echo)
{
	tvs_rows r = { 0 };
	int rc = tvs_store_query(s->store, sql, p, np, &r);

	if (rc) {
		tvs_rows_free(&r);
		json_decref(echo);
		svc_reply_rc(resp, rc, what);
		return;
	}
	json_object_set_new(echo, "id", json_integer(tvs_rows_int(&r, 0, 0)));
	tvs_rows_free(&r);
	{
		char obj[64];

		snprintf(obj, sizeof(obj), "%s:%lld", what, (long long)json_integer_value(json_object_get(echo, "id")));
		svc_audit(s, NULL, who, "config.create", obj, NULL);
	}
	svc_reply_json(resp, 201, echo);
}

static const char *const modes[] = { "air", "land", "sea", NULL };
static const char *const port_kinds[] = { "airport", "land_port", "seaport", "private_airfield", "marina", NULL };
static const char *const loc_kinds[] = { "boarding_gate",   "entry_booth",     "vehicle_lane",
					 "pedestrian_lane", "cruise_terminal", "dock", NULL };
static const char *const directions[] = { "entry", "exit", NULL };

SVC_HANDLER(h_port_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *code, *name, *mode, *kind;
	json_t *pilot;
	int pk, pm;

	if (!b)
		return;
	code = jv_str(&v, b, "", "code", 1, 3, 5);
	name = jv_str(&v, b, "", "name", 1, 1, 200);
	mode = jv_enum(&v, b, "", "mode", 1, modes);
	kind = jv_enum(&v, b, "", "kind", 1, port_kinds);
	pilot = json_object_get(b, "pilot_designated");
	if (!v.bad && !is_code(code, 3, 5))
		jv_fail(&v, "", "code", "must be 3-5 of [A-Z0-9]");
	if (!v.bad && pilot && !json_is_boolean(pilot))
		jv_fail(&v, "", "pilot_designated", "must be true or false");
	/* the rule sets read a port's kind as belonging to its mode */
	if (!v.bad && !tvs_policy_port_kind_by_name(kind, &pk) && !tvs_policy_mode_by_name(mode, &pm) &&
	    tvs_policy_port_kind_mode(pk) != pm)
		jv_fail(&v, "", "kind", "a %s is not a %s port", kind, mode);
	if (!jv_reply(&v, resp))
		insert_reply(s, resp, who, "port",
			     "INSERT INTO ports (code, name, mode, kind, pilot_designated, created_at)"
			     " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
			     (tvs_val[]){ TVS_VTEXT(code), TVS_VTEXT(name), TVS_VTEXT(mode), TVS_VTEXT(kind),
					  TVS_VINT(json_is_true(pilot)), TVS_VINT(svc_now(s)) },
			     6, json_pack("{s:s,s:s,s:s,s:s,s:b}", "code", code, "name", name, "mode", mode, "kind", kind,
					  "pilot_designated", json_is_true(pilot)));
	json_decref(b);
}

SVC_HANDLER(h_port_list)
{
	reply_rows(s, resp, "ports", "SELECT id, code, name, mode, kind, pilot_designated FROM ports ORDER BY id", NULL,
		   0);
}

SVC_HANDLER(h_notice_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *ver, *text;
	int64_t eff;

	if (!b)
		return;
	ver = jv_str(&v, b, "", "version", 1, 1, 64);
	text = jv_str(&v, b, "", "text", 1, 1, 60000);
	eff = jv_time(&v, b, "", "effective_at", 0, svc_now(s));
	if (!jv_reply(&v, resp)) {
		char t[32];

		svc_time_str(eff, t);
		insert_reply(s, resp, who, "notice",
			     "INSERT INTO notices (version, text, effective_at, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			     (tvs_val[]){ TVS_VTEXT(ver), TVS_VTEXT(text), TVS_VINT(eff), TVS_VINT(svc_now(s)) }, 4,
			     json_pack("{s:s,s:s,s:s}", "version", ver, "text", text, "effective_at", t));
	}
	json_decref(b);
}

SVC_HANDLER(h_notice_list)
{
	reply_rows(s, resp, "notices", "SELECT id, version, text, effective_at FROM notices ORDER BY id", NULL, 0);
}

/* The notice version must exist: 400 naming the field otherwise. */
static int notice_exists(tvs_svc_t *s, struct jv *v, const char *ver)
{
	tvs_rows r = { 0 };
	int rc;

	if (!ver || v->bad)
		return 0;
	rc = tvs_store_query(s->store, "SELECT 1 FROM notices WHERE version = ?", (tvs_val[]){ TVS_VTEXT(ver) }, 1,
			     &r);
	if (rc)
		jv_fail(v, "", "notice_version", "could not be checked");
	else if (r.nrows == 0)
		jv_fail(v, "", "notice_version", "no notice has version %.64s", ver);
	tvs_rows_free(&r);
	return rc;
}

SVC_HANDLER(h_location_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *port, *code, *name, *kind, *dir, *notice;
	tvs_rows r = { 0 };

	if (!b)
		return;
	port = jv_str(&v, b, "", "port", 1, 3, 5);
	code = jv_str(&v, b, "", "code", 1, 1, 16);
	name = jv_str(&v, b, "", "name", 1, 1, 200);
	kind = jv_enum(&v, b, "", "kind", 1, loc_kinds);
	dir = jv_enum(&v, b, "", "direction", 1, directions);
	notice = jv_str(&v, b, "", "notice_version", 0, 1, 64);
	if (!v.bad && !is_code(code, 1, 16))
		jv_fail(&v, "", "code", "must be 1-16 of [A-Z0-9]");
	if (!v.bad && (tvs_store_query(s->store, "SELECT id FROM ports WHERE code = ?", (tvs_val[]){ TVS_VTEXT(port) },
				       1, &r) ||
		       r.nrows != 1))
		jv_fail(&v, "", "port", "no port has code %.8s", port);
	notice_exists(s, &v, notice);
	if (!jv_reply(&v, resp)) {
		json_t *echo = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "port", port, "code", code, "name", name, "kind",
					 kind, "direction", dir, "notice_version", notice);

		insert_reply(s, resp, who, "location",
			     "INSERT INTO locations (port_id, code, name, kind, direction, notice_version, created_at)"
			     " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
			     (tvs_val[]){ TVS_VINT(tvs_rows_int(&r, 0, 0)), TVS_VTEXT(code), TVS_VTEXT(name),
					  TVS_VTEXT(kind), TVS_VTEXT(dir), TVS_VTEXT(notice), TVS_VINT(svc_now(s)) },
			     7, echo);
	}
	tvs_rows_free(&r);
	json_decref(b);
}

SVC_HANDLER(h_location_list)
{
	reply_rows(s, resp, "locations",
		   "SELECT l.id, p.code AS port, l.code, l.name, l.kind, l.direction, l.notice_version"
		   " FROM locations l JOIN ports p ON p.id = l.port_id ORDER BY l.id",
		   NULL, 0);
}

SVC_HANDLER(h_location_patch)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0);
	json_t *b;
	struct jv v = { 0 };
	const char *notice;
	int64_t changed = 0;
	int rc;

	if (id < 0 || !(b = svc_json_body_or_reply(req, resp)))
		return;
	notice = jv_str(&v, b, "", "notice_version", 1, 1, 64);
	notice_exists(s, &v, notice);
	if (jv_reply(&v, resp))
		goto out;
	rc = tvs_store_exec(s->store, "UPDATE locations SET notice_version = ? WHERE id = ?",
			    (tvs_val[]){ TVS_VTEXT(notice), TVS_VINT(id) }, 2, &changed);
	if (rc || !changed) {
		svc_reply_rc(resp, rc ? rc : TVS_ENOTFOUND, "location");
		goto out;
	}
	svc_audit(s, NULL, who, "config.notice", req->params[0], notice);
	svc_reply_json(resp, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "notice_version", notice));
out:
	json_decref(b);
}

static const char *const key_roles[] = { "device", "repository", NULL };

SVC_HANDLER(h_device_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *name, *role;
	int64_t loc;
	char key[96];
	uint8_t h[32];
	tvs_rows r = { 0 };
	int rc;

	if (!b)
		return;
	name = jv_str(&v, b, "", "name", 1, 1, 200);
	role = jv_enum(&v, b, "", "role", 1, key_roles);
	loc = jv_int(&v, b, "", "location_id", 0, 1, INT64_MAX, 0);
	if (!v.bad && !strcmp(role, "device") && !loc)
		jv_fail(&v, "", "location_id", "required for a device");
	if (!v.bad && !strcmp(role, "repository") && loc)
		jv_fail(&v, "", "location_id", "not allowed for a repository client");
	if (!v.bad && loc &&
	    (tvs_store_query(s->store, "SELECT 1 FROM locations WHERE id = ?", (tvs_val[]){ TVS_VINT(loc) }, 1, &r) ||
	     r.nrows != 1))
		jv_fail(&v, "", "location_id", "no location has id %lld", (long long)loc);
	tvs_rows_free(&r);
	if (jv_reply(&v, resp))
		goto out;
	svc_token_new("tvsk_", key, sizeof(key));
	svc_token_hash(key, h);
	rc = tvs_store_query(s->store,
			     "INSERT INTO devices (name, role, location_id, key_hash, created_at) VALUES (?, ?, ?, ?, ?)"
			     " RETURNING id",
			     (tvs_val[]){ TVS_VTEXT(name), TVS_VTEXT(role), loc ? TVS_VINT(loc) : TVS_VNULL,
					  TVS_VBLOB(h, 32), TVS_VINT(svc_now(s)) },
			     5, &r);
	if (rc) {
		svc_reply_rc(resp, rc, "device");
		goto out;
	}
	svc_audit(s, NULL, who, "key.create", name, role);
	svc_reply_json(resp, 201,
		       json_pack("{s:I,s:s,s:s,s:o,s:s,s:b}", "id", (json_int_t)tvs_rows_int(&r, 0, 0), "name", name,
				 "role", role, "location_id", loc ? json_integer(loc) : json_null(), "api_key", key,
				 "enabled", 1));
	sodium_memzero(key, sizeof(key));
out:
	tvs_rows_free(&r);
	json_decref(b);
}

SVC_HANDLER(h_device_list)
{
	reply_rows(s, resp, "devices", "SELECT id, name, role, location_id, enabled FROM devices ORDER BY id", NULL, 0);
}

SVC_HANDLER(h_device_revoke)
{
	int64_t id = svc_param_id_or_reply(req, resp, 0), changed = 0;
	int rc;

	if (id < 0)
		return;
	rc = tvs_store_exec(s->store, "UPDATE devices SET enabled = 0 WHERE id = ?", (tvs_val[]){ TVS_VINT(id) }, 1,
			    &changed);
	if (rc || !changed) {
		svc_reply_rc(resp, rc ? rc : TVS_ENOTFOUND, "device");
		return;
	}
	svc_audit(s, NULL, who, "key.revoke", req->params[0], NULL);
	svc_reply_json(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "enabled", 0));
}
