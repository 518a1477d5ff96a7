/*
 * Who is asking. Devices and repository clients send an API key; people log
 * in with a password (argon2id, libsodium) and then send a bearer session
 * token. Keys and session tokens are 256-bit random strings, so the store
 * keeps only their BLAKE2b-256 hashes and finds them by hash: a copy of the
 * database lets nobody in, and lookup by hash compares no secret byte by byte.
 */
#include "svc_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

void svc_token_new(const char *prefix, char *out, size_t cap)
{
	uint8_t raw[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, cap, "%s%s", prefix, b64);
	sodium_memzero(raw, sizeof(raw));
}

void svc_token_hash(const char *token, uint8_t hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

int svc_password_hash(const char *password, char out[128])
{
	TVS_ASSERT(crypto_pwhash_STRBYTES <= 128);
	if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return tvs__err(TVS_ENOMEM, "password hashing ran out of memory");
	return 0;
}

static int deny(tvs_http_resp *resp, int status, const char *fmt)
{
	if (status == 401)
		tvs_http_add_header(resp, "WWW-Authenticate", "Bearer");
	tvs_http_reply_error(resp, status, status == 401 ? "unauthenticated" : "forbidden", "%s", fmt);
	return -1;
}

int svc_auth_or_reply(tvs_svc_t *s, const tvs_http_req *req, tvs_http_resp *resp, unsigned allowed,
		      struct svc_principal *p)
{
	uint8_t h[32];
	tvs_rows r = { 0 };
	int rc;

	memset(p, 0, sizeof(*p));
	if (req->api_key) {
		svc_token_hash(req->api_key, h);
		rc = tvs_store_query(s->store, "SELECT id, role, location_id, enabled FROM devices WHERE key_hash = ?",
				     (tvs_val[]){ TVS_VBLOB(h, 32) }, 1, &r);
		if (rc || r.nrows != 1 || !tvs_rows_int(&r, 0, 3)) {
			tvs_rows_free(&r);
			if (rc && rc != TVS_ENOTFOUND)
				return svc_reply_rc(resp, rc, "authentication"), -1;
			return deny(resp, 401, "unknown or revoked API key");
		}
		p->id = tvs_rows_int(&r, 0, 0);
		p->role = tvs_svc_role_parse(tvs_rows_text(&r, 0, 1));
		p->location_id = tvs_rows_int(&r, 0, 2);
		snprintf(p->name, sizeof(p->name), "%s:%lld", tvs_svc_role_name(p->role) ? tvs_svc_role_name(p->role) : "key",
			 (long long)p->id);
	} else if (req->authorization && !strncasecmp(req->authorization, "Bearer ", 7)) {
		svc_token_hash(req->authorization + 7, h);
		rc = tvs_store_query(s->store,
				     "SELECT u.id, u.role, u.username FROM sessions s JOIN users u ON u.id = s.user_id"
				     " WHERE s.token_hash = ? AND s.expires_at > ? AND u.enabled = 1",
				     (tvs_val[]){ TVS_VBLOB(h, 32), TVS_VINT(svc_now(s)) }, 2, &r);
		if (rc || r.nrows != 1) {
			tvs_rows_free(&r);
			if (rc)
				return svc_reply_rc(resp, rc, "authentication"), -1;
			return deny(resp, 401, "unknown or expired session");
		}
		p->id = tvs_rows_int(&r, 0, 0);
		p->role = tvs_svc_role_parse(tvs_rows_text(&r, 0, 1));
		snprintf(p->name, sizeof(p->name), "user:%s", tvs_rows_text(&r, 0, 2));
	} else {
		return deny(resp, 401, "credentials required: Authorization: Bearer <session> or X-Api-Key");
	}
	tvs_rows_free(&r);
	snprintf(resp->actor, sizeof(resp->actor), "%s", p->name);
	if (!(p->role & allowed))
		return deny(resp, 403, "this role may not use this endpoint");
	return 0;
}

static int valid_username(const char *u)
{
	size_t n = strlen(u);

	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)u[i]) || isdigit((unsigned char)u[i]) || strchr("._-", u[i])))
			return 0;
	return 1;
}

static const char *const user_roles[] = { "officer", "supervisor", "auditor", "admin", NULL };

/* Insert a user; the caller has validated nothing but the types. */
static int user_insert(tvs_store_t *st, int64_t now, const char *username, const char *role, const char *password,
		       int64_t *id)
{
	char hash[128];
	tvs_rows r = { 0 };
	int ok_role = 0, rc;

	for (size_t i = 0; user_roles[i]; i++)
		ok_role |= !strcmp(role, user_roles[i]);
	if (!valid_username(username))
		return tvs__err(TVS_EINVAL, "username must be 1-64 of [a-z0-9._-]");
	if (!ok_role)
		return tvs__err(TVS_EINVAL, "role must be officer, supervisor, auditor or admin");
	if (strlen(password) < 12 || strlen(password) > 1024)
		return tvs__err(TVS_EINVAL, "password must be 12 to 1024 characters");
	rc = svc_password_hash(password, hash);
	if (rc)
		return rc;
	rc = tvs_store_query(st,
			     "INSERT INTO users (username, role, pwhash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			     (tvs_val[]){ TVS_VTEXT(username), TVS_VTEXT(role), TVS_VTEXT(hash), TVS_VINT(now) }, 4,
			     &r);
	sodium_memzero(hash, sizeof(hash));
	if (rc == TVS_ECONFLICT)
		rc = tvs__err(TVS_ECONFLICT, "username %s is taken", username);
	if (!rc && id)
		*id = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	return rc;
}

int tvs_svc_user_add(const char *db_url, const char *username, const char *role, const char *password)
{
	tvs_store_t *st = NULL;
	int rc;

	if (sodium_init() < 0)
		return tvs__err(TVS_EIO, "libsodium failed to initialise");
	rc = tvs_store_open(&st, db_url, 1);
	if (rc)
		return rc;
	rc = tvs_store_migrate(st, svc_migrations, svc_nmigrations);
	if (!rc)
		rc = user_insert(st, (int64_t)time(NULL), username, role, password, NULL);
	tvs_store_close(st);
	return rc;
}

SVC_HANDLER(h_user_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *u, *pw, *role;
	int64_t id = 0;
	int rc;

	if (!b)
		return;
	u = jv_str(&v, b, "", "username", 1, 1, 64);
	pw = jv_str(&v, b, "", "password", 1, 12, 1024);
	role = jv_enum(&v, b, "", "role", 1, user_roles);
	if (!v.bad && !valid_username(u))
		jv_fail(&v, "", "username", "must be 1-64 of [a-z0-9._-]");
	if (jv_reply(&v, resp))
		goto out;
	rc = user_insert(s->store, svc_now(s), u, role, pw, &id);
	if (rc) {
		svc_reply_rc(resp, rc, "user");
		goto out;
	}
	svc_audit(s, NULL, who, "user.create", u, NULL);
	svc_reply_json(resp, 201, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "username", u, "role", role));
out:
	json_decref(b);
}

SVC_HANDLER(h_user_list)
{
	tvs_rows r = { 0 };
	json_t *arr;
	int rc = tvs_store_query(s->store, "SELECT id, username, role, created_at, enabled FROM users ORDER BY id",
				 NULL, 0, &r);

	if (rc) {
		tvs_rows_free(&r);
		svc_reply_rc(resp, rc, "users");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		char t[32];

		svc_time_str(tvs_rows_int(&r, i, 3), t);
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:b}", "id", (json_int_t)tvs_rows_int(&r, i, 0),
						     "username", tvs_rows_text(&r, i, 1), "role",
						     tvs_rows_text(&r, i, 2), "created_at", t, "enabled",
						     (int)tvs_rows_int(&r, i, 4)));
	}
	tvs_rows_free(&r);
	svc_reply_json(resp, 200, json_pack("{s:o}", "users", arr));
}

SVC_HANDLER(h_session_create)
{
	json_t *b = svc_json_body_or_reply(req, resp);
	struct jv v = { 0 };
	const char *u, *pw;
	tvs_rows r = { 0 };
	char token[96], t[32];
	uint8_t h[32];
	int64_t now = svc_now(s), exp = now + s->cfg.session_ttl_s, wait;
	int rc, ok;

	if (!b)
		return;
	u = jv_str(&v, b, "", "username", 1, 1, 64);
	pw = jv_str(&v, b, "", "password", 1, 1, 1024);
	if (jv_reply(&v, resp))
		goto out;
	wait = svc_throttle_wait(&s->throttle, u, req->remote, now);
	if (wait > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%lld", (long long)wait);
		tvs_http_add_header(resp, "Retry-After", ra);
		svc_audit(s, NULL, NULL, "login.throttled", u, req->remote);
		tvs_http_reply_error(resp, 429, "too_many_requests",
				     "too many failed logins for this name or address; retry in %lld s", (long long)wait);
		goto out;
	}
	rc = tvs_store_query(s->store, "SELECT id, role, pwhash FROM users WHERE username = ? AND enabled = 1",
			     (tvs_val[]){ TVS_VTEXT(u) }, 1, &r);
	if (rc) {
		svc_reply_rc(resp, rc, "login");
		goto out;
	}
	/* verify against a real hash even for an unknown name, so timing does
	 * not tell which names exist */
	ok = r.nrows == 1 && crypto_pwhash_str_verify(tvs_rows_text(&r, 0, 2), pw, strlen(pw)) == 0;
	if (r.nrows != 1) {
		char dummy[128];

		if (!svc_password_hash("not-a-password-at-all", dummy) &&
		    crypto_pwhash_str_verify(dummy, pw, strlen(pw)) == 0)
			ok = 0;
	}
	svc_throttle_record(&s->throttle, u, req->remote, now, ok);
	if (!ok) {
		atomic_fetch_add(&s->m.logins_failed, 1);
		svc_audit(s, NULL, NULL, "login.failed", u, NULL);
		tvs_http_reply_error(resp, 401, "unauthenticated", "wrong username or password");
		goto out;
	}
	svc_token_new("tvss_", token, sizeof(token));
	svc_token_hash(token, h);
	rc = tvs_store_exec(s->store, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
			    (tvs_val[]){ TVS_VBLOB(h, 32), TVS_VINT(tvs_rows_int(&r, 0, 0)), TVS_VINT(now), TVS_VINT(exp) },
			    4, NULL);
	if (rc) {
		svc_reply_rc(resp, rc, "session");
		goto out;
	}
	snprintf(resp->actor, sizeof(resp->actor), "user:%s", u);
	{
		struct svc_principal p = { .role = tvs_svc_role_parse(tvs_rows_text(&r, 0, 1)) };

		snprintf(p.name, sizeof(p.name), "user:%s", u);
		svc_audit(s, NULL, &p, "login", u, NULL);
	}
	svc_time_str(exp, t);
	svc_reply_json(resp, 201, json_pack("{s:s,s:s,s:s}", "token", token, "role", tvs_rows_text(&r, 0, 1),
					    "expires_at", t));
	sodium_memzero(token, sizeof(token));
out:
	tvs_rows_free(&r);
	json_decref(b);
}

SVC_HANDLER(h_session_delete)
{
	uint8_t h[32];
	int rc;

	svc_token_hash(req->authorization + 7, h);
	rc = tvs_store_exec(s->store, "DELETE FROM sessions WHERE token_hash = ?", (tvs_val[]){ TVS_VBLOB(h, 32) }, 1,
			    NULL);
	if (rc) {
		svc_reply_rc(resp, rc, "session");
		return;
	}
	svc_audit(s, NULL, who, "logout", NULL, NULL);
	tvs_http_reply_text(resp, 204, NULL, "", 0);
}
