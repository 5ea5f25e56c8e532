/* http_store: a bazel-remote-style HTTP cache as a second level behind
 * the local store, through the same store_ops. */
#ifndef CAIRN_HTTP_STORE_H
#define CAIRN_HTTP_STORE_H
#include "remote/url.h"
#include "store/store.h"
#include <stddef.h>

struct http_store_opts {
	const struct url *url;        /* an http:// URL (not owned) */
	const char *const *headers;   /* "Name: value", sent with every request */
	size_t nheaders;
	int timeout_ms;               /* for each wait on the network */
	int upload;                   /* put results (and their blobs) remotely */
};

/* A store that answers from local (taking ownership of it) and, on a
 * miss there, from the cache at o->url. Never NULL. */
struct store *http_store_open(struct store *local, const struct http_store_opts *o);
/* How many results came from the remote cache so far. */
size_t http_store_hits(struct store *s);
/* Why the remote cache was given up for this build (a fresh string,
 * caller frees), or NULL while it serves. */
char *http_store_why(struct store *s);

#endif
