/*
 * Decoding untrusted JPEG, PNG and PPM bytes into 8-bit RGB.
 *
 * Each decoder follows the same order: read only the header, check the
 * declared size against the caller's limits (so a 60000x60000 "bomb" costs a
 * header parse, not gigabytes), allocate once, decode, and treat every sign of
 * lost data as an error. A truncated photo must fail rather than be matched
 * with a grey lower half.
 *
 * JPEG goes through TurboJPEG with TJFLAG_STOPONWARNING (libjpeg's "premature
 * end of data" is only a warning) and TJFLAG_LIMITSCANS (progressive files
 * with thousands of scans). libjpeg-turbo cannot convert CMYK/YCCK to RGB, so
 * those decode to CMYK and are converted here, reading the samples as
 * inverted when an Adobe APP14 marker is present (as Photoshop writes them,
 * and as browsers and jpeg-js read them).
 *
 * PNG goes through libpng's classic API rather than png_image: the simplified
 * API composites alpha onto a background in linear light, while face-api's
 * harness (pngjs) simply drops alpha, and 16-bit samples are scaled with
 * rounding (png_set_scale_16) as pngjs does. Ancillary chunks are skipped
 * unread (no colour management, as in pngjs). libpng reports errors by
 * longjmp, so everything that changes after setjmp() lives in a context
 * struct outside the frame that calls it.
 *
 * PPM is parsed by hand; only binary P6 with maxval 255 is accepted.
 */
#include "tvs/img.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "img/img_int.h"
#include "tvs/error.h"

#define DEFAULT_MAX_BYTES ((size_t)32 << 20)
#define DEFAULT_MAX_PIXELS ((uint64_t)40000000)
#define DEFAULT_MAX_SIDE 16384

/* The most libpng may buffer for one chunk; the chunks we skip are streamed
 * past unbuffered, so this only bounds what slips through. */
#define PNG_CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)
#define PNG_CHUNK_CACHE_MAX 128

static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

void tvs_img_default_opts(tvs_img_opts *o)
{
	o->max_bytes = DEFAULT_MAX_BYTES;
	o->max_pixels = DEFAULT_MAX_PIXELS;
	o->max_side = DEFAULT_MAX_SIDE;
	o->ignore_exif = 0;
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

enum tvs_img_format tvs_img_sniff(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!p)
		return TVS_IMG_UNKNOWN;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return TVS_IMG_JPEG;
	if (len >= sizeof(png_sig) && memcmp(p, png_sig, sizeof(png_sig)) == 0)
		return TVS_IMG_PNG;
	if (len >= 3 && p[0] == 'P' && p[1] == '6' && is_space(p[2]))
		return TVS_IMG_PPM;
	return TVS_IMG_UNKNOWN;
}

void tvs_image_free(tvs_image *img)
{
	if (!img)
		return;
	free(img->rgb);
	memset(img, 0, sizeof(*img));
}

int tvs_image_alloc(tvs_image *img, int width, int height)
{
	if (!img)
		return tvs__err(TVS_EINVAL, "image: NULL image");
	memset(img, 0, sizeof(*img));
	if (width <= 0 || height <= 0)
		return tvs__err(TVS_EINVAL, "image: invalid size %dx%d", width, height);
	if ((size_t)width > SIZE_MAX / 3 / (size_t)height)
		return tvs__err(TVS_ETOOBIG, "image: %dx%d does not fit in memory", width, height);
	img->rgb = malloc((size_t)width * (size_t)height * 3);
	if (!img->rgb)
		return tvs__err(TVS_ENOMEM, "image: cannot allocate %dx%d", width, height);
	img->width = width;
	img->height = height;
	return 0;
}

/* The one place where declared dimensions meet the limits, before allocation. */
static int check_dims(const char *fmt, uint64_t w, uint64_t h, const tvs_img_opts *o)
{
	if (w == 0 || h == 0)
		return tvs__err(TVS_EFORMAT, "%s: empty image (%llux%llu)", fmt,
				(unsigned long long)w, (unsigned long long)h);
	if (w > (uint64_t)o->max_side || h > (uint64_t)o->max_side)
		return tvs__err(TVS_ETOOBIG, "%s: %llux%llu exceeds the %d pixel side limit", fmt,
				(unsigned long long)w, (unsigned long long)h, o->max_side);
	/* Both are below max_side (an int), so the product cannot overflow. */
	if (w * h > o->max_pixels)
		return tvs__err(TVS_ETOOBIG, "%s: %llux%llu exceeds the %llu pixel limit", fmt,
				(unsigned long long)w, (unsigned long long)h,
				(unsigned long long)o->max_pixels);
	return 0;
}

/* ---------------------------------------------------------------- JPEG */

#define TJ_FLAGS (TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)

static int tj_fail(tjhandle tj, const char *what)
{
	int warning = tjGetErrorCode(tj) == TJERR_WARNING;

	return tvs__err(TVS_EFORMAT, "JPEG: %s%s: %s", what,
			warning ? " (warning treated as error)" : "", tjGetErrorStr2(tj));
}

/*
 * CMYK samples to RGB with the naive formula browsers use: no colour
 * management, just ink coverage. Adobe files store 255 - ink.
 */
static void cmyk_to_rgb(const uint8_t *cmyk, size_t npix, int inverted, uint8_t *rgb)
{
	size_t i;

	for (i = 0; i < npix; i++, cmyk += 4, rgb += 3) {
		unsigned c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];

		if (!inverted) {
			c = 255 - c;
			m = 255 - m;
			y = 255 - y;
			k = 255 - k;
		}
		rgb[0] = (uint8_t)(c * k / 255);
		rgb[1] = (uint8_t)(m * k / 255);
		rgb[2] = (uint8_t)(y * k / 255);
	}
}

static int decode_jpeg(const uint8_t *buf, size_t len, const tvs_img_opts *o, tvs_image *out)
{
	int w = 0, h = 0, subsamp = -1, colorspace = -1, rc;
	uint8_t *cmyk = NULL;
	tjhandle tj;

	tj = tjInitDecompress();
	if (!tj)
		return tvs__err(TVS_ENOMEM, "JPEG: cannot create a decompressor");
	if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &colorspace) != 0) {
		rc = tj_fail(tj, "bad header");
		goto fail_tj;
	}
	/*
	 * TurboJPEG 2.x reports success without touching width and height when
	 * the data ends before a frame header (it takes it for a tables-only
	 * stream), which is what a file cut inside its headers looks like.
	 */
	if (w <= 0 || h <= 0) {
		rc = tvs__err(TVS_EFORMAT, "JPEG: no image (truncated before the frame header)");
		goto fail_tj;
	}
	rc = check_dims("JPEG", (uint64_t)w, (uint64_t)h, o);
	if (rc)
		goto fail_tj;
	rc = tvs_image_alloc(out, w, h);
	if (rc)
		goto fail_tj;
	if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
		cmyk = malloc((size_t)w * (size_t)h * 4);
		if (!cmyk) {
			rc = tvs__err(TVS_ENOMEM, "JPEG: cannot allocate %dx%d CMYK", w, h);
			goto fail_img;
		}
		if (tjDecompress2(tj, buf, (unsigned long)len, cmyk, w, w * 4, h, TJPF_CMYK, TJ_FLAGS) != 0) {
			rc = tj_fail(tj, "corrupt data");
			goto fail_cmyk;
		}
		cmyk_to_rgb(cmyk, (size_t)w * (size_t)h, tvs__jpeg_has_adobe_marker(buf, len), out->rgb);
		free(cmyk);
	} else if (tjDecompress2(tj, buf, (unsigned long)len, out->rgb, w, w * 3, h, TJPF_RGB, TJ_FLAGS) != 0) {
		rc = tj_fail(tj, "corrupt data");
		goto fail_img;
	}
	tjDestroy(tj);
	return 0;

fail_cmyk:
	free(cmyk);
fail_img:
	tvs_image_free(out);
fail_tj:
	tjDestroy(tj);
	return rc;
}

/* ---------------------------------------------------------------- PNG */

/*
 * Everything libpng's callbacks and the setjmp handler touch. It lives in
 * decode_png()'s frame while setjmp() is called in png_run(), so nothing that
 * changes between setjmp and longjmp is a local of the function that called
 * setjmp (C11 7.13.2.1 leaves those indeterminate).
 */
struct png_ctx {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int oom;
	char msg[160];
	const tvs_img_opts *o;
	tvs_image *out;
	png_structp png;
	png_infop info;
	png_bytep *rows;
};

static void png_read_cb(png_structp png, png_bytep dst, size_t n)
{
	struct png_ctx *c = png_get_io_ptr(png);

	if (n > c->len - c->pos)
		png_error(png, "unexpected end of data (truncated file)");
	memcpy(dst, c->buf + c->pos, n);
	c->pos += n;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);

	snprintf(c->msg, sizeof(c->msg), "%s", msg);
	png_longjmp(png, 1);
}

/* Ancillary-chunk trouble only; anything that loses pixels is an error. */
static void png_warning_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static png_voidp png_malloc_cb(png_structp png, png_alloc_size_t n)
{
	void *p = malloc(n);

	if (!p)
		((struct png_ctx *)png_get_mem_ptr(png))->oom = 1;
	return p;
}

static void png_free_cb(png_structp png, png_voidp p)
{
	(void)png;
	free(p);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The libpng calls proper, under setjmp. Allocations are left in *c. */
static int png_run(struct png_ctx *c)
{
	png_structp png = c->png;
	png_infop info = c->info;
	png_uint_32 w, h, y;
	int depth, ctype, rc;

	if (setjmp(png_jmpbuf(png))) {
		if (c->oom)
			return tvs__err(TVS_ENOMEM, "PNG: out of memory");
		return tvs__err(TVS_EFORMAT, "PNG: %s", c->msg);
	}
	png_set_user_limits(png, (png_uint_32)c->o->max_side, (png_uint_32)c->o->max_side);
	png_set_chunk_cache_max(png, PNG_CHUNK_CACHE_MAX);
	png_set_chunk_malloc_max(png, PNG_CHUNK_MALLOC_MAX);
	/*
	 * Skip every chunk but IHDR, PLTE, tRNS, IDAT and IEND: the rest (text,
	 * ICC profiles, gamma) cost memory or time, and like pngjs we apply no
	 * colour management.
	 */
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	png_set_read_fn(png, c, png_read_cb);

	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
	rc = check_dims("PNG", w, h, c->o);
	if (rc)
		return rc;

	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if ((ctype & PNG_COLOR_MASK_COLOR) == 0) {
		if (depth < 8)
			png_set_expand_gray_1_2_4_to_8(png);
		png_set_gray_to_rgb(png);
	}
	if (depth == 16)
		png_set_scale_16(png);
	/* Also removes the alpha that palette_to_rgb makes from tRNS. */
	png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != 3 ||
	    png_get_rowbytes(png, info) != (size_t)w * 3)
		return tvs__err(TVS_EUNSUPPORTED, "PNG: colour type %d depth %d did not convert to RGB",
				ctype, depth);

	rc = tvs_image_alloc(c->out, (int)w, (int)h);
	if (rc)
		return rc;
	c->rows = malloc(sizeof(*c->rows) * h);
	if (!c->rows)
		return tvs__err(TVS_ENOMEM, "PNG: cannot allocate row pointers");
	for (y = 0; y < h; y++)
		c->rows[y] = c->out->rgb + (size_t)y * w * 3;
	png_read_image(png, c->rows);
	/* Reads to IEND, so a file cut after the last IDAT is still refused. */
	png_read_end(png, NULL);
	return 0;
}

static int decode_png(const uint8_t *buf, size_t len, const tvs_img_opts *o, tvs_image *out)
{
	struct png_ctx c = { .buf = buf, .len = len, .o = o, .out = out };
	int rc;

	/*
	 * IHDR must come first: length 13, "IHDR", width, height. Checking its
	 * size here refuses a bomb before libpng allocates anything.
	 */
	if (len < 8 + 8 + 13 + 4 || be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0)
		return tvs__err(TVS_EFORMAT, "PNG: missing or truncated IHDR");
	rc = check_dims("PNG", be32(buf + 16), be32(buf + 20), o);
	if (rc)
		return rc;

	c.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &c, png_error_cb, png_warning_cb,
					 &c, png_malloc_cb, png_free_cb);
	if (!c.png)
		return tvs__err(TVS_ENOMEM, "PNG: cannot create a decoder");
	c.info = png_create_info_struct(c.png);
	if (!c.info) {
		rc = tvs__err(TVS_ENOMEM, "PNG: cannot create a decoder");
		goto done;
	}
	rc = png_run(&c);
	free(c.rows);
	if (rc)
		tvs_image_free(out);
done:
	png_destroy_read_struct(&c.png, &c.info, NULL);
	return rc;
}

/* ---------------------------------------------------------------- PPM */

/* Skip whitespace and '#' comments (to end of line) between header tokens. */
static void ppm_skip(const uint8_t *p, size_t len, size_t *pos)
{
	while (*pos < len) {
		if (is_space(p[*pos])) {
			(*pos)++;
		} else if (p[*pos] == '#') {
			while (*pos < len && p[*pos] != '\n')
				(*pos)++;
		} else {
			break;
		}
	}
}

/* A decimal header number, at most INT_MAX, ending at whitespace or '#'. */
static int ppm_number(const uint8_t *p, size_t len, size_t *pos, const char *what, int *val)
{
	uint64_t v = 0;
	size_t start;

	ppm_skip(p, len, pos);
	start = *pos;
	while (*pos < len && p[*pos] >= '0' && p[*pos] <= '9') {
		v = v * 10 + (uint64_t)(p[*pos] - '0');
		if (v > INT_MAX)
			return tvs__err(TVS_EFORMAT, "PPM: %s is out of range", what);
		(*pos)++;
	}
	if (*pos == start)
		return tvs__err(TVS_EFORMAT, "PPM: expected a number for the %s", what);
	if (*pos >= len)
		return tvs__err(TVS_EFORMAT, "PPM: header truncated after the %s", what);
	if (!is_space(p[*pos]) && p[*pos] != '#')
		return tvs__err(TVS_EFORMAT, "PPM: bad character after the %s", what);
	*val = (int)v;
	return 0;
}

static int decode_ppm(const uint8_t *p, size_t len, const tvs_img_opts *o, tvs_image *out)
{
	size_t pos = 2, need;
	int w, h, maxval, rc;

	rc = ppm_number(p, len, &pos, "width", &w);
	if (rc)
		return rc;
	rc = ppm_number(p, len, &pos, "height", &h);
	if (rc)
		return rc;
	rc = ppm_number(p, len, &pos, "maxval", &maxval);
	if (rc)
		return rc;
	/* Exactly one whitespace byte separates maxval from the samples. */
	if (!is_space(p[pos]))
		return tvs__err(TVS_EFORMAT, "PPM: no whitespace after maxval");
	pos++;
	if (maxval == 0 || maxval > 65535)
		return tvs__err(TVS_EFORMAT, "PPM: invalid maxval %d", maxval);
	if (maxval != 255)
		return tvs__err(TVS_EUNSUPPORTED, "PPM: maxval %d is not supported (only 255)", maxval);
	rc = check_dims("PPM", (uint64_t)w, (uint64_t)h, o);
	if (rc)
		return rc;
	need = (size_t)w * (size_t)h * 3;
	if (len - pos < need)
		return tvs__err(TVS_EFORMAT, "PPM: truncated pixel data (%zu of %zu bytes)", len - pos, need);
	rc = tvs_image_alloc(out, w, h);
	if (rc)
		return rc;
	memcpy(out->rgb, p + pos, need);
	return 0;
}

/* ---------------------------------------------------------------- entry points */

static int check_opts(const tvs_img_opts *o)
{
	if (o->max_bytes == 0 || o->max_pixels == 0 || o->max_side <= 0)
		return tvs__err(TVS_EINVAL, "image: limits must be positive");
	return 0;
}

int tvs_img_decode(const void *buf, size_t len, const tvs_img_opts *o, tvs_image *out)
{
	tvs_img_opts defaults;
	int rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "image: NULL output");
	memset(out, 0, sizeof(*out));
	if (!o) {
		tvs_img_default_opts(&defaults);
		o = &defaults;
	}
	rc = check_opts(o);
	if (rc)
		return rc;
	if (!buf && len)
		return tvs__err(TVS_EINVAL, "image: NULL buffer");
	if (len == 0)
		return tvs__err(TVS_EFORMAT, "image: empty input (0 bytes)");
	if (len > o->max_bytes)
		return tvs__err(TVS_ETOOBIG, "image: %zu bytes exceeds the %zu byte limit", len, o->max_bytes);

	switch (tvs_img_sniff(buf, len)) {
	case TVS_IMG_JPEG:
		rc = decode_jpeg(buf, len, o, out);
		if (rc == 0 && !o->ignore_exif)
			rc = tvs__img_reorient(out, tvs__exif_orientation(buf, len));
		break;
	case TVS_IMG_PNG:
		rc = decode_png(buf, len, o, out);
		break;
	case TVS_IMG_PPM:
		rc = decode_ppm(buf, len, o, out);
		break;
	default:
		return tvs__err(TVS_EUNSUPPORTED, "image: not a JPEG, PNG or PPM image");
	}
	if (rc)
		tvs_image_free(out);
	return rc;
}

/*
 * Read all of fd, refusing more than max bytes. Regular files are sized by
 * fstat so the common case is one allocation; pipes and devices grow the
 * buffer, still bounded by max.
 */
static int read_all(int fd, const char *path, size_t max, uint8_t **bufp, size_t *lenp)
{
	struct stat st;
	size_t cap, len = 0;
	uint8_t *buf, *nb;

	if (fstat(fd, &st) != 0)
		return tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return tvs__err(TVS_EIO, "%s: is a directory", path);
	if (S_ISREG(st.st_mode)) {
		if (st.st_size < 0 || (uint64_t)st.st_size > max)
			return tvs__err(TVS_ETOOBIG, "%s: %lld bytes exceeds the %zu byte limit", path,
					(long long)st.st_size, max);
		/* One spare byte shows whether the file grew since fstat. */
		cap = (size_t)st.st_size + 1;
	} else {
		cap = 64 << 10;
	}
	buf = malloc(cap);
	if (!buf)
		return tvs__err(TVS_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > max) {
				free(buf);
				return tvs__err(TVS_ETOOBIG, "%s: exceeds the %zu byte limit", path, max);
			}
			cap = cap > max / 2 ? max + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return tvs__err(TVS_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return tvs__err(TVS_ETOOBIG, "%s: exceeds the %zu byte limit", path, max);
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

int tvs_img_read_file(const char *path, const tvs_img_opts *o, tvs_image *out)
{
	tvs_img_opts defaults;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, rc;

	if (!out)
		return tvs__err(TVS_EINVAL, "image: NULL output");
	memset(out, 0, sizeof(*out));
	if (!path)
		return tvs__err(TVS_EINVAL, "image: NULL path");
	if (!o) {
		tvs_img_default_opts(&defaults);
		o = &defaults;
	}
	rc = check_opts(o);
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return tvs__err(TVS_ENOTFOUND, "%s: no such file", path);
		return tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
	}
	rc = read_all(fd, path, o->max_bytes, &buf, &len);
	close(fd);
	if (rc)
		return rc;
	rc = tvs_img_decode(buf, len, o, out);
	free(buf);
	return rc;
}

int tvs_img_write_ppm(const char *path, const tvs_image *img)
{
	size_t n;
	FILE *f;

	if (!path || !img || !img->rgb || img->width <= 0 || img->height <= 0)
		return tvs__err(TVS_EINVAL, "PPM: nothing to write");
	f = fopen(path, "wbe");
	if (!f)
		return tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
	n = (size_t)img->width * (size_t)img->height * 3;
	if (fprintf(f, "P6\n%d %d\n255\n", img->width, img->height) < 0 ||
	    fwrite(img->rgb, 1, n, f) != n) {
		int err = errno;

		fclose(f);
		return tvs__err(TVS_EIO, "%s: write failed: %s", path, strerror(err));
	}
	if (fclose(f) != 0)
		return tvs__err(TVS_EIO, "%s: write failed: %s", path, strerror(errno));
	return 0;
}
