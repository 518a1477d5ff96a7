/*
 * Internals shared by the service's files: the service struct, the request
 * principal, JSON input validation with field paths, replies, galleries and
 * the event bus.
 */
#ifndef TVS_SVC_INT_H
#define TVS_SVC_INT_H

#include "tvs/calib.h"
#include "tvs/error.h"
#include "tvs/face.h"
#include "tvs/http.h"
#include "tvs/match.h"
#include "tvs/quality.h"
#include "tvs/store.h"
#include "tvs/svc.h"

#include <jansson.h>
#include <pthread.h>

#include "tvs/policy.h"
#include "tvs/vault.h"
#include <stdatomic.h>

#define SVC_MAX_FACES 16
#define SVC_EVENT_RING 1024

/* ---- galleries (gallery.c) ---- */

struct svc_gallery {
	int64_t manifest_id;
	int64_t opens_at, closes_at;
	int64_t *locations; /* location ids served */
	size_t nlocations;
	size_t travelers;
	int64_t built_at;   /* galleries.built_at of the store copy this was built from */
	tvs_gallery_t *g;   /* subject = documents.id, template = portraits.id: a traveler on two
			     * manifests served at one booth is one subject, not a rival */
};

struct svc_galleries {
	pthread_rwlock_t lock;
	struct svc_gallery *v;
	size_t n, cap;
};

/* ---- event bus (events.c) ---- */

struct svc_event {
	uint64_t seq;
	char type[16];
	char *data; /* JSON text, owned */
};

struct svc_events {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct svc_event ring[SVC_EVENT_RING];
	uint64_t next; /* seq of the next event; the ring holds [next - SVC_EVENT_RING, next) */
	int stopping;
	/* fan-out to the other nodes on one PostgreSQL (events.c); set before
	 * the listener starts, read-only after */
	char node[17];   /* this node: 16 random hex digits */
	char ns[64];     /* the store's schema: deployments sharing a database ignore each other */
	tvs_store_t *fanout; /* NULL: events stay on this node */
	tvs_store_listener_t *listener;
	pthread_t listen_thread;
	int listening;
	atomic_int listen_stop;
};

/* ---- metrics (report.c) ---- */

#define SVC_LAT_BUCKETS 12
enum svc_decision { D_MATCH, D_NO_MATCH, D_RETAKE, D_IMPOSTOR, D_OPT_OUT, D_COUNT };

/* Upper bounds (seconds) of the capture latency buckets, and decision names. */
const double *svc_latency_bounds(void);
const char *svc_decision_name(int d);

struct svc_metrics {
	atomic_ullong decisions[D_COUNT];
	atomic_ullong lat_bucket[SVC_LAT_BUCKETS + 1]; /* capture latency histogram, last = +Inf */
	atomic_ullong lat_sum_us;
	atomic_ullong enrolments, enrol_refused, logins_failed;
};

/* ---- login throttling (throttle.c) ---- */

#define SVC_THROTTLE_SLOTS 4096

struct svc_throttle_slot {
	uint64_t key; /* 0: free */
	int fails;
	int64_t last; /* time of the last failure */
};

struct svc_throttle {
	pthread_mutex_t mu;
	struct svc_throttle_slot slot[SVC_THROTTLE_SLOTS];
};

/* Seconds the caller must still wait before a login attempt for user from
 * remote is heard; 0: go ahead. */
int64_t svc_throttle_wait(struct svc_throttle *t, const char *user, const char *remote, int64_t now);
/* Count the attempt's outcome against both the name and the address. */
void svc_throttle_record(struct svc_throttle *t, const char *user, const char *remote, int64_t now, int ok);

/* ---- background loops (ticker.c) ---- */

struct svc_ticker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	tvs_svc_t *s;
	const char *name;
	int interval_ms;
	int (*job)(tvs_svc_t *s);
	int stop, kicked, inited, running;
};

/* Run job(s) every interval_ms (0: never; kicks then do nothing either) on a
 * thread of its own; its errors go to stderr under name. */
int svc_ticker_start(struct svc_ticker *t, tvs_svc_t *s, const char *name, int interval_ms,
		     int (*job)(tvs_svc_t *s));
/* Run the job now (once more, if it is running). */
void svc_ticker_kick(struct svc_ticker *t);
/* Stop and join. Safe on a ticker never started. */
void svc_ticker_stop(struct svc_ticker *t);

struct tvs_svc {
	tvs_svc_config cfg;
	char country[4];
	tvs_store_t *store;
	tvs_vault_t *vault;
	uint8_t audit_key[32];     /* keys the audit chain (svc_audit_key_load) */
	tvs_face_engine_t *engine;
	tvs_face_ctx_t **ctx; /* one per worker */
	int nctx;
	tvs_calib calib;
	double thr_1to1;      /* cosine threshold at cfg.fmr */
	tvs_quality_config q_capture, q_enrol;
	struct svc_galleries gal;
	struct svc_events ev;
	struct svc_metrics m;
	struct svc_throttle throttle;
	int64_t started_at;
	/* rule set and retention (retention.c) */
	int rules;                 /* enum tvs_policy_rules */
	tvs_policy_terms terms;
	pthread_mutex_t retention_mu;
	struct svc_ticker retention; /* the scheduler */
	struct svc_ticker gallery_jobs;
};

/* ---- rule sets and retention (retention.c) ---- */

#define SVC_STR_(x) #x
#define SVC_STR(x) SVC_STR_(x)

struct svc_policy_in {
	int decision; /* D_* */
	int64_t location_id, manifest_id, matched_doc, captured_at;
};

struct svc_policy_out {
	const char *rule_set, *applies, *citizen, *category; /* static names */
	int exempt;
	int keep_image; /* 0: the capture's image is not stored at all */
	int64_t confirmed_at, bio_purge_at, record_purge_at;
	char reason[128];
};

/* What the rule set and the retention terms say of an encounter about to be
 * stored (reads its location and matched traveler through tx). */
int svc_policy_assess(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_policy_in *in, struct svc_policy_out *out);
/* Restamp encounter id's category and purge times for its resolution at
 * now, which established the traveler's citizenship as resolved_as
 * ("yes", "no", "unknown"). */
int svc_policy_resolve(tvs_svc_t *s, tvs_tx_t *tx, int64_t id, int64_t now, const char *resolved_as);

struct svc_retention_stats {
	size_t biometrics; /* encounters whose image was purged */
	size_t records;    /* encounters deleted */
	int scrubbed;      /* 1: the WAL was checkpointed after */
};

/* Purge what is due at now: shred the keys, clear or delete, audit. */
int svc_retention_run(tvs_svc_t *s, int64_t now, struct svc_retention_stats *st);
/* Per category: held biometrics, the oldest, its deadline, overdue counts. */
int svc_retention_report(tvs_svc_t *s, int64_t now, json_t **out);
/* The retention ticker's job: what is due at the service clock's now. */
int svc_retention_tick(tvs_svc_t *s);

/* ---- biometrics at rest (seal.c) ---- */

/* Seal p[0..n) under a fresh data key in write transaction tx: *key gets
 * the key's id, *ct the ciphertext (free()). Every image and template goes
 * through here; nothing biometric is written in the clear. */
int svc_seal(tvs_svc_t *s, tvs_tx_t *tx, const void *p, size_t n, int64_t *key, uint8_t **ct, size_t *ctn);
/* Open what svc_seal made, reading the key through tx; *p is freed with
 * tvs_vault_free_plain(*p, *n). A shredded key is TVS_ENOTFOUND. */
int svc_unseal(tvs_svc_t *s, tvs_tx_t *tx, int64_t key, const void *ct, size_t ctn, uint8_t **p, size_t *n);
/* The template sealed in column col of row (its key id in col + 1). */
int svc_unseal_template(tvs_svc_t *s, tvs_tx_t *tx, const tvs_rows *r, size_t row, size_t col,
			tvs_template *t);
/* Unseal the audit chain's key into s->audit_key, making it on first use. */
int svc_audit_key_load(tvs_svc_t *s);

/* ---- who is asking (auth.c) ---- */

struct svc_principal {
	unsigned role;       /* one TVS_ROLE_* bit */
	int64_t id;          /* users.id or devices.id */
	int64_t location_id; /* devices with role device */
	char name[64];       /* for the log: "user:ana", "device:3" */
};

/* Authenticate req and check its role against allowed (the route table
 * does this before any handler runs); on failure reply 401/403 and return -1. */
int svc_auth_or_reply(tvs_svc_t *s, const tvs_http_req *req, tvs_http_resp *resp, unsigned allowed,
		      struct svc_principal *p);
/* Random token: prefix + base64url of 32 random bytes; hash = BLAKE2b-256. */
void svc_token_new(const char *prefix, char *out, size_t cap);
void svc_token_hash(const char *token, uint8_t hash[32]);
int svc_password_hash(const char *password, char out[128]);

/* ---- JSON input (svc.c) ---- */

/* Validation state: the first failure wins and names its field path. */
struct jv {
	char field[160];
	char msg[160];
	int bad;
};

/* Parse the JSON object body of req or reply 415/400 and return NULL. */
json_t *svc_json_body_or_reply(const tvs_http_req *req, tvs_http_resp *resp);
/* Field key of obj (path names obj, "" for the root): a string of len
 * min..max (required or not: absent gives NULL and no error when optional). */
const char *jv_str(struct jv *v, json_t *obj, const char *path, const char *key, int required, size_t min,
		   size_t max);
/* One of the NULL-terminated words in allowed. */
const char *jv_enum(struct jv *v, json_t *obj, const char *path, const char *key, int required,
		    const char *const *allowed);
/* Integer in [lo, hi]; absent optional gives def. */
int64_t jv_int(struct jv *v, json_t *obj, const char *path, const char *key, int required, int64_t lo,
	       int64_t hi, int64_t def);
/* RFC 3339 UTC time ("...Z" or "+00:00") as unix seconds; absent optional gives def. */
int64_t jv_time(struct jv *v, json_t *obj, const char *path, const char *key, int required, int64_t def);
/* Query parameter name as an RFC 3339 time, by jv_time's rules (absent:
 * def, or a failure when required); the failure names the parameter. */
int64_t svc_query_time(struct jv *v, const tvs_http_req *req, const char *name, int required, int64_t def);
/* A nested object, or NULL. */
json_t *jv_obj(struct jv *v, json_t *obj, const char *path, const char *key, int required);
/* A nested array, or NULL. */
json_t *jv_arr(struct jv *v, json_t *obj, const char *path, const char *key, int required, size_t max);
void jv_fail(struct jv *v, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Reply 400 for v (returns -1) if it failed, else return 0. */
int jv_reply(struct jv *v, tvs_http_resp *resp);

/* Reply status with j (stolen). */
void svc_reply_json(tvs_http_resp *resp, int status, json_t *j);
/* 400/404/409/500 for a store or library error code, with tvs_errmsg(). */
void svc_reply_rc(tvs_http_resp *resp, int rc, const char *what);
/* Path parameter i as a positive id, or reply 404 and return -1. */
int64_t svc_param_id_or_reply(const tvs_http_req *req, tvs_http_resp *resp, int i);

int64_t svc_now(const tvs_svc_t *s);
void svc_time_str(int64_t t, char out[32]);
/* Decode base64 (standard alphabet, padding optional) into a malloc'd buffer. */
int svc_base64_decode(const char *in, size_t len, uint8_t **out, size_t *n);
/* Record an access in the audit table (inside tx if non-NULL). */
int svc_audit(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_principal *p, const char *action,
	      const char *object, const char *purpose);
/* svc_audit in *tx, then commit it (or roll it back if the audit row fails):
 * the record and its audit row land together or not at all. *tx is
 * released either way. */
int svc_audit_commit(tvs_svc_t *s, tvs_tx_t **tx, const struct svc_principal *p, const char *action,
		     const char *object, const char *purpose);

/* ---- faces (enrol.c) ---- */

/* Decode an image body field, detect, gate on quality with qc and describe
 * the primary face into *t. On a quality failure returns 0 with q->reason set.
 * Image errors reply 400 themselves and return -1. */
int svc_face_template(tvs_svc_t *s, int worker, const uint8_t *img, size_t len, const tvs_quality_config *qc,
		      tvs_quality *q, tvs_template *t, tvs_http_resp *resp);

/* A travel document as the API sends it (borrowed strings). */
struct svc_document {
	const char *type, *number, *issuing_state, *nationality, *surname, *given_names, *birth_date, *sex,
		*expiry;
};

#define SVC_MANIFEST_MAX_TRAVELERS 10000
#define SVC_MANIFEST_MAX_LOCATIONS 64

/* A manifest as the service takes it, whatever format it came in: strings
 * and arrays borrowed from the JSON it was parsed from. */
struct svc_manifest_in {
	const char *carrier, *number, *direction, *port;
	int64_t scheduled_at, opens_at, closes_at;
	json_t *locations; /* array of location codes (strings) */
	json_t *travelers; /* array of {"document": {...}}, each document valid */
};

/* Validate the JSON manifest b into *m without the store (manifest_json.c);
 * -1 with v naming the first bad field. */
int svc_manifest_parse(struct jv *v, json_t *b, struct svc_manifest_in *m);

/* Validate the document object d at path into *out; -1 (v set) if bad. */
int svc_document_fields(struct jv *v, json_t *d, const char *path, struct svc_document *out);
/* Insert d or update the stored one with its known fields; *id gets its id. */
int svc_document_upsert(tvs_tx_t *tx, int64_t now, const struct svc_document *d, int64_t *id);
/* Audit the view (purpose query parameter required), then send column 0 of
 * sql (an image; column 1 its media type) for the id in path param 0. */
void svc_reply_image(tvs_svc_t *s, const tvs_http_req *req, tvs_http_resp *resp, const struct svc_principal *who,
		     const char *sql, const char *what);

/* ---- galleries (gallery.c) ---- */

/* Build manifest_id's gallery now, write its row and who built it, and
 * install it on this node; *summary (may be NULL) gets the row as JSON. */
int svc_gallery_build(tvs_svc_t *s, const struct svc_principal *who, int64_t manifest_id, json_t **summary);
/* Queue a build of manifest_id's gallery in tx, for any node's gallery
 * worker (svc_gallery_jobs_tick); kick this node's after tx commits. */
int svc_gallery_request(tvs_tx_t *tx, int64_t manifest_id, int64_t now);
/* The same for every manifest listing document_id whose window has not
 * closed (a new portrait of it); *n (may be NULL) gets how many. */
int svc_gallery_request_for_document(tvs_tx_t *tx, int64_t document_id, int64_t now, int64_t *n);
/* Build queued galleries until none is left that this node may claim. */
int svc_gallery_jobs_tick(tvs_svc_t *s);
int svc_galleries_restore(tvs_svc_t *s);
void svc_galleries_free(struct svc_galleries *g);
size_t svc_galleries_count(tvs_svc_t *s);
/* Bring the cache up to the store for location_id at now: build (from the
 * store, without writing it) every ready gallery serving there that this node
 * lacks or holds an older copy of. One small query when the cache is warm.
 * 0, or the first build's error (the other galleries are still refreshed). */
int svc_galleries_refresh(tvs_svc_t *s, int64_t location_id, int64_t now);
/* Ready galleries serving location_id at time now. */
size_t svc_galleries_serving(tvs_svc_t *s, int64_t location_id, int64_t now);

/* Search every gallery that serves location at time now: fused best hits. */
struct svc_search {
	int ngalleries;
	int nhits;
	tvs_match_hit hits[3];
	int64_t manifest_id[3];
	size_t gallery_size; /* largest searched */
};
int svc_gallery_search(tvs_svc_t *s, int64_t location_id, int64_t now, const tvs_template *probe,
		       struct svc_search *out);

/* ---- events (events.c) ---- */

void svc_events_init(struct svc_events *e);
void svc_events_free(struct svc_events *e);
/* Publish type with data (stolen): to this node's ring, and on PostgreSQL
 * to every other node's (NOTIFY tvs_events). */
void svc_event_publish(tvs_svc_t *s, const char *type, json_t *data);
/* On PostgreSQL: pick the node id and start the thread that appends other
 * nodes' events to the ring; nothing on SQLite. Stopped (joined) by
 * svc_events_fanout_stop, which accepts one never started. */
int svc_events_fanout_start(tvs_svc_t *s);
void svc_events_fanout_stop(tvs_svc_t *s);

/* ---- handlers ---- */

/* Handlers run after the route's role check, with who is asking. */
#define SVC_HANDLER(name)                                                                  \
	void name(tvs_svc_t *s __attribute__((unused)),                                     \
		  const tvs_http_req *req __attribute__((unused)), tvs_http_resp *resp,          \
		  const struct svc_principal *who __attribute__((unused)))

SVC_HANDLER(h_healthz);
SVC_HANDLER(h_metrics);
SVC_HANDLER(h_report_notices);
SVC_HANDLER(h_report_retention);
SVC_HANDLER(h_retention_run);
SVC_HANDLER(h_audit_export);
SVC_HANDLER(h_audit_verify);
SVC_HANDLER(h_report_access);
SVC_HANDLER(h_openapi);
SVC_HANDLER(h_session_create);
SVC_HANDLER(h_session_delete);
SVC_HANDLER(h_user_create);
SVC_HANDLER(h_user_list);
SVC_HANDLER(h_port_create);
SVC_HANDLER(h_port_list);
SVC_HANDLER(h_notice_create);
SVC_HANDLER(h_notice_list);
SVC_HANDLER(h_location_create);
SVC_HANDLER(h_location_list);
SVC_HANDLER(h_location_patch);
SVC_HANDLER(h_device_create);
SVC_HANDLER(h_device_list);
SVC_HANDLER(h_device_revoke);
SVC_HANDLER(h_portrait_create);
SVC_HANDLER(h_portrait_image);
SVC_HANDLER(h_manifest_create);
SVC_HANDLER(h_manifest_list);
SVC_HANDLER(h_manifest_get);
SVC_HANDLER(h_manifest_gallery);
SVC_HANDLER(h_capture);
SVC_HANDLER(h_optout);
SVC_HANDLER(h_encounter_list);
SVC_HANDLER(h_encounter_get);
SVC_HANDLER(h_encounter_image);
SVC_HANDLER(h_encounter_resolve);
SVC_HANDLER(h_events);
SVC_HANDLER(h_report_summary);
SVC_HANDLER(h_report_timeseries);
SVC_HANDLER(h_console_index);
SVC_HANDLER(h_console_file);


extern const struct tvs_migration svc_migrations[];
extern const size_t svc_nmigrations;

#endif
