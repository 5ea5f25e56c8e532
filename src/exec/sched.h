/* sched: runs the wanted part of the action graph. Ready actions are
 * taken longest-remaining-path first (durations remembered in the state);
 * for each, the key decides: up to date (outputs on disk match the last
 * run), cached (restored from the store), or executed through the runner.
 * Content decides, not time: an action whose outputs come out unchanged
 * leaves its dependents' keys unchanged (early cutoff). */
#ifndef CAIRN_SCHED_H
#define CAIRN_SCHED_H
#include "exec/files.h"
#include "exec/runner.h"
#include "graph/graph.h"
#include "store/state.h"
#include "store/store.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/sha.h"

enum act_status {
	AS_PENDING = 0,
	AS_UPTODATE,  /* outputs already match the key: nothing to do */
	AS_CACHED,    /* outputs restored from the store */
	AS_EXECUTED,  /* ran and succeeded */
	AS_FAILED,    /* ran and failed (or could not start) */
	AS_SKIPPED,   /* not run: a dependency failed or the build stopped */
	AS_WOULD_RUN, /* plan only: would execute */
};

struct sched_counts {
	size_t total, done, executed, cached, failed, running;
	size_t remote_executed;    /* of executed: ran on a remote executor */
};

/* One action's outcome, as observers see it. */
struct sched_event {
	const struct action *a;
	enum act_status status;
	const char *reason;        /* why it ran (or would run); NULL otherwise */
	struct digest key;
	uint64_t start_ns, end_ns; /* zero when nothing ran */
	const char *output;        /* merged stdout+stderr of a run */
	size_t outlen;
	int exit_code;
	int attempts;              /* runs it took (flaky tests: up to 3) */
	int timed_out;             /* the last run passed its timeout */
	int remote_hit;            /* AS_CACHED from a remote cache */
	int remote_run;            /* AS_EXECUTED (or failed) on a remote executor */
	const struct sched_counts *counts;
};

struct sched_observer {
	void *ctx;
	void (*started)(void *ctx, const struct action *a, const struct sched_counts *c);
	void (*finished)(void *ctx, const struct sched_event *ev);
};

struct sched_opts {
	int jobs;           /* parallel jobs, at least 1 */
	int keep_going;     /* -k: go on past failures */
	int plan;           /* decide, report, run nothing */
	const char *props;  /* execution properties for keys */
	int stat_threads;   /* >0: stat sources and outputs up front, in this
	                       many threads (the fsys must be thread-safe) */
	int sandbox;        /* run actions in the namespace sandbox (sandbox.h)
	                       but those tagged no-sandbox */
	int download_toplevel; /* leave outputs of remote cache hits remote,
	                          but the requested ones (fetched when a
	                          local run needs them) */
	int remote;         /* the runner may run jobs remotely: give each a
	                       REAPI spec, but tests and those tagged no-remote,
	                       local or requires-network */
};

struct sched_env {
	struct graph *g;
	struct state *st;
	struct store *store;
	struct fsys *fs;
	struct runner *runner;
	struct sched_observer *obs;
	struct sched_opts opts;
	const struct sched_known *known; /* or NULL */
};

struct sched_result {
	struct sched_counts c;
	int interrupted;
};

/* Run (or plan) every wanted action. 0 when the build could proceed (even
 * with failed actions: see res), -1 with *e on a system error. */
int sched_run(struct sched_env *env, struct sched_result *res, struct err *e);

#endif
