/*
 * The resampling primitives that feed the face networks.
 *
 * These must match face-api to 1e-3 on the 0..255 scale, because every
 * network downstream is checked for parity against it
 * (../shared/faceref/ARCH.md §0.2, lib/models.mjs). So the code follows the
 * reference's arithmetic literally rather than "improving" it: no half-pixel
 * offset, the clamped floor/ceil taps of tf.image.resizeBilinear, float32
 * coordinates and the same order of operations as the tfjs wasm kernel that
 * produced the reference numbers, and the JS Math.round split of the padding.
 *
 * The zero-padded square is never materialised: a tap that falls in the
 * padding reads a static black pixel instead. That keeps these functions
 * allocation-free, as the per-face hot path requires.
 */
#include "tvs/img.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tvs/error.h"

static const uint8_t black[3];

int tvs_img_clip_box(double x, double y, double w, double h, int img_w, int img_h, tvs_rect *out)
{
	double cx, cy, cw, ch;

	TVS_ASSERT(out);
	memset(out, 0, sizeof(*out));
	if (!isfinite(x) || !isfinite(y) || !isfinite(w) || !isfinite(h))
		return tvs__err(TVS_EINVAL, "box: non-finite coordinates");
	if (img_w <= 0 || img_h <= 0)
		return tvs__err(TVS_EINVAL, "box: image size %dx%d", img_w, img_h);
	/* JS numbers are doubles, so is this: follow Box.clipAtImageBorders. */
	cx = fmax((double)x, 0.0);
	cy = fmax((double)y, 0.0);
	cw = floor(fmin((double)x + (double)w - cx, (double)img_w - cx));
	ch = floor(fmin((double)y + (double)h - cy, (double)img_h - cy));
	/* Positive extents imply cx < img_w and cy < img_h, so the casts are safe. */
	if (!(cw > 0) || !(ch > 0))
		return tvs__err(TVS_EINVAL, "box (%g, %g, %g, %g) is empty inside %dx%d",
				(double)x, (double)y, (double)w, (double)h, img_w, img_h);
	out->x = (int)floor(cx);
	out->y = (int)floor(cy);
	out->width = (int)cw;
	out->height = (int)ch;
	return 0;
}

/* The crop r seen through the zero padding: (px, py) are padded coordinates. */
struct padded {
	const tvs_image *img;
	tvs_rect r;
	int pad_x, pad_y;
};

static inline const uint8_t *padded_px(const struct padded *p, int px, int py)
{
	int x = px - p->pad_x, y = py - p->pad_y;

	if (x < 0 || y < 0 || x >= p->r.width || y >= p->r.height)
		return black;
	return p->img->rgb + ((size_t)(p->r.y + y) * (size_t)p->img->width + (size_t)(p->r.x + x)) * 3;
}

void tvs_img_crop_square_resize(const tvs_image *img, tvs_rect r, int S, int centered, float *out)
{
	struct padded p = { .img = img, .r = r };
	int side, d, after, before, ox, oy, c;
	float scale;

	TVS_ASSERT(img && img->rgb && out && S > 0);
	TVS_ASSERT(r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0);
	TVS_ASSERT(r.width <= img->width - r.x && r.height <= img->height - r.y);

	side = r.width > r.height ? r.width : r.height;
	d = abs(r.width - r.height);
	/* Math.round(d * 0.5) rounds .5 up: for odd d the extra pixel goes after. */
	after = centered ? (d + 1) / 2 : d;
	before = d - after;
	if (r.height > r.width)
		p.pad_x = before;
	else
		p.pad_y = before;

	if (side == S) {
		/* tf.image.resizeBilinear is skipped when the size already matches. */
		for (oy = 0; oy < S; oy++) {
			for (ox = 0; ox < S; ox++, out += 3) {
				const uint8_t *s = padded_px(&p, ox, oy);

				out[0] = s[0];
				out[1] = s[1];
				out[2] = s[2];
			}
		}
		return;
	}

	scale = (float)side / (float)S;
	for (oy = 0; oy < S; oy++) {
		float fy = scale * (float)oy;
		int y0 = (int)floorf(fy), y1 = (int)ceilf(fy);
		float dy;

		if (y0 < 0)
			y0 = 0;
		if (y1 > side - 1)
			y1 = side - 1;
		dy = fy - (float)y0;
		for (ox = 0; ox < S; ox++, out += 3) {
			float fx = scale * (float)ox;
			int x0 = (int)floorf(fx), x1 = (int)ceilf(fx);
			const uint8_t *tl, *tr, *bl, *br;
			float dx;

			if (x0 < 0)
				x0 = 0;
			if (x1 > side - 1)
				x1 = side - 1;
			dx = fx - (float)x0;
			tl = padded_px(&p, x0, y0);
			tr = padded_px(&p, x1, y0);
			bl = padded_px(&p, x0, y1);
			br = padded_px(&p, x1, y1);
			for (c = 0; c < 3; c++) {
				float top = (float)tl[c] + ((float)tr[c] - (float)tl[c]) * dx;
				float bot = (float)bl[c] + ((float)br[c] - (float)bl[c]) * dx;

				out[c] = top + (bot - top) * dy;
			}
		}
	}
}

static inline const uint8_t *image_px(const tvs_image *img, int x, int y)
{
	if (x < 0 || y < 0 || x >= img->width || y >= img->height)
		return black;
	return img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
}

void tvs_img_warp_affine(const tvs_image *img, const float m[6], int S, float *out)
{
	int u, v, c;

	TVS_ASSERT(img && img->rgb && m && out && S > 0);
	for (v = 0; v < S; v++) {
		for (u = 0; u < S; u++, out += 3) {
			float x = m[0] * (float)u + m[1] * (float)v + m[2];
			float y = m[3] * (float)u + m[4] * (float)v + m[5];
			const uint8_t *tl, *tr, *bl, *br;
			float fx, fy, x0f, y0f;
			int x0, y0;

			/*
			 * Far outside (or NaN) samples only black; testing first also
			 * keeps the float-to-int conversions below in range.
			 */
			if (!(x > -1.0f && y > -1.0f && x < (float)img->width && y < (float)img->height)) {
				out[0] = out[1] = out[2] = 0.0f;
				continue;
			}
			x0f = floorf(x);
			y0f = floorf(y);
			fx = x - x0f;
			fy = y - y0f;
			x0 = (int)x0f;
			y0 = (int)y0f;
			tl = image_px(img, x0, y0);
			tr = image_px(img, x0 + 1, y0);
			bl = image_px(img, x0, y0 + 1);
			br = image_px(img, x0 + 1, y0 + 1);
			for (c = 0; c < 3; c++) {
				float top = (float)tl[c] + ((float)tr[c] - (float)tl[c]) * fx;
				float bot = (float)bl[c] + ((float)br[c] - (float)bl[c]) * fx;

				out[c] = top + (bot - top) * fy;
			}
		}
	}
}
