/* files: see files.h. */
#include "exec/files.h"
#include "util/par.h"
#include "util/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void files_init(struct files *fl, const struct graph *g, struct state *st, struct fsys *fs)
{
	memset(fl, 0, sizeof *fl);
	fl->g = g;
	fl->st = st;
	fl->fs = fs;
	size_t n = g->nfiles ? g->nfiles : 1;
	fl->src_d = xcalloc(n, sizeof *fl->src_d);
	fl->src_known = xcalloc(n, 1);
}

void files_free(struct files *fl)
{
	free(fl->src_d);
	free(fl->src_known);
	free(fl->pre);
	free(fl->pre_ok);
	for (size_t i = 0; i < fl->swept.cap; i++)
		free(fl->swept.slots[i].val);
	map_free(&fl->swept);
}

/* ---- the pre-stat ---- */

struct prestat {
	struct files *fl;
	const uint32_t *ids; /* file ids to stat */
};

static void prestat_range(void *ctx, size_t lo, size_t hi)
{
	struct prestat *p = ctx;
	struct files *fl = p->fl;
	for (size_t i = lo; i < hi; i++) {
		uint32_t id = p->ids[i];
		fl->pre_ok[id] = fl->fs->stat(fl->fs, fl->g->files[id]->path, &fl->pre[id]) == 0 ? 1 : 2;
	}
}

void files_prestat(struct files *fl, const struct sched_known *known, int threads)
{
	const struct graph *g = fl->g;
	fl->pre = xcalloc(g->nfiles ? g->nfiles : 1, sizeof *fl->pre);
	fl->pre_ok = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	unsigned char *mark = xcalloc(g->nfiles ? g->nfiles : 1, 1);
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < g->nactions; i++) {
		struct action *a = g->actions[i];
		if (!a->wanted)
			continue;
		for (size_t k = 0; k < a->ninputs + a->noutputs; k++) {
			struct gfile *f = k < a->ninputs ? a->inputs[k] : a->outputs[k - a->ninputs];
			if (k < a->ninputs && f->producer && f->producer->wanted)
				continue;
			if (mark[f->id])
				continue;
			mark[f->id] = 1;
			unsigned char w = known ? known->what[f->id] : KNOWN_NOT;
			if (w == KNOWN_NOT) {
				VEC_PUSH(ids, n, cap, f->id);
			} else {
				/* the no-op check took it already */
				fl->pre[f->id] = known->st[f->id];
				fl->pre_ok[f->id] = w == KNOWN_MISSING ? 2 : 1;
			}
		}
	}
	struct prestat p = {fl, ids};
	par_for(n, threads, 256, prestat_range, &p, NULL, NULL);
	free(ids);
	free(mark);
}

/* ---- digests ---- */

int files_first_digest(struct files *fl, const struct gfile *f, struct digest *d)
{
	unsigned char ok = fl->pre_ok ? fl->pre_ok[f->id] : 0;
	if (ok)
		fl->pre_ok[f->id] = 0;
	if (ok == 2) {
		errno = ENOENT;
		return -1;
	}
	if (ok == 1)
		return state_digest_st(fl->st, fl->fs, f->path, &fl->pre[f->id], d);
	return state_digest(fl->st, fl->fs, f->path, d);
}

int files_source_digest(struct files *fl, const struct gfile *f, struct digest *d)
{
	if (fl->src_known[f->id] == 0) {
		int r = files_first_digest(fl, f, &fl->src_d[f->id]);
		fl->src_known[f->id] = r == 0 ? 1 : 2;
		if (r < 0)
			return -1;
	}
	if (fl->src_known[f->id] == 2) {
		errno = ENOENT;
		return -1;
	}
	*d = fl->src_d[f->id];
	return 0;
}

/* ---- leftovers ---- */

static int declared_output(void *ctx, const char *path)
{
	struct gfile *f = graph_find(ctx, path);
	return f && f->producer;
}

/* Temp files are renamed into place or removed, unless cairn is killed in
 * between; then they would stay forever. Each output directory is swept
 * when the first action with an output there runs or is restored, once
 * per build: a full rebuild lists each directory once, and a no-op build
 * lists none. A directory no action writes to keeps its leftovers until
 * one does (they are wasted space, never read). */
void files_sweep(struct files *fl, const char *path)
{
	const char *sl = strrchr(path, '/');
	char *dir = sl ? xstrndup(path, (size_t)(sl - path)) : xstrdup(".");
	if (map_get(&fl->swept, dir)) {
		free(dir);
		return;
	}
	map_put(&fl->swept, dir, dir);
	fl->fs->sweep(fl->fs, dir, declared_output, (void *)fl->g);
}
