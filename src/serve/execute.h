/* serve/execute: REAPI's Execution service for `cairn serve`: actions run
 * in a pool of sandboxed worker processes (execute.c says how). */
#ifndef CAIRN_SERVE_EXECUTE_H
#define CAIRN_SERVE_EXECUTE_H
#include "serve/h2srv.h"
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct exec_pool;

/* What the pool did and does, for /metrics and the status page. */
struct exec_stats {
	uint64_t started, ok, failed, cached, deduped, retried, abandoned, timed_out, refused;
	uint64_t spawned;          /* workers forked, ever */
	uint64_t queued, busy, total, min, max;
};

/* The pool's shape: min workers kept warm, at most max; one above min
 * idle for idle_s seconds exits; at most queue actions wait. */
struct exec_opts {
	int min, max;
	unsigned idle_s;
	size_t queue;
};

/* A pool over the store at storedir (its min workers started). */
struct exec_pool *exec_new(const char *storedir, const struct exec_opts *o);
void exec_free(struct exec_pool *p);
/* Execute and WaitExecution (their ctx: p). */
const struct srv_method *exec_methods(struct exec_pool *p, size_t *n);
/* The workers' pipes, for the server's loop (srv_set_extra's shape). */
size_t exec_fds(void *p, struct pollfd *pf, size_t max);
void exec_handle(void *p, const struct pollfd *pf, size_t n);
void exec_stats(const struct exec_pool *p, struct exec_stats *st);

#endif
