/*
 * Templates: construction, the storage byte format, 1:1 verify.
 *
 * Byte format (all little-endian), kept small and self-checking because
 * templates are stored and exchanged:
 *
 *   0  4  magic "TVST"
 *   4  2  format version (1)
 *   6  2  flags (bit 0: int8 form present; other bits must be 0)
 *   8  4  producer version
 *  12  1  model id length m (1..31), then m bytes of printable ASCII
 *  13+m 2 dim (128)
 *   ..    dim float32
 *   ..    [flags&1] float32 qscale, dim int8
 *   ..  4 CRC-32 (IEEE) of every byte before it
 *
 * The parser bounds every read against len, checks the CRC before trusting
 * any value, and then checks the values themselves (finite, unit norm,
 * int8 form consistent with its scale), so a corrupt or hostile buffer is
 * refused rather than searched.
 */
#include "match_int.h"

#include "tvs/error.h"

#include <math.h>
#include <string.h>

#define TPL_MAGIC "TVST"
#define TPL_FORMAT 1
#define TPL_FLAG_Q 1u

float tvs__match_quantise(const float *v, int n, int8_t *q)
{
	float m = 0.0f, inv;

	for (int i = 0; i < n; i++)
		m = fmaxf(m, fabsf(v[i]));
	if (m == 0.0f) {
		memset(q, 0, (size_t)n);
		return 0.0f;
	}
	inv = 127.0f / m;
	for (int i = 0; i < n; i++) {
		float r = nearbyintf(v[i] * inv);
		q[i] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r);
	}
	return m / 127.0f;
}

static int check_model(const char *model)
{
	size_t n;

	if (!model)
		return tvs__err(TVS_EINVAL, "template: no model id");
	n = strnlen(model, TVS_MATCH_MODEL_MAX + 1);
	if (n == 0 || n > TVS_MATCH_MODEL_MAX)
		return tvs__err(TVS_EINVAL, "template: model id length must be 1..%d", TVS_MATCH_MODEL_MAX);
	for (size_t i = 0; i < n; i++)
		if (model[i] < 0x21 || model[i] > 0x7e)
			return tvs__err(TVS_EINVAL, "template: model id must be printable ASCII");
	return 0;
}

int tvs_match_template_init(tvs_template *t, const char *model, uint32_t version, const float *desc,
			    int dim)
{
	double ss = 0.0;
	int rc;

	if (!t || !desc)
		return tvs__err(TVS_EINVAL, "template: NULL argument");
	if ((rc = check_model(model)) < 0)
		return rc;
	if (dim != TVS_MATCH_DIM)
		return tvs__err(TVS_EINVAL, "template: dim %d, want %d", dim, TVS_MATCH_DIM);
	for (int i = 0; i < dim; i++) {
		if (!isfinite(desc[i]))
			return tvs__err(TVS_EINVAL, "template: non-finite value at %d", i);
		ss += (double)desc[i] * desc[i];
	}
	if (!(ss > 1e-20))
		return tvs__err(TVS_EINVAL, "template: zero descriptor");
	memset(t, 0, sizeof(*t));
	memcpy(t->model, model, strlen(model));
	t->version = version;
	double inv = 1.0 / sqrt(ss);
	for (int i = 0; i < dim; i++)
		t->v[i] = (float)(desc[i] * inv);
	t->qscale = tvs__match_quantise(t->v, dim, t->q);
	t->has_q = 1;
	return 0;
}

/* ------------------------------------------------------------ bytes */

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(p, u);
}

static float get_f32(const uint8_t *p)
{
	uint32_t u = get_u32(p);
	float f;

	memcpy(&f, &u, 4);
	return f;
}

size_t tvs_match_template_size(const tvs_template *t)
{
	size_t n = 13 + strnlen(t->model, TVS_MATCH_MODEL_MAX + 1) + 2 + 4 * TVS_MATCH_DIM + 4;

	if (t->has_q)
		n += 4 + TVS_MATCH_DIM;
	return n;
}

int tvs_match_template_serialize(const tvs_template *t, uint8_t *buf, size_t cap, size_t *len)
{
	size_t need, m, o = 0;
	int rc;

	if (!t || !buf || !len)
		return tvs__err(TVS_EINVAL, "template: NULL argument");
	if ((rc = check_model(t->model)) < 0)
		return rc;
	need = tvs_match_template_size(t);
	if (cap < need)
		return tvs__err(TVS_ETOOBIG, "template: needs %zu bytes, buffer has %zu", need, cap);
	m = strlen(t->model);
	memcpy(buf, TPL_MAGIC, 4);
	put_u16(buf + 4, TPL_FORMAT);
	put_u16(buf + 6, t->has_q ? TPL_FLAG_Q : 0);
	put_u32(buf + 8, t->version);
	buf[12] = (uint8_t)m;
	memcpy(buf + 13, t->model, m);
	o = 13 + m;
	put_u16(buf + o, TVS_MATCH_DIM);
	o += 2;
	for (int i = 0; i < TVS_MATCH_DIM; i++, o += 4)
		put_f32(buf + o, t->v[i]);
	if (t->has_q) {
		put_f32(buf + o, t->qscale);
		o += 4;
		memcpy(buf + o, t->q, TVS_MATCH_DIM);
		o += TVS_MATCH_DIM;
	}
	put_u32(buf + o, crc32_ieee(buf, o));
	o += 4;
	*len = o;
	return 0;
}

int tvs_match_template_parse(tvs_template *t, const uint8_t *buf, size_t len, const char *expect_model)
{
	size_t o, m, need;
	unsigned flags;
	double ss = 0.0;
	tvs_template tmp;
	int rc;

	if (!t || (!buf && len))
		return tvs__err(TVS_EINVAL, "template: NULL argument");
	if (len < 13 || memcmp(buf, TPL_MAGIC, 4) != 0)
		return tvs__err(TVS_EFORMAT, "template: not a template (%zu bytes, bad magic or too short)", len);
	if (get_u16(buf + 4) != TPL_FORMAT)
		return tvs__err(TVS_EUNSUPPORTED, "template: format version %u, want %u", get_u16(buf + 4),
				TPL_FORMAT);
	flags = get_u16(buf + 6);
	if (flags & ~TPL_FLAG_Q)
		return tvs__err(TVS_EFORMAT, "template: unknown flags 0x%x", flags);
	m = buf[12];
	if (m == 0 || m > TVS_MATCH_MODEL_MAX)
		return tvs__err(TVS_EFORMAT, "template: model id length %zu", m);
	need = 13 + m + 2 + 4 * TVS_MATCH_DIM + ((flags & TPL_FLAG_Q) ? 4 + TVS_MATCH_DIM : 0) + 4;
	if (len < 13 + m + 2)
		return tvs__err(TVS_EFORMAT, "template: truncated at %zu bytes", len);
	if (get_u16(buf + 13 + m) != TVS_MATCH_DIM)
		return tvs__err(TVS_EUNSUPPORTED, "template: dim %u, want %d", get_u16(buf + 13 + m),
				TVS_MATCH_DIM);
	if (len != need)
		return tvs__err(TVS_EFORMAT, "template: %zu bytes, want %zu", len, need);
	if (crc32_ieee(buf, len - 4) != get_u32(buf + len - 4))
		return tvs__err(TVS_EINTEGRITY, "template: CRC mismatch");

	memset(&tmp, 0, sizeof(tmp));
	memcpy(tmp.model, buf + 13, m);
	if ((rc = check_model(tmp.model)) < 0)
		return tvs__err(TVS_EFORMAT, "template: bad model id");
	tmp.version = get_u32(buf + 8);
	o = 13 + m + 2;
	for (int i = 0; i < TVS_MATCH_DIM; i++, o += 4) {
		tmp.v[i] = get_f32(buf + o);
		if (!isfinite(tmp.v[i]))
			return tvs__err(TVS_EFORMAT, "template: non-finite value at %d", i);
		ss += (double)tmp.v[i] * tmp.v[i];
	}
	if (fabs(ss - 1.0) > 1e-3)
		return tvs__err(TVS_EFORMAT, "template: descriptor not unit-norm (|v|^2 = %g)", ss);
	if (flags & TPL_FLAG_Q) {
		tmp.has_q = 1;
		tmp.qscale = get_f32(buf + o);
		o += 4;
		memcpy(tmp.q, buf + o, TVS_MATCH_DIM);
		if (!isfinite(tmp.qscale) || !(tmp.qscale > 0.0f) || tmp.qscale > 1.0f)
			return tvs__err(TVS_EFORMAT, "template: bad int8 scale");
		for (int i = 0; i < TVS_MATCH_DIM; i++) {
			if (tmp.q[i] == -128 || fabsf(tmp.q[i] * tmp.qscale - tmp.v[i]) > tmp.qscale)
				return tvs__err(TVS_EFORMAT, "template: int8 form disagrees with floats at %d", i);
		}
	}
	if (expect_model && strcmp(expect_model, tmp.model) != 0)
		return tvs__err(TVS_EMODEL, "template: model '%s', expected '%s'", tmp.model, expect_model);
	*t = tmp;
	return 0;
}

int tvs_match_verify(const tvs_template *a, const tvs_template *b, float *score)
{
	double s = 0.0;

	if (!a || !b || !score)
		return tvs__err(TVS_EINVAL, "verify: NULL argument");
	if (strcmp(a->model, b->model) != 0)
		return tvs__err(TVS_EMODEL, "verify: model mismatch ('%s' vs '%s')", a->model, b->model);
	for (int i = 0; i < TVS_MATCH_DIM; i++)
		s += (double)a->v[i] * b->v[i];
	*score = (float)s;
	return 0;
}

float tvs_match_score_to_distance(float score)
{
	float d2 = 2.0f - 2.0f * score;

	return d2 > 0.0f ? sqrtf(d2) : 0.0f;
}
