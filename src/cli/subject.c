/*
 * Which face a dataset photo is about, shared by the evaluation commands.
 *
 * Benchmark photos (LFW and its kind) are centred on their subject, so the
 * detected face nearest the image centre is taken, not the best-scoring one.
 * The engine runs once at TVS_CLI_RETRY_MIN_SCORE and the faces are split by
 * score afterwards: both detectors keep boxes greedily by score, so boxes
 * below the primary threshold never change which boxes above it survive,
 * and one pass gives the same answer as two. A photo where nothing is
 * described either way falls back to a fixed centre box, so every photo
 * gets a descriptor and the caller counts which route each took.
 */
#include "cli.h"
#include "tvs/error.h"

#include <string.h>

const double tvs_cli_centre_box[4] = {0.28, 0.28, 0.44, 0.44};

static double centre_dist2(const tvs_face *f, const tvs_image *img)
{
	double dx = f->box[0] + f->box[2] / 2 - img->width / 2.0;
	double dy = f->box[1] + f->box[3] / 2 - img->height / 2.0;

	return dx * dx + dy * dy;
}

/* Among faces scoring in (lo, hi], nearest the centre first, describe the
 * first whose landmarks and crop fit the image. 1 described, 0 none
 * qualified, or a negative code. */
static int describe_centre_face(tvs_face_ctx_t *c, const tvs_image *img, const tvs_face *faces, int n, float lo,
				float hi, tvs_face *out, int *index)
{
	int order[256], m = 0, rc;

	for (int i = 0; i < n && m < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (faces[i].score > lo && faces[i].score <= hi)
			order[m++] = i;
	/* insertion sort by distance, ties to the better score (lower index) */
	for (int i = 1; i < m; i++) {
		int k = order[i], j = i;
		double d = centre_dist2(&faces[k], img);

		for (; j > 0 && centre_dist2(&faces[order[j - 1]], img) > d; j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
	for (int i = 0; i < m; i++) {
		*out = faces[order[i]];
		rc = tvs_face_landmarks(c, img, out);
		if (rc == 0)
			rc = tvs_face_describe(c, img, out);
		if (rc == TVS_ENOFACE)
			continue; /* box or crop outside the image: try the next face */
		if (rc < 0)
			return rc;
		*index = order[i];
		return 1;
	}
	return 0;
}

int tvs_cli_describe_subject(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max_faces,
			     tvs_face *out, int *index)
{
	int n = 0, rc;

	*index = -1;
	rc = tvs_face_detect(c, img, faces, max_faces, &n);
	if (rc < 0)
		return rc;
	rc = describe_centre_face(c, img, faces, n, (float)TVS_CLI_PRIMARY_MIN_SCORE, 1.0f, out, index);
	if (rc != 0)
		return rc < 0 ? rc : TVS_CLI_ROUTE_DETECTED;
	rc = describe_centre_face(c, img, faces, n, (float)TVS_CLI_RETRY_MIN_SCORE,
				  (float)TVS_CLI_PRIMARY_MIN_SCORE, out, index);
	if (rc != 0)
		return rc < 0 ? rc : TVS_CLI_ROUTE_RETRY;
	memset(out, 0, sizeof(*out));
	out->box[0] = tvs_cli_centre_box[0] * img->width;
	out->box[1] = tvs_cli_centre_box[1] * img->height;
	out->box[2] = tvs_cli_centre_box[2] * img->width;
	out->box[3] = tvs_cli_centre_box[3] * img->height;
	rc = tvs_face_landmarks(c, img, out);
	if (rc == 0)
		rc = tvs_face_describe(c, img, out);
	return rc < 0 ? rc : TVS_CLI_ROUTE_CENTRE_BOX;
}
