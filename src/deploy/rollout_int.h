/* deploy/rollout_int: what rollout.c and restore.c share. */
#ifndef CAIRN_DEPLOY_ROLLOUT_INT_H
#define CAIRN_DEPLOY_ROLLOUT_INT_H
#include "deploy/rollout.h"
#include "exec/runner.h"
#include "util/err.h"
#include <stdint.h>

/* The first 12 digits of a release, or "(none)" (one of 4 static buffers). */
const char *ro_short(const char *rel);
/* Seconds since t0 (now_ns). */
double ro_secs(uint64_t t0);
/* Say e on stderr (the program's name before a message without a place)
 * and clear it; -1. */
int ro_say(struct rollout_env *env, struct err *e);
/* Renew deployment's lease: 0, or -1 (said) when another took the lock. */
int ro_renew(struct rollout_env *env, const char *deployment);
/* Wait for job id on r: 1 with *d, 0 when interrupted, -1 on error. */
int ro_wait_for(struct runner *r, size_t id, struct job_done *d);
/* Take every stage rollout id changed back to what it had (unverified:
 * only those where its release has not passed its health check); then
 * the rollout's state is state. The number of stages put back, or -1. */
int ro_roll_back(struct rollout_env *env, const char *deployment, int64_t id, const char *state,
                 int unverified);

/* Tell the observer (env->note), when there is one. */
void ro_note(struct rollout_env *env, const char *kind, const char *deployment, const char *stage,
             const char *from, const char *to, const char *result, const char *detail,
             uint64_t start_ns);
/* Ask the gate (env->gate) whether stage may go from previous to release:
 * 0 allowed, 2 denied (said, and noted), -1 an error (said). */
int ro_gate(struct rollout_env *env, const char *what, const char *deployment, const char *stage,
            const char *release, const char *previous, const char *tests);

#endif
