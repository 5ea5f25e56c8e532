/* deploy/records: releases, deployments, rollouts and health verdicts in
 * the state store (state.h; the schema is in state.c). Each function is
 * one statement or one transaction: what it writes is all there after a
 * kill -9, or none of it. */
#include "deploy/state.h"
#include "deploy/state_int.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* Run a statement that returns no rows, and finalize it. 0 or -1 with *e. */
static int exec_done(struct dstate *s, sqlite3_stmt *st, struct err *e)
{
	if (!st)
		return -1;
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : ds_err(s, e, "cannot write the state store");
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return xstrdup(t ? (const char *)t : "");
}

int dstate_release_put(struct dstate *s, const char *rel, const char *deployment,
                       const char *config, const char *manifest, const char *tests,
                       const char *provenance, struct err *e)
{
	const char *a[] = {rel, deployment, config, manifest, tests};
	sqlite3_stmt *st = ds_prep(s, "INSERT OR IGNORE INTO rels VALUES (?, ?, ?, ?, ?, ?, ?)", a, 5,
	                           e);
	if (st) {
		sqlite3_bind_int64(st, 6, ds_now_ms());
		sqlite3_bind_text(st, 7, provenance, -1, SQLITE_STATIC);
	}
	return exec_done(s, st, e);
}

/* The one text sql selects of release rel's record (fresh; "" when none). */
static char *rel_text(struct dstate *s, const char *rel, const char *sql)
{
	struct err e = {0};
	const char *a[] = {rel};
	sqlite3_stmt *st = ds_prep(s, sql, a, 1, &e);
	err_clear(&e);
	char *t = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		t = col_dup(st, 0);
	if (st)
		sqlite3_finalize(st);
	return t ? t : xstrdup("");
}

char *dstate_release_provenance(struct dstate *s, const char *rel)
{
	return rel_text(s, rel, "SELECT provenance FROM rels WHERE release = ?");
}

int dstate_release_get(struct dstate *s, const char *deployment, const char *prefix,
                       char rel[65], char **config, char **manifest, struct err *e)
{
	size_t n = strlen(prefix);
	if (n < 4 || n > 64 || strspn(prefix, "0123456789abcdef") != n)
		return 1;
	char *hi = xasprintf("%s~", prefix); /* '~' sorts after every hex digit */
	const char *a[] = {deployment, prefix, hi};
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT release, config, manifest FROM rels WHERE deployment = ?"
	                        " AND release >= ? AND release < ? LIMIT 2",
	                        a, 3, e);
	if (!st) {
		free(hi);
		return -1;
	}
	int rc = 1, r;
	for (int i = 0; (r = sqlite3_step(st)) == SQLITE_ROW; i++) {
		if (i == 1) {
			rc = 2;
			break;
		}
		ds_text(st, 0, rel, 65);
		if (config)
			*config = col_dup(st, 1);
		if (manifest)
			*manifest = col_dup(st, 2);
		rc = 0;
	}
	if (rc == 2) {
		if (config)
			free(*config), *config = NULL;
		if (manifest)
			free(*manifest), *manifest = NULL;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = ds_err(s, e, "cannot read the releases");
	sqlite3_finalize(st);
	free(hi);
	return rc;
}

char *dstate_release_tests(struct dstate *s, const char *rel)
{
	return rel_text(s, rel, "SELECT tests FROM rels WHERE release = ?");
}

int dstate_deployment_put(struct dstate *s, const char *deployment, const char *config,
                          struct err *e)
{
	const char *a[] = {deployment, config};
	sqlite3_stmt *st = ds_prep(s, "INSERT OR REPLACE INTO deployments VALUES (?, ?, ?)", a, 2, e);
	if (st)
		sqlite3_bind_int64(st, 3, ds_now_ms());
	return exec_done(s, st, e);
}

int dstate_deployments(struct dstate *s, char ***labels, char ***configs, size_t *n,
                       struct err *e)
{
	sqlite3_stmt *st = ds_prep(s, "SELECT deployment, config FROM deployments ORDER BY deployment",
	                        NULL, 0, e);
	*labels = xcalloc(1, sizeof **labels);
	*configs = xcalloc(1, sizeof **configs);
	*n = 0;
	if (!st)
		return -1;
	size_t cap = 1;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			cap *= 2;
			*labels = xreallocarray(*labels, cap, sizeof **labels);
			*configs = xreallocarray(*configs, cap, sizeof **configs);
		}
		(*labels)[*n] = col_dup(st, 0);
		(*configs)[*n] = col_dup(st, 1);
		(*n)++;
		(*labels)[*n] = (*configs)[*n] = NULL;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : ds_err(s, e, "cannot read the deployments");
}

int dstate_rollout_begin(struct dstate *s, const char *deployment, const char *rel,
                         int64_t *id, struct err *e)
{
	const char *a[] = {deployment, rel};
	sqlite3_stmt *st = ds_prep(s,
	                        "INSERT INTO rollouts(deployment, release, state, started_ms)"
	                        " VALUES (?, ?, 'running', ?)",
	                        a, 2, e);
	if (st)
		sqlite3_bind_int64(st, 3, ds_now_ms());
	if (exec_done(s, st, e) < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int dstate_rollout_set(struct dstate *s, int64_t id, const char *state, const char *stage,
                       struct err *e)
{
	const char *a[] = {state, stage};
	sqlite3_stmt *st = ds_prep(s, "UPDATE rollouts SET state = ?, stage = ?, ended_ms = ? WHERE id = ?",
	                        a, 2, e);
	if (st) {
		if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)
			sqlite3_bind_int64(st, 3, ds_now_ms());
		sqlite3_bind_int64(st, 4, id);
	}
	return exec_done(s, st, e);
}

int dstate_rollout_open(struct dstate *s, const char *deployment, struct drollout *r,
                        struct err *e)
{
	const char *a[] = {deployment};
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT id, release, state, stage FROM rollouts WHERE deployment = ?"
	                        " AND ended_ms IS NULL ORDER BY id DESC LIMIT 1",
	                        a, 1, e);
	if (!st)
		return -1;
	memset(r, 0, sizeof *r);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		ds_text(st, 1, r->release, sizeof r->release);
		ds_text(st, 2, r->state, sizeof r->state);
		ds_text(st, 3, r->stage, sizeof r->stage);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ds_err(s, e, "cannot read the rollouts");
	return rc == SQLITE_ROW;
}

int dstate_rollout_changed(struct dstate *s, int64_t id, struct dstep **v, size_t *n,
                           struct err *e)
{
	*v = NULL;
	*n = 0;
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT MIN(id), deployment, stage, from_rel, to_rel, what, rollout"
	                        " FROM steps WHERE rollout = ? AND what = 'apply' GROUP BY stage"
	                        " ORDER BY MIN(id)",
	                        NULL, 0, e);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return ds_steps(s, st, v, n, e);
}

int dstate_verdict(struct dstate *s, const char *deployment, const char *stage, const char *rel,
                   const char *verdict, struct err *e)
{
	const char *a[] = {verdict, deployment, stage, rel};
	sqlite3_stmt *st = ds_prep(s,
	                        "UPDATE releases SET health = ? WHERE rowid = (SELECT MAX(rowid)"
	                        " FROM releases WHERE deployment = ? AND stage = ? AND release = ?)",
	                        a, 4, e);
	return exec_done(s, st, e);
}

int dstate_passed(struct dstate *s, const char *deployment, const char *stage, const char *rel)
{
	struct err e = {0};
	const char *a[] = {deployment, stage, rel};
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT 1 FROM releases WHERE deployment = ? AND stage = ?"
	                        " AND release = ? AND health = 'passed' LIMIT 1",
	                        a, 3, &e);
	err_clear(&e);
	if (!st)
		return 0;
	int yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

int dstate_previous(struct dstate *s, const char *deployment, const char *stage,
                    const char *cur, char out[65], struct err *e)
{
	out[0] = 0;
	const char *a[] = {deployment, stage, cur};
	/* the last one that passed its checks here; else the last applied */
	static const char *const sql[] = {
		"SELECT release FROM releases r WHERE deployment = ? AND stage = ? AND result = 'ok'"
		" AND release <> ? AND release <> '' AND EXISTS (SELECT 1 FROM releases p WHERE"
		" p.deployment = r.deployment AND p.stage = r.stage AND p.release = r.release"
		" AND p.health = 'passed') ORDER BY rowid DESC LIMIT 1",
		"SELECT release FROM releases WHERE deployment = ? AND stage = ? AND result = 'ok'"
		" AND release <> ? AND release <> '' ORDER BY rowid DESC LIMIT 1",
	};
	for (int i = 0; i < 2 && !out[0]; i++) {
		sqlite3_stmt *st = ds_prep(s, sql[i], a, 3, e);
		if (!st)
			return -1;
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			ds_text(st, 0, out, 65);
		sqlite3_finalize(st);
		if (r != SQLITE_ROW && r != SQLITE_DONE)
			return ds_err(s, e, "cannot read the releases");
	}
	return 0;
}

int dstate_last(struct dstate *s, const char *deployment, const char *stage,
                struct dstage_last *l, struct err *e)
{
	memset(l, 0, sizeof *l);
	const char *a[] = {deployment, stage};
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT release, result, health, user, applied_ms FROM releases"
	                        " WHERE deployment = ? AND stage = ? ORDER BY rowid DESC LIMIT 1",
	                        a, 2, e);
	if (!st)
		return -1;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		ds_text(st, 0, l->release, sizeof l->release);
		ds_text(st, 1, l->result, sizeof l->result);
		ds_text(st, 2, l->health, sizeof l->health);
		ds_text(st, 3, l->user, sizeof l->user);
		l->when_ms = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : ds_err(s, e, "cannot read the releases");
}

int dstate_roots(struct dstate *s, struct droot **v, size_t *n, struct err *e)
{
	*v = NULL;
	*n = 0;
	sqlite3_stmt *st = ds_prep(s,
	                        "SELECT deployment, stage, release, MAX(rowid) m FROM releases"
	                        " WHERE result = 'ok' AND release <> ''"
	                        " GROUP BY deployment, stage, release ORDER BY deployment, stage, m DESC",
	                        NULL, 0, e);
	if (!st)
		return -1;
	size_t cap = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		vec_reserve(v, &cap, *n + 1, sizeof **v);
		struct droot *x = &(*v)[(*n)++];
		ds_text(st, 0, x->deployment, sizeof x->deployment);
		ds_text(st, 1, x->stage, sizeof x->stage);
		ds_text(st, 2, x->release, sizeof x->release);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : ds_err(s, e, "cannot read the releases");
}

int dstate_audit_get(struct dstate *s, int64_t *lines, char hash[65], struct err *e)
{
	*lines = 0;
	hash[0] = 0;
	sqlite3_stmt *st = ds_prep(s, "SELECT lines, hash FROM audit_anchor WHERE id = 1", NULL, 0, e);
	if (!st)
		return -1;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*lines = sqlite3_column_int64(st, 0);
		ds_text(st, 1, hash, 65);
	}
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : ds_err(s, e, "cannot read the audit anchor");
}

int dstate_audit_set(struct dstate *s, int64_t lines, const char *hash, struct err *e)
{
	const char *a[] = {hash};
	sqlite3_stmt *st = ds_prep(s, "INSERT OR REPLACE INTO audit_anchor VALUES (1, ?2, ?1)", a, 1, e);
	if (st)
		sqlite3_bind_int64(st, 2, lines);
	return exec_done(s, st, e);
}
