/* deploy/health: a deployment's health check, the test target its
 * health names, run against one stage: with CAIRN_STAGE,
 * CAIRN_STAGE_PATH, CAIRN_RELEASE and the stage's env set, never cached,
 * in the build's sandbox but with the host's network (to reach the
 * stage) and the stage's path shown read-only. A check that cannot run
 * fails: missing data never passes a canary. */
#ifndef CAIRN_DEPLOY_HEALTH_H
#define CAIRN_DEPLOY_HEALTH_H
#include "deploy/config.h"
#include "deploy/provider.h"
#include "exec/runner.h"
#include "exec/sandbox.h"

struct hjob {
	struct job j;
	struct sandbox_spec sp;
	char **envp;
	char *state, *dir;  /* the sandbox's state and directory, or NULL */
	char *spath;        /* the stage's path, shown read-only */
	const char *rodirs[2]; /* it and the release's directory */
};

/* Start the check of b at p's stage as job id on r (sandbox: in the
 * sandbox). 0, or -1 with *e. */
int health_start(const struct dbuild *b, const struct provider_op *p, int sandbox, struct runner *r,
                 size_t id, struct hjob *h, struct err *e);
/* It ended: 0 passed, else -1 with *e saying why (its output included). */
int health_end(struct hjob *h, const struct job_done *d, const char *stage, struct err *e);
void health_free(struct hjob *h);

#endif
