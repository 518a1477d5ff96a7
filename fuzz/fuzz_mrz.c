/*
 * libFuzzer target: MRZ parsing. The lines come from OCR or a gate device,
 * so any byte string must either parse into a result whose every string is
 * NUL-terminated ASCII from its field's alphabet, whose shape matches its
 * format and whose verdict follows from its checks, or be refused with
 * TVS_EFORMAT and a located error; nothing else, and never a crash.
 *
 * The bytes are split at '\n' and parsed as lines; the same bytes then go
 * through tvs_mrz_parse_text, whose result must equal that of the lines it
 * is documented to see (CR before LF and trailing empty lines dropped).
 * The reference dates are fixed so that runs are reproducible.
 */
#include "tvs/error.h"
#include "tvs/mrz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                   \
	do {                                                                                          \
		if (!(cond))                                                                          \
			abort();                                                                      \
	} while (0)

static int mrz_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '<';
}

enum set { MRZ, NAME, ISO, TEXT };

/* s[0..cap) holds a NUL and, before it, only bytes of set: MRZ characters;
 * NAME: MRZ characters with ' ' for '<'; ISO: digits and '-'; TEXT:
 * printable ASCII. Returns the length. */
static size_t check_str(const char *s, size_t cap, enum set set)
{
	const char *nul = memchr(s, '\0', cap);
	size_t n;

	CHECK(nul);
	n = (size_t)(nul - s);
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		switch (set) {
		case MRZ: CHECK(mrz_char(c)); break;
		case NAME: CHECK((mrz_char(c) && c != '<') || c == ' '); break;
		case ISO: CHECK((c >= '0' && c <= '9') || c == '-'); break;
		case TEXT: CHECK(c >= 0x20 && c < 0x7f); break;
		}
	}
	return n;
}

#define STR(field, set) check_str((field), sizeof(field), (set))

static int expected_width(int format)
{
	switch (format) {
	case TVS_MRZ_TD1: return 30;
	case TVS_MRZ_TD2: case TVS_MRZ_MRVB: return 36;
	case TVS_MRZ_TD3: case TVS_MRZ_MRVA: return 44;
	default: abort();
	}
}

static void check_date(const tvs_mrz_date *d)
{
	size_t n;

	CHECK(STR(d->raw, MRZ) == 6);
	n = STR(d->iso, ISO);
	CHECK(n == 0 || n == 10);
	CHECK(n == 0 || (d->ok && !d->unknown));
	if (n == 10) {
		char want[16];
		snprintf(want, sizeof(want), "%04d-%02d-%02d", d->year, d->month, d->day);
		CHECK(!strcmp(want, d->iso) && d->month >= 1 && d->month <= 12 && d->day >= 1 && d->day <= 31);
	}
}

static void check_strings(const tvs_mrz *m)
{
	tvs_mrz_document doc;

	CHECK(STR(m->document_code, MRZ) == 2);
	STR(m->type, MRZ);
	CHECK(STR(m->issuing_state, MRZ) == 3);
	CHECK(STR(m->nationality, MRZ) == 3);
	STR(m->number, MRZ);
	STR(m->optional_data, MRZ);
	STR(m->optional_data_2, MRZ);
	STR(m->surname, NAME);
	STR(m->given_names, NAME);
	CHECK(STR(m->sex, MRZ) <= 1);
	check_date(&m->birth_date);
	check_date(&m->expiry);
	CHECK(tvs_mrz_make_document(m, &doc) == 0);
	STR(doc.type, MRZ);
	STR(doc.number, MRZ);
	STR(doc.issuing_state, MRZ);
	STR(doc.nationality, MRZ);
	STR(doc.surname, NAME);
	STR(doc.given_names, NAME);
	STR(doc.birth_date, ISO);
	STR(doc.sex, MRZ);
	STR(doc.expiry, ISO);
}

/* Checks, problems and warnings agree with the lines and with valid. */
static void check_verdict(const tvs_mrz *m, const char *const *lines)
{
	int all_ok = 1;
	unsigned failing = 0;

	for (int i = 0; i < TVS_MRZ_CHECKS; i++) {
		const tvs_mrz_check *k = &m->checks[i];
		if (!k->present)
			continue;
		CHECK(k->expected >= '0' && k->expected <= '9');
		CHECK(k->line >= 1 && k->line <= m->nlines && k->column >= 1 && k->column <= m->width);
		CHECK(k->found == lines[k->line - 1][k->column - 1]);
		CHECK(!k->ok || k->found == k->expected || (k->found == '<' && i == TVS_MRZ_CHECK_OPTIONAL));
		if (!k->ok) {
			all_ok = 0;
			failing |= 1u << i;
		}
	}
	CHECK(m->valid == (all_ok && m->nproblems == 0));
	CHECK(m->nproblems >= 0 && m->nproblems <= TVS_MRZ_MAX_PROBLEMS);
	for (int i = 0; i < m->nproblems; i++) {
		const tvs_mrz_problem *p = &m->problems[i];
		CHECK(p->field >= 0 && p->field < TVS_MRZ_FIELDS);
		CHECK(p->line >= 1 && p->line <= m->nlines && p->column >= 1 && p->column <= m->width);
		CHECK(STR(p->text, TEXT) > 0);
	}
	CHECK(m->nwarnings >= 0 && m->nwarnings <= TVS_MRZ_MAX_WARNINGS && m->warnings_dropped >= 0);
	for (int i = 0; i < m->nwarnings; i++) {
		const tvs_mrz_warning *w = &m->warnings[i];
		CHECK(w->line >= 1 && w->line <= m->nlines && w->column >= 1 && w->column <= m->width);
		CHECK(w->found == lines[w->line - 1][w->column - 1]); /* flagged, never corrected */
		CHECK(mrz_char((unsigned char)w->suggested) && w->suggested != w->found);
		CHECK((w->fixes & ~failing) == 0);
		CHECK(w->kind == TVS_MRZ_WARN_WRONG_CLASS || w->kind == TVS_MRZ_WARN_AMBIGUOUS);
		CHECK(w->field >= 0 && w->field < TVS_MRZ_FIELDS);
	}
}

static void check_parsed(const tvs_mrz *m, const char *const *lines, const size_t *lens, size_t n)
{
	CHECK(m->format > TVS_MRZ_UNKNOWN && m->format < TVS_MRZ_FORMATS);
	CHECK(m->error.kind == TVS_MRZ_ERR_NONE);
	CHECK(m->width == expected_width(m->format));
	CHECK((size_t)m->nlines == n && n == (m->format == TVS_MRZ_TD1 ? 3u : 2u));
	for (size_t i = 0; i < n; i++)
		CHECK(lens[i] == (size_t)m->width);
	if (m->format != TVS_MRZ_TD1)
		CHECK((lines[0][0] == 'V') == (m->format == TVS_MRZ_MRVA || m->format == TVS_MRZ_MRVB));
	CHECK(!memcmp(m->document_code, lines[0], 2));
	CHECK(!m->long_number || m->format == TVS_MRZ_TD1 || m->format == TVS_MRZ_TD2);
	check_strings(m);
	check_verdict(m, lines);
}

static void check_refused(const tvs_mrz *m, const char *const *lines, const size_t *lens, size_t n)
{
	const tvs_mrz_error *e = &m->error;

	CHECK(m->format == TVS_MRZ_UNKNOWN && !m->valid);
	CHECK(e->kind != TVS_MRZ_ERR_NONE);
	CHECK(check_str(tvs_errmsg(), 512, TEXT) > 0);
	if (e->kind == TVS_MRZ_ERR_CHARACTER) {
		CHECK(e->line >= 1 && (size_t)e->line <= n && e->column >= 1);
		CHECK((size_t)e->column <= lens[e->line - 1]);
		CHECK((unsigned char)lines[e->line - 1][e->column - 1] == e->byte && !mrz_char(e->byte));
	} else if (e->kind == TVS_MRZ_ERR_LINE_LENGTH) {
		CHECK(e->line >= 1 && (size_t)e->line <= n && lens[e->line - 1] == e->got);
		CHECK(e->got != (size_t)e->expected && (!e->expected_alt || e->got != (size_t)e->expected_alt));
	} else {
		CHECK(e->kind == TVS_MRZ_ERR_LINE_COUNT && e->got == n);
	}
}

/* Reference dates: a usual one and the two ends of the accepted range,
 * where the inferred years reach 0900 and 9049. */
static const tvs_mrz_ymd REFS[] = {{2025, 6, 1}, {1000, 1, 1}, {9000, 12, 31}};

static void parse_and_check(const char *const *lines, const size_t *lens, size_t n, tvs_mrz *m)
{
	tvs_mrz again;

	for (int r = (int)(sizeof(REFS) / sizeof(REFS[0])) - 1; r >= 0; r--) {
		int rc = tvs_mrz_parse(lines, lens, n, &REFS[r], m);

		if (rc == 0)
			check_parsed(m, lines, lens, n);
		else {
			CHECK(rc == TVS_EFORMAT);
			check_refused(m, lines, lens, n);
		}
		/* deterministic, and no uninitialised byte leaks into the result */
		CHECK(tvs_mrz_parse(lines, lens, n, &REFS[r], &again) == rc);
		CHECK(!memcmp(m, &again, sizeof(again)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char **lines;
	size_t *lens, n = 0, start = 0, kept;
	tvs_mrz *a, *b;

	if (size > 4096) /* an MRZ is under 200 bytes; longer inputs only slow the search */
		return 0;
	lines = malloc((size + 1) * sizeof(*lines));
	lens = malloc((size + 1) * sizeof(*lens));
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	if (!lines || !lens || !a || !b)
		abort();
	for (size_t i = 0; i <= size; i++)
		if (i == size || text[i] == '\n') {
			lines[n] = size ? text + start : "";
			lens[n++] = i - start;
			start = i + 1;
		}
	/* an input without a newline is one line; "" is one empty line */
	parse_and_check(lines, lens, n, a);

	/* parse_text sees: CR before LF dropped, empty lines at the end dropped */
	for (size_t i = 0; i + 1 < n; i++)
		if (lens[i] && lines[i][lens[i] - 1] == '\r')
			lens[i]--;
	for (kept = n; kept > 0 && lens[kept - 1] == 0; kept--)
		;
	parse_and_check(lines, lens, kept, a);
	/* a holds the result for REFS[0], the last parsed */
	CHECK(tvs_mrz_parse_text(size ? text : NULL, size, &REFS[0], b) == (a->error.kind ? TVS_EFORMAT : 0));
	CHECK(!memcmp(a, b, sizeof(*a)));

	free(b);
	free(a);
	free(lens);
	free(lines);
	return 0;
}
