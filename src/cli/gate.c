/* gate: POLICY.lua's deploy() between the engine and the policy (gate.h).
 * d.dirty asks git once per command: `git status --porcelain
 * --untracked-files=no` printing anything means uncommitted changes to
 * tracked files; no git, or no checkout, is clean. */
#include "cli/gate.h"
#include "deploy/audit.h"
#include "deploy/state.h"
#include "lang/policy.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#define POLICY_DEPS ".cairn/policy.deps"

struct gate {
	char *root_name;
	int loaded;          /* POLICY.lua was looked for */
	struct policy *p;    /* what it holds, or NULL */
	int dirty;           /* -1 until asked */
};

struct gate *gate_new(const char *root_name)
{
	struct gate *g = xcalloc(1, sizeof *g);
	g->root_name = xstrdup(root_name);
	g->dirty = -1;
	return g;
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	policy_free(g->p);
	free(g->root_name);
	free(g);
}

static int dirty(struct gate *g)
{
	if (g->dirty >= 0)
		return g->dirty;
	g->dirty = 0;
	FILE *f = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r");
	if (!f)
		return 0;
	char line[512];
	int any = fgets(line, sizeof line, f) != NULL;
	while (fgets(line, sizeof line, f)) {
	}
	g->dirty = pclose(f) == 0 && any;
	return g->dirty;
}

int gate_ask(struct gate *g, const struct deploy_gate *dg, char **why)
{
	struct err e = {0};
	*why = NULL;
	if (!g->loaded) {
		g->loaded = 1;
		if (access("POLICY.lua", F_OK) == 0 && policy_open(g->root_name, &g->p, &e) < 0) {
			fprintf(stderr, "%s\n", e.msg);
			err_clear(&e);
			return -1;
		}
	}
	if (!policy_has_deploy(g->p))
		return 0;
	struct policy_deploy d = {dg->what, dg->deployment, dg->stage, dg->release, dg->previous,
	                          dstate_user(), dg->tests, dirty(g)};
	int r = policy_check_deploy(g->p, &d, why, &e);
	if (r != 0) {
		fflush(stdout);
		fprintf(stderr, "%s\n", e.msg);
	}
	err_clear(&e);
	return r;
}

/* A build action the policy denied, in the audit log of a workspace that
 * deploys (has a .cairn/state.db); best effort, as the build fails anyway. */
static void audit_denial(const char *msg)
{
	struct dstate *st = NULL;
	struct audit *a = NULL;
	struct err e = {0};
	if (access(".cairn/state.db", F_OK) < 0)
		return;
	if (dstate_open(".cairn/state.db", &st, &e) < 0 ||
	    audit_open(".cairn/audit.log", st, &a, &e) < 0 ||
	    audit_append(a, "denied", (const char *const[]){"result", "action denied", "detail", msg, NULL},
	                 &e) < 0)
		warn("the audit log does not have this denial: %s", e.msg ? e.msg : "?");
	err_clear(&e);
	audit_close(a);
	dstate_close(st);
}

int gate_graph(const char *root_name, const struct graph *g, struct err *e)
{
	struct policy *p = NULL;
	int rc = policy_open(root_name, &p, e);
	if (rc == 0)
		rc = policy_check_graph(p, g, e);
	if (rc == 1)
		audit_denial(e->msg);
	if (rc == 0 && p) {
		/* the modules it loaded, for gate_digest */
		char **src = policy_sources(p);
		struct buf b = {0};
		for (size_t i = 0; src[i]; i++)
			buf_printf(&b, "%s\n", src[i]);
		if (fs_write_atomic(POLICY_DEPS, b.s ? b.s : "", b.len, 0644) < 0)
			warn("cannot write %s:", POLICY_DEPS);
		buf_free(&b);
		strv_free(src);
	}
	policy_free(p);
	return rc ? -1 : 0;
}

void gate_digest(char hex[65])
{
	/* no policy, nothing more to read */
	struct digest d;
	if (sha_file("POLICY.lua", &d, NULL) < 0) {
		strcpy(hex, "none");
		return;
	}
	struct sha_ctx *c = sha_new();
	sha_update(c, "POLICY.lua\n", 11);
	sha_update(c, d.b, sizeof d.b);
	/* the modules it loaded the last time it was asked; a change of which
	 * it loads is a change of POLICY.lua or of one of these */
	struct buf list = {0};
	if (fs_read_all(POLICY_DEPS, &list) == 0) {
		for (char *p = list.s, *nl; p && p < list.s + list.len; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(list.s + list.len - p));
			if (!nl)
				break;
			*nl = 0;
			sha_update(c, p, strlen(p) + 1);
			if (sha_file(p, &d, NULL) == 0)
				sha_update(c, d.b, sizeof d.b);
		}
	}
	buf_free(&list);
	sha_final(c, &d);
	digest_hex(&d, hex);
}
