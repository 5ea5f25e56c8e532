/* deploy/audit_int: what audit.c (appending) and audit_scan.c (reading
 * back) share. */
#ifndef CAIRN_DEPLOY_AUDIT_INT_H
#define CAIRN_DEPLOY_AUDIT_INT_H
#include "deploy/state.h"
#include "util/json.h"
#include "util/str.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* A line as read. */
struct line {
	const char *p;       /* its bytes (into the log read), without '\n' */
	size_t n;
	int ok;              /* a valid entry: an object with seq and prev */
	int64_t seq;
	char prev[65];
	char hash[65];       /* SHA-256 of its bytes */
	struct json_member *f; /* its members (when ok) */
	size_t nf;
};

/* The log as read: its complete lines, and a torn tail's length. */
struct scan {
	struct line *v;   /* the complete lines */
	size_t n;
	size_t partial;   /* bytes after the last '\n' (a torn line) */
};

/* The anchor as read: lines (0: none) and the hash of the last. */
struct anchor {
	int have;         /* there is a store to check against */
	int64_t lines;
	char hash[65];
};

/* What au_diagnose finds. */
enum verdict { V_INTACT, V_UNCONFIRMED, V_NO_ANCHOR, V_BAD };

/* Read l->p, l->n: its hash always, the rest when it is a valid entry
 * (an object of strings, numbers and literals, each key once, seq a
 * positive integer and prev 64 lowercase hex digits). */
void au_line_read(struct line *l);

/* Split the log's bytes b (len) into lines, each read (au_line_read). */
void au_scan_buf(const char *b, size_t len, struct scan *s);
void au_scan_free(struct scan *s);
/* The hash of line i (1-based; 0: before the first, ZEROS). */
const char *au_hash_at(const struct scan *s, size_t i);

/* The log in s against a: V_BAD with *why ("line N: what", fresh), or
 * intact: V_INTACT (the anchor confirms the tail), V_UNCONFIRMED (one
 * line after the anchor's: adopted by the next append), V_NO_ANCHOR. */
enum verdict au_diagnose(const struct scan *s, const struct anchor *a, char **why);

/* The anchor st keeps (none when st is NULL). 0 or -1 with *e. */
int au_read_anchor(struct dstate *st, struct anchor *an, struct err *e);

/* Read [off, off + n) of fd into b. 0 or -1 with errno. */
int au_read_at(int fd, off_t off, size_t n, struct buf *b);
/* flock(fd, how), again after EINTR. 0 or -1 with errno. */
int au_lock_fd(int fd, int how);

#endif
