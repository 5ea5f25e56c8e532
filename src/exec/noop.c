/* noop: format of .cairn/noop (integers little-endian, strings as u32
 * length + bytes; names carry their NUL, so they are used in place):
 *   magic    8 bytes "CAIRNNO\0", version u32 (NO_VERSION)
 *   key      string: the request (snapshot key and execution properties)
 *   state    the state file's stat data: size, mtime_ns, ctime_ns, ino
 *            (u64 each), mode u32; then its journal's (all zero when
 *            there is none): a save that appends changes only that
 *   graph    the .cairn/graph file's stat data, as above, and its number
 *            of files (u32): the file ids below are its
 *   nactions u64: wanted actions, for the summary line
 *   undeclared u32: 1 when some action keyed on files its depfile named
 *            that it does not declare (they are among the files, with
 *            the id NO_ID): then only a no-op is answered
 *   deps     u32 length + the snapshot's dependency section
 *   ndirs    u32, then each directory (string; "." is the root)
 *   nfiles   u32, then per file: directory number u32, name (string),
 *            graph file id u32 (NO_ID: not in the graph), stat data as
 *            above
 *   trailer  u64 check64 of everything before it
 * Written by temp + rename after a successful build (and removed after one
 * with nothing to record). A build that found the record for its request
 * and graph, with only some files changed, patches it in place instead:
 * the stat data that changed and the state's, then the trailer, each
 * written where it lies (a one-source edit of a 10k graph writes a few
 * hundred bytes, not 1.4 MB). Killed before the trailer, the record does
 * not check and is not taken. A build that fails or is killed leaves the
 * record as it was: whatever such a build changed (an output removed or
 * rewritten, the state saved) changes stat data the record holds, so it
 * no longer matches; a failure that changed nothing leaves it true. */
#include "exec/noop.h"
#include "graph/snapshot.h"
#include "util/fs.h"
#include "util/hook.h"
#include "util/map.h"
#include "util/par.h"
#include "util/sha.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char NO_MAGIC[8] = "CAIRNNO";
enum { NO_VERSION = 4 };
#define NO_ID UINT32_MAX /* a file that is not in the graph */
enum { STAT_BYTES = 8 * 4 + 4 };

/* The stat data of the state's journal, all zero when there is none. */
static void log_stat(struct fsys *fs, struct file_stat *st)
{
	if (fs->stat(fs, ".cairn/state.log", st) < 0)
		memset(st, 0, sizeof *st);
}

/* A NUL-terminated string stored with its NUL, or NULL. */
static const char *get_name(struct reader *rd)
{
	size_t n;
	const char *s = rd_lstr(rd, &n);
	return s && n > 0 && s[n - 1] == 0 && memchr(s, 0, n) == s + n - 1 ? s : NULL;
}

/* ---- the check ---- */

struct entry {
	uint32_t dir;         /* index into check.dirs */
	uint32_t id;          /* graph file id, or NO_ID */
	const char *name;     /* within the directory; points into the file */
	size_t at;            /* where st lies in the file (for a patch) */
	struct file_stat st;  /* as recorded */
	struct file_stat now; /* as the check found it */
	unsigned char what;   /* KNOWN_SAME, _CHANGED, _MISSING, or _NOT (the
	                         stat failed otherwise: the scheduler retries) */
};

struct check {
	const char **dirs;  /* "." is the root; point into the file */
	uint32_t *count;    /* per directory: its entries */
	size_t ndirs;
	struct entry *e;    /* the files, n of them */
	size_t n;
	int changed;        /* set by any thread that saw a difference */
};

/* Directories with this many entries are opened, and their entries
 * stat'ed relative to them (the kernel walks one name, not the path);
 * smaller ones would cost more in open and close than they save. */
enum { OPEN_DIR_AT = 16 };

/* Stat entries lo..hi. */
static void check_part(void *ctx, size_t lo, size_t hi)
{
	struct check *c = ctx;
	int *fds = xcalloc(c->ndirs ? c->ndirs : 1, sizeof *fds); /* fd + 1 */
	int changed = 0;
	char path[4096];
	for (size_t i = lo; i < hi; i++) {
		struct entry *e = &c->e[i];
		int fd = AT_FDCWD;
		const char *name = e->name;
		if (c->count[e->dir] >= OPEN_DIR_AT && fds[e->dir] >= 0) {
			if (!fds[e->dir]) {
				int d = open(c->dirs[e->dir], O_PATH | O_DIRECTORY | O_CLOEXEC);
				fds[e->dir] = d < 0 ? -1 : d + 1; /* -1: by path from now on */
			}
			if (fds[e->dir] > 0)
				fd = fds[e->dir] - 1;
		}
		if (fd == AT_FDCWD && strcmp(c->dirs[e->dir], ".") != 0) {
			int n = snprintf(path, sizeof path, "%s/%s", c->dirs[e->dir], e->name);
			name = n > 0 && (size_t)n < sizeof path ? path : "";
		}
		struct stat sb;
		if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			/* gone; or not known (out of descriptors, say): the
			 * scheduler stats it again itself */
			e->what = errno == ENOENT || errno == ENOTDIR ? KNOWN_MISSING : KNOWN_NOT;
			changed = 1;
			continue;
		}
		file_stat_from(&sb, &e->now);
		e->what = stat_eq(&e->now, &e->st) ? KNOWN_SAME : KNOWN_CHANGED;
		changed |= e->what != KNOWN_SAME;
	}
	for (size_t i = 0; i < c->ndirs; i++)
		if (fds[i] > 0)
			close(fds[i] - 1);
	free(fds);
	if (changed)
		__atomic_store_n(&c->changed, 1, __ATOMIC_RELAXED);
}

/* The snapshot's dependencies, checked beside the threads that stat. */
struct deps_check {
	struct fsys *fs;
	const void *deps;
	size_t len;
	int ok;
};

static void check_deps(void *ctx)
{
	struct deps_check *d = ctx;
	d->ok = snapshot_deps_unchanged(d->deps, d->len, d->fs);
}

/* Stat the files on `threads` threads while this one checks the
 * snapshot's dependencies (build files, listed directories). Sets
 * *deps_ok; returns whether the files are unchanged. */
static int files_unchanged(struct fsys *fs, struct check *c, int threads, const void *deps,
                           size_t dlen, int *deps_ok)
{
	struct deps_check d = {fs, deps, dlen, 0};
	par_for(c->n, threads, 512, check_part, c, check_deps, &d);
	*deps_ok = d.ok;
	return !c->changed;
}

int noop_seen_fits(const struct noop_seen *seen, const struct graph *g)
{
	return seen->st && g->nfiles == seen->nfiles;
}

void noop_seen_free(struct noop_seen *seen)
{
	free(seen->st);
	free(seen->what);
	free(seen->ids);
	free(seen->at);
	buf_free(&seen->rec);
	memset(seen, 0, sizeof *seen);
}

int noop_check(const char *path, const char *key, int threads, size_t *nactions,
               struct noop_seen *seen, struct fsys *fs)
{
	struct buf b = {0};
	struct reader rd;
	struct check c = {0};
	struct entry *e = NULL;
	int ok = 0;
	memset(seen, 0, sizeof *seen);
	if (fs_read_all(path, &b) < 0 || frame_open(&b, NO_MAGIC, NO_VERSION, &rd) < 0)
		goto out;
	size_t klen;
	const char *k = rd_lstr(&rd, &klen);
	if (!k || klen != strlen(key) || memcmp(k, key, klen) != 0)
		goto out;
	struct file_stat want, now, want_log, now_log;
	size_t head = (size_t)((const char *)rd.p - b.s);
	stat_get(&rd, &want);
	stat_get(&rd, &want_log);
	if (rd.bad || fs->stat(fs, ".cairn/state", &now) < 0 || !stat_eq(&want, &now))
		goto out;
	log_stat(fs, &now_log);
	if (!stat_eq(&want_log, &now_log))
		goto out;
	struct file_stat graph;
	stat_get(&rd, &graph);
	size_t ngraph = rd_u32(&rd);
	*nactions = (size_t)rd_u64(&rd);
	int undeclared = (int)rd_u32(&rd);
	size_t dlen = rd_u32(&rd);
	size_t deps_at = (size_t)((const char *)rd.p - b.s);
	const void *deps = rd_bytes(&rd, dlen);
	if (!deps)
		goto out;
	c.ndirs = rd_u32(&rd);
	if (rd.bad || c.ndirs > (size_t)(rd.end - rd.p) / 5)
		goto out;
	c.dirs = xcalloc(c.ndirs ? c.ndirs : 1, sizeof *c.dirs);
	c.count = xcalloc(c.ndirs ? c.ndirs : 1, sizeof *c.count);
	for (size_t i = 0; i < c.ndirs; i++)
		if (!(c.dirs[i] = get_name(&rd)))
			goto out;
	c.n = rd_u32(&rd);
	if (rd.bad || c.n > (size_t)(rd.end - rd.p) / (4 + 5 + 4 + STAT_BYTES))
		goto out;
	e = xcalloc(c.n ? c.n : 1, sizeof *e);
	for (size_t i = 0; i < c.n; i++) {
		e[i].dir = rd_u32(&rd);
		e[i].name = get_name(&rd);
		e[i].id = rd_u32(&rd);
		e[i].at = (size_t)((const char *)rd.p - b.s);
		stat_get(&rd, &e[i].st);
		if (rd.bad || !e[i].name || e[i].dir >= c.ndirs || (e[i].id >= ngraph && e[i].id != NO_ID))
			goto out;
		c.count[e[i].dir]++;
	}
	if (rd.p != rd.end)
		goto out;
	c.e = e;
	int deps_ok;
	ok = files_unchanged(fs, &c, threads, deps, dlen, &deps_ok);
	struct file_stat gnow;
	if (!deps_ok || (!ok && undeclared)) {
		/* the graph may be another; or some action keyed on files it does
		 * not declare, which the scheduler's shortcut does not look at:
		 * nothing to tell */
		ok = 0;
	} else if (!ok && fs->stat(fs, ".cairn/graph", &gnow) == 0 && stat_eq(&gnow, &graph) &&
	           ngraph <= gnow.size / 4) {
		/* (each of the graph's files takes 4 bytes of it at least); the
		 * lock on the workspace keeps .cairn/graph as it is until the
		 * caller has loaded it */
		seen->nfiles = ngraph;
		seen->st = xcalloc(ngraph ? ngraph : 1, sizeof *seen->st);
		seen->what = xcalloc(ngraph ? ngraph : 1, 1);
		for (size_t i = 0; i < c.n; i++) {
			if (e[i].id == NO_ID)
				continue;
			seen->st[e[i].id] = e[i].now;
			seen->what[e[i].id] = e[i].what;
		}
		/* every entry a graph file: the record can be patched */
		if (!undeclared && fs->stat(fs, path, &seen->rec_st) == 0) {
			seen->ids = xcalloc(c.n ? c.n : 1, sizeof *seen->ids);
			seen->at = xcalloc(c.n ? c.n : 1, sizeof *seen->at);
			for (size_t i = 0; i < c.n; i++) {
				seen->ids[i] = e[i].id;
				seen->at[i] = e[i].at;
			}
			seen->n = c.n;
			seen->head = head;
			seen->deps_at = deps_at;
			seen->deps_len = dlen;
			seen->rec = b;
			b = (struct buf){0};
		}
	}
out:
	free(e);
	free(c.dirs);
	free(c.count);
	buf_free(&b);
	return ok;
}

/* ---- the record ---- */

struct rec {
	const char *path;         /* workspace-relative */
	uint32_t id;              /* graph file id, or NO_ID */
	const struct file_rec *f; /* the state's stat data for it */
};

/* A racy file (changed just before the build) whose content the build
 * used is still there, now that a change would show in its stat data:
 * same stat data, same digest, and its mtime a racy window in the past. */
static int settled(struct fsys *fs, const struct file_rec *f)
{
	struct file_stat now;
	struct digest d;
	return fs->now(fs) >= f->st.mtime_ns + FS_RACY_NS &&
	       fs->stat(fs, f->path, &now) == 0 && stat_eq(&now, &f->st) &&
	       fs->hash(fs, f->path, &d) == 0 && digest_eq(&d, &f->d);
}

/* The state's record of path, or NULL when it has none or it is racy. */
static const struct file_rec *usable(struct fsys *fs, struct state *st, const char *path,
                                     int64_t start_ns)
{
	const struct file_rec *f = state_file(st, path);
	if (!f || (!f->ours && f->st.mtime_ns >= start_ns - FS_RACY_NS && !settled(fs, f)))
		return NULL;
	return f;
}

/* Every file a wanted action reads or writes, with the state's stat data
 * for it; NULL when one is missing or racy (then nothing is recorded).
 * *undeclared: some action keyed on a file its depfile named that it does
 * not declare (a warning outside the sandbox); such files are recorded
 * with NO_ID. */
static struct rec *collect(struct fsys *fs, const struct graph *g, struct state *st,
                           int64_t start_ns, size_t *n, int *undeclared)
{
	unsigned char *seen = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	struct map extra = {0};
	struct rec *v = NULL;
	size_t len = 0, cap = 0;
	int ok = 1;
	*undeclared = 0;
	for (size_t i = 0; i < g->nactions && ok; i++) {
		const struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		for (size_t k = 0; k < a->ninputs + a->noutputs && ok; k++) {
			const struct gfile *gf = k < a->ninputs ? a->inputs[k] : a->outputs[k - a->ninputs];
			if (seen[gf->id])
				continue;
			seen[gf->id] = 1;
			const struct file_rec *f = usable(fs, st, gf->path, start_ns);
			if (!f) {
				ok = 0;
				break;
			}
			struct rec r = {gf->path, gf->id, f};
			VEC_PUSH(v, len, cap, r);
		}
		const struct act_rec *ar = a->depfile ? state_action(st, a->outputs[0]->path) : NULL;
		for (size_t k = 0; ar && k < ar->nins && ok; k++) {
			const char *p = ar->ins[k].path;
			if (action_input_index(a, p) >= 0 || map_get(&extra, p))
				continue;
			const struct file_rec *f = usable(fs, st, p, start_ns);
			if (!f) {
				ok = 0;
				break;
			}
			map_put(&extra, f->path, (void *)f);
			struct rec r = {f->path, NO_ID, f};
			VEC_PUSH(v, len, cap, r);
			*undeclared = 1;
		}
	}
	free(seen);
	map_free(&extra);
	if (!ok) {
		free(v);
		return NULL;
	}
	*n = len;
	return v;
}

/* Some wanted action's depfile names a file it does not declare. */
static int any_undeclared(const struct graph *g, struct state *st)
{
	for (size_t i = 0; i < g->nactions; i++) {
		const struct action *a = g->actions[i];
		const struct act_rec *ar = a->wanted && a->depfile ? state_action(st, a->outputs[0]->path) : NULL;
		for (size_t k = 0; ar && k < ar->nins; k++)
			if (action_input_index(a, ar->ins[k].path) < 0)
				return 1;
	}
	return 0;
}

/* Write the spans of rec that changed into the file, then its trailer:
 * a build killed in between leaves a trailer that does not match, so the
 * record is not taken. 0, or -1 (the file is not the one read). */
static int write_patch(const char *path, const struct noop_seen *seen, const size_t *spans,
                       size_t nspans)
{
	const struct buf *rec = &seen->rec;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat sb;
	struct file_stat now;
	int ok = fstat(fd, &sb) == 0;
	if (ok) {
		file_stat_from(&sb, &now);
		ok = stat_eq(&now, &seen->rec_st) && now.size == rec->len;
	}
	for (size_t i = 0; ok && i < nspans; i++)
		ok = pwrite(fd, rec->s + spans[2 * i], spans[2 * i + 1], (off_t)spans[2 * i]) ==
		     (ssize_t)spans[2 * i + 1];
	/* the tests' stand-in for a build killed before the trailer */
	if (!hook("NOOP_PATCH_TORN"))
		ok = ok && pwrite(fd, rec->s + rec->len - 8, 8, (off_t)(rec->len - 8)) == 8;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* The record noop_check read, made true of this build by changing the
 * stat data in it that changed: 1 when written, 0 when it does not cover
 * the same files of the same graph (then it is written whole), -1 when
 * nothing is recordable. */
static int patch(const char *path, const struct graph *g, struct state *st,
                 const struct buf *deps, int64_t start_ns, const struct file_stat *sid,
                 const struct file_stat *lid, const struct file_stat *gid, struct noop_seen *seen,
                 struct fsys *fs)
{
	struct buf *rec = &seen->rec;
	struct reader rd;
	struct file_stat graph;
	if (!rec->len || seen->nfiles != g->nfiles || deps->len != seen->deps_len ||
	    memcmp(deps->s, rec->s + seen->deps_at, deps->len) != 0)
		return 0;
	rd = (struct reader){(const unsigned char *)rec->s + seen->head + 2 * STAT_BYTES,
	                     (const unsigned char *)rec->s + rec->len, 0};
	stat_get(&rd, &graph);
	if (rd.bad || !stat_eq(&graph, gid) || any_undeclared(g, st))
		return 0;
	struct buf one = {0};
	size_t *spans = NULL, nspans = 0, cap = 0;
	int rc = 1;
	for (size_t i = 0; i < seen->n; i++) {
		const struct file_rec *f = usable(fs, st, g->files[seen->ids[i]]->path, start_ns);
		if (!f) {
			rc = -1;
			break;
		}
		one.len = 0;
		stat_put(&one, &f->st);
		if (memcmp(rec->s + seen->at[i], one.s, STAT_BYTES) == 0)
			continue;
		memcpy(rec->s + seen->at[i], one.s, STAT_BYTES);
		VEC_PUSH(spans, nspans, cap, seen->at[i]);
		VEC_PUSH(spans, nspans, cap, (size_t)STAT_BYTES);
	}
	if (rc > 0) {
		one.len = 0;
		stat_put(&one, sid);
		stat_put(&one, lid);
		memcpy(rec->s + seen->head, one.s, one.len);
		VEC_PUSH(spans, nspans, cap, seen->head);
		VEC_PUSH(spans, nspans, cap, one.len);
		uint64_t sum = check64(rec->s, rec->len - 8);
		one.len = 0;
		buf_put_u64(&one, sum);
		memcpy(rec->s + rec->len - 8, one.s, 8);
		if (write_patch(path, seen, spans, nspans / 2) < 0)
			rc = 0;
	}
	free(spans);
	buf_free(&one);
	return rc;
}

void noop_record(const char *path, const char *key, const struct graph *g, struct state *st,
                 const struct buf *deps, int64_t start_ns, struct noop_seen *seen,
                 struct fsys *fs)
{
	size_t n = 0, nwanted = 0;
	struct file_stat sid, lid, gid;
	struct rec *v = NULL;
	int undeclared;
	log_stat(fs, &lid);
	int have = deps->len && fs->stat(fs, ".cairn/state", &sid) == 0 &&
	           fs->stat(fs, ".cairn/graph", &gid) == 0;
	int patched = have ? patch(path, g, st, deps, start_ns, &sid, &lid, &gid, seen, fs) : 0;
	if (patched > 0)
		return;
	if (!have || patched < 0 || !(v = collect(fs, g, st, start_ns, &n, &undeclared))) {
		unlink(path);
		return;
	}
	for (size_t i = 0; i < g->nactions; i++)
		nwanted += g->actions[i]->wanted;
	/* directories numbered in order of first use */
	struct map dirs = {0};
	char **names = NULL;
	size_t ndirs = 0, cap = 0;
	uint32_t *dir_of = xcalloc(n ? n : 1, sizeof *dir_of);
	void *idx = NULL; /* number + 1 of the last file's directory */
	for (size_t i = 0; i < n; i++) {
		const char *p = v[i].path, *sl = strrchr(p, '/');
		size_t dlen = sl ? (size_t)(sl - p) : 1;
		const char *last = idx ? names[(uintptr_t)idx - 1] : NULL;
		if (!last || strlen(last) != dlen || memcmp(last, sl ? p : ".", dlen) != 0) {
			char *dir = sl ? xstrndup(p, dlen) : xstrdup(".");
			idx = map_get(&dirs, dir);
			if (!idx) {
				VEC_PUSH(names, ndirs, cap, dir);
				idx = (void *)(uintptr_t)ndirs;
				map_put(&dirs, dir, idx);
			} else {
				free(dir);
			}
		}
		dir_of[i] = (uint32_t)((uintptr_t)idx - 1);
	}
	struct buf b = {0};
	frame_begin(&b, NO_MAGIC, NO_VERSION);
	buf_put_lstr(&b, key, strlen(key));
	stat_put(&b, &sid);
	stat_put(&b, &lid);
	stat_put(&b, &gid);
	buf_put_u32(&b, (unsigned)g->nfiles);
	buf_put_u64(&b, nwanted);
	buf_put_u32(&b, (unsigned)undeclared);
	buf_put_lstr(&b, deps->s, deps->len);
	buf_put_u32(&b, (unsigned)ndirs);
	for (size_t i = 0; i < ndirs; i++)
		buf_put_lstr(&b, names[i], strlen(names[i]) + 1);
	buf_put_u32(&b, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		const char *sl = strrchr(v[i].path, '/'), *base = sl ? sl + 1 : v[i].path;
		buf_put_u32(&b, dir_of[i]);
		buf_put_lstr(&b, base, strlen(base) + 1);
		buf_put_u32(&b, v[i].id);
		stat_put(&b, &v[i].f->st);
	}
	frame_seal(&b);
	if (fs_write_atomic(path, b.s, b.len, 0644) < 0)
		unlink(path);
	for (size_t i = 0; i < ndirs; i++)
		free(names[i]);
	free(names);
	free(dir_of);
	map_free(&dirs);
	buf_free(&b);
	free(v);
}
