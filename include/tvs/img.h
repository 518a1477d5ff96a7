/*
 * Images: decoding untrusted bytes into 8-bit RGB, and the resampling
 * primitives the face networks use.
 *
 * Decoding is defensive: the encoded size and the declared pixel count are
 * checked against hard limits before any large allocation, every decoder
 * warning that means lost data is an error, and a bad file returns
 * TVS_EFORMAT / TVS_ETOOBIG / TVS_EUNSUPPORTED with a detail in tvs_errmsg().
 *
 * The resampling follows face-api exactly (see ../shared/faceref/ARCH.md
 * §0.2): zero padding to a square, then tf.image.resizeBilinear with
 * alignCorners=false and no half-pixel offset, computed in float32 as the
 * tfjs wasm kernel does.
 */
#ifndef TVS_IMG_H
#define TVS_IMG_H

#include <stddef.h>
#include <stdint.h>

/* An 8-bit RGB image, rows packed (stride = 3*width). */
typedef struct tvs_image {
	int width;
	int height;
	uint8_t *rgb; /* owned; free with tvs_image_free() */
} tvs_image;

enum tvs_img_format {
	TVS_IMG_UNKNOWN = 0,
	TVS_IMG_JPEG,
	TVS_IMG_PNG,
	TVS_IMG_PPM,
};

typedef struct tvs_img_opts {
	size_t max_bytes;    /* largest encoded input accepted (default 32 MiB) */
	uint64_t max_pixels; /* largest width*height accepted (default 40 Mpx) */
	int max_side;        /* largest width or height accepted (default 16384) */
	int ignore_exif;     /* 1: ignore EXIF orientation (face-api parity) */
} tvs_img_opts;

/* Fill *o with the defaults above. */
void tvs_img_default_opts(tvs_img_opts *o);

/* Which format the leading bytes announce (JPEG, PNG, binary PPM P6). */
enum tvs_img_format tvs_img_sniff(const void *buf, size_t len);

/* Decode JPEG, PNG or PPM (P6, maxval 255) bytes into RGB. Grayscale, CMYK,
 * 16-bit, palette, alpha (dropped, not composited, as face-api does) and
 * interlaced inputs are handled. Unless o->ignore_exif, a JPEG's EXIF
 * orientation is applied. o may be NULL for defaults. On success the caller
 * frees out with tvs_image_free(); on error out is zeroed. */
int tvs_img_decode(const void *buf, size_t len, const tvs_img_opts *o, tvs_image *out);

/* Read a file (at most o->max_bytes) and decode it. */
int tvs_img_read_file(const char *path, const tvs_img_opts *o, tvs_image *out);

/* Release the pixels and zero the struct. Accepts NULL and empty images. */
void tvs_image_free(tvs_image *img);

/* Allocate a width x height image (pixels uninitialised). */
int tvs_image_alloc(tvs_image *img, int width, int height);

/* Write a binary PPM (P6). */
int tvs_img_write_ppm(const char *path, const tvs_image *img);

/* Integer pixel rectangle. */
typedef struct tvs_rect {
	int x, y, width, height;
} tvs_rect;

/* Encode img as a baseline 4:2:0 JPEG of quality 1..100. *out is malloc'd;
 * the caller frees it with free(). */
int tvs_img_encode_jpeg(const tvs_image *img, int quality, uint8_t **out, size_t *len);

/* Copy the part of r inside img, then bilinear-resize it to width x height
 * (the crop's own size if either is 0) into *out, which the caller frees
 * with tvs_image_free(). TVS_EINVAL if r misses img entirely. */
int tvs_img_crop_resize(const tvs_image *img, tvs_rect r, int width, int height, tvs_image *out);

/* face-api Box.clipAtImageBorders(W, H) followed by floor() of all four
 * values; returns 0 and the clipped rect, or TVS_EINVAL if it is empty. */
int tvs_img_clip_box(double x, double y, double w, double h, int img_w, int img_h, tvs_rect *out);

/* face-api toBatchTensor(S, centered) applied to the crop r of img:
 * zero-pad the crop to a square (centered: round(d/2) after and the rest
 * before; otherwise all after), then bilinear-resize to S x S. out receives
 * S*S*3 floats on the 0..255 scale, HWC. r must lie inside img. Does not
 * allocate. */
void tvs_img_crop_square_resize(const tvs_image *img, tvs_rect r, int S, int centered, float *out);

/* Sample img through an affine map: out pixel (u, v) takes the bilinear
 * value at image point (m[0]*u + m[1]*v + m[2], m[3]*u + m[4]*v + m[5]),
 * with zeros outside the image. out is S*S*3 floats, 0..255. Used by the
 * rotated (dlib-style) alignment. Does not allocate. */
void tvs_img_warp_affine(const tvs_image *img, const float m[6], int S, float *out);

#endif
