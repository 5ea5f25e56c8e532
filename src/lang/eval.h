/* eval: evaluation of WORKSPACE.lua, BUILD.lua files and rule modules in a
 * sandboxed Lua 5.4 state, and analysis of the requested targets into the
 * action graph. The process's working directory must be the workspace
 * root: every path here is relative to it. */
#ifndef CAIRN_EVAL_H
#define CAIRN_EVAL_H
#include "graph/graph.h"
#include "graph/snapshot.h"
#include "lang/label.h"
#include "util/err.h"
#include <stddef.h>

struct eval;

/* The C compiler the workspace was configured with. */
struct cc_config {
	const char *path;  /* absolute path, or NULL when there is none */
	const char *id;    /* hex SHA-256 of its path and --version output */
	const char *error; /* why there is none */
};

/* A new evaluator that adds actions to g (not owned). */
struct eval *eval_new(const char *root_name, struct graph *g, const struct cc_config *cc,
                      struct err *e);
void eval_free(struct eval *ev);

/* What a request is for (eval_request's what). */
enum {
	EVAL_TESTS = 1,  /* the test targets matched get actions that run them */
	EVAL_DEPLOY = 2, /* deployments add themselves to the graph (graph.deploys)
	                    with their required tests' actions, and request what
	                    their health checks run */
};

/* Analyze the targets the patterns match; their default outputs become
 * the graph's requested files. 0 or -1 (a user error, formatted). */
int eval_request(struct eval *ev, const struct pattern *pats, size_t n, unsigned what,
                 struct err *e);

/* For query. Each returns a NULL-terminated array of fresh strings
 * (free with strv_free, util.h) or NULL with *e set. */
char **eval_targets(struct eval *ev, const struct pattern *pats, size_t n, struct err *e);
char **eval_deps(struct eval *ev, const char *label, struct err *e);
/* The rule kind of a label ("genrule", "source file", ...); fresh string. */
char *eval_kind(struct eval *ev, const char *label, struct err *e);

/* Everything evaluation depended on so far: build files and modules read,
 * paths probed, directories listed. */
const struct snap_dep *eval_deps_seen(struct eval *ev, size_t *n);
/* Close the Lua state (its memory back before the build goes on); what
 * eval_deps_seen gives stays. Nothing else may be asked of ev after. */
void eval_close_lua(struct eval *ev);

#endif
