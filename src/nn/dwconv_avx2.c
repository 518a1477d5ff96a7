/*
 * Depthwise conv, AVX2+FMA: 8 channels per ymm, NHWC.
 *
 * Same blocks as dwconv_avx512.c (read its header for why): 2 output rows x
 * up to 4 output pixels, all channels of a pixel before the next block, so
 * loads and stores run along contiguous channels. With 16 ymm registers a
 * block holds 8 accumulators of one 8-channel group and takes the weights
 * as memory operands. Blocks run plainly left to right: the even/odd
 * ordering that the AVX-512 kernel needs against 4K aliasing measured 3-8%
 * slower with these 8-channel steps, presumably because each block's many
 * steps already separate a store from the reload of that column. Channels
 * beyond the last full group of 8
 * (never the case in the face nets) go through a checked per-pixel loop
 * with vmaskmov, so the blocks need no masks.
 */
#include "kernels_int.h"
#include "tvs/error.h"

#include <immintrin.h>

static inline __m256 dw_act(__m256 v, int act)
{
	switch (act) {
	case TVS_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
	case TVS_ACT_RELU6:
		return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
	case TVS_ACT_LEAKY: return _mm256_max_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(0.1f)));
	default: return v;
	}
}

typedef struct dw_ctx {
	const float *x;  /* input image */
	int h, w, c;     /* input size */
	ptrdiff_t xrow;  /* floats per input row */
	int pt, pl;      /* leading pads */
	const float *wt; /* [kh][kw][c] */
	const float *bias;
	float *y;        /* output image */
	int ow, act;
	int c8;          /* channels handled by the blocks (multiple of 8) */
} dw_ctx;

/* RY x RX outputs at (oy, ox), channels [0, c8). Rows outside the image are
 * skipped at run time, columns outside only in the CHECK instantiation. */
static inline __attribute__((always_inline)) void dw_block(const int RY, const int RX,
							   const int S, const int CHECK,
							   const dw_ctx *d, int oy, int ox)
{
	const int nr = (RY - 1) * S + 3, ncol = (RX - 1) * S + 3, c = d->c;
	const int iy0 = oy * S - d->pt, ix0 = ox * S - d->pl;
	const int rlo = iy0 < 0 ? -iy0 : 0, rhi = d->h - iy0 < nr ? d->h - iy0 : nr;
	const int clo = ix0 < 0 ? -ix0 : 0, chi = d->w - ix0 < ncol ? d->w - ix0 : ncol;

	for (int cb = 0; cb < d->c8; cb += 8) {
		__m256 acc[2][4];
		const __m256 b = _mm256_loadu_ps(d->bias + cb);
#pragma GCC unroll 2
		for (int j = 0; j < RY; j++)
#pragma GCC unroll 4
			for (int i = 0; i < RX; i++)
				acc[j][i] = b;
#pragma GCC unroll 5
		for (int rr = 0; rr < nr; rr++) {
			if (rr < rlo || rr >= rhi)
				continue;
			const float *xr = d->x + (ptrdiff_t)(iy0 + rr) * d->xrow + cb;
#pragma GCC unroll 9
			for (int col = 0; col < ncol; col++) {
				if (CHECK && (col < clo || col >= chi))
					continue;
				const __m256 xv = _mm256_loadu_ps(xr + (ptrdiff_t)(ix0 + col) * c);
#pragma GCC unroll 2
				for (int j = 0; j < RY; j++) {
					const int wy = rr - j * S;
					if (wy < 0 || wy > 2)
						continue;
#pragma GCC unroll 4
					for (int i = 0; i < RX; i++) {
						const int kx = col - i * S;
						if (kx < 0 || kx > 2)
							continue;
						acc[j][i] = _mm256_fmadd_ps(
							xv,
							_mm256_loadu_ps(d->wt + (size_t)(wy * 3 + kx) * c + cb),
							acc[j][i]);
					}
				}
			}
		}
#pragma GCC unroll 2
		for (int j = 0; j < RY; j++)
#pragma GCC unroll 4
			for (int i = 0; i < RX; i++)
				_mm256_storeu_ps(d->y + ((size_t)(oy + j) * d->ow + ox + i) * c + cb,
						 dw_act(acc[j][i], d->act));
	}
}

typedef void (*block_fn)(const dw_ctx *d, int oy, int ox);

#define BLOCK(RY, RX, S, CHECK)                                                   \
	static void block_##RY##_##RX##_##S##_##CHECK(const dw_ctx *d, int oy, int ox) \
	{                                                                         \
		dw_block(RY, RX, S, CHECK, d, oy, ox);                            \
	}
#define BLOCKS_RX(RY, S, CHECK) BLOCK(RY, 4, S, CHECK) BLOCK(RY, 2, S, CHECK) BLOCK(RY, 1, S, CHECK)
#define BLOCKS_S(S, CHECK) BLOCKS_RX(2, S, CHECK) BLOCKS_RX(1, S, CHECK)
BLOCKS_S(1, 0)
BLOCKS_S(1, 1)
BLOCKS_S(2, 0)
BLOCKS_S(2, 1)

#define RXS(RY, S, CHECK)                                                  \
	{                                                                  \
		block_##RY##_1_##S##_##CHECK, block_##RY##_2_##S##_##CHECK, \
			block_##RY##_4_##S##_##CHECK                        \
	}
/* [stride-1][check][ry-1][log2 rx] */
static const block_fn blocks[2][2][2][3] = {
	{{RXS(1, 1, 0), RXS(2, 1, 0)}, {RXS(1, 1, 1), RXS(2, 1, 1)}},
	{{RXS(1, 2, 0), RXS(2, 2, 0)}, {RXS(1, 2, 1), RXS(2, 2, 1)}},
};

/* Any kernel size and stride, one pixel, channels [c0, c), every tap checked. */
static void dw_pixel(const tvs_dwconv *L, const dw_ctx *d, int oy, int ox, int c0)
{
	const int c = d->c, iy0 = oy * L->stride - d->pt, ix0 = ox * L->stride - d->pl;
	float *o = d->y + ((size_t)oy * d->ow + ox) * c;

	for (int cb = c0; cb < c; cb += 8) {
		const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(c - cb),
						     _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		__m256 acc = _mm256_maskload_ps(d->bias + cb, m);
		for (int ky = 0; ky < L->kh; ky++) {
			const int iy = iy0 + ky;
			if (iy < 0 || iy >= d->h)
				continue;
			for (int kx = 0; kx < L->kw; kx++) {
				const int ix = ix0 + kx;
				if (ix < 0 || ix >= d->w)
					continue;
				const __m256 xv = _mm256_maskload_ps(
					d->x + (ptrdiff_t)iy * d->xrow + (ptrdiff_t)ix * c + cb, m);
				const __m256 wv =
					_mm256_maskload_ps(d->wt + (size_t)(ky * L->kw + kx) * c + cb, m);
				acc = _mm256_fmadd_ps(xv, wv, acc);
			}
		}
		_mm256_maskstore_ps(o + cb, m, dw_act(acc, d->act));
	}
}

void tvs__dwconv_forward_avx2(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
{
	int oh, ow;
	dw_ctx d;
	const int s = L->stride;
	const int k3 = L->kh == 3 && L->kw == 3 && (s == 1 || s == 2);

	tvs_nn_pad_info(x->h, L->kh, s, L->pad, &oh, &d.pt);
	tvs_nn_pad_info(x->w, L->kw, s, L->pad, &ow, &d.pl);
	TVS_ASSERT(x->c == L->c && y->h == oh && y->w == ow && y->c == L->c);
	d.x = x->d, d.h = x->h, d.w = x->w, d.c = L->c;
	d.xrow = (ptrdiff_t)x->w * L->c;
	d.wt = L->w, d.bias = L->bias;
	d.y = y->d, d.ow = ow, d.act = L->act;
	d.c8 = k3 ? L->c & ~7 : 0;

	for (int oy = 0; oy < oh;) {
		const int ry = oh - oy >= 2 ? 2 : 1;
		for (int ox = 0; ox < ow;) {
			const int left = ow - ox, lg = left >= 4 ? 2 : left >= 2 ? 1 : 0;
			const int rx = 1 << lg, ncol = (rx - 1) * s + 3, ix0 = ox * s - d.pl;
			if (d.c8) {
				const int check = ix0 < 0 || ix0 + ncol > d.w;
				blocks[s - 1][check][ry - 1][lg](&d, oy, ox);
			}
			if (d.c8 < d.c)
				for (int j = 0; j < ry; j++)
					for (int i = 0; i < rx; i++)
						dw_pixel(L, &d, oy + j, ox + i, d.c8);
			ox += rx;
		}
		oy += ry;
	}
}
