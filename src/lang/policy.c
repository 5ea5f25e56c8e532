/* policy: POLICY.lua's hooks asked from C (policy.h). The file is loaded
 * by the prelude (policy_load) into an evaluator of its own, and each
 * question is one call of policy_ask with a table made here. */
#include "lang/policy.h"
#include "lang/eval_int.h"
#include "util/str.h"
#include "util/util.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

struct policy {
	struct eval *ev;
	struct graph none;   /* the evaluator's graph: a policy adds nothing */
	int action, deploy;  /* which hooks it has */
	struct map pkg;      /* directory -> its package (owned strings) */
	char **keys;         /* the map's keys, owned */
	size_t nkeys, capkeys;
};

int policy_open(const char *root_name, struct policy **out, struct err *e)
{
	*out = NULL;
	struct policy *p = xcalloc(1, sizeof *p);
	p->ev = eval_new(root_name, &p->none, NULL, e);
	if (!p->ev) {
		policy_free(p);
		return -1;
	}
	eval_prepare(p->ev, "policy_load");
	lua_State *L = p->ev->L;
	if (eval_call(p->ev, 0, e) < 0) {
		policy_free(p);
		return -1;
	}
	int loaded = lua_toboolean(L, -1);
	lua_settop(L, 0);
	eval_prepare(p->ev, "policy_hooks");
	if (eval_call(p->ev, 0, e) < 0) {
		policy_free(p);
		return -1;
	}
	const char *hooks = lua_tostring(L, -1);
	p->action = hooks && strchr(hooks, 'a');
	p->deploy = hooks && strchr(hooks, 'd');
	lua_settop(L, 0);
	if (!loaded) {
		policy_free(p);
		return 0;
	}
	p->ev->policy_track = 1;
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	eval_free(p->ev);
	graph_free(&p->none);
	for (size_t i = 0; i < p->pkg.cap; i++)
		if (p->pkg.slots[i].key)
			free(p->pkg.slots[i].val);
	map_free(&p->pkg);
	for (size_t i = 0; i < p->nkeys; i++)
		free(p->keys[i]);
	free(p->keys);
	free(p);
}

char **policy_sources(struct policy *p)
{
	size_t n, k = 0;
	const struct snap_dep *d = eval_deps_seen(p->ev, &n);
	char **v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(d[i].path);
		if (d[i].kind == DEP_STAT && len > 4 && !strcmp(d[i].path + len - 4, ".lua") &&
		    strcmp(d[i].path, "POLICY.lua") != 0)
			v[k++] = xstrdup(d[i].path);
	}
	return v;
}

int policy_has_action(const struct policy *p)
{
	return p && p->action;
}

int policy_has_deploy(const struct policy *p)
{
	return p && p->deploy;
}

/* The package of directory dir: the nearest one at or above it with a
 * BUILD.lua ("" for the root). Remembered per directory. */
static const char *package_of(struct policy *p, const char *dir)
{
	const char *known = map_get(&p->pkg, dir);
	if (known)
		return known;
	const char *slash = strrchr(dir, '/');
	char *pkg;
	if (!*dir || is_pkg_dir(dir)) {
		pkg = xstrdup(dir);
	} else {
		char *up = xstrndup(dir, slash ? (size_t)(slash - dir) : 0);
		pkg = xstrdup(package_of(p, up));
		free(up);
	}
	char *key = xstrdup(dir);
	VEC_PUSH(p->keys, p->nkeys, p->capkeys, key);
	map_put(&p->pkg, key, pkg);
	return pkg;
}

/* The label of an input: its producer's, or for a source file
 * //PKG:REST by its package. Fresh. */
static char *input_label(struct policy *p, const struct gfile *f)
{
	if (f->producer)
		return xstrdup(f->producer->label);
	const char *slash = strrchr(f->path, '/');
	char *dir = xstrndup(f->path, slash ? (size_t)(slash - f->path) : 0);
	const char *pkg = package_of(p, dir);
	size_t n = strlen(pkg);
	char *l = xasprintf("//%s:%s", pkg, f->path + (n ? n + 1 : 0));
	free(dir);
	return l;
}

static void push_strs(lua_State *L, const char *const *v, size_t n, const char *field)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, field);
}

static void push_str(lua_State *L, const char *v, const char *field)
{
	lua_pushstring(L, v ? v : "");
	lua_setfield(L, -2, field);
}

/* Begin a question to hook: policy_ask and the hook's name pushed; the
 * caller pushes the table, then calls ask. */
static void begin(struct policy *p, const char *hook)
{
	eval_prepare(p->ev, "policy_ask");
	lua_pushstring(p->ev->L, hook);
}

/* Call policy_ask(hook, the table on top). 0 allowed, 1 denied (*why
 * fresh, *line where), -1 with *e. */
static int ask(struct policy *p, char **why, int *line, struct err *e)
{
	lua_State *L = p->ev->L;
	p->ev->policy_line = 0;
	if (eval_call(p->ev, 2, e) < 0)
		return -1;
	int t = lua_type(L, -1);
	*line = p->ev->policy_line;
	if (t != LUA_TNIL && t != LUA_TSTRING) {
		char where[32];
		snprintf(where, sizeof where, "POLICY.lua:%d", *line > 0 ? *line : 1);
		err_input(e, where, "a policy hook returns nil (allow) or a reason string, not a %s",
		          lua_typename(L, t));
		lua_settop(L, 0);
		return -1;
	}
	if (t == LUA_TSTRING)
		*why = xstrdup(lua_tostring(L, -1));
	lua_settop(L, 0);
	return t == LUA_TSTRING;
}

int policy_check_graph(struct policy *p, const struct graph *g, struct err *e)
{
	if (!policy_has_action(p))
		return 0;
	lua_State *L = p->ev->L;
	for (size_t i = 0; i < g->nactions; i++) {
		const struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		begin(p, "action");
		lua_createtable(L, 0, 8);
		push_str(L, a->label, "label");
		push_str(L, a->mnemonic, "mnemonic");
		push_strs(L, a->argv, a->argc, "argv");
		const char *tags[5];
		size_t nt = 0;
		if (a->flags & ACT_NO_SANDBOX)
			tags[nt++] = "no-sandbox";
		if (a->flags & ACT_NETWORK)
			tags[nt++] = "requires-network";
		if (a->flags & ACT_NO_REMOTE)
			tags[nt++] = "no-remote";
		if (a->flags & ACT_TEST)
			tags[nt++] = "test";
		if (a->flags & ACT_FLAKY)
			tags[nt++] = "flaky";
		push_strs(L, tags, nt, "tags");
		/* inputs: their labels, each once; and their paths */
		char **labels = xcalloc(a->ninputs + 1, sizeof *labels);
		const char **paths = xcalloc(a->ninputs + 1, sizeof *paths);
		size_t nl = 0;
		for (size_t k = 0; k < a->ninputs; k++) {
			char *l = input_label(p, a->inputs[k]);
			size_t j = 0;
			while (j < nl && strcmp(labels[j], l))
				j++;
			if (j < nl)
				free(l);
			else
				labels[nl++] = l;
			paths[k] = a->inputs[k]->path;
		}
		push_strs(L, (const char *const *)labels, nl, "inputs");
		push_strs(L, paths, a->ninputs, "paths");
		for (size_t k = 0; k < nl; k++)
			free(labels[k]);
		free(labels);
		free(paths);
		const char **outs = xcalloc(a->noutputs + 1, sizeof *outs);
		for (size_t k = 0; k < a->noutputs; k++)
			outs[k] = a->outputs[k]->path;
		push_strs(L, outs, a->noutputs, "outputs");
		free(outs);
		char *why = NULL;
		int line = 0;
		int r = ask(p, &why, &line, e);
		if (r < 0)
			return -1;
		if (r == 1) {
			char where[32];
			snprintf(where, sizeof where, "POLICY.lua:%d", line > 0 ? line : 1);
			err_input(e, where, "action %s (%s) denied: %s", a->label, a->mnemonic, why);
			free(why);
			return 1;
		}
	}
	return 0;
}

int policy_check_deploy(struct policy *p, const struct policy_deploy *d, char **why,
                        struct err *e)
{
	*why = NULL;
	if (!policy_has_deploy(p))
		return 0;
	lua_State *L = p->ev->L;
	begin(p, "deploy");
	lua_createtable(L, 0, 9);
	push_str(L, d->what, "what");
	push_str(L, d->label, "label");
	push_str(L, d->stage, "stage");
	push_str(L, d->release, "release");
	push_str(L, d->previous, "previous");
	push_str(L, d->user, "user");
	lua_newtable(L);
	int n = 0;
	for (const char *t = d->tests ? d->tests : ""; *t;) {
		const char *nl = strchr(t, '\n');
		size_t len = nl ? (size_t)(nl - t) : strlen(t);
		if (len) {
			lua_pushlstring(L, t, len);
			lua_rawseti(L, -2, ++n);
		}
		t += len + (nl != NULL);
	}
	lua_setfield(L, -2, "tests");
	lua_pushboolean(L, d->dirty);
	lua_setfield(L, -2, "dirty");
	int line = 0;
	int r = ask(p, why, &line, e);
	if (r == 1) {
		char where[32];
		snprintf(where, sizeof where, "POLICY.lua:%d", line > 0 ? line : 1);
		err_input(e, where, "%s of %s to %s denied: %s",
		          !strcmp(d->what, "deploy") ? "deploy" : d->what, d->label, d->stage, *why);
	}
	return r;
}
