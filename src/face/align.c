/*
 * Landmark post-processing and the choice of the recognition crop.
 *
 * face-api's "alignment" is only an axis-aligned square placed from the eye
 * and mouth centres (FaceLandmarks.alignDlib); it is reproduced here exactly,
 * in double as JavaScript computes it, because a one-pixel change of the
 * floored crop moves the descriptor. The rotated variant keeps that square's
 * centre and size and turns it so the eyes are level, as dlib's
 * get_face_chip does before its network.
 */
#include "face_int.h"

#include <math.h>

void tvs__landmarks_from_raw(const float raw[136], int cw, int ch, double bx, double by, double pts[68][2])
{
	const double S = TVS_LM_INPUT;
	double scale = S / (double)(cw > ch ? cw : ch);
	double w = cw * scale, h = ch * scale;
	double padx = w < h ? (h - w) / 2 : 0.0;
	double pady = h < w ? (w - h) / 2 : 0.0;

	for (int i = 0; i < 68; i++) {
		pts[i][0] = ((double)raw[2 * i] * S - padx) / w * cw + bx;
		pts[i][1] = ((double)raw[2 * i + 1] * S - pady) / h * ch + by;
	}
}

static void centre(const double pts[68][2], int a, int b, double c[2])
{
	double sx = 0, sy = 0;

	for (int i = a; i < b; i++) {
		sx += pts[i][0];
		sy += pts[i][1];
	}
	c[0] = sx / (b - a);
	c[1] = sy / (b - a);
}

/* Eye and mouth centres, the square's side and its reference point. */
static void dlib_square(const double pts[68][2], double le[2], double re[2], double *size, double ref[2])
{
	double mo[2];

	centre(pts, 36, 42, le);
	centre(pts, 42, 48, re);
	centre(pts, 48, 68, mo);
	double d = (hypot(mo[0] - le[0], mo[1] - le[1]) + hypot(mo[0] - re[0], mo[1] - re[1])) / 2;
	*size = floor(d / 0.45);
	ref[0] = (le[0] + re[0] + mo[0]) / 3;
	ref[1] = (le[1] + re[1] + mo[1]) / 3;
}

void tvs__align_dlib_rect(const double pts[68][2], int cw, int ch, double rect[4])
{
	double le[2], re[2], size, ref[2];

	dlib_square(pts, le, re, &size, ref);
	double x = floor(fmax(0, ref[0] - 0.5 * size));
	double y = floor(fmax(0, ref[1] - 0.43 * size));
	rect[0] = x;
	rect[1] = y;
	rect[2] = fmin(size, cw + x);
	rect[3] = fmin(size, ch + y);
}

void tvs__align_rotated_map(const double pts[68][2], int S, float m[6])
{
	double le[2], re[2], size, ref[2];

	dlib_square(pts, le, re, &size, ref);
	/* the centre of face-api's square (before clipping) */
	double cx = ref[0] - 0.5 * size + 0.5 * size;
	double cy = ref[1] - 0.43 * size + 0.5 * size;
	double ang = atan2(re[1] - le[1], re[0] - le[0]);
	double k = size / S, c = cos(ang) * k, s = sin(ang) * k;
	/* out (u, v) -> image: centre + R(ang) * ((u, v) - S/2) * k */
	double h = S / 2.0;
	m[0] = (float)c;
	m[1] = (float)-s;
	m[2] = (float)(cx - c * h + s * h);
	m[3] = (float)s;
	m[4] = (float)c;
	m[5] = (float)(cy - s * h - c * h);
}
