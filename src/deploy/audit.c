/* deploy/audit: the audit log (audit.h).
 *
 * Format, version 1. .cairn/audit.log is text: one JSON object per line,
 * each line ended by '\n', appended to and never rewritten. A line is
 *
 *   {"seq": 3, "prev": "9f86d0...(64 hex)", "time": "2025-06-01T12:00:00.123Z",
 *    "user": "ana", "host": "build1", "kind": "apply", "deployment": "//web:web",
 *    "stage": "canary", "from": "", "to": "1a2b...", "result": "ok",
 *    "detail": "...", "ms": 42}
 *
 * (on one line). seq counts the lines from 1; prev is the SHA-256, in
 * lowercase hex, of the bytes of line seq - 1 without its '\n' (64 zeros
 * on line 1), so that a line edited, removed, reordered or inserted
 * breaks the chain at the line after it. seq, prev, time (UTC, RFC 3339
 * with milliseconds), user and host come first and are on every line;
 * kind is one of the engine's (deploy_note in rollout.h: apply, rollback,
 * reconcile, health, bake, approval, abort, repair, denied), "torn" or
 * "mismatch" (below), or another caller's (audit_append); the other
 * fields are strings, left out when there is nothing to say, but ms (the
 * step's duration) and bytes (of a torn line), numbers. A reader ignores
 * keys it does not know: new ones are no new version.
 *
 * The anchor. The state store (.cairn/state.db, table audit_anchor) keeps
 * how many lines the log had after the last append and the hash of the
 * last: the chain alone cannot tell a log cut short from a shorter one.
 *
 * Appending (under flock(LOCK_EX) on the log, so processes that deploy
 * side by side take turns): settle the tail (below), build the whole
 * line, write it with one write() on the O_APPEND descriptor, fsync, then
 * record the anchor. A write that fails half-way is truncated away at
 * once. A kill -9 (or a power cut) can thus leave:
 *   - a torn line: the bytes of a line cut short, without its '\n' (or a
 *     last line that is no valid entry, or does not chain, after the
 *     last line the anchor confirms). Never taken silently: the next
 *     settle truncates those bytes and appends a line of kind "torn" that
 *     says how many bytes were dropped, and their SHA-256. A second kill
 *     in the moment between that truncation and that append loses the
 *     record of the first tear (a line that was never anchored anyway).
 *   - one whole, chained line the anchor does not count yet (killed
 *     between fsync and the anchor's update). Settle adopts it: it is
 *     exactly what that append would have anchored, and only one append
 *     is ever in flight (the flock), so there is never more than one such
 *     line; accepting one costs nothing a forger could not do anyway by
 *     writing both the log and the store. Two or more are not adopted.
 * Anything else (the anchor's line missing, or another line in its place)
 * is no crash: settle appends, chained to the log as it is, a line of
 * kind "mismatch" naming the first bad line (as verify would), and
 * anchors it. The damage is never repaired or hidden: verify keeps
 * naming the first bad line, and a "mismatch" line is itself bad. Only a
 * partial last line is ended by a '\n' first, so the bytes stay.
 *
 * Verifying walks every line: a valid entry, seq one more than the line
 * before, prev its hash; then the anchor's line must hash as recorded,
 * and at most one line may follow it. The first line that fails is
 * named, with what its neighbours say happened to it. */
#include "deploy/audit.h"
#include "deploy/rollout.h"
#include "deploy/state.h"
#include "util/hook.h"
#include "util/json.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

struct audit {
	char *path;         /* the log */
	int fd;             /* O_RDWR | O_APPEND */
	struct dstate *st;  /* the anchor's store (not ours) */
	char host[256];     /* gethostname */
};

/* ---- reading a line ---- */

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

static const struct json_member *field_get(const struct line *l, const char *key)
{
	for (size_t i = 0; i < l->nf; i++)
		if (!strcmp(l->f[i].key, key))
			return &l->f[i];
	return NULL;
}

/* A string member's text, or NULL. */
static const char *str_get(const struct line *l, const char *key)
{
	const struct json_member *f = field_get(l, key);
	return f && f->str ? f->val : NULL;
}

/* Read l->p, l->n: its hash always, the rest when it is a valid entry
 * (an object of strings, numbers and literals, each key once, seq a
 * positive integer and prev 64 lowercase hex digits). */
static void line_read(struct line *l)
{
	struct digest d;
	sha_buf(l->p, l->n, &d);
	digest_hex(&d, l->hash);
	l->ok = 0;
	if (json_flat_parse(l->p, l->n, &l->f, &l->nf) < 0)
		return;
	const struct json_member *seq = field_get(l, "seq");
	const char *prev = str_get(l, "prev");
	if (!seq || seq->str || !prev || strlen(prev) != 64 || strspn(prev, "0123456789abcdef") != 64)
		goto bad;
	const char *v = seq->val;
	if (*v < '1' || *v > '9' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
		goto bad;
	l->seq = strtoll(v, NULL, 10);
	memcpy(l->prev, prev, 65);
	l->ok = 1;
	return;
bad:
	json_members_free(l->f, l->nf);
	l->f = NULL;
	l->nf = 0;
}

/* ---- the whole log: scan and diagnose ---- */

struct scan {
	struct line *v;   /* the complete lines */
	size_t n;
	size_t partial;   /* bytes after the last '\n' (a torn line) */
};

static void scan_buf(const char *b, size_t len, struct scan *s)
{
	memset(s, 0, sizeof *s);
	size_t cap = 0, at = 0;
	for (;;) {
		const char *nl = at < len ? memchr(b + at, '\n', len - at) : NULL;
		if (!nl)
			break;
		struct line l = {.p = b + at, .n = (size_t)(nl - (b + at))};
		line_read(&l);
		VEC_PUSH(s->v, s->n, cap, l);
		at = (size_t)(nl - b) + 1;
	}
	s->partial = len - at;
}

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		json_members_free(s->v[i].f, s->v[i].nf);
	free(s->v);
}

/* The anchor as read: lines (0: none) and the hash of the last. */
struct anchor {
	int have;         /* there is a store to check against */
	int64_t lines;
	char hash[65];
};

/* seq and hash of line i (1-based; 0: before the first). */
static int64_t seq_at(const struct scan *s, size_t i)
{
	return i ? s->v[i - 1].seq : 0;
}

static const char *hash_at(const struct scan *s, size_t i)
{
	return i ? s->v[i - 1].hash : ZEROS;
}

/* The first line (1-based), at or after from, that is entry seq; 0 none. */
static size_t find_seq(const struct scan *s, size_t from, int64_t seq)
{
	for (size_t j = from; j <= s->n; j++)
		if (s->v[j - 1].ok && s->v[j - 1].seq == seq)
			return j;
	return 0;
}

/* Does any line hold h as its prev? */
static int chained_to(const struct scan *s, const char *h)
{
	for (size_t j = 0; j < s->n; j++)
		if (s->v[j].ok && !strcmp(s->v[j].prev, h))
			return 1;
	return 0;
}

/* "line J follows line I", or that J begins the chain (I 0). */
static char *follows(size_t bad, size_t j, size_t i)
{
	return i ? xasprintf("line %zu: inserted (line %zu follows line %zu)", bad, j, i)
	         : xasprintf("line %zu: inserted (line %zu begins the chain)", bad, j);
}

/* What a broken link at line i (its seq or prev not what line i - 1
 * asks) says happened: "line N: what" (fresh). The neighbours tell: the
 * line after an inserted one chains to the line before it; the line
 * after an edited one holds another hash for it; a reordered line is
 * still chained to by the line that followed it, and the entry that
 * belongs here comes later; a removal leaves a gap in seq. */
static char *broken_link(const struct scan *s, size_t i)
{
	const struct line *l = &s->v[i - 1], *next = i < s->n ? &s->v[i] : NULL;
	int64_t want = seq_at(s, i - 1) + 1;
	const char *want_prev = hash_at(s, i - 1);
	/* line i - 1 is one too many: line i chains to the line before it */
	if (i >= 2 && l->seq == seq_at(s, i - 2) + 1 && !strcmp(l->prev, hash_at(s, i - 2)))
		return follows(i - 1, i, i - 2);
	/* line i is one too many: the next line chains to the one before it,
	 * and nothing chains to line i */
	if (next && next->ok && next->seq == want && !strcmp(next->prev, want_prev) &&
	    !chained_to(s, l->hash))
		return follows(i, i + 1, i - 1);
	if (l->seq == want) {
		/* in its place, but the hash it holds is not line i - 1's: line
		 * i - 1 changed, or line i did (then line i + 1 says so too) */
		if (next && next->ok && next->seq == l->seq + 1 && strcmp(next->prev, l->hash))
			return xasprintf("line %zu: edited (line %zu holds another hash for it)", i, i + 1);
		if (i == 1)
			return xasprintf("line 1: edited (the chain does not begin with it)");
		return xasprintf("line %zu: edited (line %zu holds another hash for it)", i - 1, i);
	}
	size_t twice = 0;
	for (size_t j = 1; j <= s->n && !twice; j++)
		if (j != i && s->v[j - 1].ok && s->v[j - 1].seq == l->seq)
			twice = j;
	if (twice)
		return xasprintf("line %zu: inserted (a copy of entry %" PRId64 ", line %zu holds it too)",
		                 i, l->seq, twice);
	size_t later = find_seq(s, i + 1, want);
	if (later)
		return xasprintf("line %zu: reordered (entry %" PRId64 " here, entry %" PRId64
		                 " is at line %zu)", i, l->seq, want, later);
	if (next && next->ok && next->seq == want + 1)
		return xasprintf("line %zu: edited (its seq %" PRId64 " should be %" PRId64 ")", i, l->seq,
		                 want);
	if (l->seq > want)
		return l->seq == want + 1
		       ? xasprintf("line %zu: removed before it (entry %" PRId64 " is missing)", i, want)
		       : xasprintf("line %zu: removed before it (entries %" PRId64 " to %" PRId64
		                   " are missing)", i, want, l->seq - 1);
	return xasprintf("line %zu: reordered or inserted (entry %" PRId64 " after entry %" PRId64 ")",
	                 i, l->seq, want - 1);
}

enum verdict { V_INTACT, V_UNCONFIRMED, V_NO_ANCHOR, V_BAD };

/* The log in s against a: V_BAD with *why ("line N: what", fresh), or
 * intact: V_INTACT (the anchor confirms the tail), V_UNCONFIRMED (one
 * line after the anchor's: adopted by the next append), V_NO_ANCHOR. */
static enum verdict diagnose(const struct scan *s, const struct anchor *a, char **why)
{
	*why = NULL;
	for (size_t i = 1; i <= s->n; i++) {
		const struct line *l = &s->v[i - 1];
		if (!l->ok) {
			*why = xasprintf("line %zu: %s (not a valid entry)", i,
			                 i == s->n && !s->partial ? "torn or edited" : "edited");
			return V_BAD;
		}
		if (l->seq != seq_at(s, i - 1) + 1 || strcmp(l->prev, hash_at(s, i - 1))) {
			*why = broken_link(s, i);
			return V_BAD;
		}
		const char *kind = str_get(l, "kind");
		if (kind && !strcmp(kind, "mismatch")) {
			const char *d = str_get(l, "detail");
			*why = xasprintf("line %zu: records damage (%s)", i, d ? d : "?");
			return V_BAD;
		}
	}
	size_t n = s->n;
	if (a->have && a->lines > 0 && (size_t)a->lines <= n &&
	    strcmp(s->v[a->lines - 1].hash, a->hash)) {
		*why = xasprintf("line %" PRId64 ": edited (the state store holds another hash for it)",
		                 a->lines);
		return V_BAD;
	}
	if (s->partial) {
		*why = xasprintf("line %zu: torn (%zu bytes without a newline at the end: an append cut"
		                 " short, which the next deploy records)", n + 1, s->partial);
		return V_BAD;
	}
	if (!a->have)
		return V_NO_ANCHOR;
	if ((size_t)a->lines > n) {
		*why = xasprintf("line %zu: cut off (the state store confirms %" PRId64
		                 " lines, the log has %zu)", n + 1, a->lines, n);
		return V_BAD;
	}
	if ((size_t)a->lines + 1 < n) {
		*why = xasprintf("line %" PRId64 ": inserted (the state store confirms %" PRId64
		                 " lines; a killed append leaves at most one more)", a->lines + 2,
		                 a->lines);
		return V_BAD;
	}
	return (size_t)a->lines == n ? V_INTACT : V_UNCONFIRMED;
}

/* ---- appending ---- */

static int read_anchor(struct dstate *st, struct anchor *an, struct err *e)
{
	memset(an, 0, sizeof *an);
	an->have = st != NULL;
	return st ? dstate_audit_get(st, &an->lines, an->hash, e) : 0;
}

/* Read [off, off + n) of fd into b. 0 or -1 with errno. */
static int read_at(int fd, off_t off, size_t n, struct buf *b)
{
	buf_free(b);
	b->s = xmalloc(n + 1);
	b->cap = n + 1;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, b->s + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* shrank under the lock: someone else's hand */
			return -1;
		}
		got += (size_t)r;
	}
	b->len = n;
	b->s[n] = 0;
	return 0;
}

static int sync_fd(int fd)
{
	while (fsync(fd) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* Write the line that follows (seq, prev): one write() of the whole line
 * and its '\n', fsync, then the anchor. fields as audit_append's; numkey
 * (NULL: none) a numeric member after them. Under the lock. */
static int write_entry(struct audit *a, int64_t seq, const char *prev, const char *kind,
                       const char *const *fields, const char *numkey, int64_t num, struct err *e)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + k, sizeof when - k, ".%03ldZ", ts.tv_nsec / 1000000);
	struct buf b = {0};
	buf_printf(&b, "{\"seq\": %" PRId64 ", \"prev\": \"%s\", \"time\": \"%s\", \"user\": ", seq,
	           prev, when);
	json_str(&b, dstate_user());
	buf_puts(&b, ", \"host\": ");
	json_str(&b, a->host);
	buf_puts(&b, ", \"kind\": ");
	json_str(&b, kind);
	for (size_t i = 0; fields && fields[i]; i += 2) {
		if (!fields[i + 1])
			continue;
		buf_puts(&b, ", ");
		json_str(&b, fields[i]);
		buf_puts(&b, ": ");
		json_str(&b, fields[i + 1]);
	}
	if (numkey)
		buf_printf(&b, ", \"%s\": %" PRId64, numkey, num);
	buf_puts(&b, "}");
	struct digest d;
	sha_buf(b.s, b.len, &d);
	char hash[65];
	digest_hex(&d, hash);
	buf_putc(&b, '\n');
	struct stat sb;
	int rc = -1;
	if (fstat(a->fd, &sb) < 0) {
		err_sys(e, "%s: cannot append", a->path);
		goto out;
	}
	ssize_t w;
	if (hook("AUDIT_SLOW")) {
		/* the tests' kill -9 rounds: a torn line (the first half
		 * written) and an unanchored one each last 20 ms */
		size_t half = b.len / 2;
		w = write(a->fd, b.s, half);
		usleep(20000);
		if (w == (ssize_t)half) {
			ssize_t w2 = write(a->fd, b.s + half, b.len - half);
			w = w2 < 0 ? w2 : w + w2;
		}
	} else {
		do
			w = write(a->fd, b.s, b.len);
		while (w < 0 && errno == EINTR);
	}
	if (w != (ssize_t)b.len) {
		if (w >= 0)
			errno = ENOSPC;
		err_sys(e, "%s: cannot append", a->path);
		/* no half line left behind by this process, at least */
		if (ftruncate(a->fd, sb.st_size) == 0)
			sync_fd(a->fd);
		goto out;
	}
	if (sync_fd(a->fd) < 0) {
		err_sys(e, "%s: cannot sync", a->path);
		goto out;
	}
	if (hook("AUDIT_SLOW"))
		usleep(20000);
	rc = dstate_audit_set(a->st, seq, hash, e);
out:
	buf_free(&b);
	return rc;
}

/* One complete line of the tail, or none. */
struct tail_line {
	int have;
	off_t off;          /* where it begins in the file */
	struct line l;
};

/* Bring the tail in line with the anchor, before an append (see the top
 * of the file): *seq and prev[65] get what the next line follows. Under
 * the lock. 0 or -1 with *e. */
static int settle(struct audit *a, int64_t *seq, char prev[65], struct err *e)
{
	struct anchor an;
	if (read_anchor(a->st, &an, e) < 0)
		return -1;
	const char *ahash = an.lines ? an.hash : ZEROS;
	struct stat sb;
	if (fstat(a->fd, &sb) < 0)
		return err_sys(e, "%s: cannot read", a->path);
	off_t size = sb.st_size;
	/* the last two complete lines and what follows them: read back from
	 * the end until three '\n' or the beginning are in sight */
	struct buf b = {0};
	off_t base = size;
	size_t nl = 0;
	for (size_t chunk = 16384; base > 0 && nl < 3; chunk *= 4) {
		base = size > (off_t)chunk ? size - (off_t)chunk : 0;
		if (read_at(a->fd, base, (size_t)(size - base), &b) < 0) {
			buf_free(&b);
			return err_sys(e, "%s: cannot read", a->path);
		}
		nl = 0;
		for (size_t i = 0; i < b.len; i++)
			nl += b.s[i] == '\n';
	}
	const char *s = b.s ? b.s : "";
	size_t len = b.len;
	struct tail_line t[2] = {{0}}; /* t[1] the last line, t[0] the one before */
	size_t end = len;              /* the partial begins here */
	while (end > 0 && s[end - 1] != '\n')
		end--;
	off_t partial_at = base + (off_t)end;
	size_t hi = end; /* one past the '\n' of the line being cut out */
	for (int k = 1; k >= 0 && hi > 0; k--) {
		size_t lo = hi - 1;
		while (lo > 0 && s[lo - 1] != '\n')
			lo--;
		if (lo == 0 && base > 0)
			break; /* its beginning is not in sight: a third '\n' was */
		t[k].have = 1;
		t[k].off = base + (off_t)lo;
		t[k].l.p = s + lo;
		t[k].l.n = hi - 1 - lo;
		line_read(&t[k].l);
		hi = lo;
	}
	/* t[0] exists whenever t[1] is not the first line of the file */
	int first = t[1].have && t[1].off == 0;
	off_t cut = partial_at < size ? partial_at : -1;
	int rc = 0;
	*seq = an.lines;
	memcpy(prev, ahash, 65);
	if (!t[1].have && an.lines == 0) {
		/* empty, or nothing but a torn line */
	} else if (t[1].have && t[1].l.ok && an.lines > 0 && t[1].l.seq == an.lines &&
	           !strcmp(t[1].l.hash, an.hash)) {
		/* the anchor's line is the last */
	} else if (t[1].have && (an.lines == 0 ? first
	                                       : t[0].have && t[0].l.ok && t[0].l.seq == an.lines &&
	                                                 !strcmp(t[0].l.hash, an.hash))) {
		/* one line after the anchor's */
		if (t[1].l.ok && t[1].l.seq == an.lines + 1 && !strcmp(t[1].l.prev, ahash)) {
			/* whole and chained: a killed append's, adopted */
			if (dstate_audit_set(a->st, t[1].l.seq, t[1].l.hash, e) < 0) {
				rc = -1;
				goto out;
			}
			*seq = t[1].l.seq;
			memcpy(prev, t[1].l.hash, 65);
		} else {
			cut = t[1].off; /* not: torn too */
		}
	} else {
		/* no crash did this: recorded, never repaired */
		struct buf all = {0};
		struct scan sc;
		char *why = NULL;
		if (read_at(a->fd, 0, (size_t)size, &all) < 0) {
			buf_free(&all);
			rc = err_sys(e, "%s: cannot read", a->path);
			goto out;
		}
		scan_buf(all.s, all.len, &sc);
		if (diagnose(&sc, &an, &why) != V_BAD)
			why = xasprintf("the log did not match the state store, which confirmed %" PRId64
			                " lines (the log had %zu)", an.lines, sc.n);
		char *detail = xasprintf("found before this line was appended: %s", why);
		struct digest d;
		char last[65];
		if (sc.partial) {
			sha_buf(all.s + all.len - sc.partial, sc.partial, &d);
			digest_hex(&d, last);
		}
		int64_t lastseq = sc.partial ? (int64_t)sc.n + 1
		                  : sc.n && sc.v[sc.n - 1].ok ? sc.v[sc.n - 1].seq : (int64_t)sc.n;
		if (!sc.partial)
			memcpy(last, hash_at(&sc, sc.n), 65);
		ssize_t w = 0;
		if (sc.partial)
			while ((w = write(a->fd, "\n", 1)) < 0 && errno == EINTR)
				;
		const char *f[] = {"detail", detail, NULL};
		if (w < 0)
			rc = err_sys(e, "%s: cannot append", a->path);
		else
			rc = write_entry(a, lastseq + 1, last, "mismatch", f, NULL, 0, e);
		if (rc == 0) {
			*seq = lastseq + 1;
			struct anchor now;
			if (read_anchor(a->st, &now, e) < 0)
				rc = -1;
			else
				memcpy(prev, now.hash, 65);
		}
		free(detail);
		free(why);
		scan_free(&sc);
		buf_free(&all);
		cut = -1;
	}
	if (rc == 0 && cut >= 0) {
		/* a torn tail: dropped, and recorded */
		struct digest d;
		char sum[65];
		size_t from = (size_t)(cut - base);
		sha_buf(s + from, len - from, &d);
		digest_hex(&d, sum);
		int64_t dropped = (int64_t)(size - cut);
		char *detail = xasprintf("%" PRId64 " bytes at the end of the log dropped: a line cut"
		                         " short by a crash (their sha256 %s)", dropped, sum);
		const char *f[] = {"detail", detail, NULL};
		if (ftruncate(a->fd, cut) < 0)
			rc = err_sys(e, "%s: cannot truncate the torn line", a->path);
		else
			rc = write_entry(a, *seq + 1, prev, "torn", f, "bytes", dropped, e);
		free(detail);
		if (rc == 0) {
			struct anchor now;
			if (read_anchor(a->st, &now, e) < 0)
				rc = -1;
			else
				*seq = now.lines, memcpy(prev, now.hash, 65);
		}
	}
out:
	for (int k = 0; k < 2; k++)
		json_members_free(t[k].l.f, t[k].l.nf);
	buf_free(&b);
	return rc;
}

static int lock_fd(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* Settle, then append (kind NULL: settle only). */
static int append(struct audit *a, const char *kind, const char *const *fields,
                  const char *numkey, int64_t num, struct err *e)
{
	if (lock_fd(a->fd, LOCK_EX) < 0)
		return err_sys(e, "%s: cannot lock", a->path);
	int64_t seq;
	char prev[65];
	int rc = settle(a, &seq, prev, e);
	if (rc == 0 && kind)
		rc = write_entry(a, seq + 1, prev, kind, fields, numkey, num, e);
	flock(a->fd, LOCK_UN);
	return rc;
}

int audit_open(const char *path, struct dstate *st, struct audit **out, struct err *e)
{
	*out = NULL;
	int fresh = access(path, F_OK) < 0;
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_sys(e, "%s: cannot open the audit log", path);
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return err_sys(e, "%s: not a regular file", path);
	}
	if (fresh) {
		/* its directory entry durable too */
		char *dir = xstrdup(path), *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			sync_fd(dfd);
			close(dfd);
		}
		free(dir);
	}
	struct audit *a = xcalloc(1, sizeof *a);
	a->path = xstrdup(path);
	a->fd = fd;
	a->st = st;
	if (gethostname(a->host, sizeof a->host - 1) < 0)
		strcpy(a->host, "?");
	if (append(a, NULL, NULL, NULL, 0, e) < 0) {
		audit_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

int audit_note(struct audit *a, const struct deploy_note *n, struct err *e)
{
	const char *f[] = {"deployment", n->deployment, "stage", n->stage, "from", n->from,
	                   "to", n->to, "result", n->result, "detail", n->detail, NULL};
	int64_t ms = n->end_ns >= n->start_ns ? (int64_t)((n->end_ns - n->start_ns) / 1000000) : 0;
	return append(a, n->kind ? n->kind : "?", f, "ms", ms, e);
}

int audit_append(struct audit *a, const char *kind, const char *const *fields, struct err *e)
{
	static const char *const own[] = {"seq", "prev", "time", "user", "host", "kind"};
	for (size_t i = 0; fields && fields[i]; i += 2)
		for (size_t k = 0; k < sizeof own / sizeof *own; k++)
			if (!strcmp(fields[i], own[k]))
				return err_input(e, NULL, "audit: the field '%s' is the log's own", own[k]);
	return append(a, kind, fields, NULL, 0, e);
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	close(a->fd);
	free(a->path);
	free(a);
}

/* ---- reading it back ---- */

/* The whole log into b, read under a shared lock (no append half seen).
 * 0; 1 when there is none; -1 with errno. */
static int read_log(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	struct stat sb;
	int rc = -1;
	if (fstat(fd, &sb) < 0)
		goto out;
	if (!S_ISREG(sb.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if (lock_fd(fd, LOCK_SH) < 0 || fstat(fd, &sb) < 0)
		goto out;
	rc = read_at(fd, 0, (size_t)sb.st_size, b);
out:
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return rc;
}

int audit_verify(const char *path, struct dstate *st, FILE *out)
{
	struct buf b = {0};
	struct err e = {0};
	struct anchor an;
	if (read_anchor(st, &an, &e) < 0) {
		fprintf(out, "cairn: %s\n", e.msg);
		err_clear(&e);
		return 2;
	}
	const char *by = st ? dstate_path(st) : NULL;
	int r = read_log(path, &b);
	if (r < 0) {
		fprintf(out, "cairn: error: %s: cannot read: %s\n", path, strerror(errno));
		buf_free(&b);
		return 2;
	}
	if (r == 1) {
		buf_free(&b);
		if (an.lines > 0) {
			fprintf(out, "cairn: audit: line 1: cut off (the state store confirms %" PRId64
			        " lines, there is no %s)\n", an.lines, path);
			return 1;
		}
		fprintf(out, "cairn: audit: no %s: 0 lines, intact\n", path);
		return 0;
	}
	struct scan s;
	scan_buf(b.s ? b.s : "", b.len, &s);
	char *why = NULL;
	enum verdict v = diagnose(&s, &an, &why);
	switch (v) {
	case V_BAD:
		fprintf(out, "cairn: audit: %s\n", why);
		break;
	case V_INTACT:
		fprintf(out, "cairn: audit: %zu lines, chain intact, tail confirmed by %s\n", s.n, by);
		break;
	case V_UNCONFIRMED:
		fprintf(out, "cairn: audit: %zu lines, chain intact; line %zu is not yet confirmed by %s"
		        " (its append was killed before it could say so; the next deploy adopts it)\n",
		        s.n, s.n, by);
		break;
	case V_NO_ANCHOR:
		fprintf(out, "cairn: audit: line %zu: cannot be confirmed (the chain is intact, but there"
		        " is no state store to confirm its tail)\n", s.n);
		break;
	}
	free(why);
	scan_free(&s);
	buf_free(&b);
	return v == V_INTACT || v == V_UNCONFIRMED ? 0 : 1;
}

/* An entry as one readable line. */
static void print_line(const struct line *l, FILE *out)
{
	const char *time = str_get(l, "time"), *user = str_get(l, "user"), *kind = str_get(l, "kind"),
	           *dep = str_get(l, "deployment"), *stage = str_get(l, "stage"),
	           *from = str_get(l, "from"), *to = str_get(l, "to"), *result = str_get(l, "result"),
	           *detail = str_get(l, "detail");
	char move[64];
	if (from && to)
		snprintf(move, sizeof move, "%.12s->%.12s", *from ? from : "(none)", *to ? to : "(none)");
	else
		snprintf(move, sizeof move, "%.12s", to && *to ? to : from && *from ? from : "-");
	fprintf(out, "%s  %s  %-9s %s  %s  %s  %s", time ? time : "?", user ? user : "?",
	        kind ? kind : "?", dep ? dep : "-", stage ? stage : "-", move, result ? result : "-");
	if (detail) {
		/* one line, whatever the detail holds */
		fputs("  ", out);
		for (const char *p = detail; *p; p++)
			fputc(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p, out);
	}
	fputc('\n', out);
}

int audit_print(const char *path, int json, FILE *out, struct err *e)
{
	struct buf b = {0};
	int r = read_log(path, &b);
	if (r < 0) {
		buf_free(&b);
		return err_sys(e, "%s: cannot read", path);
	}
	if (r == 1) {
		if (!json)
			fprintf(out, "cairn: audit: no %s (nothing was deployed here)\n", path);
		buf_free(&b);
		return 0;
	}
	if (json) {
		fwrite(b.s ? b.s : "", 1, b.len, out);
		buf_free(&b);
		return 0;
	}
	struct scan s;
	scan_buf(b.s ? b.s : "", b.len, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.v[i].ok)
			print_line(&s.v[i], out);
		else
			fprintf(out, "line %zu: not a valid entry (cairn audit verify)\n", i + 1);
	}
	if (s.partial)
		fprintf(out, "line %zu: torn (%zu bytes without a newline)\n", s.n + 1, s.partial);
	scan_free(&s);
	buf_free(&b);
	return 0;
}
