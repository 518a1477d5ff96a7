/*
 * Internals of the face engine: the four networks, each a struct of prepared
 * layers with a forward pass that runs inside a caller-provided workspace.
 *
 * Every net reports the workspace it needs (ws_floats) at load time; the
 * per-thread context allocates the largest once, so no forward pass ever
 * allocates.
 */
#ifndef TVS_FACE_INT_H
#define TVS_FACE_INT_H

#include "tvs/face.h"
#include "tvs/nn.h"
#include "tvs/qconv.h"

#define TVS_SSD_INPUT 512
#define TVS_SSD_ANCHORS 5118
#define TVS_LM_INPUT 112
#define TVS_REC_INPUT 150

/* A bump allocator over a context's workspace, reset at the start of each
 * forward pass. Running out is a planning bug, hence an assertion. */
typedef struct tvs__arena {
	float *base;
	size_t cap, used;
} tvs__arena;

static inline float *tvs__arena_take(tvs__arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15; /* 64-byte alignment for the SIMD kernels */
	if (a->used + n > a->cap)
		return NULL;
	float *p = a->base + a->used;
	a->used += n;
	return p;
}

/* Load helpers shared by the nets: a conv/dwconv layer from named weights. */
int tvs__load_conv(tvs_conv *L, const tvs_nn_model_t *m, const char *wname, const char *bname,
		   const char *scale_w, const char *scale_b, int kh, int kw, int cin, int cout, int stride,
		   int pad, int act, int impl);

/* ---------------------------------------------------------------- SSD */
typedef struct tvs__ssd {
	tvs_conv conv0;
	tvs_dwconv dw[14];
	tvs_conv pw[14];
	tvs_conv extra[8];
	tvs_conv box[6], cls[6];
	float *anchors; /* [5118][4], owned */
	size_t ws_floats;
	/* int8 twins of pw[] and of the 1x1 extra[], used instead of them when
	 * use_int8 (tvs_face_config.int8 on a CPU with VNNI) */
	tvs_qconv qpw[14], qextra[8];
	int use_int8;
} tvs__ssd;

int tvs__ssd_load(tvs__ssd *n, const tvs_nn_model_t *m, int impl);
/* After tvs__ssd_load: prepare the int8 twins, grow ws_floats for their
 * scratch and set use_int8. TVS_EUNSUPPORTED without VNNI, TVS_ENOMEM. */
int tvs__ssd_load_int8(tvs__ssd *n);
void tvs__ssd_free(tvs__ssd *n);
/* in512: 512x512x3 on 0..255. boxes [5118][4] (ymin, xmin, ymax, xmax), scores [5118]. */
void tvs__ssd_forward(const tvs__ssd *n, const float *in512, float *boxes, float *scores, tvs__arena *ws);

/* ---------------------------------------------------------------- tiny */
typedef struct tvs__tiny {
	int S;
	tvs_conv conv0;
	tvs_dwconv dw[5];
	tvs_conv pw[5];
	tvs_conv conv8;
	size_t map_floats; /* one activation map, the largest */
	size_t ws_floats;
} tvs__tiny;

int tvs__tiny_load(tvs__tiny *n, const tvs_nn_model_t *m, int input_size, int impl);
void tvs__tiny_free(tvs__tiny *n);
/* inS: SxSx3 on 0..255 -> map (S/32)^2 x 25. */
void tvs__tiny_forward(const tvs__tiny *n, const float *in, float *map, tvs__arena *ws);

/* ---------------------------------------------------------------- landmarks */
typedef struct tvs__landmark {
	tvs_conv first;       /* dense0/conv0 */
	tvs_dwconv dw[4][4];  /* [block][conv]; dw[0][0] unused */
	tvs_conv pw[4][4];
	float *fc_w, *fc_b;   /* [256][136], [136]; owned */
	size_t ws_floats;
} tvs__landmark;

int tvs__landmark_load(tvs__landmark *n, const tvs_nn_model_t *m, int impl);
void tvs__landmark_free(tvs__landmark *n);
void tvs__landmark_forward(const tvs__landmark *n, const float *in112, float out[136], tvs__arena *ws);

/* ---------------------------------------------------------------- recognition */
typedef struct tvs__recog {
	tvs_conv down;        /* conv32_down 7x7/2 valid */
	tvs_conv c1[15], c2[15];
	int is_down[15];
	int pad_branch[15];  /* conv branch smaller than the shortcut */
	float *fc;            /* [256][128]; owned */
	size_t ws_floats;
} tvs__recog;

int tvs__recog_load(tvs__recog *n, const tvs_nn_model_t *m, int impl);
void tvs__recog_free(tvs__recog *n);
void tvs__recog_forward(const tvs__recog *n, const float *in150, float out[128], tvs__arena *ws);

/* ---------------------------------------------------------------- geometry */

/* face-api FaceLandmark68NetBase.postProcess: raw 136 outputs for a crop of
 * cw x ch whose (unfloored) detection box starts at (bx, by). */
void tvs__landmarks_from_raw(const float raw[136], int cw, int ch, double bx, double by, double pts[68][2]);

/* face-api FaceLandmarks.alignDlib(): the square handed to the recognition
 * net, before clipping. */
void tvs__align_dlib_rect(const double pts[68][2], int cw, int ch, double rect[4]);

/* The rotated alignment: the affine map (see tvs_img_warp_affine) that
 * samples face-api's dlib square, rotated about its centre so the eyes are
 * level, into an S x S output. */
void tvs__align_rotated_map(const double pts[68][2], int S, float m[6]);

#endif
