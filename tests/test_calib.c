/*
 * Unit tests for calibration files (src/match/calib.c): a write/load round
 * trip is exact, malformed files are rejected with an error naming the
 * field, and the threshold lookups pick the documented point on small hand
 * cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/calib.h"
#include "tvs/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void sample(tvs_calib *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->model, TVS_MATCH_DEFAULT_MODEL);
	strcpy(c->score, TVS_CALIB_SCORE_COSINE);
	c->nverify = 2;
	c->verify[0] = (tvs_calib_verify_point){1e-3, 0.9123456789012345, 0.875, 0.00066666666666666664, 1};
	c->verify[1] = (tvs_calib_verify_point){1e-4, 0.95, 0.5, 0.0, 0};
	c->nident = 1;
	c->ident[0] = (tvs_calib_ident_point){1000, 1e-2, 0.93, 0.25, 1};
	c->dataset = strdup("LFW View 2, 6000 pairs");
	c->command = strdup("tvs eval pairs --pairs \"p q\"");
	assert_non_null(c->dataset);
	assert_non_null(c->command);
}

static void tmp_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/test_calib_%d.json", (int)getpid());
}

static void round_trip(void **state)
{
	tvs_calib a, b;
	char path[64];

	(void)state;
	sample(&a);
	tmp_path(path, sizeof(path));
	assert_int_equal(tvs_calib_write_json(&a, path), 0);
	assert_int_equal(tvs_calib_load_json(&b, path), 0);
	unlink(path);
	assert_string_equal(a.model, b.model);
	assert_string_equal(a.score, b.score);
	assert_string_equal(a.dataset, b.dataset);
	assert_string_equal(a.command, b.command);
	assert_int_equal(a.nverify, b.nverify);
	assert_int_equal(a.nident, b.nident);
	assert_memory_equal(a.verify, b.verify, a.nverify * sizeof(a.verify[0]));
	assert_memory_equal(a.ident, b.ident, a.nident * sizeof(a.ident[0]));
	tvs_calib_free(&a);
	tvs_calib_free(&b);
	tvs_calib_free(NULL);
}

static void write_rejects_invalid(void **state)
{
	tvs_calib a;
	char path[64];

	(void)state;
	tmp_path(path, sizeof(path));
	sample(&a);
	a.verify[0].threshold = 1.5;
	assert_int_equal(tvs_calib_write_json(&a, path), TVS_EINVAL);
	assert_non_null(strstr(tvs_errmsg(), "verify[0].threshold"));
	a.verify[0].threshold = NAN;
	assert_int_equal(tvs_calib_write_json(&a, path), TVS_EINVAL);
	a.verify[0].threshold = 0.5;
	a.model[0] = '\0';
	assert_int_equal(tvs_calib_write_json(&a, path), TVS_EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	tvs_calib_free(&a);
}

#define HEAD "{\"format\":\"tvs-calibration\",\"version\":1,\"score\":\"cosine\","
#define MODEL "\"model\":\"faceapi-resnet-v1\","
#define PT(t) "{\"target_fmr\":" t ",\"threshold\":0.5,\"tar\":0.9,\"fmr\":0.0005,\"resolvable\":true}"

/* buf must be rejected with code rc and a message containing want. */
static void expect_bad(const char *buf, int rc, const char *want)
{
	tvs_calib c;
	int got;

	tvs_err_clear();
	got = tvs_calib_load_buffer(&c, buf, strlen(buf));
	if (got != rc || !strstr(tvs_errmsg(), want)) {
		print_error("input %s\n  got %d '%s', want %d '...%s...'\n", buf, got, tvs_errmsg(), rc, want);
		fail();
	}
	assert_null(c.dataset);
	assert_int_equal(c.nverify, 0);
}

static void malformed(void **state)
{
	char many[8192];
	size_t n;
	tvs_calib c;
	const char *ok = HEAD MODEL "\"verify\":[" PT("0.001") "]}";

	(void)state;
	assert_int_equal(tvs_calib_load_buffer(&c, ok, strlen(ok)), 0);
	assert_int_equal(c.nverify, 1);
	tvs_calib_free(&c);

	expect_bad("", TVS_EFORMAT, "calibration: line");
	expect_bad(HEAD MODEL "\"verify\":[" PT("0.001"), TVS_EFORMAT, "calibration: line 1");
	expect_bad("[1,2]", TVS_EFORMAT, "top level: not an object");
	expect_bad(HEAD "\"verify\":[]}", TVS_EFORMAT, "model: missing");
	expect_bad(HEAD "\"model\":7,\"verify\":[]}", TVS_EFORMAT, "model: not a string");
	expect_bad(HEAD "\"model\":\"\",\"verify\":[]}", TVS_EFORMAT, "model: want 1..31");
	expect_bad(HEAD "\"model\":\"0123456789abcdef0123456789abcdef\",\"verify\":[]}", TVS_ETOOBIG, "model: longer");
	expect_bad(HEAD "\"model\":\"a b\",\"verify\":[]}", TVS_EFORMAT, "model: not printable");
	expect_bad(HEAD "\"model\":\"a\\u0000b\",\"verify\":[]}", TVS_EFORMAT, "calibration: line 1"); /* jansson refuses NUL */
	expect_bad(HEAD "\"model\":\"m\"}", TVS_EFORMAT, "verify: missing");
	expect_bad(HEAD MODEL "\"verify\":{}}", TVS_EFORMAT, "verify: not an array");
	expect_bad(HEAD MODEL "\"verify\":[3]}", TVS_EFORMAT, "verify[0]: not an object");
	expect_bad(HEAD MODEL "\"verify\":[" PT("0.001") "," PT("\"NaN\"") "]}", TVS_EFORMAT,
		   "verify[1].target_fmr: not a number");
	expect_bad(HEAD MODEL "\"verify\":[" PT("NaN") "]}", TVS_EFORMAT, "calibration: line 1");
	expect_bad(HEAD MODEL "\"verify\":[" PT("1e999") "]}", TVS_EFORMAT, "calibration: line 1");
	expect_bad(HEAD MODEL "\"verify\":[" PT("0") "]}", TVS_EFORMAT, "verify[0].target_fmr: 0 not in (0, 1)");
	expect_bad(HEAD MODEL "\"verify\":[" PT("1") "]}", TVS_EFORMAT, "verify[0].target_fmr");
	expect_bad(HEAD MODEL "\"verify\":[" PT("0.001") "," PT("0.001") "]}", TVS_EFORMAT,
		   "verify[1].target_fmr: repeats");
	expect_bad(HEAD MODEL "\"verify\":[{\"target_fmr\":0.001,\"threshold\":1.0001,\"tar\":0.9,\"fmr\":0,"
			      "\"resolvable\":true}]}",
		   TVS_EFORMAT, "verify[0].threshold: 1.0001 not in [-1, 1]");
	expect_bad(HEAD MODEL "\"verify\":[{\"target_fmr\":0.001,\"threshold\":\"0.5\",\"tar\":0.9,\"fmr\":0,"
			      "\"resolvable\":true}]}",
		   TVS_EFORMAT, "verify[0].threshold: not a number");
	expect_bad(HEAD MODEL "\"verify\":[{\"target_fmr\":0.001,\"threshold\":0.5,\"tar\":0.9,\"fmr\":0,"
			      "\"resolvable\":1}]}",
		   TVS_EFORMAT, "verify[0].resolvable: not a boolean");
	expect_bad(HEAD MODEL "\"verify\":[{\"target_fmr\":0.001,\"threshold\":0.5,\"tar\":0.9,"
			      "\"resolvable\":true}]}",
		   TVS_EFORMAT, "verify[0].fmr: missing");
	expect_bad(HEAD MODEL "\"verify\":[{\"target_fmr\":0.001,\"threshold\":0.5,\"tar\":0.9,\"fmr\":0,"
			      "\"resolvable\":true,\"x\":1}]}",
		   TVS_EFORMAT, "verify[0].x: unknown key");
	expect_bad(HEAD MODEL "\"verify\":[],\"extra\":1}", TVS_EFORMAT, "extra: unknown key");
	expect_bad(HEAD MODEL MODEL "\"verify\":[]}", TVS_EFORMAT, "duplicate");
	expect_bad("{\"format\":\"tvs-calibration\",\"version\":2,\"score\":\"cosine\"," MODEL "\"verify\":[]}",
		   TVS_EUNSUPPORTED, "version: 2");
	expect_bad("{\"format\":\"x\",\"version\":1,\"score\":\"cosine\"," MODEL "\"verify\":[]}", TVS_EFORMAT,
		   "format: want");
	expect_bad("{\"format\":\"tvs-calibration\",\"version\":1,\"score\":\"l2\"," MODEL "\"verify\":[]}",
		   TVS_EUNSUPPORTED, "score: want");
	expect_bad(HEAD MODEL "\"verify\":[],\"ident\":[{\"gallery_size\":0,\"target_fpir\":0.01,"
			      "\"threshold\":0.5,\"fnir\":0.1,\"resolvable\":true}]}",
		   TVS_EFORMAT, "ident[0].gallery_size: want");
	expect_bad(HEAD MODEL "\"verify\":[],\"ident\":[{\"gallery_size\":1.5,\"target_fpir\":0.01,"
			      "\"threshold\":0.5,\"fnir\":0.1,\"resolvable\":true}]}",
		   TVS_EFORMAT, "ident[0].gallery_size: not an integer");

	/* too many points */
	n = (size_t)snprintf(many, sizeof(many), HEAD MODEL "\"verify\":[");
	for (int i = 0; i <= TVS_CALIB_MAX_POINTS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{}", i ? "," : "");
	snprintf(many + n, sizeof(many) - n, "]}");
	expect_bad(many, TVS_ETOOBIG, "verify: 65 points");
}

static void too_big(void **state)
{
	size_t len = TVS_CALIB_FILE_MAX + 1;
	char *buf = malloc(len + 1);
	tvs_calib c;

	(void)state;
	assert_non_null(buf);
	memset(buf, ' ', len);
	buf[len] = '\0';
	assert_int_equal(tvs_calib_load_buffer(&c, buf, len), TVS_ETOOBIG);
	free(buf);
	assert_int_equal(tvs_calib_load_json(&c, "/nonexistent/calib.json"), TVS_ENOTFOUND);
}

static void lookup(void **state)
{
	tvs_calib c;
	double t = -9;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.nverify = 4;
	c.verify[0] = (tvs_calib_verify_point){1e-2, 0.80, 0.99, 0.009, 1};
	c.verify[1] = (tvs_calib_verify_point){1e-3, 0.88, 0.95, 0.0009, 1};
	c.verify[2] = (tvs_calib_verify_point){3e-3, 0.85, 0.97, 0.002, 1};
	c.verify[3] = (tvs_calib_verify_point){1e-4, 0.93, 0.80, 0.0, 0};
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 1e-3, &t), 0); /* exact */
	assert_true(t == 0.88);
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 5e-3, &t), 0); /* largest target below: 3e-3 */
	assert_true(t == 0.85);
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 0.5, &t), 0);
	assert_true(t == 0.80);
	t = -9;
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 1e-4, &t), TVS_ENOTFOUND); /* unresolvable */
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 5e-4, &t), TVS_ENOTFOUND);
	assert_true(t == -9);
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 0.0, &t), TVS_EINVAL);
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, NAN, &t), TVS_EINVAL);

	c.nident = 5;
	c.ident[0] = (tvs_calib_ident_point){100, 1e-2, 0.70, 0.1, 1};
	c.ident[1] = (tvs_calib_ident_point){1000, 1e-2, 0.75, 0.1, 1};
	c.ident[2] = (tvs_calib_ident_point){1000, 1e-3, 0.82, 0.2, 1};
	c.ident[3] = (tvs_calib_ident_point){5000, 1e-2, 0.78, 0.2, 1};
	c.ident[4] = (tvs_calib_ident_point){100, 1e-3, 0.80, 0.2, 0};
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 100, 1e-2, &t), 0);
	assert_true(t == 0.70);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 500, 1e-2, &t), 0); /* next larger gallery */
	assert_true(t == 0.75);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 500, 5e-3, &t), 0);
	assert_true(t == 0.82);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 100, 1e-3, &t), 0); /* 100 unresolvable: 1000 */
	assert_true(t == 0.82);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 2000, 1e-2, &t), 0);
	assert_true(t == 0.78);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 2000, 1e-3, &t), TVS_ENOTFOUND);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 6000, 1e-2, &t), TVS_ENOTFOUND);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 0, 1e-2, &t), TVS_EINVAL);
}

/* The shape of data/calibration/lfw-default.json: points at 420 and 1680
 * identities. A smaller gallery takes the 420 point, one between the two
 * the 1680 point, a larger one none. */
static void lookup_two_galleries(void **state)
{
	static const double target[3] = {1e-3, 3e-3, 1e-2};
	static const double t420[3] = {0.90, 0.89, 0.88}, t1680[3] = {0.95, 0.94, 0.93};
	tvs_calib c;
	double t;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 3; i++) {
		c.ident[c.nident++] = (tvs_calib_ident_point){420, target[i], t420[i], 0.5, 1};
		c.ident[c.nident++] = (tvs_calib_ident_point){1680, target[i], t1680[i], 0.6, 1};
	}
	static const size_t small[] = {1, 2, 100, 419, 420};
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		assert_int_equal(tvs_calib_threshold_for_fpir(&c, small[i], 3e-3, &t), 0);
		assert_true(t == 0.89);
	}
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 421, 3e-3, &t), 0);
	assert_true(t == 0.94);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 1680, 1e-2, &t), 0);
	assert_true(t == 0.93);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 200, 5e-3, &t), 0); /* 3e-3 is the largest below */
	assert_true(t == 0.89);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 200, 1.0, &t), 0);
	assert_true(t == 0.88);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 1681, 1e-2, &t), TVS_ENOTFOUND);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 100, 1e-4, &t), TVS_ENOTFOUND);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 100, -1.0, &t), TVS_EINVAL);
}

static void editing(void **state)
{
	tvs_calib c;
	char buf[256], *argv[] = {"ident", "--root", "a b", "it's", ""};

	(void)state;
	sample(&c);
	assert_int_equal(tvs_calib_check_model(&c, TVS_MATCH_DEFAULT_MODEL), 0);
	assert_int_equal(tvs_calib_check_model(&c, "arcface-r100-v2"), TVS_EMODEL);
	assert_non_null(strstr(tvs_errmsg(), "arcface-r100-v2"));
	assert_non_null(strstr(tvs_errmsg(), TVS_MATCH_DEFAULT_MODEL));

	/* ident points: the sizes given are replaced, the others kept */
	tvs_calib_ident_point p420[2] = {{420, 1e-3, 0.9, 0.7, 1}, {420, 1e-2, 0.8, 0.4, 1}};
	assert_int_equal(tvs_calib_set_ident(&c, p420, 2), 0);
	assert_int_equal(c.nident, 3);
	assert_int_equal(c.ident[0].gallery_size, 1000);
	assert_true(c.ident[2].threshold == 0.8);
	p420[0].threshold = 0.91;
	assert_int_equal(tvs_calib_set_ident(&c, p420, 1), 0);
	assert_int_equal(c.nident, 2);
	assert_true(c.ident[1].threshold == 0.91);
	tvs_calib_ident_point many[TVS_CALIB_MAX_POINTS];
	for (int i = 0; i < TVS_CALIB_MAX_POINTS; i++)
		many[i] = (tvs_calib_ident_point){(size_t)i + 1, 1e-3, 0.9, 0.5, 1};
	assert_int_equal(tvs_calib_set_ident(&c, many, TVS_CALIB_MAX_POINTS), TVS_ETOOBIG);
	assert_int_equal(c.nident, 2);

	/* sources: appended once each */
	assert_int_equal(tvs_calib_add_source(&c, "LFW 1:N gallery 420", "tvs eval ident --gallery-size 420"), 0);
	assert_int_equal(tvs_calib_add_source(&c, "LFW 1:N gallery 420", "tvs eval ident --gallery-size 420"), 0);
	assert_string_equal(c.dataset, "LFW View 2, 6000 pairs; LFW 1:N gallery 420");
	assert_string_equal(c.command, "tvs eval pairs --pairs \"p q\"\ntvs eval ident --gallery-size 420");
	assert_int_equal(tvs_calib_add_source(&c, "LFW", NULL), 0); /* "LFW" is a prefix, not a part */
	assert_string_equal(c.dataset, "LFW View 2, 6000 pairs; LFW 1:N gallery 420; LFW");
	char *big = malloc(TVS_CALIB_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', TVS_CALIB_TEXT_MAX + 1);
	big[TVS_CALIB_TEXT_MAX + 1] = '\0';
	assert_int_equal(tvs_calib_add_source(&c, "new", big), TVS_ETOOBIG);
	assert_string_equal(c.dataset, "LFW View 2, 6000 pairs; LFW 1:N gallery 420; LFW"); /* unchanged */
	free(big);
	tvs_calib_free(&c);
	memset(&c, 0, sizeof(c));
	assert_int_equal(tvs_calib_add_source(&c, "d", "c"), 0);
	assert_string_equal(c.dataset, "d");
	assert_string_equal(c.command, "c");
	tvs_calib_free(&c);

	/* updating a file: absent -> empty of the model; another model -> refused */
	char path[64];
	tmp_path(path, sizeof(path));
	unlink(path);
	assert_int_equal(tvs_calib_load_for_update(&c, path, TVS_MATCH_DEFAULT_MODEL), 0);
	assert_string_equal(c.model, TVS_MATCH_DEFAULT_MODEL);
	assert_string_equal(c.score, TVS_CALIB_SCORE_COSINE);
	assert_int_equal(c.nverify + c.nident, 0);
	assert_null(c.command);
	tvs_calib_free(&c);
	sample(&c);
	strcpy(c.model, "arcface-r100-v2");
	assert_int_equal(tvs_calib_write_json(&c, path), 0);
	tvs_calib_free(&c);
	assert_int_equal(tvs_calib_load_for_update(&c, path, TVS_MATCH_DEFAULT_MODEL), TVS_EMODEL);
	assert_non_null(strstr(tvs_errmsg(), "arcface-r100-v2"));
	assert_null(c.dataset);
	assert_int_equal(tvs_calib_load_for_update(&c, path, "arcface-r100-v2"), 0);
	assert_int_equal(c.nident, 1);
	tvs_calib_free(&c);
	unlink(path);

	tvs_calib_format_command("tvs eval", 5, argv, buf, sizeof(buf));
	assert_string_equal(buf, "tvs eval ident --root 'a b' 'it'\\''s' ''");
	tvs_calib_format_command("tvs eval", 5, argv, buf, 12);
	assert_string_equal(buf, "tvs eval...");
}

/* The calibration the repository ships loads, is of the default model, and
 * resolves what the service asks: FMR 1e-3, and FPIR 0.003 on a gallery
 * below 420 (the 420 point), up to 1680 (the 1680 point) and beyond (none). */
static void shipped_file(void **state)
{
	tvs_calib c;
	double t, t420 = NAN, t1680 = NAN;
	int rc;

	(void)state;
	rc = tvs_calib_load_json(&c, "data/calibration/lfw-default.json");
	if (rc == TVS_ENOTFOUND)
		skip(); /* not run from the repository root */
	assert_int_equal(rc, 0);
	assert_int_equal(tvs_calib_check_model(&c, TVS_MATCH_DEFAULT_MODEL), 0);
	assert_int_equal(tvs_calib_threshold_for_fmr(&c, 1e-3, &t), 0);
	for (size_t i = 0; i < c.nident; i++) {
		if (c.ident[i].target_fpir == 3e-3 && c.ident[i].gallery_size == 420)
			t420 = c.ident[i].threshold;
		if (c.ident[i].target_fpir == 3e-3 && c.ident[i].gallery_size == 1680)
			t1680 = c.ident[i].threshold;
	}
	assert_true(isfinite(t420) && isfinite(t1680) && t1680 >= t420);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 50, 3e-3, &t), 0);
	assert_true(t == t420);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 1000, 3e-3, &t), 0);
	assert_true(t == t1680);
	assert_int_equal(tvs_calib_threshold_for_fpir(&c, 1681, 3e-3, &t), TVS_ENOTFOUND);
	tvs_calib_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(write_rejects_invalid),
		cmocka_unit_test(malformed),
		cmocka_unit_test(too_big),
		cmocka_unit_test(lookup),
		cmocka_unit_test(lookup_two_galleries),
		cmocka_unit_test(editing),
		cmocka_unit_test(shipped_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
