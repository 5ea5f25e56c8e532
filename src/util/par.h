/* par: one way to spread a loop over threads (the pre-stat of a build
 * and the no-op check each stat thousands of files). */
#ifndef CAIRN_PAR_H
#define CAIRN_PAR_H
#include <stddef.h>

enum { PAR_MAX_THREADS = 16 };

/* Call fn(ctx, lo, hi) over [0, n) cut into at most `threads` ranges
 * (PAR_MAX_THREADS at most; fewer, so that each has about `grain` items
 * or more), each on a thread of its own. Meanwhile this thread runs
 * beside(bctx); without beside, it takes the last range itself. A range
 * whose thread cannot be started runs on this thread. Returns when every
 * range is done. */
void par_for(size_t n, int threads, size_t grain, void (*fn)(void *ctx, size_t lo, size_t hi),
             void *ctx, void (*beside)(void *bctx), void *bctx);

#endif
