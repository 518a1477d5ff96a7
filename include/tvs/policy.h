/*
 * Policy: who must be photographed where, and how long what is kept.
 *
 * Two questions, both answered from plain facts with no I/O, no clock and no
 * allocation, so that the service, the retention job, the CLI and the tests
 * all get the same answer for the same facts:
 *
 *   1. Applicability (tvs_policy_assess_traveler): under a rule set, for one
 *      traveler at one place on one date, must they be photographed, may
 *      they volunteer, or are they exempt; and may they opt out.
 *   2. Retention (tvs_policy_assess_retention, tvs_policy_due): for one
 *      encounter, its traveler category, whether an image may be stored at
 *      all, and when its biometrics and then the record itself must go.
 *
 * Rule sets are chosen per deployment and recorded on every encounter by
 * their stable ids ("pilot-2018", "final-2025"). docs/policy.md is the
 * operator's description of every rule here, with the exact age and date
 * rules; where this header and that page differ, the tests decide.
 *
 * Times are unix seconds (UTC), as everywhere in the service. Calendar dates
 * (birth dates, the encounter's date) are civil dates in the proleptic
 * Gregorian calendar, years 1 to 9999.
 */
#ifndef TVS_POLICY_H
#define TVS_POLICY_H

#include <stdint.h>

/* ------------------------------------------------------------------ enums */

enum tvs_policy_rules {
	TVS_POLICY_PILOT_2018, /* "pilot-2018" */
	TVS_POLICY_FINAL_2025, /* "final-2025" */
	TVS_POLICY_RULES
};

enum tvs_policy_citizen {
	TVS_CITIZEN_UNKNOWN, /* "unknown": treated as a non-citizen until confirmed */
	TVS_CITIZEN_NO,      /* "no" */
	TVS_CITIZEN_YES,     /* "yes" */
	TVS_CITIZEN_STATES
};

enum tvs_policy_mode { TVS_MODE_AIR, TVS_MODE_LAND, TVS_MODE_SEA, TVS_MODES };

enum tvs_policy_port_kind {
	TVS_PORT_AIRPORT,          /* "airport": air */
	TVS_PORT_LAND_PORT,        /* "land_port": land */
	TVS_PORT_SEAPORT,          /* "seaport": sea */
	TVS_PORT_PRIVATE_AIRFIELD, /* "private_airfield": air */
	TVS_PORT_MARINA,           /* "marina": sea */
	TVS_PORT_KINDS
};

enum tvs_policy_direction { TVS_DIRECTION_ENTRY, TVS_DIRECTION_EXIT, TVS_DIRECTIONS };

/* Whether the rule set requires a photograph of this traveler here. */
enum tvs_policy_applies {
	TVS_APPLIES_MUST_PHOTOGRAPH, /* "must_photograph" */
	TVS_APPLIES_VOLUNTARY,       /* "voluntary": a citizen where the programme runs */
	TVS_APPLIES_EXEMPT,          /* "exempt": out of scope; no image is kept */
	TVS_APPLIES_OUTCOMES
};

/* Bits of tvs_policy_applicability.assumed: an unknown fact that was settled
 * by rule rather than by evidence. The service shows these to the officer. */
#define TVS_POLICY_ASSUMED_NON_CITIZEN 0x1 /* citizenship unknown: treated as a non-citizen */
#define TVS_POLICY_ASSUMED_AGE 0x2         /* pilot-2018, birth date unknown ("age_unknown"):
					    * treated as in the 14-79 range */

/* The capture's decision, in the service's order and spelling. */
enum tvs_policy_decision {
	TVS_DECISION_MATCH,              /* "MATCH" */
	TVS_DECISION_NO_MATCH,           /* "NO_MATCH" */
	TVS_DECISION_RETAKE,             /* "RETAKE" */
	TVS_DECISION_IMPOSTOR_SUSPECTED, /* "IMPOSTOR_SUSPECTED" */
	TVS_DECISION_OPT_OUT,            /* "OPT_OUT" */
	TVS_DECISIONS
};

/* An encounter's status, as the encounters table spells it. Only NO_MATCH
 * and IMPOSTOR_SUSPECTED encounters are pending or resolved; every other
 * decision is closed at once. */
enum tvs_policy_status { TVS_STATUS_PENDING, TVS_STATUS_RESOLVED, TVS_STATUS_CLOSED, TVS_STATUSES };

/* Traveler category of an encounter, which decides its retention. */
enum tvs_policy_category {
	TVS_CATEGORY_CITIZEN,             /* "citizen" */
	TVS_CATEGORY_NON_CITIZEN_MATCHED, /* "non_citizen_matched" */
	TVS_CATEGORY_NO_MATCH_UNRESOLVED, /* "no_match_unresolved" (NO_MATCH or IMPOSTOR_SUSPECTED) */
	TVS_CATEGORY_NO_MATCH_RESOLVED,   /* "no_match_resolved" */
	TVS_CATEGORY_OPT_OUT,             /* "opt_out" */
	TVS_CATEGORY_EXEMPT,              /* "exempt" */
	TVS_CATEGORY_RETAKE,              /* "retake" */
	TVS_CATEGORIES
};

enum tvs_policy_due {
	TVS_DUE_NOTHING,          /* "nothing" */
	TVS_DUE_PURGE_BIOMETRICS, /* "purge_biometrics": image and template, the row stays */
	TVS_DUE_PURGE_RECORD,     /* "purge_record": the whole encounter row (and anything left in it) */
	TVS_DUES
};

/* Stable lower-case (decisions: upper-case) names of the enums above, as
 * stored and as shown in the API; "unknown" for a value outside the enum
 * (tvs_policy_citizen_name: "invalid", since "unknown" is a state). Static,
 * never NULL. */
const char *tvs_policy_rules_name(int rules);
const char *tvs_policy_citizen_name(int citizen);
const char *tvs_policy_mode_name(int mode);
const char *tvs_policy_port_kind_name(int kind);
const char *tvs_policy_direction_name(int direction);
const char *tvs_policy_applies_name(int applies);
const char *tvs_policy_decision_name(int decision);
const char *tvs_policy_status_name(int status);
const char *tvs_policy_category_name(int category);
const char *tvs_policy_due_name(int due);

/* The value whose name (above) is exactly name into *out. Returns 0, or
 * TVS_EINVAL for a NULL argument and TVS_ENOTFOUND for a name that is none
 * of them (*out untouched). */
int tvs_policy_rules_by_name(const char *name, int *out);
int tvs_policy_citizen_by_name(const char *name, int *out);
int tvs_policy_mode_by_name(const char *name, int *out);
int tvs_policy_port_kind_by_name(const char *name, int *out);
int tvs_policy_direction_by_name(const char *name, int *out);
int tvs_policy_decision_by_name(const char *name, int *out);
int tvs_policy_status_by_name(const char *name, int *out);
int tvs_policy_category_by_name(const char *name, int *out);

/* The mode a port kind belongs to (airport and private airfield: air; land
 * port: land; seaport and marina: sea), or -1 for a value outside the enum.
 * A port whose recorded mode differs is refused by tvs_policy_assess_traveler. */
int tvs_policy_port_kind_mode(int kind);

/* ------------------------------------------------------------------ dates */

typedef struct tvs_policy_date {
	int year, month, day; /* year 0 (all fields 0): unknown */
} tvs_policy_date;

/* 1 if d is a real Gregorian date in years 1-9999, else 0 (unknown too). */
int tvs_policy_date_valid(const tvs_policy_date *d);

/* Strictly "YYYY-MM-DD" (exactly 10 characters, NUL-terminated, a real date)
 * into *out. Returns 0 or TVS_EINVAL (*out untouched). */
int tvs_policy_date_parse(const char *s, tvs_policy_date *out);

/* The civil date of unix time t at a UTC offset of utc_offset_s seconds
 * (east positive, |offset| <= 18 h): the port's local date, on which ages
 * are counted. Returns 0, or TVS_EINVAL when the date falls outside years
 * 1-9999 or the offset is out of range. */
int tvs_policy_date_of(int64_t t, int32_t utc_offset_s, tvs_policy_date *out);

/* Exact age in whole years on date `on` of someone born on `birth`: one
 * more on each anniversary, a 29 February birthday's anniversary being
 * 1 March in common years. Returns 0, or TVS_EINVAL for an invalid or
 * unknown date or a birth after `on`. */
int tvs_policy_age_on(const tvs_policy_date *birth, const tvs_policy_date *on, int *age);

/* ----------------------------------------------------------- applicability */

typedef struct tvs_policy_traveler {
	int citizen;           /* enum tvs_policy_citizen */
	tvs_policy_date birth; /* all 0: unknown */
	char nationality[4];   /* ICAO 9303 code as on the document ("FRA", "D<<"), or "";
				* informational only: a foreign passport does not prove
				* that its holder is not also a citizen */
} tvs_policy_traveler;

typedef struct tvs_policy_context {
	int mode;             /* enum tvs_policy_mode */
	int port_kind;        /* enum tvs_policy_port_kind; must belong to mode */
	int direction;        /* enum tvs_policy_direction */
	int pilot_designated; /* nonzero: the port is one of pilot-2018's designated ports */
	tvs_policy_date date; /* the encounter's local date at the port (tvs_policy_date_of) */
} tvs_policy_context;

typedef struct tvs_policy_applicability {
	int applies;     /* enum tvs_policy_applies */
	int may_opt_out; /* 1 unless applies is MUST_PHOTOGRAPH */
	int age;         /* whole years on the encounter date; -1 if the birth date is unknown */
	int assumed;     /* TVS_POLICY_ASSUMED_* bits that decided the outcome */
	char reason[128]; /* e.g. "pilot-2018: age 13 below 14"; always NUL-terminated */
} tvs_policy_applicability;

/* Apply rule set `rules` to traveler t in context c and fill *out. Returns 0,
 * or TVS_EINVAL (detail in tvs_errmsg) for a NULL pointer, an enum out of
 * range, a port kind that does not belong to the mode, an invalid
 * nationality, an invalid encounter date, or a known birth date that is
 * invalid or after the encounter date (pass an unknown birth date instead).
 * *out is only written on success. */
int tvs_policy_assess_traveler(int rules, const tvs_policy_traveler *t, const tvs_policy_context *c,
			       tvs_policy_applicability *out);

/* --------------------------------------------------------------- retention */

/* Retention terms, in seconds. Start from tvs_policy_default_terms. */
typedef struct tvs_policy_terms {
	int64_t citizen_biometric_max_s; /* a citizen's image and template: at most this long after
					  * capture even if never confirmed; 0..12 h, default 12 h */
	int64_t non_citizen_s;           /* a matched non-citizen's record, image and template:
					  * default 75 years of 365.25 days = 2 366 820 000 s */
	int64_t no_match_hold_s;         /* a no-match kept this long after its resolution, default 0 */
	int64_t opt_out_event_s;         /* an opt-out's event row (no image ever), default 2 years */
	int64_t event_s;                 /* the event row of a citizen, an exempt traveler or a retake,
					  * default 2 years */
} tvs_policy_terms;

#define TVS_POLICY_YEAR_S INT64_C(31557600) /* 365.25 days */
#define TVS_POLICY_HOUR_S INT64_C(3600)
#define TVS_POLICY_CITIZEN_CEILING_S (12 * TVS_POLICY_HOUR_S)
#define TVS_POLICY_MAX_TERM_S (1000 * TVS_POLICY_YEAR_S) /* bound on any term */
#define TVS_POLICY_MAX_TIME INT64_C(253402300799)        /* 9999-12-31T23:59:59Z */
#define TVS_POLICY_HELD INT64_MAX /* a purge time not yet determined: held */

/* Fill *terms with the defaults above. */
void tvs_policy_default_terms(tvs_policy_terms *terms);

/* What is known about one encounter. Re-evaluate whenever a fact changes
 * (a confirmation, a resolution): the answer depends on nothing else. */
typedef struct tvs_policy_facts {
	int decision;                     /* enum tvs_policy_decision */
	int citizen;                      /* enum tvs_policy_citizen of the traveler as known (for a
					   * MATCH: the matched traveler's); ignored for NO_MATCH and
					   * IMPOSTOR_SUSPECTED, whose identity is unconfirmed */
	int exempt;                       /* nonzero: the rule set exempted this traveler */
	int status;                       /* enum tvs_policy_status; read for NO_MATCH and
					   * IMPOSTOR_SUSPECTED only (PENDING or RESOLVED) */
	int resolved_as;                  /* enum tvs_policy_citizen: what the officer's resolution
					   * established; read only once resolved */
	int biometrics_purged;            /* nonzero once image and template are gone */
	int64_t captured_at;              /* unix s, 1..TVS_POLICY_MAX_TIME */
	int64_t nationality_confirmed_at; /* when the traveler's citizenship was confirmed; 0 if
					   * not; read for a MATCHed citizen only */
	int64_t resolved_at;              /* 0 while pending; >= captured_at once resolved */
} tvs_policy_facts;

typedef struct tvs_policy_retention {
	int category;               /* enum tvs_policy_category */
	int keep_image;             /* 1: an image and template may be stored at capture */
	int64_t biometric_purge_at; /* image and template gone by then; TVS_POLICY_HELD while
				     * held; captured_at where nothing may be kept */
	int64_t record_purge_at;    /* the encounter row gone by then; never before
				     * biometric_purge_at; TVS_POLICY_HELD while held */
} tvs_policy_retention;

/* The category and purge times of encounter f under terms (NULL: defaults)
 * into *out. Returns 0, or TVS_EINVAL (detail in tvs_errmsg) for a NULL f
 * or out, an enum out of range, a time out of range, a NO_MATCH or
 * IMPOSTOR_SUSPECTED whose status is CLOSED or disagrees with resolved_at,
 * a resolution before the capture, or terms out of range (any negative or
 * above TVS_POLICY_MAX_TERM_S, or the citizen ceiling above 12 h). *out is
 * only written on success. */
int tvs_policy_assess_retention(const tvs_policy_facts *f, const tvs_policy_terms *terms,
				tvs_policy_retention *out);

/* What the retention job must do to encounter f at time now, into *due
 * (enum tvs_policy_due): PURGE_RECORD once now >= record_purge_at, else
 * PURGE_BIOMETRICS once now >= biometric_purge_at unless biometrics_purged,
 * else NOTHING. A held time is never due. Returns 0 or the errors of
 * tvs_policy_assess_retention (*due untouched). */
int tvs_policy_due(const tvs_policy_facts *f, const tvs_policy_terms *terms, int64_t now, int *due);

#endif
