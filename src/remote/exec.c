/* exec: the remote executor as a runner that wraps the local one
 * (remote.h, remote_runner).
 *
 * A job with a REAPI spec runs remotely:
 *   1. its Command, input Directories and Action are encoded (reapi.c);
 *      FindMissingBlobs asks which of those and of its input files the
 *      server lacks, and only those are uploaded (cas.c: batches, or
 *      ByteStream for large files). Digests known to be there (uploaded
 *      or produced in this build) are not asked about again;
 *   2. Execute streams Operations until one is done. A stream that breaks
 *      is resumed with WaitExecution (the operation's name), or Execute
 *      is sent again (it is idempotent) when no name came yet;
 *   3. the ExecuteResponse's ActionResult is adopted: its outputs and its
 *      stdout and stderr fetched, each verified, into the local store
 *      (remote_store_adopt); then the outputs are written to the
 *      workspace, and the job ends like a local one, with remote set.
 * A job that fails remotely for a reason not its own (the server gone,
 * UNAVAILABLE, a bad blob) is tried TRIES times with backoff; then the
 * remote is given up for the build (one warning, from the CLI) and the
 * job, and every later one, runs locally. An action that fails (exits
 * non-zero) remotely has failed: it is not run again here.
 *
 * Everything runs on the build loop's thread except the gRPC channel's
 * I/O; wait() sleeps in the local runner's poll, which also watches the
 * channel's event descriptor. */
#include "remote/exec.h"
#include "remote/grpc.h"
#include "remote/remote_store.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/pool.h"
#include "util/util.h"
#include "operations.pb-c.h"
#include "remote_execution.pb-c.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TRIES = 3, EXEC_DEADLINE_MS = 3600 * 1000, UPLOADERS = 8 };

typedef Build__Bazel__Remote__Execution__V2__Digest Digest;

/* A job copied, to run locally later if the remote cannot. */
struct job_copy {
	struct job j;
	char **argv, **envp;
	struct sandbox_spec sp;
	char **inputs, **outdirs, **rwdirs;
	char *root, *state, *dir;
};

/* Where a remote job is. */
enum rstate {
	R_UPLOAD,   /* queued for, or in, the uploaders */
	R_SENT,     /* its Execute (or WaitExecution) is in flight */
	R_LOCAL,    /* its upload failed: run it here */
};

struct rjob {
	enum rstate state;        /* under the runner's mu */
	struct cas_blob *up;      /* what may need uploading: the messages
	                             (with their bytes), then input files
	                             (bytes read when missing) */
	const char **paths;       /* per up: an input file's path, or NULL */
	char **own_paths;         /* the paths, owned */
	size_t nup;
	int gave_up;              /* the upload failed for the remote's sake */
	size_t id;
	struct job_copy jc;
	struct reapi_digest action;
	struct grpc_call *call;
	char *op;                 /* the operation's name, once known */
	int tries;
	uint64_t start_ns;
	char **outputs;           /* the declared output paths */
	size_t noutputs;
};

struct remote_runner {
	struct runner base;
	struct runner *local;
	size_t nlocal;            /* jobs handed to local */
	size_t local_max;         /* at most this many at once (the CPUs: -j
	                             is sized for the remote's workers) */
	struct job_copy **waiting; /* local jobs beyond local_max, FIFO */
	size_t wait_head, nwaiting, capwaiting;
	struct job_done *ended;   /* local jobs that could not start, to report */
	size_t nended, capended;
	struct grpc *g;           /* not owned */
	struct cas *cas;          /* not owned */
	struct store *store;      /* a remote_store (not owned) */
	char *instance;
	struct reapi_builder *rb;
	struct rjob **jobs;
	size_t njobs, cap;
	struct map known;         /* digests the server has: hex -> 1; under mu */
	unsigned seed;
	size_t executed;
	/* the uploaders take R_UPLOAD jobs, upload what the server lacks,
	 * send Execute, and wake wait() */
	struct pool *uploaders;
	pthread_mutex_t mu;       /* over known, each job's state, cancelled */
	int cancelled;            /* queued jobs are not sent */
};

static void copy_job(struct job_copy *c, const struct job *j)
{
	memset(c, 0, sizeof *c);
	c->j = *j;
	c->j.remote = NULL;
	c->argv = strv_dup(j->argv, strv_len(j->argv));
	c->envp = strv_dup(j->envp, strv_len(j->envp));
	c->j.argv = (const char *const *)c->argv;
	c->j.envp = (const char *const *)c->envp;
	if (j->sandbox) {
		const struct sandbox_spec *s = j->sandbox;
		c->sp = *s;
		c->root = xstrdup(s->root);
		c->state = xstrdup(s->state);
		c->dir = xstrdup(s->dir);
		c->inputs = strv_dup(s->inputs, s->ninputs);
		c->outdirs = strv_dup(s->outdirs, s->noutdirs);
		c->rwdirs = strv_dup(s->rwdirs, s->nrwdirs);
		c->sp.root = c->root;
		c->sp.state = c->state;
		c->sp.dir = c->dir;
		c->sp.inputs = (const char *const *)c->inputs;
		c->sp.outdirs = (const char *const *)c->outdirs;
		c->sp.rwdirs = (const char *const *)c->rwdirs;
		c->j.sandbox = &c->sp;
	}
}

static void free_copy(struct job_copy *c)
{
	strv_free(c->argv);
	strv_free(c->envp);
	strv_free(c->inputs);
	strv_free(c->outdirs);
	strv_free(c->rwdirs);
	free(c->root);
	free(c->state);
	free(c->dir);
}

static void free_rjob(struct rjob *x)
{
	for (size_t i = 0; i < x->nup; i++)
		buf_free(&x->up[i].data);
	free(x->up);
	free(x->paths);
	strv_free(x->own_paths);
	grpc_call_free(x->call);
	free_copy(&x->jc);
	free(x->op);
	strv_free(x->outputs);
	free(x);
}

static void known_add(struct remote_runner *rr, const struct digest *d)
{
	char hex[65];
	digest_hex(d, hex);
	pthread_mutex_lock(&rr->mu);
	if (!map_get(&rr->known, hex))
		map_put(&rr->known, xstrdup(hex), (void *)1);
	pthread_mutex_unlock(&rr->mu);
}

static int known(struct remote_runner *rr, const struct digest *d)
{
	char hex[65];
	digest_hex(d, hex);
	pthread_mutex_lock(&rr->mu);
	int k = map_get(&rr->known, hex) != NULL;
	pthread_mutex_unlock(&rr->mu);
	return k;
}

/* What x may need to upload: a's messages (copied: the builder is
 * reused) and its input files, but those known to be there already. */
static void prepare(struct remote_runner *rr, struct rjob *x, const struct reapi_spec *sp,
                    const struct reapi_action *ra)
{
	size_t n = ra->nblobs + sp->nin, m = 0;
	x->up = xcalloc(n ? n : 1, sizeof *x->up);
	x->paths = xcalloc(n ? n : 1, sizeof *x->paths);
	x->own_paths = xcalloc(n + 1, sizeof *x->own_paths);
	size_t np = 0;
	for (size_t i = 0; i < ra->nblobs; i++) {
		if (known(rr, &ra->blobs[i].d.hash))
			continue;
		x->up[m].d = ra->blobs[i].d.hash;
		x->up[m].size = ra->blobs[i].d.size;
		buf_putn(&x->up[m].data, ra->blobs[i].p, ra->blobs[i].d.size);
		m++;
	}
	for (size_t i = 0; i < sp->nin; i++) {
		if (sp->in[i].d.size == 0 || known(rr, &sp->in[i].d.hash))
			continue;
		x->up[m].d = sp->in[i].d.hash;
		x->up[m].size = sp->in[i].d.size;
		x->paths[m++] = x->own_paths[np++] = xstrdup(sp->in[i].path);
	}
	x->nup = m;
}

/* Upload what the server lacks of x's blobs (FindMissingBlobs first). 0,
 * or -1: the remote was given up (x->gave_up), or an input changed. */
static int upload(struct remote_runner *rr, struct rjob *x)
{
	struct cas_blob *v = x->up;
	size_t m = x->nup;
	if (cas_find_missing(rr->cas, v, m) != CAS_OK) {
		x->gave_up = 1;
		return -1;
	}
	for (size_t i = 0; i < m; i++) {
		if (!v[i].missing || !x->paths[i])
			continue;
		struct digest got;
		if (fs_read_all(x->paths[i], &v[i].data) < 0 || v[i].data.len != v[i].size)
			return -1; /* changed while building: run it here */
		sha_buf(v[i].data.s ? v[i].data.s : "", v[i].data.len, &got);
		if (!digest_eq(&got, &v[i].d))
			return -1;
	}
	if (cas_put_blobs(rr->cas, v, m) != CAS_OK) {
		x->gave_up = 1;
		return -1;
	}
	for (size_t i = 0; i < m; i++) {
		known_add(rr, &v[i].d);
		buf_free(&v[i].data);
	}
	return 0;
}

static char *execute_request(struct remote_runner *rr, const struct reapi_digest *action, size_t *n)
{
	Build__Bazel__Remote__Execution__V2__ExecuteRequest req =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTE_REQUEST__INIT;
	Digest d = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	char hex[65];
	digest_hex(&action->hash, hex);
	d.hash = hex;
	d.size_bytes = (int64_t)action->size;
	req.instance_name = rr->instance;
	req.action_digest = &d;
	*n = protobuf_c_message_get_packed_size(&req.base);
	char *p = xmalloc(*n + 1);
	protobuf_c_message_pack(&req.base, (uint8_t *)p);
	return p;
}

/* (Re)start x's Execute, or its WaitExecution when its operation is known. */
static void send_execute(struct remote_runner *rr, struct rjob *x)
{
	grpc_call_free(x->call);
	if (x->op) {
		Build__Bazel__Remote__Execution__V2__WaitExecutionRequest w =
			BUILD__BAZEL__REMOTE__EXECUTION__V2__WAIT_EXECUTION_REQUEST__INIT;
		w.name = x->op;
		size_t n = protobuf_c_message_get_packed_size(&w.base);
		char *p = xmalloc(n + 1);
		protobuf_c_message_pack(&w.base, (uint8_t *)p);
		x->call = grpc_start(rr->g, "/build.bazel.remote.execution.v2.Execution/WaitExecution", p,
		                     n, NULL, NULL, EXEC_DEADLINE_MS);
		free(p);
		return;
	}
	size_t n;
	char *p = execute_request(rr, &x->action, &n);
	x->call = grpc_start(rr->g, "/build.bazel.remote.execution.v2.Execution/Execute", p, n, NULL,
	                     NULL, EXEC_DEADLINE_MS);
	free(p);
}

/* Start j here, or queue it (copied) when local_max jobs run here. A
 * start that fails at once: -1 with *e. */
static int start_local(struct remote_runner *rr, const struct job *j, struct err *e)
{
	if (rr->nlocal < rr->local_max) {
		int rc = rr->local->start(rr->local, j, e);
		rr->nlocal += rc == 0;
		return rc;
	}
	struct job_copy *c = xcalloc(1, sizeof *c);
	copy_job(c, j);
	vec_reserve(&rr->waiting, &rr->capwaiting, rr->nwaiting + 1, sizeof *rr->waiting);
	rr->waiting[rr->nwaiting++] = c;
	return 0;
}

/* Start queued local jobs while there is room; one that cannot start is
 * kept as ended, exit 127, for wait() to report. */
static void start_waiting(struct remote_runner *rr)
{
	while (rr->nlocal < rr->local_max && rr->wait_head < rr->nwaiting) {
		struct job_copy *c = rr->waiting[rr->wait_head++];
		struct err e = {0};
		if (rr->local->start(rr->local, &c->j, &e) == 0) {
			rr->nlocal++;
		} else {
			vec_reserve(&rr->ended, &rr->capended, rr->nended + 1, sizeof *rr->ended);
			struct job_done *d = &rr->ended[rr->nended++];
			memset(d, 0, sizeof *d);
			d->id = c->j.id;
			d->exit_code = 127;
			d->output = xasprintf("%s\n", e.msg);
			d->outlen = strlen(d->output);
			d->start_ns = d->end_ns = now_ns();
			err_clear(&e);
		}
		free_copy(c);
		free(c);
	}
	if (rr->wait_head == rr->nwaiting)
		rr->wait_head = rr->nwaiting = 0;
}

static void upload_one(void *ctx, void **items, size_t n)
{
	struct remote_runner *rr = ctx;
	for (size_t i = 0; i < n; i++) {
		struct rjob *x = items[i];
		pthread_mutex_lock(&rr->mu);
		int cancelled = rr->cancelled;
		pthread_mutex_unlock(&rr->mu);
		int ok = !cancelled && !cas_absent(rr->cas) && upload(rr, x) == 0;
		if (ok)
			send_execute(rr, x);
		pthread_mutex_lock(&rr->mu);
		x->state = ok ? R_SENT : R_LOCAL;
		pthread_mutex_unlock(&rr->mu);
		grpc_notify(rr->g); /* wait() looks again */
	}
}

static int rr_start(struct runner *r, const struct job *j, struct err *e)
{
	struct remote_runner *rr = (struct remote_runner *)r;
	if (j->remote && !cas_absent(rr->cas)) {
		struct reapi_action ra;
		struct err be = {0};
		if (reapi_build(rr->rb, j->remote, &ra, &be) == 0) {
			struct rjob *x = xcalloc(1, sizeof *x);
			x->id = j->id;
			copy_job(&x->jc, j);
			x->action = ra.action;
			x->start_ns = now_ns();
			x->outputs = strv_dup(j->remote->outputs, j->remote->noutputs);
			x->noutputs = j->remote->noutputs;
			prepare(rr, x, j->remote, &ra);
			vec_reserve(&rr->jobs, &rr->cap, rr->njobs + 1, sizeof *rr->jobs);
			rr->jobs[rr->njobs++] = x;
			pool_submit(rr->uploaders, x);
			return 0;
		}
		err_clear(&be); /* cannot be said in REAPI's terms: run it here */
	}
	return start_local(rr, j, e);
}

/* The last Operation x's call received, decoded, or NULL. */
static Google__Longrunning__Operation *last_op(struct rjob *x)
{
	size_t n = grpc_nmsgs(x->call);
	for (size_t i = n; i-- > 0;) {
		const struct buf *m = grpc_msg(x->call, i);
		Google__Longrunning__Operation *op =
			google__longrunning__operation__unpack(NULL, m->len, (const uint8_t *)(m->s ? m->s : ""));
		if (op)
			return op;
	}
	return NULL;
}

/* Write the result's outputs where the job's are expected (its
 * workspace paths) and fill d. 0, or -1 with *why. */
static int land(struct remote_runner *rr, struct rjob *x, const struct action_result *res,
                struct job_done *d, char **why)
{
	/* as a sandboxed run, a failed one leaves no output behind */
	for (size_t i = 0; i < res->noutputs && res->exit_code == 0; i++) {
		const struct result_output *o = &res->outputs[i];
		int declared = 0;
		for (size_t k = 0; k < x->noutputs && !declared; k++)
			declared = !strcmp(x->outputs[k], o->path);
		if (!declared)
			continue;
		if (fs_mkdir_parent(o->path) < 0 ||
		    rr->store->ops->get_file(rr->store, &o->d, o->path, o->mode) < 0) {
			*why = xasprintf("cannot write output '%s': %s", o->path, strerror(errno));
			return -1;
		}
		known_add(rr, &o->d);
	}
	struct buf log = {0};
	if (res->log_size && rr->store->ops->get_blob(rr->store, &res->log, &log) < 0) {
		buf_free(&log);
		*why = xstrdup("cannot read its log back from the store");
		return -1;
	}
	d->id = x->id;
	d->exit_code = res->exit_code >= 0 && res->exit_code <= 255 ? res->exit_code : 1;
	d->outlen = log.len;
	d->output = log.s ? buf_take(&log) : xstrdup("");
	d->start_ns = x->start_ns;
	d->end_ns = now_ns();
	d->timed_out = 0;
	d->remote = 1;
	return 0;
}

/* What x's ended call says: 1 with d filled (the job ended remotely), 0
 * when it is worth another try (why set), -1 when the remote cannot run
 * it (why set). */
static int outcome(struct remote_runner *rr, struct rjob *x, struct job_done *d, char **why)
{
	const char *msg;
	int code = grpc_status(x->call, &msg);
	Google__Longrunning__Operation *op = last_op(x);
	if (op && op->name && *op->name) {
		free(x->op);
		x->op = xstrdup(op->name);
	}
	int rc = 0;
	if (!op || !op->done) {
		if (code == GRPC_OK) {
			*why = xstrdup("Execute: the stream ended before the operation was done");
		} else {
			*why = xasprintf("Execute: %s%s%s", grpc_code_name(code), *msg ? ": " : "", msg);
			if (code == GRPC_NOT_FOUND && x->op) {
				free(x->op); /* the server forgot it: send it again */
				x->op = NULL;
			} else if (code != GRPC_UNAVAILABLE && code != GRPC_DEADLINE_EXCEEDED &&
			           code != GRPC_INTERNAL && code != GRPC_RESOURCE_EXHAUSTED &&
			           code != GRPC_UNKNOWN && code != GRPC_ABORTED && code != GRPC_NOT_FOUND) {
				rc = -1;
			}
		}
	} else if (op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR) {
		*why = xasprintf("Execute: %s: %s", grpc_code_name(op->error->code),
		                 op->error->message ? op->error->message : "");
		free(x->op);
		x->op = NULL;
	} else if (op->result_case != GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE) {
		*why = xstrdup("Execute: a done operation without a response");
	} else {
		Build__Bazel__Remote__Execution__V2__ExecuteResponse *er =
			build__bazel__remote__execution__v2__execute_response__unpack(
				NULL, op->response->value.len, op->response->value.data);
		if (!er || !er->result) {
			*why = xstrdup("Execute: a malformed ExecuteResponse");
		} else if (er->status && er->status->code != 0) {
			*why = xasprintf("Execute: %s: %s", grpc_code_name(er->status->code),
			                 er->status->message ? er->status->message : "");
			free(x->op);
			x->op = NULL;
		} else {
			size_t n = protobuf_c_message_get_packed_size(&er->result->base);
			uint8_t *p = xmalloc(n + 1);
			protobuf_c_message_pack(&er->result->base, p);
			struct action_result res;
			char *awhy = NULL;
			if (remote_store_adopt(rr->store, p, n, &res, &awhy) < 0) {
				*why = xasprintf("its result: %s", awhy);
				free(awhy);
			} else {
				rc = land(rr, x, &res, d, why) == 0 ? 1 : -1;
				action_result_free(&res);
			}
			free(p);
		}
		if (er)
			build__bazel__remote__execution__v2__execute_response__free_unpacked(er, NULL);
	}
	google__longrunning__operation__free_unpacked(op, NULL);
	return rc;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (double)(time_t)(ms / 1000)) * 1e6)};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Take x off the list (it is at index i). */
static void drop(struct remote_runner *rr, size_t i)
{
	rr->jobs[i] = rr->jobs[--rr->njobs];
}

/* Hand x to the local runner; its start failing at once ends it with
 * exit 127 in d (1), else 0. */
static int run_here(struct remote_runner *rr, struct rjob *x, struct job_done *d)
{
	struct err e = {0};
	if (start_local(rr, &x->jc.j, &e) == 0)
		return 0;
	memset(d, 0, sizeof *d);
	d->id = x->id;
	d->exit_code = 127;
	d->output = xasprintf("%s\n", e.msg);
	d->outlen = strlen(d->output);
	d->start_ns = d->end_ns = now_ns();
	err_clear(&e);
	return 1;
}

/* A remote job that ended: 1 with d filled, else 0 (going on elsewhere). */
static int take_done(struct remote_runner *rr, struct job_done *d)
{
	for (size_t i = 0; i < rr->njobs; i++) {
		struct rjob *x = rr->jobs[i];
		pthread_mutex_lock(&rr->mu);
		enum rstate st = x->state;
		pthread_mutex_unlock(&rr->mu);
		if (st == R_UPLOAD || (st == R_SENT && !grpc_done(x->call)))
			continue;
		char *why = NULL;
		int rc = st == R_LOCAL ? -1 : outcome(rr, x, d, &why);
		if (st == R_LOCAL && !x->gave_up) {
			/* an input changed under it: here, the remote kept */
			drop(rr, i);
			int ended = run_here(rr, x, d);
			free_rjob(x);
			if (ended)
				return 1;
			i--;
			continue;
		}
		if (st == R_LOCAL)
			why = cas_why(rr->cas);
		if (rc == 1) {
			rr->executed++;
			drop(rr, i);
			free_rjob(x);
			return 1;
		}
		if (rc == 0 && ++x->tries < TRIES && !cas_absent(rr->cas)) {
			double ms = 100.0 * (1u << (x->tries - 1)) * (0.5 + (double)rand_r(&rr->seed) / RAND_MAX);
			sleep_ms(ms);
			free(why);
			send_execute(rr, x);
			continue;
		}
		cas_give_up(rr->cas, why);
		drop(rr, i);
		int ended = run_here(rr, x, d);
		free_rjob(x);
		if (ended)
			return 1;
		i--; /* the slot holds another job now */
	}
	return 0;
}

static int rr_wait(struct runner *r, struct job_done *d)
{
	struct remote_runner *rr = (struct remote_runner *)r;
	for (;;) {
		if (runner_interrupted())
			return 0;
		if (rr->nended) {
			*d = rr->ended[--rr->nended];
			return 1;
		}
		if (take_done(rr, d))
			return 1;
		if (rr->nlocal == 0 && rr->njobs == 0) {
			errno = ECHILD;
			return -1;
		}
		if (rr->nlocal > 0) {
			runner_local_watch(rr->local, rr->njobs ? grpc_event_fd(rr->g) : -1);
			int rc = rr->local->wait(rr->local, d);
			if (rc == 1) {
				rr->nlocal--;
				start_waiting(rr);
			}
			if (rc != 2)
				return rc;
		} else {
			struct pollfd p[2] = {{.fd = grpc_event_fd(rr->g), .events = POLLIN},
			                      {.fd = runner_signal_fd(), .events = POLLIN}};
			if (poll(p, 2, 1000) < 0 && errno != EINTR)
				return -1;
		}
		uint64_t v;
		if (read(grpc_event_fd(rr->g), &v, sizeof v) < 0) {
			/* nothing to clear */
		}
	}
}

static void rr_cancel(struct runner *r)
{
	struct remote_runner *rr = (struct remote_runner *)r;
	/* what is queued is dropped, what is uploading finishes */
	pthread_mutex_lock(&rr->mu);
	rr->cancelled = 1;
	pthread_mutex_unlock(&rr->mu);
	pool_drain(rr->uploaders);
	pthread_mutex_lock(&rr->mu);
	rr->cancelled = 0;
	pthread_mutex_unlock(&rr->mu);
	for (size_t i = 0; i < rr->njobs; i++)
		free_rjob(rr->jobs[i]); /* cancels its call */
	rr->njobs = 0;
	rr->local->cancel(rr->local);
	rr->nlocal = 0;
	for (size_t i = rr->wait_head; i < rr->nwaiting; i++) {
		free_copy(rr->waiting[i]);
		free(rr->waiting[i]);
	}
	rr->wait_head = rr->nwaiting = 0;
	for (size_t i = 0; i < rr->nended; i++)
		free(rr->ended[i].output);
	rr->nended = 0;
}

static void rr_free(struct runner *r)
{
	struct remote_runner *rr = (struct remote_runner *)r;
	rr_cancel(r);
	rr->local->free(rr->local);
	reapi_builder_free(rr->rb);
	for (size_t i = 0; i < rr->known.cap; i++)
		free((char *)rr->known.slots[i].key);
	map_free(&rr->known);
	free(rr->jobs);
	free(rr->waiting);
	free(rr->ended);
	pool_free(rr->uploaders);
	pthread_mutex_destroy(&rr->mu);
	free(rr->instance);
	free(rr);
}

struct runner *remote_exec_new(struct runner *local, struct grpc *g, struct cas *cas,
                               struct store *store, const char *instance)
{
	struct remote_runner *rr = xcalloc(1, sizeof *rr);
	rr->base.start = rr_start;
	rr->base.wait = rr_wait;
	rr->base.cancel = rr_cancel;
	rr->base.free = rr_free;
	rr->local = local;
	rr->g = g;
	rr->cas = cas;
	rr->store = store;
	rr->instance = xstrdup(instance ? instance : "");
	rr->rb = reapi_builder_new();
	rr->seed = (unsigned)now_ns();
	pthread_mutex_init(&rr->mu, NULL);
	rr->uploaders = pool_new(UPLOADERS, 1, upload_one, rr);
	rr->local_max = (size_t)cpu_count();
	return &rr->base;
}

size_t remote_exec_count(struct runner *r)
{
	return ((struct remote_runner *)r)->executed;
}
