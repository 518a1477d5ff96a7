/*
 * ICAO Doc 9303 machine-readable zones: TD1 (part 5), TD2 (part 6), TD3
 * (part 4), MRV-A and MRV-B (part 7), with the check digits of part 3.
 *
 * Shape. Each format is one row of a layout table: where every field and
 * check digit sits (0-based line, column, length). Parsing is table-driven,
 * so adding a format means adding a row, and the positions can be read
 * against the 9303 figures in one place. The lines are copied into a fixed
 * 3 x 44 buffer once their shape is known; nothing is allocated.
 *
 * Two kinds of failure. Input that does not have an MRZ's shape (line
 * count, line length, a byte outside [A-Z0-9<]) is refused with TVS_EFORMAT:
 * no field can be located. Input that has the shape is always parsed in
 * full, even when check digits fail or a date is impossible, because the
 * officer (and the OCR retry logic) needs to see which field is wrong; the
 * verdict is out->valid.
 *
 * Check digits. A check is a list of spans plus the position of its digit;
 * weights 7-3-1 run on across spans (that is how the composite digits are
 * defined). Keeping checks as data lets one evaluator serve the checks
 * themselves and the OCR hints ("would replacing this O by 0 make the
 * failing check pass?"), by substituting one byte and re-evaluating.
 *
 * Long document numbers (TD1, TD2; 9303 part 5/6, note on data element 05):
 * a number longer than 9 characters puts its first 9 in the number field, a
 * filler '<' in the check digit position, and the rest at the start of the
 * optional data followed by the check digit, which covers all of the number.
 * A '<' there with fewer than 2 characters before the first filler of the
 * optional data is no long number: it is a check digit of '<', which fails.
 *
 * Dates are YYMMDD. A birth date takes the latest century that does not put
 * it after today; an expiry date the century that puts it in
 * [today - 50 years, today + 50 years), compared as (year, month, day)
 * tuples, so exactly one century fits. The century is chosen before the
 * calendar check because whether 29 February exists depends on it. A birth
 * date may print an unknown day, month or year as '<<' (9303 part 3 on
 * dates not known); an expiry date may not.
 *
 * OCR. The fields are never corrected. A letter in a numeric position (date,
 * check digit) or a digit in an alphabetic one (code, state, nationality,
 * name) is a problem and a warning with the likely intended character, and
 * with the failing checks the swap alone would make pass. In the number and
 * optional data, where both are legal, a confusable character is mentioned
 * only when the swap makes the narrowest failing check over it pass (the
 * number's own check, not just the composite): evidence, not noise.
 */
#include "tvs/mrz.h"
#include "tvs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAXLINES 3
#define MAXW 44

/* ------------------------------------------------------------ layouts */

/* 0-based line and column; len 0: the format has no such field. */
struct span {
	signed char line, col, len;
};

struct layout {
	int format, nlines, width;
	struct span code, state, name, number, number_cd, nationality, birth, birth_cd, sex, expiry, expiry_cd;
	struct span optional, optional_cd, optional2, composite_cd;
	struct span composite[4];
	int long_number; /* '<' in number_cd may move the number into optional */
};

/* Positions from the 9303 figures (1-based there). */
static const struct layout layouts[TVS_MRZ_FORMATS] = {
	[TVS_MRZ_TD1] = {
		.format = TVS_MRZ_TD1, .nlines = 3, .width = 30,
		.code = {0, 0, 2}, .state = {0, 2, 3}, .number = {0, 5, 9}, .number_cd = {0, 14, 1},
		.optional = {0, 15, 15},
		.birth = {1, 0, 6}, .birth_cd = {1, 6, 1}, .sex = {1, 7, 1}, .expiry = {1, 8, 6},
		.expiry_cd = {1, 14, 1}, .nationality = {1, 15, 3}, .optional2 = {1, 18, 11},
		.composite_cd = {1, 29, 1},
		.composite = {{0, 5, 25}, {1, 0, 7}, {1, 8, 7}, {1, 18, 11}},
		.name = {2, 0, 30}, .long_number = 1,
	},
	[TVS_MRZ_TD2] = {
		.format = TVS_MRZ_TD2, .nlines = 2, .width = 36,
		.code = {0, 0, 2}, .state = {0, 2, 3}, .name = {0, 5, 31},
		.number = {1, 0, 9}, .number_cd = {1, 9, 1}, .nationality = {1, 10, 3},
		.birth = {1, 13, 6}, .birth_cd = {1, 19, 1}, .sex = {1, 20, 1}, .expiry = {1, 21, 6},
		.expiry_cd = {1, 27, 1}, .optional = {1, 28, 7}, .composite_cd = {1, 35, 1},
		.composite = {{1, 0, 10}, {1, 13, 7}, {1, 21, 14}}, .long_number = 1,
	},
	[TVS_MRZ_TD3] = {
		.format = TVS_MRZ_TD3, .nlines = 2, .width = 44,
		.code = {0, 0, 2}, .state = {0, 2, 3}, .name = {0, 5, 39},
		.number = {1, 0, 9}, .number_cd = {1, 9, 1}, .nationality = {1, 10, 3},
		.birth = {1, 13, 6}, .birth_cd = {1, 19, 1}, .sex = {1, 20, 1}, .expiry = {1, 21, 6},
		.expiry_cd = {1, 27, 1}, .optional = {1, 28, 14}, .optional_cd = {1, 42, 1},
		.composite_cd = {1, 43, 1}, .composite = {{1, 0, 10}, {1, 13, 7}, {1, 21, 22}},
	},
	[TVS_MRZ_MRVA] = {
		.format = TVS_MRZ_MRVA, .nlines = 2, .width = 44,
		.code = {0, 0, 2}, .state = {0, 2, 3}, .name = {0, 5, 39},
		.number = {1, 0, 9}, .number_cd = {1, 9, 1}, .nationality = {1, 10, 3},
		.birth = {1, 13, 6}, .birth_cd = {1, 19, 1}, .sex = {1, 20, 1}, .expiry = {1, 21, 6},
		.expiry_cd = {1, 27, 1}, .optional = {1, 28, 16},
	},
	[TVS_MRZ_MRVB] = {
		.format = TVS_MRZ_MRVB, .nlines = 2, .width = 36,
		.code = {0, 0, 2}, .state = {0, 2, 3}, .name = {0, 5, 31},
		.number = {1, 0, 9}, .number_cd = {1, 9, 1}, .nationality = {1, 10, 3},
		.birth = {1, 13, 6}, .birth_cd = {1, 19, 1}, .sex = {1, 20, 1}, .expiry = {1, 21, 6},
		.expiry_cd = {1, 27, 1}, .optional = {1, 28, 8},
	},
};

/* What a position may hold, for the OCR warnings. */
enum cls { CLS_ANY = 0, CLS_ALNUM, CLS_DIGIT, CLS_ALPHA };

struct check_spec {
	struct span part[4];
	struct span digit; /* len 0: no such check */
	int filler_ok;     /* '<' accepted as the digit when every part is fillers */
};

struct ctx {
	char l[MAXLINES][MAXW];
	const struct layout *L;
	struct check_spec spec[TVS_MRZ_CHECKS];
	unsigned char cls[MAXLINES][MAXW];
	unsigned char field[MAXLINES][MAXW];
	tvs_mrz_ymd today;
	tvs_mrz *out;
};

/* ------------------------------------------------------------ characters */

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_letter(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_mrz_char(int c)
{
	return is_digit(c) || is_letter(c) || c == '<';
}

/* 9303 part 3: digits are their value, A..Z 10..35, the filler 0. */
static int char_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (is_letter(c))
		return c - 'A' + 10;
	return 0;
}

/* The digit OCR most likely misread as letter c (OCR-B shapes), or 0. */
static char letter_to_digit(char c)
{
	switch (c) {
	case 'O': case 'Q': case 'D': return '0';
	case 'I': return '1';
	case 'Z': return '2';
	case 'S': return '5';
	case 'G': return '6';
	case 'B': return '8';
	default: return 0;
	}
}

static char digit_to_letter(char c)
{
	switch (c) {
	case '0': return 'O';
	case '1': return 'I';
	case '2': return 'Z';
	case '5': return 'S';
	case '6': return 'G';
	case '8': return 'B';
	default: return 0;
	}
}

int tvs_mrz_check_digit(const char *s, size_t len)
{
	static const int w[3] = {7, 3, 1};
	int sum = 0;

	if (!s && len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_mrz_char((unsigned char)s[i]))
			return -1;
		sum = (sum + char_value(s[i]) * w[i % 3]) % 10;
	}
	return sum;
}

/* ------------------------------------------------------------ names */

const char *tvs_mrz_format_name(int format)
{
	static const char *const names[TVS_MRZ_FORMATS] = {
		[TVS_MRZ_UNKNOWN] = "unknown", [TVS_MRZ_TD1] = "TD1",   [TVS_MRZ_TD2] = "TD2",
		[TVS_MRZ_TD3] = "TD3",         [TVS_MRZ_MRVA] = "MRV-A", [TVS_MRZ_MRVB] = "MRV-B",
	};
	return format >= 0 && format < TVS_MRZ_FORMATS ? names[format] : "unknown";
}

const char *tvs_mrz_check_name(int check)
{
	static const char *const names[TVS_MRZ_CHECKS] = {
		[TVS_MRZ_CHECK_NUMBER] = "number",
		[TVS_MRZ_CHECK_BIRTH] = "birth_date",
		[TVS_MRZ_CHECK_EXPIRY] = "expiry",
		[TVS_MRZ_CHECK_OPTIONAL] = "optional_data",
		[TVS_MRZ_CHECK_COMPOSITE] = "composite",
	};
	return check >= 0 && check < TVS_MRZ_CHECKS ? names[check] : "unknown";
}

const char *tvs_mrz_field_name(int field)
{
	static const char *const names[TVS_MRZ_FIELDS] = {
		[TVS_MRZ_F_DOCUMENT_CODE] = "document_code",
		[TVS_MRZ_F_ISSUING_STATE] = "issuing_state",
		[TVS_MRZ_F_NUMBER] = "number",
		[TVS_MRZ_F_NATIONALITY] = "nationality",
		[TVS_MRZ_F_BIRTH_DATE] = "birth_date",
		[TVS_MRZ_F_SEX] = "sex",
		[TVS_MRZ_F_EXPIRY] = "expiry",
		[TVS_MRZ_F_OPTIONAL_DATA] = "optional_data",
		[TVS_MRZ_F_OPTIONAL_DATA_2] = "optional_data_2",
		[TVS_MRZ_F_NAME] = "name",
		[TVS_MRZ_F_CHECK_DIGIT] = "check_digit",
	};
	return field >= 0 && field < TVS_MRZ_FIELDS ? names[field] : "unknown";
}

const char *tvs_mrz_warning_kind_name(int kind)
{
	switch (kind) {
	case TVS_MRZ_WARN_WRONG_CLASS: return "wrong_class";
	case TVS_MRZ_WARN_AMBIGUOUS: return "ambiguous";
	default: return "unknown";
	}
}

/* ------------------------------------------------------------ dates */

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* (y1, m1, d1) - (y2, m2, d2) as a sign; 0 parts compare equal (unknown). */
static int ymd_cmp(int y1, int m1, int d1, int y2, int m2, int d2)
{
	if (y1 != y2)
		return y1 < y2 ? -1 : 1;
	if (m1 && m2 && m1 != m2)
		return m1 < m2 ? -1 : 1;
	if (m1 && m2 && d1 && d2 && d1 != d2)
		return d1 < d2 ? -1 : 1;
	return 0;
}

static int today_utc(tvs_mrz_ymd *t)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == (time_t)-1 || !gmtime_r(&now, &tm))
		return tvs__err(TVS_EINVAL, "MRZ: cannot read the current date");
	t->year = tm.tm_year + 1900, t->month = tm.tm_mon + 1, t->day = tm.tm_mday;
	return 0;
}

static int today_ok(const tvs_mrz_ymd *t)
{
	return t->year >= 1000 && t->year <= 9000 && t->month >= 1 && t->month <= 12 && t->day >= 1 &&
	       t->day <= days_in_month(t->year, t->month);
}

/* Birth: the latest century not after today. m or d 0: unknown. */
static int birth_year(const tvs_mrz_ymd *t, int yy, int m, int d)
{
	int y = t->year - t->year % 100 + yy;

	if (ymd_cmp(y, m, d, t->year, t->month, t->day) > 0)
		y -= 100;
	return y;
}

/* Expiry: the one century with today - 50y <= date < today + 50y. */
static int expiry_year(const tvs_mrz_ymd *t, int yy, int m, int d)
{
	int base = t->year - t->year % 100 + yy;

	for (int y = base - 100; y <= base + 100; y += 100)
		if (ymd_cmp(y, m, d, t->year - 50, t->month, t->day) >= 0 &&
		    ymd_cmp(y, m, d, t->year + 50, t->month, t->day) < 0)
			return y;
	return base; /* not reached: the window holds exactly one century */
}

static void put_digits(char *dst, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		dst[i] = (char)('0' + v % 10);
}

static void format_iso(char iso[11], int y, int m, int d)
{
	put_digits(iso, y, 4);
	iso[4] = '-';
	put_digits(iso + 5, m, 2);
	iso[7] = '-';
	put_digits(iso + 8, d, 2);
	iso[10] = '\0';
}

/* ------------------------------------------------------------ result helpers */

static const char *at(const struct ctx *c, struct span s)
{
	return &c->l[s.line][s.col];
}

static void problem(struct ctx *c, int field, struct span s, int offset, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Record a problem about field at s.col + offset of line s.line; one per
 * field is enough to make the MRZ invalid and say why. */
static void problem(struct ctx *c, int field, struct span s, int offset, const char *fmt, ...)
{
	tvs_mrz *o = c->out;
	tvs_mrz_problem *p;
	va_list ap;

	if (o->nproblems >= TVS_MRZ_MAX_PROBLEMS)
		return;
	p = &o->problems[o->nproblems++];
	p->field = field;
	p->line = s.line + 1;
	p->column = s.col + offset + 1;
	va_start(ap, fmt);
	vsnprintf(p->text, sizeof(p->text), fmt, ap);
	va_end(ap);
}

/* Copy s to dst (size > s.len), dropping leading and trailing fillers. */
static void copy_stripped(char *dst, const struct ctx *c, struct span s)
{
	const char *p = at(c, s);
	int a = 0, b = s.len;

	while (a < b && p[a] == '<')
		a++;
	while (b > a && p[b - 1] == '<')
		b--;
	memcpy(dst, p + a, (size_t)(b - a));
	dst[b - a] = '\0';
}

static void mark(struct ctx *c, struct span s, enum cls k, int field)
{
	for (int i = 0; i < s.len; i++) {
		c->cls[s.line][s.col + i] = (unsigned char)k;
		c->field[s.line][s.col + i] = (unsigned char)field;
	}
}

/* The first digit of an alphabetic field is a problem (a letter-only code
 * or name cannot hold one); -1 if none. */
static int first_digit(const struct ctx *c, struct span s)
{
	for (int i = 0; i < s.len; i++)
		if (is_digit(at(c, s)[i]))
			return i;
	return -1;
}

static void check_alpha(struct ctx *c, int field, struct span s, const char *what)
{
	int i = first_digit(c, s);

	if (i >= 0)
		problem(c, field, s, i, "%s: '%c' is not a letter", what, at(c, s)[i]);
}

/* ------------------------------------------------------------ fields */

static void parse_code_and_states(struct ctx *c)
{
	const struct layout *L = c->L;
	tvs_mrz *o = c->out;
	const char *code = at(c, L->code);
	int n = 0;

	memcpy(o->document_code, code, 2);
	for (int i = 0; i < 2; i++)
		if (code[i] != '<')
			o->type[n++] = code[i];
	memcpy(o->issuing_state, at(c, L->state), 3);
	memcpy(o->nationality, at(c, L->nationality), 3);
	if (!is_letter(code[0]))
		problem(c, TVS_MRZ_F_DOCUMENT_CODE, L->code, 0, "document code must start with a letter, not '%c'",
			code[0]);
	else
		check_alpha(c, TVS_MRZ_F_DOCUMENT_CODE, L->code, "document code");
	check_alpha(c, TVS_MRZ_F_ISSUING_STATE, L->state, "issuing state");
	check_alpha(c, TVS_MRZ_F_NATIONALITY, L->nationality, "nationality");
}

/* Characters of the optional data before its first filler. */
static int overflow_run(const struct ctx *c)
{
	const char *p = at(c, c->L->optional);
	int n = 0;

	while (n < c->L->optional.len && p[n] != '<')
		n++;
	return n;
}

/* The document number, its check, and the optional data it leaves. */
static void parse_number(struct ctx *c)
{
	const struct layout *L = c->L;
	struct check_spec *k = &c->spec[TVS_MRZ_CHECK_NUMBER];
	struct span opt = L->optional;
	tvs_mrz *o = c->out;
	char num[TVS_MRZ_NUMBER_MAX + 1];
	int run = 0, n, filler = -1;

	k->part[0] = L->number;
	k->digit = L->number_cd;
	memcpy(num, at(c, L->number), 9);
	n = 9;
	if (L->long_number && *at(c, L->number_cd) == '<' && (run = overflow_run(c)) >= 2) {
		k->part[1] = (struct span){opt.line, opt.col, (signed char)(run - 1)};
		k->digit = (struct span){opt.line, (signed char)(opt.col + run - 1), 1};
		memcpy(num + 9, at(c, opt), (size_t)(run - 1));
		n += run - 1;
		mark(c, k->part[1], CLS_ALNUM, TVS_MRZ_F_NUMBER);
		mark(c, k->digit, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
		opt.col = (signed char)(opt.col + run);
		opt.len = (signed char)(opt.len - run);
		o->long_number = 1;
	}
	while (n > 0 && num[n - 1] == '<')
		n--;
	memcpy(o->number, num, (size_t)n);
	o->number[n] = '\0';
	/* fillers only pad the end; the overflow has none, so one inside the
	 * number lies in the 9-character field */
	for (int i = 0; i < n && filler < 0; i++)
		if (num[i] == '<')
			filler = i;
	if (n == 0)
		problem(c, TVS_MRZ_F_NUMBER, L->number, 0, "document number is empty");
	else if (filler >= 0)
		problem(c, TVS_MRZ_F_NUMBER, L->number, filler, "document number has a filler '<' inside it");
	copy_stripped(o->optional_data, c, opt);
	if (L->optional2.len)
		copy_stripped(o->optional_data_2, c, L->optional2);
}

/* Two characters of a date: 0..99, -2 for '<<' (unknown, if allowed), or
 * -1 with *bad the offset of the offending one. */
static int date_pair(const char *p, int allow_unknown, int *bad)
{
	if (is_digit(p[0]) && is_digit(p[1]))
		return (p[0] - '0') * 10 + (p[1] - '0');
	if (allow_unknown && p[0] == '<' && p[1] == '<')
		return -2;
	*bad = is_digit(p[0]) ? 1 : 0;
	return -1;
}

static void parse_date(struct ctx *c, struct span s, int birth, tvs_mrz_date *d)
{
	int field = birth ? TVS_MRZ_F_BIRTH_DATE : TVS_MRZ_F_EXPIRY;
	const char *what = birth ? "birth date" : "expiry date", *p = at(c, s);
	int v[3], bad = 0, y, m, day;

	memcpy(d->raw, p, 6);
	for (int i = 0; i < 3; i++)
		if ((v[i] = date_pair(p + 2 * i, birth, &bad)) == -1) {
			problem(c, field, s, 2 * i + bad, "%s %s: '%c' is not a digit", what, d->raw,
				p[2 * i + bad]);
			return;
		}
	d->unknown = v[0] < 0 || v[1] < 0 || v[2] < 0;
	m = v[1] < 0 ? 0 : v[1];
	day = v[2] < 0 ? 0 : v[2];
	if (v[0] < 0)
		y = 0;
	else
		y = birth ? birth_year(&c->today, v[0], m, day) : expiry_year(&c->today, v[0], m, day);
	if (v[1] >= 0 && (m < 1 || m > 12)) {
		problem(c, field, s, 2, "%s %s: no month %d", what, d->raw, m);
		return;
	}
	/* an unknown year may be a leap year; an unknown month may have 31 days */
	if (v[2] >= 0 && (day < 1 || day > (m ? days_in_month(y ? y : 2000, m) : 31))) {
		if (y)
			problem(c, field, s, 4, "%s %s: %04d-%02d has no day %d", what, d->raw, y, m, day);
		else
			problem(c, field, s, 4, "%s %s: month %02d has no day %d", what, d->raw, m, day);
		return;
	}
	d->year = y, d->month = m, d->day = day;
	d->ok = 1;
	if (!d->unknown)
		format_iso(d->iso, y, m, day);
}

static void parse_sex(struct ctx *c)
{
	char s = *at(c, c->L->sex);

	if (s == 'F' || s == 'M')
		c->out->sex[0] = s;
	else if (s == 'X' || s == '<') /* unspecified */
		c->out->sex[0] = 'X';
	else
		problem(c, TVS_MRZ_F_SEX, c->L->sex, 0, "sex '%c' is not F, M, X or <", s);
}

/* src[0..n) with '<' runs as single spaces, trimmed, into dst. */
static void name_part(char *dst, const char *src, int n)
{
	int k = 0, gap = 0;

	for (int i = 0; i < n; i++) {
		if (src[i] == '<') {
			gap = k > 0;
			continue;
		}
		if (gap)
			dst[k++] = ' ';
		gap = 0;
		dst[k++] = src[i];
	}
	dst[k] = '\0';
}

static void parse_name(struct ctx *c)
{
	struct span s = c->L->name;
	const char *p = at(c, s);
	tvs_mrz *o = c->out;
	int split = -1;

	for (int i = 0; i + 1 < s.len && split < 0; i++)
		if (p[i] == '<' && p[i + 1] == '<')
			split = i;
	if (split < 0) { /* one name only: it is the primary identifier */
		name_part(o->surname, p, s.len);
	} else {
		name_part(o->surname, p, split);
		name_part(o->given_names, p + split + 2, s.len - split - 2);
	}
	/* 9303 truncates long names to the field, leaving no filler at the end */
	o->name_truncated = p[s.len - 1] != '<';
	if (!o->surname[0] && !o->given_names[0])
		problem(c, TVS_MRZ_F_NAME, s, 0, "name field is empty");
	else
		check_alpha(c, TVS_MRZ_F_NAME, s, "name");
}

/* ------------------------------------------------------------ checks */

static int spec_expected(const char l[MAXLINES][MAXW], const struct check_spec *k)
{
	static const int w[3] = {7, 3, 1};
	int sum = 0, i = 0;

	for (int p = 0; p < 4; p++)
		for (int j = 0; j < k->part[p].len; j++, i++)
			sum += char_value(l[k->part[p].line][k->part[p].col + j]) * w[i % 3];
	return sum % 10;
}

static int spec_all_fillers(const char l[MAXLINES][MAXW], const struct check_spec *k)
{
	for (int p = 0; p < 4; p++)
		for (int j = 0; j < k->part[p].len; j++)
			if (l[k->part[p].line][k->part[p].col + j] != '<')
				return 0;
	return 1;
}

static int spec_ok(const char l[MAXLINES][MAXW], const struct check_spec *k)
{
	char found = l[k->digit.line][k->digit.col];

	if (found == '0' + spec_expected(l, k))
		return 1;
	return k->filler_ok && found == '<' && spec_all_fillers(l, k);
}

/* The specs other than the number's (set by parse_number). */
static void build_specs(struct ctx *c)
{
	const struct layout *L = c->L;
	struct check_spec *k = c->spec;

	k[TVS_MRZ_CHECK_BIRTH].part[0] = L->birth;
	k[TVS_MRZ_CHECK_BIRTH].digit = L->birth_cd;
	k[TVS_MRZ_CHECK_EXPIRY].part[0] = L->expiry;
	k[TVS_MRZ_CHECK_EXPIRY].digit = L->expiry_cd;
	if (L->optional_cd.len) {
		/* 9303 part 4: an unused personal number may have '<' as its digit */
		k[TVS_MRZ_CHECK_OPTIONAL].part[0] = L->optional;
		k[TVS_MRZ_CHECK_OPTIONAL].digit = L->optional_cd;
		k[TVS_MRZ_CHECK_OPTIONAL].filler_ok = 1;
	}
	if (L->composite_cd.len) {
		memcpy(k[TVS_MRZ_CHECK_COMPOSITE].part, L->composite, sizeof(L->composite));
		k[TVS_MRZ_CHECK_COMPOSITE].digit = L->composite_cd;
	}
}

static void run_checks(struct ctx *c)
{
	for (int i = 0; i < TVS_MRZ_CHECKS; i++) {
		const struct check_spec *k = &c->spec[i];
		tvs_mrz_check *r = &c->out->checks[i];

		if (!k->digit.len)
			continue;
		r->present = 1;
		r->expected = (char)('0' + spec_expected(c->l, k));
		r->found = c->l[k->digit.line][k->digit.col];
		r->ok = spec_ok(c->l, k);
		r->line = k->digit.line + 1;
		r->column = k->digit.col + 1;
	}
}

static unsigned failing_checks(const tvs_mrz *o)
{
	unsigned m = 0;

	for (int i = 0; i < TVS_MRZ_CHECKS; i++)
		if (o->checks[i].present && !o->checks[i].ok)
			m |= 1u << i;
	return m;
}

/* Failing checks that would pass with sub at (line, col); the byte is put
 * back before returning. */
static unsigned fixes_of(struct ctx *c, int line, int col, char sub, unsigned failing)
{
	char saved = c->l[line][col];
	unsigned m = 0;

	c->l[line][col] = sub;
	for (int i = 0; i < TVS_MRZ_CHECKS; i++)
		if ((failing >> i & 1u) && spec_ok(c->l, &c->spec[i]))
			m |= 1u << i;
	c->l[line][col] = saved;
	return m;
}

/* ------------------------------------------------------------ OCR warnings */

static void warn(struct ctx *c, int kind, int line, int col, char sub, unsigned fixes)
{
	tvs_mrz *o = c->out;
	tvs_mrz_warning *w;

	if (o->nwarnings >= TVS_MRZ_MAX_WARNINGS) {
		o->warnings_dropped++;
		return;
	}
	w = &o->warnings[o->nwarnings++];
	w->kind = kind;
	w->field = c->field[line][col];
	w->line = line + 1;
	w->column = col + 1;
	w->found = c->l[line][col];
	w->suggested = sub;
	w->fixes = fixes;
}

/* The first check in enum order whose parts hold (line, col): the field's
 * own check, the composite only where nothing narrower covers it;
 * TVS_MRZ_CHECKS if none. */
static int narrowest_check(const struct ctx *c, int line, int col)
{
	for (int i = 0; i < TVS_MRZ_CHECKS; i++)
		for (int p = 0; p < 4; p++) {
			struct span s = c->spec[i].part[p];
			if (s.len && s.line == line && col >= s.col && col < s.col + s.len)
				return i;
		}
	return TVS_MRZ_CHECKS;
}

/* Letters in numeric positions and digits in alphabetic ones always; in the
 * number and optional data (both legal) a swap only when it makes the
 * narrowest failing check over that position pass: with several errors in
 * one MRZ, each is still found where its own check points. */
static void scan_confusions(struct ctx *c)
{
	unsigned failing = failing_checks(c->out);

	for (int i = 0; i < c->L->nlines; i++)
		for (int j = 0; j < c->L->width; j++) {
			char ch = c->l[i][j], sub;

			switch (c->cls[i][j]) {
			case CLS_DIGIT:
				if ((sub = letter_to_digit(ch)))
					warn(c, TVS_MRZ_WARN_WRONG_CLASS, i, j, sub, fixes_of(c, i, j, sub, failing));
				break;
			case CLS_ALPHA:
				if ((sub = digit_to_letter(ch)))
					warn(c, TVS_MRZ_WARN_WRONG_CLASS, i, j, sub, fixes_of(c, i, j, sub, failing));
				break;
			case CLS_ALNUM: {
				unsigned own = 1u << narrowest_check(c, i, j), fixes;
				sub = is_digit(ch) ? digit_to_letter(ch) : letter_to_digit(ch);
				if (sub && (failing & own) && ((fixes = fixes_of(c, i, j, sub, failing)) & own))
					warn(c, TVS_MRZ_WARN_AMBIGUOUS, i, j, sub, fixes);
				break;
			}
			default:
				break;
			}
		}
}

/* ------------------------------------------------------------ shape */

static int fail_count(tvs_mrz *o, size_t got, int exp, int alt, const char *why)
{
	o->error.kind = TVS_MRZ_ERR_LINE_COUNT;
	o->error.expected = exp;
	o->error.expected_alt = alt;
	o->error.got = got;
	return tvs__err(TVS_EFORMAT, "MRZ: %s, got %zu", why, got);
}

static int fail_length(tvs_mrz *o, int line, int exp, int alt, size_t got)
{
	o->error.kind = TVS_MRZ_ERR_LINE_LENGTH;
	o->error.line = line;
	o->error.expected = exp;
	o->error.expected_alt = alt;
	o->error.got = got;
	if (alt)
		return tvs__err(TVS_EFORMAT, "MRZ line %d: expected %d or %d characters, got %zu", line, exp, alt,
				got);
	return tvs__err(TVS_EFORMAT, "MRZ line %d: expected %d characters, got %zu", line, exp, got);
}

static int fail_char(tvs_mrz *o, int line, size_t col, unsigned char b)
{
	o->error.kind = TVS_MRZ_ERR_CHARACTER;
	o->error.line = line;
	o->error.column = (int)col;
	o->error.byte = b;
	if (b >= 0x20 && b < 0x7f)
		return tvs__err(TVS_EFORMAT, "MRZ line %d, column %zu: '%c' (0x%02X) is not A-Z, 0-9 or <", line,
				col, b, b);
	return tvs__err(TVS_EFORMAT, "MRZ line %d, column %zu: byte 0x%02X (%s) is not A-Z, 0-9 or <", line,
			col, b, b >= 0x80 ? "not ASCII" : "a control character");
}

/* The layout the lines fit, or TVS_EFORMAT. Bytes are scanned only up to
 * one past the longest line: beyond that the length is wrong anyway, and a
 * huge line costs nothing. */
static int find_layout(const char *const *lines, const size_t *len, size_t n, tvs_mrz *o,
		       const struct layout **L)
{
	int fmt;

	if (n == 0)
		return fail_count(o, n, 2, 3, "empty input: expected 2 or 3 lines");
	if (n == 1 || n > MAXLINES)
		return fail_count(o, n, 2, 3, "expected 2 or 3 lines");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < len[i] && j <= MAXW; j++)
			if (!is_mrz_char((unsigned char)lines[i][j]))
				return fail_char(o, (int)i + 1, j + 1, (unsigned char)lines[i][j]);
	switch (len[0]) {
	case 30:
		if (n != 3)
			return fail_count(o, n, 3, 0, "a 30-character line 1 is TD1, which has 3 lines");
		fmt = TVS_MRZ_TD1;
		break;
	case 36:
	case 44:
		if (n != 2)
			return fail_count(o, n, 2, 0,
					  len[0] == 36 ? "a 36-character line 1 is TD2 or MRV-B, which have 2 lines"
						       : "a 44-character line 1 is TD3 or MRV-A, which have 2 lines");
		fmt = len[0] == 36 ? TVS_MRZ_TD2 : TVS_MRZ_TD3;
		if (lines[0][0] == 'V') /* visas: part 7 */
			fmt = fmt == TVS_MRZ_TD2 ? TVS_MRZ_MRVB : TVS_MRZ_MRVA;
		break;
	default:
		return n == 3 ? fail_length(o, 1, 30, 0, len[0]) : fail_length(o, 1, 36, 44, len[0]);
	}
	*L = &layouts[fmt];
	for (size_t i = 1; i < n; i++)
		if (len[i] != (size_t)(*L)->width)
			return fail_length(o, (int)i + 1, (*L)->width, 0, len[i]);
	return 0;
}

/* ------------------------------------------------------------ parse */

static void mark_layout(struct ctx *c)
{
	const struct layout *L = c->L;

	mark(c, L->code, CLS_ALPHA, TVS_MRZ_F_DOCUMENT_CODE);
	mark(c, L->state, CLS_ALPHA, TVS_MRZ_F_ISSUING_STATE);
	mark(c, L->name, CLS_ALPHA, TVS_MRZ_F_NAME);
	mark(c, L->nationality, CLS_ALPHA, TVS_MRZ_F_NATIONALITY);
	mark(c, L->number, CLS_ALNUM, TVS_MRZ_F_NUMBER);
	mark(c, L->optional, CLS_ALNUM, TVS_MRZ_F_OPTIONAL_DATA);
	mark(c, L->optional2, CLS_ALNUM, TVS_MRZ_F_OPTIONAL_DATA_2);
	mark(c, L->birth, CLS_DIGIT, TVS_MRZ_F_BIRTH_DATE);
	mark(c, L->expiry, CLS_DIGIT, TVS_MRZ_F_EXPIRY);
	mark(c, L->sex, CLS_ANY, TVS_MRZ_F_SEX);
	mark(c, L->number_cd, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
	mark(c, L->birth_cd, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
	mark(c, L->expiry_cd, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
	mark(c, L->optional_cd, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
	mark(c, L->composite_cd, CLS_DIGIT, TVS_MRZ_F_CHECK_DIGIT);
}

static void parse_fields(struct ctx *c)
{
	tvs_mrz *o = c->out;

	o->format = c->L->format;
	o->nlines = c->L->nlines;
	o->width = c->L->width;
	mark_layout(c);
	parse_code_and_states(c);
	parse_number(c); /* may re-mark the optional data as number + check digit */
	parse_date(c, c->L->birth, 1, &o->birth_date);
	parse_sex(c);
	parse_date(c, c->L->expiry, 0, &o->expiry);
	parse_name(c);
	build_specs(c);
	run_checks(c);
	scan_confusions(c);
	o->valid = !failing_checks(o) && o->nproblems == 0;
}

/* Both entry points: len[] holds the lengths of the first min(n, 3) lines;
 * with more than 3 no line is read. */
static int parse(const char *const *lines, const size_t *len, size_t n, const tvs_mrz_ymd *today, tvs_mrz *out)
{
	struct ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	if (today)
		c.today = *today;
	else if ((rc = today_utc(&c.today)) < 0)
		return rc;
	if (!today_ok(&c.today))
		return tvs__err(TVS_EINVAL, "MRZ: reference date %d-%d-%d is not a date in 1000..9000",
				c.today.year, c.today.month, c.today.day);
	rc = find_layout(lines, len, n, out, &c.L);
	if (rc < 0)
		return rc;
	for (int i = 0; i < c.L->nlines; i++)
		memcpy(c.l[i], lines[i], (size_t)c.L->width);
	c.out = out;
	parse_fields(&c);
	return 0;
}

int tvs_mrz_parse(const char *const *lines, const size_t *lens, size_t n, const tvs_mrz_ymd *today,
		  tvs_mrz *out)
{
	size_t len[MAXLINES] = {0};

	if (!out)
		return tvs__err(TVS_EINVAL, "MRZ: NULL result");
	memset(out, 0, sizeof(*out));
	if (n > 0 && !lines)
		return tvs__err(TVS_EINVAL, "MRZ: NULL lines");
	for (size_t i = 0; i < n && i < MAXLINES; i++) {
		if (!lines[i])
			return tvs__err(TVS_EINVAL, "MRZ: line %zu is NULL", i + 1);
		len[i] = lens ? lens[i] : strlen(lines[i]);
	}
	return parse(lines, len, n, today, out);
}

int tvs_mrz_parse_text(const char *text, size_t len, const tvs_mrz_ymd *today, tvs_mrz *out)
{
	const char *line[MAXLINES] = {0};
	size_t lens[MAXLINES] = {0}, n = 0, kept = 0, start = 0;

	if (!out)
		return tvs__err(TVS_EINVAL, "MRZ: NULL result");
	memset(out, 0, sizeof(*out));
	if (!text && len)
		return tvs__err(TVS_EINVAL, "MRZ: NULL text");
	if (!text)
		text = ""; /* no pointer arithmetic on NULL */
	/* lines past the 3rd are only counted: more than 3 is refused anyway */
	for (size_t i = 0; i <= len; i++) {
		size_t end = i;

		if (i < len && text[i] != '\n')
			continue;
		if (i < len && end > start && text[end - 1] == '\r')
			end--;
		if (n < MAXLINES) {
			line[n] = text + start;
			lens[n] = end - start;
		}
		n++;
		if (end > start)
			kept = n; /* empty lines at the end are dropped */
		start = i + 1;
	}
	return parse(line, lens, kept, today, out);
}

/* ------------------------------------------------------------ document */

int tvs_mrz_make_document(const tvs_mrz *m, tvs_mrz_document *doc)
{
	if (!m || !doc || m->format <= TVS_MRZ_UNKNOWN || m->format >= TVS_MRZ_FORMATS)
		return tvs__err(TVS_EINVAL, "MRZ: no parsed MRZ to make a document of");
	memset(doc, 0, sizeof(*doc));
	memcpy(doc->type, m->type, sizeof(doc->type));
	memcpy(doc->number, m->number, sizeof(doc->number));
	memcpy(doc->issuing_state, m->issuing_state, sizeof(doc->issuing_state));
	memcpy(doc->nationality, m->nationality, sizeof(doc->nationality));
	memcpy(doc->surname, m->surname, sizeof(doc->surname));
	memcpy(doc->given_names, m->given_names, sizeof(doc->given_names));
	memcpy(doc->birth_date, m->birth_date.iso, sizeof(doc->birth_date));
	memcpy(doc->sex, m->sex, sizeof(doc->sex));
	memcpy(doc->expiry, m->expiry.iso, sizeof(doc->expiry));
	return 0;
}
