/*
 * A small fixed thread pool that runs one batch of independent tasks at a
 * time (several images, several LFW photos, several gallery slices).
 *
 * Tasks are claimed with an atomic counter so uneven tasks balance
 * themselves. Each task learns which worker runs it, so callers can keep one
 * preallocated workspace per worker and never allocate inside a task. The
 * calling thread waits; it does not run tasks itself, which keeps the worker
 * index equal to a stable thread identity.
 */
#include "tvs/error.h"
#include "tvs/nn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct tvs_pool {
	int n;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	unsigned long generation;
	int stop;
	int running; /* workers still inside the current batch */
	/* current batch */
	void (*fn)(void *, int, int);
	void *arg;
	int ntasks;
	atomic_int next;
};

struct worker_arg {
	tvs_pool_t *p;
	int id;
};

static void *worker_main(void *varg)
{
	struct worker_arg wa = *(struct worker_arg *)varg;
	tvs_pool_t *p = wa.p;
	unsigned long seen = 0;

	free(varg);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->generation == seen)
			pthread_cond_wait(&p->start, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->generation;
		pthread_mutex_unlock(&p->mu);

		for (;;) {
			int t = atomic_fetch_add(&p->next, 1);
			if (t >= p->ntasks)
				break;
			p->fn(p->arg, t, wa.id);
		}

		pthread_mutex_lock(&p->mu);
		if (--p->running == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

int tvs_pool_create(tvs_pool_t **out, int n)
{
	tvs_pool_t *p;
	int started = 0, rc;

	*out = NULL;
	if (n < 1 || n > 1024)
		return tvs__err(TVS_EINVAL, "thread pool: %d threads", n);
	p = calloc(1, sizeof(*p));
	if (!p)
		return tvs__err(TVS_ENOMEM, "out of memory");
	p->threads = calloc((size_t)n, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return tvs__err(TVS_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	for (; started < n; started++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		if (!wa) {
			rc = tvs__err(TVS_ENOMEM, "out of memory");
			goto fail;
		}
		wa->p = p;
		wa->id = started;
		if (pthread_create(&p->threads[started], NULL, worker_main, wa) != 0) {
			free(wa);
			rc = tvs__err(TVS_ENOMEM, "thread pool: cannot start thread %d", started);
			goto fail;
		}
	}
	p->n = n;
	*out = p;
	return 0;
fail:
	p->n = started;
	tvs_pool_destroy(p);
	return rc;
}

void tvs_pool_destroy(tvs_pool_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p);
}

int tvs_pool_size(const tvs_pool_t *p)
{
	return p->n;
}

void tvs_pool_run(tvs_pool_t *p, int ntasks, void (*fn)(void *arg, int task, int worker), void *arg)
{
	if (ntasks <= 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->ntasks = ntasks;
	atomic_store(&p->next, 0);
	p->running = p->n;
	p->generation++;
	pthread_cond_broadcast(&p->start);
	while (p->running > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
