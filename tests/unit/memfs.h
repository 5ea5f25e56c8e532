/* memfs: a file system in memory behind struct fsys, and a store in
 * memory on top of it, so that the scheduler, the state and the
 * snapshot are tested without a temporary directory, in parallel, with a
 * clock the test moves (memfs.clock_ns is what now() says; every write
 * stamps the file with it).
 *
 * Files only: a directory is there when a file below it is. A FIFO or a
 * directory can be made as an entry: stat says what it is, and reading
 * or hashing it fails with EINVAL or EISDIR, as fs_open_regular does on a
 * real disk. */
#ifndef CAIRN_MEMFS_H
#define CAIRN_MEMFS_H
#include "store/store.h"
#include "util/fs.h"
#include "util/map.h"

struct memfs {
	struct fsys base;  /* first: &m->base is the fsys */
	struct map files;  /* path -> struct mfile (keys owned by the files) */
	int64_t clock_ns;  /* the wall clock: now(), and each write's mtime */
	uint64_t next_ino;
	const char *count; /* a path whose stat calls are counted, or NULL */
	int nstat;         /* how many there were */
	int nhash;         /* hash calls, on any path */
};

void memfs_init(struct memfs *m);
void memfs_free(struct memfs *m);
/* Write text to path (stamped with the clock). */
void memfs_put(struct memfs *m, const char *path, const char *text);
/* Make path a FIFO, or a directory (as an entry of its own, for stat). */
void memfs_mkfifo(struct memfs *m, const char *path);
void memfs_mkdir(struct memfs *m, const char *path);
/* The contents of path (fresh string), or NULL when it is not a file. */
char *memfs_get(struct memfs *m, const char *path);
/* Is there a file at path? */
int memfs_exists(struct memfs *m, const char *path);

/* A store in memory whose files are m's: results by key, blobs by
 * digest. Close it with its ops->close. */
struct store *memstore_open(struct memfs *m);

#endif
