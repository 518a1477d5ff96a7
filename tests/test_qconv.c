/*
 * The int8 1x1 conv (tvs_qconv) against its references.
 *
 * 1. The VNNI kernel against the scalar int8 kernel, exactly: both quantise
 *    the input the same way, accumulate exactly in int32 and apply one FMA,
 *    so every output float must be equal (compared with ==, so +0 and -0
 *    agree). Inputs span [-0.5, 6.5] to exercise the clamping; shapes are the
 *    SSD's pointwise, extra and predictor convs with maps shrunk, plus edges:
 *    cin not a multiple of 4 or 16, cout leaving a partial vector or block
 *    (1, 12, 18, 24, 70), pixel counts that are not a multiple of the 6-pixel
 *    tile and that cross the kernel's pixel blocks. Outputs are followed by
 *    canaries against overrunning masked stores.
 * 2. The int8 path against the fp32 reference conv on the same folded
 *    weights, inputs in [0, 6], no activation: the error is quantisation
 *    noise, about sqrt(K) * (x_rms * w_max / 440 + w_rms * 0.0068), a few
 *    tenths of a percent of the output's rms; the bound (1% rms, 5% max,
 *    both relative to the output's rms) catches a wrong scale or rounding.
 *    Skipped when the machine has no VNNI only for part 1.
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

#include "nn/qconv_int.h"
#include "test_util.h"
#include "tvs/error.h"
#include "tvs/nn.h"
#include "tvs/qconv.h"


struct shape {
	int h, w, cin, cout, act;
};

static const struct shape SHAPES[] = {
	/* SSD backbone pointwise, maps shrunk */
	{17, 19, 32, 64, TVS_ACT_RELU6},
	{9, 9, 64, 128, TVS_ACT_RELU6},
	{8, 8, 128, 128, TVS_ACT_RELU6},
	{7, 7, 128, 256, TVS_ACT_RELU6},
	{5, 5, 256, 256, TVS_ACT_RELU6},
	{4, 4, 256, 512, TVS_ACT_RELU6},
	{5, 7, 512, 512, TVS_ACT_RELU6},
	{3, 5, 512, 1024, TVS_ACT_RELU6},
	{16, 16, 1024, 1024, TVS_ACT_RELU6}, /* crosses pixel blocks (30 px at K=1024) */
	/* extras (1x1) and predictors */
	{4, 4, 1024, 256, TVS_ACT_RELU6},
	{2, 2, 512, 128, TVS_ACT_RELU6},
	{1, 1, 256, 64, TVS_ACT_RELU6},
	{11, 13, 512, 12, TVS_ACT_NONE},
	{3, 3, 1024, 24, TVS_ACT_NONE},
	{2, 2, 256, 18, TVS_ACT_NONE},
	/* edges */
	{11, 100, 32, 64, TVS_ACT_RELU6}, /* crosses pixel blocks (1024 px at K=32) */
	{1, 7, 3, 1, TVS_ACT_NONE},
	{1, 13, 17, 70, TVS_ACT_RELU},
	{3, 1, 33, 130, TVS_ACT_RELU6},
	{1, 1, 1, 16, TVS_ACT_NONE},
};
#define NSHAPES (sizeof(SHAPES) / sizeof(SHAPES[0]))

static void make_conv(tvs_conv *L, const struct shape *s)
{
	size_t nw = (size_t)s->cin * s->cout;
	float *w = malloc(nw * sizeof(float)), *b = malloc((size_t)s->cout * sizeof(float));
	assert_non_null(w);
	assert_non_null(b);
	for (size_t i = 0; i < nw; i++)
		w[i] = 0.1f * frand();
	for (int i = 0; i < s->cout; i++)
		b[i] = 0.5f * frand();
	if (s->cout > 1)
		for (int k = 0; k < s->cin; k++)
			w[(size_t)k * s->cout + 1] = 0.0f; /* an all-zero channel: scale 0 */
	assert_int_equal(tvs_conv_init(L, 1, 1, s->cin, s->cout, 1, TVS_PAD_SAME, s->act, w, b, NULL, NULL,
				       TVS_CONV_IMPL_AUTO),
			 0);
	free(w);
	free(b);
}

static void test_vnni_matches_ref(void **state)
{
	(void)state;
	if (!tvs_qconv_available()) {
		print_message("no AVX-512 VNNI on this CPU: VNNI kernel not tested\n");
		skip();
	}
	for (size_t si = 0; si < NSHAPES; si++) {
		const struct shape *s = &SHAPES[si];
		size_t M = (size_t)s->h * s->w, nx = M * s->cin, ny = M * s->cout;
		tvs_conv L;
		tvs_qconv Q;
		make_conv(&L, s);
		assert_int_equal(tvs_qconv_init(&Q, &L), 0);
		assert_true(Q.use_vnni);
		float *x = alloc_floats(nx), *y0 = alloc_floats(ny), *y1 = alloc_floats(ny);
		void *scratch = aligned_alloc(64, (tvs_qconv_scratch_bytes(&Q) + 63) / 64 * 64);
		assert_non_null(scratch);
		for (size_t i = 0; i < nx; i++)
			x[i] = 3.0f + 3.5f * frand();
		x[0] = 6.0f;
		x[nx - 1] = 0.0f;
		tvs_tensor tx = {s->h, s->w, s->cin, x}, t0 = {s->h, s->w, s->cout, y0},
			   t1 = {s->h, s->w, s->cout, y1};
		tvs_qconv_forward_ref(&Q, &tx, &t0);
		tvs_qconv_forward(&Q, &tx, &t1, scratch);
		size_t bad = 0;
		for (size_t i = 0; i < ny; i++)
			if (!(y0[i] == y1[i]) && bad++ < 3)
				print_message("shape %zu (%dx%d %d->%d): y[%zu] ref %.9g vnni %.9g\n", si, s->h, s->w,
					      s->cin, s->cout, i, y0[i], y1[i]);
		assert_int_equal(bad, 0);
		check_canary(y0, ny);
		check_canary(y1, ny);
		check_canary(x, nx);
		free(scratch);
		free(x);
		free(y0);
		free(y1);
		tvs_qconv_free(&Q);
		tvs_conv_free(&L);
	}
}

static void test_int8_close_to_fp32(void **state)
{
	(void)state;
	double worst_rms = 0, worst_max = 0;
	for (size_t si = 0; si < NSHAPES; si++) {
		struct shape s = SHAPES[si];
		s.act = TVS_ACT_NONE; /* compare the linear part; relu6 would hide errors */
		size_t M = (size_t)s.h * s.w, nx = M * s.cin, ny = M * s.cout;
		tvs_conv L;
		tvs_qconv Q;
		make_conv(&L, &s);
		assert_int_equal(tvs_qconv_init(&Q, &L), 0);
		float *x = alloc_floats(nx), *yq = alloc_floats(ny), *yf = alloc_floats(ny);
		for (size_t i = 0; i < nx; i++)
			x[i] = 3.0f + 3.0f * frand();
		tvs_tensor tx = {s.h, s.w, s.cin, x}, tq = {s.h, s.w, s.cout, yq}, tf = {s.h, s.w, s.cout, yf};
		tvs_qconv_forward_ref(&Q, &tx, &tq);
		tvs_conv_forward_ref(&L, &tx, &tf, NULL);
		double se = 0, sr = 0, mx = 0, mean = 0;
		for (size_t i = 0; i < ny; i++)
			mean += yf[i] - L.bias[i % s.cout];
		mean /= ny;
		for (size_t i = 0; i < ny; i++) {
			double d = fabs((double)yq[i] - yf[i]), r = yf[i] - L.bias[i % s.cout] - mean;
			se += d * d;
			sr += r * r;
			mx = d > mx ? d : mx;
		}
		double rms = sqrt(sr / ny) + 1e-12, er = sqrt(se / ny) / rms, em = mx / rms;
		if (s.cin >= 8) { /* K < 8: too few terms for a statistical bound */
			assert_true(er < 0.01);
			assert_true(em < 0.05);
			worst_rms = er > worst_rms ? er : worst_rms;
			worst_max = em > worst_max ? em : worst_max;
		}
		free(x);
		free(yq);
		free(yf);
		tvs_qconv_free(&Q);
		tvs_conv_free(&L);
	}
	print_message("int8 vs fp32: worst rms error %.3f%%, worst max error %.3f%% of output rms\n",
		      100 * worst_rms, 100 * worst_max);
}

static void test_init_rejects(void **state)
{
	(void)state;
	tvs_conv L;
	tvs_qconv Q;
	float w[3 * 3 * 4 * 4] = {0};
	assert_int_equal(tvs_conv_init(&L, 3, 3, 4, 4, 1, TVS_PAD_SAME, TVS_ACT_RELU6, w, NULL, NULL, NULL,
				       TVS_CONV_IMPL_AUTO),
			 0);
	assert_int_equal(tvs_qconv_init(&Q, &L), TVS_EINVAL);
	tvs_conv_free(&L);
	assert_int_equal(tvs_conv_init(&L, 1, 1, 4, 4, 1, TVS_PAD_SAME, TVS_ACT_LEAKY, w, NULL, NULL, NULL,
				       TVS_CONV_IMPL_AUTO),
			 0);
	assert_int_equal(tvs_qconv_init(&Q, &L), TVS_EINVAL);
	tvs_conv_free(&L);
	tvs_qconv_free(&Q); /* zeroed by the failed init */
	tvs_qconv_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vnni_matches_ref),
		cmocka_unit_test(test_int8_close_to_fp32),
		cmocka_unit_test(test_init_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
