/*
 * Building and writing the JSON reports of the evaluation commands. A
 * report is built with jset/jpush, which remember any allocation failure in
 * one flag instead of checking every call, so the report code stays a flat
 * list of fields and a failure still ends in one clear error.
 */
#include "cli.h"
#include "tvs/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void tvs_cli_jset(json_t *obj, const char *key, json_t *v, int *bad)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*bad = 1;
}

void tvs_cli_jpush(json_t *arr, json_t *v, int *bad)
{
	if (!v || json_array_append_new(arr, v) != 0)
		*bad = 1;
}

json_t *tvs_cli_jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

int tvs_cli_write_json(json_t *root, const char *out)
{
	size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(10);
	FILE *f = stdout;

	if (out) {
		f = fopen(out, "w");
		if (!f)
			return tvs__err(TVS_EIO, "%s: %s", out, strerror(errno));
	}
	if (json_dumpf(root, f, flags) != 0 || fputc('\n', f) == EOF) {
		if (out)
			fclose(f);
		return tvs__err(TVS_EIO, "%s: write failed", out ? out : "stdout");
	}
	if (out ? fclose(f) != 0 : fflush(f) != 0)
		return tvs__err(TVS_EIO, "%s: write failed", out ? out : "stdout");
	return 0;
}
