/* Unit tests of the graph snapshot (graph/snapshot.c): a round trip gives
 * the same graph; each kind of dependency turns into a miss exactly when
 * what evaluation saw has changed; the per-directory shortcut of the
 * existence probes never hides a change; damaged files are a miss that
 * leaves the graph empty. Each test works in a fresh workspace it chdirs
 * into, on the real file system. */
#include "graph/snapshot.h"
#include "test.h"
#include "util/fs.h"
#include "util/util.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAP ".cairn/graph"
#define KEY "cairn 0.1\n//..."
#define L(...) ((const char *[]){__VA_ARGS__})
#define N(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

struct ws {
	char *dir;
	int oldcwd;
};

static void ws_enter(struct ws *w)
{
	w->dir = test_tmpdir();
	w->oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(w->oldcwd >= 0 && chdir(w->dir) == 0);
	CHECK(mkdir(".cairn", 0777) == 0);
}

static void ws_leave(struct ws *w)
{
	CHECK(fchdir(w->oldcwd) == 0);
	close(w->oldcwd);
	fs_rm_rf(w->dir);
	free(w->dir);
}

/* Write a file, its mtime a second back: snapshot_save keeps no snapshot
 * of build files modified within a timestamp tick of the save. */
static void put(const char *path, const char *text)
{
	CHECK(fs_mkdir_parent(path) == 0);
	CHECK(fs_write_atomic(path, text, strlen(text), 0644) == 0);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct timespec ts[2] = {{now.tv_sec - 1, now.tv_nsec}, {now.tv_sec - 1, now.tv_nsec}};
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void mkdirs(const char *path)
{
	CHECK(fs_mkdir_p(path) == 0);
}

/* An mtime in the past, so that the next change to path moves it even
 * within one tick of the file system's clock. */
static void age(const char *path)
{
	struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
	CHECK(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static void set_mtime_ns(const char *path, int64_t ns)
{
	struct timespec ts[2] = {{ns / 1000000000, ns % 1000000000},
	                         {ns / 1000000000, ns % 1000000000}};
	CHECK(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Wait (a tick at most) until the clock the kernel stamps ctime with has
 * passed ns, so that a change made now gets a later ctime even where
 * timestamps are coarse. Not a timing assertion: only a precondition. */
static void clock_past(int64_t ns)
{
	for (int i = 0; i < 1000; i++) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec > ns)
			return;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
}

/* A dependency as eval_note records it: for DEP_EXISTS, the parent
 * directory's stat data from before the probe. */
static struct snap_dep note(const char *path, enum dep_kind kind)
{
	struct snap_dep d = {.path = xstrdup(path), .kind = kind};
	if (kind == DEP_EXISTS) {
		const char *slash = strrchr(path, '/');
		char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
		d.dir_ok = fsys_real()->stat(fsys_real(), dir, &d.dir_st) == 0;
		free(dir);
	}
	snap_dep_probe(fsys_real(), &d);
	return d;
}

static void free_deps(struct snap_dep *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].path);
}

/* The graph every test saves: a compile with prunable headers and a
 * depfile, and a flaky test reading its output. */
static void build_graph(struct graph *g)
{
	struct err e = {0};
	struct action_spec cc = {
		.label = "//pkg:lib", .mnemonic = "CcCompile", .progress = "Compiling pkg/a.c",
		.where = "pkg/BUILD.lua:3",
		.argv = L("cc", "-c", "pkg/a.c", "-o", "cairn-out/pkg/a.o", "-MD", "-MF",
		          "cairn-out/pkg/a.d"),
		.argc = 8,
		.env = L("PATH=/usr/bin:/bin", "LANG=C"), .nenv = 2,
		.inputs = L("pkg/a.c", "tools/cc.cfg"), .ninputs = 2,
		.pinputs = L("pkg/a.h", "inc/b.h"), .npinputs = 2,
		.depfile = "cairn-out/pkg/a.d",
		.outputs = L("cairn-out/pkg/a.o", "cairn-out/pkg/a.d"), .noutputs = 2,
		.flags = ACT_NO_SANDBOX | ACT_NETWORK,
	};
	CHECK(graph_add_action(g, &cc, &e) != NULL);
	struct action_spec t = {
		.label = "//pkg:t", .mnemonic = "Test", .where = "pkg/BUILD.lua:9",
		.argv = L("sh", "-c", "run $1", "arg with space"), .argc = 4,
		.inputs = L("cairn-out/pkg/a.o"), .ninputs = 1,
		.outputs = L("cairn-out/pkg/t.xml", "cairn-out/pkg/t.log"), .noutputs = 2,
		.flags = ACT_TEST | ACT_FLAKY,
	};
	CHECK(graph_add_action(g, &t, &e) != NULL);
	CHECK(e.msg == NULL);
	err_clear(&e);
	graph_request(g, graph_file(g, "cairn-out/pkg/t.log"));
	graph_request(g, graph_file(g, "cairn-out/pkg/a.o"));
	graph_add_test(g, "//pkg:t", "cairn-out/pkg/t", 1);
	graph_add_test(g, "//pkg:u", "cairn-out/pkg/u", 3);
}

static int str_same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Every field the snapshot stores is equal in a and b. */
static void check_same_graph(const struct graph *a, const struct graph *b)
{
	CHECK(a->nfiles == b->nfiles);
	for (size_t i = 0; i < a->nfiles && i < b->nfiles; i++) {
		CHECK_STR(a->files[i]->path, b->files[i]->path);
		CHECK(b->files[i]->id == i);
		CHECK((a->files[i]->producer == NULL) == (b->files[i]->producer == NULL));
		if (a->files[i]->producer && b->files[i]->producer)
			CHECK(a->files[i]->producer->id == b->files[i]->producer->id);
	}
	CHECK(a->nactions == b->nactions);
	for (size_t i = 0; i < a->nactions && i < b->nactions; i++) {
		const struct action *x = a->actions[i], *y = b->actions[i];
		CHECK(y->id == i);
		CHECK_STR(x->label, y->label);
		CHECK_STR(x->mnemonic, y->mnemonic);
		CHECK(str_same(x->progress, y->progress));
		CHECK_STR(x->where, y->where);
		CHECK(x->argc == y->argc);
		for (size_t j = 0; j < x->argc && j < y->argc; j++)
			CHECK_STR(x->argv[j], y->argv[j]);
		CHECK(x->nenv == y->nenv);
		for (size_t j = 0; j < x->nenv && j < y->nenv; j++)
			CHECK_STR(x->env[j], y->env[j]);
		CHECK(x->ninputs == y->ninputs);
		for (size_t j = 0; j < x->ninputs && j < y->ninputs; j++) {
			CHECK_STR(x->inputs[j]->path, y->inputs[j]->path);
			CHECK(x->prunable[j] == y->prunable[j]);
		}
		CHECK(x->noutputs == y->noutputs);
		for (size_t j = 0; j < x->noutputs && j < y->noutputs; j++) {
			CHECK_STR(x->outputs[j]->path, y->outputs[j]->path);
			CHECK(y->outputs[j]->producer == y);
		}
		CHECK(x->flags == y->flags);
		CHECK(str_same(x->depfile, y->depfile));
	}
	CHECK(a->nrequested == b->nrequested);
	for (size_t i = 0; i < a->nrequested && i < b->nrequested; i++)
		CHECK_STR(a->requested[i]->path, b->requested[i]->path);
	CHECK(a->ntests == b->ntests);
	for (size_t i = 0; i < a->ntests && i < b->ntests; i++) {
		CHECK_STR(a->tests[i].label, b->tests[i].label);
		CHECK_STR(a->tests[i].base, b->tests[i].base);
		CHECK(a->tests[i].shards == b->tests[i].shards);
	}
}

/* Save the standard graph with deps (probed now, as eval_note would). */
static void save(struct snap_dep *deps, size_t n)
{
	struct graph g = {0};
	build_graph(&g);
	CHECK(snapshot_save(SNAP, KEY, &g, deps, n, NULL, fsys_real()) == 0);
	graph_free(&g);
}

/* Load SNAP through fs: 1 on a hit (checked equal to the standard graph),
 * 0 on a miss (checked to leave the graph empty). */
static int load_with(struct fsys *fs, const char *key)
{
	struct graph g = {0};
	int r = snapshot_load(SNAP, key, fs, &g, NULL);
	if (r == 1) {
		struct graph want = {0};
		build_graph(&want);
		check_same_graph(&want, &g);
		graph_free(&want);
	} else {
		CHECK(r == 0);
		CHECK(g.nactions == 0 && g.nfiles == 0 && g.nrequested == 0 && g.ntests == 0);
	}
	graph_free(&g);
	return r;
}

static int load(void)
{
	return load_with(fsys_real(), KEY);
}

/* An fsys that counts the stat calls per path (first paths only). */
struct count_fs {
	struct fsys fs;
	const char *paths[64];
	size_t n;
};

static int count_stat(struct fsys *fs, const char *path, struct file_stat *st)
{
	struct count_fs *c = (struct count_fs *)fs;
	if (c->n < 64)
		c->paths[c->n++] = xstrdup(path);
	return fsys_real()->stat(fsys_real(), path, st);
}

static int statted(const struct count_fs *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->paths[i], path))
			return 1;
	return 0;
}

static void count_reset(struct count_fs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free((char *)c->paths[i]);
	c->n = 0;
}

TEST(snapshot_round_trip)
{
	struct ws w;
	ws_enter(&w);
	put("BUILD.lua", "-- root\n");
	put("pkg/BUILD.lua", "cc_library{}\n");
	put("pkg/a.c", "int a;\n");
	put("pkg/src/x.c", "int x;\n");
	put("tree/p/BUILD.lua", "\n");
	mkdirs("other");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_STAT),
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
		note("other/gone.h", DEP_EXISTS),
		note("nodir/x", DEP_EXISTS),
		note("BUILD.lua", DEP_EXISTS),
		note("pkg/src", DEP_LIST),
		note("tree", DEP_PKGLIST),
		note(".", DEP_PKGLIST),
	};
	size_t n = sizeof deps / sizeof *deps;
	CHECK(deps[0].present == 1 && deps[1].present == 1 && deps[2].present == 0);
	CHECK(deps[3].present == 0 && deps[4].present == 0 && deps[4].dir_ok == 0);
	CHECK(deps[6].present == 1 && deps[7].present == 1);
	save(deps, n);
	struct graph g = {0};
	CHECK(snapshot_load(SNAP, KEY, fsys_real(), &g, NULL) == 1);
	struct graph want = {0};
	build_graph(&want);
	check_same_graph(&want, &g);
	/* spot checks, in case both sides were built wrong the same way */
	CHECK(g.nactions == 2 && g.ntests == 2 && g.nrequested == 2);
	if (g.nactions == 2) {
		const struct action *a = g.actions[0];
		CHECK(a->ninputs == 4);
		for (size_t i = 0; i < a->ninputs; i++) {
			int pr = !strcmp(a->inputs[i]->path, "pkg/a.h") ||
			         !strcmp(a->inputs[i]->path, "inc/b.h");
			CHECK(a->prunable[i] == pr);
		}
		CHECK_STR(a->env[0], "LANG=C");
		CHECK_STR(a->depfile, "cairn-out/pkg/a.d");
		CHECK(a->flags == (ACT_NO_SANDBOX | ACT_NETWORK));
		CHECK(g.actions[1]->progress == NULL && g.actions[1]->depfile == NULL);
		CHECK_STR(g.actions[1]->argv[3], "arg with space");
		CHECK(g.actions[1]->flags == (ACT_TEST | ACT_FLAKY));
		CHECK_STR(g.requested[0]->path, "cairn-out/pkg/t.log");
		CHECK(g.tests[1].shards == 3);
	}
	graph_free(&want);
	graph_free(&g);
	/* it stays a hit: loading changes nothing */
	CHECK(load() == 1);
	free_deps(deps, n);
	ws_leave(&w);
}

TEST(snapshot_empty_graph_round_trip)
{
	struct ws w;
	ws_enter(&w);
	struct graph g = {0};
	CHECK(snapshot_save(SNAP, "", &g, NULL, 0, NULL, fsys_real()) == 0);
	CHECK(snapshot_load(SNAP, "", fsys_real(), &g, NULL) == 1);
	CHECK(g.nactions == 0 && g.nfiles == 0);
	graph_free(&g);
	ws_leave(&w);
}

TEST(snapshot_key_mismatch)
{
	struct ws w;
	ws_enter(&w);
	save(NULL, 0);
	CHECK(load_with(fsys_real(), KEY) == 1);
	CHECK(load_with(fsys_real(), "cairn 0.1\n//pkg:lib") == 0);
	CHECK(load_with(fsys_real(), KEY "x") == 0);    /* the key as a prefix */
	CHECK(load_with(fsys_real(), "cairn 0.1") == 0); /* a prefix of the key */
	CHECK(load_with(fsys_real(), "") == 0);
	ws_leave(&w);
}

TEST(snapshot_missing_file_is_miss)
{
	struct ws w;
	ws_enter(&w);
	struct graph g = {0};
	CHECK(snapshot_load(SNAP, KEY, fsys_real(), &g, NULL) == 0);
	CHECK(g.nactions == 0);
	graph_free(&g);
	ws_leave(&w);
}

TEST(snapshot_stat_touched)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "cc_library{}\n");
	age("pkg/BUILD.lua");
	struct snap_dep d = note("pkg/BUILD.lua", DEP_STAT);
	save(&d, 1);
	CHECK(load() == 1);
	set_mtime_ns("pkg/BUILD.lua", d.st.mtime_ns + 1000000000);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_stat_content_changed)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "cc_library{}\n");
	struct snap_dep d = note("pkg/BUILD.lua", DEP_STAT);
	save(&d, 1);
	CHECK(load() == 1);
	/* same mtime, different bytes written in place */
	int fd = open("pkg/BUILD.lua", O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	set_mtime_ns("pkg/BUILD.lua", d.st.mtime_ns);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_stat_removed)
{
	struct ws w;
	ws_enter(&w);
	put("BUILD.lua", "\n");
	struct snap_dep d = note("BUILD.lua", DEP_STAT);
	save(&d, 1);
	CHECK(load() == 1);
	CHECK(unlink("BUILD.lua") == 0);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

/* A file evaluation read through a symbolic link: a change of the file
 * the link points to is a change of what evaluation read. */
TEST(snapshot_stat_through_symlink)
{
	struct ws w;
	ws_enter(&w);
	put("shared/BUILD.lua", "cc_library{}\n");
	mkdirs("pkg");
	CHECK(symlink("../shared/BUILD.lua", "pkg/BUILD.lua") == 0);
	struct snap_dep d = note("pkg/BUILD.lua", DEP_STAT);
	CHECK(d.present == 1 && S_ISREG(d.st.mode));
	save(&d, 1);
	CHECK(load() == 1);
	put("shared/BUILD.lua", "cc_library{ name = 'changed' }\n");
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_exists_created_same_dir)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "\n");
	age("pkg");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
	};
	save(deps, 2);
	CHECK(load() == 1);
	put("pkg/missing.lua", "\n");
	CHECK(load() == 0);
	free_deps(deps, 2);
	ws_leave(&w);
}

TEST(snapshot_exists_removed)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "\n");
	age("pkg");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
	};
	save(deps, 2);
	CHECK(load() == 1);
	CHECK(unlink("pkg/BUILD.lua") == 0);
	CHECK(load() == 0);
	free_deps(deps, 2);
	ws_leave(&w);
}

TEST(snapshot_exists_file_becomes_dir)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/thing", "\n");
	age("pkg");
	struct snap_dep d = note("pkg/thing", DEP_EXISTS);
	CHECK(d.present == 1);
	save(&d, 1);
	CHECK(load() == 1);
	CHECK(unlink("pkg/thing") == 0 && mkdir("pkg/thing", 0777) == 0);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_exists_other_dirs)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "\n");
	mkdirs("other");
	age("pkg");
	age("other");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("other/gone.h", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
		note("nodir/x", DEP_EXISTS),
	};
	save(deps, 4);
	CHECK(load() == 1);
	/* a change in a directory nothing was probed in */
	put("unrelated/file", "\n");
	CHECK(load() == 1);
	/* the missing parent appears, the probed path is still absent */
	mkdirs("nodir");
	CHECK(load() == 1);
	put("nodir/x", "\n");
	CHECK(load() == 0);
	CHECK(unlink("nodir/x") == 0);
	CHECK(load() == 1);
	put("other/gone.h", "\n");
	CHECK(load() == 0);
	free_deps(deps, 4);
	ws_leave(&w);
}

TEST(snapshot_exists_dir_shortcut_used)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "\n");
	age("pkg");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
		note("pkg/missing2.lua", DEP_EXISTS),
	};
	save(deps, 3);
	struct count_fs c = {*fsys_real(), {0}, 0}; /* the real one, stat counted */
	c.fs.stat = count_stat;
	/* an unchanged directory: one stat for all its probes */
	CHECK(load_with(&c.fs, KEY) == 1);
	CHECK(statted(&c, "pkg"));
	CHECK(!statted(&c, "pkg/BUILD.lua") && !statted(&c, "pkg/missing.lua"));
	count_reset(&c);
	/* a changed directory: each probe is checked again */
	put("pkg/other", "\n");
	CHECK(load_with(&c.fs, KEY) == 1);
	CHECK(statted(&c, "pkg/BUILD.lua") && statted(&c, "pkg/missing.lua") &&
	      statted(&c, "pkg/missing2.lua"));
	count_reset(&c);
	free_deps(deps, 3);
	ws_leave(&w);
}

/* Creating the probed path and putting the directory's mtime back: the
 * directory's ctime still moved, the shortcut must not apply. */
TEST(snapshot_exists_dir_mtime_restored)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/BUILD.lua", "\n");
	age("pkg");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_EXISTS),
		note("pkg/missing.lua", DEP_EXISTS),
	};
	save(deps, 2);
	CHECK(load() == 1);
	clock_past(deps[0].dir_st.ctime_ns);
	put("pkg/missing.lua", "\n");
	set_mtime_ns("pkg", deps[0].dir_st.mtime_ns);
	CHECK(load() == 0);
	free_deps(deps, 2);
	ws_leave(&w);
}

/* Probes of one directory taken while it changed: the group's stat data
 * does not stand for all of them, so each is checked. Here the record
 * listed first saw the directory as it is now, the other saw it before
 * pkg/x was created, and recorded x as absent. */
TEST(snapshot_exists_mixed_dir_states)
{
	struct ws w;
	ws_enter(&w);
	mkdirs("pkg");
	age("pkg");
	struct snap_dep before = note("pkg/x", DEP_EXISTS);
	CHECK(before.present == 0);
	put("pkg/x", "\n");
	struct snap_dep after = note("pkg/y", DEP_EXISTS);
	CHECK(!stat_eq(&before.dir_st, &after.dir_st));
	struct snap_dep deps[] = {after, before};
	save(deps, 2);
	CHECK(load() == 0);
	free_deps(deps, 2);
	ws_leave(&w);
}

/* A probe whose parent is a symbolic link to a directory: an entry added
 * to the directory does not change the link. */
TEST(snapshot_exists_parent_is_symlink)
{
	struct ws w;
	ws_enter(&w);
	put("real/BUILD.lua", "\n");
	age("real");
	CHECK(symlink("real", "link") == 0);
	struct snap_dep deps[] = {
		note("link/BUILD.lua", DEP_EXISTS),
		note("link/missing.lua", DEP_EXISTS),
	};
	CHECK(deps[0].present == 1 && deps[1].present == 0);
	save(deps, 2);
	CHECK(load() == 1);
	put("real/missing.lua", "\n");
	CHECK(load() == 0);
	free_deps(deps, 2);
	ws_leave(&w);
}

/* A probe of a symbolic link counts what the link points to (a dangling
 * link is absent), which can change without touching the link's
 * directory. */
TEST(snapshot_exists_symlink_target_removed)
{
	struct ws w;
	ws_enter(&w);
	put("shared/defs.lua", "\n");
	mkdirs("pkg");
	CHECK(symlink("../shared/defs.lua", "pkg/defs.lua") == 0);
	age("pkg");
	struct snap_dep d = note("pkg/defs.lua", DEP_EXISTS);
	CHECK(d.present == 1);
	save(&d, 1);
	CHECK(load() == 1);
	CHECK(unlink("shared/defs.lua") == 0);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_list_changed)
{
	struct ws w;
	ws_enter(&w);
	put("pkg/src/a.c", "\n");
	put("pkg/src/b.c", "\n");
	struct snap_dep d = note("pkg/src", DEP_LIST);
	save(&d, 1);
	CHECK(load() == 1);
	/* contents of a listed file do not matter, names do */
	put("pkg/src/a.c", "int changed;\n");
	CHECK(load() == 1);
	/* a hidden directory is left out like the walks leave it out */
	mkdirs("pkg/src/.git");
	CHECK(load() == 1);
	put("pkg/src/c.c", "\n");
	CHECK(load() == 0);
	CHECK(unlink("pkg/src/c.c") == 0);
	CHECK(load() == 1);
	CHECK(rename("pkg/src/b.c", "pkg/src/b2.c") == 0);
	CHECK(load() == 0);
	CHECK(rename("pkg/src/b2.c", "pkg/src/b.c") == 0);
	CHECK(load() == 1);
	CHECK(unlink("pkg/src/b.c") == 0 && mkdir("pkg/src/b.c", 0777) == 0);
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_list_dir_appears)
{
	struct ws w;
	ws_enter(&w);
	struct snap_dep d = note("pkg/src", DEP_LIST);
	CHECK(d.present == 0);
	save(&d, 1);
	CHECK(load() == 1);
	mkdirs("pkg/src");
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_pkglist_files_vs_dirs)
{
	struct ws w;
	ws_enter(&w);
	put("tree/p/BUILD.lua", "\n");
	put("tree/readme.txt", "\n");
	struct snap_dep d = note("tree", DEP_PKGLIST);
	save(&d, 1);
	CHECK(load() == 1);
	put("tree/notes.txt", "\n");
	CHECK(load() == 1);
	mkdirs("tree/.hidden");
	CHECK(load() == 1);
	mkdirs("tree/q");
	CHECK(load() == 0);
	CHECK(rmdir("tree/q") == 0);
	CHECK(load() == 1);
	put("tree/BUILD.lua", "\n");
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

TEST(snapshot_pkglist_root_ignores_cairn_out)
{
	struct ws w;
	ws_enter(&w);
	put("p/BUILD.lua", "\n");
	struct snap_dep d = note(".", DEP_PKGLIST);
	save(&d, 1);
	CHECK(load() == 1);
	mkdirs("cairn-out/p");
	CHECK(load() == 1);
	mkdirs("q");
	CHECK(load() == 0);
	free(d.path);
	ws_leave(&w);
}

/* The snapshot's bytes, for the damage tests: the body, then a u64
 * check64 trailer. */
#define TRAILER 8

static void read_snap(struct buf *b)
{
	buf_reset(b);
	CHECK(fs_read_all(SNAP, b) == 0);
	CHECK(b->len > 8 + 4 + TRAILER);
}

static void write_snap(const void *p, size_t n)
{
	CHECK(fs_write_atomic(SNAP, p, n, 0644) == 0);
}

/* Write body (everything but the trailer) with a correct trailer, so that
 * only the body's own checks can reject it. */
static void write_resealed(const char *body, size_t n)
{
	struct buf b = {0};
	buf_putn(&b, body, n);
	buf_put_u64(&b, check64(body, n));
	write_snap(b.s, b.len);
	buf_free(&b);
}

static void save_standard(void)
{
	put("pkg/BUILD.lua", "\n");
	struct snap_dep deps[] = {
		note("pkg/BUILD.lua", DEP_STAT),
		note("pkg/missing.lua", DEP_EXISTS),
		note("pkg", DEP_LIST),
	};
	save(deps, 3);
	free_deps(deps, 3);
	CHECK(load() == 1);
}

TEST(snapshot_truncated)
{
	struct ws w;
	ws_enter(&w);
	save_standard();
	struct buf b = {0};
	read_snap(&b);
	size_t cuts[] = {b.len - 1, b.len - TRAILER, b.len / 2, 8 + 4 + TRAILER,
	                 8 + 4 + TRAILER - 1, 8, 0};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		write_snap(b.s, cuts[i]);
		CHECK(load() == 0);
	}
	write_snap(b.s, b.len);
	CHECK(load() == 1);
	buf_free(&b);
	ws_leave(&w);
}

TEST(snapshot_bit_flipped)
{
	struct ws w;
	ws_enter(&w);
	save_standard();
	struct buf b = {0};
	read_snap(&b);
	size_t at[] = {0, 7, 9, b.len / 3, b.len / 2, b.len - TRAILER - 1, b.len - 1};
	for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
		b.s[at[i]] ^= 0x10;
		write_snap(b.s, b.len);
		CHECK(load() == 0);
		b.s[at[i]] ^= 0x10;
	}
	write_snap(b.s, b.len);
	CHECK(load() == 1);
	buf_free(&b);
	ws_leave(&w);
}

TEST(snapshot_wrong_magic_or_version)
{
	struct ws w;
	ws_enter(&w);
	save_standard();
	struct buf b = {0};
	read_snap(&b);
	size_t body = b.len - TRAILER;
	/* resealed unchanged: still a hit (the resealing itself is right) */
	write_resealed(b.s, body);
	CHECK(load() == 1);
	memcpy(b.s, "CAIRNST", 8);
	write_resealed(b.s, body);
	CHECK(load() == 0);
	memcpy(b.s, "CAIRNGR", 8);
	b.s[8] ^= 0x01; /* version, little-endian */
	write_resealed(b.s, body);
	CHECK(load() == 0);
	buf_free(&b);
	ws_leave(&w);
}

/* A body that passes the trailer but ends early or has bytes left over:
 * decoding stops part way, and what it had built is thrown away. */
TEST(snapshot_bad_body_leaves_graph_empty)
{
	struct ws w;
	ws_enter(&w);
	save_standard();
	struct buf b = {0};
	read_snap(&b);
	size_t body = b.len - TRAILER;
	size_t cuts[] = {1, 4, 20, 60, body / 3};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		write_resealed(b.s, body - cuts[i]);
		CHECK(load() == 0);
	}
	struct buf more = {0};
	buf_putn(&more, b.s, body);
	buf_putn(&more, "\0\0\0\0", 4);
	write_resealed(more.s, more.len);
	CHECK(load() == 0);
	buf_free(&more);
	buf_free(&b);
	ws_leave(&w);
}
