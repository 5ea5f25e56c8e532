/* decide: see decide.h. */
#include "exec/decide.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* The first 64 bits of a digest: what a record keeps of an input. */
static uint64_t d64(const struct digest *d)
{
	uint64_t v;
	memcpy(&v, d->b, 8);
	return v;
}

static int cmp_kin(const void *x, const void *y)
{
	return strcmp(((const struct key_input *)x)->path, ((const struct key_input *)y)->path);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

void decide_free(struct decision *dc)
{
	free(dc->kin);
	strv_free(dc->kin_own);
	dc->kin = NULL;
	dc->kin_own = NULL;
	dc->nkin = 0;
}

int decide_inputs(struct decision *dc, const struct action *a, const struct digest *ind,
                  char *const *disc, size_t ndisc, decide_digest_fn digest, void *ctx)
{
	decide_free(dc);
	dc->kin = xcalloc(a->ninputs + ndisc + 1, sizeof *dc->kin);
	for (size_t i = 0; i < a->ninputs; i++)
		if (!disc || !a->prunable[i])
			dc->kin[dc->nkin++] = (struct key_input){.path = a->inputs[i]->path, .d = ind[i]};
	if (!disc)
		return 0;
	dc->kin_own = xcalloc(ndisc + 1, sizeof *dc->kin_own);
	size_t nown = 0;
	for (size_t i = 0; i < ndisc; i++) {
		long k = action_input_index(a, disc[i]);
		if (k >= 0 && !a->prunable[k])
			continue;
		struct key_input ki = {.path = NULL};
		if (k >= 0)
			ki.d = ind[k];
		else if (digest(ctx, disc[i], &ki.d) < 0) {
			decide_free(dc);
			return -1;
		}
		dc->kin_own[nown] = xstrdup(disc[i]);
		ki.path = dc->kin_own[nown++];
		dc->kin[dc->nkin++] = ki;
	}
	xqsort(dc->kin, dc->nkin, sizeof *dc->kin, cmp_kin);
	return 0;
}

void decide_key(struct decision *dc, const struct action *a, const char *const *env,
                const char *props, decide_meta_fn meta, void *ctx)
{
	for (size_t i = 0; i < dc->nkin; i++) {
		struct key_input *k = &dc->kin[i];
		k->size = 0;
		k->exec = 0;
		if (meta && meta(ctx, k->path, &k->size, &k->exec) < 0) {
			/* unknown: size 0, not executable (the digest still
			 * decides what the key covers) */
			k->size = 0;
			k->exec = 0;
		}
	}
	key_compute(a, env, dc->kin, dc->nkin, props, &dc->key, &dc->key_size, &dc->cmd);
}

char *decide_reason(const struct decision *dc, const struct action *a, const struct act_rec *r,
                    int outputs_present)
{
	if (!r)
		return xstrdup("new");
	if (!digest_eq(&r->cmd, &dc->cmd))
		return xstrdup("command changed");
	size_t i = 0, j = 0;
	while (i < dc->nkin || j < r->nins) {
		int c = i == dc->nkin ? 1 : j == r->nins ? -1 : strcmp(dc->kin[i].path, r->ins[j].path);
		if (c > 0)
			return xasprintf("input changed: %s", r->ins[j].path);
		if (c < 0 || r->ins[j].d64 != d64(&dc->kin[i].d))
			return xasprintf("input changed: %s", dc->kin[i].path);
		i++;
		j++;
	}
	if (!outputs_present)
		return xstrdup("output missing");
	return xstrdup(digest_eq(&r->key, &dc->key) ? "output changed" : "no cached result");
}

/* (The key's inputs are sorted by path, as are res's discovered files.) */
int decide_covered(const struct decision *dc, const struct action_result *res)
{
	size_t i = 0;
	for (size_t k = 0; k < res->ndiscovered; k++) {
		while (i < dc->nkin && strcmp(dc->kin[i].path, res->discovered[k]) < 0)
			i++;
		if (i == dc->nkin || strcmp(dc->kin[i].path, res->discovered[k]) != 0)
			return 0;
	}
	return 1;
}

char **decide_disc_from_record(const struct action *a, const struct act_rec *r, size_t *n)
{
	*n = 0;
	if (!a->depfile || !r)
		return NULL;
	char **v = xcalloc(r->nins + 1, sizeof *v);
	for (size_t i = 0; i < r->nins; i++)
		if (!action_fixed_input(a, r->ins[i].path))
			v[(*n)++] = xstrdup(r->ins[i].path);
	return v;
}

char **decide_discovered(const struct action *a, char **deps, size_t *n, struct buf *warn)
{
	size_t len = 0, k = 0;
	while (deps[len])
		len++;
	xqsort(deps, len, sizeof *deps, cmp_str);
	for (size_t i = 0; i < len; i++) {
		if ((k && !strcmp(deps[k - 1], deps[i])) || action_fixed_input(a, deps[i]) ||
		    !strcmp(deps[i], a->depfile)) {
			free(deps[i]);
			continue;
		}
		if (action_input_index(a, deps[i]) < 0)
			buf_printf(warn, "cairn: warning: %s reads '%s', which no target it depends on "
			           "declares in hdrs or srcs\n", a->label, deps[i]);
		deps[k++] = deps[i];
	}
	deps[k] = NULL;
	*n = k;
	return deps;
}

struct act_rec *decide_record(const struct decision *dc, const struct action *a,
                              const struct digest *outd, uint64_t ms)
{
	struct act_rec *r = xcalloc(1, sizeof *r);
	r->id = xstrdup(a->outputs[0]->path);
	r->key = dc->key;
	r->cmd = dc->cmd;
	r->ms = ms;
	r->nouts = a->noutputs;
	r->outs = xcalloc(a->noutputs, sizeof *r->outs);
	memcpy(r->outs, outd, a->noutputs * sizeof *r->outs);
	r->nins = dc->nkin;
	r->ins = xcalloc(dc->nkin ? dc->nkin : 1, sizeof *r->ins);
	for (size_t i = 0; i < dc->nkin; i++) {
		r->ins[i].path = xstrdup(dc->kin[i].path);
		r->ins[i].d64 = d64(&dc->kin[i].d);
	}
	return r;
}

void decide_copy(struct decision *dst, const struct decision *src)
{
	memset(dst, 0, sizeof *dst);
	dst->key = src->key;
	dst->key_size = src->key_size;
	dst->cmd = src->cmd;
	dst->nkin = src->nkin;
	dst->kin = xcalloc(src->nkin + 1, sizeof *dst->kin);
	dst->kin_own = xcalloc(src->nkin + 1, sizeof *dst->kin_own);
	for (size_t i = 0; i < src->nkin; i++) {
		dst->kin_own[i] = xstrdup(src->kin[i].path);
		dst->kin[i] = src->kin[i];
		dst->kin[i].path = dst->kin_own[i];
	}
}
