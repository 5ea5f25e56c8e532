/* sched: the build loop.
 *
 * Nodes mirror the graph's wanted actions (indexed by action id). Edges
 * producer -> dependent are kept in CSR form. A node becomes ready when
 * all its wanted producers are done; ready nodes sit in a max-heap keyed
 * by the longest path from the node to the end of the graph (the critical
 * path), weighted by each action's last duration.
 *
 * Invariants:
 *  - a node's output digests (outd) are known once it is done, and only
 *    then do its dependents compute their keys;
 *  - the state's record for an action is written only after its outputs
 *    on disk match the record, so a kill -9 anywhere leaves a state that
 *    at worst under-claims (never marks a stale output up to date);
 *  - a failed node's dependents are skipped, never run. */
#include "exec/sched.h"
#include "exec/depfile.h"
#include "exec/key.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct node {
	uint32_t npending;       /* wanted producers not done yet */
	uint32_t dep0, dep1;     /* dependents: deps[dep0..dep1) */
	uint64_t prio;           /* critical path length from here, ms */
	enum act_status status;
	struct digest key, cmd;
	struct digest *outd;     /* per output, once done */
	struct digest *ind;      /* per input, while running */
	struct key_input *kin;   /* the inputs that decide the key, sorted */
	size_t nkin;
	char **kin_own;          /* paths in kin the node owns (NULL-terminated) */
	const char **env;        /* effective env, while running */
	char *reason;            /* why it runs, or NULL */
	int attempts;            /* runs so far (a flaky test may run 3 times) */
	char *sandbox;           /* its sandbox dir while it runs, or NULL */
	int timed_out;           /* the last run passed its timeout */
};

struct sched {
	struct sched_env *env;
	struct graph *g;
	struct node *n;
	uint32_t *deps;
	uint32_t *heap;
	size_t hlen;
	struct digest *src_d;    /* per file id: digest of a source, once known */
	unsigned char *src_known; /* per file id: 1 known, 2 unreadable */
	struct file_stat *pre;   /* per file id: stat data taken up front */
	unsigned char *pre_ok;   /* per file id: 1 pre[] valid, 2 missing, 0 not taken */
	struct sched_counts c;
	char *root;              /* absolute workspace root, for depfiles */
	char *sandbox_state;     /* <root>/.cairn/sandbox */
	int stop;                /* start nothing new */
	int interrupted;
};

/* ---- the ready heap ---- */

static int before(struct sched *s, uint32_t a, uint32_t b)
{
	if (s->n[a].prio != s->n[b].prio)
		return s->n[a].prio > s->n[b].prio;
	return a < b;
}

static void heap_push(struct sched *s, uint32_t id)
{
	size_t i = s->hlen++;
	s->heap[i] = id;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(s, s->heap[i], s->heap[p]))
			break;
		uint32_t t = s->heap[i];
		s->heap[i] = s->heap[p];
		s->heap[p] = t;
		i = p;
	}
}

static uint32_t heap_pop(struct sched *s)
{
	uint32_t top = s->heap[0];
	s->heap[0] = s->heap[--s->hlen];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->hlen && before(s, s->heap[l], s->heap[m]))
			m = l;
		if (r < s->hlen && before(s, s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

/* ---- set-up: edges, pending counts, priorities ---- */

static void setup(struct sched *s)
{
	struct graph *g = s->g;
	size_t na = g->nactions;
	s->n = xcalloc(na ? na : 1, sizeof *s->n);
	uint32_t *ndeps = xcalloc(na + 1, sizeof *ndeps);
	size_t nedges = 0;
	for (size_t i = 0; i < na; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		s->c.total++;
		for (size_t j = 0; j < a->ninputs; j++) {
			struct action *p = a->inputs[j]->producer;
			if (p && p->wanted) {
				ndeps[p->id]++;
				s->n[i].npending++;
				nedges++;
			}
		}
	}
	s->deps = xcalloc(nedges ? nedges : 1, sizeof *s->deps);
	uint32_t off = 0;
	for (size_t i = 0; i < na; i++) {
		s->n[i].dep0 = s->n[i].dep1 = off;
		off += ndeps[i];
	}
	for (size_t i = 0; i < na; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		for (size_t j = 0; j < a->ninputs; j++) {
			struct action *p = a->inputs[j]->producer;
			if (p && p->wanted)
				s->deps[s->n[p->id].dep1++] = (uint32_t)i;
		}
	}
	/* Topological order (Kahn), then priorities from the sinks back. */
	uint32_t *order = xcalloc(na ? na : 1, sizeof *order);
	uint32_t *pend = xcalloc(na ? na : 1, sizeof *pend);
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < na; i++) {
		pend[i] = s->n[i].npending;
		if (g->actions[i]->wanted && pend[i] == 0)
			order[tail++] = (uint32_t)i;
	}
	while (head < tail) {
		uint32_t id = order[head++];
		for (uint32_t k = s->n[id].dep0; k < s->n[id].dep1; k++)
			if (--pend[s->deps[k]] == 0)
				order[tail++] = s->deps[k];
	}
	for (size_t k = tail; k-- > 0;) {
		uint32_t id = order[k];
		struct act_rec *r = state_action(s->env->st, g->actions[id]->outputs[0]->path);
		uint64_t best = 0;
		for (uint32_t d = s->n[id].dep0; d < s->n[id].dep1; d++)
			if (s->n[s->deps[d]].prio > best)
				best = s->n[s->deps[d]].prio;
		s->n[id].prio = best + 1 + (r ? r->ms : 0);
	}
	s->heap = xcalloc(na ? na : 1, sizeof *s->heap);
	for (size_t i = 0; i < na; i++)
		if (g->actions[i]->wanted && s->n[i].npending == 0)
			heap_push(s, (uint32_t)i);
	free(order);
	free(pend);
	free(ndeps);
}

/* ---- pre-stat: the no-op build is mostly stat(); spread it on threads ---- */

struct prestat_job {
	struct sched *s;
	const uint32_t *ids; /* file ids to stat */
	size_t n, step, first;
};

static void *prestat_run(void *arg)
{
	struct prestat_job *j = arg;
	struct graph *g = j->s->g;
	struct fsys *fs = j->s->env->fs;
	for (size_t i = j->first; i < j->n; i += j->step) {
		uint32_t id = j->ids[i];
		j->s->pre_ok[id] = fs->stat(fs, g->files[id]->path, &j->s->pre[id]) == 0 ? 1 : 2;
	}
	return NULL;
}

static void prestat(struct sched *s, int threads)
{
	struct graph *g = s->g;
	s->pre = xcalloc(g->nfiles ? g->nfiles : 1, sizeof *s->pre);
	s->pre_ok = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	unsigned char *mark = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < g->nactions; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		for (size_t k = 0; k < a->ninputs + a->noutputs; k++) {
			struct gfile *f = k < a->ninputs ? a->inputs[k] : a->outputs[k - a->ninputs];
			if (k < a->ninputs && f->producer && f->producer->wanted)
				continue;
			if (!mark[f->id]++)
				VEC_PUSH(ids, n, cap, f->id);
		}
	}
	if (threads > 16)
		threads = 16;
	if ((size_t)threads > n / 256 + 1)
		threads = (int)(n / 256 + 1);
	pthread_t th[16];
	struct prestat_job jobs[16];
	int started = 0;
	for (int t = 0; t < threads; t++) {
		jobs[t] = (struct prestat_job){s, ids, n, (size_t)threads, (size_t)t};
		if (t > 0 && pthread_create(&th[t], NULL, prestat_run, &jobs[t]) == 0)
			started |= 1 << t;
		else if (t > 0)
			prestat_run(&jobs[t]);
	}
	prestat_run(&jobs[0]);
	for (int t = 1; t < threads; t++)
		if (started & (1 << t))
			pthread_join(th[t], NULL);
	free(ids);
	free(mark);
}

/* ---- completion ---- */

static void notify(struct sched *s, struct action *a, const struct job_done *d)
{
	struct node *n = &s->n[a->id];
	struct sched_observer *o = s->env->obs;
	if (!o || !o->finished)
		return;
	struct sched_event ev = {
		.a = a, .status = n->status, .reason = n->reason, .key = n->key,
		.counts = &s->c, .attempts = n->attempts, .timed_out = n->timed_out,
	};
	if (d) {
		ev.start_ns = d->start_ns;
		ev.end_ns = d->end_ns;
		ev.output = d->output;
		ev.outlen = d->outlen;
		ev.exit_code = d->exit_code;
	}
	o->finished(o->ctx, &ev);
}

static void skip_dependents(struct sched *s, uint32_t id)
{
	for (uint32_t k = s->n[id].dep0; k < s->n[id].dep1; k++) {
		uint32_t d = s->deps[k];
		if (s->n[d].status != AS_PENDING)
			continue;
		s->n[d].status = AS_SKIPPED;
		s->c.done++;
		skip_dependents(s, d);
	}
}

static void done(struct sched *s, struct action *a, enum act_status st, const struct job_done *d)
{
	struct node *n = &s->n[a->id];
	n->status = st;
	s->c.done++;
	if (st == AS_EXECUTED)
		s->c.executed++;
	else if (st == AS_CACHED || st == AS_UPTODATE)
		s->c.cached++;
	else if (st == AS_FAILED)
		s->c.failed++;
	free(n->ind);
	n->ind = NULL;
	free(n->env);
	n->env = NULL;
	free(n->kin);
	n->kin = NULL;
	strv_free(n->kin_own);
	n->kin_own = NULL;
	notify(s, a, d);
	if (st == AS_FAILED) {
		skip_dependents(s, a->id);
		/* a failing test stops nothing: the other tests still run */
		if (!s->env->opts.keep_going && !(a->flags & ACT_TEST))
			s->stop = 1;
		return;
	}
	for (uint32_t k = n->dep0; k < n->dep1; k++) {
		uint32_t dep = s->deps[k];
		if (--s->n[dep].npending == 0 && s->n[dep].status == AS_PENDING)
			heap_push(s, dep);
	}
}

/* ---- deciding ---- */

static int out_index(const struct action *p, const struct gfile *f)
{
	for (size_t i = 0; i < p->noutputs; i++)
		if (p->outputs[i] == f)
			return (int)i;
	return 0;
}

static uint64_t d64(const struct digest *d)
{
	uint64_t v;
	memcpy(&v, d->b, 8);
	return v;
}

/* A source file's digest, looked up once per run however many actions
 * read it. 0, or -1 with errno. */
/* Digest of a file as it was when the build started: the pre-stat when
 * there is one (used once: it is stale after cairn writes the file). */
static int first_digest(struct sched *s, const struct gfile *f, struct digest *d)
{
	unsigned char ok = s->pre_ok ? s->pre_ok[f->id] : 0;
	if (ok)
		s->pre_ok[f->id] = 0;
	if (ok == 2) {
		errno = ENOENT;
		return -1;
	}
	if (ok == 1)
		return state_digest_st(s->env->st, s->env->fs, f->path, &s->pre[f->id], d);
	return state_digest(s->env->st, s->env->fs, f->path, d);
}

static int source_digest(struct sched *s, const struct gfile *f, struct digest *d)
{
	if (s->src_known[f->id] == 0) {
		int r = first_digest(s, f, &s->src_d[f->id]);
		s->src_known[f->id] = r == 0 ? 1 : 2;
		if (r < 0)
			return -1;
	}
	if (s->src_known[f->id] == 2) {
		errno = ENOENT;
		return -1;
	}
	*d = s->src_d[f->id];
	return 0;
}

/* Index of path among a's inputs (sorted), or -1. */
static long input_index(const struct action *a, const char *path)
{
	size_t lo = 0, hi = a->ninputs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(a->inputs[mid]->path, path);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Is path a fixed input of a (one no depfile can leave out)? */
static int fixed_input(const struct action *a, const char *path)
{
	long i = input_index(a, path);
	return i >= 0 && !a->prunable[i];
}

static int cmp_kin(const void *x, const void *y)
{
	return strcmp(((const struct key_input *)x)->path, ((const struct key_input *)y)->path);
}

/* Set n->kin: every input (disc NULL), or the fixed inputs plus the
 * discovered ones. 0, or -1 when a discovered file cannot be read (then
 * the caller falls back to every input). */
static int build_kin(struct sched *s, struct action *a, char *const *disc, size_t ndisc)
{
	struct node *n = &s->n[a->id];
	free(n->kin);
	strv_free(n->kin_own);
	n->kin_own = NULL;
	n->kin = xcalloc(a->ninputs + ndisc + 1, sizeof *n->kin);
	n->nkin = 0;
	for (size_t i = 0; i < a->ninputs; i++)
		if (!disc || !a->prunable[i])
			n->kin[n->nkin++] = (struct key_input){a->inputs[i]->path, n->ind[i]};
	if (!disc)
		return 0;
	n->kin_own = xcalloc(ndisc + 1, sizeof *n->kin_own);
	size_t nown = 0;
	for (size_t i = 0; i < ndisc; i++) {
		if (fixed_input(a, disc[i]))
			continue;
		long k = input_index(a, disc[i]);
		struct key_input ki = {.path = NULL};
		if (k >= 0) {
			ki.d = n->ind[k];
		} else if (state_digest(s->env->st, s->env->fs, disc[i], &ki.d) < 0) {
			return -1;
		}
		n->kin_own[nown] = xstrdup(disc[i]);
		ki.path = n->kin_own[nown++];
		n->kin[n->nkin++] = ki;
	}
	xqsort(n->kin, n->nkin, sizeof *n->kin, cmp_kin);
	return 0;
}

static void compute_key(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	key_compute(a, n->env, n->kin, n->nkin, s->env->opts.props, &n->key, &n->cmd);
}

/* Why an action must run, given its last record. */
static char *reason(struct sched *s, struct action *a, struct act_rec *r)
{
	if (!r)
		return xstrdup("new");
	struct node *n = &s->n[a->id];
	if (!digest_eq(&r->cmd, &n->cmd))
		return xstrdup("command changed");
	size_t i = 0, j = 0;
	while (i < n->nkin || j < r->nins) {
		int c = i == n->nkin ? 1 : j == r->nins ? -1 : strcmp(n->kin[i].path, r->ins[j].path);
		if (c > 0)
			return xasprintf("input changed: %s", r->ins[j].path);
		if (c < 0 || r->ins[j].d64 != d64(&n->kin[i].d))
			return xasprintf("input changed: %s", n->kin[i].path);
		i++;
		j++;
	}
	for (size_t k = 0; k < a->noutputs; k++)
		if (access(a->outputs[k]->path, F_OK) < 0)
			return xstrdup("output missing");
	return xstrdup(digest_eq(&r->key, &n->key) ? "output changed" : "no cached result");
}

static void record(struct sched *s, struct action *a, uint64_t ms)
{
	struct node *n = &s->n[a->id];
	struct act_rec *r = xcalloc(1, sizeof *r);
	r->id = xstrdup(a->outputs[0]->path);
	r->key = n->key;
	r->cmd = n->cmd;
	r->ms = ms;
	r->nouts = a->noutputs;
	r->outs = xcalloc(a->noutputs, sizeof *r->outs);
	memcpy(r->outs, n->outd, a->noutputs * sizeof *r->outs);
	r->nins = n->nkin;
	r->ins = xcalloc(n->nkin ? n->nkin : 1, sizeof *r->ins);
	for (size_t i = 0; i < n->nkin; i++) {
		r->ins[i].path = xstrdup(n->kin[i].path);
		r->ins[i].d64 = d64(&n->kin[i].d);
	}
	state_set_action(s->env->st, r);
}

/* The discovered inputs of a's last run, from its record: what it keyed
 * on beyond its fixed inputs. Fresh array, or NULL when there is none. */
static char **disc_from_record(const struct action *a, const struct act_rec *r, size_t *n)
{
	*n = 0;
	if (!a->depfile || !r)
		return NULL;
	char **v = xcalloc(r->nins + 1, sizeof *v);
	for (size_t i = 0; i < r->nins; i++)
		if (!fixed_input(a, r->ins[i].path))
			v[(*n)++] = xstrdup(r->ins[i].path);
	return v;
}

/* Restore a's outputs from a cached result; 0, or -1 (then run it). */
static int restore(struct sched *s, struct action *a, struct action_result *res)
{
	struct sched_env *env = s->env;
	struct node *n = &s->n[a->id];
	if (res->exit_code != 0 || res->noutputs != a->noutputs)
		return -1;
	for (size_t i = 0; i < a->noutputs; i++)
		if (strcmp(res->outputs[i].path, a->outputs[i]->path) != 0)
			return -1;
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path;
		struct result_output *o = &res->outputs[i];
		struct digest cur;
		if (state_digest(env->st, env->fs, p, &cur) == 0 && digest_eq(&cur, &o->d))
			continue;
		if (env->opts.plan)
			continue;
		if (fs_mkdir_parent(p) < 0)
			return -1;
		if (env->store->ops->get_file(env->store, &o->d, p, o->mode) < 0)
			return -1;
		state_remember(env->st, env->fs, p, &o->d);
	}
	for (size_t i = 0; i < a->noutputs; i++)
		n->outd[i] = res->outputs[i].d;
	return 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Does n's key cover every file res reports its run read? (The key's
 * inputs are sorted by path, as are res's discovered files.) */
static int covered(const struct node *n, const struct action_result *res)
{
	size_t i = 0;
	for (size_t k = 0; k < res->ndiscovered; k++) {
		while (i < n->nkin && strcmp(n->kin[i].path, res->discovered[k]) < 0)
			i++;
		if (i == n->nkin || strcmp(n->kin[i].path, res->discovered[k]) != 0)
			return 0;
	}
	return 1;
}

/* The value of variable name in a's environment, or NULL. */
static const char *env_get(const struct action *a, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], name, n) && a->env[i][n] == '=')
			return a->env[i] + n + 1;
	return NULL;
}

/* The sandbox of a: its image directory (made empty) and what to show in
 * it. Returns the spec, to free with free_spec, or NULL (no sandbox). */
static struct sandbox_spec *make_spec(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	if (!s->env->opts.sandbox || (a->flags & ACT_NO_SANDBOX))
		return NULL;
	struct sandbox_spec *sp = xcalloc(1, sizeof *sp);
	sp->root = s->root;
	sp->state = s->sandbox_state;
	free(n->sandbox);
	n->sandbox = xasprintf("%s/.cairn/sandbox/out/%u", s->root, a->id);
	fs_rm_rf(n->sandbox);
	fs_mkdir_p(n->sandbox);
	sp->dir = n->sandbox;
	const char **in = xcalloc(a->ninputs + 1, sizeof *in);
	for (size_t i = 0; i < a->ninputs; i++)
		in[i] = a->inputs[i]->path;
	sp->inputs = in;
	sp->ninputs = a->ninputs;
	/* output directories, parents first (a later mount would hide an
	 * earlier one below it), each once */
	char **dirs = xcalloc(a->noutputs + 1, sizeof *dirs);
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path, *sl = strrchr(p, '/');
		dirs[i] = sl ? xstrndup(p, (size_t)(sl - p)) : xstrdup(".");
	}
	xqsort(dirs, a->noutputs, sizeof *dirs, cmp_str);
	for (size_t i = 0; i < a->noutputs; i++) {
		if (sp->noutdirs && !strcmp(dirs[sp->noutdirs - 1], dirs[i]))
			free(dirs[i]);
		else
			dirs[sp->noutdirs++] = dirs[i];
	}
	sp->outdirs = (const char *const *)dirs;
	const char *tmp = env_get(a, "TEST_TMPDIR");
	if (tmp) {
		const char **rw = xcalloc(2, sizeof *rw);
		rw[0] = tmp;
		sp->rwdirs = rw;
		sp->nrwdirs = 1;
	}
	sp->network = (a->flags & ACT_NETWORK) != 0;
	return sp;
}

static void free_spec(struct sandbox_spec *sp)
{
	if (!sp)
		return;
	free((void *)sp->inputs);
	for (size_t i = 0; i < sp->noutdirs; i++)
		free((void *)sp->outdirs[i]);
	free((void *)sp->outdirs);
	free((void *)sp->rwdirs);
	free(sp);
}

/* After a sandboxed run: move the declared outputs out of the image, and
 * say which undeclared workspace files the output complains about. */
static void leave_sandbox(struct sched *s, struct action *a, struct job_done *d)
{
	struct node *n = &s->n[a->id];
	if (!n->sandbox)
		return;
	/* only regular files come out: a symlink could point anywhere */
	struct buf bad = {0};
	for (size_t i = 0; i < a->noutputs && d->exit_code == 0; i++) {
		char *in = xasprintf("%s/out/%s", n->sandbox, a->outputs[i]->path);
		struct stat st;
		if (lstat(in, &st) < 0) {
			/* not written: collect() says so */
		} else if (!S_ISREG(st.st_mode)) {
			buf_printf(&bad, "cairn: output '%s' is a %s, not a regular file: refused\n",
			           a->outputs[i]->path, S_ISLNK(st.st_mode) ? "symlink" : "special file");
		} else if (rename(in, a->outputs[i]->path) < 0 &&
		           fs_copy_atomic(in, a->outputs[i]->path, st.st_mode & 0777, NULL, NULL) < 0) {
			buf_printf(&bad, "cairn: cannot copy output '%s' out of the sandbox: %s\n",
			           a->outputs[i]->path, strerror(errno));
		}
		free(in);
	}
	fs_rm_rf(n->sandbox);
	if (bad.len) {
		buf_putn(&bad, d->output, d->outlen);
		free(d->output);
		d->outlen = bad.len;
		d->output = buf_take(&bad);
		d->exit_code = 1;
	}
	buf_free(&bad);
	free(n->sandbox);
	n->sandbox = NULL;
	if (d->exit_code == 0)
		return;
	/* a path of the workspace in the output, existing but not an input:
	 * the likely file the action could not read */
	struct buf why = {0};
	char *text = xstrndup(d->output, d->outlen);
	int found = 0;
	for (char *tok = strtok(text, " \t\n'\":`()[],;"); tok && found < 3;
	     tok = strtok(NULL, " \t\n'\":`()[],;")) {
		while (tok[0] == '.' && tok[1] == '/')
			tok += 2;
		struct stat st;
		if (!*tok || tok[0] == '/' || input_index(a, tok) >= 0 ||
		    stat(tok, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		buf_printf(&why, "cairn: %s read '%s', which is not among its declared inputs "
		           "(the sandbox hides it)\n", a->label, tok);
		found++;
	}
	free(text);
	if (why.len) {
		buf_putn(&why, d->output, d->outlen);
		free(d->output);
		d->outlen = why.len;
		d->output = buf_take(&why);
	}
	buf_free(&why);
}

/* Hand a to the runner: 0 when started, 1 when it failed at once. */
static int start(struct sched *s, struct action *a)
{
	struct sched_env *env = s->env;
	struct node *n = &s->n[a->id];
	struct job j = {.id = a->id, .envp = n->env};
	const char **envp = NULL;
	char *abs_tmp = NULL;
	if (a->flags & ACT_TEST) {
		const char *t = env_get(a, "TEST_TIMEOUT"), *tmp = env_get(a, "TEST_TMPDIR");
		j.timeout_ms = t ? strtoull(t, NULL, 10) * 1000 : 0;
		if (tmp) {
			fs_rm_rf(tmp);
			fs_mkdir_p(tmp);
			/* the key has it relative (the same on any machine); the test
			 * gets it absolute, so it survives a cd */
			size_t k = 0;
			while (n->env[k])
				k++;
			envp = xcalloc(k + 1, sizeof *envp);
			abs_tmp = xasprintf("TEST_TMPDIR=%s/%s", s->root, tmp);
			for (size_t i = 0; i < k; i++)
				envp[i] = strncmp(n->env[i], "TEST_TMPDIR=", 12) ? n->env[i] : abs_tmp;
			j.envp = envp;
		}
	}
	const char **argv = xcalloc(a->argc + 1, sizeof *argv);
	memcpy(argv, a->argv, a->argc * sizeof *argv);
	j.argv = argv;
	struct sandbox_spec *sp = make_spec(s, a);
	j.sandbox = sp;
	struct err se = {0};
	int rc = env->runner->start(env->runner, &j, &se);
	free(argv);
	free_spec(sp);
	free(envp);
	free(abs_tmp);
	if (rc < 0) {
		/* could not start: the action fails, the build goes on */
		struct job_done d = {.exit_code = 127};
		char *msg = xasprintf("%s\n", se.msg);
		d.output = msg;
		d.outlen = strlen(msg);
		done(s, a, AS_FAILED, &d);
		free(msg);
		err_clear(&se);
		return 1;
	}
	s->c.running++;
	if (env->obs && env->obs->started)
		env->obs->started(env->obs->ctx, a, &s->c);
	return 0;
}

/* A test's .log and JUnit .xml (outputs[0] and [1], sorted by path). */
static void write_test_outputs(struct sched *s, struct action *a, const struct job_done *d)
{
	struct node *n = &s->n[a->id];
	double secs = (double)(d->end_ns - d->start_ns) / 1e9;
	fs_write_atomic(a->outputs[0]->path, d->output, d->outlen, 0644);
	struct buf x = {0};
	int failed = d->exit_code != 0;
	buf_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	buf_printf(&x, "<testsuite name=\"%s\" tests=\"1\" failures=\"%d\" errors=\"0\" "
	           "time=\"%.3f\">\n", a->label, failed, secs);
	buf_printf(&x, "  <testcase name=\"%s\" classname=\"%s\" time=\"%.3f\">\n",
	           a->outputs[1]->path, a->label, secs);
	if (d->timed_out)
		buf_printf(&x, "    <failure message=\"timed out after %.0f s\"/>\n", secs);
	else if (failed)
		buf_printf(&x, "    <failure message=\"exit code %d\"/>\n", d->exit_code);
	buf_puts(&x, "    <system-out><![CDATA[");
	for (size_t i = 0; i < d->outlen; i++) {
		/* "]]>" cannot stand inside CDATA; control bytes are not XML */
		unsigned char c = (unsigned char)d->output[i];
		if (c == ']' && i + 2 < d->outlen && d->output[i + 1] == ']' && d->output[i + 2] == '>')
			buf_puts(&x, "]]]]><![CDATA[");
		else if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
			buf_putc(&x, '?');
		else
			buf_putc(&x, (char)c);
	}
	buf_puts(&x, "]]></system-out>\n  </testcase>\n</testsuite>\n</testsuites>\n");
	if (n->attempts > 1)
		buf_printf(&x, "<!-- attempts: %d -->\n", n->attempts);
	fs_write_atomic(a->outputs[1]->path, x.s, x.len, 0644);
	buf_free(&x);
}

/* Decide one ready action: 1 when it finished at once, 0 when it was
 * started, -1 on a system error. */
static int decide(struct sched *s, struct action *a, struct err *e)
{
	struct sched_env *env = s->env;
	struct node *n = &s->n[a->id];
	n->outd = xcalloc(a->noutputs, sizeof *n->outd);
	n->ind = xcalloc(a->ninputs ? a->ninputs : 1, sizeof *n->ind);
	for (size_t i = 0; i < a->ninputs; i++) {
		struct gfile *f = a->inputs[i];
		struct action *p = f->producer;
		if (p && p->wanted) {
			if (s->n[p->id].status == AS_WOULD_RUN) {
				n->reason = xasprintf("input will change: %s", f->path);
				done(s, a, AS_WOULD_RUN, NULL);
				return 1;
			}
			n->ind[i] = s->n[p->id].outd[out_index(p, f)];
		} else if (source_digest(s, f, &n->ind[i]) < 0) {
			struct job_done d = {0};
			char *msg = xasprintf("cannot read input '%s': %s\n", f->path, strerror(errno));
			d.output = msg;
			d.outlen = strlen(msg);
			d.exit_code = 2;
			n->reason = xstrdup("missing input");
			done(s, a, AS_FAILED, &d);
			free(msg);
			return 1;
		}
	}
	n->env = key_env(a);
	struct act_rec *r = state_action(env->st, a->outputs[0]->path);
	/* An action with a depfile is keyed on what it read last time, when
	 * that is known; else (and for every other action) on all inputs. */
	size_t ndisc;
	char **disc = disc_from_record(a, r, &ndisc);
	if (!disc || build_kin(s, a, disc, ndisc) < 0)
		build_kin(s, a, NULL, 0);
	strv_free(disc);
	compute_key(s, a);

	if (r && digest_eq(&r->key, &n->key) && r->nouts == a->noutputs) {
		size_t i;
		for (i = 0; i < a->noutputs; i++) {
			struct digest cur;
			if (first_digest(s, a->outputs[i], &cur) < 0 ||
			    !digest_eq(&cur, &r->outs[i]))
				break;
		}
		if (i == a->noutputs) {
			memcpy(n->outd, r->outs, a->noutputs * sizeof *n->outd);
			done(s, a, AS_UPTODATE, NULL);
			return 1;
		}
	}

	struct action_result res = {0};
	if (env->store->ops->get_result(env->store, &n->key, &res) == 1) {
		/* a result is only valid for this key if every file its run read
		 * was among the inputs the key was computed over */
		int ok = covered(n, &res) && restore(s, a, &res) == 0;
		if (ok && a->depfile && res.discovered && !env->opts.plan &&
		    build_kin(s, a, res.discovered, res.ndiscovered) == 0)
			compute_key(s, a); /* remember the narrower key */
		action_result_free(&res);
		if (ok) {
			if (!env->opts.plan)
				record(s, a, r ? r->ms : 0);
			done(s, a, AS_CACHED, NULL);
			return 1;
		}
	}

	n->reason = reason(s, a, r);
	if (env->opts.plan) {
		done(s, a, AS_WOULD_RUN, NULL);
		return 1;
	}
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path;
		if (fs_rm_rf(p) < 0 || fs_mkdir_parent(p) < 0)
			return err_sys(e, "cannot prepare output '%s'", p);
	}
	return start(s, a);
}

/* After a run: read a's depfile; key it on its fixed inputs plus the files
 * the compiler reported (a header it read but nobody declared is warned
 * about in its output); record them in the result. */
static void discover(struct sched *s, struct action *a, struct action_result *res,
                     struct job_done *d)
{
	struct buf text = {0};
	if (fs_read_all(a->depfile, &text) < 0) {
		buf_free(&text);
		return; /* keyed on every input, as it was */
	}
	char **deps = depfile_parse(text.s, text.len, s->root);
	buf_free(&text);
	if (!deps)
		return;
	size_t n = 0, k = 0;
	while (deps[n])
		n++;
	xqsort(deps, n, sizeof *deps, cmp_str);
	struct buf warn = {0};
	for (size_t i = 0; i < n; i++) {
		if ((k && !strcmp(deps[k - 1], deps[i])) || fixed_input(a, deps[i]) ||
		    !strcmp(deps[i], a->depfile)) {
			free(deps[i]);
			continue;
		}
		if (input_index(a, deps[i]) < 0)
			buf_printf(&warn, "cairn: warning: %s reads '%s', which no target it depends on "
			           "declares in hdrs or srcs\n", a->label, deps[i]);
		deps[k++] = deps[i];
	}
	deps[k] = NULL;
	if (build_kin(s, a, deps, k) == 0) {
		compute_key(s, a);
		res->discovered = deps;
		res->ndiscovered = k;
	} else {
		build_kin(s, a, NULL, 0);
		compute_key(s, a);
		strv_free(deps);
	}
	if (warn.len) {
		buf_putn(&warn, d->output, d->outlen);
		free(d->output);
		d->outlen = warn.len;
		d->output = buf_take(&warn);
	}
	buf_free(&warn);
}

/* Collect a finished job: check and store its outputs. */
static void collect(struct sched *s, struct job_done *d)
{
	struct sched_env *env = s->env;
	struct action *a = s->g->actions[d->id];
	struct node *n = &s->n[a->id];
	s->c.running--;
	n->attempts++;
	n->timed_out = d->timed_out;
	leave_sandbox(s, a, d);
	if (a->flags & ACT_TEST) {
		if (d->exit_code != 0 && (a->flags & ACT_FLAKY) && n->attempts < 3 && !s->stop) {
			start(s, a); /* try again (a start that fails at once is done) */
			return;
		}
		write_test_outputs(s, a, d);
	}
	if (d->exit_code != 0) {
		done(s, a, AS_FAILED, d);
		return;
	}
	struct action_result res = {0};
	res.outputs = xcalloc(a->noutputs, sizeof *res.outputs);
	res.noutputs = a->noutputs;
	struct buf why = {0};
	for (size_t i = 0; i < a->noutputs && !why.len; i++) {
		const char *p = a->outputs[i]->path;
		struct stat st;
		if (lstat(p, &st) < 0) {
			buf_printf(&why, "cairn: the action did not create its output '%s'\n", p);
		} else if (!S_ISREG(st.st_mode)) {
			buf_printf(&why, "cairn: output '%s' is not a regular file\n", p);
		} else {
			struct result_output *o = &res.outputs[i];
			o->path = xstrdup(p);
			o->mode = (st.st_mode & 0111) ? 0755 : 0644;
			if (env->store->ops->put_file(env->store, p, &o->d, &o->size) < 0) {
				/* the store is best effort: hash it ourselves */
				if (sha_file(p, &o->d, &o->size) < 0)
					buf_printf(&why, "cairn: cannot read output '%s': %s\n", p, strerror(errno));
			}
			n->outd[i] = o->d;
			state_remember(env->st, env->fs, p, &o->d);
		}
	}
	if (why.len) {
		buf_putn(&why, d->output, d->outlen);
		free(d->output);
		d->outlen = why.len;
		d->output = buf_take(&why);
		d->exit_code = 1;
		action_result_free(&res);
		done(s, a, AS_FAILED, d);
		return;
	}
	if (d->outlen)
		env->store->ops->put_blob(env->store, d->output, d->outlen, &res.log);
	res.log_size = d->outlen;
	/* the key it was looked up under, and (copied: discover() replaces
	 * them) the inputs that key covered */
	struct digest lookup_key = n->key;
	struct node was = {.nkin = n->nkin};
	was.kin = xcalloc(n->nkin + 1, sizeof *was.kin);
	char **paths = xcalloc(n->nkin + 1, sizeof *paths);
	for (size_t i = 0; i < n->nkin; i++) {
		paths[i] = xstrdup(n->kin[i].path);
		was.kin[i] = (struct key_input){paths[i], n->kin[i].d};
	}
	if (a->depfile)
		discover(s, a, &res, d);
	env->store->ops->put_result(env->store, &n->key, &res);
	if (!digest_eq(&lookup_key, &n->key) && covered(&was, &res))
		env->store->ops->put_result(env->store, &lookup_key, &res);
	free(was.kin);
	strv_free(paths);
	action_result_free(&res);
	record(s, a, (d->end_ns - d->start_ns) / 1000000);
	done(s, a, AS_EXECUTED, d);
}

int sched_run(struct sched_env *env, struct sched_result *res, struct err *e)
{
	struct sched s = {.env = env, .g = env->g};
	int rc = 0;
	setup(&s);
	s.src_d = xcalloc(s.g->nfiles ? s.g->nfiles : 1, sizeof *s.src_d);
	s.src_known = xcalloc(s.g->nfiles ? s.g->nfiles : 1, 1);
	char cwd[4096];
	s.root = xstrdup(getcwd(cwd, sizeof cwd) ? cwd : "/");
	s.sandbox_state = xasprintf("%s/.cairn/sandbox", s.root);
	if (env->opts.stat_threads > 0)
		prestat(&s, env->opts.stat_threads);

	int jobs = env->opts.jobs > 0 ? env->opts.jobs : 1;
	for (;;) {
		while (!s.stop && s.hlen && s.c.running < (size_t)jobs) {
			if (runner_interrupted()) {
				s.stop = s.interrupted = 1;
				break;
			}
			uint32_t id = heap_pop(&s);
			if (decide(&s, s.g->actions[id], e) < 0) {
				rc = -1;
				s.stop = 1;
			}
		}
		if (s.c.running == 0)
			break;
		struct job_done d = {0};
		int w = env->runner->wait(env->runner, &d);
		if (w == 1) {
			collect(&s, &d);
			free(d.output);
		} else {
			if (w == 0)
				s.interrupted = 1;
			else
				rc = err_sys(e, "waiting for actions");
			env->runner->cancel(env->runner);
			s.c.running = 0;
			s.stop = 1;
			break;
		}
	}
	res->c = s.c;
	res->interrupted = s.interrupted;
	for (size_t i = 0; i < s.g->nactions; i++) {
		free(s.n[i].outd);
		free(s.n[i].ind);
		free(s.n[i].env);
		free(s.n[i].reason);
		free(s.n[i].kin);
		strv_free(s.n[i].kin_own);
		if (s.n[i].sandbox)
			fs_rm_rf(s.n[i].sandbox); /* interrupted */
		free(s.n[i].sandbox);
	}
	free(s.n);
	free(s.deps);
	free(s.heap);
	free(s.src_d);
	free(s.src_known);
	free(s.pre);
	free(s.pre_ok);
	free(s.root);
	free(s.sandbox_state);
	return rc;
}
