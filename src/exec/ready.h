/* ready: the actions ready to be decided, a max-heap on priority (the
 * critical path's length from there); ties go to the lower id, so the
 * order is the same on every run. */
#ifndef CAIRN_READY_H
#define CAIRN_READY_H
#include <stddef.h>
#include <stdint.h>

struct ready_item {
	uint64_t prio;
	uint32_t id;
};

struct ready {
	struct ready_item *v;  /* the heap, v[0] first; owned */
	size_t len, cap;
};

void ready_push(struct ready *r, uint32_t id, uint64_t prio);
/* The first item's id (len must be > 0). */
uint32_t ready_pop(struct ready *r);
void ready_free(struct ready *r);

#endif
