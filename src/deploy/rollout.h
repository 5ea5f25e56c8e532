/* deploy/rollout: taking a deployment's stages to a release, and back.
 *
 * A rollout applies the canary stages first, one at a time, then the
 * rest, max_parallel at a time. After each group: the health check, then
 * the bake (health again every interval until bake seconds passed),
 * skipped at a stage where this release already passed once. A stage
 * with approval pauses the rollout before it is applied. Any failure
 * stops the rollout and takes every stage it changed back to what it had
 * before.
 *
 * Every step is journaled in the state store before it acts and ended
 * after; so is the rollout. A rollout found unfinished (its process
 * killed) is repaired first: each unfinished step's stage is put back as
 * it was, and a rollout of another release is rolled back whole; one of
 * the same release is carried on. */
#ifndef CAIRN_DEPLOY_ROLLOUT_H
#define CAIRN_DEPLOY_ROLLOUT_H
#include "deploy/config.h"
#include "deploy/state.h"
#include "exec/runner.h"
#include "store/store.h"
#include <stdint.h>
#include <stdio.h>

/* Something a rollout did, for its observers: the audit log, --events,
 * --profile. */
struct deploy_note {
	const char *kind;       /* "apply", "rollback", "reconcile", "health",
	                           "bake", "approval", "abort", "repair",
	                           "denied" */
	const char *deployment;
	const char *stage;      /* or NULL */
	const char *from, *to;  /* releases ("" none), or NULL */
	const char *result;     /* "ok", "failed", "passed", "paused",
	                           "promoted", "interrupted", ... */
	const char *detail;     /* why (a denial's reason, a failure), or NULL */
	uint64_t start_ns, end_ns; /* when it began and ended (now_ns) */
};

/* What is about to change, for a policy to allow or deny. */
struct deploy_gate {
	const char *what;       /* "deploy", "rollback", "reconcile" */
	const char *deployment, *stage;
	const char *release;    /* the release the stage gets */
	const char *previous;   /* what it has ("" none) */
	const char *tests;      /* the tests that admitted release, "LABEL\n" each */
};

struct rollout_env {
	struct dstate *st;
	struct store *store;
	struct runner *runner;
	const char *root;     /* the workspace root, absolute */
	int sandbox;          /* health checks run sandboxed */
	FILE *out;            /* what it says */
	/* Told of everything it does (NULL: nobody). */
	void (*note)(void *ctx, const struct deploy_note *n);
	/* Asked before a stage changes (NULL: all allowed): 0 allow, 1 deny
	 * (said by the gate, and *why set to the reason, fresh), -1 an error
	 * (said). */
	int (*gate)(void *ctx, const struct deploy_gate *g, char **why);
	void *ctx;            /* for note and gate */
};

/* A deployment's release, built and ready. */
struct rtarget {
	const char *label;
	const char *config;       /* its text */
	struct dconfig cfg;       /* parsed */
	const struct dbuild *build; /* its health check, or NULL when none runs */
	char rel[65];
	char *manifest;
	char *reldir;             /* release_dir */
	const char *tests;        /* the tests that admitted it, "LABEL\n" each */
};

enum rollout_end {
	ROLL_DONE = 0,        /* every stage at the release */
	ROLL_FAILED = 1,      /* failed and rolled back */
	ROLL_ERROR = 2,       /* a user error (said) */
	ROLL_PAUSED = 3,      /* waiting at an approval stage */
	ROLL_INTERRUPTED = 130, /* Ctrl-C: the journal says where; the next
	                           deploy finishes or rolls back */
};

/* Take deployment's lock, waiting up to wait_s seconds (saying who holds
 * it while it waits). 0, or -1 said (held by another, or an error). */
int rollout_lock(struct rollout_env *env, const char *deployment, int wait_s);
void rollout_unlock(struct rollout_env *env, const char *deployment);

/* Repair what a killed process left of deployment: each unfinished step's
 * stage back to its release before; a rollout still running rolled back,
 * but when it was of release keep (NULL: none), the stages where it
 * passed its health checks stay (the deploy of keep then finishes it).
 * 0, or -1 said. */
int rollout_recover(struct rollout_env *env, const char *deployment, const char *keep);

/* The change set, one line per stage. The number of stages that change. */
size_t rollout_plan(struct rollout_env *env, const struct rtarget *t);

/* Roll t out (promote: pass the approval gate it is paused at), as far as
 * its first upto stages (SIZE_MAX: all). Until a call covers them all the
 * rollout stays open, so that deployments that depend on each other go
 * stage by stage, called in turn with upto 1, 2, ... */
enum rollout_end rollout_run(struct rollout_env *env, struct rtarget *t, int promote,
                             size_t upto);

/* Abort deployment's paused (or unfinished) rollout: every stage it
 * changed back. 0, or -1 said. */
int rollout_abort(struct rollout_env *env, const char *deployment);

/* cairn rollback: stage (NULL: every stage) of deployment to release to
 * (a prefix; NULL: each stage's previous release). 0, 1 when a stage
 * failed, 2 on a user error or a stage the policy kept (said). */
int rollout_back(struct rollout_env *env, const char *deployment, const char *stage,
                 const char *to);

/* cairn reconcile: re-apply the recorded release wherever what is live
 * differs (a stage the policy keeps is left). The number of stages
 * repaired, or -1 when one could not be (said). */
int rollout_reconcile(struct rollout_env *env, const char *deployment, const char *config);

#endif
