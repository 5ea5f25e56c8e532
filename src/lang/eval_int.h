/* eval_int: what eval.c, bind.c and glob.c share; not for other modules. */
#ifndef CAIRN_EVAL_INT_H
#define CAIRN_EVAL_INT_H
#include "graph/snapshot.h"
#include "lang/eval.h"
#include "util/map.h"
#include <lua.h>
#include <stdint.h>

extern const char cairn_prelude[];
extern const char cairn_rules_cc[];
extern const char cairn_rules_deploy[];

struct eval {
	lua_State *L;
	struct graph *g;    /* where actions go; not owned */
	char *context;      /* "while analyzing ...", or NULL; owned */
	int api;            /* registry ref of the prelude's entry table */
	struct snap_dep *deps; /* what evaluation looked at, for the snapshot */
	size_t ndeps, capdeps;
	struct map seen;    /* "kind:path" -> non-NULL: already in deps */
	struct map dirs;    /* "dir:path" -> struct snap_dep holding its first stat */
	char **keys;        /* the keys of seen; owned */
	size_t nkeys, capkeys;
	uint64_t heap;      /* bytes the Lua state holds */
	uint64_t heap_max;  /* what it may hold while Lua code runs */
	int heap_on;        /* Lua code runs: heap_max holds */
	int heap_refused;   /* an allocation failed on heap_max */
	int policy_track;   /* note where POLICY.lua functions return */
	int policy_line;    /* the line of the last such return */
};

/* Push api[name] (a prelude entry point). */
void eval_prepare(struct eval *ev, const char *name);
/* Call it with the nargs arguments on top of the stack, in a thread of its
 * own; its first result is left in their place. 0, or -1 with *e set (the
 * stack is then emptied). */
int eval_call(struct eval *ev, int nargs, struct err *e);

/* Record that evaluation depends on path, as closely as kind says (its
 * state now). Call it before reading or listing the path. */
void eval_note(struct eval *ev, const char *path, enum dep_kind kind);

/* Push the table of C primitives the prelude receives. */
void bind_push(lua_State *L, struct eval *ev, const char *root_name, const struct cc_config *cc);
/* Raise a formatted user error: `where` NULL means the innermost user
 * frame of the Lua stack. Does not return. */
int bind_raise(lua_State *L, const char *where, const char *msg, int context);
/* The error that a thread failed with (status from lua_resume), as a
 * user error into e. The thread's stack must be as the error left it: the
 * location and the chain are read from it. */
void bind_failure(lua_State *co, struct eval *ev, int status, struct err *e);

/* glob{} of a package; pushes the sorted list of matching files. */
int glob_push(lua_State *L, struct eval *ev, const char *pkg, const char **inc, size_t ninc,
              const char **exc, size_t nexc);
/* Does dir hold a BUILD.lua (a regular file)? */
int is_pkg_dir(const char *dir);
/* Is pkg a package: a BUILD.lua, not under cairn-out or a hidden directory? */
int package_exists(const char *pkg);
/* Push the sorted list of packages at or below pkg. */
int packages_push(lua_State *L, struct eval *ev, const char *pkg);

#endif
