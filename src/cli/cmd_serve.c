/*
 * tvs serve: the verification service on libmicrohttpd and the store, and
 * tvs user add: how the first admin gets in.
 *
 * Settings come from, in rising precedence: defaults, a config file
 * (--config; "key = value" lines, keys as the long options without "--"),
 * environment variables (TVS_<KEY>, upper case, '-' as '_') and flags. The
 * server stops cleanly on SIGTERM or SIGINT: streams end, queued requests
 * finish, then the store closes. With --tls-cert and --tls-key it serves
 * HTTPS only (the HTTP layer reads and checks the files).
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/svc.h"
#include "tvs/vault.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SERVE_USAGE[] =
	"usage: tvs serve [options]\n"
	"\n"
	"  --db URL            store: a SQLite path or sqlite:PATH (default tvs.db)\n"
	"  --key-file FILE     master key sealing every image and template, mode 0600\n"
	"                      (default: the store's path + .key, created on first start)\n"
	"  --bind ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
	"  --port N            TCP port, 0 for any free one (default 8080)\n"
	"  --port-file FILE    write the bound port here once listening\n"
	"  --workers N         inference and database workers (default 2)\n"
	"  --queue N           requests queued for workers before 503 (default 64)\n"
	"  --max-body BYTES    largest request body (default 12582912 = 12 MiB)\n"
	"  --models DIR        face-api weights (default models/model)\n"
	"  --calibration FILE  thresholds by error rate (default data/calibration/lfw-default.json)\n"
	"  --country CODE      ISO 3166 alpha-3 of the deployment; its nationals are citizens (default USA)\n"
	"  --fpir X            1:N target false positive identification rate (default 0.003)\n"
	"  --fmr X             1:1 target false match rate (default 0.001)\n"
	"  --margin X          cosine lead over the runner-up needed to match (default 0.03)\n"
	"  --session-ttl S     officer session lifetime in seconds (default 28800)\n"
	"  --log FILE          request log, one JSON line each (default: stderr; 'off' for none)\n"
	"  --tls-cert FILE     serve HTTPS (TLS 1.2/1.3) with this PEM certificate (chain after it)\n"
	"  --tls-key FILE      its PEM private key, unencrypted; refused unless mode 0600 or 0400\n"
	"  --rule-set R        who is photographed and what is kept: final-2025 (default) or pilot-2018\n"
	"  --retention-interval S  purge what is due every S seconds (default 60; 0: only by\n"
	"                      POST /v1/retention/run or tvs retention run)\n"
	"  --non-citizen-years Y   a matched non-citizen's record and photo (default 75)\n"
	"  --retention-batch N encounters purged per transaction (default 256)\n"
	"  --gallery-poll MS   look for queued gallery builds every MS ms (default 1000; a\n"
	"                      manifest or portrait sent to this node is built at once)\n"
	"  --config FILE       read settings from FILE (key = value lines)\n"
	"\n"
	"Every option can also be set as TVS_<NAME> in the environment (TVS_DB, TVS_PORT,\n"
	"TVS_MAX_BODY, ...); flags win over the environment, which wins over the file.\n";

enum {
	O_DB, O_BIND, O_PORT, O_PORT_FILE, O_WORKERS, O_QUEUE, O_MAX_BODY, O_MODELS, O_CALIB, O_COUNTRY, O_FPIR,
	O_FMR, O_MARGIN, O_TTL, O_LOG, O_CONFIG, O_KEY_FILE, O_TLS_CERT, O_TLS_KEY, O_RULE_SET,
	O_RETENTION_INTERVAL, O_NON_CITIZEN_YEARS, O_RETENTION_BATCH, O_GALLERY_POLL, O_COUNT
};
static const char *const opt_names[O_COUNT] = { "db",	   "bind",  "port",	  "port-file", "workers",
						"queue",   "max-body", "models",  "calibration", "country",
						"fpir",    "fmr",   "margin",	  "session-ttl", "log",
						"config",  "key-file", "tls-cert", "tls-key", "rule-set",
						"retention-interval", "non-citizen-years", "retention-batch",
						"gallery-poll" };

/* Config-file values live here for the life of the process. */
static char *file_vals[O_COUNT];

/* --tls-cert and --tls-key as tvs_cli_server_parse() found them, for
 * tvs_cli_server_start() (struct tvs_cli_server_opts has no place for them);
 * NULL: plain HTTP. Borrowed from argv, the environment or file_vals. */
static const char *tls_cert, *tls_key;

static int read_config(const char *path, const char **vals)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "tvs serve: config %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *eq, *v, *end;
		int i;

		lineno++;
		while (isspace((unsigned char)*k))
			k++;
		if (!*k || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			fprintf(stderr, "tvs serve: %s:%d: expected key = value\n", path, lineno);
			goto bad;
		}
		for (end = eq; end > k && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		for (i = 0; i < O_COUNT && strcmp(k, opt_names[i]); i++)
			;
		if (i == O_COUNT || i == O_CONFIG) {
			fprintf(stderr, "tvs serve: %s:%d: unknown key '%s'\n", path, lineno, k);
			goto bad;
		}
		free(file_vals[i]);
		file_vals[i] = strdup(v);
		if (!vals[i])
			vals[i] = file_vals[i];
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	return -1;
}

static int parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "tvs serve: %s must be a number in [%g, %g], got '%s'\n", name, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* SIGINT and SIGTERM are blocked before any server thread exists, so every
 * thread inherits the mask and the signal stays pending until
 * tvs_cli_server_wait() takes it with sigwait(). A handler would race: a
 * signal landing on a libmicrohttpd thread before the handler was installed
 * killed the process, and one landing after could leave pause() asleep. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

/* Without --key-file the master key sits beside the store (PATH.key) and is
 * made on first start, so that one command runs a sealed store. Production
 * keeps it elsewhere: a stolen disk with both files opens everything. */
const char *tvs_cli_key_beside(const char *db_url, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.key", !strncmp(db_url, "sqlite:", 7) ? db_url + 7 : db_url);
	return buf;
}

static int default_key_file(const char *cmd, const char *db_url, const char **out)
{
	static char path[4096];
	const char *db = !strncmp(db_url, "sqlite:", 7) ? db_url + 7 : db_url;
	int rc;

	if (!*db || !strcmp(db, ":memory:")) {
		fprintf(stderr, "%s: an in-memory store needs --key-file\n", cmd);
		return -1;
	}
	*out = tvs_cli_key_beside(db_url, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	rc = tvs_vault_create_key_file(path);
	if (rc) {
		fprintf(stderr, "%s: master key %s: %s\n", cmd, path, tvs_errmsg());
		return -1;
	}
	fprintf(stderr, "%s: created master key %s (mode 0600); without it the stored biometrics cannot be read\n",
		cmd, path);
	return 0;
}

int tvs_cli_server_start(struct tvs_cli_server *srv, struct tvs_cli_server_opts *o)
{
	tvs_http_config hc;
	size_t nroutes;
	const tvs_http_route *routes = tvs_svc_routes(&nroutes);
	int rc;

	sigset_t set;

	memset(srv, 0, sizeof(*srv));
	if (!o->svc.key_file && default_key_file("tvs serve", o->svc.db_url, &o->svc.key_file))
		return TVS_EXIT_FAIL;
	stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = tvs_svc_create(&srv->svc, &o->svc);
	if (rc) {
		fprintf(stderr, "tvs serve: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		return TVS_EXIT_FAIL;
	}
	tvs_http_default_config(&hc);
	hc.bind = o->bind;
	hc.port = o->port;
	hc.workers = o->svc.workers;
	hc.queue_max = o->queue;
	hc.max_body = o->max_body;
	hc.log = o->log;
	hc.worker_init = tvs_svc_worker_init;
	hc.worker_fini = tvs_svc_worker_fini;
	hc.tls_cert = tls_cert;
	hc.tls_key = tls_key;
	rc = tvs_http_start(&srv->http, &hc, routes, nroutes, srv->svc);
	if (rc) {
		fprintf(stderr, "tvs serve: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		tvs_svc_destroy(srv->svc);
		srv->svc = NULL;
		return TVS_EXIT_FAIL;
	}
	srv->port = tvs_http_port(srv->http);
	return 0;
}

void tvs_cli_server_stop(struct tvs_cli_server *srv)
{
	tvs_svc_shutdown_streams(srv->svc);
	tvs_http_stop(srv->http);
	tvs_svc_destroy(srv->svc);
	memset(srv, 0, sizeof(*srv));
}

void tvs_cli_server_wait(void)
{
	sigset_t set;
	int sig;

	stop_signals(&set);
	while (sigwait(&set, &sig) != 0)
		;
}

/* Write the port to path via a temporary file and rename, so a reader never
 * sees a half-written number. */
static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "tvs serve: port file %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int tvs_cli_server_parse(int argc, char **argv, const char *cmd, const char *usage, struct tvs_cli_server_opts *o,
			 const char **port_file)
{
	const char *vals[O_COUNT] = { 0 };
	struct tvs_cli_opt tab[O_COUNT];
	double num;
	int rc;

	for (int i = 0; i < O_COUNT; i++) {
		static char flag[O_COUNT][24];

		snprintf(flag[i], sizeof(flag[i]), "--%s", opt_names[i]);
		tab[i].name = flag[i];
		tab[i].dst = &vals[i];
	}
	rc = tvs_cli_parse_opts_or_exit(argc, argv, tab, O_COUNT, cmd, usage);
	if (rc >= 0)
		return rc;
	for (int i = 0; i < O_COUNT; i++) {
		char env[40], *p;
		const char *e;

		if (vals[i])
			continue;
		snprintf(env, sizeof(env), "TVS_%s", opt_names[i]);
		for (p = env; *p; p++)
			*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		e = getenv(env);
		if (e && *e)
			vals[i] = e;
	}
	if (!vals[O_MODELS])
		vals[O_MODELS] = tvs_cli_model_dir();
	if (vals[O_CONFIG] && read_config(vals[O_CONFIG], vals))
		return TVS_EXIT_USAGE;
	tls_cert = tls_key = NULL;
	if (vals[O_TLS_CERT] || vals[O_TLS_KEY]) {
		/* tvs demo shares this parser, but its own client speaks plain HTTP */
		if (strcmp(cmd, "tvs serve") != 0)
			return tvs_cli_usage_error(cmd, usage, "--tls-cert and --tls-key are for tvs serve only");
		if (!vals[O_TLS_CERT] || !vals[O_TLS_KEY])
			return tvs_cli_usage_error(cmd, usage, "--tls-cert and --tls-key go together (missing %s)",
						   vals[O_TLS_CERT] ? "--tls-key" : "--tls-cert");
		tls_cert = vals[O_TLS_CERT];
		tls_key = vals[O_TLS_KEY];
	}

	memset(o, 0, sizeof(*o));
	tvs_svc_default_config(&o->svc);
	o->bind = vals[O_BIND] ? vals[O_BIND] : "127.0.0.1";
	o->port = 8080;
	o->queue = 64;
	o->max_body = 12u << 20;
	o->log = stderr;
	if (vals[O_DB])
		o->svc.db_url = vals[O_DB];
	o->svc.key_file = vals[O_KEY_FILE];
	if (vals[O_RULE_SET])
		o->svc.rule_set = vals[O_RULE_SET];
	if (vals[O_MODELS])
		o->svc.model_dir = vals[O_MODELS];
	if (vals[O_CALIB])
		o->svc.calibration = vals[O_CALIB];
	if (vals[O_COUNTRY])
		o->svc.country = vals[O_COUNTRY];
#define NUM(idx, lo, hi, dst)                                                    \
	if (vals[idx]) {                                                         \
		if (parse_num(opt_names[idx], vals[idx], lo, hi, &num))          \
			return TVS_EXIT_USAGE;                                   \
		dst = num;                                                       \
	}
	NUM(O_PORT, 0, 65535, o->port)
	NUM(O_WORKERS, 1, 64, o->svc.workers)
	NUM(O_QUEUE, 1, 100000, o->queue)
	NUM(O_MAX_BODY, 1024, 1 << 30, o->max_body)
	NUM(O_FPIR, 1e-9, 0.5, o->svc.fpir)
	NUM(O_FMR, 1e-9, 0.5, o->svc.fmr)
	NUM(O_MARGIN, 0, 0.5, o->svc.margin)
	NUM(O_TTL, 60, 7 * 86400, o->svc.session_ttl_s)
	NUM(O_RETENTION_INTERVAL, 0, 86400, o->svc.retention_interval_s)
	NUM(O_NON_CITIZEN_YEARS, 0.001, 1000, o->svc.non_citizen_years)
	NUM(O_RETENTION_BATCH, 1, 100000, o->svc.retention_batch)
	NUM(O_GALLERY_POLL, 10, 3600000, o->svc.gallery_poll_ms)
#undef NUM
	if (vals[O_LOG] && !strcmp(vals[O_LOG], "off")) {
		o->log = NULL;
	} else if (vals[O_LOG]) {
		o->log = fopen(vals[O_LOG], "a");
		if (!o->log) {
			fprintf(stderr, "%s: log %s: %s\n", cmd, vals[O_LOG], strerror(errno));
			return TVS_EXIT_FAIL;
		}
	}
	*port_file = vals[O_PORT_FILE];
	return -1;
}

int tvs_cli_serve(int argc, char **argv)
{
	struct tvs_cli_server_opts o;
	struct tvs_cli_server srv;
	const char *port_file = NULL;
	int rc = tvs_cli_server_parse(argc, argv, "tvs serve", SERVE_USAGE, &o, &port_file);

	if (rc >= 0)
		return rc;
	rc = tvs_cli_server_start(&srv, &o);
	if (rc)
		return rc;
	fprintf(stderr, "tvs serve: listening on %s://%s:%d (store %s, %d workers)\n", tls_cert ? "https" : "http",
		o.bind, srv.port, o.svc.db_url, o.svc.workers);
	if (port_file && write_port_file(port_file, srv.port)) {
		tvs_cli_server_stop(&srv);
		return TVS_EXIT_FAIL;
	}
	tvs_cli_server_wait();
	fprintf(stderr, "tvs serve: stopping\n");
	tvs_cli_server_stop(&srv);
	if (o.log && o.log != stderr)
		fclose(o.log);
	return TVS_EXIT_OK;
}

/* ------------------------------------------------------------ tvs user */

static const char USER_USAGE[] =
	"usage: tvs user add --db URL --username NAME --role ROLE (--password-file FILE | --password-stdin)\n"
	"\n"
	"Add an officer, supervisor, auditor or admin straight into the store (how the\n"
	"first admin gets in; later users are added through POST /v1/users).\n"
	"The password (12 characters or more) is read from the first line of FILE or stdin.\n";

static int read_password(const char *file, char *out, size_t cap)
{
	FILE *f = file ? fopen(file, "r") : stdin;
	size_t n;

	if (!f) {
		fprintf(stderr, "tvs user: %s: %s\n", file, strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	if (file)
		fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

int tvs_cli_user(int argc, char **argv)
{
	const char *db = NULL, *user = NULL, *role = NULL, *pwfile = NULL, *pwstdin = NULL;
	struct tvs_cli_opt tab[] = { { "--db", &db },		  { "--username", &user },
				     { "--role", &role },	  { "--password-file", &pwfile } };
	char pw[1100];
	int rc;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(USER_USAGE, stdout);
			return TVS_EXIT_OK;
		}
		return tvs_cli_usage_error("tvs user", USER_USAGE, "expected 'add'");
	}
	/* --password-stdin takes no value: strip it before the table parse */
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--password-stdin")) {
			pwstdin = argv[i];
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			break;
		}
	rc = tvs_cli_parse_opts_or_exit(argc - 1, argv + 1, tab, sizeof(tab) / sizeof(tab[0]), "tvs user add",
					USER_USAGE);
	if (rc >= 0)
		return rc;
	if (!db)
		db = getenv("TVS_DB");
	if (!db || !user || !role || (!pwfile && !pwstdin) || (pwfile && pwstdin))
		return tvs_cli_usage_error("tvs user add", USER_USAGE,
					   "--db, --username, --role and one password source are required");
	if (read_password(pwfile, pw, sizeof(pw)))
		return TVS_EXIT_FAIL;
	rc = tvs_svc_user_add(db, user, role, pw);
	memset(pw, 0, sizeof(pw));
	if (rc) {
		fprintf(stderr, "tvs user add: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		return rc == TVS_EINVAL ? TVS_EXIT_USAGE : TVS_EXIT_FAIL;
	}
	printf("{\"username\":\"%s\",\"role\":\"%s\"}\n", user, role);
	return TVS_EXIT_OK;
}
