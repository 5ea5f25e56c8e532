/* build: the workspace, and the build, plan, clean and gc commands. Data
 * flows one way: patterns -> eval (targets, actions) -> graph check ->
 * sched (keys, store, runner) -> state. */
#include "cli/cmds.h"
#include "cli/ui.h"
#include "exec/sched.h"
#include "graph/snapshot.h"
#include "lang/eval.h"
#include "util/str.h"
#include "store/state.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static char *default_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/cairn", x);
	const char *h = getenv("HOME");
	if (!h || !*h)
		fatal("neither XDG_CACHE_HOME nor HOME is set: give --cache-dir");
	return xasprintf("%s/.cache/cairn", h);
}

void ws_open(struct ws *w, const struct opts *o, int lock)
{
	memset(w, 0, sizeof *w);
	w->lock_fd = -1;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		fatal("getcwd:");
	char *cache = o->cache_dir ? (o->cache_dir[0] == '/' ? xstrdup(o->cache_dir)
	                                                     : xasprintf("%s/%s", cwd, o->cache_dir))
	                           : default_cache_dir();
	w->cache_dir = cache;
	char *dir = xstrdup(cwd);
	for (;;) {
		char *f = xasprintf("%s/WORKSPACE.lua", dir);
		struct stat st;
		int found = stat(f, &st) == 0;
		free(f);
		if (found)
			break;
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			free(dir);
			fatal("not in a workspace: no WORKSPACE.lua in %s or above", cwd);
		}
		*slash = 0;
	}
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

/* What a snapshot is for: this cairn and these patterns. */
static char *snapshot_key(const struct pattern *p, size_t n)
{
	struct buf b = {0};
	buf_puts(&b, "cairn " CAIRN_VERSION);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "\n%d %s:%s", (int)p[i].kind, p[i].label.pkg,
		           p[i].label.name ? p[i].label.name : "");
	return buf_take(&b);
}

static char *exec_props(void)
{
	struct utsname u;
	uname(&u);
	return xasprintf("platform=linux-%s;sandbox=none", u.machine);
}

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void user_error(struct err *e)
{
	fflush(stdout);
	fprintf(stderr, "%s\n", e->msg);
	err_clear(e);
}

int cmd_build(const struct opts *o, int plan)
{
	struct ws w;
	ws_open(&w, o, 1);
	size_t npat;
	struct pattern *pats = ws_patterns(&w, o->args, o->nargs, &npat);
	struct ui u = {.t0 = now_ns(), .explain = o->explain, .verbose = o->verbose, .plan = plan};
	u.tty = isatty(1);
	u.color = o->color == COLOR_ALWAYS || (o->color == COLOR_AUTO && u.tty);
	int corrupt;
	struct state *st = state_load(".cairn/state", &corrupt);
	if (corrupt)
		warn(".cairn/state is damaged or from another version; starting afresh");
	struct graph g = {0};
	struct err e = {0};
	int code = 0;
	struct eval *ev = NULL;
	char *key = snapshot_key(pats, npat);
	if (!snapshot_load(".cairn/graph", key, fsys_real(), &g)) {
		ev = eval_new(w.name, &g, &e);
		if (!ev || eval_request(ev, pats, npat, &e) < 0 || graph_check(&g, &e) < 0) {
			free(key);
			user_error(&e);
			code = 2;
			goto out;
		}
		size_t ndeps;
		const struct snap_dep *deps = eval_deps_seen(ev, &ndeps);
		if (snapshot_save(".cairn/graph", key, &g, deps, ndeps) < 0)
			warn("cannot write .cairn/graph:");
		eval_free(ev);
		ev = NULL;
	} else if (graph_check(&g, &e) < 0) {
		free(key);
		user_error(&e);
		code = 2;
		goto out;
	}
	free(key);
	struct store *store = store_local_open(w.cache_dir);
	if (!store) {
		fprintf(stderr, "cairn: error: cannot open the cache at %s: %s\n", w.cache_dir,
		        strerror(errno));
		code = 2;
		goto out;
	}
	if (o->events) {
		u.events = fopen(o->events, "w");
		if (!u.events)
			fatal("cannot write %s:", o->events);
	}
	if (o->profile)
		u.trace = trace_new();
	struct runner *runner = runner_local_new();
	struct sched_observer obs = ui_observer(&u);
	char *props = exec_props();
	struct sched_env env = {
		.g = &g, .st = st, .store = store, .fs = fsys_real(), .runner = runner, .obs = &obs,
		.opts = {.jobs = o->jobs ? o->jobs : ncpus(), .keep_going = o->keep_going,
		         .plan = plan, .props = props, .stat_threads = 4},
	};
	struct sched_result res = {0};
	int rc = sched_run(&env, &res, &e);
	if (state_save(st, ".cairn/state") < 0)
		warn("cannot save .cairn/state:");
	if (rc < 0) {
		user_error(&e);
		code = 2;
	} else if (res.interrupted) {
		ui_clear(&u);
		printf("cairn: interrupted\n");
		code = 130;
	} else if (res.c.failed) {
		code = 1;
	}
	if (plan) {
		size_t would = res.c.total - res.c.cached - res.c.failed;
		printf("cairn: plan: %zu actions: %zu would run, %zu up to date or cached\n",
		       res.c.total, would, res.c.cached);
	} else {
		ui_summary(&u, &res.c);
	}
	if (u.events)
		fclose(u.events);
	if (u.trace && trace_write(u.trace, o->profile) < 0)
		warn("cannot write %s:", o->profile);
	free(props);
	runner->free(runner);
	store->ops->close(store);
out:
	eval_free(ev);
	graph_free(&g);
	state_free(st);
	patterns_free(pats, npat);
	ws_close(&w);
	return code;
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
	if (o->all && fs_rm_rf(".cairn") < 0) {
		warn("cannot remove .cairn:");
		code = 2;
	}
	ws_close(&w);
	return code;
}

int cmd_gc(const struct opts *o)
{
	char *dir = o->cache_dir ? xstrdup(o->cache_dir) : default_cache_dir();
	uint64_t max = o->have_max_size ? o->max_size : 10ull << 30;
	uint64_t removed, kept;
	store_local_gc(dir, max, &removed, &kept);
	printf("cairn: gc: removed %.1f MiB, %.1f MiB kept in %s\n",
	       (double)removed / 1048576.0, (double)kept / 1048576.0, dir);
	free(dir);
	return 0;
}
