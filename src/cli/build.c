/* build: the workspace, and the build, plan, clean and gc commands. Data
 * flows one way: patterns -> eval (targets, actions) -> graph check ->
 * sched (keys, store, runner) -> state. */
#include "cli/cmds.h"
#include "exec/noop.h"
#include "cli/ui.h"
#include "exec/sandbox.h"
#include "exec/sched.h"
#include "exec/watch.h"
#include "graph/snapshot.h"
#include "lang/eval.h"
#include "cli/gate.h"
#include "util/json.h"
#include "util/str.h"
#include "store/state.h"
#include "store/store.h"
#include "remote/remote.h"
#include "util/fs.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

char *ws_default_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/cairn", x);
	const char *h = getenv("HOME");
	if (!h || !*h)
		fatal("neither XDG_CACHE_HOME nor HOME is set: give --cache-dir");
	return xasprintf("%s/.cache/cairn", h);
}

char *ws_find_root(const char *cwd)
{
	char *dir = xstrdup(cwd);
	for (;;) {
		char *f = xasprintf("%s/WORKSPACE.lua", dir);
		struct stat st;
		int found = stat(f, &st) == 0;
		free(f);
		if (found)
			return dir;
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			free(dir);
			return NULL;
		}
		*slash = 0;
	}
}

void ws_open(struct ws *w, const struct opts *o, int lock)
{
	memset(w, 0, sizeof *w);
	w->lock_fd = -1;
	/* main found both before it read the .cairnrc files */
	char buf[PATH_MAX];
	const char *cwd = o->cwd;
	if (!cwd && !(cwd = getcwd(buf, sizeof buf)))
		fatal("getcwd:");
	char *cache = o->cache_dir ? (o->cache_dir[0] == '/' ? xstrdup(o->cache_dir)
	                                                     : xasprintf("%s/%s", cwd, o->cache_dir))
	                           : ws_default_cache_dir();
	w->cache_dir = cache;
	char *dir = o->cwd ? (o->root ? xstrdup(o->root) : NULL) : ws_find_root(cwd);
	if (!dir)
		fatal("not in a workspace: no WORKSPACE.lua in %s or above", cwd);
	w->root = dir;
	size_t n = strlen(dir);
	w->rel = xstrdup(cwd[n] == '/' ? cwd + n + 1 : "");
	const char *base = strrchr(dir, '/');
	w->name = xstrdup(base && base[1] ? base + 1 : dir);
	if (chdir(dir) < 0)
		fatal("cannot enter %s:", dir);
	if (!lock)
		return;
	if (fs_mkdir_p(".cairn") < 0)
		fatal("cannot create .cairn:");
	w->lock_fd = open(".cairn/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lock_fd < 0)
		fatal("cannot open .cairn/lock:");
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "cairn: waiting for another cairn process in this workspace\n");
		if (flock(w->lock_fd, LOCK_EX) < 0)
			fatal("cannot lock .cairn/lock:");
	}
}

void ws_close(struct ws *w)
{
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w->root);
	free(w->rel);
	free(w->name);
	free(w->cache_dir);
}

struct pattern *ws_patterns(const struct ws *w, const char **args, size_t nargs, size_t *n)
{
	static const char *def[] = {"//..."};
	if (nargs == 0) {
		args = def;
		nargs = 1;
	}
	struct pattern *p = xcalloc(nargs, sizeof *p);
	for (size_t i = 0; i < nargs; i++) {
		const char *a = args[i];
		char *abs;
		if (!strncmp(a, "//", 2))
			abs = xstrdup(a);
		else if (a[0] == ':')
			abs = xasprintf("//%s%s", w->rel, a);
		else if (!*w->rel)
			abs = xasprintf("//%s", a);
		else
			abs = xasprintf("//%s/%s", w->rel, a);
		const char *why;
		if (pattern_parse(abs, &p[i], &why) < 0) {
			fprintf(stderr, "cairn: error: bad pattern '%s': %s\n", a, why);
			exit(2);
		}
		free(abs);
	}
	*n = nargs;
	return p;
}

void patterns_free(struct pattern *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pattern_free(&p[i]);
	free(p);
}

/* What a snapshot is for: this cairn, this workspace name (build files
 * can read it), these patterns, with tests or not, this compiler. */
static char *snapshot_key(const struct ws *w, const struct pattern *p, size_t n, int tests,
                          const struct cc_config *cc)
{
	struct buf b = {0};
	buf_printf(&b, "cairn " CAIRN_VERSION "\nroot %s\ntests %d\ncc %s %s", w->name, tests,
	           cc->path ? cc->path : "-", cc->id ? cc->id : "-");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "\n%d %s:%s", (int)p[i].kind, p[i].label.pkg,
		           p[i].label.name ? p[i].label.name : "");
	return buf_take(&b);
}

static char *exec_props(int sandbox)
{
	struct utsname u;
	uname(&u);
	return xasprintf("platform=linux-%s;sandbox=%s", u.machine, sandbox ? "linux-ns" : "none");
}

/* Whether actions run sandboxed. strict (the default) sandboxes, and an
 * action fails if the sandbox cannot be made (found out when the first one
 * runs: a no-op build never pays for setting it up); auto checks first and
 * falls back with one warning; none never sandboxes. */
int sandbox_wanted(const struct opts *o)
{
	static int decided = -2;
	if (decided != -2)
		return decided;
	if (o->sandbox == SANDBOX_NONE)
		return decided = 0;
	const char *why;
	if (o->sandbox == SANDBOX_AUTO && sandbox_probe(&why) < 0) {
		warn("no sandbox: %s; actions run unsandboxed (--sandbox=auto)", why);
		return decided = 0;
	}
	return decided = 1;
}

/* A path the user gave, relative to where they stood (the cwd is now the
 * workspace root). Fresh string. */
static char *user_path(const struct ws *w, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return *w->rel ? xasprintf("%s/%s/%s", w->root, w->rel, p) : xasprintf("%s/%s", w->root, p);
}

static void user_error(struct err *e)
{
	fflush(stdout);
	fprintf(stderr, "%s\n", e->msg);
	err_clear(e);
}

/* The action graph for the patterns: from the snapshot when it is still
 * valid, else by evaluating the build files (and saving a new snapshot).
 * deps gets the snapshot's dependency section (left empty when no snapshot
 * is kept). deps_checked: the no-op check has just found the dependencies
 * of this very snapshot unchanged. 0, or -1 with *e set (a user error). */
static int load_graph(struct ws *w, const struct pattern *pats, size_t npat, unsigned what,
                      const struct cc_config *cc, const char *key, int deps_checked,
                      struct graph *g, struct buf *deps, struct err *e)
{
	int rc = 0;
	/* a deploy's graph holds its deployments, which no snapshot keeps */
	if (!(what & EVAL_DEPLOY) &&
	    snapshot_load(".cairn/graph", key, deps_checked ? NULL : fsys_real(), g, deps)) {
		rc = graph_check(g, e);
	} else {
		struct eval *ev = eval_new(w->name, g, cc, e);
		if (!ev || eval_request(ev, pats, npat, what, e) < 0 || graph_check(g, e) < 0) {
			rc = -1;
		} else if (!(what & EVAL_DEPLOY)) {
			size_t nseen;
			const struct snap_dep *seen = eval_deps_seen(ev, &nseen);
			eval_close_lua(ev); /* not held while the snapshot is written */
			if (snapshot_save(".cairn/graph", key, g, seen, nseen, deps, fsys_real()) < 0)
				warn("cannot write .cairn/graph:");
		}
		eval_free(ev);
	}
	return rc;
}

/* cairn run: the one executable the pattern built, run in the foreground
 * from where the user stood. Returns only on failure. */
static int run_binary(struct ws *w, struct graph *g, const struct opts *o)
{
	const char *exe = NULL;
	for (size_t i = 0; i < g->nrequested; i++) {
		struct stat st;
		if (stat(g->requested[i]->path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			if (exe) {
				fprintf(stderr, "cairn: error: %s builds more than one executable\n", o->args[0]);
				return 2;
			}
			exe = g->requested[i]->path;
		}
	}
	if (!exe) {
		fprintf(stderr, "cairn: error: %s is not an executable target\n", o->args[0]);
		return 2;
	}
	char *abs = xasprintf("%s/%s", w->root, exe);
	char *cwd = *w->rel ? xasprintf("%s/%s", w->root, w->rel) : xstrdup(w->root);
	const char **argv = xcalloc(o->nrun_args + 2, sizeof *argv);
	argv[0] = abs;
	for (size_t i = 0; i < o->nrun_args; i++)
		argv[i + 1] = o->run_args[i];
	fflush(stdout);
	if (chdir(cwd) == 0)
		execv(abs, (char *const *)argv);
	fprintf(stderr, "cairn: error: cannot run %s: %s\n", abs, strerror(errno));
	free(argv);
	free(cwd);
	free(abs);
	return 2;
}

/* cairn compdb: compile_commands.json for every compile of the patterns. */
static int write_compdb(struct ws *w, struct graph *g)
{
	struct buf b = {0};
	size_t n = 0;
	buf_puts(&b, "[");
	for (size_t i = 0; i < g->nactions; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted || !a->depfile)
			continue;
		const char *file = NULL;
		for (size_t k = 0; k < a->ninputs && !file; k++)
			if (!a->prunable[k])
				file = a->inputs[k]->path;
		if (!file)
			continue;
		buf_puts(&b, n++ ? ",\n  {" : "\n  {");
		buf_puts(&b, "\"directory\": ");
		json_str(&b, w->root);
		buf_puts(&b, ", \"file\": ");
		json_str(&b, file);
		buf_puts(&b, ", \"arguments\": [");
		for (size_t k = 0; k < a->argc; k++) {
			if (k)
				buf_puts(&b, ", ");
			json_str(&b, a->argv[k]);
		}
		buf_puts(&b, "]}");
	}
	buf_puts(&b, "\n]\n");
	int rc = fs_write_atomic("compile_commands.json", b.s, b.len, 0644);
	buf_free(&b);
	if (rc < 0) {
		warn("cannot write compile_commands.json:");
		return 2;
	}
	printf("cairn: wrote compile_commands.json with %zu entries\n", n);
	return 0;
}

/* Is //... among the patterns (the graph then has every action)? */
static int whole_workspace(const struct pattern *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].kind == PAT_RECURSIVE && !*p[i].label.pkg)
			return 1;
	return 0;
}

struct prune {
	struct graph *g;
	char **dead; /* outputs of actions that no longer exist */
	size_t n, cap;
};

static void prune_check(void *ctx, const char *path)
{
	struct prune *p = ctx;
	struct gfile *f = graph_find(p->g, path);
	if (!f || !f->producer) {
		char *c = xstrdup(path);
		VEC_PUSH(p->dead, p->n, p->cap, c);
	}
}

/* After a whole-workspace build, delete the outputs of targets and
 * packages that are gone, so that cairn-out is what a clean build would
 * give (like ninja's cleandead). Only files cairn itself wrote are touched
 * (a build leaves the logs of tests alone: its graph has no test actions);
 * empty directories left behind go too. */
static void prune_outputs(struct state *st, struct graph *g, int kinds)
{
	struct prune p = {.g = g};
	state_outputs(st, kinds, prune_check, &p);
	for (size_t i = 0; i < p.n; i++) {
		if (!strncmp(p.dead[i], "cairn-out/", 10) && unlink(p.dead[i]) == 0) {
			char *dir = xstrdup(p.dead[i]);
			for (char *sl; (sl = strrchr(dir, '/')) && strcmp(dir, "cairn-out") != 0;) {
				*sl = 0;
				if (!strcmp(dir, "cairn-out") || rmdir(dir) < 0)
					break;
			}
			free(dir);
		}
		state_forget(st, p.dead[i]);
		free(p.dead[i]);
	}
	free(p.dead);
}

struct state_job {
	pthread_t th;
	int started;       /* the thread runs (else: load on this one) */
	struct state *st;  /* the result */
	int corrupt;       /* as state_load's */
};

static void *load_state(void *arg)
{
	struct state_job *j = arg;
	j->st = state_load(".cairn/state", fsys_real(), &j->corrupt);
	return NULL;
}

/* What the phases of one round share. round_begin fills the first part;
 * the phases fill the rest; round_free frees it all, whichever phase
 * ended the round. */
struct round {
	/* the request: not owned */
	const struct opts *o;
	enum build_mode mode;
	struct ws *w;
	const struct pattern *pats;
	size_t npat;
	/* owned by the round */
	struct ui u;            /* the terminal; --events and --profile while executing */
	struct cc_state cc;     /* the workspace's C compiler */
	int sandbox;            /* actions run sandboxed */
	char *props;            /* execution properties, part of every action key */
	char *skey;             /* what the snapshot is for */
	char *nkey;             /* what the no-op record is for; NULL but for a plain build */
	int64_t start_ns;       /* wall clock at the start, for the no-op record */
	struct noop_seen seen;  /* what the no-op check saw, when it said "look closer" */
	struct graph g;         /* the action graph, once loaded */
	struct buf deps;        /* the snapshot's dependency section */
	struct state *st;       /* NULL for compdb */
	int corrupt;            /* the state file was damaged: st starts afresh */
	char *events, *profile; /* --events and --profile as paths, or NULL */
	int rc;                 /* what sched_run returned */
	struct sched_result res; /* what sched_run found */
	struct err e;           /* a user error, until it is said */
};

/* The UI, the compiler, the sandbox choice and the keys: what the no-op
 * check needs, and nothing more. */
static void round_begin(struct round *r)
{
	const struct opts *o = r->o;
	r->u = (struct ui){.t0 = now_ns(), .explain = o->explain, .verbose = o->verbose,
	                   .plan = r->mode == MODE_PLAN, .test_output = o->test_output};
	r->u.tty = isatty(1);
	r->u.color = o->color == COLOR_ALWAYS || (o->color == COLOR_AUTO && r->u.tty);
	r->start_ns = fsys_real()->now(fsys_real());
	cc_configure(&r->cc);
	r->sandbox = sandbox_wanted(o);
	r->props = exec_props(r->sandbox);
	r->skey = snapshot_key(r->w, r->pats, r->npat, r->mode == MODE_TEST, &r->cc.cfg);
	if (r->mode == MODE_BUILD) {
		/* a changed POLICY.lua checks the graph again (and, being no
		 * input, rebuilds nothing) */
		char hex[65];
		gate_digest(hex);
		r->nkey = xasprintf("%s\nprops %s\npolicy %s", r->skey, r->props, hex);
	}
}

/* POLICY.lua's action() over the wanted actions, before any runs or is
 * taken from the cache: 0, or -1 when it denies or fails (said). */
static int check_policy(struct round *r)
{
	if (access("POLICY.lua", F_OK) < 0)
		return 0;
	if (gate_graph(r->w->name, &r->g, &r->e) < 0) {
		user_error(&r->e);
		return -1;
	}
	return 0;
}

/* A plain build may be a no-op that needs neither graph nor state: 1 when
 * the no-op record answered (the summary printed), else 0 and r->seen
 * filled as noop_check fills it. */
static int noop_fast_path(struct round *r)
{
	size_t n;
	if (!r->nkey || r->o->events || r->o->profile ||
	    !noop_check(".cairn/noop", r->nkey, cpu_count(), &n, &r->seen, fsys_real()))
		return 0;
	struct sched_counts c = {.total = n, .done = n, .cached = n};
	ui_summary(&r->u, &c);
	return 1;
}

/* The graph, and the state (not for compdb) loaded on a second thread
 * meanwhile. 0, or -1 when the build files are wrong (said). */
static int load(struct round *r)
{
	int want_state = r->mode != MODE_COMPDB;
	struct state_job sj = {0};
	if (want_state)
		sj.started = pthread_create(&sj.th, NULL, load_state, &sj) == 0;
	unsigned what = r->mode == MODE_TEST ? EVAL_TESTS : r->mode == MODE_DEPLOY ? EVAL_DEPLOY : 0;
	int loaded = load_graph(r->w, r->pats, r->npat, what, &r->cc.cfg, r->skey,
	                        r->seen.st != NULL, &r->g, &r->deps, &r->e);
	if (sj.started)
		pthread_join(sj.th, NULL);
	else if (want_state)
		load_state(&sj);
	r->st = sj.st;
	r->corrupt = sj.corrupt;
	if (loaded < 0) {
		user_error(&r->e);
		return -1;
	}
	return 0;
}

/* The remote the flags name (cache, executor), or NULL when none (or
 * when there is nothing to build: a build of nothing never contacts it).
 * On a failure to set it up, said, *code = 2. */
static struct remote *open_remote(struct round *r, int *code)
{
	const struct opts *o = r->o;
	*code = 0;
	if ((!o->remote_cache.host && !o->remote_executor.host) || r->g.nactions == 0)
		return NULL;
	char **hv = xcalloc(o->nremote_headers + 1, sizeof *hv);
	for (size_t i = 0; i < o->nremote_headers; i++)
		hv[i] = xasprintf("%s: %s", o->remote_headers[i].name, o->remote_headers[i].value);
	struct remote_cfg cfg = {
		.cache = &o->remote_cache, .executor = &o->remote_executor,
		.instance = o->remote_instance_name, .headers = (const char *const *)hv,
		.nheaders = o->nremote_headers,
		.timeout_ms = o->remote_timeout > 0 ? o->remote_timeout * 1000 : 60000,
		.upload = o->remote_upload_local_results, .tool_version = CAIRN_VERSION,
		.download_toplevel = o->remote_download == DOWNLOAD_TOPLEVEL,
	};
	char *why = NULL;
	struct remote *rm = remote_open(&cfg, &why);
	strv_free(hv);
	if (!rm) {
		fprintf(stderr, "cairn: error: %s\n", why);
		free(why);
		*code = 2;
	}
	return rm;
}

/* -j unset: the processors here, or with a remote executor, which has
 * the workers, many more (as Bazel's users set --jobs for one). */
static int default_jobs(const struct round *r)
{
	int n = cpu_count();
	return r->u.remote_exec ? (n * 16 > 64 ? n * 16 : 64) : n;
}

/* Run the wanted actions, then prune, save the state and record the
 * no-op: r->rc and r->res filled. 0, or 2 when the cache or the runner
 * cannot be had (said). */
static int execute(struct round *r)
{
	const struct opts *o = r->o;
	struct ws *w = r->w;
	int plan = r->mode == MODE_PLAN;
	if (r->corrupt)
		warn(".cairn/state is damaged or from another version; starting afresh");
	int code;
	struct remote *rm = open_remote(r, &code);
	if (code)
		return code;
	struct store *store = store_local_open(w->cache_dir);
	if (!store) {
		fprintf(stderr, "cairn: error: cannot open the cache at %s: %s\n", w->cache_dir,
		        strerror(errno));
		remote_close(rm);
		return 2;
	}
	struct runner *runner = runner_local_new();
	if (!runner) {
		fprintf(stderr, "cairn: error: cannot start the local runner: %s\n", strerror(errno));
		store->ops->close(store);
		remote_close(rm);
		return 2;
	}
	if (rm) {
		store = remote_store(rm, store);
		runner = remote_runner(rm, runner);
	}
	r->u.remote = rm != NULL;
	r->u.remote_exec = rm && remote_executes(rm);
	if (o->events && !strcmp(o->events, "-")) {
		/* --events -: the events on stdout, line by line, for a job that
		 * follows them; what cairn says to people goes to stderr */
		int fd = dup(1);
		r->u.events = fd < 0 ? NULL : fdopen(fd, "w");
		if (!r->u.events || dup2(2, 1) < 0)
			fatal("--events -: cannot use stdout:");
		setvbuf(r->u.events, NULL, _IOLBF, 0);
	} else if (o->events) {
		r->events = user_path(w, o->events);
		r->u.events = fopen(r->events, "w");
		if (!r->u.events)
			fatal("cannot write %s:", r->events);
	}
	if (o->profile) {
		r->profile = user_path(w, o->profile);
		r->u.trace = trace_new();
	}
	struct sched_observer obs = ui_observer(&r->u);
	struct sched_env env = {
		.g = &r->g, .st = r->st, .store = store, .fs = fsys_real(), .runner = runner,
		.obs = &obs,
		.opts = {.jobs = o->jobs ? o->jobs : default_jobs(r), .keep_going = o->keep_going,
		         .plan = plan, .props = r->props, .stat_threads = 4, .sandbox = r->sandbox,
		         .remote = r->u.remote_exec,
		         .download_toplevel = r->u.remote && o->remote_download == DOWNLOAD_TOPLEVEL},
	};
	struct sched_known known = {r->seen.st, r->seen.what};
	if (noop_seen_fits(&r->seen, &r->g))
		env.known = &known;
	r->rc = sched_run(&env, &r->res, &r->e);
	if (store->put_errno)
		warn("cannot store results in the cache at %s: %s (they are not cached)",
		     w->cache_dir, strerror(store->put_errno));
	if (rm) {
		struct remote_stats rs;
		remote_stats(rm, &rs);
		r->u.remote_hits = rs.cache_hits;
		r->u.rpcs = rs.rpcs;
		r->u.bytes_in = rs.bytes_in;
		if (rs.why)
			warn("remote %s %s; building locally", remote_executes(rm) ? "executor" : "cache", rs.why);
		free(rs.why);
	}
	int ok = r->rc == 0 && !r->res.interrupted && !r->res.c.failed;
	/* with the graph of the last successful build of this request (known),
	 * that build pruned already */
	if (ok && !plan && !env.known && whole_workspace(r->pats, r->npat))
		prune_outputs(r->st, &r->g, r->mode == MODE_TEST ? OUT_ACTION | OUT_TEST : OUT_ACTION);
	int saved = state_save(r->st, ".cairn/state", fsys_real()) == 0;
	if (!saved)
		warn("cannot save .cairn/state:");
	if (r->nkey && saved && ok)
		noop_record(".cairn/noop", r->nkey, &r->g, r->st, &r->deps, r->start_ns, &r->seen,
		            fsys_real());
	runner->free(runner);
	store->ops->close(store);
	remote_close(rm);
	return 0;
}

/* What happened: errors, the tests' table, the summary line; then the
 * --events file closed and the --profile written. The exit code. */
static int report(struct round *r)
{
	int code = 0;
	if (r->rc < 0) {
		user_error(&r->e);
		code = 2;
	} else if (r->res.interrupted) {
		ui_clear(&r->u);
		printf("cairn: interrupted\n");
		code = 130;
	} else if (r->res.c.failed) {
		code = 1;
	}
	if ((r->mode == MODE_TEST || (r->mode == MODE_DEPLOY && r->g.ntests)) && !r->res.interrupted) {
		tests_merge_xml(&r->g);
		ui_test_summary(&r->u, &r->g);
	}
	if (r->mode == MODE_PLAN) {
		const struct sched_counts *c = &r->res.c;
		printf("cairn: plan: %zu actions: %zu would run, %zu up to date or cached\n", c->total,
		       c->total - c->cached - c->failed, c->cached);
	} else {
		ui_summary(&r->u, &r->res.c);
	}
	if (r->mode != MODE_DEPLOY)
		ui_finish(&r->u, r->profile);
	return code;
}

void ui_finish(struct ui *u, const char *profile)
{
	if (u->events) {
		fclose(u->events);
		u->events = NULL;
	}
	if (u->trace && trace_write(u->trace, profile) < 0)
		warn("cannot write %s:", profile);
	u->trace = NULL; /* trace_write freed it */
}

static void round_free(struct round *r)
{
	ui_free(&r->u);
	cc_state_free(&r->cc);
	graph_free(&r->g);
	state_free(r->st);
	buf_free(&r->deps);
	noop_seen_free(&r->seen);
	err_clear(&r->e);
	free(r->props);
	free(r->skey);
	free(r->nkey);
	free(r->events);
	free(r->profile);
}

/* One round: configure, load the graph, run it, report. The exit code. */
static int build_once(const struct opts *o, enum build_mode mode, struct ws *w,
                      const struct pattern *pats, size_t npat)
{
	struct round r = {.o = o, .mode = mode, .w = w, .pats = pats, .npat = npat};
	int code = 0;
	round_begin(&r);
	if (noop_fast_path(&r))
		goto out;
	if (load(&r) < 0 || (mode != MODE_COMPDB && check_policy(&r) < 0)) {
		code = 2;
		goto out;
	}
	if (mode == MODE_COMPDB) {
		code = write_compdb(w, &r.g);
		goto out;
	}
	code = execute(&r);
	if (code != 0)
		goto out;
	code = report(&r);
	if (mode == MODE_RUN && code == 0)
		code = run_binary(w, &r.g, o);
	if (mode == MODE_DEPLOY && code != 2 && code != 130)
		code = deploy_after_build(o, w, &(struct build_report){&r.g, r.st, code == 0, &r.u});
	if (mode == MODE_DEPLOY)
		ui_finish(&r.u, r.profile); /* the deploy's events and spans are in */
out:
	round_free(&r);
	return code;
}

int cmd_build(const struct opts *o, enum build_mode mode)
{
	if (mode == MODE_RUN && o->nargs != 1) {
		fprintf(stderr, "cairn: error: run takes one label: cairn run //pkg:bin -- ARGS\n");
		return 2;
	}
	if (o->watch && mode != MODE_BUILD && mode != MODE_TEST) {
		fprintf(stderr, "cairn: error: --watch goes with build and test\n");
		return 2;
	}
	struct ws w;
	ws_open(&w, o, 1);
	size_t npat;
	struct pattern *pats = ws_patterns(&w, o->args, o->nargs, &npat);
	int code;
	if (!o->watch) {
		code = build_once(o, mode, &w, pats, npat);
	} else {
		/* a runner up front installs the signal handlers Ctrl-C needs */
		struct runner *r = runner_local_new();
		if (!r)
			fatal("cannot start the local runner:");
		r->free(r);
		struct watcher *wt = watch_new();
		if (!wt)
			fatal("--watch: inotify:");
		for (;;) {
			code = build_once(o, mode, &w, pats, npat);
			if (code == 130 || runner_interrupted())
				break;
			printf("cairn: watching for changes (Ctrl-C to stop)\n");
			fflush(stdout);
			int r2 = watch_wait(wt, 150);
			if (r2 <= 0)
				break;
		}
		watch_free(wt);
		code = 130;
	}
	patterns_free(pats, npat);
	ws_close(&w);
	return code;
}

/* Everything in .cairn but the lock we hold (removing it would let the
 * next cairn lock a new file while a waiting one holds the old) and the
 * deployments' state and releases. */
static int clean_state(void)
{
	DIR *d = opendir(".cairn");
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "lock"))
			continue;
		/* the deployments' state is what is live out there, not a cache
		 * of the build, and the audit log is their history (anchored in
		 * state.db): clean never forgets them */
		if (!strncmp(e->d_name, "state.db", 8) || !strcmp(e->d_name, "releases") ||
		    !strcmp(e->d_name, "audit.log"))
			continue;
		char *p = xasprintf(".cairn/%s", e->d_name);
		if (fs_rm_rf(p) < 0)
			r = -1;
		free(p);
	}
	closedir(d);
	return r;
}

int cmd_clean(const struct opts *o)
{
	struct ws w;
	ws_open(&w, o, 1);
	int code = 0;
	if (fs_rm_rf("cairn-out") < 0) {
		warn("cannot remove cairn-out:");
		code = 2;
	}
	if (o->all && clean_state() < 0) {
		warn("cannot remove .cairn:");
		code = 2;
	}
	ws_close(&w);
	return code;
}

int cmd_gc(const struct opts *o)
{
	char *dir = o->cache_dir ? xstrdup(o->cache_dir) : ws_default_cache_dir();
	uint64_t max = o->have_max_size ? o->max_size : 10ull << 30;
	uint64_t removed, kept;
	store_local_gc(dir, max, &removed, &kept);
	printf("cairn: gc: removed %.1f MiB, %.1f MiB kept in %s\n",
	       (double)removed / 1048576.0, (double)kept / 1048576.0, dir);
	free(dir);
	return 0;
}
