/* remote_store: a remote cache (cas.h: HTTP or REAPI) as a second level
 * behind the local store, through the same store_ops. */
#ifndef CAIRN_REMOTE_STORE_H
#define CAIRN_REMOTE_STORE_H
#include "remote/cas.h"
#include "store/store.h"
#include <stddef.h>

/* A store that answers from local (taking ownership of it) and, on a
 * miss there, from cas (not owned; it outlives the store). With upload,
 * results are put remotely too (their blobs first). With lazy, a result
 * found remotely is kept locally without its blobs, and get_file or
 * get_blob fetches a blob of such a result when it is first asked for
 * (--remote_download=toplevel). Never NULL. */
struct store *remote_store_open(struct store *local, struct cas *cas, int upload, int lazy);
/* How many results came from the remote cache so far. */
size_t remote_store_hits(struct store *s);

/* An ActionResult that came from elsewhere (an executor's answer), in
 * *r: decoded (a separate stderr is appended to stdout into one log), its
 * blobs fetched, verified and stored locally. 0, or -1 with *why (fresh)
 * when it cannot be had. Nothing is put under any key. */
int remote_store_adopt(struct store *s, const void *p, size_t n, struct action_result *r,
                       char **why);
/* The local store's bytes of r's blobs uploaded where missing, then r
 * under key. Best effort: 0, or -1 (the remote given up, or a blob not
 * had locally). */
int remote_store_upload(struct store *s, const struct digest *key, uint64_t key_size,
                        const struct action_result *r);

#endif
