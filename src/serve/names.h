/* serve/names: which blobs a shard of the store (cas/XX) holds, read with
 * one pass over its directory and kept while the directory's mtime stays
 * the same, so that FindMissingBlobs answers a blob that is not there
 * without looking its two names up on disk (each a directory search
 * that no cache of the kernel's answers, the digest being new).
 *
 * It only ever says "absent": a blob it thinks present is still looked
 * up by the caller, so a stale list costs at worst an upload a client
 * did not need (a blob added by another process within the same clock
 * tick as the list was read), never a blob reported that is gone. */
#ifndef CAIRN_SERVE_NAMES_H
#define CAIRN_SERVE_NAMES_H
#include "util/sha.h"
#include <stddef.h>

/* A shard is read when a request looks up at least this many of its
 * blobs and its list is stale: fewer cost less looked up one by one. */
enum { NAMES_READ_MIN = 8 };

struct names;

struct names *names_new(const char *store_dir);
void names_free(struct names *nm);
/* A new request: each shard's directory is checked again (one stat) the
 * first time the request asks about it. */
void names_begin(struct names *nm);
/* 1 when blob d is certainly not in the store; 0 when it may be (look it
 * up). want: how many of the request's blobs fall in d's shard. */
int names_absent(struct names *nm, const struct digest *d, size_t want);
/* This process put blob d in the store: its shard's list is stale. */
void names_forget(struct names *nm, const struct digest *d);

#endif
