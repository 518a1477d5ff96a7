/*
 * Encryption at rest, seen from outside: known portraits and captures go in
 * through the API, then the SQLite file, its WAL and the request log are
 * scanned for their bytes. Nothing biometric may be found: no run of any
 * uploaded image's bytes, no template (its "TVST" magic or model id), and no
 * run of the descriptor floats the engine computes for a portrait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/img.h"
#include "tvs/match.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 24 /* bytes of a run that count as a leak */

static e2e_world w;
/* two enrolled travelers and a stranger (person 3 is not enrolled) */
static const int live_ids[3] = { 0, 1, 3 };

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob slurp(const char *path)
{
	struct blob b = { 0 };
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return b; /* no WAL after a clean stop is fine */
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	b.p = malloc((size_t)n + 1);
	assert_non_null(b.p);
	b.n = fread(b.p, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static int contains(const struct blob *hay, const void *needle, size_t n)
{
	return hay->n >= n && memmem(hay->p, hay->n, needle, n) != NULL;
}

/* Any WINDOW-byte run of data[0..len), taken every 97 bytes (past the JPEG
 * header, whose bytes are shared by every JPEG), found in hay? */
static long find_runs(const struct blob *hay, const uint8_t *data, size_t len)
{
	for (size_t off = 600; off + WINDOW <= len; off += 97)
		if (contains(hay, data + off, WINDOW))
			return (long)off;
	return -1;
}

/* The descriptor the service computes for img: the same library, the same
 * path (padded detection, landmarks, describe the largest face). */
static void descriptor_of(const e2e_img *img, float out[TVS_FACE_DESC_DIM])
{
	tvs_face_config fc;
	tvs_face_engine_t *e = NULL;
	tvs_face_ctx_t *c = NULL;
	tvs_image im = { 0 };
	tvs_face f[4];
	int n = 0;

	tvs_face_default_config(&fc);
	fc.model_dir = getenv("TVS_MODELS") ? getenv("TVS_MODELS") : "models/model";
	assert_int_equal(tvs_face_engine_create(&e, &fc), 0);
	assert_int_equal(tvs_face_ctx_create(&c, e), 0);
	assert_int_equal(tvs_img_decode(img->data, img->len, NULL, &im), 0);
	assert_int_equal(tvs_face_detect_padded(c, &im, f, 4, &n), 0);
	assert_true(n >= 1);
	assert_int_equal(tvs_face_landmarks(c, &im, &f[0]), 0);
	assert_int_equal(tvs_face_describe(c, &im, &f[0]), 0);
	memcpy(out, f[0].descriptor, sizeof(float) * TVS_FACE_DESC_DIM);
	tvs_image_free(&im);
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
}

static void scan(const char *what, const struct blob *hay, const float *desc)
{
	const char *model = TVS_MATCH_DEFAULT_MODEL;
	long off;

	for (int i = 0; i < w.nenrolled; i++)
		if ((off = find_runs(hay, e2e_im->portrait[i].data, e2e_im->portrait[i].len)) >= 0)
			fail_msg("%s holds bytes %ld.. of portrait %d in the clear", what, off, i);
	for (int i = 0; i < 3; i++)
		if ((off = find_runs(hay, e2e_im->live[live_ids[i]].data, e2e_im->live[live_ids[i]].len)) >= 0)
			fail_msg("%s holds bytes %ld.. of capture %d in the clear", what, off, live_ids[i]);
	if (contains(hay, "TVST", 4))
		fail_msg("%s holds a template's magic TVST", what);
	if (contains(hay, model, strlen(model)))
		fail_msg("%s holds the template model id %s", what, model);
	for (int k = 0; k + 4 <= TVS_FACE_DESC_DIM; k += 4)
		if (contains(hay, desc + k, 4 * sizeof(float)))
			fail_msg("%s holds descriptor floats %d..%d of portrait 0", what, k, k + 3);
}

static void test_nothing_biometric_on_disk(void **state)
{
	char path[300];
	float desc[TVS_FACE_DESC_DIM];
	struct blob db, wal, log;
	json_t *r;

	(void)state;
	E2E_REQUIRE(&e2e_srv);
	if (e2e_srv.pg) {
		/* PostgreSQL's files belong to its server; the scan is of SQLite's */
		print_message("[ SKIP     ] e2e_privacy: the on-disk scan reads the SQLite file and WAL\n");
		skip();
	}
	e2e_world_setup(&e2e_srv, &w, 3);
	/* a stranger (NO_MATCH keeps the capture) and two travelers (a
	 * non-citizen's match keeps it too) */
	assert_true(e2e_im->npeople > 3);
	for (int i = 0; i < 3; i++) {
		r = e2e_capture(&e2e_srv, &w.device, &e2e_im->live[live_ids[i]], -1, NULL);
		json_decref(r);
	}
	descriptor_of(&e2e_im->portrait[0], desc);

	/* while it runs: the database file, its WAL, the log */
	snprintf(path, sizeof(path), "%s-wal", e2e_srv.db);
	db = slurp(e2e_srv.db);
	wal = slurp(path);
	log = slurp(e2e_srv.log);
	assert_true(db.n > 0 && log.n > 0);
	/* the scan can see: what is meant to be stored in the clear is found
	 * (a document number, a request path), and a run of an image is found
	 * in the image itself */
	{
		char num[16];
		struct blob self = { e2e_im->portrait[0].data, e2e_im->portrait[0].len };

		e2e_doc_number(0, num);
		assert_true(contains(&db, num, strlen(num)) || contains(&wal, num, strlen(num)));
		assert_true(contains(&log, "/v1/captures", 12));
		assert_true(find_runs(&self, e2e_im->portrait[0].data, e2e_im->portrait[0].len) >= 0);
	}
	scan("tvs.db", &db, desc);
	scan("tvs.db-wal", &wal, desc);
	scan("the request log", &log, desc);
	free(db.p), free(wal.p), free(log.p);

	/* and after a clean stop has checkpointed the WAL into the file */
	assert_int_equal(e2e_server_stop(&e2e_srv, SIGTERM), 0);
	db = slurp(e2e_srv.db);
	wal = slurp(path);
	scan("tvs.db after stop", &db, desc);
	scan("tvs.db-wal after stop", &wal, desc);
	free(db.p), free(wal.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_biometric_on_disk),
	};
	return E2E_RUN("e2e_privacy", tests, e2e_group_setup, e2e_group_teardown);
}
