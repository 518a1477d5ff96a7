/*
 * Identification (1:N) evaluation metrics in the style of NIST IR 8381 and
 * ISO/IEC 19795-1: FPIR, FNIR, FNIR at a target FPIR, rank-1 hit rate and
 * the exact DET curve. Pure computation: no I/O, no globals, no allocation
 * except a sorted copy of the scores inside the functions that say so.
 *
 * Conventions:
 *
 *  - A score is a similarity, higher = more alike; the metrics below do not
 *    care which. `tvs eval ident` takes the service's: the cosine of the
 *    rank-1 hit of tvs_gallery_search (include/tvs/match.h), so its
 *    thresholds go into calibration files as they are. The brute-force
 *    tvs_ident_eval_search below uses score = -euclidean distance of raw
 *    descriptors (a threshold t is the distance -t).
 *  - Scores of one search against every enrolled template are fused per
 *    identity by MAX; the candidate list is the single rank-1 identity and
 *    its fused score. Since max over identities of max over templates is
 *    the best template, the rank-1 identity is that template's identity.
 *    Exact ties go to the template listed first.
 *  - A search is MATED when its subject is enrolled (mate >= 0) and
 *    NON-MATED otherwise (mate = -1). A search that failed to acquire a
 *    face (acquired = 0) returns no candidate: a miss for a mated search at
 *    every threshold, a correct rejection for a non-mated one (as NIST FRVT
 *    1:N counts failures). Both stay in their denominators.
 *  - FPIR(t) = non-mated searches whose rank-1 score >= t / non-mated searches.
 *  - FNIR(t) = mated searches whose rank-1 identity is not the mate, or is
 *    the mate with score < t, or that failed to acquire / mated searches.
 *    With a one-entry candidate list this is NIST's "mate not on the
 *    candidate list at or above threshold".
 *  - Thresholds reported by tvs_ident_eval_fnir_at_fpir are cuts between
 *    distinct observed rank-1 scores (midpoints), so tied scores always get
 *    the same decision and an operating point is never interpolated.
 */
#ifndef TVS_IDENT_EVAL_H
#define TVS_IDENT_EVAL_H

#include <stddef.h>

typedef struct tvs_ident_search {
	int mate;         /* enrolled identity of the searched subject, -1 if non-mated */
	int acquired;     /* 0: no usable face, no candidate returned */
	int top_id;       /* rank-1 identity (when acquired) */
	double top_score; /* its fused (max) similarity (when acquired); finite */
} tvs_ident_search;

/* Search probe[0..dim) against ntempl templates (row-major templ[ntempl][dim],
 * template i belonging to identity templ_id[i] >= 0): fills out->top_id and
 * out->top_score (= -euclidean distance to the nearest template), sets
 * out->acquired = 1 and leaves out->mate unchanged. TVS_EINVAL on NULL
 * arguments, ntempl == 0, dim == 0, a negative id, or a NaN or infinite
 * distance to any template. */
int tvs_ident_eval_search(const float *templ, const int *templ_id, size_t ntempl, size_t dim, const float *probe,
			  tvs_ident_search *out);

typedef struct tvs_ident_rates {
	double threshold;
	size_t n_mated, n_nonmated;
	size_t nonmated_accepted; /* rank-1 score >= threshold */
	size_t mated_missed;      /* FNIR numerator */
	double fpir;              /* nonmated_accepted / n_nonmated (NAN if none) */
	double fnir;              /* mated_missed / n_mated (NAN if none) */
} tvs_ident_rates;

/* FPIR and FNIR at threshold t (finite). TVS_EINVAL on NULL, n == 0 or a
 * malformed search (acquired with a non-finite score or top_id < 0). */
int tvs_ident_eval_rates(const tvs_ident_search *s, size_t n, double t, tvs_ident_rates *out);

typedef struct tvs_ident_op {
	double target_fpir;
	double threshold;       /* accept iff score >= threshold */
	double fpir;            /* achieved, <= target_fpir when resolvable */
	double fnir;
	double fpir_resolution; /* 1 / n_nonmated */
	size_t n_mated, n_nonmated, nonmated_accepted, mated_missed;
	int resolvable;         /* 0 when target_fpir < 1 / n_nonmated */
} tvs_ident_op;

/* FNIR at a target FPIR, the threshold set on the non-mated rank-1 scores:
 * with k = the largest count such that k / n_nonmated <= target, the lowest
 * cut accepting at most k non-mated searches: the midpoint between the
 * (k+1)-th highest non-mated score and the next higher observed rank-1
 * score of any search (or the next double above it when none is higher);
 * when k covers every acquired non-mated search, the lowest observed score
 * (accept all). Non-mated searches tied at the cut are all rejected, so the
 * achieved FPIR may be below the target: read fpir. When the target is
 * below 1 / n_nonmated it cannot be measured: resolvable = 0 and the result
 * is the lowest cut accepting no non-mated search, an optimistic stand-in.
 * Needs n_mated >= 1, n_nonmated >= 1 and 0 < target <= 1; else TVS_EINVAL.
 * Allocates a score copy (TVS_ENOMEM). */
int tvs_ident_eval_fnir_at_fpir(const tvs_ident_search *s, size_t n, double target_fpir, tvs_ident_op *out);

/* Rank-1 hit rate over the mated searches (no threshold): *hits of *n_mated
 * have the mate at rank 1. TVS_EINVAL on NULL or no mated search. */
int tvs_ident_eval_rank1(const tvs_ident_search *s, size_t n, double *rate, size_t *hits, size_t *n_mated);

typedef struct tvs_ident_det_point {
	double threshold, fpir, fnir;
} tvs_ident_det_point;

/* The exact DET curve: one point per distinct cut of the acquired non-mated
 * rank-1 scores (the cut just above each distinct non-mated score, from the
 * highest down), then the accept-all cut, so FPIR rises from 0 to the
 * acquired fraction. pts needs room for n_nonmated + 1 points; cap is its
 * size, *npts the count written. TVS_EINVAL if cap is too small or a class
 * is empty; TVS_ENOMEM. */
int tvs_ident_eval_det(const tvs_ident_search *s, size_t n, tvs_ident_det_point *pts, size_t cap, size_t *npts);

/* ---------------------------------------------------------- DET plot */

typedef struct tvs_ident_plot_mark {
	double fpir, fnir; /* marked operating point */
	const char *label; /* short text drawn next to it, may be NULL */
} tvs_ident_plot_mark;

/* Draw FNIR against FPIR on log-log axes (FPIR from fpir_min to 1) and write
 * a PNG to path (src/match/det_plot.c, cairo). Points with FPIR < fpir_min
 * are left out; FNIR below the axis floor (or 0) is drawn on the floor.
 * title may be NULL. Returns 0, TVS_EINVAL (n < 1, fpir_min not in (0, 1)),
 * TVS_ENOMEM or TVS_EIO (cairo's status in tvs_errmsg()). */
int tvs_ident_plot_det_png(const char *path, const tvs_ident_det_point *pts, size_t n, double fpir_min,
			   const tvs_ident_plot_mark *marks, size_t nmarks, const char *title);

#endif
