/*
 * End to end through one departure: enrol portraits, post a manifest, build
 * its gallery, send captures that must come back MATCH, NO_MATCH, RETAKE and
 * IMPOSTOR_SUSPECTED, opt out, work the officer queue (detail, images with a
 * purpose, resolve once and only once), and check that the summary report,
 * the metrics, the event stream and the health check agree with what was
 * sent. Then stop the server with SIGTERM and start it again on the same
 * store: the gallery must be rebuilt and serve captures.
 *
 * The tests run in order and share one server and one world.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NENROLLED 3
#define STRANGER NENROLLED /* a person on no manifest */
#define OFF_MANIFEST (NENROLLED + 1) /* enrolled later, on no manifest */

static e2e_world w;

/* what the captures of this run were answered, by decision */
enum { N_MATCH, N_NO_MATCH, N_RETAKE, N_IMPOSTOR, N_OPT_OUT, N_KINDS };
static int sent[N_KINDS];
static int resolved;
static char tok_match[128], tok_nomatch[128], tok_impostor[128], tok_retake[128], tok_optout[128];


static void count(const char *decision)
{
	static const char *const names[N_KINDS] = { "MATCH", "NO_MATCH", "RETAKE", "IMPOSTOR_SUSPECTED", "OPT_OUT" };

	for (int i = 0; i < N_KINDS; i++)
		if (!strcmp(decision, names[i])) {
			sent[i]++;
			return;
		}
	fail_msg("unknown decision %s", decision);
}

/* A capture that must be answered decision (and reason, NULL: null or any
 * when any_reason); copies the token to tok if non-NULL. */
static json_t *expect_capture(const e2e_cred *c, const e2e_img *img, int doc, const char *request_id,
			      const char *decision, const char *reason, char *tok)
{
	json_t *r = e2e_capture(&e2e_srv, c, img, doc, request_id);
	const char *d = e2e_jstr(r, "decision");
	json_t *why = json_object_get(r, "reason");

	count(d);
	if (strcmp(d, decision) != 0)
		fail_msg("capture: expected %s, got %s (reason %s)", decision, d,
			 json_is_string(why) ? json_string_value(why) : "null");
	if (reason && (!json_is_string(why) || strcmp(json_string_value(why), reason) != 0))
		fail_msg("capture %s: expected reason %s, got %s", d, reason,
			 json_is_string(why) ? json_string_value(why) : "null");
	if (tok)
		snprintf(tok, 128, "%s", e2e_jstr(r, "token"));
	return r;
}

static size_t encounter_count(void)
{
	json_t *all = e2e_encounters(&e2e_srv, &w.officer, "all");
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

/* The encounter of token in list, or NULL (borrowed). */
static json_t *find_token(json_t *list, const char *token)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "token"));

		if (t && !strcmp(t, token))
			return e;
	}
	return NULL;
}

static json_int_t encounter_id(const char *token)
{
	json_t *all = e2e_encounters(&e2e_srv, &w.officer, "all"), *e = find_token(all, token);
	json_int_t id;

	if (!e)
		fail_msg("no encounter with token %s in GET /v1/encounters?status=all", token);
	id = e2e_jint(e, "id");
	json_decref(all);
	return id;
}

/* m describes enrolled traveler i: names, document, portrait ids. */
static void check_traveler(json_t *m, int i)
{
	char num[16];
	json_t *pids;

	if (!json_is_object(m))
		fail_msg("expected traveler %d, got no traveler object", i);
	assert_string_equal(e2e_jstr(m, "surname"), "TRAVELER");
	e2e_jstr(m, "given_names");
	assert_string_equal(e2e_jstr(m, "nationality"), "UTO");
	e2e_doc_number(i, num);
	assert_string_equal(e2e_jstr(json_object_get(m, "document"), "number"), num);
	pids = e2e_jarr(m, "portrait_ids");
	assert_int_equal(json_array_size(pids), 1);
	assert_int_equal(json_integer_value(json_array_get(pids, 0)), w.portrait_id[i]);
}

/* ------------------------------------------------------------ tests */

static void test_enrol_manifest_gallery(void **state)
{
	char path[96];
	json_t *r, *x, *list;
	size_t i;
	int with_portraits = 0;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, NENROLLED);

	/* the manifest lists with a ready gallery of the enrolled */
	r = e2e_call(&e2e_srv, "GET", "/v1/manifests", &w.officer, NULL, 200);
	list = e2e_jarr(r, "manifests");
	assert_int_equal(json_array_size(list), 1);
	x = json_array_get(list, 0);
	assert_int_equal(e2e_jint(x, "id"), w.manifest_id);
	assert_string_equal(e2e_jstr(x, "carrier"), "DA");
	assert_string_equal(e2e_jstr(x, "number"), "DA123");
	assert_string_equal(e2e_jstr(x, "direction"), "exit");
	assert_string_equal(e2e_jstr(x, "port"), E2E_PORT_CODE);
	e2e_jstr(x, "scheduled_at");
	assert_int_equal(e2e_jint(x, "travelers"), NENROLLED + 1);
	assert_string_equal(e2e_jstr(json_object_get(x, "gallery"), "status"), "ready");
	assert_int_equal(e2e_jint(json_object_get(x, "gallery"), "size"), NENROLLED);
	json_decref(r);

	snprintf(path, sizeof(path), "/v1/manifests/%lld", (long long)w.manifest_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.auditor, NULL, 200);
	list = e2e_jarr(r, "travelers");
	assert_int_equal(json_array_size(list), NENROLLED + 1);
	json_array_foreach(list, i, x)
	{
		json_t *doc = json_object_get(x, "document");

		e2e_jint(x, "id");
		assert_string_equal(e2e_jstr(x, "surname"), "TRAVELER");
		e2e_jstr(x, "given_names");
		assert_string_equal(e2e_jstr(x, "nationality"), "UTO");
		assert_string_equal(e2e_jstr(doc, "type"), "P");
		assert_string_equal(e2e_jstr(doc, "issuing_state"), "UTO");
		e2e_jstr(doc, "number");
		with_portraits += e2e_jint(x, "portraits") > 0;
	}
	assert_int_equal(with_portraits, NENROLLED);
	json_decref(r);

	/* devices list without keys; users list */
	r = e2e_call(&e2e_srv, "GET", "/v1/devices", &w.admin, NULL, 200);
	list = e2e_jarr(r, "devices");
	assert_int_equal(json_array_size(list), 3);
	json_array_foreach(list, i, x)
	{
		assert_null(json_object_get(x, "api_key"));
		assert_true(json_is_true(json_object_get(x, "enabled")));
	}
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/users", &w.admin, NULL, 200);
	assert_int_equal(json_array_size(e2e_jarr(r, "users")), 4);
	json_array_foreach(e2e_jarr(r, "users"), i, x)
	{
		assert_null(json_object_get(x, "password"));
		assert_null(json_object_get(x, "password_hash"));
		e2e_jstr(x, "created_at");
	}
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/ports", &w.officer, NULL, 200);
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/locations", &w.officer, NULL, 200);
	json_decref(r);
	r = e2e_call(&e2e_srv, "GET", "/v1/notices", &w.officer, NULL, 200);
	json_decref(r);
}

static void test_captures(void **state)
{
	json_t *r, *again;
	size_t before;
	e2e_resp resp;
	char rid[64];

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	/* an enrolled traveler, no document presented */
	r = expect_capture(&w.device, &e2e_im->live[0], -1, "flow-match-0", "MATCH", NULL, tok_match);
	assert_true(json_is_null(json_object_get(r, "reason")));
	json_decref(r);

	/* the same request_id again: the first answer, nothing new recorded */
	before = encounter_count();
	again = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, "flow-match-0");
	assert_string_equal(e2e_jstr(again, "decision"), "MATCH");
	assert_string_equal(e2e_jstr(again, "token"), tok_match);
	json_decref(again);
	/* even with another image: the request_id decides */
	again = e2e_capture(&e2e_srv, &w.device, &e2e_im->noface, -1, "flow-match-0");
	assert_string_equal(e2e_jstr(again, "decision"), "MATCH");
	assert_string_equal(e2e_jstr(again, "token"), tok_match);
	json_decref(again);
	assert_int_equal(encounter_count(), before);

	/* enrolled travelers presenting their own documents */
	json_decref(expect_capture(&w.device, &e2e_im->live[1], 1, "flow-match-1", "MATCH", NULL, NULL));
	json_decref(expect_capture(&w.device, &e2e_im->live[2], 2, NULL, "MATCH", NULL, NULL));

	/* somebody on no manifest */
	r = expect_capture(&w.device, &e2e_im->live[STRANGER], -1, "flow-stranger", "NO_MATCH", NULL, tok_nomatch);
	{
		const char *why = e2e_jstr(r, "reason");

		assert_true(!strcmp(why, "NO_CANDIDATE") || !strcmp(why, "AMBIGUOUS"));
	}
	json_decref(r);

	/* traveler 0's face with traveler 1's passport */
	json_decref(expect_capture(&w.device, &e2e_im->live[0], 1, "flow-impostor", "IMPOSTOR_SUSPECTED",
				   "DOCUMENT_MISMATCH", tok_impostor));

	/* a stranger showing a traveler's passport matches neither: NO_MATCH */
	r = expect_capture(&w.device, &e2e_im->live[STRANGER], 1, NULL, "NO_MATCH", NULL, NULL);
	json_decref(r);

	/* somebody enrolled but on no manifest here, with their own passport:
	 * the face matches the document but not the gallery */
	json_decref(e2e_call(&e2e_srv, "POST", "/v1/portraits", &w.repo,
			     json_pack("{s:o,s:s,s:s}", "document", e2e_document(OFF_MANIFEST), "source", "passport",
				       "image", e2e_im->portrait[OFF_MANIFEST].b64),
			     201));
	json_decref(expect_capture(&w.device, &e2e_im->live[OFF_MANIFEST], OFF_MANIFEST, NULL, "IMPOSTOR_SUSPECTED",
				   "DOCUMENT_MISMATCH", NULL));

	/* retakes */
	json_decref(expect_capture(&w.device, &e2e_im->noface, -1, "flow-noface", "RETAKE", "NO_FACE", tok_retake));
	json_decref(expect_capture(&w.device, &e2e_im->grey, -1, NULL, "RETAKE", "NO_FACE", NULL));
	json_decref(expect_capture(&w.device, &e2e_im->multi, -1, NULL, "RETAKE", "MULTIPLE_FACES", NULL));
	/* the library's default gate calls this face TOO_DARK (see e2e.c) */
	json_decref(expect_capture(&w.device, &e2e_im->dark, -1, NULL, "RETAKE", "TOO_DARK", NULL));

	/* opt-out: no image taken, a token given */
	r = e2e_call(&e2e_srv, "POST", "/v1/optouts", &w.device, json_pack("{s:s}", "request_id", "flow-optout"), 201);
	assert_string_equal(e2e_jstr(r, "decision"), "OPT_OUT");
	assert_int_equal(json_object_size(r), 2); /* decision and token, nothing else */
	snprintf(tok_optout, sizeof(tok_optout), "%s", e2e_jstr(r, "token"));
	count("OPT_OUT");
	json_decref(r);
	r = e2e_call(&e2e_srv, "POST", "/v1/optouts", &w.device, json_pack("{s:s}", "request_id", "flow-optout"), 201);
	assert_string_equal(e2e_jstr(r, "token"), tok_optout);
	json_decref(r);

	/* the client's X-Request-Id comes back */
	e2e_request(&e2e_srv,
		    &(e2e_req){ .path = "/healthz", .headers = (const char *const[]){ "X-Request-Id: e2e-flow-42", NULL } },
		    &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(e2e_resp_header(&resp, "X-Request-Id", rid, sizeof(rid)));
	assert_string_equal(rid, "e2e-flow-42");
	e2e_resp_free(&resp);
	/* an insane one is replaced by one of the server's */
	e2e_request(&e2e_srv,
		    &(e2e_req){ .path = "/healthz",
				.headers = (const char *const[]){ "X-Request-Id: <script>alert(1)</script> \"x\"", NULL } },
		    &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(e2e_resp_header(&resp, "X-Request-Id", rid, sizeof(rid)));
	assert_null(strchr(rid, '<'));
	assert_null(strchr(rid, ' '));
	e2e_resp_free(&resp);

	/* every token is distinct */
	assert_string_not_equal(tok_match, tok_nomatch);
	assert_string_not_equal(tok_nomatch, tok_impostor);
	assert_string_not_equal(tok_impostor, tok_retake);
	assert_string_not_equal(tok_retake, tok_optout);
}

static void test_officer_queue(void **state)
{
	json_t *pending, *r, *m, *doc, *trav;
	json_int_t nm_id, imp_id, ret_id, opt_id, trav0 = 0;
	char path[160], num[16], ct[96];
	e2e_resp resp;
	size_t i;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(tok_nomatch[0] && tok_impostor[0]);

	pending = e2e_encounters(&e2e_srv, &w.officer, "pending");
	assert_non_null(find_token(pending, tok_nomatch));
	assert_non_null(find_token(pending, tok_impostor));
	json_array_foreach(pending, i, m)
	{
		assert_string_equal(e2e_jstr(m, "status"), "pending");
		assert_int_equal(e2e_jint(m, "location_id"), w.loc_id);
		e2e_jstr(m, "at");
		e2e_jstr(m, "decision");
	}
	nm_id = e2e_jint(find_token(pending, tok_nomatch), "id");
	imp_id = e2e_jint(find_token(pending, tok_impostor), "id");
	json_decref(pending);
	ret_id = encounter_id(tok_retake);
	opt_id = encounter_id(tok_optout);

	/* filters: by location, and a page size */
	snprintf(path, sizeof(path), "/v1/encounters?status=all&location_id=%lld", (long long)w.loc_nogal_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_int_equal(json_array_size(e2e_jarr(r, "encounters")), 0);
	json_decref(r);
	snprintf(path, sizeof(path), "/v1/encounters?status=all&location_id=%lld&limit=3", (long long)w.loc_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_int_equal(json_array_size(e2e_jarr(r, "encounters")), 3);
	json_decref(r);

	/* the impostor: matched traveler 0, presented document 1 */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)imp_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_string_equal(e2e_jstr(r, "decision"), "IMPOSTOR_SUSPECTED");
	assert_true(json_is_number(json_object_get(r, "score")));
	/* the officer must see whose face it is: the gallery's best hit is
	 * traveler 0 (as "matched", or at least first of the candidates) */
	assert_true(json_array_size(e2e_jarr(r, "candidates")) >= 1);
	assert_true(json_array_size(e2e_jarr(r, "candidates")) <= 3);
	m = json_object_get(r, "matched");
	if (!json_is_object(m))
		m = json_array_get(e2e_jarr(r, "candidates"), 0);
	check_traveler(m, 0);
	doc = json_object_get(r, "presented_document");
	e2e_doc_number(1, num);
	assert_string_equal(e2e_jstr(doc, "number"), num);
	assert_true(json_is_null(json_object_get(r, "resolution")) || !json_object_get(r, "resolution"));
	json_decref(r);

	/* a MATCH names its traveler */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)encounter_id(tok_match));
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_string_equal(e2e_jstr(r, "decision"), "MATCH");
	assert_true(json_is_number(json_object_get(r, "score")));
	check_traveler(json_object_get(r, "matched"), 0);
	json_decref(r);

	/* an auditor sees the same without who it matched */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)imp_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.auditor, NULL, 200);
	assert_string_equal(e2e_jstr(r, "decision"), "IMPOSTOR_SUSPECTED");
	assert_null(json_object_get(r, "matched"));
	assert_null(json_object_get(r, "candidates"));
	json_decref(r);

	/* the stranger: no one matched */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)nm_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.supervisor, NULL, 200);
	assert_string_equal(e2e_jstr(r, "decision"), "NO_MATCH");
	m = json_object_get(r, "matched");
	assert_true(!m || json_is_null(m));
	json_decref(r);

	/* images: the live capture and the portrait, each only with a purpose */
	snprintf(path, sizeof(path), "/v1/encounters/%lld/image?purpose=secondary%%20inspection", (long long)nm_id);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.officer }, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(e2e_resp_header(&resp, "Content-Type", ct, sizeof(ct)));
	assert_true(!strncmp(ct, "image/jpeg", 10) || !strncmp(ct, "image/png", 9));
	assert_true(resp.len > 100);
	e2e_resp_free(&resp);
	snprintf(path, sizeof(path), "/v1/encounters/%lld/image", (long long)nm_id);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.officer }, &resp);
	e2e_check_error(&resp, 400, NULL, "an encounter image without a purpose");
	e2e_resp_free(&resp);
	snprintf(path, sizeof(path), "/v1/portraits/%lld/image?purpose=compare", (long long)w.portrait_id[0]);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.supervisor }, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(e2e_resp_header(&resp, "Content-Type", ct, sizeof(ct)));
	assert_true(!strncmp(ct, "image/jpeg", 10) || !strncmp(ct, "image/png", 9));
	assert_true(resp.len == e2e_im->portrait[0].len || resp.len > 100);
	e2e_resp_free(&resp);
	snprintf(path, sizeof(path), "/v1/portraits/%lld/image", (long long)w.portrait_id[0]);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.supervisor }, &resp);
	e2e_check_error(&resp, 400, NULL, "a portrait image without a purpose");
	e2e_resp_free(&resp);
	/* retakes and opt-outs keep no image */
	snprintf(path, sizeof(path), "/v1/encounters/%lld/image?purpose=x", (long long)ret_id);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.officer }, &resp);
	e2e_check_error(&resp, 404, "not_found", "the image of a retake");
	e2e_resp_free(&resp);
	snprintf(path, sizeof(path), "/v1/encounters/%lld/image?purpose=x", (long long)opt_id);
	e2e_request(&e2e_srv, &(e2e_req){ .path = path, .cred = &w.officer }, &resp);
	e2e_check_error(&resp, 404, "not_found", "the image of an opt-out");
	e2e_resp_free(&resp);

	/* resolve: the stranger referred, the impostor verified as traveler 0 */
	snprintf(path, sizeof(path), "/v1/manifests/%lld", (long long)w.manifest_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	e2e_doc_number(0, num);
	json_array_foreach(e2e_jarr(r, "travelers"), i, trav)
		if (!strcmp(e2e_jstr(json_object_get(trav, "document"), "number"), num))
			trav0 = e2e_jint(trav, "id");
	json_decref(r);
	assert_true(trav0 > 0);

	snprintf(path, sizeof(path), "/v1/encounters/%lld/resolve", (long long)nm_id);
	r = e2e_call(&e2e_srv, "POST", path, &w.officer,
		     json_pack("{s:s,s:s}", "outcome", "referred", "note", "sent to secondary"), 200);
	assert_int_equal(e2e_jint(r, "id"), nm_id);
	assert_string_equal(e2e_jstr(r, "status"), "resolved");
	json_decref(r);
	resolved++;
	snprintf(path, sizeof(path), "/v1/encounters/%lld/resolve", (long long)imp_id);
	r = e2e_call(&e2e_srv, "POST", path, &w.supervisor,
		     json_pack("{s:s,s:I}", "outcome", "verified", "traveler_id", (json_int_t)trav0), 200);
	assert_string_equal(e2e_jstr(r, "status"), "resolved");
	json_decref(r);
	resolved++;

	/* once only */
	snprintf(path, sizeof(path), "/v1/encounters/%lld/resolve", (long long)nm_id);
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = path, .cred = &w.supervisor,
				.body = "{\"outcome\": \"denied\"}" },
		    &resp);
	e2e_check_error(&resp, 409, "conflict", "a second resolve");
	e2e_resp_free(&resp);

	/* the resolution shows, and the queue moved */
	snprintf(path, sizeof(path), "/v1/encounters/%lld", (long long)nm_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	assert_string_equal(e2e_jstr(r, "status"), "resolved");
	assert_true(json_is_object(json_object_get(r, "resolution")));
	assert_string_equal(e2e_jstr(json_object_get(r, "resolution"), "outcome"), "referred");
	json_decref(r);
	pending = e2e_encounters(&e2e_srv, &w.officer, "pending");
	assert_null(find_token(pending, tok_nomatch));
	assert_null(find_token(pending, tok_impostor));
	json_decref(pending);
	pending = e2e_encounters(&e2e_srv, &w.officer, "resolved");
	assert_non_null(find_token(pending, tok_nomatch));
	assert_non_null(find_token(pending, tok_impostor));
	assert_int_equal(json_array_size(pending), resolved);
	json_decref(pending);
}

/* ------------------------------------------------------------ event stream */

/* Read the stream as cred from after event last_id until the first event
 * of type want, which must come. */
/* Read the stream from after last_id until an event of type want. */
static void replay(e2e_sse *st, const e2e_cred *cred, const char *want, const char *last_id)
{
	memset(st, 0, sizeof(*st));
	st->s = &e2e_srv;
	st->cred = cred;
	st->want = want;
	snprintf(st->last_id, sizeof(st->last_id), "%s", last_id);
	e2e_sse_thread(st);
	if (!st->done)
		fail_msg("GET /v1/events after %s: no %s event (status %ld)", last_id, want, st->status);
}

/* The id of event seq of the node that sent id ("SEQ-NODE"). */
static const char *sibling_id(const char *id, long long seq)
{
	static char out[64];
	const char *node = strchr(id, '-');

	assert_non_null(node);
	snprintf(out, sizeof(out), "%lld%s", seq, node);
	return out;
}

static void test_reports_metrics_events_health(void **state)
{
	static e2e_sse st, st2;
	char path[200], t0[32], t1[32];
	json_t *r, *rows, *row = NULL, *data;
	char *metrics;
	e2e_resp resp;
	pthread_t th;
	size_t i;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(tok_optout[0]);

	/* the event stream: open it, capture, the encounter arrives */
	e2e_sse_start(&st, &e2e_srv, &w.officer, "encounter", &th);
	assert_true(st.open);
	json_decref(expect_capture(&w.device, &e2e_im->live[2], -1, NULL, "MATCH", NULL, NULL));
	pthread_join(th, NULL);
	if (!st.done)
		fail_msg("GET /v1/events: no encounter event (status %ld)", st.status);
	assert_int_equal(st.status, 200);
	data = json_loads(st.data, 0, NULL);
	assert_true(json_is_object(data));
	assert_true(json_is_integer(json_object_get(data, "id")));
	json_decref(data);
	assert_true(st.id[0] != '\0');

	/* reconnecting with Last-Event-ID replays what came after it */
	replay(&st2, &w.supervisor, "encounter", sibling_id(st.id, atoll(st.id) - 1));
	assert_string_equal(st2.id, st.id);
	assert_string_equal(st2.data, st.data);

	/* an id this node run never sent (another node's, or one from before a
	 * restart): a resync event first, the console's cue to reload */
	replay(&st2, &w.officer, "resync", "1-0123456789abcdef");
	assert_string_equal(st2.id, "");
	replay(&st2, &w.officer, "resync", "junk");

	/* from the start: the gallery built and the resolutions are there too */
	replay(&st2, &w.officer, "gallery", sibling_id(st.id, 0));
	data = json_loads(st2.data, 0, NULL);
	assert_true(json_is_object(data));
	json_decref(data);
	replay(&st2, &w.officer, "resolution", sibling_id(st.id, 0));
	data = json_loads(st2.data, 0, NULL);
	assert_true(json_is_integer(json_object_get(data, "id")));
	json_decref(data);

	/* the summary counts what this test sent */
	e2e_time_str(e2e_now() - 86400, t0);
	e2e_time_str(e2e_now() + 86400, t1);
	snprintf(path, sizeof(path), "/v1/reports/summary?from=%s&to=%s", t0, t1);
	r = e2e_call(&e2e_srv, "GET", path, &w.supervisor, NULL, 200);
	rows = e2e_jarr(r, "ports");
	json_array_foreach(rows, i, data)
		if (!strcmp(e2e_jstr(data, "port"), E2E_PORT_CODE) && !strcmp(e2e_jstr(data, "mode"), "air"))
			row = data;
	if (!row)
		fail_msg("summary: no row for port %s mode air", E2E_PORT_CODE);
	assert_int_equal(e2e_jint(row, "match"), sent[N_MATCH]);
	assert_int_equal(e2e_jint(row, "no_match"), sent[N_NO_MATCH]);
	assert_int_equal(e2e_jint(row, "retake"), sent[N_RETAKE]);
	assert_int_equal(e2e_jint(row, "impostor_suspected"), sent[N_IMPOSTOR]);
	assert_int_equal(e2e_jint(row, "opt_out"), sent[N_OPT_OUT]);
	assert_int_equal(e2e_jint(row, "captures"),
			 sent[N_MATCH] + sent[N_NO_MATCH] + sent[N_RETAKE] + sent[N_IMPOSTOR]);
	assert_int_equal(e2e_jint(row, "resolved"), resolved);
	assert_true(json_is_number(json_object_get(row, "match_rate")));
	assert_true(json_is_number(json_object_get(row, "opt_out_rate")));
	json_decref(r);
	/* the auditor and admin may read it too */
	json_decref(e2e_call(&e2e_srv, "GET", path, &w.auditor, NULL, 200));
	json_decref(e2e_call(&e2e_srv, "GET", path, &w.admin, NULL, 200));

	/* metrics: Prometheus text with the decision counters */
	e2e_request(&e2e_srv, &(e2e_req){ .path = "/metrics" }, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.body, "tvs_capture_latency_seconds_bucket"));
	assert_non_null(strstr(resp.body, "tvs_galleries"));
	{
		char line[128];
		const char *p;
		long v = -1;

		p = strstr(resp.body, "tvs_decisions_total{decision=\"MATCH\"}");
		if (!p)
			p = strstr(resp.body, "tvs_decisions_total{decision=\"match\"}");
		if (!p)
			fail_msg("/metrics: no tvs_decisions_total MATCH line in:\n%.2000s", resp.body);
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
		p = strrchr(line, ' ');
		if (p)
			v = strtol(p + 1, NULL, 10);
		assert_int_equal(v, sent[N_MATCH]);
	}
	metrics = strdup(resp.body);
	e2e_resp_free(&resp);

	/* health */
	r = e2e_call(&e2e_srv, "GET", "/healthz", NULL, NULL, 200);
	assert_string_equal(e2e_jstr(r, "status"), "ok");
	assert_string_equal(e2e_jstr(r, "db"), "ok");
	assert_int_equal(e2e_jint(r, "galleries"), 1);
	json_decref(r);

	/* the OpenAPI document is JSON */
	r = e2e_call(&e2e_srv, "GET", "/v1/openapi.json", NULL, NULL, 200);
	assert_true(json_is_object(json_object_get(r, "paths")));
	json_decref(r);

	/* last, so that a missing request counter hides nothing else */
	{
		int has = strstr(metrics, "tvs_http_requests_total") != NULL;

		free(metrics);
		if (!has)
			fail_msg("/metrics has no tvs_http_requests_total (docs/api.md lists it)");
	}
}

static void test_restart_keeps_gallery(void **state)
{
	long requests, streams;
	int status, lines = 0, bad = 0;
	char line[8192];
	FILE *f;
	json_t *r;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	/* an officer console is listening: SIGTERM must still stop the server
	 * cleanly, ending the stream */
	{
		static e2e_sse st;
		pthread_t th;

		e2e_sse_start(&st, &e2e_srv, &w.officer, "no-such-event", &th);
		requests = e2e_srv.requests;
		streams = e2e_srv.streams;
		status = e2e_server_stop(&e2e_srv, SIGTERM);
		pthread_join(th, NULL);
		assert_int_equal(st.status, 200);
	}
	if (status != 0)
		fail_msg("SIGTERM with an event stream open: exit status %d (want 0; >1000: had to be killed)", status);

	/* the request log: one JSON object a line, one line a request */
	f = fopen(e2e_srv.log, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);

		lines++;
		bad += !json_is_object(j);
		json_decref(j);
	}
	fclose(f);
	assert_int_equal(bad, 0);
	/* every request this harness made got its line (the two event streams
	 * the test cut itself are not in e2e_srv.requests) */
	if (lines < requests - streams)
		fail_msg("log has %d lines for %ld requests", lines, requests);

	assert_int_equal(e2e_server_start(&e2e_srv, NULL), 0);
	e2e_world_relogin(&e2e_srv, &w);
	r = e2e_call(&e2e_srv, "GET", "/healthz", NULL, NULL, 200);
	assert_int_equal(e2e_jint(r, "galleries"), 1);
	json_decref(r);
	json_decref(expect_capture(&w.device, &e2e_im->live[1], -1, NULL, "MATCH", NULL, NULL));
	json_decref(expect_capture(&w.device, &e2e_im->live[STRANGER], -1, NULL, "NO_MATCH", NULL, NULL));
	/* and the replay memory survived too */
	r = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[0], -1, "flow-match-0");
	assert_string_equal(e2e_jstr(r, "token"), tok_match);
	json_decref(r);
}

/* A second portrait of a known document: the same document, its fields
 * updated, and the gallery rebuilt with both portraits. */
static void test_document_upsert(void **state)
{
	char path[96], num[16];
	json_t *r, *doc, *t;
	size_t i;
	int seen = 0;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	assert_true(w.manifest_id > 0);

	doc = e2e_document(0);
	json_object_set_new(doc, "surname", json_string("TRAVELER-SMITH"));
	r = e2e_call(&e2e_srv, "POST", "/v1/portraits", &w.repo,
		     json_pack("{s:o,s:s,s:s}", "document", doc, "source", "visa", "image", e2e_im->portrait[0].b64), 201);
	assert_int_equal(e2e_jint(r, "document_id"), w.doc_id[0]);
	assert_true(e2e_jint(r, "portrait_id") != w.portrait_id[0]);
	json_decref(r);

	snprintf(path, sizeof(path), "/v1/manifests/%lld", (long long)w.manifest_id);
	r = e2e_call(&e2e_srv, "GET", path, &w.officer, NULL, 200);
	e2e_doc_number(0, num);
	json_array_foreach(e2e_jarr(r, "travelers"), i, t)
		if (!strcmp(e2e_jstr(json_object_get(t, "document"), "number"), num)) {
			assert_string_equal(e2e_jstr(t, "surname"), "TRAVELER-SMITH");
			assert_int_equal(e2e_jint(t, "portraits"), 2);
			seen = 1;
		}
	json_decref(r);
	assert_true(seen);

	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)w.manifest_id);
	r = e2e_call(&e2e_srv, "POST", path, &w.supervisor, NULL, 200);
	assert_int_equal(e2e_jint(r, "size"), NENROLLED + 1);
	assert_int_equal(e2e_jint(r, "missing"), 1);
	json_decref(r);
	/* two templates of one traveler are not rivals: still a MATCH */
	json_decref(expect_capture(&w.device, &e2e_im->live[0], 0, NULL, "MATCH", NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enrol_manifest_gallery),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_officer_queue),
		cmocka_unit_test(test_reports_metrics_events_health),
		cmocka_unit_test(test_restart_keeps_gallery),
		cmocka_unit_test(test_document_upsert),
	};
	return E2E_RUN("e2e_flow", tests, e2e_group_setup, e2e_group_teardown);
}
