/* deploy/rollout: the lock, the change set and the rollout (rollout.h);
 * restore.c puts stages back. */
#include "deploy/rollout.h"
#include "deploy/health.h"
#include "deploy/provider.h"
#include "deploy/release.h"
#include "deploy/rollout_int.h"
#include "util/util.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LEASE_MS = 60000 };

const char *ro_short(const char *rel)
{
	static char buf[4][13];
	static int next;
	if (!rel[0])
		return "(none)";
	char *b = buf[next++ % 4];
	snprintf(b, 13, "%.12s", rel);
	return b;
}

double ro_secs(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

/* Say e (a user error, or a system one) and clear it; -1. */
int ro_say(struct rollout_env *env, struct err *e)
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
			return ro_say(env, &e);
		if (r == 0)
			return 0;
		time_t since = (time_t)(h.since_ms / 1000);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&since));
		if (ro_secs(t0) >= wait_s) {
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
		ro_say(env, &e);
}

/* Renew the lease: 0, or -1 (said) when another process took the lock. */
int ro_renew(struct rollout_env *env, const char *deployment)
{
	struct dlock_owner h;
	struct err e = {0};
	int r = dstate_lock(env->st, deployment, LEASE_MS, &h, &e);
	if (r < 0)
		return ro_say(env, &e);
	if (r == 1) {
		fprintf(stderr, "cairn: error: %s: the lock was taken over by pid %ld on %s\n",
		        deployment, h.pid, h.host);
		return -1;
	}
	return 0;
}

void ro_note(struct rollout_env *env, const char *kind, const char *deployment, const char *stage,
             const char *from, const char *to, const char *result, const char *detail,
             uint64_t start_ns)
{
	if (!env->note)
		return;
	struct deploy_note n = {kind, deployment, stage, from, to, result, detail, start_ns,
	                        now_ns()};
	env->note(env->ctx, &n);
}

int ro_gate(struct rollout_env *env, const char *what, const char *deployment, const char *stage,
            const char *release, const char *previous, const char *tests)
{
	if (!env->gate)
		return 0;
	struct deploy_gate g = {what, deployment, stage, release, previous, tests ? tests : ""};
	char *why = NULL;
	int r = env->gate(env->ctx, &g, &why);
	if (r == 1) {
		char result[32];
		snprintf(result, sizeof result, "%s denied", what);
		ro_note(env, "denied", deployment, stage, previous, release, result, why, now_ns());
		free(why);
		return 2;
	}
	free(why);
	return r < 0 ? -1 : 0;
}

/* ---- the rollout ---- */

size_t rollout_plan(struct rollout_env *env, const struct rtarget *t)
{
	size_t changed = 0;
	fprintf(env->out, "cairn: %s: release %s, %zu stage%s\n", t->label, ro_short(t->rel),
	        t->cfg.nstages, t->cfg.nstages == 1 ? "" : "s");
	for (size_t i = 0; i < t->cfg.nstages; i++) {
		char cur[65];
		struct err e = {0};
		if (dstate_current(env->st, t->label, t->cfg.stages[i].name, cur, &e) < 0) {
			ro_say(env, &e);
			cur[0] = 0;
		}
		if (!strcmp(cur, t->rel)) {
			fprintf(env->out, "  %-12s unchanged\n", t->cfg.stages[i].name);
		} else {
			fprintf(env->out, "  %-12s %s -> %s%s\n", t->cfg.stages[i].name, ro_short(cur),
			        ro_short(t->rel), t->cfg.stages[i].approval ? " (needs approval)" : "");
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
	uint64_t t0;                /* when its apply or check began */
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
		s[i].t0 = now_ns();
		if (health_start(t->build, &s[i].p, env->sandbox, env->runner, 100 + i, &s[i].h, &e) < 0) {
			ro_note(env, "health", t->label, s[i].stage->name, NULL, t->rel, "failed", e.msg,
			        s[i].t0);
			ro_say(env, &e);
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
		int r = health_end(&s[i].h, &d, who, &e);
		ro_note(env, "health", t->label, s[i].stage->name, NULL, t->rel, r < 0 ? "failed" : "passed",
		        r < 0 ? e.msg : NULL, s[i].t0);
		if (r < 0) {
			ro_say(env, &e);
			s[i].failed = s[i].unhealthy = failed = 1;
		}
		free(d.output);
	}
	return failed;
}

/* Apply t at the slots together. 0, 1 when one failed (said), -1 when
 * interrupted. */
/* Slot x's apply ended (r < 0: failed, with *e): journaled, noted, said. */
static void apply_ended(struct rollout_env *env, struct rtarget *t, struct slot *x, int r,
                        struct err *e)
{
	ro_note(env, "apply", t->label, x->stage->name, x->from, t->rel, r < 0 ? "failed" : "ok",
	        r < 0 ? e->msg : NULL, x->t0);
	if (r < 0)
		ro_say(env, e), x->failed = 1;
	if (dstate_step_end(env->st, x->step, r < 0 ? "failed" : "ok", e) < 0)
		ro_say(env, e), x->failed = 1;
}

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
			ro_say(env, &e);
			s[i].failed = failed = 1;
			break;
		}
		s[i].t0 = now_ns();
		int r = provider_apply(&s[i].p, env->runner, i + 1, &e);
		if (r == 0) {
			started++;
			continue;
		}
		apply_ended(env, t, &s[i], r, &e);
		failed |= s[i].failed;
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
		apply_ended(env, t, &s[i], r, &e);
		failed |= s[i].failed;
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
		        ro_short(t->rel), ro_secs(t0));
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
		for (size_t i = 0; i < n && t->cfg.bake; i++) {
			fprintf(env->out, "cairn: %s %s: %s passed here before: no bake\n", t->label,
			        s[i].stage->name, ro_short(t->rel));
			ro_note(env, "bake", t->label, s[i].stage->name, NULL, t->rel, "skipped",
			        "passed here before", now_ns());
		}
		return 0;
	}
	fprintf(env->out, "cairn: %s: baking %zu stage%s for %d s (health every %d s)\n", t->label,
	        baking, baking == 1 ? "" : "s", t->cfg.bake, t->cfg.interval);
	fflush(env->out);
	uint64_t b0 = now_ns(), end = b0 + (uint64_t)t->cfg.bake * 1000000000ull;
	r = 0;
	while (now_ns() < end && r == 0) {
		uint64_t left = (end - now_ns()) / 1000000;
		int ms = t->cfg.interval * 1000 < (int)left ? t->cfg.interval * 1000 : (int)left;
		if (nap(ms) < 0)
			r = -1;
		else if (ro_renew(env, t->label) < 0)
			r = 1;
		else if ((r = check(env, t, s, n, 1)) > 0)
			fprintf(env->out, "cairn: %s: bake failed\n", t->label);
	}
	for (size_t i = 0; i < n; i++)
		if (!s[i].fast)
			ro_note(env, "bake", t->label, s[i].stage->name, NULL, t->rel,
			        r == 0 ? "passed" : r < 0 ? "interrupted" : "failed", NULL, b0);
	return r;
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
			ro_say(env, &e);
	}
}

enum rollout_end rollout_run(struct rollout_env *env, struct rtarget *t, int promote, size_t upto)
{
	struct err e = {0};
	uint64_t t0 = now_ns();
	struct drollout ro;
	int open = dstate_rollout_open(env->st, t->label, &ro, &e);
	if (open < 0)
		return ro_say(env, &e), ROLL_ERROR;
	if (open && !strcmp(ro.state, "paused") && strcmp(ro.release, t->rel) != 0) {
		fprintf(stderr,
		        "cairn: error: %s: the rollout of %s is paused at %s; finish it with"
		        " --promote or --abort before deploying %s\n",
		        t->label, ro_short(ro.release), ro.stage, ro_short(t->rel));
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
			return ro_say(env, &e), ROLL_ERROR;
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
			        n == 1 ? "" : "s", ro_short(t->rel));
		return ROLL_DONE;
	}
	/* the policy, asked for every stage before the first changes */
	for (size_t i = 0; i < nchange; i++) {
		int g = ro_gate(env, "deploy", t->label, s[i].stage->name, t->rel, s[i].from, t->tests);
		if (g == 0)
			continue;
		/* what this rollout already changed (in earlier calls) goes back */
		if (open && ro_roll_back(env, t->label, id, "denied", 0) > 0)
			fprintf(env->out, "cairn: %s: denied at %s: rolled back\n", t->label,
			        s[i].stage->name);
		free(s);
		return ROLL_ERROR;
	}
	if ((!open && dstate_rollout_begin(env->st, t->label, t->rel, &id, &e) < 0) ||
	    (open && dstate_rollout_set(env->st, id, "running", NULL, &e) < 0)) {
		free(s);
		return ro_say(env, &e), ROLL_ERROR;
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
		if (s[at].stage->approval && gate && !strcmp(gate, s[at].stage->name))
			ro_note(env, "approval", t->label, gate, s[at].from, t->rel, "promoted", NULL,
			        now_ns());
		if (s[at].stage->approval && !(gate && !strcmp(gate, s[at].stage->name))) {
			ro_note(env, "approval", t->label, s[at].stage->name, s[at].from, t->rel, "paused",
			        NULL, now_ns());
			if (dstate_rollout_set(env->st, id, "paused", s[at].stage->name, &e) < 0)
				r = ro_say(env, &e);
			fprintf(env->out, "cairn: %s: paused before %s, waiting for approval:"
			        " cairn deploy %s --promote (or --abort)\n", t->label,
			        s[at].stage->name, t->label);
			free(s);
			return r < 0 ? ROLL_ERROR : ROLL_PAUSED;
		}
		if (ro_renew(env, t->label) < 0) {
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
		int k = ro_roll_back(env, t->label, id, "rolled back", 0);
		fprintf(env->out, "cairn: %s: FAILED: rolled back %d stage%s to %s previous release in"
		        " %.1f s\n", t->label, k < 0 ? 0 : k, k == 1 ? "" : "s",
		        k == 1 ? "its" : "their", ro_secs(t0));
		return ROLL_FAILED;
	}
	if (upto < n)
		return ROLL_DONE; /* the rest in the next call */
	/* what this rollout changed, over all its calls */
	struct dstep *v;
	size_t nv;
	if (dstate_rollout_changed(env->st, id, &v, &nv, &e) < 0 ||
	    dstate_rollout_set(env->st, id, "done", NULL, &e) < 0)
		return ro_say(env, &e), ROLL_ERROR;
	free(v);
	done = nv;
	fprintf(env->out, "cairn: %s: %zu stage%s at %s (%zu changed, %zu unchanged) in %.1f s\n",
	        t->label, n, n == 1 ? "" : "s", ro_short(t->rel), done, n - done, ro_secs(t0));
	return ROLL_DONE;
}

