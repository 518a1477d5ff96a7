/*
 * JSON input validation: the first failure wins and names its field path
 * ("travelers[3].document.number"), so a client learns exactly what to fix.
 * Pure jansson: the manifest fuzz target links this file alone.
 */
#include "svc/svc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void field_path(char *out, size_t cap, const char *path, const char *key)
{
	if (!key)
		snprintf(out, cap, "%s", path);
	else if (key[0] == '[')
		snprintf(out, cap, "%s%s", path, key);
	else
		snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

void jv_fail(struct jv *v, const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (v->bad)
		return;
	v->bad = 1;
	field_path(v->field, sizeof(v->field), path, key);
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

static json_t *jv_get(struct jv *v, json_t *obj, const char *path, const char *key, int required)
{
	json_t *x = obj ? json_object_get(obj, key) : NULL;

	if (x && json_is_null(x))
		x = NULL;
	if (!x && required)
		jv_fail(v, path, key, "required");
	return x;
}

const char *jv_str(struct jv *v, json_t *obj, const char *path, const char *key, int required, size_t min,
		   size_t max)
{
	json_t *x = jv_get(v, obj, path, key, required);
	size_t n;

	if (!x)
		return NULL;
	if (!json_is_string(x)) {
		jv_fail(v, path, key, "must be a string");
		return NULL;
	}
	n = json_string_length(x);
	if (n < min || n > max) {
		jv_fail(v, path, key, "length must be %zu..%zu", min, max);
		return NULL;
	}
	if (strlen(json_string_value(x)) != n) {
		jv_fail(v, path, key, "must not contain NUL");
		return NULL;
	}
	return json_string_value(x);
}

const char *jv_enum(struct jv *v, json_t *obj, const char *path, const char *key, int required,
		    const char *const *allowed)
{
	const char *x = jv_str(v, obj, path, key, required, 1, 64);

	if (!x)
		return NULL;
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(x, allowed[i]))
			return allowed[i];
	jv_fail(v, path, key, "must be one of %s%s%s%s%s", allowed[0], allowed[1] ? ", " : "",
		allowed[1] ? allowed[1] : "", allowed[1] && allowed[2] ? ", ..." : "", "");
	return NULL;
}

int64_t jv_int(struct jv *v, json_t *obj, const char *path, const char *key, int required, int64_t lo,
	       int64_t hi, int64_t def)
{
	json_t *x = jv_get(v, obj, path, key, required);
	json_int_t i;

	if (!x)
		return def;
	if (!json_is_integer(x)) {
		jv_fail(v, path, key, "must be an integer");
		return def;
	}
	i = json_integer_value(x);
	if (i < lo || i > hi) {
		jv_fail(v, path, key, "must be in %lld..%lld", (long long)lo, (long long)hi);
		return def;
	}
	return i;
}

/* RFC 3339 with a Z or +00:00 offset and optional fraction; days are checked
 * against the month so 2026-02-30 is refused, not normalised. */
static int parse_time(const char *t, int64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, n = 0;
	struct tm tm;
	const char *p;

	if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	if (y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
		return -1;
	p = t + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec > 59 ? 59 : sec;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int64_t jv_time(struct jv *v, json_t *obj, const char *path, const char *key, int required, int64_t def)
{
	const char *x = jv_str(v, obj, path, key, required, 1, 40);
	int64_t t;

	if (!x)
		return def;
	if (parse_time(x, &t)) {
		jv_fail(v, path, key, "must be an RFC 3339 UTC time like 2026-11-23T10:00:00Z");
		return def;
	}
	return t;
}

json_t *jv_obj(struct jv *v, json_t *obj, const char *path, const char *key, int required)
{
	json_t *x = jv_get(v, obj, path, key, required);

	if (x && !json_is_object(x)) {
		jv_fail(v, path, key, "must be an object");
		return NULL;
	}
	return x;
}

json_t *jv_arr(struct jv *v, json_t *obj, const char *path, const char *key, int required, size_t max)
{
	json_t *x = jv_get(v, obj, path, key, required);

	if (x && !json_is_array(x)) {
		jv_fail(v, path, key, "must be an array");
		return NULL;
	}
	if (x && json_array_size(x) > max) {
		jv_fail(v, path, key, "at most %zu entries", max);
		return NULL;
	}
	return x;
}

