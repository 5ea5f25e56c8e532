/* arena: a chain of blocks, bump-allocated. Big requests get a block of
 * their own so the slack stays small. */
#include "util/arena.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next; /* older block */
	size_t size;              /* usable bytes in data */
	_Alignas(16) unsigned char data[];
};

enum { BLOCK = 64 * 1024 };

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->used + n > a->head->size) {
		size_t sz = n > BLOCK / 4 ? n : BLOCK;
		struct arena_block *b = xmalloc(sizeof *b + sz);
		b->size = sz;
		a->total += sz;
		if (a->head && n > BLOCK / 4) {
			/* keep bumping in the current block */
			b->next = a->head->next;
			a->head->next = b;
			memset(b->data, 0, n);
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		a->used = 0;
	}
	void *p = a->head->data + a->used;
	a->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
	a->used = a->total = 0;
}
