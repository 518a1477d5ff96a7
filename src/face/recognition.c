/*
 * The recognition net: face-api's port of dlib's ResNet
 * (dlib_face_recognition_resnet_model_v1), 150x150x3 -> 128-d descriptor.
 * ARCH.md §6.
 *
 * Each convLayer's "scale" (folded batch norm) is folded again into the
 * conv's filters and bias at load, so every layer is one fused
 * act(conv + bias [+ shortcut]) call. The residual add of a plain block is
 * fused into conv2; the down-sampling blocks add an average-pooled,
 * zero-channel-extended shortcut which is also fused when the two branches
 * have the same size, and handled by hand where the VALID stride-2 conv
 * comes out one smaller (conv256_down, conv256_down_out).
 */
#include "face_int.h"
#include "tvs/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float REC_MEAN[3] = {122.782f, 117.001f, 104.298f};

/* Block names and channel counts, in execution order. */
static const struct {
	const char *name;
	int cin, cout, down;
} BLOCKS[15] = {
	{"conv32_1", 32, 32, 0},      {"conv32_2", 32, 32, 0},     {"conv32_3", 32, 32, 0},
	{"conv64_down", 32, 64, 1},   {"conv64_1", 64, 64, 0},     {"conv64_2", 64, 64, 0},
	{"conv64_3", 64, 64, 0},      {"conv128_down", 64, 128, 1}, {"conv128_1", 128, 128, 0},
	{"conv128_2", 128, 128, 0},   {"conv256_down", 128, 256, 1}, {"conv256_1", 256, 256, 0},
	{"conv256_2", 256, 256, 0},   {"conv256_down_out", 256, 256, 1},
};
#define NBLOCKS 14

static int load_layer(tvs_conv *L, const tvs_nn_model_t *m, const char *prefix, int k, int cin, int cout,
		      int stride, int pad, int act, int impl)
{
	char wn[160], bn[160], sw[160], sb[160];

	snprintf(wn, sizeof(wn), "%s/conv/filters", prefix);
	snprintf(bn, sizeof(bn), "%s/conv/bias", prefix);
	snprintf(sw, sizeof(sw), "%s/scale/weights", prefix);
	snprintf(sb, sizeof(sb), "%s/scale/biases", prefix);
	return tvs__load_conv(L, m, wn, bn, sw, sb, k, k, cin, cout, stride, pad, act, impl);
}

void tvs__recog_free(tvs__recog *n)
{
	if (!n)
		return;
	tvs_conv_free(&n->down);
	for (int i = 0; i < NBLOCKS; i++) {
		tvs_conv_free(&n->c1[i]);
		tvs_conv_free(&n->c2[i]);
	}
	free(n->fc);
	memset(n, 0, sizeof(*n));
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

int tvs__recog_load(tvs__recog *n, const tvs_nn_model_t *m, int impl)
{
	char prefix[128];
	const float *fc;
	int fcshape[2] = {256, 128};
	int rc;
	int h = 35; /* spatial size entering the blocks */
	size_t scratch;

	memset(n, 0, sizeof(*n));
	rc = load_layer(&n->down, m, "conv32_down", 7, 3, 32, 2, TVS_PAD_VALID, TVS_ACT_RELU, impl);
	if (rc < 0)
		goto fail;
	scratch = tvs_conv_scratch_floats(&n->down, TVS_REC_INPUT, TVS_REC_INPUT);
	for (int i = 0; i < NBLOCKS; i++) {
		int down = BLOCKS[i].down, oh, ow;

		n->is_down[i] = down;
		snprintf(prefix, sizeof(prefix), "%s/conv1", BLOCKS[i].name);
		rc = load_layer(&n->c1[i], m, prefix, 3, BLOCKS[i].cin, BLOCKS[i].cout, down ? 2 : 1,
				down ? TVS_PAD_VALID : TVS_PAD_SAME, TVS_ACT_RELU, impl);
		if (rc < 0)
			goto fail;
		tvs_conv_out_size(&n->c1[i], h, h, &oh, &ow);
		/* Where the VALID conv branch comes out smaller than the pooled
		 * shortcut, the add (and its relu) happens by hand after padding. */
		n->pad_branch[i] = down && oh != h / 2;
		snprintf(prefix, sizeof(prefix), "%s/conv2", BLOCKS[i].name);
		rc = load_layer(&n->c2[i], m, prefix, 3, BLOCKS[i].cout, BLOCKS[i].cout, 1, TVS_PAD_SAME,
				n->pad_branch[i] ? TVS_ACT_NONE : TVS_ACT_RELU, impl);
		if (rc < 0)
			goto fail;
		scratch = max_sz(scratch, tvs_conv_scratch_floats(&n->c1[i], h, h));
		scratch = max_sz(scratch, tvs_conv_scratch_floats(&n->c2[i], oh, ow));
		if (down)
			h = h / 2; /* the pooled shortcut's size: 35->17->8->4->2 */
	}
	rc = tvs_nn_model_get(m, "fc", 2, fcshape, &fc);
	if (rc < 0)
		goto fail;
	n->fc = malloc(256 * 128 * sizeof(float));
	if (!n->fc) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(n->fc, fc, 256 * 128 * sizeof(float));
	/* input + 72x72x32 + three 35x35x32 maps (the largest after the stem) + scratch */
	n->ws_floats = 150 * 150 * 3 + 16 + 72 * 72 * 32 + 16 + 4 * (35 * 35 * 32 + 16) + scratch + 16;
	return 0;
fail:
	tvs__recog_free(n);
	return rc;
}

/* relu(pool(x) zero-extended in channels + a zero-extended in space). */
static void down_shortcut(const tvs_tensor *x, const tvs_tensor *a, tvs_tensor *y)
{
	const int cin = x->c, c = y->c;

	for (int oy = 0; oy < y->h; oy++) {
		for (int ox = 0; ox < y->w; ox++) {
			float *o = y->d + ((size_t)oy * y->w + ox) * c;
			const float *p00 = x->d + ((size_t)(2 * oy) * x->w + 2 * ox) * cin;
			const float *p01 = p00 + cin;
			const float *p10 = p00 + (size_t)x->w * cin;
			const float *p11 = p10 + cin;
			int in_a = oy < a->h && ox < a->w;
			const float *ar = in_a ? a->d + ((size_t)oy * a->w + ox) * c : NULL;
			for (int ch = 0; ch < c; ch++) {
				float v = ch < cin ? (p00[ch] + p01[ch] + p10[ch] + p11[ch]) * 0.25f : 0.0f;
				if (ar)
					v += ar[ch];
				o[ch] = v > 0.0f ? v : 0.0f;
			}
		}
	}
}

void tvs__recog_forward(const tvs__recog *n, const float *in150, float out[128], tvs__arena *ws)
{
	const size_t big = 72 * 72 * 32, mid = 35 * 35 * 32;
	float *bx = tvs__arena_take(ws, 150 * 150 * 3);
	float *bstem = tvs__arena_take(ws, big);
	float *b0 = tvs__arena_take(ws, mid), *b1 = tvs__arena_take(ws, mid);
	float *b2 = tvs__arena_take(ws, mid), *b3 = tvs__arena_take(ws, mid);
	float *scratch = ws->base + ws->used;
	tvs_tensor x = {TVS_REC_INPUT, TVS_REC_INPUT, 3, bx};
	tvs_tensor t, cur, nxt, pool;

	TVS_ASSERT(b3 != NULL);
	for (size_t i = 0; i < 150 * 150; i++)
		for (int c = 0; c < 3; c++)
			bx[i * 3 + c] = (in150[i * 3 + c] - REC_MEAN[c]) / 255.0f;

	tvs_tensor stem = {72, 72, 32, bstem};
	tvs_conv_forward(&n->down, &x, &stem, NULL, scratch);
	cur = (tvs_tensor){35, 35, 32, b0};
	tvs_maxpool(&stem, 3, 2, TVS_PAD_VALID, &cur);

	for (int i = 0; i < NBLOCKS; i++) {
		const tvs_conv *c1 = &n->c1[i], *c2 = &n->c2[i];
		int oh, ow;

		tvs_conv_out_size(c1, cur.h, cur.w, &oh, &ow);
		t = (tvs_tensor){oh, ow, c1->cout, b1};
		tvs_conv_forward(c1, &cur, &t, NULL, scratch);
		nxt = (tvs_tensor){0, 0, c2->cout, b2};
		if (!n->is_down[i]) {
			nxt.h = oh, nxt.w = ow;
			tvs_conv_forward(c2, &t, &nxt, &cur, scratch);
		} else {
			int ph = (cur.h - 2) / 2 + 1, pw = (cur.w - 2) / 2 + 1;
			if (!n->pad_branch[i]) {
				/* same size: pool into nxt's place, then fuse the add */
				pool = (tvs_tensor){ph, pw, c2->cout, b3};
				down_shortcut(&cur, &(tvs_tensor){0, 0, c2->cout, NULL}, &pool);
				/* down_shortcut applied relu to the pooled values, which are
				 * non-negative already (inputs are post-relu), so this is exact */
				nxt.h = oh, nxt.w = ow;
				tvs_conv_forward(c2, &t, &nxt, &pool, scratch);
			} else {
				tvs_tensor a = {oh, ow, c2->cout, b3};
				tvs_conv_forward(c2, &t, &a, NULL, scratch);
				nxt.h = ph, nxt.w = pw;
				down_shortcut(&cur, &a, &nxt);
			}
		}
		/* rotate buffers: nxt becomes cur */
		float *tmp = b0;
		b0 = b2;
		b2 = tmp;
		cur = nxt;
		cur.d = b0;
	}

	/* mean over the 2x2 map, then fc without bias */
	float mean[256];
	const int hw = cur.h * cur.w;
	for (int c = 0; c < 256; c++) {
		float s = 0.0f;
		for (int i = 0; i < hw; i++)
			s += cur.d[(size_t)i * 256 + c];
		mean[c] = s / (float)hw;
	}
	tvs_fc(mean, 256, n->fc, NULL, 128, out);
}
