/* deploy/audit: every line chained to the one before and the tail
 * anchored in the state store; verify names the first line edited,
 * removed, reordered, inserted, cut off or torn; a torn tail is recorded
 * and dropped, a line a killed append did not anchor is adopted, and a
 * log that does not match its anchor is never repaired. */
#include "deploy/audit.h"
#include "deploy/rollout.h"
#include "deploy/state.h"
#include "test.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZEROS_FOR_TEST "0000000000000000000000000000000000000000000000000000000000000000"

/* A log and its store in a fresh directory. */
struct fx {
	char *dir, *log, *db;
	struct dstate *st;
};

static void fx_open(struct fx *f)
{
	struct err e = {0};
	f->dir = test_tmpdir();
	f->log = xasprintf("%s/audit.log", f->dir);
	f->db = xasprintf("%s/state.db", f->dir);
	CHECK(dstate_open(f->db, &f->st, &e) == 0);
	err_clear(&e);
}

static void fx_close(struct fx *f)
{
	dstate_close(f->st);
	fs_rm_rf(f->dir);
	free(f->dir);
	free(f->log);
	free(f->db);
}

/* Append n entries through one open log: notes of the engine, and one
 * of another caller's. */
static void fill(struct fx *f, int n)
{
	struct audit *a;
	struct err e = {0};
	CHECK(audit_open(f->log, f->st, &a, &e) == 0);
	for (int i = 0; i < n; i++) {
		char stage[16];
		snprintf(stage, sizeof stage, "s%d", i);
		struct deploy_note nt = {"apply", "//web:web", stage, "", "abc", "ok",
		                         i == 1 ? "a \"quoted\"\nnewline" : NULL, 1000000, 3000000};
		if (i == 2) {
			const char *fl[] = {"action", "//x:y", "reason", "no network", NULL};
			CHECK(audit_append(a, "denied", fl, &e) == 0);
		} else {
			CHECK(audit_note(a, &nt, &e) == 0);
		}
	}
	audit_close(a);
	err_clear(&e);
}

/* verify's exit and its line. */
static int verify(struct fx *f, char **said)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int r = audit_verify(f->log, f->st, m);
	fclose(m);
	*said = text;
	return r;
}

static void expect(struct fx *f, int code, const char *has)
{
	char *said;
	int r = verify(f, &said);
	CHECK(r == code);
	if (!strstr(said, has)) {
		fprintf(stderr, "  verify said: %s  wanted: %s\n", said, has);
		test_failures++;
	}
	free(said);
}

/* The log's lines (without '\n') into a fresh NULL-ended array. */
static char **lines(struct fx *f, size_t *n)
{
	struct buf b = {0};
	CHECK(fs_read_all(f->log, &b) == 0);
	char **v = xcalloc(1, sizeof *v);
	*n = 0;
	for (const char *p = b.s ? b.s : "", *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		v = xreallocarray(v, *n + 2, sizeof *v);
		v[(*n)++] = xstrndup(p, (size_t)(nl - p));
		v[*n] = NULL;
	}
	buf_free(&b);
	return v;
}

static void put_lines(struct fx *f, char **v, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s\n", v[i]);
	CHECK(fs_write_atomic(f->log, b.s ? b.s : "", b.len, 0644) == 0);
	buf_free(&b);
}

static void append_raw(struct fx *f, const char *s)
{
	FILE *fp = fopen(f->log, "a");
	fputs(s, fp);
	fclose(fp);
}

static char *hash_of(const char *s)
{
	struct digest d;
	char h[65];
	sha_buf(s, strlen(s), &d);
	digest_hex(&d, h);
	return xstrdup(h);
}

TEST(audit_chain_and_anchor)
{
	struct fx f;
	fx_open(&f);
	expect(&f, 0, "no ");
	fill(&f, 5);
	size_t n;
	char **v = lines(&f, &n);
	CHECK(n == 5);
	/* each prev is the hash of the line before; the anchor the last's */
	for (size_t i = 0; i < n; i++) {
		struct json_member *m;
		size_t nm;
		CHECK(json_flat_parse(v[i], strlen(v[i]), &m, &nm) == 0);
		char *want = i ? hash_of(v[i - 1]) : xstrdup(ZEROS_FOR_TEST);
		char seq[24];
		snprintf(seq, sizeof seq, "%zu", i + 1);
		CHECK_STR(m[0].key, "seq");
		CHECK_STR(m[0].val, seq);
		CHECK_STR(m[1].key, "prev");
		CHECK_STR(m[1].val, want);
		CHECK_STR(m[2].key, "time");
		CHECK(strlen(m[2].val) == 24 && m[2].val[23] == 'Z');
		CHECK_STR(m[3].key, "user");
		CHECK_STR(m[5].key, "kind");
		CHECK_STR(m[5].val, i == 2 ? "denied" : "apply");
		CHECK_STR(m[nm - 1].key, i == 2 ? "reason" : "ms");
		CHECK_STR(m[nm - 1].val, i == 2 ? "no network" : "2");
		if (i == 1)
			CHECK_STR(m[nm - 2].val, "a \"quoted\"\nnewline");
		free(want);
		json_members_free(m, nm);
	}
	int64_t lines_n;
	char h[65];
	struct err e = {0};
	CHECK(dstate_audit_get(f.st, &lines_n, h, &e) == 0);
	char *last = hash_of(v[4]);
	CHECK(lines_n == 5);
	CHECK_STR(h, last);
	free(last);
	expect(&f, 0, "5 lines, chain intact, tail confirmed by");
	/* another open carries on the chain */
	fill(&f, 1);
	expect(&f, 0, "6 lines, chain intact");
	/* print: one line per entry, the detail on its line */
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	CHECK(audit_print(f.log, 0, m, &e) == 0);
	fclose(m);
	CHECK(strstr(text, "apply     //web:web  s0  (none)->abc  ok\n") != NULL);
	CHECK(strstr(text, "ok  a \"quoted\" newline\n") != NULL);
	free(text);
	/* the log's own keys are refused */
	struct audit *a;
	CHECK(audit_open(f.log, f.st, &a, &e) == 0);
	const char *bad[] = {"seq", "7", NULL};
	CHECK(audit_append(a, "x", bad, &e) < 0 && strstr(e.msg, "'seq'"));
	err_clear(&e);
	audit_close(a);
	strv_free(v);
	fx_close(&f);
}

/* Each tampering of a six-line log, on a fresh one, names its line. */
static void tamper(void (*edit)(struct fx *f, char **v, size_t n), const char *want)
{
	struct fx f;
	fx_open(&f);
	fill(&f, 6);
	size_t n;
	char **v = lines(&f, &n);
	edit(&f, v, n);
	expect(&f, 1, want);
	strv_free(v);
	fx_close(&f);
}

static void edit_line3(struct fx *f, char **v, size_t n)
{
	char *p = strstr(v[2], "no network");
	memcpy(p, "ok network", 10);
	put_lines(f, v, n);
}

static void edit_last(struct fx *f, char **v, size_t n)
{
	char *p = strstr(v[n - 1], "\"ok\"");
	memcpy(p, "\"no\"", 4);
	put_lines(f, v, n);
}

static void remove_line3(struct fx *f, char **v, size_t n)
{
	free(v[2]);
	memmove(v + 2, v + 3, (n - 2) * sizeof *v);
	put_lines(f, v, n - 1);
}

static void swap_3_4(struct fx *f, char **v, size_t n)
{
	char *t = v[2];
	v[2] = v[3];
	v[3] = t;
	put_lines(f, v, n);
}

/* a forged line 3, chained as it should be: line 4 (the old 3) then
 * follows line 2 */
static void insert_forged(struct fx *f, char **v, size_t n)
{
	char *h = hash_of(v[1]);
	char *forged = xasprintf("{\"seq\": 3, \"prev\": \"%s\", \"kind\": \"apply\"}", h);
	char **w = xcalloc(n + 2, sizeof *w);
	for (size_t i = 0, k = 0; i < n; i++) {
		if (i == 2)
			w[k++] = forged;
		w[k++] = v[i];
	}
	put_lines(f, w, n + 1);
	free(forged);
	free(w);
	free(h);
}

static void insert_copy(struct fx *f, char **v, size_t n)
{
	char **w = xcalloc(n + 2, sizeof *w);
	for (size_t i = 0, k = 0; i < n; i++) {
		if (i == 2)
			w[k++] = v[4];
		w[k++] = v[i];
	}
	put_lines(f, w, n + 1);
	free(w);
}

static void cut_two(struct fx *f, char **v, size_t n)
{
	put_lines(f, v, n - 2);
}

static void torn_tail(struct fx *f, char **v, size_t n)
{
	append_raw(f, "{\"seq\": 7, \"pr");
}

static void garbage_line(struct fx *f, char **v, size_t n)
{
	free(v[1]);
	v[1] = xstrdup("not json");
	put_lines(f, v, n);
}

TEST(audit_verify_names_each_tampering)
{
	tamper(edit_line3, "line 3: edited (line 4 holds another hash for it)");
	tamper(edit_last, "line 6: edited (the state store holds another hash for it)");
	tamper(remove_line3, "line 3: removed before it (entry 3 is missing)");
	tamper(swap_3_4, "line 3: reordered (entry 4 here, entry 3 is at line 4)");
	tamper(insert_forged, "line 3: inserted (line 4 follows line 2)");
	tamper(insert_copy, "line 3: inserted (a copy of entry 5, line 6 holds it too)");
	tamper(cut_two, "line 5: cut off (the state store confirms 6 lines, the log has 4)");
	tamper(torn_tail, "line 7: torn (14 bytes without a newline");
	tamper(garbage_line, "line 2: edited (not a valid entry)");
}

TEST(audit_whole_log_removed_is_cut_off)
{
	struct fx f;
	fx_open(&f);
	fill(&f, 2);
	unlink(f.log);
	expect(&f, 1, "line 1: cut off (the state store confirms 2 lines");
	fx_close(&f);
}

/* A torn tail is dropped on open and recorded in a "torn" line; so is a
 * last line that is no entry, after the anchor's. */
TEST(audit_torn_tail_recorded_on_open)
{
	for (int complete = 0; complete < 2; complete++) {
		struct fx f;
		fx_open(&f);
		fill(&f, 3);
		append_raw(&f, complete ? "{\"seq\": 4, \"prev\": \"junk\"}\n" : "{\"seq\": 4, \"pr");
		expect(&f, 1, complete ? "line 4: torn or edited (not a valid entry)" : "line 4: torn");
		struct audit *a;
		struct err e = {0};
		CHECK(audit_open(f.log, f.st, &a, &e) == 0);
		audit_close(a);
		expect(&f, 0, "4 lines, chain intact, tail confirmed");
		size_t n;
		char **v = lines(&f, &n);
		CHECK(n == 4 && strstr(v[3], "\"kind\": \"torn\""));
		CHECK(strstr(v[3], complete ? "\"bytes\": 27" : "\"bytes\": 14") != NULL);
		CHECK(strstr(v[3], "\"seq\": 4, ") != NULL);
		strv_free(v);
		fill(&f, 1);
		expect(&f, 0, "5 lines, chain intact");
		fx_close(&f);
	}
}

/* Killed between fsync and the anchor: one chained line more than the
 * anchor says is intact, and the next open adopts it; two are not. */
TEST(audit_adopts_one_unanchored_line)
{
	struct fx f;
	fx_open(&f);
	fill(&f, 3);
	size_t n;
	char **v = lines(&f, &n);
	char *h2 = hash_of(v[1]);
	struct err e = {0};
	CHECK(dstate_audit_set(f.st, 2, h2, &e) == 0);
	expect(&f, 0, "3 lines, chain intact; line 3 is not yet confirmed");
	struct audit *a;
	CHECK(audit_open(f.log, f.st, &a, &e) == 0);
	audit_close(a);
	int64_t k;
	char h[65];
	char *h3 = hash_of(v[2]);
	CHECK(dstate_audit_get(f.st, &k, h, &e) == 0 && k == 3);
	CHECK_STR(h, h3);
	expect(&f, 0, "3 lines, chain intact, tail confirmed");
	/* nothing was appended by adopting */
	strv_free(v);
	v = lines(&f, &n);
	CHECK(n == 3);
	/* two lines after the anchor's: not a crash */
	char *h1 = hash_of(v[0]);
	CHECK(dstate_audit_set(f.st, 1, h1, &e) == 0);
	expect(&f, 1, "line 3: inserted (the state store confirms 1 lines");
	free(h1);
	free(h2);
	free(h3);
	strv_free(v);
	fx_close(&f);
}

/* A log that does not match its anchor is no crash: open appends a
 * "mismatch" line naming the damage, and verify keeps failing. */
TEST(audit_mismatch_recorded_never_repaired)
{
	struct fx f;
	fx_open(&f);
	fill(&f, 4);
	size_t n;
	char **v = lines(&f, &n);
	edit_last(&f, v, n);
	fill(&f, 1);
	expect(&f, 1, "line 5: records damage (found before this line was appended: line 4: edited");
	strv_free(v);
	v = lines(&f, &n);
	CHECK(n == 6 && strstr(v[4], "\"kind\": \"mismatch\"") && strstr(v[5], "\"kind\": \"apply\""));
	strv_free(v);
	/* cut off, then appended to: the cut is recorded too */
	v = lines(&f, &n);
	put_lines(&f, v, 2);
	fill(&f, 1);
	expect(&f, 1, "line 3: records damage (found before this line was appended: line 3: cut off");
	strv_free(v);
	fx_close(&f);
}
