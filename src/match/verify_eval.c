/*
 * Verification metrics (k-fold accuracy, TAR@FMR, EER, DET) and the LFW
 * pairs.txt parser. Conventions are in include/tvs/verify_eval.h.
 *
 * Every metric starts the same way: copy (score, label, fold) into records
 * and qsort them by score, ascending. The set of distinct thresholds is then
 * the set of "cuts": cut c sits between distinct-score group c-1 and group
 * c, and accepts groups c..G-1. Counting genuine and impostor pairs per
 * group turns every question into a walk over the G+1 cuts, so the whole
 * thing is O(N log N) for the sort plus O(N) per walk. The k-fold protocol
 * walks the same sorted array once per fold, skipping the held-out fold,
 * instead of re-sorting each training set.
 *
 * Ties: records with equal scores form one group and are always accepted or
 * rejected together. That makes results independent of qsort's (unstable)
 * order among equal keys.
 */
#include "tvs/verify_eval.h"

#include "tvs/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ records */

typedef struct scored {
	double s;
	int label;
	int fold;
} scored;

static int cmp_scored(const void *pa, const void *pb)
{
	double a = ((const scored *)pa)->s, b = ((const scored *)pb)->s;

	return (a > b) - (a < b);
}

/* Validate the common arguments and count the classes. */
static int check_pairs(const double *score, const int *label, size_t n, size_t *ngen, size_t *nimp)
{
	size_t i, g = 0;

	if (!score || !label || n == 0)
		return tvs__err(TVS_EINVAL, "verify_eval: need score, label and n > 0");
	if (n > SIZE_MAX / sizeof(scored) - 1)
		return tvs__err(TVS_EINVAL, "verify_eval: n too large");
	for (i = 0; i < n; i++) {
		if (!isfinite(score[i]))
			return tvs__err(TVS_EINVAL, "verify_eval: score[%zu] is not finite", i);
		if (label[i] != 0 && label[i] != 1)
			return tvs__err(TVS_EINVAL, "verify_eval: label[%zu] = %d, want 0 or 1", i, label[i]);
		g += (size_t)label[i];
	}
	*ngen = g;
	*nimp = n - g;
	return 0;
}

/* Sorted copy of the pairs; caller frees *out. fold may be NULL. */
static int sort_pairs(const double *score, const int *label, const int *fold, size_t n, scored **out)
{
	scored *r;
	size_t i;

	r = malloc(n * sizeof(*r));
	if (!r)
		return tvs__err(TVS_ENOMEM, "verify_eval: %zu records", n);
	for (i = 0; i < n; i++) {
		r[i].s = score[i];
		r[i].label = label[i];
		r[i].fold = fold ? fold[i] : 0;
	}
	qsort(r, n, sizeof(*r), cmp_scored);
	*out = r;
	return 0;
}

/* A cut strictly above a and at most b (a < b): their midpoint, or b when
 * the two are adjacent doubles and the midpoint rounds back onto a. */
static double cut_between(double a, double b)
{
	double m = a / 2 + b / 2;

	if (!(m > a) || m > b)
		m = b;
	return m;
}

/* The cut that accepts nothing when the highest score is top. */
static double cut_above(double top)
{
	return nextafter(top, INFINITY);
}

/* ------------------------------------------------------------ curve */

/* Cut c in [0, ng] accepts groups c..ng-1: gen_acc[c] genuine and
 * imp_acc[c] impostor pairs. v[c] (c < ng) is group c's score. */
typedef struct curve {
	size_t ng, ngen, nimp;
	double *v;
	size_t *gen_acc, *imp_acc;
} curve;

static void curve_free(curve *c)
{
	free(c->v);
	free(c->gen_acc);
	free(c->imp_acc);
	memset(c, 0, sizeof(*c));
}

/* Build the cut table of all pairs; needs both classes. */
static int curve_build(const double *score, const int *label, size_t n, curve *c)
{
	scored *r = NULL;
	size_t i, g, ngen, nimp;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = check_pairs(score, label, n, &ngen, &nimp);
	if (rc)
		return rc;
	if (ngen == 0 || nimp == 0)
		return tvs__err(TVS_EINVAL, "verify_eval: need genuine and impostor pairs (have %zu and %zu)",
				ngen, nimp);
	rc = sort_pairs(score, label, NULL, n, &r);
	if (rc)
		return rc;
	c->v = malloc(n * sizeof(*c->v));
	c->gen_acc = malloc((n + 1) * sizeof(*c->gen_acc));
	c->imp_acc = malloc((n + 1) * sizeof(*c->imp_acc));
	if (!c->v || !c->gen_acc || !c->imp_acc) {
		rc = tvs__err(TVS_ENOMEM, "verify_eval: cut table of %zu", n);
		goto fail_alloc;
	}
	/* Per-group counts in gen_acc/imp_acc first, then suffix sums. */
	for (i = 0, g = 0; i < n; g++) {
		double v = r[i].s;

		c->v[g] = v;
		c->gen_acc[g] = c->imp_acc[g] = 0;
		for (; i < n && r[i].s == v; i++) {
			if (r[i].label)
				c->gen_acc[g]++;
			else
				c->imp_acc[g]++;
		}
	}
	c->ng = g;
	c->gen_acc[g] = c->imp_acc[g] = 0;
	while (g-- > 0) {
		c->gen_acc[g] += c->gen_acc[g + 1];
		c->imp_acc[g] += c->imp_acc[g + 1];
	}
	c->ngen = ngen;
	c->nimp = nimp;
	free(r);
	return 0;

fail_alloc:
	curve_free(c);
	free(r);
	return rc;
}

static double curve_threshold(const curve *c, size_t cut)
{
	if (cut == 0)
		return c->v[0];
	if (cut >= c->ng)
		return cut_above(c->v[c->ng - 1]);
	return cut_between(c->v[cut - 1], c->v[cut]);
}

static double curve_fmr(const curve *c, size_t cut)
{
	return (double)c->imp_acc[cut] / (double)c->nimp;
}

static double curve_fnmr(const curve *c, size_t cut)
{
	return (double)(c->ngen - c->gen_acc[cut]) / (double)c->ngen;
}

/* The largest impostor count k with k / nimp <= target (as computed in
 * double, the same expression that reports the achieved FMR). */
static size_t impostors_allowed(double target, size_t nimp)
{
	double f = floor(target * (double)nimp);
	size_t k = f >= (double)nimp ? nimp : (size_t)f;

	while (k < nimp && (double)(k + 1) / (double)nimp <= target)
		k++;
	while (k > 0 && (double)k / (double)nimp > target)
		k--;
	return k;
}

/* The lowest cut accepting at most kmax impostors (imp_acc falls with c). */
static size_t curve_cut_for(const curve *c, size_t kmax)
{
	size_t lo = 0, hi = c->ng;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->imp_acc[mid] <= kmax)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* ------------------------------------------------------------ k-fold */

/* Sweep the sorted records, ignoring fold `skip` (-1: none), for the cut
 * with the most correct decisions; ties go to the highest cut. */
static void best_cut(const scored *r, size_t n, int skip, double *thr, size_t *correct, size_t *ntrain)
{
	size_t i = 0, good = 0, best, m = 0;
	double best_t;

	while (i < n && r[i].fold == skip)
		i++;
	if (i == n) {
		*thr = 0;
		*correct = *ntrain = 0;
		return;
	}
	for (size_t j = i; j < n; j++) {
		if (r[j].fold != skip) {
			good += (size_t)r[j].label; /* cut 0 accepts all: genuine are right */
			m++;
		}
	}
	best = good;
	best_t = r[i].s;
	while (i < n) {
		double v = r[i].s, t;
		size_t gen = 0, imp = 0;

		for (; i < n && r[i].s == v; i++) {
			if (r[i].fold == skip)
				continue;
			if (r[i].label)
				gen++;
			else
				imp++;
		}
		while (i < n && r[i].fold == skip)
			i++;
		/* Rejecting this group turns its impostors right, its genuine wrong. */
		good = good + imp - gen;
		t = i < n ? cut_between(v, r[i].s) : cut_above(v);
		if (good >= best) {
			best = good;
			best_t = t;
		}
	}
	*thr = best_t;
	*correct = best;
	*ntrain = m;
}

int tvs_verify_eval_kfold(const double *score, const int *label, const int *fold, size_t n,
			  int nfolds, tvs_kfold_result *out)
{
	size_t count[TVS_VERIFY_EVAL_MAX_FOLDS] = {0};
	size_t ngen, nimp, i;
	scored *r = NULL;
	double sum = 0, ss = 0;
	int rc, f;

	if (!out || !fold)
		return tvs__err(TVS_EINVAL, "verify_eval: kfold needs fold and out");
	memset(out, 0, sizeof(*out));
	if (nfolds < 2 || nfolds > TVS_VERIFY_EVAL_MAX_FOLDS)
		return tvs__err(TVS_EINVAL, "verify_eval: nfolds = %d, want 2..%d", nfolds,
				TVS_VERIFY_EVAL_MAX_FOLDS);
	rc = check_pairs(score, label, n, &ngen, &nimp);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (fold[i] < 0 || fold[i] >= nfolds)
			return tvs__err(TVS_EINVAL, "verify_eval: fold[%zu] = %d, want 0..%d", i, fold[i],
					nfolds - 1);
		count[fold[i]]++;
	}
	for (f = 0; f < nfolds; f++) {
		if (count[f] == 0)
			return tvs__err(TVS_EINVAL, "verify_eval: fold %d is empty", f);
	}
	rc = sort_pairs(score, label, fold, n, &r);
	if (rc)
		return rc;

	out->nfolds = nfolds;
	for (f = 0; f < nfolds; f++) {
		size_t good, ntrain, right = 0;
		double t;

		best_cut(r, n, f, &t, &good, &ntrain);
		for (i = 0; i < n; i++) {
			if (r[i].fold == f)
				right += (size_t)((r[i].s >= t) == (r[i].label == 1));
		}
		out->fold_threshold[f] = t;
		out->fold_pairs[f] = count[f];
		out->fold_accuracy[f] = (double)right / (double)count[f];
		sum += out->fold_accuracy[f];
	}
	out->accuracy_mean = sum / nfolds;
	for (f = 0; f < nfolds; f++) {
		double d = out->fold_accuracy[f] - out->accuracy_mean;

		ss += d * d;
	}
	out->accuracy_std = sqrt(ss / (nfolds - 1));
	free(r);
	return 0;
}

int tvs_verify_eval_best_threshold(const double *score, const int *label, size_t n,
				   double *threshold, double *accuracy)
{
	size_t ngen, nimp, good, ntrain;
	scored *r = NULL;
	double t;
	int rc;

	if (!threshold || !accuracy)
		return tvs__err(TVS_EINVAL, "verify_eval: best_threshold needs threshold and accuracy");
	rc = check_pairs(score, label, n, &ngen, &nimp);
	if (rc)
		return rc;
	rc = sort_pairs(score, label, NULL, n, &r);
	if (rc)
		return rc;
	best_cut(r, n, -1, &t, &good, &ntrain);
	*threshold = t;
	*accuracy = (double)good / (double)ntrain;
	free(r);
	return 0;
}

/* ------------------------------------------------------------ TAR@FMR */

int tvs_verify_eval_tar_at_fmr(const double *score, const int *label, size_t n, double target_fmr,
			       tvs_tar_result *out)
{
	curve c;
	size_t kmax, cut;
	int rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "verify_eval: tar_at_fmr needs out");
	memset(out, 0, sizeof(*out));
	if (!(target_fmr > 0 && target_fmr <= 1))
		return tvs__err(TVS_EINVAL, "verify_eval: target FMR %g outside (0, 1]", target_fmr);
	rc = curve_build(score, label, n, &c);
	if (rc)
		return rc;
	kmax = impostors_allowed(target_fmr, c.nimp);
	cut = curve_cut_for(&c, kmax);

	out->target_fmr = target_fmr;
	out->threshold = curve_threshold(&c, cut);
	out->n_genuine = c.ngen;
	out->n_impostor = c.nimp;
	out->genuine_accepted = c.gen_acc[cut];
	out->impostor_accepted = c.imp_acc[cut];
	out->tar = (double)c.gen_acc[cut] / (double)c.ngen;
	out->fmr = curve_fmr(&c, cut);
	out->fmr_resolution = 1.0 / (double)c.nimp;
	out->resolvable = kmax >= 1;
	curve_free(&c);
	return 0;
}

/* ------------------------------------------------------------ EER, DET */

int tvs_verify_eval_eer(const double *score, const int *label, size_t n, tvs_eer_result *out)
{
	double best_worst = INFINITY, a, b, d;
	size_t cut, best = 0;
	curve c;
	int rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "verify_eval: eer needs out");
	memset(out, 0, sizeof(*out));
	rc = curve_build(score, label, n, &c);
	if (rc)
		return rc;
	/* FMR falls from 1 and FNMR rises from 0 as the cut moves up, so the
	 * first cut with FNMR >= FMR exists (the last has FMR 0) and is >= 1. */
	for (cut = 0; cut <= c.ng; cut++) {
		double worst = fmax(curve_fmr(&c, cut), curve_fnmr(&c, cut));

		if (worst < best_worst) {
			best_worst = worst;
			best = cut;
		}
	}
	for (cut = 1; cut < c.ng && curve_fnmr(&c, cut) < curve_fmr(&c, cut); cut++)
		;
	/* a = FMR-FNMR before the crossing (> 0), b = after (<= 0). */
	a = curve_fmr(&c, cut - 1) - curve_fnmr(&c, cut - 1);
	b = curve_fmr(&c, cut) - curve_fnmr(&c, cut);
	d = a - b;
	out->eer = curve_fmr(&c, cut - 1) + (a / d) * (curve_fmr(&c, cut) - curve_fmr(&c, cut - 1));
	out->threshold = curve_threshold(&c, best);
	out->fmr = curve_fmr(&c, best);
	out->fnmr = curve_fnmr(&c, best);
	curve_free(&c);
	return 0;
}

int tvs_verify_eval_det(const double *score, const int *label, size_t n, tvs_det_point *pts, size_t k,
			size_t *npts)
{
	size_t m = 0, j;
	curve c;
	int rc;

	if (!pts || !npts || k < 2)
		return tvs__err(TVS_EINVAL, "verify_eval: det needs pts, npts and k >= 2");
	*npts = 0;
	rc = curve_build(score, label, n, &c);
	if (rc)
		return rc;
	for (j = 0; j < k; j++) {
		size_t cut;

		if (k >= c.ng + 1) {
			if (j > c.ng)
				break;
			cut = j;
		} else if (j == k - 1) {
			cut = curve_cut_for(&c, 0);
		} else if (j == 0) {
			cut = 0; /* target 1 */
		} else if (j == k - 2) {
			cut = curve_cut_for(&c, 1); /* target 1/nimp, exactly */
		} else {
			double e = (double)j / (double)(k - 2);
			double target = pow(10.0, -e * log10((double)c.nimp));

			cut = curve_cut_for(&c, impostors_allowed(target, c.nimp));
		}
		if (m > 0 && pts[m - 1].threshold == curve_threshold(&c, cut))
			continue;
		pts[m].threshold = curve_threshold(&c, cut);
		pts[m].fmr = curve_fmr(&c, cut);
		pts[m].fnmr = curve_fnmr(&c, cut);
		m++;
	}
	*npts = m;
	curve_free(&c);
	return 0;
}

/* ------------------------------------------------------------ LFW pairs */

typedef struct lfw_ref {
	tvs_lfw_image img;
	size_t pair;
	int side;
} lfw_ref;

typedef struct tok {
	const char *p;
	size_t len;
} tok;

static int cmp_ref(const void *pa, const void *pb)
{
	const lfw_ref *a = pa, *b = pb;
	int c = strcmp(a->img.name, b->img.name);

	if (c)
		return c;
	return (a->img.num > b->img.num) - (a->img.num < b->img.num);
}

/* Next line of buf from *pos, without its "\n" or "\r\n". Returns 0 at the
 * end of the buffer, 1 for a line, or a negative code. */
static int next_line(const char *buf, size_t len, size_t *pos, size_t lineno, tok *line)
{
	size_t start = *pos, end;
	const char *nl;

	if (start >= len)
		return 0;
	nl = memchr(buf + start, '\n', len - start);
	end = nl ? (size_t)(nl - buf) : len;
	*pos = nl ? end + 1 : len;
	if (end > start && buf[end - 1] == '\r')
		end--;
	if (end - start > TVS_LFW_LINE_MAX)
		return tvs__err(TVS_EFORMAT, "line %zu: longer than %d bytes", lineno, TVS_LFW_LINE_MAX);
	if (memchr(buf + start, '\0', end - start))
		return tvs__err(TVS_EFORMAT, "line %zu: contains a NUL byte", lineno);
	line->p = buf + start;
	line->len = end - start;
	return 1;
}

/* Split on spaces and tabs into at most max fields; returns the field count,
 * or max + 1 if there are more. */
static int split_fields(tok line, tok *f, int max)
{
	size_t i = 0;
	int nf = 0;

	while (i < line.len) {
		size_t s;

		while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
			i++;
		if (i == line.len)
			break;
		if (nf == max)
			return max + 1;
		s = i;
		while (i < line.len && line.p[i] != ' ' && line.p[i] != '\t')
			i++;
		f[nf].p = line.p + s;
		f[nf].len = i - s;
		nf++;
	}
	return nf;
}

/* A decimal integer in [lo, hi] written with at most 9 digits. */
static int parse_int(tok t, int lo, int hi, size_t lineno, const char *what, int *out)
{
	long v = 0;
	size_t i;

	if (t.len == 0 || t.len > 9)
		return tvs__err(TVS_EFORMAT, "line %zu: %s '%.*s' is not a number in %d..%d", lineno, what,
				(int)(t.len > 20 ? 20 : t.len), t.p, lo, hi);
	for (i = 0; i < t.len; i++) {
		if (t.p[i] < '0' || t.p[i] > '9')
			return tvs__err(TVS_EFORMAT, "line %zu: %s '%.*s' is not a number", lineno, what,
					(int)t.len, t.p);
		v = v * 10 + (t.p[i] - '0');
	}
	if (v < lo || v > hi)
		return tvs__err(TVS_EFORMAT, "line %zu: %s %ld outside %d..%d", lineno, what, v, lo, hi);
	*out = (int)v;
	return 0;
}

static int parse_name(tok t, size_t lineno, char *out)
{
	size_t i;

	if (t.len == 0 || t.len >= TVS_LFW_NAME_MAX)
		return tvs__err(TVS_EFORMAT, "line %zu: name of %zu bytes (want 1..%d)", lineno, t.len,
				TVS_LFW_NAME_MAX - 1);
	for (i = 0; i < t.len; i++) {
		char ch = t.p[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.' || ch == '\''))
			return tvs__err(TVS_EFORMAT, "line %zu: name has a disallowed byte 0x%02x at %zu",
					lineno, (unsigned char)ch, i + 1);
	}
	/* Checked after the byte loop, so the name echoed is printable. */
	if (t.p[0] == '.')
		return tvs__err(TVS_EFORMAT, "line %zu: name '%.*s' starts with '.'", lineno, (int)t.len, t.p);
	memcpy(out, t.p, t.len);
	out[t.len] = '\0';
	return 0;
}

void tvs_verify_eval_lfw_pairs_free(tvs_lfw_pairs *p)
{
	if (!p)
		return;
	free(p->pairs);
	free(p->images);
	memset(p, 0, sizeof(*p));
}

int tvs_verify_eval_parse_lfw_pairs(const char *buf, size_t len, int max_folds, tvs_lfw_pairs *out)
{
	lfw_ref *refs = NULL;
	size_t pos = 0, lineno = 1, np, i, ni;
	tok line, f[5];
	int rc, nf, folds, per, used;

	if (!out)
		return tvs__err(TVS_EINVAL, "lfw pairs: out is NULL");
	memset(out, 0, sizeof(*out));
	if (!buf || max_folds < 0)
		return tvs__err(TVS_EINVAL, "lfw pairs: need a buffer and max_folds >= 0");

	rc = next_line(buf, len, &pos, lineno, &line);
	if (rc == 0)
		return tvs__err(TVS_EFORMAT, "line 1: empty file");
	if (rc < 0)
		return rc;
	nf = split_fields(line, f, 2);
	if (nf != 2)
		return tvs__err(TVS_EFORMAT, "line 1: want 'FOLDS PAIRS_PER_CLASS'");
	rc = parse_int(f[0], 1, TVS_VERIFY_EVAL_MAX_FOLDS, lineno, "fold count", &folds);
	if (rc)
		return rc;
	rc = parse_int(f[1], 1, TVS_LFW_MAX_PAIRS / 2, lineno, "pairs per class", &per);
	if (rc)
		return rc;
	used = max_folds == 0 || max_folds > folds ? folds : max_folds;
	if ((size_t)used * 2 * (size_t)per > TVS_LFW_MAX_PAIRS)
		return tvs__err(TVS_ETOOBIG, "line 1: %d folds x %d x 2 pairs exceeds %d", used, per,
				TVS_LFW_MAX_PAIRS);
	np = (size_t)used * 2 * (size_t)per;

	out->pairs = calloc(np, sizeof(*out->pairs));
	refs = calloc(2 * np, sizeof(*refs));
	if (!out->pairs || !refs) {
		rc = tvs__err(TVS_ENOMEM, "lfw pairs: %zu pairs", np);
		goto fail;
	}

	for (i = 0; i < np; i++) {
		tvs_lfw_pair *p = &out->pairs[i];
		lfw_ref *a = &refs[2 * i], *b = &refs[2 * i + 1];
		int same;

		lineno++;
		rc = next_line(buf, len, &pos, lineno, &line);
		if (rc == 0) {
			rc = tvs__err(TVS_EFORMAT, "line %zu: file ends after %zu of %zu pair lines", lineno, i,
				      np);
			goto fail;
		}
		if (rc < 0)
			goto fail;
		p->fold = (int)(i / (2 * (size_t)per));
		same = i % (2 * (size_t)per) < (size_t)per;
		p->label = same;
		nf = split_fields(line, f, 4);
		if (nf != (same ? 3 : 4)) {
			rc = tvs__err(TVS_EFORMAT, "line %zu: fold %d wants a %s line ('%s'), found %d fields",
				      lineno, p->fold + 1, same ? "same-person" : "different-person",
				      same ? "name n1 n2" : "name1 n1 name2 n2", nf);
			goto fail;
		}
		if ((rc = parse_name(f[0], lineno, a->img.name)))
			goto fail;
		if ((rc = parse_int(f[1], 1, TVS_LFW_MAX_IMAGE_NUM, lineno, "image number", &a->img.num)))
			goto fail;
		if (same) {
			memcpy(b->img.name, a->img.name, sizeof(b->img.name));
			rc = parse_int(f[2], 1, TVS_LFW_MAX_IMAGE_NUM, lineno, "image number", &b->img.num);
		} else {
			rc = parse_name(f[2], lineno, b->img.name);
			if (!rc)
				rc = parse_int(f[3], 1, TVS_LFW_MAX_IMAGE_NUM, lineno, "image number",
					       &b->img.num);
		}
		if (rc)
			goto fail;
		if (same && a->img.num == b->img.num) {
			rc = tvs__err(TVS_EFORMAT, "line %zu: same-person pair names one image twice", lineno);
			goto fail;
		}
		if (!same && strcmp(a->img.name, b->img.name) == 0) {
			rc = tvs__err(TVS_EFORMAT, "line %zu: different-person pair names one person twice",
				      lineno);
			goto fail;
		}
		a->pair = b->pair = i;
		a->side = 0;
		b->side = 1;
	}
	if (used == folds) {
		for (;;) {
			lineno++;
			rc = next_line(buf, len, &pos, lineno, &line);
			if (rc < 0)
				goto fail;
			if (rc == 0)
				break;
			if (split_fields(line, f, 0) != 0) {
				rc = tvs__err(TVS_EFORMAT, "line %zu: content after the %d declared folds", lineno,
					      folds);
				goto fail;
			}
		}
	}

	/* Unique images: sort the 2*np references, then number the runs. */
	qsort(refs, 2 * np, sizeof(*refs), cmp_ref);
	out->images = malloc(2 * np * sizeof(*out->images));
	if (!out->images) {
		rc = tvs__err(TVS_ENOMEM, "lfw pairs: %zu images", 2 * np);
		goto fail;
	}
	for (i = 0, ni = 0; i < 2 * np; i++) {
		if (i == 0 || cmp_ref(&refs[i - 1], &refs[i]) != 0)
			out->images[ni++] = refs[i].img;
		out->pairs[refs[i].pair].image[refs[i].side] = ni - 1;
	}
	out->declared_folds = folds;
	out->per_class = per;
	out->nfolds = used;
	out->npairs = np;
	out->nimages = ni;
	free(refs);
	return 0;

fail:
	free(refs);
	tvs_verify_eval_lfw_pairs_free(out);
	return rc;
}
