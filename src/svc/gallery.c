/*
 * The in-memory galleries: one per manifest, built from the stored templates
 * of its travelers' documents, searched by every capture at a location the
 * manifest is served at while its window is open.
 *
 * Galleries are derived data. The store says which are ready, so a restart
 * (or another node) rebuilds them; a rebuild replaces the old one under the
 * write lock only for the pointer swap, and captures search under the read
 * lock. Searches of small galleries run in float (exact and already far
 * below a millisecond); large ones scan int8 and re-rank in float.
 *
 * Several nodes, one store. The galleries table is the truth and each node's
 * list is a cache of it, keyed by manifest and stamped with the built_at of
 * the row it was built from. POST .../gallery builds on the node that got it
 * and writes the row with a built_at that only goes up (at least one past the
 * old one, so two builds in one second still differ). Every capture first
 * asks the store, in one query on the location, which ready galleries serve
 * there now and their built_at (svc_galleries_refresh); a gallery this node
 * lacks or holds an older stamp of is built from the store (read only) and
 * installed. So a build on one node is seen by every other node on its next
 * capture at that location, never sooner and never later; a capture that
 * raced the build may still search the old copy. A copy never replaces a
 * newer one (install), and one thread per node builds a manifest at a time:
 * the others wait when they have no copy, and search the old copy when they
 * have one (no rebuild storm after a rebuild).
 */
#include "svc_int.h"

#include <stdlib.h>
#include <string.h>

#define SVC_FLOAT_SEARCH_MAX 100000

static void gallery_clear(struct svc_gallery *g)
{
	tvs_gallery_destroy(g->g);
	free(g->locations);
	memset(g, 0, sizeof(*g));
}

void svc_galleries_free(struct svc_galleries *g)
{
	for (size_t i = 0; i < g->n; i++)
		gallery_clear(&g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = g->cap = 0;
}

size_t svc_galleries_count(tvs_svc_t *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->gal.lock);
	n = s->gal.n;
	pthread_rwlock_unlock(&s->gal.lock);
	return n;
}

/* Put ng in place of the gallery of the same manifest, or append it; a
 * cached copy built from a newer store row stays (ng is then dropped). */
static int install(tvs_svc_t *s, struct svc_gallery *ng)
{
	struct svc_galleries *G = &s->gal;
	struct svc_gallery old = { 0 };
	size_t i;
	int rc = 0;

	pthread_rwlock_wrlock(&G->lock);
	for (i = 0; i < G->n && G->v[i].manifest_id != ng->manifest_id; i++)
		;
	if (i < G->n && G->v[i].built_at > ng->built_at)
		goto out;
	if (i == G->n && G->n == G->cap) {
		size_t cap = G->cap ? 2 * G->cap : 16;
		struct svc_gallery *v = realloc(G->v, cap * sizeof(*v));

		if (!v) {
			rc = tvs__err(TVS_ENOMEM, "galleries");
			goto out;
		}
		G->v = v;
		G->cap = cap;
	}
	if (i < G->n)
		old = G->v[i];
	else
		G->n++;
	G->v[i] = *ng;
	memset(ng, 0, sizeof(*ng));
out:
	pthread_rwlock_unlock(&G->lock);
	gallery_clear(&old);
	return rc;
}

/* Read manifest_id's gallery from the store through tx (NULL: a read
 * transaction of its own) into ng, with the templates' count in *size, the
 * travelers who have one in *with, and in *gen the build requests it covers
 * (read first: a request after that may not be in the templates). */
static int gallery_read(tvs_svc_t *s, tvs_tx_t *tx, int64_t manifest_id, struct svc_gallery *ng, size_t *size,
			size_t *with, int64_t *gen)
{
	tvs_gallery_config gc = { .model = TVS_MATCH_DEFAULT_MODEL };
	tvs_rows q = { 0 }, m = { 0 }, locs = { 0 }, t = { 0 }, nt = { 0 };
	tvs_tx_t *own = NULL;
	tvs_val id = TVS_VINT(manifest_id);
	int rc = 0;

	ng->manifest_id = manifest_id;
	*with = *size = 0;
	if (!tx) {
		rc = tvs_store_begin(s->store, 0, &own);
		tx = own;
	}
	if (!rc)
		rc = tvs_tx_query(tx, "SELECT queue_gen FROM galleries WHERE manifest_id = ?", &id, 1, &q);
	if (!rc)
		rc = tvs_tx_query(tx, "SELECT opens_at, closes_at FROM manifests WHERE id = ?", &id, 1, &m);
	if (!rc && m.nrows != 1)
		rc = tvs__err(TVS_ENOTFOUND, "manifest %lld", (long long)manifest_id);
	if (!rc)
		rc = tvs_tx_query(tx, "SELECT location_id FROM manifest_locations WHERE manifest_id = ?", &id, 1, &locs);
	if (!rc)
		rc = tvs_tx_query(tx,
				  "SELECT mt.document_id, p.id, p.template, p.template_key FROM manifest_travelers mt"
				  " JOIN portraits p ON p.document_id = mt.document_id"
				  " WHERE mt.manifest_id = ? AND p.template IS NOT NULL ORDER BY mt.document_id, p.id",
				  &id, 1, &t);
	if (!rc)
		rc = tvs_tx_query(tx, "SELECT count(*) FROM manifest_travelers WHERE manifest_id = ?", &id, 1, &nt);
	if (rc)
		goto out;
	*gen = q.nrows ? tvs_rows_int(&q, 0, 0) : 0;
	ng->opens_at = tvs_rows_int(&m, 0, 0);
	ng->closes_at = tvs_rows_int(&m, 0, 1);
	ng->nlocations = locs.nrows;
	ng->locations = calloc(locs.nrows ? locs.nrows : 1, sizeof(*ng->locations));
	if (!ng->locations) {
		rc = tvs__err(TVS_ENOMEM, "gallery");
		goto out;
	}
	for (size_t i = 0; i < locs.nrows; i++)
		ng->locations[i] = tvs_rows_int(&locs, i, 0);
	ng->travelers = (size_t)tvs_rows_int(&nt, 0, 0);
	gc.capacity = t.nrows;
	rc = tvs_gallery_create(&ng->g, &gc);
	for (size_t i = 0; !rc && i < t.nrows; i++) {
		tvs_template tp;

		rc = svc_unseal_template(s, tx, &t, i, 2, &tp);
		if (!rc)
			rc = tvs_gallery_add(ng->g, (uint64_t)tvs_rows_int(&t, i, 0), (uint64_t)tvs_rows_int(&t, i, 1), &tp);
		if (!rc && (i == 0 || tvs_rows_int(&t, i, 0) != tvs_rows_int(&t, i - 1, 0)))
			(*with)++;
	}
	*size = t.nrows;
out:
	tvs_tx_rollback(own); /* read only */
	tvs_rows_free(&q);
	tvs_rows_free(&m);
	tvs_rows_free(&locs);
	tvs_rows_free(&t);
	tvs_rows_free(&nt);
	return rc;
}

/* Build manifest_id's gallery from the store, write its galleries row and
 * audit row through tx (NULL: a write transaction of its own), and install
 * it stamped with the built_at written: now, or one past the old row's, so
 * it only goes up. The row's build request is cleared if the build covers
 * the newest (its queue_gen is still what the build read). */
static int gallery_publish(tvs_svc_t *s, tvs_tx_t *tx, const struct svc_principal *who, int64_t manifest_id,
			   json_t **summary)
{
	struct svc_gallery ng = { 0 };
	tvs_tx_t *own = NULL;
	tvs_rows w = { 0 };
	size_t size, with;
	int64_t gen = 0;
	char at[32], obj[40];
	int rc = gallery_read(s, tx, manifest_id, &ng, &size, &with, &gen);

	if (!rc && !tx) {
		rc = tvs_store_begin(s->store, 1, &own);
		tx = own;
	}
	if (!rc)
		rc = tvs_tx_query(tx,
				  "INSERT INTO galleries (manifest_id, status, size, travelers, missing, built_at)"
				  " VALUES (?, 'ready', ?, ?, ?, ?) ON CONFLICT (manifest_id) DO UPDATE SET"
				  " status = excluded.status, size = excluded.size, travelers = excluded.travelers,"
				  " missing = excluded.missing, built_at = CASE WHEN excluded.built_at > galleries.built_at"
				  " THEN excluded.built_at ELSE galleries.built_at + 1 END,"
				  " queued_at = CASE WHEN galleries.queue_gen = ? THEN NULL ELSE galleries.queued_at END"
				  " RETURNING built_at",
				  (tvs_val[]){ TVS_VINT(manifest_id), TVS_VINT(size), TVS_VINT(ng.travelers),
					       TVS_VINT(ng.travelers - with), TVS_VINT(svc_now(s)), TVS_VINT(gen) },
				  6, &w);
	if (!rc && w.nrows != 1)
		rc = tvs__err(TVS_EIO, "gallery %lld: no row written", (long long)manifest_id);
	snprintf(obj, sizeof(obj), "manifest:%lld", (long long)manifest_id);
	if (!rc)
		rc = svc_audit(s, tx, who, "gallery.build", obj, NULL);
	if (!rc && own) {
		rc = tvs_tx_commit(own);
		own = NULL;
	}
	if (rc)
		goto out;
	ng.built_at = tvs_rows_int(&w, 0, 0);
	svc_time_str(ng.built_at, at);
	if (summary)
		*summary = json_pack("{s:I,s:s,s:I,s:I,s:I,s:s}", "manifest_id", (json_int_t)manifest_id, "status",
				     "ready", "size", (json_int_t)size, "travelers", (json_int_t)ng.travelers,
				     "missing", (json_int_t)(ng.travelers - with), "built_at", at);
	/* a caller's tx may still roll back: then another node (or this one)
	 * builds it again, and this copy is as good as that one */
	rc = install(s, &ng);
out:
	tvs_tx_rollback(own);
	gallery_clear(&ng);
	tvs_rows_free(&w);
	return rc;
}

/* Build manifest_id's gallery from the store and install it stamped with
 * built_at, the store row's value read before the templates were. */
static int gallery_load(tvs_svc_t *s, int64_t manifest_id, int64_t built_at)
{
	struct svc_gallery ng = { 0 };
	size_t size, with;
	int64_t gen;
	int rc = gallery_read(s, NULL, manifest_id, &ng, &size, &with, &gen);

	ng.built_at = built_at;
	if (!rc)
		rc = install(s, &ng);
	gallery_clear(&ng);
	return rc;
}

int svc_gallery_build(tvs_svc_t *s, const struct svc_principal *who, int64_t manifest_id, json_t **summary)
{
	return gallery_publish(s, NULL, who, manifest_id, summary);
}

int svc_galleries_restore(tvs_svc_t *s)
{
	tvs_rows r = { 0 };
	int rc = tvs_store_query(s->store,
				 "SELECT g.manifest_id, g.built_at FROM galleries g JOIN manifests m ON m.id = g.manifest_id"
				 " WHERE g.status = 'ready' AND m.closes_at > ? ORDER BY g.manifest_id",
				 (tvs_val[]){ TVS_VINT(svc_now(s)) }, 1, &r);

	/* built from the rows as they are: a restart is not a rebuild, so other
	 * nodes keep their copies */
	for (size_t i = 0; !rc && i < r.nrows; i++)
		rc = gallery_load(s, tvs_rows_int(&r, i, 0), tvs_rows_int(&r, i, 1));
	tvs_rows_free(&r);
	return rc;
}

/* ------------------------------------------------------ queued builds */

/* A build request bumps the row's queue_gen; queued_at keeps the time of the
 * oldest one not yet built. A build clears it only if it read the newest
 * gen, so a portrait enrolled while a build runs queues one more. */
#define GALLERY_REQUEST_UPSERT                                                                   \
	" ON CONFLICT (manifest_id) DO UPDATE SET queue_gen = galleries.queue_gen + 1,"         \
	" queued_at = COALESCE(galleries.queued_at, excluded.queued_at)"

int svc_gallery_request(tvs_tx_t *tx, int64_t manifest_id, int64_t now)
{
	return tvs_tx_exec(tx,
			   "INSERT INTO galleries (manifest_id, status, size, travelers, missing, built_at, queued_at,"
			   " queue_gen) VALUES (?, 'queued', 0, 0, 0, 0, ?, 1)" GALLERY_REQUEST_UPSERT,
			   (tvs_val[]){ TVS_VINT(manifest_id), TVS_VINT(now) }, 2, NULL);
}

int svc_gallery_request_for_document(tvs_tx_t *tx, int64_t document_id, int64_t now, int64_t *n)
{
	return tvs_tx_exec(tx,
			   "INSERT INTO galleries (manifest_id, status, size, travelers, missing, built_at, queued_at,"
			   " queue_gen) SELECT mt.manifest_id, 'queued', 0, 0, 0, 0, ?, 1 FROM manifest_travelers mt"
			   " JOIN manifests m ON m.id = mt.manifest_id WHERE mt.document_id = ? AND m.closes_at > ?"
			   GALLERY_REQUEST_UPSERT,
			   (tvs_val[]){ TVS_VINT(now), TVS_VINT(document_id), TVS_VINT(now) }, 3, n);
}

static const struct svc_principal builder = { .role = 0, .id = 0, .name = "system:galleries" };

/* The oldest request. On PostgreSQL the claim is a row lock held by the
 * build's own transaction (FOR UPDATE SKIP LOCKED): nodes polling at once
 * each take another gallery, and a node that dies mid-build rolls back, which
 * frees the request for the next poll of any node. SQLite is one node, whose
 * one worker thread builds one gallery at a time: the build reads in its own
 * transaction and writes in a short one, not holding the writer lock
 * through the build. */
static const char *const claim_sql[2] = {
	"SELECT manifest_id FROM galleries WHERE queued_at IS NOT NULL ORDER BY queued_at, manifest_id LIMIT 1",
	"SELECT manifest_id FROM galleries WHERE queued_at IS NOT NULL ORDER BY queued_at, manifest_id LIMIT 1"
	" FOR UPDATE SKIP LOCKED",
};

/* Build one requested gallery: *built 1, or 0 when there is none this node
 * may take. */
static int gallery_job(tvs_svc_t *s, int *built)
{
	int pg = !strcmp(tvs_store_backend(s->store), "postgresql");
	tvs_tx_t *tx = NULL;
	tvs_rows r = { 0 };
	json_t *sum = NULL;
	int rc;

	*built = 0;
	/* one plain read when nothing is queued, the usual case: an idle poll
	 * costs the store one statement per node, not a transaction */
	rc = tvs_store_query(s->store, claim_sql[0], NULL, 0, &r);
	if (!rc && r.nrows == 1 && pg) {
		tvs_rows_free(&r);
		rc = tvs_store_begin(s->store, 1, &tx);
		if (!rc)
			rc = tvs_tx_query(tx, claim_sql[1], NULL, 0, &r);
	}
	if (!rc && r.nrows == 1)
		rc = gallery_publish(s, tx, &builder, tvs_rows_int(&r, 0, 0), &sum);
	if (!rc && tx)
		rc = tvs_tx_commit(tx);
	else
		tvs_tx_rollback(tx);
	if (!rc && sum) {
		*built = 1;
		svc_event_publish(s, "gallery", sum);
	} else {
		json_decref(sum);
	}
	tvs_rows_free(&r);
	return rc;
}

int svc_gallery_jobs_tick(tvs_svc_t *s)
{
	int built, rc;

	do
		rc = gallery_job(s, &built);
	while (!rc && built);
	return rc;
}

/* ---------------------------------------------------- builds on demand */

/* The manifests being built on demand, one entry (on its builder's stack)
 * each, for every service in the process; guarded by build_mu, waited on
 * through build_cv. */
struct building {
	const tvs_svc_t *s;
	int64_t manifest_id;
	struct building *next;
};

static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t build_cv = PTHREAD_COND_INITIALIZER;
static struct building *builds;

static int is_building(const tvs_svc_t *s, int64_t manifest_id)
{
	for (const struct building *b = builds; b; b = b->next)
		if (b->s == s && b->manifest_id == manifest_id)
			return 1;
	return 0;
}

/* The stamp of this node's copy of manifest_id's gallery; 0: none. */
static int cached_built_at(tvs_svc_t *s, int64_t manifest_id, int64_t *built_at)
{
	int have = 0;

	pthread_rwlock_rdlock(&s->gal.lock);
	for (size_t i = 0; i < s->gal.n && !have; i++)
		if (s->gal.v[i].manifest_id == manifest_id) {
			*built_at = s->gal.v[i].built_at;
			have = 1;
		}
	pthread_rwlock_unlock(&s->gal.lock);
	return have;
}

/* Make this node's copy of manifest_id at least as new as built_at (the
 * store's stamp), unless another thread is building it and a copy exists. */
static int gallery_catch_up(tvs_svc_t *s, int64_t manifest_id, int64_t built_at)
{
	struct building me = { .s = s, .manifest_id = manifest_id };
	int64_t have_at = 0;
	int have, rc;

	for (;;) {
		have = cached_built_at(s, manifest_id, &have_at);
		if (have && have_at >= built_at)
			return 0;
		pthread_mutex_lock(&build_mu);
		if (!is_building(s, manifest_id))
			break; /* with build_mu held */
		if (have) {
			pthread_mutex_unlock(&build_mu);
			return 0; /* search the old copy meanwhile */
		}
		pthread_cond_wait(&build_cv, &build_mu);
		pthread_mutex_unlock(&build_mu);
	}
	me.next = builds;
	builds = &me;
	pthread_mutex_unlock(&build_mu);

	rc = gallery_load(s, manifest_id, built_at);

	pthread_mutex_lock(&build_mu);
	for (struct building **p = &builds; *p; p = &(*p)->next)
		if (*p == &me) {
			*p = me.next;
			break;
		}
	pthread_cond_broadcast(&build_cv);
	pthread_mutex_unlock(&build_mu);
	return rc;
}

int svc_galleries_refresh(tvs_svc_t *s, int64_t location_id, int64_t now)
{
	tvs_rows r = { 0 };
	/* one indexed lookup per capture: manifest_locations_location
	 * (migration 6) starts it from the location */
	int rc = tvs_store_query(s->store,
				 "SELECT g.manifest_id, g.built_at FROM manifest_locations ml"
				 " JOIN galleries g ON g.manifest_id = ml.manifest_id"
				 " JOIN manifests m ON m.id = ml.manifest_id"
				 " WHERE ml.location_id = ? AND g.status = 'ready' AND m.opens_at <= ? AND m.closes_at > ?",
				 (tvs_val[]){ TVS_VINT(location_id), TVS_VINT(now), TVS_VINT(now) }, 3, &r);

	for (size_t i = 0; i < r.nrows; i++) {
		int brc = gallery_catch_up(s, tvs_rows_int(&r, i, 0), tvs_rows_int(&r, i, 1));

		if (brc && !rc)
			rc = brc;
	}
	tvs_rows_free(&r);
	return rc;
}

static int serves(const struct svc_gallery *g, int64_t location_id, int64_t now)
{
	if (now < g->opens_at || now >= g->closes_at)
		return 0;
	for (size_t i = 0; i < g->nlocations; i++)
		if (g->locations[i] == location_id)
			return 1;
	return 0;
}

size_t svc_galleries_serving(tvs_svc_t *s, int64_t location_id, int64_t now)
{
	size_t n = 0;

	pthread_rwlock_rdlock(&s->gal.lock);
	for (size_t i = 0; i < s->gal.n; i++)
		n += serves(&s->gal.v[i], location_id, now);
	pthread_rwlock_unlock(&s->gal.lock);
	return n;
}

/* Merge hit h (from manifest mid) into the fused top list: one entry per
 * subject with its best score. */
static void merge(struct svc_search *o, const tvs_match_hit *h, int64_t mid)
{
	int i, n = o->nhits;

	for (i = 0; i < n; i++)
		if (o->hits[i].subject_id == h->subject_id)
			break;
	if (i < n) {
		if (h->score <= o->hits[i].score)
			return;
		/* take it out; it goes back in at its new rank */
		memmove(&o->hits[i], &o->hits[i + 1], (size_t)(n - i - 1) * sizeof(o->hits[0]));
		memmove(&o->manifest_id[i], &o->manifest_id[i + 1], (size_t)(n - i - 1) * sizeof(o->manifest_id[0]));
		n--;
	}
	for (i = n; i > 0 && o->hits[i - 1].score < h->score; i--)
		;
	if (i >= 3)
		return;
	if (n == 3)
		n--;
	memmove(&o->hits[i + 1], &o->hits[i], (size_t)(n - i) * sizeof(o->hits[0]));
	memmove(&o->manifest_id[i + 1], &o->manifest_id[i], (size_t)(n - i) * sizeof(o->manifest_id[0]));
	o->hits[i] = *h;
	o->manifest_id[i] = mid;
	o->nhits = n + 1;
}

int svc_gallery_search(tvs_svc_t *s, int64_t location_id, int64_t now, const tvs_template *probe,
		       struct svc_search *out)
{
	struct svc_galleries *G = &s->gal;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&G->lock);
	for (size_t i = 0; !rc && i < G->n; i++) {
		const struct svc_gallery *g = &G->v[i];
		size_t count = tvs_gallery_count(g->g);
		tvs_search_opts o = { .k = 3, .fuse = 1, .impl = TVS_MATCH_IMPL_AUTO };
		tvs_match_hit hits[3];
		int nh = 0;

		if (!serves(g, location_id, now))
			continue;
		out->ngalleries++;
		if (count > out->gallery_size)
			out->gallery_size = count;
		o.mode = count > SVC_FLOAT_SEARCH_MAX ? TVS_MATCH_INT8_RERANK : TVS_MATCH_FLOAT;
		rc = tvs_gallery_search(g->g, probe, &o, hits, &nh);
		for (int k = 0; !rc && k < nh; k++)
			merge(out, &hits[k], g->manifest_id);
	}
	pthread_rwlock_unlock(&G->lock);
	return rc;
}
