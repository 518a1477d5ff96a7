/*
 * `tvs serve --tls-cert --tls-key` against a real client. A self-signed
 * P-256 certificate for 127.0.0.1 is made with the openssl command in the
 * server's temporary folder, and every request verifies the server against
 * it (never with verification off). Over TLS: health, a refused and an
 * accepted login, an authenticated call and an event stream, each with the
 * security headers and Strict-Transport-Security. Plain HTTP to the TLS port
 * is cut without a reply and leaves the server healthy. A key readable by
 * others, or a certificate without its key, stops the server at startup with
 * a message that says why.
 *
 * Skips with a message when the server cannot run (no binary or models) or
 * there is no openssl command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../test_cert.h"

#include "e2e.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static e2e_server srv;
static char cert[160], key[160];
static const char *no_tls; static int group_setup(void **state)
{
	const char *tls[] = { "--tls-cert", cert, "--tls-key", key, NULL };

	(void)state;
	if ((no_tls = e2e_missing()) != NULL)
		return 0;
	if (!have_openssl()) {
		no_tls = "no openssl command to make a test certificate";
		return 0;
	}
	if (e2e_server_init(&srv))
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/key.pem", srv.dir);
	if (make_cert(cert, key)) {
		fprintf(stderr, "e2e: openssl could not make a certificate\n");
		return -1;
	}
	if (e2e_server_start(&srv, tls))
		return -1;
	snprintf(srv.ca_file, sizeof(srv.ca_file), "%s", cert);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	e2e_server_cleanup(&srv);
	return 0;
}

#define REQUIRE_TLS()                                                               \
	do {                                                                        \
		if (no_tls) {                                                       \
			print_message("[ SKIP     ] e2e tls: %s\n", no_tls);        \
			skip();                                                     \
		}                                                                   \
		E2E_REQUIRE(&srv);                                                  \
	} while (0)

/* The headers every reply over TLS carries. */
static void check_tls_headers(e2e_resp *r, const char *what)
{
	static const char *const want[][2] = {
		{ "Strict-Transport-Security", "max-age=31536000" },
		{ "X-Content-Type-Options", "nosniff" },
		{ "Cache-Control", "no-store" },
		{ "X-Frame-Options", "DENY" },
		{ "Referrer-Policy", "no-referrer" },
	};
	char v[200];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!e2e_resp_header(r, want[i][0], v, sizeof(v)) || strcmp(v, want[i][1]) != 0) {
			char msg[300];

			snprintf(msg, sizeof(msg), "%s: %s is '%s', want '%s'", what, want[i][0],
				 e2e_resp_header(r, want[i][0], v, sizeof(v)) ? v : "(absent)", want[i][1]);
			e2e_resp_free(r);
			fail_msg("%s", msg);
		}
}

static void test_startup_line_says_https(void **state)
{
	char path[200], line[512], want[96];
	FILE *f;
	int seen = 0;

	(void)state;
	REQUIRE_TLS();
	snprintf(path, sizeof(path), "%s/stderr", srv.dir);
	snprintf(want, sizeof(want), "listening on https://127.0.0.1:%d ", srv.port);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		seen |= strstr(line, want) != NULL;
	fclose(f);
	if (!seen)
		fail_msg("no '%s' in %s", want, path);
}

static void test_api_over_tls(void **state)
{
	static const char wrong[] = "{\"username\":\"admin\",\"password\":\"not-the-password-1\"}";
	e2e_cred admin, officer;
	e2e_resp r;
	char ct[80];
	json_t *j;

	(void)state;
	REQUIRE_TLS();
	e2e_request(&srv, &(e2e_req){ .path = "/healthz" }, &r);
	assert_int_equal(r.status, 200);
	check_tls_headers(&r, "GET /healthz");
	e2e_resp_free(&r);

	/* a wrong password is refused, over TLS as over plain HTTP */
	e2e_request(&srv, &(e2e_req){ .method = "POST", .path = "/v1/sessions", .body = wrong }, &r);
	check_tls_headers(&r, "POST /v1/sessions (wrong password)");
	e2e_check_error(&r, 401, "unauthenticated", "login with a wrong password");
	e2e_resp_free(&r);

	/* the right one opens a session that works */
	admin = e2e_login(&srv, "admin");
	json_decref(e2e_call(&srv, "POST", "/v1/users", &admin,
			     json_pack("{s:s,s:s,s:s}", "username", "officer1", "password", E2E_PASSWORD, "role",
				       "officer"),
			     201));
	j = e2e_call(&srv, "GET", "/v1/users", &admin, NULL, 200);
	assert_non_null(j);
	json_decref(j);

	/* an event stream opens over TLS */
	officer = e2e_login(&srv, "officer1");
	e2e_request(&srv, &(e2e_req){ .path = "/v1/events", .cred = &officer, .head_only = 1 }, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(e2e_resp_header(&r, "Content-Type", ct, sizeof(ct)));
	assert_non_null(strstr(ct, "text/event-stream"));
	check_tls_headers(&r, "GET /v1/events");
	e2e_resp_free(&r);
}

static void test_plain_http_fails_cleanly(void **state)
{
	e2e_server plain;
	e2e_resp r;
	int cc, st;

	(void)state;
	REQUIRE_TLS();
	plain = srv;
	plain.ca_file[0] = '\0'; /* the same port, spoken to in plain HTTP */
	for (int i = 0; i < 3; i++) {
		cc = e2e_request_raw(&plain, &(e2e_req){ .path = "/healthz" }, &r);
		st = (int)r.status;
		e2e_resp_free(&r);
		assert_int_equal(st, 0);
		if (cc == CURLE_OK || cc == CURLE_OPERATION_TIMEDOUT)
			fail_msg("plain HTTP to the TLS port: curl says %d (%s), want the connection cut", cc,
				 curl_easy_strerror((CURLcode)cc));
	}
	cc = e2e_request_raw(&plain, &(e2e_req){ .method = "POST", .path = "/v1/sessions",
						 .body = "{\"username\":\"admin\",\"password\":\"x\"}" },
			     &r);
	e2e_resp_free(&r);
	assert_int_not_equal(cc, CURLE_OK);

	/* still running, still serving TLS */
	assert_int_equal(waitpid(srv.pid, &st, WNOHANG), 0);
	e2e_request(&srv, &(e2e_req){ .path = "/healthz" }, &r);
	assert_int_equal(r.status, 200);
	e2e_resp_free(&r);
}

/* Start another server with extra; it must exit at startup with want in
 * its stderr. */
static void expect_startup_failure(const char *const *extra, const char *want)
{
	e2e_server bad;
	char path[200], buf[8192];
	FILE *f;
	size_t n;

	assert_int_equal(e2e_server_init(&bad), 0);
	print_message("e2e tls: a server that must refuse to start (its stderr follows)\n");
	if (e2e_server_start(&bad, extra) == 0) {
		e2e_server_cleanup(&bad);
		fail_msg("tvs serve started, but should have refused (%s)", want);
	}
	snprintf(path, sizeof(path), "%s/stderr", bad.dir);
	f = fopen(path, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	e2e_server_cleanup(&bad);
	if (!strstr(buf, want))
		fail_msg("tvs serve's startup error does not say '%s': %s", want, buf);
}

static void test_bad_tls_files_stop_startup(void **state)
{
	char open_key[200];
	const char *too_open[] = { "--tls-cert", cert, "--tls-key", open_key, NULL };
	const char *alone[] = { "--tls-cert", cert, NULL };
	char *cp[] = { "cp", key, open_key, NULL };

	(void)state;
	REQUIRE_TLS();
	snprintf(open_key, sizeof(open_key), "%s/key-0644.pem", srv.dir);
	assert_int_equal(run_quiet(cp), 0);
	assert_int_equal(chmod(open_key, 0644), 0);
	expect_startup_failure(too_open, "too open");
	expect_startup_failure(alone, "--tls-cert and --tls-key go together");
}

static void test_still_healthy_and_stops_cleanly(void **state)
{
	e2e_resp r;

	(void)state;
	REQUIRE_TLS();
	e2e_request(&srv, &(e2e_req){ .path = "/healthz" }, &r);
	assert_int_equal(r.status, 200);
	check_tls_headers(&r, "GET /healthz at the end");
	e2e_resp_free(&r);
	assert_int_equal(e2e_server_stop(&srv, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_line_says_https),
		cmocka_unit_test(test_api_over_tls),
		cmocka_unit_test(test_plain_http_fails_cleanly),
		cmocka_unit_test(test_bad_tls_files_stop_startup),
		cmocka_unit_test(test_still_healthy_and_stops_cleanly),
	};
	return E2E_RUN("e2e_tls", tests, group_setup, group_teardown);
}
