/*
 * tvs audit: check and read the hash-chained audit log (include/tvs/audit.h).
 *
 *   verify  walks the whole chain and prints one JSON verdict line;
 *           exit 0 if the log is intact, 1 if it is not (or cannot be read)
 *   export  prints the rows, one JSON line each, oldest first
 *   report  counts per actor and action in every period of a time range
 *
 * All three only read. They refuse a database file that does not exist,
 * rather than let SQLite create an empty one and report on that. The JSON is
 * built here, so the library stays free of jansson.
 */
#include "cli.h"
#include "tvs/audit.h"
#include "tvs/svc.h"
#include "tvs/error.h"
#include "tvs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
	"usage: tvs audit verify --db URL [--key-file F]\n"
	"       tvs audit export --db URL [--from T] [--to T]\n"
	"       tvs audit report --db URL --from T --to T [--period P]\n"
	"\n"
	"verify  checks every row's hash, the chain between rows and audit_head, and\n"
	"        prints {\"ok\", \"rows\", ...}; on damage also \"damage\" (changed, deleted,\n"
	"        inserted, reordered, truncated, head_modified), \"first_bad_seq\" and\n"
	"        \"message\". Exit status 0 intact, 1 damaged or unreadable.\n"
	"export  prints one JSON line per row with from <= at < to: seq, at, actor,\n"
	"        role, action, object, purpose, detail, hash (hex).\n"
	"report  prints, for every period in [from, to), each actor's count per\n"
	"        action (actors are kind:id, e.g. device:12, partner:XYZ, user:ana).\n"
	"\n"
	"options:\n"
	"  --db URL        the store: a SQLite path or sqlite:PATH (default $TVS_DB)\n"
	"  --key-file F    the store's master key (default: the store's path + .key); the\n"
	"                  chain's own key is sealed in the store under it\n"
	"  --from T        RFC 3339 time, e.g. 2024-05-01T00:00:00Z, or a date 2024-05-01\n"
	"  --to T          the same; the range excludes it\n"
	"  --period P      hour, day, week or a number of seconds (default: one period)\n"
	"\n"
	"exit status: 0 success (verify: intact), 1 failure (verify: damaged),\n"
	"2 usage error.\n";

/* ---- shared helpers ---- */

/* Open url for reading: a file that does not exist is an error here. */
static int open_store(const char *cmd, const char *url, tvs_store_t **s)
{
	const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
	int rc;

	if (!strstr(url, "://") && strcmp(path, ":memory:") != 0 && access(path, F_OK) != 0) {
		fprintf(stderr, "%s: %s: %s\n", cmd, path, strerror(errno));
		return -1;
	}
	rc = tvs_store_open(s, url, 1);
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", cmd, tvs_strerror(rc), tvs_errmsg());
		return -1;
	}
	return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339 date-time (fraction dropped, offsets applied) or full-date, to
 * seconds since the epoch. Returns 0 or -1. */
static int parse_time(const char *s, int64_t *out)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	if (*p) {
		if ((*p != 'T' && *p != 't' && *p != ' ') || (p++, digits(&p, 2, &h)) || *p++ != ':' ||
		    digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
			return -1;
		if (*p == '.') {
			if (*++p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '+' ? 1 : -1;
			if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
				return -1;
		} else {
			return -1;
		}
		if (*p || h > 23 || mi > 59 || sec > 60)
			return -1;
		if (sec == 60) /* a leap second counts as the second before it */
			sec = 59;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

static json_t *time_json(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > TVS_AUDIT_MAX_AT || !gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_integer(t);
	return json_string(buf);
}

/* A field as JSON: null, the string, or (a tampered row only) the string
 * with its non-ASCII bytes as '?' when it is not valid UTF-8. */
static json_t *text_json(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j || !(copy = strdup(s)))
		return j;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static int print_line(json_t *o)
{
	if (json_dumpf(o, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF)
		return tvs__err(TVS_EIO, "stdout: write failed");
	return 0;
}

/* ---- verify ---- */

/* The chain's key is sealed in the store under the master key (so a master
 * rotation keeps it): open the store as the service does and take it. */
static int load_audit_key(const char *db, const char *key_file, uint8_t key[TVS_AUDIT_KEY_BYTES])
{
	char def[4096];
	tvs_svc_config cfg;
	tvs_svc_t *s = NULL;
	int rc;

	tvs_svc_default_config(&cfg);
	cfg.db_url = db;
	cfg.key_file = key_file ? key_file : tvs_cli_key_beside(db, def, sizeof(def));
	cfg.retention_interval_s = 0;
	rc = tvs_svc_open_admin(&s, &cfg);
	if (!rc)
		tvs_svc_audit_key(s, key);
	else
		fprintf(stderr, "tvs audit verify: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
	tvs_svc_destroy(s);
	return rc ? -1 : 0;
}

static int cmd_verify(const char *db, const char *key_file)
{
	uint8_t key[TVS_AUDIT_KEY_BYTES];
	tvs_audit_report r;
	tvs_store_t *s = NULL;
	json_t *o = NULL;
	int bad = 0, rc, status = TVS_EXIT_FAIL;

	if (open_store("tvs audit verify", db, &s) != 0)
		goto out;
	if (load_audit_key(db, key_file, key) != 0)
		goto out;
	rc = tvs_audit_verify(s, key, &r);
	if (rc) {
		fprintf(stderr, "tvs audit verify: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		goto out;
	}
	o = json_object();
	if (!o)
		goto out;
	tvs_cli_jset(o, "ok", json_boolean(r.ok), &bad);
	tvs_cli_jset(o, "keyed", json_true(), &bad);
	tvs_cli_jset(o, "rows", json_integer(r.rows), &bad);
	tvs_cli_jset(o, "verified", json_integer(r.verified), &bad);
	tvs_cli_jset(o, "last_seq", json_integer(r.last_seq), &bad);
	tvs_cli_jset(o, "head_seq", r.head_seq >= 0 ? json_integer(r.head_seq) : json_null(), &bad);
	if (!r.ok) {
		tvs_cli_jset(o, "damage", json_string(tvs_audit_damage_name(r.kind)), &bad);
		tvs_cli_jset(o, "first_bad_seq", json_integer(r.first_bad_seq), &bad);
		tvs_cli_jset(o, "message", text_json(r.message), &bad);
	}
	if (bad) {
		fprintf(stderr, "tvs audit verify: out of memory\n");
		goto out;
	}
	rc = print_line(o);
	if (rc) {
		fprintf(stderr, "tvs audit verify: %s\n", tvs_errmsg());
		goto out;
	}
	status = r.ok ? TVS_EXIT_OK : TVS_EXIT_FAIL;
out:
	sodium_memzero(key, sizeof(key));
	json_decref(o);
	tvs_store_close(s);
	return status;
}

/* ---- export ---- */

static int export_row(void *arg, const tvs_audit_row *row)
{
	char hex[2 * TVS_AUDIT_HASH_BYTES + 1];
	json_t *o = json_object();
	int bad = !o, rc;

	(void)arg;
	if (bad)
		return tvs__err(TVS_ENOMEM, "out of memory");
	sodium_bin2hex(hex, sizeof(hex), row->hash, TVS_AUDIT_HASH_BYTES);
	tvs_cli_jset(o, "seq", json_integer(row->seq), &bad);
	tvs_cli_jset(o, "at", time_json(row->e.at), &bad);
	tvs_cli_jset(o, "actor", text_json(row->e.actor), &bad);
	tvs_cli_jset(o, "role", text_json(row->e.role), &bad);
	tvs_cli_jset(o, "action", text_json(row->e.action), &bad);
	tvs_cli_jset(o, "object", text_json(row->e.object), &bad);
	tvs_cli_jset(o, "purpose", text_json(row->e.purpose), &bad);
	tvs_cli_jset(o, "detail", text_json(row->e.detail), &bad);
	tvs_cli_jset(o, "hash", json_string(hex), &bad);
	rc = bad ? tvs__err(TVS_ENOMEM, "out of memory") : print_line(o);
	json_decref(o);
	return rc;
}

static int cmd_export(const char *db, int64_t from, int64_t to)
{
	tvs_store_t *s = NULL;
	int rc;

	if (open_store("tvs audit export", db, &s) != 0)
		return TVS_EXIT_FAIL;
	rc = tvs_audit_export(s, from, to, export_row, NULL);
	if (rc == 0 && fflush(stdout) != 0)
		rc = tvs__err(TVS_EIO, "stdout: write failed");
	if (rc)
		fprintf(stderr, "tvs audit export: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
	tvs_store_close(s);
	return rc ? TVS_EXIT_FAIL : TVS_EXIT_OK;
}

/* ---- report ---- */

struct report {
	int64_t from, period;
	json_t *periods;  /* one object per period, made up front */
	json_t *actor;    /* the current actor's object, borrowed from periods */
	char *actor_name; /* and its name */
};

static int report_count(void *arg, int64_t start, const char *actor, const char *action, int64_t count)
{
	struct report *rep = arg;
	json_t *p = json_array_get(rep->periods, (size_t)((start - rep->from) / rep->period));
	json_t *actors = json_object_get(p, "actors"), *total;
	int bad = 0;

	if (!actors)
		return tvs__err(TVS_EINVAL, "report: a period starting at %lld is out of range", (long long)start);
	if (!rep->actor || json_array_get(actors, json_array_size(actors) - 1) != rep->actor ||
	    strcmp(rep->actor_name, actor) != 0) {
		const char *colon = strchr(actor, ':');
		json_t *a = json_object();

		free(rep->actor_name);
		rep->actor_name = strdup(actor);
		rep->actor = a;
		tvs_cli_jset(a, "actor", text_json(actor), &bad);
		tvs_cli_jset(a, "kind", colon ? json_stringn(actor, (size_t)(colon - actor)) : text_json(actor), &bad);
		tvs_cli_jset(a, "id", colon ? text_json(colon + 1) : json_null(), &bad);
		tvs_cli_jset(a, "total", json_integer(0), &bad);
		tvs_cli_jset(a, "actions", json_object(), &bad);
		tvs_cli_jpush(actors, a, &bad); /* steals a, freeing it on failure */
		if (bad || !rep->actor_name) {
			rep->actor = NULL;
			return tvs__err(TVS_ENOMEM, "out of memory");
		}
	}
	total = json_object_get(rep->actor, "total");
	json_integer_set(total, json_integer_value(total) + count);
	tvs_cli_jset(json_object_get(rep->actor, "actions"), action, json_integer(count), &bad);
	return bad ? tvs__err(TVS_ENOMEM, "out of memory") : 0;
}

static int cmd_report(const char *db, int64_t from, int64_t to, int64_t period)
{
	struct report rep = { .from = from, .period = period ? period : to - from };
	int64_t n = (to - from + rep.period - 1) / rep.period;
	tvs_store_t *s = NULL;
	json_t *root = json_object();
	int bad = 0, rc, status = TVS_EXIT_FAIL;

	rep.periods = json_array();
	bad = !root || !rep.periods;
	tvs_cli_jset(root, "from", time_json(from), &bad);
	tvs_cli_jset(root, "to", time_json(to), &bad);
	tvs_cli_jset(root, "period_s", json_integer(rep.period), &bad);
	if (!bad && json_object_set(root, "periods", rep.periods) != 0)
		bad = 1;
	for (int64_t k = 0; !bad && k < n; k++) {
		int64_t start = from + k * rep.period, end = to - start > rep.period ? start + rep.period : to;
		json_t *p = json_object();

		tvs_cli_jset(p, "from", time_json(start), &bad);
		tvs_cli_jset(p, "to", time_json(end), &bad);
		tvs_cli_jset(p, "actors", json_array(), &bad);
		tvs_cli_jpush(rep.periods, p, &bad);
	}
	if (bad) {
		fprintf(stderr, "tvs audit report: out of memory\n");
		goto out;
	}
	if (open_store("tvs audit report", db, &s) != 0)
		goto out;
	rc = tvs_audit_access_report(s, from, to, period, report_count, &rep);
	if (rc == 0)
		rc = tvs_cli_write_json(root, NULL);
	if (rc) {
		fprintf(stderr, "tvs audit report: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		goto out;
	}
	status = TVS_EXIT_OK;
out:
	free(rep.actor_name);
	json_decref(rep.periods);
	json_decref(root);
	tvs_store_close(s);
	return status;
}

static int parse_period(const char *v, int64_t *out)
{
	char *end;
	long long n;

	if (!strcmp(v, "hour"))
		*out = 3600;
	else if (!strcmp(v, "day"))
		*out = 86400;
	else if (!strcmp(v, "week"))
		*out = 7 * 86400;
	else {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < 1)
			return -1;
		*out = n;
	}
	return 0;
}

int tvs_cli_audit(int argc, char **argv)
{
	const char *db = NULL, *key_file = NULL, *from_s = NULL, *to_s = NULL, *period_s = NULL, *sub, *cmd;
	struct tvs_cli_opt tab[] = { { "--db", &db },	    { "--key-file", &key_file }, { "--from", &from_s },
				     { "--to", &to_s },	    { "--period", &period_s } };
	int64_t from = 0, to = TVS_AUDIT_MAX_AT + 1, period = 0;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? TVS_EXIT_USAGE : TVS_EXIT_OK;
	}
	sub = argv[1];
	cmd = !strcmp(sub, "verify")   ? "tvs audit verify"
	      : !strcmp(sub, "export") ? "tvs audit export"
	      : !strcmp(sub, "report") ? "tvs audit report"
				       : NULL;
	if (!cmd)
		return tvs_cli_usage_error("tvs audit", USAGE, "unknown subcommand '%s'", sub);
	rc = tvs_cli_parse_opts_or_exit(argc - 1, argv + 1, tab, sizeof(tab) / sizeof(tab[0]), cmd, USAGE);
	if (rc >= 0)
		return rc;
	if (!db)
		db = getenv("TVS_DB");
	if (!db || !*db)
		return tvs_cli_usage_error(cmd, USAGE, "--db is required");
	if (sub[0] == 'v') {
		if (from_s || to_s || period_s)
			return tvs_cli_usage_error(cmd, USAGE, "verify takes --db and --key-file only");
		return cmd_verify(db, key_file);
	}
	if (key_file)
		return tvs_cli_usage_error(cmd, USAGE, "--key-file is for verify");
	if (from_s && (parse_time(from_s, &from) != 0 || from < 0 || from > TVS_AUDIT_MAX_AT))
		return tvs_cli_usage_error(cmd, USAGE, "--from '%s' is not an RFC 3339 time", from_s);
	if (to_s && (parse_time(to_s, &to) != 0 || to < 0 || to > TVS_AUDIT_MAX_AT))
		return tvs_cli_usage_error(cmd, USAGE, "--to '%s' is not an RFC 3339 time", to_s);
	if (to <= from)
		return tvs_cli_usage_error(cmd, USAGE, "--to must be after --from");
	if (sub[0] == 'e') {
		if (period_s)
			return tvs_cli_usage_error(cmd, USAGE, "--period is for report");
		return cmd_export(db, from, to);
	}
	if (!from_s || !to_s)
		return tvs_cli_usage_error(cmd, USAGE, "report needs --from and --to");
	if (period_s && parse_period(period_s, &period) != 0)
		return tvs_cli_usage_error(cmd, USAGE, "--period '%s' is not hour, day, week or seconds", period_s);
	if (period && (to - from + period - 1) / period > TVS_AUDIT_MAX_PERIODS)
		return tvs_cli_usage_error(cmd, USAGE, "more than %d periods", TVS_AUDIT_MAX_PERIODS);
	return cmd_report(db, from, to, period);
}
