/* os_posix: the local runner. Each job is spawned into a process group
 * of its own, stdin from /dev/null, stdout and stderr into one pipe: by
 * posix_spawn, or sandboxed (sandbox_spawn, on the spawner's threads once
 * the sandbox is up). A single poll() loop watches the pipes and a
 * self-pipe that the SIGCHLD/SIGINT/SIGTERM handlers write to.
 *
 * A job ends when its main process exits, not when its pipe closes: what
 * is left in the pipe is drained, then the whole process group is killed,
 * so a background process left behind can neither hang the build nor
 * outlive it. */
#include "exec/runner.h"
#include "exec/shell.h"
#include "exec/spawner.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct ljob {
	size_t id;
	pid_t pid;       /* also the process group id; 0 once reaped */
	int pending;     /* handed to the spawner, pid not known yet */
	int fd;          /* read end of the output pipe, -1 once closed */
	int status;      /* wait status once reaped */
	struct buf out;
	uint64_t start_ns;
	uint64_t deadline_ns; /* 0: none */
	int timed_out;
};

struct local_runner {
	struct runner base;
	struct ljob *jobs;
	size_t njobs, cap;
	struct pollfd *pfds;
	size_t cappfds;
	int watch_fd;    /* runner_local_watch's, or -1 */
};

static int sigpipe_fds[2] = {-1, -1};
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	int e = errno;
	char c = sig == SIGCHLD ? 'C' : 'I';
	if (sig != SIGCHLD)
		interrupted = 1;
	if (write(sigpipe_fds[1], &c, 1) < 0) {
		/* the pipe is full: a wake-up is already pending */
	}
	errno = e;
}

int runner_interrupted(void)
{
	return interrupted;
}

int runner_signal_fd(void)
{
	return sigpipe_fds[0];
}

/* Find argv0 in the PATH of envp, as execvp would. */
static char *search_path(const char *argv0, const char *const *envp)
{
	if (strchr(argv0, '/'))
		return xstrdup(argv0); /* as execve would: it reports what is wrong */
	const char *path = NULL;
	for (const char *const *e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	return fs_which(argv0, path);
}

/* One spawner thread per processor, up to four. */
static int spawn_threads(void)
{
	int n = cpu_count();
	return n > 4 ? 4 : n;
}

/* What a job execs: its program found in PATH, and its argv. For
 * "/bin/sh -c CMD" where CMD needs no shell (shell_simple), CMD's own
 * words, with its redirections done by whichever spawn path runs it. */
struct launch {
	char *prog;               /* argv[0] found in the job's PATH; owned */
	const char *const *argv;  /* the job's argv, or sc.argv */
	struct simple_cmd sc;     /* the shortcut's words and redirections (zero: none) */
};

static void launch_free(struct launch *l)
{
	free(l->prog);
	simple_cmd_free(&l->sc);
}

/* Decide how j is exec'd: through the shortcut when direct and CMD is
 * simple and its program is found, else as j's argv. 0, or -1 with *e
 * set (the program is not found). */
static int launch_prepare(const struct job *j, int direct, struct launch *l, struct err *e)
{
	const char *const *a = j->argv;
	memset(l, 0, sizeof *l);
	l->argv = a;
	if (direct && a[0] && a[1] && a[2] && !a[3] && !strcmp(a[0], "/bin/sh") &&
	    !strcmp(a[1], "-c") && shell_simple(a[2], &l->sc)) {
		l->prog = search_path(l->sc.argv[0], j->envp);
		if (l->prog)
			l->argv = (const char *const *)l->sc.argv;
		else
			simple_cmd_free(&l->sc);
	}
	if (!l->prog)
		l->prog = search_path(a[0], j->envp);
	if (!l->prog) {
		errno = ENOENT;
		return err_sys(e, "cannot run '%s'", a[0]);
	}
	return 0;
}

/* Spawn path 1, once the sandbox is up (the first sandboxed spawn made it,
 * on this thread): queue the spawn for the spawner's threads, which close
 * outfd. The pid comes later (take_spawned). */
static void spawn_queued(const struct job *j, const struct launch *l, int outfd)
{
	spawner_submit(j->id, j->sandbox, l->prog, l->argv, j->envp, l->sc.in, l->sc.out,
	               l->sc.append, outfd);
}

/* Spawn path 2: sandboxed, on this thread (the first sandboxed job, or no
 * spawner). 0 with *pid, or -1 with *e set. */
static int spawn_sandboxed(const struct job *j, const struct launch *l, int outfd, pid_t *pid,
                           struct err *e)
{
	const char *why = NULL;
	*pid = sandbox_spawn(j->sandbox, l->prog, (char *const *)l->argv, (char *const *)j->envp,
	                     l->sc.in, l->sc.out, l->sc.append, outfd, &why);
	if (*pid >= 0)
		return 0;
	if (why)
		return err_input(e, NULL, "cannot sandbox actions: %s (run with --sandbox=auto to "
		                 "fall back, or --sandbox=none)", why);
	return err_sys(e, "cannot start a sandbox");
}

/* posix_spawn l into a process group of its own, with default signal
 * dispositions and an empty mask; stdin from /dev/null (or the shortcut's
 * <), stdout and stderr to outfd (or stdout to the shortcut's > or >>),
 * nothing else inherited. 0 with *pid, or an error number as posix_spawn
 * returns one. */
static int spawn_posix_once(const struct launch *l, const char *const *envp, int outfd,
                            pid_t *pid)
{
	const struct simple_cmd *sc = &l->sc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGPIPE);
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	/* each call fails only for want of memory or on a bad argument: the
	 * first error is kept, and nothing is spawned after one */
	rc = posix_spawn_file_actions_addopen(&fa, 0, sc->in ? sc->in : "/dev/null", O_RDONLY, 0);
	if (!rc && sc->out)
		rc = posix_spawn_file_actions_addopen(&fa, 1, sc->out,
		                                      O_WRONLY | O_CREAT |
		                                          (sc->append ? O_APPEND : O_TRUNC),
		                                      0666);
	else if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, outfd, 2);
	/* only stdin, stdout and stderr pass, not what cairn inherited */
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&at, &def);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (!rc)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		                                       POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawn(pid, l->prog, &fa, &at, (char *const *)l->argv, (char *const *)envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

/* Spawn path 3: unsandboxed, by posix_spawn. A shortcut whose redirection
 * fails (a missing < file, a > into a missing directory) runs again under
 * the shell, which says why. 0 with *pid, or -1 with *e set. */
static int spawn_posix(const struct job *j, struct launch *l, int outfd, pid_t *pid,
                       struct err *e)
{
	int rc = spawn_posix_once(l, j->envp, outfd, pid);
	if (rc && l->argv != j->argv) {
		launch_free(l);
		if (launch_prepare(j, 0, l, e) < 0)
			return -1;
		rc = spawn_posix_once(l, j->envp, outfd, pid);
	}
	if (!rc)
		return 0;
	errno = rc;
	return err_sys(e, "cannot run '%s'", j->argv[0]);
}

/* Start j on one of the three spawn paths, its output into a fresh pipe
 * that the poll loop reads. The sh -c shortcut is decided first, for all
 * three. */
static int lr_start(struct runner *r, const struct job *j, struct err *e)
{
	struct local_runner *lr = (struct local_runner *)r;
	struct launch l;
	if (launch_prepare(j, 1, &l, e) < 0)
		return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		launch_free(&l);
		return err_sys(e, "pipe");
	}
	pid_t pid = 0;
	int pending = 0, rc = 0;
	if (j->sandbox && sandbox_ready() && spawner_start(spawn_threads()) == 0) {
		spawn_queued(j, &l, p[1]); /* the spawner closes p[1] */
		pending = 1;
	} else {
		rc = j->sandbox ? spawn_sandboxed(j, &l, p[1], &pid, e)
		                : spawn_posix(j, &l, p[1], &pid, e);
		close(p[1]);
	}
	launch_free(&l);
	if (rc < 0) {
		close(p[0]);
		return -1;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	struct ljob lj = {.id = j->id, .pid = pid, .pending = pending, .fd = p[0],
	                  .start_ns = now_ns()};
	if (j->timeout_ms)
		lj.deadline_ns = lj.start_ns + j->timeout_ms * 1000000;
	VEC_PUSH(lr->jobs, lr->njobs, lr->cap, lj);
	return 0;
}

/* Take the spawner's results: pids for pending jobs, or their failure. */
static void take_spawned(struct local_runner *lr)
{
	struct spawn_done d;
	while (spawner_result(&d)) {
		for (size_t i = 0; i < lr->njobs; i++) {
			struct ljob *j = &lr->jobs[i];
			if (!j->pending || j->id != d.id)
				continue;
			j->pending = 0;
			j->pid = d.pid > 0 ? d.pid : 0;
			if (d.pid <= 0) {
				buf_printf(&j->out, "cairn: cannot start a sandbox: %s\n", strerror(d.err));
				j->status = 127 << 8; /* as exit(127) */
			}
			break;
		}
	}
}

static void drain(struct ljob *j)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(j->fd, tmp, sizeof tmp);
		if (n > 0) {
			buf_putn(&j->out, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			close(j->fd);
			j->fd = -1;
		}
		return;
	}
}

static void reap(struct local_runner *lr)
{
	for (size_t i = 0; i < lr->njobs; i++) {
		struct ljob *j = &lr->jobs[i];
		if (!j->pid || j->pending)
			continue;
		int st;
		pid_t r = waitpid(j->pid, &st, WNOHANG);
		if (r == j->pid) {
			j->status = st;
			if (j->fd >= 0)
				drain(j);
			kill(-j->pid, SIGKILL); /* leftovers of the group */
			j->pid = 0;
		}
	}
}

static void finish(struct local_runner *lr, size_t i, struct job_done *d)
{
	struct ljob *j = &lr->jobs[i];
	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
	d->id = j->id;
	d->exit_code = WIFEXITED(j->status) ? WEXITSTATUS(j->status)
	               : WIFSIGNALED(j->status) ? 128 + WTERMSIG(j->status) : 255;
	d->outlen = j->out.len;
	d->output = buf_take(&j->out);
	d->start_ns = j->start_ns;
	d->end_ns = now_ns();
	d->timed_out = j->timed_out;
	lr->jobs[i] = lr->jobs[--lr->njobs];
}

static int lr_wait(struct runner *r, struct job_done *d)
{
	struct local_runner *lr = (struct local_runner *)r;
	for (;;) {
		if (interrupted)
			return 0;
		take_spawned(lr);
		reap(lr);
		for (size_t i = 0; i < lr->njobs; i++) {
			if (!lr->jobs[i].pid && !lr->jobs[i].pending) {
				finish(lr, i, d);
				return 1;
			}
		}
		if (lr->njobs == 0 && lr->watch_fd < 0) {
			errno = ECHILD;
			return -1;
		}
		vec_reserve(&lr->pfds, &lr->cappfds, lr->njobs + 3, sizeof *lr->pfds);
		size_t n = 0;
		lr->pfds[n++] = (struct pollfd){.fd = sigpipe_fds[0], .events = POLLIN};
		/* (-1 when there is no spawner or nothing watched: poll ignores it) */
		lr->pfds[n++] = (struct pollfd){.fd = spawner_fd(), .events = POLLIN};
		lr->pfds[n++] = (struct pollfd){.fd = lr->watch_fd, .events = POLLIN};
		for (size_t i = 0; i < lr->njobs; i++)
			if (lr->jobs[i].fd >= 0)
				lr->pfds[n++] = (struct pollfd){.fd = lr->jobs[i].fd, .events = POLLIN};
		/* wake for the nearest deadline; kill what has passed its own */
		uint64_t now = now_ns(), next = 0;
		for (size_t i = 0; i < lr->njobs; i++) {
			struct ljob *j = &lr->jobs[i];
			if (!j->deadline_ns || !j->pid || j->timed_out)
				continue;
			if (j->deadline_ns <= now) {
				j->timed_out = 1;
				kill(-j->pid, SIGKILL);
			} else if (!next || j->deadline_ns < next) {
				next = j->deadline_ns;
			}
		}
		int wait_ms = next ? (int)((next - now) / 1000000 + 1) : -1;
		if (poll(lr->pfds, n, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (lr->pfds[0].revents) {
			char tmp[64];
			while (read(sigpipe_fds[0], tmp, sizeof tmp) > 0) {
			}
		}
		if (lr->pfds[2].revents)
			return 2;
		for (size_t k = 3; k < n; k++) {
			if (!lr->pfds[k].revents)
				continue;
			for (size_t i = 0; i < lr->njobs; i++)
				if (lr->jobs[i].fd == lr->pfds[k].fd)
					drain(&lr->jobs[i]);
		}
	}
}

static void lr_cancel(struct runner *r)
{
	struct local_runner *lr = (struct local_runner *)r;
	/* the spawner's jobs first get their pids (or fail) */
	for (;;) {
		take_spawned(lr);
		size_t pending = 0;
		for (size_t i = 0; i < lr->njobs; i++)
			pending += lr->jobs[i].pending;
		if (!pending)
			break;
		struct pollfd pf = {.fd = spawner_fd(), .events = POLLIN};
		poll(&pf, 1, -1);
	}
	for (size_t i = 0; i < lr->njobs; i++)
		if (lr->jobs[i].pid)
			kill(-lr->jobs[i].pid, SIGKILL);
	for (size_t i = 0; i < lr->njobs; i++) {
		struct ljob *j = &lr->jobs[i];
		if (j->pid)
			waitpid(j->pid, NULL, 0);
		if (j->fd >= 0)
			close(j->fd);
		buf_free(&j->out);
	}
	lr->njobs = 0;
}

static void lr_free(struct runner *r)
{
	struct local_runner *lr = (struct local_runner *)r;
	lr_cancel(r);
	free(lr->jobs);
	free(lr->pfds);
	free(lr);
}

struct runner *runner_local_new(void)
{
	if (sigpipe_fds[0] < 0) {
		if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
			return NULL;
		struct sigaction sa = {0};
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
		sigaction(SIGCHLD, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	struct local_runner *lr = xcalloc(1, sizeof *lr);
	lr->base.start = lr_start;
	lr->base.wait = lr_wait;
	lr->base.cancel = lr_cancel;
	lr->base.free = lr_free;
	lr->watch_fd = -1;
	return &lr->base;
}

void runner_local_watch(struct runner *r, int fd)
{
	((struct local_runner *)r)->watch_fd = fd;
}
