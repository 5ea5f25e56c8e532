/* cas: the local content-addressed store.
 *
 * Layout under the cache dir:
 *   cas/<2 hex>/<64 hex>   a blob: the raw bytes whose SHA-256 is the name
 *   ac/<2 hex>/<64 hex>    an action result (format in ac.c)
 *   tmp/                   files being written; renamed into place
 *
 * Every write goes to tmp/ and is renamed into place, so a reader sees a
 * whole file or none, and two cairn processes may insert the same blob at
 * once (the rename is atomic and the bytes are the same). A torn temp file
 * left by kill -9 is never read; gc sweeps old ones. A blob is verified
 * against its name whenever it is read, so a corrupt one is dropped and
 * counts as a miss. The mtime of an entry is its last use (touched on
 * every hit), which gc uses for LRU eviction. */
#include "store/store_int.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *local_path(struct local_store *ls, const char *kind, const struct digest *d)
{
	char hex[65];
	digest_hex(d, hex);
	return xasprintf("%s/%s/%.2s/%s", ls->dir, kind, hex, hex);
}

char *local_tmp(struct local_store *ls)
{
	static unsigned counter;
	return xasprintf("%s/tmp/%ld.%u", ls->dir, (long)getpid(), ++counter);
}

/* Rename tmp to the entry's final path, creating its fan-out directory. */
int local_commit(const char *tmp, const char *final)
{
	if (rename(tmp, final) == 0)
		return 0;
	if (errno == ENOENT && fs_mkdir_parent(final) == 0 && rename(tmp, final) == 0)
		return 0;
	int e = errno;
	unlink(tmp);
	errno = e;
	return -1;
}

static int put_file(struct store *s, const char *path, struct digest *d, uint64_t *size)
{
	struct local_store *ls = (struct local_store *)s;
	char *tmp = local_tmp(ls);
	struct stat st;
	if (stat(path, &st) < 0 || fs_copy_atomic(path, tmp, 0644, d, NULL) < 0) {
		free(tmp);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	char *final = local_path(ls, "cas", d);
	int r = local_commit(tmp, final);
	free(final);
	free(tmp);
	return r;
}

static int put_blob(struct store *s, const void *p, size_t n, struct digest *d)
{
	struct local_store *ls = (struct local_store *)s;
	sha_buf(p, n, d);
	char *final = local_path(ls, "cas", d);
	struct stat st;
	int r = 0;
	if (stat(final, &st) < 0) {
		char *tmp = local_tmp(ls);
		r = fs_write_atomic(tmp, p, n, 0644);
		if (r == 0)
			r = local_commit(tmp, final);
		free(tmp);
	}
	free(final);
	return r;
}

static int get_file(struct store *s, const struct digest *d, const char *dst, unsigned mode)
{
	struct local_store *ls = (struct local_store *)s;
	char *src = local_path(ls, "cas", d);
	int r = fs_copy_atomic(src, dst, mode, NULL, d);
	if (r < 0 && errno == EIO)
		unlink(src); /* corrupt blob: drop it; dst was left alone */
	if (r == 0)
		utimensat(AT_FDCWD, src, NULL, 0);
	free(src);
	return r;
}

static int get_blob(struct store *s, const struct digest *d, struct buf *b)
{
	struct local_store *ls = (struct local_store *)s;
	char *src = local_path(ls, "cas", d);
	size_t start = b->len;
	int r = fs_read_all(src, b);
	if (r == 0) {
		struct digest got;
		sha_buf(b->s + start, b->len - start, &got);
		if (!digest_eq(&got, d)) {
			unlink(src);
			b->len = start;
			errno = EIO;
			r = -1;
		}
	}
	if (r == 0)
		utimensat(AT_FDCWD, src, NULL, 0);
	free(src);
	return r;
}

static void close_store(struct store *s)
{
	struct local_store *ls = (struct local_store *)s;
	free(ls->dir);
	free(ls);
}

static const struct store_ops local_ops = {
	.get_result = local_get_result,
	.put_result = local_put_result,
	.put_file = put_file,
	.put_blob = put_blob,
	.get_file = get_file,
	.get_blob = get_blob,
	.close = close_store,
};

struct store *store_local_open(const char *dir)
{
	char *tmp = xasprintf("%s/tmp", dir);
	int r = fs_mkdir_p(tmp);
	free(tmp);
	if (r < 0)
		return NULL;
	struct local_store *ls = xcalloc(1, sizeof *ls);
	ls->base.ops = &local_ops;
	ls->dir = xstrdup(dir);
	return &ls->base;
}

void action_result_free(struct action_result *r)
{
	for (size_t i = 0; i < r->noutputs; i++)
		free(r->outputs[i].path);
	free(r->outputs);
	r->outputs = NULL;
	r->noutputs = 0;
}
