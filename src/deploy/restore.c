/* deploy/restore: putting stages back from the records alone (rollout.h):
 * the repair after a killed process, a failed rollout's rollback, --abort,
 * cairn rollback and cairn reconcile. Each step is journaled before it
 * acts, as in a rollout. */
#include "deploy/provider.h"
#include "deploy/release.h"
#include "deploy/rollout.h"
#include "deploy/rollout_int.h"
#include "util/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
int ro_wait_for(struct runner *r, size_t id, struct job_done *d)
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
			          ro_short(cfgrel));
		return -1;
	}
	const struct dstage *s = dconfig_stage(&ri.cfg, stage);
	if (!s) {
		relinfo_free(&ri);
		return err_input(e, NULL, "%s: release %s has no stage '%s'", deployment, ro_short(cfgrel),
		                 stage);
	}
	struct dstep step = {.rollout = rollout};
	snprintf(step.deployment, sizeof step.deployment, "%s", deployment);
	snprintf(step.stage, sizeof step.stage, "%s", stage);
	snprintf(step.from, sizeof step.from, "%s", from);
	snprintf(step.to, sizeof step.to, "%s", to);
	snprintf(step.what, sizeof step.what, "%s", what);
	int64_t id;
	uint64_t t0 = now_ns();
	if (dstate_step_begin(env->st, &step, &id, e) < 0) {
		relinfo_free(&ri);
		return -1;
	}
	struct provider_op p = {.label = deployment, .cfg = &ri.cfg, .stage = s, .root = env->root,
	                        .rel = to, .reldir = ri.dir, .manifest = ri.manifest};
	int rc = provider_apply(&p, env->runner, 1, e);
	if (rc == 0) {
		struct job_done d;
		int w = ro_wait_for(env->runner, 1, &d);
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
	ro_note(env, what, deployment, stage, from, to, rc == 0 ? "ok" : "failed",
	        rc < 0 ? e->msg : NULL, t0);
	provider_free(&p);
	relinfo_free(&ri);
	return rc;
}

int rollout_recover(struct rollout_env *env, const char *deployment, const char *keep)
{
	struct err e = {0};
	struct dstep *v;
	size_t n;
	if (dstate_unfinished(env->st, deployment, &v, &n, &e) < 0)
		return ro_say(env, &e);
	int rc = 0;
	for (size_t i = n; i-- > 0 && rc == 0;) {
		fprintf(env->out, "cairn: %s: a step was cut off (%s %s -> %s at %s); putting %s back\n",
		        deployment, v[i].what, ro_short(v[i].from), ro_short(v[i].to), v[i].stage,
		        v[i].stage);
		/* the step never ended: mark it, then put the stage back as it was */
		ro_note(env, "repair", deployment, v[i].stage, v[i].from, v[i].to, "interrupted",
		        v[i].what, now_ns());
		if (dstate_step_end(env->st, v[i].id, "interrupted", &e) < 0 ||
		    put_release(env, deployment, v[i].stage, v[i].to, v[i].from, "rollback", v[i].rollout,
		                &e) < 0)
			rc = ro_say(env, &e);
	}
	free(v);
	struct drollout ro;
	int open = rc == 0 ? dstate_rollout_open(env->st, deployment, &ro, &e) : 0;
	if (open < 0)
		return ro_say(env, &e);
	if (open && !strcmp(ro.state, "running")) {
		/* the same release again: what passed its checks stays, the rest
		 * goes back and is rolled out again; another release: all back */
		int same = keep && !strcmp(ro.release, keep);
		fprintf(env->out, "cairn: %s: the rollout of %s was cut off; %s\n", deployment,
		        ro_short(ro.release),
		        same ? "finishing it" : "rolling it back");
		if (ro_roll_back(env, deployment, ro.id, same ? "superseded" : "rolled back", same) < 0)
			rc = -1;
	}
	return rc;
}

/* Take every stage rollout id changed back to what it had (unverified:
 * only those where its release has not passed its health check); then
 * the rollout's state is state. The number of stages, or -1 (said). */
int ro_roll_back(struct rollout_env *env, const char *deployment, int64_t id,
                     const char *state, int unverified)
{
	struct err e = {0};
	struct dstep *v;
	size_t n;
	if (dstate_rollout_changed(env->st, id, &v, &n, &e) < 0)
		return ro_say(env, &e);
	int rc = 0, back = 0;
	for (size_t i = n; i-- > 0;) {
		char cur[65];
		if (dstate_current(env->st, deployment, v[i].stage, cur, &e) < 0) {
			rc = ro_say(env, &e);
			continue;
		}
		struct dstage_last last;
		if (dstate_last(env->st, deployment, v[i].stage, &last, &e) < 0) {
			rc = ro_say(env, &e);
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
			rc = ro_say(env, &e);
			continue;
		}
		fprintf(env->out, "cairn: %s %s: rolled back to %s in %.2f s\n", deployment, v[i].stage,
		        ro_short(v[i].from), ro_secs(t0));
		back++;
	}
	free(v);
	if (dstate_rollout_set(env->st, id, state, NULL, &e) < 0)
		rc = ro_say(env, &e);
	return rc < 0 ? -1 : back;
}

int rollout_abort(struct rollout_env *env, const char *deployment)
{
	struct err e = {0};
	struct drollout ro;
	int open = dstate_rollout_open(env->st, deployment, &ro, &e);
	if (open < 0)
		return ro_say(env, &e);
	if (!open) {
		fprintf(env->out, "cairn: %s: no rollout to abort\n", deployment);
		return 0;
	}
	ro_note(env, "abort", deployment, ro.stage[0] ? ro.stage : NULL, NULL, ro.release, ro.state,
	        NULL, now_ns());
	int n = ro_roll_back(env, deployment, ro.id, "rolled back", 0);
	if (n < 0)
		return -1;
	fprintf(env->out, "cairn: %s: rollout of %s aborted: %d stage%s rolled back\n", deployment,
	        ro_short(ro.release), n, n == 1 ? "" : "s");
	return 0;
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
			return ro_say(env, &e), 2;
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
		return ro_say(env, &e), 2;
	size_t k = 0;
	while (k < nd && strcmp(labels[k], deployment))
		k++;
	struct dconfig cfg;
	if (k == nd || dconfig_parse(configs[k], "the state store", &cfg, &e) < 0) {
		if (k == nd)
			fprintf(stderr, "cairn: error: %s was never deployed\n", deployment);
		else
			ro_say(env, &e);
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
	int rc = 0, denied = 0;
	for (size_t i = cfg.nstages; i-- > 0;) {
		const char *name = cfg.stages[i].name;
		if (stage && strcmp(stage, name))
			continue;
		char cur[65], want[65];
		if (dstate_current(env->st, deployment, name, cur, &e) < 0) {
			ro_say(env, &e);
			rc = 1;
			continue;
		}
		memcpy(want, target, 65);
		if (!to && dstate_previous(env->st, deployment, name, cur, want, &e) < 0) {
			ro_say(env, &e);
			rc = 1;
			continue;
		}
		if (!want[0]) {
			fprintf(env->out, "cairn: %s %s: no earlier release to go back to\n", deployment, name);
			continue;
		}
		if (!strcmp(cur, want)) {
			fprintf(env->out, "cairn: %s %s: at %s already\n", deployment, name, ro_short(want));
			continue;
		}
		char *tests = dstate_release_tests(env->st, want);
		int g = ro_gate(env, "rollback", deployment, name, want, cur, tests);
		free(tests);
		if (g != 0) {
			denied = 1;
			continue;
		}
		uint64_t t0 = now_ns();
		if (put_release(env, deployment, name, cur, want, "rollback", 0, &e) < 0) {
			ro_say(env, &e);
			rc = 1;
			continue;
		}
		fprintf(env->out, "cairn: %s %s: rolled back %s -> %s in %.3f s\n", deployment, name,
		        ro_short(cur), ro_short(want), ro_secs(t0));
	}
	dconfig_free(&cfg);
	return denied ? 2 : rc;
}

int rollout_reconcile(struct rollout_env *env, const char *deployment, const char *config)
{
	struct err e = {0};
	struct dconfig cfg;
	if (dconfig_parse(config, "the state store", &cfg, &e) < 0)
		return ro_say(env, &e);
	int fixed = 0, bad = 0;
	for (size_t i = 0; i < cfg.nstages; i++) {
		const char *name = cfg.stages[i].name;
		char want[65], live[65];
		if (dstate_current(env->st, deployment, name, want, &e) < 0) {
			bad = ro_say(env, &e);
			continue;
		}
		if (!want[0])
			continue; /* never deployed there: nothing to hold it to */
		struct relinfo ri;
		if (relinfo_load(env, deployment, want, 0, &ri, &e) != 0) {
			bad = ro_say(env, &e);
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
				ro_say(env, &e);
			bad = -1;
			continue;
		}
		if (!strcmp(live, want) && !changed)
			continue;
		fprintf(env->out, "cairn: reconcile: %s %s: drift (live %s%s%s); re-applying %s\n",
		        deployment, name, ro_short(live), why ? ", " : "", why ? why : "",
		        ro_short(want));
		char *tests = dstate_release_tests(env->st, want);
		int g = ro_gate(env, "reconcile", deployment, name, want, live, tests);
		free(tests);
		if (g != 0) {
			bad = -1;
			continue;
		}
		if (put_release(env, deployment, name, live, want, "reconcile", 0, &e) < 0) {
			bad = ro_say(env, &e);
			continue;
		}
		fixed++;
	}
	dconfig_free(&cfg);
	return bad < 0 ? -1 : fixed;
}
