/* ac: action results in the local store.
 *
 * File format (all integers little-endian):
 *   magic     8 bytes  "CAIRNAC\0"
 *   version   u32      (AC_VERSION)
 *   key       32 bytes the action key the entry was written for
 *   exit      u32      the action's exit code (only 0 is ever stored)
 *   log       32 bytes digest of the merged stdout+stderr blob
 *   log_size  u64
 *   n         u32      number of outputs, then n times:
 *     path    u32 length + bytes (workspace-relative)
 *     digest  32 bytes
 *     size    u64
 *     mode    u32
 *   nd        u32      discovered inputs (from a depfile), then nd paths
 *                      (u32 length + bytes), sorted
 *   trailer   u64 check64 (util.h) of everything before it (a blob is
 *             checked against its own digest whenever it is read)
 *
 * Written to tmp/ and renamed into place. A file with another magic or
 * version, a short read, a trailer mismatch, a key that is not the one in
 * its name (an entry copied or renamed there: the file name alone is no
 * proof of what it answers), or one that is not a regular file at all, is
 * a miss, and is removed so the next run writes a good one.
 *
 * Version 5 added the key; older entries are misses. */
#include "store/store_int.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char AC_MAGIC[8] = "CAIRNAC";
enum { AC_VERSION = 5 };

int local_put_result(struct store *s, const struct digest *key, uint64_t key_size,
                     const struct action_result *r)
{
	struct local_store *ls = (struct local_store *)s;
	struct buf b = {0};
	frame_begin(&b, AC_MAGIC, AC_VERSION);
	buf_putn(&b, key->b, 32);
	buf_put_u32(&b, (unsigned)r->exit_code);
	buf_putn(&b, r->log.b, 32);
	buf_put_u64(&b, r->log_size);
	buf_put_u32(&b, (unsigned)r->noutputs);
	for (size_t i = 0; i < r->noutputs; i++) {
		const struct result_output *o = &r->outputs[i];
		buf_put_lstr(&b, o->path, strlen(o->path));
		buf_putn(&b, o->d.b, 32);
		buf_put_u64(&b, o->size);
		buf_put_u32(&b, o->mode);
	}
	buf_put_u32(&b, (unsigned)r->ndiscovered);
	for (size_t i = 0; i < r->ndiscovered; i++)
		buf_put_lstr(&b, r->discovered[i], strlen(r->discovered[i]));
	frame_seal(&b);
	char *tmp = local_tmp(ls);
	char *final = local_path(ls, "ac", key);
	int rc = fs_write_atomic(tmp, b.s, b.len, 0644);
	if (rc == 0)
		rc = local_commit(tmp, final);
	if (rc < 0 && errno == EISDIR) { /* a directory in its place */
		local_drop(final);
		rc = fs_write_atomic(tmp, b.s, b.len, 0644);
		if (rc == 0)
			rc = local_commit(tmp, final);
	}
	if (rc < 0)
		local_put_failed(ls);
	free(tmp);
	free(final);
	buf_free(&b);
	return rc;
}

/* The entry in b, if it was written for key. 0, or -1 (r left empty). */
static int decode(const struct buf *b, const struct digest *key, struct action_result *r)
{
	memset(r, 0, sizeof *r);
	struct reader rd;
	if (frame_open(b, AC_MAGIC, AC_VERSION, &rd) < 0)
		return -1;
	const void *k = rd_bytes(&rd, 32);
	if (!k || memcmp(k, key->b, 32) != 0)
		return -1;
	r->exit_code = (int)rd_u32(&rd);
	const void *log = rd_bytes(&rd, 32);
	if (log)
		memcpy(r->log.b, log, 32);
	r->log_size = rd_u64(&rd);
	size_t n = rd_u32(&rd);
	if (rd.bad || n > (size_t)(rd.end - rd.p))
		return -1;
	r->outputs = xcalloc(n ? n : 1, sizeof *r->outputs);
	for (size_t i = 0; i < n && !rd.bad; i++) {
		struct result_output *o = &r->outputs[i];
		size_t len;
		const char *p = rd_lstr(&rd, &len);
		const void *d = rd_bytes(&rd, 32);
		o->size = rd_u64(&rd);
		o->mode = rd_u32(&rd);
		if (!p || !d)
			break;
		o->path = xstrndup(p, len);
		memcpy(o->d.b, d, 32);
		r->noutputs = i + 1;
	}
	size_t nd = rd_u32(&rd);
	if (!rd.bad && nd <= (size_t)(rd.end - rd.p) / 4) {
		r->discovered = xcalloc(nd + 1, sizeof *r->discovered);
		for (size_t i = 0; i < nd; i++) {
			size_t len;
			const char *p = rd_lstr(&rd, &len);
			if (!p)
				break;
			r->discovered[i] = xstrndup(p, len);
			r->ndiscovered = i + 1;
		}
	} else {
		rd.bad = 1;
	}
	if (rd.bad || r->noutputs != n || r->ndiscovered != nd || rd.p != rd.end) {
		action_result_free(r);
		return -1;
	}
	return 0;
}

int local_get_result(struct store *s, const struct digest *key, uint64_t key_size,
                     struct action_result *r)
{
	struct local_store *ls = (struct local_store *)s;
	char *path = local_path(ls, "ac", key);
	struct buf b = {0};
	int hit = 0;
	if (fs_read_all(path, &b) == 0) {
		if (decode(&b, key, r) == 0) {
			hit = 1;
			utimensat(AT_FDCWD, path, NULL, 0);
		} else {
			local_drop(path);
		}
	} else if (fs_not_regular(errno)) {
		local_drop(path);
	}
	buf_free(&b);
	free(path);
	return hit;
}
