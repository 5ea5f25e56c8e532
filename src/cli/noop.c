/* noop: format of .cairn/noop (integers little-endian, strings as u32
 * length + bytes; names carry their NUL, so they are used in place):
 *   magic    8 bytes "CAIRNNO\0", version u32 (NO_VERSION)
 *   key      string: the request (snapshot key and execution properties)
 *   state    the state file's stat data: size, mtime_ns, ctime_ns, ino
 *            (u64 each), mode u32
 *   nactions u64: wanted actions, for the summary line
 *   deps     u32 length + the snapshot's dependency section
 *   ndirs    u32, then each directory (string; "." is the root)
 *   nfiles   u32, then per file: directory number u32, name (string),
 *            stat data as above
 *   trailer  u64 check64 of everything before it
 * Written by temp + rename; removed at the start of every build that does
 * not take the fast path, so a build killed half-way leaves none. */
#include "cli/noop.h"
#include "graph/snapshot.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char NO_MAGIC[8] = "CAIRNNO";
enum { NO_VERSION = 1 };
enum { STAT_BYTES = 8 * 4 + 4 };
#define MAX_THREADS 16

/* A NUL-terminated string stored with its NUL, or NULL. */
static const char *get_name(struct reader *rd)
{
	size_t n;
	const char *s = rd_lstr(rd, &n);
	return s && n > 0 && s[n - 1] == 0 && memchr(s, 0, n) == s + n - 1 ? s : NULL;
}

/* ---- the check ---- */

struct entry {
	uint32_t dir;
	const char *name;
	struct file_stat st;
};

struct check {
	const char **dirs;
	size_t ndirs;
	const struct entry *e;
	size_t n;
	int changed; /* set by any thread that saw a difference */
};

struct part {
	struct check *c;
	size_t lo, hi;
};

/* Stat entries lo..hi (sorted by directory), each relative to its
 * directory, so the kernel walks one name, not the whole path. */
static void *check_part(void *arg)
{
	struct part *p = arg;
	struct check *c = p->c;
	uint32_t cur = UINT32_MAX;
	int fd = -1;
	for (size_t i = p->lo; i < p->hi; i++) {
		if ((i & 255) == 0 && __atomic_load_n(&c->changed, __ATOMIC_RELAXED))
			break;
		const struct entry *e = &c->e[i];
		if (e->dir != cur) {
			if (fd >= 0)
				close(fd);
			cur = e->dir;
			fd = open(c->dirs[cur], O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				__atomic_store_n(&c->changed, 1, __ATOMIC_RELAXED);
				break;
			}
		}
		struct stat sb;
		struct file_stat now;
		if (fstatat(fd, e->name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			__atomic_store_n(&c->changed, 1, __ATOMIC_RELAXED);
			break;
		}
		file_stat_from(&sb, &now);
		if (!stat_eq(&now, &e->st)) {
			__atomic_store_n(&c->changed, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int files_unchanged(struct check *c, int threads)
{
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if ((size_t)threads > c->n / 512 + 1)
		threads = (int)(c->n / 512 + 1);
	pthread_t th[MAX_THREADS];
	struct part parts[MAX_THREADS];
	int started[MAX_THREADS] = {0};
	for (int t = 0; t < threads; t++) {
		parts[t] = (struct part){c, c->n * (size_t)t / (size_t)threads,
		                         c->n * (size_t)(t + 1) / (size_t)threads};
		if (t > 0)
			started[t] = pthread_create(&th[t], NULL, check_part, &parts[t]) == 0;
	}
	check_part(&parts[0]);
	for (int t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			check_part(&parts[t]);
	}
	return !c->changed;
}

static int state_identity(struct file_stat *st)
{
	struct stat sb;
	if (lstat(".cairn/state", &sb) < 0)
		return -1;
	file_stat_from(&sb, st);
	return 0;
}

int noop_check(const char *path, const char *key, int threads, size_t *nactions)
{
	struct buf b = {0};
	struct reader rd;
	struct check c = {0};
	struct entry *e = NULL;
	int ok = 0;
	if (fs_read_all(path, &b) < 0 || frame_open(&b, NO_MAGIC, NO_VERSION, &rd) < 0)
		goto out;
	size_t klen;
	const char *k = rd_lstr(&rd, &klen);
	if (!k || klen != strlen(key) || memcmp(k, key, klen) != 0)
		goto out;
	struct file_stat want, now;
	stat_get(&rd, &want);
	if (rd.bad || state_identity(&now) < 0 || !stat_eq(&want, &now))
		goto out;
	*nactions = (size_t)rd_u64(&rd);
	size_t dlen = rd_u32(&rd);
	const void *deps = rd_bytes(&rd, dlen);
	if (!deps || !snapshot_deps_unchanged(deps, dlen, fsys_real()))
		goto out;
	c.ndirs = rd_u32(&rd);
	if (rd.bad || c.ndirs > (size_t)(rd.end - rd.p) / 5)
		goto out;
	c.dirs = xcalloc(c.ndirs ? c.ndirs : 1, sizeof *c.dirs);
	for (size_t i = 0; i < c.ndirs; i++)
		if (!(c.dirs[i] = get_name(&rd)))
			goto out;
	c.n = rd_u32(&rd);
	if (rd.bad || c.n > (size_t)(rd.end - rd.p) / (4 + 5 + STAT_BYTES))
		goto out;
	e = xcalloc(c.n ? c.n : 1, sizeof *e);
	for (size_t i = 0; i < c.n; i++) {
		e[i].dir = rd_u32(&rd);
		e[i].name = get_name(&rd);
		stat_get(&rd, &e[i].st);
		if (rd.bad || !e[i].name || e[i].dir >= c.ndirs)
			goto out;
	}
	if (rd.p != rd.end)
		goto out;
	c.e = e;
	ok = files_unchanged(&c, threads);
out:
	free(e);
	free(c.dirs);
	buf_free(&b);
	return ok;
}

/* ---- the record ---- */

struct rec {
	const char *path;
	const struct file_rec *f;
};

static int by_path(const void *x, const void *y)
{
	return strcmp(((const struct rec *)x)->path, ((const struct rec *)y)->path);
}

/* Every file a wanted action reads or writes, with the state's stat data
 * for it; NULL when one is missing or racy (then nothing is recorded). */
static struct rec *collect(const struct graph *g, struct state *st, int64_t start_ns, size_t *n)
{
	unsigned char *seen = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	struct rec *v = NULL;
	size_t len = 0, cap = 0;
	int ok = 1;
	for (size_t i = 0; i < g->nactions && ok; i++) {
		const struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		for (size_t k = 0; k < a->ninputs + a->noutputs && ok; k++) {
			const struct gfile *gf = k < a->ninputs ? a->inputs[k] : a->outputs[k - a->ninputs];
			if (seen[gf->id]++)
				continue;
			const struct file_rec *f = state_file(st, gf->path);
			if (!f || (!f->ours && f->st.mtime_ns >= start_ns - STATE_RACY_NS)) {
				ok = 0;
				break;
			}
			struct rec r = {gf->path, f};
			VEC_PUSH(v, len, cap, r);
		}
	}
	free(seen);
	if (!ok) {
		free(v);
		return NULL;
	}
	xqsort(v, len, sizeof *v, by_path);
	*n = len;
	return v;
}

void noop_record(const char *path, const char *key, const struct graph *g, struct state *st,
                 const struct buf *deps, int64_t start_ns)
{
	size_t n = 0, nwanted = 0;
	struct file_stat sid;
	struct rec *v = NULL;
	if (!deps->len || state_identity(&sid) < 0 || !(v = collect(g, st, start_ns, &n))) {
		unlink(path);
		return;
	}
	for (size_t i = 0; i < g->nactions; i++)
		nwanted += g->actions[i]->wanted;
	struct buf b = {0}, files = {0};
	frame_begin(&b, NO_MAGIC, NO_VERSION);
	buf_put_lstr(&b, key, strlen(key));
	stat_put(&b, &sid);
	buf_put_u64(&b, nwanted);
	buf_put_lstr(&b, deps->s, deps->len);
	/* directories numbered in order of first use; sorted paths keep the
	 * files of one directory together */
	struct map dirs = {0};
	char **names = NULL;
	size_t ndirs = 0, cap = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = v[i].path, *sl = strrchr(p, '/');
		char *dir = sl ? xstrndup(p, (size_t)(sl - p)) : xstrdup(".");
		void *idx = map_get(&dirs, dir);
		if (!idx) {
			VEC_PUSH(names, ndirs, cap, dir);
			idx = (void *)(uintptr_t)ndirs; /* number + 1: never NULL */
			map_put(&dirs, dir, idx);
		} else {
			free(dir);
		}
		const char *base = sl ? sl + 1 : p;
		buf_put_u32(&files, (unsigned)((uintptr_t)idx - 1));
		buf_put_lstr(&files, base, strlen(base) + 1);
		stat_put(&files, &v[i].f->st);
	}
	buf_put_u32(&b, (unsigned)ndirs);
	for (size_t i = 0; i < ndirs; i++)
		buf_put_lstr(&b, names[i], strlen(names[i]) + 1);
	buf_put_u32(&b, (unsigned)n);
	buf_putn(&b, files.s, files.len);
	frame_seal(&b);
	if (fs_write_atomic(path, b.s, b.len, 0644) < 0)
		unlink(path);
	for (size_t i = 0; i < ndirs; i++)
		free(names[i]);
	free(names);
	map_free(&dirs);
	buf_free(&files);
	buf_free(&b);
	free(v);
}
