/* query: a small expression language over the target graph.
 *   EXPR := PATTERN | deps(EXPR) | rdeps(EXPR, EXPR) | kind(REGEX, EXPR)
 * deps(X) is X and everything it depends on, transitively; rdeps(U, X)
 * the targets of U that depend on X (X included); kind(RE, X) the targets
 * of X whose rule kind matches RE. The result is printed sorted. */
#include "cli/cmds.h"
#include "lang/eval.h"
#include "util/map.h"
#include "util/util.h"
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct set {
	char **v;
	size_t n, cap;
	struct map idx; /* label -> non-NULL */
};

struct q {
	const char *p;   /* parse position */
	const char *src; /* whole expression, for messages */
	struct eval *ev;
	struct ws *w;
	struct err e;
	int failed;
};

static void set_add(struct set *s, const char *l)
{
	if (map_get(&s->idx, l))
		return;
	char *c = xstrdup(l);
	VEC_PUSH(s->v, s->n, s->cap, c);
	map_put(&s->idx, c, c);
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

static void closure(struct q *q, const char *l, struct set *out)
{
	if (q->failed || map_get(&out->idx, l))
		return;
	set_add(out, l);
	char **deps = eval_deps(q->ev, l, &q->e);
	if (!deps) {
		q->failed = 1;
		return;
	}
	for (char **d = deps; *d; d++)
		closure(q, *d, out);
	strv_free(deps);
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
				closure(q, x.v[i], out);
			set_free(&x);
		} else if (f == 1) {
			struct set u = {0}, x = {0};
			if (expr(q, &u) < 0 || expect(q, ',') < 0 || expr(q, &x) < 0 ||
			    expect(q, ')') < 0) {
				set_free(&u);
				set_free(&x);
				return -1;
			}
			for (size_t i = 0; i < u.n && !q->failed; i++) {
				struct set c = {0};
				closure(q, u.v[i], &c);
				for (size_t j = 0; j < x.n; j++)
					if (map_get(&c.idx, x.v[j])) {
						set_add(out, u.v[i]);
						break;
					}
				set_free(&c);
			}
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
