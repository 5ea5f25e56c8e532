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

/* n bytes at an alignment (a power of two, at most 16), not zeroed. */
static void *bump(struct arena *a, size_t n, size_t align)
{
	size_t at = (a->used + align - 1) & ~(align - 1);
	if (!a->head || at + n > a->head->size) {
		size_t sz = n > BLOCK / 4 ? n : BLOCK;
		struct arena_block *b = xmalloc(sizeof *b + sz);
		b->size = sz;
		a->total += sz;
		if (a->head && n > BLOCK / 4) {
			/* keep bumping in the current block */
			b->next = a->head->next;
			a->head->next = b;
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		at = 0;
	}
	a->used = at + n;
	return a->head->data + at;
}

void *arena_alloc(struct arena *a, size_t n)
{
	void *p = bump(a, n, 16);
	memset(p, 0, n);
	return p;
}

/* Strings are packed byte by byte: at 16-byte alignment the graph's and
 * the state's 100k strings of a 10k-action build wasted 0.8 MB. */
char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = bump(a, n + 1, 1);
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
