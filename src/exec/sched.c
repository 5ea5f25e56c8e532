/* sched: the build loop.
 *
 * Nodes mirror the graph's wanted actions (indexed by action id). Edges
 * producer -> dependent are kept in CSR form. A node becomes ready when
 * all its wanted producers are done; ready nodes sit in a max-heap keyed
 * by the longest path from the node to the end of the graph (the critical
 * path), weighted by each action's last duration.
 *
 * Invariants:
 *  - a node's output digests are known once it is done (in outd, or, for
 *    an action found up to date from sched_known without a decision, in
 *    its state record: sched_output_digest), and only then do its
 *    dependents compute their keys;
 *  - the state's record for an action is written only after its outputs
 *    on disk match the record, so a kill -9 anywhere leaves a state that
 *    at worst under-claims (never marks a stale output up to date);
 *  - a failed node's dependents are skipped, never run. */
#include "exec/sched_int.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Is a up to date because none of its files changed since a build in
 * which it was (sched_known), and neither did its producers'? */
static int unchanged(struct sched *s, struct action *a)
{
	const struct sched_known *k = s->env->known;
	for (size_t i = 0; i < a->ninputs; i++) {
		struct action *p = a->inputs[i]->producer;
		if (p && p->wanted ? !s->n[p->id].same : k->what[a->inputs[i]->id] != KNOWN_SAME)
			return 0;
	}
	for (size_t i = 0; i < a->noutputs; i++)
		if (k->what[a->outputs[i]->id] != KNOWN_SAME)
			return 0;
	return 1;
}


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
	/* actions known to be up to date are done before anything runs; what
	 * is left is closed under dependents */
	if (s->env->known) {
		for (size_t k = 0; k < tail; k++) {
			uint32_t id = order[k];
			if (!unchanged(s, g->actions[id]))
				continue;
			s->n[id].same = 1;
			s->n[id].status = AS_UPTODATE;
			s->c.done++;
			s->c.cached++;
			for (uint32_t d = s->n[id].dep0; d < s->n[id].dep1; d++)
				s->n[s->deps[d]].npending--;
		}
	}
	for (size_t k = tail; k-- > 0;) {
		uint32_t id = order[k];
		if (s->n[id].same)
			continue;
		struct act_rec *r = state_action(s->env->st, g->actions[id]->outputs[0]->path);
		uint64_t best = 0;
		for (uint32_t d = s->n[id].dep0; d < s->n[id].dep1; d++)
			if (s->n[s->deps[d]].prio > best)
				best = s->n[s->deps[d]].prio;
		s->n[id].prio = best + 1 + (r ? r->ms : 0);
	}
	s->heap = xcalloc(na ? na : 1, sizeof *s->heap);
	for (size_t i = 0; i < na; i++)
		if (g->actions[i]->wanted && s->n[i].npending == 0 && !s->n[i].same)
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
			if (mark[f->id])
				continue;
			mark[f->id] = 1;
			unsigned char w = s->env->known ? s->env->known->what[f->id] : KNOWN_NOT;
			if (w == KNOWN_NOT) {
				VEC_PUSH(ids, n, cap, f->id);
			} else {
				/* the no-op check took it already */
				s->pre[f->id] = s->env->known->st[f->id];
				s->pre_ok[f->id] = w == KNOWN_MISSING ? 2 : 1;
			}
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

/* ---- sources ---- */

/* What kind of file a mode is, for a message. */
static const char *kind_of(uint32_t mode)
{
	return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" :
	       S_ISSOCK(mode) ? "a socket" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" :
	       "a special file";
}

/* The user error for a source of a that is not a regular file. -1. */
static int not_regular(struct action *a, const struct gfile *f, uint32_t mode, struct err *e)
{
	return err_input(e, *a->where ? a->where : NULL,
	                 "%s: source '%s' is %s, not a regular file", a->label, f->path,
	                 kind_of(mode));
}

/* Every source a wanted action reads must be a regular file (or a symlink
 * to one): a FIFO would block the read that hashes it, a directory or a
 * device has no content to hash. This is checked on the pre-stat's data
 * before anything runs, so the build stops at once with the build file's
 * line (exit 2). An action known to be unchanged read the same regular
 * files last time. A symlink is left to the hashing, which refuses a
 * target that is not a regular file, as does a source that changes type
 * after this check: decide() reports that the same way. 0, or -1 with *e. */
static int check_sources(struct sched *s, struct err *e)
{
	struct graph *g = s->g;
	for (size_t i = 0; i < g->nactions; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted || s->n[i].same)
			continue;
		for (size_t k = 0; k < a->ninputs; k++) {
			const struct gfile *f = a->inputs[k];
			if (f->producer || s->pre_ok[f->id] != 1)
				continue;
			uint32_t mode = s->pre[f->id].mode;
			if ((mode & S_IFMT) && !S_ISREG(mode) && !S_ISLNK(mode))
				return not_regular(a, f, mode, e);
		}
	}
	return 0;
}

/* ---- leftovers ---- */

static int declared_output(void *ctx, const char *path)
{
	struct gfile *f = graph_find(ctx, path);
	return f && f->producer;
}

/* Temp files are renamed into place or removed, unless cairn is killed in
 * between; then they would stay forever. Each output directory is swept
 * when the first action with an output there runs or is restored, once
 * per build: a full rebuild lists each directory once, and a no-op build
 * lists none. A directory no action writes to keeps its leftovers until
 * one does (they are wasted space, never read). */
void sched_sweep(struct sched *s, const char *path)
{
	const char *sl = strrchr(path, '/');
	char *dir = sl ? xstrndup(path, (size_t)(sl - path)) : xstrdup(".");
	if (map_get(&s->swept, dir)) {
		free(dir);
		return;
	}
	map_put(&s->swept, dir, dir);
	fs_sweep_temps(dir, declared_output, s->g);
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

void sched_done(struct sched *s, struct action *a, enum act_status st, const struct job_done *d)
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
		if (p && p->wanted && s->n[p->id].status == AS_WOULD_RUN) {
			n->reason = xasprintf("input will change: %s", f->path);
			sched_done(s, a, AS_WOULD_RUN, NULL);
			return 1;
		}
		int r = p && p->wanted ? sched_output_digest(s, p, f, &n->ind[i])
		                       : sched_source_digest(s, f, &n->ind[i]);
		if (r < 0 && !p && fs_not_regular(errno)) {
			/* it became one since check_sources(), or is a symlink to one */
			struct stat st;
			return not_regular(a, f, stat(f->path, &st) == 0 ? (uint32_t)st.st_mode : 0, e);
		}
		if (r < 0) {
			struct job_done d = {0};
			char *msg = xasprintf("cannot read input '%s': %s\n", f->path, strerror(errno));
			d.output = msg;
			d.outlen = strlen(msg);
			d.exit_code = 2;
			n->reason = xstrdup("missing input");
			sched_done(s, a, AS_FAILED, &d);
			free(msg);
			return 1;
		}
	}
	n->env = key_env(a);
	struct act_rec *r = state_action(env->st, a->outputs[0]->path);
	/* An action with a depfile is keyed on what it read last time, when
	 * that is known; else (and for every other action) on all inputs. */
	size_t ndisc;
	char **disc = sched_disc_from_record(a, r, &ndisc);
	if (!disc || sched_build_kin(s, a, disc, ndisc) < 0)
		sched_build_kin(s, a, NULL, 0);
	strv_free(disc);
	sched_compute_key(s, a);

	if (r && digest_eq(&r->key, &n->key) && r->nouts == a->noutputs) {
		size_t i;
		for (i = 0; i < a->noutputs; i++) {
			struct digest cur;
			if (sched_first_digest(s, a->outputs[i], &cur) < 0 ||
			    !digest_eq(&cur, &r->outs[i]))
				break;
		}
		if (i == a->noutputs) {
			memcpy(n->outd, r->outs, a->noutputs * sizeof *n->outd);
			sched_done(s, a, AS_UPTODATE, NULL);
			return 1;
		}
	}

	struct action_result res = {0};
	if (env->store->ops->get_result(env->store, &n->key, &res) == 1) {
		/* a result is only valid for this key if every file its run read
		 * was among the inputs the key was computed over */
		int ok = sched_covered(n, &res) && sched_restore(s, a, &res) == 0;
		if (ok && a->depfile && res.discovered && !env->opts.plan &&
		    sched_build_kin(s, a, res.discovered, res.ndiscovered) == 0)
			sched_compute_key(s, a); /* remember the narrower key */
		action_result_free(&res);
		if (ok) {
			if (!env->opts.plan)
				sched_record(s, a, r ? r->ms : 0);
			sched_done(s, a, AS_CACHED, NULL);
			return 1;
		}
	}

	n->reason = sched_reason(s, a, r);
	if (env->opts.plan) {
		sched_done(s, a, AS_WOULD_RUN, NULL);
		return 1;
	}
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path;
		if (fs_rm_rf(p) < 0 || fs_mkdir_parent(p) < 0)
			return err_sys(e, "cannot prepare output '%s'", p);
		sched_sweep(s, p);
	}
	return sched_start(s, a);
}

/* Would a's completion make a dependent ready? */
static int unblocks(const struct sched *s, uint32_t id)
{
	for (uint32_t k = s->n[id].dep0; k < s->n[id].dep1; k++)
		if (s->n[s->deps[k]].npending == 1)
			return 1;
	return 0;
}

/* Start ready actions while there are free slots (and no stop). */
static void fill(struct sched *s, size_t jobs, int *rc, struct err *e)
{
	while (!s->stop && s->hlen && s->c.running < jobs) {
		if (runner_interrupted()) {
			s->stop = s->interrupted = 1;
			break;
		}
		uint32_t id = heap_pop(s);
		if (decide(s, s->g->actions[id], e) < 0) {
			*rc = -1;
			s->stop = 1;
		}
	}
}

/* Collect a finished job (its slot already freed): check and store its
 * outputs. */
static void collect(struct sched *s, struct job_done *d)
{
	struct sched_env *env = s->env;
	struct action *a = s->g->actions[d->id];
	struct node *n = &s->n[a->id];
	n->attempts++;
	n->timed_out = d->timed_out;
	sched_leave_sandbox(s, a, d);
	if (a->flags & ACT_TEST) {
		if (d->exit_code != 0 && (a->flags & ACT_FLAKY) && n->attempts < 3 && !s->stop) {
			sched_start(s, a); /* try again (a start that fails at once is done) */
			return;
		}
		sched_write_test_outputs(s, a, d);
	}
	if (d->exit_code != 0) {
		sched_done(s, a, AS_FAILED, d);
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
			state_remember(env->st, env->fs, p, &o->d, (a->flags & ACT_TEST) ? OUT_TEST : OUT_ACTION);
		}
	}
	if (why.len) {
		sched_prepend_output(d, &why);
		d->exit_code = 1;
		action_result_free(&res);
		sched_done(s, a, AS_FAILED, d);
		return;
	}
	if (d->outlen)
		env->store->ops->put_blob(env->store, d->output, d->outlen, &res.log);
	res.log_size = d->outlen;
	/* the key it was looked up under, and (copied: sched_discover() replaces
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
		sched_discover(s, a, &res, d);
	env->store->ops->put_result(env->store, &n->key, &res);
	if (!digest_eq(&lookup_key, &n->key) && sched_covered(&was, &res))
		env->store->ops->put_result(env->store, &lookup_key, &res);
	free(was.kin);
	strv_free(paths);
	action_result_free(&res);
	sched_record(s, a, (d->end_ns - d->start_ns) / 1000000);
	sched_done(s, a, AS_EXECUTED, d);
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
	if (env->opts.stat_threads > 0) {
		prestat(&s, env->opts.stat_threads);
		if (check_sources(&s, e) < 0) {
			rc = -1;
			s.stop = 1;
		}
	}
	/* the state files a killed cairn was writing (.cairn/state.tmp.PID.N) */
	if (!env->opts.plan)
		fs_sweep_temps(".cairn", NULL, NULL);

	size_t jobs = env->opts.jobs > 0 ? (size_t)env->opts.jobs : 1;
	for (;;) {
		fill(&s, jobs, &rc, e);
		if (s.c.running == 0)
			break;
		struct job_done d = {0};
		int w = env->runner->wait(env->runner, &d);
		if (w == 1) {
			/* a job that succeeded frees its slot before its outputs are
			 * hashed and stored: the next ready action starts first. Not
			 * when it is the last producer a dependent waits for (that
			 * dependent may be the critical path), nor after a failure or
			 * for a test that may be tried again. (A job that exits 0
			 * but then fails collect, a missing output say, has let one
			 * more action start even without -k.) */
			s.c.running--;
			if (d.exit_code == 0 && !(s.g->actions[d.id]->flags & ACT_TEST) &&
			    !unblocks(&s, (uint32_t)d.id))
				fill(&s, jobs, &rc, e);
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
	for (size_t i = 0; i < s.swept.cap; i++)
		free(s.swept.slots[i].val);
	map_free(&s.swept);
	return rc;
}
