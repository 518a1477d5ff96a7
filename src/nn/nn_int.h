/*
 * Internals shared by the nn layer code and its kernels.
 *
 * layers.c owns layer preparation (folding, copies) and the scalar reference
 * kernels. conv_dispatch.c owns the choice of kernel: tvs__conv_prepare()
 * packs weights for the chosen implementation at init, and
 * tvs_conv_forward()/tvs_conv_scratch_floats() route to it.
 */
#ifndef TVS_NN_INT_H
#define TVS_NN_INT_H

#include "tvs/nn.h"

/* Choose L->impl (honouring a requested one if available) and fill
 * L->wpack. Called by tvs_conv_init after w and bias are final. */
int tvs__conv_prepare(tvs_conv *L);

/* Choose L->impl for a depthwise layer. */
int tvs__dwconv_prepare(tvs_dwconv *L);

/* Geometry of one forward call. */
typedef struct tvs__conv_geom {
	int oh, ow, pad_top, pad_left;
} tvs__conv_geom;

void tvs__conv_geom_of(const tvs_conv *L, int in_h, int in_w, tvs__conv_geom *g);

/* Apply activation to one value (reference semantics). */
static inline float tvs__act1(float v, int act)
{
	switch (act) {
	case TVS_ACT_RELU: return v > 0.0f ? v : 0.0f;
	case TVS_ACT_RELU6: return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
	case TVS_ACT_LEAKY: return v > 0.0f ? v : 0.1f * v;
	default: return v;
	}
}

#endif
