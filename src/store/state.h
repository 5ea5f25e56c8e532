/* state: what a workspace remembers between runs, in .cairn/state.
 *  - the stat cache: per file, its stat data and content digest, so an
 *    unchanged file is never hashed twice;
 *  - per action (named by its first output path): its last key, command
 *    digest, output digests, input digests (for `plan`/--explain reasons)
 *    and duration (for critical-path scheduling).
 * Losing the state is always safe: it only costs re-hashing, and the
 * cache still answers for every action. */
#ifndef CAIRN_STATE_H
#define CAIRN_STATE_H
#include "util/fs.h"
#include "util/sha.h"
#include <stddef.h>
#include <stdint.h>

struct file_rec {
	char *path;           /* the file, workspace-relative */
	struct file_stat st;  /* its stat data when it was hashed */
	struct digest d;      /* its content then */
	unsigned char ours;   /* cairn wrote it (OUT_ACTION, OUT_TEST), so no one
	                         changed it in the tick after it was hashed */
	unsigned char loaded; /* from the state file (hashed in an earlier run) */
	unsigned char racy;   /* loaded, and changed so close to that save that a
	                         later change may have kept its stat data: hash it */
};

struct input_rec {
	char *path;           /* owned */
	uint64_t d64;         /* first 8 bytes of the digest: enough to explain */
};

struct act_rec {
	char *id;             /* first output path; owned */
	struct digest key;    /* key of the last successful run or restore */
	struct digest cmd;    /* digest of everything in the key but inputs */
	uint64_t ms;          /* duration of the last execution */
	struct digest *outs;  /* output digests in sorted output order */
	size_t nouts;
	struct input_rec *ins;
	size_t nins;
	int fresh;            /* set since the state was loaded or saved */
};

struct state;

/* Load the state file; a missing, foreign or corrupt one gives an empty
 * state (*corrupt set when it existed but was unreadable). */
struct state *state_load(const char *path, struct fsys *fs, int *corrupt);
/* Write it back, stamped with fs's clock (a file modified within
 * FS_RACY_NS of it is racy): what changed is appended to path.log, or,
 * once that log would pass half the state's size, the whole state is
 * written anew (temp file + rename) and the log removed. 0 or -1 with
 * errno. */
int state_save(struct state *s, const char *path, struct fsys *fs);
void state_free(struct state *s);

/* The digest of a file, from the stat cache when its stat data is
 * unchanged, else hashed (and remembered). 0, or -1 with errno. */
int state_digest(struct state *s, struct fsys *fs, const char *path, struct digest *d);
/* The same, with the file's stat data already taken (st), e.g. by the
 * scheduler's parallel pre-stat. */
int state_digest_st(struct state *s, struct fsys *fs, const char *path,
                    const struct file_stat *st, struct digest *d);
/* Remember a file's digest after cairn wrote it (stat taken now); kind:
 * OUT_ACTION for an action's output, OUT_TEST for a test's log or XML. */
enum { OUT_ACTION = 1, OUT_TEST = 2 };
void state_remember(struct state *s, struct fsys *fs, const char *path, const struct digest *d,
                    int kind);

/* Call fn for every output cairn wrote or restored that the state knows,
 * of the kinds in the mask (OUT_ACTION | OUT_TEST). */
void state_outputs(struct state *s, int kinds, void (*fn)(void *ctx, const char *path), void *ctx);
/* Forget a file and the action named by it (its first output). */
void state_forget(struct state *s, const char *path);

/* The stat cache's record of a file, or NULL. */
const struct file_rec *state_file(struct state *s, const char *path);

struct act_rec *state_action(struct state *s, const char *id);
/* Replace the record for r->id with a copy of r; frees r (a heap record,
 * as act_rec_free frees). Records the state returns belong to it. */
void state_set_action(struct state *s, struct act_rec *r);
void act_rec_free(struct act_rec *r);

#endif
