/*
 * The face engine: detect -> 68 landmarks -> recognition crop -> 128-d
 * descriptor, reproducing face-api 1.7.15 (../shared/faceref/ARCH.md).
 *
 * An engine holds the weights of the four networks, read-only and shared by
 * every thread. A context holds one thread's workspace, planned at creation
 * so that no forward pass allocates. Use one context per thread.
 */
#ifndef TVS_FACE_H
#define TVS_FACE_H

#include "tvs/img.h"

#define TVS_FACE_DESC_DIM 128
#define TVS_FACE_LANDMARKS 68

enum tvs_detector { TVS_DETECTOR_SSD = 0, TVS_DETECTOR_TINY = 1 };

enum tvs_align {
	TVS_ALIGN_FACEAPI = 0, /* face-api's axis-aligned dlib-style square (exact parity) */
	TVS_ALIGN_ROTATED = 1, /* eyes levelled by rotation before the crop */
};

typedef struct tvs_face_config {
	const char *model_dir; /* folder with the TFJS manifests and .bin files */
	int detector;          /* TVS_DETECTOR_* (default SSD) */
	int tiny_input_size;   /* multiple of 32 (default 416) */
	float min_score;       /* detections must score strictly above (default 0.5) */
	int max_faces;         /* most detections kept (default 100) */
	int align;             /* TVS_ALIGN_* (default FACEAPI) */
	int conv_impl;         /* TVS_CONV_IMPL_* for every layer (default AUTO) */
	int flip_average;      /* 1: descriptor = mean of the crop's and its mirror's (default 1;
	                        * 0 reproduces face-api exactly) */
	int int8;              /* 1: int8 SSD 1x1 convs where the CPU has AVX-512 VNNI (default 1) */
} tvs_face_config;

/* Fill *c with the defaults above (model_dir NULL). */
void tvs_face_default_config(tvs_face_config *c);

typedef struct tvs_face {
	float score;
	double box[4];                           /* x, y, width, height in image px, unclipped */
	double landmarks[TVS_FACE_LANDMARKS][2]; /* absolute image px */
	tvs_rect rec_crop;                      /* crop fed to the recognition net */
	float descriptor[TVS_FACE_DESC_DIM];    /* not normalised (face-api) */
	int has_landmarks;
	int has_descriptor;
} tvs_face;

typedef struct tvs_face_timings {
	double detect_ms, landmarks_ms, descriptor_ms;
} tvs_face_timings;

typedef struct tvs_face_engine tvs_face_engine_t;
typedef struct tvs_face_ctx tvs_face_ctx_t;

/* Load the networks from cfg->model_dir. Caller frees with
 * tvs_face_engine_destroy(). */
int tvs_face_engine_create(tvs_face_engine_t **out, const tvs_face_config *cfg);
void tvs_face_engine_destroy(tvs_face_engine_t *e);
const tvs_face_config *tvs_face_engine_config(const tvs_face_engine_t *e);

/* A per-thread workspace bound to e (which must outlive it). */
int tvs_face_ctx_create(tvs_face_ctx_t **out, const tvs_face_engine_t *e);
void tvs_face_ctx_destroy(tvs_face_ctx_t *c);

/* Detect faces, best first. Writes at most max entries (score and box only)
 * and the count to *n. */
int tvs_face_detect(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n);

/* tvs_face_detect, and if it finds nothing, once more on the image shrunk
 * into the centre of a grey canvas twice its size (at most TVS_PAD_CANVAS px
 * a side), boxes mapped back to img. face-api's SSD misses faces that fill
 * most of the frame, as an ICAO passport portrait does: of the 22 demo faces
 * cut at 1.5x their box, 7 were missed, and 2 with the canvas. Allocates,
 * but only on a miss. */
#define TVS_PAD_CANVAS 1024
int tvs_face_detect_padded(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n);

/* Fill f->landmarks from f->box. */
int tvs_face_landmarks(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *f);

/* Fill f->rec_crop and f->descriptor from f->landmarks (engine's alignment). */
int tvs_face_describe(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *f);

/* All three stages for every face; timings may be NULL. */
int tvs_face_analyze(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n,
		     tvs_face_timings *timings);

/* ---- raw network passes on prepared inputs (HWC floats on 0..255) ---- */

/* 512x512x3 -> boxes [5118][4] (ymin, xmin, ymax, xmax; 512-square relative)
 * and face scores [5118]. */
int tvs_face_ssd_forward(tvs_face_ctx_t *c, const float *in512, float *boxes, float *scores);
/* SxSx3 (S = tiny_input_size) -> raw (S/32)x(S/32)x25 map. */
int tvs_face_tiny_forward(tvs_face_ctx_t *c, const float *in, float *map);
/* 112x112x3 -> 136 raw outputs (x0, y0, x1, y1, ...; relative to 112). */
int tvs_face_landmark_forward(tvs_face_ctx_t *c, const float *in112, float out[136]);
/* 150x150x3 -> descriptor. */
int tvs_face_recognition_forward(tvs_face_ctx_t *c, const float *in150, float out[TVS_FACE_DESC_DIM]);

/* Euclidean distance between two descriptors, in double (face-api). */
double tvs_face_distance(const float *a, const float *b);

/* face-api's default decision threshold: same person if distance < 0.6. */
#define TVS_FACE_DEFAULT_THRESHOLD 0.6

#endif
