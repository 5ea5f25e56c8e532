/* pool: threads over a FIFO of items (pool.h). One mutex guards the
 * queue and the count of items taken but not finished; `more` wakes one
 * idle thread per item (all when stopping), `idle` the drainers when the
 * last item is done: no thread wakes for nothing. */
#include "util/pool.h"
#include "util/util.h"
#include <pthread.h>
#include <stdlib.h>

enum { MAX_THREADS = 32 };

struct pool {
	pool_fn fn;
	void *ctx;
	size_t batch;
	int want;                 /* threads to start */
	pthread_t th[MAX_THREADS];
	int nth;                  /* started */
	pthread_mutex_t mu;
	pthread_cond_t more;      /* the queue grew, or the pool stops */
	pthread_cond_t idle;      /* nothing is queued or running */
	void **q;                 /* q[head..len): waiting */
	size_t head, len, cap;
	size_t busy;              /* items taken, not finished */
	int stop;
};

static void *work(void *arg)
{
	struct pool *p = arg;
	void **items = xcalloc(p->batch, sizeof *items);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->head == p->len)
			pthread_cond_wait(&p->more, &p->mu);
		if (p->head == p->len)
			break; /* stopping, and nothing is left */
		size_t n = 0;
		while (n < p->batch && p->head < p->len)
			items[n++] = p->q[p->head++];
		if (p->head == p->len)
			p->head = p->len = 0;
		p->busy += n;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, items, n);
		pthread_mutex_lock(&p->mu);
		p->busy -= n;
		if (!p->busy && p->head == p->len)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	free(items);
	return NULL;
}

struct pool *pool_new(int nthreads, size_t batch, pool_fn fn, void *ctx)
{
	struct pool *p = xcalloc(1, sizeof *p);
	p->fn = fn;
	p->ctx = ctx;
	p->batch = batch ? batch : 1;
	p->want = nthreads < 1 ? 1 : nthreads > MAX_THREADS ? MAX_THREADS : nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->idle, NULL);
	return p;
}

void pool_submit(struct pool *p, void *item)
{
	pthread_mutex_lock(&p->mu);
	while (p->nth < p->want && pthread_create(&p->th[p->nth], NULL, work, p) == 0)
		p->nth++;
	if (p->nth == 0) {
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, &item, 1);
		return;
	}
	vec_reserve(&p->q, &p->cap, p->len + 1, sizeof *p->q);
	p->q[p->len++] = item;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->mu);
}

void pool_drain(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->head < p->len || p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->more);
	pthread_cond_destroy(&p->idle);
	free(p->q);
	free(p);
}
