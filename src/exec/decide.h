/* decide: an action's key and what it means, apart from any build loop.
 * Functions of the action, the digests of its inputs, its last record and
 * a cached result; they never see the scheduler, and reach no file but
 * through the digest callback they are given.
 *
 * An action's key covers its fixed inputs and, for an action with a
 * depfile, the files its last run read (or, before it ran, every input);
 * a cached result counts only under a key that covers everything its run
 * read. */
#ifndef CAIRN_DECIDE_H
#define CAIRN_DECIDE_H
#include "exec/key.h"
#include "graph/graph.h"
#include "store/state.h"
#include "store/store.h"
#include "util/str.h"

/* The key of one action and the inputs it covers. */
struct decision {
	struct digest key;     /* the action key */
	uint64_t key_size;     /* the rest of its REAPI digest (key_compute) */
	struct digest cmd;     /* the same without the inputs: "command changed" */
	struct key_input *kin; /* the inputs that decide the key, sorted by path */
	size_t nkin;
	char **kin_own;        /* paths in kin owned here (NULL-terminated) */
};

/* The digest of a file that is not among the action's inputs (a header
 * its depfile named). 0, or -1 with errno. */
typedef int (*decide_digest_fn)(void *ctx, const char *path, struct digest *d);

/* dc's inputs: every input of a (disc NULL), or its fixed inputs plus the
 * discovered ones. ind holds the digest of each of a's inputs. 0, or -1
 * when a discovered file cannot be read (dc then empty: fall back to every
 * input). */
int decide_inputs(struct decision *dc, const struct action *a, const struct digest *ind,
                  char *const *disc, size_t ndisc, decide_digest_fn digest, void *ctx);
/* The size and executable bit of a file among an action's key inputs
 * (its digest is known already). 0, or -1 with errno. */
typedef int (*decide_meta_fn)(void *ctx, const char *path, uint64_t *size, int *exec);

/* dc's key and command digest from its inputs, a's effective environment
 * (key_env) and the execution properties; meta (NULL: sizes 0, nothing
 * executable) tells each input's size and executable bit, which the key
 * covers with its digest. */
void decide_key(struct decision *dc, const struct action *a, const char *const *env,
                const char *props, decide_meta_fn meta, void *ctx);
/* Why a must run, given its last record (NULL: never ran) and whether
 * its outputs are all on disk. Fresh string. */
char *decide_reason(const struct decision *dc, const struct action *a, const struct act_rec *r,
                    int outputs_present);
/* Does dc's key cover every file res reports its run read? */
int decide_covered(const struct decision *dc, const struct action_result *res);
/* The discovered inputs of a's last run, from its record: what it keyed
 * on beyond its fixed inputs. Fresh array, or NULL when there is none. */
char **decide_disc_from_record(const struct action *a, const struct act_rec *r, size_t *n);
/* What a depfile named (deps, NULL-terminated, taken over): sorted,
 * without duplicates, a's fixed inputs or the depfile itself, in *n. A
 * file no target a depends on declares is kept, and named in warn. */
char **decide_discovered(const struct action *a, char **deps, size_t *n, struct buf *warn);
/* The state's record of a run of a under dc with outputs outd, that took
 * ms milliseconds. Fresh, for state_set_action. */
struct act_rec *decide_record(const struct decision *dc, const struct action *a,
                              const struct digest *outd, uint64_t ms);
/* Copy src's inputs into dst (paths owned by dst), key and cmd too. */
void decide_copy(struct decision *dst, const struct decision *src);
void decide_free(struct decision *dc);

#endif
