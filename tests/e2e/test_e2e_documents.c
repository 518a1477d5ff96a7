/*
 * Travel documents at the gate and in manifests, through the real server:
 * a capture may carry the presented document's MRZ (ICAO 9303 TD3 here)
 * instead of its number, and the 1:1 check runs against that document; a
 * malformed zone or a failed check digit is a 400 naming the field and the
 * check, and nothing is stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "tvs/mrz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static e2e_world w;

static char digit(const char *s, size_t n)
{
	int d = tvs_mrz_check_digit(s, n);

	assert_true(d >= 0);
	return (char)('0' + d);
}

/* The TD3 zone of person i's passport (the document e2e_document(i)
 * describes), as one string with a newline. */
static void td3_of(int i, char out[96])
{
	json_t *d = e2e_document(i);
	char l1[45], l2[45], num[10], birth[7], exp[7], tmp[64];
	const char *b = e2e_jstr(d, "birth_date"), *x = e2e_jstr(d, "expiry");

	snprintf(tmp, sizeof(tmp), "P<UTO%s<<%s", e2e_jstr(d, "surname"), e2e_jstr(d, "given_names"));
	for (char *p = tmp; *p; p++)
		if (*p == ' ')
			*p = '<';
	snprintf(l1, sizeof(l1), "%-44.44s", tmp);
	for (char *p = l1; *p; p++)
		if (*p == ' ')
			*p = '<';
	snprintf(num, sizeof(num), "%-9s", e2e_jstr(d, "number"));
	for (char *p = num; *p; p++)
		if (*p == ' ')
			*p = '<';
	snprintf(birth, sizeof(birth), "%.2s%.2s%.2s", b + 2, b + 5, b + 8);
	snprintf(exp, sizeof(exp), "%.2s%.2s%.2s", x + 2, x + 5, x + 8);
	snprintf(l2, sizeof(l2), "%s%cUTO%s%c%s%s%c%s", num, digit(num, 9), birth, digit(birth, 6),
		 e2e_jstr(d, "sex"), exp, digit(exp, 6), "<<<<<<<<<<<<<<");
	/* optional data check digit ('<' when empty is allowed; use 0) and composite */
	{
		size_t n = strlen(l2);
		char comp[64];

		l2[n++] = '0';
		l2[n] = '\0';
		snprintf(comp, sizeof(comp), "%.10s%.7s%.22s", l2, l2 + 13, l2 + 21);
		l2[n++] = digit(comp, strlen(comp));
		l2[n] = '\0';
	}
	assert_int_equal(strlen(l1), 44);
	assert_int_equal(strlen(l2), 44);
	snprintf(out, 96, "%s\n%s", l1, l2);
	json_decref(d);
}

static json_t *capture_with_mrz(int face, const char *mrz, long want)
{
	return e2e_call(&e2e_srv, "POST", "/v1/captures", &w.device,
			json_pack("{s:s,s:s}", "image", e2e_im->live[face].b64, "mrz", mrz), want);
}

static void test_capture_with_mrz(void **state)
{
	char z0[96], z1[96], bad[96];
	json_t *j, *list;
	size_t before;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	e2e_world_setup(&e2e_srv, &w, 2);
	td3_of(0, z0);
	td3_of(1, z1);

	/* the traveler with their own passport */
	j = capture_with_mrz(0, z0, 200);
	assert_string_equal(e2e_jstr(j, "decision"), "MATCH");
	json_decref(j);
	/* traveler 0 with traveler 1's passport */
	j = capture_with_mrz(0, z1, 200);
	assert_string_equal(e2e_jstr(j, "decision"), "IMPOSTOR_SUSPECTED");
	json_decref(j);

	/* refused, and nothing stored */
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	before = json_array_size(list);
	json_decref(list);
	snprintf(bad, sizeof(bad), "%s", z0);
	bad[45 + 9] = bad[45 + 9] == '9' ? '0' : (char)(bad[45 + 9] + 1); /* the number's check digit */
	j = capture_with_mrz(0, bad, 400);
	if (!strstr(e2e_jstr(json_object_get(j, "error"), "message"), "number check digit"))
		fail_msg("a wrong check digit: %s", e2e_jstr(json_object_get(j, "error"), "message"));
	json_decref(j);
	j = capture_with_mrz(0, "P<UTOSHORT\nLINE", 400);
	assert_string_equal(e2e_jstr(json_object_get(j, "error"), "field"), "mrz");
	json_decref(j);
	j = e2e_call(&e2e_srv, "POST", "/v1/captures", &w.device,
		     json_pack("{s:s,s:s,s:{s:s}}", "image", e2e_im->live[0].b64, "mrz", z0, "document", "number",
			       "X1"),
		     400);
	json_decref(j);
	list = e2e_encounters(&e2e_srv, &w.officer, "all");
	assert_int_equal(json_array_size(list), before);
	json_decref(list);
}

/* A PAXLST passenger list for flight DA777 leaving DEM an hour from now,
 * with persons 0 and 1 on board; cnt is what CNT declares. */
static void paxlst(char *out, size_t cap, int cnt)
{
	char when[16], seg[2048] = "";
	int64_t t = e2e_now() + 3600;
	time_t tt = (time_t)t;
	struct tm tm;
	int nseg;

	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y%m%d%H%M", &tm);
	for (int i = 0; i < 2; i++) {
		json_t *d = e2e_document(i);
		char one[512], birth[16];
		const char *b = e2e_jstr(d, "birth_date");

		snprintf(birth, sizeof(birth), "%.4s%.2s%.2s", b, b + 5, b + 8);
		snprintf(one, sizeof(one),
			 "NAD+FL+++%s:%s'ATT+2++%s'DTM+329:%s:102'NAT+2+UTO'DOC+P+%s'DTM+36:20320415:102'LOC+91+UTO'",
			 e2e_jstr(d, "surname"), e2e_jstr(d, "given_names"), e2e_jstr(d, "sex"), birth,
			 e2e_jstr(d, "number"));
		strcat(seg, one);
		json_decref(d);
	}
	/* UNH, BGM, TDT, LOC, DTM, 2 x 7 traveler segments, CNT, UNT */
	nseg = 1 + 1 + 1 + 2 + 14 + 1 + 1;
	snprintf(out, cap,
		 "UNA:+.? 'UNB+UNOA:4+DAIRLINE:ZZ+TVS:ZZ+261123:1000+77'UNH+1+PAXLST:D:05B:UN:IATA'BGM+745'"
		 "TDT+20+DA777+++DA'LOC+125+DEM'DTM+189:%s:203'%sCNT+42:%d'UNT+%d+1'UNZ+1+77'",
		 when, seg, cnt, nseg);
}

static void test_paxlst_manifest(void **state)
{
	char body[4096], path[96];
	e2e_resp r;
	json_t *j;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	if (!w.admin.header[0])
		skip();
	/* a count that disagrees: refused with the segment, nothing stored */
	paxlst(body, sizeof(body), 3);
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/manifests?port=DEM&locations=A1", .cred = &w.repo,
				.body = body, .ctype = "application/edifact" },
		    &r);
	e2e_check_error(&r, 400, "invalid_paxlst", "a PAXLST whose CNT disagrees");
	if (!strstr(r.body, "segment"))
		fail_msg("the error does not name the segment: %s", r.body);
	e2e_resp_free(&r);
	/* no port: the direction cannot be known */
	paxlst(body, sizeof(body), 2);
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/manifests?locations=A1", .cred = &w.repo, .body = body,
				.ctype = "application/edifact" },
		    &r);
	e2e_check_error(&r, 400, "invalid_query", "a PAXLST without ?port");
	e2e_resp_free(&r);

	/* the real thing: stored as an exit manifest, its gallery built, a match */
	e2e_request(&e2e_srv,
		    &(e2e_req){ .method = "POST", .path = "/v1/manifests?port=DEM&locations=A1", .cred = &w.repo,
				.body = body, .ctype = "application/edifact" },
		    &r);
	if (r.status != 201)
		fail_msg("PAXLST manifest: %ld %s", r.status, r.body);
	assert_string_equal(e2e_jstr(r.json, "direction"), "exit");
	assert_string_equal(e2e_jstr(r.json, "number"), "DA777");
	assert_int_equal(e2e_jint(r.json, "travelers"), 2);
	assert_int_equal(e2e_jint(r.json, "with_portraits"), 2);
	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)e2e_jint(r.json, "id"));
	e2e_resp_free(&r);
	json_decref(e2e_call(&e2e_srv, "POST", path, &w.admin, NULL, 200));
	j = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[1], -1, NULL);
	assert_string_equal(e2e_jstr(j, "decision"), "MATCH");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_with_mrz),
		cmocka_unit_test(test_paxlst_manifest),
	};
	return E2E_RUN("e2e_documents", tests, e2e_group_setup, e2e_group_teardown);
}
