/*
 * Neural-network building blocks for the face engine.
 *
 * Tensors are NHWC float32 with batch 1: element (y, x, c) of an H x W x C
 * map sits at (y*W + x)*C + c. Filters arrive in TensorFlow's HWIO layout.
 *
 * A layer (tvs_conv, tvs_dwconv) is prepared once at model load: batch-norm
 * and per-channel scales are folded into its weights and bias, and the
 * weights are repacked for the kernel that will run them. Forward calls never
 * allocate; they take a caller-provided scratch area sized by
 * tvs_conv_scratch_floats(). Every optimised kernel has a scalar reference
 * (tvs_conv_forward_ref and friends) and a test comparing the two.
 *
 * Padding follows TensorFlow exactly (ARCH.md §0): 'valid' gives
 * out = floor((in-k)/s)+1; 'same' gives out = ceil(in/s) with
 * padBefore = floor(total/2), so 3x3 stride 2 on an even input pads 0 before
 * and 1 after.
 */
#ifndef TVS_NN_H
#define TVS_NN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tvs_tensor {
	int h, w, c;
	float *d; /* borrowed */
} tvs_tensor;

enum tvs_pad { TVS_PAD_VALID = 0, TVS_PAD_SAME = 1 };

enum tvs_act {
	TVS_ACT_NONE = 0,
	TVS_ACT_RELU,
	TVS_ACT_RELU6,
	TVS_ACT_LEAKY, /* v > 0 ? v : 0.1*v */
};

/* Output size and leading pad of one spatial axis under TF padding rules. */
void tvs_nn_pad_info(int in, int k, int stride, int pad, int *out, int *before);

/* ------------------------------------------------------------------ weights */

/* Weights of one TFJS model (<name>-weights_manifest.json + .bin), dequantised
 * to float32 at load (uint8: q*scale+min computed in double, stored as float). */
typedef struct tvs_nn_model tvs_nn_model_t;

/* Load dir/<name>-weights_manifest.json and the .bin files it names. Every
 * length, count and shape is bounded; a manifest that does not describe the
 * .bin byte for byte is TVS_EINTEGRITY. Caller frees with
 * tvs_nn_model_destroy(). */
int tvs_nn_model_load(tvs_nn_model_t **out, const char *dir, const char *name);
void tvs_nn_model_destroy(tvs_nn_model_t *m);

/* Look up a float32 weight by name and check its shape (ndim values of
 * shape[]). *data is borrowed until the model is destroyed. TVS_ENOTFOUND if
 * absent, TVS_EINTEGRITY if the shape differs. */
int tvs_nn_model_get(const tvs_nn_model_t *m, const char *name, int ndim, const int *shape,
		     const float **data);

/* Number of tensors and of float values in the model. */
int tvs_nn_model_count(const tvs_nn_model_t *m);
size_t tvs_nn_model_values(const tvs_nn_model_t *m);

/* ------------------------------------------------------------------ conv2d */

typedef struct tvs_conv {
	int kh, kw, cin, cout, stride, pad, act;
	float *w;      /* HWIO [kh][kw][cin][cout], folded; owned */
	float *bias;   /* [cout], folded; owned (zeros when the layer has none) */
	float *wpack;  /* kernel-specific packing of w, or NULL; owned */
	int impl;      /* which kernel runs it (TVS_CONV_IMPL_*) */
} tvs_conv;

enum tvs_conv_impl {
	TVS_CONV_IMPL_AUTO = 0, /* pick the fastest available at init */
	TVS_CONV_IMPL_REF,      /* scalar reference */
	TVS_CONV_IMPL_GEMM,     /* im2col + OpenBLAS sgemm */
	TVS_CONV_IMPL_AVX2,     /* direct NHWC kernel, AVX2+FMA */
	TVS_CONV_IMPL_AVX512,   /* direct NHWC kernel, AVX-512F */
};

/* Prepare a conv layer. w is HWIO; bias may be NULL. If scale is non-NULL the
 * layer computes (conv + bias) * scale[co] + shift[co] (folded into w/bias).
 * Copies everything it needs; returns TVS_ENOMEM or TVS_EINVAL. */
int tvs_conv_init(tvs_conv *L, int kh, int kw, int cin, int cout, int stride, int pad, int act,
		  const float *w, const float *bias, const float *scale, const float *shift, int impl);
void tvs_conv_free(tvs_conv *L);

/* Output size for an input of in_h x in_w. */
void tvs_conv_out_size(const tvs_conv *L, int in_h, int in_w, int *out_h, int *out_w);

/* Scratch floats the forward pass needs for an in_h x in_w input. */
size_t tvs_conv_scratch_floats(const tvs_conv *L, int in_h, int in_w);

/* y = act(conv(x) + bias [+ res]). y must already have the output shape;
 * res (same shape as y) may be NULL. x, y and res must not overlap, except
 * that res may equal y (in-place accumulate). Does not allocate. */
void tvs_conv_forward(const tvs_conv *L, const tvs_tensor *x, tvs_tensor *y, const tvs_tensor *res,
		      float *scratch);

/* The scalar reference, for tests. Ignores wpack/impl. */
void tvs_conv_forward_ref(const tvs_conv *L, const tvs_tensor *x, tvs_tensor *y, const tvs_tensor *res);

/* ------------------------------------------------------------ depthwise 3x3 */

typedef struct tvs_dwconv {
	int kh, kw, c, stride, pad, act;
	float *w;    /* [kh][kw][c], folded; owned */
	float *bias; /* [c]; owned */
	int impl;
} tvs_dwconv;

/* As tvs_conv_init with a depthwise filter [kh, kw, c, 1]. With bn_mean
 * non-NULL, applies TF batch norm (v - mean) * gamma / sqrt(var + eps) + beta,
 * folded. */
int tvs_dwconv_init(tvs_dwconv *L, int kh, int kw, int c, int stride, int pad, int act,
		    const float *w, const float *bias, const float *bn_mean, const float *bn_var,
		    const float *bn_gamma, const float *bn_beta, float bn_eps, int impl);
void tvs_dwconv_free(tvs_dwconv *L);
void tvs_dwconv_out_size(const tvs_dwconv *L, int in_h, int in_w, int *out_h, int *out_w);
void tvs_dwconv_forward(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y);
void tvs_dwconv_forward_ref(const tvs_dwconv *L, const tvs_tensor *x, tvs_tensor *y);

/* ------------------------------------------------------------ pooling, misc */

/* Max pool k x k with TF padding; padded cells are ignored. */
void tvs_maxpool(const tvs_tensor *x, int k, int stride, int pad, tvs_tensor *y);
/* Average pool k x k, 'valid'. */
void tvs_avgpool_valid(const tvs_tensor *x, int k, int stride, tvs_tensor *y);
/* y = x * W (+ b): x [cin], W [cin][cout], b [cout] or NULL. */
void tvs_fc(const float *x, int cin, const float *W, const float *b, int cout, float *y);
/* In-place activation over n values. */
void tvs_act_apply(float *v, size_t n, int act);

/* Which SIMD level this CPU offers: 0 none, 1 AVX2+FMA, 2 AVX-512F/BW/VL/DQ. */
int tvs_cpu_simd_level(void);
/* Name of a conv implementation, for logs and benchmarks. */
const char *tvs_conv_impl_name(int impl);

/* ------------------------------------------------------------ thread pool */

typedef struct tvs_pool tvs_pool_t;

/* A pool of n worker threads (n >= 1). */
int tvs_pool_create(tvs_pool_t **out, int n);
void tvs_pool_destroy(tvs_pool_t *p);
int tvs_pool_size(const tvs_pool_t *p);

/* Run fn(arg, task, worker) for task = 0..ntasks-1 across the workers and
 * wait for all of them. worker is in [0, size) and identifies a per-thread
 * workspace. Tasks are handed out dynamically (one at a time). */
void tvs_pool_run(tvs_pool_t *p, int ntasks, void (*fn)(void *arg, int task, int worker), void *arg);

#endif
