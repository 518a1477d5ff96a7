/*
 * Image output: JPEG encoding (libjpeg-turbo) and an RGB crop-and-resize.
 * The service stores what a camera sent as it came; these serve the demo
 * world, tests and benchmarks, which cut portraits and gate-sized captures
 * out of larger photos.
 */
#include "tvs/error.h"
#include "tvs/img.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

int tvs_img_encode_jpeg(const tvs_image *img, int quality, uint8_t **out, size_t *len)
{
	tjhandle tj;
	unsigned char *buf = NULL;
	unsigned long n = 0;
	int rc = 0;

	if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || quality < 1 || quality > 100 ||
	    !out || !len)
		return tvs__err(TVS_EINVAL, "jpeg encode: bad arguments");
	*out = NULL;
	*len = 0;
	tj = tjInitCompress();
	if (!tj)
		return tvs__err(TVS_ENOMEM, "jpeg encode: %s", tjGetErrorStr2(NULL));
	if (tjCompress2(tj, img->rgb, img->width, img->width * 3, img->height, TJPF_RGB, &buf, &n, TJSAMP_420,
			quality, TJFLAG_ACCURATEDCT) != 0) {
		rc = tvs__err(TVS_EIO, "jpeg encode: %s", tjGetErrorStr2(tj));
		goto done;
	}
	*out = malloc(n);
	if (!*out) {
		rc = tvs__err(TVS_ENOMEM, "jpeg encode: %lu bytes", n);
		goto done;
	}
	memcpy(*out, buf, n);
	*len = n;
done:
	tjFree(buf);
	tjDestroy(tj);
	return rc;
}

static uint8_t sample(const tvs_image *src, int x0, int y0, int cw, int ch, double fx, double fy, int c)
{
	int xa = (int)fx, ya = (int)fy;
	int xb = xa + 1 < cw ? xa + 1 : cw - 1, yb = ya + 1 < ch ? ya + 1 : ch - 1;
	double ax = fx - xa, ay = fy - ya;
	const uint8_t *r0 = src->rgb + ((size_t)(y0 + ya) * src->width + x0) * 3;
	const uint8_t *r1 = src->rgb + ((size_t)(y0 + yb) * src->width + x0) * 3;
	double top = r0[xa * 3 + c] * (1 - ax) + r0[xb * 3 + c] * ax;
	double bot = r1[xa * 3 + c] * (1 - ax) + r1[xb * 3 + c] * ax;

	return (uint8_t)(top * (1 - ay) + bot * ay + 0.5);
}

int tvs_img_crop_resize(const tvs_image *img, tvs_rect r, int width, int height, tvs_image *out)
{
	int x0, y0, x1, y1, cw, ch, rc;

	if (!img || !img->rgb || !out || width < 0 || height < 0)
		return tvs__err(TVS_EINVAL, "crop: bad arguments");
	x0 = r.x < 0 ? 0 : r.x;
	y0 = r.y < 0 ? 0 : r.y;
	x1 = r.x + r.width > img->width ? img->width : r.x + r.width;
	y1 = r.y + r.height > img->height ? img->height : r.y + r.height;
	if (x1 <= x0 || y1 <= y0)
		return tvs__err(TVS_EINVAL, "crop: rectangle outside the image");
	cw = x1 - x0;
	ch = y1 - y0;
	if (!width || !height) {
		width = cw;
		height = ch;
	}
	rc = tvs_image_alloc(out, width, height);
	if (rc)
		return rc;
	for (int y = 0; y < height; y++) {
		/* pixel centres map onto pixel centres, clamped at the edges */
		double fy = (y + 0.5) * ch / height - 0.5;

		fy = fy < 0 ? 0 : fy > ch - 1 ? ch - 1 : fy;
		for (int x = 0; x < width; x++) {
			double fx = (x + 0.5) * cw / width - 0.5;
			uint8_t *d = out->rgb + ((size_t)y * width + x) * 3;

			fx = fx < 0 ? 0 : fx > cw - 1 ? cw - 1 : fx;
			for (int c = 0; c < 3; c++)
				d[c] = sample(img, x0, y0, cw, ch, fx, fy, c);
		}
	}
	return 0;
}
