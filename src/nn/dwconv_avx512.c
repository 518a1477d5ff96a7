/*
 * Depthwise conv, AVX-512: 16 channels per zmm, NHWC.
 *
 * Depthwise layers do at most 9 MACs per input value, so they are bound by
 * loads and memory, not by FMAs, and every choice here is about the memory
 * side (measured on the SSD's shapes, 256x256x32 to 16x16x1024):
 *
 * - Blocks of 2 output rows x 4 output pixels, all channels of the block
 *   before the next block, 32 channels (two zmm) per step. Each input and
 *   output pixel is then touched as one contiguous run of channels; walking
 *   one channel group across the whole row instead strides 4*C bytes per
 *   load and runs 2x slower at C >= 512. Two output rows share the middle
 *   input rows (4 input rows for 2 outputs instead of 6), and within the
 *   block every loaded input column feeds all outputs that cover it.
 * - The full blocks of a row run in two passes, even blocks then odd. A
 *   block's input window starts at the last column its left neighbour
 *   stored; when x and y sit at the same offset within a 4 KB page, as
 *   large allocations usually do, loading it right after the store stalls
 *   on 4K aliasing (128x128x128: 20-35 GFLOP/s in order, 62-68 even/odd).
 *
 * Image edges never reach the FMA loop as special cases: input rows outside
 * the image are skipped, and a block that hangs over the left or right edge
 * skips the columns outside (a separate instantiation, so interior blocks
 * carry no column checks). Kernels other than 3x3 at stride 1 or 2 take a
 * per-tap checked loop. The channel tail uses masked loads and stores.
 */
#include "kernels_int.h"
#include "tvs/error.h"

#include <immintrin.h>

static inline __m512 dw_act(__m512 v, int act)
{
	switch (act) {
	case TVS_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
	case TVS_ACT_RELU6:
		return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
	case TVS_ACT_LEAKY: return _mm512_max_ps(v, _mm512_mul_ps(v, _mm512_set1_ps(0.1f)));
	default: return v;
	}
}

/* Everything a block of outputs needs to know about the layer and image. */
typedef struct dw_ctx {
	const float *x;  /* input image */
	int h, w, c;     /* input size */
	ptrdiff_t xrow;  /* floats per input row */
	int pt, pl;      /* leading pads */
	const float *wt; /* [3][3][c] */
	const float *bias;
	float *y;        /* output image */
	int ow, act;
} dw_ctx;

/* RY x RX outputs at (oy, ox), all channels, 32 at a time. The block's input
 * window is nr x ncol pixels; rows outside the image are skipped at run
 * time (a predictable branch per row), columns outside only in the CHECK
 * instantiation, which is used for the first and last block of a row. */
static inline __attribute__((always_inline)) void dw_block(const int RY, const int RX,
							   const int S, const int CHECK,
							   const dw_ctx *d, int oy, int ox)
{
	const int nr = (RY - 1) * S + 3, ncol = (RX - 1) * S + 3, c = d->c;
	const int iy0 = oy * S - d->pt, ix0 = ox * S - d->pl;
	const int rlo = iy0 < 0 ? -iy0 : 0, rhi = d->h - iy0 < nr ? d->h - iy0 : nr;
	const int clo = ix0 < 0 ? -ix0 : 0, chi = d->w - ix0 < ncol ? d->w - ix0 : ncol;

	for (int cb = 0; cb < c; cb += 32) {
		const int n = c - cb;
		const __mmask16 m0 = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
		const __mmask16 m1 = n >= 32 ? (__mmask16)0xffff
				     : n > 16 ? (__mmask16)((1u << (n - 16)) - 1)
					      : (__mmask16)0;
		__m512 acc[2][4][2];
		const __m512 b0 = _mm512_maskz_loadu_ps(m0, d->bias + cb);
		const __m512 b1 = _mm512_maskz_loadu_ps(m1, d->bias + cb + 16);
#pragma GCC unroll 2
		for (int j = 0; j < RY; j++)
#pragma GCC unroll 4
			for (int i = 0; i < RX; i++)
				acc[j][i][0] = b0, acc[j][i][1] = b1;
#pragma GCC unroll 5
		for (int rr = 0; rr < nr; rr++) {
			if (rr < rlo || rr >= rhi)
				continue;
			const float *xr = d->x + (ptrdiff_t)(iy0 + rr) * d->xrow + cb;
#pragma GCC unroll 9
			for (int col = 0; col < ncol; col++) {
				if (CHECK && (col < clo || col >= chi))
					continue;
				const float *xp = xr + (ptrdiff_t)(ix0 + col) * c;
				const __m512 x0 = _mm512_maskz_loadu_ps(m0, xp);
				const __m512 x1 = _mm512_maskz_loadu_ps(m1, xp + 16);
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
						const float *wp = d->wt + (size_t)(wy * 3 + kx) * c + cb;
						acc[j][i][0] = _mm512_fmadd_ps(
							x0, _mm512_maskz_loadu_ps(m0, wp), acc[j][i][0]);
						acc[j][i][1] = _mm512_fmadd_ps(
							x1, _mm512_maskz_loadu_ps(m1, wp + 16), acc[j][i][1]);
					}
				}
			}
		}
#pragma GCC unroll 2
		for (int j = 0; j < RY; j++) {
#pragma GCC unroll 4
			for (int i = 0; i < RX; i++) {
				float *o = d->y + ((size_t)(oy + j) * d->ow + ox + i) * c + cb;
				if (n >= 32) {
					_mm512_storeu_ps(o, dw_act(acc[j][i][0], d->act));
					_mm512_storeu_ps(o + 16, dw_act(acc[j][i][1], d->act));
				} else {
					_mm512_mask_storeu_ps(o, m0, dw_act(acc[j][i][0], d->act));
					_mm512_mask_storeu_ps(o + 16, m1, dw_act(acc[j][i][1], d->act));
				}
			}
		}
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

#define RXS(RY, S, CHECK)                                                        \
	{                                                                        \
		block_##RY##_1_##S##_##CHECK, block_##RY##_2_##S##_##CHECK, block_##RY##_4_##S##_##CHECK \
	}
/* [stride-1][check][ry-1][log2 rx] */
static const block_fn blocks[2][2][2][3] = {
	{{RXS(1, 1, 0), RXS(2, 1, 0)}, {RXS(1, 1, 1), RXS(2, 1, 1)}},
	{{RXS(1, 2, 0), RXS(2, 2, 0)}, {RXS(1, 2, 1), RXS(2, 2, 1)}},
};

/* Any kernel size and stride, one pixel at a time, every tap checked. */
static void dw_pixel(const tvs_dwconv *L, const dw_ctx *d, int oy, int ox)
{
	const int c = d->c, iy0 = oy * L->stride - d->pt, ix0 = ox * L->stride - d->pl;
	float *o = d->y + ((size_t)oy * d->ow + ox) * c;

	for (int cb = 0; cb < c; cb += 16) {
		const __mmask16 m =
			c - cb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (c - cb)) - 1);
		__m512 acc = _mm512_maskz_loadu_ps(m, d->bias + cb);
		for (int ky = 0; ky < L->kh; ky++) {
			const int iy = iy0 + ky;
			if (iy < 0 || iy >= d->h)
				continue;
			for (int kx = 0; kx < L->kw; kx++) {
				const int ix = ix0 + kx;
				if (ix < 0 || ix >= d->w)
					continue;
				const __m512 xv = _mm512_maskz_loadu_ps(
					m, d->x + (ptrdiff_t)iy * d->xrow + (ptrdiff_t)ix * c + cb);
				const __m512 wv = _mm512_maskz_loadu_ps(
					m, d->wt + (size_t)(ky * L->kw + kx) * c + cb);
				acc = _mm512_fmadd_ps(xv, wv, acc);
			}
		}
		_mm512_mask_storeu_ps(o + cb, m, dw_act(acc, d->act));
	}
}

void tvs__dwconv_forward_avx512(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
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

	for (int oy = 0; oy < oh;) {
		const int ry = oh - oy >= 2 ? 2 : 1;
		if (!k3) {
			for (int j = 0; j < ry; j++)
				for (int ox = 0; ox < ow; ox++)
					dw_pixel(L, &d, oy + j, ox);
			oy += ry;
			continue;
		}
		/* Full 4-wide blocks in two passes, even then odd: a block's input
		 * window includes the last column the previous block stored, and
		 * when x and y sit at the same offset within a 4 KB page (common
		 * for large buffers) that load would wait on the aliased store. */
		const int nfull = ow / 4;
		for (int pass = 0; pass < 2; pass++)
			for (int bi = pass; bi < nfull; bi += 2) {
				const int ox = bi * 4, ix0 = ox * s - d.pl;
				const int check = ix0 < 0 || ix0 + 3 * s + 3 > d.w;
				blocks[s - 1][check][ry - 1][2](&d, oy, ox);
			}
		for (int ox = nfull * 4; ox < ow;) {
			const int lg = ow - ox >= 2 ? 1 : 0, rx = 1 << lg;
			const int ncol = (rx - 1) * s + 3, ix0 = ox * s - d.pl;
			blocks[s - 1][ix0 < 0 || ix0 + ncol > d.w][ry - 1][lg](&d, oy, ox);
			ox += rx;
		}
		oy += ry;
	}
}
