/*
 * tvs: the command-line entry point. Dispatches to one subcommand per file
 * in src/cli/. Library code never prints; this layer turns error codes and
 * tvs_errmsg() details into messages and exit statuses.
 */
#include "cli.h"
#include "tvs/face.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
	"usage: tvs <command> [options]\n"
	"\n"
	"commands:\n"
	"  demo                  start the service on a demo world and print how to try it\n"
	"  serve                 the verification service (HTTP API on SQLite)\n"
	"  user     add ...      add a user to a store (the first admin)\n"
	"  keys     init|rotate  make a master key file; re-wrap every data key under a new one\n"
	"  retention run|report  purge what retention says is due; what is held, per category\n"
	"  audit    verify|export|report  check the audit chain; export it; access per device and user\n"
	"  mrz      LINE...      parse an ICAO 9303 machine-readable zone; every field and check as JSON\n"
	"  manifest parse FILE   parse a UN/EDIFACT PAXLST manifest into the service's JSON form\n"
	"  detect   IMAGE...     detect faces, landmarks and descriptors; one JSON line per image\n"
	"  compare  A B          compare the largest face of two photos\n"
	"  eval     pairs ...    LFW-protocol 1:1 verification accuracy\n"
	"  eval     ident ...    1:N identification (NIST IR 8381): FNIR at FPIR, DET plot\n"
	"\n"
	"Run 'tvs <command> --help' for a command's options.\n"
	"\n"
	"exit status: 0 success, 1 runtime failure (unreadable image, missing model,\n"
	"no face where one is required), 2 usage error.\n"
	"environment: TVS_MODELS (model folder, default ./models/model),\n"
	"             TVS_SIMD=0|1 (cap SIMD level: 0 scalar, 1 AVX2)\n";

int tvs_cli_parse_threads(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 256)
		return -1;
	*out = (int)v;
	return 0;
}

int tvs_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage);
	return TVS_EXIT_USAGE;
}

double tvs_cli_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tvs_cli_parse_opts(int argc, char **argv, const struct tvs_cli_opt *tab, size_t n, const char **bad)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		for (k = 0; k < n; k++) {
			size_t len = strlen(tab[k].name);

			if (strncmp(a, tab[k].name, len) != 0 || (a[len] != '\0' && a[len] != '='))
				continue;
			if (a[len] == '=') {
				*tab[k].dst = a + len + 1;
			} else {
				if (i + 1 >= argc) {
					*bad = tab[k].name;
					return TVS_CLI_OPT_NOVALUE;
				}
				*tab[k].dst = argv[++i];
			}
			break;
		}
		if (k == n) {
			*bad = a;
			return TVS_CLI_OPT_UNKNOWN;
		}
	}
	return 0;
}

int tvs_cli_parse_opts_or_exit(int argc, char **argv, const struct tvs_cli_opt *tab, size_t n, const char *cmd,
			       const char *usage)
{
	const char *bad = NULL;
	int rc = tvs_cli_parse_opts(argc, argv, tab, n, &bad);

	if (rc == 1) {
		fputs(usage, stdout);
		return TVS_EXIT_OK;
	}
	if (rc == TVS_CLI_OPT_NOVALUE)
		return tvs_cli_usage_error(cmd, usage, "%s needs a value", bad);
	if (rc == TVS_CLI_OPT_UNKNOWN)
		return tvs_cli_usage_error(cmd, usage, "unknown argument '%s'", bad);
	return -1;
}

int tvs_cli_parse_align(const char *s, int *out)
{
	if (!strcmp(s, "faceapi"))
		*out = TVS_ALIGN_FACEAPI;
	else if (!strcmp(s, "rotated"))
		*out = TVS_ALIGN_ROTATED;
	else
		return -1;
	return 0;
}

const char *tvs_cli_model_dir(void)
{
	const char *d = getenv("TVS_MODELS");
	return d && *d ? d : "models/model";
}

int tvs_cli_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(USAGE, stderr);
		return TVS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(USAGE, stdout);
		return TVS_EXIT_OK;
	}
	if (!strcmp(cmd, "detect"))
		return tvs_cli_detect(argc - 1, argv + 1);
	if (!strcmp(cmd, "compare"))
		return tvs_cli_compare(argc - 1, argv + 1);
	if (!strcmp(cmd, "eval"))
		return tvs_cli_eval(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return tvs_cli_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo"))
		return tvs_cli_demo(argc - 1, argv + 1);
	if (!strcmp(cmd, "user"))
		return tvs_cli_user(argc - 1, argv + 1);
	if (!strcmp(cmd, "keys"))
		return tvs_cli_keys(argc - 1, argv + 1);
	if (!strcmp(cmd, "retention"))
		return tvs_cli_retention(argc - 1, argv + 1);
	if (!strcmp(cmd, "audit"))
		return tvs_cli_audit(argc - 1, argv + 1);
	if (!strcmp(cmd, "mrz"))
		return tvs_cli_mrz(argc - 1, argv + 1);
	if (!strcmp(cmd, "manifest"))
		return tvs_cli_manifest(argc - 1, argv + 1);
	fprintf(stderr, "tvs: unknown command '%s'\n\n%s", cmd, USAGE);
	return TVS_EXIT_USAGE;
}
