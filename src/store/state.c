/* state: the workspace state file.
 *
 * Format of .cairn/state (integers little-endian):
 *   magic     8 bytes  "CAIRNST\0"
 *   version   u32      (ST_VERSION)
 *   saved_ns  u64      wall-clock time of the save
 *   nfiles    u32, then per file:
 *     path u32-length string, size u64, mtime_ns u64, ctime_ns u64,
 *     ino u64, mode u32, digest 32 bytes, ours u8
 *   nactions  u32, then per action:
 *     id string, key 32, cmd 32, ms u64,
 *     nouts u32 + nouts digests (32 each),
 *     nins u32 + nins times (path string, d64 u64)
 *   trailer   u64 check64 (util.h) of everything before it
 *
 * Written whole to a temp file and renamed, at the end of each command
 * that changed it, after the previous file was moved aside to
 * .cairn/state.old; kill -9 leaves the previous state, which is safe (see
 * state.h). A state file that is missing or does not decode is replaced
 * by state.old when that one decodes (any older state is safe: every
 * entry is checked against the file's stat data). An unknown magic or
 * version, or a trailer mismatch, in both: the state starts empty.
 *
 * Racy entries (as git calls them): a source whose mtime is within 20 ms
 * (FS_RACY_NS)
 * of the save may have been changed again in the same timestamp tick after
 * it was hashed, with its stat data unchanged; such an entry is hashed
 * again on the next run rather than trusted. */
#include "store/state.h"
#include "util/arena.h"
#include "util/map.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char ST_MAGIC[8] = "CAIRNST";
enum { ST_VERSION = 4 };

struct state {
	struct arena arena; /* every record and string below: freed at once */
	struct map files;   /* path -> struct file_rec */
	struct map actions; /* id -> struct act_rec */
	int dirty;          /* changed since load */
	int64_t saved_ns;   /* when the loaded state was saved (0: never) */
};

/* A copy of r in the state's arena (r itself untouched). */
static struct act_rec *adopt(struct state *s, const struct act_rec *r)
{
	struct arena *a = &s->arena;
	struct act_rec *c = arena_alloc(a, sizeof *c);
	*c = *r;
	c->id = arena_strdup(a, r->id);
	c->outs = arena_alloc(a, (r->nouts ? r->nouts : 1) * sizeof *c->outs);
	if (r->nouts)
		memcpy(c->outs, r->outs, r->nouts * sizeof *c->outs);
	c->ins = arena_alloc(a, (r->nins ? r->nins : 1) * sizeof *c->ins);
	for (size_t i = 0; i < r->nins; i++) {
		c->ins[i].path = arena_strdup(a, r->ins[i].path);
		c->ins[i].d64 = r->ins[i].d64;
	}
	return c;
}

void act_rec_free(struct act_rec *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->outs);
	for (size_t i = 0; i < r->nins; i++)
		free(r->ins[i].path);
	free(r->ins);
	free(r);
}

static int decode(struct state *s, const struct buf *b)
{
	struct reader rd;
	if (frame_open(b, ST_MAGIC, ST_VERSION, &rd) < 0)
		return -1;
	s->saved_ns = (int64_t)rd_u64(&rd);
	size_t n = rd_u32(&rd);
	if (n < (size_t)(rd.end - rd.p) / 40)
		map_reserve(&s->files, n);
	for (size_t i = 0; i < n && !rd.bad; i++) {
		size_t len;
		const char *p = rd_lstr(&rd, &len);
		struct file_rec f = {0};
		stat_get(&rd, &f.st);
		const void *d = rd_bytes(&rd, 32);
		const unsigned char *ours = rd_bytes(&rd, 1);
		if (!p || !d || !ours)
			break;
		f.ours = *ours;
		f.loaded = 1;
		struct file_rec *fr = arena_alloc(&s->arena, sizeof *fr);
		*fr = f;
		fr->path = arena_strndup(&s->arena, p, len);
		memcpy(fr->d.b, d, 32);
		map_put(&s->files, fr->path, fr);
	}
	n = rd_u32(&rd);
	if (n < (size_t)(rd.end - rd.p) / 80)
		map_reserve(&s->actions, n);
	for (size_t i = 0; i < n && !rd.bad; i++) {
		size_t len;
		const char *p = rd_lstr(&rd, &len);
		const void *key = rd_bytes(&rd, 32), *cmd = rd_bytes(&rd, 32);
		uint64_t ms = rd_u64(&rd);
		size_t nouts = rd_u32(&rd);
		const unsigned char *outs = rd_bytes(&rd, nouts * 32);
		size_t nins = rd_u32(&rd);
		if (!p || !key || !cmd || !outs || nins > (size_t)(rd.end - rd.p))
			break;
		struct arena *a = &s->arena;
		struct act_rec *r = arena_alloc(a, sizeof *r);
		r->id = arena_strndup(a, p, len);
		memcpy(r->key.b, key, 32);
		memcpy(r->cmd.b, cmd, 32);
		r->ms = ms;
		r->nouts = nouts;
		r->outs = arena_alloc(a, (nouts ? nouts : 1) * sizeof *r->outs);
		memcpy(r->outs, outs, nouts * 32);
		r->ins = arena_alloc(a, (nins ? nins : 1) * sizeof *r->ins);
		for (size_t j = 0; j < nins; j++) {
			const char *ip = rd_lstr(&rd, &len);
			uint64_t d64 = rd_u64(&rd);
			if (!ip)
				break;
			r->ins[j].path = arena_strndup(a, ip, len);
			r->ins[j].d64 = d64;
			r->nins = j + 1;
		}
		map_put(&s->actions, r->id, r);
	}
	return rd.bad || rd.p != rd.end ? -1 : 0;
}

/* Empty s, as a fresh state. */
static void clear(struct state *s)
{
	map_free(&s->files);
	map_free(&s->actions);
	arena_free(&s->arena);
	memset(s, 0, sizeof *s);
}

struct state *state_load(const char *path, struct fsys *fs, int *corrupt)
{
	struct state *s = xcalloc(1, sizeof *s);
	struct buf b = {0};
	*corrupt = 0;
	int r = fs->read(fs, path, &b);
	if (r == 0 && decode(s, &b) == 0)
		goto out;
	/* missing (killed between the two renames of state_save) or damaged:
	 * the one before, if it is whole */
	int damaged = r == 0 || errno != ENOENT;
	clear(s);
	buf_reset(&b);
	char *old = xasprintf("%s.old", path);
	r = fs->read(fs, old, &b);
	free(old);
	if (r == 0 && decode(s, &b) < 0) {
		clear(s);
		*corrupt = 1;
	} else if (r < 0) {
		*corrupt = damaged;
	}
out:
	buf_free(&b);
	return s;
}

int state_save(struct state *s, const char *path, struct fsys *fs)
{
	if (!s->dirty)
		return 0;
	struct buf b = {0};
	frame_begin(&b, ST_MAGIC, ST_VERSION);
	buf_put_u64(&b, (uint64_t)fs->now(fs));
	/* forgotten records stay in the maps with a NULL value */
	size_t nf = 0, na = 0;
	for (size_t i = 0; i < s->files.cap; i++)
		nf += s->files.slots[i].val != NULL;
	for (size_t i = 0; i < s->actions.cap; i++)
		na += s->actions.slots[i].val != NULL;
	buf_put_u32(&b, (unsigned)nf);
	for (size_t i = 0; i < s->files.cap; i++) {
		struct file_rec *f = s->files.slots[i].val;
		if (!f)
			continue;
		buf_put_lstr(&b, f->path, strlen(f->path));
		stat_put(&b, &f->st);
		buf_putn(&b, f->d.b, 32);
		buf_putc(&b, (char)f->ours);
	}
	buf_put_u32(&b, (unsigned)na);
	for (size_t i = 0; i < s->actions.cap; i++) {
		struct act_rec *r = s->actions.slots[i].val;
		if (!r)
			continue;
		buf_put_lstr(&b, r->id, strlen(r->id));
		buf_putn(&b, r->key.b, 32);
		buf_putn(&b, r->cmd.b, 32);
		buf_put_u64(&b, r->ms);
		buf_put_u32(&b, (unsigned)r->nouts);
		buf_putn(&b, r->outs, r->nouts * 32);
		buf_put_u32(&b, (unsigned)r->nins);
		for (size_t j = 0; j < r->nins; j++) {
			buf_put_lstr(&b, r->ins[j].path, strlen(r->ins[j].path));
			buf_put_u64(&b, r->ins[j].d64);
		}
	}
	frame_seal(&b);
	/* ext4 flushes a file renamed over another one (auto_da_alloc): for
	 * 4 MB that is 5 ms of a 70 ms build. The old state moves aside first,
	 * so the new one lands on a free name; a kill between the two renames
	 * leaves the old one, which state_load reads (an older state is as
	 * safe as any: every entry is checked against the file's stat data). */
	char *old = xasprintf("%s.old", path);
	fs->remove(fs, old);
	int rc = fs->rename(fs, path, old) < 0 && errno != ENOENT ? -1 : 0;
	if (rc == 0)
		rc = fs->write(fs, path, b.s, b.len, 0644);
	free(old);
	buf_free(&b);
	if (rc == 0)
		s->dirty = 0;
	return rc;
}

void state_free(struct state *s)
{
	if (!s)
		return;
	clear(s);
	free(s);
}

static void put_file(struct state *s, const char *path, const struct file_stat *st,
                     const struct digest *d, int ours)
{
	struct file_rec *f = map_get(&s->files, path);
	if (!f) {
		f = arena_alloc(&s->arena, sizeof *f);
		f->path = arena_strdup(&s->arena, path);
		map_put(&s->files, f->path, f);
	}
	f->st = *st;
	f->d = *d;
	f->ours = (unsigned char)ours;
	f->loaded = 0;
	s->dirty = 1;
}

int state_digest(struct state *s, struct fsys *fs, const char *path, struct digest *d)
{
	struct file_stat st;
	if (fs->stat(fs, path, &st) < 0)
		return -1;
	return state_digest_st(s, fs, path, &st, d);
}

int state_digest_st(struct state *s, struct fsys *fs, const char *path,
                    const struct file_stat *stp, struct digest *d)
{
	struct file_stat st = *stp;
	struct file_rec *f = map_get(&s->files, path);
	int racy = f && f->loaded && !f->ours && f->st.mtime_ns >= s->saved_ns - FS_RACY_NS;
	if (f && stat_eq(&f->st, &st) && !racy) {
		*d = f->d;
		return 0;
	}
	if (fs->hash(fs, path, d) < 0)
		return -1;
	/* an output hashed again (its inode's ctime moves when the cache's
	 * links to it change) is still an output */
	put_file(s, path, &st, d, f ? f->ours : 0);
	return 0;
}

void state_remember(struct state *s, struct fsys *fs, const char *path, const struct digest *d,
                    int kind)
{
	struct file_stat st;
	if (fs->stat(fs, path, &st) == 0)
		put_file(s, path, &st, d, kind);
}

void state_outputs(struct state *s, int kinds, void (*fn)(void *ctx, const char *path), void *ctx)
{
	for (size_t i = 0; i < s->files.cap; i++) {
		struct file_rec *f = s->files.slots[i].val;
		if (f && (f->ours & kinds))
			fn(ctx, f->path);
	}
}

void state_forget(struct state *s, const char *path)
{
	if (map_get(&s->files, path)) {
		map_put(&s->files, map_key(&s->files, path), NULL);
		s->dirty = 1;
	}
	if (map_get(&s->actions, path)) {
		map_put(&s->actions, map_key(&s->actions, path), NULL);
		s->dirty = 1;
	}
}

const struct file_rec *state_file(struct state *s, const char *path)
{
	return map_get(&s->files, path);
}

struct act_rec *state_action(struct state *s, const char *id)
{
	return map_get(&s->actions, id);
}

void state_set_action(struct state *s, struct act_rec *r)
{
	struct act_rec *c = adopt(s, r);
	map_put(&s->actions, c->id, c);
	act_rec_free(r);
	s->dirty = 1;
}
