/* fs: file system helpers, and `struct fsys`, the seam through which the
 * incremental logic sees files (so unit tests run on a fake). */
#ifndef CAIRN_FS_H
#define CAIRN_FS_H
#include "util/sha.h"
#include "util/str.h"
#include <stdint.h>

/* The stat data that decides whether a file must be hashed again. */
struct file_stat {
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t ino;
	uint32_t mode; /* st_mode */
};

/* A file modified this close to a moment (20 ms; coarse kernel timestamp
 * ticks are 4 ms) may change again with the same stat data: the state,
 * the snapshot and the no-op record trust no such file's stat data. */
enum { FS_RACY_NS = 20000000 };

/* The disk and the clock as the scheduler, the state, the snapshot and
 * the no-op check see them, so that their unit tests run on a file
 * system in memory with a clock they move. Every operation returns 0, or
 * -1 with errno (ENOENT for a missing file), but now. */
struct fsys {
	/* lstat-like */
	int (*stat)(struct fsys *fs, const char *path, struct file_stat *st);
	/* SHA-256 of the contents */
	int (*hash)(struct fsys *fs, const char *path, struct digest *d);
	/* the whole of a regular file, appended to b */
	int (*read)(struct fsys *fs, const char *path, struct buf *b);
	/* write a whole file with mode by a temp file and a rename */
	int (*write)(struct fsys *fs, const char *path, const void *p, size_t n, unsigned mode);
	/* fs_append */
	int (*append)(struct fsys *fs, const char *path, const void *p, size_t n);
	/* rename(2) */
	int (*rename)(struct fsys *fs, const char *from, const char *to);
	/* remove a file or a whole tree (a missing one is no error) */
	int (*remove)(struct fsys *fs, const char *path);
	/* make the directory holding path, and its parents */
	int (*mkdir_parent)(struct fsys *fs, const char *path);
	/* remove the temp files a killed process left in dir (fs_sweep_temps) */
	int (*sweep)(struct fsys *fs, const char *dir, int (*keep)(void *ctx, const char *path),
	             void *ctx);
	/* the wall clock, in nanoseconds since the epoch */
	int64_t (*now)(struct fsys *fs);
};

struct stat;
/* st from stat(2)'s answer. */
void file_stat_from(const struct stat *s, struct file_stat *st);

/* On disk: size, mtime_ns, ctime_ns, ino as u64, mode as u32. */
void stat_put(struct buf *b, const struct file_stat *st);
void stat_get(struct reader *rd, struct file_stat *st);

/* The real file system. */
struct fsys *fsys_real(void);
int stat_eq(const struct file_stat *a, const struct file_stat *b);

/* Is the directory `name` inside `dir` ("" or "." for the workspace root)
 * outside the source tree? Hidden directories (.cairn, .git) and cairn-out
 * at the root are: no walk (packages, glob, --watch) enters them, and the
 * snapshot's listings leave them out, so that all agree. */
int fs_skip_dir(const char *dir, const char *name);

/* A digest of a directory's entry names and types: with dirs_only, only
 * its sub-directories and whether it holds BUILD.lua (what package
 * discovery sees); else every entry. Hidden directories, and cairn-out at
 * the root (dir "."), are left out like the walks leave them out.
 * *links (when not NULL) is set when an entry is a symlink: its type is
 * that of its target, which can change while the directory does not.
 * 0, or -1 with errno when the directory cannot be read. */
int fs_list_digest(const char *dir, int dirs_only, struct digest *d, int *links);

/* Find an executable named name in the directories of path (a $PATH
 * value; NULL: /usr/local/bin:/usr/bin:/bin) as execvp would; a name
 * with a slash is taken as it is. Fresh string, or NULL. */
char *fs_which(const char *name, const char *path);

/* Open a regular file for reading without ever blocking: a FIFO would
 * block open() until a writer comes (and open() restarts after a signal,
 * so not even SIGTERM ends the wait), a device may do anything. Every file
 * cairn reads or hashes (sources, outputs, cache entries, its own state)
 * is opened through here. A file that is not regular is refused: EISDIR
 * for a directory, EINVAL for anything else. *st (when not NULL) gets its
 * fstat data. The fd, or -1 with errno. */
int fs_open_regular(const char *path, struct stat *st);
/* Is e the errno of a file fs_open_regular refused for its type? */
int fs_not_regular(int e);
/* Read a whole regular file into b (appending). 0, or -1 with errno. */
int fs_read_all(const char *path, struct buf *b);
/* Write via a temp file in the same directory, then rename. 0 or -1. */
int fs_write_atomic(const char *path, const void *p, size_t n, unsigned mode);
/* A unique temp path next to `path`: "<path>.tmp.<pid>.<n>" (caller
 * frees). Renamed into place or removed, unless the process is killed in
 * between: fs_sweep_temps finds what it left. */
char *fs_temp_name(const char *path);
/* Is name (a file name, no directory) of fs_temp_name's form? Its pid
 * then goes to *pid. */
int fs_is_temp_name(const char *name, long *pid);
/* Remove the temp files of fs_temp_name's form in dir whose process is no
 * longer alive (killed between writing and renaming); a live process's
 * are left alone, and so is any file for which keep (when not NULL) says
 * so (say, a declared output that merely looks like a temp name). The
 * number removed, or -1 with errno when dir cannot be read. */
int fs_sweep_temps(const char *dir, int (*keep)(void *ctx, const char *path), void *ctx);
/* mkdir -p; 0 or -1 with errno. */
int fs_mkdir_p(const char *path);
/* mkdir -p of the directory holding `path`. */
int fs_mkdir_parent(const char *path);
/* rm -rf, staying on path's file system; 0 or -1 with errno. A missing
 * path is not an error. */
int fs_rm_rf(const char *path);
/* Write all n bytes of p to fd, however many write calls it takes
 * (EINTR retried). 0, or -1 with errno. */
int fs_write_full(int fd, const void *p, size_t n);
/* Append n bytes to path in one write (O_APPEND: another process's
 * appends land before or after, not inside), making it 0644 when missing.
 * Anything but a regular file at path fails at once (EINVAL, or ENXIO
 * for a FIFO), and a short write is EIO. 0 or -1 with errno. */
int fs_append(const char *path, const void *p, size_t n);
/* Copy src to dst atomically (temp + rename) with the given mode, hashing
 * the bytes on the way into *d (if not NULL). When want is not NULL and the
 * bytes do not hash to it, dst is left alone and errno is EIO. With both
 * NULL nothing is hashed. 0 or -1. */
int fs_copy_atomic(const char *src, const char *dst, unsigned mode, struct digest *d,
                   const struct digest *want);

#endif
