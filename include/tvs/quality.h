/*
 * Face image quality: the gate that decides RETAKE before any matching, and
 * that refuses a bad portrait at enrolment. Measures in the spirit of
 * ISO/IEC 29794-5: face size and inter-eye distance, pose from landmarks,
 * sharpness, exposure, a single dominant face.
 *
 * Every measure is computed from the decoded image and the detector's faces
 * (with landmarks); nothing here runs a network. Thresholds are a config so
 * that a gate, a booth and an enrolment desk can differ; the defaults were
 * chosen from measured distributions (see src/face/quality.c).
 */
#ifndef TVS_QUALITY_H
#define TVS_QUALITY_H

#include "tvs/face.h"
#include "tvs/img.h"

enum tvs_quality_reason {
	TVS_Q_OK = 0,
	TVS_Q_NO_FACE,
	TVS_Q_MULTIPLE_FACES, /* a second face nearly as large as the first */
	TVS_Q_TOO_SMALL,      /* inter-eye distance below the minimum */
	TVS_Q_POSE,           /* head turned or tilted too far */
	TVS_Q_BLURRED,
	TVS_Q_TOO_DARK,
	TVS_Q_TOO_BRIGHT,
	TVS_Q_LOW_CONFIDENCE, /* detector score below the gate's minimum */
	TVS_Q_REASONS
};

typedef struct tvs_quality_config {
	double min_eye_distance_px; /* pupils' centres, in image pixels */
	double second_face_ratio;   /* a second face whose box width is at least this
				     * fraction of the primary's: MULTIPLE_FACES */
	double max_yaw;             /* |yaw| estimate from landmarks, degrees */
	double max_roll;            /* eye-line tilt, degrees */
	double min_sharpness;       /* see tvs_quality.sharpness */
	double min_brightness;      /* mean face luma, 0..255 */
	double max_brightness;
	double min_score;           /* detector score */
} tvs_quality_config;

/* Measured values of one face. */
typedef struct tvs_quality {
	int nfaces;            /* faces the detector returned */
	int primary;           /* index of the face assessed, -1 if none */
	double score;          /* detector score */
	double face_width_px;
	double eye_distance_px;
	double yaw_deg;        /* signed estimate */
	double roll_deg;
	double sharpness;      /* scale-normalised gradient energy of the face region */
	double brightness;     /* mean luma of the face region */
	double contrast;       /* luma standard deviation of the face region */
	int reason;            /* enum tvs_quality_reason */
} tvs_quality;

void tvs_quality_default_config(tvs_quality_config *c);

/* Stable upper-case name of a reason ("NO_FACE", "TOO_SMALL", ...; "OK"). */
const char *tvs_quality_reason_name(int reason);

/* Measure face f (which must have landmarks) of img into *q (reason untouched). */
int tvs_quality_measure(const tvs_image *img, const tvs_face *f, tvs_quality *q);

/* The gate: pick the primary face of faces[0..n) (the largest), measure it,
 * and set q->reason to the first failed check in enum order (OK if none).
 * Every face must have landmarks. Returns 0 (a failed check is not an
 * error) or a negative code for bad arguments. */
int tvs_quality_assess(const tvs_quality_config *c, const tvs_image *img, const tvs_face *faces, int n,
		       tvs_quality *q);

#endif
