/* key: the action key. It is REAPI's Action digest (src/reapi): the
 * digest of an Action message over a Command (argv, environment, output
 * paths, platform properties) and the input root as a Merkle tree of
 * Directory messages, so that a result is one entry wherever it lives:
 * the local store, any REAPI cache, `cairn serve`. It covers everything
 * that decides an action's result and nothing about where it runs. See
 * key.c for what goes where. */
#ifndef CAIRN_KEY_H
#define CAIRN_KEY_H
#include "graph/graph.h"
#include "util/sha.h"
#include <stdint.h>

/* The environment an action runs with: a fixed PATH unless the action
 * sets one, then the action's own variables; sorted, NULL-terminated.
 * Free with free() (the strings point into the graph or a static). */
const char **key_env(const struct action *a);

/* One input as the key sees it. */
struct key_input {
	const char *path;  /* workspace-relative; not owned */
	struct digest d;   /* its content */
	uint64_t size;     /* its length in bytes */
	int exec;          /* its executable bit */
};

/* The key of a (and *key_size, the Action's length: the rest of its REAPI
 * digest; 0 for the plain encoding that stands in when REAPI's cannot say
 * the action), given its effective env, the inputs that decide it
 * (sorted by path: all of a->inputs, or for an action with a depfile its
 * fixed inputs plus the headers the compiler reported) and its execution
 * properties ("platform=linux-x86_64;sandbox=none": ';'-separated). *cmd
 * gets the Command's digest, which does not cover the inputs: it tells
 * "command changed" from "input changed". Not thread-safe. */
void key_compute(const struct action *a, const char *const *env,
                 const struct key_input *in, size_t nin, const char *props,
                 struct digest *key, uint64_t *key_size, struct digest *cmd);

/* What key_compute would build, as a spec for reapi_build (a remote
 * executor needs the messages themselves). Valid until the next call of
 * either; not thread-safe. */
struct reapi_spec;
void key_spec(const struct action *a, const char *const *env, const struct key_input *in,
              size_t nin, const char *props, struct reapi_spec *s);

#endif
