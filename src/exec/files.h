/* files: what one build knows of the workspace's files, by file id:
 *   - their stat data, taken up front on threads (the pre-stat: a build
 *     that has little to do is mostly stat calls) and used once, since it
 *     is stale as soon as cairn writes the file;
 *   - each source's digest, looked up once however many actions read it;
 *   - which output directories were swept of the temp files a killed
 *     cairn left there.
 * It sees the graph, the state (a digest cache keyed by stat data) and
 * the file system; never the scheduler. */
#ifndef CAIRN_FILES_H
#define CAIRN_FILES_H
#include "graph/graph.h"
#include "store/state.h"
#include "util/fs.h"
#include "util/map.h"

/* What is known of the files before the build, from the no-op check
 * (exec/noop.h), by file id: their stat data now, and how they compare with
 * the last build of the same graph, in which every wanted action was up
 * to date. An action none of whose files changed, and whose producers are
 * all in that case too, is up to date without computing its key. */
enum { KNOWN_NOT = 0, KNOWN_SAME, KNOWN_CHANGED, KNOWN_MISSING };
struct sched_known {
	const struct file_stat *st; /* stat data now (KNOWN_SAME, _CHANGED) */
	const unsigned char *what;  /* KNOWN_* */
};

struct files {
	const struct graph *g;
	struct state *st;
	struct fsys *fs;
	struct digest *src_d;       /* per file id: a source's digest, once known */
	unsigned char *src_known;   /* per file id: 1 known, 2 unreadable */
	struct file_stat *pre;      /* per file id: stat data taken up front */
	unsigned char *pre_ok;      /* per file id: 1 pre[] valid, 2 missing, 0 not taken */
	struct map swept;           /* output directories swept this build (keys owned) */
};

void files_init(struct files *fl, const struct graph *g, struct state *st, struct fsys *fs);
void files_free(struct files *fl);
/* Stat every file a wanted action reads (but those a wanted action makes)
 * or writes, on up to `threads` threads; what the no-op check took
 * already (known, or NULL) is not taken again. fs must be thread-safe. */
void files_prestat(struct files *fl, const struct sched_known *known, int threads);
/* A file's digest as it was when the build started (its pre-stat used,
 * once). 0, or -1 with errno. */
int files_first_digest(struct files *fl, const struct gfile *f, struct digest *d);
/* A source's digest, looked up once per build. 0, or -1 with errno. */
int files_source_digest(struct files *fl, const struct gfile *f, struct digest *d);
/* Before an output at path is written (run or restored): remove the temp
 * files a killed cairn left in its directory (once per directory). */
void files_sweep(struct files *fl, const char *path);

#endif
