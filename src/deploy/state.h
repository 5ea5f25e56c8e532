/* deploy/state: the deployments' state store, .cairn/state.db (SQLite in
 * WAL mode; see state.c for the schema). It keeps every release applied
 * to every stage, a journal of rollout steps written before each acts,
 * and one lock per deployment with its owner and a lease. */
#ifndef CAIRN_DEPLOY_STATE_H
#define CAIRN_DEPLOY_STATE_H
#include "util/err.h"
#include <stddef.h>
#include <stdint.h>

struct dstate;

/* Open (creating) the store at path. A file that is no SQLite database,
 * or a store of a newer schema, is an error (ERR_INPUT) and is left as it
 * is. 0, or -1 with *e. */
int dstate_open(const char *path, struct dstate **out, struct err *e);
void dstate_close(struct dstate *s);
/* The path it was opened with. */
const char *dstate_path(const struct dstate *s);

/* Who holds a deployment's lock. */
struct dlock_owner {
	long pid;
	char host[256];
	uint64_t pid_start;   /* the process's start time (/proc), against pid reuse */
	int64_t since_ms;     /* when it took the lock (Unix ms) */
	int64_t lease_ms;     /* until when (Unix ms); it renews while it works */
};

/* Who runs this: $USER, else the account's name ("?" when neither). */
const char *dstate_user(void);

/* When process pid started (field 22 of /proc/PID/stat: clock ticks since
 * boot), or 0 when it is gone: with the pid, it names one process. */
uint64_t dstate_pid_start(long pid);

/* Take deployment's lock for this process, for lease_ms. 0 taken (or
 * renewed); 1 held by another owner that is alive (*holder filled); -1
 * with *e. An owner of this host is alive while its process is (its pid
 * there with the start time recorded), however long its step; another
 * host's while its lease runs. A dead one is taken over: never left for a
 * person to force. */
int dstate_lock(struct dstate *s, const char *deployment, int64_t lease_ms,
                struct dlock_owner *holder, struct err *e);
/* Give it up (only if this process holds it). 0 or -1 with *e. */
int dstate_unlock(struct dstate *s, const char *deployment, struct err *e);

/* A rollout step, journaled before it acts. */
struct dstep {
	int64_t id;
	char deployment[256], stage[128];
	char from[65], to[65];  /* releases (hex digests; "" for none) */
	char what[16];          /* "apply", "rollback", ... */
	int64_t rollout;        /* the rollout it belongs to (0: none) */
};

/* Journal a step about to act: its id in *id. 0 or -1 with *e. */
int dstate_step_begin(struct dstate *s, const struct dstep *st, int64_t *id, struct err *e);
/* The step ended: result "ok", "failed" or "interrupted". When what is an
 * apply, rollback or reconcile, a release row records it (to becomes the
 * stage's release when ok). 0 or -1 with *e. */
int dstate_step_end(struct dstate *s, int64_t id, const char *result, struct err *e);
/* Steps of deployment begun and never ended (a killed rollout), oldest
 * first, into *v (caller frees); their count in *n. 0 or -1 with *e. */
int dstate_unfinished(struct dstate *s, const char *deployment, struct dstep **v, size_t *n,
                      struct err *e);
/* The release a stage last got (hex digest, "" when none). 0 or -1. */
int dstate_current(struct dstate *s, const char *deployment, const char *stage, char out[65],
                   struct err *e);

/* ---- records.c: releases, deployments, rollouts, verdicts ---- */

/* Record what release rel is (once; a second put of rel changes nothing):
 * its configuration, its manifest (release.h), the tests that admitted
 * it ("LABEL\n" each) and its provenance ("NAME DIGEST KEY PATH\n" per
 * artifact: the action keys that made its bytes). 0 or -1 with *e. */
int dstate_release_put(struct dstate *s, const char *rel, const char *deployment,
                       const char *config, const char *manifest, const char *tests,
                       const char *provenance, struct err *e);
/* Its provenance (fresh; "" when unknown). */
char *dstate_release_provenance(struct dstate *s, const char *rel);
/* deployment's release whose digest starts with prefix (4 to 64 hex
 * digits): 0 with rel filled and *config, *manifest (fresh; either may be
 * NULL) set; 1 when there is none, 2 when prefix names several; -1 with *e. */
int dstate_release_get(struct dstate *s, const char *deployment, const char *prefix,
                       char rel[65], char **config, char **manifest, struct err *e);
/* The tests that admitted release rel, "LABEL\n" each (fresh; "" when
 * none or unknown). */
char *dstate_release_tests(struct dstate *s, const char *rel);
/* The configuration deployment was last deployed with. */
int dstate_deployment_put(struct dstate *s, const char *deployment, const char *config,
                          struct err *e);
/* Every deployment ever deployed, by label: labels and configurations
 * (fresh arrays of fresh strings, strv_free). 0 or -1 with *e. */
int dstate_deployments(struct dstate *s, char ***labels, char ***configs, size_t *n,
                       struct err *e);

/* One cairn deploy of a deployment. */
struct drollout {
	int64_t id;
	char release[65];  /* what it rolls out */
	char state[16];    /* "running", "paused", "done", "rolled back" */
	char stage[128];   /* where it is paused */
};
int dstate_rollout_begin(struct dstate *s, const char *deployment, const char *rel,
                         int64_t *id, struct err *e);
/* A new state (and the stage it pauses at, or NULL); a state but
 * "running" or "paused" ends it. 0 or -1 with *e. */
int dstate_rollout_set(struct dstate *s, int64_t id, const char *state, const char *stage,
                       struct err *e);
/* deployment's rollout that has not ended: 1 with *r, 0 none, -1 with *e. */
int dstate_rollout_open(struct dstate *s, const char *deployment, struct drollout *r,
                        struct err *e);
/* The stages rollout id changed, in the order it changed them, each with
 * the release it had before (from): fresh *v of *n. 0 or -1 with *e. */
int dstate_rollout_changed(struct dstate *s, int64_t id, struct dstep **v, size_t *n,
                           struct err *e);

/* The health verdict ("passed", "failed") of rel at stage, on the row of
 * its last application there. 0 or -1 with *e. */
int dstate_verdict(struct dstate *s, const char *deployment, const char *stage, const char *rel,
                   const char *verdict, struct err *e);
/* Has rel ever passed its health check and bake at stage? 1 or 0. */
int dstate_passed(struct dstate *s, const char *deployment, const char *stage, const char *rel);
/* The release to go back to from cur: the last other one that passed its
 * health check at stage, else the last other one applied with success
 * ("" when none). 0 or -1 with *e. */
int dstate_previous(struct dstate *s, const char *deployment, const char *stage,
                    const char *cur, char out[65], struct err *e);

/* What last happened at a stage. */
struct dstage_last {
	char release[65], result[16], health[16], user[64];
	int64_t when_ms;      /* 0: nothing ever */
};
int dstate_last(struct dstate *s, const char *deployment, const char *stage,
                struct dstage_last *l, struct err *e);

/* A release some stage had: GC roots are the first keep per stage. */
struct droot {
	char deployment[256], stage[128], release[65];
};
/* Every release each stage had with success, the stage's newest first,
 * stages one after another. Fresh *v of *n. 0 or -1 with *e. */
int dstate_roots(struct dstate *s, struct droot **v, size_t *n, struct err *e);

/* The audit log's anchor (deploy/audit.c): the number of lines it had
 * after the last append, and the hex SHA-256 of the last one. None yet:
 * *lines 0 and hash "". 0 or -1 with *e. */
int dstate_audit_get(struct dstate *s, int64_t *lines, char hash[65], struct err *e);
/* Record it (one statement: all of it, or none after a kill -9). */
int dstate_audit_set(struct dstate *s, int64_t lines, const char *hash, struct err *e);

#endif
