/*
 * TFJS weight loader: <name>-weights_manifest.json + the .bin files it names.
 *
 * The manifest is a JSON array of groups {paths, weights[{name, shape, dtype,
 * quantization?}]}. Each group's .bin files are concatenated and hold the
 * weights in manifest order with no padding: prod(shape) bytes when
 * quantised to uint8 (value = q*scale + min, computed in double and stored
 * as float32, exactly as tfjs-core io_utils.decodeWeights), 4*prod(shape)
 * little-endian bytes otherwise. int32 tensors (graph constants in the SSD
 * manifest) are kept as rounded floats; nothing uses them.
 *
 * Model files are input like any other: sizes, counts, dimensions and paths
 * are bounded, and a manifest that does not account for every .bin byte is
 * rejected as altered.
 */
#include "tvs/error.h"
#include "tvs/nn.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MANIFEST_BYTES (4u << 20)
#define MAX_BIN_BYTES (512u << 20)
#define MAX_TENSORS 8192
#define MAX_NDIM 6
#define MAX_NAME 256

struct weight {
	char *name;
	int ndim;
	int shape[MAX_NDIM];
	size_t n;
	float *data; /* points into model->values */
};

struct tvs_nn_model {
	struct weight *w;
	int count;
	float *values;
	size_t nvalues;
};

static int read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	FILE *f = NULL;
	struct stat st;
	unsigned char *buf = NULL;
	int rc;

	f = fopen(path, "rb");
	if (!f)
		return tvs__err(TVS_ENOTFOUND, "cannot open %s", path);
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = tvs__err(TVS_EIO, "%s: not a regular file", path);
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		rc = tvs__err(TVS_ETOOBIG, "%s: %lld bytes exceeds the %zu-byte limit", path,
			      (long long)st.st_size, max);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = tvs__err(TVS_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		rc = tvs__err(TVS_EIO, "%s: short read", path);
		goto fail;
	}
	buf[st.st_size] = 0;
	fclose(f);
	*out = buf;
	*len = (size_t)st.st_size;
	return 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}

/* A manifest path must name a file in the model folder, nothing else. */
static int safe_filename(const char *s)
{
	if (!*s || strlen(s) > MAX_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	return strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

void tvs_nn_model_destroy(tvs_nn_model_t *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->count; i++)
		free(m->w[i].name);
	free(m->w);
	free(m->values);
	free(m);
}

/* Parse one weight entry's header fields. */
static int parse_weight(json_t *jw, const char *model, struct weight *w, int *quant, double *scale,
			double *min, int *is_int)
{
	json_t *jn = json_object_get(jw, "name");
	json_t *js = json_object_get(jw, "shape");
	json_t *jd = json_object_get(jw, "dtype");
	json_t *jq = json_object_get(jw, "quantization");
	size_t i;
	json_t *v;

	if (!json_is_string(jn) || !json_is_array(js) || !json_is_string(jd))
		return tvs__err(TVS_EFORMAT, "%s: weight entry lacks name, shape or dtype", model);
	if (strlen(json_string_value(jn)) > MAX_NAME)
		return tvs__err(TVS_EFORMAT, "%s: weight name too long", model);
	if (json_array_size(js) > MAX_NDIM)
		return tvs__err(TVS_EFORMAT, "%s: %s has too many dimensions", model, json_string_value(jn));
	w->ndim = (int)json_array_size(js);
	w->n = 1;
	json_array_foreach(js, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 24))
			return tvs__err(TVS_EFORMAT, "%s: %s has a bad dimension", model, json_string_value(jn));
		w->shape[i] = (int)json_integer_value(v);
		w->n *= (size_t)w->shape[i];
		if (w->n > (64u << 20))
			return tvs__err(TVS_ETOOBIG, "%s: %s is too large", model, json_string_value(jn));
	}
	const char *dt = json_string_value(jd);
	if (strcmp(dt, "float32") == 0)
		*is_int = 0;
	else if (strcmp(dt, "int32") == 0)
		*is_int = 1;
	else
		return tvs__err(TVS_EUNSUPPORTED, "%s: %s has dtype %s", model, json_string_value(jn), dt);
	*quant = 0;
	if (jq && !json_is_null(jq)) {
		json_t *qd = json_object_get(jq, "dtype");
		json_t *qs = json_object_get(jq, "scale");
		json_t *qm = json_object_get(jq, "min");
		if (!json_is_string(qd) || strcmp(json_string_value(qd), "uint8") != 0 ||
		    !json_is_number(qs) || !json_is_number(qm))
			return tvs__err(TVS_EUNSUPPORTED, "%s: %s has unsupported quantization", model,
					json_string_value(jn));
		*quant = 1;
		*scale = json_number_value(qs);
		*min = json_number_value(qm);
		if (!isfinite(*scale) || !isfinite(*min))
			return tvs__err(TVS_EFORMAT, "%s: %s has a non-finite scale", model, json_string_value(jn));
	}
	w->name = strdup(json_string_value(jn));
	return w->name ? 0 : tvs__err(TVS_ENOMEM, "out of memory");
}

static int load_group(tvs_nn_model_t *m, json_t *group, const char *dir, const char *name)
{
	json_t *paths = json_object_get(group, "paths");
	json_t *weights = json_object_get(group, "weights");
	unsigned char *bin = NULL;
	size_t binlen = 0, off = 0, i;
	json_t *v;
	char path[4096];
	int rc;

	if (!json_is_array(paths) || !json_is_array(weights) || json_array_size(paths) == 0 ||
	    json_array_size(paths) > 64)
		return tvs__err(TVS_EFORMAT, "%s: group lacks paths or weights", name);
	json_array_foreach(paths, i, v) {
		unsigned char *part = NULL, *grown;
		size_t plen = 0;

		if (!json_is_string(v) || !safe_filename(json_string_value(v))) {
			rc = tvs__err(TVS_EFORMAT, "%s: bad weight file name in manifest", name);
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(v));
		rc = read_file(path, MAX_BIN_BYTES - binlen, &part, &plen);
		if (rc < 0)
			goto fail;
		grown = realloc(bin, binlen + plen + 1);
		if (!grown) {
			free(part);
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail;
		}
		bin = grown;
		memcpy(bin + binlen, part, plen);
		binlen += plen;
		free(part);
	}
	if (json_array_size(weights) > (size_t)(MAX_TENSORS - m->count)) {
		rc = tvs__err(TVS_ETOOBIG, "%s: too many tensors", name);
		goto fail;
	}
	json_array_foreach(weights, i, v) {
		struct weight *w = &m->w[m->count];
		int quant = 0, is_int = 0;
		double scale = 0, min = 0;

		memset(w, 0, sizeof(*w));
		rc = parse_weight(v, name, w, &quant, &scale, &min, &is_int);
		if (rc < 0) {
			free(w->name);
			w->name = NULL;
			goto fail;
		}
		m->count++;
		size_t bytes = quant ? w->n : 4 * w->n;
		if (bytes > binlen - off) {
			rc = tvs__err(TVS_EINTEGRITY, "%s: %s runs past the end of the weights (%zu bytes)", name,
				      w->name, binlen);
			goto fail;
		}
		float *grown = realloc(m->values, (m->nvalues + w->n) * sizeof(float));
		if (!grown) {
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail;
		}
		m->values = grown;
		float *dst = m->values + m->nvalues;
		const unsigned char *src = bin + off;
		for (size_t k = 0; k < w->n; k++) {
			double val;
			if (quant) {
				val = src[k] * scale + min;
			} else if (is_int) {
				int32_t iv;
				memcpy(&iv, src + 4 * k, 4);
				val = iv;
			} else {
				float fv;
				memcpy(&fv, src + 4 * k, 4);
				val = fv;
			}
			dst[k] = is_int ? (float)round(val) : (float)val;
		}
		/* data pointers are fixed up once every realloc is done */
		w->data = (float *)(uintptr_t)m->nvalues;
		m->nvalues += w->n;
		off += bytes;
	}
	if (off != binlen) {
		rc = tvs__err(TVS_EINTEGRITY, "%s: manifest describes %zu bytes but the weights hold %zu", name, off,
			      binlen);
		goto fail;
	}
	free(bin);
	return 0;
fail:
	free(bin);
	return rc;
}

int tvs_nn_model_load(tvs_nn_model_t **out, const char *dir, const char *name)
{
	tvs_nn_model_t *m = NULL;
	unsigned char *text = NULL;
	size_t len;
	json_t *root = NULL, *group;
	json_error_t jerr;
	char path[4096];
	size_t i;
	int rc;

	*out = NULL;
	if (!dir || !name || !safe_filename(name))
		return tvs__err(TVS_EINVAL, "model: bad folder or name");
	snprintf(path, sizeof(path), "%s/%s-weights_manifest.json", dir, name);
	rc = read_file(path, MAX_MANIFEST_BYTES, &text, &len);
	if (rc < 0)
		return rc;
	root = json_loadb((const char *)text, len, 0, &jerr);
	if (!root || !json_is_array(root) || json_array_size(root) == 0) {
		rc = tvs__err(TVS_EFORMAT, "%s: not a weights manifest (%s, line %d)", path,
			      root ? "not a non-empty array" : jerr.text, jerr.line);
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (m)
		m->w = calloc(MAX_TENSORS, sizeof(*m->w));
	if (!m || !m->w) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	json_array_foreach(root, i, group) {
		rc = load_group(m, group, dir, name);
		if (rc < 0)
			goto fail;
	}
	for (int k = 0; k < m->count; k++)
		m->w[k].data = m->values + (size_t)(uintptr_t)m->w[k].data;
	json_decref(root);
	free(text);
	*out = m;
	return 0;
fail:
	json_decref(root);
	free(text);
	tvs_nn_model_destroy(m);
	return rc;
}

int tvs_nn_model_get(const tvs_nn_model_t *m, const char *name, int ndim, const int *shape,
		     const float **data)
{
	for (int i = 0; i < m->count; i++) {
		const struct weight *w = &m->w[i];
		if (strcmp(w->name, name) != 0)
			continue;
		if (w->ndim != ndim)
			return tvs__err(TVS_EINTEGRITY, "weight %s has %d dimensions, expected %d", name, w->ndim,
					ndim);
		for (int d = 0; d < ndim; d++)
			if (w->shape[d] != shape[d])
				return tvs__err(TVS_EINTEGRITY, "weight %s dimension %d is %d, expected %d", name,
						d, w->shape[d], shape[d]);
		*data = w->data;
		return 0;
	}
	return tvs__err(TVS_ENOTFOUND, "weight %s not in the model", name);
}

int tvs_nn_model_count(const tvs_nn_model_t *m)
{
	return m->count;
}

size_t tvs_nn_model_values(const tvs_nn_model_t *m)
{
	return m->nvalues;
}
