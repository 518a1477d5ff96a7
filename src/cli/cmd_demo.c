/*
 * tvs demo: the service on embedded defaults with a small world, built and
 * replayed through the real HTTP API, so what you then see on the API is
 * what a deployment would show.
 *
 * The world: airport DEM with an exit gate (A1) and an entry booth (B1), land
 * port DLP with a pedestrian lane (P1); a flight manifest whose travelers'
 * "document portraits" are faces cut from face-api's demo photos; captures at
 * the gate for several travelers (a different crop of the same photo,
 * mirrored: the demo has one photo per person), one face that is not on the
 * manifest, one traveler presenting another's passport, one photo with no
 * face, and one opt-out.
 */
#include "cli.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/http_client.h"
#include "tvs/img.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char DEMO_USAGE[] =
	"usage: tvs demo [serve options]\n"
	"\n"
	"Starts tvs serve with a demo world and prints the URL and credentials to try.\n"
	"Takes the options of 'tvs serve' (--port, --bind, --workers, ...), except that\n"
	"--db defaults to a new store in a fresh temporary folder. Also:\n"
	"  TVS_DEMO_EXIT=1     build the world, print, and exit instead of serving\n"
	"  TVS_DEMO_PHOTOS     folder with sample1.jpg ... sample6.jpg (default models/demo)\n";

#define DEMO_PHOTOS 6
#define DEMO_MAX_FACES 32
#define DEMO_TRAVELERS 12

struct demo_face {
	int photo;
	tvs_face f;
};

struct demo {
	int port;
	char admin_token[128];
	char repo_key[128], gate_key[128], booth_key[128], lane_key[128];
	tvs_image photos[DEMO_PHOTOS];
	struct demo_face faces[DEMO_MAX_FACES];
	int nfaces;
};

/* POST/GET JSON through the API; *out gets the parsed reply (may be NULL).
 * Returns the HTTP status, or -1 with a message printed. */
static int api(struct demo *d, const char *method, const char *path, const char *auth_hdr, const char *cred,
	       json_t *body, json_t **out)
{
	char hdr[256], *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	tvs_http_reply r;
	int rc;

	json_decref(body);
	if (out)
		*out = NULL;
	if (cred)
		snprintf(hdr, sizeof(hdr), "%s: %s%s\r\n", auth_hdr,
			 !strcmp(auth_hdr, "Authorization") ? "Bearer " : "", cred);
	rc = tvs_http_request("127.0.0.1", d->port, method, path, cred ? hdr : NULL, txt ? "application/json" : NULL,
			      txt, txt ? strlen(txt) : 0, &r);
	free(txt);
	if (rc) {
		fprintf(stderr, "tvs demo: %s %s: %s\n", method, path, tvs_errmsg());
		return -1;
	}
	if (r.status >= 300 && r.status != 422) /* 422: the quality gate's verdict, reported by the caller */
		fprintf(stderr, "tvs demo: %s %s -> %d %s\n", method, path, r.status, r.body);
	if (out)
		*out = json_loadb(r.body, r.len, 0, NULL);
	rc = r.status;
	tvs_http_reply_free(&r);
	return rc;
}

static int admin(struct demo *d, const char *path, json_t *body, json_t **out)
{
	return api(d, "POST", path, "Authorization", d->admin_token, body, out);
}

static int new_key(struct demo *d, const char *name, const char *role, json_int_t location, char *key, size_t cap)
{
	json_t *o = NULL;
	int st = admin(d, "/v1/devices",
		       location ? json_pack("{s:s,s:s,s:I}", "name", name, "role", role, "location_id", location)
				: json_pack("{s:s,s:s}", "name", name, "role", role),
		       &o);

	if (st == 201)
		snprintf(key, cap, "%s", json_string_value(json_object_get(o, "api_key")));
	json_decref(o);
	return st == 201 ? 0 : -1;
}

static json_int_t new_location(struct demo *d, const char *port, const char *code, const char *name, const char *kind,
			       const char *dir)
{
	json_t *o = NULL;
	json_int_t id = 0;

	if (admin(d, "/v1/locations",
		  json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "port", port, "code", code, "name", name, "kind", kind,
			    "direction", dir, "notice_version", "2025-1"),
		  &o) == 201)
		id = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	return id;
}

/* Cut face i with its box scaled by scale around its centre, resized to w x h,
 * optionally mirrored, as base64 JPEG (caller frees). */
static char *face_jpeg_b64(struct demo *d, int i, double scale, int w, int h, int mirror)
{
	const struct demo_face *df = &d->faces[i];
	const double *b = df->f.box;
	double cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2, side = (b[2] > b[3] ? b[2] : b[3]) * scale;
	double sw = w >= h ? side : side * w / h, sh = h >= w ? side : side * h / w;
	tvs_rect r = { (int)(cx - sw / 2), (int)(cy - sh / 2), (int)sw, (int)sh };
	tvs_image crop = { 0 };
	uint8_t *jpg = NULL;
	size_t n = 0;
	char *b64 = NULL;

	if (tvs_img_crop_resize(&d->photos[df->photo], r, w, h, &crop))
		return NULL;
	if (mirror)
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w / 2; x++)
				for (int c = 0; c < 3; c++) {
					uint8_t *row = crop.rgb + (size_t)y * w * 3, t = row[x * 3 + c];

					row[x * 3 + c] = row[(w - 1 - x) * 3 + c];
					row[(w - 1 - x) * 3 + c] = t;
				}
	if (!tvs_img_encode_jpeg(&crop, 90, &jpg, &n)) {
		size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);

		b64 = malloc(cap);
		if (b64)
			sodium_bin2base64(b64, cap, jpg, n, sodium_base64_VARIANT_ORIGINAL);
	}
	free(jpg);
	tvs_image_free(&crop);
	return b64;
}

/* A face-free patch of the sky above the people in photo 0. */
static char *no_face_b64(struct demo *d)
{
	tvs_rect r = { 0, 0, 320, 240 };
	tvs_image crop = { 0 };
	uint8_t *jpg = NULL;
	size_t n = 0;
	char *b64 = NULL;

	if (tvs_img_crop_resize(&d->photos[0], r, 640, 480, &crop) || tvs_img_encode_jpeg(&crop, 90, &jpg, &n))
		goto out;
	b64 = malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
	if (b64)
		sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), jpg, n,
				  sodium_base64_VARIANT_ORIGINAL);
out:
	free(jpg);
	tvs_image_free(&crop);
	return b64;
}

static const char *const surnames[] = { "OKAFOR", "LINDQVIST", "MORENO",  "TANAKA", "KOWALSKI", "HADDAD",
					"NGUYEN", "SILVA",     "MURPHY",  "ROSSI",  "IVANOVA",  "MENSAH",
					"HANSEN", "PATEL",     "DUBOIS",  "KIM" };
static const char *const given[] = { "ADA",  "ELSA",  "LUCIA", "HIRO",  "PIOTR", "NOUR", "MAI",  "JOAO",
				     "AOIFE", "MARCO", "OLGA",  "KWAME", "FREYA", "RAVI", "CLAIRE", "MIN" };
static const char *const states[] = { "USA", "GBR", "MEX", "JPN", "POL", "LBN", "VNM", "BRA",
				      "IRL", "ITA", "USA", "GHA", "NOR", "IND", "FRA", "KOR" };

static json_t *document(int i)
{
	char num[16];

	snprintf(num, sizeof(num), "D%07d", 4711000 + i * 37);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "P", "number", num, "issuing_state",
			 states[i % 16], "nationality", states[i % 16], "surname", surnames[i % 16], "given_names",
			 given[i % 16], "birth_date", "1980-01-01", "sex", i % 2 ? "M" : "F", "expiry", "2031-12-31");
}

static int load_faces(struct demo *d, const char *dir)
{
	tvs_face_config fc;
	tvs_face_engine_t *e = NULL;
	tvs_face_ctx_t *c = NULL;
	tvs_face faces[8];
	int rc;

	tvs_face_default_config(&fc);
	fc.model_dir = tvs_cli_model_dir();
	rc = tvs_face_engine_create(&e, &fc);
	if (!rc)
		rc = tvs_face_ctx_create(&c, e);
	for (int p = 0; !rc && p < DEMO_PHOTOS; p++) {
		char path[4096];
		int n = 0;

		snprintf(path, sizeof(path), "%s/sample%d.jpg", dir, p + 1);
		rc = tvs_img_read_file(path, NULL, &d->photos[p]);
		if (!rc)
			rc = tvs_face_detect(c, &d->photos[p], faces, 8, &n);
		for (int i = 0; !rc && i < n && d->nfaces < DEMO_MAX_FACES; i++)
			d->faces[d->nfaces++] = (struct demo_face){ p, faces[i] };
	}
	if (rc)
		fprintf(stderr, "tvs demo: demo photos in %s: %s: %s\n", dir, tvs_strerror(rc), tvs_errmsg());
	tvs_face_ctx_destroy(c);
	tvs_face_engine_destroy(e);
	return rc;
}

/* 18 random bytes as 24 base64url characters: a password nobody reuses. */
static void random_password(char *out, size_t cap)
{
	uint8_t raw[18];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, cap, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int build_world(struct demo *d, FILE *say)
{
	json_t *o = NULL, *trav;
	json_int_t gate, booth, lane, manifest;
	char path[64], now_s[32], when[32];
	time_t now = time(NULL), sched = now + 2 * 3600;
	int st, n_enrolled = 0, n_refused = 0, enrolled[DEMO_TRAVELERS + 2];
	static const char *const expect[] = { "MATCH", "MATCH", "MATCH", "NO_MATCH", "IMPOSTOR_SUSPECTED", "RETAKE" };

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&sched));
	strftime(now_s, sizeof(now_s), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (admin(d, "/v1/notices",
		  json_pack("{s:s,s:s}", "version", "2025-1", "text",
			    "Photographs are taken to verify your identity. Citizens may opt out and ask an officer "
			    "for a manual document check. Citizens' photos are deleted within 12 hours."),
		  NULL) != 201 ||
	    admin(d, "/v1/ports",
		  json_pack("{s:s,s:s,s:s,s:s}", "code", "DEM", "name", "Demo International", "mode", "air", "kind",
			    "airport"),
		  NULL) != 201 ||
	    admin(d, "/v1/ports",
		  json_pack("{s:s,s:s,s:s,s:s}", "code", "DLP", "name", "Demo Land Port", "mode", "land", "kind",
			    "land_port"),
		  NULL) != 201)
		return -1;
	gate = new_location(d, "DEM", "A1", "Gate A1", "boarding_gate", "exit");
	booth = new_location(d, "DEM", "B1", "Arrivals booth 1", "entry_booth", "entry");
	lane = new_location(d, "DLP", "P1", "Pedestrian lane 1", "pedestrian_lane", "entry");
	if (!gate || !booth || !lane || new_key(d, "passport repository", "repository", 0, d->repo_key, sizeof(d->repo_key)) ||
	    new_key(d, "gate A1 camera", "device", gate, d->gate_key, sizeof(d->gate_key)) ||
	    new_key(d, "booth B1 camera", "device", booth, d->booth_key, sizeof(d->booth_key)) ||
	    new_key(d, "lane P1 camera", "device", lane, d->lane_key, sizeof(d->lane_key)))
		return -1;

	/* Every face goes to the repository; the quality gate decides which are
	 * enrolled. The last two enrolled stay off the manifest: travelers the
	 * repository knows who are not on this flight. */
	trav = json_array();
	for (int i = 0; i < d->nfaces && n_enrolled < DEMO_TRAVELERS + 2; i++) {
		char *b64 = face_jpeg_b64(d, i, 1.5, 360, 450, 0);

		if (!b64)
			continue;
		st = api(d, "POST", "/v1/portraits", "X-Api-Key", d->repo_key,
			 json_pack("{s:o,s:s,s:s}", "document", document(i), "source", "passport", "image", b64), &o);
		free(b64);
		if (st == 201) {
			enrolled[n_enrolled++] = i;
		} else {
			const char *why = json_string_value(json_object_get(json_object_get(o, "error"), "reason"));

			fprintf(say, "  portrait %d refused: %s\n", i, why ? why : "error");
			n_refused++;
		}
		json_decref(o);
		o = NULL;
	}
	if (n_enrolled < 7) {
		fprintf(stderr, "tvs demo: only %d demo faces passed the enrolment quality check; 7 are needed\n",
			n_enrolled);
		json_decref(trav);
		return -1;
	}
	for (int j = 0; j < n_enrolled - 2; j++)
		json_array_append_new(trav, json_pack("{s:o}", "document", document(enrolled[j])));
	fprintf(say, "  enrolled %d document portraits (faces cut from the demo photos; %d refused by the quality "
		     "check), %d of them on the manifest\n",
		n_enrolled, n_refused, n_enrolled - 2);
	if (admin(d, "/v1/manifests",
		  json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:o}", "carrier", "DA", "number", "DA100", "direction", "exit",
			    "port", "DEM", "scheduled_at", when, "locations", "A1", "travelers", trav),
		  &o) != 201)
		return -1;
	manifest = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)manifest);
	if (admin(d, path, NULL, &o) != 200)
		return -1;
	fprintf(say, "  flight DA100 (exit, gate A1, departs %s): gallery of %lld templates\n", when,
		(long long)json_integer_value(json_object_get(o, "size")));
	json_decref(o);

	fprintf(say, "  captures replayed at gate A1:\n");
	for (int k = 0; k < 6; k++) {
		int face = enrolled[k < 3 ? k : k == 3 ? n_enrolled - 1 : 3];
		char *b64 = k == 5 ? no_face_b64(d) : face_jpeg_b64(d, face, 2.4, 640, 480, 1);
		json_t *body;

		if (!b64)
			return -1;
		body = json_pack("{s:s}", "image", b64);
		if (k == 4) { /* a traveler hands over another traveler's passport */
			json_t *doc = document(enrolled[4]);

			json_object_set_new(body, "document",
					    json_pack("{s:O,s:O}", "number", json_object_get(doc, "number"),
						      "issuing_state", json_object_get(doc, "issuing_state")));
			json_decref(doc);
		}
		free(b64);
		st = api(d, "POST", "/v1/captures", "X-Api-Key", d->gate_key, body, &o);
		fprintf(say, "    %-44s -> %s%s%s (expected %s)\n",
			k < 3 ? "a traveler on the manifest" : k == 3 ? "someone not on the manifest"
			: k == 4 ? "a traveler with another traveler's passport" : "a photo with no face",
			st == 200 ? json_string_value(json_object_get(o, "decision")) : "error",
			json_is_string(json_object_get(o, "reason")) ? " " : "",
			json_is_string(json_object_get(o, "reason")) ? json_string_value(json_object_get(o, "reason")) : "",
			expect[k]);
		json_decref(o);
	}
	st = api(d, "POST", "/v1/optouts", "X-Api-Key", d->gate_key, json_pack("{s:s}", "captured_at", now_s), NULL);
	fprintf(say, "    %-44s -> %s\n", "a citizen who opts out", st == 201 ? "OPT_OUT" : "error");
	return 0;
}

int tvs_cli_demo(int argc, char **argv)
{
	struct tvs_cli_server_opts o;
	struct tvs_cli_server srv;
	const char *port_file = NULL, *photos = getenv("TVS_DEMO_PHOTOS");
	static const char *const roles[] = { "admin", "officer", "supervisor", "auditor" };
	char pw[4][40], dir[] = "/tmp/tvs-demo-XXXXXX", db[64];
	struct demo *d;
	json_t *login = NULL;
	int rc, explicit_db = 0;

	for (int i = 1; i < argc; i++)
		explicit_db |= !strncmp(argv[i], "--db", 4);
	explicit_db |= getenv("TVS_DB") != NULL;
	rc = tvs_cli_server_parse(argc, argv, "tvs demo", DEMO_USAGE, &o, &port_file);
	if (rc >= 0)
		return rc;
	if (!explicit_db) {
		if (!mkdtemp(dir)) {
			fprintf(stderr, "tvs demo: %s: %s\n", dir, strerror(errno));
			return TVS_EXIT_FAIL;
		}
		snprintf(db, sizeof(db), "%s/tvs.db", dir);
		o.svc.db_url = db;
	}
	if (sodium_init() < 0)
		return TVS_EXIT_FAIL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return TVS_EXIT_FAIL;
	for (int i = 0; i < 4; i++) {
		random_password(pw[i], sizeof(pw[i]));
		rc = tvs_svc_user_add(o.svc.db_url, roles[i], roles[i], pw[i]);
		if (rc && rc != TVS_ECONFLICT) {
			fprintf(stderr, "tvs demo: user %s: %s\n", roles[i], tvs_errmsg());
			goto fail;
		}
	}
	if (load_faces(d, photos && *photos ? photos : "models/demo"))
		goto fail;
	rc = tvs_cli_server_start(&srv, &o);
	if (rc)
		goto fail;
	d->port = srv.port;
	if (api(d, "POST", "/v1/sessions", NULL, NULL,
		json_pack("{s:s,s:s}", "username", "admin", "password", pw[0]), &login) != 201) {
		tvs_cli_server_stop(&srv);
		goto fail;
	}
	snprintf(d->admin_token, sizeof(d->admin_token), "%s", json_string_value(json_object_get(login, "token")));
	json_decref(login);
	printf("tvs demo: building the demo world through the API on http://%s:%d\n", o.bind, srv.port);
	if (build_world(d, stdout)) {
		fprintf(stderr, "tvs demo: the demo world could not be built (see above)\n");
		tvs_cli_server_stop(&srv);
		goto fail;
	}
	printf("\ntvs is serving on http://%s:%d  (store: %s)\n\n", o.bind, srv.port, o.svc.db_url);
	printf("users (POST /v1/sessions with {\"username\", \"password\"}):\n");
	for (int i = 0; i < 4; i++)
		printf("  %-11s %s\n", roles[i], pw[i]);
	printf("\ndevice key, gate A1 (X-Api-Key): %s\nrepository key (X-Api-Key):       %s\n\n", d->gate_key,
	       d->repo_key);
	printf("try:\n  curl -s -X POST http://%s:%d/v1/sessions -H 'Content-Type: application/json' \\\n"
	       "       -d '{\"username\":\"officer\",\"password\":\"%s\"}'\n"
	       "  curl -s http://%s:%d/v1/encounters -H 'Authorization: Bearer <token>'\n"
	       "  curl -s http://%s:%d/v1/openapi.json\n\nCtrl-C stops it.\n",
	       o.bind, srv.port, pw[1], o.bind, srv.port, o.bind, srv.port);
	fflush(stdout);
	if (!getenv("TVS_DEMO_EXIT") || strcmp(getenv("TVS_DEMO_EXIT"), "1") != 0)
		tvs_cli_server_wait();
	tvs_cli_server_stop(&srv);
	rc = TVS_EXIT_OK;
	goto out;
fail:
	rc = TVS_EXIT_FAIL;
out:
	for (int p = 0; p < DEMO_PHOTOS; p++)
		tvs_image_free(&d->photos[p]);
	free(d);
	/* the demo's own store holds portraits and captures: it goes with the demo */
	if (!explicit_db) {
		static const char *const suffix[] = { "", "-wal", "-shm", "-journal", ".key" };

		for (int i = 0; i < 5; i++) {
			char f[96];

			snprintf(f, sizeof(f), "%s%s", db, suffix[i]);
			unlink(f);
		}
		rmdir(dir);
	}
	return rc;
}
