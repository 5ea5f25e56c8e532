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

/* Who holds a deployment's lock. */
struct dlock_owner {
	long pid;
	char host[256];
	uint64_t pid_start;   /* the process's start time (/proc), against pid reuse */
	int64_t since_ms;     /* when it took the lock (Unix ms) */
	int64_t lease_ms;     /* until when (Unix ms); it renews while it works */
};

/* When process pid started (field 22 of /proc/PID/stat: clock ticks since
 * boot), or 0 when it is gone: with the pid, it names one process. */
uint64_t dstate_pid_start(long pid);

/* Take deployment's lock for this process, for lease_ms. 0 taken (or
 * renewed); 1 held by another owner that is alive with a lease running
 * (*holder filled); -1 with *e. An owner that is dead (this host, its pid
 * gone or reused) or whose lease ran out is taken over: never left for a
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
};

/* Journal a step about to act: its id in *id. 0 or -1 with *e. */
int dstate_step_begin(struct dstate *s, const struct dstep *st, int64_t *id, struct err *e);
/* The step ended: result "ok" or "failed". When ok and what is an apply
 * or rollback, to becomes the stage's release. 0 or -1 with *e. */
int dstate_step_end(struct dstate *s, int64_t id, const char *result, struct err *e);
/* Steps of deployment begun and never ended (a killed rollout), oldest
 * first, into *v (caller frees); their count in *n. 0 or -1 with *e. */
int dstate_unfinished(struct dstate *s, const char *deployment, struct dstep **v, size_t *n,
                      struct err *e);
/* The release a stage last got (hex digest, "" when none). 0 or -1. */
int dstate_current(struct dstate *s, const char *deployment, const char *stage, char out[65],
                   struct err *e);

#endif
