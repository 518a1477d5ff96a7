/*
 * face-api's tiny face detector (Tiny-YOLOv2 with separable convs),
 * SxSx3 -> (S/32)x(S/32)x25. ARCH.md §3.
 *
 * The explicit 1-pixel zero pad before each VALID depthwise conv equals TF
 * 'same' padding for a 3x3 stride-1 kernel, so the depthwise layers run as
 * 'same' and the padded copy is never made.
 */
#include "face_int.h"
#include "tvs/error.h"

#include <stdio.h>
#include <string.h>

static const float TINY_MEAN[3] = {117.001f, 114.697f, 97.404f};
static const int TINY_CH[6] = {16, 32, 64, 128, 256, 512};

void tvs__tiny_free(tvs__tiny *n)
{
	if (!n)
		return;
	tvs_conv_free(&n->conv0);
	for (int i = 0; i < 5; i++) {
		tvs_dwconv_free(&n->dw[i]);
		tvs_conv_free(&n->pw[i]);
	}
	tvs_conv_free(&n->conv8);
	memset(n, 0, sizeof(*n));
}

int tvs__tiny_load(tvs__tiny *n, const tvs_nn_model_t *m, int S, int impl)
{
	char wn[64], pn[64], bn[64];
	const float *dwf;
	size_t scratch, s;
	int rc, h;

	memset(n, 0, sizeof(*n));
	if (S < 64 || S > 1024 || S % 32)
		return tvs__err(TVS_EINVAL, "tiny detector: input size %d is not a multiple of 32 in 64..1024", S);
	n->S = S;
	rc = tvs__load_conv(&n->conv0, m, "conv0/filters", "conv0/bias", NULL, NULL, 3, 3, 3, 16, 1, TVS_PAD_VALID,
			    TVS_ACT_LEAKY, impl);
	if (rc < 0)
		goto fail;
	scratch = tvs_conv_scratch_floats(&n->conv0, S, S);
	h = ((S - 2) + 1) / 2; /* conv0 valid, then maxpool 2/2 same */
	for (int i = 0; i < 5; i++) {
		int cin = TINY_CH[i], cout = TINY_CH[i + 1], dshape[4] = {3, 3, cin, 1};
		snprintf(wn, sizeof(wn), "conv%d/depthwise_filter", i + 1);
		snprintf(pn, sizeof(pn), "conv%d/pointwise_filter", i + 1);
		snprintf(bn, sizeof(bn), "conv%d/bias", i + 1);
		rc = tvs_nn_model_get(m, wn, 4, dshape, &dwf);
		if (rc == 0)
			rc = tvs_dwconv_init(&n->dw[i], 3, 3, cin, 1, TVS_PAD_SAME, TVS_ACT_NONE, dwf, NULL, NULL,
					     NULL, NULL, NULL, 0.0f, impl);
		if (rc == 0)
			rc = tvs__load_conv(&n->pw[i], m, pn, bn, NULL, NULL, 1, 1, cin, cout, 1, TVS_PAD_VALID,
					    TVS_ACT_LEAKY, impl);
		if (rc < 0)
			goto fail;
		s = tvs_conv_scratch_floats(&n->pw[i], h, h);
		scratch = s > scratch ? s : scratch;
		if (i < 4)
			h = (h + 1) / 2;
	}
	rc = tvs__load_conv(&n->conv8, m, "conv8/filters", "conv8/bias", NULL, NULL, 1, 1, 512, 25, 1, TVS_PAD_VALID,
			    TVS_ACT_NONE, impl);
	if (rc < 0)
		goto fail;
	s = tvs_conv_scratch_floats(&n->conv8, h, h);
	scratch = s > scratch ? s : scratch;
	/* the input and two ping-pong maps, each as large as the largest
	 * activation: conv0's (S-2)^2 x 16 or the first sep block's
	 * ((S-1)/2)^2 x 32 */
	size_t big0 = (size_t)(S - 2) * (S - 2) * 16;
	size_t hh = (size_t)((S - 2) + 1) / 2;
	size_t big1 = hh * hh * 32;
	n->map_floats = big0 > big1 ? big0 : big1;
	n->ws_floats = (size_t)S * S * 3 + 16 + 2 * (n->map_floats + 16) + scratch + 16;
	return 0;
fail:
	tvs__tiny_free(n);
	return rc;
}

void tvs__tiny_forward(const tvs__tiny *n, const float *in, float *map, tvs__arena *ws)
{
	const int S = n->S;
	float *bx = tvs__arena_take(ws, (size_t)S * S * 3);
	float *cur = tvs__arena_take(ws, n->map_floats), *tmp = tvs__arena_take(ws, n->map_floats);
	float *scratch = ws->base + ws->used;
	tvs_tensor x = {S, S, 3, bx}, a, b;
	int h;

	TVS_ASSERT(tmp != NULL);
	for (size_t i = 0; i < (size_t)S * S; i++)
		for (int c = 0; c < 3; c++)
			bx[i * 3 + c] = (in[i * 3 + c] - TINY_MEAN[c]) / 255.0f;
	a = (tvs_tensor){S - 2, S - 2, 16, tmp};
	tvs_conv_forward(&n->conv0, &x, &a, NULL, scratch);
	h = (S - 2 + 1) / 2;
	b = (tvs_tensor){h, h, 16, cur};
	tvs_maxpool(&a, 2, 2, TVS_PAD_SAME, &b);
	for (int i = 0; i < 5; i++) {
		/* each step reads one map and writes the other: the block's input
		 * (cur) -> depthwise (tmp) -> pointwise (cur) -> pool (tmp), and
		 * the pooled map becomes the next block's input */
		int oh = i < 4 ? (h + 1) / 2 : h;
		tvs_tensor d = {h, h, TINY_CH[i], tmp};
		tvs_tensor p = {h, h, TINY_CH[i + 1], cur};
		tvs_tensor q = {oh, oh, TINY_CH[i + 1], tmp};

		tvs_dwconv_forward(&n->dw[i], &b, &d);
		tvs_conv_forward(&n->pw[i], &d, &p, NULL, scratch);
		tvs_maxpool(&p, 2, i < 4 ? 2 : 1, TVS_PAD_SAME, &q);
		float *t = cur;
		cur = tmp;
		tmp = t;
		b = q;
		h = oh;
	}
	tvs_tensor out = {h, h, 25, map};
	tvs_conv_forward(&n->conv8, &b, &out, NULL, scratch);
}
