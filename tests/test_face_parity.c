/*
 * Parity of the C face engine with face-api 1.7.15 on the six demo photos.
 *
 * Two inputs per photo:
 *  - face-api's own decoded RGB (build/parity/sampleN.image.ppm, made by
 *    scripts/parity-vectors.sh with the reference harness): every face found,
 *    box IoU >= 0.99, landmarks within 0.5 px, descriptor L2 <= 1e-3;
 *  - the JPEG through libjpeg-turbo: every face found with IoU >= 0.99, and
 *    descriptor L2 <= 0.02 wherever our recognition crop is the reference's.
 *    face-api floors its crop boxes, so decoder noise of one grey level can
 *    move a crop by a whole pixel; such faces are reported and held to a
 *    looser bound (see the note on issue 2).
 * The raw recognition net is also checked on the reference's own 150x150
 * input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tvs/error.h"
#include "tvs/face.h"

#define MODELS "models/model"
#define PARITY "build/parity"
#define MAXF 64

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static double iou(const double *a, const double *b)
{
	double w = fmax(0, fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]));
	double h = fmax(0, fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]));
	return w * h / (a[2] * a[3] + b[2] * b[3] - w * h);
}

struct tol {
	double landmarks_px;  /* max |d| over all points, <0: report only */
	double desc_same;     /* descriptor L2 when rec_crop matches */
	double desc_other;    /* descriptor L2 when it does not */
};

struct stats {
	int faces, same_crop;
	double worst_iou, worst_lm, worst_same, worst_other;
};

/* Run one reference JSONL through the engine, image paths under dir. */
static void check_file(tvs_face_engine_t *eng, const char *jsonl, const char *dir, const struct tol *t,
		       struct stats *s)
{
	FILE *f = fopen(jsonl, "r");
	char line[1 << 18];
	tvs_face_ctx_t *ctx = NULL;
	tvs_face *faces = calloc(MAXF, sizeof(*faces));
	tvs_img_opts io;

	assert_non_null(f);
	assert_non_null(faces);
	assert_int_equal(tvs_face_ctx_create(&ctx, eng), 0);
	tvs_img_default_opts(&io);
	io.ignore_exif = 1; /* face-api ignores EXIF */
	memset(s, 0, sizeof(*s));
	s->worst_iou = 1;
	while (fgets(line, sizeof(line), f)) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err), *rf;
		char path[512];
		tvs_image img = {0};
		int n = 0;
		size_t i;

		assert_non_null(o);
		if (!json_object_get(o, "path")) {
			json_decref(o);
			continue;
		}
		const char *p = json_string_value(json_object_get(o, "path"));
		snprintf(path, sizeof(path), "%s/%s", dir, p);
		assert_int_equal(tvs_img_read_file(path, &io, &img), 0);
		assert_int_equal(tvs_face_analyze(ctx, &img, faces, MAXF, &n, NULL), 0);
		rf = json_object_get(o, "faces");
		assert_int_equal((int)json_array_size(rf), n);
		json_t *jf;
		json_array_foreach(rf, i, jf) {
			json_t *b = json_object_get(jf, "box"), *lm = json_object_get(jf, "landmarks");
			json_t *d = json_object_get(jf, "descriptor"), *rc = json_object_get(jf, "rec_crop");
			double rb[4] = {json_real_value(json_object_get(b, "x")), json_real_value(json_object_get(b, "y")),
					json_real_value(json_object_get(b, "width")),
					json_real_value(json_object_get(b, "height"))};
			int best = -1;
			double bi = -1;
			for (int k = 0; k < n; k++) {
				double v = iou(rb, faces[k].box);
				if (v > bi)
					bi = v, best = k;
			}
			assert_true(best >= 0);
			const tvs_face *ff = &faces[best];
			double lmax = 0, l2 = 0;
			for (int k = 0; k < 68; k++)
				for (int c = 0; c < 2; c++) {
					double v = fabs(json_number_value(json_array_get(json_array_get(lm, k), c)) -
							ff->landmarks[k][c]);
					lmax = fmax(lmax, v);
				}
			for (int k = 0; k < 128; k++) {
				double v = json_number_value(json_array_get(d, k)) - ff->descriptor[k];
				l2 += v * v;
			}
			l2 = sqrt(l2);
			int same = ff->rec_crop.x == json_integer_value(json_object_get(rc, "x")) &&
				   ff->rec_crop.y == json_integer_value(json_object_get(rc, "y")) &&
				   ff->rec_crop.width == json_integer_value(json_object_get(rc, "width")) &&
				   ff->rec_crop.height == json_integer_value(json_object_get(rc, "height"));
			printf("#   %s face %zu: IoU %.5f landmarks max|d| %.2e px descriptor L2 %.2e%s\n", p, i, bi,
			       lmax, l2, same ? "" : " (crop moved by decoder noise)");
			s->faces++;
			s->same_crop += same;
			s->worst_iou = fmin(s->worst_iou, bi);
			s->worst_lm = fmax(s->worst_lm, lmax);
			if (same)
				s->worst_same = fmax(s->worst_same, l2);
			else
				s->worst_other = fmax(s->worst_other, l2);
			assert_true(bi >= 0.99);
			if (t->landmarks_px >= 0)
				assert_true(lmax <= t->landmarks_px);
			assert_true(l2 <= (same ? t->desc_same : t->desc_other));
		}
		tvs_image_free(&img);
		json_decref(o);
	}
	printf("# %s: %d faces, %d with the reference's crop; worst IoU %.5f, landmarks %.2e px, "
	       "descriptor L2 %.2e (same crop) %.2e (moved crop)\n",
	       jsonl, s->faces, s->same_crop, s->worst_iou, s->worst_lm, s->worst_same, s->worst_other);
	fclose(f);
	free(faces);
	tvs_face_ctx_destroy(ctx);
}

static tvs_face_engine_t *engine(int detector)
{
	tvs_face_config cfg;
	tvs_face_engine_t *e = NULL;

	tvs_face_default_config(&cfg);
	cfg.model_dir = MODELS;
	cfg.detector = detector;
	cfg.flip_average = 0; /* face-api's exact pipeline */
	cfg.int8 = 0;
	int rc = tvs_face_engine_create(&e, &cfg);
	if (rc < 0)
		fail_msg("engine: %s", tvs_errmsg());
	return e;
}

static void test_ssd_on_faceapi_rgb(void **state)
{
	(void)state;
	if (!exists(PARITY "/.done"))
		skip();
	struct tol t = {0.5, 1e-3, 1e-3};
	struct stats s;
	tvs_face_engine_t *e = engine(TVS_DETECTOR_SSD);
	check_file(e, PARITY "/reference-ppm.jsonl", PARITY, &t, &s);
	assert_int_equal(s.faces, 22);
	assert_int_equal(s.same_crop, 22);
	tvs_face_engine_destroy(e);
}

static void test_tiny_on_faceapi_rgb(void **state)
{
	(void)state;
	if (!exists(PARITY "/.done"))
		skip();
	struct tol t = {0.5, 1e-3, 1e-3};
	struct stats s;
	tvs_face_engine_t *e = engine(TVS_DETECTOR_TINY);
	check_file(e, PARITY "/reference-tiny-ppm.jsonl", PARITY, &t, &s);
	assert_true(s.faces > 0);
	tvs_face_engine_destroy(e);
}

static void test_ssd_through_libjpeg_turbo(void **state)
{
	(void)state;
	struct tol t = {-1, 0.02, 0.2};
	struct stats s;
	tvs_face_engine_t *e = engine(TVS_DETECTOR_SSD);
	check_file(e, "tests/fixtures/demo-reference.jsonl", "models", &t, &s);
	assert_int_equal(s.faces, 22);
	tvs_face_engine_destroy(e);
}

static float *read_f32(const char *path, size_t n)
{
	FILE *f = fopen(path, "rb");
	float *v = malloc(n * sizeof(float));
	if (!f || !v || fread(v, sizeof(float), n, f) != n) {
		free(v);
		v = NULL;
	}
	if (f)
		fclose(f);
	return v;
}

static void test_recognition_net_on_reference_input(void **state)
{
	(void)state;
	if (!exists(PARITY "/.done"))
		skip();
	tvs_face_engine_t *e = engine(TVS_DETECTOR_SSD);
	tvs_face_ctx_t *c = NULL;
	assert_int_equal(tvs_face_ctx_create(&c, e), 0);
	for (int i = 1; i <= 6; i++) {
		char p1[256], p2[256];
		float out[128];
		snprintf(p1, sizeof(p1), PARITY "/sample%d.rec_input_150x150x3.f32", i);
		snprintf(p2, sizeof(p2), PARITY "/sample%d.descriptor.f32", i);
		float *in = read_f32(p1, 150 * 150 * 3), *want = read_f32(p2, 128);
		assert_non_null(in);
		assert_non_null(want);
		assert_int_equal(tvs_face_recognition_forward(c, in, out), 0);
		double l2 = 0;
		for (int k = 0; k < 128; k++)
			l2 += (double)(out[k] - want[k]) * (out[k] - want[k]);
		printf("#   sample%d: recognition net on face-api's input: L2 %.2e\n", i, sqrt(l2));
		assert_true(sqrt(l2) <= 1e-4);
		free(in);
		free(want);
	}
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
}

static void test_no_face_and_bad_inputs(void **state)
{
	(void)state;
	tvs_face_engine_t *e = engine(TVS_DETECTOR_SSD);
	tvs_face_ctx_t *c = NULL;
	tvs_face faces[4];
	tvs_image img = {0};
	int n = -1;

	assert_int_equal(tvs_face_ctx_create(&c, e), 0);
	/* a flat grey image has no face */
	assert_int_equal(tvs_image_alloc(&img, 640, 480), 0);
	memset(img.rgb, 128, (size_t)640 * 480 * 3);
	assert_int_equal(tvs_face_analyze(c, &img, faces, 4, &n, NULL), 0);
	assert_int_equal(n, 0);
	tvs_image_free(&img);
	/* a 1x1 image is valid and has no face */
	assert_int_equal(tvs_image_alloc(&img, 1, 1), 0);
	memset(img.rgb, 200, 3);
	assert_int_equal(tvs_face_analyze(c, &img, faces, 4, &n, NULL), 0);
	assert_int_equal(n, 0);
	tvs_image_free(&img);
	/* an empty image is refused */
	assert_int_equal(tvs_face_analyze(c, &img, faces, 4, &n, NULL), TVS_EINVAL);
	/* a missing model folder is a clear error */
	tvs_face_config cfg;
	tvs_face_engine_t *bad = NULL;
	tvs_face_default_config(&cfg);
	cfg.model_dir = "/nonexistent";
	assert_int_equal(tvs_face_engine_create(&bad, &cfg), TVS_ENOTFOUND);
	assert_non_null(strstr(tvs_errmsg(), "fetch-models"));
	assert_null(bad);
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recognition_net_on_reference_input),
		cmocka_unit_test(test_ssd_on_faceapi_rgb),
		cmocka_unit_test(test_tiny_on_faceapi_rgb),
		cmocka_unit_test(test_ssd_through_libjpeg_turbo),
		cmocka_unit_test(test_no_face_and_bad_inputs),
	};
	if (!exists(MODELS "/face_recognition_model.bin")) {
		printf("# skipping face parity: no models (run scripts/fetch-models.sh)\n");
		return 0;
	}
	if (!exists(PARITY "/.done"))
		printf("# face-api RGB vectors absent (scripts/parity-vectors.sh needs ../shared/faceref and "
		       "node): those tests skip\n");
	return cmocka_run_group_tests_name("face_parity", tests, NULL, NULL);
}
