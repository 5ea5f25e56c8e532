/* ready: a binary max-heap of (priority, id) (ready.h). */
#include "exec/ready.h"
#include "util/util.h"
#include <stdlib.h>

static int before(const struct ready_item *a, const struct ready_item *b)
{
	return a->prio != b->prio ? a->prio > b->prio : a->id < b->id;
}

static void swap(struct ready *r, size_t i, size_t k)
{
	struct ready_item t = r->v[i];
	r->v[i] = r->v[k];
	r->v[k] = t;
}

void ready_push(struct ready *r, uint32_t id, uint64_t prio)
{
	vec_reserve(&r->v, &r->cap, r->len + 1, sizeof *r->v);
	size_t i = r->len++;
	r->v[i] = (struct ready_item){prio, id};
	while (i > 0 && before(&r->v[i], &r->v[(i - 1) / 2])) {
		swap(r, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

uint32_t ready_pop(struct ready *r)
{
	uint32_t top = r->v[0].id;
	r->v[0] = r->v[--r->len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < r->len && before(&r->v[l], &r->v[m]))
			m = l;
		if (l + 1 < r->len && before(&r->v[l + 1], &r->v[m]))
			m = l + 1;
		if (m == i)
			return top;
		swap(r, i, m);
		i = m;
	}
}

void ready_free(struct ready *r)
{
	free(r->v);
	r->v = NULL;
	r->len = r->cap = 0;
}
