/*
 * AVX-512 VNNI kernel of the int8 1x1 convolution (contract: qconv_int.h).
 *
 * The conv is a GEMM: M pixels x K input channels (u8) times K x N weights
 * (s8). For each block of pixels the input is first quantised into the
 * caller's scratch (u8, kp bytes a pixel, rows padded with zeros to a
 * multiple of 4), then every 64-channel weight block runs over it in
 * register tiles of TVS__QC_RX pixels x TVS__QC_NB vectors of 16 channels:
 * 24 int32 accumulators, and per group of 4 input channels NB weight loads
 * and RX x NB vpdpbusd whose u8 operand is the pixel's 4 bytes broadcast
 * from memory. The epilogue converts, applies scale and bias with one FMA,
 * the activation, and stores (masked for the channel tail). Same bits as
 * tvs_qconv_forward_ref.
 */
#include "qconv_int.h"

#include <immintrin.h>
#include <string.h>

static void quantise_rows(const float *x, size_t rows, int K, int kp, uint8_t *q)
{
	const __m512 mul = _mm512_set1_ps(255.0f / TVS_QCONV_IN_MAX);
	const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
	const __mmask16 tail = (__mmask16)((1u << (K & 15)) - 1);

	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * K;
		uint8_t *qr = q + r * kp;
		int k = 0;
		for (; k + 16 <= K; k += 16) {
			__m512 v = _mm512_mul_ps(_mm512_loadu_ps(xr + k), mul);
			v = _mm512_min_ps(_mm512_max_ps(v, zero), top);
			_mm_storeu_si128((__m128i *)(qr + k), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
		}
		if (k < K) {
			__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + k), mul);
			v = _mm512_min_ps(_mm512_max_ps(v, zero), top);
			_mm_mask_storeu_epi8(qr + k, tail, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
		}
		for (k = K; k < kp; k++)
			qr[k] = 0;
	}
}

typedef struct qtile {
	const uint8_t *a; /* first pixel's u8 row */
	int kp;
	const int8_t *w;     /* packed block */
	const float *scale;  /* block's first channel */
	const float *bias;
	float *y;            /* first pixel, block's first channel */
	int ldy;             /* floats between pixels of y */
	int ncols;           /* valid channels in the block, 1..64 */
	int act;
} qtile;

/* Accumulators are named variables, not an array, and vpdpbusd is issued
 * through asm: with the intrinsic GCC 12 copies and spills every
 * accumulator on each step. With RX and NB constant after inlining, the
 * guards fold away. */
#define DPBUSD(acc, u8, s8) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8))
#define QC_ACC(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0
#define QC_ROW(r)                                                                                   \
	if (RX > r) {                                                                               \
		int32_t a4;                                                                         \
		memcpy(&a4, a + (size_t)r * kp + k, 4);                                             \
		const __m512i av = _mm512_set1_epi32(a4);                                           \
		DPBUSD(c##r##0, av, w0);                                     \
		if (NB > 1)                                                                         \
			DPBUSD(c##r##1, av, w1);                             \
		if (NB > 2)                                                                         \
			DPBUSD(c##r##2, av, w2);                             \
		if (NB > 3)                                                                         \
			DPBUSD(c##r##3, av, w3);                             \
	}
#define QC_OUT(r, v)                                                                                \
	if (RX > r) {                                                                               \
		__m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##r##v), s, b);                      \
		if (t->act == TVS_ACT_RELU6)                                                        \
			f = _mm512_min_ps(_mm512_max_ps(f, zero), six);                             \
		else if (t->act == TVS_ACT_RELU)                                                    \
			f = _mm512_max_ps(f, zero);                                                 \
		_mm512_mask_storeu_ps(t->y + (size_t)r * t->ldy + v * 16, mk, f);                  \
	}
#define QC_VEC(v)                                                                                   \
	if (NB > v) {                                                                               \
		int left = t->ncols - v * 16;                                                       \
		__mmask16 mk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);      \
		__m512 s = _mm512_maskz_loadu_ps(mk, t->scale + v * 16);                            \
		__m512 b = _mm512_maskz_loadu_ps(mk, t->bias + v * 16);                             \
		QC_OUT(0, v) QC_OUT(1, v) QC_OUT(2, v) QC_OUT(3, v) QC_OUT(4, v) QC_OUT(5, v)       \
	}

static inline __attribute__((always_inline)) void tile_t(const int RX, const int NB, const qtile *t)
{
	const int8_t *w = t->w;
	const uint8_t *a = t->a;
	const int kp = t->kp;
	QC_ACC(0);
	QC_ACC(1);
	QC_ACC(2);
	QC_ACC(3);
	QC_ACC(4);
	QC_ACC(5);

	for (int k = 0; k < kp; k += 4) {
		const __m512i w0 = _mm512_load_si512((const void *)w);
		const __m512i w1 = NB > 1 ? _mm512_load_si512((const void *)(w + 64)) : w0;
		const __m512i w2 = NB > 2 ? _mm512_load_si512((const void *)(w + 128)) : w0;
		const __m512i w3 = NB > 3 ? _mm512_load_si512((const void *)(w + 192)) : w0;
		w += NB * 64;
		QC_ROW(0)
		QC_ROW(1)
		QC_ROW(2)
		QC_ROW(3)
		QC_ROW(4)
		QC_ROW(5)
	}
	const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
	QC_VEC(0)
	QC_VEC(1)
	QC_VEC(2)
	QC_VEC(3)
}

#define QT(rx, nb)                                                                                  \
	static void tile_##rx##_##nb(const qtile *t)                                                \
	{                                                                                           \
		tile_t(rx, nb, t);                                                                  \
	}
#define QT_NB(nb) QT(1, nb) QT(2, nb) QT(3, nb) QT(4, nb) QT(5, nb) QT(6, nb)
QT_NB(1)
QT_NB(2)
QT_NB(3)
QT_NB(4)

typedef void (*tile_fn)(const qtile *t);
static const tile_fn TILES[TVS__QC_NB][TVS__QC_RX] = {
	{tile_1_1, tile_2_1, tile_3_1, tile_4_1, tile_5_1, tile_6_1},
	{tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2},
	{tile_1_3, tile_2_3, tile_3_3, tile_4_3, tile_5_3, tile_6_3},
	{tile_1_4, tile_2_4, tile_3_4, tile_4_4, tile_5_4, tile_6_4},
};

void tvs__qconv_forward_vnni(const tvs_qconv *Q, const float *x, float *y, size_t m, uint8_t *buf)
{
	const int K = Q->cin, N = Q->cout, kp = Q->kp;
	const size_t bpx = tvs__qconv_block_px(kp);
	qtile t;

	t.kp = kp;
	t.ldy = N;
	t.act = Q->act;
	for (size_t m0 = 0; m0 < m; m0 += bpx) {
		size_t mb = m - m0 < bpx ? m - m0 : bpx;
		quantise_rows(x + m0 * K, mb, K, kp, buf);
		for (int c0 = 0; c0 < N; c0 += 64) {
			int ncols = N - c0 < 64 ? N - c0 : 64;
			int nb = (ncols + 15) / 16;
			t.w = Q->wpack + (size_t)c0 * kp;
			t.scale = Q->scale + c0;
			t.bias = Q->bias + c0;
			t.ncols = ncols;
			for (size_t r = 0; r < mb; r += TVS__QC_RX) {
				int rx = mb - r < TVS__QC_RX ? (int)(mb - r) : TVS__QC_RX;
				t.a = buf + r * kp;
				t.y = y + (m0 + r) * N + c0;
				TILES[nb - 1][rx - 1](&t);
			}
		}
	}
}
