/*
 * AVX-512F float kernel of gallery search (contract: match_int.h).
 *
 * A block is float[128][16]: coordinate k of 16 entries in one register, so
 * each coordinate costs one FMA with the probe value broadcast from memory
 * and the block yields 16 dot products with no horizontal sum. Four
 * accumulator chains (k mod 4) hide FMA latency; two blocks run together so
 * eight chains are in flight. The chain order is the one the scalar
 * reference in gallery.c uses, so results agree bit for bit. At 512 bytes
 * an entry the loop is bound by memory bandwidth on any gallery that does
 * not fit in cache.
 */
#include "match_int.h"

#include <immintrin.h>

#ifndef FPF
#define FPF 2048 /* floats ahead: 8 KB, one block */
#endif

static inline __m512 sum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
	return _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d));
}

void tvs__match_scores_f32_avx512(const float *blocks, size_t nblocks, const float *probe, float *out)
{
	size_t b = 0;

	for (; b + 2 <= nblocks; b += 2) {
		const float *x = blocks + b * TVS__MBLOCK, *y = x + TVS__MBLOCK;
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
		for (int k = 0; k < TVS_MATCH_DIM; k += 4) {
			for (int i = 0; i < 4; i++) {
				_mm_prefetch((const char *)(x + FPF + (k + i) * 16), _MM_HINT_T0);
				_mm_prefetch((const char *)(y + FPF + (k + i) * 16), _MM_HINT_T0);
			}
			const __m512 p0 = _mm512_set1_ps(probe[k]), p1 = _mm512_set1_ps(probe[k + 1]);
			const __m512 p2 = _mm512_set1_ps(probe[k + 2]), p3 = _mm512_set1_ps(probe[k + 3]);
			a0 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 0) * 16), p0, a0);
			b0 = _mm512_fmadd_ps(_mm512_load_ps(y + (k + 0) * 16), p0, b0);
			a1 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 1) * 16), p1, a1);
			b1 = _mm512_fmadd_ps(_mm512_load_ps(y + (k + 1) * 16), p1, b1);
			a2 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 2) * 16), p2, a2);
			b2 = _mm512_fmadd_ps(_mm512_load_ps(y + (k + 2) * 16), p2, b2);
			a3 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 3) * 16), p3, a3);
			b3 = _mm512_fmadd_ps(_mm512_load_ps(y + (k + 3) * 16), p3, b3);
		}
		_mm512_storeu_ps(out + b * 16, sum4(a0, a1, a2, a3));
		_mm512_storeu_ps(out + b * 16 + 16, sum4(b0, b1, b2, b3));
	}
	for (; b < nblocks; b++) {
		const float *x = blocks + b * TVS__MBLOCK;
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int k = 0; k < TVS_MATCH_DIM; k += 4) {
			a0 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 0) * 16), _mm512_set1_ps(probe[k]), a0);
			a1 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 1) * 16), _mm512_set1_ps(probe[k + 1]), a1);
			a2 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 2) * 16), _mm512_set1_ps(probe[k + 2]), a2);
			a3 = _mm512_fmadd_ps(_mm512_load_ps(x + (k + 3) * 16), _mm512_set1_ps(probe[k + 3]), a3);
		}
		_mm512_storeu_ps(out + b * 16, sum4(a0, a1, a2, a3));
	}
}
