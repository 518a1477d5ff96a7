/*
 * Contract between the int8 1x1 conv driver (qconv.c) and its VNNI kernel
 * (qconv_vnni.c).
 *
 * Packed weights (tvs_qconv.wpack): output channels in blocks of 64 (4
 * vectors of 16; the last block may hold fewer vectors), each block the
 * matrix [kp/4][nb][16][4] of int8, i.e. for every group of 4 input channels
 * and every output channel of the block, the 4 weights vpdpbusd multiplies
 * with the 4 u8 inputs of one pixel broadcast to every lane. Block b starts
 * at byte b*64*kp; channels beyond cout and rows beyond cin are zero.
 *
 * The forward pass walks the pixels in blocks of tvs__qconv_block_px(kp),
 * small enough that a block's u8 copy (kp bytes a pixel) stays in L1 while
 * every output-channel block reuses it.
 */
#ifndef TVS_QCONV_INT_H
#define TVS_QCONV_INT_H

#include "tvs/qconv.h"

#define TVS__QC_RX 6    /* pixels per register tile */
#define TVS__QC_NB 4    /* 16-channel vectors per register tile */
#define TVS__QC_L1 32768 /* bytes of quantised input per pixel block */

static inline size_t tvs__qconv_block_px(int kp)
{
	size_t n = (size_t)TVS__QC_L1 / (size_t)kp / TVS__QC_RX * TVS__QC_RX;
	return n < TVS__QC_RX ? TVS__QC_RX : n;
}

/* The whole forward pass over m pixels; buf is the caller's scratch. */
void tvs__qconv_forward_vnni(const tvs_qconv *Q, const float *x, float *y, size_t m, uint8_t *buf);

#endif
