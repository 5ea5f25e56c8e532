/* gate: the deploy() hook of POLICY.lua as a deployment's gate
 * (deploy/rollout.h's env->gate), loaded on the first question. */
#ifndef CAIRN_GATE_H
#define CAIRN_GATE_H
#include "deploy/rollout.h"

struct gate;

/* A gate for the workspace named root_name (the cwd is its root). */
struct gate *gate_new(const char *root_name);
void gate_free(struct gate *g);
/* As env->gate: 0 allow, 1 deny (said; *why fresh), -1 an error (said). */
int gate_ask(struct gate *g, const struct deploy_gate *dg, char **why);

#endif
