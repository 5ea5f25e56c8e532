/* store: where action results and their output bytes live, behind a small
 * interface so a remote cache (REAPI, HTTP) can stand in for the local
 * one. Blobs are named by SHA-256; results by action key. */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H
#include "util/sha.h"
#include "util/str.h"
#include <stddef.h>
#include <stdint.h>

struct result_output {
	char *path;      /* workspace-relative; owned */
	struct digest d; /* content */
	uint64_t size;
	unsigned mode;   /* permission bits (0755 or 0644) */
};

/* What an action produced: the cache's value for an action key. */
struct action_result {
	int exit_code;
	struct digest log;         /* the action's merged stdout+stderr */
	uint64_t log_size;
	struct result_output *outputs;
	size_t noutputs;
	char **discovered;         /* inputs the action reported reading (its
	                              depfile), sorted; owned; may be NULL */
	size_t ndiscovered;
	int remote;                /* set by get_result: the hit came from a
	                              remote cache, not the local store; to
	                              put_result: a remote executor made it
	                              (a remote cache has it already) */
};

struct store;
struct store_ops {
	/* 1 and *r filled on a hit, 0 on a miss (or a corrupt entry, or one
	 * that is not a regular file, or one written for another key). The
	 * key is an REAPI Action digest; key_size, the Action's length, is
	 * the rest of that digest, which a remote cache is asked by. */
	int (*get_result)(struct store *s, const struct digest *key, uint64_t key_size,
	                  struct action_result *r);
	/* 0 or -1 (errno). */
	int (*put_result)(struct store *s, const struct digest *key, uint64_t key_size,
	                  const struct action_result *r);
	/* Insert a file's bytes; its digest and size come back. 0 or -1. The
	 * file may become the blob (made read-only and linked in), unless
	 * other links share its inode: then its bytes are copied. */
	int (*put_file)(struct store *s, const char *path, struct digest *d, uint64_t *size);
	int (*put_blob)(struct store *s, const void *p, size_t n, struct digest *d);
	/* Write the blob to dst (temp + rename) with mode, verifying its
	 * digest. 0, or -1 when missing or corrupt (a corrupt blob is removed). */
	int (*get_file)(struct store *s, const struct digest *d, const char *dst, unsigned mode);
	/* Append the blob to b, verified. 0 or -1. */
	int (*get_blob)(struct store *s, const struct digest *d, struct buf *b);
	void (*close)(struct store *s);
	/* Optional (NULL): these keys will be asked for soon; a store that
	 * must go over the network starts looking them up now. */
	void (*prefetch)(struct store *s, const struct digest *keys, const uint64_t *key_sizes,
	                 size_t n);
};

struct store {
	const struct store_ops *ops;
	int put_errno; /* errno of the first put that could not store what it
	                  was given (a full disk, say), or 0. Puts are best
	                  effort: the build goes on without them, and the CLI
	                  says so once per build, not once per failure. */
};

/* The local store rooted at dir (created if needed); NULL with errno. */
struct store *store_local_open(const char *dir);
void action_result_free(struct action_result *r);

/* The local store's blob d (either mode's file) opened for reading, its
 * length in *size: the fd, or -1 with errno when it is not there. Not
 * verified: a server streams it, and its client checks the digest. */
int store_local_blob(struct store *s, const struct digest *d, uint64_t *size);
/* Is blob d in the local store (either mode)? 1 with *size, or 0. Both
 * count as a use for the LRU eviction. */
int store_local_has(struct store *s, const struct digest *d, uint64_t *size);

/* gc: evict least-recently-used entries until the store holds at most
 * max_bytes. Reports what it removed. 0 or -1. */
int store_local_gc(const char *dir, uint64_t max_bytes, uint64_t *removed, uint64_t *kept);

#endif
