/* snapshot: the evaluated action graph on disk (.cairn/graph), so a build
 * whose build files, modules and globbed directories are unchanged skips
 * Lua altogether. It is valid for one request (the patterns, cairn's
 * version) while every recorded dependency has the same stat data. */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H
#include "graph/graph.h"
#include "util/fs.h"

/* Something evaluation looked at: a file it read, a path it probed, a
 * directory it listed. present = 0 records that the path did not exist. */
struct snap_dep {
	char *path;
	int present;
	struct file_stat st;
};

/* Write g and its dependencies (temp + rename). 0 or -1 with errno. */
int snapshot_save(const char *path, const char *key, const struct graph *g,
                  const struct snap_dep *deps, size_t ndeps);
/* Load into an empty g when the file is for `key` and every dependency is
 * unchanged: 1. Otherwise 0, with g left empty (missing, stale, foreign or
 * corrupt snapshots are all just a miss). */
int snapshot_load(const char *path, const char *key, struct fsys *fs, struct graph *g);

#endif
