/*
 * Harness for the black-box tests of `tvs serve` (tests/e2e/test_e2e_*.c).
 *
 * Each test binary starts a real server on loopback: a fresh temporary folder
 * holds its SQLite store, port file and request log; the first admin is made
 * with `tvs user add`, everything else goes through the HTTP API as a client
 * would send it (libcurl, jansson). The test images are cut out of the demo
 * group photos in models/demo with the library itself, so no dataset is
 * needed: different photos show different people, and two crops of one face
 * in one photo match.
 *
 * Every response is checked for what the contract promises of all responses:
 * an X-Request-Id header, and for a 4xx or 5xx a JSON error object. A 5xx
 * fails the test unless the caller said it may happen (e2e_req.allow_5xx).
 *
 * When the tvs binary, its `serve` command or the models are missing, the
 * tests skip with a message (E2E_REQUIRE).
 */
#ifndef TVS_E2E_H
#define TVS_E2E_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define E2E_PASSWORD "e2e-password-0123" /* every user the harness makes */
#define E2E_MAX_PEOPLE 16

/* ------------------------------------------------------------ server */

typedef struct e2e_server {
	char dir[64];       /* temporary folder, removed by e2e_server_cleanup */
	char db[256];       /* "DIR/tvs.db", or a PostgreSQL URL on a schema of its own */
	char key[128];      /* "DIR/tvs.key": the master key, passed as --key-file */
	int pg;             /* 1: the store is PostgreSQL (no database file to look at) */
	char log[128];      /* "DIR/log" */
	pid_t pid;          /* 0 when not running */
	int port;
	long requests;      /* requests that got an HTTP status from this server run */
	long streams;       /* of which event streams cut by the client */
	char ca_file[160];  /* "": plain http; else https, verifying the server against this PEM */
} e2e_server;

/* The tvs binary: $TVS_BIN or build/tvs. */
const char *e2e_bin(void);

/* NULL when the binary (with its serve command) and the models are there;
 * otherwise why the e2e tests cannot run. */
const char *e2e_missing(void);

/* Run the cmocka group on SQLite, then again on PostgreSQL when
 * $TVS_TEST_PG names a server (make test starts one: scripts/with-pg.sh),
 * each server then on a fresh schema of it. */
#define E2E_RUN(name, tests, setup, teardown) \
	e2e_run_both(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)
int e2e_run_both(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
		 CMFixtureFunction teardown);

/* Make the folder and the admin user (username "admin", E2E_PASSWORD).
 * 0 or -1 (with a message printed). */
int e2e_server_init(e2e_server *s);

/* A second node on a's store and master key, with a folder of its own: the
 * multi-node tests. Its cleanup leaves a's schema to a. 0 or -1. */
int e2e_server_init_like(e2e_server *b, const e2e_server *a);

/* Start `tvs serve` on the store with --port 0 and wait (up to a minute: a
 * startup wait, not a timing check) for its port file. extra: more
 * arguments, NULL-terminated, or NULL. 0 or -1 (message printed). */
int e2e_server_start(e2e_server *s, const char *const *extra);

/* Send sig to the server and reap it; returns its exit status, 128+signal
 * if a signal ended it, -1 if it was not running. */
int e2e_server_stop(e2e_server *s, int sig);

/* Kill the server if it runs, remove the folder. */
void e2e_server_cleanup(e2e_server *s);

/* Skip the calling test (cmocka skip()) when the server is not running. */
#define E2E_REQUIRE(s)                                                                   \
	do {                                                                             \
		if (!(s)->pid) {                                                         \
			const char *why_ = e2e_missing();                                \
			print_message("[ SKIP     ] e2e: %s\n", why_ ? why_ : "server did not start"); \
			skip();                                                          \
		}                                                                        \
	} while (0)

/* ------------------------------------------------------------ requests */

/* A credential: the header line that carries it, "" for none. */
typedef struct e2e_cred {
	char header[400];
} e2e_cred;

e2e_cred e2e_bearer(const char *token);
e2e_cred e2e_apikey(const char *key);
extern const e2e_cred e2e_nocred;

typedef struct e2e_req {
	const char *method;       /* default GET */
	const char *path;         /* "/v1/...", with the query */
	const e2e_cred *cred;     /* NULL: none */
	const void *body;         /* NULL: no body */
	size_t len;               /* body length; 0 with a body: strlen(body) */
	const char *ctype;        /* Content-Type; NULL: application/json when there is a body */
	const char *const *headers; /* more header lines, NULL-terminated, or NULL */
	int head_only;            /* 1: stop after the headers of a 2xx (event streams) */
	int allow_5xx;            /* 1: a 5xx does not fail the test */
} e2e_req;

typedef struct e2e_resp {
	long status;     /* 0: no HTTP reply (connection refused or cut) */
	char *body;      /* NUL-terminated */
	size_t len;
	char *headers;   /* raw header block, NUL-terminated */
	json_t *json;    /* the body parsed, or NULL */
} e2e_resp;

/* Send q; fill *r (free with e2e_resp_free). Checks the headers and error
 * shape promised for every response (see the top of this file). */
void e2e_request(e2e_server *s, const e2e_req *q, e2e_resp *r);
void e2e_resp_free(e2e_resp *r);

/* The same without any check or assertion (safe off the test's thread);
 * returns the CURLcode (r->status 0 if no reply came). */
int e2e_request_raw(e2e_server *s, const e2e_req *q, e2e_resp *r);

/* Header value of r (case-insensitive name) into buf, or NULL. */
const char *e2e_resp_header(const e2e_resp *r, const char *name, char *buf, size_t cap);

/* method path with the JSON body (stolen; NULL for none); fails the test
 * unless the status is want; returns the parsed reply (caller decrefs;
 * json null if the body is not JSON). */
json_t *e2e_call(e2e_server *s, const char *method, const char *path, const e2e_cred *c, json_t *body,
		 long want);

/* Fail unless r is status with error code (code NULL: any); frees r
 * before failing, so a failed check leaks nothing. */
void e2e_check_error(e2e_resp *r, long status, const char *code, const char *what);

/* ------------------------------------------------------------ event stream */

/* A reader of GET /v1/events as cred (from after last_id if set) that stops
 * at the first event of type want, keeping its id and data; or, with want
 * NULL, hands every event to on_event until another thread sets quit. */
typedef struct e2e_sse {
	e2e_server *s;
	const e2e_cred *cred;
	char last_id[64];    /* Last-Event-ID to send, "" for none */
	const char *want;    /* event type to wait for, or NULL */
	void (*on_event)(struct e2e_sse *st, const char *type, const char *data); /* or NULL */
	void *arg;           /* for on_event */
	long timeout_s;      /* hang guard (0: 120 s), not a timing check */
	volatile int quit;   /* set by another thread: cut the stream */
	volatile int open;   /* the first bytes arrived */
	volatile int done;   /* the wanted event arrived */
	long status;
	char buf[1 << 16];
	size_t n;
	char id[64], data[4096]; /* id: "SEQ-NODE" */
} e2e_sse;

/* Thread body: arg is an e2e_sse; returns when the wanted event came, the
 * stream ended, or a two-minute hang guard ran out. */
void *e2e_sse_thread(void *arg);

/* Set st to read s's stream as cred until an event of type want, start
 * e2e_sse_thread on it in *th and wait (a startup wait of up to a minute,
 * not a timing check) until the stream is open; st->open says whether it
 * opened. The caller joins *th. */
void e2e_sse_start(e2e_sse *st, e2e_server *s, const e2e_cred *cred, const char *want, pthread_t *th);

/* ------------------------------------------------------------ JSON */

json_int_t e2e_jint(json_t *o, const char *key);   /* fails the test if not an integer */
const char *e2e_jstr(json_t *o, const char *key);  /* fails the test if not a string */
/* Array key of o (fails the test otherwise). */
json_t *e2e_jarr(json_t *o, const char *key);

/* ------------------------------------------------------------ time */

int64_t e2e_now(void);
/* RFC 3339 UTC, "2026-11-23T10:00:00Z". */
void e2e_time_str(int64_t t, char out[32]);

/* ------------------------------------------------------------ images */

typedef struct e2e_img {
	uint8_t *data;
	size_t len;
	char *b64; /* standard base64 of data */
} e2e_img;

typedef struct e2e_images {
	int npeople;
	e2e_img portrait[E2E_MAX_PEOPLE]; /* face i, tight crop, 300x375 */
	e2e_img live[E2E_MAX_PEOPLE];     /* face i, wider crop, mirrored, 480x640 */
	e2e_img noface;                   /* a corner of a photo with nobody in it */
	e2e_img grey;                     /* flat grey */
	e2e_img multi;                    /* two faces of like size */
	e2e_img dark;                     /* live[0] much darkened; the face still detected */
} e2e_images;

/* The test images, built once per process (about a second); NULL, with a
 * message, if the models or the demo photos are missing. */
const e2e_images *e2e_images_get(void);

/* The one server and image set of a test binary, and the cmocka group
 * setup and teardown that start and stop them (setup does nothing when
 * e2e_missing(): the tests then skip themselves). */
extern e2e_server e2e_srv;
extern const e2e_images *e2e_im;
int e2e_group_setup(void **state);
int e2e_group_teardown(void **state);

/* Standard base64 of data[0..n) (malloc'd). */
char *e2e_b64(const void *data, size_t n);

/* ------------------------------------------------------------ the standard world */

#define E2E_PORT_CODE "DEM"
#define E2E_LOC_CODE "A1"       /* served by the manifest's gallery */
#define E2E_LOC_NOGAL_CODE "B2" /* served by no gallery */

typedef struct e2e_world {
	e2e_cred admin, officer, supervisor, auditor; /* sessions */
	e2e_cred repo, device, device_nogal;          /* API keys */
	json_int_t port_id, loc_id, loc_nogal_id;
	json_int_t device_id, device_nogal_id, repo_id;
	json_int_t manifest_id;
	int nenrolled;                     /* people 0..nenrolled-1 have portraits and are on the manifest */
	json_int_t doc_id[E2E_MAX_PEOPLE];
	json_int_t portrait_id[E2E_MAX_PEOPLE];
	int unportrayed;                   /* one more traveler on the manifest, without a portrait */
} e2e_world;

/* Log in username (E2E_PASSWORD); the session as a credential. */
e2e_cred e2e_login(e2e_server *s, const char *username);

/* Build, through the API: users officer1, super1, auditor1; port DEM; notice
 * v1; locations A1 and B2; a device at each and a repository client;
 * portraits of people 0..nenrolled-1 (documents E2E000<i>, issuing state
 * UTO); a manifest at A1 whose window holds now, with those travelers and
 * one more without a portrait; and its gallery. */
void e2e_world_setup(e2e_server *s, e2e_world *w, int nenrolled);

/* Log the users in again (after a restart). */
void e2e_world_relogin(e2e_server *s, e2e_world *w);

/* Document number of person i ("E2E0000i"). */
void e2e_doc_number(int i, char out[16]);
/* {"type":"P","number":...,"issuing_state":"UTO",...} for person i. */
json_t *e2e_document(int i);
/* Person i's nationality on that document: NULL is "UTO" (set before
 * e2e_world_setup; a server started with --country UTO sees UTO nationals
 * as citizens). */
extern const char *e2e_nationality[E2E_MAX_PEOPLE];

/* POST /v1/captures from device c with image img, optional presented
 * document of person doc (-1: none) and request_id (NULL: none); fails the
 * test unless 200 with exactly decision, token, reason, latency_ms. Returns
 * the reply (caller decrefs). */
json_t *e2e_capture(e2e_server *s, const e2e_cred *c, const e2e_img *img, int doc, const char *request_id);

/* How many entries of list (as e2e_encounters returns) carry token. */
int e2e_count_token(json_t *list, const char *token);

/* The encounters of status ("pending", "resolved", "all"), all pages
 * (before_id), newest first; caller decrefs the array. */
json_t *e2e_encounters(e2e_server *s, const e2e_cred *c, const char *status);

/* Wait (a minute at most: a liveness guard, not a timing check) until
 * manifest_id's gallery, as s lists it, is ready with size templates and no
 * build queued; its gallery object (caller decrefs). Fails the test if that
 * never comes. */
json_t *e2e_gallery_wait(e2e_server *s, const e2e_cred *c, json_int_t manifest_id, json_int_t size);

#endif
