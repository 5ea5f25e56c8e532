/* serve/cache: REAPI's cache services (Capabilities, CAS, ByteStream,
 * ActionCache) over cairn's local store, as methods for serve/h2srv. */
#ifndef CAIRN_SERVE_CACHE_H
#define CAIRN_SERVE_CACHE_H
#include "serve/h2srv.h"
#include <stddef.h>
#include <stdint.h>

struct cache;

/* What was served, for /metrics. */
struct cache_stats {
	uint64_t ac_hits, ac_misses;   /* GetActionResult */
	uint64_t cas_hits, cas_misses; /* blobs read (BatchRead, Read) */
	uint64_t find_missing;         /* digests asked about */
	uint64_t bytes_in, bytes_out;  /* blob bytes */
};

/* The services over the store at dir (made when missing). NULL with *why. */
struct cache *cache_new(const char *dir, char **why);
void cache_free(struct cache *k);
/* Say whether Capabilities announces execution. */
void cache_set_exec(struct cache *k, int enabled);
/* The methods; their ctx (srv_new's) must be the cache. */
const struct srv_method *cache_methods(size_t *n);
void cache_stats(const struct cache *k, struct cache_stats *st);

#endif
