/* sandbox_linux: the namespaces and mounts behind sandbox.h.
 *
 * Layout, inside cairn's private mount namespace:
 *   <state>/out                 tmpfs: per action, <state>/out/<n>/out holds
 *                               its output directories (cheap to make and
 *                               drop; cairn copies the outputs out)
 *   <state>/base                tmpfs: the image every action's root is
 *   <state>/base/usr, /bin ...  the host's, bound read-only (or the symlink
 *                               they are, on a merged-/usr system)
 *   <state>/base/dev/null ...   bound from the host
 *   <state>/base/<root>         empty; each action mounts its own tmpfs here
 * The child of sandbox_spawn is cloned with CLONE_VM | CLONE_VFORK (no page
 * tables copied; cairn waits the few hundred microseconds until it execs)
 * into new mount, PID, IPC and UTS namespaces, so what it mounts, its
 * host name and its System V objects are its own (the loopback-only
 * network is shared). It must not allocate: it shares cairn's heap until
 * exec. Once the image is mounted, the child pivots into it and detaches
 * the host's root, then moves into a user namespace of its own and drops
 * every capability (drop_privileges): nothing it runs can change a mount
 * or find a path out. */
#include "exec/sandbox.h"
#include "util/fs.h"
#include "util/hook.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What sandbox_init prepared; shared by every action. */
static struct {
	int ready;
	int failed;       /* init failed once: never retried in this process */
	char why[256];
	char root[2048];  /* the workspace root */
	char base[2048];  /* the base image */
	char ro[2048];    /* the workspace, bound read-only: binds from here are
	                     read-only without a remount each */
	int netfd;        /* the loopback-only network namespace, or -1 */
	int userfd;       /* the actions' user namespace, or -1 */
	int last_cap;     /* the kernel's highest capability number */
} sb = {.netfd = -1, .userfd = -1};

/* Who an action is inside its user namespace: nobody, whoever runs cairn
 * (so an action's output cannot depend on it). */
enum { SANDBOX_UID = 65534, SANDBOX_GID = 65534 };

static _Noreturn void die(const char *fmt, ...)
{
	int e = errno;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dprintf(2, "cairn: sandbox: %s: %s\n", msg, strerror(e));
	_exit(127);
}

/* snprintf into an array, refusing paths that do not fit. */
#define FMT(b, ...)                                                       \
	do {                                                                  \
		if (snprintf(b, sizeof b, __VA_ARGS__) >= (int)sizeof b) {        \
			errno = ENAMETOOLONG;                                         \
			return -1;                                                    \
		}                                                                 \
	} while (0)

/* Every function below returns 0, or -1 with errno and a word in *what.
 * Per thread: children set up on two spawner threads at once each write
 * their own (a CLONE_VM child runs on its parent thread's TLS). */
static _Thread_local const char *what;

/* mkdir -p: up from the path itself to the first directory that exists
 * (one call when the parent is there, as it mostly is), then down again. */
static int mkdirs(const char *path)
{
	char buf[4096];
	FMT(buf, "%s", path);
	size_t len = strlen(buf);
	while (mkdir(buf, 0755) < 0 && errno != EEXIST) {
		char *slash = strrchr(buf, '/');
		if (errno != ENOENT || !slash || slash == buf)
			return what = "mkdir", -1;
		*slash = 0;
	}
	for (size_t i = strlen(buf); i < len; i += strlen(buf + i)) {
		buf[i] = '/';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return what = "mkdir", -1;
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) < 0) {
		if (fd >= 0)
			close(fd);
		return what = "id map", -1;
	}
	close(fd);
	return 0;
}

/* Bind src onto dst (made a file or a directory like src), read-only
 * unless rw, keeping the flags a user namespace may not drop. */
static int bind_into(const char *src, const char *dst, int rw)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return what = "stat", -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdirs(dst) < 0)
			return -1;
	} else {
		char parent[4096];
		FMT(parent, "%s", dst);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = 0;
			if (mkdirs(parent) < 0)
				return -1;
		}
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return what = "create", -1;
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return what = "bind", -1;
	if (rw)
		return 0;
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
		return what = "read-only remount", -1;
	return 0;
}

/* A host directory in the image, or the symlink it is (/bin -> usr/bin). */
static int system_dir(const char *d)
{
	char dst[4096], target[4096];
	FMT(dst, "%s%s", sb.base, d);
	struct stat st;
	if (lstat(d, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(d, target, sizeof target - 1);
		if (n < 0)
			return what = "readlink", -1;
		target[n] = 0;
		if (symlink(target, dst) < 0 && errno != EEXIST)
			return what = "symlink", -1;
		return 0;
	}
	return S_ISDIR(st.st_mode) ? bind_into(d, dst, 0) : 0;
}

/* The namespaces every action joins, made once by a child that then
 * dies; they live on through their descriptors:
 *   - a network namespace with only loopback, up;
 *   - the actions' user namespace, a child of cairn's, where cairn's uid
 *     and gid are nobody's (SANDBOX_UID, SANDBOX_GID) and nothing else is
 *     mapped. An action joins it with one setns (a namespace and its id
 *     maps made per action cost more than the rest of drop_privileges).
 * Made in that order, the network namespace belongs to cairn's user
 * namespace, where the actions hold nothing. A kernel or container that
 * allows cairn one level of user namespace and not the next fails here,
 * so --sandbox=auto falls back rather than each action failing. */
static int make_namespaces(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return what = "pipe", -1;
	pid_t pid = fork();
	if (pid < 0)
		return what = "fork", -1;
	if (pid == 0) {
		char ok = 0;
		if (unshare(CLONE_NEWNET) == 0) {
			int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			struct ifreq ifr;
			memset(&ifr, 0, sizeof ifr);
			strcpy(ifr.ifr_name, "lo");
			if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
				ifr.ifr_flags |= IFF_UP;
				if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
					ok = 1;
			}
		}
		if (ok && unshare(CLONE_NEWUSER) < 0)
			ok = 2;
		if (write(p[1], &ok, 1) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char ok = 0;
	ssize_t n = read(p[0], &ok, 1);
	close(p[0]);
	int rc = -1;
	if (n != 1 || ok != 1) {
		errno = n == 1 ? EPERM : ECHILD;
		what = ok == 2 ? "user namespace for actions" : "network namespace";
		goto out;
	}
	char path[64], map[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if ((sb.netfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		what = "network namespace";
		goto out;
	}
	/* cairn holds CAP_SETUID where the child's namespace was made: any
	 * one-line map may be written, setgroups left as it is */
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof map, "%u %u 1", (unsigned)SANDBOX_UID, (unsigned)geteuid());
	if (write_file(path, map) < 0)
		goto out;
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof map, "%u %u 1", (unsigned)SANDBOX_GID, (unsigned)getegid());
	if (write_file(path, map) < 0)
		goto out;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if ((sb.userfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		what = "user namespace for actions";
		goto out;
	}
	rc = 0;
out:;
	int e = errno;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	errno = e;
	return rc;
}

static int init(const char *root, const char *state)
{
	if (hook("NO_NAMESPACES")) { /* a kernel without namespaces */
		errno = ENOSYS;
		return what = "namespaces disabled by CAIRN_HOOK_NO_NAMESPACES", -1;
	}
	sb.last_cap = CAP_LAST_CAP; /* this header's; the kernel may know more */
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &sb.last_cap) != 1 || sb.last_cap < 0 || sb.last_cap > 63)
			sb.last_cap = CAP_LAST_CAP;
		fclose(f);
	}
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (geteuid() != 0) {
		/* a user namespace where this process may mount */
		if (unshare(CLONE_NEWUSER) < 0)
			return what = "user namespace", -1;
		char map[64];
		snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
		if (write_file("/proc/self/setgroups", "deny") < 0 ||
		    write_file("/proc/self/uid_map", map) < 0)
			return -1;
		snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -1;
	}
	if (unshare(CLONE_NEWNS) < 0)
		return what = "mount namespace", -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return what = "private mounts", -1;
	FMT(sb.root, "%s", root);
	/* first, so that it holds none of the mounts below */
	FMT(sb.ro, "%s/ro", state);
	if (bind_into(sb.root, sb.ro, 0) < 0)
		return -1;
	FMT(sb.base, "%s/base", state);
	if (mkdirs(sb.base) < 0)
		return -1;
	if (mount("tmpfs", sb.base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return what = "tmpfs", -1;
	static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
	                                   "/libx32", "/etc", NULL};
	for (const char *const *d = sys; *d; d++)
		if (system_dir(*d) < 0)
			return -1;
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", NULL};
	char p[4096], q[4096];
	for (const char *const *d = devs; *d; d++) {
		FMT(p, "/dev/%s", *d);
		FMT(q, "%s/dev/%s", sb.base, *d);
		if (bind_into(p, q, 1) < 0)
			return -1;
	}
	FMT(q, "%s/tmp", sb.base);
	if (mkdirs(q) < 0)
		return -1;
	FMT(q, "%s/proc", sb.base);
	if (mkdirs(q) < 0)
		return -1;
	FMT(q, "%s%s", sb.base, sb.root);
	if (mkdirs(q) < 0)
		return -1;
	if (mount(NULL, sb.base, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return what = "read-only base", -1;
	FMT(q, "%s/out", state);
	if (mkdirs(q) < 0)
		return -1;
	if (mount("tmpfs", q, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return what = "tmpfs", -1;
	return make_namespaces();
}

int sandbox_init(const char *root, const char *state, const char **why)
{
	if (sb.ready)
		return 0;
	if (sb.failed || init(root, state) < 0) {
		if (!sb.failed)
			snprintf(sb.why, sizeof sb.why, "%s: %s", what, strerror(errno));
		sb.failed = 1;
		*why = sb.why;
		return -1;
	}
	sb.ready = 1;
	return 0;
}

/* ---- per action: runs in the cloned child, on its own stack ---- */

struct call {
	const struct sandbox_spec *sp;
	const char *prog;
	char *const *argv, *const *envp;
	const char *in, *out;
	int append, outfd;
};

/* The action's image: /tmp and /proc, a tmpfs over the workspace root
 * (after /tmp: the workspace may live under it), then output directories
 * (before the inputs, which may live below them), shared directories and
 * inputs. */
static int image(const struct sandbox_spec *sp)
{
	char p[4096], q[4096];
	FMT(q, "%s/tmp", sb.base);
	if (mount("tmpfs", q, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return what = "/tmp", -1;
	FMT(q, "%s/proc", sb.base);
	if (mount("proc", q, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return what = "/proc", -1;
	FMT(q, "%s%s", sb.base, sb.root);
	if (mkdirs(q) < 0)
		return -1;
	if (mount("tmpfs", q, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return what = "workspace tmpfs", -1;
	for (size_t i = 0; i < sp->noutdirs; i++) {
		FMT(p, "%s/out/%s", sp->dir, sp->outdirs[i]);
		FMT(q, "%s%s/%s", sb.base, sb.root, sp->outdirs[i]);
		if (mkdirs(p) < 0 || bind_into(p, q, 1) < 0)
			return -1;
	}
	for (size_t i = 0; i < sp->nrwdirs; i++) {
		FMT(p, "%s/%s", sb.root, sp->rwdirs[i]);
		FMT(q, "%s%s/%s", sb.base, sb.root, sp->rwdirs[i]);
		if (bind_into(p, q, 1) < 0)
			return -1;
	}
	/* host directories shown read-only where they are (a health check's
	 * stage); one that does not exist is left out */
	for (size_t i = 0; i < sp->nrodirs; i++) {
		struct stat st;
		if (stat(sp->rodirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		FMT(q, "%s%s", sb.base, sp->rodirs[i]);
		if (bind_into(sp->rodirs[i], q, 0) < 0)
			return -1;
	}
	/* inputs: a placeholder file, then a bind from the read-only view of
	 * the workspace (read-only already); parents made once per directory */
	char made[4096] = "";
	for (size_t i = 0; i < sp->ninputs; i++) {
		const char *in = sp->inputs[i], *slash = strrchr(in, '/');
		size_t dlen = slash ? (size_t)(slash - in) : 0;
		FMT(q, "%s%s/%.*s", sb.base, sb.root, (int)dlen, in);
		if (strcmp(q, made) != 0) {
			if (mkdirs(q) < 0)
				return -1;
			memcpy(made, q, strlen(q) + 1);
		}
		FMT(p, "%s/%s", sb.ro, in);
		FMT(q, "%s%s/%s", sb.base, sb.root, in);
		int fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return what = "create", -1;
		close(fd);
		if (mount(p, q, NULL, MS_BIND, NULL) < 0)
			return what = "bind", -1;
	}
	/* the image becomes the root of the mount namespace and the host's
	 * root is detached: no path leads out of it, not even one that a
	 * chroot inside leaves behind (a root stacked on the image, then
	 * unmounted: pivot_root needs no directory for the old root) */
	if (chdir(sb.base) < 0)
		return what = "chdir", -1;
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return what = "pivot_root", -1;
	if (umount2(".", MNT_DETACH) < 0)
		return what = "detach the host's root", -1;
	if (chdir(sb.root) < 0)
		return what = "chdir", -1;
	return 0;
}

/* The action runs as nobody in the actions' user namespace (see
 * make_namespaces), with no capability there and none to gain:
 *   - its mounts (the image) belong to cairn's namespace, where it holds
 *     nothing, so it can neither remount an input read-write nor unmount
 *     one; in a namespace it makes itself, they are locked as they are;
 *   - its capability sets are empty and no_new_privs is set, so no file
 *     capability or set-user-ID program gives any back; the bounding set
 *     is emptied too, though with both of those it could add nothing.
 * So it is when cairn runs as root too: root's own mounts are then just
 * as out of reach. Its files stay cairn's: nobody there is cairn here. */
static int drop_privileges(void)
{
	if (setgroups(0, NULL) < 0 && errno != EPERM) /* EPERM: denied already */
		return what = "setgroups", -1;
	if (setns(sb.userfd, CLONE_NEWUSER) < 0)
		return what = "user namespace", -1;
	for (int cap = 0; cap <= sb.last_cap; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return what = "drop capabilities", -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return what = "drop capabilities", -1;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	memset(none, 0, sizeof none);
	if (syscall(SYS_capset, &hdr, none) < 0)
		return what = "drop capabilities", -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return what = "no_new_privs", -1;
	return 0;
}

static int child(void *arg)
{
	struct call *c = arg;
	setpgid(0, 0);
	static const int sigs[] = {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGQUIT, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		signal(sigs[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(c->outfd, 1) < 0 || dup2(c->outfd, 2) < 0)
		die("stdio");
	if (!c->sp->network && setns(sb.netfd, CLONE_NEWNET) < 0)
		die("network namespace");
	if (image(c->sp) < 0 || drop_privileges() < 0)
		die("%s", what);
	/* it is in a process group of its own, which a signal to its
	 * parent's does not reach: it dies with the thread that made it (a
	 * spawner thread lives as long as its process), so a cairn or a
	 * serve worker killed takes its actions with it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("parent-death signal");
	int nul = open("/dev/null", O_RDONLY); /* the image's */
	if (nul < 0 || dup2(nul, 0) < 0)
		die("stdin");
	/* redirections fail as the shell's do: a message and exit 2 */
	if (c->in) {
		int fd = open(c->in, O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0) {
			dprintf(2, "cairn: cannot open %s: %s\n", c->in, strerror(errno));
			_exit(2);
		}
	}
	if (c->out) {
		int fd = open(c->out, O_WRONLY | O_CREAT | (c->append ? O_APPEND : O_TRUNC), 0666);
		if (fd < 0 || dup2(fd, 1) < 0) {
			dprintf(2, "cairn: cannot create %s: %s\n", c->out, strerror(errno));
			_exit(2);
		}
	}
	/* only stdin, stdout and stderr pass: not what cairn inherited, nor
	 * the descriptors opened above */
	if (close_range(3, ~0U, 0) < 0)
		die("close descriptors");
	execve(c->prog, c->argv, c->envp);
	die("cannot run %s", c->prog);
}

pid_t sandbox_spawn(const struct sandbox_spec *sp, const char *prog, char *const argv[],
                    char *const envp[], const char *in, const char *out, int append, int outfd,
                    const char **why)
{
	if (!sb.ready) {
		if (!sb.failed)
			fs_rm_rf(sp->state); /* what a killed cairn left; hidden once mounted over */
		if (sandbox_init(sp->root, sp->state, why) < 0) {
			errno = EPERM;
			return -1;
		}
	}
	struct call c = {sp, prog, argv, envp, in, out, append, outfd};
	/* the child runs on this stack until it execs, while this thread waits
	 * (CLONE_VFORK): one stack serves every call of a thread, kept (a fresh
	 * mapping each time is page faults and an munmap per action) */
	enum { STACK = 256 * 1024 };
	static _Thread_local char *stack;
	if (!stack && !(stack = malloc(STACK)))
		return -1;
	int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
	            CLONE_NEWUTS | SIGCHLD;
	return clone(child, stack + STACK, flags, &c);
}

int sandbox_ready(void)
{
	return sb.ready;
}

int sandbox_probe(const char **why)
{
	int p[2];
	char state[] = "/tmp/cairn-probe-XXXXXX";
	if (pipe(p) < 0 || !mkdtemp(state)) {
		*why = "cannot make a pipe or a temporary directory";
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*why = "fork failed";
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		const char *w = "";
		int ok = sandbox_init("/", state, &w) == 0;
		if (!ok && write(p[1], w, strlen(w)) < 0)
			_exit(2);
		_exit(ok ? 0 : 1); /* its namespaces and mounts die with it */
	}
	close(p[1]);
	static char msg[300];
	ssize_t n = read(p[0], msg, sizeof msg - 1);
	close(p[0]);
	msg[n > 0 ? n : 0] = 0;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	/* the mount points init made, empty once the child is gone */
	static const char *const made[] = {"base", "ro", "out"};
	for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
		char dir[sizeof state + 8];
		snprintf(dir, sizeof dir, "%s/%s", state, made[i]);
		rmdir(dir);
	}
	rmdir(state);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	*why = n > 0 ? msg : "this kernel or container does not let cairn create namespaces";
	return -1;
}
