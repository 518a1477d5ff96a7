/*
 * tvs eval pairs: verification accuracy on the LFW View 2 protocol.
 *
 * The run has three phases. (1) Parse pairs.txt (tvs_verify_eval_parse_
 * lfw_pairs, which also lists the unique images). (2) Compute one
 * descriptor per unique image on a tvs_pool, one face context and one face
 * buffer per worker, so each image is decoded and described exactly once
 * however many pairs use it. (3) Score each pair as -distance and hand the
 * scores to src/match/verify_eval.c; print one JSON object.
 *
 * Which face: LFW photos are 250x250 and centred on the subject, and many
 * hold bystanders, so we take the detected face whose box centre is nearest
 * the image centre, not the best-scoring one.
 *
 * No face: face-api misses a face in roughly 1 in 10 LFW photos at its
 * default min_score 0.5. Such an image is retried at min_score 0.2, and if
 * that finds nothing too, described from a fixed centre box (CENTRE_BOX, a
 * fraction of the image size: x = y = 70, w = h = 110 on 250x250
 * deep-funneled LFW). That box was checked on 20 LFW photos with a detected
 * face: the descriptor from the fixed box lay 0.06-0.18 (median 0.09) from
 * the one from the detected box, except one close-up (face box 161x209) at
 * 0.50; the median SSD box of 38 photos, (73, 71, 98, 115), did no better.
 * Drawn on two photos SSD misses (Joe_Dumars_0001, Roberto_Marinho_0001) it
 * spans brows to mouth. The retry costs no second detection pass: the engine
 * runs at min_score 0.2 and the faces are split by score afterwards. That
 * equals two separate passes because both detectors use greedy NMS, where
 * a box can only be suppressed by a higher-scoring one, so boxes scoring
 * under 0.5 never change which boxes above 0.5 survive (as long as fewer
 * than max_faces survive, which is 100). The JSON counts the images taken
 * by each path and names some of the centre-box ones.
 *
 * Calibration (--calibration-out FILE): the service scores by cosine
 * similarity of L2-normalised descriptors (src/match/template.c), not by
 * -distance of raw ones, so each pair is also scored with tvs_match_verify
 * on templates built by tvs_match_template_init, exactly as the service
 * does, and the thresholds at FMR 1e-3 and 1e-4 of those scores are written
 * with tvs_calib_write_json (include/tvs/calib.h). 1e-4 is below what LFW's
 * 3000 impostor pairs can measure and is recorded as not resolvable. An
 * existing FILE is updated, not replaced: its verify points give way to
 * these, its ident points (from `tvs eval ident --calibration-out`) stay,
 * and this command is added to its "command" lines; a FILE of another
 * model is refused (TVS_EMODEL).
 *
 * Cache (--cache FILE): descriptors are first taken from a `tvs eval ident`
 * cache of the same --root (src/cli/desc_cache.c), keyed by
 * "<name>/<name>_NNNN.jpg"; only the images it lacks are described. The
 * cache is only read here: rewriting it with this run's subset of images
 * would drop the entries eval ident put there.
 */
#include "cli.h"

#include "tvs/calib.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/match.h"
#include "tvs/qconv.h"
#include "tvs/img.h"
#include "tvs/nn.h"
#include "tvs/verify_eval.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAIRS_FILE_MAX ((size_t)16 << 20) /* pairs.txt is 150 KB */
#define PRIMARY_MIN_SCORE TVS_CLI_PRIMARY_MIN_SCORE
#define RETRY_MIN_SCORE TVS_CLI_RETRY_MIN_SCORE
#define EXAMPLES_MAX 20
#define DET_POINTS 16

/* x, y, w, h as fractions of the image: 70/250, 70/250, 110/250, 110/250. */
#define CENTRE_BOX tvs_cli_centre_box

static const double TARGET_FMR[2] = {1e-3, 1e-4};

static const char EVAL_USAGE[] =
	"usage: tvs eval pairs --pairs FILE --root DIR [--models DIR] [--threads N]\n"
	"                      [--detector ssd|tiny] [--align faceapi|rotated]\n"
	"                      [--out FILE.json] [--limit-folds K]\n"
	"                      [--calibration-out FILE.json] [--cache FILE]\n"
	"       tvs eval ident --root DIR ...   (1:N identification; see 'tvs eval ident --help')\n"
	"\n"
	"LFW View 2 verification: 10-fold accuracy, TAR at FMR 1e-3 and 1e-4, EER.\n"
	"  --pairs FILE       pairs.txt ('10 300', then per fold 300 same-person\n"
	"                     and 300 different-person lines)\n"
	"  --root DIR         image folder: DIR/<name>/<name>_NNNN.jpg\n"
	"  --models DIR       face-api weights (default $TVS_MODELS or models/model)\n"
	"  --threads N        worker threads, 1..256 (default: online CPUs)\n"
	"  --detector D       ssd (default) or tiny\n"
	"  --align A          faceapi (default) or rotated\n"
	"  --flip yes|no      average each descriptor with its mirror image's (default yes)\n"
	"  --int8 yes|no      int8 SSD 1x1 convs where the CPU has AVX-512 VNNI (default yes)\n"
	"  --out FILE         write the JSON there instead of stdout\n"
	"  --limit-folds K    use only the first K folds (a smoke run; k-fold\n"
	"                     accuracy needs K >= 2)\n"
	"  --calibration-out FILE  write cosine thresholds at FMR 1e-3 and 1e-4\n"
	"                     (include/tvs/calib.h) for the service to load; an\n"
	"                     existing FILE keeps its 1:N (eval ident) points\n"
	"  --cache FILE       read descriptors from a 'tvs eval ident' cache of the\n"
	"                     same --root and engine settings (never written)\n";

enum face_path { PATH_DETECTED = 0, PATH_RETRY = 1, PATH_CENTRE_BOX = 2, PATH_COUNT };

static const char *const PATH_NAME[PATH_COUNT] = {"detected", "retry_min_score_0.2", "centre_box"};

typedef struct eval_opts {
	const char *pairs, *root, *models, *out, *calib_out, *cache;
	const char *threads_s, *detector_s, *align_s, *limit_s, *flip_s, *int8_s;
	int threads, detector, align, limit_folds, flip, int8;
} eval_opts;

typedef struct image_result {
	float desc[TVS_FACE_DESC_DIM];
	int path;        /* enum face_path */
	int not_top;     /* the centre rule passed over a better-scoring face */
	int have;        /* desc known (from the cache or computed) */
} image_result;

/* Shared by the workers: read-only inputs, per-image results (each written
 * by one task only) and the first error, under mu. */
typedef struct describe_job {
	const tvs_lfw_pairs *pp;
	const char *root;
	int root_len;
	tvs_face_ctx_t **ctx; /* [worker] */
	tvs_face **faces;     /* [worker][max_faces] */
	int max_faces;
	image_result *res;    /* [image] */
	size_t *todo;         /* [task]: the image each task describes */
	atomic_int failed;
	pthread_mutex_t mu;
	int err_rc;
	size_t err_image;
	char err_msg[512];
} describe_job;

/* ------------------------------------------------------------ options */

#define usage_error(...) tvs_cli_usage_error("tvs eval", EVAL_USAGE, __VA_ARGS__)

/* Fill *o from argv (argv[0] == "pairs"); returns -1 to continue, or the
 * exit status to stop with (0 after --help, 2 on a usage error). */
static int parse_opts(int argc, char **argv, eval_opts *o)
{
	const struct tvs_cli_opt tab[] = {
		{"--pairs", &o->pairs},         {"--root", &o->root},        {"--models", &o->models},
		{"--threads", &o->threads_s},   {"--detector", &o->detector_s}, {"--align", &o->align_s},
		{"--out", &o->out},             {"--limit-folds", &o->limit_s}, {"--flip", &o->flip_s},
		{"--int8", &o->int8_s},         {"--calibration-out", &o->calib_out}, {"--cache", &o->cache},
	};
	char *end;
	long v;

	memset(o, 0, sizeof(*o));
	int prc = tvs_cli_parse_opts_or_exit(argc, argv, tab, sizeof(tab) / sizeof(tab[0]), "tvs eval", EVAL_USAGE);
	if (prc >= 0)
		return prc;
	if (!o->pairs)
		return usage_error("%s is required", "--pairs");
	if (!o->root)
		return usage_error("%s is required", "--root");
	if (!o->models)
		o->models = tvs_cli_model_dir();
	o->threads = tvs_cli_ncpu();
	if (o->threads_s && tvs_cli_parse_threads(o->threads_s, &o->threads) != 0)
		return usage_error("--threads '%s': want 1..256", o->threads_s);
	o->detector = TVS_DETECTOR_SSD;
	if (o->detector_s) {
		if (!strcmp(o->detector_s, "tiny"))
			o->detector = TVS_DETECTOR_TINY;
		else if (strcmp(o->detector_s, "ssd") != 0)
			return usage_error("--detector '%s': want ssd or tiny", o->detector_s);
	}
	o->align = TVS_ALIGN_FACEAPI;
	if (o->align_s) {
		if (!strcmp(o->align_s, "rotated"))
			o->align = TVS_ALIGN_ROTATED;
		else if (strcmp(o->align_s, "faceapi") != 0)
			return usage_error("--align '%s': want faceapi or rotated", o->align_s);
	}
	if (o->flip_s) {
		if (!strcmp(o->flip_s, "yes"))
			o->flip = 1;
		else if (strcmp(o->flip_s, "no") != 0)
			return usage_error("--flip '%s': want yes or no", o->flip_s);
	}
	if (o->int8_s) {
		if (!strcmp(o->int8_s, "yes"))
			o->int8 = 1;
		else if (strcmp(o->int8_s, "no") != 0)
			return usage_error("--int8 '%s': want yes or no", o->int8_s);
	}
	if (o->limit_s) {
		errno = 0;
		v = strtol(o->limit_s, &end, 10);
		if (errno || end == o->limit_s || *end || v < 1 || v > TVS_VERIFY_EVAL_MAX_FOLDS)
			return usage_error("--limit-folds '%s': want 1..64", o->limit_s);
		o->limit_folds = (int)v;
	}
	return -1;
}

/* ------------------------------------------------------------ input */

/* Read at most max bytes of path into a malloc'd buffer (caller frees). */
static int read_bounded(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f;
	char *buf;
	size_t n;
	int rc = 0;

	*out = NULL;
	*len = 0;
	f = fopen(path, "rb");
	if (!f)
		return tvs__err(errno == ENOENT ? TVS_ENOTFOUND : TVS_EIO, "%s: %s", path, strerror(errno));
	buf = malloc(max + 1);
	if (!buf) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_alloc;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		rc = tvs__err(TVS_EIO, "%s: read error", path);
		goto fail_read;
	}
	if (n > max) {
		rc = tvs__err(TVS_ETOOBIG, "%s: larger than %zu bytes", path, max);
		goto fail_read;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;

fail_read:
	free(buf);
fail_alloc:
	fclose(f);
	return rc;
}

static int image_path(const describe_job *job, size_t i, char *buf, size_t cap)
{
	const tvs_lfw_image *im = &job->pp->images[i];
	int n = snprintf(buf, cap, "%.*s/%s/%s_%04d.jpg", job->root_len, job->root, im->name, im->name,
			 im->num);

	if (n < 0 || (size_t)n >= cap)
		return tvs__err(TVS_ETOOBIG, "image path under '%s' too long", job->root);
	return 0;
}

/* ------------------------------------------------------------ describe */

static void record_error(describe_job *job, size_t image, int rc)
{
	pthread_mutex_lock(&job->mu);
	if (!job->err_rc) {
		job->err_rc = rc;
		job->err_image = image;
		snprintf(job->err_msg, sizeof(job->err_msg), "%s", tvs_errmsg());
	}
	pthread_mutex_unlock(&job->mu);
	atomic_store(&job->failed, 1);
}

static void describe_task(void *arg, int task, int worker)
{
	describe_job *job = arg;
	size_t image = job->todo[task];
	image_result *r = &job->res[image];
	tvs_face_ctx_t *c = job->ctx[worker];
	tvs_face *faces = job->faces[worker], face;
	tvs_image img = {0};
	char path[PATH_MAX];
	int rc, idx = -1;

	if (atomic_load(&job->failed))
		return;
	rc = image_path(job, image, path, sizeof(path));
	if (rc)
		goto fail;
	rc = tvs_img_read_file(path, NULL, &img);
	if (rc)
		goto fail;
	rc = tvs_cli_describe_subject(c, &img, faces, job->max_faces, &face, &idx);
	if (rc >= 0)
		r->path = rc;
	if (rc < 0)
		goto fail_image;
	r->not_top = idx > 0;
	memcpy(r->desc, face.descriptor, sizeof(r->desc));
	r->have = 1;
	tvs_image_free(&img);
	return;

fail_image:
	tvs_image_free(&img);
fail:
	record_error(job, image, rc);
}

/* ------------------------------------------------------------ JSON */

/* Set obj[key] = v, stealing v; a NULL v or a failed set marks *bad. */
typedef struct eval_summary {
	const eval_opts *o;
	const tvs_lfw_pairs *pp;
	const describe_job *job;
	size_t ngen, nimp;
	int have_kfold;
	tvs_kfold_result kfold;
	double best_t, best_acc, default_acc;
	tvs_tar_result tar[2];
	tvs_eer_result eer;
	tvs_det_point det[DET_POINTS];
	size_t ndet;
	size_t path_count[PATH_COUNT], not_top;
	double describe_s, total_s;
} eval_summary;

static json_t *tar_json(const tvs_tar_result *t, int *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = 1;
		return NULL;
	}
	tvs_cli_jset(o, "target_fmr", json_real(t->target_fmr), bad);
	tvs_cli_jset(o, "resolvable", json_boolean(t->resolvable), bad);
	tvs_cli_jset(o, "fmr_resolution", json_real(t->fmr_resolution), bad);
	tvs_cli_jset(o, "tar", json_real(t->tar), bad);
	tvs_cli_jset(o, "fmr", json_real(t->fmr), bad);
	tvs_cli_jset(o, "threshold", tvs_cli_jreal(-t->threshold), bad);
	tvs_cli_jset(o, "genuine_accepted", json_integer((json_int_t)t->genuine_accepted), bad);
	tvs_cli_jset(o, "impostors_accepted", json_integer((json_int_t)t->impostor_accepted), bad);
	if (!t->resolvable)
		tvs_cli_jset(o, "note",
		     json_string("target FMR below the resolution 1/impostor_pairs: threshold is the "
				 "loosest accepting no impostor, set by the single closest impostor pair; "
				 "its TAR is not an estimate at the target"),
		     bad);
	return o;
}

static json_t *summary_json(const eval_summary *s)
{
	const describe_job *job = s->job;
	json_t *root = json_object(), *o, *a;
	char path[PATH_MAX];
	size_t i, shown[PATH_COUNT] = {0};
	int bad = !root, p;

	if (bad)
		return NULL;
	tvs_cli_jset(root, "protocol", json_string("LFW View 2"), &bad);
	tvs_cli_jset(root, "pairs_file", json_string(s->o->pairs), &bad);
	tvs_cli_jset(root, "root", json_string(s->o->root), &bad);
	tvs_cli_jset(root, "pairs", json_integer((json_int_t)s->pp->npairs), &bad);
	tvs_cli_jset(root, "genuine_pairs", json_integer((json_int_t)s->ngen), &bad);
	tvs_cli_jset(root, "impostor_pairs", json_integer((json_int_t)s->nimp), &bad);
	tvs_cli_jset(root, "images", json_integer((json_int_t)s->pp->nimages), &bad);
	tvs_cli_jset(root, "folds", json_integer(s->pp->nfolds), &bad);
	tvs_cli_jset(root, "declared_folds", json_integer(s->pp->declared_folds), &bad);
	tvs_cli_jset(root, "score", json_string("euclidean distance of face-api descriptors"), &bad);
	tvs_cli_jset(root, "decision", json_string("same person iff distance <= threshold"), &bad);

	o = json_object();
	tvs_cli_jset(root, "accuracy", o, &bad);
	if (o && s->have_kfold) {
		tvs_cli_jset(o, "mean", json_real(s->kfold.accuracy_mean), &bad);
		tvs_cli_jset(o, "std", json_real(s->kfold.accuracy_std), &bad);
		tvs_cli_jset(o, "std_kind", json_string("sample (n-1) over folds"), &bad);
		a = json_array();
		tvs_cli_jset(o, "folds", a, &bad);
		for (int f = 0; a && f < s->kfold.nfolds; f++) {
			json_t *fo = json_object();

			tvs_cli_jpush(a, fo, &bad);
			if (!fo)
				continue;
			tvs_cli_jset(fo, "accuracy", json_real(s->kfold.fold_accuracy[f]), &bad);
			tvs_cli_jset(fo, "threshold", tvs_cli_jreal(-s->kfold.fold_threshold[f]), &bad);
			tvs_cli_jset(fo, "pairs", json_integer((json_int_t)s->kfold.fold_pairs[f]), &bad);
		}
	} else if (o) {
		tvs_cli_jset(o, "mean", json_null(), &bad);
		tvs_cli_jset(o, "note", json_string("k-fold accuracy needs at least 2 folds"), &bad);
	}

	o = json_object();
	tvs_cli_jset(root, "best_threshold_in_sample", o, &bad);
	if (o) {
		tvs_cli_jset(o, "threshold", tvs_cli_jreal(-s->best_t), &bad);
		tvs_cli_jset(o, "accuracy", json_real(s->best_acc), &bad);
		tvs_cli_jset(o, "note", json_string("threshold fitted on the same pairs: optimistic"), &bad);
	}
	o = json_object();
	tvs_cli_jset(root, "default_threshold", o, &bad);
	if (o) {
		tvs_cli_jset(o, "threshold", json_real(TVS_FACE_DEFAULT_THRESHOLD), &bad);
		tvs_cli_jset(o, "rule", json_string("face-api: same person iff distance < threshold"), &bad);
		tvs_cli_jset(o, "accuracy", json_real(s->default_acc), &bad);
	}

	a = json_array();
	tvs_cli_jset(root, "tar_at_fmr", a, &bad);
	for (i = 0; a && i < 2; i++)
		tvs_cli_jpush(a, tar_json(&s->tar[i], &bad), &bad);

	o = json_object();
	tvs_cli_jset(root, "eer", o, &bad);
	if (o) {
		tvs_cli_jset(o, "eer", json_real(s->eer.eer), &bad);
		tvs_cli_jset(o, "threshold", tvs_cli_jreal(-s->eer.threshold), &bad);
		tvs_cli_jset(o, "fmr", json_real(s->eer.fmr), &bad);
		tvs_cli_jset(o, "fnmr", json_real(s->eer.fnmr), &bad);
	}
	a = json_array();
	tvs_cli_jset(root, "det", a, &bad);
	for (i = 0; a && i < s->ndet; i++) {
		json_t *d = json_object();

		tvs_cli_jpush(a, d, &bad);
		if (!d)
			continue;
		tvs_cli_jset(d, "fmr", json_real(s->det[i].fmr), &bad);
		tvs_cli_jset(d, "fnmr", json_real(s->det[i].fnmr), &bad);
		tvs_cli_jset(d, "threshold", tvs_cli_jreal(-s->det[i].threshold), &bad);
	}

	o = json_object();
	tvs_cli_jset(root, "faces", o, &bad);
	if (o) {
		for (p = 0; p < PATH_COUNT; p++)
			tvs_cli_jset(o, PATH_NAME[p], json_integer((json_int_t)s->path_count[p]), &bad);
		tvs_cli_jset(o, "centre_rule_not_top_score", json_integer((json_int_t)s->not_top), &bad);
		tvs_cli_jset(o, "min_score", json_real(PRIMARY_MIN_SCORE), &bad);
		tvs_cli_jset(o, "retry_min_score", json_real(RETRY_MIN_SCORE), &bad);
		a = json_pack("[ffff]", CENTRE_BOX[0], CENTRE_BOX[1], CENTRE_BOX[2], CENTRE_BOX[3]);
		tvs_cli_jset(o, "centre_box_fraction_xywh", a, &bad);
	}
	json_t *ex_retry = json_array(), *ex_box = json_array();
	tvs_cli_jset(root, "retry_examples", ex_retry, &bad);
	tvs_cli_jset(root, "fallback_examples", ex_box, &bad);
	for (i = 0; ex_retry && ex_box && i < s->pp->nimages; i++) {
		p = job->res[i].path;
		if (p == PATH_DETECTED || shown[p] >= EXAMPLES_MAX)
			continue;
		if (image_path(job, i, path, sizeof(path)) != 0)
			continue;
		tvs_cli_jpush(p == PATH_RETRY ? ex_retry : ex_box, json_string(path), &bad);
		shown[p]++;
	}

	o = json_object();
	tvs_cli_jset(root, "settings", o, &bad);
	if (o) {
		tvs_cli_jset(o, "detector", json_string(s->o->detector == TVS_DETECTOR_TINY ? "tiny" : "ssd"), &bad);
		tvs_cli_jset(o, "align", json_string(s->o->align == TVS_ALIGN_ROTATED ? "rotated" : "faceapi"), &bad);
		tvs_cli_jset(o, "flip_average", json_boolean(!s->o->flip_s || s->o->flip), &bad);
		tvs_cli_jset(o, "int8_ssd", json_boolean((!s->o->int8_s || s->o->int8) && tvs_qconv_available()), &bad);
		tvs_cli_jset(o, "models", json_string(s->o->models), &bad);
		tvs_cli_jset(o, "threads", json_integer(s->o->threads), &bad);
		tvs_cli_jset(o, "simd_level", json_integer(tvs_cpu_simd_level()), &bad);
	}
	o = json_object();
	tvs_cli_jset(root, "timing", o, &bad);
	if (o) {
		tvs_cli_jset(o, "describe_s", json_real(s->describe_s), &bad);
		tvs_cli_jset(o, "images_per_s", tvs_cli_jreal((double)s->pp->nimages / s->describe_s), &bad);
		tvs_cli_jset(o, "total_s", json_real(s->total_s), &bad);
	}
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void print_summary(const eval_summary *s)
{
	fprintf(stderr, "tvs eval: %zu pairs, %zu images (%zu detected, %zu at min_score %.1f, %zu centre box)"
			" in %.1f s, %.1f images/s\n",
		s->pp->npairs, s->pp->nimages, s->path_count[PATH_DETECTED], s->path_count[PATH_RETRY],
		RETRY_MIN_SCORE, s->path_count[PATH_CENTRE_BOX], s->describe_s,
		(double)s->pp->nimages / s->describe_s);
	if (s->have_kfold)
		fprintf(stderr, "  accuracy %.4f +- %.4f over %d folds\n", s->kfold.accuracy_mean,
			s->kfold.accuracy_std, s->kfold.nfolds);
	else
		fprintf(stderr, "  accuracy: k-fold needs 2+ folds; in-sample best %.4f at distance %.4f\n",
			s->best_acc, -s->best_t);
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "  TAR %.4f at FMR %g (distance <= %.4f)%s\n", s->tar[i].tar, s->tar[i].target_fmr,
			-s->tar[i].threshold, s->tar[i].resolvable ? "" : " [not resolvable: too few impostor pairs]");
	fprintf(stderr, "  EER %.4f; accuracy at face-api's 0.6: %.4f\n", s->eer.eer, s->default_acc);
}


/* Describe the images that have no descriptor yet; *computed counts them. */
static int describe_all(const eval_opts *o, describe_job *job, double *seconds, size_t *computed)
{
	tvs_face_engine_t *engine = NULL;
	tvs_pool_t *pool = NULL;
	tvs_face_config cfg;
	double t0;
	size_t ntodo = 0, i;
	int rc, w;

	*seconds = 0;
	for (i = 0; i < job->pp->nimages; i++) {
		if (!job->res[i].have)
			job->todo[ntodo++] = i;
	}
	*computed = ntodo;
	if (ntodo == 0)
		return 0;
	tvs_face_default_config(&cfg);
	cfg.model_dir = o->models;
	cfg.detector = o->detector;
	cfg.align = o->align;
	if (o->flip_s)
		cfg.flip_average = o->flip;
	if (o->int8_s)
		cfg.int8 = o->int8;
	cfg.min_score = (float)RETRY_MIN_SCORE; /* split at PRIMARY_MIN_SCORE afterwards */
	job->max_faces = cfg.max_faces;
	rc = tvs_face_engine_create(&engine, &cfg);
	if (rc)
		return rc;
	job->ctx = calloc((size_t)o->threads, sizeof(*job->ctx));
	job->faces = calloc((size_t)o->threads, sizeof(*job->faces));
	if (!job->ctx || !job->faces) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_workers;
	}
	for (w = 0; w < o->threads; w++) {
		rc = tvs_face_ctx_create(&job->ctx[w], engine);
		if (rc)
			goto fail_workers;
		job->faces[w] = malloc((size_t)job->max_faces * sizeof(tvs_face));
		if (!job->faces[w]) {
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail_workers;
		}
	}
	rc = tvs_pool_create(&pool, o->threads);
	if (rc)
		goto fail_workers;

	t0 = tvs_cli_now_s();
	tvs_pool_run(pool, (int)ntodo, describe_task, job);
	*seconds = tvs_cli_now_s() - t0;
	if (job->err_rc) {
		char path[PATH_MAX];

		if (image_path(job, job->err_image, path, sizeof(path)) != 0)
			snprintf(path, sizeof(path), "image %zu", job->err_image);
		if (strstr(job->err_msg, path))
			rc = tvs__err(job->err_rc, "%s", job->err_msg); /* already names the file */
		else
			rc = tvs__err(job->err_rc, "%s: %s", path, job->err_msg);
	}
	tvs_pool_destroy(pool);

fail_workers:
	for (w = 0; w < o->threads; w++) {
		if (job->ctx)
			tvs_face_ctx_destroy(job->ctx[w]);
		if (job->faces)
			free(job->faces[w]);
	}
	free(job->ctx);
	free(job->faces);
	job->ctx = NULL;
	job->faces = NULL;
	tvs_face_engine_destroy(engine);
	return rc;
}

/* ------------------------------------------------------------ cache */

static int cmp_image(const void *pa, const void *pb)
{
	const tvs_lfw_image *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return (a->num > b->num) - (a->num < b->num);
}

/* A cache entry "<name>/<name>_NNNN.jpg" fills that image of the pairs, if
 * listed; other entries (and ones without a descriptor) are skipped. */
static int cache_entry(void *arg, const char *rel, int route, const float *desc)
{
	describe_job *job = arg;
	const char *slash = strchr(rel, '/'), *tail;
	tvs_lfw_image key;
	const tvs_lfw_image *hit;
	size_t nlen;
	image_result *r;
	int num = 0;

	if (!slash || route < 0)
		return 0;
	nlen = (size_t)(slash - rel);
	if (nlen == 0 || nlen >= sizeof(key.name) || strncmp(slash + 1, rel, nlen) != 0 || slash[1 + nlen] != '_')
		return 0;
	tail = slash + 2 + nlen;
	for (int d = 0; d < 4; d++) {
		if (tail[d] < '0' || tail[d] > '9')
			return 0;
		num = num * 10 + (tail[d] - '0');
	}
	if (strcmp(tail + 4, ".jpg") != 0)
		return 0;
	memcpy(key.name, rel, nlen);
	key.name[nlen] = '\0';
	key.num = num;
	hit = bsearch(&key, job->pp->images, job->pp->nimages, sizeof(key), cmp_image);
	if (!hit)
		return 0;
	r = &job->res[hit - job->pp->images];
	if (r->have)
		return 0;
	memcpy(r->desc, desc, sizeof(r->desc));
	r->path = route;
	r->not_top = 0; /* not recorded in the cache */
	r->have = 1;
	return 0;
}

/* ------------------------------------------------------------ calibration */

/* The cosine score of each pair, as the service computes it: templates
 * from tvs_match_template_init, scored by tvs_match_verify. */
static int cosine_scores(const tvs_lfw_pairs *pp, const image_result *res, double *cos)
{
	tvs_template *t = malloc((pp->nimages ? pp->nimages : 1) * sizeof(*t));
	size_t i;
	float sc;
	int rc = 0;

	if (!t)
		return tvs__err(TVS_ENOMEM, "out of memory");
	for (i = 0; i < pp->nimages; i++) {
		rc = tvs_match_template_init(&t[i], TVS_MATCH_DEFAULT_MODEL, 1, res[i].desc, TVS_FACE_DESC_DIM);
		if (rc)
			goto fail;
	}
	for (i = 0; i < pp->npairs; i++) {
		rc = tvs_match_verify(&t[pp->pairs[i].image[0]], &t[pp->pairs[i].image[1]], &sc);
		if (rc)
			goto fail;
		cos[i] = sc;
	}
fail:
	free(t);
	return rc;
}

/* Measure the verify points and write them into o->calib_out, merged into
 * the file when it exists (its ident points stay; see calib.h). */
static int write_calibration(const eval_opts *o, const tvs_lfw_pairs *pp, const double *cos, const int *label,
			     int argc, char **argv)
{
	char command[TVS_CALIB_TEXT_MAX + 1], dataset[128];
	tvs_tar_result tar;
	tvs_calib c;
	int rc;

	rc = tvs_calib_load_for_update(&c, o->calib_out, TVS_MATCH_DEFAULT_MODEL);
	if (rc)
		return rc;
	c.nverify = 0;
	for (int i = 0; i < 2; i++) {
		rc = tvs_verify_eval_tar_at_fmr(cos, label, pp->npairs, TARGET_FMR[i], &tar);
		if (rc)
			goto fail;
		c.verify[c.nverify++] = (tvs_calib_verify_point){
			.target_fmr = TARGET_FMR[i],
			.threshold = tar.threshold,
			.tar = tar.tar,
			.fmr = tar.fmr,
			.resolvable = tar.resolvable,
		};
		fprintf(stderr, "  calibration: cosine >= %.6f at FMR %g: TAR %.4f, FMR %.5f%s\n", tar.threshold,
			TARGET_FMR[i], tar.tar, tar.fmr, tar.resolvable ? "" : " [not resolvable]");
	}
	snprintf(dataset, sizeof(dataset), "LFW View 2, %zu pairs", pp->npairs);
	tvs_calib_format_command("tvs eval", argc, argv, command, sizeof(command));
	rc = tvs_calib_add_source(&c, dataset, command);
	if (rc == 0)
		rc = tvs_calib_write_json(&c, o->calib_out);
fail:
	tvs_calib_free(&c);
	return rc;
}

/* ------------------------------------------------------------ run */

/* Metrics over the pair scores (score = -distance). */
static int compute_metrics(eval_summary *s, const double *score, const int *label, const int *fold,
			   const double *dist)
{
	size_t n = s->pp->npairs, right = 0, i;
	int rc;

	for (i = 0; i < n; i++) {
		s->ngen += (size_t)label[i];
		right += (size_t)((dist[i] < TVS_FACE_DEFAULT_THRESHOLD) == (label[i] == 1));
	}
	s->nimp = n - s->ngen;
	s->default_acc = (double)right / (double)n;
	if (s->pp->nfolds >= 2) {
		rc = tvs_verify_eval_kfold(score, label, fold, n, s->pp->nfolds, &s->kfold);
		if (rc)
			return rc;
		s->have_kfold = 1;
	}
	rc = tvs_verify_eval_best_threshold(score, label, n, &s->best_t, &s->best_acc);
	for (i = 0; rc == 0 && i < 2; i++)
		rc = tvs_verify_eval_tar_at_fmr(score, label, n, TARGET_FMR[i], &s->tar[i]);
	if (rc == 0)
		rc = tvs_verify_eval_eer(score, label, n, &s->eer);
	if (rc == 0)
		rc = tvs_verify_eval_det(score, label, n, s->det, DET_POINTS, &s->ndet);
	return rc;
}

static int eval_pairs(int argc, char **argv)
{
	eval_opts o;
	eval_summary s;
	describe_job job;
	tvs_lfw_pairs pp;
	double t0 = tvs_cli_now_s(), *score = NULL, *dist = NULL, *cos = NULL;
	int *label = NULL, *fold = NULL, rc, status;
	char *text = NULL;
	size_t len, i, computed;
	json_t *root;

	status = parse_opts(argc, argv, &o);
	if (status >= 0)
		return status;
	memset(&s, 0, sizeof(s));
	memset(&job, 0, sizeof(job));
	memset(&pp, 0, sizeof(pp));
	pthread_mutex_init(&job.mu, NULL);

	rc = read_bounded(o.pairs, PAIRS_FILE_MAX, &text, &len);
	if (rc)
		goto fail_read;
	rc = tvs_verify_eval_parse_lfw_pairs(text, len, o.limit_folds, &pp);
	free(text);
	if (rc) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		rc = tvs__err(rc, "%s: %s", o.pairs, detail);
		goto fail_read;
	}

	job.pp = &pp;
	job.root = o.root;
	job.root_len = (int)strnlen(o.root, PATH_MAX);
	while (job.root_len > 1 && o.root[job.root_len - 1] == '/')
		job.root_len--;
	job.res = calloc(pp.nimages, sizeof(*job.res));
	score = malloc(pp.npairs * sizeof(*score));
	dist = malloc(pp.npairs * sizeof(*dist));
	label = malloc(pp.npairs * sizeof(*label));
	fold = malloc(pp.npairs * sizeof(*fold));
	cos = malloc(pp.npairs * sizeof(*cos));
	job.todo = malloc((pp.nimages ? pp.nimages : 1) * sizeof(*job.todo));
	if (!job.res || !score || !dist || !label || !fold || !cos || !job.todo) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_alloc;
	}
	fprintf(stderr, "tvs eval: %zu pairs in %d of %d folds, %zu images, %d threads\n", pp.npairs, pp.nfolds,
		pp.declared_folds, pp.nimages, o.threads);
	if (o.cache) {
		rc = tvs_cli_desc_cache_read(o.cache, cache_entry, &job);
		if (rc)
			goto fail_alloc;
	}
	rc = describe_all(&o, &job, &s.describe_s, &computed);
	if (rc)
		goto fail_alloc;
	if (o.cache)
		fprintf(stderr, "tvs eval: %zu images from %s, %zu described\n", pp.nimages - computed, o.cache,
			computed);

	for (i = 0; i < pp.npairs; i++) {
		const tvs_lfw_pair *p = &pp.pairs[i];

		dist[i] = tvs_face_distance(job.res[p->image[0]].desc, job.res[p->image[1]].desc);
		score[i] = -dist[i];
		label[i] = p->label;
		fold[i] = p->fold;
	}
	for (i = 0; i < pp.nimages; i++) {
		s.path_count[job.res[i].path]++;
		s.not_top += (size_t)job.res[i].not_top;
	}
	s.o = &o;
	s.pp = &pp;
	s.job = &job;
	rc = compute_metrics(&s, score, label, fold, dist);
	if (rc)
		goto fail_alloc;
	if (o.calib_out) {
		rc = cosine_scores(&pp, job.res, cos);
		if (rc == 0)
			rc = write_calibration(&o, &pp, cos, label, argc, argv);
		if (rc)
			goto fail_alloc;
	}
	s.total_s = tvs_cli_now_s() - t0;

	root = summary_json(&s);
	if (!root) {
		rc = tvs__err(TVS_ENOMEM, "building the JSON result");
		goto fail_alloc;
	}
	rc = tvs_cli_write_json(root, o.out);
	json_decref(root);
	if (rc)
		goto fail_alloc;
	print_summary(&s);

fail_alloc:
	free(job.res);
	free(score);
	free(dist);
	free(label);
	free(fold);
	free(cos);
	free(job.todo);
	tvs_verify_eval_lfw_pairs_free(&pp);
fail_read:
	pthread_mutex_destroy(&job.mu);
	if (rc) {
		fprintf(stderr, "tvs eval: %s\n", tvs_errmsg()[0] ? tvs_errmsg() : tvs_strerror(rc));
		return TVS_EXIT_FAIL;
	}
	return TVS_EXIT_OK;
}

int tvs_cli_eval(int argc, char **argv)
{
	if (argc < 2) {
		fputs(EVAL_USAGE, stderr);
		return TVS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(EVAL_USAGE, stdout);
		return TVS_EXIT_OK;
	}
	if (!strcmp(argv[1], "ident"))
		return tvs_cli_eval_ident(argc - 1, argv + 1);
	if (strcmp(argv[1], "pairs") != 0) {
		fprintf(stderr, "tvs eval: unknown evaluation '%s'\n\n%s", argv[1], EVAL_USAGE);
		return TVS_EXIT_USAGE;
	}
	return eval_pairs(argc - 1, argv + 1);
}
