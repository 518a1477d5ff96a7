/*
 * The 68-point landmark net (face-api faceLandmarkNet), 112x112x3 -> 136
 * outputs. ARCH.md §4.
 *
 * Four dense blocks of separable convs. The running sum out1+out2+... is kept
 * in one buffer: each separable conv's pointwise step adds into it in place
 * (the kernel's residual input may alias its output), and the relu of the
 * sum that feeds the next conv goes to a second buffer.
 */
#include "face_int.h"
#include "tvs/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float LM_MEAN[3] = {122.782f, 117.001f, 104.298f};
static const int LM_CH[5] = {3, 32, 64, 128, 256};

static int load_sep(tvs_dwconv *dw, tvs_conv *pw, const tvs_nn_model_t *m, int block, int k, int cin, int cout,
		    int stride, int impl)
{
	char name[128];
	const float *dwf;
	int dshape[4] = {3, 3, cin, 1};
	int rc;

	snprintf(name, sizeof(name), "dense%d/conv%d/depthwise_filter", block, k);
	rc = tvs_nn_model_get(m, name, 4, dshape, &dwf);
	if (rc < 0)
		return rc;
	rc = tvs_dwconv_init(dw, 3, 3, cin, stride, TVS_PAD_SAME, TVS_ACT_NONE, dwf, NULL, NULL, NULL, NULL,
			     NULL, 0.0f, impl);
	if (rc < 0)
		return rc;
	char wn[128], bn[128];
	snprintf(wn, sizeof(wn), "dense%d/conv%d/pointwise_filter", block, k);
	snprintf(bn, sizeof(bn), "dense%d/conv%d/bias", block, k);
	return tvs__load_conv(pw, m, wn, bn, NULL, NULL, 1, 1, cin, cout, 1, TVS_PAD_VALID, TVS_ACT_NONE, impl);
}

void tvs__landmark_free(tvs__landmark *n)
{
	if (!n)
		return;
	tvs_conv_free(&n->first);
	for (int b = 0; b < 4; b++)
		for (int k = 0; k < 4; k++) {
			tvs_dwconv_free(&n->dw[b][k]);
			tvs_conv_free(&n->pw[b][k]);
		}
	free(n->fc_w);
	free(n->fc_b);
	memset(n, 0, sizeof(*n));
}

int tvs__landmark_load(tvs__landmark *n, const tvs_nn_model_t *m, int impl)
{
	const float *w, *b;
	int fs[2] = {256, 136}, bs = 136;
	size_t scratch = 0, s;
	int rc, h = TVS_LM_INPUT;

	memset(n, 0, sizeof(*n));
	rc = tvs__load_conv(&n->first, m, "dense0/conv0/filters", "dense0/conv0/bias", NULL, NULL, 3, 3, 3, 32, 2,
			    TVS_PAD_SAME, TVS_ACT_RELU, impl);
	if (rc < 0)
		goto fail;
	scratch = tvs_conv_scratch_floats(&n->first, h, h);
	for (int blk = 0; blk < 4; blk++) {
		int cin = LM_CH[blk], cout = LM_CH[blk + 1];
		for (int k = 0; k < 4; k++) {
			if (blk == 0 && k == 0)
				continue;
			rc = load_sep(&n->dw[blk][k], &n->pw[blk][k], m, blk, k, k == 0 ? cin : cout, cout,
				      k == 0 ? 2 : 1, impl);
			if (rc < 0)
				goto fail;
			int oh = k == 0 ? (h + 1) / 2 : h;
			s = tvs_conv_scratch_floats(&n->pw[blk][k], oh, oh);
			scratch = s > scratch ? s : scratch;
		}
		h = (h + 1) / 2;
	}
	rc = tvs_nn_model_get(m, "fc/weights", 2, fs, &w);
	if (rc == 0)
		rc = tvs_nn_model_get(m, "fc/bias", 1, &bs, &b);
	if (rc < 0)
		goto fail;
	n->fc_w = malloc(256 * 136 * sizeof(float));
	n->fc_b = malloc(136 * sizeof(float));
	if (!n->fc_w || !n->fc_b) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(n->fc_w, w, 256 * 136 * sizeof(float));
	memcpy(n->fc_b, b, 136 * sizeof(float));
	/* five 56x56x32-sized maps + scratch */
	n->ws_floats = 5 * (56 * 56 * 32 + 16) + scratch + 16;
	return 0;
fail:
	tvs__landmark_free(n);
	return rc;
}

static void relu_copy(const tvs_tensor *src, tvs_tensor *dst)
{
	size_t n = (size_t)src->h * src->w * src->c;

	*dst = (tvs_tensor){src->h, src->w, src->c, dst->d};
	for (size_t i = 0; i < n; i++)
		dst->d[i] = src->d[i] > 0.0f ? src->d[i] : 0.0f;
}

void tvs__landmark_forward(const tvs__landmark *n, const float *in112, float out[136], tvs__arena *ws)
{
	const size_t big = 56 * 56 * 32;
	/* the block input buffer also receives the block output, so it is big */
	float *bx = tvs__arena_take(ws, big);
	float *b_out1 = tvs__arena_take(ws, big), *b_sum = tvs__arena_take(ws, big);
	float *b_relu = tvs__arena_take(ws, big), *b_dw = tvs__arena_take(ws, big);
	float *scratch = ws->base + ws->used;
	tvs_tensor cur = {112, 112, 3, bx}, out1, sum, rl, dw;

	TVS_ASSERT(b_dw != NULL);
	for (size_t i = 0; i < 112 * 112; i++)
		for (int c = 0; c < 3; c++)
			bx[i * 3 + c] = (in112[i * 3 + c] - LM_MEAN[c]) / 255.0f;
	for (int blk = 0; blk < 4; blk++) {
		int oh = (cur.h + 1) / 2, c = LM_CH[blk + 1];

		out1 = (tvs_tensor){oh, oh, c, b_out1};
		if (blk == 0) {
			tvs_conv_forward(&n->first, &cur, &out1, NULL, scratch);
		} else {
			/* out1 = relu(sep(x)); the pointwise conv has no act of its own
			 * because the other three separable convs share its shape */
			dw = (tvs_tensor){oh, oh, cur.c, b_dw};
			tvs_dwconv_forward(&n->dw[blk][0], &cur, &dw);
			tvs_conv_forward(&n->pw[blk][0], &dw, &out1, NULL, scratch);
			tvs_act_apply(out1.d, (size_t)oh * oh * c, TVS_ACT_RELU);
		}
		dw = (tvs_tensor){oh, oh, c, b_dw};
		sum = (tvs_tensor){oh, oh, c, b_sum};
		rl.d = b_relu;
		/* sum = out1 + sep(out1); then sum += sep(relu(sum)) twice */
		tvs_dwconv_forward(&n->dw[blk][1], &out1, &dw);
		tvs_conv_forward(&n->pw[blk][1], &dw, &sum, &out1, scratch);
		for (int k = 2; k < 4; k++) {
			relu_copy(&sum, &rl);
			tvs_dwconv_forward(&n->dw[blk][k], &rl, &dw);
			tvs_conv_forward(&n->pw[blk][k], &dw, &sum, &sum, scratch);
		}
		cur.d = bx;
		relu_copy(&sum, &cur);
	}
	/* avgPool 7x7 stride 2 valid on 7x7x256 is the mean of the map */
	float pooled[256];
	tvs_tensor p = {1, 1, 256, pooled};
	tvs_avgpool_valid(&cur, 7, 2, &p);
	tvs_fc(pooled, 256, n->fc_w, n->fc_b, 136, out);
}
