/*
 * Unit tests for the service's static contract: the route table and the
 * OpenAPI document describe the same endpoints with the same roles (so the
 * document served at /v1/openapi.json matches the code), and role names
 * round-trip. The behaviour behind the routes is tested black-box in
 * tests/e2e/ against a real tvs serve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/svc.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static json_t *openapi(void)
{
	json_error_t e;
	json_t *j = json_load_file("src/svc/openapi.json", 0, &e);

	if (!j)
		fail_msg("src/svc/openapi.json: line %d: %s", e.line, e.text);
	return j;
}

static void lower(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static unsigned roles_of(json_t *op, const char *where)
{
	json_t *r = json_object_get(op, "x-roles"), *x;
	unsigned bits = 0;
	size_t i;

	if (!json_is_array(r))
		fail_msg("%s: no x-roles array", where);
	if (json_array_size(r) == 0)
		return TVS_ROLE_PUBLIC;
	json_array_foreach(r, i, x)
	{
		unsigned b = tvs_svc_role_parse(json_string_value(x));

		if (!b)
			fail_msg("%s: unknown role %s", where, json_string_value(x) ? json_string_value(x) : "?");
		bits |= b;
	}
	return bits;
}

static void routes_are_documented(void **state)
{
	json_t *doc = openapi(), *paths = json_object_get(doc, "paths");
	size_t n;
	const tvs_http_route *r = tvs_svc_routes(&n);

	(void)state;
	assert_true(n > 20);
	for (size_t i = 0; i < n; i++) {
		char m[16], where[160];
		json_t *op;

		lower(r[i].method, m, sizeof(m));
		snprintf(where, sizeof(where), "%s %s", r[i].method, r[i].pattern);
		op = json_object_get(json_object_get(paths, r[i].pattern), m);
		if (!op)
			fail_msg("%s: in the route table, not in openapi.json", where);
		if (roles_of(op, where) != tvs_svc_route_roles(i))
			fail_msg("%s: openapi x-roles %#x, route table %#x", where, roles_of(op, where),
				 tvs_svc_route_roles(i));
	}
	json_decref(doc);
}

static void documented_are_routes(void **state)
{
	json_t *doc = openapi(), *paths = json_object_get(doc, "paths"), *item, *op;
	const char *path, *method;
	size_t n;
	const tvs_http_route *r = tvs_svc_routes(&n);

	(void)state;
	json_object_foreach(paths, path, item)
	{
		json_object_foreach(item, method, op)
		{
			int found = 0;

			if (!strcmp(method, "parameters") || !strcmp(method, "summary") || !strcmp(method, "description"))
				continue;
			for (size_t i = 0; i < n && !found; i++) {
				char m[16];

				lower(r[i].method, m, sizeof(m));
				found = !strcmp(m, method) && !strcmp(r[i].pattern, path);
			}
			if (!found)
				fail_msg("%s %s: in openapi.json, not in the route table", method, path);
		}
	}
	json_decref(doc);
}

static void role_names(void **state)
{
	static const char *const names[] = { "device", "repository", "officer", "supervisor", "auditor", "admin" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		unsigned b = tvs_svc_role_parse(names[i]);

		assert_int_not_equal(b, 0);
		assert_string_equal(tvs_svc_role_name(b), names[i]);
	}
	assert_int_equal(tvs_svc_role_parse("root"), 0);
	assert_int_equal(tvs_svc_role_parse(NULL), 0);
	assert_null(tvs_svc_role_name(TVS_ROLE_PUBLIC));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_are_documented),
		cmocka_unit_test(documented_are_routes),
		cmocka_unit_test(role_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
