/*
 * tvs keys: master key files for encryption at rest (include/tvs/vault.h).
 *
 *   tvs keys init --key-file PATH
 *       write a fresh random master key to a new file, mode 0600; an
 *       existing file is never overwritten (a lost master key is lost data).
 *   tvs keys rotate --db URL --key-file OLD --new-key-file NEW
 *       re-wrap every data key from OLD's master to NEW's in one transaction,
 *       then checkpoint the WAL so the old wrapped keys leave the disk.
 *
 * Output is one JSON line on stdout naming master ids, never key bytes.
 * Exit status as for every tvs command: 0, 1 failure, 2 usage.
 */
#include "cli.h"

#include "tvs/error.h"
#include "tvs/store.h"
#include "tvs/svc.h"
#include "tvs/vault.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char KEYS_USAGE[] =
	"usage: tvs keys init --key-file PATH\n"
	"       tvs keys rotate --db URL --key-file OLD --new-key-file NEW\n"
	"\n"
	"Master keys for encryption at rest. Every photo and template is sealed under\n"
	"its own data key; the data keys are stored wrapped under the master key.\n"
	"\n"
	"  init     write a new random master key to PATH (mode 0600). PATH must not\n"
	"           exist: a master key is never overwritten. Back the file up apart\n"
	"           from the database; without it the records cannot be read.\n"
	"  rotate   re-wrap every data key in the store (--db, default $TVS_DB) from\n"
	"           the OLD master to the NEW one, in one transaction; the records\n"
	"           themselves are not rewritten. Stop the service first and restart\n"
	"           it with NEW. Running it again is harmless. Keep OLD until every\n"
	"           backup taken before the rotation has expired.\n"
	"\n"
	"A key file is 32 raw bytes or 64 hex digits, a regular file of mode 0600 or\n"
	"0400. Output: one JSON line with the master ids (never key material).\n";

static int fail(const char *cmd, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", cmd, tvs_strerror(rc), tvs_errmsg());
	return rc == TVS_EINVAL ? TVS_EXIT_USAGE : TVS_EXIT_FAIL;
}

/* Print obj (stolen) as one compact JSON line. */
static int print_json(json_t *obj)
{
	int rc = obj && json_dumpf(obj, stdout, JSON_COMPACT) == 0 ? TVS_EXIT_OK : TVS_EXIT_FAIL;

	json_decref(obj);
	putchar('\n');
	if (fflush(stdout) != 0)
		rc = TVS_EXIT_FAIL;
	if (rc)
		fprintf(stderr, "tvs keys: cannot write the result\n");
	return rc;
}

static int keys_init(int argc, char **argv)
{
	const char *path = NULL;
	struct tvs_cli_opt tab[] = {{"--key-file", &path}};
	tvs_vault_t *v;
	int rc;

	rc = tvs_cli_parse_opts_or_exit(argc, argv, tab, sizeof(tab) / sizeof(tab[0]), "tvs keys init", KEYS_USAGE);
	if (rc >= 0)
		return rc;
	if (!path || !*path)
		return tvs_cli_usage_error("tvs keys init", KEYS_USAGE, "--key-file is required");
	if ((rc = tvs_vault_create_key_file(path)) < 0)
		return fail("tvs keys init", rc);
	/* read it back through the same checks the service applies */
	if ((rc = tvs_vault_open(&v, path)) < 0)
		return fail("tvs keys init", rc);
	json_t *o = json_pack("{s:s, s:s}", "key_file", path, "master_id", tvs_vault_master_id(v));
	tvs_vault_destroy(v);
	return print_json(o);
}

/* A key operation is audited like any other: in the chain, whose key the
 * rotation has just re-wrapped under the new master. The rotation stands
 * whether or not this row lands; a failure is said, not hidden. */
static void audit_rotation(const char *db, const char *new_key, const char *from, const char *to, int64_t n)
{
	tvs_svc_config cfg;
	tvs_svc_t *svc = NULL;
	char detail[96];

	tvs_svc_default_config(&cfg);
	cfg.db_url = db;
	cfg.key_file = new_key;
	cfg.retention_interval_s = 0;
	snprintf(detail, sizeof(detail), "%s -> %s, %lld data keys", from, to, (long long)n);
	if (tvs_svc_open_admin(&svc, &cfg) || tvs_svc_audit_event(svc, "system:tvs-keys", "key.rotate", "master", detail))
		fprintf(stderr, "tvs keys rotate: warning: not audited: %s\n", tvs_errmsg());
	tvs_svc_destroy(svc);
}

static int keys_rotate(int argc, char **argv)
{
	const char *db = NULL, *old_path = NULL, *new_path = NULL;
	struct tvs_cli_opt tab[] = {{"--db", &db}, {"--key-file", &old_path}, {"--new-key-file", &new_path}};
	tvs_vault_t *old = NULL, *neu = NULL;
	tvs_store_t *s = NULL;
	int64_t n = 0;
	int rc, scrubbed;

	rc = tvs_cli_parse_opts_or_exit(argc, argv, tab, sizeof(tab) / sizeof(tab[0]), "tvs keys rotate", KEYS_USAGE);
	if (rc >= 0)
		return rc;
	if (!db)
		db = getenv("TVS_DB");
	if (!db || !*db || !old_path || !*old_path || !new_path || !*new_path)
		return tvs_cli_usage_error("tvs keys rotate", KEYS_USAGE,
					   "--db (or TVS_DB), --key-file and --new-key-file are required");
	if ((rc = tvs_vault_open(&old, old_path)) < 0) {
		rc = fail("tvs keys rotate", rc);
		goto done;
	}
	if ((rc = tvs_vault_open(&neu, new_path)) < 0) {
		rc = fail("tvs keys rotate", rc);
		goto done;
	}
	if ((rc = tvs_store_open(&s, db, 1)) < 0) {
		rc = fail("tvs keys rotate", rc);
		goto done;
	}
	if ((rc = tvs_vault_rotate(old, neu, s, &n)) < 0) {
		rc = fail("tvs keys rotate", rc);
		goto done;
	}
	/* the rotation is committed; a busy checkpoint only delays the cleanup */
	scrubbed = tvs_vault_scrub(s) == 0;
	audit_rotation(db, new_path, tvs_vault_master_id(old), tvs_vault_master_id(neu), n);
	if (!scrubbed)
		fprintf(stderr, "tvs keys rotate: warning: %s\n", tvs_errmsg());
	json_t *o = json_pack("{s:I, s:s, s:s, s:b}", "rewrapped", (json_int_t)n, "from",
			      tvs_vault_master_id(old), "to", tvs_vault_master_id(neu), "wal_scrubbed", scrubbed);
	rc = print_json(o);
done:
	tvs_store_close(s);
	tvs_vault_destroy(neu);
	tvs_vault_destroy(old);
	return rc;
}

int tvs_cli_keys(int argc, char **argv)
{
	if (argc < 2) {
		fputs(KEYS_USAGE, stderr);
		return TVS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(KEYS_USAGE, stdout);
		return TVS_EXIT_OK;
	}
	if (!strcmp(argv[1], "init"))
		return keys_init(argc - 1, argv + 1);
	if (!strcmp(argv[1], "rotate"))
		return keys_rotate(argc - 1, argv + 1);
	fprintf(stderr, "tvs keys: unknown subcommand '%s'\n\n%s", argv[1], KEYS_USAGE);
	return TVS_EXIT_USAGE;
}
