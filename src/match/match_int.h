/*
 * Internal contract between gallery.c and the search kernels.
 *
 * The gallery stores entries in blocks of TVS__MB = 16 rows so that one
 * 512-bit register holds the same coordinate(s) of 16 entries and a kernel
 * gets 16 scores per block with no horizontal reduction:
 *
 *   float: block b is float[128][16]; entry (b*16+l), coordinate k at
 *          b*2048 + k*16 + l.
 *   int8:  block b is uint8[32][16][4]; coordinate k of lane l at
 *          b*2048 + (k/4)*64 + l*4 + k%4, holding q + 128 (q the entry's
 *          symmetric int8 value), i.e. the unsigned operand of vpdpbusd.
 *
 * Kernels write 16 scores per block. Every kernel has a scalar reference in
 * gallery.c that computes the same value in the same order, so the float
 * reference and kernels agree bit for bit (fmaf chains, see below) and the
 * int8 ones trivially do (exact int32 sums). Kernels: float AVX-512F and
 * AVX2+FMA; int8 AVX-512 VNNI (single and 8-probe) and AVX2.
 */
#ifndef TVS_MATCH_INT_H
#define TVS_MATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tvs/match.h"

#define TVS__MB 16                         /* rows per block */
#define TVS__MBLOCK (TVS_MATCH_DIM * TVS__MB) /* floats or bytes per block */

/* Float scores of nblocks blocks: out[b*16+l] = dot(probe, row). The dot is
 * four fmaf chains over k = j, j+4, ... (j = 0..3) combined as
 * (c0 + c1) + (c2 + c3). */
void tvs__match_scores_f32_avx512(const float *blocks, size_t nblocks, const float *probe, float *out);

/* The same with AVX2+FMA: two 8-lane halves per block, same chains, same
 * bits (search_avx2.c). */
void tvs__match_scores_f32_avx2(const float *blocks, size_t nblocks, const float *probe, float *out);

/* int8 scores: out[r] = (float)(dot(u8 row, probe s8) - corr) * (pscale *
 * rscale[r]) with corr = 128 * sum(probe). probe is 128 s8. */
void tvs__match_scores_i8_vnni(const uint8_t *blocks, const float *rscale, size_t nblocks,
			       const int8_t *probe, int32_t corr, float pscale, float *out);

/* The same with AVX2 (vpmaddubsw on the signed values, see search_avx2.c):
 * same values. Needs every stored byte >= 1 (q >= -127), as the quantiser
 * guarantees. */
void tvs__match_scores_i8_avx2(const uint8_t *blocks, const float *rscale, size_t nblocks,
			       const int8_t *probe, int32_t corr, float pscale, float *out);

/* As tvs__match_scores_i8_vnni for 8 probes at once (probes [8][128],
 * corr[8], pscale[8]); scores of probe p go to out[p * ld + r]. Same values
 * as eight single-probe calls. */
void tvs__match_scores_i8x8_vnni(const uint8_t *blocks, const float *rscale, size_t nblocks,
				 const int8_t *probes, const int32_t *corr, const float *pscale, float *out,
				 size_t ld);

/* Symmetric int8 quantisation of n values: returns the scale (0 for a zero
 * vector) and writes q. */
float tvs__match_quantise(const float *v, int n, int8_t *q);

#endif
