/* par: see par.h. */
#include "util/par.h"
#include <pthread.h>

struct range {
	void (*fn)(void *ctx, size_t lo, size_t hi);
	void *ctx;
	size_t lo, hi;
};

static void *run_range(void *arg)
{
	struct range *r = arg;
	r->fn(r->ctx, r->lo, r->hi);
	return NULL;
}

void par_for(size_t n, int threads, size_t grain, void (*fn)(void *ctx, size_t lo, size_t hi),
             void *ctx, void (*beside)(void *bctx), void *bctx)
{
	if (threads < 1)
		threads = 1;
	if (threads > PAR_MAX_THREADS)
		threads = PAR_MAX_THREADS;
	if (grain && (size_t)threads > n / grain + 1)
		threads = (int)(n / grain + 1);
	pthread_t th[PAR_MAX_THREADS];
	struct range r[PAR_MAX_THREADS];
	int started[PAR_MAX_THREADS] = {0};
	int own = beside ? -1 : threads - 1; /* the range this thread takes */
	for (int t = 0; t < threads; t++) {
		r[t] = (struct range){fn, ctx, n * (size_t)t / (size_t)threads,
		                      n * (size_t)(t + 1) / (size_t)threads};
		if (t != own)
			started[t] = pthread_create(&th[t], NULL, run_range, &r[t]) == 0;
	}
	if (beside)
		beside(bctx);
	else
		run_range(&r[own]);
	for (int t = 0; t < threads; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else if (t != own)
			run_range(&r[t]);
	}
}
