/*
 * Policy: rule sets (who must be photographed where) and retention (how long
 * what is kept), as pure functions of plain facts. No I/O, no clock, no
 * allocation: the caller says what it knows and what time it is, so the
 * capture path, the retention job and the tests agree by construction and
 * any answer can be recomputed later from the stored facts.
 *
 * Applicability. A rule set first asks whether the programme runs at this
 * place at all (mode, port kind, designation, direction). Where it does not,
 * everyone is EXEMPT: no camera is in scope, citizens included. Where it
 * does, a citizen is VOLUNTARY (photographed unless they opt out, photo
 * purged at confirmation), and a non-citizen MUST be photographed unless the
 * rule set's age range leaves them out. The first failed condition names the
 * reason, in the order the checks are listed in docs/policy.md, so the same
 * facts always give the same reason text.
 *
 * Unknowns are settled by rule and flagged in `assumed`, never guessed
 * silently: unknown citizenship is non-citizenship until confirmed (the
 * legal default at a border: the claim of citizenship is what must be shown),
 * and under pilot-2018 an unknown birth date is in the age range (the
 * officer sees the traveler and may exempt a plain child or elder by hand;
 * see docs/policy.md for why this and not "exempt").
 *
 * Ages are exact on the port's local date: a lexicographic comparison of
 * (month, day) against the birthday. For a 29 February birthday that makes
 * the anniversary 1 March in common years (28 February is still "before"),
 * which is the reading of most statutes that address it (England and Wales,
 * New Zealand, Hong Kong): the year is not complete until 28 February ends.
 *
 * Retention. One function maps an encounter's facts to a category and two
 * instants: when its image and template must be gone, and when the row must
 * be gone. The row never goes before its biometrics, because the row is what
 * holds them (or their key). "Held"
 * (INT64_MAX) is a purge time that no clock reaches: an unresolved no-match
 * waits for an officer, not for a date. Precedence, first that applies:
 * OPT_OUT, exempt traveler, RETAKE (none of them ever keeps an image), then
 * NO_MATCH / IMPOSTOR_SUSPECTED (held, then by what the resolution
 * established), then MATCH by citizenship.
 *
 * All inputs are range-checked (times to years 1-9999, terms to 1000 years)
 * so that no sum below can overflow.
 */
#include "tvs/policy.h"
#include "tvs/error.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ names */

static const char *const rules_names[TVS_POLICY_RULES] = {
	[TVS_POLICY_PILOT_2018] = "pilot-2018",
	[TVS_POLICY_FINAL_2025] = "final-2025",
};
static const char *const citizen_names[TVS_CITIZEN_STATES] = {
	[TVS_CITIZEN_UNKNOWN] = "unknown",
	[TVS_CITIZEN_NO] = "no",
	[TVS_CITIZEN_YES] = "yes",
};
static const char *const mode_names[TVS_MODES] = {
	[TVS_MODE_AIR] = "air",
	[TVS_MODE_LAND] = "land",
	[TVS_MODE_SEA] = "sea",
};
static const char *const port_kind_names[TVS_PORT_KINDS] = {
	[TVS_PORT_AIRPORT] = "airport",
	[TVS_PORT_LAND_PORT] = "land_port",
	[TVS_PORT_SEAPORT] = "seaport",
	[TVS_PORT_PRIVATE_AIRFIELD] = "private_airfield",
	[TVS_PORT_MARINA] = "marina",
};
static const char *const direction_names[TVS_DIRECTIONS] = {
	[TVS_DIRECTION_ENTRY] = "entry",
	[TVS_DIRECTION_EXIT] = "exit",
};
static const char *const applies_names[TVS_APPLIES_OUTCOMES] = {
	[TVS_APPLIES_MUST_PHOTOGRAPH] = "must_photograph",
	[TVS_APPLIES_VOLUNTARY] = "voluntary",
	[TVS_APPLIES_EXEMPT] = "exempt",
};
static const char *const decision_names[TVS_DECISIONS] = {
	[TVS_DECISION_MATCH] = "MATCH",
	[TVS_DECISION_NO_MATCH] = "NO_MATCH",
	[TVS_DECISION_RETAKE] = "RETAKE",
	[TVS_DECISION_IMPOSTOR_SUSPECTED] = "IMPOSTOR_SUSPECTED",
	[TVS_DECISION_OPT_OUT] = "OPT_OUT",
};
static const char *const status_names[TVS_STATUSES] = {
	[TVS_STATUS_PENDING] = "pending",
	[TVS_STATUS_RESOLVED] = "resolved",
	[TVS_STATUS_CLOSED] = "closed",
};
static const char *const category_names[TVS_CATEGORIES] = {
	[TVS_CATEGORY_CITIZEN] = "citizen",
	[TVS_CATEGORY_NON_CITIZEN_MATCHED] = "non_citizen_matched",
	[TVS_CATEGORY_NO_MATCH_UNRESOLVED] = "no_match_unresolved",
	[TVS_CATEGORY_NO_MATCH_RESOLVED] = "no_match_resolved",
	[TVS_CATEGORY_OPT_OUT] = "opt_out",
	[TVS_CATEGORY_EXEMPT] = "exempt",
	[TVS_CATEGORY_RETAKE] = "retake",
};
static const char *const due_names[TVS_DUES] = {
	[TVS_DUE_NOTHING] = "nothing",
	[TVS_DUE_PURGE_BIOMETRICS] = "purge_biometrics",
	[TVS_DUE_PURGE_RECORD] = "purge_record",
};

static const char *name_of(const char *const *names, int n, int v, const char *bad)
{
	return v >= 0 && v < n ? names[v] : bad;
}

static int value_of(const char *const *names, int n, const char *what, const char *name, int *out)
{
	if (!name || !out)
		return tvs__err(TVS_EINVAL, "policy: NULL %s name or output", what);
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0) {
			*out = i;
			return 0;
		}
	return tvs__err(TVS_ENOTFOUND, "policy: no %s is called \"%.40s\"", what, name);
}

#define NAMES(t) t##_names, (int)(sizeof(t##_names) / sizeof(t##_names[0]))

const char *tvs_policy_rules_name(int v) { return name_of(NAMES(rules), v, "unknown"); }
const char *tvs_policy_citizen_name(int v) { return name_of(NAMES(citizen), v, "invalid"); }
const char *tvs_policy_mode_name(int v) { return name_of(NAMES(mode), v, "unknown"); }
const char *tvs_policy_port_kind_name(int v) { return name_of(NAMES(port_kind), v, "unknown"); }
const char *tvs_policy_direction_name(int v) { return name_of(NAMES(direction), v, "unknown"); }
const char *tvs_policy_applies_name(int v) { return name_of(NAMES(applies), v, "unknown"); }
const char *tvs_policy_decision_name(int v) { return name_of(NAMES(decision), v, "unknown"); }
const char *tvs_policy_status_name(int v) { return name_of(NAMES(status), v, "unknown"); }
const char *tvs_policy_category_name(int v) { return name_of(NAMES(category), v, "unknown"); }
const char *tvs_policy_due_name(int v) { return name_of(NAMES(due), v, "unknown"); }

int tvs_policy_rules_by_name(const char *s, int *out) { return value_of(NAMES(rules), "rule set", s, out); }
int tvs_policy_citizen_by_name(const char *s, int *out) { return value_of(NAMES(citizen), "citizen state", s, out); }
int tvs_policy_mode_by_name(const char *s, int *out) { return value_of(NAMES(mode), "mode", s, out); }
int tvs_policy_port_kind_by_name(const char *s, int *out) { return value_of(NAMES(port_kind), "port kind", s, out); }
int tvs_policy_direction_by_name(const char *s, int *out) { return value_of(NAMES(direction), "direction", s, out); }
int tvs_policy_decision_by_name(const char *s, int *out) { return value_of(NAMES(decision), "decision", s, out); }
int tvs_policy_status_by_name(const char *s, int *out) { return value_of(NAMES(status), "status", s, out); }
int tvs_policy_category_by_name(const char *s, int *out) { return value_of(NAMES(category), "category", s, out); }

int tvs_policy_port_kind_mode(int kind)
{
	switch (kind) {
	case TVS_PORT_AIRPORT:
	case TVS_PORT_PRIVATE_AIRFIELD: return TVS_MODE_AIR;
	case TVS_PORT_LAND_PORT: return TVS_MODE_LAND;
	case TVS_PORT_SEAPORT:
	case TVS_PORT_MARINA: return TVS_MODE_SEA;
	default: return -1;
	}
}

/* ------------------------------------------------------------------ dates */

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static int date_known(const tvs_policy_date *d)
{
	return d->year != 0 || d->month != 0 || d->day != 0;
}

int tvs_policy_date_valid(const tvs_policy_date *d)
{
	return d && d->year >= 1 && d->year <= 9999 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
	       d->day <= days_in_month(d->year, d->month);
}

int tvs_policy_date_parse(const char *s, tvs_policy_date *out)
{
	tvs_policy_date d = { 0, 0, 0 };
	int *field[10] = { &d.year, &d.year, &d.year, &d.year, NULL, &d.month, &d.month, NULL, &d.day, &d.day };

	if (!s || !out)
		return tvs__err(TVS_EINVAL, "policy: NULL date or output");
	/* Character by character, so a short string stops at its NUL. */
	for (int i = 0; i < 10; i++) {
		if (!field[i] ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			goto bad;
		if (field[i])
			*field[i] = *field[i] * 10 + (s[i] - '0');
	}
	if (s[10] != '\0')
		goto bad;
	if (!tvs_policy_date_valid(&d))
		goto bad;
	*out = d;
	return 0;
bad:
	return tvs__err(TVS_EINVAL, "policy: date \"%.16s\" is not a real YYYY-MM-DD", s);
}

int tvs_policy_date_of(int64_t t, int32_t utc_offset_s, tvs_policy_date *out)
{
	/* 0001-01-01T00:00:00Z, one day of slack each way for the offset. */
	const int64_t lo = INT64_C(-62135596800) - 86400, hi = TVS_POLICY_MAX_TIME + 86400;
	int64_t s, z, era, doe, yoe, y, doy, mp, d, m;

	if (!out)
		return tvs__err(TVS_EINVAL, "policy: NULL output");
	if (utc_offset_s < -18 * 3600 || utc_offset_s > 18 * 3600)
		return tvs__err(TVS_EINVAL, "policy: UTC offset %d s beyond 18 h", (int)utc_offset_s);
	if (t < lo || t > hi)
		return tvs__err(TVS_EINVAL, "policy: time %lld outside years 1-9999", (long long)t);
	s = t + utc_offset_s;
	z = (s >= 0 ? s / 86400 : -((-s + 86399) / 86400)) + 719468; /* days since 0000-03-01 */
	/* Civil date from a day count (H. Hinnant, "chrono-Compatible Low-Level
	 * Date Algorithms"): 400-year eras, years starting on 1 March. */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 1 || y > 9999)
		return tvs__err(TVS_EINVAL, "policy: time %lld outside years 1-9999", (long long)t);
	out->year = (int)y, out->month = (int)m, out->day = (int)d;
	return 0;
}

int tvs_policy_age_on(const tvs_policy_date *birth, const tvs_policy_date *on, int *age)
{
	int a;

	if (!age || !tvs_policy_date_valid(birth) || !tvs_policy_date_valid(on))
		return tvs__err(TVS_EINVAL, "policy: age needs two real dates");
	a = on->year - birth->year;
	if (on->month < birth->month || (on->month == birth->month && on->day < birth->day))
		a--; /* this year's birthday still ahead (29 Feb: until 1 Mar in a common year) */
	if (a < 0)
		return tvs__err(TVS_EINVAL, "policy: birth %04d-%02d-%02d after %04d-%02d-%02d", birth->year,
				birth->month, birth->day, on->year, on->month, on->day);
	*age = a;
	return 0;
}

/* ----------------------------------------------------------- applicability */

#define PILOT_MIN_AGE 14
#define PILOT_MAX_AGE 79

static int nationality_ok(const char n[4])
{
	size_t len = strnlen(n, 4);

	if (len == 0)
		return 1;
	if (len != 3)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (!((n[i] >= 'A' && n[i] <= 'Z') || n[i] == '<'))
			return 0;
	return 1;
}

static int in_range(int v, int n)
{
	return v >= 0 && v < n;
}

/* Where pilot-2018 ran: designated commercial airports, biometric exit. NULL
 * if the programme runs at c, else the reason it does not. */
static const char *pilot_place_gap(const tvs_policy_context *c)
{
	if (c->mode != TVS_MODE_AIR)
		return c->mode == TVS_MODE_LAND ? "land crossings are not in the pilot (air only)"
						: "sea crossings are not in the pilot (air only)";
	if (c->port_kind != TVS_PORT_AIRPORT)
		return "private airfields are not in the pilot (commercial airports only)";
	if (!c->pilot_designated)
		return "port not designated for the pilot";
	if (c->direction != TVS_DIRECTION_EXIT)
		return "entry is not in the pilot (exit only)";
	return NULL;
}

int tvs_policy_assess_traveler(int rules, const tvs_policy_traveler *t, const tvs_policy_context *c,
			       tvs_policy_applicability *out)
{
	tvs_policy_applicability r;
	const char *rn = tvs_policy_rules_name(rules), *gap = NULL;

	if (!t || !c || !out)
		return tvs__err(TVS_EINVAL, "policy: NULL traveler, context or output");
	if (!in_range(rules, TVS_POLICY_RULES))
		return tvs__err(TVS_EINVAL, "policy: rule set %d out of range", rules);
	if (!in_range(t->citizen, TVS_CITIZEN_STATES))
		return tvs__err(TVS_EINVAL, "policy: citizen state %d out of range", t->citizen);
	if (!nationality_ok(t->nationality))
		return tvs__err(TVS_EINVAL, "policy: nationality is not 3 letters A-Z or '<'");
	if (!in_range(c->mode, TVS_MODES) || !in_range(c->port_kind, TVS_PORT_KINDS) ||
	    !in_range(c->direction, TVS_DIRECTIONS))
		return tvs__err(TVS_EINVAL, "policy: mode %d, port kind %d or direction %d out of range", c->mode,
				c->port_kind, c->direction);
	if (tvs_policy_port_kind_mode(c->port_kind) != c->mode)
		return tvs__err(TVS_EINVAL, "policy: a %s is not a %s port", tvs_policy_port_kind_name(c->port_kind),
				tvs_policy_mode_name(c->mode));
	if (!tvs_policy_date_valid(&c->date))
		return tvs__err(TVS_EINVAL, "policy: encounter date %04d-%02d-%02d is not a real date", c->date.year,
				c->date.month, c->date.day);

	memset(&r, 0, sizeof(r));
	r.age = -1;
	if (date_known(&t->birth)) {
		if (!tvs_policy_date_valid(&t->birth))
			return tvs__err(TVS_EINVAL, "policy: birth date %04d-%02d-%02d is not a real date",
					t->birth.year, t->birth.month, t->birth.day);
		if (tvs_policy_age_on(&t->birth, &c->date, &r.age))
			return TVS_EINVAL; /* birth after the encounter; detail already set */
	}

	if (rules == TVS_POLICY_PILOT_2018)
		gap = pilot_place_gap(c);
	if (gap) {
		r.applies = TVS_APPLIES_EXEMPT;
		snprintf(r.reason, sizeof(r.reason), "%s: %s", rn, gap);
	} else if (t->citizen == TVS_CITIZEN_YES) {
		r.applies = TVS_APPLIES_VOLUNTARY;
		snprintf(r.reason, sizeof(r.reason), "%s: citizen, voluntary", rn);
	} else {
		const char *who = "non-citizen";

		if (t->citizen == TVS_CITIZEN_UNKNOWN) {
			r.assumed |= TVS_POLICY_ASSUMED_NON_CITIZEN;
			who = "citizenship unknown, treated as non-citizen";
		}
		r.applies = TVS_APPLIES_MUST_PHOTOGRAPH;
		if (rules == TVS_POLICY_FINAL_2025) {
			snprintf(r.reason, sizeof(r.reason), "%s: %s, any age", rn, who);
		} else if (r.age < 0) {
			r.assumed |= TVS_POLICY_ASSUMED_AGE;
			snprintf(r.reason, sizeof(r.reason), "%s: %s, age unknown, in scope until an officer establishes it",
				 rn, who);
		} else if (r.age < PILOT_MIN_AGE) {
			r.applies = TVS_APPLIES_EXEMPT;
			snprintf(r.reason, sizeof(r.reason), "%s: age %d below %d", rn, r.age, PILOT_MIN_AGE);
		} else if (r.age > PILOT_MAX_AGE) {
			r.applies = TVS_APPLIES_EXEMPT;
			snprintf(r.reason, sizeof(r.reason), "%s: age %d above %d", rn, r.age, PILOT_MAX_AGE);
		} else {
			snprintf(r.reason, sizeof(r.reason), "%s: %s aged %d, within %d-%d", rn, who, r.age,
				 PILOT_MIN_AGE, PILOT_MAX_AGE);
		}
	}
	r.may_opt_out = r.applies != TVS_APPLIES_MUST_PHOTOGRAPH;
	*out = r;
	return 0;
}

/* --------------------------------------------------------------- retention */

void tvs_policy_default_terms(tvs_policy_terms *terms)
{
	memset(terms, 0, sizeof(*terms));
	terms->citizen_biometric_max_s = TVS_POLICY_CITIZEN_CEILING_S;
	terms->non_citizen_s = 75 * TVS_POLICY_YEAR_S;
	terms->no_match_hold_s = 0;
	terms->opt_out_event_s = 2 * TVS_POLICY_YEAR_S;
	terms->event_s = 2 * TVS_POLICY_YEAR_S;
}

static int term_ok(int64_t v)
{
	return v >= 0 && v <= TVS_POLICY_MAX_TERM_S;
}

static int time_ok(int64_t v)
{
	return v >= 1 && v <= TVS_POLICY_MAX_TIME;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int check_facts(const tvs_policy_facts *f, const tvs_policy_terms *k)
{
	int no_match;

	if (!term_ok(k->citizen_biometric_max_s) || k->citizen_biometric_max_s > TVS_POLICY_CITIZEN_CEILING_S)
		return tvs__err(TVS_EINVAL, "policy: citizen biometric term %lld s not within 0-12 h",
				(long long)k->citizen_biometric_max_s);
	if (!term_ok(k->non_citizen_s) || !term_ok(k->no_match_hold_s) || !term_ok(k->opt_out_event_s) ||
	    !term_ok(k->event_s))
		return tvs__err(TVS_EINVAL, "policy: a retention term is negative or above 1000 years");
	if (!in_range(f->decision, TVS_DECISIONS) || !in_range(f->citizen, TVS_CITIZEN_STATES) ||
	    !in_range(f->status, TVS_STATUSES) || !in_range(f->resolved_as, TVS_CITIZEN_STATES))
		return tvs__err(TVS_EINVAL, "policy: decision %d, citizen %d, status %d or resolved_as %d out of range",
				f->decision, f->citizen, f->status, f->resolved_as);
	if (!time_ok(f->captured_at))
		return tvs__err(TVS_EINVAL, "policy: captured_at %lld out of range", (long long)f->captured_at);
	if (f->nationality_confirmed_at && !time_ok(f->nationality_confirmed_at))
		return tvs__err(TVS_EINVAL, "policy: nationality_confirmed_at %lld out of range",
				(long long)f->nationality_confirmed_at);
	if (f->resolved_at && !time_ok(f->resolved_at))
		return tvs__err(TVS_EINVAL, "policy: resolved_at %lld out of range", (long long)f->resolved_at);
	no_match = f->decision == TVS_DECISION_NO_MATCH || f->decision == TVS_DECISION_IMPOSTOR_SUSPECTED;
	if (no_match && !f->exempt) {
		if (f->status == TVS_STATUS_CLOSED)
			return tvs__err(TVS_EINVAL, "policy: a %s is pending or resolved, never closed",
					tvs_policy_decision_name(f->decision));
		if ((f->status == TVS_STATUS_RESOLVED) != (f->resolved_at != 0))
			return tvs__err(TVS_EINVAL, "policy: status %s disagrees with resolved_at %lld",
					tvs_policy_status_name(f->status), (long long)f->resolved_at);
		if (f->resolved_at && f->resolved_at < f->captured_at)
			return tvs__err(TVS_EINVAL, "policy: resolved before it was captured");
	}
	return 0;
}

/* Event-only categories: nothing biometric is ever stored. */
static void event_only(tvs_policy_retention *r, int category, int64_t at, int64_t term)
{
	r->category = category;
	r->keep_image = 0;
	r->biometric_purge_at = at;
	r->record_purge_at = at + term;
}

int tvs_policy_assess_retention(const tvs_policy_facts *f, const tvs_policy_terms *terms, tvs_policy_retention *out)
{
	tvs_policy_terms def;
	tvs_policy_retention r;
	const tvs_policy_terms *k = terms;
	int64_t at;
	int rc;

	if (!f || !out)
		return tvs__err(TVS_EINVAL, "policy: NULL facts or output");
	if (!k) {
		tvs_policy_default_terms(&def);
		k = &def;
	}
	rc = check_facts(f, k);
	if (rc)
		return rc;
	at = f->captured_at;
	memset(&r, 0, sizeof(r));
	if (f->decision == TVS_DECISION_OPT_OUT) {
		event_only(&r, TVS_CATEGORY_OPT_OUT, at, k->opt_out_event_s);
	} else if (f->exempt) {
		event_only(&r, TVS_CATEGORY_EXEMPT, at, k->event_s);
	} else if (f->decision == TVS_DECISION_RETAKE) {
		event_only(&r, TVS_CATEGORY_RETAKE, at, k->event_s);
	} else if (f->decision != TVS_DECISION_MATCH) { /* NO_MATCH, IMPOSTOR_SUSPECTED */
		r.keep_image = 1; /* an officer must see it */
		if (f->status == TVS_STATUS_PENDING) {
			r.category = TVS_CATEGORY_NO_MATCH_UNRESOLVED;
			r.biometric_purge_at = r.record_purge_at = TVS_POLICY_HELD;
		} else {
			int64_t held_until = f->resolved_at + k->no_match_hold_s;

			r.category = TVS_CATEGORY_NO_MATCH_RESOLVED;
			if (f->resolved_as == TVS_CITIZEN_YES) {
				r.biometric_purge_at = held_until;
				r.record_purge_at = max64(held_until, f->resolved_at + k->event_s);
			} else { /* a non-citizen, or still unknown: treated as one */
				r.biometric_purge_at = r.record_purge_at = max64(held_until, at + k->non_citizen_s);
			}
		}
	} else if (f->citizen == TVS_CITIZEN_YES) {
		int64_t ceiling = at + k->citizen_biometric_max_s;

		r.category = TVS_CATEGORY_CITIZEN;
		r.biometric_purge_at = ceiling;
		if (f->nationality_confirmed_at && f->nationality_confirmed_at < ceiling)
			r.biometric_purge_at = max64(at, f->nationality_confirmed_at);
		r.keep_image = r.biometric_purge_at > at;
		r.record_purge_at = max64(r.biometric_purge_at, at + k->event_s);
	} else { /* MATCH of a non-citizen, or of unknown citizenship: treated as one */
		r.category = TVS_CATEGORY_NON_CITIZEN_MATCHED;
		r.keep_image = 1;
		r.biometric_purge_at = r.record_purge_at = at + k->non_citizen_s;
	}
	*out = r;
	return 0;
}

int tvs_policy_due(const tvs_policy_facts *f, const tvs_policy_terms *terms, int64_t now, int *due)
{
	tvs_policy_retention r;
	int rc;

	if (!due)
		return tvs__err(TVS_EINVAL, "policy: NULL output");
	rc = tvs_policy_assess_retention(f, terms, &r);
	if (rc)
		return rc;
	if (r.record_purge_at != TVS_POLICY_HELD && now >= r.record_purge_at)
		*due = TVS_DUE_PURGE_RECORD;
	else if (!f->biometrics_purged && r.biometric_purge_at != TVS_POLICY_HELD && now >= r.biometric_purge_at)
		*due = TVS_DUE_PURGE_BIOMETRICS;
	else
		*due = TVS_DUE_NOTHING;
	return 0;
}
