/* memfs: see memfs.h. */
#include "memfs.h"
#include "util/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mfile {
	char *path;     /* the map's key */
	struct buf data;
	unsigned mode;  /* S_IFREG | permissions, or S_IFIFO */
	int64_t mtime;
	uint64_t ino;
};

static struct memfs *M(struct fsys *fs)
{
	return (struct memfs *)fs;
}

static struct mfile *find(struct memfs *m, const char *path)
{
	return map_get(&m->files, path);
}

/* Unlink path; a removed file's key stays in the map with a NULL value. */
static void drop(struct memfs *m, const char *path)
{
	struct mfile *f = find(m, path);
	if (!f)
		return;
	map_put(&m->files, f->path, NULL); /* the key string stays: memfs_free */
	buf_free(&f->data);
	free(f);
}

static struct mfile *make(struct memfs *m, const char *path, unsigned mode)
{
	struct mfile *f = find(m, path);
	if (!f) {
		const char *key = map_key(&m->files, path);
		f = xcalloc(1, sizeof *f);
		f->path = key ? (char *)key : xstrdup(path);
		map_put(&m->files, f->path, f);
	}
	buf_reset(&f->data);
	f->mode = mode;
	f->mtime = m->clock_ns;
	f->ino = ++m->next_ino;
	return f;
}

static int m_stat(struct fsys *fs, const char *path, struct file_stat *st)
{
	struct memfs *m = M(fs);
	if (m->count && !strcmp(path, m->count))
		m->nstat++;
	struct mfile *f = find(m, path);
	if (!f) {
		errno = ENOENT;
		return -1;
	}
	*st = (struct file_stat){.size = f->data.len, .mtime_ns = f->mtime, .ctime_ns = f->mtime,
	                         .ino = f->ino, .mode = f->mode};
	return 0;
}

/* f, when it is a regular file; else NULL with errno */
static struct mfile *regular(struct memfs *m, const char *path)
{
	struct mfile *f = find(m, path);
	if (!f)
		errno = ENOENT;
	else if (!S_ISREG(f->mode))
		errno = S_ISDIR(f->mode) ? EISDIR : EINVAL;
	return f && S_ISREG(f->mode) ? f : NULL;
}

static int m_hash(struct fsys *fs, const char *path, struct digest *d)
{
	M(fs)->nhash++;
	struct mfile *f = regular(M(fs), path);
	if (!f)
		return -1;
	sha_buf(f->data.s ? f->data.s : "", f->data.len, d);
	return 0;
}

static int m_read(struct fsys *fs, const char *path, struct buf *b)
{
	struct mfile *f = regular(M(fs), path);
	if (!f)
		return -1;
	buf_putn(b, f->data.s ? f->data.s : "", f->data.len);
	return 0;
}

static int m_write(struct fsys *fs, const char *path, const void *p, size_t n, unsigned mode)
{
	struct mfile *f = make(M(fs), path, S_IFREG | (mode & 0777));
	buf_putn(&f->data, p, n);
	return 0;
}

static int m_append(struct fsys *fs, const char *path, const void *p, size_t n)
{
	struct mfile *f = find(M(fs), path);
	if (!f)
		f = make(M(fs), path, S_IFREG | 0644);
	buf_putn(&f->data, p, n);
	f->mtime = M(fs)->clock_ns;
	return 0;
}

static int m_rename(struct fsys *fs, const char *from, const char *to)
{
	struct memfs *m = M(fs);
	struct mfile *f = find(m, from);
	if (!f) {
		errno = ENOENT;
		return -1;
	}
	struct mfile *t = make(m, to, f->mode);
	buf_putn(&t->data, f->data.s ? f->data.s : "", f->data.len);
	t->mtime = f->mtime;
	t->ino = f->ino;
	drop(m, from);
	return 0;
}

static int m_remove(struct fsys *fs, const char *path)
{
	struct memfs *m = M(fs);
	size_t n = strlen(path);
	for (size_t i = 0; i < m->files.cap; i++) {
		struct mfile *f = m->files.slots[i].val;
		if (f && !strncmp(f->path, path, n) && (!f->path[n] || f->path[n] == '/'))
			drop(m, f->path);
	}
	return 0;
}

static int m_mkdir_parent(struct fsys *fs, const char *path)
{
	return 0; /* directories are implied */
}

static int m_sweep(struct fsys *fs, const char *dir, int (*keep)(void *ctx, const char *path),
                   void *ctx)
{
	return 0; /* nothing is ever left half-written here */
}

static int64_t m_now(struct fsys *fs)
{
	return M(fs)->clock_ns;
}

void memfs_init(struct memfs *m)
{
	memset(m, 0, sizeof *m);
	m->base = (struct fsys){m_stat,   m_hash,         m_read,  m_write, m_append,
	                        m_rename, m_remove, m_mkdir_parent, m_sweep, m_now};
	m->clock_ns = (int64_t)1700000000 * 1000000000;
}

void memfs_free(struct memfs *m)
{
	/* every key ever made, live or dropped, is a file's path */
	for (size_t i = 0; i < m->files.cap; i++) {
		const char *key = m->files.slots[i].key;
		struct mfile *f = m->files.slots[i].val;
		if (f) {
			buf_free(&f->data);
			free(f);
		}
		free((char *)key);
	}
	map_free(&m->files);
}

void memfs_put(struct memfs *m, const char *path, const char *text)
{
	m_write(&m->base, path, text, strlen(text), 0644);
}

void memfs_mkfifo(struct memfs *m, const char *path)
{
	make(m, path, S_IFIFO | 0644);
}

void memfs_mkdir(struct memfs *m, const char *path)
{
	make(m, path, S_IFDIR | 0755);
}

char *memfs_get(struct memfs *m, const char *path)
{
	struct buf b = {0};
	if (m_read(&m->base, path, &b) < 0)
		return NULL;
	buf_putn(&b, "", 0);
	return buf_take(&b);
}

int memfs_exists(struct memfs *m, const char *path)
{
	return find(m, path) != NULL;
}

/* ---- the store ---- */

/* One result, kept as given (deep copy). */
struct mresult {
	struct digest key;
	struct action_result r;
};

struct memstore {
	struct store base;   /* first */
	struct memfs *m;
	struct map blobs;    /* hex digest (owned) -> struct buf * */
	struct mresult *res;
	size_t nres, cap;
};

static void copy_result(struct action_result *to, const struct action_result *from)
{
	*to = *from;
	to->outputs = xcalloc(from->noutputs + 1, sizeof *to->outputs);
	for (size_t i = 0; i < from->noutputs; i++) {
		to->outputs[i] = from->outputs[i];
		to->outputs[i].path = xstrdup(from->outputs[i].path);
	}
	to->discovered = from->discovered
	                 ? strv_dup((const char *const *)from->discovered, from->ndiscovered) : NULL;
}

static int ms_get_result(struct store *s, const struct digest *key, uint64_t key_size,
                         struct action_result *r)
{
	struct memstore *ms = (struct memstore *)s;
	for (size_t i = 0; i < ms->nres; i++)
		if (digest_eq(&ms->res[i].key, key)) {
			copy_result(r, &ms->res[i].r);
			return 1;
		}
	return 0;
}

static int ms_put_result(struct store *s, const struct digest *key, uint64_t key_size,
                         const struct action_result *r)
{
	struct memstore *ms = (struct memstore *)s;
	for (size_t i = 0; i < ms->nres; i++)
		if (digest_eq(&ms->res[i].key, key)) {
			action_result_free(&ms->res[i].r);
			copy_result(&ms->res[i].r, r);
			return 0;
		}
	struct mresult e = {.key = *key};
	copy_result(&e.r, r);
	VEC_PUSH(ms->res, ms->nres, ms->cap, e);
	return 0;
}

static int ms_put_blob(struct store *s, const void *p, size_t n, struct digest *d)
{
	struct memstore *ms = (struct memstore *)s;
	sha_buf(p, n, d);
	char hex[65];
	digest_hex(d, hex);
	if (!map_get(&ms->blobs, hex)) {
		struct buf *b = xcalloc(1, sizeof *b);
		buf_putn(b, p, n);
		map_put(&ms->blobs, xstrdup(hex), b);
	}
	return 0;
}

static int ms_put_file(struct store *s, const char *path, struct digest *d, uint64_t *size)
{
	struct memstore *ms = (struct memstore *)s;
	struct buf b = {0};
	if (m_read(&ms->m->base, path, &b) < 0)
		return -1;
	ms_put_blob(s, b.s ? b.s : "", b.len, d);
	*size = b.len;
	buf_free(&b);
	return 0;
}

static int ms_get_blob(struct store *s, const struct digest *d, struct buf *b)
{
	struct memstore *ms = (struct memstore *)s;
	char hex[65];
	digest_hex(d, hex);
	struct buf *blob = map_get(&ms->blobs, hex);
	if (!blob) {
		errno = ENOENT;
		return -1;
	}
	buf_putn(b, blob->s ? blob->s : "", blob->len);
	return 0;
}

static int ms_get_file(struct store *s, const struct digest *d, const char *dst, unsigned mode)
{
	struct memstore *ms = (struct memstore *)s;
	struct buf b = {0};
	int r = ms_get_blob(s, d, &b);
	if (r == 0)
		r = m_write(&ms->m->base, dst, b.s ? b.s : "", b.len, mode);
	buf_free(&b);
	return r;
}

static void ms_close(struct store *s)
{
	struct memstore *ms = (struct memstore *)s;
	for (size_t i = 0; i < ms->blobs.cap; i++) {
		struct buf *b = ms->blobs.slots[i].val;
		if (b) {
			buf_free(b);
			free(b);
			free((char *)ms->blobs.slots[i].key);
		}
	}
	map_free(&ms->blobs);
	for (size_t i = 0; i < ms->nres; i++)
		action_result_free(&ms->res[i].r);
	free(ms->res);
	free(ms);
}

static const struct store_ops memstore_ops = {
	.get_result = ms_get_result,
	.put_result = ms_put_result,
	.put_file = ms_put_file,
	.put_blob = ms_put_blob,
	.get_file = ms_get_file,
	.get_blob = ms_get_blob,
	.close = ms_close,
};

struct store *memstore_open(struct memfs *m)
{
	struct memstore *ms = xcalloc(1, sizeof *ms);
	ms->base.ops = &memstore_ops;
	ms->m = m;
	return &ms->base;
}
