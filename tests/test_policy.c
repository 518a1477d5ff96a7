/*
 * Unit tests for the policy module (src/policy/policy.c).
 *
 * Every expectation is computed by hand from the rules in docs/policy.md,
 * never by calling the code under test: ages from calendar arithmetic, purge
 * times as a capture instant plus a literal number of seconds (12 h = 43 200,
 * 2 years of 365.25 days = 63 115 200, 75 years = 2 366 820 000). The date
 * conversion is also walked day by day, every day from 0001-01-01 to
 * 9999-12-31, against a naive calendar that just counts days. Nothing reads
 * the clock: "now" is always a literal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/policy.h"

#include <string.h>

#define T0 INT64_C(1700000000) /* 2023-11-14T22:13:20Z */
#define H12 INT64_C(43200)
#define Y2 INT64_C(63115200)
#define Y75 INT64_C(2366820000)

static const int RULES[] = { TVS_POLICY_PILOT_2018, TVS_POLICY_FINAL_2025 };

static tvs_policy_date date(int y, int m, int d)
{
	tvs_policy_date r = { y, m, d };
	return r;
}

static tvs_policy_traveler traveler(int citizen, int by, int bm, int bd)
{
	tvs_policy_traveler t;

	memset(&t, 0, sizeof(t));
	t.citizen = citizen;
	t.birth = date(by, bm, bd);
	return t;
}

static tvs_policy_context context(int kind, int direction, int designated, int y, int m, int d)
{
	tvs_policy_context c;

	memset(&c, 0, sizeof(c));
	c.port_kind = kind;
	c.mode = tvs_policy_port_kind_mode(kind);
	c.direction = direction;
	c.pilot_designated = designated;
	c.date = date(y, m, d);
	return c;
}

/* The pilot's home ground: a designated airport, departing. */
static tvs_policy_context pilot_gate(int y, int m, int d)
{
	return context(TVS_PORT_AIRPORT, TVS_DIRECTION_EXIT, 1, y, m, d);
}

static tvs_policy_applicability assess(int rules, tvs_policy_traveler t, tvs_policy_context c)
{
	tvs_policy_applicability a;

	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(tvs_policy_assess_traveler(rules, &t, &c, &a), 0);
	assert_non_null(memchr(a.reason, '\0', sizeof(a.reason)));
	return a;
}

static void expect_applies(int rules, tvs_policy_traveler t, tvs_policy_context c, int applies, const char *reason)
{
	tvs_policy_applicability a = assess(rules, t, c);

	assert_int_equal(a.applies, applies);
	assert_int_equal(a.may_opt_out, applies != TVS_APPLIES_MUST_PHOTOGRAPH);
	if (reason)
		assert_string_equal(a.reason, reason);
}

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
	static const struct {
		const char *(*name)(int);
		int (*by_name)(const char *, int *);
		int n;
		const char *first, *last;
	} e[] = {
		{ tvs_policy_rules_name, tvs_policy_rules_by_name, TVS_POLICY_RULES, "pilot-2018", "final-2025" },
		{ tvs_policy_citizen_name, tvs_policy_citizen_by_name, TVS_CITIZEN_STATES, "unknown", "yes" },
		{ tvs_policy_mode_name, tvs_policy_mode_by_name, TVS_MODES, "air", "sea" },
		{ tvs_policy_port_kind_name, tvs_policy_port_kind_by_name, TVS_PORT_KINDS, "airport", "marina" },
		{ tvs_policy_direction_name, tvs_policy_direction_by_name, TVS_DIRECTIONS, "entry", "exit" },
		{ tvs_policy_decision_name, tvs_policy_decision_by_name, TVS_DECISIONS, "MATCH", "OPT_OUT" },
		{ tvs_policy_status_name, tvs_policy_status_by_name, TVS_STATUSES, "pending", "closed" },
		{ tvs_policy_category_name, tvs_policy_category_by_name, TVS_CATEGORIES, "citizen", "retake" },
		{ tvs_policy_applies_name, NULL, TVS_APPLIES_OUTCOMES, "must_photograph", "exempt" },
		{ tvs_policy_due_name, NULL, TVS_DUES, "nothing", "purge_record" },
	};
	(void)state;
	for (size_t k = 0; k < sizeof(e) / sizeof(e[0]); k++) {
		assert_string_equal(e[k].name(0), e[k].first);
		assert_string_equal(e[k].name(e[k].n - 1), e[k].last);
		for (int v = 0; v < e[k].n; v++) {
			int back = -1;

			if (!e[k].by_name)
				continue;
			assert_int_equal(e[k].by_name(e[k].name(v), &back), 0);
			assert_int_equal(back, v);
		}
		if (e[k].by_name) {
			int keep = 77;

			assert_int_equal(e[k].by_name("no-such-name", &keep), TVS_ENOTFOUND);
			assert_int_equal(keep, 77);
			assert_int_equal(e[k].by_name(NULL, &keep), TVS_EINVAL);
			assert_int_equal(e[k].by_name(e[k].first, NULL), TVS_EINVAL);
		}
	}
	assert_string_equal(tvs_policy_rules_name(-1), "unknown");
	assert_string_equal(tvs_policy_rules_name(TVS_POLICY_RULES), "unknown");
	assert_string_equal(tvs_policy_citizen_name(TVS_CITIZEN_STATES), "invalid");
	assert_string_equal(tvs_policy_category_name(TVS_CATEGORY_NON_CITIZEN_MATCHED), "non_citizen_matched");
	assert_string_equal(tvs_policy_category_name(TVS_CATEGORY_NO_MATCH_UNRESOLVED), "no_match_unresolved");
	assert_string_equal(tvs_policy_decision_name(TVS_DECISION_IMPOSTOR_SUSPECTED), "IMPOSTOR_SUSPECTED");
	assert_string_equal(tvs_policy_port_kind_name(TVS_PORT_PRIVATE_AIRFIELD), "private_airfield");

	int r = -1;
	assert_int_equal(tvs_policy_rules_by_name("pilot-2018", &r), 0);
	assert_int_equal(r, TVS_POLICY_PILOT_2018);
	assert_int_equal(tvs_policy_rules_by_name("final-2025", &r), 0);
	assert_int_equal(r, TVS_POLICY_FINAL_2025);
	assert_int_equal(tvs_policy_rules_by_name("Pilot-2018", &r), TVS_ENOTFOUND);
	assert_int_equal(tvs_policy_rules_by_name("pilot-2018 ", &r), TVS_ENOTFOUND);
	assert_int_equal(tvs_policy_rules_by_name("", &r), TVS_ENOTFOUND);
	assert_int_equal(r, TVS_POLICY_FINAL_2025);
}

static void test_port_kind_mode(void **state)
{
	(void)state;
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_AIRPORT), TVS_MODE_AIR);
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_PRIVATE_AIRFIELD), TVS_MODE_AIR);
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_LAND_PORT), TVS_MODE_LAND);
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_SEAPORT), TVS_MODE_SEA);
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_MARINA), TVS_MODE_SEA);
	assert_int_equal(tvs_policy_port_kind_mode(-1), -1);
	assert_int_equal(tvs_policy_port_kind_mode(TVS_PORT_KINDS), -1);
}

/* ------------------------------------------------------------------ dates */

static void test_date_valid(void **state)
{
	(void)state;
	assert_true(tvs_policy_date_valid(&(tvs_policy_date){ 2024, 2, 29 }));
	assert_true(tvs_policy_date_valid(&(tvs_policy_date){ 2000, 2, 29 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 1900, 2, 29 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 2, 29 }));
	assert_true(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 12, 31 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 4, 31 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 13, 1 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 0, 1 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 2023, 1, 0 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 0, 0, 0 }));
	assert_true(tvs_policy_date_valid(&(tvs_policy_date){ 1, 1, 1 }));
	assert_true(tvs_policy_date_valid(&(tvs_policy_date){ 9999, 12, 31 }));
	assert_false(tvs_policy_date_valid(&(tvs_policy_date){ 10000, 1, 1 }));
	assert_false(tvs_policy_date_valid(NULL));
}

static void test_date_parse(void **state)
{
	static const char *const bad[] = { "",           "2024-2-29",   "2024-02-29x", "2024/02/29", "2024-02-3",
					   "+024-02-03", " 2024-02-03", "2023-02-29",  "1900-02-29", "2024-13-01",
					   "0000-01-01", "2024-00-10",  "2024-04-31",  "20240229",   "2024-02-29 " };
	tvs_policy_date d = { 7, 7, 7 };

	(void)state;
	assert_int_equal(tvs_policy_date_parse("2024-02-29", &d), 0);
	assert_int_equal(d.year, 2024);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
	assert_int_equal(tvs_policy_date_parse("0001-01-01", &d), 0);
	assert_int_equal(d.year, 1);
	assert_int_equal(tvs_policy_date_parse("9999-12-31", &d), 0);
	assert_int_equal(d.year * 10000 + d.month * 100 + d.day, 99991231);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = date(7, 7, 7);
		assert_int_equal(tvs_policy_date_parse(bad[i], &d), TVS_EINVAL);
		assert_int_equal(d.year, 7);
	}
	assert_int_equal(tvs_policy_date_parse(NULL, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_parse("2024-02-29", NULL), TVS_EINVAL);
}

/* Naive successor of a valid date. */
static void next_day(tvs_policy_date *d)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (d->year % 4 == 0 && d->year % 100 != 0) || d->year % 400 == 0;
	int n = dm[d->month - 1] + (d->month == 2 && leap);

	if (++d->day > n) {
		d->day = 1;
		if (++d->month > 12)
			d->month = 1, d->year++;
	}
}

static void assert_date(tvs_policy_date d, int y, int m, int day)
{
	assert_int_equal(d.year, y);
	assert_int_equal(d.month, m);
	assert_int_equal(d.day, day);
}

static void test_date_of(void **state)
{
	tvs_policy_date d, want = { 1, 1, 1 };
	int64_t t = INT64_C(-62135596800); /* 0001-01-01T00:00:00Z */

	(void)state;
	assert_int_equal(tvs_policy_date_of(0, 0, &d), 0);
	assert_date(d, 1970, 1, 1);
	assert_int_equal(tvs_policy_date_of(-1, 0, &d), 0);
	assert_date(d, 1969, 12, 31);
	assert_int_equal(tvs_policy_date_of(951782400, 0, &d), 0); /* 2000-02-29T00:00:00Z */
	assert_date(d, 2000, 2, 29);
	assert_int_equal(tvs_policy_date_of(951782399, 0, &d), 0);
	assert_date(d, 2000, 2, 28);
	assert_int_equal(tvs_policy_date_of(T0, 0, &d), 0); /* 22:13:20Z */
	assert_date(d, 2023, 11, 14);
	assert_int_equal(tvs_policy_date_of(T0, 2 * 3600, &d), 0); /* 00:13:20 at UTC+2 */
	assert_date(d, 2023, 11, 15);
	assert_int_equal(tvs_policy_date_of(T0, -10 * 3600, &d), 0);
	assert_date(d, 2023, 11, 14);
	assert_int_equal(tvs_policy_date_of(0, -1, &d), 0);
	assert_date(d, 1969, 12, 31);
	assert_int_equal(tvs_policy_date_of(0, 18 * 3600, &d), 0);
	assert_int_equal(tvs_policy_date_of(0, 18 * 3600 + 1, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(0, -18 * 3600 - 1, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(TVS_POLICY_MAX_TIME, 0, &d), 0);
	assert_date(d, 9999, 12, 31);
	assert_int_equal(tvs_policy_date_of(TVS_POLICY_MAX_TIME + 1, 0, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(TVS_POLICY_MAX_TIME, 3600, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(t - 1, 0, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(INT64_MAX, 0, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(INT64_MIN, 0, &d), TVS_EINVAL);
	assert_int_equal(tvs_policy_date_of(0, 0, NULL), TVS_EINVAL);

	/* Every day of years 1-9999, at its first and last second, against a
	 * calendar that only counts. */
	for (;; t += 86400) {
		assert_int_equal(tvs_policy_date_of(t, 0, &d), 0);
		assert_date(d, want.year, want.month, want.day);
		assert_int_equal(tvs_policy_date_of(t + 86399, 0, &d), 0);
		assert_date(d, want.year, want.month, want.day);
		if (want.year == 9999 && want.month == 12 && want.day == 31)
			break;
		next_day(&want);
	}
	assert_int_equal(t + 86399, TVS_POLICY_MAX_TIME);
}

static int age_on(int by, int bm, int bd, int y, int m, int d)
{
	tvs_policy_date b = date(by, bm, bd), on = date(y, m, d);
	int age = -99;

	assert_int_equal(tvs_policy_age_on(&b, &on, &age), 0);
	return age;
}

static void test_age(void **state)
{
	tvs_policy_date b = date(2010, 6, 15), on = date(2010, 6, 14), z = date(0, 0, 0);
	int age = -99;

	(void)state;
	assert_int_equal(age_on(2010, 6, 15, 2010, 6, 15), 0);
	assert_int_equal(age_on(2010, 6, 15, 2024, 6, 14), 13);
	assert_int_equal(age_on(2010, 6, 15, 2024, 6, 15), 14);
	assert_int_equal(age_on(2010, 6, 15, 2024, 5, 31), 13);
	assert_int_equal(age_on(2010, 6, 15, 2024, 7, 1), 14);
	assert_int_equal(age_on(1999, 12, 31, 2000, 12, 30), 0);
	assert_int_equal(age_on(1999, 12, 31, 2000, 12, 31), 1);
	assert_int_equal(age_on(2000, 1, 1, 2013, 12, 31), 13);
	assert_int_equal(age_on(2000, 1, 1, 2014, 1, 1), 14);
	/* 29 February: the anniversary is 1 March in common years. */
	assert_int_equal(age_on(2008, 2, 29, 2022, 2, 28), 13);
	assert_int_equal(age_on(2008, 2, 29, 2022, 3, 1), 14);
	assert_int_equal(age_on(2008, 2, 29, 2024, 2, 28), 15);
	assert_int_equal(age_on(2008, 2, 29, 2024, 2, 29), 16);
	assert_int_equal(age_on(2008, 2, 29, 2024, 3, 1), 16);
	assert_int_equal(age_on(2000, 2, 29, 2100, 2, 28), 99); /* 2100 is common */
	assert_int_equal(age_on(2000, 2, 29, 2100, 3, 1), 100);
	/* A 1 March birthday is not affected by the rule. */
	assert_int_equal(age_on(2008, 3, 1, 2022, 2, 28), 13);
	assert_int_equal(age_on(2008, 3, 1, 2022, 3, 1), 14);

	assert_int_equal(tvs_policy_age_on(&b, &on, &age), TVS_EINVAL); /* born the next day */
	assert_int_equal(age, -99);
	assert_int_equal(tvs_policy_age_on(&z, &on, &age), TVS_EINVAL);
	assert_int_equal(tvs_policy_age_on(&b, &z, &age), TVS_EINVAL);
	assert_int_equal(tvs_policy_age_on(NULL, &on, &age), TVS_EINVAL);
	assert_int_equal(tvs_policy_age_on(&b, &b, NULL), TVS_EINVAL);
}

/* ----------------------------------------------------------- applicability */

/* The headline cases: 13 and 80 are outside the pilot, inside the
 * final rule. */
static void test_child_and_elder(void **state)
{
	tvs_policy_context c = pilot_gate(2024, 6, 15);
	tvs_policy_traveler child = traveler(TVS_CITIZEN_NO, 2010, 6, 16); /* 14 tomorrow */
	tvs_policy_traveler elder = traveler(TVS_CITIZEN_NO, 1944, 6, 15); /* 80 today */
	tvs_policy_applicability a;

	(void)state;
	expect_applies(TVS_POLICY_PILOT_2018, child, c, TVS_APPLIES_EXEMPT, "pilot-2018: age 13 below 14");
	expect_applies(TVS_POLICY_PILOT_2018, elder, c, TVS_APPLIES_EXEMPT, "pilot-2018: age 80 above 79");
	expect_applies(TVS_POLICY_FINAL_2025, child, c, TVS_APPLIES_MUST_PHOTOGRAPH,
		       "final-2025: non-citizen, any age");
	expect_applies(TVS_POLICY_FINAL_2025, elder, c, TVS_APPLIES_MUST_PHOTOGRAPH, NULL);
	a = assess(TVS_POLICY_PILOT_2018, child, c);
	assert_int_equal(a.age, 13);
	assert_int_equal(a.assumed, 0);
	a = assess(TVS_POLICY_FINAL_2025, elder, c);
	assert_int_equal(a.age, 80);
	assert_int_equal(a.may_opt_out, 0);

	/* And at the extremes of the final rule: a newborn, a centenarian. */
	expect_applies(TVS_POLICY_FINAL_2025, traveler(TVS_CITIZEN_NO, 2024, 6, 15), c, TVS_APPLIES_MUST_PHOTOGRAPH,
		       NULL);
	expect_applies(TVS_POLICY_FINAL_2025, traveler(TVS_CITIZEN_NO, 1920, 1, 1), c, TVS_APPLIES_MUST_PHOTOGRAPH,
		       NULL);
}

static void test_pilot_age_boundaries(void **state)
{
	tvs_policy_traveler t = traveler(TVS_CITIZEN_NO, 2010, 6, 15);
	const int P = TVS_POLICY_PILOT_2018, MUST = TVS_APPLIES_MUST_PHOTOGRAPH, EX = TVS_APPLIES_EXEMPT;

	(void)state;
	/* 14th birthday: exempt the day before, in scope on the day. */
	expect_applies(P, t, pilot_gate(2024, 6, 14), EX, "pilot-2018: age 13 below 14");
	expect_applies(P, t, pilot_gate(2024, 6, 15), MUST, "pilot-2018: non-citizen aged 14, within 14-79");
	/* 80th birthday: in scope at 79 the day before, exempt on the day. */
	expect_applies(P, t, pilot_gate(2090, 6, 14), MUST, "pilot-2018: non-citizen aged 79, within 14-79");
	expect_applies(P, t, pilot_gate(2090, 6, 15), EX, "pilot-2018: age 80 above 79");

	/* Born 29 Feb 2008: 14 only on 1 March 2022 (a common year). */
	t = traveler(TVS_CITIZEN_NO, 2008, 2, 29);
	expect_applies(P, t, pilot_gate(2022, 2, 28), EX, "pilot-2018: age 13 below 14");
	expect_applies(P, t, pilot_gate(2022, 3, 1), MUST, "pilot-2018: non-citizen aged 14, within 14-79");
	/* Born 29 Feb 1944: 80 on 29 Feb 2024 (a leap year). */
	t = traveler(TVS_CITIZEN_NO, 1944, 2, 29);
	expect_applies(P, t, pilot_gate(2024, 2, 28), MUST, "pilot-2018: non-citizen aged 79, within 14-79");
	expect_applies(P, t, pilot_gate(2024, 2, 29), EX, "pilot-2018: age 80 above 79");
	/* An 80th birthday in a common year needs a leap birth year b with b + 80
	 * a century year not divisible by 400: born 29 Feb 2020, 80 on 1 March
	 * 2100. */
	t = traveler(TVS_CITIZEN_NO, 2020, 2, 29);
	expect_applies(P, t, pilot_gate(2100, 2, 28), MUST, "pilot-2018: non-citizen aged 79, within 14-79");
	expect_applies(P, t, pilot_gate(2100, 3, 1), EX, "pilot-2018: age 80 above 79");
	/* The same in 1900, the other way round: born 29 Feb 1820. */
	t = traveler(TVS_CITIZEN_NO, 1820, 2, 29);
	expect_applies(P, t, pilot_gate(1900, 2, 28), MUST, NULL);
	expect_applies(P, t, pilot_gate(1900, 3, 1), EX, NULL);
}

static void test_pilot_place(void **state)
{
	tvs_policy_traveler t = traveler(TVS_CITIZEN_NO, 1980, 5, 5);
	const int P = TVS_POLICY_PILOT_2018, F = TVS_POLICY_FINAL_2025;
	const int MUST = TVS_APPLIES_MUST_PHOTOGRAPH, EX = TVS_APPLIES_EXEMPT;

	(void)state;
	expect_applies(P, t, pilot_gate(2019, 1, 1), MUST, "pilot-2018: non-citizen aged 38, within 14-79");
	expect_applies(P, t, context(TVS_PORT_AIRPORT, TVS_DIRECTION_EXIT, 0, 2019, 1, 1), EX,
		       "pilot-2018: port not designated for the pilot");
	expect_applies(P, t, context(TVS_PORT_AIRPORT, TVS_DIRECTION_ENTRY, 1, 2019, 1, 1), EX,
		       "pilot-2018: entry is not in the pilot (exit only)");
	expect_applies(P, t, context(TVS_PORT_LAND_PORT, TVS_DIRECTION_EXIT, 1, 2019, 1, 1), EX,
		       "pilot-2018: land crossings are not in the pilot (air only)");
	expect_applies(P, t, context(TVS_PORT_SEAPORT, TVS_DIRECTION_EXIT, 1, 2019, 1, 1), EX,
		       "pilot-2018: sea crossings are not in the pilot (air only)");
	expect_applies(P, t, context(TVS_PORT_MARINA, TVS_DIRECTION_EXIT, 1, 2019, 1, 1), EX,
		       "pilot-2018: sea crossings are not in the pilot (air only)");
	expect_applies(P, t, context(TVS_PORT_PRIVATE_AIRFIELD, TVS_DIRECTION_EXIT, 1, 2019, 1, 1), EX,
		       "pilot-2018: private airfields are not in the pilot (commercial airports only)");
	/* Reasons are reported in a fixed order: mode, kind, designation, direction. */
	expect_applies(P, t, context(TVS_PORT_LAND_PORT, TVS_DIRECTION_ENTRY, 0, 2019, 1, 1), EX,
		       "pilot-2018: land crossings are not in the pilot (air only)");
	expect_applies(P, t, context(TVS_PORT_AIRPORT, TVS_DIRECTION_ENTRY, 0, 2019, 1, 1), EX,
		       "pilot-2018: port not designated for the pilot");

	/* The final rule: every kind of port, both directions, designated or not. */
	for (int kind = 0; kind < TVS_PORT_KINDS; kind++)
		for (int dir = 0; dir < TVS_DIRECTIONS; dir++)
			for (int des = 0; des <= 1; des++)
				expect_applies(F, t, context(kind, dir, des, 2026, 1, 1), MUST,
					       "final-2025: non-citizen, any age");
	expect_applies(F, t, context(TVS_PORT_PRIVATE_AIRFIELD, TVS_DIRECTION_ENTRY, 0, 2026, 1, 1), MUST, NULL);
	expect_applies(F, t, context(TVS_PORT_MARINA, TVS_DIRECTION_EXIT, 0, 2026, 1, 1), MUST, NULL);
	expect_applies(F, t, context(TVS_PORT_LAND_PORT, TVS_DIRECTION_ENTRY, 0, 2026, 1, 1), MUST, NULL);
	expect_applies(F, t, context(TVS_PORT_SEAPORT, TVS_DIRECTION_ENTRY, 0, 2026, 1, 1), MUST, NULL);
}

/* A citizen may always opt out, under both rule sets, everywhere, at every age. */
static void test_citizen_always_voluntary(void **state)
{
	static const int ages_born[] = { 2024, 2012, 2010, 1990, 1944, 1930 };

	(void)state;
	for (size_t r = 0; r < 2; r++)
		for (int kind = 0; kind < TVS_PORT_KINDS; kind++)
			for (int dir = 0; dir < TVS_DIRECTIONS; dir++)
				for (int des = 0; des <= 1; des++)
					for (size_t b = 0; b < sizeof(ages_born) / sizeof(ages_born[0]) + 1; b++) {
						tvs_policy_traveler t =
							b < sizeof(ages_born) / sizeof(ages_born[0])
								? traveler(TVS_CITIZEN_YES, ages_born[b], 6, 1)
								: traveler(TVS_CITIZEN_YES, 0, 0, 0);
						tvs_policy_context c = context(kind, dir, des, 2024, 6, 1);
						tvs_policy_applicability a = assess(RULES[r], t, c);
						int in_pilot = kind == TVS_PORT_AIRPORT && dir == TVS_DIRECTION_EXIT && des;

						assert_int_equal(a.may_opt_out, 1);
						assert_int_equal(a.assumed, 0);
						if (RULES[r] == TVS_POLICY_FINAL_2025 || in_pilot)
							assert_int_equal(a.applies, TVS_APPLIES_VOLUNTARY);
						else
							assert_int_equal(a.applies, TVS_APPLIES_EXEMPT);
					}
	expect_applies(TVS_POLICY_PILOT_2018, traveler(TVS_CITIZEN_YES, 1980, 1, 1), pilot_gate(2019, 1, 1),
		       TVS_APPLIES_VOLUNTARY, "pilot-2018: citizen, voluntary");
	expect_applies(TVS_POLICY_FINAL_2025, traveler(TVS_CITIZEN_YES, 1980, 1, 1),
		       context(TVS_PORT_MARINA, TVS_DIRECTION_ENTRY, 0, 2026, 1, 1), TVS_APPLIES_VOLUNTARY,
		       "final-2025: citizen, voluntary");
}

static void test_unknowns(void **state)
{
	tvs_policy_applicability a;
	tvs_policy_traveler t = traveler(TVS_CITIZEN_UNKNOWN, 1980, 5, 5);

	(void)state;
	/* Unknown citizenship: a non-citizen until confirmed, flagged. */
	a = assess(TVS_POLICY_FINAL_2025, t, pilot_gate(2026, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_MUST_PHOTOGRAPH);
	assert_int_equal(a.may_opt_out, 0);
	assert_int_equal(a.assumed, TVS_POLICY_ASSUMED_NON_CITIZEN);
	assert_string_equal(a.reason, "final-2025: citizenship unknown, treated as non-citizen, any age");
	a = assess(TVS_POLICY_PILOT_2018, t, pilot_gate(2019, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_MUST_PHOTOGRAPH);
	assert_int_equal(a.assumed, TVS_POLICY_ASSUMED_NON_CITIZEN);
	assert_string_equal(a.reason, "pilot-2018: citizenship unknown, treated as non-citizen aged 38, within 14-79");
	/* ... and exempt by age all the same (a citizen of 13 would be voluntary:
	 * not required either way), still flagged. */
	a = assess(TVS_POLICY_PILOT_2018, traveler(TVS_CITIZEN_UNKNOWN, 2010, 1, 1), pilot_gate(2019, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_EXEMPT);
	assert_int_equal(a.may_opt_out, 1);
	assert_int_equal(a.assumed, TVS_POLICY_ASSUMED_NON_CITIZEN);

	/* Unknown age under the pilot: in scope, flagged "age_unknown". */
	t = traveler(TVS_CITIZEN_NO, 0, 0, 0);
	a = assess(TVS_POLICY_PILOT_2018, t, pilot_gate(2019, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_MUST_PHOTOGRAPH);
	assert_int_equal(a.may_opt_out, 0);
	assert_int_equal(a.age, -1);
	assert_int_equal(a.assumed, TVS_POLICY_ASSUMED_AGE);
	assert_string_equal(a.reason, "pilot-2018: non-citizen, age unknown, in scope until an officer establishes it");
	a = assess(TVS_POLICY_PILOT_2018, traveler(TVS_CITIZEN_UNKNOWN, 0, 0, 0), pilot_gate(2019, 1, 1));
	assert_int_equal(a.assumed, TVS_POLICY_ASSUMED_AGE | TVS_POLICY_ASSUMED_NON_CITIZEN);
	/* Age does not matter under the final rule, nor where the pilot does not run. */
	a = assess(TVS_POLICY_FINAL_2025, t, pilot_gate(2026, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_MUST_PHOTOGRAPH);
	assert_int_equal(a.assumed, 0);
	a = assess(TVS_POLICY_PILOT_2018, traveler(TVS_CITIZEN_UNKNOWN, 0, 0, 0),
		   context(TVS_PORT_AIRPORT, TVS_DIRECTION_EXIT, 0, 2019, 1, 1));
	assert_int_equal(a.applies, TVS_APPLIES_EXEMPT);
	assert_int_equal(a.assumed, 0);
	assert_int_equal(a.age, -1);
}

static void test_nationality(void **state)
{
	tvs_policy_traveler t = traveler(TVS_CITIZEN_NO, 1980, 5, 5);
	tvs_policy_context c = pilot_gate(2026, 1, 1);
	tvs_policy_applicability a;
	static const char *const good[] = { "", "FRA", "D<<", "GBR" };
	static const char *const bad[] = { "fr", "FR", "fra", "FR1", "F A", "<" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		strcpy(t.nationality, good[i]);
		assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &c, &a), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(t.nationality, bad[i]);
		assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &c, &a), TVS_EINVAL);
	}
	memcpy(t.nationality, "FRAN", 4); /* no terminator */
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &c, &a), TVS_EINVAL);
}

static void test_assess_bad_arguments(void **state)
{
	tvs_policy_traveler t = traveler(TVS_CITIZEN_NO, 1980, 5, 5), u;
	tvs_policy_context c = pilot_gate(2019, 1, 1), d;
	tvs_policy_applicability a, before;

	(void)state;
	memset(&a, 0x33, sizeof(a));
	before = a;
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_PILOT_2018, NULL, &c, &a), TVS_EINVAL);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_PILOT_2018, &t, NULL, &a), TVS_EINVAL);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_PILOT_2018, &t, &c, NULL), TVS_EINVAL);
	assert_int_equal(tvs_policy_assess_traveler(-1, &t, &c, &a), TVS_EINVAL);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_RULES, &t, &c, &a), TVS_EINVAL);
	u = t, u.citizen = TVS_CITIZEN_STATES;
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &u, &c, &a), TVS_EINVAL);
	u = t, u.birth = date(1980, 2, 30);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &u, &c, &a), TVS_EINVAL);
	u = t, u.birth = date(0, 5, 5); /* partly known is not unknown */
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &u, &c, &a), TVS_EINVAL);
	u = t, u.birth = date(2019, 1, 2); /* born after the encounter */
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &u, &c, &a), TVS_EINVAL);
	u = t, u.birth = date(2019, 1, 1); /* born that day: age 0 */
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &u, &c, &a), 0);
	assert_int_equal(a.age, 0);
	memset(&a, 0x33, sizeof(a));
	d = c, d.mode = TVS_MODE_SEA; /* an airport is not a sea port */
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	d = c, d.mode = TVS_MODES;
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	d = c, d.port_kind = -1;
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	d = c, d.direction = 2;
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	d = c, d.date = date(2019, 2, 29);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	d = c, d.date = date(0, 0, 0);
	assert_int_equal(tvs_policy_assess_traveler(TVS_POLICY_FINAL_2025, &t, &d, &a), TVS_EINVAL);
	assert_memory_equal(&a, &before, sizeof(a));
	assert_true(strlen(tvs_errmsg()) > 0);
}

/* --------------------------------------------------------------- retention */

static tvs_policy_facts facts(int decision, int citizen, int64_t captured_at)
{
	tvs_policy_facts f;

	memset(&f, 0, sizeof(f));
	f.decision = decision;
	f.citizen = citizen;
	f.captured_at = captured_at;
	f.status = decision == TVS_DECISION_NO_MATCH || decision == TVS_DECISION_IMPOSTOR_SUSPECTED
			   ? TVS_STATUS_PENDING
			   : TVS_STATUS_CLOSED;
	return f;
}

static tvs_policy_facts resolved(int decision, int64_t captured_at, int64_t resolved_at, int as)
{
	tvs_policy_facts f = facts(decision, TVS_CITIZEN_UNKNOWN, captured_at);

	f.status = TVS_STATUS_RESOLVED;
	f.resolved_at = resolved_at;
	f.resolved_as = as;
	return f;
}

static tvs_policy_retention retain(const tvs_policy_facts *f, const tvs_policy_terms *k)
{
	tvs_policy_retention r;

	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(tvs_policy_assess_retention(f, k, &r), 0);
	return r;
}

static void expect_retention(const tvs_policy_facts *f, const tvs_policy_terms *k, int category, int keep,
			     int64_t bio, int64_t rec)
{
	tvs_policy_retention r = retain(f, k);

	assert_string_equal(tvs_policy_category_name(r.category), tvs_policy_category_name(category));
	assert_int_equal(r.keep_image, keep);
	assert_int_equal(r.biometric_purge_at, bio);
	assert_int_equal(r.record_purge_at, rec);
}

static int due(const tvs_policy_facts *f, const tvs_policy_terms *k, int64_t now)
{
	int d = -1;

	assert_int_equal(tvs_policy_due(f, k, now, &d), 0);
	return d;
}

/* due() across the two boundaries of an encounter whose biometrics go at
 * bio and whose record goes at rec (bio <= rec, both finite): just before,
 * at and just after each, with the biometrics still there and after their
 * purge. */
static void expect_due_walk(tvs_policy_facts f, const tvs_policy_terms *k, int64_t bio, int64_t rec)
{
	f.biometrics_purged = 0;
	assert_int_equal(due(&f, k, f.captured_at - 1), TVS_DUE_NOTHING);
	if (bio > f.captured_at)
		assert_int_equal(due(&f, k, bio - 1), TVS_DUE_NOTHING);
	if (bio < rec) {
		assert_int_equal(due(&f, k, bio), TVS_DUE_PURGE_BIOMETRICS);
		assert_int_equal(due(&f, k, bio + 1), TVS_DUE_PURGE_BIOMETRICS);
		assert_int_equal(due(&f, k, rec - 1), TVS_DUE_PURGE_BIOMETRICS);
	}
	assert_int_equal(due(&f, k, rec), TVS_DUE_PURGE_RECORD);
	assert_int_equal(due(&f, k, rec + 1), TVS_DUE_PURGE_RECORD);
	assert_int_equal(due(&f, k, INT64_MAX), TVS_DUE_PURGE_RECORD);

	f.biometrics_purged = 1;
	if (bio < rec) {
		assert_int_equal(due(&f, k, bio), TVS_DUE_NOTHING);
		assert_int_equal(due(&f, k, rec - 1), TVS_DUE_NOTHING);
	}
	assert_int_equal(due(&f, k, rec), TVS_DUE_PURGE_RECORD);
}

static void test_default_terms(void **state)
{
	tvs_policy_terms k;

	(void)state;
	memset(&k, 0x77, sizeof(k));
	tvs_policy_default_terms(&k);
	assert_int_equal(k.citizen_biometric_max_s, 43200);
	assert_int_equal(k.non_citizen_s, INT64_C(2366820000)); /* 75 x 365.25 x 86400 */
	assert_int_equal(k.no_match_hold_s, 0);
	assert_int_equal(k.opt_out_event_s, 63115200); /* 2 x 365.25 x 86400 */
	assert_int_equal(k.event_s, 63115200);
	assert_int_equal(TVS_POLICY_HELD, INT64_MAX);
}

static void test_citizen_purge(void **state)
{
	tvs_policy_facts f = facts(TVS_DECISION_MATCH, TVS_CITIZEN_YES, T0);
	tvs_policy_terms k;

	(void)state;
	/* Confirmed 10 minutes after capture: biometrics go then. */
	f.nationality_confirmed_at = T0 + 600;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 1, T0 + 600, T0 + Y2);
	expect_due_walk(f, NULL, T0 + 600, T0 + Y2);
	/* Never confirmed: 12 h ceiling. */
	f.nationality_confirmed_at = 0;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 1, T0 + H12, T0 + Y2);
	expect_due_walk(f, NULL, T0 + H12, T0 + Y2);
	assert_int_equal(due(&f, NULL, T0 + 43199), TVS_DUE_NOTHING);
	assert_int_equal(due(&f, NULL, T0 + 43200), TVS_DUE_PURGE_BIOMETRICS);
	/* Confirmed only after the ceiling: the ceiling still wins. */
	f.nationality_confirmed_at = T0 + H12 + 1;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 1, T0 + H12, T0 + Y2);
	f.nationality_confirmed_at = T0 + H12 - 1;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 1, T0 + H12 - 1, T0 + Y2);
	/* Confirmed at or before capture (the match itself, or a document check
	 * at check-in): nothing may be stored at all. */
	f.nationality_confirmed_at = T0;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 0, T0, T0 + Y2);
	f.nationality_confirmed_at = T0 - 3600;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 0, T0, T0 + Y2);
	expect_due_walk(f, NULL, T0, T0 + Y2);

	/* A deployment may shorten the ceiling, never lengthen it. */
	tvs_policy_default_terms(&k);
	k.citizen_biometric_max_s = 3600;
	f.nationality_confirmed_at = 0;
	expect_retention(&f, &k, TVS_CATEGORY_CITIZEN, 1, T0 + 3600, T0 + Y2);
	k.citizen_biometric_max_s = 0;
	expect_retention(&f, &k, TVS_CATEGORY_CITIZEN, 0, T0, T0 + Y2);
	/* An event term shorter than the ceiling still outlives the biometrics. */
	tvs_policy_default_terms(&k);
	k.event_s = 60;
	expect_retention(&f, &k, TVS_CATEGORY_CITIZEN, 1, T0 + H12, T0 + H12);
	expect_due_walk(f, &k, T0 + H12, T0 + H12);
}

static void test_non_citizen_match(void **state)
{
	tvs_policy_facts f = facts(TVS_DECISION_MATCH, TVS_CITIZEN_NO, T0);
	tvs_policy_terms k;

	(void)state;
	expect_retention(&f, NULL, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, T0 + Y75, T0 + Y75);
	assert_int_equal(T0 + Y75, INT64_C(4066820000));
	expect_due_walk(f, NULL, T0 + Y75, T0 + Y75);
	/* nationality_confirmed_at means nothing for a non-citizen. */
	f.nationality_confirmed_at = T0 + 10;
	expect_retention(&f, NULL, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, T0 + Y75, T0 + Y75);
	/* Unknown citizenship: treated as a non-citizen. */
	f = facts(TVS_DECISION_MATCH, TVS_CITIZEN_UNKNOWN, T0);
	expect_retention(&f, NULL, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, T0 + Y75, T0 + Y75);
	/* Configurable term: 10 years. */
	tvs_policy_default_terms(&k);
	k.non_citizen_s = INT64_C(315576000);
	expect_retention(&f, &k, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, T0 + 315576000, T0 + 315576000);
	/* Once confirmed a citizen, re-evaluated: purged (12 h long passed). */
	f.citizen = TVS_CITIZEN_YES;
	f.nationality_confirmed_at = T0 + 86400;
	expect_retention(&f, NULL, TVS_CATEGORY_CITIZEN, 1, T0 + H12, T0 + Y2);
	assert_int_equal(due(&f, NULL, T0 + 86400), TVS_DUE_PURGE_BIOMETRICS);
}

static void test_no_match_held_then_resolved(void **state)
{
	static const int decisions[] = { TVS_DECISION_NO_MATCH, TVS_DECISION_IMPOSTOR_SUSPECTED };
	tvs_policy_terms k;

	(void)state;
	tvs_policy_default_terms(&k);
	k.no_match_hold_s = 7 * 86400;
	for (size_t i = 0; i < 2; i++) {
		int dec = decisions[i];
		tvs_policy_facts f = facts(dec, TVS_CITIZEN_YES, T0); /* a citizen's document, unconfirmed */

		/* Unresolved: held, whoever the document says, past any ceiling. */
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_UNRESOLVED, 1, TVS_POLICY_HELD, TVS_POLICY_HELD);
		assert_int_equal(due(&f, NULL, T0 + H12), TVS_DUE_NOTHING);
		assert_int_equal(due(&f, NULL, T0 + Y75 + 1), TVS_DUE_NOTHING);
		assert_int_equal(due(&f, NULL, TVS_POLICY_MAX_TIME), TVS_DUE_NOTHING);
		assert_int_equal(due(&f, NULL, INT64_MAX), TVS_DUE_NOTHING);
		f.citizen = TVS_CITIZEN_NO;
		expect_retention(&f, &k, TVS_CATEGORY_NO_MATCH_UNRESOLVED, 1, TVS_POLICY_HELD, TVS_POLICY_HELD);

		/* Resolved an hour later as a citizen: purge at once (hold 0)... */
		f = resolved(dec, T0, T0 + 3600, TVS_CITIZEN_YES);
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + 3600, T0 + 3600 + Y2);
		expect_due_walk(f, NULL, T0 + 3600, T0 + 3600 + Y2);
		/* ... or at the end of a configured hold of 7 days. */
		expect_retention(&f, &k, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + 3600 + 604800, T0 + 3600 + Y2);
		expect_due_walk(f, &k, T0 + 3600 + 604800, T0 + 3600 + Y2);
		/* Resolved after a long time: the ceiling does not apply backwards,
		 * the purge follows the resolution. */
		f = resolved(dec, T0, T0 + 2 * 86400, TVS_CITIZEN_YES);
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + 172800, T0 + 172800 + Y2);

		/* Resolved as a non-citizen: kept for the non-citizen term from capture. */
		f = resolved(dec, T0, T0 + 3600, TVS_CITIZEN_NO);
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + Y75, T0 + Y75);
		expect_retention(&f, &k, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + Y75, T0 + Y75);
		expect_due_walk(f, NULL, T0 + Y75, T0 + Y75);
		/* Still unknown after resolution: treated as a non-citizen. */
		f = resolved(dec, T0, T0 + 3600, TVS_CITIZEN_UNKNOWN);
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + Y75, T0 + Y75);
		/* A hold that ends after the term: the hold wins. */
		f = resolved(dec, T0, T0 + Y75 - 10, TVS_CITIZEN_NO);
		expect_retention(&f, &k, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0 + Y75 - 10 + 604800,
				 T0 + Y75 - 10 + 604800);
		/* Resolved in the same second as the capture. */
		f = resolved(dec, T0, T0, TVS_CITIZEN_YES);
		expect_retention(&f, NULL, TVS_CATEGORY_NO_MATCH_RESOLVED, 1, T0, T0 + Y2);
	}
}

static void test_event_only(void **state)
{
	static const int citizens[] = { TVS_CITIZEN_UNKNOWN, TVS_CITIZEN_NO, TVS_CITIZEN_YES };
	tvs_policy_terms k;
	tvs_policy_facts f;

	(void)state;
	for (size_t c = 0; c < 3; c++) {
		/* An opt-out never keeps an image: its event goes after its own term. */
		f = facts(TVS_DECISION_OPT_OUT, citizens[c], T0);
		expect_retention(&f, NULL, TVS_CATEGORY_OPT_OUT, 0, T0, T0 + Y2);
		expect_due_walk(f, NULL, T0, T0 + Y2);
		f.exempt = 1; /* an exempt traveler who opts out is counted as an opt-out */
		expect_retention(&f, NULL, TVS_CATEGORY_OPT_OUT, 0, T0, T0 + Y2);
		/* A retake keeps nothing. */
		f = facts(TVS_DECISION_RETAKE, citizens[c], T0);
		expect_retention(&f, NULL, TVS_CATEGORY_RETAKE, 0, T0, T0 + Y2);
		expect_due_walk(f, NULL, T0, T0 + Y2);
		/* An exempt traveler: the event only, whatever the decision. */
		for (int d = 0; d < TVS_DECISIONS; d++) {
			if (d == TVS_DECISION_OPT_OUT)
				continue;
			f = facts(d, citizens[c], T0);
			f.exempt = 1;
			expect_retention(&f, NULL, TVS_CATEGORY_EXEMPT, 0, T0, T0 + Y2);
			f.status = TVS_STATUS_CLOSED; /* no resolution to wait for */
			expect_retention(&f, NULL, TVS_CATEGORY_EXEMPT, 0, T0, T0 + Y2);
		}
	}
	/* The opt-out term is its own. */
	tvs_policy_default_terms(&k);
	k.opt_out_event_s = 86400;
	f = facts(TVS_DECISION_OPT_OUT, TVS_CITIZEN_YES, T0);
	expect_retention(&f, &k, TVS_CATEGORY_OPT_OUT, 0, T0, T0 + 86400);
	f = facts(TVS_DECISION_RETAKE, TVS_CITIZEN_YES, T0);
	expect_retention(&f, &k, TVS_CATEGORY_RETAKE, 0, T0, T0 + Y2);
	k.event_s = 0;
	expect_retention(&f, &k, TVS_CATEGORY_RETAKE, 0, T0, T0);
	assert_int_equal(due(&f, &k, T0 - 1), TVS_DUE_NOTHING);
	assert_int_equal(due(&f, &k, T0), TVS_DUE_PURGE_RECORD);
}

/* Properties over a grid of facts and terms: the record never goes before
 * the biometrics; nothing kept means purged at capture; due() only ever
 * moves forward in time. */
static void test_retention_invariants(void **state)
{
	static const int64_t offsets[] = { 0, 1, 600, 43199, 43200, 43201, 86400 * 30 };
	static const int64_t holds[] = { 0, 1, 86400, 100 * INT64_C(31557600) };
	tvs_policy_terms k;
	int n = 0;

	(void)state;
	tvs_policy_default_terms(&k);
	for (int d = 0; d < TVS_DECISIONS; d++)
		for (int c = 0; c < TVS_CITIZEN_STATES; c++)
			for (int ex = 0; ex <= 1; ex++)
				for (size_t co = 0; co < 7; co++)
					for (size_t ro = 0; ro < 7 + 1; ro++)
						for (size_t h = 0; h < 4; h++) {
							tvs_policy_facts f = facts(d, c, T0);
							tvs_policy_retention r;
							int last = TVS_DUE_NOTHING, now_due;
							int64_t times[] = { T0 - 1, T0, T0 + 1, T0 + H12, T0 + Y2,
									    T0 + Y75, T0 + 2 * Y75, INT64_MAX };

							f.exempt = ex;
							f.nationality_confirmed_at = co ? T0 + offsets[co] : 0;
							if (ro < 7 && (d == TVS_DECISION_NO_MATCH ||
								       d == TVS_DECISION_IMPOSTOR_SUSPECTED)) {
								f.status = TVS_STATUS_RESOLVED;
								f.resolved_at = T0 + offsets[ro];
								f.resolved_as = c;
							}
							k.no_match_hold_s = holds[h];
							r = retain(&f, &k);
							n++;
							assert_true(r.record_purge_at >= r.biometric_purge_at);
							assert_true(r.biometric_purge_at >= T0);
							if (!r.keep_image)
								assert_int_equal(r.biometric_purge_at, T0);
							for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
								now_due = due(&f, &k, times[i]);
								assert_true(now_due >= last);
								last = now_due;
							}
						}
	assert_int_equal(n, TVS_DECISIONS * TVS_CITIZEN_STATES * 2 * 7 * 8 * 4);
}

static void test_retention_bad_arguments(void **state)
{
	tvs_policy_facts ok = facts(TVS_DECISION_MATCH, TVS_CITIZEN_NO, T0), f;
	tvs_policy_terms k, def;
	tvs_policy_retention r, before;
	int d = 42;

	(void)state;
	tvs_policy_default_terms(&def);
	memset(&r, 0x44, sizeof(r));
	before = r;
	assert_int_equal(tvs_policy_assess_retention(NULL, NULL, &r), TVS_EINVAL);
	assert_int_equal(tvs_policy_assess_retention(&ok, NULL, NULL), TVS_EINVAL);
	assert_int_equal(tvs_policy_due(&ok, NULL, T0, NULL), TVS_EINVAL);
	assert_int_equal(tvs_policy_due(NULL, NULL, T0, &d), TVS_EINVAL);
	assert_int_equal(d, 42);

	f = ok, f.decision = TVS_DECISIONS;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.decision = -1;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.citizen = 3;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.status = TVS_STATUSES;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.resolved_as = -1;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.captured_at = 0;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.captured_at = -5;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.captured_at = TVS_POLICY_MAX_TIME + 1;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.nationality_confirmed_at = -1;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = ok, f.resolved_at = INT64_MAX;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	/* A no-match is pending or resolved, and its status agrees with resolved_at. */
	f = facts(TVS_DECISION_NO_MATCH, TVS_CITIZEN_NO, T0), f.status = TVS_STATUS_CLOSED;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = facts(TVS_DECISION_NO_MATCH, TVS_CITIZEN_NO, T0), f.resolved_at = T0 + 1;
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = resolved(TVS_DECISION_IMPOSTOR_SUSPECTED, T0, 0, TVS_CITIZEN_NO);
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	f = resolved(TVS_DECISION_IMPOSTOR_SUSPECTED, T0, T0 - 1, TVS_CITIZEN_NO);
	assert_int_equal(tvs_policy_assess_retention(&f, NULL, &r), TVS_EINVAL);
	/* Terms. */
	k = def, k.citizen_biometric_max_s = H12 + 1;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.citizen_biometric_max_s = -1;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.non_citizen_s = -1;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.non_citizen_s = TVS_POLICY_MAX_TERM_S + 1;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.no_match_hold_s = INT64_MAX;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.opt_out_event_s = -1;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	k = def, k.event_s = INT64_MIN;
	assert_int_equal(tvs_policy_assess_retention(&ok, &k, &r), TVS_EINVAL);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_true(strlen(tvs_errmsg()) > 0);

	/* The largest accepted inputs do not overflow. */
	f = ok, f.captured_at = TVS_POLICY_MAX_TIME;
	k = def, k.non_citizen_s = TVS_POLICY_MAX_TERM_S;
	expect_retention(&f, &k, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, TVS_POLICY_MAX_TIME + TVS_POLICY_MAX_TERM_S,
			 TVS_POLICY_MAX_TIME + TVS_POLICY_MAX_TERM_S);
	k = def, k.citizen_biometric_max_s = H12;
	f = facts(TVS_DECISION_MATCH, TVS_CITIZEN_YES, T0);
	expect_retention(&f, &k, TVS_CATEGORY_CITIZEN, 1, T0 + H12, T0 + Y2);
	/* Fields a decision does not read are not checked against it. */
	f = facts(TVS_DECISION_MATCH, TVS_CITIZEN_NO, T0), f.status = TVS_STATUS_PENDING, f.resolved_at = T0 + 5;
	expect_retention(&f, NULL, TVS_CATEGORY_NON_CITIZEN_MATCHED, 1, T0 + Y75, T0 + Y75);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_port_kind_mode),
		cmocka_unit_test(test_date_valid),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_date_of),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_child_and_elder),
		cmocka_unit_test(test_pilot_age_boundaries),
		cmocka_unit_test(test_pilot_place),
		cmocka_unit_test(test_citizen_always_voluntary),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_nationality),
		cmocka_unit_test(test_assess_bad_arguments),
		cmocka_unit_test(test_default_terms),
		cmocka_unit_test(test_citizen_purge),
		cmocka_unit_test(test_non_citizen_match),
		cmocka_unit_test(test_no_match_held_then_resolved),
		cmocka_unit_test(test_event_only),
		cmocka_unit_test(test_retention_invariants),
		cmocka_unit_test(test_retention_bad_arguments),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
