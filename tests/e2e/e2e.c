/*
 * The e2e harness: a real `tvs serve` in a child process, libcurl requests
 * with the checks every response owes, test images cut out of the demo
 * photos, and the standard world (users, port, locations, devices, enrolled
 * travelers, a manifest with a ready gallery). See e2e.h.
 *
 * The helpers assert with cmocka, so they belong to the thread that runs the
 * test; e2e_request_raw() is the one call for other threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e.h"
#include "tvs/error.h"
#include "tvs/vault.h"
#include "tvs/store.h"
#include "tvs/face.h"
#include "tvs/img.h"
#include "tvs/quality.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODEL_DIR "models/model"
#define STARTUP_WAIT_S 60

/* ------------------------------------------------------------ server */

const char *e2e_bin(void)
{
	const char *b = getenv("TVS_BIN");
	return b && *b ? b : "build/tvs";
}

/* Run argv with stdout and stderr sent to out_path (NULL: /dev/null);
 * returns the exit status, or -1. */
static int run_argv(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *e2e_missing(void)
{
	static int checked;
	static const char *why;
	struct stat st;

	if (checked)
		return why;
	checked = 1;
	if (access(e2e_bin(), X_OK) != 0)
		why = "no tvs binary (build it, or set TVS_BIN)";
	else if (stat(MODEL_DIR "/ssd_mobilenetv1_model.bin", &st) != 0 ||
		 stat(MODEL_DIR "/face_recognition_model.bin", &st) != 0)
		why = "no models in " MODEL_DIR " (make models)";
	else if (stat("models/demo/sample1.jpg", &st) != 0)
		why = "no demo photos in models/demo";
	else {
		char *argv[] = { (char *)e2e_bin(), "serve", "--help", NULL };

		if (run_argv(argv, NULL) != 0)
			why = "this tvs has no 'serve' command";
	}
	return why;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int on_pg; /* the group now running is the PostgreSQL pass */

/* A schema of its own on $TVS_TEST_PG, named after the folder, and the URL
 * that makes it the search path. */
static int pg_schema(e2e_server *s)
{
	const char *base = getenv("TVS_TEST_PG");
	char sql[128], name[48];
	tvs_store_t *st = NULL;
	int rc;

	snprintf(name, sizeof(name), "e2e_%s", strrchr(s->dir, '-') + 1);
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	rc = tvs_store_open(&st, base, 1);
	if (!rc)
		rc = tvs_store_exec(st, sql, NULL, 0, NULL);
	tvs_store_close(st);
	if (rc) {
		fprintf(stderr, "e2e: PostgreSQL schema %s: %s\n", name, tvs_errmsg());
		return -1;
	}
	snprintf(s->db, sizeof(s->db), "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?", name);
	s->pg = 1;
	return 0;
}

static void pg_drop(e2e_server *s)
{
	const char *q = strstr(s->db, "search_path%3D");
	char sql[128];
	tvs_store_t *st = NULL;

	if (!s->pg || !q || tvs_store_open(&st, getenv("TVS_TEST_PG"), 1))
		return;
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", q + strlen("search_path%3D"));
	tvs_store_exec(st, sql, NULL, 0, NULL);
	tvs_store_close(st);
}

int e2e_run_both(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
		 CMFixtureFunction teardown)
{
	char pgname[96];
	const char *pg = getenv("TVS_TEST_PG"), *pass = getenv("TVS_E2E_PASS");
	pid_t pid;
	int rc, st;

	snprintf(pgname, sizeof(pgname), "%s_postgresql", name);
	if (pass && !strcmp(pass, "postgresql")) {
		on_pg = 1;
		return _cmocka_run_group_tests(pgname, tests, n, setup, teardown);
	}
	rc = _cmocka_run_group_tests(name, tests, n, setup, teardown);
	if (!pg || !*pg) {
		printf("# %s: no PostgreSQL (TVS_TEST_PG unset): the SQLite pass only\n", name);
		return rc;
	}
	/* the PostgreSQL pass in a fresh process: the tests keep state in
	 * statics (tokens, counters) that a second pass here would inherit */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		setenv("TVS_E2E_PASS", "postgresql", 1);
		execl("/proc/self/exe", "e2e-postgresql", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rc |= 1;
	return rc;
}

int e2e_server_init(e2e_server *s)
{
	char pw[160];
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/tvs-e2e-XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "e2e: mkdtemp: %s\n", strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	snprintf(s->db, sizeof(s->db), "%s/tvs.db", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/tvs.key", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
	if (tvs_vault_create_key_file(s->key)) {
		fprintf(stderr, "e2e: %s: %s\n", s->key, tvs_errmsg());
		return -1;
	}
	if (on_pg && pg_schema(s))
		return -1;
	snprintf(pw, sizeof(pw), "%s/admin.pw", s->dir);
	write_text(pw, E2E_PASSWORD "\n");
	{
		char out[160];
		char *argv[] = { (char *)e2e_bin(), "user", "add", "--db", s->db, "--username", "admin",
				 "--role", "admin", "--password-file", pw, NULL };

		snprintf(out, sizeof(out), "%s/user-add.out", s->dir);
		rc = run_argv(argv, out);
		if (rc != 0) {
			fprintf(stderr, "e2e: tvs user add exited %d (see %s)\n", rc, out);
			return -1;
		}
	}
	return 0;
}

int e2e_server_init_like(e2e_server *b, const e2e_server *a)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/tvs-e2e-XXXXXX");
	if (!mkdtemp(b->dir)) {
		b->dir[0] = '\0';
		return -1;
	}
	snprintf(b->db, sizeof(b->db), "%s", a->db);
	snprintf(b->key, sizeof(b->key), "%s", a->key);
	snprintf(b->log, sizeof(b->log), "%s/log", b->dir);
	b->pg = 0; /* the schema is a's: its cleanup drops it, not this one's */
	return 0;
}

static void print_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	if (ftell(f) > (long)sizeof(buf) - 1)
		fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "---- %s\n%s----\n", path, buf);
}

int e2e_server_start(e2e_server *s, const char *const *extra)
{
	char portfile[160], errfile[160];
	const char *argv[64];
	int n = 0, st;
	pid_t pid;

	snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
	snprintf(errfile, sizeof(errfile), "%s/stderr", s->dir);
	unlink(portfile);
	argv[n++] = e2e_bin();
	argv[n++] = "serve";
	argv[n++] = "--db";
	argv[n++] = s->db;
	argv[n++] = "--key-file";
	argv[n++] = s->key;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--workers";
	argv[n++] = "2";
	argv[n++] = "--log";
	argv[n++] = s->log;
	argv[n++] = "--models";
	argv[n++] = MODEL_DIR;
	for (int i = 0; extra && extra[i] && n < 63; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	s->requests = s->streams = 0;
	for (int i = 0; i < STARTUP_WAIT_S * 20; i++) {
		FILE *f = fopen(portfile, "r");

		if (f) {
			int port = 0;

			if (fscanf(f, "%d", &port) == 1 && port > 0 && port < 65536) {
				fclose(f);
				s->port = port;
				return 0;
			}
			fclose(f);
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "e2e: tvs serve exited during startup (status %d)\n",
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			print_tail(errfile);
			s->pid = 0;
			return -1;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "e2e: tvs serve wrote no port file in %d s\n", STARTUP_WAIT_S);
	print_tail(errfile);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	s->pid = 0;
	return -1;
}

int e2e_server_stop(e2e_server *s, int sig)
{
	int st = 0;

	if (!s->pid)
		return -1;
	kill(s->pid, sig);
	/* a hang guard, not a timing check: a server that ignores SIGTERM for
	 * a minute is killed and reported as such */
	for (int i = 0; i < STARTUP_WAIT_S * 20; i++) {
		pid_t r = waitpid(s->pid, &st, WNOHANG);

		if (r == s->pid)
			goto done;
		if (r < 0 && errno != EINTR)
			break;
		usleep(50 * 1000);
	}
	fprintf(stderr, "e2e: tvs serve (pid %d) still runs %d s after signal %d\n", (int)s->pid, STARTUP_WAIT_S, sig);
	if (getenv("E2E_GDB")) {
		/* E2E_GDB=1: where is it stuck? */
		char pid[16];
		char *argv[] = { "/usr/bin/gdb", "-p", pid, "-batch", "-ex", "thread apply all bt", NULL };

		snprintf(pid, sizeof(pid), "%d", (int)s->pid);
		run_argv(argv, "/dev/stderr");
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return 128 + SIGKILL + 1000; /* "had to be killed": matches no plain status */
done:
	s->pid = 0;
	s->port = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void e2e_server_cleanup(e2e_server *s)
{
	if (s->pid)
		e2e_server_stop(s, SIGKILL);
	pg_drop(s);
	if (s->dir[0] && !getenv("E2E_KEEP"))
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else if (s->dir[0])
		fprintf(stderr, "e2e: kept %s\n", s->dir);
	s->dir[0] = '\0';
}

/* ------------------------------------------------------------ requests */

const e2e_cred e2e_nocred = { "" };

e2e_cred e2e_bearer(const char *token)
{
	e2e_cred c;

	snprintf(c.header, sizeof(c.header), "Authorization: Bearer %s", token);
	return c;
}

e2e_cred e2e_apikey(const char *key)
{
	e2e_cred c;

	snprintf(c.header, sizeof(c.header), "X-Api-Key: %s", key);
	return c;
}

struct buf {
	char *p;
	size_t n, cap;
	int head_only, headers_done;
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	return buf_add(arg, data, size * nmemb) ? 0 : size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (n >= 5 && !strncmp(data, "HTTP/", 5))
		b->n = 0; /* a new status line (after a 100 Continue): keep the last block */
	if (buf_add(b, data, n))
		return 0;
	/* a stream that opened (2xx): the headers are all we wanted; an error
	 * reply is read whole, for its error object */
	if (b->head_only && n == 2 && data[0] == '\r' && b->n > 9 && b->p[9] == '2') {
		b->headers_done = 1;
		return 0;
	}
	return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

int e2e_request_raw(e2e_server *s, const e2e_req *q, e2e_resp *r)
{
	struct buf body = { 0 }, head = { 0 };
	struct curl_slist *hl = NULL;
	char url[2048], ct[160];
	const char *method = q->method ? q->method : "GET";
	CURLcode cc;
	CURL *c;

	pthread_once(&curl_once, curl_init_once);
	memset(r, 0, sizeof(*r));
	c = curl_easy_init();
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", s->ca_file[0] ? "https" : "http", s->port, q->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (s->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L); /* a hang guard, not a timing check */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	head.head_only = q->head_only;
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
	hl = curl_slist_append(hl, "Expect:");
	if (q->cred && q->cred->header[0])
		hl = curl_slist_append(hl, q->cred->header);
	if (q->body) {
		size_t len = q->len ? q->len : strlen(q->body);

		snprintf(ct, sizeof(ct), "Content-Type: %s", q->ctype ? q->ctype : "application/json");
		hl = curl_slist_append(hl, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	} else if (strcmp(method, "GET") != 0) {
		/* a bodiless POST: no form content type, Content-Length: 0 */
		hl = curl_slist_append(hl, q->ctype ? (snprintf(ct, sizeof(ct), "Content-Type: %s", q->ctype), ct)
						    : "Content-Type:");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	for (int i = 0; q->headers && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else if (!strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (!body.p)
		buf_add(&body, "", 0);
	if (!head.p)
		buf_add(&head, "", 0);
	r->body = body.p;
	r->len = body.n;
	r->headers = head.p;
	if (r->len)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	if (r->status) {
		__atomic_fetch_add(&s->requests, 1, __ATOMIC_RELAXED);
		if (q->head_only && head.headers_done)
			__atomic_fetch_add(&s->streams, 1, __ATOMIC_RELAXED);
	}
	return (int)cc;
}

void e2e_resp_free(e2e_resp *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *e2e_resp_header(const e2e_resp *r, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = r->headers;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t vl;

			while (*v == ' ' || *v == '\t')
				v++;
			vl = (size_t)(p + len - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return buf;
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

/* Free r, then fail the test with the message (r's body may be quoted
 * in it: it is formatted first). Never returns. */
static void fail_free(e2e_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail_free(e2e_resp *r, const char *fmt, ...)
{
	static char msg[1024]; /* static: the longjmp must leak nothing */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e2e_resp_free(r);
	fail_msg("%s", msg);
	abort(); /* not reached: fail_msg jumps out */
}

void e2e_check_error(e2e_resp *r, long status, const char *code, const char *what)
{
	json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
	const char *got = e ? json_string_value(json_object_get(e, "code")) : NULL;

	if (r->status != status || !got || (code && strcmp(got, code) != 0))
		fail_free(r, "%s: expected %ld %s, got %ld: %.400s", what, status, code ? code : "(any code)",
			  r->status, r->body);
}

/* The checks every response owes (see e2e.h); frees r and fails if one
 * does not hold. */
static void e2e_request_checks(const char *method, const char *path, int allow_5xx, e2e_resp *r)
{
	char rid[200];

	if (!e2e_resp_header(r, "X-Request-Id", rid, sizeof(rid)) || !rid[0])
		fail_free(r, "%s %s: %ld reply without X-Request-Id", method, path, r->status);
	if (r->status >= 500 && !allow_5xx)
		fail_free(r, "%s %s: server error %ld: %.400s", method, path, r->status, r->body);
	if (r->status >= 400) {
		json_t *e = r->json ? json_object_get(r->json, "error") : NULL;

		if (!json_is_object(e) || !json_is_string(json_object_get(e, "code")) ||
		    !json_is_string(json_object_get(e, "message")))
			fail_free(r, "%s %s: %ld without {\"error\": {\"code\", \"message\"}}: %.400s", method,
				  path, r->status, r->body);
	}
}

void e2e_request(e2e_server *s, const e2e_req *q, e2e_resp *r)
{
	const char *method = q->method ? q->method : "GET";
	int cc = e2e_request_raw(s, q, r);

	if (r->status == 0)
		fail_free(r, "%s %s: no HTTP reply (%s)", method, q->path, curl_easy_strerror((CURLcode)cc));
	e2e_request_checks(method, q->path, q->allow_5xx, r);
}

json_t *e2e_call(e2e_server *s, const char *method, const char *path, const e2e_cred *c, json_t *body, long want)
{
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	e2e_resp r;
	json_t *out;

	json_decref(body);
	e2e_request_raw(s, &(e2e_req){ .method = method, .path = path, .cred = c, .body = txt }, &r);
	free(txt);
	if (r.status != want)
		fail_free(&r, "%s %s: expected %ld, got %ld: %.500s", method, path, want, r.status, r.body);
	/* the checks every response owes */
	e2e_request_checks(method, path, 0, &r);
	out = r.json ? json_incref(r.json) : json_null();
	e2e_resp_free(&r);
	return out;
}

/* ------------------------------------------------------------ JSON */

json_int_t e2e_jint(json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x)) {
		char *d = json_dumps(o, JSON_COMPACT);

		fail_msg("expected an integer \"%s\" in %.400s", key, d ? d : "(null)");
	}
	return json_integer_value(x);
}

const char *e2e_jstr(json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_string(x)) {
		char *d = json_dumps(o, JSON_COMPACT);

		fail_msg("expected a string \"%s\" in %.400s", key, d ? d : "(null)");
	}
	return json_string_value(x);
}

json_t *e2e_jarr(json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_array(x)) {
		char *d = json_dumps(o, JSON_COMPACT);

		fail_msg("expected an array \"%s\" in %.400s", key, d ? d : "(null)");
	}
	return x;
}

/* ------------------------------------------------------------ time */

int64_t e2e_now(void)
{
	return (int64_t)time(NULL);
}

void e2e_time_str(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------ images */

char *e2e_b64(const void *data, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = data;
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static e2e_images imgs;
static int imgs_state; /* 0 not tried, 1 built, -1 failed */

static int img_set(e2e_img *out, const tvs_image *im)
{
	if (tvs_img_encode_jpeg(im, 92, &out->data, &out->len))
		return -1;
	out->b64 = e2e_b64(out->data, out->len);
	return out->b64 ? 0 : -1;
}

/* The w x h region of src centred on (cx, cy) and turned by deg degrees
 * (the eye line's tilt, so the result is level), mirrored if asked, resized
 * to W x H bilinearly; outside the photo the edge pixels repeat. */
static int rotated_crop(const tvs_image *src, double cx, double cy, double w, double h, double deg, int mirror,
			int W, int H, tvs_image *out)
{
	double c = cos(deg * M_PI / 180), sn = sin(deg * M_PI / 180);

	if (tvs_image_alloc(out, W, H))
		return -1;
	for (int v = 0; v < H; v++)
		for (int u = 0; u < W; u++) {
			double x = ((u + 0.5) / W - 0.5) * w, y = ((v + 0.5) / H - 0.5) * h;
			double sx, sy, fx, fy;
			int x0, y0, x1, y1;
			uint8_t *o = out->rgb + ((size_t)v * W + u) * 3;

			if (mirror)
				x = -x;
			sx = cx + x * c - y * sn - 0.5;
			sy = cy + x * sn + y * c - 0.5;
			sx = fmin(fmax(sx, 0), src->width - 1);
			sy = fmin(fmax(sy, 0), src->height - 1);
			x0 = (int)sx, y0 = (int)sy;
			x1 = x0 + 1 < src->width ? x0 + 1 : x0;
			y1 = y0 + 1 < src->height ? y0 + 1 : y0;
			fx = sx - x0, fy = sy - y0;
			for (int k = 0; k < 3; k++) {
				const uint8_t *r0 = src->rgb + (size_t)y0 * src->width * 3, *r1 = src->rgb + (size_t)y1 * src->width * 3;
				double t = (r0[3 * x0 + k] * (1 - fx) + r0[3 * x1 + k] * fx) * (1 - fy) +
					   (r1[3 * x0 + k] * (1 - fx) + r1[3 * x1 + k] * fx) * fy;

				o[k] = (uint8_t)(t + 0.5);
			}
		}
	return 0;
}

/* The w x h rectangle centred on (cx, cy), moved (and if need be shrunk)
 * to lie inside a W x H image. */
static tvs_rect fit_rect(double cx, double cy, double w, double h, int W, int H)
{
	double x, y;

	if (w > W)
		w = W;
	if (h > H)
		h = H;
	x = cx - w / 2;
	y = cy - h / 2;
	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x + w > W)
		x = W - w;
	if (y + h > H)
		y = H - h;
	return (tvs_rect){ (int)x, (int)y, (int)w, (int)h };
}

/* Faces (all stages) of im into f[max]; the count, or -1. */
static int analyze(tvs_face_ctx_t *ctx, const tvs_image *im, tvs_face *f, int max)
{
	int n = 0;

	return tvs_face_analyze(ctx, im, f, max, &n, NULL) ? -1 : n;
}

static double cosine(const float *x, const float *y)
{
	double xy = 0, xx = 0, yy = 0;

	for (int i = 0; i < TVS_FACE_DESC_DIM; i++) {
		xy += (double)x[i] * y[i];
		xx += (double)x[i] * x[i];
		yy += (double)y[i] * y[i];
	}
	return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

/* Eye-line tilt in degrees and the nose's offset from the eyes' midpoint
 * in eye distances (0 frontal), from the 68 landmarks. */
static void pose(const tvs_face *f, double *roll, double *yaw)
{
	double lx = 0, ly = 0, rx = 0, ry = 0;

	for (int i = 36; i < 42; i++)
		lx += f->landmarks[i][0] / 6, ly += f->landmarks[i][1] / 6;
	for (int i = 42; i < 48; i++)
		rx += f->landmarks[i][0] / 6, ry += f->landmarks[i][1] / 6;
	*roll = atan2(ry - ly, rx - lx) * 180 / M_PI;
	*yaw = (f->landmarks[30][0] - (lx + rx) / 2) / hypot(rx - lx, ry - ly);
}

#define MAX_CAND 24

struct cand {
	e2e_img portrait, live;
	float dp[TVS_FACE_DESC_DIM], dl[TVS_FACE_DESC_DIM]; /* descriptors of both */
};

/* Keep the largest set of candidates (first in mask order on a tie) of
 * which no two look alike: every cross score of two people stays under
 * 0.90, well below the service's thresholds (1:1 at FMR 0.001 is about
 * 0.92 cosine, 1:N about 0.96), while two crops of one face score above
 * 0.97. The demo photos' strangers score 0.82..0.94, so the choice matters. */
static void select_people(struct cand *c, int n)
{
	uint32_t clash[MAX_CAND] = { 0 }, best = 0;
	int bestn = 0;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (i != j && (cosine(c[i].dp, c[j].dp) >= 0.90 || cosine(c[i].dl, c[j].dp) >= 0.90))
				clash[i] |= 1u << j, clash[j] |= 1u << i;
	for (uint32_t m = 1; m < (1u << n); m++) {
		int k = __builtin_popcount(m), ok = 1;

		if (k <= bestn)
			continue;
		for (int i = 0; i < n && ok; i++)
			if ((m >> i & 1) && (clash[i] & m))
				ok = 0;
		if (ok)
			best = m, bestn = k;
	}
	for (int i = 0; i < n; i++) {
		if ((best >> i & 1) && imgs.npeople < E2E_MAX_PEOPLE) {
			imgs.portrait[imgs.npeople] = c[i].portrait;
			imgs.live[imgs.npeople] = c[i].live;
			imgs.npeople++;
		} else {
			free(c[i].portrait.data);
			free(c[i].portrait.b64);
			free(c[i].live.data);
			free(c[i].live.b64);
		}
	}
}

/* 1 if the quality gate c passes the n faces (with landmarks) of im. */
static int gate(const tvs_quality_config *c, const tvs_image *im, const tvs_face *f, int n)
{
	tvs_quality q;

	if (tvs_quality_assess(c, im, f, n, &q))
		return 0;
	if (getenv("E2E_DEBUG") && q.reason != TVS_Q_OK)
		fprintf(stderr, "e2e:   quality %s (yaw %.0f roll %.0f sharp %.2f luma %.0f eyes %.0f)\n",
			tvs_quality_reason_name(q.reason), q.yaw_deg, q.roll_deg, q.sharpness, q.brightness,
			q.eye_distance_px);
	return q.reason == TVS_Q_OK;
}

static int build_images(void)
{
	static tvs_face faces[16], a[4], b[4];
	static struct cand cand[MAX_CAND];
	tvs_quality_config q_live, q_portrait;
	tvs_quality q = { 0 };
	int ncand = 0;
	tvs_face_config fc;
	tvs_face_engine_t *eng = NULL;
	tvs_face_ctx_t *ctx = NULL;
	tvs_image photo = { 0 }, p = { 0 }, l = { 0 }, tmp = { 0 };
	int rc = -1;

	/* stricter than the service's gates (an enrolment desk holds the
	 * pose tighter than a gate), so the people chosen pass either */
	tvs_quality_default_config(&q_live);
	q_live.max_yaw *= 0.8;
	q_live.max_roll *= 0.5;
	q_live.min_sharpness *= 1.3;
	q_live.min_brightness += 20;
	q_live.max_brightness -= 20;
	q_live.min_eye_distance_px *= 1.5;
	q_portrait = q_live;
	q_portrait.max_yaw *= 0.6 / 0.8;
	tvs_face_default_config(&fc);
	fc.model_dir = MODEL_DIR;
	if (tvs_face_engine_create(&eng, &fc) || tvs_face_ctx_create(&ctx, eng)) {
		fprintf(stderr, "e2e: cannot load the models from %s\n", MODEL_DIR);
		goto done;
	}
	for (int ph = 1; ph <= 6; ph++) {
		char path[64];
		int n = 0;

		snprintf(path, sizeof(path), "models/demo/sample%d.jpg", ph);
		if (tvs_img_read_file(path, NULL, &photo) || tvs_face_detect(ctx, &photo, faces, 16, &n)) {
			fprintf(stderr, "e2e: cannot read %s\n", path);
			goto done;
		}
		for (int i = 0; i < n && ncand < MAX_CAND; i++) {
			const double *bx = faces[i].box;
			double cx = bx[0] + bx[2] / 2, cy = bx[1] + bx[3] / 2, roll, yaw, w, h;
			int na = 0, nb = 0;

			if (faces[i].score < 0.85f || tvs_face_landmarks(ctx, &photo, &faces[i]))
				continue;
			/* level the eyes: a portrait is a frontal, upright photo */
			pose(&faces[i], &roll, &yaw);
			/* portrait: box x 1.6 (wider if the detector misses the face so
			 * tight), 4:5, face a little above the middle */
			for (double sc = 1.6; sc < 2.3 && na != 1; sc += 0.3) {
				tvs_image_free(&p);
				w = sc * (bx[2] > 0.8 * bx[3] ? bx[2] : 0.8 * bx[3]);
				h = w * 1.25;
				if (rotated_crop(&photo, cx, cy - 0.05 * bx[3], w, h, roll, 0, 300, 375, &p))
					break;
				na = analyze(ctx, &p, a, 4);
			}
			/* live capture: box x 2.1, 3:4, shifted, mirrored, less levelled */
			w = 2.1 * (bx[2] > 0.75 * bx[3] ? bx[2] : 0.75 * bx[3]);
			h = w * 4 / 3;
			if (!rotated_crop(&photo, cx + 0.08 * bx[2], cy, w, h, roll * 0.8, 1, 480, 640, &l))
				nb = analyze(ctx, &l, b, 4);
			if (na == 1)
				pose(&a[0], &roll, &yaw);
			if (getenv("E2E_DEBUG"))
				fprintf(stderr, "e2e: photo %d face %d: faces %d/%d, cosine %.3f, roll %.1f, yaw %.2f\n", ph,
					i, na, nb, na == 1 && nb == 1 ? cosine(a[0].descriptor, b[0].descriptor) : -1.0,
					na == 1 ? roll : 0, na == 1 ? yaw : 0);
			/* one near-frontal face in each that the library's own
			 * quality gate passes with room to spare, and two crops
			 * that score far above any threshold */
			if (na == 1 && nb == 1 && fabs(roll) < 6 && fabs(yaw) < 0.2 && gate(&q_portrait, &p, a, na) &&
			    gate(&q_live, &l, b, nb) && cosine(a[0].descriptor, b[0].descriptor) > 0.97 &&
			    !img_set(&cand[ncand].portrait, &p) && !img_set(&cand[ncand].live, &l)) {
				memcpy(cand[ncand].dp, a[0].descriptor, sizeof(cand[ncand].dp));
				memcpy(cand[ncand].dl, b[0].descriptor, sizeof(cand[ncand].dl));
				ncand++;
			}
			tvs_image_free(&p);
			tvs_image_free(&l);
		}
		/* two faces of like size, side by side */
		for (int i = 0; i < n && !imgs.multi.data; i++)
			for (int j = i + 1; j < n && !imgs.multi.data; j++) {
				const double *u = faces[i].box, *v = faces[j].box;
				double ratio = u[2] < v[2] ? u[2] / v[2] : v[2] / u[2];
				double m = 0.25 * (u[2] > v[2] ? u[2] : v[2]);
				double x0 = (u[0] < v[0] ? u[0] : v[0]) - m, y0 = (u[1] < v[1] ? u[1] : v[1]) - m;
				double x1 = (u[0] + u[2] > v[0] + v[2] ? u[0] + u[2] : v[0] + v[2]) + m;
				double y1 = (u[1] + u[3] > v[1] + v[3] ? u[1] + u[3] : v[1] + v[3]) + m;

				if (ratio < 0.9 || faces[i].score < 0.9f || faces[j].score < 0.9f)
					continue;
				if (tvs_img_crop_resize(&photo,
							fit_rect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, photo.width,
								 photo.height),
							0, 0, &tmp))
					continue;
				if (tmp.width <= 1400 && analyze(ctx, &tmp, a, 4) == 2 &&
				    !tvs_quality_assess(NULL, &tmp, a, 2, &q) && q.reason == TVS_Q_MULTIPLE_FACES)
					img_set(&imgs.multi, &tmp);
				tvs_image_free(&tmp);
			}
		/* a corner without anybody */
		for (int c = 0; c < 4 && !imgs.noface.data; c++) {
			int W = photo.width, H = photo.height, cw = 480, ch = 360;
			tvs_rect r = { c & 1 ? W - cw : 0, c & 2 ? H - ch : 0, cw, ch };

			if (tvs_img_crop_resize(&photo, r, 0, 0, &tmp))
				continue;
			if (analyze(ctx, &tmp, a, 4) == 0)
				img_set(&imgs.noface, &tmp);
			tvs_image_free(&tmp);
		}
		tvs_image_free(&photo);
	}
	select_people(cand, ncand);
	if (imgs.npeople < 5 || !imgs.multi.data || !imgs.noface.data) {
		fprintf(stderr, "e2e: the demo photos gave %d people, %s, %s\n", imgs.npeople,
			imgs.multi.data ? "a two-face crop" : "no two-face crop",
			imgs.noface.data ? "a face-free corner" : "no face-free corner");
		goto done;
	}
	/* flat grey */
	if (tvs_image_alloc(&tmp, 320, 240))
		goto done;
	memset(tmp.rgb, 128, (size_t)320 * 240 * 3);
	img_set(&imgs.grey, &tmp);
	tvs_image_free(&tmp);
	/* live[0] darkened by a gamma of 4 (face luma about 20 of 255), or the
	 * strongest gamma below that under which the face is still found and
	 * the library's default gate says TOO_DARK: gamma keeps more contrast
	 * than a gain, so the detector still sees the face */
	if (tvs_img_decode(imgs.live[0].data, imgs.live[0].len, NULL, &l))
		goto done;
	for (int g = 40; g >= 15 && !imgs.dark.data; g -= 5) {
		uint8_t lut[256];
		int nd, ok;

		for (int v = 0; v < 256; v++)
			lut[v] = (uint8_t)(255.0 * pow(v / 255.0, g / 10.0) + 0.5);
		if (tvs_image_alloc(&tmp, l.width, l.height))
			break;
		for (size_t i = 0; i < (size_t)l.width * l.height * 3; i++)
			tmp.rgb[i] = lut[l.rgb[i]];
		nd = analyze(ctx, &tmp, a, 4);
		ok = nd == 1 && a[0].score > 0.8f && !tvs_quality_assess(NULL, &tmp, a, 1, &q) &&
		     q.reason == TVS_Q_TOO_DARK;
		if (getenv("E2E_DEBUG"))
			fprintf(stderr, "e2e: dark gamma %.1f: %d faces, %s, face luma %.0f\n", g / 10.0, nd,
				nd == 1 ? tvs_quality_reason_name(q.reason) : "-", nd == 1 ? q.brightness : 0.0);
		if (ok)
			img_set(&imgs.dark, &tmp);
		tvs_image_free(&tmp);
	}
	tvs_image_free(&l);
	if (!imgs.dark.data || !imgs.grey.data) {
		fprintf(stderr, "e2e: could not make the dark or grey image\n");
		goto done;
	}
	rc = 0;
done:
	tvs_image_free(&photo);
	tvs_face_ctx_destroy(ctx);
	tvs_face_engine_destroy(eng);
	return rc;
}

const e2e_images *e2e_images_get(void)
{
	if (!imgs_state)
		imgs_state = build_images() ? -1 : 1;
	return imgs_state > 0 ? &imgs : NULL;
}

/* ------------------------------------------------------------ the standard world */

void e2e_doc_number(int i, char out[16])
{
	snprintf(out, 16, "E2E%05d", i);
}

const char *e2e_nationality[E2E_MAX_PEOPLE];

json_t *e2e_document(int i)
{
	char num[16], given[32], birth[16];

	e2e_doc_number(i, num);
	snprintf(given, sizeof(given), "PERSON %c", 'A' + i % 26);
	snprintf(birth, sizeof(birth), "19%02d-0%d-%02d", 50 + i % 40, 1 + i % 9, 1 + i % 28);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "P", "number", num, "issuing_state", "UTO",
			 "nationality", i >= 0 && i < E2E_MAX_PEOPLE && e2e_nationality[i] ? e2e_nationality[i] : "UTO",
			 "surname", "TRAVELER", "given_names", given, "birth_date", birth, "sex",
			 i % 2 ? "M" : "F", "expiry", "2032-04-15");
}

e2e_cred e2e_login(e2e_server *s, const char *username)
{
	json_t *r = e2e_call(s, "POST", "/v1/sessions", NULL,
			     json_pack("{s:s,s:s}", "username", username, "password", E2E_PASSWORD), 201);
	e2e_cred c = e2e_bearer(e2e_jstr(r, "token"));

	e2e_jstr(r, "role");
	e2e_jstr(r, "expires_at");
	json_decref(r);
	return c;
}

static json_int_t make_device(e2e_server *s, const e2e_cred *admin, const char *name, const char *role,
			      json_int_t loc, e2e_cred *key)
{
	json_t *b = loc ? json_pack("{s:s,s:s,s:I}", "name", name, "role", role, "location_id", loc)
			: json_pack("{s:s,s:s}", "name", name, "role", role);
	json_t *r = e2e_call(s, "POST", "/v1/devices", admin, b, 201);
	json_int_t id = e2e_jint(r, "id");

	*key = e2e_apikey(e2e_jstr(r, "api_key"));
	json_decref(r);
	return id;
}

void e2e_world_relogin(e2e_server *s, e2e_world *w)
{
	w->admin = e2e_login(s, "admin");
	w->officer = e2e_login(s, "officer1");
	w->supervisor = e2e_login(s, "super1");
	w->auditor = e2e_login(s, "auditor1");
}

void e2e_world_setup(e2e_server *s, e2e_world *w, int nenrolled)
{
	const e2e_images *im = e2e_images_get();
	static const char *const users[][2] = { { "officer1", "officer" },
						{ "super1", "supervisor" },
						{ "auditor1", "auditor" } };
	char t0[32], t1[32], t2[32], path[96];
	int64_t now = e2e_now();
	json_t *r, *trav;

	assert_non_null(im);
	assert_true(nenrolled >= 1 && nenrolled < im->npeople);
	memset(w, 0, sizeof(*w));
	w->nenrolled = nenrolled;
	w->unportrayed = 90;
	w->admin = e2e_login(s, "admin");
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		json_decref(e2e_call(s, "POST", "/v1/users", &w->admin,
				     json_pack("{s:s,s:s,s:s}", "username", users[i][0], "password", E2E_PASSWORD, "role",
					       users[i][1]),
				     201));
	e2e_world_relogin(s, w);

	r = e2e_call(s, "POST", "/v1/ports", &w->admin,
		     json_pack("{s:s,s:s,s:s,s:s}", "code", E2E_PORT_CODE, "name", "Demo International", "mode",
			       "air", "kind", "airport"),
		     201);
	w->port_id = e2e_jint(r, "id");
	json_decref(r);
	e2e_time_str(now - 86400, t0);
	json_decref(e2e_call(s, "POST", "/v1/notices", &w->admin,
			     json_pack("{s:s,s:s,s:s}", "version", "v1", "text",
				       "Your photo is compared with your passport photo. You may opt out.",
				       "effective_at", t0),
			     201));
	r = e2e_call(s, "POST", "/v1/locations", &w->admin,
		     json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", E2E_LOC_CODE, "name",
			       "Gate A1", "kind", "boarding_gate", "direction", "exit", "notice_version", "v1"),
		     201);
	w->loc_id = e2e_jint(r, "id");
	json_decref(r);
	r = e2e_call(s, "POST", "/v1/locations", &w->admin,
		     json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "port", E2E_PORT_CODE, "code", E2E_LOC_NOGAL_CODE,
			       "name", "Gate B2", "kind", "boarding_gate", "direction", "exit", "notice_version", "v1"),
		     201);
	w->loc_nogal_id = e2e_jint(r, "id");
	json_decref(r);
	w->device_id = make_device(s, &w->admin, "gate-a1-cam", "device", w->loc_id, &w->device);
	w->device_nogal_id = make_device(s, &w->admin, "gate-b2-cam", "device", w->loc_nogal_id, &w->device_nogal);
	w->repo_id = make_device(s, &w->admin, "passport-repository", "repository", 0, &w->repo);

	for (int i = 0; i < nenrolled; i++) {
		r = e2e_call(s, "POST", "/v1/portraits", &w->repo,
			     json_pack("{s:o,s:s,s:s}", "document", e2e_document(i), "source", "passport", "image",
				       im->portrait[i].b64),
			     201);
		w->portrait_id[i] = e2e_jint(r, "portrait_id");
		w->doc_id[i] = e2e_jint(r, "document_id");
		assert_true(json_is_object(json_object_get(r, "quality")));
		json_decref(r);
	}

	trav = json_array();
	for (int i = 0; i < nenrolled; i++)
		json_array_append_new(trav, json_pack("{s:o}", "document", e2e_document(i)));
	json_array_append_new(trav, json_pack("{s:o}", "document", e2e_document(w->unportrayed)));
	e2e_time_str(now + 3600, t0);
	e2e_time_str(now - 2 * 3600, t1);
	e2e_time_str(now + 3 * 3600, t2);
	r = e2e_call(s, "POST", "/v1/manifests", &w->repo,
		     json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:o}", "carrier", "DA", "number", "DA123",
			       "direction", "exit", "port", E2E_PORT_CODE, "scheduled_at", t0, "locations", E2E_LOC_CODE,
			       "window", "opens_at", t1, "closes_at", t2, "travelers", trav),
		     201);
	w->manifest_id = e2e_jint(r, "id");
	assert_int_equal(e2e_jint(r, "travelers"), nenrolled + 1);
	assert_int_equal(e2e_jint(r, "with_portraits"), nenrolled);
	assert_string_equal(e2e_jstr(json_object_get(r, "gallery"), "status"), "queued");
	json_decref(r);

	snprintf(path, sizeof(path), "/v1/manifests/%lld/gallery", (long long)w->manifest_id);
	r = e2e_call(s, "POST", path, &w->repo, NULL, 200);
	assert_int_equal(e2e_jint(r, "manifest_id"), w->manifest_id);
	assert_string_equal(e2e_jstr(r, "status"), "ready");
	assert_int_equal(e2e_jint(r, "size"), nenrolled);
	assert_int_equal(e2e_jint(r, "travelers"), nenrolled + 1);
	assert_int_equal(e2e_jint(r, "missing"), 1);
	e2e_jstr(r, "built_at");
	json_decref(r);
}

json_t *e2e_capture(e2e_server *s, const e2e_cred *c, const e2e_img *img, int doc, const char *request_id)
{
	char at[32], num[16];
	json_t *b, *r, *x;

	e2e_time_str(e2e_now(), at);
	b = json_pack("{s:s,s:s}", "image", img->b64, "captured_at", at);
	if (doc >= 0) {
		e2e_doc_number(doc, num);
		json_object_set_new(b, "document", json_pack("{s:s,s:s}", "number", num, "issuing_state", "UTO"));
	}
	if (request_id)
		json_object_set_new(b, "request_id", json_string(request_id));
	r = e2e_call(s, "POST", "/v1/captures", c, b, 200);
	/* exactly these four keys: the reply carries no name, score, number or image */
	if (json_object_size(r) != 4 || !json_is_string(json_object_get(r, "decision")) ||
	    !json_is_string(json_object_get(r, "token")) || !json_string_length(json_object_get(r, "token")) ||
	    !(json_is_string(json_object_get(r, "reason")) || json_is_null(json_object_get(r, "reason"))) ||
	    !json_is_number(json_object_get(r, "latency_ms"))) {
		char *d = json_dumps(r, JSON_COMPACT);

		fail_msg("capture reply is not exactly {decision, token, reason, latency_ms}: %s", d);
	}
	x = json_object_get(r, "latency_ms");
	assert_true(json_number_value(x) >= 0);
	return r;
}

json_t *e2e_encounters(e2e_server *s, const e2e_cred *c, const char *status)
{
	json_t *all = json_array();
	long long before = 0;
	char path[160];

	for (int page = 0; page < 10000; page++) {
		json_t *r, *list, *e;
		size_t i;

		if (before)
			snprintf(path, sizeof(path), "/v1/encounters?status=%s&limit=50&before_id=%lld", status, before);
		else
			snprintf(path, sizeof(path), "/v1/encounters?status=%s&limit=50", status);
		r = e2e_call(s, "GET", path, c, NULL, 200);
		list = e2e_jarr(r, "encounters");
		json_array_foreach(list, i, e)
		{
			long long id = e2e_jint(e, "id");

			if (before && id >= before)
				fail_msg("GET %s: id %lld is not below before_id (newest first)", path, id);
			before = id;
			json_array_append(all, e);
		}
		i = json_array_size(list);
		json_decref(r);
		if (i < 50)
			break;
	}
	return all;
}

json_t *e2e_gallery_wait(e2e_server *s, const e2e_cred *c, json_int_t manifest_id, json_int_t size)
{
	char path[96];
	json_t *g = NULL;

	snprintf(path, sizeof(path), "/v1/manifests/%lld", (long long)manifest_id);
	for (int k = 0; k < 6000; k++) {
		json_t *r = e2e_call(s, "GET", path, c, NULL, 200);

		json_decref(g);
		g = json_incref(json_object_get(r, "gallery"));
		json_decref(r);
		if (!strcmp(e2e_jstr(g, "status"), "ready") && e2e_jint(g, "size") == size &&
		    !json_object_get(g, "queued_at"))
			return g;
		usleep(10 * 1000);
	}
	{
		char *txt = json_dumps(g, JSON_COMPACT);

		fail_msg("manifest %lld: the gallery never became ready with %lld templates: %s", (long long)manifest_id,
			 (long long)size, txt);
	}
	return NULL;
}

e2e_server e2e_srv;
const e2e_images *e2e_im;

int e2e_group_setup(void **state)
{
	(void)state;
	if (e2e_missing())
		return 0;
	e2e_im = e2e_images_get();
	if (!e2e_im || e2e_server_init(&e2e_srv) || e2e_server_start(&e2e_srv, NULL))
		return -1;
	return 0;
}

int e2e_group_teardown(void **state)
{
	(void)state;
	e2e_server_cleanup(&e2e_srv);
	return 0;
}

/* ------------------------------------------------------------ event stream */

/* Parse the complete events in st->buf; 1 when the wanted one is found. */
static int sse_scan(e2e_sse *st)
{
	char *p = st->buf, *end;

	while ((end = strstr(p, "\n\n"))) {
		char id[64] = "", ev[32] = "message", data[4096] = "";

		*end = '\0';
		for (char *line = p, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			if (!strncmp(line, "id:", 3))
				snprintf(id, sizeof(id), "%s", line + 3 + (line[3] == ' '));
			else if (!strncmp(line, "event:", 6))
				snprintf(ev, sizeof(ev), "%s", line + 6 + (line[6] == ' '));
			else if (!strncmp(line, "data:", 5))
				snprintf(data + strlen(data), sizeof(data) - strlen(data), "%s", line + 5 + (line[5] == ' '));
		}
		p = end + 2;
		if (st->on_event && data[0])
			st->on_event(st, ev, data);
		if (st->want && !strcmp(ev, st->want) && data[0]) {
			snprintf(st->id, sizeof(st->id), "%s", id);
			snprintf(st->data, sizeof(st->data), "%s", data);
			return 1;
		}
	}
	memmove(st->buf, p, strlen(p) + 1);
	st->n = strlen(st->buf);
	return 0;
}

static size_t sse_body(char *data, size_t size, size_t nmemb, void *arg)
{
	e2e_sse *st = arg;
	size_t n = size * nmemb;

	st->open = 1;
	if (st->n + n >= sizeof(st->buf))
		return 0;
	memcpy(st->buf + st->n, data, n);
	st->n += n;
	st->buf[st->n] = '\0';
	if (sse_scan(st)) {
		st->done = 1;
		return 0; /* enough: cut the stream */
	}
	return n;
}

static int sse_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return ((e2e_sse *)arg)->quit; /* nonzero: cut the stream */
}

void *e2e_sse_thread(void *arg)
{
	e2e_sse *st = arg;
	struct curl_slist *hl = NULL;
	char url[256], last[96];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/events", st->s->port);
	hl = curl_slist_append(hl, st->cred->header);
	hl = curl_slist_append(hl, "Accept: text/event-stream");
	if (st->last_id[0]) {
		snprintf(last, sizeof(last), "Last-Event-ID: %s", st->last_id);
		hl = curl_slist_append(hl, last);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, st->timeout_s ? st->timeout_s : 120L); /* a hang guard */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sse_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, st);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st->status);
	st->open = 1;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return NULL;
}

void e2e_sse_start(e2e_sse *st, e2e_server *s, const e2e_cred *cred, const char *want, pthread_t *th)
{
	st->s = s;
	st->cred = cred;
	st->want = want;
	assert_int_equal(pthread_create(th, NULL, e2e_sse_thread, st), 0);
	for (int i = 0; i < 60 * 100 && !st->open; i++)
		usleep(10 * 1000);
}

int e2e_count_token(json_t *list, const char *token)
{
	json_t *e;
	size_t i;
	int n = 0;

	json_array_foreach(list, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "token"));

		n += t && !strcmp(t, token);
	}
	return n;
}
