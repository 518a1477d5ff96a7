/*
 * Optimised conv and depthwise kernels against the scalar references.
 *
 * Every implementation this CPU has (and every one it lacks, which must fall
 * back to one it has) runs over a table holding each distinct layer shape of
 * the four face-api nets (ARCH.md Appendix A, large maps shrunk with the same
 * kernel, stride, padding and channels) plus edge cases: 1x1 inputs, widths
 * that are not a multiple of any tile, channel counts that leave a partial
 * vector. Each runs with every activation, without a residual, with one, and
 * with the residual in y itself.
 *
 * The bound is on normalised error, max|a-b| / (max|ref| + 1e-6) < 1e-5.
 * A float32 sum of K products differs from the double reference by about
 * sqrt(K) * 2^-24 of its magnitude (K * 2^-24 at worst); for the largest K
 * here (2304) that is under 3e-6, while an indexing or masking mistake gives
 * errors of order 1.
 *
 * Outputs and scratch are followed by canaries so that an overrunning masked
 * store fails here even without ASan. Fallback under a lower SIMD level is
 * checked by re-running this binary with TVS_SIMD set (the level is fixed at
 * first use in a process).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_simd.h"
#include "test_util.h"
#include "tvs/error.h"
#include "tvs/nn.h"

#define TOL 1e-5

static double norm_err(const float *a, const float *ref, size_t n)
{
	double maxd = 0.0, maxr = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - ref[i]);
		if (!(d <= maxd)) /* also catches NaN */
			maxd = d;
		if (fabs(ref[i]) > maxr)
			maxr = fabs(ref[i]);
	}
	return maxd / (maxr + 1e-6);
}

static int impl_available(int impl)
{
	int level = tvs_cpu_simd_level();
	switch (impl) {
	case TVS_CONV_IMPL_AVX512: return level >= 2;
	case TVS_CONV_IMPL_AVX2: return level >= 1;
	default: return 1;
	}
}

/* ------------------------------------------------------------ conv */

typedef struct conv_case {
	const char *name;
	int h, w, cin, cout, kh, kw, stride, pad;
	int all_combos; /* 4 activations x 3 residual modes, else a subset */
} conv_case;

#define S TVS_PAD_SAME
#define V TVS_PAD_VALID
static const conv_case conv_cases[] = {
	/* recognition (ResNet) */
	{"rec 7x7/2 valid 150->72 cin3", 150, 150, 3, 32, 7, 7, 2, V, 0},
	{"rec 3x3/1 same 35x35x32", 35, 35, 32, 32, 3, 3, 1, S, 0},
	{"rec 3x3/2 valid odd 35->17", 35, 35, 32, 64, 3, 3, 2, V, 1},
	{"rec 3x3/1 same 17x17x64", 17, 17, 64, 64, 3, 3, 1, S, 0},
	{"rec 3x3/2 valid odd 17->8", 17, 17, 64, 128, 3, 3, 2, V, 1},
	{"rec 3x3/1 same 8x8x128", 8, 8, 128, 128, 3, 3, 1, S, 1},
	{"rec 3x3/2 valid even 8->3", 8, 8, 128, 256, 3, 3, 2, V, 1},
	{"rec 3x3/1 same 3x3x256", 3, 3, 256, 256, 3, 3, 1, S, 1},
	{"rec 3x3/1 same 4x4x256", 4, 4, 256, 256, 3, 3, 1, S, 0},
	{"rec 3x3/2 valid even 4->1", 4, 4, 256, 256, 3, 3, 2, V, 1},
	{"rec 3x3/1 same 1x1x256", 1, 1, 256, 256, 3, 3, 1, S, 1},
	/* SSD MobileNet v1 */
	{"ssd conv0 3x3/2 same even (512->64)", 64, 64, 3, 32, 3, 3, 2, S, 1},
	{"ssd 1x1 32->64", 13, 11, 32, 64, 1, 1, 1, S, 1},
	{"ssd 1x1 64->128", 9, 9, 64, 128, 1, 1, 1, S, 1},
	{"ssd 1x1 128->128", 8, 8, 128, 128, 1, 1, 1, S, 1},
	{"ssd 1x1 128->256", 6, 7, 128, 256, 1, 1, 1, S, 1},
	{"ssd 1x1 256->256", 5, 5, 256, 256, 1, 1, 1, S, 1},
	{"ssd 1x1 256->512", 4, 5, 256, 512, 1, 1, 1, S, 0},
	{"ssd 1x1 512->512", 3, 5, 512, 512, 1, 1, 1, S, 0},
	{"ssd 1x1 512->1024", 3, 3, 512, 1024, 1, 1, 1, S, 0},
	{"ssd 1x1 1024->1024", 2, 3, 1024, 1024, 1, 1, 1, S, 0},
	{"ssd 1x1 1024->256", 4, 4, 1024, 256, 1, 1, 1, S, 0},
	{"ssd 3x3/2 same 16->8 256->512", 8, 8, 256, 512, 3, 3, 2, S, 0},
	{"ssd 1x1 512->128", 8, 8, 512, 128, 1, 1, 1, S, 1},
	{"ssd 3x3/2 same 8->4 128->256", 8, 8, 128, 256, 3, 3, 2, S, 1},
	{"ssd 1x1 256->128", 4, 4, 256, 128, 1, 1, 1, S, 1},
	{"ssd 3x3/2 same 4->2 128->256", 4, 4, 128, 256, 3, 3, 2, S, 1},
	{"ssd 1x1 256->64", 2, 2, 256, 64, 1, 1, 1, S, 1},
	{"ssd 3x3/2 same 2->1 64->128", 2, 2, 64, 128, 3, 3, 2, S, 1},
	{"ssd box 1x1 512->12", 7, 5, 512, 12, 1, 1, 1, S, 1},
	{"ssd cls 1x1 512->9", 7, 5, 512, 9, 1, 1, 1, S, 1},
	{"ssd box 1x1 1024->24", 4, 4, 1024, 24, 1, 1, 1, S, 1},
	{"ssd cls 1x1 1024->18", 4, 4, 1024, 18, 1, 1, 1, S, 1},
	{"ssd box 1x1 128->24 1x1", 1, 1, 128, 24, 1, 1, 1, S, 1},
	{"ssd cls 1x1 128->18 1x1", 1, 1, 128, 18, 1, 1, 1, S, 1},
	/* tiny face detector */
	{"tiny conv0 3x3 valid (416->30x33)", 30, 33, 3, 16, 3, 3, 1, V, 1},
	{"tiny 1x1 16->32", 15, 17, 16, 32, 1, 1, 1, V, 1},
	{"tiny 1x1 512->25", 13, 13, 512, 25, 1, 1, 1, V, 1},
	/* landmark68 */
	{"lmk conv0 3x3/2 same even (112->24)", 24, 24, 3, 32, 3, 3, 2, S, 1},
	{"lmk 1x1 32->32", 14, 14, 32, 32, 1, 1, 1, S, 1},
	/* edge cases */
	{"3x3/2 same odd input (pads 1/1)", 25, 25, 16, 32, 3, 3, 2, S, 1},
	{"3x3/1 same width 37", 5, 37, 32, 32, 3, 3, 1, S, 1},
	{"3x3/1 same width 13 cout 80", 3, 13, 20, 80, 3, 3, 1, S, 1},
	{"3x3/1 valid 1 row wide", 3, 40, 8, 48, 3, 3, 1, V, 1},
	{"1x1 single pixel cout 5", 1, 1, 7, 5, 1, 1, 1, S, 1},
	{"1x1 M=13 cout 200 cin 5", 1, 13, 5, 200, 1, 1, 1, V, 1},
	{"1x1/2 valid", 9, 9, 16, 24, 1, 1, 2, V, 1},
	{"2x3/1 same odd kernel", 7, 14, 6, 17, 2, 3, 1, S, 1},
	{"5x5/1 same", 12, 16, 4, 33, 5, 5, 1, S, 1},
	{"3x3/1 same 1x1 input cout 1", 1, 1, 3, 1, 3, 3, 1, S, 1},
	{"3x3/1 same single row, wide", 1, 20, 8, 16, 3, 3, 1, S, 1},
	{"5x5/1 same 2 rows wide (no interior)", 2, 14, 4, 20, 5, 5, 1, S, 1},
	{"3x3/2 same even wide (pads 0/1)", 6, 30, 16, 16, 3, 3, 2, S, 1},
	{"3x3/2 same odd wide (pads 1/1)", 7, 29, 16, 16, 3, 3, 2, S, 1},
};
#undef S
#undef V

static const int impls[] = {TVS_CONV_IMPL_GEMM, TVS_CONV_IMPL_AVX2, TVS_CONV_IMPL_AVX512,
			    TVS_CONV_IMPL_AUTO, TVS_CONV_IMPL_REF};

enum { RES_NONE, RES_SEPARATE, RES_IN_Y };

static void init_checked(tvs_conv *L, const conv_case *c, int act, const float *w, const float *b,
			 const float *sc, const float *sh, int impl)
{
	int rc = tvs_conv_init(L, c->kh, c->kw, c->cin, c->cout, c->stride, c->pad, act, w, b, sc, sh,
			       impl);
	assert_int_equal(rc, 0);
	if (impl == TVS_CONV_IMPL_AUTO || !impl_available(impl)) {
		assert_true(L->impl != TVS_CONV_IMPL_AUTO && L->impl != impl);
		assert_true(impl_available(L->impl));
	} else {
		assert_int_equal(L->impl, impl);
	}
}

static void run_conv_case(const conv_case *c)
{
	const size_t nx = (size_t)c->h * c->w * c->cin;
	const size_t nw = (size_t)c->kh * c->kw * c->cin * c->cout;
	int oh, ow, before;
	float *x = alloc_rand(nx), *w = alloc_rand(nw), *b = alloc_rand(c->cout);
	float *sc = alloc_rand(c->cout), *sh = alloc_rand(c->cout);

	tvs_nn_pad_info(c->h, c->kh, c->stride, c->pad, &oh, &before);
	tvs_nn_pad_info(c->w, c->kw, c->stride, c->pad, &ow, &before);
	const size_t ny = (size_t)oh * ow * c->cout;
	float *res = alloc_rand(ny), *ref = alloc_rand(ny), *y = alloc_rand(ny);
	tvs_tensor tx = {c->h, c->w, c->cin, x};
	tvs_tensor tref = {oh, ow, c->cout, ref}, ty = {oh, ow, c->cout, y}, tres = {oh, ow, c->cout, res};

	for (int act = TVS_ACT_NONE; act <= TVS_ACT_LEAKY; act++) {
		for (int rm = RES_NONE; rm <= RES_IN_Y; rm++) {
			if (!c->all_combos && rm != RES_NONE && act != TVS_ACT_RELU)
				continue;
			tvs_conv R;
			/* Every other combination also folds a scale/shift. */
			const int fold = (act + rm) & 1;
			init_checked(&R, c, act, w, b, fold ? sc : NULL, fold ? sh : NULL,
				     TVS_CONV_IMPL_REF);
			tvs_conv_forward_ref(&R, &tx, &tref, rm == RES_NONE ? NULL : &tres);
			tvs_conv_free(&R);
			for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
				tvs_conv L;
				init_checked(&L, c, act, w, b, fold ? sc : NULL, fold ? sh : NULL, impls[i]);
				const size_t ns = tvs_conv_scratch_floats(&L, c->h, c->w);
				float *scratch = ns ? alloc_rand(ns) : NULL;
				const tvs_tensor *r = NULL;
				if (rm == RES_SEPARATE) {
					r = &tres;
				} else if (rm == RES_IN_Y) {
					memcpy(y, res, ny * sizeof(float));
					r = &ty;
				}
				tvs_conv_forward(&L, &tx, &ty, r, scratch);
				double e = norm_err(y, ref, ny);
				if (!(e < TOL))
					fail_msg("%s: impl %s act %d res %d: normalised error %g", c->name,
						 tvs_conv_impl_name(L.impl), act, rm, e);
				check_canary(y, ny);
				if (scratch)
					check_canary(scratch, ns);
				free(scratch);
				tvs_conv_free(&L);
			}
		}
	}
	check_canary(x, nx);
	check_canary(res, ny);
	free(x), free(w), free(b), free(sc), free(sh), free(res), free(ref), free(y);
}

static void test_conv_shapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
		run_conv_case(&conv_cases[i]);
}

static void test_conv_bad_impl(void **state)
{
	tvs_conv L;
	float w[9] = {0};
	(void)state;
	assert_int_equal(tvs_conv_init(&L, 3, 3, 1, 1, 1, TVS_PAD_SAME, 0, w, NULL, NULL, NULL, 42),
			 TVS_EINVAL);
	tvs_conv_free(&L);
	tvs_dwconv D;
	assert_int_equal(tvs_dwconv_init(&D, 3, 3, 1, 1, TVS_PAD_SAME, 0, w, NULL, NULL, NULL, NULL,
					 NULL, 0.0f, -1),
			 TVS_EINVAL);
	tvs_dwconv_free(&D);
}

static void test_impl_names(void **state)
{
	(void)state;
	assert_string_equal(tvs_conv_impl_name(TVS_CONV_IMPL_AVX512), "avx512");
	assert_string_equal(tvs_conv_impl_name(TVS_CONV_IMPL_GEMM), "gemm");
	assert_string_equal(tvs_conv_impl_name(99), "?");
}

/* ------------------------------------------------------------ depthwise */

typedef struct dw_case {
	const char *name;
	int h, w, c, k, stride, pad;
} dw_case;

#define S TVS_PAD_SAME
#define V TVS_PAD_VALID
static const dw_case dw_cases[] = {
	{"ssd dw s1 same 256x256x32 (->20x19)", 20, 19, 32, 3, 1, S},
	{"ssd dw s2 same even 256->128 (->20)", 20, 20, 64, 3, 2, S},
	{"ssd dw s1 same 32x32x512 (->6x7)", 6, 7, 512, 3, 1, S},
	{"ssd dw s2 same even 32->16 c512", 8, 8, 512, 3, 2, S},
	{"ssd dw s1 same 16x16x1024 (->3x4)", 3, 4, 1024, 3, 1, S},
	{"lmk dw s2 same even 14->7 c128", 14, 14, 128, 3, 2, S},
	{"lmk dw s1 same 7x7x256", 7, 7, 256, 3, 1, S},
	{"tiny dw s1 valid (209->17) c16", 17, 17, 16, 3, 1, V},
	{"tiny dw s1 valid 15->13 c256", 15, 15, 256, 3, 1, V},
	{"dw s2 same odd 15->8", 15, 15, 48, 3, 2, S},
	{"dw s2 valid odd", 15, 13, 32, 3, 2, V},
	{"dw s1 same 1x1 input", 1, 1, 64, 3, 1, S},
	{"dw s1 same 2x2 input", 2, 2, 32, 3, 1, S},
	{"dw s1 same wide row c5", 3, 41, 5, 3, 1, S},
	{"dw s1 same c20 (partial vector)", 9, 11, 20, 3, 1, S},
	{"dw s2 same c13", 10, 10, 13, 3, 2, S},
	{"dw 5x5 s1 same (generic path)", 9, 10, 24, 5, 1, S},
	{"dw 1x1 s1", 4, 5, 40, 1, 1, S},
};
#undef S
#undef V

static void run_dw_case(const dw_case *c)
{
	const size_t nx = (size_t)c->h * c->w * c->c, nw = (size_t)c->k * c->k * c->c;
	int oh, ow, pb;
	float *x = alloc_rand(nx), *w = alloc_rand(nw), *b = alloc_rand(c->c);
	float *mean = alloc_rand(c->c), *var = alloc_rand(c->c), *gamma = alloc_rand(c->c),
	      *beta = alloc_rand(c->c);

	for (int i = 0; i < c->c; i++)
		var[i] = fabsf(var[i]) + 0.1f;
	tvs_nn_pad_info(c->h, c->k, c->stride, c->pad, &oh, &pb);
	tvs_nn_pad_info(c->w, c->k, c->stride, c->pad, &ow, &pb);
	const size_t ny = (size_t)oh * ow * c->c;
	float *ref = alloc_rand(ny), *y = alloc_rand(ny);
	tvs_tensor tx = {c->h, c->w, c->c, x}, tref = {oh, ow, c->c, ref}, ty = {oh, ow, c->c, y};

	for (int act = TVS_ACT_NONE; act <= TVS_ACT_LEAKY; act++) {
		const int bn = act & 1;
		tvs_dwconv R;
		assert_int_equal(tvs_dwconv_init(&R, c->k, c->k, c->c, c->stride, c->pad, act, w, b,
						 bn ? mean : NULL, var, gamma, beta, 1e-3f,
						 TVS_CONV_IMPL_REF),
				 0);
		assert_int_equal(R.impl, TVS_CONV_IMPL_REF);
		tvs_dwconv_forward_ref(&R, &tx, &tref);
		tvs_dwconv_free(&R);
		for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
			tvs_dwconv L;
			assert_int_equal(tvs_dwconv_init(&L, c->k, c->k, c->c, c->stride, c->pad, act, w,
							 b, bn ? mean : NULL, var, gamma, beta, 1e-3f,
							 impls[i]),
					 0);
			assert_true(impl_available(L.impl) && L.impl != TVS_CONV_IMPL_AUTO);
			if (impls[i] == TVS_CONV_IMPL_REF || impl_available(impls[i]))
				assert_true(impls[i] == TVS_CONV_IMPL_AUTO ||
					    impls[i] == TVS_CONV_IMPL_GEMM || L.impl == impls[i]);
			tvs_dwconv_forward(&L, &tx, &ty);
			double e = norm_err(y, ref, ny);
			if (!(e < TOL))
				fail_msg("%s: impl %s act %d: normalised error %g", c->name,
					 tvs_conv_impl_name(L.impl), act, e);
			check_canary(y, ny);
			tvs_dwconv_free(&L);
		}
	}
	check_canary(x, nx);
	free(x), free(w), free(b), free(mean), free(var), free(gamma), free(beta), free(ref), free(y);
}

static void test_dwconv_shapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dw_cases) / sizeof(dw_cases[0]); i++)
		run_dw_case(&dw_cases[i]);
}

/* ------------------------------------------------------------ fallback */

/* Child mode: at the SIMD level forced by TVS_SIMD, every impl request must
 * give an available kernel that still matches the reference. */
static int fallback_child(void)
{
	const int level = tvs_cpu_simd_level();
	const conv_case c = {"fallback", 9, 14, 24, 40, 3, 3, 1, TVS_PAD_SAME, 1};
	const size_t nx = (size_t)c.h * c.w * c.cin, nw = (size_t)9 * c.cin * c.cout;
	const size_t ny = (size_t)c.h * c.w * c.cout;
	float *x = malloc(nx * 4), *w = malloc(nw * 4), *ref = malloc(ny * 4), *y = malloc(ny * 4);
	float *scratch = malloc(1 << 20);
	tvs_tensor tx = {c.h, c.w, c.cin, x}, tref = {c.h, c.w, c.cout, ref}, ty = {c.h, c.w, c.cout, y};
	int bad = 0;

	for (size_t i = 0; i < nx; i++)
		x[i] = frand();
	for (size_t i = 0; i < nw; i++)
		w[i] = frand();
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		tvs_conv L;
		if (tvs_conv_init(&L, 3, 3, c.cin, c.cout, 1, TVS_PAD_SAME, TVS_ACT_RELU, w, NULL, NULL,
				  NULL, impls[i]) < 0)
			return 2;
		if ((L.impl == TVS_CONV_IMPL_AVX512 && level < 2) ||
		    (L.impl == TVS_CONV_IMPL_AVX2 && level < 1) || L.impl == TVS_CONV_IMPL_AUTO)
			bad = 1;
		if (tvs_conv_scratch_floats(&L, c.h, c.w) * 4 > (1 << 20))
			bad = 1;
		tvs_conv_forward_ref(&L, &tx, &tref, NULL);
		tvs_conv_forward(&L, &tx, &ty, NULL, scratch);
		if (!(norm_err(y, ref, ny) < TOL))
			bad = 1;
		printf("  TVS_SIMD=%d: conv requested %s -> %s\n", level, tvs_conv_impl_name(impls[i]),
		       tvs_conv_impl_name(L.impl));
		tvs_conv_free(&L);

		tvs_dwconv D;
		if (tvs_dwconv_init(&D, 3, 3, c.cin, 1, TVS_PAD_SAME, TVS_ACT_RELU6, w, NULL, NULL, NULL,
				    NULL, NULL, 0.0f, impls[i]) < 0)
			return 2;
		if ((D.impl == TVS_CONV_IMPL_AVX512 && level < 2) ||
		    (D.impl == TVS_CONV_IMPL_AVX2 && level < 1))
			bad = 1;
		tvs_tensor dref = {c.h, c.w, c.cin, ref}, dy = {c.h, c.w, c.cin, y};
		tvs_dwconv_forward_ref(&D, &tx, &dref);
		tvs_dwconv_forward(&D, &tx, &dy);
		if (!(norm_err(y, ref, (size_t)c.h * c.w * c.cin) < TOL))
			bad = 1;
		tvs_dwconv_free(&D);
	}
	free(x), free(w), free(ref), free(y), free(scratch);
	return bad;
}

static void test_fallback_levels(void **state)
{
	(void)state;
	run_simd_levels("test_nn_kernels", "--fallback-child");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--fallback-child") == 0)
		return fallback_child();
	printf("simd level %d\n", tvs_cpu_simd_level());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_impl_names),
		cmocka_unit_test(test_conv_bad_impl),
		cmocka_unit_test(test_conv_shapes),
		cmocka_unit_test(test_dwconv_shapes),
		cmocka_unit_test(test_fallback_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
