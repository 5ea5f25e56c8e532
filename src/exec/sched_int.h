/* sched_int: what the scheduler's files share (sched.c: the loop;
 * sched_keys.c: keys, discovered inputs, restores; sched_run.c: starting
 * an action, its sandbox and its test outputs). Not for other modules. */
#ifndef CAIRN_SCHED_INT_H
#define CAIRN_SCHED_INT_H
#include "exec/key.h"
#include "exec/sched.h"
#include "exec/sandbox.h"
#include "util/map.h"
#include "util/str.h"

struct node {
	uint32_t npending;       /* wanted producers not done yet */
	uint32_t dep0, dep1;     /* dependents: deps[dep0..dep1) */
	uint64_t prio;           /* critical path length from here, ms */
	enum act_status status;
	struct digest key, cmd;
	struct digest *outd;     /* per output, once done */
	struct digest *ind;      /* per input, while running */
	struct key_input *kin;   /* the inputs that decide the key, sorted */
	size_t nkin;
	char **kin_own;          /* paths in kin the node owns (NULL-terminated) */
	const char **env;        /* effective env, while running */
	char *reason;            /* why it runs, or NULL */
	int attempts;            /* runs so far (a flaky test may run 3 times) */
	char *sandbox;           /* its sandbox dir while it runs, or NULL */
	int timed_out;           /* the last run passed its timeout */
	int same;                /* up to date with nothing changed (sched_known) */
};

struct sched {
	struct sched_env *env;
	struct graph *g;
	struct node *n;
	uint32_t *deps;
	uint32_t *heap;
	size_t hlen;
	struct digest *src_d;    /* per file id: digest of a source, once known */
	unsigned char *src_known; /* per file id: 1 known, 2 unreadable */
	struct file_stat *pre;   /* per file id: stat data taken up front */
	unsigned char *pre_ok;   /* per file id: 1 pre[] valid, 2 missing, 0 not taken */
	struct sched_counts c;
	char *root;              /* absolute workspace root, for depfiles */
	char *sandbox_state;     /* <root>/.cairn/sandbox */
	struct map swept;        /* output directories swept of leftover temp
	                            files this build (keys owned) */
	int stop;                /* start nothing new */
	int interrupted;
};

/* sched.c */
void sched_done(struct sched *s, struct action *a, enum act_status st, const struct job_done *d);
/* Before an output at path is written (run or restored): remove the temp
 * files a killed cairn left in its directory (once per directory). */
void sched_sweep(struct sched *s, const char *path);

/* sched_keys.c */
int sched_out_index(const struct action *p, const struct gfile *f);
uint64_t sched_d64(const struct digest *d);
/* A file's digest as it was when the build started (pre-stat used once). */
int sched_first_digest(struct sched *s, const struct gfile *f, struct digest *d);
/* A source file's digest, looked up once per run. 0, or -1 with errno. */
int sched_source_digest(struct sched *s, const struct gfile *f, struct digest *d);
/* The digest of f, an output of p (done): from p's node, or for an action
 * known up to date (node.same), from its state record. 0, or -1 with errno. */
int sched_output_digest(struct sched *s, const struct action *p, const struct gfile *f,
                        struct digest *d);
long sched_input_index(const struct action *a, const char *path);
int sched_fixed_input(const struct action *a, const char *path);
/* n->kin: every input (disc NULL) or the fixed ones plus disc. 0 or -1. */
int sched_build_kin(struct sched *s, struct action *a, char *const *disc, size_t ndisc);
void sched_compute_key(struct sched *s, struct action *a);
/* Why a must run, given its last record (fresh string). */
char *sched_reason(struct sched *s, struct action *a, struct act_rec *r);
void sched_record(struct sched *s, struct action *a, uint64_t ms);
char **sched_disc_from_record(const struct action *a, const struct act_rec *r, size_t *n);
/* Restore a's outputs from a cached result; 0, or -1 (then run it). */
int sched_restore(struct sched *s, struct action *a, struct action_result *res);
int sched_cmp_str(const void *x, const void *y);
/* Does n's key cover every file res reports its run read? */
int sched_covered(const struct node *n, const struct action_result *res);
/* After a run: key a on what its depfile says it read. */
void sched_discover(struct sched *s, struct action *a, struct action_result *res,
                    struct job_done *d);

/* sched_run.c */
/* Put msg (emptied) in front of what the action printed. */
void sched_prepend_output(struct job_done *d, struct buf *msg);
const char *sched_env_get(const struct action *a, const char *name);
struct sandbox_spec *sched_make_spec(struct sched *s, struct action *a);
void sched_free_spec(struct sandbox_spec *sp);
/* After a sandboxed run: outputs out of the image, undeclared reads named. */
void sched_leave_sandbox(struct sched *s, struct action *a, struct job_done *d);
/* Hand a to the runner: 0 when started, 1 when it failed at once. */
int sched_start(struct sched *s, struct action *a);
/* A test's .log and JUnit .xml. */
void sched_write_test_outputs(struct sched *s, struct action *a, const struct job_done *d);

#endif
