/* deploy/config: the texts of a deployment read back (config.h). A line
 * is "KEY VALUE"; the value has "\\" and "\n" escaped. */
#include "deploy/config.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* Walk text line by line: key and (unescaped, fresh) value of each. */
struct lines {
	const char *p;
	int line;
	char key[32];
	char *val;
};

/* The next line: 1, 0 at the end, -1 for a line without a key. */
static int next_line(struct lines *l)
{
	free(l->val);
	l->val = NULL;
	if (!*l->p)
		return 0;
	l->line++;
	const char *end = strchr(l->p, '\n');
	if (!end)
		end = l->p + strlen(l->p);
	const char *sp = memchr(l->p, ' ', (size_t)(end - l->p));
	if (!sp || (size_t)(sp - l->p) >= sizeof l->key || sp == l->p)
		return -1;
	memcpy(l->key, l->p, (size_t)(sp - l->p));
	l->key[sp - l->p] = 0;
	char *v = xmalloc((size_t)(end - sp));
	size_t n = 0;
	for (const char *q = sp + 1; q < end; q++) {
		if (*q == '\\' && q + 1 < end) {
			q++;
			v[n++] = *q == 'n' ? '\n' : *q;
		} else {
			v[n++] = *q;
		}
	}
	v[n] = 0;
	l->val = v;
	l->p = *end ? end + 1 : end;
	return 1;
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* A whole number from 0 to 10^9: 0, or -1. */
static int number(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0 || v > 1000000000)
		return -1;
	*out = (int)v;
	return 0;
}

int dconfig_parse(const char *text, const char *what, struct dconfig *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->requires = xcalloc(1, sizeof *c->requires);
	c->deps = xcalloc(1, sizeof *c->deps);
	struct lines l = {.p = text};
	int r, have_provider = 0;
	while ((r = next_line(&l)) > 0) {
		const char *k = l.key;
		struct dstage *st = c->nstages ? &c->stages[c->nstages - 1] : NULL;
		int bad = 0;
		if (!strcmp(k, "provider")) {
			have_provider = 1;
			if (!strcmp(l.val, "dir"))
				c->provider = PROVIDER_DIR;
			else if (!strcmp(l.val, "command"))
				c->provider = PROVIDER_COMMAND;
			else
				bad = 1;
		} else if (!strcmp(k, "apply") || !strcmp(k, "read") || !strcmp(k, "destroy")) {
			char **dst = k[0] == 'a' ? &c->apply : k[0] == 'r' ? &c->read : &c->destroy;
			free(*dst);
			*dst = l.val;
			l.val = NULL;
		} else if (!strcmp(k, "timeout")) {
			bad = number(l.val, &c->timeout);
		} else if (!strcmp(k, "canary")) {
			bad = number(l.val, &c->canary);
		} else if (!strcmp(k, "max_parallel")) {
			bad = number(l.val, &c->max_parallel);
		} else if (!strcmp(k, "bake")) {
			bad = number(l.val, &c->bake);
		} else if (!strcmp(k, "interval")) {
			bad = number(l.val, &c->interval);
		} else if (!strcmp(k, "keep")) {
			bad = number(l.val, &c->keep);
		} else if (!strcmp(k, "health")) {
			free(c->health);
			c->health = l.val;
			l.val = NULL;
		} else if (!strcmp(k, "require")) {
			push(&c->requires, &c->nrequires, l.val);
			l.val = NULL;
		} else if (!strcmp(k, "dep")) {
			push(&c->deps, &c->ndeps, l.val);
			l.val = NULL;
		} else if (!strcmp(k, "stage")) {
			c->stages = xreallocarray(c->stages, c->nstages + 1, sizeof *c->stages);
			st = &c->stages[c->nstages++];
			memset(st, 0, sizeof *st);
			st->name = l.val;
			st->env = xcalloc(1, sizeof *st->env);
			l.val = NULL;
		} else if (!strcmp(k, "stage.path") && st) {
			free(st->path);
			st->path = l.val;
			l.val = NULL;
		} else if (!strcmp(k, "stage.approval") && st) {
			st->approval = 1;
		} else if (!strcmp(k, "stage.env") && st && strchr(l.val, '=')) {
			push(&st->env, &st->nenv, l.val);
			l.val = NULL;
		} else {
			bad = 1;
		}
		if (bad) {
			err_input(e, NULL, "%s: line %d: cannot read '%s' (written by another cairn?)", what,
			          l.line, k);
			free(l.val);
			dconfig_free(c);
			return -1;
		}
	}
	if (r < 0 || !have_provider || c->nstages == 0 || c->max_parallel < 1 || c->interval < 1) {
		err_input(e, NULL, "%s: %s (written by another cairn?)", what,
		          r < 0 ? "a line without a key" : "no provider, stages or rollout shape");
		dconfig_free(c);
		return -1;
	}
	return 0;
}

void dconfig_free(struct dconfig *c)
{
	free(c->apply);
	free(c->read);
	free(c->destroy);
	free(c->health);
	strv_free(c->requires);
	strv_free(c->deps);
	for (size_t i = 0; i < c->nstages; i++) {
		free(c->stages[i].name);
		free(c->stages[i].path);
		strv_free(c->stages[i].env);
	}
	free(c->stages);
	memset(c, 0, sizeof *c);
}

const struct dstage *dconfig_stage(const struct dconfig *c, const char *name)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (!strcmp(c->stages[i].name, name))
			return &c->stages[i];
	return NULL;
}

/* "A B" split at the first blank into two fresh strings: 0, or -1. */
static int split2(const char *v, char **a, char **b)
{
	const char *sp = strchr(v, ' ');
	if (!sp || sp == v || !sp[1])
		return -1;
	*a = xstrndup(v, (size_t)(sp - v));
	*b = xstrdup(sp + 1);
	return 0;
}

int dbuild_parse(const char *text, const char *what, struct dbuild *b, struct err *e)
{
	memset(b, 0, sizeof *b);
	b->health_argv = xcalloc(1, sizeof *b->health_argv);
	b->health_env = xcalloc(1, sizeof *b->health_env);
	b->health_inputs = xcalloc(1, sizeof *b->health_inputs);
	struct lines l = {.p = text};
	int r;
	while ((r = next_line(&l)) > 0) {
		const char *k = l.key;
		int bad = 0;
		if (!strcmp(k, "where")) {
			free(b->where);
			b->where = l.val;
			l.val = NULL;
		} else if (!strcmp(k, "artifact")) {
			b->artifacts = xreallocarray(b->artifacts, b->nartifacts + 1, sizeof *b->artifacts);
			struct dartifact *a = &b->artifacts[b->nartifacts];
			bad = split2(l.val, &a->name, &a->path);
			b->nartifacts += !bad;
		} else if (!strcmp(k, "health.argv")) {
			push(&b->health_argv, &b->nhealth_argv, l.val);
			l.val = NULL;
		} else if (!strcmp(k, "health.env")) {
			push(&b->health_env, &b->nhealth_env, l.val);
			l.val = NULL;
		} else if (!strcmp(k, "health.input")) {
			push(&b->health_inputs, &b->nhealth_inputs, l.val);
			l.val = NULL;
		} else if (!strcmp(k, "test")) {
			char *n, *rest, *base, *label;
			bad = split2(l.val, &n, &rest);
			if (!bad) {
				bad = split2(rest, &base, &label);
				if (!bad) {
					b->tests = xreallocarray(b->tests, b->ntests + 1, sizeof *b->tests);
					b->tests[b->ntests++] = (struct dtest){label, base, atoi(n)};
				}
				free(n);
				free(rest);
			}
		} else {
			bad = 1;
		}
		if (bad) {
			err_input(e, NULL, "%s: line %d: cannot read '%s'", what, l.line, k);
			free(l.val);
			dbuild_free(b);
			return -1;
		}
	}
	if (r < 0) {
		err_input(e, NULL, "%s: a line without a key", what);
		dbuild_free(b);
		return -1;
	}
	return 0;
}

void dbuild_free(struct dbuild *b)
{
	free(b->where);
	for (size_t i = 0; i < b->nartifacts; i++) {
		free(b->artifacts[i].name);
		free(b->artifacts[i].path);
	}
	free(b->artifacts);
	strv_free(b->health_argv);
	strv_free(b->health_env);
	strv_free(b->health_inputs);
	for (size_t i = 0; i < b->ntests; i++) {
		free(b->tests[i].label);
		free(b->tests[i].base);
	}
	free(b->tests);
	memset(b, 0, sizeof *b);
}
