/*
 * Verification (1:1) evaluation metrics: LFW-style k-fold accuracy, TAR at
 * a target FMR, EER and a sampled DET/ROC curve, plus a parser for the LFW
 * View 2 pairs.txt protocol file. Pure computation: no I/O, no globals.
 *
 * Conventions shared by every function here:
 *
 *  - A score is a similarity, higher = more alike. The face engine gives
 *    euclidean distances (lower = more alike), so callers pass
 *    score = -distance and report a threshold t back as distance -t.
 *  - label[i] is 1 for a genuine (same identity) pair, 0 for an impostor
 *    pair. Scores must be finite; anything else is TVS_EINVAL.
 *  - A threshold t accepts pair i (predicts "same") iff score[i] >= t.
 *  - Thresholds are cuts between distinct observed scores: the midpoint of
 *    two adjacent distinct values, or an extreme (the lowest score, which
 *    accepts everything, or the next double above the highest score, which
 *    accepts nothing). So tied scores always receive the same decision: a
 *    tie is never split, and an operating point is never interpolated.
 *  - FMR = impostor pairs accepted / impostor pairs;
 *    FNMR = genuine pairs rejected / genuine pairs; TAR = 1 - FNMR.
 *
 * Each metric function sorts an internal copy of the scores (qsort,
 * O(N log N)); that scratch is allocated and freed inside the call, so any
 * of them may return TVS_ENOMEM. Results go to caller-owned out-params.
 */
#ifndef TVS_VERIFY_EVAL_H
#define TVS_VERIFY_EVAL_H

#include <stddef.h>

#define TVS_VERIFY_EVAL_MAX_FOLDS 64

/* ------------------------------------------------------------ k-fold */

typedef struct tvs_kfold_result {
	int nfolds;
	double accuracy_mean;                              /* mean of fold_accuracy */
	double accuracy_std;                               /* sample std (n-1), as LFW papers */
	double fold_accuracy[TVS_VERIFY_EVAL_MAX_FOLDS];   /* on the held-out fold */
	double fold_threshold[TVS_VERIFY_EVAL_MAX_FOLDS];  /* chosen on the other folds */
	size_t fold_pairs[TVS_VERIFY_EVAL_MAX_FOLDS];      /* pairs in each fold */
} tvs_kfold_result;

/* The LFW protocol: for each fold f, pick the threshold that maximises
 * accuracy on the other folds (every cut is a candidate; among equally
 * accurate cuts the highest, i.e. the strictest, wins, which for
 * score = -distance matches the first-maximum rule of scripts that scan
 * ascending distance thresholds), then measure accuracy on fold f. fold[i]
 * must lie in [0, nfolds), 2 <= nfolds <= TVS_VERIFY_EVAL_MAX_FOLDS, and no
 * fold may be empty; otherwise TVS_EINVAL. */
int tvs_verify_eval_kfold(const double *score, const int *label, const int *fold, size_t n,
			  int nfolds, tvs_kfold_result *out);

/* The single cut maximising accuracy over all n pairs (the training step of
 * the k-fold protocol, same tie rule). In-sample, hence optimistic. */
int tvs_verify_eval_best_threshold(const double *score, const int *label, size_t n,
				   double *threshold, double *accuracy);

/* ------------------------------------------------------- TAR at FMR */

typedef struct tvs_tar_result {
	double target_fmr;
	double threshold;       /* accept iff score >= threshold */
	double tar;             /* genuine_accepted / n_genuine */
	double fmr;             /* achieved: impostor_accepted / n_impostor, <= target */
	double fmr_resolution;  /* 1 / n_impostor: the smallest nonzero FMR measurable */
	size_t n_genuine, n_impostor;
	size_t genuine_accepted, impostor_accepted;
	int resolvable;         /* 0 when target_fmr < fmr_resolution (see below) */
} tvs_tar_result;

/* TAR at a target FMR over all pairs. The threshold is the lowest cut whose
 * achieved FMR is <= target_fmr: with k = the largest count such that
 * k / n_impostor <= target_fmr, it is the cut between the (k+1)-th highest
 * impostor score and the next higher observed score (or the extreme that
 * accepts nothing). When impostors tie at that score none of them is
 * accepted, so the achieved FMR may be below the target; read fmr, not
 * target_fmr. When target_fmr < 1/n_impostor (e.g. 1e-4 with LFW's 3000
 * impostor pairs) the target cannot be measured: resolvable is 0 and the
 * result describes the lowest cut that accepts no impostor at all, which is
 * an optimistic stand-in, not an estimate of TAR at target_fmr. Needs at
 * least one pair of each class and 0 < target_fmr <= 1; else TVS_EINVAL. */
int tvs_verify_eval_tar_at_fmr(const double *score, const int *label, size_t n, double target_fmr,
			       tvs_tar_result *out);

/* ------------------------------------------------------- EER, DET/ROC */

typedef struct tvs_eer_result {
	double eer;       /* FMR = FNMR, linearly interpolated between the two cuts that bracket it */
	double threshold; /* the cut minimising max(FMR, FNMR) */
	double fmr, fnmr; /* measured at that cut */
} tvs_eer_result;

/* Equal error rate. Needs both classes; else TVS_EINVAL. */
int tvs_verify_eval_eer(const double *score, const int *label, size_t n, tvs_eer_result *out);

typedef struct tvs_det_point {
	double threshold; /* accept iff score >= threshold */
	double fmr, fnmr;
} tvs_det_point;

/* Sample the DET curve (ROC is TAR = 1 - fnmr against fmr) at up to k
 * operating points, written to the caller's pts[0..k) in order of rising
 * threshold (falling FMR); *npts receives the count. If k is at least the
 * number of cuts (distinct scores + 1) the whole exact curve is returned.
 * Otherwise the points are the tvs_verify_eval_tar_at_fmr cuts for targets
 * spaced evenly in log10 from 1 down to 1/n_impostor, then the lowest cut
 * accepting no impostor, with repeated cuts dropped. k >= 2 and both classes
 * are needed; else TVS_EINVAL. */
int tvs_verify_eval_det(const double *score, const int *label, size_t n, tvs_det_point *pts, size_t k,
			size_t *npts);

/* ------------------------------------------------- LFW View 2 pairs.txt */

#define TVS_LFW_NAME_MAX 64        /* bytes of a person name, NUL included */
#define TVS_LFW_LINE_MAX 512       /* bytes of a line, newline excluded */
#define TVS_LFW_MAX_PAIRS 200000   /* most pairs accepted (LFW has 6000) */
#define TVS_LFW_MAX_IMAGE_NUM 9999 /* image numbers are printed %04d */

typedef struct tvs_lfw_image {
	char name[TVS_LFW_NAME_MAX]; /* [A-Za-z0-9_.'-], not starting with '.' */
	int num;                     /* 1..TVS_LFW_MAX_IMAGE_NUM */
} tvs_lfw_image;

typedef struct tvs_lfw_pair {
	int fold;        /* 0-based */
	int label;       /* 1 same person, 0 different */
	size_t image[2]; /* indices into tvs_lfw_pairs.images */
} tvs_lfw_pair;

typedef struct tvs_lfw_pairs {
	int declared_folds;    /* from the first line */
	int per_class;         /* same-person (and different-person) pairs per fold */
	int nfolds;            /* folds parsed: min(declared_folds, max_folds) */
	size_t npairs;
	tvs_lfw_pair *pairs;   /* owned; fold by fold, in file order */
	size_t nimages;
	tvs_lfw_image *images; /* owned; unique, sorted by (name, num) */
} tvs_lfw_pairs;

/* Parse the bytes of an LFW View 2 pairs file: a line "FOLDS PER_CLASS",
 * then per fold PER_CLASS lines "name n1 n2" and PER_CLASS lines
 * "name1 n1 name2 n2", fields separated by tabs or spaces, CRLF accepted.
 * Only the first max_folds folds are read (0: all); when all are read,
 * anything but blank lines after them is an error. Names are restricted to
 * a character set that cannot form a path separator or a dot-dot component,
 * so "ROOT/<name>/<name>_%04d.jpg" stays under ROOT. Errors: TVS_EFORMAT
 * (with the line number in tvs_errmsg()), TVS_ETOOBIG, TVS_ENOMEM,
 * TVS_EINVAL. On success the caller frees out with
 * tvs_verify_eval_lfw_pairs_free(); on error out is zeroed. */
int tvs_verify_eval_parse_lfw_pairs(const char *buf, size_t len, int max_folds, tvs_lfw_pairs *out);

/* Release what the parser allocated and zero *p. Accepts NULL. */
void tvs_verify_eval_lfw_pairs_free(tvs_lfw_pairs *p);

#endif
