/* deploy/state_int: what state.c and records.c share of the store. */
#ifndef CAIRN_DEPLOY_STATE_INT_H
#define CAIRN_DEPLOY_STATE_INT_H
#include "deploy/state.h"
#include <sqlite3.h>

struct dstate {
	sqlite3 *db;
	char *path;
	char host[256];
	uint64_t my_start;
};

/* Wall-clock Unix milliseconds. */
int64_t ds_now_ms(void);
/* "PATH: WHAT: sqlite's message" into *e; -1. */
int ds_err(struct dstate *s, struct err *e, const char *what);
/* Column col as text into dst (n bytes, "" for NULL). */
void ds_text(sqlite3_stmt *st, int col, char *dst, size_t n);

/* Prepare sql and bind the strings of args (NULL binds NULL): the
 * statement, or NULL with *e. */
sqlite3_stmt *ds_prep(struct dstate *s, const char *sql, const char *const *args, int n,
                      struct err *e);
/* The rows of st (columns id, deployment, stage, from_rel, to_rel, what,
 * rollout) into a fresh *v of *n; st finalized. 0 or -1 with *e. */
int ds_steps(struct dstate *s, sqlite3_stmt *st, struct dstep **v, size_t *n, struct err *e);

#endif
