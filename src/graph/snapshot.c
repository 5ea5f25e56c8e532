/* snapshot: format of .cairn/graph (integers little-endian, strings as
 * u32 length + bytes):
 *   magic    8 bytes "CAIRNGR\0"
 *   version  u32 1
 *   key      string: cairn's version and the request's patterns
 *   ndeps    u32, then per dependency:
 *     path string, kind u32, present u32, then for DEP_STAT: size u64,
 *     mtime_ns u64, ctime_ns u64, ino u64, mode u32; for DEP_PKGLIST and
 *     DEP_LIST: the listing digest (32 bytes); for DEP_EXISTS: nothing
 *   nfiles   u32, then each file path (string); files are numbered in order
 *   nactions u32, then per action:
 *     label, mnemonic, progress (empty = none), where: strings
 *     argc u32 + strings, nenv u32 + strings,
 *     ninputs u32 + file numbers (u32), noutputs u32 + file numbers,
 *     flags u32
 *   nrequested u32 + file numbers
 *   trailer  32 bytes SHA-256 of everything before it
 * Written whole by temp + rename after a successful evaluation. Anything
 * unexpected on load is a miss: the build evaluates the files again. */
#include "graph/snapshot.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char GR_MAGIC[8] = "CAIRNGR";
enum { GR_VERSION = 2 };

void snap_dep_probe(struct fsys *fs, struct snap_dep *d)
{
	d->present = fs->stat(fs, d->path, &d->st) == 0;
	if (d->present && S_ISLNK(d->st.mode)) {
		struct stat sb; /* what matters is what a read would see */
		d->present = stat(d->path, &sb) == 0;
		if (d->present)
			d->st.mode = (uint32_t)sb.st_mode;
	}
	if (d->present && d->kind == DEP_EXISTS && S_ISDIR(d->st.mode))
		d->present = 2;
	if (d->kind != DEP_STAT)
		memset(&d->st, 0, sizeof d->st);
	memset(&d->d, 0, sizeof d->d);
	if (d->present && (d->kind == DEP_PKGLIST || d->kind == DEP_LIST) &&
	    fs_list_digest(d->path, d->kind == DEP_PKGLIST, &d->d) < 0)
		d->present = 0;
}

static void put_str(struct buf *b, const char *s)
{
	buf_put_lstr(b, s, strlen(s));
}

static void put_stat(struct buf *b, const struct file_stat *st)
{
	buf_put_u64(b, st->size);
	buf_put_u64(b, (uint64_t)st->mtime_ns);
	buf_put_u64(b, (uint64_t)st->ctime_ns);
	buf_put_u64(b, st->ino);
	buf_put_u32(b, st->mode);
}

int snapshot_save(const char *path, const char *key, const struct graph *g,
                  const struct snap_dep *deps, size_t ndeps)
{
	struct buf b = {0};
	buf_putn(&b, GR_MAGIC, 8);
	buf_put_u32(&b, GR_VERSION);
	put_str(&b, key);
	buf_put_u32(&b, (unsigned)ndeps);
	for (size_t i = 0; i < ndeps; i++) {
		put_str(&b, deps[i].path);
		buf_put_u32(&b, (unsigned)deps[i].kind);
		buf_put_u32(&b, (unsigned)deps[i].present);
		if (deps[i].kind == DEP_STAT)
			put_stat(&b, &deps[i].st);
		else if (deps[i].kind != DEP_EXISTS)
			buf_putn(&b, deps[i].d.b, 32);
	}
	buf_put_u32(&b, (unsigned)g->nfiles);
	for (size_t i = 0; i < g->nfiles; i++)
		put_str(&b, g->files[i]->path);
	buf_put_u32(&b, (unsigned)g->nactions);
	for (size_t i = 0; i < g->nactions; i++) {
		const struct action *a = g->actions[i];
		put_str(&b, a->label);
		put_str(&b, a->mnemonic);
		put_str(&b, a->progress ? a->progress : "");
		put_str(&b, a->where);
		buf_put_u32(&b, (unsigned)a->argc);
		for (size_t j = 0; j < a->argc; j++)
			put_str(&b, a->argv[j]);
		buf_put_u32(&b, (unsigned)a->nenv);
		for (size_t j = 0; j < a->nenv; j++)
			put_str(&b, a->env[j]);
		buf_put_u32(&b, (unsigned)a->ninputs);
		for (size_t j = 0; j < a->ninputs; j++)
			buf_put_u32(&b, a->inputs[j]->id);
		buf_put_u32(&b, (unsigned)a->noutputs);
		for (size_t j = 0; j < a->noutputs; j++)
			buf_put_u32(&b, a->outputs[j]->id);
		buf_put_u32(&b, a->flags);
	}
	buf_put_u32(&b, (unsigned)g->nrequested);
	for (size_t i = 0; i < g->nrequested; i++)
		buf_put_u32(&b, g->requested[i]->id);
	struct digest t;
	sha_buf(b.s, b.len, &t);
	buf_putn(&b, t.b, 32);
	int r = fs_write_atomic(path, b.s, b.len, 0644);
	buf_free(&b);
	return r;
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

static int deps_unchanged(struct reader *rd, struct fsys *fs)
{
	size_t n = rd_u32(rd);
	for (size_t i = 0; i < n && !rd->bad; i++) {
		size_t len;
		const char *p = rd_lstr(rd, &len);
		struct snap_dep want = {0};
		want.kind = (enum dep_kind)rd_u32(rd);
		want.present = (int)rd_u32(rd);
		if (want.kind == DEP_STAT) {
			want.st.size = rd_u64(rd); /* one statement each: the order matters */
			want.st.mtime_ns = (int64_t)rd_u64(rd);
			want.st.ctime_ns = (int64_t)rd_u64(rd);
			want.st.ino = rd_u64(rd);
			want.st.mode = rd_u32(rd);
		} else if (want.kind == DEP_PKGLIST || want.kind == DEP_LIST) {
			const void *d = rd_bytes(rd, 32);
			if (d)
				memcpy(want.d.b, d, 32);
		} else if (want.kind != DEP_EXISTS) {
			return 0;
		}
		if (!p || rd->bad)
			return 0;
		struct snap_dep now = {.path = xstrndup(p, len), .kind = want.kind};
		snap_dep_probe(fs, &now);
		free(now.path);
		if (now.present != want.present || !stat_eq(&now.st, &want.st) ||
		    !digest_eq(&now.d, &want.d))
			return 0;
	}
	return !rd->bad;
}

static int decode(struct reader *rd, struct graph *g)
{
	size_t nf = rd_u32(rd);
	for (size_t i = 0; i < nf && !rd->bad; i++) {
		size_t len;
		const char *p = rd_lstr(rd, &len);
		if (!p)
			return -1;
		char *path = xstrndup(p, len);
		struct gfile *f = graph_file(g, path);
		free(path);
		if (f->id != i)
			return -1; /* a duplicate path: not a file we wrote */
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
		a->outputs = get_files(rd, g, &a->noutputs);
		a->flags = rd_u32(rd);
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
	return rd->bad || rd->p != rd->end ? -1 : 0;
}

int snapshot_load(const char *path, const char *key, struct fsys *fs, struct graph *g)
{
	struct buf b = {0};
	int ok = 0;
	if (fs_read_all(path, &b) < 0 || b.len < 8 + 4 + 32 || memcmp(b.s, GR_MAGIC, 8) != 0)
		goto out;
	struct digest t;
	sha_buf(b.s, b.len - 32, &t);
	if (memcmp(t.b, b.s + b.len - 32, 32) != 0)
		goto out;
	struct reader rd = {(const unsigned char *)b.s + 8,
	                    (const unsigned char *)b.s + b.len - 32, 0};
	if (rd_u32(&rd) != GR_VERSION)
		goto out;
	size_t klen;
	const char *k = rd_lstr(&rd, &klen);
	if (!k || klen != strlen(key) || memcmp(k, key, klen) != 0)
		goto out;
	if (!deps_unchanged(&rd, fs))
		goto out;
	if (decode(&rd, g) < 0) {
		graph_free(g);
		goto out;
	}
	ok = 1;
out:
	buf_free(&b);
	return ok;
}
