/*
 * tvs HTTP layer: libmicrohttpd underneath, a route table on top.
 *
 * The layer knows nothing of travelers. It reads request bodies (bounded),
 * matches a route, and runs its handler either on the connection's thread
 * (cheap handlers: health, metrics, event streams) or on a fixed worker pool
 * (inference and database writes). A handler fills a tvs_http_resp; the layer
 * sends it with the security headers and writes one structured log line per
 * request. The pool queue is bounded: when it is full the client gets 503 with
 * Retry-After instead of an unbounded wait.
 *
 * Threading: libmicrohttpd runs one thread per connection, so a handler (or a
 * stream callback) may block its own connection without stalling others.
 *
 * TLS: with tls_cert and tls_key set the server speaks HTTPS only (GnuTLS
 * through libmicrohttpd, TLS 1.2 and 1.3) and adds Strict-Transport-Security
 * to the security headers. A plain HTTP request to that port gets no reply:
 * the handshake fails and the connection is closed.
 */
#ifndef TVS_HTTP_H
#define TVS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define TVS_HTTP_MAX_PARAMS 4
#define TVS_HTTP_MAX_HEADERS 8

typedef struct tvs_http_server tvs_http_server_t;

/* One request as a handler sees it; every pointer is borrowed until the
 * handler returns. */
typedef struct tvs_http_req {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* decoded path without the query, e.g. "/v1/encounters/42" */
	const char *query;        /* raw query string without '?', "" if none */
	const char *content_type; /* media type only, lower case, parameters stripped; "" if none */
	const char *authorization; /* Authorization header or NULL */
	const char *api_key;      /* X-Api-Key header or NULL */
	const char *last_event_id; /* Last-Event-ID header or NULL */
	const char *idempotency_key; /* Idempotency-Key header or NULL */
	const char *remote;       /* peer address as text */
	const char *request_id;   /* X-Request-Id if the client sent a sane one, else generated */
	const uint8_t *body;      /* NUL-terminated for convenience; body_len excludes the NUL */
	size_t body_len;
	const char *params[TVS_HTTP_MAX_PARAMS]; /* values of {name} segments, in order */
	int nparams;
	int worker;               /* pool worker index 0..workers-1, or -1 on the connection thread */
	const tvs_http_server_t *server; /* the server serving it, for tvs_http_count_requests() */
} tvs_http_req;

/* Query parameter name of req, decoded into buf[cap]; returns buf, or NULL if
 * absent (or too long for buf). */
const char *tvs_http_query_param(const tvs_http_req *req, const char *name, char *buf, size_t cap);

/* A streamed body (server-sent events). Called repeatedly on the connection's
 * thread; may block, but must return within about a second: the layer ends the
 * stream between calls when the client has gone or tvs_http_stop() runs, so a
 * longer block delays both. Write at most max bytes to buf and return the
 * count, 0 to be called again (the callback must block or sleep a little
 * itself first, or it spins), or -1 to end the stream. Send something (an SSE
 * comment) more often than the idle timeout, or the connection is cut. */
typedef ssize_t (*tvs_http_stream_fn)(void *arg, char *buf, size_t max);

typedef struct tvs_http_resp {
	int status;               /* HTTP status; 0 means the handler forgot: 500 */
	char *body;               /* malloc'd, owned by the layer after return; may be NULL */
	size_t body_len;
	const char *content_type; /* static string; default "application/json" */
	/* extra headers, added with tvs_http_add_header(): names static,
	 * values copied into header_buf. A name the layer also sets
	 * (Cache-Control, Content-Security-Policy, ...) replaces its default. */
	const char *headers[TVS_HTTP_MAX_HEADERS][2];
	int nheaders;
	char header_buf[256];
	tvs_http_stream_fn stream; /* non-NULL: body is streamed instead of body/body_len */
	void *stream_arg;
	void (*stream_free)(void *arg); /* called once when the stream ends; may be NULL */
	char actor[64];           /* who made the request, for the log line ("device:12", "user:ana") */
	char error_code[48];      /* machine error code for the log line, "" on success */
} tvs_http_resp;

typedef void (*tvs_http_handler)(void *app, const tvs_http_req *req, tvs_http_resp *resp);

/* Routes match exact segments; "{x}" matches one non-empty segment whose value
 * lands in req->params; the first matching route in table order wins. Same
 * path, other method: 405 with Allow. No path: 404. Both answered as JSON
 * errors by the layer. */
typedef struct tvs_http_route {
	const char *method;
	const char *pattern;   /* e.g. "/v1/encounters/{id}/resolve" */
	tvs_http_handler fn;
	int on_worker;         /* 1: run on the worker pool; 0: on the connection thread */
	size_t max_body;       /* 0: the server default */
} tvs_http_route;

typedef struct tvs_http_config {
	const char *bind;      /* IPv4 address to listen on; default "127.0.0.1" */
	int port;              /* default 8080; 0: an ephemeral port (see tvs_http_port) */
	size_t max_body;       /* default body limit, bytes (default 12 MiB): 413 beyond */
	int workers;           /* pool threads (default 2) */
	int queue_max;         /* queued jobs before 503 (default 64) */
	int max_conns;         /* concurrent connections (default 256) */
	int timeout_s;         /* idle connection timeout (default 30) */
	FILE *log;             /* one JSON line per request; NULL: no log */
	/* Called once on each worker thread before it takes jobs, and once on
	 * exit; lets the app build per-worker state (a face context). Either may
	 * be NULL. A non-zero return from init makes tvs_http_start fail. */
	int (*worker_init)(void *app, int worker);
	void (*worker_fini)(void *app, int worker);
	/* HTTPS: both or neither (NULL: plain HTTP). PEM files, borrowed for
	 * tvs_http_start only: they are read into memory there. The key must
	 * not be accessible by group or others (mode 0600 or 0400) and must not
	 * be encrypted; the certificate file may hold the chain after it. */
	const char *tls_cert;
	const char *tls_key;
} tvs_http_config;

void tvs_http_default_config(tvs_http_config *c);

/* Start listening and serving routes[0..n) (borrowed until stop) with app
 * passed to every handler. TVS_EIO if the port cannot be bound; with TLS,
 * TVS_ENOTFOUND (no such file), TVS_EDENIED (key mode too open, or file not
 * readable), TVS_EFORMAT (not PEM, or GnuTLS refused the certificate or key,
 * e.g. a key that does not match), TVS_EUNSUPPORTED (libmicrohttpd without
 * TLS, or an encrypted key); the reason is in tvs_errmsg(). */
int tvs_http_start(tvs_http_server_t **out, const tvs_http_config *cfg, const tvs_http_route *routes,
		   size_t n, void *app);

/* The port actually bound (useful with port 0). */
int tvs_http_port(const tvs_http_server_t *s);

/* Requests completed so far by status class: out[1..5] count 1xx..5xx and
 * out[0] those that ended with no response (client gone, connection cut). */
void tvs_http_count_requests(const tvs_http_server_t *s, unsigned long long out[6]);

/* Stop accepting, finish queued jobs, join everything. Accepts NULL. */
void tvs_http_stop(tvs_http_server_t *s);

/* ---- reply helpers: all replace resp->body ---- */

/* Status and a body of len bytes (copied) of content_type (static; NULL
 * means application/json). */
void tvs_http_reply_text(tvs_http_resp *resp, int status, const char *content_type, const char *text,
			 size_t len);

/* {"error": {"code": code, "message": printf(fmt...)}} with status. code is a
 * stable machine word ("invalid_json", "forbidden"); it also goes to the log. */
void tvs_http_reply_error(tvs_http_resp *resp, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Add a response header; value is copied into resp->header_buf if it fits
 * (returns 0), else -1. */
int tvs_http_add_header(tvs_http_resp *resp, const char *name, const char *value);

#endif
