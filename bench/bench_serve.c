/*
 * The service under load: a 420-traveler gallery, 640x480 JPEG captures
 * posted by concurrent clients over loopback HTTP, at 1 and 2 workers.
 * Prints captures/s and p50/p99 latency per (workers, clients), and, as the
 * in-process reference, the bare pipeline (decode, detect, landmarks,
 * quality, describe, search) on the same captures, one thread: the ratio is
 * what HTTP, JSON, base64, the store and the commit cost on top.
 *
 * Data: with ../shared/datasets/lfw, 420 people with two or more photos
 * (portrait = their first photo, capture = their second, scaled into a
 * 640x480 frame). Without it, the demo photos' faces, enrolled several
 * times under different documents: throughput is measured the same, but
 * decisions are mostly AMBIGUOUS, so say so. Nothing is asserted.
 *
 * Usage: bench_serve [SECONDS per point, default 6]
 */
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/http.h"
#include "tvs/http_client.h"
#include "tvs/img.h"
#include "tvs/match.h"
#include "tvs/quality.h"
#include "tvs/svc.h"
#include "tvs/vault.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_world.h"

static int port;

struct client {
	pthread_t t;
	int id, nclients;
	double until;
	double *lat;
	int n;
	int decisions[5];
};

static void *client_run(void *arg)
{
	struct client *c = arg;
	int k = c->id;

	while (now_ms() < c->until && c->n < MAX_LAT) {
		double t0 = now_ms();
		json_t *o = NULL;
		int st = post(port, "/v1/captures", device_key, items[k % nitems].capture_json, &o);

		if (st == 200) {
			const char *d = json_string_value(json_object_get(o, "decision"));

			c->lat[c->n++] = now_ms() - t0;
			c->decisions[!strcmp(d, "MATCH") ? 0 : !strcmp(d, "NO_MATCH") ? 1 : !strcmp(d, "RETAKE") ? 2 : 3]++;
		} else {
			c->decisions[4]++;
		}
		json_decref(o);
		k += c->nclients;
	}
	return NULL;
}

static double run_load(int nclients, double seconds, double *p50, double *p99, int dec[5])
{
	struct client cl[16];
	double *all, t0 = now_ms();
	size_t n = 0;

	memset(cl, 0, sizeof(cl));
	memset(dec, 0, 5 * sizeof(int));
	for (int i = 0; i < nclients; i++) {
		cl[i] = (struct client){ .id = i, .nclients = nclients, .until = t0 + seconds * 1e3,
					 .lat = malloc(MAX_LAT * sizeof(double)) };
		pthread_create(&cl[i].t, NULL, client_run, &cl[i]);
	}
	for (int i = 0; i < nclients; i++)
		pthread_join(cl[i].t, NULL);
	double elapsed = (now_ms() - t0) / 1e3;

	for (int i = 0; i < nclients; i++)
		n += (size_t)cl[i].n;
	all = malloc((n ? n : 1) * sizeof(double));
	n = 0;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + n, cl[i].lat, (size_t)cl[i].n * sizeof(double));
		n += (size_t)cl[i].n;
		for (int k = 0; k < 5; k++)
			dec[k] += cl[i].decisions[k];
		free(cl[i].lat);
	}
	qsort(all, n, sizeof(double), cmp_double);
	*p50 = n ? all[n / 2] : 0;
	*p99 = n ? all[(size_t)(n * 0.99)] : 0;
	free(all);
	return n / elapsed;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 6;
	char dir[] = "/tmp/tvs-bench-XXXXXX", db[64], key[64];
	const char *pw = "bench-admin-password";
	int lfw, enrolled = 0;

	if (sodium_init() < 0 || access("models/model", R_OK) || !mkdtemp(dir)) {
		printf("bench_serve: needs models/model (make models) and a writable /tmp\n");
		return 0;
	}
	snprintf(db, sizeof(db), "%s/tvs.db", dir);
	snprintf(key, sizeof(key), "%s/tvs.key", dir);
	if (tvs_vault_create_key_file(key)) {
		printf("bench_serve: %s\n", tvs_errmsg());
		return 1;
	}
	lfw = load_lfw();
	if (!lfw)
		load_demo();
	printf("data: %d travelers, %s; captures are 640x480 JPEG (quality 90)\n", nitems,
	       lfw ? "LFW (portrait = photo 1, capture = photo 2)"
		   : "demo photos' faces repeated (no LFW): decisions will be mostly AMBIGUOUS");
	if (tvs_svc_user_add(db, "admin", "admin", pw)) {
		printf("bench_serve: %s\n", tvs_errmsg());
		return 1;
	}
	double ref = reference_ms();

	printf("reference, in process, 1 thread: decode + detect + landmarks + quality + describe = %.1f ms/capture"
	       " (%.1f captures/s)\n\n",
	       ref, 1e3 / ref);
	printf("workers clients  captures/s   p50 ms   p99 ms   MATCH NO_MATCH RETAKE other errors  vs reference\n");
	for (int workers = 1; workers <= 2; workers++) {
		tvs_svc_config sc;
		tvs_http_config hc;
		tvs_svc_t *svc = NULL;
		tvs_http_server_t *http = NULL;
		size_t nr;
		const tvs_http_route *routes = tvs_svc_routes(&nr);

		tvs_svc_default_config(&sc);
		sc.db_url = db;
		sc.key_file = key;
		sc.workers = workers;
		tvs_http_default_config(&hc);
		hc.port = 0;
		hc.workers = workers;
		hc.worker_init = tvs_svc_worker_init;
		hc.worker_fini = tvs_svc_worker_fini;
		if (tvs_svc_create(&svc, &sc) || tvs_http_start(&http, &hc, routes, nr, svc)) {
			printf("bench_serve: server: %s\n", tvs_errmsg());
			tvs_svc_destroy(svc);
			return 1;
		}
		port = tvs_http_port(http);
		if (workers == 1) {
			double t0 = now_ms();

			if (build_world(port, pw, &enrolled)) {
				printf("bench_serve: could not build the world\n");
				return 1;
			}
			fprintf(stderr, "enrolled %d of %d portraits through the API in %.1f s\n", enrolled, nitems,
				(now_ms() - t0) / 1e3);
		}
		for (int clients = 1; clients <= 2 * workers; clients *= 2) {
			double p50, p99;
			int dec[5];
			double rate = run_load(clients, seconds, &p50, &p99, dec);

			printf("%7d %7d %11.1f %8.1f %8.1f %7d %8d %6d %5d %6d  %5.2fx\n", workers, clients, rate, p50, p99,
			       dec[0], dec[1], dec[2], dec[3], dec[4], rate / (1e3 / ref));
		}
		tvs_http_stop(http);
		tvs_svc_destroy(svc);
	}
	printf("\n(vs reference: service captures/s over the bare pipeline's single-thread rate)\n");
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return 0;
	}
	return 0;
}
