/* serve/status: what `cairn serve --metrics HOST:PORT` answers:
 *   /metrics  Prometheus text format (version 0.0.4)
 *   /healthz  "ok"
 *   /         a status page for people: plain HTML, no script */
#ifndef CAIRN_SERVE_STATUS_H
#define CAIRN_SERVE_STATUS_H
#include "serve/cache.h"
#include "serve/execute.h"
#include "serve/h2srv.h"
#include "util/str.h"
#include <stdint.h>

struct status_src {
	struct srv *srv;
	struct cache *cache;
	struct exec_pool *exec; /* or NULL: no executions */
	const char *store_dir;
	uint64_t max_size;    /* 0: none */
	uint64_t store_bytes; /* measured now and then (status_measure) */
	int64_t started;      /* Unix seconds */
};

/* As http1_page, with ctx a struct status_src. */
int status_page(void *ctx, const char *path, struct buf *body, const char **type);
/* Measure the store's size into src->store_bytes. */
void status_measure(struct status_src *src);

#endif
