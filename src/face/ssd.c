/*
 * SSD MobileNet v1 face detector (face-api's default), 512x512x3 -> 5118
 * decoded boxes and face scores. ARCH.md §2.
 *
 * Batch norm after each depthwise conv is folded into its filter at load.
 * The six box/class predictors write straight into the flattened anchor
 * arrays: an NHWC map of A anchors per cell is already in anchor order, so
 * predictor j's output is a slice of the concatenation.
 *
 * Opt-in int8 (tvs__ssd_load_int8): the 1x1 convs that read a relu6 output
 * (backbone pointwise convs 2..13 and the four 1x1 extras, 2.76 of the 3.14
 * GMACs) get an int8 twin (tvs_qconv, input scale 6/255, no calibration).
 * pw1 (K = 32) stays fp32: at 256x256x64 float outputs it is bound by
 * memory, and int8 measured no faster (bench/bench_qconv.c). The fp32
 * layers stay loaded; predictors, 3x3 and depthwise convs stay fp32.
 */
#include "face_int.h"
#include "tvs/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 0.0010000000474974513f

static const int BB_COUT[14] = {32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
static const int BB_STRIDE[14] = {2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
static const struct {
	int k, stride, cout;
} EXTRA[8] = {{1, 1, 256}, {3, 2, 512}, {1, 1, 128}, {3, 2, 256},
	      {1, 1, 128}, {3, 2, 256}, {1, 1, 64},  {3, 2, 128}};
/* predictor j reads: conv11, conv13, extra1, extra3, extra5, extra7 */
static const int PRED_CIN[6] = {512, 1024, 512, 256, 256, 128};
static const int PRED_HW[6] = {32, 16, 8, 4, 2, 1};
static const int PRED_A[6] = {3, 6, 6, 6, 6, 6};

void tvs__ssd_free(tvs__ssd *n)
{
	if (!n)
		return;
	tvs_conv_free(&n->conv0);
	for (int i = 0; i < 14; i++) {
		tvs_dwconv_free(&n->dw[i]);
		tvs_conv_free(&n->pw[i]);
	}
	for (int i = 0; i < 8; i++)
		tvs_conv_free(&n->extra[i]);
	for (int i = 0; i < 14; i++)
		tvs_qconv_free(&n->qpw[i]);
	for (int i = 0; i < 8; i++)
		tvs_qconv_free(&n->qextra[i]);
	for (int i = 0; i < 6; i++) {
		tvs_conv_free(&n->box[i]);
		tvs_conv_free(&n->cls[i]);
	}
	free(n->anchors);
	memset(n, 0, sizeof(*n));
}

static size_t smax(size_t a, size_t b)
{
	return a > b ? a : b;
}

int tvs__ssd_load(tvs__ssd *n, const tvs_nn_model_t *m, int impl)
{
	char wn[160], bn[160], g[160], b[160], mu[160], va[160];
	const float *pw, *pg, *pb, *pm, *pv, *anc;
	int rc, h = 256, cin = 32;
	size_t scratch;

	memset(n, 0, sizeof(*n));
	rc = tvs__load_conv(&n->conv0, m, "MobilenetV1/Conv2d_0_pointwise/weights",
			    "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", NULL, NULL, 3, 3, 3, 32, 2,
			    TVS_PAD_SAME, TVS_ACT_RELU6, impl);
	if (rc < 0)
		goto fail;
	scratch = tvs_conv_scratch_floats(&n->conv0, 512, 512);
	for (int i = 1; i <= 13; i++) {
		int s = BB_STRIDE[i], cout = BB_COUT[i], dshape[4] = {3, 3, cin, 1};
		snprintf(wn, sizeof(wn), "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", i);
		snprintf(g, sizeof(g), "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/gamma", i);
		snprintf(b, sizeof(b), "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/beta", i);
		snprintf(mu, sizeof(mu), "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/moving_mean", i);
		snprintf(va, sizeof(va), "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/moving_variance", i);
		rc = tvs_nn_model_get(m, wn, 4, dshape, &pw);
		if (rc == 0)
			rc = tvs_nn_model_get(m, g, 1, &cin, &pg);
		if (rc == 0)
			rc = tvs_nn_model_get(m, b, 1, &cin, &pb);
		if (rc == 0)
			rc = tvs_nn_model_get(m, mu, 1, &cin, &pm);
		if (rc == 0)
			rc = tvs_nn_model_get(m, va, 1, &cin, &pv);
		if (rc == 0)
			rc = tvs_dwconv_init(&n->dw[i], 3, 3, cin, s, TVS_PAD_SAME, TVS_ACT_RELU6, pw, NULL, pm, pv,
					     pg, pb, BN_EPS, impl);
		if (rc < 0)
			goto fail;
		h = (h + s - 1) / s;
		snprintf(wn, sizeof(wn), "MobilenetV1/Conv2d_%d_pointwise/weights", i);
		snprintf(bn, sizeof(bn), "MobilenetV1/Conv2d_%d_pointwise/convolution_bn_offset", i);
		rc = tvs__load_conv(&n->pw[i], m, wn, bn, NULL, NULL, 1, 1, cin, cout, 1, TVS_PAD_SAME,
				    TVS_ACT_RELU6, impl);
		if (rc < 0)
			goto fail;
		scratch = smax(scratch, tvs_conv_scratch_floats(&n->pw[i], h, h));
		cin = cout;
	}
	/* h == 16, cin == 1024 */
	for (int k = 0; k < 8; k++) {
		snprintf(wn, sizeof(wn), "Prediction/Conv2d_%d_pointwise/weights", k);
		snprintf(bn, sizeof(bn), "Prediction/Conv2d_%d_pointwise/convolution_bn_offset", k);
		rc = tvs__load_conv(&n->extra[k], m, wn, bn, NULL, NULL, EXTRA[k].k, EXTRA[k].k, cin, EXTRA[k].cout,
				    EXTRA[k].stride, TVS_PAD_SAME, TVS_ACT_RELU6, impl);
		if (rc < 0)
			goto fail;
		scratch = smax(scratch, tvs_conv_scratch_floats(&n->extra[k], h, h));
		h = (h + EXTRA[k].stride - 1) / EXTRA[k].stride;
		cin = EXTRA[k].cout;
	}
	for (int j = 0; j < 6; j++) {
		snprintf(wn, sizeof(wn), "Prediction/BoxPredictor_%d/BoxEncodingPredictor/weights", j);
		snprintf(bn, sizeof(bn), "Prediction/BoxPredictor_%d/BoxEncodingPredictor/biases", j);
		rc = tvs__load_conv(&n->box[j], m, wn, bn, NULL, NULL, 1, 1, PRED_CIN[j], PRED_A[j] * 4, 1,
				    TVS_PAD_SAME, TVS_ACT_NONE, impl);
		if (rc < 0)
			goto fail;
		snprintf(wn, sizeof(wn), "Prediction/BoxPredictor_%d/ClassPredictor/weights", j);
		snprintf(bn, sizeof(bn), "Prediction/BoxPredictor_%d/ClassPredictor/biases", j);
		rc = tvs__load_conv(&n->cls[j], m, wn, bn, NULL, NULL, 1, 1, PRED_CIN[j], PRED_A[j] * 3, 1,
				    TVS_PAD_SAME, TVS_ACT_NONE, impl);
		if (rc < 0)
			goto fail;
		scratch = smax(scratch, tvs_conv_scratch_floats(&n->box[j], PRED_HW[j], PRED_HW[j]));
		scratch = smax(scratch, tvs_conv_scratch_floats(&n->cls[j], PRED_HW[j], PRED_HW[j]));
	}
	int ashape[3] = {1, TVS_SSD_ANCHORS, 4};
	rc = tvs_nn_model_get(m, "Output/extra_dim", 3, ashape, &anc);
	if (rc < 0)
		goto fail;
	n->anchors = malloc(TVS_SSD_ANCHORS * 4 * sizeof(float));
	if (!n->anchors) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(n->anchors, anc, TVS_SSD_ANCHORS * 4 * sizeof(float));
	/* two ping-pong maps of the largest activation (256x256x64), conv11
	 * (32x32x512), the predictor outputs and scratch */
	n->ws_floats = 2 * (256 * 256 * 64 + 16) + (32 * 32 * 512 + 16) + TVS_SSD_ANCHORS * 7 + 16 + scratch + 16;
	return 0;
fail:
	tvs__ssd_free(n);
	return rc;
}

int tvs__ssd_load_int8(tvs__ssd *n)
{
	size_t scratch = 0;
	int rc;

	if (!tvs_qconv_available())
		return tvs__err(TVS_EUNSUPPORTED, "ssd int8: this CPU has no AVX-512 VNNI");
	for (int i = 2; i <= 13; i++) {
		if ((rc = tvs_qconv_init(&n->qpw[i], &n->pw[i])) < 0)
			goto fail;
		scratch = smax(scratch, tvs_qconv_scratch_bytes(&n->qpw[i]));
	}
	for (int k = 0; k < 8; k += 2) {
		if ((rc = tvs_qconv_init(&n->qextra[k], &n->extra[k])) < 0)
			goto fail;
		scratch = smax(scratch, tvs_qconv_scratch_bytes(&n->qextra[k]));
	}
	n->ws_floats += scratch / sizeof(float) + 16;
	n->use_int8 = 1;
	return 0;
fail:
	for (int i = 0; i < 14; i++)
		tvs_qconv_free(&n->qpw[i]);
	for (int i = 0; i < 8; i++)
		tvs_qconv_free(&n->qextra[i]);
	return rc;
}

void tvs__ssd_forward(const tvs__ssd *n, const float *in512, float *boxes, float *scores, tvs__arena *ws)
{
	const size_t big = 256 * 256 * 64;
	float *ba = tvs__arena_take(ws, big), *bb = tvs__arena_take(ws, big);
	float *b11 = tvs__arena_take(ws, 32 * 32 * 512);
	float *enc = tvs__arena_take(ws, TVS_SSD_ANCHORS * 7);
	float *cls = enc + TVS_SSD_ANCHORS * 4;
	float *scratch = ws->base + ws->used;
	tvs_tensor x = {512, 512, 3, bb}, a, b, feats[6];
	int h;

	TVS_ASSERT(enc != NULL);
	for (size_t i = 0; i < 512 * 512 * 3; i++)
		bb[i] = in512[i] / 127.5f - 1.0f;
	a = (tvs_tensor){256, 256, 32, ba};
	tvs_conv_forward(&n->conv0, &x, &a, NULL, scratch);
	h = 256;
	for (int i = 1; i <= 13; i++) {
		int s = BB_STRIDE[i];
		h = (h + s - 1) / s;
		b = (tvs_tensor){h, h, a.c, bb};
		tvs_dwconv_forward(&n->dw[i], &a, &b);
		a = (tvs_tensor){h, h, BB_COUT[i], i == 11 ? b11 : ba};
		if (n->use_int8 && n->qpw[i].wq)
			tvs_qconv_forward(&n->qpw[i], &b, &a, scratch);
		else
			tvs_conv_forward(&n->pw[i], &b, &a, NULL, scratch);
		if (i == 11) {
			/* keep conv11 where it is; continue from a copy-free alias */
			feats[0] = a;
		}
	}
	/* a = conv13 (16x16x1024), in ba */
	feats[1] = a;
	tvs_tensor src = a;
	float *bufs[2] = {bb, ba + 16 * 16 * 1024};
	for (int k = 0; k < 8; k++) {
		int oh, ow;
		tvs_conv_out_size(&n->extra[k], src.h, src.w, &oh, &ow);
		tvs_tensor dst = {oh, ow, EXTRA[k].cout, bufs[k & 1]};
		if (n->use_int8 && !(k & 1))
			tvs_qconv_forward(&n->qextra[k], &src, &dst, scratch);
		else
			tvs_conv_forward(&n->extra[k], &src, &dst, NULL, scratch);
		if (k & 1) {
			/* keep extra1/3/5/7 for the predictors; move on past them */
			feats[2 + k / 2] = dst;
			bufs[1] = dst.d + (size_t)oh * ow * dst.c;
		}
		src = dst;
	}
	int off = 0;
	for (int j = 0; j < 6; j++) {
		tvs_tensor f = feats[j];
		tvs_tensor eo = {f.h, f.w, PRED_A[j] * 4, enc + (size_t)off * 4};
		tvs_tensor co = {f.h, f.w, PRED_A[j] * 3, cls + (size_t)off * 3};
		tvs_conv_forward(&n->box[j], &f, &eo, NULL, scratch);
		tvs_conv_forward(&n->cls[j], &f, &co, NULL, scratch);
		off += f.h * f.w * PRED_A[j];
	}
	TVS_ASSERT(off == TVS_SSD_ANCHORS);
	for (int i = 0; i < TVS_SSD_ANCHORS; i++) {
		const float *an = n->anchors + i * 4, *t = enc + i * 4;
		float ha = an[2] - an[0], wa = an[3] - an[1];
		float cya = an[0] + ha / 2, cxa = an[1] + wa / 2;
		float h2 = expf(t[2] / 5) * ha / 2, w2 = expf(t[3] / 5) * wa / 2;
		float cy = t[0] / 10 * ha + cya, cx = t[1] / 10 * wa + cxa;
		boxes[i * 4 + 0] = cy - h2;
		boxes[i * 4 + 1] = cx - w2;
		boxes[i * 4 + 2] = cy + h2;
		boxes[i * 4 + 3] = cx + w2;
		scores[i] = 1.0f / (1.0f + expf(-cls[i * 3 + 1]));
	}
}
