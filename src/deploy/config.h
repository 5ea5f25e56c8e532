/* deploy/config: a deployment's two texts (lang/rules_deploy.lua writes
 * them) read back. The config text is what a release is made of besides
 * its artifacts, kept in the state store with every release, so that
 * status, rollback and reconcile work from the store alone; the build
 * text is what only the build that analyzed it knows. */
#ifndef CAIRN_DEPLOY_CONFIG_H
#define CAIRN_DEPLOY_CONFIG_H
#include "util/err.h"
#include <stddef.h>

enum dprovider { PROVIDER_DIR, PROVIDER_COMMAND };

struct dstage {
	char *name;
	char *path;        /* as written (relative: to the workspace root), or NULL */
	int approval;      /* pause here until --promote */
	char **env;        /* "K=V", NULL-terminated */
	size_t nenv;
};

struct dconfig {
	enum dprovider provider;
	char *apply, *read, *destroy; /* shell commands (command), or NULL */
	int timeout;       /* seconds, per provider command */
	int canary, max_parallel, bake, interval, keep;
	char *health;      /* label of the health test, or NULL */
	char **requires;   /* labels, NULL-terminated */
	size_t nrequires;
	char **deps;       /* labels of deployments rolled out first */
	size_t ndeps;
	struct dstage *stages;
	size_t nstages;
};

/* An artifact: its name in a release (a basename) and where it was built. */
struct dartifact {
	char *name, *path;
};

/* A required test as the build ran it. */
struct dtest {
	char *label, *base; /* base: "cairn-out/pkg/name" */
	int shards;
};

struct dbuild {
	char *where;       /* "pkg/BUILD.lua:LINE" */
	struct dartifact *artifacts;
	size_t nartifacts;
	char **health_argv, **health_env, **health_inputs; /* NULL-terminated */
	size_t nhealth_argv, nhealth_env, nhealth_inputs;
	struct dtest *tests;
	size_t ntests;
};

/* Parse; what names the text in a message. 0, or -1 with *e (a text this
 * cairn did not write: a damaged or newer state store). */
int dconfig_parse(const char *text, const char *what, struct dconfig *c, struct err *e);
void dconfig_free(struct dconfig *c);
int dbuild_parse(const char *text, const char *what, struct dbuild *b, struct err *e);
void dbuild_free(struct dbuild *b);
/* The stage named name, or NULL. */
const struct dstage *dconfig_stage(const struct dconfig *c, const char *name);

#endif
