/* deploy/state: the state store (state.h).
 *
 * The file is SQLite in WAL mode, synchronous=FULL, so a committed
 * transaction survives a kill -9 or a power cut, and a reader never sees
 * half of one. PRAGMA user_version is the schema's version (1); a store
 * with a larger one is refused, never rewritten. Schema 1:
 *
 *   locks(deployment TEXT PRIMARY KEY, pid, host, pid_start, since_ms,
 *         lease_ms)               who holds a deployment, until when
 *   steps(id INTEGER PRIMARY KEY, deployment, stage, from_rel, to_rel,
 *         what, begun_ms, ended_ms, result)
 *                                 the journal: a row is written before its
 *                                 step acts; ended_ms NULL = never ended
 *   releases(deployment, stage, release, applied_ms, user, result, health)
 *                                 every release ever applied, per stage,
 *                                 with its health verdict ("passed" once
 *                                 its check and bake passed there)
 *   rels(release TEXT PRIMARY KEY, deployment, config, manifest, tests,
 *        created_ms, provenance)  what each release is (records.c), and
 *                                 the action keys that made its bytes
 *   deployments(deployment TEXT PRIMARY KEY, config, updated_ms)
 *                                 the configuration last deployed
 *   rollouts(id INTEGER PRIMARY KEY, deployment, release, state, stage,
 *            started_ms, ended_ms)
 *                                 each cairn deploy; state "running",
 *                                 "paused" (at stage), "done", "rolled back"
 *   steps.rollout                 the rollout a step belongs to
 *   audit_anchor(id INTEGER PRIMARY KEY CHECK (id = 1), lines, hash)
 *                                 one row: how many lines .cairn/audit.log
 *                                 had after the last append and the
 *                                 SHA-256 of the last one (deploy/audit.c),
 *                                 so that a cut-off tail shows
 *
 * A lock is taken in one IMMEDIATE transaction: read the holder, decide,
 * write ourselves. Two processes cannot both win. The holder is alive when
 * it is this host's pid with the start time recorded (a reused pid has
 * another), or another host's whose lease has not run out; else it is
 * taken over. */
#include "deploy/state.h"
#include "deploy/state_int.h"
#include "util/util.h"
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { SCHEMA = 1, BUSY_MS = 5000 };

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS locks(deployment TEXT PRIMARY KEY, pid INTEGER, host TEXT,"
	" pid_start INTEGER, since_ms INTEGER, lease_ms INTEGER);"
	"CREATE TABLE IF NOT EXISTS steps(id INTEGER PRIMARY KEY, deployment TEXT, stage TEXT,"
	" from_rel TEXT, to_rel TEXT, what TEXT, begun_ms INTEGER, ended_ms INTEGER, result TEXT,"
	" rollout INTEGER);"
	"CREATE INDEX IF NOT EXISTS steps_open ON steps(deployment, ended_ms);"
	"CREATE TABLE IF NOT EXISTS releases(deployment TEXT, stage TEXT, release TEXT,"
	" applied_ms INTEGER, user TEXT, result TEXT, health TEXT);"
	"CREATE INDEX IF NOT EXISTS releases_by_stage ON releases(deployment, stage);"
	"CREATE TABLE IF NOT EXISTS rels(release TEXT PRIMARY KEY, deployment TEXT, config TEXT,"
	" manifest TEXT, tests TEXT, created_ms INTEGER, provenance TEXT);"
	"CREATE TABLE IF NOT EXISTS deployments(deployment TEXT PRIMARY KEY, config TEXT,"
	" updated_ms INTEGER);"
	"CREATE TABLE IF NOT EXISTS rollouts(id INTEGER PRIMARY KEY, deployment TEXT, release TEXT,"
	" state TEXT, stage TEXT, started_ms INTEGER, ended_ms INTEGER);"
	"CREATE TABLE IF NOT EXISTS audit_anchor(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" lines INTEGER, hash TEXT);";

int64_t ds_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *dstate_user(void)
{
	static char name[64];
	if (name[0])
		return name;
	const char *u = getenv("USER");
	struct passwd *pw = u && *u ? NULL : getpwuid(getuid());
	snprintf(name, sizeof name, "%s", u && *u ? u : pw ? pw->pw_name : "?");
	return name;
}

uint64_t dstate_pid_start(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return 0;
	unsigned long long v = 0;
	/* after ") " come fields 3..: state is 3, starttime is 22 */
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (sscanf(p, "%llu", &v) != 1)
		return 0;
	return v;
}

int ds_err(struct dstate *s, struct err *e, const char *what)
{
	return err_input(e, NULL, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Columns that schema 1 gained before any release of it, added to a store
 * made without them. 0, or -1 with *msg. */
static int add_columns(struct dstate *s, char **msg)
{
	sqlite3_stmt *st = NULL;
	int have = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info('rels') WHERE name = 'provenance'",
	                       -1, &st, NULL) == SQLITE_OK)
		have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (have)
		return 0;
	return sqlite3_exec(s->db, "ALTER TABLE rels ADD COLUMN provenance TEXT", NULL, NULL, msg) ==
	               SQLITE_OK
	           ? 0
	           : -1;
}

int dstate_open(const char *path, struct dstate **out, struct err *e)
{
	struct dstate *s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	if (gethostname(s->host, sizeof s->host - 1) < 0)
		strcpy(s->host, "?");
	s->my_start = dstate_pid_start((long)getpid());
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		ds_err(s, e, "cannot open the state store");
		dstate_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, BUSY_MS);
	sqlite3_stmt *st = NULL;
	int version = -1;
	/* reading the version is the first read: a file that is not a
	 * database fails here, before anything is written to it */
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0) {
		err_input(e, NULL, "%s: not a cairn state store (%s); it was left as it is", path,
		          sqlite3_errmsg(s->db));
		dstate_close(s);
		return -1;
	}
	if (version > SCHEMA) {
		err_input(e, NULL,
		          "%s: written by a newer cairn (schema %d, this one knows %d); it was left as it is",
		          path, version, SCHEMA);
		dstate_close(s);
		return -1;
	}
	char *msg = NULL;
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) !=
	        SQLITE_OK ||
	    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK || add_columns(s, &msg) < 0 ||
	    sqlite3_exec(s->db, "PRAGMA user_version = 1; COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
		err_input(e, NULL, "%s: cannot set up the state store: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		dstate_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

const char *dstate_path(const struct dstate *s)
{
	return s->path;
}

void dstate_close(struct dstate *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

void ds_text(sqlite3_stmt *st, int col, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Is this lock's owner alive? On this host its process says so, however
 * long a step takes; another host's owner is alive while its lease runs. */
static int alive(const struct dstate *s, const struct dlock_owner *o, int64_t now)
{
	if (strcmp(o->host, s->host) != 0)
		return o->lease_ms >= now;
	if (kill((pid_t)o->pid, 0) < 0 && errno == ESRCH)
		return 0;
	return dstate_pid_start(o->pid) == o->pid_start;
}

int dstate_lock(struct dstate *s, const char *deployment, int64_t lease_ms,
                struct dlock_owner *holder, struct err *e)
{
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return ds_err(s, e, "cannot lock the state store");
	sqlite3_stmt *st = NULL;
	int rc = -1;
	int64_t now = ds_now_ms();
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT pid, host, pid_start, since_ms, lease_ms FROM locks WHERE deployment = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, deployment, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct dlock_owner o = {0};
		o.pid = (long)sqlite3_column_int64(st, 0);
		ds_text(st, 1, o.host, sizeof o.host);
		o.pid_start = (uint64_t)sqlite3_column_int64(st, 2);
		o.since_ms = sqlite3_column_int64(st, 3);
		o.lease_ms = sqlite3_column_int64(st, 4);
		int mine = o.pid == (long)getpid() && !strcmp(o.host, s->host) && o.pid_start == s->my_start;
		if (!mine && alive(s, &o, now)) {
			*holder = o;
			sqlite3_finalize(st);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return 1;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, deployment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)getpid());
	sqlite3_bind_text(st, 3, s->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)s->my_start);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now + lease_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	rc = ds_err(s, e, "cannot take the lock");
	sqlite3_finalize(st);
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int dstate_unlock(struct dstate *s, const char *deployment, struct err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db,
	                       "DELETE FROM locks WHERE deployment = ? AND pid = ? AND host = ? AND pid_start = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return ds_err(s, e, "cannot give up the lock");
	sqlite3_bind_text(st, 1, deployment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)getpid());
	sqlite3_bind_text(st, 3, s->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)s->my_start);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : ds_err(s, e, "cannot give up the lock");
}

int dstate_step_begin(struct dstate *s, const struct dstep *stp, int64_t *id, struct err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO steps(deployment, stage, from_rel, to_rel, what, begun_ms,"
	                       " rollout) VALUES (?, ?, ?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		return ds_err(s, e, "cannot journal a step");
	sqlite3_bind_text(st, 1, stp->deployment, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stp->stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, stp->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, stp->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, stp->what, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, ds_now_ms());
	sqlite3_bind_int64(st, 7, stp->rollout);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok)
		return ds_err(s, e, "cannot journal a step");
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int dstate_step_end(struct dstate *s, int64_t id, const char *result, struct err *e)
{
	const char *user = dstate_user();
	sqlite3_stmt *st = NULL;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return ds_err(s, e, "cannot end a step");
	int ok = sqlite3_prepare_v2(s->db, "UPDATE steps SET ended_ms = ?, result = ? WHERE id = ?", -1,
	                            &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(st, 1, ds_now_ms());
		sqlite3_bind_text(st, 2, result, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, id);
		ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(s->db) == 1;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* the step's release, as the stage's, in the same transaction */
	if (ok)
		ok = sqlite3_prepare_v2(s->db,
		                        "INSERT INTO releases SELECT deployment, stage, to_rel, ended_ms, ?,"
		                        " result, NULL"
		                        " FROM steps WHERE id = ? AND what IN ('apply', 'rollback', 'reconcile')",
		                        -1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_text(st, 1, user ? user : "?", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	if (!ok || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = ds_err(s, e, "cannot end a step");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

sqlite3_stmt *ds_prep(struct dstate *s, const char *sql, const char *const *args, int n,
                      struct err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		ds_err(s, e, "cannot read or write the state store");
		return NULL;
	}
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	return st;
}

int ds_steps(struct dstate *s, sqlite3_stmt *st, struct dstep **v, size_t *n, struct err *e)
{
	*v = NULL;
	*n = 0;
	size_t cap = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		vec_reserve(v, &cap, *n + 1, sizeof **v);
		struct dstep *x = &(*v)[(*n)++];
		memset(x, 0, sizeof *x);
		x->id = sqlite3_column_int64(st, 0);
		ds_text(st, 1, x->deployment, sizeof x->deployment);
		ds_text(st, 2, x->stage, sizeof x->stage);
		ds_text(st, 3, x->from, sizeof x->from);
		ds_text(st, 4, x->to, sizeof x->to);
		ds_text(st, 5, x->what, sizeof x->what);
		x->rollout = sqlite3_column_int64(st, 6);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(*v);
		*v = NULL;
		*n = 0;
		return ds_err(s, e, "cannot read the journal");
	}
	return 0;
}

int dstate_unfinished(struct dstate *s, const char *deployment, struct dstep **v, size_t *n,
                      struct err *e)
{
	const char *a[] = {deployment};
	sqlite3_stmt *st = ds_prep(s,
	                           "SELECT id, deployment, stage, from_rel, to_rel, what, rollout FROM"
	                           " steps WHERE deployment = ? AND ended_ms IS NULL ORDER BY id",
	                           a, 1, e);
	*v = NULL;
	*n = 0;
	return st ? ds_steps(s, st, v, n, e) : -1;
}

int dstate_current(struct dstate *s, const char *deployment, const char *stage, char out[65],
                   struct err *e)
{
	out[0] = 0;
	const char *a[] = {deployment, stage};
	sqlite3_stmt *st = ds_prep(s,
	                           "SELECT release FROM releases WHERE deployment = ? AND stage = ?"
	                           " AND result = 'ok' ORDER BY rowid DESC LIMIT 1",
	                           a, 2, e);
	if (!st)
		return -1;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		ds_text(st, 0, out, 65);
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : ds_err(s, e, "cannot read the releases");
}
