/* ready: the highest priority first, ties to the lower id. */
#include "exec/ready.h"
#include "test.h"

TEST(ready_pops_by_priority_then_id)
{
	struct ready r = {0};
	static const uint64_t prio[] = {5, 9, 5, 1, 9, 7};
	for (uint32_t i = 0; i < 6; i++)
		ready_push(&r, i, prio[i]);
	static const uint32_t want[] = {1, 4, 5, 0, 2, 3};
	for (int i = 0; i < 6; i++)
		CHECK(ready_pop(&r) == want[i]);
	CHECK(r.len == 0);
	ready_free(&r);
}
