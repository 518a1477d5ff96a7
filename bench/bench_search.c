/*
 * 1:N search: tvs's float and int8 kernels against FAISS IndexFlatIP on the
 * same data in the same run.
 *
 * Data: 3 entries per identity, each a sample centre + noise, L2-normalised,
 * in two models (data_model below): face-like, shaped after LFW's face-api
 * descriptors, which crowd into a narrow cone (impostor cosine ~0.84,
 * genuine ~0.96), and isotropic (identities in random directions,
 * impostors ~0, genuine ~0.77). Half the probes are fresh samples of
 * enrolled identities, half of identities not enrolled (whose top-1 is an
 * impostor among many close ones, the hard case for int8). Timings are
 * taken on the face-like data; recall against float is given for both.
 *
 * For 420, 42,000 and 1,000,000 entries, with tvs_search_default_opts()
 * (k = 1) per entry: ms per probe and probes/s for tvs float, int8 and
 * int8 + float re-rank (the default mode) with the kernels AUTO picks, the
 * same with the AVX2 kernels where AUTO picks AVX-512 (what a CPU without
 * it runs), 2 threads at 1M, batches of 1000 probes (8 probes a pass over
 * the gallery), and FAISS flat, one probe a call and batched (its sgemm
 * path), with the ratios. Then recall@1 against float: the same top-1
 * entry, and with fusion the same top-1 subject, for int8 and for int8 +
 * re-rank. Timings are the best of several passes at the small sizes, one
 * pass at 1M. Figures only; nothing is asserted. Runs in about two
 * minutes (1.5 of them at 1M); `bench_search 42000` runs one size.
 */
#include "peak.h"
#include "tvs/error.h"
#include "tvs/match.h"
#include "tvs/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TVS_HAVE_FAISS
void *tvs_bench_faiss_new(int d, long n, const float *x);
int tvs_bench_faiss_search(void *ix, long nq, const float *q, int k, float *D, int64_t *I);
void tvs_bench_faiss_free(void *ix);
void tvs_bench_faiss_threads(int n);
void openblas_set_num_threads(int n);
#endif

#define D TVS_MATCH_DIM
#define PER_ID 3
#define NPROBE 1000
#define K 1 /* tvs_search_default_opts()'s k: the service asks for the rank-1 */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return bench_xorshift64(&rng);
}

static void gauss2(float *a, float *b)
{
	double u = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
	double v = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
	double r = sqrt(-2.0 * log(u));
	*a = (float)(r * cos(6.283185307179586 * v));
	*b = (float)(r * sin(6.283185307179586 * v));
}

static void sample(const float *centre, float sigma, float *v)
{
	for (int k = 0; k < D; k += 2) {
		float a, b;
		gauss2(&a, &b);
		v[k] = (centre ? centre[k] : 0.0f) + sigma * a;
		v[k + 1] = (centre ? centre[k + 1] : 0.0f) + sigma * b;
	}
}

/* ms per probe: the best of reps passes over the probes (a pass is short
 * enough at small sizes that other work on a shared machine only slows some
 * passes down). */
static double time_tvs(const tvs_gallery_t *g, const tvs_template *probes, int np, const tvs_search_opts *o,
		       tvs_match_hit *top1, int reps)
{
	tvs_match_hit h[K];
	double best = 1e30;
	int nh;

	tvs_gallery_search(g, &probes[0], o, h, &nh); /* warm-up */
	for (int r = 0; r < reps; r++) {
		double t0 = now(), ms;
		for (int i = 0; i < np; i++) {
			if (tvs_gallery_search(g, &probes[i], o, h, &nh) < 0 || nh < 1) {
				fprintf(stderr, "search failed: %s\n", tvs_errmsg());
				exit(1);
			}
			if (top1)
				top1[i] = h[0];
		}
		ms = (now() - t0) * 1e3 / np;
		best = ms < best ? ms : best;
	}
	return best;
}

/* ms per probe of one tvs_gallery_search_batch call over np probes (best of reps). */
static double time_batch(const tvs_gallery_t *g, const tvs_template *probes, int np, const tvs_search_opts *o,
			 tvs_match_hit *hits, int *nh, int reps)
{
	double best = 1e30;

	for (int r = 0; r < reps; r++) {
		double t0 = now(), ms;
		if (tvs_gallery_search_batch(g, probes, np, o, hits, nh) < 0) {
			fprintf(stderr, "batch search failed: %s\n", tvs_errmsg());
			exit(1);
		}
		ms = (now() - t0) * 1e3 / np;
		best = ms < best ? ms : best;
	}
	return best;
}

/* Probes whose top-1 entry (fuse 0) or subject (fuse 1) is the float one. */
static int agree_top1(const tvs_match_hit *a, const tvs_match_hit *ref, int np, int by_subject)
{
	int n = 0;

	for (int i = 0; i < np; i++)
		n += by_subject ? a[i].subject_id == ref[i].subject_id : a[i].template_id == ref[i].template_id;
	return n;
}

/* How gallery descriptors are drawn: a centre per identity ~ mean +
 * N(0, centre_sigma^2) per coordinate, entries and probes = centre +
 * N(0, noise_sigma^2), then L2-normalised. */
typedef struct data_model {
	const char *name;
	float mean_norm, centre_sigma, noise_sigma;
} data_model;

/* Isotropic: identities in random directions (impostor cosine ~0, genuine
 * ~0.77). Face-like: LFW's face-api descriptors, once normalised, sit in a
 * narrow cone (their mean has norm 0.92; impostor cosine median 0.84, 99.9th
 * percentile 0.93; genuine median 0.96), so scores crowd together and int8
 * rounding matters more; these constants give the same three figures. */
static const data_model ISO = {"isotropic", 0.0f, 1.0f, 0.55f};
static const data_model FACE = {"face-like (LFW's cone)", 0.917f, 0.0306f, 0.0177f};

static void run_size(long n, tvs_pool_t *pool2, const data_model *dm, int timed)
{
	float mean[D] = {0};
	long nid = (n + PER_ID - 1) / PER_ID;
	float *centres = malloc((size_t)nid * D * sizeof(float));
	float *xs = malloc((size_t)n * D * sizeof(float));
	tvs_template *probes = malloc(NPROBE * sizeof(tvs_template));
	tvs_match_hit *tf = malloc(NPROBE * sizeof(*tf)), *tq = malloc(NPROBE * sizeof(*tq));
	tvs_match_hit *tr = malloc(NPROBE * sizeof(*tr)), *tx = malloc(NPROBE * sizeof(*tx));
	tvs_match_hit *sf = malloc(NPROBE * sizeof(*sf)), *sq = malloc(NPROBE * sizeof(*sq));
	tvs_match_hit *sr = malloc(NPROBE * sizeof(*sr));
	tvs_gallery_config cfg = {TVS_MATCH_DEFAULT_MODEL, (size_t)n};
	tvs_gallery_t *g;
	tvs_template t;
	float v[D];
	int np_slow = n >= 1000000 ? 200 : NPROBE;
	int reps = !timed ? 1 : n <= 1000 ? 20 : n <= 100000 ? 3 : 1;
	tvs_match_hit *bh = malloc((size_t)NPROBE * K * sizeof(*bh));
	int *bn = malloc(NPROBE * sizeof(int)), agree_b = 0, agree_avx2 = -1;
	double ms_b, ms_b2 = 0, ms_f, ms_q, ms_r, ms_q2 = 0, ms_f2 = 0, ms_r2 = 0;
	double ms_rf, ms_fa = 0, ms_qa = 0, ms_ra = 0, ms_faiss = 0, ms_faiss_batch = 0, t0;
	int faiss_agree = 0;
	char name[64];

	if (!bh || !bn || !centres || !xs || !probes || !tf || !tq || !tr || !tx || !sf || !sq || !sr ||
	    tvs_gallery_create(&g, &cfg) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	t0 = now();
	if (dm->mean_norm > 0) {
		double ss = 0;
		sample(NULL, 1.0f, mean);
		for (int k = 0; k < D; k++)
			ss += (double)mean[k] * mean[k];
		for (int k = 0; k < D; k++)
			mean[k] = (float)(mean[k] * dm->mean_norm / sqrt(ss));
	}
	for (long i = 0; i < nid; i++) {
		sample(mean, dm->centre_sigma, centres + i * D);
	}
	for (long i = 0; i < n; i++) {
		sample(centres + (i / PER_ID) * D, dm->noise_sigma, v);
		tvs_match_template_init(&t, TVS_MATCH_DEFAULT_MODEL, 1, v, D);
		memcpy(xs + i * D, t.v, sizeof(t.v));
		if (tvs_gallery_add(g, (uint64_t)(i / PER_ID), (uint64_t)i, &t) < 0) {
			fprintf(stderr, "add: %s\n", tvs_errmsg());
			exit(1);
		}
	}
	for (int i = 0; i < NPROBE; i++) {
		/* even probes: an enrolled identity; odd: someone not enrolled */
		float stranger[D];
		sample(mean, dm->centre_sigma, stranger);
		sample(i % 2 ? stranger : centres + (rnd() % (uint64_t)nid) * D, dm->noise_sigma, v);
		tvs_match_template_init(&probes[i], TVS_MATCH_DEFAULT_MODEL, 1, v, D);
	}
	printf("\n%ld entries (%ld identities x %d), %s data, float %.1f MB, int8 %.1f MB, built in %.1f s\n", n,
	       nid, PER_ID, dm->name, n * D * 4 / 1e6, n * D / 1e6, now() - t0);

	/* the default options (k = 1, fused, re-ranked), per entry unless said */
	tvs_search_opts o;
	tvs_search_default_opts(&o);
	o.k = K;
	o.fuse = 0;
	o.mode = TVS_MATCH_FLOAT;
	ms_f = time_tvs(g, probes, NPROBE, &o, tf, reps);
	o.mode = TVS_MATCH_INT8;
	ms_q = time_tvs(g, probes, NPROBE, &o, tq, reps);
	o.mode = TVS_MATCH_INT8_RERANK;
	ms_r = time_tvs(g, probes, NPROBE, &o, tr, reps);
	if (!timed) {
		printf("  recall@1 against float over %d probes, per template: int8 %.2f%%, int8+rerank %.2f%%\n", NPROBE,
		       100.0 * agree_top1(tq, tf, NPROBE, 0) / NPROBE, 100.0 * agree_top1(tr, tf, NPROBE, 0) / NPROBE);
		goto done;
	}
	o.fuse = 1;
	o.mode = TVS_MATCH_FLOAT;
	time_tvs(g, probes, NPROBE, &o, sf, 1);
	o.mode = TVS_MATCH_INT8;
	time_tvs(g, probes, NPROBE, &o, sq, 1);
	o.mode = TVS_MATCH_INT8_RERANK;
	ms_rf = time_tvs(g, probes, NPROBE, &o, sr, reps);
	o.fuse = 0;
	/* the AVX2 kernels, where AUTO runs others and the CPU has AVX2 */
	if (tvs_cpu_simd_level() >= 2) {
		o.impl = TVS_MATCH_IMPL_AVX2;
		o.mode = TVS_MATCH_FLOAT;
		ms_fa = time_tvs(g, probes, np_slow, &o, NULL, reps);
		o.mode = TVS_MATCH_INT8;
		ms_qa = time_tvs(g, probes, np_slow, &o, NULL, reps);
		o.mode = TVS_MATCH_INT8_RERANK;
		ms_ra = time_tvs(g, probes, np_slow, &o, tx, reps);
		agree_avx2 = agree_top1(tx, tr, np_slow, 0);
		o.impl = TVS_MATCH_IMPL_AUTO;
	}
	o.mode = TVS_MATCH_INT8_RERANK;
	ms_b = time_batch(g, probes, NPROBE, &o, bh, bn, reps);
	for (int i = 0; i < NPROBE; i++)
		agree_b += bn[i] > 0 && bh[(size_t)i * K].template_id == tf[i].template_id;
	if (pool2 && n >= 1000000) {
		o.pool = pool2;
		ms_b2 = time_batch(g, probes, NPROBE, &o, bh, bn, reps);
		o.mode = TVS_MATCH_INT8;
		ms_q2 = time_tvs(g, probes, np_slow, &o, NULL, reps);
		o.mode = TVS_MATCH_INT8_RERANK;
		ms_r2 = time_tvs(g, probes, np_slow, &o, NULL, reps);
		o.mode = TVS_MATCH_FLOAT;
		ms_f2 = time_tvs(g, probes, np_slow, &o, NULL, reps);
		o.pool = NULL;
	}
#ifdef TVS_HAVE_FAISS
	{
		void *ix = tvs_bench_faiss_new(D, n, xs);
		float dist[K];
		int64_t lab[K];
		if (!ix) {
			fprintf(stderr, "faiss: index creation failed\n");
			exit(1);
		}
		tvs_bench_faiss_threads(1);
		tvs_bench_faiss_search(ix, 1, probes[0].v, K, dist, lab);
		/* batched: FAISS's sgemm path (nq >= 20), one BLAS thread */
		{
			float *qs = malloc((size_t)np_slow * D * sizeof(float));
			float *dd = malloc((size_t)np_slow * K * sizeof(float));
			int64_t *ll = malloc((size_t)np_slow * K * sizeof(int64_t));
			if (!qs || !dd || !ll) {
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
			for (int i = 0; i < np_slow; i++)
				memcpy(qs + (size_t)i * D, probes[i].v, sizeof(probes[i].v));
			openblas_set_num_threads(1);
			t0 = now();
			tvs_bench_faiss_search(ix, np_slow, qs, K, dd, ll);
			ms_faiss_batch = (now() - t0) * 1e3 / np_slow;
			free(qs);
			free(dd);
			free(ll);
		}
		ms_faiss = 1e30;
		for (int r = 0; r < reps; r++) {
			t0 = now();
			faiss_agree = 0;
			for (int i = 0; i < np_slow; i++) {
				tvs_bench_faiss_search(ix, 1, probes[i].v, K, dist, lab);
				faiss_agree += (uint64_t)lab[0] == tf[i].template_id;
			}
			double ms = (now() - t0) * 1e3 / np_slow;
			ms_faiss = ms < ms_faiss ? ms : ms_faiss;
		}
		tvs_bench_faiss_free(ix);
	}
#endif
	printf("  %-40s %10s %12s %10s\n", "", "ms/probe", "probes/s", "vs FAISS");
#define ROW(name, ms)                                                                                  \
	printf("  %-40s %10.4f %12.0f %9.2fx\n", name, ms, 1e3 / (ms), ms_faiss > 0 ? ms_faiss / (ms) : 0.0)
	snprintf(name, sizeof(name), "tvs float (%s), 1 thr", tvs_gallery_kernel_name(TVS_MATCH_FLOAT));
	ROW(name, ms_f);
	snprintf(name, sizeof(name), "tvs int8 (%s), 1 thr", tvs_gallery_kernel_name(TVS_MATCH_INT8));
	ROW(name, ms_q);
	snprintf(name, sizeof(name), "tvs int8+rerank (%s), 1 thr", tvs_gallery_kernel_name(TVS_MATCH_INT8));
	ROW(name, ms_r);
	ROW("tvs default opts (fused, rerank), 1 thr", ms_rf);
	if (ms_fa > 0) {
		ROW("tvs float (avx2), 1 thr", ms_fa);
		ROW("tvs int8 (avx2), 1 thr", ms_qa);
		ROW("tvs int8+rerank (avx2), 1 thr", ms_ra);
	}
	if (ms_q2 > 0) {
		ROW("tvs float, 2 threads", ms_f2);
		ROW("tvs int8, 2 threads", ms_q2);
		ROW("tvs int8+rerank, 2 threads", ms_r2);
	}
	ROW("tvs int8+rerank, batch 1000, 1 thr", ms_b);
	if (ms_b2 > 0)
		ROW("tvs int8+rerank, batch 1000, 2 thr", ms_b2);
	if (ms_faiss > 0) {
		ROW("FAISS IndexFlatIP, 1 thr", ms_faiss);
		printf("  %-40s %10.4f %12.0f %9.2fx  (%d probes in one call: sgemm)\n", "FAISS flat, batched, 1 thr",
		       ms_faiss_batch, 1e3 / ms_faiss_batch, ms_faiss / ms_faiss_batch, np_slow);
		printf("  FAISS top-1 = tvs float top-1: %d/%d\n", faiss_agree, np_slow);
	}
	printf("  int8 bandwidth %.1f GB/s, float %.1f GB/s (gallery bytes / time)\n", n * (D + 4.0) / ms_q / 1e6,
	       n * D * 4.0 / ms_f / 1e6);
	printf("  recall@1 against float over %d probes: per template int8 %.2f%%, int8+rerank %.2f%%;\n"
	       "    per subject (fused) int8 %.2f%%, int8+rerank %.2f%%\n",
	       NPROBE, 100.0 * agree_top1(tq, tf, NPROBE, 0) / NPROBE, 100.0 * agree_top1(tr, tf, NPROBE, 0) / NPROBE,
	       100.0 * agree_top1(sq, sf, NPROBE, 1) / NPROBE, 100.0 * agree_top1(sr, sf, NPROBE, 1) / NPROBE);
	printf("  batch top-1 = float top-1: %d/%d", agree_b, NPROBE);
	if (agree_avx2 >= 0)
		printf("; avx2 int8+rerank top-1 = default's: %d/%d", agree_avx2, np_slow);
	printf("\n");
done:
	tvs_gallery_destroy(g);
	free(centres);
	free(xs);
	free(probes);
	free(tf);
	free(tq);
	free(tr);
	free(tx);
	free(sf);
	free(sq);
	free(sr);
	free(bh);
	free(bn);
}

int main(int argc, char **argv)
{
	tvs_pool_t *pool2 = NULL;
	long only = argc > 1 ? atol(argv[1]) : 0;

	printf("1:N search, 128-d, k = %d, one probe per call; kernels: float %s, int8 %s\n", K,
	       tvs_gallery_kernel_name(TVS_MATCH_FLOAT), tvs_gallery_kernel_name(TVS_MATCH_INT8));
#ifndef TVS_HAVE_FAISS
	printf("(libfaiss-dev not installed at build time: no FAISS comparison)\n");
#endif
	if (tvs_pool_create(&pool2, 2) < 0)
		pool2 = NULL;
	static const long sizes[] = {420, 42000, 1000000};
	for (int i = 0; i < 3; i++) {
		if (only && only != sizes[i])
			continue;
		run_size(sizes[i], pool2, &FACE, 1);
		run_size(sizes[i], pool2, &ISO, 0);
	}
	tvs_pool_destroy(pool2);
	return 0;
}
