/* sched_keys: how the scheduler decides. An action's key covers its fixed
 * inputs and, for an action with a depfile, the files its last run read
 * (or, before it ran, every input); a cached result counts only under a
 * key that covers everything its run read. */
#include "exec/depfile.h"
#include "exec/sched_int.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sched_out_index(const struct action *p, const struct gfile *f)
{
	for (size_t i = 0; i < p->noutputs; i++)
		if (p->outputs[i] == f)
			return (int)i;
	return 0;
}

uint64_t sched_d64(const struct digest *d)
{
	uint64_t v;
	memcpy(&v, d->b, 8);
	return v;
}

/* A source file's digest, looked up once per run however many actions
 * read it. 0, or -1 with errno. */
/* Digest of a file as it was when the build started: the pre-stat when
 * there is one (used once: it is stale after cairn writes the file). */
int sched_first_digest(struct sched *s, const struct gfile *f, struct digest *d)
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

int sched_source_digest(struct sched *s, const struct gfile *f, struct digest *d)
{
	if (s->src_known[f->id] == 0) {
		int r = sched_first_digest(s, f, &s->src_d[f->id]);
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

int sched_output_digest(struct sched *s, const struct action *p, const struct gfile *f,
                        struct digest *d)
{
	struct node *pn = &s->n[p->id];
	size_t i = sched_out_index(p, f);
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
	return sched_first_digest(s, f, d);
}

/* Index of path among a's inputs (sorted), or -1. */
long sched_input_index(const struct action *a, const char *path)
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
int sched_fixed_input(const struct action *a, const char *path)
{
	long i = sched_input_index(a, path);
	return i >= 0 && !a->prunable[i];
}

static int cmp_kin(const void *x, const void *y)
{
	return strcmp(((const struct key_input *)x)->path, ((const struct key_input *)y)->path);
}

/* Set n->kin: every input (disc NULL), or the fixed inputs plus the
 * discovered ones. 0, or -1 when a discovered file cannot be read (then
 * the caller falls back to every input). */
int sched_build_kin(struct sched *s, struct action *a, char *const *disc, size_t ndisc)
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
		if (sched_fixed_input(a, disc[i]))
			continue;
		long k = sched_input_index(a, disc[i]);
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

void sched_compute_key(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	key_compute(a, n->env, n->kin, n->nkin, s->env->opts.props, &n->key, &n->cmd);
}

/* Why an action must run, given its last record. */
char *sched_reason(struct sched *s, struct action *a, struct act_rec *r)
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
		if (c < 0 || r->ins[j].d64 != sched_d64(&n->kin[i].d))
			return xasprintf("input changed: %s", n->kin[i].path);
		i++;
		j++;
	}
	for (size_t k = 0; k < a->noutputs; k++)
		if (access(a->outputs[k]->path, F_OK) < 0)
			return xstrdup("output missing");
	return xstrdup(digest_eq(&r->key, &n->key) ? "output changed" : "no cached result");
}

void sched_record(struct sched *s, struct action *a, uint64_t ms)
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
		r->ins[i].d64 = sched_d64(&n->kin[i].d);
	}
	state_set_action(s->env->st, r);
}

/* The discovered inputs of a's last run, from its record: what it keyed
 * on beyond its fixed inputs. Fresh array, or NULL when there is none. */
char **sched_disc_from_record(const struct action *a, const struct act_rec *r, size_t *n)
{
	*n = 0;
	if (!a->depfile || !r)
		return NULL;
	char **v = xcalloc(r->nins + 1, sizeof *v);
	for (size_t i = 0; i < r->nins; i++)
		if (!sched_fixed_input(a, r->ins[i].path))
			v[(*n)++] = xstrdup(r->ins[i].path);
	return v;
}

/* Restore a's outputs from a cached result; 0, or -1 (then run it). */
int sched_restore(struct sched *s, struct action *a, struct action_result *res)
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
		sched_sweep(s, p);
		if (env->store->ops->get_file(env->store, &o->d, p, o->mode) < 0)
			return -1;
		state_remember(env->st, env->fs, p, &o->d, (a->flags & ACT_TEST) ? OUT_TEST : OUT_ACTION);
	}
	for (size_t i = 0; i < a->noutputs; i++)
		n->outd[i] = res->outputs[i].d;
	return 0;
}

int sched_cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Does n's key cover every file res reports its run read? (The key's
 * inputs are sorted by path, as are res's discovered files.) */
int sched_covered(const struct node *n, const struct action_result *res)
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

/* After a run: read a's depfile; key it on its fixed inputs plus the files
 * the compiler reported (a header it read but nobody declared is warned
 * about in its output); record them in the result. */
void sched_discover(struct sched *s, struct action *a, struct action_result *res,
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
	xqsort(deps, n, sizeof *deps, sched_cmp_str);
	struct buf warn = {0};
	for (size_t i = 0; i < n; i++) {
		if ((k && !strcmp(deps[k - 1], deps[i])) || sched_fixed_input(a, deps[i]) ||
		    !strcmp(deps[i], a->depfile)) {
			free(deps[i]);
			continue;
		}
		if (sched_input_index(a, deps[i]) < 0)
			buf_printf(&warn, "cairn: warning: %s reads '%s', which no target it depends on "
			           "declares in hdrs or srcs\n", a->label, deps[i]);
		deps[k++] = deps[i];
	}
	deps[k] = NULL;
	if (sched_build_kin(s, a, deps, k) == 0) {
		sched_compute_key(s, a);
		res->discovered = deps;
		res->ndiscovered = k;
	} else {
		sched_build_kin(s, a, NULL, 0);
		sched_compute_key(s, a);
		strv_free(deps);
	}
	if (warn.len) {
		sched_prepend_output(d, &warn);
	}
	buf_free(&warn);
}
