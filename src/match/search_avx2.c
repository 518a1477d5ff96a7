/*
 * AVX2 kernels of gallery search (contract: match_int.h), for CPUs without
 * AVX-512 or without VNNI. Same blocked layout as the AVX-512 kernels; a
 * 16-row block is two 8-lane halves.
 *
 * float. Coordinate k of a block is two ymm loads, each FMA'd with the
 * broadcast probe value into chain k mod 4 of its half: 8 accumulators, the
 * chains and their final (c0 + c1) + (c2 + c3) exactly as the scalar
 * reference, so scores agree bit for bit.
 *
 * int8. There is no vpdpbusd here, and vpmaddubsw (u8 x s8, adjacent pairs
 * summed into int16 with saturation) on the stored q + 128 would saturate:
 * a pair reaches 2 * 255 * 127 = 64770 > 32767. So the kernel works on the
 * signed values instead. x ^ 0x80 turns the stored q + 128 back into q (two's
 * complement), and the sign trick feeds vpmaddubsw |p| as the unsigned
 * operand and q * sign(p) as the signed one: each product is p * q and a
 * pair is at most 2 * 127 * 127 = 32258 < 32767, because both sides are
 * clamped to [-127, 127] (tvs__match_quantise never yields -128, padding
 * rows hold q = 0, and vpsignb of -127 is 127). No saturation, no overflow:
 * vpmaddwd with ones then sums the two pairs of the 4 coordinates of each
 * lane into int32, exact. The sum is dot(q, p) = d - corr directly, so the
 * epilogue is the reference's (float)(d - corr) * (pscale * rscale) with
 * the same value, bit for bit.
 */
#include "match_int.h"

#include <immintrin.h>
#include <string.h>

#ifndef FPF_AVX2
#define FPF_AVX2 2048 /* floats ahead: one block */
#endif
#ifndef PF_AVX2
#define PF_AVX2 2048 /* bytes ahead: one int8 block */
#endif

void tvs__match_scores_f32_avx2(const float *blocks, size_t nblocks, const float *probe, float *out)
{
	for (size_t b = 0; b < nblocks; b++) {
		const float *x = blocks + b * TVS__MBLOCK;
		__m256 l0 = _mm256_setzero_ps(), l1 = l0, l2 = l0, l3 = l0;
		__m256 h0 = l0, h1 = l0, h2 = l0, h3 = l0;
		for (int k = 0; k < TVS_MATCH_DIM; k += 4) {
			const float *r = x + k * 16;
			for (int i = 0; i < 4; i++)
				_mm_prefetch((const char *)(r + FPF_AVX2 + i * 16), _MM_HINT_T0);
			const __m256 p0 = _mm256_broadcast_ss(probe + k), p1 = _mm256_broadcast_ss(probe + k + 1);
			const __m256 p2 = _mm256_broadcast_ss(probe + k + 2), p3 = _mm256_broadcast_ss(probe + k + 3);
			l0 = _mm256_fmadd_ps(_mm256_load_ps(r + 0), p0, l0);
			h0 = _mm256_fmadd_ps(_mm256_load_ps(r + 8), p0, h0);
			l1 = _mm256_fmadd_ps(_mm256_load_ps(r + 16), p1, l1);
			h1 = _mm256_fmadd_ps(_mm256_load_ps(r + 24), p1, h1);
			l2 = _mm256_fmadd_ps(_mm256_load_ps(r + 32), p2, l2);
			h2 = _mm256_fmadd_ps(_mm256_load_ps(r + 40), p2, h2);
			l3 = _mm256_fmadd_ps(_mm256_load_ps(r + 48), p3, l3);
			h3 = _mm256_fmadd_ps(_mm256_load_ps(r + 56), p3, h3);
		}
		_mm256_storeu_ps(out + b * 16, _mm256_add_ps(_mm256_add_ps(l0, l1), _mm256_add_ps(l2, l3)));
		_mm256_storeu_ps(out + b * 16 + 8, _mm256_add_ps(_mm256_add_ps(h0, h1), _mm256_add_ps(h2, h3)));
	}
}

/* 8 lanes: exact int32 dot(q, p) of 4 coordinates each, added to acc. */
static inline __m256i dot4(__m256i acc, const uint8_t *x, __m256i flip, __m256i p, __m256i pabs, __m256i ones)
{
	const __m256i q = _mm256_xor_si256(_mm256_load_si256((const __m256i *)x), flip);
	const __m256i pairs = _mm256_maddubs_epi16(pabs, _mm256_sign_epi8(q, p));
	return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
}

static inline __m256 scale8(__m256i d, float pscale, const float *rscale)
{
	const __m256 s = _mm256_mul_ps(_mm256_set1_ps(pscale), _mm256_loadu_ps(rscale));
	return _mm256_mul_ps(_mm256_cvtepi32_ps(d), s);
}

void tvs__match_scores_i8_avx2(const uint8_t *blocks, const float *rscale, size_t nblocks,
			       const int8_t *probe, int32_t corr, float pscale, float *out)
{
	const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
	int32_t pw[TVS_MATCH_DIM / 4], aw[TVS_MATCH_DIM / 4];

	(void)corr; /* the kernel sums dot(q, p), which is d - corr */
	memcpy(pw, probe, sizeof(pw));
	for (int g = 0; g < TVS_MATCH_DIM / 4; g++) {
		int8_t a[4];
		for (int i = 0; i < 4; i++)
			a[i] = (int8_t)(probe[4 * g + i] < 0 ? -probe[4 * g + i] : probe[4 * g + i]);
		memcpy(&aw[g], a, 4);
	}
	for (size_t b = 0; b < nblocks; b++) {
		const uint8_t *x = blocks + b * TVS__MBLOCK;
		__m256i l0 = _mm256_setzero_si256(), l1 = l0, h0 = l0, h1 = l0;
		for (int g = 0; g < TVS_MATCH_DIM / 4; g += 2) {
			const uint8_t *r = x + g * 64;
			_mm_prefetch((const char *)(r + PF_AVX2), _MM_HINT_T0);
			_mm_prefetch((const char *)(r + PF_AVX2 + 64), _MM_HINT_T0);
			const __m256i p0 = _mm256_set1_epi32(pw[g]), a0 = _mm256_set1_epi32(aw[g]);
			const __m256i p1 = _mm256_set1_epi32(pw[g + 1]), a1 = _mm256_set1_epi32(aw[g + 1]);
			l0 = dot4(l0, r, flip, p0, a0, ones);
			h0 = dot4(h0, r + 32, flip, p0, a0, ones);
			l1 = dot4(l1, r + 64, flip, p1, a1, ones);
			h1 = dot4(h1, r + 96, flip, p1, a1, ones);
		}
		_mm256_storeu_ps(out + b * 16, scale8(_mm256_add_epi32(l0, l1), pscale, rscale + b * 16));
		_mm256_storeu_ps(out + b * 16 + 8, scale8(_mm256_add_epi32(h0, h1), pscale, rscale + b * 16 + 8));
	}
}
