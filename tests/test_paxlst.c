/*
 * Unit tests for the PAXLST parser (src/doc/paxlst.c, src/doc/edifact.c).
 *
 * The fixtures (the .edi files in tests/fixtures/paxlst) are messages written to the
 * WCO/IATA/ICAO and US CBP implementation guides' segment layouts with
 * invented people: a passenger list in a UNG group with CRLF line ends, a
 * crew list (FM, DDT), custom UNA separators, a passenger and a crew list
 * in one interchange, one list split into three parts, and the guides'
 * progressive (two-leg, LOC 92) pattern. Each must parse to the manifest
 * written out here field by field.
 *
 * The malformed inputs are built inline around one valid message (msg()),
 * so each test changes one thing and checks the exact error: the code, the
 * segment number (UNB = 1), the tag and the reason in tvs_errmsg().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/paxlst.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXTURES "tests/fixtures/paxlst/"

/* ------------------------------------------------------------ helpers */

static char *read_fixture(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static tvs_paxlst *parse_fixture(const char *name)
{
	size_t len;
	char *buf = read_fixture(name, &len);
	tvs_paxlst *p = NULL;
	int rc = tvs_paxlst_parse(buf, len, NULL, &p, NULL);

	if (rc != 0)
		print_error("%s: %s\n", name, tvs_errmsg());
	assert_int_equal(rc, 0);
	free(buf);
	return p;
}

/* One valid passenger message. Segments: UNB 1, UNH 2, BGM 3, NAD+MS 4,
 * TDT 5, LOC 6, DTM 7, LOC 8, DTM 9, NAD+FL 10, ATT 11, DTM 12, NAT 13,
 * DOC 14, DTM 15, LOC 16, CNT 17, UNT 18, UNZ 19. */
#define HEAD "BGM+745'NAD+MS+++OPS'TDT+20+DA123+++DA'LOC+125+FCO'DTM+189:2306151000:201'LOC+87+JFK'DTM+232:2306151415:201'"
#define DOE "NAD+FL+++DOE:JOHN'ATT+2++M'DTM+329:800101'NAT+2+USA'DOC+P+X1234567'DTM+36:300101'LOC+91+USA'"
#define BODY HEAD DOE "CNT+42:1'"

/* Segment terminators in body: apostrophes not released by '?'. */
static size_t count_segments(const char *body)
{
	size_t n = 0;

	for (const char *c = body; *c; c++) {
		if (*c == '?' && c[1])
			c++;
		else
			n += *c == '\'';
	}
	return n;
}

/* Wrap body (segments between UNH and UNT, default separators) in
 * UNB/UNH ... UNT/UNZ with the right UNT count. */
static const char *msg(const char *body)
{
	static char out[1 << 16];
	size_t n = count_segments(body);

	snprintf(out, sizeof(out),
		 "UNB+UNOA:4+SENDER+RECEIVER+230615:0930+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'%sUNT+%zu+M1'UNZ+1+REF1'",
		 body, n + 2);
	return out;
}

static tvs_paxlst *parse_ok(const char *edi)
{
	tvs_paxlst *p = NULL;
	int rc = tvs_paxlst_parse(edi, strlen(edi), NULL, &p, NULL);

	if (rc != 0)
		print_error("unexpected error: %s\n", tvs_errmsg());
	assert_int_equal(rc, 0);
	assert_non_null(p);
	return p;
}

/* Parse edi[0..len) expecting code at segment (0: not tied to one) with
 * tag, and needle in the message. */
static void expect_error_n(const char *edi, size_t len, const tvs_paxlst_config *c, int code, size_t segment,
			   const char *tag, const char *needle)
{
	tvs_paxlst *p = (tvs_paxlst *)0x1;
	tvs_paxlst_error e;
	int rc = tvs_paxlst_parse(edi, len, c, &p, &e);

	if (rc != code || !strstr(tvs_errmsg(), needle))
		print_error("got %d '%s', want %d with '%s'\n", rc, tvs_errmsg(), code, needle);
	assert_int_equal(rc, code);
	assert_null(p);
	assert_non_null(strstr(tvs_errmsg(), needle));
	assert_int_equal(e.segment, segment);
	assert_string_equal(e.tag, tag);
	if (segment) {
		char want[48];
		snprintf(want, sizeof(want), "segment %zu (%s)", segment, tag);
		assert_non_null(strstr(tvs_errmsg(), want));
	}
}

static void expect_error(const char *edi, int code, size_t segment, const char *tag, const char *needle)
{
	expect_error_n(edi, strlen(edi), NULL, code, segment, tag, needle);
}

static int has_warning(const tvs_paxlst *p, const char *needle)
{
	for (size_t i = 0; i < p->nwarnings; i++)
		if (strstr(p->warnings[i], needle))
			return 1;
	return 0;
}

/* ------------------------------------------------------------ guide-shaped messages */

static void test_passenger_list(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("passengers.edi");
	const tvs_paxlst_manifest *m;
	const tvs_paxlst_traveler *t;

	assert_string_equal(p->syntax, "UNOA");
	assert_string_equal(p->sender, "DAIRLINE");
	assert_string_equal(p->recipient, "BORDERAPI");
	assert_string_equal(p->control_ref, "000000042");
	assert_string_equal(p->prepared_at, "2023-06-15T09:30:00Z");
	assert_int_equal(p->nwarnings, 0);
	assert_int_equal(p->nmanifests, 1);
	m = &p->manifests[0];
	assert_int_equal(m->kind, TVS_PAXLST_PASSENGERS);
	assert_string_equal(m->document_code, "745");
	assert_string_equal(m->message_ref, "PAX001");
	assert_string_equal(m->common_access_ref, "DA123/230615/1000");
	assert_int_equal(m->parts, 1);
	assert_string_equal(m->reference, "DA123230615");
	assert_string_equal(m->carrier, "DA");
	assert_string_equal(m->flight, "DA123");
	assert_string_equal(m->departure_port, "FCO");
	assert_string_equal(m->departure_time, "2023-06-15T10:00:00Z");
	assert_string_equal(m->arrival_port, "JFK");
	assert_string_equal(m->arrival_time, "2023-06-15T14:15:00Z");
	assert_int_equal(m->nlegs, 1);
	assert_int_equal(m->declared_total, 3);
	assert_int_equal(m->ntravelers, 3);

	t = &m->travelers[0];
	assert_int_equal(t->role, TVS_PAXLST_PASSENGER);
	assert_int_equal(t->segment, 13); /* UNB 1, UNG 2, UNH 3, ..., this NAD 13 */
	assert_string_equal(t->surname, "BIANCHI");
	assert_string_equal(t->given_names, "MARCO LUCA");
	assert_string_equal(t->sex, "M");
	assert_string_equal(t->birth_date, "1985-04-12");
	assert_string_equal(t->nationality, "ITA");
	assert_string_equal(t->residence, "ITA");
	assert_string_equal(t->embarkation, "FCO");
	assert_string_equal(t->disembarkation, "JFK");
	assert_string_equal(t->clearance, "JFK");
	assert_int_equal(t->ndocs, 1);
	assert_string_equal(t->docs[0].type, "P");
	assert_string_equal(t->docs[0].number, "YA1234567");
	assert_string_equal(t->docs[0].issuing_state, "ITA");
	assert_string_equal(t->docs[0].expiry, "2030-01-01");
	assert_string_equal(t->docs[0].issued, "2020-01-02");
	assert_int_equal(t->nrefs, 3);
	assert_string_equal(t->refs[0].qualifier, "AVF");
	assert_string_equal(t->refs[0].value, "XK7Q2P");
	assert_string_equal(t->refs[1].qualifier, "ABO");
	assert_string_equal(t->refs[2].qualifier, "SEA");
	assert_string_equal(t->refs[2].value, "14C");

	t = &m->travelers[1]; /* a released apostrophe, CCYYMMDD dates, a passport and a visa */
	assert_string_equal(t->surname, "O'BRIEN");
	assert_string_equal(t->given_names, "SIOBHAN");
	assert_string_equal(t->sex, "F");
	assert_string_equal(t->birth_date, "1992-11-30");
	assert_int_equal(t->ndocs, 2);
	assert_string_equal(t->docs[1].type, "V");
	assert_string_equal(t->docs[1].issuing_state, "USA");
	assert_string_equal(t->docs[1].expiry, "2027-01-01");
	assert_ptr_equal(tvs_paxlst_primary_document(t), &t->docs[0]);
	assert_string_equal(tvs_paxlst_primary_document(t)->number, "PB7654321");
	assert_string_equal(tvs_paxlst_primary_document(t)->expiry, "2029-06-30");

	t = &m->travelers[2];
	assert_string_equal(t->surname, "NGUYEN");
	assert_string_equal(t->sex, "X");
	assert_string_equal(t->birth_date, "2005-02-28"); /* YY 05 with UNB 2023: 2005 */
	assert_string_equal(t->docs[0].type, "I");
	assert_string_equal(t->docs[0].expiry, "2031-08-15");

	assert_string_equal(tvs_paxlst_direction(m, "JFK"), "entry");
	assert_string_equal(tvs_paxlst_direction(m, "FCO"), "exit");
	assert_null(tvs_paxlst_direction(m, "LHR"));
	assert_null(tvs_paxlst_direction(m, ""));
	assert_null(tvs_paxlst_direction(m, NULL));
	tvs_paxlst_free(p);
}

static void test_crew_list(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("crew.edi");
	const tvs_paxlst_manifest *m = &p->manifests[0];

	assert_int_equal(p->nwarnings, 0);
	assert_int_equal(m->kind, TVS_PAXLST_CREW);
	assert_string_equal(m->document_code, "250");
	assert_string_equal(m->common_access_ref, "");
	assert_int_equal(m->ntravelers, 3);
	assert_int_equal(m->declared_total, 3);
	assert_int_equal(m->travelers[0].role, TVS_PAXLST_CREW_MEMBER);
	assert_string_equal(m->travelers[0].surname, "VERDI");
	assert_string_equal(m->travelers[0].birth_date, "1978-01-01");
	assert_string_equal(m->travelers[1].given_names, "PIOTR JAN");
	assert_string_equal(m->travelers[1].docs[0].type, "AC");
	assert_string_equal(m->travelers[1].docs[0].issuing_state, "POL");
	assert_int_equal(m->travelers[2].role, TVS_PAXLST_TRANSIT_CREW);
	assert_string_equal(m->travelers[2].docs[0].expiry, "2033-01-01");
	assert_string_equal(tvs_paxlst_role_name(m->travelers[2].role), "transit_crew");
	assert_string_equal(tvs_paxlst_kind_name(m->kind), "crew");
	tvs_paxlst_free(p);
}

static void test_custom_una(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("custom_una.edi");
	const tvs_paxlst_manifest *m = &p->manifests[0];
	const tvs_paxlst_traveler *t = &m->travelers[0];

	assert_int_equal(p->nwarnings, 0);
	assert_string_equal(p->control_ref, "UNA00001");
	assert_string_equal(m->flight, "DA124");
	assert_string_equal(m->departure_port, "JFK");
	assert_string_equal(m->arrival_time, "2023-06-17T08:30:00Z");
	assert_string_equal(t->surname, "O'BRIEN"); /* ' is plain text when '~' ends segments */
	assert_string_equal(t->given_names, "PATRICK");
	assert_string_equal(t->birth_date, "1970-01-01");
	assert_int_equal(t->nrefs, 2);
	assert_string_equal(t->refs[0].value, "AB*12");   /* !* is a released element separator */
	assert_string_equal(t->refs[1].value, "X>Y!Z~"); /* !> !! !~ */
	assert_string_equal(t->docs[0].expiry, "2025-12-31");
	tvs_paxlst_free(p);
}

static void test_release_characters(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_ok(msg(HEAD "NAD+FL+++O?'BRIEN:MARY?:ANN:JO?+JO'RFF+AVF:A??B'DOC+P+X1'LOC+91+IRL'"
					  "CNT+42:1'"));
	const tvs_paxlst_traveler *t = &p->manifests[0].travelers[0];

	assert_string_equal(t->surname, "O'BRIEN");
	assert_string_equal(t->given_names, "MARY:ANN JO+JO");
	assert_string_equal(t->refs[0].value, "A?B");
	tvs_paxlst_free(p);

	/* a release character before an ordinary character: byte 146 is the '?' */
	expect_error(msg(HEAD "NAD+FL+++O?BRIEN'CNT+42:1'"), TVS_EFORMAT, 10, "NAD",
		     "release character not followed by a service character");
	{
		const char *m = msg(HEAD "NAD+FL+++O?BRIEN'CNT+42:1'");
		tvs_paxlst *x = NULL;
		tvs_paxlst_error e;

		assert_int_equal(tvs_paxlst_parse(m, strlen(m), NULL, &x, &e), TVS_EFORMAT);
		assert_int_equal(m[e.offset], '?');
		assert_int_equal(e.offset, (size_t)(strstr(m, "O?B") - m) + 1);
	}
}

static void test_multi_message(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("multi.edi");

	assert_int_equal(p->nwarnings, 0);
	assert_int_equal(p->nmanifests, 2);
	assert_int_equal(p->manifests[0].kind, TVS_PAXLST_PASSENGERS);
	assert_string_equal(p->manifests[0].message_ref, "P1");
	assert_int_equal(p->manifests[0].ntravelers, 2);
	assert_string_equal(p->manifests[0].departure_time, "2024-01-05T08:30:00Z"); /* format 203 */
	assert_int_equal(p->manifests[0].travelers[1].role, TVS_PAXLST_TRANSIT_PASSENGER);
	assert_string_equal(p->manifests[0].travelers[1].clearance, "YVR");
	assert_int_equal(p->manifests[1].kind, TVS_PAXLST_CREW);
	assert_string_equal(p->manifests[1].message_ref, "C1");
	assert_int_equal(p->manifests[1].ntravelers, 1);
	assert_string_equal(p->manifests[1].travelers[0].surname, "BROWN");
	assert_string_equal(p->manifests[1].travelers[0].sex, "X");
	assert_int_equal(p->manifests[1].travelers[0].segment, 35);
	tvs_paxlst_free(p);
}

static void test_split_message(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("split.edi");
	const tvs_paxlst_manifest *m = &p->manifests[0];
	static const char *const names[] = { "MARTIN", "DUBOIS", "MULLER", "ROSSI", "GARCIA" };

	assert_int_equal(p->nwarnings, 0);
	assert_int_equal(p->nmanifests, 1);
	assert_int_equal(m->parts, 3);
	assert_string_equal(m->message_ref, "S1");
	assert_string_equal(m->common_access_ref, "DA300/240301");
	assert_int_equal(m->nlegs, 1); /* each part repeats the flight; it is listed once */
	assert_string_equal(m->flight, "DA300");
	assert_string_equal(m->arrival_port, "BOS");
	assert_int_equal(m->ntravelers, 5);
	assert_int_equal(m->declared_total, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(m->travelers[i].surname, names[i]);
	assert_string_equal(m->travelers[4].birth_date, "2001-09-09");
	tvs_paxlst_free(p);
}

/* UNH with 0068 and S010, around the standard body. */
static const char *part(char *out, size_t cap, const char *ref, const char *s010, const char *body)
{
	size_t n = count_segments(body);

	snprintf(out, cap, "UNH+%s+PAXLST:D:05B:UN:IATA+CAR1+%s'%sUNT+%zu+%s'", ref, s010, body, n + 2, ref);
	return out;
}

static void test_split_errors(void **state)
{
	(void)state;
	char a[2048], b[2048], edi[8192];

	/* part 3 where part 2 was due: UNB 1, part 1 is 2..18, part 2's UNH 19 */
	snprintf(edi, sizeof(edi), "UNB+UNOA:4+S+R+230615:0930+R1'%s%sUNZ+2+R1'",
		 part(a, sizeof(a), "A", "01:C", BODY), part(b, sizeof(b), "B", "03:F", BODY));
	expect_error(edi, TVS_EFORMAT, 19, "UNH", "part 3 of split message 'CAR1' where part 2 was due");
	/* a final part that never comes */
	snprintf(edi, sizeof(edi), "UNB+UNOA:4+S+R+230615:0930+R1'%sUNZ+1+R1'", part(a, sizeof(a), "A", "01:C", BODY));
	expect_error(edi, TVS_EFORMAT, 19, "UNZ", "final part (S010 F) never came");
	/* a later part without the first */
	snprintf(edi, sizeof(edi), "UNB+UNOA:4+S+R+230615:0930+R1'%sUNZ+1+R1'", part(a, sizeof(a), "A", "02:F", BODY));
	expect_error(edi, TVS_EFORMAT, 2, "UNH", "without its earlier parts");
	/* parts that name different flights */
	snprintf(edi, sizeof(edi), "UNB+UNOA:4+S+R+230615:0930+R1'%s%sUNZ+2+R1'",
		 part(a, sizeof(a), "A", "01:C", BODY),
		 part(b, sizeof(b), "B", "02:F",
		      "BGM+745'TDT+20+DA999+++DA'NAD+FL+++ROE:JANE'DOC+P+Y1'LOC+91+USA'CNT+42:2'"));
	expect_error(edi, TVS_EFORMAT, 21, "TDT", "part 2 names flight DA DA999 where part 1 named DA DA123");
	/* a bad S010 */
	snprintf(edi, sizeof(edi), "UNB+UNOA:4+S+R+230615:0930+R1'%sUNZ+1+R1'", part(a, sizeof(a), "A", "01:X", BODY));
	expect_error(edi, TVS_EFORMAT, 2, "UNH", "is not C or F");
}

static void test_progressive_flight(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_fixture("progressive.edi");
	const tvs_paxlst_manifest *m = &p->manifests[0];

	assert_int_equal(p->nwarnings, 0);
	assert_int_equal(m->nlegs, 2);
	assert_string_equal(m->legs[0].departure_port, "BCN");
	assert_string_equal(m->legs[0].arrival_port, "IAD");
	assert_string_equal(m->legs[0].arrival_time, "2014-07-08T17:00:00Z");
	assert_string_equal(m->legs[1].departure_port, "IAD");
	assert_string_equal(m->legs[1].arrival_port, "SFO");
	/* no LOC 125/87: first leg's departure, last leg's arrival */
	assert_string_equal(m->departure_port, "BCN");
	assert_string_equal(m->arrival_port, "SFO");
	assert_string_equal(m->arrival_time, "2014-07-08T23:30:00Z");
	assert_string_equal(m->reference, "XZ877TRIP");
	assert_string_equal(m->travelers[0].birth_date, "1968-02-23");
	assert_string_equal(m->travelers[0].docs[0].expiry, "2018-12-30");
	assert_string_equal(tvs_paxlst_direction(m, "SFO"), "entry");
	assert_null(tvs_paxlst_direction(m, "IAD"));
	tvs_paxlst_free(p);
}

/* The WCO guide's example 5.1 lists one passenger with CNT+42:160, the
 * total on board: strict by default, a warning when asked. */
static void test_total_on_board(void **state)
{
	(void)state;
	const char *edi = msg(HEAD DOE "CNT+42:160'");
	tvs_paxlst_config c;
	tvs_paxlst *p = NULL;

	expect_error(edi, TVS_EFORMAT, 17, "CNT", "control total 160 but message 'M1' lists 1 travelers");
	tvs_paxlst_default_config(&c);
	c.count_policy = TVS_PAXLST_COUNT_WARN;
	assert_int_equal(tvs_paxlst_parse(edi, strlen(edi), &c, &p, NULL), 0);
	assert_int_equal(p->manifests[0].declared_total, 160);
	assert_true(has_warning(p, "segment 17 (CNT): control total 160 but message 'M1' lists 1 travelers"));
	tvs_paxlst_free(p);
}

/* ------------------------------------------------------------ malformed input */

static void test_unterminated_segment(void **state)
{
	(void)state;
	static char edi[(1 << 16) + 64];

	snprintf(edi, sizeof(edi), "%s", msg(BODY));
	edi[strlen(edi) - 1] = '\0'; /* drop UNZ's terminator */
	expect_error(edi, TVS_EFORMAT, 19, "UNZ", "unterminated segment at end of input");
	/* in the middle of a tag */
	expect_error("UNB+UNOA:4+S+R+230615:0930+R1'UN", TVS_EFORMAT, 2, "UN", "unterminated segment");
}

static void test_wrong_unt_count(void **state)
{
	(void)state;
	const char *edi = "UNB+UNOA:4+S+R+230615:0930+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'" BODY "UNT+20+M1'UNZ+1+REF1'";

	expect_error(edi, TVS_EFORMAT, 18, "UNT", "segment count 20 but message 'M1' has 17 segments (UNH to UNT)");
}

static void test_cnt_disagrees(void **state)
{
	(void)state;
	expect_error(msg(HEAD DOE "CNT+42:2'"), TVS_EFORMAT, 17, "CNT",
		     "control total 2 but message 'M1' lists 1 travelers");
	expect_error(msg(HEAD DOE "CNT+42:x1'"), TVS_EFORMAT, 17, "CNT", "control total 'x1' is not a number");
}

static void test_unknown_qualifier_warns(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_ok(msg(HEAD "NAD+FL+++DOE:JOHN'ATT+9++M'DTM+999:800101'LOC+555+XXX'NAT+7+USA'"
					  "DOC+P+X1'DTM+37:300101'LOC+92+USA'CNT+99:1'"));
	const tvs_paxlst_traveler *t = &p->manifests[0].travelers[0];

	assert_true(has_warning(p, "segment 11 (ATT): unknown qualifier '9'"));
	assert_true(has_warning(p, "segment 12 (DTM): unknown qualifier '999'"));
	assert_true(has_warning(p, "segment 13 (LOC): unknown qualifier '555'"));
	assert_true(has_warning(p, "segment 14 (NAT): unknown qualifier '7'"));
	assert_true(has_warning(p, "segment 16 (DTM): unknown qualifier '37'"));
	assert_true(has_warning(p, "segment 17 (LOC): unknown qualifier '92'"));
	assert_true(has_warning(p, "segment 18 (CNT): unknown qualifier '99'"));
	assert_string_equal(t->sex, "");
	assert_string_equal(t->birth_date, "");
	assert_string_equal(t->nationality, "");
	assert_int_equal(p->manifests[0].declared_total, -1);
	tvs_paxlst_free(p);

	/* an unknown traveler qualifier skips the group, it is not a traveler */
	p = parse_ok(msg(HEAD "NAD+ZZ+++GHOST'ATT+2++M'DOC+P+G1'" DOE "CNT+42:1'"));
	assert_int_equal(p->manifests[0].ntravelers, 1);
	assert_string_equal(p->manifests[0].travelers[0].surname, "DOE");
	assert_true(has_warning(p, "segment 10 (NAD): unknown qualifier 'ZZ'"));
	tvs_paxlst_free(p);
}

static void test_unknown_segment_warns(void **state)
{
	(void)state;
	tvs_paxlst *p = parse_ok(msg(HEAD "XYZ+1+2'" DOE "ABC'CNT+42:1'"));

	assert_int_equal(p->manifests[0].ntravelers, 1);
	assert_true(has_warning(p, "segment 10 (XYZ): unknown segment tag: ignored"));
	assert_true(has_warning(p, "segment 18 (ABC): unknown segment tag: ignored"));
	tvs_paxlst_free(p);
}

static void test_non_ascii(void **state)
{
	(void)state;
	const char *edi = msg(HEAD "NAD+FL+++M\xc3\x9cLLER:JOHN'CNT+42:1'");
	tvs_paxlst *p = NULL;
	tvs_paxlst_error e;

	expect_error(edi, TVS_EFORMAT, 10, "NAD", "byte 0xC3 is not printable ASCII");
	assert_int_equal(tvs_paxlst_parse(edi, strlen(edi), NULL, &p, &e), TVS_EFORMAT);
	assert_int_equal(e.offset, (size_t)(strchr(edi, '\xc3') - edi));
	/* a control byte, and a NUL */
	expect_error(msg(HEAD "NAD+FL+++DOE\x01'CNT+42:1'"), TVS_EFORMAT, 10, "NAD", "byte 0x01");
	{
		char buf[1024];
		size_t n = strlen(msg(BODY));

		memcpy(buf, msg(BODY), n);
		buf[50] = '\0'; /* in UNH (UNB is bytes 0-43) */
		expect_error_n(buf, n, NULL, TVS_EFORMAT, 2, "UNH", "byte 0x00");
	}
	/* a line break inside a segment (between segments it is fine) */
	expect_error(msg(HEAD "NAD+FL+++DOE\n:JOHN'CNT+42:1'"), TVS_EFORMAT, 10, "NAD", "line break inside a segment");
}

static void test_overlong_segment(void **state)
{
	(void)state;
	char body[8192], *w = body;
	tvs_paxlst *p;

	w += sprintf(w, "%s%sFTX+AAI+++", HEAD, DOE);
	memset(w, 'A', 3100);
	w += 3100;
	sprintf(w, "'CNT+42:1'");
	expect_error(msg(body), TVS_ETOOBIG, 17, "FTX", "segment longer than 3000 bytes");
	/* exactly 3000 bytes before the terminator is fine (FTX+AAI+++ is 10), 3001 is not */
	w = body + sprintf(body, "%s%sFTX+AAI+++", HEAD, DOE);
	memset(w, 'A', 2990);
	sprintf(w + 2990, "'CNT+42:1'");
	p = parse_ok(msg(body));
	tvs_paxlst_free(p);
	memset(w, 'A', 2991);
	sprintf(w + 2991, "'CNT+42:1'");
	expect_error(msg(body), TVS_ETOOBIG, 17, "FTX", "segment longer than 3000 bytes");
	/* raw bytes count, release characters included: 10 + 2988 + "?+" = 3000 */
	memset(w, 'A', 2988);
	sprintf(w + 2988, "?+'CNT+42:1'");
	p = parse_ok(msg(body));
	tvs_paxlst_free(p);
	memset(w, 'A', 2989);
	sprintf(w + 2989, "?+'CNT+42:1'");
	expect_error(msg(body), TVS_ETOOBIG, 17, "FTX", "segment longer than 3000 bytes");
}

/* 100 MB of valid-looking segments: refused on its size, before a pass. */
static void test_100mb_refused(void **state)
{
	(void)state;
	static const char seg[] = "NAD+FL+++DOE:JOHN'ATT+2++M'DOC+P+X1234567'";
	size_t len = (size_t)100 << 20, k = sizeof(seg) - 1;
	char *big = malloc(len);
	struct timespec t0, t1;
	tvs_paxlst *p = (tvs_paxlst *)0x1;
	tvs_paxlst_error e;
	int rc;

	assert_non_null(big);
	memcpy(big, msg(HEAD), strlen(msg(HEAD)));
	for (size_t i = strlen(msg(HEAD)); i < len; i += k)
		memcpy(big + i, seg, len - i < k ? len - i : k);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = tvs_paxlst_parse(big, len, NULL, &p, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rc, TVS_ETOOBIG);
	assert_null(p);
	assert_int_equal(e.segment, 0);
	assert_non_null(strstr(tvs_errmsg(), "PAXLST input of 104857600 bytes exceeds the limit of 16777216 bytes"));
	/* no pass over the data: well under a millisecond, allow 50 ms */
	assert_true((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6 < 50);
	free(big);
}

static void test_empty_input(void **state)
{
	(void)state;
	tvs_paxlst *p = (tvs_paxlst *)0x1;

	expect_error_n("", 0, NULL, TVS_EFORMAT, 0, "", "PAXLST: empty input");
	expect_error_n(NULL, 0, NULL, TVS_EFORMAT, 0, "", "PAXLST: empty input");
	expect_error("\r\n\r\n", TVS_EFORMAT, 0, "", "no segments");
	assert_int_equal(tvs_paxlst_parse("UNB", 3, NULL, NULL, NULL), TVS_EINVAL);
	assert_int_equal(tvs_paxlst_parse(NULL, 3, NULL, &p, NULL), TVS_EINVAL);
	/* an interchange with no message in it */
	expect_error("UNB+UNOA:4+S+R+230615:0930+R1'UNZ+0+R1'", TVS_EFORMAT, 2, "UNZ", "holds no message");
}

static void test_envelope_references(void **state)
{
	(void)state;
	char edi[4096];
	const char *ok = msg(BODY);

	/* UNZ's reference */
	snprintf(edi, sizeof(edi), "%.*sUNZ+1+REF2'", (int)(strlen(ok) - 11), ok);
	expect_error(edi, TVS_EFORMAT, 19, "UNZ", "control reference 'REF2' does not match UNB's 'REF1'");
	/* UNZ's count */
	snprintf(edi, sizeof(edi), "%.*sUNZ+2+REF1'", (int)(strlen(ok) - 11), ok);
	expect_error(edi, TVS_EFORMAT, 19, "UNZ", "control count 2 but the interchange holds 1 messages");
	/* UNT's message reference */
	expect_error("UNB+UNOA:4+S+R+230615:0930+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'" BODY "UNT+17+M2'UNZ+1+REF1'",
		     TVS_EFORMAT, 18, "UNT", "message reference 'M2' does not match UNH's 'M1'");
	/* a group: UNE's count and reference, UNZ counting groups */
	expect_error("UNB+UNOA:4+S+R+230615:0930+REF1'UNG+PAXLST+S+R+230615:0930+G1+UN+D:05B'"
		     "UNH+M1+PAXLST:D:05B:UN:IATA'" BODY "UNT+17+M1'UNE+2+G1'UNZ+1+REF1'",
		     TVS_EFORMAT, 20, "UNE", "message count 2 but the group holds 1 messages");
	expect_error("UNB+UNOA:4+S+R+230615:0930+REF1'UNG+PAXLST+S+R+230615:0930+G1+UN+D:05B'"
		     "UNH+M1+PAXLST:D:05B:UN:IATA'" BODY "UNT+17+M1'UNE+1+G2'UNZ+1+REF1'",
		     TVS_EFORMAT, 20, "UNE", "group reference 'G2' does not match UNG's 'G1'");
	/* groups and bare messages mixed */
	expect_error("UNB+UNOA:4+S+R+230615:0930+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'" BODY "UNT+17+M1'"
		     "UNG+PAXLST+S+R+230615:0930+G1+UN+D:05B'UNE+0+G1'UNZ+2+REF1'",
		     TVS_EFORMAT, 19, "UNG", "groups or messages, not both");
	/* no UNZ */
	snprintf(edi, sizeof(edi), "%.*s", (int)(strlen(ok) - 11), ok);
	expect_error(edi, TVS_EFORMAT, 18, "UNT", "no UNZ, the interchange is truncated");
	/* data after UNZ; trailing line breaks are fine */
	snprintf(edi, sizeof(edi), "%sUNB'", ok);
	expect_error(edi, TVS_EFORMAT, 20, "UNB", "data after UNZ");
	snprintf(edi, sizeof(edi), "%s\r\n\n", ok);
	tvs_paxlst_free(parse_ok(edi));
	/* a missing UNT: the next message's UNH comes first */
	expect_error("UNB+UNOA:4+S+R+230615:0930+REF1'UNH+M1+PAXLST:D:05B:UN:IATA'" BODY
		     "UNH+M2+PAXLST:D:05B:UN:IATA'",
		     TVS_EFORMAT, 18, "UNH", "UNH inside message 'M1': its UNT is missing");
	/* not UNB first; a bad UNB date */
	expect_error("UNH+M1+PAXLST:D:05B:UN:IATA'", TVS_EFORMAT, 1, "UNH", "an interchange starts with UNB");
	expect_error("UNB+UNOA:4+S+R+231315:0930+R1'UNZ+0+R1'", TVS_EFORMAT, 1, "UNB", "is not a valid date");
}

static void test_not_paxlst(void **state)
{
	(void)state;
	expect_error("UNB+UNOA:4+S+R+230615:0930+R1'UNH+M1+CUSRES:D:05B:UN'BGM+962'UNT+3+M1'UNZ+1+R1'",
		     TVS_EUNSUPPORTED, 2, "UNH", "message type 'CUSRES' is not PAXLST");
}

static void test_bad_una(void **state)
{
	(void)state;
	expect_error("UNA:+.?", TVS_EFORMAT, 0, "UNA", "truncated service string advice");
	expect_error("UNA::.? 'UNB+UNOA:4+S+R+230615:0930+R1'", TVS_EFORMAT, 0, "UNA", "must be distinct");
	expect_error("UNA:+x? 'UNB+UNOA:4+S+R+230615:0930+R1'", TVS_EFORMAT, 0, "UNA", "decimal mark");
	expect_error("UNAA+.? 'UNB+UNOA:4+S+R+230615:0930+R1'", TVS_EFORMAT, 0, "UNA", "non-alphanumeric");
	/* a space in the release position: no release character */
	{
		static char edi[(1 << 16) + 64];
		tvs_paxlst *p;

		snprintf(edi, sizeof(edi), "UNA:+.  '%s", msg(HEAD "NAD+FL+++O?BRIEN'DOC+P+X1'LOC+91+IRL'CNT+42:1'"));
		p = parse_ok(edi);
		assert_string_equal(p->manifests[0].travelers[0].surname, "O?BRIEN");
		tvs_paxlst_free(p);
	}
}

static void test_traveler_limits(void **state)
{
	(void)state;
	const char *edi = msg(HEAD DOE DOE DOE "CNT+42:3'");
	tvs_paxlst_config c;

	tvs_paxlst_default_config(&c);
	assert_int_equal(c.max_travelers, 10000);
	assert_int_equal(c.max_input, (size_t)16 << 20);
	c.max_travelers = 2;
	/* the third NAD+FL: segments 10, 17, 24 */
	expect_error_n(edi, strlen(edi), &c, TVS_ETOOBIG, 24, "NAD", "more than 2 travelers in one manifest");
	tvs_paxlst_default_config(&c);
	c.max_total_travelers = 1;
	expect_error_n(edi, strlen(edi), &c, TVS_ETOOBIG, 17, "NAD", "more than 1 travelers in one interchange");
	tvs_paxlst_default_config(&c);
	c.max_input = 100;
	expect_error_n(edi, strlen(edi), &c, TVS_ETOOBIG, 0, "", "exceeds the limit of 100 bytes");
	c.max_input = 0;
	expect_error_n(edi, strlen(edi), &c, TVS_EINVAL, 0, "", "zero limit");
}

static void test_segment_order(void **state)
{
	(void)state;
	expect_error(msg("NAD+MS+++OPS'" BODY), TVS_EFORMAT, 3, "NAD", "BGM must follow UNH");
	expect_error(msg(HEAD DOE "TDT+20+DA124+++DA'CNT+42:1'"), TVS_EFORMAT, 17, "TDT",
		     "TDT is not allowed after the first traveler");
	expect_error(msg(HEAD "NAD+FL+++DOE:JOHN'DOC+P+X1'ATT+2++M'CNT+42:1'"), TVS_EFORMAT, 12, "ATT",
		     "ATT is not allowed after DOC");
	expect_error(msg("BGM+745'NAD+FL+++DOE:JOHN'CNT+42:1'"), TVS_EFORMAT, 4, "NAD", "traveler before any TDT");
	expect_error(msg(HEAD "DOC+P+X1'" DOE "CNT+42:1'"), TVS_EFORMAT, 10, "DOC", "outside a traveler");
	expect_error(msg(BODY "RFF+AVF:X'"), TVS_EFORMAT, 18, "RFF", "RFF after CNT: only UNT may follow CNT");
	expect_error(msg("BGM+745'BGM+745'" HEAD), TVS_EFORMAT, 4, "BGM", "second BGM");
	expect_error(msg("BGM+745'ATT+2++M'" HEAD), TVS_EFORMAT, 4, "ATT", "not allowed in the message header");
	expect_error(msg(HEAD "NAT+2+USA'" DOE), TVS_EFORMAT, 10, "NAT", "in a flight leg");
	expect_error(msg("BGM'" HEAD), TVS_EFORMAT, 3, "BGM", "document name code (1001)");
}

static void test_dates(void **state)
{
	(void)state;
	/* UNB date 2023-06-15: birth years resolve to <= 2023, others within 50 years */
	tvs_paxlst *p = parse_ok(msg(HEAD "NAD+FL+++A'DTM+329:250101'DOC+P+1'DTM+36:991231'DOC+V+2'DTM+36:450101'"
					  "NAD+FL+++B'DTM+329:2306150000:201'DOC+P+3'DTM+36:20300101:102'"
					  "NAD+FL+++C'DTM+329:19991301:102'DOC+P+4'DTM+36:300101:999'"
					  "NAD+FL+++D'DTM+329:000229'DOC+P+5'DTM+36: 310228 '"
					  "NAD+FL+++E'DTM+329:010229'DTM+329:123'CNT+42:5'"));
	const tvs_paxlst_traveler *t = p->manifests[0].travelers;

	assert_string_equal(t[0].birth_date, "1925-01-01");
	assert_string_equal(t[0].docs[0].expiry, "1999-12-31");
	assert_string_equal(t[0].docs[1].expiry, "2045-01-01");
	assert_string_equal(t[1].birth_date, "2023-06-15"); /* 201 with a time: the date is kept */
	assert_string_equal(t[1].docs[0].expiry, "2030-01-01");
	assert_string_equal(t[2].birth_date, "");           /* month 13 */
	assert_string_equal(t[2].docs[0].expiry, "");       /* format 999 */
	assert_string_equal(t[3].birth_date, "2000-02-29"); /* a leap day */
	assert_string_equal(t[3].docs[0].expiry, "2031-02-28");
	assert_string_equal(t[4].birth_date, "");           /* 2001 has no 29 February */
	assert_true(has_warning(p, "'19991301' is not a valid birth date: left empty"));
	assert_true(has_warning(p, "unsupported date/time format code '999'"));
	assert_true(has_warning(p, "'010229' is not a valid birth date"));
	assert_true(has_warning(p, "'123' is not a valid birth date"));
	tvs_paxlst_free(p);

	/* flight times: default formats by length, and a date-only time */
	p = parse_ok(msg("BGM+745'TDT+20+DA1+++DA'LOC+125+FCO'DTM+189:2306151000'LOC+87+JFK'DTM+232:230616:101'"
			 "CNT+42:0'"));
	assert_string_equal(p->manifests[0].departure_time, "2023-06-15T10:00:00Z");
	assert_string_equal(p->manifests[0].arrival_time, "2023-06-16T00:00:00Z");
	assert_true(has_warning(p, "the arrival time has no time of day: midnight assumed"));
	tvs_paxlst_free(p);
	p = parse_ok(msg("BGM+745'TDT+20+DA1+++DA'LOC+125+FCO'DTM+189:2306152460:201'CNT+42:0'"));
	assert_string_equal(p->manifests[0].departure_time, "");
	tvs_paxlst_free(p);
}

static void test_document_codes(void **state)
{
	(void)state;
	static const struct {
		const char *code;
		int kind;
		const char *warning;
	} cases[] = {
		{ "745", TVS_PAXLST_PASSENGERS, NULL },
		{ "250", TVS_PAXLST_CREW, NULL },
		{ "336", TVS_PAXLST_CREW, NULL },
		{ "266", TVS_PAXLST_OTHER, "flight status update" },
		{ "655", TVS_PAXLST_OTHER, "gate pass" },
		{ "999", TVS_PAXLST_OTHER, "unknown document code '999'" },
	};
	tvs_paxlst *p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];

		snprintf(body, sizeof(body), "BGM+%s+CLOB'TDT+20+DA1+++DA'CNT+41:0'", cases[i].code);
		p = parse_ok(msg(body));
		assert_int_equal(p->manifests[0].kind, cases[i].kind);
		assert_string_equal(p->manifests[0].document_id, "CLOB");
		if (cases[i].warning)
			assert_true(has_warning(p, cases[i].warning));
		tvs_paxlst_free(p);
	}
	/* no TDT: accepted (a close-out may carry none), but said */
	p = parse_ok(msg("BGM+266+CL'CNT+42:0'"));
	assert_string_equal(p->manifests[0].flight, "");
	assert_true(has_warning(p, "message 'M1' has no TDT: the manifest names no flight"));
	tvs_paxlst_free(p);
}

static void test_field_limits(void **state)
{
	(void)state;
	char body[4096], name[80];
	tvs_paxlst *p;
	const tvs_paxlst_traveler *t;

	memset(name, 'N', 71);
	name[71] = '\0';
	snprintf(body, sizeof(body),
		 HEAD "NAD+FL+++%s:ANN'ATT+2++Q'DOC+P+1'DOC+V+2'DOC+V+3'DOC+V+4'DOC+V+5'DTM+36:300101'LOC+91+X'"
		      "CNT+42:1'",
		 name);
	p = parse_ok(msg(body));
	t = &p->manifests[0].travelers[0];
	assert_string_equal(t->surname, ""); /* 71 > an..70: empty, not cut */
	assert_string_equal(t->given_names, "ANN");
	assert_string_equal(t->sex, "");
	assert_int_equal(t->ndocs, TVS_PAXLST_MAX_DOCS);
	assert_string_equal(t->docs[3].number, "4");
	assert_string_equal(t->docs[3].expiry, ""); /* the 5th DOC's DTM is not put on the 4th */
	assert_true(has_warning(p, "surname longer than 70 characters: left empty"));
	assert_true(has_warning(p, "'Q' is not a gender code"));
	assert_true(has_warning(p, "more than 4 documents for one traveler: ignored"));
	assert_true(has_warning(p, "traveler without a surname"));
	tvs_paxlst_free(p);

	/* references: unknown qualifiers kept, beyond six ignored */
	p = parse_ok(msg(HEAD "NAD+FL+++DOE'RFF+AVF:1'RFF+ABO:2'RFF+XXX:3'RFF+SEA:4'RFF+CR:5'RFF+AEA:6'RFF+AVF:7'"
			      "CNT+42:1'"));
	t = &p->manifests[0].travelers[0];
	assert_int_equal(t->nrefs, TVS_PAXLST_MAX_REFS);
	assert_string_equal(t->refs[2].qualifier, "XXX");
	assert_true(has_warning(p, "unknown reference qualifier 'XXX': kept"));
	assert_true(has_warning(p, "more than 6 references for one traveler: ignored"));
	tvs_paxlst_free(p);
}

static void test_warnings_capped(void **state)
{
	(void)state;
	char body[8192], *w = body;
	tvs_paxlst *p;

	w += sprintf(w, "%s", HEAD);
	for (int i = 0; i < 150; i++)
		w += sprintf(w, "ZZZ'");
	sprintf(w, "%sCNT+42:1'", DOE);
	p = parse_ok(msg(body));
	assert_int_equal(p->nwarnings, TVS_PAXLST_MAX_WARNINGS);
	assert_int_equal(p->warnings_dropped, 50);
	for (size_t i = 0; i < p->nwarnings; i++)
		assert_non_null(memchr(p->warnings[i], '\0', TVS_PAXLST_WARNING_LEN));
	tvs_paxlst_free(p);
}

static void test_names_and_null(void **state)
{
	(void)state;
	tvs_paxlst_free(NULL);
	assert_null(tvs_paxlst_primary_document(NULL));
	assert_null(tvs_paxlst_direction(NULL, "JFK"));
	assert_string_equal(tvs_paxlst_kind_name(TVS_PAXLST_PASSENGERS), "passengers");
	assert_string_equal(tvs_paxlst_kind_name(42), "unknown");
	assert_string_equal(tvs_paxlst_role_name(TVS_PAXLST_TRANSIT_PASSENGER), "transit_passenger");
	assert_string_equal(tvs_paxlst_role_name(-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passenger_list),
		cmocka_unit_test(test_crew_list),
		cmocka_unit_test(test_custom_una),
		cmocka_unit_test(test_release_characters),
		cmocka_unit_test(test_multi_message),
		cmocka_unit_test(test_split_message),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_progressive_flight),
		cmocka_unit_test(test_total_on_board),
		cmocka_unit_test(test_unterminated_segment),
		cmocka_unit_test(test_wrong_unt_count),
		cmocka_unit_test(test_cnt_disagrees),
		cmocka_unit_test(test_unknown_qualifier_warns),
		cmocka_unit_test(test_unknown_segment_warns),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_overlong_segment),
		cmocka_unit_test(test_100mb_refused),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_envelope_references),
		cmocka_unit_test(test_not_paxlst),
		cmocka_unit_test(test_bad_una),
		cmocka_unit_test(test_traveler_limits),
		cmocka_unit_test(test_segment_order),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_document_codes),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_warnings_capped),
		cmocka_unit_test(test_names_and_null),
	};

	return cmocka_run_group_tests_name("paxlst", tests, NULL, NULL);
}
