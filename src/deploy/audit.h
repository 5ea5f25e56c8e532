/* deploy/audit: the tamper-evident audit log, .cairn/audit.log (its
 * format, and what a crash leaves, at the top of audit.c). One JSON line
 * per thing a deployment did, each holding the SHA-256 of the line before
 * it; the state store (state.h) keeps the number of lines and the hash of
 * the last, so that a cut-off tail shows too. */
#ifndef CAIRN_DEPLOY_AUDIT_H
#define CAIRN_DEPLOY_AUDIT_H
#include "deploy/state.h"
#include "util/err.h"
#include <stdio.h>

struct audit;       /* an open log; opaque */
struct deploy_note; /* deploy/rollout.h */

/* Open (creating) the log at path for appending, anchored in st (not
 * NULL; the caller keeps it open until audit_close). The tail is settled
 * first (audit.c: a torn line dropped and recorded, a line a killed
 * process did not anchor adopted, a log that does not match its anchor
 * recorded as such). 0, or -1 with *e. */
int audit_open(const char *path, struct dstate *st, struct audit **out, struct err *e);
/* Append what the engine told (kind, deployment, stage, from, to, result,
 * detail, and ms, its duration). 0, or -1 with *e. */
int audit_note(struct audit *a, const struct deploy_note *n, struct err *e);
/* Append an entry of kind with fields, "key", "value" pairs ending with a
 * NULL key (NULL values are left out), for what the engine does not see
 * (a policy's denial of a build action). The keys seq, prev, time, user,
 * host and kind are the log's own: an error. 0, or -1 with *e. */
int audit_append(struct audit *a, const char *kind, const char *const *fields, struct err *e);
/* Close the log (NULL: nothing). */
void audit_close(struct audit *a);

/* Check the log at path, against st's anchor (NULL: no anchor to check).
 * Says on out one line: a summary, or the first bad line and what is
 * wrong with it (edited, removed, reordered, inserted, cut off, torn).
 * 0 intact, 1 not, 2 when it cannot be read (said). */
int audit_verify(const char *path, struct dstate *st, FILE *out);
/* Print the log at path: json, exactly as stored; else one line per
 * entry (time, user, kind, deployment, stage, from->to, result, detail).
 * A missing log is said and is no error. 0, or -1 with *e. */
int audit_print(const char *path, int json, FILE *out, struct err *e);

#endif
