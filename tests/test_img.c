/*
 * Unit tests for the image module (src/img/).
 *
 * Every input is generated here, with TurboJPEG's compressor and libpng's
 * writer, so the tests need no fixtures and can state exactly which pixels
 * they expect. Lossy JPEG inputs are built from flat 8x8-aligned blocks at
 * quality 100, where the codec is exact to a level or two.
 *
 * Bad inputs (truncated, corrupt, bombs, metadata lies) must fail with the
 * right code and a detail in tvs_errmsg(); a seeded mutation loop checks that
 * damaged files never crash, which is what the ASan/UBSan build is for.
 *
 * The resampling is checked against a naive double-precision transcription of
 * face-api's padToSquare + resizeBilinear that materialises the padded square
 * (the library must not), plus small cases worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "img/img_int.h"
#include "tvs/error.h"
#include "tvs/img.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* The call fails with code and leaves a detail behind. */
#define EXPECT_ERR(call, code)                                                  \
	do {                                                                    \
		int rc_;                                                        \
		tvs_err_clear();                                                \
		rc_ = (call);                                                   \
		assert_int_equal(rc_, (code));                                  \
		assert_true(tvs_errmsg()[0] != '\0');                           \
	} while (0)

static char tmpdir[64];

/* ------------------------------------------------------------ helpers */

static uint32_t rng = 0x12345678u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

struct bytes {
	uint8_t *p;
	size_t n;
};

static void bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}

static uint8_t *xmemdup(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	memcpy(q, p, n);
	return q;
}

static void assert_zeroed(const tvs_image *img)
{
	assert_null(img->rgb);
	assert_int_equal(img->width, 0);
	assert_int_equal(img->height, 0);
}

static const uint8_t *px(const tvs_image *img, int x, int y)
{
	return img->rgb + ((size_t)y * img->width + x) * 3;
}

static void assert_px_near(const tvs_image *img, int x, int y, int r, int g, int b, int tol)
{
	const uint8_t *p = px(img, x, y);

	if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol) {
		print_error("pixel (%d,%d) = (%d,%d,%d), want (%d,%d,%d) +- %d\n", x, y, p[0], p[1],
			    p[2], r, g, b, tol);
		fail();
	}
}

/* Six colours in a 3x2 grid of 16x16 flat blocks: 48x32, asymmetric under
 * every rotation and flip. */
static const uint8_t block_rgb[6][3] = {
	{ 220, 30, 40 }, { 30, 200, 50 }, { 40, 60, 210 },
	{ 230, 220, 40 }, { 20, 20, 20 }, { 240, 240, 240 },
};

static int block_of(int x, int y)
{
	return (y / 16) * 3 + x / 16;
}

static uint8_t *blocks_rgb(void)
{
	uint8_t *p = malloc(48 * 32 * 3);
	int x, y;

	assert_non_null(p);
	for (y = 0; y < 32; y++)
		for (x = 0; x < 48; x++)
			memcpy(p + (y * 48 + x) * 3, block_rgb[block_of(x, y)], 3);
	return p;
}

/* Compress with TurboJPEG; the result is malloc'd so tests may edit it. */
static struct bytes make_jpeg(const uint8_t *pix, int w, int h, int pf, int subsamp, int quality, int flags)
{
	unsigned char *jb = NULL;
	unsigned long jn = 0;
	struct bytes b;
	tjhandle tj;

	tj = tjInitCompress();
	assert_non_null(tj);
	if (tjCompress2(tj, pix, w, 0, h, pf, &jb, &jn, subsamp, quality, flags | TJFLAG_ACCURATEDCT) != 0) {
		print_error("tjCompress2: %s\n", tjGetErrorStr2(tj));
		fail();
	}
	b.p = xmemdup(jb, jn);
	b.n = jn;
	tjFree(jb);
	tjDestroy(tj);
	return b;
}

static struct bytes make_block_jpeg(void)
{
	uint8_t *pix = blocks_rgb();
	struct bytes b = make_jpeg(pix, 48, 32, TJPF_RGB, TJSAMP_444, 100, 0);

	free(pix);
	return b;
}

/* A 64x64 image with detail everywhere, so half of it is half the scan. */
static struct bytes make_noise_jpeg(void)
{
	uint8_t *pix = malloc(64 * 64 * 3);
	struct bytes b;
	int i;

	assert_non_null(pix);
	for (i = 0; i < 64 * 64 * 3; i++)
		pix[i] = (uint8_t)rnd();
	b = make_jpeg(pix, 64, 64, TJPF_RGB, TJSAMP_420, 90, 0);
	free(pix);
	return b;
}

/* Offset of the first segment with this marker before SOS, or 0. */
static size_t jpeg_find_marker(const struct bytes *b, int marker)
{
	size_t pos = 2;

	while (pos + 4 <= b->n && b->p[pos] == 0xff) {
		int m = b->p[pos + 1];

		if (m == marker)
			return pos;
		if (m == 0xda)
			return 0;
		pos += 2 + ((size_t)b->p[pos + 2] << 8 | b->p[pos + 3]);
	}
	return 0;
}

/* Insert seg (a whole marker segment) right after SOI. */
static void jpeg_insert_after_soi(struct bytes *b, const uint8_t *seg, size_t n)
{
	uint8_t *q = malloc(b->n + n);

	assert_non_null(q);
	memcpy(q, b->p, 2);
	memcpy(q + 2, seg, n);
	memcpy(q + 2 + n, b->p + 2, b->n - 2);
	free(b->p);
	b->p = q;
	b->n += n;
}

static void put16(uint8_t *p, unsigned v, int le)
{
	if (le) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	} else {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

static void put32(uint8_t *p, uint32_t v, int le)
{
	if (le) {
		put16(p, v & 0xffff, 1);
		put16(p + 2, v >> 16, 1);
	} else {
		put16(p, v >> 16, 0);
		put16(p + 2, v & 0xffff, 0);
	}
}

enum exif_damage {
	EXIF_OK,
	EXIF_BAD_ORDER,    /* "XY" instead of II/MM */
	EXIF_BAD_MAGIC,    /* 43 instead of 42 */
	EXIF_IFD_PAST_END, /* IFD0 offset beyond the segment */
	EXIF_IFD_HUGE,     /* IFD0 offset 0xffffffff */
	EXIF_COUNT_LIES,   /* 60 entries claimed, 2 present */
	EXIF_WRONG_TYPE,   /* orientation stored as LONG */
	EXIF_SHORT_SEG,    /* segment ends inside the TIFF header */
};

/*
 * An APP1 Exif segment: TIFF header, IFD0 with Make ("abc") then
 * Orientation, no next IFD.
 */
static size_t make_exif(uint8_t *seg, int le, unsigned orientation, enum exif_damage dmg)
{
	uint8_t *t = seg + 10;
	size_t tlen = 8 + 2 + 2 * 12 + 4;

	memcpy(seg + 4, "Exif\0\0", 6);
	t[0] = t[1] = le ? 'I' : 'M';
	put16(t + 2, dmg == EXIF_BAD_MAGIC ? 43 : 42, le);
	put32(t + 4, dmg == EXIF_IFD_PAST_END ? 200 : dmg == EXIF_IFD_HUGE ? 0xffffffffu : 8, le);
	put16(t + 8, dmg == EXIF_COUNT_LIES ? 60 : 2, le);
	put16(t + 10, 0x010f, le);
	put16(t + 12, 2, le);
	put32(t + 14, 4, le);
	memcpy(t + 18, "abc", 4);
	put16(t + 22, 0x0112, le);
	put16(t + 24, dmg == EXIF_WRONG_TYPE ? 4 : 3, le);
	put32(t + 26, 1, le);
	put32(t + 30, 0, le);
	if (dmg == EXIF_WRONG_TYPE)
		put32(t + 30, orientation, le);
	else
		put16(t + 30, orientation, le);
	put32(t + 34, 0, le);
	if (dmg == EXIF_BAD_ORDER) {
		t[0] = 'X';
		t[1] = 'Y';
	}
	if (dmg == EXIF_SHORT_SEG)
		tlen = 4;
	seg[0] = 0xff;
	seg[1] = 0xe1;
	put16(seg + 2, (unsigned)(2 + 6 + tlen), 0);
	return 4 + 6 + tlen;
}

static struct bytes make_block_jpeg_exif(int le, unsigned orientation, enum exif_damage dmg)
{
	struct bytes b = make_block_jpeg();
	uint8_t seg[64];

	jpeg_insert_after_soi(&b, seg, make_exif(seg, le, orientation, dmg));
	return b;
}

/* In-memory PNG writer. */
static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
	struct bytes *b = png_get_io_ptr(png);
	uint8_t *q = realloc(b->p, b->n + n);

	if (!q)
		png_error(png, "out of memory");
	memcpy(q + b->n, data, n);
	b->p = q;
	b->n += n;
}

static void png_flush_cb(png_structp png)
{
	(void)png;
}

struct png_spec {
	int w, h, depth, ctype, interlace;
	const uint8_t *data; /* packed rows, as libpng wants them (16-bit big-endian) */
	const png_color *pal;
	int npal;
	const uint8_t *trns;
	int ntrns;
	int extras; /* add gAMA, sRGB-ish cHRM and a 1 MB zTXt */
};

static struct bytes make_png(const struct png_spec *s)
{
	struct bytes b = { NULL, 0 };
	png_bytep *rows = malloc(sizeof(*rows) * s->h);
	png_structp png;
	png_infop info;
	size_t rowbytes;
	int y;

	assert_non_null(rows);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	assert_non_null(png);
	info = png_create_info_struct(png);
	assert_non_null(info);
	if (setjmp(png_jmpbuf(png)))
		fail_msg("libpng write failed");
	png_set_write_fn(png, &b, png_write_cb, png_flush_cb);
	png_set_IHDR(png, info, s->w, s->h, s->depth, s->ctype, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (s->pal)
		png_set_PLTE(png, info, s->pal, s->npal);
	if (s->trns)
		png_set_tRNS(png, info, s->trns, s->ntrns, NULL);
	if (s->extras) {
		static char big[1 << 20];
		png_text t = { 0 };

		memset(big, 'a', sizeof(big) - 1);
		t.compression = PNG_TEXT_COMPRESSION_zTXt;
		t.key = "Comment";
		t.text = big;
		t.text_length = sizeof(big) - 1;
		png_set_text(png, info, &t, 1);
		png_set_gAMA(png, info, 1.0 / 2.2);
		png_set_cHRM(png, info, 0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06);
	}
	png_write_info(png, info);
	rowbytes = png_get_rowbytes(png, info);
	for (y = 0; y < s->h; y++)
		rows[y] = (png_bytep)s->data + y * rowbytes;
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(rows);
	return b;
}

/* PNG's CRC-32, bitwise; the tests do not link zlib. */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offset of the first chunk of this type, or 0. */
static size_t png_find_chunk(const struct bytes *b, const char *type)
{
	size_t pos = 8;

	while (pos + 12 <= b->n) {
		if (memcmp(b->p + pos + 4, type, 4) == 0)
			return pos;
		pos += 12 + rd32(b->p + pos);
	}
	return 0;
}

/* Recompute every chunk CRC, so a mutation reaches zlib and the filters. */
static void png_fix_crcs(struct bytes *b)
{
	size_t pos = 8;

	while (pos + 12 <= b->n) {
		uint32_t len = rd32(b->p + pos);

		if (len > b->n - pos - 12)
			return;
		put32(b->p + pos + 8 + len, crc32_png(b->p + pos + 4, (size_t)len + 4), 0);
		pos += 12 + len;
	}
}

static struct bytes make_rgb_png(int w, int h, int interlace, uint8_t **pix)
{
	struct png_spec s = { w, h, 8, PNG_COLOR_TYPE_RGB, interlace, NULL, NULL, 0, NULL, 0, 0 };
	uint8_t *d = malloc((size_t)w * h * 3);
	struct bytes b;
	int i;

	assert_non_null(d);
	for (i = 0; i < w * h * 3; i++)
		d[i] = (uint8_t)rnd();
	s.data = d;
	b = make_png(&s);
	if (pix)
		*pix = d;
	else
		free(d);
	return b;
}

static int decode(const struct bytes *b, tvs_image *img)
{
	return tvs_img_decode(b->p, b->n, NULL, img);
}

static int decode_no_exif(const struct bytes *b, tvs_image *img)
{
	tvs_img_opts o;

	tvs_img_default_opts(&o);
	o.ignore_exif = 1;
	return tvs_img_decode(b->p, b->n, &o, img);
}

static void path_in_tmp(char *dst, size_t n, const char *name)
{
	snprintf(dst, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------ basics */

static void opts_defaults(void **state)
{
	tvs_img_opts o;

	(void)state;
	memset(&o, 0xff, sizeof(o));
	tvs_img_default_opts(&o);
	assert_int_equal(o.max_bytes, (size_t)32 << 20);
	assert_int_equal(o.max_pixels, 40000000);
	assert_int_equal(o.max_side, 16384);
	assert_int_equal(o.ignore_exif, 0);
}

static void sniff_formats(void **state)
{
	static const uint8_t jpg[] = { 0xff, 0xd8, 0xff, 0xe0 };
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

	(void)state;
	assert_int_equal(tvs_img_sniff(jpg, sizeof(jpg)), TVS_IMG_JPEG);
	assert_int_equal(tvs_img_sniff(jpg, 2), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff(png, sizeof(png)), TVS_IMG_PNG);
	assert_int_equal(tvs_img_sniff(png, 7), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff("P6\n1 1\n255\n", 11), TVS_IMG_PPM);
	assert_int_equal(tvs_img_sniff("P3\n1 1\n255\n", 11), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff("P6", 2), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff("hello", 5), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff(NULL, 10), TVS_IMG_UNKNOWN);
	assert_int_equal(tvs_img_sniff("", 0), TVS_IMG_UNKNOWN);
}

static void image_alloc_free(void **state)
{
	tvs_image img;

	(void)state;
	assert_int_equal(tvs_image_alloc(&img, 3, 2), 0);
	assert_non_null(img.rgb);
	assert_int_equal(img.width, 3);
	assert_int_equal(img.height, 2);
	memset(img.rgb, 7, 18);
	tvs_image_free(&img);
	assert_zeroed(&img);
	tvs_image_free(&img); /* empty again: fine */
	tvs_image_free(NULL);
	EXPECT_ERR(tvs_image_alloc(&img, 0, 5), TVS_EINVAL);
	assert_zeroed(&img);
	EXPECT_ERR(tvs_image_alloc(&img, 5, -1), TVS_EINVAL);
	EXPECT_ERR(tvs_image_alloc(NULL, 5, 5), TVS_EINVAL);
}

/* ------------------------------------------------------------ JPEG */

static void jpeg_rgb(void **state)
{
	struct bytes b = make_block_jpeg();
	tvs_image img;
	int x, y;

	(void)state;
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 48);
	assert_int_equal(img.height, 32);
	for (y = 0; y < 32; y++)
		for (x = 0; x < 48; x++) {
			const uint8_t *c = block_rgb[block_of(x, y)];

			assert_px_near(&img, x, y, c[0], c[1], c[2], 3);
		}
	tvs_image_free(&img);
	bytes_free(&b);
}

static void jpeg_420_progressive(void **state)
{
	uint8_t *pix = blocks_rgb();
	struct bytes b = make_jpeg(pix, 48, 32, TJPF_RGB, TJSAMP_420, 100, TJFLAG_PROGRESSIVE);
	tvs_image img;
	int x, y;

	(void)state;
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 48);
	assert_int_equal(img.height, 32);
	/* Chroma is shared across 2x2 pixels; stay one pixel off block edges. */
	for (y = 0; y < 32; y++)
		for (x = 0; x < 48; x++) {
			const uint8_t *c = block_rgb[block_of(x, y)];

			if (x % 16 == 0 || x % 16 == 15 || y % 16 == 0 || y % 16 == 15)
				continue;
			assert_px_near(&img, x, y, c[0], c[1], c[2], 4);
		}
	tvs_image_free(&img);
	bytes_free(&b);
	free(pix);
}

static void jpeg_gray(void **state)
{
	uint8_t pix[32 * 16];
	struct bytes b;
	tvs_image img;
	int x, y;

	(void)state;
	for (y = 0; y < 16; y++)
		for (x = 0; x < 32; x++)
			pix[y * 32 + x] = (uint8_t)(20 + 50 * (x / 8) + 100 * (y / 8));
	b = make_jpeg(pix, 32, 16, TJPF_GRAY, TJSAMP_GRAY, 100, 0);
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 32);
	assert_int_equal(img.height, 16);
	for (y = 0; y < 16; y++)
		for (x = 0; x < 32; x++) {
			const uint8_t *p = px(&img, x, y);
			int v = pix[y * 32 + x];

			assert_int_equal(p[0], p[1]);
			assert_int_equal(p[1], p[2]);
			assert_px_near(&img, x, y, v, v, v, 1);
		}
	tvs_image_free(&img);
	bytes_free(&b);
}

/*
 * TurboJPEG writes CMYK as YCCK with an Adobe marker, so the samples are read
 * as inverted (255 - ink) and RGB = sample * K / 255, as browsers do. Block
 * colours are (C,M,Y,K) = (r,g,b,255) -> (r,g,b) exactly, and one block with
 * K = 128 checks the K term.
 */
static void jpeg_cmyk(void **state)
{
	static const uint8_t cmyk_blocks[4][4] = {
		{ 220, 30, 40, 255 }, { 30, 200, 50, 255 }, { 200, 100, 50, 128 }, { 255, 255, 255, 0 },
	};
	uint8_t pix[32 * 32 * 4];
	tvs_image img;
	struct bytes b;
	int x, y, i, w, h, ss, cs;
	tjhandle tj;

	(void)state;
	for (y = 0; y < 32; y++)
		for (x = 0; x < 32; x++)
			memcpy(pix + (y * 32 + x) * 4, cmyk_blocks[(y / 16) * 2 + x / 16], 4);
	b = make_jpeg(pix, 32, 32, TJPF_CMYK, TJSAMP_444, 100, 0);

	tj = tjInitDecompress();
	assert_int_equal(tjDecompressHeader3(tj, b.p, b.n, &w, &h, &ss, &cs), 0);
	assert_int_equal(cs, TJCS_YCCK);
	tjDestroy(tj);
	assert_int_equal(tvs__jpeg_has_adobe_marker(b.p, b.n), 1);

	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 32);
	assert_int_equal(img.height, 32);
	for (y = 0; y < 32; y++)
		for (x = 0; x < 32; x++) {
			const uint8_t *c;

			i = (y / 16) * 2 + x / 16;
			c = cmyk_blocks[i];
			assert_px_near(&img, x, y, c[0] * c[3] / 255, c[1] * c[3] / 255, c[2] * c[3] / 255, 3);
		}
	tvs_image_free(&img);

	/*
	 * Without the Adobe marker the samples are plain ink amounts:
	 * RGB = (255 - ink) * (255 - K) / 255. Strip APP14 and compare with
	 * the raw samples TurboJPEG itself returns for the stripped file.
	 */
	{
		size_t app14 = jpeg_find_marker(&b, 0xee), seglen;
		uint8_t raw[32 * 32 * 4];

		assert_true(app14 > 0);
		seglen = 2 + ((size_t)b.p[app14 + 2] << 8 | b.p[app14 + 3]);
		memmove(b.p + app14, b.p + app14 + seglen, b.n - app14 - seglen);
		b.n -= seglen;
		assert_int_equal(tvs__jpeg_has_adobe_marker(b.p, b.n), 0);
		tj = tjInitDecompress();
		assert_int_equal(tjDecompress2(tj, b.p, b.n, raw, 32, 0, 32, TJPF_CMYK, 0), 0);
		tjDestroy(tj);
		assert_int_equal(decode(&b, &img), 0);
		for (i = 0; i < 32 * 32; i++) {
			const uint8_t *q = raw + i * 4;
			int k = 255 - q[3];

			assert_px_near(&img, i % 32, i / 32, (255 - q[0]) * k / 255, (255 - q[1]) * k / 255,
				       (255 - q[2]) * k / 255, 0);
		}
		tvs_image_free(&img);
	}
	bytes_free(&b);
}

static void jpeg_1x1(void **state)
{
	static const uint8_t pix[3] = { 10, 200, 90 };
	struct bytes b = make_jpeg(pix, 1, 1, TJPF_RGB, TJSAMP_444, 100, 0);
	tvs_image img;

	(void)state;
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 1);
	assert_int_equal(img.height, 1);
	assert_px_near(&img, 0, 0, 10, 200, 90, 3);
	tvs_image_free(&img);
	bytes_free(&b);
}

static void jpeg_truncated(void **state)
{
	struct bytes b = make_noise_jpeg();
	tvs_image img;
	size_t cut;

	(void)state;
	EXPECT_ERR(tvs_img_decode(b.p, b.n / 2, NULL, &img), TVS_EFORMAT);
	assert_zeroed(&img);
	/* Only the EOI missing: libjpeg calls that a warning; we do not. */
	EXPECT_ERR(tvs_img_decode(b.p, b.n - 2, NULL, &img), TVS_EFORMAT);
	/* Cut inside the header segments. */
	for (cut = 3; cut < 200 && cut < b.n; cut += 7)
		EXPECT_ERR(tvs_img_decode(b.p, cut, NULL, &img), TVS_EFORMAT);
	bytes_free(&b);
}

static void jpeg_corrupt(void **state)
{
	struct bytes b = make_noise_jpeg();
	size_t sos = jpeg_find_marker(&b, 0xda), scan, i;
	uint8_t *junk;
	tvs_image img;

	(void)state;
	assert_true(sos > 0);
	scan = sos + 2 + ((size_t)b.p[sos + 2] << 8 | b.p[sos + 3]);

	/* Random bytes after SOI. */
	junk = xmemdup(b.p, b.n);
	for (i = 2; i < b.n; i++)
		junk[i] = (uint8_t)rnd();
	junk[2] = 0xff; /* still sniffed as JPEG, so libjpeg sees the junk */
	EXPECT_ERR(tvs_img_decode(junk, b.n, NULL, &img), TVS_EFORMAT);
	assert_zeroed(&img);
	/* Without the marker prefix it is not a JPEG at all. */
	junk[2] = 0x12;
	EXPECT_ERR(tvs_img_decode(junk, b.n, NULL, &img), TVS_EUNSUPPORTED);
	free(junk);

	/* An EOI in the middle of the entropy-coded data. */
	junk = xmemdup(b.p, b.n);
	i = scan + (b.n - scan) / 2;
	junk[i] = 0xff;
	junk[i + 1] = 0xd9;
	EXPECT_ERR(tvs_img_decode(junk, b.n, NULL, &img), TVS_EFORMAT);
	free(junk);

	/* A reserved marker in the scan. */
	junk = xmemdup(b.p, b.n);
	junk[i] = 0xff;
	junk[i + 1] = 0x05;
	EXPECT_ERR(tvs_img_decode(junk, b.n, NULL, &img), TVS_EFORMAT);
	free(junk);

	/* Quantisation table cut short: a header lie. */
	junk = xmemdup(b.p, b.n);
	i = jpeg_find_marker(&b, 0xdb);
	assert_true(i > 0);
	junk[i + 2] = 0;
	junk[i + 3] = 3;
	EXPECT_ERR(tvs_img_decode(junk, b.n, NULL, &img), TVS_EFORMAT);
	free(junk);
	bytes_free(&b);
}

/* Patch the SOF dimensions of a valid tiny JPEG. */
static void jpeg_set_size(struct bytes *b, unsigned w, unsigned h)
{
	size_t sof = jpeg_find_marker(b, 0xc0);

	assert_true(sof > 0);
	put16(b->p + sof + 5, h, 0);
	put16(b->p + sof + 7, w, 0);
}

static void jpeg_bomb(void **state)
{
	struct bytes b = make_block_jpeg();
	tvs_image img;

	(void)state;
	/* Refused from the header: ETOOBIG, not ENOMEM, and nothing allocated. */
	jpeg_set_size(&b, 60000, 60000);
	EXPECT_ERR(decode(&b, &img), TVS_ETOOBIG);
	assert_zeroed(&img);
	/* Sides within 16384 but 100 Mpx in all. */
	jpeg_set_size(&b, 10000, 10000);
	EXPECT_ERR(decode(&b, &img), TVS_ETOOBIG);
	bytes_free(&b);
}

/* Seeded damage anywhere in the file: any outcome but a crash is fine, and
 * a failure must be clean. */
static void check_mutant(const uint8_t *p, size_t n)
{
	tvs_image img;
	int rc;

	tvs_err_clear();
	rc = tvs_img_decode(p, n, NULL, &img);
	if (rc == 0) {
		assert_true(img.width > 0 && img.height > 0);
		assert_non_null(img.rgb);
		tvs_image_free(&img);
		return;
	}
	assert_true(rc == TVS_EFORMAT || rc == TVS_EUNSUPPORTED || rc == TVS_ETOOBIG);
	assert_true(tvs_errmsg()[0] != '\0');
	assert_zeroed(&img);
}

static void jpeg_mutations(void **state)
{
	struct bytes b = make_block_jpeg_exif(1, 6, EXIF_OK);
	int iter, k;

	(void)state;
	for (iter = 0; iter < 400; iter++) {
		/* Exactly sized copies, so ASan sees any over-read. */
		size_t n = iter % 5 == 0 ? 1 + rnd() % b.n : b.n;
		uint8_t *m = xmemdup(b.p, n);

		for (k = 0; k < 1 + iter % 4; k++) {
			/* Headers are dense in the first 700 bytes; aim there often. */
			size_t at = iter % 2 ? rnd() % n : rnd() % (n < 700 ? n : 700);

			m[at] = (uint8_t)(iter % 3 ? rnd() : m[at] ^ (1u << (rnd() % 8)));
		}
		check_mutant(m, n);
		free(m);
	}
	bytes_free(&b);
}

/* ------------------------------------------------------------ EXIF */

/* Where output pixel (x, y) of an orientation-o image comes from in the
 * stored w x h image (EXIF 2.32, tag 0x0112). */
static void exif_src(int o, int w, int h, int x, int y, int *sx, int *sy)
{
	switch (o) {
	case 1: *sx = x;         *sy = y;         break;
	case 2: *sx = w - 1 - x; *sy = y;         break;
	case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
	case 4: *sx = x;         *sy = h - 1 - y; break;
	case 5: *sx = y;         *sy = x;         break;
	case 6: *sx = y;         *sy = h - 1 - x; break;
	case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
	default: *sx = w - 1 - y; *sy = x;        break;
	}
}

static void reorient_all(void **state)
{
	tvs_image src, img;
	int o, x, y, i;

	(void)state;
	assert_int_equal(tvs_image_alloc(&src, 3, 2), 0);
	for (i = 0; i < 18; i++)
		src.rgb[i] = (uint8_t)i;
	for (o = 1; o <= 8; o++) {
		assert_int_equal(tvs_image_alloc(&img, 3, 2), 0);
		memcpy(img.rgb, src.rgb, 18);
		assert_int_equal(tvs__img_reorient(&img, o), 0);
		assert_int_equal(img.width, o >= 5 ? 2 : 3);
		assert_int_equal(img.height, o >= 5 ? 3 : 2);
		for (y = 0; y < img.height; y++)
			for (x = 0; x < img.width; x++) {
				int sx, sy;

				exif_src(o, 3, 2, x, y, &sx, &sy);
				assert_memory_equal(px(&img, x, y), px(&src, sx, sy), 3);
			}
		tvs_image_free(&img);
	}
	assert_int_equal(tvs_image_alloc(&img, 3, 2), 0);
	EXPECT_ERR(tvs__img_reorient(&img, 0), TVS_EINVAL);
	EXPECT_ERR(tvs__img_reorient(&img, 9), TVS_EINVAL);
	assert_int_equal(img.width, 3);
	tvs_image_free(&img);
	tvs_image_free(&src);
}

static void exif_orientations(void **state)
{
	tvs_image plain, img;
	int le, o, x, y;

	(void)state;
	for (le = 0; le <= 1; le++) {
		for (o = 1; o <= 8; o++) {
			struct bytes b = make_block_jpeg_exif(le, (unsigned)o, EXIF_OK);

			assert_int_equal(tvs__exif_orientation(b.p, b.n), o);
			assert_int_equal(decode_no_exif(&b, &plain), 0);
			assert_int_equal(plain.width, 48);
			assert_int_equal(plain.height, 32);
			assert_int_equal(decode(&b, &img), 0);
			assert_int_equal(img.width, o >= 5 ? 32 : 48);
			assert_int_equal(img.height, o >= 5 ? 48 : 32);
			for (y = 0; y < img.height; y++)
				for (x = 0; x < img.width; x++) {
					int sx, sy;

					exif_src(o, 48, 32, x, y, &sx, &sy);
					assert_memory_equal(px(&img, x, y), px(&plain, sx, sy), 3);
				}
			/* Semantics, independently: 6 turns clockwise, so the stored
			 * top row becomes the right column; 8 makes it the left
			 * column read upwards; 3 puts it at the bottom, reversed. */
			if (o == 6)
				for (x = 0; x < 48; x++)
					assert_memory_equal(px(&img, 31, x), px(&plain, x, 0), 3);
			if (o == 8)
				for (x = 0; x < 48; x++)
					assert_memory_equal(px(&img, 0, 47 - x), px(&plain, x, 0), 3);
			if (o == 3)
				for (x = 0; x < 48; x++)
					assert_memory_equal(px(&img, 47 - x, 31), px(&plain, x, 0), 3);
			tvs_image_free(&img);
			tvs_image_free(&plain);
			bytes_free(&b);
		}
	}
}

static void exif_malformed(void **state)
{
	static const enum exif_damage dmg[] = {
		EXIF_BAD_ORDER, EXIF_BAD_MAGIC, EXIF_IFD_PAST_END, EXIF_IFD_HUGE,
		EXIF_COUNT_LIES, EXIF_WRONG_TYPE, EXIF_SHORT_SEG,
	};
	tvs_image plain, img;
	size_t i;
	int le;

	(void)state;
	for (le = 0; le <= 1; le++)
		for (i = 0; i < sizeof(dmg) / sizeof(dmg[0]); i++) {
			struct bytes b = make_block_jpeg_exif(le, 6, dmg[i]);

			assert_int_equal(tvs__exif_orientation(b.p, b.n), 1);
			assert_int_equal(decode(&b, &img), 0);
			assert_int_equal(decode_no_exif(&b, &plain), 0);
			assert_int_equal(img.width, 48);
			assert_int_equal(img.height, 32);
			assert_memory_equal(img.rgb, plain.rgb, 48 * 32 * 3);
			tvs_image_free(&img);
			tvs_image_free(&plain);
			bytes_free(&b);
		}
	/* Orientation values outside 1..8 mean "leave it". */
	{
		struct bytes b = make_block_jpeg_exif(1, 9, EXIF_OK);

		assert_int_equal(tvs__exif_orientation(b.p, b.n), 1);
		bytes_free(&b);
		b = make_block_jpeg_exif(0, 0, EXIF_OK);
		assert_int_equal(tvs__exif_orientation(b.p, b.n), 1);
		bytes_free(&b);
	}
	/* No EXIF at all, and not a JPEG at all. */
	{
		struct bytes b = make_block_jpeg();

		assert_int_equal(tvs__exif_orientation(b.p, b.n), 1);
		assert_int_equal(tvs__exif_orientation((const uint8_t *)"hello", 5), 1);
		assert_int_equal(tvs__exif_orientation(NULL, 0), 1);
		bytes_free(&b);
	}
}

static void exif_ignored_on_request(void **state)
{
	struct bytes b = make_block_jpeg_exif(0, 6, EXIF_OK);
	tvs_image img;

	(void)state;
	assert_int_equal(decode_no_exif(&b, &img), 0);
	assert_int_equal(img.width, 48);
	assert_int_equal(img.height, 32);
	assert_px_near(&img, 0, 0, block_rgb[0][0], block_rgb[0][1], block_rgb[0][2], 3);
	tvs_image_free(&img);
	bytes_free(&b);
}

/* The parser alone, on every prefix and on seeded damage of the APP1 bytes,
 * each in an exactly sized buffer. */
static void exif_parser_fuzz(void **state)
{
	struct bytes b = make_block_jpeg_exif(1, 6, EXIF_OK);
	size_t n, i;

	(void)state;
	for (n = 0; n < 64; n++) {
		uint8_t *m = xmemdup(b.p, n);
		int o = tvs__exif_orientation(m, n);

		assert_in_range(o, 1, 8);
		assert_in_range(tvs__jpeg_has_adobe_marker(m, n), 0, 1);
		free(m);
	}
	for (i = 0; i < 3000; i++) {
		uint8_t *m;
		int o;

		n = 3 + rnd() % 61;
		m = xmemdup(b.p, n);
		m[2 + rnd() % (n - 2)] = (uint8_t)rnd();
		if (i % 2)
			m[2 + rnd() % (n - 2)] = (uint8_t)rnd();
		o = tvs__exif_orientation(m, n);
		assert_in_range(o, 1, 8);
		free(m);
	}
	bytes_free(&b);
}

/* ------------------------------------------------------------ PNG */

static void png_gray(void **state)
{
	uint8_t d8[5 * 3], d2[3 * 2];
	struct png_spec s = { 5, 3, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, d8, NULL, 0, NULL, 0, 0 };
	struct bytes b;
	tvs_image img;
	int x, y;

	(void)state;
	for (y = 0; y < 3; y++)
		for (x = 0; x < 5; x++)
			d8[y * 5 + x] = (uint8_t)(x * 50 + y * 7);
	b = make_png(&s);
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 5);
	assert_int_equal(img.height, 3);
	for (y = 0; y < 3; y++)
		for (x = 0; x < 5; x++) {
			int v = x * 50 + y * 7;

			assert_px_near(&img, x, y, v, v, v, 0);
		}
	tvs_image_free(&img);
	bytes_free(&b);

	/* 2-bit gray, 6x2: levels 0..3 scale to 0, 85, 170, 255. One byte per
	 * row holds 4 pixels, so each row is 2 bytes. */
	s = (struct png_spec){ 6, 2, 2, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, d2, NULL, 0, NULL, 0, 0 };
	d2[0] = 0x1b; /* 0 1 2 3 */
	d2[1] = 0xf0; /* 3 3 . . */
	d2[2] = 0xe4; /* 3 2 1 0 */
	d2[3] = 0x00;
	b = make_png(&s);
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 6);
	assert_px_near(&img, 0, 0, 0, 0, 0, 0);
	assert_px_near(&img, 1, 0, 85, 85, 85, 0);
	assert_px_near(&img, 2, 0, 170, 170, 170, 0);
	assert_px_near(&img, 3, 0, 255, 255, 255, 0);
	assert_px_near(&img, 5, 0, 255, 255, 255, 0);
	assert_px_near(&img, 0, 1, 255, 255, 255, 0);
	assert_px_near(&img, 3, 1, 0, 0, 0, 0);
	tvs_image_free(&img);
	bytes_free(&b);
}

/* 16-bit samples scale with rounding, v*255/65535, as pngjs does. */
static void png_rgb16(void **state)
{
	static const uint16_t edge[] = { 0, 1, 128, 129, 32767, 32768, 65534, 65535, 257 * 100, 257 * 100 + 128 };
	enum { W = 7, H = 5 };
	uint8_t d[W * H * 6];
	uint16_t v[W * H * 3];
	struct png_spec s = { W, H, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, d, NULL, 0, NULL, 0, 0 };
	struct bytes b;
	tvs_image img;
	int i;

	(void)state;
	for (i = 0; i < W * H * 3; i++) {
		v[i] = i < (int)(sizeof(edge) / sizeof(edge[0])) ? edge[i] : (uint16_t)rnd();
		d[2 * i] = (uint8_t)(v[i] >> 8);
		d[2 * i + 1] = (uint8_t)v[i];
	}
	b = make_png(&s);
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, W);
	assert_int_equal(img.height, H);
	for (i = 0; i < W * H * 3; i++)
		assert_int_equal(img.rgb[i], (int)floor(v[i] * 255.0 / 65535.0 + 0.5));
	tvs_image_free(&img);
	bytes_free(&b);
}

static void png_palette(void **state)
{
	static const png_color pal[4] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 12, 34, 56 } };
	static const uint8_t trns[2] = { 0, 128 }; /* dropped, not composited */
	uint8_t d8[4 * 2] = { 0, 1, 2, 3, 3, 2, 1, 0 };
	uint8_t d4[2 * 2] = { 0x01, 0x23, 0x32, 0x10 };
	struct png_spec s = { 4, 2, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, d8, pal, 4, trns, 2, 0 };
	int pass, i;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		struct bytes b;
		tvs_image img;

		if (pass == 1) {
			s.depth = 4;
			s.data = d4;
		}
		b = make_png(&s);
		assert_int_equal(decode(&b, &img), 0);
		assert_int_equal(img.width, 4);
		assert_int_equal(img.height, 2);
		for (i = 0; i < 8; i++) {
			const png_color *c = &pal[d8[i]];

			assert_px_near(&img, i % 4, i / 4, c->red, c->green, c->blue, 0);
		}
		tvs_image_free(&img);
		bytes_free(&b);
	}
}

static void png_alpha(void **state)
{
	enum { W = 6, H = 4 };
	uint8_t rgba[W * H * 4], ga[W * H * 2];
	struct png_spec s = { W, H, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, rgba, NULL, 0, NULL, 0, 0 };
	struct bytes b;
	tvs_image img;
	int i;

	(void)state;
	for (i = 0; i < W * H * 4; i++)
		rgba[i] = (uint8_t)rnd();
	rgba[3] = 0; /* fully transparent but coloured: colour must survive */
	rgba[7] = 128;
	b = make_png(&s);
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, W);
	for (i = 0; i < W * H; i++)
		assert_memory_equal(img.rgb + i * 3, rgba + i * 4, 3);
	tvs_image_free(&img);
	bytes_free(&b);

	for (i = 0; i < W * H * 2; i++)
		ga[i] = (uint8_t)rnd();
	s = (struct png_spec){ W, H, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, ga, NULL, 0, NULL, 0, 0 };
	b = make_png(&s);
	assert_int_equal(decode(&b, &img), 0);
	for (i = 0; i < W * H; i++)
		assert_px_near(&img, i % W, i / W, ga[2 * i], ga[2 * i], ga[2 * i], 0);
	tvs_image_free(&img);
	bytes_free(&b);
}

static void png_interlaced(void **state)
{
	uint8_t *pix;
	struct bytes b = make_rgb_png(13, 11, PNG_INTERLACE_ADAM7, &pix);
	tvs_image img;

	(void)state;
	assert_int_equal(b.p[8 + 8 + 12], 1); /* IHDR interlace byte */
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 13);
	assert_int_equal(img.height, 11);
	assert_memory_equal(img.rgb, pix, 13 * 11 * 3);
	tvs_image_free(&img);
	bytes_free(&b);
	free(pix);
}

/* Gamma, chromaticities and a zTXt that inflates to 1 MB are all skipped:
 * the pixels come out as stored, with no colour management. */
static void png_ancillary(void **state)
{
	enum { W = 9, H = 7 };
	uint8_t d[W * H * 3];
	struct png_spec s = { W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, d, NULL, 0, NULL, 0, 1 };
	struct bytes b;
	tvs_image img;
	int i;

	(void)state;
	for (i = 0; i < W * H * 3; i++)
		d[i] = (uint8_t)rnd();
	b = make_png(&s);
	assert_true(png_find_chunk(&b, "zTXt") > 0);
	assert_true(png_find_chunk(&b, "gAMA") > 0);
	assert_int_equal(decode(&b, &img), 0);
	assert_memory_equal(img.rgb, d, sizeof(d));
	tvs_image_free(&img);
	bytes_free(&b);
}

static void png_1x1(void **state)
{
	uint8_t *pix;
	struct bytes b = make_rgb_png(1, 1, PNG_INTERLACE_NONE, &pix);
	tvs_image img;

	(void)state;
	assert_int_equal(decode(&b, &img), 0);
	assert_int_equal(img.width, 1);
	assert_int_equal(img.height, 1);
	assert_memory_equal(img.rgb, pix, 3);
	tvs_image_free(&img);
	bytes_free(&b);
	free(pix);
}

static void png_truncated(void **state)
{
	struct bytes b = make_rgb_png(40, 30, PNG_INTERLACE_NONE, NULL);
	size_t iend = png_find_chunk(&b, "IEND"), cut;
	tvs_image img;

	(void)state;
	assert_true(iend > 0);
	EXPECT_ERR(tvs_img_decode(b.p, b.n / 2, NULL, &img), TVS_EFORMAT);
	assert_zeroed(&img);
	/* All pixels present, IEND missing: still a truncated file. */
	EXPECT_ERR(tvs_img_decode(b.p, iend, NULL, &img), TVS_EFORMAT);
	for (cut = 8; cut < 60; cut += 5)
		EXPECT_ERR(tvs_img_decode(b.p, cut, NULL, &img), TVS_EFORMAT);
	bytes_free(&b);
}

static void png_bad_crc(void **state)
{
	struct bytes b = make_rgb_png(40, 30, PNG_INTERLACE_NONE, NULL);
	size_t idat = png_find_chunk(&b, "IDAT");
	tvs_image img;

	(void)state;
	assert_true(idat > 0);
	b.p[idat + 8 + 5] ^= 0x40;
	EXPECT_ERR(decode(&b, &img), TVS_EFORMAT);
	assert_zeroed(&img);
	b.p[idat + 8 + 5] ^= 0x40;
	assert_int_equal(decode(&b, &img), 0);
	tvs_image_free(&img);
	/* The IHDR CRC too. */
	b.p[8 + 8 + 13] ^= 1;
	EXPECT_ERR(decode(&b, &img), TVS_EFORMAT);
	bytes_free(&b);
}

static void png_set_size(struct bytes *b, uint32_t w, uint32_t h)
{
	put32(b->p + 16, w, 0);
	put32(b->p + 20, h, 0);
	put32(b->p + 29, crc32_png(b->p + 12, 17), 0);
}

static void png_bomb(void **state)
{
	struct bytes b = make_rgb_png(8, 8, PNG_INTERLACE_NONE, NULL);
	tvs_image img;

	(void)state;
	png_set_size(&b, 100000, 100000);
	EXPECT_ERR(decode(&b, &img), TVS_ETOOBIG);
	assert_zeroed(&img);
	png_set_size(&b, 16000, 16000);
	EXPECT_ERR(decode(&b, &img), TVS_ETOOBIG);
	/* Zero width is a format error, not a size one. */
	png_set_size(&b, 0, 8);
	EXPECT_ERR(decode(&b, &img), TVS_EFORMAT);
	bytes_free(&b);
}

static void png_mutations(void **state)
{
	struct bytes b = make_rgb_png(24, 20, PNG_INTERLACE_ADAM7, NULL);
	int iter, k;

	(void)state;
	for (iter = 0; iter < 400; iter++) {
		size_t n = iter % 5 == 0 ? 1 + rnd() % b.n : b.n;
		struct bytes m = { xmemdup(b.p, n), n };

		for (k = 0; k < 1 + iter % 3; k++) {
			size_t at = rnd() % n;

			m.p[at] = (uint8_t)(iter % 3 ? rnd() : m.p[at] ^ (1u << (rnd() % 8)));
		}
		/* Most runs re-sign the chunks so the damage gets past the CRC. */
		if (iter % 4)
			png_fix_crcs(&m);
		check_mutant(m.p, m.n);
		bytes_free(&m);
	}
	bytes_free(&b);
}

/* ------------------------------------------------------------ PPM and bad inputs */

static void ppm_parse(void **state)
{
	static const char good[] = "P6\n# a comment\n2 # another\n1\n#c\n255\n\x01\x02\x03\xfa\xfb\xfc";
	static const char tab[] = "P6\t2\r1 255\t\x01\x02\x03\xfa\xfb\xfc";
	tvs_image img;

	(void)state;
	assert_int_equal(tvs_img_decode(good, sizeof(good) - 1, NULL, &img), 0);
	assert_int_equal(img.width, 2);
	assert_int_equal(img.height, 1);
	assert_memory_equal(img.rgb, "\x01\x02\x03\xfa\xfb\xfc", 6);
	tvs_image_free(&img);
	assert_int_equal(tvs_img_decode(tab, sizeof(tab) - 1, NULL, &img), 0);
	assert_memory_equal(img.rgb, "\x01\x02\x03\xfa\xfb\xfc", 6);
	tvs_image_free(&img);
	/* Samples may start with a whitespace byte: only one is consumed. */
	assert_int_equal(tvs_img_decode("P6 1 1 255\n\n\n\n", 14, NULL, &img), 0);
	assert_memory_equal(img.rgb, "\n\n\n", 3);
	tvs_image_free(&img);
	/* 1x1 is an image. */
	assert_int_equal(tvs_img_decode("P6 1 1 255 abc", 14, NULL, &img), 0);
	assert_memory_equal(img.rgb, "abc", 3);
	tvs_image_free(&img);

	EXPECT_ERR(tvs_img_decode(good, sizeof(good) - 2, NULL, &img), TVS_EFORMAT); /* truncated */
	assert_zeroed(&img);
	EXPECT_ERR(tvs_img_decode("P6 2 1 255", 10, NULL, &img), TVS_EFORMAT);        /* header ends */
	EXPECT_ERR(tvs_img_decode("P6 2 1 255#\n123456", 18, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 2 1 65535\n123456789012", 25, NULL, &img), TVS_EUNSUPPORTED);
	EXPECT_ERR(tvs_img_decode("P6 2 1 0\n123456", 15, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 2 1 70000\n123456", 19, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 0 1 255\n", 11, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 x 1 255\n", 11, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 -2 1 255\n", 12, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 2x 1 255\n", 12, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 99999999999999999999999 1 255\n", 33, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P6 20000 1 255\n", 15, NULL, &img), TVS_ETOOBIG);
	EXPECT_ERR(tvs_img_decode("P6 8000 8000 255\n", 17, NULL, &img), TVS_ETOOBIG);
	EXPECT_ERR(tvs_img_decode("P6 # only a comment", 19, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode("P3 1 1 255\n1 2 3\n", 17, NULL, &img), TVS_EUNSUPPORTED);
}

static void bad_inputs(void **state)
{
	static const char text[] = "Hello, this is not an image at all.\n";
	struct bytes b = make_block_jpeg();
	tvs_img_opts o;
	tvs_image img;

	(void)state;
	EXPECT_ERR(tvs_img_decode("", 0, NULL, &img), TVS_EFORMAT);
	assert_zeroed(&img);
	EXPECT_ERR(tvs_img_decode(NULL, 0, NULL, &img), TVS_EFORMAT);
	EXPECT_ERR(tvs_img_decode(NULL, 5, NULL, &img), TVS_EINVAL);
	EXPECT_ERR(tvs_img_decode(text, sizeof(text) - 1, NULL, &img), TVS_EUNSUPPORTED);
	assert_non_null(strstr(tvs_errmsg(), "not a JPEG, PNG or PPM image"));
	assert_zeroed(&img);
	EXPECT_ERR(tvs_img_decode(text, 1, NULL, &img), TVS_EUNSUPPORTED);
	EXPECT_ERR(tvs_img_decode(text, 1, NULL, NULL), TVS_EINVAL);

	tvs_img_default_opts(&o);
	o.max_bytes = b.n - 1;
	EXPECT_ERR(tvs_img_decode(b.p, b.n, &o, &img), TVS_ETOOBIG);
	assert_zeroed(&img);
	o.max_bytes = b.n;
	assert_int_equal(tvs_img_decode(b.p, b.n, &o, &img), 0);
	tvs_image_free(&img);
	o.max_side = 47;
	EXPECT_ERR(tvs_img_decode(b.p, b.n, &o, &img), TVS_ETOOBIG);
	o.max_side = 48;
	o.max_pixels = 48 * 32 - 1;
	EXPECT_ERR(tvs_img_decode(b.p, b.n, &o, &img), TVS_ETOOBIG);
	o.max_side = 0;
	EXPECT_ERR(tvs_img_decode(b.p, b.n, &o, &img), TVS_EINVAL);
	bytes_free(&b);
}

/* ------------------------------------------------------------ files */

static void files(void **state)
{
	struct bytes b = make_block_jpeg();
	char path[128], missing[128];
	tvs_image img, back, direct;
	tvs_img_opts o;
	int i;

	(void)state;
	/* PPM round trip through the writer. */
	assert_int_equal(tvs_image_alloc(&img, 5, 3), 0);
	for (i = 0; i < 45; i++)
		img.rgb[i] = (uint8_t)(i * 5);
	path_in_tmp(path, sizeof(path), "a.ppm");
	assert_int_equal(tvs_img_write_ppm(path, &img), 0);
	assert_int_equal(tvs_img_read_file(path, NULL, &back), 0);
	assert_int_equal(back.width, 5);
	assert_int_equal(back.height, 3);
	assert_memory_equal(back.rgb, img.rgb, 45);
	tvs_image_free(&back);

	/* The same bytes read from a file and from memory. */
	path_in_tmp(path, sizeof(path), "b.jpg");
	write_file(path, b.p, b.n);
	assert_int_equal(tvs_img_read_file(path, NULL, &back), 0);
	assert_int_equal(decode(&b, &direct), 0);
	assert_int_equal(back.width, direct.width);
	assert_memory_equal(back.rgb, direct.rgb, 48 * 32 * 3);
	tvs_image_free(&back);
	tvs_image_free(&direct);

	/* Over max_bytes: refused from fstat, before reading. */
	tvs_img_default_opts(&o);
	o.max_bytes = b.n - 1;
	EXPECT_ERR(tvs_img_read_file(path, &o, &back), TVS_ETOOBIG);
	assert_zeroed(&back);

	/* Empty file. */
	path_in_tmp(path, sizeof(path), "empty.png");
	write_file(path, "", 0);
	EXPECT_ERR(tvs_img_read_file(path, NULL, &back), TVS_EFORMAT);

	path_in_tmp(missing, sizeof(missing), "no-such-file.jpg");
	EXPECT_ERR(tvs_img_read_file(missing, NULL, &back), TVS_ENOTFOUND);
	assert_non_null(strstr(tvs_errmsg(), missing));
	assert_zeroed(&back);
	EXPECT_ERR(tvs_img_read_file(tmpdir, NULL, &back), TVS_EIO);
	EXPECT_ERR(tvs_img_read_file(NULL, NULL, &back), TVS_EINVAL);

	path_in_tmp(path, sizeof(path), "no-such-dir/x.ppm");
	EXPECT_ERR(tvs_img_write_ppm(path, &img), TVS_EIO);
	tvs_image_free(&img);
	EXPECT_ERR(tvs_img_write_ppm(path, &img), TVS_EINVAL);
	bytes_free(&b);
}

/* Non-regular files take the growing-buffer path, still bounded. */
static void files_pipe(void **state)
{
	tvs_img_opts o;
	tvs_image img;

	(void)state;
	if (access("/dev/zero", R_OK) != 0)
		skip();
	tvs_img_default_opts(&o);
	o.max_bytes = 300000;
	EXPECT_ERR(tvs_img_read_file("/dev/zero", &o, &img), TVS_ETOOBIG);
	assert_zeroed(&img);
	EXPECT_ERR(tvs_img_read_file("/dev/null", &o, &img), TVS_EFORMAT);
}

/* ------------------------------------------------------------ resampling */

/*
 * face-api padToSquare + resizeBilinear in double, materialising the pad.
 * With float_coords the sample positions are rounded as float32 the way the
 * tfjs wasm kernel computes them (scale = side/S, then scale*r, in float);
 * without, everything is double, as the tfjs cpu backend does.
 */
static void ref_crop_square_resize(const tvs_image *img, tvs_rect r, int S, int centered, int float_coords,
				   double *out)
{
	int side = r.width > r.height ? r.width : r.height;
	int d = abs(r.width - r.height);
	int after = (int)floor(d * (centered ? 0.5 : 1.0) + 0.5); /* JS Math.round */
	int before = centered ? d - after : 0;
	double *pad = calloc((size_t)side * side * 3, sizeof(double));
	int x, y, c, ox, oy;

	assert_non_null(pad);
	for (y = 0; y < r.height; y++)
		for (x = 0; x < r.width; x++)
			for (c = 0; c < 3; c++) {
				int py = r.height > r.width ? y : y + before;
				int qx = r.height > r.width ? x + before : x;

				pad[((size_t)py * side + qx) * 3 + c] = px(img, r.x + x, r.y + y)[c];
			}
	for (oy = 0; oy < S; oy++)
		for (ox = 0; ox < S; ox++)
			for (c = 0; c < 3; c++) {
				double fy, fx, dy, dx, tl, tr, bl, br, top, bot;
				int y0, y1, x0, x1;

				if (side == S) {
					out[((size_t)oy * S + ox) * 3 + c] = pad[((size_t)oy * S + ox) * 3 + c];
					continue;
				}
				if (float_coords) {
					float sc = (float)side / (float)S;

					fy = (float)(sc * (float)oy);
					fx = (float)(sc * (float)ox);
				} else {
					fy = (double)side / S * oy;
					fx = (double)side / S * ox;
				}
				y0 = (int)fmax(0, floor(fy));
				y1 = (int)fmin(side - 1, ceil(fy));
				x0 = (int)fmax(0, floor(fx));
				x1 = (int)fmin(side - 1, ceil(fx));
				dy = fy - y0;
				dx = fx - x0;
				tl = pad[((size_t)y0 * side + x0) * 3 + c];
				tr = pad[((size_t)y0 * side + x1) * 3 + c];
				bl = pad[((size_t)y1 * side + x0) * 3 + c];
				br = pad[((size_t)y1 * side + x1) * 3 + c];
				top = tl + (tr - tl) * dx;
				bot = bl + (br - bl) * dx;
				out[((size_t)oy * S + ox) * 3 + c] = top + (bot - top) * dy;
			}
	free(pad);
}

static void resample_vs_reference(void **state)
{
	static const int sizes[] = { 1, 2, 7, 16, 37, 112, 150 };
	tvs_image img;
	int iter, i;

	(void)state;
	assert_int_equal(tvs_image_alloc(&img, 97, 83), 0);
	for (i = 0; i < 97 * 83 * 3; i++)
		img.rgb[i] = (uint8_t)rnd();
	for (iter = 0; iter < 120; iter++) {
		tvs_rect r;
		int S = sizes[iter % 7], centered = (iter / 7) % 2;
		double *want, *want_d, maxerr = 0, maxerr_d = 0;
		float *got;

		r.width = 1 + (int)(rnd() % 97);
		r.height = 1 + (int)(rnd() % 83);
		/* Every few rounds, a square crop or one whose side equals S. */
		if (iter % 11 == 0)
			r.height = r.width < 83 ? r.width : 83;
		if (iter % 13 == 0 && S <= 83) {
			r.width = S;
			r.height = 1 + (int)(rnd() % S);
		}
		r.x = (int)(rnd() % (97 - r.width + 1));
		r.y = (int)(rnd() % (83 - r.height + 1));
		got = malloc(sizeof(float) * S * S * 3);
		want = malloc(sizeof(double) * S * S * 3);
		want_d = malloc(sizeof(double) * S * S * 3);
		assert_non_null(got);
		assert_non_null(want);
		assert_non_null(want_d);
		tvs_img_crop_square_resize(&img, r, S, centered, got);
		ref_crop_square_resize(&img, r, S, centered, 1, want);
		ref_crop_square_resize(&img, r, S, centered, 0, want_d);
		for (i = 0; i < S * S * 3; i++) {
			maxerr = fmax(maxerr, fabs(got[i] - want[i]));
			maxerr_d = fmax(maxerr_d, fabs(got[i] - want_d[i]));
		}
		/*
		 * Same sample positions: only float rounding of the blend is
		 * left. All-double positions differ by an ulp of the coordinate
		 * times the local gradient, which on white noise (255 per pixel)
		 * reaches a few 1e-3; any wrong tap or pad would be >= 1.
		 */
		if (maxerr > 2e-3 || maxerr_d > 2e-2) {
			print_error("crop %dx%d+%d+%d S=%d centered=%d: max error %g (all-double %g)\n",
				    r.width, r.height, r.x, r.y, S, centered, maxerr, maxerr_d);
			fail();
		}
		free(got);
		free(want);
		free(want_d);
	}
	tvs_image_free(&img);
}

/*
 * By hand: the 2x1 crop [a b] pads (centered, d = 1, round(0.5) = 1 row
 * after, 0 before) to [a b; 0 0]. Resizing 2 -> 4 uses scale 0.5, so rows
 * and columns sample at 0, 0.5, 1, 1.5, with index 2 clamped to 1:
 *   row 0: a, (a+b)/2, b, b
 *   row 1: half of row 0 (between row 0 and the zero row)
 *   rows 2, 3: 0.
 */
static void resample_by_hand(void **state)
{
	static const uint8_t a[3] = { 100, 10, 0 }, bb[3] = { 200, 30, 255 };
	tvs_rect r = { 0, 0, 2, 1 };
	float out[4 * 4 * 3], o9[3 * 3 * 3], o16[4 * 4 * 3];
	tvs_image img;
	int x, y, c;

	(void)state;
	assert_int_equal(tvs_image_alloc(&img, 2, 1), 0);
	memcpy(img.rgb, a, 3);
	memcpy(img.rgb + 3, bb, 3);
	tvs_img_crop_square_resize(&img, r, 4, 1, out);
	for (c = 0; c < 3; c++) {
		float row0[4] = { a[c], (a[c] + bb[c]) / 2.0f, bb[c], bb[c] };

		for (x = 0; x < 4; x++) {
			assert_true(out[(0 * 4 + x) * 3 + c] == row0[x]);
			assert_true(out[(1 * 4 + x) * 3 + c] == row0[x] / 2);
			assert_true(out[(2 * 4 + x) * 3 + c] == 0.0f);
			assert_true(out[(3 * 4 + x) * 3 + c] == 0.0f);
		}
	}
	tvs_image_free(&img);

	/* A 1x3 column padded to 3x3 (no resize): d = 2, one column each side
	 * when centered, both after when not. */
	assert_int_equal(tvs_image_alloc(&img, 1, 3), 0);
	memset(img.rgb, 77, 9);
	r = (tvs_rect){ 0, 0, 1, 3 };
	for (c = 0; c <= 1; c++) {
		tvs_img_crop_square_resize(&img, r, 3, c, o9);
		for (y = 0; y < 3; y++)
			for (x = 0; x < 3; x++)
				assert_true(o9[(y * 3 + x) * 3] == (x == (c ? 1 : 0) ? 77.0f : 0.0f));
	}
	tvs_image_free(&img);

	/* A 4x1 row: d = 3, centered puts round(1.5) = 2 rows after and 1
	 * before, so the data is row 1. */
	assert_int_equal(tvs_image_alloc(&img, 4, 1), 0);
	memset(img.rgb, 50, 12);
	r = (tvs_rect){ 0, 0, 4, 1 };
	for (c = 0; c <= 1; c++) {
		tvs_img_crop_square_resize(&img, r, 4, c, o16);
		for (y = 0; y < 4; y++)
			for (x = 0; x < 4; x++)
				assert_true(o16[(y * 4 + x) * 3 + 2] == (y == (c ? 1 : 0) ? 50.0f : 0.0f));
	}
	tvs_image_free(&img);
}

static void clip_box_cases(void **state)
{
	tvs_rect r;
	int i;

	(void)state;
	assert_int_equal(tvs_img_clip_box(10.7f, 20.2f, 30.9f, 40.5f, 100, 100, &r), 0);
	assert_int_equal(r.x, 10);
	assert_int_equal(r.y, 20);
	assert_int_equal(r.width, 30);
	assert_int_equal(r.height, 40);

	/* Negative origin: the width shrinks by what hangs over the edge. */
	assert_int_equal(tvs_img_clip_box(-5.5f, -3.0f, 20.0f, 10.0f, 100, 100, &r), 0);
	assert_int_equal(r.x, 0);
	assert_int_equal(r.y, 0);
	assert_int_equal(r.width, 14); /* floor(14.5) */
	assert_int_equal(r.height, 7);

	/* Past right and bottom: cut at W - x', then floored. */
	assert_int_equal(tvs_img_clip_box(90.5f, 95.25f, 20.0f, 20.0f, 100, 100, &r), 0);
	assert_int_equal(r.x, 90);
	assert_int_equal(r.y, 95);
	assert_int_equal(r.width, 9);  /* floor(9.5) */
	assert_int_equal(r.height, 4); /* floor(4.75) */

	/* Whole image and more. */
	assert_int_equal(tvs_img_clip_box(-10, -10, 1000, 1000, 64, 48, &r), 0);
	assert_int_equal(r.x, 0);
	assert_int_equal(r.width, 64);
	assert_int_equal(r.height, 48);

	EXPECT_ERR(tvs_img_clip_box(100, 10, 5, 5, 100, 100, &r), TVS_EINVAL); /* at the edge */
	EXPECT_ERR(tvs_img_clip_box(-50, 10, 20, 5, 100, 100, &r), TVS_EINVAL); /* all left */
	EXPECT_ERR(tvs_img_clip_box(10, 10, 0.5f, 5, 100, 100, &r), TVS_EINVAL); /* floors to 0 */
	EXPECT_ERR(tvs_img_clip_box(10, 10, 5, -1, 100, 100, &r), TVS_EINVAL);
	EXPECT_ERR(tvs_img_clip_box(1e30f, 10, 5, 5, 100, 100, &r), TVS_EINVAL);
	EXPECT_ERR(tvs_img_clip_box(NAN, 10, 5, 5, 100, 100, &r), TVS_EINVAL);
	EXPECT_ERR(tvs_img_clip_box(10, 10, INFINITY, 5, 100, 100, &r), TVS_EINVAL);
	EXPECT_ERR(tvs_img_clip_box(0, 0, 5, 5, 0, 100, &r), TVS_EINVAL);

	/* Random boxes: the result matches the JS formula and lies inside. */
	for (i = 0; i < 2000; i++) {
		float x = (float)((int)(rnd() % 4000) - 1000) / 16.0f;
		float y = (float)((int)(rnd() % 4000) - 1000) / 16.0f;
		float w = (float)(rnd() % 3000) / 16.0f, h = (float)(rnd() % 3000) / 16.0f;
		double cx = fmax(x, 0), cy = fmax(y, 0);
		double ww = floor(fmin(x + (double)w - cx, 100 - cx));
		double hh = floor(fmin(y + (double)h - cy, 80 - cy));
		int rc;

		tvs_err_clear();
		rc = tvs_img_clip_box(x, y, w, h, 100, 80, &r);
		if (ww <= 0 || hh <= 0) {
			assert_int_equal(rc, TVS_EINVAL);
			assert_true(tvs_errmsg()[0] != '\0');
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(r.x, (int)floor(cx));
		assert_int_equal(r.y, (int)floor(cy));
		assert_int_equal(r.width, (int)ww);
		assert_int_equal(r.height, (int)hh);
		assert_true(r.x >= 0 && r.y >= 0 && r.x + r.width <= 100 && r.y + r.height <= 80);
	}
}

static void warp_affine_cases(void **state)
{
	static const float ident[6] = { 1, 0, 0, 0, 1, 0 };
	static const float half[6] = { 1, 0, 0.5f, 0, 1, 0 };
	static const float transpose[6] = { 0, 1, 0, 1, 0, 0 };
	static const float away[6] = { 1, 0, -1000, 0, 1, 0 };
	static const float nanm[6] = { NAN, 0, 0, 0, 1, 0 };
	float out[4 * 4 * 3];
	tvs_image img;
	int i, u, v, c;

	(void)state;
	assert_int_equal(tvs_image_alloc(&img, 4, 4), 0);
	for (i = 0; i < 48; i++)
		img.rgb[i] = (uint8_t)(i * 5);

	tvs_img_warp_affine(&img, ident, 4, out);
	for (i = 0; i < 48; i++)
		assert_true(out[i] == img.rgb[i]);

	tvs_img_warp_affine(&img, transpose, 4, out);
	for (v = 0; v < 4; v++)
		for (u = 0; u < 4; u++)
			for (c = 0; c < 3; c++)
				assert_true(out[(v * 4 + u) * 3 + c] == px(&img, v, u)[c]);

	/* Half a pixel right: the mean of neighbours; the last column blends
	 * with the black outside. */
	tvs_img_warp_affine(&img, half, 4, out);
	for (v = 0; v < 4; v++)
		for (u = 0; u < 4; u++)
			for (c = 0; c < 3; c++) {
				float l = px(&img, u, v)[c], rr = u < 3 ? px(&img, u + 1, v)[c] : 0.0f;

				assert_float_equal(out[(v * 4 + u) * 3 + c], (l + rr) / 2, 1e-4);
			}

	tvs_img_warp_affine(&img, away, 4, out);
	for (i = 0; i < 48; i++)
		assert_true(out[i] == 0.0f);
	tvs_img_warp_affine(&img, nanm, 4, out);
	for (i = 0; i < 48; i++)
		assert_true(out[i] == 0.0f);
	tvs_image_free(&img);
}

/* ------------------------------------------------------------ main */

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tvs_test_img_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	static const char *names[] = { "a.ppm", "b.jpg", "empty.png" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_tmp(path, sizeof(path), names[i]);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opts_defaults),
		cmocka_unit_test(sniff_formats),
		cmocka_unit_test(image_alloc_free),
		cmocka_unit_test(jpeg_rgb),
		cmocka_unit_test(jpeg_420_progressive),
		cmocka_unit_test(jpeg_gray),
		cmocka_unit_test(jpeg_cmyk),
		cmocka_unit_test(jpeg_1x1),
		cmocka_unit_test(jpeg_truncated),
		cmocka_unit_test(jpeg_corrupt),
		cmocka_unit_test(jpeg_bomb),
		cmocka_unit_test(jpeg_mutations),
		cmocka_unit_test(reorient_all),
		cmocka_unit_test(exif_orientations),
		cmocka_unit_test(exif_malformed),
		cmocka_unit_test(exif_ignored_on_request),
		cmocka_unit_test(exif_parser_fuzz),
		cmocka_unit_test(png_gray),
		cmocka_unit_test(png_rgb16),
		cmocka_unit_test(png_palette),
		cmocka_unit_test(png_alpha),
		cmocka_unit_test(png_interlaced),
		cmocka_unit_test(png_ancillary),
		cmocka_unit_test(png_1x1),
		cmocka_unit_test(png_truncated),
		cmocka_unit_test(png_bad_crc),
		cmocka_unit_test(png_bomb),
		cmocka_unit_test(png_mutations),
		cmocka_unit_test(ppm_parse),
		cmocka_unit_test(bad_inputs),
		cmocka_unit_test(files),
		cmocka_unit_test(files_pipe),
		cmocka_unit_test(resample_vs_reference),
		cmocka_unit_test(resample_by_hand),
		cmocka_unit_test(clip_box_cases),
		cmocka_unit_test(warp_affine_cases),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
