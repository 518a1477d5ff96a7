/*
 * Helpers shared by the kernel tests: a small deterministic generator (the
 * same numbers on every machine, so a failure reproduces) and buffers with a
 * canary tail that catches a kernel writing past its output.
 */
#ifndef TVS_TEST_UTIL_H
#define TVS_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#define CANARY 16
#define CANARY_VAL 1234.5f

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-1, 1). */
static inline float frand(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}

/* n floats (uninitialised) followed by CANARY canary values; free(). */
static inline float *alloc_floats(size_t n)
{
	float *p = malloc((n + CANARY) * sizeof(float));
	assert_non_null(p);
	for (int i = 0; i < CANARY; i++)
		p[n + i] = CANARY_VAL;
	return p;
}

/* n random floats followed by the canary. */
static inline float *alloc_rand(size_t n)
{
	float *p = alloc_floats(n);
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

static inline void check_canary(const float *p, size_t n)
{
	for (int i = 0; i < CANARY; i++)
		assert_true(p[n + i] == CANARY_VAL);
}

#endif
