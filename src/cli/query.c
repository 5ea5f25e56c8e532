/* query: a small expression language over the target graph.
 *   EXPR := PATTERN | deps(EXPR) | rdeps(EXPR, EXPR) | kind(REGEX, EXPR)
 * deps(X) is X and everything it depends on, transitively; rdeps(U, X)
 * the targets of U that depend on X (X included); kind(RE, X) the targets
 * of X whose rule kind matches RE. The result is printed sorted.
 *
 * Every operator is linear in the part of the graph it reads: deps walks
 * each target once; rdeps walks the closure of U once, recording its
 * edges, then follows them backwards from X once (asking, for each target
 * of U, whether its closure holds X would be quadratic on a long chain).
 * Walks are iterative: a chain of targets can be as long as the workspace. */
#include "cli/cmds.h"
#include "lang/eval.h"
#include "util/map.h"
#include "util/util.h"
#include <ctype.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct set {
	char **v;       /* labels, in the order they were added */
	size_t n, cap;
	struct map idx; /* label -> its index in v, plus one */
};

/* A dependency edge between two labels of a set, by index: from depends
 * on to. */
struct edge {
	size_t from, to;
};

struct edges {
	struct edge *v;
	size_t n, cap;
};

#define NONE SIZE_MAX

struct q {
	const char *p;   /* parse position */
	const char *src; /* whole expression, for messages */
	struct eval *ev;
	struct ws *w;
	struct err e;
	int failed;
};

/* The index of l in s, or NONE. */
static size_t set_find(const struct set *s, const char *l)
{
	void *v = map_get(&s->idx, l);
	return v ? (size_t)(uintptr_t)v - 1 : NONE;
}

/* Add l (copied) unless s has it; returns its index. */
static size_t set_add(struct set *s, const char *l)
{
	size_t i = set_find(s, l);
	if (i != NONE)
		return i;
	char *c = xstrdup(l);
	VEC_PUSH(s->v, s->n, s->cap, c);
	map_put(&s->idx, c, (void *)(uintptr_t)s->n);
	return s->n - 1;
}

static void set_free(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	map_free(&s->idx);
	memset(s, 0, sizeof *s);
}

static void skip_ws(struct q *q)
{
	while (isspace((unsigned char)*q->p))
		q->p++;
}

static int qfail(struct q *q, const char *msg)
{
	if (!q->failed)
		err_input(&q->e, NULL, "query: %s at offset %d of '%s'", msg, (int)(q->p - q->src), q->src);
	q->failed = 1;
	return -1;
}

static int expect(struct q *q, char c)
{
	skip_ws(q);
	if (*q->p != c) {
		char m[32];
		snprintf(m, sizeof m, "expected '%c'", c);
		return qfail(q, m);
	}
	q->p++;
	return 0;
}

/* A word: a pattern, a label or a regex (quotes allowed). */
static char *word(struct q *q)
{
	skip_ws(q);
	if (*q->p == '"' || *q->p == '\'') {
		char quote = *q->p++;
		const char *s = q->p;
		while (*q->p && *q->p != quote)
			q->p++;
		if (!*q->p) {
			qfail(q, "unterminated string");
			return NULL;
		}
		return xstrndup(s, (size_t)(q->p++ - s));
	}
	const char *s = q->p;
	while (*q->p && !isspace((unsigned char)*q->p) && *q->p != ',' && *q->p != ')' && *q->p != '(')
		q->p++;
	if (q->p == s) {
		qfail(q, "expected a pattern");
		return NULL;
	}
	return xstrndup(s, (size_t)(q->p - s));
}

static int expr(struct q *q, struct set *out);

/* One target of a walk whose dependencies are being visited. */
struct frame {
	char **deps;  /* from eval_deps */
	size_t i;     /* next one to visit */
	size_t from;  /* the target's index in the set */
};

/* Add l, which s lacks, to s and push a frame for its dependencies. */
static void visit(struct q *q, const char *l, struct set *s, struct frame **st, size_t *n,
                  size_t *cap)
{
	size_t from = set_add(s, l);
	char **deps = eval_deps(q->ev, l, &q->e);
	if (!deps) {
		q->failed = 1;
		return;
	}
	struct frame f = {.deps = deps, .from = from};
	VEC_PUSH(*st, *n, *cap, f);
}

/* Add l and everything it depends on, transitively, to s: depth first,
 * each target in the order eval_deps lists its dependencies (the order
 * that decides which error is reported first). With es, also record the
 * edges walked, those to targets s had before included. */
static void closure(struct q *q, const char *l, struct set *s, struct edges *es)
{
	if (q->failed || set_find(s, l) != NONE)
		return;
	struct frame *st = NULL;
	size_t n = 0, cap = 0;
	visit(q, l, s, &st, &n, &cap);
	while (n > 0 && !q->failed) {
		struct frame *f = &st[n - 1];
		const char *d = f->deps[f->i];
		if (!d) {
			strv_free(f->deps);
			n--;
			continue;
		}
		f->i++;
		size_t from = f->from, to = set_find(s, d);
		if (to == NONE) {
			to = s->n;
			visit(q, d, s, &st, &n, &cap); /* moves st */
		}
		if (es) {
			struct edge e = {from, to};
			VEC_PUSH(es->v, es->n, es->cap, e);
		}
	}
	while (n > 0)
		strv_free(st[--n].deps);
	free(st);
}

/* Which targets of c reach a target of x along the edges es: a mark per
 * target of c (fresh array). The edges are turned around once, into the
 * dependents of each target, and walked breadth first from x. */
static unsigned char *reach_back(const struct set *c, const struct edges *es, const struct set *x)
{
	/* The dependents of target t: rev[start[t] .. start[t + 1]). */
	size_t *start = xcalloc(c->n + 1, sizeof *start);
	size_t *rev = xcalloc(es->n + 1, sizeof *rev);
	for (size_t i = 0; i < es->n; i++)
		start[es->v[i].to]++;
	for (size_t t = 0, sum = 0; t <= c->n; t++) {
		sum += start[t];
		start[t] = sum;
	}
	for (size_t i = 0; i < es->n; i++)
		rev[--start[es->v[i].to]] = es->v[i].from;
	unsigned char *reached = xcalloc(c->n + 1, 1);
	size_t *queue = xcalloc(c->n + 1, sizeof *queue), head = 0, tail = 0;
	for (size_t i = 0; i < x->n; i++) {
		size_t t = set_find(c, x->v[i]);
		if (t != NONE && !reached[t]) {
			reached[t] = 1;
			queue[tail++] = t;
		}
	}
	while (head < tail) {
		size_t t = queue[head++];
		for (size_t j = start[t]; j < start[t + 1]; j++)
			if (!reached[rev[j]]) {
				reached[rev[j]] = 1;
				queue[tail++] = rev[j];
			}
	}
	free(queue);
	free(rev);
	free(start);
	return reached;
}

/* Add to out the targets of u whose closure holds a target of x, in u's
 * order: the closure of all of u is walked once, then walked back from x
 * (paths may leave u; X's targets outside u are not added). */
static void rdeps(struct q *q, const struct set *u, const struct set *x, struct set *out)
{
	struct set c = {0};
	struct edges es = {0};
	for (size_t i = 0; i < u->n && !q->failed; i++)
		closure(q, u->v[i], &c, &es);
	if (!q->failed) {
		unsigned char *reached = reach_back(&c, &es, x);
		for (size_t i = 0; i < u->n; i++)
			if (reached[set_find(&c, u->v[i])])
				set_add(out, u->v[i]);
		free(reached);
	}
	free(es.v);
	set_free(&c);
}

static int expr(struct q *q, struct set *out)
{
	skip_ws(q);
	const char *fns[] = {"deps", "rdeps", "kind"};
	for (int f = 0; f < 3; f++) {
		size_t n = strlen(fns[f]);
		if (strncmp(q->p, fns[f], n) != 0)
			continue;
		const char *after = q->p + n;
		while (isspace((unsigned char)*after))
			after++;
		if (*after != '(')
			continue;
		q->p = after + 1;
		if (f == 0) {
			struct set x = {0};
			if (expr(q, &x) < 0 || expect(q, ')') < 0) {
				set_free(&x);
				return -1;
			}
			for (size_t i = 0; i < x.n; i++)
				closure(q, x.v[i], out, NULL);
			set_free(&x);
		} else if (f == 1) {
			struct set u = {0}, x = {0};
			if (expr(q, &u) < 0 || expect(q, ',') < 0 || expr(q, &x) < 0 ||
			    expect(q, ')') < 0) {
				set_free(&u);
				set_free(&x);
				return -1;
			}
			rdeps(q, &u, &x, out);
			set_free(&u);
			set_free(&x);
		} else {
			char *re = word(q);
			struct set x = {0};
			if (!re || expect(q, ',') < 0 || expr(q, &x) < 0 || expect(q, ')') < 0) {
				free(re);
				set_free(&x);
				return -1;
			}
			regex_t rx;
			if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
				free(re);
				set_free(&x);
				return qfail(q, "bad regular expression");
			}
			for (size_t i = 0; i < x.n && !q->failed; i++) {
				char *k = eval_kind(q->ev, x.v[i], &q->e);
				if (!k) {
					q->failed = 1;
					break;
				}
				if (regexec(&rx, k, 0, NULL, 0) == 0)
					set_add(out, x.v[i]);
				free(k);
			}
			regfree(&rx);
			free(re);
			set_free(&x);
		}
		return q->failed ? -1 : 0;
	}
	char *w = word(q);
	if (!w)
		return -1;
	size_t n;
	const char *args[] = {w};
	struct pattern *p = ws_patterns(q->w, args, 1, &n);
	char **labels = eval_targets(q->ev, p, n, &q->e);
	patterns_free(p, n);
	free(w);
	if (!labels) {
		q->failed = 1;
		return -1;
	}
	for (char **l = labels; *l; l++)
		set_add(out, *l);
	strv_free(labels);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_query(const struct opts *o)
{
	if (o->nargs != 1) {
		fprintf(stderr, "cairn: error: query takes one expression, such as 'deps(//app:main)'\n");
		return 2;
	}
	struct ws w;
	ws_open(&w, o, 0);
	struct graph g = {0};
	struct q q = {.p = o->args[0], .src = o->args[0], .w = &w};
	struct set out = {0};
	int code = 0;
	q.ev = eval_new(w.name, &g, NULL, &q.e);
	if (!q.ev || expr(&q, &out) < 0 || (skip_ws(&q), *q.p && qfail(&q, "unexpected text") < 0)) {
		fprintf(stderr, "%s\n", q.e.msg ? q.e.msg : "error: query failed");
		code = 2;
	} else {
		xqsort(out.v, out.n, sizeof *out.v, cmp_str);
		for (size_t i = 0; i < out.n; i++)
			printf("%s\n", out.v[i]);
	}
	err_clear(&q.e);
	set_free(&out);
	eval_free(q.ev);
	graph_free(&g);
	ws_close(&w);
	return code;
}
