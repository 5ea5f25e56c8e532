/* snapshot: the evaluated action graph on disk (.cairn/graph), so a build
 * whose build files, modules and globbed directories are unchanged skips
 * Lua altogether. It is valid for one request (the patterns, cairn's
 * version) while every recorded dependency has the same stat data. */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H
#include "graph/graph.h"
#include "util/fs.h"

/* Something evaluation looked at, and how closely: */
enum dep_kind {
	DEP_STAT,    /* a file it read: all its stat data */
	DEP_EXISTS,  /* a path it probed: absent, a file, or a directory */
	DEP_PKGLIST, /* a directory searched for packages: its sub-dirs, BUILD.lua */
	DEP_LIST,    /* a directory a glob listed: every entry's name and type */
	DEP_DIR,     /* on disk only: heads the DEP_EXISTS records of one directory */
};

struct snap_dep {
	char *path;
	enum dep_kind kind;
	int present;         /* 0 absent; DEP_EXISTS: 1 file, 2 directory */
	struct file_stat st; /* DEP_STAT */
	struct digest d;     /* DEP_PKGLIST, DEP_LIST: fs_list_digest */
	struct file_stat dir_st; /* DEP_EXISTS: the parent directory (followed),
	                            taken before the first probe in it */
	int dir_ok;              /* the parent existed */
	int link;                /* the path itself is a symlink: a change to
	                            what it points at does not touch its parent,
	                            so it is always checked on its own */
	int nodirstat;           /* DEP_LIST, DEP_PKGLIST: holds a symlink, so
	                            its stat data cannot vouch for its listing */
};

/* Fill d->present, d->st, d->d for d->path and d->kind, as they are now. */
void snap_dep_probe(struct fsys *fs, struct snap_dep *d);

/* Write g and its dependencies (temp + rename). A build file modified in
 * the last FS_RACY_NS (by fs's clock) could change again within the same timestamp tick: then
 * no snapshot is kept. 0 or -1 with errno. When it is written and deps_out
 * is not NULL, the encoded dependency section is appended to deps_out. */
int snapshot_save(const char *path, const char *key, const struct graph *g,
                  const struct snap_dep *deps, size_t ndeps, struct buf *deps_out, struct fsys *fs);
/* Load into an empty g when the file is for `key` and every dependency is
 * unchanged: 1 (and, when deps_out is not NULL, the encoded dependency
 * section appended to it). Otherwise 0, with g left empty (missing, stale,
 * foreign or corrupt snapshots are all just a miss). With fs NULL, the
 * dependencies are not probed: the caller has just checked them (the
 * no-op check, on the same file). */
int snapshot_load(const char *path, const char *key, struct fsys *fs, struct graph *g,
                  struct buf *deps_out);
/* Is every dependency in an encoded section (from deps_out) unchanged? */
int snapshot_deps_unchanged(const void *p, size_t n, struct fsys *fs);

#endif
