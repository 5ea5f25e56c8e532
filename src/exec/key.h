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

/* One input as the key sees it. */
struct key_input {
	const char *path;  /* workspace-relative; not owned */
	struct digest d;   /* its content */
};

/* The key of a, given its effective env, the inputs that decide it
 * (sorted by path: all of a->inputs, or for an action with a depfile its
 * fixed inputs plus the headers the compiler reported) and its execution
 * properties ("sandbox=none", ...). *cmd gets the digest of the same
 * encoding without the inputs, which tells "command changed" from "input
 * changed". */
void key_compute(const struct action *a, const char *const *env,
                 const struct key_input *in, size_t nin, const char *props,
                 struct digest *key, struct digest *cmd);

#endif
