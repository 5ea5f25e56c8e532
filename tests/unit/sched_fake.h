/* sched_fake: the fixture of the scheduler's unit tests. A fake runner
 * "runs" an action at start by writing its outputs itself and queues the
 * result for wait():
 *   argv[0] "cat"    each output gets the concatenation of the inputs
 *   argv[0] "const"  each output gets argv[1]
 *   argv[0] "fail"   exit 1, writes nothing
 *   argv[0] "none"   exit 0, writes nothing
 *   argv[0] "nostart" start() itself fails
 * An argument "ms=N" makes the fake clock say the job took N ms (1 when
 * absent). The workspace is a file system in memory (memfs.h) with a
 * store in memory: no temporary directory, nothing on disk. */
#ifndef CAIRN_SCHED_FAKE_H
#define CAIRN_SCHED_FAKE_H
#include "exec/sched.h"
#include "memfs.h"

enum { FX_MAX = 32 };

struct fake_runner {
	struct runner base;          /* first */
	struct graph *g;             /* to find an action by job id */
	const char *started[FX_MAX]; /* labels, in start order */
	size_t nstarted;
	struct job_done q[FX_MAX];   /* finished, not yet waited for */
	size_t qhead, qlen;
	uint64_t clock_ns;           /* the fake clock */
	struct fsys *fs;             /* where it reads inputs and writes outputs */
};

/* What the observer saw, one entry per finished event. */
struct seen {
	const char *label[FX_MAX];
	enum act_status status[FX_MAX];
	char *reason[FX_MAX];        /* owned */
	char *output[FX_MAX];        /* the run's output; owned */
	int exit_code[FX_MAX];
	size_t n;
};

struct fx {
	struct memfs mem;            /* the workspace */
	struct graph g;
	struct state *st;
	struct store *store;
	struct fake_runner run;
	struct seen seen;            /* events of the last fx_run */
	struct sched_result res;     /* result of the last fx_run */
	struct fsys *fs;             /* the file system; NULL: mem */
	int stat_threads;            /* sched_opts.stat_threads for fx_run */
	char *err;                   /* the error of the last fx_run, or NULL */
};

/* A NULL-terminated list of strings. */
#define L(...) ((const char *[]){__VA_ARGS__, NULL})

void fx_open(struct fx *f);
void fx_close(struct fx *f);
/* Add an action; argv, in, out are NULL-terminated lists. */
void fx_add(struct fx *f, const char *label, const char **argv, const char **in,
            const char **out);
void fx_want(struct fx *f, const char *path);
/* graph_check, expected to pass. */
void fx_check(struct fx *f);
/* sched_run with props "test"; its return value. */
int fx_run(struct fx *f, int jobs, int keep_going, int plan);
/* The last observed status of an action, or -1 when none was reported. */
int fx_status(struct fx *f, const char *label);
/* The last observed reason of an action, or NULL. */
const char *fx_why(struct fx *f, const char *label);
/* The last observed output of an action ("" when none), or NULL. */
const char *fx_output(struct fx *f, const char *label);
/* The labels started in the last run, comma-separated (caller frees). */
char *fx_order(struct fx *f);
/* Write a file of the open fixture's workspace. */
void fx_put(const char *path, const char *text);
/* CHECK that a file of the open fixture's workspace holds exactly text. */
void fx_check_file(const char *path, const char *text);
/* Remove a file or a tree of the open fixture's workspace. */
void fx_rm(const char *path);
/* Is there a file at path in the open fixture's workspace? */
int fx_exists(const char *path);

#endif
