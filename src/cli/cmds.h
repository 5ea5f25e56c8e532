/* cmds: the commands, and the workspace they run in. */
#ifndef CAIRN_CMDS_H
#define CAIRN_CMDS_H
#include "cli/args.h"
#include "lang/eval.h"
#include "lang/label.h"

struct state;
struct ui;

struct ws {
	char *root;      /* absolute path of the workspace root; the cwd */
	char *rel;       /* where the user stood, relative to the root ("" at it) */
	char *name;      /* basename of the root */
	char *cache_dir; /* the shared cache */
	int lock_fd;     /* flock on .cairn/lock, or -1 */
};

/* The workspace root: cwd or the nearest directory above it that holds
 * WORKSPACE.lua (a fresh string), or NULL. */
char *ws_find_root(const char *cwd);
/* Find the root above the cwd (o->root, when o->cwd is set), chdir there, make .cairn/ and lock it.
 * Exits 2 (with a message) outside a workspace. */
void ws_open(struct ws *w, const struct opts *o, int lock);
void ws_close(struct ws *w);
/* Parse command-line patterns (relative ones against w->rel); exits 2 on
 * a bad one. Returns an array of n patterns (n >= 1: default //...). */
struct pattern *ws_patterns(const struct ws *w, const char **args, size_t nargs, size_t *n);
void patterns_free(struct pattern *p, size_t n);

/* The workspace's C compiler (config.c). */
struct cc_state {
	struct cc_config cfg; /* points into the fields below */
	char *path, *id, *error;
};
void cc_configure(struct cc_state *cs);
void cc_state_free(struct cc_state *cs);

enum build_mode { MODE_BUILD, MODE_PLAN, MODE_TEST, MODE_RUN, MODE_COMPDB, MODE_DEPLOY };

/* Whether actions run sandboxed (--sandbox; decided once). */
int sandbox_wanted(const struct opts *o);

/* What a deploy's build hands over (MODE_DEPLOY): the graph it built,
 * with its deployments, and whether the required tests passed. The exit
 * code of the command. */
struct build_report {
	struct graph *g;
	struct state *st; /* the build's state: each action's last key */
	int built;       /* the build succeeded: every action and test passed */
	struct ui *u;    /* --events and --profile, still open: the deploy's
	                    events and spans go into the same stream and trace */
};
int deploy_after_build(const struct opts *o, struct ws *w, const struct build_report *br);

int cmd_build(const struct opts *o, enum build_mode mode);
int cmd_clean(const struct opts *o);
int cmd_gc(const struct opts *o);
int cmd_query(const struct opts *o);
int cmd_deploy(const struct opts *o);
int cmd_status(const struct opts *o);
int cmd_rollback(const struct opts *o);
int cmd_reconcile(const struct opts *o);
int cmd_serve(const struct opts *o);
/* The user's cache: $XDG_CACHE_HOME/cairn or ~/.cache/cairn (fresh). */
char *ws_default_cache_dir(void);
/* cairn audit [--json], cairn audit verify (audit.c). */
int cmd_audit(const struct opts *o);

#endif
