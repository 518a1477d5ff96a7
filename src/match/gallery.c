/*
 * The gallery: N enrolled templates and top-k 1:N search over them.
 *
 * Layout (match_int.h). Entries sit in blocks of 16 rows, float[128][16]
 * and uint8[32][16][4] (int8 + 128), so the kernels produce 16 scores per
 * block with vertical FMAs / vpdpbusd and no horizontal sums. Beside the
 * blocks: per-row int8 scale, subject id and template id, an open-
 * addressing hash map template id -> row, and per subject a chain of its
 * rows (hash map subject id -> first row, next-row links). Remove is a
 * swap-remove: the last row is copied into the hole and its map slot and
 * chain link updated, so the storage stays dense and no rebuild or
 * compaction is ever needed.
 *
 * int8 scheme. Entries and probe are quantised symmetrically (q = round(v /
 * s), s = max|v| / 127, one scale per vector). vpdpbusd multiplies unsigned
 * by signed bytes, so the gallery side is stored offset to u8 (q + 128) and
 * the probe stays s8 as the broadcast operand: dot(q_row + 128, q_p) =
 * dot(q_row, q_p) + 128 * sum(q_p), and the correction is one constant per
 * probe rather than per row. The score is (dot - corr) * s_probe * s_row,
 * exact in int32 (|dot| <= 128 * 255 * 127).
 *
 * Search. The rows are cut into one contiguous slice per pool worker (when
 * the gallery is big enough to be worth it); each slice is scored a chunk of
 * 4096 rows at a time into a stack buffer, and scores at or above the
 * slice's current k-th best go into its own top-k list. The lists merge at
 * the end. With fusion the list is keyed by subject and keeps each subject's
 * best entry, which gives the k best subjects by MAX score: a subject in the
 * global top-k is in the top-k of the slice that holds its best entry. Ties
 * are broken by template id, so the result is the same for any number of
 * threads. A search allocates nothing; scratch is on the stack.
 *
 * Re-ranking (TVS_MATCH_INT8_RERANK, the default of
 * tvs_search_default_opts). The int8 scan keeps max(2k, k+16) candidates;
 * each is then re-scored by the float kernel on its block, so the returned
 * scores are exactly TVS_MATCH_FLOAT's and the order is float's unless the
 * float top-k fell outside the int8 candidates. With fusion the candidates
 * are subjects, and all of a candidate's entries are re-scored (found
 * through its subject chain), since int8 may rank a subject's two close
 * entries the other way round. int8 moves a unit-vector score by ~1e-3
 * typically (each coordinate rounded to 1/254 of the vector's largest), so
 * for the float top-1 to drop out, 17 other entries would have to outscore
 * it in int8, i.e. sit within that noise of it. bench_search, on data
 * shaped like face descriptors (crowded: impostors at cosine ~0.84), saw
 * int8 alone keep the float top-1 for 91-94% of probes and the re-ranked
 * search for 100%, at 420, 42,000 and 1M entries; on LFW itself the
 * re-ranked search changed no rank-1 identity. It costs one 8 KB float
 * block per candidate entry (a row of the blocked layout spans 128 cache
 * lines anyway), negligible next to a large scan.
 *
 * Kernels (pick_kernels). Float: AVX-512F, else AVX2+FMA, else scalar.
 * int8: AVX-512 VNNI, else AVX2 (vpmaddubsw on signed values, exact; see
 * search_avx2.c), else scalar. All give the scalar reference's scores bit
 * for bit, so the kernel never changes a result, and tests/test_match.c
 * checks that for each one. tvs_cpu_simd_level() (TVS_SIMD) caps the
 * choice; an explicit impl the CPU lacks is refused, never emulated.
 *
 * Batches (tvs_gallery_search_batch). The int8 x8 kernel loads each 64
 * bytes of the gallery once for 8 probes, so a batch is a third of the
 * per-probe cost at 1M entries (compute, not bandwidth, becomes the limit).
 * Each probe keeps its own top-k lists; results equal single searches.
 */
#include "match_int.h"

#include "tvs/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BLOCKS 256      /* 4096 rows scored per pass */
#define PAR_MIN_ROWS 16384    /* below this, threads cost more than they save */
#define MAX_TASKS 16
#define KC_MAX 64             /* int8 candidates kept for float re-ranking */
/* Candidates the int8 scan keeps for re-ranking: max(2k, k + 16). */
#define RERANK_CAND(k) (2 * (k) > (k) + 16 ? 2 * (k) : (k) + 16)
#define MAP_EMPTY UINT32_MAX

/* Open-addressing hash map uint64 -> row: linear probing, backward-shift
 * delete; cap a power of two, at least twice the rows. */
typedef struct idmap {
	uint64_t *key;
	uint32_t *val; /* MAP_EMPTY: free slot */
	size_t cap;
} idmap;

struct tvs_gallery {
	char model[TVS_MATCH_MODEL_MAX + 1];
	size_t n, cap; /* rows used, rows allocated (multiple of 16) */
	float *fblk;   /* cap/16 float blocks */
	uint8_t *qblk; /* cap/16 int8 blocks */
	float *rscale; /* [cap], 0 past n */
	uint64_t *subj, *tid;
	idmap tmap;      /* template id -> row */
	idmap smap;      /* subject id -> first row of the subject's chain */
	uint32_t *snext; /* [cap] next row of the same subject, MAP_EMPTY at the end */
};

/* ------------------------------------------------------------ id map */

static size_t map_hash(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(x ^ (x >> 31));
}

/* The slot of key, or the free slot where it would go. */
static size_t map_find(const idmap *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = map_hash(key) & mask;

	while (m->val[i] != MAP_EMPTY && m->key[i] != key)
		i = (i + 1) & mask;
	return i;
}

static void map_put(idmap *m, uint64_t key, uint32_t val)
{
	size_t i = map_find(m, key);

	m->key[i] = key;
	m->val[i] = val;
}

static void map_del(idmap *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	m->val[i] = MAP_EMPTY;
	for (;;) {
		j = (j + 1) & mask;
		if (m->val[j] == MAP_EMPTY)
			return;
		size_t h = map_hash(m->key[j]) & mask;
		/* move j back into the hole i unless its home h lies in (i, j] */
		if ((i < j) ? (h <= i || h > j) : (h <= i && h > j)) {
			m->key[i] = m->key[j];
			m->val[i] = m->val[j];
			m->val[j] = MAP_EMPTY;
			i = j;
		}
	}
}

/* ------------------------------------------------------------ subject chains */

/* Each subject's rows form a singly linked chain (snext) from its smap
 * head, so fused re-ranking and remove_subject visit a subject's entries
 * without a scan. Chains are short (a traveller's few templates), so
 * unlinking walks the chain rather than keeping back pointers. */
static void chain_link(tvs_gallery_t *g, size_t r)
{
	size_t slot = map_find(&g->smap, g->subj[r]);

	if (g->smap.val[slot] == MAP_EMPTY) {
		g->smap.key[slot] = g->subj[r];
		g->snext[r] = MAP_EMPTY;
	} else {
		g->snext[r] = g->smap.val[slot];
	}
	g->smap.val[slot] = (uint32_t)r;
}

/* Make whatever pointed at row from point at to instead (to = snext[from]
 * unlinks from; to = another row renames it). */
static void chain_repoint(tvs_gallery_t *g, size_t from, uint32_t to)
{
	size_t slot = map_find(&g->smap, g->subj[from]);
	uint32_t p = g->smap.val[slot];

	TVS_ASSERT(p != MAP_EMPTY);
	if (p == from) {
		if (to == MAP_EMPTY)
			map_del(&g->smap, slot);
		else
			g->smap.val[slot] = to;
		return;
	}
	while (g->snext[p] != from) {
		p = g->snext[p];
		TVS_ASSERT(p != MAP_EMPTY);
	}
	g->snext[p] = to;
}

/* ------------------------------------------------------------ storage */

static void *alloc_zero(size_t bytes)
{
	void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	if (p)
		memset(p, 0, bytes);
	return p;
}

static int map_alloc(idmap *m, size_t cap)
{
	m->cap = cap;
	m->key = alloc_zero(cap * sizeof(uint64_t));
	m->val = malloc(cap * sizeof(uint32_t));
	if (!m->key || !m->val)
		return -1;
	for (size_t i = 0; i < cap; i++)
		m->val[i] = MAP_EMPTY;
	return 0;
}

static void map_free(idmap *m)
{
	free(m->key);
	free(m->val);
}

/* Grow to hold at least want rows. Everything is reallocated and copied, the
 * maps and chains rebuilt; on failure the gallery is unchanged. */
static int grow(tvs_gallery_t *g, size_t want)
{
	size_t cap = g->cap ? g->cap : 64, mcap = g->tmap.cap ? g->tmap.cap : 128;
	tvs_gallery_t ng = *g;

	while (cap < want) {
		if (cap > ((size_t)1 << 31))
			return tvs__err(TVS_ETOOBIG, "gallery: more than 2^31 entries");
		cap *= 2;
	}
	cap = (cap + TVS__MB - 1) & ~(size_t)(TVS__MB - 1);
	while (mcap < 2 * cap)
		mcap *= 2;
	ng.cap = cap;
	ng.fblk = alloc_zero(cap * TVS_MATCH_DIM * sizeof(float));
	ng.qblk = alloc_zero(cap * TVS_MATCH_DIM);
	ng.rscale = alloc_zero(cap * sizeof(float));
	ng.subj = alloc_zero(cap * sizeof(uint64_t));
	ng.tid = alloc_zero(cap * sizeof(uint64_t));
	ng.snext = malloc(cap * sizeof(uint32_t));
	memset(&ng.tmap, 0, sizeof(ng.tmap));
	memset(&ng.smap, 0, sizeof(ng.smap));
	if (!ng.fblk || !ng.qblk || !ng.rscale || !ng.subj || !ng.tid || !ng.snext || map_alloc(&ng.tmap, mcap) < 0 ||
	    map_alloc(&ng.smap, mcap) < 0)
		goto fail_alloc;
	/* padding rows of int8 blocks hold q = 0, i.e. byte 128 */
	memset(ng.qblk, 128, cap * TVS_MATCH_DIM);
	if (g->n) {
		size_t nb = (g->n + TVS__MB - 1) / TVS__MB;
		memcpy(ng.fblk, g->fblk, nb * TVS__MBLOCK * sizeof(float));
		memcpy(ng.qblk, g->qblk, nb * TVS__MBLOCK);
		memcpy(ng.rscale, g->rscale, g->n * sizeof(float));
		memcpy(ng.subj, g->subj, g->n * sizeof(uint64_t));
		memcpy(ng.tid, g->tid, g->n * sizeof(uint64_t));
	}
	for (size_t r = 0; r < g->n; r++) {
		map_put(&ng.tmap, ng.tid[r], (uint32_t)r);
		chain_link(&ng, r);
	}
	free(g->fblk);
	free(g->qblk);
	free(g->rscale);
	free(g->subj);
	free(g->tid);
	free(g->snext);
	map_free(&g->tmap);
	map_free(&g->smap);
	*g = ng;
	return 0;

fail_alloc:
	free(ng.fblk);
	free(ng.qblk);
	free(ng.rscale);
	free(ng.subj);
	free(ng.tid);
	free(ng.snext);
	map_free(&ng.tmap);
	map_free(&ng.smap);
	return tvs__err(TVS_ENOMEM, "gallery: out of memory for %zu entries", cap);
}

static void row_write(tvs_gallery_t *g, size_t r, const float *v, const int8_t *q, float qs)
{
	float *fb = g->fblk + (r / TVS__MB) * TVS__MBLOCK + r % TVS__MB;
	uint8_t *qb = g->qblk + (r / TVS__MB) * TVS__MBLOCK + (r % TVS__MB) * 4;

	for (int k = 0; k < TVS_MATCH_DIM; k++)
		fb[k * TVS__MB] = v[k];
	for (int k = 0; k < TVS_MATCH_DIM; k++)
		qb[(k / 4) * 64 + k % 4] = (uint8_t)(q[k] + 128);
	g->rscale[r] = qs;
}

static void row_read(const tvs_gallery_t *g, size_t r, float *v, int8_t *q)
{
	const float *fb = g->fblk + (r / TVS__MB) * TVS__MBLOCK + r % TVS__MB;
	const uint8_t *qb = g->qblk + (r / TVS__MB) * TVS__MBLOCK + (r % TVS__MB) * 4;

	for (int k = 0; k < TVS_MATCH_DIM; k++)
		v[k] = fb[k * TVS__MB];
	for (int k = 0; k < TVS_MATCH_DIM; k++)
		q[k] = (int8_t)(qb[(k / 4) * 64 + k % 4] - 128);
}

int tvs_gallery_create(tvs_gallery_t **out, const tvs_gallery_config *cfg)
{
	const char *model = cfg && cfg->model ? cfg->model : TVS_MATCH_DEFAULT_MODEL;
	tvs_gallery_t *g;
	size_t ml;
	int rc;

	*out = NULL;
	ml = strnlen(model, TVS_MATCH_MODEL_MAX + 1);
	if (ml == 0 || ml > TVS_MATCH_MODEL_MAX)
		return tvs__err(TVS_EINVAL, "gallery: model id length must be 1..%d", TVS_MATCH_MODEL_MAX);
	g = calloc(1, sizeof(*g));
	if (!g)
		return tvs__err(TVS_ENOMEM, "gallery: out of memory");
	memcpy(g->model, model, ml);
	if ((rc = grow(g, cfg && cfg->capacity ? cfg->capacity : 64)) < 0)
		goto fail_grow;
	*out = g;
	return 0;

fail_grow:
	free(g);
	return rc;
}

void tvs_gallery_destroy(tvs_gallery_t *g)
{
	if (!g)
		return;
	free(g->fblk);
	free(g->qblk);
	free(g->rscale);
	free(g->subj);
	free(g->tid);
	free(g->snext);
	map_free(&g->tmap);
	map_free(&g->smap);
	free(g);
}

size_t tvs_gallery_count(const tvs_gallery_t *g)
{
	return g->n;
}

static int check_same_model(const tvs_gallery_t *g, const tvs_template *t, const char *what)
{
	if (strncmp(g->model, t->model, sizeof(t->model)) != 0)
		return tvs__err(TVS_EMODEL, "%s: template of model '%.*s', gallery holds '%s'", what,
				TVS_MATCH_MODEL_MAX, t->model, g->model);
	return 0;
}

int tvs_gallery_add(tvs_gallery_t *g, uint64_t subject_id, uint64_t template_id, const tvs_template *t)
{
	int8_t q[TVS_MATCH_DIM];
	float qs;
	int rc;

	if (!g || !t)
		return tvs__err(TVS_EINVAL, "gallery add: NULL argument");
	if ((rc = check_same_model(g, t, "gallery add")) < 0)
		return rc;
	for (int k = 0; k < TVS_MATCH_DIM; k++)
		if (!isfinite(t->v[k]))
			return tvs__err(TVS_EINVAL, "gallery add: non-finite descriptor");
	if (g->tmap.val[map_find(&g->tmap, template_id)] != MAP_EMPTY)
		return tvs__err(TVS_ECONFLICT, "gallery add: template id %llu already present",
				(unsigned long long)template_id);
	if (g->n == g->cap && (rc = grow(g, g->n + 1)) < 0)
		return rc;
	qs = tvs__match_quantise(t->v, TVS_MATCH_DIM, q);
	row_write(g, g->n, t->v, q, qs);
	g->subj[g->n] = subject_id;
	g->tid[g->n] = template_id;
	map_put(&g->tmap, template_id, (uint32_t)g->n);
	chain_link(g, g->n);
	g->n++;
	return 0;
}

static void remove_row(tvs_gallery_t *g, size_t r, size_t slot)
{
	static const float zf[TVS_MATCH_DIM];
	static const int8_t zq[TVS_MATCH_DIM];
	size_t last = g->n - 1;

	map_del(&g->tmap, slot);
	chain_repoint(g, r, g->snext[r]);
	if (r != last) {
		float v[TVS_MATCH_DIM];
		int8_t q[TVS_MATCH_DIM];
		row_read(g, last, v, q);
		row_write(g, r, v, q, g->rscale[last]);
		chain_repoint(g, last, (uint32_t)r);
		g->snext[r] = g->snext[last];
		g->subj[r] = g->subj[last];
		g->tid[r] = g->tid[last];
		g->tmap.val[map_find(&g->tmap, g->tid[r])] = (uint32_t)r;
	}
	row_write(g, last, zf, zq, 0.0f);
	g->n--;
}

int tvs_gallery_remove(tvs_gallery_t *g, uint64_t template_id)
{
	size_t slot;

	if (!g)
		return tvs__err(TVS_EINVAL, "gallery remove: NULL gallery");
	slot = map_find(&g->tmap, template_id);
	if (g->tmap.val[slot] == MAP_EMPTY)
		return tvs__err(TVS_ENOTFOUND, "gallery remove: no template id %llu",
				(unsigned long long)template_id);
	remove_row(g, g->tmap.val[slot], slot);
	return 0;
}

int tvs_gallery_remove_subject(tvs_gallery_t *g, uint64_t subject_id, size_t *removed)
{
	size_t count = 0;

	if (!g)
		return tvs__err(TVS_EINVAL, "gallery remove: NULL gallery");
	for (;;) { /* the chain's head until there is none */
		uint32_t r = g->smap.val[map_find(&g->smap, subject_id)];
		if (r == MAP_EMPTY)
			break;
		remove_row(g, r, map_find(&g->tmap, g->tid[r]));
		count++;
	}
	if (removed)
		*removed = count;
	return 0;
}

/* ------------------------------------------------------------ references */

static void scores_f32_ref(const float *blocks, size_t nblocks, const float *probe, float *out)
{
	for (size_t b = 0; b < nblocks; b++) {
		const float *blk = blocks + b * TVS__MBLOCK;
		for (int l = 0; l < TVS__MB; l++) {
			float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
			for (int k = 0; k < TVS_MATCH_DIM; k++)
				c[k & 3] = fmaf(blk[k * TVS__MB + l], probe[k], c[k & 3]);
			out[b * TVS__MB + l] = (c[0] + c[1]) + (c[2] + c[3]);
		}
	}
}

static void scores_i8_ref(const uint8_t *blocks, const float *rscale, size_t nblocks, const int8_t *probe,
			  int32_t corr, float pscale, float *out)
{
	for (size_t b = 0; b < nblocks; b++) {
		const uint8_t *blk = blocks + b * TVS__MBLOCK;
		for (int l = 0; l < TVS__MB; l++) {
			int32_t d = 0;
			for (int k = 0; k < TVS_MATCH_DIM; k++)
				d += (int32_t)blk[(k / 4) * 64 + l * 4 + k % 4] * probe[k];
			size_t r = b * TVS__MB + l;
			out[r] = (float)(d - corr) * (pscale * rscale[r]);
		}
	}
}

/* Cached CPU check; concurrent first calls store the same value (atomics
 * keep that free of a data race). TVS_SIMD=1 or 0 (tvs_cpu_simd_level)
 * turns it off along with the rest of AVX-512. */
static int have_vnni(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (v < 0) {
		__builtin_cpu_init();
		v = tvs_cpu_simd_level() >= 2 && __builtin_cpu_supports("avx512vnni");
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

typedef void (*scores_f32_fn)(const float *blocks, size_t nblocks, const float *probe, float *out);
typedef void (*scores_i8_fn)(const uint8_t *blocks, const float *rscale, size_t nblocks, const int8_t *probe,
			     int32_t corr, float pscale, float *out);
typedef void (*scores_i8x8_fn)(const uint8_t *blocks, const float *rscale, size_t nblocks, const int8_t *probes,
			       const int32_t *corr, const float *pscale, float *out, size_t ld);

/* The kernels one search runs. A NULL member is one the mode does not use
 * (or, for i8x8, "call i8 once per probe"). */
typedef struct kernels {
	scores_f32_fn f32;
	scores_i8_fn i8;
	scores_i8x8_fn i8x8;
	const char *f32_name, *i8_name;
} kernels;

/* Choose the kernels of impl for mode: AUTO takes the fastest this CPU
 * runs (float: AVX-512F > AVX2 > scalar; int8: VNNI > AVX2 > scalar); an
 * explicit impl the CPU lacks for what mode needs is TVS_EUNSUPPORTED. */
static int pick_kernels(int impl, int mode, kernels *ks)
{
	const int level = tvs_cpu_simd_level(), vnni = have_vnni();
	const int need_f = mode != TVS_MATCH_INT8, need_q = mode != TVS_MATCH_FLOAT;

	memset(ks, 0, sizeof(*ks));
	switch (impl) {
	case TVS_MATCH_IMPL_AUTO:
		if (level >= 2)
			ks->f32 = tvs__match_scores_f32_avx512, ks->f32_name = "avx512";
		else if (level >= 1)
			ks->f32 = tvs__match_scores_f32_avx2, ks->f32_name = "avx2";
		else
			ks->f32 = scores_f32_ref, ks->f32_name = "ref";
		if (vnni)
			ks->i8 = tvs__match_scores_i8_vnni, ks->i8x8 = tvs__match_scores_i8x8_vnni, ks->i8_name = "vnni";
		else if (level >= 1)
			ks->i8 = tvs__match_scores_i8_avx2, ks->i8_name = "avx2";
		else
			ks->i8 = scores_i8_ref, ks->i8_name = "ref";
		return 0;
	case TVS_MATCH_IMPL_REF:
		ks->f32 = scores_f32_ref, ks->f32_name = "ref";
		ks->i8 = scores_i8_ref, ks->i8_name = "ref";
		return 0;
	case TVS_MATCH_IMPL_AVX2:
		if (level < 1)
			return tvs__err(TVS_EUNSUPPORTED, "gallery search: this CPU has no AVX2+FMA");
		ks->f32 = tvs__match_scores_f32_avx2, ks->f32_name = "avx2";
		ks->i8 = tvs__match_scores_i8_avx2, ks->i8_name = "avx2";
		return 0;
	case TVS_MATCH_IMPL_AVX512:
		if ((need_f && level < 2) || (need_q && !vnni))
			return tvs__err(TVS_EUNSUPPORTED, "gallery search: this CPU has no AVX-512%s",
					need_q ? " VNNI" : "");
		ks->f32 = level >= 2 ? tvs__match_scores_f32_avx512 : NULL, ks->f32_name = "avx512";
		if (vnni)
			ks->i8 = tvs__match_scores_i8_vnni, ks->i8x8 = tvs__match_scores_i8x8_vnni, ks->i8_name = "vnni";
		return 0;
	default:
		return tvs__err(TVS_EINVAL, "gallery search: impl %d", impl);
	}
}

const char *tvs_gallery_kernel_name(int mode)
{
	kernels ks;

	pick_kernels(TVS_MATCH_IMPL_AUTO, mode, &ks);
	return mode == TVS_MATCH_FLOAT ? ks.f32_name : ks.i8_name;
}

void tvs_search_default_opts(tvs_search_opts *o)
{
	o->k = 1;
	o->mode = TVS_MATCH_INT8_RERANK;
	o->fuse = 1;
	o->impl = TVS_MATCH_IMPL_AUTO;
	o->pool = NULL;
}

/* ------------------------------------------------------------ top-k */

typedef struct topk {
	int k, n, worst, fuse;
	tvs_match_hit h[KC_MAX];
} topk;

static int better(float sa, uint64_t ta, const tvs_match_hit *b)
{
	return sa > b->score || (sa == b->score && ta < b->template_id);
}

static void topk_reworst(topk *t)
{
	int w = 0;

	for (int i = 1; i < t->n; i++)
		if (better(t->h[w].score, t->h[w].template_id, &t->h[i]))
			w = i;
	t->worst = w;
}

/* The score a candidate must reach to be considered (>=, ties resolved in push). */
static float topk_floor(const topk *t)
{
	return t->n < t->k ? -INFINITY : t->h[t->worst].score;
}

static void topk_push(topk *t, uint64_t subj, uint64_t tid, float s)
{
	if (t->fuse) {
		for (int i = 0; i < t->n; i++) {
			if (t->h[i].subject_id != subj)
				continue;
			if (better(s, tid, &t->h[i])) {
				t->h[i].score = s;
				t->h[i].template_id = tid;
				topk_reworst(t);
			}
			return;
		}
	}
	if (t->n < t->k) {
		t->h[t->n++] = (tvs_match_hit){subj, tid, s};
		topk_reworst(t);
		return;
	}
	if (!better(s, tid, &t->h[t->worst]))
		return;
	t->h[t->worst] = (tvs_match_hit){subj, tid, s};
	topk_reworst(t);
}

/* ------------------------------------------------------------ search */

typedef struct search_job {
	const tvs_gallery_t *g;
	kernels ks;
	int mode;
	const float *pf;
	const int8_t *pq;
	int32_t corr;
	float pscale;
	int ntasks;
	topk res[MAX_TASKS];
} search_job;

static void search_slice(search_job *j, size_t b0, size_t b1, topk *t)
{
	const tvs_gallery_t *g = j->g;
	float sc[CHUNK_BLOCKS * TVS__MB];
	float floor = topk_floor(t);

	for (size_t c0 = b0; c0 < b1; c0 += CHUNK_BLOCKS) {
		size_t nb = b1 - c0 < CHUNK_BLOCKS ? b1 - c0 : CHUNK_BLOCKS;
		size_t r0 = c0 * TVS__MB, nr = nb * TVS__MB;
		if (r0 + nr > g->n)
			nr = g->n - r0;
		if (j->mode == TVS_MATCH_INT8)
			j->ks.i8(g->qblk + c0 * TVS__MBLOCK, g->rscale + r0, nb, j->pq, j->corr, j->pscale, sc);
		else
			j->ks.f32(g->fblk + c0 * TVS__MBLOCK, nb, j->pf, sc);
		for (size_t i = 0; i < nr; i++) {
			if (sc[i] >= floor) {
				topk_push(t, g->subj[r0 + i], g->tid[r0 + i], sc[i]);
				floor = topk_floor(t);
			}
		}
	}
}

/* Replace the int8 scores of the candidates by float ones, computed by the
 * float kernel on the candidate's block so that they are bit-identical to
 * what TVS_MATCH_FLOAT reports for the same entry. With fusion a candidate
 * is a subject, and every entry of its chain is scored: the hit becomes its
 * float-best entry, exactly TVS_MATCH_FLOAT's fused hit for that subject
 * (int8 picked the subject, not which of its entries is best). */
static void rescore_f32(const tvs_gallery_t *g, const float *probe, scores_f32_fn f32, int fuse, topk *t)
{
	float sc[TVS__MB];
	size_t have = SIZE_MAX; /* the block whose scores sc holds */

	for (int i = 0; i < t->n; i++) {
		tvs_match_hit *h = &t->h[i];
		uint32_t r = fuse ? g->smap.val[map_find(&g->smap, h->subject_id)]
				  : g->tmap.val[map_find(&g->tmap, h->template_id)];
		int first = 1;

		for (; r != MAP_EMPTY; r = fuse ? g->snext[r] : MAP_EMPTY) {
			if (r / TVS__MB != have) {
				have = r / TVS__MB;
				f32(g->fblk + have * TVS__MBLOCK, 1, probe, sc);
			}
			if (first || better(sc[r % TVS__MB], g->tid[r], h)) {
				h->score = sc[r % TVS__MB];
				h->template_id = g->tid[r];
				first = 0;
			}
		}
	}
}

/* Re-rank if asked, sort best first, keep k, copy out. */
static void finish(const tvs_gallery_t *g, const tvs_template *probe, const tvs_search_opts *opts,
		   const kernels *ks, topk *all, tvs_match_hit *hits, int *nhits)
{
	if (opts->mode == TVS_MATCH_INT8_RERANK)
		rescore_f32(g, probe->v, ks->f32, opts->fuse != 0, all);
	for (int i = 1; i < all->n; i++) {
		tvs_match_hit x = all->h[i];
		int p = i;
		while (p > 0 && better(x.score, x.template_id, &all->h[p - 1])) {
			all->h[p] = all->h[p - 1];
			p--;
		}
		all->h[p] = x;
	}
	if (all->n > opts->k)
		all->n = opts->k;
	memcpy(hits, all->h, (size_t)all->n * sizeof(*hits));
	*nhits = all->n;
}

/* Entries the int8 scan keeps: k, or with re-ranking RERANK_CAND(k). */
static int candidates(const tvs_search_opts *opts)
{
	if (opts->mode != TVS_MATCH_INT8_RERANK)
		return opts->k;
	return RERANK_CAND(opts->k);
}

static void search_task(void *arg, int task, int worker)
{
	search_job *j = arg;
	size_t nblk = (j->g->n + TVS__MB - 1) / TVS__MB;
	size_t b0 = nblk * (size_t)task / (size_t)j->ntasks;
	size_t b1 = nblk * (size_t)(task + 1) / (size_t)j->ntasks;

	(void)worker;
	search_slice(j, b0, b1, &j->res[task]);
}

int tvs_gallery_search(const tvs_gallery_t *g, const tvs_template *probe, const tvs_search_opts *opts,
		       tvs_match_hit *hits, int *nhits)
{
	search_job j;
	int8_t pq[TVS_MATCH_DIM];
	topk all;
	int32_t psum = 0;
	int rc, nworkers, kc;

	if (!g || !probe || !opts || !hits || !nhits)
		return tvs__err(TVS_EINVAL, "gallery search: NULL argument");
	*nhits = 0;
	if (opts->k < 1 || opts->k > TVS_MATCH_K_MAX)
		return tvs__err(TVS_EINVAL, "gallery search: k = %d, must be 1..%d", opts->k, TVS_MATCH_K_MAX);
	if (opts->mode != TVS_MATCH_FLOAT && opts->mode != TVS_MATCH_INT8 && opts->mode != TVS_MATCH_INT8_RERANK)
		return tvs__err(TVS_EINVAL, "gallery search: mode %d", opts->mode);
	if ((rc = check_same_model(g, probe, "gallery search")) < 0)
		return rc;
	if ((rc = pick_kernels(opts->impl, opts->mode, &j.ks)) < 0)
		return rc;

	kc = candidates(opts);
	j.g = g;
	j.mode = opts->mode == TVS_MATCH_INT8_RERANK ? TVS_MATCH_INT8 : opts->mode;
	j.pf = probe->v;
	j.pscale = tvs__match_quantise(probe->v, TVS_MATCH_DIM, pq);
	for (int k = 0; k < TVS_MATCH_DIM; k++)
		psum += pq[k];
	j.pq = pq;
	j.corr = 128 * psum;
	nworkers = opts->pool ? tvs_pool_size(opts->pool) : 1;
	j.ntasks = g->n >= PAR_MIN_ROWS && nworkers > 1 ? (nworkers < MAX_TASKS ? nworkers : MAX_TASKS) : 1;
	for (int i = 0; i < j.ntasks; i++) {
		j.res[i].k = kc;
		j.res[i].n = 0;
		j.res[i].worst = 0;
		j.res[i].fuse = opts->fuse != 0;
	}
	if (j.ntasks > 1)
		tvs_pool_run(opts->pool, j.ntasks, search_task, &j);
	else if (g->n)
		search_task(&j, 0, 0);

	all = j.res[0];
	for (int i = 1; i < j.ntasks; i++)
		for (int h = 0; h < j.res[i].n; h++)
			topk_push(&all, j.res[i].h[h].subject_id, j.res[i].h[h].template_id, j.res[i].h[h].score);
	finish(g, probe, opts, &j.ks, &all, hits, nhits);
	return 0;
}

/* ------------------------------------------------------------ batch */

#define BATCH 8            /* probes per pass of the x8 kernel */
#define BCHUNK_BLOCKS 32   /* 512 rows x 8 probes of scores per pass */
#define BMAX_TASKS 4

typedef struct batch_job {
	const tvs_gallery_t *g;
	kernels ks;
	int np, ntasks;
	int8_t pq[BATCH][TVS_MATCH_DIM];
	int32_t corr[BATCH];
	float pscale[BATCH];
	topk res[BMAX_TASKS][BATCH];
} batch_job;

static void batch_task(void *arg, int task, int worker)
{
	batch_job *j = arg;
	const tvs_gallery_t *g = j->g;
	size_t nblk = (g->n + TVS__MB - 1) / TVS__MB;
	size_t b0 = nblk * (size_t)task / (size_t)j->ntasks;
	size_t b1 = nblk * (size_t)(task + 1) / (size_t)j->ntasks;
	float sc[BATCH][BCHUNK_BLOCKS * TVS__MB], floor[BATCH];
	topk *t = j->res[task];

	(void)worker;
	for (int p = 0; p < j->np; p++)
		floor[p] = topk_floor(&t[p]);
	for (size_t c0 = b0; c0 < b1; c0 += BCHUNK_BLOCKS) {
		size_t nb = b1 - c0 < BCHUNK_BLOCKS ? b1 - c0 : BCHUNK_BLOCKS;
		size_t r0 = c0 * TVS__MB, nr = nb * TVS__MB;
		const uint8_t *qb = g->qblk + c0 * TVS__MBLOCK;
		if (r0 + nr > g->n)
			nr = g->n - r0;
		if (j->ks.i8x8) {
			j->ks.i8x8(qb, g->rscale + r0, nb, &j->pq[0][0], j->corr, j->pscale, &sc[0][0],
				   BCHUNK_BLOCKS * TVS__MB);
		} else { /* 8 KB x 32 blocks stay in L2 for the 8 passes */
			for (int p = 0; p < j->np; p++)
				j->ks.i8(qb, g->rscale + r0, nb, j->pq[p], j->corr[p], j->pscale[p], sc[p]);
		}
		for (int p = 0; p < j->np; p++) {
			for (size_t i = 0; i < nr; i++) {
				if (sc[p][i] >= floor[p]) {
					topk_push(&t[p], g->subj[r0 + i], g->tid[r0 + i], sc[p][i]);
					floor[p] = topk_floor(&t[p]);
				}
			}
		}
	}
}

int tvs_gallery_search_batch(const tvs_gallery_t *g, const tvs_template *probes, int np,
			     const tvs_search_opts *opts, tvs_match_hit *hits, int *nhits)
{
	batch_job j;
	int rc, kc, nworkers;

	if (!g || (!probes && np) || !opts || (np && (!hits || !nhits)) || np < 0)
		return tvs__err(TVS_EINVAL, "gallery search batch: bad argument");
	for (int i = 0; i < np; i++)
		nhits[i] = 0;
	if (opts->mode == TVS_MATCH_FLOAT || np == 0) {
		for (int i = 0; i < np; i++)
			if ((rc = tvs_gallery_search(g, &probes[i], opts, hits + (size_t)i * opts->k, &nhits[i])) < 0)
				return rc;
		return 0;
	}
	if (opts->k < 1 || opts->k > TVS_MATCH_K_MAX)
		return tvs__err(TVS_EINVAL, "gallery search: k = %d, must be 1..%d", opts->k, TVS_MATCH_K_MAX);
	if (opts->mode != TVS_MATCH_INT8 && opts->mode != TVS_MATCH_INT8_RERANK)
		return tvs__err(TVS_EINVAL, "gallery search: mode %d", opts->mode);
	for (int i = 0; i < np; i++)
		if ((rc = check_same_model(g, &probes[i], "gallery search")) < 0)
			return rc;
	if ((rc = pick_kernels(opts->impl, opts->mode, &j.ks)) < 0)
		return rc;

	kc = candidates(opts);
	j.g = g;
	nworkers = opts->pool ? tvs_pool_size(opts->pool) : 1;
	j.ntasks = g->n >= PAR_MIN_ROWS && nworkers > 1 ? (nworkers < BMAX_TASKS ? nworkers : BMAX_TASKS) : 1;
	for (int p0 = 0; p0 < np; p0 += BATCH) {
		j.np = np - p0 < BATCH ? np - p0 : BATCH;
		for (int p = 0; p < BATCH; p++) {
			/* unused slots repeat the first probe; their scores are ignored */
			const tvs_template *pr = &probes[p0 + (p < j.np ? p : 0)];
			int32_t psum = 0;
			j.pscale[p] = tvs__match_quantise(pr->v, TVS_MATCH_DIM, j.pq[p]);
			for (int k = 0; k < TVS_MATCH_DIM; k++)
				psum += j.pq[p][k];
			j.corr[p] = 128 * psum;
			for (int t = 0; t < j.ntasks; t++) {
				j.res[t][p].k = kc;
				j.res[t][p].n = 0;
				j.res[t][p].worst = 0;
				j.res[t][p].fuse = opts->fuse != 0;
			}
		}
		if (j.ntasks > 1)
			tvs_pool_run(opts->pool, j.ntasks, batch_task, &j);
		else if (g->n)
			batch_task(&j, 0, 0);
		for (int p = 0; p < j.np; p++) {
			topk all = j.res[0][p];
			for (int t = 1; t < j.ntasks; t++)
				for (int h = 0; h < j.res[t][p].n; h++)
					topk_push(&all, j.res[t][p].h[h].subject_id, j.res[t][p].h[h].template_id,
						  j.res[t][p].h[h].score);
			finish(g, &probes[p0 + p], opts, &j.ks, &all, hits + (size_t)(p0 + p) * opts->k,
			       &nhits[p0 + p]);
		}
	}
	return 0;
}
