/*
 * The tvs command: one function per subcommand. Each returns the process
 * exit status: 0 success, 1 runtime failure (bad image, missing model),
 * 2 usage error. They print results to stdout and diagnostics to stderr.
 */
#ifndef TVS_CLI_H
#define TVS_CLI_H

#include <stddef.h>

#define TVS_EXIT_OK 0
#define TVS_EXIT_FAIL 1
#define TVS_EXIT_USAGE 2

int tvs_cli_detect(int argc, char **argv);
int tvs_cli_compare(int argc, char **argv);
int tvs_cli_eval(int argc, char **argv);
int tvs_cli_eval_ident(int argc, char **argv); /* src/cli/cmd_ident.c */
int tvs_cli_serve(int argc, char **argv);      /* src/cli/cmd_serve.c */
int tvs_cli_user(int argc, char **argv);       /* src/cli/cmd_serve.c */
int tvs_cli_demo(int argc, char **argv);       /* src/cli/cmd_demo.c */
int tvs_cli_keys(int argc, char **argv);       /* src/cli/cmd_keys.c */
int tvs_cli_retention(int argc, char **argv);  /* src/cli/cmd_retention.c */
int tvs_cli_audit(int argc, char **argv);      /* src/cli/cmd_audit.c */
int tvs_cli_mrz(int argc, char **argv);        /* src/cli/cmd_mrz.c */
int tvs_cli_manifest(int argc, char **argv);   /* src/cli/cmd_manifest.c */

/* ---- a running service (cmd_serve.c), shared by serve and demo ---- */

#include <stdio.h>
#include "tvs/svc.h"

struct tvs_cli_server_opts {
	tvs_svc_config svc;
	const char *bind;
	int port;
	int queue;
	size_t max_body;
	FILE *log; /* NULL: no request log */
};

struct tvs_cli_server {
	tvs_svc_t *svc;
	tvs_http_server_t *http;
	int port;
};

/* Parse serve's options (flags, TVS_* environment, --config file) into *o.
 * Returns -1 to carry on, else an exit status (help printed, usage error). */
int tvs_cli_server_parse(int argc, char **argv, const char *cmd, const char *usage,
			 struct tvs_cli_server_opts *o, const char **port_file);
/* Start the service and its HTTP server; 0 or an exit status (reason printed). */
int tvs_cli_server_start(struct tvs_cli_server *srv, struct tvs_cli_server_opts *o);
/* The master key file the commands expect beside a store without
 * --key-file: the store's path + ".key", written into buf. */
const char *tvs_cli_key_beside(const char *db_url, char *buf, size_t cap);
/* Block until SIGINT or SIGTERM. */
void tvs_cli_server_wait(void);
void tvs_cli_server_stop(struct tvs_cli_server *srv);

/* Parse a --threads value: 1..256. Returns 0 or -1. */
int tvs_cli_parse_threads(const char *s, int *out);

/* A value option of a table-driven command line: --name VALUE or --name=VALUE. */
struct tvs_cli_opt {
	const char *name;
	const char **dst; /* receives a pointer into argv */
};

/* Parse argv[1..argc) against tab. Returns 0, 1 if --help/-h was given,
 * TVS_CLI_OPT_UNKNOWN or TVS_CLI_OPT_NOVALUE with *bad = the argument. */
#define TVS_CLI_OPT_UNKNOWN (-1)
#define TVS_CLI_OPT_NOVALUE (-2)
int tvs_cli_parse_opts(int argc, char **argv, const struct tvs_cli_opt *tab, size_t n, const char **bad);

/* tvs_cli_parse_opts, then the usual replies: --help prints usage to stdout
 * (returns TVS_EXIT_OK), a bad argument prints a usage error (returns
 * TVS_EXIT_USAGE); -1 means carry on. */
int tvs_cli_parse_opts_or_exit(int argc, char **argv, const struct tvs_cli_opt *tab, size_t n, const char *cmd,
			       const char *usage);

/* Parse an --align value (faceapi | rotated) into TVS_ALIGN_*. Returns 0 or -1. */
int tvs_cli_parse_align(const char *s, int *out);

/* ---- the face a dataset photo is about (subject.c) ---- */

#include "tvs/face.h"

#define TVS_CLI_PRIMARY_MIN_SCORE 0.5 /* face-api's default */
#define TVS_CLI_RETRY_MIN_SCORE 0.2   /* the engine must be created with this */
/* x, y, width, height as fractions of the photo: on LFW's 250x250
 * deep-funneled photos it covers brow to mouth (checked against detections) */
extern const double tvs_cli_centre_box[4];

enum tvs_cli_route { TVS_CLI_ROUTE_DETECTED = 0, TVS_CLI_ROUTE_RETRY, TVS_CLI_ROUTE_CENTRE_BOX, TVS_CLI_ROUTES };

/* Detect (engine at TVS_CLI_RETRY_MIN_SCORE) and describe the face nearest
 * the centre above the primary score, else above the retry score, else the
 * centre box. faces is scratch for max_faces detections. Returns the route
 * (>= 0) and *index (the detection used, -1 for the box), or a negative code. */
int tvs_cli_describe_subject(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max_faces,
			     tvs_face *out, int *index);

/* ---- descriptor cache (desc_cache.c; format at the top of that file) ---- */

/* One cache entry: rel is the path relative to the dataset root and desc
 * its descriptor, both borrowed for the call; route is -1 (no descriptor)
 * or an enum tvs_cli_route. Return 0 to go on, or a negative code to stop
 * the read with it. */
typedef int (*tvs_cli_cache_entry_fn)(void *arg, const char *rel, int route, const float *desc);

/* Entry i of what to write: return 1 and fill *rel, *route, *desc (borrowed
 * until the write returns), or 0 to leave entry i out. */
typedef int (*tvs_cli_cache_get_fn)(void *arg, size_t i, const char **rel, int *route, const float **desc);

/* Call fn for each entry of the cache at path. A missing file is no error
 * (no calls); a malformed one is TVS_EFORMAT. Returns 0 or a negative code. */
int tvs_cli_desc_cache_read(const char *path, tvs_cli_cache_entry_fn fn, void *arg);

/* Write entries 0..n) chosen by get to path, via path.tmp and rename. */
int tvs_cli_desc_cache_write(const char *path, size_t n, tvs_cli_cache_get_fn get, void *arg);

/* Print "<cmd>: <message>", a blank line and usage to stderr; returns
 * TVS_EXIT_USAGE. */
int tvs_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Monotonic seconds, for the reports' timings. */
double tvs_cli_now_s(void);

/* ---- JSON reports (json_out.c) ---- */

#include <jansson.h>

/* obj[key] = v (stolen); sets *bad if v is NULL or the set fails. */
void tvs_cli_jset(json_t *obj, const char *key, json_t *v, int *bad);
/* Append v (stolen) to arr; sets *bad on failure. */
void tvs_cli_jpush(json_t *arr, json_t *v, int *bad);
/* A finite real, or null. */
json_t *tvs_cli_jreal(double v);
/* Indented JSON to the file out, or stdout if out is NULL. */
int tvs_cli_write_json(json_t *root, const char *out);

/* Default model folder: $TVS_MODELS, else ./models/model. */
const char *tvs_cli_model_dir(void);

/* Number of online CPUs (at least 1). */
int tvs_cli_ncpu(void);

#endif
