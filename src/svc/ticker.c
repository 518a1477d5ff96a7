/*
 * A service's background loops: one thread each that runs a job every
 * interval, and sooner when this node kicks it (it just queued work). Both
 * the retention scheduler and the gallery worker are tickers; neither needs
 * the kick to be correct (the interval finds work any node queued), the kick
 * only makes this node's own work prompt.
 */
#include "svc_int.h"

#include <stdio.h>
#include <time.h>

static void *ticker_main(void *arg)
{
	struct svc_ticker *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		struct timespec until;

		if (!t->kicked) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += t->interval_ms / 1000;
			until.tv_nsec += (long)(t->interval_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&t->cv, &t->mu, &until);
		}
		if (t->stop)
			break;
		t->kicked = 0;
		pthread_mutex_unlock(&t->mu);
		if (t->job(t->s))
			fprintf(stderr, "tvs: %s: %s (next try in %d ms)\n", t->name, tvs_errmsg(), t->interval_ms);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int svc_ticker_start(struct svc_ticker *t, tvs_svc_t *s, const char *name, int interval_ms,
		     int (*job)(tvs_svc_t *s))
{
	t->s = s;
	t->name = name;
	t->interval_ms = interval_ms;
	t->job = job;
	t->stop = t->kicked = t->running = 0;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->inited = 1;
	if (interval_ms <= 0)
		return 0;
	if (pthread_create(&t->th, NULL, ticker_main, t))
		return tvs__err(TVS_ENOMEM, "%s thread", name);
	t->running = 1;
	return 0;
}

/* Set *flag (kicked or stop) and wake the loop. */
static void ticker_wake(struct svc_ticker *t, int *flag)
{
	pthread_mutex_lock(&t->mu);
	*flag = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void svc_ticker_kick(struct svc_ticker *t)
{
	if (t->inited)
		ticker_wake(t, &t->kicked);
}

void svc_ticker_stop(struct svc_ticker *t)
{
	if (!t->inited)
		return;
	ticker_wake(t, &t->stop);
	if (t->running)
		pthread_join(t->th, NULL);
	t->running = 0;
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	t->inited = 0;
}
