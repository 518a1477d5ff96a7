/*
 * Layer preparation and scalar reference kernels.
 *
 * Preparation folds every per-channel affine step that follows a convolution
 * (face-api's "scale" layers, TF batch norm) into the filter and bias, so the
 * fast kernels only ever compute act(conv + bias [+ residual]). The folded
 * result differs from face-api's unfolded arithmetic by float rounding only.
 *
 * The reference kernels are deliberately naive loops over the TF padding
 * arithmetic, accumulating in double; they are what the SIMD kernels are
 * tested against, never what production runs.
 */
#include "nn_int.h"
#include "tvs/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tvs_nn_pad_info(int in, int k, int stride, int pad, int *out, int *before)
{
	if (pad == TVS_PAD_VALID) {
		*out = (in - k) / stride + 1;
		*before = 0;
		return;
	}
	int o = (in + stride - 1) / stride;
	int total = (o - 1) * stride + k - in;
	if (total < 0)
		total = 0;
	*out = o;
	*before = total / 2;
}

void tvs__conv_geom_of(const tvs_conv *L, int in_h, int in_w, tvs__conv_geom *g)
{
	tvs_nn_pad_info(in_h, L->kh, L->stride, L->pad, &g->oh, &g->pad_top);
	tvs_nn_pad_info(in_w, L->kw, L->stride, L->pad, &g->ow, &g->pad_left);
}

void tvs_conv_out_size(const tvs_conv *L, int in_h, int in_w, int *out_h, int *out_w)
{
	tvs__conv_geom g;

	tvs__conv_geom_of(L, in_h, in_w, &g);
	*out_h = g.oh;
	*out_w = g.ow;
}

int tvs_conv_init(tvs_conv *L, int kh, int kw, int cin, int cout, int stride, int pad, int act,
		  const float *w, const float *bias, const float *scale, const float *shift, int impl)
{
	size_t nw = (size_t)kh * kw * cin * cout;
	int rc;

	memset(L, 0, sizeof(*L));
	if (kh <= 0 || kw <= 0 || cin <= 0 || cout <= 0 || stride <= 0 || !w)
		return tvs__err(TVS_EINVAL, "conv: bad shape %dx%dx%dx%d/%d", kh, kw, cin, cout, stride);
	L->kh = kh, L->kw = kw, L->cin = cin, L->cout = cout;
	L->stride = stride, L->pad = pad, L->act = act, L->impl = impl;
	L->w = malloc(nw * sizeof(float));
	L->bias = calloc((size_t)cout, sizeof(float));
	if (!L->w || !L->bias) {
		rc = tvs__err(TVS_ENOMEM, "conv: out of memory for %zu weights", nw);
		goto fail;
	}
	/* HWIO: cout is the innermost axis, so the weights are rows of cout */
	for (size_t i = 0; i < nw; i += (size_t)cout)
		for (int co = 0; co < cout; co++)
			L->w[i + co] = scale ? w[i + co] * scale[co] : w[i + co];
	for (int co = 0; co < cout; co++) {
		float b = bias ? bias[co] : 0.0f;
		L->bias[co] = scale ? b * scale[co] + (shift ? shift[co] : 0.0f) : b;
	}
	rc = tvs__conv_prepare(L);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	tvs_conv_free(L);
	return rc;
}

void tvs_conv_free(tvs_conv *L)
{
	if (!L)
		return;
	free(L->w);
	free(L->bias);
	free(L->wpack);
	L->w = L->bias = L->wpack = NULL;
}

void tvs_conv_forward_ref(const tvs_conv *L, const tvs_tensor *x, tvs_tensor *y, const tvs_tensor *res)
{
	tvs__conv_geom g;
	const int cin = L->cin, cout = L->cout;

	tvs__conv_geom_of(L, x->h, x->w, &g);
	TVS_ASSERT(x->c == cin && y->h == g.oh && y->w == g.ow && y->c == cout);
	for (int oy = 0; oy < g.oh; oy++) {
		for (int ox = 0; ox < g.ow; ox++) {
			float *o = y->d + ((size_t)oy * g.ow + ox) * cout;
			const float *r = res ? res->d + ((size_t)oy * g.ow + ox) * cout : NULL;
			for (int co = 0; co < cout; co++) {
				double acc = L->bias[co];
				for (int ky = 0; ky < L->kh; ky++) {
					int iy = oy * L->stride - g.pad_top + ky;
					if (iy < 0 || iy >= x->h)
						continue;
					for (int kx = 0; kx < L->kw; kx++) {
						int ix = ox * L->stride - g.pad_left + kx;
						if (ix < 0 || ix >= x->w)
							continue;
						const float *xi = x->d + ((size_t)iy * x->w + ix) * cin;
						const float *wi = L->w + ((size_t)(ky * L->kw + kx) * cin) * cout + co;
						for (int ci = 0; ci < cin; ci++)
							acc += (double)xi[ci] * wi[(size_t)ci * cout];
					}
				}
				float v = (float)acc;
				if (r)
					v += r[co];
				o[co] = tvs__act1(v, L->act);
			}
		}
	}
}

/* ------------------------------------------------------------ depthwise */

void tvs_dwconv_out_size(const tvs_dwconv *L, int in_h, int in_w, int *out_h, int *out_w)
{
	int b;

	tvs_nn_pad_info(in_h, L->kh, L->stride, L->pad, out_h, &b);
	tvs_nn_pad_info(in_w, L->kw, L->stride, L->pad, out_w, &b);
}

int tvs_dwconv_init(tvs_dwconv *L, int kh, int kw, int c, int stride, int pad, int act,
		    const float *w, const float *bias, const float *bn_mean, const float *bn_var,
		    const float *bn_gamma, const float *bn_beta, float bn_eps, int impl)
{
	size_t nw = (size_t)kh * kw * c;
	int rc;

	memset(L, 0, sizeof(*L));
	if (kh <= 0 || kw <= 0 || c <= 0 || stride <= 0 || !w)
		return tvs__err(TVS_EINVAL, "dwconv: bad shape %dx%dx%d/%d", kh, kw, c, stride);
	L->kh = kh, L->kw = kw, L->c = c, L->stride = stride, L->pad = pad, L->act = act;
	L->impl = impl;
	L->w = malloc(nw * sizeof(float));
	L->bias = calloc((size_t)c, sizeof(float));
	if (!L->w || !L->bias) {
		rc = tvs__err(TVS_ENOMEM, "dwconv: out of memory");
		goto fail;
	}
	for (int ch = 0; ch < c; ch++) {
		/* TF: (v - mean) * gamma / sqrt(var + eps) + beta, as v*s + t. */
		float s = 1.0f, t = bias ? bias[ch] : 0.0f;
		if (bn_mean) {
			s = bn_gamma[ch] / sqrtf(bn_var[ch] + bn_eps);
			t = (t - bn_mean[ch]) * s + bn_beta[ch];
		}
		for (int k = 0; k < kh * kw; k++)
			L->w[(size_t)k * c + ch] = w[(size_t)k * c + ch] * s;
		L->bias[ch] = t;
	}
	rc = tvs__dwconv_prepare(L);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	tvs_dwconv_free(L);
	return rc;
}

void tvs_dwconv_free(tvs_dwconv *L)
{
	if (!L)
		return;
	free(L->w);
	free(L->bias);
	L->w = L->bias = NULL;
}

void tvs_dwconv_forward_ref(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y)
{
	int oh, ow, pt, pl;
	const int c = L->c;

	tvs_nn_pad_info(x->h, L->kh, L->stride, L->pad, &oh, &pt);
	tvs_nn_pad_info(x->w, L->kw, L->stride, L->pad, &ow, &pl);
	TVS_ASSERT(x->c == c && y->h == oh && y->w == ow && y->c == c);
	for (int oy = 0; oy < oh; oy++) {
		for (int ox = 0; ox < ow; ox++) {
			float *o = y->d + ((size_t)oy * ow + ox) * c;
			for (int ch = 0; ch < c; ch++) {
				double acc = L->bias[ch];
				for (int ky = 0; ky < L->kh; ky++) {
					int iy = oy * L->stride - pt + ky;
					if (iy < 0 || iy >= x->h)
						continue;
					for (int kx = 0; kx < L->kw; kx++) {
						int ix = ox * L->stride - pl + kx;
						if (ix < 0 || ix >= x->w)
							continue;
						acc += (double)x->d[((size_t)iy * x->w + ix) * c + ch] *
						       L->w[(size_t)(ky * L->kw + kx) * c + ch];
					}
				}
				o[ch] = tvs__act1((float)acc, L->act);
			}
		}
	}
}

/* ------------------------------------------------------------ pooling etc */

void tvs_maxpool(const tvs_tensor *x, int k, int stride, int pad, tvs_tensor *y)
{
	int oh, ow, pt, pl;
	const int c = x->c;

	tvs_nn_pad_info(x->h, k, stride, pad, &oh, &pt);
	tvs_nn_pad_info(x->w, k, stride, pad, &ow, &pl);
	TVS_ASSERT(y->h == oh && y->w == ow && y->c == c);
	for (int oy = 0; oy < oh; oy++) {
		for (int ox = 0; ox < ow; ox++) {
			float *o = y->d + ((size_t)oy * ow + ox) * c;
			int first = 1;
			for (int ky = 0; ky < k; ky++) {
				int iy = oy * stride - pt + ky;
				if (iy < 0 || iy >= x->h)
					continue;
				for (int kx = 0; kx < k; kx++) {
					int ix = ox * stride - pl + kx;
					if (ix < 0 || ix >= x->w)
						continue;
					const float *xi = x->d + ((size_t)iy * x->w + ix) * c;
					if (first) {
						memcpy(o, xi, (size_t)c * sizeof(float));
						first = 0;
						continue;
					}
					for (int ch = 0; ch < c; ch++)
						o[ch] = xi[ch] > o[ch] ? xi[ch] : o[ch];
				}
			}
		}
	}
}

void tvs_avgpool_valid(const tvs_tensor *x, int k, int stride, tvs_tensor *y)
{
	int oh, ow, b;
	const int c = x->c;
	const float inv = 1.0f / (float)(k * k);

	tvs_nn_pad_info(x->h, k, stride, TVS_PAD_VALID, &oh, &b);
	tvs_nn_pad_info(x->w, k, stride, TVS_PAD_VALID, &ow, &b);
	TVS_ASSERT(y->h == oh && y->w == ow && y->c == c);
	for (int oy = 0; oy < oh; oy++) {
		for (int ox = 0; ox < ow; ox++) {
			float *o = y->d + ((size_t)oy * ow + ox) * c;
			memset(o, 0, (size_t)c * sizeof(float));
			for (int ky = 0; ky < k; ky++)
				for (int kx = 0; kx < k; kx++) {
					const float *xi = x->d + ((size_t)(oy * stride + ky) * x->w +
								  ox * stride + kx) * c;
					for (int ch = 0; ch < c; ch++)
						o[ch] += xi[ch];
				}
			for (int ch = 0; ch < c; ch++)
				o[ch] *= inv;
		}
	}
}

void tvs_fc(const float *x, int cin, const float *W, const float *b, int cout, float *y)
{
	for (int j = 0; j < cout; j++)
		y[j] = b ? b[j] : 0.0f;
	for (int i = 0; i < cin; i++) {
		const float xv = x[i];
		const float *wr = W + (size_t)i * cout;
		for (int j = 0; j < cout; j++)
			y[j] += xv * wr[j];
	}
}

void tvs_act_apply(float *v, size_t n, int act)
{
	if (act == TVS_ACT_NONE)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = tvs__act1(v[i], act);
}

int tvs_cpu_simd_level(void)
{
	static int level = -1;

	if (level < 0) {
		__builtin_cpu_init();
		int l = 0;
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			l = 1;
		if (l && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
			l = 2;
		const char *force = getenv("TVS_SIMD");
		if (force && *force >= '0' && *force <= '2' && *force - '0' < l)
			l = *force - '0';
		level = l;
	}
	return level;
}
