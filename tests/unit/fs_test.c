/* Unit tests of the file system helpers (util/fs.c): directory listing
 * digests, $PATH search, atomic copy and write, rm -rf, files that are not
 * regular (never waited on), and the sweep of leftover temp files. */
#include "test.h"
#include "util/fs.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text, unsigned mode)
{
	CHECK(fs_mkdir_parent(path) == 0);
	CHECK(fs_write_atomic(path, text, strlen(text), mode) == 0);
	CHECK(chmod(path, mode) == 0); /* whatever the umask */
}

static char *at(const char *dir, const char *rel)
{
	return xasprintf("%s/%s", dir, rel);
}

static void put_at(const char *dir, const char *rel, const char *text, unsigned mode)
{
	char *p = at(dir, rel);
	put(p, text, mode);
	free(p);
}

static void mkdir_at(const char *dir, const char *rel)
{
	char *p = at(dir, rel);
	CHECK(fs_mkdir_p(p) == 0);
	free(p);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The number of entries in dir, not counting . and .. */
static int nentries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int file_is(const char *path, const char *text)
{
	struct buf b = {0};
	int ok = fs_read_all(path, &b) == 0 && b.len == strlen(text) &&
	         memcmp(b.s, text, b.len) == 0;
	if (!ok)
		fprintf(stderr, "  %s: '%s' != '%s'\n", path, b.s ? b.s : "(unreadable)", text);
	buf_free(&b);
	return ok;
}

static struct digest list_digest(const char *dir, int dirs_only)
{
	struct digest d;
	memset(&d, 0, sizeof d);
	CHECK(fs_list_digest(dir, dirs_only, &d, NULL) == 0);
	return d;
}

/* ---- fs_list_digest ---- */

TEST(fs_list_digest_dirs_only_vs_all)
{
	char *dir = test_tmpdir();
	put_at(dir, "a.c", "", 0644);
	mkdir_at(dir, "sub");
	struct digest all0 = list_digest(dir, 0), pk0 = list_digest(dir, 1);
	CHECK(!digest_eq(&all0, &pk0));
	/* a plain file: seen by the full listing only */
	put_at(dir, "b.c", "", 0644);
	struct digest all1 = list_digest(dir, 0), pk1 = list_digest(dir, 1);
	CHECK(!digest_eq(&all0, &all1));
	CHECK(digest_eq(&pk0, &pk1));
	/* contents never matter */
	put_at(dir, "a.c", "int changed;\n", 0644);
	struct digest all2 = list_digest(dir, 0);
	CHECK(digest_eq(&all1, &all2));
	/* BUILD.lua: seen by both */
	put_at(dir, "BUILD.lua", "", 0644);
	struct digest all3 = list_digest(dir, 0), pk3 = list_digest(dir, 1);
	CHECK(!digest_eq(&all2, &all3));
	CHECK(!digest_eq(&pk1, &pk3));
	/* a sub-directory: seen by both */
	mkdir_at(dir, "sub2");
	struct digest all4 = list_digest(dir, 0), pk4 = list_digest(dir, 1);
	CHECK(!digest_eq(&all3, &all4));
	CHECK(!digest_eq(&pk3, &pk4));
	/* entries of a sub-directory are not part of the listing */
	put_at(dir, "sub/deep.c", "", 0644);
	mkdir_at(dir, "sub/deeper");
	struct digest all5 = list_digest(dir, 0), pk5 = list_digest(dir, 1);
	CHECK(digest_eq(&all4, &all5));
	CHECK(digest_eq(&pk4, &pk5));
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_list_digest_types_and_names)
{
	char *d1 = test_tmpdir(), *d2 = test_tmpdir();
	/* the same name as a file and as a directory */
	put_at(d1, "x", "", 0644);
	mkdir_at(d2, "x");
	struct digest a = list_digest(d1, 0), b = list_digest(d2, 0);
	CHECK(!digest_eq(&a, &b));
	/* names are not run together: {ab, c} is not {a, bc} */
	fs_rm_rf(d1);
	fs_rm_rf(d2);
	CHECK(mkdir(d1, 0777) == 0 && mkdir(d2, 0777) == 0);
	put_at(d1, "ab", "", 0644);
	put_at(d1, "c", "", 0644);
	put_at(d2, "a", "", 0644);
	put_at(d2, "bc", "", 0644);
	a = list_digest(d1, 0);
	b = list_digest(d2, 0);
	CHECK(!digest_eq(&a, &b));
	fs_rm_rf(d1);
	fs_rm_rf(d2);
	free(d1);
	free(d2);
}

TEST(fs_list_digest_order_independent)
{
	char *d1 = test_tmpdir(), *d2 = test_tmpdir();
	enum { N = 40 };
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "f%02d.c", i);
		put_at(d1, name, "", 0644);
		snprintf(name, sizeof name, "f%02d.c", N - 1 - i);
		put_at(d2, name, "", 0644);
		snprintf(name, sizeof name, "d%02d", i);
		mkdir_at(d1, name);
		snprintf(name, sizeof name, "d%02d", N - 1 - i);
		mkdir_at(d2, name);
	}
	struct digest a = list_digest(d1, 0), b = list_digest(d2, 0);
	CHECK(digest_eq(&a, &b));
	a = list_digest(d1, 1);
	b = list_digest(d2, 1);
	CHECK(digest_eq(&a, &b));
	/* and a removed then re-created entry gives the digest back */
	char *p = at(d1, "f07.c");
	CHECK(unlink(p) == 0);
	struct digest c = list_digest(d1, 0);
	CHECK(!digest_eq(&c, &b));
	put(p, "", 0644);
	c = list_digest(d1, 0);
	a = list_digest(d2, 0);
	CHECK(digest_eq(&c, &a));
	free(p);
	fs_rm_rf(d1);
	fs_rm_rf(d2);
	free(d1);
	free(d2);
}

TEST(fs_list_digest_hidden_dirs_ignored)
{
	char *dir = test_tmpdir();
	put_at(dir, "a.c", "", 0644);
	mkdir_at(dir, "sub");
	struct digest all0 = list_digest(dir, 0), pk0 = list_digest(dir, 1);
	mkdir_at(dir, ".git");
	mkdir_at(dir, ".cache/x");
	struct digest all1 = list_digest(dir, 0), pk1 = list_digest(dir, 1);
	CHECK(digest_eq(&all0, &all1));
	CHECK(digest_eq(&pk0, &pk1));
	/* a hidden file is an entry like any other (globs may match it) */
	put_at(dir, ".clang-format", "", 0644);
	struct digest all2 = list_digest(dir, 0), pk2 = list_digest(dir, 1);
	CHECK(!digest_eq(&all1, &all2));
	CHECK(digest_eq(&pk1, &pk2));
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_list_digest_cairn_out_at_root_only)
{
	char *dir = test_tmpdir();
	int old = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(old >= 0 && chdir(dir) == 0);
	put("BUILD.lua", "", 0644);
	put("pkg/BUILD.lua", "", 0644);
	struct digest all0 = list_digest(".", 0), pk0 = list_digest(".", 1);
	struct digest sub0 = list_digest("pkg", 0), subpk0 = list_digest("pkg", 1);
	CHECK(fs_mkdir_p("cairn-out/pkg") == 0);
	struct digest all1 = list_digest(".", 0), pk1 = list_digest(".", 1);
	CHECK(digest_eq(&all0, &all1));
	CHECK(digest_eq(&pk0, &pk1));
	/* below the root, cairn-out is an ordinary directory name */
	CHECK(fs_mkdir_p("pkg/cairn-out") == 0);
	struct digest sub1 = list_digest("pkg", 0), subpk1 = list_digest("pkg", 1);
	CHECK(!digest_eq(&sub0, &sub1));
	CHECK(!digest_eq(&subpk0, &subpk1));
	/* the root under another name is not "." */
	struct digest byname = list_digest(dir, 1);
	CHECK(!digest_eq(&byname, &pk1));
	CHECK(fchdir(old) == 0);
	close(old);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_list_digest_missing_dir)
{
	char *dir = test_tmpdir();
	char *p = at(dir, "nope");
	struct digest d;
	errno = 0;
	CHECK(fs_list_digest(p, 0, &d, NULL) == -1);
	CHECK(errno == ENOENT);
	free(p);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- fs_which ---- */

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

TEST(fs_which_finds_sh)
{
	char *p = fs_which("sh", "/usr/bin:/bin");
	CHECK(p != NULL);
	if (p) {
		CHECK(!strcmp(p, "/usr/bin/sh") || !strcmp(p, "/bin/sh"));
		CHECK(access(p, X_OK) == 0);
	}
	free(p);
	/* the default search path */
	p = fs_which("sh", NULL);
	CHECK(p != NULL && p[0] == '/' && ends_with(p, "/sh"));
	free(p);
}

TEST(fs_which_missing)
{
	CHECK(fs_which("cairn-no-such-tool-4711", "/usr/bin:/bin") == NULL);
	CHECK(fs_which("sh", "/nonexistent-dir-4711") == NULL);
}

TEST(fs_which_order_and_kinds)
{
	char *dir = test_tmpdir();
	put_at(dir, "d1/tool", "#!/bin/sh\n", 0644); /* not executable */
	mkdir_at(dir, "d2/tool");                     /* a directory */
	put_at(dir, "d3/tool", "#!/bin/sh\n", 0755);
	put_at(dir, "d4/tool", "#!/bin/sh\n", 0755);
	char *path = xasprintf("%s/d1:%s/d2:%s/d3:%s/d4", dir, dir, dir, dir);
	char *want = at(dir, "d3/tool");
	char *p = fs_which("tool", path);
	CHECK_STR(p, want);
	free(p);
	free(want);
	free(path);
	/* an empty entry is the current directory, as for execvp */
	int old = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *d4 = at(dir, "d4");
	CHECK(old >= 0 && chdir(d4) == 0);
	p = fs_which("tool", "/nonexistent-dir-4711::/bin");
	CHECK(p != NULL && ends_with(p, "/tool") && access(p, X_OK) == 0);
	free(p);
	CHECK(fchdir(old) == 0);
	close(old);
	free(d4);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_which_name_with_slash)
{
	char *dir = test_tmpdir();
	put_at(dir, "tool", "#!/bin/sh\n", 0755);
	put_at(dir, "plain", "data\n", 0644);
	char *tool = at(dir, "tool"), *plain = at(dir, "plain");
	/* taken as it is, not searched for: the search path is not used */
	char *p = fs_which(tool, "/nonexistent-dir-4711");
	CHECK_STR(p, tool);
	free(p);
	CHECK(fs_which(plain, "/usr/bin:/bin") == NULL);
	char *missing = at(dir, "missing");
	CHECK(fs_which(missing, "/usr/bin:/bin") == NULL);
	free(missing);
	/* a relative name with a slash is kept relative */
	int old = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(old >= 0 && chdir(dir) == 0);
	p = fs_which("./tool", "/nonexistent-dir-4711");
	CHECK_STR(p, "./tool");
	free(p);
	CHECK(fchdir(old) == 0);
	close(old);
	free(tool);
	free(plain);
	fs_rm_rf(dir);
	free(dir);
}

/* A directory is searchable (X_OK) but not a program execvp can run; the
 * $PATH search already skips it, a name with a slash should too. */
TEST(fs_which_slash_name_directory)
{
	char *dir = test_tmpdir();
	mkdir_at(dir, "bin");
	char *p = at(dir, "bin");
	char *r = fs_which(p, NULL);
	CHECK(r == NULL);
	free(r);
	free(p);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- fs_copy_atomic ---- */

TEST(fs_copy_atomic_ok)
{
	char *dir = test_tmpdir();
	char *src = at(dir, "src"), *dst = at(dir, "dst");
	const char text[] = "some bytes\n";
	put(src, text, 0644);
	struct digest want, got;
	sha_buf(text, sizeof text - 1, &want);
	CHECK(fs_copy_atomic(src, dst, 0750, &got, &want) == 0);
	CHECK(digest_eq(&got, &want));
	CHECK(file_is(dst, text));
	struct stat st;
	CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0750);
	CHECK(nentries(dir) == 2);
	/* over an existing file, without a digest to check */
	put(src, "other\n", 0644);
	CHECK(fs_copy_atomic(src, dst, 0444, NULL, NULL) == 0);
	CHECK(file_is(dst, "other\n"));
	CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0444);
	CHECK(nentries(dir) == 2);
	free(src);
	free(dst);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_copy_atomic_digest_mismatch)
{
	char *dir = test_tmpdir();
	char *src = at(dir, "src"), *dst = at(dir, "dst");
	const char text[] = "the real bytes\n";
	put(src, text, 0644);
	put(dst, "old contents\n", 0600);
	struct stat before, after;
	CHECK(stat(dst, &before) == 0);
	struct digest want, got, actual;
	sha_buf("something else", 14, &want);
	sha_buf(text, sizeof text - 1, &actual);
	errno = 0;
	CHECK(fs_copy_atomic(src, dst, 0755, &got, &want) == -1);
	CHECK(errno == EIO);
	/* the digest of what was read is still reported */
	CHECK(digest_eq(&got, &actual));
	/* the destination is untouched: same file, same bytes, same mode */
	CHECK(file_is(dst, "old contents\n"));
	CHECK(stat(dst, &after) == 0);
	CHECK(after.st_ino == before.st_ino && (after.st_mode & 07777) == 0600);
	/* and no temp file is left next to it */
	CHECK(nentries(dir) == 2);
	/* a destination that did not exist does not appear */
	char *dst2 = at(dir, "dst2");
	errno = 0;
	CHECK(fs_copy_atomic(src, dst2, 0644, NULL, &want) == -1);
	CHECK(errno == EIO);
	CHECK(!exists(dst2));
	CHECK(nentries(dir) == 2);
	free(dst2);
	free(src);
	free(dst);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_copy_atomic_missing_src)
{
	char *dir = test_tmpdir();
	char *src = at(dir, "nope"), *dst = at(dir, "dst");
	errno = 0;
	CHECK(fs_copy_atomic(src, dst, 0644, NULL, NULL) == -1);
	CHECK(errno == ENOENT);
	CHECK(nentries(dir) == 0);
	free(src);
	free(dst);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- fs_write_atomic ---- */

TEST(fs_write_atomic_no_temp_left)
{
	char *dir = test_tmpdir();
	char *p = at(dir, "out.txt");
	CHECK(fs_write_atomic(p, "first\n", 6, 0644) == 0);
	CHECK(file_is(p, "first\n"));
	CHECK(nentries(dir) == 1);
	/* replacing: a reader of the old file keeps the old bytes */
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(fs_write_atomic(p, "second, longer\n", 15, 0644) == 0);
	CHECK(file_is(p, "second, longer\n"));
	char old[16] = {0};
	CHECK(read(fd, old, sizeof old - 1) == 6 && !strcmp(old, "first\n"));
	close(fd);
	CHECK(nentries(dir) == 1);
	/* an empty file */
	CHECK(fs_write_atomic(p, "", 0, 0644) == 0);
	CHECK(file_is(p, ""));
	CHECK(nentries(dir) == 1);
	free(p);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_write_atomic_failure_leaves_nothing)
{
	char *dir = test_tmpdir();
	/* the target is a directory: the rename fails, the temp goes */
	mkdir_at(dir, "isdir");
	char *p = at(dir, "isdir");
	errno = 0;
	CHECK(fs_write_atomic(p, "x", 1, 0644) == -1);
	CHECK(errno == EISDIR);
	CHECK(nentries(dir) == 1);
	free(p);
	/* no such directory */
	p = at(dir, "nodir/file");
	errno = 0;
	CHECK(fs_write_atomic(p, "x", 1, 0644) == -1);
	CHECK(errno == ENOENT);
	CHECK(nentries(dir) == 1);
	free(p);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- fs_rm_rf ---- */

TEST(fs_rm_rf_nested_read_only)
{
	char *dir = test_tmpdir();
	put_at(dir, "t/ro.txt", "x", 0444);
	put_at(dir, "t/a/b/c/deep.o", "x", 0444);
	put_at(dir, "t/a/b/exe", "x", 0555);
	put_at(dir, "t/a/rw", "x", 0644);
	mkdir_at(dir, "t/a/empty");
	char *t = at(dir, "t");
	CHECK(fs_rm_rf(t) == 0);
	CHECK(!exists(t));
	CHECK(nentries(dir) == 0);
	/* gone already: not an error */
	CHECK(fs_rm_rf(t) == 0);
	free(t);
	/* a single read-only file */
	char *f = at(dir, "f");
	put(f, "x", 0444);
	CHECK(fs_rm_rf(f) == 0);
	CHECK(!exists(f));
	free(f);
	fs_rm_rf(dir);
	free(dir);
}

TEST(fs_rm_rf_does_not_follow_links)
{
	char *dir = test_tmpdir();
	put_at(dir, "keep/file", "x", 0444);
	mkdir_at(dir, "t");
	char *keep = at(dir, "keep"), *link = at(dir, "t/link"), *t = at(dir, "t");
	char *kf = at(dir, "keep/file");
	CHECK(symlink(keep, link) == 0);
	CHECK(fs_rm_rf(t) == 0);
	CHECK(!exists(t));
	CHECK(file_is(kf, "x"));
	/* a link given directly is removed, not its target */
	CHECK(symlink(keep, t) == 0);
	CHECK(fs_rm_rf(t) == 0);
	CHECK(!exists(t) && file_is(kf, "x"));
	free(kf);
	free(keep);
	free(link);
	free(t);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- files that are not regular ---- */

/* A FIFO with no writer: opening it for reading the usual way would
 * block for good. Each call below must fail at once instead. */
TEST(fs_fifo_is_refused_without_blocking)
{
	char *dir = test_tmpdir();
	char *fifo = at(dir, "fifo"), *sub = at(dir, "sub"), *dst = at(dir, "dst");
	CHECK(mkfifo(fifo, 0644) == 0);
	CHECK(mkdir(sub, 0755) == 0);
	errno = 0;
	CHECK(fs_open_regular(fifo, NULL) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(fs_open_regular(sub, NULL) == -1 && errno == EISDIR);
	CHECK(fs_not_regular(EINVAL) && fs_not_regular(EISDIR) && !fs_not_regular(ENOENT));
	struct buf b = {0};
	errno = 0;
	CHECK(fs_read_all(fifo, &b) == -1 && errno == EINVAL);
	CHECK(b.len == 0);
	buf_free(&b);
	struct digest d;
	errno = 0;
	CHECK(sha_file(fifo, &d, NULL) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(fs_copy_atomic(fifo, dst, 0644, NULL, NULL) == -1 && errno == EINVAL);
	CHECK(!exists(dst));
	CHECK(nentries(dir) == 2);
	/* a regular file opens, with its stat data */
	put_at(dir, "file", "abc", 0644);
	char *file = at(dir, "file");
	struct stat st;
	int fd = fs_open_regular(file, &st);
	CHECK(fd >= 0 && st.st_size == 3);
	if (fd >= 0)
		close(fd);
	free(file);
	free(fifo);
	free(sub);
	free(dst);
	fs_rm_rf(dir);
	free(dir);
}

/* ---- temp files left behind ---- */

TEST(fs_is_temp_name_forms)
{
	long pid = 0;
	CHECK(fs_is_temp_name("x.txt.tmp.123.4", &pid) && pid == 123);
	CHECK(fs_is_temp_name("a.tmp.1.1", &pid) && pid == 1);
	char *mine = fs_temp_name("dir/out.o");
	const char *base = strrchr(mine, '/') + 1;
	CHECK(fs_is_temp_name(base, &pid) && pid == (long)getpid());
	free(mine);
	CHECK(!fs_is_temp_name(".tmp.123.4", &pid));     /* no name before */
	CHECK(!fs_is_temp_name("x.tmp.123.", &pid));     /* no counter */
	CHECK(!fs_is_temp_name("x.tmp..4", &pid));       /* no pid */
	CHECK(!fs_is_temp_name("x.tmp.12a.4", &pid));
	CHECK(!fs_is_temp_name("x.tmpx.123.4", &pid));
	CHECK(!fs_is_temp_name("x.tmp.0.4", &pid));      /* no such pid */
	CHECK(!fs_is_temp_name("x.tmp.12345678901.4", &pid));
	CHECK(!fs_is_temp_name("x.txt", &pid));
	CHECK(!fs_is_temp_name("123.4", &pid));
}

/* A pid no process has any more: a child's, after it was waited for. */
static long dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	CHECK(p > 0 && waitpid(p, NULL, 0) == p);
	return (long)p;
}

static int keep_kept(void *ctx, const char *path)
{
	return strstr(path, (const char *)ctx) != NULL;
}

TEST(fs_sweep_temps_removes_dead_processes_files_only)
{
	char *dir = test_tmpdir();
	long dead = dead_pid(), live = (long)getppid();
	char *d1 = xasprintf("x.txt.tmp.%ld.1", dead), *d2 = xasprintf("kept.tmp.%ld.2", dead),
	     *d3 = xasprintf("sub.tmp.%ld.3", dead), *l1 = xasprintf("x.txt.tmp.%ld.1", live),
	     *me = xasprintf("y.tmp.%ld.9", (long)getpid());
	put_at(dir, d1, "torn", 0644);
	put_at(dir, d2, "an output named like a temp", 0644);
	mkdir_at(dir, d3); /* a directory is never a temp file */
	put_at(dir, l1, "being written", 0644);
	put_at(dir, me, "ours", 0644);
	put_at(dir, "x.txt", "the output", 0644);
	static char kept[] = "/kept.";
	CHECK(fs_sweep_temps(dir, keep_kept, kept) == 1);
	char *p = at(dir, d1);
	CHECK(!exists(p));
	free(p);
	CHECK(nentries(dir) == 5);
	/* without keep() */
	CHECK(fs_sweep_temps(dir, NULL, NULL) == 1);
	CHECK(nentries(dir) == 4);
	char *missing = at(dir, "missing");
	errno = 0;
	CHECK(fs_sweep_temps(missing, NULL, NULL) == -1 && errno == ENOENT);
	free(missing);
	free(d1);
	free(d2);
	free(d3);
	free(l1);
	free(me);
	fs_rm_rf(dir);
	free(dir);
}

/* check64 given in pieces of every size, across block boundaries, is
 * check64 of the whole: the state is written and summed in pieces. */
TEST(check64_in_pieces_is_check64_of_the_whole)
{
	unsigned char b[300];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof b; n += 37) {
		uint64_t whole = check64(b, n);
		for (size_t step = 1; step <= 70; step += 3) {
			struct check64_state c;
			check64_begin(&c, n);
			for (size_t at = 0; at < n; at += step)
				check64_add(&c, b + at, at + step <= n ? step : n - at);
			CHECK(check64_end(&c) == whole);
		}
	}
	/* and it is still the function the files on disk were written with */
	CHECK(check64("", 0) != check64("a", 1));
	CHECK(check64(b, 64) != check64(b + 1, 64));
}
