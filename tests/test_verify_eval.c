/*
 * Unit tests for the verification metrics and the LFW pairs parser
 * (src/match/verify_eval.c). The small cases are computed by hand in the
 * comments next to them; a randomised test with many ties compares the
 * sorted-sweep implementation against a naive O(N^2) reference that tries
 * every candidate threshold directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/verify_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) assert_near((a), (b), 1e-12, #a, __LINE__)

static void assert_near(double a, double b, double eps, const char *what, int line)
{
	if (!(fabs(a - b) <= eps)) {
		print_error("line %d: %s = %.17g, want %.17g\n", line, what, a, b);
		fail();
	}
}

/* ------------------------------------------------------------ k-fold */

/* Ten folds of one genuine (1 + f/100) and one impostor (f/100) pair each:
 * every fold is separable, accuracy 1 everywhere, std 0. */
static void kfold_separable(void **state)
{
	double s[20];
	int lab[20], fold[20], f;
	tvs_kfold_result r;

	(void)state;
	for (f = 0; f < 10; f++) {
		s[2 * f] = 1.0 + f / 100.0;
		lab[2 * f] = 1;
		s[2 * f + 1] = f / 100.0;
		lab[2 * f + 1] = 0;
		fold[2 * f] = fold[2 * f + 1] = f;
	}
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 20, 10, &r), 0);
	assert_int_equal(r.nfolds, 10);
	NEAR(r.accuracy_mean, 1.0);
	NEAR(r.accuracy_std, 0.0);
	for (f = 0; f < 10; f++) {
		NEAR(r.fold_accuracy[f], 1.0);
		assert_int_equal(r.fold_pairs[f], 2);
		/* The gap in training is (0.09 or 0.08, 1.00 or 1.01): its midpoint. */
		assert_true(r.fold_threshold[f] > 0.09 && r.fold_threshold[f] < 1.0);
	}
}

/* Folds 0..8: genuine 1.0, impostor 0.0. Fold 9: genuine 0.2, impostor 0.6.
 *
 * Testing fold f < 9, training holds 8 x (1.0 g, 0.0 i) + (0.2 g, 0.6 i):
 *   accept all (t=0)        9/18 right
 *   t=0.1  (0.0 | 0.2)     17/18
 *   t=0.4  (0.2 | 0.6)     16/18
 *   t=0.8  (0.6 | 1.0)     17/18
 *   reject all              9/18
 * 0.1 and 0.8 tie; the highest wins: t = 0.8, and fold f scores 2/2.
 * Testing fold 9, training is 9 x (1.0 g, 0.0 i): t = 0.5 (18/18); on fold
 * 9 the genuine 0.2 is rejected and the impostor 0.6 accepted: 0/2.
 * Mean 0.9; sample std sqrt((9 * 0.01 + 0.81) / 9) = sqrt(0.1). */
static void kfold_overlap(void **state)
{
	double s[20];
	int lab[20], fold[20], f;
	tvs_kfold_result r;

	(void)state;
	for (f = 0; f < 10; f++) {
		s[2 * f] = f < 9 ? 1.0 : 0.2;
		s[2 * f + 1] = f < 9 ? 0.0 : 0.6;
		lab[2 * f] = 1;
		lab[2 * f + 1] = 0;
		fold[2 * f] = fold[2 * f + 1] = f;
	}
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 20, 10, &r), 0);
	for (f = 0; f < 9; f++) {
		NEAR(r.fold_threshold[f], 0.8);
		NEAR(r.fold_accuracy[f], 1.0);
	}
	NEAR(r.fold_threshold[9], 0.5);
	NEAR(r.fold_accuracy[9], 0.0);
	NEAR(r.accuracy_mean, 0.9);
	NEAR(r.accuracy_std, sqrt(0.1));
}

/* Genuine {1, 1, 2}, impostor {1, 0}. Groups 0:(i) 1:(g g i) 2:(g).
 *   accept all 3/5; t=0.5 4/5; t=1.5 3/5; reject all 2/5.
 * The tie group at 1 is never split: best t = 0.5, accuracy 0.8, in every
 * input order. */
static void best_threshold_ties(void **state)
{
	double s[5] = {1, 1, 2, 1, 0}, s2[5] = {0, 1, 2, 1, 1}, t, acc;
	int lab[5] = {1, 1, 1, 0, 0}, lab2[5] = {0, 0, 1, 1, 1};

	(void)state;
	assert_int_equal(tvs_verify_eval_best_threshold(s, lab, 5, &t, &acc), 0);
	NEAR(t, 0.5);
	NEAR(acc, 0.8);
	assert_int_equal(tvs_verify_eval_best_threshold(s2, lab2, 5, &t, &acc), 0);
	NEAR(t, 0.5);
	NEAR(acc, 0.8);
}

/* The test fold sits exactly on the chosen cut: score >= t is accepted.
 * Two folds: fold 0 = (g 1, i 0), fold 1 = (g 0.5, i 0.25). Testing fold 1,
 * training is fold 0 alone: t = 0.5, so the genuine 0.5 is accepted (right)
 * and the impostor 0.25 rejected: 1.0. Testing fold 0, training (0.25 i,
 * 0.5 g): t = 0.375; fold 0 is right: 1.0. */
static void kfold_threshold_inclusive(void **state)
{
	double s[4] = {1, 0, 0.5, 0.25};
	int lab[4] = {1, 0, 1, 0}, fold[4] = {0, 0, 1, 1};
	tvs_kfold_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 4, 2, &r), 0);
	NEAR(r.fold_threshold[0], 0.375);
	NEAR(r.fold_threshold[1], 0.5);
	NEAR(r.accuracy_mean, 1.0);
}

/* Adjacent doubles: the midpoint rounds onto the lower one, so the cut must
 * become the upper one to keep the two apart. */
static void cut_between_adjacent_doubles(void **state)
{
	double hi = nextafter(1.0, 2.0), s[2] = {1.0, hi}, t, acc;
	int lab[2] = {0, 1};

	(void)state;
	assert_int_equal(tvs_verify_eval_best_threshold(s, lab, 2, &t, &acc), 0);
	assert_true(t > 1.0 && t <= hi);
	NEAR(acc, 1.0);
}

/* ------------------------------------------------------------ TAR@FMR */

/* Genuine {0.9, 0.8, 0.7, 0.4}, impostor {0.75, 0.5, 0.3, 0.1, 0.0}.
 * Descending: .9g .8g .75i .7g .5i .4g .3i .1i .0i
 *   target 0.2 (1 impostor):  accept down to .7, cut (.5|.7) = .6, TAR 3/4, FMR .2
 *   target 0.4 (2):           cut (.3|.4) = .35, TAR 1, FMR .4
 *   target 1:                 accept all, t = 0.0, TAR 1, FMR 1
 *   target 0.1 < 1/5:         unresolvable; no impostor: cut (.75|.8) = .775, TAR .5 */
static void tar_small(void **state)
{
	double s[9] = {0.9, 0.8, 0.7, 0.4, 0.75, 0.5, 0.3, 0.1, 0.0};
	int lab[9] = {1, 1, 1, 1, 0, 0, 0, 0, 0};
	tvs_tar_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 9, 0.2, &r), 0);
	NEAR(r.threshold, 0.6);
	NEAR(r.tar, 0.75);
	NEAR(r.fmr, 0.2);
	assert_int_equal(r.resolvable, 1);
	assert_int_equal(r.genuine_accepted, 3);
	assert_int_equal(r.impostor_accepted, 1);
	assert_int_equal(r.n_genuine, 4);
	assert_int_equal(r.n_impostor, 5);
	NEAR(r.fmr_resolution, 0.2);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 9, 0.4, &r), 0);
	NEAR(r.threshold, 0.35);
	NEAR(r.tar, 1.0);
	NEAR(r.fmr, 0.4);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 9, 1.0, &r), 0);
	NEAR(r.threshold, 0.0);
	NEAR(r.tar, 1.0);
	NEAR(r.fmr, 1.0);

	/* 0.3 allows 1 impostor (0.4 > 0.3), like 0.2. */
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 9, 0.3, &r), 0);
	NEAR(r.threshold, 0.6);
	NEAR(r.fmr, 0.2);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 9, 0.1, &r), 0);
	assert_int_equal(r.resolvable, 0);
	NEAR(r.threshold, 0.775);
	NEAR(r.tar, 0.5);
	NEAR(r.fmr, 0.0);
	assert_int_equal(r.impostor_accepted, 0);
}

/* Impostors {5, 5, 1, 0}, genuine {6, 5, 4, 3}. At target 0.25 one
 * impostor is allowed but the top two tie at 5, so neither is taken, nor
 * the genuine 5 tied with them: cut (5|6) = 5.5, TAR 1/4, FMR 0 < 0.25.
 * At 0.5 the 5-group fits: cut (1|3) = 2, TAR 1, FMR 0.5. */
static void tar_ties(void **state)
{
	double s[8] = {5, 5, 1, 0, 6, 5, 4, 3};
	int lab[8] = {0, 0, 0, 0, 1, 1, 1, 1};
	tvs_tar_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 8, 0.25, &r), 0);
	NEAR(r.threshold, 5.5);
	NEAR(r.tar, 0.25);
	NEAR(r.fmr, 0.0);
	assert_int_equal(r.impostor_accepted, 0);
	assert_int_equal(r.resolvable, 1);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 8, 0.5, &r), 0);
	NEAR(r.threshold, 2.0);
	NEAR(r.tar, 1.0);
	NEAR(r.fmr, 0.5);
}

/* LFW-sized: 3000 impostors at j/3000, nine genuine at 2.0 and one at
 * 0.9995 (between 2998/3000 and 2999/3000). FMR 1e-3 allows exactly 3
 * impostors (3/3000 == 1e-3 in double); FMR 1e-4 is below 1/3000: not
 * resolvable, and the zero-impostor cut (above 2999/3000) drops the 0.9995
 * genuine. */
static void tar_lfw_resolution(void **state)
{
	size_t n = 3010, i;
	double *s = malloc(n * sizeof(*s));
	int *lab = malloc(n * sizeof(*lab));
	tvs_tar_result r;

	(void)state;
	assert_non_null(s);
	assert_non_null(lab);
	for (i = 0; i < 3000; i++) {
		s[i] = (double)i / 3000.0;
		lab[i] = 0;
	}
	for (; i < n; i++) {
		s[i] = i == n - 1 ? 0.9995 : 2.0;
		lab[i] = 1;
	}
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, n, 1e-3, &r), 0);
	assert_int_equal(r.resolvable, 1);
	assert_int_equal(r.impostor_accepted, 3);
	NEAR(r.fmr, 1e-3);
	NEAR(r.tar, 1.0);
	NEAR(r.threshold, (2996.0 / 3000 + 2997.0 / 3000) / 2);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, n, 1e-4, &r), 0);
	assert_int_equal(r.resolvable, 0);
	assert_int_equal(r.impostor_accepted, 0);
	NEAR(r.fmr, 0.0);
	NEAR(r.tar, 0.9);
	NEAR(r.fmr_resolution, 1.0 / 3000);
	NEAR(r.threshold, (2999.0 / 3000 + 2.0) / 2);
	free(s);
	free(lab);
}

/* ------------------------------------------------------------ EER, DET */

/* Impostors {0,1,2,3}, genuine {2,3,4,5}: symmetric. Cut 2.5 gives
 * FMR = FNMR = 1/4 exactly. */
static void eer_symmetric(void **state)
{
	double s[8] = {0, 1, 2, 3, 2, 3, 4, 5};
	int lab[8] = {0, 0, 0, 0, 1, 1, 1, 1};
	tvs_eer_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_eer(s, lab, 8, &r), 0);
	NEAR(r.eer, 0.25);
	NEAR(r.threshold, 2.5);
	NEAR(r.fmr, 0.25);
	NEAR(r.fnmr, 0.25);
}

/* Impostors {0,1,2,3}, genuine {2.5, 4}. Cut 2.25: FMR 1/4, FNMR 0; cut
 * 2.75: FMR 1/4, FNMR 1/2. The segment between them crosses FMR = FNMR at
 * 1/4; the cut with the smaller worst error is 2.25. */
static void eer_interpolated(void **state)
{
	double s[6] = {0, 1, 2, 3, 2.5, 4};
	int lab[6] = {0, 0, 0, 0, 1, 1};
	tvs_eer_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_eer(s, lab, 6, &r), 0);
	NEAR(r.eer, 0.25);
	NEAR(r.threshold, 2.25);
	NEAR(r.fmr, 0.25);
	NEAR(r.fnmr, 0.0);
}

/* A crossing between two cuts: impostors {0, 2}, genuine {1, 3, 3}.
 * Cut 1.5 has FMR 1/2, FNMR 1/3; cut 2.5 has FMR 0, FNMR 1/3. With
 * a = 1/2 - 1/3 = 1/6 and b = 0 - 1/3, the segment crosses FMR = FNMR at
 * EER = 1/2 + (1/6)/(1/2) * (0 - 1/2) = 1/3. Cut 2.5 has the smaller
 * worst error (1/3 against 1/2). */
static void eer_between_points(void **state)
{
	double s[5] = {0, 2, 1, 3, 3};
	int lab[5] = {0, 0, 1, 1, 1};
	tvs_eer_result r;

	(void)state;
	assert_int_equal(tvs_verify_eval_eer(s, lab, 5, &r), 0);
	NEAR(r.eer, 1.0 / 3);
	NEAR(r.threshold, 2.5);
	NEAR(r.fmr, 0.0);
	NEAR(r.fnmr, 1.0 / 3);
}

static void det_points(void **state)
{
	double s[8] = {0, 1, 2, 3, 2, 3, 4, 5};
	int lab[8] = {0, 0, 0, 0, 1, 1, 1, 1};
	static const double thr[7] = {0, 0.5, 1.5, 2.5, 3.5, 4.5};
	static const double fmr[7] = {1, 0.75, 0.5, 0.25, 0, 0, 0};
	static const double fnmr[7] = {0, 0, 0, 0.25, 0.5, 0.75, 1};
	tvs_det_point p[10];
	size_t m, i;

	(void)state;
	/* k >= cuts (7): the whole curve. */
	assert_int_equal(tvs_verify_eval_det(s, lab, 8, p, 10, &m), 0);
	assert_int_equal(m, 7);
	for (i = 0; i < 7; i++) {
		if (i < 6)
			NEAR(p[i].threshold, thr[i]);
		NEAR(p[i].fmr, fmr[i]);
		NEAR(p[i].fnmr, fnmr[i]);
	}
	assert_true(p[6].threshold > 5.0);

	/* k = 3: target 1, target 1/4, zero impostors. */
	assert_int_equal(tvs_verify_eval_det(s, lab, 8, p, 3, &m), 0);
	assert_int_equal(m, 3);
	NEAR(p[0].threshold, 0);
	NEAR(p[1].threshold, 2.5);
	NEAR(p[2].threshold, 3.5);
	NEAR(p[2].fmr, 0);
	NEAR(p[2].fnmr, 0.5);

	/* k = 2: the two ends. */
	assert_int_equal(tvs_verify_eval_det(s, lab, 8, p, 2, &m), 0);
	assert_int_equal(m, 2);
	NEAR(p[0].fmr, 1);
	NEAR(p[1].fmr, 0);
}

/* ------------------------------------------------------------ reference */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Every candidate cut of the pairs with fold != skip (all if skip < 0),
 * ascending; returns the count. Integer-valued scores, so (a+b)/2 is exact
 * and equals the library's midpoint. */
static size_t naive_cuts(const double *s, const int *fold, size_t n, int skip, double *cuts)
{
	double *v = malloc(n * sizeof(*v));
	size_t m = 0, k = 0, i;

	assert_non_null(v);
	for (i = 0; i < n; i++) {
		if (skip < 0 || fold[i] != skip)
			v[m++] = s[i];
	}
	qsort(v, m, sizeof(*v), cmp_double);
	cuts[k++] = v[0];
	for (i = 1; i < m; i++) {
		if (v[i] != v[i - 1])
			cuts[k++] = (v[i - 1] + v[i]) / 2;
	}
	cuts[k++] = nextafter(v[m - 1], INFINITY);
	free(v);
	return k;
}

static void random_against_naive(void **state)
{
	enum { N = 400, F = 10 };
	static double s[N], cuts[N + 2];
	static int lab[N], fold[N];
	int round;

	(void)state;
	for (round = 0; round < 50; round++) {
		tvs_kfold_result r;
		tvs_tar_result tr;
		size_t i, c, nc, nimp = 0;
		int f;

		for (i = 0; i < N; i++) {
			lab[i] = (int)(rnd() % 2);
			/* Overlapping classes on a coarse grid: many ties. */
			s[i] = (double)(rnd() % 12) + (lab[i] ? 4 : 0);
			fold[i] = (int)(i % F);
			nimp += (size_t)!lab[i];
		}
		assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, N, F, &r), 0);
		for (f = 0; f < F; f++) {
			size_t best = 0, right = 0, ntest = 0;
			double best_t = 0;

			nc = naive_cuts(s, fold, N, f, cuts);
			for (c = 0; c < nc; c++) {
				size_t good = 0;

				for (i = 0; i < N; i++) {
					if (fold[i] != f)
						good += (size_t)((s[i] >= cuts[c]) == (lab[i] == 1));
				}
				if (good >= best) {
					best = good;
					best_t = cuts[c];
				}
			}
			for (i = 0; i < N; i++) {
				if (fold[i] == f) {
					right += (size_t)((s[i] >= best_t) == (lab[i] == 1));
					ntest++;
				}
			}
			NEAR(r.fold_threshold[f], best_t);
			NEAR(r.fold_accuracy[f], (double)right / (double)ntest);
		}

		nc = naive_cuts(s, fold, N, -1, cuts);
		for (int t = 0; t < 4; t++) {
			static const double target[4] = {0.001, 0.01, 0.1, 0.5};
			size_t acc_imp = 0, acc_gen = 0, ngen = N - nimp;

			for (c = 0; c < nc; c++) {
				acc_imp = acc_gen = 0;
				for (i = 0; i < N; i++) {
					if (s[i] >= cuts[c]) {
						acc_gen += (size_t)lab[i];
						acc_imp += (size_t)!lab[i];
					}
				}
				if ((double)acc_imp / (double)nimp <= target[t])
					break;
			}
			assert_true(c < nc);
			assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, N, target[t], &tr), 0);
			NEAR(tr.threshold, cuts[c]);
			NEAR(tr.tar, (double)acc_gen / (double)ngen);
			NEAR(tr.fmr, (double)acc_imp / (double)nimp);
			assert_int_equal(tr.resolvable, target[t] * (double)nimp >= 1.0);
		}
	}
}

/* ------------------------------------------------------------ bad args */

static void bad_arguments(void **state)
{
	double s[4] = {0, 1, 2, 3}, t, acc;
	int lab[4] = {0, 1, 0, 1}, fold[4] = {0, 0, 1, 1}, bad_lab[4] = {0, 2, 0, 1};
	int one_class[4] = {1, 1, 1, 1}, bad_fold[4] = {0, 0, 1, 2}, gap_fold[4] = {0, 0, 2, 2};
	double nan_s[4] = {0, NAN, 2, 3}, inf_s[4] = {0, INFINITY, 2, 3};
	tvs_kfold_result kr;
	tvs_tar_result tr;
	tvs_eer_result er;
	tvs_det_point p[4];
	size_t m;

	(void)state;
	assert_int_equal(tvs_verify_eval_kfold(NULL, lab, fold, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, NULL, fold, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, NULL, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 4, 2, NULL), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 0, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 4, 1, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, fold, 4, TVS_VERIFY_EVAL_MAX_FOLDS + 1, &kr),
			 TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, bad_fold, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(s, lab, gap_fold, 4, 3, &kr), TVS_EINVAL);
	assert_true(strstr(tvs_errmsg(), "fold 1 is empty") != NULL);
	assert_int_equal(tvs_verify_eval_kfold(s, bad_lab, fold, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(nan_s, lab, fold, 4, 2, &kr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_kfold(inf_s, lab, fold, 4, 2, &kr), TVS_EINVAL);

	assert_int_equal(tvs_verify_eval_best_threshold(s, lab, 4, NULL, &acc), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_best_threshold(s, lab, 4, &t, NULL), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_best_threshold(s, lab, 0, &t, &acc), TVS_EINVAL);

	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 4, 0.0, &tr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 4, -0.1, &tr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 4, 1.5, &tr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 4, NAN, &tr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, lab, 4, 0.1, NULL), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(s, one_class, 4, 0.1, &tr), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_tar_at_fmr(nan_s, lab, 4, 0.1, &tr), TVS_EINVAL);

	assert_int_equal(tvs_verify_eval_eer(s, one_class, 4, &er), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_eer(s, lab, 4, NULL), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_eer(NULL, lab, 4, &er), TVS_EINVAL);

	assert_int_equal(tvs_verify_eval_det(s, lab, 4, p, 1, &m), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_det(s, lab, 4, NULL, 4, &m), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_det(s, lab, 4, p, 4, NULL), TVS_EINVAL);
	assert_int_equal(tvs_verify_eval_det(s, one_class, 4, p, 4, &m), TVS_EINVAL);
}

/* ------------------------------------------------------------ LFW pairs */

static int parse(const char *text, int max_folds, tvs_lfw_pairs *p)
{
	return tvs_verify_eval_parse_lfw_pairs(text, strlen(text), max_folds, p);
}

static void lfw_parse_ok(void **state)
{
	const char *text = "2\t2\r\n"
			   "Zed_A\t1\t2\r\n"
			   "Ann_B\t1\t3\r\n"
			   "Zed_A\t2\tAnn_B\t1\r\n"
			   "Carrie-Anne_Moss\t1\tO'Neil_X\t10\r\n"
			   "Ann_B 3 4\n"
			   "Zed_A   1   2\n"
			   "Ann_B\t4\tZed_A\t1\n"
			   "Abc.D\t7\tZed_A\t2\n"
			   "\n\n";
	tvs_lfw_pairs p;
	size_t i;

	(void)state;
	assert_int_equal(parse(text, 0, &p), 0);
	assert_int_equal(p.declared_folds, 2);
	assert_int_equal(p.per_class, 2);
	assert_int_equal(p.nfolds, 2);
	assert_int_equal(p.npairs, 8);
	/* Unique: Abc.D 7, Ann_B 1 3 4, Carrie-Anne_Moss 1, O'Neil_X 10, Zed_A 1 2. */
	assert_int_equal(p.nimages, 8);
	assert_string_equal(p.images[0].name, "Abc.D");
	assert_int_equal(p.images[0].num, 7);
	assert_string_equal(p.images[1].name, "Ann_B");
	assert_int_equal(p.images[1].num, 1);
	assert_string_equal(p.images[7].name, "Zed_A");
	assert_int_equal(p.images[7].num, 2);
	for (i = 1; i < p.nimages; i++) {
		int c = strcmp(p.images[i - 1].name, p.images[i].name);

		assert_true(c < 0 || (c == 0 && p.images[i - 1].num < p.images[i].num));
	}
	/* Pair 0: Zed_A 1 vs Zed_A 2, genuine, fold 0. */
	assert_int_equal(p.pairs[0].label, 1);
	assert_int_equal(p.pairs[0].fold, 0);
	assert_string_equal(p.images[p.pairs[0].image[0]].name, "Zed_A");
	assert_int_equal(p.images[p.pairs[0].image[0]].num, 1);
	assert_int_equal(p.images[p.pairs[0].image[1]].num, 2);
	/* Pair 3: Carrie-Anne_Moss 1 vs O'Neil_X 10, impostor. */
	assert_int_equal(p.pairs[3].label, 0);
	assert_string_equal(p.images[p.pairs[3].image[1]].name, "O'Neil_X");
	assert_int_equal(p.images[p.pairs[3].image[1]].num, 10);
	/* Pair 7 is in fold 1. */
	assert_int_equal(p.pairs[7].fold, 1);
	assert_int_equal(p.pairs[7].label, 0);
	assert_int_equal(p.pairs[4].label, 1);
	tvs_verify_eval_lfw_pairs_free(&p);
	tvs_verify_eval_lfw_pairs_free(&p);
	tvs_verify_eval_lfw_pairs_free(NULL);

	/* Only the first fold; what follows it is not read. */
	assert_int_equal(parse("2 1\nA 1 2\nA 1 B 1\ngarbage\n", 1, &p), 0);
	assert_int_equal(p.nfolds, 1);
	assert_int_equal(p.npairs, 2);
	assert_int_equal(p.nimages, 3);
	tvs_verify_eval_lfw_pairs_free(&p);

	/* No final newline. */
	assert_int_equal(parse("1 1\nA 1 2\nA 1 B 1", 0, &p), 0);
	assert_int_equal(p.npairs, 2);
	tvs_verify_eval_lfw_pairs_free(&p);
}

static void expect_format_error(const char *text, const char *detail)
{
	tvs_lfw_pairs p;
	int rc = parse(text, 0, &p);

	if (rc != TVS_EFORMAT || !strstr(tvs_errmsg(), detail)) {
		print_error("input %s: rc %d, detail '%s', want '%s'\n", text, rc, tvs_errmsg(), detail);
		fail();
	}
	assert_null(p.pairs);
	assert_null(p.images);
	assert_int_equal(p.npairs, 0);
}

static void lfw_parse_errors(void **state)
{
	char long_line[700];
	tvs_lfw_pairs p;

	(void)state;
	expect_format_error("", "line 1: empty");
	expect_format_error("10\n", "line 1:");
	expect_format_error("10 300 1\n", "line 1:");
	expect_format_error("0 300\n", "line 1: fold count 0");
	expect_format_error("65 300\n", "line 1: fold count 65");
	expect_format_error("x 300\n", "line 1: fold count");
	expect_format_error("1 -3\n", "line 1: pairs per class");
	expect_format_error("1 1\nA 1\n", "line 2: fold 1 wants a same-person line");
	expect_format_error("1 1\nA 1 2\nA 1 2\n", "line 3: fold 1 wants a different-person line");
	expect_format_error("1 1\nA 0 2\n", "line 2: image number 0 outside");
	expect_format_error("1 1\nA 1 10000\n", "line 2: image number 10000 outside");
	expect_format_error("1 1\nA 1 99999999999\n", "line 2: image number");
	expect_format_error("1 1\nA 1 2x\n", "line 2: image number '2x'");
	expect_format_error("1 1\nA 2 2\n", "line 2: same-person pair names one image twice");
	expect_format_error("1 1\nA 1 2\nB 1 B 2\n", "line 3: different-person pair names one person");
	expect_format_error("1 1\n..etc 1 2\n", "line 2: name '..etc' starts with '.'");
	expect_format_error("1 1\n../etc 1 2\n", "line 2: name has a disallowed byte 0x2f");
	expect_format_error("1 1\na/b 1 2\n", "line 2: name has a disallowed byte 0x2f");
	expect_format_error("1 1\nA 1 2\nA 1 \xc3\xa9 1\n", "line 3: name has a disallowed byte 0xc3");
	expect_format_error("1 1\nA 1 2\n", "line 3: file ends after 1 of 2");
	expect_format_error("1 1\nA 1 2\nA 1 B 1\nC 1 2\n", "line 4: content after the 1 declared folds");
	expect_format_error("1 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1 2\n",
			    "line 2: name of 64 bytes");

	memset(long_line, 'A', sizeof(long_line));
	memcpy(long_line, "1 1\n", 4);
	long_line[sizeof(long_line) - 1] = '\0';
	expect_format_error(long_line, "line 2: longer than 512 bytes");

	/* A NUL byte inside the buffer. */
	assert_int_equal(tvs_verify_eval_parse_lfw_pairs("1 1\nA 1\0 2\nA 1 B 1\n", 18, 0, &p), TVS_EFORMAT);
	assert_true(strstr(tvs_errmsg(), "line 2: contains a NUL") != NULL);

	/* Too many pairs in all. */
	assert_int_equal(parse("64 100000\n", 0, &p), TVS_ETOOBIG);
	assert_int_equal(tvs_verify_eval_parse_lfw_pairs(NULL, 0, 0, &p), TVS_EINVAL);
	assert_int_equal(parse("1 1\n", -1, &p), TVS_EINVAL);
	assert_int_equal(parse("1 1\n", 0, NULL), TVS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kfold_separable),
		cmocka_unit_test(kfold_overlap),
		cmocka_unit_test(best_threshold_ties),
		cmocka_unit_test(kfold_threshold_inclusive),
		cmocka_unit_test(cut_between_adjacent_doubles),
		cmocka_unit_test(tar_small),
		cmocka_unit_test(tar_ties),
		cmocka_unit_test(tar_lfw_resolution),
		cmocka_unit_test(eer_symmetric),
		cmocka_unit_test(eer_interpolated),
		cmocka_unit_test(eer_between_points),
		cmocka_unit_test(det_points),
		cmocka_unit_test(random_against_naive),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(lfw_parse_ok),
		cmocka_unit_test(lfw_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
