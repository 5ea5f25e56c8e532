/* ac: action results in the local store.
 *
 * An entry (all integers little-endian):
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
 * Where: appended to ac/<2 hex>/log, the shard of every key that begins
 * so, as u32 length + entry, in one write with O_APPEND: processes that
 * share the cache append side by side without a lock, and a result costs
 * no inode (a file per entry was an inode per action, which ext4 makes
 * slow after a large delete: 2.6 s of a 14.6 s clean build of 10k
 * actions). An entry is found by the key inside it, never by where it
 * lies; one that does not check (a writer killed mid-append, bit rot) is
 * skipped, and the next is found by its magic. A later entry for a key
 * wins.
 *
 * Each process indexes what it has read of a shard (8 bytes of a key ->
 * offset, 16 bytes an entry); a key not in the index reads what was
 * appended since. A log that was replaced
 * (gc evicts a shard's log whole, by its mtime: appends move it, and a
 * hit at most once an hour) is read anew.
 *
 * Entries of earlier versions, one file ac/<2 hex>/<64 hex> each, are
 * still read: a file with another magic or version, a short read, a
 * trailer mismatch, a key that is not the one in its name, or one that is
 * not a regular file at all, is a miss, and is removed.
 *
 * Version 5 added the key; older entries are misses. */
#include "store/store_int.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char AC_MAGIC[8] = "CAIRNAC";
enum { AC_VERSION = 5 };

enum {
	ENTRY_MIN = 8 + 4 + 32 + 4 + 32 + 8 + 4 + 4 + 8, /* no outputs, no inputs */
	ENTRY_MAX = 64 << 20,                           /* a length past this is garbage */
};

/* The log of key's shard: the shard is the key's first byte. */
static char *shard_log(struct local_store *ls, const struct digest *key)
{
	return xasprintf("%s/ac/%02x/log", ls->dir, key->b[0]);
}

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
	struct buf rec = {0};
	buf_put_lstr(&rec, b.s, b.len); /* u32 length + entry */
	char *log = shard_log(ls, key);
	/* one write: appends of other processes land before or after */
	int rc = fs_append(log, rec.s, rec.len);
	if (rc < 0 && errno == ENOENT && fs_mkdir_parent(log) == 0)
		rc = fs_append(log, rec.s, rec.len);
	if (rc < 0 && (errno == EISDIR || errno == EINVAL || errno == ENXIO)) {
		/* a directory or a FIFO in its place: gone, and once more */
		local_drop(log);
		rc = fs_append(log, rec.s, rec.len);
	}
	if (rc < 0)
		local_put_failed(ls);
	free(log);
	buf_free(&rec);
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

/* Forget what was read of a shard. */
static void shard_reset(struct ac_shard *sh)
{
	free(sh->key8);
	free(sh->at);
	memset(sh, 0, sizeof *sh);
}

/* 8 bytes of a key: its 9th to 16th (the first names the shard) */
static uint64_t key8_of(const unsigned char *k)
{
	uint64_t v;
	memcpy(&v, k + 8, 8);
	return v;
}

/* The slot of key8 in the table: its own, or the free one it would take. */
static size_t slot_of(const struct ac_shard *sh, uint64_t key8)
{
	size_t i = (size_t)(key8 ^ key8 >> 29) & (sh->cap - 1);
	while (sh->at[i] && sh->key8[i] != key8)
		i = (i + 1) & (sh->cap - 1);
	return i;
}

/* The offset + 1 of the entry for key, or 0. */
static uint64_t shard_find(const struct ac_shard *sh, const unsigned char *key)
{
	return sh->cap ? sh->at[slot_of(sh, key8_of(key))] : 0;
}

/* Index an entry for key at offset + 1 (a later one wins). */
static void shard_put(struct ac_shard *sh, const unsigned char *key, uint64_t at)
{
	if ((sh->len + 1) * 2 > sh->cap) {
		struct ac_shard old = *sh;
		sh->cap = old.cap ? old.cap * 2 : 64;
		sh->key8 = xcalloc(sh->cap, sizeof *sh->key8);
		sh->at = xcalloc(sh->cap, sizeof *sh->at);
		for (size_t i = 0; i < old.cap; i++)
			if (old.at[i]) {
				size_t j = slot_of(sh, old.key8[i]);
				sh->key8[j] = old.key8[i];
				sh->at[j] = old.at[i];
			}
		free(old.key8);
		free(old.at);
	}
	uint64_t k = key8_of(key);
	size_t i = slot_of(sh, k);
	sh->len += !sh->at[i];
	sh->key8[i] = k;
	sh->at[i] = at;
}

void local_ac_free(struct local_store *ls)
{
	for (size_t i = 0; ls->shards && i < 256; i++)
		shard_reset(&ls->shards[i]);
	free(ls->shards);
	ls->shards = NULL;
}

/* Index the entries of b (read from offset base of the log); returns how
 * many bytes were taken: an entry still being appended waits for the
 * next read. */
static size_t index_entries(struct ac_shard *sh, const unsigned char *b, size_t n, uint64_t base)
{
	size_t p = 0;
	while (p + 4 <= n) {
		struct reader lr = {b + p, b + n, 0};
		uint32_t len = rd_u32(&lr);
		int sane = len >= ENTRY_MIN && len <= ENTRY_MAX;
		if (sane && p + 4 + len > n)
			break;
		struct buf one = {len, len, (char *)b + p + 4};
		struct reader rd;
		const unsigned char *k;
		if (sane && frame_open(&one, AC_MAGIC, AC_VERSION, &rd) == 0 && (k = rd_bytes(&rd, 32))) {
			shard_put(sh, k, base + p + 1);
			p += 4 + len;
			continue;
		}
		/* torn or foreign: the next entry's length lies before its magic */
		const unsigned char *m = p + 5 < n ? memmem(b + p + 5, n - p - 5, AC_MAGIC, 8) : NULL;
		if (!m) {
			/* none yet: only the last bytes may begin one */
			size_t keep = n > 12 ? n - 12 : 0;
			return keep > p ? keep : p;
		}
		p = (size_t)(m - b) - 4;
	}
	return p;
}

/* Read what was appended to the shard's log since it was last read (all
 * of it when the log is another). 0, or -1 when there is none. */
static int shard_read(struct ac_shard *sh, const char *log)
{
	struct stat st;
	int fd = fs_open_regular(log, &st);
	if (fd < 0) {
		if (fs_not_regular(errno))
			local_drop(log);
		shard_reset(sh);
		return -1;
	}
	if (st.st_dev != sh->dev || st.st_ino != sh->ino || (uint64_t)st.st_size < sh->end) {
		shard_reset(sh);
		sh->dev = st.st_dev;
		sh->ino = st.st_ino;
	}
	if ((uint64_t)st.st_size > sh->end) {
		size_t n = (size_t)((uint64_t)st.st_size - sh->end);
		unsigned char *b = xmalloc(n);
		ssize_t got = pread(fd, b, n, (off_t)sh->end);
		if (got > 0)
			sh->end += index_entries(sh, b, (size_t)got, sh->end);
		free(b);
	}
	close(fd);
	return 0;
}

/* The entry for key in the shard's log, read into b: 0, or -1. */
static int shard_get(struct ac_shard *sh, const char *log, const struct digest *key, struct buf *b)
{
	uint64_t at = shard_find(sh, key->b);
	if (!at) {
		if (shard_read(sh, log) < 0 || !(at = shard_find(sh, key->b)))
			return -1;
	}
	struct stat st;
	int fd = fs_open_regular(log, &st);
	if (fd < 0)
		return -1;
	unsigned char len[4];
	struct reader lr = {len, len + 4, 0};
	int ok = st.st_dev == sh->dev && st.st_ino == sh->ino &&
	         pread(fd, len, 4, (off_t)(at - 1)) == 4;
	size_t n = ok ? rd_u32(&lr) : 0;
	ok = ok && n <= ENTRY_MAX;
	if (ok) {
		buf_free(b);
		b->s = xmalloc(n + 1);
		b->cap = n + 1;
		b->len = n;
		ok = pread(fd, b->s, n, (off_t)(at + 3)) == (ssize_t)n;
	}
	/* a use, for gc: at most once an hour (a write per hit would cost
	 * more than the hit) */
	if (ok && time(NULL) - st.st_mtime > 3600)
		futimens(fd, NULL);
	close(fd);
	return ok ? 0 : -1;
}

int local_get_result(struct store *s, const struct digest *key, uint64_t key_size,
                     struct action_result *r)
{
	struct local_store *ls = (struct local_store *)s;
	struct buf b = {0};
	char *log = shard_log(ls, key);
	pthread_mutex_lock(&ls->ac_mu);
	if (!ls->shards)
		ls->shards = xcalloc(256, sizeof *ls->shards);
	struct ac_shard *sh = &ls->shards[key->b[0]];
	int hit = shard_get(sh, log, key, &b) == 0 && decode(&b, key, r) == 0;
	if (!hit && shard_find(sh, key->b)) {
		/* the entry indexed went bad (or the log changed under the
		 * index): read the log anew, for a good one after it */
		shard_reset(sh);
		hit = shard_get(sh, log, key, &b) == 0 && decode(&b, key, r) == 0;
	}
	pthread_mutex_unlock(&ls->ac_mu);
	free(log);
	if (!hit) {
		/* an entry of an earlier version, a file of its own (only ever
		 * older than the log, which every write since goes to) */
		char *path = local_path(ls, "ac", key);
		buf_reset(&b);
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
		free(path);
	}
	buf_free(&b);
	return hit;
}
