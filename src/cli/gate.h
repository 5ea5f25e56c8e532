/* gate: POLICY.lua between the commands and what they are about to do:
 * action() over a build's graph, and deploy() as a deployment's gate
 * (deploy/rollout.h's env->gate), loaded on the first question. */
#ifndef CAIRN_GATE_H
#define CAIRN_GATE_H
#include "deploy/rollout.h"
#include "graph/graph.h"
#include "util/err.h"

struct gate;

/* A gate for the workspace named root_name (the cwd is its root). */
struct gate *gate_new(const char *root_name);
void gate_free(struct gate *g);
/* As env->gate: 0 allow, 1 deny (said; *why fresh), -1 an error (said). */
int gate_ask(struct gate *g, const struct deploy_gate *dg, char **why);

/* POLICY.lua's action() over g's wanted actions: 0 all allowed; -1 with
 * *e, a denial (also written to the audit log of a workspace that
 * deploys) or an error of the policy. */
int gate_graph(const char *root_name, const struct graph *g, struct err *e);
/* What the verdicts of gate_graph depend on, as hex (or "none" without a
 * POLICY.lua): POLICY.lua and the modules it loaded when last asked
 * (.cairn/policy.deps). For the no-op record's key. */
void gate_digest(char hex[65]);

#endif
