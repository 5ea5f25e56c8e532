/* Unit tests of decide.c: keys, reasons, coverage and discovered inputs,
 * on an action in memory with made-up digests (no runner, no store, no
 * file: the one file a depfile names beyond the inputs is answered by a
 * callback). */
#include "exec/decide.h"
#include "test.h"
#include "util/util.h"
#include <errno.h>
#include <stdlib.h>

/* A compile of x.c with the header x.h (prunable) and a depfile x.d. */
struct dfx {
	struct graph g;
	struct action *a;
	struct digest ind[2];   /* x.c, x.h (inputs sorted by path) */
	const char **env;
};

static void dfx_open(struct dfx *f)
{
	memset(f, 0, sizeof *f);
	static const char *argv[] = {"cc", "-c", "x.c", NULL};
	static const char *in[] = {"x.c", NULL}, *pin[] = {"x.h", NULL};
	static const char *out[] = {"x.d", "x.o", NULL};
	struct action_spec s = {.label = "//d:x", .argv = argv, .argc = 3, .inputs = in,
	                        .ninputs = 1, .pinputs = pin, .npinputs = 1, .depfile = "x.d",
	                        .outputs = out, .noutputs = 2};
	struct err e = {0};
	f->a = graph_add_action(&f->g, &s, &e);
	CHECK(f->a != NULL && f->a->ninputs == 2);
	sha_buf("c", 1, &f->ind[0]);
	sha_buf("h", 1, &f->ind[1]);
	f->env = key_env(f->a);
}

static void dfx_close(struct dfx *f)
{
	free(f->env);
	graph_free(&f->g);
}

/* "other.h" has a digest; anything else cannot be read */
static int digest_cb(void *ctx, const char *path, struct digest *d)
{
	(void)ctx;
	if (strcmp(path, "other.h") != 0) {
		errno = ENOENT;
		return -1;
	}
	sha_buf("o", 1, d);
	return 0;
}

TEST(decide_inputs_every_or_fixed_plus_discovered)
{
	struct dfx f;
	dfx_open(&f);
	struct decision all = {0}, some = {0}, bad = {0};
	CHECK(decide_inputs(&all, f.a, f.ind, NULL, 0, NULL, NULL) == 0);
	CHECK(all.nkin == 2);
	char other[] = "other.h", gone[] = "gone.h";
	char *disc[] = {other, NULL};
	CHECK(decide_inputs(&some, f.a, f.ind, disc, 1, digest_cb, NULL) == 0);
	CHECK(some.nkin == 2);
	CHECK_STR(some.kin[0].path, "other.h"); /* sorted; x.h left out */
	CHECK_STR(some.kin[1].path, "x.c");
	decide_key(&all, f.a, f.env, "p", NULL, NULL);
	decide_key(&some, f.a, f.env, "p", NULL, NULL);
	CHECK(!digest_eq(&all.key, &some.key));
	CHECK(digest_eq(&all.cmd, &some.cmd)); /* the command is the same */
	char *missing[] = {gone, NULL};
	CHECK(decide_inputs(&bad, f.a, f.ind, missing, 1, digest_cb, NULL) < 0);
	CHECK(bad.nkin == 0 && !bad.kin);
	decide_free(&all);
	decide_free(&some);
	dfx_close(&f);
}

TEST(decide_reason_names_what_changed)
{
	struct dfx f;
	dfx_open(&f);
	struct decision dc = {0};
	decide_inputs(&dc, f.a, f.ind, NULL, 0, NULL, NULL);
	decide_key(&dc, f.a, f.env, "p", NULL, NULL);
	struct digest outd[2] = {0};
	char *why = decide_reason(&dc, f.a, NULL, 1);
	CHECK_STR(why, "new");
	free(why);
	struct act_rec *r = decide_record(&dc, f.a, outd, 5);
	why = decide_reason(&dc, f.a, r, 1);
	CHECK_STR(why, "output changed"); /* same key, outputs differ */
	free(why);
	why = decide_reason(&dc, f.a, r, 0);
	CHECK_STR(why, "output missing");
	free(why);
	sha_buf("h2", 2, &f.ind[1]);
	decide_inputs(&dc, f.a, f.ind, NULL, 0, NULL, NULL);
	decide_key(&dc, f.a, f.env, "p", NULL, NULL);
	why = decide_reason(&dc, f.a, r, 1);
	CHECK_STR(why, "input changed: x.h");
	free(why);
	decide_key(&dc, f.a, f.env, "q", NULL, NULL);
	why = decide_reason(&dc, f.a, r, 1);
	CHECK_STR(why, "command changed");
	free(why);
	act_rec_free(r);
	decide_free(&dc);
	dfx_close(&f);
}

TEST(decide_covered_and_discovered)
{
	struct dfx f;
	dfx_open(&f);
	char **deps = xcalloc(6, sizeof *deps);
	deps[0] = xstrdup("x.h");
	deps[1] = xstrdup("x.c");     /* fixed: dropped */
	deps[2] = xstrdup("other.h"); /* undeclared: kept, warned */
	deps[3] = xstrdup("x.h");     /* twice */
	deps[4] = xstrdup("x.d");     /* the depfile itself */
	struct buf warn = {0};
	size_t n;
	deps = decide_discovered(f.a, deps, &n, &warn);
	CHECK(n == 2);
	CHECK_STR(deps[0], "other.h");
	CHECK_STR(deps[1], "x.h");
	CHECK(warn.len && strstr(warn.s, "//d:x reads 'other.h'") && !strstr(warn.s, "'x.h'"));
	struct decision dc = {0};
	decide_inputs(&dc, f.a, f.ind, NULL, 0, NULL, NULL);
	struct action_result res = {.discovered = deps, .ndiscovered = n};
	CHECK(!decide_covered(&dc, &res)); /* other.h is not in the key */
	CHECK(decide_inputs(&dc, f.a, f.ind, deps, n, digest_cb, NULL) == 0);
	CHECK(decide_covered(&dc, &res));
	struct decision copy;
	decide_copy(&copy, &dc);
	decide_free(&dc);
	CHECK(decide_covered(&copy, &res)); /* the copy owns its paths */
	decide_free(&copy);
	strv_free(deps);
	buf_free(&warn);
	dfx_close(&f);
}
