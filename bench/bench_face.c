/*
 * Face-engine benchmark on the demo photos.
 *
 * Prints the median ms per stage (decode, detect, landmarks, recognition) on
 * one thread and the throughput with all threads, the forward time of each
 * network on its native input with the fraction of this core's measured FMA
 * peak it reaches, and writes the same figures as JSON (argv[1]) for
 * scripts/bench.sh to set against face-api's harness run in the same script.
 * No figure here is asserted: machines are noisy.
 */
#include "peak.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NIMG 6
#define REPS 7
#define MAXF 32

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmpd);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

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
	double t0 = bench_now_s();
	rc = tvs_img_read_file(path, &io, &img);
	double t1 = bench_now_s();
	if (rc == 0)
		rc = tvs_face_analyze(ctx, &img, faces, MAXF, &n, &t);
	double t2 = bench_now_s();
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

struct par {
	tvs_face_ctx_t **ctx;
	tvs_face *faces;
	const char **paths;
	int err;
};

static void par_task(void *arg, int task, int worker)
{
	struct par *p = arg;
	struct stage_ms s;
	int n;

	if (run_image(p->ctx[worker], p->paths[task % NIMG], p->faces + (size_t)worker * MAXF, &s, &n) < 0)
		p->err = 1;
}

int main(int argc, char **argv)
{
	const char *json_out = argc > 1 ? argv[1] : NULL;
	const char *models = getenv("TVS_MODELS") ? getenv("TVS_MODELS") : "models/model";
	const char *paths[NIMG] = {"models/demo/sample1.jpg", "models/demo/sample2.jpg", "models/demo/sample3.jpg",
				   "models/demo/sample4.jpg", "models/demo/sample5.jpg", "models/demo/sample6.jpg"};
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	tvs_face_config cfg;
	tvs_face_engine_t *eng = NULL, *tiny = NULL;
	tvs_face_ctx_t **ctx;
	tvs_face *faces;
	static double per[NIMG][5][REPS];
	int nfaces[NIMG];

	if (ncpu < 1)
		ncpu = 1;
	tvs_face_default_config(&cfg);
	cfg.model_dir = models;
	if (tvs_face_engine_create(&eng, &cfg) < 0) {
		fprintf(stderr, "bench_face: %s\n", tvs_errmsg());
		return 1;
	}
	cfg.detector = TVS_DETECTOR_TINY;
	if (tvs_face_engine_create(&tiny, &cfg) < 0) {
		fprintf(stderr, "bench_face: %s\n", tvs_errmsg());
		return 1;
	}
	ctx = calloc((size_t)ncpu, sizeof(*ctx));
	faces = calloc((size_t)ncpu * MAXF, sizeof(*faces));
	for (int w = 0; w < ncpu; w++)
		if (tvs_face_ctx_create(&ctx[w], eng) < 0) {
			fprintf(stderr, "bench_face: %s\n", tvs_errmsg());
			return 1;
		}

	int level = tvs_cpu_simd_level();
	double peak = bench_fma_peak_gflops(level);
	printf("fp32 FMA peak of one core (%s, 16 independent chains): %.1f GFLOP/s\n",
	       level >= 2 ? "AVX-512" : "AVX2", peak);

	/* ---- one thread, stage by stage ---- */
	struct stage_ms s;
	for (int i = 0; i < NIMG; i++) /* warm-up */
		run_image(ctx[0], paths[i], faces, &s, &nfaces[i]);
	for (int r = 0; r < REPS; r++)
		for (int i = 0; i < NIMG; i++) {
			if (run_image(ctx[0], paths[i], faces, &s, &nfaces[i]) < 0) {
				fprintf(stderr, "bench_face: %s: %s\n", paths[i], tvs_errmsg());
				return 1;
			}
			per[i][0][r] = s.decode, per[i][1][r] = s.detect, per[i][2][r] = s.landmarks;
			per[i][3][r] = s.recognition, per[i][4][r] = s.total;
		}
	static const char *SN[5] = {"decode", "detect", "landmarks", "recognition", "total"};
	double sum[5] = {0};
	printf("\none thread, median of %d runs per image (ms):\n", REPS);
	printf("| image | faces | decode | detect | landmarks | recognition | total |\n|---|---|---|---|---|---|---|\n");
	FILE *js = json_out ? fopen(json_out, "w") : NULL;
	if (js)
		fprintf(js, "{\"peak_gflops\":%.2f,\"images\":[", peak);
	for (int i = 0; i < NIMG; i++) {
		double m[5];
		for (int k = 0; k < 5; k++) {
			m[k] = median(per[i][k], REPS);
			sum[k] += m[k];
		}
		printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", paths[i] + 12, nfaces[i], m[0], m[1], m[2], m[3],
		       m[4]);
		if (js)
			fprintf(js, "%s{\"path\":\"%s\",\"faces\":%d,\"decode\":%.3f,\"detect\":%.3f,\"landmarks\":%.3f,"
				    "\"recognition\":%.3f,\"total\":%.3f}",
				i ? "," : "", paths[i] + 7, nfaces[i], m[0], m[1], m[2], m[3], m[4]);
	}
	printf("| all six | | %.1f | %.1f | %.1f | %.1f | %.1f |\n", sum[0], sum[1], sum[2], sum[3], sum[4]);
	(void)SN;

	/* ---- all threads: throughput ---- */
	tvs_pool_t *pool = NULL;
	double tput1 = NIMG / (sum[4] / 1e3), tputn = 0;
	if (tvs_pool_create(&pool, ncpu) == 0) {
		struct par p = {ctx, faces, paths, 0};
		int ntask = NIMG * 4;
		tvs_pool_run(pool, NIMG, par_task, &p); /* warm-up */
		double best = 1e30;
		for (int r = 0; r < 3; r++) {
			double t0 = bench_now_s();
			tvs_pool_run(pool, ntask, par_task, &p);
			double dt = bench_now_s() - t0;
			best = dt < best ? dt : best;
		}
		tputn = ntask / best;
		tvs_pool_destroy(pool);
	}
	printf("\nthroughput, whole pipeline with decode: 1 thread %.1f images/s; %d threads %.1f images/s "
	       "(%.2fx)\n",
	       tput1, ncpu, tputn, tputn / tput1);

	/* ---- each network on its native input ---- */
	static const struct {
		const char *name;
		int size;
		double macs;
	} NETS[4] = {{"recognition", 150, 270854144.0},
		     {"landmarks", 112, 51571840.0},
		     {"ssd_mobilenetv1", 512, 3143007488.0},
		     {"tiny_face_detector", 416, 198760528.0}};
	size_t maxin = 512 * 512 * 3;
	float *in = malloc(maxin * sizeof(float)), *o1 = malloc(5118 * 4 * sizeof(float));
	float *o2 = malloc(5118 * sizeof(float));
	tvs_face_ctx_t *tctx = NULL;
	tvs_face_ctx_create(&tctx, tiny);
	srand(42);
	for (size_t i = 0; i < maxin; i++)
		in[i] = (float)(rand() % 256);
	printf("\nnetworks on one thread, median of 15 runs on a random input:\n");
	printf("| network | input | GMACs | median ms | GFLOP/s | %% of FMA peak |\n|---|---|---|---|---|---|\n");
	if (js)
		fprintf(js, "],\"threads\":%d,\"tput1\":%.3f,\"tputn\":%.3f,\"nets\":[", ncpu, tput1, tputn);
	for (int k = 0; k < 4; k++) {
		double t[15];
		for (int r = 0; r < 16; r++) {
			double t0 = bench_now_s();
			switch (k) {
			case 0: tvs_face_recognition_forward(ctx[0], in, o1); break;
			case 1: tvs_face_landmark_forward(ctx[0], in, o1); break;
			case 2: tvs_face_ssd_forward(ctx[0], in, o1, o2); break;
			default: tvs_face_tiny_forward(tctx, in, o1); break;
			}
			if (r)
				t[r - 1] = (bench_now_s() - t0) * 1e3;
		}
		double med = median(t, 15), gf = 2 * NETS[k].macs / (med / 1e3) / 1e9;
		printf("| %s | %dx%d | %.3f | %.2f | %.1f | %.0f%% |\n", NETS[k].name, NETS[k].size, NETS[k].size,
		       NETS[k].macs / 1e9, med, gf, 100 * gf / peak);
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
	tvs_face_ctx_destroy(tctx);
	for (int w = 0; w < ncpu; w++)
		tvs_face_ctx_destroy(ctx[w]);
	free(ctx);
	free(faces);
	tvs_face_engine_destroy(eng);
	tvs_face_engine_destroy(tiny);
	return 0;
}
