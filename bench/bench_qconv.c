/*
 * int8 (VNNI) against fp32 for the SSD's 1x1 convs.
 *
 * 1. Every 1x1 conv the int8 path could replace (pw1 is listed but the SSD
 *    keeps it fp32: memory-bound, no gain), at its real size, on random
 *    weights and inputs in [0, 6]: median ms and GMAC/s of tvs_conv_forward
 *    (fp32, the default kernel) and tvs_qconv_forward, timed alternately in
 *    the same run so machine noise hits both alike.
 * 2. The whole SSD forward (tvs_face_ssd_forward) on an engine with
 *    int8 = 0 and one with int8 = 1, alternately, median ms.
 * 3. Detection agreement on the demo photos: faces found by each engine,
 *    and for each fp32 face the best-IoU int8 face with both scores.
 * Figures only; nothing is asserted.
 */
#include "peak.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/nn.h"
#include "tvs/qconv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 15
#define MAXF 64

static uint64_t rng = 88172645463325252ull;

static float frand01(void)
{
	return (float)((bench_xorshift64(&rng) >> 40) / 16777216.0);
}

static const struct {
	const char *name;
	int hw, cin, cout, count;
} LAYERS[] = {
	{"pw1", 256, 32, 64, 1},     {"pw2", 128, 64, 128, 1},    {"pw3", 128, 128, 128, 1},
	{"pw4", 64, 128, 256, 1},    {"pw5", 64, 256, 256, 1},    {"pw6", 32, 256, 512, 1},
	{"pw7-11", 32, 512, 512, 5}, {"pw12", 16, 512, 1024, 1},  {"pw13", 16, 1024, 1024, 1},
	{"extra0", 16, 1024, 256, 1}, {"extra2", 8, 512, 128, 1}, {"extra4", 4, 256, 128, 1},
	{"extra6", 2, 256, 64, 1},
};
#define NLAYERS (sizeof(LAYERS) / sizeof(LAYERS[0]))

static int bench_layers(void)
{
	double tot_f = 0, tot_q = 0, tot_mac = 0;

	printf("%-8s %4s %5s %5s %8s | %9s %8s | %9s %8s | %6s\n", "layer", "HW", "K", "N", "MMAC", "fp32 ms",
	       "GMAC/s", "int8 ms", "GMAC/s", "speed");
	for (size_t li = 0; li < NLAYERS; li++) {
		int hw = LAYERS[li].hw, K = LAYERS[li].cin, N = LAYERS[li].cout;
		size_t M = (size_t)hw * hw;
		float *w = malloc(sizeof(float) * K * N), *b = malloc(sizeof(float) * N);
		float *x = aligned_alloc(64, sizeof(float) * M * K), *y = aligned_alloc(64, sizeof(float) * M * N);
		tvs_conv L;
		tvs_qconv Q;
		if (!w || !b || !x || !y)
			return -1;
		for (size_t i = 0; i < (size_t)K * N; i++)
			w[i] = 0.2f * (frand01() - 0.5f);
		for (int i = 0; i < N; i++)
			b[i] = frand01() - 0.5f;
		for (size_t i = 0; i < M * K; i++)
			x[i] = 6.0f * frand01();
		if (tvs_conv_init(&L, 1, 1, K, N, 1, TVS_PAD_SAME, TVS_ACT_RELU6, w, b, NULL, NULL,
				  TVS_CONV_IMPL_AUTO) < 0 ||
		    tvs_qconv_init(&Q, &L) < 0)
			return -1;
		size_t sf = tvs_conv_scratch_floats(&L, hw, hw), sq = tvs_qconv_scratch_bytes(&Q);
		size_t sb = sf * sizeof(float) > sq ? sf * sizeof(float) : sq;
		void *scratch = aligned_alloc(64, (sb + 64) / 64 * 64);
		if (!scratch)
			return -1;
		tvs_tensor tx = {hw, hw, K, x}, ty = {hw, hw, N, y};
		double tf[REPS], tq[REPS];
		for (int r = -2; r < REPS; r++) {
			double t0 = now();
			tvs_conv_forward(&L, &tx, &ty, NULL, scratch);
			double t1 = now();
			tvs_qconv_forward(&Q, &tx, &ty, scratch);
			double t2 = now();
			if (r >= 0) {
				tf[r] = (t1 - t0) * 1e3;
				tq[r] = (t2 - t1) * 1e3;
			}
		}
		double mf = bench_median(tf, REPS), mq = bench_median(tq, REPS), mac = (double)M * K * N;
		int c = LAYERS[li].count;
		printf("%-8s %4d %5d %5d %8.1f | %9.3f %8.1f | %9.3f %8.1f | %5.2fx\n", LAYERS[li].name, hw, K, N,
		       mac * c / 1e6, mf * c, mac / mf / 1e6, mq * c, mac / mq / 1e6, mf / mq);
		tot_f += mf * c;
		tot_q += mq * c;
		tot_mac += mac * c;
		free(scratch);
		tvs_qconv_free(&Q);
		tvs_conv_free(&L);
		free(w);
		free(b);
		free(x);
		free(y);
	}
	printf("%-8s %4s %5s %5s %8.1f | %9.3f %8.1f | %9.3f %8.1f | %5.2fx\n", "total", "", "", "", tot_mac / 1e6,
	       tot_f, tot_mac / tot_f / 1e6, tot_q, tot_mac / tot_q / 1e6, tot_f / tot_q);
	return 0;
}

static double iou(const double *a, const double *b)
{
	double x0 = fmax(a[0], b[0]), y0 = fmax(a[1], b[1]);
	double x1 = fmin(a[0] + a[2], b[0] + b[2]), y1 = fmin(a[1] + a[3], b[1] + b[3]);
	double in = fmax(0, x1 - x0) * fmax(0, y1 - y0);
	double un = a[2] * a[3] + b[2] * b[3] - in;
	return un > 0 ? in / un : 0;
}

static int bench_ssd(const char *models)
{
	static const char *paths[6] = {"models/demo/sample1.jpg", "models/demo/sample2.jpg",
				       "models/demo/sample3.jpg", "models/demo/sample4.jpg",
				       "models/demo/sample5.jpg", "models/demo/sample6.jpg"};
	tvs_face_config cfg;
	tvs_face_engine_t *e[2] = {NULL, NULL};
	tvs_face_ctx_t *c[2] = {NULL, NULL};
	static tvs_face f[2][MAXF];
	int rc = -1;

	tvs_face_default_config(&cfg);
	cfg.model_dir = models;
	for (int i = 0; i < 2; i++) {
		cfg.int8 = i;
		if (tvs_face_engine_create(&e[i], &cfg) < 0 || tvs_face_ctx_create(&c[i], e[i]) < 0) {
			fprintf(stderr, "bench_qconv: %s\n", tvs_errmsg());
			goto out;
		}
	}
	float *in = malloc(sizeof(float) * 512 * 512 * 3), *boxes = malloc(sizeof(float) * 5118 * 4 * 2),
	      *scores = malloc(sizeof(float) * 5118 * 2);
	if (!in || !boxes || !scores)
		goto out_free;
	for (size_t i = 0; i < 512 * 512 * 3; i++)
		in[i] = 255.0f * frand01();
	double t[2][REPS];
	for (int r = -2; r < REPS; r++)
		for (int i = 0; i < 2; i++) {
			double t0 = now();
			tvs_face_ssd_forward(c[i], in, boxes + i * 5118 * 4, scores + i * 5118);
			if (r >= 0)
				t[i][r] = (now() - t0) * 1e3;
		}
	double mf = bench_median(t[0], REPS), mq = bench_median(t[1], REPS);
	printf("\nwhole SSD forward (512x512, 1 thread, median of %d): fp32 %.2f ms, int8 %.2f ms, %.2fx\n", REPS,
	       mf, mq, mf / mq);

	printf("\ndetection agreement (default min_score 0.5), demo photos:\n");
	for (int p = 0; p < 6; p++) {
		tvs_img_opts io;
		tvs_image img = {0};
		int n[2] = {0, 0};
		tvs_img_default_opts(&io);
		if (tvs_img_read_file(paths[p], &io, &img) < 0) {
			fprintf(stderr, "bench_qconv: %s: %s\n", paths[p], tvs_errmsg());
			goto out_free;
		}
		for (int i = 0; i < 2; i++)
			if (tvs_face_detect(c[i], &img, f[i], MAXF, &n[i]) < 0)
				n[i] = -1;
		printf("%s: fp32 %d faces, int8 %d faces\n", paths[p], n[0], n[1]);
		for (int a = 0; a < n[0]; a++) {
			int best = -1;
			double bi = 0;
			for (int b = 0; b < n[1]; b++)
				if (iou(f[0][a].box, f[1][b].box) > bi) {
					bi = iou(f[0][a].box, f[1][b].box);
					best = b;
				}
			printf("  face %d: score fp32 %.4f int8 %.4f, box IoU %.4f\n", a, f[0][a].score,
			       best >= 0 ? f[1][best].score : 0.0f, bi);
		}
		tvs_image_free(&img);
	}
	rc = 0;
out_free:
	free(in);
	free(boxes);
	free(scores);
out:
	for (int i = 0; i < 2; i++) {
		tvs_face_ctx_destroy(c[i]);
		tvs_face_engine_destroy(e[i]);
	}
	return rc;
}

int main(void)
{
	const char *models = getenv("TVS_MODELS") ? getenv("TVS_MODELS") : "models/model";

	if (!tvs_qconv_available()) {
		printf("bench_qconv: no AVX-512 VNNI on this CPU; the int8 path would run the scalar kernel\n");
		return 0;
	}
	if (bench_layers() < 0) {
		fprintf(stderr, "bench_qconv: out of memory or bad layer\n");
		return 1;
	}
	return bench_ssd(models) < 0 ? 1 : 0;
}
