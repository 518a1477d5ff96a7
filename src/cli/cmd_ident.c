/*
 * tvs eval ident: 1:N identification accuracy on a folder-per-identity
 * dataset, in the manner of NIST IR 8381 (paperless travel) and ISO/IEC
 * 19795-1.
 *
 * Protocol. People are the subfolders of --root, photos the .jpg/.jpeg/.png
 * files inside, both in strcmp order. Among the people with at least K+1
 * photos, N are drawn by a seeded Fisher-Yates shuffle (splitmix64) and
 * enrolled with their first K photos as templates; their remaining photos
 * are MATED searches. Every photo of every person not enrolled (single-photo
 * people included) is a NON-MATED search.
 *
 * Search. The templates go into a tvs_gallery (subject = identity) and each
 * search is a tvs_gallery_search with the service's options
 * (tvs_search_default_opts: k = 1, fused by MAX per identity, int8 scan
 * re-ranked in float; --search picks another mode). The score is the
 * service's: cosine similarity of the L2-normalised descriptors, so the
 * thresholds reported are the ones the service applies. The rank-1 identity
 * and its score are the candidate list (metric definitions:
 * include/tvs/ident_eval.h). When the mode is not float, every search is
 * also run in float and the JSON counts how often the rank-1 identity
 * differs (the int8 recall on real data).
 *
 * Calibration (--calibration-out FILE): the cosine threshold, FNIR and
 * resolvability at each target FPIR become the ident points of FILE for
 * this gallery size (include/tvs/calib.h), merged into FILE when it exists
 * (the verify points of `tvs eval pairs` and other gallery sizes stay).
 *
 * Failures. A photo that cannot be decoded or described gets no descriptor.
 * Such an enrolment photo is a failure to enrol (FTE); an identity whose K
 * enrolment photos all fail is dropped from the gallery, and its remaining
 * photos are left out of the searches entirely (they are neither mated, as
 * nobody was enrolled, nor fairly non-mated). Such a search photo is a
 * failure to acquire (FTA): no candidate, so a miss for a mated search and
 * a correct rejection for a non-mated one, both kept in the denominators.
 * With the eval pairs fallbacks below a described face almost always exists,
 * so the JSON also counts, per role, the photos that needed the retry or
 * the centre box, i.e. where no face was detected at the default min_score.
 *
 * Face choice and fallbacks are those of tvs eval pairs (src/cli/cmd_eval.c):
 * the detected face nearest the image centre, then a retry at min_score
 * 0.2, then a fixed centre box (tvs_cli_describe_subject in subject.c).
 *
 * Cache (--cache FILE): descriptors keyed by the path relative to --root, so
 * a second run (another gallery size or seed) does not recompute them
 * (reader and writer shared with eval pairs: src/cli/desc_cache.c). The
 * file is binary, host byte order: "TVSIDC01", u32 count, then per entry u16
 * path length, the path, i32 face path (-1 = no descriptor) and 128 float32.
 * It is parsed as untrusted input (bounded counts and lengths, finite
 * values) and rewritten after each run with the entries of this dataset.
 * It does not record the engine settings: delete it when models change.
 */
#include "cli.h"

#include "tvs/calib.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/ident_eval.h"
#include "tvs/img.h"
#include "tvs/match.h"
#include "tvs/nn.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRIMARY_MIN_SCORE TVS_CLI_PRIMARY_MIN_SCORE
#define RETRY_MIN_SCORE TVS_CLI_RETRY_MIN_SCORE
#define MAX_PEOPLE (1u << 20)
#define MAX_PHOTOS (1u << 22)
#define MAX_NAME 255
#define MAX_K 1000
#define EXAMPLES_MAX 10

#define CENTRE_BOX tvs_cli_centre_box
static const double TARGET_FPIR[3] = {1e-3, 3e-3, 1e-2};
#define NTARGETS 3

static const char IDENT_USAGE[] =
	"usage: tvs eval ident --root DIR [--gallery-size N|max] [--k K] [--seed S]\n"
	"                      [--models DIR] [--threads N] [--out FILE.json]\n"
	"                      [--det FILE.png] [--cache FILE] [--search MODE]\n"
	"                      [--calibration-out FILE.json]\n"
	"\n"
	"1:N identification (NIST IR 8381 style): FNIR at FPIR 0.001/0.003/0.01,\n"
	"rank-1 hit rate, failure to enrol / acquire.\n"
	"  --root DIR         DIR/<person>/<photo>.jpg, one folder per identity\n"
	"  --gallery-size N   people enrolled, drawn among those with >= K+1 photos;\n"
	"                     'max' enrols all of them (default 420)\n"
	"  --k K              enrolment photos per person, 1..1000 (default 1)\n"
	"  --seed S           shuffle seed (default 1)\n"
	"  --models DIR       face-api weights (default $TVS_MODELS or models/model)\n"
	"  --threads N        worker threads, 1..256 (default: online CPUs)\n"
	"  --out FILE         write the JSON there instead of stdout\n"
	"  --det FILE.png     draw the DET curve (FNIR against FPIR, log axes)\n"
	"  --cache FILE       read and update a descriptor cache\n"
	"  --search MODE      rerank (default: the service's int8 scan re-ranked\n"
	"                     in float), int8 or float\n"
	"  --calibration-out FILE  write the cosine thresholds at the three FPIR\n"
	"                     targets as FILE's points for this gallery size\n"
	"                     (include/tvs/calib.h), merged into FILE if it exists\n";

enum face_path { PATH_FAILED = -1, PATH_DETECTED = 0, PATH_RETRY = 1, PATH_CENTRE_BOX = 2, PATH_COUNT };

static const char *const PATH_NAME[PATH_COUNT] = {"detected", "retry_min_score_0.2", "centre_box"};

typedef struct ident_opts {
	const char *root, *models, *out, *det, *cache, *calib_out;
	const char *gallery_s, *k_s, *seed_s, *threads_s, *search_s;
	size_t gallery; /* 0 = max */
	int k, threads;
	int mode; /* enum tvs_match_mode */
	uint64_t seed;
	int argc;    /* the command line, for the calibration file */
	char **argv;
} ident_opts;

static const char *const MODE_NAME[3] = {"float", "int8", "rerank"};

typedef struct photo {
	char *rel;  /* "<person>/<file>", owned */
	int person;
	int path;   /* enum face_path; PATH_FAILED: no descriptor */
	int err;    /* the error when PATH_FAILED */
	int have;   /* descriptor known (from the cache or computed) */
	float desc[TVS_FACE_DESC_DIM];
} photo;

typedef struct person {
	char *name; /* owned */
	size_t first, count; /* photos[first .. first+count) */
} person;

typedef struct dataset {
	person *people;
	size_t npeople;
	photo *photos;
	size_t nphotos;
} dataset;

typedef struct describe_job {
	dataset *ds;
	const char *root;
	size_t *todo;         /* photo indices to describe */
	tvs_face_ctx_t **ctx; /* [worker] */
	tvs_face **faces;     /* [worker][max_faces] */
	int max_faces;
	atomic_int fatal;     /* out of memory: stop */
} describe_job;

/* ------------------------------------------------------------ options */

#define usage_error(...) tvs_cli_usage_error("tvs eval ident", IDENT_USAGE, __VA_ARGS__)

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Fill *o from argv (argv[0] == "ident"); returns -1 to continue, or the
 * exit status to stop with. */
static int parse_opts(int argc, char **argv, ident_opts *o)
{
	const struct tvs_cli_opt tab[] = {
		{"--root", &o->root},       {"--gallery-size", &o->gallery_s}, {"--k", &o->k_s},
		{"--seed", &o->seed_s},     {"--models", &o->models},          {"--threads", &o->threads_s},
		{"--out", &o->out},         {"--det", &o->det},                {"--cache", &o->cache},
		{"--search", &o->search_s}, {"--calibration-out", &o->calib_out},
	};
	uint64_t v;

	memset(o, 0, sizeof(*o));
	int prc = tvs_cli_parse_opts_or_exit(argc, argv, tab, sizeof(tab) / sizeof(tab[0]), "tvs eval ident", IDENT_USAGE);
	if (prc >= 0)
		return prc;
	if (!o->root)
		return usage_error("%s is required", "--root");
	if (!o->models)
		o->models = tvs_cli_model_dir();
	o->threads = tvs_cli_ncpu();
	if (o->threads_s && tvs_cli_parse_threads(o->threads_s, &o->threads) != 0)
		return usage_error("--threads '%s': want 1..256", o->threads_s);
	o->gallery = 420;
	if (o->gallery_s) {
		if (!strcmp(o->gallery_s, "max"))
			o->gallery = 0;
		else if (parse_u64(o->gallery_s, MAX_PEOPLE, &v) != 0 || v < 1)
			return usage_error("--gallery-size '%s': want 1..%u or max", o->gallery_s, MAX_PEOPLE);
		else
			o->gallery = (size_t)v;
	}
	o->k = 1;
	if (o->k_s) {
		if (parse_u64(o->k_s, MAX_K, &v) != 0 || v < 1)
			return usage_error("--k '%s': want 1..%d", o->k_s, MAX_K);
		o->k = (int)v;
	}
	o->seed = 1;
	if (o->seed_s && parse_u64(o->seed_s, UINT64_MAX, &o->seed) != 0)
		return usage_error("--seed '%s': want an unsigned integer", o->seed_s);
	o->mode = TVS_MATCH_INT8_RERANK;
	if (o->search_s) {
		for (o->mode = 0; o->mode < 3 && strcmp(o->search_s, MODE_NAME[o->mode]) != 0; o->mode++)
			;
		if (o->mode == 3)
			return usage_error("--search '%s': want rerank, int8 or float", o->search_s);
	}
	o->argc = argc;
	o->argv = argv;
	return -1;
}

/* ------------------------------------------------------------ dataset */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *s)
{
	const char *dot = strrchr(s, '.');

	return dot && dot != s &&
	       (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* Names of the entries of dir that are directories (want_dir) or regular
 * image files, sorted, hidden and over-long names skipped. Caller frees
 * each name and the array. */
static int list_dir(const char *dir, int want_dir, size_t max, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, path[PATH_MAX];
	size_t cnt = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	d = opendir(dir);
	if (!d)
		return tvs__err(errno == ENOENT ? TVS_ENOTFOUND : TVS_EIO, "%s: %s", dir, strerror(errno));
	while ((errno = 0, e = readdir(d)) != NULL) {
		size_t len = strnlen(e->d_name, MAX_NAME + 1);
		int isdir = e->d_type == DT_DIR, isreg = e->d_type == DT_REG;

		if (e->d_name[0] == '.' || len > MAX_NAME)
			continue;
		if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
			struct stat st;
			int m = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);

			if (m < 0 || (size_t)m >= sizeof(path) || stat(path, &st) != 0)
				continue;
			isdir = S_ISDIR(st.st_mode);
			isreg = S_ISREG(st.st_mode);
		}
		if (want_dir ? !isdir : !(isreg && is_image_name(e->d_name)))
			continue;
		if (cnt == max) {
			rc = tvs__err(TVS_ETOOBIG, "%s: more than %zu entries", dir, max);
			goto fail;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(v, nc * sizeof(*v));

			if (!nv) {
				rc = tvs__err(TVS_ENOMEM, "out of memory");
				goto fail;
			}
			v = nv;
			cap = nc;
		}
		v[cnt] = strdup(e->d_name);
		if (!v[cnt]) {
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail;
		}
		cnt++;
	}
	if (errno) {
		rc = tvs__err(TVS_EIO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*out = v;
	*n = cnt;
	return 0;

fail:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	closedir(d);
	return rc;
}

static void dataset_free(dataset *ds)
{
	for (size_t i = 0; i < ds->npeople; i++)
		free(ds->people[i].name);
	for (size_t i = 0; i < ds->nphotos; i++)
		free(ds->photos[i].rel);
	free(ds->people);
	free(ds->photos);
	memset(ds, 0, sizeof(*ds));
}

/* Scan root into ds: people with at least one photo, photos in order. */
static int dataset_scan(const char *root, dataset *ds)
{
	char **names = NULL, **files = NULL, dir[PATH_MAX];
	size_t nnames = 0, nfiles = 0, cap = 0, i, j;
	int rc;

	memset(ds, 0, sizeof(*ds));
	rc = list_dir(root, 1, MAX_PEOPLE, &names, &nnames);
	if (rc)
		return rc;
	ds->people = calloc(nnames ? nnames : 1, sizeof(*ds->people));
	if (!ds->people) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < nnames; i++) {
		int m = snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);

		if (m < 0 || (size_t)m >= sizeof(dir)) {
			rc = tvs__err(TVS_ETOOBIG, "path under '%s' too long", root);
			goto fail;
		}
		rc = list_dir(dir, 0, MAX_PHOTOS, &files, &nfiles);
		if (rc)
			goto fail;
		if (nfiles == 0) {
			free(files);
			files = NULL;
			continue;
		}
		if (ds->nphotos + nfiles > MAX_PHOTOS) {
			rc = tvs__err(TVS_ETOOBIG, "%s: more than %u photos", root, MAX_PHOTOS);
			goto fail;
		}
		if (ds->nphotos + nfiles > cap) {
			size_t nc = cap ? cap : 1024;
			photo *np;

			while (nc < ds->nphotos + nfiles)
				nc *= 2;
			np = realloc(ds->photos, nc * sizeof(*np));
			if (!np) {
				rc = tvs__err(TVS_ENOMEM, "out of memory");
				goto fail;
			}
			ds->photos = np;
			cap = nc;
		}
		person *p = &ds->people[ds->npeople];

		p->first = ds->nphotos;
		p->count = nfiles;
		p->name = names[i];
		names[i] = NULL;
		ds->npeople++;
		for (j = 0; j < nfiles; j++) {
			photo *ph = &ds->photos[ds->nphotos];
			size_t len = strlen(p->name) + 1 + strlen(files[j]) + 1;

			memset(ph, 0, sizeof(*ph));
			ph->rel = malloc(len);
			if (!ph->rel) {
				rc = tvs__err(TVS_ENOMEM, "out of memory");
				goto fail;
			}
			snprintf(ph->rel, len, "%s/%s", p->name, files[j]);
			ph->person = (int)(ds->npeople - 1);
			ds->nphotos++;
		}
		for (j = 0; j < nfiles; j++)
			free(files[j]);
		free(files);
		files = NULL;
		nfiles = 0;
	}
	free(names);
	return 0;

fail:
	for (j = 0; j < nfiles; j++)
		free(files[j]);
	free(files);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	dataset_free(ds);
	return rc;
}

/* ------------------------------------------------------------ cache */

typedef struct rel_index {
	const char *rel;
	size_t photo;
} rel_index;

static int cmp_rel(const void *a, const void *b)
{
	return strcmp(((const rel_index *)a)->rel, ((const rel_index *)b)->rel);
}

typedef struct cache_fill {
	dataset *ds;
	rel_index *idx; /* ds->photos sorted by rel */
	size_t loaded;
} cache_fill;

static int cache_fill_entry(void *arg, const char *rel, int fp, const float *desc)
{
	cache_fill *cf = arg;
	rel_index key = {rel, 0}, *hit;
	photo *ph;

	hit = bsearch(&key, cf->idx, cf->ds->nphotos, sizeof(*cf->idx), cmp_rel);
	if (!hit || cf->ds->photos[hit->photo].have)
		return 0;
	ph = &cf->ds->photos[hit->photo];
	ph->have = 1;
	ph->path = fp;
	ph->err = fp == PATH_FAILED ? TVS_EFORMAT : 0;
	memcpy(ph->desc, desc, sizeof(ph->desc));
	cf->loaded++;
	return 0;
}

/* Fill photos from the cache file at path (src/cli/desc_cache.c); a missing
 * file is not an error. *loaded counts the entries used. */
static int cache_load(const char *path, dataset *ds, size_t *loaded)
{
	cache_fill cf = {ds, NULL, 0};
	int rc;

	*loaded = 0;
	cf.idx = malloc((ds->nphotos ? ds->nphotos : 1) * sizeof(*cf.idx));
	if (!cf.idx)
		return tvs__err(TVS_ENOMEM, "out of memory");
	for (size_t i = 0; i < ds->nphotos; i++) {
		cf.idx[i].rel = ds->photos[i].rel;
		cf.idx[i].photo = i;
	}
	qsort(cf.idx, ds->nphotos, sizeof(*cf.idx), cmp_rel);
	rc = tvs_cli_desc_cache_read(path, cache_fill_entry, &cf);
	*loaded = cf.loaded;
	free(cf.idx);
	return rc;
}

static int cache_get(void *arg, size_t i, const char **rel, int *route, const float **desc)
{
	const photo *ph = &((const dataset *)arg)->photos[i];

	*rel = ph->rel;
	*route = ph->path;
	*desc = ph->desc;
	return ph->have;
}

/* Write every described photo of ds to path. */
static int cache_save(const char *path, const dataset *ds)
{
	return tvs_cli_desc_cache_write(path, ds->nphotos, cache_get, (void *)ds);
}

/* ------------------------------------------------------------ describe */

static void describe_task(void *arg, int task, int worker)
{
	describe_job *job = arg;
	photo *ph = &job->ds->photos[job->todo[task]];
	tvs_face_ctx_t *c = job->ctx[worker];
	tvs_face *faces = job->faces[worker], face;
	tvs_image img = {0};
	char path[PATH_MAX];
	int rc, m, idx;

	if (atomic_load(&job->fatal))
		return;
	m = snprintf(path, sizeof(path), "%s/%s", job->root, ph->rel);
	if (m < 0 || (size_t)m >= sizeof(path)) {
		rc = TVS_ETOOBIG;
		goto done;
	}
	rc = tvs_img_read_file(path, NULL, &img);
	if (rc)
		goto done;
	rc = tvs_cli_describe_subject(c, &img, faces, job->max_faces, &face, &idx);
	if (rc >= 0) {
		ph->path = rc;
		rc = 0;
	}
	if (rc > 0)
		rc = 0;
	if (rc == 0)
		memcpy(ph->desc, face.descriptor, sizeof(ph->desc));
done:
	tvs_image_free(&img);
	if (rc) {
		ph->path = PATH_FAILED;
		ph->err = rc;
		if (rc == TVS_ENOMEM)
			atomic_store(&job->fatal, 1);
	}
	ph->have = rc != TVS_ENOMEM;
}

/* Describe every photo not yet known, on a pool of o->threads workers. */
static int describe_missing(const ident_opts *o, dataset *ds, size_t *computed, double *seconds)
{
	tvs_face_engine_t *engine = NULL;
	tvs_pool_t *pool = NULL;
	tvs_face_config cfg;
	describe_job job;
	size_t ntodo = 0;
	double t0;
	int rc = 0, w;

	*computed = 0;
	*seconds = 0;
	memset(&job, 0, sizeof(job));
	job.todo = malloc((ds->nphotos ? ds->nphotos : 1) * sizeof(size_t));
	if (!job.todo)
		return tvs__err(TVS_ENOMEM, "out of memory");
	for (size_t i = 0; i < ds->nphotos; i++) {
		if (!ds->photos[i].have)
			job.todo[ntodo++] = i;
	}
	if (ntodo == 0)
		goto fail_engine;
	if (ntodo > INT_MAX) {
		rc = tvs__err(TVS_ETOOBIG, "too many photos");
		goto fail_engine;
	}
	tvs_face_default_config(&cfg);
	cfg.model_dir = o->models;
	cfg.min_score = (float)RETRY_MIN_SCORE; /* split at PRIMARY_MIN_SCORE afterwards, as eval pairs */
	job.max_faces = cfg.max_faces;
	job.ds = ds;
	job.root = o->root;
	rc = tvs_face_engine_create(&engine, &cfg);
	if (rc)
		goto fail_engine;
	job.ctx = calloc((size_t)o->threads, sizeof(*job.ctx));
	job.faces = calloc((size_t)o->threads, sizeof(*job.faces));
	if (!job.ctx || !job.faces) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_workers;
	}
	for (w = 0; w < o->threads; w++) {
		rc = tvs_face_ctx_create(&job.ctx[w], engine);
		if (rc)
			goto fail_workers;
		job.faces[w] = malloc((size_t)job.max_faces * sizeof(tvs_face));
		if (!job.faces[w]) {
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail_workers;
		}
	}
	rc = tvs_pool_create(&pool, o->threads);
	if (rc)
		goto fail_workers;
	fprintf(stderr, "tvs eval ident: describing %zu photos on %d threads\n", ntodo, o->threads);
	t0 = tvs_cli_now_s();
	tvs_pool_run(pool, (int)ntodo, describe_task, &job);
	*seconds = tvs_cli_now_s() - t0;
	*computed = ntodo;
	if (atomic_load(&job.fatal))
		rc = tvs__err(TVS_ENOMEM, "out of memory while describing photos");
	tvs_pool_destroy(pool);

fail_workers:
	for (w = 0; w < o->threads; w++) {
		if (job.ctx)
			tvs_face_ctx_destroy(job.ctx[w]);
		if (job.faces)
			free(job.faces[w]);
	}
	free(job.ctx);
	free(job.faces);
	tvs_face_engine_destroy(engine);
fail_engine:
	free(job.todo);
	return rc;
}

/* ------------------------------------------------------------ protocol */

/* splitmix64: a small, well-mixed generator for the seeded shuffle. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

typedef struct ident_run {
	size_t eligible, enrolled_requested, enrolled;
	size_t templates, fte_photos, fte_identities, dropped_searches;
	size_t n_mated, n_nonmated, fta_mated, fta_nonmated;
	size_t fallback[2][PATH_COUNT]; /* [enrol/search][path] */
	tvs_ident_search *search;
	size_t *search_photo; /* [search] -> photo */
	size_t nsearch;
	size_t *gallery_person; /* [identity] -> person */
	double rank1;
	size_t rank1_hits;
	tvs_ident_op op[NTARGETS];
	tvs_ident_det_point *det;
	size_t ndet;
	double search_s;
	size_t float_checked, float_differs; /* rank-1 identity against a float search */
} ident_run;

/* One search: the rank-1 identity and score of probe descriptor desc in g
 * (s->mate is left alone). With mode not float, the same search in float
 * too, counted in r->float_*. */
static int search_one(const tvs_gallery_t *g, const tvs_search_opts *so, const float *desc, tvs_ident_search *s,
		      ident_run *r)
{
	tvs_template probe;
	tvs_match_hit hit, fhit;
	int nh, rc;

	rc = tvs_match_template_init(&probe, TVS_MATCH_DEFAULT_MODEL, 1, desc, TVS_FACE_DESC_DIM);
	if (rc == 0)
		rc = tvs_gallery_search(g, &probe, so, &hit, &nh);
	if (rc)
		return rc;
	if (nh != 1)
		return tvs__err(TVS_EINVAL, "gallery search returned no candidate");
	s->acquired = 1;
	s->top_id = (int)hit.subject_id;
	s->top_score = hit.score;
	if (so->mode != TVS_MATCH_FLOAT) {
		tvs_search_opts fo = *so;

		fo.mode = TVS_MATCH_FLOAT;
		rc = tvs_gallery_search(g, &probe, &fo, &fhit, &nh);
		if (rc)
			return rc;
		r->float_checked++;
		r->float_differs += fhit.subject_id != hit.subject_id;
	}
	return 0;
}

/* Choose the gallery, build templates, run every search and the metrics. */
static int run_protocol(const ident_opts *o, const dataset *ds, ident_run *r)
{
	size_t *elig = NULL, i, j, n;
	int *enrolled_id = NULL, rc = 0;
	tvs_gallery_t *g = NULL;
	tvs_gallery_config gcfg = {TVS_MATCH_DEFAULT_MODEL, 0};
	tvs_search_opts so;
	tvs_template t;
	uint64_t st = o->seed;
	double t0;

	elig = malloc((ds->npeople ? ds->npeople : 1) * sizeof(*elig));
	enrolled_id = malloc((ds->npeople ? ds->npeople : 1) * sizeof(*enrolled_id));
	if (!elig || !enrolled_id) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < ds->npeople; i++) {
		enrolled_id[i] = -1;
		if (ds->people[i].count >= (size_t)o->k + 1)
			elig[r->eligible++] = i;
	}
	n = o->gallery ? o->gallery : r->eligible;
	if (n == 0 || n > r->eligible) {
		rc = tvs__err(TVS_EINVAL, "gallery size %zu: %zu people have at least %d photos", n, r->eligible,
			      o->k + 1);
		goto fail;
	}
	for (i = r->eligible; i > 1; i--) { /* Fisher-Yates */
		size_t k = (size_t)(splitmix64(&st) % i), tmp = elig[i - 1];

		elig[i - 1] = elig[k];
		elig[k] = tmp;
	}
	qsort(elig, n, sizeof(*elig), cmp_size);
	r->enrolled_requested = n;
	gcfg.capacity = n * (size_t)o->k;
	rc = tvs_gallery_create(&g, &gcfg);
	if (rc)
		goto fail;
	r->search = malloc((ds->nphotos ? ds->nphotos : 1) * sizeof(*r->search));
	r->search_photo = malloc((ds->nphotos ? ds->nphotos : 1) * sizeof(*r->search_photo));
	r->gallery_person = malloc(n * sizeof(*r->gallery_person));
	if (!r->search || !r->search_photo || !r->gallery_person) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	/* Enrolment: identity ids are dense over the identities kept; they are
	 * the gallery's subject ids, and the template ids count templates. */
	for (i = 0; i < n; i++) {
		const person *p = &ds->people[elig[i]];
		size_t before = r->templates;

		for (j = 0; j < (size_t)o->k; j++) {
			const photo *ph = &ds->photos[p->first + j];

			if (ph->path == PATH_FAILED) {
				r->fte_photos++;
				continue;
			}
			r->fallback[0][ph->path]++;
			rc = tvs_match_template_init(&t, TVS_MATCH_DEFAULT_MODEL, 1, ph->desc, TVS_FACE_DESC_DIM);
			if (rc == 0)
				rc = tvs_gallery_add(g, r->enrolled, r->templates, &t);
			if (rc)
				goto fail;
			r->templates++;
		}
		if (r->templates == before) {
			r->fte_identities++;
			enrolled_id[elig[i]] = -2; /* dropped: its searches are left out */
			continue;
		}
		enrolled_id[elig[i]] = (int)r->enrolled;
		r->gallery_person[r->enrolled++] = elig[i];
	}
	if (r->templates == 0) {
		rc = tvs__err(TVS_EINVAL, "no enrolment template could be made");
		goto fail;
	}
	/* Searches. */
	tvs_search_default_opts(&so);
	so.mode = o->mode;
	t0 = tvs_cli_now_s();
	for (i = 0; i < ds->nphotos; i++) {
		const photo *ph = &ds->photos[i];
		const person *p = &ds->people[ph->person];
		int id = enrolled_id[ph->person];
		tvs_ident_search *s = &r->search[r->nsearch];

		if (id != -1 && i < p->first + (size_t)o->k)
			continue; /* an enrolment photo */
		if (id == -2) {
			r->dropped_searches++;
			continue;
		}
		memset(s, 0, sizeof(*s));
		s->mate = id;
		r->search_photo[r->nsearch] = i;
		if (id >= 0)
			r->n_mated++;
		else
			r->n_nonmated++;
		if (ph->path == PATH_FAILED) {
			if (id >= 0)
				r->fta_mated++;
			else
				r->fta_nonmated++;
		} else {
			r->fallback[1][ph->path]++;
			rc = search_one(g, &so, ph->desc, s, r);
			if (rc)
				goto fail;
		}
		r->nsearch++;
	}
	r->search_s = tvs_cli_now_s() - t0;
	if (r->n_mated == 0 || r->n_nonmated == 0) {
		rc = tvs__err(TVS_EINVAL, "need mated and non-mated searches (have %zu and %zu)", r->n_mated,
			      r->n_nonmated);
		goto fail;
	}
	rc = tvs_ident_eval_rank1(r->search, r->nsearch, &r->rank1, &r->rank1_hits, &n);
	for (i = 0; rc == 0 && i < NTARGETS; i++)
		rc = tvs_ident_eval_fnir_at_fpir(r->search, r->nsearch, TARGET_FPIR[i], &r->op[i]);
	if (rc)
		goto fail;
	r->det = malloc((r->n_nonmated + 1) * sizeof(*r->det));
	if (!r->det) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail;
	}
	rc = tvs_ident_eval_det(r->search, r->nsearch, r->det, r->n_nonmated + 1, &r->ndet);

fail:
	tvs_gallery_destroy(g);
	free(elig);
	free(enrolled_id);
	return rc;
}

/* ------------------------------------------------------------ output */

static json_t *jsize(size_t v)
{
	return json_integer((json_int_t)v);
}

typedef struct ident_timing {
	double scan_s, describe_s, total_s;
	size_t cached, computed;
} ident_timing;

static json_t *op_json(const tvs_ident_op *op, int *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = 1;
		return NULL;
	}
	tvs_cli_jset(o, "target_fpir", json_real(op->target_fpir), bad);
	tvs_cli_jset(o, "resolvable", json_boolean(op->resolvable), bad);
	tvs_cli_jset(o, "fpir_resolution", json_real(op->fpir_resolution), bad);
	tvs_cli_jset(o, "fnir", json_real(op->fnir), bad);
	tvs_cli_jset(o, "fpir", json_real(op->fpir), bad);
	tvs_cli_jset(o, "threshold_cosine", tvs_cli_jreal(op->threshold), bad);
	tvs_cli_jset(o, "nonmated_accepted", jsize(op->nonmated_accepted), bad);
	tvs_cli_jset(o, "mated_missed", jsize(op->mated_missed), bad);
	if (!op->resolvable)
		tvs_cli_jset(o, "note",
		     json_string("target FPIR below 1/non-mated searches: the threshold accepts no non-mated "
				 "search and is set by the single best-scoring one; not an estimate at the target"),
		     bad);
	return o;
}

/* The EXAMPLES_MAX best-scoring non-mated searches, best first: what sets
 * the thresholds at low FPIR (on LFW often label noise or look-alikes). */
static json_t *top_nonmated_json(const dataset *ds, const ident_run *r, int *bad)
{
	size_t best[EXAMPLES_MAX], nb = 0;
	json_t *a = json_array();

	if (!a) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < r->nsearch; i++) {
		const tvs_ident_search *s = &r->search[i];
		size_t j;

		if (s->mate >= 0 || !s->acquired)
			continue;
		for (j = nb; j > 0 && r->search[best[j - 1]].top_score < s->top_score; j--) {
			if (j < EXAMPLES_MAX)
				best[j] = best[j - 1];
		}
		if (j < EXAMPLES_MAX) {
			best[j] = i;
			if (nb < EXAMPLES_MAX)
				nb++;
		}
	}
	for (size_t k = 0; k < nb; k++) {
		const tvs_ident_search *s = &r->search[best[k]];
		json_t *o = json_object();

		if (!o || json_array_append_new(a, o) != 0) {
			*bad = 1;
			continue;
		}
		tvs_cli_jset(o, "search", json_string(ds->photos[r->search_photo[best[k]]].rel), bad);
		tvs_cli_jset(o, "rank1_identity", json_string(ds->people[r->gallery_person[s->top_id]].name), bad);
		tvs_cli_jset(o, "score", json_real(s->top_score), bad);
		tvs_cli_jset(o, "face_path", json_string(PATH_NAME[ds->photos[r->search_photo[best[k]]].path]), bad);
	}
	return a;
}

static json_t *result_json(const ident_opts *o, const dataset *ds, const ident_run *r, const ident_timing *tm)
{
	json_t *root = json_object(), *x, *a;
	int bad = !root;
	size_t i, shown = 0;

	if (bad)
		return NULL;
	tvs_cli_jset(root, "protocol", json_string("1:N identification, NIST IR 8381 / ISO/IEC 19795-1 style"), &bad);
	tvs_cli_jset(root, "root", json_string(o->root), &bad);
	x = json_object();
	tvs_cli_jset(root, "settings", x, &bad);
	if (x) {
		tvs_cli_jset(x, "gallery_size", o->gallery ? jsize(o->gallery) : json_string("max"), &bad);
		tvs_cli_jset(x, "k", json_integer(o->k), &bad);
		tvs_cli_jset(x, "seed", json_integer((json_int_t)o->seed), &bad);
		tvs_cli_jset(x, "threads", json_integer(o->threads), &bad);
		tvs_cli_jset(x, "models", json_string(o->models), &bad);
		tvs_cli_jset(x, "cache", o->cache ? json_string(o->cache) : json_null(), &bad);
		tvs_cli_jset(x, "similarity",
		     json_string("cosine of the L2-normalised face-api descriptors (flip-averaged), as the service scores"),
		     &bad);
		tvs_cli_jset(x, "search", json_string(MODE_NAME[o->mode]), &bad);
		tvs_cli_jset(x, "search_kernel", json_string(tvs_gallery_kernel_name(o->mode)), &bad);
		tvs_cli_jset(x, "calibration_out", o->calib_out ? json_string(o->calib_out) : json_null(), &bad);
		tvs_cli_jset(x, "fusion", json_string("max over the identity's templates"), &bad);
		tvs_cli_jset(x, "candidate_list", json_string("rank-1 identity only"), &bad);
		tvs_cli_jset(x, "fnir_definition",
		     json_string("mated search missed iff rank-1 identity != mate, or its score < threshold, "
				 "or no face could be described (FTA)"),
		     &bad);
		tvs_cli_jset(x, "fpir_definition",
		     json_string("non-mated search accepted iff its rank-1 score >= threshold; FTA never accepted"),
		     &bad);
	}
	x = json_object();
	tvs_cli_jset(root, "counts", x, &bad);
	if (x) {
		tvs_cli_jset(x, "people", jsize(ds->npeople), &bad);
		tvs_cli_jset(x, "photos", jsize(ds->nphotos), &bad);
		tvs_cli_jset(x, "eligible_people", jsize(r->eligible), &bad);
		tvs_cli_jset(x, "enrolled_identities", jsize(r->enrolled), &bad);
		tvs_cli_jset(x, "templates", jsize(r->templates), &bad);
		tvs_cli_jset(x, "mated_searches", jsize(r->n_mated), &bad);
		tvs_cli_jset(x, "nonmated_searches", jsize(r->n_nonmated), &bad);
	}
	x = json_object();
	tvs_cli_jset(root, "failures", x, &bad);
	if (x) {
		tvs_cli_jset(x, "fte_photos", jsize(r->fte_photos), &bad);
		tvs_cli_jset(x, "fte_rate", json_real((double)r->fte_photos / (double)(r->enrolled_requested * (size_t)o->k)),
		     &bad);
		tvs_cli_jset(x, "fte_identities_dropped", jsize(r->fte_identities), &bad);
		tvs_cli_jset(x, "searches_of_dropped_identities", jsize(r->dropped_searches), &bad);
		tvs_cli_jset(x, "fta_mated", jsize(r->fta_mated), &bad);
		tvs_cli_jset(x, "fta_nonmated", jsize(r->fta_nonmated), &bad);
		tvs_cli_jset(x, "fta_rate", json_real((double)(r->fta_mated + r->fta_nonmated) / (double)r->nsearch), &bad);
		for (int role = 0; role < 2; role++) {
			json_t *f = json_object();

			tvs_cli_jset(x, role ? "search_face_path" : "enrolment_face_path", f, &bad);
			for (int p = 0; f && p < PATH_COUNT; p++)
				tvs_cli_jset(f, PATH_NAME[p], jsize(r->fallback[role][p]), &bad);
		}
		a = json_array();
		tvs_cli_jset(x, "failed_examples", a, &bad);
		for (i = 0; a && i < ds->nphotos && shown < EXAMPLES_MAX; i++) {
			if (ds->photos[i].path == PATH_FAILED) {
				if (json_array_append_new(a, json_string(ds->photos[i].rel)) != 0)
					bad = 1;
				shown++;
			}
		}
	}
	tvs_cli_jset(root, "rank1_hit_rate", json_real(r->rank1), &bad);
	tvs_cli_jset(root, "rank1_hits", jsize(r->rank1_hits), &bad);
	if (r->float_checked) {
		x = json_object();
		tvs_cli_jset(root, "search_vs_float", x, &bad);
		tvs_cli_jset(x, "searches", jsize(r->float_checked), &bad);
		tvs_cli_jset(x, "rank1_identity_differs", jsize(r->float_differs), &bad);
	}
	a = json_array();
	tvs_cli_jset(root, "fnir_at_fpir", a, &bad);
	for (i = 0; a && i < NTARGETS; i++) {
		if (json_array_append_new(a, op_json(&r->op[i], &bad)) != 0)
			bad = 1;
	}
	tvs_cli_jset(root, "highest_nonmated", top_nonmated_json(ds, r, &bad), &bad);
	a = json_array();
	tvs_cli_jset(root, "det", a, &bad);
	for (i = 0; a && i < r->ndet; i++) {
		/* The exact curve thinned to about 10 points per FPIR decade. */
		const tvs_ident_det_point *p = &r->det[i];

		if (p->fpir <= 0 || (i + 1 < r->ndet && r->det[i + 1].fpir > 0 &&
				     floor(10 * log10(r->det[i + 1].fpir)) == floor(10 * log10(p->fpir))))
			continue;
		x = json_object();
		if (!x || json_array_append_new(a, x) != 0) {
			bad = 1;
			continue;
		}
		tvs_cli_jset(x, "fpir", json_real(p->fpir), &bad);
		tvs_cli_jset(x, "fnir", json_real(p->fnir), &bad);
		tvs_cli_jset(x, "threshold_cosine", tvs_cli_jreal(p->threshold), &bad);
	}
	x = json_object();
	tvs_cli_jset(root, "timing", x, &bad);
	if (x) {
		tvs_cli_jset(x, "scan_s", json_real(tm->scan_s), &bad);
		tvs_cli_jset(x, "photos_from_cache", jsize(tm->cached), &bad);
		tvs_cli_jset(x, "photos_described", jsize(tm->computed), &bad);
		tvs_cli_jset(x, "describe_s", json_real(tm->describe_s), &bad);
		tvs_cli_jset(x, "photos_per_s", tvs_cli_jreal((double)tm->computed / tm->describe_s), &bad);
		tvs_cli_jset(x, "search_s", json_real(r->search_s), &bad);
		tvs_cli_jset(x, "total_s", json_real(tm->total_s), &bad);
	}
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int write_det(const ident_opts *o, const ident_run *r)
{
	tvs_ident_plot_mark marks[NTARGETS];
	char title[160], labels[NTARGETS][96];
	size_t m = 0;

	for (int i = 0; i < NTARGETS; i++) {
		if (!r->op[i].resolvable)
			continue;
		snprintf(labels[m], sizeof(labels[m]), "FPIR %g: FNIR %.3f (cosine >= %.4f)", r->op[i].target_fpir,
			 r->op[i].fnir, r->op[i].threshold);
		marks[m].fpir = r->op[i].fpir > 0 ? r->op[i].fpir : r->op[i].target_fpir;
		marks[m].fnir = r->op[i].fnir;
		marks[m].label = labels[m];
		m++;
	}
	snprintf(title, sizeof(title), "1:N DET, gallery %zu, K=%d (%zu mated, %zu non-mated searches)", r->enrolled,
		 o->k, r->n_mated, r->n_nonmated);
	return tvs_ident_plot_det_png(o->det, r->det, r->ndet, 1.0 / (double)r->n_nonmated, marks, m, title);
}

static void print_summary(const ident_run *r, const ident_opts *o, const ident_timing *tm)
{
	fprintf(stderr,
		"tvs eval ident: gallery %zu of %zu eligible (K=%d, %zu templates), %zu mated + %zu non-mated "
		"searches\n",
		r->enrolled, r->eligible, o->k, r->templates, r->n_mated, r->n_nonmated);
	fprintf(stderr, "  rank-1 hit rate %.4f (%zu/%zu); search %s (%s)", r->rank1, r->rank1_hits, r->n_mated,
		MODE_NAME[o->mode], tvs_gallery_kernel_name(o->mode));
	if (r->float_checked)
		fprintf(stderr, ", rank-1 differs from float in %zu of %zu", r->float_differs, r->float_checked);
	fprintf(stderr, "\n");
	for (int i = 0; i < NTARGETS; i++)
		fprintf(stderr, "  FNIR %.4f at FPIR %g (achieved %.5f, cosine >= %.4f)%s\n", r->op[i].fnir,
			r->op[i].target_fpir, r->op[i].fpir, r->op[i].threshold,
			r->op[i].resolvable ? "" : " [not resolvable: too few non-mated searches]");
	fprintf(stderr, "  FTE %zu photos (%zu identities dropped), FTA %zu mated + %zu non-mated\n", r->fte_photos,
		r->fte_identities, r->fta_mated, r->fta_nonmated);
	fprintf(stderr, "  %zu photos from cache, %zu described in %.1f s; total %.1f s\n", tm->cached, tm->computed,
		tm->describe_s, tm->total_s);
}

/* ------------------------------------------------------------ calibration */

/* The ident points of this run into o->calib_out (merged; calib.h). */
static int write_calibration(const ident_opts *o, const dataset *ds, const ident_run *r)
{
	char command[TVS_CALIB_TEXT_MAX + 1], source[256];
	tvs_calib_ident_point pts[NTARGETS];
	tvs_calib c;
	int rc;

	rc = tvs_calib_load_for_update(&c, o->calib_out, TVS_MATCH_DEFAULT_MODEL);
	if (rc)
		return rc;
	for (int i = 0; i < NTARGETS; i++) {
		pts[i] = (tvs_calib_ident_point){
			.gallery_size = r->enrolled,
			.target_fpir = r->op[i].target_fpir,
			.threshold = r->op[i].threshold,
			.fnir = r->op[i].fnir,
			.resolvable = r->op[i].resolvable,
		};
	}
	snprintf(source, sizeof(source),
		 "%s, %zu photos of %zu people: 1:N, gallery %zu, K=%d, seed %" PRIu64
		 ", %zu mated + %zu non-mated searches",
		 o->root, ds->nphotos, ds->npeople, r->enrolled, o->k, o->seed, r->n_mated, r->n_nonmated);
	tvs_calib_format_command("tvs eval", o->argc, o->argv, command, sizeof(command));
	rc = tvs_calib_set_ident(&c, pts, NTARGETS);
	if (rc == 0)
		rc = tvs_calib_add_source(&c, source, command);
	if (rc == 0)
		rc = tvs_calib_write_json(&c, o->calib_out);
	if (rc == 0)
		fprintf(stderr, "  calibration: gallery %zu points written to %s\n", r->enrolled, o->calib_out);
	tvs_calib_free(&c);
	return rc;
}

/* ------------------------------------------------------------ entry */

int tvs_cli_eval_ident(int argc, char **argv)
{
	ident_opts o;
	dataset ds;
	ident_run r;
	ident_timing tm;
	double t0 = tvs_cli_now_s();
	json_t *root;
	int rc, status;

	status = parse_opts(argc, argv, &o);
	if (status >= 0)
		return status;
	memset(&r, 0, sizeof(r));
	memset(&tm, 0, sizeof(tm));
	rc = dataset_scan(o.root, &ds);
	if (rc)
		goto fail_scan;
	tm.scan_s = tvs_cli_now_s() - t0;
	fprintf(stderr, "tvs eval ident: %zu people, %zu photos under %s\n", ds.npeople, ds.nphotos, o.root);
	if (o.cache) {
		rc = cache_load(o.cache, &ds, &tm.cached);
		if (rc)
			goto fail;
	}
	rc = describe_missing(&o, &ds, &tm.computed, &tm.describe_s);
	if (rc)
		goto fail;
	if (o.cache && tm.computed) {
		rc = cache_save(o.cache, &ds);
		if (rc)
			goto fail;
	}
	rc = run_protocol(&o, &ds, &r);
	if (rc)
		goto fail;
	if (o.det) {
		rc = write_det(&o, &r);
		if (rc)
			goto fail;
	}
	if (o.calib_out) {
		rc = write_calibration(&o, &ds, &r);
		if (rc)
			goto fail;
	}
	tm.total_s = tvs_cli_now_s() - t0;
	root = result_json(&o, &ds, &r, &tm);
	if (!root) {
		rc = tvs__err(TVS_ENOMEM, "building the JSON result");
		goto fail;
	}
	rc = tvs_cli_write_json(root, o.out);
	json_decref(root);
	if (rc)
		goto fail;
	print_summary(&r, &o, &tm);

fail:
	free(r.search);
	free(r.search_photo);
	free(r.gallery_person);
	free(r.det);
	dataset_free(&ds);
fail_scan:
	if (rc) {
		fprintf(stderr, "tvs eval ident: %s\n", tvs_errmsg()[0] ? tvs_errmsg() : tvs_strerror(rc));
		return TVS_EXIT_FAIL;
	}
	return TVS_EXIT_OK;
}
