/* serve/execute: Execution (Execute, WaitExecution) for `cairn serve`.
 *
 * Each action runs in a worker: a child process of its own, forked from
 * the server's single thread, which reads the Action, its Command and its
 * input tree from the store, lays the tree out in a directory of its
 * own, runs the command in cairn's namespace sandbox (exec/runner.h, as a
 * build does: only the inputs visible, read-only; loopback only), stores
 * the outputs and the log, records the result (unless the action failed
 * or says do_not_cache), and writes the ActionResult back on a pipe:
 *   "R" exit_code(4, big-endian) length(4) ActionResult bytes
 *   "E" code(4) length(4) message          an error before the run
 * The pool: at most `max` workers at once, the rest queued in order;
 * a worker exists while its action runs, so idle costs nothing. Identical
 * Executes in flight share one worker. A worker that dies without an
 * answer is replaced and its action tried once more. Past the action's
 * timeout (or the server's), its process group is killed. When every
 * caller of an action has gone, its worker is killed. */
#include "serve/execute.h"
#include "exec/runner.h"
#include "exec/sandbox.h"
#include "remote/grpc.h"
#include "remote/result.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include "operations.pb-c.h"
#include "remote_execution.pb-c.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define V2(x) Build__Bazel__Remote__Execution__V2__##x
#define D(x) build__bazel__remote__execution__v2__##x##__descriptor
#define SVC "/build.bazel.remote.execution.v2.Execution/"

enum { MAX_WAITERS = 64, DEFAULT_TIMEOUT = 3600 };

struct xjob {
	char hex[65];              /* the action's digest */
	uint64_t size;
	pid_t pid;                 /* its worker, or 0 while queued */
	int fd;                    /* the worker's pipe */
	struct buf out;            /* what it wrote */
	uint64_t deadline;         /* ns */
	int tries;
	int timed_out;
	struct srv_call *waiters[MAX_WAITERS];
	size_t nwaiters;
	struct xjob *next;
};

struct exec_pool {
	char *dir;                 /* the store */
	int max;                   /* workers at once */
	struct xjob *jobs;          /* running and queued, in order */
	struct exec_stats st;
};

/* ---- the worker (a child process) ---- */

/* Write all of p to fd. */
static void put_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void put_u32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

static _Noreturn void fail(int fd, int code, const char *msg)
{
	unsigned char h[9] = {'E'};
	put_u32(h + 1, (uint32_t)code);
	put_u32(h + 5, (uint32_t)strlen(msg));
	put_all(fd, h, 9);
	put_all(fd, msg, strlen(msg));
	_exit(0);
}

/* Blob d (size) of the store, unpacked as desc; NULL when missing. */
static void *blob_msg(struct store *st, const V2(Digest) * m, const ProtobufCMessageDescriptor *desc)
{
	struct digest d;
	struct buf b = {0};
	if (!m || !m->hash || digest_parse(m->hash, &d) < 0 ||
	    (m->size_bytes > 0 && st->ops->get_blob(st, &d, &b) < 0))
		return NULL;
	void *x = protobuf_c_message_unpack(desc, NULL, b.len, (const uint8_t *)(b.s ? b.s : ""));
	buf_free(&b);
	return x;
}

/* A path component the tree may use. */
static int name_ok(const char *n)
{
	return n && *n && strcmp(n, ".") && strcmp(n, "..") && !strchr(n, '/');
}

/* Lay the tree dir out under root/rel; its files' paths (relative) go to
 * *files. 0, or -1 with *why (static). */
static int lay_out(struct store *st, const V2(Directory) * dir, const char *rel, char ***files,
                   size_t *n, size_t *cap, int depth, const char **why)
{
	if (depth > 64)
		return *why = "the input tree is too deep", -1;
	for (size_t i = 0; i < dir->n_files; i++) {
		V2(FileNode) *f = dir->files[i];
		struct digest d;
		if (!name_ok(f->name) || !f->digest || !f->digest->hash ||
		    digest_parse(f->digest->hash, &d) < 0)
			return *why = "a bad file node in the input tree", -1;
		char *p = *rel ? xasprintf("%s/%s", rel, f->name) : xstrdup(f->name);
		unsigned mode = f->is_executable ? 0555 : 0444;
		int rc;
		if (f->digest->size_bytes == 0) {
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
			rc = fd < 0 ? -1 : close(fd);
		} else {
			rc = st->ops->get_file(st, &d, p, mode);
		}
		if (rc < 0) {
			free(p);
			return *why = "an input blob is not in the CAS", -1;
		}
		vec_reserve(files, cap, *n + 2, sizeof **files);
		(*files)[(*n)++] = p;
		(*files)[*n] = NULL;
	}
	for (size_t i = 0; i < dir->n_directories; i++) {
		V2(DirectoryNode) *dn = dir->directories[i];
		if (!name_ok(dn->name))
			return *why = "a bad directory node in the input tree", -1;
		V2(Directory) *sub = blob_msg(st, dn->digest, &D(directory));
		if (!sub)
			return *why = "an input directory is not in the CAS", -1;
		char *p = *rel ? xasprintf("%s/%s", rel, dn->name) : xstrdup(dn->name);
		int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
		if (rc == 0)
			rc = lay_out(st, sub, p, files, n, cap, depth + 1, why);
		else
			*why = "cannot make an input directory";
		free(p);
		protobuf_c_message_free_unpacked(&sub->base, NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The worker's work: never returns. */
static _Noreturn void work(const char *storedir, const char *hex, uint64_t size, int out)
{
	struct store *st = store_local_open(storedir);
	struct digest key;
	if (!st || digest_parse(hex, &key) < 0)
		fail(out, GRPC_INTERNAL, "cannot open the store");
	V2(Digest) kd = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	kd.hash = (char *)hex;
	kd.size_bytes = (int64_t)size;
	V2(Action) *a = blob_msg(st, &kd, &D(action));
	V2(Command) *cmd = a ? blob_msg(st, a->command_digest, &D(command)) : NULL;
	V2(Directory) *root = a ? blob_msg(st, a->input_root_digest, &D(directory)) : NULL;
	if (!a || !cmd || !root)
		fail(out, GRPC_FAILED_PRECONDITION, "the Action, its Command or its input root is not in the CAS");
	if (cmd->n_arguments == 0)
		fail(out, GRPC_INVALID_ARGUMENT, "the Command has no arguments");
	/* the work directory: the input root, the sandbox's image beside it */
	char *base = xasprintf("%s/exec/%ld", storedir, (long)getpid());
	char *rootdir = xasprintf("%s/root", base), *sbdir = xasprintf("%s/sandbox/out/1", base),
	     *state = xasprintf("%s/sandbox", base);
	fs_rm_rf(base);
	if (fs_mkdir_p(rootdir) < 0 || fs_mkdir_p(sbdir) < 0 || chdir(rootdir) < 0)
		fail(out, GRPC_INTERNAL, "cannot make the work directory");
	char **files = xcalloc(1, sizeof *files);
	size_t nfiles = 0, cap = 1;
	const char *why = NULL;
	if (lay_out(st, root, "", &files, &nfiles, &cap, 0, &why) < 0)
		fail(out, GRPC_FAILED_PRECONDITION, why);
	/* the outputs: files, their directories writable in the sandbox */
	char **outs = cmd->n_output_paths ? cmd->output_paths : cmd->output_files;
	size_t nouts = cmd->n_output_paths ? cmd->n_output_paths : cmd->n_output_files;
	char **dirs = xcalloc(nouts + 1, sizeof *dirs);
	size_t ndirs = 0;
	for (size_t i = 0; i < nouts; i++) {
		if (!*outs[i] || outs[i][0] == '/' || !path_components_ok(outs[i]))
			fail(out, GRPC_INVALID_ARGUMENT, "an output path that leaves the input root");
		const char *sl = strrchr(outs[i], '/');
		char *d = sl ? xstrndup(outs[i], (size_t)(sl - outs[i])) : xstrdup(".");
		size_t k = 0;
		while (k < ndirs && strcmp(dirs[k], d))
			k++;
		if (k < ndirs)
			free(d);
		else
			dirs[ndirs++] = d;
	}
	/* parents before children */
	for (size_t i = 0; i < ndirs; i++)
		for (size_t j = i + 1; j < ndirs; j++)
			if (strlen(dirs[j]) < strlen(dirs[i])) {
				char *t = dirs[i];
				dirs[i] = dirs[j];
				dirs[j] = t;
			}
	const char **argv = xcalloc(cmd->n_arguments + 1, sizeof *argv);
	for (size_t i = 0; i < cmd->n_arguments; i++)
		argv[i] = cmd->arguments[i];
	const char **envp = xcalloc(cmd->n_environment_variables + 2, sizeof *envp);
	size_t ne = 0;
	int have_path = 0;
	for (size_t i = 0; i < cmd->n_environment_variables; i++) {
		V2(Command__EnvironmentVariable) *v = cmd->environment_variables[i];
		envp[ne++] = xasprintf("%s=%s", v->name ? v->name : "", v->value ? v->value : "");
		have_path |= v->name && !strcmp(v->name, "PATH");
	}
	if (!have_path)
		envp[ne++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		fail(out, GRPC_INTERNAL, "getcwd");
	struct sandbox_spec sp = {.root = cwd, .state = state, .dir = sbdir,
	                          .inputs = (const char *const *)files, .ninputs = nfiles,
	                          .outdirs = (const char *const *)dirs, .noutdirs = ndirs};
	uint64_t timeout = a->timeout && a->timeout->seconds > 0 ? (uint64_t)a->timeout->seconds
	                                                         : DEFAULT_TIMEOUT;
	struct job j = {.id = 1, .argv = argv, .envp = envp, .timeout_ms = timeout * 1000,
	                .sandbox = &sp};
	struct runner *r = runner_local_new();
	struct job_done d = {0};
	struct err e = {0};
	if (!r || runner_run(r, &j, &d, &e) < 0)
		fail(out, GRPC_INTERNAL, e.msg ? e.msg : "cannot start the action");
	/* the outputs out of the sandbox, into the store */
	struct action_result res = {.exit_code = d.timed_out ? 124 : d.exit_code};
	res.outputs = xcalloc(nouts + 1, sizeof *res.outputs);
	for (size_t i = 0; i < nouts; i++) {
		/* copied out of the sandbox first, as a build does: the file there
		 * is the sandboxed user's, and only a copy of ours may become a
		 * blob */
		char *p = xasprintf("%s/out/%s", sbdir, outs[i]), *copy = xasprintf("%s/out.%zu", base, i);
		struct stat sb;
		struct result_output *o = &res.outputs[res.noutputs];
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    fs_copy_atomic(p, copy, (sb.st_mode & 0111) ? 0755 : 0644, NULL, NULL) == 0 &&
		    st->ops->put_file(st, copy, &o->d, &o->size) == 0) {
			o->path = xstrdup(outs[i]);
			o->mode = (sb.st_mode & 0111) ? 0755 : 0644;
			res.noutputs++;
		}
		free(p);
		free(copy);
	}
	if (d.outlen && st->ops->put_blob(st, d.output, d.outlen, &res.log) == 0)
		res.log_size = d.outlen;
	if (res.exit_code == 0 && !a->do_not_cache)
		st->ops->put_result(st, &key, size, &res);
	struct buf enc = {0};
	result_encode(&res, &enc);
	unsigned char h[9] = {'R'};
	put_u32(h + 1, (uint32_t)res.exit_code);
	put_u32(h + 5, (uint32_t)enc.len);
	put_all(out, h, 9);
	put_all(out, enc.s ? enc.s : "", enc.len);
	if (chdir("/") == 0)
		fs_rm_rf(base);
	_exit(0);
}

/* ---- the server's side ---- */

static void job_start(struct exec_pool *p, struct xjob *j)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		j->pid = -1;
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		work(p->dir, j->hex, j->size, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		j->pid = -1;
		return;
	}
	setpgid(pid, pid);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->fd = fds[0];
	j->tries++;
	j->deadline = now_ns() + (uint64_t)(DEFAULT_TIMEOUT + 60) * 1000000000ull;
	p->st.started++;
}

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

/* What a worker left of its work directory: the mount points of its
 * sandbox, which only its own mount namespace had busy. */
static void sweep(struct exec_pool *p, pid_t pid)
{
	char *base = xasprintf("%s/exec/%ld", p->dir, (long)pid);
	fs_rm_rf(base);
	free(base);
}

static void job_remove(struct exec_pool *p, struct xjob *j)
{
	for (struct xjob **q = &p->jobs; *q; q = &(*q)->next)
		if (*q == j) {
			*q = j->next;
			break;
		}
	if (j->fd > 0)
		close(j->fd);
	buf_free(&j->out);
	free(j);
}

static size_t running(const struct exec_pool *p)
{
	size_t n = 0;
	for (const struct xjob *j = p->jobs; j; j = j->next)
		n += j->pid > 0;
	return n;
}

/* Start queued jobs while there is room. */
static void schedule(struct exec_pool *p)
{
	for (struct xjob *j = p->jobs, *nx; j; j = nx) {
		nx = j->next;
		if (j->pid != 0 || running(p) >= (size_t)p->max)
			continue;
		job_start(p, j);
		if (j->pid < 0) {
			answer(p, j, GRPC_RESOURCE_EXHAUSTED, "cannot start a worker", NULL, 0, 0);
			job_remove(p, j);
		}
	}
}

/* The worker of j ended (its pipe closed): answer, retry, or fail. */
static void job_ended(struct exec_pool *p, struct xjob *j)
{
	int status = 0;
	waitpid(j->pid, &status, 0);
	sweep(p, j->pid);
	const unsigned char *b = (const unsigned char *)j->out.s;
	size_t n = j->out.len;
	uint32_t len = n >= 9 ? (uint32_t)b[5] << 24 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 8 | b[8]
	                      : 0;
	if (n >= 9 && n == 9 + (size_t)len && b[0] == 'R') {
		answer(p, j, GRPC_OK, NULL, b + 9, len, 0);
	} else if (n >= 9 && n == 9 + (size_t)len && b[0] == 'E') {
		char *m = xstrndup((const char *)b + 9, len);
		answer(p, j, (int)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]),
		       m, NULL, 0, 0);
		free(m);
	} else if (j->timed_out) {
		answer(p, j, GRPC_DEADLINE_EXCEEDED, "the action ran past its timeout", NULL, 0, 0);
	} else if (j->tries < 2 && j->nwaiters) {
		/* the worker died: another, once */
		p->st.retried++;
		close(j->fd);
		j->fd = 0;
		buf_reset(&j->out);
		j->pid = 0;
		schedule(p);
		return;
	} else {
		answer(p, j, GRPC_INTERNAL, "the worker died twice", NULL, 0, 0);
	}
	job_remove(p, j);
	schedule(p);
}

size_t exec_fds(void *ctx, struct pollfd *pf, size_t max)
{
	struct exec_pool *p = ctx;
	size_t n = 0;
	uint64_t now = now_ns();
	for (struct xjob *j = p->jobs; j; j = j->next) {
		if (j->pid <= 0)
			continue;
		if (now > j->deadline && !j->timed_out) {
			j->timed_out = 1;
			kill(-j->pid, SIGKILL);
		}
		if (n < max)
			pf[n++] = (struct pollfd){j->fd, POLLIN, 0};
	}
	return n;
}

void exec_handle(void *ctx, const struct pollfd *pf, size_t n)
{
	struct exec_pool *p = ctx;
	for (size_t i = 0; i < n; i++) {
		if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct xjob *j = p->jobs;
		while (j && !(j->pid > 0 && j->fd == pf[i].fd))
			j = j->next;
		if (!j)
			continue;
		char b[65536];
		ssize_t r;
		while ((r = read(j->fd, b, sizeof b)) > 0)
			buf_putn(&j->out, b, (size_t)r);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			job_ended(p, j);
	}
}

/* ---- the methods ---- */

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
	if (j->pid > 0) {
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		sweep(p, j->pid);
	}
	p->st.abandoned++;
	job_remove(p, j);
	schedule(p);
}

static struct srv_method methods[] = {
	{SVC "Execute", srv_keep_one, execute, drop, NULL},
	{SVC "WaitExecution", srv_keep_one, wait_execution, drop, NULL},
};

struct exec_pool *exec_new(const char *storedir, int max)
{
	struct exec_pool *p = xcalloc(1, sizeof *p);
	p->dir = xstrdup(storedir);
	p->max = max > 0 ? max : 1;
	return p;
}

void exec_free(struct exec_pool *p)
{
	if (!p)
		return;
	while (p->jobs) {
		struct xjob *j = p->jobs;
		if (j->pid > 0) {
			kill(-j->pid, SIGKILL);
			waitpid(j->pid, NULL, 0);
			sweep(p, j->pid);
		}
		p->jobs = j->next;
		if (j->fd > 0)
			close(j->fd);
		buf_free(&j->out);
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
	st->queued = st->busy = 0;
	for (const struct xjob *j = p->jobs; j; j = j->next) {
		if (j->pid > 0)
			st->busy++;
		else
			st->queued++;
	}
	st->max = (uint64_t)p->max;
}
