/*
 * AVX-512 VNNI int8 kernel of gallery search (contract: match_int.h).
 *
 * A block is uint8[32][16][4]: 4 consecutive coordinates of 16 entries in
 * one register, stored as q + 128 so they are vpdpbusd's unsigned operand.
 * The probe's signed bytes are the other operand, broadcast 4 at a time
 * straight from memory ({1to16}), so a block costs 32 loads and 32
 * vpdpbusd and gives 16 exact int32 dots. The +128 offset adds
 * 128 * sum(probe) to every dot, one constant per probe subtracted in the
 * epilogue, which then scales by probe scale * entry scale. Four chains per
 * block, two blocks at a time. vpdpbusd is issued through asm (as in
 * src/nn/qconv_vnni.c) to keep GCC 12 from spilling accumulators and to get
 * the embedded broadcast. A software prefetch one block pair (4 KB) ahead
 * gained ~10-15% at 1M entries over the hardware prefetcher alone
 * (4.4 -> 3.8 ms a probe on Zen 5, noisy shared machine).
 */
#include "match_int.h"

#include <immintrin.h>

#define DPB(acc, u8v, s8p) __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u8v), "m"(*(const int32_t *)(s8p)))
#ifndef PF
#define PF 4096
#endif
#define LD(p) _mm512_load_si512((const void *)(p))

static inline __m512 finish(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i corr, __m512 ps,
			    const float *rscale)
{
	__m512i d = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
	__m512 s = _mm512_mul_ps(ps, _mm512_loadu_ps(rscale));
	return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(d, corr)), s);
}

void tvs__match_scores_i8_vnni(const uint8_t *blocks, const float *rscale, size_t nblocks,
			       const int8_t *probe, int32_t corr, float pscale, float *out)
{
	const __m512i vc = _mm512_set1_epi32(corr);
	const __m512 ps = _mm512_set1_ps(pscale);
	size_t b = 0;

	for (; b + 2 <= nblocks; b += 2) {
		const uint8_t *x = blocks + b * TVS__MBLOCK, *y = x + TVS__MBLOCK;
		__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
		__m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0;
		for (int g = 0; g < TVS_MATCH_DIM / 4; g += 4) {
			_mm_prefetch((const char *)(x + PF + g * 64), _MM_HINT_T0);
			_mm_prefetch((const char *)(x + PF + g * 64 + 64), _MM_HINT_T0);
			_mm_prefetch((const char *)(x + PF + g * 64 + 128), _MM_HINT_T0);
			_mm_prefetch((const char *)(x + PF + g * 64 + 192), _MM_HINT_T0);
			_mm_prefetch((const char *)(y + PF + g * 64), _MM_HINT_T0);
			_mm_prefetch((const char *)(y + PF + g * 64 + 64), _MM_HINT_T0);
			_mm_prefetch((const char *)(y + PF + g * 64 + 128), _MM_HINT_T0);
			_mm_prefetch((const char *)(y + PF + g * 64 + 192), _MM_HINT_T0);
			DPB(a0, LD(x + (g + 0) * 64), probe + (g + 0) * 4);
			DPB(b0, LD(y + (g + 0) * 64), probe + (g + 0) * 4);
			DPB(a1, LD(x + (g + 1) * 64), probe + (g + 1) * 4);
			DPB(b1, LD(y + (g + 1) * 64), probe + (g + 1) * 4);
			DPB(a2, LD(x + (g + 2) * 64), probe + (g + 2) * 4);
			DPB(b2, LD(y + (g + 2) * 64), probe + (g + 2) * 4);
			DPB(a3, LD(x + (g + 3) * 64), probe + (g + 3) * 4);
			DPB(b3, LD(y + (g + 3) * 64), probe + (g + 3) * 4);
		}
		_mm512_storeu_ps(out + b * 16, finish(a0, a1, a2, a3, vc, ps, rscale + b * 16));
		_mm512_storeu_ps(out + b * 16 + 16, finish(b0, b1, b2, b3, vc, ps, rscale + b * 16 + 16));
	}
	for (; b < nblocks; b++) {
		const uint8_t *x = blocks + b * TVS__MBLOCK;
		__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
		for (int g = 0; g < TVS_MATCH_DIM / 4; g += 4) {
			DPB(a0, LD(x + (g + 0) * 64), probe + (g + 0) * 4);
			DPB(a1, LD(x + (g + 1) * 64), probe + (g + 1) * 4);
			DPB(a2, LD(x + (g + 2) * 64), probe + (g + 2) * 4);
			DPB(a3, LD(x + (g + 3) * 64), probe + (g + 3) * 4);
		}
		_mm512_storeu_ps(out + b * 16, finish(a0, a1, a2, a3, vc, ps, rscale + b * 16));
	}
}

/* Eight probes against the same blocks: each 64-byte load of the gallery
 * feeds eight vpdpbusd, one per probe, so a batch reads the gallery once
 * for eight probes. probes is [8][128]; out[p * ld + r]. */
void tvs__match_scores_i8x8_vnni(const uint8_t *blocks, const float *rscale, size_t nblocks,
				 const int8_t *probes, const int32_t *corr, const float *pscale, float *out,
				 size_t ld)
{
	const int8_t *q0 = probes, *q1 = q0 + 128, *q2 = q1 + 128, *q3 = q2 + 128;
	const int8_t *q4 = q3 + 128, *q5 = q4 + 128, *q6 = q5 + 128, *q7 = q6 + 128;

	for (size_t b = 0; b < nblocks; b++) {
		const uint8_t *x = blocks + b * TVS__MBLOCK;
		__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
		__m512i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
		for (int g = 0; g < TVS_MATCH_DIM / 4; g++) {
			const __m512i v = LD(x + g * 64);
			_mm_prefetch((const char *)(x + PF + g * 64), _MM_HINT_T0);
			DPB(a0, v, q0 + g * 4);
			DPB(a1, v, q1 + g * 4);
			DPB(a2, v, q2 + g * 4);
			DPB(a3, v, q3 + g * 4);
			DPB(a4, v, q4 + g * 4);
			DPB(a5, v, q5 + g * 4);
			DPB(a6, v, q6 + g * 4);
			DPB(a7, v, q7 + g * 4);
		}
		const __m512 rs = _mm512_loadu_ps(rscale + b * 16);
#define X8_OUT(p)                                                                                   \
	_mm512_storeu_ps(out + (p) * ld + b * 16,                                                   \
			 _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a##p, _mm512_set1_epi32(corr[p]))), \
				       _mm512_mul_ps(_mm512_set1_ps(pscale[p]), rs)))
		X8_OUT(0);
		X8_OUT(1);
		X8_OUT(2);
		X8_OUT(3);
		X8_OUT(4);
		X8_OUT(5);
		X8_OUT(6);
		X8_OUT(7);
#undef X8_OUT
	}
}
