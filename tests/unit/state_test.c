/* Unit tests of the workspace state (state.c): save/load round trip,
 * damaged files loading as empty, and the stat cache seen through a fake
 * `struct fsys` that counts how often it hashes. */
#include "memfs.h"
#include "store/state.h"
#include "test.h"
#include <time.h>
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fake file system: a few files with stat data set by the test; the
 * "content" digest is the SHA-256 of the text field. */
struct fake_file {
	const char *path;
	struct file_stat st;
	const char *text;
};

struct fake_fs {
	struct fsys base; /* first */
	struct fake_file files[4];
	size_t nfiles;
	int nstat, nhash;
};

static struct fake_file *fake_find(struct fake_fs *f, const char *path)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (!strcmp(f->files[i].path, path))
			return &f->files[i];
	return NULL;
}

static int fake_stat(struct fsys *fs, const char *path, struct file_stat *st)
{
	struct fake_fs *f = (struct fake_fs *)fs;
	struct fake_file *ff = fake_find(f, path);
	f->nstat++;
	if (!ff) {
		errno = ENOENT;
		return -1;
	}
	*st = ff->st;
	return 0;
}

static int fake_hash(struct fsys *fs, const char *path, struct digest *d)
{
	struct fake_fs *f = (struct fake_fs *)fs;
	struct fake_file *ff = fake_find(f, path);
	f->nhash++;
	if (!ff) {
		errno = ENOENT;
		return -1;
	}
	sha_buf(ff->text, strlen(ff->text), d);
	return 0;
}

static void fake_init(struct fake_fs *f)
{
	memset(f, 0, sizeof *f);
	f->base.stat = fake_stat;
	f->base.hash = fake_hash;
	struct fake_file a = {"src/a.c", {10, 1000, 1000, 42, 0100644}, "int a;"};
	struct fake_file b = {"src/b.c", {20, 2000, 2000, 43, 0100644}, "int b;"};
	f->files[0] = a;
	f->files[1] = b;
	f->nfiles = 2;
}

static struct act_rec *make_rec(const char *id, const char *seed, uint64_t ms)
{
	struct act_rec *r = xcalloc(1, sizeof *r);
	r->id = xstrdup(id);
	sha_buf(seed, strlen(seed), &r->key);
	sha_buf(id, strlen(id), &r->cmd);
	r->ms = ms;
	r->nouts = 2;
	r->outs = xcalloc(2, sizeof *r->outs);
	sha_buf("o1", 2, &r->outs[0]);
	sha_buf("o2", 2, &r->outs[1]);
	r->nins = 2;
	r->ins = xcalloc(2, sizeof *r->ins);
	r->ins[0].path = xstrdup("src/a.c");
	r->ins[0].d64 = 0x0123456789abcdefull;
	r->ins[1].path = xstrdup("src/b.c");
	r->ins[1].d64 = 7;
	return r;
}

TEST(state_digest_uses_stat_cache)
{
	struct fake_fs f;
	fake_init(&f);
	int corrupt = 1;
	struct state *s = state_load("/nonexistent/cairn/state", fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	struct digest d1, d2, want;
	CHECK(state_digest(s, &f.base, "src/a.c", &d1) == 0);
	CHECK(f.nhash == 1);
	sha_buf("int a;", 6, &want);
	CHECK(digest_eq(&d1, &want));
	/* unchanged stat data: answered from the cache */
	CHECK(state_digest(s, &f.base, "src/a.c", &d2) == 0);
	CHECK(f.nhash == 1 && digest_eq(&d1, &d2));
	/* a new mtime: hashed again, and the new content is seen */
	f.files[0].st.mtime_ns = 5000;
	f.files[0].text = "int a = 1;";
	CHECK(state_digest(s, &f.base, "src/a.c", &d2) == 0);
	CHECK(f.nhash == 2 && !digest_eq(&d1, &d2));
	CHECK(state_digest(s, &f.base, "src/a.c", &d2) == 0);
	CHECK(f.nhash == 2);
	/* any other field of the stat data counts as well */
	f.files[0].st.ino = 99;
	CHECK(state_digest(s, &f.base, "src/a.c", &d2) == 0 && f.nhash == 3);
	f.files[0].st.size = 11;
	CHECK(state_digest(s, &f.base, "src/a.c", &d2) == 0 && f.nhash == 4);
	/* a missing file is an error, not a cached answer */
	CHECK(state_digest(s, &f.base, "src/none.c", &d2) == -1);
	/* state_remember fills the cache without hashing */
	sha_buf("int b;", 6, &want);
	state_remember(s, &f.base, "src/b.c", &want, OUT_ACTION);
	CHECK(state_digest(s, &f.base, "src/b.c", &d2) == 0);
	CHECK(f.nhash == 4 && digest_eq(&d2, &want));
	state_free(s);
}

/* A new temp directory (*dir) and the empty state to be saved at
 * <dir>/state (*path). */
static struct state *new_state(char **dir, char **path, int *corrupt)
{
	*dir = test_tmpdir();
	*path = xasprintf("%s/state", *dir);
	return state_load(*path, fsys_real(), corrupt);
}

TEST(state_save_load_round_trip)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	struct fake_fs f;
	fake_init(&f);
	struct digest da, db;
	CHECK(state_digest(s, &f.base, "src/a.c", &da) == 0);
	CHECK(state_digest(s, &f.base, "src/b.c", &db) == 0);
	state_set_action(s, make_rec("out/x", "k1", 1234));
	state_set_action(s, make_rec("out/y", "k2", 5));
	/* a later record replaces the earlier one */
	state_set_action(s, make_rec("out/y", "k3", 6));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);

	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	struct act_rec *r = state_action(s, "out/x"), *want = make_rec("out/x", "k1", 1234);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->id, "out/x");
		CHECK(digest_eq(&r->key, &want->key) && digest_eq(&r->cmd, &want->cmd));
		CHECK(r->ms == 1234);
		CHECK(r->nouts == 2 && digest_eq(&r->outs[0], &want->outs[0]) &&
		      digest_eq(&r->outs[1], &want->outs[1]));
		CHECK(r->nins == 2);
		if (r->nins == 2) {
			CHECK_STR(r->ins[0].path, "src/a.c");
			CHECK(r->ins[0].d64 == 0x0123456789abcdefull);
			CHECK_STR(r->ins[1].path, "src/b.c");
			CHECK(r->ins[1].d64 == 7);
		}
	}
	act_rec_free(want);
	r = state_action(s, "out/y");
	want = make_rec("out/y", "k3", 6);
	CHECK(r && r->ms == 6 && digest_eq(&r->key, &want->key));
	act_rec_free(want);
	CHECK(state_action(s, "out/z") == NULL);
	/* the stat cache survived: no hashing for unchanged files */
	struct digest d;
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && digest_eq(&d, &da));
	CHECK(state_digest(s, &f.base, "src/b.c", &d) == 0 && digest_eq(&d, &db));
	CHECK(f.nhash == 2);
	state_free(s);
	fs_rm_rf(dir);
	free(path);
	free(dir);
}

/* A save moves the old state aside, then renames the new one in: killed
 * in between, the old one is what the next run loads. */
TEST(state_killed_between_renames_loads_the_old_one)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	char *old = xasprintf("%s/state.old", dir);
	state_set_action(s, make_rec("out/x", "k1", 1));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_set_action(s, make_rec("out/x", "k2", 2));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	/* both are there after a save: the new one is read */
	CHECK(access(old, F_OK) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_action(s, "out/x") && state_action(s, "out/x")->ms == 2);
	state_free(s);
	/* the kill: state.old is the previous save, state is gone */
	CHECK(unlink(path) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	CHECK(state_action(s, "out/x") && state_action(s, "out/x")->ms == 1);
	/* and the next save puts things right */
	state_set_action(s, make_rec("out/x", "k3", 3));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_action(s, "out/x") && state_action(s, "out/x")->ms == 3);
	state_free(s);
	/* a damaged state (cut short by a power loss, say) gives way to the
	 * one before it too */
	s = state_load(path, fsys_real(), &corrupt);
	state_set_action(s, make_rec("out/x", "k4", 4));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	CHECK(fs_write_atomic(path, "CAIRNST", 7, 0644) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	CHECK(state_action(s, "out/x") && state_action(s, "out/x")->ms == 3);
	state_free(s);
	/* and when both are damaged, the state starts empty, said so */
	CHECK(fs_write_atomic(old, "junk", 4, 0644) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 1 && state_action(s, "out/x") == NULL);
	state_free(s);
	fs_rm_rf(dir);
	free(path);
	free(old);
	free(dir);
}

/* Rewrite the SHA-256 trailer so only the deliberate damage remains. */
static void fix_trailer(struct buf *b)
{
	struct digest t;
	sha_buf(b->s, b->len - 32, &t);
	memcpy(b->s + b->len - 32, t.b, 32);
}

TEST(state_damaged_file_loads_empty)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	char *bad = xasprintf("%s/bad", dir);
	struct fake_fs f;
	fake_init(&f);
	struct digest d;
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0);
	state_set_action(s, make_rec("out/x", "k1", 10));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	struct buf good = {0};
	CHECK(fs_read_all(path, &good) == 0);
	CHECK(good.len > 8 + 4 + 32);

	for (int kind = 0; kind < 6; kind++) {
		struct buf b = {0};
		buf_putn(&b, good.s, good.len);
		switch (kind) {
		case 0: b.len -= 1; break;              /* truncated by one byte */
		case 1: b.len = 30; break;              /* truncated in the header */
		case 2: b.s[b.len / 2] ^= 0x10; break;  /* flipped bit, trailer stale */
		case 3: b.s[0] = 'X'; fix_trailer(&b); break; /* foreign magic */
		case 4: b.s[8] = 2; fix_trailer(&b); break;   /* unknown version */
		case 5: b.len = 0; break;               /* empty file */
		}
		CHECK(fs_write_atomic(bad, b.s, b.len, 0644) == 0);
		buf_free(&b);
		corrupt = 0;
		s = state_load(bad, fsys_real(), &corrupt);
		if (!corrupt)
			fprintf(stderr, "  damage kind %d not reported\n", kind);
		CHECK(corrupt == 1);
		CHECK(state_action(s, "out/x") == NULL);
		/* empty: the stat cache knows nothing, so the file is hashed */
		int before = f.nhash;
		CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == before + 1);
		state_free(s);
	}
	/* the good file still loads */
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0 && state_action(s, "out/x") != NULL);
	state_free(s);
	buf_free(&good);
	fs_rm_rf(dir);
	free(bad);
	free(path);
	free(dir);
}

/* A source whose mtime is within a tick of the save may have changed again
 * unseen: the next run hashes it again rather than trusting its stat data.
 * An output cairn wrote itself is trusted. */
TEST(state_racy_entries_are_hashed_again)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	struct fake_fs f;
	fake_init(&f);
	struct digest d;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* modified "just now", as far as the save will see */
	f.files[0].st.mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == 1);
	struct digest out;
	sha_buf("int b;", 6, &out);
	f.files[1].st.mtime_ns = f.files[0].st.mtime_ns;
	state_remember(s, &f.base, "src/b.c", &out, OUT_ACTION);
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == 2); /* racy */
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == 2); /* then trusted */
	CHECK(state_digest(s, &f.base, "src/b.c", &d) == 0 && f.nhash == 2); /* ours */
	/* an old mtime is never racy */
	f.files[0].st.mtime_ns = 1000;
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == 3);
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_digest(s, &f.base, "src/a.c", &d) == 0 && f.nhash == 3);
	state_free(s);
	fs_rm_rf(dir);
	free(path);
	free(dir);
}

/* The racy window by the clock alone, in memory: a file written within
 * FS_RACY_NS of the save is hashed again after it; once the clock has
 * moved past the window, a save trusts its stat data. */
TEST(state_racy_window_follows_the_clock)
{
	struct memfs m;
	memfs_init(&m);
	int corrupt;
	struct state *s = state_load("st", &m.base, &corrupt);
	struct digest d;
	memfs_put(&m, "a.c", "int a;"); /* its mtime: the clock now */
	CHECK(state_digest(s, &m.base, "a.c", &d) == 0 && m.nhash == 1);
	m.clock_ns += FS_RACY_NS - 1;   /* saved within the window */
	CHECK(state_save(s, "st", &m.base) == 0);
	state_free(s);
	s = state_load("st", &m.base, &corrupt);
	CHECK(corrupt == 0);
	CHECK(state_digest(s, &m.base, "a.c", &d) == 0 && m.nhash == 2); /* racy */
	m.clock_ns += FS_RACY_NS;       /* the next save is past it */
	CHECK(state_save(s, "st", &m.base) == 0);
	state_free(s);
	s = state_load("st", &m.base, &corrupt);
	CHECK(state_digest(s, &m.base, "a.c", &d) == 0 && m.nhash == 2); /* trusted */
	/* a change with the same stat data is what the window guards
	 * against: an edit in the same tick, then a save at that moment */
	memfs_put(&m, "b.c", "1");
	CHECK(state_digest(s, &m.base, "b.c", &d) == 0 && m.nhash == 3);
	CHECK(state_save(s, "st", &m.base) == 0);
	state_free(s);
	s = state_load("st", &m.base, &corrupt);
	CHECK(state_digest(s, &m.base, "b.c", &d) == 0 && m.nhash == 4); /* not trusted */
	state_free(s);
	memfs_free(&m);
}

/* n actions "out/0".."out/n-1", each with seed "k" */
static void fill(struct state *s, int n, const char *seed)
{
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof id, "out/%d", i);
		state_set_action(s, make_rec(id, seed, (uint64_t)i));
	}
}

/* A save that changed a few records appends them to state.log and leaves
 * the state file as it was; a load reads both, in order; forgetting is
 * journaled too; past half the state's size the state is written whole
 * and the journal goes. */
TEST(state_journal_appends_changes_and_compacts)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	char *log = xasprintf("%s.log", path), *old = xasprintf("%s.old", path);
	fill(s, 200, "k");
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	struct stat base, st;
	CHECK(stat(path, &base) == 0);
	CHECK(access(log, F_OK) < 0);
	/* three commands, each changing one record (and one forgetting) */
	for (int round = 0; round < 3; round++) {
		s = state_load(path, fsys_real(), &corrupt);
		CHECK(corrupt == 0);
		char id[32], seed[32];
		snprintf(id, sizeof id, "out/%d", round);
		snprintf(seed, sizeof seed, "k%d", round);
		state_set_action(s, make_rec(id, seed, 1000 + (uint64_t)round));
		if (round == 2)
			state_forget(s, "out/199");
		CHECK(state_save(s, path, fsys_real()) == 0);
		state_free(s);
		CHECK(stat(path, &st) == 0 && st.st_ino == base.st_ino && st.st_size == base.st_size);
		CHECK(access(old, F_OK) < 0);
	}
	CHECK(stat(log, &st) == 0 && st.st_size > 0 && st.st_size < base.st_size / 4);
	s = state_load(path, fsys_real(), &corrupt);
	for (int round = 0; round < 3; round++) {
		char id[32];
		snprintf(id, sizeof id, "out/%d", round);
		struct act_rec *r = state_action(s, id);
		CHECK(r && r->ms == 1000 + (uint64_t)round);
	}
	CHECK(state_action(s, "out/3") && state_action(s, "out/3")->ms == 3);
	CHECK(state_action(s, "out/199") == NULL);
	/* many changes: the journal would pass half the state, so the state
	 * is written whole and the journal removed */
	fill(s, 150, "other");
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	CHECK(access(log, F_OK) < 0);
	CHECK(stat(path, &st) == 0 && st.st_ino != base.st_ino);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_action(s, "out/0") && state_action(s, "out/0")->ms == 0);
	CHECK(state_action(s, "out/150") && state_action(s, "out/150")->ms == 150);
	CHECK(state_action(s, "out/199") == NULL);
	state_free(s);
	fs_rm_rf(dir);
	free(log);
	free(old);
	free(path);
	free(dir);
}

/* A torn last record (a kill mid-append) is dropped, the records before
 * it kept, and the next save writes the state whole; a journal that
 * follows another state file is ignored. */
TEST(state_journal_torn_or_foreign_is_never_taken)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	char *log = xasprintf("%s.log", path);
	fill(s, 200, "k");
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	for (int round = 0; round < 2; round++) {
		s = state_load(path, fsys_real(), &corrupt);
		state_set_action(s, make_rec(round ? "out/1" : "out/0", "new", 5000));
		CHECK(state_save(s, path, fsys_real()) == 0);
		state_free(s);
	}
	struct stat st;
	CHECK(stat(log, &st) == 0);
	/* cut the second record short */
	CHECK(truncate(log, st.st_size - 10) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(corrupt == 0);
	CHECK(state_action(s, "out/0") && state_action(s, "out/0")->ms == 5000);
	CHECK(state_action(s, "out/1") && state_action(s, "out/1")->ms == 1);
	state_set_action(s, make_rec("out/2", "new", 5000));
	CHECK(state_save(s, path, fsys_real()) == 0); /* whole: never after a torn record */
	state_free(s);
	CHECK(access(log, F_OK) < 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_action(s, "out/0") && state_action(s, "out/0")->ms == 5000);
	CHECK(state_action(s, "out/2") && state_action(s, "out/2")->ms == 5000);
	/* a journal for the state file before this one */
	state_set_action(s, make_rec("out/3", "new", 5000));
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	struct buf keep = {0};
	CHECK(fs_read_all(log, &keep) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	fill(s, 150, "other"); /* written whole: a new state file */
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	CHECK(fs_write_atomic(log, keep.s, keep.len, 0644) == 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(state_action(s, "out/3") && state_action(s, "out/3")->ms == 3);
	state_free(s);
	buf_free(&keep);
	fs_rm_rf(dir);
	free(log);
	free(path);
	free(dir);
}

/* A state of more than one piece (256 KiB) written whole comes back the
 * same, and leaves no temp file. */
TEST(state_saved_in_pieces_loads_back)
{
	char *dir, *path;
	int corrupt;
	struct state *s = new_state(&dir, &path, &corrupt);
	char *tmp = xasprintf("%s.tmp", path);
	fill(s, 3000, "piece");
	CHECK(state_save(s, path, fsys_real()) == 0);
	state_free(s);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size > 256 * 1024);
	CHECK(lstat(tmp, &st) < 0);
	s = state_load(path, fsys_real(), &corrupt);
	CHECK(!corrupt);
	const struct act_rec *r = state_action(s, "out/2999");
	CHECK(r && r->ms == 2999 && r->nins == 2 && !strcmp(r->ins[1].path, "src/b.c"));
	CHECK(state_action(s, "out/0") != NULL);
	state_free(s);
	fs_rm_rf(dir);
	free(path);
	free(tmp);
	free(dir);
}
