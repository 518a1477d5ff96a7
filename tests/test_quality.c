/*
 * Unit tests for the quality gate (src/face/quality.c).
 *
 * The synthetic group builds images and 68-point landmark sets by hand, so
 * every expected value is known exactly: roll and eye distance of a rotated
 * template, yaw from a shifted nose tip, the BT.601 luma of a flat colour,
 * the sharpness ordering sharp > blurred > flat and its invariance to gain
 * and to face size, each reason on its own, the order in which reasons win,
 * the bystander rule and bad arguments.
 *
 * The engine group (skipped with a message when models/model is absent) runs
 * the real detector and landmarks on the demo photos: every face there is
 * either OK or turned/tilted too far (POSE), one face cut out of sample6
 * passes, and its blurred and darkened copies fail BLURRED and TOO_DARK.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/img.h"
#include "tvs/quality.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODELS "models/model"
#define MAXF 32

/* |a - b| <= eps, in double, with both values in the message. */
#define assert_near(a, b, eps) assert_near_((a), (b), (eps), #a, __FILE__, __LINE__)
static void assert_near_(double a, double b, double eps, const char *expr, const char *file, int line)
{
	if (!(fabs(a - b) <= eps)) {
		print_error("%s = %.12g, want %.12g +- %g\n", expr, a, b, eps);
		_fail(file, line);
	}
}

/* ------------------------------------------------------------ synthetic faces */

/* A frontal 68-point template in eye-distance units: origin at the eye
 * midpoint, y down, eye centres exactly at (-0.5, 0) and (0.5, 0), nose tip
 * (30) at (0, 0.5). Bounding box [-1.05, 1.05] x [-0.35, 1.35]. */
static void template68(double t[68][2])
{
	static const double eye[6][2] = {{-0.2, 0},   {-0.1, -0.07}, {0.1, -0.07},
					 {0.2, 0},    {0.1, 0.07},   {-0.1, 0.07}};

	for (int k = 0; k <= 16; k++) {
		double a = M_PI * k / 16;
		t[k][0] = -1.05 * cos(a);
		t[k][1] = 0.1 + 1.25 * sin(a);
	}
	for (int k = 0; k < 5; k++) {
		t[17 + k][0] = -0.9 + 0.1875 * k, t[17 + k][1] = -0.35;
		t[22 + k][0] = 0.15 + 0.1875 * k, t[22 + k][1] = -0.35;
	}
	for (int k = 0; k < 4; k++)
		t[27 + k][0] = 0, t[27 + k][1] = -0.1 + 0.2 * k;
	for (int k = 0; k < 5; k++)
		t[31 + k][0] = -0.2 + 0.1 * k, t[31 + k][1] = 0.6;
	for (int k = 0; k < 6; k++) {
		t[36 + k][0] = -0.5 + eye[k][0], t[36 + k][1] = eye[k][1];
		t[42 + k][0] = 0.5 + eye[k][0], t[42 + k][1] = eye[k][1];
	}
	for (int k = 0; k < 12; k++) {
		double a = 2 * M_PI * k / 12;
		t[48 + k][0] = -0.4 * cos(a), t[48 + k][1] = 0.95 + 0.15 * sin(a);
	}
	for (int k = 0; k < 8; k++) {
		double a = 2 * M_PI * k / 8;
		t[60 + k][0] = -0.25 * cos(a), t[60 + k][1] = 0.95 + 0.05 * sin(a);
	}
}

/* A face with its eye midpoint at (cx, cy), eye distance iod px, the eye
 * line rotated by roll degrees (clockwise on screen) and the nose shifted
 * along the eye line by nose_shift eye distances. The box is the template's
 * bounding box. */
static tvs_face make_face(double cx, double cy, double iod, double roll, double nose_shift, float score)
{
	tvs_face f;
	double t[68][2], c = cos(roll * M_PI / 180), s = sin(roll * M_PI / 180);

	memset(&f, 0, sizeof(f));
	template68(t);
	for (int k = 27; k <= 35; k++)
		t[k][0] += nose_shift;
	for (int k = 0; k < 68; k++) {
		f.landmarks[k][0] = cx + iod * (c * t[k][0] - s * t[k][1]);
		f.landmarks[k][1] = cy + iod * (s * t[k][0] + c * t[k][1]);
	}
	f.box[0] = cx - 1.05 * iod, f.box[1] = cy - 0.35 * iod;
	f.box[2] = 2.1 * iod, f.box[3] = 1.7 * iod;
	f.has_landmarks = 1;
	f.score = score;
	return f;
}

static void fill(tvs_image *im, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
	assert_int_equal(tvs_image_alloc(im, w, h), 0);
	for (size_t i = 0; i < (size_t)w * h; i++)
		im->rgb[3 * i] = r, im->rgb[3 * i + 1] = g, im->rgb[3 * i + 2] = b;
}

/* Grey checkerboard of square side sq px, phase from (ox, oy), levels lo/hi. */
static void checker(tvs_image *im, int w, int h, double ox, double oy, double sq, uint8_t lo, uint8_t hi)
{
	assert_int_equal(tvs_image_alloc(im, w, h), 0);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			long a = (long)floor((x - ox) / sq) + (long)floor((y - oy) / sq);
			uint8_t v = (a & 1) ? hi : lo;
			uint8_t *p = im->rgb + 3 * ((size_t)y * w + x);
			p[0] = p[1] = p[2] = v;
		}
}

/* Grey diagonal ramp from lo (top left) to hi (bottom right): shading
 * without detail, what a face blurred beyond recognition leaves. */
static void ramp(tvs_image *im, int w, int h, uint8_t lo, uint8_t hi)
{
	assert_int_equal(tvs_image_alloc(im, w, h), 0);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *p = im->rgb + 3 * ((size_t)y * w + x);
			p[0] = p[1] = p[2] = (uint8_t)lrint(lo + (hi - lo) * (x + y) / (double)(w + h - 2));
		}
}

/* Deterministic grey noise, uniform in [lo, hi]: detail at every scale. */
static void noise(tvs_image *im, int w, int h, uint8_t lo, uint8_t hi)
{
	uint64_t st = 0x9e3779b97f4a7c15ull;

	assert_int_equal(tvs_image_alloc(im, w, h), 0);
	for (size_t i = 0; i < (size_t)w * h; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		uint8_t v = (uint8_t)(lo + (st >> 33) % (unsigned)(hi - lo + 1));
		im->rgb[3 * i] = im->rgb[3 * i + 1] = im->rgb[3 * i + 2] = v;
	}
}

/* One (2r+1) box pass along a line of n values spaced by step (edges
 * clamped), from src into dst, by a running sum. */
static void box_line(const float *src, float *dst, int n, size_t step, int r)
{
	float s = 0;

	for (int k = -r; k <= r; k++)
		s += src[(size_t)(k < 0 ? 0 : k >= n ? n - 1 : k) * step];
	for (int x = 0; x < n; x++) {
		int add = x + r + 1, sub = x - r;
		dst[(size_t)x * step] = s / (2 * r + 1);
		s += src[(size_t)(add >= n ? n - 1 : add) * step] - src[(size_t)(sub < 0 ? 0 : sub) * step];
	}
}

/* In place: three passes of a (2r+1) box blur each way, ~Gaussian with
 * sigma = sqrt(r(r+1)). */
static void blur(tvs_image *im, int r)
{
	int w = im->width, h = im->height;
	size_t n = (size_t)w * h * 3;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));

	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		a[i] = im->rgb[i];
	for (int pass = 0; pass < 3; pass++) {
		for (int y = 0; y < h; y++)
			for (int ch = 0; ch < 3; ch++)
				box_line(a + (size_t)y * w * 3 + ch, b + (size_t)y * w * 3 + ch, w, 3, r);
		for (int x = 0; x < w; x++)
			for (int ch = 0; ch < 3; ch++)
				box_line(b + (size_t)x * 3 + ch, a + (size_t)x * 3 + ch, h, (size_t)w * 3, r);
	}
	for (size_t i = 0; i < n; i++)
		im->rgb[i] = (uint8_t)lrintf(a[i]);
	free(a);
	free(b);
}

static void scale_pixels(tvs_image *im, double gain)
{
	for (size_t i = 0; i < (size_t)im->width * im->height * 3; i++)
		im->rgb[i] = (uint8_t)lrint(fmin(255, im->rgb[i] * gain));
}

static int assess(const tvs_image *im, const tvs_face *f, int n, tvs_quality *q)
{
	tvs_quality_config c;

	tvs_quality_default_config(&c);
	assert_int_equal(tvs_quality_assess(&c, im, f, n, q), 0);
	return q->reason;
}

/* ------------------------------------------------------------ synthetic tests */

static void test_reason_names(void **state)
{
	static const char *const want[] = {"OK",   "NO_FACE", "MULTIPLE_FACES", "TOO_SMALL",     "POSE",
					   "BLURRED", "TOO_DARK", "TOO_BRIGHT",    "LOW_CONFIDENCE"};
	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), TVS_Q_REASONS);
	for (int i = 0; i < TVS_Q_REASONS; i++)
		assert_string_equal(tvs_quality_reason_name(i), want[i]);
	assert_string_equal(tvs_quality_reason_name(-1), "UNKNOWN");
	assert_string_equal(tvs_quality_reason_name(TVS_Q_REASONS), "UNKNOWN");
}

static void test_defaults_sane(void **state)
{
	tvs_quality_config c;
	(void)state;
	memset(&c, 0xff, sizeof(c));
	tvs_quality_default_config(&c);
	assert_true(c.min_eye_distance_px >= 20 && c.min_eye_distance_px <= 60);
	assert_true(c.second_face_ratio > 0 && c.second_face_ratio <= 1);
	assert_true(c.max_yaw > 0 && c.max_yaw < 90 && c.max_roll > 0 && c.max_roll < 90);
	assert_true(c.min_sharpness > 0);
	assert_true(c.min_brightness > 0 && c.min_brightness < c.max_brightness && c.max_brightness < 255);
	assert_true(c.min_score >= 0 && c.min_score < 1);
}

/* Roll and eye distance of a rotated template are exact; yaw is unmoved. */
static void test_roll_exact(void **state)
{
	static const double rolls[] = {-45, -30, -7.5, 0, 12.5, 30, 89};
	tvs_image im;
	(void)state;
	fill(&im, 400, 400, 128, 128, 128);
	for (size_t i = 0; i < sizeof(rolls) / sizeof(rolls[0]); i++) {
		tvs_face f = make_face(200, 180, 60, rolls[i], 0.1, 0.9f);
		tvs_quality q;
		assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
		assert_near(q.roll_deg, rolls[i], 1e-9);
		assert_near(q.eye_distance_px, 60, 1e-9);
		assert_near(q.yaw_deg, atan(0.1 / 0.45) * 180 / M_PI, 1e-9);
	}
	/* eyes swapped (face upside down): roll near 180, POSE */
	tvs_face f = make_face(200, 180, 60, 180, 0, 0.9f);
	tvs_quality q;
	assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
	assert_near(fabs(q.roll_deg), 180, 1e-9);
	tvs_image_free(&im);
}

/* yaw = atan(shift / 0.45): positive toward the image right. */
static void test_yaw_formula(void **state)
{
	static const double yaws[] = {-60, -30, -10, 0, 5, 20, 45};
	tvs_image im;
	(void)state;
	fill(&im, 400, 400, 128, 128, 128);
	for (size_t i = 0; i < sizeof(yaws) / sizeof(yaws[0]); i++) {
		double shift = 0.45 * tan(yaws[i] * M_PI / 180);
		tvs_face f = make_face(200, 180, 80, 0, shift, 0.9f);
		tvs_face g = make_face(200, 180, 80, 25, shift, 0.9f); /* same turn, head tilted */
		tvs_quality q, r;
		assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
		assert_int_equal(tvs_quality_measure(&im, &g, &r), 0);
		assert_near(q.yaw_deg, yaws[i], 1e-9);
		assert_near(r.yaw_deg, yaws[i], 1e-9);
	}
	tvs_image_free(&im);
}

static void test_brightness_flat(void **state)
{
	tvs_image im;
	tvs_quality q;
	tvs_face f = make_face(100, 80, 40, 0, 0, 0.9f);
	(void)state;
	fill(&im, 200, 200, 200, 100, 50);
	assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
	assert_near(q.brightness, 0.299 * 200 + 0.587 * 100 + 0.114 * 50, 1e-3);
	assert_near(q.contrast, 0, 1e-3);
	assert_near(q.sharpness, 0, 0); /* nothing to see */
	assert_near(q.score, 0.9, 1e-6);
	assert_near(q.face_width_px, 84, 1e-9);
	tvs_image_free(&im);
	fill(&im, 200, 200, 10, 10, 10);
	assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
	assert_near(q.brightness, 10, 1e-3);
	tvs_image_free(&im);
	fill(&im, 200, 200, 250, 250, 250);
	assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
	assert_near(q.brightness, 250, 1e-3);
	tvs_image_free(&im);
}

static double sharpness_of(const tvs_image *im, const tvs_face *f)
{
	tvs_quality q;
	assert_int_equal(tvs_quality_measure(im, f, &q), 0);
	return q.sharpness;
}

/* noise > the same noise blurred > more blurred > smooth shading > a flat
 * image; unchanged by gain. */
static void test_sharpness_ordering(void **state)
{
	tvs_image sharp, soft, softer, shading, flat, dim;
	tvs_face f = make_face(160, 120, 80, 0, 0, 0.9f); /* region 168 x 136 px */
	double s_sharp, s_soft, s_softer, s_shading, s_flat, s_dim;
	(void)state;
	noise(&sharp, 320, 320, 60, 190);
	noise(&soft, 320, 320, 60, 190);
	noise(&softer, 320, 320, 60, 190);
	checker(&dim, 320, 320, 0, 0, 12, 12, 38); /* a two-level pattern and ... */
	checker(&flat, 320, 320, 0, 0, 12, 60, 190); /* ... the same x5 */
	blur(&soft, 2);
	blur(&softer, 6);
	ramp(&shading, 320, 320, 40, 220);
	s_dim = sharpness_of(&dim, &f) / sharpness_of(&flat, &f);
	tvs_image_free(&flat);
	fill(&flat, 320, 320, 125, 125, 125);
	s_sharp = sharpness_of(&sharp, &f);
	s_soft = sharpness_of(&soft, &f);
	s_softer = sharpness_of(&softer, &f);
	s_shading = sharpness_of(&shading, &f);
	s_flat = sharpness_of(&flat, &f);
	assert_true(s_sharp > s_soft);
	assert_true(s_soft > s_softer);
	assert_true(s_softer > s_shading);
	assert_true(s_shading > s_flat);
	assert_near(s_flat, 0, 0);
	assert_near(s_dim, 1, 1e-3);
	tvs_quality_config c;
	tvs_quality_default_config(&c);
	assert_true(s_sharp > c.min_sharpness);
	assert_true(s_shading < c.min_sharpness);
	tvs_image_free(&shading);
	tvs_image_free(&sharp);
	tvs_image_free(&soft);
	tvs_image_free(&softer);
	tvs_image_free(&flat);
	tvs_image_free(&dim);
}

/* The same scene at twice the resolution scores about the same. */
static void test_sharpness_scale_normalised(void **state)
{
	tvs_image a, b;
	tvs_face fa = make_face(128, 100, 64, 0, 0, 0.9f), fb = make_face(256, 200, 128, 0, 0, 0.9f);
	(void)state;
	/* squares of 1/8 eye distance, phase tied to the face region */
	checker(&a, 256, 256, fa.landmarks[0][0], 0, 8, 70, 170);
	checker(&b, 512, 512, fb.landmarks[0][0], 0, 16, 70, 170);
	blur(&a, 1);
	blur(&b, 2);
	double sa = sharpness_of(&a, &fa), sb = sharpness_of(&b, &fb);
	assert_true(fabs(sa - sb) < 0.15 * sa);
	tvs_image_free(&a);
	tvs_image_free(&b);
}

/* A face region partly outside the image is clipped, not an error. */
static void test_clipped_region(void **state)
{
	tvs_image im;
	tvs_face f = make_face(20, 30, 60, 0, 0, 0.9f);
	tvs_quality q;
	(void)state;
	fill(&im, 100, 100, 90, 90, 90);
	assert_int_equal(tvs_quality_measure(&im, &f, &q), 0);
	assert_near(q.brightness, 90, 1e-3);
	/* wholly outside: an error */
	f = make_face(500, 500, 60, 0, 0, 0.9f);
	assert_int_equal(tvs_quality_measure(&im, &f, &q), TVS_EINVAL);
	tvs_image_free(&im);
}

/* A textured scene at the given luma mean/swing and a face in it. */
static void scene(tvs_image *im, uint8_t lo, uint8_t hi)
{
	checker(im, 400, 400, 0, 0, 6, lo, hi);
}

static void test_each_reason(void **state)
{
	tvs_image good, dark, bright, soft;
	tvs_quality q;
	tvs_face f;
	(void)state;
	scene(&good, 70, 190);
	scene(&dark, 10, 40);
	scene(&bright, 215, 250);
	ramp(&soft, 400, 400, 40, 220);

	f = make_face(200, 150, 80, 3, 0.02, 0.95f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_OK);
	assert_int_equal(q.primary, 0);
	assert_int_equal(q.nfaces, 1);
	assert_int_equal(assess(&good, NULL, 0, &q), TVS_Q_NO_FACE);
	assert_int_equal(q.primary, -1);
	assert_int_equal(q.nfaces, 0);
	assert_int_equal(assess(&dark, &f, 1, &q), TVS_Q_TOO_DARK);
	assert_int_equal(assess(&bright, &f, 1, &q), TVS_Q_TOO_BRIGHT);
	assert_int_equal(assess(&soft, &f, 1, &q), TVS_Q_BLURRED);

	f = make_face(200, 150, 20, 0, 0, 0.95f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_TOO_SMALL);
	f = make_face(200, 150, 80, 35, 0, 0.95f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_POSE);
	f = make_face(200, 150, 80, 0, 0.45 * tan(40 * M_PI / 180), 0.95f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_POSE);
	f = make_face(200, 150, 80, 0, -0.45 * tan(40 * M_PI / 180), 0.95f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_POSE);
	f = make_face(200, 150, 80, 0, 0, 0.2f);
	assert_int_equal(assess(&good, &f, 1, &q), TVS_Q_LOW_CONFIDENCE);

	/* thresholds come from the config */
	tvs_quality_config c;
	tvs_quality_default_config(&c);
	c.min_score = 0.1;
	assert_int_equal(tvs_quality_assess(&c, &good, &f, 1, &q), 0);
	assert_int_equal(q.reason, TVS_Q_OK);
	c.min_eye_distance_px = 81;
	assert_int_equal(tvs_quality_assess(&c, &good, &f, 1, &q), 0);
	assert_int_equal(q.reason, TVS_Q_TOO_SMALL);
	/* NULL config: the defaults */
	f = make_face(200, 150, 20, 0, 0, 0.95f);
	assert_int_equal(tvs_quality_assess(NULL, &good, &f, 1, &q), 0);
	assert_int_equal(q.reason, TVS_Q_TOO_SMALL);

	tvs_image_free(&good);
	tvs_image_free(&dark);
	tvs_image_free(&bright);
	tvs_image_free(&soft);
}

/* With several failures the first in enum order wins, and every measure is
 * filled all the same. */
static void test_reason_order(void **state)
{
	tvs_image dark, darksoft;
	tvs_quality q;
	tvs_face f[2];
	(void)state;
	scene(&dark, 10, 40);
	ramp(&darksoft, 400, 400, 5, 60);

	/* small + tilted + dark + low score: TOO_SMALL */
	f[0] = make_face(200, 150, 20, 40, 0, 0.1f);
	assert_int_equal(assess(&dark, f, 1, &q), TVS_Q_TOO_SMALL);
	assert_near(q.roll_deg, 40, 1e-9);
	assert_true(q.brightness < 40);
	/* tilted + blurred + dark: POSE */
	f[0] = make_face(200, 150, 80, 40, 0, 0.1f);
	assert_int_equal(assess(&darksoft, f, 1, &q), TVS_Q_POSE);
	/* blurred + dark + low score: BLURRED */
	f[0] = make_face(200, 150, 80, 0, 0, 0.1f);
	assert_int_equal(assess(&darksoft, f, 1, &q), TVS_Q_BLURRED);
	/* dark + low score: TOO_DARK */
	assert_int_equal(assess(&dark, f, 1, &q), TVS_Q_TOO_DARK);
	/* a second face nearly as large, and the primary small and dark:
	 * MULTIPLE_FACES, still measured */
	f[0] = make_face(200, 150, 20, 0, 0, 0.9f);
	f[1] = make_face(100, 100, 19, 0, 0, 0.9f);
	assert_int_equal(assess(&dark, f, 2, &q), TVS_Q_MULTIPLE_FACES);
	assert_int_equal(q.primary, 0);
	assert_near(q.eye_distance_px, 20, 1e-9);
	tvs_image_free(&dark);
	tvs_image_free(&darksoft);
}

static void test_multiple_faces_rule(void **state)
{
	tvs_image im;
	tvs_quality q;
	tvs_face f[3];
	tvs_quality_config c;
	(void)state;
	scene(&im, 70, 190);
	tvs_quality_default_config(&c);

	/* the primary is the largest wherever it is listed */
	f[0] = make_face(80, 80, 20, 0, 0, 0.99f);   /* bystander far behind */
	f[1] = make_face(220, 200, 80, 0, 0, 0.9f);  /* traveller */
	assert_int_equal(assess(&im, f, 2, &q), TVS_Q_OK);
	assert_int_equal(q.primary, 1);
	assert_int_equal(q.nfaces, 2);
	assert_near(q.eye_distance_px, 80, 1e-9);

	/* just below and at the ratio */
	double w = c.second_face_ratio * 80;
	f[0] = make_face(80, 80, w * 0.99, 0, 0, 0.99f);
	assert_int_equal(assess(&im, f, 2, &q), TVS_Q_OK);
	f[0] = make_face(80, 80, w * 1.001, 0, 0, 0.99f);
	assert_int_equal(assess(&im, f, 2, &q), TVS_Q_MULTIPLE_FACES);
	assert_int_equal(q.primary, 1);

	/* a third face: any one at the ratio is enough */
	f[0] = make_face(80, 80, 10, 0, 0, 0.99f);
	f[2] = make_face(330, 80, 75, 0, 0, 0.99f);
	assert_int_equal(assess(&im, f, 3, &q), TVS_Q_MULTIPLE_FACES);
	c.second_face_ratio = 0.95;
	assert_int_equal(tvs_quality_assess(&c, &im, f, 3, &q), 0);
	assert_int_equal(q.reason, TVS_Q_OK);

	/* other faces need no landmarks */
	f[0].has_landmarks = 0;
	assert_int_equal(tvs_quality_assess(&c, &im, f, 2, &q), 0);
	assert_int_equal(q.reason, TVS_Q_OK);
	tvs_image_free(&im);
}

static void test_bad_arguments(void **state)
{
	tvs_image im, empty = {0};
	tvs_quality q;
	tvs_quality_config c;
	tvs_face f = make_face(100, 80, 40, 0, 0, 0.9f);
	(void)state;
	fill(&im, 200, 200, 100, 100, 100);
	tvs_quality_default_config(&c);

	assert_int_equal(tvs_quality_measure(NULL, &f, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_measure(&empty, &f, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_measure(&im, NULL, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_measure(&im, &f, NULL), TVS_EINVAL);
	assert_int_equal(tvs_quality_assess(&c, NULL, &f, 1, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_assess(&c, &im, &f, 1, NULL), TVS_EINVAL);
	assert_int_equal(tvs_quality_assess(&c, &im, NULL, 1, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_assess(&c, &im, &f, -1, &q), TVS_EINVAL);

	tvs_face g = f;
	g.has_landmarks = 0;
	assert_int_equal(tvs_quality_measure(&im, &g, &q), TVS_EINVAL);
	assert_int_equal(tvs_quality_assess(&c, &im, &g, 1, &q), TVS_EINVAL);
	g = f;
	g.landmarks[40][1] = NAN;
	assert_int_equal(tvs_quality_measure(&im, &g, &q), TVS_EINVAL);
	assert_true(strlen(tvs_errmsg()) > 0);
	g = f;
	g.landmarks[3][0] = INFINITY;
	assert_int_equal(tvs_quality_measure(&im, &g, &q), TVS_EINVAL);

	c.max_yaw = NAN;
	assert_int_equal(tvs_quality_assess(&c, &im, &f, 1, &q), TVS_EINVAL);
	tvs_quality_default_config(&c);
	c.second_face_ratio = 0;
	assert_int_equal(tvs_quality_assess(&c, &im, &f, 1, &q), TVS_EINVAL);
	tvs_image_free(&im);
}

/* ------------------------------------------------------------ engine tests */

static tvs_face_engine_t *eng;
static tvs_face_ctx_t *ctx;

static int engine_setup(void **state)
{
	tvs_face_config cfg;
	(void)state;
	tvs_face_default_config(&cfg);
	cfg.model_dir = MODELS;
	if (tvs_face_engine_create(&eng, &cfg) || tvs_face_ctx_create(&ctx, eng))
		return -1;
	return 0;
}

static int engine_teardown(void **state)
{
	(void)state;
	tvs_face_ctx_destroy(ctx);
	tvs_face_engine_destroy(eng);
	return 0;
}

/* Detect and landmark every face of im. */
static int find_faces(const tvs_image *im, tvs_face *f)
{
	int n = 0;
	assert_int_equal(tvs_face_detect(ctx, im, f, MAXF, &n), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(tvs_face_landmarks(ctx, im, &f[i]), 0);
	return n;
}

/* The demo photos are group shots: as a whole each is MULTIPLE_FACES; face
 * by face, each is OK or (heads tilted up to 43 degrees, one profile) POSE,
 * never a photometric failure. */
static void test_demo_faces(void **state)
{
	static tvs_face f[MAXF];
	int ok = 0, total = 0;
	(void)state;
	for (int s = 1; s <= 6; s++) {
		char path[64];
		tvs_image im = {0};
		tvs_quality q;
		snprintf(path, sizeof(path), "models/demo/sample%d.jpg", s);
		assert_int_equal(tvs_img_read_file(path, NULL, &im), 0);
		int n = find_faces(&im, f);
		assert_true(n >= 3);
		assert_int_equal(assess(&im, f, n, &q), TVS_Q_MULTIPLE_FACES);
		for (int i = 0; i < n; i++) {
			int r = assess(&im, &f[i], 1, &q);
			if (r != TVS_Q_OK && r != TVS_Q_POSE)
				print_error("sample%d face %d: %s (sharpness %.3f brightness %.1f eyes %.1f)\n", s, i,
					    tvs_quality_reason_name(r), q.sharpness, q.brightness, q.eye_distance_px);
			assert_true(r == TVS_Q_OK || r == TVS_Q_POSE);
			assert_true(q.sharpness > 0.2);
			assert_true(q.brightness > 50 && q.brightness < 180);
			ok += r == TVS_Q_OK;
			total++;
		}
		tvs_image_free(&im);
	}
	assert_int_equal(total, 22);
	assert_true(ok >= 12);
}

/* A copy of [x, x+w) x [y, y+h) of src. */
static void crop(const tvs_image *src, int x, int y, int w, int h, tvs_image *out)
{
	assert_true(x >= 0 && y >= 0 && x + w <= src->width && y + h <= src->height);
	assert_int_equal(tvs_image_alloc(out, w, h), 0);
	for (int j = 0; j < h; j++)
		memcpy(out->rgb + (size_t)3 * j * w, src->rgb + 3 * ((size_t)(y + j) * src->width + x), (size_t)3 * w);
}

/* Detect every face of im, take the one whose box centre is nearest (cx,
 * cy) and put the gate's verdict on it alone into *q. */
static int assess_near(const tvs_image *im, double cx, double cy, tvs_quality *q)
{
	static tvs_face f[MAXF];
	int n = find_faces(im, f), best = -1;
	double bd = INFINITY;

	for (int i = 0; i < n; i++) {
		double d = hypot(f[i].box[0] + f[i].box[2] / 2 - cx, f[i].box[1] + f[i].box[3] / 2 - cy);
		if (d < bd)
			bd = d, best = i;
	}
	assert_true(best >= 0);
	if (!(bd < 0.3 * f[best].box[2]))
		print_error("nearest face of %d at %.1f px from (%.0f, %.0f), box width %.1f\n", n, bd, cx, cy,
			    f[best].box[2]);
	assert_true(bd < 0.3 * f[best].box[2]);
	return assess(im, &f[best], 1, q);
}

/* The frontal face of sample6 (eye distance ~98 px, box centre ~(1274,
 * 444)) through the real detector and landmarks: alone in a crop it passes
 * the whole gate; in degraded copies of the photo it fails for the right
 * reason. */
static void test_engine_degraded(void **state)
{
	static tvs_face f[MAXF];
	const double cx = 1274, cy = 444;
	tvs_image full = {0}, work;
	tvs_quality q;
	int n;
	(void)state;
	assert_int_equal(tvs_img_read_file("models/demo/sample6.jpg", NULL, &full), 0);

	crop(&full, 1060, 180, 400, 500, &work);
	n = find_faces(&work, f);
	assert_int_equal(n, 1);
	assert_int_equal(assess(&work, f, n, &q), TVS_Q_OK);
	tvs_image_free(&work);

	assert_int_equal(assess_near(&full, cx, cy, &q), TVS_Q_OK);
	double iod = q.eye_distance_px;
	assert_true(iod > 80);

	/* sigma = sqrt(20) ~ 0.046 x eye distance: the descriptor drifts by
	 * ~0.3 at this blur. (Much heavier blur and the landmark net collapses:
	 * the eye distance shrinks and TOO_SMALL or POSE, which come first,
	 * are reported.) */
	crop(&full, 0, 0, full.width, full.height, &work);
	blur(&work, 4);
	assert_int_equal(assess_near(&work, cx, cy, &q), TVS_Q_BLURRED);
	tvs_image_free(&work);

	crop(&full, 0, 0, full.width, full.height, &work);
	scale_pixels(&work, 0.2);
	assert_int_equal(assess_near(&work, cx, cy, &q), TVS_Q_TOO_DARK);
	tvs_image_free(&work);

	/* washed out: 255 - (255 - v) / 4 */
	crop(&full, 0, 0, full.width, full.height, &work);
	for (size_t i = 0; i < (size_t)work.width * work.height * 3; i++)
		work.rgb[i] = (uint8_t)(255 - (255 - work.rgb[i]) / 4);
	assert_int_equal(assess_near(&work, cx, cy, &q), TVS_Q_TOO_BRIGHT);
	tvs_image_free(&work);

	/* downscaled x0.25 by 4x4 averaging (eye distance ~25 px) */
	int w = full.width / 4, h = full.height / 4;
	assert_int_equal(tvs_image_alloc(&work, w, h), 0);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int ch = 0; ch < 3; ch++) {
				int sum = 0;
				for (int k = 0; k < 16; k++)
					sum += full.rgb[3 * ((size_t)(4 * y + k / 4) * full.width + 4 * x + k % 4) + ch];
				work.rgb[3 * ((size_t)y * w + x) + ch] = (uint8_t)((sum + 8) / 16);
			}
	assert_int_equal(assess_near(&work, cx / 4, cy / 4, &q), TVS_Q_TOO_SMALL);
	tvs_image_free(&work);
	tvs_image_free(&full);
}

/* Each demo face cut ICAO-style (1.5x its box, 360x450, the face filling
 * most of the frame): the SSD alone misses several, the padded retry finds
 * all but a few, its boxes land on the face in the crop's own coordinates,
 * and where the plain detector already succeeds the retry changes nothing. */
static void test_padded_detection(void **state)
{
	static tvs_face f[MAXF], g[4], h[4];
	int total = 0, plain_miss = 0, padded_miss = 0;
	(void)state;
	for (int s = 1; s <= 6; s++) {
		char path[64];
		tvs_image im = {0};
		snprintf(path, sizeof(path), "models/demo/sample%d.jpg", s);
		assert_int_equal(tvs_img_read_file(path, NULL, &im), 0);
		int n = 0;
		assert_int_equal(tvs_face_detect(ctx, &im, f, MAXF, &n), 0);
		for (int i = 0; i < n; i++, total++) {
			const double *b = f[i].box;
			double side = 1.5 * (b[2] > b[3] ? b[2] : b[3]), sw = side * 360 / 450;
			tvs_rect r = { (int)(b[0] + b[2] / 2 - sw / 2), (int)(b[1] + b[3] / 2 - side / 2), (int)sw,
				       (int)side };
			tvs_image c = {0};
			int m = 0, k = 0;
			assert_int_equal(tvs_img_crop_resize(&im, r, 360, 450, &c), 0);
			assert_int_equal(tvs_face_detect(ctx, &c, g, 4, &m), 0);
			assert_int_equal(tvs_face_detect_padded(ctx, &c, h, 4, &k), 0);
			plain_miss += m == 0;
			padded_miss += k == 0;
			if (m > 0) {
				assert_int_equal(k, m);
				assert_memory_equal(g[0].box, h[0].box, sizeof(g[0].box));
			} else if (k > 0) {
				double cx = h[0].box[0] + h[0].box[2] / 2, cy = h[0].box[1] + h[0].box[3] / 2;
				assert_true(fabs(cx - 180) < 60 && fabs(cy - 225) < 75);
				assert_true(h[0].box[2] > 150 && h[0].box[2] < 400);
			}
			tvs_image_free(&c);
		}
		tvs_image_free(&im);
	}
	print_message("padded detection: %d demo faces, SSD alone missed %d, with the canvas %d\n", total,
		      plain_miss, padded_miss);
	assert_int_equal(total, 22);
	assert_true(plain_miss >= 5);
	assert_true(padded_miss <= 2);
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

int main(void)
{
	const struct CMUnitTest synthetic[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_defaults_sane),
		cmocka_unit_test(test_roll_exact),
		cmocka_unit_test(test_yaw_formula),
		cmocka_unit_test(test_brightness_flat),
		cmocka_unit_test(test_sharpness_ordering),
		cmocka_unit_test(test_sharpness_scale_normalised),
		cmocka_unit_test(test_clipped_region),
		cmocka_unit_test(test_each_reason),
		cmocka_unit_test(test_reason_order),
		cmocka_unit_test(test_multiple_faces_rule),
		cmocka_unit_test(test_bad_arguments),
	};
	const struct CMUnitTest engine[] = {
		cmocka_unit_test(test_demo_faces),
		cmocka_unit_test(test_engine_degraded),
		cmocka_unit_test(test_padded_detection),
	};
	int rc = cmocka_run_group_tests_name("quality", synthetic, NULL, NULL);

	if (!exists(MODELS "/ssd_mobilenetv1_model.bin") || !exists(MODELS "/face_landmark_68_model.bin") ||
	    !exists("models/demo/sample6.jpg")) {
		printf("# skipping quality engine tests: no models (run scripts/fetch-models.sh)\n");
		return rc;
	}
	return rc | cmocka_run_group_tests_name("quality_engine", engine, engine_setup, engine_teardown);
}
