/* map: linear probing, load factor at most 2/3, no deletion (the graph and
 * the state only grow within one run). At 1/2, the 20k paths of a 10k-action
 * build took 64k slots in each of the graph and the state; at 2/3 they take
 * 32k, and a lookup probes 2 slots on average rather than 1.5. A slot holds
 * no hash (16 bytes, not 24): a probe compares the keys, which differ
 * within a few bytes past their common directory, and a rehash hashes the
 * keys again, a few times over the life of a map. */
#include "util/map.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static uint64_t strhash(const char *s)
{
	return hash_bytes(s, strlen(s));
}

/* The slot holding key, or NULL. */
static struct map_slot *find(const struct map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	uint64_t h = strhash(key);
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (strcmp(s->key, key) == 0)
			return s;
	}
}

void *map_get(const struct map *m, const char *key)
{
	struct map_slot *s = find(m, key);
	return s ? s->val : NULL;
}

const char *map_key(const struct map *m, const char *key)
{
	struct map_slot *s = find(m, key);
	return s ? s->key : NULL;
}

static void grow_to(struct map *m, size_t ncap);

static void grow(struct map *m)
{
	grow_to(m, m->cap ? m->cap * 2 : 64);
}

void map_reserve(struct map *m, size_t n)
{
	size_t c = m->cap ? m->cap : 64;
	while (3 * n > 2 * c)
		c *= 2;
	if (c > m->cap)
		grow_to(m, c);
}

static void grow_to(struct map *m, size_t ncap)
{
	struct map_slot *ns = xcalloc(ncap, sizeof *ns);
	for (size_t j = 0; j < m->cap; j++) {
		struct map_slot *s = &m->slots[j];
		if (!s->key)
			continue;
		size_t i = strhash(s->key) & (ncap - 1);
		while (ns[i].key)
			i = (i + 1) & (ncap - 1);
		ns[i] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
}

void *map_put(struct map *m, const char *key, void *val)
{
	if ((m->len + 1) * 3 > m->cap * 2)
		grow(m);
	uint64_t h = strhash(key);
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		if (!s->key) {
			s->key = key;
			s->val = val;
			m->len++;
			return NULL;
		}
		if (strcmp(s->key, key) == 0) {
			void *old = s->val;
			s->key = key; /* the old key may die with the old value */
			s->val = val;
			return old;
		}
	}
}

void map_free(struct map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}
