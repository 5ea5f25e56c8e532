/* deploy/roots: releases as GC roots. Each stage's last keep releases
 * (its deployment's keep, default 10) must stay restorable, so their
 * blobs are listed in <cache>/roots/<workspace>: one file per workspace
 * using the cache, which store_local_gc reads and never evicts from:
 *   workspace <absolute root>\n
 *   <64 hex>\n ...          one line per blob
 * (gc removes the file of a workspace whose .cairn/state.db is gone). The
 * release directories under .cairn/releases that no stage keeps any more
 * are removed at the same time. */
#ifndef CAIRN_DEPLOY_ROOTS_H
#define CAIRN_DEPLOY_ROOTS_H
#include "deploy/state.h"
#include "util/err.h"

/* Write the roots of the workspace at root into cache_dir. 0 or -1 with *e. */
int roots_write(struct dstate *st, const char *root, const char *cache_dir, struct err *e);

#endif
