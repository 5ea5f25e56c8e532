/* key: the action key, SHA-256 over a canonical, versioned encoding of
 * everything that decides an action's result and nothing about where it
 * runs. See key.c for the encoding. */
#ifndef CAIRN_KEY_H
#define CAIRN_KEY_H
#include "graph/graph.h"
#include "util/sha.h"

/* The environment an action runs with: a fixed PATH unless the action
 * sets one, then the action's own variables; sorted, NULL-terminated.
 * Free with free() (the strings point into the graph or a static). */
const char **key_env(const struct action *a);

/* The key of a, given its effective env, its inputs' digests (in the
 * order of a->inputs) and its execution properties ("sandbox=none", ...).
 * *cmd gets the digest of the same encoding without the input digests,
 * which tells "command changed" from "input changed". */
void key_compute(const struct action *a, const char *const *env,
                 const struct digest *in, const char *props,
                 struct digest *key, struct digest *cmd);

#endif
