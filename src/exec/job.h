/* job: one action on its way to the runner and back.
 *   - job_make: the struct job and sandbox spec that start it (its
 *     environment, a test's timeout and absolute TEST_TMPDIR);
 *   - after the run: its outputs out of the sandbox (job_leave_sandbox),
 *     a test's log and JUnit XML, what its depfile says it read, and the
 *     action result its outputs make in the store (job_result);
 *   - or, from a cached result, its outputs restored (job_restore).
 * It never changes a node's status and never calls back into the
 * scheduler: it returns what happened, and the scheduler decides.
 * Workspace files are reached through the build's fsys; the sandbox and
 * a test's TEST_TMPDIR, which a real process uses, are on the real disk. */
#ifndef CAIRN_JOB_H
#define CAIRN_JOB_H
#include "exec/files.h"
#include "exec/runner.h"
#include "store/store.h"

/* A job ready to start, and what was allocated for it. */
struct job_start {
	struct job j;              /* hand to runner->start */
	const char **argv, **envp; /* owned; envp NULL when j.envp is the env given */
	char *abs_tmp;             /* "TEST_TMPDIR=<root>/<dir>", or NULL */
	struct sandbox_spec *sp;   /* or NULL (no sandbox) */
};

/* Where one build's actions run: the workspace and the sandbox's state. */
struct job_site {
	const char *root;          /* absolute workspace root */
	const char *sandbox_state; /* <root>/.cairn/sandbox */
	int sandbox;               /* sandbox actions (but those tagged no-sandbox) */
};

/* Fill js to start a, whose effective environment is env (key_env). When
 * a runs sandboxed, *sandbox_dir gets its image directory (made empty;
 * the caller frees it, and gives it to job_leave_sandbox), else NULL. */
void job_make(struct job_start *js, const struct job_site *site, const struct action *a,
              const char *const *env, char **sandbox_dir);
/* Free what job_make allocated (once the runner has started it). */
void job_release(struct job_start *js);
/* Put msg (emptied) in front of what the action printed. */
void job_prepend_output(struct job_done *d, struct buf *msg);
/* After a sandboxed run (sandbox_dir not NULL): the declared outputs out
 * of the image, the image removed; a failed run's output searched for
 * the undeclared workspace files it names. */
void job_leave_sandbox(const struct action *a, const char *sandbox_dir, struct job_done *d);
/* A test's .log and JUnit .xml (outputs[0] and [1], sorted by path). */
void job_write_test_outputs(const struct action *a, struct fsys *fs, int attempts,
                            const struct job_done *d);
/* After a run that exited 0: its outputs into the store and the state,
 * res filled (outputs, log) and outd set. 0, or -1 when an output is
 * missing or not a regular file (then d says why and exits 1). */
int job_result(const struct action *a, struct store *store, struct files *fl,
               struct job_done *d, struct action_result *res, struct digest *outd);
/* The files a's depfile names beyond its fixed inputs, sorted, in *n
 * (those no dependency declares are warned about in front of d's
 * output); NULL when it cannot be read. */
char **job_discovered(const struct action *a, struct fsys *fs, const char *root,
                      struct job_done *d, size_t *n);
/* a's outputs from a cached result (with plan, only checked): 0 with
 * outd set, or -1 when the result does not fit or a blob cannot be had
 * (then run it). */
int job_restore(const struct action *a, struct store *store, struct files *fl,
                const struct action_result *res, int plan, struct digest *outd);

#endif
