/* cas: the local content-addressed store.
 *
 * Layout under the cache dir:
 *   cas/<2 hex>/<64 hex>     a blob: the bytes whose SHA-256 is the name,
 *                            mode 0444
 *   cas/<2 hex>/<64 hex>.x   the same bytes as an executable (0555)
 *   ac/<2 hex>/log           the action results whose keys begin so
 *                            (format in ac.c)
 *   tmp/                     files being written; renamed into place
 *
 * Outputs and blobs share inodes: an action's output is made read-only
 * and hard-linked in, and a restore hard-links the blob out, so neither
 * costs a copy or a new inode (creating inodes is what a cache restore of
 * thousands of files spends its time on). cairn never writes an output in
 * place (it unlinks outputs before an action runs), and every restore
 * hashes the blob first, so a blob damaged through a hand edit of an
 * output is caught, dropped, and costs one rerun. Across file systems the
 * bytes are copied instead. So are those of an output whose inode has
 * other links (an action that ran `ln SRC $@` without a sandbox): that
 * inode is also someone else's file, which cairn must neither chmod nor
 * keep as a blob that the next edit of that file would change.
 *
 * An entry that is not a regular file (a FIFO or a directory put in its
 * place) is damaged like one whose bytes are wrong: a miss, removed, and
 * written again by the next put. Entries are opened with
 * fs_open_regular, which never blocks on a FIFO.
 *
 * Puts are best effort (a build without a cache is slower, not wrong):
 * a failed one leaves its errno in store.put_errno for the CLI to report
 * once, and the build goes on.
 *
 * Other writes go to tmp/ (or next to their target) and are renamed into
 * place, so a reader sees a whole file or none, and two cairn processes
 * may insert the same blob at once. A torn temp file left by kill -9 is
 * never read; gc sweeps old ones. The mtime of an entry is its last use
 * (touched on every hit), which gc uses for LRU eviction. */
#include "store/store_int.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
	/* atomic: a remote cache's prefetch threads store blobs too */
	return xasprintf("%s/tmp/%ld.%u", ls->dir, (long)getpid(),
	                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
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

void local_drop(const char *path)
{
	if (unlink(path) < 0 && (errno == EISDIR || errno == EPERM))
		fs_rm_rf(path);
}

int local_put_failed(struct local_store *ls)
{
	int e = errno ? errno : EIO;
	if (!ls->base.put_errno)
		ls->base.put_errno = e;
	errno = e;
	return -1;
}

static char *blob_path(struct local_store *ls, const struct digest *d, int exec)
{
	char *p = local_path(ls, "cas", d);
	if (!exec)
		return p;
	char *x = xasprintf("%s.x", p);
	free(p);
	return x;
}

/* Put `final` in place as a copy of src with mode, via tmp/. */
static int copy_in(struct local_store *ls, const char *src, const char *final, unsigned mode,
                   const struct digest *want)
{
	char *tmp = local_tmp(ls);
	int r = fs_copy_atomic(src, tmp, mode, NULL, want);
	if (r == 0)
		r = local_commit(tmp, final);
	free(tmp);
	return r;
}

/* A new blob made from a copy of path's bytes (for a file whose inode is
 * not cairn's to adopt); its digest and size come back. 0 or -1. */
static int copy_new(struct local_store *ls, const char *path, int exec, struct digest *d,
                    uint64_t *size)
{
	char *tmp = local_tmp(ls), *final = NULL;
	struct stat st;
	int r = fs_copy_atomic(path, tmp, exec ? 0555 : 0444, d, NULL);
	if (r == 0 && lstat(tmp, &st) < 0) {
		unlink(tmp);
		r = -1;
	}
	if (r == 0) {
		*size = (uint64_t)st.st_size;
		final = blob_path(ls, d, exec);
		r = local_commit(tmp, final);
	}
	free(tmp);
	free(final);
	return r;
}

static int put_file(struct store *s, const char *path, struct digest *d, uint64_t *size)
{
	struct local_store *ls = (struct local_store *)s;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	int exec = (st.st_mode & 0111) != 0;
	/* another link to the inode (an action that ran `ln SRC $@`): the
	 * inode is someone else's file as well, never to be chmod'ed or made
	 * a blob, which editing that file would change under its name */
	if (st.st_nlink > 1)
		return copy_new(ls, path, exec, d, size) < 0 ? local_put_failed(ls) : 0;
	if (sha_file(path, d, size) < 0)
		return -1;
	if (chmod(path, exec ? 0555 : 0444) < 0)
		return -1;
	char *final = blob_path(ls, d, exec);
	int r = link(path, final);
	if (r < 0 && errno == ENOENT && fs_mkdir_parent(final) == 0)
		r = link(path, final);
	struct stat old;
	if (r < 0 && errno == EEXIST && lstat(final, &old) == 0 && S_ISREG(old.st_mode) &&
	    (uint64_t)old.st_size == *size && old.st_ino != st.st_ino) {
		/* kept: replacing it would take a link from the output it is
		 * (another output with these bytes), whose stat data the build
		 * has recorded; a damaged one is dropped when it is read */
		r = 0;
	} else if (r < 0 && errno == EEXIST) {
		/* replace it with ours, which we just hashed: it is not a file, or
		 * not of its size */
		char *tmp = local_tmp(ls);
		r = link(path, tmp);
		if (r == 0 && rename(tmp, final) < 0) {
			int e = errno;
			unlink(tmp);
			errno = e;
			r = -1;
			if (e == EISDIR) { /* a directory in its place */
				local_drop(final);
				r = link(path, final);
			}
		}
		free(tmp);
	} else if (r < 0 && (errno == EXDEV || errno == EPERM || errno == EMLINK)) {
		r = copy_in(ls, path, final, exec ? 0555 : 0444, d);
	}
	free(final);
	return r < 0 ? local_put_failed(ls) : 0;
}

static int put_blob(struct store *s, const void *p, size_t n, struct digest *d)
{
	struct local_store *ls = (struct local_store *)s;
	sha_buf(p, n, d);
	char *final = local_path(ls, "cas", d);
	struct stat st;
	int r = 0;
	int there = lstat(final, &st) == 0;
	if (!there || !S_ISREG(st.st_mode)) {
		if (there)
			local_drop(final); /* not a file: damaged */
		char *tmp = local_tmp(ls);
		r = fs_write_atomic(tmp, p, n, 0644);
		if (r == 0)
			r = local_commit(tmp, final);
		free(tmp);
		if (r < 0)
			local_put_failed(ls);
	}
	free(final);
	return r;
}

/* The blob for d with the exec bit as asked, verified. Makes the other
 * variant from the one there is. A blob that does not hash to its name,
 * or is not a regular file, is dropped. Returns its path, or NULL with
 * errno. */
static char *verified_blob(struct local_store *ls, const struct digest *d, int exec)
{
	char *p = blob_path(ls, d, exec);
	struct digest got;
	if (sha_file(p, &got, NULL) == 0) {
		if (digest_eq(&got, d))
			return p;
		unlink(p); /* damaged: drop it */
		free(p);
		errno = EIO;
		return NULL;
	}
	if (fs_not_regular(errno)) {
		local_drop(p);
		free(p);
		errno = EIO;
		return NULL;
	}
	char *other = blob_path(ls, d, !exec);
	int r = copy_in(ls, other, p, exec ? 0555 : 0444, d);
	if (r < 0 && (errno == EIO || fs_not_regular(errno)))
		local_drop(other);
	free(other);
	if (r < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* A use of the blob at p (stat'd as st), for the LRU eviction: its mtime
 * moved to now, at most once an hour (a write per use would cost more
 * than the use). */
static void touch(const char *p, const struct stat *st)
{
	if (time(NULL) - st->st_mtime > 3600)
		utimensat(AT_FDCWD, p, NULL, 0);
}

int store_local_blob(struct store *s, const struct digest *d, uint64_t *size)
{
	struct local_store *ls = (struct local_store *)s;
	for (int exec = 0; exec < 2; exec++) {
		char *p = blob_path(ls, d, exec);
		struct stat st;
		int fd = fs_open_regular(p, &st);
		if (fd >= 0) {
			touch(p, &st);
			free(p);
			*size = (uint64_t)st.st_size;
			return fd;
		}
		free(p);
	}
	return -1;
}

int store_local_has(struct store *s, const struct digest *d, uint64_t *size)
{
	struct local_store *ls = (struct local_store *)s;
	for (int exec = 0; exec < 2; exec++) {
		char *p = blob_path(ls, d, exec);
		struct stat st;
		int yes = stat(p, &st) == 0 && S_ISREG(st.st_mode);
		if (yes) {
			touch(p, &st);
			*size = (uint64_t)st.st_size;
		}
		free(p);
		if (yes)
			return 1;
	}
	return 0;
}

static int get_file(struct store *s, const struct digest *d, const char *dst, unsigned mode)
{
	struct local_store *ls = (struct local_store *)s;
	int exec = (mode & 0111) != 0;
	char *src = verified_blob(ls, d, exec);
	if (!src)
		return -1;
	utimensat(AT_FDCWD, src, NULL, 0);
	int r = 0;
	if (unlink(dst) < 0 && errno != ENOENT)
		r = -1;
	if (r == 0 && link(src, dst) < 0) {
		if (errno == EXDEV || errno == EPERM || errno == EMLINK)
			r = fs_copy_atomic(src, dst, exec ? 0555 : 0444, NULL, d);
		else
			r = -1;
	}
	free(src);
	return r;
}

static int get_blob(struct store *s, const struct digest *d, struct buf *b)
{
	struct local_store *ls = (struct local_store *)s;
	char *src = local_path(ls, "cas", d);
	size_t start = b->len;
	int r = fs_read_all(src, b);
	if (r < 0 && fs_not_regular(errno))
		local_drop(src);
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
	local_ac_free(ls);
	pthread_mutex_destroy(&ls->ac_mu);
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
	pthread_mutex_init(&ls->ac_mu, NULL);
	return &ls->base;
}

void action_result_free(struct action_result *r)
{
	for (size_t i = 0; i < r->noutputs; i++)
		free(r->outputs[i].path);
	free(r->outputs);
	r->outputs = NULL;
	r->noutputs = 0;
	for (size_t i = 0; i < r->ndiscovered; i++)
		free(r->discovered[i]);
	free(r->discovered);
	r->discovered = NULL;
	r->ndiscovered = 0;
}
