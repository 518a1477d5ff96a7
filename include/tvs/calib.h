/*
 * Score calibration: the decision thresholds of the matcher, derived from a
 * target error rate on a labelled dataset instead of a magic number.
 *
 * `tvs eval pairs --calibration-out FILE` measures the 1:1 points and
 * `tvs eval ident --calibration-out FILE` the 1:N points of one gallery
 * size; each merges into FILE when it exists (replacing the points it
 * measures, keeping the others), so one file holds both. The service loads
 * one at start-up, checks its model (tvs_calib_check_model) and asks for the
 * threshold of the FMR (1:1) or FPIR (1:N) it was configured with. The file
 * names the model and the score kind it holds for ("cosine": similarity of
 * L2-normalised descriptors, as src/match/template.c scores; accept iff
 * score >= threshold), so thresholds are never applied to another model's
 * scores.
 *
 * File format (UTF-8 JSON object, every key required unless noted, no other
 * keys allowed):
 *
 *   "format":  "tvs-calibration"   "version": 1
 *   "model":   model id, 1..TVS_MATCH_MODEL_MAX printable ASCII
 *   "score":   "cosine"
 *   "dataset", "command": strings up to TVS_CALIB_TEXT_MAX bytes (optional);
 *              with several measurements, their descriptions joined by
 *              "; " and their commands one a line
 *   "verify":  [{"target_fmr", "threshold", "tar", "fmr", "resolvable"}]
 *   "ident":   [{"gallery_size", "target_fpir", "threshold", "fnir",
 *               "resolvable"}]   (optional; may be empty)
 *
 * target_fmr / target_fpir lie in (0, 1), threshold in [-1, 1], measured
 * rates in [0, 1], gallery_size in [1, TVS_CALIB_GALLERY_MAX]; at most
 * TVS_CALIB_MAX_POINTS points per list, no two with the same target (and,
 * for ident, gallery size). resolvable is false when the target was below
 * the dataset's resolution (1 / impostor pairs): the threshold then only
 * says "no impostor of this dataset was accepted" and lookups skip it.
 */
#ifndef TVS_CALIB_H
#define TVS_CALIB_H

#include "tvs/match.h"

#include <stddef.h>

#define TVS_CALIB_FORMAT "tvs-calibration"
#define TVS_CALIB_VERSION 1
#define TVS_CALIB_SCORE_COSINE "cosine"
#define TVS_CALIB_MAX_POINTS 64
#define TVS_CALIB_TEXT_MAX 4096            /* bytes of dataset / command, NUL excluded */
#define TVS_CALIB_FILE_MAX ((size_t)1 << 20) /* largest file accepted */
#define TVS_CALIB_GALLERY_MAX ((size_t)1 << 32)

typedef struct tvs_calib_verify_point {
	double target_fmr; /* requested FMR, in (0, 1) */
	double threshold;  /* accept iff cosine >= threshold */
	double tar;        /* measured at threshold */
	double fmr;        /* measured at threshold, <= target_fmr when resolvable */
	int resolvable;    /* 0: target below the dataset's resolution */
} tvs_calib_verify_point;

typedef struct tvs_calib_ident_point {
	size_t gallery_size; /* enrolled identities it was measured with */
	double target_fpir;  /* requested FPIR, in (0, 1) */
	double threshold;    /* a rank-1 candidate counts iff score >= threshold */
	double fnir;         /* measured at threshold */
	int resolvable;
} tvs_calib_ident_point;

typedef struct tvs_calib {
	char model[TVS_MATCH_MODEL_MAX + 1]; /* NUL-terminated model id */
	char score[16];                      /* TVS_CALIB_SCORE_COSINE */
	size_t nverify;
	tvs_calib_verify_point verify[TVS_CALIB_MAX_POINTS];
	size_t nident;
	tvs_calib_ident_point ident[TVS_CALIB_MAX_POINTS];
	char *dataset; /* owned, may be NULL; freed by tvs_calib_free */
	char *command; /* owned, may be NULL; freed by tvs_calib_free */
} tvs_calib;

/* Write c as JSON to path (via path.tmp and rename). TVS_EINVAL if c would
 * not load back (same checks as the loader), TVS_EIO on write failure. */
int tvs_calib_write_json(const tvs_calib *c, const char *path);

/* Parse the untrusted file at path into *c (zeroed first). TVS_EFORMAT with
 * the field path in tvs_errmsg() ("calibration: verify[2].threshold: not a
 * number"), TVS_ETOOBIG over TVS_CALIB_FILE_MAX or too many points,
 * TVS_ENOTFOUND / TVS_EIO for the file, TVS_ENOMEM. On success the caller
 * frees with tvs_calib_free(); on error *c holds nothing to free. */
int tvs_calib_load_json(tvs_calib *c, const char *path);

/* Open path for an update: load it as tvs_calib_load_json does, or when it
 * does not exist, start an empty calibration of model (score "cosine", no
 * points). TVS_EMODEL if the file holds another model's thresholds; the
 * loader's errors otherwise. On success the caller frees with
 * tvs_calib_free(). */
int tvs_calib_load_for_update(tvs_calib *c, const char *path, const char *model);

/* Same as tvs_calib_load_json on len bytes of JSON text already in memory. */
int tvs_calib_load_buffer(tvs_calib *c, const char *buf, size_t len);

/* Threshold for a target FMR: the resolvable point whose target equals fmr,
 * else the resolvable point with the largest target below fmr (it keeps the
 * FMR within the request at the least cost in TAR). TVS_ENOTFOUND if none. */
int tvs_calib_threshold_for_fmr(const tvs_calib *c, double fmr, double *threshold);

/* Threshold for a target FPIR on a gallery of gallery_size identities. FPIR
 * grows with the gallery (more identities, more chances for an impostor to
 * find a look-alike), so only points measured on a gallery at least as
 * large are candidates: their threshold keeps the FPIR of the smaller
 * gallery within the target, at some cost in FNIR. Of those the smallest
 * gallery with a resolvable point at or below the target is used, and the
 * target is then matched on it as in tvs_calib_threshold_for_fmr. So with points at 420 and 1680, a gallery of
 * 1..420 gets the 420 point, 421..1680 the 1680 point, and a larger one
 * TVS_ENOTFOUND (no calibration covers it: measure one). TVS_ENOTFOUND
 * also when no resolvable point qualifies; TVS_EINVAL for gallery_size 0
 * or an fpir that is not a positive number. */
int tvs_calib_threshold_for_fpir(const tvs_calib *c, size_t gallery_size, double fpir, double *threshold);

/* 0 if c was measured on model, else TVS_EMODEL naming both models: its
 * thresholds mean nothing for another model's scores. */
int tvs_calib_check_model(const tvs_calib *c, const char *model);

/* Replace the points of c for every gallery size that occurs in pts[0..n)
 * by pts (the others stay, the order is kept, the new ones go last).
 * TVS_ETOOBIG past TVS_CALIB_MAX_POINTS (c unchanged). */
int tvs_calib_set_ident(tvs_calib *c, const tvs_calib_ident_point *pts, size_t n);

/* Record where a measurement came from: append dataset to c->dataset
 * (joined by "; ") and command to c->command (one a line), each unless
 * already there as a whole part; NULL leaves a field alone. TVS_ETOOBIG
 * past TVS_CALIB_TEXT_MAX bytes, TVS_ENOMEM; c unchanged on error. */
int tvs_calib_add_source(tvs_calib *c, const char *dataset, const char *command);

/* Write prefix and then argv[0..argc) into buf[cap] as one shell command
 * line, quoting ('...') the arguments that need it; truncated with "..."
 * past cap. For the "command" field. */
void tvs_calib_format_command(const char *prefix, int argc, char *const *argv, char *buf, size_t cap);

/* Release the strings of c and zero it. Accepts NULL. */
void tvs_calib_free(tvs_calib *c);

#endif
