/*
 * The descriptor cache shared by `tvs eval pairs` and `tvs eval ident`
 * (--cache FILE): one descriptor per dataset photo, keyed by its path
 * relative to --root, so a run need not decode and describe 13,233 LFW
 * photos again.
 *
 * Format (binary, host byte order): "TVSIDC01", u32 count, then per entry
 * u16 path length, the path bytes (no NUL), i32 face route (-1 = no
 * descriptor, else enum tvs_cli_route) and 128 float32. The file is parsed
 * as untrusted input: bounded count and lengths, no NUL in a path, a known
 * route, finite values. It does not record the engine settings: delete it
 * when the models or the engine defaults change.
 *
 * Callbacks instead of a container keep each command's own photo table
 * (pairs: sorted (name, number); ident: folder scan) as the only index.
 */
#include "cli.h"

#include "tvs/error.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CACHE_MAGIC "TVSIDC01"
#define CACHE_MAX_ENTRIES (1u << 22)

int tvs_cli_desc_cache_read(const char *path, tvs_cli_cache_entry_fn fn, void *arg)
{
	unsigned char hdr[12];
	char rel[PATH_MAX];
	uint32_t count;
	FILE *f;
	int rc = 0;

	f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? 0 : tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) || memcmp(hdr, CACHE_MAGIC, 8) != 0) {
		rc = tvs__err(TVS_EFORMAT, "%s: not a tvs descriptor cache", path);
		goto fail;
	}
	memcpy(&count, hdr + 8, 4);
	if (count > CACHE_MAX_ENTRIES) {
		rc = tvs__err(TVS_EFORMAT, "%s: %" PRIu32 " entries", path, count);
		goto fail;
	}
	for (uint32_t e = 0; e < count; e++) {
		uint16_t len;
		int32_t fp;
		float desc[TVS_FACE_DESC_DIM];

		if (fread(&len, sizeof(len), 1, f) != 1 || len == 0 || len >= sizeof(rel) ||
		    fread(rel, 1, len, f) != len || fread(&fp, sizeof(fp), 1, f) != 1 ||
		    fread(desc, sizeof(float), TVS_FACE_DESC_DIM, f) != TVS_FACE_DESC_DIM) {
			rc = tvs__err(TVS_EFORMAT, "%s: truncated at entry %" PRIu32, path, e);
			goto fail;
		}
		rel[len] = '\0';
		if (memchr(rel, '\0', len) || fp < -1 || fp >= TVS_CLI_ROUTES) {
			rc = tvs__err(TVS_EFORMAT, "%s: bad entry %" PRIu32, path, e);
			goto fail;
		}
		for (int d = 0; fp != -1 && d < TVS_FACE_DESC_DIM; d++) {
			if (!isfinite(desc[d])) {
				rc = tvs__err(TVS_EFORMAT, "%s: entry %" PRIu32 " not finite", path, e);
				goto fail;
			}
		}
		rc = fn(arg, rel, (int)fp, desc);
		if (rc)
			goto fail;
	}
fail:
	fclose(f);
	return rc;
}

int tvs_cli_desc_cache_write(const char *path, size_t n, tvs_cli_cache_get_fn get, void *arg)
{
	const float *desc;
	const char *rel;
	char tmp[PATH_MAX];
	uint32_t count = 0;
	FILE *f;
	int m, route, bad = 0;

	m = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (m < 0 || (size_t)m >= sizeof(tmp))
		return tvs__err(TVS_ETOOBIG, "%s: path too long", path);
	for (size_t i = 0; i < n; i++) {
		if (get(arg, i, &rel, &route, &desc) && rel[0] && strlen(rel) < PATH_MAX)
			count++;
	}
	if (count > CACHE_MAX_ENTRIES)
		return tvs__err(TVS_ETOOBIG, "%s: %" PRIu32 " entries", path, count);
	f = fopen(tmp, "wb");
	if (!f)
		return tvs__err(TVS_EIO, "%s: %s", tmp, strerror(errno));
	bad |= fwrite(CACHE_MAGIC, 1, 8, f) != 8 || fwrite(&count, 4, 1, f) != 1;
	for (size_t i = 0; !bad && i < n; i++) {
		size_t len;
		uint16_t len16;
		int32_t fp;

		if (!get(arg, i, &rel, &route, &desc))
			continue;
		len = strlen(rel);
		if (len == 0 || len >= PATH_MAX)
			continue;
		len16 = (uint16_t)len;
		fp = route;
		bad |= fwrite(&len16, 2, 1, f) != 1 || fwrite(rel, 1, len, f) != len || fwrite(&fp, 4, 1, f) != 1 ||
		       fwrite(desc, sizeof(float), TVS_FACE_DESC_DIM, f) != TVS_FACE_DESC_DIM;
	}
	if (fclose(f) != 0 || bad) {
		unlink(tmp);
		return tvs__err(TVS_EIO, "%s: write failed", tmp);
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}
