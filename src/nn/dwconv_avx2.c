/*
 * Depthwise conv, AVX2+FMA: 8 channels per ymm, NHWC.
 *
 * The AVX-512 version's scheme (dwconv_avx512.c) with strips of up to 4
 * outputs: nine weight vectors and four accumulators leave two of the 16
 * registers for the streamed input column, so nothing spills. A channel
 * group that is not a full 8 (only possible in the last group) goes through
 * the checked per-pixel loop with vmaskmov, which keeps the strips free of
 * masks.
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

typedef struct dw_row {
	const float *x;   /* input row iy0 + ky_lo (first one inside), channel cb */
	ptrdiff_t xrow;   /* floats per input row */
	ptrdiff_t c;      /* floats per pixel (channels) */
	int ky_lo, ky_hi; /* kernel rows inside the image */
	float *y;         /* output row, channel cb */
	__m256i m;        /* lanes in use */
	int act;
} dw_row;

/* RX outputs of a full 8-channel group from input column ix0, taps inside. */
static inline __attribute__((always_inline)) void dw_strip(const int RX, const int S,
							   const dw_row *r, int ix0, int ox,
							   const __m256 *wk, __m256 b)
{
	__m256 acc[4];
	const int ncol = (RX - 1) * S + 3;

#pragma GCC unroll 4
	for (int i = 0; i < RX; i++)
		acc[i] = b;
	for (int ky = r->ky_lo; ky < r->ky_hi; ky++) {
		const float *xr = r->x + (ky - r->ky_lo) * r->xrow + ix0 * r->c;
		const __m256 w0 = wk[ky * 3], w1 = wk[ky * 3 + 1], w2 = wk[ky * 3 + 2];
#pragma GCC unroll 12
		for (int col = 0; col < ncol; col++) {
			const __m256 xv = _mm256_loadu_ps(xr + col * r->c);
#pragma GCC unroll 4
			for (int i = 0; i < RX; i++) {
				const int kx = col - i * S;
				if (kx == 0)
					acc[i] = _mm256_fmadd_ps(xv, w0, acc[i]);
				else if (kx == 1)
					acc[i] = _mm256_fmadd_ps(xv, w1, acc[i]);
				else if (kx == 2)
					acc[i] = _mm256_fmadd_ps(xv, w2, acc[i]);
			}
		}
	}
#pragma GCC unroll 4
	for (int i = 0; i < RX; i++)
		_mm256_storeu_ps(r->y + (ox + i) * r->c, dw_act(acc[i], r->act));
}

#define STRIPS(S)                                                                          \
	static void strip4_s##S(const dw_row *r, int ix0, int ox, const __m256 *wk, __m256 b) \
	{                                                                                  \
		dw_strip(4, S, r, ix0, ox, wk, b);                                         \
	}                                                                                  \
	static void strip2_s##S(const dw_row *r, int ix0, int ox, const __m256 *wk, __m256 b) \
	{                                                                                  \
		dw_strip(2, S, r, ix0, ox, wk, b);                                         \
	}                                                                                  \
	static void strip1_s##S(const dw_row *r, int ix0, int ox, const __m256 *wk, __m256 b) \
	{                                                                                  \
		dw_strip(1, S, r, ix0, ox, wk, b);                                         \
	}
STRIPS(1)
STRIPS(2)

/* One output pixel with every tap bounds-checked: borders, odd kernels, tails. */
static void dw_pixel(const tvs_dwconv *L, const tvs_tensor *x, const dw_row *r, int ox, int pl,
		     int cb, __m256 b)
{
	__m256 acc = b;
	const int ix0 = ox * L->stride - pl;

	for (int ky = r->ky_lo; ky < r->ky_hi; ky++) {
		for (int kx = 0; kx < L->kw; kx++) {
			const int ix = ix0 + kx;
			if (ix < 0 || ix >= x->w)
				continue;
			const __m256 xv =
				_mm256_maskload_ps(r->x + (ky - r->ky_lo) * r->xrow + ix * r->c, r->m);
			const __m256 wv =
				_mm256_maskload_ps(L->w + (size_t)(ky * L->kw + kx) * L->c + cb, r->m);
			acc = _mm256_fmadd_ps(xv, wv, acc);
		}
	}
	_mm256_maskstore_ps(r->y + ox * r->c, r->m, dw_act(acc, r->act));
}

void tvs__dwconv_forward_avx2(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
{
	int oh, ow, pt, pl;
	const int c = L->c, s = L->stride, W = x->w;

	tvs_nn_pad_info(x->h, L->kh, s, L->pad, &oh, &pt);
	tvs_nn_pad_info(x->w, L->kw, s, L->pad, &ow, &pl);
	TVS_ASSERT(x->c == c && y->h == oh && y->w == ow && y->c == c);

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
		for (int cb = 0; cb < c; cb += 8) {
			const int n = c - cb < 8 ? c - cb : 8;
			r.m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
						 _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
			r.x = x->d + (ptrdiff_t)(iy0 + r.ky_lo) * r.xrow + cb;
			r.y = y->d + (size_t)oy * ow * c + cb;
			const __m256 b = _mm256_maskload_ps(L->bias + cb, r.m);
			const int lo = n == 8 ? ox_lo : ow, hi = n == 8 ? ox_hi : ow;
			int ox = 0;
			for (; ox < lo; ox++)
				dw_pixel(L, x, &r, ox, pl, cb, b);
			if (lo < hi) {
				__m256 wk[9];
				for (int k = 0; k < 9; k++)
					wk[k] = _mm256_loadu_ps(L->w + (size_t)k * c + cb);
				if (s == 1) {
					for (; ox + 4 <= hi; ox += 4)
						strip4_s1(&r, ox - pl, ox, wk, b);
					if (ox + 2 <= hi)
						strip2_s1(&r, ox - pl, ox, wk, b), ox += 2;
					if (ox < hi)
						strip1_s1(&r, ox - pl, ox, wk, b), ox++;
				} else {
					for (; ox + 4 <= hi; ox += 4)
						strip4_s2(&r, 2 * ox - pl, ox, wk, b);
					if (ox + 2 <= hi)
						strip2_s2(&r, 2 * ox - pl, ox, wk, b), ox += 2;
					if (ox < hi)
						strip1_s2(&r, 2 * ox - pl, ox, wk, b), ox++;
				}
			}
			for (; ox < ow; ox++)
				dw_pixel(L, x, &r, ox, pl, cb, b);
		}
	}
}
