/*
 * PAXLST parser (contract in tvs/paxlst.h), on the EDIFACT tokenizer.
 *
 * Two state machines, one segment at a time, no look-ahead:
 *
 *   envelope  START -UNB-> INTERCHANGE -UNG-> GROUP -UNH-> MESSAGE
 *             MESSAGE -UNT-> GROUP or INTERCHANGE, GROUP -UNE-> INTERCHANGE,
 *             INTERCHANGE -UNZ-> DONE; anything else is an error.
 *   message   the PAXLST segment groups in the guides' order:
 *             BGM, header (RFF, DTM, LOC), group 1 (NAD+MS, CTA, COM),
 *             groups 2/3 (TDT, then LOC+DTM pairs), group 4 (NAD+FL/FM/DDU/
 *             DDT, ATT, DTM, MEA, GEI, FTX, LOC, COM, EMP, NAT, RFF, QTY),
 *             group 5 (DOC, DTM, LOC, ...), CNT, UNT. A known segment out of
 *             its place is an error (a TDT after the travelers, an ATT after a
 *             DOC); an unknown tag is warned about and skipped wherever it is.
 *
 * Which NAD is which comes from position: before the first TDT a NAD is the
 * message sender's (group 1), after it a traveler's (group 4), as the
 * directory orders the groups.
 *
 * Split messages. A sender may cut a long list into parts that share UNH
 * 0068 (common access reference) and number themselves in S010 (0070
 * sequence, 0073 C for every part but the last, F for the last). Part 1
 * opens a manifest under that reference; parts 2.. must follow in sequence
 * and carry the same BGM code and flights (each TDT's carrier and number
 * are checked against part 1's; the legs are not added again, and their
 * LOC/DTM are read but not compared); their travelers are appended; the
 * interchange must not end with a part still open. Each part is a full
 * message for the UNT count. Its CNT may give either its own travelers or
 * the running total (the guides do not say which; senders do both).
 *
 * Memory. The only allocations are the parser state (it holds one segment,
 * ~5 KB), the result, its manifests array and each manifest's travelers
 * array (grown by doubling, bounded by the limits before growing), so
 * worst-case memory is known from the config: about 1.2 KB per traveler,
 * 24 MB at the default 20,000 per interchange. Every exit goes through one
 * cleanup.
 */
#include "tvs/paxlst.h"
#include "tvs/edifact.h"
#include "tvs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum env_state { ENV_START, ENV_INTERCHANGE, ENV_GROUP, ENV_MESSAGE, ENV_DONE };

/* where in the message we are: each section admits the segment groups that
 * may follow it */
enum section { SEC_BGM, SEC_HEADER, SEC_SENDER, SEC_TRANSPORT, SEC_TRAVELER, SEC_DOCUMENT, SEC_TRAILER };

enum loc_role { LOC_NONE, LOC_DEPARTURE, LOC_ARRIVAL };

/* parser-side state of a manifest, parallel to out->manifests */
struct mstate {
	int open;          /* a split message waiting for more parts */
	int next_seq;      /* the part number expected next */
	size_t cap;        /* travelers allocated */
	int dep_leg;       /* leg of the first LOC 125, -1 */
	int arr_leg;       /* leg of the first LOC 87, -1 */
};

struct parser {
	const tvs_paxlst_config *cfg;
	tvs_paxlst *out;
	struct mstate *ms;
	size_t mcap;
	tvs_paxlst_error *err;
	tvs_edifact_reader rd;
	tvs_edifact_segment seg;
	int ref_year; /* from UNB, for two-digit years */
	size_t total_travelers;

	/* envelope */
	int env;
	int groups_used; /* -1 not yet known, 0 messages at top level, 1 in UNG groups */
	size_t ngroups, nmsgs, nmsgs_group;
	char group_ref[TVS_PAXLST_ID_LEN];

	/* the message (part) being read */
	char msg_ref[TVS_PAXLST_REF_LEN];
	size_t msg_first;  /* segment number of its UNH */
	size_t mi;         /* its manifest */
	int part;          /* 1-based */
	int closes;        /* this part is the last (S010 F or no S010) */
	int section;
	size_t part_travelers;
	int saw_cnt;
	int leg;           /* current leg of this part, -1 before the first TDT */
	int part_legs;
	tvs_paxlst_leg scratch; /* legs of parts > 1 are read here, then compared */
	int loc_role;
	int skip_traveler; /* in a group 4 whose NAD qualifier is unknown */
	int skip_doc;      /* in a group 5 beyond TVS_PAXLST_MAX_DOCS */
};

/* ------------------------------------------------------------ diagnostics */

static void set_err(struct parser *p, size_t segment, const char *tag, size_t offset)
{
	if (!p->err)
		return;
	p->err->segment = segment;
	snprintf(p->err->tag, sizeof(p->err->tag), "%s", tag);
	p->err->offset = offset;
}

/* An error about the current segment: "segment N (TAG) at byte X: why". */
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int code, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	set_err(p, p->seg.number, p->seg.tag, p->seg.offset);
	return tvs__err(code, "segment %zu (%s) at byte %zu: %s", p->seg.number, p->seg.tag, p->seg.offset, why);
}

/* A warning about the current segment: "segment N (TAG): why". */
__attribute__((format(printf, 2, 3))) static void warn(struct parser *p, const char *fmt, ...)
{
	char why[TVS_PAXLST_WARNING_LEN], line[TVS_PAXLST_WARNING_LEN + 32];
	va_list ap;
	size_t n;

	if (p->out->nwarnings == TVS_PAXLST_MAX_WARNINGS) {
		p->out->warnings_dropped++; /* not formatted: a flood costs nothing */
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "segment %zu (%s): %s", p->seg.number, p->seg.tag, why);
	/* cut to the slot: a warning quotes input, so it may be long */
	n = strnlen(line, TVS_PAXLST_WARNING_LEN - 1);
	memcpy(p->out->warnings[p->out->nwarnings], line, n);
	p->out->warnings[p->out->nwarnings++][n] = '\0';
}

static void warn_qualifier(struct parser *p, const char *q, const char *where)
{
	warn(p, "unknown qualifier '%.8s' %s: ignored", q, where);
}

/* Copy value v into a field of size cap. A value that does not fit is a
 * sender error; the field is left empty rather than truncated, since a cut
 * document number is a different document. */
static void put(struct parser *p, char *dst, size_t cap, const char *v, const char *what)
{
	size_t n = strlen(v);

	if (n >= cap) {
		warn(p, "%s longer than %zu characters: left empty", what, cap - 1);
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v, n + 1);
}

/* ------------------------------------------------------------ numbers and dates */

static int all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The value of s[0..n) as digits (the caller has checked them). */
static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* A count: 1 to 9 digits. Returns 0 or -1. */
static int parse_count(const char *s, long *out)
{
	size_t n = strlen(s);

	if (n < 1 || n > 9 || !all_digits(s, n))
		return -1;
	*out = num(s, (int)n);
	return 0;
}

static int valid_date(int y, int m, int d)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return y >= 1800 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] + (m == 2 && leap);
}

/* Two-digit years: a birth or issue date is never after the interchange, so
 * it takes the latest such century; other dates take the year nearest it. */
enum century { CENTURY_PAST, CENTURY_NEAR };

static int full_year(int yy, int ref, int rule)
{
	int y = 2000 + yy;

	if (rule == CENTURY_PAST)
		return y > ref ? y - 100 : y;
	if (y > ref + 50)
		return y - 100;
	return y < ref - 49 ? y + 100 : y;
}

/* Write v as exactly n decimal digits (0 <= v < 10^n, checked by the caller). */
static char *digits_out(char *o, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		o[i] = (char)('0' + v % 10);
	return o + n;
}

/* "YYYY-MM-DD" into out[11]; the fields are valid (valid_date). */
static void format_date(char *out, int y, int mo, int d)
{
	char *o = digits_out(out, y, 4);

	*o++ = '-';
	o = digits_out(o, mo, 2);
	*o++ = '-';
	o = digits_out(o, d, 2);
	*o = '\0';
}

/* "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
static void format_time(char *out, int y, int mo, int d, int h, int mi, int sec)
{
	char *o;

	format_date(out, y, mo, d);
	o = out + 10;
	*o++ = 'T';
	o = digits_out(o, h, 2);
	*o++ = ':';
	o = digits_out(o, mi, 2);
	*o++ = ':';
	o = digits_out(o, sec, 2);
	*o++ = 'Z';
	*o = '\0';
}

struct stamp {
	int y, mo, d, h, mi, s, has_time;
};

/* Parse a DTM value in format fmt (2379; "" = by length: 6 YYMMDD,
 * 8 CCYYMMDD, 10 YYMMDDHHMM, 12 CCYYMMDDHHMM). Spaces around the value are
 * ignored (the WCO guide's own example has one). Returns 0, -1 if the value
 * is malformed, -2 if the format code is not supported. */
static int parse_stamp(const char *value, const char *fmt, int ref, int rule, struct stamp *t)
{
	char v[16];
	size_t n;
	int cc;

	while (*value == ' ')
		value++;
	n = strlen(value);
	while (n && value[n - 1] == ' ')
		n--;
	if (n >= sizeof(v))
		return -1;
	memcpy(v, value, n);
	v[n] = '\0';
	if (!fmt[0])
		cc = n == 8 || n == 12;
	else if (!strcmp(fmt, "101") || !strcmp(fmt, "201"))
		cc = 0;
	else if (!strcmp(fmt, "102") || !strcmp(fmt, "203") || !strcmp(fmt, "204"))
		cc = 1;
	else
		return -2;
	if (fmt[0] && n != (!strcmp(fmt, "101") ? 6u
			    : !strcmp(fmt, "102") ? 8u
			    : !strcmp(fmt, "201") ? 10u
			    : !strcmp(fmt, "203") ? 12u
						  : 14u))
		return -1;
	if ((n != 6 && n != 8 && n != 10 && n != 12 && n != 14) || !all_digits(v, n) || (!fmt[0] && n == 14))
		return -1;
	memset(t, 0, sizeof(*t));
	t->y = cc ? num(v, 4) : full_year(num(v, 2), ref, rule);
	t->mo = num(v + (cc ? 4 : 2), 2);
	t->d = num(v + (cc ? 6 : 4), 2);
	if ((int)n > (cc ? 8 : 6)) {
		const char *hm = v + (cc ? 8 : 6);
		t->has_time = 1;
		t->h = num(hm, 2);
		t->mi = num(hm + 2, 2);
		t->s = n == 14 ? num(hm + 4, 2) : 0;
	}
	if (!valid_date(t->y, t->mo, t->d) || t->h > 23 || t->mi > 59 || t->s > 59)
		return -1;
	return 0;
}

/* Read the current DTM (C507: 2005 qualifier, 2380 value, 2379 format) into
 * a date "YYYY-MM-DD" (time NULL) or a time "YYYY-MM-DDTHH:MM:SSZ". A bad
 * value leaves the field empty with a warning. */
static void take_dtm(struct parser *p, int rule, char *date, char *time, const char *what)
{
	const char *v = tvs_edifact_value(&p->seg, 0, 1), *fmt = tvs_edifact_value(&p->seg, 0, 2);
	struct stamp t;
	int rc = parse_stamp(v, fmt, p->ref_year, rule, &t);

	if (rc == -2) {
		warn(p, "unsupported date/time format code '%.8s' for the %s: ignored", fmt, what);
		return;
	}
	if (rc < 0) {
		warn(p, "'%.20s' is not a valid %s: left empty", v, what);
		return;
	}
	if (date)
		format_date(date, t.y, t.mo, t.d);
	if (time) {
		if (!t.has_time)
			warn(p, "the %s has no time of day: midnight assumed", what);
		format_time(time, t.y, t.mo, t.d, t.h, t.mi, t.s);
	}
}

/* ------------------------------------------------------------ result storage */

static tvs_paxlst_manifest *cur(struct parser *p)
{
	return &p->out->manifests[p->mi];
}

static int add_manifest(struct parser *p)
{
	tvs_paxlst *o = p->out;

	if (o->nmanifests == p->cfg->max_manifests)
		return fail(p, TVS_ETOOBIG, "more than %zu manifests in one interchange", p->cfg->max_manifests);
	if (o->nmanifests == p->mcap) {
		size_t cap = p->mcap ? 2 * p->mcap : 4;
		tvs_paxlst_manifest *m;
		struct mstate *s;

		if (cap > p->cfg->max_manifests)
			cap = p->cfg->max_manifests;
		m = realloc(o->manifests, cap * sizeof(*m));
		if (!m)
			return tvs__err(TVS_ENOMEM, "PAXLST: out of memory for %zu manifests", cap);
		o->manifests = m;
		s = realloc(p->ms, cap * sizeof(*s));
		if (!s)
			return tvs__err(TVS_ENOMEM, "PAXLST: out of memory for %zu manifests", cap);
		p->ms = s;
		p->mcap = cap;
	}
	p->mi = o->nmanifests++;
	memset(cur(p), 0, sizeof(*cur(p)));
	memset(&p->ms[p->mi], 0, sizeof(p->ms[p->mi]));
	cur(p)->declared_total = -1;
	p->ms[p->mi].dep_leg = p->ms[p->mi].arr_leg = -1;
	return 0;
}

/* Append an empty traveler to the current manifest, enforcing the limits
 * before any allocation. */
static int add_traveler(struct parser *p, tvs_paxlst_traveler **t)
{
	tvs_paxlst_manifest *m = cur(p);
	struct mstate *s = &p->ms[p->mi];

	if (m->ntravelers >= p->cfg->max_travelers)
		return fail(p, TVS_ETOOBIG, "more than %zu travelers in one manifest", p->cfg->max_travelers);
	if (p->total_travelers >= p->cfg->max_total_travelers)
		return fail(p, TVS_ETOOBIG, "more than %zu travelers in one interchange",
			    p->cfg->max_total_travelers);
	if (m->ntravelers == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		tvs_paxlst_traveler *a;

		if (cap > p->cfg->max_travelers)
			cap = p->cfg->max_travelers;
		a = realloc(m->travelers, cap * sizeof(*a));
		if (!a)
			return tvs__err(TVS_ENOMEM, "PAXLST: out of memory for %zu travelers", cap);
		m->travelers = a;
		s->cap = cap;
	}
	*t = &m->travelers[m->ntravelers++];
	memset(*t, 0, sizeof(**t));
	p->total_travelers++;
	p->part_travelers++;
	return 0;
}

static tvs_paxlst_traveler *traveler(struct parser *p)
{
	return &cur(p)->travelers[cur(p)->ntravelers - 1];
}

/* the leg LOC/DTM of group 3 go to: part 1's own, or the scratch copy */
static tvs_paxlst_leg *leg(struct parser *p)
{
	TVS_ASSERT(p->leg >= 0); /* SEC_TRANSPORT is entered only by a TDT */
	return p->part == 1 ? &cur(p)->legs[p->leg] : &p->scratch;
}

/* ------------------------------------------------------------ envelope */

static int handle_unb(struct parser *p)
{
	tvs_paxlst *o = p->out;
	const tvs_edifact_segment *s = &p->seg;
	const char *syntax = tvs_edifact_value(s, 0, 0), *date = tvs_edifact_value(s, 3, 0),
		   *time = tvs_edifact_value(s, 3, 1), *ref = tvs_edifact_value(s, 4, 0);
	int y, mo, d, h = 0, mi = 0;

	if (!syntax[0] || !tvs_edifact_value(s, 1, 0)[0] || !tvs_edifact_value(s, 2, 0)[0])
		return fail(p, TVS_EFORMAT, "syntax identifier, sender and recipient are mandatory");
	if (!ref[0] || strlen(ref) >= TVS_PAXLST_REF_LEN)
		return fail(p, TVS_EFORMAT, "interchange control reference (0020) must be 1-14 characters");
	if (strcmp(syntax, "UNOA") != 0 && strcmp(syntax, "UNOB") != 0)
		warn(p, "syntax identifier '%.8s': only printable ASCII (UNOA/UNOB) is accepted", syntax);
	snprintf(o->syntax, sizeof(o->syntax), "%.4s", syntax);
	put(p, o->sender, sizeof(o->sender), tvs_edifact_value(s, 1, 0), "sender");
	put(p, o->recipient, sizeof(o->recipient), tvs_edifact_value(s, 2, 0), "recipient");
	memcpy(o->control_ref, ref, strlen(ref) + 1);
	/* 0017 is YYMMDD (syntax 1-3) or CCYYMMDD (4); interchanges are recent */
	if (all_digits(date, 6))
		y = 2000 + num(date, 2), mo = num(date + 2, 2), d = num(date + 4, 2);
	else if (all_digits(date, 8))
		y = num(date, 4), mo = num(date + 4, 2), d = num(date + 6, 2);
	else
		return fail(p, TVS_EFORMAT, "date of preparation '%.12s' is not YYMMDD or CCYYMMDD", date);
	if (all_digits(time, 4))
		h = num(time, 2), mi = num(time + 2, 2);
	else if (time[0])
		return fail(p, TVS_EFORMAT, "time of preparation '%.12s' is not HHMM", time);
	if (!valid_date(y, mo, d) || h > 23 || mi > 59)
		return fail(p, TVS_EFORMAT, "date/time of preparation '%s:%s' is not a valid date", date, time);
	p->ref_year = y;
	format_time(o->prepared_at, y, mo, d, h, mi, 0);
	return 0;
}

static int handle_unz(struct parser *p)
{
	const char *n = tvs_edifact_value(&p->seg, 0, 0), *ref = tvs_edifact_value(&p->seg, 1, 0);
	size_t want = p->groups_used == 1 ? p->ngroups : p->nmsgs;
	long count;

	if (parse_count(n, &count) < 0)
		return fail(p, TVS_EFORMAT, "interchange control count '%.12s' is not a number", n);
	if ((size_t)count != want)
		return fail(p, TVS_EFORMAT, "control count %ld but the interchange holds %zu %s", count, want,
			    p->groups_used == 1 ? "groups" : "messages");
	if (strcmp(ref, p->out->control_ref) != 0)
		return fail(p, TVS_EFORMAT, "control reference '%.14s' does not match UNB's '%s'", ref,
			    p->out->control_ref);
	for (size_t i = 0; i < p->out->nmanifests; i++)
		if (p->ms[i].open)
			return fail(p, TVS_EFORMAT,
				    "split message '%s' ends at part %d: its final part (S010 F) never came",
				    p->out->manifests[i].common_access_ref, p->ms[i].next_seq - 1);
	return 0;
}

static int handle_ung(struct parser *p)
{
	const char *id = tvs_edifact_value(&p->seg, 0, 0), *ref = tvs_edifact_value(&p->seg, 4, 0);

	if (!ref[0] || strlen(ref) >= TVS_PAXLST_REF_LEN)
		return fail(p, TVS_EFORMAT, "group reference (0048) must be 1-14 characters");
	if (strcmp(id, "PAXLST") != 0)
		warn(p, "group identification '%.8s' is not PAXLST", id);
	memcpy(p->group_ref, ref, strlen(ref) + 1);
	p->ngroups++;
	p->nmsgs_group = 0;
	return 0;
}

static int handle_une(struct parser *p)
{
	const char *n = tvs_edifact_value(&p->seg, 0, 0), *ref = tvs_edifact_value(&p->seg, 1, 0);
	long count;

	if (parse_count(n, &count) < 0)
		return fail(p, TVS_EFORMAT, "group message count '%.12s' is not a number", n);
	if ((size_t)count != p->nmsgs_group)
		return fail(p, TVS_EFORMAT, "message count %ld but the group holds %zu messages", count,
			    p->nmsgs_group);
	if (strcmp(ref, p->group_ref) != 0)
		return fail(p, TVS_EFORMAT, "group reference '%.14s' does not match UNG's '%s'", ref, p->group_ref);
	return 0;
}

/* Find the open split manifest whose common access reference is car. */
static int find_open(struct parser *p, const char *car)
{
	for (size_t i = 0; i < p->out->nmanifests; i++)
		if (p->ms[i].open && !strcmp(p->out->manifests[i].common_access_ref, car))
			return (int)i;
	return -1;
}

/* UNH: start a manifest (part 1 or a single message) or continue one. */
static int handle_unh(struct parser *p)
{
	const tvs_edifact_segment *s = &p->seg;
	const char *ref = tvs_edifact_value(s, 0, 0), *type = tvs_edifact_value(s, 1, 0),
		   *car = tvs_edifact_value(s, 2, 0), *seq = tvs_edifact_value(s, 3, 0),
		   *flag = tvs_edifact_value(s, 3, 1);
	long n = 1;
	int open, rc;

	if (!ref[0] || strlen(ref) >= TVS_PAXLST_REF_LEN)
		return fail(p, TVS_EFORMAT, "message reference (0062) must be 1-14 characters");
	if (strcmp(type, "PAXLST") != 0)
		return fail(p, TVS_EUNSUPPORTED, "message type '%.8s' is not PAXLST", type);
	if (strlen(car) >= TVS_PAXLST_ID_LEN)
		return fail(p, TVS_EFORMAT, "common access reference (0068) longer than 35 characters");
	if (tvs_edifact_has(s, 3)) {
		if (parse_count(seq, &n) < 0 || n < 1 || n > 99)
			return fail(p, TVS_EFORMAT, "sequence of transfers (0070) '%.8s' is not 1-99", seq);
		if (strcmp(flag, "C") != 0 && strcmp(flag, "F") != 0)
			return fail(p, TVS_EFORMAT, "first and last transfer (0073) '%.8s' is not C or F", flag);
	}
	p->closes = !tvs_edifact_has(s, 3) || !strcmp(flag, "F");
	open = find_open(p, car);
	if (n == 1) {
		if (open >= 0 && !p->closes)
			return fail(p, TVS_EFORMAT, "part 1 of split message '%s' again before its final part",
				    car);
		if ((rc = add_manifest(p)) != 0)
			return rc;
		memcpy(cur(p)->message_ref, ref, strlen(ref) + 1);
		memcpy(cur(p)->common_access_ref, car, strlen(car) + 1);
	} else {
		if (open < 0)
			return fail(p, TVS_EFORMAT, "part %ld of split message '%s' without its earlier parts", n,
				    car);
		if (p->ms[open].next_seq != n)
			return fail(p, TVS_EFORMAT, "part %ld of split message '%s' where part %d was due", n, car,
				    p->ms[open].next_seq);
		p->mi = (size_t)open;
	}
	p->ms[p->mi].open = 0; /* reopened at UNT if more parts follow */
	cur(p)->parts++;
	p->part = (int)n;
	memcpy(p->msg_ref, ref, strlen(ref) + 1);
	p->msg_first = s->number;
	p->section = SEC_BGM;
	p->part_travelers = 0;
	p->saw_cnt = 0;
	p->leg = -1;
	p->part_legs = 0;
	p->loc_role = LOC_NONE;
	p->skip_traveler = p->skip_doc = 0;
	p->nmsgs++;
	p->nmsgs_group++;
	return 0;
}

static int handle_unt(struct parser *p)
{
	const char *n = tvs_edifact_value(&p->seg, 0, 0), *ref = tvs_edifact_value(&p->seg, 1, 0);
	size_t have = p->seg.number - p->msg_first + 1;
	struct mstate *s = &p->ms[p->mi];
	long count;

	if (parse_count(n, &count) < 0)
		return fail(p, TVS_EFORMAT, "segment count '%.12s' is not a number", n);
	if ((size_t)count != have)
		return fail(p, TVS_EFORMAT, "segment count %ld but message '%s' has %zu segments (UNH to UNT)",
			    count, p->msg_ref, have);
	if (strcmp(ref, p->msg_ref) != 0)
		return fail(p, TVS_EFORMAT, "message reference '%.14s' does not match UNH's '%s'", ref, p->msg_ref);
	if (p->part == 1 && p->leg < 0)
		warn(p, "message '%s' has no TDT: the manifest names no flight", p->msg_ref);
	if (p->part > 1 && p->part_legs > 0 && p->part_legs != cur(p)->nlegs)
		return fail(p, TVS_EFORMAT, "part %d of message '%s' lists %d flight legs, part 1 listed %d",
			    p->part, p->msg_ref, p->part_legs, cur(p)->nlegs);
	if (!p->saw_cnt)
		warn(p, "message '%s' has no CNT: its traveler count is not checked", p->msg_ref);
	s->open = !p->closes;
	s->next_seq = p->part + 1;
	return 0;
}

/* ------------------------------------------------------------ message header */

static int handle_bgm(struct parser *p)
{
	const char *code = tvs_edifact_value(&p->seg, 0, 0), *id = tvs_edifact_value(&p->seg, 1, 0);
	tvs_paxlst_manifest *m = cur(p);

	if (!code[0] || strlen(code) >= TVS_PAXLST_CODE_LEN)
		return fail(p, TVS_EFORMAT, "document name code (1001) must be 1-3 characters");
	if (p->part > 1) {
		if (strcmp(code, m->document_code) != 0)
			return fail(p, TVS_EFORMAT, "part %d has document code %s, part 1 had %s", p->part, code,
				    m->document_code);
		return 0;
	}
	memcpy(m->document_code, code, strlen(code) + 1);
	put(p, m->document_id, sizeof(m->document_id), id, "document identifier");
	if (!strcmp(code, "745")) {
		m->kind = TVS_PAXLST_PASSENGERS;
	} else if (!strcmp(code, "250") || !strcmp(code, "336")) {
		m->kind = TVS_PAXLST_CREW;
	} else {
		m->kind = TVS_PAXLST_OTHER;
		if (!strcmp(code, "266"))
			warn(p, "document code 266 is a flight status update (close-out), not a full list");
		else if (!strcmp(code, "655"))
			warn(p, "document code 655 is a gate pass list: people who do not travel");
		else
			warn(p, "unknown document code '%s' (745 passengers, 250/336 crew expected)", code);
	}
	return 0;
}

static void header_rff(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0);

	if (strcmp(q, "TN") != 0) {
		warn_qualifier(p, q, "for the message reference (TN expected)");
		return;
	}
	if (p->part == 1)
		put(p, cur(p)->reference, sizeof(cur(p)->reference), tvs_edifact_value(&p->seg, 0, 1),
		    "transaction reference");
}

/* NAD before the first TDT: segment group 1, the message sender. */
static int sender_nad(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0);

	if (!strcmp(q, "FL") || !strcmp(q, "FM") || !strcmp(q, "DDU") || !strcmp(q, "DDT"))
		return fail(p, TVS_EFORMAT, "traveler before any TDT (segment group 2, the flight, is mandatory)");
	if (strcmp(q, "MS") != 0)
		warn_qualifier(p, q, "for the message sender (MS expected)");
	p->section = SEC_SENDER;
	return 0;
}

/* ------------------------------------------------------------ flight legs (groups 2 and 3) */

static int handle_tdt(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *id = tvs_edifact_value(&p->seg, 1, 0),
		   *carrier = tvs_edifact_value(&p->seg, 4, 0);
	tvs_paxlst_manifest *m = cur(p);
	tvs_paxlst_leg *l;

	if (strcmp(q, "20") != 0 && strcmp(q, "34") != 0)
		warn_qualifier(p, q, "for the transport stage (20 main carriage, 34 overflight expected)");
	if (p->part == 1) {
		if (m->nlegs == TVS_PAXLST_MAX_LEGS)
			return fail(p, TVS_ETOOBIG, "more than %d flight legs (TDT)", TVS_PAXLST_MAX_LEGS);
		p->leg = m->nlegs++;
	} else {
		if (p->part_legs >= m->nlegs)
			return fail(p, TVS_EFORMAT, "part %d lists more flight legs than part 1 (%d)", p->part,
				    m->nlegs);
		p->leg = p->part_legs;
	}
	p->part_legs++;
	l = leg(p);
	memset(l, 0, sizeof(*l));
	put(p, l->flight, sizeof(l->flight), id, "flight number");
	if (!l->flight[0])
		warn(p, "no flight number (8028)");
	if (carrier[0]) {
		put(p, l->carrier, sizeof(l->carrier), carrier, "carrier");
	} else if (strlen(l->flight) >= 3) {
		/* IATA designators are two characters; the guides put them first */
		memcpy(l->carrier, l->flight, 2);
		l->carrier[2] = '\0';
		warn(p, "no carrier (C040): '%s' taken from the flight number", l->carrier);
	}
	if (p->part > 1 &&
	    (strcmp(l->flight, m->legs[p->leg].flight) != 0 || strcmp(l->carrier, m->legs[p->leg].carrier) != 0))
		return fail(p, TVS_EFORMAT, "part %d names flight %s %s where part 1 named %s %s", p->part,
			    l->carrier, l->flight, m->legs[p->leg].carrier, m->legs[p->leg].flight);
	p->loc_role = LOC_NONE;
	p->section = SEC_TRANSPORT;
	return 0;
}

/* LOC in group 3: 125 last departure before the destination country, 87
 * first arrival in it, 92 a routing airport of a progressive flight (the
 * leg's departure, then its arrival), 130 final destination. */
static void transport_loc(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *port = tvs_edifact_value(&p->seg, 1, 0);
	struct mstate *s = &p->ms[p->mi];
	tvs_paxlst_leg *l = leg(p);
	char *dst;
	int role;

	if (!strcmp(q, "125") || (!strcmp(q, "92") && !l->departure_port[0]))
		role = LOC_DEPARTURE;
	else if (!strcmp(q, "87") || !strcmp(q, "92") || !strcmp(q, "130"))
		role = LOC_ARRIVAL;
	else {
		warn_qualifier(p, q, "for a flight leg location (125, 87, 92, 130 expected)");
		p->loc_role = LOC_NONE;
		return;
	}
	dst = role == LOC_DEPARTURE ? l->departure_port : l->arrival_port;
	p->loc_role = role;
	if (dst[0]) {
		warn(p, "second %s airport in one leg: ignored", role == LOC_DEPARTURE ? "departure" : "arrival");
		p->loc_role = LOC_NONE;
		return;
	}
	put(p, dst, TVS_PAXLST_ID_LEN, port, "airport code");
	if (p->part == 1 && !strcmp(q, "125") && s->dep_leg < 0)
		s->dep_leg = p->leg;
	if (p->part == 1 && !strcmp(q, "87") && s->arr_leg < 0)
		s->arr_leg = p->leg;
}

/* DTM in group 2/3: 189 scheduled departure, 232 scheduled arrival. */
static void transport_dtm(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0);
	tvs_paxlst_leg *l = leg(p);
	char *dst;

	if (!strcmp(q, "189"))
		dst = l->departure_time;
	else if (!strcmp(q, "232"))
		dst = l->arrival_time;
	else {
		warn_qualifier(p, q, "for a flight time (189 departure, 232 arrival expected)");
		return;
	}
	if ((dst == l->departure_time && p->loc_role == LOC_ARRIVAL) ||
	    (dst == l->arrival_time && p->loc_role == LOC_DEPARTURE))
		warn(p, "%s time follows an %s airport", dst == l->departure_time ? "departure" : "arrival",
		     dst == l->departure_time ? "arrival" : "departure");
	if (dst[0]) {
		warn(p, "second %s time in one leg: ignored", dst == l->departure_time ? "departure" : "arrival");
		return;
	}
	take_dtm(p, CENTURY_NEAR, NULL, dst, dst == l->departure_time ? "departure time" : "arrival time");
}

/* ------------------------------------------------------------ travelers (groups 4 and 5) */

/* Join the given-name components 1..4 of C080 with spaces. */
static void given_names(struct parser *p, tvs_paxlst_traveler *t)
{
	size_t n = 0;

	for (int c = 1; c <= 4; c++) {
		const char *g = tvs_edifact_value(&p->seg, 3, c);
		size_t k = strlen(g);

		if (!k)
			continue;
		if (n + (n > 0) + k >= sizeof(t->given_names)) {
			warn(p, "given names longer than %zu characters: left empty", sizeof(t->given_names) - 1);
			t->given_names[0] = '\0';
			return;
		}
		if (n)
			t->given_names[n++] = ' ';
		memcpy(t->given_names + n, g, k + 1);
		n += k;
	}
}

static int traveler_nad(struct parser *p)
{
	static const char *const quals[] = { "FL", "FM", "DDU", "DDT" };
	static const int roles[] = { TVS_PAXLST_PASSENGER, TVS_PAXLST_CREW_MEMBER, TVS_PAXLST_TRANSIT_PASSENGER,
				     TVS_PAXLST_TRANSIT_CREW };
	const char *q = tvs_edifact_value(&p->seg, 0, 0);
	tvs_paxlst_traveler *t = NULL;
	int role = -1, crew, rc;

	for (int i = 0; i < 4; i++)
		if (!strcmp(q, quals[i]))
			role = roles[i];
	p->section = SEC_TRAVELER;
	p->skip_doc = 0;
	p->skip_traveler = role < 0;
	if (role < 0) {
		warn_qualifier(p, q, "for a traveler (FL, FM, DDU, DDT expected): the traveler is skipped");
		return 0;
	}
	if ((rc = add_traveler(p, &t)) != 0)
		return rc;
	t->role = role;
	t->segment = p->seg.number;
	put(p, t->surname, sizeof(t->surname), tvs_edifact_value(&p->seg, 3, 0), "surname");
	given_names(p, t);
	if (!t->surname[0])
		warn(p, "traveler without a surname (C080)");
	crew = role == TVS_PAXLST_CREW_MEMBER || role == TVS_PAXLST_TRANSIT_CREW;
	if ((crew && cur(p)->kind == TVS_PAXLST_PASSENGERS) || (!crew && cur(p)->kind == TVS_PAXLST_CREW))
		warn(p, "a %s in a %s list", crew ? "crew member" : "passenger",
		     crew ? "passenger" : "crew");
	return 0;
}

static void traveler_att(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *v = tvs_edifact_value(&p->seg, 2, 0);
	tvs_paxlst_traveler *t = traveler(p);

	if (strcmp(q, "2") != 0) {
		warn_qualifier(p, q, "for an attribute (2 = gender expected)");
		return;
	}
	if (!strcmp(v, "M") || !strcmp(v, "F") || !strcmp(v, "X"))
		memcpy(t->sex, v, 2);
	else if (!strcmp(v, "U"))
		t->sex[0] = '\0'; /* undisclosed: the service has no code for it */
	else
		warn(p, "'%.8s' is not a gender code (M, F, U, X): left empty", v);
}

static void traveler_loc(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *v = tvs_edifact_value(&p->seg, 1, 0);
	tvs_paxlst_traveler *t = traveler(p);

	if (!strcmp(q, "22"))
		put(p, t->clearance, sizeof(t->clearance), v, "clearance airport");
	else if (!strcmp(q, "174"))
		put(p, t->residence, sizeof(t->residence), v, "country of residence");
	else if (!strcmp(q, "178"))
		put(p, t->embarkation, sizeof(t->embarkation), v, "port of embarkation");
	else if (!strcmp(q, "179"))
		put(p, t->disembarkation, sizeof(t->disembarkation), v, "port of disembarkation");
	else if (strcmp(q, "180") != 0) /* 180 place of birth: free text, not kept */
		warn_qualifier(p, q, "for a traveler's location (22, 174, 178, 179, 180 expected)");
}

static void traveler_rff(struct parser *p)
{
	static const char *const known[] = { "AVF", "ABO", "AEA", "CR", "SEA" };
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *v = tvs_edifact_value(&p->seg, 0, 1);
	tvs_paxlst_traveler *t = traveler(p);
	tvs_paxlst_reference *r;
	int ok = 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= !strcmp(q, known[i]);
	if (!ok)
		warn(p, "unknown reference qualifier '%.8s': kept", q);
	if (t->nrefs == TVS_PAXLST_MAX_REFS) {
		warn(p, "more than %d references for one traveler: ignored", TVS_PAXLST_MAX_REFS);
		return;
	}
	r = &t->refs[t->nrefs];
	put(p, r->qualifier, sizeof(r->qualifier), q, "reference qualifier");
	put(p, r->value, sizeof(r->value), v, "reference");
	if (r->qualifier[0] && r->value[0])
		t->nrefs++;
}

static void traveler_doc(struct parser *p)
{
	static const char *const known[] = { "P", "V", "I", "A", "C", "AC", "IP", "F", "M", "T" };
	const char *type = tvs_edifact_value(&p->seg, 0, 0);
	tvs_paxlst_traveler *t = traveler(p);
	tvs_paxlst_document *d;
	int ok = 0;

	if (t->ndocs == TVS_PAXLST_MAX_DOCS) {
		warn(p, "more than %d documents for one traveler: ignored", TVS_PAXLST_MAX_DOCS);
		p->skip_doc = 1;
		return;
	}
	p->skip_doc = 0;
	d = &t->docs[t->ndocs++];
	memset(d, 0, sizeof(*d));
	put(p, d->type, sizeof(d->type), type, "document type");
	put(p, d->number, sizeof(d->number), tvs_edifact_value(&p->seg, 1, 0), "document number");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= !strcmp(type, known[i]);
	if (!type[0])
		warn(p, "document without a type (1001)");
	else if (!ok)
		warn(p, "unknown document type '%.8s': kept", type);
	if (!d->number[0])
		warn(p, "document without a number (1004)");
}

static void document_dtm(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0);
	tvs_paxlst_traveler *t = traveler(p);
	tvs_paxlst_document *d = &t->docs[t->ndocs - 1];

	if (!strcmp(q, "36"))
		take_dtm(p, CENTURY_NEAR, d->expiry, NULL, "expiry date");
	else if (!strcmp(q, "182"))
		take_dtm(p, CENTURY_PAST, d->issued, NULL, "issue date");
	else
		warn_qualifier(p, q, "for a document date (36 expiry, 182 issue expected)");
}

static void document_loc(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0);
	tvs_paxlst_traveler *t = traveler(p);
	tvs_paxlst_document *d = &t->docs[t->ndocs - 1];

	if (!strcmp(q, "91"))
		put(p, d->issuing_state, sizeof(d->issuing_state), tvs_edifact_value(&p->seg, 1, 0),
		    "issuing country");
	else
		warn_qualifier(p, q, "for a document location (91 issuing country expected)");
}

/* CNT 41 (crew) / 42 (passengers) against the travelers of this part or,
 * for a split message, of all its parts so far. */
static int handle_cnt(struct parser *p)
{
	const char *q = tvs_edifact_value(&p->seg, 0, 0), *v = tvs_edifact_value(&p->seg, 0, 1);
	tvs_paxlst_manifest *m = cur(p);
	long n;

	p->section = SEC_TRAILER;
	p->saw_cnt = 1;
	if (strcmp(q, "41") != 0 && strcmp(q, "42") != 0) {
		warn_qualifier(p, q, "for a control total (41 crew, 42 passengers expected)");
		return 0;
	}
	if (parse_count(v, &n) < 0)
		return fail(p, TVS_EFORMAT, "control total '%.12s' is not a number", v);
	m->declared_total = n;
	if ((!strcmp(q, "41") && m->kind == TVS_PAXLST_PASSENGERS) || (!strcmp(q, "42") && m->kind == TVS_PAXLST_CREW))
		warn(p, "control total %s in a %s list", q, m->kind == TVS_PAXLST_CREW ? "crew" : "passenger");
	if ((size_t)n == p->part_travelers || (size_t)n == m->ntravelers)
		return 0;
	if (p->cfg->count_policy == TVS_PAXLST_COUNT_WARN) {
		warn(p, "control total %ld but message '%s' lists %zu travelers", n, p->msg_ref, p->part_travelers);
		return 0;
	}
	if (m->parts > 1)
		return fail(p, TVS_EFORMAT,
			    "control total %ld but message '%s' lists %zu travelers (%zu in its parts so far)", n,
			    p->msg_ref, p->part_travelers, m->ntravelers);
	return fail(p, TVS_EFORMAT, "control total %ld but message '%s' lists %zu travelers", n, p->msg_ref,
		    p->part_travelers);
}

/* ------------------------------------------------------------ message dispatch */

static int is_known_tag(const char *tag)
{
	static const char known[] = "BGM RFF DTM LOC NAD CTA COM TDT ATT MEA GEI FTX EMP NAT DOC CNT QTY ";

	for (const char *k = known; *k; k += 4)
		if (!memcmp(k, tag, 3))
			return 1;
	return 0;
}

static int misplaced(struct parser *p, const char *where)
{
	return fail(p, TVS_EFORMAT, "%s is not allowed %s", p->seg.tag, where);
}

static int header_segment(struct parser *p, const char *tag)
{
	if (p->section == SEC_HEADER && !strcmp(tag, "RFF"))
		header_rff(p);
	else if (p->section == SEC_HEADER && (!strcmp(tag, "DTM") || !strcmp(tag, "LOC")))
		; /* message dates and locations: not needed */
	else if (!strcmp(tag, "CTA") || !strcmp(tag, "COM"))
		; /* the sender's contact */
	else
		return misplaced(p, p->section == SEC_HEADER ? "in the message header (before any TDT)"
							     : "in the message sender's group (segment group 1)");
	return 0;
}

static int transport_segment(struct parser *p, const char *tag)
{
	if (!strcmp(tag, "LOC"))
		transport_loc(p);
	else if (!strcmp(tag, "DTM"))
		transport_dtm(p);
	else
		return misplaced(p, "in a flight leg (segment groups 2 and 3)");
	return 0;
}

static int traveler_segment(struct parser *p, const char *tag)
{
	static const char group4[] = "ATT DTM MEA GEI FTX LOC COM EMP NAT RFF QTY ";
	int ok = 0;

	for (const char *k = group4; *k; k += 4)
		ok |= !memcmp(k, tag, 3);
	if (!ok)
		return misplaced(p, "in a traveler's details (segment group 4)");
	if (p->skip_traveler)
		return 0;
	if (!strcmp(tag, "ATT"))
		traveler_att(p);
	else if (!strcmp(tag, "DTM") && strcmp(tvs_edifact_value(&p->seg, 0, 0), "329") != 0)
		warn_qualifier(p, tvs_edifact_value(&p->seg, 0, 0), "for a traveler's date (329 birth expected)");
	else if (!strcmp(tag, "DTM"))
		take_dtm(p, CENTURY_PAST, traveler(p)->birth_date, NULL, "birth date");
	else if (!strcmp(tag, "LOC"))
		traveler_loc(p);
	else if (!strcmp(tag, "NAT") && strcmp(tvs_edifact_value(&p->seg, 0, 0), "2") != 0)
		warn_qualifier(p, tvs_edifact_value(&p->seg, 0, 0), "for a nationality (2 expected)");
	else if (!strcmp(tag, "NAT"))
		put(p, traveler(p)->nationality, sizeof(traveler(p)->nationality), tvs_edifact_value(&p->seg, 1, 0),
		    "nationality");
	else if (!strcmp(tag, "RFF"))
		traveler_rff(p);
	return 0; /* MEA, GEI, FTX, COM, EMP, QTY: accepted, not needed */
}

static int document_segment(struct parser *p, const char *tag)
{
	if (strcmp(tag, "DTM") != 0 && strcmp(tag, "LOC") != 0 && strcmp(tag, "GEI") != 0 &&
	    strcmp(tag, "RFF") != 0 && strcmp(tag, "QTY") != 0 && strcmp(tag, "FTX") != 0)
		return misplaced(p, "after DOC: a traveler's details (segment group 4) come before the documents "
				    "(group 5)");
	if (p->skip_traveler || p->skip_doc)
		return 0;
	if (!strcmp(tag, "DTM"))
		document_dtm(p);
	else if (!strcmp(tag, "LOC"))
		document_loc(p);
	return 0;
}

static int message_segment(struct parser *p)
{
	const char *tag = p->seg.tag;

	if (tag[0] == 'U' && tag[1] == 'N' && strchr("BGHEZ", tag[2]))
		return fail(p, TVS_EFORMAT, "%s inside message '%s': its UNT is missing", tag, p->msg_ref);
	if (!is_known_tag(tag)) {
		warn(p, "unknown segment tag: ignored");
		return 0;
	}
	if (p->section == SEC_BGM) {
		if (strcmp(tag, "BGM") != 0)
			return fail(p, TVS_EFORMAT, "BGM must follow UNH");
		p->section = SEC_HEADER;
		return handle_bgm(p);
	}
	if (!strcmp(tag, "BGM"))
		return fail(p, TVS_EFORMAT, "second BGM in message '%s'", p->msg_ref);
	if (p->section == SEC_TRAILER)
		return fail(p, TVS_EFORMAT, "%s after CNT: only UNT may follow CNT", tag);
	if (!strcmp(tag, "CNT"))
		return handle_cnt(p);
	if (!strcmp(tag, "TDT")) {
		if (p->section >= SEC_TRAVELER)
			return misplaced(p, "after the first traveler: flight legs (segment group 2) come first");
		return handle_tdt(p);
	}
	if (!strcmp(tag, "NAD"))
		return p->section < SEC_TRANSPORT ? sender_nad(p) : traveler_nad(p);
	if (!strcmp(tag, "DOC")) {
		if (p->section < SEC_TRAVELER)
			return misplaced(p, "outside a traveler (no NAD+FL/FM/DDU/DDT before it)");
		p->section = SEC_DOCUMENT;
		if (!p->skip_traveler)
			traveler_doc(p);
		return 0;
	}
	switch (p->section) {
	case SEC_HEADER:
	case SEC_SENDER:
		return header_segment(p, tag);
	case SEC_TRANSPORT:
		return transport_segment(p, tag);
	case SEC_TRAVELER:
		return traveler_segment(p, tag);
	default:
		return document_segment(p, tag);
	}
}

/* ------------------------------------------------------------ envelope dispatch */

static int interchange_segment(struct parser *p)
{
	const char *tag = p->seg.tag;
	int rc;

	if (!strcmp(tag, "UNG")) {
		if (p->groups_used == 0)
			return fail(p, TVS_EFORMAT, "UNG after messages outside groups: groups or messages, not both");
		p->groups_used = 1;
		p->env = ENV_GROUP;
		return handle_ung(p);
	}
	if (!strcmp(tag, "UNH")) {
		if (p->groups_used == 1)
			return fail(p, TVS_EFORMAT, "UNH outside a group in an interchange of groups");
		p->groups_used = 0;
		p->env = ENV_MESSAGE;
		return handle_unh(p);
	}
	if (!strcmp(tag, "UNZ")) {
		rc = handle_unz(p);
		p->env = ENV_DONE;
		return rc;
	}
	return fail(p, TVS_EFORMAT, "%s outside a message (UNH, UNG or UNZ expected)", tag);
}

static int on_segment(struct parser *p)
{
	const char *tag = p->seg.tag;

	switch (p->env) {
	case ENV_START:
		if (strcmp(tag, "UNB") != 0)
			return fail(p, TVS_EFORMAT, "an interchange starts with UNB (after an optional UNA)");
		p->env = ENV_INTERCHANGE;
		return handle_unb(p);
	case ENV_INTERCHANGE:
		return interchange_segment(p);
	case ENV_GROUP:
		if (!strcmp(tag, "UNH")) {
			p->env = ENV_MESSAGE;
			return handle_unh(p);
		}
		if (!strcmp(tag, "UNE")) {
			p->env = ENV_INTERCHANGE;
			return handle_une(p);
		}
		return fail(p, TVS_EFORMAT, "%s outside a message (UNH or UNE expected)", tag);
	case ENV_MESSAGE:
		if (!strcmp(tag, "UNT")) {
			p->env = p->groups_used == 1 ? ENV_GROUP : ENV_INTERCHANGE;
			return handle_unt(p);
		}
		return message_segment(p);
	default:
		return fail(p, TVS_EFORMAT, "data after UNZ");
	}
}

/* The manifest's flight from its legs (see tvs_paxlst_manifest). */
static void finish_manifest(tvs_paxlst_manifest *m, const struct mstate *s)
{
	int dl, al;

	if (!m->nlegs)
		return;
	dl = s->dep_leg >= 0 ? s->dep_leg : 0;
	al = s->arr_leg >= 0 ? s->arr_leg : m->nlegs - 1;
	memcpy(m->carrier, m->legs[0].carrier, sizeof(m->carrier));
	memcpy(m->flight, m->legs[0].flight, sizeof(m->flight));
	memcpy(m->departure_port, m->legs[dl].departure_port, sizeof(m->departure_port));
	memcpy(m->departure_time, m->legs[dl].departure_time, sizeof(m->departure_time));
	memcpy(m->arrival_port, m->legs[al].arrival_port, sizeof(m->arrival_port));
	memcpy(m->arrival_time, m->legs[al].arrival_time, sizeof(m->arrival_time));
}

/* ------------------------------------------------------------ public */

void tvs_paxlst_default_config(tvs_paxlst_config *c)
{
	c->max_input = TVS_PAXLST_MAX_INPUT;
	c->max_travelers = TVS_PAXLST_MAX_TRAVELERS;
	c->max_total_travelers = TVS_PAXLST_MAX_TOTAL_TRAVELERS;
	c->max_manifests = TVS_PAXLST_MAX_MANIFESTS;
	c->count_policy = TVS_PAXLST_COUNT_STRICT;
}

/* Read every segment; on success the interchange is complete (UNZ seen). */
static int read_all(struct parser *p, size_t len)
{
	int rc;

	while ((rc = tvs_edifact_next(&p->rd, &p->seg)) == 1)
		if ((rc = on_segment(p)) != 0)
			return rc;
	if (rc < 0) {
		set_err(p, p->rd.err_segment, p->rd.err_tag, p->rd.err_offset);
		return rc;
	}
	if (p->rd.nsegments == 0) {
		set_err(p, 0, "", len);
		return tvs__err(TVS_EFORMAT, "PAXLST: no segments in %zu bytes", len);
	}
	if (p->env != ENV_DONE) {
		/* the position is the end of the input, after the last segment read */
		set_err(p, p->rd.nsegments, p->seg.tag, len);
		return tvs__err(TVS_EFORMAT, "end of input at byte %zu after segment %zu (%s): no UNZ, the interchange "
				"is truncated", len, p->rd.nsegments, p->seg.tag);
	}
	if (p->out->nmanifests == 0)
		return fail(p, TVS_EFORMAT, "the interchange holds no message");
	return 0;
}

int tvs_paxlst_parse(const void *data, size_t len, const tvs_paxlst_config *c, tvs_paxlst **out,
		     tvs_paxlst_error *err)
{
	tvs_paxlst_config dflt;
	struct parser *p;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!out || (!data && len))
		return tvs__err(TVS_EINVAL, "PAXLST: NULL argument");
	*out = NULL;
	if (!c) {
		tvs_paxlst_default_config(&dflt);
		c = &dflt;
	}
	if (!c->max_input || !c->max_travelers || !c->max_total_travelers || !c->max_manifests)
		return tvs__err(TVS_EINVAL, "PAXLST: a zero limit in the config");
	/* before anything that costs time or memory in proportion to len */
	if (len > c->max_input)
		return tvs__err(TVS_ETOOBIG, "PAXLST input of %zu bytes exceeds the limit of %zu bytes", len,
				c->max_input);
	if (len == 0)
		return tvs__err(TVS_EFORMAT, "PAXLST: empty input");
	/* the parser holds a whole segment (~5 KB): heap, not stack */
	p = calloc(1, sizeof(*p));
	if (!p)
		return tvs__err(TVS_ENOMEM, "PAXLST: out of memory");
	p->cfg = c;
	p->err = err;
	p->groups_used = -1;
	p->out = calloc(1, sizeof(*p->out));
	if (!p->out) {
		rc = tvs__err(TVS_ENOMEM, "PAXLST: out of memory");
		goto fail;
	}
	rc = tvs_edifact_reader_init(&p->rd, data, len);
	if (rc < 0) {
		set_err(p, 0, "UNA", p->rd.err_offset);
		goto fail;
	}
	rc = read_all(p, len);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < p->out->nmanifests; i++)
		finish_manifest(&p->out->manifests[i], &p->ms[i]);
	*out = p->out;
	free(p->ms);
	free(p);
	return 0;
fail:
	tvs_paxlst_free(p->out);
	free(p->ms);
	free(p);
	return rc;
}

void tvs_paxlst_free(tvs_paxlst *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nmanifests; i++)
		free(x->manifests[i].travelers);
	free(x->manifests);
	free(x);
}

const char *tvs_paxlst_direction(const tvs_paxlst_manifest *m, const char *port)
{
	if (!m || !port || !port[0])
		return NULL;
	if (!strcmp(port, m->departure_port))
		return "exit";
	if (!strcmp(port, m->arrival_port))
		return "entry";
	return NULL;
}

const tvs_paxlst_document *tvs_paxlst_primary_document(const tvs_paxlst_traveler *t)
{
	if (!t || t->ndocs < 1)
		return NULL;
	for (int i = 0; i < t->ndocs && i < TVS_PAXLST_MAX_DOCS; i++)
		if (strcmp(t->docs[i].type, "V") != 0)
			return &t->docs[i];
	return &t->docs[0];
}

const char *tvs_paxlst_kind_name(int kind)
{
	switch (kind) {
	case TVS_PAXLST_PASSENGERS: return "passengers";
	case TVS_PAXLST_CREW: return "crew";
	case TVS_PAXLST_OTHER: return "other";
	default: return "unknown";
	}
}

const char *tvs_paxlst_role_name(int role)
{
	switch (role) {
	case TVS_PAXLST_PASSENGER: return "passenger";
	case TVS_PAXLST_CREW_MEMBER: return "crew";
	case TVS_PAXLST_TRANSIT_PASSENGER: return "transit_passenger";
	case TVS_PAXLST_TRANSIT_CREW: return "transit_crew";
	default: return "unknown";
	}
}
