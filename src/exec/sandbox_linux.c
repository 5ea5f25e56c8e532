/* sandbox_linux: the namespaces and mounts behind sandbox.h. Runs only in
 * a child process between fork and exec: it may allocate, but any failure
 * ends the child with a message on fd 2. */
#include "exec/sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static _Noreturn void die(const char *fmt, ...)
{
	int e = errno;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	dprintf(2, "cairn: sandbox: %s: %s\n", msg, strerror(e));
	_exit(127);
}

/* snprintf into an array, refusing paths that do not fit. */
#define FMT(b, ...)                                                       \
	do {                                                                  \
		if (snprintf(b, sizeof b, __VA_ARGS__) >= (int)sizeof b)          \
			die("path too long");                                         \
	} while (0)

static void mkdirs(const char *path)
{
	char buf[4096];
	FMT(buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die("mkdir %s", buf);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		die("write %s", path);
	close(fd);
}

/* Bind src onto dst (created as a file or directory like src), read-only
 * unless rw. Keeps the flags the source mount has (a user namespace may
 * not drop nosuid/nodev). */
static void bind_into(const char *src, const char *dst, int rw)
{
	struct stat st;
	if (stat(src, &st) < 0)
		die("stat %s", src);
	if (S_ISDIR(st.st_mode)) {
		mkdirs(dst);
	} else {
		char parent[4096];
		FMT(parent, "%s", dst);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = 0;
			mkdirs(parent);
		}
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create %s", dst);
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind %s", src);
	if (rw)
		return;
	struct statvfs vfs;
	unsigned long keep = 0;
	if (statvfs(src, &vfs) == 0) {
		if (vfs.f_flag & ST_NOSUID)
			keep |= MS_NOSUID;
		if (vfs.f_flag & ST_NODEV)
			keep |= MS_NODEV;
		if (vfs.f_flag & ST_NOEXEC)
			keep |= MS_NOEXEC;
	}
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
		die("read-only %s", dst);
}

/* A host directory, or the symlink it is (merged /usr: /bin -> usr/bin). */
static void system_dir(const char *img, const char *d)
{
	char dst[4096], target[4096];
	FMT(dst, "%s%s", img, d);
	struct stat st;
	if (lstat(d, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(d, target, sizeof target - 1);
		if (n < 0)
			die("readlink %s", d);
		target[n] = 0;
		if (symlink(target, dst) < 0 && errno != EEXIST)
			die("symlink %s", dst);
		return;
	}
	if (S_ISDIR(st.st_mode))
		bind_into(d, dst, 0);
}

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

static void enter(const struct sandbox_spec *sp)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	if (!sp->network)
		flags |= CLONE_NEWNET;
	if (geteuid() != 0)
		flags |= CLONE_NEWUSER;
	if (unshare(flags) < 0)
		die("unshare");
	if (flags & CLONE_NEWUSER) {
		char map[64];
		write_file("/proc/self/setgroups", "deny");
		FMT(map, "0 %u 1", (unsigned)uid);
		write_file("/proc/self/uid_map", map);
		FMT(map, "0 %u 1", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
}

static void build_image(const struct sandbox_spec *sp)
{
	char img[4096];
	FMT(img, "%s/img", sp->dir);
	mkdirs(img);
	static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
	                                   "/libx32", "/etc", NULL};
	for (const char *const *d = sys; *d; d++)
		system_dir(img, *d);
	char p[4096], q[4096];
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", NULL};
	for (const char *const *d = devs; *d; d++) {
		FMT(p, "/dev/%s", *d);
		FMT(q, "%s/dev/%s", img, *d);
		bind_into(p, q, 1);
	}
	FMT(q, "%s/tmp", img);
	mkdirs(q);
	if (mount("tmpfs", q, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		die("mount /tmp");
	FMT(q, "%s/proc", img);
	mkdirs(q);
	if (mount("proc", q, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount /proc");
	FMT(q, "%s%s", img, sp->root);
	mkdirs(q);
	for (size_t i = 0; i < sp->noutdirs; i++) {
		/* on disk outside the image, whatever the image's /tmp hides;
		 * mounted before the inputs, which may live below them */
		FMT(p, "%s/out/%s", sp->dir, sp->outdirs[i]);
		mkdirs(p);
		FMT(q, "%s%s/%s", img, sp->root, sp->outdirs[i]);
		bind_into(p, q, 1);
	}
	for (size_t i = 0; i < sp->nrwdirs; i++) {
		FMT(p, "%s/%s", sp->root, sp->rwdirs[i]);
		FMT(q, "%s%s/%s", img, sp->root, sp->rwdirs[i]);
		bind_into(p, q, 1);
	}
	for (size_t i = 0; i < sp->ninputs; i++) {
		FMT(p, "%s/%s", sp->root, sp->inputs[i]);
		FMT(q, "%s%s/%s", img, sp->root, sp->inputs[i]);
		bind_into(p, q, 0);
	}
	if (chroot(img) < 0)
		die("chroot %s", img);
	if (chdir(sp->root) < 0)
		die("chdir %s", sp->root);
}

void sandbox_exec(const struct sandbox_spec *sp, const char *prog, char *const argv[],
                  char *const envp[], const char *in, const char *out, int append)
{
	enter(sp);
	pid_t pid = fork(); /* the child is PID 1 of the new PID namespace */
	if (pid < 0)
		die("fork");
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				_exit(127);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	build_image(sp);
	if (!sp->network)
		loopback_up();
	/* redirections fail as the shell's do: a message and exit 2 */
	if (in) {
		int fd = open(in, O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0) {
			dprintf(2, "cairn: cannot open %s: %s\n", in, strerror(errno));
			_exit(2);
		}
		close(fd);
	}
	if (out) {
		int fd = open(out, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0666);
		if (fd < 0 || dup2(fd, 1) < 0) {
			dprintf(2, "cairn: cannot create %s: %s\n", out, strerror(errno));
			_exit(2);
		}
		close(fd);
	}
	execve(prog, argv, envp);
	die("cannot run %s", prog);
}

int sandbox_probe(const char **why)
{
	pid_t pid = fork();
	if (pid < 0) {
		*why = "fork failed";
		return -1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		struct sandbox_spec sp = {.root = "/", .dir = "/"};
		enter(&sp);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			*why = "waitpid failed";
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	*why = "this kernel or container does not let cairn create namespaces";
	return -1;
}
