/* pool: a few threads working through a queue of items, for the remote's
 * lookups and uploads. Items are taken in the order they were submitted,
 * up to `batch` at a time by one thread. */
#ifndef CAIRN_POOL_H
#define CAIRN_POOL_H
#include <stddef.h>

/* Runs on a pool thread for n (1..batch) items taken together. */
typedef void (*pool_fn)(void *ctx, void **items, size_t n);

struct pool;

/* A pool of up to nthreads threads (started when work first comes), each
 * calling fn(ctx, ...) on up to batch items at a time. Never NULL. */
struct pool *pool_new(int nthreads, size_t batch, pool_fn fn, void *ctx);
/* Queue item. When no thread can be started at all, fn runs on it here. */
void pool_submit(struct pool *p, void *item);
/* Wait until every item submitted so far is done. */
void pool_drain(struct pool *p);
/* Drain, stop the threads, free. */
void pool_free(struct pool *p);

#endif
