/* noop: the fast answer to "is there anything to do?" (.cairn/noop).
 *
 * After a build in which every wanted action succeeded, cairn records the
 * request, the state file's identity, the snapshot's dependency section
 * (build files, modules, globbed directories) and the stat data of every
 * file the wanted actions read or wrote. The next build of the same
 * request is a no-op, and prints its summary without loading the graph or
 * the state, when all of that is unchanged: the check is one stat per file
 * on a few threads, against ninja's one stat per file on one.
 *
 * Why that is enough: an up-to-date decision depends only on the graph
 * (fixed by the request and the build files), the state's records (fixed
 * by the state file, which every change rewrites by rename) and the
 * contents of the files (fixed by their stat data, racy files aside: a
 * file cairn did not write, modified within FS_RACY_NS of the build's
 * start, is recorded only once it has settled: its mtime that far in the
 * past, its stat data and digest still those the build used). Files an
 * action's depfile named without its declaring them are recorded too;
 * with such files, only a true no-op is answered from the record. */
#ifndef CAIRN_NOOP_H
#define CAIRN_NOOP_H
#include "exec/sched.h"
#include "graph/graph.h"
#include "store/state.h"
#include "util/str.h"
#include <stddef.h>
#include <stdint.h>

/* What the check saw of each file, by graph file id, when the record was
 * for this request, state and .cairn/graph as it is now, its build files
 * unchanged, and only some files changed. */
struct noop_seen {
	size_t nfiles;          /* the graph's file count */
	struct file_stat *st;   /* per id: stat data now (NULL: nothing seen) */
	unsigned char *what;    /* per id: a sched_known value */
	/* the record as read, for noop_record to patch in place: */
	struct buf rec;         /* its bytes (empty: not patchable) */
	struct file_stat rec_st; /* the record file's own stat data then */
	size_t head;            /* offset of the state's stat data */
	uint32_t *ids;          /* per entry: graph file id, */
	size_t *at;             /* and offset of its stat data */
	size_t n;               /* entries */
	size_t deps_at, deps_len; /* the dependency section */
};

/* 1 when the record at path is for key and nothing it covers changed;
 * *nactions gets the number of actions it covered. 0 otherwise (no
 * record, another request, a damaged file: all just "look closer"); then
 * *seen is filled when only files changed (the caller frees it). */
int noop_check(const char *path, const char *key, int threads, size_t *nactions,
               struct noop_seen *seen, struct fsys *fs);
/* Does seen number the files of g (loaded from .cairn/graph after the
 * check filled seen)? */
int noop_seen_fits(const struct noop_seen *seen, const struct graph *g);
void noop_seen_free(struct noop_seen *seen);

/* Record a successful build of g's wanted actions (after the state was
 * saved). deps: the snapshot's dependency section (empty: no snapshot was
 * kept, so no record). start_ns: wall-clock time the build started. With
 * nothing recordable, any old record is removed. seen: what noop_check
 * filled (or zeroed): when the old record covers the same files of the
 * same graph, only the stat data that changed is written into it. */
void noop_record(const char *path, const char *key, const struct graph *g, struct state *st,
                 const struct buf *deps, int64_t start_ns, struct noop_seen *seen,
                 struct fsys *fs);

#endif
