/*
 * Unit tests for templates and 1:N search (src/match/template.c,
 * gallery.c and the search kernels).
 *
 * Search is checked three ways on random data: the SIMD kernels against the
 * scalar references in gallery.c (bit-identical ids and scores, float and
 * int8), the gallery against a naive brute force written here on the
 * templates themselves (double-precision dots for float, int32 dots of the
 * templates' own int8 form for int8), and int8 against float for recall@1
 * on clustered data. Then fusion by max on hand-built cases, add/remove
 * churn, model mismatch, the byte format against truncation and corruption,
 * and threads against one thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "match/match_int.h"
#include "test_simd.h"
#include "tvs/error.h"
#include "tvs/match.h"
#include "tvs/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODEL TVS_MATCH_DEFAULT_MODEL
#define D TVS_MATCH_DIM

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static float gauss(void)
{
	double u = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
	double v = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
	return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static void rand_vec(float *v)
{
	for (int k = 0; k < D; k++)
		v[k] = gauss();
}

/* A sample of identity c: centre + noise, same-identity cosine ~0.75. */
static void sample_of(const float *centre, float *v)
{
	for (int k = 0; k < D; k++)
		v[k] = centre[k] + 0.55f * gauss();
}

static void make_tpl(tvs_template *t, const float *v)
{
	assert_int_equal(tvs_match_template_init(t, MODEL, 1, v, D), 0);
}

/* ------------------------------------------------------------ naive search */

typedef struct entry {
	uint64_t subj, tid;
	tvs_template t;
	int live;
} entry;

static int hit_before(const tvs_match_hit *a, const tvs_match_hit *b)
{
	return a->score > b->score || (a->score == b->score && a->template_id < b->template_id);
}

static float naive_score(const tvs_template *p, const tvs_template *e, int mode)
{
	if (mode == TVS_MATCH_INT8) {
		int32_t d = 0;
		for (int k = 0; k < D; k++)
			d += p->q[k] * e->q[k];
		return (float)d * (p->qscale * e->qscale);
	}
	double s = 0.0;
	for (int k = 0; k < D; k++)
		s += (double)p->v[k] * e->v[k];
	return (float)s;
}

/* Brute force: score everything, keep the best per subject if fused, sort. */
static int naive_search(const entry *es, size_t n, const tvs_template *p, int mode, int fuse, int k,
			tvs_match_hit *out)
{
	tvs_match_hit *all = malloc((n ? n : 1) * sizeof(*all));
	size_t m = 0;

	assert_non_null(all);
	for (size_t i = 0; i < n; i++) {
		if (!es[i].live)
			continue;
		tvs_match_hit h = {es[i].subj, es[i].tid, naive_score(p, &es[i].t, mode)};
		size_t j = 0;
		if (fuse)
			for (j = 0; j < m && all[j].subject_id != h.subject_id; j++)
				;
		if (fuse && j < m) {
			if (hit_before(&h, &all[j]))
				all[j] = h;
		} else {
			all[m++] = h;
		}
	}
	/* selection of the k best */
	int got = 0;
	for (; got < k && (size_t)got < m; got++) {
		size_t b = (size_t)got;
		for (size_t i = (size_t)got + 1; i < m; i++)
			if (hit_before(&all[i], &all[b]))
				b = i;
		tvs_match_hit x = all[got];
		all[got] = all[b];
		all[b] = x;
		out[got] = all[got];
	}
	free(all);
	return got;
}

static void expect_same_hits(const tvs_match_hit *a, int na, const tvs_match_hit *b, int nb, float tol)
{
	assert_int_equal(na, nb);
	for (int i = 0; i < na; i++) {
		if (a[i].template_id != b[i].template_id || a[i].subject_id != b[i].subject_id ||
		    !(fabsf(a[i].score - b[i].score) <= tol)) {
			print_error("hit %d: tid %llu subj %llu score %.9g vs tid %llu subj %llu score %.9g\n", i,
				    (unsigned long long)a[i].template_id, (unsigned long long)a[i].subject_id,
				    a[i].score, (unsigned long long)b[i].template_id,
				    (unsigned long long)b[i].subject_id, b[i].score);
			fail();
		}
	}
}

static tvs_gallery_t *build_random(entry **pes, size_t n, int nsubj)
{
	tvs_gallery_config cfg = {MODEL, 0};
	tvs_gallery_t *g;
	entry *es = calloc(n, sizeof(*es));
	float v[D];

	assert_non_null(es);
	assert_int_equal(tvs_gallery_create(&g, &cfg), 0);
	for (size_t i = 0; i < n; i++) {
		rand_vec(v);
		make_tpl(&es[i].t, v);
		es[i].subj = 1000 + rnd() % (uint64_t)nsubj;
		es[i].tid = 7 * i + 3;
		es[i].live = 1;
		assert_int_equal(tvs_gallery_add(g, es[i].subj, es[i].tid, &es[i].t), 0);
	}
	assert_int_equal(tvs_gallery_count(g), n);
	*pes = es;
	return g;
}

static int hit_cmp(const void *a, const void *b)
{
	return hit_before(a, b) ? -1 : hit_before(b, a) ? 1 : 0;
}

/* Re-rank reference: int8 brute force for max(2k, k+16) candidates (entries,
 * or subjects when fused), float scores for those (with fusion, the float
 * best of all the subject's entries), best k. */
static int naive_rerank(const entry *es, size_t n, const tvs_template *p, int fuse, int k, tvs_match_hit *out)
{
	tvs_match_hit c[64];
	int kc = 2 * k > k + 16 ? 2 * k : k + 16;
	int m = naive_search(es, n, p, TVS_MATCH_INT8, fuse, kc, c);

	for (int i = 0; i < m; i++) {
		int first = 1;
		for (size_t j = 0; j < n; j++) {
			if (!es[j].live || (fuse ? es[j].subj != c[i].subject_id : es[j].tid != c[i].template_id))
				continue;
			tvs_match_hit h = {es[j].subj, es[j].tid, naive_score(p, &es[j].t, TVS_MATCH_FLOAT)};
			if (first || hit_before(&h, &c[i]))
				c[i] = h;
			first = 0;
		}
	}
	qsort(c, (size_t)m, sizeof(c[0]), hit_cmp);
	m = m < k ? m : k;
	memcpy(out, c, (size_t)m * sizeof(*out));
	return m;
}

/* The kernels, the scalar references and the brute force agree. */
static void search_matches_reference(void **state)
{
	const size_t n = 2003; /* a partial last block */
	entry *es;
	tvs_gallery_t *g = build_random(&es, n, 400);
	tvs_match_hit a[TVS_MATCH_K_MAX], b[TVS_MATCH_K_MAX], c[TVS_MATCH_K_MAX];
	float v[D];
	tvs_template p;

	(void)state;
	for (int it = 0; it < 20; it++) {
		rand_vec(v);
		make_tpl(&p, v);
		for (int mode = 0; mode < 3; mode++) {
			for (int fuse = 0; fuse < 2; fuse++) {
				int k = it % 2 ? TVS_MATCH_K_MAX : 1 + it % 7, na, nb, nc;
				tvs_search_opts o = {k, mode, fuse, TVS_MATCH_IMPL_AUTO, NULL};
				assert_int_equal(tvs_gallery_search(g, &p, &o, a, &na), 0);
				o.impl = TVS_MATCH_IMPL_REF;
				assert_int_equal(tvs_gallery_search(g, &p, &o, b, &nb), 0);
				expect_same_hits(a, na, b, nb, 0.0f); /* bit for bit */
				if (mode == TVS_MATCH_INT8_RERANK)
					nc = naive_rerank(es, n, &p, fuse, k, c);
				else
					nc = naive_search(es, n, &p, mode, fuse, k, c);
				expect_same_hits(a, na, c, nc, mode == TVS_MATCH_INT8 ? 0.0f : 1e-5f);
			}
		}
	}
	tvs_gallery_destroy(g);
	free(es);
}

/* int8 finds the same best entry as float on clustered, realistic data. */
static void int8_recall_at_1(void **state)
{
	const int nid = 500, per = 3, nprobe = 400;
	tvs_gallery_config cfg = {MODEL, (size_t)nid * per};
	float *centres = malloc((size_t)nid * D * sizeof(float)), v[D];
	tvs_gallery_t *g;
	tvs_template t;
	int agree = 0, agree_subj = 0, agree_rr = 0;

	(void)state;
	assert_non_null(centres);
	assert_int_equal(tvs_gallery_create(&g, &cfg), 0);
	for (int i = 0; i < nid; i++) {
		rand_vec(centres + (size_t)i * D);
		for (int j = 0; j < per; j++) {
			sample_of(centres + (size_t)i * D, v);
			make_tpl(&t, v);
			assert_int_equal(tvs_gallery_add(g, (uint64_t)i, (uint64_t)(i * per + j), &t), 0);
		}
	}
	for (int q = 0; q < nprobe; q++) {
		tvs_match_hit hf, hq, sf, sq;
		int n1, n2;
		sample_of(centres + (size_t)(rnd() % nid) * D, v);
		make_tpl(&t, v);
		tvs_search_opts o = {1, TVS_MATCH_FLOAT, 0, 0, NULL};
		assert_int_equal(tvs_gallery_search(g, &t, &o, &hf, &n1), 0);
		o.mode = TVS_MATCH_INT8;
		assert_int_equal(tvs_gallery_search(g, &t, &o, &hq, &n2), 0);
		agree += hf.template_id == hq.template_id;
		o.fuse = 1;
		assert_int_equal(tvs_gallery_search(g, &t, &o, &sq, &n2), 0);
		o.mode = TVS_MATCH_FLOAT;
		assert_int_equal(tvs_gallery_search(g, &t, &o, &sf, &n1), 0);
		agree_subj += sf.subject_id == sq.subject_id;
		assert_true(fabsf(hf.score - hq.score) < 0.02f);
		o.fuse = 0;
		o.mode = TVS_MATCH_INT8_RERANK;
		assert_int_equal(tvs_gallery_search(g, &t, &o, &hq, &n2), 0);
		agree_rr += hf.template_id == hq.template_id;
		if (hf.template_id == hq.template_id)
			assert_true(hf.score == hq.score); /* same float kernel */
	}
	print_message("int8 vs float recall@1: entry %d/%d, subject %d/%d, re-ranked entry %d/%d\n", agree,
		      nprobe, agree_subj, nprobe, agree_rr, nprobe);
	assert_int_equal(agree_rr, nprobe);
	assert_true(agree >= nprobe * 97 / 100);
	assert_true(agree_subj >= nprobe * 995 / 1000);
	tvs_gallery_destroy(g);
	free(centres);
}

/* Unit vector cos(a)*e0 + sin(a)*e1 has score cos(a) against e0. */
static void at_score(tvs_template *t, float s)
{
	float v[D] = {0};

	v[0] = s;
	v[1] = sqrtf(1.0f - s * s);
	make_tpl(t, v);
}

static void fusion_by_max(void **state)
{
	static const struct {
		uint64_t subj, tid;
		float s;
	} ents[] = {
		{1, 10, 0.50f}, {1, 11, 0.90f}, {1, 12, 0.20f}, /* passport, visa, encounter */
		{2, 20, 0.80f}, {3, 30, 0.85f}, {3, 31, 0.84f}, {4, 40, 0.10f},
	};
	tvs_gallery_t *g;
	tvs_template t, p;
	tvs_match_hit h[TVS_MATCH_K_MAX];
	int n;

	(void)state;
	assert_int_equal(tvs_gallery_create(&g, NULL), 0);
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		at_score(&t, ents[i].s);
		assert_int_equal(tvs_gallery_add(g, ents[i].subj, ents[i].tid, &t), 0);
	}
	at_score(&p, 1.0f);
	for (int mode = 0; mode < 3; mode++) {
		tvs_search_opts o = {3, mode, 1, 0, NULL};
		assert_int_equal(tvs_gallery_search(g, &p, &o, h, &n), 0);
		assert_int_equal(n, 3);
		assert_int_equal(h[0].subject_id, 1);
		assert_int_equal(h[0].template_id, 11);
		assert_int_equal(h[1].subject_id, 3);
		assert_int_equal(h[1].template_id, 30);
		assert_int_equal(h[2].subject_id, 2);
		assert_true(fabsf(h[0].score - 0.90f) < 0.01f);
		o.k = TVS_MATCH_K_MAX;
		assert_int_equal(tvs_gallery_search(g, &p, &o, h, &n), 0);
		assert_int_equal(n, 4); /* four subjects */
		assert_int_equal(h[3].subject_id, 4);
		o.fuse = 0;
		o.k = 3;
		assert_int_equal(tvs_gallery_search(g, &p, &o, h, &n), 0);
		assert_int_equal(h[0].template_id, 11);
		assert_int_equal(h[1].template_id, 30);
		assert_int_equal(h[2].template_id, 31);
		o.k = TVS_MATCH_K_MAX;
		assert_int_equal(tvs_gallery_search(g, &p, &o, h, &n), 0);
		assert_int_equal(n, 7);
	}
	tvs_gallery_destroy(g);
}

static void add_remove(void **state)
{
	const size_t n = 1500;
	entry *es;
	tvs_gallery_t *g = build_random(&es, n, 300);
	tvs_match_hit h[TVS_MATCH_K_MAX], c[TVS_MATCH_K_MAX];
	size_t live = n, removed;
	int nh, nc;

	(void)state;
	assert_int_equal(tvs_gallery_remove(g, 4), TVS_ENOTFOUND);
	assert_int_equal(tvs_gallery_add(g, 1, es[5].tid, &es[5].t), TVS_ECONFLICT); /* duplicate id */
	for (int round = 0; round < 600; round++) {
		size_t i = rnd() % n;
		tvs_search_opts o = {4, (int)(rnd() % 3), (int)(rnd() & 1), 0, NULL};
		if (es[i].live) {
			assert_int_equal(tvs_gallery_remove(g, es[i].tid), 0);
			es[i].live = 0;
			live--;
			/* its own template as probe: it must not come back */
			assert_int_equal(tvs_gallery_search(g, &es[i].t, &o, h, &nh), 0);
			for (int j = 0; j < nh; j++)
				assert_true(h[j].template_id != es[i].tid);
			assert_int_equal(tvs_gallery_remove(g, es[i].tid), TVS_ENOTFOUND);
		} else {
			assert_int_equal(tvs_gallery_add(g, es[i].subj, es[i].tid, &es[i].t), 0);
			es[i].live = 1;
			live++;
			o.fuse = 0;
			assert_int_equal(tvs_gallery_search(g, &es[i].t, &o, h, &nh), 0);
			assert_int_equal(h[0].template_id, es[i].tid);
			assert_true(h[0].score > 0.98f);
		}
		assert_int_equal(tvs_gallery_count(g), live);
		if (round % 25 == 0) { /* every mode and fusion (which walks the subject chains) */
			tvs_template p;
			float v[D];
			rand_vec(v);
			make_tpl(&p, v);
			for (o.mode = 0; o.mode < 3; o.mode++) {
				for (o.fuse = 0; o.fuse < 2; o.fuse++) {
					o.k = 16;
					assert_int_equal(tvs_gallery_search(g, &p, &o, h, &nh), 0);
					if (o.mode == TVS_MATCH_INT8_RERANK)
						nc = naive_rerank(es, n, &p, o.fuse, o.k, c);
					else
						nc = naive_search(es, n, &p, o.mode, o.fuse, o.k, c);
					expect_same_hits(h, nh, c, nc, o.mode == TVS_MATCH_INT8 ? 0.0f : 1e-5f);
				}
			}
		}
	}
	/* several whole subjects, each then absent from every search */
	for (int si = 1; si < 40; si++) {
		uint64_t s1 = es[si * 13].subj;
		size_t want1 = 0;
		for (size_t i = 0; i < n; i++)
			want1 += es[i].live && es[i].subj == s1;
		assert_int_equal(tvs_gallery_remove_subject(g, s1, &removed), 0);
		assert_int_equal(removed, want1);
		live -= want1;
		assert_int_equal(tvs_gallery_count(g), live);
		for (size_t i = 0; i < n; i++)
			if (es[i].subj == s1)
				es[i].live = 0;
		assert_int_equal(tvs_gallery_remove_subject(g, s1, &removed), 0);
		assert_int_equal(removed, 0);
	}
	for (int mode = 0; mode < 3; mode++) {
		tvs_template p;
		float v[D];
		rand_vec(v);
		make_tpl(&p, v);
		tvs_search_opts o = {TVS_MATCH_K_MAX, mode, 1, 0, NULL};
		assert_int_equal(tvs_gallery_search(g, &p, &o, h, &nh), 0);
		nc = mode == TVS_MATCH_INT8_RERANK ? naive_rerank(es, n, &p, 1, o.k, c)
						    : naive_search(es, n, &p, mode, 1, o.k, c);
		expect_same_hits(h, nh, c, nc, mode == TVS_MATCH_INT8 ? 0.0f : 1e-5f);
	}
	/* whole subject */
	uint64_t s = es[0].subj;
	size_t want = 0;
	for (size_t i = 0; i < n; i++)
		want += es[i].live && es[i].subj == s;
	assert_int_equal(tvs_gallery_remove_subject(g, s, &removed), 0);
	assert_int_equal(removed, want);
	assert_int_equal(tvs_gallery_count(g), live - want);
	for (size_t i = 0; i < n; i++) {
		if (es[i].subj != s || !es[i].live)
			continue;
		tvs_search_opts o = {TVS_MATCH_K_MAX, 0, 0, 0, NULL};
		assert_int_equal(tvs_gallery_search(g, &es[i].t, &o, h, &nh), 0);
		for (int j = 0; j < nh; j++)
			assert_true(h[j].subject_id != s);
		es[i].live = 0;
	}
	/* empty gallery */
	tvs_gallery_destroy(g);
	assert_int_equal(tvs_gallery_create(&g, NULL), 0);
	tvs_search_opts o = {5, 1, 1, 0, NULL};
	assert_int_equal(tvs_gallery_search(g, &es[0].t, &o, h, &nh), 0);
	assert_int_equal(nh, 0);
	tvs_gallery_destroy(g);
	tvs_gallery_destroy(NULL);
	free(es);
}

static void model_mismatch(void **state)
{
	tvs_gallery_config cfg = {"faceapi-resnet-v1", 0};
	tvs_gallery_t *g;
	tvs_template a, b;
	tvs_match_hit h[4];
	float v[D], s;
	uint8_t buf[1024];
	size_t len;
	int n;

	(void)state;
	rand_vec(v);
	assert_int_equal(tvs_match_template_init(&a, "faceapi-resnet-v1", 1, v, D), 0);
	assert_int_equal(tvs_match_template_init(&b, "arcface-r100-v2", 1, v, D), 0);
	assert_int_equal(tvs_gallery_create(&g, &cfg), 0);
	assert_int_equal(tvs_gallery_add(g, 1, 1, &a), 0);
	assert_int_equal(tvs_gallery_add(g, 1, 2, &b), TVS_EMODEL);
	assert_non_null(strstr(tvs_errmsg(), "arcface-r100-v2"));
	assert_string_equal(tvs_strerror(TVS_EMODEL), "another recognition model");
	tvs_search_opts o = {4, 0, 0, 0, NULL};
	for (o.mode = 0; o.mode < 3; o.mode++)
		assert_int_equal(tvs_gallery_search(g, &b, &o, h, &n), TVS_EMODEL);
	o.mode = 0;
	assert_int_equal(tvs_match_verify(&a, &b, &s), TVS_EMODEL);
	assert_non_null(strstr(tvs_errmsg(), "arcface-r100-v2"));
	assert_int_equal(tvs_match_verify(&a, &a, &s), 0);
	assert_true(fabsf(s - 1.0f) < 1e-6f);
	assert_true(tvs_match_score_to_distance(s) < 1e-3f);
	assert_int_equal(tvs_match_template_serialize(&b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tvs_match_template_parse(&a, buf, len, "faceapi-resnet-v1"), TVS_EMODEL);
	assert_non_null(strstr(tvs_errmsg(), "arcface-r100-v2"));
	assert_int_equal(tvs_match_template_parse(&a, buf, len, NULL), 0);
	assert_string_equal(a.model, "arcface-r100-v2");
	/* bad arguments */
	assert_int_equal(tvs_match_template_init(&a, "", 1, v, D), TVS_EINVAL);
	assert_int_equal(tvs_match_template_init(&a, "with space", 1, v, D), TVS_EINVAL);
	assert_int_equal(tvs_match_template_init(&a, MODEL, 1, v, 512), TVS_EINVAL);
	memset(v, 0, sizeof(v));
	assert_int_equal(tvs_match_template_init(&a, MODEL, 1, v, D), TVS_EINVAL);
	v[3] = NAN;
	assert_int_equal(tvs_match_template_init(&a, MODEL, 1, v, D), TVS_EINVAL);
	rand_vec(v);
	make_tpl(&a, v);
	o.k = 0;
	assert_int_equal(tvs_gallery_search(g, &a, &o, h, &n), TVS_EINVAL);
	o.k = TVS_MATCH_K_MAX + 1;
	assert_int_equal(tvs_gallery_search(g, &a, &o, h, &n), TVS_EINVAL);
	o.k = 1;
	o.mode = 3;
	assert_int_equal(tvs_gallery_search(g, &a, &o, h, &n), TVS_EINVAL);
	o.mode = 0;
	o.impl = 99;
	assert_int_equal(tvs_gallery_search(g, &a, &o, h, &n), TVS_EINVAL);
	tvs_gallery_destroy(g);
}

static void template_bytes(void **state)
{
	tvs_template t, u;
	uint8_t buf[1024], bad[1024];
	size_t len;
	float v[D];

	(void)state;
	rand_vec(v);
	assert_int_equal(tvs_match_template_init(&t, MODEL, 42, v, D), 0);
	assert_int_equal(tvs_match_template_serialize(&t, buf, 10, &len), TVS_ETOOBIG);
	assert_int_equal(tvs_match_template_serialize(&t, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, tvs_match_template_size(&t));
	assert_int_equal(tvs_match_template_parse(&u, buf, len, MODEL), 0);
	assert_int_equal(u.version, 42);
	assert_memory_equal(u.v, t.v, sizeof(t.v));
	assert_memory_equal(u.q, t.q, sizeof(t.q));
	assert_true(u.has_q && u.qscale == t.qscale);
	/* every truncation, one extra byte */
	for (size_t n = 0; n < len; n++)
		assert_true(tvs_match_template_parse(&u, buf, n, NULL) < 0);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(tvs_match_template_parse(&u, bad, len + 1, NULL), TVS_EFORMAT);
	assert_int_equal(tvs_match_template_parse(&u, NULL, 0, NULL), TVS_EFORMAT);
	/* every single-byte corruption */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		assert_true(tvs_match_template_parse(&u, bad, len, NULL) < 0);
	}
	/* without the int8 form */
	t.has_q = 0;
	assert_int_equal(tvs_match_template_serialize(&t, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, tvs_match_template_size(&t));
	assert_int_equal(tvs_match_template_parse(&u, buf, len, MODEL), 0);
	assert_false(u.has_q);
	/* well-formed with a valid CRC but not unit-norm: refused on values */
	t.v[0] += 0.5f;
	assert_int_equal(tvs_match_template_serialize(&t, buf, sizeof(buf), &len), 0);
	assert_int_equal(tvs_match_template_parse(&u, buf, len, NULL), TVS_EFORMAT);
	/* random garbage never parses and never crashes */
	for (int it = 0; it < 2000; it++) {
		size_t n = rnd() % 700;
		for (size_t i = 0; i < n; i++)
			bad[i] = (uint8_t)rnd();
		if (n >= 4 && (it & 1))
			memcpy(bad, "TVST", 4);
		assert_true(tvs_match_template_parse(&u, bad, n, NULL) < 0);
	}
}

static void threads_match_one_thread(void **state)
{
	const size_t n = 50021;
	entry *es;
	tvs_gallery_t *g = build_random(&es, n, 9000);
	tvs_pool_t *pool2, *pool3;
	tvs_match_hit a[TVS_MATCH_K_MAX], b[TVS_MATCH_K_MAX], c[TVS_MATCH_K_MAX];
	float v[D];
	tvs_template p;
	int na, nb, nc;

	(void)state;
	assert_int_equal(tvs_pool_create(&pool2, 2), 0);
	assert_int_equal(tvs_pool_create(&pool3, 3), 0);
	for (int it = 0; it < 6; it++) {
		rand_vec(v);
		make_tpl(&p, v);
		for (int mode = 0; mode < 3; mode++) {
			for (int fuse = 0; fuse < 2; fuse++) {
				tvs_search_opts o = {TVS_MATCH_K_MAX, mode, fuse, 0, NULL};
				assert_int_equal(tvs_gallery_search(g, &p, &o, a, &na), 0);
				o.pool = pool2;
				assert_int_equal(tvs_gallery_search(g, &p, &o, b, &nb), 0);
				expect_same_hits(a, na, b, nb, 0.0f);
				o.pool = pool3;
				assert_int_equal(tvs_gallery_search(g, &p, &o, c, &nc), 0);
				expect_same_hits(a, na, c, nc, 0.0f);
			}
		}
	}
	tvs_pool_destroy(pool2);
	tvs_pool_destroy(pool3);
	tvs_gallery_destroy(g);
	free(es);
}

/* A batch gives each probe what a single search gives it. */
static void batch_matches_single(void **state)
{
	const size_t n = 20011;
	entry *es;
	tvs_gallery_t *g = build_random(&es, n, 5000);
	tvs_pool_t *pool;
	tvs_template *probes = malloc(19 * sizeof(*probes));
	tvs_match_hit *bh = malloc(19 * TVS_MATCH_K_MAX * sizeof(*bh)), h[TVS_MATCH_K_MAX];
	int bn[19], nh;
	float v[D];

	(void)state;
	assert_non_null(probes);
	assert_non_null(bh);
	assert_int_equal(tvs_pool_create(&pool, 2), 0);
	for (int i = 0; i < 19; i++) {
		rand_vec(v);
		make_tpl(&probes[i], v);
	}
	static const int nps[] = {0, 1, 7, 8, 9, 19};
	for (size_t c = 0; c < sizeof(nps) / sizeof(nps[0]); c++) {
		for (int mode = 0; mode < 3; mode++) {
			for (int fuse = 0; fuse < 2; fuse++) {
				for (int impl = 0; impl < 2; impl++) {
					int k = 1 + (int)((c + mode) * 5 % TVS_MATCH_K_MAX);
					tvs_search_opts o = {k, mode, fuse, impl, impl ? NULL : pool};
					assert_int_equal(tvs_gallery_search_batch(g, probes, nps[c], &o, bh, bn), 0);
					for (int i = 0; i < nps[c]; i++) {
						assert_int_equal(tvs_gallery_search(g, &probes[i], &o, h, &nh), 0);
						expect_same_hits(bh + (size_t)i * k, bn[i], h, nh, 0.0f);
					}
				}
			}
		}
	}
	tvs_search_opts o = {4, TVS_MATCH_INT8, 0, 0, NULL};
	tvs_template other = probes[3];
	strcpy(other.model, "other-model-v1");
	probes[3] = other;
	assert_int_equal(tvs_gallery_search_batch(g, probes, 5, &o, bh, bn), TVS_EMODEL);
	tvs_pool_destroy(pool);
	tvs_gallery_destroy(g);
	free(probes);
	free(bh);
	free(es);
}

/* ------------------------------------------------------------ kernels */

/* Scalar scores of the blocked layout, written from match_int.h's contract
 * (not copied from gallery.c): fmaf chains k mod 4 for float, exact int32
 * for int8. */
static void ref_f32(const float *blk, size_t nb, const float *p, float *out)
{
	for (size_t r = 0; r < nb * 16; r++) {
		float c[4] = {0, 0, 0, 0};
		for (int k = 0; k < D; k++)
			c[k % 4] = fmaf(blk[(r / 16) * TVS__MBLOCK + (size_t)k * 16 + r % 16], p[k], c[k % 4]);
		out[r] = (c[0] + c[1]) + (c[2] + c[3]);
	}
}

static void ref_i8(const uint8_t *blk, const float *rs, size_t nb, const int8_t *p, int32_t corr, float ps,
		   float *out)
{
	for (size_t r = 0; r < nb * 16; r++) {
		int32_t d = 0;
		for (int k = 0; k < D; k++)
			d += blk[(r / 16) * TVS__MBLOCK + (size_t)(k / 4) * 64 + (r % 16) * 4 + k % 4] * p[k];
		out[r] = (float)(d - corr) * (ps * rs[r]);
	}
}

static int have_vnni_cpu(void)
{
	__builtin_cpu_init();
	return tvs_cpu_simd_level() >= 2 && __builtin_cpu_supports("avx512vnni");
}

/* Fill nb blocks: kind 0 random, 1 every q at +-127 with the probe's sign
 * (the pairs vpmaddubsw would saturate on with the stored u8), 2 the
 * opposite sign, 3 a mix of 0 and +-127. */
static void fill_blocks(float *fb, uint8_t *qb, float *rs, size_t nb, const int8_t *pq, int kind)
{
	for (size_t r = 0; r < nb * 16; r++) {
		for (int k = 0; k < D; k++) {
			int q;
			if (kind == 0)
				q = (int)(rnd() % 255) - 127;
			else if (kind == 3)
				q = (int)(rnd() % 3) * 127 - 127;
			else
				q = ((pq[k] >= 0) == (kind == 1)) ? 127 : -127;
			qb[(r / 16) * TVS__MBLOCK + (size_t)(k / 4) * 64 + (r % 16) * 4 + k % 4] = (uint8_t)(q + 128);
			fb[(r / 16) * TVS__MBLOCK + (size_t)k * 16 + r % 16] = gauss();
		}
		rs[r] = (float)(rnd() % 1000 + 1) * 1e-5f;
	}
}

static void expect_bits(const float *a, const float *b, size_t n, const char *what, size_t nb, int kind)
{
	for (size_t i = 0; i < n; i++) {
		if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
			print_error("%s, %zu blocks, data %d: row %zu: %.9g vs reference %.9g\n", what, nb, kind, i,
				    a[i], b[i]);
			fail();
		}
	}
	for (size_t i = n; i < n + 16; i++)
		assert_true(a[i] == -7.0f); /* nothing written past the blocks */
}

/* Every SIMD kernel the CPU runs gives the scalar scores bit for bit, on
 * block counts that exercise the two-block loops and their tails, and on
 * int8 extremes. */
static void kernels_match_scalar(void **state)
{
	const size_t maxb = 9;
	float *fb = aligned_alloc(64, maxb * TVS__MBLOCK * sizeof(float));
	uint8_t *qb = aligned_alloc(64, maxb * TVS__MBLOCK);
	float rs[9 * 16], pf[D], pscale[8], want[9 * 16], got[9 * 16 + 16], got8[8][9 * 16 + 16], want8[8][9 * 16];
	int8_t pq[8][D];
	int32_t corr[8];
	const int level = tvs_cpu_simd_level(), vnni = have_vnni_cpu();
	int ran = 0;

	(void)state;
	assert_non_null(fb);
	assert_non_null(qb);
	for (size_t nb = 1; nb <= maxb; nb++) {
		for (int kind = 0; kind < 4; kind++) {
			for (int p = 0; p < 8; p++) {
				int32_t sum = 0;
				for (int k = 0; k < D; k++) {
					/* probe 0 at the extremes, the others random */
					pq[p][k] = (int8_t)(p == 0 ? ((rnd() & 1) ? 127 : -127) : (int)(rnd() % 255) - 127);
					sum += pq[p][k];
				}
				corr[p] = 128 * sum;
				pscale[p] = (float)(rnd() % 1000 + 1) * 1e-5f;
			}
			for (int k = 0; k < D; k++)
				pf[k] = gauss();
			fill_blocks(fb, qb, rs, nb, pq[0], kind);
			ref_f32(fb, nb, pf, want);
			if (level >= 1) {
				for (int i = 0; i < 16; i++)
					got[nb * 16 + i] = -7.0f;
				tvs__match_scores_f32_avx2(fb, nb, pf, got);
				expect_bits(got, want, nb * 16, "f32 avx2", nb, kind);
				ran++;
			}
			if (level >= 2) {
				tvs__match_scores_f32_avx512(fb, nb, pf, got);
				expect_bits(got, want, nb * 16, "f32 avx512", nb, kind);
				ran++;
			}
			for (int p = 0; p < 8; p++)
				ref_i8(qb, rs, nb, pq[p], corr[p], pscale[p], want8[p]);
			if (level >= 1) {
				for (int p = 0; p < 8; p++) {
					tvs__match_scores_i8_avx2(qb, rs, nb, pq[p], corr[p], pscale[p], got);
					expect_bits(got, want8[p], nb * 16, "i8 avx2", nb, kind);
				}
				ran++;
			}
			if (vnni) {
				for (int p = 0; p < 8; p++) {
					tvs__match_scores_i8_vnni(qb, rs, nb, pq[p], corr[p], pscale[p], got);
					expect_bits(got, want8[p], nb * 16, "i8 vnni", nb, kind);
					for (int i = 0; i < 16; i++)
						got8[p][nb * 16 + i] = -7.0f;
				}
				tvs__match_scores_i8x8_vnni(qb, rs, nb, &pq[0][0], corr, pscale, &got8[0][0],
							    9 * 16 + 16);
				for (int p = 0; p < 8; p++)
					expect_bits(got8[p], want8[p], nb * 16, "i8x8 vnni", nb, kind);
				ran++;
			}
		}
	}
	print_message("search kernels checked against scalar: %d runs (simd level %d, vnni %d)\n", ran, level, vnni);
	free(fb);
	free(qb);
}

static int impl_runs(int impl, int mode)
{
	const int level = tvs_cpu_simd_level();

	switch (impl) {
	case TVS_MATCH_IMPL_AVX2: return level >= 1;
	case TVS_MATCH_IMPL_AVX512:
		return (mode == TVS_MATCH_INT8 || level >= 2) && (mode == TVS_MATCH_FLOAT || have_vnni_cpu());
	default: return 1;
	}
}

/* Through the gallery: each impl returns the reference's hits and scores
 * bit for bit, on sizes that are not multiples of a block (16 rows) or a
 * scan chunk (4096 rows), before and after removes. */
static void impls_match_reference(void **state)
{
	static const size_t sizes[] = {1, 15, 17, 33, 4095, 4097, 8209};
	static const int impls[] = {TVS_MATCH_IMPL_AVX2, TVS_MATCH_IMPL_AVX512};
	static const int ks[] = {1, 5, TVS_MATCH_K_MAX};
	tvs_match_hit a[3 * TVS_MATCH_K_MAX], b[3 * TVS_MATCH_K_MAX];
	tvs_template p[3];
	float v[D];
	int ran = 0;

	(void)state;
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		entry *es;
		tvs_gallery_t *g = build_random(&es, sizes[si], (int)(sizes[si] / 3 + 1));
		for (int phase = 0; phase < 2; phase++) {
			if (phase == 1) { /* remove about a third, never the last row only */
				for (size_t i = 0; i < sizes[si]; i += 3) {
					assert_int_equal(tvs_gallery_remove(g, es[i].tid), 0);
					es[i].live = 0;
				}
			}
			for (int i = 0; i < 3; i++) {
				rand_vec(v);
				make_tpl(&p[i], v);
			}
			if (sizes[si] > 1)
				p[2] = es[1].t; /* an enrolled template: a score near 1 */
			for (size_t ii = 0; ii < sizeof(impls) / sizeof(impls[0]); ii++) {
				for (int mode = 0; mode < 3; mode++) {
					if (!impl_runs(impls[ii], mode)) {
						tvs_search_opts o = {1, mode, 0, impls[ii], NULL};
						int n;
						assert_int_equal(tvs_gallery_search(g, &p[0], &o, a, &n), TVS_EUNSUPPORTED);
						continue;
					}
					for (int fuse = 0; fuse < 2; fuse++) {
						for (size_t ki = 0; ki < 3; ki++) {
							int na[3], nb[3];
							tvs_search_opts o = {ks[ki], mode, fuse, impls[ii], NULL};
							for (int i = 0; i < 3; i++) {
								o.impl = impls[ii];
								assert_int_equal(tvs_gallery_search(g, &p[i], &o, a, &na[0]), 0);
								o.impl = TVS_MATCH_IMPL_REF;
								assert_int_equal(tvs_gallery_search(g, &p[i], &o, b, &nb[0]), 0);
								expect_same_hits(a, na[0], b, nb[0], 0.0f);
							}
							o.impl = impls[ii];
							assert_int_equal(tvs_gallery_search_batch(g, p, 3, &o, a, na), 0);
							o.impl = TVS_MATCH_IMPL_REF;
							assert_int_equal(tvs_gallery_search_batch(g, p, 3, &o, b, nb), 0);
							for (int i = 0; i < 3; i++)
								expect_same_hits(a + i * ks[ki], na[i], b + i * ks[ki], nb[i], 0.0f);
							ran++;
						}
					}
				}
			}
		}
		tvs_gallery_destroy(g);
		free(es);
	}
	print_message("impls against the reference: %d configurations\n", ran);
}

/* Child mode (TVS_SIMD set by the parent): AUTO names the kernels of that
 * level and still returns the reference's hits. */
static int simd_level_child(void)
{
	const int level = tvs_cpu_simd_level(), vnni = have_vnni_cpu();
	const char *fw = level >= 2 ? "avx512" : level >= 1 ? "avx2" : "ref";
	const char *qw = vnni ? "vnni" : level >= 1 ? "avx2" : "ref";
	tvs_gallery_config cfg = {MODEL, 0};
	tvs_gallery_t *g;
	tvs_template t;
	tvs_match_hit a[8], b[8];
	float v[D];
	int bad = 0, na, nb;

	printf("  TVS_SIMD=%s: float %s, int8 %s\n", getenv("TVS_SIMD"), tvs_gallery_kernel_name(TVS_MATCH_FLOAT),
	       tvs_gallery_kernel_name(TVS_MATCH_INT8));
	bad |= strcmp(tvs_gallery_kernel_name(TVS_MATCH_FLOAT), fw) != 0;
	bad |= strcmp(tvs_gallery_kernel_name(TVS_MATCH_INT8), qw) != 0;
	if (tvs_gallery_create(&g, &cfg) < 0)
		return 2;
	for (int i = 0; i < 999; i++) {
		for (int k = 0; k < D; k++)
			v[k] = gauss();
		if (tvs_match_template_init(&t, MODEL, 1, v, D) < 0 || tvs_gallery_add(g, (uint64_t)i / 3, (uint64_t)i, &t) < 0)
			return 2;
	}
	for (int mode = 0; mode < 3; mode++) {
		tvs_search_opts o = {8, mode, 0, TVS_MATCH_IMPL_AUTO, NULL};
		if (tvs_gallery_search(g, &t, &o, a, &na) < 0)
			return 2;
		o.impl = TVS_MATCH_IMPL_REF;
		if (tvs_gallery_search(g, &t, &o, b, &nb) < 0)
			return 2;
		bad |= na != nb || memcmp(a, b, (size_t)na * sizeof(a[0])) != 0;
		/* an explicit impl above the level is refused */
		o.impl = TVS_MATCH_IMPL_AVX2;
		bad |= (tvs_gallery_search(g, &t, &o, a, &na) == TVS_EUNSUPPORTED) != (level < 1);
	}
	tvs_gallery_destroy(g);
	return bad;
}

static void simd_levels(void **state)
{
	(void)state;
	run_simd_levels("test_match", "--simd-child");
}

static void default_opts(void **state)
{
	tvs_search_opts o;

	(void)state;
	memset(&o, 0x55, sizeof(o));
	tvs_search_default_opts(&o);
	assert_int_equal(o.k, 1);
	assert_int_equal(o.mode, TVS_MATCH_INT8_RERANK);
	assert_int_equal(o.fuse, 1);
	assert_int_equal(o.impl, TVS_MATCH_IMPL_AUTO);
	assert_null(o.pool);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--simd-child") == 0)
		return simd_level_child();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(search_matches_reference),
		cmocka_unit_test(int8_recall_at_1),
		cmocka_unit_test(fusion_by_max),
		cmocka_unit_test(add_remove),
		cmocka_unit_test(model_mismatch),
		cmocka_unit_test(template_bytes),
		cmocka_unit_test(threads_match_one_thread),
		cmocka_unit_test(batch_matches_single),
		cmocka_unit_test(kernels_match_scalar),
		cmocka_unit_test(impls_match_reference),
		cmocka_unit_test(simd_levels),
		cmocka_unit_test(default_opts),
	};
	print_message("search kernels: float %s, int8 %s\n", tvs_gallery_kernel_name(TVS_MATCH_FLOAT),
		      tvs_gallery_kernel_name(TVS_MATCH_INT8));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
