/*
 * AVX-512 register tiles for the direct conv driver (see kernels_int.h).
 *
 * A tile keeps RX x NB accumulators of 16 output channels in zmm registers
 * (at most 24 of the 32, leaving room for NB weight vectors and a broadcast)
 * and walks the reduction one input float at a time: NB weight loads, then
 * for each pixel one broadcast and NB FMAs. With RX*NB >= 12 there are enough
 * independent FMA chains to cover the 4-cycle latency on both FMA pipes, and
 * loads stay below one per FMA. RX and NB are compile-time constants in each
 * instantiation so the accumulators are registers, not memory; the tables at
 * the bottom map (rx, nb) to them.
 */
#include "kernels_int.h"

#include <immintrin.h>

static inline __m512 act512(__m512 v, int act)
{
	switch (act) {
	case TVS_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
	case TVS_ACT_RELU6:
		return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
	case TVS_ACT_LEAKY:
		/* max(v, 0.1v) is v for v > 0 and 0.1v otherwise, as in the reference. */
		return _mm512_max_ps(v, _mm512_mul_ps(v, _mm512_set1_ps(0.1f)));
	default: return v;
	}
}

static inline __attribute__((always_inline)) void tile512(const int RX, const int NB,
							  const tvs__tile *t)
{
	__m512 acc[TVS__RX_MAX][4];
	const int ld = NB * 16;
	const float *w = t->w;
	const ptrdiff_t a_px = t->a_px;
	const int klen = t->klen;

#pragma GCC unroll 4
	for (int v = 0; v < NB; v++) {
		__m512 b = _mm512_loadu_ps(t->bias + v * 16);
#pragma GCC unroll 16
		for (int r = 0; r < RX; r++)
			acc[r][v] = b;
	}
	for (int ky = 0; ky < t->kh; ky++) {
		const float *a = t->a + ky * t->a_ky;
		for (int j = 0; j < klen; j++) {
			__m512 wv[4];
#pragma GCC unroll 4
			for (int v = 0; v < NB; v++)
				wv[v] = _mm512_loadu_ps(w + v * 16);
#pragma GCC unroll 16
			for (int r = 0; r < RX; r++) {
				__m512 xb = _mm512_set1_ps(a[r * a_px + j]);
#pragma GCC unroll 4
				for (int v = 0; v < NB; v++)
					acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
			}
			w += ld;
		}
	}

	const int tail = t->ncols - (NB - 1) * 16;
	const __mmask16 m = (__mmask16)((1u << tail) - 1);
	float *const y0 = t->y;
	const float *const res0 = t->res;
	const ptrdiff_t y_px = t->y_px;
	const int act = t->act;
#pragma GCC unroll 16
	for (int r = 0; r < RX; r++) {
		float *y = y0 + r * y_px;
		const float *res = res0 ? res0 + r * y_px : NULL;
#pragma GCC unroll 4
		for (int v = 0; v < NB; v++) {
			__m512 s = acc[r][v];
			if (v < NB - 1 || tail == 16) {
				if (res)
					s = _mm512_add_ps(s, _mm512_loadu_ps(res + v * 16));
				_mm512_storeu_ps(y + v * 16, act512(s, act));
			} else {
				if (res)
					s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, res + v * 16));
				_mm512_mask_storeu_ps(y + v * 16, m, act512(s, act));
			}
		}
	}
}

#define TILE(RX, NB)                                                     \
	static void tile_##RX##_##NB(const tvs__tile *t)                 \
	{                                                                \
		tile512(RX, NB, t);                                      \
	}
#define TILES_1_6(NB) TILE(1, NB) TILE(2, NB) TILE(3, NB) TILE(4, NB) TILE(5, NB) TILE(6, NB)
#define TILES_7_8(NB) TILE(7, NB) TILE(8, NB)
#define TILES_9_12(NB) TILE(9, NB) TILE(10, NB) TILE(11, NB) TILE(12, NB)
#define TILES_13_16(NB) TILE(13, NB) TILE(14, NB) TILE(15, NB) TILE(16, NB)

TILES_1_6(1) TILES_7_8(1) TILES_9_12(1) TILES_13_16(1)
TILES_1_6(2) TILES_7_8(2) TILES_9_12(2)
TILES_1_6(3) TILES_7_8(3)
TILES_1_6(4)

typedef void (*tile_fn)(const tvs__tile *t);

#define ROW(NB) tile_1_##NB, tile_2_##NB, tile_3_##NB, tile_4_##NB, tile_5_##NB, tile_6_##NB
static const tile_fn tiles1[17] = {NULL, ROW(1), tile_7_1, tile_8_1, tile_9_1, tile_10_1,
				   tile_11_1, tile_12_1, tile_13_1, tile_14_1, tile_15_1, tile_16_1};
static const tile_fn tiles2[13] = {NULL, ROW(2), tile_7_2, tile_8_2, tile_9_2, tile_10_2,
				   tile_11_2, tile_12_2};
static const tile_fn tiles3[9] = {NULL, ROW(3), tile_7_3, tile_8_3};
static const tile_fn tiles4[7] = {NULL, ROW(4)};

static void tile_avx512(int rx, int nb, const tvs__tile *t)
{
	switch (nb) {
	case 1: tiles1[rx](t); break;
	case 2: tiles2[rx](t); break;
	case 3: tiles3[rx](t); break;
	default: tiles4[rx](t); break;
	}
}

static void bias_act_avx512(float *y, size_t m, int n, const float *bias, int act)
{
	const __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1);

	for (size_t i = 0; i < m; i++, y += n) {
		int j = 0;
		for (; j + 16 <= n; j += 16)
			_mm512_storeu_ps(y + j, act512(_mm512_add_ps(_mm512_loadu_ps(y + j),
								     _mm512_loadu_ps(bias + j)),
						       act));
		if (j < n)
			_mm512_mask_storeu_ps(y + j, tail,
					      act512(_mm512_add_ps(_mm512_maskz_loadu_ps(tail, y + j),
								   _mm512_maskz_loadu_ps(tail, bias + j)),
						     act));
	}
}

void tvs__dwconv_forward_avx512(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y);

const tvs__conv_isa tvs__isa_avx512 = {
	.vec = 16,
	.nb_max = 4,
	.rx_max = {0, 16, 12, 8, 6},
	.tile = tile_avx512,
	.bias_act = bias_act_avx512,
	.dwconv = tvs__dwconv_forward_avx512,
};
