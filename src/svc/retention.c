/*
 * Rule sets and retention in the service. Every encounter is stamped, in the
 * transaction that stores it, with the deployment's rule set, what that rule
 * set says of the traveler (must photograph, voluntary, exempt), the
 * traveler category, and the two times policy.c derives: when its image and
 * template must be gone, and when the row itself must. Retention is then a
 * scan of those times, so the job is cheap, any node can run it, and an
 * auditor can read every decision's deadline from the row.
 *
 * Deletion is cryptographic first: the record's data key is shredded, then
 * the sealed columns are cleared or the row deleted, then the vault scrubs
 * (SQLite: the WAL is checkpointed, so the shredded key leaves the disk;
 * PostgreSQL: VACUUM keys, which frees the old version but cannot wipe it;
 * docs/deletion.md).
 */
#include "svc/svc_int.h"

#include "tvs/policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* -------------------------------------------------------------- assess */

static int policy_decision(int d)
{
	int out = TVS_DECISION_NO_MATCH;

	tvs_policy_decision_by_name(svc_decision_name(d), &out);
	return out;
}

/* The place: the location's direction and its port's mode, kind and pilot
 * designation. */
static int context_of(tvs_tx_t *tx, int64_t location, int64_t captured_at, tvs_policy_context *c)
{
	tvs_rows r = { 0 };
	int rc = tvs_tx_query(tx,
			      "SELECT l.direction, p.mode, p.kind, p.pilot_designated FROM locations l"
			      " JOIN ports p ON p.id = l.port_id WHERE l.id = ?",
			      (tvs_val[]){ TVS_VINT(location) }, 1, &r);

	memset(c, 0, sizeof(*c));
	if (!rc && r.nrows != 1)
		rc = tvs__err(TVS_ENOTFOUND, "location %lld", (long long)location);
	if (!rc)
		rc = tvs_policy_direction_by_name(tvs_rows_text(&r, 0, 0), &c->direction);
	if (!rc)
		rc = tvs_policy_mode_by_name(tvs_rows_text(&r, 0, 1), &c->mode);
	if (!rc && tvs_policy_port_kind_by_name(tvs_rows_text(&r, 0, 2), &c->port_kind))
		/* a kind policy does not name (a heliport): the mode's main kind */
		c->port_kind = c->mode == TVS_MODE_LAND ? TVS_PORT_LAND_PORT
			     : c->mode == TVS_MODE_SEA	 ? TVS_PORT_SEAPORT
							 : TVS_PORT_AIRPORT;
	if (!rc) {
		c->pilot_designated = (int)tvs_rows_int(&r, 0, 3);
		rc = tvs_policy_date_of(captured_at, 0, &c->date);
	}
	tvs_rows_free(&r);
	return rc;
}

/* The matched traveler as the manifest and the document know them. */
static int traveler_of(tvs_tx_t *tx, int64_t manifest, int64_t doc, tvs_policy_traveler *t)
{
	tvs_rows r = { 0 };
	int rc = tvs_tx_query(tx,
			      "SELECT mt.citizen, d.birth_date, d.nationality FROM manifest_travelers mt"
			      " JOIN documents d ON d.id = mt.document_id WHERE mt.manifest_id = ? AND mt.document_id = ?",
			      (tvs_val[]){ TVS_VINT(manifest), TVS_VINT(doc) }, 2, &r);

	memset(t, 0, sizeof(*t));
	t->citizen = TVS_CITIZEN_UNKNOWN;
	if (!rc && r.nrows == 1) {
		t->citizen = tvs_rows_int(&r, 0, 0) ? TVS_CITIZEN_YES : TVS_CITIZEN_NO;
		if (!tvs_rows_is_null(&r, 0, 1) && tvs_policy_date_parse(tvs_rows_text(&r, 0, 1), &t->birth))
			memset(&t->birth, 0, sizeof(t->birth));
		if (!tvs_rows_is_null(&r, 0, 2))
			snprintf(t->nationality, sizeof(t->nationality), "%s", tvs_rows_text(&r, 0, 2));
	}
	tvs_rows_free(&r);
	return rc;
}

int svc_policy_assess(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_policy_in *in, struct svc_policy_out *out)
{
	tvs_policy_context c;
	tvs_policy_traveler t = { .citizen = TVS_CITIZEN_UNKNOWN };
	tvs_policy_applicability a;
	tvs_policy_facts f = { 0 };
	tvs_policy_retention ret;
	int known = in->decision == D_MATCH && in->manifest_id && in->matched_doc;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = context_of(tx, in->location_id, in->captured_at, &c);
	if (!rc && known)
		rc = traveler_of(tx, in->manifest_id, in->matched_doc, &t);
	if (!rc)
		rc = tvs_policy_assess_traveler(s->rules, &t, &c, &a);
	if (rc)
		return rc;
	f.decision = policy_decision(in->decision);
	f.citizen = t.citizen;
	f.exempt = known && a.applies == TVS_APPLIES_EXEMPT;
	f.status = TVS_STATUS_PENDING;
	f.captured_at = in->captured_at;
	/* a match against the manifest confirms the nationality it lists */
	f.nationality_confirmed_at = known && t.citizen == TVS_CITIZEN_YES ? in->captured_at : 0;
	rc = tvs_policy_assess_retention(&f, &s->terms, &ret);
	if (rc)
		return rc;
	out->rule_set = tvs_policy_rules_name(s->rules);
	out->applies = tvs_policy_applies_name(a.applies);
	out->citizen = tvs_policy_citizen_name(t.citizen);
	out->exempt = f.exempt;
	out->category = tvs_policy_category_name(ret.category);
	out->confirmed_at = f.nationality_confirmed_at;
	out->bio_purge_at = ret.biometric_purge_at;
	out->record_purge_at = ret.record_purge_at;
	/* nothing is stored that would be due at once */
	out->keep_image = ret.keep_image && ret.biometric_purge_at > in->captured_at;
	snprintf(out->reason, sizeof(out->reason), "%s", a.reason);
	return 0;
}

/* Shred encounter id's image key and clear its sealed columns, in tx. */
static int purge_biometrics(tvs_tx_t *tx, int64_t id, int64_t now)
{
	tvs_rows r = { 0 };
	int rc = tvs_tx_query(tx, "SELECT image_key FROM encounters WHERE id = ? AND image_key IS NOT NULL",
			      (tvs_val[]){ TVS_VINT(id) }, 1, &r);

	if (!rc && r.nrows == 1)
		rc = tvs_vault_shred(tx, tvs_rows_int(&r, 0, 0), now);
	if (!rc)
		rc = tvs_tx_exec(tx,
				 "UPDATE encounters SET image = NULL, image_key = NULL, image_type = NULL, purged_at = ?"
				 " WHERE id = ?",
				 (tvs_val[]){ TVS_VINT(now), TVS_VINT(id) }, 2, NULL);
	tvs_rows_free(&r);
	return rc;
}

int svc_policy_resolve(tvs_svc_t *s, tvs_tx_t *tx, int64_t id, int64_t now, const char *resolved_as)
{
	tvs_rows r = { 0 };
	tvs_policy_facts f = { 0 };
	tvs_policy_retention ret;
	int rc = tvs_tx_query(tx,
			      "SELECT decision, citizen, exempt, captured_at, confirmed_at, image_key IS NULL"
			      " FROM encounters WHERE id = ?",
			      (tvs_val[]){ TVS_VINT(id) }, 1, &r);

	if (!rc && r.nrows != 1)
		rc = tvs__err(TVS_ENOTFOUND, "encounter %lld", (long long)id);
	if (!rc)
		rc = tvs_policy_decision_by_name(tvs_rows_text(&r, 0, 0), &f.decision);
	if (!rc && tvs_policy_citizen_by_name(tvs_rows_text(&r, 0, 1), &f.citizen))
		f.citizen = TVS_CITIZEN_UNKNOWN;
	if (!rc && tvs_policy_citizen_by_name(resolved_as, &f.resolved_as))
		rc = tvs__err(TVS_EINVAL, "citizen must be yes, no or unknown");
	if (!rc) {
		f.exempt = (int)tvs_rows_int(&r, 0, 2);
		f.captured_at = tvs_rows_int(&r, 0, 3);
		f.nationality_confirmed_at = tvs_rows_int(&r, 0, 4);
		f.biometrics_purged = (int)tvs_rows_int(&r, 0, 5);
		f.status = TVS_STATUS_RESOLVED;
		f.resolved_at = now > f.captured_at ? now : f.captured_at;
		rc = tvs_policy_assess_retention(&f, &s->terms, &ret);
	}
	/* due already (a citizen's capture): gone with the resolution, not at
	 * the next retention run */
	if (!rc && !f.biometrics_purged && ret.biometric_purge_at <= now)
		rc = purge_biometrics(tx, id, now);
	if (!rc)
		rc = tvs_tx_exec(tx,
				 "UPDATE encounters SET resolved_at = ?, resolved_as = ?, category = ?, bio_purge_at = ?,"
				 " record_purge_at = ? WHERE id = ?",
				 (tvs_val[]){ TVS_VINT(f.resolved_at), TVS_VTEXT(resolved_as),
					      TVS_VTEXT(tvs_policy_category_name(ret.category)),
					      TVS_VINT(ret.biometric_purge_at), TVS_VINT(ret.record_purge_at), TVS_VINT(id) },
				 6, NULL);
	tvs_rows_free(&r);
	return rc;
}

/* ----------------------------------------------------------------- run */

static const struct svc_principal retention_actor = { .role = 0, .id = 0, .name = "system:retention" };

/* The due rows of one batch. On PostgreSQL, nodes running retention at once
 * each claim their own rows (FOR UPDATE SKIP LOCKED): none takes a row
 * another holds, and a node that dies mid-batch rolls back and frees its rows
 * for the next run. SQLite has no FOR UPDATE; its write transaction already
 * lets one writer at a time. */
static const char *const due_sql[2][2] = {
	{ "SELECT id, category FROM encounters WHERE image_key IS NOT NULL"
	  " AND bio_purge_at <= ? ORDER BY id LIMIT ?",
	  "SELECT id, category FROM encounters WHERE record_purge_at <= ?"
	  " ORDER BY id LIMIT ?" },
	{ "SELECT id, category FROM encounters WHERE image_key IS NOT NULL"
	  " AND bio_purge_at <= ? ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
	  "SELECT id, category FROM encounters WHERE record_purge_at <= ?"
	  " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED" },
};

/* One batch of due encounters: shred, clear or delete, audit, commit.
 * *n gets how many were handled (0: nothing left). */
static int purge_batch(tvs_svc_t *s, int64_t now, int whole, size_t *n)
{
	int pg = !strcmp(tvs_store_backend(s->store), "postgresql");
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	int rc;

	*n = 0;
	rc = tvs_store_begin(s->store, 1, &tx);
	if (!rc)
		rc = tvs_tx_query(tx, due_sql[pg][whole], (tvs_val[]){ TVS_VINT(now), TVS_VINT(s->cfg.retention_batch) }, 2,
				  &r);
	for (size_t i = 0; !rc && i < r.nrows; i++) {
		int64_t id = tvs_rows_int(&r, i, 0);
		char obj[40];

		rc = purge_biometrics(tx, id, now);
		if (!rc && whole)
			rc = tvs_tx_exec(tx, "DELETE FROM officer_actions WHERE encounter_id = ?",
					 (tvs_val[]){ TVS_VINT(id) }, 1, NULL);
		if (!rc && whole)
			rc = tvs_tx_exec(tx, "DELETE FROM encounters WHERE id = ?", (tvs_val[]){ TVS_VINT(id) }, 1, NULL);
		snprintf(obj, sizeof(obj), "encounter:%lld", (long long)id);
		if (!rc)
			rc = svc_audit(s, tx, &retention_actor, whole ? "retention.purge_record" : "retention.purge_biometrics",
				       obj, tvs_rows_text(&r, i, 1));
	}
	if (!rc) {
		*n = r.nrows;
		rc = tvs_tx_commit(tx);
		tx = NULL;
	}
	tvs_tx_rollback(tx);
	tvs_rows_free(&r);
	return rc;
}

int svc_retention_run(tvs_svc_t *s, int64_t now, struct svc_retention_stats *st)
{
	size_t n;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->retention_mu); /* the scheduler and an admin's run take turns */
	for (int whole = 0; whole < 2 && !rc; whole++)
		do {
			rc = purge_batch(s, now, whole, &n);
			if (whole)
				st->records += n;
			else
				st->biometrics += n;
		} while (!rc && n == (size_t)s->cfg.retention_batch);
	if (!rc && st->biometrics + st->records > 0) {
		/* the shredded keys leave the WAL too; a busy reader only delays that */
		int src = tvs_vault_scrub(s->store);

		st->scrubbed = src == 0;
	}
	pthread_mutex_unlock(&s->retention_mu);
	return rc;
}

/* ------------------------------------------------------------- report */

int svc_retention_report(tvs_svc_t *s, int64_t now, json_t **out)
{
	tvs_rows r = { 0 };
	json_t *cats;
	int rc = tvs_store_query(
		s->store,
		"SELECT category, count(*), count(*) FILTER (WHERE image_key IS NOT NULL),"
		" min(CASE WHEN image_key IS NOT NULL THEN captured_at END),"
		" min(CASE WHEN image_key IS NOT NULL THEN bio_purge_at END),"
		" count(*) FILTER (WHERE image_key IS NOT NULL AND bio_purge_at <= ?), min(record_purge_at),"
		" min(captured_at) FROM encounters GROUP BY category ORDER BY category NULLS FIRST",
		(tvs_val[]){ TVS_VINT(now) }, 1, &r);

	*out = NULL;
	if (rc)
		return rc;
	cats = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		char oldest[32] = "", limit[32] = "", rec[32] = "", first[32] = "";
		int held = !tvs_rows_is_null(&r, i, 3);
		int64_t bio = tvs_rows_int(&r, i, 4), recp = tvs_rows_int(&r, i, 6);

		if (held)
			svc_time_str(tvs_rows_int(&r, i, 3), oldest);
		if (held && bio != TVS_POLICY_HELD)
			svc_time_str(bio, limit);
		if (recp != TVS_POLICY_HELD)
			svc_time_str(recp, rec);
		svc_time_str(tvs_rows_int(&r, i, 7), first);
		json_array_append_new(
			cats, json_pack("{s:s?,s:I,s:I,s:s?,s:s?,s:b,s:I,s:s,s:s?}", "category",
					tvs_rows_is_null(&r, i, 0) ? NULL : tvs_rows_text(&r, i, 0), "encounters",
					(json_int_t)tvs_rows_int(&r, i, 1), "with_biometrics",
					(json_int_t)tvs_rows_int(&r, i, 2), "oldest_biometrics", held ? oldest : NULL,
					"oldest_biometrics_purge_at", limit[0] ? limit : NULL, "held_until_resolved",
					held && bio == TVS_POLICY_HELD, "overdue", (json_int_t)tvs_rows_int(&r, i, 5),
					"oldest_record", first, "next_record_purge_at", rec[0] ? rec : NULL));
	}
	tvs_rows_free(&r);
	*out = json_pack("{s:s,s:o}", "rule_set", tvs_policy_rules_name(s->rules), "categories", cats);
	return *out ? 0 : tvs__err(TVS_ENOMEM, "retention report");
}

/* ---------------------------------------------------------- scheduler */

int svc_retention_tick(tvs_svc_t *s)
{
	struct svc_retention_stats st;

	return svc_retention_run(s, svc_now(s), &st);
}

/* ------------------------------------------------------------ routes */

SVC_HANDLER(h_report_retention)
{
	json_t *j = NULL;
	int rc = svc_retention_report(s, svc_now(s), &j);

	if (rc)
		svc_reply_rc(resp, rc, "retention report");
	else
		svc_reply_json(resp, 200, j);
}

/* An admin's "purge now", e.g. after changing a term; the scheduler does
 * the same every retention interval. */
SVC_HANDLER(h_retention_run)
{
	struct svc_retention_stats st;
	int rc = svc_retention_run(s, svc_now(s), &st);

	if (rc) {
		svc_reply_rc(resp, rc, "retention");
		return;
	}
	svc_reply_json(resp, 200, json_pack("{s:I,s:I,s:b}", "biometrics_purged", (json_int_t)st.biometrics,
					    "records_purged", (json_int_t)st.records, "wal_scrubbed", st.scrubbed));
}

/* ------------------------------------------------------ admin commands */

int tvs_svc_retention_run(tvs_svc_t *s, int64_t now, char **json)
{
	struct svc_retention_stats st;
	int rc = svc_retention_run(s, now, &st);
	json_t *j;

	*json = NULL;
	if (rc)
		return rc;
	j = json_pack("{s:I,s:I,s:b}", "biometrics_purged", (json_int_t)st.biometrics, "records_purged",
		      (json_int_t)st.records, "wal_scrubbed", st.scrubbed);
	*json = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return *json ? 0 : tvs__err(TVS_ENOMEM, "retention");
}

int tvs_svc_retention_report(tvs_svc_t *s, int64_t now, char **json)
{
	json_t *j = NULL;
	int rc = svc_retention_report(s, now, &j);

	*json = NULL;
	if (rc)
		return rc;
	*json = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return *json ? 0 : tvs__err(TVS_ENOMEM, "retention report");
}
