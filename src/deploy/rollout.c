/* deploy/rollout: rollouts, rollbacks and repairs (rollout.h). */
#include "deploy/rollout.h"
#include "deploy/health.h"
#include "deploy/provider.h"
#include "deploy/release.h"
#include "util/util.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LEASE_MS = 60000 };

static const char *shortrel(const char *rel)
{
	static char buf[4][13];
	static int next;
	if (!rel[0])
		return "(none)";
	char *b = buf[next++ % 4];
	snprintf(b, 13, "%.12s", rel);
	return b;
}

static double secs(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

/* Say e (a user error, or a system one) and clear it; -1. */
static int say(struct rollout_env *env, struct err *e)
{
	fflush(env->out);
	const char *m = e->msg ? e->msg : "error: ?";
	/* a message without a place gets the program's name */
	fprintf(stderr, "%s%s\n", strncmp(m, "error: ", 7) ? "" : "cairn: ", m);
	err_clear(e);
	return -1;
}

int rollout_lock(struct rollout_env *env, const char *deployment, int wait_s)
{
	uint64_t t0 = now_ns();
	int said = 0;
	for (;;) {
		struct dlock_owner h;
		struct err e = {0};
		int r = dstate_lock(env->st, deployment, LEASE_MS, &h, &e);
		if (r < 0)
			return say(env, &e);
		if (r == 0)
			return 0;
		time_t since = (time_t)(h.since_ms / 1000);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&since));
		if (secs(t0) >= wait_s) {
			fflush(env->out);
			fprintf(stderr,
			        "cairn: error: %s is locked by pid %ld on %s since %s (lease until %+.0f s);"
			        " --lock-timeout SECONDS waits for it\n",
			        deployment, h.pid, h.host, when,
			        (double)(h.lease_ms - (int64_t)time(NULL) * 1000) / 1000);
			return -1;
		}
		if (!said++)
			fprintf(stderr, "cairn: waiting for %s: locked by pid %ld on %s since %s\n",
			        deployment, h.pid, h.host, when);
		usleep(100000);
	}
}

void rollout_unlock(struct rollout_env *env, const char *deployment)
{
	struct err e = {0};
	if (dstate_unlock(env->st, deployment, &e) < 0)
		say(env, &e);
}

/* Renew the lease: 0, or -1 (said) when another process took the lock. */
static int renew(struct rollout_env *env, const char *deployment)
{
	struct dlock_owner h;
	struct err e = {0};
	int r = dstate_lock(env->st, deployment, LEASE_MS, &h, &e);
	if (r < 0)
		return say(env, &e);
	if (r == 1) {
		fprintf(stderr, "cairn: error: %s: the lock was taken over by pid %ld on %s\n",
		        deployment, h.pid, h.host);
		return -1;
	}
	return 0;
}

/* ---- one stage at a time, from the records ---- */

/* What a release is, from the store: its config parsed and its directory. */
struct relinfo {
	char rel[65];
	char *config, *manifest, *dir;
	struct dconfig cfg;
	int parsed;
};

static void relinfo_free(struct relinfo *ri)
{
	free(ri->config);
	free(ri->manifest);
	free(ri->dir);
	if (ri->parsed)
		dconfig_free(&ri->cfg);
	memset(ri, 0, sizeof *ri);
}

/* Load release rel of deployment (a whole digest, or a prefix). 0, 1 when
 * there is no such release, or -1 with *e. */
static int relinfo_load(struct rollout_env *env, const char *deployment, const char *rel,
                        int materialize, struct relinfo *ri, struct err *e)
{
	memset(ri, 0, sizeof *ri);
	int r = dstate_release_get(env->st, deployment, rel, ri->rel, &ri->config, &ri->manifest, e);
	if (r == 2)
		return err_input(e, NULL, "release '%s' of %s is ambiguous: give more of its digest",
		                 rel, deployment);
	if (r != 0)
		return r;
	if (dconfig_parse(ri->config, "the state store's release", &ri->cfg, e) < 0) {
		relinfo_free(ri);
		return -1;
	}
	ri->parsed = 1;
	if (materialize && !(ri->dir = release_dir(env->store, env->root, ri->rel, ri->manifest, e))) {
		relinfo_free(ri);
		return -1;
	}
	return 0;
}

/* Wait for the job id of r; 1 with *d, 0 when interrupted, -1 on error. */
static int wait_for(struct runner *r, size_t id, struct job_done *d)
{
	for (;;) {
		int rc = r->wait(r, d);
		if (rc != 1)
			return rc;
		if (d->id == id)
			return 1;
		free(d->output);
	}
}

/* Put release to (a whole digest, "" to take it away; cfg_now: the
 * configuration of what is there, for a destroy) at stage, journaled as
 * what within rollout. 0, or -1 with *e. */
static int put_release(struct rollout_env *env, const char *deployment, const char *stage,
                       const char *from, const char *to, const char *what, int64_t rollout,
                       struct err *e)
{
	struct relinfo ri = {0};
	const char *cfgrel = to[0] ? to : from;
	if (!cfgrel[0])
		return 0; /* from nothing to nothing */
	int r = relinfo_load(env, deployment, cfgrel, to[0] != 0, &ri, e);
	if (r != 0) {
		if (r == 1)
			err_input(e, NULL, "%s: release %s is not in the state store", deployment,
			          shortrel(cfgrel));
		return -1;
	}
	const struct dstage *s = dconfig_stage(&ri.cfg, stage);
	if (!s) {
		relinfo_free(&ri);
		return err_input(e, NULL, "%s: release %s has no stage '%s'", deployment, shortrel(cfgrel),
		                 stage);
	}
	struct dstep step = {.rollout = rollout};
	snprintf(step.deployment, sizeof step.deployment, "%s", deployment);
	snprintf(step.stage, sizeof step.stage, "%s", stage);
	snprintf(step.from, sizeof step.from, "%s", from);
	snprintf(step.to, sizeof step.to, "%s", to);
	snprintf(step.what, sizeof step.what, "%s", what);
	int64_t id;
	if (dstate_step_begin(env->st, &step, &id, e) < 0) {
		relinfo_free(&ri);
		return -1;
	}
	struct provider_op p = {.label = deployment, .cfg = &ri.cfg, .stage = s, .root = env->root,
	                        .rel = to, .reldir = ri.dir, .manifest = ri.manifest};
	int rc = provider_apply(&p, env->runner, 1, e);
	if (rc == 0) {
		struct job_done d;
		int w = wait_for(env->runner, 1, &d);
		if (w != 1) {
			env->runner->cancel(env->runner);
			provider_free(&p);
			relinfo_free(&ri);
			errno = w == 0 ? EINTR : errno;
			return err_sys(e, "%s: %s", stage, what);
		}
		rc = provider_end(&p, &d, e);
		free(d.output);
	} else {
		rc = rc < 0 ? -1 : 0;
	}
	struct err e2 = {0};
	if (dstate_step_end(env->st, id, rc == 0 ? "ok" : "failed", &e2) < 0) {
		if (rc == 0)
			rc = -1, *e = e2;
		else
			err_clear(&e2);
	}
	provider_free(&p);
	relinfo_free(&ri);
	return rc;
}

static int roll_back(struct rollout_env *env, const char *deployment, int64_t id,
                     const char *state, int unverified);

int rollout_recover(struct rollout_env *env, const char *deployment, const char *keep)
{
	struct err e = {0};
	struct dstep *v;
	size_t n;
	if (dstate_unfinished(env->st, deployment, &v, &n, &e) < 0)
		return say(env, &e);
	int rc = 0;
	for (size_t i = n; i-- > 0 && rc == 0;) {
		fprintf(env->out, "cairn: %s: a step was cut off (%s %s -> %s at %s); putting %s back\n",
		        deployment, v[i].what, shortrel(v[i].from), shortrel(v[i].to), v[i].stage,
		        v[i].stage);
		/* the step never ended: mark it, then put the stage back as it was */
		if (dstate_step_end(env->st, v[i].id, "interrupted", &e) < 0 ||
		    put_release(env, deployment, v[i].stage, v[i].to, v[i].from, "rollback", v[i].rollout,
		                &e) < 0)
			rc = say(env, &e);
	}
	free(v);
	struct drollout ro;
	int open = rc == 0 ? dstate_rollout_open(env->st, deployment, &ro, &e) : 0;
	if (open < 0)
		return say(env, &e);
	if (open && !strcmp(ro.state, "running")) {
		/* the same release again: what passed its checks stays, the rest
		 * goes back and is rolled out again; another release: all back */
		int same = keep && !strcmp(ro.release, keep);
		fprintf(env->out, "cairn: %s: the rollout of %s was cut off; %s\n", deployment,
		        shortrel(ro.release),
		        same ? "finishing it" : "rolling it back");
		if (roll_back(env, deployment, ro.id, same ? "superseded" : "rolled back", same) < 0)
			rc = -1;
	}
	return rc;
}

/* Take every stage rollout id changed back to what it had (unverified:
 * only those where its release has not passed its health check); then
 * the rollout's state is state. The number of stages, or -1 (said). */
static int roll_back(struct rollout_env *env, const char *deployment, int64_t id,
                     const char *state, int unverified)
{
	struct err e = {0};
	struct dstep *v;
	size_t n;
	if (dstate_rollout_changed(env->st, id, &v, &n, &e) < 0)
		return say(env, &e);
	int rc = 0, back = 0;
	for (size_t i = n; i-- > 0;) {
		char cur[65];
		if (dstate_current(env->st, deployment, v[i].stage, cur, &e) < 0) {
			rc = say(env, &e);
			continue;
		}
		struct dstage_last last;
		if (dstate_last(env->st, deployment, v[i].stage, &last, &e) < 0) {
			rc = say(env, &e);
			continue;
		}
		/* back already; but a failed apply may have left the stage in any
		 * state, so it gets its release before applied again */
		if (!strcmp(cur, v[i].from) && !strcmp(last.release, cur) && !strcmp(last.result, "ok"))
			continue;
		if (unverified && !strcmp(last.release, cur) && !strcmp(last.health, "passed"))
			continue;
		uint64_t t0 = now_ns();
		if (put_release(env, deployment, v[i].stage, cur, v[i].from, "rollback", id, &e) < 0) {
			fprintf(env->out, "cairn: %s %s: rollback FAILED\n", deployment, v[i].stage);
			rc = say(env, &e);
			continue;
		}
		fprintf(env->out, "cairn: %s %s: rolled back to %s in %.2f s\n", deployment, v[i].stage,
		        shortrel(v[i].from), secs(t0));
		back++;
	}
	free(v);
	if (dstate_rollout_set(env->st, id, state, NULL, &e) < 0)
		rc = say(env, &e);
	return rc < 0 ? -1 : back;
}

int rollout_abort(struct rollout_env *env, const char *deployment)
{
	struct err e = {0};
	struct drollout ro;
	int open = dstate_rollout_open(env->st, deployment, &ro, &e);
	if (open < 0)
		return say(env, &e);
	if (!open) {
		fprintf(env->out, "cairn: %s: no rollout to abort\n", deployment);
		return 0;
	}
	int n = roll_back(env, deployment, ro.id, "rolled back", 0);
	if (n < 0)
		return -1;
	fprintf(env->out, "cairn: %s: rollout of %s aborted: %d stage%s rolled back\n", deployment,
	        shortrel(ro.release), n, n == 1 ? "" : "s");
	return 0;
}

/* ---- the rollout ---- */

size_t rollout_plan(struct rollout_env *env, const struct rtarget *t)
{
	size_t changed = 0;
	fprintf(env->out, "cairn: %s: release %s, %zu stage%s\n", t->label, shortrel(t->rel),
	        t->cfg.nstages, t->cfg.nstages == 1 ? "" : "s");
	for (size_t i = 0; i < t->cfg.nstages; i++) {
		char cur[65];
		struct err e = {0};
		if (dstate_current(env->st, t->label, t->cfg.stages[i].name, cur, &e) < 0) {
			say(env, &e);
			cur[0] = 0;
		}
		if (!strcmp(cur, t->rel)) {
			fprintf(env->out, "  %-12s unchanged\n", t->cfg.stages[i].name);
		} else {
			fprintf(env->out, "  %-12s %s -> %s%s\n", t->cfg.stages[i].name, shortrel(cur),
			        shortrel(t->rel), t->cfg.stages[i].approval ? " (needs approval)" : "");
			changed++;
		}
	}
	return changed;
}

/* One stage of a group in flight. */
struct slot {
	const struct dstage *stage; /* of the new release's configuration */
	char from[65];              /* the release it had ("" for none) */
	int64_t step;               /* its apply step in the journal */
	struct provider_op p;       /* the apply */
	struct hjob h;              /* its health check while one runs */
	int fast;                   /* this release passed here before: no bake */
	int failed;                 /* its apply or check failed */
	int unhealthy;              /* its check ran and failed */
};

/* Sleep ms, unless Ctrl-C comes: 0, or -1 interrupted. The signal pipe
 * also says that a child ended (the last health check): drained, not
 * taken for Ctrl-C, as watch_wait does. */
static int nap(int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	for (;;) {
		if (runner_interrupted())
			return -1;
		uint64_t now = now_ns();
		if (now >= end)
			return 0;
		struct pollfd pf = {runner_signal_fd(), POLLIN, 0};
		int left = (int)((end - now + 999999) / 1000000);
		if (pf.fd < 0) {
			usleep((useconds_t)left * 1000);
			continue;
		}
		if (poll(&pf, 1, left) > 0) {
			char tmp[64];
			while (read(pf.fd, tmp, sizeof tmp) > 0) {
			}
		}
	}
}

/* Health checks of the slots (all, or only those not fast): 0 all
 * passed, 1 one failed (said), -1 interrupted. */
static int check(struct rollout_env *env, struct rtarget *t, struct slot *s, size_t n,
                 int skip_fast)
{
	size_t started = 0;
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip_fast && s[i].fast)
			continue;
		struct err e = {0};
		if (health_start(t->build, &s[i].p, env->sandbox, env->runner, 100 + i, &s[i].h, &e) < 0) {
			say(env, &e);
			s[i].failed = failed = 1;
			continue;
		}
		started++;
	}
	for (; started > 0; started--) {
		struct job_done d;
		int w = env->runner->wait(env->runner, &d);
		if (w != 1) {
			env->runner->cancel(env->runner);
			for (size_t i = 0; i < n; i++)
				health_free(&s[i].h);
			return -1;
		}
		size_t i = d.id - 100;
		struct err e = {0};
		if (d.id < 100 || i >= n) {
			free(d.output);
			started++;
			continue;
		}
		char who[512];
		snprintf(who, sizeof who, "%s %s", t->label, s[i].stage->name);
		if (health_end(&s[i].h, &d, who, &e) < 0) {
			say(env, &e);
			s[i].failed = s[i].unhealthy = failed = 1;
		}
		free(d.output);
	}
	return failed;
}

/* Apply t at the slots together. 0, 1 when one failed (said), -1 when
 * interrupted. */
static int apply_group(struct rollout_env *env, struct rtarget *t, int64_t id, struct slot *s,
                       size_t n)
{
	size_t started = 0;
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct err e = {0};
		struct dstep step = {.rollout = id};
		snprintf(step.deployment, sizeof step.deployment, "%s", t->label);
		snprintf(step.stage, sizeof step.stage, "%s", s[i].stage->name);
		memcpy(step.from, s[i].from, 65);
		memcpy(step.to, t->rel, 65);
		strcpy(step.what, "apply");
		s[i].p = (struct provider_op){.label = t->label, .cfg = &t->cfg, .stage = s[i].stage,
		                              .root = env->root, .rel = t->rel, .reldir = t->reldir,
		                              .manifest = t->manifest};
		if (dstate_step_begin(env->st, &step, &s[i].step, &e) < 0) {
			say(env, &e);
			s[i].failed = failed = 1;
			break;
		}
		int r = provider_apply(&s[i].p, env->runner, i + 1, &e);
		if (r == 0) {
			started++;
			continue;
		}
		if (r < 0)
			say(env, &e), s[i].failed = failed = 1;
		if (dstate_step_end(env->st, s[i].step, r < 0 ? "failed" : "ok", &e) < 0)
			say(env, &e), s[i].failed = failed = 1;
	}
	for (; started > 0; started--) {
		struct job_done d;
		int w = env->runner->wait(env->runner, &d);
		if (w != 1) {
			env->runner->cancel(env->runner);
			return -1;
		}
		size_t i = d.id - 1;
		if (d.id < 1 || i >= n || !s[i].p.started) {
			free(d.output);
			started++;
			continue;
		}
		struct err e = {0};
		int r = provider_end(&s[i].p, &d, &e);
		free(d.output);
		if (r < 0)
			say(env, &e), s[i].failed = failed = 1;
		if (dstate_step_end(env->st, s[i].step, r < 0 ? "failed" : "ok", &e) < 0)
			say(env, &e), s[i].failed = failed = 1;
	}
	return failed;
}

/* A group of stages: apply, health, bake. 0 passed, 1 failed (said), -1
 * interrupted. */
static int run_group(struct rollout_env *env, struct rtarget *t, int64_t id, struct slot *s,
                     size_t n)
{
	uint64_t t0 = now_ns();
	int r = apply_group(env, t, id, s, n);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		fprintf(env->out, "cairn: %s %s: applied %s in %.2f s\n", t->label, s[i].stage->name,
		        shortrel(t->rel), secs(t0));
	fflush(env->out);
	if (!t->build || !t->cfg.health)
		return 0;
	if ((r = check(env, t, s, n, 0)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		fprintf(env->out, "cairn: %s %s: health passed\n", t->label, s[i].stage->name);
	size_t baking = 0;
	for (size_t i = 0; i < n; i++)
		baking += !s[i].fast;
	if (t->cfg.bake == 0 || baking == 0) {
		for (size_t i = 0; i < n && t->cfg.bake; i++)
			fprintf(env->out, "cairn: %s %s: %s passed here before: no bake\n", t->label,
			        s[i].stage->name,
			        shortrel(t->rel));
		return 0;
	}
	fprintf(env->out, "cairn: %s: baking %zu stage%s for %d s (health every %d s)\n", t->label,
	        baking,
	        baking == 1 ? "" : "s", t->cfg.bake, t->cfg.interval);
	fflush(env->out);
	uint64_t end = now_ns() + (uint64_t)t->cfg.bake * 1000000000ull;
	while (now_ns() < end) {
		uint64_t left = (end - now_ns()) / 1000000;
		int ms = t->cfg.interval * 1000 < (int)left ? t->cfg.interval * 1000 : (int)left;
		if (nap(ms) < 0)
			return -1;
		if (renew(env, t->label) < 0)
			return 1;
		if ((r = check(env, t, s, n, 1)) != 0) {
			if (r > 0)
				fprintf(env->out, "cairn: %s: bake failed\n", t->label);
			return r;
		}
	}
	return 0;
}

/* Record the verdicts of the slots' health checks: "passed" for each
 * (ok), or "failed" for those whose check failed. No check, no verdict. */
static void verdicts(struct rollout_env *env, struct rtarget *t, struct slot *s, size_t n, int ok)
{
	if (!t->build || !t->cfg.health)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!ok && !s[i].unhealthy)
			continue;
		const char *v = ok ? "passed" : "failed";
		struct err e = {0};
		if (dstate_verdict(env->st, t->label, s[i].stage->name, t->rel, v, &e) < 0)
			say(env, &e);
	}
}

enum rollout_end rollout_run(struct rollout_env *env, struct rtarget *t, int promote, size_t upto)
{
	struct err e = {0};
	uint64_t t0 = now_ns();
	struct drollout ro;
	int open = dstate_rollout_open(env->st, t->label, &ro, &e);
	if (open < 0)
		return say(env, &e), ROLL_ERROR;
	if (open && !strcmp(ro.state, "paused") && strcmp(ro.release, t->rel) != 0) {
		fprintf(stderr,
		        "cairn: error: %s: the rollout of %s is paused at %s; finish it with"
		        " --promote or --abort before deploying %s\n",
		        t->label, shortrel(ro.release), ro.stage, shortrel(t->rel));
		return ROLL_ERROR;
	}
	if (open && !strcmp(ro.state, "paused") && !promote) {
		fprintf(env->out, "cairn: %s: paused at %s, waiting for approval: cairn deploy %s --promote"
		        " (or --abort)\n", t->label, ro.stage, t->label);
		return ROLL_PAUSED;
	}
	if (promote && !(open && !strcmp(ro.state, "paused"))) {
		fprintf(stderr, "cairn: error: %s: no rollout is waiting for approval\n", t->label);
		return ROLL_ERROR;
	}
	const char *gate = promote ? ro.stage : NULL;
	int64_t id = open ? ro.id : 0;
	/* the stages that change, in order */
	size_t n = t->cfg.nstages, nchange = 0, done = 0;
	struct slot *s = xcalloc(n ? n : 1, sizeof *s);
	for (size_t i = 0; i < n && i < upto; i++) {
		char cur[65];
		if (dstate_current(env->st, t->label, t->cfg.stages[i].name, cur, &e) < 0) {
			free(s);
			return say(env, &e), ROLL_ERROR;
		}
		if (!strcmp(cur, t->rel))
			continue;
		struct slot *x = &s[nchange++];
		x->stage = &t->cfg.stages[i];
		memcpy(x->from, cur, 65);
		x->fast = dstate_passed(env->st, t->label, x->stage->name, t->rel);
	}
	if (nchange == 0 && !open) {
		free(s); /* up to date: no rollout to record */
		if (upto >= n)
			fprintf(env->out, "cairn: %s: %zu stage%s at %s, all unchanged\n", t->label, n,
			        n == 1 ? "" : "s", shortrel(t->rel));
		return ROLL_DONE;
	}
	if ((!open && dstate_rollout_begin(env->st, t->label, t->rel, &id, &e) < 0) ||
	    (open && dstate_rollout_set(env->st, id, "running", NULL, &e) < 0)) {
		free(s);
		return say(env, &e), ROLL_ERROR;
	}
	/* groups: each canary alone, then max_parallel at a time; an
	 * approval stage begins a group, and waits for --promote */
	size_t ncanary = 0;
	for (size_t i = 0; i < n && i < (size_t)t->cfg.canary; i++)
		ncanary++;
	int r = 0;
	size_t at = 0;
	while (at < nchange) {
		size_t stage_index = (size_t)(s[at].stage - t->cfg.stages);
		size_t g = stage_index < ncanary ? 1 : (size_t)t->cfg.max_parallel;
		if (at + g > nchange)
			g = nchange - at;
		for (size_t k = 1; k < g; k++)
			if (s[at + k].stage->approval || (size_t)(s[at + k].stage - t->cfg.stages) < ncanary)
				g = k;
		if (s[at].stage->approval && !(gate && !strcmp(gate, s[at].stage->name))) {
			if (dstate_rollout_set(env->st, id, "paused", s[at].stage->name, &e) < 0)
				r = say(env, &e);
			fprintf(env->out, "cairn: %s: paused before %s, waiting for approval:"
			        " cairn deploy %s --promote (or --abort)\n", t->label,
			        s[at].stage->name, t->label);
			free(s);
			return r < 0 ? ROLL_ERROR : ROLL_PAUSED;
		}
		if (renew(env, t->label) < 0) {
			r = 1;
			break;
		}
		r = run_group(env, t, id, s + at, g);
		if (r != 0) {
			if (r > 0)
				verdicts(env, t, s + at, g, 0);
			break;
		}
		verdicts(env, t, s + at, g, 1);
		at += g;
		done += g;
	}
	free(s);
	if (r < 0) {
		fprintf(env->out, "cairn: %s: interrupted; the next cairn deploy finishes this rollout"
		        " or rolls it back\n", t->label);
		return ROLL_INTERRUPTED;
	}
	if (r > 0) {
		int k = roll_back(env, t->label, id, "rolled back", 0);
		fprintf(env->out, "cairn: %s: FAILED: rolled back %d stage%s to %s previous release in"
		        " %.1f s\n", t->label, k < 0 ? 0 : k, k == 1 ? "" : "s",
		        k == 1 ? "its" : "their", secs(t0));
		return ROLL_FAILED;
	}
	if (upto < n)
		return ROLL_DONE; /* the rest in the next call */
	/* what this rollout changed, over all its calls */
	struct dstep *v;
	size_t nv;
	if (dstate_rollout_changed(env->st, id, &v, &nv, &e) < 0 ||
	    dstate_rollout_set(env->st, id, "done", NULL, &e) < 0)
		return say(env, &e), ROLL_ERROR;
	free(v);
	done = nv;
	fprintf(env->out, "cairn: %s: %zu stage%s at %s (%zu changed, %zu unchanged) in %.1f s\n",
	        t->label, n, n == 1 ? "" : "s", shortrel(t->rel), done, n - done, secs(t0));
	return ROLL_DONE;
}

/* ---- rollback and reconcile, from the records alone ---- */

int rollout_back(struct rollout_env *env, const char *deployment, const char *stage,
                 const char *to)
{
	struct err e = {0};
	char target[65] = "";
	if (to) {
		struct relinfo ri;
		int r = relinfo_load(env, deployment, to, 0, &ri, &e);
		if (r < 0)
			return say(env, &e), 2;
		if (r == 1) {
			fprintf(stderr, "cairn: error: %s never had a release '%s' (cairn status %s shows"
			        " its stages' releases)\n", deployment, to, deployment);
			return 2;
		}
		memcpy(target, ri.rel, 65);
		relinfo_free(&ri);
	}
	char **labels, **configs;
	size_t nd;
	if (dstate_deployments(env->st, &labels, &configs, &nd, &e) < 0)
		return say(env, &e), 2;
	size_t k = 0;
	while (k < nd && strcmp(labels[k], deployment))
		k++;
	struct dconfig cfg;
	if (k == nd || dconfig_parse(configs[k], "the state store", &cfg, &e) < 0) {
		if (k == nd)
			fprintf(stderr, "cairn: error: %s was never deployed\n", deployment);
		else
			say(env, &e);
		strv_free(labels);
		strv_free(configs);
		return 2;
	}
	strv_free(labels);
	strv_free(configs);
	if (stage && !dconfig_stage(&cfg, stage)) {
		fprintf(stderr, "cairn: error: %s has no stage '%s'\n", deployment, stage);
		dconfig_free(&cfg);
		return 2;
	}
	int rc = 0;
	for (size_t i = cfg.nstages; i-- > 0;) {
		const char *name = cfg.stages[i].name;
		if (stage && strcmp(stage, name))
			continue;
		char cur[65], want[65];
		if (dstate_current(env->st, deployment, name, cur, &e) < 0) {
			say(env, &e);
			rc = 1;
			continue;
		}
		memcpy(want, target, 65);
		if (!to && dstate_previous(env->st, deployment, name, cur, want, &e) < 0) {
			say(env, &e);
			rc = 1;
			continue;
		}
		if (!want[0]) {
			fprintf(env->out, "cairn: %s %s: no earlier release to go back to\n", deployment, name);
			continue;
		}
		if (!strcmp(cur, want)) {
			fprintf(env->out, "cairn: %s %s: at %s already\n", deployment, name, shortrel(want));
			continue;
		}
		uint64_t t0 = now_ns();
		if (put_release(env, deployment, name, cur, want, "rollback", 0, &e) < 0) {
			say(env, &e);
			rc = 1;
			continue;
		}
		fprintf(env->out, "cairn: %s %s: rolled back %s -> %s in %.3f s\n", deployment, name,
		        shortrel(cur), shortrel(want), secs(t0));
	}
	dconfig_free(&cfg);
	return rc;
}

int rollout_reconcile(struct rollout_env *env, const char *deployment, const char *config)
{
	struct err e = {0};
	struct dconfig cfg;
	if (dconfig_parse(config, "the state store", &cfg, &e) < 0)
		return say(env, &e);
	int fixed = 0, bad = 0;
	for (size_t i = 0; i < cfg.nstages; i++) {
		const char *name = cfg.stages[i].name;
		char want[65], live[65];
		if (dstate_current(env->st, deployment, name, want, &e) < 0) {
			bad = say(env, &e);
			continue;
		}
		if (!want[0])
			continue; /* never deployed there: nothing to hold it to */
		struct relinfo ri;
		if (relinfo_load(env, deployment, want, 0, &ri, &e) != 0) {
			bad = say(env, &e);
			continue;
		}
		const struct dstage *s = dconfig_stage(&ri.cfg, name);
		int changed = 0;
		const char *why = NULL;
		struct provider_op p = {.label = deployment, .cfg = &ri.cfg, .stage = s,
		                        .root = env->root, .rel = want, .manifest = ri.manifest};
		int r = s ? provider_read(&p, env->runner, live, &changed, &why, &e) : -1;
		provider_free(&p);
		relinfo_free(&ri);
		if (r < 0) {
			if (e.msg)
				say(env, &e);
			bad = -1;
			continue;
		}
		if (!strcmp(live, want) && !changed)
			continue;
		fprintf(env->out, "cairn: reconcile: %s %s: drift (live %s%s%s); re-applying %s\n",
		        deployment, name, shortrel(live), why ? ", " : "", why ? why : "",
		        shortrel(want));
		if (put_release(env, deployment, name, live, want, "reconcile", 0, &e) < 0) {
			bad = say(env, &e);
			continue;
		}
		fixed++;
	}
	dconfig_free(&cfg);
	return bad < 0 ? -1 : fixed;
}
