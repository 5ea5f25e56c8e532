/* snapshot: format of .cairn/graph (integers little-endian, strings as
 * u32 length + bytes):
 *   magic    8 bytes "CAIRNGR\0"
 *   version  u32 (GR_VERSION)
 *   key      string: cairn's version and the request's patterns
 *   ndeps    u32, then per dependency:
 *     path string, kind u32, present u32, then for DEP_STAT: size u64,
 *     mtime_ns u64, ctime_ns u64, ino u64, mode u32; for DEP_PKGLIST and
 *     DEP_LIST: the listing digest (32 bytes), then the directory's stat
 *     data as for DEP_STAT, taken before it was listed (all zero when it
 *     was racy): while it is unchanged, so is the listing, and the check
 *     needs no readdir; for DEP_EXISTS: nothing;
 *     for DEP_DIR: the directory's stat data as for DEP_STAT, then n u32:
 *     the n DEP_EXISTS records that follow are all in that directory, and
 *     while the directory's stat data is unchanged (no entry was added,
 *     removed or renamed) they need no checking: this keeps the check of
 *     ten thousand source files at one stat per package.
 *   nfiles   u32, then each file path (string); files are numbered in order
 *   nactions u32, then per action:
 *     label, mnemonic, progress (empty = none), where: strings
 *     argc u32 + strings, nenv u32 + strings,
 *     ninputs u32 + file numbers (u32), then ninputs bytes: prunable,
 *     noutputs u32 + file numbers, flags u32, depfile (empty = none)
 *   nrequested u32 + file numbers
 *   ntests   u32, then per test: label, base (strings), shards u32
 *   trailer  u64 check64 (util.h) of everything before it
 * Written whole by temp + rename after a successful evaluation. Anything
 * unexpected on load is a miss: the build evaluates the files again. */
#include "graph/snapshot.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char GR_MAGIC[8] = "CAIRNGR";
enum { GR_VERSION = 8 };

void snap_dep_probe(struct fsys *fs, struct snap_dep *d)
{
	d->present = fs->stat(fs, d->path, &d->st) == 0;
	d->link = d->present && S_ISLNK(d->st.mode);
	if (d->link) {
		/* what matters is what a read sees: the target's stat data */
		struct stat sb;
		d->present = stat(d->path, &sb) == 0;
		if (d->present)
			file_stat_from(&sb, &d->st);
	}
	if (d->present && d->kind == DEP_EXISTS && S_ISDIR(d->st.mode))
		d->present = 2;
	if (d->kind != DEP_STAT && d->kind != DEP_PKGLIST && d->kind != DEP_LIST)
		memset(&d->st, 0, sizeof d->st);
	memset(&d->d, 0, sizeof d->d);
	int links = 0;
	if (d->present && (d->kind == DEP_PKGLIST || d->kind == DEP_LIST) &&
	    fs_list_digest(d->path, d->kind == DEP_PKGLIST, &d->d, &links) < 0)
		d->present = 0;
	if (links)
		d->nodirstat = 1; /* a symlink's target can change type unseen */
}

static void put_str(struct buf *b, const char *s)
{
	buf_put_lstr(b, s, strlen(s));
}

/* Length of the directory part of a path (0 for a file of the root). */
static size_t parent_len(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? (size_t)(s - p) : 0;
}

static int parent_cmp(const char *a, const char *b)
{
	size_t na = parent_len(a), nb = parent_len(b);
	int c = strncmp(a, b, na < nb ? na : nb);
	return c ? c : (na > nb) - (na < nb);
}

static const struct snap_dep *sort_deps; /* for by_parent */

/* May this dep sit in a DEP_DIR group (checked only if its parent changed)? */
static int groupable(const struct snap_dep *d)
{
	return d->kind == DEP_EXISTS && !d->link;
}

/* Groupable probes last, grouped by parent; the rest keep their order. */
static int by_parent(const void *x, const void *y)
{
	const struct snap_dep *a = &sort_deps[*(const size_t *)x];
	const struct snap_dep *b = &sort_deps[*(const size_t *)y];
	int ea = groupable(a), eb = groupable(b);
	if (ea != eb)
		return ea - eb;
	int c = ea ? parent_cmp(a->path, b->path) : 0;
	if (c)
		return c;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	return (i > j) - (i < j);
}

static void put_deps(struct buf *b, const struct snap_dep *deps, size_t ndeps, int64_t now_ns);
static void put_graph(struct buf *b, const struct graph *g);

int snapshot_save(const char *path, const char *key, const struct graph *g,
                  const struct snap_dep *deps, size_t ndeps, struct buf *deps_out, struct fsys *fs)
{
	/* a build file changed within a timestamp tick of now could change
	 * again unseen: no snapshot this time (the next run evaluates) */
	int64_t now_ns = fs->now(fs);
	for (size_t i = 0; i < ndeps; i++)
		if (deps[i].kind == DEP_STAT && deps[i].st.mtime_ns >= now_ns - FS_RACY_NS) {
			unlink(path);
			return 0;
		}
	struct buf b = {0};
	frame_begin(&b, GR_MAGIC, GR_VERSION);
	put_str(&b, key);
	size_t d0 = b.len;
	put_deps(&b, deps, ndeps, now_ns);
	size_t d1 = b.len;
	put_graph(&b, g);
	frame_seal(&b);
	int r = fs_write_atomic(path, b.s, b.len, 0644);
	if (r == 0 && deps_out)
		buf_putn(deps_out, b.s + d0, d1 - d0);
	buf_free(&b);
	return r;
}

/* The dependency section: a count, then the records; the EXISTS probes
 * grouped by directory, each group under a DEP_DIR. */
static void put_deps(struct buf *b, const struct snap_dep *deps, size_t ndeps, int64_t now_ns)
{
	size_t *order = xcalloc(ndeps ? ndeps : 1, sizeof *order), ngroups = 0;
	for (size_t i = 0; i < ndeps; i++)
		order[i] = i;
	sort_deps = deps;
	xqsort(order, ndeps, sizeof *order, by_parent);
	for (size_t i = 0; i < ndeps; i++)
		if (groupable(&deps[order[i]]) &&
		    (i == 0 || !groupable(&deps[order[i - 1]]) ||
		     parent_cmp(deps[order[i - 1]].path, deps[order[i]].path) != 0))
			ngroups++;
	buf_put_u32(b, (unsigned)(ndeps + ngroups));
	for (size_t k = 0; k < ndeps; k++) {
		const struct snap_dep *d = &deps[order[k]];
		if (groupable(d) &&
		    (k == 0 || !groupable(&deps[order[k - 1]]) ||
		     parent_cmp(deps[order[k - 1]].path, d->path) != 0)) {
			size_t n = 1;
			int same = d->dir_ok && d->dir_st.mtime_ns < now_ns - FS_RACY_NS;
			while (k + n < ndeps && groupable(&deps[order[k + n]]) &&
			       parent_cmp(deps[order[k + n]].path, d->path) == 0) {
				const struct snap_dep *o = &deps[order[k + n]];
				if (!o->dir_ok || !stat_eq(&o->dir_st, &d->dir_st))
					same = 0;
				n++;
			}
			size_t plen = parent_len(d->path);
			char *dir = plen ? xstrndup(d->path, plen) : xstrdup(".");
			put_str(b, dir);
			free(dir);
			buf_put_u32(b, DEP_DIR);
			buf_put_u32(b, (unsigned)same); /* 0: no shortcut, check each */
			stat_put(b, &d->dir_st);
			buf_put_u32(b, (unsigned)n);
		}
		put_str(b, d->path);
		buf_put_u32(b, (unsigned)d->kind);
		buf_put_u32(b, (unsigned)d->present);
		if (d->kind == DEP_STAT) {
			stat_put(b, &d->st);
		} else if (d->kind != DEP_EXISTS) {
			buf_putn(b, d->d.b, 32);
			static const struct file_stat none;
			stat_put(b, d->st.mtime_ns < now_ns - FS_RACY_NS && !d->nodirstat ? &d->st : &none);
		}
	}
	free(order);
}

static void put_graph(struct buf *b, const struct graph *g)
{
	buf_put_u32(b, (unsigned)g->nfiles);
	for (size_t i = 0; i < g->nfiles; i++)
		put_str(b, g->files[i]->path);
	buf_put_u32(b, (unsigned)g->nactions);
	for (size_t i = 0; i < g->nactions; i++) {
		const struct action *a = g->actions[i];
		put_str(b, a->label);
		put_str(b, a->mnemonic);
		put_str(b, a->progress ? a->progress : "");
		put_str(b, a->where);
		buf_put_u32(b, (unsigned)a->argc);
		for (size_t j = 0; j < a->argc; j++)
			put_str(b, a->argv[j]);
		buf_put_u32(b, (unsigned)a->nenv);
		for (size_t j = 0; j < a->nenv; j++)
			put_str(b, a->env[j]);
		buf_put_u32(b, (unsigned)a->ninputs);
		for (size_t j = 0; j < a->ninputs; j++)
			buf_put_u32(b, a->inputs[j]->id);
		buf_putn(b, a->prunable, a->ninputs);
		buf_put_u32(b, (unsigned)a->noutputs);
		for (size_t j = 0; j < a->noutputs; j++)
			buf_put_u32(b, a->outputs[j]->id);
		buf_put_u32(b, a->flags);
		put_str(b, a->depfile ? a->depfile : "");
	}
	buf_put_u32(b, (unsigned)g->nrequested);
	for (size_t i = 0; i < g->nrequested; i++)
		buf_put_u32(b, g->requested[i]->id);
	buf_put_u32(b, (unsigned)g->ntests);
	for (size_t i = 0; i < g->ntests; i++) {
		put_str(b, g->tests[i].label);
		put_str(b, g->tests[i].base);
		buf_put_u32(b, (unsigned)g->tests[i].shards);
	}
}

/* A string from the reader, copied into the graph's arena. */
static const char *get_str(struct reader *rd, struct graph *g)
{
	size_t n;
	const char *s = rd_lstr(rd, &n);
	return s ? arena_strndup(&g->arena, s, n) : "";
}

static struct gfile **get_files(struct reader *rd, struct graph *g, size_t *n)
{
	*n = rd_u32(rd);
	if (rd->bad || *n > (size_t)(rd->end - rd->p) / 4) {
		rd->bad = 1;
		*n = 0;
	}
	struct gfile **v = arena_alloc(&g->arena, (*n ? *n : 1) * sizeof *v);
	for (size_t i = 0; i < *n; i++) {
		uint32_t id = rd_u32(rd);
		if (id >= g->nfiles) {
			rd->bad = 1;
			*n = i;
			break;
		}
		v[i] = g->files[id];
	}
	return v;
}

static const char **get_strs(struct reader *rd, struct graph *g, size_t *n)
{
	*n = rd_u32(rd);
	if (rd->bad || *n > (size_t)(rd->end - rd->p) / 4) {
		rd->bad = 1;
		*n = 0;
	}
	const char **v = arena_alloc(&g->arena, (*n ? *n : 1) * sizeof *v);
	for (size_t i = 0; i < *n; i++)
		v[i] = get_str(rd, g);
	return v;
}

/* Read one dependency record into *d (path points into the reader). */
static int read_dep(struct reader *rd, struct snap_dep *d, size_t *plen, const char **p,
                    unsigned *nchildren)
{
	memset(d, 0, sizeof *d);
	*p = rd_lstr(rd, plen);
	d->kind = (enum dep_kind)rd_u32(rd);
	d->present = (int)rd_u32(rd);
	if (d->kind == DEP_STAT || d->kind == DEP_DIR) {
		stat_get(rd, &d->st);
		if (d->kind == DEP_DIR)
			*nchildren = rd_u32(rd);
	} else if (d->kind == DEP_PKGLIST || d->kind == DEP_LIST) {
		const void *x = rd_bytes(rd, 32);
		if (x)
			memcpy(d->d.b, x, 32);
		stat_get(rd, &d->st);
	} else if (d->kind != DEP_EXISTS) {
		return -1;
	}
	return *p && !rd->bad ? 0 : -1;
}

/* Are the dependencies unchanged? With fs NULL, the caller knows they
 * are: the records are only read past. */
static int deps_unchanged(struct reader *rd, struct fsys *fs)
{
	size_t n = rd_u32(rd);
	unsigned skip = 0; /* EXISTS records covered by an unchanged DEP_DIR */
	for (size_t i = 0; i < n && !rd->bad; i++) {
		struct snap_dep want;
		size_t len;
		const char *p;
		unsigned nchildren = 0;
		if (read_dep(rd, &want, &len, &p, &nchildren) < 0)
			return 0;
		if (!fs)
			continue;
		if (skip) {
			skip--;
			if (want.kind != DEP_EXISTS)
				return 0;
			continue;
		}
		struct snap_dep now = {.path = xstrndup(p, len), .kind = want.kind};
		if (want.kind == DEP_DIR) {
			now.kind = DEP_STAT; /* its stat data, through a symlink too */
			snap_dep_probe(fs, &now);
			int here = now.present;
			free(now.path);
			if (want.present && here && stat_eq(&now.st, &want.st))
				skip = nchildren;
			continue;
		}
		if ((want.kind == DEP_PKGLIST || want.kind == DEP_LIST) && want.present &&
		    want.st.ino) {
			/* the directory's stat data first: unchanged, no listing */
			now.kind = DEP_STAT;
			snap_dep_probe(fs, &now);
			now.kind = want.kind;
			if (now.present && stat_eq(&now.st, &want.st)) {
				free(now.path);
				continue;
			}
		}
		snap_dep_probe(fs, &now);
		free(now.path);
		if (now.present != want.present || !digest_eq(&now.d, &want.d) ||
		    (want.kind == DEP_STAT && !stat_eq(&now.st, &want.st)))
			return 0;
	}
	return !rd->bad && skip == 0;
}

static int decode(struct reader *rd, struct graph *g)
{
	size_t nf = rd_u32(rd);
	for (size_t i = 0; i < nf && !rd->bad; i++) {
		size_t len;
		const char *p = rd_lstr(rd, &len);
		if (!p)
			return -1;
		graph_add_file(g, p, len); /* distinct: the trailer vouches for it */
	}
	size_t na = rd_u32(rd);
	for (size_t i = 0; i < na && !rd->bad; i++) {
		struct action *a = arena_alloc(&g->arena, sizeof *a);
		a->label = get_str(rd, g);
		a->mnemonic = get_str(rd, g);
		a->progress = get_str(rd, g);
		if (!*a->progress)
			a->progress = NULL;
		a->where = get_str(rd, g);
		a->argv = get_strs(rd, g, &a->argc);
		a->env = get_strs(rd, g, &a->nenv);
		a->inputs = get_files(rd, g, &a->ninputs);
		const void *pr = rd_bytes(rd, a->ninputs);
		a->prunable = arena_alloc(&g->arena, a->ninputs ? a->ninputs : 1);
		if (pr)
			memcpy(a->prunable, pr, a->ninputs);
		a->outputs = get_files(rd, g, &a->noutputs);
		a->flags = rd_u32(rd);
		a->depfile = get_str(rd, g);
		if (!*a->depfile)
			a->depfile = NULL;
		if (rd->bad || a->noutputs == 0 || a->argc == 0)
			return -1;
		for (size_t j = 0; j < a->noutputs; j++) {
			if (a->outputs[j]->producer)
				return -1;
			a->outputs[j]->producer = a;
		}
		a->id = (uint32_t)g->nactions;
		VEC_PUSH(g->actions, g->nactions, g->capactions, a);
	}
	size_t nr;
	struct gfile **req = get_files(rd, g, &nr);
	for (size_t i = 0; i < nr; i++)
		graph_request(g, req[i]);
	size_t nt = rd_u32(rd);
	for (size_t i = 0; i < nt && !rd->bad; i++) {
		const char *label = get_str(rd, g), *base = get_str(rd, g);
		int shards = (int)rd_u32(rd);
		graph_add_test(g, label, base, shards);
	}
	return rd->bad || rd->p != rd->end ? -1 : 0;
}

int snapshot_deps_unchanged(const void *p, size_t n, struct fsys *fs)
{
	struct reader rd = {p, (const unsigned char *)p + n, 0};
	return deps_unchanged(&rd, fs) && rd.p == rd.end;
}

int snapshot_load(const char *path, const char *key, struct fsys *fs, struct graph *g,
                  struct buf *deps_out)
{
	struct buf b = {0};
	int ok = 0;
	struct reader rd;
	if (fs_read_all(path, &b) < 0 || frame_open(&b, GR_MAGIC, GR_VERSION, &rd) < 0)
		goto out;
	size_t klen;
	const char *k = rd_lstr(&rd, &klen);
	if (!k || klen != strlen(key) || memcmp(k, key, klen) != 0)
		goto out;
	const unsigned char *d0 = rd.p;
	if (!deps_unchanged(&rd, fs))
		goto out;
	const unsigned char *d1 = rd.p;
	if (decode(&rd, g) < 0) {
		graph_free(g);
		goto out;
	}
	if (deps_out)
		buf_putn(deps_out, d0, (size_t)(d1 - d0));
	ok = 1;
out:
	buf_free(&b);
	return ok;
}
