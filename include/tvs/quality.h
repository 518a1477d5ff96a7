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
	double min_eye_distance_px; /* between eye centres, image pixels */
	double second_face_ratio;   /* a second face whose box width is at least this
				     * fraction of the primary's: MULTIPLE_FACES */
	double max_yaw;             /* |yaw| estimate from landmarks, degrees */
	double max_roll;            /* eye-line tilt, degrees */
	double min_sharpness;       /* see tvs_quality.sharpness */
	double min_brightness;      /* mean face luma, 0..255 (see tvs_quality.brightness) */
	double max_brightness;
	double min_score;           /* detector score */
} tvs_quality_config;

/* Measured values of one face. The face region is the bounding box of the 68
 * landmarks (brows to chin, jaw to jaw) clipped to the image; the photometric
 * measures are taken on its luma (BT.601) resampled to a 64x64 patch. */
typedef struct tvs_quality {
	int nfaces;            /* faces the detector returned */
	int primary;           /* index of the face assessed, -1 if none */
	double score;          /* detector score */
	double face_width_px;
	double eye_distance_px; /* between the means of points 36-41 and 42-47 */
	double yaw_deg;        /* signed estimate from the nose tip's offset from the eye
				* midpoint; > 0: nose toward the image right */
	double roll_deg;       /* eye-line angle; > 0: clockwise on screen */
	double sharpness;      /* RMS Laplacian / luma sd of the 64x64 face patch:
				* dimensionless, independent of face size and of
				* exposure; clean faces ~0.2-0.8, 0 for a flat patch */
	double brightness;     /* mean luma of the face region, 0..255 */
	double contrast;       /* luma standard deviation of the face patch */
	int reason;            /* enum tvs_quality_reason */
} tvs_quality;

void tvs_quality_default_config(tvs_quality_config *c);

/* Stable upper-case name of a reason ("NO_FACE", "TOO_SMALL", ...; "OK"),
 * "UNKNOWN" for a value outside the enum. Static, never NULL. */
const char *tvs_quality_reason_name(int reason);

/* Measure face f (which must have landmarks) of img into *q: score and
 * every measured field; nfaces, primary and reason are untouched. Returns 0,
 * or TVS_EINVAL for NULL/empty arguments, missing or non-finite landmarks, or
 * landmarks wholly outside the image. Does not allocate. */
int tvs_quality_measure(const tvs_image *img, const tvs_face *f, tvs_quality *q);

/* The gate: pick the primary face of faces[0..n) (the largest box by area,
 * as `tvs detect` reports it), measure it, and set q->reason to the first
 * failed check in enum order (OK if none; NO_FACE with primary -1 if n is
 * 0). The measures are filled even when an earlier check fails. The primary
 * must have landmarks; the others need only their boxes. c NULL means the
 * defaults. Returns 0 (a failed check is not an error) or TVS_EINVAL for bad
 * arguments (see tvs_quality_measure) or a config with a NaN. */
int tvs_quality_assess(const tvs_quality_config *c, const tvs_image *img, const tvs_face *faces, int n,
		       tvs_quality *q);

#endif
