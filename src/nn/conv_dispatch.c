/*
 * Kernel selection and the ISA-independent half of the conv kernels.
 *
 * tvs__conv_prepare() picks an implementation per layer at load time and
 * packs its weights; tvs_conv_forward() then only routes. Three ways to run
 * a dense conv:
 *
 *   GEMM    im2col (skipped for 1x1 stride 1, where NHWC x already is the
 *           [HW x cin] matrix) + OpenBLAS sgemm + one epilogue pass. Works on
 *           any CPU; OpenBLAS does its own dispatch.
 *   AVX512, direct kernels: this file decides where each register tile reads
 *   AVX2    its input and the per-ISA files run the tiles (kernels_int.h).
 *           Wide outputs read the input in place, so there is no im2col
 *           traffic; only the frame of border outputs whose windows hang
 *           over the padding goes through im2col, one border line at a
 *           time. Outputs narrower than a good tile (the recognition net's
 *           8x8, 4x4, 3x3 and 1x1 stages) are flattened through a full
 *           im2col matrix instead, so one tile can span several output rows
 *           and each weight vector loaded feeds enough FMAs. That matrix is
 *           small exactly when it is used.
 *   REF     the double-precision reference in layers.c.
 *
 * Forward passes never allocate: tvs_conv_scratch_floats() and the forward
 * pass derive the same plan from (layer, input size), so the scratch they
 * agree on is exact. Each forward runs on one thread; the caller
 * parallelises across images, so OpenBLAS is pinned to one thread.
 */
#include "kernels_int.h"
#include "tvs/error.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Not declared by every cblas.h; OpenBLAS always exports it. */
void openblas_set_num_threads(int num_threads);

/* Outputs narrower than this go through a full im2col matrix in the direct
 * kernels (measurements at conv_choose()). */
#define DIRECT_MIN_OW 12

/* ------------------------------------------------------------ packing */

typedef struct pack_geom {
	int vec, nvec, nb, nblocks;
	size_t k, bias_floats, block_floats;
} pack_geom;

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static const tvs__conv_isa *isa_of(int impl)
{
	return impl == TVS_CONV_IMPL_AVX512 ? &tvs__isa_avx512 : &tvs__isa_avx2;
}

/* Blocks of at most nb_max vectors, balanced so that e.g. 5 vectors become
 * 3+2 rather than 4+1. */
static void pack_geom_of(const tvs__conv_isa *isa, const tvs_conv *L, pack_geom *p)
{
	p->vec = isa->vec;
	p->nvec = (L->cout + p->vec - 1) / p->vec;
	p->nblocks = (p->nvec + isa->nb_max - 1) / isa->nb_max;
	p->nb = (p->nvec + p->nblocks - 1) / p->nblocks;
	p->k = (size_t)L->kh * L->kw * L->cin;
	p->bias_floats = round16((size_t)p->nvec * p->vec);
	p->block_floats = round16(p->k * p->nb * p->vec);
}

static int pack_weights(tvs_conv *L)
{
	pack_geom p;
	pack_geom_of(isa_of(L->impl), L, &p);
	size_t n = p.bias_floats + p.nblocks * p.block_floats;
	float *d = aligned_alloc(64, n * sizeof(float));

	if (!d)
		return tvs__err(TVS_ENOMEM, "conv: out of memory packing %zu weights", n);
	memset(d, 0, n * sizeof(float));
	memcpy(d, L->bias, (size_t)L->cout * sizeof(float));
	for (int b = 0; b < p.nblocks; b++) {
		const int col0 = b * p.nb * p.vec;
		const int nbb = p.nvec - b * p.nb < p.nb ? p.nvec - b * p.nb : p.nb;
		const int ld = nbb * p.vec;
		float *blk = d + p.bias_floats + b * p.block_floats;
		for (size_t k = 0; k < p.k; k++)
			for (int j = 0; j < ld && col0 + j < L->cout; j++)
				blk[k * ld + j] = L->w[k * L->cout + col0 + j];
	}
	L->wpack = d;
	return 0;
}

/* ------------------------------------------------------------ plans */

enum { MODE_MATRIX, MODE_IM2COL, MODE_DIRECT };

/* A DIRECT layer splits its output into the interior, whose receptive
 * fields lie inside x and which the tiles read in place, and a frame of
 * border pixels that see padding. The frame goes through im2col one line
 * (a border row, or a border column of the interior rows) at a time, so
 * its scratch is one line of receptive fields rather than a padded copy
 * of the whole input. */
typedef struct conv_plan {
	tvs__conv_geom g;
	int mode;
	int oy_lo, oy_hi, ox_lo, ox_hi; /* DIRECT: the interior */
	size_t scratch;                 /* floats */
} conv_plan;

/* First and one-past-last output index along one axis whose kernel window
 * [o*s - pad, o*s - pad + k) lies inside [0, in). */
static void inside_range(int in, int k, int s, int pad, int out, int *lo, int *hi)
{
	*lo = (pad + s - 1) / s;
	*hi = in - k + pad >= 0 ? (in - k + pad) / s + 1 : 0;
	if (*hi > out)
		*hi = out;
	if (*lo > *hi)
		*lo = *hi = out;
}

static void plan_of(const tvs_conv *L, int in_h, int in_w, conv_plan *p)
{
	tvs__conv_geom_of(L, in_h, in_w, &p->g);
	const size_t m = (size_t)p->g.oh * p->g.ow;
	const size_t k = (size_t)L->kh * L->kw * L->cin;

	p->scratch = 0;
	if (L->kh == 1 && L->kw == 1 && L->stride == 1) {
		p->mode = MODE_MATRIX;
		return;
	}
	if (L->impl == TVS_CONV_IMPL_GEMM || p->g.ow < DIRECT_MIN_OW) {
		p->mode = MODE_IM2COL;
		p->scratch = m * k;
		return;
	}
	p->mode = MODE_DIRECT;
	inside_range(in_h, L->kh, L->stride, p->g.pad_top, p->g.oh, &p->oy_lo, &p->oy_hi);
	inside_range(in_w, L->kw, L->stride, p->g.pad_left, p->g.ow, &p->ox_lo, &p->ox_hi);
	if (p->oy_lo > 0 || p->oy_hi < p->g.oh || p->ox_lo > 0 || p->ox_hi < p->g.ow)
		p->scratch = (size_t)(p->g.oh > p->g.ow ? p->g.oh : p->g.ow) * k;
}

size_t tvs_conv_scratch_floats(const tvs_conv *L, int in_h, int in_w)
{
	conv_plan p;

	if (L->impl == TVS_CONV_IMPL_REF)
		return 0;
	plan_of(L, in_h, in_w, &p);
	return p.scratch;
}

/* Receptive fields of n outputs starting at (oy, ox) and stepping by
 * (dy, dx), in HWIO order, zeros where they hang over the edge: n rows of
 * kh*kw*cin floats at a. */
static void im2col_line(const tvs_conv *L, const tvs__conv_geom *g, const tvs_tensor *x, int oy,
			int ox, int dy, int dx, int n, float *a)
{
	const size_t cin = (size_t)L->cin, krow = (size_t)L->kw * cin;

	for (int i = 0; i < n; i++, oy += dy, ox += dx) {
		float *row = a + (size_t)i * L->kh * krow;
		const int ix0 = ox * L->stride - g->pad_left;
		const int lo = ix0 < 0 ? -ix0 : 0;
		int hi = x->w - ix0 < L->kw ? x->w - ix0 : L->kw;
		hi = hi > lo ? hi : lo;
		for (int ky = 0; ky < L->kh; ky++) {
			float *d = row + ky * krow;
			const int iy = oy * L->stride - g->pad_top + ky;
			if (iy < 0 || iy >= x->h || hi == lo) {
				memset(d, 0, krow * sizeof(float));
				continue;
			}
			memset(d, 0, lo * cin * sizeof(float));
			memcpy(d + lo * cin, x->d + ((size_t)iy * x->w + ix0 + lo) * cin,
			       (hi - lo) * cin * sizeof(float));
			memset(d + hi * cin, 0, (L->kw - hi) * cin * sizeof(float));
		}
	}
}

/* The whole output in raster order: the im2col matrix [oh*ow][K]. */
static void im2col(const tvs_conv *L, const tvs__conv_geom *g, const tvs_tensor *x, float *a)
{
	const size_t k = (size_t)L->kh * L->kw * L->cin;

	for (int oy = 0; oy < g->oh; oy++)
		im2col_line(L, g, x, oy, 0, 0, 1, g->ow, a + (size_t)oy * g->ow * k);
}

/* ------------------------------------------------------------ direct */

typedef struct direct_ctx {
	const tvs__conv_isa *isa;
	const tvs_conv *L;
	pack_geom pg;
	const tvs_tensor *x, *res;
	tvs_tensor *y;
} direct_ctx;

/* n output pixels, the first at output offset o (floats), y_px floats
 * apart, whose inputs start at a, a_px floats apart, for every cout block.
 * Tiles are at most rx_max wide and as even as possible (25 at 12 is 9+8+8,
 * not 12+12+1): a narrow tile has too few FMA chains to hide latency. */
static void run_pixels(const direct_ctx *c, tvs__tile *t, const float *a, ptrdiff_t a_px, size_t o,
		       ptrdiff_t y_px, int n)
{
	const pack_geom *pg = &c->pg;
	const int cout = c->L->cout;

	if (n <= 0)
		return;
	t->a_px = a_px;
	t->y_px = y_px;
	for (int b = 0; b < pg->nblocks; b++) {
		const int col0 = b * pg->nb * pg->vec;
		const int nbb = pg->nvec - b * pg->nb < pg->nb ? pg->nvec - b * pg->nb : pg->nb;
		const int rmax = c->isa->rx_max[nbb];
		const int nt = (n + rmax - 1) / rmax, base = n / nt, extra = n % nt;
		t->w = c->L->wpack + pg->bias_floats + b * pg->block_floats;
		t->bias = c->L->wpack + col0;
		t->ncols = cout - col0 < nbb * pg->vec ? cout - col0 : nbb * pg->vec;
		t->a = a;
		t->y = c->y->d + o + col0;
		t->res = c->res ? c->res->d + o + col0 : NULL;
		for (int i = 0; i < nt; i++) {
			const int rx = base + (i < extra);
			c->isa->tile(rx, nbb, t);
			t->a += rx * a_px;
			t->y += rx * y_px;
			if (t->res)
				t->res += rx * y_px;
		}
	}
}

/* Border outputs (oy, ox) + i*(dy, dx), i < n, through im2col. */
static void run_line(const direct_ctx *c, const conv_plan *p, int oy, int ox, int dy, int dx, int n,
		     float *scratch)
{
	const int cout = c->L->cout, k = (int)c->pg.k;
	tvs__tile t = {.kh = 1, .klen = k, .act = c->L->act};

	if (n <= 0)
		return;
	im2col_line(c->L, &p->g, c->x, oy, ox, dy, dx, n, scratch);
	run_pixels(c, &t, scratch, k, ((size_t)oy * p->g.ow + ox) * cout,
		   ((ptrdiff_t)dy * p->g.ow + dx) * cout, n);
}

static void forward_direct(const tvs_conv *L, const conv_plan *p, const tvs_tensor *x, tvs_tensor *y,
			   const tvs_tensor *res, float *scratch)
{
	direct_ctx c = {.isa = isa_of(L->impl), .L = L, .x = x, .y = y, .res = res};
	const int cout = L->cout, s = L->stride, k = L->kh * L->kw * L->cin;
	const int oh = p->g.oh, ow = p->g.ow;

	pack_geom_of(c.isa, L, &c.pg);
	if (p->mode == MODE_MATRIX || p->mode == MODE_IM2COL) {
		tvs__tile t = {.kh = 1, .klen = k, .act = L->act};
		const float *a = x->d;
		if (p->mode == MODE_IM2COL) {
			im2col(L, &p->g, x, scratch);
			a = scratch;
		}
		run_pixels(&c, &t, a, k, 0, cout, oh * ow);
		return;
	}

	const ptrdiff_t xrow = (ptrdiff_t)x->w * L->cin;
	tvs__tile t = {.kh = L->kh, .klen = L->kw * L->cin, .a_ky = xrow, .act = L->act};
	for (int oy = 0; oy < p->oy_lo; oy++)
		run_line(&c, p, oy, 0, 0, 1, ow, scratch);
	for (int oy = p->oy_lo; oy < p->oy_hi; oy++) {
		const int iy = oy * s - p->g.pad_top, ix = p->ox_lo * s - p->g.pad_left;
		run_pixels(&c, &t, x->d + iy * xrow + (ptrdiff_t)ix * L->cin, (ptrdiff_t)s * L->cin,
			   ((size_t)oy * ow + p->ox_lo) * cout, cout, p->ox_hi - p->ox_lo);
	}
	for (int ox = 0; ox < p->ox_lo; ox++)
		run_line(&c, p, p->oy_lo, ox, 1, 0, p->oy_hi - p->oy_lo, scratch);
	for (int ox = p->ox_hi; ox < ow; ox++)
		run_line(&c, p, p->oy_lo, ox, 1, 0, p->oy_hi - p->oy_lo, scratch);
	for (int oy = p->oy_hi; oy < oh; oy++)
		run_line(&c, p, oy, 0, 0, 1, ow, scratch);
}

/* ------------------------------------------------------------ GEMM */

/* One loop per activation, so the compiler sees branch-free min/max rather
 * than a switch per element (and relu6 on signed data mispredicts a lot). */
static void bias_act_scalar(float *restrict y, size_t m, int n, const float *restrict bias, int act)
{
	for (size_t i = 0; i < m; i++, y += n) {
		switch (act) {
		case TVS_ACT_RELU:
			for (int j = 0; j < n; j++) {
				const float v = y[j] + bias[j];
				y[j] = v > 0.0f ? v : 0.0f;
			}
			break;
		case TVS_ACT_RELU6:
			for (int j = 0; j < n; j++) {
				float v = y[j] + bias[j];
				v = v > 0.0f ? v : 0.0f;
				y[j] = v < 6.0f ? v : 6.0f;
			}
			break;
		case TVS_ACT_LEAKY:
			for (int j = 0; j < n; j++) {
				const float v = y[j] + bias[j], l = 0.1f * v;
				y[j] = v > l ? v : l;
			}
			break;
		default:
			for (int j = 0; j < n; j++)
				y[j] += bias[j];
			break;
		}
	}
}

static void forward_gemm(const tvs_conv *L, const conv_plan *p, const tvs_tensor *x, tvs_tensor *y,
			 const tvs_tensor *res, float *scratch)
{
	const int m = p->g.oh * p->g.ow, n = L->cout, k = L->kh * L->kw * L->cin;
	const float *a = x->d;
	float beta = 0.0f;

	if (p->mode == MODE_IM2COL) {
		im2col(L, &p->g, x, scratch);
		a = scratch;
	}
	if (res) {
		/* sgemm accumulates onto C, so the residual goes in first; with
		 * res == y it is there already. */
		if (res->d != y->d)
			memcpy(y->d, res->d, (size_t)m * n * sizeof(float));
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, L->w, n, beta,
		    y->d, n);
	const int level = tvs_cpu_simd_level();
	if (level >= 2)
		tvs__isa_avx512.bias_act(y->d, (size_t)m, n, L->bias, L->act);
	else if (level >= 1)
		tvs__isa_avx2.bias_act(y->d, (size_t)m, n, L->bias, L->act);
	else
		bias_act_scalar(y->d, (size_t)m, n, L->bias, L->act);
}

/* ------------------------------------------------------------ selection */

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void)
{
	openblas_set_num_threads(1);
}

/* The implementation AUTO picks, from bench/bench_kernels on the dev box
 * (AMD Zen 5, 1 thread, zmm FMA peak 263 GFLOP/s, ymm 129; GFLOP/s as
 * avx512 / avx2 / gemm, each the median over 5 rounds):
 *
 *   recognition 7x7/2 150x150x3>32     247 / 125 /  75
 *   recognition 3x3 35x35x32>32        237 / 116 /  94
 *   recognition 3x3 17x17x64>64        246 / 120 / 110
 *   recognition 3x3 8x8x128>128        243 / 124 / 112
 *   recognition 3x3 4x4x256>256        248 / 126 /  95
 *   SSD 3x3/2 512x512x3>32             207 / 120 /  46
 *   SSD 1x1 256x256x32>64              212 / 118 /  88
 *   SSD 1x1 32x32x512>512              244 / 122 / 121
 *   SSD 1x1 16x16x1024>1024            248 / 124 / 119
 *   SSD 1x1 32x32x512>12 (box)         133 /  93 /  69
 *   whole recognition net              240 / 120 /  94
 *   whole SSD, dense layers            241 / 122 / 111
 *
 * The direct kernel of the widest ISA wins every layer shape of the four
 * nets, and AVX2 direct beats OpenBLAS's AVX2 sgemm on every one as well
 * (im2col traffic, and an epilogue pass that the direct kernels fuse), so
 * the rule is by ISA alone. Within the direct kernels, the im2col-versus-
 * in-place choice (DIRECT_MIN_OW) was measured the same way: at ow = 35,
 * 17 and 12 in place is faster (243 vs 181, 247 vs 228, 243 vs 227), at
 * ow <= 4 im2col is (245 vs 135), and ow = 8 is a draw within 4%. Without
 * AVX2, OpenBLAS sgemm (which has its own CPU dispatch) runs: it is 20-80x
 * faster than the double-precision reference, which is for tests only. */
static int conv_choose(int level)
{
	if (level >= 2)
		return TVS_CONV_IMPL_AVX512;
	if (level >= 1)
		return TVS_CONV_IMPL_AVX2;
	return TVS_CONV_IMPL_GEMM;
}

int tvs__conv_prepare(tvs_conv *L)
{
	const int level = tvs_cpu_simd_level();
	int impl = L->impl;

	pthread_once(&blas_once, blas_single_thread);
	if (impl < TVS_CONV_IMPL_AUTO || impl > TVS_CONV_IMPL_AVX512)
		return tvs__err(TVS_EINVAL, "conv: unknown implementation %d", impl);
	if (impl == TVS_CONV_IMPL_AUTO || (impl == TVS_CONV_IMPL_AVX512 && level < 2) ||
	    (impl == TVS_CONV_IMPL_AVX2 && level < 1))
		impl = conv_choose(level);
	L->impl = impl;
	free(L->wpack);
	L->wpack = NULL;
	if (impl == TVS_CONV_IMPL_AVX512 || impl == TVS_CONV_IMPL_AVX2)
		return pack_weights(L);
	return 0;
}

void tvs_conv_forward(const tvs_conv *L, const tvs_tensor *x, tvs_tensor *y, const tvs_tensor *res,
		      float *scratch)
{
	conv_plan p;

	if (L->impl == TVS_CONV_IMPL_REF) {
		tvs_conv_forward_ref(L, x, y, res);
		return;
	}
	plan_of(L, x->h, x->w, &p);
	TVS_ASSERT(x->c == L->cin && y->h == p.g.oh && y->w == p.g.ow && y->c == L->cout);
	TVS_ASSERT(!res || (res->h == y->h && res->w == y->w && res->c == y->c));
	TVS_ASSERT(scratch || !p.scratch);
	if (L->impl == TVS_CONV_IMPL_GEMM)
		forward_gemm(L, &p, x, y, res, scratch);
	else
		forward_direct(L, &p, x, y, res, scratch);
}

/* ------------------------------------------------------------ depthwise */

/* Depthwise layers are bound by memory, not FMAs, and the AVX-512 kernel
 * (32 channels per step) wins on every depthwise shape of the nets but one
 * kind: stride 2 over a large map with few channels, where the AVX2 kernel's
 * 8-channel steps keep fewer cache lines in flight. Zen 5, median of
 * alternating runs, GFLOP/s avx512 vs avx2:
 *   256x256x64 s2  23-26 vs 30-35      128x128x128 s2  41-43 vs 39-41
 *   256x256x32 s1  56-59 vs 55-61      128x128x128 s1  59 vs 58-60
 *   64x64x256 s1   71-73 vs 59-62      32x32x512 s1    67 vs 48
 *   16x16x1024 s1  58 vs 27
 * so AUTO takes AVX2 for stride 2 with at most 64 channels. */
int tvs__dwconv_prepare(tvs_dwconv *L)
{
	const int level = tvs_cpu_simd_level();

	if (L->impl < TVS_CONV_IMPL_AUTO || L->impl > TVS_CONV_IMPL_AVX512)
		return tvs__err(TVS_EINVAL, "dwconv: unknown implementation %d", L->impl);
	/* There is no GEMM form of a depthwise conv: GEMM, AUTO and a SIMD
	 * level the CPU lacks all mean the best kernel there is, which without
	 * SIMD is the reference. */
	if ((L->impl == TVS_CONV_IMPL_AVX512 && level >= 2) ||
	    (L->impl == TVS_CONV_IMPL_AVX2 && level >= 1) || L->impl == TVS_CONV_IMPL_REF)
		return 0;
	if (level >= 2 && !(L->stride == 2 && L->c <= 64))
		L->impl = TVS_CONV_IMPL_AVX512;
	else if (level >= 1)
		L->impl = TVS_CONV_IMPL_AVX2;
	else
		L->impl = TVS_CONV_IMPL_REF;
	return 0;
}

void tvs_dwconv_forward(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
{
	switch (L->impl) {
	case TVS_CONV_IMPL_AVX512: tvs__isa_avx512.dwconv(L, x, y); break;
	case TVS_CONV_IMPL_AVX2: tvs__isa_avx2.dwconv(L, x, y); break;
	default: tvs_dwconv_forward_ref(L, x, y); break;
	}
}

const char *tvs_conv_impl_name(int impl)
{
	static const char *names[] = {"auto", "ref", "gemm", "avx2", "avx512"};
	return impl >= 0 && impl <= TVS_CONV_IMPL_AVX512 ? names[impl] : "?";
}
