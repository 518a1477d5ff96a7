/*
 * HTTP layer: libmicrohttpd (thread per connection) with a route table, a
 * bounded worker pool, security headers and one JSON log line per request.
 *
 * Life of a request. MHD calls uri_log() with the raw request target before
 * it parses the headers; that is where the per-request record (struct rq) is
 * born, because it is the only place the raw query string is still available
 * (MHD hands the access handler a decoded path and decoded arguments). The
 * first on_access() call (headers read, body not yet) matches the route and
 * checks Content-Length, so unknown paths and oversized bodies are refused
 * before a byte of body is read. Body pieces are then appended to a buffer
 * bounded by the route's limit; a chunked body that outgrows it is dropped on
 * the floor (up to DISCARD_MAX more bytes, then the connection is cut) and
 * answered 413, since MHD cannot queue a reply in the middle of an upload.
 * The final call runs the handler: inline, or on the pool, in which case the
 * connection thread enqueues the request and sleeps on its own condition
 * variable until a worker has filled the response. Thread per connection
 * makes that wait free of any state machine. on_completed() writes the log
 * line and frees the record.
 *
 * A streamed response (SSE) gets its own record (struct stream) owned by the
 * MHD response; the log line for it is written when MHD frees it, i.e. when
 * the stream ended, so bytes and duration cover the whole stream. The stream
 * ends when the app's fn returns -1, when the peer hung up (polled before
 * every call, since an idle stream never writes and so never sees the error)
 * or when the server is stopping.
 *
 * TLS. With a certificate and key configured, MHD runs GnuTLS on every
 * connection (MHD_USE_TLS) and the layer itself barely notices: only the
 * Strict-Transport-Security header is added. The PEM files are read here, not
 * by MHD, so that a key readable by group or others is refused before it is
 * used (as ssh does) and a missing or garbled file gets a message that names
 * it; whatever GnuTLS still rejects (a key that does not match the
 * certificate) is reported with the message MHD logs while it starts. The
 * key's bytes are read with read(2), not stdio, so no copy lingers in a FILE
 * buffer; MHD is handed a pointer and the API does not promise a copy, so the
 * buffer lives until tvs_http_stop() and is wiped there.
 *
 * Shared state: the pool queue (mu), the log file and the start-up message
 * (log_mu) and the stopping flag. Everything else belongs to one connection
 * thread at a time.
 */
#include "tvs/error.h"
#include "tvs/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATH 1024        /* longer decoded paths: 414 */
#define MAX_QUERY 8192       /* longer raw query strings: 414 */
#define MAX_SEGMENTS 32      /* more path segments: 400 */
#define DISCARD_MAX (1 << 20) /* bytes of an oversized chunked body read before cutting */
#define STREAM_BLOCK 4096
#define BODY_HINT_MAX (64u << 10) /* first body allocation at most, whatever Content-Length says */
#define TLS_CERT_MAX (1u << 20)   /* PEM certificate chain file, bytes */
#define TLS_KEY_MAX (64u << 10)   /* PEM private key file, bytes */
/* GnuTLS priorities: its defaults, less everything older than TLS 1.2 */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HSTS "max-age=31536000"

/* What the log line says about one request. */
struct logrec {
	char id[65];
	char remote[INET6_ADDRSTRLEN];
	char method[16]; /* "": no line (request never reached the router) */
	char *path;      /* malloc'd, truncated to MAX_PATH */
	int status;      /* 0: no response was sent */
	uint64_t bytes;
	struct timespec t0; /* CLOCK_MONOTONIC at the request line */
	char actor[64];
	char error[48];
};

struct rq {
	tvs_http_server_t *s;
	int begun;
	char *query; /* raw, malloc'd; NULL if longer than MAX_QUERY */
	char ctype[128];
	char pathbuf[MAX_PATH + 1]; /* path split into segments; params point here */
	const tvs_http_route *route;
	uint8_t *body;
	size_t len, cap, limit, discarded;
	int too_big;
	struct logrec log;
	tvs_http_req req;
	tvs_http_resp resp;
	/* pool hand-off, under s->mu */
	pthread_cond_t done_cv;
	int done;
};

struct stream {
	tvs_http_server_t *s;
	int fd;
	tvs_http_stream_fn fn;
	void *arg;
	void (*free_fn)(void *arg);
	struct logrec log;
};

struct worker {
	tvs_http_server_t *s;
	int id;
};

struct tvs_http_server {
	struct MHD_Daemon *d;
	const tvs_http_route *routes;
	size_t nroutes;
	void *app;
	tvs_http_config cfg;
	int port;
	atomic_int stopping;
	pthread_mutex_t log_mu;
	/* pool */
	pthread_mutex_t mu;
	pthread_cond_t has_job, ready_cv;
	struct rq **queue;
	int qhead, qcount;
	int stop, nready, init_failed, init_rc;
	char init_msg[256];
	pthread_t *threads;
	struct worker *workers;
	int nthreads;
	atomic_ullong by_class[6]; /* completed requests: [0] no response, [1..5] 1xx..5xx */
	/* TLS: PEM text handed to MHD, NUL-terminated; NULL without TLS */
	char *tls_cert_pem;
	char *tls_key_pem;     /* wiped and freed by server_free */
	size_t tls_key_len;
	/* MHD's first log message while it starts (under log_mu) */
	atomic_int capture_log;
	char mhd_msg[256];
};

static const char *const security_headers[][2] = {
	{"X-Content-Type-Options", "nosniff"},
	{"Cache-Control", "no-store"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'self'"},
};

/* ---- small helpers ---- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A JSON string of s; invalid UTF-8 bytes become '?' rather than failing. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *c;

	if (!s)
		s = "";
	j = json_string(s);
	if (j || !(c = strdup(s)))
		return j;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

/* Serialise o compactly into a malloc'd buffer with room for one more byte;
 * *n gets the length. NULL if out of memory. */
static char *dump(json_t *o, size_t *n)
{
	size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(6);
	size_t len = json_dumpb(o, NULL, 0, flags);
	char *buf;

	if (!len || !(buf = malloc(len + 1)))
		return NULL;
	*n = json_dumpb(o, buf, len, flags);
	return buf;
}

static int sane_request_id(const char *v)
{
	size_t n = 0;

	if (!v)
		return 0;
	for (; v[n]; n++)
		if (n >= 64 || !(isalnum((unsigned char)v[n]) || v[n] == '.' || v[n] == '_' || v[n] == '-'))
			return 0;
	return n > 0;
}

static void new_request_id(char out[17])
{
	static atomic_uint_fast64_t counter;
	uint64_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x)) {
		struct timespec t;

		/* no entropy yet (early boot): unique, not secret */
		clock_gettime(CLOCK_REALTIME, &t);
		x = (uint64_t)t.tv_sec * 1000000007u + (uint64_t)t.tv_nsec + atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull;
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 27;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)x);
}

/* Percent-decode src[0..n) ('+' is a space) into dst[cap]; -1 if it does not
 * fit or decodes to a NUL byte. */
static int url_decode(const char *src, size_t n, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)src[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && isxdigit((unsigned char)src[i + 1]) &&
			   isxdigit((unsigned char)src[i + 2])) {
			char hex[3] = {src[i + 1], src[i + 2], 0};

			c = (int)strtol(hex, NULL, 16);
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	if (cap == 0)
		return -1;
	dst[o] = '\0';
	return 0;
}

const char *tvs_http_query_param(const tvs_http_req *req, const char *name, char *buf, size_t cap)
{
	const char *p = req->query ? req->query : "";
	char key[128];

	while (*p) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t klen = eq ? (size_t)(eq - p) : n;

		if (url_decode(p, klen, key, sizeof(key)) == 0 && strcmp(key, name) == 0) {
			if (!eq)
				return cap ? (buf[0] = '\0', buf) : NULL;
			return url_decode(eq + 1, n - klen - 1, buf, cap) == 0 ? buf : NULL;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

/* ---- reply helpers ---- */

void tvs_http_reply_text(tvs_http_resp *resp, int status, const char *content_type, const char *text, size_t len)
{
	free(resp->body);
	resp->body = malloc(len + 1);
	resp->body_len = 0;
	resp->status = status;
	resp->content_type = content_type ? content_type : "application/json";
	if (!resp->body) {
		resp->status = 500;
		snprintf(resp->error_code, sizeof(resp->error_code), "out_of_memory");
		return;
	}
	if (len)
		memcpy(resp->body, text, len);
	resp->body[len] = '\0';
	resp->body_len = len;
}

void tvs_http_reply_error(tvs_http_resp *resp, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	json_t *o, *e;
	char *text = NULL;
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(resp->error_code, sizeof(resp->error_code), "%s", code);
	o = json_object();
	e = json_object();
	if (o && e && json_object_set_new(e, "code", jstr(code)) == 0 && json_object_set_new(e, "message", jstr(msg)) == 0 &&
	    json_object_set(o, "error", e) == 0)
		text = dump(o, &n);
	json_decref(e);
	json_decref(o);
	if (text) {
		tvs_http_reply_text(resp, status, NULL, text, n);
		free(text);
	} else {
		static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}";

		tvs_http_reply_text(resp, 500, NULL, oom, sizeof(oom) - 1);
	}
}

int tvs_http_add_header(tvs_http_resp *resp, const char *name, const char *value)
{
	size_t used = 0, len = strlen(value);

	if (resp->nheaders >= TVS_HTTP_MAX_HEADERS || !*name)
		return -1;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return -1;
	for (const char *p = value; *p; p++) /* no header injection */
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return -1;
	for (int i = 0; i < resp->nheaders; i++) {
		size_t end = (size_t)(resp->headers[i][1] - resp->header_buf) + strlen(resp->headers[i][1]) + 1;
		if (end > used)
			used = end;
	}
	if (used + len + 1 > sizeof(resp->header_buf))
		return -1;
	memcpy(resp->header_buf + used, value, len + 1);
	resp->headers[resp->nheaders][0] = name;
	resp->headers[resp->nheaders][1] = resp->header_buf + used;
	resp->nheaders++;
	return 0;
}

/* ---- log ---- */

static void log_write(tvs_http_server_t *s, const struct logrec *l)
{
	struct timespec now;
	struct tm tm;
	char ts[40];
	const char *level;
	json_t *o;
	char *line = NULL;
	size_t n = 0;

	if (!s->cfg.log || !l->method[0])
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03dZ", (int)(now.tv_nsec / 1000000));
	o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "ts", json_string(ts));
	level = l->status >= 500 ? "error" : l->status >= 400 || !l->status ? "warn" : "info";
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "req", jstr(l->id));
	json_object_set_new(o, "remote", jstr(l->remote));
	json_object_set_new(o, "method", jstr(l->method));
	json_object_set_new(o, "path", jstr(l->path));
	json_object_set_new(o, "status", json_integer(l->status));
	json_object_set_new(o, "bytes", json_integer((json_int_t)l->bytes));
	json_object_set_new(o, "ms", json_real(ms_since(&l->t0)));
	if (l->actor[0])
		json_object_set_new(o, "actor", jstr(l->actor));
	if (l->error[0])
		json_object_set_new(o, "error", jstr(l->error));
	line = dump(o, &n);
	json_decref(o);
	if (!line)
		return;
	line[n++] = '\n';
	pthread_mutex_lock(&s->log_mu);
	fwrite(line, 1, n, s->cfg.log);
	fflush(s->cfg.log);
	pthread_mutex_unlock(&s->log_mu);
	free(line);
}

/* ---- streams ---- */

static int peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n;

	(void)pos;
	if (atomic_load(&st->s->stopping) || (st->fd >= 0 && peer_gone(st->fd)))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = st->fn(st->arg, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if ((size_t)n > max)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	st->log.bytes += (uint64_t)n;
	return n;
}

static void stream_done(void *cls)
{
	struct stream *st = cls;

	if (st->free_fn)
		st->free_fn(st->arg);
	log_write(st->s, &st->log);
	free(st->log.path);
	free(st);
}

/* ---- sending ---- */

static int header_set(const tvs_http_resp *resp, const char *name)
{
	for (int i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i][0], name) == 0)
			return 1;
	return 0;
}

/* Queue rq->resp on c. Takes over body and stream; MHD_NO if the connection
 * must be dropped. */
static enum MHD_Result send_resp(struct rq *rq, struct MHD_Connection *c)
{
	tvs_http_resp *resp = &rq->resp;
	struct MHD_Response *r;
	struct stream *st = NULL;
	enum MHD_Result ok = MHD_NO;
	int status = resp->status;

	if (status < 100 || status > 599) {
		if (resp->stream && resp->stream_free)
			resp->stream_free(resp->stream_arg);
		resp->stream = NULL;
		tvs_http_reply_error(resp, 500, "internal", "handler gave no status");
		status = resp->status;
	}
	if (resp->stream) {
		free(resp->body);
		resp->body = NULL;
		st = calloc(1, sizeof(*st));
		if (!st) {
			if (resp->stream_free)
				resp->stream_free(resp->stream_arg);
			return MHD_NO;
		}
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		st->s = rq->s;
		st->fd = ci ? ci->connect_fd : -1;
		st->fn = resp->stream;
		st->arg = resp->stream_arg;
		st->free_fn = resp->stream_free;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st, stream_done);
		if (!r) {
			if (st->free_fn)
				st->free_fn(st->arg);
			free(st);
			return MHD_NO;
		}
	} else if (resp->body) {
		r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
		if (!r)
			return MHD_NO; /* body freed with rq */
		resp->body = NULL;
		rq->log.bytes = resp->body_len;
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
	}

	if (!header_set(resp, "Content-Type"))
		MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "application/json");
	for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
		if (!header_set(resp, security_headers[i][0]))
			MHD_add_response_header(r, security_headers[i][0], security_headers[i][1]);
	if (rq->s->tls_key_pem && !header_set(resp, "Strict-Transport-Security"))
		MHD_add_response_header(r, "Strict-Transport-Security", HSTS);
	MHD_add_response_header(r, "X-Request-Id", rq->log.id);
	for (int i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);

	rq->log.status = status;
	snprintf(rq->log.actor, sizeof(rq->log.actor), "%s", resp->actor);
	snprintf(rq->log.error, sizeof(rq->log.error), "%s", resp->error_code);
	if (st) { /* the stream logs itself when it ends */
		st->log = rq->log;
		rq->log.path = NULL;
		rq->log.method[0] = '\0';
	}
	ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r); /* a stream not queued ends here, via stream_done */
	return ok;
}

static enum MHD_Result reply_error_now(struct rq *rq, struct MHD_Connection *c, int status, const char *code,
				       const char *msg)
{
	tvs_http_reply_error(&rq->resp, status, code, "%s", msg);
	return send_resp(rq, c);
}

/* ---- routing ---- */

/* Does pattern match the path segments seg[0..nseg)? Fills params. */
static int route_match(const char *pat, char **seg, int nseg, const char **params, int *nparams)
{
	const char *p = pat + 1;
	int i = 0;

	*nparams = 0;
	if (!*p)
		return nseg == 0;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (i >= nseg)
			return 0;
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (!seg[i][0])
				return 0;
			params[(*nparams)++] = seg[i];
		} else if (strlen(seg[i]) != len || memcmp(seg[i], p, len) != 0) {
			return 0;
		}
		i++;
		if (!e)
			break;
		p = e + 1;
	}
	return i == nseg;
}

static int count_params(const char *pat)
{
	int n = 0;

	for (const char *p = strchr(pat, '{'); p; p = strchr(p + 1, '{'))
		n++;
	return n;
}

/* ---- the pool ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	tvs_http_server_t *s = w->s;
	int rc = s->cfg.worker_init ? s->cfg.worker_init(s->app, w->id) : 0;

	pthread_mutex_lock(&s->mu);
	if (rc && !s->init_failed) {
		s->init_failed = 1;
		s->init_rc = rc < 0 ? rc : TVS_EINVAL;
		snprintf(s->init_msg, sizeof(s->init_msg), "worker %d: %s", w->id,
			 tvs_errmsg()[0] ? tvs_errmsg() : tvs_strerror(s->init_rc));
	}
	s->nready++;
	pthread_cond_broadcast(&s->ready_cv);
	if (rc) {
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	for (;;) {
		struct rq *rq;

		while (!s->stop && s->qcount == 0)
			pthread_cond_wait(&s->has_job, &s->mu);
		if (s->qcount == 0)
			break; /* stopping and drained */
		rq = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->cfg.queue_max;
		s->qcount--;
		pthread_mutex_unlock(&s->mu);

		rq->req.worker = w->id;
		rq->route->fn(s->app, &rq->req, &rq->resp);

		pthread_mutex_lock(&s->mu);
		rq->done = 1;
		pthread_cond_signal(&rq->done_cv);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->cfg.worker_fini)
		s->cfg.worker_fini(s->app, w->id);
	return NULL;
}

/* Run rq on the pool and wait for it; TVS_EBUSY if the queue is full. */
static int pool_run(tvs_http_server_t *s, struct rq *rq)
{
	pthread_mutex_lock(&s->mu);
	if (s->qcount >= s->cfg.queue_max || s->stop) {
		pthread_mutex_unlock(&s->mu);
		return TVS_EBUSY;
	}
	s->queue[(s->qhead + s->qcount) % s->cfg.queue_max] = rq;
	s->qcount++;
	pthread_cond_signal(&s->has_job);
	while (!rq->done)
		pthread_cond_wait(&rq->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Tell the workers to finish the queue and exit, and join them. */
static void pool_stop(tvs_http_server_t *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->has_job);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
}

/* ---- MHD callbacks ---- */

/* MHD's error log: dropped, except the first message while the daemon
 * starts, which says why a start failed (GnuTLS's reason, for one). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	tvs_http_server_t *s = cls;
	size_t n;

	if (!atomic_load(&s->capture_log))
		return;
	pthread_mutex_lock(&s->log_mu);
	if (!s->mhd_msg[0]) {
		vsnprintf(s->mhd_msg, sizeof(s->mhd_msg), fmt, ap);
		for (n = strlen(s->mhd_msg); n > 0 && isspace((unsigned char)s->mhd_msg[n - 1]); n--)
			s->mhd_msg[n - 1] = '\0';
	}
	pthread_mutex_unlock(&s->log_mu);
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct rq *rq = calloc(1, sizeof(*rq));
	const union MHD_ConnectionInfo *ci;
	const char *q;

	if (!rq)
		return NULL;
	rq->s = cls;
	clock_gettime(CLOCK_MONOTONIC, &rq->log.t0);
	q = strchr(uri, '?');
	q = q ? q + 1 : "";
	rq->query = strlen(q) <= MAX_QUERY ? strdup(q) : NULL;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, rq->log.remote,
			  sizeof(rq->log.remote));
	else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, rq->log.remote,
			  sizeof(rq->log.remote));
	pthread_cond_init(&rq->done_cv, NULL);
	return rq;
}

static void rq_free(struct rq *rq)
{
	if (!rq)
		return;
	free(rq->query);
	free(rq->body);
	free(rq->resp.body);
	free(rq->log.path);
	pthread_cond_destroy(&rq->done_cv);
	free(rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct rq *rq = *con_cls;

	(void)cls;
	(void)c;
	if (!rq)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !rq->log.error[0])
		snprintf(rq->log.error, sizeof(rq->log.error), "connection_closed");
	if (rq->log.method[0]) {
		int k = rq->log.status / 100;

		atomic_fetch_add(&rq->s->by_class[k >= 1 && k <= 5 ? k : 0], 1);
	}
	log_write(rq->s, &rq->log);
	rq_free(rq);
	*con_cls = NULL;
}

void tvs_http_count_requests(const tvs_http_server_t *s, unsigned long long out[6])
{
	for (int i = 0; i < 6; i++)
		out[i] = s ? atomic_load(&((tvs_http_server_t *)s)->by_class[i]) : 0;
}

/* First call: headers are in, the body is not. Route and size checks. */
static enum MHD_Result begin(tvs_http_server_t *s, struct rq *rq, struct MHD_Connection *c, const char *url,
			     const char *method)
{
	const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	char *seg[MAX_SEGMENTS];
	const char *allow[16];
	size_t plen = strlen(url);
	int nseg = 0, nallow = 0, j;

	if (sane_request_id(rid))
		snprintf(rq->log.id, sizeof(rq->log.id), "%s", rid);
	else
		new_request_id(rq->log.id);
	snprintf(rq->log.method, sizeof(rq->log.method), "%s", method);
	rq->log.path = strndup(url, MAX_PATH);
	if (!rq->log.path)
		return MHD_NO;

	if (plen > MAX_PATH || !rq->query)
		return reply_error_now(rq, c, 414, "uri_too_long", "request target too long");
	if (url[0] != '/')
		return reply_error_now(rq, c, 400, "bad_path", "path must start with '/'");
	memcpy(rq->pathbuf, url, plen + 1);
	for (char *p = rq->pathbuf + 1; *p || nseg > 0;) { /* "/" has no segments */
		char *e = strchr(p, '/');

		if (nseg == MAX_SEGMENTS)
			return reply_error_now(rq, c, 400, "bad_path", "too many path segments");
		seg[nseg++] = p;
		if (!e)
			break;
		*e = '\0';
		p = e + 1;
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		const tvs_http_route *r = &s->routes[i];

		if (!route_match(r->pattern, seg, nseg, rq->req.params, &rq->req.nparams))
			continue;
		if (strcmp(r->method, method) == 0) {
			rq->route = r;
			break;
		}
		for (j = 0; j < nallow && strcmp(allow[j], r->method) != 0; j++)
			;
		if (j == nallow && nallow < 16)
			allow[nallow++] = r->method;
	}
	if (!rq->route && nallow) {
		char list[160] = "";

		for (j = 0; j < nallow && strlen(list) + strlen(allow[j]) + 3 < sizeof(list); j++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? ", " : "", allow[j]);
		tvs_http_add_header(&rq->resp, "Allow", list);
		return reply_error_now(rq, c, 405, "method_not_allowed", "method not allowed on this path");
	}
	if (!rq->route)
		return reply_error_now(rq, c, 404, "not_found", "no such resource");

	rq->limit = rq->route->max_body ? rq->route->max_body : s->cfg.max_body;
	if (cl) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno || end == cl || v > rq->limit)
			return reply_error_now(rq, c, 413, "too_large", "request body too large");
		rq->cap = v < BODY_HINT_MAX ? (size_t)v + 1 : BODY_HINT_MAX; /* a claim is not a body */
	}
	return MHD_YES;
}

/* A piece of body. */
static enum MHD_Result append(struct rq *rq, const char *data, size_t n)
{
	if (!rq->too_big && n > rq->limit - rq->len) {
		rq->too_big = 1;
		free(rq->body);
		rq->body = NULL;
	}
	if (rq->too_big) {
		rq->discarded += n;
		if (rq->discarded > DISCARD_MAX) {
			snprintf(rq->log.error, sizeof(rq->log.error), "too_large");
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (!rq->body || rq->len + n + 1 > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 4096; /* from Content-Length when known */
		uint8_t *b;

		while (cap < rq->len + n + 1)
			cap *= 2;
		if (cap > rq->limit + 1)
			cap = rq->limit + 1;
		b = realloc(rq->body, cap);
		if (!b)
			return MHD_NO;
		rq->body = b;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	return MHD_YES;
}

static void fill_req(struct rq *rq, struct MHD_Connection *c, const char *method)
{
	tvs_http_req *req = &rq->req;
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	size_t i = 0;

	if (ct) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		for (; ct[i] && ct[i] != ';' && i + 1 < sizeof(rq->ctype); i++)
			rq->ctype[i] = (char)tolower((unsigned char)ct[i]);
		while (i > 0 && (rq->ctype[i - 1] == ' ' || rq->ctype[i - 1] == '\t'))
			i--;
	}
	rq->ctype[i] = '\0';
	req->method = method;
	req->path = rq->log.path;
	req->query = rq->query;
	req->content_type = rq->ctype;
	req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	req->api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Api-Key");
	req->last_event_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	req->idempotency_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	req->server = rq->s;
	req->remote = rq->log.remote;
	req->request_id = rq->log.id;
	req->body = rq->body ? rq->body : (const uint8_t *)"";
	req->body_len = rq->len;
	if (rq->body)
		rq->body[rq->len] = '\0';
	req->worker = -1;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				 const char *version, const char *data, size_t *size, void **con_cls)
{
	tvs_http_server_t *s = cls;
	struct rq *rq = *con_cls;

	(void)version;
	if (!rq)
		return MHD_NO; /* out of memory in uri_log */
	if (!rq->begun) {
		rq->begun = 1;
		return begin(s, rq, c, url, method);
	}
	if (*size) {
		size_t n = *size;

		*size = 0;
		return append(rq, data, n);
	}
	if (rq->too_big)
		return reply_error_now(rq, c, 413, "too_large", "request body too large");
	fill_req(rq, c, method);
	if (!rq->route->on_worker) {
		rq->route->fn(s->app, &rq->req, &rq->resp);
	} else if (pool_run(s, rq) != 0) {
		tvs_http_add_header(&rq->resp, "Retry-After", "1");
		return reply_error_now(rq, c, 503, "overloaded", "server busy, retry later");
	}
	return send_resp(rq, c);
}

/* ---- start / stop ---- */

void tvs_http_default_config(tvs_http_config *c)
{
	memset(c, 0, sizeof(*c));
	c->bind = "127.0.0.1";
	c->port = 8080;
	c->max_body = 12u << 20;
	c->workers = 2;
	c->queue_max = 64;
	c->max_conns = 256;
	c->timeout_s = 30;
}

static int check_config(const tvs_http_config *c, const tvs_http_route *routes, size_t n)
{
	if (c->port < 0 || c->port > 65535)
		return tvs__err(TVS_EINVAL, "http: port %d", c->port);
	if (c->workers < 1 || c->workers > 1024 || c->queue_max < 1 || c->queue_max > 1 << 20)
		return tvs__err(TVS_EINVAL, "http: %d workers, queue of %d", c->workers, c->queue_max);
	if (c->max_conns < 1 || c->timeout_s < 0 || c->max_body < 1 || c->max_body > SIZE_MAX / 2)
		return tvs__err(TVS_EINVAL, "http: bad connection or body limits");
	if (!c->tls_cert != !c->tls_key)
		return tvs__err(TVS_EINVAL, "http: TLS needs both a certificate and a key (got only the %s)",
				c->tls_cert ? "certificate" : "key");
	if (c->tls_cert && (!*c->tls_cert || !*c->tls_key))
		return tvs__err(TVS_EINVAL, "http: empty TLS certificate or key path");
	for (size_t i = 0; i < n; i++) {
		const tvs_http_route *r = &routes[i];

		if (!r->method || !r->pattern || r->pattern[0] != '/' || !r->fn ||
		    count_params(r->pattern) > TVS_HTTP_MAX_PARAMS)
			return tvs__err(TVS_EINVAL, "http: route %zu (%s %s) is malformed", i, r->method ? r->method : "?",
					r->pattern ? r->pattern : "?");
	}
	return 0;
}

/* Read the PEM file path (what: "certificate" or "key") into a malloc'd,
 * NUL-terminated *out of *len bytes. A key (secret) must have no group or
 * other permission bits, is read with read(2) only, and is wiped before it is
 * freed on any failure. */
static int read_pem(const char *what, const char *path, int secret, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		return tvs__err(e == ENOENT ? TVS_ENOTFOUND : e == EACCES ? TVS_EDENIED : TVS_EIO, "http: TLS %s %s: %s",
				what, path, strerror(e));
	}
	if (fstat(fd, &st) != 0) {
		rc = tvs__err(TVS_EIO, "http: TLS %s %s: %s", what, path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = tvs__err(TVS_EINVAL, "http: TLS %s %s is not a regular file", what, path);
		goto done;
	}
	/* the mode of the file opened, not of a name that may since point elsewhere */
	if (secret && (st.st_mode & 077)) {
		rc = tvs__err(TVS_EDENIED,
			      "http: TLS key %s: permissions %04o are too open; a private key must not be accessible "
			      "by group or others (chmod 600 it)",
			      path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > max) {
		rc = tvs__err(st.st_size <= 0 ? TVS_EFORMAT : TVS_ETOOBIG, "http: TLS %s %s is %s", what, path,
			      st.st_size <= 0 ? "empty" : "too large for a PEM file");
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto done;
	}
	while (n < (size_t)st.st_size) { /* a file that grew meanwhile is cut at its old size */
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = tvs__err(TVS_EIO, "http: TLS %s %s: %s", what, path, strerror(errno));
			goto done;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	/* MHD takes C strings; the rest is GnuTLS's to judge, but the usual
	 * mistakes (the wrong file, an encrypted key) get a plain answer here */
	if (strlen(buf) != n)
		rc = tvs__err(TVS_EFORMAT, "http: TLS %s %s has a NUL byte: not a PEM file", what, path);
	else if (!secret && !strstr(buf, "-----BEGIN CERTIFICATE-----"))
		rc = tvs__err(TVS_EFORMAT, "http: TLS certificate %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
			      path);
	else if (secret && (!strstr(buf, "-----BEGIN ") || !strstr(buf, "PRIVATE KEY-----")))
		rc = tvs__err(TVS_EFORMAT, "http: TLS key %s holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)",
			      path);
	else if (secret && strstr(buf, "ENCRYPTED"))
		rc = tvs__err(TVS_EUNSUPPORTED, "http: TLS key %s is encrypted; the server needs it unencrypted (mode 0600)",
			      path);
done:
	close(fd);
	if (rc && buf) {
		if (secret)
			explicit_bzero(buf, n);
		free(buf);
	} else if (!rc) {
		*out = buf;
		*len = n;
	}
	return rc;
}

static void server_free(tvs_http_server_t *s)
{
	if (s->tls_key_pem) {
		explicit_bzero(s->tls_key_pem, s->tls_key_len);
		free(s->tls_key_pem);
	}
	free(s->tls_cert_pem);
	free(s->queue);
	free(s->threads);
	free(s->workers);
	pthread_cond_destroy(&s->ready_cv);
	pthread_cond_destroy(&s->has_job);
	pthread_mutex_destroy(&s->log_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int tvs_http_start(tvs_http_server_t **out, const tvs_http_config *cfg, const tvs_http_route *routes, size_t n,
		   void *app)
{
	tvs_http_server_t *s;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *di;
	struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	size_t cert_len;
	int rc;

	*out = NULL;
	if (!cfg)
		return tvs__err(TVS_EINVAL, "http: no config");
	if ((rc = check_config(cfg, routes, n)) != 0)
		return rc;
	if (inet_pton(AF_INET, cfg->bind ? cfg->bind : "127.0.0.1", &sa.sin_addr) != 1)
		return tvs__err(TVS_EINVAL, "http: bind address '%s' is not IPv4", cfg->bind);
	sa.sin_port = htons((uint16_t)cfg->port);
	if (cfg->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return tvs__err(TVS_EUNSUPPORTED, "http: TLS asked for, but this libmicrohttpd was built without it");

	s = calloc(1, sizeof(*s));
	if (!s)
		return tvs__err(TVS_ENOMEM, "out of memory");
	s->cfg = *cfg;
	s->cfg.tls_cert = s->cfg.tls_key = NULL; /* borrowed for this call only */
	s->routes = routes;
	s->nroutes = n;
	s->app = app;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->log_mu, NULL);
	pthread_cond_init(&s->has_job, NULL);
	pthread_cond_init(&s->ready_cv, NULL);
	s->queue = calloc((size_t)cfg->queue_max, sizeof(*s->queue));
	s->threads = calloc((size_t)cfg->workers, sizeof(*s->threads));
	s->workers = calloc((size_t)cfg->workers, sizeof(*s->workers));
	if (!s->queue || !s->threads || !s->workers) {
		rc = tvs__err(TVS_ENOMEM, "out of memory");
		goto fail_alloc;
	}
	if (cfg->tls_cert) { /* before any thread: a bad file costs nothing to refuse */
		if ((rc = read_pem("certificate", cfg->tls_cert, 0, TLS_CERT_MAX, &s->tls_cert_pem, &cert_len)) != 0 ||
		    (rc = read_pem("key", cfg->tls_key, 1, TLS_KEY_MAX, &s->tls_key_pem, &s->tls_key_len)) != 0)
			goto fail_alloc;
		flags |= MHD_USE_TLS;
		tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
		tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
		tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
	}

	for (int i = 0; i < cfg->workers; i++) {
		s->workers[i].s = s;
		s->workers[i].id = i;
		if (pthread_create(&s->threads[i], NULL, worker_main, &s->workers[i]) != 0) {
			rc = tvs__err(TVS_ENOMEM, "http: cannot start worker %d", i);
			goto fail_pool;
		}
		s->nthreads++;
	}
	pthread_mutex_lock(&s->mu);
	while (s->nready < s->nthreads)
		pthread_cond_wait(&s->ready_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->init_failed) {
		rc = tvs__err(s->init_rc, "http: worker init failed: %s", s->init_msg);
		goto fail_pool;
	}

	atomic_store(&s->capture_log, 1);
	s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_access, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first: it hears the other options */
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_conns,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
				MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_ARRAY, tls_opts,
				MHD_OPTION_END);
	atomic_store(&s->capture_log, 0);
	if (!s->d) {
		/* bind a probe socket to tell a busy port from the rest */
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, e = 0;
		char why[sizeof(s->mhd_msg)];

		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			e = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
			close(fd);
		}
		pthread_mutex_lock(&s->log_mu);
		snprintf(why, sizeof(why), "%s", s->mhd_msg[0] ? s->mhd_msg : "server start failed");
		pthread_mutex_unlock(&s->log_mu);
		if (!e && s->tls_key_pem)
			rc = tvs__err(TVS_EFORMAT, "http: TLS setup failed with certificate %s and key %s: %s", cfg->tls_cert,
				      cfg->tls_key, why);
		else
			rc = tvs__err(TVS_EIO, "http: cannot listen on %s:%d: %s", cfg->bind ? cfg->bind : "127.0.0.1",
				      cfg->port, e ? strerror(e) : why);
		goto fail_pool;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : cfg->port;
	*out = s;
	return 0;

fail_pool:
	pool_stop(s);
fail_alloc:
	server_free(s);
	return rc;
}

int tvs_http_port(const tvs_http_server_t *s)
{
	return s->port;
}

void tvs_http_stop(tvs_http_server_t *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1); /* open streams end at their next call */
	MHD_stop_daemon(s->d);         /* joins the connection threads */
	pool_stop(s);
	server_free(s);
}
