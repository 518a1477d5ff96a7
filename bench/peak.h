/*
 * This core's fp32 FMA peak, the figure every kernel's efficiency is quoted
 * against: independent FMA chains on registers, timed as the best of many
 * short trials (on a shared machine a short trial likely runs in one
 * uninterrupted time slice, and other work can only slow a trial down).
 * Benches are compiled with AVX-512 flags; call the zmm loops only where
 * tvs_cpu_simd_level() says the CPU has AVX-512.
 */
#ifndef TVS_BENCH_PEAK_H
#define TVS_BENCH_PEAK_H

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Many short trials (~0.5 ms each): on a shared machine a short trial is
 * likely to run in one uninterrupted time slice. */
#define PEAK_ITERS 400000L
#define PEAK_TRIALS 200

static inline double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ peak */

/* N independent accumulators as named variables (an array would be kept in
 * memory by some compilers), each a chain acc = acc*m + a. The loop-carried
 * dependency is the only one, so this runs at min(throughput, N/latency). */
#define CHAIN_DECL(T, SET1, i) T c##i = SET1((float)i);
#define CHAIN_STEP(FMA, i) c##i = FMA(c##i, m, a);
#define CHAIN_SUM(FMA, i) c0 = FMA(c0, m, c##i);
#define X12(F, ...) F(__VA_ARGS__, 1) F(__VA_ARGS__, 2) F(__VA_ARGS__, 3) F(__VA_ARGS__, 4) \
	F(__VA_ARGS__, 5) F(__VA_ARGS__, 6) F(__VA_ARGS__, 7) F(__VA_ARGS__, 8)              \
	F(__VA_ARGS__, 9) F(__VA_ARGS__, 10) F(__VA_ARGS__, 11)
#define X24(F, ...) X12(F, __VA_ARGS__) F(__VA_ARGS__, 12) F(__VA_ARGS__, 13)           \
	F(__VA_ARGS__, 14) F(__VA_ARGS__, 15) F(__VA_ARGS__, 16) F(__VA_ARGS__, 17)         \
	F(__VA_ARGS__, 18) F(__VA_ARGS__, 19) F(__VA_ARGS__, 20) F(__VA_ARGS__, 21)         \
	F(__VA_ARGS__, 22) F(__VA_ARGS__, 23)
#define PEAK_FN(NAME, XN, NCH, T, SET1, FMA, STORE, LANES)                                 \
	static double NAME(void)                                                           \
	{                                                                                  \
		const T m = SET1(0.9999f), a = SET1(1e-4f);                                \
		T c0 = SET1(0.0f);                                                         \
		XN(CHAIN_DECL, T, SET1)                                                    \
		double t = now();                                                          \
		for (long it = 0; it < PEAK_ITERS; it++) {                                 \
			c0 = FMA(c0, m, a);                                                \
			XN(CHAIN_STEP, FMA)                                                \
		}                                                                          \
		t = now() - t;                                                             \
		XN(CHAIN_SUM, FMA)                                                         \
		float sink[LANES];                                                         \
		STORE(sink, c0);                                                           \
		if (sink[0] == 12345.0f)                                                   \
			puts("");                                                          \
		return (double)PEAK_ITERS * NCH * LANES * 2 / t * 1e-9;                    \
	}

PEAK_FN(peak_zmm12, X12, 12, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16)
PEAK_FN(peak_zmm24, X24, 24, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16)
PEAK_FN(peak_ymm12, X12, 12, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, 8)


/* The best of several short trials: other work on the machine can only
 * slow a trial down, never speed it up. */
static double best_of(double (*fn)(void))
{
	double best = 0.0;
	for (int i = 0; i < PEAK_TRIALS; i++) {
		const double g = fn();
		best = g > best ? g : best;
	}
	return best;
}


/* GFLOP/s of the widest FMA this CPU has: zmm (level 2) or ymm (level 1). */
static inline double bench_fma_peak_gflops(int level)
{
	if (level >= 2) {
		double a = best_of(peak_zmm12), b = best_of(peak_zmm24);
		return a > b ? a : b;
	}
	return best_of(peak_ymm12);
}

/* xorshift64: the same pseudo-random benchmark data on every machine. */
static inline uint64_t bench_xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of n timings; sorts v in place. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
