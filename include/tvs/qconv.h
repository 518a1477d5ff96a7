/*
 * int8 1x1 convolutions for activations known to lie in [0, 6].
 *
 * In MobileNet-style nets every pointwise conv reads the output of a relu6,
 * so its input can be quantised to uint8 with the fixed scale 6/255 and zero
 * point 0 without calibration. Weights are int8, symmetric per output channel
 * (scale = max|w|/127). A layer accumulates u8 x s8 products in int32 and
 * writes float: y = act(acc * in_scale * w_scale[co] + bias[co]), so the
 * layers around it stay fp32.
 *
 * A tvs_qconv is prepared from an existing, already folded 1x1 tvs_conv and
 * leaves it untouched. The fast kernel needs AVX-512 VNNI (vpdpbusd); without
 * it tvs_qconv_forward runs the portable scalar kernel, which is slower than
 * the fp32 path, so callers should check tvs_qconv_available() first.
 */
#ifndef TVS_QCONV_H
#define TVS_QCONV_H

#include "tvs/nn.h"

#include <stddef.h>
#include <stdint.h>

#define TVS_QCONV_IN_MAX 6.0f /* inputs are clamped to [0, TVS_QCONV_IN_MAX] */

typedef struct tvs_qconv {
	int cin, cout, act;
	int kp;          /* cin rounded up to a multiple of 4 */
	int8_t *wq;      /* [cin][cout] row-major quantised weights (reference); owned */
	int8_t *wpack;   /* VNNI packing, see qconv_vnni.c; owned */
	float *scale;    /* [cout] in_scale * w_scale[co]; owned */
	float *bias;     /* [cout]; owned */
	int use_vnni;    /* chosen at init from the CPU */
} tvs_qconv;

/* 1 if this CPU runs the VNNI kernel (AVX-512 F/BW/VL + VNNI). */
int tvs_qconv_available(void);

/* Quantise and pack the weights of L, which must be a prepared 1x1 stride-1
 * conv with act NONE, RELU or RELU6 and no padding effects. Copies what it
 * needs; L may be freed afterwards. TVS_EINVAL or TVS_ENOMEM. */
int tvs_qconv_init(tvs_qconv *Q, const tvs_conv *L);
/* Accepts a zeroed or freed layer. */
void tvs_qconv_free(tvs_qconv *Q);

/* Scratch bytes the forward pass needs (independent of the input size). */
size_t tvs_qconv_scratch_bytes(const tvs_qconv *Q);

/* y = act(qconv(x)). x is h x w x cin with values meant to be in [0, 6]
 * (others are clamped), y is h x w x cout; they must not overlap. scratch
 * holds tvs_qconv_scratch_bytes() bytes, 64-byte aligned. Does not allocate. */
void tvs_qconv_forward(const tvs_qconv *Q, const tvs_tensor *x, tvs_tensor *y, void *scratch);

/* The portable scalar kernel: the reference the VNNI kernel must match bit
 * for bit. */
void tvs_qconv_forward_ref(const tvs_qconv *Q, const tvs_tensor *x, tvs_tensor *y);

/* Quantise one activation to u8 the way every kernel does. */
static inline uint8_t tvs_qconv_quant_in(float v)
{
	float s = v * (255.0f / TVS_QCONV_IN_MAX);
	s = s > 0.0f ? s : 0.0f; /* NaN -> 0 */
	s = s < 255.0f ? s : 255.0f;
	return (uint8_t)__builtin_nearbyintf(s);
}

#endif
