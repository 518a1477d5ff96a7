/*
 * Calibration files (include/tvs/calib.h): the thresholds a deployment runs
 * at, written by `tvs eval pairs` and read by the service.
 *
 * The file is untrusted input: it may be edited by hand or swapped on disk,
 * and a wrong threshold silently changes who is let through. So the loader
 * is strict rather than forgiving: the byte size is capped before parsing,
 * duplicate and unknown keys are rejected, every number must be a finite
 * JSON number in its range, counts are capped, and each error names the
 * field ("calibration: verify[2].threshold: not a number"). The writer runs
 * the same range checks as the loader (check_calib), so what is written
 * always loads back.
 */
#include "tvs/calib.h"

#include "tvs/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PFX "calibration: "

/* ------------------------------------------------------------ checks */

static int check_model(const char *m)
{
	size_t n = strnlen(m, TVS_MATCH_MODEL_MAX + 1);

	if (n == 0 || n > TVS_MATCH_MODEL_MAX)
		return tvs__err(TVS_EFORMAT, PFX "model: want 1..%d bytes", TVS_MATCH_MODEL_MAX);
	for (size_t i = 0; i < n; i++) {
		if (m[i] < 0x21 || m[i] > 0x7e)
			return tvs__err(TVS_EFORMAT, PFX "model: not printable ASCII");
	}
	return 0;
}

static int check_rate(double v, const char *list, size_t i, const char *key, int exclusive)
{
	int ok = isfinite(v) && (exclusive ? v > 0.0 && v < 1.0 : v >= 0.0 && v <= 1.0);

	if (!ok)
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: %g not in %s", list, i, key, v,
				exclusive ? "(0, 1)" : "[0, 1]");
	return 0;
}

static int check_threshold(double v, const char *list, size_t i)
{
	if (!isfinite(v) || v < -1.0 || v > 1.0)
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].threshold: %g not in [-1, 1]", list, i, v);
	return 0;
}

/* Range checks shared by the loader and the writer. */
static int check_calib(const tvs_calib *c)
{
	size_t i, j;
	int rc;

	rc = check_model(c->model);
	if (rc)
		return rc;
	if (strcmp(c->score, TVS_CALIB_SCORE_COSINE) != 0)
		return tvs__err(TVS_EUNSUPPORTED, PFX "score: want \"%s\"", TVS_CALIB_SCORE_COSINE);
	if (c->nverify > TVS_CALIB_MAX_POINTS || c->nident > TVS_CALIB_MAX_POINTS)
		return tvs__err(TVS_ETOOBIG, PFX "more than %d points", TVS_CALIB_MAX_POINTS);
	if ((c->dataset && strnlen(c->dataset, TVS_CALIB_TEXT_MAX + 1) > TVS_CALIB_TEXT_MAX) ||
	    (c->command && strnlen(c->command, TVS_CALIB_TEXT_MAX + 1) > TVS_CALIB_TEXT_MAX))
		return tvs__err(TVS_ETOOBIG, PFX "dataset or command longer than %d bytes", TVS_CALIB_TEXT_MAX);
	for (i = 0; i < c->nverify; i++) {
		const tvs_calib_verify_point *p = &c->verify[i];

		if ((rc = check_rate(p->target_fmr, "verify", i, "target_fmr", 1)) ||
		    (rc = check_threshold(p->threshold, "verify", i)) ||
		    (rc = check_rate(p->tar, "verify", i, "tar", 0)) ||
		    (rc = check_rate(p->fmr, "verify", i, "fmr", 0)))
			return rc;
		for (j = 0; j < i; j++) {
			if (c->verify[j].target_fmr == p->target_fmr)
				return tvs__err(TVS_EFORMAT, PFX "verify[%zu].target_fmr: repeats verify[%zu]", i, j);
		}
	}
	for (i = 0; i < c->nident; i++) {
		const tvs_calib_ident_point *p = &c->ident[i];

		if (p->gallery_size < 1 || p->gallery_size > TVS_CALIB_GALLERY_MAX)
			return tvs__err(TVS_EFORMAT, PFX "ident[%zu].gallery_size: want 1..%zu", i,
					(size_t)TVS_CALIB_GALLERY_MAX);
		if ((rc = check_rate(p->target_fpir, "ident", i, "target_fpir", 1)) ||
		    (rc = check_threshold(p->threshold, "ident", i)) ||
		    (rc = check_rate(p->fnir, "ident", i, "fnir", 0)))
			return rc;
		for (j = 0; j < i; j++) {
			if (c->ident[j].gallery_size == p->gallery_size && c->ident[j].target_fpir == p->target_fpir)
				return tvs__err(TVS_EFORMAT, PFX "ident[%zu]: repeats ident[%zu]", i, j);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ write */

static void jset(json_t *obj, const char *key, json_t *v, int *bad)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*bad = 1;
}

static json_t *calib_json(const tvs_calib *c)
{
	json_t *root = json_object(), *a, *o;
	int bad = !root;
	size_t i;

	if (bad)
		return NULL;
	jset(root, "format", json_string(TVS_CALIB_FORMAT), &bad);
	jset(root, "version", json_integer(TVS_CALIB_VERSION), &bad);
	jset(root, "model", json_string(c->model), &bad);
	jset(root, "score", json_string(c->score), &bad);
	if (c->dataset)
		jset(root, "dataset", json_string(c->dataset), &bad);
	if (c->command)
		jset(root, "command", json_string(c->command), &bad);
	a = json_array();
	jset(root, "verify", a, &bad);
	for (i = 0; a && i < c->nverify; i++) {
		const tvs_calib_verify_point *p = &c->verify[i];

		o = json_pack("{s:f, s:f, s:f, s:f, s:b}", "target_fmr", p->target_fmr, "threshold", p->threshold,
			      "tar", p->tar, "fmr", p->fmr, "resolvable", p->resolvable);
		if (!o || json_array_append_new(a, o) != 0)
			bad = 1;
	}
	a = json_array();
	jset(root, "ident", a, &bad);
	for (i = 0; a && i < c->nident; i++) {
		const tvs_calib_ident_point *p = &c->ident[i];

		o = json_pack("{s:I, s:f, s:f, s:f, s:b}", "gallery_size", (json_int_t)p->gallery_size,
			      "target_fpir", p->target_fpir, "threshold", p->threshold, "fnir", p->fnir,
			      "resolvable", p->resolvable);
		if (!o || json_array_append_new(a, o) != 0)
			bad = 1;
	}
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int tvs_calib_write_json(const tvs_calib *c, const char *path)
{
	char tmp[4096];
	json_t *root;
	FILE *f;
	int rc, m;

	if (!c || !path)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	rc = check_calib(c);
	if (rc) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		return tvs__err(TVS_EINVAL, "%s", detail);
	}
	m = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (m < 0 || (size_t)m >= sizeof(tmp))
		return tvs__err(TVS_ETOOBIG, "%s: path too long", path);
	root = calib_json(c);
	if (!root)
		return tvs__err(TVS_ENOMEM, PFX "building the JSON");
	f = fopen(tmp, "w");
	if (!f) {
		rc = tvs__err(TVS_EIO, "%s: %s", tmp, strerror(errno));
		goto fail_open;
	}
	/* 17 significant digits: a double survives the round trip exactly */
	if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0 ||
	    fputc('\n', f) == EOF) {
		fclose(f);
		rc = tvs__err(TVS_EIO, "%s: write failed", tmp);
		goto fail_write;
	}
	if (fclose(f) != 0) {
		rc = tvs__err(TVS_EIO, "%s: write failed", tmp);
		goto fail_write;
	}
	if (rename(tmp, path) != 0) {
		rc = tvs__err(TVS_EIO, "%s: %s", path, strerror(errno));
		goto fail_write;
	}
	json_decref(root);
	return 0;

fail_write:
	unlink(tmp);
fail_open:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------ load */

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Reject any key of obj not in keys[0..n). */
static int check_keys(const json_t *obj, const char *const *keys, size_t n, const char *where)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		size_t i;

		for (i = 0; i < n && strcmp(k, keys[i]) != 0; i++)
			;
		if (i == n)
			return tvs__err(TVS_EFORMAT, PFX "%s%s: unknown key", where, k);
	}
	return 0;
}

static int get_number(const json_t *obj, const char *key, const char *list, size_t i, double *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: missing", list, i, key);
	if (!json_is_number(v))
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: not a number", list, i, key);
	*out = json_number_value(v);
	if (!isfinite(*out))
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: not finite", list, i, key);
	return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *list, size_t i, int *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: missing", list, i, key);
	if (!json_is_boolean(v))
		return tvs__err(TVS_EFORMAT, PFX "%s[%zu].%s: not a boolean", list, i, key);
	*out = json_is_true(v);
	return 0;
}

/* A required (or optional) string member of at most max bytes. */
static int get_string(const json_t *obj, const char *key, size_t max, int required, const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return required ? tvs__err(TVS_EFORMAT, PFX "%s: missing", key) : 0;
	if (!json_is_string(v))
		return tvs__err(TVS_EFORMAT, PFX "%s: not a string but %s", key, type_name(v));
	if (json_string_length(v) > max)
		return tvs__err(TVS_ETOOBIG, PFX "%s: longer than %zu bytes", key, max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return tvs__err(TVS_EFORMAT, PFX "%s: contains NUL", key);
	*out = json_string_value(v);
	return 0;
}

static int get_list(const json_t *root, const char *key, int required, json_t **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v)
		return required ? tvs__err(TVS_EFORMAT, PFX "%s: missing", key) : 0;
	if (!json_is_array(v))
		return tvs__err(TVS_EFORMAT, PFX "%s: not an array but %s", key, type_name(v));
	if (json_array_size(v) > TVS_CALIB_MAX_POINTS)
		return tvs__err(TVS_ETOOBIG, PFX "%s: %zu points, at most %d", key, json_array_size(v),
				TVS_CALIB_MAX_POINTS);
	*out = v;
	return 0;
}

static const char *const TOP_KEYS[] = {"format", "version", "model", "score", "dataset", "command", "verify", "ident"};
static const char *const VERIFY_KEYS[] = {"target_fmr", "threshold", "tar", "fmr", "resolvable"};
static const char *const IDENT_KEYS[] = {"gallery_size", "target_fpir", "threshold", "fnir", "resolvable"};
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static int parse_verify(const json_t *list, tvs_calib *c)
{
	char where[48];
	size_t i;
	int rc;

	for (i = 0; list && i < json_array_size(list); i++) {
		const json_t *o = json_array_get(list, i);
		tvs_calib_verify_point *p = &c->verify[i];

		if (!json_is_object(o))
			return tvs__err(TVS_EFORMAT, PFX "verify[%zu]: not an object but %s", i, type_name(o));
		snprintf(where, sizeof(where), "verify[%zu].", i);
		if ((rc = check_keys(o, VERIFY_KEYS, NKEYS(VERIFY_KEYS), where)) ||
		    (rc = get_number(o, "target_fmr", "verify", i, &p->target_fmr)) ||
		    (rc = get_number(o, "threshold", "verify", i, &p->threshold)) ||
		    (rc = get_number(o, "tar", "verify", i, &p->tar)) ||
		    (rc = get_number(o, "fmr", "verify", i, &p->fmr)) ||
		    (rc = get_bool(o, "resolvable", "verify", i, &p->resolvable)))
			return rc;
		c->nverify = i + 1;
	}
	return 0;
}

static int parse_ident(const json_t *list, tvs_calib *c)
{
	char where[48];
	size_t i;
	int rc;

	for (i = 0; list && i < json_array_size(list); i++) {
		const json_t *o = json_array_get(list, i), *g;
		tvs_calib_ident_point *p = &c->ident[i];

		if (!json_is_object(o))
			return tvs__err(TVS_EFORMAT, PFX "ident[%zu]: not an object but %s", i, type_name(o));
		snprintf(where, sizeof(where), "ident[%zu].", i);
		rc = check_keys(o, IDENT_KEYS, NKEYS(IDENT_KEYS), where);
		if (rc)
			return rc;
		g = json_object_get(o, "gallery_size");
		if (!g)
			return tvs__err(TVS_EFORMAT, PFX "ident[%zu].gallery_size: missing", i);
		if (!json_is_integer(g))
			return tvs__err(TVS_EFORMAT, PFX "ident[%zu].gallery_size: not an integer", i);
		if (json_integer_value(g) < 1 || (unsigned long long)json_integer_value(g) > TVS_CALIB_GALLERY_MAX)
			return tvs__err(TVS_EFORMAT, PFX "ident[%zu].gallery_size: want 1..%zu", i,
					(size_t)TVS_CALIB_GALLERY_MAX);
		p->gallery_size = (size_t)json_integer_value(g);
		if ((rc = get_number(o, "target_fpir", "ident", i, &p->target_fpir)) ||
		    (rc = get_number(o, "threshold", "ident", i, &p->threshold)) ||
		    (rc = get_number(o, "fnir", "ident", i, &p->fnir)) ||
		    (rc = get_bool(o, "resolvable", "ident", i, &p->resolvable)))
			return rc;
		c->nident = i + 1;
	}
	return 0;
}

int tvs_calib_load_buffer(tvs_calib *c, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root, *v, *verify, *ident;
	const char *s;
	int rc;

	if (!c || !buf)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	memset(c, 0, sizeof(*c));
	if (len > TVS_CALIB_FILE_MAX)
		return tvs__err(TVS_ETOOBIG, PFX "larger than %zu bytes", TVS_CALIB_FILE_MAX);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return tvs__err(TVS_EFORMAT, PFX "line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root)) {
		rc = tvs__err(TVS_EFORMAT, PFX "top level: not an object but %s", type_name(root));
		goto fail;
	}
	rc = check_keys(root, TOP_KEYS, NKEYS(TOP_KEYS), "");
	if (rc)
		goto fail;
	rc = get_string(root, "format", 64, 1, &s);
	if (rc)
		goto fail;
	if (strcmp(s, TVS_CALIB_FORMAT) != 0) {
		rc = tvs__err(TVS_EFORMAT, PFX "format: want \"%s\"", TVS_CALIB_FORMAT);
		goto fail;
	}
	v = json_object_get(root, "version");
	if (!v || !json_is_integer(v)) {
		rc = tvs__err(TVS_EFORMAT, PFX "version: %s", v ? "not an integer" : "missing");
		goto fail;
	}
	if (json_integer_value(v) != TVS_CALIB_VERSION) {
		rc = tvs__err(TVS_EUNSUPPORTED, PFX "version: %lld, want %d", (long long)json_integer_value(v),
			      TVS_CALIB_VERSION);
		goto fail;
	}
	rc = get_string(root, "model", TVS_MATCH_MODEL_MAX, 1, &s);
	if (rc)
		goto fail;
	memcpy(c->model, s, strlen(s) + 1);
	rc = get_string(root, "score", sizeof(c->score) - 1, 1, &s);
	if (rc)
		goto fail;
	memcpy(c->score, s, strlen(s) + 1);
	if ((rc = get_list(root, "verify", 1, &verify)) || (rc = get_list(root, "ident", 0, &ident)) ||
	    (rc = parse_verify(verify, c)) || (rc = parse_ident(ident, c)))
		goto fail;
	rc = get_string(root, "dataset", TVS_CALIB_TEXT_MAX, 0, &s);
	if (rc)
		goto fail;
	if (s && !(c->dataset = strdup(s))) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	rc = get_string(root, "command", TVS_CALIB_TEXT_MAX, 0, &s);
	if (rc)
		goto fail;
	if (s && !(c->command = strdup(s))) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	rc = check_calib(c);
	if (rc)
		goto fail;
	json_decref(root);
	return 0;

fail:
	json_decref(root);
	tvs_calib_free(c);
	return rc;
}

int tvs_calib_load_json(tvs_calib *c, const char *path)
{
	char *buf;
	size_t n;
	FILE *f;
	int rc;

	if (!c || !path)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	memset(c, 0, sizeof(*c));
	f = fopen(path, "rb");
	if (!f)
		return tvs__err(errno == ENOENT ? TVS_ENOTFOUND : TVS_EIO, "%s: %s", path, strerror(errno));
	buf = malloc(TVS_CALIB_FILE_MAX + 1);
	if (!buf) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_alloc;
	}
	n = fread(buf, 1, TVS_CALIB_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = tvs__err(TVS_EIO, "%s: read error", path);
		goto fail_read;
	}
	rc = tvs_calib_load_buffer(c, buf, n);
	if (rc) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		rc = tvs__err(rc, "%s: %s", path, detail);
	}
fail_read:
	free(buf);
fail_alloc:
	fclose(f);
	return rc;
}

int tvs_calib_load_for_update(tvs_calib *c, const char *path, const char *model)
{
	size_t n;
	int rc;

	if (!c || !path || !model)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	rc = tvs_calib_load_json(c, path);
	if (rc == TVS_ENOTFOUND) {
		memset(c, 0, sizeof(*c));
		n = strnlen(model, TVS_MATCH_MODEL_MAX + 1);
		if (n == 0 || n > TVS_MATCH_MODEL_MAX)
			return tvs__err(TVS_EINVAL, PFX "model id length must be 1..%d", TVS_MATCH_MODEL_MAX);
		memcpy(c->model, model, n);
		snprintf(c->score, sizeof(c->score), "%s", TVS_CALIB_SCORE_COSINE);
		return 0;
	}
	if (rc)
		return rc;
	rc = tvs_calib_check_model(c, model);
	if (rc) {
		char detail[256];

		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		tvs_calib_free(c);
		return tvs__err(rc, "%s: %s", path, detail);
	}
	return 0;
}

/* ------------------------------------------------------------ lookup */

int tvs_calib_threshold_for_fmr(const tvs_calib *c, double fmr, double *threshold)
{
	const tvs_calib_verify_point *best = NULL;

	if (!c || !threshold || !isfinite(fmr) || fmr <= 0.0)
		return tvs__err(TVS_EINVAL, PFX "bad FMR lookup");
	for (size_t i = 0; i < c->nverify; i++) {
		const tvs_calib_verify_point *p = &c->verify[i];

		if (!p->resolvable || p->target_fmr > fmr)
			continue;
		if (!best || p->target_fmr > best->target_fmr)
			best = p;
	}
	if (!best)
		return tvs__err(TVS_ENOTFOUND, PFX "no resolvable operating point at FMR <= %g", fmr);
	*threshold = best->threshold;
	return 0;
}

int tvs_calib_threshold_for_fpir(const tvs_calib *c, size_t gallery_size, double fpir, double *threshold)
{
	const tvs_calib_ident_point *best = NULL;
	size_t g = 0;

	if (!c || !threshold || !isfinite(fpir) || fpir <= 0.0 || gallery_size == 0)
		return tvs__err(TVS_EINVAL, PFX "bad FPIR lookup");
	/* the smallest calibrated gallery at least gallery_size with a usable point */
	for (size_t i = 0; i < c->nident; i++) {
		const tvs_calib_ident_point *p = &c->ident[i];

		if (p->resolvable && p->target_fpir <= fpir && p->gallery_size >= gallery_size &&
		    (!g || p->gallery_size < g))
			g = p->gallery_size;
	}
	for (size_t i = 0; g && i < c->nident; i++) {
		const tvs_calib_ident_point *p = &c->ident[i];

		if (p->gallery_size != g || !p->resolvable || p->target_fpir > fpir)
			continue;
		if (!best || p->target_fpir > best->target_fpir)
			best = p;
	}
	if (!best)
		return tvs__err(TVS_ENOTFOUND, PFX "no resolvable operating point at FPIR <= %g for %zu identities",
				fpir, gallery_size);
	*threshold = best->threshold;
	return 0;
}

int tvs_calib_check_model(const tvs_calib *c, const char *model)
{
	if (!c || !model)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	if (strncmp(c->model, model, sizeof(c->model)) != 0)
		return tvs__err(TVS_EMODEL, PFX "measured on model '%s', not '%s'", c->model, model);
	return 0;
}

/* ------------------------------------------------------------ editing */

int tvs_calib_set_ident(tvs_calib *c, const tvs_calib_ident_point *pts, size_t n)
{
	tvs_calib_ident_point keep[TVS_CALIB_MAX_POINTS];
	size_t nk = 0;

	if (!c || (!pts && n))
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	for (size_t i = 0; i < c->nident && i < TVS_CALIB_MAX_POINTS; i++) {
		size_t j;

		for (j = 0; j < n && pts[j].gallery_size != c->ident[i].gallery_size; j++)
			;
		if (j == n)
			keep[nk++] = c->ident[i];
	}
	if (nk + n > TVS_CALIB_MAX_POINTS)
		return tvs__err(TVS_ETOOBIG, PFX "more than %d ident points", TVS_CALIB_MAX_POINTS);
	memcpy(c->ident, keep, nk * sizeof(keep[0]));
	if (n)
		memcpy(c->ident + nk, pts, n * sizeof(pts[0]));
	c->nident = nk + n;
	return 0;
}

/* Whether part occurs in s as a whole part between separators sep. */
static int has_part(const char *s, const char *part, const char *sep)
{
	size_t lp = strlen(part), ls = strlen(sep);

	for (const char *p = s; (p = strstr(p, part)) != NULL; p++) {
		int starts = p == s || (p - s >= (ptrdiff_t)ls && !memcmp(p - ls, sep, ls));
		int ends = p[lp] == '\0' || !strncmp(p + lp, sep, ls);

		if (starts && ends)
			return 1;
	}
	return 0;
}

/* *field + sep + part in a new string (*out), or NULL in *out when part is
 * there already. */
static int join_part(const char *field, const char *part, const char *sep, char **out)
{
	size_t lf = field ? strlen(field) : 0, n;

	*out = NULL;
	if (!part || (field && has_part(field, part, sep)))
		return 0;
	n = lf + (lf ? strlen(sep) : 0) + strlen(part);
	if (n > TVS_CALIB_TEXT_MAX)
		return tvs__err(TVS_ETOOBIG, PFX "dataset or command longer than %d bytes", TVS_CALIB_TEXT_MAX);
	*out = malloc(n + 1);
	if (!*out)
		return tvs__err(TVS_ENOMEM, "out of memory");
	snprintf(*out, n + 1, "%s%s%s", lf ? field : "", lf ? sep : "", part);
	return 0;
}

int tvs_calib_add_source(tvs_calib *c, const char *dataset, const char *command)
{
	char *d = NULL, *m = NULL;
	int rc;

	if (!c)
		return tvs__err(TVS_EINVAL, PFX "NULL argument");
	if ((rc = join_part(c->dataset, dataset, "; ", &d)) < 0)
		return rc;
	if ((rc = join_part(c->command, command, "\n", &m)) < 0) {
		free(d);
		return rc;
	}
	if (d) {
		free(c->dataset);
		c->dataset = d;
	}
	if (m) {
		free(c->command);
		c->command = m;
	}
	return 0;
}

void tvs_calib_format_command(const char *prefix, int argc, char *const *argv, char *buf, size_t cap)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%";
	size_t n = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
#define PUT(ch)                                   \
	do {                                      \
		if (n + 1 < cap)                  \
			buf[n] = (ch);            \
		n++;                              \
	} while (0)
	for (const char *p = prefix ? prefix : ""; *p; p++)
		PUT(*p);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int quote = a[0] == '\0' || strspn(a, plain) != strlen(a);

		PUT(' ');
		if (quote)
			PUT('\'');
		for (; *a; a++) {
			if (*a == '\'') { /* ' -> '\'' */
				PUT('\'');
				PUT('\\');
				PUT('\'');
			}
			PUT(*a);
		}
		if (quote)
			PUT('\'');
	}
#undef PUT
	if (n + 1 <= cap) {
		buf[n] = '\0';
	} else {
		buf[cap - 1] = '\0';
		if (cap > 4)
			memcpy(buf + cap - 4, "...", 4);
	}
}

void tvs_calib_free(tvs_calib *c)
{
	if (!c)
		return;
	free(c->dataset);
	free(c->command);
	memset(c, 0, sizeof(*c));
}
