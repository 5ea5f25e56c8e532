/* deploy: the commands of SPEC section 7.
 *   deploy LABEL...   build (with the required tests), then roll out each
 *                     deployment the labels name, its deps first
 *   status            each stage: desired, live, last result, drift
 *   rollback LABEL    back to the previous (or a named) release
 *   reconcile         re-apply the recorded release wherever it drifted
 * Only deploy reads build files: the others work from .cairn/state.db,
 * which keeps each release's configuration, and from the store, which
 * keeps its bytes. */
#include "cli/cmds.h"
#include "cli/gate.h"
#include "cli/ui.h"
#include "deploy/audit.h"
#include "deploy/config.h"
#include "deploy/provider.h"
#include "deploy/release.h"
#include "deploy/rollout.h"
#include "deploy/roots.h"
#include "deploy/state.h"
#include "exec/runner.h"
#include "graph/graph.h"
#include "lang/label.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define STATE_DB ".cairn/state.db"
#define AUDIT_LOG ".cairn/audit.log"

/* What every deploy command opens. */
struct dctx {
	struct dstate *st;
	struct store *store;
	struct rollout_env env;
	const char *cache_dir;
	int changed;  /* releases may have moved: write the GC roots again */
	int in_memory; /* no state.db here: nothing was ever deployed */
	struct audit *audit; /* .cairn/audit.log, or NULL (in memory, or failed) */
	struct ui *u;        /* a deploy's --events and --profile, or NULL */
	struct gate *gate;   /* POLICY.lua's deploy() */
};

/* The engine's observers (env.note): --events and --profile, and the
 * audit log. Its failure is warned about once and never fails a deploy. */
static void on_note(void *ctx, const struct deploy_note *n)
{
	struct dctx *c = ctx;
	struct err e = {0};
	if (c->u)
		observe_note(c->u, n);
	if (c->audit && audit_note(c->audit, n, &e) < 0) {
		warn("%s; the audit log is not written to any more in this run", e.msg);
		err_clear(&e);
		audit_close(c->audit);
		c->audit = NULL;
	}
}

/* The engine's gate (env.gate): POLICY.lua's deploy(). */
static int on_gate(void *ctx, const struct deploy_gate *g, char **why)
{
	struct dctx *c = ctx;
	return gate_ask(c->gate, g, why);
}

/* 0, or 2 (said). With write 0 (a command that only reads, or --plan),
 * a workspace where nothing was ever deployed gets an empty store in
 * memory: it stays without a .cairn/state.db. */
static int dctx_open(struct dctx *c, const struct ws *w, const struct opts *o, int write)
{
	memset(c, 0, sizeof *c);
	struct err e = {0};
	int mem = !write && access(STATE_DB, F_OK) < 0;
	if ((mem ? 0 : fs_mkdir_p(".cairn")) < 0 ||
	    dstate_open(mem ? ":memory:" : STATE_DB, &c->st, &e) < 0) {
		fprintf(stderr, "cairn: %s\n", e.msg ? e.msg : "error: cannot create .cairn");
		err_clear(&e);
		memset(c, 0, sizeof *c);
		return 2;
	}
	c->store = store_local_open(w->cache_dir);
	struct runner *r = c->store ? runner_local_new() : NULL;
	if (!r) {
		fprintf(stderr, "cairn: error: cannot open the cache at %s: %s\n", w->cache_dir,
		        strerror(errno));
		if (c->store)
			c->store->ops->close(c->store);
		dstate_close(c->st);
		memset(c, 0, sizeof *c);
		return 2;
	}
	c->env = (struct rollout_env){.st = c->st, .store = c->store, .runner = r, .root = w->root,
	                              .sandbox = sandbox_wanted(o), .out = stdout};
	c->cache_dir = w->cache_dir;
	c->in_memory = mem;
	c->env.note = on_note;
	c->env.gate = on_gate;
	c->env.ctx = c;
	c->gate = gate_new(w->name);
	if (!mem && audit_open(AUDIT_LOG, c->st, &c->audit, &e) < 0) {
		warn("%s; deploying without an audit log", e.msg);
		err_clear(&e);
	}
	return 0;
}

static void dctx_close(struct dctx *c)
{
	struct err e = {0};
	if (c->changed && c->st && !c->in_memory && roots_write(c->st, c->env.root, c->cache_dir, &e) < 0) {
		warn("%s", e.msg);
		err_clear(&e);
	}
	audit_close(c->audit);
	gate_free(c->gate);
	if (c->env.runner)
		c->env.runner->free(c->env.runner);
	if (c->store)
		c->store->ops->close(c->store);
	dstate_close(c->st);
}

/* ---- deploy ---- */

int cmd_deploy(const struct opts *o)
{
	if (o->nargs == 0) {
		fprintf(stderr, "cairn: error: deploy takes the labels of deployments: cairn deploy //pkg:name\n");
		return 2;
	}
	if (o->promote + o->abort_rollout + o->plan > 1) {
		fprintf(stderr, "cairn: error: --plan, --promote and --abort go one at a time\n");
		return 2;
	}
	return cmd_build(o, MODE_DEPLOY);
}

/* The tests that admitted a deployment's release: "LABEL\n" each. */
static char *admitted(const struct dbuild *b)
{
	struct buf t = {0};
	for (size_t i = 0; i < b->ntests; i++)
		buf_printf(&t, "%s\n", b->tests[i].label);
	return t.s ? buf_take(&t) : xstrdup("");
}

/* A deployment of the graph on its way out. */
struct unit {
	struct rtarget t;  /* its release, for the engine */
	struct dbuild b;   /* its build text read (t.build points here) */
	char *tests;       /* the tests that admitted it (t.tests) */
	int parsed;        /* t.cfg and b hold something to free */
	int locked;        /* its lock is ours */
};

static void unit_free(struct unit *u)
{
	free(u->tests);
	free(u->t.manifest);
	free(u->t.reldir);
	if (u->parsed) {
		dbuild_free(&u->b);
		dconfig_free(&u->t.cfg);
	}
}

/* Its texts read, its release made and (but for a plan) recorded, its
 * directory made. 0, or 2 (said). */
static int unit_prepare(struct dctx *c, const struct build_report *br, const struct deploy_def *d,
                        struct unit *u, int plan)
{
	struct err e = {0};
	u->t.label = d->label;
	u->t.config = d->config;
	if (dconfig_parse(d->config, d->label, &u->t.cfg, &e) < 0)
		goto bad;
	if (dbuild_parse(d->build, d->label, &u->b, &e) < 0) {
		dconfig_free(&u->t.cfg);
		goto bad;
	}
	u->parsed = 1;
	u->t.build = &u->b;
	u->tests = admitted(&u->b);
	u->t.tests = u->tests;
	if (release_make(c->store, c->env.root, d->config, &u->b, u->t.rel, &u->t.manifest, &e) < 0)
		goto bad;
	if (plan)
		return 0; /* the change set needs the digest only */
	char *prov = observe_provenance(br->g, br->st, &u->b, u->t.manifest);
	int rc = dstate_release_put(c->st, u->t.rel, d->label, d->config, u->t.manifest, u->tests,
	                            prov, &e);
	if (rc == 0)
		observe_release(br->u, d->label, u->t.rel, prov, u->tests);
	free(prov);
	if (rc < 0 || !(u->t.reldir = release_dir(c->store, c->env.root, u->t.rel, u->t.manifest, &e)))
		goto bad;
	return 0;
bad:
	fprintf(stderr, "cairn: %s\n", e.msg);
	err_clear(&e);
	return 2;
}

/* Does one of the units depend on another? */
static int linked(const struct unit *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; d < u[i].t.cfg.ndeps; d++)
			for (size_t k = 0; k < n; k++)
				if (k != i && !strcmp(u[i].t.cfg.deps[d], u[k].t.label))
					return 1;
	return 0;
}

/* After unit f failed (and was rolled back): the units that depend on it,
 * transitively, that this deploy changed go back too. */
static void back_with_dependents(struct dctx *c, struct unit *u, size_t n, size_t f)
{
	int *gone = xcalloc(n, sizeof *gone);
	gone[f] = 1;
	for (int grew = 1; grew;) {
		grew = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t d = 0; d < u[i].t.cfg.ndeps && !gone[i]; d++)
				for (size_t k = 0; k < n && !gone[i]; k++)
					if (gone[k] && !strcmp(u[i].t.cfg.deps[d], u[k].t.label)) {
						printf("cairn: %s depends on %s: rolling it back too\n", u[i].t.label,
						       u[k].t.label);
						rollout_abort(&c->env, u[i].t.label);
						gone[i] = grew = 1;
					}
	}
	free(gone);
}

/* The rollouts of the units still open end "stopped": what they applied
 * passed its checks and stays; the next deploy begins afresh. */
static void stop_others(struct dctx *c, struct unit *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct drollout ro;
		struct err e = {0};
		if (dstate_rollout_open(c->st, u[i].t.label, &ro, &e) == 1 && !strcmp(ro.state, "running"))
			dstate_rollout_set(c->st, ro.id, "stopped", NULL, &e);
		err_clear(&e);
	}
}

/* Roll the units out: one after another, or, when one depends on
 * another, stage by stage (each unit's first stage, in order, then each
 * one's second, ...). The exit code. */
static int roll_units(struct dctx *c, const struct opts *o, struct unit *u, size_t n)
{
	size_t most = 0;
	for (size_t i = 0; i < n; i++)
		if (u[i].t.cfg.nstages > most)
			most = u[i].t.cfg.nstages;
	int stepwise = linked(u, n);
	for (size_t i = 0; i < n; i++) {
		rollout_plan(&c->env, &u[i].t);
		fflush(stdout);
	}
	size_t rounds = stepwise ? most : 1;
	for (size_t k = 1; k <= rounds; k++) {
		for (size_t i = 0; i < n; i++) {
			size_t upto = stepwise ? k : SIZE_MAX;
			if (stepwise && k > u[i].t.cfg.nstages)
				continue;
			enum rollout_end r = rollout_run(&c->env, &u[i].t, o->promote, upto);
			if (r == ROLL_FAILED)
				back_with_dependents(c, u, n, i);
			if (r == ROLL_FAILED || r == ROLL_ERROR)
				stop_others(c, u, n);
			if (r != ROLL_DONE)
				return r == ROLL_PAUSED ? 0 : (int)r;
		}
	}
	return 0;
}

int deploy_after_build(const struct opts *o, struct ws *w, const struct build_report *br)
{
	const struct graph *g = br->g;
	if (g->ndeploys == 0) {
		fprintf(stderr, "cairn: error: no deployment{} among the targets named\n");
		return 2;
	}
	if (!br->built) {
		printf("cairn: not deploying: the build or a required test failed\n");
		return 1;
	}
	/* the rollout holds each deployment's own lock, not the workspace's:
	 * a second deploy waits for the deployment, and says who holds it */
	if (w->lock_fd >= 0)
		flock(w->lock_fd, LOCK_UN);
	struct dctx c;
	int code = dctx_open(&c, w, o, !o->plan);
	c.u = br->u;
	size_t n = g->ndeploys;
	struct unit *u = xcalloc(n, sizeof *u);
	c.changed = !o->plan;
	/* deps were analyzed first: they come first */
	for (size_t i = 0; i < n && code == 0; i++)
		code = unit_prepare(&c, br, &g->deploys[i], &u[i], o->plan);
	if (code == 0 && o->plan) {
		for (size_t i = 0; i < n; i++)
			rollout_plan(&c.env, &u[i].t);
		goto out;
	}
	for (size_t i = 0; i < n && code == 0; i++) {
		int wait = o->lock_timeout < 0 ? 0 : o->lock_timeout;
		if (rollout_lock(&c.env, u[i].t.label, wait) < 0)
			code = 1;
		else
			u[i].locked = 1;
		if (code == 0 && rollout_recover(&c.env, u[i].t.label, u[i].t.rel) < 0)
			code = 1;
	}
	if (code == 0 && o->abort_rollout) {
		for (size_t i = n; i-- > 0;)
			if (rollout_abort(&c.env, u[i].t.label) < 0)
				code = 1;
	} else if (code == 0) {
		struct err e = {0};
		for (size_t i = 0; i < n && code == 0; i++)
			if (dstate_deployment_put(c.st, u[i].t.label, u[i].t.config, &e) < 0) {
				fprintf(stderr, "cairn: %s\n", e.msg);
				err_clear(&e);
				code = 2;
			}
		if (code == 0)
			code = roll_units(&c, o, u, n);
	}
out:
	for (size_t i = 0; i < n; i++) {
		if (u[i].locked)
			rollout_unlock(&c.env, u[i].t.label);
		unit_free(&u[i]);
	}
	free(u);
	dctx_close(&c);
	return code;
}

/* ---- status, rollback, reconcile: from the state store ---- */

/* Does label match one of the patterns? */
static int matches(const struct pattern *p, size_t n, const char *label)
{
	struct label l;
	const char *why;
	if (label_parse(label, NULL, &l, &why) < 0)
		return 0;
	int yes = 0;
	for (size_t i = 0; i < n && !yes; i++) {
		size_t k = strlen(p[i].label.pkg);
		if (p[i].kind == PAT_TARGET)
			yes = !strcmp(p[i].label.pkg, l.pkg) && !strcmp(p[i].label.name, l.name);
		else if (p[i].kind == PAT_PACKAGE)
			yes = !strcmp(p[i].label.pkg, l.pkg);
		else
			yes = k == 0 || (!strncmp(p[i].label.pkg, l.pkg, k) && (!l.pkg[k] || l.pkg[k] == '/'));
	}
	label_free(&l);
	return yes;
}

/* The deployments in the store that the command's patterns match (all
 * when none): fresh labels and configs, their count in *n. */
static int select_deployments(struct dctx *c, const struct ws *w, const struct opts *o,
                              char ***labels, char ***configs, size_t *n)
{
	struct err e = {0};
	char **l, **cf;
	size_t nd;
	if (dstate_deployments(c->st, &l, &cf, &nd, &e) < 0) {
		fprintf(stderr, "cairn: %s\n", e.msg);
		err_clear(&e);
		return -1;
	}
	size_t np = 0;
	struct pattern *pats = ws_patterns(w, o->args, o->nargs, &np);
	size_t k = 0;
	for (size_t i = 0; i < nd; i++) {
		if (matches(pats, np, l[i])) {
			l[k] = l[i];
			cf[k++] = cf[i];
		} else {
			free(l[i]);
			free(cf[i]);
		}
	}
	l[k] = cf[k] = NULL;
	patterns_free(pats, np);
	*labels = l;
	*configs = cf;
	*n = k;
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* ", "provenance": {...}" of release rel: the action keys that made its
 * artifacts and the tests that admitted it, leading back to the build. */
static void json_provenance(struct dstate *st, const char *rel)
{
	if (!rel[0])
		return;
	char *prov = dstate_release_provenance(st, rel), *tests = dstate_release_tests(st, rel);
	printf(", \"provenance\": {\"artifacts\": [");
	int first = 1;
	for (char *p = prov, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		char *line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		char name[256], digest[65], key[65], path[1024];
		if (sscanf(line, "%255s %64s %64s %1023s", name, digest, key, path) == 4) {
			printf("%s{\"name\": ", first ? "" : ", ");
			json_str(name);
			printf(", \"digest\": \"%s\", \"key\": ", digest);
			json_str(key);
			printf(", \"path\": ");
			json_str(path);
			printf("}");
			first = 0;
		}
		free(line);
	}
	printf("], \"tests\": [");
	first = 1;
	for (char *p = tests, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		char *t = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		if (*t) {
			printf("%s", first ? "" : ", ");
			json_str(t);
			first = 0;
		}
		free(t);
	}
	printf("]}");
	free(prov);
	free(tests);
}

int cmd_status(const struct opts *o)
{
	struct ws w;
	ws_open(&w, o, 0);
	struct dctx c;
	int code = dctx_open(&c, &w, o, 0);
	char **labels = NULL, **configs = NULL;
	size_t n = 0;
	if (code == 0 && select_deployments(&c, &w, o, &labels, &configs, &n) < 0)
		code = 2;
	if (code == 0 && n == 0 && !o->json)
		printf("cairn: no deployment matches (none was ever deployed here?)\n");
	if (o->json && code == 0)
		printf("{\"deployments\": [");
	for (size_t i = 0; i < n && code == 0; i++) {
		struct err e = {0};
		struct dconfig cfg;
		if (dconfig_parse(configs[i], labels[i], &cfg, &e) < 0) {
			fprintf(stderr, "cairn: %s\n", e.msg);
			err_clear(&e);
			code = 2;
			break;
		}
		if (o->json) {
			printf("%s{\"label\": ", i ? ", " : "");
			json_str(labels[i]);
			printf(", \"stages\": [");
		} else {
			printf("%s\n  %-12s %-12s %-12s %-8s %s\n", labels[i], "STAGE", "DESIRED", "LIVE",
			       "DRIFT", "LAST");
		}
		for (size_t s = 0; s < cfg.nstages; s++) {
			const char *name = cfg.stages[s].name;
			struct dstage_last last;
			char want[65], live[65] = "";
			int changed = 0, known = 1;
			const char *why = NULL;
			if (dstate_current(c.st, labels[i], name, want, &e) < 0 ||
			    dstate_last(c.st, labels[i], name, &last, &e) < 0) {
				fprintf(stderr, "cairn: %s\n", e.msg);
				err_clear(&e);
				code = 2;
				break;
			}
			/* live: asked of the provider, with the desired release's
			 * configuration (the one that put it there) */
			char *cf = NULL, *man = NULL, full[65];
			struct dconfig rc;
			int have = want[0] && dstate_release_get(c.st, labels[i], want, full, &cf, &man, &e) == 0 &&
			           dconfig_parse(cf, labels[i], &rc, &e) == 0;
			err_clear(&e);
			struct provider_op p = {.cfg = &cfg, .stage = &cfg.stages[s], .root = w.root, .rel = want,
			                .manifest = man};
			const struct dstage *rs = have ? dconfig_stage(&rc, name) : NULL;
			if (rs)
				p.cfg = &rc, p.stage = rs;
			if (provider_read(&p, c.env.runner, live, &changed, &why, &e) < 0) {
				known = 0;
				why = NULL;
				err_clear(&e);
			}
			provider_free(&p);
			if (have)
				dconfig_free(&rc);
			free(cf);
			free(man);
			int drift = !known || strcmp(live, want) != 0 || changed;
			char when[32] = "";
			if (last.when_ms) {
				time_t tt = (time_t)(last.when_ms / 1000);
				strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&tt));
			}
			if (o->json) {
				printf("%s{\"name\": ", s ? ", " : "");
				json_str(name);
				printf(", \"desired\": ");
				json_str(want);
				json_provenance(c.st, want);
				printf(", \"live\": ");
				if (known)
					json_str(live);
				else
					printf("null");
				printf(", \"drift\": %s, \"last\": {\"release\": ", drift ? "true" : "false");
				json_str(last.release);
				printf(", \"result\": ");
				json_str(last.result);
				printf(", \"health\": ");
				json_str(last.health);
				printf(", \"user\": ");
				json_str(last.user);
				printf(", \"time_ms\": %lld}}", (long long)last.when_ms);
			} else {
				char lastbuf[160] = "never";
				if (last.when_ms)
					snprintf(lastbuf, sizeof lastbuf, "%s %.12s%s%s at %s by %s", last.result,
					         last.release[0] ? last.release : "(none)",
					         last.health[0] ? ", health " : "", last.health, when, last.user);
				printf("  %-12s %-12.12s %-12.12s %-8s %s%s%s\n", name, want[0] ? want : "-",
				       known ? (live[0] ? live : "-") : "?", drift ? "drift" : "-", lastbuf,
				       why ? "; " : "", why ? why : "");
			}
		}
		if (o->json)
			printf("]}");
		dconfig_free(&cfg);
	}
	if (o->json && code == 0)
		printf("]}\n");
	strv_free(labels);
	strv_free(configs);
	dctx_close(&c);
	ws_close(&w);
	return code;
}

/* label and, transitively, every deployment in the store that lists one
 * of them in its deps: fresh, label first. */
static char **with_dependents(struct dctx *c, const char *label, size_t *n)
{
	char **out = xcalloc(2, sizeof *out), **labels, **configs;
	out[0] = xstrdup(label);
	*n = 1;
	size_t nd;
	struct err e = {0};
	if (dstate_deployments(c->st, &labels, &configs, &nd, &e) < 0) {
		err_clear(&e);
		return out;
	}
	for (int grew = 1; grew;) {
		grew = 0;
		for (size_t i = 0; i < nd; i++) {
			struct dconfig cfg;
			int have = 0;
			for (size_t k = 0; k < *n; k++)
				have |= !strcmp(out[k], labels[i]);
			if (have || dconfig_parse(configs[i], labels[i], &cfg, &e) < 0) {
				err_clear(&e);
				continue;
			}
			for (size_t d = 0; d < cfg.ndeps && !have; d++)
				for (size_t k = 0; k < *n && !have; k++)
					have = !strcmp(cfg.deps[d], out[k]);
			dconfig_free(&cfg);
			if (have) {
				out = xreallocarray(out, *n + 2, sizeof *out);
				out[(*n)++] = xstrdup(labels[i]);
				out[*n] = NULL;
				grew = 1;
			}
		}
	}
	strv_free(labels);
	strv_free(configs);
	return out;
}

int cmd_rollback(const struct opts *o)
{
	if (o->nargs != 1) {
		fprintf(stderr, "cairn: error: rollback takes one deployment: cairn rollback //pkg:name"
		        " [--stage S] [--to RELEASE]\n");
		return 2;
	}
	struct ws w;
	ws_open(&w, o, 0);
	struct label l;
	const char *why;
	if (label_parse(o->args[0], w.rel, &l, &why) < 0) {
		fprintf(stderr, "cairn: error: bad label '%s': %s\n", o->args[0], why);
		ws_close(&w);
		return 2;
	}
	char *label = label_str(&l);
	label_free(&l);
	struct dctx c;
	int code = dctx_open(&c, &w, o, 0);
	c.changed = 1;
	/* a deployment goes back with those that depend on it, dependents
	 * first: what was rolled out after it is taken away before it */
	size_t n = 0;
	char **all = code == 0 ? with_dependents(&c, label, &n) : NULL;
	for (size_t i = n; i-- > 0 && code != 2;) {
		int dependent = i > 0;
		if (dependent)
			printf("cairn: %s depends on %s: rolling it back too\n", all[i], label);
		if (rollout_lock(&c.env, all[i], o->lock_timeout < 0 ? 0 : o->lock_timeout) < 0) {
			code = 1;
			continue;
		}
		int r = rollout_recover(&c.env, all[i], NULL) < 0 ? 1 : 0;
		if (r == 0) {
			/* --stage applies to dependents that have that stage; --to names
			 * a release of label only */
			struct err e = {0};
			char **dl, **dc;
			size_t nd;
			const char *stage = o->stage;
			if (dependent && stage && dstate_deployments(c.st, &dl, &dc, &nd, &e) == 0) {
				for (size_t k = 0; k < nd; k++) {
					struct dconfig cfg;
					if (!strcmp(dl[k], all[i]) && dconfig_parse(dc[k], dl[k], &cfg, &e) == 0) {
						if (!dconfig_stage(&cfg, stage))
							stage = NULL, r = -1;
						dconfig_free(&cfg);
					}
				}
				strv_free(dl);
				strv_free(dc);
			}
			err_clear(&e);
			r = r < 0 ? 0 : rollout_back(&c.env, all[i], stage, dependent ? NULL : o->to);
		}
		rollout_unlock(&c.env, all[i]);
		if (r > code)
			code = r;
	}
	strv_free(all);
	dctx_close(&c);
	free(label);
	ws_close(&w);
	return code;
}

/* One pass over the deployments: 0, or 1 when a stage could not be
 * repaired. */
static int reconcile_pass(struct dctx *c, const struct ws *w, const struct opts *o)
{
	char **labels, **configs;
	size_t n;
	if (select_deployments(c, w, o, &labels, &configs, &n) < 0)
		return 2;
	int code = 0, fixed = 0;
	for (size_t i = 0; i < n; i++) {
		if (rollout_lock(&c->env, labels[i], o->lock_timeout < 0 ? 0 : o->lock_timeout) < 0) {
			code = 1;
			continue;
		}
		int r = rollout_recover(&c->env, labels[i], NULL);
		if (r == 0)
			r = rollout_reconcile(&c->env, labels[i], configs[i]);
		rollout_unlock(&c->env, labels[i]);
		if (r < 0)
			code = 1;
		else
			fixed += r;
	}
	printf("cairn: reconcile: %zu deployment%s, %d stage%s repaired\n", n, n == 1 ? "" : "s",
	       fixed, fixed == 1 ? "" : "s");
	fflush(stdout);
	strv_free(labels);
	strv_free(configs);
	return code;
}

int cmd_reconcile(const struct opts *o)
{
	struct ws w;
	ws_open(&w, o, 0);
	struct dctx c;
	int code = dctx_open(&c, &w, o, 0);
	c.changed = 1;
	if (code == 0) {
		for (;;) {
			code = reconcile_pass(&c, &w, o);
			if (!o->every || code == 2)
				break;
			/* until Ctrl-C */
			uint64_t end = now_ns() + (uint64_t)o->every * 1000000000ull;
			while (now_ns() < end && !runner_interrupted())
				usleep(50000);
			if (runner_interrupted()) {
				printf("cairn: interrupted\n");
				code = 130;
				break;
			}
		}
		dctx_close(&c);
	}
	ws_close(&w);
	return code;
}
