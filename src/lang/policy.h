/* policy: POLICY.lua at the workspace root, evaluated in the build
 * files' sandbox, returns a table of hooks; each gets a plain table of
 * what is about to happen and returns nil (allow) or a reason (deny):
 *   action(a)  a.label, a.mnemonic, a.argv, a.tags, a.inputs (labels of
 *              the files it reads), a.paths (their paths), a.outputs;
 *              asked for every action a build wants, before any runs
 *   deploy(d)  d.what ("deploy", "rollback", "reconcile"), d.label,
 *              d.stage, d.release, d.previous, d.user, d.tests, d.dirty;
 *              asked before a stage changes
 * A denial is a user error at the POLICY.lua line whose return denied.
 * A policy is a gate, not an input: it is in no action's key. */
#ifndef CAIRN_POLICY_H
#define CAIRN_POLICY_H
#include "graph/graph.h"
#include "util/err.h"
#include <stddef.h>

struct policy;

/* Load POLICY.lua (in the cwd, the workspace root): 0 with *out, or with
 * *out NULL when there is none; -1 with *e (its errors are build-file
 * errors, at their line). */
int policy_open(const char *root_name, struct policy **out, struct err *e);
void policy_free(struct policy *p);
/* The modules the policy loaded (load()), NULL-terminated, fresh
 * (strv_free): with POLICY.lua, what its verdicts depend on. */
char **policy_sources(struct policy *p);
int policy_has_action(const struct policy *p);
int policy_has_deploy(const struct policy *p);

/* Ask action() about every wanted action of g. 0 when all are allowed;
 * 1 with *e the first denial ("POLICY.lua:LINE: error: action LABEL
 * (MNEMONIC) denied: REASON"); -1 with *e, an error of the policy. */
int policy_check_graph(struct policy *p, const struct graph *g, struct err *e);

/* What deploy() is asked about. */
struct policy_deploy {
	const char *what, *label, *stage, *release, *previous, *user;
	const char *tests;  /* "LABEL\n" each */
	int dirty;          /* a git checkout with uncommitted changes */
};
/* 0 allowed; 1 denied, *e the message (as above) and *why the reason
 * (fresh); -1 with *e (an error of the policy). */
int policy_check_deploy(struct policy *p, const struct policy_deploy *d, char **why,
                        struct err *e);

#endif
