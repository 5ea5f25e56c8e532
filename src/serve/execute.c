/* serve/execute: Execution (Execute, WaitExecution) for `cairn serve`.
 *
 * Actions run in a pool of worker processes (worker.c), forked from the
 * server's single thread and fed over pipes, one action at a time each.
 * The pool keeps MIN workers warm, grows while actions queue, up to MAX,
 * and a worker above MIN idle for the idle period exits. Actions wait in
 * order, at most `queue` of them; beyond, an Execute is refused with
 * RESOURCE_EXHAUSTED. Identical Executes in flight share one run. A
 * worker that dies mid-action is replaced and its action tried once
 * more. The worker's runner kills an action past its timeout (answered
 * DEADLINE_EXCEEDED, with what it printed); past the server's own
 * backstop a worker's process group is killed. When every caller of an
 * action has gone, its worker is killed. */
#include "serve/execute.h"
#include "serve/worker.h"
#include "remote/grpc.h"
#include "remote/result.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include "operations.pb-c.h"
#include "remote_execution.pb-c.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define V2(x) Build__Bazel__Remote__Execution__V2__##x
#define D(x) build__bazel__remote__execution__v2__##x##__descriptor
#define SVC "/build.bazel.remote.execution.v2.Execution/"

/* the backstop: the longest an action may hold a worker (its own timeout
 * is the worker's to enforce, and at most an hour by default) */
enum { MAX_WAITERS = 64, BACKSTOP_S = 3600 + 60 };

struct worker;

struct xjob {
	char hex[65];              /* the action's digest */
	uint64_t size;
	struct worker *w;          /* its worker, or NULL while queued */
	uint64_t deadline;         /* ns: the backstop */
	int tries;
	int timed_out;
	struct srv_call *waiters[MAX_WAITERS];
	size_t nwaiters;
	struct xjob *next;
};

struct worker {
	pid_t pid;
	int in, out;               /* its requests (we write), its answers (we read) */
	struct xjob *job;          /* what it runs, or NULL while idle */
	uint64_t idle_ns;          /* idle since */
	struct buf got;            /* what it wrote of its answer */
	struct worker *next;
};

struct exec_pool {
	char *dir;                 /* the store */
	struct exec_opts o;
	struct xjob *jobs;         /* running and queued, in order */
	struct worker *workers;
	struct exec_stats st;
};

/* ---- workers ---- */

/* Fork a worker: it sees its two pipes as fds 3 and 4 and nothing else of
 * the server's (no socket of ours outlives the server in it). NULL when
 * it cannot. */
static struct worker *worker_spawn(struct exec_pool *p)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return NULL;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		int a = fcntl(in[0], F_DUPFD, 16), b = fcntl(out[1], F_DUPFD, 16);
		if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
			_exit(127);
		close_range(5, ~0u, 0);
		worker_main(p->dir, 3, 4);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return NULL;
	}
	setpgid(pid, pid);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	struct worker *w = xcalloc(1, sizeof *w);
	w->pid = pid;
	w->in = in[1];
	w->out = out[0];
	w->idle_ns = now_ns();
	w->next = p->workers;
	p->workers = w;
	p->st.spawned++;
	return w;
}

/* Kill w and forget it; its action dies with it (the sandbox's
 * parent-death signal). */
static void worker_end(struct exec_pool *p, struct worker *w)
{
	kill(-w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	/* what it left of its work directory: the mount points of its sandbox,
	 * which only its own mount namespace had busy */
	char *base = xasprintf("%s/exec/%ld", p->dir, (long)w->pid);
	fs_rm_rf(base);
	free(base);
	for (struct worker **q = &p->workers; *q; q = &(*q)->next)
		if (*q == w) {
			*q = w->next;
			break;
		}
	close(w->in);
	close(w->out);
	buf_free(&w->got);
	free(w);
}

static size_t count_workers(const struct exec_pool *p, int busy_only)
{
	size_t n = 0;
	for (const struct worker *w = p->workers; w; w = w->next)
		n += !busy_only || w->job;
	return n;
}

/* Keep MIN workers. */
static void keep_min(struct exec_pool *p)
{
	while (count_workers(p, 0) < (size_t)p->o.min && worker_spawn(p))
		;
}

/* ---- jobs ---- */

/* The final Operation of an action to its callers, each call finished. */
static void answer(struct exec_pool *p, struct xjob *j, int code, const char *msg,
                   const uint8_t *result, size_t n, int cached)
{
	/* ExecuteResponse, by hand: result (1), cached_result (2), status (3) */
	struct buf er = {0};
	unsigned char v[10];
	size_t k;
	if (result) {
		buf_putc(&er, 0x0a);
		k = 0;
		for (uint64_t x = n;; x >>= 7) {
			v[k++] = (unsigned char)((x & 0x7f) | (x > 0x7f ? 0x80 : 0));
			if (x <= 0x7f)
				break;
		}
		buf_putn(&er, v, k);
		buf_putn(&er, result, n);
	}
	if (cached)
		buf_putn(&er, "\x10\x01", 2);
	Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
	status.code = code;
	status.message = (char *)(msg ? msg : "");
	size_t sn = protobuf_c_message_get_packed_size(&status.base);
	uint8_t *sb = xmalloc(sn + 1);
	protobuf_c_message_pack(&status.base, sb);
	buf_putc(&er, 0x1a);
	k = 0;
	for (uint64_t x = sn;; x >>= 7) {
		v[k++] = (unsigned char)((x & 0x7f) | (x > 0x7f ? 0x80 : 0));
		if (x <= 0x7f)
			break;
	}
	buf_putn(&er, v, k);
	buf_putn(&er, sb, sn);
	free(sb);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)"type.googleapis.com/build.bazel.remote.execution.v2.ExecuteResponse";
	any.value.data = (uint8_t *)er.s;
	any.value.len = er.len;
	char *name = xasprintf("operations/%s", j->hex);
	Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
	op.name = name;
	op.done = 1;
	op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
	op.response = &any;
	size_t on = protobuf_c_message_get_packed_size(&op.base);
	uint8_t *ob = xmalloc(on + 1);
	protobuf_c_message_pack(&op.base, ob);
	for (size_t i = 0; i < j->nwaiters; i++) {
		*srv_state(j->waiters[i]) = NULL; /* answered: nothing to drop */
		srv_send(j->waiters[i], ob, on);
		srv_finish(j->waiters[i], GRPC_OK, NULL);
	}
	j->nwaiters = 0;
	free(ob);
	free(name);
	buf_free(&er);
	if (code == GRPC_OK)
		p->st.ok++;
	else
		p->st.failed++;
}

static void job_remove(struct exec_pool *p, struct xjob *j)
{
	for (struct xjob **q = &p->jobs; *q; q = &(*q)->next)
		if (*q == j) {
			*q = j->next;
			break;
		}
	free(j);
}

/* Hand job j to worker w. */
static void assign(struct exec_pool *p, struct worker *w, struct xjob *j)
{
	char line[96];
	int n = snprintf(line, sizeof line, "%s %llu\n", j->hex, (unsigned long long)j->size);
	j->w = w;
	j->tries++;
	j->deadline = now_ns() + (uint64_t)BACKSTOP_S * 1000000000ull;
	w->job = j;
	p->st.started++;
	/* a short line into an idle worker's empty pipe: it fits at once; a
	 * worker that died meanwhile is found when its answers pipe closes */
	if (write(w->in, line, (size_t)n) != n)
		kill(-w->pid, SIGKILL);
}

/* Start queued jobs while there are workers, or room for more. */
static void schedule(struct exec_pool *p)
{
	for (struct xjob *j = p->jobs, *nx; j; j = nx) {
		nx = j->next;
		if (j->w)
			continue;
		struct worker *w = p->workers;
		while (w && w->job)
			w = w->next;
		if (!w && count_workers(p, 0) < (size_t)p->o.max)
			w = worker_spawn(p);
		if (w) {
			assign(p, w, j);
		} else if (!p->workers) {
			answer(p, j, GRPC_RESOURCE_EXHAUSTED, "cannot start a worker", NULL, 0, 0);
			job_remove(p, j);
		} else {
			return;
		}
	}
}

/* The answer w wrote is whole: 1, and it went to the job's callers. */
static int answered(struct exec_pool *p, struct worker *w)
{
	const unsigned char *b = (const unsigned char *)w->got.s;
	struct reader rd = {b, b + w->got.len, 0};
	rd_bytes(&rd, 1);
	uint32_t num = rd_u32(&rd);
	size_t len;
	const unsigned char *body = (const unsigned char *)rd_lstr(&rd, &len);
	if (!body) /* not all there yet */
		return 0;
	struct xjob *j = w->job;
	if (b[0] == 'R') {
		answer(p, j, GRPC_OK, NULL, body, len, 0);
	} else if (b[0] == 'T') {
		p->st.timed_out++;
		answer(p, j, GRPC_DEADLINE_EXCEEDED, "the action ran past its timeout", body, len, 0);
	} else {
		char *m = xstrndup((const char *)body, len);
		answer(p, j, b[0] == 'E' ? (int)num : GRPC_INTERNAL, b[0] == 'E' ? m : "a bad answer from a worker",
		       NULL, 0, 0);
		free(m);
	}
	job_remove(p, j);
	w->job = NULL;
	w->idle_ns = now_ns();
	buf_reset(&w->got);
	return 1;
}

/* Worker w's pipe closed: it died. Its action is answered, or tried once
 * more on another. */
static void worker_died(struct exec_pool *p, struct worker *w)
{
	struct xjob *j = w->job;
	if (j && !answered(p, w)) {
		j->w = NULL;
		if (j->timed_out) {
			p->st.timed_out++;
			answer(p, j, GRPC_DEADLINE_EXCEEDED, "the action ran past the server's limit", NULL, 0, 0);
			job_remove(p, j);
		} else if (j->tries < 2 && j->nwaiters) {
			p->st.retried++;
		} else {
			answer(p, j, GRPC_INTERNAL, "the worker died twice", NULL, 0, 0);
			job_remove(p, j);
		}
	}
	w->job = NULL;
	worker_end(p, w);
	keep_min(p);
	schedule(p);
}

size_t exec_fds(void *ctx, struct pollfd *pf, size_t max)
{
	struct exec_pool *p = ctx;
	size_t n = 0;
	uint64_t now = now_ns(), idle = (uint64_t)p->o.idle_s * 1000000000ull;
	for (struct worker *w = p->workers, *nx; w; w = nx) {
		nx = w->next;
		if (w->job && now > w->job->deadline && !w->job->timed_out) {
			w->job->timed_out = 1;
			kill(-w->pid, SIGKILL);
		}
		/* shrink: a worker above MIN, idle for the idle period */
		if (!w->job && now - w->idle_ns > idle && count_workers(p, 0) > (size_t)p->o.min) {
			worker_end(p, w);
			continue;
		}
		if (n < max)
			pf[n++] = (struct pollfd){w->out, POLLIN, 0};
	}
	return n;
}

void exec_handle(void *ctx, const struct pollfd *pf, size_t n)
{
	struct exec_pool *p = ctx;
	for (size_t i = 0; i < n; i++) {
		if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct worker *w = p->workers;
		while (w && w->out != pf[i].fd)
			w = w->next;
		if (!w)
			continue;
		char b[65536];
		ssize_t r;
		while ((r = read(w->out, b, sizeof b)) > 0)
			buf_putn(&w->got, b, (size_t)r);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			worker_died(p, w);
		else if (w->job && answered(p, w))
			schedule(p);
		else if (!w->job && w->got.len)
			worker_died(p, w); /* it spoke unasked */
	}
}

/* ---- the methods ---- */

/* The jobs that wait for a worker. */
static size_t count_queued(const struct exec_pool *p)
{
	size_t n = 0;
	for (const struct xjob *j = p->jobs; j; j = j->next)
		n += !j->w;
	return n;
}

/* The call c waits on job j. */
static void wait_on(struct srv_call *c, struct xjob *j)
{
	if (j->nwaiters == MAX_WAITERS) {
		srv_finish(c, GRPC_RESOURCE_EXHAUSTED, "too many callers wait on this action");
		return;
	}
	j->waiters[j->nwaiters++] = c;
	*srv_state(c) = j;
}

static struct xjob *find(struct exec_pool *p, const char *hex)
{
	for (struct xjob *j = p->jobs; j; j = j->next)
		if (!strcmp(j->hex, hex))
			return j;
	return NULL;
}

static void execute(struct srv_call *c)
{
	struct exec_pool *p = srv_ctx(c);
	const struct buf *b = srv_request(c);
	V2(ExecuteRequest) *req = (V2(ExecuteRequest) *)protobuf_c_message_unpack(&D(execute_request), NULL, b->len,
	                                                    (const uint8_t *)(b->s ? b->s : ""));
	struct digest d;
	if (!req || !req->action_digest || !req->action_digest->hash ||
	    digest_parse(req->action_digest->hash, &d) < 0 || req->action_digest->size_bytes <= 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "an ExecuteRequest without a SHA-256 action digest");
		if (req)
			protobuf_c_message_free_unpacked(&req->base, NULL);
		return;
	}
	char hex[65];
	digest_hex(&d, hex);
	uint64_t size = (uint64_t)req->action_digest->size_bytes;
	int skip = req->skip_cache_lookup;
	protobuf_c_message_free_unpacked(&req->base, NULL);
	if (!skip) {
		struct store *st = store_local_open(p->dir);
		struct action_result r = {0};
		int hit = st && st->ops->get_result(st, &d, size, &r) == 1;
		for (size_t i = 0; hit && i < r.noutputs; i++) {
			uint64_t got;
			hit = store_local_has(st, &r.outputs[i].d, &got) && got == r.outputs[i].size;
		}
		if (hit) {
			struct buf enc = {0};
			result_encode(&r, &enc);
			struct xjob tmp = {0};
			memcpy(tmp.hex, hex, 65);
			tmp.waiters[0] = c;
			tmp.nwaiters = 1;
			answer(p, &tmp, GRPC_OK, NULL, (const uint8_t *)(enc.s ? enc.s : ""), enc.len, 1);
			p->st.cached++;
			buf_free(&enc);
		}
		action_result_free(&r);
		if (st)
			st->ops->close(st);
		if (hit)
			return;
	}
	struct xjob *j = find(p, hex);
	if (j) {
		p->st.deduped++;
	} else {
		if (count_queued(p) >= p->o.queue) {
			p->st.refused++;
			srv_finish(c, GRPC_RESOURCE_EXHAUSTED, "the queue is full: try again later");
			return;
		}
		j = xcalloc(1, sizeof *j);
		memcpy(j->hex, hex, 65);
		j->size = size;
		struct xjob **q = &p->jobs;
		while (*q)
			q = &(*q)->next;
		*q = j;
	}
	wait_on(c, j);
	schedule(p);
}

static void wait_execution(struct srv_call *c)
{
	struct exec_pool *p = srv_ctx(c);
	const struct buf *b = srv_request(c);
	V2(WaitExecutionRequest) *req = (V2(WaitExecutionRequest) *)protobuf_c_message_unpack(&D(wait_execution_request), NULL,
	                                                          b->len, (const uint8_t *)(b->s ? b->s : ""));
	const char *name = req && req->name ? req->name : "";
	const char *hex = !strncmp(name, "operations/", 11) ? name + 11 : name;
	struct xjob *j = find(p, hex);
	if (j)
		wait_on(c, j);
	else
		srv_finish(c, GRPC_NOT_FOUND, "no such operation (it ended: ask the action cache)");
	if (req)
		protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* A call is gone: a waiter leaves its job, and a job nobody waits for any
 * more is stopped (its worker killed). */
static void drop(struct srv_call *c)
{
	struct xjob *j = *srv_state(c);
	*srv_state(c) = NULL;
	if (!j)
		return;
	struct exec_pool *p = srv_ctx(c);
	for (size_t i = 0; i < j->nwaiters; i++)
		if (j->waiters[i] == c) {
			j->waiters[i] = j->waiters[--j->nwaiters];
			break;
		}
	if (j->nwaiters)
		return;
	if (j->w) {
		j->w->job = NULL;
		worker_end(p, j->w);
	}
	p->st.abandoned++;
	job_remove(p, j);
	keep_min(p);
	schedule(p);
}

static struct srv_method methods[] = {
	{SVC "Execute", srv_keep_one, execute, drop, NULL},
	{SVC "WaitExecution", srv_keep_one, wait_execution, drop, NULL},
};

/* What the workers of a server that was killed left: the directories of
 * processes that are gone. */
static void sweep_stale(const char *storedir)
{
	char *exec = xasprintf("%s/exec", storedir);
	DIR *d = opendir(exec);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char *path = xasprintf("%s/%s", exec, e->d_name);
		fs_rm_rf(path);
		free(path);
	}
	if (d)
		closedir(d);
	free(exec);
}

struct exec_pool *exec_new(const char *storedir, const struct exec_opts *o)
{
	sweep_stale(storedir);
	struct exec_pool *p = xcalloc(1, sizeof *p);
	p->dir = xstrdup(storedir);
	p->o = *o;
	if (p->o.max < 1)
		p->o.max = 1;
	if (p->o.min > p->o.max)
		p->o.min = p->o.max;
	keep_min(p);
	return p;
}

void exec_free(struct exec_pool *p)
{
	if (!p)
		return;
	while (p->workers)
		worker_end(p, p->workers);
	while (p->jobs) {
		struct xjob *j = p->jobs;
		p->jobs = j->next;
		free(j);
	}
	free(p->dir);
	free(p);
}

const struct srv_method *exec_methods(struct exec_pool *p, size_t *n)
{
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		methods[i].ctx = p;
	*n = sizeof methods / sizeof *methods;
	return methods;
}

void exec_stats(const struct exec_pool *p, struct exec_stats *st)
{
	*st = p->st;
	st->queued = count_queued(p);
	st->busy = count_workers(p, 1);
	st->total = count_workers(p, 0);
	st->min = (uint64_t)p->o.min;
	st->max = (uint64_t)p->o.max;
}
