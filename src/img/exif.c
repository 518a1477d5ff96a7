/*
 * JPEG metadata that TurboJPEG does not expose: the EXIF orientation tag and
 * the Adobe APP14 marker.
 *
 * Everything here reads untrusted bytes, so the design is "walk, never
 * trust": a marker walk from SOI to the first SOS where every segment length
 * is checked against what is left, then, inside an APP1 "Exif" segment, a
 * TIFF header whose every offset is checked against the segment before it is
 * followed. Any inconsistency ends the walk and yields the neutral answer
 * (orientation 1, no Adobe marker): a photo with broken metadata still
 * decodes, it just is not rotated. Only IFD0 is read; orientation lives
 * there, and following IFD chains would only add ways to loop.
 *
 * tvs__img_reorient() maps each output pixel to its source with a base index
 * and two strides, so all eight orientations share one loop.
 */
#include "img/img_int.h"

#include <stdlib.h>
#include <string.h>

#include "tvs/error.h"

#define JPEG_SOI 0xd8
#define JPEG_EOI 0xd9
#define JPEG_SOS 0xda
#define JPEG_APP1 0xe1
#define JPEG_APP14 0xee

#define EXIF_TAG_ORIENTATION 0x0112
#define TIFF_TYPE_SHORT 3

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/*
 * Find the first segment with this marker whose payload starts with sig,
 * looking only before the first scan. On success *payload and *plen give the
 * payload (the bytes after the 2-byte length), which lies inside jpeg[0..len).
 */
static int find_segment(const uint8_t *jpeg, size_t len, int marker, const char *sig,
			size_t siglen, const uint8_t **payload, size_t *plen)
{
	size_t pos = 2;

	if (!jpeg || len < 4 || jpeg[0] != 0xff || jpeg[1] != JPEG_SOI)
		return 0;
	while (pos < len) {
		size_t seglen;
		int m;

		/* Anything but a marker between segments means we lost sync. */
		if (jpeg[pos] != 0xff)
			return 0;
		while (pos < len && jpeg[pos] == 0xff)
			pos++;
		if (pos >= len)
			return 0;
		m = jpeg[pos++];
		if (m == JPEG_SOS || m == JPEG_EOI || m == 0x00)
			return 0;
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue; /* TEM and RSTn stand alone, with no length */
		if (len - pos < 2)
			return 0;
		seglen = be16(jpeg + pos);
		if (seglen < 2 || seglen > len - pos)
			return 0;
		if (m == marker && seglen - 2 >= siglen && memcmp(jpeg + pos + 2, sig, siglen) == 0) {
			*payload = jpeg + pos + 2;
			*plen = seglen - 2;
			return 1;
		}
		pos += seglen;
	}
	return 0;
}

struct tiff {
	const uint8_t *p;
	size_t len;
	int le;
};

static uint16_t tiff16(const struct tiff *t, size_t off)
{
	const uint8_t *q = t->p + off;

	return t->le ? (uint16_t)(q[0] | (q[1] << 8)) : (uint16_t)((q[0] << 8) | q[1]);
}

static uint32_t tiff32(const struct tiff *t, size_t off)
{
	const uint8_t *q = t->p + off;

	if (t->le)
		return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | (uint32_t)q[3];
}

int tvs__exif_orientation(const uint8_t *jpeg, size_t len)
{
	static const char sig[6] = { 'E', 'x', 'i', 'f', 0, 0 };
	const uint8_t *seg;
	struct tiff t;
	size_t seglen, pos;
	uint32_t ifd;
	unsigned count, i;

	if (!find_segment(jpeg, len, JPEG_APP1, sig, sizeof(sig), &seg, &seglen))
		return 1;
	t.p = seg + sizeof(sig);
	t.len = seglen - sizeof(sig);
	if (t.len < 8)
		return 1;
	if (t.p[0] == 'I' && t.p[1] == 'I')
		t.le = 1;
	else if (t.p[0] == 'M' && t.p[1] == 'M')
		t.le = 0;
	else
		return 1;
	if (tiff16(&t, 2) != 42)
		return 1;
	ifd = tiff32(&t, 4);
	if (ifd < 8 || ifd > t.len - 2)
		return 1;
	count = tiff16(&t, ifd);
	pos = (size_t)ifd + 2;
	/* An IFD that claims more entries than fit is a lie; trust none of it. */
	if ((size_t)count * 12 > t.len - pos)
		return 1;
	for (i = 0; i < count; i++, pos += 12) {
		unsigned v;

		if (tiff16(&t, pos) != EXIF_TAG_ORIENTATION)
			continue;
		if (tiff16(&t, pos + 2) != TIFF_TYPE_SHORT || tiff32(&t, pos + 4) != 1)
			return 1;
		/* A single SHORT sits left-aligned in the 4-byte value field. */
		v = tiff16(&t, pos + 8);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

int tvs__jpeg_has_adobe_marker(const uint8_t *jpeg, size_t len)
{
	const uint8_t *seg;
	size_t seglen;

	/* "Adobe", version, flags0, flags1, transform: 12 bytes in all. */
	return find_segment(jpeg, len, JPEG_APP14, "Adobe", 5, &seg, &seglen) && seglen >= 12;
}

int tvs__img_reorient(tvs_image *img, int orientation)
{
	ptrdiff_t w, h, base, sx, sy;
	int ow, oh, x, y;
	uint8_t *dst, *d;

	TVS_ASSERT(img && img->rgb && img->width > 0 && img->height > 0);
	if (orientation < 1 || orientation > 8)
		return tvs__err(TVS_EINVAL, "EXIF: orientation %d is not in 1..8", orientation);
	if (orientation == 1)
		return 0;
	w = img->width;
	h = img->height;
	/*
	 * Output pixel (x, y) comes from source pixel base + x*sx + y*sy. For
	 * 5..8 the source's rows become the output's columns.
	 */
	switch (orientation) {
	case 2: base = w - 1;               sx = -1; sy = w;  break; /* mirror */
	case 3: base = (h - 1) * w + w - 1; sx = -1; sy = -w; break; /* 180 */
	case 4: base = (h - 1) * w;         sx = 1;  sy = -w; break; /* flip */
	case 5: base = 0;                   sx = w;  sy = 1;  break; /* transpose */
	case 6: base = (h - 1) * w;         sx = -w; sy = 1;  break; /* 90 cw */
	case 7: base = (h - 1) * w + w - 1; sx = -w; sy = -1; break; /* transverse */
	default: base = w - 1;              sx = w;  sy = -1; break; /* 8: 90 ccw */
	}
	ow = orientation >= 5 ? img->height : img->width;
	oh = orientation >= 5 ? img->width : img->height;
	dst = malloc((size_t)ow * (size_t)oh * 3);
	if (!dst)
		return tvs__err(TVS_ENOMEM, "EXIF: cannot allocate %dx%d for rotation", ow, oh);
	d = dst;
	for (y = 0; y < oh; y++) {
		/* An index, not a pointer: one step past a row may leave the buffer. */
		ptrdiff_t i = base + y * sy;

		for (x = 0; x < ow; x++, d += 3, i += sx) {
			const uint8_t *s = img->rgb + i * 3;

			d[0] = s[0];
			d[1] = s[1];
			d[2] = s[2];
		}
	}
	free(img->rgb);
	img->rgb = dst;
	img->width = ow;
	img->height = oh;
	return 0;
}
