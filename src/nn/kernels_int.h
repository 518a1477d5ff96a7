/*
 * Contract between the conv driver (conv_dispatch.c) and the per-ISA SIMD
 * kernels (conv_avx512.c, conv_avx2.c, dwconv_avx512.c, dwconv_avx2.c).
 *
 * Every dense convolution the direct kernels run is reduced to one shape of
 * work: a "tile" of RX output pixels times NB vectors of output channels,
 * accumulated in registers over kh kernel rows of klen contiguous floats
 * each. klen is kw*cin because, in NHWC, the kw taps of one kernel row of one
 * output pixel are kw*cin consecutive floats of the input, and the HWIO filter
 * has the same order. The driver only decides where those floats live (the
 * input itself, or rows of an im2col matrix for outputs that see padding or
 * are too narrow for a row of tiles), so the kernels never see padding,
 * strides or image edges. The bias/residual/activation epilogue runs on the
 * registers before the single store of each output vector.
 *
 * Packed weights (tvs_conv.wpack), for vector width V and NB vectors per
 * block:
 *   [bias, zero-padded to nvec*V] then for each block of NB*V output channels
 *   (the last block may hold fewer vectors) the matrix [K][nb_block*V], K =
 *   kh*kw*cin in HWIO order, columns beyond cout zero. Each block starts on a
 *   64-byte boundary. The layout depends only on (V, NB, K, cout), so the
 *   forward pass recomputes offsets instead of storing a header.
 */
#ifndef TVS_KERNELS_INT_H
#define TVS_KERNELS_INT_H

#include "nn_int.h"

#include <stddef.h>

/* Largest tile the kernels are instantiated for, in pixels. */
#define TVS__RX_MAX 16

/* One register tile. Pointers are to the tile's first pixel. */
typedef struct tvs__tile {
	const float *a;    /* input at the first tap (ky=0, first of klen) */
	ptrdiff_t a_px;    /* floats from one tile pixel to the next in a */
	ptrdiff_t a_ky;    /* floats from one kernel row to the next in a */
	int kh, klen;      /* kernel rows; contiguous floats per kernel row */
	const float *w;    /* packed block, [kh*klen][nb*V] */
	const float *bias; /* [nb*V] for this block */
	float *y;          /* output of the first pixel at the block's 1st channel */
	ptrdiff_t y_px;    /* floats between output pixels (cout, or a row apart) */
	const float *res;  /* residual, laid out like y, or NULL; may equal y */
	int act;           /* TVS_ACT_* */
	int ncols;         /* valid channels in this block, 1..nb*V */
} tvs__tile;

/* Per-ISA kernel table. rx_max[nb] is the widest tile for nb vectors. */
typedef struct tvs__conv_isa {
	int vec;                  /* floats per vector */
	int nb_max;               /* vectors per cout block */
	int rx_max[5];            /* indexed by nb, 1..nb_max */
	void (*tile)(int rx, int nb, const tvs__tile *t);
	/* y[i][j] = act(y[i][j] + bias[j]) over m rows of n: the GEMM epilogue. */
	void (*bias_act)(float *y, size_t m, int n, const float *bias, int act);
	void (*dwconv)(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y);
} tvs__conv_isa;

extern const tvs__conv_isa tvs__isa_avx512;
extern const tvs__conv_isa tvs__isa_avx2;

#endif
