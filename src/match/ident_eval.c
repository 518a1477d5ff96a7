/*
 * Identification (1:N) metrics: FPIR/FNIR, FNIR at a target FPIR, rank-1
 * and the exact DET curve (definitions in include/tvs/ident_eval.h).
 *
 * Every operating point is computed from two sorted arrays: the acquired
 * non-mated rank-1 scores (descending) and the rank-1 scores of the mated
 * searches whose rank-1 identity is the mate ("hits", ascending). A cut t
 * then accepts the non-mated scores >= t (a prefix of the first array) and
 * misses the mated searches that are not hits plus the hits below t (a
 * prefix of the second, found by binary search). The DET curve is a sweep
 * over the distinct non-mated scores, O(N log N) in all. The plain
 * O(N) tvs_ident_eval_rates is the reference the tests check the sweep
 * against.
 */
#include "tvs/ident_eval.h"

#include "tvs/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tvs_ident_eval_search(const float *templ, const int *templ_id, size_t ntempl, size_t dim, const float *probe,
			  tvs_ident_search *out)
{
	double best = INFINITY;
	size_t bi = 0;

	if (!templ || !templ_id || !probe || !out || ntempl == 0 || dim == 0)
		return tvs__err(TVS_EINVAL, "ident_eval: search needs templates, a probe and out");
	for (size_t i = 0; i < ntempl; i++) {
		const float *t = templ + i * dim;
		double s = 0;

		for (size_t j = 0; j < dim; j++) {
			double d = (double)t[j] - probe[j];
			s += d * d;
		}
		if (isnan(s))
			return tvs__err(TVS_EINVAL, "ident_eval: NaN distance to template %zu", i);
		if (s < best) { /* strict: ties go to the first template */
			best = s;
			bi = i;
		}
	}
	if (!isfinite(best))
		return tvs__err(TVS_EINVAL, "ident_eval: non-finite distance (NaN or Inf in a descriptor)");
	if (templ_id[bi] < 0)
		return tvs__err(TVS_EINVAL, "ident_eval: template %zu has negative identity %d", bi, templ_id[bi]);
	out->acquired = 1;
	out->top_id = templ_id[bi];
	out->top_score = -sqrt(best);
	return 0;
}

static int check_searches(const tvs_ident_search *s, size_t n)
{
	if (!s || n == 0)
		return tvs__err(TVS_EINVAL, "ident_eval: no searches");
	for (size_t i = 0; i < n; i++) {
		if (s[i].acquired && (!isfinite(s[i].top_score) || s[i].top_id < 0))
			return tvs__err(TVS_EINVAL, "ident_eval: search %zu: bad rank-1 candidate", i);
		if (s[i].mate < -1)
			return tvs__err(TVS_EINVAL, "ident_eval: search %zu: mate %d", i, s[i].mate);
	}
	return 0;
}

static int is_hit(const tvs_ident_search *s)
{
	return s->mate >= 0 && s->acquired && s->top_id == s->mate;
}

int tvs_ident_eval_rates(const tvs_ident_search *s, size_t n, double t, tvs_ident_rates *out)
{
	int rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "ident_eval: rates needs out");
	memset(out, 0, sizeof(*out));
	if (!isfinite(t))
		return tvs__err(TVS_EINVAL, "ident_eval: threshold must be finite");
	rc = check_searches(s, n);
	if (rc)
		return rc;
	out->threshold = t;
	for (size_t i = 0; i < n; i++) {
		if (s[i].mate < 0) {
			out->n_nonmated++;
			out->nonmated_accepted += (size_t)(s[i].acquired && s[i].top_score >= t);
		} else {
			out->n_mated++;
			out->mated_missed += (size_t)!(is_hit(&s[i]) && s[i].top_score >= t);
		}
	}
	out->fpir = out->n_nonmated ? (double)out->nonmated_accepted / (double)out->n_nonmated : NAN;
	out->fnir = out->n_mated ? (double)out->mated_missed / (double)out->n_mated : NAN;
	return 0;
}

int tvs_ident_eval_rank1(const tvs_ident_search *s, size_t n, double *rate, size_t *hits, size_t *n_mated)
{
	size_t h = 0, m = 0;
	int rc;

	if (!rate || !hits || !n_mated)
		return tvs__err(TVS_EINVAL, "ident_eval: rank1 needs out-params");
	rc = check_searches(s, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		m += (size_t)(s[i].mate >= 0);
		h += (size_t)is_hit(&s[i]);
	}
	if (m == 0)
		return tvs__err(TVS_EINVAL, "ident_eval: no mated search");
	*rate = (double)h / (double)m;
	*hits = h;
	*n_mated = m;
	return 0;
}

/* ------------------------------------------------------------ sweep */

typedef struct sweep {
	double *nm;     /* acquired non-mated rank-1 scores, descending */
	size_t nnm;
	double *hit;    /* rank-1 scores of mated hits, ascending */
	size_t nhit;
	size_t n_mated, n_nonmated;
} sweep;

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

static int cmp_asc(const void *a, const void *b)
{
	return cmp_desc(b, a);
}

static void sweep_free(sweep *w)
{
	free(w->nm);
	free(w->hit);
	memset(w, 0, sizeof(*w));
}

static int sweep_build(const tvs_ident_search *s, size_t n, sweep *w)
{
	int rc;

	memset(w, 0, sizeof(*w));
	rc = check_searches(s, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (s[i].mate < 0)
			w->n_nonmated++;
		else
			w->n_mated++;
	}
	if (w->n_mated == 0 || w->n_nonmated == 0)
		return tvs__err(TVS_EINVAL, "ident_eval: need mated and non-mated searches (%zu, %zu)", w->n_mated,
				w->n_nonmated);
	w->nm = malloc(w->n_nonmated * sizeof(double));
	w->hit = malloc(w->n_mated * sizeof(double));
	if (!w->nm || !w->hit) {
		sweep_free(w);
		return tvs__err(TVS_ENOMEM, "ident_eval: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i].mate < 0 && s[i].acquired)
			w->nm[w->nnm++] = s[i].top_score;
		else if (is_hit(&s[i]))
			w->hit[w->nhit++] = s[i].top_score;
	}
	qsort(w->nm, w->nnm, sizeof(double), cmp_desc);
	qsort(w->hit, w->nhit, sizeof(double), cmp_asc);
	return 0;
}

/* Number of hits scoring below t. */
static size_t hits_below(const sweep *w, double t)
{
	size_t lo = 0, hi = w->nhit;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->hit[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The cut just above nm[i], where i is the first index holding its value:
 * the midpoint to the next higher observed score (nm[i-1] or a hit). */
static double cut_above(const sweep *w, size_t i)
{
	double v = w->nm[i], next = INFINITY, t;
	size_t j = hits_below(w, v);

	while (j < w->nhit && w->hit[j] <= v)
		j++;
	if (j < w->nhit)
		next = w->hit[j];
	if (i > 0 && w->nm[i - 1] < next)
		next = w->nm[i - 1];
	if (isinf(next))
		return nextafter(v, INFINITY);
	t = v + (next - v) / 2;
	return t > v ? t : next;
}

/* The accept-all cut: the lowest observed score. */
static double cut_all(const sweep *w)
{
	double lo = INFINITY;

	if (w->nnm)
		lo = w->nm[w->nnm - 1];
	if (w->nhit && w->hit[0] < lo)
		lo = w->hit[0];
	return isinf(lo) ? 0.0 : lo;
}

static void sweep_point(const sweep *w, double t, size_t nm_accepted, tvs_ident_det_point *p, size_t *missed)
{
	size_t miss = (w->n_mated - w->nhit) + hits_below(w, t);

	p->threshold = t;
	p->fpir = (double)nm_accepted / (double)w->n_nonmated;
	p->fnir = (double)miss / (double)w->n_mated;
	if (missed)
		*missed = miss;
}

static size_t fpir_allowed(double target, size_t n)
{
	double f = floor(target * (double)n);
	size_t k = f >= (double)n ? n : (size_t)f;

	while (k < n && (double)(k + 1) / (double)n <= target)
		k++;
	while (k > 0 && (double)k / (double)n > target)
		k--;
	return k;
}

int tvs_ident_eval_fnir_at_fpir(const tvs_ident_search *s, size_t n, double target_fpir, tvs_ident_op *out)
{
	tvs_ident_det_point p;
	size_t k, i, accepted, missed;
	double t;
	sweep w;
	int rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "ident_eval: fnir_at_fpir needs out");
	memset(out, 0, sizeof(*out));
	if (!(target_fpir > 0 && target_fpir <= 1))
		return tvs__err(TVS_EINVAL, "ident_eval: target FPIR %g outside (0, 1]", target_fpir);
	rc = sweep_build(s, n, &w);
	if (rc)
		return rc;
	k = fpir_allowed(target_fpir, w.n_nonmated);
	if (k >= w.nnm) {
		t = cut_all(&w);
		accepted = w.nnm;
	} else {
		for (i = k; i > 0 && w.nm[i - 1] == w.nm[k]; i--)
			;
		t = cut_above(&w, i);
		accepted = i;
	}
	sweep_point(&w, t, accepted, &p, &missed);
	out->target_fpir = target_fpir;
	out->threshold = t;
	out->fpir = p.fpir;
	out->fnir = p.fnir;
	out->fpir_resolution = 1.0 / (double)w.n_nonmated;
	out->n_mated = w.n_mated;
	out->n_nonmated = w.n_nonmated;
	out->nonmated_accepted = accepted;
	out->mated_missed = missed;
	out->resolvable = k >= 1;
	sweep_free(&w);
	return 0;
}

int tvs_ident_eval_det(const tvs_ident_search *s, size_t n, tvs_ident_det_point *pts, size_t cap, size_t *npts)
{
	size_t m = 0, i;
	sweep w;
	int rc;

	if (!pts || !npts)
		return tvs__err(TVS_EINVAL, "ident_eval: det needs pts and npts");
	*npts = 0;
	rc = sweep_build(s, n, &w);
	if (rc)
		return rc;
	if (cap < w.n_nonmated + 1) {
		sweep_free(&w);
		return tvs__err(TVS_EINVAL, "ident_eval: det needs room for %zu points, got %zu", w.n_nonmated + 1,
				cap);
	}
	for (i = 0; i < w.nnm; i++) {
		if (i > 0 && w.nm[i] == w.nm[i - 1])
			continue;
		sweep_point(&w, cut_above(&w, i), i, &pts[m++], NULL);
	}
	sweep_point(&w, cut_all(&w), w.nnm, &pts[m++], NULL);
	*npts = m;
	sweep_free(&w);
	return 0;
}
