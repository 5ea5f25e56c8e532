/* cas: a remote content-addressed store and action cache, whatever the
 * protocol (HTTP as bazel-remote speaks it, or REAPI over gRPC), with the
 * rules every caller wants:
 *   - every blob fetched is checked against its digest and size; a
 *     mismatch is a fault, never data;
 *   - a fault (refused, timed out, cut, UNAVAILABLE, RESOURCE_EXHAUSTED,
 *     INTERNAL, a bad blob) is tried again, TRIES times with exponential
 *     backoff and jitter; then the remote is given up for the rest of the
 *     build (cas_why says why), and every call after that fails at once;
 *   - an answer that trying again cannot change (permission denied, an
 *     unknown method) gives it up at once.
 * Thread-safe: each call may come from any thread. */
#ifndef CAIRN_CAS_H
#define CAIRN_CAS_H
#include "util/sha.h"
#include "util/str.h"
#include <stddef.h>
#include <stdint.h>

/* What a backend answers. */
enum cas_rc {
	CAS_OK,
	CAS_MISS,    /* not there (an entry, or one of the blobs asked for) */
	CAS_RETRY,   /* a fault worth trying again */
	CAS_FATAL,   /* give the remote up */
};

struct cas_blob {
	struct digest d;
	uint64_t size;
	struct buf data;   /* the bytes (fetched into, or to upload) */
	int missing;       /* set by find_missing: the remote lacks it */
};

/* A protocol. Each op: a cas_rc, *why (fresh) with RETRY and FATAL. */
struct cas_backend;
struct cas_backend_ops {
	/* key, key_size: an Action digest (HTTP uses the hash alone) */
	int (*get_result)(struct cas_backend *b, const struct digest *key, uint64_t key_size,
	                  struct buf *out, char **why);
	int (*put_result)(struct cas_backend *b, const struct digest *key, uint64_t key_size,
	                  const void *p, size_t n, char **why);
	/* Optional: n results at once (all in flight together). */
	int (*put_results)(struct cas_backend *b, const struct digest *keys, const uint64_t *key_sizes,
	                   const struct buf *vals, size_t n, char **why);
	/* All n blobs' bytes into v[i].data (unverified: cas checks). */
	int (*get_blobs)(struct cas_backend *b, struct cas_blob *v, size_t n, char **why);
	/* Set v[i].missing for those the remote lacks; NULL: all are. */
	int (*find_missing)(struct cas_backend *b, struct cas_blob *v, size_t n, char **why);
	/* Upload those with missing set. */
	int (*put_blobs)(struct cas_backend *b, struct cas_blob *v, size_t n, char **why);
	/* A blob came back wrong: drop the connection it came on (optional). */
	void (*reset)(struct cas_backend *b);
	void (*free)(struct cas_backend *b);
	/* RPCs (or requests) made, bytes received. */
	void (*counts)(struct cas_backend *b, size_t *calls, unsigned long long *bytes_in);
};
struct cas_backend {
	const struct cas_backend_ops *ops;
};

struct cas;

/* name: the remote's URL for messages (copied). Takes b. */
struct cas *cas_new(struct cas_backend *b, const char *name);
void cas_free(struct cas *c);

/* CAS_OK with the entry's bytes appended to out, CAS_MISS, or CAS_FATAL
 * (given up; also when it was before). */
int cas_get_result(struct cas *c, const struct digest *key, uint64_t key_size, struct buf *out);
/* n entries: CAS_OK or CAS_FATAL. */
int cas_put_results(struct cas *c, const struct digest *keys, const uint64_t *key_sizes,
                    const struct buf *vals, size_t n);
/* Fetch v's blobs, each verified: CAS_OK, CAS_MISS or CAS_FATAL. An
 * empty blob needs no fetch. */
int cas_get_blobs(struct cas *c, struct cas_blob *v, size_t n);
/* Which of v the remote lacks (missing set): CAS_OK or CAS_FATAL. */
int cas_find_missing(struct cas *c, struct cas_blob *v, size_t n);
/* Upload those of v with missing set: CAS_OK or CAS_FATAL. */
int cas_put_blobs(struct cas *c, struct cas_blob *v, size_t n);

/* Give the remote up with this reason (taken), unless it was already. */
void cas_give_up(struct cas *c, char *why);
/* Has it been given up? */
int cas_absent(struct cas *c);
/* "URL: why" once given up (fresh), else NULL. */
char *cas_why(struct cas *c);
void cas_counts(struct cas *c, size_t *calls, unsigned long long *bytes_in);

/* The backends. */
struct url;
struct cas_backend *http_cas_new(const struct url *u, const char *const *headers, size_t n,
                                 int timeout_ms);
struct grpc;
/* Over channel g (not owned), for instance (may be ""). */
struct cas_backend *grpc_cas_new(struct grpc *g, const char *instance);

#endif
