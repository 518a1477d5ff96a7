/*
 * The face engine: loads the networks once, gives each thread a workspace
 * planned at creation, and runs face-api's pipeline
 * detect -> landmarks -> recognition crop -> descriptor.
 *
 * The engine is immutable after creation and shared by every thread; all
 * mutable state (inputs, activations, detector candidates) lives in a
 * context, one per thread, allocated once.
 */
#include "face_int.h"
#include "tvs/error.h"
#include "tvs/img.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tvs_face_engine {
	tvs_face_config cfg;
	int have_ssd, have_tiny;
	tvs__ssd ssd;
	tvs__tiny tiny;
	tvs__landmark lm;
	tvs__recog rec;
	size_t ws_floats;
};

struct tvs_face_ctx {
	const tvs_face_engine_t *e;
	tvs__arena arena;
	float *input;  /* the largest net input */
	float *boxes;  /* detector candidates */
	float *scores;
	int *order;
	float *map;
	void *mem;
};

void tvs_face_default_config(tvs_face_config *c)
{
	memset(c, 0, sizeof(*c));
	c->detector = TVS_DETECTOR_SSD;
	c->tiny_input_size = 416;
	c->min_score = 0.5f;
	c->max_faces = 100;
	c->align = TVS_ALIGN_FACEAPI;
	c->conv_impl = TVS_CONV_IMPL_AUTO;
	/* +0.7 points of LFW 10-fold accuracy for one more recognition pass
	 * per face; see the note on issue 2 */
	c->flip_average = 1;
	/* int8 SSD 1x1 convs where VNNI exists: 2x faster detection, LFW
	 * accuracy unchanged within 0.1 points (note on issue 2) */
	c->int8 = 1;
}

void tvs_face_engine_destroy(tvs_face_engine_t *e)
{
	if (!e)
		return;
	tvs__ssd_free(&e->ssd);
	tvs__tiny_free(&e->tiny);
	tvs__landmark_free(&e->lm);
	tvs__recog_free(&e->rec);
	free(e);
}

static int load_one(const char *dir, const char *name, tvs_nn_model_t **m)
{
	int rc = tvs_nn_model_load(m, dir, name);
	if (rc < 0 && rc != TVS_ENOMEM) {
		char detail[512];
		snprintf(detail, sizeof(detail), "%s", tvs_errmsg());
		return tvs__err(rc, "model %s: %s (run scripts/fetch-models.sh)", name, detail);
	}
	return rc;
}

int tvs_face_engine_create(tvs_face_engine_t **out, const tvs_face_config *cfg)
{
	tvs_face_engine_t *e;
	tvs_nn_model_t *m = NULL;
	int rc, impl;

	*out = NULL;
	if (!cfg || !cfg->model_dir)
		return tvs__err(TVS_EINVAL, "face engine: no model folder given");
	if (cfg->detector != TVS_DETECTOR_SSD && cfg->detector != TVS_DETECTOR_TINY)
		return tvs__err(TVS_EINVAL, "face engine: unknown detector %d", cfg->detector);
	if (cfg->max_faces < 1 || cfg->max_faces > 1000 || !(cfg->min_score >= 0.0f && cfg->min_score < 1.0f))
		return tvs__err(TVS_EINVAL, "face engine: max_faces or min_score out of range");
	e = calloc(1, sizeof(*e));
	if (!e)
		return tvs__err(TVS_ENOMEM, "out of memory");
	e->cfg = *cfg;
	impl = cfg->conv_impl;

	if (cfg->detector == TVS_DETECTOR_SSD) {
		if ((rc = load_one(cfg->model_dir, "ssd_mobilenetv1_model", &m)) < 0)
			goto fail;
		rc = tvs__ssd_load(&e->ssd, m, impl);
		tvs_nn_model_destroy(m);
		if (rc == 0 && cfg->int8 && tvs_qconv_available())
			rc = tvs__ssd_load_int8(&e->ssd);
		if (rc < 0)
			goto fail;
		e->have_ssd = 1;
	} else {
		if ((rc = load_one(cfg->model_dir, "tiny_face_detector_model", &m)) < 0)
			goto fail;
		rc = tvs__tiny_load(&e->tiny, m, cfg->tiny_input_size, impl);
		tvs_nn_model_destroy(m);
		if (rc < 0)
			goto fail;
		e->have_tiny = 1;
	}
	if ((rc = load_one(cfg->model_dir, "face_landmark_68_model", &m)) < 0)
		goto fail;
	rc = tvs__landmark_load(&e->lm, m, impl);
	tvs_nn_model_destroy(m);
	if (rc < 0)
		goto fail;
	if ((rc = load_one(cfg->model_dir, "face_recognition_model", &m)) < 0)
		goto fail;
	rc = tvs__recog_load(&e->rec, m, impl);
	tvs_nn_model_destroy(m);
	if (rc < 0)
		goto fail;

	e->ws_floats = e->lm.ws_floats > e->rec.ws_floats ? e->lm.ws_floats : e->rec.ws_floats;
	if (e->have_ssd && e->ssd.ws_floats > e->ws_floats)
		e->ws_floats = e->ssd.ws_floats;
	if (e->have_tiny && e->tiny.ws_floats > e->ws_floats)
		e->ws_floats = e->tiny.ws_floats;
	*out = e;
	return 0;
fail:
	tvs_face_engine_destroy(e);
	return rc;
}

const tvs_face_config *tvs_face_engine_config(const tvs_face_engine_t *e)
{
	return &e->cfg;
}

void tvs_face_ctx_destroy(tvs_face_ctx_t *c)
{
	if (!c)
		return;
	free(c->mem);
	free(c);
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

int tvs_face_ctx_create(tvs_face_ctx_t **out, const tvs_face_engine_t *e)
{
	tvs_face_ctx_t *c;
	size_t in_floats = 512 * 512 * 3, ncand = TVS_SSD_ANCHORS, map_floats = 16;

	*out = NULL;
	if (e->have_tiny) {
		size_t S = (size_t)e->tiny.S, g = S / 32;
		if (S * S * 3 > in_floats)
			in_floats = S * S * 3;
		ncand = g * g * 5 > ncand ? g * g * 5 : ncand;
		map_floats = g * g * 25;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return tvs__err(TVS_ENOMEM, "out of memory");
	size_t total = round16(in_floats) + round16(ncand * 4) + round16(ncand) + round16(ncand) +
		       round16(map_floats) + round16(e->ws_floats);
	c->mem = aligned_alloc(64, total * sizeof(float));
	if (!c->mem) {
		free(c);
		return tvs__err(TVS_ENOMEM, "face context: cannot allocate %zu MiB", total * 4 >> 20);
	}
	float *p = c->mem;
	c->input = p, p += round16(in_floats);
	c->boxes = p, p += round16(ncand * 4);
	c->scores = p, p += round16(ncand);
	c->order = (int *)p, p += round16(ncand);
	c->map = p, p += round16(map_floats);
	c->arena.base = p;
	c->arena.cap = round16(e->ws_floats);
	c->e = e;
	*out = c;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ raw passes */

int tvs_face_ssd_forward(tvs_face_ctx_t *c, const float *in512, float *boxes, float *scores)
{
	if (!c->e->have_ssd)
		return tvs__err(TVS_EINVAL, "SSD detector not loaded");
	c->arena.used = 0;
	tvs__ssd_forward(&c->e->ssd, in512, boxes, scores, &c->arena);
	return 0;
}

int tvs_face_tiny_forward(tvs_face_ctx_t *c, const float *in, float *map)
{
	if (!c->e->have_tiny)
		return tvs__err(TVS_EINVAL, "tiny detector not loaded");
	c->arena.used = 0;
	tvs__tiny_forward(&c->e->tiny, in, map, &c->arena);
	return 0;
}

int tvs_face_landmark_forward(tvs_face_ctx_t *c, const float *in112, float out[136])
{
	c->arena.used = 0;
	tvs__landmark_forward(&c->e->lm, in112, out, &c->arena);
	return 0;
}

int tvs_face_recognition_forward(tvs_face_ctx_t *c, const float *in150, float out[TVS_FACE_DESC_DIM])
{
	c->arena.used = 0;
	tvs__recog_forward(&c->e->rec, in150, out, &c->arena);
	return 0;
}

/* ------------------------------------------------------------ detection */

static int by_score_desc(const void *a, const void *b, void *arg)
{
	const float *scores = arg;
	int i = *(const int *)a, j = *(const int *)b;

	if (scores[i] != scores[j])
		return scores[i] > scores[j] ? -1 : 1;
	return i - j; /* stable, as V8's sort is */
}

static void sort_by_score(int *idx, int n, float *scores)
{
	qsort_r(idx, (size_t)n, sizeof(int), by_score_desc, scores);
}

/* IoU of two SSD boxes (ymin, xmin, ymax, xmax), corners reordered. */
static double ssd_iou(const float *a, const float *b)
{
	double ay0 = fmin(a[0], a[2]), ax0 = fmin(a[1], a[3]), ay1 = fmax(a[0], a[2]), ax1 = fmax(a[1], a[3]);
	double by0 = fmin(b[0], b[2]), bx0 = fmin(b[1], b[3]), by1 = fmax(b[0], b[2]), bx1 = fmax(b[1], b[3]);
	double aa = (ay1 - ay0) * (ax1 - ax0), ab = (by1 - by0) * (bx1 - bx0);
	if (aa <= 0 || ab <= 0)
		return 0;
	double ih = fmax(fmin(ay1, by1) - fmax(ay0, by0), 0), iw = fmax(fmin(ax1, bx1) - fmax(ax0, bx0), 0);
	double inter = ih * iw;
	return inter / (aa + ab - inter);
}

static int detect_ssd(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n)
{
	const tvs_face_config *cfg = &c->e->cfg;
	const int W = img->width, H = img->height;
	int ncand = 0, nsel = 0, limit = cfg->max_faces < max ? cfg->max_faces : max;

	tvs_img_crop_square_resize(img, (tvs_rect){0, 0, W, H}, 512, 0, c->input);
	tvs_face_ssd_forward(c, c->input, c->boxes, c->scores);
	for (int i = 0; i < TVS_SSD_ANCHORS; i++)
		if (c->scores[i] > cfg->min_score)
			c->order[ncand++] = i;
	sort_by_score(c->order, ncand, c->scores);

	double s = 512.0 / (W > H ? W : H);
	double padx = 512.0 / round(W * s), pady = 512.0 / round(H * s);
	for (int k = 0; k < ncand && nsel < limit; k++) {
		int i = c->order[k], keep = 1;
		for (int j = 0; j < nsel && keep; j++)
			if (ssd_iou(c->boxes + i * 4, c->boxes + c->order[j] * 4) > 0.5)
				keep = 0;
		if (!keep)
			continue;
		c->order[nsel] = i; /* selected indices are compacted at the front */
		const float *b = c->boxes + i * 4;
		double top = fmax(0, b[0]) * pady, bottom = fmin(1, b[2]) * pady;
		double left = fmax(0, b[1]) * padx, right = fmin(1, b[3]) * padx;
		tvs_face *f = &faces[nsel++];
		memset(f, 0, sizeof(*f));
		f->score = c->scores[i];
		f->box[0] = left * W;
		f->box[1] = top * H;
		f->box[2] = (right - left) * W;
		f->box[3] = (bottom - top) * H;
	}
	*n = nsel;
	return 0;
}

static const double TINY_ANCHORS[5][2] = {
	{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061}, {4.266906, 5.178857}, {9.041765, 10.66308}};

static double sigmoid(double v)
{
	return 1.0 / (1.0 + exp(-v));
}

static double rect_iou(const double *a, const double *b)
{
	double w = fmax(0, fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]));
	double h = fmax(0, fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]));
	double inter = w * h;
	return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

static int detect_tiny(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n)
{
	const tvs_face_config *cfg = &c->e->cfg;
	const int W = img->width, H = img->height, S = c->e->tiny.S, g = S / 32;
	int ncand = 0, nsel = 0, limit = cfg->max_faces < max ? cfg->max_faces : max;
	/* candidate rects (relative), scored; reuse the box/score buffers */
	double s = (double)S / (W > H ? W : H);
	double corrx = S / round(W * s), corry = S / round(H * s);

	tvs_img_crop_square_resize(img, (tvs_rect){0, 0, W, H}, S, 0, c->input);
	tvs_face_tiny_forward(c, c->input, c->map);
	for (int row = 0; row < g; row++)
		for (int col = 0; col < g; col++)
			for (int a = 0; a < 5; a++) {
				const float *o = c->map + ((size_t)(row * g + col) * 25 + a * 5);
				double score = sigmoid(o[4]);
				if (!(score > cfg->min_score))
					continue;
				double cx = (col + sigmoid(o[0])) / g * corrx, cy = (row + sigmoid(o[1])) / g * corry;
				double w = exp(o[2]) * TINY_ANCHORS[a][0] / g * corrx;
				double h = exp(o[3]) * TINY_ANCHORS[a][1] / g * corry;
				float *b = c->boxes + ncand * 4;
				/* stored as float candidates; recomputed in double on output */
				b[0] = (float)(cx - w / 2), b[1] = (float)(cy - h / 2), b[2] = (float)w, b[3] = (float)h;
				c->scores[ncand] = (float)score;
				c->order[ncand] = ncand;
				ncand++;
			}
	/* ops/nonMaxSuppression.ts: highest remaining first, drop IoU > 0.4 */
	sort_by_score(c->order, ncand, c->scores);
	for (int k = 0; k < ncand && nsel < limit; k++) {
		int i = c->order[k], keep = 1;
		double bi[4] = {c->boxes[i * 4], c->boxes[i * 4 + 1], c->boxes[i * 4 + 2], c->boxes[i * 4 + 3]};
		for (int j = 0; j < nsel && keep; j++) {
			int q = c->order[j];
			double bq[4] = {c->boxes[q * 4], c->boxes[q * 4 + 1], c->boxes[q * 4 + 2], c->boxes[q * 4 + 3]};
			if (rect_iou(bq, bi) > 0.4)
				keep = 0;
		}
		if (!keep)
			continue;
		c->order[nsel] = i;
		tvs_face *f = &faces[nsel++];
		memset(f, 0, sizeof(*f));
		f->score = c->scores[i];
		f->box[0] = bi[0] * W;
		f->box[1] = bi[1] * H;
		f->box[2] = bi[2] * W;
		f->box[3] = bi[3] * H;
	}
	*n = nsel;
	return 0;
}

static int check_image(const tvs_image *img)
{
	if (!img || !img->rgb || img->width < 1 || img->height < 1)
		return tvs__err(TVS_EINVAL, "empty image");
	return 0;
}

int tvs_face_detect(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n)
{
	int rc = check_image(img);

	*n = 0;
	if (rc < 0)
		return rc;
	if (max < 0)
		return tvs__err(TVS_EINVAL, "negative face count");
	return c->e->have_ssd ? detect_ssd(c, img, faces, max, n) : detect_tiny(c, img, faces, max, n);
}

int tvs_face_detect_padded(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n)
{
	int big = img->width > img->height ? img->width : img->height;
	double k = 2.0 * big > TVS_PAD_CANVAS ? TVS_PAD_CANVAS / (2.0 * big) : 1.0;
	int sw = (int)lround(img->width * k), sh = (int)lround(img->height * k);
	int ox = (sw + 1) / 2, oy = (sh + 1) / 2;
	tvs_image small = { 0 }, canvas = { 0 };
	tvs_rect all = { 0, 0, img->width, img->height };
	int rc = tvs_face_detect(c, img, faces, max, n);

	if (rc || *n > 0 || max == 0)
		return rc;
	if (sw < 1 || sh < 1)
		return 0;
	canvas.width = 2 * sw;
	canvas.height = 2 * sh;
	canvas.rgb = malloc((size_t)canvas.width * canvas.height * 3);
	if (!canvas.rgb)
		return tvs__err(TVS_ENOMEM, "padded detection canvas");
	memset(canvas.rgb, 128, (size_t)canvas.width * canvas.height * 3);
	rc = tvs_img_crop_resize(img, all, sw, sh, &small);
	if (rc)
		goto out;
	for (int y = 0; y < sh; y++)
		memcpy(canvas.rgb + ((size_t)(oy + y) * canvas.width + ox) * 3, small.rgb + (size_t)y * sw * 3,
		       (size_t)sw * 3);
	rc = tvs_face_detect(c, &canvas, faces, max, n);
	for (int i = 0; !rc && i < *n; i++) {
		faces[i].box[0] = (faces[i].box[0] - ox) / k;
		faces[i].box[1] = (faces[i].box[1] - oy) / k;
		faces[i].box[2] /= k;
		faces[i].box[3] /= k;
	}
out:
	tvs_image_free(&small);
	tvs_image_free(&canvas);
	return rc;
}

int tvs_face_landmarks(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *f)
{
	tvs_rect r;
	float raw[136];
	int rc = check_image(img);

	if (rc < 0)
		return rc;
	rc = tvs_img_clip_box(f->box[0], f->box[1], f->box[2], f->box[3], img->width,
			      img->height, &r);
	if (rc < 0)
		return tvs__err(TVS_ENOFACE, "face box lies outside the image");
	tvs_img_crop_square_resize(img, r, TVS_LM_INPUT, 1, c->input);
	tvs_face_landmark_forward(c, c->input, raw);
	tvs__landmarks_from_raw(raw, r.width, r.height, f->box[0], f->box[1], f->landmarks);
	f->has_landmarks = 1;
	return 0;
}

int tvs_face_describe(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *f)
{
	double rect[4];
	tvs_rect r;
	int rc = check_image(img);

	if (rc < 0)
		return rc;
	if (!f->has_landmarks)
		return tvs__err(TVS_EINVAL, "describe: the face has no landmarks yet");
	if (c->e->cfg.align == TVS_ALIGN_ROTATED) {
		float m[6];
		tvs__align_rotated_map(f->landmarks, TVS_REC_INPUT, m);
		tvs_img_warp_affine(img, m, TVS_REC_INPUT, c->input);
		f->rec_crop = (tvs_rect){0, 0, 0, 0};
	} else {
		/* alignDlib's (inert) clamp takes the landmark crop's size, which
		 * the box gives again; landmarks succeeded, so it clips */
		tvs_rect lc;
		if (tvs_img_clip_box(f->box[0], f->box[1], f->box[2], f->box[3], img->width, img->height, &lc) < 0)
			return tvs__err(TVS_ENOFACE, "face box lies outside the image");
		tvs__align_dlib_rect(f->landmarks, lc.width, lc.height, rect);
		rc = tvs_img_clip_box(rect[0], rect[1], rect[2], rect[3], img->width,
				      img->height, &r);
		if (rc < 0)
			return tvs__err(TVS_ENOFACE, "recognition crop lies outside the image");
		tvs_img_crop_square_resize(img, r, TVS_REC_INPUT, 1, c->input);
		f->rec_crop = r;
	}
	tvs_face_recognition_forward(c, c->input, f->descriptor);
	if (c->e->cfg.flip_average) {
		/* the mirror image of the same crop: a second view of the face that
		 * averages out some of the crop's and the net's asymmetric noise */
		const int S = TVS_REC_INPUT;
		float *m = c->input + (size_t)S * S * 3, mirror[TVS_FACE_DESC_DIM];
		for (int y = 0; y < S; y++)
			for (int x = 0; x < S; x++)
				memcpy(m + ((size_t)y * S + x) * 3, c->input + ((size_t)y * S + (S - 1 - x)) * 3,
				       3 * sizeof(float));
		tvs_face_recognition_forward(c, m, mirror);
		for (int i = 0; i < TVS_FACE_DESC_DIM; i++)
			f->descriptor[i] = 0.5f * (f->descriptor[i] + mirror[i]);
	}
	f->has_descriptor = 1;
	return 0;
}

int tvs_face_analyze(tvs_face_ctx_t *c, const tvs_image *img, tvs_face *faces, int max, int *n,
		     tvs_face_timings *t)
{
	double t0 = now_ms(), t1, t2;
	int rc, k = 0;

	rc = tvs_face_detect(c, img, faces, max, n);
	if (rc < 0)
		return rc;
	t1 = now_ms();
	for (int i = 0; i < *n; i++) {
		if (tvs_face_landmarks(c, img, &faces[i]) < 0)
			continue;
		faces[k++] = faces[i]; /* face-api drops boxes that clip to nothing */
	}
	*n = k;
	t2 = now_ms();
	for (int i = 0; i < *n; i++) {
		rc = tvs_face_describe(c, img, &faces[i]);
		if (rc < 0)
			return rc;
	}
	if (t) {
		t->detect_ms = t1 - t0;
		t->landmarks_ms = t2 - t1;
		t->descriptor_ms = now_ms() - t2;
	}
	return 0;
}

double tvs_face_distance(const float *a, const float *b)
{
	double s = 0;

	for (int i = 0; i < TVS_FACE_DESC_DIM; i++) {
		double d = (double)a[i] - b[i];
		s += d * d;
	}
	return sqrt(s);
}
