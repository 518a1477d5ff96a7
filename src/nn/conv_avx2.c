/*
 * AVX2+FMA register tiles for the direct conv driver (see kernels_int.h).
 *
 * Same scheme as conv_avx512.c with 8-float vectors and 16 registers: at most
 * 12 accumulators (RX x NB of 12x1, 6x2 or 4x3), NB weight vectors and one
 * broadcast, so nothing spills. 12 chains cover the FMA latency of both
 * pipes. The channel tail uses vmaskmov, which does not fault on the lanes
 * it leaves out.
 */
#include "kernels_int.h"

#include <immintrin.h>

static inline __m256 act256(__m256 v, int act)
{
	switch (act) {
	case TVS_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
	case TVS_ACT_RELU6:
		return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
	case TVS_ACT_LEAKY: return _mm256_max_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(0.1f)));
	default: return v;
	}
}

/* Lane mask with the first n (0..8) lanes set. */
static inline __m256i mask256(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) void tile256(const int RX, const int NB,
							  const tvs__tile *t)
{
	__m256 acc[12][3];
	const int ld = NB * 8;
	const float *w = t->w;
	const ptrdiff_t a_px = t->a_px;
	const int klen = t->klen;

#pragma GCC unroll 3
	for (int v = 0; v < NB; v++) {
		__m256 b = _mm256_loadu_ps(t->bias + v * 8);
#pragma GCC unroll 12
		for (int r = 0; r < RX; r++)
			acc[r][v] = b;
	}
	for (int ky = 0; ky < t->kh; ky++) {
		const float *a = t->a + ky * t->a_ky;
		for (int j = 0; j < klen; j++) {
			__m256 wv[3];
#pragma GCC unroll 3
			for (int v = 0; v < NB; v++)
				wv[v] = _mm256_loadu_ps(w + v * 8);
#pragma GCC unroll 12
			for (int r = 0; r < RX; r++) {
				__m256 xb = _mm256_broadcast_ss(a + r * a_px + j);
#pragma GCC unroll 3
				for (int v = 0; v < NB; v++)
					acc[r][v] = _mm256_fmadd_ps(xb, wv[v], acc[r][v]);
			}
			w += ld;
		}
	}

	const int tail = t->ncols - (NB - 1) * 8;
	const __m256i m = mask256(tail);
	float *const y0 = t->y;
	const float *const res0 = t->res;
	const ptrdiff_t y_px = t->y_px;
	const int act = t->act;
#pragma GCC unroll 12
	for (int r = 0; r < RX; r++) {
		float *y = y0 + r * y_px;
		const float *res = res0 ? res0 + r * y_px : NULL;
#pragma GCC unroll 3
		for (int v = 0; v < NB; v++) {
			__m256 s = acc[r][v];
			if (v < NB - 1 || tail == 8) {
				if (res)
					s = _mm256_add_ps(s, _mm256_loadu_ps(res + v * 8));
				_mm256_storeu_ps(y + v * 8, act256(s, act));
			} else {
				if (res)
					s = _mm256_add_ps(s, _mm256_maskload_ps(res + v * 8, m));
				_mm256_maskstore_ps(y + v * 8, m, act256(s, act));
			}
		}
	}
}

#define TILE(RX, NB)                                                     \
	static void tile_##RX##_##NB(const tvs__tile *t)                 \
	{                                                                \
		tile256(RX, NB, t);                                      \
	}
#define TILES_1_4(NB) TILE(1, NB) TILE(2, NB) TILE(3, NB) TILE(4, NB)

TILES_1_4(1) TILE(5, 1) TILE(6, 1) TILE(7, 1) TILE(8, 1) TILE(9, 1) TILE(10, 1) TILE(11, 1)
TILE(12, 1)
TILES_1_4(2) TILE(5, 2) TILE(6, 2)
TILES_1_4(3)

typedef void (*tile_fn)(const tvs__tile *t);

static const tile_fn tiles1[13] = {NULL,	  tile_1_1, tile_2_1,  tile_3_1,  tile_4_1,
				   tile_5_1,  tile_6_1, tile_7_1,  tile_8_1,  tile_9_1,
				   tile_10_1, tile_11_1, tile_12_1};
static const tile_fn tiles2[7] = {NULL, tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2};
static const tile_fn tiles3[5] = {NULL, tile_1_3, tile_2_3, tile_3_3, tile_4_3};

static void tile_avx2(int rx, int nb, const tvs__tile *t)
{
	switch (nb) {
	case 1: tiles1[rx](t); break;
	case 2: tiles2[rx](t); break;
	default: tiles3[rx](t); break;
	}
}

static void bias_act_avx2(float *y, size_t m, int n, const float *bias, int act)
{
	const __m256i tail = mask256(n & 7);

	for (size_t i = 0; i < m; i++, y += n) {
		int j = 0;
		for (; j + 8 <= n; j += 8)
			_mm256_storeu_ps(y + j, act256(_mm256_add_ps(_mm256_loadu_ps(y + j),
								     _mm256_loadu_ps(bias + j)),
						       act));
		if (j < n)
			_mm256_maskstore_ps(y + j, tail,
					    act256(_mm256_add_ps(_mm256_maskload_ps(y + j, tail),
								 _mm256_maskload_ps(bias + j, tail)),
						   act));
	}
}

void tvs__dwconv_forward_avx2(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y);

const tvs__conv_isa tvs__isa_avx2 = {
	.vec = 8,
	.nb_max = 3,
	.rx_max = {0, 12, 6, 4, 0},
	.tile = tile_avx2,
	.bias_act = bias_act_avx2,
	.dwconv = tvs__dwconv_forward_avx2,
};
