/*
 * libFuzzer target: image decoding. A capture or a portrait is the first
 * thing an outside device sends, so every byte string must either decode to
 * an image within the limits or be refused with an error; nothing else.
 * Limits are lowered so that the fuzzer explores headers, not big buffers.
 */
#include "tvs/error.h"
#include "tvs/img.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tvs_img_opts o;
	tvs_image im = { 0 };
	int rc;

	tvs_img_default_opts(&o);
	o.max_pixels = 4u << 20;
	o.max_side = 4096;
	rc = tvs_img_decode(data, size, &o, &im);
	if (rc == 0) {
		if (im.width < 1 || im.height < 1 || im.width > o.max_side || im.height > o.max_side ||
		    (uint64_t)im.width * im.height > o.max_pixels || !im.rgb)
			abort();
		/* touch every byte: a short buffer shows up under ASan */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < (size_t)im.width * im.height * 3; i++)
			sum += im.rgb[i];
		(void)sum;
	} else if (rc > 0 || im.rgb) {
		abort();
	}
	tvs_image_free(&im);
	return 0;
}
