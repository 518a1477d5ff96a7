/*
 * tvs mrz LINE...: parse an ICAO 9303 machine-readable zone (src/doc/mrz.c)
 * and print one JSON object: every field, every check digit, the problems
 * that make it invalid, the OCR warnings, and the service's Document object
 * ("document", the shape of POST bodies in src/svc/openapi.json), so an
 * MRZ read at a desk can be pasted straight into an enrolment.
 *
 * The lines come as arguments or, with "-", from stdin (bounded: an MRZ is
 * under 100 bytes, so anything past MAX_STDIN is not an MRZ).
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/mrz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STDIN 4096

static const char HELP[] =
	"usage: tvs mrz [--today YYYY-MM-DD] LINE...\n"
	"       tvs mrz [--today YYYY-MM-DD] -\n"
	"\n"
	"Parses an ICAO 9303 machine-readable zone: TD1 (3 lines of 30), TD2 (2 x 36),\n"
	"TD3 passports (2 x 44), MRV-A (2 x 44) and MRV-B (2 x 36) visas. The lines are\n"
	"the arguments, or with '-' the lines of stdin. Prints one JSON object: format,\n"
	"valid, the fields (dates as YYYY-MM-DD), checks[{name, expected, found, ok,\n"
	"line, column}], problems[], OCR warnings[{line, column, found, suggested,\n"
	"fixes}] and document (the service's Document object). Characters are never\n"
	"corrected; a suspected OCR confusion is only reported.\n"
	"\n"
	"options:\n"
	"  --today YYYY-MM-DD   reference date for the century of two-digit years\n"
	"                       (default: today, UTC)\n"
	"\n"
	"exit status: 0 a valid MRZ, 1 an invalid or malformed one (the JSON says\n"
	"why), 2 usage error.\n";

static json_t *jstr_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *jchar(char c)
{
	char s[2] = {c, '\0'};
	return json_string(s);
}

static json_t *document_json(const tvs_mrz_document *d, int *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = 1;
		return NULL;
	}
	tvs_cli_jset(o, "type", json_string(d->type), bad);
	tvs_cli_jset(o, "number", json_string(d->number), bad);
	tvs_cli_jset(o, "issuing_state", json_string(d->issuing_state), bad);
	tvs_cli_jset(o, "nationality", json_string(d->nationality), bad);
	tvs_cli_jset(o, "surname", json_string(d->surname), bad);
	tvs_cli_jset(o, "given_names", json_string(d->given_names), bad);
	/* the service's "absent keeps what the store had": leave out the unknown */
	if (d->birth_date[0])
		tvs_cli_jset(o, "birth_date", json_string(d->birth_date), bad);
	if (d->sex[0])
		tvs_cli_jset(o, "sex", json_string(d->sex), bad);
	if (d->expiry[0])
		tvs_cli_jset(o, "expiry", json_string(d->expiry), bad);
	return o;
}

static json_t *checks_json(const tvs_mrz *m, int *bad)
{
	json_t *a = json_array();

	for (int i = 0; a && i < TVS_MRZ_CHECKS; i++) {
		const tvs_mrz_check *k = &m->checks[i];
		if (k->present)
			tvs_cli_jpush(a,
				      json_pack("{s:s,s:o,s:o,s:b,s:i,s:i}", "name", tvs_mrz_check_name(i), "expected",
						jchar(k->expected), "found", jchar(k->found), "ok", k->ok, "line",
						k->line, "column", k->column),
				      bad);
	}
	if (!a)
		*bad = 1;
	return a;
}

static json_t *problems_json(const tvs_mrz *m, int *bad)
{
	json_t *a = json_array();

	for (int i = 0; a && i < m->nproblems; i++) {
		const tvs_mrz_problem *p = &m->problems[i];
		tvs_cli_jpush(a,
			      json_pack("{s:s,s:i,s:i,s:s}", "field", tvs_mrz_field_name(p->field), "line", p->line,
					"column", p->column, "message", p->text),
			      bad);
	}
	if (!a)
		*bad = 1;
	return a;
}

static json_t *fixes_json(unsigned fixes)
{
	json_t *a = json_array();

	for (int i = 0; a && i < TVS_MRZ_CHECKS; i++)
		if (fixes >> i & 1u)
			json_array_append_new(a, json_string(tvs_mrz_check_name(i)));
	return a;
}

static json_t *warnings_json(const tvs_mrz *m, int *bad)
{
	json_t *a = json_array();

	for (int i = 0; a && i < m->nwarnings; i++) {
		const tvs_mrz_warning *w = &m->warnings[i];
		tvs_cli_jpush(a,
			      json_pack("{s:s,s:s,s:i,s:i,s:o,s:o,s:o}", "kind", tvs_mrz_warning_kind_name(w->kind),
					"field", tvs_mrz_field_name(w->field), "line", w->line, "column", w->column,
					"found", jchar(w->found), "suggested", jchar(w->suggested), "fixes",
					fixes_json(w->fixes)),
			      bad);
	}
	if (!a)
		*bad = 1;
	return a;
}

static void date_json(json_t *o, const char *key, const tvs_mrz_date *d, int *bad)
{
	char raw_key[32];

	snprintf(raw_key, sizeof(raw_key), "%s_raw", key);
	tvs_cli_jset(o, key, jstr_or_null(d->iso), bad);
	tvs_cli_jset(o, raw_key, json_string(d->raw), bad);
}

static json_t *result_json(const tvs_mrz *m, int *bad)
{
	json_t *o = json_object();
	tvs_mrz_document d;

	if (!o) {
		*bad = 1;
		return NULL;
	}
	tvs_cli_jset(o, "format", json_string(tvs_mrz_format_name(m->format)), bad);
	tvs_cli_jset(o, "valid", json_boolean(m->valid), bad);
	tvs_cli_jset(o, "document_code", json_string(m->document_code), bad);
	tvs_cli_jset(o, "type", json_string(m->type), bad);
	tvs_cli_jset(o, "issuing_state", json_string(m->issuing_state), bad);
	tvs_cli_jset(o, "number", json_string(m->number), bad);
	tvs_cli_jset(o, "long_number", json_boolean(m->long_number), bad);
	tvs_cli_jset(o, "nationality", json_string(m->nationality), bad);
	date_json(o, "birth_date", &m->birth_date, bad);
	tvs_cli_jset(o, "sex", jstr_or_null(m->sex), bad);
	date_json(o, "expiry", &m->expiry, bad);
	tvs_cli_jset(o, "optional_data", json_string(m->optional_data), bad);
	if (m->format == TVS_MRZ_TD1)
		tvs_cli_jset(o, "optional_data_2", json_string(m->optional_data_2), bad);
	tvs_cli_jset(o, "surname", json_string(m->surname), bad);
	tvs_cli_jset(o, "given_names", json_string(m->given_names), bad);
	tvs_cli_jset(o, "name_truncated", json_boolean(m->name_truncated), bad);
	tvs_cli_jset(o, "checks", checks_json(m, bad), bad);
	tvs_cli_jset(o, "problems", problems_json(m, bad), bad);
	tvs_cli_jset(o, "warnings", warnings_json(m, bad), bad);
	if (m->warnings_dropped)
		tvs_cli_jset(o, "warnings_dropped", json_integer(m->warnings_dropped), bad);
	if (tvs_mrz_make_document(m, &d) == 0)
		tvs_cli_jset(o, "document", document_json(&d, bad), bad);
	else
		*bad = 1;
	return o;
}

static const char *error_kind_name(int kind)
{
	switch (kind) {
	case TVS_MRZ_ERR_LINE_COUNT: return "line_count";
	case TVS_MRZ_ERR_LINE_LENGTH: return "line_length";
	case TVS_MRZ_ERR_CHARACTER: return "character";
	default: return "other";
	}
}

/* {"valid": false, "error": {...}} for input that is not an MRZ. */
static json_t *error_json(int rc, const tvs_mrz *m, int *bad)
{
	const tvs_mrz_error *e = &m->error;
	json_t *o = json_object(), *err = json_object();

	if (!o || !err) {
		json_decref(o);
		json_decref(err);
		*bad = 1;
		return NULL;
	}
	tvs_cli_jset(err, "code", json_string(tvs_strerror(rc)), bad);
	tvs_cli_jset(err, "kind", json_string(error_kind_name(e->kind)), bad);
	tvs_cli_jset(err, "message", json_string(tvs_errmsg()), bad);
	if (e->line)
		tvs_cli_jset(err, "line", json_integer(e->line), bad);
	if (e->kind == TVS_MRZ_ERR_CHARACTER) {
		tvs_cli_jset(err, "column", json_integer(e->column), bad);
		tvs_cli_jset(err, "byte", json_integer(e->byte), bad);
	} else if (e->kind != TVS_MRZ_ERR_NONE) {
		json_t *exp = json_array();
		if (exp)
			json_array_append_new(exp, json_integer(e->expected));
		if (exp && e->expected_alt)
			json_array_append_new(exp, json_integer(e->expected_alt));
		tvs_cli_jset(err, "expected", exp, bad);
		tvs_cli_jset(err, "got", json_integer((json_int_t)e->got), bad);
	}
	tvs_cli_jset(o, "valid", json_false(), bad);
	tvs_cli_jset(o, "error", err, bad);
	return o;
}

/* Read all of stdin into buf (at most cap bytes); -1 if longer or unreadable. */
static long read_stdin(char *buf, size_t cap)
{
	size_t n = 0, got;

	while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
		n += got;
		if (n == cap)
			break;
	}
	if (ferror(stdin))
		return -1;
	if (n == cap && fgetc(stdin) != EOF)
		return -1;
	return (long)n;
}

static int parse_today(const char *s, tvs_mrz_ymd *t)
{
	char tail;

	return sscanf(s, "%4d-%2d-%2d%c", &t->year, &t->month, &t->day, &tail) == 3 ? 0 : -1;
}

/* Parse the MRZ from stdin or from the argument lines into *m. */
static int read_and_parse(const char *const *lines, int nlines, int from_stdin, const tvs_mrz_ymd *today,
			  tvs_mrz *m)
{
	static char buf[MAX_STDIN];
	long n;

	if (!from_stdin)
		return tvs_mrz_parse(lines, NULL, (size_t)nlines, today, m);
	n = read_stdin(buf, sizeof(buf));
	if (n < 0)
		return tvs__err(TVS_ETOOBIG, "stdin: unreadable or longer than %d bytes", MAX_STDIN);
	return tvs_mrz_parse_text(buf, (size_t)n, today, m);
}

int tvs_cli_mrz(int argc, char **argv)
{
	const char **lines = calloc((size_t)argc, sizeof(*lines));
	int nlines = 0, from_stdin = 0, bad = 0, rc, status = TVS_EXIT_FAIL;
	tvs_mrz_ymd today, *ref = NULL;
	tvs_mrz m;
	json_t *root;

	if (!lines) {
		fprintf(stderr, "tvs mrz: out of memory\n");
		return TVS_EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(HELP, stdout);
			status = TVS_EXIT_OK;
			goto out;
		} else if (!strcmp(a, "--today") && i + 1 < argc) {
			if (parse_today(argv[++i], &today) < 0) {
				status = tvs_cli_usage_error("tvs mrz", HELP, "--today wants YYYY-MM-DD, not '%s'",
							     argv[i]);
				goto out;
			}
			ref = &today;
		} else if (!strcmp(a, "--today")) {
			status = tvs_cli_usage_error("tvs mrz", HELP, "--today needs a value");
			goto out;
		} else if (!strcmp(a, "-")) {
			from_stdin = 1;
		} else if (a[0] == '-' && a[1] == '-') {
			status = tvs_cli_usage_error("tvs mrz", HELP, "unknown option '%s'", a);
			goto out;
		} else {
			lines[nlines++] = a;
		}
	}
	if (from_stdin == (nlines > 0)) {
		status = tvs_cli_usage_error("tvs mrz", HELP, "give the MRZ lines as arguments, or '-' alone");
		goto out;
	}
	rc = read_and_parse(lines, nlines, from_stdin, ref, &m);
	if (rc == TVS_EINVAL && ref) {
		status = tvs_cli_usage_error("tvs mrz", HELP, "%s", tvs_errmsg());
		goto out;
	}
	if (rc < 0 && rc != TVS_EFORMAT) {
		fprintf(stderr, "tvs mrz: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		goto out;
	}
	root = rc == 0 ? result_json(&m, &bad) : error_json(rc, &m, &bad);
	if (bad || !root || tvs_cli_write_json(root, NULL) < 0)
		fprintf(stderr, "tvs mrz: cannot write the report: %s\n", bad ? "out of memory" : tvs_errmsg());
	else
		status = rc == 0 && m.valid ? TVS_EXIT_OK : TVS_EXIT_FAIL;
	json_decref(root);
out:
	free(lines);
	return status;
}
