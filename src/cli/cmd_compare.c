/*
 * tvs compare A B: is the largest face in A the same person as the largest
 * face in B? Prints the euclidean distance (face-api's metric), a similarity
 * in [0, 1] and the decision at face-api's 0.6 threshold, as one JSON line.
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/face.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FACES 100

static const char HELP[] =
	"usage: tvs compare [options] A B\n"
	"\n"
	"Compares the largest face of photo A with the largest face of photo B and\n"
	"prints {\"distance\", \"similarity\", \"threshold\", \"decision\"} where decision is\n"
	"\"match\" if distance < threshold, else \"no_match\". similarity = 1 - distance/2\n"
	"clamped to [0, 1] (descriptors are about 1.4 long, so distances lie in 0..2).\n"
	"\n"
	"options:\n"
	"  --threshold X    decision threshold on the distance (default 0.6, face-api's)\n"
	"  --align faceapi|rotated\n"
	"  --ignore-exif    ignore EXIF orientation\n"
	"  --models DIR     model folder\n"
	"\n"
	"exit status: 0 compared (whatever the decision), 1 an image failed or has no\n"
	"face, 2 usage error.\n";

static int largest_descriptor(tvs_face_ctx_t *ctx, const char *path, const tvs_img_opts *o, tvs_face *faces,
			      float out[TVS_FACE_DESC_DIM])
{
	tvs_image img = {0};
	int n = 0, best = -1, rc;

	rc = tvs_img_read_file(path, o, &img);
	if (rc == 0)
		rc = tvs_face_analyze(ctx, &img, faces, MAX_FACES, &n, NULL);
	tvs_image_free(&img);
	if (rc < 0) {
		fprintf(stderr, "tvs compare: %s: %s: %s\n", path, tvs_strerror(rc), tvs_errmsg());
		return rc;
	}
	for (int i = 0; i < n; i++)
		if (best < 0 || faces[i].box[2] * faces[i].box[3] > faces[best].box[2] * faces[best].box[3])
			best = i;
	if (best < 0) {
		fprintf(stderr, "tvs compare: %s: no face found\n", path);
		return TVS_ENOFACE;
	}
	memcpy(out, faces[best].descriptor, sizeof(float) * TVS_FACE_DESC_DIM);
	return 0;
}

int tvs_cli_compare(int argc, char **argv)
{
	tvs_face_config cfg;
	tvs_img_opts io;
	tvs_face_engine_t *eng = NULL;
	tvs_face_ctx_t *ctx = NULL;
	tvs_face *faces = NULL;
	const char *paths[2];
	int np = 0, status = TVS_EXIT_FAIL, rc;
	double threshold = TVS_FACE_DEFAULT_THRESHOLD;
	float da[TVS_FACE_DESC_DIM], db[TVS_FACE_DESC_DIM];

	tvs_face_default_config(&cfg);
	cfg.model_dir = tvs_cli_model_dir();
	tvs_img_default_opts(&io);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(HELP, stdout);
			return TVS_EXIT_OK;
		} else if (!strcmp(a, "--threshold") && v) {
			char *end;
			threshold = strtod(v, &end);
			if (*end || !(threshold > 0 && threshold < 4))
				goto usage;
			i++;
		} else if (!strcmp(a, "--align") && v) {
			if (tvs_cli_parse_align(v, &cfg.align) < 0)
				goto usage;
			i++;
		} else if (!strcmp(a, "--ignore-exif")) {
			io.ignore_exif = 1;
		} else if (!strcmp(a, "--models") && v) {
			cfg.model_dir = v;
			i++;
		} else if (a[0] == '-') {
			goto usage;
		} else if (np < 2) {
			paths[np++] = a;
		} else {
			goto usage;
		}
	}
	if (np != 2)
		goto usage;
	rc = tvs_face_engine_create(&eng, &cfg);
	if (rc == 0)
		rc = tvs_face_ctx_create(&ctx, eng);
	if (rc < 0) {
		fprintf(stderr, "tvs compare: %s: %s\n", tvs_strerror(rc), tvs_errmsg());
		goto out;
	}
	faces = calloc(MAX_FACES, sizeof(*faces));
	if (!faces)
		goto out;
	if (largest_descriptor(ctx, paths[0], &io, faces, da) < 0 ||
	    largest_descriptor(ctx, paths[1], &io, faces, db) < 0)
		goto out;
	double d = tvs_face_distance(da, db);
	double sim = 1.0 - d / 2.0;
	sim = sim < 0 ? 0 : (sim > 1 ? 1 : sim);
	printf("{\"a\":\"%s\",\"b\":\"%s\",\"distance\":%.6f,\"similarity\":%.6f,\"threshold\":%.4f,"
	       "\"decision\":\"%s\"}\n",
	       paths[0], paths[1], d, sim, threshold, d < threshold ? "match" : "no_match");
	status = TVS_EXIT_OK;
out:
	free(faces);
	tvs_face_ctx_destroy(ctx);
	tvs_face_engine_destroy(eng);
	return status;
usage:
	fputs(HELP, stderr);
	return TVS_EXIT_USAGE;
}
