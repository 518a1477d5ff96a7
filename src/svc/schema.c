/*
 * The service's schema, as migrations. Times are unix seconds (UTC) in
 * INTEGER columns: they compare and index cheaply and mean the same on every
 * backend; the API formats them as RFC 3339.
 *
 * Biometric columns (portraits.image, portraits.template, encounters.image)
 * are the only ones that hold images or templates, and they hold them only
 * sealed (tvs_vault): each with its own data key, whose id sits beside it
 * (image_key, template_key). Purging a record shreds its keys and NULLs the
 * columns. The keys table comes first, from the vault module itself.
 */
#include "svc_int.h"

#include "tvs/audit.h"

static const char v1[] =
	"CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
	" pwhash TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);"
	"CREATE TABLE sessions (token_hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	" created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
	"CREATE TABLE ports (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
	" mode TEXT NOT NULL CHECK (mode IN ('air','land','sea')), kind TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE notices (id INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE, text TEXT NOT NULL,"
	" effective_at INTEGER NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE locations (id INTEGER PRIMARY KEY, port_id INTEGER NOT NULL REFERENCES ports(id),"
	" code TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,"
	" direction TEXT NOT NULL CHECK (direction IN ('entry','exit')),"
	" notice_version TEXT REFERENCES notices(version), created_at INTEGER NOT NULL, UNIQUE (port_id, code));"
	"CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
	" location_id INTEGER REFERENCES locations(id), key_hash BLOB NOT NULL UNIQUE,"
	" enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);"
	"CREATE TABLE documents (id INTEGER PRIMARY KEY, type TEXT NOT NULL, number TEXT NOT NULL,"
	" issuing_state TEXT NOT NULL, nationality TEXT, surname TEXT, given_names TEXT, birth_date TEXT,"
	" sex TEXT, expiry TEXT, created_at INTEGER NOT NULL, UNIQUE (issuing_state, type, number));"
	"CREATE INDEX documents_number ON documents (number);"
	"CREATE TABLE portraits (id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES documents(id),"
	" source TEXT NOT NULL, image BLOB, image_key INTEGER REFERENCES keys(id), image_type TEXT NOT NULL,"
	" template BLOB, template_key INTEGER REFERENCES keys(id), quality TEXT NOT NULL,"
	" captured_at INTEGER NOT NULL, purged_at INTEGER);"
	"CREATE INDEX portraits_document ON portraits (document_id);"
	"CREATE TABLE manifests (id INTEGER PRIMARY KEY, carrier TEXT NOT NULL, number TEXT NOT NULL,"
	" direction TEXT NOT NULL, port_id INTEGER NOT NULL REFERENCES ports(id), scheduled_at INTEGER NOT NULL,"
	" opens_at INTEGER NOT NULL, closes_at INTEGER NOT NULL, source_format TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE manifest_locations (manifest_id INTEGER NOT NULL REFERENCES manifests(id),"
	" location_id INTEGER NOT NULL REFERENCES locations(id), PRIMARY KEY (manifest_id, location_id));"
	"CREATE TABLE manifest_travelers (id INTEGER PRIMARY KEY,"
	" manifest_id INTEGER NOT NULL REFERENCES manifests(id),"
	" document_id INTEGER NOT NULL REFERENCES documents(id), citizen INTEGER NOT NULL,"
	" UNIQUE (manifest_id, document_id));"
	"CREATE TABLE galleries (manifest_id INTEGER PRIMARY KEY REFERENCES manifests(id), status TEXT NOT NULL,"
	" size INTEGER NOT NULL, travelers INTEGER NOT NULL, missing INTEGER NOT NULL, built_at INTEGER NOT NULL);"
	"CREATE TABLE encounters (id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE,"
	" device_id INTEGER NOT NULL REFERENCES devices(id), location_id INTEGER NOT NULL REFERENCES locations(id),"
	" request_id TEXT, captured_at INTEGER NOT NULL, created_at INTEGER NOT NULL, decision TEXT NOT NULL,"
	" reason TEXT, score REAL, matched_traveler_id INTEGER REFERENCES manifest_travelers(id),"
	" manifest_id INTEGER REFERENCES manifests(id), candidates TEXT, presented_document TEXT, quality TEXT,"
	" notice_version TEXT, status TEXT NOT NULL CHECK (status IN ('pending','resolved','closed')),"
	" image BLOB, image_key INTEGER REFERENCES keys(id), image_type TEXT, latency_ms REAL,"
	" UNIQUE (device_id, request_id));"
	"CREATE INDEX encounters_status ON encounters (status, id);"
	"CREATE TABLE officer_actions (id INTEGER PRIMARY KEY,"
	" encounter_id INTEGER NOT NULL REFERENCES encounters(id), user_id INTEGER NOT NULL REFERENCES users(id),"
	" action TEXT NOT NULL, traveler_id INTEGER, note TEXT, at INTEGER NOT NULL);";

/* Rule sets and retention: what each encounter was judged under and when
 * its parts must go (retention.c); ports flagged for the 2018 pilot.
 * TVS_POLICY_HELD (INT64_MAX) in a purge time means held. */
static const char v3[] =
	"ALTER TABLE ports ADD COLUMN pilot_designated INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE encounters ADD COLUMN rule_set TEXT;"
	"ALTER TABLE encounters ADD COLUMN applies TEXT;"
	"ALTER TABLE encounters ADD COLUMN citizen TEXT;"
	"ALTER TABLE encounters ADD COLUMN exempt INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE encounters ADD COLUMN category TEXT;"
	"ALTER TABLE encounters ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE encounters ADD COLUMN bio_purge_at INTEGER;"
	"ALTER TABLE encounters ADD COLUMN record_purge_at INTEGER;"
	"ALTER TABLE encounters ADD COLUMN resolved_at INTEGER;"
	"ALTER TABLE encounters ADD COLUMN resolved_as TEXT;"
	"ALTER TABLE encounters ADD COLUMN purged_at INTEGER;"
	"CREATE INDEX encounters_bio_purge ON encounters (bio_purge_at) WHERE image_key IS NOT NULL;"
	"CREATE INDEX encounters_record_purge ON encounters (record_purge_at);";

/* The audit chain's key: 32 random bytes sealed under a data key like any
 * record (so a master rotation re-wraps it and the chain keeps verifying),
 * made on first start (seal.c). */
static const char v5[] =
	"CREATE TABLE audit_key (id INTEGER PRIMARY KEY CHECK (id = 1), key_id INTEGER NOT NULL REFERENCES keys(id),"
	" sealed BLOB NOT NULL);";

/* Any node asks, on each capture, which ready galleries serve a location
 * (svc_galleries_refresh): that lookup starts from the location. */
static const char v6[] = "CREATE INDEX manifest_locations_location ON manifest_locations (location_id);";

/* Gallery builds as jobs (gallery.c): queued_at is when the oldest request
 * not yet built came (NULL: none), queue_gen counts requests, so a build
 * clears only those it covers. Any node's worker polls the partial index. */
static const char v7[] = "ALTER TABLE galleries ADD COLUMN queued_at INTEGER;"
			 "ALTER TABLE galleries ADD COLUMN queue_gen INTEGER NOT NULL DEFAULT 0;"
			 "CREATE INDEX galleries_queued ON galleries (queued_at) WHERE queued_at IS NOT NULL;";

const struct tvs_migration svc_migrations[] = {
	{ 1, "data keys", tvs_vault_schema_sql, NULL },
	{ 2, "service schema", v1, NULL },
	{ 3, "rule sets and retention", v3, NULL },
	{ 4, "audit chain", tvs_audit_schema_script, NULL },
	{ 5, "audit key", v5, NULL },
	{ 6, "galleries by location", v6, NULL },
	{ 7, "gallery build queue", v7, NULL },
};
const size_t svc_nmigrations = sizeof(svc_migrations) / sizeof(svc_migrations[0]);
