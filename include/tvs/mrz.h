/*
 * Machine-readable zones of travel documents (ICAO Doc 9303, parts 3-7):
 * TD1 identity cards (3 x 30), TD2 cards (2 x 36), TD3 passports (2 x 44)
 * and the two visa formats MRV-A (2 x 44) and MRV-B (2 x 36).
 *
 * The lines come from OCR or from a gate device, so they are untrusted: the
 * parser bounds everything, allocates nothing and fills a caller-provided
 * struct of fixed-size strings. It splits the outcome in two:
 *
 *  - The lines are not an MRZ at all (line count, line length, a byte
 *    outside [A-Z0-9<]): TVS_EFORMAT, with where and what in out->error and
 *    tvs_errmsg().
 *  - The lines have an MRZ's shape: 0, every field as printed, every check
 *    digit (expected, found, ok), every field-level problem (a date that is
 *    not a calendar date, a digit in a name) and the OCR warnings. The
 *    document is good only if out->valid.
 *
 * OCR confusions (O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) are flagged with
 * a suggestion and never corrected: the fields hold what was read.
 */
#ifndef TVS_MRZ_H
#define TVS_MRZ_H

#include <stddef.h>

enum tvs_mrz_format {
	TVS_MRZ_UNKNOWN = 0,
	TVS_MRZ_TD1,  /* 3 x 30: identity card */
	TVS_MRZ_TD2,  /* 2 x 36: card, code not starting with V */
	TVS_MRZ_TD3,  /* 2 x 44: passport, code not starting with V */
	TVS_MRZ_MRVA, /* 2 x 44, code starting with V */
	TVS_MRZ_MRVB, /* 2 x 36, code starting with V */
	TVS_MRZ_FORMATS
};

/* Check digits, indexing tvs_mrz.checks. */
enum tvs_mrz_check_id {
	TVS_MRZ_CHECK_NUMBER = 0, /* document number (with a TD1/TD2 long number's overflow) */
	TVS_MRZ_CHECK_BIRTH,
	TVS_MRZ_CHECK_EXPIRY,
	TVS_MRZ_CHECK_OPTIONAL,  /* TD3 personal number (optional data), line 2 position 43 */
	TVS_MRZ_CHECK_COMPOSITE, /* TD1, TD2, TD3; visas have none */
	TVS_MRZ_CHECKS
};

/* What a problem or a warning is about. */
enum tvs_mrz_field {
	TVS_MRZ_F_DOCUMENT_CODE = 0,
	TVS_MRZ_F_ISSUING_STATE,
	TVS_MRZ_F_NUMBER,
	TVS_MRZ_F_NATIONALITY,
	TVS_MRZ_F_BIRTH_DATE,
	TVS_MRZ_F_SEX,
	TVS_MRZ_F_EXPIRY,
	TVS_MRZ_F_OPTIONAL_DATA,   /* TD1 line 1, TD2/TD3/MRV line 2 */
	TVS_MRZ_F_OPTIONAL_DATA_2, /* TD1 line 2 */
	TVS_MRZ_F_NAME,
	TVS_MRZ_F_CHECK_DIGIT,
	TVS_MRZ_FIELDS
};

enum tvs_mrz_warning_kind {
	/* a letter in a numeric field (date, check digit) or a digit in an
	 * alphabetic one (state, nationality, name) */
	TVS_MRZ_WARN_WRONG_CLASS = 0,
	/* in a field where letters and digits are both legal (number, optional
	 * data): reported only when the swap makes a failing check pass */
	TVS_MRZ_WARN_AMBIGUOUS,
};

enum tvs_mrz_error_kind {
	TVS_MRZ_ERR_NONE = 0,
	TVS_MRZ_ERR_LINE_COUNT,  /* expected..expected_alt lines, got */
	TVS_MRZ_ERR_LINE_LENGTH, /* line: expected (or expected_alt) characters, got */
	TVS_MRZ_ERR_CHARACTER,   /* line, column: byte is not in [A-Z0-9<] */
};

#define TVS_MRZ_NUMBER_MAX 23 /* TD1: 9 + 14 overflow characters in the optional data */
#define TVS_MRZ_NAME_MAX 39   /* TD3/MRV-A name field */
#define TVS_MRZ_MAX_PROBLEMS 16
#define TVS_MRZ_MAX_WARNINGS 48

/* A reference date ("today"), proleptic Gregorian; year 1000..9000. */
typedef struct tvs_mrz_ymd {
	int year, month, day;
} tvs_mrz_ymd;

typedef struct tvs_mrz_date {
	char raw[7];          /* YYMMDD as printed */
	char iso[11];         /* YYYY-MM-DD, or "" unless ok and fully known */
	int year, month, day; /* the inferred date; 0 where unknown or unparsable */
	int ok;               /* a calendar date (for a birth date, '<<' parts allowed) */
	int unknown;          /* birth date only: day, month or year printed as '<<' */
} tvs_mrz_date;

typedef struct tvs_mrz_check {
	int present;  /* this format has the check */
	char expected; /* '0'..'9', computed from the covered characters */
	char found;    /* the character in the check-digit position */
	int ok;
	int line, column; /* 1-based position of the check digit */
} tvs_mrz_check;

typedef struct tvs_mrz_problem {
	int field;        /* enum tvs_mrz_field */
	int line, column; /* 1-based, first character concerned */
	char text[80];    /* e.g. "birth date 740230: 1974-02 has no day 30" */
} tvs_mrz_problem;

typedef struct tvs_mrz_warning {
	int kind;         /* enum tvs_mrz_warning_kind */
	int field;        /* enum tvs_mrz_field */
	int line, column; /* 1-based */
	char found;       /* as read (and as kept in the fields) */
	char suggested;   /* what OCR may have misread */
	unsigned fixes;   /* bit (1u << check id) for each failing check that the
			   * suggestion alone would make pass */
} tvs_mrz_warning;

typedef struct tvs_mrz_error {
	int kind;         /* enum tvs_mrz_error_kind */
	int line, column; /* 1-based; 0 when not about one line or column */
	int byte;         /* TVS_MRZ_ERR_CHARACTER: the offending byte, 0..255 */
	int expected;     /* lines (count) or characters (length) */
	int expected_alt; /* the other acceptable value, or 0 */
	size_t got;
} tvs_mrz_error;

typedef struct tvs_mrz {
	int format;          /* enum tvs_mrz_format */
	int nlines, width;   /* 3 x 30, 2 x 36 or 2 x 44 */
	char document_code[3]; /* as printed: "P<", "ID", "V<" */
	char type[3];          /* document_code without fillers: "P", "ID", "V" */
	char issuing_state[4]; /* as printed, fillers kept: "UTO", "D<<" */
	char number[TVS_MRZ_NUMBER_MAX + 1]; /* trailing fillers stripped */
	int long_number;     /* TD1/TD2: the number overflows into the optional data */
	char nationality[4]; /* as printed */
	tvs_mrz_date birth_date, expiry;
	char sex[2];         /* "F", "M", "X" ('<' or 'X' printed), "" if neither */
	char optional_data[17];   /* leading and trailing fillers stripped; after a long
				   * number's overflow and check digit */
	char optional_data_2[12]; /* TD1 line 2 only, same stripping */
	char surname[TVS_MRZ_NAME_MAX + 1];     /* primary identifier, '<' -> ' ' */
	char given_names[TVS_MRZ_NAME_MAX + 1]; /* secondary identifier, '<' -> ' ' */
	int name_truncated;  /* the name field is full: the name may be cut short */
	tvs_mrz_check checks[TVS_MRZ_CHECKS]; /* by enum tvs_mrz_check_id */
	int nproblems;
	tvs_mrz_problem problems[TVS_MRZ_MAX_PROBLEMS];
	int nwarnings;        /* in line, column order */
	int warnings_dropped; /* beyond TVS_MRZ_MAX_WARNINGS */
	tvs_mrz_warning warnings[TVS_MRZ_MAX_WARNINGS];
	int valid;           /* every present check ok and no problem */
	tvs_mrz_error error; /* why TVS_EFORMAT was returned */
} tvs_mrz;

/* The fields of the service's Document object (src/svc/openapi.json),
 * "" where unknown. */
typedef struct tvs_mrz_document {
	char type[3];
	char number[TVS_MRZ_NUMBER_MAX + 1];
	char issuing_state[4];
	char nationality[4];
	char surname[TVS_MRZ_NAME_MAX + 1];
	char given_names[TVS_MRZ_NAME_MAX + 1];
	char birth_date[11]; /* YYYY-MM-DD */
	char sex[2];         /* F, M or X */
	char expiry[11];     /* YYYY-MM-DD */
} tvs_mrz_document;

/* Parse n lines; lines[i] has lens[i] bytes (lens NULL: NUL-terminated).
 * Both arrays are borrowed for the call. today is the reference date for
 * century inference (NULL: the current UTC date). Birth dates take the latest
 * century not after today; expiry dates the century that puts them in
 * [today - 50 years, today + 50 years). Returns 0 with *out filled (see
 * out->valid), TVS_EFORMAT with out->error and tvs_errmsg() set when the
 * lines are not shaped like an MRZ (n == 0 included), or TVS_EINVAL for NULL
 * arguments or an impossible today. Does not allocate. */
int tvs_mrz_parse(const char *const *lines, const size_t *lens, size_t n, const tvs_mrz_ymd *today,
		  tvs_mrz *out);

/* tvs_mrz_parse on text split at '\n', one '\r' before each '\n' and empty
 * lines at the end dropped. text NULL is allowed only with len 0. */
int tvs_mrz_parse_text(const char *text, size_t len, const tvs_mrz_ymd *today, tvs_mrz *out);

/* The 7-3-1 check digit (0..9) of s[0..len), or -1 if s has a byte outside
 * [A-Z0-9<] or is NULL with len > 0. */
int tvs_mrz_check_digit(const char *s, size_t len);

/* Fill *doc from a parsed MRZ (format not UNKNOWN). Copies whatever was read,
 * valid or not: the caller decides whether an invalid MRZ may be used. A
 * TD1 long number may have up to 23 characters, past the service's 20.
 * Returns 0 or TVS_EINVAL. */
int tvs_mrz_make_document(const tvs_mrz *m, tvs_mrz_document *doc);

/* Stable names: "TD1", "MRV-A" ...; "number", "birth_date",
 * "expiry", "optional_data", "composite"; the field names of tvs_mrz;
 * "wrong_class", "ambiguous". Static, never NULL ("unknown" out of range). */
const char *tvs_mrz_format_name(int format);
const char *tvs_mrz_check_name(int check);
const char *tvs_mrz_field_name(int field);
const char *tvs_mrz_warning_kind_name(int kind);

#endif
