/* remote: what one build uses of the remote, set up from the flags: a
 * cache (HTTP, or REAPI over gRPC) behind the local store, and a REAPI
 * executor behind the local runner. */
#ifndef CAIRN_REMOTE_H
#define CAIRN_REMOTE_H
#include "exec/runner.h"
#include "remote/url.h"
#include "store/store.h"
#include <stddef.h>

struct remote_cfg {
	const struct url *cache;     /* --remote_cache, or host NULL */
	const struct url *executor;  /* --remote_executor, or host NULL */
	const char *instance;        /* --remote_instance_name, or NULL */
	const char *const *headers;  /* "name: value" (--remote_header) */
	size_t nheaders;
	int timeout_ms;              /* --remote_timeout */
	int upload;                  /* --remote_upload_local_results */
	int download_toplevel;       /* --remote_download=toplevel */
	const char *tool_version;    /* for RequestMetadata */
};

struct remote;

/* Set up what cfg names (nothing connects yet). NULL with *why (fresh)
 * when it cannot be (a thread that does not start). */
struct remote *remote_open(const struct remote_cfg *cfg, char **why);
/* The store to build with: local (taken) behind the remote cache, or
 * local itself when there is none. Once per remote. */
struct store *remote_store(struct remote *r, struct store *local);
/* The runner to build with: local (taken), wrapped by the executor when
 * there is one (a job with a REAPI spec then runs remotely). */
struct runner *remote_runner(struct remote *r, struct runner *local);
/* Is there an executor? */
int remote_executes(const struct remote *r);

struct remote_stats {
	size_t cache_hits;        /* results that came from the remote cache */
	size_t rpcs;              /* calls (or HTTP requests) made */
	unsigned long long bytes_in; /* bytes received */
	char *why;                /* why the remote was given up, or NULL (owned) */
};
void remote_stats(struct remote *r, struct remote_stats *st);
/* After the store and runner are freed. */
void remote_close(struct remote *r);

#endif
