/* deploy/provider: how a release reaches a stage, and how what is live
 * there is read back.
 *   dir      PATH/releases/<digest>/ holds a copy of the release, and
 *            PATH/current is a symlink to it, switched by rename: the
 *            stage is never half one release, half another.
 *   command  the deployment's shell commands apply, read and destroy, run
 *            from the workspace root with CAIRN_STAGE, CAIRN_STAGE_PATH,
 *            CAIRN_RELEASE, CAIRN_RELEASE_DIR, CAIRN_ARTIFACTS and the
 *            stage's env; each is killed past the deployment's timeout.
 * Commands are jobs on a runner, so a rollout can start several and wait
 * for them together. */
#ifndef CAIRN_DEPLOY_PROVIDER_H
#define CAIRN_DEPLOY_PROVIDER_H
#include "deploy/config.h"
#include "exec/runner.h"
#include "util/err.h"

/* One provider operation at one stage, for one release. */
struct provider_op {
	const char *label;           /* the deployment, for messages (or NULL) */
	const struct dconfig *cfg;   /* the release's configuration */
	const struct dstage *stage;  /* its stage of that name */
	const char *root;            /* the workspace root, absolute */
	const char *rel;             /* the release ("" for none: destroy) */
	const char *reldir;          /* its directory (release_dir), or NULL */
	const char *manifest;        /* its manifest, or NULL */
	/* filled when a command starts (provider_apply, provider_read): */
	struct job j;                /* the job on the runner */
	char **argv, **envp;         /* its argv and environment (owned) */
	int started;                 /* a job is running for it */
};

/* The stage's path made absolute (fresh), or NULL when it has none. */
char *provider_stage_path(const char *root, const struct dstage *s);
/* The environment a provider command or health check gets: the base
 * (NULL-terminated, may be NULL) then the CAIRN_* variables and the
 * stage's env. Fresh, NULL-terminated (strv_free). */
char **provider_env(const struct provider_op *p, const char *const *base);

/* Apply p->rel at the stage (destroy when p->rel is ""): the dir provider
 * does it at once (1 done, with *e on failure: -1); the command provider
 * starts a job with id on r (0 started; wait for it with r->wait and pass
 * what ends to provider_end). */
int provider_apply(struct provider_op *p, struct runner *r, size_t id, struct err *e);
/* A command job of p ended: 0 when it succeeded, else -1 with *e saying
 * why (its output included). Frees the job's argv and env. */
int provider_end(struct provider_op *p, const struct job_done *d, struct err *e);
/* What is live at the stage: *live ("" for nothing) and, for dir, 1 when
 * its files no longer match manifest (*why says how). 0, or -1 with *e
 * when the provider cannot tell. */
int provider_read(struct provider_op *p, struct runner *r, char live[65], int *changed, const char **why,
             struct err *e);
void provider_free(struct provider_op *p);

#endif
