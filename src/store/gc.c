/* gc: least-recently-used eviction for the local store. An entry's mtime
 * is its last use. Blobs and result logs (a shard's results, ac.c) are
 * evicted alike, oldest first, a log whole; a result whose blob is gone is a miss, never an error, so no
 * ordering between the two is needed. Temp files older than an hour are
 * leftovers of killed processes and go first. The blobs that <dir>/roots
 * names (releases a stage keeps, deploy/roots.h) are never evicted. */
#include "store/store_int.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct entry {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void scan(const char *dir, int depth, struct entries *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0) {
			free(p);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth > 0) {
			scan(p, depth - 1, out);
			free(p);
		} else if (S_ISREG(st.st_mode)) {
			struct entry en = {p, (uint64_t)st.st_size,
			                   (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
			VEC_PUSH(out->v, out->n, out->cap, en);
		} else {
			free(p);
		}
	}
	closedir(d);
}

/* The digests the files of <dir>/roots name (deploy/roots.h), one per
 * line: a text searched with strstr for "<64 hex>\n". The file of a
 * workspace that no longer has a state.db is removed. */
static char *read_roots(const char *dir)
{
	char *rdir = xasprintf("%s/roots", dir);
	struct buf all = {0};
	DIR *d = opendir(rdir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", rdir, e->d_name);
		struct buf one = {0};
		if (fs_read_all(p, &one) == 0 && one.len) {
			/* "workspace PATH\n" first: a workspace that is gone (no
			 * state.db) roots nothing any more */
			char *nl = memchr(one.s, '\n', one.len);
			char *db = nl && !strncmp(one.s, "workspace ", 10)
			                   ? xasprintf("%.*s/.cairn/state.db", (int)(nl - one.s - 10), one.s + 10)
			                   : NULL;
			if (db && access(db, F_OK) < 0)
				unlink(p);
			else
				buf_putn(&all, one.s, one.len);
			free(db);
		}
		buf_free(&one);
		free(p);
	}
	if (d)
		closedir(d);
	free(rdir);
	return all.s ? buf_take(&all) : NULL;
}

/* Is the blob at path (cas/<2>/<64>[.x]) one roots names? */
static int rooted(const char *roots, const char *path)
{
	const char *base = strrchr(path, '/');
	if (!roots || !base || strlen(base + 1) < 64)
		return 0;
	char hex[66];
	memcpy(hex, base + 1, 64);
	hex[64] = '\n';
	hex[65] = 0;
	return strstr(roots, hex) != NULL;
}

static int by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

int store_local_gc(const char *dir, uint64_t max_bytes, uint64_t *removed, uint64_t *kept)
{
	struct entries all = {0};
	char *cas = xasprintf("%s/cas", dir), *ac = xasprintf("%s/ac", dir),
	     *tmp = xasprintf("%s/tmp", dir);
	*removed = *kept = 0;
	struct entries tmps = {0};
	scan(tmp, 0, &tmps);
	int64_t hour_ago = (int64_t)time(NULL) * 1000000000 - 3600ll * 1000000000;
	for (size_t i = 0; i < tmps.n; i++) {
		if (tmps.v[i].mtime_ns < hour_ago && unlink(tmps.v[i].path) == 0)
			*removed += tmps.v[i].size;
		free(tmps.v[i].path);
	}
	free(tmps.v);
	scan(cas, 1, &all);
	size_t nblobs = all.n;
	scan(ac, 1, &all);
	char *roots = read_roots(dir);
	uint64_t total = 0;
	for (size_t i = 0; i < all.n; i++)
		total += all.v[i].size;
	/* the blobs of kept releases are never evicted */
	for (size_t i = 0; i < nblobs; i++)
		if (rooted(roots, all.v[i].path))
			all.v[i].mtime_ns = INT64_MAX;
	free(roots);
	xqsort(all.v, all.n, sizeof *all.v, by_age);
	for (size_t i = 0; i < all.n; i++) {
		if (total > max_bytes && all.v[i].mtime_ns != INT64_MAX && unlink(all.v[i].path) == 0) {
			total -= all.v[i].size;
			*removed += all.v[i].size;
		}
		free(all.v[i].path);
	}
	*kept = total;
	free(all.v);
	free(cas);
	free(ac);
	free(tmp);
	return 0;
}
