/*
 * tvs manifest parse FILE|-: a UN/EDIFACT PAXLST interchange (API/APIS) to
 * the service's JSON manifest form (POST /manifests), as one JSON object on
 * stdout. A refused input is {"error": {...}} on stdout with exit status 1,
 * so a script reads one JSON document either way.
 *
 * The conversion also checks each traveler's document against the limits
 * the service applies (src/svc/enrol.c: type 1-2 of [A-Z0-9], number 1-20
 * of [A-Z0-9], 3-letter states), and lists what would be refused under
 * "warnings" rather than dropping it: the operator fixes the sender, not
 * the file. Extra keys ("kind", "departure", "arrival", "role",
 * "warnings") are ignored by the service.
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/paxlst.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char HELP[] =
	"usage: tvs manifest parse [options] FILE|-\n"
	"\n"
	"Parses a UN/EDIFACT PAXLST interchange (API/APIS passenger or crew list; '-'\n"
	"reads stdin) and prints the manifest as one JSON object in the service's form:\n"
	"{carrier, number, direction, port, scheduled_at, travelers[{role, document{type,\n"
	"number, issuing_state, nationality, surname, given_names, birth_date, sex,\n"
	"expiry}}]} plus kind, departure, arrival and warnings. Without --port the\n"
	"direction and port are left out and scheduled_at is the departure time.\n"
	"PAXLST times are the airports' local times; they are printed unchanged with 'Z'.\n"
	"\n"
	"options:\n"
	"  --port CODE       this border's airport: \"exit\" if it is the departure\n"
	"                    airport, \"entry\" if the arrival; scheduled_at follows it\n"
	"  --message N       the N-th manifest (from 1) when the interchange holds several\n"
	"  --lenient-count   a CNT total that disagrees with the travelers listed is a\n"
	"                    warning, not an error (some senders give the total on board)\n"
	"\n"
	"Input is limited to 16 MiB and 10,000 travelers per manifest.\n"
	"\n"
	"exit status: 0 parsed, 1 refused ({\"error\": {code, message, segment, tag,\n"
	"offset}} on stdout), 2 usage error.\n";

static const char *code_name(int rc)
{
	switch (rc) {
	case TVS_EINVAL: return "invalid_argument";
	case TVS_ENOMEM: return "out_of_memory";
	case TVS_EIO: return "io";
	case TVS_ENOTFOUND: return "not_found";
	case TVS_ETOOBIG: return "too_big";
	case TVS_EUNSUPPORTED: return "unsupported";
	default: return "malformed";
	}
}

/* {"error": {...}} on stdout; returns TVS_EXIT_FAIL. */
static int print_error(int rc, const char *msg, const tvs_paxlst_error *pos)
{
	json_t *e = json_object(), *root = json_object();
	int bad = 0;

	tvs_cli_jset(e, "code", json_string(code_name(rc)), &bad);
	tvs_cli_jset(e, "message", json_string(msg), &bad);
	if (pos && pos->segment) {
		tvs_cli_jset(e, "segment", json_integer((json_int_t)pos->segment), &bad);
		tvs_cli_jset(e, "tag", json_string(pos->tag), &bad);
	}
	if (pos && (pos->segment || pos->offset))
		tvs_cli_jset(e, "offset", json_integer((json_int_t)pos->offset), &bad);
	tvs_cli_jset(root, "error", e, &bad);
	if (bad || tvs_cli_write_json(root, NULL) != 0)
		fprintf(stderr, "tvs manifest: %s\n", msg);
	json_decref(root);
	return TVS_EXIT_FAIL;
}

/* Read all of f, refusing more than max bytes without reading further. */
static int read_stream(FILE *f, const char *name, size_t max, char **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return tvs__err(TVS_ENOMEM, "%s: out of memory", name);
	for (;;) {
		size_t got;

		if (n == cap) {
			char *b;
			if (cap > max) /* already holds max + 1 bytes: too big */
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			b = realloc(buf, cap);
			if (!b) {
				free(buf);
				return tvs__err(TVS_ENOMEM, "%s: out of memory", name);
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return tvs__err(TVS_EIO, "%s: read failed", name);
	}
	if (n > max) {
		free(buf);
		return tvs__err(TVS_ETOOBIG, "%s: more than %zu bytes (the PAXLST input limit)", name, max);
	}
	*out = buf;
	*len = n;
	return 0;
}

static int read_input(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	FILE *f;
	int rc;

	if (!strcmp(path, "-"))
		return read_stream(stdin, "stdin", max, out, len);
	f = fopen(path, "rb");
	if (!f)
		return tvs__err(errno == ENOENT ? TVS_ENOTFOUND : TVS_EIO, "%s: %s", path, strerror(errno));
	/* a regular file's size says "too big" before any of it is read */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		fclose(f);
		return tvs__err(TVS_ETOOBIG, "%s: %lld bytes, more than the PAXLST input limit of %zu", path,
				(long long)st.st_size, max);
	}
	rc = read_stream(f, path, max, out, len);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------ service form */

static int upper_alnum(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* three letters, '<' allowed as in ICAO 9303 codes such as "D<<" */
static int state_code(const char *s)
{
	if (strlen(s) != 3)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '<'))
			return 0;
	return 1;
}

struct conv {
	json_t *warnings;
	int bad; /* an allocation failed */
};

__attribute__((format(printf, 2, 3))) static void conv_warn(struct conv *c, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tvs_cli_jpush(c->warnings, json_string(msg), &c->bad);
}

/* obj[key] = s unless s is empty */
static void set_str(struct conv *c, json_t *obj, const char *key, const char *s)
{
	if (s && s[0])
		tvs_cli_jset(obj, key, json_string(s), &c->bad);
}

/* What the service would refuse in document d of traveler i. */
static void check_document(struct conv *c, size_t i, const tvs_paxlst_traveler *t, const tvs_paxlst_document *d)
{
	if (!d) {
		conv_warn(c, "travelers[%zu] (%s): no travel document (DOC)", i, t->surname);
		return;
	}
	if (!d->type[0] || strlen(d->type) > 2 || !upper_alnum(d->type) || d->type[0] < 'A' || d->type[0] > 'Z')
		conv_warn(c, "travelers[%zu].document.type '%s': must be 1-2 of [A-Z0-9], starting with a letter", i,
			  d->type);
	if (!d->number[0] || strlen(d->number) > 20 || !upper_alnum(d->number))
		conv_warn(c, "travelers[%zu].document.number '%s': must be 1-20 of [A-Z0-9]", i, d->number);
	if (!state_code(d->issuing_state))
		conv_warn(c, "travelers[%zu].document.issuing_state '%s': must be a 3-letter code", i,
			  d->issuing_state);
	if (t->nationality[0] && !state_code(t->nationality))
		conv_warn(c, "travelers[%zu].document.nationality '%s': must be a 3-letter code", i, t->nationality);
	if (strlen(t->given_names) > 100)
		conv_warn(c, "travelers[%zu].document.given_names: longer than 100 characters", i);
}

static json_t *traveler_json(struct conv *c, size_t i, const tvs_paxlst_traveler *t)
{
	const tvs_paxlst_document *d = tvs_paxlst_primary_document(t);
	json_t *o = json_object(), *doc = json_object();

	check_document(c, i, t, d);
	if (d) {
		set_str(c, doc, "type", d->type);
		set_str(c, doc, "number", d->number);
		set_str(c, doc, "issuing_state", d->issuing_state);
	}
	set_str(c, doc, "nationality", t->nationality);
	set_str(c, doc, "surname", t->surname);
	set_str(c, doc, "given_names", t->given_names);
	set_str(c, doc, "birth_date", t->birth_date);
	set_str(c, doc, "sex", t->sex);
	if (d)
		set_str(c, doc, "expiry", d->expiry);
	tvs_cli_jset(o, "role", json_string(tvs_paxlst_role_name(t->role)), &c->bad);
	tvs_cli_jset(o, "document", doc, &c->bad);
	return o;
}

static json_t *endpoint_json(struct conv *c, const char *port, const char *time)
{
	json_t *o = json_object();

	set_str(c, o, "port", port);
	set_str(c, o, "scheduled_at", time);
	return o;
}

/* The manifest m in the service's form; port may be NULL. */
static json_t *manifest_json(const tvs_paxlst *x, const tvs_paxlst_manifest *m, const char *port,
			     const char *direction, int *bad)
{
	struct conv c = { json_array(), 0 };
	json_t *o = json_object(), *trav = json_array();
	const char *sched = direction && !strcmp(direction, "entry") ? m->arrival_time : m->departure_time;

	set_str(&c, o, "carrier", m->carrier);
	set_str(&c, o, "number", m->flight);
	set_str(&c, o, "direction", direction);
	set_str(&c, o, "port", direction ? port : NULL);
	set_str(&c, o, "scheduled_at", sched);
	tvs_cli_jset(o, "kind", json_string(tvs_paxlst_kind_name(m->kind)), &c.bad);
	tvs_cli_jset(o, "departure", endpoint_json(&c, m->departure_port, m->departure_time), &c.bad);
	tvs_cli_jset(o, "arrival", endpoint_json(&c, m->arrival_port, m->arrival_time), &c.bad);
	for (size_t i = 0; i < x->nwarnings; i++)
		tvs_cli_jpush(c.warnings, json_string(x->warnings[i]), &c.bad);
	if (x->warnings_dropped)
		conv_warn(&c, "... and %zu more warnings", x->warnings_dropped);
	if (!m->carrier[0] || strlen(m->carrier) > 8)
		conv_warn(&c, "carrier '%s': the service wants 1-8 characters", m->carrier);
	if (!m->flight[0] || strlen(m->flight) > 16)
		conv_warn(&c, "number '%s': the service wants 1-16 characters", m->flight);
	if (!sched[0])
		conv_warn(&c, "no scheduled time for the %s", direction && !strcmp(direction, "entry") ? "arrival"
												  : "departure");
	for (size_t i = 0; i < m->ntravelers; i++)
		tvs_cli_jpush(trav, traveler_json(&c, i, &m->travelers[i]), &c.bad);
	tvs_cli_jset(o, "travelers", trav, &c.bad);
	tvs_cli_jset(o, "warnings", c.warnings, &c.bad);
	*bad = c.bad;
	return o;
}

/* ------------------------------------------------------------ command */

struct opts {
	const char *path, *port;
	long message; /* 1-based, 0 = the only one */
	int lenient;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	if (argc < 2 || strcmp(argv[1], "parse") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(HELP, stdout);
			return TVS_EXIT_OK;
		}
		return tvs_cli_usage_error("tvs manifest", HELP, "expected the subcommand 'parse'");
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(HELP, stdout);
			return TVS_EXIT_OK;
		} else if (!strcmp(a, "--port") && v) {
			o->port = v;
			i++;
		} else if (!strcmp(a, "--message") && v) {
			o->message = strtol(v, &end, 10);
			if (*end || o->message < 1 || o->message > TVS_PAXLST_MAX_MANIFESTS)
				return tvs_cli_usage_error("tvs manifest", HELP, "--message wants 1-%d",
							   TVS_PAXLST_MAX_MANIFESTS);
			i++;
		} else if (!strcmp(a, "--lenient-count")) {
			o->lenient = 1;
		} else if ((a[0] == '-' && a[1]) || o->path) {
			return tvs_cli_usage_error("tvs manifest", HELP, "unexpected argument '%s'", a);
		} else {
			o->path = a;
		}
	}
	if (!o->path)
		return tvs_cli_usage_error("tvs manifest", HELP, "no input: give a FILE or '-'");
	return -1;
}

/* Pick the manifest to print: the only one, or the --message'th. */
static const tvs_paxlst_manifest *choose(const tvs_paxlst *x, long message, char *why, size_t cap)
{
	if (message > 0 && (size_t)message <= x->nmanifests)
		return &x->manifests[message - 1];
	if (message > 0)
		snprintf(why, cap, "--message %ld: the interchange holds %zu manifests", message, x->nmanifests);
	else if (x->nmanifests > 1)
		snprintf(why, cap, "the interchange holds %zu manifests: choose one with --message N",
			 x->nmanifests);
	else
		return &x->manifests[0];
	return NULL;
}

int tvs_cli_manifest(int argc, char **argv)
{
	struct opts o = { 0 };
	tvs_paxlst_config cfg;
	tvs_paxlst_error pos = { 0 };
	tvs_paxlst *x = NULL;
	const tvs_paxlst_manifest *m;
	const char *direction = NULL;
	char *buf = NULL, why[300];
	size_t len = 0;
	json_t *root;
	int rc, bad = 0, status;

	if ((status = parse_args(argc, argv, &o)) >= 0)
		return status;
	tvs_paxlst_default_config(&cfg);
	if (o.lenient)
		cfg.count_policy = TVS_PAXLST_COUNT_WARN;
	rc = read_input(o.path, cfg.max_input, &buf, &len);
	if (rc == 0)
		rc = tvs_paxlst_parse(buf, len, &cfg, &x, &pos);
	free(buf);
	if (rc < 0)
		return print_error(rc, tvs_errmsg(), &pos);
	m = choose(x, o.message, why, sizeof(why));
	if (m && o.port) {
		direction = tvs_paxlst_direction(m, o.port);
		if (!direction) {
			snprintf(why, sizeof(why), "port %.16s is neither the departure (%.16s) nor the arrival (%.16s) "
				 "airport of %.20s", o.port, m->departure_port, m->arrival_port, m->flight);
			m = NULL;
		}
	}
	if (!m) {
		tvs_paxlst_free(x);
		return print_error(TVS_EINVAL, why, NULL);
	}
	root = manifest_json(x, m, o.port, direction, &bad);
	status = TVS_EXIT_OK;
	if (bad) {
		fprintf(stderr, "tvs manifest: out of memory\n");
		status = TVS_EXIT_FAIL;
	} else if (tvs_cli_write_json(root, NULL) != 0) {
		fprintf(stderr, "tvs manifest: %s\n", tvs_errmsg());
		status = TVS_EXIT_FAIL;
	}
	json_decref(root);
	tvs_paxlst_free(x);
	return status;
}
