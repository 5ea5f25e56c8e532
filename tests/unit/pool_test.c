/* pool: every item is done once, in batches no larger than asked, from
 * several threads; drain waits for them all. */
#include "test.h"
#include "util/pool.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct tally {
	pthread_mutex_t mu;
	int seen[1000];
	size_t max_batch;
	size_t calls;
};

static void count(void *ctx, void **items, size_t n)
{
	struct tally *t = ctx;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < n; i++)
		t->seen[(uintptr_t)items[i]]++;
	if (n > t->max_batch)
		t->max_batch = n;
	t->calls++;
	pthread_mutex_unlock(&t->mu);
}

TEST(pool_does_every_item_once_in_batches)
{
	struct tally t = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct pool *p = pool_new(4, 8, count, &t);
	for (uintptr_t i = 0; i < 1000; i++)
		pool_submit(p, (void *)i);
	pool_drain(p);
	for (int i = 0; i < 1000; i++)
		CHECK(t.seen[i] == 1);
	CHECK(t.max_batch >= 1 && t.max_batch <= 8);
	/* more work after a drain, then free drains too */
	for (uintptr_t i = 0; i < 10; i++)
		pool_submit(p, (void *)i);
	pool_free(p);
	for (int i = 0; i < 10; i++)
		CHECK(t.seen[i] == 2);
}

TEST(pool_free_of_an_unused_pool)
{
	struct tally t = {.mu = PTHREAD_MUTEX_INITIALIZER};
	pool_free(pool_new(2, 1, count, &t));
	CHECK(t.calls == 0);
}
