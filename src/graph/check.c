/* check: the wanted part of the graph, found by an iterative depth-first
 * walk from the requested files. A back edge is a cycle; the walk's stack
 * then holds the whole loop, which is printed as a path of labels.
 * Missing source files are not checked here: analysis already resolved
 * every source label to an existing file, and the snapshot is invalid as
 * soon as a directory it listed changes. */
#include "graph/graph.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>

enum { WHITE, GREY, BLACK };

struct frame {
	struct action *a;
	size_t next; /* next input to visit */
};

static int report_cycle(struct frame *st, size_t depth, struct action *back, struct err *e)
{
	size_t from = 0;
	for (size_t i = 0; i < depth; i++)
		if (st[i].a == back)
			from = i;
	struct buf b = {0};
	/* Target-level cycles are caught during analysis; one here is between
	 * actions (of custom rules), so each step names its first output. */
	for (size_t i = from; i < depth; i++)
		buf_printf(&b, "%s (%s) -> ", st[i].a->label, st[i].a->outputs[0]->path);
	buf_printf(&b, "%s (%s)", back->label, back->outputs[0]->path);
	int r = err_input(e, back->where, "dependency cycle: %s", b.s);
	buf_free(&b);
	return r;
}

int graph_check(struct graph *g, struct err *e)
{
	unsigned char *color = xcalloc(g->nactions ? g->nactions : 1, 1);
	struct frame *st = NULL;
	size_t depth = 0, cap = 0;
	int r = 0;
	for (size_t q = 0; q < g->nrequested && r == 0; q++) {
		struct action *root = g->requested[q]->producer;
		if (!root || color[root->id] != WHITE)
			continue;
		color[root->id] = GREY;
		struct frame f0 = {root, 0};
		VEC_PUSH(st, depth, cap, f0);
		while (depth && r == 0) {
			struct frame *top = &st[depth - 1];
			if (top->next == top->a->ninputs) {
				color[top->a->id] = BLACK;
				top->a->wanted = 1;
				depth--;
				continue;
			}
			struct gfile *in = top->a->inputs[top->next++];
			struct action *p = in->producer;
			if (!p)
				continue;
			if (color[p->id] == GREY) {
				r = report_cycle(st, depth, p, e);
				break;
			}
			if (color[p->id] == WHITE) {
				color[p->id] = GREY;
				struct frame f = {p, 0};
				VEC_PUSH(st, depth, cap, f);
			}
		}
	}
	free(st);
	free(color);
	return r;
}
