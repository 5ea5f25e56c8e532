/* fs: the real file system behind `struct fsys`, and atomic writes. */
#include "util/fs.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void file_stat_from(const struct stat *s, struct file_stat *st)
{
	st->size = (uint64_t)s->st_size;
	st->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec;
	st->ctime_ns = (int64_t)s->st_ctim.tv_sec * 1000000000 + s->st_ctim.tv_nsec;
	st->ino = (uint64_t)s->st_ino;
	st->mode = (uint32_t)s->st_mode;
}

void stat_put(struct buf *b, const struct file_stat *st)
{
	buf_put_u64(b, st->size);
	buf_put_u64(b, (uint64_t)st->mtime_ns);
	buf_put_u64(b, (uint64_t)st->ctime_ns);
	buf_put_u64(b, st->ino);
	buf_put_u32(b, st->mode);
}

void stat_get(struct reader *rd, struct file_stat *st)
{
	st->size = rd_u64(rd); /* one statement each: the order matters */
	st->mtime_ns = (int64_t)rd_u64(rd);
	st->ctime_ns = (int64_t)rd_u64(rd);
	st->ino = rd_u64(rd);
	st->mode = rd_u32(rd);
}

static int real_stat(struct fsys *fs, const char *path, struct file_stat *st)
{
	(void)fs;
	struct stat s;
	if (lstat(path, &s) < 0)
		return -1;
	file_stat_from(&s, st);
	return 0;
}

static int real_hash(struct fsys *fs, const char *path, struct digest *d)
{
	(void)fs;
	return sha_file(path, d, NULL);
}

static int real_read(struct fsys *fs, const char *path, struct buf *b)
{
	(void)fs;
	return fs_read_all(path, b);
}

static int real_write(struct fsys *fs, const char *path, const void *p, size_t n, unsigned mode)
{
	(void)fs;
	return fs_write_atomic(path, p, n, mode);
}

static int real_append(struct fsys *fs, const char *path, const void *p, size_t n)
{
	(void)fs;
	return fs_append(path, p, n);
}

static int real_rename(struct fsys *fs, const char *from, const char *to)
{
	(void)fs;
	return rename(from, to);
}

static int real_remove(struct fsys *fs, const char *path)
{
	(void)fs;
	return fs_rm_rf(path);
}

static int real_mkdir_parent(struct fsys *fs, const char *path)
{
	(void)fs;
	return fs_mkdir_parent(path);
}

static int real_sweep(struct fsys *fs, const char *dir, int (*keep)(void *ctx, const char *path),
                      void *ctx)
{
	(void)fs;
	return fs_sweep_temps(dir, keep, ctx) < 0 ? -1 : 0;
}

static int64_t real_now(struct fsys *fs)
{
	(void)fs;
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct fsys *fsys_real(void)
{
	static struct fsys real = {real_stat,  real_hash,   real_read,         real_write,
	                           real_append, real_rename, real_remove, real_mkdir_parent,
	                           real_sweep, real_now};
	return &real;
}

int stat_eq(const struct file_stat *a, const struct file_stat *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->ino == b->ino && a->mode == b->mode;
}

int fs_skip_dir(const char *dir, const char *name)
{
	if (name[0] == '.')
		return 1;
	int root = !*dir || !strcmp(dir, ".");
	return root && !strcmp(name, "cairn-out");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_digest(const char *dir, int dirs_only, struct digest *d, int *links)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return -1;
	if (links)
		*links = 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(dp))) {
		const char *nm = e->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		int type = e->d_type;
		if (type == DT_UNKNOWN || type == DT_LNK) {
			if (links && type == DT_LNK)
				*links = 1;
			struct stat st;
			char *p = xasprintf("%s/%s", dir, nm);
			type = stat(p, &st) < 0 ? DT_UNKNOWN : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
			free(p);
		}
		int is_dir = type == DT_DIR;
		if (is_dir && fs_skip_dir(dir, nm))
			continue;
		if (dirs_only && !is_dir && strcmp(nm, "BUILD.lua") != 0)
			continue;
		char *rec = xasprintf("%c%s", is_dir ? 'd' : 'f', nm);
		VEC_PUSH(names, n, cap, rec);
	}
	closedir(dp);
	xqsort(names, n, sizeof *names, cmp_name);
	struct sha_ctx *c = sha_new();
	for (size_t i = 0; i < n; i++) {
		sha_update(c, names[i], strlen(names[i]) + 1);
		free(names[i]);
	}
	free(names);
	sha_final(c, d);
	return 0;
}

char *fs_which(const char *name, const char *path)
{
	struct stat st;
	if (strchr(name, '/'))
		return stat(name, &st) == 0 && S_ISREG(st.st_mode) && access(name, X_OK) == 0
		       ? xstrdup(name) : NULL;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		/* an empty entry is the current directory, as for execvp */
		char *cand = n ? xasprintf("%.*s/%s", (int)n, p, name) : xasprintf("./%s", name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (!c)
			return NULL;
		p = c + 1;
	}
}

int fs_open_regular(const char *path, struct stat *stp)
{
	/* O_NONBLOCK: a FIFO opens at once (and is then refused); on a
	 * regular file the flag changes nothing */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	if (stp)
		*stp = st;
	return fd;
}

int fs_not_regular(int e)
{
	return e == EINVAL || e == EISDIR;
}

int fs_read_all(const char *path, struct buf *b)
{
	struct stat st;
	int fd = fs_open_regular(path, &st);
	if (fd < 0)
		return -1;
	if (st.st_size > 0) {
		/* one allocation and straight reads for a file of known size */
		size_t want = (size_t)st.st_size;
		buf_putn(b, "", 0);
		if (b->len + want + 1 > b->cap) {
			b->s = xreallocarray(b->s, b->len + want + 1, 1);
			b->cap = b->len + want + 1;
		}
		while (want) {
			ssize_t n = read(fd, b->s + b->len, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			b->len += (size_t)n;
			want -= (size_t)n;
		}
		b->s[b->len] = 0;
	}
	char tmp[65536];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		buf_putn(b, tmp, (size_t)n);
	}
	if (!b->s)
		buf_putn(b, "", 0);
	close(fd);
	return 0;
}

char *fs_temp_name(const char *path)
{
	static unsigned counter;
	return xasprintf("%s.tmp.%ld.%u", path, (long)getpid(), ++counter);
}

/* The digits ending at end (exclusive), going back no further than start:
 * where they begin, or NULL when there are none. */
static const char *digits_before(const char *start, const char *end)
{
	const char *p = end;
	while (p > start && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return p < end ? p : NULL;
}

int fs_is_temp_name(const char *name, long *pid)
{
	const char *end = name + strlen(name);
	const char *n = digits_before(name, end);
	if (!n || n - name < 1 || n[-1] != '.')
		return 0;
	const char *p = digits_before(name, n - 1);
	if (!p || p - name < 6 || memcmp(p - 5, ".tmp.", 5) != 0)
		return 0;
	if (n - 1 - p > 9) /* more digits than any pid has */
		return 0;
	*pid = strtol(p, NULL, 10);
	return *pid > 0;
}

/* Is there a process pid (as far as we can tell: one we may not signal
 * is alive too)? */
static int alive(long pid)
{
	return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int fs_sweep_temps(const char *dir, int (*keep)(void *ctx, const char *path), void *ctx)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		long pid;
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		if (!fs_is_temp_name(e->d_name, &pid) || alive(pid))
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && !(keep && keep(ctx, p)) &&
		    unlink(p) == 0)
			removed++;
		free(p);
	}
	closedir(d);
	return removed;
}

int fs_write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *p, size_t n, unsigned mode)
{
	char *tmp = fs_temp_name(path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	int w = fs_write_full(fd, p, n), e = errno;
	if (close(fd) < 0 && w == 0) {
		w = -1;
		e = errno;
	}
	if (w < 0) {
		unlink(tmp);
		errno = e;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

int fs_mkdir_p(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int r = mkdir(p, 0777);
	free(p);
	return r < 0 && errno != EEXIST ? -1 : 0;
}

int fs_mkdir_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	char *dir = xstrndup(path, (size_t)(slash - path));
	int r = fs_mkdir_p(dir);
	free(dir);
	return r;
}

static int rm_rf_dev(const char *path, dev_t dev, int top);

int fs_rm_rf(const char *path)
{
	return rm_rf_dev(path, 0, 1);
}

/* Never crosses into another file system: a mount point below path (a
 * sandbox's bind of the workspace, say) is left alone, not emptied. */
static int rm_rf_dev(const char *path, dev_t dev, int top)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (top)
		dev = st.st_dev;
	else if (st.st_dev != dev)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = xasprintf("%s/%s", path, e->d_name);
		if (rm_rf_dev(sub, dev, 0) < 0)
			r = -1;
		free(sub);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int fs_append(const char *path, const void *p, size_t n)
{
	/* O_NONBLOCK: a FIFO put at path fails (ENXIO) rather than waiting
	 * for a reader */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0)
		return -1;
	struct stat st;
	ssize_t w = -1;
	int e = EINVAL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		w = write(fd, p, n);
		e = w < 0 ? errno : EIO;
	}
	if (close(fd) < 0 || w != (ssize_t)n) {
		errno = e;
		return -1;
	}
	return 0;
}

int fs_copy_atomic(const char *src, const char *dst, unsigned mode, struct digest *d,
                   const struct digest *want)
{
	int in = fs_open_regular(src, NULL);
	if (in < 0)
		return -1;
	char *tmp = fs_temp_name(dst);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		int e = errno;
		close(in);
		free(tmp);
		errno = e;
		return -1;
	}
	/* hashed only when asked: an output copied out of the sandbox is
	 * hashed once, by the store that takes it */
	struct sha_ctx *c = d || want ? sha_new() : NULL;
	static _Thread_local char bufr[1 << 16];
	int r = 0;
	for (;;) {
		ssize_t n = read(in, bufr, sizeof bufr);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && fs_write_full(out, bufr, (size_t)n) < 0)) {
			r = -1;
			break;
		}
		if (n == 0)
			break;
		if (c)
			sha_update(c, bufr, (size_t)n);
	}
	struct digest got;
	if (c)
		sha_final(c, &got);
	if (d)
		*d = got;
	int e = errno;
	if (r == 0 && want && !digest_eq(&got, want)) {
		e = EIO;
		r = -1;
	}
	close(in);
	if (close(out) < 0)
		r = -1;
	if (r == 0 && fchmodat(AT_FDCWD, tmp, mode, 0) < 0)
		r = -1;
	if (r == 0 && rename(tmp, dst) < 0)
		r = -1;
	if (r < 0) {
		if (e != EIO)
			e = errno;
		unlink(tmp);
	}
	free(tmp);
	errno = e;
	return r;
}
