/* arena: allocation by lifetime. Everything allocated from an arena is
 * freed at once by arena_free; the graph lives in one. */
#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H
#include <stddef.h>

struct arena_block;
struct arena {
	struct arena_block *head; /* newest block; blocks chain to older ones */
	size_t used;              /* bytes used in head */
	size_t total;             /* bytes in all blocks, for memory accounting */
};

void *arena_alloc(struct arena *a, size_t n);   /* 16-byte aligned, zeroed */
char *arena_strndup(struct arena *a, const char *s, size_t n); /* unaligned */
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

#endif
