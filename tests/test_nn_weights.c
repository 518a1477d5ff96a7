/*
 * The TFJS weight loader against altered model files, and the thread pool.
 *
 * Model files are input like any other: a truncated or padded .bin, a
 * manifest naming a file outside the model folder, a wrong shape or a
 * missing weight must each fail with its own code, never read out of
 * bounds. Each case copies the real tiny-detector model (from
 * scripts/fetch-models.sh) into a temporary folder and damages the copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tvs/error.h"
#include "tvs/nn.h"

#define SRC "models/model"
#define NAME "tiny_face_detector_model"

static char dir[] = "/tmp/tvs-weights-XXXXXX";

static int sh(const char *fmt, const char *a)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, a, a, a);
	return system(cmd);
}

/* Fresh, intact copy of the model in dir. */
static void fresh_copy(void)
{
	assert_int_equal(sh("rm -f %s/* && cp " SRC "/" NAME "* %s/", dir), 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return sh("rm -rf %s", dir) == 0 ? 0 : -1;
}

static void test_intact_model_loads_by_name(void **state)
{
	tvs_nn_model_t *m = NULL;
	const float *w;
	int shape[4] = {3, 3, 3, 16}, bad[4] = {3, 3, 3, 17};
	(void)state;

	fresh_copy();
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), 0);
	assert_int_equal(tvs_nn_model_count(m), 19);
	assert_int_equal(tvs_nn_model_values(m), 193321);
	assert_int_equal(tvs_nn_model_get(m, "conv0/filters", 4, shape, &w), 0);
	assert_int_equal(tvs_nn_model_get(m, "conv0/filters", 4, bad, &w), TVS_EINTEGRITY);
	assert_int_equal(tvs_nn_model_get(m, "conv0/filters", 2, shape, &w), TVS_EINTEGRITY);
	assert_int_equal(tvs_nn_model_get(m, "no/such/weight", 4, shape, &w), TVS_ENOTFOUND);
	assert_true(strlen(tvs_errmsg()) > 0);
	tvs_nn_model_destroy(m);
	tvs_nn_model_destroy(NULL);
}

static void test_truncated_bin(void **state)
{
	tvs_nn_model_t *m = NULL;
	(void)state;

	fresh_copy();
	assert_int_equal(sh("truncate -s -1 %s/" NAME ".bin", dir), 0);
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EINTEGRITY);
	assert_null(m);
	assert_non_null(strstr(tvs_errmsg(), "past the end"));
}

static void test_padded_bin(void **state)
{
	tvs_nn_model_t *m = NULL;
	(void)state;

	fresh_copy();
	assert_int_equal(sh("printf x >> %s/" NAME ".bin", dir), 0);
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EINTEGRITY);
	assert_null(m);
}

static void test_missing_files(void **state)
{
	tvs_nn_model_t *m = NULL;
	(void)state;

	fresh_copy();
	assert_int_equal(sh("rm %s/" NAME ".bin", dir), 0);
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_ENOTFOUND);
	assert_int_equal(tvs_nn_model_load(&m, dir, "no_such_model"), TVS_ENOTFOUND);
	assert_int_equal(tvs_nn_model_load(&m, dir, "../etc"), TVS_EINVAL);
}

static void write_manifest(const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/" NAME "-weights_manifest.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_hostile_manifests(void **state)
{
	tvs_nn_model_t *m = NULL;
	(void)state;

	fresh_copy();
	write_manifest("[{\"paths\":[\"../../etc/passwd\"],\"weights\":[]}]");
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EFORMAT);
	write_manifest("not json");
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EFORMAT);
	write_manifest("[]");
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EFORMAT);
	write_manifest("[{\"paths\":[\"" NAME ".bin\"],\"weights\":[{\"name\":\"a\",\"shape\":[100000000,100000000],"
		       "\"dtype\":\"float32\"}]}]");
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EFORMAT);
	write_manifest("[{\"paths\":[\"" NAME ".bin\"],\"weights\":[{\"name\":\"a\",\"shape\":[4],"
		       "\"dtype\":\"complex64\"}]}]");
	assert_int_equal(tvs_nn_model_load(&m, dir, NAME), TVS_EUNSUPPORTED);
	assert_null(m);
}

/* ------------------------------------------------------------ thread pool */

struct count {
	atomic_int hits[64];
	atomic_int bad_worker;
	int nworkers;
};

static void count_task(void *arg, int task, int worker)
{
	struct count *c = arg;
	atomic_fetch_add(&c->hits[task], 1);
	if (worker < 0 || worker >= c->nworkers)
		atomic_store(&c->bad_worker, 1);
}

static void test_pool_runs_every_task_once(void **state)
{
	tvs_pool_t *p = NULL;
	(void)state;

	assert_int_equal(tvs_pool_create(&p, 0), TVS_EINVAL);
	for (int n = 1; n <= 4; n++) {
		assert_int_equal(tvs_pool_create(&p, n), 0);
		assert_int_equal(tvs_pool_size(p), n);
		for (int round = 0; round < 20; round++) {
			struct count c = {.nworkers = n};
			int ntasks = (round * 7) % 64;
			tvs_pool_run(p, ntasks, count_task, &c);
			for (int t = 0; t < 64; t++)
				assert_int_equal(atomic_load(&c.hits[t]), t < ntasks ? 1 : 0);
			assert_int_equal(atomic_load(&c.bad_worker), 0);
		}
		tvs_pool_destroy(p);
	}
	tvs_pool_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest model_tests[] = {
		cmocka_unit_test(test_intact_model_loads_by_name),
		cmocka_unit_test(test_truncated_bin),
		cmocka_unit_test(test_padded_bin),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_hostile_manifests),
	};
	const struct CMUnitTest pool_tests[] = {
		cmocka_unit_test(test_pool_runs_every_task_once),
	};
	int rc = cmocka_run_group_tests_name("threadpool", pool_tests, NULL, NULL);
	if (access(SRC "/" NAME ".bin", R_OK) != 0) {
		printf("# skipping weight-loader tests: no models (run scripts/fetch-models.sh)\n");
		return rc;
	}
	return rc | cmocka_run_group_tests_name("weights", model_tests, setup, teardown);
}
