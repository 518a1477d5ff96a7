/*
 * Depthwise conv, AVX-512: 16 channels per zmm, NHWC.
 *
 * Depthwise layers do 9 MACs per loaded input value at best, so they are
 * bound by loads and memory, not by FMAs. The kernel therefore works on
 * strips of up to 8 output pixels along x for one 16-channel group: the 3x3
 * weights and the bias stay in registers for the whole row, and each input
 * column of the strip is loaded once per kernel row and feeds every output
 * of the strip that covers it (3 FMAs per load at stride 1, 1.5 at stride
 * 2). Kernel rows outside the image are skipped by the strip's ky range;
 * only the left/right border pixels (and kernels other than 3x3) go through
 * the per-tap checked loop. The channel tail uses masked loads and stores.
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

typedef struct dw_row {
	const float *x;   /* input row iy0 + ky_lo (first one inside), channel cb */
	ptrdiff_t xrow;   /* floats per input row */
	ptrdiff_t c;      /* floats per pixel (channels) */
	int ky_lo, ky_hi; /* kernel rows inside the image */
	float *y;         /* output row, channel cb */
	__mmask16 m;
	int act;
} dw_row;

/* RX outputs starting at input column ix0 (all taps inside the row). */
static inline __attribute__((always_inline)) void dw_strip(const int RX, const int S,
							   const dw_row *r, int ix0, int ox,
							   const __m512 *wk, __m512 b)
{
	__m512 acc[8];
	const int ncol = (RX - 1) * S + 3;

#pragma GCC unroll 8
	for (int i = 0; i < RX; i++)
		acc[i] = b;
	for (int ky = r->ky_lo; ky < r->ky_hi; ky++) {
		const float *xr = r->x + (ky - r->ky_lo) * r->xrow + ix0 * r->c;
		const __m512 w0 = wk[ky * 3], w1 = wk[ky * 3 + 1], w2 = wk[ky * 3 + 2];
#pragma GCC unroll 24
		for (int col = 0; col < ncol; col++) {
			const __m512 xv = _mm512_maskz_loadu_ps(r->m, xr + col * r->c);
#pragma GCC unroll 8
			for (int i = 0; i < RX; i++) {
				const int kx = col - i * S;
				if (kx == 0)
					acc[i] = _mm512_fmadd_ps(xv, w0, acc[i]);
				else if (kx == 1)
					acc[i] = _mm512_fmadd_ps(xv, w1, acc[i]);
				else if (kx == 2)
					acc[i] = _mm512_fmadd_ps(xv, w2, acc[i]);
			}
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < RX; i++)
		_mm512_mask_storeu_ps(r->y + (ox + i) * r->c, r->m, dw_act(acc[i], r->act));
}

#define STRIPS(S)                                                                          \
	static void strip8_s##S(const dw_row *r, int ix0, int ox, const __m512 *wk, __m512 b) \
	{                                                                                  \
		dw_strip(8, S, r, ix0, ox, wk, b);                                         \
	}                                                                                  \
	static void strip4_s##S(const dw_row *r, int ix0, int ox, const __m512 *wk, __m512 b) \
	{                                                                                  \
		dw_strip(4, S, r, ix0, ox, wk, b);                                         \
	}                                                                                  \
	static void strip2_s##S(const dw_row *r, int ix0, int ox, const __m512 *wk, __m512 b) \
	{                                                                                  \
		dw_strip(2, S, r, ix0, ox, wk, b);                                         \
	}                                                                                  \
	static void strip1_s##S(const dw_row *r, int ix0, int ox, const __m512 *wk, __m512 b) \
	{                                                                                  \
		dw_strip(1, S, r, ix0, ox, wk, b);                                         \
	}
STRIPS(1)
STRIPS(2)

/* One output pixel with every tap bounds-checked: borders, odd kernels. */
static void dw_pixel(const tvs_dwconv *L, const tvs_tensor *x, const dw_row *r, int ox, int pl,
		     int cb, __m512 b)
{
	__m512 acc = b;
	const int ix0 = ox * L->stride - pl;

	for (int ky = r->ky_lo; ky < r->ky_hi; ky++) {
		for (int kx = 0; kx < L->kw; kx++) {
			const int ix = ix0 + kx;
			if (ix < 0 || ix >= x->w)
				continue;
			const __m512 xv = _mm512_maskz_loadu_ps(
				r->m, r->x + (ky - r->ky_lo) * r->xrow + ix * r->c);
			const __m512 wv = _mm512_maskz_loadu_ps(
				r->m, L->w + (size_t)(ky * L->kw + kx) * L->c + cb);
			acc = _mm512_fmadd_ps(xv, wv, acc);
		}
	}
	_mm512_mask_storeu_ps(r->y + ox * r->c, r->m, dw_act(acc, r->act));
}

void tvs__dwconv_forward_avx512(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
{
	int oh, ow, pt, pl;
	const int c = L->c, s = L->stride, W = x->w;

	tvs_nn_pad_info(x->h, L->kh, s, L->pad, &oh, &pt);
	tvs_nn_pad_info(x->w, L->kw, s, L->pad, &ow, &pl);
	TVS_ASSERT(x->c == c && y->h == oh && y->w == ow && y->c == c);

	/* Output columns whose taps all fall inside the row. */
	const int k3 = L->kh == 3 && L->kw == 3 && (s == 1 || s == 2);
	int ox_lo = (pl + s - 1) / s;
	int ox_hi = W - L->kw + pl >= 0 ? (W - L->kw + pl) / s + 1 : 0;
	if (ox_hi > ow)
		ox_hi = ow;
	if (ox_lo > ox_hi || !k3)
		ox_lo = ox_hi = ow;

	for (int oy = 0; oy < oh; oy++) {
		const int iy0 = oy * s - pt;
		dw_row r;
		r.xrow = (ptrdiff_t)W * c;
		r.c = c;
		r.ky_lo = iy0 < 0 ? -iy0 : 0;
		r.ky_hi = x->h - iy0 < L->kh ? x->h - iy0 : L->kh;
		r.act = L->act;
		for (int cb = 0; cb < c; cb += 16) {
			const int n = c - cb < 16 ? c - cb : 16;
			r.m = (__mmask16)((1u << n) - 1);
			r.x = x->d + (ptrdiff_t)(iy0 + r.ky_lo) * r.xrow + cb;
			r.y = y->d + (size_t)oy * ow * c + cb;
			const __m512 b = _mm512_maskz_loadu_ps(r.m, L->bias + cb);
			int ox = 0;
			for (; ox < ox_lo; ox++)
				dw_pixel(L, x, &r, ox, pl, cb, b);
			if (ox_lo < ox_hi) {
				__m512 wk[9];
				for (int k = 0; k < 9; k++)
					wk[k] = _mm512_maskz_loadu_ps(r.m, L->w + (size_t)k * c + cb);
				if (s == 1) {
					for (; ox + 8 <= ox_hi; ox += 8)
						strip8_s1(&r, ox - pl, ox, wk, b);
					if (ox + 4 <= ox_hi)
						strip4_s1(&r, ox - pl, ox, wk, b), ox += 4;
					if (ox + 2 <= ox_hi)
						strip2_s1(&r, ox - pl, ox, wk, b), ox += 2;
					if (ox < ox_hi)
						strip1_s1(&r, ox - pl, ox, wk, b), ox++;
				} else {
					for (; ox + 8 <= ox_hi; ox += 8)
						strip8_s2(&r, 2 * ox - pl, ox, wk, b);
					if (ox + 4 <= ox_hi)
						strip4_s2(&r, 2 * ox - pl, ox, wk, b), ox += 4;
					if (ox + 2 <= ox_hi)
						strip2_s2(&r, 2 * ox - pl, ox, wk, b), ox += 2;
					if (ox < ox_hi)
						strip1_s2(&r, 2 * ox - pl, ox, wk, b), ox++;
				}
			}
			for (; ox < ow; ox++)
				dw_pixel(L, x, &r, ox, pl, cb, b);
		}
	}
}
