/* map: an open-addressing hash map from NUL-terminated string keys to
 * pointers. Keys are not copied: they must outlive the map (the graph's
 * keys live in its arena). */
#ifndef CAIRN_MAP_H
#define CAIRN_MAP_H
#include <stddef.h>
#include <stdint.h>

struct map_slot {
	const char *key; /* NULL: empty */
	void *val;
};

struct map {
	struct map_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t len; /* keys stored */
};

void *map_get(const struct map *m, const char *key);
/* Insert or replace (the key pointer too); returns the previous value or NULL. */
void *map_put(struct map *m, const char *key, void *val);
/* The stored key equal to key (it stays valid while the map holds it), or
 * NULL. */
const char *map_key(const struct map *m, const char *key);
/* Make room for n keys in all, so that many puts do not rehash. */
void map_reserve(struct map *m, size_t n);
void map_free(struct map *m);

#endif
