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
 *  - a failed node's dependents are skipped, never run;
 *  - this file alone changes a node's status and the counts: what it
 *    calls (decide.c, job.c, files.c) returns, and never calls back. */
#include "exec/sched.h"
#include "exec/decide.h"
#include "exec/files.h"
#include "exec/job.h"
#include "exec/ready.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One wanted action while the build runs (indexed by action id). */
struct node {
	uint32_t npending;       /* wanted producers not done yet */
	uint32_t dep0, dep1;     /* dependents: deps[dep0..dep1) */
	uint8_t status;          /* enum act_status */
	uint8_t attempts;        /* runs so far (a flaky test may run 3 times) */
	unsigned timed_out : 1;  /* the last run passed its timeout */
	unsigned same : 1;       /* up to date with nothing changed (sched_known) */
	unsigned remote_hit : 1; /* restored from a remote cache's result */
	unsigned top : 1;        /* writes a file the user asked for */
	unsigned hinted : 1;     /* prefetch has seen it */
	unsigned keyed : 1;      /* prekey keyed it: decide goes on from there */
	uint64_t prio;           /* critical path length from here, ms */
	struct decision dc;      /* its key and the inputs that decide it */
	struct digest *outd;     /* per output, once done */
	struct digest *ind;      /* per input, while deciding and running */
	const char **env;        /* effective env, while running */
	char *reason;            /* why it runs, or NULL */
	char *sandbox;           /* its sandbox dir while it runs, or NULL */
	struct result_output *lazy; /* its outputs, left remote (toplevel
	                              downloads): fetched when a local run
	                              needs them; paths not owned */
};

struct sched {
	struct sched_env *env;
	struct graph *g;
	struct node *n;
	uint32_t *deps;          /* dependents of every node, CSR */
	struct ready ready;      /* nodes ready to be decided */
	size_t bad_input;        /* prekey's last failure: which input, */
	int bad_errno;           /* and why */
	struct files fl;         /* what the build knows of its files */
	struct job_site site;    /* where actions run */
	struct sched_counts c;
	char *root;              /* absolute workspace root, for depfiles */
	char *sandbox_state;     /* <root>/.cairn/sandbox */
	int stop;                /* start nothing new */
	int interrupted;
	struct map lazy;         /* output path -> its struct result_output,
	                            for outputs left remote */
};

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
	for (size_t i = 0; i < g->nrequested; i++)
		if (g->requested[i]->producer)
			s->n[g->requested[i]->producer->id].top = 1;
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
	for (size_t i = 0; i < na; i++)
		if (g->actions[i]->wanted && s->n[i].npending == 0 && !s->n[i].same)
			ready_push(&s->ready, (uint32_t)i, s->n[i].prio);
	free(order);
	free(pend);
	free(ndeps);
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
			if (f->producer || s->fl.pre_ok[f->id] != 1)
				continue;
			uint32_t mode = s->fl.pre[f->id].mode;
			if ((mode & S_IFMT) && !S_ISREG(mode) && !S_ISLNK(mode))
				return not_regular(a, f, mode, e);
		}
	}
	return 0;
}

/* ---- completion ---- */

static void notify(struct sched *s, struct action *a, const struct job_done *d)
{
	struct node *n = &s->n[a->id];
	struct sched_observer *o = s->env->obs;
	if (!o || !o->finished)
		return;
	struct sched_event ev = {
		.a = a, .status = n->status, .reason = n->reason, .key = n->dc.key,
		.counts = &s->c, .attempts = n->attempts, .timed_out = n->timed_out,
		.remote_hit = n->remote_hit,
	};
	if (d) {
		ev.start_ns = d->start_ns;
		ev.end_ns = d->end_ns;
		ev.output = d->output;
		ev.outlen = d->outlen;
		ev.exit_code = d->exit_code;
		ev.remote_run = d->remote;
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
	if (st == AS_EXECUTED) {
		s->c.executed++;
		s->c.remote_executed += d && d->remote;
	} else if (st == AS_CACHED || st == AS_UPTODATE)
		s->c.cached++;
	else if (st == AS_FAILED)
		s->c.failed++;
	free(n->ind);
	n->ind = NULL;
	free(n->env);
	n->env = NULL;
	decide_free(&n->dc);
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
			ready_push(&s->ready, dep, s->n[dep].prio);
	}
}

/* a fails with msg as its output (and exit code) */
static void fail(struct sched *s, struct action *a, const char *msg, int exit_code)
{
	struct job_done d = {.output = (char *)msg, .outlen = strlen(msg), .exit_code = exit_code};
	done(s, a, AS_FAILED, &d);
}

/* ---- deciding ---- */

/* The digest of f, an output of p (done): from p's node, or for an action
 * known up to date (node.same), from its state record. 0, or -1 with errno. */
static int output_digest(struct sched *s, const struct action *p, const struct gfile *f,
                         struct digest *d)
{
	struct node *pn = &s->n[p->id];
	size_t i = 0;
	while (i + 1 < p->noutputs && p->outputs[i] != f)
		i++;
	if (pn->outd) {
		*d = pn->outd[i];
		return 0;
	}
	/* known up to date: its record holds what its outputs are (the state
	 * is the one they were recorded with); else hash the file */
	struct act_rec *r = state_action(s->env->st, p->outputs[0]->path);
	if (r && r->nouts == p->noutputs) {
		*d = r->outs[i];
		return 0;
	}
	return files_first_digest(&s->fl, f, d);
}

/* decide_digest_fn over the state's digest cache */
static int digest_of(void *ctx, const char *path, struct digest *d)
{
	struct sched *s = ctx;
	return state_digest(s->env->st, s->env->fs, path, d);
}

/* decide_meta_fn from the state's stat data (the file's own, through a
 * symlink), or the file system's. */
static int meta_of(void *ctx, const char *path, uint64_t *size, int *exec)
{
	struct sched *s = ctx;
	const struct result_output *lz = map_get(&s->lazy, path);
	if (lz) {
		*size = lz->size;
		*exec = (lz->mode & 0100) != 0;
		return 0;
	}
	const struct file_rec *f = state_file(s->env->st, path);
	struct file_stat fst;
	const struct file_stat *st = f ? &f->st : NULL;
	if (!st || S_ISLNK(st->mode)) {
		struct stat real;
		if (st && stat(path, &real) == 0) {
			file_stat_from(&real, &fst);
			st = &fst;
		} else if (!st) {
			if (s->env->fs->stat(s->env->fs, path, &fst) < 0)
				return -1;
			st = &fst;
		}
	}
	*size = st->size;
	*exec = (st->mode & 0100) != 0;
	return 0;
}

/* Key a on its fixed inputs and those disc names: 0. With disc NULL, or
 * when one of disc cannot be read, on every input: -1. */
static int key_on(struct sched *s, struct action *a, char *const *disc, size_t ndisc)
{
	struct node *n = &s->n[a->id];
	int rc = disc ? decide_inputs(&n->dc, a, n->ind, disc, ndisc, digest_of, s) : -1;
	if (rc < 0)
		decide_inputs(&n->dc, a, n->ind, NULL, 0, NULL, NULL);
	decide_key(&n->dc, a, n->env, s->env->opts.props, meta_of, s);
	return rc;
}

/* Are all of a's outputs on disk? */
static int outputs_present(struct sched *s, const struct action *a)
{
	struct file_stat st;
	for (size_t k = 0; k < a->noutputs; k++)
		if (s->env->fs->stat(s->env->fs, a->outputs[k]->path, &st) < 0)
			return 0;
	return 1;
}

/* a in REAPI's terms, for a remote executor: all its declared inputs (an
 * action with a depfile sends every header it may read; its key stays
 * the narrow one). 0 when it must run here. */
static int remote_spec(struct sched *s, struct action *a, struct reapi_spec *rs,
                       struct key_input **kin)
{
	struct node *n = &s->n[a->id];
	*kin = NULL;
	if (!s->env->opts.remote || (a->flags & (ACT_NO_REMOTE | ACT_TEST | ACT_NETWORK)) || !n->ind)
		return 0;
	*kin = xcalloc(a->ninputs + 1, sizeof **kin);
	for (size_t i = 0; i < a->ninputs; i++) {
		struct key_input *k = &(*kin)[i];
		k->path = a->inputs[i]->path;
		k->d = n->ind[i];
		if (meta_of(s, k->path, &k->size, &k->exec) < 0)
			return 0;
	}
	key_spec(a, n->env, *kin, a->ninputs, s->env->opts.props, rs);
	return 1;
}

/* Outputs a dependent will run on here, left remote until now: fetched
 * (verified) into the workspace. 0, or -1 with *why (static). */
static int fetch_inputs(struct sched *s, struct action *a, const char **why)
{
	for (size_t i = 0; i < a->ninputs; i++) {
		const struct action *p = a->inputs[i]->producer;
		struct result_output *o;
		if (!p || !(o = map_get(&s->lazy, a->inputs[i]->path)))
			continue;
		if (s->env->fs->mkdir_parent(s->env->fs, o->path) < 0 ||
		    s->env->store->ops->get_file(s->env->store, &o->d, o->path, o->mode) < 0) {
			*why = "cannot fetch an input left in the remote cache";
			return -1;
		}
		state_remember(s->env->st, s->env->fs, o->path, &o->d, OUT_ACTION);
		map_put(&s->lazy, o->path, NULL);
	}
	return 0;
}

/* Hand a to the runner: 0 when started, 1 when it failed at once. */
static int start(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	struct reapi_spec rs;
	struct key_input *kin;
	int remote = remote_spec(s, a, &rs, &kin);
	const char *fwhy;
	if (s->lazy.len && !remote && fetch_inputs(s, a, &fwhy) < 0) {
		free(kin);
		char *msg = xasprintf("%s\n", fwhy);
		fail(s, a, msg, 1);
		free(msg);
		return 1;
	}
	struct job_start js;
	free(n->sandbox);
	job_make(&js, &s->site, a, n->env, &n->sandbox);
	if (remote)
		js.j.remote = &rs;
	struct err e = {0};
	int rc = s->env->runner->start(s->env->runner, &js.j, &e);
	free(kin);
	job_release(&js);
	if (rc < 0) {
		/* could not start: the action fails, the build goes on */
		char *msg = xasprintf("%s\n", e.msg);
		fail(s, a, msg, 127);
		free(msg);
		err_clear(&e);
		return 1;
	}
	s->c.running++;
	if (s->env->obs && s->env->obs->started)
		s->env->obs->started(s->env->obs->ctx, a, &s->c);
	return 0;
}

/* a's outputs stay in the remote cache (toplevel downloads): remembered,
 * so that a dependent that runs here fetches them first, and keys see
 * their size and mode. */
static void leave_remote(struct sched *s, struct action *a, const struct action_result *res)
{
	struct node *n = &s->n[a->id];
	n->lazy = xcalloc(a->noutputs, sizeof *n->lazy);
	for (size_t i = 0; i < a->noutputs; i++) {
		n->lazy[i] = res->outputs[i];
		n->lazy[i].path = (char *)a->outputs[i]->path;
		map_put(&s->lazy, a->outputs[i]->path, &n->lazy[i]);
	}
}

/* Key a (ind, env, dc: on what its depfile said it read last time, when
 * that is known, else on all its inputs), for decide, or ahead of it for
 * prefetch: 1 when its result is worth looking up (not up to date by its
 * record), 0 when not, -1 when an input will change or cannot be read
 * (unkeyable says why). */
static int prekey(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	n->ind = xcalloc(a->ninputs ? a->ninputs : 1, sizeof *n->ind);
	for (size_t i = 0; i < a->ninputs; i++) {
		struct gfile *f = a->inputs[i];
		struct action *p = f->producer;
		if ((p && p->wanted && s->n[p->id].status == AS_WOULD_RUN) ||
		    (p && p->wanted ? output_digest(s, p, f, &n->ind[i])
		                    : files_source_digest(&s->fl, f, &n->ind[i])) < 0) {
			s->bad_input = i; /* for unkeyable: a second try may say otherwise */
			s->bad_errno = errno;
			free(n->ind);
			n->ind = NULL;
			return -1;
		}
	}
	n->env = key_env(a);
	struct act_rec *r = state_action(s->env->st, a->outputs[0]->path);
	size_t ndisc;
	char **disc = decide_disc_from_record(a, r, &ndisc);
	key_on(s, a, disc, ndisc);
	strv_free(disc);
	n->keyed = 1;
	return !(r && digest_eq(&r->key, &n->dc.key));
}

/* Tell a store that can look ahead (a remote cache) the keys of every
 * ready action it has not been told of: its answers come in parallel
 * while decide takes the actions one by one. */
static void prefetch(struct sched *s)
{
	struct store *st = s->env->store;
	if (!st->ops->prefetch || s->env->opts.plan)
		return;
	struct digest *keys = NULL;
	uint64_t *sizes = NULL;
	size_t nk = 0, cap = 0, capsizes = 0;
	for (size_t i = 0; i < s->ready.len; i++) {
		uint32_t id = s->ready.v[i].id;
		struct node *n = &s->n[id];
		if (n->hinted)
			continue;
		n->hinted = 1;
		if (prekey(s, s->g->actions[id]) == 1) {
			vec_reserve(&keys, &cap, nk + 1, sizeof *keys);
			vec_reserve(&sizes, &capsizes, nk + 1, sizeof *sizes);
			sizes[nk] = n->dc.key_size;
			keys[nk++] = n->dc.key;
		}
	}
	if (nk)
		st->ops->prefetch(st, keys, sizes, nk);
	free(sizes);
	free(keys);
}

/* Why prekey could not key a (its bad_input and bad_errno), said the way
 * decide reports it: an input that will change (a would run), a source
 * that is not a regular file (-1 with *e), one that cannot be read (a
 * fails). 1, or -1. */
static int unkeyable(struct sched *s, struct action *a, struct err *e)
{
	struct node *n = &s->n[a->id];
	struct gfile *f = a->inputs[s->bad_input];
	struct action *p = f->producer;
	if (p && p->wanted && s->n[p->id].status == AS_WOULD_RUN) {
		n->reason = xasprintf("input will change: %s", f->path);
		done(s, a, AS_WOULD_RUN, NULL);
		return 1;
	}
	if (!p && fs_not_regular(s->bad_errno)) {
		/* it became one since check_sources(), or is a symlink to one */
		struct stat st;
		struct file_stat fst;
		uint32_t mode = stat(f->path, &st) == 0 ? (uint32_t)st.st_mode
		                : s->env->fs->stat(s->env->fs, f->path, &fst) == 0 ? fst.mode : 0;
		return not_regular(a, f, mode, e);
	}
	char *msg = xasprintf("cannot read input '%s': %s\n", f->path, strerror(s->bad_errno));
	n->reason = xstrdup("missing input");
	fail(s, a, msg, 2);
	free(msg);
	return 1;
}

/* Decide one ready action: 1 when it finished at once, 0 when it was
 * started, -1 on a system error. */
static int decide(struct sched *s, struct action *a, struct err *e)
{
	struct sched_env *env = s->env;
	struct node *n = &s->n[a->id];
	n->outd = xcalloc(a->noutputs, sizeof *n->outd);
	if (!n->keyed && prekey(s, a) < 0)
		return unkeyable(s, a, e);
	n->keyed = 0;
	struct act_rec *r = state_action(env->st, a->outputs[0]->path);

	if (r && digest_eq(&r->key, &n->dc.key) && r->nouts == a->noutputs) {
		size_t i;
		for (i = 0; i < a->noutputs; i++) {
			struct digest cur;
			if (files_first_digest(&s->fl, a->outputs[i], &cur) < 0 ||
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
	if (env->store->ops->get_result(env->store, &n->dc.key, n->dc.key_size, &res) == 1) {
		/* a result is only valid for this key if every file its run read
		 * was among the inputs the key was computed over */
		int lazy = env->opts.download_toplevel && !n->top && !(a->flags & ACT_TEST) &&
		           !outputs_present(s, a);
		int ok = decide_covered(&n->dc, &res) &&
		         job_restore(a, env->store, &s->fl, &res, env->opts.plan || lazy, n->outd) == 0;
		if (ok && lazy && !env->opts.plan)
			leave_remote(s, a, &res);
		struct decision narrow = {0}; /* the key its run read: remembered */
		if (ok && a->depfile && res.discovered && !env->opts.plan &&
		    decide_inputs(&narrow, a, n->ind, res.discovered, res.ndiscovered, digest_of, s) == 0) {
			decide_key(&narrow, a, n->env, env->opts.props, meta_of, s);
			decide_free(&n->dc);
			n->dc = narrow;
		}
		n->remote_hit = ok && res.remote;
		action_result_free(&res);
		if (ok) {
			if (!env->opts.plan)
				state_set_action(env->st, decide_record(&n->dc, a, n->outd, r ? r->ms : 0));
			done(s, a, AS_CACHED, NULL);
			return 1;
		}
	}

	n->reason = decide_reason(&n->dc, a, r, outputs_present(s, a));
	if (env->opts.plan) {
		done(s, a, AS_WOULD_RUN, NULL);
		return 1;
	}
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path;
		if (env->fs->remove(env->fs, p) < 0 || env->fs->mkdir_parent(env->fs, p) < 0)
			return err_sys(e, "cannot prepare output '%s'", p);
		files_sweep(&s->fl, p);
	}
	return start(s, a);
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
	if (!s->stop && s->ready.len && s->c.running < jobs)
		prefetch(s);
	while (!s->stop && s->ready.len && s->c.running < jobs) {
		if (runner_interrupted()) {
			s->stop = s->interrupted = 1;
			break;
		}
		uint32_t id = ready_pop(&s->ready);
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
	job_leave_sandbox(a, n->sandbox, d);
	free(n->sandbox);
	n->sandbox = NULL;
	if (a->flags & ACT_TEST) {
		if (d->exit_code != 0 && (a->flags & ACT_FLAKY) && n->attempts < 3 && !s->stop) {
			start(s, a); /* try again (a start that fails at once is done) */
			return;
		}
		job_write_test_outputs(a, env->fs, n->attempts, d);
	}
	struct action_result res;
	if (d->exit_code != 0 || job_result(a, env->store, &s->fl, d, &res, n->outd) < 0) {
		done(s, a, AS_FAILED, d);
		return;
	}
	res.remote = d->remote; /* the executor keeps it already */
	/* the key it was looked up under, and the inputs that key covered
	 * (copied: discovering what it read changes them) */
	struct decision was;
	decide_copy(&was, &n->dc);
	if (a->depfile) {
		/* key a on what its depfile says it read; unread, on every input */
		size_t ndeps;
		char **deps = job_discovered(a, env->fs, s->root, d, &ndeps);
		if (deps && key_on(s, a, deps, ndeps) == 0) {
			res.discovered = deps;
			res.ndiscovered = ndeps;
		} else {
			strv_free(deps);
		}
	}
	env->store->ops->put_result(env->store, &n->dc.key, n->dc.key_size, &res);
	if (!digest_eq(&was.key, &n->dc.key) && decide_covered(&was, &res))
		env->store->ops->put_result(env->store, &was.key, was.key_size, &res);
	decide_free(&was);
	action_result_free(&res);
	state_set_action(env->st, decide_record(&n->dc, a, n->outd, (d->end_ns - d->start_ns) / 1000000));
	done(s, a, AS_EXECUTED, d);
}

int sched_run(struct sched_env *env, struct sched_result *res, struct err *e)
{
	struct sched s = {.env = env, .g = env->g};
	int rc = 0;
	setup(&s);
	files_init(&s.fl, s.g, env->st, env->fs);
	char cwd[4096];
	s.root = xstrdup(getcwd(cwd, sizeof cwd) ? cwd : "/");
	s.sandbox_state = xasprintf("%s/.cairn/sandbox", s.root);
	s.site = (struct job_site){s.root, s.sandbox_state, env->opts.sandbox};
	if (env->opts.stat_threads > 0) {
		files_prestat(&s.fl, env->known, env->opts.stat_threads);
		if (check_sources(&s, e) < 0) {
			rc = -1;
			s.stop = 1;
		}
	}
	/* the state files a killed cairn was writing (.cairn/state.tmp.PID.N) */
	if (!env->opts.plan)
		env->fs->sweep(env->fs, ".cairn", NULL, NULL);

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
		decide_free(&s.n[i].dc);
		if (s.n[i].sandbox)
			fs_rm_rf(s.n[i].sandbox); /* interrupted */
		free(s.n[i].sandbox);
		free(s.n[i].lazy);
	}
	free(s.n);
	free(s.deps);
	ready_free(&s.ready);
	map_free(&s.lazy);
	files_free(&s.fl);
	free(s.root);
	free(s.sandbox_state);
	return rc;
}
