/*
 * Conv and depthwise kernel throughput against this core's fp32 FMA peak.
 *
 * First the peak: chains of independent FMAs on registers (12 and 24 zmm
 * chains, 12 ymm chains), enough to cover FMA latency on every pipe, so the
 * figure is what the core can retire, not what a kernel could hope to reach
 * with loads in the way. Then every distinct layer shape of the recognition
 * net and of the SSD (ARCH.md Appendix A) for each implementation the CPU
 * has: GFLOP/s (2 flops per MAC, padded taps counted as in Appendix A),
 * percent of the zmm peak, and per-network totals (sum of 2*MACs over sum of
 * median times, each shape weighted by how often the net runs it). "auto" is
 * whatever tvs_conv_init picks with TVS_CONV_IMPL_AUTO, i.e. what the
 * engine runs. The reference runs only on shapes under 2 M MACs.
 *
 * Each per-layer time is the median over 5 rounds of the median of >= 5
 * runs of that layer on one thread, weights and activations warm in cache:
 * the best case for a layer. The SEQUENTIAL PASS line then runs the whole
 * net in order with every layer's own weights, as the engine would, so
 * weights and activations stream from wherever the rest of the net left
 * them; the gap between the two lines is the memory system's share.
 * The peak is the best of many short trials and the last line says how
 * much of a core the run got, because the dev machine is shared and other
 * work can only make figures worse. Only prints; asserts nothing.
 */
#include "tvs/nn.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peak.h"

/* The Makefile builds benches with AVX-512 flags. Only the zmm peak loops
 * above may use them (after a CPU check); everything below is kept free of
 * AVX-512 so the AVX2 half still runs on a CPU without it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("no-avx512f")
#endif

/* ------------------------------------------------------------ layers */

enum { OP_CONV, OP_DW };

typedef struct layer {
	int op, count, h, w, cin, cout, k, stride, pad, act, res;
} layer;

#define S TVS_PAD_SAME
#define V TVS_PAD_VALID
#define R TVS_ACT_RELU
#define R6 TVS_ACT_RELU6
#define N TVS_ACT_NONE
/* Recognition @150: conv1 of a residual block has relu, conv2 adds the
 * shortcut then relu. */
static const layer rec[] = {
	{OP_CONV, 1, 150, 150, 3, 32, 7, 2, V, R, 0},
	{OP_CONV, 3, 35, 35, 32, 32, 3, 1, S, R, 0},
	{OP_CONV, 3, 35, 35, 32, 32, 3, 1, S, R, 1},
	{OP_CONV, 1, 35, 35, 32, 64, 3, 2, V, R, 0},
	{OP_CONV, 4, 17, 17, 64, 64, 3, 1, S, R, 0},
	{OP_CONV, 3, 17, 17, 64, 64, 3, 1, S, R, 1},
	{OP_CONV, 1, 17, 17, 64, 128, 3, 2, V, R, 0},
	{OP_CONV, 3, 8, 8, 128, 128, 3, 1, S, R, 0},
	{OP_CONV, 2, 8, 8, 128, 128, 3, 1, S, R, 1},
	{OP_CONV, 1, 8, 8, 128, 256, 3, 2, V, R, 0},
	{OP_CONV, 1, 3, 3, 256, 256, 3, 1, S, N, 0},
	{OP_CONV, 2, 4, 4, 256, 256, 3, 1, S, R, 0},
	{OP_CONV, 2, 4, 4, 256, 256, 3, 1, S, R, 1},
	{OP_CONV, 1, 4, 4, 256, 256, 3, 2, V, R, 0},
	{OP_CONV, 1, 1, 1, 256, 256, 3, 1, S, N, 0},
};

static const layer ssd[] = {
	{OP_CONV, 1, 512, 512, 3, 32, 3, 2, S, R6, 0},
	{OP_DW, 1, 256, 256, 32, 32, 3, 1, S, R6, 0},
	{OP_CONV, 1, 256, 256, 32, 64, 1, 1, S, R6, 0},
	{OP_DW, 1, 256, 256, 64, 64, 3, 2, S, R6, 0},
	{OP_CONV, 1, 128, 128, 64, 128, 1, 1, S, R6, 0},
	{OP_DW, 1, 128, 128, 128, 128, 3, 1, S, R6, 0},
	{OP_CONV, 1, 128, 128, 128, 128, 1, 1, S, R6, 0},
	{OP_DW, 1, 128, 128, 128, 128, 3, 2, S, R6, 0},
	{OP_CONV, 1, 64, 64, 128, 256, 1, 1, S, R6, 0},
	{OP_DW, 1, 64, 64, 256, 256, 3, 1, S, R6, 0},
	{OP_CONV, 1, 64, 64, 256, 256, 1, 1, S, R6, 0},
	{OP_DW, 1, 64, 64, 256, 256, 3, 2, S, R6, 0},
	{OP_CONV, 1, 32, 32, 256, 512, 1, 1, S, R6, 0},
	{OP_DW, 5, 32, 32, 512, 512, 3, 1, S, R6, 0},
	{OP_CONV, 5, 32, 32, 512, 512, 1, 1, S, R6, 0},
	{OP_DW, 1, 32, 32, 512, 512, 3, 2, S, R6, 0},
	{OP_CONV, 1, 16, 16, 512, 1024, 1, 1, S, R6, 0},
	{OP_DW, 1, 16, 16, 1024, 1024, 3, 1, S, R6, 0},
	{OP_CONV, 1, 16, 16, 1024, 1024, 1, 1, S, R6, 0},
	{OP_CONV, 1, 16, 16, 1024, 256, 1, 1, S, R6, 0},
	{OP_CONV, 1, 16, 16, 256, 512, 3, 2, S, R6, 0},
	{OP_CONV, 1, 8, 8, 512, 128, 1, 1, S, R6, 0},
	{OP_CONV, 1, 8, 8, 128, 256, 3, 2, S, R6, 0},
	{OP_CONV, 1, 4, 4, 256, 128, 1, 1, S, R6, 0},
	{OP_CONV, 1, 4, 4, 128, 256, 3, 2, S, R6, 0},
	{OP_CONV, 1, 2, 2, 256, 64, 1, 1, S, R6, 0},
	{OP_CONV, 1, 2, 2, 64, 128, 3, 2, S, R6, 0},
	{OP_CONV, 1, 32, 32, 512, 12, 1, 1, S, N, 0},
	{OP_CONV, 1, 32, 32, 512, 9, 1, 1, S, N, 0},
	{OP_CONV, 1, 16, 16, 1024, 24, 1, 1, S, N, 0},
	{OP_CONV, 1, 16, 16, 1024, 18, 1, 1, S, N, 0},
	{OP_CONV, 1, 8, 8, 512, 24, 1, 1, S, N, 0},
	{OP_CONV, 1, 8, 8, 512, 18, 1, 1, S, N, 0},
	{OP_CONV, 1, 4, 4, 256, 24, 1, 1, S, N, 0},
	{OP_CONV, 1, 4, 4, 256, 18, 1, 1, S, N, 0},
	{OP_CONV, 1, 2, 2, 256, 24, 1, 1, S, N, 0},
	{OP_CONV, 1, 2, 2, 256, 18, 1, 1, S, N, 0},
	{OP_CONV, 1, 1, 1, 128, 24, 1, 1, S, N, 0},
	{OP_CONV, 1, 1, 1, 128, 18, 1, 1, S, N, 0},
};
#undef S
#undef V
#undef R
#undef R6
#undef N

/* Columns: auto, gemm, avx2, avx512, ref. */
#define NCOL 5
static const int col_impl[NCOL] = {TVS_CONV_IMPL_AUTO, TVS_CONV_IMPL_GEMM, TVS_CONV_IMPL_AVX2,
				   TVS_CONV_IMPL_AVX512, TVS_CONV_IMPL_REF};

/* Which peak the percentages are of: zmm with AVX-512, else ymm. */
static const char *peak_kind = "zmm";

static float *rand_floats(size_t n)
{
	static uint32_t s = 12345;
	float *p = malloc(n * sizeof(float) + 64);
	if (!p) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		p[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
	}
	return p;
}

typedef struct bufs {
	float *x, *y, *res, *scratch;
	size_t scratch_n;
} bufs;

/* Median seconds of one forward pass: at least 5 timed runs, more up to
 * 0.1 s or 41 runs. */
static double time_layer(const layer *l, int impl, bufs *b, int *chosen)
{
	int oh, ow, before;
	double t[41];
	int n = 0;
	tvs_tensor x = {l->h, l->w, l->cin, b->x};

	if (l->op == OP_DW) {
		tvs_dwconv L;
		float *w = rand_floats((size_t)9 * l->cin);
		if (tvs_dwconv_init(&L, l->k, l->k, l->cin, l->stride, l->pad, l->act, w, NULL, NULL,
				    NULL, NULL, NULL, 0.0f, impl) < 0)
			return -1.0;
		free(w);
		*chosen = L.impl;
		tvs_dwconv_out_size(&L, l->h, l->w, &oh, &ow);
		tvs_tensor y = {oh, ow, l->cin, b->y};
		tvs_dwconv_forward(&L, &x, &y);
		for (double total = 0.0; n < 41 && (n < 5 || total < 0.1); n++) {
			double t0 = now();
			tvs_dwconv_forward(&L, &x, &y);
			t[n] = now() - t0;
			total += t[n];
		}
		tvs_dwconv_free(&L);
	} else {
		tvs_conv L;
		float *w = rand_floats((size_t)l->k * l->k * l->cin * l->cout);
		if (tvs_conv_init(&L, l->k, l->k, l->cin, l->cout, l->stride, l->pad, l->act, w, NULL,
				  NULL, NULL, impl) < 0)
			return -1.0;
		free(w);
		*chosen = L.impl;
		tvs_nn_pad_info(l->h, l->k, l->stride, l->pad, &oh, &before);
		tvs_nn_pad_info(l->w, l->k, l->stride, l->pad, &ow, &before);
		size_t ns = tvs_conv_scratch_floats(&L, l->h, l->w);
		if (ns > b->scratch_n) {
			free(b->scratch);
			b->scratch = rand_floats(ns);
			b->scratch_n = ns;
		}
		tvs_tensor y = {oh, ow, l->cout, b->y}, res = {oh, ow, l->cout, b->res};
		const tvs_tensor *r = l->res ? &res : NULL;
		tvs_conv_forward(&L, &x, &y, r, b->scratch);
		for (double total = 0.0; n < 41 && (n < 5 || total < 0.1); n++) {
			double t0 = now();
			tvs_conv_forward(&L, &x, &y, r, b->scratch);
			t[n] = now() - t0;
			total += t[n];
		}
		tvs_conv_free(&L);
	}
	qsort(t, (size_t)n, sizeof(double), bench_cmp_double);
	return t[n / 2];
}

static double layer_macs(const layer *l)
{
	int oh, ow, before;
	tvs_nn_pad_info(l->h, l->k, l->stride, l->pad, &oh, &before);
	tvs_nn_pad_info(l->w, l->k, l->stride, l->pad, &ow, &before);
	double cin = l->op == OP_DW ? 1.0 : l->cin;
	return (double)oh * ow * l->cout * l->k * l->k * cin;
}

static int impl_runs(int impl, int level, double macs)
{
	switch (impl) {
	case TVS_CONV_IMPL_AVX512: return level >= 2;
	case TVS_CONV_IMPL_AVX2: return level >= 1;
	case TVS_CONV_IMPL_REF: return macs < 2e6;
	default: return 1;
	}
}

#define ROUNDS 5
#define MAX_LAYERS 64

/* Times every (layer, implementation) once per round, rounds outermost, and
 * keeps the median over rounds: the machine may be shared, and a burst of
 * someone else's work then spoils one round of a layer, not all of them. */
static void bench_net(const char *name, const layer *ls, int n, double peak, int level, bufs *b)
{
	static double t[MAX_LAYERS][NCOL][ROUNDS];
	static int chosen[MAX_LAYERS][NCOL];
	double flops[2][NCOL] = {{0}}, secs[2][NCOL] = {{0}}; /* [conv only, all][col] */
	int complete[2][NCOL];

	if (n > MAX_LAYERS)
		n = MAX_LAYERS;
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < n; i++)
			for (int c = 0; c < NCOL; c++) {
				const layer *l = &ls[i];
				t[i][c][r] = -1.0;
				if ((l->op == OP_DW && col_impl[c] == TVS_CONV_IMPL_GEMM) ||
				    !impl_runs(col_impl[c], level, layer_macs(l)))
					continue;
				t[i][c][r] = time_layer(l, col_impl[c], b, &chosen[i][c]);
			}

	for (int c = 0; c < NCOL; c++)
		complete[0][c] = complete[1][c] = impl_runs(col_impl[c], level, 0.0);
	printf("\n== %s (GFLOP/s per call, %% of %.0f GFLOP/s %s peak; auto's pick in [];\n"
	       "   median over %d rounds of the median of >= 5 runs)\n",
	       name, peak, peak_kind, ROUNDS);
	printf("%-4s %-30s %3s %8s  %-22s %-15s %-15s %-15s %-15s\n", "op", "shape", "n", "MMAC",
	       "auto", "gemm", "avx2", "avx512", "ref");
	for (int i = 0; i < n; i++) {
		const layer *l = &ls[i];
		const double macs = layer_macs(l);
		char shape[64], cell[NCOL][40];
		snprintf(shape, sizeof(shape), "%dx%dx%d>%d k%d/%d %s%s", l->h, l->w, l->cin, l->cout,
			 l->k, l->stride, l->pad == TVS_PAD_SAME ? "same" : "valid",
			 l->res ? " +res" : "");
		for (int c = 0; c < NCOL; c++) {
			if (t[i][c][0] < 0.0) {
				snprintf(cell[c], sizeof(cell[c]), "-");
				if (l->op == OP_DW && col_impl[c] == TVS_CONV_IMPL_GEMM)
					continue;
				complete[1][c] = 0;
				if (l->op == OP_CONV)
					complete[0][c] = 0;
				continue;
			}
			qsort(t[i][c], ROUNDS, sizeof(double), bench_cmp_double);
			const double med = t[i][c][ROUNDS / 2];
			const double gf = 2.0 * macs / med * 1e-9;
			if (c == 0)
				snprintf(cell[c], sizeof(cell[c]), "%6.1f %3.0f%% [%s]", gf,
					 100.0 * gf / peak, tvs_conv_impl_name(chosen[i][c]));
			else
				snprintf(cell[c], sizeof(cell[c]), "%6.1f %3.0f%%", gf, 100.0 * gf / peak);
			for (int all = 0; all < 2; all++) {
				if (!all && l->op != OP_CONV)
					continue;
				flops[all][c] += 2.0 * macs * l->count;
				secs[all][c] += med * l->count;
			}
		}
		printf("%-4s %-30s %3d %8.2f  %-22s %-15s %-15s %-15s %-15s\n",
		       l->op == OP_DW ? "dw" : "conv", shape, l->count, macs * 1e-6, cell[0], cell[1],
		       cell[2], cell[3], cell[4]);
	}
	for (int all = 0; all < 2; all++) {
		printf("%-40s %8s  ", all ? "TOTAL all conv+dw layers" : "TOTAL dense conv layers", "");
		for (int c = 0; c < NCOL; c++) {
			char cell[40] = "-";
			if (complete[all][c] && secs[all][c] > 0) {
				const double gf = flops[all][c] / secs[all][c] * 1e-9;
				snprintf(cell, sizeof(cell), "%6.1f %3.0f%% %.2fms", gf, 100.0 * gf / peak,
					 secs[all][c] * 1e3);
			}
			printf("%-*s ", c == 0 ? 22 : 15, cell);
		}
		printf("\n");
	}
}

#define PASSES 7

/* A whole network in execution order, every layer with its own weights and
 * activations ping-ponging between two buffers, so weights stream from
 * wherever they live after the rest of the net has run. This is closer to
 * what the engine sees than the warm per-layer figures. */
static void bench_pass(const layer *ls, int n, double peak, int level, bufs *b)
{
	static tvs_conv conv[MAX_LAYERS];
	static tvs_dwconv dw[MAX_LAYERS];

	printf("%-40s %8s  ", "SEQUENTIAL PASS (median of 7)", "");
	for (int c = 0; c < NCOL; c++) {
		const int impl = col_impl[c];
		char cell[40] = "-";
		double flops = 0.0, t[PASSES];
		int ok = impl != TVS_CONV_IMPL_REF && impl_runs(impl, level, 0.0);
		for (int i = 0; ok && i < n; i++) {
			const layer *l = &ls[i];
			float *w = rand_floats((size_t)l->k * l->k * l->cin * l->cout);
			if (l->op == OP_DW)
				ok = tvs_dwconv_init(&dw[i], l->k, l->k, l->cin, l->stride, l->pad, l->act,
						     w, NULL, NULL, NULL, NULL, NULL, 0.0f, impl) == 0;
			else
				ok = tvs_conv_init(&conv[i], l->k, l->k, l->cin, l->cout, l->stride,
						   l->pad, l->act, w, NULL, NULL, NULL, impl) == 0;
			free(w);
			if (l->op == OP_CONV) {
				size_t ns = tvs_conv_scratch_floats(&conv[i], l->h, l->w);
				if (ok && ns > b->scratch_n) {
					free(b->scratch);
					b->scratch = rand_floats(ns);
					b->scratch_n = ns;
				}
			}
			flops += 2.0 * layer_macs(l) * l->count;
		}
		for (int p = 0; ok && p < PASSES; p++) {
			float *in = b->x, *out = b->y;
			const double t0 = now();
			for (int i = 0; i < n; i++) {
				const layer *l = &ls[i];
				int oh, ow, before;
				tvs_nn_pad_info(l->h, l->k, l->stride, l->pad, &oh, &before);
				tvs_nn_pad_info(l->w, l->k, l->stride, l->pad, &ow, &before);
				tvs_tensor x = {l->h, l->w, l->cin, in}, y = {oh, ow, l->cout, out};
				tvs_tensor res = {oh, ow, l->cout, b->res};
				for (int k = 0; k < l->count; k++) {
					if (l->op == OP_DW)
						tvs_dwconv_forward(&dw[i], &x, &y);
					else
						tvs_conv_forward(&conv[i], &x, &y, l->res ? &res : NULL,
								 b->scratch);
				}
				in = out;
				out = out == b->x ? b->y : b->x;
			}
			t[p] = now() - t0;
		}
		for (int i = 0; i < n; i++) {
			if (ls[i].op == OP_DW)
				tvs_dwconv_free(&dw[i]);
			else
				tvs_conv_free(&conv[i]);
		}
		if (ok) {
			qsort(t, PASSES, sizeof(double), bench_cmp_double);
			const double gf = flops / t[PASSES / 2] * 1e-9;
			snprintf(cell, sizeof(cell), "%6.1f %3.0f%% %.2fms", gf, 100.0 * gf / peak,
				 t[PASSES / 2] * 1e3);
		}
		printf("%-*s ", c == 0 ? 22 : 15, cell);
	}
	printf("\n");
}

static double cpu_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
	const int level = tvs_cpu_simd_level();
	const double wall0 = now(), cpu0 = cpu_seconds();
	bufs b = {0};
	double peak;

	printf("simd level %d (TVS_SIMD lowers it)\n", level);
	if (level >= 2) {
		const double z12 = best_of(peak_zmm12), z24 = best_of(peak_zmm24);
		peak = z12 > z24 ? z12 : z24;
		printf("fp32 FMA peak, 1 thread: zmm 12 chains %.1f GFLOP/s, zmm 24 chains %.1f GFLOP/s\n",
		       z12, z24);
	}
	if (level >= 1) {
		const double y12 = best_of(peak_ymm12);
		printf("fp32 FMA peak, 1 thread: ymm 12 chains %.1f GFLOP/s\n", y12);
		if (level == 1) {
			peak = y12;
			peak_kind = "ymm";
		}
	}
	if (level < 1) {
		peak = 1.0;
		printf("no AVX2: percentages are meaningless\n");
	}
	/* Largest activations: 512x512x3 in, 256x256x64 out. */
	b.x = rand_floats((size_t)256 * 256 * 64);
	b.y = rand_floats((size_t)256 * 256 * 64);
	b.res = rand_floats((size_t)256 * 256 * 64);
	const int nrec = (int)(sizeof(rec) / sizeof(rec[0])), nssd = (int)(sizeof(ssd) / sizeof(ssd[0]));
	bench_net("recognition @150x150", rec, nrec, peak, level, &b);
	bench_pass(rec, nrec, peak, level, &b);
	bench_net("ssd_mobilenetv1 @512x512", ssd, nssd, peak, level, &b);
	bench_pass(ssd, nssd, peak, level, &b);
	free(b.x), free(b.y), free(b.res), free(b.scratch);
	/* Below ~100% the machine was shared and every time above is inflated. */
	printf("\nthis run got %.0f%% of one core (cpu %.1f s / wall %.1f s)\n",
	       100.0 * (cpu_seconds() - cpu0) / (now() - wall0), cpu_seconds() - cpu0, now() - wall0);
	return 0;
}
