/*
 * Internal interface between the image decoders (decode.c) and the JPEG
 * metadata scanner (exif.c). The scanner reads untrusted marker segments
 * itself because TurboJPEG exposes neither the EXIF orientation nor the Adobe
 * APP14 marker that says how to read CMYK samples.
 */
#ifndef TVS_IMG_INT_H
#define TVS_IMG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tvs/img.h"

/* EXIF orientation (1..8) of a JPEG's first APP1 "Exif" segment; 1 when the
 * segment is absent or malformed in any way. Never reads outside jpeg[0..len). */
int tvs__exif_orientation(const uint8_t *jpeg, size_t len);

/* 1 if the JPEG carries an Adobe APP14 segment before its first scan (its
 * CMYK/YCCK samples are then stored inverted, as Photoshop writes them). */
int tvs__jpeg_has_adobe_marker(const uint8_t *jpeg, size_t len);

/* Turn img so that it displays upright given EXIF orientation 1..8 (2..8 move
 * pixels; 5..8 swap width and height). Replaces img->rgb; on error img is
 * unchanged. Returns 0, TVS_EINVAL for a value outside 1..8, or TVS_ENOMEM. */
int tvs__img_reorient(tvs_image *img, int orientation);

#endif
