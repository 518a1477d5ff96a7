/*
 * What bench_serve and bench_nodes share: the travelers (LFW people with two
 * photos, or the demo faces without ../shared), their portraits and
 * 640x480 captures, the world built through a node's API, the latency sort
 * and the in-process reference. Included once by each bench (static
 * functions), after the headers each needs.
 */
#ifndef TVS_BENCH_WORLD_H
#define TVS_BENCH_WORLD_H

#define NTRAV 420
#define LFW "../shared/datasets/lfw/lfw-deepfunneled"
#define MAX_LAT 200000

struct item {
	char *portrait_json; /* POST /v1/portraits body */
	char *capture_json;  /* POST /v1/captures body */
	uint8_t *capture_jpg;
	size_t capture_len;
	char doc[16];
};

static struct item items[NTRAV];
static int nitems;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);

	if (s)
		sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* img scaled to fit 640x480 on a grey canvas (a gate camera's frame). */
static int frame_640(const tvs_image *img, uint8_t **jpg, size_t *len)
{
	tvs_image canvas = { 0 }, scaled = { 0 };
	int h = 480, w = img->width * 480 / img->height, rc;

	if (w > 640) {
		w = 640;
		h = img->height * 640 / img->width;
	}
	rc = tvs_image_alloc(&canvas, 640, 480);
	if (!rc)
		rc = tvs_img_crop_resize(img, (tvs_rect){ 0, 0, img->width, img->height }, w, h, &scaled);
	if (!rc) {
		memset(canvas.rgb, 118, (size_t)640 * 480 * 3);
		for (int y = 0; y < h; y++)
			memcpy(canvas.rgb + ((size_t)(y + (480 - h) / 2) * 640 + (640 - w) / 2) * 3,
			       scaled.rgb + (size_t)y * w * 3, (size_t)w * 3);
		rc = tvs_img_encode_jpeg(&canvas, 90, jpg, len);
	}
	tvs_image_free(&canvas);
	tvs_image_free(&scaled);
	return rc;
}

static int file_bytes(const char *path, uint8_t **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	long sz;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	*out = malloc((size_t)sz);
	*n = *out && fread(*out, 1, (size_t)sz, f) == (size_t)sz ? (size_t)sz : 0;
	fclose(f);
	return *n ? 0 : -1;
}

static void add_item(int i, const uint8_t *portrait, size_t plen, const tvs_image *cap_img)
{
	struct item *it = &items[nitems];
	char *pb = b64(portrait, plen), *cb;
	json_t *j;

	snprintf(it->doc, sizeof(it->doc), "B%08d", i);
	if (frame_640(cap_img, &it->capture_jpg, &it->capture_len)) {
		free(pb);
		return;
	}
	cb = b64(it->capture_jpg, it->capture_len);
	j = json_pack("{s:{s:s,s:s,s:s,s:s},s:s,s:s}", "document", "type", "P", "number", it->doc, "issuing_state",
		      "UTO", "nationality", "UTO", "source", "passport", "image", pb);
	it->portrait_json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = json_pack("{s:s}", "image", cb);
	it->capture_json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(pb);
	free(cb);
	nitems++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 420 LFW people with >= 2 photos, in name order. 1 if the dataset is there. */
static int load_lfw(void)
{
	DIR *d = opendir(LFW);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8192;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && nitems < NTRAV; i++) {
		char p1[1024], p2[1024];
		uint8_t *pbuf = NULL;
		size_t plen = 0;
		tvs_image cap_img = { 0 };
		struct stat st;

		snprintf(p1, sizeof(p1), "%s/%s/%s_0001.jpg", LFW, names[i], names[i]);
		snprintf(p2, sizeof(p2), "%s/%s/%s_0002.jpg", LFW, names[i], names[i]);
		if (stat(p2, &st) || file_bytes(p1, &pbuf, &plen) || tvs_img_read_file(p2, NULL, &cap_img)) {
			free(pbuf);
			continue;
		}
		add_item((int)i, pbuf, plen, &cap_img);
		free(pbuf);
		tvs_image_free(&cap_img);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 1;
}

/* The demo photos' faces, cut out, repeated up to NTRAV. */
static void load_demo(void)
{
	tvs_face_config fc;
	tvs_face_engine_t *e = NULL;
	tvs_face_ctx_t *c = NULL;
	tvs_face f[8];
	int k = 0;

	tvs_face_default_config(&fc);
	fc.model_dir = "models/model";
	if (tvs_face_engine_create(&e, &fc) || tvs_face_ctx_create(&c, e))
		goto out;
	while (nitems < NTRAV) {
		int before = nitems;

		for (int p = 1; p <= 6 && nitems < NTRAV; p++) {
			char path[64];
			tvs_image img = { 0 };
			int n = 0;

			snprintf(path, sizeof(path), "models/demo/sample%d.jpg", p);
			if (tvs_img_read_file(path, NULL, &img) || tvs_face_detect(c, &img, f, 8, &n)) {
				tvs_image_free(&img);
				continue;
			}
			for (int i = 0; i < n && nitems < NTRAV; i++, k++) {
				double cx = f[i].box[0] + f[i].box[2] / 2, cy = f[i].box[1] + f[i].box[3] / 2;
				double sd = f[i].box[3] * (1.5 + 0.01 * (k % 7));
				tvs_image crop = { 0 }, wide = { 0 };
				uint8_t *jpg = NULL;
				size_t len = 0;

				if (!tvs_img_crop_resize(&img, (tvs_rect){ (int)(cx - sd * 0.4), (int)(cy - sd / 2),
									   (int)(sd * 0.8), (int)sd },
							 288, 360, &crop) &&
				    !tvs_img_crop_resize(&img, (tvs_rect){ (int)(cx - sd * 0.8), (int)(cy - sd * 0.6),
									   (int)(sd * 1.6), (int)(sd * 1.2) },
							 0, 0, &wide) &&
				    !tvs_img_encode_jpeg(&crop, 90, &jpg, &len))
					add_item(k, jpg, len, &wide);
				free(jpg);
				tvs_image_free(&crop);
				tvs_image_free(&wide);
			}
			tvs_image_free(&img);
		}
		if (nitems == before)
			break;
	}
out:
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
}

static char device_key[128];

static int post(int port, const char *path, const char *hdr, const char *body, json_t **out)
{
	tvs_http_reply r;
	int st;

	if (tvs_http_request("127.0.0.1", port, "POST", path, hdr, body ? "application/json" : NULL, body,
			     body ? strlen(body) : 0, &r))
		return -1;
	st = r.status;
	if (out)
		*out = json_loads(r.body, 0, NULL);
	tvs_http_reply_free(&r);
	return st;
}

static int post_json(int port, const char *path, const char *hdr, json_t *body, json_t **out)
{
	char *txt = json_dumps(body, JSON_COMPACT);
	int st = post(port, path, hdr, txt, out);

	free(txt);
	json_decref(body);
	return st;
}

/* Through the API on port: an admin session, a port and location, device
 * and repository keys, the portraits, a manifest and its gallery. */
static int build_world(int port, const char *pw, int *enrolled)
{
	char hdr[256], repo[256];
	json_t *o = NULL, *trav = json_array();
	char when[32];
	time_t sched = time(NULL) + 3600;
	json_int_t loc;

	if (post_json(port, "/v1/sessions", NULL, json_pack("{s:s,s:s}", "username", "admin", "password", pw), &o) != 201)
		return -1;
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", json_string_value(json_object_get(o, "token")));
	json_decref(o);
	post_json(port, "/v1/ports", hdr,
		  json_pack("{s:s,s:s,s:s,s:s}", "code", "BEN", "name", "Bench", "mode", "air", "kind", "airport"), NULL);
	if (post_json(port, "/v1/locations", hdr,
		      json_pack("{s:s,s:s,s:s,s:s,s:s}", "port", "BEN", "code", "G1", "name", "Gate 1", "kind",
				"boarding_gate", "direction", "exit"),
		      &o) != 201)
		return -1;
	loc = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	if (post_json(port, "/v1/devices", hdr,
		      json_pack("{s:s,s:s,s:I}", "name", "cam", "role", "device", "location_id", loc), &o) != 201)
		return -1;
	snprintf(device_key, sizeof(device_key), "X-Api-Key: %s\r\n", json_string_value(json_object_get(o, "api_key")));
	json_decref(o);
	if (post_json(port, "/v1/devices", hdr, json_pack("{s:s,s:s}", "name", "repo", "role", "repository"), &o) != 201)
		return -1;
	snprintf(repo, sizeof(repo), "X-Api-Key: %s\r\n", json_string_value(json_object_get(o, "api_key")));
	json_decref(o);
	*enrolled = 0;
	for (int i = 0; i < nitems; i++) {
		*enrolled += post(port, "/v1/portraits", repo, items[i].portrait_json, NULL) == 201;
		json_array_append_new(trav, json_pack("{s:{s:s,s:s,s:s}}", "document", "type", "P", "number",
						      items[i].doc, "issuing_state", "UTO"));
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&sched));
	if (post_json(port, "/v1/manifests", hdr,
		      json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:o}", "carrier", "BN", "number", "BN1", "direction", "exit",
				"port", "BEN", "scheduled_at", when, "locations", "G1", "travelers", trav),
		      &o) != 201)
		return -1;
	{
		char path[64];

		snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery",
			 (long long)json_integer_value(json_object_get(o, "id")));
		json_decref(o);
		return post(port, path, hdr, NULL, NULL) == 200 ? 0 : -1;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The bare pipeline on the captures, one thread, best of three: the
 * in-process reference both benches print beside their figures. */
static double reference_ms(void)
{
	tvs_face_config fc;
	tvs_face_engine_t *e = NULL;
	tvs_face_ctx_t *c = NULL;
	tvs_quality_config qc;
	tvs_face f[16];
	double t0, best = 1e30;

	tvs_face_default_config(&fc);
	fc.model_dir = "models/model";
	tvs_quality_default_config(&qc);
	if (tvs_face_engine_create(&e, &fc) || tvs_face_ctx_create(&c, e))
		return -1;
	for (int rep = 0; rep < 3; rep++) {
		int m = nitems < 60 ? nitems : 60;

		t0 = now_ms();
		for (int i = 0; i < m; i++) {
			tvs_image img = { 0 };
			tvs_quality q;
			int n = 0;

			if (tvs_img_decode(items[i].capture_jpg, items[i].capture_len, NULL, &img))
				continue;
			tvs_face_detect(c, &img, f, 16, &n);
			for (int k = 0; k < n; k++)
				tvs_face_landmarks(c, &img, &f[k]);
			if (!tvs_quality_assess(&qc, &img, f, n, &q) && q.reason == TVS_Q_OK)
				tvs_face_describe(c, &img, &f[q.primary]);
			tvs_image_free(&img);
		}
		double ms = (now_ms() - t0) / m;

		best = ms < best ? ms : best;
	}
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
	return best;
}

#endif
