/*
 * Unit tests for the 1:N identification metrics (src/match/ident_eval.c)
 * and the DET plot (src/match/det_plot.c). The small cases are computed by
 * hand in the comments; a randomised test with many ties checks the sorted
 * sweep against a naive reference that tries every observed score as a
 * threshold through the plain O(N) tvs_ident_eval_rates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/ident_eval.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEAR(a, b) assert_near((a), (b), 1e-12, #a, __LINE__)

static void assert_near(double a, double b, double eps, const char *what, int line)
{
	if (!(fabs(a - b) <= eps)) {
		print_error("line %d: %s = %.17g, want %.17g\n", line, what, a, b);
		fail();
	}
}

/*
 * The hand case. Mated searches (mate >= 0):
 *   m1 mate 0, rank-1 0 at -0.2   hit
 *   m2 mate 1, rank-1 1 at -0.5   hit
 *   m3 mate 2, rank-1 0 at -0.3   wrong identity: a miss at every threshold
 *   m4 mate 1, no face (FTA)      a miss at every threshold
 * Non-mated searches:
 *   n1 -0.4, n2 -0.6, n3 -0.6 (tie), n4 -0.9, n5 no face (never accepted)
 * Sorted non-mated scores: -0.4, -0.6, -0.6, -0.9; hits: -0.5, -0.2.
 */
static const tvs_ident_search HAND[9] = {
	{0, 1, 0, -0.2}, {1, 1, 1, -0.5}, {2, 1, 0, -0.3}, {1, 0, -1, 0},
	{-1, 1, 0, -0.4}, {-1, 1, 1, -0.6}, {-1, 1, 2, -0.6}, {-1, 1, 0, -0.9}, {-1, 0, -1, 0},
};

static void rates_hand(void **state)
{
	tvs_ident_rates r;

	(void)state;
	/* t = -0.45: n1 accepted (1/5); m2 below t, m3, m4 missed (3/4). */
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, -0.45, &r), 0);
	assert_int_equal(r.n_mated, 4);
	assert_int_equal(r.n_nonmated, 5);
	assert_int_equal(r.nonmated_accepted, 1);
	assert_int_equal(r.mated_missed, 3);
	NEAR(r.fpir, 0.2);
	NEAR(r.fnir, 0.75);
	/* t = -0.6: n1, n2, n3 accepted (3/5, ties included by >=); m3, m4 missed. */
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, -0.6, &r), 0);
	NEAR(r.fpir, 0.6);
	NEAR(r.fnir, 0.5);
	/* Far below everything: all 4 acquired non-mated accepted; FTA is not. */
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, -100, &r), 0);
	NEAR(r.fpir, 0.8);
	NEAR(r.fnir, 0.5);
}

static void rank1_hand(void **state)
{
	double rate;
	size_t hits, m;

	(void)state;
	assert_int_equal(tvs_ident_eval_rank1(HAND, 9, &rate, &hits, &m), 0);
	assert_int_equal(hits, 2);
	assert_int_equal(m, 4);
	NEAR(rate, 0.5);
}

static void check_op(double target, double t, size_t accepted, double fpir, double fnir, int resolvable)
{
	tvs_ident_op op;
	tvs_ident_rates r;

	assert_int_equal(tvs_ident_eval_fnir_at_fpir(HAND, 9, target, &op), 0);
	NEAR(op.threshold, t);
	assert_int_equal(op.nonmated_accepted, accepted);
	NEAR(op.fpir, fpir);
	NEAR(op.fnir, fnir);
	assert_int_equal(op.resolvable, resolvable);
	NEAR(op.fpir_resolution, 0.2);
	/* The reported point is what the plain count gives at that threshold. */
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, op.threshold, &r), 0);
	NEAR(r.fpir, op.fpir);
	NEAR(r.fnir, op.fnir);
}

static void fnir_at_fpir_hand(void **state)
{
	(void)state;
	/* 0.2 of 5: k = 1. The 2nd highest non-mated is -0.6 (first at index 1);
	 * the next higher observed score is the hit -0.5: cut -0.55. n1 accepted,
	 * no hit below: FNIR 2/4. */
	check_op(0.2, -0.55, 1, 0.2, 0.5, 1);
	/* 0.4: k = 2, but the 3rd highest ties the 2nd at -0.6, so the tie is not
	 * split: same cut, achieved FPIR 0.2 < 0.4. */
	check_op(0.4, -0.55, 1, 0.2, 0.5, 1);
	/* 0.6: k = 3: cut between -0.9 and -0.6. */
	check_op(0.6, -0.75, 3, 0.6, 0.5, 1);
	/* 0.8 and 1: k >= 4 acquired: accept all, at the lowest score -0.9. */
	check_op(0.8, -0.9, 4, 0.8, 0.5, 1);
	check_op(1.0, -0.9, 4, 0.8, 0.5, 1);
	/* 0.1 < 1/5: unresolvable; the cut above the best non-mated (-0.4) is
	 * the midpoint to the hit -0.2: -0.3. m2 (-0.5) now misses: 3/4. */
	check_op(0.1, -0.3, 0, 0.0, 0.75, 0);
}

static void det_hand(void **state)
{
	tvs_ident_det_point p[6];
	size_t n;

	(void)state;
	assert_int_equal(tvs_ident_eval_det(HAND, 9, p, 6, &n), 0);
	assert_int_equal(n, 4);
	NEAR(p[0].threshold, -0.3);
	NEAR(p[0].fpir, 0.0);
	NEAR(p[0].fnir, 0.75);
	NEAR(p[1].threshold, -0.55);
	NEAR(p[1].fpir, 0.2);
	NEAR(p[1].fnir, 0.5);
	NEAR(p[2].threshold, -0.75);
	NEAR(p[2].fpir, 0.6);
	NEAR(p[3].threshold, -0.9);
	NEAR(p[3].fpir, 0.8);
	NEAR(p[3].fnir, 0.5);
	assert_int_equal(tvs_ident_eval_det(HAND, 9, p, 5, &n), TVS_EINVAL);
}

/* Max fusion: id 0 has templates at x = 0 and x = 8, id 1 at x = 5; the
 * probe at x = 7 is 7 and 1 from id 0's and 2 from id 1's. Max similarity
 * picks id 0 at -1 (a mean over templates would have picked id 1). */
static void search_max_fusion(void **state)
{
	const float templ[3 * 2] = {0, 0, 8, 0, 5, 0};
	const int id[3] = {0, 0, 1};
	const float probe[2] = {7, 0};
	const float tie_templ[2 * 2] = {1, 0, -1, 0};
	const int tie_id[2] = {1, 0};
	const float origin[2] = {0, 0};
	const float p345[2] = {3, 4};
	tvs_ident_search s = {.mate = 7};

	(void)state;
	assert_int_equal(tvs_ident_eval_search(templ, id, 3, 2, probe, &s), 0);
	assert_int_equal(s.top_id, 0);
	assert_int_equal(s.acquired, 1);
	assert_int_equal(s.mate, 7); /* left alone */
	NEAR(s.top_score, -1.0);
	/* Exact tie: the first template listed (id 1) wins. */
	assert_int_equal(tvs_ident_eval_search(tie_templ, tie_id, 2, 2, origin, &s), 0);
	assert_int_equal(s.top_id, 1);
	NEAR(s.top_score, -1.0);
	/* Euclidean: (3, 4) is 5 from the origin. */
	assert_int_equal(tvs_ident_eval_search(origin, id, 1, 2, p345, &s), 0);
	NEAR(s.top_score, -5.0);
}

static void bad_arguments(void **state)
{
	const float t[2] = {0, 0}, nan_probe[2] = {NAN, 0};
	const int id[1] = {0}, neg[1] = {-3};
	tvs_ident_search s, only_mated[1] = {{0, 1, 0, -1}}, bad_score[2] = {{0, 1, 0, NAN}, {-1, 1, 0, -1}};
	tvs_ident_rates r;
	tvs_ident_op op;
	tvs_ident_det_point p[8];
	size_t n, h, m;
	double rate;

	(void)state;
	assert_int_equal(tvs_ident_eval_search(NULL, id, 1, 2, t, &s), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_search(t, id, 0, 2, t, &s), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_search(t, id, 1, 0, t, &s), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_search(t, neg, 1, 2, t, &s), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_search(t, id, 1, 2, nan_probe, &s), TVS_EINVAL);
	{
		/* One good template does not hide a NaN one. */
		const float two[4] = {0, 0, NAN, 0};
		const int ids[2] = {0, 1};

		assert_int_equal(tvs_ident_eval_search(two, ids, 2, 2, t, &s), TVS_EINVAL);
	}
	assert_int_equal(tvs_ident_eval_search(t, id, 1, 2, t, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rates(NULL, 1, 0, &r), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rates(HAND, 0, 0, &r), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, NAN, &r), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rates(HAND, 9, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rates(bad_score, 2, 0, &r), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_fnir_at_fpir(HAND, 9, 0, &op), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_fnir_at_fpir(HAND, 9, 1.5, &op), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_fnir_at_fpir(HAND, 9, NAN, &op), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_fnir_at_fpir(only_mated, 1, 0.1, &op), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_fnir_at_fpir(HAND + 4, 5, 0.1, &op), TVS_EINVAL); /* no mated */
	assert_int_equal(tvs_ident_eval_rank1(HAND + 4, 5, &rate, &h, &m), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_rank1(HAND, 9, NULL, &h, &m), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_det(HAND, 9, NULL, 8, &n), TVS_EINVAL);
	assert_int_equal(tvs_ident_eval_det(only_mated, 1, p, 8, &n), TVS_EINVAL);
	assert_int_equal(tvs_ident_plot_det_png("/tmp/x.png", NULL, 1, 0.1, NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_plot_det_png("/tmp/x.png", p, 0, 0.1, NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_plot_det_png("/tmp/x.png", p, 1, 0, NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_plot_det_png("/tmp/x.png", p, 1, 1, NULL, 0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_ident_plot_det_png(NULL, p, 1, 0.1, NULL, 0, NULL), TVS_EINVAL);
}

/* Random searches with heavy ties (scores on a grid of 8 values): the
 * sweep must agree with the naive rule "the lowest observed score t with
 * at most k non-mated searches scoring >= t", evaluated by the plain count. */
static void randomised_against_naive(void **state)
{
	tvs_ident_search s[60];
	tvs_ident_det_point p[61];
	uint64_t st = 12345;

	(void)state;
	for (int trial = 0; trial < 300; trial++) {
		size_t n = 2 + (size_t)(trial % 58), npts, nnm = 0;

		for (size_t i = 0; i < n; i++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t r = (uint32_t)(st >> 33);

			s[i].mate = (i == 0) ? 0 : (i == 1) ? -1 : (r & 1) ? -1 : (int)(r >> 1) % 3;
			s[i].acquired = ((r >> 4) % 10) != 0;
			s[i].top_id = s[i].acquired ? (int)((r >> 8) % 3) : -1;
			s[i].top_score = -(double)((r >> 12) % 8) / 8.0;
			nnm += (size_t)(s[i].mate < 0);
		}
		for (int ti = 0; ti < 7; ti++) {
			const double targets[7] = {0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0};
			double target = targets[ti], best_t = INFINITY;
			size_t k = (size_t)floor(target * (double)nnm + 1e-9);
			tvs_ident_op op;
			tvs_ident_rates r, rb;

			assert_int_equal(tvs_ident_eval_fnir_at_fpir(s, n, target, &op), 0);
			/* naive: every observed score and one above the highest */
			for (size_t i = 0; i <= n; i++) {
				double t = i < n ? s[i].top_score : 10.0;

				if (i < n && !s[i].acquired)
					continue;
				assert_int_equal(tvs_ident_eval_rates(s, n, t, &rb), 0);
				if (rb.nonmated_accepted <= k && t < best_t)
					best_t = t;
			}
			assert_int_equal(tvs_ident_eval_rates(s, n, best_t, &rb), 0);
			assert_int_equal(tvs_ident_eval_rates(s, n, op.threshold, &r), 0);
			assert_int_equal(op.nonmated_accepted, rb.nonmated_accepted);
			assert_int_equal(op.mated_missed, rb.mated_missed);
			assert_int_equal(r.nonmated_accepted, op.nonmated_accepted);
			assert_int_equal(r.mated_missed, op.mated_missed);
			assert_true(op.fpir <= target + 1e-12);
			assert_int_equal(op.resolvable, k >= 1);
		}
		assert_int_equal(tvs_ident_eval_det(s, n, p, n + 1, &npts), 0);
		for (size_t i = 0; i < npts; i++) {
			tvs_ident_rates r;

			assert_int_equal(tvs_ident_eval_rates(s, n, p[i].threshold, &r), 0);
			NEAR(p[i].fpir, r.fpir);
			NEAR(p[i].fnir, r.fnir);
			if (i > 0) {
				assert_true(p[i].fpir > p[i - 1].fpir);
				assert_true(p[i].fnir <= p[i - 1].fnir);
			}
		}
	}
}

static void det_png(void **state)
{
	char path[] = "/tmp/test_ident_det_XXXXXX";
	tvs_ident_det_point p[200];
	tvs_ident_plot_mark marks[2] = {{0.003, 0.2, "FPIR 0.003"}, {0.01, 0.1, NULL}};
	unsigned char sig[8];
	const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	cairo_surface_t *sf;
	FILE *f;
	int fd;

	(void)state;
	for (int i = 0; i < 200; i++) {
		p[i].fpir = i / 199.0;
		p[i].fnir = 0.5 * pow(1 - p[i].fpir, 3) + (i % 7 == 0 ? 0 : 1e-3);
		p[i].threshold = -i;
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(tvs_ident_plot_det_png(path, p, 200, 1e-3, marks, 2, "test DET"), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(sig, 1, 8, f), 8);
	fclose(f);
	assert_memory_equal(sig, png, 8);
	sf = cairo_image_surface_create_from_png(path);
	assert_int_equal(cairo_surface_status(sf), CAIRO_STATUS_SUCCESS);
	assert_true(cairo_image_surface_get_width(sf) > 100);
	cairo_surface_destroy(sf);
	unlink(path);
	/* An unwritable path is an I/O error, not a crash. */
	assert_int_equal(tvs_ident_plot_det_png("/nonexistent-dir/x.png", p, 200, 1e-3, NULL, 0, NULL), TVS_EIO);
}

/* fontconfig, which cairo's toy text API uses, keeps a process-wide
 * configuration that only FcFini() releases, and the test does not link
 * fontconfig directly; tell LeakSanitizer (when built with it) about that
 * one library instead of hiding leaks globally. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\n";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rates_hand),
		cmocka_unit_test(rank1_hand),
		cmocka_unit_test(fnir_at_fpir_hand),
		cmocka_unit_test(det_hand),
		cmocka_unit_test(search_max_fusion),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(randomised_against_naive),
		cmocka_unit_test(det_png),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* Release cairo's process-wide font caches, which the toy text API in
	 * det_plot.c fills, so LeakSanitizer sees only our own allocations. */
	cairo_debug_reset_static_data();
	return failed;
}
