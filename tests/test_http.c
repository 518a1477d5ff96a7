/*
 * Black-box tests of the HTTP layer (src/http/server.c): a server on an
 * ephemeral loopback port with a table of test handlers, driven with libcurl.
 *
 * Anything about concurrency is made deterministic with a condition variable
 * the handlers block on, never with sleeps: the overload test holds the one
 * worker busy, so of two more requests exactly one can queue and the other must
 * be refused. Waits have a generous deadline only so a bug fails instead of
 * hanging; no test asserts how long anything took.
 *
 * The TLS tests make a self-signed P-256 certificate for 127.0.0.1 with the
 * openssl command at test time (they skip, saying so, where there is none)
 * and talk to the server with libcurl verifying against that certificate:
 * verification is never turned off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_cert.h"

#include "tvs/error.h"
#include "tvs/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NW 3 /* workers in most tests */

/* ---- shared state of the test handlers ---- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int slow_entered, slow_release;
	int init_calls[8], fini_calls[8];
	int fail_worker; /* worker_init fails for this index; -1: none */
	int streams_freed;
	int clients_done;
} A = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, .fail_worker = -1};

static void reset_state(void)
{
	pthread_mutex_lock(&A.mu);
	A.slow_entered = A.slow_release = A.streams_freed = A.clients_done = 0;
	memset(A.init_calls, 0, sizeof(A.init_calls));
	memset(A.fini_calls, 0, sizeof(A.fini_calls));
	A.fail_worker = -1;
	pthread_mutex_unlock(&A.mu);
}

/* Wait until *v >= want (under A.mu), at most 20 s; returns the value seen. */
static int wait_for(int *v, int want)
{
	struct timespec until;
	int seen;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&A.mu);
	while (*v < want && pthread_cond_timedwait(&A.cv, &A.mu, &until) == 0)
		;
	seen = *v;
	pthread_mutex_unlock(&A.mu);
	return seen;
}

static void bump(int *v)
{
	pthread_mutex_lock(&A.mu);
	(*v)++;
	pthread_cond_broadcast(&A.cv);
	pthread_mutex_unlock(&A.mu);
}

static int w_init(void *app, int i)
{
	(void)app;
	bump(&A.init_calls[i]);
	if (i == A.fail_worker)
		return tvs__err(TVS_ETOOBIG, "test init failure");
	return 0;
}

static void w_fini(void *app, int i)
{
	(void)app;
	bump(&A.fini_calls[i]);
}

/* ---- handlers ---- */

static void h_echo(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	char w[16];

	(void)app;
	tvs_http_reply_text(resp, 200, "application/octet-stream", (const char *)req->body, req->body_len);
	snprintf(w, sizeof(w), "%d", req->worker);
	tvs_http_add_header(resp, "X-Worker", w);
	tvs_http_add_header(resp, "X-Ctype", req->content_type);
	tvs_http_add_header(resp, "X-Nul", req->body[req->body_len] == '\0' ? "yes" : "no");
	snprintf(resp->actor, sizeof(resp->actor), "device:3");
}

static void h_params(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	char b[256];
	int n = snprintf(b, sizeof(b), "%d:%s|%s", req->nparams, req->params[0], req->params[1]);

	(void)app;
	tvs_http_reply_text(resp, 200, "text/plain", b, (size_t)n);
}

static void h_query(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	char a[64], b[64], out[160];
	const char *va = tvs_http_query_param(req, "a", a, sizeof(a));
	const char *vb = tvs_http_query_param(req, "b", b, sizeof(b));
	int n = snprintf(out, sizeof(out), "%s|%s", va ? va : "-", vb ? vb : "-");

	(void)app;
	tvs_http_reply_text(resp, 200, "text/plain", out, (size_t)n);
}

static void h_slow(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	(void)app;
	(void)req;
	pthread_mutex_lock(&A.mu);
	A.slow_entered++;
	pthread_cond_broadcast(&A.cv);
	while (!A.slow_release)
		pthread_cond_wait(&A.cv, &A.mu);
	pthread_mutex_unlock(&A.mu);
	tvs_http_reply_text(resp, 200, "text/plain", "slow", 4);
}

static void h_nostatus(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	(void)app;
	(void)req;
	(void)resp;
}

static void h_headers(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	char b[512];
	int n = snprintf(b, sizeof(b), "%s|%s|%s|%s|%s|%s", req->authorization ? req->authorization : "-",
			 req->api_key ? req->api_key : "-", req->last_event_id ? req->last_event_id : "-",
			 req->idempotency_key ? req->idempotency_key : "-", req->remote, req->request_id);

	(void)app;
	tvs_http_reply_text(resp, 200, "text/plain", b, (size_t)n);
}

struct sse {
	int calls, sent;
};

/* Every other call waits a little and returns 0; the others send an event. */
static ssize_t sse_read(void *arg, char *buf, size_t max)
{
	struct sse *st = arg;

	if (st->calls++ % 2 == 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
		return 0;
	}
	return snprintf(buf, max, "data: %d\n\n", st->sent++);
}

static void sse_free(void *arg)
{
	free(arg);
	bump(&A.streams_freed);
}

static void h_sse(void *app, const tvs_http_req *req, tvs_http_resp *resp)
{
	(void)app;
	(void)req;
	resp->status = 200;
	resp->content_type = "text/event-stream";
	resp->stream = sse_read;
	resp->stream_arg = calloc(1, sizeof(struct sse));
	resp->stream_free = sse_free;
}

static const tvs_http_route routes[] = {
	{"POST", "/echo", h_echo, 0, 0},
	{"DELETE", "/echo", h_echo, 0, 0},
	{"POST", "/wecho", h_echo, 1, 0},
	{"POST", "/small", h_echo, 0, 64},
	{"GET", "/items/{id}/sub/{name}", h_params, 0, 0},
	{"GET", "/q", h_query, 0, 0},
	{"GET", "/slow", h_slow, 1, 0},
	{"GET", "/nostatus", h_nostatus, 1, 0},
	{"GET", "/hdr", h_headers, 1, 0},
	{"GET", "/sse", h_sse, 0, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static tvs_http_server_t *start(int workers, int queue_max, FILE *log)
{
	tvs_http_config c;
	tvs_http_server_t *s = NULL;

	tvs_http_default_config(&c);
	c.port = 0;
	c.workers = workers;
	c.queue_max = queue_max;
	c.log = log;
	c.worker_init = w_init;
	c.worker_fini = w_fini;
	assert_int_equal(tvs_http_start(&s, &c, routes, NROUTES, NULL), 0);
	assert_true(tvs_http_port(s) > 0);
	return s;
}

/* ---- the client ---- */

/* How request() and sse_main() talk: https (verifying against the PEM file
 * client_ca, or the system's roots when NULL) or plain http. */
static int client_https;
static const char *client_ca;

static void client_tls(CURL *c)
{
	if (client_https && client_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, client_ca);
}

struct res {
	long status;
	CURLcode rc;
	char body[8192];
	size_t len;
	char hdr[8192];
	size_t hlen;
};

/* Append what fits of p[0..k) to buf[cap] at *len, NUL-terminated; curl is
 * told all was taken so that a long reply is truncated, not an error. */
static void append(char *buf, size_t cap, size_t *len, const char *p, size_t k)
{
	if (k > cap - 1 - *len)
		k = cap - 1 - *len;
	memcpy(buf + *len, p, k);
	*len += k;
	buf[*len] = '\0';
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct res *r = arg;

	append(r->body, sizeof(r->body), &r->len, p, sz * n);
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct res *r = arg;

	append(r->hdr, sizeof(r->hdr), &r->hlen, p, sz * n);
	return sz * n;
}

/* Value of response header name, or NULL; into a static buffer. */
static const char *header(const struct res *r, const char *name)
{
	static char val[512];
	size_t nl = strlen(name);

	for (const char *p = r->hdr; *p;) {
		const char *e = strstr(p, "\r\n");
		size_t ll = e ? (size_t)(e - p) : strlen(p);

		if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(p + ll - v), v);
			return val;
		}
		p += ll + (e ? 2 : 0);
	}
	return NULL;
}

struct upload {
	size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = sz * n < u->left ? sz * n : u->left;

	memset(buf, 'x', k);
	u->left -= k;
	return k;
}

/* method path [body of blen bytes | chunked upload of chunked bytes] with
 * extra headers (NULL-terminated). */
static void request(struct res *r, tvs_http_server_t *s, const char *method, const char *path, const char *body,
		    long blen, size_t chunked, const char *const *hdrs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct upload up = {chunked};
	char url[4096];

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", client_https ? "https" : "http", tvs_http_port(s), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	client_tls(c);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	for (; hdrs && *hdrs; hdrs++)
		hl = curl_slist_append(hl, *hdrs);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, blen);
	} else if (chunked) {
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

static void get(struct res *r, tvs_http_server_t *s, const char *path)
{
	request(r, s, "GET", path, NULL, 0, 0, NULL);
	assert_int_equal(r->rc, CURLE_OK);
}

/* The error code of a JSON error body; asserts the shape. */
static void assert_error_body(const struct res *r, const char *code)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	const char *got = NULL, *msg = NULL;

	assert_non_null(j);
	assert_int_equal(json_unpack(j, "{s:{s:s,s:s}}", "error", "code", &got, "message", &msg), 0);
	assert_string_equal(got, code);
	assert_true(strlen(msg) > 0);
	json_decref(j);
	assert_string_equal(header(r, "Content-Type"), "application/json");
}

static void assert_security_headers(const struct res *r)
{
	const char *id;

	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(header(r, "Cache-Control"), "no-store");
	assert_string_equal(header(r, "X-Frame-Options"), "DENY");
	assert_string_equal(header(r, "Referrer-Policy"), "no-referrer");
	assert_string_equal(header(r, "Content-Security-Policy"), "default-src 'self'");
	id = header(r, "X-Request-Id");
	assert_non_null(id);
	assert_true(strlen(id) > 0);
}

/* ---- tests ---- */

static void echo_inline_and_on_worker(void **state)
{
	static const char *const ct[] = {"Content-Type: Application/JSON ; charset=utf-8", NULL};
	tvs_http_server_t *s;
	struct res r;

	(void)state;
	reset_state();
	s = start(NW, 8, NULL);
	request(&r, s, "POST", "/echo", "{\"a\":1}", 7, 0, ct);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"a\":1}");
	assert_string_equal(header(&r, "X-Worker"), "-1");
	assert_string_equal(header(&r, "X-Ctype"), "application/json");
	assert_string_equal(header(&r, "X-Nul"), "yes");
	assert_string_equal(header(&r, "Content-Type"), "application/octet-stream");
	assert_security_headers(&r);
	assert_null(header(&r, "Strict-Transport-Security")); /* plain HTTP: no HSTS */

	for (int i = 0; i < 12; i++) {
		int w;

		request(&r, s, "POST", "/wecho", "hello", 5, 0, NULL);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "hello");
		assert_string_equal(header(&r, "X-Ctype"), "application/x-www-form-urlencoded"); /* curl's default */
		w = atoi(header(&r, "X-Worker"));
		assert_true(w >= 0 && w < NW);
	}
	request(&r, s, "POST", "/wecho", "", 0, 0, NULL); /* empty body */
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	tvs_http_stop(s);
}

static void params_and_query(void **state)
{
	tvs_http_server_t *s;
	struct res r;

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	get(&r, s, "/items/42/sub/hello%20x");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "2:42|hello x");
	get(&r, s, "/items//sub/x"); /* {id} needs a non-empty segment */
	assert_int_equal(r.status, 404);
	get(&r, s, "/items/42/sub/x/");
	assert_int_equal(r.status, 404);
	get(&r, s, "/items/42/sub");
	assert_int_equal(r.status, 404);

	get(&r, s, "/q?a=hello%20world&b=x+y%26z");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello world|x y&z");
	get(&r, s, "/q");
	assert_string_equal(r.body, "-|-");
	get(&r, s, "/q?zz=1&a&b=");
	assert_string_equal(r.body, "|");
	get(&r, s, "/q?a=%00&b=1"); /* a NUL byte cannot be a C string: absent */
	assert_string_equal(r.body, "-|1");
	get(&r, s, "/q?b=2&b=3&%61=first");
	assert_string_equal(r.body, "first|2");
	tvs_http_stop(s);
}

static void not_found_and_method_not_allowed(void **state)
{
	tvs_http_server_t *s;
	struct res r;
	const char *allow;

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	get(&r, s, "/nope");
	assert_int_equal(r.status, 404);
	assert_error_body(&r, "not_found");
	assert_security_headers(&r);

	get(&r, s, "/echo");
	assert_int_equal(r.status, 405);
	assert_error_body(&r, "method_not_allowed");
	assert_security_headers(&r);
	allow = header(&r, "Allow");
	assert_non_null(allow);
	assert_non_null(strstr(allow, "POST"));
	assert_non_null(strstr(allow, "DELETE"));
	assert_null(strstr(allow, "GET"));
	tvs_http_stop(s);
}

static void body_limits(void **state)
{
	static const char *const expect[] = {"Expect: 100-continue", NULL};
	static char big[1000];
	tvs_http_server_t *s;
	struct res r;

	(void)state;
	reset_state();
	memset(big, 'y', sizeof(big));
	s = start(1, 4, NULL);

	/* at the limit: fine */
	request(&r, s, "POST", "/small", big, 64, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 64);

	/* Content-Length over the limit: refused before the body is read */
	request(&r, s, "POST", "/small", big, sizeof(big), 0, expect);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_error_body(&r, "too_large");
	assert_security_headers(&r);

	/* chunked: a small body is collected, a big one refused */
	request(&r, s, "POST", "/small", NULL, 0, 40, NULL);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 40);
	assert_string_equal(header(&r, "X-Nul"), "yes");
	request(&r, s, "POST", "/small", NULL, 0, 20000, NULL);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_error_body(&r, "too_large");
	assert_security_headers(&r);

	/* far beyond the limit: the connection is cut rather than drained */
	request(&r, s, "POST", "/small", NULL, 0, 3u << 20, NULL);
	assert_int_not_equal(r.status, 200);

	/* the server is still healthy afterwards */
	request(&r, s, "POST", "/echo", "ok", 2, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	tvs_http_stop(s);
}

static void uri_limits_and_no_status(void **state)
{
	tvs_http_server_t *s;
	struct res r;
	char path[2100];

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	path[0] = '/';
	memset(path + 1, 'a', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	get(&r, s, path);
	assert_int_equal(r.status, 414);
	assert_error_body(&r, "uri_too_long");
	assert_security_headers(&r);

	strcpy(path, "");
	for (int i = 0; i < 40; i++)
		strcat(path, "/x");
	get(&r, s, path);
	assert_int_equal(r.status, 400);
	assert_error_body(&r, "bad_path");
	assert_security_headers(&r);

	get(&r, s, "/nostatus");
	assert_int_equal(r.status, 500);
	assert_error_body(&r, "internal");
	assert_security_headers(&r);
	tvs_http_stop(s);
}

struct client {
	pthread_t t;
	tvs_http_server_t *s;
	const char *path;
	struct res r;
	int done;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	request(&c->r, c->s, "GET", c->path, NULL, 0, 0, NULL);
	pthread_mutex_lock(&A.mu);
	c->done = 1;
	A.clients_done++;
	pthread_cond_broadcast(&A.cv);
	pthread_mutex_unlock(&A.mu);
	return NULL;
}

static void overloaded_queue_answers_503(void **state)
{
	tvs_http_server_t *s;
	struct client c[3];
	struct client *refused, *queued;

	(void)state;
	reset_state();
	s = start(1, 1, NULL);
	for (int i = 0; i < 3; i++)
		c[i] = (struct client){.s = s, .path = "/slow"};
	/* the one worker takes the first request and blocks in it */
	assert_int_equal(pthread_create(&c[0].t, NULL, client_main, &c[0]), 0);
	assert_int_equal(wait_for(&A.slow_entered, 1), 1);
	/* of the next two, one fills the queue and the other is refused */
	assert_int_equal(pthread_create(&c[1].t, NULL, client_main, &c[1]), 0);
	assert_int_equal(pthread_create(&c[2].t, NULL, client_main, &c[2]), 0);
	assert_int_equal(wait_for(&A.clients_done, 1), 1);
	pthread_mutex_lock(&A.mu);
	assert_int_equal(c[0].done, 0);
	refused = c[1].done ? &c[1] : &c[2];
	queued = c[1].done ? &c[2] : &c[1];
	assert_int_equal(queued->done, 0);
	A.slow_release = 1;
	pthread_cond_broadcast(&A.cv);
	pthread_mutex_unlock(&A.mu);

	assert_int_equal(refused->r.status, 503);
	assert_string_equal(header(&refused->r, "Retry-After"), "1");
	assert_error_body(&refused->r, "overloaded");
	assert_security_headers(&refused->r);
	for (int i = 0; i < 3; i++)
		pthread_join(c[i].t, NULL);
	assert_int_equal(c[0].r.status, 200);
	assert_int_equal(queued->r.status, 200);
	assert_string_equal(queued->r.body, "slow");
	assert_int_equal(A.slow_entered, 2);
	tvs_http_stop(s);
}

static void worker_init_and_fini(void **state)
{
	tvs_http_server_t *s;

	(void)state;
	reset_state();
	s = start(NW, 4, NULL);
	for (int i = 0; i < NW; i++) {
		assert_int_equal(A.init_calls[i], 1);
		assert_int_equal(A.fini_calls[i], 0);
	}
	tvs_http_stop(s);
	for (int i = 0; i < NW; i++)
		assert_int_equal(A.fini_calls[i], 1);
	assert_int_equal(A.init_calls[NW], 0);
}

static void worker_init_failure_fails_start(void **state)
{
	tvs_http_config c;
	tvs_http_server_t *s = (tvs_http_server_t *)&c; /* must be reset to NULL */

	(void)state;
	reset_state();
	A.fail_worker = 1;
	tvs_http_default_config(&c);
	c.port = 0;
	c.workers = NW;
	c.worker_init = w_init;
	c.worker_fini = w_fini;
	assert_int_equal(tvs_http_start(&s, &c, routes, NROUTES, NULL), TVS_ETOOBIG);
	assert_null(s);
	assert_non_null(strstr(tvs_errmsg(), "test init failure"));
	/* everything joined: every worker ran init, the healthy ones ran fini */
	for (int i = 0; i < NW; i++) {
		assert_int_equal(A.init_calls[i], 1);
		assert_int_equal(A.fini_calls[i], i == 1 ? 0 : 1);
	}
}

static void request_id_echo_and_generation(void **state)
{
	static const char *const good[] = {"X-Request-Id: abc-123.X_y", NULL};
	static const char *const bad[] = {"X-Request-Id: bad id!", NULL};
	static const char *const hdrs[] = {"Authorization: Bearer t0k", "X-Api-Key: k1", "Last-Event-ID: 17",
					   "Idempotency-Key: idem-1", "X-Request-Id: rid-9", NULL};
	tvs_http_server_t *s;
	struct res r;
	char first[64];
	const char *id;

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	request(&r, s, "GET", "/nope", NULL, 0, 0, good);
	assert_string_equal(header(&r, "X-Request-Id"), "abc-123.X_y");

	request(&r, s, "GET", "/nope", NULL, 0, 0, bad);
	id = header(&r, "X-Request-Id");
	assert_int_equal(strlen(id), 16);
	for (int i = 0; i < 16; i++)
		assert_true(isxdigit((unsigned char)id[i]));
	snprintf(first, sizeof(first), "%s", id);
	get(&r, s, "/nope");
	assert_int_equal(strlen(header(&r, "X-Request-Id")), 16);
	assert_string_not_equal(header(&r, "X-Request-Id"), first);

	{
		char longid[80] = "X-Request-Id: ";
		const char *const lh[] = {longid, NULL};

		memset(longid + strlen(longid), 'a', 65);
		request(&r, s, "GET", "/nope", NULL, 0, 0, lh);
		assert_int_equal(strlen(header(&r, "X-Request-Id")), 16);
	}

	request(&r, s, "GET", "/hdr", NULL, 0, 0, hdrs);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "Bearer t0k|k1|17|idem-1|127.0.0.1|rid-9");
	get(&r, s, "/hdr");
	assert_true(strncmp(r.body, "-|-|-|-|127.0.0.1|", 18) == 0);
	tvs_http_stop(s);
}

/* SSE client: stops reading after `want` events (0: never). */
struct sse_client {
	pthread_t t;
	tvs_http_server_t *s;
	int want;
	int events;
	CURLcode rc;
};

static size_t on_sse(char *p, size_t sz, size_t n, void *arg)
{
	struct sse_client *c = arg;
	size_t k = sz * n;

	for (size_t i = 0; i + 5 <= k; i++)
		if (memcmp(p + i, "data:", 5) == 0) {
			pthread_mutex_lock(&A.mu);
			c->events++;
			pthread_cond_broadcast(&A.cv);
			pthread_mutex_unlock(&A.mu);
		}
	if (c->want && c->events >= c->want)
		return 0; /* hang up */
	return k;
}

static void *sse_main(void *arg)
{
	struct sse_client *c = arg;
	CURL *h = curl_easy_init();
	char url[128];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/sse", client_https ? "https" : "http", tvs_http_port(c->s));
	curl_easy_setopt(h, CURLOPT_URL, url);
	client_tls(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sse);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	c->rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return NULL;
}

static void sse_ends_when_client_leaves(void **state)
{
	tvs_http_server_t *s;
	struct sse_client c = {.want = 3};

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	c.s = s;
	sse_main(&c);
	assert_int_equal(c.rc, CURLE_WRITE_ERROR); /* we hung up */
	assert_true(c.events >= 3);
	assert_int_equal(wait_for(&A.streams_freed, 1), 1);
	tvs_http_stop(s);
	assert_int_equal(A.streams_freed, 1);
}

static void stop_with_open_stream_returns(void **state)
{
	tvs_http_server_t *s;
	struct sse_client c = {.want = 0};

	(void)state;
	reset_state();
	s = start(1, 4, NULL);
	c.s = s;
	assert_int_equal(pthread_create(&c.t, NULL, sse_main, &c), 0);
	assert_true(wait_for(&c.events, 2) >= 2);
	tvs_http_stop(s); /* must not hang on the open stream */
	pthread_join(c.t, NULL);
	assert_int_equal(A.streams_freed, 1);
	assert_int_equal(A.fini_calls[0], 1);
}

static void log_lines(void **state)
{
	static const char *const hdrs[] = {"X-Request-Id: log-1", "Content-Type: application/json", NULL};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	tvs_http_server_t *s;
	struct res r;
	int lines = 0, seen_echo = 0, seen_404 = 0, seen_sse = 0, seen_abort = 0;
	struct sse_client c = {.want = 2};

	(void)state;
	reset_state();
	assert_non_null(f);
	s = start(2, 4, f);
	request(&r, s, "POST", "/wecho?secret=hunter2", "{\"face\":\"biometric\"}", 20, 0, hdrs);
	assert_int_equal(r.status, 200);
	get(&r, s, "/nope?token=abc");
	assert_int_equal(r.status, 404);
	c.s = s;
	sse_main(&c);
	{ /* a client that gives up half way through its body */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tvs_http_port(s))};
		static const char part[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
		char b;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, part, sizeof(part) - 1), (ssize_t)sizeof(part) - 1);
		shutdown(fd, SHUT_WR);
		assert_true(read(fd, &b, 1) <= 0); /* the server closes without a reply */
		close(fd);
	}
	tvs_http_stop(s); /* every line is written by now */
	fclose(f);

	assert_null(strstr(buf, "hunter2"));
	assert_null(strstr(buf, "secret"));
	assert_null(strstr(buf, "token"));
	assert_null(strstr(buf, "biometric"));
	for (char *p = buf, *e; *p; p = e + 1) {
		json_error_t err;
		json_t *j;
		const char *ts, *level, *req, *remote, *method, *path;
		int status;
		json_int_t bytes;
		double ms;

		e = strchr(p, '\n');
		assert_non_null(e); /* whole lines only */
		j = json_loadb(p, (size_t)(e - p), 0, &err);
		assert_non_null(j);
		assert_int_equal(json_unpack(j, "{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:F}", "ts", &ts, "level", &level, "req",
					     &req, "remote", &remote, "method", &method, "path", &path, "status", &status,
					     "bytes", &bytes, "ms", &ms),
				 0);
		assert_int_equal(strlen(ts), 24);
		assert_int_equal(ts[23], 'Z');
		assert_int_equal(ts[10], 'T');
		assert_string_equal(remote, "127.0.0.1");
		assert_true(ms >= 0);
		if (strcmp(path, "/wecho") == 0) {
			seen_echo++;
			assert_string_equal(req, "log-1");
			assert_string_equal(method, "POST");
			assert_int_equal(status, 200);
			assert_int_equal(bytes, 20);
			assert_string_equal(level, "info");
			assert_string_equal(json_string_value(json_object_get(j, "actor")), "device:3");
			assert_null(json_object_get(j, "error"));
		} else if (strcmp(path, "/nope") == 0) {
			seen_404++;
			assert_int_equal(status, 404);
			assert_string_equal(level, "warn");
			assert_int_equal(strlen(req), 16);
			assert_string_equal(json_string_value(json_object_get(j, "error")), "not_found");
		} else if (strcmp(path, "/echo") == 0) {
			seen_abort++;
			assert_int_equal(status, 0);
			assert_string_equal(level, "warn");
			assert_string_equal(json_string_value(json_object_get(j, "error")), "connection_closed");
		} else if (strcmp(path, "/sse") == 0) {
			seen_sse++;
			assert_int_equal(status, 200);
			assert_true(bytes > 0);
		}
		json_decref(j);
		lines++;
	}
	assert_int_equal(lines, 4);
	assert_int_equal(seen_abort, 1);
	assert_int_equal(seen_echo, 1);
	assert_int_equal(seen_404, 1);
	assert_int_equal(seen_sse, 1);
	free(buf);
}

static void start_errors(void **state)
{
	tvs_http_config c;
	tvs_http_server_t *a, *b = NULL;
	static const tvs_http_route bad_route[] = {{"GET", "/{a}/{b}/{c}/{d}/{e}", h_echo, 0, 0}};

	(void)state;
	reset_state();
	a = start(1, 4, NULL);
	tvs_http_default_config(&c);
	c.port = tvs_http_port(a); /* taken */
	assert_int_equal(tvs_http_start(&b, &c, routes, NROUTES, NULL), TVS_EIO);
	assert_null(b);
	assert_non_null(strstr(tvs_errmsg(), "in use"));
	tvs_http_stop(a);

	tvs_http_default_config(&c);
	c.port = 0;
	c.bind = "localhost";
	assert_int_equal(tvs_http_start(&b, &c, routes, NROUTES, NULL), TVS_EINVAL);
	c.bind = NULL;
	c.workers = 0;
	assert_int_equal(tvs_http_start(&b, &c, routes, NROUTES, NULL), TVS_EINVAL);
	c.workers = 1;
	assert_int_equal(tvs_http_start(&b, &c, bad_route, 1, NULL), TVS_EINVAL);
	assert_null(b);
	tvs_http_stop(NULL);
}

static void reply_helpers(void **state)
{
	tvs_http_resp resp;
	char v[300];
	json_t *j;

	(void)state;
	memset(&resp, 0, sizeof(resp));
	tvs_http_reply_error(&resp, 400, "invalid_json", "bad \"%s\" \x01", "q\\");
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.error_code, "invalid_json");
	assert_string_equal(resp.content_type, "application/json");
	j = json_loadb(resp.body, resp.body_len, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "bad \"q\\\" \x01");
	json_decref(j);
	tvs_http_reply_error(&resp, 400, "x", "%s", "\xff\xfe not utf-8"); /* still valid JSON */
	assert_non_null(j = json_loadb(resp.body, resp.body_len, 0, NULL));
	json_decref(j);
	tvs_http_reply_text(&resp, 201, "text/plain", "hi", 2);
	assert_int_equal(resp.status, 201);
	assert_int_equal(resp.body_len, 2);
	assert_string_equal(resp.body, "hi");
	free(resp.body);

	memset(&resp, 0, sizeof(resp));
	assert_int_equal(tvs_http_add_header(&resp, "X-A", "one"), 0);
	assert_int_equal(tvs_http_add_header(&resp, "X-B", "evil\r\nSet-Cookie: x"), -1);
	assert_int_equal(tvs_http_add_header(&resp, "Bad Name", "v"), -1);
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	assert_int_equal(tvs_http_add_header(&resp, "X-C", v), -1); /* does not fit */
	assert_int_equal(tvs_http_add_header(&resp, "X-D", "two"), 0);
	assert_string_equal(resp.headers[0][1], "one");
	assert_string_equal(resp.headers[1][1], "two");
	for (int i = 2; i < TVS_HTTP_MAX_HEADERS; i++)
		assert_int_equal(tvs_http_add_header(&resp, "X-E", "e"), 0);
	assert_int_equal(tvs_http_add_header(&resp, "X-F", "f"), -1);
	assert_int_equal(resp.nheaders, TVS_HTTP_MAX_HEADERS);
}

/* ---- TLS ---- */

/* GnuTLS 3.7.9 (Debian 12) leaks the certificate it was parsing (168 bytes)
 * when gnutls_certificate_set_x509_key_mem() meets a PEM certificate whose
 * DER does not parse; reproduced with GnuTLS alone, without tvs or MHD. The
 * garbled-certificate case below reaches it, so LeakSanitizer is told to
 * pass over exactly those two GnuTLS allocations. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:gnutls_x509_crt_init\nleak:gnutls_subject_alt_names_init\n";
}

static struct {
	int state;     /* 0: not tried, 1: ready, -1: no openssl (tests skip) */
	char dir[64];  /* mkdtemp'd; removed at the end of main */
	char cert[128], key[128];             /* the server's pair, key mode 0600 */
	char other_cert[128], other_key[128]; /* a second, unrelated pair */
} T;

/* Make the certificates once; skip the calling test if openssl is absent. */
static void require_tls(void)
{
	if (T.state == 0) {
		T.state = -1;
		snprintf(T.dir, sizeof(T.dir), "/tmp/tvs-test-tls-XXXXXX");
		if (!have_openssl()) {
			T.dir[0] = '\0';
		} else {
			assert_non_null(mkdtemp(T.dir));
			snprintf(T.cert, sizeof(T.cert), "%s/cert.pem", T.dir);
			snprintf(T.key, sizeof(T.key), "%s/key.pem", T.dir);
			snprintf(T.other_cert, sizeof(T.other_cert), "%s/other-cert.pem", T.dir);
			snprintf(T.other_key, sizeof(T.other_key), "%s/other-key.pem", T.dir);
			assert_int_equal(make_cert(T.cert, T.key), 0);
			assert_int_equal(make_cert(T.other_cert, T.other_key), 0);
			T.state = 1;
		}
	}
	if (T.state < 0) {
		print_message("[ SKIP     ] TLS: no openssl command to make a test certificate\n");
		skip();
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Start a server with cert and key; returns tvs_http_start's code. */
static int start_tls_rc(tvs_http_server_t **s, const char *cert, const char *key)
{
	tvs_http_config c;

	tvs_http_default_config(&c);
	c.port = 0;
	c.workers = 2;
	c.queue_max = 4;
	c.tls_cert = cert;
	c.tls_key = key;
	*s = (tvs_http_server_t *)&c; /* must be reset */
	return tvs_http_start(s, &c, routes, NROUTES, NULL);
}

static tvs_http_server_t *start_tls(void)
{
	tvs_http_server_t *s;
	int rc = start_tls_rc(&s, T.cert, T.key);

	if (rc)
		fail_msg("TLS start: %s: %s", tvs_strerror(rc), tvs_errmsg());
	return s;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The whole of a small file, NUL-terminated (static buffer). */
static const char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void tls_https_with_verified_certificate(void **state)
{
	tvs_http_server_t *s;
	struct res r;
	struct sse_client c = {.want = 3};

	(void)state;
	reset_state();
	require_tls();
	s = start_tls();
	client_https = 1;
	client_ca = T.cert;

	get(&r, s, "/q?a=tls");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "tls|-");
	assert_security_headers(&r);
	assert_string_equal(header(&r, "Strict-Transport-Security"), "max-age=31536000");

	request(&r, s, "POST", "/wecho", "over tls", 8, 0, NULL); /* on a worker */
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "over tls");

	get(&r, s, "/nope"); /* errors carry every header too */
	assert_int_equal(r.status, 404);
	assert_error_body(&r, "not_found");
	assert_security_headers(&r);
	assert_non_null(header(&r, "Strict-Transport-Security"));
	get(&r, s, "/echo");
	assert_int_equal(r.status, 405);
	assert_non_null(header(&r, "Strict-Transport-Security"));

	/* an event stream over TLS ends when the client leaves */
	c.s = s;
	sse_main(&c);
	assert_int_equal(c.rc, CURLE_WRITE_ERROR);
	assert_true(c.events >= 3);
	assert_int_equal(wait_for(&A.streams_freed, 1), 1);

	/* verification is real: against another certificate it fails */
	client_ca = T.other_cert;
	request(&r, s, "GET", "/q", NULL, 0, 0, NULL);
	assert_int_equal(r.rc, CURLE_PEER_FAILED_VERIFICATION);
	assert_int_equal(r.status, 0);

	client_ca = T.cert;
	get(&r, s, "/q?b=again");
	assert_int_equal(r.status, 200);
	client_https = 0;
	client_ca = NULL;
	tvs_http_stop(s);
}

static void tls_plain_http_fails_cleanly(void **state)
{
	tvs_http_server_t *s, *plain;
	struct res r;

	(void)state;
	reset_state();
	require_tls();
	s = start_tls();
	for (int i = 0; i < 3; i++) {
		request(&r, s, "GET", "/q", NULL, 0, 0, NULL); /* http:// to the TLS port */
		assert_int_not_equal(r.rc, CURLE_OK);
		assert_int_not_equal(r.rc, CURLE_OPERATION_TIMEDOUT); /* cut, not left hanging */
		assert_int_equal(r.status, 0);
	}
	{ /* bytes that are neither TLS nor HTTP: the server hangs up */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tvs_http_port(s))};
		struct timeval guard = {20, 0}; /* a hang guard, not a timing check */
		static const char junk[] = "\x16\x03\x01\x00\x05hello, not a handshake\r\n\r\n";
		char b[64];
		ssize_t n;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_true(fd >= 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
		while ((n = read(fd, b, sizeof(b))) > 0) /* perhaps a TLS alert, then EOF */
			;
		assert_false(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		close(fd);
	}
	/* and the server still serves https */
	client_https = 1;
	client_ca = T.cert;
	get(&r, s, "/q?a=still");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "still|-");
	tvs_http_stop(s);

	/* the other way round: https to a plain server fails, the server lives */
	plain = start(1, 4, NULL);
	request(&r, plain, "GET", "/q", NULL, 0, 0, NULL);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 0);
	client_https = 0;
	client_ca = NULL;
	get(&r, plain, "/q?a=plain");
	assert_int_equal(r.status, 200);
	tvs_http_stop(plain);
}

static void tls_key_readable_by_others_is_refused(void **state)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0620};
	tvs_http_server_t *s;
	char mode[8];

	(void)state;
	reset_state();
	require_tls();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(T.key, bad[i]), 0);
		assert_int_equal(start_tls_rc(&s, T.cert, T.key), TVS_EDENIED);
		assert_null(s);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)bad[i]);
		assert_non_null(strstr(tvs_errmsg(), mode));
		assert_non_null(strstr(tvs_errmsg(), "too open"));
		assert_non_null(strstr(tvs_errmsg(), T.key));
	}
	assert_int_equal(chmod(T.key, 0400), 0); /* read-only for the owner: fine */
	s = start_tls();
	tvs_http_stop(s);
	assert_int_equal(chmod(T.key, 0600), 0);
}

static void tls_bad_files_fail_start_clearly(void **state)
{
	char path[160], path2[160], enc[160];
	tvs_http_server_t *s;
	tvs_http_config c;
	char *pem;
	int rc;

	(void)state;
	reset_state();
	require_tls();

	/* missing files name themselves */
	snprintf(path, sizeof(path), "%s/absent.pem", T.dir);
	assert_int_equal(start_tls_rc(&s, path, T.key), TVS_ENOTFOUND);
	assert_null(s);
	assert_non_null(strstr(tvs_errmsg(), path));
	assert_non_null(strstr(tvs_errmsg(), "certificate"));
	assert_int_equal(start_tls_rc(&s, T.cert, path), TVS_ENOTFOUND);
	assert_non_null(strstr(tvs_errmsg(), "key"));

	/* not PEM at all; empty; a folder */
	snprintf(path, sizeof(path), "%s/garbage.pem", T.dir);
	write_file(path, "this is not a certificate\n", 26, 0644);
	assert_int_equal(start_tls_rc(&s, path, T.key), TVS_EFORMAT);
	assert_non_null(strstr(tvs_errmsg(), "no PEM certificate"));
	write_file(path, "", 0, 0644);
	assert_int_equal(start_tls_rc(&s, path, T.key), TVS_EFORMAT);
	assert_non_null(strstr(tvs_errmsg(), "empty"));
	assert_int_equal(start_tls_rc(&s, T.dir, T.key), TVS_EINVAL);
	assert_non_null(strstr(tvs_errmsg(), "not a regular file"));

	/* the files swapped: the certificate as key (mode 0600) holds no key */
	snprintf(path2, sizeof(path2), "%s/cert-as-key.pem", T.dir);
	pem = strdup(slurp(T.cert));
	assert_non_null(pem);
	write_file(path2, pem, strlen(pem), 0600);
	assert_int_equal(start_tls_rc(&s, T.cert, path2), TVS_EFORMAT);
	assert_non_null(strstr(tvs_errmsg(), "no PEM private key"));

	/* a PEM envelope around garbled base64: GnuTLS refuses it at start */
	{
		char *body = strchr(pem, '\n') + 1;

		for (int i = 0; i < 40 && body[i] != '-'; i++)
			body[i] = body[i] == 'A' ? 'B' : 'A';
	}
	write_file(path, pem, strlen(pem), 0644);
	free(pem);
	rc = start_tls_rc(&s, path, T.key);
	print_message("garbled certificate: %s\n", tvs_errmsg());
	assert_int_equal(rc, TVS_EFORMAT);
	assert_null(s);
	assert_non_null(strstr(tvs_errmsg(), "TLS setup failed"));

	/* a key that is not the certificate's */
	rc = start_tls_rc(&s, T.cert, T.other_key);
	print_message("mismatched key: %s\n", tvs_errmsg());
	assert_int_equal(rc, TVS_EFORMAT);
	assert_non_null(strstr(tvs_errmsg(), "TLS setup failed"));

	/* an encrypted key */
	snprintf(enc, sizeof(enc), "%s/enc-key.pem", T.dir);
	{
		char *argv[] = {"openssl", "pkey", "-in", T.key, "-aes256", "-passout", "pass:secret-pass", "-out",
				enc, NULL};

		assert_int_equal(run_quiet(argv), 0);
		assert_int_equal(chmod(enc, 0600), 0);
	}
	assert_int_equal(start_tls_rc(&s, T.cert, enc), TVS_EUNSUPPORTED);
	assert_non_null(strstr(tvs_errmsg(), "encrypted"));

	/* one without the other */
	tvs_http_default_config(&c);
	c.port = 0;
	c.tls_cert = T.cert;
	assert_int_equal(tvs_http_start(&s, &c, routes, NROUTES, NULL), TVS_EINVAL);
	c.tls_cert = NULL;
	c.tls_key = T.key;
	assert_int_equal(tvs_http_start(&s, &c, routes, NROUTES, NULL), TVS_EINVAL);
	assert_null(s);

	/* and the good pair still starts */
	s = start_tls();
	tvs_http_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reply_helpers),
		cmocka_unit_test(echo_inline_and_on_worker),
		cmocka_unit_test(params_and_query),
		cmocka_unit_test(not_found_and_method_not_allowed),
		cmocka_unit_test(body_limits),
		cmocka_unit_test(uri_limits_and_no_status),
		cmocka_unit_test(overloaded_queue_answers_503),
		cmocka_unit_test(worker_init_and_fini),
		cmocka_unit_test(worker_init_failure_fails_start),
		cmocka_unit_test(request_id_echo_and_generation),
		cmocka_unit_test(sse_ends_when_client_leaves),
		cmocka_unit_test(stop_with_open_stream_returns),
		cmocka_unit_test(log_lines),
		cmocka_unit_test(start_errors),
		cmocka_unit_test(tls_https_with_verified_certificate),
		cmocka_unit_test(tls_plain_http_fails_cleanly),
		cmocka_unit_test(tls_key_readable_by_others_is_refused),
		cmocka_unit_test(tls_bad_files_fail_start_clearly),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	if (T.dir[0])
		nftw(T.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
