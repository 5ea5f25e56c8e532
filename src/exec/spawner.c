/* spawner: see spawner.h. A queue under one mutex; results are written
 * whole (a few bytes, so atomically) to a pipe. */
#include "exec/spawner.h"
#include "util/hook.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One queued spawn: sandbox_spawn's arguments, copied. */
struct req {
	struct req *next;       /* queue order */
	size_t id;              /* the job's, for the result */
	struct sandbox_spec sp; /* its strings and arrays owned */
	char *prog, *in, *out;  /* in, out: redirections, or NULL */
	char **argv, **envp;    /* NULL-terminated */
	int append, outfd;      /* outfd: closed once spawned */
};

/* The queue, under mu; cv wakes a worker. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *head, *tail;
	int fds[2];  /* results: struct spawn_done, written whole */
	int started; /* the workers run */
	int fail;    /* fault injection for the tests: every spawn fails */
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, {-1, -1}, 0, 0};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void req_free(struct req *r)
{
	free((char *)r->sp.root);
	free((char *)r->sp.state);
	free((char *)r->sp.dir);
	strv_free((char **)r->sp.inputs);
	strv_free((char **)r->sp.outdirs);
	strv_free((char **)r->sp.rwdirs);
	free(r->prog);
	free(r->in);
	free(r->out);
	strv_free(r->argv);
	strv_free(r->envp);
	free(r);
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (!q.head)
			pthread_cond_wait(&q.cv, &q.mu);
		struct req *r = q.head;
		q.head = r->next;
		if (!q.head)
			q.tail = NULL;
		pthread_mutex_unlock(&q.mu);
		const char *why = NULL;
		struct spawn_done d = {.id = r->id};
		if (q.fail) {
			d.pid = -1;
			errno = EAGAIN;
		} else {
			d.pid = sandbox_spawn(&r->sp, r->prog, r->argv, r->envp, r->in, r->out, r->append,
			                      r->outfd, &why);
		}
		d.err = d.pid < 0 ? errno : 0;
		close(r->outfd);
		req_free(r);
		while (write(q.fds[1], &d, sizeof d) < 0 && errno == EINTR) {
		}
	}
	return NULL;
}

int spawner_start(int nthreads)
{
	if (q.started)
		return 0;
	if (pipe2(q.fds, O_CLOEXEC) < 0)
		return -1;
	q.fail = hook("SPAWNER_FAILS");
	fcntl(q.fds[0], F_SETFL, O_NONBLOCK);
	/* signals are the build loop's to take */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int n = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, worker, NULL) == 0)
			n++;
		pthread_attr_destroy(&at);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (n == 0) {
		close(q.fds[0]);
		close(q.fds[1]);
		return -1;
	}
	q.started = 1;
	return 0;
}

void spawner_submit(size_t id, const struct sandbox_spec *sp, const char *prog,
                    const char *const argv[], const char *const envp[], const char *in,
                    const char *out, int append, int outfd)
{
	struct req *r = xcalloc(1, sizeof *r);
	r->id = id;
	r->sp = *sp;
	r->sp.root = xstrdup(sp->root);
	r->sp.state = xstrdup(sp->state);
	r->sp.dir = xstrdup(sp->dir);
	r->sp.inputs = (const char *const *)strv_dup(sp->inputs, sp->ninputs);
	r->sp.outdirs = (const char *const *)strv_dup(sp->outdirs, sp->noutdirs);
	r->sp.rwdirs = (const char *const *)strv_dup(sp->rwdirs, sp->nrwdirs);
	r->prog = xstrdup(prog);
	r->in = dup_or_null(in);
	r->out = dup_or_null(out);
	r->argv = strv_dup(argv, strv_len(argv));
	r->envp = strv_dup(envp, strv_len(envp));
	r->append = append;
	r->outfd = outfd;
	pthread_mutex_lock(&q.mu);
	if (q.tail)
		q.tail->next = r;
	else
		q.head = r;
	q.tail = r;
	pthread_cond_signal(&q.cv);
	pthread_mutex_unlock(&q.mu);
}

int spawner_fd(void)
{
	return q.started ? q.fds[0] : -1;
}

int spawner_result(struct spawn_done *d)
{
	return q.started && read(q.fds[0], d, sizeof *d) == (ssize_t)sizeof *d;
}
