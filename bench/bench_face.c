/*
 * Face-engine benchmark on the demo photos.
 *
 * Prints the median ms per stage (decode, detect, landmarks, recognition) on
 * one thread, for face-api's exact pipeline and for tvs's default (int8 SSD,
 * mirror-averaged descriptors), the throughput with one and all threads, the forward time of each
 * network on its native input with the fraction of this core's measured FMA
 * peak it reaches, and writes the same figures as JSON (argv[1]) for
 * scripts/bench.sh to set against face-api's harness run in the same script.
 * No figure here is asserted: machines are noisy.
 */
#include "peak.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/nn.h"
#include "tvs/qconv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NIMG 6
#define REPS 7
#define MAXF 32

struct stage_ms {
	double decode, detect, landmarks, recognition, total;
};

/* One pass over an image file: decode + full pipeline. */
static int run_image(tvs_face_ctx_t *ctx, const char *path, tvs_face *faces, struct stage_ms *s, int *nfaces)
{
	tvs_img_opts io;
	tvs_image img = {0};
	tvs_face_timings t;
	int n = 0, rc;

	tvs_img_default_opts(&io);
	io.ignore_exif = 1;
	double t0 = now();
	rc = tvs_img_read_file(path, &io, &img);
	double t1 = now();
	if (rc == 0)
		rc = tvs_face_analyze(ctx, &img, faces, MAXF, &n, &t);
	double t2 = now();
	tvs_image_free(&img);
	if (rc < 0)
		return rc;
	s->decode = (t1 - t0) * 1e3;
	s->detect = t.detect_ms;
	s->landmarks = t.landmarks_ms;
	s->recognition = t.descriptor_ms;
	s->total = (t2 - t0) * 1e3;
	*nfaces = n;
	return 0;
}

#define PAR_REPS 4

struct par {
	tvs_face_ctx_t **ctx;
	tvs_face *faces;
	const char **paths;
	int err;
	struct stage_ms rec[NIMG * PAR_REPS]; /* each task's stage times */
};

static void par_task(void *arg, int task, int worker)
{
	struct par *p = arg;
	struct stage_ms s;
	int n;

	if (run_image(p->ctx[worker], p->paths[task % NIMG], p->faces + (size_t)worker * MAXF, &s, &n) < 0)
		p->err = 1;
	else if (task < NIMG * PAR_REPS)
		p->rec[task] = s;
}

/* Per-stage medians over REPS runs of each photo on one thread; prints a
 * table and appends the per-photo figures to js (if open) as "key":[...]. */
static int stage_table(tvs_face_ctx_t *ctx, tvs_face *faces, const char **paths, const char *label,
		       FILE *js, const char *key, double sum[5])
{
	static double per[NIMG][5][REPS];
	int nfaces[NIMG];
	struct stage_ms s;

	for (int i = 0; i < NIMG; i++) /* warm-up */
		if (run_image(ctx, paths[i], faces, &s, &nfaces[i]) < 0) {
			fprintf(stderr, "bench_face: %s: %s\n", paths[i], tvs_errmsg());
			return -1;
		}
	for (int r = 0; r < REPS; r++)
		for (int i = 0; i < NIMG; i++) {
			run_image(ctx, paths[i], faces, &s, &nfaces[i]);
			per[i][0][r] = s.decode, per[i][1][r] = s.detect, per[i][2][r] = s.landmarks;
			per[i][3][r] = s.recognition, per[i][4][r] = s.total;
		}
	printf("\n%s: one thread, median of %d runs per photo (ms)\n", label, REPS);
	printf("| photo | faces | decode | detect | landmarks | recognition | total |\n|---|---|---|---|---|---|---|\n");
	if (js)
		fprintf(js, "\"%s\":[", key);
	memset(sum, 0, 5 * sizeof(double));
	for (int i = 0; i < NIMG; i++) {
		double m[5];
		for (int k = 0; k < 5; k++) {
			m[k] = bench_median(per[i][k], REPS);
			sum[k] += m[k];
		}
		printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", paths[i] + 12, nfaces[i], m[0], m[1], m[2],
		       m[3], m[4]);
		if (js)
			fprintf(js, "%s{\"path\":\"%s\",\"faces\":%d,\"decode\":%.3f,\"detect\":%.3f,\"landmarks\":%.3f,"
				    "\"recognition\":%.3f,\"total\":%.3f}",
				i ? "," : "", paths[i] + 7, nfaces[i], m[0], m[1], m[2], m[3], m[4]);
	}
	if (js)
		fprintf(js, "],");
	printf("| all six | | %.1f | %.1f | %.1f | %.1f | %.1f |\n", sum[0], sum[1], sum[2], sum[3], sum[4]);
	return 0;
}

/* Images per second through the whole pipeline, decode included, with one
 * context per pool worker. */
/* Images per second through the whole pipeline with nthreads workers, and
 * (stages != NULL) the per-stage sums over the six photos of each photo's
 * median under that load: decode, detect, landmarks, recognition, total. */
static double throughput(tvs_face_ctx_t **ctx, tvs_face *faces, const char **paths, int nthreads, double stages[5])
{
	tvs_pool_t *pool = NULL;
	static struct par p;
	int ntask = NIMG * PAR_REPS;
	double best = 1e30;

	memset(&p, 0, sizeof(p));
	p.ctx = ctx, p.faces = faces, p.paths = paths;
	if (tvs_pool_create(&pool, nthreads) < 0)
		return 0;
	tvs_pool_run(pool, NIMG, par_task, &p); /* warm-up */
	for (int r = 0; r < 3; r++) {
		double t0 = now();
		tvs_pool_run(pool, ntask, par_task, &p);
		double dt = now() - t0;
		best = dt < best ? dt : best;
	}
	tvs_pool_destroy(pool);
	if (stages) {
		/* from the last timed round */
		for (int k = 0; k < 5; k++)
			stages[k] = 0;
		for (int i = 0; i < NIMG; i++) {
			double v[5][PAR_REPS];
			for (int r = 0; r < PAR_REPS; r++) {
				const struct stage_ms *m = &p.rec[r * NIMG + i];
				v[0][r] = m->decode, v[1][r] = m->detect, v[2][r] = m->landmarks;
				v[3][r] = m->recognition, v[4][r] = m->total;
			}
			for (int k = 0; k < 5; k++)
				stages[k] += bench_median(v[k], PAR_REPS);
		}
	}
	return p.err ? 0 : ntask / best;
}

static int make_engine(tvs_face_engine_t **e, const char *models, int detector, int exact)
{
	tvs_face_config cfg;

	tvs_face_default_config(&cfg);
	cfg.model_dir = models;
	cfg.detector = detector;
	if (exact) {
		cfg.flip_average = 0;
		cfg.int8 = 0;
	}
	if (tvs_face_engine_create(e, &cfg) < 0) {
		fprintf(stderr, "bench_face: %s\n", tvs_errmsg());
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *json_out = argc > 1 ? argv[1] : NULL;
	const char *models = getenv("TVS_MODELS") ? getenv("TVS_MODELS") : "models/model";
	const char *paths[NIMG] = {"models/demo/sample1.jpg", "models/demo/sample2.jpg", "models/demo/sample3.jpg",
				   "models/demo/sample4.jpg", "models/demo/sample5.jpg", "models/demo/sample6.jpg"};
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	tvs_face_engine_t *exact = NULL, *deflt = NULL, *tiny = NULL;
	tvs_face_ctx_t **cx, **cd, *ct = NULL;
	tvs_face *faces;
	double sx[5], sd[5];

	if (ncpu < 1)
		ncpu = 1;
	if (make_engine(&exact, models, TVS_DETECTOR_SSD, 1) < 0 || make_engine(&deflt, models, TVS_DETECTOR_SSD, 0) < 0 ||
	    make_engine(&tiny, models, TVS_DETECTOR_TINY, 1) < 0)
		return 1;
	cx = calloc((size_t)ncpu, sizeof(*cx));
	cd = calloc((size_t)ncpu, sizeof(*cd));
	faces = calloc((size_t)ncpu * MAXF, sizeof(*faces));
	for (int w = 0; w < ncpu; w++)
		if (tvs_face_ctx_create(&cx[w], exact) < 0 || tvs_face_ctx_create(&cd[w], deflt) < 0) {
			fprintf(stderr, "bench_face: %s\n", tvs_errmsg());
			return 1;
		}
	if (tvs_face_ctx_create(&ct, tiny) < 0)
		return 1;

	int level = tvs_cpu_simd_level();
	double peak = bench_fma_peak_gflops(level);
	printf("fp32 FMA peak of one core (%s, best of many short trials): %.1f GFLOP/s\n",
	       level >= 2 ? "zmm" : "ymm", peak);
	printf("int8 SSD path: %s\n", tvs_qconv_available() ? "AVX-512 VNNI" : "unavailable (fp32)");

	FILE *js = json_out ? fopen(json_out, "w") : NULL;
	if (js)
		fprintf(js, "{\"peak_gflops\":%.2f,", peak);
	if (stage_table(cx[0], faces, paths, "face-api's pipeline (fp32, no mirror: the same work as face-api)", js,
			"images", sx) < 0 ||
	    stage_table(cd[0], faces, paths, "tvs default (int8 SSD where VNNI exists, mirror-averaged descriptors)",
			js, "images_default", sd) < 0)
		return 1;

	double stx[5], std_[5];
	double t1x = throughput(cx, faces, paths, 1, NULL), tnx = throughput(cx, faces, paths, ncpu, stx);
	double t1d = throughput(cd, faces, paths, 1, NULL), tnd = throughput(cd, faces, paths, ncpu, std_);
	printf("\nthroughput, whole pipeline with decode (images/s):\n");
	printf("| pipeline | 1 thread | %d threads | scaling |\n|---|---|---|---|\n", ncpu);
	printf("| face-api's | %.1f | %.1f | %.2fx |\n", t1x, tnx, tnx / t1x);
	printf("| tvs default | %.1f | %.1f | %.2fx |\n", t1d, tnd, tnd / t1d);
	printf("\nall %d threads busy: per-stage ms, summed over the six photos (median of %d runs each)\n", ncpu,
	       PAR_REPS);
	printf("| pipeline | decode | detect | landmarks | recognition | total |\n|---|---|---|---|---|---|\n");
	printf("| face-api's | %.1f | %.1f | %.1f | %.1f | %.1f |\n", stx[0], stx[1], stx[2], stx[3], stx[4]);
	printf("| tvs default | %.1f | %.1f | %.1f | %.1f | %.1f |\n", std_[0], std_[1], std_[2], std_[3], std_[4]);

	/* ---- each network on its native input ---- */
	static const struct {
		const char *name;
		int size;
		double macs;
	} NETS[5] = {{"recognition", 150, 270854144.0},
		     {"landmarks", 112, 51571840.0},
		     {"ssd_mobilenetv1", 512, 3143007488.0},
		     {"ssd_mobilenetv1_int8", 512, 3143007488.0},
		     {"tiny_face_detector", 416, 198760528.0}};
	size_t maxin = 512 * 512 * 3;
	float *in = malloc(maxin * sizeof(float)), *o1 = malloc(5118 * 4 * sizeof(float));
	float *o2 = malloc(5118 * sizeof(float));
	srand(42);
	for (size_t i = 0; i < maxin; i++)
		in[i] = (float)(rand() % 256);
	printf("\nnetworks on one thread, median of 15 runs on a random input:\n");
	printf("| network | input | GMACs | median ms | GFLOP/s | %% of fp32 FMA peak |\n|---|---|---|---|---|---|\n");
	if (js)
		fprintf(js, "\"threads\":%d,\"tput1\":%.3f,\"tputn\":%.3f,\"tput1_default\":%.3f,\"tputn_default\":%.3f,"
			    "\"nets\":[",
			ncpu, t1x, tnx, t1d, tnd);
	for (int k = 0; k < 5; k++) {
		double t[15];
		if (k == 3 && !tvs_qconv_available())
			continue;
		for (int r = 0; r < 16; r++) {
			double t0 = now();
			switch (k) {
			case 0: tvs_face_recognition_forward(cx[0], in, o1); break;
			case 1: tvs_face_landmark_forward(cx[0], in, o1); break;
			case 2: tvs_face_ssd_forward(cx[0], in, o1, o2); break;
			case 3: tvs_face_ssd_forward(cd[0], in, o1, o2); break;
			default: tvs_face_tiny_forward(ct, in, o1); break;
			}
			if (r)
				t[r - 1] = (now() - t0) * 1e3;
		}
		double med = bench_median(t, 15), gf = 2 * NETS[k].macs / (med / 1e3) / 1e9;
		printf("| %s | %dx%d | %.3f | %.2f | %.1f | %.0f%%%s |\n", NETS[k].name, NETS[k].size, NETS[k].size,
		       NETS[k].macs / 1e9, med, gf, 100 * gf / peak, k == 3 ? " (int8: not an fp32 figure)" : "");
		if (js)
			fprintf(js, "%s{\"name\":\"%s\",\"ms\":%.3f,\"gflops\":%.2f,\"peak_frac\":%.4f}", k ? "," : "",
				NETS[k].name, med, gf, gf / peak);
	}
	if (js) {
		fprintf(js, "]}\n");
		fclose(js);
	}
	free(in);
	free(o1);
	free(o2);
	tvs_face_ctx_destroy(ct);
	for (int w = 0; w < ncpu; w++) {
		tvs_face_ctx_destroy(cx[w]);
		tvs_face_ctx_destroy(cd[w]);
	}
	free(cx);
	free(cd);
	free(faces);
	tvs_face_engine_destroy(exact);
	tvs_face_engine_destroy(deflt);
	tvs_face_engine_destroy(tiny);
	return 0;
}
