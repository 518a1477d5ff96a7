/*
 * int8 1x1 convolution: preparation (quantise and pack the folded fp32
 * weights of a tvs_conv), the scalar reference kernel, and the dispatch to
 * the VNNI kernel (qconv_vnni.c). See include/tvs/qconv.h for the numerics
 * and src/nn/qconv_int.h for the packing.
 *
 * The reference is written to give the same bits as the VNNI kernel: the
 * same input rounding (tvs_qconv_quant_in), exact int32 accumulation, then
 * one fused multiply-add acc * scale + bias and the activation.
 */
#include "qconv_int.h"
#include "nn_int.h"
#include "tvs/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tvs_qconv_available(void)
{
	static int have = -1;
	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
	}
	return have;
}

void tvs_qconv_free(tvs_qconv *Q)
{
	if (!Q)
		return;
	free(Q->wq);
	free(Q->wpack);
	free(Q->scale);
	free(Q->bias);
	memset(Q, 0, sizeof(*Q));
}

static void pack_vnni(tvs_qconv *Q)
{
	const int N = Q->cout, kp = Q->kp;
	for (int b = 0; b * 64 < N; b++) {
		int nb = (N - b * 64 + 15) / 16;
		int8_t *p = Q->wpack + (size_t)b * 64 * kp;
		nb = nb > TVS__QC_NB ? TVS__QC_NB : nb;
		for (int kg = 0; kg < kp / 4; kg++)
			for (int v = 0; v < nb; v++)
				for (int j = 0; j < 16; j++)
					for (int t = 0; t < 4; t++) {
						int k = kg * 4 + t, co = b * 64 + v * 16 + j;
						*p++ = k < Q->cin && co < N ? Q->wq[(size_t)k * N + co] : 0;
					}
	}
}

int tvs_qconv_init(tvs_qconv *Q, const tvs_conv *L)
{
	const float in_scale = TVS_QCONV_IN_MAX / 255.0f;
	int rc, K, N;
	size_t nblk;

	memset(Q, 0, sizeof(*Q));
	if (!L || !L->w || !L->bias || L->kh != 1 || L->kw != 1 || L->stride != 1 || L->cin < 1 ||
	    L->cout < 1 || L->cin > (1 << 16) || L->cout > (1 << 16) ||
	    (L->act != TVS_ACT_NONE && L->act != TVS_ACT_RELU && L->act != TVS_ACT_RELU6))
		return tvs__err(TVS_EINVAL, "qconv: need a 1x1 stride-1 conv with act none/relu/relu6");
	K = L->cin;
	N = L->cout;
	Q->cin = K;
	Q->cout = N;
	Q->act = L->act;
	Q->kp = (K + 3) & ~3;
	nblk = (size_t)(N + 63) / 64;
	Q->wq = malloc((size_t)K * N);
	Q->wpack = aligned_alloc(64, nblk * 64 * Q->kp);
	Q->scale = malloc(sizeof(float) * N);
	Q->bias = malloc(sizeof(float) * N);
	if (!Q->wq || !Q->wpack || !Q->scale || !Q->bias) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	for (int co = 0; co < N; co++) {
		float mx = 0.0f, ws, inv;
		for (int k = 0; k < K; k++) {
			float a = fabsf(L->w[(size_t)k * N + co]);
			mx = a > mx ? a : mx;
		}
		if (!isfinite(mx)) {
			rc = tvs__err(TVS_EINVAL, "qconv: non-finite weight in channel %d", co);
			goto fail;
		}
		ws = mx / 127.0f;
		inv = mx > 0.0f ? 127.0f / mx : 0.0f;
		for (int k = 0; k < K; k++) {
			float q = nearbyintf(L->w[(size_t)k * N + co] * inv);
			q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
			Q->wq[(size_t)k * N + co] = (int8_t)q;
		}
		Q->scale[co] = in_scale * ws;
		Q->bias[co] = L->bias[co];
	}
	pack_vnni(Q);
	Q->use_vnni = tvs_qconv_available();
	return 0;
fail:
	tvs_qconv_free(Q);
	return rc;
}

size_t tvs_qconv_scratch_bytes(const tvs_qconv *Q)
{
	return tvs__qconv_block_px(Q->kp) * (size_t)Q->kp + 64;
}

void tvs_qconv_forward_ref(const tvs_qconv *Q, const tvs_tensor *x, tvs_tensor *y)
{
	const int K = Q->cin, N = Q->cout;
	const size_t M = (size_t)x->h * x->w;
	int32_t acc[64];

	TVS_ASSERT(x->c == K && y->c == N && y->h == x->h && y->w == x->w);
	for (size_t m = 0; m < M; m++) {
		const float *xr = x->d + m * K;
		float *yr = y->d + m * N;
		for (int c0 = 0; c0 < N; c0 += 64) {
			int nc = N - c0 < 64 ? N - c0 : 64;
			memset(acc, 0, sizeof(acc));
			for (int k = 0; k < K; k++) {
				int32_t q = tvs_qconv_quant_in(xr[k]);
				const int8_t *wr = Q->wq + (size_t)k * N + c0;
				if (q)
					for (int j = 0; j < nc; j++)
						acc[j] += q * wr[j];
			}
			for (int j = 0; j < nc; j++)
				yr[c0 + j] = tvs__act1(fmaf((float)acc[j], Q->scale[c0 + j], Q->bias[c0 + j]), Q->act);
		}
	}
}

void tvs_qconv_forward(const tvs_qconv *Q, const tvs_tensor *x, tvs_tensor *y, void *scratch)
{
	TVS_ASSERT(x->c == Q->cin && y->c == Q->cout && y->h == x->h && y->w == x->w);
	if (Q->use_vnni)
		tvs__qconv_forward_vnni(Q, x->d, y->d, (size_t)x->h * x->w, scratch);
	else
		tvs_qconv_forward_ref(Q, x, y);
}
