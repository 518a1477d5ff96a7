/*
 * The tvs command: one function per subcommand. Each returns the process
 * exit status: 0 success, 1 runtime failure (bad image, missing model),
 * 2 usage error. They print results to stdout and diagnostics to stderr.
 */
#ifndef TVS_CLI_H
#define TVS_CLI_H

#define TVS_EXIT_OK 0
#define TVS_EXIT_FAIL 1
#define TVS_EXIT_USAGE 2

int tvs_cli_detect(int argc, char **argv);
int tvs_cli_compare(int argc, char **argv);
int tvs_cli_eval(int argc, char **argv);
int tvs_cli_eval_ident(int argc, char **argv); /* src/cli/cmd_ident.c */

/* Parse a --threads value: 1..256. Returns 0 or -1. */
int tvs_cli_parse_threads(const char *s, int *out);

/* Parse an --align value (faceapi | rotated) into TVS_ALIGN_*. Returns 0 or -1. */
int tvs_cli_parse_align(const char *s, int *out);

/* Default model folder: $TVS_MODELS, else ./models/model. */
const char *tvs_cli_model_dir(void);

/* Number of online CPUs (at least 1). */
int tvs_cli_ncpu(void);

#endif
