/*
 * A client's mistakes: bodies over the limit, the wrong media type,
 * malformed JSON, fields of the wrong type (the error names the JSON path),
 * corrupt and oversized images, a revoked key, unknown ids, and a capture
 * where no gallery serves. Each must be a 4xx with the error object, never a
 * 5xx (the harness fails any 5xx), and must change nothing: the encounter,
 * manifest and device counts are the same before and after.
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

#define MIB (1024 * 1024)

static e2e_world w;


/* What a mistake must leave alone. */
struct counts {
	size_t encounters, manifests, devices, users, portraits;
};

static void snapshot(struct counts *c)
{
	char path[64];
	json_t *r, *t;
	size_t i;

	r = e2e_encounters(&e2e_srv, &w.officer, "all");
	c->encounters = json_array_size(r);
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/manifests", &w.officer, NULL, 200);
	c->manifests = json_array_size(e2e_jarr(r, "manifests"));
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/devices", &w.admin, NULL, 200);
	c->devices = json_array_size(e2e_jarr(r, "devices"));
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/users", &w.admin, NULL, 200);
	c->users = json_array_size(e2e_jarr(r, "users"));
	json_decref(r);
	snprintf(path, sizeof(path), "/v1/manifests/%lld", (long long)w.manifest_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	c->portraits = 0;
	json_array_foreach(e2e_jarr(r, "travelers"), i, t)
		c->portraits += (size_t)e2e_jint(t, "portraits");
	json_decref(r);
}

static void check_unchanged(const struct counts *before, const char *what)
{
	struct counts now;

	snapshot(&now);
	if (memcmp(&now, before, sizeof(now)) != 0)
		fail_msg("%s changed the state: encounters %zu -> %zu, manifests %zu -> %zu, devices %zu -> %zu, "
			 "users %zu -> %zu, portraits %zu -> %zu",
			 what, before->encounters, now.encounters, before->manifests, now.manifests, before->devices,
			 now.devices, before->users, now.users, before->portraits, now.portraits);
}

/* Send body (len 0: strlen) of ctype to method path as c; must be status
 * with code (NULL: any) and, if field, that field path. */
static void expect(const char *method, const char *path, const e2e_cred *c, const char *body, size_t len,
		   const char *ctype, long status, const char *code, const char *field, const char *what)
{
	e2e_resp r;

	e2e_request(&e2e_srv, &(e2e_req){ .method = method, .path = path, .cred = c, .body = body, .len = len, .ctype = ctype },
		    &r);
	e2e_check_error(&r, status, code, what);
	if (field) {
		const char *got = json_string_value(json_object_get(json_object_get(r.json, "error"), "field"));
		static char msg[600];

		if (!got || strcmp(got, field) != 0) {
			snprintf(msg, sizeof(msg), "%s: expected field \"%s\", got %s: %.300s", what, field,
				 got ? got : "none", r.body);
			e2e_resp_free(&r);
			fail_msg("%s", msg);
		}
	}
	e2e_resp_free(&r);
}

/* The same with a JSON body (stolen). */
static void expect_json(const char *method, const char *path, const e2e_cred *c, json_t *body, long status,
			const char *code, const char *field, const char *what)
{
	char *txt = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	expect(method, path, c, txt, 0, NULL, status, code, field, what);
	free(txt);
}

/* A body field that is missing may be called missing_field or invalid_field. */
static void expect_missing(const char *method, const char *path, const e2e_cred *c, json_t *body,
			   const char *field, const char *what)
{
	char *txt = json_dumps(body, JSON_COMPACT);
	e2e_resp r;
	const char *code, *got;

	json_decref(body);
	e2e_request(&e2e_srv, &(e2e_req){ .method = method, .path = path, .cred = c, .body = txt }, &r);
	free(txt);
	e2e_check_error(&r, 400, NULL, what);
	code = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
	got = json_string_value(json_object_get(json_object_get(r.json, "error"), "field"));
	if ((strcmp(code, "missing_field") != 0 && strcmp(code, "invalid_field") != 0) || !got ||
	    strcmp(got, field) != 0) {
		static char msg[600];

		snprintf(msg, sizeof(msg), "%s: expected missing_field or invalid_field at \"%s\": %.300s", what,
			 field, r.body);
		e2e_resp_free(&r);
		fail_msg("%s", msg);
	}
	e2e_resp_free(&r);
}

/* {"image": "<b64 of data>"} */
static char *capture_body(const void *data, size_t n)
{
	char *b64 = e2e_b64(data, n);
	json_t *j = json_pack("{s:s}", "image", b64);
	char *txt = json_dumps(j, JSON_COMPACT);

	free(b64);
	json_decref(j);
	return txt;
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A PNG that announces width x height RGB and stops after a stub IDAT. */
static size_t png_header(uint8_t out[64], uint32_t width, uint32_t height)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	size_t n = 0;

	memcpy(out, sig, 8);
	n = 8;
	be32(out + n, 13);
	memcpy(out + n + 4, "IHDR", 4);
	be32(out + n + 8, width);
	be32(out + n + 12, height);
	out[n + 16] = 8; /* bit depth */
	out[n + 17] = 2; /* RGB */
	out[n + 18] = out[n + 19] = out[n + 20] = 0;
	be32(out + n + 21, crc32_png(out + n + 4, 17));
	n += 25;
	be32(out + n, 1000); /* an IDAT that claims 1000 bytes and has 4 */
	memcpy(out + n + 4, "IDAT", 4);
	memcpy(out + n + 8, "\x78\x9c\x01\x00", 4);
	return n + 12;
}

/* ------------------------------------------------------------ tests */

static void test_world(void **state)
{
	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, 1);
	/* one encounter, so "unchanged" means something */
	json_decref(e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, NULL));
}

static void test_body_limits_and_media_types(void **state)
{
	struct counts before;
	size_t n = 12 * MIB + 64 * 1024;
	static char *big; /* kept for the process: a failed check must not leak it */

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);
	snapshot(&before);

	/* over 12 MiB: 413 before any decoding */
	if (!big)
		big = malloc(17 * MIB + 16);
	assert_non_null(big);
	memcpy(big, "{\"image\": \"", 11);
	memset(big + 11, 'A', 17 * MIB);
	memcpy(big + n - 2, "\"}", 2);
	memcpy(big + 17 * MIB - 2, "\"}", 2);
	expect("POST", "/v1/captures", &w.device, big, 17 * MIB, NULL, 413, "too_large", NULL, "a 17 MiB capture");
	expect("POST", "/v1/manifests", &w.repo, big, 17 * MIB, NULL, 413, "too_large", NULL, "a 17 MiB manifest");

	/* not JSON */
	expect("POST", "/v1/captures", &w.device, "{\"image\": \"AAAA\"}", 0, "text/plain", 415,
	       "unsupported_media_type", NULL, "a capture as text/plain");
	expect("POST", "/v1/ports", &w.admin, "code=XYZ&name=x", 0, "application/x-www-form-urlencoded", 415,
	       "unsupported_media_type", NULL, "a form post");
	expect("POST", "/v1/manifests", &w.repo, "<manifest/>", 0, "application/xml", 415, "unsupported_media_type",
	       NULL, "an XML manifest");
	/* a charset parameter is still JSON */
	{
		e2e_resp r;

		e2e_request(&e2e_srv,
			    &(e2e_req){ .method = "POST", .path = "/v1/optouts", .cred = &w.device_nogal, .body = "{}",
					.ctype = "application/json; charset=utf-8" },
			    &r);
		if (r.status == 415)
			fail_msg("application/json; charset=utf-8 refused as 415");
		if (r.status == 201)
			before.encounters += 1; /* that opt-out counts */
		e2e_resp_free(&r);
	}
	check_unchanged(&before, "bodies over the limit and other media types");

	/* the documented limit is 12 MiB (last: the server's own default may differ) */
	memcpy(big + n - 2, "\"}", 2);
	expect("POST", "/v1/captures", &w.device, big, n, NULL, 413, "too_large", NULL, "a 12 MiB + 64 KiB capture");
	expect("POST", "/v1/portraits", &w.repo, big, n, NULL, 413, "too_large", NULL, "a 12 MiB + 64 KiB portrait");
	check_unchanged(&before, "bodies over 12 MiB");
}

static void test_malformed_json_and_fields(void **state)
{
	struct counts before;
	char path[96];
	json_t *trav, *doc;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);
	snapshot(&before);

	expect("POST", "/v1/captures", &w.device, "{\"image\": ", 0, NULL, 400, "invalid_json", NULL, "cut JSON");
	expect("POST", "/v1/captures", &w.device, "{\"image\": \"AAAA\",}", 0, NULL, 400, "invalid_json", NULL,
	       "a trailing comma");
	expect("POST", "/v1/manifests", &w.repo, "", 0, "application/json", 400, "invalid_json", NULL,
	       "an empty JSON body");
	expect("POST", "/v1/ports", &w.admin, "[\"DEM\"]", 0, NULL, 400, NULL, NULL, "an array for an object");
	expect("POST", "/v1/sessions", NULL, "{\"username\": \"admin\", \"password\": \"\xff\xfe\"}", 0, NULL, 400,
	       "invalid_json", NULL, "invalid UTF-8");

	/* a wrong type deep in a manifest is named by its path */
	trav = json_array();
	json_array_append_new(trav, json_pack("{s:o}", "document", e2e_document(0)));
	doc = e2e_document(7);
	json_object_set_new(doc, "number", json_integer(1234567));
	json_array_append_new(trav, json_pack("{s:o}", "document", doc));
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:o}", "carrier", "DA", "number", "DA9", "direction", "exit",
			      "port", E2E_PORT_CODE, "scheduled_at", "2030-01-01T10:00:00Z", "locations", E2E_LOC_CODE,
			      "travelers", trav),
		    400, "invalid_field", "travelers[1].document.number", "a number where a string goes");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:[{s:s}]}", "carrier", "DA", "number", "DA9", "direction",
			      "exit", "port", E2E_PORT_CODE, "scheduled_at", "2030-01-01T10:00:00Z", "locations",
			      E2E_LOC_CODE, "travelers", "document", "P<UTO1234"),
		    400, "invalid_field", "travelers[0].document", "a string where an object goes");
	expect_missing("POST", "/v1/manifests", &w.repo,
		       json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "carrier", "DA", "number", "DA9", "direction", "exit",
				 "port", E2E_PORT_CODE, "locations", E2E_LOC_CODE),
		       "scheduled_at", "a manifest without scheduled_at");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:[]}", "carrier", "DA", "number", "DA9", "direction",
			      "sideways", "port", E2E_PORT_CODE, "scheduled_at", "2030-01-01T10:00:00Z", "locations",
			      E2E_LOC_CODE, "travelers"),
		    400, "invalid_field", "direction", "direction sideways");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:[]}", "carrier", "DA", "number", "DA9", "direction", "exit",
			      "port", E2E_PORT_CODE, "scheduled_at", "next tuesday", "locations", E2E_LOC_CODE,
			      "travelers"),
		    400, "invalid_field", "scheduled_at", "a time that is not RFC 3339");

	doc = e2e_document(7);
	json_object_set_new(doc, "number", json_integer(12));
	expect_json("POST", "/v1/portraits", &w.repo,
		    json_pack("{s:o,s:s,s:s}", "document", doc, "source", "passport", "image", e2e_im->portrait[1].b64), 400,
		    "invalid_field", "document.number", "a portrait's document number as a number");
	expect_missing("POST", "/v1/portraits", &w.repo,
		       json_pack("{s:o,s:s}", "document", e2e_document(7), "image", e2e_im->portrait[1].b64), "source",
		       "a portrait without source");
	expect_json("POST", "/v1/captures", &w.device, json_pack("{s:i}", "image", 5), 400, "invalid_field", "image",
		    "an image as a number");
	expect_json("POST", "/v1/captures", &w.device,
		    json_pack("{s:s,s:s}", "image", e2e_im->live[0].b64, "captured_at", "yesterday"), 400, "invalid_field",
		    "captured_at", "captured_at yesterday");
	expect_json("POST", "/v1/captures", &w.device,
		    json_pack("{s:s,s:{s:i}}", "image", e2e_im->live[0].b64, "document", "number", 7), 400, "invalid_field",
		    "document.number", "a presented document number as a number");
	expect_missing("POST", "/v1/captures", &w.device, json_pack("{s:s}", "request_id", "no-image"), "image",
		       "a capture without an image");
	expect_json("POST", "/v1/ports", &w.admin,
		    json_pack("{s:s,s:s,s:s,s:s}", "code", "ZZZ", "name", "x", "mode", "space", "kind", "airport"), 400,
		    "invalid_field", "mode", "mode space");
	expect_json("POST", "/v1/ports", &w.admin,
		    json_pack("{s:s,s:s,s:s,s:s}", "code", "dem!", "name", "x", "mode", "air", "kind", "airport"), 400,
		    "invalid_field", "code", "a lower-case port code");
	expect_json("POST", "/v1/users", &w.admin,
		    json_pack("{s:s,s:s,s:s}", "username", "shorty", "password", "short", "role", "officer"), 400,
		    "invalid_field", "password", "a password under 12 characters");
	expect_json("POST", "/v1/users", &w.admin,
		    json_pack("{s:s,s:s,s:s}", "username", "Bad Name", "password", E2E_PASSWORD, "role", "officer"),
		    400, "invalid_field", "username", "a username with a space");
	expect_json("POST", "/v1/users", &w.admin,
		    json_pack("{s:s,s:s,s:s}", "username", "newbie", "password", E2E_PASSWORD, "role", "emperor"), 400,
		    "invalid_field", "role", "role emperor");
	expect_json("POST", "/v1/users", &w.admin,
		    json_pack("{s:s,s:s,s:s}", "username", "officer1", "password", E2E_PASSWORD, "role", "officer"),
		    409, "conflict", NULL, "a taken username");
	expect_json("POST", "/v1/ports", &w.admin,
		    json_pack("{s:s,s:s,s:s,s:s}", "code", E2E_PORT_CODE, "name", "again", "mode", "air", "kind",
			      "airport"),
		    409, "conflict", NULL, "a taken port code");
	expect_json("POST", "/v1/devices", &w.admin, json_pack("{s:s,s:s}", "name", "cam", "role", "device"), 400,
		    "invalid_field", "location_id", "a device without a location");
	expect_json("POST", "/v1/devices", &w.admin,
		    json_pack("{s:s,s:s,s:I}", "name", "repo", "role", "repository", "location_id", (json_int_t)w.loc_id),
		    400, "invalid_field", "location_id", "a repository with a location");
	expect_json("POST", "/v1/locations", &w.admin,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", "Z9", "name", "x", "kind",
			      "dock", "direction", "entry", "notice_version", "v404"),
		    400, NULL, "notice_version", "a notice version that does not exist");
	{
		json_t *all = e2e_encounters(&e2e_srv, &w.officer, "all");

		snprintf(path, sizeof(path), "/v1/encounters/%lld/resolve",
			 (long long)e2e_jint(json_array_get(all, 0), "id"));
		json_decref(all);
	}
	expect_json("POST", path, &w.officer, json_pack("{s:s}", "outcome", "maybe"), 400, "invalid_field", "outcome",
		    "outcome maybe");

	expect_json("POST", "/v1/optouts", &w.device, json_pack("{s:s}", "image", "/9j/4AAQSkZJRgABAQ"), 400,
		    "invalid_field", "image", "an opt-out with an image");
	{
		char rid[66];

		memset(rid, 'r', 65);
		rid[65] = '\0';
		expect_json("POST", "/v1/optouts", &w.device, json_pack("{s:s}", "request_id", rid), 400,
			    "invalid_field", "request_id", "a 65-character request_id");
	}
	expect_json("POST", "/v1/optouts", &w.device, json_pack("{s:s}", "captured_at", "2026-02-30T10:00:00Z"), 400,
		    "invalid_field", "captured_at", "February 30th");
	expect_json("POST", "/v1/optouts", &w.device, json_pack("{s:s}", "captured_at", "2026-11-23T10:00:00+02:00"),
		    400, "invalid_field", "captured_at", "a time that is not UTC");
	expect_json("POST", "/v1/optouts", &w.device, json_pack("{s:s}", "captured_at", "2099-01-01T00:00:00Z"), 400,
		    "invalid_field", "captured_at", "a time far in the future");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s,s],s:[]}", "carrier", "DA", "number", "DA9", "direction", "exit",
			      "port", E2E_PORT_CODE, "scheduled_at", "2030-01-01T10:00:00Z", "locations", E2E_LOC_CODE, "ZZ",
			      "travelers"),
		    400, "invalid_field", "locations[1]", "a location code the port does not have");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:[]}", "carrier", "DA", "number", "DA9", "direction", "exit",
			      "port", "ZZZ", "scheduled_at", "2030-01-01T10:00:00Z", "locations", E2E_LOC_CODE, "travelers"),
		    400, "invalid_field", "port", "a port that does not exist");
	expect_json("POST", "/v1/manifests", &w.repo,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:[]}", "carrier", "DA", "number", "DA9",
			      "direction", "exit", "port", E2E_PORT_CODE, "scheduled_at", "2030-01-01T10:00:00Z",
			      "locations", E2E_LOC_CODE, "window", "opens_at", "2030-01-01T10:00:00Z", "closes_at",
			      "2030-01-01T08:00:00Z", "travelers"),
		    400, "invalid_field", "window.closes_at", "a window that closes before it opens");
	expect_json("POST", "/v1/devices", &w.admin,
		    json_pack("{s:s,s:s,s:s}", "name", "cam", "role", "device", "location_id", "1"), 400, "invalid_field",
		    "location_id", "a location id as a string");
	expect_json("POST", "/v1/locations", &w.admin,
		    json_pack("{s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", E2E_LOC_CODE, "name", "again",
			      "kind", "dock", "direction", "entry"),
		    409, "conflict", NULL, "a taken location code");
	snprintf(path, sizeof(path), "/v1/locations/%lld", (long long)w.loc_id);
	expect_json("PATCH", path, &w.admin, json_pack("{s:s}", "notice_version", "v404"), 400, "invalid_field",
		    "notice_version", "patching in a notice that does not exist");
	{
		/* 20000 nested arrays: refused by the parser, not the stack */
		size_t depth = 20000;
		char *bomb = malloc(depth + 1);

		assert_non_null(bomb);
		memset(bomb, '[', depth);
		bomb[depth] = '\0';
		expect("POST", "/v1/manifests", &w.repo, bomb, depth, NULL, 400, "invalid_json", NULL, "a nesting bomb");
		free(bomb);
	}

	/* query strings */
	expect("GET", "/v1/encounters?status=bogus", &w.officer, NULL, 0, NULL, 400, "invalid_query", NULL,
	       "status=bogus");
	expect("GET", "/v1/encounters?limit=-5", &w.officer, NULL, 0, NULL, 400, "invalid_query", NULL, "limit=-5");
	expect("GET", "/v1/encounters?before_id=abc", &w.officer, NULL, 0, NULL, 400, "invalid_query", NULL,
	       "before_id=abc");
	expect("GET", "/v1/encounters?limit=0", &w.officer, NULL, 0, NULL, 400, "invalid_query", NULL, "limit=0");
	expect("GET", "/v1/reports/summary?from=yesterday", &w.supervisor, NULL, 0, NULL, 400, "invalid_query", NULL,
	       "from=yesterday");
	{
		/* a 9000-byte path: some 4xx */
		char *p = malloc(9100);
		e2e_resp r;

		assert_non_null(p);
		memcpy(p, "/v1/", 4);
		memset(p + 4, 'a', 9000);
		p[9004] = '\0';
		e2e_request(&e2e_srv, &(e2e_req){ .path = p, .cred = &w.officer }, &r);
		if (r.status < 400 || r.status >= 500)
			fail_msg("a 9000-byte path: %ld", r.status);
		e2e_resp_free(&r);
		free(p);
	}
	check_unchanged(&before, "malformed JSON and wrong fields");
}

static void test_corrupt_images(void **state)
{
	struct counts before;
	uint8_t png[64], junk[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char *body;
	size_t n;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);
	snapshot(&before);

	body = capture_body(e2e_im->live[0].data, e2e_im->live[0].len * 6 / 10);
	expect("POST", "/v1/captures", &w.device, body, 0, NULL, 400, "invalid_image", NULL, "a truncated JPEG");
	free(body);
	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		junk[i] = (uint8_t)x;
	}
	body = capture_body(junk, sizeof(junk));
	expect("POST", "/v1/captures", &w.device, body, 0, NULL, 400, "invalid_image", NULL, "random bytes");
	free(body);
	junk[0] = 0xff, junk[1] = 0xd8, junk[2] = 0xff; /* random after a JPEG start */
	body = capture_body(junk, sizeof(junk));
	expect("POST", "/v1/captures", &w.device, body, 0, NULL, 400, "invalid_image", NULL, "a JPEG start then junk");
	free(body);
	expect("POST", "/v1/captures", &w.device, "{\"image\": \"@@@@ this is not base64 @@@@\"}", 0, NULL, 400, NULL,
	       NULL, "bad base64");
	expect("POST", "/v1/captures", &w.device, "{\"image\": \"\"}", 0, NULL, 400, NULL, NULL, "an empty image");

	/* dimensions over the limits: refused from the header, with a message */
	static const int dims[][2] = { { 10000, 10000 }, { 20000, 100 } };
	for (size_t k = 0; k < sizeof(dims) / sizeof(dims[0]); k++) {
		e2e_resp r;

		n = png_header(png, dims[k][0], dims[k][1]);
		body = capture_body(png, n);
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/captures", .cred = &w.device, .body = body },
			    &r);
		if (r.status < 400 || r.status >= 500 ||
		    !json_string_length(json_object_get(json_object_get(r.json, "error"), "message")))
			fail_msg("a %dx%d PNG: expected a 4xx with a message, got %ld %.300s", dims[k][0], dims[k][1],
				 r.status, r.body);
		e2e_resp_free(&r);
		free(body);
	}

	/* portraits: corrupt is 400, no face is 422 quality NO_FACE */
	{
		char *b64 = e2e_b64(e2e_im->portrait[1].data, e2e_im->portrait[1].len / 2);
		json_t *j = json_pack("{s:o,s:s,s:s}", "document", e2e_document(1), "source", "passport", "image", b64);

		free(b64);
		expect_json("POST", "/v1/portraits", &w.repo, j, 400, "invalid_image", NULL, "a truncated portrait");
	}
	{
		e2e_resp r;
		json_t *j = json_pack("{s:o,s:s,s:s}", "document", e2e_document(0), "source", "passport", "image",
				      e2e_im->noface.b64);
		char *txt = json_dumps(j, JSON_COMPACT);

		json_decref(j);
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/portraits", .cred = &w.repo, .body = txt },
			    &r);
		free(txt);
		e2e_check_error(&r, 422, "quality", "a portrait without a face");
		assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "reason")),
				    "NO_FACE");
		e2e_resp_free(&r);
		j = json_pack("{s:o,s:s,s:s}", "document", e2e_document(0), "source", "passport", "image", e2e_im->multi.b64);
		txt = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/portraits", .cred = &w.repo, .body = txt },
			    &r);
		free(txt);
		e2e_check_error(&r, 422, "quality", "a portrait with two faces");
		assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "reason")),
				    "MULTIPLE_FACES");
		e2e_resp_free(&r);
	}
	check_unchanged(&before, "corrupt images");
}

static void test_revoked_key(void **state)
{
	struct counts before;
	json_t *r, *d;
	e2e_cred key;
	json_int_t id;
	char path[96];
	e2e_resp resp;
	size_t i;
	int seen = 0;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	r = e2e_call(&e2e_srv, "POST", "/v1/devices", &w.admin,
		     json_pack("{s:s,s:s,s:I}", "name", "doomed-cam", "role", "device", "location_id", (json_int_t)w.loc_id),
		     201);
	id = e2e_jint(r, "id");
	key = e2e_apikey(e2e_jstr(r, "api_key"));
	json_decref(r);
	json_decref(e2e_capture(&e2e_srv, &key, &e2e_im->live[0], -1, "before-revoke"));

	snprintf(path, sizeof(path), "/v1/devices/%lld/revoke", (long long)id);
	r = e2e_call(&e2e_srv, "POST", path, &w.admin, NULL, 200);
	assert_int_equal(e2e_jint(r, "id"), id);
	assert_true(json_is_false(json_object_get(r, "enabled")));
	json_decref(r);

	snapshot(&before);
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/captures", .cred = &key,
				.body = "{\"image\": \"AAAA\", \"request_id\": \"before-revoke\"}" },
		    &resp);
	e2e_check_error(&resp, 401, "unauthenticated", "a capture with a revoked key");
	e2e_resp_free(&resp);
	e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/optouts", .cred = &key, .body = "{}" }, &resp);
	e2e_check_error(&resp, 401, "unauthenticated", "an opt-out with a revoked key");
	e2e_resp_free(&resp);
	check_unchanged(&before, "a revoked key");

	r = e2e_call(&e2e_srv, "GET", "/v1/devices", &w.admin, NULL, 200);
	json_array_foreach(e2e_jarr(r, "devices"), i, d)
		if (e2e_jint(d, "id") == id) {
			assert_true(json_is_false(json_object_get(d, "enabled")));
			seen = 1;
		}
	json_decref(r);
	assert_true(seen);
}

static void test_unknown_ids_and_routes(void **state)
{
	static const char *const get404[] = {
		"/v1/encounters/999999",	 "/v1/encounters/999999/image?purpose=x",
		"/v1/manifests/999999",		 "/v1/portraits/999999/image?purpose=x",
		"/v1/encounters/abc",		 "/v1/manifests/-1",
		"/v1/manifests/0",		 "/v1/manifests/99999999999999999999999",
		"/v1/no-such-thing",		 "/nothing-here",
	};
	struct counts before;
	e2e_resp r;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);
	snapshot(&before);

	for (size_t i = 0; i < sizeof(get404) / sizeof(get404[0]); i++) {
		const e2e_cred *c = strstr(get404[i], "portraits") ? &w.officer
				    : strstr(get404[i], "manifests") ? &w.auditor
								      : &w.officer;

		expect("GET", get404[i], c, NULL, 0, NULL, 404, "not_found", NULL, get404[i]);
	}
	expect("POST", "/v1/manifests/999999/gallery", &w.repo, NULL, 0, NULL, 404, "not_found", NULL,
	       "the gallery of no manifest");
	expect("POST", "/v1/encounters/999999/resolve", &w.officer, "{\"outcome\": \"verified\"}", 0, NULL, 404,
	       "not_found", NULL, "resolving no encounter");
	expect("PATCH", "/v1/locations/999999", &w.admin, "{\"notice_version\": \"v1\"}", 0, NULL, 404, "not_found",
	       NULL, "patching no location");
	expect("POST", "/v1/devices/999999/revoke", &w.admin, NULL, 0, NULL, 404, "not_found", NULL,
	       "revoking no device");

	/* a known path with another method */
	e2e_request(&e2e_srv, &(e2e_req){ .method = "DELETE", .path = "/v1/ports", .cred = &w.admin }, &r);
	e2e_check_error(&r, 405, "method_not_allowed", "DELETE /v1/ports");
	e2e_resp_free(&r);
	e2e_request(&e2e_srv, &(e2e_req){ .method = "PUT", .path = "/v1/captures", .cred = &w.device, .body = "{}" }, &r);
	e2e_check_error(&r, 405, "method_not_allowed", "PUT /v1/captures");
	e2e_resp_free(&r);
	check_unchanged(&before, "unknown ids and routes");
}

static void test_no_gallery(void **state)
{
	struct counts before;
	char t0[32], t1[32], t2[32], path[96];
	int64_t now = e2e_now();
	json_t *r, *body;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	/* B2 has no manifest at all */
	snapshot(&before);
	body = json_pack("{s:s}", "image", e2e_im->live[0].b64);
	{
		char *txt = json_dumps(body, JSON_COMPACT);

		expect("POST", "/v1/captures", &w.device_nogal, txt, 0, NULL, 409, "no_gallery", NULL,
		       "a capture where no gallery serves");
		/* a departure at B2 whose window closed an hour ago, gallery built */
		e2e_time_str(now - 3 * 3600, t0);
		e2e_time_str(now - 5 * 3600, t1);
		e2e_time_str(now - 3600, t2);
		r = e2e_call(&e2e_srv, "POST", "/v1/manifests", &w.repo,
			     json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:[{s:o}]}", "carrier", "DA", "number",
				       "DA100", "direction", "exit", "port", E2E_PORT_CODE, "scheduled_at", t0, "locations",
				       E2E_LOC_NOGAL_CODE, "window", "opens_at", t1, "closes_at", t2, "travelers",
				       "document", e2e_document(0)),
			     201);
		snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)e2e_jint(r, "id"));
		json_decref(r);
		{
			/* building a gallery for a closed window may be refused */
			e2e_resp g;

			e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = path, .cred = &w.supervisor }, &g);
			if (g.status != 200 && g.status != 409)
				fail_msg("POST %s: expected 200 or 409, got %ld %.300s", path, g.status, g.body);
			e2e_resp_free(&g);
		}
		before.manifests++;
		expect("POST", "/v1/captures", &w.device_nogal, txt, 0, NULL, 409, "no_gallery", NULL,
		       "a capture after the window closed");
		free(txt);
	}
	json_decref(body);
	check_unchanged(&before, "captures without a gallery");

	/* the default window is scheduled_at - 4 h ... + 1 h: a departure in
	 * 5 h is not served yet, one in 2 h is */
	for (int k = 0; k < 2; k++) {
		e2e_resp cr;
		char *txt;

		e2e_time_str(now + (k ? 2 : 5) * 3600, t0);
		r = e2e_call(&e2e_srv, "POST", "/v1/manifests", &w.repo,
			     json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:[{s:o}]}", "carrier", "DA", "number",
				       k ? "DA102" : "DA101", "direction", "exit", "port", E2E_PORT_CODE, "scheduled_at", t0,
				       "locations", E2E_LOC_NOGAL_CODE, "travelers", "document", e2e_document(0)),
			     201);
		snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)e2e_jint(r, "id"));
		json_decref(r);
		json_decref(e2e_call(&e2e_srv, "POST", path, &w.repo, NULL, 200));
		body = json_pack("{s:s}", "image", e2e_im->live[0].b64);
		txt = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		e2e_request(&e2e_srv, &(e2e_req){ .method = "POST", .path = "/v1/captures", .cred = &w.device_nogal, .body = txt },
			    &cr);
		free(txt);
		if (k == 0)
			e2e_check_error(&cr, 409, "no_gallery", "a capture 5 h before the departure (default window)");
		else if (cr.status != 200 || strcmp(e2e_jstr(cr.json, "decision"), "MATCH") != 0)
			fail_msg("a capture 2 h before the departure (default window): %ld %.300s", cr.status, cr.body);
		e2e_resp_free(&cr);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_world),
		cmocka_unit_test(test_body_limits_and_media_types),
		cmocka_unit_test(test_malformed_json_and_fields),
		cmocka_unit_test(test_corrupt_images),
		cmocka_unit_test(test_revoked_key),
		cmocka_unit_test(test_unknown_ids_and_routes),
		cmocka_unit_test(test_no_gallery),
	};
	return E2E_RUN("e2e_badinput", tests, e2e_group_setup, e2e_group_teardown);
}
