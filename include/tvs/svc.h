/*
 * tvs service: the verification service behind `tvs serve`.
 *
 * A service owns the store (SQLite by default), the face engine with one
 * context per HTTP worker, the calibration that turns target error rates into
 * thresholds, the in-memory galleries of the departures and arrivals being
 * processed, and the event bus the officer console listens to. It exposes a
 * route table for the HTTP layer; every route names the roles it admits.
 */
#ifndef TVS_SVC_H
#define TVS_SVC_H

#include "tvs/http.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tvs_svc tvs_svc_t;

enum tvs_svc_role {
	TVS_ROLE_DEVICE = 1 << 0,
	TVS_ROLE_REPOSITORY = 1 << 1,
	TVS_ROLE_OFFICER = 1 << 2,
	TVS_ROLE_SUPERVISOR = 1 << 3,
	TVS_ROLE_AUDITOR = 1 << 4,
	TVS_ROLE_ADMIN = 1 << 5,
	TVS_ROLE_PUBLIC = 1 << 6, /* no credentials needed */
};

typedef struct tvs_svc_config {
	const char *db_url;       /* store URL (default "tvs.db") */
	const char *key_file;     /* master key (mode 0600): seals every image and template (required) */
	const char *model_dir;    /* face-api weights (default "models/model") */
	const char *calibration;  /* calibration JSON (default "data/calibration/lfw-default.json") */
	const char *country;      /* ISO 3166 alpha-3 of the deployment: its nationals are citizens (default "USA") */
	double fpir;              /* 1:N target false positive identification rate (default 0.003) */
	double fmr;               /* 1:1 target false match rate (default 0.001) */
	double margin;            /* best minus runner-up cosine needed for MATCH (default 0.03) */
	int session_ttl_s;        /* officer session lifetime (default 8 h) */
	int workers;              /* HTTP workers, one face context each (default 2) */
	const char *rule_set;     /* "final-2025" (default) or "pilot-2018": recorded on every encounter */
	int retention_interval_s; /* how often the server purges what is due (default 60; 0: never) */
	int retention_batch;      /* encounters purged per transaction (default 256) */
	int gallery_poll_ms;      /* how often the server looks for queued gallery builds (default 1000;
				   * 0: never, not even those it queues itself) */
	double non_citizen_years; /* a matched non-citizen's record and photo (default 75) */
	/* injectable clock, unix seconds; NULL: the system clock */
	int64_t (*now)(void *arg);
	void *now_arg;
} tvs_svc_config;

void tvs_svc_default_config(tvs_svc_config *c);

/* Open and migrate the store, load the models and calibration, and rebuild
 * the ready galleries whose window has not closed. Errors name the failing
 * part in tvs_errmsg(). Caller frees with tvs_svc_destroy(). */
int tvs_svc_create(tvs_svc_t **out, const tvs_svc_config *cfg);

/* The store (migrated) and the master key, without the face engine or the
 * HTTP side: for the admin commands (tvs retention). Free with
 * tvs_svc_destroy(). */
int tvs_svc_open_admin(tvs_svc_t **out, const tvs_svc_config *cfg);

/* Append one row to the audit chain on its own (admin commands). */
int tvs_svc_audit_event(tvs_svc_t *s, const char *actor, const char *action, const char *object,
			const char *purpose);

/* The audit chain's key (for tvs audit verify). */
void tvs_svc_audit_key(const tvs_svc_t *s, uint8_t out[32]);

/* Purge what retention says is due at now (unix s); *json gets a summary
 * (malloc'd text; free()). */
int tvs_svc_retention_run(tvs_svc_t *s, int64_t now, char **json);
/* Per traveler category, the oldest item still held against its limit, at
 * now; *json as above. */
int tvs_svc_retention_report(tvs_svc_t *s, int64_t now, char **json);

/* Stop event streams and free everything. Accepts NULL. Call after the HTTP
 * server has stopped. */
void tvs_svc_destroy(tvs_svc_t *s);

/* Wake and end every open event stream (before stopping the HTTP server). */
void tvs_svc_shutdown_streams(tvs_svc_t *s);

/* The route table (static) and, for route i, the roles it admits. */
const tvs_http_route *tvs_svc_routes(size_t *n);
unsigned tvs_svc_route_roles(size_t i);

/* HTTP worker hooks: build and free worker i's face context. */
int tvs_svc_worker_init(void *svc, int worker);
void tvs_svc_worker_fini(void *svc, int worker);

/* Role name <-> bit ("officer" <-> TVS_ROLE_OFFICER); 0 / NULL if unknown. */
unsigned tvs_svc_role_parse(const char *name);
const char *tvs_svc_role_name(unsigned role);

/* Add a user straight into the store at db_url (migrating it first): how the
 * first admin gets in. TVS_ECONFLICT if the name is taken, TVS_EINVAL for a
 * bad name, role or a password under 12 characters. */
int tvs_svc_user_add(const char *db_url, const char *username, const char *role, const char *password);

#endif
