/* deploy/state: the store refuses what it cannot read and leaves it be;
 * locks go to one owner and are taken over from a dead or expired one;
 * the journal keeps a step from before it acts until it ends. */
#include "deploy/state.h"
#include "test.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_db(void)
{
	char *dir = xasprintf("%s/dstate.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	char *p = xasprintf("%s/state.db", dir);
	free(dir);
	return p;
}

/* Remove p's directory, and free p. */
static void rm_db(char *p)
{
	char *slash = strrchr(p, '/');
	*slash = 0;
	fs_rm_rf(p);
	free(p);
}

static void sql(const char *path, const char *q)
{
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void set_holder_on(const char *path, const char *on, long pid, unsigned long long start,
                          long long lease_delta_ms)
{
	char host[256] = "?";
	gethostname(host, sizeof host - 1);
	if (on)
		snprintf(host, sizeof host, "%s", on);
	char *q = xasprintf("INSERT OR REPLACE INTO locks VALUES ('web', %ld, '%s', %llu, 0,"
	                    " CAST(strftime('%%s','now') AS INTEGER) * 1000 + %lld)",
	                    pid, host, start, lease_delta_ms);
	sql(path, q);
	free(q);
}

/* The lock held by pid (started at start) of this host. */
static void set_holder(const char *path, long pid, unsigned long long start, long long lease_delta_ms)
{
	set_holder_on(path, NULL, pid, start, lease_delta_ms);
}

TEST(dstate_refuses_a_file_that_is_no_store_and_leaves_it)
{
	char *p = tmp_db();
	FILE *f = fopen(p, "w");
	fputs("this is not a database, but somebody's notes\n", f);
	fclose(f);
	struct dstate *s;
	struct err e = {0};
	CHECK(dstate_open(p, &s, &e) < 0);
	CHECK(e.kind == ERR_INPUT && strstr(e.msg, "not a cairn state store"));
	struct buf b = {0};
	CHECK(fs_read_all(p, &b) == 0);
	CHECK_STR(b.s, "this is not a database, but somebody's notes\n");
	buf_free(&b);
	err_clear(&e);
	rm_db(p);
}

TEST(dstate_refuses_a_newer_schema_and_leaves_it)
{
	char *p = tmp_db();
	sql(p, "CREATE TABLE future(x); PRAGMA user_version = 7;");
	struct dstate *s;
	struct err e = {0};
	CHECK(dstate_open(p, &s, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "newer cairn (schema 7"));
	err_clear(&e);
	/* still version 7, its table still there */
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 7);
	sqlite3_finalize(st);
	CHECK(sqlite3_exec(db, "SELECT * FROM future", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	rm_db(p);
}

TEST(dstate_lock_one_owner_and_takeovers)
{
	char *p = tmp_db();
	struct dstate *s;
	struct err e = {0};
	CHECK(dstate_open(p, &s, &e) == 0);
	struct dlock_owner h;
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 0);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 0); /* ours: renewed */

	/* a live owner elsewhere (our parent), lease running: refused, named */
	long pp = (long)getppid();
	set_holder(p, pp, dstate_pid_start(pp), 60000);
	memset(&h, 0, sizeof h);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 1);
	CHECK(h.pid == pp && h.lease_ms > 0);

	/* on this host a live owner keeps it past its lease (a long step) */
	set_holder(p, pp, dstate_pid_start(pp), -1000);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 1);

	/* another host's owner: alive while its lease runs, then taken over */
	set_holder_on(p, "elsewhere", 4242, 1, 60000);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 1 && !strcmp(h.host, "elsewhere"));
	set_holder_on(p, "elsewhere", 4242, 1, -1000);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 0);

	/* the pid was reused by another process (another start time) */
	set_holder(p, pp, dstate_pid_start(pp) + 1, 60000);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 0);

	/* its owner is dead */
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	waitpid(c, NULL, 0);
	set_holder(p, (long)c, 12345, 60000);
	CHECK(dstate_lock(s, "web", 60000, &h, &e) == 0);

	/* another deployment's lock is another lock */
	set_holder(p, pp, dstate_pid_start(pp), 60000);
	CHECK(dstate_lock(s, "db", 60000, &h, &e) == 0);

	CHECK(dstate_unlock(s, "db", &e) == 0);
	dstate_close(s);
	err_clear(&e);
	rm_db(p);
}

TEST(dstate_journal_keeps_a_step_until_it_ends)
{
	char *p = tmp_db();
	struct dstate *s;
	struct err e = {0};
	CHECK(dstate_open(p, &s, &e) == 0);
	struct dstep st = {0};
	strcpy(st.deployment, "web");
	strcpy(st.stage, "canary");
	strcpy(st.to, "aaaa");
	strcpy(st.what, "apply");
	int64_t id1, id2;
	CHECK(dstate_step_begin(s, &st, &id1, &e) == 0);
	dstate_close(s); /* as if killed between journaling and acting */

	CHECK(dstate_open(p, &s, &e) == 0);
	struct dstep *v;
	size_t n;
	CHECK(dstate_unfinished(s, "web", &v, &n, &e) == 0);
	CHECK(n == 1 && v[0].id == id1 && !strcmp(v[0].stage, "canary") && !strcmp(v[0].to, "aaaa"));
	free(v);
	CHECK(dstate_step_end(s, id1, "ok", &e) == 0);
	CHECK(dstate_unfinished(s, "web", &v, &n, &e) == 0 && n == 0);
	free(v);
	char cur[65];
	CHECK(dstate_current(s, "web", "canary", cur, &e) == 0);
	CHECK_STR(cur, "aaaa");

	/* a failed apply leaves the stage's release as it was */
	strcpy(st.from, "aaaa");
	strcpy(st.to, "bbbb");
	CHECK(dstate_step_begin(s, &st, &id2, &e) == 0);
	CHECK(dstate_step_end(s, id2, "failed", &e) == 0);
	CHECK(dstate_current(s, "web", "canary", cur, &e) == 0);
	CHECK_STR(cur, "aaaa");
	CHECK(dstate_current(s, "web", "east", cur, &e) == 0);
	CHECK_STR(cur, "");
	/* ending a step that does not exist is an error */
	CHECK(dstate_step_end(s, id2 + 100, "ok", &e) < 0);
	err_clear(&e);
	dstate_close(s);
	rm_db(p);
}
