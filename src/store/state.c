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
 * The journal, .cairn/state.log: what each later command changed, as
 * records appended one after the other (as ninja appends to its logs):
 *   length    u32      of the frame that follows
 *   frame     magic "CAIRNSJ\0", version u32, then
 *     base_ns  u64     the saved_ns of the state file it follows
 *     saved_ns u64     when this record was written
 *     files and actions as in the state file (the changed ones)
 *     nforgot  u32, then per forgotten path: a string
 *   trailer u64 check64
 * Loading reads the state file, then every record that follows it; a
 * record for another state file, or a torn or damaged one, ends the
 * journal there, and the next save writes the state whole. A save
 * appends one record, unless the journal would pass half the state
 * file's size: then the state is written whole and the journal removed.
 * So a command that changed a few entries writes a few hundred bytes,
 * not the whole state.
 *
 * The state file is written whole to a temp file and renamed, after the
 * previous file was moved aside to .cairn/state.old; kill -9 leaves the
 * previous state, which is safe (see state.h), and a torn append leaves
 * the records before it. A state file that is missing or does not decode
 * is replaced by state.old when that one decodes (any older state is
 * safe: every entry is checked against the file's stat data), with the
 * journal that follows it. An unknown magic or version, or a trailer
 * mismatch, in both: the state starts empty.
 *
 * Racy entries (as git calls them): a source whose mtime is within 20 ms
 * (FS_RACY_NS) of the save that wrote its entry (the state file's, or
 * its journal record's) may have been changed again in the same
 * timestamp tick after it was hashed, with its stat data unchanged; such
 * an entry is hashed again on the next run rather than trusted. */
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
static const char JL_MAGIC[8] = "CAIRNSJ";
enum { ST_VERSION = 5, JL_VERSION = 1 };

struct state {
	struct arena arena; /* every record and string below: freed at once */
	struct map files;   /* path -> struct file_rec */
	struct map actions; /* id -> struct act_rec */
	int dirty;          /* changed since load or save */
	int64_t base_ns;    /* the saved_ns of the state file (0: none) */
	size_t base_len;    /* its size */
	size_t log_len;     /* the journal's whole records */
	int log_bad;        /* the journal ends in a record not to append after */
};

/* path as a string of s: the path of a file s knows (an action's id and
 * most of its inputs are), else a copy in its arena. At 10k actions a clean
 * build keeps 40k paths from being copied a second time. Not used when the
 * state is read: a map look-up per input was 3% of a one-source rebuild's
 * CPU (perf), for memory only that rebuild holds. */
static char *intern(struct state *s, const char *path)
{
	const char *k = map_key(&s->files, path);
	return k ? (char *)k : arena_strdup(&s->arena, path); /* the arena's: lives as long as s */
}

/* A copy of r in the state's arena (r itself untouched). */
static struct act_rec *adopt(struct state *s, const struct act_rec *r)
{
	struct arena *a = &s->arena;
	struct act_rec *c = arena_alloc(a, sizeof *c);
	*c = *r;
	c->id = intern(s, r->id);
	c->outs = arena_alloc(a, (r->nouts ? r->nouts : 1) * sizeof *c->outs);
	if (r->nouts)
		memcpy(c->outs, r->outs, r->nouts * sizeof *c->outs);
	c->ins = arena_alloc(a, (r->nins ? r->nins : 1) * sizeof *c->ins);
	for (size_t i = 0; i < r->nins; i++) {
		c->ins[i].path = intern(s, r->ins[i].path);
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

/* Files and actions from rd, as the state file and the journal's records
 * hold them, over what s has; saved_ns: when they were written. */
static void decode_entries(struct state *s, struct reader *rd, int64_t saved_ns)
{
	size_t n = rd_u32(rd);
	if (n < (size_t)(rd->end - rd->p) / 40)
		map_reserve(&s->files, s->files.len + n);
	for (size_t i = 0; i < n && !rd->bad; i++) {
		size_t len;
		const char *p = rd_lstr(rd, &len);
		struct file_rec f = {0};
		stat_get(rd, &f.st);
		const void *d = rd_bytes(rd, 32);
		const unsigned char *ours = rd_bytes(rd, 1);
		if (!p || !d || !ours)
			break;
		f.ours = *ours;
		f.loaded = 1;
		f.racy = !f.ours && f.st.mtime_ns >= saved_ns - FS_RACY_NS;
		struct file_rec *fr = arena_alloc(&s->arena, sizeof *fr);
		*fr = f;
		fr->path = arena_strndup(&s->arena, p, len);
		memcpy(fr->d.b, d, 32);
		map_put(&s->files, fr->path, fr);
	}
	n = rd_u32(rd);
	if (n < (size_t)(rd->end - rd->p) / 80)
		map_reserve(&s->actions, s->actions.len + n);
	for (size_t i = 0; i < n && !rd->bad; i++) {
		size_t len;
		const char *p = rd_lstr(rd, &len);
		const void *key = rd_bytes(rd, 32), *cmd = rd_bytes(rd, 32);
		uint64_t ms = rd_u64(rd);
		size_t nouts = rd_u32(rd);
		const unsigned char *outs = rd_bytes(rd, nouts * 32);
		size_t nins = rd_u32(rd);
		if (!p || !key || !cmd || !outs || nins > (size_t)(rd->end - rd->p))
			break;
		struct arena *a = &s->arena;
		struct act_rec *r = arena_alloc(a, sizeof *r);
		memset(r, 0, sizeof *r);
		r->id = arena_strndup(a, p, len);
		memcpy(r->key.b, key, 32);
		memcpy(r->cmd.b, cmd, 32);
		r->ms = ms;
		r->nouts = nouts;
		r->outs = arena_alloc(a, (nouts ? nouts : 1) * sizeof *r->outs);
		memcpy(r->outs, outs, nouts * 32);
		r->ins = arena_alloc(a, (nins ? nins : 1) * sizeof *r->ins);
		for (size_t j = 0; j < nins; j++) {
			const char *ip = rd_lstr(rd, &len);
			uint64_t d64 = rd_u64(rd);
			if (!ip)
				break;
			r->ins[j].path = arena_strndup(a, ip, len);
			r->ins[j].d64 = d64;
			r->nins = j + 1;
		}
		map_put(&s->actions, r->id, r);
	}
}

static int decode(struct state *s, const struct buf *b)
{
	struct reader rd;
	if (frame_open(b, ST_MAGIC, ST_VERSION, &rd) < 0)
		return -1;
	int64_t saved_ns = (int64_t)rd_u64(&rd);
	decode_entries(s, &rd, saved_ns);
	if (rd.bad || rd.p != rd.end)
		return -1;
	s->base_ns = saved_ns;
	s->base_len = b->len;
	return 0;
}

/* Forget path's file and action (state_forget's work). */
static int forget(struct state *s, const char *path)
{
	int any = 0;
	if (map_get(&s->files, path)) {
		map_put(&s->files, map_key(&s->files, path), NULL);
		any = 1;
	}
	if (map_get(&s->actions, path)) {
		map_put(&s->actions, map_key(&s->actions, path), NULL);
		any = 1;
	}
	return any;
}

/* The journal's records that follow the state file, over s: up to the
 * first that is torn, damaged or for another state file. */
static void replay(struct state *s, const struct buf *b)
{
	const unsigned char *start = (const unsigned char *)b->s;
	struct reader all = {start, start + b->len, 0};
	while (all.p < all.end) {
		size_t n;
		const char *frame = rd_lstr(&all, &n); /* u32 length + frame */
		struct buf one = {.s = (char *)frame, .len = n};
		struct reader rd;
		if (!frame || frame_open(&one, JL_MAGIC, JL_VERSION, &rd) < 0 ||
		    (int64_t)rd_u64(&rd) != s->base_ns) {
			s->log_bad = 1;
			return;
		}
		int64_t saved_ns = (int64_t)rd_u64(&rd);
		decode_entries(s, &rd, saved_ns);
		size_t nf = rd_u32(&rd);
		for (size_t i = 0; i < nf && !rd.bad; i++) {
			size_t len;
			const char *fp = rd_lstr(&rd, &len);
			if (fp) {
				char *z = xstrndup(fp, len);
				forget(s, z);
				free(z);
			}
		}
		if (rd.bad || rd.p != rd.end) {
			s->log_bad = 1; /* what it held so far is sound: each entry is checked */
			return;
		}
		s->log_len = (size_t)(all.p - start);
	}
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
		goto log;
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
		goto out;
	} else if (r < 0) {
		*corrupt = damaged;
		goto out;
	}
log:
	buf_reset(&b);
	char *log = xasprintf("%s.log", path);
	if (fs->read(fs, log, &b) == 0)
		replay(s, &b);
	free(log);
out:
	buf_free(&b);
	return s;
}

static void put_file_rec(struct buf *b, const struct file_rec *f)
{
	buf_put_lstr(b, f->path, strlen(f->path));
	stat_put(b, &f->st);
	buf_putn(b, f->d.b, 32);
	buf_putc(b, (char)f->ours);
}

static void put_act_rec(struct buf *b, const struct act_rec *r)
{
	buf_put_lstr(b, r->id, strlen(r->id));
	buf_putn(b, r->key.b, 32);
	buf_putn(b, r->cmd.b, 32);
	buf_put_u64(b, r->ms);
	buf_put_u32(b, (unsigned)r->nouts);
	buf_putn(b, r->outs, r->nouts * 32);
	buf_put_u32(b, (unsigned)r->nins);
	for (size_t j = 0; j < r->nins; j++) {
		buf_put_lstr(b, r->ins[j].path, strlen(r->ins[j].path));
		buf_put_u64(b, r->ins[j].d64);
	}
}

/* Where a whole state goes as it is made: in pieces of SAVE_PIECE bytes,
 * so that a save never holds all of it (4 MB at 10k actions, on top of
 * the build's peak); or, with tmp NULL, only counted. */
enum { SAVE_PIECE = 256 << 10 };

struct saver {
	struct fsys *fs;
	const char *tmp;              /* the file written, or NULL */
	size_t total;                 /* bytes counted or written */
	struct check64_state ck;      /* over them */
	int started, failed;
};

/* The bytes in b, once there are SAVE_PIECE of them (or at the last),
 * counted or written; b emptied. */
static void piece(struct saver *sv, struct buf *b, int last)
{
	if (!sv || (!last && b->len < SAVE_PIECE))
		return;
	if (sv->tmp && !sv->failed) {
		check64_add(&sv->ck, b->s, b->len);
		int rc = sv->started ? sv->fs->append(sv->fs, sv->tmp, b->s, b->len)
		                     : sv->fs->write(sv->fs, sv->tmp, b->s, b->len, 0644);
		sv->started = 1;
		sv->failed = rc < 0;
	}
	sv->total += b->len;
	buf_reset(b);
}

/* The entries, all of them or only those changed since the last load or
 * save; the forgotten paths after them when changed_only. With sv, b is
 * handed to it after each entry. */
static void put_entries(struct buf *b, const struct state *s, int changed_only, struct saver *sv)
{
	size_t nf = 0, na = 0, ng = 0;
	for (size_t i = 0; i < s->files.cap; i++) {
		const struct file_rec *f = s->files.slots[i].val;
		nf += f && (!changed_only || !f->loaded);
		ng += s->files.slots[i].key && !f;
	}
	for (size_t i = 0; i < s->actions.cap; i++) {
		const struct act_rec *r = s->actions.slots[i].val;
		na += r && (!changed_only || r->fresh);
		ng += s->actions.slots[i].key && !r;
	}
	buf_put_u32(b, (unsigned)nf);
	for (size_t i = 0; i < s->files.cap; i++) {
		const struct file_rec *f = s->files.slots[i].val;
		if (f && (!changed_only || !f->loaded)) {
			put_file_rec(b, f);
			piece(sv, b, 0);
		}
	}
	buf_put_u32(b, (unsigned)na);
	for (size_t i = 0; i < s->actions.cap; i++) {
		const struct act_rec *r = s->actions.slots[i].val;
		if (r && (!changed_only || r->fresh)) {
			put_act_rec(b, r);
			piece(sv, b, 0);
		}
	}
	if (!changed_only)
		return;
	/* forgotten records stay in the maps with a NULL value */
	buf_put_u32(b, (unsigned)ng);
	for (size_t i = 0; i < s->files.cap; i++)
		if (s->files.slots[i].key && !s->files.slots[i].val)
			buf_put_lstr(b, s->files.slots[i].key, strlen(s->files.slots[i].key));
	for (size_t i = 0; i < s->actions.cap; i++)
		if (s->actions.slots[i].key && !s->actions.slots[i].val)
			buf_put_lstr(b, s->actions.slots[i].key, strlen(s->actions.slots[i].key));
}

/* After a save at saved_ns: every entry as a load of it would give. */
static void mark_saved(struct state *s, int64_t saved_ns)
{
	for (size_t i = 0; i < s->files.cap; i++) {
		struct file_rec *f = s->files.slots[i].val;
		if (f && !f->loaded) {
			f->loaded = 1;
			f->racy = !f->ours && f->st.mtime_ns >= saved_ns - FS_RACY_NS;
		}
	}
	for (size_t i = 0; i < s->actions.cap; i++) {
		struct act_rec *r = s->actions.slots[i].val;
		if (r)
			r->fresh = 0;
	}
	s->dirty = 0;
}

/* Append what changed to the journal: 0, or -1 when the state should be
 * written whole instead (or the append failed: nothing is lost, the
 * whole state follows). */
static int save_log(struct state *s, const char *path, struct fsys *fs, int64_t now)
{
	if (!s->base_ns || s->log_bad)
		return -1;
	struct buf f = {0}, b = {0};
	frame_begin(&f, JL_MAGIC, JL_VERSION);
	buf_put_u64(&f, (uint64_t)s->base_ns);
	buf_put_u64(&f, (uint64_t)now);
	put_entries(&f, s, 1, NULL);
	frame_seal(&f);
	buf_put_lstr(&b, f.s, f.len); /* u32 length + frame */
	buf_free(&f);
	int rc = -1;
	if (s->log_len + b.len <= s->base_len / 2) {
		char *log = xasprintf("%s.log", path);
		rc = fs->append(fs, log, b.s, b.len);
		free(log);
		if (rc == 0)
			s->log_len += b.len;
		else
			s->log_bad = 1; /* a part may be there: the next save writes anew */
	}
	buf_free(&b);
	return rc;
}

int state_save(struct state *s, const char *path, struct fsys *fs)
{
	if (!s->dirty)
		return 0;
	int64_t now = fs->now(fs);
	if (save_log(s, path, fs, now) == 0) {
		mark_saved(s, now);
		return 0;
	}
	/* written whole in pieces to PATH.tmp: once counted, for the
	 * checksum's length, then made again and written */
	char *tmp = xasprintf("%s.tmp", path);
	struct buf b = {0};
	struct saver sv = {.fs = fs};
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			size_t n = sv.total;
			sv = (struct saver){.fs = fs, .tmp = tmp};
			check64_begin(&sv.ck, n);
			fs->remove(fs, tmp);
		}
		frame_begin(&b, ST_MAGIC, ST_VERSION);
		buf_put_u64(&b, (uint64_t)now);
		put_entries(&b, s, 0, &sv);
		piece(&sv, &b, 1);
	}
	buf_put_u64(&b, check64_end(&sv.ck));
	int rc = sv.failed || fs->append(fs, tmp, b.s, b.len) < 0 ? -1 : 0;
	size_t len = sv.total + b.len;
	/* ext4 flushes a file renamed over another one (auto_da_alloc): for
	 * 4 MB that is 5 ms of a 70 ms build. The old state moves aside first,
	 * so the new one lands on a free name; a kill between the two renames
	 * leaves the old one, which state_load reads (an older state is as
	 * safe as any: every entry is checked against the file's stat data).
	 * The journal then follows the old one; once the new one is in, it
	 * follows nothing and goes. */
	char *old = xasprintf("%s.old", path), *log = xasprintf("%s.log", path);
	if (rc == 0) {
		fs->remove(fs, old);
		rc = fs->rename(fs, path, old) < 0 && errno != ENOENT ? -1 : 0;
	}
	if (rc == 0)
		rc = fs->rename(fs, tmp, path);
	if (rc < 0)
		fs->remove(fs, tmp);
	if (rc == 0 && fs->remove(fs, log) < 0)
		rc = -1;
	if (rc == 0) {
		s->base_ns = now;
		s->base_len = len;
		s->log_len = 0;
		s->log_bad = 0;
		mark_saved(s, now);
	}
	free(old);
	free(log);
	free(tmp);
	buf_free(&b);
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
	int racy = f && f->loaded && f->racy;
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
	if (forget(s, path))
		s->dirty = 1;
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
	c->fresh = 1;
	map_put(&s->actions, c->id, c);
	act_rec_free(r);
	s->dirty = 1;
}
