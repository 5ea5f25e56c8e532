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
#include "deploy/audit_int.h"
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

struct audit {
	char *path;         /* the log */
	int fd;             /* O_RDWR | O_APPEND */
	struct dstate *st;  /* the anchor's store (not ours) */
	char host[256];     /* gethostname */
};

/* ---- appending ---- */


/* Read [off, off + n) of fd into b. 0 or -1 with errno. */
int au_read_at(int fd, off_t off, size_t n, struct buf *b)
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
	if (au_read_anchor(a->st, &an, e) < 0)
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
		if (au_read_at(a->fd, base, (size_t)(size - base), &b) < 0) {
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
		au_line_read(&t[k].l);
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
		if (au_read_at(a->fd, 0, (size_t)size, &all) < 0) {
			buf_free(&all);
			rc = err_sys(e, "%s: cannot read", a->path);
			goto out;
		}
		au_scan_buf(all.s, all.len, &sc);
		if (au_diagnose(&sc, &an, &why) != V_BAD)
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
			memcpy(last, au_hash_at(&sc, sc.n), 65);
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
			if (au_read_anchor(a->st, &now, e) < 0)
				rc = -1;
			else
				memcpy(prev, now.hash, 65);
		}
		free(detail);
		free(why);
		au_scan_free(&sc);
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
			if (au_read_anchor(a->st, &now, e) < 0)
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

int au_lock_fd(int fd, int how)
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
	if (au_lock_fd(a->fd, LOCK_EX) < 0)
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

