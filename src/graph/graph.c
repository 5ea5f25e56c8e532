/* graph: building the action graph. Strings are interned into the arena;
 * inputs and outputs are sorted so the action key never depends on the
 * order a rule listed them in. */
#include "graph/graph.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

struct gfile *graph_find(struct graph *g, const char *path)
{
	if (g->indexed < g->nfiles) {
		map_reserve(&g->by_path, g->nfiles);
		for (; g->indexed < g->nfiles; g->indexed++)
			map_put(&g->by_path, g->files[g->indexed]->path, g->files[g->indexed]);
	}
	return map_get(&g->by_path, path);
}

struct gfile *graph_add_file(struct graph *g, const char *path, size_t n)
{
	struct gfile *f = arena_alloc(&g->arena, sizeof *f);
	f->path = arena_strndup(&g->arena, path, n);
	f->id = (uint32_t)g->nfiles;
	VEC_PUSH(g->files, g->nfiles, g->capfiles, f);
	return f;
}

struct gfile *graph_file(struct graph *g, const char *path)
{
	struct gfile *f = graph_find(g, path);
	if (f)
		return f;
	f = graph_add_file(g, path, strlen(path));
	map_put(&g->by_path, f->path, f);
	g->indexed++;
	return f;
}

static int cmp_file(const void *a, const void *b)
{
	const struct gfile *x = *(struct gfile *const *)a, *y = *(struct gfile *const *)b;
	return strcmp(x->path, y->path);
}

static int cmp_env(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = strncmp(x, y, nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

/* Interned, sorted, de-duplicated file list. */
static struct gfile **file_list(struct graph *g, const char **paths, size_t n, size_t *out_n)
{
	struct gfile **v = arena_alloc(&g->arena, (n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = graph_file(g, paths[i]);
	xqsort(v, n, sizeof *v, cmp_file);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	*out_n = k;
	return v;
}

/* s in g's arena; a short one (a mnemonic, "/bin/sh", "-c", a compiler
 * flag: the same few in every action) is kept once for all. */
static const char *word(struct graph *g, const char *s)
{
	size_t n = strlen(s);
	if (n > 16)
		return arena_strndup(&g->arena, s, n);
	const char *k = map_key(&g->words, s);
	if (!k) {
		k = arena_strndup(&g->arena, s, n);
		map_put(&g->words, k, (void *)k);
	}
	return k;
}

/* s, or prev when it is the same string (the actions of one target). */
static const char *same_or_copy(struct graph *g, const char *prev, const char *s)
{
	return prev && strcmp(prev, s) == 0 ? prev : arena_strdup(&g->arena, s);
}

static const char **str_list(struct graph *g, const char **s, size_t n)
{
	const char **v = arena_alloc(&g->arena, (n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = word(g, s[i]);
	return v;
}

struct action *graph_add_action(struct graph *g, const struct action_spec *s, struct err *e)
{
	struct action *a = arena_alloc(&g->arena, sizeof *a);
	const struct action *prev = g->nactions ? g->actions[g->nactions - 1] : NULL;
	a->label = same_or_copy(g, prev ? prev->label : NULL, s->label);
	a->mnemonic = word(g, s->mnemonic ? s->mnemonic : "Action");
	a->progress = s->progress ? arena_strdup(&g->arena, s->progress) : NULL;
	a->where = same_or_copy(g, prev ? prev->where : NULL, s->where ? s->where : "");
	a->argv = str_list(g, s->argv, s->argc);
	a->argc = s->argc;
	a->env = str_list(g, s->env, s->nenv);
	a->nenv = s->nenv;
	xqsort(a->env, a->nenv, sizeof *a->env, cmp_env);
	/* all inputs, sorted; an input listed only as prunable is marked */
	const char **all = xcalloc(s->ninputs + s->npinputs + 1, sizeof *all);
	if (s->ninputs)
		memcpy(all, s->inputs, s->ninputs * sizeof *all);
	if (s->npinputs)
		memcpy(all + s->ninputs, s->pinputs, s->npinputs * sizeof *all);
	a->inputs = file_list(g, all, s->ninputs + s->npinputs, &a->ninputs);
	free(all);
	a->prunable = arena_alloc(&g->arena, a->ninputs ? a->ninputs : 1);
	if (s->npinputs) {
		for (size_t i = 0; i < a->ninputs; i++) {
			int fixed = 0;
			for (size_t j = 0; j < s->ninputs && !fixed; j++)
				fixed = strcmp(s->inputs[j], a->inputs[i]->path) == 0;
			a->prunable[i] = !fixed;
		}
	}
	a->depfile = s->depfile ? arena_strdup(&g->arena, s->depfile) : NULL;
	a->outputs = file_list(g, s->outputs, s->noutputs, &a->noutputs);
	a->flags = s->flags;
	for (size_t i = 0; i < a->noutputs; i++) {
		struct gfile *f = a->outputs[i];
		if (f->producer) {
			err_input(e, a->where, "output '%s' of %s is also an output of %s (%s)",
			          f->path, a->label, f->producer->label, f->producer->where);
			return NULL;
		}
	}
	for (size_t i = 0; i < a->noutputs; i++)
		a->outputs[i]->producer = a;
	a->id = (uint32_t)g->nactions;
	VEC_PUSH(g->actions, g->nactions, g->capactions, a);
	return a;
}

void graph_add_test(struct graph *g, const char *label, const char *base, int shards)
{
	struct test_target t = {arena_strdup(&g->arena, label), arena_strdup(&g->arena, base), shards};
	VEC_PUSH(g->tests, g->ntests, g->captests, t);
}

void graph_add_deploy(struct graph *g, const char *label, const char *config, const char *build)
{
	struct deploy_def d = {arena_strdup(&g->arena, label), arena_strdup(&g->arena, config),
	                       arena_strdup(&g->arena, build)};
	VEC_PUSH(g->deploys, g->ndeploys, g->capdeploys, d);
}

void graph_request(struct graph *g, struct gfile *f)
{
	VEC_PUSH(g->requested, g->nrequested, g->caprequested, f);
}

void graph_free(struct graph *g)
{
	free(g->actions);
	free(g->files);
	free(g->requested);
	free(g->tests);
	free(g->deploys);
	map_free(&g->by_path);
	map_free(&g->words);
	arena_free(&g->arena);
	memset(g, 0, sizeof *g);
}

long action_input_index(const struct action *a, const char *path)
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

int action_fixed_input(const struct action *a, const char *path)
{
	long i = action_input_index(a, path);
	return i >= 0 && !a->prunable[i];
}
