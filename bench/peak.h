/*
 * This core's fp32 FMA peak, measured with independent FMA chains long
 * enough to hide the FMA latency; the figure every kernel's efficiency is
 * quoted against. Compiled with the AVX-512 flags (bench/ only); call
 * bench_fma_peak_gflops() only where tvs_cpu_simd_level() says it is safe.
 */
#ifndef TVS_BENCH_PEAK_H
#define TVS_BENCH_PEAK_H

#include <immintrin.h>
#include <time.h>

static inline double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of 16 independent zmm (level 2) or ymm (level 1) FMA chains. */
static inline double bench_fma_peak_gflops(int level)
{
	const long iters = 20 * 1000 * 1000;
	double best = 0;

	for (int rep = 0; rep < 3; rep++) {
		double t0 = bench_now_s(), flops;
		float sink = 0;
		if (level >= 2) {
			__m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
			__m512 r[16];
			for (int i = 0; i < 16; i++)
				r[i] = _mm512_set1_ps((float)i);
			for (long k = 0; k < iters; k++) {
				for (int i = 0; i < 16; i++)
					r[i] = _mm512_fmadd_ps(r[i], a, b);
				__asm__ volatile("" : "+v"(r[0]), "+v"(r[1]), "+v"(r[2]), "+v"(r[3]), "+v"(r[4]),
						 "+v"(r[5]), "+v"(r[6]), "+v"(r[7]));
			}
			for (int i = 0; i < 16; i++)
				sink += _mm512_reduce_add_ps(r[i]);
			flops = (double)iters * 16 * 16 * 2;
		} else {
			__m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
			__m256 r[12];
			for (int i = 0; i < 12; i++)
				r[i] = _mm256_set1_ps((float)i);
			for (long k = 0; k < iters; k++) {
				for (int i = 0; i < 12; i++)
					r[i] = _mm256_fmadd_ps(r[i], a, b);
				__asm__ volatile("" : "+x"(r[0]), "+x"(r[1]), "+x"(r[2]), "+x"(r[3]));
			}
			float tmp[8];
			for (int i = 0; i < 12; i++) {
				_mm256_storeu_ps(tmp, r[i]);
				sink += tmp[0];
			}
			flops = (double)iters * 12 * 8 * 2;
		}
		double dt = bench_now_s() - t0;
		__asm__ volatile("" ::"r"(sink));
		if (flops / dt / 1e9 > best)
			best = flops / dt / 1e9;
	}
	return best;
}

#endif
