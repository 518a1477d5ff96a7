/*
 * tvs retention: the retention job for cron, and its report.
 *
 *   tvs retention run    --db URL [--key-file F] [--now TIME] [--batch N] [--rule-set R]
 *                        [--non-citizen-years Y]
 *   tvs retention report --db URL [--key-file F] [--now TIME] ...
 *
 * The running server does the same every --retention-interval seconds; the
 * command is for deployments that prefer cron, for operators, and for tests,
 * which move the clock with --now. Both print one JSON line.
 */
#include "cli.h"

#include "tvs/error.h"
#include "tvs/svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char RETENTION_USAGE[] =
	"usage: tvs retention run|report --db URL [options]\n"
	"\n"
	"  run      purge what is due: shred the data key of every image past its\n"
	"           purge time (and clear it), and of every record past its own (and\n"
	"           delete it); audit each; scrub (SQLite: checkpoint the WAL;\n"
	"           PostgreSQL: VACUUM keys; see docs/deletion.md)\n"
	"  report   per traveler category: images held, the oldest, its deadline,\n"
	"           anything overdue, the next record purge\n"
	"\n"
	"  --db URL               the store (default $TVS_DB, else tvs.db)\n"
	"  --key-file FILE        its master key (default: the store's path + .key)\n"
	"  --now TIME             act as if it were TIME (RFC 3339 UTC or unix seconds)\n"
	"  --batch N              encounters purged per transaction (default 256): each\n"
	"                         batch commits or, if the process dies, rolls back whole\n"
	"  --rule-set R           pilot-2018 or final-2025 (default final-2025)\n"
	"  --non-citizen-years Y  a matched non-citizen's term (default 75)\n"
	"\n"
	"Purge times are stamped on each encounter when it is stored or resolved;\n"
	"the terms given here affect only what the report calls the rule set.\n";

static int parse_now(const char *v, int64_t *out)
{
	struct tm tm;
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (!errno && end != v && !*end && n > 0) {
		*out = n;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int64_t fixed_now;

static int64_t clock_fixed(void *arg)
{
	(void)arg;
	return fixed_now;
}

int tvs_cli_retention(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "", *db = NULL, *key = NULL, *now_s = NULL, *rules = NULL,
		   *years = NULL, *batch = NULL;
	struct tvs_cli_opt tab[] = { { "--db", &db },		{ "--key-file", &key },
				     { "--now", &now_s },	{ "--rule-set", &rules },
				     { "--non-citizen-years", &years }, { "--batch", &batch } };
	char cmd[64], keybuf[4096], *json = NULL;
	tvs_svc_config cfg;
	tvs_svc_t *s = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(RETENTION_USAGE, stdout);
		return TVS_EXIT_OK;
	}
	if (strcmp(sub, "run") != 0 && strcmp(sub, "report") != 0)
		return tvs_cli_usage_error("tvs retention", RETENTION_USAGE, "say run or report");
	snprintf(cmd, sizeof(cmd), "tvs retention %s", sub);
	rc = tvs_cli_parse_opts_or_exit(argc - 1, argv + 1, tab, sizeof(tab) / sizeof(tab[0]), cmd, RETENTION_USAGE);
	if (rc >= 0)
		return rc;
	tvs_svc_default_config(&cfg);
	if (!db)
		db = getenv("TVS_DB");
	if (db && *db)
		cfg.db_url = db;
	cfg.key_file = key ? key : tvs_cli_key_beside(cfg.db_url, keybuf, sizeof(keybuf));
	cfg.retention_interval_s = 0; /* no scheduler: this is the one run */
	if (rules)
		cfg.rule_set = rules;
	if (years)
		cfg.non_citizen_years = atof(years);
	if (batch) {
		char *end;
		long n = strtol(batch, &end, 10);

		if (end == batch || *end || n < 1 || n > 100000)
			return tvs_cli_usage_error(cmd, RETENTION_USAGE, "--batch must be 1 to 100000");
		cfg.retention_batch = (int)n;
	}
	if (now_s && parse_now(now_s, &now))
		return tvs_cli_usage_error(cmd, RETENTION_USAGE, "--now must be like 2026-11-23T10:00:00Z");
	fixed_now = now;
	cfg.now = clock_fixed; /* audit rows and shred times carry the same now */
	rc = tvs_svc_open_admin(&s, &cfg);
	if (!rc)
		rc = !strcmp(sub, "run") ? tvs_svc_retention_run(s, now, &json) : tvs_svc_retention_report(s, now, &json);
	tvs_svc_destroy(s);
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", cmd, tvs_strerror(rc), tvs_errmsg());
		return rc == TVS_EINVAL ? TVS_EXIT_USAGE : TVS_EXIT_FAIL;
	}
	puts(json);
	free(json);
	return fflush(stdout) ? TVS_EXIT_FAIL : TVS_EXIT_OK;
}
