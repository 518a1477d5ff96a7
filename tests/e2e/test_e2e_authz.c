/*
 * The role matrix of docs/api.md, row by row: every endpoint is called with
 * no credentials and as each of device, repository, officer, supervisor,
 * auditor and admin. An allowed caller must get neither 401 nor 403 (the
 * body may still be refused with a 4xx: this test is about who, not what);
 * no credentials on a protected endpoint is 401; any other role is 403. All
 * mismatches are collected and reported together.
 *
 * Then the ways credentials go bad: a wrong token, a wrong key, a wrong
 * password, a session that was ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { R_NONE, R_DEVICE, R_REPO, R_OFFICER, R_SUPER, R_AUDITOR, R_ADMIN, R_COUNT };
#define B(r) (1u << (r))
#define ALL (B(R_NONE) | B(R_DEVICE) | B(R_REPO) | B(R_OFFICER) | B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN))
#define USERS (B(R_OFFICER) | B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN))

static const char *const role_names[R_COUNT] = { "none",	"device",  "repository", "officer",
						 "supervisor", "auditor", "admin" };
static const char *const role_users[R_COUNT] = { NULL, NULL, NULL, "officer1", "super1", "auditor1", "admin" };

static e2e_world w;


struct row {
	const char *method;
	char path[160];
	char *body;      /* JSON text or NULL (owned) */
	unsigned allowed; /* B(role) bits */
	int stream;      /* event stream: read the headers only */
	int fresh;       /* each user role logs in anew (the call ends the session) */
};

static struct row rows[64];
static int nrows;

static void add(const char *method, const char *path, json_t *body, unsigned allowed)
{
	struct row *r = &rows[nrows++];

	assert_true(nrows <= (int)(sizeof(rows) / sizeof(rows[0])));
	memset(r, 0, sizeof(*r));
	r->method = method;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	r->allowed = allowed;
}

static void build_table(void)
{
	char p[160], t0[32], t1[32], t2[32];
	json_int_t spare_dev, enc;
	json_t *r;
	int64_t now = e2e_now();

	/* an encounter to look at and resolve: a stranger, so it is pending */
	r = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[2], -1, NULL);
	assert_string_equal(e2e_jstr(r, "decision"), "NO_MATCH");
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/encounters?status=pending", &w.officer, NULL, 200);
	enc = e2e_jint(json_array_get(e2e_jarr(r, "encounters"), 0), "id");
	json_decref(r);
	/* a device to revoke */
	r = e2e_call(&e2e_srv, "POST", "/v1/devices", &w.admin,
		     json_pack("{s:s,s:s}", "name", "spare-repository", "role", "repository"), 201);
	spare_dev = e2e_jint(r, "id");
	json_decref(r);

	nrows = 0;
	add("GET", "/healthz", NULL, ALL);
	add("GET", "/metrics", NULL, ALL);
	add("GET", "/v1/openapi.json", NULL, ALL);
	add("GET", "/", NULL, ALL);
	add("GET", "/console/app.js", NULL, ALL);
	add("POST", "/v1/sessions", json_pack("{s:s,s:s}", "username", "officer1", "password", E2E_PASSWORD),
	    ALL);
	add("DELETE", "/v1/sessions/current", NULL, USERS);
	rows[nrows - 1].fresh = 1;
	add("POST", "/v1/users",
	    json_pack("{s:s,s:s,s:s}", "username", "authz-made", "password", E2E_PASSWORD, "role", "officer"),
	    B(R_ADMIN));
	add("GET", "/v1/users", NULL, B(R_ADMIN));
	add("POST", "/v1/ports", json_pack("{s:s,s:s,s:s,s:s}", "code", "AZP", "name", "Authz Harbour", "mode", "sea",
					   "kind", "seaport"),
	    B(R_ADMIN));
	add("POST", "/v1/notices", json_pack("{s:s,s:s}", "version", "v2", "text", "Second notice."), B(R_ADMIN));
	add("POST", "/v1/locations",
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", "C3", "name", "Dock C3", "kind", "dock",
		      "direction", "entry"),
	    B(R_ADMIN));
	snprintf(p, sizeof(p), "/v1/locations/%lld", (long long)w.loc_nogal_id);
	add("PATCH", p, json_pack("{s:s}", "notice_version", "v1"), B(R_ADMIN));
	add("GET", "/v1/ports", NULL, USERS);
	add("GET", "/v1/locations", NULL, USERS);
	add("GET", "/v1/notices", NULL, USERS);
	add("POST", "/v1/devices", json_pack("{s:s,s:s}", "name", "authz-repo", "role", "repository"), B(R_ADMIN));
	add("GET", "/v1/devices", NULL, B(R_ADMIN));
	snprintf(p, sizeof(p), "/v1/devices/%lld/revoke", (long long)spare_dev);
	add("POST", p, NULL, B(R_ADMIN));
	add("POST", "/v1/portraits",
	    json_pack("{s:o,s:s,s:s}", "document", e2e_document(1), "source", "visa", "image", e2e_im->portrait[1].b64),
	    B(R_REPO));
	snprintf(p, sizeof(p), "/v1/portraits/%lld/image?purpose=authz", (long long)w.portrait_id[0]);
	add("GET", p, NULL, B(R_OFFICER) | B(R_SUPER));
	e2e_time_str(now + 7200, t0);
	e2e_time_str(now - 3600, t1);
	e2e_time_str(now + 4 * 3600, t2);
	add("POST", "/v1/manifests",
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:[{s:o}]}", "carrier", "DA", "number", "DA777",
		      "direction", "exit", "port", E2E_PORT_CODE, "scheduled_at", t0, "locations", E2E_LOC_NOGAL_CODE,
		      "window", "opens_at", t1, "closes_at", t2, "travelers", "document", e2e_document(1)),
	    B(R_REPO) | B(R_ADMIN));
	add("GET", "/v1/manifests", NULL, USERS);
	snprintf(p, sizeof(p), "/v1/manifests/%lld", (long long)w.manifest_id);
	add("GET", p, NULL, USERS);
	snprintf(p, sizeof(p), "/v1/manifests/%lld/gallery", (long long)w.manifest_id);
	add("POST", p, NULL, B(R_REPO) | B(R_SUPER) | B(R_ADMIN));
	add("POST", "/v1/captures", json_pack("{s:s}", "image", e2e_im->live[0].b64), B(R_DEVICE));
	add("POST", "/v1/optouts", json_object(), B(R_DEVICE));
	add("GET", "/v1/encounters", NULL, B(R_OFFICER) | B(R_SUPER) | B(R_AUDITOR));
	snprintf(p, sizeof(p), "/v1/encounters/%lld", (long long)enc);
	add("GET", p, NULL, B(R_OFFICER) | B(R_SUPER) | B(R_AUDITOR));
	snprintf(p, sizeof(p), "/v1/encounters/%lld/image?purpose=authz", (long long)enc);
	add("GET", p, NULL, B(R_OFFICER) | B(R_SUPER));
	snprintf(p, sizeof(p), "/v1/encounters/%lld/resolve", (long long)enc);
	add("POST", p, json_pack("{s:s}", "outcome", "referred"), B(R_OFFICER) | B(R_SUPER));
	add("GET", "/v1/events", NULL, B(R_OFFICER) | B(R_SUPER));
	rows[nrows - 1].stream = 1;
	e2e_time_str(now - 86400, t0);
	e2e_time_str(now + 86400, t1);
	snprintf(p, sizeof(p), "/v1/reports/summary?from=%s&to=%s", t0, t1);
	add("GET", p, NULL, B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN));
	snprintf(p, sizeof(p), "/v1/reports/timeseries?from=%s&to=%s&bucket=hour", t0, t1);
	add("GET", p, NULL, B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN));
	add("GET", "/v1/reports/notices", NULL, B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN));
	add("GET", "/v1/reports/retention", NULL, B(R_SUPER) | B(R_AUDITOR) | B(R_ADMIN));
	add("POST", "/v1/retention/run", NULL, B(R_ADMIN));
	add("GET", "/v1/audit?limit=5", NULL, B(R_AUDITOR) | B(R_ADMIN));
	add("GET", "/v1/audit/verify", NULL, B(R_AUDITOR) | B(R_ADMIN));
	snprintf(p, sizeof(p), "/v1/reports/access?from=%s&to=%s&period=day", t0, t1);
	add("GET", p, NULL, B(R_AUDITOR) | B(R_ADMIN));
}

static e2e_cred cred_of(int role, int fresh)
{
	switch (role) {
	case R_DEVICE: return w.device;
	case R_REPO: return w.repo;
	case R_OFFICER: return fresh ? e2e_login(&e2e_srv, role_users[role]) : w.officer;
	case R_SUPER: return fresh ? e2e_login(&e2e_srv, role_users[role]) : w.supervisor;
	case R_AUDITOR: return fresh ? e2e_login(&e2e_srv, role_users[role]) : w.auditor;
	case R_ADMIN: return fresh ? e2e_login(&e2e_srv, role_users[role]) : w.admin;
	default: return e2e_nocred;
	}
}

static void test_role_matrix(void **state)
{
	static char report[16384];
	size_t rl = 0;
	int bad = 0, checked = 0;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, 2);
	build_table();

	report[0] = '\0';
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		for (int role = 0; role < R_COUNT; role++) {
			e2e_cred c = cred_of(role, r->fresh);
			int allowed = (r->allowed >> role) & 1;
			e2e_resp resp;
			char rid[128], why[200] = "";
			const char *code;

			e2e_request_raw(&e2e_srv,
					&(e2e_req){ .method = r->method, .path = r->path, .cred = &c, .body = r->body,
						    .head_only = r->stream },
					&resp);
			checked++;
			code = resp.json ? json_string_value(json_object_get(json_object_get(resp.json, "error"), "code"))
					 : NULL;
			if (resp.status == 0)
				snprintf(why, sizeof(why), "no reply");
			else if (resp.status >= 500)
				snprintf(why, sizeof(why), "server error %ld", resp.status);
			else if (!e2e_resp_header(&resp, "X-Request-Id", rid, sizeof(rid)))
				snprintf(why, sizeof(why), "%ld without X-Request-Id", resp.status);
			else if (allowed && (resp.status == 401 || resp.status == 403))
				snprintf(why, sizeof(why), "allowed, got %ld %s", resp.status, code ? code : "");
			else if (!allowed && role == R_NONE &&
				 (resp.status != 401 || !code || strcmp(code, "unauthenticated") != 0))
				snprintf(why, sizeof(why), "expected 401 unauthenticated, got %ld %s", resp.status,
					 code ? code : "");
			else if (!allowed && role != R_NONE &&
				 (resp.status != 403 || !code || strcmp(code, "forbidden") != 0))
				snprintf(why, sizeof(why), "expected 403 forbidden, got %ld %s", resp.status,
					 code ? code : "");
			if (why[0]) {
				bad++;
				rl += (size_t)snprintf(report + rl, rl < sizeof(report) ? sizeof(report) - rl : 0,
						       "  %-6s %-48s as %-10s: %s\n", r->method, r->path, role_names[role],
						       why);
				if (rl >= sizeof(report))
					rl = sizeof(report) - 1;
			}
			e2e_resp_free(&resp);
		}
	}
	for (int i = 0; i < nrows; i++)
		free(rows[i].body);
	if (bad)
		fail_msg("%d of %d role checks disagree with docs/api.md:\n%s", bad, checked, report);
}

/* Five wrong passwords for one name, and the sixth attempt is not heard,
 * even with the right password: 429 with Retry-After. Once the wait has
 * passed the right password works, and the other users were never held. */
static void test_login_throttle(void **state)
{
	char wrong[160], right[160];
	e2e_resp r;
	json_t *j;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	j = e2e_call(&e2e_srv, "POST", "/v1/users", &w.admin,
		     json_pack("{s:s,s:s,s:s}", "username", "throttled1", "password", E2E_PASSWORD, "role", "officer"),
		     201);
	json_decref(j);
	snprintf(wrong, sizeof(wrong), "{\"username\": \"throttled1\", \"password\": \"not-the-password\"}");
	snprintf(right, sizeof(right), "{\"username\": \"throttled1\", \"password\": \"%s\"}", E2E_PASSWORD);
	for (int i = 0; i < 5; i++) {
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/sessions", .body = wrong }, &r);
		e2e_check_error(&r, 401, "unauthenticated", "a wrong password");
		e2e_resp_free(&r);
	}
	e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/sessions", .body = right }, &r);
	e2e_check_error(&r, 429, "too_many_requests", "the right password after five wrong ones");
	if (!strstr(r.headers, "Retry-After:"))
		fail_msg("a 429 without Retry-After: %s", r.headers);
	e2e_resp_free(&r);
	/* another user from the same address is not held */
	j = e2e_call(&e2e_srv, "POST", "/v1/sessions", NULL,
		     json_pack("{s:s,s:s}", "username", "officer1", "password", E2E_PASSWORD), 201);
	json_decref(j);
	sleep(3); /* the first wait is 2 s */
	j = e2e_call(&e2e_srv, "POST", "/v1/sessions", NULL,
		     json_pack("{s:s,s:s}", "username", "throttled1", "password", E2E_PASSWORD), 201);
	json_decref(j);
}

/* The console's pages are public, but a device's API key opens none of the
 * data behind them: every endpoint the console reads or writes is 403 for
 * the key in X-Api-Key, and 401 for the key sent as a bearer token (which
 * is all the console's pages can send). The browser side of this is in
 * tests/browser/console.test.mjs. */
static void test_device_key_console(void **state)
{
	const char *key = strchr(w.device.header, ':') + 2;
	e2e_cred as_bearer = e2e_bearer(key);
	char enc[64], img[96], res[96], portrait[96], series[160], t0[32], t1[32];
	json_t *j;
	e2e_resp r;
	int64_t now = e2e_now();

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	j = e2e_call(&e2e_srv, "GET", "/v1/encounters?status=all", &w.officer, NULL, 200);
	snprintf(enc, sizeof(enc), "/v1/encounters/%lld",
		 (long long)e2e_jint(json_array_get(e2e_jarr(j, "encounters"), 0), "id"));
	json_decref(j);
	snprintf(img, sizeof(img), "%s/image?purpose=console", enc);
	snprintf(res, sizeof(res), "%s/resolve", enc);
	snprintf(portrait, sizeof(portrait), "/v1/portraits/%lld/image?purpose=console", (long long)w.portrait_id[0]);
	e2e_time_str(now - 3600, t0);
	e2e_time_str(now + 3600, t1);
	snprintf(series, sizeof(series), "/v1/reports/timeseries?from=%s&to=%s", t0, t1);
	{
		const char *const console[][2] = {
			{ "GET", "/v1/encounters?status=all" }, { "GET", enc }, { "GET", img }, { "GET", portrait },
			{ "POST", res }, { "GET", "/v1/events" }, { "GET", "/v1/manifests" }, { "GET", "/v1/notices" },
			{ "GET", "/v1/locations" }, { "GET", "/v1/ports" }, { "GET", "/v1/reports/summary" },
			{ "GET", series }, { "GET", "/v1/reports/retention" }, { "GET", "/v1/audit" },
			{ "GET", "/v1/audit/verify" }, { "GET", "/v1/reports/access" },
		};

		for (size_t i = 0; i < sizeof(console) / sizeof(console[0]); i++) {
			const char *body = !strcmp(console[i][0], "POST") ? "{\"outcome\": \"verified\"}" : NULL;
			char what[200];

			snprintf(what, sizeof(what), "%s %s with a device key", console[i][0], console[i][1]);
			e2e_request(&e2e_srv,
				    &(e2e_req){ .method = console[i][0], .path = console[i][1], .cred = &w.device, .body = body },
				    &r);
			e2e_check_error(&r, 403, "forbidden", what);
			e2e_resp_free(&r);
			snprintf(what, sizeof(what), "%s %s with a device key as a bearer token", console[i][0], console[i][1]);
			e2e_request(&e2e_srv,
				    &(e2e_req){ .method = console[i][0], .path = console[i][1], .cred = &as_bearer,
						.body = body },
				    &r);
			e2e_check_error(&r, 401, "unauthenticated", what);
			e2e_resp_free(&r);
		}
	}
	/* the pages themselves hold no data and open for anyone */
	e2e_request_raw(&e2e_srv, &(e2e_req){ .path = "/", .cred = &w.device }, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "text/html"));
	e2e_resp_free(&r);
}

static void test_bad_credentials(void **state)
{
	e2e_cred c, ended;
	e2e_resp r;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	/* made-up token and key */
	c = e2e_bearer("not-a-real-session-token");
	e2e_request(&e2e_srv, &(e2e_req){ .path = "/v1/encounters", .cred = &c }, &r);
	e2e_check_error(&r, 401, "unauthenticated", "a made-up bearer token");
	e2e_resp_free(&r);
	c = e2e_apikey("not-a-real-api-key");
	e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/optouts", .cred = &c, .body = "{}" }, &r);
	e2e_check_error(&r, 401, "unauthenticated", "a made-up API key");
	e2e_resp_free(&r);
	/* a key in the bearer header and a token in the key header */
	{
		const char *key = strchr(w.device.header, ':') + 2;
		const char *tok = strstr(w.officer.header, "Bearer ") + 7;

		c = e2e_bearer(key);
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/optouts", .cred = &c, .body = "{}" }, &r);
		e2e_check_error(&r, 401, "unauthenticated", "an API key sent as a bearer token");
		e2e_resp_free(&r);
		c = e2e_apikey(tok);
		e2e_request(&e2e_srv, &(e2e_req){ .path = "/v1/encounters", .cred = &c }, &r);
		e2e_check_error(&r, 401, "unauthenticated", "a session token sent as an API key");
		e2e_resp_free(&r);
	}

	/* wrong password, unknown user */
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/sessions",
				.body = "{\"username\": \"officer1\", \"password\": \"wrong-password-123\"}" },
		    &r);
	e2e_check_error(&r, 401, "unauthenticated", "a wrong password");
	e2e_resp_free(&r);
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/sessions",
				.body = "{\"username\": \"nobody\", \"password\": \"" E2E_PASSWORD "\"}" },
		    &r);
	e2e_check_error(&r, 401, "unauthenticated", "an unknown user");
	e2e_resp_free(&r);

	/* an ended session is dead; the user's other sessions live on */
	ended = e2e_login(&e2e_srv, "officer1");
	e2e_request(&e2e_srv, &(e2e_req){ .method = "DELETE", .path = "/v1/sessions/current", .cred = &ended }, &r);
	assert_true(r.status >= 200 && r.status < 300);
	e2e_resp_free(&r);
	e2e_request(&e2e_srv, &(e2e_req){ .path = "/v1/encounters", .cred = &ended }, &r);
	e2e_check_error(&r, 401, "unauthenticated", "an ended session");
	e2e_resp_free(&r);
	json_decref(e2e_call(&e2e_srv, "GET", "/v1/encounters", &w.officer, NULL, 200));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_matrix),
		cmocka_unit_test(test_device_key_console),
		cmocka_unit_test(test_bad_credentials),
		cmocka_unit_test(test_login_throttle),
	};
	return E2E_RUN("e2e_authz", tests, e2e_group_setup, e2e_group_teardown);
}
