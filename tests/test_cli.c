/*
 * Black-box tests of the tvs command: exit codes, --help on every command,
 * and a JSON "error" line (never a crash) for every kind of bad image.
 * Runs build/tvs (or $TVS_BIN) from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void)
{
	const char *b = getenv("TVS_BIN");
	return b && *b ? b : "build/tvs";
}

/* Run "tvs ARGS" and capture stdout; returns the exit status (-1 on a
 * signal, so a crash can never look like success). */
static int run(const char *args, char *out, size_t outlen)
{
	char cmd[1024];
	FILE *p;
	size_t n = 0;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", bin(), args);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (out) {
		n = fread(out, 1, outlen - 1, p);
		out[n] = 0;
	} else {
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char dir[] = "/tmp/tvs-cli-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_help_and_usage(void **state)
{
	char out[8192];
	(void)state;
	assert_int_equal(run("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "exit status"));
	assert_int_equal(run("detect --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--threads"));
	assert_int_equal(run("compare --help", out, sizeof(out)), 0);
	assert_int_equal(run("eval --help", out, sizeof(out)), 0);
	assert_int_equal(run("", NULL, 0), 2);
	assert_int_equal(run("no-such-command", NULL, 0), 2);
	assert_int_equal(run("detect", NULL, 0), 2);
	assert_int_equal(run("detect --threads 0 x.jpg", NULL, 0), 2);
	assert_int_equal(run("detect --detector yolo x.jpg", NULL, 0), 2);
	assert_int_equal(run("compare onlyone.jpg", NULL, 0), 2);
}

static void test_bad_images_get_json_errors(void **state)
{
	char path[256], args[2048], out[16384];
	static const unsigned char trunc_jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
	static const unsigned char png_sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0};
	(void)state;

	snprintf(path, sizeof(path), "%s/empty.jpg", dir);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/trunc.jpg", dir);
	write_file(path, trunc_jpeg, sizeof(trunc_jpeg));
	snprintf(path, sizeof(path), "%s/trunc.png", dir);
	write_file(path, png_sig, sizeof(png_sig));
	snprintf(path, sizeof(path), "%s/text.jpg", dir);
	write_file(path, "hello, not an image\n", 20);
	snprintf(args, sizeof(args), "detect %s/empty.jpg %s/trunc.jpg %s/trunc.png %s/text.jpg %s/missing.jpg", dir,
		 dir, dir, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	/* one line per input, each with an error, in input order */
	int lines = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), lines++)
		assert_non_null(strstr(l, "\"error\""));
	assert_int_equal(lines, 5);
}

static void test_demo_photo_and_compare(void **state)
{
	char out[1 << 16];
	struct stat st;
	(void)state;
	if (stat("models/demo/sample1.jpg", &st) != 0)
		skip();
	assert_int_equal(run("detect --threads 2 models/demo/sample1.jpg models/demo/sample2.jpg", out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "\"num_faces\":3"));
	assert_non_null(strstr(out, "\"descriptor\":["));
	assert_int_equal(run("compare models/demo/sample1.jpg models/demo/sample1.jpg", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"distance\":0.000000"));
	assert_non_null(strstr(out, "\"decision\":\"match\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_usage),
		cmocka_unit_test(test_bad_images_get_json_errors),
		cmocka_unit_test(test_demo_photo_and_compare),
	};
	if (access(bin(), X_OK) != 0) {
		printf("# %s not built: skipping CLI tests\n", bin());
		return 0;
	}
	return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
