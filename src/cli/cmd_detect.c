/*
 * tvs detect: faces, landmarks and descriptors for each image, one JSON line
 * per image in the shape of ../shared/faceref/ref.mjs, so compare.mjs reads
 * it directly.
 *
 * Images run in parallel on a pool (--threads N), one face context per
 * worker; lines are printed in input order, batch by batch, so memory stays
 * flat however many images are given.
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/nn.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FACES 100
#define BATCH 32

static const char HELP[] =
	"usage: tvs detect [options] IMAGE...\n"
	"\n"
	"Detects every face, its 68 landmarks and its 128-d descriptor, and prints one\n"
	"JSON line per image: path, width, height, num_faces, faces[{score, box,\n"
	"landmarks, rec_crop, descriptor}], largest, descriptor (of the largest face),\n"
	"timings_ms. An image that cannot be read gets a line with \"error\".\n"
	"\n"
	"options:\n"
	"  --detector ssd|tiny   face detector (default ssd, as face-api)\n"
	"  --input-size N        tiny detector input size, a multiple of 32 (default 416)\n"
	"  --min-score X         detection score threshold (default 0.5)\n"
	"  --align faceapi|rotated  recognition crop (default faceapi)\n"
	"  --ignore-exif         ignore EXIF orientation (face-api parity)\n"
	"  --no-flip             do not average each descriptor with its mirror image's\n"
	"  --parity              face-api's exact pipeline: --align faceapi --no-flip --fp32\n"
	"                        --ignore-exif (what ../shared/faceref/compare.mjs expects)\n"
	"  --fp32                fp32 detector even where the CPU has AVX-512 VNNI (int8)\n"
	"  --threads N           images processed in parallel (default 1)\n"
	"  --models DIR          model folder (default $TVS_MODELS or models/model)\n"
	"\n"
	"exit status: 0 all images processed, 1 some image failed, 2 usage error.\n";

struct job {
	const char *path;
	char *line; /* malloc'd JSON, or NULL */
	int failed;
};

struct run {
	tvs_face_ctx_t **ctx;
	tvs_img_opts img_opts;
	const char *detector_name;
	struct job *jobs;
	tvs_face *faces; /* MAX_FACES per worker */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *face_json(const tvs_face *f, int with_descriptor)
{
	json_t *o = json_object(), *lm = json_array(), *d = json_array();

	json_object_set_new(o, "score", json_real(f->score));
	json_object_set_new(o, "box", json_pack("{s:f,s:f,s:f,s:f}", "x", f->box[0], "y", f->box[1], "width",
						  f->box[2], "height", f->box[3]));
	for (int i = 0; i < TVS_FACE_LANDMARKS && f->has_landmarks; i++)
		json_array_append_new(lm, json_pack("[f,f]", f->landmarks[i][0], f->landmarks[i][1]));
	json_object_set_new(o, "landmarks", lm);
	json_object_set_new(o, "rec_crop", json_pack("{s:i,s:i,s:i,s:i}", "x", f->rec_crop.x, "y", f->rec_crop.y,
						       "width", f->rec_crop.width, "height", f->rec_crop.height));
	for (int i = 0; i < TVS_FACE_DESC_DIM && with_descriptor && f->has_descriptor; i++)
		json_array_append_new(d, json_real(f->descriptor[i]));
	if (with_descriptor && f->has_descriptor)
		json_object_set_new(o, "descriptor", d);
	else
		json_decref(d);
	return o;
}

static void run_one(void *arg, int task, int worker)
{
	struct run *r = arg;
	struct job *j = &r->jobs[task];
	tvs_face *faces = r->faces + (size_t)worker * MAX_FACES;
	tvs_image img = {0};
	tvs_face_timings t = {0};
	json_t *o = json_object();
	double t0 = now_ms(), t1;
	int n = 0, rc;

	json_object_set_new(o, "path", json_string(j->path));
	rc = tvs_img_read_file(j->path, &r->img_opts, &img);
	t1 = now_ms();
	if (rc == 0)
		rc = tvs_face_analyze(r->ctx[worker], &img, faces, MAX_FACES, &n, &t);
	if (rc < 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s: %s", tvs_strerror(rc), tvs_errmsg());
		json_object_set_new(o, "error", json_string(msg));
		j->failed = 1;
	} else {
		json_t *arr = json_array();
		int largest = -1;
		double best = -1;
		for (int i = 0; i < n; i++) {
			double area = faces[i].box[2] * faces[i].box[3];
			if (area > best)
				best = area, largest = i;
		}
		json_object_set_new(o, "width", json_integer(img.width));
		json_object_set_new(o, "height", json_integer(img.height));
		json_object_set_new(o, "detector", json_string(r->detector_name));
		json_object_set_new(o, "num_faces", json_integer(n));
		for (int i = 0; i < n; i++) {
			json_t *fj = face_json(&faces[i], 1);
			if (i == largest)
				json_object_set_new(fj, "largest", json_true());
			json_array_append_new(arr, fj);
		}
		json_object_set_new(o, "faces", arr);
		json_object_set_new(o, "largest", largest >= 0 ? json_integer(largest) : json_null());
		if (largest >= 0) {
			json_t *d = json_array();
			for (int i = 0; i < TVS_FACE_DESC_DIM; i++)
				json_array_append_new(d, json_real(faces[largest].descriptor[i]));
			json_object_set_new(o, "descriptor", d);
		} else {
			json_object_set_new(o, "descriptor", json_null());
		}
		double total = now_ms() - t0;
		json_object_set_new(o, "timings_ms",
				    json_pack("{s:f,s:f,s:f,s:f,s:f}", "decode", t1 - t0, "detect", t.detect_ms,
					      "landmarks", t.landmarks_ms, "descriptors", t.descriptor_ms, "total",
					      total));
	}
	j->line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(o);
	tvs_image_free(&img);
}

int tvs_cli_detect(int argc, char **argv)
{
	tvs_face_config cfg;
	tvs_face_engine_t *eng = NULL;
	tvs_pool_t *pool = NULL;
	struct run r = {0};
	int threads = 1, first = -1, status = TVS_EXIT_OK, rc;

	tvs_face_default_config(&cfg);
	cfg.model_dir = tvs_cli_model_dir();
	tvs_img_default_opts(&r.img_opts);
	r.detector_name = "ssd_mobilenetv1";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(HELP, stdout);
			return TVS_EXIT_OK;
		} else if (!strcmp(a, "--detector") && v) {
			if (!strcmp(v, "ssd"))
				cfg.detector = TVS_DETECTOR_SSD, r.detector_name = "ssd_mobilenetv1";
			else if (!strcmp(v, "tiny"))
				cfg.detector = TVS_DETECTOR_TINY, r.detector_name = "tiny_face_detector";
			else
				goto usage;
			i++;
		} else if (!strcmp(a, "--input-size") && v) {
			cfg.tiny_input_size = atoi(v);
			i++;
		} else if (!strcmp(a, "--min-score") && v) {
			char *end;
			cfg.min_score = strtof(v, &end);
			if (*end || !(cfg.min_score >= 0 && cfg.min_score < 1))
				goto usage;
			i++;
		} else if (!strcmp(a, "--align") && v) {
			if (tvs_cli_parse_align(v, &cfg.align) < 0)
				goto usage;
			i++;
		} else if (!strcmp(a, "--ignore-exif")) {
			r.img_opts.ignore_exif = 1;
		} else if (!strcmp(a, "--no-flip")) {
			cfg.flip_average = 0;
		} else if (!strcmp(a, "--parity")) {
			/* face-api's exact pipeline, for compare.mjs */
			cfg.flip_average = 0;
			cfg.int8 = 0;
			cfg.align = TVS_ALIGN_FACEAPI;
			r.img_opts.ignore_exif = 1;
		} else if (!strcmp(a, "--fp32")) {
			cfg.int8 = 0;
		} else if (!strcmp(a, "--threads") && v) {
			if (tvs_cli_parse_threads(v, &threads) < 0)
				goto usage;
			i++;
		} else if (!strcmp(a, "--models") && v) {
			cfg.model_dir = v;
			i++;
		} else if (a[0] == '-' && a[1] == '-' && a[2] == 0) {
			first = i + 1;
			break;
		} else if (a[0] == '-') {
			goto usage;
		} else {
			first = i;
			break;
		}
	}
	if (first < 0 || first >= argc)
		goto usage;

	rc = tvs_face_engine_create(&eng, &cfg);
	if (rc < 0) {
		fprintf(stderr, "tvs detect: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		return TVS_EXIT_FAIL;
	}
	r.ctx = calloc((size_t)threads, sizeof(*r.ctx));
	r.faces = calloc((size_t)threads * MAX_FACES, sizeof(tvs_face));
	r.jobs = calloc(BATCH, sizeof(struct job));
	if (!r.ctx || !r.faces || !r.jobs) {
		fprintf(stderr, "tvs detect: out of memory\n");
		status = TVS_EXIT_FAIL;
		goto out;
	}
	for (int w = 0; w < threads; w++) {
		rc = tvs_face_ctx_create(&r.ctx[w], eng);
		if (rc < 0) {
			fprintf(stderr, "tvs detect: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
			status = TVS_EXIT_FAIL;
			goto out;
		}
	}
	rc = tvs_pool_create(&pool, threads);
	if (rc < 0) {
		fprintf(stderr, "tvs detect: %s\n", tvs_errmsg());
		status = TVS_EXIT_FAIL;
		goto out;
	}
	for (int i = first; i < argc; i += BATCH) {
		int n = argc - i < BATCH ? argc - i : BATCH;
		for (int k = 0; k < n; k++)
			r.jobs[k] = (struct job){argv[i + k], NULL, 0};
		tvs_pool_run(pool, n, run_one, &r);
		for (int k = 0; k < n; k++) {
			if (r.jobs[k].line)
				puts(r.jobs[k].line);
			else
				printf("{\"path\":\"?\",\"error\":\"out of memory\"}\n");
			if (r.jobs[k].failed || !r.jobs[k].line) {
				status = TVS_EXIT_FAIL;
				fprintf(stderr, "tvs detect: %s: failed\n", r.jobs[k].path);
			}
			free(r.jobs[k].line);
		}
		fflush(stdout);
	}
out:
	tvs_pool_destroy(pool);
	for (int w = 0; r.ctx && w < threads; w++)
		tvs_face_ctx_destroy(r.ctx[w]);
	free(r.ctx);
	free(r.faces);
	free(r.jobs);
	tvs_face_engine_destroy(eng);
	return status;
usage:
	fputs(HELP, stderr);
	return TVS_EXIT_USAGE;
}
