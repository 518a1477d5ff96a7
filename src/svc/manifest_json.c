/*
 * The JSON manifest and its documents, validated without the store: the
 * manifest's internal form (struct svc_manifest_in) comes out of here
 * whether the carrier sent JSON or PAXLST (which manifest.c turns into the
 * same JSON first), so both meet one set of rules and one set of error
 * paths. The store-side checks (does the port exist, is a document listed
 * twice) come after, in manifest.c.
 */
#include "svc/svc_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const directions[] = { "entry", "exit", NULL };

static int all_of(const char *x, const char *set_extra, int upper_alnum)
{
	for (; *x; x++)
		if (!((upper_alnum && (isupper((unsigned char)*x) || isdigit((unsigned char)*x))) ||
		      strchr(set_extra, *x)))
			return 0;
	return 1;
}

static int is_date(const char *d)
{
	int y, m, dd, n = 0;

	return d && sscanf(d, "%4d-%2d-%2d%n", &y, &m, &dd, &n) == 3 && n == 10 && !d[10] && y >= 1900 &&
	       m >= 1 && m <= 12 && dd >= 1 && dd <= 31;
}

static const char *const sexes[] = { "F", "M", "X", NULL };

int svc_document_fields(struct jv *v, json_t *d, const char *path, struct svc_document *out)
{
	memset(out, 0, sizeof(*out));
	out->type = jv_str(v, d, path, "type", 1, 1, 2);
	out->number = jv_str(v, d, path, "number", 1, 1, 20);
	out->issuing_state = jv_str(v, d, path, "issuing_state", 1, 1, 3);
	out->nationality = jv_str(v, d, path, "nationality", 0, 1, 3);
	out->surname = jv_str(v, d, path, "surname", 0, 0, 100);
	out->given_names = jv_str(v, d, path, "given_names", 0, 0, 100);
	out->birth_date = jv_str(v, d, path, "birth_date", 0, 10, 10);
	out->sex = jv_enum(v, d, path, "sex", 0, sexes);
	out->expiry = jv_str(v, d, path, "expiry", 0, 10, 10);
	if (v->bad)
		return -1;
	if (!all_of(out->type, "", 1) || !isupper((unsigned char)out->type[0]))
		jv_fail(v, path, "type", "must be 1-2 of [A-Z0-9], starting with a letter (P, V, I, ...)");
	else if (!all_of(out->number, "", 1))
		jv_fail(v, path, "number", "must be 1-20 of [A-Z0-9]");
	else if (strlen(out->issuing_state) != 3 || !all_of(out->issuing_state, "<", 1))
		jv_fail(v, path, "issuing_state", "must be a 3-letter ICAO code");
	else if (out->nationality && (strlen(out->nationality) != 3 || !all_of(out->nationality, "<", 1)))
		jv_fail(v, path, "nationality", "must be a 3-letter ICAO code");
	else if (out->birth_date && !is_date(out->birth_date))
		jv_fail(v, path, "birth_date", "must be YYYY-MM-DD");
	else if (out->expiry && !is_date(out->expiry))
		jv_fail(v, path, "expiry", "must be YYYY-MM-DD");
	return v->bad ? -1 : 0;
}

int svc_manifest_parse(struct jv *v, json_t *b, struct svc_manifest_in *m)
{
	json_t *win;

	memset(m, 0, sizeof(*m));
	m->carrier = jv_str(v, b, "", "carrier", 1, 1, 8);
	m->number = jv_str(v, b, "", "number", 1, 1, 16);
	m->direction = jv_enum(v, b, "", "direction", 1, directions);
	m->port = jv_str(v, b, "", "port", 1, 3, 5);
	m->scheduled_at = jv_time(v, b, "", "scheduled_at", 1, 0);
	win = jv_obj(v, b, "", "window", 0);
	m->opens_at = jv_time(v, win, "window", "opens_at", 0, m->scheduled_at - 4 * 3600);
	m->closes_at = jv_time(v, win, "window", "closes_at", 0, m->scheduled_at + 3600);
	m->locations = jv_arr(v, b, "", "locations", 1, SVC_MANIFEST_MAX_LOCATIONS);
	m->travelers = jv_arr(v, b, "", "travelers", 1, SVC_MANIFEST_MAX_TRAVELERS);
	if (!v->bad && m->closes_at <= m->opens_at)
		jv_fail(v, "window", "closes_at", "must be after opens_at");
	if (!v->bad && json_array_size(m->locations) == 0)
		jv_fail(v, "", "locations", "at least one location code");
	for (size_t i = 0; !v->bad && i < json_array_size(m->locations); i++) {
		char key[24];

		snprintf(key, sizeof(key), "[%zu]", i);
		if (!json_is_string(json_array_get(m->locations, i)))
			jv_fail(v, "locations", key, "must be a location code");
	}
	for (size_t i = 0; !v->bad && i < json_array_size(m->travelers); i++) {
		json_t *t = json_array_get(m->travelers, i), *dj;
		struct svc_document d;
		char path[48];

		snprintf(path, sizeof(path), "travelers[%zu]", i);
		if (!json_is_object(t)) {
			jv_fail(v, path, NULL, "must be an object");
			break;
		}
		dj = jv_obj(v, t, path, "document", 1);
		snprintf(path, sizeof(path), "travelers[%zu].document", i);
		if (dj)
			svc_document_fields(v, dj, path, &d);
	}
	return v->bad ? -1 : 0;
}
