/* deploy/audit_scan: the audit log read back: lines parsed, the chain
 * and the anchor checked, what is wrong named (audit.c says the format). */
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

/* ---- reading a line ---- */


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
void au_line_read(struct line *l)
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


void au_scan_buf(const char *b, size_t len, struct scan *s)
{
	memset(s, 0, sizeof *s);
	size_t cap = 0, at = 0;
	for (;;) {
		const char *nl = at < len ? memchr(b + at, '\n', len - at) : NULL;
		if (!nl)
			break;
		struct line l = {.p = b + at, .n = (size_t)(nl - (b + at))};
		au_line_read(&l);
		VEC_PUSH(s->v, s->n, cap, l);
		at = (size_t)(nl - b) + 1;
	}
	s->partial = len - at;
}

void au_scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		json_members_free(s->v[i].f, s->v[i].nf);
	free(s->v);
}


/* seq and hash of line i (1-based; 0: before the first). */
static int64_t seq_at(const struct scan *s, size_t i)
{
	return i ? s->v[i - 1].seq : 0;
}

const char *au_hash_at(const struct scan *s, size_t i)
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
	const char *want_prev = au_hash_at(s, i - 1);
	/* line i - 1 is one too many: line i chains to the line before it */
	if (i >= 2 && l->seq == seq_at(s, i - 2) + 1 && !strcmp(l->prev, au_hash_at(s, i - 2)))
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


/* The log in s against a: V_BAD with *why ("line N: what", fresh), or
 * intact: V_INTACT (the anchor confirms the tail), V_UNCONFIRMED (one
 * line after the anchor's: adopted by the next append), V_NO_ANCHOR. */
enum verdict au_diagnose(const struct scan *s, const struct anchor *a, char **why)
{
	*why = NULL;
	for (size_t i = 1; i <= s->n; i++) {
		const struct line *l = &s->v[i - 1];
		if (!l->ok) {
			*why = xasprintf("line %zu: %s (not a valid entry)", i,
			                 i == s->n && !s->partial ? "torn or edited" : "edited");
			return V_BAD;
		}
		if (l->seq != seq_at(s, i - 1) + 1 || strcmp(l->prev, au_hash_at(s, i - 1))) {
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

int au_read_anchor(struct dstate *st, struct anchor *an, struct err *e)
{
	memset(an, 0, sizeof *an);
	an->have = st != NULL;
	return st ? dstate_audit_get(st, &an->lines, an->hash, e) : 0;
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
	if (au_lock_fd(fd, LOCK_SH) < 0 || fstat(fd, &sb) < 0)
		goto out;
	rc = au_read_at(fd, 0, (size_t)sb.st_size, b);
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
	if (au_read_anchor(st, &an, &e) < 0) {
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
	au_scan_buf(b.s ? b.s : "", b.len, &s);
	char *why = NULL;
	enum verdict v = au_diagnose(&s, &an, &why);
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
	au_scan_free(&s);
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
	au_scan_buf(b.s ? b.s : "", b.len, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.v[i].ok)
			print_line(&s.v[i], out);
		else
			fprintf(out, "line %zu: not a valid entry (cairn audit verify)\n", i + 1);
	}
	if (s.partial)
		fprintf(out, "line %zu: torn (%zu bytes without a newline)\n", s.n + 1, s.partial);
	au_scan_free(&s);
	buf_free(&b);
	return 0;
}
