/*
 * Unit tests for the MRZ parser (src/doc/mrz.c).
 *
 * The five ICAO 9303 specimens (Utopia, ERIKSSON ANNA MARIA) parse to their
 * published fields. Every single-character corruption of each specimen is
 * then judged against a naive reference written here from the 9303 positions
 * (1-based, as the figures print them), independent of the parser's layout
 * table: a changed check digit fails its check; a changed character under a
 * check fails every check over it unless its value moved by a multiple of 10
 * (7-3-1 cannot see that: A = 10 = '0' + 10, K, U, '<' = 0), and then the
 * checks pass and only a non-digit in a date or an inner filler in the
 * number makes it invalid; positions under no check (code, states, sex,
 * names, visa optional data) leave every check passing and are invalid only
 * for a character their field cannot hold.
 *
 * Then: OCR confusion flags (never corrections), shape errors with their
 * line, column, byte and lengths, century inference at its edges, calendar
 * dates, long document numbers, names, the Document helper and bad
 * arguments. MRZs other than the specimens are built with check digits from
 * the reference (seal()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tvs/error.h"
#include "tvs/mrz.h"

#include <stdio.h>
#include <string.h>

static const tvs_mrz_ymd TODAY = {2025, 6, 1};

/* ------------------------------------------------------------ specimens */

static const char *const TD1[3] = {
	"I<UTOD231458907<<<<<<<<<<<<<<<",
	"7408122F1204159UTO<<<<<<<<<<<6",
	"ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
};
static const char *const TD2[2] = {
	"I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
	"D231458907UTO7408122F1204159<<<<<<<6",
};
static const char *const TD3[2] = {
	"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
	"L898902C36UTO7408122F1204159ZE184226B<<<<<10",
};
static const char *const MRVA[2] = {
	"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
	"L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
};
static const char *const MRVB[2] = {
	"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
	"L8988901C4XXX4009078F9612109<<<<<<<<",
};

/* ------------------------------------------------------------ reference */

/* 1-based line, column, length, as in the 9303 figures. */
struct rspan {
	int line, col, len;
};

struct rcheck {
	int id; /* enum tvs_mrz_check_id; -1 ends the list */
	int dline, dcol;
	struct rspan data[4];
};

struct rformat {
	int format, nlines, width;
	struct rcheck checks[6];
	struct rspan dates[2], number, exempt[6];
};

#define NUMBER_BIRTH_EXPIRY_2LINE                                                                  \
	{TVS_MRZ_CHECK_NUMBER, 2, 10, {{2, 1, 9}}}, {TVS_MRZ_CHECK_BIRTH, 2, 20, {{2, 14, 6}}},    \
		{TVS_MRZ_CHECK_EXPIRY, 2, 28, {{2, 22, 6}}}

static const struct rformat REF[] = {
	{TVS_MRZ_TD1, 3, 30,
	 {{TVS_MRZ_CHECK_NUMBER, 1, 15, {{1, 6, 9}}},
	  {TVS_MRZ_CHECK_BIRTH, 2, 7, {{2, 1, 6}}},
	  {TVS_MRZ_CHECK_EXPIRY, 2, 15, {{2, 9, 6}}},
	  {TVS_MRZ_CHECK_COMPOSITE, 2, 30, {{1, 6, 25}, {2, 1, 7}, {2, 9, 7}, {2, 19, 11}}},
	  {-1, 0, 0, {{0}}}},
	 {{2, 1, 6}, {2, 9, 6}}, {1, 6, 9},
	 /* code+state, sex, nationality, name */
	 {{1, 1, 5}, {2, 8, 1}, {2, 16, 3}, {3, 1, 30}}},
	{TVS_MRZ_TD2, 2, 36,
	 {NUMBER_BIRTH_EXPIRY_2LINE,
	  {TVS_MRZ_CHECK_COMPOSITE, 2, 36, {{2, 1, 10}, {2, 14, 7}, {2, 22, 14}}},
	  {-1, 0, 0, {{0}}}},
	 {{2, 14, 6}, {2, 22, 6}}, {2, 1, 9},
	 {{1, 1, 5}, {1, 6, 31}, {2, 11, 3}, {2, 21, 1}}},
	{TVS_MRZ_TD3, 2, 44,
	 {NUMBER_BIRTH_EXPIRY_2LINE,
	  {TVS_MRZ_CHECK_OPTIONAL, 2, 43, {{2, 29, 14}}},
	  {TVS_MRZ_CHECK_COMPOSITE, 2, 44, {{2, 1, 10}, {2, 14, 7}, {2, 22, 22}}},
	  {-1, 0, 0, {{0}}}},
	 {{2, 14, 6}, {2, 22, 6}}, {2, 1, 9},
	 {{1, 1, 5}, {1, 6, 39}, {2, 11, 3}, {2, 21, 1}}},
	{TVS_MRZ_MRVA, 2, 44,
	 {NUMBER_BIRTH_EXPIRY_2LINE, {-1, 0, 0, {{0}}}},
	 {{2, 14, 6}, {2, 22, 6}}, {2, 1, 9},
	 {{1, 1, 5}, {1, 6, 39}, {2, 11, 3}, {2, 21, 1}, {2, 29, 16}}},
	{TVS_MRZ_MRVB, 2, 36,
	 {NUMBER_BIRTH_EXPIRY_2LINE, {-1, 0, 0, {{0}}}},
	 {{2, 14, 6}, {2, 22, 6}}, {2, 1, 9},
	 {{1, 1, 5}, {1, 6, 31}, {2, 11, 3}, {2, 21, 1}, {2, 29, 8}}},
};

static const struct rformat *ref_of(int format)
{
	for (size_t i = 0; i < sizeof(REF) / sizeof(REF[0]); i++)
		if (REF[i].format == format)
			return &REF[i];
	fail_msg("no reference for format %d", format);
	return NULL;
}

static int rval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 0;
}

/* The naive 7-3-1 digit over a check's spans, weights running on. */
static int ref_digit(char lines[3][48], const struct rcheck *k)
{
	static const int w[3] = {7, 3, 1};
	int sum = 0, n = 0;

	for (int p = 0; p < 4 && k->data[p].len; p++)
		for (int j = 0; j < k->data[p].len; j++, n++)
			sum += rval(lines[k->data[p].line - 1][k->data[p].col - 1 + j]) * w[n % 3];
	return sum % 10;
}

static int in_span(const struct rspan *s, int line, int col)
{
	return s->len && s->line == line && col >= s->col && col < s->col + s->len;
}

static int covers(const struct rcheck *k, int line, int col)
{
	for (int p = 0; p < 4; p++)
		if (in_span(&k->data[p], line, col))
			return 1;
	return 0;
}

/* Recompute every check digit of lines (no long number) with the reference. */
static void seal(int format, char lines[3][48])
{
	const struct rformat *f = ref_of(format);

	for (const struct rcheck *k = f->checks; k->id >= 0; k++)
		lines[k->dline - 1][k->dcol - 1] = (char)('0' + ref_digit(lines, k));
}

static void copy_lines(char dst[3][48], const char *const *src, int n)
{
	memset(dst, 0, 3 * 48);
	for (int i = 0; i < n; i++)
		strcpy(dst[i], src[i]);
}

static int parse_n(tvs_mrz *m, char lines[3][48], int n)
{
	const char *p[3] = {lines[0], lines[1], lines[2]};
	return tvs_mrz_parse(p, NULL, (size_t)n, &TODAY, m);
}

static int parse_src(tvs_mrz *m, const char *const *src, int n)
{
	return tvs_mrz_parse(src, NULL, (size_t)n, &TODAY, m);
}

static void assert_all_checks_ok(const tvs_mrz *m)
{
	for (int i = 0; i < TVS_MRZ_CHECKS; i++)
		if (m->checks[i].present && !m->checks[i].ok)
			fail_msg("check %s failed: expected %c found %c", tvs_mrz_check_name(i), m->checks[i].expected,
				 m->checks[i].found);
}

static const tvs_mrz_warning *warning_at(const tvs_mrz *m, int line, int col)
{
	for (int i = 0; i < m->nwarnings; i++)
		if (m->warnings[i].line == line && m->warnings[i].column == col)
			return &m->warnings[i];
	return NULL;
}

static const tvs_mrz_problem *problem_of(const tvs_mrz *m, int field)
{
	for (int i = 0; i < m->nproblems; i++)
		if (m->problems[i].field == field)
			return &m->problems[i];
	return NULL;
}

#define BIT(k) (1u << (k))

/* ------------------------------------------------------------ specimens */

static void assert_present_checks(const tvs_mrz *m, unsigned want)
{
	for (int i = 0; i < TVS_MRZ_CHECKS; i++)
		assert_int_equal(m->checks[i].present, !!(want & BIT(i)));
}

static void assert_clean(const tvs_mrz *m)
{
	assert_int_equal(m->valid, 1);
	assert_int_equal(m->nproblems, 0);
	assert_int_equal(m->nwarnings, 0);
	assert_all_checks_ok(m);
}

static void test_specimen_td1(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, TD1, 3), 0);
	assert_int_equal(m.format, TVS_MRZ_TD1);
	assert_int_equal(m.nlines, 3);
	assert_int_equal(m.width, 30);
	assert_string_equal(m.document_code, "I<");
	assert_string_equal(m.type, "I");
	assert_string_equal(m.issuing_state, "UTO");
	assert_string_equal(m.number, "D23145890");
	assert_int_equal(m.long_number, 0);
	assert_string_equal(m.nationality, "UTO");
	assert_string_equal(m.birth_date.raw, "740812");
	assert_string_equal(m.birth_date.iso, "1974-08-12");
	assert_string_equal(m.sex, "F");
	assert_string_equal(m.expiry.iso, "2012-04-15");
	assert_string_equal(m.optional_data, "");
	assert_string_equal(m.optional_data_2, "");
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA MARIA");
	assert_int_equal(m.name_truncated, 0);
	assert_present_checks(&m, BIT(TVS_MRZ_CHECK_NUMBER) | BIT(TVS_MRZ_CHECK_BIRTH) | BIT(TVS_MRZ_CHECK_EXPIRY) |
					  BIT(TVS_MRZ_CHECK_COMPOSITE));
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].found, '7');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].line, 1);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].column, 15);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_COMPOSITE].expected, '6');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_COMPOSITE].line, 2);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_COMPOSITE].column, 30);
	assert_clean(&m);
}

static void test_specimen_td2(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, TD2, 2), 0);
	assert_int_equal(m.format, TVS_MRZ_TD2);
	assert_string_equal(m.type, "I");
	assert_string_equal(m.issuing_state, "UTO");
	assert_string_equal(m.number, "D23145890");
	assert_string_equal(m.nationality, "UTO");
	assert_string_equal(m.birth_date.iso, "1974-08-12");
	assert_string_equal(m.sex, "F");
	assert_string_equal(m.expiry.iso, "2012-04-15");
	assert_string_equal(m.optional_data, "");
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA MARIA");
	assert_present_checks(&m, BIT(TVS_MRZ_CHECK_NUMBER) | BIT(TVS_MRZ_CHECK_BIRTH) | BIT(TVS_MRZ_CHECK_EXPIRY) |
					  BIT(TVS_MRZ_CHECK_COMPOSITE));
	assert_int_equal(m.checks[TVS_MRZ_CHECK_COMPOSITE].column, 36);
	assert_clean(&m);
}

static void test_specimen_td3(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, TD3, 2), 0);
	assert_int_equal(m.format, TVS_MRZ_TD3);
	assert_string_equal(m.document_code, "P<");
	assert_string_equal(m.type, "P");
	assert_string_equal(m.issuing_state, "UTO");
	assert_string_equal(m.number, "L898902C3");
	assert_string_equal(m.nationality, "UTO");
	assert_string_equal(m.birth_date.iso, "1974-08-12");
	assert_string_equal(m.sex, "F");
	assert_string_equal(m.expiry.iso, "2012-04-15");
	assert_string_equal(m.optional_data, "ZE184226B");
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA MARIA");
	assert_present_checks(&m, BIT(TVS_MRZ_CHECKS) - 1);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].expected, '6');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_BIRTH].expected, '2');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_EXPIRY].expected, '9');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_OPTIONAL].expected, '1');
	assert_int_equal(m.checks[TVS_MRZ_CHECK_OPTIONAL].column, 43);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_COMPOSITE].expected, '0');
	assert_clean(&m);
}

static void test_specimen_mrva(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, MRVA, 2), 0);
	assert_int_equal(m.format, TVS_MRZ_MRVA);
	assert_string_equal(m.type, "V");
	assert_string_equal(m.issuing_state, "UTO");
	assert_string_equal(m.number, "L8988901C");
	assert_string_equal(m.nationality, "XXX");
	assert_string_equal(m.birth_date.iso, "1940-09-07");
	assert_string_equal(m.sex, "F");
	assert_string_equal(m.expiry.iso, "1996-12-10");
	assert_string_equal(m.optional_data, "6ZE184226B");
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA MARIA");
	assert_present_checks(&m, BIT(TVS_MRZ_CHECK_NUMBER) | BIT(TVS_MRZ_CHECK_BIRTH) | BIT(TVS_MRZ_CHECK_EXPIRY));
	assert_clean(&m);
}

static void test_specimen_mrvb(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, MRVB, 2), 0);
	assert_int_equal(m.format, TVS_MRZ_MRVB);
	assert_string_equal(m.type, "V");
	assert_string_equal(m.number, "L8988901C");
	assert_string_equal(m.nationality, "XXX");
	assert_string_equal(m.birth_date.iso, "1940-09-07");
	assert_string_equal(m.expiry.iso, "1996-12-10");
	assert_string_equal(m.optional_data, "");
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA MARIA");
	assert_present_checks(&m, BIT(TVS_MRZ_CHECK_NUMBER) | BIT(TVS_MRZ_CHECK_BIRTH) | BIT(TVS_MRZ_CHECK_EXPIRY));
	assert_clean(&m);
}

/* The reference agrees with the specimens' printed digits. */
static void test_reference_matches_specimens(void **state)
{
	const struct {
		int format, n;
		const char *const *lines;
	} s[] = {{TVS_MRZ_TD1, 3, TD1}, {TVS_MRZ_TD2, 2, TD2}, {TVS_MRZ_TD3, 2, TD3},
		 {TVS_MRZ_MRVA, 2, MRVA}, {TVS_MRZ_MRVB, 2, MRVB}};
	(void)state;

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		char l[3][48];
		copy_lines(l, s[i].lines, s[i].n);
		for (const struct rcheck *k = ref_of(s[i].format)->checks; k->id >= 0; k++)
			assert_int_equal(l[k->dline - 1][k->dcol - 1], '0' + ref_digit(l, k));
	}
	assert_int_equal(tvs_mrz_check_digit("L898902C3", 9), 6);
	assert_int_equal(tvs_mrz_check_digit("<<<<<<<<<<<<<<", 14), 0);
	assert_int_equal(tvs_mrz_check_digit("", 0), 0);
}

/* ------------------------------------------------------------ corruptions */

static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

static int is_letter(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Could field at exempt span index e hold b at (line, col)? */
static int exempt_char_ok(const struct rformat *f, int line, int col, char b)
{
	if (line == 1 && col == 1)
		return is_letter(b);
	if (line == 2 && col == (f->format == TVS_MRZ_TD1 ? 8 : 21)) /* sex */
		return b == 'F' || b == 'M' || b == 'X' || b == '<';
	if ((f->format == TVS_MRZ_MRVA || f->format == TVS_MRZ_MRVB) && line == 2 && col >= 29)
		return 1; /* visa optional data: no rule */
	return !is_digit(b); /* code, states, names: letters and fillers */
}

/* A filler with a non-filler after it inside the number field. */
static int inner_filler(const char *line, const struct rspan *num)
{
	int seen = 0;

	for (int j = num->len - 1; j >= 0; j--) {
		char c = line[num->col - 1 + j];
		if (c != '<')
			seen = 1;
		else if (seen)
			return 1;
	}
	return 0;
}

static void judge(const struct rformat *f, char l[3][48], int line, int col, char a, char b, const tvs_mrz *m)
{
	const struct rcheck *own = NULL;
	int date = in_span(&f->dates[0], line, col) || in_span(&f->dates[1], line, col);
	int moved = ((rval(b) - rval(a)) % 10 + 10) % 10 != 0, any = 0;

	for (const struct rcheck *k = f->checks; k->id >= 0; k++) {
		const tvs_mrz_check *r = &m->checks[k->id];
		assert_true(r->present);
		assert_int_equal(r->expected, '0' + ref_digit(l, k));
		if (k->dline == line && k->dcol == col) {
			own = k;
			if (r->ok)
				fail_msg("%s line %d col %d %c->%c: check %s passed", tvs_mrz_format_name(f->format),
					 line, col, a, b, tvs_mrz_check_name(k->id));
		} else if (covers(k, line, col)) {
			any = 1;
			if (r->ok == moved)
				fail_msg("%s line %d col %d %c->%c: check %s ok=%d", tvs_mrz_format_name(f->format),
					 line, col, a, b, tvs_mrz_check_name(k->id), r->ok);
		} else {
			assert_true(r->ok);
		}
	}
	if (own) {
		assert_int_equal(m->valid, 0);
	} else if (any) {
		int want = !moved && !(date && !is_digit(b)) &&
			   !(in_span(&f->number, line, col) && inner_filler(l[line - 1], &f->number));
		if (m->valid != want)
			fail_msg("%s line %d col %d %c->%c: valid %d, want %d", tvs_mrz_format_name(f->format), line,
				 col, a, b, m->valid, want);
	} else {
		assert_int_equal(m->valid, exempt_char_ok(f, line, col, b));
	}
}

/* Whether position (line, col) is covered, exempt, or neither (a bug in
 * the reference table). */
static void assert_classified(const struct rformat *f, int line, int col)
{
	int hits = 0;

	for (const struct rcheck *k = f->checks; k->id >= 0; k++)
		hits += (k->dline == line && k->dcol == col) || covers(k, line, col);
	for (int e = 0; e < 6; e++)
		hits += in_span(&f->exempt[e], line, col);
	if (!hits)
		fail_msg("%s line %d col %d: in no class", tvs_mrz_format_name(f->format), line, col);
}

static void corrupt_all(int format, const char *const *src, int n)
{
	const struct rformat *f = ref_of(format);
	char l[3][48];
	tvs_mrz m;
	int runs = 0;

	for (int line = 1; line <= n; line++)
		for (int col = 1; col <= f->width; col++) {
			assert_classified(f, line, col);
			for (const char *b = ALPHABET; *b; b++) {
				char a = src[line - 1][col - 1];
				int want_format = format;

				if (*b == a)
					continue;
				copy_lines(l, src, n);
				l[line - 1][col - 1] = *b;
				assert_int_equal(parse_n(&m, l, n), 0);
				runs++;
				if (line == 1 && col == 1 && f->nlines == 2 && (a == 'V') != (*b == 'V')) {
					/* V switches between the document and the visa of a width */
					want_format = *b == 'V' ? (f->width == 44 ? TVS_MRZ_MRVA : TVS_MRZ_MRVB)
								: (f->width == 44 ? TVS_MRZ_TD3 : TVS_MRZ_TD2);
					assert_int_equal(m.format, want_format);
					continue;
				}
				assert_int_equal(m.format, want_format);
				judge(f, l, line, col, a, *b, &m);
			}
		}
	assert_int_equal(runs, n * f->width * 36);
}

static void test_corrupt_td1(void **state)
{
	(void)state;
	corrupt_all(TVS_MRZ_TD1, TD1, 3);
}

static void test_corrupt_td2(void **state)
{
	(void)state;
	corrupt_all(TVS_MRZ_TD2, TD2, 2);
}

static void test_corrupt_td3(void **state)
{
	(void)state;
	corrupt_all(TVS_MRZ_TD3, TD3, 2);
}

static void test_corrupt_mrva(void **state)
{
	(void)state;
	corrupt_all(TVS_MRZ_MRVA, MRVA, 2);
}

static void test_corrupt_mrvb(void **state)
{
	(void)state;
	corrupt_all(TVS_MRZ_MRVB, MRVB, 2);
}

/* Spot checks of the rule above, spelled out. */
static void test_corrupt_examples(void **state)
{
	char l[3][48];
	tvs_mrz m;
	(void)state;

	/* 8 -> 9 in the TD3 number: number and composite fail */
	copy_lines(l, TD3, 2);
	l[1][1] = '9';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.checks[TVS_MRZ_CHECK_NUMBER].ok);
	assert_false(m.checks[TVS_MRZ_CHECK_COMPOSITE].ok);
	assert_true(m.checks[TVS_MRZ_CHECK_BIRTH].ok);
	assert_false(m.valid);
	assert_string_equal(m.number, "L998902C3"); /* as read */

	/* 0 -> A (10): invisible to 7-3-1, and a legal number */
	copy_lines(l, TD3, 2);
	l[1][5] = 'A';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_all_checks_ok(&m);
	assert_true(m.valid);
	assert_string_equal(m.number, "L8989A2C3");

	/* 0 -> < in a date: the digits still add up, but it is no date */
	copy_lines(l, TD3, 2);
	l[1][15] = '<';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_all_checks_ok(&m);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_BIRTH_DATE));

	/* the TD1 number's check digit -> '<' with nothing overflowing */
	copy_lines(l, TD1, 3);
	l[0][14] = '<';
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_int_equal(m.long_number, 0);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].found, '<');
	assert_false(m.checks[TVS_MRZ_CHECK_NUMBER].ok);
	assert_false(m.valid);
}

/* ------------------------------------------------------------ OCR */

static void test_ocr_letter_in_date(void **state)
{
	char l[3][48];
	const tvs_mrz_warning *w;
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[1][15] = 'O'; /* 740812 -> 74O812 */
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.valid);
	assert_string_equal(m.birth_date.raw, "74O812"); /* not corrected */
	assert_string_equal(m.birth_date.iso, "");
	assert_false(m.birth_date.ok);
	assert_non_null(problem_of(&m, TVS_MRZ_F_BIRTH_DATE));
	assert_int_equal(problem_of(&m, TVS_MRZ_F_BIRTH_DATE)->column, 16);
	assert_int_equal(m.nwarnings, 1);
	w = warning_at(&m, 2, 16);
	assert_non_null(w);
	assert_int_equal(w->kind, TVS_MRZ_WARN_WRONG_CLASS);
	assert_int_equal(w->field, TVS_MRZ_F_BIRTH_DATE);
	assert_int_equal(w->found, 'O');
	assert_int_equal(w->suggested, '0');
	assert_int_equal(w->fixes, BIT(TVS_MRZ_CHECK_BIRTH) | BIT(TVS_MRZ_CHECK_COMPOSITE));
}

/* S/5 and Z/2 in dates, I/1 in a check digit: each flagged in order, each
 * with the checks its suggestion alone would repair. */
static void test_ocr_several(void **state)
{
	char l[3][48];
	const tvs_mrz_warning *w;
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[1][18] = 'Z'; /* birth 740812 -> 74081Z */
	l[1][26] = 'S'; /* expiry 120415 -> 12041S */
	l[1][42] = 'I'; /* personal number digit 1 -> I */
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.valid);
	assert_int_equal(m.nwarnings, 3);
	assert_int_equal(m.warnings[0].column, 19);
	assert_int_equal(m.warnings[0].suggested, '2');
	assert_int_equal(m.warnings[0].fixes, BIT(TVS_MRZ_CHECK_BIRTH));
	assert_int_equal(m.warnings[1].column, 27);
	assert_int_equal(m.warnings[1].suggested, '5');
	assert_int_equal(m.warnings[1].fixes, BIT(TVS_MRZ_CHECK_EXPIRY));
	w = &m.warnings[2];
	assert_int_equal(w->column, 43);
	assert_int_equal(w->field, TVS_MRZ_F_CHECK_DIGIT);
	assert_int_equal(w->suggested, '1');
	/* with I fixed, the Z and S errors cancel in the composite (weights 7
	 * and 3: 7 * 33 + 3 * 23 = 300), so this fix alone makes it pass too */
	assert_int_equal(w->fixes, BIT(TVS_MRZ_CHECK_OPTIONAL) | BIT(TVS_MRZ_CHECK_COMPOSITE));
	assert_string_equal(m.birth_date.raw, "74081Z");
	assert_string_equal(m.expiry.raw, "12041S");
	assert_int_equal(m.checks[TVS_MRZ_CHECK_OPTIONAL].found, 'I');
}

static void test_ocr_digit_in_country_and_name(void **state)
{
	char l[3][48];
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[0][4] = '0'; /* UTO -> UT0 */
	l[0][10] = '0'; /* ERIKSSON -> ERIKS0ON */
	l[1][12] = '0'; /* nationality UTO -> UT0 */
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_all_checks_ok(&m);
	assert_false(m.valid);
	assert_string_equal(m.issuing_state, "UT0");
	assert_string_equal(m.nationality, "UT0");
	assert_string_equal(m.surname, "ERIKS0ON");
	assert_non_null(problem_of(&m, TVS_MRZ_F_ISSUING_STATE));
	assert_non_null(problem_of(&m, TVS_MRZ_F_NATIONALITY));
	assert_non_null(problem_of(&m, TVS_MRZ_F_NAME));
	assert_int_equal(m.nwarnings, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(m.warnings[i].kind, TVS_MRZ_WARN_WRONG_CLASS);
		assert_int_equal(m.warnings[i].found, '0');
		assert_int_equal(m.warnings[i].suggested, 'O');
		assert_int_equal(m.warnings[i].fixes, 0);
	}
	assert_int_equal(m.warnings[0].field, TVS_MRZ_F_ISSUING_STATE);
	assert_int_equal(m.warnings[1].field, TVS_MRZ_F_NAME);
	assert_int_equal(m.warnings[1].column, 11);
	assert_int_equal(m.warnings[2].field, TVS_MRZ_F_NATIONALITY);
	assert_int_equal(m.warnings[2].line, 2);
	assert_int_equal(m.warnings[2].column, 13);
}

/* In the number both B and 8 are legal: mentioned only because B -> 8
 * makes the failing number check pass. */
static void test_ocr_ambiguous_number(void **state)
{
	char l[3][48];
	const tvs_mrz_warning *w;
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[1][1] = 'B'; /* L898902C3 -> LB98902C3 */
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.valid);
	assert_string_equal(m.number, "LB98902C3");
	w = warning_at(&m, 2, 2);
	assert_non_null(w);
	assert_int_equal(w->kind, TVS_MRZ_WARN_AMBIGUOUS);
	assert_int_equal(w->field, TVS_MRZ_F_NUMBER);
	assert_int_equal(w->suggested, '8');
	assert_int_equal(w->fixes, BIT(TVS_MRZ_CHECK_NUMBER) | BIT(TVS_MRZ_CHECK_COMPOSITE));
	/* every ambiguous warning must fix the number check, which is failing */
	for (int i = 0; i < m.nwarnings; i++)
		assert_true(m.warnings[i].fixes & BIT(TVS_MRZ_CHECK_NUMBER));

	/* a passing number gets no ambiguity warning (Z-E and 8 in the data) */
	assert_int_equal(parse_src(&m, TD3, 2), 0);
	assert_int_equal(m.nwarnings, 0);
}

/* Two errors: the number's O is still found though the composite fails
 * for the date's sake too. */
static void test_ocr_two_errors(void **state)
{
	char l[3][48];
	const tvs_mrz_warning *w;
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[1][5] = 'O';  /* L8989O2C3 */
	l[1][15] = 'O'; /* 74O812 */
	assert_int_equal(parse_n(&m, l, 2), 0);
	w = warning_at(&m, 2, 6);
	assert_non_null(w);
	assert_int_equal(w->kind, TVS_MRZ_WARN_AMBIGUOUS);
	assert_int_equal(w->suggested, '0');
	assert_int_equal(w->fixes, BIT(TVS_MRZ_CHECK_NUMBER));
	w = warning_at(&m, 2, 16);
	assert_non_null(w);
	assert_int_equal(w->fixes, BIT(TVS_MRZ_CHECK_BIRTH));
}

static void test_ocr_warning_cap(void **state)
{
	char l[3][48];
	tvs_mrz m;
	(void)state;

	/* 39 digits in the name, 3 in the state, 1 in the code: 43; plus 12
	 * letters in the dates: 55 flags for 48 slots */
	copy_lines(l, TD3, 2);
	memset(l[0] + 1, '0', 43);
	memcpy(l[1] + 13, "OOOOOO", 6);
	memcpy(l[1] + 21, "OOOOOO", 6);
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_int_equal(m.nwarnings, TVS_MRZ_MAX_WARNINGS);
	assert_int_equal(m.warnings_dropped, 55 - TVS_MRZ_MAX_WARNINGS);
	assert_false(m.valid);
}

/* ------------------------------------------------------------ shape errors */

static void test_bad_lengths(void **state)
{
	const char *short2[2] = {TD3[0], "L898902C36UTO7408122F1204159ZE184226B<<<<<1"};
	const char *odd1[2] = {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<", TD3[1]};
	const char *td1bad[3] = {TD1[0], "7408122F1204159UTO<<<<<<<<<<<6<", TD1[2]};
	const char *td1first[3] = {"I<UTOD231458907<<<<<<<<<<<<<<", TD1[1], TD1[2]};
	const char *mixed[2] = {TD3[0], TD2[1]};
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, short2, 2), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_LENGTH);
	assert_int_equal(m.error.line, 2);
	assert_int_equal(m.error.expected, 44);
	assert_int_equal(m.error.got, 43);
	assert_int_equal(m.format, TVS_MRZ_UNKNOWN);
	assert_non_null(strstr(tvs_errmsg(), "line 2"));
	assert_non_null(strstr(tvs_errmsg(), "expected 44"));
	assert_non_null(strstr(tvs_errmsg(), "got 43"));

	assert_int_equal(parse_src(&m, odd1, 2), TVS_EFORMAT);
	assert_int_equal(m.error.line, 1);
	assert_int_equal(m.error.expected, 36);
	assert_int_equal(m.error.expected_alt, 44);
	assert_int_equal(m.error.got, 39);
	assert_non_null(strstr(tvs_errmsg(), "36 or 44"));

	assert_int_equal(parse_src(&m, td1bad, 3), TVS_EFORMAT);
	assert_int_equal(m.error.line, 2);
	assert_int_equal(m.error.expected, 30);
	assert_int_equal(m.error.got, 31);

	assert_int_equal(parse_src(&m, td1first, 3), TVS_EFORMAT);
	assert_int_equal(m.error.line, 1);
	assert_int_equal(m.error.expected, 30);
	assert_int_equal(m.error.got, 29);

	assert_int_equal(parse_src(&m, mixed, 2), TVS_EFORMAT);
	assert_int_equal(m.error.line, 2);
	assert_int_equal(m.error.expected, 44);
	assert_int_equal(m.error.got, 36);
}

static void test_bad_line_count(void **state)
{
	const char *four[4] = {TD1[0], TD1[1], TD1[2], TD1[2]};
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, TD3, 1), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	assert_int_equal(m.error.got, 1);
	assert_int_equal(parse_src(&m, four, 4), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	assert_int_equal(m.error.got, 4);
	/* TD1's first two lines only */
	assert_int_equal(parse_src(&m, TD1, 2), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	assert_int_equal(m.error.expected, 3);
	assert_int_equal(m.error.got, 2);
	assert_non_null(strstr(tvs_errmsg(), "TD1"));
	/* a TD3 with a third line */
	assert_int_equal(parse_src(&m, (const char *const[]){TD3[0], TD3[1], TD3[1]}, 3), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	assert_int_equal(m.error.expected, 2);
}

static void test_empty_input(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(tvs_mrz_parse(NULL, NULL, 0, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	assert_int_equal(m.error.got, 0);
	assert_non_null(strstr(tvs_errmsg(), "empty"));
	assert_int_equal(tvs_mrz_parse_text("", 0, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.got, 0);
	assert_int_equal(tvs_mrz_parse_text(NULL, 0, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(tvs_mrz_parse_text("\n\n\r\n", 4, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.got, 0);
	/* two empty lines: a count of 2, then line 1 has the wrong length */
	assert_int_equal(tvs_mrz_parse((const char *const[]){"", ""}, NULL, 2, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_LENGTH);
	assert_int_equal(m.error.got, 0);
}

static void test_bad_characters(void **state)
{
	char l[3][48];
	size_t lens[2] = {44, 44};
	const char *p[2];
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[0][2] = 'u'; /* lower case */
	assert_int_equal(parse_n(&m, l, 2), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_CHARACTER);
	assert_int_equal(m.error.line, 1);
	assert_int_equal(m.error.column, 3);
	assert_int_equal(m.error.byte, 'u');
	assert_non_null(strstr(tvs_errmsg(), "'u'"));

	copy_lines(l, TD3, 2);
	l[1][40] = ' ';
	assert_int_equal(parse_n(&m, l, 2), TVS_EFORMAT);
	assert_int_equal(m.error.line, 2);
	assert_int_equal(m.error.column, 41);
	assert_int_equal(m.error.byte, ' ');

	/* a NUL inside a line given by length */
	copy_lines(l, TD3, 2);
	l[1][7] = '\0';
	p[0] = l[0], p[1] = l[1];
	assert_int_equal(tvs_mrz_parse(p, lens, 2, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.column, 8);
	assert_int_equal(m.error.byte, 0);

	/* non-ASCII: the UTF-8 of E-acute in a name, and a lone 0xFF */
	copy_lines(l, TD3, 2);
	l[0][7] = (char)0xC3;
	l[0][8] = (char)0x89;
	assert_int_equal(parse_n(&m, l, 2), TVS_EFORMAT);
	assert_int_equal(m.error.line, 1);
	assert_int_equal(m.error.column, 8);
	assert_int_equal(m.error.byte, 0xC3);
	assert_non_null(strstr(tvs_errmsg(), "0xC3"));
	assert_non_null(strstr(tvs_errmsg(), "not ASCII"));
	copy_lines(l, TD1, 3);
	l[2][29] = (char)0xFF;
	assert_int_equal(parse_n(&m, l, 3), TVS_EFORMAT);
	assert_int_equal(m.error.line, 3);
	assert_int_equal(m.error.column, 30);
	assert_int_equal(m.error.byte, 0xFF);

	/* a trailing space on an otherwise good line: the byte, not the length */
	copy_lines(l, TD3, 2);
	strcat(l[1], " ");
	assert_int_equal(parse_n(&m, l, 2), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_CHARACTER);
	assert_int_equal(m.error.column, 45);
}

/* A huge line is refused on its length after a bounded scan. */
static void test_huge_line(void **state)
{
	static char big[1 << 20];
	const char *p[2] = {TD3[0], big};
	tvs_mrz m;
	(void)state;

	memset(big, '<', sizeof(big) - 1);
	assert_int_equal(tvs_mrz_parse(p, NULL, 2, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_LENGTH);
	assert_int_equal(m.error.got, sizeof(big) - 1);
}

static void test_parse_text(void **state)
{
	char buf[256];
	tvs_mrz m;
	(void)state;

	snprintf(buf, sizeof(buf), "%s\r\n%s\r\n\n", TD3[0], TD3[1]);
	assert_int_equal(tvs_mrz_parse_text(buf, strlen(buf), &TODAY, &m), 0);
	assert_true(m.valid);
	assert_string_equal(m.number, "L898902C3");
	snprintf(buf, sizeof(buf), "%s\n%s\n%s", TD1[0], TD1[1], TD1[2]);
	assert_int_equal(tvs_mrz_parse_text(buf, strlen(buf), &TODAY, &m), 0);
	assert_int_equal(m.format, TVS_MRZ_TD1);
	/* a lone CR does not end a line */
	snprintf(buf, sizeof(buf), "%s\r%s", TD3[0], TD3[1]);
	assert_int_equal(tvs_mrz_parse_text(buf, strlen(buf), &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_COUNT);
	/* five lines are counted, not stored */
	assert_int_equal(tvs_mrz_parse_text("A\nB\nC\nD\nE\n", 10, &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.got, 5);
	/* an empty line inside is kept (and is too short) */
	snprintf(buf, sizeof(buf), "%s\n\n%s", TD1[0], TD1[2]);
	assert_int_equal(tvs_mrz_parse_text(buf, strlen(buf), &TODAY, &m), TVS_EFORMAT);
	assert_int_equal(m.error.kind, TVS_MRZ_ERR_LINE_LENGTH);
	assert_int_equal(m.error.line, 2);
}

/* ------------------------------------------------------------ dates */

/* A TD3 with the given birth and expiry, check digits sealed. */
static int parse_td3_dates(tvs_mrz *m, const char *birth, const char *expiry, const tvs_mrz_ymd *today)
{
	char l[3][48];
	const char *p[2] = {l[0], l[1]};

	copy_lines(l, TD3, 2);
	memcpy(l[1] + 13, birth, 6);
	memcpy(l[1] + 21, expiry, 6);
	seal(TVS_MRZ_TD3, l);
	return tvs_mrz_parse(p, NULL, 2, today, m);
}

static void test_century_birth(void **state)
{
	tvs_mrz m;
	(void)state;

	/* born today: this century; born tomorrow's date: the last one */
	assert_int_equal(parse_td3_dates(&m, "250601", "300101", &TODAY), 0);
	assert_string_equal(m.birth_date.iso, "2025-06-01");
	assert_int_equal(parse_td3_dates(&m, "250602", "300101", &TODAY), 0);
	assert_string_equal(m.birth_date.iso, "1925-06-02");
	assert_int_equal(parse_td3_dates(&m, "000101", "300101", &TODAY), 0);
	assert_string_equal(m.birth_date.iso, "2000-01-01");
	assert_int_equal(parse_td3_dates(&m, "991231", "300101", &TODAY), 0);
	assert_string_equal(m.birth_date.iso, "1999-12-31");
	assert_true(m.valid);
	/* the reference date moves the boundary */
	assert_int_equal(parse_td3_dates(&m, "740812", "300101", &(tvs_mrz_ymd){1974, 8, 11}), 0);
	assert_string_equal(m.birth_date.iso, "1874-08-12");
	assert_int_equal(parse_td3_dates(&m, "740812", "300101", &(tvs_mrz_ymd){1974, 8, 12}), 0);
	assert_string_equal(m.birth_date.iso, "1974-08-12");
}

static void test_century_expiry(void **state)
{
	tvs_mrz m;
	(void)state;

	/* [2025-06-01 - 50y, 2025-06-01 + 50y) */
	assert_int_equal(parse_td3_dates(&m, "740812", "750531", &TODAY), 0);
	assert_string_equal(m.expiry.iso, "2075-05-31");
	assert_int_equal(parse_td3_dates(&m, "740812", "750601", &TODAY), 0);
	assert_string_equal(m.expiry.iso, "1975-06-01");
	assert_int_equal(parse_td3_dates(&m, "740812", "750531", &(tvs_mrz_ymd){2025, 5, 31}), 0);
	assert_string_equal(m.expiry.iso, "1975-05-31");
	assert_int_equal(parse_td3_dates(&m, "740812", "340101", &TODAY), 0);
	assert_string_equal(m.expiry.iso, "2034-01-01");
	assert_int_equal(parse_td3_dates(&m, "740812", "990101", &TODAY), 0);
	assert_string_equal(m.expiry.iso, "1999-01-01");
	/* around a century turn */
	assert_int_equal(parse_td3_dates(&m, "740812", "010101", &(tvs_mrz_ymd){1990, 1, 1}), 0);
	assert_string_equal(m.expiry.iso, "2001-01-01");
	assert_int_equal(parse_td3_dates(&m, "740812", "980101", &(tvs_mrz_ymd){2060, 1, 1}), 0);
	assert_string_equal(m.expiry.iso, "2098-01-01");
	assert_true(m.valid);
}

static void test_calendar_dates(void **state)
{
	tvs_mrz m;
	(void)state;

	/* 30 February: every check digit right, still invalid */
	assert_int_equal(parse_td3_dates(&m, "740230", "300101", &TODAY), 0);
	assert_all_checks_ok(&m);
	assert_false(m.valid);
	assert_false(m.birth_date.ok);
	assert_string_equal(m.birth_date.iso, "");
	assert_non_null(problem_of(&m, TVS_MRZ_F_BIRTH_DATE));
	assert_int_equal(problem_of(&m, TVS_MRZ_F_BIRTH_DATE)->column, 18);
	assert_non_null(strstr(problem_of(&m, TVS_MRZ_F_BIRTH_DATE)->text, "740230"));

	assert_int_equal(parse_td3_dates(&m, "740812", "300230", &TODAY), 0);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_EXPIRY));

	/* 29 February exists in 2000 (and 2024), not in 1900 (nor 2025) */
	assert_int_equal(parse_td3_dates(&m, "000229", "240229", &TODAY), 0);
	assert_true(m.valid);
	assert_string_equal(m.birth_date.iso, "2000-02-29");
	assert_string_equal(m.expiry.iso, "2024-02-29");
	assert_int_equal(parse_td3_dates(&m, "000229", "300101", &(tvs_mrz_ymd){1999, 6, 1}), 0);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_BIRTH_DATE));
	assert_int_equal(parse_td3_dates(&m, "740812", "250229", &TODAY), 0);
	assert_false(m.valid);

	/* month 13, month 0, day 0, 31 April */
	assert_int_equal(parse_td3_dates(&m, "741301", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(problem_of(&m, TVS_MRZ_F_BIRTH_DATE)->column, 16);
	assert_int_equal(parse_td3_dates(&m, "740001", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(parse_td3_dates(&m, "740100", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(parse_td3_dates(&m, "740431", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(parse_td3_dates(&m, "740430", "300430", &TODAY), 0);
	assert_true(m.valid);
}

static void test_unknown_birth_parts(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_td3_dates(&m, "74<<<<", "300101", &TODAY), 0);
	assert_true(m.valid);
	assert_true(m.birth_date.unknown);
	assert_int_equal(m.birth_date.year, 1974);
	assert_int_equal(m.birth_date.month, 0);
	assert_string_equal(m.birth_date.iso, "");
	assert_int_equal(parse_td3_dates(&m, "<<<<<<", "300101", &TODAY), 0);
	assert_true(m.valid);
	assert_int_equal(m.birth_date.year, 0);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_BIRTH].found, '0');
	/* only the personal number may have '<' for a digit over fillers */
	{
		char l[3][48];
		copy_lines(l, TD3, 2);
		memcpy(l[1] + 13, "<<<<<<<", 7);
		seal(TVS_MRZ_TD3, l);
		l[1][19] = '<';
		assert_int_equal(parse_n(&m, l, 2), 0);
		assert_false(m.checks[TVS_MRZ_CHECK_BIRTH].ok);
		assert_false(m.valid);
	}
	assert_int_equal(parse_td3_dates(&m, "7408<<", "300101", &TODAY), 0);
	assert_true(m.valid);
	assert_int_equal(m.birth_date.month, 8);
	/* a single filler, or fillers in an expiry, are not dates */
	assert_int_equal(parse_td3_dates(&m, "7408<2", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(problem_of(&m, TVS_MRZ_F_BIRTH_DATE)->column, 18);
	assert_int_equal(parse_td3_dates(&m, "740812", "30<<<<", &TODAY), 0);
	assert_false(m.valid);
	/* an unknown year still rules out 30 February */
	assert_int_equal(parse_td3_dates(&m, "<<0230", "300101", &TODAY), 0);
	assert_false(m.valid);
	assert_int_equal(parse_td3_dates(&m, "<<0229", "300101", &TODAY), 0);
	assert_true(m.valid);
}

static void test_today_default_and_bad(void **state)
{
	tvs_mrz m;
	(void)state;

	/* no reference: the clock (the specimen's dates are valid any day) */
	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, NULL, &m), 0);
	assert_true(m.valid);
	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, &(tvs_mrz_ymd){2025, 2, 29}, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, &(tvs_mrz_ymd){999, 1, 1}, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, &(tvs_mrz_ymd){2025, 13, 1}, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, &(tvs_mrz_ymd){2024, 2, 29}, &m), 0);
}

/* ------------------------------------------------------------ long numbers */

static void test_long_number_td1(void **state)
{
	/* D23145890123: 9 in the field, '<', then "123", its digit, '<', data */
	char l[3][48];
	const struct rcheck comp = {TVS_MRZ_CHECK_COMPOSITE, 2, 30, {{1, 6, 25}, {2, 1, 7}, {2, 9, 7}, {2, 19, 11}}};
	char full[] = "D23145890123";
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD1, 3);
	memcpy(l[0] + 14, "<123", 4);
	l[0][18] = (char)('0' + tvs_mrz_check_digit(full, 12));
	memcpy(l[0] + 19, "<AB12", 5);
	l[1][29] = (char)('0' + ref_digit(l, &comp));
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_true(m.valid);
	assert_int_equal(m.long_number, 1);
	assert_string_equal(m.number, "D23145890123");
	assert_string_equal(m.optional_data, "AB12");
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].line, 1);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].column, 19);
	assert_true(m.checks[TVS_MRZ_CHECK_NUMBER].ok);

	/* an overflow digit changed by a non-multiple of 10: the number check fails */
	l[0][16] = '7';
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_false(m.checks[TVS_MRZ_CHECK_NUMBER].ok);
	assert_false(m.checks[TVS_MRZ_CHECK_COMPOSITE].ok);
	assert_false(m.valid);

	/* one character before the first filler is no overflow: '<' is the digit */
	copy_lines(l, TD1, 3);
	memcpy(l[0] + 14, "<7", 2);
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_int_equal(m.long_number, 0);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].found, '<');
	assert_false(m.checks[TVS_MRZ_CHECK_NUMBER].ok);
}

static void test_long_number_td2(void **state)
{
	char l[3][48];
	const struct rcheck comp = {TVS_MRZ_CHECK_COMPOSITE, 2, 36, {{2, 1, 10}, {2, 14, 7}, {2, 22, 14}}};
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD2, 2);
	l[1][9] = '<';
	memcpy(l[1] + 28, "4567", 4);
	l[1][32] = (char)('0' + tvs_mrz_check_digit("D231458904567", 13));
	l[1][35] = (char)('0' + ref_digit(l, &comp));
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_true(m.valid);
	assert_int_equal(m.long_number, 1);
	assert_string_equal(m.number, "D231458904567");
	assert_string_equal(m.optional_data, "");
	assert_int_equal(m.checks[TVS_MRZ_CHECK_NUMBER].column, 33);
}

static void test_number_fillers(void **state)
{
	char l[3][48];
	tvs_mrz m;
	(void)state;

	/* a short number padded with fillers is fine */
	copy_lines(l, TD3, 2);
	memcpy(l[1], "AB1234<<<", 9);
	seal(TVS_MRZ_TD3, l);
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_true(m.valid);
	assert_string_equal(m.number, "AB1234");
	/* a filler inside is not */
	memcpy(l[1], "AB12<34<<", 9);
	seal(TVS_MRZ_TD3, l);
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_all_checks_ok(&m);
	assert_false(m.valid);
	assert_int_equal(problem_of(&m, TVS_MRZ_F_NUMBER)->column, 5);
	/* nor an empty one */
	memcpy(l[1], "<<<<<<<<<", 9);
	seal(TVS_MRZ_TD3, l);
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_NUMBER));
}

/* ------------------------------------------------------------ fields */

static void test_personal_number_fillers(void **state)
{
	char l[3][48];
	const struct rcheck comp = {TVS_MRZ_CHECK_COMPOSITE, 2, 44, {{2, 1, 10}, {2, 14, 7}, {2, 22, 22}}};
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	memset(l[1] + 28, '<', 15); /* no personal number, digit '<' */
	l[1][43] = (char)('0' + ref_digit(l, &comp));
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_true(m.valid);
	assert_int_equal(m.checks[TVS_MRZ_CHECK_OPTIONAL].found, '<');
	assert_string_equal(m.optional_data, "");
	l[1][42] = '0'; /* or '0' */
	l[1][43] = (char)('0' + ref_digit(l, &comp));
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_true(m.valid);
	l[1][42] = '1';
	l[1][43] = (char)('0' + ref_digit(l, &comp));
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.checks[TVS_MRZ_CHECK_OPTIONAL].ok);
	assert_false(m.valid);
	/* '<' is no digit for a personal number that is there */
	assert_int_equal(parse_src(&m, TD3, 2), 0);
	copy_lines(l, TD3, 2);
	l[1][42] = '<';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_false(m.checks[TVS_MRZ_CHECK_OPTIONAL].ok);
}

static int parse_td1_name(tvs_mrz *m, const char *name)
{
	char l[3][48];

	copy_lines(l, TD1, 3);
	memset(l[2], '<', 30);
	memcpy(l[2], name, strlen(name));
	return parse_n(m, l, 3);
}

static void test_names(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_td1_name(&m, "VAN<DER<BERG<<JAN<PIETER"), 0);
	assert_string_equal(m.surname, "VAN DER BERG");
	assert_string_equal(m.given_names, "JAN PIETER");
	assert_int_equal(m.name_truncated, 0);
	assert_true(m.valid);

	/* one name: the primary identifier */
	assert_int_equal(parse_td1_name(&m, "ERIKSSON"), 0);
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "");

	/* extra fillers collapse */
	assert_int_equal(parse_td1_name(&m, "ERIKSSON<<ANNA<<MARIA"), 0);
	assert_string_equal(m.given_names, "ANNA MARIA");

	/* a full field: truncated */
	assert_int_equal(parse_td1_name(&m, "ABCDEFGHIJKLMNOPQRST<<UVWXYZAB"), 0);
	assert_string_equal(m.surname, "ABCDEFGHIJKLMNOPQRST");
	assert_string_equal(m.given_names, "UVWXYZAB");
	assert_int_equal(m.name_truncated, 1);
	assert_true(m.valid);

	/* no primary identifier; stray fillers trimmed */
	assert_int_equal(parse_td1_name(&m, "<<ANNA"), 0);
	assert_string_equal(m.surname, "");
	assert_string_equal(m.given_names, "ANNA");
	assert_int_equal(parse_td1_name(&m, "<ERIKSSON<<<ANNA"), 0);
	assert_string_equal(m.surname, "ERIKSSON");
	assert_string_equal(m.given_names, "ANNA");

	/* nothing at all */
	assert_int_equal(parse_td1_name(&m, ""), 0);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_NAME));
}

static void test_sex_and_code(void **state)
{
	char l[3][48];
	tvs_mrz m;
	(void)state;

	copy_lines(l, TD3, 2);
	l[1][20] = '<';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_string_equal(m.sex, "X");
	assert_true(m.valid);
	l[1][20] = 'X';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_string_equal(m.sex, "X");
	l[1][20] = 'M';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_string_equal(m.sex, "M");
	l[1][20] = 'Q';
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_string_equal(m.sex, "");
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_SEX));

	copy_lines(l, TD1, 3);
	memcpy(l[0], "ID", 2);
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_string_equal(m.type, "ID");
	assert_true(m.valid);
	l[0][0] = '<';
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_false(m.valid);
	assert_non_null(problem_of(&m, TVS_MRZ_F_DOCUMENT_CODE));
	l[0][0] = '1';
	assert_int_equal(parse_n(&m, l, 3), 0);
	assert_false(m.valid);
	assert_non_null(warning_at(&m, 1, 1));
	assert_int_equal(warning_at(&m, 1, 1)->suggested, 'I');

	/* fillers in a country code are part of it (Germany is D<<) */
	copy_lines(l, TD3, 2);
	memcpy(l[0] + 2, "D<<", 3);
	memcpy(l[1] + 10, "D<<", 3);
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_true(m.valid);
	assert_string_equal(m.issuing_state, "D<<");
}

static void test_document(void **state)
{
	tvs_mrz m;
	tvs_mrz_document d;
	char l[3][48];
	(void)state;

	assert_int_equal(parse_src(&m, TD1, 3), 0);
	assert_int_equal(tvs_mrz_make_document(&m, &d), 0);
	assert_string_equal(d.type, "I");
	assert_string_equal(d.number, "D23145890");
	assert_string_equal(d.issuing_state, "UTO");
	assert_string_equal(d.nationality, "UTO");
	assert_string_equal(d.surname, "ERIKSSON");
	assert_string_equal(d.given_names, "ANNA MARIA");
	assert_string_equal(d.birth_date, "1974-08-12");
	assert_string_equal(d.sex, "F");
	assert_string_equal(d.expiry, "2012-04-15");

	copy_lines(l, TD3, 2);
	l[1][20] = '<';
	assert_int_equal(parse_td3_dates(&m, "74<<<<", "300101", &TODAY), 0);
	assert_int_equal(tvs_mrz_make_document(&m, &d), 0);
	assert_string_equal(d.birth_date, "");
	assert_string_equal(d.expiry, "2030-01-01");
	assert_int_equal(parse_n(&m, l, 2), 0);
	assert_int_equal(tvs_mrz_make_document(&m, &d), 0);
	assert_string_equal(d.sex, "X");
}

/* ------------------------------------------------------------ arguments */

static void test_null_arguments(void **state)
{
	tvs_mrz m;
	tvs_mrz_document d;
	const char *holes[2] = {TD3[0], NULL};
	(void)state;

	assert_int_equal(tvs_mrz_parse(TD3, NULL, 2, &TODAY, NULL), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse(NULL, NULL, 2, &TODAY, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse(holes, NULL, 2, &TODAY, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse_text(NULL, 5, &TODAY, &m), TVS_EINVAL);
	assert_int_equal(tvs_mrz_parse_text("x", 1, &TODAY, NULL), TVS_EINVAL);
	assert_int_equal(tvs_mrz_make_document(NULL, &d), TVS_EINVAL);
	assert_int_equal(parse_src(&m, TD3, 2), 0);
	assert_int_equal(tvs_mrz_make_document(&m, NULL), TVS_EINVAL);
	memset(&m, 0, sizeof(m));
	assert_int_equal(tvs_mrz_make_document(&m, &d), TVS_EINVAL);
	assert_int_equal(tvs_mrz_check_digit(NULL, 1), -1);
	assert_int_equal(tvs_mrz_check_digit(NULL, 0), 0);
	assert_int_equal(tvs_mrz_check_digit("ab", 2), -1);
	assert_string_equal(tvs_mrz_format_name(TVS_MRZ_MRVA), "MRV-A");
	assert_string_equal(tvs_mrz_format_name(-1), "unknown");
	assert_string_equal(tvs_mrz_format_name(TVS_MRZ_FORMATS), "unknown");
	assert_string_equal(tvs_mrz_check_name(TVS_MRZ_CHECK_COMPOSITE), "composite");
	assert_string_equal(tvs_mrz_check_name(99), "unknown");
	assert_string_equal(tvs_mrz_field_name(TVS_MRZ_F_BIRTH_DATE), "birth_date");
	assert_string_equal(tvs_mrz_field_name(-3), "unknown");
	assert_string_equal(tvs_mrz_warning_kind_name(TVS_MRZ_WARN_AMBIGUOUS), "ambiguous");
	assert_string_equal(tvs_mrz_warning_kind_name(7), "unknown");
}

/* A failed parse leaves no stale fields from an earlier one. */
static void test_result_reset(void **state)
{
	tvs_mrz m;
	(void)state;

	assert_int_equal(parse_src(&m, TD3, 2), 0);
	assert_int_equal(parse_src(&m, TD3, 1), TVS_EFORMAT);
	assert_int_equal(m.valid, 0);
	assert_int_equal(m.format, TVS_MRZ_UNKNOWN);
	assert_string_equal(m.number, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specimen_td1),
		cmocka_unit_test(test_specimen_td2),
		cmocka_unit_test(test_specimen_td3),
		cmocka_unit_test(test_specimen_mrva),
		cmocka_unit_test(test_specimen_mrvb),
		cmocka_unit_test(test_reference_matches_specimens),
		cmocka_unit_test(test_corrupt_td1),
		cmocka_unit_test(test_corrupt_td2),
		cmocka_unit_test(test_corrupt_td3),
		cmocka_unit_test(test_corrupt_mrva),
		cmocka_unit_test(test_corrupt_mrvb),
		cmocka_unit_test(test_corrupt_examples),
		cmocka_unit_test(test_ocr_letter_in_date),
		cmocka_unit_test(test_ocr_several),
		cmocka_unit_test(test_ocr_digit_in_country_and_name),
		cmocka_unit_test(test_ocr_ambiguous_number),
		cmocka_unit_test(test_ocr_two_errors),
		cmocka_unit_test(test_ocr_warning_cap),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_bad_line_count),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_bad_characters),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_century_birth),
		cmocka_unit_test(test_century_expiry),
		cmocka_unit_test(test_calendar_dates),
		cmocka_unit_test(test_unknown_birth_parts),
		cmocka_unit_test(test_today_default_and_bad),
		cmocka_unit_test(test_long_number_td1),
		cmocka_unit_test(test_long_number_td2),
		cmocka_unit_test(test_number_fillers),
		cmocka_unit_test(test_personal_number_fillers),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sex_and_code),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_result_reset),
	};
	return cmocka_run_group_tests_name("mrz", tests, NULL, NULL);
}
