/*
 * Face templates, 1:1 verification and 1:N search over a gallery.
 *
 * Score. Every template holds its descriptor L2-normalised, and the score of
 * two templates is their cosine similarity, in [-1, 1], larger = more alike.
 * For unit vectors |a - b|^2 = 2 - 2 cos(a, b), so ranking by cosine is
 * ranking by euclidean distance on the normalised descriptors and a 1:N
 * search is a maximum-inner-product search. tvs_match_score_to_distance()
 * gives that distance. (face-api's 0.6 threshold is on raw descriptors of
 * norm ~1.4; a threshold on the score must be recalibrated on LFW, not
 * converted.)
 *
 * Templates are versioned: they carry the id of the model that produced them
 * ("faceapi-resnet-v1") and a producer version. Descriptors of different
 * models live in unrelated spaces, so a gallery, a verify call and the parser
 * (when given an expected model) refuse a template of another model with
 * TVS_EMODEL and a detail naming both models.
 *
 * int8. A template may also carry a symmetric int8 form: q[i] =
 * round(v[i] / qscale), |q| <= 127, qscale = max|v| / 127 (one scale per
 * template). The int8 score is dot(qa, qb) * qa.scale * qb.scale, computed
 * exactly in int32. Search quantises the gallery the same way; see gallery.c
 * for how AVX-512 VNNI runs it, search_avx2.c for CPUs without it.
 *
 * Search modes. TVS_MATCH_INT8_RERANK is the recommended one and
 * tvs_search_default_opts() sets it: int8 speed (a quarter of float's
 * memory traffic), float scores, and the float top-1 on 100% of the
 * bench_search probes up to 1M entries (README "1:N search").
 * TVS_MATCH_INT8 alone loses the float top-1 where entries score within
 * int8 rounding of each other, which face descriptors make common: they
 * crowd into a narrow cone (LFW impostors at cosine ~0.84), and on LFW int8
 * alone changed the rank-1 identity of 3-4% of the searches.
 */
#ifndef TVS_MATCH_H
#define TVS_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tvs/nn.h"

#define TVS_MATCH_DIM 128
#define TVS_MATCH_MODEL_MAX 31 /* bytes of a model id, without the NUL */
#define TVS_MATCH_K_MAX 32     /* largest k of a search */
#define TVS_MATCH_DEFAULT_MODEL "faceapi-resnet-v1"

/* ------------------------------------------------------------ templates */

typedef struct tvs_template {
	char model[TVS_MATCH_MODEL_MAX + 1]; /* NUL-terminated model id */
	uint32_t version;                    /* producer version */
	float v[TVS_MATCH_DIM];              /* unit-norm descriptor */
	int has_q;                           /* q and qscale are valid */
	float qscale;
	int8_t q[TVS_MATCH_DIM];
} tvs_template;

/* Build a template from a raw descriptor of dim values (dim must be
 * TVS_MATCH_DIM): normalise it and fill the int8 form. TVS_EINVAL for a bad
 * model id (empty, too long, not printable ASCII), a wrong dim, a non-finite
 * or zero vector. */
int tvs_match_template_init(tvs_template *t, const char *model, uint32_t version, const float *desc,
			    int dim);

/* Bytes tvs_match_template_serialize() writes for t. */
size_t tvs_match_template_size(const tvs_template *t);

/* Write t into buf[cap] in the storage format (little-endian: magic "TVST",
 * format version, flags, producer version, model id, dim, floats, optional
 * int8 form, CRC-32). *len gets the bytes written. TVS_ETOOBIG if cap is too
 * small, TVS_EINVAL if t is not a valid template. */
int tvs_match_template_serialize(const tvs_template *t, uint8_t *buf, size_t cap, size_t *len);

/* Parse len bytes of untrusted input into *t. Every field is bounded and the
 * CRC checked: TVS_EFORMAT if truncated or malformed, TVS_EINTEGRITY if the
 * CRC differs, TVS_EUNSUPPORTED for another format version or dim. With
 * expect_model non-NULL, a template of another model is TVS_EMODEL. */
int tvs_match_template_parse(tvs_template *t, const uint8_t *buf, size_t len, const char *expect_model);

/* 1:1 verify: *score = cosine of a and b. TVS_EMODEL if their models differ. */
int tvs_match_verify(const tvs_template *a, const tvs_template *b, float *score);

/* Euclidean distance between unit vectors of cosine score: sqrt(2 - 2 s). */
float tvs_match_score_to_distance(float score);

/* ------------------------------------------------------------ gallery */

typedef struct tvs_gallery tvs_gallery_t;

typedef struct tvs_gallery_config {
	const char *model; /* model id every entry must have; NULL: TVS_MATCH_DEFAULT_MODEL */
	size_t capacity;   /* entries to reserve up front (grows by doubling past it) */
} tvs_gallery_config;

enum tvs_match_mode {
	TVS_MATCH_FLOAT = 0, /* float32 dot products */
	TVS_MATCH_INT8 = 1,  /* int8 dot products, per-entry scale (4x less memory traffic) */
	TVS_MATCH_INT8_RERANK = 2, /* the default: int8 scan for max(2k, k+16) candidates
				    * (entries, or subjects with fuse: then all of each
				    * candidate subject's entries) re-scored in float:
				    * TVS_MATCH_FLOAT's hits and scores, int8 speed */
};

/* Which kernels run. Every kernel gives the scalar reference's scores bit
 * for bit (and so the same hits); impl only changes speed. An explicit impl
 * the CPU lacks for the mode is TVS_EUNSUPPORTED. TVS_SIMD=1 in the
 * environment caps AUTO at AVX2, TVS_SIMD=0 at the reference. */
enum tvs_match_impl {
	TVS_MATCH_IMPL_AUTO = 0, /* fastest this CPU has: float AVX-512 > AVX2 > ref, int8 VNNI > AVX2 > ref */
	TVS_MATCH_IMPL_REF,      /* scalar reference */
	TVS_MATCH_IMPL_AVX2,     /* AVX2+FMA float and int8 */
	TVS_MATCH_IMPL_AVX512,   /* AVX-512F float, AVX-512 VNNI int8 */
};

typedef struct tvs_search_opts {
	int k;            /* hits wanted, 1..TVS_MATCH_K_MAX */
	int mode;         /* enum tvs_match_mode */
	int fuse;         /* 1: one hit per subject with its MAX score; 0: one per entry */
	int impl;         /* enum tvs_match_impl */
	tvs_pool_t *pool; /* borrowed; NULL or 1 worker runs on the calling thread */
} tvs_search_opts;

/* The recommended search: k = 1, TVS_MATCH_INT8_RERANK, fuse = 1 (the best
 * subject, by its best template), TVS_MATCH_IMPL_AUTO, no pool. */
void tvs_search_default_opts(tvs_search_opts *o);

typedef struct tvs_match_hit {
	uint64_t subject_id;
	uint64_t template_id; /* with fuse, the subject's best-scoring entry */
	float score;
} tvs_match_hit;

/* New empty gallery. Caller frees with tvs_gallery_destroy(). */
int tvs_gallery_create(tvs_gallery_t **out, const tvs_gallery_config *cfg);
void tvs_gallery_destroy(tvs_gallery_t *g);

/* Entries in the gallery. */
size_t tvs_gallery_count(const tvs_gallery_t *g);

/* Add template t (copied) as entry template_id of subject_id. TVS_EMODEL if
 * t is of another model, TVS_ECONFLICT if template_id is already present,
 * TVS_EINVAL if t is not finite, TVS_ENOMEM. */
int tvs_gallery_add(tvs_gallery_t *g, uint64_t subject_id, uint64_t template_id, const tvs_template *t);

/* Remove entry template_id (O(1) plus the length of two subjects' entry
 * chains: the last entry moves into its row). TVS_ENOTFOUND if absent. */
int tvs_gallery_remove(tvs_gallery_t *g, uint64_t template_id);

/* Remove every entry of subject_id (each as tvs_gallery_remove, no scan);
 * *removed (may be NULL) gets how many, 0 for an unknown subject. */
int tvs_gallery_remove_subject(tvs_gallery_t *g, uint64_t subject_id, size_t *removed);

/* Top-k search for probe: hits[0..*nhits) sorted by score descending, ties
 * by template id ascending (so results do not depend on threads or row
 * order). *nhits = min(k, entries or subjects). Does not allocate; safe to
 * run concurrently with other searches (not with add/remove) as long as they
 * do not share a pool. TVS_EINVAL for a bad k/mode/impl, TVS_EMODEL for a
 * probe of another model, TVS_EUNSUPPORTED for an impl this CPU lacks. */
int tvs_gallery_search(const tvs_gallery_t *g, const tvs_template *probe, const tvs_search_opts *opts,
		       tvs_match_hit *hits, int *nhits);

/* np searches at once: hits[i*k ..] and nhits[i] as tvs_gallery_search
 * gives for probes[i], same results. In the int8 modes each pass over the
 * gallery serves 8 probes, so a batch (a flight manifest against a
 * watchlist, de-duplication at enrolment) reads the gallery np/8 times
 * instead of np. TVS_MATCH_FLOAT runs probe by probe. Uses ~70 KB of the
 * calling thread's stack (and ~20 KB of each pool worker's). */
int tvs_gallery_search_batch(const tvs_gallery_t *g, const tvs_template *probes, int np,
			     const tvs_search_opts *opts, tvs_match_hit *hits, int *nhits);

/* Name of the kernel AUTO picks for mode on this CPU ("avx512", "vnni",
 * "avx2", "ref"); for TVS_MATCH_INT8_RERANK, the int8 scan's. */
const char *tvs_gallery_kernel_name(int mode);

#endif
