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
 *           Wide outputs read the input in place (or a zero-padded copy of
 *           it when the layer pads), so no im2col traffic; outputs narrower
 *           than a good tile (the recognition net's 8x8, 4x4, 3x3 and 1x1
 *           stages) are flattened through an im2col matrix instead, so one
 *           tile can span several output rows and each weight vector
 *           loaded feeds enough FMAs. That matrix is small exactly when it
 *           is used.
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

/* Outputs narrower than this go through im2col in the direct kernels (see the
 * measurements at conv_choose()). */
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

typedef struct conv_plan {
	tvs__conv_geom g;
	int mode;
	int pad_copy;   /* DIRECT: run on a zero-padded copy of x */
	int ph, pw;     /* its size */
	size_t scratch; /* floats */
} conv_plan;

static void plan_of(const tvs_conv *L, int in_h, int in_w, conv_plan *p)
{
	tvs__conv_geom_of(L, in_h, in_w, &p->g);
	const size_t m = (size_t)p->g.oh * p->g.ow;
	const size_t k = (size_t)L->kh * L->kw * L->cin;

	p->scratch = 0;
	p->pad_copy = 0;
	p->ph = in_h, p->pw = in_w;
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
	int pb = (p->g.oh - 1) * L->stride + L->kh - in_h - p->g.pad_top;
	int pr = (p->g.ow - 1) * L->stride + L->kw - in_w - p->g.pad_left;
	pb = pb > 0 ? pb : 0;
	pr = pr > 0 ? pr : 0;
	if (p->g.pad_top || p->g.pad_left || pb || pr) {
		p->pad_copy = 1;
		p->ph = in_h + p->g.pad_top + pb;
		p->pw = in_w + p->g.pad_left + pr;
		p->scratch = (size_t)p->ph * p->pw * L->cin;
	}
}

size_t tvs_conv_scratch_floats(const tvs_conv *L, int in_h, int in_w)
{
	conv_plan p;

	if (L->impl == TVS_CONV_IMPL_REF)
		return 0;
	plan_of(L, in_h, in_w, &p);
	return p.scratch;
}

/* Row (oy, ox) of the im2col matrix is the receptive field of that output in
 * HWIO order, zeros where it hangs over the edge. */
static void im2col(const tvs_conv *L, const tvs__conv_geom *g, const tvs_tensor *x, float *a)
{
	const size_t cin = (size_t)L->cin, krow = (size_t)L->kw * cin;

	for (int oy = 0; oy < g->oh; oy++) {
		for (int ox = 0; ox < g->ow; ox++) {
			float *row = a + ((size_t)oy * g->ow + ox) * L->kh * krow;
			const int ix0 = ox * L->stride - g->pad_left;
			int lo = ix0 < 0 ? -ix0 : 0;
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
}

static void pad_copy(const tvs_tensor *x, const conv_plan *p, float *d)
{
	const size_t c = (size_t)x->c, row = (size_t)p->pw * c;
	const int pl = p->g.pad_left, pr = p->pw - x->w - pl;

	for (int py = 0; py < p->ph; py++, d += row) {
		const int iy = py - p->g.pad_top;
		if (iy < 0 || iy >= x->h) {
			memset(d, 0, row * sizeof(float));
			continue;
		}
		memset(d, 0, pl * c * sizeof(float));
		memcpy(d + pl * c, x->d + (size_t)iy * x->w * c, x->w * c * sizeof(float));
		memset(d + (pl + x->w) * c, 0, pr * c * sizeof(float));
	}
}

/* ------------------------------------------------------------ direct */

/* n pixels in tiles of at most rmax, as even as possible: 35 at 12 is
 * 12+12+11, not 12+12+11 with a 1-wide leftover. */
static void run_tiles(const tvs__conv_isa *isa, int nb, int n, int rmax, tvs__tile *t,
		      ptrdiff_t a_step, ptrdiff_t y_step)
{
	const int nt = (n + rmax - 1) / rmax, base = n / nt, extra = n % nt;
	const float *a = t->a;
	float *y = t->y;
	const float *res = t->res;

	for (int i = 0; i < nt; i++) {
		const int rx = base + (i < extra);
		isa->tile(rx, nb, t);
		t->a += rx * a_step;
		t->y += rx * y_step;
		if (t->res)
			t->res += rx * y_step;
	}
	t->a = a, t->y = y, t->res = res;
}

static void forward_direct(const tvs_conv *L, const conv_plan *p, const tvs_tensor *x, tvs_tensor *y,
			   const tvs_tensor *res, float *scratch)
{
	const tvs__conv_isa *isa = isa_of(L->impl);
	const int cout = L->cout, s = L->stride;
	pack_geom pg;
	const float *src = x->d;
	ptrdiff_t rowpitch = (ptrdiff_t)x->w * L->cin;

	pack_geom_of(isa, L, &pg);
	if (p->mode == MODE_IM2COL) {
		im2col(L, &p->g, x, scratch);
		src = scratch;
	} else if (p->pad_copy) {
		pad_copy(x, p, scratch);
		src = scratch;
		rowpitch = (ptrdiff_t)p->pw * L->cin;
	}
	for (int b = 0; b < pg.nblocks; b++) {
		const int col0 = b * pg.nb * pg.vec;
		const int nbb = pg.nvec - b * pg.nb < pg.nb ? pg.nvec - b * pg.nb : pg.nb;
		tvs__tile t = {
			.w = L->wpack + pg.bias_floats + b * pg.block_floats,
			.bias = L->wpack + col0,
			.y_px = cout,
			.act = L->act,
			.ncols = cout - col0 < nbb * pg.vec ? cout - col0 : nbb * pg.vec,
		};
		const int rmax = isa->rx_max[nbb];
		if (p->mode != MODE_DIRECT) {
			t.a = src;
			t.a_px = (ptrdiff_t)pg.k;
			t.kh = 1;
			t.klen = (int)pg.k;
			t.y = y->d + col0;
			t.res = res ? res->d + col0 : NULL;
			run_tiles(isa, nbb, p->g.oh * p->g.ow, rmax, &t, t.a_px, cout);
			continue;
		}
		t.a_px = (ptrdiff_t)s * L->cin;
		t.a_ky = rowpitch;
		t.kh = L->kh;
		t.klen = L->kw * L->cin;
		for (int oy = 0; oy < p->g.oh; oy++) {
			const size_t o = (size_t)oy * p->g.ow * cout + col0;
			t.a = src + (ptrdiff_t)oy * s * rowpitch;
			t.y = y->d + o;
			t.res = res ? res->d + o : NULL;
			run_tiles(isa, nbb, p->g.ow, rmax, &t, t.a_px, cout);
		}
	}
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

/* The fastest implementation on this CPU for the layer's shape.
 * TODO(measurements): filled in from bench/bench_kernels. */
static int conv_choose(const tvs_conv *L, int level)
{
	(void)L;
	if (level >= 2)
		return TVS_CONV_IMPL_AVX512;
	if (level >= 1)
		return TVS_CONV_IMPL_AVX2;
	return TVS_CONV_IMPL_REF;
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
		impl = conv_choose(L, level);
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
	L->impl = level >= 2 ? TVS_CONV_IMPL_AVX512 : level >= 1 ? TVS_CONV_IMPL_AVX2 : TVS_CONV_IMPL_REF;
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
